"""Hand-built rule sets whose conflicts, gaps, dead rules and redundancies are known exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.exceptions import DomainError, RuleFormatError
from rulekd.verify import Finding, VerificationReport, parse_condition, verify
from rulekd.verify._encode import frame_from_rows


def F(name, kind, lower=-math.inf, upper=math.inf, levels=(), missing=False):
    return FeatureSpec(name, kind, lower, upper, levels=levels, allow_missing=missing)


DOMAIN = Domain((
    F("age", "integer", 18, 99),
    F("amount", "real", 0, 50_000, missing=True),
    F("job", "categorical", levels=("a", "b", "c")),
    F("sex", "binary", 0, 1),
))


def violated(report: VerificationReport, check: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check and f.status == "violated"]


def ids(findings: list[Finding]) -> list[tuple[str, ...]]:
    return sorted(f.rules for f in findings)


@pytest.fixture(scope="module")
def known():
    rs = RuleSet((
        Rule((C("age", "<", 25.0), C("amount", ">", 10_000.0)), "bad", id="young_big"),
        Rule((C("age", "<", 30.0), C("job", "in", {"a"})), "good", id="young_a"),
        Rule((C("age", ">", 120.0),), "bad", id="ancient"),
        Rule((C("age", ">=", 30.0), C("age", ">=", 20.0)), "good", id="old"),
        Rule((C("amount", "<=", 60_000.0), C("job", "in", {"b", "c"}), C("age", "<", 30.0)), "bad", id="bc"),
    ), classes=("bad", "good", "review"), default="review", ordered=False)
    return rs, verify(rs, DOMAIN)


def test_known_conflict_is_flagged_exactly(known):
    rs, report = known
    found = violated(report, "conflict")
    assert ids(found) == [("young_big", "young_a")]
    cex = found[0].counterexample
    m = rs.match(frame_from_rows([cex], DOMAIN))
    assert m[0, 0] and m[0, 1]


def test_known_dead_rule_is_flagged_exactly(known):
    _, report = known
    found = violated(report, "dead")
    assert ids(found) == [("ancient",)]
    assert found[0].details["kind"] == "unsatisfiable"
    assert found[0].counterexample is None


def test_known_redundant_condition_is_flagged_exactly(known):
    _, report = known
    found = violated(report, "redundant_condition")
    assert [(f.rules, f.details["condition"]) for f in found] == [(("old",), "age >= 20.0")]


def test_condition_needed_only_for_missing_values_is_not_redundant(known):
    """amount <= 60000 always holds on the Domain's values, but it is False for a missing amount."""
    _, report = known
    assert not any("amount <= 60000" in f.details.get("condition", "") for f in violated(report, "redundant_condition"))


def test_known_gap_is_flagged_exactly(known):
    rs, report = known
    found = violated(report, "gap")
    assert len(found) == 1
    # The gap: age < 30, job in {b, c} and amount missing.
    cex = found[0].counterexample
    assert cex["amount"] is None and cex["job"] in ("b", "c") and cex["age"] < 30
    region = found[0].details["region"]
    assert "amount is missing" in region and "age < 30.0" in region
    assert rs.decide(frame_from_rows([cex], DOMAIN))[0] == -1


def test_no_redundant_rule_when_every_rule_decides_something(known):
    _, report = known
    assert violated(report, "redundant_rule") == []


def test_proved_report_has_one_proved_finding_per_clean_check():
    rs = RuleSet((Rule((C("x", "<=", 5.0),), "a"), Rule((C("x", ">", 5.0),), "b")),
                 classes=("a", "b", "c"), default="c", ordered=False)
    dom = Domain((F("x", "real", 0, 10),))
    report = verify(rs, dom)
    assert report.ok and report.status == "proved" and report.exit_code == 0
    assert sorted(f.check for f in report.findings) == sorted(
        ["conflict", "dead", "gap", "redundant_condition", "redundant_rule"])


