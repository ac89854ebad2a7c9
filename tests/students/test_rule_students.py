"""Rule students: exactness of the rules, bad input (the scikit-learn checks: tests/test_conformance.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from rulekd import DistilledRuleClassifier, DistilledTreeClassifier, RuleSet

FAST = dict(teacher=DecisionTreeClassifier(max_depth=4, random_state=0), n_synthetic=200, random_state=0)

# The scikit-learn checks of every estimator run in tests/test_conformance.py.


def _mixed_frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.lognormal(10, 1, n),
        "job": pd.Categorical(rng.choice(["clerk", "manager", "none", "trade"], n)),
        "flag": rng.integers(0, 2, n),
    })
    X.loc[rng.random(n) < 0.1, "income"] = np.nan
    X.loc[rng.random(n) < 0.05, "job"] = np.nan
    y = ((X.age < 30) & (X.job != "manager") | (X.income.fillna(0) > 40000)).astype(int).to_numpy()
    return X, y


@pytest.mark.parametrize("make", [
    lambda: DistilledTreeClassifier(max_leaf_nodes=12, n_synthetic=2000, random_state=0),
    lambda: DistilledRuleClassifier(max_rules=6, n_synthetic=2000, random_state=0),
    lambda: DistilledRuleClassifier(max_rules=6, kind="list", n_synthetic=2000, random_state=0),
])
def test_rules_are_the_model_on_mixed_data(make):
    """predict == rules_.predict, JSON reload is bit-exact, categorical levels appear as sets."""
    X, y = _mixed_frame()
    m = make().fit(X, y)
    Xt, _ = _mixed_frame(300, seed=1)
    pred = m.predict(Xt)
    assert np.array_equal(pred, m.rules_.predict(Xt))
    reloaded = RuleSet.from_json(m.rules_.to_json())
    assert reloaded == m.rules_
    assert np.array_equal(reloaded.predict_proba(Xt), m.predict_proba(Xt))
    # rows with missing values get an answer, none is dropped
    assert len(pred) == len(Xt)
    text = m.rules_.to_text()
    assert "job=" not in text  # no one-hot column names
    assert m.fidelity_ > 0.85
    frame = m.get_rules()
    assert list(frame.columns[:3]) == ["id", "rule", "prediction"]
    assert (frame.support >= 0).all() and frame.confidence.between(0, 1).all()


def test_rule_budget_is_respected_and_multiclass_works():
    X, y = make_classification(n_samples=600, n_classes=3, n_informative=5, random_state=0)
    for budget in (2, 5, 9):
        m = DistilledRuleClassifier(teacher=RandomForestClassifier(30, random_state=0), max_rules=budget,
                                    n_synthetic=2000, random_state=0).fit(X, y)
        assert len(m.rules_) <= budget
        assert set(m.predict(X)) <= set(m.classes_)
    assert m.fidelity_ > 0.6
    assert m.predict_proba(X).shape == (600, 3)


def _small_xgb():
    return XGBClassifier(n_estimators=20, max_depth=3, enable_categorical=True, n_jobs=1)


class _SkewedTeacher(ClassifierMixin, BaseEstimator):
    """Says class 1 with probability 0.55 on a striped region, 0.02 elsewhere: hard and soft majorities differ."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        X = np.asarray(X, dtype=float)
        p1 = np.where((X[:, 0] > 0.5) & (np.mod(X[:, 1] * 37, 1) < 0.6), 0.55, 0.02)
        return np.column_stack([1 - p1, p1])

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.mark.parametrize("make", [
    lambda: DistilledTreeClassifier(teacher=_SkewedTeacher(), max_leaf_nodes=2, n_synthetic=300, random_state=0),
    lambda: DistilledRuleClassifier(teacher=_SkewedTeacher(), max_rules=1, max_conditions=1, n_synthetic=300,
                                    random_state=0),
])
def test_predict_proba_puts_the_predicted_class_first(make):
    """A rule whose class wins on the teacher's labels but not on its mean probability still ranks its class first."""
    rng = np.random.RandomState(0)
    X = rng.rand(300, 2)
    y = _SkewedTeacher().fit(X, [0, 1]).predict(X)
    m = make().fit(X, y)
    Xt = np.random.RandomState(1).rand(500, 2)
    pred = m.predict(Xt)
    assert (pred == 1).any()  # the skewed region got a rule of its own
    np.testing.assert_array_equal(m.classes_[m.predict_proba(Xt).argmax(axis=1)], pred)


