"""Tree importers: the extracted rules decide exactly what the fitted tree decides."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from rulekd.exceptions import RuleFormatError
from rulekd.rules import RuleSet, from_sklearn_tree, from_xgboost_tree, xgboost_trees

xgb = pytest.importorskip("xgboost")


def _edge_values(thresholds) -> np.ndarray:
    """Each threshold, its float32 rounding, one float32 ulp and one float64 ulp around both."""
    out = []
    with np.errstate(over="ignore"):
        for t in np.asarray(thresholds, dtype=np.float64):
            a = np.float32(t)
            for v in (t, float(a)):
                out += [v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)]
            out += [float(np.nextafter(a, np.float32(np.inf))), float(np.nextafter(a, np.float32(-np.inf)))]
            # a float64 tie exactly between two float32 neighbours
            b = np.nextafter(a, np.float32(np.inf))
            mid = (float(a) + float(b)) / 2
            out += [mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)]
    return np.array([v for v in out if np.isfinite(v) and abs(v) < 3e38])


def _probe_data(X: np.ndarray, thresholds_per_feature: list[np.ndarray], rng, n: int = 3000) -> np.ndarray:
    """Rows drawn from the thresholds' edge values, random values and NaN, column by column."""
    cols = []
    for j in range(X.shape[1]):
        edges = _edge_values(thresholds_per_feature[j])
        pool = np.concatenate([edges, X[:, j], [np.nan] * max(3, len(edges) // 10)])
        cols.append(rng.choice(pool, size=n))
    return np.column_stack(cols)


def _data(seed: int, n_classes: int, nan: bool, n: int = 400):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[:, 1] = np.round(X[:, 1] * 3) / 3  # repeated values: thresholds between float32 ties
    X[:, 2] = rng.integers(0, 5, n)
    X[:, 3] = rng.normal(size=n) * 1e-3 + 0.1
    y = (X[:, 0] + X[:, 1] * X[:, 3] * 10 + (X[:, 2] > 2) + rng.normal(scale=0.5, size=n))
    y = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    if nan:
        X[rng.random(X.shape) < 0.15] = np.nan
    return X, y, rng


def _tree_thresholds(tree, n_features):
    t = tree.tree_
    return [t.threshold[(t.feature == j) & (t.children_left != -1)] for j in range(n_features)]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("max_depth", [1, 3, None])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("nan_in_training", [False, True])
def test_sklearn_tree_rules_decide_like_the_tree(seed, max_depth, n_classes, nan_in_training):
    X, y, rng = _data(seed, n_classes, nan_in_training)
    tree = DecisionTreeClassifier(max_depth=max_depth, random_state=seed, min_samples_leaf=2).fit(X, y)
    rs = from_sklearn_tree(tree)
    assert not rs.ordered and len(rs) == tree.get_n_leaves()
    Xt = _probe_data(np.nan_to_num(X), _tree_thresholds(tree, X.shape[1]), rng)
    leaf = tree.apply(Xt)
    assert rs.decided_by(Xt).tolist() == [f"leaf{i}" for i in leaf]
    np.testing.assert_array_equal(rs.predict(Xt), tree.predict(Xt))
    np.testing.assert_allclose(rs.predict_proba(Xt), tree.predict_proba(Xt), rtol=0, atol=1e-12)
    # the rules are disjoint and cover every row
    assert (rs.match(Xt).sum(axis=1) == 1).all()
    # and survive JSON
    back = RuleSet.from_json(rs.to_json())
    np.testing.assert_array_equal(back.predict(Xt), tree.predict(Xt))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sklearn_random_splitter_and_sample_weights(seed):
    # random thresholds (not midpoints) and weighted leaf values
    X, y, rng = _data(seed, 3, True)
    w = rng.uniform(0.1, 3.0, len(y))
    tree = DecisionTreeClassifier(splitter="random", max_depth=6, random_state=seed).fit(X, y, sample_weight=w)
    rs = from_sklearn_tree(tree)
    Xt = _probe_data(np.nan_to_num(X), _tree_thresholds(tree, X.shape[1]), rng)
    assert rs.decided_by(Xt).tolist() == [f"leaf{i}" for i in tree.apply(Xt)]
    np.testing.assert_array_equal(rs.predict(Xt), tree.predict(Xt))
    np.testing.assert_allclose(rs.predict_proba(Xt), tree.predict_proba(Xt), rtol=0, atol=1e-12)


def test_sklearn_split_of_missing_from_present_values():
    # scikit-learn uses threshold inf when a node separates NaN from everything else
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    miss = rng.random(400) < 0.3
    X[miss, 0] = np.nan
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, miss.astype(int))
    assert tree.tree_.threshold[0] == np.inf
    rs = from_sklearn_tree(tree)
    Xt = np.vstack([X, [[3e38, 0.0], [-3e38, 0.0], [np.nan, 0.0]]])
    np.testing.assert_array_equal(rs.predict(Xt), tree.predict(Xt))
    # said as what it is (it read "float32(x0) > inf or x0 is missing" and "float32(x0) <= inf")
    first = {str(r.conditions[0]) for r in rs.rules}
    assert first == {"x0 is missing", "x0 is not missing"}, rs.to_text()


def test_sklearn_categories_missing_split_and_too_few_levels():
    # a split of the missing codes from the others reads "c is missing", not "c in {} or c is missing"
    codes = np.array([0, 1, 2, 0, 1, 2, np.nan, np.nan])
    tree = DecisionTreeClassifier().fit(codes[:, None], [0, 0, 0, 0, 0, 0, 1, 1])
    rs = from_sklearn_tree(tree, ["c"], categories={"c": ["a", "b", "z"]})
    assert "{}" not in rs.to_text() and "c is missing" in rs.to_text()
    frame = pd.DataFrame({"c": ["a", "b", "z", None]})
    np.testing.assert_array_equal(rs.predict(frame), tree.predict(np.array([[0], [1], [2], [np.nan]])))
    # the tree saw codes 0-5; a list of four levels gave a rule "c in {}" and lost class 1 without a word
    codes = np.arange(6.0).repeat(10)[:, None]
    tree = DecisionTreeClassifier(max_depth=1).fit(codes, (codes[:, 0] >= 5).astype(int))
    with pytest.raises(RuleFormatError, match=r"splits 'c' at code 4.5.*lists 4 level\(s\).*Pass every level"):
        from_sklearn_tree(tree, ["c"], categories={"c": ["a", "b", "c", "d"]})
    assert len(from_sklearn_tree(tree, ["c"], categories={"c": list("abcdef")}).rules) == 2


def test_sklearn_leaf_labels_are_checked():
    X = np.arange(10.0)[:, None]
    tree = DecisionTreeClassifier().fit(X, np.array(["a"] * 5 + ["b"] * 5))
    with pytest.raises(RuleFormatError, match="leaf_labels gives leaf 1 the label 0, which is not one of"):
        from_sklearn_tree(tree, leaf_labels=np.array([0, 0, 1]))  # encoded labels, not "a"/"b" (tuple.index)
    with pytest.raises(ValueError, match="leaf_labels has 2 entries; the tree has 3 nodes"):
        from_sklearn_tree(tree, leaf_labels=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="stop_at has 1 entries"):
        from_sklearn_tree(tree, stop_at=np.array([True]))


def test_sklearn_tree_string_labels_and_dataframe_names():
    X, y, rng = _data(5, 3, True)
    frame = pd.DataFrame(X, columns=["âge", "income (k€)", "n kids", "rate"])
    labels = np.array(["low", "mid", "high"])[y]
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(frame, labels)
    rs = from_sklearn_tree(tree)
    assert rs.feature_names == tuple(frame.columns)
    assert rs.classes == tuple(tree.classes_)
    probe = pd.DataFrame(_probe_data(np.nan_to_num(X), _tree_thresholds(tree, 4), rng, 1000), columns=frame.columns)
    assert rs.predict(probe).tolist() == tree.predict(probe).tolist()


def test_sklearn_tree_thresholds_exactly_at_float32_boundaries():
    # One feature; the threshold is the float64 midpoint of two adjacent float32 values
    # (far enough apart for scikit-learn's 1e-7 split tolerance), a float32 rounding tie.
    a = np.float32(100000.1)
    b = np.nextafter(a, np.float32(np.inf))
    X = np.array([[float(a)]] * 5 + [[float(b)]] * 5)
    y = np.array([0] * 5 + [1] * 5)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    thr = tree.tree_.threshold[0]
    assert float(a) <= thr < float(b)
    rs = from_sklearn_tree(tree)
    probe = np.array([[v] for v in _edge_values([thr])])
    np.testing.assert_array_equal(rs.predict(probe), tree.predict(probe))
    assert set(tree.predict(probe)) == {0, 1}


def test_sklearn_tree_with_ordinal_coded_categories():
    rng = np.random.default_rng(0)
    levels = ["rot", "grün", "blau", "gelb", "weiß"]
    codes = rng.integers(0, 5, 500)
    x2 = rng.normal(size=500)
    y = np.isin(codes, [1, 3]).astype(int) ^ (x2 > 1)
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(np.column_stack([codes, x2]), y)
    rs = from_sklearn_tree(tree, ["farbe", "x2"], categories={"farbe": levels})
    assert any(c.op == "in" for r in rs.rules for c in r.conditions)
    test_codes = rng.integers(0, 5, 400)
    test_x2 = rng.normal(size=400)
    frame = pd.DataFrame({"farbe": np.array(levels, dtype=object)[test_codes], "x2": test_x2})
    np.testing.assert_array_equal(rs.predict(frame), tree.predict(np.column_stack([test_codes, test_x2])))


def test_sklearn_single_leaf_tree():
    X = np.zeros((10, 2))
    y = np.array([1] * 10)
    y[0] = 0
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)  # constant features: no split possible
    rs = from_sklearn_tree(tree)
    assert len(rs) == 1 and rs.rules[0].conditions == ()
    assert rs.predict(np.ones((3, 2))).tolist() == [1, 1, 1]


def test_sklearn_importer_errors():
    with pytest.raises(ValueError, match="fitted"):
        from_sklearn_tree(DecisionTreeClassifier())
    X, y, _ = _data(0, 2, False)
    tree = DecisionTreeClassifier(max_depth=2).fit(X, y)
    with pytest.raises(ValueError, match="feature names"):
        from_sklearn_tree(tree, ["a"])
    reg = DecisionTreeRegressor(max_depth=2).fit(X, y)
    with pytest.raises(ValueError):
        from_sklearn_tree(reg)
    with pytest.raises(ValueError):
        from_sklearn_tree(reg, classes=(0, 1))


# -- XGBoost -----------------------------------------------------------------
def _xgb_thresholds(model, n_features):
    out = [[] for _ in range(n_features)]
    for tree in xgboost_trees(model):
        for left, f, c, st in zip(tree["left_children"], tree["split_indices"], tree["split_conditions"],
                                  tree.get("split_type", [0] * len(tree["left_children"]))):
            if left != -1 and st == 0:
                out[int(f)].append(c)
    return [np.array(v, dtype=np.float64) for v in out]


def _tree_classes(model) -> list[int]:
    doc = json.loads(xgb_booster(model).save_raw("json"))
    return [int(v) for v in doc["learner"]["gradient_booster"]["model"]["tree_info"]]


def xgb_booster(model):
    return model.get_booster() if hasattr(model, "get_booster") else model


def _check_xgb(model, X, categories=None):
    booster = xgb_booster(model)
    dm = xgb.DMatrix(X, enable_categorical=True, missing=np.nan)
    leaves = booster.predict(dm, pred_leaf=True).astype(int)
    margin = booster.predict(dm, output_margin=True).astype(np.float64)
    if margin.ndim == 1:
        margin = margin[:, None]
    n_trees = len(xgboost_trees(booster))
    assert leaves.shape[1] == n_trees
    tree_class = _tree_classes(booster)
    total = np.zeros_like(margin)
    for k in range(n_trees):
        rs = from_xgboost_tree(model, k, categories=categories)
        assert (rs.match(X).sum(axis=1) == 1).all()  # disjoint and complete
        idx = rs.decide(X)
        assert rs.decided_by(X).tolist() == [f"t{k}_leaf{v}" for v in leaves[:, k]]
        scores = np.array([r.score for r in rs.rules])[idx]
        total[:, tree_class[k]] += scores
    # Sum of the rules' scores plus the base margin is XGBoost's margin (float32 sums aside).
    np.testing.assert_allclose(total + _base_margin(booster), margin, rtol=0, atol=2e-5)


def _base_margin(booster) -> np.ndarray:
    cfg = json.loads(booster.save_config())["learner"]
    base = np.array([float(v) for v in cfg["learner_model_param"]["base_score"].strip("[]").split(",")])
    if cfg["objective"]["name"] == "binary:logistic":
        return np.log(base / (1 - base))  # stored as a probability
    return base  # multi:softprob stores margins


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("nan_in_training", [False, True])
def test_xgboost_rules_pick_the_same_leaf_binary(seed, nan_in_training):
    X, y, rng = _data(seed, 2, nan_in_training)
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=8, max_depth=3, learning_rate=0.3, random_state=seed,
                              tree_method="hist").fit(X, y)
    Xt = _probe_data(np.nan_to_num(X), _xgb_thresholds(model, X.shape[1]), rng, 2000)
    _check_xgb(model, Xt)


