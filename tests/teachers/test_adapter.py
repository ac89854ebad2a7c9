"""Teacher adapters and fit_teacher."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from rulekd.exceptions import NotFittedError, TeacherError
from rulekd.teachers import (
    SklearnTeacher,
    Teacher,
    TorchTeacher,
    XGBoostTeacher,
    as_teacher,
    default_teacher,
    fit_teacher,
)

xgb = pytest.importorskip("xgboost")


def _data(n=200, n_classes=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1], np.linspace(-1, 1, n_classes + 1)[1:-1])
    return X, y


def _is_fitted(est) -> bool:
    try:
        check_is_fitted(est)
        return True
    except NotFittedError:
        return False


def test_fit_teacher_clones_and_leaves_the_estimator_unfitted():
    X, y = _data()
    est = LogisticRegression()
    t = fit_teacher(est, X, y)
    assert isinstance(t, SklearnTeacher)
    assert not _is_fitted(est)
    assert t.estimator is not est and _is_fitted(t.estimator)
    assert t.predict(X).tolist() == t.estimator.predict(X).tolist()


def test_fit_teacher_clones_xgboost_too():
    X, y = _data()
    est = xgb.XGBClassifier(n_jobs=1, n_estimators=5, max_depth=2)
    t = fit_teacher(est, X, y)
    assert isinstance(t, XGBoostTeacher)
    assert not _is_fitted(est)


def test_frozen_estimator_is_used_as_is():
    X, y = _data()
    inner = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    tree_before = inner.tree_
    before = inner.predict_proba(X)
    frozen = FrozenEstimator(inner)
    X2, y2 = _data(seed=1)
    t = fit_teacher(frozen, X2, 1 - y2)  # different data and flipped labels: a refit would change it
    assert t.estimator is frozen
    assert inner.tree_ is tree_before
    np.testing.assert_array_equal(inner.predict_proba(X), before)
    np.testing.assert_allclose(t.proba(X), before, atol=1e-9)


def test_frozen_xgboost_is_used_as_is():
    X, y = _data()
    inner = xgb.XGBClassifier(n_jobs=1, n_estimators=5, max_depth=2).fit(X, y)
    booster = inner.get_booster()
    raw = booster.save_raw("json")
    t = fit_teacher(FrozenEstimator(inner), X[:50], 1 - y[:50])
    assert isinstance(t, XGBoostTeacher)
    assert inner.get_booster() is booster and booster.save_raw("json") == raw
    np.testing.assert_allclose(t.proba(X), inner.predict_proba(X), atol=1e-6)


def test_a_teacher_instance_is_returned_unchanged():
    X, y = _data()
    t = fit_teacher(LogisticRegression(), X, y)
    assert fit_teacher(t, X, y) is t
    assert as_teacher(t) is t


def test_xgboost_with_string_labels():
    X, y = _data(n_classes=3)
    labels = np.array(["ja", "nein", "vielleicht"])[y]
    t = fit_teacher(xgb.XGBClassifier(n_jobs=1, n_estimators=10, max_depth=2), X, labels)
    assert t.classes_.tolist() == ["ja", "nein", "vielleicht"]
    pred = t.predict(X)
    assert set(pred) <= set(t.classes_)
    assert (pred == labels).mean() > 0.8
    assert t.logits(X).shape == (len(X), 3)


def test_xgboost_binary_logits_are_margins():
    X, y = _data()
    t = fit_teacher(xgb.XGBClassifier(n_jobs=1, n_estimators=10, max_depth=2), X, np.where(y == 1, "yes", "no"))
    z = t.logits(X)
    margin = t.estimator.get_booster().predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(z[:, 1] - z[:, 0], margin, rtol=1e-6)
    np.testing.assert_allclose(t.proba(X)[:, 1], t.estimator.predict_proba(X)[:, 1], atol=1e-6)


def test_xgboost_on_a_dataframe_with_categories_and_nan():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "c": pd.Categorical(rng.choice(list("pqr"), 300))})
    X.loc[::9, "a"] = np.nan
    y = ((X["a"].fillna(0) > 0) ^ (X["c"] == "q")).astype(int).to_numpy()
    # the default teacher, one thread (OpenMP threads crawl on a busy 2-core CI box)
    t = fit_teacher(default_teacher(random_state=0).set_params(n_estimators=30, n_jobs=1), X, y)
    assert isinstance(t, XGBoostTeacher) and t.uses_frame
    assert (t.predict(X) == y).mean() > 0.9
    assert set(t.split_thresholds()) == {"a"}


def test_xgboost_given_text_columns_says_how_to_make_them_categories():
    """The frame a student accepts (text columns) given to its teacher_ directly: XGBoost's own error named
    a DMatrix parameter; the message says how to convert, and the conversion it shows answers as the student's
    teacher does."""
    from rulekd import DistilledRuleClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "Städte": rng.choice(["Köln", "Bonn", "Ulm"], 300).astype(object)})
    y = ((X["a"] > 0) ^ (X["Städte"] == "Ulm")).astype(int).to_numpy()
    m = DistilledRuleClassifier(teacher=default_teacher(random_state=0).set_params(n_estimators=30, n_jobs=1),
                                max_rules=3, n_synthetic=200, random_state=0).fit(X, y)
    with pytest.raises(TeacherError, match=r"\['Städte'\] hold text.*pd\.CategoricalDtype\(model\.domain_\['Städte'\]"):
        m.teacher_.predict(X)
    fixed = X.astype({"Städte": pd.CategoricalDtype(m.domain_["Städte"].levels)})
    np.testing.assert_array_equal(m.teacher_.predict(fixed), m.teacher_.predict(m._rule_input(X)))


def test_a_teacher_of_labels_only_is_named_itself_with_the_fix_for_a_hard_vote():
    """A frozen hard vote was called 'FrozenEstimator' in the message, with no word of voting='soft'."""
    from sklearn.ensemble import VotingClassifier

    X, y = _data()
    vote = VotingClassifier([("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=2))])
    for teacher in (vote, FrozenEstimator(clone(vote).fit(X, y))):
        with pytest.raises(TeacherError, match=r"^VotingClassifier has neither predict_proba nor decision_function.*"
                                               r"give it voting='soft'\.$"):
            fit_teacher(teacher, X, y)


def test_an_unfitted_xgboost_teacher_with_early_stopping_says_how_to_give_it_a_validation_set():
    X, y = _data()
    with pytest.raises(TeacherError, match=r"early_stopping_rounds=5, which needs a validation set.*"
                                           r"FrozenEstimator\(model\)"):
        fit_teacher(default_teacher(random_state=0).set_params(early_stopping_rounds=5, n_estimators=20), X, y)


def test_a_teacher_whose_predict_is_not_its_most_probable_class_is_warned_of():
    """A tuned threshold: the students copy the probabilities (teacher_.predict is their argmax), which
    disagree with the estimator's own predict on 16 % of the rows; said, at the caller's line. A teacher
    whose predict follows its probabilities says nothing."""
    import warnings
    from sklearn.model_selection import FixedThresholdClassifier

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = np.where(X.a + 0.5 * X.b + rng.normal(scale=0.7, size=400) > 1.0, "default", "ok")
    tuned = FixedThresholdClassifier(LogisticRegression(), threshold=0.2, pos_label="default")
    for teacher in (tuned, FrozenEstimator(clone(tuned).fit(X, y))):
        with pytest.warns(UserWarning, match=r"FixedThresholdClassifier's own predict disagrees with its class of "
                                             r"highest probability on 15\.8% of 400 training rows") as got:
            t = fit_teacher(teacher, X, y)
        assert [w.filename for w in got if "disagrees" in str(w.message)] == [__file__]
        assert np.mean(t.predict(X) != t.estimator.predict(X)) == pytest.approx(0.1575)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*own predict disagrees")
        fit_teacher(LogisticRegression(), X, y)


def test_soft_targets_sum_to_one_and_flatten_with_temperature():
    X, y = _data(n_classes=3)
    t = fit_teacher(LogisticRegression(), X, y)
    cold = t.soft_targets(X, 0.5)
    warm = t.soft_targets(X, 1.0)
    hot = t.soft_targets(X, 10.0)
    for p in (cold, warm, hot):
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        assert (p >= 0).all()
    np.testing.assert_allclose(warm, t.estimator.predict_proba(X), atol=1e-9)
    # higher temperature: flatter (higher entropy, lower max probability)
    def entropy(p):
        return -(p * np.log(p)).sum(axis=1)
    assert (entropy(hot) >= entropy(warm) - 1e-12).all() and (entropy(warm) >= entropy(cold) - 1e-12).all()
    assert hot.max(axis=1).mean() < warm.max(axis=1).mean() < cold.max(axis=1).mean()
    for bad in (0, -1.0, np.nan):
        with pytest.raises(ValueError):
            t.soft_targets(X, bad)


def test_decision_function_only_model():
    X, y = _data()
    t = fit_teacher(LinearSVC(), X, y)
    assert not hasattr(t.estimator, "predict_proba")
    z = t.logits(X)
    assert z.shape == (len(X), 2)
    np.testing.assert_allclose(z[:, 1] - z[:, 0], t.estimator.decision_function(X))
    assert t.predict(X).tolist() == t.estimator.predict(X).tolist()
    X3, y3 = _data(n_classes=3)
    t3 = fit_teacher(LinearSVC(), X3, y3)
    assert t3.logits(X3).shape == (len(X3), 3)
    assert t3.predict(X3).tolist() == t3.estimator.predict(X3).tolist()


def test_regressors_and_label_only_models_are_rejected():
    X, y = _data()
    with pytest.raises(TeacherError):
        fit_teacher(LinearRegression(), X, y)
    with pytest.raises(TeacherError):
        fit_teacher(xgb.XGBRegressor(n_jobs=1, n_estimators=2), X, y.astype(float))

    class LabelsOnly:
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

        def get_params(self, deep=True):
            return {}

        def set_params(self, **p):
            return self

    with pytest.raises(TeacherError, match="scores"):
        fit_teacher(LabelsOnly(), X, y)
    with pytest.raises(TeacherError):
        as_teacher(LabelsOnly().fit(X, y))


def test_unfitted_or_single_class_teachers_are_rejected():
    X, y = _data()
    with pytest.raises(TeacherError, match="not fitted"):
        as_teacher(LogisticRegression())
    with pytest.raises(TeacherError):
        as_teacher(FrozenEstimator(LogisticRegression()))
    with pytest.raises(TeacherError):
        fit_teacher(xgb.XGBClassifier(n_jobs=1, n_estimators=2), X, np.zeros(len(X)))
    with pytest.raises(TeacherError):
        fit_teacher(DecisionTreeClassifier(), X, np.zeros(len(X)))


def test_torch_teacher_gives_logits():
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self, d_out):
            super().__init__()
            self.lin = torch.nn.Linear(3, d_out)
            with torch.no_grad():
                self.lin.weight.copy_(torch.randn(d_out, 3, generator=gen))
                self.lin.bias.zero_()
            self.drop = torch.nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.lin(x))

    X, _ = _data()
    net = Net(3)
    net.train()
    t = TorchTeacher(net, classes=["a", "b", "c"])
    z = t.logits(X)
    assert z.shape == (len(X), 3) and z.dtype == np.float64
    with torch.no_grad():
        expected = net.lin(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-6)  # dropout off: eval mode
    assert net.training  # mode restored
    np.testing.assert_allclose(t.logits(pd.DataFrame(X, columns=list("uvw"))), z)
    assert set(t.predict(X)) <= {"a", "b", "c"}
    np.testing.assert_allclose(t.soft_targets(X).sum(axis=1), 1.0)

    binary = TorchTeacher(Net(1), classes=[0, 1])
    zb = binary.logits(X)
    assert zb.shape == (len(X), 2) and (zb[:, 0] == 0).all()
    with pytest.raises(TeacherError):
        TorchTeacher(Net(3), classes=[0, 1]).logits(X)
    with pytest.raises(TeacherError, match="TorchTeacher"):
        fit_teacher(Net(2), X, np.zeros(len(X)))
    with pytest.raises(TeacherError, match="TorchTeacher"):
        as_teacher(Net(2))


def test_sklearn_split_thresholds():
    X, y = _data()
    t = fit_teacher(DecisionTreeClassifier(max_depth=2, random_state=0), pd.DataFrame(X, columns=["p", "q", "r"]), y)
    thr = t.split_thresholds()
    assert set(thr) <= {"p", "q", "r"} and thr
    tree = t.estimator.tree_
    assert sorted(np.concatenate(list(thr.values()))) == sorted(tree.threshold[tree.feature >= 0])


def test_split_gains_sum_each_cut_points_gain():
    """scikit-learn: the weighted impurity decrease of every split at a cut point, summed; XGBoost: its
    loss changes. The cut points are those of split_thresholds."""
    X, y = _data()
    frame = pd.DataFrame(X, columns=["p", "q", "r"])
    t = fit_teacher(DecisionTreeClassifier(max_depth=3, random_state=0), frame, y)
    gains = t.split_gains()
    tree = t.estimator.tree_
    expected: dict = {}
    for node in np.flatnonzero(tree.feature >= 0):
        left, right = tree.children_left[node], tree.children_right[node]
        w, imp = tree.weighted_n_node_samples, tree.impurity
        key = ("p", "q", "r")[tree.feature[node]], float(tree.threshold[node])
        expected[key] = expected.get(key, 0.0) + w[node] * imp[node] - w[left] * imp[left] - w[right] * imp[right]
    got = {(k, float(c)): float(g) for k, (cuts, gs) in gains.items() for c, g in zip(cuts, gs)}
    assert got.keys() == expected.keys() and all(np.isclose(got[k], v) for k, v in expected.items())
    assert {k: c.tolist() for k, (c, _) in gains.items()} == {k: v.tolist() for k, v in t.split_thresholds().items()}

    booster = fit_teacher(xgb.XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1), frame, y)
    dump = [json.loads(d) for d in booster._booster.get_dump(dump_format="json", with_stats=True)]
    total: dict = {}

    def walk(node):
        if "split" in node:
            key = node["split"], float(np.float32(node["split_condition"]))
            total[key] = total.get(key, 0.0) + node["gain"]
            for child in node["children"]:
                walk(child)

    for d in dump:
        walk(d)
    got = {(k, float(c)): float(g) for k, (cuts, gs) in booster.split_gains().items() for c, g in zip(cuts, gs)}
    assert got.keys() == total.keys() and all(np.isclose(got[k], v, rtol=1e-5) for k, v in total.items())


def test_split_thresholds_of_bagged_trees_and_of_mixed_ensembles():
    """A bagged tree with max_features indexes its own subset of the columns (its cut points on `big`
    were filed under `small`); a vote with a non-tree member has no complete set of cut points."""
    from sklearn.ensemble import BaggingClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"small": rng.random(400), "big": rng.uniform(1000, 2000, 400)})
    y = (X["big"] > 1500).astype(int)
    bag = fit_teacher(BaggingClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=10, max_features=1,
                                        random_state=0), X, y)
    thr = bag.split_thresholds()
    expected: dict = {}
    for tree, cols in zip(bag.estimator.estimators_, bag.estimator.estimators_features_):
        for f, t in zip(tree.tree_.feature, tree.tree_.threshold):
            if f >= 0:
                expected.setdefault(X.columns[cols[f]], set()).add(float(t))
    assert {k: set(v.tolist()) for k, v in thr.items()} == expected
    assert all(v.min() > 1000 for k, v in thr.items() if k == "big") and "big" in thr
    vote = fit_teacher(VotingClassifier([("t", DecisionTreeClassifier(max_depth=1)), ("l", LogisticRegression())],
                                        voting="soft"), X, y)
    assert vote.split_thresholds() == {}


def test_default_teacher_settings():
    est = default_teacher(random_state=3)
    assert est.get_params()["random_state"] == 3 and est.get_params()["enable_categorical"]
    assert isinstance(clone(est), type(est))


def test_teacher_base_is_abstract():
    with pytest.raises(NotImplementedError):
        Teacher().logits(np.zeros((1, 1)))


def test_meta_estimators_are_not_mistaken_for_frozen_ones():
    """Regression: any ``.estimator`` attribute was unwrapped, but meta-estimators keep an
    unfitted template there: random forests lost their thresholds, a calibrated XGBoost was
    taken for XGBoost, a calibrated pipeline lost its DataFrame input."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = _data()
    rf = fit_teacher(RandomForestClassifier(n_estimators=3, max_depth=2, random_state=0, n_jobs=1), X, y)
    thr = rf.split_thresholds()
    n_splits = sum(int((t.tree_.feature >= 0).sum()) for t in rf.estimator.estimators_)
    assert thr and sum(len(v) for v in thr.values()) <= n_splits

    cal = fit_teacher(CalibratedClassifierCV(xgb.XGBClassifier(n_jobs=1, n_estimators=3), cv=2), X, y)
    assert isinstance(cal, SklearnTeacher)
    np.testing.assert_allclose(cal.proba(X), cal.estimator.predict_proba(X), atol=1e-9)

    df = pd.DataFrame({"a": X[:, 0], "c": np.where(X[:, 1] > 0, "u", "v")})
    pipe = make_pipeline(make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough"),
                         LogisticRegression())
    t = fit_teacher(CalibratedClassifierCV(pipe, cv=2), df, y)
    assert t.uses_frame
    np.testing.assert_allclose(t.proba(df), t.estimator.predict_proba(df), atol=1e-9)


