"""RuleSet JSON: exact round trip (hypothesis), schema validation, malformed input."""

from __future__ import annotations

import json
import math
import struct

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulekd.exceptions import RuleFormatError
from rulekd.rules import FORMAT_VERSION, Condition, Rule, RuleSet, schema

F32_MAX = float(np.finfo(np.float32).max)


def _f32_neighbour(a: float, toward: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.nextafter(np.float32(a), np.float32(toward)))


finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)

thresholds = st.one_of(
    st.floats(allow_nan=False),  # any float64, subnormals and +-inf included
    finite32,  # float32 values
    st.tuples(finite32, st.sampled_from([math.inf, -math.inf])).map(lambda p: _f32_neighbour(*p)),
    # float64 values strictly between two float32 neighbours
    finite32.filter(lambda a: abs(a) < F32_MAX).map(lambda a: math.nextafter(a, math.inf)),
    finite32.filter(lambda a: abs(a) < F32_MAX).map(
        lambda a: (a + _f32_neighbour(a, math.inf)) / 2
    ),
    st.sampled_from([5e-324, -5e-324, 1e-310, 2.0**-149, 2.0**-150, -0.0, 0.0, F32_MAX, -F32_MAX]),
)

names = st.text(min_size=1, max_size=6)  # unicode included
str_levels = st.text(max_size=5)
int_levels = st.integers(-(2**40), 2**40)
probas = st.floats(min_value=0.0, max_value=1.0)

# Feature kinds: numeric, string categories, integer categories.
KINDS = ("num", "cat_str", "cat_int")


@st.composite
def conditions(draw, name, kind):
    choice = draw(st.sampled_from(("cmp", "set", "missing")))
    if choice == "missing":
        return Condition(name, draw(st.sampled_from(("is missing", "is not missing"))))
    if choice == "cmp" and kind == "num" or kind == "num" and choice == "set":
        return Condition(
            name,
            draw(st.sampled_from(("<=", "<", ">", ">="))),
            draw(thresholds),
            draw(st.booleans()),
            draw(st.sampled_from((None, "float32"))),
        )
    levels = draw(st.frozensets(str_levels if kind == "cat_str" else int_levels, max_size=4))
    return Condition(name, draw(st.sampled_from(("in", "not in"))), levels, draw(st.booleans()))


@st.composite
def rule_sets(draw):
    feats = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    kinds = {f: draw(st.sampled_from(KINDS)) for f in feats}
    label_kind = draw(st.sampled_from(("str", "int", "bool")))
    if label_kind == "bool":
        classes = draw(st.sampled_from([(False, True), (True, False), (True,)]))
    elif label_kind == "int":
        classes = tuple(draw(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=4, unique=True)))
    else:
        classes = tuple(draw(st.lists(st.text(max_size=4), min_size=1, max_size=4, unique=True)))
    k = len(classes)

    def proba_vec():
        return st.one_of(st.none(), st.lists(probas, min_size=k, max_size=k).map(tuple))

    n_rules = draw(st.integers(0, 5))
    use_ids = draw(st.booleans())
    rules = []
    for i in range(n_rules):
        conds = tuple(
            draw(conditions(f, kinds[f]))
            for f in draw(st.lists(st.sampled_from(feats), max_size=4))
        )
        rules.append(
            Rule(
                conditions=conds,
                prediction=draw(st.sampled_from(classes)),
                proba=draw(proba_vec()),
                support=draw(st.integers(0, 2**40)),
                confidence=draw(probas),
                id=f"rule-{i}-é" if use_ids else None,
                score=draw(st.one_of(st.none(), st.floats(allow_nan=False))),
            )
        )
    rs = RuleSet(
        rules=tuple(rules),
        classes=classes,
        default=draw(st.sampled_from(classes)),
        default_proba=draw(proba_vec()),
        ordered=draw(st.booleans()),
        feature_names=tuple(feats) if draw(st.booleans()) else None,
        metadata={"source": "hypothesis", "note": "ünïcode"},
    )
    return rs, kinds


def _bits(x: float) -> str:
    return struct.pack("<d", float(x)).hex()


