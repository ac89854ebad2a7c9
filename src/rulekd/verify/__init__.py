"""Verification of rule sets with Z3: checks, user properties, simplification.

``verify(rules, domain)`` encodes a :class:`~rulekd.RuleSet` and a
:class:`~rulekd.Domain` into Z3 and returns a :class:`VerificationReport`
whose :class:`Finding` objects are ``proved`` (Z3 answered unsat for the
negation), ``violated`` (with an input that the ordinary ``predict`` path
confirms, or the unsat answer that proves a rule dead or a condition redundant)
or ``unknown`` (timeout). Checks: conflict, dead (and shadowed) rules, gaps,
redundant conditions and rules, equivalence with the tree the rules came from
or another rule set. Properties: :class:`Implies`, :class:`Monotone`,
:class:`Invariant`, as objects or strings in a small grammar parsed without
``eval``. :func:`simplify` shortens a rule set and proves the result
equivalent. :func:`verify_network` checks a neural student itself (search,
tightened bounds, branch and bound, Z3). See ``docs/verification.md``.
"""

from ._checks import CHECK_ORDER as CHECKS
from ._encode import Encoding, infer_domain
from ._grammar import PropertySyntaxError, parse_condition
from ._neural import verify_network
from ._properties import Implies, Invariant, Monotone, Property, PropertyContext, parse_property
from ._report import Finding, VerificationReport
from ._simplify import simplify
from ._verify import verify

__all__ = [
    "CHECKS",
    "Encoding",
    "Finding",
    "Implies",
    "Invariant",
    "Monotone",
    "Property",
    "PropertyContext",
    "PropertySyntaxError",
    "VerificationReport",
    "infer_domain",
    "parse_condition",
    "parse_property",
    "simplify",
    "verify",
    "verify_network",
]
