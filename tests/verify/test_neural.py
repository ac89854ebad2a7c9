"""verify_network: search, bounds, branch and bound and Z3 on a neural student.

A hand-built network with known answers (its weights set by hand after a
tiny fit), and a small fitted student with a missing-valued numeric feature
and embedded categorical features. Every ``violated`` counterexample is
re-evaluated here with ``predict``; every ``proved`` verdict is checked
against evaluation on samples of the region.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("torch")

from sklearn.tree import DecisionTreeClassifier  # noqa: E402

from rulekd import Condition, DistilledMLPClassifier, Rule, RuleSet  # noqa: E402
from rulekd.exceptions import SolverTimeoutWarning  # noqa: E402
from rulekd.verify import Implies, Invariant, Monotone, parse_condition, parse_property, verify, verify_network  # noqa: E402
from rulekd.verify._encode import frame_from_rows  # noqa: E402
from rulekd.verify._grammar import AllOf  # noqa: E402
from rulekd.verify._grammar import Test as _Atom  # noqa: E402
from rulekd.verify._neural import _verify_network, network_bounds  # noqa: E402


# -- students ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hand():
    """``z = 4 - relu(a - 5) - relu(5 - a) + 2 relu(b) = 4 - |a - 5| + 2 relu(b)``: class 1 iff z > 0.

    On a in [0, 10], b in [-5, 5], inputs standardised with mean 0, scale 1.
    """
    rng = np.random.default_rng(0)
    a = np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 98)])
    b = np.concatenate([[-5.0, 5.0], rng.uniform(-5, 5, 98)])
    X = pd.DataFrame({"a": a, "b": b})
    y = (np.abs(a - 5) < 4).astype(int)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2, random_state=0), hidden_layer_sizes=(3,),
                               n_synthetic=50, max_epochs=1, early_stopping=False,
                               threshold_inputs=0, random_state=0).fit(X, y)
    m.encoding_ = [dict(e, mean=0.0, scale=1.0, impute=0.0) for e in m.encoding_]
    m.coefs_ = [np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([[-1.0], [-1.0], [2.0]])]
    m.intercepts_ = [np.array([-5.0, 5.0, 0.0]), np.array([4.0])]
    z = 4 - np.abs(a - 5) + 2 * np.maximum(b, 0)
    assert np.allclose(m.decision_function(X), z)  # the weights are what predict uses
    return m


@pytest.fixture(scope="module")
def stepped():
    """``z = 10 * [a >= 5] - 5`` through one step input (``threshold_inputs``): class 1 iff a >= 5, and a
    missing ``a`` (its step reads 0) is class 0. The numeric column's weight is 0."""
    rng = np.random.default_rng(0)
    a = np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 98)])
    a[rng.random(100) < 0.1] = np.nan
    X = pd.DataFrame({"a": a})
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=1, random_state=0), hidden_layer_sizes=(1,),
                               n_synthetic=50, max_epochs=1, early_stopping=False, threshold_inputs=1,
                               random_state=0).fit(X, (np.nan_to_num(a) >= 5).astype(int))
    assert [e["kind"] for e in m.encoding_] == ["numeric", "missing_indicator", "step"]
    m.encoding_ = [dict(e, threshold=5.0) if e["kind"] == "step" else e for e in m.encoding_]
    m.coefs_ = [np.array([[0.0], [0.0], [10.0]]), np.array([[1.0]])]
    m.intercepts_ = [np.array([0.0]), np.array([-5.0])]
    probe = pd.DataFrame({"a": [4.999, 5.0, 7.0, np.nan]})
    assert m.predict(probe).tolist() == [0, 1, 1, 0]  # the weights are what predict uses
    return m


def _one_step(X: pd.DataFrame, t: float, first: dict, b0: list, W1: list, b1: list,
              impute: float = 0.0) -> DistilledMLPClassifier:
    """A student of ``X`` (features a, b) whose one step input is ``a >= t``, with hand-set weights: ``first``
    maps an encoding entry's kind on ``a`` ("numeric", "missing_indicator", "step") to its first-layer row
    (others are 0); ``a`` is standardised with mean 0 and scale 1, a missing ``a`` imputed ``impute``."""
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=1, random_state=0), hidden_layer_sizes=(len(b0),),
                               n_synthetic=50, max_epochs=1, early_stopping=False, threshold_inputs=1,
                               random_state=0).fit(X, (np.nan_to_num(X["a"].to_numpy(dtype=float)) >= t).astype(int))
    m.encoding_ = [dict(e, threshold=float(t)) if e["kind"] == "step" else
                   dict(e, mean=0.0, scale=1.0, impute=impute) if e["kind"] == "numeric" and e["feature"] == "a" else e
                   for e in m.encoding_]
    W0 = np.zeros((len(m.encoding_), len(b0)))
    for j, e in enumerate(m.encoding_):
        if e["feature"] == "a" and e["kind"] in first:
            W0[j] = first[e["kind"]]
    m.coefs_ = [W0, np.array(W1, dtype=float)]
    m.intercepts_ = [np.array(b0, dtype=float), np.array(b1, dtype=float)]
    return m


