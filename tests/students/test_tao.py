"""The refinable tree behind the rule students (TAO)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.tree import DecisionTreeClassifier

from rulekd import Rule, RuleSet
from rulekd.students._tao import Tree, nice_threshold


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.integers(0, 5, n).astype(float)])
    X[rng.random(X.shape) < 0.05] = np.nan
    y = ((np.nan_to_num(X[:, 0]) * np.nan_to_num(X[:, 1]) > 0) ^ np.isin(X[:, 2], [1, 3])).astype(np.intp)
    return X, y


def test_copy_of_a_sklearn_tree_predicts_what_it_predicts():
    X, y = _data()
    sk = DecisionTreeClassifier(max_leaf_nodes=12, random_state=0).fit(X, y)
    tree = Tree.from_sklearn(sk, 2, {2: 5})
    Xt, _ = _data(2000, seed=1)
    thr = sk.tree_.threshold[sk.tree_.feature == 0]
    Xt[: len(thr), 0] = thr  # values exactly at the thresholds
    np.testing.assert_array_equal(tree.predict_index(Xt), sk.predict(Xt))


def test_refinement_never_increases_weighted_training_error():
    X, y = _data()
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    for leaves in (4, 8, 16):
        sk = DecisionTreeClassifier(max_leaf_nodes=leaves, random_state=0).fit(X, y, sample_weight=w)
        tree = Tree.from_sklearn(sk, 2, {2: 5})
        tree.relabel(X, y, w)
        before = np.sum(w * (tree.predict_index(X) != y))
        tree.refine(X, y, w)
        after = np.sum(w * (tree.predict_index(X) != y))
        assert after <= before + 1e-9
    assert after < before  # on this problem greedy CART leaves room for TAO


def test_leaf_paths_are_exactly_the_tree():
    X, y = _data()
    sk = DecisionTreeClassifier(max_leaf_nodes=10, random_state=0).fit(X, y)
    tree = Tree.from_sklearn(sk, 2, {2: 5})
    tree.refine(X, y, np.ones(len(y)))
    names = ["a", "b", "c"]
    rules = tuple(Rule(conds, tree.label[leaf], id=f"leaf{leaf}")
                  for leaf, conds in tree.leaf_paths(names, {2: [0, 1, 2, 3, 4]}))
    rs = RuleSet(rules, classes=(0, 1), default=0, ordered=False, feature_names=names)
    Xt, _ = _data(2000, seed=3)
    import pandas as pd

    frame = pd.DataFrame({"a": Xt[:, 0], "b": Xt[:, 1],
                          "c": pd.Categorical.from_codes(np.nan_to_num(Xt[:, 2], nan=-1).astype(int), [0, 1, 2, 3, 4])})
    np.testing.assert_array_equal(rs.predict(frame), tree.predict_index(Xt))
    assert (rs.match(frame).sum(axis=1) == 1).all()  # leaves are disjoint and cover everything


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e12, 1e12, allow_nan=False), st.floats(1e-9, 1e6))
def test_nice_threshold_separates_its_neighbours(a, gap):
    b = a + gap
    if not a < b:
        return
    t = nice_threshold(a, b)
    assert a <= t < b
