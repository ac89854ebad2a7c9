"""Exact re-optimisation of a two-class rule set's bounds (students/_polish.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulekd import Condition, DistilledRuleClassifier, Rule, RuleSet
from rulekd.domain import Domain
from rulekd.students._polish import Bins, _max_run, polish, prune


def _student(X: pd.DataFrame, cuts: dict | None = None) -> SimpleNamespace:
    """What Bins reads from a rule student: the Domain, level orders, the teacher's cut points."""
    domain = Domain.from_data(X)
    orders = {s.name: list(s.levels) for s in domain.features if s.kind == "categorical"}
    return SimpleNamespace(domain_=domain, _cat_orders_=orders, _cuts_=cuts or {})


def _frame(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 90, n).astype(float),
        "score": rng.normal(size=n),
        "job": pd.Categorical(rng.choice(["clerk", "manager", "none", "trade"], n)),
    })
    X.loc[rng.random(n) < 0.1, "score"] = np.nan
    return X


def _agreement(rules, X, target, w):
    rs = RuleSet(tuple(Rule(tuple(c), 1) for c in rules), classes=(0, 1), default=0)
    covered = rs.predict(X) == 1
    return float(w[covered == target].sum() / w.sum())


def test_one_rule_finds_an_interval_a_level_set_and_the_missing_side():
    """The target is one rule; a poor starting rule is moved onto it exactly."""
    X = _frame()
    cuts = {0: np.arange(18.5, 90.0), 1: np.array([-1.0, 0.5, 1.0])}  # a tree teacher's cut points
    target = ((X.age >= 30) & (X.age < 60) & X.job.isin(["clerk", "trade"])
              & ((X.score > 0.5) | X.score.isna())).to_numpy()
    w = np.ones(len(X))
    start = [[Condition("age", ">", 20.0)]]
    before = _agreement(start, X, target, w)
    out = polish(start, Bins(_student(X, cuts), X), target, w)
    assert before < 0.9
    assert _agreement(out, X, target, w) == 1.0
    by_feature = {c.feature: c for c in out[0]}
    assert by_feature["job"].value in (frozenset({"clerk", "trade"}), frozenset({"manager", "none"}))
    assert by_feature["score"] == Condition("score", ">", 0.5, missing=True)  # missing scores let through
    age = sorted((c.op, c.value) for c in out[0] if c.feature == "age")
    assert age == [("<=", 59.5), (">", 29.5)]


def test_without_teacher_cut_points_bounds_are_short_decimals_between_values():
    X = _frame()
    target = (X.age < 41).to_numpy()
    out = polish([[Condition("age", "<=", 80.0)]], Bins(_student(X), X), target, np.ones(len(X)))
    assert out == [[Condition("age", "<=", 40.0)]]


def test_bounds_fall_on_the_teachers_cut_points():
    X = _frame()
    target = (X.score.fillna(-9) > 0.3).to_numpy()
    cuts = {1: np.array([-1.0, 0.3, 1.7])}  # the teacher splits only 'score', at these values
    out = polish([[Condition("score", ">", -5.0)]], Bins(_student(X, cuts), X), target, np.ones(len(X)))
    assert out == [[Condition("score", ">", 0.3)]]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_rules=st.integers(1, 5))
def test_polish_never_lowers_agreement_and_its_conditions_match_its_bins(seed, n_rules):
    """Random targets and random starting rules, weighted rows: agreement never drops, and the
    rules written out give exactly the agreement the search computed on its bins."""
    rng = np.random.default_rng(seed)
    X = _frame(600, seed)
    target = rng.random(len(X)) < 1 / (1 + np.exp(-(X.age.to_numpy() - 50) / 10))
    w = rng.uniform(0.5, 2.0, len(X))
    rules = []
    for _ in range(n_rules):
        rules.append([Condition("age", "<=", float(rng.integers(20, 90))),
                      Condition("job", "in", frozenset(rng.choice(["clerk", "manager", "none", "trade"], 2)))])
    before = _agreement(rules, X, target, w)
    out = polish(rules, Bins(_student(X), X), target, w)
    assert len(out) <= n_rules  # rules left covering nothing are dropped
    assert _agreement(out, X, target, w) >= before - 1e-12