@pytest.fixture(scope="module")
def folded():
    """``z = relu(2s - 1) + relu(1 - 2s) - 0.5`` with the step ``s = [a >= 5]``: 0.5 at s = 0 and at
    s = 1, so class 1 on every input; the LP relaxation's s = 1/2 (a value near the cut) gives -0.5."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": np.linspace(0.0, 10.0, 100), "b": rng.uniform(0, 1, 100)})
    m = _one_step(X, 5.0, {"step": [2.0, -2.0]}, [-1.0, 1.0], [[1.0], [1.0]], [-0.5])
    assert m.decision_function(pd.DataFrame({"a": [0.0, 4.999, 5.0, 10.0], "b": 0.5})).tolist() == [0.5] * 4
    return m


def _mixed(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.lognormal(3, 1, n),
        "job": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "city": pd.Categorical(rng.choice([f"k{i}" for i in range(12)], n)),
    })
    X.loc[rng.random(n) < 0.15, "income"] = np.nan
    X.loc[rng.random(n) < 0.1, "job"] = np.nan
    y = ((X["age"] > 45) ^ (X["job"] == "b")).astype(int).to_numpy()
    return X, y


def _xgb():
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True, random_state=0)


@pytest.fixture(scope="module")
def mixed():
    return _mixed()


@pytest.fixture(scope="module")
def fitted(mixed):
    """(8,) student; ``income`` has a missing indicator, ``job`` and ``city`` go through embeddings."""
    X, y = mixed
    m = DistilledMLPClassifier(teacher=_xgb(), hidden_layer_sizes=(8,), max_epochs=3, n_synthetic=500,
                               categorical_encoding="embedding", random_state=0).fit(X, y)
    kinds = {e["kind"] for e in m.encoding_}
    assert {"numeric", "missing_indicator", "onehot"} <= kinds and m._embedded_
    return m


@pytest.fixture(scope="module")
def deep(mixed):
    """(8, 8) student with the teacher's cuts as step inputs (``income``'s read 0 where it is missing)."""
    X, y = mixed
    m = DistilledMLPClassifier(teacher=_xgb(), hidden_layer_sizes=(8, 8), max_epochs=3, n_synthetic=500,
                               threshold_inputs=24, random_state=0).fit(X, y)
    assert {e["feature"] for e in m.encoding_ if e["kind"] == "step"} == {"age", "income"}
    return m


def _cex_frames(finding, domain) -> list[pd.DataFrame]:
    cex = finding.counterexample
    rows = [cex] if "x" not in cex else [cex["x"], cex["x_prime"]]
    return [frame_from_rows([r], domain) for r in rows]


def _region_holds(text, frame) -> bool:
    return bool(parse_condition(text).evaluate(lambda n: frame[n], len(frame))[0])


# -- the hand-built network: known answers ------------------------------------------------------------


@pytest.mark.parametrize("lp", [True, False], ids=["lp", "z3"])
@pytest.mark.parametrize("prop, expected", [
    ("if a >= 2 and a <= 8 then 1", "proved"),  # |a - 5| <= 3 < 4
    ("if a >= 0.5 then 1", "violated"),  # a in [0.5, 1] or b <= 0 and a >= 9
    (Monotone("b", direction="increasing", toward=1), "proved"),  # z grows with b
    (Monotone("a", direction="increasing", toward=1), "violated"),  # a = 5 -> a = 10
    (Invariant("b"), "violated"),
])
def test_hand_built_network_verdicts(hand, prop, expected, lp):
    # n_samples=0: the prover, not the search, must decide; lp=False leaves it to Z3
    report = _verify_network(hand, [prop], n_samples=0, lp=lp, timeout_ms=20_000)
    (f,) = report.findings
    assert f.status == expected, f
    assert f.seconds > 0 and f.details["method"] in ("bounds", "branch_and_bound", "z3")
    if not lp:
        assert f.details["method"] in ("bounds", "z3")
    if expected == "violated":
        frames = _cex_frames(f, hand.domain_)
        assert all(hand.domain_.contains(fr)[0] for fr in frames)
        assert not bool(parse_property(prop).holds(hand.predict, *frames)[0])
    else:
        assert f.details["float_margin"] > 0
        # monotonicity holds with equality where b <= 0: at the boundary, rounding could decide
        assert f.details["float64_sound"] == (not isinstance(prop, Monotone))


def test_hand_built_invariance_holds_inside_a_region_and_search_finds_violations(hand):
    report = verify_network(hand, [Invariant("b"), "if a >= 0.5 then 1"], region="a >= 2 and a <= 8 and b >= 0")
    inv, imp = report.findings
    assert inv.status == "proved"  # z' >= 4 - 3 + 0 > 0 for every b'
    assert imp.status == "proved"
    report = verify_network(hand, [Invariant("b")], region="a >= 8.5")
    (f,) = report.violated
    assert f.details["method"] in ("sampling", "gradient")
    x, xp = _cex_frames(f, hand.domain_)
    assert _region_holds("a >= 8.5", x) and hand.predict(x)[0] != hand.predict(xp)[0]
    assert x["a"][0] == xp["a"][0]


def test_agreement_with_rules_one_finding_per_rule(hand):
    rs = RuleSet((Rule((Condition("a", ">=", 2.0), Condition("a", "<=", 8.0)), 1, id="inside"),
                  Rule((Condition("a", ">", 9.5),), 1, id="outside"),
                  Rule((Condition("a", "<", 0.5), Condition("b", "<=", 0.0)), 0, id="low")),
                 classes=(0, 1), default=0, ordered=False)
    report = verify_network(hand, rules=rs)
    by = {f.rules[0]: f for f in report.findings}
    assert by["inside"].status == "proved" and by["low"].status == "proved"
    out = by["outside"]
    assert out.status == "violated" and out.details["kind"] == "agreement"
    (x,) = _cex_frames(out, hand.domain_)
    assert x["a"][0] > 9.5 and hand.predict(x)[0] == 0
    assert report.target["rules"] == 3 and report.status == "violated"


def test_verify_dispatches_a_neural_student(hand):
    report = verify(hand, properties=["if a >= 2 and a <= 8 then 1"])
    assert report.status == "proved" and report.target["source"] == "DistilledMLPClassifier"
    rs = RuleSet((Rule((Condition("a", ">", 9.5),), 1, id="r"),), classes=(0, 1), default=0)
    assert verify(hand, reference=rs).findings[0].status == "violated"


def test_unbounded_domain_is_proved_over_exact_arithmetic_only(hand):
    dom = hand.domain_.update("b", lower=-math.inf, upper=math.inf)
    report = verify_network(hand, ["if a >= 2 and a <= 8 and b >= 0 then 1"], domain=dom)
    (f,) = report.findings
    assert f.status == "proved" and not f.details["float64_sound"] and f.details["float_margin"] is None
    assert "exact arithmetic" in f.message


# -- timeouts ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide():
    """40 inputs in [-1, 1], 2 x 41 hidden units: ``sum relu(x_i) - relu(sum x_i) + 0.01 > 0`` always."""
    k = 40
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, (60, k)), columns=[f"x{i}" for i in range(k)])
    X.iloc[0], X.iloc[1] = -1.0, 1.0
    y = (X.sum(axis=1) > 0).astype(int).to_numpy()
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=1), hidden_layer_sizes=(k + 1, k + 1),
                               n_synthetic=20, max_epochs=1, early_stopping=False,
                               threshold_inputs=0, random_state=0).fit(X, y)
    m.encoding_ = [dict(e, mean=0.0, scale=1.0, impute=0.0) for e in m.encoding_]
    W1 = np.hstack([np.eye(k), np.ones((k, 1))])  # relu(x_i), relu(sum x)
    W2 = np.eye(k + 1)  # pass through (already >= 0)
    W3 = np.concatenate([np.ones(k), [-1.0]])[:, None]
    m.coefs_ = [W1, W2, W3]
    m.intercepts_ = [np.zeros(k + 1), np.zeros(k + 1), np.array([0.01])]
    return m


def test_solver_timeout_gives_unknown_and_a_warning(wide):
    with pytest.warns(SolverTimeoutWarning, match="unknown"):
        report = _verify_network(wide, ["if x0 >= -1 then 1"], n_samples=0, lp=False, timeout_ms=1)
    (f,) = report.findings
    assert f.status == "unknown" and "timeout" in f.details["reason"]
    assert report.status == "unknown" and report.exit_code == 3


def test_spent_time_budget_gives_unknown(hand):
    with pytest.warns(SolverTimeoutWarning):
        report = verify_network(hand, ["if a >= 2 and a <= 8 then 1", Invariant("b")], time_budget_s=1e-9)
    assert [f.status for f in report.findings] == ["unknown", "unknown"]
    assert all(f.details["reason"] == "time budget spent" for f in report.findings)


def test_wide_network_is_proved_by_branch_and_bound(wide):
    report = verify_network(wide, ["if x0 >= -1 then 1"], timeout_ms=20_000)
    (f,) = report.findings
    assert f.status == "proved" and f.details["method"] in ("bounds", "branch_and_bound")


# -- the fitted student: exact encoding, sound bounds ---------------------------------------------------------


def _point(frame: pd.DataFrame, domain) -> list[Condition]:
    """Conditions that pin every feature to the row's value (or its missingness)."""
    out = []
    for spec in domain.features:
        v = frame[spec.name].iloc[0]
        if pd.isna(v):
            out.append(Condition(spec.name, "is missing"))
        elif spec.kind == "categorical":
            out.append(Condition(spec.name, "in", frozenset([v])))
        else:
            out += [Condition(spec.name, ">=", float(v)), Condition(spec.name, "<=", float(v))]
    return out


