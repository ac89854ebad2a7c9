"""Condition / Rule / RuleSet: validation, evaluation semantics, merge_conjunction."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulekd.exceptions import RuleFormatError
from rulekd.rules import Condition, Rule, RuleSet, merge_conjunction


# -- validation --------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ("x", "<=", math.nan),
        ("x", "<=", np.float32("nan")),
        ("x", "=<", 1.0),
        ("x", "==", 1.0),
        ("x", "IN", {"a"}),
        ("x", "<=", "1.0"),
        ("x", "<=", None),
        ("x", "<=", True),
        ("x", "in", "abc"),
        ("x", "in", 3),
        ("x", "in", {math.nan}),
        ("x", "in", {math.inf}),  # JSON could not hold it
        ("x", "in", {(1, 2)}),
        ("x", "is missing", 1.0),
        ("", "<=", 1.0),
        (3, "<=", 1.0),
    ],
)
def test_condition_rejects_malformed_input(args):
    with pytest.raises(RuleFormatError):
        Condition(*args)


def test_condition_rejects_bad_cast_and_missing_flag():
    with pytest.raises(RuleFormatError):
        Condition("x", "<=", 1.0, cast="float16")
    with pytest.raises(RuleFormatError):
        Condition("x", "in", {"a"}, cast="float32")
    with pytest.raises(RuleFormatError):
        Condition("x", "<=", 1.0, missing="yes")


def test_rule_format_error_is_a_value_error():
    with pytest.raises(ValueError):
        Condition("x", "<=", math.nan)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"proba": (0.5, 1.5)},
        {"proba": (math.nan, 1.0)},
        {"support": -1},
        {"support": 1.5},
        {"support": True},
        {"confidence": 1.5},
        {"confidence": math.nan},
        {"score": math.nan},
        {"id": 3},
        {"id": ""},
        {"conditions": ("x <= 1",)},
    ],
)
def test_rule_rejects_malformed_input(kwargs):
    args = {"conditions": (), "prediction": 1} | kwargs
    with pytest.raises(RuleFormatError):
        Rule(**args)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"classes": ()},
        {"classes": (0, 0)},
        {"default": 7},
        {"rules": (Rule((), 5),)},
        {"rules": (Rule((), 1, proba=(1.0,)),)},
        {"rules": (Rule((), 1, proba=(0.2, 0.3, 0.5)),)},
        {"default_proba": (0.5, 0.25, 0.25)},
        {"default_proba": (1.5, -0.5)},
        {"default_proba": (math.nan, 1.0)},
        {"rules": (Rule((), 1, id="a"), Rule((), 0, id="a"))},
        {"rules": (Rule((), 1), Rule((), 0, id="r0"))},  # explicit id clashes with the implicit "r0"
        {"rules": (Rule((Condition("y", ">", 0.0),), 1),), "feature_names": ("x",)},
        {"feature_names": ("x", "x")},
        {"rules": ("if x then 1",)},
    ],
)
def test_ruleset_rejects_malformed_input(kwargs):
    args = {"rules": (), "classes": (0, 1), "default": 0} | kwargs
    with pytest.raises(RuleFormatError):
        RuleSet(**args)


def test_numpy_labels_become_python_scalars():
    rs = RuleSet((Rule((), np.int64(1)),), classes=np.array([0, 1]), default=np.int64(0))
    assert type(rs.classes[0]) is int and type(rs.default) is int and type(rs.rules[0].prediction) is int


# -- condition semantics -----------------------------------------------------
def test_numeric_condition_missing_flag():
    x = np.array([0.0, 2.0, np.nan])
    assert Condition("x", "<=", 1.0).evaluate(x).tolist() == [True, False, False]
    assert Condition("x", "<=", 1.0, missing=True).evaluate(x).tolist() == [True, False, True]
    assert Condition("x", ">", 1.0, missing=True).evaluate(x).tolist() == [False, True, True]


@pytest.mark.parametrize("missing", [np.nan, None, pd.NA])
def test_numeric_condition_treats_every_missing_marker_alike(missing):
    """Regression: pd.NA in an object column raised TypeError in float()."""
    c = Condition("x", "<=", 1.0, missing=True)
    col = pd.Series([0.5, missing, 2.0], dtype=object)
    assert c.evaluate(col).tolist() == [True, True, False]
    assert c.evaluate(np.array([0.5, missing, 2.0], dtype=object)).tolist() == [True, True, False]
    assert c.evaluate(pd.array([0.5, None, 2.0], dtype="Float64")).tolist() == [True, True, False]


def test_missing_tests():
    col = pd.Series(["a", None, np.nan, pd.NA, "b"], dtype=object)
    assert Condition("x", "is missing").evaluate(col).tolist() == [False, True, True, True, False]
    assert Condition("x", "is not missing").evaluate(col).tolist() == [True, False, False, False, True]
    num = np.array([1.0, np.nan])
    assert Condition("x", "is missing").evaluate(num).tolist() == [False, True]


def test_set_condition_on_levels():
    col = pd.Series(["a", "b", None, "zz"], dtype=object)
    assert Condition("x", "in", {"a"}).evaluate(col).tolist() == [True, False, False, False]
    assert Condition("x", "in", {"a"}, True).evaluate(col).tolist() == [True, False, True, False]
    assert Condition("x", "not in", {"a"}).evaluate(col).tolist() == [False, True, False, True]
    cat = pd.Series(pd.Categorical(["a", "b", None], categories=["a", "b", "c"]))
    assert Condition("x", "in", {"b", "c"}).evaluate(cat).tolist() == [False, True, False]
    ints = np.array([1, 2, 3])
    assert Condition("x", "in", {np.int64(2), 3}).evaluate(ints).tolist() == [False, True, True]


@pytest.mark.parametrize("levels,value", [([0, 1, 2], True), ([False, True], 1), ([0.0, 1.5], 0), (["a", "b"], "b")])
@pytest.mark.parametrize("op", ["in", "not in"])
def test_set_condition_reads_a_categorical_as_its_values(levels, value, op):
    """Regression: pandas' Categorical.isin told True from 1, so `k in {True}` matched 1 in an array and
    not in a Categorical of the same levels (a frame and its numpy form got other answers)."""
    cond = Condition("k", op, {value})
    plain = np.array(levels + [None], dtype=object)
    expected = cond.evaluate(plain).tolist()
    assert expected.count(op == "in") >= 1 + (op == "not in")  # the level equal to the value is found
    for col in (pd.Series(pd.Categorical(plain)), pd.Categorical(plain),
                pd.Series(pd.Categorical(plain, categories=list(reversed(levels))))):
        assert cond.evaluate(col).tolist() == expected


def test_float32_cast_changes_the_comparison():
    t = 0.1  # not a float32 value
    x = np.array([float(np.float32(t)), t, np.nextafter(t, 1.0)])
    # float32(0.1) rounds up past 0.1: only the float32 semantics know that.
    assert Condition("x", "<=", t).evaluate(x).tolist() == [False, True, False]
    assert Condition("x", "<=", t, cast="float32").evaluate(x).tolist() == [False, False, False]
    t32 = float(np.float32(0.1))
    y = np.array([t32, np.nextafter(t32, 1.0), np.nextafter(t32, 0.0)])
    assert Condition("x", "<=", t32).evaluate(y).tolist() == [True, False, True]
    assert Condition("x", "<=", t32, cast="float32").evaluate(y).tolist() == [True, True, True]
    assert Condition("x", "<", t32, cast="float32").evaluate(y).tolist() == [False, False, False]
    assert Condition("x", ">=", t32, cast="float32").evaluate(y).tolist() == [True, True, True]


@settings(max_examples=100, deadline=None)
@given(
    op=st.sampled_from(["<=", "<", ">", ">=", "in", "not in", "is missing", "is not missing"]),
    t=st.floats(allow_nan=False, width=32),
    cast=st.sampled_from([None, "float32"]),
    missing=st.booleans(),
)
def test_negate_is_the_complement(op, t, cast, missing):
    if op in ("in", "not in"):
        c = Condition("x", op, {"a", "b"}, missing)
        col = pd.Series(["a", "c", None, "b"], dtype=object)
    elif op in ("is missing", "is not missing"):
        c = Condition("x", op)
        col = np.array([1.0, np.nan])
    else:
        c = Condition("x", op, t, missing, cast)
        col = np.array([t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), np.nan, 0.0, np.inf, -np.inf])
    n = c.negate()
    assert (c.evaluate(col) ^ n.evaluate(col)).all()
    assert n.negate() == c


def test_exact_bound_only_for_numeric():
    with pytest.raises(TypeError):
        Condition("x", "in", {"a"}).exact_bound()
    assert Condition("x", "<", 2.0).exact_bound() == ("<", 2.0)


def test_text_form():
    assert str(Condition("age", "<=", 25.0)) == "age <= 25.0"
    assert str(Condition("a b", ">", 1.0, True)) == "(`a b` > 1.0 or `a b` is missing)"
    assert str(Condition("job", "in", {"b", "a"})) == 'job in {"a", "b"}'
    assert str(Condition("x", "is missing")) == "x is missing"


# -- rule-set semantics ------------------------------------------------------
def _overlapping(ordered: bool) -> RuleSet:
    return RuleSet(
        rules=(
            Rule((Condition("x", ">", 0.0),), "pos", confidence=0.6, id="wide"),
            Rule((Condition("x", ">", 5.0),), "big", confidence=0.9, id="narrow"),
            Rule((Condition("x", "<", -5.0),), "neg", confidence=0.9, id="neg1"),
            Rule((Condition("x", "<", -1.0),), "big", confidence=0.9, id="neg2"),
        ),
        classes=("pos", "big", "neg", "none"),
        default="none",
        ordered=ordered,
        feature_names=("x",),
    )


def test_ordered_rule_list_is_first_match():
    X = np.array([[1.0], [10.0], [-10.0], [-2.0], [0.0], [np.nan]])
    rs = _overlapping(ordered=True)
    assert rs.predict(X).tolist() == ["pos", "pos", "neg", "big", "none", "none"]
    assert rs.decided_by(X).tolist() == ["wide", "wide", "neg1", "neg2", "default", "default"]


def test_unordered_rule_set_is_highest_confidence_then_earliest():
    X = np.array([[1.0], [10.0], [-10.0], [-2.0], [0.0]])
    rs = _overlapping(ordered=False)
    # 10 matches "wide" (0.6) and "narrow" (0.9): the more confident wins.
    # -10 matches "neg1" and "neg2" (both 0.9): the earlier wins.
    assert rs.predict(X).tolist() == ["pos", "big", "neg", "big", "none"]
    assert rs.decide(X).tolist() == [0, 1, 2, 3, -1]


def test_predict_proba_uses_the_answering_rule_and_default():
    rs = RuleSet(
        (Rule((Condition("x", ">", 0.0),), 1, proba=(0.2, 0.8)),),
        classes=(0, 1), default=0, default_proba=(0.7, 0.3), feature_names=("x",),
    )
    P = rs.predict_proba(np.array([[1.0], [-1.0]]))
    assert P.tolist() == [[0.2, 0.8], [0.7, 0.3]]
    one_hot = RuleSet((Rule((Condition("x", ">", 0.0),), 1),), classes=(0, 1), default=0, feature_names=("x",))
    assert one_hot.predict_proba(np.array([[1.0], [-1.0]])).tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_empty_rule_set_and_empty_data():
    rs = RuleSet((), classes=("a", "b"), default="b", feature_names=("x",))
    assert rs.predict(np.zeros((3, 1))).tolist() == ["b", "b", "b"]
    rs2 = _overlapping(True)
    assert rs2.predict(np.zeros((0, 1))).shape == (0,)
    assert rs2.predict_proba(np.zeros((0, 1))).shape == (0, 4)


def test_predict_keeps_label_types_when_classes_mix_types():
    """Regression: classes (0, "x") made predict return the strings '0' and 'x'."""
    rs = RuleSet(
        (Rule((Condition("a", ">", 0.0),), "x"),), classes=(0, "x"), default=0, feature_names=("a",)
    )
    out = rs.predict(np.array([[1.0], [-1.0]]))
    assert out.tolist() == ["x", 0]
    assert type(out.tolist()[1]) is int


def test_predict_label_dtypes():
    for classes in [(0, 1), (False, True), ("no", "yes"), (0.5, 1.5)]:
        rs = RuleSet((Rule((Condition("a", ">", 0.0),), classes[1]),), classes, classes[0], feature_names=("a",))
        out = rs.predict(np.array([[1.0], [-1.0]]))
        assert out.tolist() == [classes[1], classes[0]]
        assert [type(v) for v in out.tolist()] == [type(classes[1]), type(classes[0])]


def test_predict_keeps_trailing_nul_of_string_labels():
    """Regression: numpy's fixed-width strings turned the label "a\\x00" into "a" (to_python kept it)."""
    rs = RuleSet((Rule((Condition("a", ">", 0.0),), "a\x00"),), ("a\x00", "b"), "b", feature_names=("a",))
    assert rs.predict(np.array([[1.0], [-1.0]])).tolist() == ["a\x00", "b"]
    namespace: dict = {}
    exec(compile(rs.to_python(), "<export>", "exec"), namespace)
    assert namespace["predict"]({"a": 1.0}) == "a\x00"


