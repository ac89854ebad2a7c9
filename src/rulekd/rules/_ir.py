"""The rule intermediate representation: ``Condition``, ``Rule``, ``RuleSet``.

This is THE symbolic form of every rulekd model. The students produce it, the
verifier encodes it into Z3, the exporters (text, JSON, SQL, Python) and the
audit report read it. Evaluation is vectorised over a pandas DataFrame or a
2-D array whose columns follow ``RuleSet.feature_names``.

Semantics
---------
* A numeric :class:`Condition` compares a float64 value with an exact float
  threshold. ``cast="float32"`` means the value is rounded to float32 first,
  as scikit-learn and XGBoost trees do; :meth:`Condition.exact_bound` gives the
  equivalent comparison on the uncast float64 value.
* A missing value (NaN, ``None``, ``pd.NA``) makes a condition evaluate to its
  ``missing`` flag; ``is missing`` / ``is not missing`` test missingness only.
* A :class:`RuleSet` with ``ordered=True`` is a decision list: the first rule
  that matches answers. With ``ordered=False`` the matching rule with the
  highest confidence answers (ties: the earliest). No match: the default.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .._io import is_unicode
from ..exceptions import RuleFormatError
from ._floats import float32_le_bound, float32_lt_bound, is_float32_midpoint

__all__ = ["Condition", "Rule", "RuleSet", "NUMERIC_OPS", "SET_OPS", "MISSING_OPS"]

# Deepest nesting of a rule set's metadata (dicts and lists): JSON writers recurse once per level.
MAX_METADATA_DEPTH = 64


def _nesting(obj: Any) -> int:
    """How deeply dicts, lists and tuples nest in ``obj`` (0 for a scalar); iterative, so any depth is measured."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend((x, d + 1) for x in v)
        else:
            continue
        deepest = max(deepest, d + 1)
    return deepest

NUMERIC_OPS = ("<=", "<", ">", ">=")
SET_OPS = ("in", "not in")
MISSING_OPS = ("is missing", "is not missing")
_ALL_OPS = NUMERIC_OPS + SET_OPS + MISSING_OPS
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEGATE = {"<=": ">", ">": "<=", "<": ">=", ">=": "<", "in": "not in", "not in": "in",
           "is missing": "is not missing", "is not missing": "is missing"}


# Words of the rule text and of the property grammar (verify/_grammar.py): a feature with such a name
# is quoted, so that the text parses back ("`and` <= 1.0", not "and <= 1.0").
RESERVED_WORDS = frozenset({"and", "or", "not", "in", "is", "missing", "true", "false", "if", "then", "elif",
                            "else", "monotone", "invariant", "toward", "inf", "nan"})


# What decided_by names where no rule answers: the default class, or a hybrid's neural student (and
# "guard:<k>" for a hybrid's guards). No rule may take these ids.
RESERVED_IDS = ("default", "student")


def _quote_name(name: str) -> str:
    if _IDENT.match(name) and name.lower() not in RESERVED_WORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