def test_exact_logits_of_the_z3_encoding_match_predict_within_the_float_margin(fitted):
    """Standardisation, imputation, the indicator and the embedded levels, evaluated by Z3 in exact rationals."""
    import z3

    from rulekd.verify._checks import Solver
    from rulekd.verify._neural import _net, _ScaledEncoding, _Z3Net

    net, dom = _net(fitted, None)
    rows = dom.sample(25, random_state=1, missing_rate=0.3)
    assert rows["income"].isna().any() and rows["job"].isna().any()
    for i in range(len(rows)):
        row = rows.iloc[[i]].reset_index(drop=True)
        conds = _point(row, dom)
        enc = _ScaledEncoding(dom, net)
        cons: list = []
        (z,) = _Z3Net(net).logits(enc, None, cons)
        out = Solver(enc.domain_constraints() + cons, 10_000, None).check([enc.conj(conds)], [enc])
        assert out.status == "sat"
        s = z3.Solver()
        s.add(enc.domain_constraints() + cons + [enc.conj(conds)])
        assert s.check() == z3.sat
        exact = s.model().eval(z).as_fraction()
        margin = float(network_bounds(fitted, conds).float_margin[0])
        got = Fraction(float(fitted.decision_function(row)[0]))
        assert abs(exact - got) <= Fraction(margin), (i, float(exact - got), margin)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_interval_bounds_contain_the_pre_activations_of_1000_inputs(fitted, deep, data):
    model = data.draw(st.sampled_from([fitted, deep]))
    dom = model.domain_
    conds = []
    for _ in range(data.draw(st.integers(0, 3))):
        which = data.draw(st.sampled_from(["age", "income", "job", "city", "missing"]))
        if which in ("age", "income"):
            spec = dom[which]
            t = data.draw(st.floats(spec.lower, spec.upper))
            conds.append(Condition(which, data.draw(st.sampled_from(["<=", ">"])), t))
        elif which in ("job", "city"):
            levels = data.draw(st.sets(st.sampled_from(dom[which].levels), min_size=1, max_size=4))
            conds.append(Condition(which, "in", frozenset(levels), missing=data.draw(st.booleans())))
        else:
            conds.append(Condition(data.draw(st.sampled_from(["income", "job"])),
                                   data.draw(st.sampled_from(["is missing", "is not missing"]))))
    pool = dom.sample(20_000, random_state=data.draw(st.integers(0, 10)), missing_rate=0.2)
    inside = np.ones(len(pool), dtype=bool)
    for c in conds:
        inside &= c.evaluate(pool[c.feature])
    X = pool[inside].iloc[:1000]
    if len(X) == 0:
        return
    for refine in (False, True):
        b = network_bounds(model, conds, refine=refine)
        h = model.encode(X)
        for i, (W, bias) in enumerate(model.weights()):
            p = h @ W + bias
            assert np.all(p >= b.lower[i] - 1e-12) and np.all(p <= b.upper[i] + 1e-12), (i, refine)
            h = np.maximum(p, 0.0)