def test_rule_sets_that_predict_differently_print_differently():
    """Regression: a float32-cast condition printed like an uncast one (they differ just above the
    threshold), and an unordered set's text left out the confidences that decide between its rules."""
    from rulekd.verify._grammar import parse_condition

    cast, plain = Condition("x", "<=", 0.1, cast="float32"), Condition("x", "<=", 0.1)
    assert cast.evaluate(np.array([0.1])).tolist() != plain.evaluate(np.array([0.1])).tolist()
    assert str(cast) == "float32(x) <= 0.1" and str(plain) == "x <= 0.1"
    assert parse_condition(str(cast)).condition == cast
    assert parse_condition(str(Condition("x", ">=", 2.5, missing=True, cast="float32"))).text() == (
        "float32(x) >= 2.5 or x is missing")

    def unordered(conf):
        return RuleSet((Rule((Condition("x", ">", 1.0),), 1, confidence=conf),
                        Rule((Condition("x", ">", 0.0),), 0, confidence=0.9)), (0, 1), 0, ordered=False)

    low, high = unordered(0.6), unordered(0.95)
    X = pd.DataFrame({"x": [2.0]})
    assert low.predict(X).tolist() != high.predict(X).tolist()
    assert low.to_text() != high.to_text() and "(confidence 0.95)" in high.to_text()


