"""``domain=``: a user's Domain instead of the one inferred from X (missing values, wider bounds, levels)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from xgboost import XGBClassifier

from rulekd import Domain, DistilledMLPClassifier, DistilledRuleClassifier, DistilledTreeClassifier
from rulekd._persist import load, save
from rulekd.hybrid import HybridClassifier
from rulekd.transfer import sample_synthetic
from rulekd.transfer._transfer import DECLARED_MISSING_RATE
from rulekd.verify import verify


def _teacher():
    return XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({
        "age": rng.integers(20, 70, n),
        "income": rng.normal(50, 15, n),
        "job": pd.Categorical(rng.choice(["a", "b", "c"], n)),
    })
    y = ((X.income > 50) ^ (X.job == "c")).astype(int).to_numpy()
    return X, y  # no missing value anywhere


STUDENTS = [
    DistilledRuleClassifier(max_rules=4, n_synthetic=1500),
    DistilledTreeClassifier(max_leaf_nodes=6, n_synthetic=1500),
    DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5, n_synthetic=1500),
]


@pytest.mark.parametrize("student", STUDENTS, ids=lambda s: type(s).__name__)
def test_declared_missing_values_are_learned_and_accepted(data, student):
    X, y = data
    declared = Domain.from_data(X).update("income", allow_missing=True).update("job", allow_missing=True)
    rows = X.iloc[:20].copy()
    rows.loc[rows.index[:10], "income"] = np.nan
    rows.loc[rows.index[5:15], "job"] = np.nan
    inferred = clone(student).set_params(teacher=_teacher(), random_state=0).fit(X, y)
    if hasattr(inferred, "rules_"):  # the neural student imputes; rules refuse what they never learned
        with pytest.raises(ValueError, match="had none during fit"):
            inferred.predict(rows)
    m = clone(student).set_params(teacher=_teacher(), random_state=0, domain=declared).fit(X, y)
    assert m.domain_ == declared
    pred = m.predict(rows)
    proba = m.predict_proba(rows)
    assert np.array_equal(pred, m.classes_[proba.argmax(axis=1)])
    if hasattr(m, "rules_"):
        assert np.array_equal(pred, m.rules_.predict(rows))
    else:  # missing indicators for the declared features
        assert {"income__missing"} <= {e["name"] for e in m.encoding_}


def test_rules_answer_missing_values_as_the_teacher_does(data):
    X, y = data
    # The teacher sends a missing income to the high-income side: rows missing it are class 1 unless job is c.
    teacher = _teacher().fit(X.assign(income=X.income.where(X.income <= 50)), y)
    declared = Domain.from_data(X).update("income", allow_missing=True)
    from sklearn.frozen import FrozenEstimator

    m = DistilledRuleClassifier(teacher=FrozenEstimator(teacher), max_rules=4, n_synthetic=3000, random_state=0,
                                domain=declared).fit(X, y)
    rows = X.assign(income=np.nan)
    assert np.mean(m.predict(rows) == teacher.predict(rows)) > 0.95
    assert "income is missing" in m.rules_.to_text() or "or income is missing" in m.rules_.to_text()


def test_declared_domain_is_reordered_and_proved_over(data):
    X, y = data
    wide = Domain.from_data(X[["job", "income", "age"]]).update("age", lower=18, upper=100)
    m = DistilledRuleClassifier(teacher=_teacher(), max_rules=4, n_synthetic=1000, random_state=0,
                                domain=wide).fit(X, y)
    assert m.domain_.names == ("age", "income", "job")
    assert (m.domain_["age"].lower, m.domain_["age"].upper) == (18.0, 100.0)
    # The verifier reads the declared bounds: no row of X is older than 69, so only the declared Domain
    # holds the counterexample.
    prop = "if age > 80 then 1"
    inferred = DistilledRuleClassifier(teacher=_teacher(), max_rules=4, n_synthetic=1000, random_state=0).fit(X, y)
    assert verify(inferred, properties=[prop], checks="none").ok
    found = verify(m, properties=[prop], checks="none")
    assert not found.ok
    (finding,) = found.findings
    assert 80 < finding.counterexample["age"] <= 100


def test_declared_levels_are_accepted_at_predict(data):
    X, y = data
    declared = Domain.from_data(X).update("job", levels=("a", "b", "c", "d"))
    m = DistilledRuleClassifier(teacher=_teacher(), max_rules=4, n_synthetic=1000, random_state=0,
                                domain=declared).fit(X, y)
    rows = X.iloc[:3].assign(job=pd.Categorical(["d", "d", "a"], categories=["a", "d"]))
    assert np.array_equal(m.predict(rows), m.rules_.predict(rows))
    inferred = DistilledRuleClassifier(teacher=_teacher(), max_rules=4, n_synthetic=1000, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="unseen during fit"):
        inferred.predict(rows)


def test_declared_levels_are_sampled_and_learned_from_the_teacher():
    """A level the declared Domain lists but X lacks was never drawn: the rules answered it by the
    level's place in the category order (1 on every row where the teacher says 1 on half of them)."""
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "c": pd.Categorical(rng.choice(["x", "y"], n))})
    y = ((X.a > 0) | (X.c == "x")).astype(int).to_numpy()
    declared = Domain.from_data(X).update("c", levels=("x", "y", "z"))
    S = sample_synthetic(X, 4000, domain=declared, random_state=0, unseen_level_rate=DECLARED_MISSING_RATE)
    assert 0.03 < (S.c == "z").mean() < 0.07 and declared.contains(S).all()
    assert not (sample_synthetic(X, 4000, domain=declared, random_state=0).c == "z").any()  # rate 0: none
    m = DistilledRuleClassifier(teacher=_teacher(), max_rules=4, n_synthetic=3000, random_state=0,
                                domain=declared).fit(X, y)
    Z = pd.DataFrame({"a": rng.normal(size=1000), "c": pd.Categorical(["z"] * 1000, categories=["x", "y", "z"])})
    assert np.mean(m.predict(Z) == m.teacher_.predict(Z)) > 0.9