def test_fitted_student_a_holding_property_is_proved_and_a_failing_one_violated(fitted, mixed):
    X, _ = mixed
    z = fitted.decision_function(X)
    i = int(np.argmax(np.abs(z)))
    row = X.iloc[[i]].reset_index(drop=True)
    box = []
    for c in _point(row, fitted.domain_):
        if c.op in (">=", "<=") and c.feature == "income":  # widen a little: a small box, not a point
            box.append(Condition("income", c.op, c.value * (0.999 if c.op == ">=" else 1.001)))
        else:
            box.append(c)
    pred = fitted.predict(row)[0]
    for lp in (True, False):
        (f,) = _verify_network(fitted, [Implies(AllOf(tuple(_Atom(c) for c in box)), then=pred)], lp=lp,
                               n_samples=0).findings
        assert f.status == "proved", f
    other = [c for c in fitted.classes_ if c != pred][0]
    (f,) = verify_network(fitted, [Implies("age >= 18", then=other)]).findings
    assert f.status == "violated"
    (x,) = _cex_frames(f, fitted.domain_)
    assert fitted.predict(x)[0] != other and fitted.domain_.contains(x)[0]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(job=st.sampled_from(["a", "b", "c", None]), city=st.sets(st.sampled_from([f"k{i}" for i in range(12)]),
                                                                  min_size=1, max_size=3),
       income_missing=st.booleans(), age_low=st.integers(18, 79), then=st.sampled_from([0, 1]))
def test_z3_verdicts_on_categorical_and_missing_inputs_agree_with_evaluation(fitted, job, city, income_missing,
                                                                             age_low, then):
    conds = [Condition("age", ">=", float(age_low)), Condition("city", "in", frozenset(city)),
             Condition("job", "is missing") if job is None else Condition("job", "in", frozenset([job])),
             Condition("income", "is missing" if income_missing else "is not missing")]
    prop = Implies(AllOf(tuple(_Atom(c) for c in conds)), then=then)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverTimeoutWarning)
        (f,) = _verify_network(fitted, [prop], n_samples=0, lp=False, timeout_ms=20_000).findings
    assert f.status in ("proved", "violated"), f
    dom = fitted.domain_
    pool = dom.sample(20_000, random_state=0, missing_rate=0.3)
    for c in conds:  # pin the categorical and missing parts, keep the rest random
        if c.feature == "job":
            pool["job"] = pd.Categorical([job] * len(pool), categories=list(dom["job"].levels))
        elif c.feature == "income" and income_missing:
            pool["income"] = np.nan
    pool["city"] = pd.Categorical(np.random.default_rng(0).choice(sorted(city), len(pool)),
                                  categories=list(dom["city"].levels))
    inside = np.ones(len(pool), dtype=bool)
    for c in conds:
        inside &= c.evaluate(pool[c.feature])
    pool = pool[inside]
    assert len(pool) > 100
    agree = fitted.predict(pool) == then
    if f.status == "proved":
        assert agree.all()
    else:
        (x,) = _cex_frames(f, dom)
        assert all(c.evaluate(x[c.feature])[0] for c in conds) and fitted.predict(x)[0] != then


def test_region_and_domain_are_validated(hand):
    with pytest.raises(Exception, match="nope"):
        verify_network(hand, ["if nope > 1 then 1"])
    with pytest.raises(ValueError, match="timeout_ms"):
        verify_network(hand, ["if a > 1 then 1"], timeout_ms=0)
    with pytest.raises(TypeError, match="region"):
        verify_network(hand, ["if a > 1 then 1"], region=3.5)