# -- cases a review found (each test failed before its fix) -------------------------------------------
def test_one_vs_one_decision_scores_are_refused_not_read_as_logits():
    from sklearn.svm import SVC

    X, y = _data(n=150, n_classes=3)
    svc = SVC(decision_function_shape="ovo").fit(X, y)  # three pairwise scores: three columns, not logits
    with pytest.raises(TeacherError, match="one-vs-one scores.*decision_function_shape='ovr'"):
        as_teacher(FrozenEstimator(svc)).proba(X)
    # Inside a pipeline or a search, too (read as logits before: 16 % agreement with the pipeline).
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), SVC(decision_function_shape="ovo")).fit(X, y)
    search = GridSearchCV(pipe, {"svc__C": [1.0]}, cv=2).fit(X, y)
    for wrapped in (pipe, search):
        with pytest.raises(TeacherError, match="SVC.decision_function gives 3 columns"):
            as_teacher(FrozenEstimator(wrapped)).proba(X)


def test_nul_in_a_category_level_is_named_for_xgboost():
    from rulekd import DistilledRuleClassifier

    X = pd.DataFrame({"a": [1.0, 3.0, 5.0, 7.0], "b": ["x\x00", "y", "x\x00", "y"]})
    with pytest.raises(TeacherError, match="Column 'b' has levels holding the NUL character"):
        DistilledRuleClassifier(n_synthetic=20, random_state=0).fit(X, [0, 1, 0, 1])


