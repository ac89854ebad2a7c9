"""The small, safely parsed language of user conditions and properties.

Conditions::

    cond    := or
    or      := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | "(" cond ")" | test
    test    := name OP value                     age < 25, sex == "female"
             | value OP name [OP value]          25 > age,  18 <= age < 65
             | name ["not"] "in" "{" [value ("," value)*] "}"
             | name "is" ["not"] "missing"
             | "true" | "false"
    OP      := "<" | "<=" | ">" | ">=" | "==" | "!="
    name    := identifier | `any text` (backticks, a doubled `` for a backtick)
    value   := number | "string" | 'string'   (JSON's escapes: \\n, \\t, \\uXXXX, \\", \\\\; and \\')

Properties::

    if COND then LABEL
    monotone NAME increasing|decreasing toward LABEL
    invariant NAME
    Implies("COND", then=LABEL) | Monotone(NAME, direction=..., toward=LABEL) | Invariant(NAME)

Keywords are case-insensitive. A comparison on a missing value is false
(``not`` then makes it true); ``!=`` is false on a missing value too. The text
is tokenised and parsed by hand: nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..exceptions import RulekdError
from ..rules._ir import Condition, _quote_name

__all__ = [
    "PropertySyntaxError",
    "Expr",
    "Test",
    "AllOf",
    "AnyOf",
    "Negation",
    "Constant",
    "parse_condition",
    "parse_property_parts",
]

MAX_LENGTH = 20_000
MAX_DEPTH = 100
_KEYWORDS = {"and", "or", "not", "in", "is", "missing", "true", "false"}
_CMP = ("<=", ">=", "==", "!=", "<", ">")
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


class PropertySyntaxError(RulekdError, ValueError):
    """A condition or property string is outside the grammar (the message shows where)."""


# -- expression tree ----------------------------------------------------------


class Expr:
    """A Boolean formula over feature tests; leaves are IR :class:`Condition` objects."""

    def conditions(self) -> Iterator[Condition]:
        raise NotImplementedError

    @property
    def features(self) -> frozenset[str]:
        return frozenset(c.feature for c in self.conditions())

    def evaluate(self, column: Callable[[str], Any], n: int) -> np.ndarray:
        """Boolean array over ``n`` rows; ``column(name)`` returns that feature's values."""
        raise NotImplementedError

    def z3(self, cond: Callable[[Condition], Any]) -> Any:
        """Z3 formula, with ``cond(c)`` encoding one condition."""
        raise NotImplementedError

    def text(self, parent: int = 0) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text()


@dataclass(frozen=True)
class Constant(Expr):
    value: bool

    def conditions(self) -> Iterator[Condition]:
        return iter(())

    def evaluate(self, column: Callable[[str], Any], n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=bool)

    def z3(self, cond: Callable[[Condition], Any]) -> Any:
        import z3

        return z3.BoolVal(self.value)

    def text(self, parent: int = 0) -> str:
        return "true" if self.value else "false"


@dataclass(frozen=True)
class Test(Expr):
    """One condition; its ``missing`` flag is False (a test on a missing value fails)."""

    condition: Condition

    def conditions(self) -> Iterator[Condition]:
        yield self.condition

    def evaluate(self, column: Callable[[str], Any], n: int) -> np.ndarray:
        return np.asarray(self.condition.evaluate(column(self.condition.feature)), dtype=bool)

    def z3(self, cond: Callable[[Condition], Any]) -> Any:
        return cond(self.condition)

    def text(self, parent: int = 0) -> str:
        c = self.condition
        name = quote_name(c.feature)
        if c.op in ("is missing", "is not missing"):
            return f"{name} {c.op}"
        if c.is_numeric:
            shown = f"float32({name})" if c.cast == "float32" else name
            return f"{shown} {c.op} {c.value!r}"
        levels = sorted(c.value, key=lambda v: (0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v)))
        return f"{name} {c.op} {{" + ", ".join(format_label(v) for v in levels) + "}"