def test_a_timestamp_like_feature_is_decided_as_the_verifier_models_the_network():
    """Regression: a numeric-only student computed its float64 logits with the standardisation folded into
    the first layer, which cancels large numbers where mean / scale is large (t ~ 1.6e9): there
    decision_function and predict differed from the network on encode(X) that the verifier reasons about,
    and a one-point region was 'proved' (float64_sound=True) for the class predict did not give."""
    rng = np.random.default_rng(0)
    t = 1.6e9 + rng.normal(0, 1.0, 300)
    u = rng.normal(0, 1, 300)
    X = pd.DataFrame({"t": t, "u": u})
    y = (t - 1.6e9 + u > 0).astype(int)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), hidden_layer_sizes=(4,),
                               n_synthetic=200, max_epochs=3, random_state=0).fit(X, y)

    def network(frame):  # the network of weights() on encode(X), in float64
        return m._forward(m.encode(frame))[:, 0]

    # Points a hair from the decision boundary, found by bisection on u along several t.
    rows = []
    for t0 in map(float, 1.6e9 + np.arange(-1.0, 1.01, 0.1)):
        def z(u0, t0=t0):
            return network(pd.DataFrame({"t": [t0], "u": [u0]}))[0]
        lo, hi = -3.0, 2.0
        if (z(lo) > 0) == (z(hi) > 0):
            continue
        up = z(hi) > 0
        for _ in range(80):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if (z(mid) > 0) == up else (mid, hi)
        rows += [(t0, lo), (t0, hi)]
    assert len(rows) >= 4
    near = pd.DataFrame(rows, columns=["t", "u"])
    frame = pd.concat([X, near], ignore_index=True)
    np.testing.assert_array_equal(m.decision_function(frame), network(frame))
    np.testing.assert_array_equal(m.predict(frame), (network(frame) > 0).astype(int))
    for t0, u0 in rows[:4]:
        cls = int(m.predict(pd.DataFrame({"t": [t0], "u": [u0]}))[0])
        region = f"t >= {t0!r} and t <= {t0!r} and u >= {u0!r} and u <= {u0!r}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrong = verify_network(m, [f"if {region} then {1 - cls}"]).findings[0]
        assert wrong.status != "proved"