def _typed(v):
    """A value with its exact type and, for floats, its exact bits."""
    if isinstance(v, float):
        return ("float", _bits(v))
    return (type(v).__name__, v)


def _exact(rs: RuleSet):
    """Everything a rule set holds, floats as bit patterns, labels and levels typed."""
    def cond(c: Condition):
        if c.is_numeric:
            value = _typed(c.value)
        elif c.is_categorical:
            value = sorted((_typed(v) for v in c.value), key=repr)
        else:
            value = None
        return (c.feature, c.op, value, c.missing, c.cast)

    def vec(p):
        return None if p is None else tuple(_bits(v) for v in p)

    return (
        tuple(
            (
                tuple(cond(c) for c in r.conditions),
                _typed(r.prediction),
                vec(r.proba),
                r.support,
                _bits(r.confidence),
                r.id,
                None if r.score is None else _bits(r.score),
            )
            for r in rs.rules
        ),
        tuple(_typed(c) for c in rs.classes),
        _typed(rs.default),
        vec(rs.default_proba),
        rs.ordered,
        rs.feature_names,
    )


def _data_for(rs: RuleSet, kinds: dict, rng: np.random.Generator, n: int = 60) -> pd.DataFrame:
    """Rows that hit thresholds, their neighbours, NaN, None, seen and unseen levels."""
    cols = {}
    for f, kind in kinds.items():
        conds = [c for r in rs.rules for c in r.conditions if c.feature == f]
        if kind == "num":
            pool = [math.nan, 0.0, -1.0, 1.0, math.inf, -math.inf]
            for c in conds:
                if c.is_numeric:
                    t = c.value
                    pool += [t, math.nextafter(t, math.inf), math.nextafter(t, -math.inf), c.exact_bound()[1]]
                    if math.isfinite(t) and abs(t) <= F32_MAX:
                        a = float(np.float32(t))
                        pool += [a, _f32_neighbour(a, math.inf), _f32_neighbour(a, -math.inf)]
            pool = [x for x in pool if not (isinstance(x, float) and math.isnan(x))] + [math.nan]
            cols[f] = np.array([pool[i] for i in rng.integers(0, len(pool), n)], dtype=np.float64)
        else:
            pool: list = [None, "unseen" if kind == "cat_str" else 123456789]
            for c in conds:
                if c.is_categorical:
                    pool += list(c.value)
            col = np.empty(n, dtype=object)
            col[:] = [pool[i] for i in rng.integers(0, len(pool), n)]
            cols[f] = col
    return pd.DataFrame(cols)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), st.sampled_from([2, None]), st.integers(0, 2**32 - 1))
def test_json_round_trip_is_exact(drawn, indent, seed):
    rs, kinds = drawn
    text = rs.to_json(indent=indent)
    back = RuleSet.from_json(text)
    assert back == rs
    assert _exact(back) == _exact(rs)
    assert back.metadata == rs.metadata
    # A second trip writes the same text.
    assert back.to_json(indent=indent) == text
    # The document is valid against the shipped schema.
    jsonschema.Draft202012Validator(schema()).validate(json.loads(text))
    X = _data_for(rs, kinds, np.random.default_rng(seed))
    np.testing.assert_array_equal(back.decide(X), rs.decide(X))
    assert list(back.predict(X)) == list(rs.predict(X))
    assert [type(v) for v in back.predict(X)] == [type(v) for v in rs.predict(X)]
    assert back.predict_proba(X).tobytes() == rs.predict_proba(X).tobytes()