@dataclass(frozen=True)
class Negation(Expr):
    child: Expr

    def conditions(self) -> Iterator[Condition]:
        return self.child.conditions()

    def evaluate(self, column: Callable[[str], Any], n: int) -> np.ndarray:
        return ~self.child.evaluate(column, n)

    def z3(self, cond: Callable[[Condition], Any]) -> Any:
        import z3

        return z3.Not(self.child.z3(cond))

    def text(self, parent: int = 0) -> str:
        return f"not {self.child.text(3)}"


@dataclass(frozen=True)
class AllOf(Expr):
    children: tuple[Expr, ...]

    def conditions(self) -> Iterator[Condition]:
        for c in self.children:
            yield from c.conditions()

    def evaluate(self, column: Callable[[str], Any], n: int) -> np.ndarray:
        out = np.ones(n, dtype=bool)
        for c in self.children:
            out &= c.evaluate(column, n)
        return out

    def z3(self, cond: Callable[[Condition], Any]) -> Any:
        import z3

        return z3.And([c.z3(cond) for c in self.children])

    def text(self, parent: int = 0) -> str:
        t = " and ".join(c.text(2) for c in self.children)
        return f"({t})" if parent > 2 else t


@dataclass(frozen=True)
class AnyOf(Expr):
    children: tuple[Expr, ...]

    def conditions(self) -> Iterator[Condition]:
        for c in self.children:
            yield from c.conditions()

    def evaluate(self, column: Callable[[str], Any], n: int) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        for c in self.children:
            out |= c.evaluate(column, n)
        return out

    def z3(self, cond: Callable[[Condition], Any]) -> Any:
        import z3

        return z3.Or([c.z3(cond) for c in self.children])

    def text(self, parent: int = 0) -> str:
        t = " or ".join(c.text(1) for c in self.children)
        return f"({t})" if parent > 1 else t


# -- tokenizer ------------------------------------------------------------------

_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Tok:
    kind: str  # "num", "str", "name", "qname", "op", "end"
    value: Any
    pos: int
    text: str


def _quote_hint(source: str, pos: int) -> str:
    """Where an unexpected character sits in a word (``income.monthly``, ``Städte``, ``x[1]``): how to write
    that word as one feature name."""
    stop = set(" \t\r\n<>=!{}(),\"'`")
    lo, hi = pos, pos + 1
    while lo > 0 and source[lo - 1] not in stop:
        lo -= 1
    while hi < len(source) and source[hi] not in stop:
        hi += 1
    word = source[lo:hi]
    if not any(c.isalpha() or c == "_" for c in word):
        return ""
    return f"; a feature name with characters other than A-Z, a-z, 0-9 and _ goes in backticks: `{word}`"


def _error(source: str, pos: int, message: str) -> PropertySyntaxError:
    snippet = source if len(source) <= 120 else source[max(0, pos - 50) : pos + 50]
    offset = pos if len(source) <= 120 else pos - max(0, pos - 50)
    return PropertySyntaxError(f"{message} (at position {pos}):\n  {snippet}\n  {' ' * offset}^")


