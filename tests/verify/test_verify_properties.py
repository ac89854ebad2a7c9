"""User properties (Implies, Monotone, Invariant) and the grammar that reads them."""

from __future__ import annotations

import re

import pytest

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.exceptions import DomainError
from rulekd.verify import (Implies, Invariant, Monotone, PropertySyntaxError, parse_condition, parse_property,
                           verify)
from rulekd.verify._encode import frame_from_rows

DOM = Domain((
    FeatureSpec("age", "integer", 18, 99),
    FeatureSpec("credit_amount", "real", 0, 50_000, allow_missing=True),
    FeatureSpec("duration", "integer", 1, 72),
    FeatureSpec("sex", "categorical", levels=("female", "male")),
    FeatureSpec("job", "categorical", levels=("a", "b", "c")),
))

RULES = RuleSet((
    Rule((C("age", "<", 25.0), C("credit_amount", ">", 10_000.0)), "bad", id="young_big"),
    Rule((C("duration", ">", 36.0),), "bad", id="long"),
    Rule((C("job", "in", {"c"}), C("duration", "<=", 12.0)), "bad", id="c_short"),
), classes=("bad", "good"), default="good", ordered=True)


def finding(report, text):
    (f,) = [f for f in report.findings if f.check == "property" and f.property == text]
    return f


def predict(frame):
    return RULES.predict(frame[list(DOM.names)])


# -- proofs and refutations ---------------------------------------------------------


def test_implies_proved_and_refuted():
    props = [Implies("age < 25 and credit_amount > 10000", then="bad"), "if age < 30 then bad"]
    report = verify(RULES, DOM, properties=props, checks="none")
    assert finding(report, str(props[0])).status == "proved"
    f = finding(report, 'if age < 30.0 then "bad"')
    assert f.status == "violated" and f.counterexample["age"] < 30
    assert predict(frame_from_rows([f.counterexample], DOM))[0] != "bad"


def test_monotone_proved_and_refuted():
    up = Monotone("duration", direction="increasing", toward="bad")
    # Raising duration leaves c_short (duration <= 12): job c, duration 12 -> 13 is "good".
    report = verify(RULES, DOM, properties=[up, Monotone("credit_amount", toward="bad")], checks="none")
    f = finding(report, str(up))
    assert f.status == "violated"
    x, xp = f.counterexample["x"], f.counterexample["x_prime"]
    assert xp["duration"] >= x["duration"] and {k: v for k, v in x.items() if k != "duration"} == {
        k: v for k, v in xp.items() if k != "duration"}
    assert list(predict(frame_from_rows([x, xp], DOM))) == ["bad", "good"]
    assert finding(report, 'monotone credit_amount increasing toward "bad"').status == "proved"


def test_invariant_proved_and_refuted():
    report = verify(RULES, DOM, properties=[Invariant("sex"), "invariant job"], checks="none")
    assert finding(report, "invariant sex").status == "proved"
    f = finding(report, "invariant job")
    assert f.status == "violated"
    x, xp = f.counterexample["x"], f.counterexample["x_prime"]
    assert x["job"] != xp["job"] and predict(frame_from_rows([x], DOM))[0] != predict(frame_from_rows([xp], DOM))[0]


def test_invariant_over_missingness():
    rs = RuleSet((Rule((C("credit_amount", "is missing"),), "bad"),), classes=("bad", "good"), default="good")
    (f,) = verify(rs, DOM, properties=["invariant credit_amount"], checks="none").findings
    assert f.status == "violated"
    assert (f.counterexample["x"]["credit_amount"] is None) != (f.counterexample["x_prime"]["credit_amount"] is None)


def test_invariant_over_a_onehot_group():
    dom = Domain((FeatureSpec("s_f", "binary", 0, 1), FeatureSpec("s_m", "binary", 0, 1),
                  FeatureSpec("x", "real", 0, 1)), onehot_groups=(("s_f", "s_m"),))
    rs = RuleSet((Rule((C("s_f", ">", 0.5), C("x", ">", 0.5)), 1),), classes=(0, 1), default=0)
    # Changing one member alone leaves the Domain, so only the group changes together.
    assert verify(rs, dom, properties=[Invariant("s_f")], checks="none").findings[0].status == "proved"
    f = verify(rs, dom, properties=[Invariant(("s_f", "s_m"))], checks="none").findings[0]
    assert f.status == "violated" and f.property == "invariant s_f, s_m"


def test_integer_class_labels_accept_text_from_the_cli():
    rs = RULES.replace(rules=tuple(Rule(r.conditions, 1, id=r.id) for r in RULES.rules), classes=(0, 1), default=0)
    report = verify(rs, DOM, properties=["if duration > 40 then 1", Implies("duration > 40", then="1")],
                    checks="none")
    assert [f.status for f in report.findings] == ["proved", "proved"]
    with pytest.raises(ValueError, match="classes are"):
        verify(rs, DOM, properties=["if duration > 40 then bad"], checks="none")