def test_shadowed_rule_in_ordered_list():
    rs = RuleSet((
        Rule((C("x", "<=", 5.0),), "a", id="first"),
        Rule((C("x", "<=", 3.0),), "b", id="shadowed"),
        Rule((C("x", ">", 5.0), C("x", "<=", 7.0)), "b", id="live"),
    ), classes=("a", "b"), default="a", ordered=True)
    report = verify(rs, Domain((F("x", "real", 0, 10),)))
    dead = violated(report, "dead")
    assert [f.rules[0] for f in dead] == ["shadowed"]
    assert dead[0].details["kind"] == "shadowed" and dead[0].details["shadowed_by"] == ["first"]
    assert "conflict" in report.skipped


def test_shadowing_in_unordered_set_follows_confidence():
    rs = RuleSet((
        Rule((C("x", "<=", 3.0),), "b", confidence=0.6, id="low"),
        Rule((C("x", "<=", 5.0),), "a", confidence=0.9, id="high"),
    ), classes=("a", "b"), default="a", ordered=False)
    report = verify(rs, Domain((F("x", "real", 0, 10),)), checks=["dead", "conflict"])
    assert [f.rules[0] for f in violated(report, "dead")] == ["low"]
    assert ids(violated(report, "conflict")) == [("high", "low")]


def test_redundant_rule_that_repeats_the_default():
    rs = RuleSet((Rule((C("x", "<=", 5.0),), "a", id="keep"), Rule((C("x", ">", 5.0),), "b", id="same_as_default")),
                 classes=("a", "b"), default="b", ordered=True)
    report = verify(rs, Domain((F("x", "real", 0, 10),)), checks=["redundant_rule"])
    assert ids(violated(report, "redundant_rule")) == [("same_as_default",)]


def test_domain_bounds_make_a_condition_redundant():
    rs = RuleSet((Rule((C("x", ">=", 0.0), C("y", "<", 3.0)), 1),), classes=(0, 1), default=0)
    dom = Domain((F("x", "integer", 0, 10), F("y", "real", 0, 10)))
    report = verify(rs, dom, checks=["redundant_condition"])
    assert [f.details["condition"] for f in violated(report, "redundant_condition")] == ["x >= 0.0"]


def test_integer_domain_closes_a_gap_that_reals_would_leave():
    rs = RuleSet((Rule((C("n", "<=", 2.0),), 1), Rule((C("n", ">=", 3.0),), 0)), classes=(0, 1, 2), default=2,
                 ordered=False)
    assert violated(verify(rs, Domain((F("n", "integer", 0, 9),)), checks=["gap"]), "gap") == []
    gaps = violated(verify(rs, Domain((F("n", "real", 0, 9),)), checks=["gap"]), "gap")
    assert len(gaps) == 1 and 2.0 < gaps[0].counterexample["n"] < 3.0


def test_two_separate_gaps_are_two_regions():
    rs = RuleSet((Rule((C("x", "<=", 0.0),), "a"), Rule((C("x", ">", 5.0), C("x", "<=", 10.0)), "b")),
                 classes=("a", "b", "c"), default="c", ordered=False)
    gaps = violated(verify(rs, Domain((F("x", "real", -10, 20),)), checks=["gap"]), "gap")
    assert sorted(g.details["region"] for g in gaps) == ["x > 0.0 and x <= 5.0", "x > 10.0"]


def test_gap_share_of_data():
    rs = RuleSet((Rule((C("x", "<=", 5.0),), "a"),), classes=("a", "b"), default="b")
    data = pd.DataFrame({"x": [1.0, 2.0, 6.0, 7.0, 8.0]})
    gaps = violated(verify(rs, Domain((F("x", "real", 0, 10),)), checks=["gap"], data=data), "gap")
    assert len(gaps) == 1 and gaps[0].details["data_share"] == pytest.approx(0.6)


