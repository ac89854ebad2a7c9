"""Domain: inference from data, edits, membership, sampling, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulekd.domain import Domain, FeatureSpec
from rulekd.exceptions import DomainError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "real": [0.5, -1.25, 3.0, np.nan],
            "int": [1, 5, 3, 2],
            "bin": [0.0, 1.0, 1.0, 0.0],
            "flag": [True, False, True, True],
            "job": pd.Categorical(["a", "b", None, "a"], categories=["b", "a", "unused"]),
            "city": np.array(["Köln", "Berlin", None, "Köln"], dtype=object),
            "code": pd.Series(["x", "y", "x", "z"], dtype="str"),
        }
    )


def test_from_data_kinds_bounds_and_missing():
    d = Domain.from_data(_frame())
    assert d.names == ("real", "int", "bin", "flag", "job", "city", "code")
    assert (d["real"].kind, d["real"].lower, d["real"].upper, d["real"].allow_missing) == ("real", -1.25, 3.0, True)
    assert (d["int"].kind, d["int"].lower, d["int"].upper, d["int"].allow_missing) == ("integer", 1.0, 5.0, False)
    assert (d["bin"].kind, d["bin"].lower, d["bin"].upper) == ("binary", 0.0, 1.0)
    assert d["flag"].kind == "binary"
    assert d["job"].kind == "categorical" and d["job"].levels == ("b", "a", "unused") and d["job"].allow_missing
    assert d["city"].levels == ("Berlin", "Köln") and d["city"].allow_missing
    assert d["code"].levels == ("x", "y", "z") and not d["code"].allow_missing
    assert d.categories == {"job": ("b", "a", "unused"), "city": ("Berlin", "Köln"), "code": ("x", "y", "z")}
    assert d.contains(_frame()).all()


def test_from_data_on_arrays_and_forced_categorical():
    X = np.array([[1.0, 0.0, 2.5], [3.0, 1.0, np.nan], [2.0, 1.0, 4.0]])
    d = Domain.from_data(X)
    assert d.names == ("x0", "x1", "x2")
    assert [f.kind for f in d] == ["integer", "binary", "real"]
    d2 = Domain.from_data(X, feature_names=["a", "b", "c"], categorical=["a"])
    assert d2["a"].kind == "categorical" and d2["a"].levels == (1.0, 2.0, 3.0)
    ints = pd.DataFrame({"k": [3, 1, 2, 1]})
    assert Domain.from_data(ints, categorical=["k"])["k"].levels == (1, 2, 3)
    with pytest.raises(DomainError, match="nope"):
        Domain.from_data(ints, categorical=["nope"])


def test_from_data_nullable_and_large_integers():
    X = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"), "big": [0.0, 2.0**60, 1.0]})
    d = Domain.from_data(X)
    assert d["n"].kind == "integer" and d["n"].allow_missing and (d["n"].lower, d["n"].upper) == (1.0, 3.0)
    assert d["big"].kind == "real"  # integers beyond 2**53 are not exact in float64
    assert d.contains(X).all()


@pytest.mark.parametrize(
    "frame, col",
    [
        (pd.DataFrame({"ok": [1.0, 2.0], "empty col": [np.nan, np.nan]}), "empty col"),
        (pd.DataFrame({"ok": [1.0, 2.0], "s": pd.Series([None, None], dtype=object)}), "s"),
        (pd.DataFrame({"ok": [1.0, 2.0], "big": [1.0, np.inf]}), "big"),
        (pd.DataFrame({"ok": [1.0, 2.0], "neg": [-np.inf, 0.0]}), "neg"),
        (pd.DataFrame({"ok": [1.0, 2.0], "mixed": np.array(["a", 1], dtype=object)}), "mixed"),
        (pd.DataFrame([[1.0, 2.0]], columns=["dup", "dup"]), "dup"),
        (pd.DataFrame([[1.0, 2.0]], columns=[1, "1"]), "1"),
    ],
)
def test_from_data_errors_name_the_column(frame, col):
    with pytest.raises(DomainError) as info:
        Domain.from_data(frame)
    assert repr(col) in str(info.value) or col in str(info.value)
    assert isinstance(info.value, ValueError)


def test_from_data_errors_without_columns():
    with pytest.raises(DomainError, match="0 rows"):
        Domain.from_data(pd.DataFrame({"a": pd.Series([], dtype=float)}))
    with pytest.raises(DomainError):
        Domain.from_data(np.zeros(3))
    with pytest.raises(DomainError):
        Domain.from_data(np.zeros((2, 2)), feature_names=["a"])
    with pytest.raises(DomainError):
        Domain.from_data(pd.DataFrame(index=range(3)))


def test_from_data_object_column_of_non_scalars_is_an_error():
    X = pd.DataFrame({"t": pd.Series([(1, 2), (3, 4)], dtype=object)})
    with pytest.raises(DomainError, match="'t'"):
        Domain.from_data(X)


# -- specs and edits -----------------------------------------------------------
def test_feature_spec_validation():
    with pytest.raises(DomainError):
        FeatureSpec("", "real")
    with pytest.raises(DomainError):
        FeatureSpec("a", "float")
    with pytest.raises(DomainError):
        FeatureSpec("a", "real", 2.0, 1.0)
    with pytest.raises(DomainError):
        FeatureSpec("a", "real", math.nan)
    with pytest.raises(DomainError):
        FeatureSpec("a", "categorical")
    with pytest.raises(DomainError):
        FeatureSpec("a", "categorical", levels=("x", "x"))
    with pytest.raises(DomainError):
        FeatureSpec("a", "categorical", levels=(math.nan,))
    with pytest.raises(DomainError):
        FeatureSpec("a", "categorical", levels=(math.inf,))
    with pytest.raises(DomainError):
        FeatureSpec("a", "real", levels=("x",))
    assert FeatureSpec("a", "integer", 0.5, 3.7).lower == 1.0
    assert FeatureSpec("a", "integer", 0.5, 3.7).upper == 3.0
    assert (FeatureSpec("a", "binary").lower, FeatureSpec("a", "binary").upper) == (0.0, 1.0)


@pytest.mark.parametrize("changes, said", [
    # a set's order follows the hash seed: which code means which level changed from run to run
    (dict(levels={"red", "green", "blue"}), r"levels must be a list or tuple of levels in code order, got \{"),
    (dict(levels="abc"), r"levels must be a list or tuple .* got 'abc'"),  # was ('a', 'b', 'c')
    (dict(levels=None), r"levels must be a list or tuple"),
    (dict(levels=[["a"]]), r"levels must be strings or finite numbers, got \['a'\]"),
    (dict(lower=3, upper=5), r"'k' is categorical; \['lower', 'upper'\] only numeric features have"),  # dropped
])
def test_update_of_levels_refuses_what_is_not_an_ordered_list_of_levels(changes, said):
    d = Domain.from_data(pd.DataFrame({"c": [1.0, 2.5], "k": pd.Categorical(["u", "v"])}))
    with pytest.raises(DomainError, match=said):
        d.update("k", **changes)


@pytest.mark.parametrize("bounds", [dict(lower="abc"), dict(lower="18"), dict(lower=None), dict(upper=[100]),
                                    dict(upper=10**400)])
def test_update_of_bounds_refuses_what_is_not_a_number_by_name(bounds):
    """float() raised bare ValueError / TypeError / OverflowError naming neither the feature nor the fix;
    the text "18" was taken as 18.0."""
    d = Domain.from_data(pd.DataFrame({"age": [20.0, 70.0]}))
    with pytest.raises(DomainError, match=r"Feature 'age': lower and upper must be numbers"):
        d.update("age", **bounds)


def test_contains_refuses_dates_as_from_data_does():
    """Dates read as nanoseconds since 1970 were inside a real feature's [0, 1]."""
    d = Domain((FeatureSpec("a", "real", 0.0, 1.0),))
    for col in (pd.to_datetime(["1970-01-01"]), pd.to_timedelta([0])):
        with pytest.raises(DomainError, match="cannot compare as numbers"):
            d.contains(pd.DataFrame({"a": col}))