def test_a_bfloat16_torch_teacher_is_read():
    torch = pytest.importorskip("torch")
    from rulekd.teachers import TorchTeacher

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).to(torch.bfloat16)
    t = TorchTeacher(net, classes=[0, 1])
    X = np.random.default_rng(0).normal(size=(5, 3))
    logits = t.logits(X)
    assert logits.shape == (5, 2) and logits.dtype == np.float64 and np.isfinite(logits).all()
    assert np.array_equal(t.predict(X), np.array([0, 1])[logits.argmax(axis=1)])


def test_a_teacher_that_cannot_read_declared_missing_values_is_named():
    from rulekd import Domain, DistilledRuleClassifier

    X, y = _data(n=200)
    X = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    declared = Domain.from_data(X).update("f1", allow_missing=True)
    with pytest.raises(TeacherError, match=r"cannot read missing values.*\['f1'\].*imputer"):
        DistilledRuleClassifier(teacher=LogisticRegression(), domain=declared, n_synthetic=500,
                                random_state=0).fit(X, y)


def test_a_teacher_answering_nan_is_named():
    torch = pytest.importorskip("torch")
    from rulekd import Domain, DistilledRuleClassifier
    from rulekd.teachers import TorchTeacher

    X, y = _data(n=200)
    X = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    net = torch.nn.Linear(X.shape[1], 2).double()  # NaN in, NaN out
    declared = Domain.from_data(X).update("f0", allow_missing=True)
    with pytest.raises(TeacherError, match="answered NaN or infinity on .* rows \\(all with missing values\\)"):
        DistilledRuleClassifier(teacher=TorchTeacher(net, classes=[0, 1]), domain=declared, n_synthetic=500,
                                random_state=0).fit(X, y)