def test_a_domain_listing_the_features_in_another_order_gives_the_same_verdicts():
    """Regression: for a student fitted on an array, the verifier fed predict the columns in the Domain's
    order, so an Implies check with a real counterexample ended 'unknown' and an Invariant counterexample
    reported predictions predict does not give."""
    from rulekd import Domain

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, (300, 2))
    X[:, 1] *= 100
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2, random_state=0), hidden_layer_sizes=(4,),
                               n_synthetic=200, max_epochs=5, threshold_inputs=0,  # a step input learns x0 > 5 exactly
                               random_state=0).fit(X, (X[:, 0] > 5).astype(int))
    d = m.domain_.to_dict()
    d["features"] = d["features"][::-1]
    reordered = Domain.from_dict(d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for domain in (None, reordered):
            rep = verify_network(m, ["if x0 <= 2 and x1 >= 500 then 1", "invariant x1"], domain=domain,
                                 timeout_ms=3000)
            assert [f.status for f in rep.findings] == ["violated", "violated"]
            for f in rep.findings:
                c = f.counterexample
                rows = [c] if "x" not in c else [c["x"], c["x_prime"]]
                got = m.predict(np.array([[r["x0"], r["x1"]] for r in rows]))
                assert got.tolist() == list(f.details.get("predictions", got.tolist()))
                assert (got[0] != 1) if "x" not in c else (got[0] != got[1])


def test_a_tight_lp_point_outside_the_domain_does_not_cost_the_float64_sound_proof():
    """Regression: an LP optimum that was a point of the network but not an input (the LP leaves out one-hot
    groups) skipped the float-margin Z3 query, so the check was proved only over exact arithmetic."""
    rng = np.random.default_rng(0)
    n = 400
    g = rng.integers(0, 3, n)
    X = pd.DataFrame({"a": rng.normal(0, 1, n), "g0": (g == 0) * 1.0, "g1": (g == 1) * 1.0, "g2": (g == 2) * 1.0,
                      "b": rng.uniform(0, 10, n)})
    y = ((X.a + X.g1 * 1.5 - X.g2 + 0.1 * X.b) > 0.5).astype(int)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=4, random_state=0), hidden_layer_sizes=(6,),
                               n_synthetic=400, max_epochs=10, random_state=0).fit(X, y)
    domain = m.domain_.with_onehot_group(["g0", "g1", "g2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lp in (True, False):
            f = _verify_network(m, ["if g0 == 1 and g1 == 1 then 0"], domain=domain, lp=lp).findings[0]
            assert f.status == "proved" and f.details["float64_sound"] is True


def test_exact_ties_between_logits_go_to_the_first_class_in_exact_mode():
    """Regression: the exact-arithmetic query admitted z_mid - z_hi > -1e-300, an exact tie that predict
    (argmax, ties to the first class) never answers 'mid', so a true property ended 'unknown'."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = np.array(["hi", "lo", "mid"])[rng.integers(0, 3, 300)]
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), hidden_layer_sizes=(4,),
                               n_synthetic=200, max_epochs=2, random_state=0).fit(X, y)
    W2 = np.zeros((4, 3))
    W2[:, 1] = 1.0  # logits: hi = 0, lo = sum(h) - 100 (always below), mid = 0: an exact tie everywhere
    m.coefs_, m.intercepts_ = [m.coefs_[0], W2], [m.intercepts_[0], np.array([0.0, -100.0, 0.0])]
    assert set(m.predict(m.domain_.sample(2000, random_state=0))) == {"hi"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = verify_network(m, ['if a >= -100 then "hi"']).findings[0]
    assert f.status == "proved"


def test_entry_points_take_one_property_and_check_their_arguments(hand):
    """Regression: a single property string was iterated character by character ("got 'i' at position
    0"), checks= was ignored for a neural student, a string budget raised a bare TypeError, and a non-model
    got scikit-learn's message instead of verify_network's."""
    m = hand
    one = verify_network(m, "if a >= 4 and a <= 6 then 1")
    assert [f.status for f in one.findings] == ["proved"]
    assert [f.status for f in verify(m, properties="if a >= 4 and a <= 6 then 1").findings] == ["proved"]
    with pytest.raises(ValueError, match="checks='all' or 'none'"):
        verify(m, checks="gap")
    with pytest.raises(ValueError, match="time_budget_s must be a positive number"):
        verify_network(m, ["if a >= 4 and a <= 6 then 1"], time_budget_s="5")
    with pytest.raises(TypeError, match="takes a fitted DistilledMLPClassifier"):
        verify_network(object(), [])


@pytest.mark.parametrize("lp", [True, False], ids=["lp", "z3"])
@pytest.mark.parametrize("prop, expected", [
    ("if a >= 5 then 1", "proved"),
    ("if a > 6 then 1", "proved"),
    ("if a >= 4.99 then 1", "violated"),  # a in [4.99, 5)
    ("if a <= 4.9 then 0", "proved"),
    ("if a is missing then 0", "proved"),  # a missing value's step reads 0
    ("if a is missing then 1", "violated"),
    (Monotone("a", direction="increasing", toward=1), "proved"),
])
def test_a_step_input_is_verified_exactly(stepped, prop, expected, lp):
    """The verifier encodes a ``threshold_inputs`` step as the network sees it: 1 where x >= t, 0 below it
    and where x is missing (bounds, LP and Z3 alike); the prover, not the search, decides."""
    report = _verify_network(stepped, [prop], n_samples=0, lp=lp, timeout_ms=20_000)
    (f,) = report.findings
    assert f.status == expected, f
    if expected == "violated":
        (frame,) = _cex_frames(f, stepped.domain_)
        a = frame["a"].iloc[0]
        assert (4.99 <= a < 5.0) if "4.99" in str(prop) else np.isnan(a)
        assert stepped.predict(frame)[0] == 0


@pytest.mark.parametrize("prop, expected", [
    ("if a >= 0 then 1", "proved"),
    ("if a >= 4 and a <= 6 then 1", "proved"),
    ("if a >= 4 and a <= 6 then 0", "violated"),
])
def test_branch_and_bound_branches_on_a_straddled_step(folded, prop, expected):
    """Where the LP's answer hangs on a step left fractional (s = 1/2 near the cut, every neuron on its
    ReLU), branch and bound fixes the step to 0 (value below the cut) and to 1 (at or above) and decides
    without Z3; branching on neurons alone ends on that fractional point and leaves it to Z3."""
    report = _verify_network(folded, [prop], n_samples=0, lp=True, timeout_ms=20_000)
    (f,) = report.findings
    assert f.status == expected, f
    assert f.details["method"] == "branch_and_bound", f.details
    if expected == "proved":
        assert 3 <= f.details["nodes"] <= 8  # the root, its two step branches, at most a few neuron splits
    else:
        (frame,) = _cex_frames(f, folded.domain_)
        assert 4 <= frame["a"].iloc[0] <= 6 and folded.predict(frame)[0] == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verdicts_over_boxes_across_step_cuts_agree_with_predict(deep, data):
    """Boxes over age and income that straddle the student's step cuts (one level of job and of city),
    decided without a search (bounds, LP, branch and bound): a proof holds on 20,000 inputs of the box, a
    share of them at and just below each cut inside it; a counterexample is in the box and predict breaks
    the property."""
    from rulekd.verify._neural import _below, _net

    dom = deep.domain_
    cuts = {f: sorted(e["threshold"] for e in deep.encoding_ if e["kind"] == "step" and e["feature"] == f)
            for f in ("age", "income")}
    conds, pins = [], {}
    for f, ts in cuts.items():
        t = data.draw(st.sampled_from(ts))
        lo, hi = t - data.draw(st.floats(0.01, 40.0)), t + data.draw(st.floats(0.01, 40.0))
        conds += [Condition(f, ">=", lo), Condition(f, "<=", hi)]
        feat = next(x for x in _net(deep, dom)[0].feats if x.name == f)
        pins[f] = [v for c in ts for v in (c, _below(feat, c)) if lo <= v <= hi]
    pool = dom.sample(20_000, random_state=data.draw(st.integers(0, 10)), missing_rate=0.2)
    for f in ("job", "city"):  # one level each: boxes small enough that a property may hold
        level = data.draw(st.sampled_from(list(dom[f].levels)))
        conds.append(Condition(f, "in", frozenset([level])))
        pool[f] = pd.Categorical([level] * len(pool), categories=list(dom[f].levels))
    rng = np.random.default_rng(0)
    for f, (lo, hi) in (("age", conds[:2]), ("income", conds[2:4])):
        pool[f] = rng.uniform(lo.value, hi.value, len(pool))
        if dom[f].kind == "integer":
            pool[f] = np.clip(np.round(pool[f]), np.ceil(lo.value), np.floor(hi.value))
        for j, v in enumerate(pins[f]):  # a share of the rows sits at a cut or just below it
            pool.loc[pool.index[j::50], f] = v
    inside = np.ones(len(pool), dtype=bool)
    for c in conds:
        inside &= c.evaluate(pool[c.feature])
    pool = pool[inside]
    answers = deep.predict(pool)
    then = data.draw(st.sampled_from([pd.Series(answers).mode()[0], *deep.classes_]))  # the majority, mostly
    prop = Implies(AllOf(tuple(_Atom(c) for c in conds)), then=then)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverTimeoutWarning)
        (f,) = _verify_network(deep, [prop], n_samples=0, lp=True, timeout_ms=5_000).findings
    if f.status == "proved":
        assert (answers == then).all(), f
    elif f.status == "violated":
        (x,) = _cex_frames(f, dom)
        assert all(c.evaluate(x[c.feature])[0] for c in conds) and deep.predict(x)[0] != then


@settings(max_examples=80, deadline=None)
@given(kind=st.sampled_from(["real", "integer"]), miss=st.sampled_from(["no", "indicator", "no indicator"]),
       t=st.floats(-50, 50), gap=st.floats(0.0, 5.0), below=st.floats(0.0, 30.0), above=st.floats(0.0, 30.0),
       mean=st.floats(-20, 20), scale=st.floats(0.01, 50), impute=st.floats(-3, 3),
       fix=st.sampled_from([None, 0, 1]), which=st.sampled_from([0, 1]))
def test_lp_rows_of_straddled_steps_hold_at_every_input_of_their_side(kind, miss, t, gap, below, above, mean, scale,
                                                                      impute, fix, which):
    """The LP's rows for two steps of one feature that the box straddles (each one's convex hull, one fixed
    to 0 or 1 as in branch and bound, the higher cut's step at most the lower's) hold at every input whose
    steps have those values, at each cut and just below it included, and at a missing value (its steps
    read 0; with or without a missing indicator column, its imputed value above or below the cuts). Over
    present values, a step at 0 excludes its cut itself (the step reads 1 there)."""
    from types import SimpleNamespace

    from rulekd.domain import FeatureSpec
    from rulekd.verify._boxes import Region
    from rulekd.verify._neural import _LP, _below, _Feature, _lp_inputs

    cuts = (t, t + gap)
    spec = FeatureSpec("x", kind, lower=math.floor(t - below) - 1, upper=math.ceil(t + gap + above) + 1,
                       allow_missing=miss != "no")
    ind = 1 if miss == "indicator" else -1
    first = 2 if ind == 1 else 1
    feat = _Feature("x", "numeric", integer=kind == "integer", col=0, ind=ind, mean=mean, scale=scale,
                    impute=mean + impute * scale, steps=((first, cuts[0]), (first + 1, cuts[1])))
    fixed_col = feat.steps[which][0]
    lp = _LP()
    cols = _lp_inputs(lp, SimpleNamespace(feats=[feat]), [Region.full(spec)],
                      fixes={} if fix is None else {(0, "step", fixed_col): fix})
    A_ub, b_ub, _, _, lb, ub = lp.arrays()

    def fits(v: float | None, steps: tuple) -> bool:  # every bound and row, in exact arithmetic
        x = [Fraction(0)] * len(lb)
        x[cols[0]] = (Fraction(feat.impute if v is None else v) - Fraction(mean)) / Fraction(scale)
        if ind == 1:
            x[cols[1]] = Fraction(int(v is None))
        for (col, _), st_ in zip(feat.steps, steps):
            x[cols[col]] = Fraction(st_)
        return (all(Fraction(lo) <= xi <= Fraction(hi) for xi, lo, hi in zip(x, lb, ub))
                and all(sum(Fraction(a) * xi for a, xi in zip(row, x)) <= Fraction(b) for row, b in zip(A_ub, b_ub)))

    values = [spec.lower, spec.upper, *cuts, *(_below(feat, c) for c in cuts), *np.linspace(spec.lower, spec.upper, 41)]
    if kind == "integer":
        values = [float(v) for v in np.unique(np.round(values))]
    points = [v for v in values if spec.lower <= v <= spec.upper] + ([None] if miss != "no" else [])
    for v in points:
        steps = tuple(0.0 if v is None or v < c else 1.0 for c in cuts)
        if fix is None or steps[which] == fix:
            assert fits(v, steps), (v, steps)
    # The cut with its step at 0 (the closure of "x < t", no input) is excluded where the largest input
    # below the cut has a standardised value, rounded up to a float64, below the cut's.
    for k, c in enumerate(cuts):
        q = (Fraction(_below(feat, c)) - Fraction(mean)) / Fraction(scale)
        q_up = Fraction(float(q)) if Fraction(float(q)) >= q else Fraction(float(np.nextafter(float(q), math.inf)))
        steps = tuple(0.0 if j == k else float(c >= cj) for j, cj in enumerate(cuts))
        if miss == "no" and spec.lower <= c <= spec.upper and q_up < (Fraction(c) - Fraction(mean)) / Fraction(scale):
            if fix is None or steps[which] == fix:
                assert not fits(c, steps), (k, c)


def test_branch_and_bound_on_steps_over_integers_missing_values_and_monotone_pairs():
    """Branch and bound decides, without Z3, three cases where an LP point with its steps at 0 or 1 used
    to end the search: an integer feature with a cut at 4.5 (the LP's point a = 4.5 with its step at 1 is
    the input a = 5, not 4 as rounding half to even gave); a box that allows a missing value (the row
    "step 0: below the cut or missing" was left out); and a monotone pair whose steps could disagree with
    the order of their values; a missing value whose imputed value lies above the cut (its step is 0)."""
    rng = np.random.default_rng(0)
    b = rng.uniform(0, 1, 100)
    # z = -0.5 + 3 relu(1 - s) + relu(a - 5), s = [a >= 4.5]: class 0 only at a = 5.
    a = np.concatenate([[0, 10], rng.integers(0, 11, 98)]).astype(np.int64)
    m = _one_step(pd.DataFrame({"a": a, "b": b}), 4.5, {"numeric": [1.0, 0.0], "step": [0.0, -1.0]},
                  [-5.0, 1.0], [[1.0], [3.0]], [-0.5])
    assert m.domain_["a"].kind == "integer"
    assert m.predict(pd.DataFrame({"a": np.arange(11), "b": 0.5})).tolist() == [1] * 5 + [0] + [1] * 5
    (f,) = _verify_network(m, ["if a >= 3 and a <= 7 then 1"], n_samples=0, lp=True, timeout_ms=20_000).findings
    assert (f.status, f.details["method"], f.counterexample["a"]) == ("violated", "branch_and_bound", 5), f
    # z = 1 - relu(a - 5 - 10 s), s = [a >= 5]: 1 on every input, a missing a (imputed 0) included.
    a = np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 98)])
    a[rng.random(100) < 0.1] = np.nan
    m = _one_step(pd.DataFrame({"a": a, "b": b}), 5.0, {"numeric": [1.0], "step": [-10.0]}, [-5.0], [[-1.0]], [1.0])
    assert m.domain_["a"].allow_missing
    (f,) = _verify_network(m, ["if b >= 0 then 1"], n_samples=0, lp=True, timeout_ms=20_000).findings
    assert (f.status, f.details["method"]) == ("proved", "branch_and_bound"), f
    # z = 1 - 0.9 relu(s) - 0.9 relu(missing): 1 on every input, as a missing a (imputed 8, above the cut)
    # has its step at 0, which the LP now knows (s + indicator <= 1).
    m = _one_step(pd.DataFrame({"a": a, "b": b}), 5.0, {"step": [1.0, 0.0], "missing_indicator": [0.0, 1.0]},
                  [0.0, 0.0], [[-0.9], [-0.9]], [1.0], impute=8.0)
    assert m.predict(pd.DataFrame({"a": [np.nan, 0.0, 5.0, 8.0], "b": 0.5})).tolist() == [1] * 4
    (f,) = _verify_network(m, ["if b >= 0 then 1"], n_samples=0, lp=True, timeout_ms=20_000).findings
    assert f.status == "proved" and f.details["method"] != "z3", f
    # z = 3 relu(2s - 1) + relu(1 - 2s) - 1.5, s = [a >= 5]: class 1 iff a >= 5, monotone in a.
    a = np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 98)])
    m = _one_step(pd.DataFrame({"a": a, "b": b}), 5.0, {"step": [2.0, -2.0]}, [-1.0, 1.0], [[3.0], [1.0]], [-1.5])
    (f,) = _verify_network(m, [Monotone("a", "increasing", 1)], n_samples=0, lp=True, timeout_ms=20_000,
                           region="a >= 4 and a <= 6").findings
    assert (f.status, f.details["method"]) == ("proved", "branch_and_bound"), f


@pytest.mark.parametrize("net, kind, expected", [
    ("rising", "integer", "proved"), ("rising", "real", "proved"),
    ("dip", "integer", "proved"), ("dip", "real", "violated"),
])
def test_a_monotone_pair_over_an_integer_feature_differs_by_one_at_least(net, kind, expected):
    """Monotone in a, increasing toward class 1. "rising": ``z = relu(a) - 4.5`` holds everywhere; its
    LP's worst pair is x = x' on the decision boundary, which is one input with one answer: over integers
    the pair's values differ by 1 at least, and branch and bound proves it (it used to stop there and leave
    it to Z3). "dip": ``z = 1 - 10 relu(a - 4.2) + 20 relu(a - 4.4)`` is below 0 only between 4.3 and 4.5:
    it holds over integers, not over reals (4.2 is class 1, 4.4 class 0), so the integer row must not
    reach a real feature."""
    rng = np.random.default_rng(0)
    a = np.concatenate([[0.0, 10.0], rng.uniform(0, 10, 98)])
    a = np.round(a).astype(np.int64) if kind == "integer" else a
    X = pd.DataFrame({"a": a, "b": rng.uniform(0, 1, 100)})
    if net == "rising":
        m = _one_step(X, 9.5, {"numeric": [1.0]}, [0.0], [[1.0]], [-4.5])
    else:
        m = _one_step(X, 9.5, {"numeric": [1.0, 1.0]}, [-4.2, -4.4], [[-10.0], [20.0]], [1.0])
    assert m.domain_["a"].kind == kind
    (f,) = _verify_network(m, [Monotone("a", "increasing", 1)], n_samples=0, lp=True, timeout_ms=20_000).findings
    assert f.status == expected, f
    if (net, kind) == ("rising", "integer"):
        assert f.details["method"] == "branch_and_bound", f.details
    if expected == "violated":
        x, xp = _cex_frames(f, m.domain_)
        assert x["a"].iloc[0] <= xp["a"].iloc[0] and (m.predict(x)[0], m.predict(xp)[0]) == (1, 0)


def test_bounds_of_a_step_input_follow_the_region(stepped):
    """Over a region on one side of the step the output is exact; across it, both answers are possible."""
    above = network_bounds(stepped, "a >= 5")
    below = network_bounds(stepped, "a < 5")
    across = network_bounds(stepped, "a >= 4 and a <= 6")
    assert above.lower[-1][0] > 4.99 and above.upper[-1][0] < 5.01
    assert below.lower[-1][0] > -5.01 and below.upper[-1][0] < -4.99
    assert across.lower[-1][0] < -4.99 and across.upper[-1][0] > 4.99