def _format_level(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else repr(v)


def _level_key(v: Any) -> tuple:
    return (type(v).__name__, str(v))


def _as_python_scalar(v: Any) -> Any:
    """numpy scalars -> Python scalars, so that labels and levels hash and dump alike."""
    if isinstance(v, np.generic):
        return v.item()
    return v


@dataclass(frozen=True)
class Condition:
    """One test on one feature.

    Parameters
    ----------
    feature : str
        Feature name.
    op : {"<=", "<", ">", ">=", "in", "not in", "is missing", "is not missing"}
    value : float, frozenset or None
        Threshold (float; ``inf`` allowed) for numeric ops, the set of levels for
        ``in`` / ``not in``, ``None`` for the missing tests.
    missing : bool, default=False
        What the condition evaluates to when the value is missing. A tree that
        sends missing values down the branch of this condition sets it ``True``.
    cast : {None, "float32"}, default=None
        Round the value to float32 before comparing (scikit-learn / XGBoost trees).

    Examples
    --------
    >>> c = Condition("age", "<=", 25.0)
    >>> str(c)
    'age <= 25.0'
    >>> c.evaluate(np.array([20.0, 30.0, np.nan])).tolist()
    [True, False, False]
    """

    feature: str
    op: str
    value: Any = None
    missing: bool = False
    cast: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.feature, str) or not self.feature:
            raise RuleFormatError(f"A condition's feature must be a non-empty string, got {self.feature!r}.")
        if not is_unicode(self.feature):
            raise RuleFormatError(f"The feature name {self.feature!r} is not valid Unicode (a lone surrogate).")
        if self.op not in _ALL_OPS:
            raise RuleFormatError(
                f"Unknown condition operator {self.op!r}; expected one of {', '.join(_ALL_OPS)}."
            )
        if self.cast not in (None, "float32"):
            raise RuleFormatError(f"cast must be None or 'float32', got {self.cast!r}.")
        if not isinstance(self.missing, (bool, np.bool_)):
            raise RuleFormatError(f"missing must be a bool, got {self.missing!r}.")
        object.__setattr__(self, "missing", bool(self.missing))
        if self.op in NUMERIC_OPS:
            if isinstance(self.value, (bool, np.bool_)) or not isinstance(
                self.value, (int, float, np.integer, np.floating)
            ):
                raise RuleFormatError(
                    f"Condition {self.feature} {self.op} needs a numeric threshold, got {self.value!r}."
                )
            try:
                v = float(self.value)
            except OverflowError:  # a Python int beyond the doubles
                raise RuleFormatError(f"Condition on {self.feature!r}: the threshold (a {int(self.value).bit_length()}"
                                      f"-bit integer) is too large for a float; use math.inf.") from None
            if math.isnan(v):
                raise RuleFormatError(f"Condition on {self.feature!r} has a NaN threshold.")
            object.__setattr__(self, "value", v)
        elif self.op in SET_OPS:
            if isinstance(self.value, (str, bytes)) or not isinstance(self.value, Iterable):
                raise RuleFormatError(
                    f"Condition {self.feature} {self.op} needs a set of levels, got {self.value!r}."
                )
            levels = frozenset(_as_python_scalar(v) for v in self.value)
            for lv in levels:
                if not isinstance(lv, (str, int, float, bool)) or (isinstance(lv, float) and not math.isfinite(lv)):
                    raise RuleFormatError(
                        f"Category levels must be strings or finite numbers, got {lv!r} in the condition on {self.feature!r}."
                    )
                if isinstance(lv, str) and not is_unicode(lv):
                    raise RuleFormatError(f"The level {lv!r} in the condition on {self.feature!r} is not valid Unicode "
                                          f"(a lone surrogate).")
            object.__setattr__(self, "value", levels)
        else:
            if self.value is not None:
                raise RuleFormatError(f"'{self.op}' takes no value, got {self.value!r}.")
            object.__setattr__(self, "missing", self.op == "is missing")
            object.__setattr__(self, "cast", None)
        if self.op not in NUMERIC_OPS and self.cast is not None:
            raise RuleFormatError("cast='float32' only applies to numeric comparisons.")

    # -- semantics ---------------------------------------------------------
    @property
    def is_numeric(self) -> bool:
        return self.op in NUMERIC_OPS

    @property
    def is_categorical(self) -> bool:
        return self.op in SET_OPS

    def exact_bound(self) -> tuple[str, float]:
        """The equivalent comparison on the uncast float64 value.

        Returns ``(op, t)`` with ``op`` in ``NUMERIC_OPS``: for every float64
        ``x`` that is not missing, this condition holds iff ``x op t``. With
        ``cast=None`` it is the condition itself; with ``cast="float32"`` the
        operator becomes ``<=`` or ``>`` and ``t`` the exact float64 boundary
        (except ``< -inf`` and ``>= -inf``, kept as they are: nothing, or every
        value, is on that side, ``-inf`` included).
        """
        if not self.is_numeric:
            raise TypeError(f"exact_bound() applies to numeric conditions, not {self.op!r}.")
        if self.cast is None:
            return self.op, self.value
        if self.op == "<=":
            return "<=", float32_le_bound(self.value)
        if self.op == ">":
            return ">", float32_le_bound(self.value)
        if self.value == -math.inf:  # float32(x) < -inf never holds, float32(x) >= -inf always does
            return self.op, self.value
        if self.op == "<":
            return "<=", float32_lt_bound(self.value)
        return ">", float32_lt_bound(self.value)  # ">=": not (float32(x) < t)

    def integer_exact_bound(self) -> tuple[str, float]:
        """:meth:`exact_bound` in a form that is also exact for integers beyond 2**53 compared exactly.

        Where a float32 midpoint rounds up, :meth:`exact_bound` gives ``x <= m`` with ``m`` the largest float64
        below the midpoint; integers between ``m`` and the midpoint then land on the wrong side of an exact
        integer comparison (SQL engines, Python ints). This returns ``x < mid`` (``x >= mid`` for ``>``)
        there: the same for every float64, and right for every integer. The exports write it.
        """
        op, t = self.exact_bound()
        if self.cast is not None and op in ("<=", ">") and math.isfinite(t):
            up = math.nextafter(t, math.inf)
            if is_float32_midpoint(up):
                return ("<" if op == "<=" else ">="), up
        return op, t

    def negate(self) -> "Condition":
        """The condition that holds exactly where this one does not (missing included)."""
        return Condition(self.feature, _NEGATE[self.op], self.value, not self.missing, self.cast)

    def evaluate(self, values: Any) -> np.ndarray:
        """Evaluate on one column of values; returns a boolean array.

        ``values`` is a float array for numeric conditions and any array-like
        of levels (object array, pandas Categorical or Series) for set tests.
        """
        if self.op in MISSING_OPS:
            miss = np.asarray(pd.isna(values), dtype=bool)
            return miss if self.op == "is missing" else ~miss
        if self.is_numeric:
            op, t = self.exact_bound()
            exact = _exact_integers(values)
            if exact is not None:  # integers float64 cannot hold: compared with the bound exactly
                x, miss = exact
                if self.cast == "float32":  # rounded once, to float32, as the source model does
                    with np.errstate(over="ignore"):
                        hit = COMPARE[self.op](x.astype(np.float32).astype(np.float64), self.value)
                else:
                    hit = _compare_integers(x, op, t)
            else:
                try:
                    x = _as_float(values)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"The condition '{self}' compares numbers, but column {self.feature!r} holds values that "
                        f"are not numbers; convert it, or give the rules the column they were made for."
                    ) from None
                miss = np.isnan(x)
                with np.errstate(invalid="ignore"):
                    hit = COMPARE[op](x, t)
        else:
            if isinstance(values, pd.Categorical):
                values = pd.Series(values)
            s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
            miss = np.asarray(s.isna(), dtype=bool)
            if isinstance(s.dtype, pd.CategoricalDtype):
                # Membership by Python equality on the categories, as for plain values (pandas' own
                # Categorical.isin told True from 1, so `k in {True}` differed between a Categorical and
                # an array of the same levels); the rows follow their category's answer.
                inset = np.asarray(pd.Series(s.cat.categories.astype(object)).isin(list(self.value)), dtype=bool)
                codes = np.asarray(s.cat.codes)
                hit = np.where(codes >= 0, inset[np.maximum(codes, 0)], False) if len(inset) else \
                    np.zeros(len(s), dtype=bool)
            else:
                hit = np.asarray(s.isin(list(self.value)), dtype=bool)
            if self.op == "not in":
                hit = ~hit
        if miss.any():
            hit = np.where(miss, self.missing, hit)
        return hit

    # -- text --------------------------------------------------------------
    def _value_text(self) -> str:
        if self.value is None:  # "is missing" / "is not missing"
            return ""
        if self.is_numeric:
            v = self.value
            return repr(v)  # a float32 threshold's repr is its float32 repr (the same float)
        return "{" + ", ".join(_format_level(v) for v in sorted(self.value, key=_level_key)) + "}"

    def __str__(self) -> str:
        name = _quote_name(self.feature)
        if self.op in MISSING_OPS:
            return f"{name} {self.op}"
        # A float32-cast condition says so: "float32(x) <= 0.5" and "x <= 0.5" differ just above 0.5.
        shown = f"float32({name})" if self.cast == "float32" else name
        text = f"{shown} {self.op} {self._value_text()}"
        return f"({text} or {name} is missing)" if self.missing else text

    def sort_key(self) -> tuple:
        return (self.feature, _ALL_OPS.index(self.op), str(self._value_text()), self.missing)