def test_a_frozen_teacher_with_a_class_y_lacks_is_renormalised_with_a_warning():
    from rulekd import DistilledTreeClassifier

    X, y = _data(n=300, n_classes=3)
    teacher = LogisticRegression().fit(X, y)
    keep = y < 2
    with pytest.warns(UserWarning, match=r"also knows the classes \[2\]"):
        m = DistilledTreeClassifier(teacher=FrozenEstimator(teacher), max_leaf_nodes=4, n_synthetic=200,
                                    random_state=0).fit(X[keep], y[keep])
    np.testing.assert_allclose(m.predict_proba(X).sum(axis=1), 1.0)


def test_date_and_time_columns_are_refused_by_name():
    from rulekd import Domain, DistilledTreeClassifier
    from rulekd.exceptions import DomainError

    X = pd.DataFrame({"a": np.arange(20.0), "when": pd.date_range("2020-01-01", periods=20)})
    X.loc[3, "when"] = pd.NaT
    with pytest.raises(DomainError, match="Column 'when' holds datetime64.*convert it to a number"):
        Domain.from_data(X)
    with pytest.raises(ValueError, match="'when'"):
        DistilledTreeClassifier(n_synthetic=20).fit(X, np.arange(20) % 2)


def test_the_students_seed_makes_an_unseeded_teacher_reproducible():
    from sklearn.ensemble import RandomForestClassifier

    from rulekd import DistilledTreeClassifier

    X, y = _data(n=200)
    fits = [DistilledTreeClassifier(teacher=RandomForestClassifier(n_estimators=5), max_leaf_nodes=6,
                                    n_synthetic=300, random_state=0).fit(X, y) for _ in range(2)]
    assert fits[0].rules_ == fits[1].rules_
    assert fits[0].teacher_.estimator.random_state is not None
    unseeded = RandomForestClassifier(n_estimators=5)
    fit_teacher(unseeded, X, y, random_state=0)
    assert unseeded.random_state is None  # the user's object is untouched