def test_xgboost_rules_pick_the_same_leaf_multiclass():
    X, y, rng = _data(3, 3, True)
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=4, max_depth=3, random_state=0, tree_method="hist").fit(X, y)
    Xt = _probe_data(np.nan_to_num(X), _xgb_thresholds(model, X.shape[1]), rng, 1500)
    _check_xgb(model, Xt)


def test_xgboost_raw_booster_with_exact_method():
    X, y, rng = _data(4, 2, True)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "tree_method": "exact", "nthread": 1},
                        xgb.DMatrix(X, label=y, missing=np.nan), num_boost_round=5)
    Xt = _probe_data(np.nan_to_num(X), _xgb_thresholds(booster, X.shape[1]), rng, 1500)
    _check_xgb(booster, Xt)
    rs = from_xgboost_tree(booster, 0)
    assert rs.feature_names == ("f0", "f1", "f2", "f3")


@pytest.mark.parametrize("max_cat_to_onehot", [1, 8])  # partition splits / one-hot splits
def test_xgboost_categorical_dataframe(max_cat_to_onehot):
    rng = np.random.default_rng(7)
    n = 600
    levels = ["Ärzt", "b", "c", "d", "e", "f"]
    cat = pd.Categorical(rng.choice(levels, n), categories=levels)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    cat[rng.random(n) < 0.1] = np.nan
    y = (np.isin(np.asarray(cat), ["b", "d", "f"]) ^ (np.nan_to_num(x) > 0.3)).astype(int)
    X = pd.DataFrame({"job": cat, "x": x})
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=6, max_depth=3, enable_categorical=True, tree_method="hist",
                              max_cat_to_onehot=max_cat_to_onehot, random_state=0).fit(X, y)
    trees = xgboost_trees(model)
    assert any(1 in t.get("split_type", []) for t in trees)
    xt = _probe_data(np.nan_to_num(x)[:, None], _xgb_thresholds(model, 2)[1:], rng, 1500)[:, 0]
    ct = pd.Categorical(rng.choice(levels + [None], 1500), categories=levels)
    Xt = pd.DataFrame({"job": ct, "x": xt})
    _check_xgb(model, Xt, categories={"job": levels})
    # the same rules on plain strings (object column) decide alike
    rs = from_xgboost_tree(model, 0, categories={"job": levels})
    obj = Xt.assign(job=Xt["job"].astype(object))
    assert rs.decide(obj).tolist() == rs.decide(Xt).tolist()
    with pytest.raises(RuleFormatError, match="job"):
        first_cat = next(k for k, t in enumerate(trees) if 1 in t.get("split_type", []))
        from_xgboost_tree(model, first_cat)