def test_synthetic_rows_follow_the_sample_weights():
    """Synthetic rows were drawn from every real row alike, so rows of weight 0 shaped the transfer set
    (a frozen teacher's group the user weighted out taught the rules its own pattern)."""
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"a": rng.uniform(size=n), "b": rng.uniform(size=n), "g": (rng.random(n) < 0.85).astype(int)})
    keep = (X.g == 0).to_numpy()
    S = sample_synthetic(X, 3000, random_state=0, row_weight=keep.astype(float), p_swap=0.0, noise=0.0)
    assert (S.g == 0).all()
    with pytest.raises(ValueError, match="row_weight must be"):
        sample_synthetic(X, 10, row_weight=np.zeros(n))
    y = np.where(X.g == 0, X.a > 0.5, X.b > 0.5).astype(int)
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.frozen import FrozenEstimator

    teacher = FrozenEstimator(RandomForestClassifier(50, random_state=0).fit(X, y))
    m = DistilledRuleClassifier(teacher=teacher, max_rules=1, n_synthetic=2000, random_state=0)
    m.fit(X, y, sample_weight=keep.astype(float))
    assert [c.feature for c in m.rules_.rules[0].conditions] == ["a"]
    assert np.mean(m.predict(X[keep]) == teacher.predict(X[keep])) > 0.97


