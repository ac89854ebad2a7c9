"""scikit-learn conformance of every public rulekd estimator, found by walking the package.

One table gives each estimator its fast settings and each expected failure of
``parametrize_with_checks`` its reason; an estimator added to rulekd without a
row here fails :func:`test_every_public_estimator_has_fast_settings`. Besides
the common checks: nested parameters under ``GridSearchCV``, ``clone``,
pickling, ``set_output`` (where it applies) and ``sample_weight`` (accepted by
every ``fit`` and honoured).
"""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks
from xgboost import XGBClassifier

import rulekd

pytest.importorskip("torch")


def _public_estimators() -> list[type]:
    """BaseEstimator subclasses named in ``__all__`` of rulekd and of its public subpackages."""
    found: dict[str, type] = {}
    modules = [rulekd]
    for info in pkgutil.walk_packages(rulekd.__path__, prefix="rulekd."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]):  # private modules, __main__
            continue
        modules.append(importlib.import_module(info.name))
    for module in modules:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not inspect.isabstract(obj):
                found[obj.__name__] = obj
    return [found[k] for k in sorted(found)]


def _xgb(**kw):
    return XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1, **kw)


def _tree_teacher():
    return DecisionTreeClassifier(max_depth=4, random_state=0)


# Fast settings of every public estimator: one or more configurations each.
FAST = {
    "DistilledTreeClassifier": [
        lambda: rulekd.DistilledTreeClassifier(teacher=_tree_teacher(), max_leaf_nodes=8, n_synthetic=200,
                                               random_state=0),
    ],
    "DistilledRuleClassifier": [
        lambda: rulekd.DistilledRuleClassifier(teacher=_tree_teacher(), max_rules=6, n_synthetic=200,
                                               random_state=0),
        lambda: rulekd.DistilledRuleClassifier(teacher=_tree_teacher(), max_rules=6, kind="list", n_synthetic=200,
                                               random_state=0),
    ],
    "DistilledMLPClassifier": [
        lambda: rulekd.DistilledMLPClassifier(teacher=_tree_teacher(), hidden_layer_sizes=(8,), n_synthetic=40,
                                              max_epochs=5, random_state=0),
    ],
    "HybridClassifier": [
        lambda: rulekd.HybridClassifier(
            teacher=_xgb(),
            rules=rulekd.DistilledRuleClassifier(max_rules=4, n_synthetic=0, refine=False, improve=False),
            student=rulekd.DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=10, n_synthetic=0),
            n_synthetic=0, random_state=0,
        ),
    ],
}

# Checks expected to fail, per estimator, each with the reason.
EXPECTED_FAILURES = {
    "DistilledTreeClassifier": {},
    "DistilledRuleClassifier": {},
    "DistilledMLPClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Weights act on the teacher and on each row's losses, but the transfer set's synthetic rows and "
            "the random split into training and validation rows differ between a weighted and a duplicated "
            "data set, so the two fits differ (sample_weight is honoured: see "
            "test_sample_weight_changes_the_fit)."
        ),
    },
    "HybridClassifier": {
        "check_sample_weight_equivalence_on_dense_data": (
            "Weights reach the teacher, both students and the choice of rules, but the random split into "
            "training and validation rows differs between a weighted and a duplicated data set (sample_weight "
            "is honoured: see test_sample_weight_changes_the_fit)."
        ),
    },
}

ESTIMATORS = _public_estimators()


def test_every_public_estimator_has_fast_settings():
    names = [cls.__name__ for cls in ESTIMATORS]
    assert names == sorted(FAST), "add fast settings (and expected failures) for each public estimator"
    assert sorted(EXPECTED_FAILURES) == sorted(FAST)
    assert {"DistilledTreeClassifier", "DistilledRuleClassifier", "DistilledMLPClassifier",
            "HybridClassifier"} <= set(names)
    for name, makers in FAST.items():
        assert all(type(make()).__name__ == name for make in makers)


@parametrize_with_checks(
    [make() for name in sorted(FAST) for make in FAST[name]],
    expected_failed_checks=lambda est: EXPECTED_FAILURES[type(est).__name__],
)
def test_sklearn_checks(estimator, check):
    check(estimator)


# -- beyond the common checks ---------------------------------------------------------------------
def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.integers(0, 10, n).astype(float),
        "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
    })
    y = ((X["a"] + (X["c"] == "x")) > 0.3).astype(int).to_numpy()
    return X, y


