"""Edge cases of the verifier that once gave a wrong verdict or a crash (each test failed before its fix)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.exceptions import DomainError, SolverTimeoutWarning
from rulekd.verify import simplify, verify
from rulekd.verify._encode import frame_from_rows


def _status(report, check):
    return [f.status for f in report.findings if f.check == check]


def test_a_bool_level_is_the_level_1_of_a_numeric_categorical_for_predict_and_the_verifier():
    """Level sets are read by Python equality (True == 1), on a Categorical as on plain values and in the
    exports; predict and the verifier agree on it."""
    dom = Domain((FeatureSpec("k", "categorical", levels=(0, 1, 2)),))
    rs = RuleSet((Rule((C("k", "in", frozenset([True])),), "yes"),), classes=("no", "yes"), default="no")
    at = frame_from_rows([{"k": 0}, {"k": 1}, {"k": 2}], dom)
    assert rs.predict(at).tolist() == ["no", "yes", "no"]
    assert _status(verify(rs, dom, properties=["if k in {1} then yes"], checks="none"), "property") == ["proved"]
    assert _status(verify(rs, dom, properties=["if k in {2} then yes"], checks="none"), "property") == ["violated"]
    # B is shadowed by A on k = 1 (its only input): simplify drops B and keeps every answer
    A = Rule((C("k", "in", frozenset([True])),), "yes", id="A")
    B = Rule((C("k", "not in", frozenset([0, 2])),), "no", id="B")
    both = RuleSet((A, B), classes=("no", "yes"), default="no", ordered=True)
    simpler = simplify(both, dom)
    assert simpler.predict(at).tolist() == both.predict(at).tolist() == ["no", "yes", "no"]
    assert [r.id for r in simpler.rules] == ["A"]


def test_an_integer_level_float64_cannot_hold_matches_no_input():
    dom = Domain((FeatureSpec("n", "integer", 0, 2**60),))
    rs = RuleSet((Rule((C("n", "in", frozenset([2**53 + 1])),), 1),), classes=(0, 1), default=0)
    at = frame_from_rows([{"n": 2**53}], dom)
    assert rs.predict(at)[0] == 0
    report = verify(rs, dom, properties=[f"if n >= {float(2**53)} and n <= {float(2**53)} then 1"], checks="none")
    assert _status(report, "property") == ["violated"]


def test_integer_witnesses_beyond_2_53_are_kept_exact():
    """Z3's witness n = 2**53 + 1 was decoded as the float 2**53, where the rule does not fire: the rule's
    liveness and a violated property were left unknown."""
    t = float(2**53)
    rs = RuleSet((Rule((C("n", ">", t),), 1),), classes=(0, 1), default=0)
    dom = Domain((FeatureSpec("n", "integer", 0, 2**60),))
    report = verify(rs, dom, properties=[f"if n > {t} then 0", f"if n <= {t} then 0"], checks=["dead"])
    assert _status(report, "dead") == ["proved"]
    violated, proved = [f for f in report.findings if f.check == "property"]
    assert (violated.status, proved.status) == ("violated", "proved")
    n = violated.counterexample["n"]
    assert isinstance(n, int) and n > 2**53 and rs.predict(frame_from_rows([{"n": n}], dom))[0] == 1


def test_domain_bounds_are_compared_exactly_with_big_machine_integers():
    """contains() read int64 2**53 + 1 as the float 2**53 and let it inside a Domain ending at 2**53,
    where the verifier proves what the rules do: predict, reading it exactly, fires a rule no proof saw."""
    dom = Domain((FeatureSpec("n", "integer", 0, 2**53),))
    rows = pd.DataFrame({"n": np.array([2**53 + 1, 2**53, -1, 7], dtype=np.int64)})
    assert dom.contains(rows).tolist() == [False, True, False, True]
    nullable = pd.DataFrame({"n": pd.array([2**53 + 1, None, 7], dtype="Int64")})
    assert dom.contains(nullable).tolist() == [False, False, True]
    # a Domain inferred from such rows rounds its bounds outward: its own rows lie inside it
    for col in (np.array([-(2**53) - 1, 0, 2**53 + 1], dtype=np.int64), pd.array([2**53 + 1, None, 0], dtype="Int64"),
                np.array([0, 2**64 - 1], dtype=np.uint64)):
        own = pd.DataFrame({"n": col})
        assert Domain.from_data(own).contains(own).all()


def test_an_undecided_gap_region_is_not_claimed_to_be_the_whole_domain(monkeypatch):
    """The gap search found an input; proving its region ran out of time: no region is claimed."""
    from rulekd.verify import _checks
    from rulekd.verify._checks import Outcome

    real = _checks.Solver.check

    def region_proofs_time_out(self, formulas, encodings=()):
        if not encodings:  # the region proofs ask for no example
            return Outcome("unknown", reason="solver timeout (1 ms)")
        return real(self, formulas, encodings)

    monkeypatch.setattr(_checks.Solver, "check", region_proofs_time_out)
    dom = Domain((FeatureSpec("x", "real", 0, 10), FeatureSpec("k", "categorical", levels=("a", "b", "c"))))
    rs = RuleSet((Rule((C("x", ">", 1.0), C("x", "<=", 2.0)), 0), Rule((C("k", "in", {"a"}),), 1)),
                 classes=(0, 1, 2), default=2)
    with pytest.warns(SolverTimeoutWarning):
        findings = [f for f in verify(rs, dom, checks=["gap"]).findings if f.check == "gap"]
    assert [f.status for f in findings] == ["violated", "unknown"]
    assert findings[0].details["region"] is None and "anywhere" not in findings[0].message
    example = frame_from_rows([findings[0].counterexample], dom)
    assert rs.decide(example)[0] == -1  # the example itself is a real gap


def test_a_threshold_at_the_largest_double_is_decided():
    big = sys.float_info.max
    dom = Domain((FeatureSpec("x", "real"),))
    rs = RuleSet((Rule((C("x", ">", big),), 1),), classes=(0, 1), default=0)
    report = verify(rs, dom, checks=["dead"], properties=["if x > 0.0 then 0"])
    assert _status(report, "dead") == ["violated"]  # no finite input exceeds it
    assert _status(report, "property") == ["proved"]
    assert len(simplify(rs, dom).rules) == 0


def test_simplify_keeps_rule_ids_unique():
    dom = Domain((FeatureSpec("x", "real", 0, 10),))
    rs = RuleSet((
        Rule((C("x", ">", 20.0),), 1, id="x"),  # dead: dropped
        Rule((C("x", "<=", 1.0),), 1),          # no id: "r1", which it keeps
        Rule((C("x", ">", 5.0),), 1, id="r0"),
    ), classes=(0, 1), default=0, ordered=True)
    out = simplify(rs, dom)
    assert [out.rule_id(i) for i in range(len(out))] == ["r1", "r0"]
    dom2 = Domain((FeatureSpec("x", "real", 0, 10), FeatureSpec("k", "categorical", levels=("a", "b", "c"))))
    rs2 = RuleSet((
        Rule((C("x", "<=", 1.0), C("k", "in", {"a"})), 1, id="q0", support=10),
        Rule((C("x", "<=", 1.0), C("k", "not in", {"a"}, True)), 1, id="q1", support=1),
        Rule((C("x", ">", 5.0),), 1, id="q2", support=1),
        Rule((C("x", ">", 1.0), C("x", "<=", 5.0)), 0, id="q0_1"),  # the name the sympy step would give
    ), classes=(0, 1), default=0)
    out2 = simplify(rs2, dom2)
    ids = [out2.rule_id(i) for i in range(len(out2))]
    assert len(set(ids)) == len(ids)
    assert _info(out2)["status"] == "proved"  # the result is proved to answer as before


def _info(rs):
    return rs.metadata["simplification"]


def test_a_rule_set_that_tests_no_feature_needs_a_domain():
    rs = RuleSet((Rule((), 1),), classes=(0, 1), default=0)
    with pytest.raises(DomainError, match="pass domain="):
        verify(rs)
    dom = Domain((FeatureSpec("x", "real", 0, 1),))
    assert verify(rs, dom, checks=["gap"]).status == "proved"


def test_an_internal_error_has_an_exit_code_of_its_own(monkeypatch, capsys):
    """Not 1, which `rulekd verify` uses for "violated"."""
    import rulekd._commands as commands
    from rulekd.cli import EXIT_INTERNAL, main

    def broken(args):
        raise OverflowError("cannot convert Infinity to integer ratio")

    monkeypatch.setattr(commands, "cmd_export", broken)
    assert main(["export", "anything", "--format", "text"]) == EXIT_INTERNAL == 4
    assert "internal error (OverflowError)" in capsys.readouterr().err


def test_an_equality_is_proved_over_the_rows_domain_contains_accepts():
    """0.1 + 0.9 meets a + b == 1 only up to rounding; contains accepts it, so no proof may leave it out."""
    dom = Domain((FeatureSpec("a", "real", 0, 1), FeatureSpec("b", "real", 0, 1))).with_constraint(
        {"a": 1, "b": 1}, "==", 1)
    rs = RuleSet((Rule((C("a", "<", 0.5),), 1),), classes=(0, 1), default=0, feature_names=("a", "b"))
    row = pd.DataFrame({"a": [0.1], "b": [0.9]})
    assert dom.contains(row).all() and rs.predict(row).tolist() == [1]
    rep = verify(rs, dom, properties=["if a == 0.1 and b == 0.9 then 0"], checks="none")
    assert rep.findings[0].status == "violated"
    # Rows far from the equality are still outside: the property holds where a + b is 2 nowhere near 1.
    assert verify(rs, dom, properties=["if a > 0.9 and b > 0.9 then 0"], checks="none").ok


def test_numeric_conditions_on_big_integer_levels_are_read_as_predict_reads_them():
    big = 2**53 + 1  # float(big) == 2**53: a float comparison would put it inside `k <= 2**53`
    dom = Domain((FeatureSpec("k", "categorical", levels=(1, big)),))
    rs = RuleSet((Rule((C("k", "<=", float(2**53)),), 1),), classes=(0, 1), default=0)
    from rulekd.verify import Implies
    from rulekd.verify._grammar import Test

    rep = verify(rs, dom, properties=[Implies(Test(C("k", "in", {big})), then=1)], checks=["gap"])
    assert {f.check: f.status for f in rep.findings} == {"gap": "violated", "property": "violated"}


@pytest.mark.parametrize("kw, match", [
    (dict(checks=5), "checks must be"),
    (dict(checks=["dead"], n_jobs="2"), "n_jobs must be"),
    (dict(checks=["gap"], max_gap_regions="ten"), "max_gap_regions must be"),
    (dict(checks=["gap"], data=pd.DataFrame({"x": [1.0]})), r"data lacks the Domain's columns \['y'\]"),
])
def test_bad_verify_arguments_are_named(kw, match):
    dom = Domain((FeatureSpec("x", "real", 0, 1), FeatureSpec("y", "real", 0, 1)))
    rs = RuleSet((Rule((C("x", "<", 0.5),), 1),), classes=(0, 1), default=0)
    with pytest.raises(ValueError, match=match):
        verify(rs, dom, **kw)


def test_equal_specs_with_levels_of_other_types_keep_their_own_witnesses():
    """Regression: a process-wide cache of full regions took FeatureSpec levels (False, True) for (0, 1)
    (equal in Python), so after a verify over the first, the second got the witness True, which is no
    level of its Domain: 'unknown' instead of the violation."""
    from rulekd import Condition, Domain, FeatureSpec, Rule, RuleSet
    from rulekd.verify import verify

    def run(levels):
        dom = Domain((FeatureSpec("f", "categorical", levels=levels),))
        rs = RuleSet((Rule((Condition("f", "not in", frozenset([0])), Condition("f", "in", frozenset([0, 1]))), 1),),
                     classes=(0, 1), default=0, ordered=True)
        return [f.status for f in verify(rs, dom, checks=["redundant_condition"]).findings]

    assert run((False, True)) == ["violated"]
    assert run((0, 1)) == ["violated"]


def test_no_finite_double_lies_past_the_largest_one():
    """Regression: the region (-inf, -DBL_MAX) of an unbounded real feature counted as holding values, and a
    witness past 9e307 overflowed to inf: a real conflict read 'unknown', an unsatisfiable rule was also
    called redundant and its conditions implied."""
    import pandas as pd

    big = sys.float_info.max
    dom = Domain((FeatureSpec("f", "real"), FeatureSpec("g", "binary")))
    rs = RuleSet((
        Rule((C("f", "<", -big),), 1, id="never"),
        Rule((C("f", "<=", 0.0),), 0, id="low"),
        Rule((C("f", "<", -big), C("g", "<=", 1.0)), 1, id="never2"),
    ), classes=(0, 1), default=0, ordered=False)
    found = {(f.check, f.status, f.message.split(" can never")[0]) for f in verify(rs, dom).findings}
    assert ("dead", "violated", "Rule never") in found and ("dead", "violated", "Rule never2") in found
    named = [f.message for f in verify(rs, dom).findings if f.check in ("redundant_rule", "redundant_condition")]
    assert not any("never" in m for m in named)  # dead rules are reported as dead only
    high = RuleSet((Rule((C("f", ">", 1e308),), 1), Rule((C("f", ">", 0.0),), 0)), classes=(0, 1), default=0,
                   ordered=False)
    (f,) = verify(high, dom, checks=["conflict"]).findings
    assert f.status == "violated" and 1e308 < f.counterexample["f"] < math.inf
    assert high.match(pd.DataFrame([f.counterexample])).all()
