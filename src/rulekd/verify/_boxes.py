"""Interval arithmetic over rules: the pre-filter in front of Z3.

Each conjunction of conditions is over-approximated by a box: per feature, an
interval of values (exact float64 bounds from :meth:`Condition.exact_bound`,
open or closed; integer features normalised to closed integer bounds), a set
of levels for categorical features, and whether a missing value is inside.
The box is exact (equal to the conjunction's set, within the Domain's bounds)
unless a condition has no box form (a level set on a numeric feature).

Two conjunctions whose boxes are disjoint on some feature are disjoint: the
comparison is exact, nothing is rounded. Only the pairs that the boxes cannot
separate go to Z3. Where the Domain has no one-hot groups and no linear
constraints, a non-empty exact box also yields a witness point directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..domain import Domain, FeatureSpec
from ..rules._ir import Condition
from ._encode import level_truth

__all__ = ["Region", "BoxSet", "region_of", "separable"]


_BOUNDS: dict[Condition, tuple[str, float]] = {}
_EMPTY = object()
_FULL: dict[tuple, "Region"] = {}


def exact_bound(c: Condition) -> tuple[str, float]:
    """``c.exact_bound()``, cached (the float32 boundary costs a few numpy calls)."""
    hit = _BOUNDS.get(c)
    if hit is None:
        if len(_BOUNDS) > 500_000:
            _BOUNDS.clear()
        hit = _BOUNDS[c] = c.exact_bound()
    return hit


@dataclass
class Region:
    """What one feature may take under a conjunction (within the Domain)."""

    spec: FeatureSpec
    lo: float = -math.inf
    loc: bool = False
    hi: float = math.inf
    hic: bool = False
    levels: np.ndarray | None = None  # bool per level, categorical only
    values: bool = True  # non-missing values allowed at all (before emptiness)
    miss: bool = False
    exact: bool = True

    @classmethod
    def full(cls, spec: FeatureSpec) -> "Region":
        # Keyed with the levels' types too: specs with levels (0, 1) and (False, True), or (1, 2) and
        # (1.0, 2.0), are equal, but a region's witness must be a level of its own Domain.
        key = (spec, tuple(type(v) for v in spec.levels))
        hit = _FULL.get(key)
        if hit is None:
            if len(_FULL) > 10_000:
                _FULL.clear()
            hit = _FULL[key] = cls._full(spec)
        return hit.copy()

    @classmethod
    def _full(cls, spec: FeatureSpec) -> "Region":
        if spec.kind == "categorical":
            return cls(spec, levels=np.ones(len(spec.levels), dtype=bool), miss=spec.allow_missing)
        r = cls(spec, spec.lower, math.isfinite(spec.lower), spec.upper, math.isfinite(spec.upper),
                miss=spec.allow_missing)
        return r.normalised()

    def copy(self) -> "Region":
        return Region(self.spec, self.lo, self.loc, self.hi, self.hic,
                      None if self.levels is None else self.levels.copy(), self.values, self.miss, self.exact)

    def apply(self, c: Condition) -> "Region":
        """Intersect with condition ``c`` (in place); returns self."""
        if c.op == "is missing":
            self.values = False
            return self
        if c.op == "is not missing":
            self.miss = False
            return self
        self.miss = self.miss and c.missing
        if self.levels is not None:
            self.levels &= level_truth(c, self.spec)
            return self
        if not c.is_numeric:
            self.exact = False  # a level set on a numeric feature: keep the superset
            return self
        op, t = exact_bound(c)
        if op in ("<=", "<"):
            closed = op == "<="
            if t < self.hi or (t == self.hi and not closed):
                self.hi, self.hic = t, closed
        else:
            closed = op == ">="
            if t > self.lo or (t == self.lo and not closed):
                self.lo, self.loc = t, closed
        return self.normalised()

    def normalised(self) -> "Region":
        if self.levels is not None:
            return self
        if self.spec.kind != "real":
            lo, hi = self.lo, self.hi
            if math.isfinite(lo):
                lo = math.floor(lo) + 1 if (not self.loc and lo == math.floor(lo)) else math.ceil(lo)
                self.lo, self.loc = float(lo), True
            if math.isfinite(hi):
                hi = math.ceil(hi) - 1 if (not self.hic and hi == math.ceil(hi)) else math.floor(hi)
                self.hi, self.hic = float(hi), True
        if math.isinf(self.lo):
            self.loc = False
        if math.isinf(self.hi):
            self.hic = False
        return self

    @property
    def has_value(self) -> bool:
        if not self.values:
            return False
        if self.levels is not None:
            return bool(self.levels.any())
        if self.lo < self.hi:
            if self.spec.kind == "real":
                # The finite doubles inside: none in (-inf, -DBL_MAX) nor in (DBL_MAX, inf).
                a = self.lo if self.loc else math.nextafter(self.lo, math.inf)
                b = self.hi if self.hic else math.nextafter(self.hi, -math.inf)
                return math.isfinite(a) and math.isfinite(b) and a <= b
            return True
        return self.lo == self.hi and self.loc and self.hic

    @property
    def empty(self) -> bool:
        return not self.has_value and not self.miss

    def pick(self) -> Any:
        """A value inside (a float, a level, or ``None`` for missing); raises if empty."""
        if not self.has_value:
            if self.miss:
                return None
            raise ValueError("empty region")
        if self.levels is not None:
            return self.spec.levels[int(np.flatnonzero(self.levels)[0])]
        lo, hi = self.lo, self.hi
        if self.spec.kind != "real":
            if math.isfinite(lo):
                return float(lo)
            if math.isfinite(hi):
                return float(hi)
            return 0.0
        if self.loc:
            return float(lo)
        if self.hic:
            return float(hi)
        if math.isfinite(lo) and math.isfinite(hi):
            mid = lo / 2 + hi / 2
            if not lo < mid < hi:
                mid = float(np.nextafter(lo, math.inf))
            return float(mid)
        # A finite double: lo + |lo| overflows to inf past 9e307 (has_value holds, so one exists).
        if math.isfinite(lo):
            v = lo + max(1.0, abs(lo))
            return float(v) if lo < v < math.inf else math.nextafter(lo, math.inf)
        if math.isfinite(hi):
            v = hi - max(1.0, abs(hi))
            return float(v) if -math.inf < v < hi else math.nextafter(hi, -math.inf)
        return 0.0

    def minus(self, c: Condition) -> "Region | None":
        """This region without the values where ``c`` holds; ``None`` if not exact."""
        if not self.exact:
            return None
        if c.op == "is missing":
            out = self.copy()
            out.miss = False
            return out
        if c.op == "is not missing":
            out = self.copy()
            out.values = False
            return out
        out = self.copy()
        out.miss = self.miss and not c.missing
        if self.levels is not None:
            out.levels = self.levels & ~level_truth(c, self.spec)
            return out
        if not c.is_numeric:
            return None
        # not (x op t) is the opposite half-line: one interval again.
        op, t = exact_bound(c)
        neg = {"<=": ">", "<": ">=", ">": "<=", ">=": "<"}[op]
        return out.apply(Condition(c.feature, neg, t, missing=True))


def region_of(conditions: Sequence[Condition], spec: FeatureSpec) -> Region:
    r = Region.full(spec)
    for c in conditions:
        if c.feature == spec.name:
            r.apply(c)
    return r


def separable(domain: Domain) -> bool:
    """No constraint links features: a point of a non-empty exact box is in the Domain."""
    return not domain.onehot_groups and not domain.constraints


class BoxSet:
    """Boxes of many conjunctions, as arrays for vectorised overlap tests.

    Parameters
    ----------
    conjunctions : sequence of sequences of Condition
    domain : Domain
    features : sequence of str, optional
        The features to index (default: every feature the conjunctions use).
        Two BoxSets compared with :meth:`disjoint` must share this list.
    """

    def __init__(self, conjunctions: Sequence[Sequence[Condition]], domain: Domain,
                 features: Sequence[str] | None = None) -> None:
        if features is None:
            feats: set[str] = set()
            for conj in conjunctions:
                feats |= {c.feature for c in conj}
            features = sorted(feats)
        self.domain = domain
        self.features = list(features)
        self.col = {f: k for k, f in enumerate(self.features)}
        n, F = len(conjunctions), len(self.features)
        self.n = n
        self.lo = np.full((n, F), -np.inf)
        self.hi = np.full((n, F), np.inf)
        self.loc = np.zeros((n, F), dtype=bool)
        self.hic = np.zeros((n, F), dtype=bool)
        self.val = np.ones((n, F), dtype=bool)
        self.miss = np.zeros((n, F), dtype=bool)
        self.touched = np.zeros((n, F), dtype=bool)
        self.exact = np.ones(n, dtype=bool)
        self.empty = np.zeros(n, dtype=bool)
        self.masks: dict[str, np.ndarray] = {}
        self.regions: list[dict[str, Region]] = []
        self._base_row: dict | None = None
        specs = [domain[f] for f in self.features]
        for k, spec in enumerate(specs):
            full = Region.full(spec)
            if spec.kind == "categorical":
                self.masks[spec.name] = np.tile(full.levels, (n, 1))
            self.lo[:, k], self.hi[:, k] = full.lo, full.hi
            self.loc[:, k], self.hic[:, k] = full.loc, full.hic
            self.miss[:, k] = full.miss
            self.val[:, k] = full.has_value
        for i, conj in enumerate(conjunctions):
            regs: dict[str, Region] = {}
            for c in conj:
                r = regs.get(c.feature)
                if r is None:
                    r = regs[c.feature] = Region.full(domain[c.feature])
                r.apply(c)
            self.regions.append(regs)
            for f, r in regs.items():
                k = self.col.get(f)
                if r.empty:
                    self.empty[i] = True
                if not r.exact:
                    self.exact[i] = False
                if k is None:
                    continue
                self.touched[i, k] = True
                self.miss[i, k] = r.miss
                self.val[i, k] = r.has_value
                if r.levels is not None:
                    self.masks[f][i] = r.levels
                else:
                    self.lo[i, k], self.hi[i, k] = r.lo, r.hi
                    self.loc[i, k], self.hic[i, k] = r.loc, r.hic

    def disjoint(self, other: "BoxSet | None" = None, rows: np.ndarray | None = None,
                 block: int = 512) -> np.ndarray:
        """Boolean ``(len(rows), other.n)``: provably disjoint pairs (exact interval reasoning)."""
        other = self if other is None else other
        if other.features != self.features:
            raise ValueError("Both box sets must index the same features.")
        rows = np.arange(self.n) if rows is None else np.asarray(rows)
        out = np.zeros((len(rows), other.n), dtype=bool)
        out |= self.empty[rows][:, None]
        out |= other.empty[None, :]
        for k, f in enumerate(self.features):
            ia = np.flatnonzero(self.touched[rows, k])
            ib = np.flatnonzero(other.touched[:, k])
            if len(ia) == 0 or len(ib) == 0:
                continue
            cat = f in self.masks
            if cat:
                mb = other.masks[f][ib].astype(np.int32)
            for s in range(0, len(ia), block):
                a = ia[s : s + block]
                ra = rows[a]
                if cat:
                    ov = (self.masks[f][ra].astype(np.int32) @ mb.T) > 0
                    ov &= self.val[ra, k][:, None] & other.val[ib, k][None, :]
                else:
                    la, lb = self.lo[ra, k][:, None], other.lo[ib, k][None, :]
                    ha, hb = self.hi[ra, k][:, None], other.hi[ib, k][None, :]
                    lca, lcb = self.loc[ra, k][:, None], other.loc[ib, k][None, :]
                    hca, hcb = self.hic[ra, k][:, None], other.hic[ib, k][None, :]
                    L = np.maximum(la, lb)
                    Lc = np.where(la > lb, lca, np.where(la < lb, lcb, lca & lcb))
                    H = np.minimum(ha, hb)
                    Hc = np.where(ha < hb, hca, np.where(ha > hb, hcb, hca & hcb))
                    ov = (L < H) | ((L == H) & Lc & Hc)
                    ov &= self.val[ra, k][:, None] & other.val[ib, k][None, :]
                ov |= self.miss[ra, k][:, None] & other.miss[ib, k][None, :]
                sub = out[a[:, None], ib[None, :]]
                out[a[:, None], ib[None, :]] = sub | ~ov
        return out

    def pick(self, i: int, extra: dict[str, Region] | None = None) -> dict[str, Any]:
        """A point of box ``i`` (plus any Domain value elsewhere); see :meth:`Region.pick`."""
        if self._base_row is None:
            self._base_row = {spec.name: Region.full(spec).pick() for spec in self.domain.features}
            self._picks: dict[int, dict] = {}
        base = self._picks.get(i)
        if base is None:
            base = dict(self._base_row)
            for f, r in self.regions[i].items():
                base[f] = r.pick() if not r.empty else _EMPTY
            self._picks[i] = base
        row = dict(base)
        for f, r in (extra or {}).items():
            row[f] = r.pick()
        if any(v is _EMPTY for v in row.values()):
            raise ValueError(f"Box {i} is empty.")
        return row