def test_update_with_constraint_and_onehot_group():
    d = Domain.from_data(pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 0.0], "c": [1.0, 2.5], "k": ["u", "v"]}))
    d2 = d.update("c", lower=0.0, upper=10.0, allow_missing=True)
    assert (d2["c"].lower, d2["c"].upper, d2["c"].allow_missing) == (0.0, 10.0, True)
    assert d["c"].upper == 2.5  # the original is unchanged
    d3 = d.update("k", levels=("u", "v", "w"))
    assert d3["k"].levels == ("u", "v", "w")
    d4 = d.update("c", kind="categorical", levels=(1.0, 2.5))
    assert d4["c"].kind == "categorical"
    d5 = d.update("k", kind="real", lower=0, upper=1)
    assert d5["k"].kind == "real" and d5["k"].levels == ()
    with pytest.raises(DomainError):
        d.update("c", levels=("x",))
    with pytest.raises(DomainError):
        d.update("c", lower=5.0)  # above upper
    with pytest.raises(KeyError, match="zzz"):
        d.update("zzz", lower=0)

    g = d.with_onehot_group(["a", "b"])
    assert g.onehot_groups == (("a", "b"),)
    X = pd.DataFrame({"a": [1.0, 0.0, 1.0, 0.0], "b": [0.0, 1.0, 1.0, 0.0], "c": 1.0, "k": "u"})
    assert g.contains(X).tolist() == [True, True, False, False]
    with pytest.raises(DomainError):
        d.with_onehot_group(["a", "c"])  # c is not binary
    with pytest.raises(DomainError):
        d.with_onehot_group(["a"])
    with pytest.raises(DomainError):
        d.with_onehot_group(["a", "nope"])

    c = d.with_constraint({"a": 1.0, "c": -1.0}, "<=", 0.0)
    Y = pd.DataFrame({"a": [1.0, 1.0, 0.0], "b": 0.0, "c": [1.0, 0.5, np.nan], "k": "u"})
    assert c.contains(Y.assign(c=[1.0, 1.0, 1.0])).tolist() == [True, True, True]
    assert c.update("c", allow_missing=True).contains(Y.assign(c=[2.0, 1.0, np.nan])).tolist() == [True, True, True]
    assert c.update("c", lower=0.0).contains(Y.assign(c=[2.0, 0.5, 1.0])).tolist() == [True, False, True]
    for op in ("<", "=", "!="):
        with pytest.raises(DomainError):
            d.with_constraint({"a": 1.0}, op, 0.0)
    with pytest.raises(DomainError):
        d.with_constraint({"k": 1.0}, "<=", 0.0)
    with pytest.raises(DomainError):
        d.with_constraint({"nope": 1.0}, "<=", 0.0)
    with pytest.raises(DomainError):
        d.with_constraint({"a": math.inf}, "<=", 0.0)
    with pytest.raises(DomainError):
        d.with_constraint({}, "<=", 0.0)