def test_gap_shares_count_each_row_once_when_regions_overlap():
    """The regions of an L-shaped gap overlap; a row in both counted twice (shares summed to 1.0 where
    three rows in four fall in a gap)."""
    rs = RuleSet((Rule((C("x", ">", 5.0), C("y", ">", 5.0)), "a"),), classes=("a", "b"), default="b")
    data = pd.DataFrame({"x": [1.0, 1.0, 8.0, 8.0], "y": [1.0, 8.0, 1.0, 8.0]})
    dom = Domain((F("x", "real", 0, 10), F("y", "real", 0, 10)))
    gaps = violated(verify(rs, dom, checks=["gap"], data=data), "gap")
    assert sorted(g.details["region"] for g in gaps) == ["x <= 5.0", "y <= 5.0"]
    assert sum(g.details["data_share"] for g in gaps) == pytest.approx(0.75)
    assert all(g.details["data_share_all_gaps"] == pytest.approx(0.75) for g in gaps)


def test_onehot_group_and_linear_constraint_are_respected():
    dom = Domain((F("r", "binary", 0, 1), F("g", "binary", 0, 1), F("a", "real", 0, 10), F("b", "real", 0, 10)),
                 onehot_groups=(("r", "g"),)).with_constraint({"a": 1.0, "b": -1.0}, "<=", 0.0)
    rs = RuleSet((
        Rule((C("r", ">", 0.5), C("g", ">", 0.5)), 1, id="both_colours"),  # impossible: exactly one is 1
        Rule((C("a", ">", 6.0), C("b", "<", 5.0)), 1, id="a_above_b"),  # impossible: a <= b
        Rule((C("a", "<=", 4.0), C("b", ">=", 2.0)), 1, id="fine"),
    ), classes=(0, 1), default=0, ordered=False)
    report = verify(rs, dom, checks=["dead"])
    assert ids(violated(report, "dead")) == [("a_above_b",), ("both_colours",)]


def test_linear_constraint_makes_condition_redundant():
    dom = Domain((F("a", "real", 0, 10), F("b", "real", 0, 10))).with_constraint({"a": 1.0, "b": -1.0}, "<=", 0.0)
    rs = RuleSet((Rule((C("b", "<=", 3.0), C("a", "<=", 3.0)), 1),), classes=(0, 1), default=0)
    found = violated(verify(rs, dom, checks=["redundant_condition"]), "redundant_condition")
    assert [f.details["condition"] for f in found] == ["a <= 3.0"]


def test_missing_tests_and_flags():
    dom = Domain((F("x", "real", 0, 10, missing=True),))
    rs = RuleSet((
        Rule((C("x", "is missing"),), "m", id="miss"),
        Rule((C("x", "<=", 5.0, missing=True),), "low", id="low_or_missing"),
        Rule((C("x", ">", 5.0),), "high", id="high"),
    ), classes=("m", "low", "high", "d"), default="d", ordered=False)
    report = verify(rs, dom, checks=["conflict", "gap", "dead"])
    assert ids(violated(report, "conflict")) == [("miss", "low_or_missing")]
    assert violated(report, "gap") == [] and violated(report, "dead") == []
    cex = violated(report, "conflict")[0].counterexample
    assert cex["x"] is None


def test_inferred_domain_for_rules_without_one():
    rs = RuleSet((Rule((C("x", "<=", 5.0), C("job", "in", {"a"})), 1),), classes=(0, 1), default=0,
                 feature_names=("x", "job", "unused"))
    report = verify(rs, checks=["gap", "redundant_condition"])
    assert report.target["domain_inferred"]
    gap = violated(report, "gap")
    assert gap and rs.decide(frame_from_rows([gap[0].counterexample], _inferred(rs)))[0] == -1


def _inferred(rs):
    from rulekd.verify import infer_domain

    return infer_domain(rs)


def test_rules_using_features_outside_the_domain_are_rejected():
    rs = RuleSet((Rule((C("z", "<=", 1.0),), 1),), classes=(0, 1), default=0)
    with pytest.raises(DomainError, match="'z'"):
        verify(rs, Domain((F("x", "real", 0, 1),)))