@pytest.mark.parametrize("make", [
    lambda: DistilledTreeClassifier(teacher=_small_xgb(), max_leaf_nodes=6, n_synthetic=2000, random_state=0),
    lambda: DistilledRuleClassifier(teacher=_small_xgb(), max_rules=3, n_synthetic=2000, random_state=0),
    lambda: DistilledRuleClassifier(teacher=_small_xgb(), max_rules=3, kind="list", n_synthetic=2000,
                                    random_state=0),
])
def test_rule_probabilities_are_the_teachers_mean_over_the_rows_each_rule_answers(make):
    """``proba`` of every rule and of the default is measured on the final rules, after shortening and polish."""
    X, y = _mixed_frame()
    m = make().fit(X, y)
    _, _, _, ts, fit_idx, _ = make()._build_transfer(X, y)
    rows = ts.X.iloc[fit_idx].reset_index(drop=True)
    answer = m.rules_.decide(rows)
    table = m.rules_.proba_table()
    checked = 0
    for j in range(-1, len(m.rules_)):
        sel = answer == j
        if not sel.any():
            continue
        mean = ts.proba[fit_idx][sel].mean(axis=0)
        code = list(m.classes_).index(m.rules_.rules[j].prediction if j >= 0 else m.rules_.default)
        if np.argmax(mean) != code:  # mixed with the rule's class instead (the test above)
            mean = 0.4 * mean + 0.6 * np.eye(len(m.classes_))[code]
        np.testing.assert_allclose(table[j], mean, rtol=0, atol=1e-12)
        checked += 1
    assert checked >= 3


def test_distilled_rules_beat_cart_on_true_labels_in_fidelity():
    """Distillation through the transfer set is more faithful than CART on labels of the same size."""
    X, y = make_classification(n_samples=800, n_features=8, n_informative=6, flip_y=0.1, random_state=3)
    Xtr, Xte, ytr = X[:500], X[500:], y[:500]
    teacher = RandomForestClassifier(200, random_state=0).fit(Xtr, ytr)
    t_pred = teacher.predict(Xte)
    m = DistilledTreeClassifier(teacher=FrozenEstimator(teacher), max_leaf_nodes=8, random_state=0).fit(Xtr, ytr)
    cart = DecisionTreeClassifier(max_leaf_nodes=8, random_state=0).fit(Xtr, ytr)
    assert np.mean(m.predict(Xte) == t_pred) > np.mean(cart.predict(Xte) == t_pred)


def test_frozen_teacher_is_used_as_is_and_plain_teacher_is_cloned():
    X, y = make_classification(n_samples=300, random_state=0)
    plain = RandomForestClassifier(10, random_state=0)
    m = DistilledTreeClassifier(teacher=plain, n_synthetic=500, random_state=0).fit(X, y)
    assert not hasattr(plain, "estimators_")  # the user's object was not fitted
    assert m.teacher_.estimator is not plain
    fitted = RandomForestClassifier(10, random_state=1).fit(X, y)
    before = fitted.predict_proba(X)
    frozen = FrozenEstimator(fitted)
    m = DistilledTreeClassifier(teacher=frozen, n_synthetic=500, random_state=0).fit(X, y)
    assert m.teacher_.estimator is frozen
    np.testing.assert_array_equal(fitted.predict_proba(X), before)


def test_same_random_state_gives_identical_rules():
    X, y = _mixed_frame()
    a = DistilledRuleClassifier(max_rules=5, n_synthetic=1000, random_state=7).fit(X, y)
    b = DistilledRuleClassifier(max_rules=5, n_synthetic=1000, random_state=7).fit(X, y)
    assert a.rules_ == b.rules_


def test_columns_in_another_order_are_realigned_by_name():
    X, y = _mixed_frame()
    m = DistilledTreeClassifier(max_leaf_nodes=6, n_synthetic=500, random_state=0).fit(X, y)
    np.testing.assert_array_equal(m.predict(X[X.columns[::-1]]), m.predict(X))