def test_domain_constructor_validation():
    a = FeatureSpec("a", "real")
    with pytest.raises(DomainError):
        Domain(())
    with pytest.raises(DomainError):
        Domain((a, a))
    with pytest.raises(DomainError):
        Domain(("a",))
    with pytest.raises(DomainError):
        Domain((a,), constraints=("a <= 1",))


# -- contains ----------------------------------------------------------------
def test_contains_checks_every_rule():
    d = Domain(
        (
            FeatureSpec("r", "real", 0.0, 1.0),
            FeatureSpec("i", "integer", 0, 10, allow_missing=True),
            FeatureSpec("b", "binary"),
            FeatureSpec("c", "categorical", levels=("x", "y")),
        )
    )
    X = pd.DataFrame(
        {
            "r": [0.5, 1.5, 0.5, 0.5, 0.5, 0.5, np.nan, 0.0, 0.5],
            "i": [3, 3, 3.5, np.nan, 3, 3, 3, 11, 3],
            "b": [1, 1, 1, 1, 0.5, 1, 1, 1, 0],
            "c": ["x", "x", "x", "y", "x", "z", "x", "x", None],
        }
    )
    assert d.contains(X).tolist() == [True, False, False, True, False, False, False, False, False]
    # array input follows the Domain's column order
    assert d.contains(X.to_numpy(dtype=object)).tolist() == d.contains(X).tolist()
    with pytest.raises(DomainError, match="'c'"):
        d.contains(X.drop(columns="c"))