def test_property_validation_errors_name_the_problem():
    with pytest.raises(DomainError, match="'agee'"):
        verify(RULES, DOM, properties=["if agee < 3 then bad"], checks="none")
    with pytest.raises(DomainError, match="not a level"):
        verify(RULES, DOM, properties=['if job in {"z"} then bad'], checks="none")
    with pytest.raises(DomainError, match="categorical"):
        verify(RULES, DOM, properties=[Monotone("job", toward="bad")], checks="none")


# -- concrete evaluation (for the hybrid) ---------------------------------------------


def test_holds_on_concrete_inputs_agrees_with_the_proof():
    X = DOM.sample(2000, random_state=0, missing_rate=0.1)
    imp = Implies("age < 25 and credit_amount > 10000", then="bad")
    assert imp.validate(DOM, RULES.classes).holds(predict, X).all()
    mono = Monotone("duration", toward="bad").validate(DOM, RULES.classes)
    X1, X2 = mono.sample_pairs(X, DOM, random_state=1)
    assert not mono.holds(predict, X1, X2).all()  # the refuted property fails on some sampled pair
    inv = Invariant("sex")
    X1, X2 = inv.sample_pairs(X, DOM, random_state=2)
    assert inv.holds(predict, X1, X2).all()
    with pytest.raises(ValueError, match="X_prime"):
        inv.holds(predict, X)
    with pytest.raises(ValueError, match="partner"):
        mono.holds(predict, X2, X1.assign(age=X1["age"] + 1))


# -- grammar -------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("age < 25", "age < 25.0"),
    ("25 > age", "age < 25.0"),
    ("18 <= age < 65", "age >= 18.0 and age < 65.0"),
    ("not (age < 25 or job in {'a', \"b\"})", 'not (age < 25.0 or job in {"a", "b"})'),
    ("credit_amount is missing or credit_amount is not missing", "credit_amount is missing or credit_amount is not missing"),
    ("`credit amount` >= -1e3", "`credit amount` >= -1000.0"),
    ("sex == 'female' AND job != 'a'", 'sex in {"female"} and job not in {"a"}'),
    ("x == 3", "x >= 3.0 and x <= 3.0"),
    ("x != 3", "x < 3.0 or x > 3.0"),
    ("job not in {1, 2.5}", "job not in {1, 2.5}"),
    ("x > -inf", "x > -inf"),
])
def test_conditions_parse_to_canonical_text(text, expected):
    expr = parse_condition(text)
    assert str(expr) == expected
    assert str(parse_condition(str(expr))) == expected  # the canonical text reads back the same


@pytest.mark.parametrize("text", [
    "__import__('os').system('rm -rf /')",
    "age < 25; import os",
    "eval('1')",
    "age < (lambda: 1)()",
    "age.__class__ < 3",
    "age < 25 and",
    "age = 25",
    "age <",
    "age < 'x'",
    "'x' < 'y'",
    "job in {a}",
    "age < 25 25",
    "(age < 25",
    "age is",
    "1 < age > 3",
    "`unterminated < 3",
    "'unterminated",
    "",
    "age < 0x10",
    "not " * 200 + "age < 3",
    "age < 1" + "0" * 400,
])
def test_grammar_rejects_everything_outside_it(text):
    with pytest.raises(PropertySyntaxError):
        parse_condition(text)


def test_syntax_error_points_at_the_problem():
    with pytest.raises(PropertySyntaxError) as err:
        parse_condition("age < 25 and __import__('os')")
    assert "position 23" in str(err.value) and "^" in str(err.value)


@pytest.mark.parametrize("text, word", [
    ("invariant income.monthly", "income.monthly"),
    ("invariant Städte", "Städte"),
    ("monotone x[1] increasing toward 1", "x[1]"),
    ("if a > 3 and b.c < 2 then 1", "b.c"),
])
def test_a_name_that_needs_backticks_is_shown_in_them(text, word):
    """A character outside A-Z, a-z, 0-9 and _ inside a name: the error shows the name quoted, which reads."""
    with pytest.raises(PropertySyntaxError, match=re.escape(f"goes in backticks: `{word}`")):
        parse_property(text)
    quoted = text.replace(word, f"`{word}`")
    assert word in str(parse_property(quoted).text())
    with pytest.raises(PropertySyntaxError) as err:  # not a name: no such hint
        parse_condition("a > 3 ; b < 2")
    assert "backticks" not in str(err.value)