_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "/": "/", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _join_surrogates(text: str) -> str:
    """A JSON surrogate pair (two \\u escapes) as the one character it encodes; a lone one stays."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return text


def _tokenize(source: str) -> list[_Tok]:
    if not isinstance(source, str):
        raise PropertySyntaxError(f"Expected a string, got {type(source).__name__}.")
    if len(source) > MAX_LENGTH:
        raise PropertySyntaxError(f"The text is {len(source)} characters long; the limit is {MAX_LENGTH}.")
    toks: list[_Tok] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "\"'":
            j, buf = i + 1, []
            while j < n and source[j] != ch:
                if source[j] == "\\" and j + 1 < n:
                    # JSON's escapes (the rule text writes levels as JSON strings: a newline is \n), and \'
                    e = source[j + 1]
                    if e in _ESCAPES:
                        buf.append(_ESCAPES[e])
                        j += 2
                        continue
                    if e == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", source[j + 2 : j + 6]):
                        buf.append(chr(int(source[j + 2 : j + 6], 16)))
                        j += 6
                        continue
                buf.append(source[j])
                j += 1
            if j >= n:
                raise _error(source, i, "Unterminated string")
            toks.append(_Tok("str", _join_surrogates("".join(buf)), i, source[i : j + 1]))
            i = j + 1
            continue
        if ch == "`":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise _error(source, i, "Unterminated `quoted name`")
                if source[j] == "`":
                    if j + 1 < n and source[j + 1] == "`":
                        buf.append("`")
                        j += 2
                        continue
                    break
                buf.append(source[j])
                j += 1
            if not buf:
                raise _error(source, i, "Empty `quoted name`")
            toks.append(_Tok("qname", "".join(buf), i, source[i : j + 1]))
            i = j + 1
            continue
        m = _NUMBER.match(source, i)
        if m and (ch.isdigit() or ch == "."):
            text = m.group(0)
            if _IDENT.match(source, m.end()):
                raise _error(source, i, f"Malformed number {source[i:m.end() + 1]!r}")
            toks.append(_Tok("num", text, i, text))
            i = m.end()
            continue
        m = _IDENT.match(source, i)
        if m:
            text = m.group(0)
            toks.append(_Tok("name", text, i, text))
            i = m.end()
            continue
        two = source[i : i + 2]
        if two in ("<=", ">=", "==", "!="):
            toks.append(_Tok("op", two, i, two))
            i += 2
            continue
        if ch in "<>{}(),=-+":
            toks.append(_Tok("op", ch, i, ch))
            i += 1
            continue
        raise _error(source, i, f"Unexpected character {ch!r}" + _quote_hint(source, i))
    toks.append(_Tok("end", None, n, "end of text"))
    return toks


# -- parser ---------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.toks = _tokenize(source)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, message: str, tok: _Tok | None = None) -> PropertySyntaxError:
        t = tok or self.tok
        return _error(self.source, t.pos, message)

    def is_kw(self, word: str, tok: _Tok | None = None) -> bool:
        t = tok or self.tok
        return t.kind == "name" and t.value.lower() == word

    def is_op(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.value == op

    def next(self) -> _Tok:
        t = self.tok
        self.i += 1
        return t

    def expect_op(self, op: str, what: str) -> None:
        if not self.is_op(op):
            raise self.error(f"Expected {op!r} {what}, got {self.tok.text!r}")
        self.next()

    def expect_end(self) -> None:
        if self.tok.kind != "end":
            raise self.error(f"Unexpected {self.tok.text!r} after a complete expression")

    # condition grammar
    def condition(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"Expression nested more than {MAX_DEPTH} levels deep")
        try:
            parts = [self.conjunction()]
            while self.is_kw("or"):
                self.next()
                parts.append(self.conjunction())
            return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))
        finally:
            self.depth -= 1

    def conjunction(self) -> Expr:
        parts = [self.unary()]
        while self.is_kw("and"):
            self.next()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def unary(self) -> Expr:
        if self.is_kw("not"):
            self.next()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"Expression nested more than {MAX_DEPTH} levels deep")
            try:
                return Negation(self.unary())
            finally:
                self.depth -= 1
        if self.is_op("("):
            self.next()
            inner = self.condition()
            self.expect_op(")", "to close the parenthesis")
            return inner
        return self.test()

    def name(self, what: str = "a feature name") -> str:
        t = self.tok
        if t.kind == "qname":
            self.next()
            return t.value
        if t.kind == "name" and t.value.lower() not in _KEYWORDS:
            self.next()
            return t.value
        if t.kind == "name":
            raise self.error(f"Expected {what}, got the keyword {t.text!r} (quote a feature of that name with backticks)")
        raise self.error(f"Expected {what}, got {t.text!r}")

    def at_value(self) -> bool:
        t = self.tok
        return t.kind in ("num", "str") or (t.kind == "op" and t.value in "-+")

    def value(self) -> Any:
        t = self.tok
        sign = 1
        if t.kind == "op" and t.value in "-+":
            sign = -1 if t.value == "-" else 1
            self.next()
            t = self.tok
            if t.kind != "num" and not self.is_kw_inf(t):
                raise self.error(f"Expected a number after the sign, got {t.text!r}")
        if t.kind == "str":
            if sign != 1:
                raise self.error("A sign cannot precede a string")
            self.next()
            return t.value
        if t.kind == "num":
            self.next()
            return sign * _number(t.value, self, t)
        if self.is_kw_inf(t):
            self.next()
            return sign * math.inf
        raise self.error(f"Expected a number or a quoted string, got {t.text!r}")

    @staticmethod
    def is_kw_inf(t: _Tok) -> bool:
        return t.kind == "name" and t.value.lower() == "inf"

    def cmp_op(self) -> str | None:
        if self.tok.kind == "op" and self.tok.value in _CMP:
            return self.next().value
        if self.is_op("="):
            raise self.error("Use '==' to compare, not '='")
        return None

    def float32_test(self) -> Expr:
        """``float32(name) op number``: the condition compares the value rounded to float32."""
        self.next()
        self.next()
        name = self.name()
        self.expect_op(")", "to close float32(")
        op_tok = self.tok
        op = self.cmp_op()
        if op not in ("<", "<=", ">", ">="):
            raise self.error("float32(...) takes <, <=, > or >= and a number", op_tok)
        value = self.value()
        if isinstance(value, str):
            raise self.error(f"Cannot compare float32({name}) with the string {value!r}", op_tok)
        return Test(Condition(name, op, float(value), cast="float32"))

    def test(self) -> Expr:
        if self.is_kw("true") or self.is_kw("false"):
            return Constant(self.next().value.lower() == "true")
        if self.at_value():
            left = self.value()
            op_tok = self.tok
            op = self.cmp_op()
            if op is None:
                raise self.error(f"Expected a comparison operator after the value, got {self.tok.text!r}")
            name = self.name()
            first = _compare(name, _FLIP[op], left, self, op_tok)
            op_tok = self.tok
            op2 = self.cmp_op()
            if op2 is None:
                return first
            same_way = (op in ("<", "<=") and op2 in ("<", "<=")) or (op in (">", ">=") and op2 in (">", ">="))
            if not same_way:
                raise self.error("A chained comparison must go one way: a < x <= b or a > x >= b", op_tok)
            right = self.value()
            return AllOf((first, _compare(name, op2, right, self, op_tok)))
        if self.is_kw("float32") and self.toks[self.i + 1].kind == "op" and self.toks[self.i + 1].value == "(":
            return self.float32_test()  # a float32-cast condition, as imported trees print them
        name = self.name()
        if self.is_kw("is"):
            self.next()
            negate = False
            if self.is_kw("not"):
                self.next()
                negate = True
            if not self.is_kw("missing"):
                raise self.error(f"Expected 'missing' after 'is{' not' if negate else ''}', got {self.tok.text!r}")
            self.next()
            return Test(Condition(name, "is not missing" if negate else "is missing"))
        negate = False
        if self.is_kw("not"):
            self.next()
            negate = True
            if not self.is_kw("in"):
                raise self.error(f"Expected 'in' after '{name} not', got {self.tok.text!r}")
        if self.is_kw("in"):
            self.next()
            levels = self.level_set()
            return Test(Condition(name, "not in" if negate else "in", frozenset(levels)))
        op_tok = self.tok
        op = self.cmp_op()
        if op is None:
            raise self.error(
                f"Expected a comparison (<, <=, >, >=, ==, !=), 'in', 'not in' or 'is missing' after "
                f"{name!r}, got {self.tok.text!r}"
            )
        value = self.value()
        return _compare(name, op, value, self, op_tok)

    def level_set(self) -> list:
        self.expect_op("{", "to open the set of levels")
        if self.is_op("}"):  # the empty set: `f in {}` holds for no present value
            self.next()
            return []
        out = [self.level()]
        while self.is_op(","):
            self.next()
            out.append(self.level())
        self.expect_op("}", "to close the set of levels")
        return out

    def level(self) -> Any:
        """A level in a set: as :meth:`value`, and also ``True`` / ``False`` and integers however large
        (a level is compared for equality, not as a float), as the rules' text writes them."""
        t = self.tok
        if t.kind == "name" and t.value.lower() in ("true", "false"):
            self.next()
            return t.value.lower() == "true"
        sign = -1 if t.kind == "op" and t.value == "-" else 1
        digits = self.toks[self.i + 1] if sign < 0 else t
        if digits.kind == "num" and re.fullmatch(r"\d+", digits.value):
            if sign < 0:
                self.next()
            self.next()
            return sign * int(digits.value)
        return self.value()

    # property grammar
    def label(self) -> Any:
        t = self.tok
        if t.kind == "name" and t.value.lower() in ("true", "false"):  # a bool class label (format_label: True)
            self.next()
            return t.value.lower() == "true"
        sign = -1 if t.kind == "op" and t.value == "-" else 1
        digits = self.toks[self.i + 1] if sign < 0 else t
        if digits.kind == "num" and re.fullmatch(r"\d+", digits.value):  # an integer label, exact however large
            if sign < 0:
                self.next()
            self.next()
            return sign * int(digits.value)
        if t.kind == "name" and t.value.lower() not in _KEYWORDS:
            self.next()
            return t.value
        if t.kind == "qname":
            self.next()
            return t.value
        return self.value()

    def prop(self) -> tuple[str, dict]:
        t = self.tok
        if (t.kind == "name" and not self.is_kw("if", t) and self.toks[self.i + 1].kind == "op"
                and self.toks[self.i + 1].value == "("):  # Implies(...), ...; `if (a or b) ...` is not a call
            return self.call()
        if self.is_kw("if", t):
            self.next()
            cond = self.condition()
            if not self.is_kw("then"):
                raise self.error(f"Expected 'then' after the condition, got {self.tok.text!r}")
            self.next()
            label = self.label()
            self.expect_end()
            return "implies", {"condition": cond, "then": label}
        if self.is_kw("monotone", t):
            self.next()
            name = self.name()
            if not (self.is_kw("increasing") or self.is_kw("decreasing")):
                raise self.error(f"Expected 'increasing' or 'decreasing', got {self.tok.text!r}")
            direction = self.next().value.lower()
            if not self.is_kw("toward"):
                raise self.error(f"Expected 'toward LABEL', got {self.tok.text!r}")
            self.next()
            label = self.label()
            self.expect_end()
            return "monotone", {"feature": name, "direction": direction, "toward": label}
        if self.is_kw("invariant", t):
            self.next()
            names = [self.name()]
            while self.is_op(","):
                self.next()
                names.append(self.name())
            self.expect_end()
            return "invariant", {"feature": names[0], "features": names}
        raise self.error(
            "Expected a property: 'if COND then LABEL', 'monotone NAME increasing|decreasing toward LABEL', "
            "'invariant NAME', or Implies(...), Monotone(...), Invariant(...); got " + repr(t.text)
        )

    def call(self) -> tuple[str, dict]:
        head = self.next()
        kind = head.value.lower()
        specs = {
            "implies": (("condition", "then"), {"condition", "then"}),
            "monotone": (("feature", "direction", "toward"), {"feature", "direction", "toward"}),
            "invariant": (("feature",), {"feature"}),
        }
        if kind not in specs:
            raise self.error(f"Unknown property {head.value!r}; expected Implies, Monotone or Invariant", head)
        positional, allowed = specs[kind]
        self.expect_op("(", f"after {head.value}")
        args: dict[str, tuple[Any, _Tok]] = {}
        k = 0
        while not self.is_op(")"):
            if args or k:
                self.expect_op(",", "between arguments")
            t = self.tok
            if t.kind == "name" and self.toks[self.i + 1].kind == "op" and self.toks[self.i + 1].value == "=":
                key = t.value.lower()
                if key not in allowed:
                    raise self.error(f"{head.value}() has no argument {t.value!r}; allowed: {sorted(allowed)}", t)
                self.next()
                self.next()
            else:
                if k >= len(positional):
                    raise self.error(f"Too many positional arguments to {head.value}()", t)
                key = positional[k]
                k += 1
            if key in args:
                raise self.error(f"Argument {key!r} given twice", t)
            vt = self.tok
            args[key] = (self.label(), vt)
        self.next()
        self.expect_end()
        missing = [p for p in positional if p not in args]
        if missing:
            raise self.error(f"{head.value}() needs {', '.join(missing)}", head)
        out: dict[str, Any] = {}
        for key, (v, vt) in args.items():
            if key == "condition":
                if not isinstance(v, str):
                    raise self.error("The condition must be a quoted string", vt)
                out[key] = parse_condition(v)
            elif key == "feature":
                if not isinstance(v, str):
                    raise self.error("The feature must be a name or a quoted string", vt)
                out[key] = v
            elif key == "direction":
                if not isinstance(v, str) or v.lower() not in ("increasing", "decreasing"):
                    raise self.error("direction must be 'increasing' or 'decreasing'", vt)
                out[key] = v.lower()
            else:
                out[key] = v
        return kind, out