def test_contains_rejects_text_in_a_numeric_onehot_member():
    """Regression: a non-numeric column in a one-hot group raised KeyError."""
    d = Domain((FeatureSpec("a", "binary"), FeatureSpec("b", "binary")), onehot_groups=(("a", "b"),))
    X = pd.DataFrame({"a": ["yes", "no"], "b": [0.0, 1.0]})
    assert d.contains(X).tolist() == [False, False]
    d2 = Domain((FeatureSpec("a", "real"), FeatureSpec("b", "real"))).with_constraint({"a": 1, "b": 1}, "<=", 1)
    assert d2.contains(X).tolist() == [False, False]


# -- sampling ----------------------------------------------------------------
def test_sample_stays_inside():
    d = (
        Domain.from_data(_frame())
        .update("real", lower=-5.0, upper=5.0)
        .update("int", allow_missing=True)
    )
    S = d.sample(500, random_state=0, missing_rate=0.2)
    assert len(S) == 500 and list(S.columns) == list(d.names)
    assert d.contains(S).all()
    assert S["real"].isna().any() and S["job"].isna().any()
    assert not S["bin"].isna().any()
    assert d.sample(50, random_state=3).equals(d.sample(50, random_state=3))


@pytest.mark.parametrize(
    "spec",
    [
        FeatureSpec("v", "real"),
        FeatureSpec("v", "real", upper=-5e6),
        FeatureSpec("v", "real", lower=5e6),
        FeatureSpec("v", "integer", upper=-5e6),
        FeatureSpec("v", "integer", lower=3e6),
        FeatureSpec("v", "integer", -1e30, 1e30),
        FeatureSpec("v", "real", -1.7e308, 1.7e308),
        FeatureSpec("v", "real", 2.0, 2.0),
        FeatureSpec("v", "integer", 7, 7),
        FeatureSpec("v", "binary", 1, 1),
    ],
)
def test_sample_with_extreme_or_half_open_bounds(spec):
    """Regression: half-open bounds beyond 1e6 and huge bounds failed or left the Domain."""
    d = Domain((spec, FeatureSpec("w", "binary")))
    S = d.sample(200, random_state=1)
    assert d.contains(S).all()
    assert np.isfinite(S["v"]).all()


def test_sample_respects_onehot_groups_and_constraints():
    d = (
        Domain((FeatureSpec("a", "binary"), FeatureSpec("b", "binary"), FeatureSpec("c", "binary"),
                FeatureSpec("x", "real", 0, 1), FeatureSpec("y", "real", 0, 1)))
        .with_onehot_group(["a", "b", "c"])
        .with_constraint({"x": 1.0, "y": -1.0}, "<=", 0.0)
    )
    S = d.sample(300, random_state=0)
    assert d.contains(S).all()
    assert (S[["a", "b", "c"]].sum(axis=1) == 1).all()
    assert (S["x"] <= S["y"]).all()
    impossible = d.with_constraint({"x": 1.0}, ">=", 2.0)
    with pytest.raises(DomainError):
        impossible.sample(10, random_state=0)