def test_integer_column_names_with_a_category_column():
    from rulekd import DistilledTreeClassifier

    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    X = pd.DataFrame({0: a, 1: pd.Categorical(rng.choice(["u", "v"], 200))})
    m = DistilledTreeClassifier(max_leaf_nodes=4, n_synthetic=200, random_state=0).fit(X, (a > 0).astype(int))
    assert m.fidelity_ > 0.8 and len(m.predict(X)) == 200


def test_teachers_that_cannot_be_used_as_given_say_what_to_do():
    X, y = _data()
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, label=y), num_boost_round=2)
    with pytest.raises(TeacherError, match="FrozenEstimator"):
        fit_teacher(booster, X, y)
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    w = np.linspace(0.5, 1.5, len(y))
    with pytest.raises(TeacherError, match="KNeighborsClassifier cannot take sample_weight"):
        fit_teacher(KNeighborsClassifier(), X, y, sample_weight=w)
    pipe = fit_teacher(make_pipeline(StandardScaler(), LogisticRegression()), X, y, sample_weight=w)
    plain = fit_teacher(make_pipeline(StandardScaler(), LogisticRegression()), X, y)
    assert not np.allclose(pipe.proba(X), plain.proba(X))  # the weights reached the last step


def test_a_float64_torch_module_is_fed_its_own_dtype():
    torch = pytest.importorskip("torch")
    X, y = _data()
    module = torch.nn.Linear(3, 2).double()
    with pytest.raises(TeacherError, match="TorchTeacher"):
        as_teacher(FrozenEstimator(module))
    t = TorchTeacher(module, classes=(0, 1))
    expected = module(torch.tensor(X, dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(t.logits(X), expected, rtol=1e-6)


def test_an_integer_column_the_domain_makes_real_is_not_truncated():
    from rulekd import Domain
    from rulekd.transfer import make_transfer_set

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"k": rng.integers(1, 10, 300), "a": rng.normal(size=300)})
    d = Domain.from_data(X).update("k", kind="real", lower=0.5, upper=9.5)

    class T:
        def logits(self, F):
            return np.column_stack([np.zeros(len(F)), F["k"].to_numpy(float)])

    ts = make_transfer_set(X, T(), n_synthetic=1000, domain=d, random_state=0)
    assert d.contains(ts.X[ts.is_synthetic]).all()