def _number(text: str, p: _Parser, tok: _Tok) -> int | float:
    if re.fullmatch(r"\d+", text):
        v = int(text)
        if v > 2**53:
            raise p.error(f"The integer {text} cannot be represented exactly as a float; write it as a float", tok)
        return v
    v = float(text)
    if math.isinf(v):
        raise p.error(f"The number {text} is too large", tok)
    return v


def _compare(name: str, op: str, value: Any, p: _Parser, tok: _Tok) -> Expr:
    if isinstance(value, str):
        if op == "==":
            return Test(Condition(name, "in", frozenset([value])))
        if op == "!=":
            return Test(Condition(name, "not in", frozenset([value])))
        raise p.error(f"Cannot compare {name!r} with the string {value!r} using {op!r}; use == or != or 'in'", tok)
    v = float(value)
    if op == "==":
        return AllOf((Test(Condition(name, ">=", v)), Test(Condition(name, "<=", v))))
    if op == "!=":
        return AnyOf((Test(Condition(name, "<", v)), Test(Condition(name, ">", v))))
    return Test(Condition(name, op, v))


def parse_condition(text: str) -> Expr:
    """Parse a condition string into an expression tree.

    Raises
    ------
    PropertySyntaxError
        For anything outside the grammar, with the position of the problem.

    Examples
    --------
    >>> str(parse_condition("age < 25 and (job in {'a', 'b'} or income is missing)"))
    'age < 25.0 and (job in {"a", "b"} or income is missing)'
    """
    if isinstance(text, Expr):
        return text
    p = _Parser(text)
    if p.tok.kind == "end":
        raise PropertySyntaxError("The condition is empty.")
    expr = p.condition()
    p.expect_end()
    return expr


def parse_property_parts(text: str) -> tuple[str, dict]:
    """Parse a property string into ``(kind, arguments)``; see :func:`rulekd.verify.parse_property`."""
    p = _Parser(text)
    if p.tok.kind == "end":
        raise PropertySyntaxError("The property is empty.")
    return p.prop()


def quote_name(name: str) -> str:
    """A feature name as the grammar reads it (backticks when needed)."""
    return _quote_name(name)  # reserved words included


def format_label(v: Any) -> str:
    import json

    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return repr(v)