@dataclass(frozen=True)
class Rule:
    """A conjunction of conditions that predicts one class.

    Parameters
    ----------
    conditions : tuple of Condition
        All must hold (an empty tuple always holds).
    prediction : label
        The class the rule predicts.
    proba : tuple of float or None
        Class probabilities in ``RuleSet.classes`` order; ``None`` means one-hot.
    support : int
        Rows of the fitting data the rule covers.
    confidence : float
        Share of covered rows on which the prediction agrees with the target it
        was fitted to (the teacher for distilled rules).
    id : str or None
        Stable identifier shown by reports and ``decided_by``; ``None`` means
        ``"r<index>"``.
    score : float or None
        Raw leaf output where the rule came from a boosted tree.
    """

    conditions: tuple[Condition, ...]
    prediction: Any
    proba: tuple[float, ...] | None = None
    support: int = 0
    confidence: float = 1.0
    id: str | None = None
    score: float | None = None

    def __post_init__(self) -> None:
        conds = tuple(self.conditions)
        for c in conds:
            if not isinstance(c, Condition):
                raise RuleFormatError(f"A rule's conditions must be Condition objects, got {c!r}.")
        object.__setattr__(self, "conditions", conds)
        object.__setattr__(self, "prediction", _as_python_scalar(self.prediction))
        if self.proba is not None:
            p = tuple(float(v) for v in self.proba)
            if any(not (0.0 <= v <= 1.0) for v in p):
                raise RuleFormatError(f"Rule probabilities must lie in [0, 1], got {p}.")
            object.__setattr__(self, "proba", p)
        if isinstance(self.support, bool) or int(self.support) != self.support or self.support < 0:
            raise RuleFormatError(f"support must be a non-negative integer, got {self.support!r}.")
        object.__setattr__(self, "support", int(self.support))
        conf = float(self.confidence)
        if not (0.0 <= conf <= 1.0):
            raise RuleFormatError(f"confidence must lie in [0, 1], got {self.confidence!r}.")
        object.__setattr__(self, "confidence", conf)
        if self.score is not None:
            score = float(self.score)
            if math.isnan(score):
                raise RuleFormatError("A rule's score cannot be NaN.")
            object.__setattr__(self, "score", score)
        if self.id is not None and (not isinstance(self.id, str) or not self.id):
            raise RuleFormatError(f"A rule id must be a non-empty string or None, got {self.id!r}.")

    @property
    def features(self) -> frozenset[str]:
        return frozenset(c.feature for c in self.conditions)

    def condition_text(self) -> str:
        return " and ".join(str(c) for c in self.conditions) if self.conditions else "true"

    def __str__(self) -> str:
        return f"if {self.condition_text()} then {_format_level(self.prediction)}"