def test_prune_meets_the_budget_and_recovers_two_intervals_from_four_rules():
    X = _frame()
    target = (((X.age >= 25) & (X.age < 35)) | ((X.age >= 70) & (X.age < 80))).to_numpy()
    w = np.ones(len(X))
    start = [[Condition("age", ">", 20.0), Condition("age", "<=", 40.0)],
             [Condition("age", ">", 65.0)],
             [Condition("job", "in", frozenset({"clerk"}))],
             [Condition("score", ">", 1.0)]]
    out = prune(start, 2, Bins(_student(X), X), target, w)
    assert len(out) == 2
    assert _agreement(out, X, target, w) == 1.0


def test_a_feature_a_tree_teacher_never_splits_on_is_left_alone():
    X = _frame()
    target = (X.age < 40).to_numpy()
    bins = Bins(_student(X, {1: np.array([0.0])}), X)  # cuts on 'score' only
    assert bins.codes[0] is None
    out = polish([[Condition("score", "<=", 0.0)]], bins, target, np.ones(len(X)))
    assert all(c.feature != "age" for r in out for c in r)


@pytest.mark.parametrize("S", [[1.0, -2.0, 3.0, 1.0, -1.0], [-1.0, -3.0], [2.0], [0.0, 5.0, -5.0, 5.0]])
def test_max_run_is_the_best_contiguous_sum(S):
    value, lo, hi = _max_run(np.array(S))
    brute = max((sum(S[i:j + 1]), i, j) for i in range(len(S)) for j in range(i, len(S)))
    assert value == brute[0]
    assert sum(S[lo:hi + 1]) == value


def test_polished_student_is_at_least_as_faithful_on_its_validation_rows():
    """polish adds candidates to the same search (same seed): the chosen one cannot score lower."""
    from xgboost import XGBClassifier

    X = _frame(1500)
    y = ((X.age.between(30, 60) & (X.job != "none")) | (X.score.fillna(0) > 1)).astype(int).to_numpy()
    teacher = XGBClassifier(n_estimators=30, max_depth=3, enable_categorical=True, tree_method="hist", n_jobs=1,
                            random_state=0)
    kw = dict(teacher=teacher, max_rules=3, n_synthetic=3000, random_state=0)
    plain = DistilledRuleClassifier(polish=False, **kw).fit(X, y)
    polished = DistilledRuleClassifier(**kw).fit(X, y)
    assert len(polished.rules_) <= 3
    assert polished.fidelity_ >= plain.fidelity_
    assert np.array_equal(polished.predict(X), polished.rules_.predict(X))


def test_a_feature_that_is_never_missing_gets_no_missing_clause():
    """'is not missing' / 'or missing' on a feature without missing values would only add text."""
    X = _frame()  # 'age' and 'job' are never missing
    target = (X.job != "none").to_numpy() & (X.age > 30).to_numpy()
    out = polish([[Condition("age", ">", 30.0)], [Condition("job", "in", frozenset({"clerk"}))]],
                 Bins(_student(X), X), target, np.ones(len(X)))
    conds = [c for r in out for c in r]
    assert 1 <= len(out) <= 2 and _agreement(out, X, target, np.ones(len(X))) == 1.0
    assert all(c.op not in ("is missing", "is not missing") and not c.missing for c in conds)


def test_missing_tests_have_a_sort_key():
    """Rules holding 'is missing' conditions can be sorted and deduplicated (the hybrid does)."""
    conds = [Condition("a", "is not missing"), Condition("a", ">", 1.0), Condition("a", "is missing")]
    assert [c.op for c in sorted(conds, key=lambda c: c.sort_key())] == [">", "is missing", "is not missing"]


def test_a_rule_that_only_costs_agreement_is_dropped_on_a_numeric_feature_too():
    """A one-bin rule covering only rows the teacher gives the other class survived on a numeric feature
    (agreement 9 of 10) where the same rule on a categorical feature was dropped (10 of 10)."""
    X = pd.DataFrame({"age": np.arange(10, dtype=float), "job": pd.Categorical(list("aaaaabbbbb"))})
    d = Domain.from_data(X)
    bins = Bins(SimpleNamespace(domain_=d, _cat_orders_={"job": list(d["job"].levels)}, _cuts_={}), X)
    target, w = np.zeros(10, dtype=bool), np.ones(10)
    for start in ([[Condition("age", "<=", 5.0)]], [[Condition("job", "in", frozenset({"a"}))]]):
        assert polish(start, bins, target, w) == []
    # no bin allowed: no condition is written for it (it wrote "job is missing", which lets missing rows in)
    assert bins.conditions(1, np.zeros(3, dtype=bool)) is None
    assert bins.conditions(0, np.zeros(bins.n_bins[0] + 1, dtype=bool)) is None