def test_rows_of_weight_0_are_not_where_missing_values_are_learned_from():
    """With synthetic rows drawn in proportion to the weights, a feature whose missing values only rows of
    weight 0 hold had none in the transfer set: the rules, which accept them, missed the teacher there."""
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = ((X.a > 0) ^ (X.b > 1)).astype(int).to_numpy().copy()
    y[:60] = X.b[:60] > -0.5
    X.loc[:59, "a"] = np.nan
    w = np.r_[np.zeros(60), np.ones(n - 60)]
    m = DistilledTreeClassifier(n_synthetic=3000, random_state=0).fit(X, y, sample_weight=w)
    Z = pd.DataFrame({"a": [np.nan] * 400, "b": rng.normal(size=400)})
    assert np.mean(m.predict(Z) == m.teacher_.predict(Z)) > 0.95
    # the jitter's spread comes from the rows synthetic ones start from (an outlier of weight 0: none)
    X2 = X.iloc[60:].copy()
    X2.iloc[0, 0] = 1e4
    S = sample_synthetic(X2, 3000, random_state=0, row_weight=np.r_[0.0, np.ones(len(X2) - 1)])
    assert S.a.abs().max() < 10


def test_a_teacher_that_cannot_read_a_declared_level_says_so():
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from rulekd.exceptions import TeacherError

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "c": pd.Categorical(rng.choice(["x", "y"], 200))})
    y = ((X.a > 0) | (X.c == "x")).astype(int).to_numpy()
    teacher = make_pipeline(make_column_transformer((OneHotEncoder(), ["c"]), remainder="passthrough"),
                            LogisticRegression())
    declared = Domain.from_data(X).update("c", levels=("x", "y", "z"))
    with pytest.raises(TeacherError, match=r"levels the Domain lists but the training rows lack.*'c': \['z'\].*"
                                           r"handle_unknown='ignore'"):
        DistilledRuleClassifier(teacher=teacher, max_rules=3, n_synthetic=500, domain=declared).fit(X, y)


@pytest.mark.parametrize("edit, match", [
    (lambda d, X: Domain.from_data(X.drop(columns="age")), r"X has columns \['age'\] the Domain lacks"),
    (lambda d, X: Domain.from_data(X.assign(extra=1.0)), r"the Domain has features \['extra'\] X lacks"),
    (lambda d, X: d.update("age", upper=30), r"row\(s\) of X lie outside domain=.*\['age'\]"),
    (lambda d, X: d.update("job", levels=("a", "b")), r"levels \['c'\] that domain= does not list"),
    (lambda d, X: d.update("income", kind="categorical", levels=("x",)), "declares 'income' as categorical"),
])
def test_a_domain_that_does_not_fit_x_is_refused(data, edit, match):
    X, y = data
    bad = edit(Domain.from_data(X), X)
    with pytest.raises(ValueError, match=match):
        DistilledRuleClassifier(teacher=_teacher(), n_synthetic=100, domain=bad).fit(X, y)


