"""Synthetic rows stay inside the Domain; the transfer set is labelled by the teacher."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from rulekd.domain import Domain, FeatureSpec
from rulekd.exceptions import DomainError
from rulekd.teachers import fit_teacher
from rulekd.transfer import STRATEGIES, make_transfer_set, sample_synthetic
from rulekd.transfer._transfer import correlated_groups


@st.composite
def small_frames(draw):
    n = draw(st.integers(1, 12))
    kinds = draw(st.lists(st.sampled_from(["real", "int", "bin", "cat", "obj", "bool"]), min_size=1, max_size=5))
    cols = {}
    for i, kind in enumerate(kinds):
        nan = draw(st.booleans())
        if kind == "real":
            v = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n))
        elif kind == "int":
            v = [float(x) for x in draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n))]
        elif kind == "bin":
            v = [float(x) for x in draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))]
        elif kind == "bool":
            cols[f"c{i}"] = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            continue
        else:
            levels = draw(st.lists(st.text(max_size=3), min_size=1, max_size=4, unique=True))
            v = [draw(st.sampled_from(levels)) for _ in range(n)]
            if nan and n > 1:
                v[draw(st.integers(0, n - 1))] = None
            if all(x is None for x in v):
                v[0] = levels[0]
            cols[f"c{i}"] = pd.Categorical(v, categories=levels) if kind == "cat" else np.array(v, dtype=object)
            continue
        if nan and n > 1:
            v[draw(st.integers(0, n - 1))] = np.nan
        cols[f"c{i}"] = v
    return pd.DataFrame(cols)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=small_frames(), strategy=st.sampled_from(STRATEGIES), n=st.integers(0, 40), seed=st.integers(0, 2**16),
       p_swap=st.floats(0, 1), noise=st.floats(0, 3))
def test_synthetic_rows_stay_inside_the_inferred_domain(X, strategy, n, seed, p_swap, noise):
    domain = Domain.from_data(X)
    S = sample_synthetic(X, n, strategy=strategy, random_state=seed, p_swap=p_swap, noise=noise)
    assert len(S) == n and list(S.columns) == list(domain.names)
    assert domain.contains(S).all()
    again = sample_synthetic(X, n, strategy=strategy, random_state=seed, p_swap=p_swap, noise=noise)
    pd.testing.assert_frame_equal(S, again)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=small_frames(), strategy=st.sampled_from(STRATEGIES), seed=st.integers(0, 2**16))
def test_synthetic_rows_stay_inside_a_narrower_domain(X, strategy, seed):
    """Regression: a user Domain without missing values or with narrower bounds was left."""
    domain = Domain.from_data(X)
    for f in domain:
        if f.kind == "categorical":
            domain = domain.update(f.name, allow_missing=False, levels=f.levels[:1] + ("brand new",))
        elif f.kind in ("real", "integer"):
            mid = np.floor((f.lower + f.upper) / 2)
            domain = domain.update(f.name, allow_missing=False, lower=mid, upper=mid + 1)
        else:
            domain = domain.update(f.name, allow_missing=False, lower=f.upper)
    S = sample_synthetic(X, 30, strategy=strategy, domain=domain, random_state=seed)
    assert domain.contains(S).all()


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "income": rng.lognormal(10, 1, n),
            "a": 0.0, "b": 0.0, "c": 0.0,
            "job": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "city": np.array(rng.choice(["Köln", "Wien"], n), dtype=object),
        }
    )
    pick = rng.integers(0, 3, n)
    for k, name in enumerate("abc"):
        X[name] = (pick == k).astype(float)
    X.loc[X.index[::7], "income"] = np.nan
    return X


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_respects_onehot_groups_and_constraints(strategy):
    X = _frame()
    domain = Domain.from_data(X).with_onehot_group(["a", "b", "c"]).with_constraint({"age": 1.0}, ">=", 30.0)
    S = sample_synthetic(X, 300, strategy=strategy, domain=domain, random_state=0)
    assert len(S) == 300 and domain.contains(S).all()
    assert (S[["a", "b", "c"]].sum(axis=1) == 1).all()
    with pytest.raises(DomainError):
        sample_synthetic(X, 5, strategy=strategy, random_state=0,
                         domain=domain.with_constraint({"age": 1.0}, ">=", 1000.0))


def test_marginal_draws_each_column_from_its_marginal():
    X = _frame()
    S = sample_synthetic(X, 2000, strategy="marginal", random_state=1)
    assert set(S["age"].dropna()) <= set(X["age"])
    assert set(S["job"].dropna()) <= set(X["job"].dropna())
    assert S["income"].isna().mean() == pytest.approx(X["income"].isna().mean(), abs=0.05)
    # independent columns: the one-hot structure of a, b, c is not kept by "marginal" alone
    assert (S[["a", "b", "c"]].sum(axis=1) != 1).any()


def test_perturb_stays_near_the_data():
    X = _frame()
    S = sample_synthetic(X, 2000, strategy="perturb", random_state=1, p_swap=0.0, noise=0.0)
    # no swaps and no noise: every synthetic row is a real row
    real = {tuple(r) for r in X.astype(str).itertuples(index=False)}
    assert all(tuple(r) in real for r in S[X.columns].astype(str).itertuples(index=False))
    J = sample_synthetic(X, 2000, strategy="perturb", random_state=1, p_swap=0.0, noise=0.1)
    assert not np.array_equal(J["income"].to_numpy(), S["income"].to_numpy(), equal_nan=True)
    assert (J["age"] == np.round(J["age"])).all()  # integer feature stays integer


def _correlated_frame(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    radius = rng.uniform(5, 30, n)
    return pd.DataFrame({
        "radius": radius,
        "area": np.pi * radius ** 2,  # monotone in radius: Spearman 1
        "perimeter": 2 * np.pi * radius + rng.normal(0, 0.5, n),
        "texture": rng.uniform(10, 40, n),  # independent of the others
        "grade": pd.Categorical(rng.choice(["low", "high"], n)),
        "const": np.ones(n),
    })


def test_correlated_groups_join_strongly_correlated_numeric_features():
    X = _correlated_frame()
    domain = Domain.from_data(X)
    assert correlated_groups(X, domain) == [["radius", "area", "perimeter"]]
    assert correlated_groups(X, domain, threshold=1.01) == []
    # joined transitively: a~b and b~c make one group even when a and c are further apart
    t = np.linspace(0, 1, 200)
    Y = pd.DataFrame({"a": t, "b": t + 0.2 * np.sin(40 * t), "c": t + 0.4 * np.sin(40 * t)})
    C = Y.corr(method="spearman").abs()
    assert C.loc["a", "c"] < 0.9 <= min(C.loc["a", "b"], C.loc["b", "c"])
    assert correlated_groups(Y, Domain.from_data(Y), threshold=0.9) == [["a", "b", "c"]]
    # missing values are left out pair by pair
    Z = X.copy()
    Z.loc[:50, "area"] = np.nan
    assert correlated_groups(Z, Domain.from_data(Z)) == [["radius", "area", "perimeter"]]


def test_perturb_swaps_correlated_features_together():
    X = _correlated_frame()
    S = sample_synthetic(X, 3000, strategy="perturb", random_state=0, noise=0.0)
    # each synthetic row takes radius and area from one real row: area is still pi r^2 ...
    np.testing.assert_allclose(S["area"], np.pi * S["radius"] ** 2)
    # ... while texture, not correlated, is swapped on its own: many rows pair one real row's
    # radius with another's texture
    pairs = set(zip(X["radius"], X["texture"]))
    assert sum((r, t) not in pairs for r, t in zip(S["radius"], S["texture"])) > 300
    # "marginal" still draws every feature on its own
    M = sample_synthetic(X, 3000, strategy="marginal", random_state=0)
    assert not np.allclose(M["area"], np.pi * M["radius"] ** 2)


def test_mixed_is_half_marginal_half_perturb():
    X = _frame()
    M = sample_synthetic(X, 11, strategy="mixed", random_state=5)
    rng = np.random.default_rng(5)
    a = sample_synthetic(X, 5, strategy="marginal", random_state=rng)
    b = sample_synthetic(X, 6, strategy="perturb", random_state=rng)
    pd.testing.assert_frame_equal(M, pd.concat([a, b], ignore_index=True))


def test_determinism_and_seed_sensitivity():
    X = _frame()
    for strategy in STRATEGIES:
        a = sample_synthetic(X, 50, strategy=strategy, random_state=42)
        b = sample_synthetic(X, 50, strategy=strategy, random_state=42)
        c = sample_synthetic(X, 50, strategy=strategy, random_state=43)
        pd.testing.assert_frame_equal(a, b)
        assert not a.equals(c)
        g1 = sample_synthetic(X, 50, strategy=strategy, random_state=np.random.default_rng(7))
        g2 = sample_synthetic(X, 50, strategy=strategy, random_state=np.random.default_rng(7))
        pd.testing.assert_frame_equal(g1, g2)


def test_sample_synthetic_errors():
    X = _frame()
    with pytest.raises(ValueError, match="strategy"):
        sample_synthetic(X, 5, strategy="gan")
    with pytest.raises(ValueError):
        sample_synthetic(X, -1)
    with pytest.raises(ValueError):
        sample_synthetic(X.iloc[:0], 5)
    with pytest.raises(ValueError, match="zzz"):
        sample_synthetic(X, 5, domain=Domain((FeatureSpec("zzz", "real"),)))


def test_integer_column_names():
    """Regression: non-string column names raised KeyError (the Domain names columns by str)."""
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 2)))
    S = sample_synthetic(X, 10, random_state=0)
    assert list(S.columns) == ["0", "1"] and Domain.from_data(X).contains(S).all()


def test_make_transfer_set_labels_with_the_teacher():
    X = _frame().drop(columns=["city"])
    y = (X["age"] > 50).to_numpy().astype(int)
    Xn = X.assign(job=X["job"].cat.codes.astype(float), income=X["income"].fillna(0.0))
    teacher = fit_teacher(LogisticRegression(max_iter=500), Xn, y)

    class OnCodes:
        def logits(self, frame):
            f = frame.assign(job=frame["job"].cat.codes.astype(float), income=frame["income"].fillna(0.0))
            return teacher.logits(f[Xn.columns])

    ts = make_transfer_set(X, OnCodes(), n_synthetic=50, random_state=0)
    assert len(ts) == len(X) + 50
    assert ts.is_synthetic.tolist() == [False] * len(X) + [True] * 50
    pd.testing.assert_frame_equal(ts.X.iloc[: len(X)].reset_index(drop=True), X.reset_index(drop=True),
                                  check_dtype=False)
    assert isinstance(ts.X["job"].dtype, pd.CategoricalDtype)
    np.testing.assert_allclose(ts.proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ts.logits, OnCodes().logits(ts.X))
    codes = ts.X.assign(job=ts.X["job"].cat.codes.astype(float), income=ts.X["income"].fillna(0.0))[Xn.columns]
    np.testing.assert_allclose(ts.proba, teacher.proba(codes), atol=1e-12)
    assert ts.labels_index.tolist() == np.argmax(ts.logits, axis=1).tolist()
    only = make_transfer_set(X, OnCodes(), n_synthetic=20, include_real=False, random_state=0)
    assert len(only) == 20 and only.is_synthetic.all()
    with pytest.raises(ValueError):
        make_transfer_set(X, OnCodes(), n_synthetic=0, include_real=False)


def test_transfer_set_keeps_the_real_dtypes():
    """Regression: bool + float synthetic rows made an object column that XGBoost refused."""
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "flag": rng.random(80) > 0.5,
            "x": rng.normal(size=80),
            "n": pd.array(rng.integers(0, 4, 80), dtype="Int64"),
            "k": rng.integers(0, 9, 80),
            "job": pd.Categorical(rng.choice(["a", "b"], 80)),
        }
    )
    X.loc[3, "n"] = None
    y = (X["flag"] ^ (X["x"] > 0)).astype(int).to_numpy()
    teacher = fit_teacher(xgb.XGBClassifier(n_jobs=1, n_estimators=5, enable_categorical=True), X, y)
    ts = make_transfer_set(X, teacher, n_synthetic=40, random_state=0)
    assert ts.X.dtypes.to_dict() == X.dtypes.to_dict()
    assert Domain.from_data(X).contains(ts.X).all()
    np.testing.assert_allclose(ts.proba, teacher.proba(ts.X))


@pytest.mark.parametrize("strategy", ["marginal", "perturb", "mixed"])
def test_an_equality_constraint_the_data_meets_is_met_by_every_synthetic_row(strategy):
    """Shares that sum to 1: their features come together from one real row, unjittered."""
    from rulekd import Domain
    from rulekd.transfer import sample_synthetic

    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 400)
    X = pd.DataFrame({"p": p, "q": 1 - p, "z": rng.normal(size=400)})
    d = Domain.from_data(X).with_constraint({"p": 1, "q": 1}, "==", 1)
    S = sample_synthetic(X, 500, strategy=strategy, domain=d, random_state=0)
    assert d.contains(S).all()
    assert S["z"].nunique() > 200  # the other features still vary


def _shares_and_pairs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    X = pd.DataFrame({"p": p, "q": 1 - p})
    for i in range(4):  # lo_i <= hi_i: a random pair of rows meets all four a tenth of the time
        lo = rng.normal(size=n)
        X[f"lo{i}"], X[f"hi{i}"] = lo, lo + rng.exponential(0.1, size=n)
    d = Domain.from_data(X).with_constraint({"p": 1.0, "q": 1.0}, "==", 1.0)
    for i in range(4):
        d = d.with_constraint({f"lo{i}": 1.0, f"hi{i}": -1.0}, "<=", 0.0)
    return X, d


def test_constraints_that_keep_few_drawn_rows_are_still_met_from_the_data():
    """Regression: each round drew only the rows still missing, so a Domain keeping a tenth of them was never
    filled; the rest came from uniform rows (|z| up to 1e6 where the data are within 3) or, with an equality
    constraint, raised DomainError."""
    X, d = _shares_and_pairs()
    S = sample_synthetic(X, 1000, strategy="marginal", domain=d, random_state=0)
    assert len(S) == 1000 and d.contains(S).all()
    for c in X.columns:
        assert X[c].min() - 1e-9 <= S[c].min() and S[c].max() <= X[c].max() + 1e-9  # values of the data's range


def test_equality_constraints_sharing_a_feature_tie_all_their_features():
    """Regression: p + q == 1 and r + q == 1 (q written second) tied q to r after p to q, so p kept q's old
    donor row; every row broke the first constraint."""
    rng = np.random.default_rng(0)
    p = rng.random(50)
    X = pd.DataFrame({"p": p, "q": 1 - p, "r": p})
    d = Domain.from_data(X).with_constraint({"q": 1, "p": 1}, "==", 1).with_constraint({"r": 1, "q": 1}, "==", 1)
    for strategy in ("marginal", "perturb"):
        S = sample_synthetic(X, 300, strategy=strategy, domain=d, random_state=0)
        assert d.contains(S).all() and np.allclose(S["p"] + S["q"], 1.0)


@pytest.mark.parametrize("kw, match", [
    ({"noise": -0.1}, "noise must be a finite number >= 0"), ({"noise": float("nan")}, "noise"),
    ({"noise": float("inf")}, "noise"), ({"p_swap": 1.5}, r"p_swap must be a number in \[0, 1\]"),
    ({"p_swap": float("nan")}, "p_swap"), ({"n_samples": 2.7}, "n_samples must be a whole number"),
    ({"n_samples": True}, "n_samples"),
])
def test_sampler_parameters_are_checked(kw, match):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    args = {"n_samples": 10, **kw}
    with pytest.raises(ValueError, match=match):
        sample_synthetic(X, args.pop("n_samples"), random_state=0, **args)


def test_huge_values_and_weights_keep_their_spread():
    """Regression: np.std of values near 1e160 overflowed, so every jittered value fell on a bound; weights
    whose sum overflowed made numpy refuse the probabilities."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=200) * 1e160})
    S = sample_synthetic(X, 1000, strategy="perturb", random_state=0)
    assert S["x"].nunique() > 900
    w = np.r_[1e308, 1e308, np.ones(198)]
    S = sample_synthetic(X, 50, strategy="perturb", random_state=0, row_weight=w)
    assert len(S) == 50


