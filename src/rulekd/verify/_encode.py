"""Domain and conditions as Z3 formulas, and Z3 models back into real inputs.

One :class:`Encoding` is one input ``x`` over a :class:`~rulekd.Domain`:

* a real feature is a Z3 ``Real``; an integer or binary feature an ``Int``; a
  categorical feature an ``Int`` code ``0..k-1`` into the Domain's level table;
* a feature that may be missing also has a Boolean ``<name>?missing``; while it
  is true, a condition takes the value of its ``missing`` flag;
* bounds, one-hot groups (a missing member counts 0, as in ``Domain.contains``)
  and linear constraints (which do not apply when a feature in them is missing)
  are the Domain constraints;
* a numeric condition enters through :meth:`Condition.exact_bound`, with the
  threshold as the exact rational value of the float: ``<=`` stays ``<=``,
  float32 casting becomes the exact float64 boundary.

Z3 reasons over the rationals, inputs are float64. Every rational that Z3
returns is mapped to a float that lies on the same side of every threshold the
encoding has seen (so every condition keeps its value); where no float lies in
that cell (two adjacent floats as thresholds) the cell is excluded and Z3 asked
again. A :meth:`Encoding.variant` shares all variables but the ones it varies,
for properties that compare two inputs.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from fractions import Fraction
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain, FeatureSpec, sum_rounding_bound
from ..exceptions import DomainError, RuleFormatError
from ..rules._ir import COMPARE, Condition, RuleSet

__all__ = ["Encoding", "infer_domain", "frame_from_rows", "OTHER_LEVEL", "level_truth"]

OTHER_LEVEL = "<other>"


def _z3():
    import z3

    return z3


def infer_domain(rules: RuleSet) -> Domain:
    """The unbounded Domain assumed for a rule set given without one.

    Every feature in ``feature_names`` (or used by the rules) may be missing.
    A feature that the rules test with ``in`` / ``not in`` only is categorical,
    with the levels the rules name plus ``"<other>"`` (any value they do not
    name); every other feature is real and unbounded.
    """
    names = list(rules.feature_names or sorted(rules.features))
    for f in sorted(rules.features):
        if f not in names:
            names.append(f)
    if not names:
        raise DomainError(
            "The rule set tests no feature and names none (feature_names is empty), so there are no inputs to "
            "verify it over; pass domain= (or give the rule set feature_names)."
        )
    levels: dict[str, set] = defaultdict(set)
    numeric: set[str] = set()
    for r in rules.rules:
        for c in r.conditions:
            if c.is_categorical:
                levels[c.feature] |= set(c.value)
            elif c.is_numeric:
                numeric.add(c.feature)
    specs = []
    for n in names:
        if n in levels and n not in numeric:
            lv = sorted(levels[n], key=lambda v: (type(v).__name__, str(v)))
            if OTHER_LEVEL not in lv:
                lv.append(OTHER_LEVEL)
            specs.append(FeatureSpec(n, "categorical", levels=tuple(lv), allow_missing=True))
        else:
            specs.append(FeatureSpec(n, "real", allow_missing=True))
    return Domain(tuple(specs))


def level_truth(c: Condition, spec: FeatureSpec) -> np.ndarray:
    """Value of condition ``c`` on each level of a categorical feature (not missing)."""
    levels = list(spec.levels)
    if c.op in ("is missing", "is not missing"):
        return np.full(len(levels), c.op == "is not missing")
    if c.is_categorical:
        # As predict reads the feature (frame_from_rows): a Categorical, by Python equality (True == 1).
        column = pd.Series(pd.Categorical(levels, categories=levels))
        return np.asarray(c.evaluate(column), dtype=bool)
    try:
        [float(v) for v in levels]
    except (TypeError, ValueError):
        raise RuleFormatError(
            f"The condition '{c}' compares categorical feature {c.feature!r} with a number, but its levels "
            f"{levels[:6]} are not numbers."
        ) from None
    # On the column predict reads: integer levels beyond 2**53 are compared exactly there, not as floats.
    return np.asarray(c.evaluate(pd.Series(pd.Categorical(levels, categories=levels))), dtype=bool)


def _frac(t: float) -> Fraction:
    return Fraction(t)


def _compare(z3: Any, x: Any, op: str, t: float, integer: bool) -> Any:
    """``x op t`` for a Z3 variable ``x`` and an exact float ``t`` (inf allowed; x is finite)."""
    if math.isinf(t):
        up = t > 0
        if op in ("<=", "<"):
            return z3.BoolVal(up)
        return z3.BoolVal(not up)
    q = _frac(t)
    if integer:
        if op == "<=":
            return x <= math.floor(q)
        if op == "<":
            return x <= math.ceil(q) - 1
        if op == ">":
            return x >= math.floor(q) + 1
        return x >= math.ceil(q)
    return COMPARE[op](x, z3.RealVal(q))


class Encoding:
    """The Z3 variables of one input over a Domain.

    Parameters
    ----------
    domain : Domain
    tag : str
        Suffix of the variable names (``""`` for ``x``, ``"'"`` for ``x'``).
    """

    def __init__(self, domain: Domain, tag: str = "", *, _base: "Encoding | None" = None,
                 _vary: Iterable[str] = ()) -> None:
        z3 = _z3()
        self.domain = domain
        self.tag = tag
        self.value: dict[str, Any] = {}
        self.missing: dict[str, Any] = {}
        self._cache: dict[Any, Any] = {}  # by condition
        self._conj_cache: dict[tuple, Any] = {}
        self._sorted: dict[str, tuple[int, list[float]]] = {}
        self._truth: dict[tuple[Condition, str], np.ndarray] = {}
        vary = set(_vary)
        # Thresholds seen on each real feature; shared by all variants so that
        # every copy rounds with the complete set.
        self.thresholds: dict[str, set[float]] = _base.thresholds if _base is not None else defaultdict(set)
        self.own: set[str] = set()
        for spec in domain.features:
            if _base is not None and spec.name not in vary:
                self.value[spec.name] = _base.value[spec.name]
                if spec.name in _base.missing:
                    self.missing[spec.name] = _base.missing[spec.name]
                continue
            self.own.add(spec.name)
            # Fresh constants: a name is only a label. Named constants would be one and the same for the
            # features a' of this input and a of a variant (tag "'"), and their bounds would then make a
            # violated property look proved.
            name = spec.name + tag
            if spec.kind == "real":
                self.value[spec.name] = z3.FreshReal(name)
                for b in (spec.lower, spec.upper):
                    if math.isfinite(b):
                        self.thresholds[spec.name].add(b)
            else:
                self.value[spec.name] = z3.FreshInt(name)
            if spec.allow_missing:
                self.missing[spec.name] = z3.FreshBool(name + "?missing")

    def variant(self, vary: Iterable[str], tag: str = "'") -> "Encoding":
        """A second input equal to this one except on the features ``vary``."""
        vary = list(vary)
        for n in vary:
            self.domain[n]  # raises a clear KeyError for an unknown feature
        return Encoding(self.domain, tag, _base=self, _vary=vary)

    # -- domain ------------------------------------------------------------
    def is_missing(self, name: str) -> Any:
        z3 = _z3()
        return self.missing.get(name, z3.BoolVal(False))

    def domain_constraints(self, only_own: bool = False) -> list:
        """Bounds, integrality, level ranges, one-hot groups and linear constraints."""
        z3 = _z3()
        out = []
        for spec in self.domain.features:
            if only_own and spec.name not in self.own:
                continue
            x = self.value[spec.name]
            if spec.kind == "categorical":
                out += [x >= 0, x <= len(spec.levels) - 1]
                continue
            integer = spec.kind != "real"
            if math.isfinite(spec.lower):
                out.append(_compare(z3, x, ">=", spec.lower, integer))
            if math.isfinite(spec.upper):
                out.append(_compare(z3, x, "<=", spec.upper, integer))
        for group in self.domain.onehot_groups:
            if only_own and not (set(group) & self.own):
                continue
            terms = [z3.If(self.is_missing(n), 0, self.value[n]) for n in group]
            out.append(z3.Sum(terms) == 1)
        for con in self.domain.constraints:
            names = [n for n, _ in con.coefficients]
            if only_own and not (set(names) & self.own):
                continue
            terms = []
            for n, w in con.coefficients:
                x = self.value[n]
                if self.domain[n].kind != "real":
                    x = z3.ToReal(x)
                terms.append(z3.RealVal(_frac(w)) * x)
            lhs = z3.Sum(terms)
            rhs = z3.RealVal(_frac(con.rhs))
            if con.op == "==":
                # Domain.contains lets data meet an equality up to the float64 rounding of its sum (0.1 + 0.9
                # is not 1 exactly), within g * magnitude of the computed sum; so the exact sum of such a row
                # lies within 2g(1 + g) < 3g of the exact magnitude. Proofs cover that band, or a row that
                # contains accepts could break a "proved" property.
                mag = z3.Sum([z3.If(t >= 0, t, -t) for t in terms]) + z3.RealVal(_frac(abs(con.rhs)))
                tol = z3.RealVal(_frac(3 * sum_rounding_bound(len(terms)))) * mag
                rel = z3.And(lhs - rhs <= tol, rhs - lhs <= tol)
            else:
                rel = lhs <= rhs if con.op == "<=" else lhs >= rhs
            guard = z3.Or([self.is_missing(n) for n in names])
            out.append(z3.Or(guard, rel))
        return out

    # -- conditions ----------------------------------------------------------
    def spec(self, name: str) -> FeatureSpec:
        if name not in self.domain:
            raise DomainError(
                f"The rules or properties use feature {name!r}, which is not in the Domain "
                f"(features: {list(self.domain.names)[:20]})."
            )
        return self.domain[name]

    def cond(self, c: Condition) -> Any:
        """Z3 formula that holds exactly where condition ``c`` holds (missing included)."""
        hit = self._cache.get(c)
        if hit is not None:
            return hit
        z3 = _z3()
        spec = self.spec(c.feature)
        m = self.missing.get(c.feature)
        if c.op == "is missing":
            out = m if m is not None else z3.BoolVal(False)
        elif c.op == "is not missing":
            out = z3.Not(m) if m is not None else z3.BoolVal(True)
        else:
            x = self.value[c.feature]
            if spec.kind == "categorical":
                truth = level_truth(c, spec)
                codes = np.flatnonzero(truth)
                if len(codes) == len(truth):
                    atom = z3.BoolVal(True)
                elif len(codes) == 0:
                    atom = z3.BoolVal(False)
                elif len(codes) <= len(truth) // 2 + 1:
                    atom = z3.Or([x == int(k) for k in codes])
                else:
                    atom = z3.And([x != int(k) for k in np.flatnonzero(~truth)])
            elif c.is_numeric:
                op, t = c.exact_bound()
                if spec.kind == "real" and math.isfinite(t):
                    self.thresholds[c.feature].add(t)
                atom = _compare(z3, x, op, t, spec.kind != "real")
            else:  # a level set on a numeric feature: equality with numeric levels
                # An integer float64 cannot hold (2**53 + 1) equals no input value: skipped, not rounded.
                vals = sorted({float(v) for v in c.value
                               if isinstance(v, (int, float)) and (isinstance(v, bool) or float(v) == v)})
                eqs = []
                for v in vals:
                    if math.isfinite(v):
                        if spec.kind == "real":
                            self.thresholds[c.feature].add(v)
                            eqs.append(x == z3.RealVal(_frac(v)))
                        elif v == math.floor(v):
                            eqs.append(x == int(v))
                atom = z3.Or(eqs) if eqs else z3.BoolVal(False)
                if c.op == "not in":
                    atom = z3.Not(atom)
            if m is None:
                out = atom
            elif c.missing:
                out = z3.Or(m, atom)
            else:
                out = z3.And(z3.Not(m), atom)
        self._cache[c] = out
        return out

    def conj(self, conditions: Sequence[Condition]) -> Any:
        """Z3 conjunction of ``conditions`` (cached per tuple)."""
        key = tuple(conditions)
        hit = self._conj_cache.get(key)
        if hit is not None:
            return hit
        z3 = _z3()
        if not key:
            out = z3.BoolVal(True)
        elif len(key) == 1:
            out = self.cond(key[0])
        else:
            out = z3.And([self.cond(c) for c in key])
        self._conj_cache[key] = out
        return out

    # -- models back to inputs ------------------------------------------------
    def _sorted_thresholds(self, name: str) -> list[float]:
        ts = self.thresholds.get(name, ())
        hit = self._sorted.get(name)
        if hit is None or hit[0] != len(ts):
            hit = self._sorted[name] = (len(ts), sorted(ts))
        return hit[1]

    def decode(self, model: Any) -> tuple[dict[str, Any] | None, list]:
        """Input row from a Z3 model: ``(row, [])``, or ``(None, refinements)``.

        ``refinements`` are constraints that exclude rational cells holding no
        float; add them and ask again.
        """
        z3 = _z3()
        row: dict[str, Any] = {}
        refine = []
        for spec in self.domain.features:
            n = spec.name
            m = self.missing.get(n)
            if m is not None and z3.is_true(model.eval(m, model_completion=True)):
                row[n] = None
                continue
            v = model.eval(self.value[n], model_completion=True)
            if spec.kind == "categorical":
                row[n] = spec.levels[int(v.as_long())]
            elif spec.kind != "real":
                k = v.as_long()  # beyond 2**53 kept exact (a float would round it to a neighbour predict tells apart)
                row[n] = float(k) if abs(k) <= 2**53 else k
            else:
                q = v.as_fraction() if hasattr(v, "as_fraction") else Fraction(str(v))
                f, gap = _round_in_cell(q, self._sorted_thresholds(n))
                if f is None:
                    lo, hi = gap  # no float64 lies strictly between them: leave the open cell (lo, hi)
                    x = self.value[n]
                    sides = [x <= z3.RealVal(_frac(lo))] if math.isfinite(lo) else []
                    sides += [x >= z3.RealVal(_frac(hi))] if math.isfinite(hi) else []
                    refine.append(z3.Or(sides) if sides else z3.BoolVal(False))
                    continue
                row[n] = f
        if refine:
            return None, refine
        return row, []


def _round_in_cell(q: Fraction, ts: Sequence[float]) -> tuple[float | None, tuple[float, float] | None]:
    """A float64 on the same side of every threshold (sorted ``ts``) as the rational ``q``."""
    k = bisect.bisect_left(ts, q)
    if k < len(ts) and ts[k] == q:
        return ts[k], None
    lower = ts[k - 1] if k > 0 else -math.inf
    upper = ts[k] if k < len(ts) else math.inf
    try:
        f = float(q)
    except OverflowError:
        f = math.inf if q > 0 else -math.inf
    if not f > lower:
        f = math.nextafter(lower, math.inf)  # no overflow warning past the largest double
    if not f < upper:
        f = math.nextafter(upper, -math.inf)
    if lower < f < upper and math.isfinite(f):
        return f, None
    return None, (lower, upper)


def frame_from_rows(rows: Sequence[dict], domain: Domain, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows (feature -> value, ``None`` for missing) as the DataFrame ``predict`` reads.

    Categorical features become pandas ``Categorical`` with the Domain's levels;
    numeric features float64 with NaN for missing (nullable Int64 where an
    integer beyond 2**53 is among them, so that it is not rounded).
    """
    names = list(names) if names is not None else list(domain.names)
    cols: dict[str, Any] = {}
    for n in names:
        values = [r.get(n) for r in rows]
        if n in domain and domain[n].kind == "categorical":
            cols[n] = pd.Categorical(values, categories=list(domain[n].levels))
        elif any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53 for v in values) \
                and all(v is None or isinstance(v, int) or float(v).is_integer() for v in values) \
                and all(v is None or -(2**63) <= int(v) < 2**63 for v in values):
            # integers float64 cannot hold: a nullable int64 column, which predict compares exactly
            cols[n] = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
        else:
            cols[n] = np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return pd.DataFrame(cols, index=pd.RangeIndex(len(rows)))