def test_unused_categories_beyond_the_declared_levels_are_dropped_quietly(data):
    import warnings

    X, y = data
    X = X.assign(job=pd.Categorical(X.job.astype(str), categories=["a", "b", "c", "z_unused"]))
    declared = Domain.from_data(X).update("job", levels=("a", "b", "c"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas deprecates recoding a dtype that holds unknown categories
        m = DistilledRuleClassifier(teacher=_teacher(), max_rules=3, n_synthetic=300, random_state=0,
                                    domain=declared).fit(X, y)
    assert m.domain_["job"].levels == ("a", "b", "c")


def test_domain_must_be_a_domain(data):
    X, y = data
    with pytest.raises(ValueError, match="'domain' parameter"):
        DistilledRuleClassifier(domain={"age": 1}).fit(X, y)


def test_sampler_draws_missing_values_only_where_declared(data):
    X, _ = data
    inferred = sample_synthetic(X, 4000, domain=Domain.from_data(X), random_state=0)
    assert not inferred.isna().any().any()
    declared = Domain.from_data(X).update("income", allow_missing=True).update("job", allow_missing=True)
    assert not sample_synthetic(X, 4000, domain=declared, random_state=0).isna().any().any()  # missing_rate=0
    S = sample_synthetic(X, 4000, domain=declared, random_state=0, missing_rate=DECLARED_MISSING_RATE)
    assert 0.03 < S.income.isna().mean() < 0.07 and 0.03 < S.job.isna().mean() < 0.07
    assert not S.age.isna().any()
    assert declared.contains(S).all()
    with pytest.raises(ValueError, match="missing_rate must be"):
        sample_synthetic(X, 10, domain=declared, missing_rate=2.0)


def test_an_inferred_domain_draws_the_same_rows_as_before(data):
    """A hybrid's training part can lack a feature's few missing values (heart's thal on one benchmark
    fold): with an inferred Domain the sampler still draws none there, so the benchmarks do not move."""
    X, _ = data
    X = X.copy()
    X.loc[X.index[:3], "income"] = np.nan
    domain = Domain.from_data(X)
    part = X.iloc[3:]  # none of income's missing values
    S = sample_synthetic(part, 2000, domain=domain, random_state=0)
    assert not S.income.isna().any()


def test_hybrid_passes_its_declared_domain_to_its_students_and_keeps_it(data, tmp_path):
    X, y = data
    declared = Domain.from_data(X).update("income", allow_missing=True)
    h = HybridClassifier(teacher=_teacher(), rules=DistilledRuleClassifier(max_rules=4, n_synthetic=300),
                         student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                         n_synthetic=600, random_state=0, domain=declared).fit(X, y)
    assert h.student_.domain_ == declared and h.domain_ == declared
    rows = X.iloc[:30].assign(income=np.nan)
    pred = h.predict(rows)
    assert np.array_equal(pred, h.classes_[h.predict_proba(rows).argmax(axis=1)])
    save(h, tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.domain == declared
    assert np.array_equal(again.predict_proba(rows), h.predict_proba(rows))


def test_hybrid_on_an_array_renames_the_domain_for_its_students(data):
    X, y = data
    A = X[["age", "income"]].to_numpy(dtype=float)
    declared = Domain.from_data(A).update("x1", allow_missing=True)
    h = HybridClassifier(teacher=_teacher(), rules=DistilledRuleClassifier(max_rules=3, n_synthetic=300),
                         student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                         n_synthetic=600, random_state=0, domain=declared).fit(A, y)
    rows = A[:10].copy()
    rows[:, 1] = np.nan
    assert h.predict(rows).shape == (10,)


def test_an_object_array_with_text_names_the_fix(data):
    X, y = data
    with pytest.raises(ValueError, match=r"X is an array holding text .*Pass a pandas DataFrame"):
        DistilledRuleClassifier(teacher=_teacher(), n_synthetic=100).fit(X.to_numpy(dtype=object), y)


def test_a_teacher_that_cannot_read_unused_levels_still_fits_an_inferred_domain():
    """Regression: levels a pandas category kept (rows filtered out) are drawn in synthetic rows since
    session 15; a Pipeline teacher with OneHotEncoder(handle_unknown='error') then failed the fit, which had
    worked. With an inferred Domain the transfer set is drawn without them, with a warning naming the fix."""
    import warnings

    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from rulekd import DistilledRuleClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "c": pd.Categorical(rng.choice(["x", "y"], 200),
                                                                    categories=["x", "y", "z"])})
    y = ((X["a"] > 0) ^ (X["c"] == "y")).astype(int)
    teacher = make_pipeline(ColumnTransformer([("c", OneHotEncoder(), ["c"])], remainder="passthrough"),
                            LogisticRegression())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = DistilledRuleClassifier(teacher=teacher, max_rules=4, n_synthetic=500, random_state=0).fit(X, y)
    texts = [str(w.message) for w in caught]
    assert any("The teacher cannot read levels the training rows lack (the first, 'c': ['z'])" in t for t in texts)
    assert m.predict(X).shape == (200,)
    from rulekd.exceptions import TeacherError

    with pytest.raises(TeacherError, match=r"handle_unknown='ignore'"):  # a declared Domain keeps the error
        DistilledRuleClassifier(teacher=teacher, max_rules=4, n_synthetic=500, random_state=0,
                                domain=Domain.from_data(X)).fit(X, y)