def test_json_keeps_float32_neighbours_and_infinities_bit_for_bit():
    t = 0.1
    a = float(np.float32(t))
    values = [
        t, a, _f32_neighbour(a, math.inf), _f32_neighbour(a, -math.inf), math.nextafter(a, math.inf),
        5e-324, -5e-324, 2.0**-149, -0.0, 0.0, F32_MAX, math.nextafter(F32_MAX, math.inf),
        math.inf, -math.inf, 1.7976931348623157e308,
    ]
    rules = tuple(
        Rule((Condition("x", op, v, i % 2 == 0, cast),), 1, score=v, id=f"r{i}{op}{cast}")
        for i, v in enumerate(values)
        for op in ("<=", "<", ">", ">=")
        for cast in (None, "float32")
    )
    rs = RuleSet(rules, classes=(0, 1), default=0, ordered=True, feature_names=("x",))
    back = RuleSet.from_json(rs.to_json())
    got = [(r.conditions[0].value.hex(), r.score.hex()) for r in back.rules]
    want = [(r.conditions[0].value.hex(), r.score.hex()) for r in rs.rules]
    assert got == want
    neg_zero = 8 * values.index(-0.0)
    assert rs.rules[neg_zero].conditions[0].value.hex() == "-0x0.0p+0"
    assert math.copysign(1.0, back.rules[neg_zero].conditions[0].value) == -1.0


def test_json_infinity_is_written_as_a_string():
    rs = RuleSet((Rule((Condition("x", "<=", math.inf),), 1, score=-math.inf),), (0, 1), 0)
    d = json.loads(rs.to_json())
    assert d["rules"][0]["conditions"][0]["value"] == "inf"
    assert d["rules"][0]["score"] == "-inf"
    assert d["format"] == "rulekd.ruleset" and d["version"] == FORMAT_VERSION


def test_json_file_round_trip(tmp_path):
    rs = RuleSet(
        (Rule((Condition("âge", "in", {"é", "ß"}, True),), "ja", proba=(0.25, 0.75)),),
        ("nein", "ja"), "nein", ordered=False, feature_names=("âge",),
    )
    path = tmp_path / "rules.json"
    rs.to_json(path)
    assert not (tmp_path / "rules.json.tmp").exists()
    assert RuleSet.from_json(path) == rs
    assert RuleSet.from_json(str(path)) == rs
    assert RuleSet.from_json(path.read_bytes()) == rs


def test_labels_keep_their_type():
    for classes in [(0, 1), ("0", "1"), (False, True), (1.5, 2.5)]:
        rs = RuleSet((Rule((Condition("x", ">", 0.0),), classes[1]),), classes, classes[0])
        back = RuleSet.from_json(rs.to_json())
        assert [type(c) for c in back.classes] == [type(c) for c in classes]
        assert type(back.default) is type(classes[0])
        assert type(back.rules[0].prediction) is type(classes[1])


def _doc(**over) -> str:
    d = {
        "format": "rulekd.ruleset",
        "version": 1,
        "ordered": True,
        "classes": [0, 1],
        "default": 0,
        "rules": [{"conditions": [{"feature": "x", "op": "<=", "value": 1.0}], "prediction": 1}],
    }
    d.update(over)
    return json.dumps(d)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"format": "rulekd.ruleset", "version": 1,',
        "[]",
        b"null",
        "  \n null",
        '"just a string"',
        b"\xff\xfe{}",
        _doc(format="other"),
        _doc(version=2),
        _doc(version="1"),
        _doc(classes=[]),
        _doc(default=5),
        _doc(extra=1),
        _doc(ordered="yes"),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "~", "value": 1.0}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "<=", "value": "nan"}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "<=", "value": [1]}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "<=", "value": None}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "<="}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "in", "value": 1.0}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "in", "value": [[1]]}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "is missing", "value": 1}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "in", "value": [1], "cast": "float32"}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "x", "op": "<=", "value": 1, "cast": "float16"}], "prediction": 1}]),
        _doc(rules=[{"conditions": [{"feature": "", "op": "<=", "value": 1}], "prediction": 1}]),
        _doc(rules=[{"conditions": [], "prediction": 7}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "proba": [0.5]}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "proba": [0.5, 1.5]}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "confidence": 2}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "support": -1}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "id": "a"}, {"conditions": [], "prediction": 0, "id": "a"}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "id": 3}]),
        _doc(rules=[{"conditions": [], "prediction": 1, "score": "nan"}]),
        _doc(default_proba=[0.5, 0.5, 0.0]),
        _doc(feature_names=["y"]),
        _doc(feature_names=["x", "x"]),
        _doc(classes=[1, 1]),
        '{"format": "rulekd.ruleset", "version": 1, "ordered": true, "classes": [0, 1], "default": 0, '
        '"rules": [{"conditions": [{"feature": "x", "op": "<=", "value": NaN}], "prediction": 1}]}',
        '{"format": "rulekd.ruleset", "version": 1, "ordered": true, "classes": [0, 1], "default": 0, '
        '"rules": [{"conditions": [{"feature": "x", "op": "<=", "value": Infinity}], "prediction": 1}]}',
        "[" * 100_000,
        "{" + "x" * 5000,
    ],
)
def test_malformed_json_raises_rule_format_error(text):
    with pytest.raises(RuleFormatError):
        RuleSet.from_json(text)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        RuleSet.from_json(tmp_path / "nope.json")


