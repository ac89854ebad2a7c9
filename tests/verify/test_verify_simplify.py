"""simplify(): shorter rules, same predictions on the Domain, and the proof in the result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.exceptions import SolverTimeoutWarning
from rulekd.rules import from_sklearn_tree
from rulekd.verify import simplify, verify

from .test_verify_timeout import hard_instance


def _info(rs):
    return rs.metadata["simplification"]


def test_tree_rules_simplify_and_predict_the_same():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=800), "b": rng.integers(0, 10, size=800).astype(float)})
    y = ((X["a"] > 0) & (X["b"] > 3)).astype(int)
    tree = DecisionTreeClassifier(max_leaf_nodes=30, random_state=0).fit(X, y)
    dom = Domain.from_data(X)
    rs = from_sklearn_tree(tree)
    out = simplify(rs, dom)
    info = _info(out)
    assert info["status"] == "proved" and info["proof"]["status"] == "proved"
    assert len(out) < len(rs) and out.n_conditions < rs.n_conditions
    S = dom.sample(20_000, random_state=1)
    assert (out.predict(S) == rs.predict(S)).all()
    # The proof is an independent check: the result is also equivalent to the tree itself.
    assert verify(out, dom, checks=["equivalence"], reference=tree).findings[0].status == "proved"


def test_dead_rules_and_redundant_conditions_are_dropped():
    dom = Domain((FeatureSpec("x", "integer", 0, 10), FeatureSpec("y", "real", 0, 1)))
    rs = RuleSet((
        Rule((C("x", ">=", 0.0), C("x", "<", 3.0), C("x", "<", 5.0)), 1, id="keep"),
        Rule((C("x", ">", 20.0),), 2, id="dead"),
        Rule((C("x", ">=", 8.0), C("y", "<=", 1.0)), 2, id="y_redundant"),
    ), classes=(0, 1, 2), default=0, ordered=True)
    out = simplify(rs, dom)
    assert [r.id for r in out.rules] == ["keep", "y_redundant"]
    assert [str(r) for r in out.rules] == ["if x < 3.0 then 1", "if x >= 8.0 then 2"]
    steps = _info(out)["steps"]
    assert steps["dead_rules_removed"] == 1 and steps["conditions_removed"] == 2 and steps["conditions_merged"] == 1


def test_sympy_minimises_a_class_disjunction():
    dom = Domain((FeatureSpec("p", "real", 0, 1), FeatureSpec("q", "real", 0, 1)))
    P, Q = C("p", ">", 0.5), C("q", ">", 0.5)
    rs = RuleSet((
        Rule((P, Q), 1), Rule((P, Q.negate()), 1), Rule((P.negate(), Q), 1),
    ), classes=(0, 1), default=0, ordered=False)
    out = simplify(rs, dom)
    assert sorted(str(r) for r in out.rules) == ["if p > 0.5 then 1", "if q > 0.5 then 1"]
    assert _info(out)["steps"]["sympy_groups_minimised"] == 1
    no_sympy = simplify(rs, dom, use_sympy=False)
    assert no_sympy.n_conditions > out.n_conditions and _info(no_sympy)["status"] == "proved"


def test_adjacent_intervals_merge_in_a_decision_list():
    dom = Domain((FeatureSpec("x", "real", 0, 10),))
    rs = RuleSet((
        Rule((C("x", "<=", 2.0),), "a"),
        Rule((C("x", ">", 2.0), C("x", "<=", 4.0)), "a"),
        Rule((C("x", ">", 4.0), C("x", "<=", 6.0)), "b"),
    ), classes=("a", "b"), default="a", ordered=True)
    out = simplify(rs, dom)
    assert [str(r) for r in out.rules] == ["if x > 4.0 and x <= 6.0 then \"b\""]
    assert _info(out)["status"] == "proved"


@pytest.mark.parametrize("status, warning", [("unknown", SolverTimeoutWarning), ("violated", RuntimeWarning)])
def test_unproved_simplification_returns_the_input(monkeypatch, status, warning):
    """Whatever simplify did, without a proof the caller gets the input back (and is told why)."""
    from rulekd.verify import _verify
    from rulekd.verify._report import Finding

    monkeypatch.setattr(_verify, "equivalence_finding",
                        lambda spec, n_jobs: Finding("equivalence", status, "forced for the test"))
    dom = Domain((FeatureSpec("x", "real", 0, 10),))
    rs = RuleSet((Rule((C("x", "<=", 2.0), C("x", "<=", 3.0)), 1),), classes=(0, 1), default=0)
    with pytest.warns(warning, match="returned unchanged"):
        out = simplify(rs, dom)
    assert out.rules == rs.rules and _info(out)["status"] == status


def test_simplify_with_tiny_timeouts_never_claims_without_proof():
    rs, dom = hard_instance(40, 8)
    out = simplify(rs, dom, timeout_ms=1)
    info = _info(out)
    assert info["status"] in ("proved", "unknown")
    if info["status"] == "unknown":
        assert out.rules == rs.rules


def test_a_hybrids_rules_keep_what_routes_rows_away_from_the_student():
    """With default 0 the rule 'x <= 5 -> 0' and the condition 'y > 0' change nothing; with the student as
    default they decide which rows the rules answer, so simplify keeps them and the proof still holds."""
    dom = Domain((FeatureSpec("x", "real", 0, 10), FeatureSpec("y", "real", -1, 1)))
    rules = (Rule((C("x", "<=", 5.0), C("y", ">", 0.0)), 0, id="keep_me"),
             Rule((C("x", ">", 8.0),), 1, id="r1"))
    plain = RuleSet(rules, classes=(0, 1), default=0, ordered=True)
    hybrid = plain.replace(metadata={"default": "student"})
    assert len(simplify(plain, dom)) == 1  # keep_me answers what the default would
    out = simplify(hybrid, dom)
    assert out.metadata["simplification"]["status"] == "proved"
    assert [r.id for r in out.rules] == ["keep_me", "r1"] and out.n_conditions == 3
    # The equivalence check tells the two apart: a rule of class 0 does not stand for the student.
    rep = verify(hybrid, dom, checks=["equivalence"], reference=plain.replace(rules=rules[1:]))
    assert rep.findings[0].status == "violated"
