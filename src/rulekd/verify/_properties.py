"""User properties: ``Implies``, ``Monotone``, ``Invariant``.

A property is a value object. It can

* say whether it holds on concrete inputs (:meth:`Property.holds`, with a
  predict function, for tests, guards and the hybrid),
* encode its negation for Z3 (:meth:`Property.violation`, given a
  :class:`PropertyContext` that supplies the model's answer as a Z3 term), and
* confirm a counterexample by evaluation (:meth:`Property.confirm`).

Semantics, for a predictor ``pred`` over the Domain:

* ``Implies(cond, then=c)``: every input where ``cond`` holds is predicted ``c``.
* ``Monotone(f, "increasing", toward=c)``: for inputs ``x``, ``x'`` equal except
  on ``f``, both with ``f`` present and ``x'_f >= x_f``, ``pred(x) == c`` implies
  ``pred(x') == c`` (``decreasing``: ``x'_f <= x_f``).
* ``Invariant(f)``: inputs equal except on ``f`` (its value or missingness)
  get the same prediction. Several features may vary together (a one-hot group).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain
from ..exceptions import DomainError
from ._encode import Encoding, frame_from_rows, level_truth
from ._grammar import Expr, PropertySyntaxError, format_label, parse_condition, parse_property_parts, quote_name

__all__ = ["Property", "Implies", "Monotone", "Invariant", "PropertyContext", "parse_property", "resolve_label"]

Predict = Callable[[pd.DataFrame], Any]


class PropertyContext:
    """What a property needs to state its violation in Z3.

    Parameters
    ----------
    encoding : Encoding
        The first input ``x`` (its Domain constraints already asserted).
    answer : callable
        ``answer(enc)`` -> Z3 Int term, the code of the model's prediction on ``enc``.
    code : callable
        ``code(label)`` -> int, the code of a class label.
    """

    def __init__(self, encoding: Encoding, answer: Callable[[Encoding], Any], code: Callable[[Any], int]) -> None:
        self.enc = encoding
        self.answer = answer
        self.code = code

    def variant(self, vary: Sequence[str]) -> Encoding:
        return self.enc.variant(vary)


def resolve_label(label: Any, classes: Sequence[Any]) -> Any:
    """The class a property names: exact match, else the one class with the same text."""
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]  # text shows 1, not np.int64(1)
    for c in classes:
        if type(c) is type(label) and c == label:
            return c
    for c in classes:
        try:
            if c == label and not isinstance(label, bool):
                return c
        except Exception:  # pragma: no cover
            pass
    same = [c for c in classes if str(c) == str(label)]
    if len(same) == 1:
        return same[0]
    raise ValueError(f"The property names class {label!r}, but the model's classes are {tuple(classes)}.")


def _column_getter(X: pd.DataFrame) -> Callable[[str], Any]:
    def column(name: str) -> Any:
        if name not in X.columns:
            raise ValueError(f"The property uses feature {name!r}, which is not a column of the data.")
        return X[name]

    return column


def _check_features(names: Sequence[str], domain: Domain) -> None:
    for n in names:
        if n not in domain:
            raise DomainError(
                f"The property uses feature {n!r}, which is not in the Domain (features: {list(domain.names)[:20]})."
            )


def _same_elsewhere(X: pd.DataFrame, Xp: pd.DataFrame, vary: Sequence[str]) -> np.ndarray:
    if list(X.columns) != list(Xp.columns) or len(X) != len(Xp):
        raise ValueError("X and X_prime must have the same columns and the same number of rows.")
    ok = np.ones(len(X), dtype=bool)
    for col in X.columns:
        if col in vary:
            continue
        a, b = X[col], Xp[col]
        both_na = np.asarray(a.isna(), dtype=bool) & np.asarray(b.isna(), dtype=bool)
        eq = np.asarray(a.astype(object).to_numpy() == b.astype(object).to_numpy(), dtype=bool)
        ok &= eq | both_na
    return ok


class Property:
    """Base class of the user properties."""

    kind: str = ""

    @property
    def features(self) -> frozenset[str]:
        raise NotImplementedError

    def validate(self, domain: Domain, classes: Sequence[Any]) -> "Property":
        """Check names, levels and labels against a Domain and classes; return the resolved property."""
        raise NotImplementedError

    def holds(self, predict: Predict, X: pd.DataFrame, X_prime: pd.DataFrame | None = None) -> np.ndarray:
        """Boolean per row: does the property hold there (per pair ``X[i], X_prime[i]`` for two inputs)?"""
        raise NotImplementedError

    def violation(self, ctx: PropertyContext) -> tuple[Any, list[Encoding]]:
        """Z3 formula satisfiable exactly by violations, and the encodings of its inputs."""
        raise NotImplementedError

    def counterexample(self, rows: Sequence[dict]) -> dict:
        return rows[0] if len(rows) == 1 else {"x": rows[0], "x_prime": rows[1]}

    def confirm(self, predict: Predict, rows: Sequence[dict], domain: Domain) -> bool:
        """Does this counterexample (decoded inputs) violate the property when evaluated?"""
        frames = [frame_from_rows([r], domain) for r in rows]
        if not all(bool(domain.contains(f)[0]) for f in frames):
            return False
        if len(frames) == 1:
            return not bool(self.holds(predict, frames[0])[0])
        return not bool(self.holds(predict, frames[0], frames[1])[0])

    def sample_pairs(self, X: pd.DataFrame, domain: Domain, random_state: Any = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Inputs on which to test :meth:`holds`: ``(X, None)`` or aligned pairs ``(X, X_prime)``."""
        return X, None

    def __str__(self) -> str:
        return self.text()

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Implies(Property):
    """``condition`` implies the prediction ``then``.

    Examples
    --------
    >>> p = Implies("age < 25 and amount > 10000", then="bad")
    >>> str(p)
    'if age < 25.0 and amount > 10000.0 then "bad"'
    """

    condition: Any
    then: Any
    kind = "implies"

    def __post_init__(self) -> None:
        object.__setattr__(self, "condition", parse_condition(self.condition))

    @property
    def features(self) -> frozenset[str]:
        return self.condition.features

    def validate(self, domain: Domain, classes: Sequence[Any]) -> "Implies":
        _check_conditions(self.condition, domain)
        return Implies(self.condition, resolve_label(self.then, classes))

    def holds(self, predict: Predict, X: pd.DataFrame, X_prime: pd.DataFrame | None = None) -> np.ndarray:
        mask = self.condition.evaluate(_column_getter(X), len(X))
        pred = np.asarray(predict(X), dtype=object)
        return ~mask | np.asarray([p == self.then for p in pred], dtype=bool)

    def violation(self, ctx: PropertyContext) -> tuple[Any, list[Encoding]]:
        import z3

        f = z3.And(self.condition.z3(ctx.enc.cond), ctx.answer(ctx.enc) != ctx.code(self.then))
        return f, [ctx.enc]

    def text(self) -> str:
        return f"if {self.condition} then {format_label(self.then)}"