@pytest.mark.parametrize("text, kind", [
    ("if age < 25 and credit_amount > 10000 then bad", "Implies"),
    ('Implies("age < 25 and credit_amount > 10000", then="bad")', "Implies"),
    ("monotone duration increasing toward bad", "Monotone"),
    ('Monotone("duration", direction="decreasing", toward=1)', "Monotone"),
    ("invariant sex", "Invariant"),
    ("Invariant(`sex`)", "Invariant"),
    ("invariant s_f, s_m", "Invariant"),
    ("if (age < 25 or age > 60) and duration < 12 then bad", "Implies"),  # `if (` read as a call before
    ("IF (age < 25) THEN bad", "Implies"),
])
def test_properties_parse(text, kind):
    p = parse_property(text)
    assert type(p).__name__ == kind
    assert parse_property(str(p)) == p  # canonical text round-trips


@pytest.mark.parametrize("text", [
    "Implies(__import__('os'), then=1)",
    "Implies('age < 3', then=1, extra=2)",
    "Implies('age < 3')",
    "Exec('age < 3', then=1)",
    "monotone duration sideways toward bad",
    "monotone duration increasing",
    "if age < 3 then",
    "if age < 3 bad",
    "invariant",
    "invariant sex and",
    "Monotone('duration', direction='up', toward=1)",
    "Implies(1, then=1)",
])
def test_property_grammar_rejects_everything_outside_it(text):
    with pytest.raises(PropertySyntaxError):
        parse_property(text)


def test_parser_never_evaluates_python(monkeypatch):
    import builtins

    def boom(*a, **k):  # pragma: no cover - would mean the parser evaluated text
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    assert str(parse_property("if age < 25 then bad")) == 'if age < 25.0 then "bad"'
    with pytest.raises(PropertySyntaxError):
        parse_property("if __import__('os').system('echo hi') then bad")


def test_a_property_text_written_by_rulekd_parses_back():
    p = Implies("x != 3 and y < 2", then=1)  # its text opens with a parenthesis: "if (x < 3.0 or x > 3.0) ..."
    assert str(p).startswith("if (")
    assert parse_property(str(p)) == p


@pytest.mark.parametrize("level", ["x\ny", "tab\there", "ctl\x01", "q\"uote", "back\\slash", "\u00e9", "\U0001F600"])
def test_levels_with_control_characters_survive_the_text_form(level):
    c = C("f", "in", {level, "plain"})
    (back,) = parse_condition(str(c)).conditions()
    assert back == c


@pytest.mark.parametrize("levels", [{True}, {False, True}, {2**53 + 1, -(2**63)}, {10**20}, {1, 2.5, "x"}])
def test_bool_and_large_integer_levels_survive_the_text_form(levels):
    """Regression: `f in {True}` and `id in {9007199254740993}`, as the rules' text writes them, did not
    parse back (no boolean literal; the 2**53 limit of comparisons applied to levels)."""
    c = C("f", "in", levels)
    (back,) = parse_condition(str(c)).conditions()
    assert back == c and {type(v) for v in back.value} == {type(v) for v in levels}
    with pytest.raises(PropertySyntaxError, match="cannot be represented exactly"):
        parse_condition(f"f < {2**53 + 1}")  # a comparison still refuses it


def test_json_escapes_and_the_empty_level_set_parse():
    (c,) = parse_condition('f in {"a\\u0001b", "\\ud83d\\ude00", \'it\\\'s\'}').conditions()
    assert c.value == frozenset({"a\x01b", "\U0001F600", "it's"})
    (empty,) = parse_condition(str(C("f", "in", set()))).conditions()
    assert empty.op == "in" and empty.value == frozenset()


def test_a_feature_named_like_a_second_inputs_copy_does_not_hide_a_violation():
    """Regression: the second input of a two-input property named its copy of feature a "a'" in Z3, the
    very constant of a feature called a'; their bounds then contradicted each other and both properties
    read as proved."""
    dom = Domain((FeatureSpec("a", "real", 0.0, 1.0, allow_missing=True), FeatureSpec("a'", "real", 2.0, 3.0)))
    rs = RuleSet((Rule((C("a", ">", 0.5),), 1),), classes=(0, 1), default=0, ordered=True)
    rep = verify(rs, dom, properties=[Invariant("a"), Monotone("a", "decreasing", toward=1)], checks="none")
    assert [f.status for f in rep.findings] == ["violated", "violated"]


def test_a_property_proved_because_no_input_meets_its_condition_says_so():
    """`if age > 100 then bad` over ages 18-99 holds for no input at all: proved, and the report says it is
    vacuous (a CLI user read 'proved' while predict answered 'good' for age 120, outside the Domain)."""
    rep = verify(RULES, DOM, properties=["if age > 100 then bad", "if age > 40 and age < 42 then good"],
                 checks="none")
    vac, real = rep.findings
    assert vac.status == "proved" and vac.details == {"vacuous": True} and "vacuously" in vac.message
    assert "vacuously" not in real.message and not real.details.get("vacuous")
    assert "vacuously" in rep.summary()
