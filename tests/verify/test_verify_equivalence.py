"""Equivalence proofs: rules vs the scikit-learn / XGBoost tree they came from, vs a JSON reload."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from rulekd import Condition, Domain, FeatureSpec, Rule, RuleSet
from rulekd.rules import from_sklearn_tree, from_xgboost_tree
from rulekd.verify import verify
from rulekd.verify._encode import frame_from_rows


def _data(n=600, seed=0, missing=True):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.uniform(0, 100, size=n).round(1),
        "c": rng.integers(0, 5, size=n).astype(float),
    })
    y = ((X["a"] > 0.2) ^ (X["b"] < 30) | (X["c"] == 3)).astype(int).to_numpy()
    if missing:
        X.loc[rng.random(n) < 0.1, "a"] = np.nan
    return X, y


@pytest.fixture(scope="module")
def sk_tree():
    X, y = _data()
    tree = DecisionTreeClassifier(max_leaf_nodes=40, random_state=0).fit(X, y)
    return tree, Domain.from_data(X), X


def test_sklearn_tree_is_proved_equivalent_to_its_rules(sk_tree):
    tree, dom, _ = sk_tree
    report = verify(tree, dom, checks=["equivalence"])
    (f,) = report.findings
    assert f.check == "equivalence" and f.status == "proved", f.message


def test_rules_and_reference_given_separately(sk_tree):
    tree, dom, _ = sk_tree
    rs = from_sklearn_tree(tree)
    report = verify(rs, dom, checks=["equivalence"], reference=tree)
    assert report.findings[0].status == "proved"


def _final_split(tree, dom):
    """A node on a real feature whose two children are leaves predicting different classes.

    (On an integer feature the float32 sliver holds no input of the Domain, and
    the nudged rules are rightly proved equivalent there.)
    """
    t = tree.tree_
    names = list(tree.feature_names_in_)
    for node in range(t.node_count):
        l, r = t.children_left[node], t.children_right[node]
        if l != -1 and dom[names[t.feature[node]]].kind != "real":
            continue
        if l != -1 and t.children_left[l] == -1 and t.children_left[r] == -1:
            if np.argmax(t.value[l, 0]) != np.argmax(t.value[r, 0]):
                return node, int(l), int(r)
    raise AssertionError("no final split with two classes")


def test_threshold_nudged_by_one_float32_ulp_is_not_equivalent(sk_tree):
    tree, dom, _ = sk_tree
    rs = from_sklearn_tree(tree)
    node, left, right = _final_split(tree, dom)
    t = float(tree.tree_.threshold[node])
    feature = rs.feature_names[tree.tree_.feature[node]]
    below = np.float32(t) if float(np.float32(t)) <= t else np.nextafter(np.float32(t), np.float32(-np.inf))
    above = np.nextafter(below, np.float32(np.inf))  # the first float32 value the split sends right
    nudged_t = float(above)  # one float32 ulp up: float32(x) <= nudged_t now also admits `above`

    def nudge(c):
        if c.feature == feature and c.value == t:
            return Condition(c.feature, c.op, nudged_t, c.missing, c.cast)
        return c

    rules = tuple(
        Rule(tuple(nudge(c) for c in r.conditions), r.prediction, r.proba, r.support, r.confidence, r.id)
        if r.id in (f"leaf{left}", f"leaf{right}") else r
        for r in rs.rules
    )
    report = verify(rs.replace(rules=rules), dom, checks=["equivalence"], reference=tree)
    (f,) = report.findings
    assert f.status == "violated"
    x = f.counterexample[feature]
    assert np.float32(x) == above  # the counterexample sits exactly on the moved boundary
    frame = frame_from_rows([f.counterexample], dom)
    assert rs.replace(rules=rules).predict(frame)[0] != tree.predict(frame[list(rs.feature_names)])[0]


def test_float64_ulp_nudge_finds_the_one_float_between():
    """Z3 works over the rationals; the counterexample must still be a float64 that shows the difference."""
    t = 0.5
    t2 = float(np.nextafter(t, 1.0))
    a = RuleSet((Rule((Condition("x", "<=", t),), 1),), classes=(0, 1), default=0)
    b = RuleSet((Rule((Condition("x", "<=", t2),), 1),), classes=(0, 1), default=0)
    dom = Domain((FeatureSpec("x", "real", 0.0, 1.0),))
    (f,) = verify(a, dom, checks=["equivalence"], reference=b).findings
    assert f.status == "violated" and f.counterexample["x"] == t2
    strict = RuleSet((Rule((Condition("x", "<", t2),), 1),), classes=(0, 1), default=0)
    (g,) = verify(a, dom, checks=["equivalence"], reference=strict).findings
    assert g.status == "proved"  # x < next(0.5) is x <= 0.5 for every float64


def test_json_reload_is_proved_equivalent(sk_tree):
    tree, dom, _ = sk_tree
    rs = from_sklearn_tree(tree)
    again = RuleSet.from_json(rs.to_json())
    (f,) = verify(rs, dom, checks=["equivalence"], reference=again).findings
    assert f.status == "proved"


def test_ordered_list_vs_unordered_set_of_the_same_regions():
    rules = (Rule((Condition("x", "<=", 2.0),), "a", confidence=0.5), Rule((Condition("x", "<=", 5.0),), "b"))
    lst = RuleSet(rules, classes=("a", "b"), default="a", ordered=True)
    st = RuleSet(rules, classes=("a", "b"), default="a", ordered=False)  # "b" has higher confidence
    dom = Domain((FeatureSpec("x", "real", 0.0, 10.0),))
    (f,) = verify(lst, dom, checks=["equivalence"], reference=st).findings
    assert f.status == "violated" and f.counterexample["x"] <= 2.0


xgb = pytest.importorskip("xgboost")


@pytest.fixture(scope="module")
def xgb_model():
    X, y = _data(seed=1)
    model = xgb.XGBClassifier(n_estimators=3, max_depth=3, random_state=0, tree_method="hist").fit(X, y)
    return model, Domain.from_data(X), X


@pytest.mark.parametrize("k", [0, 1, 2])
def test_xgboost_tree_is_proved_equivalent_to_its_rules(xgb_model, k):
    model, dom, _ = xgb_model
    rs = from_xgboost_tree(model, k, feature_names=list(dom.names))
    (f,) = verify(rs, dom, checks=["equivalence"], reference=model).findings
    assert f.status == "proved", f.message
    assert f.details["compare"] == "leaf"


def test_xgboost_wrong_tree_is_refuted_with_a_real_counterexample(xgb_model):
    model, dom, _ = xgb_model
    rs = from_xgboost_tree(model, 0, feature_names=list(dom.names))
    (f,) = verify(rs, dom, checks=["equivalence"], reference=model, tree_index=1).findings
    assert f.status == "violated"
    frame = frame_from_rows([f.counterexample], dom)
    leaf = int(model.get_booster().predict(xgb.DMatrix(frame), pred_leaf=True)[0, 1])
    assert rs.decided_by(frame)[0] != f"t0_leaf{leaf}"  # evaluated: the leaves reached differ
    assert f.details["reference_answer"] == leaf


def test_xgboost_categorical_tree_is_proved_equivalent():
    rng = np.random.default_rng(3)
    n = 500
    X = pd.DataFrame({
        "colour": pd.Categorical(rng.choice(["red", "green", "blue", "grey"], n)),
        "v": rng.normal(size=n),
    })
    y = ((X["colour"].isin(["red", "grey"])) ^ (X["v"] > 0.3)).astype(int)
    model = xgb.XGBClassifier(n_estimators=2, max_depth=3, enable_categorical=True, tree_method="hist",
                              max_cat_to_onehot=1, random_state=0).fit(X, y)
    dom = Domain.from_data(X)
    cats = {"colour": list(X["colour"].cat.categories)}
    rs = from_xgboost_tree(model, 0, feature_names=list(dom.names), categories=cats)
    (f,) = verify(rs, dom, checks=["equivalence"], reference=model, categories=cats).findings
    assert f.status == "proved", f.message