def test_the_default_teacher_takes_bool_and_float_category_levels(tmp_path):
    """XGBoost refuses such levels; rulekd gives them to it as text, at fit, at predict and after a reload."""
    import rulekd
    from rulekd import DistilledTreeClassifier

    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    X = pd.DataFrame({"a": a, "flag": pd.Categorical(rng.random(200) < 0.5),
                      "dose": pd.Categorical(rng.choice([0.5, 1.5], 200))})
    y = ((a > 0) ^ (X["flag"] == True)).astype(int)  # noqa: E712 - a categorical of bools
    m = DistilledTreeClassifier(max_leaf_nodes=6, n_synthetic=300, random_state=0).fit(X, y)
    assert m.domain_["flag"].levels == (False, True) and m.fidelity_ > 0.8
    again = rulekd.load(rulekd.save(m, tmp_path / "m"))
    np.testing.assert_array_equal(again.predict_proba(X), m.predict_proba(X))
    np.testing.assert_allclose(again.teacher_.proba(X), m.teacher_.proba(X))


def test_the_default_teacher_takes_mixed_and_nullable_integer_category_levels(tmp_path):
    """Levels 1, 3 and "a" (the category the 'mixes value types' message advises) and Int64 levels (after
    convert_dtypes) crashed inside XGBoost (TypeError: object of type 'int' has no len())."""
    import rulekd
    from rulekd import DistilledRuleClassifier

    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    mixed = pd.Series(rng.choice(np.array([1, "a", 3], dtype=object), 300), dtype=object).astype("category")
    nullable = pd.Series(rng.choice([1, 2, 3], 300), dtype="Int64").astype("category")
    for col, hot in [(mixed, 1), (nullable, 2)]:
        X = pd.DataFrame({"a": a, "c": col})
        y = ((a > 0) ^ (X["c"] == hot).to_numpy()).astype(int)
        m = DistilledRuleClassifier(max_rules=4, n_synthetic=600, random_state=0).fit(X, y)
        assert m.teacher_.predict(X).tolist() == m.teacher_.predict(X.copy()).tolist()
        assert np.mean(m.teacher_.predict(X) == y) > 0.95 and m.fidelity_ > 0.8
        again = rulekd.load(rulekd.save(m, tmp_path / f"m{hot}"))
        np.testing.assert_allclose(again.teacher_.proba(X), m.teacher_.proba(X))


def test_a_numbers_only_teacher_given_category_columns_says_what_to_do():
    """Regression: a scikit-learn tree teacher on German credit failed with numpy's "could not convert string
    to float: '... < 0 DM'"; the message now names the columns and the fix."""
    from sklearn.tree import DecisionTreeClassifier

    from rulekd import DistilledRuleClassifier
    from rulekd.datasets import load_german_credit
    from rulekd.exceptions import TeacherError

    b = load_german_credit()
    with pytest.raises(TeacherError, match=r"could not read the category or text columns \['status'.*OneHotEncoder"):
        DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=3), max_rules=4,
                                n_synthetic=300).fit(b.data.iloc[:200], b.target.iloc[:200])


