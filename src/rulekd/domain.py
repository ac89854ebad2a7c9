"""The ``Domain``: which inputs are legal.

Per feature: its kind (real, integer, binary, categorical with levels), bounds,
and whether it may be missing; plus one-hot groups and linear constraints
between features. The transfer-set sampler draws inside it and the verifier
quantifies over it, so a property "proved over the Domain" means: for every
input this object admits. ``Domain.from_data(X)`` infers one; edits return a
new Domain (it is immutable); JSON round-trips exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._io import dump_json, is_unicode
from .exceptions import DomainError
from .rules._floats import format_float, parse_float
from .rules._ir import _compare_integers, _exact_integers

__all__ = ["Domain", "FeatureSpec", "LinearConstraint", "KINDS"]

KINDS = ("real", "integer", "binary", "categorical")
_MAX_BYTES = 64 * 1024 * 1024


def refuse_non_numbers(dtype: Any, name: str) -> None:
    """Date, time, period and complex columns convert to float64 silently and wrongly: refuse them by name."""
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype) or pd.api.types.is_complex_dtype(dtype)):
        raise DomainError(
            f"Column {name!r} holds {dtype} values, which rules and networks cannot compare as numbers (a missing "
            f"date would become -9.2e18); convert it to a number first, e.g. days since a reference date or the year."
        )


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


@dataclass(frozen=True)
class FeatureSpec:
    """One feature of a :class:`Domain`.

    Parameters
    ----------
    name : str
    kind : {"real", "integer", "binary", "categorical"}
    lower, upper : float
        Inclusive bounds for numeric kinds (``-inf`` / ``inf`` allowed);
        ignored for categorical features.
    levels : tuple
        The legal levels of a categorical feature, in code order.
    allow_missing : bool
        Whether the value may be missing (NaN / None).
    """

    name: str
    kind: str
    lower: float = -math.inf
    upper: float = math.inf
    levels: tuple = ()
    allow_missing: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise DomainError(f"A feature name must be a non-empty string, got {self.name!r}.")
        if not is_unicode(self.name):
            raise DomainError(f"The feature name {self.name!r} is not valid Unicode (a lone surrogate); rename it.")
        if self.kind not in KINDS:
            raise DomainError(f"Feature {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}.")
        if not isinstance(self.allow_missing, (bool, np.bool_)):
            raise DomainError(f"Feature {self.name!r}: allow_missing must be True or False, got "
                              f"{self.allow_missing!r}.")
        object.__setattr__(self, "allow_missing", bool(self.allow_missing))
        if self.kind == "categorical":
            if isinstance(self.levels, (str, bytes, set, frozenset, Mapping)) or not hasattr(self.levels, "__iter__"):
                # A set has no order (the codes would change with the hash seed); a string is not a list of levels.
                raise DomainError(f"Feature {self.name!r}: levels must be a list or tuple of levels in code order, "
                                  f"got {self.levels!r}.")
            levels = tuple(_scalar(v) for v in self.levels)
            if not levels:
                raise DomainError(f"Categorical feature {self.name!r} needs at least one level.")
            for lv in levels:  # before the duplicate test, which hashes them (a list level raised TypeError)
                if not isinstance(lv, (str, int, float, bool)) or (isinstance(lv, float) and not math.isfinite(lv)):
                    raise DomainError(f"Feature {self.name!r}: levels must be strings or finite numbers, got {lv!r}.")
                if isinstance(lv, str) and not is_unicode(lv):
                    raise DomainError(f"Feature {self.name!r}: the level {lv!r} is not valid Unicode (a lone "
                                      f"surrogate); rename it.")
            if len(set(levels)) != len(levels):
                raise DomainError(f"Categorical feature {self.name!r} has duplicate levels.")
            object.__setattr__(self, "levels", levels)
            object.__setattr__(self, "lower", -math.inf)
            object.__setattr__(self, "upper", math.inf)
            return
        if self.levels:
            raise DomainError(f"Feature {self.name!r} is {self.kind}; only categorical features have levels.")
        try:
            if isinstance(self.lower, (str, bytes)) or isinstance(self.upper, (str, bytes)):
                raise TypeError
            lo, hi = float(self.lower), float(self.upper)
        except (TypeError, ValueError, OverflowError):
            raise DomainError(f"Feature {self.name!r}: lower and upper must be numbers (or -inf / inf), got "
                              f"lower={self.lower!r}, upper={self.upper!r}.") from None
        if math.isnan(lo) or math.isnan(hi):
            raise DomainError(f"Feature {self.name!r}: bounds cannot be NaN.")
        if self.kind == "binary":
            lo, hi = max(lo, 0.0), min(hi, 1.0)
        if self.kind in ("integer", "binary"):  # bounds hold whole numbers: [0.2, 0.8] holds none
            lo = math.ceil(lo) if math.isfinite(lo) else lo
            hi = math.floor(hi) if math.isfinite(hi) else hi
            lo, hi = float(lo), float(hi)
        if lo > hi:
            if self.kind in ("integer", "binary") and float(self.lower) <= float(self.upper):
                raise DomainError(f"Feature {self.name!r} is {self.kind}, but its bounds [{self.lower}, "
                                  f"{self.upper}] hold no {'0 or 1' if self.kind == 'binary' else 'whole number'}.")
            raise DomainError(f"Feature {self.name!r}: lower bound {lo} exceeds upper bound {hi}.")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)

    @property
    def is_numeric(self) -> bool:
        return self.kind != "categorical"

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "allow_missing": self.allow_missing}
        if self.kind == "categorical":
            d["levels"] = list(self.levels)
        else:
            d["lower"] = format_float(self.lower)
            d["upper"] = format_float(self.upper)
        return d


@dataclass(frozen=True)
class LinearConstraint:
    """``sum(coef * feature) op rhs`` over numeric features, e.g. ``a - b <= 0``."""

    coefficients: tuple[tuple[str, float], ...]
    op: str
    rhs: float

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">=", "=="):
            raise DomainError(f"A linear constraint's operator must be <=, >= or ==, got {self.op!r}.")
        pairs = list(self.coefficients.items() if isinstance(self.coefficients, Mapping) else self.coefficients)
        names = [str(n) for n, _ in pairs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DomainError(f"A linear constraint names {dup} more than once; give each feature one "
                              f"coefficient (their sum).")
        coefs = tuple((str(n), float(c)) for n, c in pairs)
        if not coefs:
            raise DomainError("A linear constraint needs at least one coefficient.")
        if any(not math.isfinite(c) for _, c in coefs) or not math.isfinite(float(self.rhs)):
            raise DomainError("Linear constraint coefficients and right-hand side must be finite.")
        object.__setattr__(self, "coefficients", coefs)
        object.__setattr__(self, "rhs", float(self.rhs))

    def __str__(self) -> str:
        terms = " + ".join(f"{c!r}*{n}" for n, c in self.coefficients)
        return f"{terms} {self.op} {self.rhs!r}"


@dataclass(frozen=True)
class Domain:
    """The legal inputs: one :class:`FeatureSpec` per column, in column order.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [19, 40, 70], "job": pd.Categorical(["a", "b", "a"])})
    >>> d = Domain.from_data(X)
    >>> d["age"].kind, d["age"].lower, d["job"].levels
    ('integer', 19.0, ('a', 'b'))
    >>> d.update("age", lower=18).contains(X).tolist()
    [True, True, True]
    """

    features: tuple[FeatureSpec, ...]
    onehot_groups: tuple[tuple[str, ...], ...] = ()
    constraints: tuple[LinearConstraint, ...] = ()
    _index: dict = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        feats = tuple(self.features)
        if not feats:
            raise DomainError("A Domain needs at least one feature.")
        for f in feats:
            if not isinstance(f, FeatureSpec):
                raise DomainError(f"Domain features must be FeatureSpec objects, got {f!r}.")
        names = [f.name for f in feats]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise DomainError(f"Duplicate feature names in the Domain: {dup}. Rename the columns.")
        object.__setattr__(self, "features", feats)
        index = {n: i for i, n in enumerate(names)}
        object.__setattr__(self, "_index", index)
        groups = tuple(tuple(str(n) for n in g) for g in self.onehot_groups)
        for g in groups:
            for n in g:
                if n not in index:
                    raise DomainError(f"One-hot group names unknown feature {n!r}.")
                if feats[index[n]].kind != "binary":
                    raise DomainError(f"One-hot group member {n!r} must be a binary feature.")
            if len(g) < 2:
                raise DomainError("A one-hot group needs at least two features.")
            if len(set(g)) != len(g):
                raise DomainError(f"One-hot group {list(g)} names a feature more than once (no row could "
                                  f"then have exactly one of them set).")
        object.__setattr__(self, "onehot_groups", groups)
        cons = tuple(self.constraints)
        for c in cons:
            if not isinstance(c, LinearConstraint):
                raise DomainError(f"Domain constraints must be LinearConstraint objects, got {c!r}.")
            for n, _ in c.coefficients:
                if n not in index:
                    raise DomainError(f"Linear constraint names unknown feature {n!r}.")
                if not feats[index[n]].is_numeric:
                    raise DomainError(f"Linear constraint uses categorical feature {n!r}.")
        object.__setattr__(self, "constraints", cons)

    # -- access ------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self):
        return iter(self.features)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> FeatureSpec:
        try:
            return self.features[self._index[name]]
        except KeyError:
            raise KeyError(f"{name!r} is not a feature of this Domain; features: {list(self.names)[:20]}") from None

    @property
    def categories(self) -> dict[str, tuple]:
        """Categorical feature name -> levels in code order."""
        return {f.name: f.levels for f in self.features if f.kind == "categorical"}

    # -- construction ------------------------------------------------------
    @classmethod
    def from_data(
        cls,
        X: Any,
        *,
        feature_names: Sequence[str] | None = None,
        categorical: Iterable[str] = (),
    ) -> "Domain":
        """Infer a Domain from data.

        ``category``, ``object``, string and ``bool`` columns... become
        categorical (bool: binary); numeric columns become binary (only 0/1),
        integer (integer-valued) or real, bounded by the observed min and max.
        A column with any missing value allows missing.

        Raises
        ------
        DomainError
            For an empty table, an all-missing column, or infinite values.
        """
        frame = _as_frame(X, feature_names)
        if frame.shape[0] == 0:
            raise DomainError("Cannot infer a Domain from data with 0 rows.")
        categorical = {str(c) for c in categorical}
        unknown = sorted(categorical - set(frame.columns))
        if unknown:
            raise DomainError(f"categorical names columns {unknown} that the data does not have.")
        specs = []
        for name in frame.columns:
            col = frame[name]
            allow_missing = bool(col.isna().any())
            if col.isna().all():
                raise DomainError(
                    f"Column {name!r} is entirely missing; drop it or fill it before fitting."
                )
            dtype = col.dtype
            if isinstance(dtype, pd.CategoricalDtype):
                levels = tuple(_scalar(v) for v in dtype.categories)
                specs.append(FeatureSpec(name, "categorical", levels=levels, allow_missing=allow_missing))
                continue
            if name in categorical or dtype == object or pd.api.types.is_string_dtype(dtype):
                values = col.dropna().unique().tolist()
                try:
                    # bool beside numbers (True == 1) merge into one level whose type depends on the row order
                    if pd.api.types.infer_dtype(col, skipna=True) in ("mixed", "mixed-integer"):
                        kinds = {type(_scalar(v)) for v in col.dropna()}
                        if bool in kinds and kinds & {int, float}:
                            raise DomainError(
                                f"Column {name!r} mixes value types ({sorted(k.__name__ for k in kinds)}); "
                                f"convert it to one type or to a pandas category.")
                    levels = tuple(sorted(values))
                except TypeError:
                    raise DomainError(
                        f"Column {name!r} mixes value types ({sorted({type(v).__name__ for v in values})}); "
                        f"convert it to one type or to a pandas category."
                    ) from None
                specs.append(FeatureSpec(name, "categorical", levels=levels, allow_missing=allow_missing))
                continue
            if pd.api.types.is_bool_dtype(dtype):
                specs.append(FeatureSpec(name, "binary", 0.0, 1.0, allow_missing=allow_missing))
                continue
            refuse_non_numbers(dtype, name)
            try:
                x = col.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise DomainError(f"Column {name!r} is neither numeric nor categorical.") from None
            finite = x[~np.isnan(x)]
            if not np.isfinite(finite).all():
                raise DomainError(f"Column {name!r} contains infinite values; replace them before fitting.")
            lo, hi = float(finite.min()), float(finite.max())
            exact = _exact_integers(col)
            if exact is not None:  # integers beyond 2**53: bounds rounded outward, so every row stays inside
                xi, miss = exact
                if (~miss).any():
                    if lo > int(xi[~miss].min()):
                        lo = math.nextafter(lo, -math.inf)
                    if hi < int(xi[~miss].max()):
                        hi = math.nextafter(hi, math.inf)
            if np.isin(finite, (0.0, 1.0)).all():
                kind = "binary"
            elif np.all(finite == np.round(finite)) and np.abs(finite).max() < 2**53:
                kind = "integer"
            else:
                kind = "real"
            specs.append(FeatureSpec(name, kind, lo, hi, allow_missing=allow_missing))
        return cls(tuple(specs))

    def update(self, name: str, /, **changes: Any) -> "Domain":
        """A copy with feature ``name`` edited, e.g. ``update("age", lower=18, upper=100)``."""
        spec = self[name]
        unknown = sorted(set(changes) - {"kind", "lower", "upper", "levels", "allow_missing"})
        if unknown:
            raise DomainError(f"Domain.update edits kind, lower, upper, levels and allow_missing; got {unknown}"
                              f"{' (a feature keeps its name: it is the column it reads)' if 'name' in unknown else ''}.")
        if "levels" in changes and "kind" not in changes and spec.kind != "categorical":
            raise DomainError(f"Feature {name!r} is {spec.kind}; pass kind='categorical' with levels.")
        if changes.get("kind") not in (None, "categorical") and "levels" not in changes:
            changes["levels"] = ()
        bounds = sorted({"lower", "upper"} & set(changes))
        if bounds and changes.get("kind", spec.kind) == "categorical":  # they were dropped without a word
            raise DomainError(f"Feature {name!r} is categorical; {bounds} only numeric features have. Give its "
                              f"levels instead.")
        new = replace(spec, **changes)
        feats = list(self.features)
        feats[self._index[name]] = new
        return replace(self, features=tuple(feats))

    def with_onehot_group(self, names: Sequence[str]) -> "Domain":
        """A copy in which exactly one of the binary features ``names`` is 1."""
        return replace(self, onehot_groups=self.onehot_groups + (tuple(names),))

    def with_constraint(self, coefficients: Mapping[str, float], op: str, rhs: float) -> "Domain":
        """A copy with the linear constraint ``sum(coef * x) op rhs`` added."""
        c = LinearConstraint(tuple(coefficients.items()), op, rhs)
        return replace(self, constraints=self.constraints + (c,))

    # -- membership --------------------------------------------------------
    def contains(self, X: Any) -> np.ndarray:
        """Boolean mask: which rows lie inside the Domain."""
        frame = _as_frame(X, self.names if not isinstance(X, pd.DataFrame) else None)
        missing_cols = [n for n in self.names if n not in frame.columns]
        if missing_cols:
            raise DomainError(f"The data lacks Domain features {missing_cols[:10]}.")
        ok = np.ones(len(frame), dtype=bool)
        values: dict[str, np.ndarray] = {}
        for f in self.features:
            col = frame[f.name]
            miss = np.asarray(col.isna(), dtype=bool)
            if f.kind == "categorical":
                inside = np.asarray(col.isin(list(f.levels)), dtype=bool)
            else:
                refuse_non_numbers(col.dtype, f.name)  # dates read as nanoseconds were "inside"
                x = None
                if col.dtype != object and not pd.api.types.is_string_dtype(col.dtype):
                    try:
                        x = col.to_numpy(dtype=np.float64, na_value=np.nan)
                    except (TypeError, ValueError):
                        x = None
                if x is None:  # cell by cell: a cell of text (even "0.5") in a numeric feature is outside
                    x = np.array([_number_or_nan(v) for v in col], dtype=np.float64)
                    text = np.isnan(x) & ~miss
                    ok &= ~text
                    miss = miss | text  # already outside; the test below must not let them in
                values[f.name] = x
                exact = _exact_integers(col)
                if exact is not None:  # machine integers beyond 2**53: bounds compared exactly, as predict does
                    xi, _ = exact
                    inside = _compare_integers(xi, ">=", f.lower) & _compare_integers(xi, "<=", f.upper)
                else:
                    with np.errstate(invalid="ignore"):
                        inside = np.isfinite(x) & (x >= f.lower) & (x <= f.upper)  # inputs are finite
                        if f.kind in ("integer", "binary"):
                            inside &= x == np.round(x)
            ok &= np.where(miss, f.allow_missing, inside)
        for g in self.onehot_groups:
            total = sum(np.nan_to_num(values[n], nan=0.0) for n in g)
            ok &= total == 1
        for c in self.constraints:
            # A constraint over a missing value does not apply.
            present = np.logical_and.reduce([~np.isnan(values[n]) for n, _ in c.coefficients])
            finite = np.logical_and.reduce([np.isfinite(values[n]) for n, _ in c.coefficients])
            ok &= ~present | _constraint_holds(c, values, finite)  # an infinite value is outside anyway
        return ok

    def sample(self, n: int, random_state: Any = None, *, missing_rate: float = 0.0) -> pd.DataFrame:
        """Draw ``n`` rows uniformly inside the bounds (one-hot groups respected).

        Linear constraints are enforced by rejection (up to 50 rounds); a test
        aid and a fallback, not a model of the data (see :mod:`rulekd.transfer`).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise DomainError(f"sample(n): n must be an integer >= 0, got {n!r}.")
        if isinstance(missing_rate, bool) or not isinstance(missing_rate, (int, float, np.number)) \
                or not 0.0 <= missing_rate <= 1.0:
            raise DomainError(f"missing_rate must be a number in [0, 1], got {missing_rate!r}.")
        rng = np.random.default_rng(random_state)
        out = pd.DataFrame(index=pd.RangeIndex(0))
        rows: list[pd.DataFrame] = []
        need = n
        for _ in range(50):
            block = self._sample_box(max(need * 2, 16), rng, missing_rate)
            block = block[self.contains(block)]
            rows.append(block)
            need -= len(block)
            if need <= 0:
                break
        out = pd.concat(rows, ignore_index=True).iloc[:n].reset_index(drop=True)
        if len(out) < n:
            raise DomainError("Could not sample inside the Domain: its constraints leave (almost) no room.")
        return out

    def _sample_box(self, n: int, rng: np.random.Generator, missing_rate: float) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for f in self.features:
            if f.kind == "categorical":
                codes = rng.integers(0, len(f.levels), size=n)
                col = pd.Categorical.from_codes(codes, categories=list(f.levels))
                if f.allow_missing and missing_rate > 0:
                    col = col.copy()
                    col[rng.random(n) < missing_rate] = np.nan
                cols[f.name] = col
                continue
            lo, hi = _sampling_range(f.lower, f.upper)
            if f.kind == "real":
                u = rng.random(n)
                # lo + (hi - lo) * u overflows for bounds near the float64 limits.
                x = np.clip(lo * (1.0 - u) + hi * u, lo, hi)
            else:
                ilo = math.ceil(max(lo, -(2.0**62)))
                ihi = math.floor(min(hi, 2.0**62))
                if ilo <= ihi:
                    x = rng.integers(ilo, ihi + 1, size=n).astype(np.float64)
                else:  # bounds past 2**62: integers there are not exact floats anyway
                    x = np.full(n, lo)
            if f.allow_missing and missing_rate > 0:
                x[rng.random(n) < missing_rate] = np.nan
            cols[f.name] = x
        frame = pd.DataFrame(cols)
        for g in self.onehot_groups:
            pick = rng.integers(0, len(g), size=n)
            for k, name in enumerate(g):
                frame[name] = (pick == k).astype(np.float64)
        return frame

    # -- JSON --------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": "rulekd.domain",
            "version": 1,
            "features": [f.to_dict() for f in self.features],
            "onehot_groups": [list(g) for g in self.onehot_groups],
            "constraints": [
                {"coefficients": dict(c.coefficients), "op": c.op, "rhs": c.rhs} for c in self.constraints
            ],
        }

    def to_json(self, path: Any = None, *, indent: int | None = 2, overwrite: bool = False) -> str:
        """Serialise; also write to ``path`` when given (an existing file only with ``overwrite=True``,
        then atomically)."""
        return dump_json(self.to_dict(), path, indent=indent, overwrite=overwrite)

    @classmethod
    def from_dict(cls, data: Any) -> "Domain":
        """Build from :meth:`to_dict` output, validating every field."""
        if not isinstance(data, dict):
            raise DomainError(f"A Domain JSON document must be an object, got {type(data).__name__}.")
        if data.get("format") != "rulekd.domain" or data.get("version") != 1:
            raise DomainError('Not a rulekd Domain: expected "format": "rulekd.domain", "version": 1.')
        extra = set(data) - {"format", "version", "features", "onehot_groups", "constraints"}
        if extra:
            raise DomainError(f"Unknown Domain fields {sorted(extra)}.")
        feats = data.get("features")
        if not isinstance(feats, list):
            raise DomainError("Domain 'features' must be a list.")
        specs = []
        for i, f in enumerate(feats):
            if not isinstance(f, dict):
                raise DomainError(f"Domain feature {i} must be an object.")
            unknown = set(f) - {"name", "kind", "lower", "upper", "levels", "allow_missing"}
            if unknown:
                raise DomainError(f"Domain feature {i} has unknown fields {sorted(unknown)}.")
            allow = f.get("allow_missing", False)
            if not isinstance(allow, bool):
                raise DomainError(f"Domain feature {i}: allow_missing must be true or false.")
            wrong = sorted({"lower", "upper"} & set(f)) if f.get("kind") == "categorical" else (
                ["levels"] if "levels" in f else [])
            if wrong:  # dropped silently before: a document that says more than the Domain it makes
                raise DomainError(f"Domain feature {i} ({f.get('name')!r}, {f.get('kind')}) has {wrong}, which "
                                  f"only {'numeric' if f.get('kind') == 'categorical' else 'categorical'} "
                                  f"features have.")
            try:
                if f.get("kind") == "categorical":
                    levels = f.get("levels")
                    if not isinstance(levels, list):
                        raise DomainError(f"Domain feature {i}: levels must be a list.")
                    specs.append(FeatureSpec(f.get("name"), "categorical", levels=tuple(levels), allow_missing=allow))
                else:
                    specs.append(
                        FeatureSpec(
                            f.get("name"),
                            f.get("kind"),
                            parse_float(f.get("lower", "-inf")),
                            parse_float(f.get("upper", "inf")),
                            allow_missing=allow,
                        )
                    )
            except DomainError:
                raise
            except (ValueError, TypeError) as exc:
                raise DomainError(f"Domain feature {i}: {exc}") from None
        groups = data.get("onehot_groups", [])
        cons = data.get("constraints", [])
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise DomainError("Domain 'onehot_groups' must be a list of lists of names.")
        if not isinstance(cons, list):
            raise DomainError("Domain 'constraints' must be a list.")
        parsed = []
        for c in cons:
            if not isinstance(c, dict) or not isinstance(c.get("coefficients"), dict):
                raise DomainError("Each Domain constraint needs 'coefficients' (an object), 'op' and 'rhs'.")
            try:
                coefs = tuple((str(k), parse_float(v)) for k, v in c["coefficients"].items())
                parsed.append(LinearConstraint(coefs, c.get("op"), parse_float(c.get("rhs"))))
            except DomainError:
                raise
            except (ValueError, TypeError) as exc:
                raise DomainError(f"Domain constraint: {exc}") from None
        return cls(tuple(specs), tuple(tuple(g) for g in groups), tuple(parsed))

    @classmethod
    def from_json(cls, text_or_path: Any) -> "Domain":
        """Load from JSON text or a file path (see :meth:`RuleSet.from_json` for which is which)."""
        from .rules._json import parse_json, read_source

        text = read_source(text_or_path, what="Domain", max_bytes=_MAX_BYTES, error=DomainError)
        return cls.from_dict(parse_json(text, what="Domain", error=DomainError, reject_constant=_reject))