@pytest.mark.parametrize("case,match", [
    ("wrong_count", "features"),
    ("wrong_names", "feature names"),
    ("unseen_level", "unseen during fit"),
])
def test_bad_input_at_predict_names_the_problem(case, match):
    X, y = _mixed_frame()
    m = DistilledRuleClassifier(max_rules=4, n_synthetic=300, random_state=0).fit(X, y)
    bad = X.copy()
    if case == "wrong_count":
        bad = bad.drop(columns=["flag", "job"]).to_numpy()
    elif case == "wrong_names":
        bad = bad.rename(columns={"flag": "flg"})
    else:
        bad["job"] = bad["job"].cat.add_categories(["astronaut"])
        bad.loc[0, "job"] = "astronaut"
    with pytest.raises(ValueError, match=match):
        m.predict(bad)


@pytest.mark.parametrize("case,match", [
    ("all_nan_column", "entirely missing"),
    ("single_class", "only one class"),
    ("empty", "0 sample"),
    ("inf", "infinity"),
    ("mixed_types", "mixes value types"),
    ("duplicate_columns", "duplicate column"),
])
def test_bad_input_at_fit_names_the_problem(case, match):
    X, y = _mixed_frame(100)
    if case == "all_nan_column":
        X["income"] = np.nan
    elif case == "single_class":
        y = np.zeros_like(y)
    elif case == "empty":
        X, y = X.iloc[:0], y[:0]
    elif case == "inf":
        X["income"] = X["income"].fillna(np.inf)
    elif case == "mixed_types":
        X["job"] = pd.Series(["a", 1] * 50, dtype=object)
    else:
        X.columns = ["age", "age", "job", "flag"]
    with pytest.raises(ValueError, match=match):
        DistilledTreeClassifier(n_synthetic=100, random_state=0).fit(X, y)


def test_string_labels_and_default_xgboost_teacher():
    X, y = _mixed_frame(300)
    labels = np.where(y == 1, "bad", "good")
    m = DistilledRuleClassifier(max_rules=4, n_synthetic=500, random_state=0).fit(X, labels)
    assert set(m.classes_) == {"bad", "good"}
    assert set(np.unique(m.predict(X))) <= {"bad", "good"}
    assert type(m.teacher_.estimator).__name__ == "XGBClassifier"


def test_clone_keeps_parameters():
    m = DistilledRuleClassifier(max_rules=3, kind="list", random_state=1)
    c = clone(m)
    assert c.get_params() == m.get_params()