def test_xgboost_categories_listing_too_few_levels_are_refused():
    """Codes the list lacks vanished from the rule: levels "e" and "f" answered as the other side."""
    import xgboost as xgb

    levels = ["a", "b", "c", "d", "e", "f"]
    codes = np.random.default_rng(0).integers(0, 6, 400)
    X = pd.DataFrame({"c": pd.Categorical.from_codes(codes, levels)})
    m = xgb.XGBClassifier(n_estimators=1, max_depth=1, enable_categorical=True, tree_method="hist",
                          n_jobs=1).fit(X, (codes <= 1).astype(int))
    with pytest.raises(RuleFormatError, match=r"code\(s\) \[4, 5\] of 'c'.*lists 4 level"):
        from_xgboost_tree(m, 0, categories={"c": levels[:4]})
    rs = from_xgboost_tree(m, 0, categories={"c": levels})
    Xt = pd.DataFrame({"c": pd.Categorical(levels, categories=levels)})
    leaves = m.get_booster().predict(xgb.DMatrix(Xt, enable_categorical=True), pred_leaf=True).ravel().astype(int)
    assert rs.decided_by(Xt).tolist() == [f"t0_leaf{k}" for k in leaves]


def test_xgboost_importer_errors():
    X, y, _ = _data(0, 2, False)
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=2, max_depth=2).fit(X, y)
    with pytest.raises(IndexError):
        from_xgboost_tree(model, 2)
    with pytest.raises(ValueError):
        from_xgboost_tree(model, 0, classes=(0, 1, 2))
    with pytest.raises(TypeError):
        from_xgboost_tree(DecisionTreeClassifier(), 0)