def test_minus_infinity_logits_are_probability_zero_not_an_error():
    """A log-softmax that underflows gives -inf: a probability of 0 (rule students fitted on it before the
    NaN check; the neural student's loss was NaN). NaN and +inf stay refused."""
    torch = pytest.importorskip("torch")
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier
    from rulekd.teachers import TorchTeacher

    class LogOfSoftmax(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(1, 2).double()
            with torch.no_grad():
                self.lin.weight[:] = torch.tensor([[2000.0], [-2000.0]], dtype=torch.float64)
                self.lin.bias.zero_()

        def forward(self, x):
            return torch.log(torch.softmax(self.lin(x), dim=1))

    X = pd.DataFrame({"a": np.linspace(-1, 1, 200)})
    y = (X.a < 0).astype(int).to_numpy()
    teacher = TorchTeacher(LogOfSoftmax(), classes=[0, 1])
    assert np.isneginf(teacher.logits(X)).any()
    rules = DistilledRuleClassifier(teacher=teacher, max_rules=2, n_synthetic=300, random_state=0).fit(X, y)
    assert rules.fidelity_ == 1.0
    mlp = DistilledMLPClassifier(teacher=teacher, hidden_layer_sizes=(4,), max_epochs=5, n_synthetic=300,
                                 random_state=0).fit(X, y)
    assert np.isfinite(mlp.predict_proba(X)).all()


def test_an_xgboost_teacher_without_enable_categorical_on_category_columns_is_told_the_fix():
    """XGBoost's own error came from inside its DMatrix ("the experimental DMatrix parameter ...")."""
    from xgboost import XGBClassifier

    from rulekd.exceptions import TeacherError

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5, "c": pd.Categorical(["x", "y"] * 10)})
    y = np.array([0, 1] * 10)
    with pytest.raises(TeacherError, match=r"category columns \['c'\]: pass XGBClassifier\(enable_categorical=True"):
        fit_teacher(XGBClassifier(n_estimators=2), X, y)
    assert fit_teacher(XGBClassifier(n_estimators=2, enable_categorical=True), X, y).predict(X).shape == (20,)
    assert fit_teacher(XGBClassifier(n_estimators=2), X[["a"]], y).predict(X[["a"]]).shape == (20,)


# -- teachers fitted elsewhere, and teachers inside other estimators (a review's findings) -----------------
def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.normal(size=n)})
    y = np.where(X["a"] + X["b"] > 0, "good", "bad")
    return X, y


def test_a_frozen_teacher_reads_its_own_columns_in_its_own_order():
    """Columns in another order failed inside scikit-learn / XGBoost; other columns too, with their words."""
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBClassifier

    X, y = _frame()
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    t = as_teacher(FrozenEstimator(forest))
    reordered = X[["c", "a", "b"]]
    np.testing.assert_array_equal(t.proba(reordered), forest.predict_proba(X))
    np.testing.assert_array_equal(t.proba(X.to_numpy()), forest.predict_proba(X))  # an array: by position
    with pytest.raises(TeacherError, match=r"it lacks \['id'\] and needs \['c'\]"):
        t.proba(X[["a", "b"]].assign(id=1.0))
    booster = XGBClassifier(n_estimators=3, n_jobs=1).fit(X, (y == "good").astype(int))
    tx = as_teacher(FrozenEstimator(booster))
    np.testing.assert_allclose(tx.proba(reordered), booster.predict_proba(X), rtol=1e-6)
    with pytest.raises(TeacherError, match=r"needs \['c'\]"):
        tx.proba(X[["a", "b"]])


def test_an_xgboost_teacher_given_the_wrong_number_of_columns_is_refused():
    """29 columns for a 30-column booster were read with the last as missing, silently (0.937 agreement)."""
    from xgboost import XGBClassifier

    X, y = _frame()
    booster = XGBClassifier(n_estimators=3, n_jobs=1).fit(X.to_numpy(), (y == "good").astype(int)).get_booster()
    t = as_teacher(FrozenEstimator(booster))
    with pytest.raises(TeacherError, match="trained on 3 features, the data have 2"):
        t.proba(X.to_numpy()[:, :2])
    with pytest.raises(TeacherError, match="trained on 3 features, the data have 4"):
        t.proba(np.c_[X.to_numpy(), X.to_numpy()[:, :1]])