def test_text_level_test_on_numeric_feature_is_rejected():
    rs = RuleSet((Rule((C("x", "in", {"a"}),), 1),), classes=(0, 1), default=0)
    with pytest.raises(RuleFormatError, match="text levels"):
        verify(rs, Domain((F("x", "real", 0, 1),)))


def test_unknown_check_name_is_rejected():
    rs = RuleSet((Rule((C("x", "<=", 1.0),), 1),), classes=(0, 1), default=0)
    with pytest.raises(ValueError, match="Unknown check 'gaps'"):
        verify(rs, Domain((F("x", "real", 0, 2),)), checks=["gaps"])
    with pytest.raises(ValueError, match="reference"):
        verify(rs, Domain((F("x", "real", 0, 2),)), checks=["equivalence"])


def test_report_json_round_trip(known):
    _, report = known
    d = json.loads(report.to_json())
    assert d["status"] == "violated" and d["counts"]["violated"] == len(report.violated)
    again = VerificationReport.from_dict(d)
    assert [f.to_dict() for f in again.findings] == d["findings"]
    assert "conflict" in report.summary()


def test_empty_rule_set_is_all_gap():
    rs = RuleSet((), classes=(0, 1), default=0, feature_names=("x",))
    report = verify(rs, Domain((F("x", "real", 0, 1),)))
    assert [f.check for f in report.violated] == ["gap"]
    # It read "No rule matches any input with anywhere".
    assert report.violated[0].message == "No rule matches any input; the default (0) answers everywhere."
    # Its region reads back in the condition grammar (it was "anywhere", which parse_condition refuses).
    region = report.violated[0].details["region"]
    assert region == "true" and parse_condition(region).evaluate(lambda n: np.zeros(3), 3).all()


def test_parallel_workers_give_the_same_findings(monkeypatch):
    from rulekd.verify import _checks, _verify

    monkeypatch.setattr(_checks, "PARALLEL_MIN_ITEMS", 1)
    monkeypatch.setattr(_verify, "MONOLITHIC_MS", 0)  # exercise the per-region equivalence proof
    rs = RuleSet(tuple(
        Rule((C("x", ">", float(i)), C("x", "<=", float(i + 2))), i % 2, id=f"r{i}") for i in range(8)
    ), classes=(0, 1), default=0, ordered=False)
    other = rs.replace(rules=rs.rules[:-1])
    dom = Domain((F("x", "real", 0, 10),)).with_constraint({"x": 1.0}, "<=", 9.5)
    checks = ["conflict", "dead", "redundant_rule", "equivalence"]
    seq = verify(rs, dom, checks=checks, reference=other)
    par = verify(rs, dom, checks=checks, reference=other, n_jobs=2)
    key = lambda r: sorted((f.check, f.status, f.rules) for f in r.findings)  # noqa: E731
    assert key(seq) == key(par)
    assert violated(seq, "conflict") and violated(seq, "equivalence")


def test_fitted_rule_student_is_accepted_directly():
    from rulekd import DistilledTreeClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "job": pd.Categorical(rng.choice(["x", "y", "z"], 300))})
    y = ((X["a"] > 0) | (X["job"] == "z")).astype(int)
    model = DistilledTreeClassifier(max_leaf_nodes=6, random_state=0).fit(X, y)
    report = verify(model, properties=["if a > 100 then 1"], checks=["conflict", "dead", "gap"])
    assert report.target["source"] == "DistilledTreeClassifier" and not report.target["domain_inferred"]
    assert report.by_check("conflict")[0].status == "proved"


def test_unfitted_student_raises_not_fitted():
    from rulekd import DistilledTreeClassifier
    from rulekd.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        verify(DistilledTreeClassifier())
    with pytest.raises(TypeError, match="RuleSet"):
        verify(42)