# -- JSON ----------------------------------------------------------------------
def _rich_domain() -> Domain:
    return (
        Domain(
            (
                FeatureSpec("größe", "real", -math.inf, 0.1),
                FeatureSpec("n", "integer", -3, math.inf, allow_missing=True),
                FeatureSpec("a", "binary"),
                FeatureSpec("b", "binary"),
                FeatureSpec("job", "categorical", levels=("ä", "b", "c"), allow_missing=True),
                FeatureSpec("code", "categorical", levels=(3, 1, 2)),
                FeatureSpec("mix", "categorical", levels=(1.5, True, "t", 2)),
                FeatureSpec("tiny", "real", 5e-324, float(np.nextafter(np.float32(0.1), np.float32(1)))),
                FeatureSpec("neg0", "real", -0.0, 0.0),
            )
        )
        .with_onehot_group(["a", "b"])
        .with_constraint({"größe": 0.1, "n": -1 / 3}, "<=", 1e-300)
        .with_constraint({"n": 1.0}, "==", 2.0)
    )


def _bits(d: Domain):
    feats = [
        (f.name, f.kind, float(f.lower).hex(), float(f.upper).hex(), tuple((type(v).__name__, v) for v in f.levels),
         f.allow_missing)
        for f in d
    ]
    cons = [(tuple((n, c.hex()) for n, c in k.coefficients), k.op, k.rhs.hex()) for k in d.constraints]
    return feats, d.onehot_groups, cons


def test_domain_json_round_trip_is_exact(tmp_path):
    d = _rich_domain()
    text = d.to_json()
    back = Domain.from_json(text)
    assert back == d
    assert _bits(back) == _bits(d)
    assert back.to_json() == text
    path = tmp_path / "domain.json"
    d.to_json(path)
    assert Domain.from_json(path) == d and Domain.from_json(str(path)) == d
    assert Domain.from_json(path.read_bytes()) == d


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(allow_nan=False), st.floats(allow_nan=False), st.booleans(),
            st.sampled_from(["real", "integer", "binary", "categorical"]),
            st.lists(st.one_of(st.text(max_size=3), st.integers(-5, 5)), min_size=1, max_size=4),
        ),
        min_size=1, max_size=5,
    )
)
def test_domain_json_round_trip_property(rows):
    specs = []
    for i, (lo, hi, miss, kind, levels) in enumerate(rows):
        lo, hi = min(lo, hi), max(lo, hi)
        try:
            if kind == "categorical":
                spec = FeatureSpec(f"f{i}", kind, levels=tuple(dict.fromkeys(levels)), allow_missing=miss)
            else:
                spec = FeatureSpec(f"f{i}", kind, lo, hi, allow_missing=miss)
        except DomainError:
            continue  # e.g. an integer range with no integer in it
        specs.append(spec)
    if not specs:
        return
    d = Domain(tuple(specs))
    back = Domain.from_json(d.to_json())
    assert back == d and _bits(back) == _bits(d)