@pytest.mark.parametrize("text", ["x" * 300, "x" * 5000, "not/a/file.json"])
def test_a_string_that_is_neither_json_nor_a_file_is_not_an_oserror(text):
    """Regression: a long string was taken for a path and os.stat raised OSError (name too long)."""
    with pytest.raises((RuleFormatError, FileNotFoundError)) as info:
        RuleSet.from_json(text)
    assert len(str(info.value)) < 400


def test_labels_and_levels_json_cannot_hold_are_refused_when_written():
    """Regression: None and tuple labels were written, then refused by from_json; a date label raised
    json's bare TypeError."""
    import datetime

    for label in (None, ("a", 1), datetime.date(2026, 1, 1), b"x"):
        rs = RuleSet(rules=(Rule((Condition("x", ">", 0.5),), label),), classes=(label, "b"), default="b")
        with pytest.raises(RuleFormatError, match="cannot be written to rule-set JSON"):
            rs.to_json()


def test_a_whole_number_too_large_for_a_double_is_a_format_error():
    """Regression: a 401-digit threshold or score raised OverflowError from float()."""
    doc = json.loads(RuleSet(rules=(Rule((Condition("x", ">", 0.5),), 1, score=0.25),), classes=(0, 1),
                             default=0).to_json())
    for where in ("value", "score"):
        bad = json.loads(json.dumps(doc))
        if where == "value":
            bad["rules"][0]["conditions"][0]["value"] = 10**400
        else:
            bad["rules"][0]["score"] = 10**400
        with pytest.raises(RuleFormatError, match="too large for a float"):
            RuleSet.from_json(json.dumps(bad))
    with pytest.raises(RuleFormatError, match="too large for a float"):
        Condition("x", "<=", 10**400)


def test_from_json_rejects_other_types():
    with pytest.raises(TypeError):
        RuleSet.from_json(42)


def test_shipped_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(schema())


def test_a_document_nested_too_deeply_for_the_schema_is_a_clean_error(monkeypatch):
    """The loader fuzz test found a document ("classes" nested 1,978 deep) that json.loads reads but that
    jsonschema, a few frames per level, walks past Python's recursion limit. How deep that is depends on the
    stack left at the call, so the schema walk is made to hit the limit here."""
    import jsonschema

    def too_deep(self, instance, _schema=None):
        raise RecursionError("maximum recursion depth exceeded")
        yield  # a generator, like the real iter_errors

    monkeypatch.setattr(jsonschema.Draft202012Validator, "iter_errors", too_deep)
    rs = RuleSet(rules=(Rule((Condition("x", ">", 0.5),), 1),), classes=(0, 1), default=0)
    with pytest.raises(RuleFormatError, match="nested too deeply"):
        RuleSet.from_json(rs.to_json())


@pytest.mark.parametrize("field,text", [
    ("classes", '"classes": [0, 1e400], "default": 0, "rules": []'),
    ("default", '"classes": [0, 1], "default": -1e400, "rules": []'),
    ("prediction", '"classes": [0, 1], "default": 0, "rules": [{"conditions": [], "prediction": 1e999}]'),
])
def test_labels_json_cannot_write_are_refused_on_read(field, text):
    """1e400 reads as inf: from_json accepted a label to_json then refused to write (no round trip)."""
    doc = '{"format": "rulekd.ruleset", "version": 1, "ordered": true, ' + text + "}"
    with pytest.raises(RuleFormatError, match="cannot be inf|cannot be -inf"):
        RuleSet.from_json(doc)