def test_integers_beyond_float64_are_compared_as_the_models_compare_them():
    """Regression: int64 input went through float64 before the float32 bound (float32(float64(x)) rounds
    twice); sklearn and XGBoost round int64 to float32 directly. 2**60 + 2**36 + 1 lies just above the
    float32 midpoint that both trees split at."""
    X = np.array([[2**60]] * 20 + [[2**60 + 2**37]] * 20, dtype=np.int64)
    y = np.array([0] * 20 + [1] * 20)
    probe = np.array([[2**60 + 2**36 + 1], [2**60 + 2**36], [2**60 + 2**36 - 1], [2**62], [-(2**62)]],
                     dtype=np.int64)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    rs = from_sklearn_tree(tree)
    assert rs.predict(probe).tolist() == tree.predict(probe).tolist() == [1, 0, 0, 1, 0]
    nullable = pd.DataFrame({"x0": pd.array([2**60 + 2**36 + 1, None], dtype="Int64")})
    assert rs.predict(nullable)[0] == 1
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "tree_method": "exact", "nthread": 1},
                        xgb.DMatrix(X, label=y), num_boost_round=1)
    leaf = booster.predict(xgb.DMatrix(probe), pred_leaf=True).reshape(-1).astype(int)
    assert from_xgboost_tree(booster, 0).decided_by(probe).tolist() == [f"t0_leaf{k}" for k in leaf]