def _ddoc(**over) -> str:
    d = {"format": "rulekd.domain", "version": 1, "features": [{"name": "a", "kind": "real", "lower": 0, "upper": 1}]}
    d.update(over)
    return json.dumps(d)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[1, 2]",
        '"a string"',
        b"null",
        b"\xff",
        "[" * 100_000,
        '{"format": "rulekd.domain", "version": 1, "features": [{"name": "a", "kind": "real", "lower": NaN}]}',
        _ddoc(format="x"),
        _ddoc(version=2),
        _ddoc(extra=True),
        _ddoc(features={}),
        _ddoc(features=[]),
        _ddoc(features=[1]),
        _ddoc(features=[{"name": "a", "kind": "real", "lower": "x"}]),
        _ddoc(features=[{"name": "a", "kind": "real", "lower": True}]),
        _ddoc(features=[{"name": "a", "kind": "real", "lower": 2, "upper": 1}]),
        _ddoc(features=[{"name": "a", "kind": "real", "colour": 1}]),
        _ddoc(features=[{"name": "a", "kind": "weird"}]),
        _ddoc(features=[{"kind": "real"}]),
        _ddoc(features=[{"name": 5, "kind": "real"}]),
        _ddoc(features=[{"name": "a", "kind": "real", "allow_missing": "yes"}]),
        _ddoc(features=[{"name": "a", "kind": "categorical", "levels": "abc"}]),
        _ddoc(features=[{"name": "a", "kind": "categorical", "levels": [[1]]}]),
        _ddoc(features=[{"name": "a", "kind": "categorical", "levels": [{"x": 1}]}]),
        _ddoc(features=[{"name": "a", "kind": "categorical", "levels": []}]),
        _ddoc(features=[{"name": "a", "kind": "categorical", "levels": [None]}]),
        _ddoc(features=[{"name": "a", "kind": "real"}, {"name": "a", "kind": "real"}]),
        _ddoc(onehot_groups="a"),
        _ddoc(onehot_groups=[["a", "a"]]),
        _ddoc(onehot_groups=[[{"x": 1}, "a"]]),
        _ddoc(constraints={}),
        _ddoc(constraints=[1]),
        _ddoc(constraints=[{"coefficients": {"a": 1}, "op": "<", "rhs": 0}]),
        _ddoc(constraints=[{"coefficients": {"a": "x"}, "op": "<=", "rhs": 0}]),
        _ddoc(constraints=[{"coefficients": {"a": 1}, "op": "<="}]),
        _ddoc(constraints=[{"coefficients": {"zz": 1}, "op": "<=", "rhs": 0}]),
        _ddoc(constraints=[{"coefficients": {"a": 1}, "op": "<=", "rhs": "inf"}]),
    ],
)
def test_malformed_domain_json_raises_domain_error(text):
    with pytest.raises(DomainError):
        Domain.from_json(text)


def test_domain_from_json_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Domain.from_json(tmp_path / "nope.json")
    with pytest.raises((FileNotFoundError, DomainError)):
        Domain.from_json("y" * 1000)


# -- review fixes (session 12) -------------------------------------------------------------------------
def test_contains_marks_only_the_cells_of_text_outside():
    """Regression: one text cell in a numeric feature marked every row outside; text that looks like a
    number ("0.5") was read as one."""
    d = Domain((FeatureSpec("a", "real", 0, 1), FeatureSpec("b", "real", 0, 1)))
    X = pd.DataFrame({"a": pd.Series([0.5, 0.5, "oops", "0.5", None], dtype=object), "b": [0.5] * 5})
    assert d.contains(X).tolist() == [True, True, False, False, False]
    assert d.update("a", allow_missing=True).contains(X).tolist() == [True, True, False, False, True]


def test_contains_decides_linear_constraints_exactly_as_the_verifier():
    """Regression: float64 sums read a + b = 1 + 1e-17 as <= 1 (Z3 says no) and 2e308 - 1.8e308 as NaN,
    'not applicable'."""
    d = Domain((FeatureSpec("a", "real", 0, 2), FeatureSpec("b", "real", -1, 1))).with_constraint(
        {"a": 1.0, "b": 1.0}, "<=", 1.0)
    assert d.contains(pd.DataFrame({"a": [1.0, 1.0, 0.5], "b": [1e-17, 0.0, 0.5]})).tolist() == [False, True, True]
    big = Domain((FeatureSpec("a", "real", 0, 1e308), FeatureSpec("b", "real", 0, 1e308))).with_constraint(
        {"a": 2.0, "b": -2.0}, "<=", 0.0)
    assert big.contains(pd.DataFrame({"a": [1e308, 0.9e308], "b": [0.9e308, 1e308]})).tolist() == [False, True]
    eq = Domain((FeatureSpec("p", "real", 0, 1), FeatureSpec("q", "real", 0, 1))).with_constraint(
        {"p": 1.0, "q": 1.0}, "==", 1.0)
    # an equality holds up to the rounding of the sum (0.1 + 0.9 is not 1 in exact arithmetic)
    assert eq.contains(pd.DataFrame({"p": [0.1, 0.1, 0.1], "q": [0.9, 0.9 + 2e-16, 0.9 + 1e-9]})).tolist() == [
        True, True, False]