def test_array_fitted_model_accepts_a_frame_by_position():
    """Regression: a model fitted on an array raised KeyError 'x0' when given a DataFrame."""
    X, y = make_classification(n_samples=300, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    m = DistilledTreeClassifier(max_leaf_nodes=4, **FAST).fit(X, y)
    with pytest.warns(UserWarning, match="feature names"):
        from_frame = m.predict(pd.DataFrame(X, columns=["a", "b", "c"]))
    np.testing.assert_array_equal(from_frame, m.predict(X))


def test_missing_value_where_training_had_none_is_refused_by_name():
    X, y = _mixed_frame()
    m = DistilledRuleClassifier(max_rules=4, n_synthetic=300, random_state=0).fit(X, y)
    bad = X.copy()
    bad.loc[3, "age"] = np.nan  # 'age' had no missing value during fit
    for method in (m.predict, m.predict_proba, m.decided_by):
        with pytest.raises(ValueError, match="'age' has missing values, but it had none during fit"):
            method(bad)
    ok = X.copy()
    ok.loc[3, "income"] = np.nan  # 'income' had missing values: answered
    assert len(m.predict(ok)) == len(ok)


@pytest.mark.parametrize("cls, n_rows, expected", [
    (DistilledTreeClassifier, 300, 10_000),  # ten per real row, at least 10,000 ...
    (DistilledRuleClassifier, 300, 40_000),  # ... 40,000 for the rule search
    (DistilledRuleClassifier, 4_500, 45_000),
    (DistilledRuleClassifier, 7_000, 60_000),  # at most 60,000
])
def test_auto_transfer_set_size(monkeypatch, cls, n_rows, expected):
    """``n_synthetic="auto"`` asks the transfer set for the documented number of rows (the spy
    then builds a small one, so that the fit stays quick)."""
    from rulekd.students import _base

    asked = []
    real = _base.make_transfer_set

    def spy(frame, teacher, *, n_synthetic, **kw):
        asked.append(n_synthetic)
        return real(frame, teacher, n_synthetic=50, **kw)

    monkeypatch.setattr(_base, "make_transfer_set", spy)
    X, y = make_classification(n_samples=n_rows, n_features=4, random_state=0)
    cls(teacher=DecisionTreeClassifier(max_depth=2, random_state=0), random_state=0).fit(X, y)
    assert asked == [expected]


@pytest.mark.parametrize("kind, polish, n_classes", [("set", True, 2), ("list", True, 2), ("set", False, 3)])
def test_max_conditions_bounds_every_rule(kind, polish, n_classes):
    """No rule is longer than max_conditions, where the unlimited student writes longer ones."""
    X, y = make_classification(n_samples=600, n_features=8, n_informative=6, n_classes=n_classes,
                               random_state=1)
    kw = dict(teacher=RandomForestClassifier(50, random_state=0), max_rules=8, kind=kind, polish=polish,
              n_synthetic=3000, random_state=0)
    free = DistilledRuleClassifier(**kw).fit(X, y)
    assert max(len(r.conditions) for r in free.rules_.rules) > 2  # the limit below bites
    short = DistilledRuleClassifier(max_conditions=2, **kw).fit(X, y)
    assert 0 < len(short.rules_) <= 8
    assert max(len(r.conditions) for r in short.rules_.rules) <= 2
    assert np.array_equal(short.predict(X), short.rules_.predict(X))
    # shorter rules agree less with the teacher, but still far above chance
    assert 1 / n_classes + 0.2 < short.fidelity_ <= free.fidelity_ + 0.02


def test_max_conditions_is_validated():
    X, y = make_classification(n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="max_conditions"):
        DistilledRuleClassifier(max_conditions=0, **FAST).fit(X, y)


def test_a_level_set_on_a_numeric_feature_is_kept_as_given():
    """Tidying rewrites level sets against a categorical feature's levels; a numeric feature has none."""
    from rulekd.rules import Condition

    X, y = _mixed_frame()
    m = DistilledTreeClassifier(max_leaf_nodes=4, n_synthetic=300, random_state=0).fit(X, y)
    c = Condition("age", "in", frozenset([20.0, 21.0]))
    assert m._tidy_condition(c) == c  # was rewritten to "age not in {}": every present value


def test_negative_sample_weights_are_refused():
    """Regression: sample_weight=-1 everywhere gave fidelity_ -0.0 and a single rule."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match="[Nn]egative"):
        DistilledTreeClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), n_synthetic=200,
                                random_state=0).fit(X, y, sample_weight=-np.ones(200))


def test_integer_column_names_are_realigned_by_name():
    """Regression: a frame with integer column names (which scikit-learn does not record) was matched by
    position at predict, so the columns in another order gave other answers (47 % agreement)."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({0: rng.normal(size=300), 1: rng.normal(size=300)})
    y = (X[0] > 0).astype(int)
    m = DistilledTreeClassifier(teacher=DecisionTreeClassifier(max_depth=3), n_synthetic=500, random_state=0).fit(X, y)
    assert m.predict(X).tolist() == m.predict(X[[1, 0]]).tolist()
    # An array-fitted model still matches a frame's columns by position, as scikit-learn does, unless
    # they are the rules' own names in another order (rules_ would read them by name): refused.
    a = DistilledTreeClassifier(teacher=DecisionTreeClassifier(max_depth=3), n_synthetic=500,
                                random_state=0).fit(X.to_numpy(), y)
    other = pd.DataFrame(X.to_numpy()[:, ::-1], columns=["p", "q"])
    assert a.predict(other).tolist() == a.predict(X.to_numpy()[:, ::-1]).tolist()
    swapped = pd.DataFrame(X.to_numpy()[:, ::-1], columns=["x1", "x0"])
    with pytest.raises(ValueError, match="in another order, but the model was fitted on an array"):
        a.predict(swapped)


def test_an_object_array_of_a_frame_fitted_models_rows_is_read_by_position():
    """Regression: predict(X.to_numpy()) on a model fitted on a frame with text levels raised numpy's
    "could not convert string to float: '... < 0 DM'"."""
    from rulekd.datasets import load_german_credit

    b = load_german_credit()
    X, y = b.data.iloc[:300], b.target.iloc[:300]
    teacher = XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1, enable_categorical=True)
    m = DistilledRuleClassifier(teacher=teacher, max_rules=4, n_synthetic=300, random_state=0).fit(X, y)
    assert m.predict(X.to_numpy()).tolist() == m.predict(X).tolist()
    assert m.predict(X.to_numpy().tolist()).tolist() == m.predict(X).tolist()  # a list of rows too (it was refused)
    A = X.to_numpy()[:3]
    A[0, 0] = "spaceship"
    with pytest.raises(ValueError, match="levels unseen during fit"):
        m.predict(A)