def test_xgboost_numeric_category_codes_it_does_not_list_go_left():
    """Regression: a code outside the listed levels (negative, too large) matched no rule and fell to the
    default; XGBoost sends it down the left branch."""
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, 400).astype(float)
    y = np.isin(codes, [1, 3]).astype(int)
    dm = xgb.DMatrix(codes[:, None], label=y, feature_types=["c"], enable_categorical=True)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "nthread": 1, "tree_method": "hist",
                         "max_cat_to_onehot": 1}, dm, num_boost_round=1)
    rs = from_xgboost_tree(booster, 0, categories={"f0": [0, 1, 2, 3]})
    probe = np.array([[0.0], [1.0], [2.0], [3.0], [-1.0], [7.0], [np.nan]])
    leaf = booster.predict(xgb.DMatrix(probe, feature_types=["c"], enable_categorical=True),
                           pred_leaf=True).reshape(-1).astype(int)
    assert rs.decided_by(probe).tolist() == [f"t0_leaf{k}" for k in leaf]


def test_xgboost_models_the_rules_cannot_express_are_refused():
    """Regression: missing=-999 (read as a number by the rules) and multi-output trees (leaf values in
    leaf_weights) were imported silently; a wrong number of feature names gave IndexError or nothing."""
    X, y, _ = _data(0, 2, False)
    with pytest.raises(RuleFormatError, match="missing=-999"):
        from_xgboost_tree(xgb.XGBClassifier(n_jobs=1, n_estimators=1, max_depth=2, missing=-999.0).fit(X, y), 0)
    y3 = np.arange(len(y)) % 3
    multi = xgb.XGBClassifier(n_jobs=1, n_estimators=1, max_depth=2, tree_method="hist",
                              multi_strategy="multi_output_tree").fit(X, y3)
    with pytest.raises(RuleFormatError, match="multi-output trees"):
        from_xgboost_tree(multi, 0)
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=1, max_depth=2).fit(X, y)
    with pytest.raises(ValueError, match="feature_names has 2 names; the model has"):
        from_xgboost_tree(model, 0, feature_names=["a", "b"])