@pytest.mark.parametrize("make, message", [
    (lambda: FeatureSpec("b", "binary", 0.2, 0.8), "hold no 0 or 1"),
    (lambda: Domain((FeatureSpec("c", "real", 0.5, 0.7),)).update("c", kind="binary"), "hold no 0 or 1"),
    (lambda: Domain((FeatureSpec("a", "binary"), FeatureSpec("b", "binary")), onehot_groups=(("a", "a"),)),
     "more than once"),
    (lambda: Domain((FeatureSpec("a", "real"),)).with_constraint({"a": 1.0}, "<=", 1.0).constraints[0].__class__(
        (("a", 1.0), ("a", 2.0)), "<=", 1.0), "more than once"),
    (lambda: Domain.from_data(pd.DataFrame({"v": pd.Series([1, True, 0], dtype=object)})), "mixes value types"),
    (lambda: Domain((FeatureSpec("a", "real", 0, 1),)).sample(-5), "n must be an integer >= 0"),
    (lambda: Domain((FeatureSpec("a", "real", 0, 1),)).sample(5, missing_rate=2), "missing_rate"),
    (lambda: FeatureSpec("a", "real", allow_missing="no"), "allow_missing must be True or False"),
    (lambda: Domain((FeatureSpec("a", "real"),)).update("a", name="z"), "keeps its name"),
    (lambda: Domain((FeatureSpec("a", "real"),)).update("a", colour="red"), "colour"),
])
def test_domains_without_a_consistent_meaning_are_refused(make, message):
    """Regression: each was accepted (an empty Domain proves anything; a merged level's type depended on the
    row order; sample(-5) returned 11 rows) or raised a TypeError."""
    with pytest.raises(DomainError, match=message):
        make()


def test_domain_json_with_fields_of_another_kind_is_refused():
    """Regression: 'levels' on a numeric feature and bounds on a categorical one were dropped silently."""
    d = Domain((FeatureSpec("a", "real", 0, 1), FeatureSpec("c", "categorical", levels=("x", "y")))).to_dict()
    numeric = json.loads(json.dumps(d))
    numeric["features"][0]["levels"] = ["x"]
    categorical = json.loads(json.dumps(d))
    categorical["features"][1]["lower"] = 0
    for doc, message in ((numeric, "only categorical"), (categorical, "only numeric")):
        with pytest.raises(DomainError, match=message):
            Domain.from_dict(doc)
    assert Domain.from_dict(d) == Domain.from_dict(json.loads(json.dumps(d)))


def test_constraints_from_a_mapping_number_levels_and_equalities_at_overflow():
    """Regressions of this session's Domain checks: a LinearConstraint given a dict, an object column of
    ints and floats (only bool beside numbers merges levels), and an equality whose float sum overflows."""
    from rulekd.domain import LinearConstraint

    assert str(LinearConstraint({"a": 1.0, "b": 1.0}, "<=", 1.0)) == "1.0*a + 1.0*b <= 1.0"
    assert Domain.from_data(pd.DataFrame({"v": pd.Series([1, 2.5, 1], dtype=object)}))["v"].levels == (1, 2.5)
    d = Domain((FeatureSpec("a", "real", 0, 1e308), FeatureSpec("b", "real", 0, 1e308)))
    X = pd.DataFrame({"a": [1e308, 1e308], "b": [1e308, 0.5e308]})
    for op in ("<=", ">=", "=="):
        got = d.with_constraint({"a": 2.0, "b": -2.0}, op, 0.0).contains(X).tolist()
        assert got == {"<=": [True, False], ">=": [True, True], "==": [True, False]}[op], op