def _fast(name, **params):
    est = FAST[name][0]()
    if "teacher" in est.get_params():
        est.set_params(teacher=_xgb(enable_categorical=True))
    return est.set_params(**params)


def test_nested_parameters_tune_the_hybrid_with_grid_search():
    X, y = _data()
    grid = {"teacher__max_depth": [1, 2], "student__hidden_layer_sizes": [(2,), (3,)]}
    search = GridSearchCV(_fast("HybridClassifier"), grid, cv=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_
    assert best.teacher_.estimator.max_depth == search.best_params_["teacher__max_depth"]
    assert tuple(best.student_.hidden_layer_sizes) == search.best_params_["student__hidden_layer_sizes"]
    assert best.student_.weights()[0][0].shape[1] == search.best_params_["student__hidden_layer_sizes"][0]


@pytest.mark.parametrize("name", ["DistilledTreeClassifier", "DistilledRuleClassifier", "DistilledMLPClassifier"])
def test_nested_teacher_parameters_tune_the_students_with_grid_search(name):
    X, y = _data()
    search = GridSearchCV(_fast(name), {"teacher__max_depth": [1, 3]}, cv=2, error_score="raise").fit(X, y)
    assert search.best_estimator_.teacher_.estimator.max_depth == search.best_params_["teacher__max_depth"]
    assert search.best_estimator_.get_params()["teacher__max_depth"] == search.best_params_["teacher__max_depth"]


@pytest.mark.parametrize("name", sorted(FAST))
def test_clone_and_pickle_keep_parameters_and_predictions(name):
    X, y = _data()
    est = _fast(name)
    twin = clone(est)
    assert twin is not est and repr(twin.get_params()) == repr(est.get_params())
    est.fit(X, y)
    assert not hasattr(clone(est), "classes_")  # clone gives an unfitted copy
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


@pytest.mark.parametrize("name", sorted(FAST))
def test_a_refit_that_fails_leaves_no_half_refitted_model(name):
    """A student's failed refit kept the new classes_ / columns beside the old model: an MLP answered its old
    labels under the new names, a rule student's predict_proba had a column fewer than classes_."""
    from sklearn.exceptions import NotFittedError

    X, y = _data()
    est = _fast(name).fit(X, y)
    labels = np.where(y == 1, "yes", "no")
    with pytest.raises(ValueError):
        est.fit(X, labels[:-1])  # one label short
    with pytest.raises(NotFittedError):
        est.predict(X)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]
    est.fit(X.iloc[:, :2], labels)  # and it fits again from scratch
    assert set(est.predict(X.iloc[:, :2])) <= {"no", "yes"} and est.n_features_in_ == 2


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_set_output_exists_exactly_where_there_is_a_transform(cls):
    """``set_output`` applies to transformers; rulekd's estimators are classifiers without ``transform``."""
    est = FAST[cls.__name__][0]()
    assert hasattr(est, "set_output") == hasattr(est, "transform")
    if hasattr(est, "set_output"):  # pragma: no cover - no rulekd transformer yet
        X, y = _data()
        out = est.set_output(transform="pandas").fit(X, y).transform(X)
        assert isinstance(out, pd.DataFrame)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_fit_accepts_sample_weight(cls):
    assert "sample_weight" in inspect.signature(cls.fit).parameters


def _conflicting(n=80, seed=0):
    """Two halves with opposite labels for the same inputs: the weights decide which one the model learns."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-1, 1, n)
    X = pd.DataFrame({"a": np.concatenate([a, a]), "b": np.concatenate([a[::-1], a[::-1]])})
    up = (a > 0).astype(int)
    y = np.concatenate([up, 1 - up])
    first = np.r_[np.full(n, 20.0), np.ones(n)]
    return X, y, first, first[::-1].copy(), up


@pytest.mark.parametrize("name", sorted(FAST))
def test_sample_weight_changes_the_fit(name):
    """Weights are honoured: the heavier of two contradicting halves decides what the model predicts."""
    X, y, w_first, w_second, up = _conflicting()
    params = {"student__max_epochs": 30} if name == "HybridClassifier" else (
        {"max_epochs": 30} if name == "DistilledMLPClassifier" else {})
    first = _fast(name, **params).fit(X, y, sample_weight=w_first)
    second = _fast(name, **params).fit(X, y, sample_weight=w_second)
    half = X.iloc[: len(up)]
    assert np.mean(first.predict(half) == up) > 0.8
    assert np.mean(second.predict(half) == 1 - up) > 0.8