@pytest.mark.parametrize("booster", ["dart", "gblinear"])
def test_xgboost_non_tree_boosters_are_refused(booster):
    X, y, _ = _data(0, 2, False)
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=2, booster=booster).fit(X, y)
    with pytest.raises(ValueError, match="gbtree"):
        from_xgboost_tree(model, 0)


def test_sklearn_multi_output_tree_is_refused():
    X, y, _ = _data(0, 2, False)
    tree = DecisionTreeClassifier(max_depth=2).fit(X, np.column_stack([y, 1 - y]))
    with pytest.raises(ValueError, match="single-output"):
        from_sklearn_tree(tree)


def test_xgboost_leaf_labels_follow_the_score_sign():
    X, y, _ = _data(1, 2, False)
    model = xgb.XGBClassifier(n_jobs=1, n_estimators=2, max_depth=2).fit(X, y)
    rs = from_xgboost_tree(model, 0, classes=("no", "yes"))
    for r in rs.rules:
        assert r.prediction == ("yes" if r.score > 0 else "no")


def test_float32_cast_conditions_round_integers_once_to_float32():
    """Regression (this session's fix, reviewed): for an odd float32 threshold the exact float64 bound lies
    just below the float32 midpoint, and integers between the two were misjudged."""
    t = float(np.nextafter(np.float32(2**60), np.float32(np.inf)))
    mid = (int(t) + int(np.nextafter(np.float32(t), np.float32(np.inf)))) // 2
    xs = np.array([mid - 255, mid - 128, mid - 1, mid, mid + 1, 2**62], dtype=np.int64)
    for op in ("<=", "<", ">", ">="):
        got = C(op, t).evaluate(xs)
        want = {"<=": np.less_equal, "<": np.less, ">": np.greater, ">=": np.greater_equal}[op](
            xs.astype(np.float32), np.float32(t))
        assert got.tolist() == want.tolist(), op


def C(op, t):
    from rulekd.rules import Condition

    return Condition("x", op, t, cast="float32")