# A numeric condition's operator as a function: numpy arrays, Python numbers and Z3 terms alike.
COMPARE = {"<=": operator.le, "<": operator.lt, ">": operator.gt, ">=": operator.ge}



_EXACT_IN_FLOAT64 = 2**53


def _exact_integers(values: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``(integers, missing)`` where ``values`` are machine integers beyond 2**53 in size (float64 would
    round them, and a float32-cast condition would then round twice: float32(float64(x)) is not always
    float32(x)); ``None`` for every other input, which ``_as_float`` reads exactly."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if isinstance(values, pd.api.extensions.ExtensionArray) and pd.api.types.is_integer_dtype(values.dtype) \
            and getattr(values.dtype, "numpy_dtype", np.dtype(object)).kind in "iu":
        # Nullable integers (Int64, int64[pyarrow]): with a missing value numpy would see objects.
        miss = np.asarray(values.isna(), dtype=bool)
        arr = values.to_numpy(dtype=values.dtype.numpy_dtype, na_value=0)
    else:
        arr = np.asarray(values)
        if arr.dtype == object:
            return _object_integers(arr)
        if arr.dtype.kind not in "iu":
            return None
        miss = np.zeros(arr.shape, dtype=bool)
    big = (arr > _EXACT_IN_FLOAT64) | (arr < -_EXACT_IN_FLOAT64) if arr.dtype.kind == "i" else arr > _EXACT_IN_FLOAT64
    return (arr, miss) if big.any() else None


def _object_integers(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_exact_integers` of an object array (a column holding ``None``, ``X.to_numpy()`` of a mixed
    frame): its integers as machine integers where every present value is one, none beyond 64 bits, and
    some beyond 2**53; ``None`` otherwise."""
    miss = np.asarray(pd.isna(arr), dtype=bool)
    present = arr[~miss]
    if not present.size or not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                                   for v in present):
        return None
    ints = [int(v) for v in present]
    if not any(abs(v) > _EXACT_IN_FLOAT64 for v in ints):
        return None
    for dtype in (np.int64, np.uint64):
        info = np.iinfo(dtype)
        if all(info.min <= v <= info.max for v in ints):
            out = np.zeros(arr.shape, dtype=dtype)
            out[~miss] = np.array(ints, dtype=dtype)
            return out, miss
    return None  # beyond 64 bits: read as floats


def _compare_integers(x: np.ndarray, op: str, t: float) -> np.ndarray:
    """``x op t`` for machine integers ``x`` and a float64 bound ``t``, exactly."""
    if not math.isfinite(t):
        return np.full(x.shape, (op in ("<=", "<")) == (t > 0))
    # For an integer x: x <= t iff x <= floor(t); x < t iff x < ceil(t); likewise > and >=.
    b = math.floor(t) if op in ("<=", ">") else math.ceil(t)
    info = np.iinfo(x.dtype)
    if b > info.max:
        return np.full(x.shape, op in ("<=", "<"))
    if b < info.min:
        return np.full(x.shape, op in (">", ">="))
    return COMPARE[op](x, x.dtype.type(b))


def _as_float(values: Any) -> np.ndarray:
    """A float64 array with NaN wherever a value is missing (NaN, None, ``pd.NA``)."""
    if isinstance(values, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        return pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(values)
    if arr.dtype == object:
        return pd.Series(arr).to_numpy(dtype=np.float64, na_value=np.nan)
    return arr.astype(np.float64, copy=False)


def _column(X: Any, name: str, index: dict[str, int] | None) -> Any:
    if isinstance(X, pd.DataFrame):
        if name not in X.columns:
            # Columns named by non-text labels (pd.DataFrame(array): 0, 1, ...) are the features "0", "1", ...
            same = [c for c in X.columns if not isinstance(c, str) and str(c) == name]
            if len(same) == 1:
                return X[same[0]]
            raise ValueError(
                f"The rules use feature {name!r}, which is not a column of the data. "
                f"Columns given: {list(map(str, X.columns))[:20]}."
            )
        col = X[name]
        if isinstance(col, pd.DataFrame):
            raise ValueError(f"The data has duplicate columns named {name!r}; rename them.")
        return col
    if index is None or name not in index:
        raise ValueError(
            f"The rules use feature {name!r} but the data is an array and the rule set "
            f"has no column for it; pass a DataFrame with named columns."
        )
    return X[:, index[name]]


@dataclass(frozen=True)
class RuleSet:
    """An ordered rule list or an unordered rule set, with a default class.

    Parameters
    ----------
    rules : tuple of Rule
    classes : tuple
        All class labels, in the order used by ``predict_proba``.
    default : label
        The prediction where no rule matches.
    default_proba : tuple of float or None
        Probabilities where no rule matches; ``None`` means one-hot on ``default``.
    ordered : bool, default=True
        ``True``: first matching rule answers. ``False``: the matching rule with
        the highest confidence answers (ties: the earliest).
    feature_names : tuple of str or None
        Column order for array input.
    metadata : dict
        Free-form provenance (``source``, teacher, fidelity). Not compared.

    Examples
    --------
    >>> rs = RuleSet(rules=(Rule((Condition("x0", ">", 0.5),), 1),), classes=(0, 1),
    ...              default=0, feature_names=("x0",))
    >>> rs.predict(np.array([[0.2], [0.9]])).tolist()
    [0, 1]
    >>> print(rs.to_text())
    if x0 > 0.5 then 1
    else 0
    """

    rules: tuple[Rule, ...]
    classes: tuple
    default: Any
    default_proba: tuple[float, ...] | None = None
    ordered: bool = True
    feature_names: tuple[str, ...] | None = None
    metadata: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        for r in rules:
            if not isinstance(r, Rule):
                raise RuleFormatError(f"A rule set holds Rule objects, got {r!r}.")
        object.__setattr__(self, "rules", rules)
        classes = tuple(_as_python_scalar(c) for c in self.classes)
        if len(classes) == 0:
            raise RuleFormatError("A rule set needs at least one class.")
        if len(set(classes)) != len(classes):
            raise RuleFormatError(f"Class labels must be unique, got {classes}.")
        object.__setattr__(self, "classes", classes)
        default = _as_python_scalar(self.default)
        if default not in classes:
            raise RuleFormatError(f"The default {default!r} is not one of the classes {classes}.")
        object.__setattr__(self, "default", default)
        for i, r in enumerate(rules):
            if r.prediction not in classes:
                raise RuleFormatError(
                    f"Rule {i} predicts {r.prediction!r}, which is not one of the classes {classes}."
                )
            if r.proba is not None and len(r.proba) != len(classes):
                raise RuleFormatError(
                    f"Rule {i} has {len(r.proba)} probabilities for {len(classes)} classes."
                )
        if self.default_proba is not None:
            dp = tuple(float(v) for v in self.default_proba)
            if len(dp) != len(classes):
                raise RuleFormatError(f"default_proba has {len(dp)} values for {len(classes)} classes.")
            if any(not (0.0 <= v <= 1.0) for v in dp):
                raise RuleFormatError(f"default_proba values must lie in [0, 1], got {dp}.")
            object.__setattr__(self, "default_proba", dp)
        if self.feature_names is not None:
            names = tuple(str(n) for n in self.feature_names)
            if len(set(names)) != len(names):
                raise RuleFormatError("feature_names must be unique.")
            missing = sorted(self.features - set(names))
            if missing:
                raise RuleFormatError(f"Rules use features {missing} that are not in feature_names.")
            object.__setattr__(self, "feature_names", names)
        ids = [self.rule_id(i) for i in range(len(rules))]
        if len(set(ids)) != len(ids):
            raise RuleFormatError("Rule ids must be unique.")
        reserved = [r for r in ids if r in RESERVED_IDS or r.startswith("guard:")]
        if reserved:
            raise RuleFormatError(
                f"Rule id {reserved[0]!r} is reserved: decided_by, the exports and the audit name the default "
                f"{RESERVED_IDS[0]!r}, a hybrid's student {RESERVED_IDS[1]!r} and its guards 'guard:<k>'. "
                f"Rename the rule.")
        object.__setattr__(self, "ordered", bool(self.ordered))
        if _nesting(self.metadata) > MAX_METADATA_DEPTH:
            raise RuleFormatError(
                f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep (JSON could not write it); flatten it."
            )

    # -- structure ---------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    @property
    def features(self) -> frozenset[str]:
        out: set[str] = set()
        for r in self.rules:
            out |= r.features
        return frozenset(out)

    @property
    def n_conditions(self) -> int:
        return sum(len(r.conditions) for r in self.rules)

    def rule_id(self, i: int) -> str:
        rid = self.rules[i].id
        return rid if rid is not None else f"r{i}"

    def replace(self, **changes: Any) -> "RuleSet":
        """A copy with some fields replaced (the rule set itself is immutable)."""
        return replace(self, **changes)

    # -- evaluation --------------------------------------------------------
    def _feature_index(self, X: Any) -> dict[str, int] | None:
        if isinstance(X, pd.DataFrame):
            return None
        if X.ndim != 2:
            raise ValueError(f"Expected 2-D data, got an array of shape {X.shape}.")
        if self.feature_names is None:
            return {f"x{i}": i for i in range(X.shape[1])}
        if X.shape[1] != len(self.feature_names):
            raise ValueError(
                f"X has {X.shape[1]} columns but the rule set expects {len(self.feature_names)} "
                f"({', '.join(self.feature_names[:10])}{', ...' if len(self.feature_names) > 10 else ''})."
            )
        return {n: i for i, n in enumerate(self.feature_names)}

    def _prepare(self, X: Any) -> tuple[Any, dict[str, int] | None]:
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X, dtype=object if _is_object_like(X) else None)
            if X.ndim == 1:
                raise ValueError("Expected 2-D data (rows x features), got a 1-D array; reshape it.")
        return X, self._feature_index(X)

    def match(self, X: Any) -> np.ndarray:
        """Boolean matrix ``(n_rows, n_rules)``: does rule ``j`` match row ``i``."""
        X, index = self._prepare(X)
        n = X.shape[0]
        out = np.ones((n, len(self.rules)), dtype=bool)
        cache: dict[Any, np.ndarray] = {}
        columns: dict[str, Any] = {}
        for j, rule in enumerate(self.rules):
            for c in rule.conditions:
                hit = cache.get(c)
                if hit is None:
                    if c.feature not in columns:
                        columns[c.feature] = _column(X, c.feature, index)
                    hit = c.evaluate(columns[c.feature])
                    cache[c] = hit
                out[:, j] &= hit
        return out

    def decide(self, X: Any) -> np.ndarray:
        """Index of the answering rule per row, ``-1`` where the default answers."""
        m = self.match(X)
        if m.shape[1] == 0:
            return np.full(m.shape[0], -1, dtype=np.intp)
        if self.ordered:
            order = np.arange(m.shape[1])
        else:
            conf = np.array([r.confidence for r in self.rules])
            order = np.lexsort((np.arange(m.shape[1]), -conf))
        mo = m[:, order]
        first = np.argmax(mo, axis=1)
        hit = mo[np.arange(m.shape[0]), first]
        return np.where(hit, order[first], -1).astype(np.intp)

    def decided_by(self, X: Any) -> np.ndarray:
        """Rule id answering each row, or ``"default"`` (``"student"`` for a hybrid's rules, as the exports say)."""
        idx = self.decide(X)
        ids = np.array([self.rule_id(i) for i in range(len(self.rules))] + [self.default_id], dtype=object)
        return ids[idx]

    def _class_index(self) -> dict[Any, int]:
        return {c: i for i, c in enumerate(self.classes)}

    @property
    def default_is_student(self) -> bool:
        """A hybrid's rules (``metadata["default"] == "student"``): the rows no rule answers go to its
        neural student, and ``default`` only stands in for it. Text shows ``else: the neural student``;
        SQL and Python exports answer those rows with NULL / None; ``verify`` refuses properties of the
        set alone (they hold or fail on the whole hybrid) and leaves ``gap`` and ``redundant_rule`` out of
        ``checks="all"`` (its gaps are where the student answers)."""
        return self.metadata.get("default") == "student"

    @property
    def default_id(self) -> str:
        """What ``decided_by`` and the exports name where no rule answers: ``"default"``, or ``"student"``
        for a hybrid's rules."""
        return RESERVED_IDS[1] if self.default_is_student else RESERVED_IDS[0]

    def default_text(self, sep: str = " ") -> str:
        """Who answers where no rule does, as the text shows it: the default class, or "the neural student"
        for a hybrid's rules (``sep`` precedes the latter; the class always follows a space)."""
        return f"{sep}the neural student" if self.default_is_student else f" {_format_level(self.default)}"

    def proba_table(self) -> np.ndarray:
        """``(n_rules + 1, n_classes)``: each rule's probabilities, the default last."""
        ci = self._class_index()
        k = len(self.classes)
        rows = []
        for r in self.rules:
            if r.proba is not None:
                rows.append(r.proba)
            else:
                row = [0.0] * k
                row[ci[r.prediction]] = 1.0
                rows.append(tuple(row))
        if self.default_proba is not None:
            rows.append(self.default_proba)
        else:
            row = [0.0] * k
            row[ci[self.default]] = 1.0
            rows.append(tuple(row))
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), k)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class per row (the answering rule's ``prediction``)."""
        idx = self.decide(X)
        preds = [r.prediction for r in self.rules] + [self.default]
        table = np.empty(len(preds), dtype=object)
        table[:] = preds
        out = table[idx]
        # A typed array only where every label has the same type (numpy would
        # turn the labels (0, "x") into the strings "0" and "x").
        # numpy's fixed-width strings drop trailing NUL characters ("a\x00" -> "a"):
        # such labels stay objects.
        if len({type(c) for c in self.classes}) == 1:
            cls = np.asarray(self.classes)
            nul = cls.dtype.kind == "U" and any(str(c).endswith("\x00") for c in self.classes)
            # ... and only where that array holds the labels exactly (numpy holds the integers -1 and
            # 2**63 + 1 as floats, which would answer a label that is not a class).
            exact = all(type(a) is type(b) and a == b for a, b in zip(cls.tolist(), self.classes))
            if cls.dtype != object and not nul and exact:
                out = out.astype(cls.dtype)
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities per row (the answering rule's ``proba``)."""
        return self.proba_table()[self.decide(X)]

    # -- text --------------------------------------------------------------
    def to_text(self) -> str:
        """The canonical text form: an ``if / elif / else`` listing.

        Unordered sets are listed one rule per line, prefixed ``rule <id>:`` and
        followed by the confidence that decides between overlapping rules. A
        float32-cast condition reads ``float32(x) <= t``.
        """
        lines = []
        if self.ordered:
            for i, r in enumerate(self.rules):
                kw = "if" if i == 0 else "elif"
                lines.append(f"{kw} {r.condition_text()} then {_format_level(r.prediction)}")
            lines.append(f"else{self.default_text(': ')}")
        else:
            # The confidence decides between overlapping rules, so the text shows it.
            for i, r in enumerate(self.rules):
                lines.append(f"rule {self.rule_id(i)}: {r} (confidence {r.confidence!r})")
            lines.append(f"default:{self.default_text(' ')}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: id, text, prediction, support, confidence, number of conditions."""
        return pd.DataFrame(
            {
                "id": [self.rule_id(i) for i in range(len(self.rules))],
                "rule": [r.condition_text() for r in self.rules],
                "prediction": [r.prediction for r in self.rules],
                "support": [r.support for r in self.rules],
                "confidence": [r.confidence for r in self.rules],
                "n_conditions": [len(r.conditions) for r in self.rules],
            }
        )

    # -- JSON (implemented in _json.py) --------------------------------------
    def to_dict(self) -> dict:
        from ._json import ruleset_to_dict

        return ruleset_to_dict(self)

    def to_json(self, path: Any = None, *, indent: int | None = 2, overwrite: bool = False) -> str:
        """Serialise to the versioned JSON format; also write to ``path`` when given.

        An existing file at ``path`` is kept (``FileExistsError``) unless
        ``overwrite=True``, which replaces it atomically.
        """
        from ._json import dumps

        return dumps(self, path, indent=indent, overwrite=overwrite)

    # -- exports (implemented in _export.py) -----------------------------------
    def to_sql(self, table: Any = "data", **options: Any) -> str:
        """A portable SQL query giving one prediction per row; see :func:`rulekd.rules.to_sql`."""
        from ._export import to_sql

        return to_sql(self, table, **options)

    def to_python(self) -> str:
        """Source of a dependency-free Python module; see :func:`rulekd.rules.to_python`."""
        from ._export import to_python

        return to_python(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RuleSet":
        from ._json import ruleset_from_dict

        return ruleset_from_dict(data)

    @classmethod
    def from_json(cls, text_or_path: Any) -> "RuleSet":
        """Load from a JSON string or a file path, validating against the schema."""
        from ._json import loads

        return loads(text_or_path)


def _is_object_like(X: Any) -> bool:
    arr = np.asarray(X)
    return arr.dtype == object or arr.dtype.kind in "USO"


def merge_conjunction(conditions: Sequence[Condition]) -> tuple[Condition, ...]:
    """Drop conditions that a tighter one on the same feature implies.

    Exact: only same-direction numeric bounds (``<=``/``<`` vs ``<=``/``<``,
    ``>``/``>=`` vs ``>``/``>=``) on the same feature are compared, through
    their exact float64 bounds; the kept condition's ``missing`` flag becomes
    the AND of both. Set tests on one feature are intersected. Order of first
    appearance is kept.
    """
    out: list[Condition] = []
    for c in conditions:
        merged = False
        for k, d in enumerate(out):
            if d.feature != c.feature:
                continue
            if c.is_numeric and d.is_numeric:
                cu = c.exact_bound()[0] in ("<=", "<")
                du = d.exact_bound()[0] in ("<=", "<")
                if cu != du:
                    continue
                if c.cast != d.cast and c.exact_bound() == d.exact_bound():
                    # The same bound for every float64, but not for machine integers beyond 2**53, which
                    # a float32 cast rounds and the plain test compares exactly: both stay.
                    continue
                keep = _tighter(c, d, upper=cu)
                out[k] = replace(keep, missing=c.missing and d.missing)
                merged = True
                break
            if c.op == "in" and d.op == "in":
                out[k] = Condition(c.feature, "in", c.value & d.value, c.missing and d.missing)
                merged = True
                break
            if c.op == "not in" and d.op == "not in":
                out[k] = Condition(c.feature, "not in", c.value | d.value, c.missing and d.missing)
                merged = True
                break
            if c == d:
                merged = True
                break
        if not merged:
            out.append(c)
    return tuple(out)


def _tighter(a: Condition, b: Condition, *, upper: bool) -> Condition:
    """Of two same-direction numeric conditions, the one that implies the other."""
    oa, ta = a.exact_bound()
    ob, tb = b.exact_bound()
    if upper:
        if ta != tb:
            return a if ta < tb else b
        return a if oa == "<" else b  # x < t implies x <= t
    if ta != tb:
        return a if ta > tb else b
    return a if oa == ">" else b