@pytest.mark.parametrize("name", ["and", "in", "missing", "True", "then", "inf", "nan"])
def test_features_named_like_grammar_words_are_quoted_and_parse_back(name):
    """Regression: 'and <= 1.0' was printed unquoted, and the condition grammar refused it."""
    from rulekd.verify._grammar import parse_condition

    c = Condition(name, "<=", 1.0)
    assert str(c).startswith("`")
    assert parse_condition(str(c)).condition == c


def test_array_with_wrong_column_count_raises():
    rs = _overlapping(True)
    with pytest.raises(ValueError, match="2 columns"):
        rs.predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="1-D"):
        rs.predict(np.zeros(3))


def test_dataframe_missing_a_feature_names_it():
    rs = RuleSet((Rule((Condition("income", ">", 0.0),), 1),), classes=(0, 1), default=0)
    with pytest.raises(ValueError, match="'income'"):
        rs.predict(pd.DataFrame({"age": [1.0]}))


def test_dataframe_columns_are_found_by_name_in_any_order():
    rs = RuleSet(
        (Rule((Condition("b", ">", 0.0), Condition("a", "in", {"u"})), 1),),
        classes=(0, 1), default=0, feature_names=("a", "b"),
    )
    X = pd.DataFrame({"b": [1.0, 1.0, -1.0], "zzz": [0, 0, 0], "a": ["u", "v", "u"]})
    assert rs.predict(X).tolist() == [1, 0, 0]
    # object arrays in feature_names order work too
    A = np.array([["u", 1.0], ["v", 1.0]], dtype=object)
    assert rs.predict(A).tolist() == [1, 0]