@pytest.mark.parametrize("dtype", ["int64", "Int64"])
def test_integers_beyond_2_53_are_compared_exactly_at_predict(dtype):
    """predict read int64 ids beyond 2**53 as float64 (rounded), so the model and its own rules_, Python
    and SQL exports disagreed one past the threshold."""
    rng = np.random.RandomState(0)
    v = 10**17 + rng.randint(0, 10**12, size=300).astype(np.int64) * 1000
    X, y = pd.DataFrame({"v": v}), (v > 10**17 + 5 * 10**14).astype(int)
    m = DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=1), max_rules=1, n_synthetic=300,
                                random_state=0).fit(X, y)
    t = int(m.rules_.rules[0].conditions[0].value)
    P = pd.DataFrame({"v": pd.array([t, t + 1], dtype=dtype)})
    ns: dict = {}
    exec(m.rules_.to_python(), ns)
    expected = [ns["predict"]({"v": t}), ns["predict"]({"v": t + 1})]
    assert expected[0] != expected[1]  # the threshold lies between them, exactly
    assert m.predict(P).tolist() == m.rules_.predict(P).tolist() == expected
    assert m.decided_by(P).tolist() == m.rules_.decided_by(P).tolist()


def test_numpy_scalars_in_an_object_column_are_their_python_kind():
    """'x' beside np.str_('y') was refused as mixing 'str' and 'str_'; ints beside floats are told to use
    pd.to_numeric (the message advised turning numbers into text)."""
    rng = np.random.default_rng(0)
    a = rng.random(100)
    y = (a > 0.5).astype(int)
    text = pd.Series(["x" if i % 2 else np.str_("y") for i in range(100)], dtype=object)
    m = DistilledRuleClassifier(max_rules=2, n_synthetic=200, random_state=0).fit(pd.DataFrame({"a": a, "c": text}), y)
    assert m.domain_["c"].levels == ("x", "y")
    numbers = pd.Series([1 if i % 2 else 2.5 for i in range(100)], dtype=object)
    with pytest.raises(ValueError, match=r"'c' holds numbers in an object column .*pd\.to_numeric\(X\['c'\]\)"):
        DistilledRuleClassifier(max_rules=2, n_synthetic=200).fit(pd.DataFrame({"a": a, "c": numbers}), y)


def test_numbers_where_the_levels_are_text_are_told_to_become_text():
    """pd.read_csv gave ints for a column whose levels were text at fit ('0'..'3' and '?'): the message
    listed 'unseen' levels that printed exactly like known ones."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(200), "ca": rng.choice(["0", "1", "2", "?"], 200)})
    m = DistilledRuleClassifier(max_rules=2, n_synthetic=200, random_state=0).fit(X, (X.a > 0.5).astype(int))
    numbers = X[X.ca != "?"].assign(ca=lambda F: F.ca.astype(int))  # as pd.read_csv gives them back
    with pytest.raises(ValueError, match=r"numbers where the model's levels are text.*X\['ca'\]\.astype\(str\)"):
        m.predict(numbers)
    np.testing.assert_array_equal(m.predict(numbers.astype({"ca": str})), m.predict(X[X.ca != "?"]))


def test_a_frame_with_integer_column_names_keeps_the_teachers_cuts():
    """Such a frame reaches the teacher as an array, whose cuts are named x0, x1, ...: the tree student
    found none under the names '0', '1', ... and lost the thresholds it snaps to."""
    X, y = make_classification(n_samples=200, n_features=3, n_informative=3, n_redundant=0, random_state=0)
    kw = dict(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), max_leaf_nodes=4, n_synthetic=200,
              random_state=0)
    arr = DistilledTreeClassifier(**kw).fit(X, y)
    frame = DistilledTreeClassifier(**kw).fit(pd.DataFrame(X), y)
    assert arr._cuts_ and {j: c.tolist() for j, c in frame._cuts_.items()} == {j: c.tolist() for j, c in
                                                                                arr._cuts_.items()}
    np.testing.assert_array_equal(frame.predict(pd.DataFrame(X)), arr.predict(X))