def _number_or_nan(v: Any) -> float:
    """A cell of an object column as a number; NaN for text and anything else that is not one."""
    if isinstance(v, (bool, int, float, np.number)) and not isinstance(v, complex):
        try:
            return float(v)
        except OverflowError:
            return math.inf
    return math.nan


_U64 = 2.0 ** -53


def sum_rounding_bound(m: int) -> float:
    """Relative rounding error of ``sum(w * x) - rhs`` over ``m`` terms in float64 (m products, m
    additions, the subtraction): ``|computed - exact| <= g * (sum(|w * x|) + |rhs|)``."""
    return (2 * m + 2) * _U64 / (1.0 - (2 * m + 2) * _U64)


def _constraint_holds(c: LinearConstraint, values: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Whether ``c`` holds on each row, exactly as the verifier's rational arithmetic decides it.

    float64 decides every row whose left side is farther from ``rhs`` than its rounding error can reach;
    the rest (near the boundary, or overflowing) are summed exactly in fractions. An equality holds on
    the rows within that rounding error instead (data meet it only up to rounding; the verifier's
    counterexamples meet it exactly). ``rows``: the rows to decide (the others are left False).
    """
    from fractions import Fraction

    m = len(c.coefficients)
    with np.errstate(all="ignore"):
        diff = sum(w * values[n] for n, w in c.coefficients) - c.rhs
        mag = sum(abs(w) * np.abs(values[n]) for n, w in c.coefficients) + abs(c.rhs)
    g = sum_rounding_bound(m)
    with np.errstate(invalid="ignore"):
        near = rows & np.isfinite(diff) & (np.abs(diff) <= g * mag)
        sure = rows & np.isfinite(diff) & ~near
        out = np.zeros(len(rows), dtype=bool)
        if c.op == "<=":
            out[sure] = diff[sure] <= 0
        elif c.op == ">=":
            out[sure] = diff[sure] >= 0
        else:
            # Data meet an equality (shares summing to 1) only up to rounding: 0.1 + 0.9 is not 1 in
            # exact arithmetic. A row within the rounding error of the sum holds it.
            out[near] = True
    for i in np.flatnonzero(rows & ~sure & ~(near if c.op == "==" else False)):
        lhs = sum(Fraction(w) * Fraction(float(values[n][i])) for n, w in c.coefficients) - Fraction(c.rhs)
        out[i] = lhs <= 0 if c.op == "<=" else (lhs >= 0 if c.op == ">=" else lhs == 0)
    return out


def _sampling_range(lower: float, upper: float) -> tuple[float, float]:
    """Finite bounds to sample between: a span of at least 1e6 beyond an infinite side."""
    big = float(np.finfo(np.float64).max)
    if math.isinf(lower) and math.isinf(upper):
        return -1e6, 1e6
    if math.isinf(lower):
        lo = upper - max(1e6, abs(upper))
        return (lo if math.isfinite(lo) else -big), upper
    if math.isinf(upper):
        hi = lower + max(1e6, abs(lower))
        return lower, (hi if math.isfinite(hi) else big)
    return lower, upper


def _reject(name: str) -> float:
    raise DomainError(f'Domain JSON contains the non-standard constant {name}; use "inf" or "-inf".')


def _as_frame(X: Any, feature_names: Sequence[str] | None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        names = pd.Index([str(c) for c in X.columns])  # 1 and "1" collide once named
        if names.duplicated().any():
            dup = sorted(set(names[names.duplicated()]))
            raise DomainError(f"Duplicate column names {dup}; rename them.")
        out = X.copy(deep=False)
        out.columns = names
        return out
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise DomainError(f"Expected 2-D data, got shape {arr.shape}.")
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise DomainError(f"Got {len(names)} feature names for {arr.shape[1]} columns.")
    return pd.DataFrame(arr, columns=names)