def test_array_without_feature_names_uses_x_index_names():
    rs = RuleSet((Rule((Condition("x1", ">", 0.0),), 1),), classes=(0, 1), default=0)
    assert rs.predict(np.array([[5.0, 1.0], [5.0, -1.0]])).tolist() == [1, 0]
    rs2 = RuleSet((Rule((Condition("age", ">", 0.0),), 1),), classes=(0, 1), default=0)
    with pytest.raises(ValueError, match="age"):
        rs2.predict(np.zeros((2, 1)))


def test_predictions_do_not_depend_on_row_order():
    rs = _overlapping(False)
    rng = np.random.default_rng(0)
    X = rng.normal(scale=8, size=(200, 1))
    X[::7] = np.nan
    perm = rng.permutation(200)
    assert rs.predict(X)[perm].tolist() == rs.predict(X[perm]).tolist()


def test_to_text_and_frame():
    rs = _overlapping(True)
    text = rs.to_text()
    assert text.splitlines()[0] == 'if x > 0.0 then "pos"'
    assert text.splitlines()[-1] == 'else "none"'
    un = _overlapping(False).to_text()
    assert un.splitlines()[1] == 'rule narrow: if x > 5.0 then "big" (confidence 0.9)'
    frame = rs.to_frame()
    assert frame["id"].tolist() == ["wide", "narrow", "neg1", "neg2"]


