"""Hybrid predictors: trusted rules where they apply, the neural student elsewhere.

:class:`HybridClassifier` chooses an ordered list of rules that answers a
target share of inputs at the best accuracy, routes every other input to a
compact neural student, and enforces guards (``Implies``, ``Monotone``,
``Invariant``) on every input; :func:`verify_hybrid` proves them on the whole
composition with Z3.
"""

from ._hybrid import GuardConflictError, GuardConflictWarning, HybridClassifier
from ._verify import verify_hybrid

__all__ = ["HybridClassifier", "GuardConflictError", "GuardConflictWarning", "verify_hybrid"]