def test_transfer_sets_keep_columns_types_and_the_domains_levels():
    """make_transfer_set: integer column labels put real and synthetic values in the same columns; an integer
    type is not wrapped around; a level the Domain adds stays a level; a bool column with missing synthetic
    values is numeric, not object; a Domain lacking a column is refused."""
    class Zero:
        def logits(self, data):
            self.seen = data
            return np.zeros((len(data), 2))

    t = Zero()
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(20, 2)))  # columns 0, 1
    ts = make_transfer_set(X, t, n_synthetic=5, random_state=0)
    assert list(ts.X.columns) == [0, 1] and not ts.X.isna().any().any()
    Xi = pd.DataFrame({"n": np.array([10, 20, 30, 120], dtype=np.int8)})
    d = Domain.from_data(Xi).update("n", upper=200.0)
    ts = make_transfer_set(Xi, t, n_synthetic=500, domain=d, random_state=0, strategy="marginal")
    assert d.contains(ts.X).all() and ts.X["n"].min() >= 10
    Xc = pd.DataFrame({"c": pd.Categorical(list("xyxy")), "a": [1.0, 2.0, 3.0, 4.0]})
    dc = Domain.from_data(Xc).update("c", levels=("x", "y", "z"))
    ts = make_transfer_set(Xc, t, n_synthetic=200, domain=dc, random_state=0, unseen_level_rate=0.3)
    assert (t.seen["c"] == "z").sum() > 20 and dc.contains(ts.X).all()
    Xb = pd.DataFrame({"flag": [True, False] * 10, "a": np.arange(20.0)})
    db = Domain.from_data(Xb).update("flag", allow_missing=True)
    ts = make_transfer_set(Xb, t, n_synthetic=200, domain=db, random_state=0, missing_rate=0.2)
    assert t.seen["flag"].dtype == np.float64 and t.seen["flag"].isna().any()
    with pytest.raises(ValueError, match=r"The Domain lacks X's columns \['a'\]"):
        make_transfer_set(Xb, t, n_synthetic=5, domain=Domain.from_data(Xb[["flag"]]))