# -- merge_conjunction -------------------------------------------------------
_ts = st.sampled_from([-1.0, 0.0, 0.1, float(np.float32(0.1)), 0.5, 1.0, math.inf, -math.inf])


@st.composite
def _conds(draw):
    feat = draw(st.sampled_from(["a", "b"]))
    kind = draw(st.sampled_from(["num", "set", "miss"]))
    if kind == "num":
        return Condition(feat, draw(st.sampled_from(["<=", "<", ">", ">="])), draw(_ts), draw(st.booleans()),
                         draw(st.sampled_from([None, "float32"])))
    if kind == "set":
        # numeric levels, so that sets and comparisons can share a column
        return Condition(feat, draw(st.sampled_from(["in", "not in"])),
                         draw(st.frozensets(st.sampled_from([0.0, 0.5, 1.0, -1.0]), max_size=3)),
                         draw(st.booleans()))
    return Condition(feat, draw(st.sampled_from(["is missing", "is not missing"])))


@settings(max_examples=200, deadline=None)
@given(st.lists(_conds(), max_size=6))
def test_merge_conjunction_is_exact(conds):
    pool = [-1.0, 0.0, 0.1, float(np.float32(0.1)), np.nextafter(0.1, 1), 0.5, 1.0, 2.0, -2.0, np.nan,
            np.inf, -np.inf, np.nextafter(float(np.float32(0.1)), 1), float(np.nextafter(np.float32(0.1), np.float32(1)))]
    grid = np.array([(a, b) for a in pool for b in pool])
    X = pd.DataFrame({"a": grid[:, 0], "b": grid[:, 1]})

    def conj(cs):
        out = np.ones(len(X), dtype=bool)
        for c in cs:
            out &= c.evaluate(X[c.feature])
        return out

    merged = merge_conjunction(conds)
    assert len(merged) <= len(conds)
    np.testing.assert_array_equal(conj(merged), conj(conds))


def test_merge_conjunction_keeps_the_tighter_bound():
    a = Condition("x", "<=", 2.0)
    b = Condition("x", "<", 2.0)
    c = Condition("x", "<=", 1.0, missing=True)
    assert merge_conjunction([a, b]) == (b,)
    assert merge_conjunction([c, a]) == (Condition("x", "<=", 1.0, missing=False),)
    assert merge_conjunction([Condition("x", ">", 1.0), Condition("x", "<=", 2.0)]) == (
        Condition("x", ">", 1.0), Condition("x", "<=", 2.0))