@dataclass(frozen=True)
class Monotone(Property):
    """Raising (``increasing``) or lowering (``decreasing``) ``feature`` never leaves class ``toward``.

    Examples
    --------
    >>> str(Monotone("duration", direction="increasing", toward="bad"))
    'monotone duration increasing toward "bad"'
    """

    feature: str
    direction: str = "increasing"
    toward: Any = None
    kind = "monotone"

    def __post_init__(self) -> None:
        if not isinstance(self.feature, str) or not self.feature:
            raise ValueError(f"Monotone needs a feature name, got {self.feature!r}.")
        if self.direction not in ("increasing", "decreasing"):
            raise ValueError(f"direction must be 'increasing' or 'decreasing', got {self.direction!r}.")
        if self.toward is None:
            raise ValueError("Monotone needs toward=<class>: the class that raising the feature never leaves.")

    @property
    def features(self) -> frozenset[str]:
        return frozenset([self.feature])

    def validate(self, domain: Domain, classes: Sequence[Any]) -> "Monotone":
        _check_features([self.feature], domain)
        if domain[self.feature].kind == "categorical":
            raise DomainError(f"Monotone needs a numeric feature; {self.feature!r} is categorical.")
        return Monotone(self.feature, self.direction, resolve_label(self.toward, classes))

    def _pairs_ok(self, X: pd.DataFrame, Xp: pd.DataFrame) -> np.ndarray:
        ok = _same_elsewhere(X, Xp, [self.feature])
        a = np.asarray(X[self.feature], dtype=np.float64)
        b = np.asarray(Xp[self.feature], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            step = b >= a if self.direction == "increasing" else b <= a
        return ok & ~np.isnan(a) & ~np.isnan(b) & step

    def holds(self, predict: Predict, X: pd.DataFrame, X_prime: pd.DataFrame | None = None) -> np.ndarray:
        if X_prime is None:
            raise ValueError("Monotone compares two inputs: pass X_prime (see sample_pairs).")
        valid = self._pairs_ok(X, X_prime)
        if not valid.all():
            bad = int(np.flatnonzero(~valid)[0])
            raise ValueError(
                f"Row {bad} of X_prime is not a valid partner: it must equal X except on {self.feature!r}, "
                f"with {self.feature!r} present in both and {'not lower' if self.direction == 'increasing' else 'not higher'}."
            )
        p, q = np.asarray(predict(X), dtype=object), np.asarray(predict(X_prime), dtype=object)
        at = np.asarray([v == self.toward for v in p], dtype=bool)
        stays = np.asarray([v == self.toward for v in q], dtype=bool)
        return ~at | stays

    def violation(self, ctx: PropertyContext) -> tuple[Any, list[Encoding]]:
        import z3

        e1 = ctx.enc
        e2 = ctx.variant([self.feature])
        x, xp = e1.value[self.feature], e2.value[self.feature]
        step = xp >= x if self.direction == "increasing" else xp <= x
        code = ctx.code(self.toward)
        f = z3.And([z3.Not(e1.is_missing(self.feature)), z3.Not(e2.is_missing(self.feature)), step,
                    ctx.answer(e1) == code, ctx.answer(e2) != code] + e2.domain_constraints(only_own=True))
        return f, [e1, e2]

    def sample_pairs(self, X: pd.DataFrame, domain: Domain, random_state: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        draw = domain.sample(2 * len(X), random_state=random_state)[self.feature].to_numpy(dtype=np.float64)
        a, b = draw[: len(X)], draw[len(X) :]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        if self.direction == "decreasing":
            lo, hi = hi, lo
        X1, X2 = X.copy(), X.copy()
        X1[self.feature] = lo
        X2[self.feature] = hi
        return X1.reset_index(drop=True), X2.reset_index(drop=True)

    def text(self) -> str:
        return f"monotone {quote_name(self.feature)} {self.direction} toward {format_label(self.toward)}"


@dataclass(frozen=True)
class Invariant(Property):
    """Changing ``feature`` alone (value or missingness) never changes the prediction.

    ``feature`` may be a tuple of names that change together (a one-hot group).

    Examples
    --------
    >>> str(Invariant("sex"))
    'invariant sex'
    """

    feature: Any
    kind = "invariant"

    def __post_init__(self) -> None:
        names = (self.feature,) if isinstance(self.feature, str) else tuple(self.feature)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"Invariant needs a feature name or a tuple of names, got {self.feature!r}.")
        object.__setattr__(self, "feature", names[0] if len(names) == 1 else names)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.feature,) if isinstance(self.feature, str) else tuple(self.feature)

    @property
    def features(self) -> frozenset[str]:
        return frozenset(self.names)

    def validate(self, domain: Domain, classes: Sequence[Any]) -> "Invariant":
        _check_features(self.names, domain)
        return self

    def holds(self, predict: Predict, X: pd.DataFrame, X_prime: pd.DataFrame | None = None) -> np.ndarray:
        if X_prime is None:
            raise ValueError("Invariant compares two inputs: pass X_prime (see sample_pairs).")
        valid = _same_elsewhere(X, X_prime, self.names)
        if not valid.all():
            bad = int(np.flatnonzero(~valid)[0])
            raise ValueError(f"Row {bad} of X_prime differs from X outside {list(self.names)}.")
        p, q = np.asarray(predict(X), dtype=object), np.asarray(predict(X_prime), dtype=object)
        return np.asarray([a == b for a, b in zip(p, q)], dtype=bool)

    def violation(self, ctx: PropertyContext) -> tuple[Any, list[Encoding]]:
        import z3

        e1 = ctx.enc
        e2 = ctx.variant(self.names)
        f = z3.And([ctx.answer(e1) != ctx.answer(e2)] + e2.domain_constraints(only_own=True))
        return f, [e1, e2]

    def sample_pairs(self, X: pd.DataFrame, domain: Domain, random_state: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        draw = domain.sample(len(X), random_state=random_state, missing_rate=0.1)
        X2 = X.copy().reset_index(drop=True)
        for n in self.names:
            X2[n] = draw[n].to_numpy() if domain[n].kind != "categorical" else draw[n].values
        return X.reset_index(drop=True), X2

    def text(self) -> str:
        return "invariant " + ", ".join(quote_name(n) for n in self.names)


def _check_conditions(expr: Expr, domain: Domain) -> None:
    for c in expr.conditions():
        _check_features([c.feature], domain)
        spec = domain[c.feature]
        if spec.kind == "categorical":
            if c.is_categorical:
                unknown = [v for v in c.value if not level_truth(c.__class__(c.feature, "in", frozenset([v])), spec).any()]
                if unknown:
                    raise DomainError(
                        f"{sorted(map(str, unknown))} {'is' if len(unknown) == 1 else 'are'} not a level of "
                        f"{c.feature!r} (levels: {list(spec.levels)[:20]})."
                    )
            elif c.is_numeric:
                level_truth(c, spec)  # raises for non-numeric levels
        elif c.is_categorical:
            bad = [v for v in c.value if isinstance(v, str)]
            if bad:
                raise DomainError(f"{c.feature!r} is {spec.kind}; compare it with numbers, not {bad[:3]}.")


def parse_properties(properties: Any) -> list[Property]:
    """``properties`` as a list of :class:`Property`: an iterable of strings or objects, or one of them
    (a single string used to be iterated character by character)."""
    if isinstance(properties, (str, Property)):
        properties = [properties]
    try:
        items = list(properties)
    except TypeError:
        raise TypeError(f"properties must be a property (string or Property) or a list of them, got "
                        f"{type(properties).__name__}.") from None
    return [parse_property(p) for p in items]


def check_timeout_ms(timeout_ms: Any) -> None:
    """``timeout_ms`` (one solver query's limit) is a positive integer (a ValueError naming it otherwise)."""
    if not isinstance(timeout_ms, (int, np.integer)) or isinstance(timeout_ms, bool) or timeout_ms < 1:
        raise ValueError(f"timeout_ms must be a positive integer, got {timeout_ms!r}.")


def check_time_budget(time_budget_s: Any) -> None:
    """``time_budget_s`` is None or a positive number of seconds (a ValueError naming it otherwise)."""
    if time_budget_s is None:
        return
    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, numbers.Real) or not time_budget_s > 0:
        raise ValueError(f"time_budget_s must be a positive number of seconds or None, got {time_budget_s!r}.")


def parse_property(text: str) -> Property:
    """Parse a property from the grammar (see :mod:`rulekd.verify._grammar`); never ``eval``.

    Examples
    --------
    >>> p = parse_property("if age < 25 and credit_amount > 10000 then bad")
    >>> type(p).__name__, p.then, sorted(p.features)
    ('Implies', 'bad', ['age', 'credit_amount'])
    >>> str(parse_property('Monotone("duration", direction="increasing", toward=1)'))
    'monotone duration increasing toward 1'
    """
    if isinstance(text, Property):
        return text
    if not isinstance(text, str):
        raise PropertySyntaxError(f"A property must be a string or a Property object, got {type(text).__name__}.")
    kind, args = parse_property_parts(text)
    if kind == "implies":
        return Implies(args["condition"], then=args["then"])
    if kind == "monotone":
        return Monotone(args["feature"], direction=args.get("direction", "increasing"), toward=args["toward"])
    return Invariant(args["feature"] if len(args.get("features", ())) <= 1 else tuple(args["features"]))