def test_xgboost_inside_other_estimators_gets_encoded_labels_and_weights_of_mean_one():
    """Text labels failed inside XGBoost under a Pipeline / calibration; weights of 0.001 gave a Pipeline's
    XGBoost a constant teacher (a bare one had its weights divided by their mean)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from xgboost import XGBClassifier

    X, y = _frame(200)
    xgb = XGBClassifier(n_estimators=20, max_depth=2, n_jobs=1)
    for est in (make_pipeline(StandardScaler(), xgb), CalibratedClassifierCV(xgb, cv=2)):
        t = fit_teacher(est, X, y, sample_weight=np.full(len(X), 1e-3))
        assert list(t.classes_) == ["bad", "good"]
        assert np.mean(t.predict(X) == y) > 0.9  # not constant


def test_a_multiclass_objective_on_two_classes_and_a_multi_output_teacher_are_named():
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBClassifier

    X, y = _frame()
    with pytest.raises(TeacherError, match="objective 'multi:softprob' needs three classes or more"):
        fit_teacher(XGBClassifier(objective="multi:softprob", n_estimators=2), X, y)
    two = np.c_[(y == "good").astype(int), (X["c"] > 0).astype(int) * 2]
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.c_[two[:, 0], np.arange(len(X)) % 3])
    with pytest.raises(TeacherError, match="predicts 2 outputs .* distil one output at a time"):
        as_teacher(FrozenEstimator(forest))


def test_sample_weight_reaches_teachers_that_pass_fit_keywords_on():
    """A vote or a search takes sample_weight through **fit_params: it was refused as 'no such parameter'."""
    from sklearn.ensemble import VotingClassifier

    X, y = _frame()
    vote = VotingClassifier([("a", LogisticRegression()), ("b", LogisticRegression(C=0.1))], voting="soft")
    w = np.where(y == "good", 5.0, 1.0)
    weighted = fit_teacher(vote, X, y, sample_weight=w)
    plain = fit_teacher(vote, X, y)
    assert not np.allclose(weighted.proba(X), plain.proba(X))


@pytest.mark.parametrize("kind, said", [("one-vs-rest", "only supported if enable_metadata_routing=True"),
                                         ("search", "fits failed")])
def test_a_meta_estimator_that_cannot_pass_the_weights_on_is_a_teacher_error(kind, said):
    """Its fit takes **fit_params, so the weights go to it, and scikit-learn failed inside in its own words."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _frame()
    teacher = (OneVsRestClassifier(LogisticRegression()) if kind == "one-vs-rest"
               else GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [3, 5]}, cv=2))
    with pytest.raises(TeacherError, match=rf"could not take sample_weight \(.*{said}.*\)\. Fit without "
                                           rf"sample_weight.*set_fit_request\(sample_weight=True\)"):
        fit_teacher(teacher, X, y, sample_weight=np.ones(len(X)))
    fit_teacher(teacher, X, y)  # without weights: fitted


def test_a_torch_teacher_that_returns_probabilities_is_warned_about():
    """Read as logits, a final Sigmoid's outputs in [0, 1] gave class 1 on every row, silently."""
    torch = pytest.importorskip("torch")
    from rulekd.teachers import TorchTeacher

    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    sig = TorchTeacher(torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Sigmoid()), classes=[0, 1])
    with pytest.warns(UserWarning, match=r"look like probabilities.*Drop the module's final Sigmoid"):
        sig.logits(X)
    soft = TorchTeacher(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Softmax(dim=1)), classes=[0, 1, 2])
    with pytest.warns(UserWarning, match="sum to 1 on each row"):
        soft.logits(X)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TorchTeacher(torch.nn.Linear(3, 2), classes=[0, 1]).logits(X)  # logits: no warning
    with pytest.raises(TeacherError, match=r"could not read the data \(2 columns\)"):
        TorchTeacher(torch.nn.Linear(3, 2), classes=[0, 1]).logits(X[:, :2])


def test_labels_that_read_alike_but_differ_in_type_are_told_so():
    """'does not know the classes ['0', '1']; its classes are ['0', '1']' hid the int / text difference."""
    from sklearn.ensemble import RandomForestClassifier

    from rulekd import DistilledRuleClassifier

    X, y = _frame()
    codes = (y == "good").astype(int)
    forest = FrozenEstimator(RandomForestClassifier(n_estimators=3, random_state=0).fit(X, codes))
    with pytest.raises(ValueError, match=r"classes \['0', '1'\]; its classes are \[0, 1\]\. .*differ in type"):
        DistilledRuleClassifier(teacher=forest, max_rules=2, n_synthetic=0).fit(X, codes.astype(str))


def test_a_pipeline_teacher_takes_sample_weight_with_metadata_routing_on():
    """With routing on, Pipeline.fit refused the step__sample_weight rulekd built."""
    import sklearn
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _frame()
    w = np.where(y == "good", 5.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                             LogisticRegression().set_fit_request(sample_weight=True))
        routed = fit_teacher(pipe, X, y, sample_weight=w)
    plain = fit_teacher(make_pipeline(StandardScaler(), LogisticRegression()), X, y, sample_weight=w)
    np.testing.assert_allclose(routed.proba(X), plain.proba(X), rtol=1e-6)