def test_float32_cast_comparisons_with_minus_infinity():
    """float32(x) < -inf never holds and float32(x) >= -inf always does, -inf itself included."""
    x = np.array([-np.inf, -3.5e38, 0.0, np.inf, np.nan])
    below = Condition("x", "<", -np.inf, cast="float32")
    at_least = Condition("x", ">=", -np.inf, cast="float32")
    with np.errstate(over="ignore"):
        f32 = x.astype(np.float32)  # -3.5e38 rounds to -inf in float32
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(below.evaluate(x)[:4], (f32 < -np.inf)[:4])
        np.testing.assert_array_equal(at_least.evaluate(x)[:4], (f32 >= -np.inf)[:4])
    assert not below.evaluate(x).any() and at_least.evaluate(x)[:4].all()
    rs = RuleSet(rules=(Rule((below,), 1),), classes=(0, 1), default=0)
    namespace: dict = {}
    exec(compile(rs.to_python(), "<export>", "exec"), namespace)
    assert [namespace["predict"]({"x": v}) for v in x[:4]] == [0, 0, 0, 0]


def test_a_numeric_condition_on_a_text_column_names_the_column():
    """Regression: numpy's "could not convert string to float: 'young'" did not say which column."""
    rs = RuleSet((Rule((Condition("age", "<=", 30.0),), 1),), (0, 1), 0)
    with pytest.raises(ValueError, match="column 'age' holds values that are not numbers"):
        rs.predict(pd.DataFrame({"age": ["young", "old"]}))


@pytest.mark.parametrize("rid", ["default", "student", "guard:0"])
def test_rule_ids_that_name_who_else_answers_are_refused(rid):
    from rulekd.exceptions import RuleFormatError

    with pytest.raises(RuleFormatError, match=f"Rule id '{rid}' is reserved"):
        RuleSet((Rule((Condition("x", ">", 0.5),), 1, id=rid),), classes=(0, 1), default=0)


def test_a_hybrids_rules_name_the_student_where_no_rule_answers():
    rule = Rule((Condition("x", ">", 0.5),), 1)
    for ordered in (True, False):
        rs = RuleSet((rule,), classes=(0, 1), default=0, ordered=ordered, metadata={"default": "student"})
        assert rs.decided_by(pd.DataFrame({"x": [0.9, 0.1]})).tolist() == [rs.rule_id(0), "student"]
        assert rs.to_text().endswith("the neural student")
    plain = RuleSet((rule,), classes=(0, 1), default=0, ordered=False)
    assert plain.decided_by(pd.DataFrame({"x": [0.1]})).tolist() == ["default"]
    assert plain.to_text().endswith("default: 0")


def test_merge_keeps_a_cast_and_a_plain_bound_that_tie_on_floats_but_not_on_big_integers():
    """A float32-cast and a plain bound with the same exact bound for every float64 differ on int64 values
    beyond 2**53 (the cast rounds them): merging kept either one, by argument order."""
    t = float(2**60 + 2**37)  # a float32 value whose upper midpoint rounds up
    cast = Condition("x", "<=", t, cast="float32")
    plain = Condition("x", "<=", cast.exact_bound()[1])
    x = np.array([2**60 + 3 * 2**36 - 1, 2**60, 2**61], dtype=np.int64)
    for conds in ([cast, plain], [plain, cast], [cast.negate(), plain.negate()], [plain.negate(), cast.negate()]):
        merged = merge_conjunction(conds)
        want = np.logical_and.reduce([c.evaluate(x) for c in conds])
        np.testing.assert_array_equal(np.logical_and.reduce([c.evaluate(x) for c in merged]), want)
    assert len(merge_conjunction([cast, Condition("x", "<=", t + 2**40, cast="float32")])) == 1  # still merged


def test_text_of_a_cast_threshold_beyond_float32_warns_nothing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "overflow encountered in cast" was raised here
        assert str(Condition("x", "<=", 1e308, cast="float32")) == "float32(x) <= 1e+308"
