"""Verification of the neural student itself: search, tightened bounds, branch and bound, Z3.

:func:`verify_network` checks a fitted :class:`~rulekd.DistilledMLPClassifier`
(a small ReLU network over its ``encode``) against properties
(:class:`~rulekd.verify.Implies`, :class:`~rulekd.verify.Monotone`,
:class:`~rulekd.verify.Invariant`) and for agreement with each rule of a
:class:`~rulekd.RuleSet` on that rule's region, over the student's Domain,
optionally restricted to a region. Each check runs in stages and stops at the
first that settles it:

1. **search**: random inputs of the region (box corners included), then
   signed-gradient steps on the network's margin from the most promising
   ones, projected back into the region's box, integers rounded, levels and
   missingness chosen by a sweep; a line scan over the varied feature for the
   two-input properties. A candidate counts only once ``student.predict``
   (with ``Domain.contains`` and the region) confirms it;
2. **bounds**: sound interval bounds on every neuron's pre-activation over the
   region's box (exact per feature on the first layer: standardisation is
   affine, a categorical feature contributes one row of the folded first
   layer per level, a missing value the imputed value and the indicator),
   widened outward for their own rounding; the later layers and the logits
   then tightened by linear programming over the triangle relaxation;
3. **branch and bound** on the phases of the neurons that stay unstable, each
   node bounded by that LP. HiGHS solves the LPs, but no bound rests on its
   word: weak duality turns its dual solution into a rigorous bound, with the
   float64 rounding of that computation bounded too;
4. **Z3**: the network over the region in exact rational arithmetic (the
   input encoding exact, integrality and every part of the region included),
   stable neurons linear or dropped and only the unstable ones a case split.

A proof covers the float64 evaluation that ``predict`` performs: every query
asks whether the *exact* logits can come within ``float_margin`` of a class
change, ``float_margin`` being a rigorous bound on the rounding error of the
float64 forward pass over the region (Higham's bound for dot products, any
summation order). Where the Domain is unbounded no such bound exists, the
proof is over exact arithmetic and the finding says so.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain
from ..exceptions import DomainError, SolverTimeoutWarning
from ..rules._ir import Condition, Rule, RuleSet
from ._boxes import Region, region_of
from ._encode import Encoding, frame_from_rows
from ._grammar import AllOf, Expr, parse_condition
from ._grammar import Test as _Test
from ._properties import Implies, Invariant, Monotone, Property, check_time_budget, check_timeout_ms, parse_properties
from ._report import Finding, VerificationReport

__all__ = ["verify_network", "network_bounds"]

_U = 2.0**-53  # unit roundoff of float64
_TINY = 1e-300  # absorbs underflow in the error bounds
_BUDGET = "time budget spent"


def _gamma(n: int) -> float:
    """Higham's ``gamma_n = n u / (1 - n u)``: relative error bound of an n-term float64 sum of products."""
    return n * _U / (1.0 - n * _U)


def _down(v: np.ndarray) -> np.ndarray:
    """Round a float64 value (computed with a few roundings) outward to a sure lower bound."""
    v = np.asarray(v, dtype=np.float64)
    return np.nextafter(v - np.abs(v) * (8 * _U) - _TINY, -np.inf)


def _up(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return np.nextafter(v + np.abs(v) * (8 * _U) + _TINY, np.inf)


def _pair_margin(a: float, b: float) -> float:
    """A sure upper bound on ``a + b`` (two classes' rounding margins); exactly 0 in exact mode, where
    _up's tiny slack would admit exact ties between logits that ``predict`` breaks toward the first class."""
    return 0.0 if a == 0 and b == 0 else float(_up(a + b))


# -- the network ------------------------------------------------------------------------------------


@dataclass
class _Feature:
    """How one Domain feature enters the encoded input."""

    name: str
    kind: str  # "numeric" or "categorical"
    integer: bool = False
    col: int = -1  # numeric: the standardised column; categorical: first one-hot column
    ind: int = -1  # numeric: the missing-indicator column, or -1
    n_levels: int = 0
    mean: float = 0.0
    scale: float = 1.0
    impute: float = 0.0
    steps: tuple = ()  # numeric: ((column, threshold), ...) of the 0/1 inputs x >= threshold (0 where missing)

    @property
    def imputed(self) -> float:
        """The encoded value of a missing numeric input, as ``predict`` computes it."""
        return (self.impute - self.mean) / self.scale

    def exact(self, x: Fraction) -> Fraction:
        return (x - Fraction(self.mean)) / Fraction(self.scale)


class _Net:
    """The student's plain float64 weights, classes, and encoding layout over a Domain."""

    def __init__(self, student: Any, domain: Domain) -> None:
        self.student = student
        self.domain = domain
        self.layers = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                       for W, b in student.weights()]
        self.classes = [c.item() if isinstance(c, np.generic) else c for c in student.classes_]
        self.binary = self.layers[-1][0].shape[1] == 1
        self.n_in = self.layers[0][0].shape[0]
        self.names = list(domain.names)
        self.feats = _layout(student, domain)
        if len(student.encoding_) != self.n_in:
            raise ValueError(f"The student's encoding has {len(student.encoding_)} columns but its first "
                             f"layer takes {self.n_in}; refit the student.")
        self.hidden = [W.shape[1] for W, _ in self.layers[:-1]]

    def code(self, label: Any) -> int:
        return self.classes.index(label)

    # -- numpy evaluation (the search) --
    def encode(self, R: np.ndarray) -> np.ndarray:
        """Encoded rows from raw rows (numeric value or NaN; categorical code or NaN), as ``encode`` does."""
        n = R.shape[0]
        E = np.zeros((n, self.n_in))
        rows = np.arange(n)
        for j, f in enumerate(self.feats):
            x = R[:, j]
            miss = np.isnan(x)
            if f.kind == "numeric":
                z = np.where(miss, f.impute, x)
                z -= f.mean
                z /= f.scale
                E[:, f.col] = z
                if f.ind >= 0:
                    E[:, f.ind] = miss
                with np.errstate(invalid="ignore"):
                    for col, t in f.steps:
                        E[:, col] = x >= t  # NaN: 0
            else:
                ok = ~miss
                E[rows[ok], f.col + x[ok].astype(np.intp)] = 1.0
        return E

    def forward(self, E: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Pre-activations of every hidden layer and the logits, shape (n, n_out)."""
        pres = []
        h = E
        for W, b in self.layers[:-1]:
            p = h @ W + b
            pres.append(p)
            h = np.maximum(p, 0.0)
        W, b = self.layers[-1]
        return pres, h @ W + b

    def backward(self, pres: list[np.ndarray], gz: np.ndarray) -> np.ndarray:
        """Gradient with respect to the encoded input, given the gradient of the logits."""
        g = gz @ self.layers[-1][0].T
        for i in range(len(pres) - 1, -1, -1):
            g = g * (pres[i] > 0)
            g = g @ self.layers[i][0].T
        return g

    def frame(self, R: np.ndarray) -> pd.DataFrame:
        """Raw rows as the DataFrame ``predict`` reads (categoricals over the Domain's levels)."""
        cols: dict[str, Any] = {}
        for j, f in enumerate(self.feats):
            x = R[:, j]
            if f.kind == "categorical":
                codes = np.where(np.isnan(x), -1, x).astype(np.int64)
                cols[f.name] = pd.Categorical.from_codes(codes, categories=list(self.domain[f.name].levels))
            else:
                cols[f.name] = x.astype(np.float64)
        return pd.DataFrame(cols)

    def rows(self, R: np.ndarray) -> list[dict]:
        out = []
        for r in R:
            row: dict[str, Any] = {}
            for j, f in enumerate(self.feats):
                v = r[j]
                if np.isnan(v):
                    row[f.name] = None
                elif f.kind == "categorical":
                    row[f.name] = self.domain[f.name].levels[int(v)]
                else:
                    row[f.name] = float(v)
            out.append(row)
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """``student.predict`` on canonical rows (an array where the student was fitted on one)."""
        s = self.student
        # The student's own column order: a Domain may list the features in another.
        fitted = getattr(s, "domain_", None)
        X: Any = frame[list(fitted.names) if fitted is not None else self.names]
        if not hasattr(s, "feature_names_in_"):
            X = X.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(s.predict(X), dtype=object)


def _layout(student: Any, domain: Domain) -> list[_Feature]:
    """One :class:`_Feature` per Domain feature, from ``student.encoding_``; refuses a Domain it cannot encode."""
    by_feature: dict[str, list[tuple[int, dict]]] = {}
    for j, e in enumerate(student.encoding_):
        by_feature.setdefault(e["feature"], []).append((j, e))
    fitted = getattr(student, "domain_", None)
    extra = sorted(set(by_feature) - set(domain.names))
    if extra:
        raise DomainError(f"The student encodes features {extra[:10]} that are not in the Domain; pass the "
                          f"student's Domain (student.domain_) or one with the same features.")
    feats = []
    for spec in domain.features:
        entries = by_feature.get(spec.name)
        if not entries:
            raise DomainError(f"Domain feature {spec.name!r} is not an input of the student; pass the student's "
                              f"Domain (student.domain_).")
        kinds = {e["kind"] for _, e in entries}
        if "onehot" in kinds:
            if spec.kind != "categorical":
                raise DomainError(f"The student one-hot encodes {spec.name!r}, but the Domain says it is {spec.kind}.")
            levels = [e["level"] for _, e in entries]
            if fitted is not None and spec.name in fitted:
                levels = list(fitted[spec.name].levels)
            if len(levels) != len(spec.levels) or any(a != b for a, b in zip(levels, spec.levels)):
                raise DomainError(f"Feature {spec.name!r}: the Domain's levels {list(spec.levels)[:10]} differ from "
                                  f"the student's {levels[:10]}; a categorical feature keeps its levels in order.")
            cols = [j for j, _ in entries]
            if cols != list(range(cols[0], cols[0] + len(cols))):
                raise ValueError(f"The one-hot columns of {spec.name!r} are not contiguous in the student's encoding.")
            feats.append(_Feature(spec.name, "categorical", col=cols[0], n_levels=len(cols)))
            continue
        if spec.kind == "categorical":
            raise DomainError(f"The Domain says {spec.name!r} is categorical, but the student encodes it as a number.")
        num = [(j, e) for j, e in entries if e["kind"] == "numeric"]
        ind = [j for j, e in entries if e["kind"] == "missing_indicator"]
        steps = tuple((j, float(e["threshold"])) for j, e in entries if e["kind"] == "step")
        (j, e), = num
        feats.append(_Feature(spec.name, "numeric", integer=spec.kind != "real", col=j, ind=ind[0] if ind else -1,
                              mean=float(e["mean"]), scale=float(e["scale"]), impute=float(e["impute"]),
                              steps=steps))
    return feats


def _net(student: Any, domain: Domain | None) -> tuple[_Net, Domain]:
    from sklearn.utils.validation import check_is_fitted

    if not hasattr(student, "weights"):
        raise TypeError(f"verify_network() takes a fitted DistilledMLPClassifier, got {type(student).__name__}.")
    check_is_fitted(student)
    if not hasattr(student, "encoding_"):
        raise TypeError(f"verify_network() takes a fitted DistilledMLPClassifier, got {type(student).__name__}.")
    if domain is None:
        domain = student.domain_
    elif isinstance(domain, dict):
        domain = Domain.from_dict(domain)
    elif isinstance(domain, str):
        domain = Domain.from_json(domain)
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be a rulekd Domain, got {type(domain).__name__}.")
    return _Net(student, domain), domain


# -- regions and boxes ------------------------------------------------------------------------------


def _as_region(region: Any) -> Expr | None:
    """The region as an expression: None, a Condition, a Rule, a sequence of Conditions, or condition text."""
    if region is None:
        return None
    if isinstance(region, (str, Expr)):
        return parse_condition(region)
    if isinstance(region, Condition):
        return _Test(region)
    if isinstance(region, Rule):
        return _conj(region.conditions)
    if isinstance(region, RuleSet):
        raise TypeError("region takes one conjunction (a Rule, Conditions or text); to check agreement with "
                        "every rule of a RuleSet pass rules=... instead.")
    if isinstance(region, Iterable):
        parts = [_as_region(r) for r in region]
        parts = [p for p in parts if p is not None]
        return AllOf(tuple(parts)) if parts else None
    raise TypeError(f"region must be a Condition, a sequence of Conditions, a Rule or condition text; "
                    f"got {type(region).__name__}.")


def _conj(conditions: Sequence[Condition]) -> Expr:
    return AllOf(tuple(_Test(c) for c in conditions))


def _and(*parts: Expr | None) -> Expr | None:
    parts = tuple(p for p in parts if p is not None)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else AllOf(parts)


def _conjuncts(expr: Expr | None) -> list[Condition]:
    """The conditions of the top-level conjunction (what a box can hold; the rest is checked exactly)."""
    if expr is None:
        return []
    if isinstance(expr, _Test):
        return [expr.condition]
    if isinstance(expr, AllOf):
        out = []
        for c in expr.children:
            out += _conjuncts(c)
        return out
    return []


def _box(domain: Domain, conditions: Sequence[Condition]) -> list[Region]:
    by = {}
    for c in conditions:
        by.setdefault(c.feature, []).append(c)
    return [region_of(by.get(spec.name, ()), spec) for spec in domain.features]


def _box_empty(box: Sequence[Region]) -> bool:
    return any(r.empty for r in box)


def _in_box(r: Region, values: np.ndarray) -> np.ndarray:
    """Which numeric values (NaN: missing) lie in a feature's region."""
    v = np.asarray(values, dtype=np.float64)
    miss = np.isnan(v)
    with np.errstate(invalid="ignore"):
        lo_ok = (v >= r.lo) if r.loc else (v > r.lo)
        hi_ok = (v <= r.hi) if r.hic else (v < r.hi)
    return np.where(miss, r.miss, r.values & lo_ok & hi_ok)


def _in_region(f: _Feature, r: Region, values: np.ndarray) -> np.ndarray:
    if f.kind == "categorical":
        v = np.asarray(values, dtype=np.float64)
        miss = np.isnan(v)
        codes = np.where(miss, 0, v).astype(np.intp)
        return np.where(miss, r.miss, r.values & r.levels[codes])
    return _in_box(r, values)


def _sampling_range(f: _Feature, r: Region) -> tuple[float, float]:
    """Finite bounds to sample a numeric feature between (inside the region)."""
    lo, hi = r.lo, r.hi
    if not math.isfinite(lo):
        lo = min(f.mean - 10 * f.scale, hi - f.scale) if math.isfinite(hi) else f.mean - 10 * f.scale
    if not math.isfinite(hi):
        hi = max(f.mean + 10 * f.scale, lo + f.scale)
    if not r.loc and math.isfinite(r.lo) and not f.integer:
        lo = float(np.nextafter(lo, math.inf))
    if not r.hic and math.isfinite(r.hi) and not f.integer:
        hi = float(np.nextafter(hi, -math.inf))
    if f.integer:
        lo, hi = float(math.ceil(lo)), float(math.floor(hi))
    return lo, max(lo, hi)


# -- sound interval bounds --------------------------------------------------------------------------


@dataclass
class Bounds:
    """Sound bounds over a region, per layer (the last entry: the logits).

    ``lower[i] <= pre-activation <= upper[i]`` for every input of the region,
    in exact arithmetic with the float64 weights; ``error[i]`` bounds how far
    the float64 forward pass of ``predict`` can be from that exact value.
    """

    lower: list[np.ndarray]
    upper: list[np.ndarray]
    error: list[np.ndarray]
    empty: bool = False
    refined: int = 0

    def unstable(self) -> list[int]:
        return [int(np.sum((lo < 0) & (hi > 0))) for lo, hi in zip(self.lower[:-1], self.upper[:-1])]

    @property
    def float_margin(self) -> np.ndarray:
        return self.error[-1]


def _affine(lo: np.ndarray, hi: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sound bounds of ``h @ W + b`` for ``lo <= h <= hi`` (infinite bounds allowed; 0 * inf is 0)."""
    Wp = W > 0
    Wn = W < 0
    with np.errstate(invalid="ignore", over="ignore"):
        tlo = np.where(Wp, lo[:, None] * W, 0.0) + np.where(Wn, hi[:, None] * W, 0.0)
        thi = np.where(Wp, hi[:, None] * W, 0.0) + np.where(Wn, lo[:, None] * W, 0.0)
        low = tlo.sum(axis=0) + b
        high = thi.sum(axis=0) + b
        mag = np.where(W != 0, np.maximum(np.abs(lo), np.abs(hi))[:, None] * np.abs(W), 0.0).sum(axis=0) + np.abs(b)
    slack = _up(_gamma(W.shape[0] + 2) * mag)
    return _down(low - slack), _up(high + slack)


def _first_layer(net: _Net, box: Sequence[Region]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact-per-feature bounds of the first layer's pre-activations, their magnitude and the input rounding error."""
    W, b = net.layers[0]
    H = W.shape[1]
    lo = np.zeros((len(net.feats), H))
    hi = np.zeros((len(net.feats), H))
    mag = np.zeros(H)
    err = np.zeros(H)
    for k, (f, r) in enumerate(zip(net.feats, box)):
        cands_lo, cands_hi = [], []
        if f.kind == "categorical":
            allowed = np.flatnonzero(r.levels) if r.values else np.array([], dtype=np.intp)
            rows = W[f.col + allowed] if len(allowed) else np.zeros((0, H))
            if r.miss:
                rows = np.vstack([rows, np.zeros((1, H))])
            lo[k], hi[k] = rows.min(axis=0), rows.max(axis=0)
            mag += np.abs(rows).max(axis=0)
            continue
        w = W[f.col]
        wi = W[f.ind] if f.ind >= 0 else np.zeros(H)
        emax = 0.0
        if r.has_value:
            a = _down(np.float64(r.lo - f.mean) / f.scale) if math.isfinite(r.lo) else -np.inf
            c = _up(np.float64(r.hi - f.mean) / f.scale) if math.isfinite(r.hi) else np.inf
            with np.errstate(invalid="ignore"):
                t1 = np.where(w != 0, w * a, 0.0)
                t2 = np.where(w != 0, w * c, 0.0)
            s_lo, s_hi = _step_terms(f, r, W)  # the step inputs over the values (each 0 or 1, exact)
            cands_lo.append(_down(np.minimum(t1, t2) + s_lo))
            cands_hi.append(_up(np.maximum(t1, t2) + s_hi))
            emax = max(abs(float(a)), abs(float(c)))
        if r.miss:
            e0 = f.imputed  # the exact value differs by at most 2u |e0|
            t = w * e0 + wi
            slack = (np.abs(w) * abs(e0) + np.abs(wi)) * (8 * _U)
            cands_lo.append(_down(t - slack))
            cands_hi.append(_up(t + slack))
            emax = max(emax, abs(e0))
        lo[k] = np.min(cands_lo, axis=0)
        hi[k] = np.max(cands_hi, axis=0)
        with np.errstate(invalid="ignore"):
            mag += np.where(w != 0, np.abs(w) * emax, 0.0) + np.abs(wi)
            for col, _ in f.steps:
                mag += np.abs(W[col])
            # predict computes fl(fl(x - mean) / scale): relative error below 2u + u^2
            err += np.where(w != 0, np.abs(w) * emax * (2.0 * _U * (1 + _U)), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        low = lo.sum(axis=0) + b
        high = hi.sum(axis=0) + b
        slack = _up(_gamma(len(net.feats) + 2) * (np.maximum(np.abs(lo), np.abs(hi)).sum(axis=0) + np.abs(b)))
    return _down(low - slack), _up(high + slack), mag, err


def _step_range(r: Region, t: float) -> tuple[float, float]:
    """The values a step input ``x >= t`` takes over the region's present values (missing ones give 0)."""
    below = r.hi < t or (r.hi == t and not r.hic)  # every value < t
    return (1.0 if r.lo >= t else 0.0), (0.0 if below else 1.0)


def _step_terms(f: _Feature, r: Region, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the step inputs' summed terms ``sum_s W[s] * step_s`` over the region's present values.

    Each term is exact (``W[s] * 0`` or ``W[s] * 1``); the float sum is widened by its rounding bound."""
    lo = np.zeros(W.shape[1])
    hi = np.zeros(W.shape[1])
    size = np.zeros(W.shape[1])
    for col, t in f.steps:
        a, b = _step_range(r, t)
        w = W[col]
        lo += np.minimum(w * a, w * b)
        hi += np.maximum(w * a, w * b)
        size += np.abs(w)
    slack = _gamma(len(f.steps) + 1) * size
    return lo - slack, hi + slack


def _float_error(W: np.ndarray, b: np.ndarray, mag_in: np.ndarray, err_in: np.ndarray) -> np.ndarray:
    """Bound on |float64 ``h @ W + b`` - exact| given |h| <= mag_in and an input error err_in (Higham 3.5)."""
    with np.errstate(invalid="ignore", over="ignore"):
        absW = np.abs(W)
        prop = np.where(W != 0, err_in[:, None] * absW, 0.0).sum(axis=0)
        size = np.where(W != 0, (mag_in + err_in)[:, None] * absW, 0.0).sum(axis=0) + np.abs(b)
        return _up((prop + _gamma(W.shape[0] + 1) * size) * (1 + 1e-9))


def _bounds(net: _Net, box: Sequence[Region]) -> Bounds:
    """Interval bounds (sound over exact arithmetic) and float64 error bounds of every layer over a box."""
    if _box_empty(box):
        z = [np.zeros(W.shape[1]) for W, _ in net.layers]
        return Bounds(z, z, z, empty=True)
    lo, hi, mag_pre, err_in = _first_layer(net, box)
    W0, b0 = net.layers[0]
    # float error of the first layer: the encoded inputs carry err_in already weighted by |W|
    err = _up((err_in + _gamma(net.n_in + 1) * (mag_pre * (1 + 1e-9) + np.abs(b0))) * (1 + 1e-9))
    lowers, uppers, errors = [lo], [hi], [err]
    for W, b in net.layers[1:]:
        h_lo, h_hi = np.maximum(lowers[-1], 0.0), np.maximum(uppers[-1], 0.0)
        lo, hi = _affine(h_lo, h_hi, W, b)
        err = _float_error(W, b, h_hi, errors[-1])
        lowers.append(lo)
        uppers.append(hi)
        errors.append(err)
    return Bounds(lowers, uppers, errors)


# -- linear relaxation with rigorous bounds ---------------------------------------------------------


class _LP:
    """A linear program ``min c x`` over a relaxation of the network(s), solved by HiGHS.

    Every row and bound is a *valid* inequality for the network over the box
    (its float64 coefficients are exact rationals; the triangle relaxation's
    slope is rounded up, so the row stays valid). The value HiGHS reports is
    not trusted: :meth:`minimum` turns its dual solution into a rigorous lower
    bound by weak duality, with the rounding of that computation bounded and
    subtracted, so a bound from here is as sound as interval arithmetic.
    """

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.eq_rows: list[tuple[dict, float]] = []
        self.le_rows: list[tuple[dict, float]] = []

    def var(self, lo: float, hi: float) -> int:
        self.lb.append(float(lo))
        self.ub.append(float(hi))
        return len(self.lb) - 1

    def eq(self, coefs: dict, rhs: float) -> None:
        """``sum(coef * x) == rhs``."""
        self.eq_rows.append((coefs, float(rhs)))

    def le(self, coefs: dict, rhs: float) -> None:
        """``sum(coef * x) <= rhs``."""
        self.le_rows.append((coefs, float(rhs)))

    def arrays(self) -> tuple:
        n = len(self.lb)

        def dense(rows: list) -> tuple[np.ndarray, np.ndarray]:
            A = np.zeros((len(rows), n))
            for i, (coefs, _) in enumerate(rows):
                for j, v in coefs.items():
                    A[i, j] += v
            return A, np.array([r for _, r in rows], dtype=np.float64)

        A_eq, b_eq = dense(self.eq_rows)
        A_ub, b_ub = dense(self.le_rows)
        return A_ub, b_ub, A_eq, b_eq, np.array(self.lb), np.array(self.ub)

    def minimum(self, c: dict, const: float = 0.0) -> tuple[float, np.ndarray | None]:
        """A rigorous lower bound of ``c x + const`` over the LP, and HiGHS's minimiser (None if none)."""
        from scipy.optimize import linprog

        A_ub, b_ub, A_eq, b_eq, lb, ub = self.arrays()
        cv = np.zeros(len(lb))
        for j, v in c.items():
            cv[j] += v
        if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
            return -math.inf, None
        res = linprog(cv, A_ub=A_ub if len(b_ub) else None, b_ub=b_ub if len(b_ub) else None,
                      A_eq=A_eq if len(b_eq) else None, b_eq=b_eq if len(b_eq) else None,
                      bounds=np.column_stack([lb, ub]), method="highs")
        if res.status == 2:  # infeasible: certify it with the elastic problem
            return (math.inf if self._infeasible(A_ub, b_ub, A_eq, b_eq, lb, ub) else -math.inf), None
        if res.status != 0:
            return -math.inf, None
        lam = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0) if len(b_ub) else np.zeros(0)
        nu = -np.asarray(res.eqlin.marginals) if len(b_eq) else np.zeros(0)
        bound = _dual_bound(cv, A_ub, b_ub, A_eq, b_eq, lb, ub, lam, nu)
        return float(_down(bound + const)), res.x

    @staticmethod
    def _infeasible(A_ub, b_ub, A_eq, b_eq, lb, ub) -> bool:
        """Prove the LP empty: the least total violation of the rows, bounded rigorously, is > 0."""
        from scipy.optimize import linprog

        m, me, n = len(b_ub), len(b_eq), len(lb)
        big = 1e6 * (1.0 + float(np.max(np.abs(np.concatenate([lb, ub, b_ub, b_eq, [0.0]])))))
        k = m + 2 * me
        Au = np.hstack([A_ub, -np.eye(m), np.zeros((m, 2 * me))]) if m else np.zeros((0, n + k))
        Ae = np.hstack([A_eq, np.zeros((me, m)), -np.eye(me), np.eye(me)]) if me else np.zeros((0, n + k))
        c = np.concatenate([np.zeros(n), np.ones(k)])
        lb2 = np.concatenate([lb, np.zeros(k)])
        ub2 = np.concatenate([ub, np.full(k, big)])
        res = linprog(c, A_ub=Au if m else None, b_ub=b_ub if m else None, A_eq=Ae if me else None,
                      b_eq=b_eq if me else None, bounds=np.column_stack([lb2, ub2]), method="highs")
        if res.status != 0:
            return False
        lam = np.maximum(-np.asarray(res.ineqlin.marginals), 0.0) if m else np.zeros(0)
        nu = -np.asarray(res.eqlin.marginals) if me else np.zeros(0)
        return _dual_bound(c, Au, b_ub, Ae, b_eq, lb2, ub2, lam, nu) > 0.0


def _dual_bound(c: np.ndarray, A_ub: np.ndarray, b_ub: np.ndarray, A_eq: np.ndarray, b_eq: np.ndarray,
                lb: np.ndarray, ub: np.ndarray, lam: np.ndarray, nu: np.ndarray) -> float:
    """Weak duality in float64 with its rounding bounded: a sure lower bound of ``min c x``.

    For any ``lam >= 0`` and ``nu``: ``c x >= r x - lam b_ub - nu b_eq`` with
    ``r = c + A_ub' lam + A_eq' nu``, and ``r x >= sum(min(r lb, r ub))`` on
    the box. Each float64 sum of ``n`` products is off by at most
    ``gamma_n`` times the sum of the products' magnitudes (Higham, 3.5).
    """
    m, me, n = len(b_ub), len(b_eq), len(lb)
    r = c.copy()
    size_r = np.abs(c)
    if m:
        r = r + A_ub.T @ lam
        size_r = size_r + np.abs(A_ub).T @ lam
    if me:
        r = r + A_eq.T @ nu
        size_r = size_r + np.abs(A_eq).T @ np.abs(nu)
    err_r = _gamma(m + me + 2) * size_r
    xmax = np.maximum(np.abs(lb), np.abs(ub))
    box = np.where(r > 0, r * lb, r * ub).sum()
    const = -(lam @ b_ub if m else 0.0) - (nu @ b_eq if me else 0.0)
    err = (err_r @ xmax + _gamma(n + 2) * (np.abs(r) @ xmax)
           + _gamma(m + me + 2) * ((lam @ np.abs(b_ub) if m else 0.0) + (np.abs(nu) @ np.abs(b_eq) if me else 0.0)))
    total = box + const
    return float(_down(total - _up(err * (1 + 1e-6) + abs(total) * 4 * _U)))


def _lp_inputs(lp: _LP, net: _Net, box: Sequence[Region], base: dict | None = None,
               vary: Sequence[str] = (), *, fixes: dict | None = None, side: int = 0,
               steps: dict | None = None) -> dict:
    """LP variables of the encoded input over a box: column -> variable (missing: absent = 0).

    Numeric: the standardised value over the hull of its interval and the
    imputed value, the indicator in [0, 1], each step input the box straddles
    tied to the value by its convex hull (:func:`_step_lower_row`,
    :func:`_step_upper_row`) unless ``fixes`` (key ``(side, "step", column)``)
    sets it to 0 or 1, and the steps of one feature ordered as their cuts; the
    variables of the straddled steps left free go to ``steps`` under that key.
    Categorical: one variable in [0, 1] per allowed level, at most one
    (exactly one where it cannot be missing). With ``base``, features not in
    ``vary`` share its variables.
    """
    fixes = fixes or {}
    cols: dict = {}
    for f, r in zip(net.feats, box):
        if base is not None and f.name not in vary:
            for j in ([f.col, f.ind, *(c for c, _ in f.steps)] if f.kind == "numeric"
                      else range(f.col, f.col + f.n_levels)):
                if j in base:
                    cols[j] = base[j]
            continue
        if f.kind == "numeric":
            lo, hi = [], []
            if r.has_value:
                lo.append(_std_bound(f, r.lo, upper=False) if math.isfinite(r.lo) else -math.inf)
                hi.append(_std_bound(f, r.hi, upper=True) if math.isfinite(r.hi) else math.inf)
            e_miss = None  # the largest encoded value of a missing input, where the box allows one
            if r.miss:
                e0 = f.exact(Fraction(f.impute))
                lo.append(float(_down(float(e0))))
                e_miss = float(_up(float(e0)))
                hi.append(e_miss)
            cols[f.col] = e = lp.var(min(lo), max(hi))
            if f.ind >= 0:
                cols[f.ind] = lp.var(0.0 if r.has_value else 1.0, 1.0 if r.miss else 0.0)
            straddled = []
            for col, t in f.steps:
                a, b = _step_range(r, t) if r.has_value else (0.0, 0.0)
                a = 0.0 if r.miss else a
                if a == b:
                    cols[col] = lp.var(a, b)
                    continue
                # The box straddles the cut: the step is tied to the value (below), or branched on.
                straddled.append((t, col))
                key = (side, "step", col)
                tau_lo = _std_bound(f, _at_or_above(f, t), upper=False)
                tau_hi = _std_bound(f, _below(f, t), upper=True)
                value = fixes.get(key)
                cols[col] = s = lp.var(a, b) if value is None else lp.var(value, value)
                if value != 0:  # at 1 the value is present and at least the cut
                    _step_lower_row(lp, e, s if value is None else None, min(lo), tau_lo)
                    if value == 1 and f.ind >= 0:
                        lp.le({cols[f.ind]: 1.0}, 0.0)
                if value != 1:  # at 0 it is below the cut or missing
                    _step_upper_row(lp, e, s if value is None else None, cols.get(f.ind), max(hi), tau_hi, e_miss)
                if value is None and r.miss and f.ind >= 0:  # a missing value's step reads 0
                    lp.le({s: 1.0, cols[f.ind]: 1.0}, 1.0)
                if value is None and steps is not None:
                    steps[key] = s
            straddled.sort()
            for (_, c1), (_, c2) in zip(straddled, straddled[1:]):  # a higher cut's step: 1 only where a lower's is
                lp.le({cols[c2]: 1.0, cols[c1]: -1.0}, 0.0)
            continue
        allowed = [int(k) for k in np.flatnonzero(r.levels)] if r.values else []
        ids = {}
        for k in allowed:
            ids[k] = cols[f.col + k] = lp.var(0.0, 1.0)
        if ids:
            lp.le({v: 1.0 for v in ids.values()}, 1.0)
            if not r.miss:
                lp.le({v: -1.0 for v in ids.values()}, -1.0)
    return cols


def _below(f: _Feature, t: float) -> float:
    """The largest value of the feature below the cut ``t``: a step reads 0 up to it and 1 from ``t`` on."""
    return float(math.ceil(t) - 1) if f.integer else float(np.nextafter(t, -math.inf))


def _unit_step(f: _Feature) -> float:
    """``1 / scale`` rounded down to a float64: how far apart two integer values lie at least, encoded."""
    d = Fraction(1) / Fraction(f.scale)
    v = float(d)
    return float(np.nextafter(v, -math.inf)) if Fraction(v) > d else v


def _at_or_above(f: _Feature, t: float) -> float:
    """The smallest value of the feature at or above the cut ``t`` (where its step reads 1)."""
    return float(math.ceil(t)) if f.integer else float(t)


# The rows tying a step ``s`` (1 where the value is present and at least the cut, else 0) to the encoded
# value ``e`` over a box that straddles the cut, valid for their float64 coefficients: with ``s`` free,
# the two sides of its convex hull; with ``s`` fixed by branch and bound (``s=None`` here), the side that
# the fixed value leaves. ``tau_lo`` is at most the standardised smallest value at or above the cut,
# ``tau_hi`` at least the standardised largest value below it (:func:`_at_or_above`, :func:`_below`).


def _step_lower_row(lp: _LP, e: int, s: int | None, e_lo: float, tau_lo: float) -> None:
    """Where the step reads 1 the value is at least the cut: ``c * s - e <= -e_lo`` with ``c <= tau_lo - e_lo``
    (``s <= (e - e_lo) / (tau_lo - e_lo)``; at ``s = 0``: ``e >= e_lo``, missing values included, their
    imputed ``e`` lies within the bounds). With the step fixed to 1: ``e >= tau_lo``."""
    if s is None:
        lp.le({e: -1.0}, -tau_lo)
        return
    c = float(np.nextafter(tau_lo - e_lo, -np.inf))
    if math.isfinite(c) and c > 0 and math.isfinite(e_lo):
        lp.le({s: c, e: -1.0}, -e_lo)


def _step_upper_row(lp: _LP, e: int, s: int | None, ind: int | None, e_hi: float, tau_hi: float,
                    e_miss: float | None) -> None:
    """Where the step reads 0 the value is below the cut or missing: ``e - c_s * s - c_i * ind <= rhs``.

    A present value below the cut has ``e <= tau_hi``; a missing one its imputed ``e <= e_miss``: with a
    missing indicator ``ind``, ``c_i >= e_miss - tau_hi`` lets it through, without one (or where that
    difference overflows) the right side rises to ``max(tau_hi, e_miss)``. With ``s`` free,
    ``c_s >= e_hi - rhs`` (at ``s = 1``, ``e <= e_hi``; no row where ``e_hi`` is infinite); with ``s``
    fixed to 0 (``s=None``) the row holds without it.
    """
    row = {e: 1.0}
    rhs = tau_hi
    if e_miss is not None:
        c = float(np.nextafter(e_miss - tau_hi, np.inf))
        if ind is not None and math.isfinite(c):
            if c > 0:
                row[ind] = -c
        else:
            rhs = max(tau_hi, e_miss)
    if s is not None:
        c = float(np.nextafter(e_hi - rhs, np.inf))
        if not math.isfinite(c):
            return
        if c > 0:
            row[s] = -c
    lp.le(row, rhs)


def _lp_network(lp: _LP, net: _Net, cols: dict, B: Bounds, upto: int, fixes: dict | None = None,
                side: int = 0) -> tuple[list, dict]:
    """Layers ``0 .. upto-1`` as LP rows; returns the last post-activation terms ``[(var, unit)]`` and the
    unstable neurons' ``(side, layer, unit) -> (p var, a var)``."""
    fixes = fixes or {}
    h = list((v, j) for j, v in cols.items())
    unstable = {}
    for i in range(upto):
        W, b = net.layers[i]
        last = i == len(net.layers) - 1
        nxt = []
        for u in range(W.shape[1]):
            lo, hi = float(B.lower[i][u]), float(B.upper[i][u])
            if not last and hi <= 0:
                continue
            phase = fixes.get((side, i, u))
            if phase == 1:
                lo = max(lo, 0.0)
            elif phase == 0:
                hi = min(hi, 0.0)
            p = lp.var(lo, hi)
            row = {p: 1.0}
            for v, j in h:
                w = W[j, u]
                if w != 0.0:
                    row[v] = row.get(v, 0.0) - w
            lp.eq(row, float(b[u]))
            if last or lo >= 0 or phase == 1:
                nxt.append((p, u))
                continue
            if phase == 0:
                continue
            a = lp.var(0.0, hi)
            lp.le({p: 1.0, a: -1.0}, 0.0)  # a >= p
            s_up = float(_up(hi / (hi - lo)))
            lp.le({a: 1.0, p: -s_up}, float(_up(-s_up * lo)))  # a <= s (p - lo)
            unstable[(side, i, u)] = (p, a)
            nxt.append((a, u))
        h = nxt
    return h, unstable


def _refine(net: _Net, box: Sequence[Region], b: Bounds, *, deadline: float | None) -> Bounds:
    """Tighten layers 2.. and the logits: per unstable neuron (every logit), the LP relaxation of the layers
    before it gives a rigorous lower and upper bound; interval bounds are recomputed between layers."""
    if b.empty or not all(np.all(np.isfinite(v)) for v in b.lower[:1] + b.upper[:1]):
        return b
    lower = [v.copy() for v in b.lower]
    upper = [v.copy() for v in b.upper]
    errors = list(b.error)
    refined = 0
    for i in range(1, len(net.layers)):
        W, bias = net.layers[i]
        lo, hi = _affine(np.maximum(lower[i - 1], 0.0), np.maximum(upper[i - 1], 0.0), W, bias)
        lower[i], upper[i] = np.maximum(lower[i], lo), np.minimum(upper[i], hi)
        last = i == len(net.layers) - 1
        todo = [u for u in range(W.shape[1]) if last or (lower[i][u] < 0 < upper[i][u])]
        if todo and (deadline is None or time.time() < deadline):
            lp = _LP()
            cols = _lp_inputs(lp, net, box)
            cur = Bounds(lower, upper, errors)
            h, _ = _lp_network(lp, net, cols, cur, i)
            for u in todo:
                c = {v: W[j, u] for v, j in h if W[j, u] != 0.0}
                low, _ = lp.minimum(c, float(bias[u]))
                neg = {v: -w for v, w in c.items()}
                high, _ = lp.minimum(neg, -float(bias[u]))
                if low > lower[i][u] and low <= upper[i][u]:
                    lower[i][u] = low
                    refined += 1
                if -high < upper[i][u] and -high >= lower[i][u]:
                    upper[i][u] = -high
                    refined += 1
        errors[i] = _float_error(W, bias, np.maximum(upper[i - 1], 0.0), errors[i - 1])
        errors[i] = np.minimum(errors[i], b.error[i])
    return Bounds(lower, upper, errors, refined=refined)


def network_bounds(student: Any, region: Any = None, *, domain: Domain | None = None,
                   refine: bool = True) -> Bounds:
    """Sound pre-activation bounds of a fitted neural student over its Domain (and a region).

    Parameters
    ----------
    student : DistilledMLPClassifier
        Fitted.
    region : Condition, sequence of Condition, Rule or str, optional
        Restricts the inputs (its top-level conjunction gives the box).
    domain : Domain, optional
        Default ``student.domain_``.
    refine : bool, default=True
        Tighten the layers after the first (and the logits) by linear
        programming over the triangle relaxation of the layers before them;
        each bound is made rigorous by weak duality (see :class:`_LP`).

    Returns
    -------
    Bounds
        ``lower[i]``, ``upper[i]``: bounds of layer ``i``'s pre-activations
        (the last: the logits) over every input of the region.
    """
    net, domain = _net(student, domain)
    box = _box(domain, _conjuncts(_as_region(region)))
    b = _bounds(net, box)
    if refine and not b.empty:
        b = _refine(net, box, b, deadline=None)
    return b


# -- the checks -------------------------------------------------------------------------------------


@dataclass
class _Task:
    """One check: a property, or agreement with one rule (an ``Implies`` over the rule's region)."""

    kind: str  # "implies", "monotone", "invariant"
    text: str
    prop: Property
    region: Expr | None  # restricts the first input x
    target: int = -1  # class index: implies' ``then``, monotone's ``toward``
    vary: tuple[str, ...] = ()
    direction: str = "increasing"
    rule: str | None = None

    @property
    def pair(self) -> bool:
        return self.kind != "implies"


def _tasks(net: _Net, domain: Domain, properties: Iterable[Any], rules: Any, region: Expr | None) -> list[_Task]:
    from ._properties import resolve_label

    tasks = []
    for p in parse_properties(properties):
        prop = p.validate(domain, net.classes)
        if isinstance(prop, Implies):
            tasks.append(_Task("implies", prop.text(), prop, _and(region, prop.condition), net.code(prop.then)))
        elif isinstance(prop, Monotone):
            tasks.append(_Task("monotone", prop.text(), prop, region, net.code(prop.toward), (prop.feature,),
                               prop.direction))
        elif isinstance(prop, Invariant):
            tasks.append(_Task("invariant", prop.text(), prop, region, vary=prop.names))
        else:
            raise TypeError(f"verify_network() checks Implies, Monotone and Invariant properties; got "
                            f"{type(prop).__name__}.")
    if rules is None:
        return tasks
    rs = rules.rules_ if hasattr(rules, "rules_") else rules
    if isinstance(rs, dict):
        rs = RuleSet.from_dict(rs)
    if not isinstance(rs, RuleSet):
        raise TypeError(f"rules must be a RuleSet or a fitted rule student, got {type(rules).__name__}.")
    unknown = sorted(rs.features - set(domain.names))
    if unknown:
        raise DomainError(f"The rules use features {unknown[:10]} that are not inputs of the student "
                          f"(features: {list(domain.names)[:20]}).")
    for i, r in enumerate(rs.rules):
        label = resolve_label(r.prediction, net.classes)
        expr = _conj(r.conditions)
        rid = rs.rule_id(i)
        prop = Implies(expr, then=label)
        tasks.append(_Task("implies", f"rule {rid}: {r}", prop, _and(region, expr), net.code(label), rule=rid))
    return tasks


def _boxes(domain: Domain, task: _Task) -> tuple[list[Region], list[Region] | None]:
    """The box of the first input, and of the second (varied features over the whole Domain)."""
    conds = _conjuncts(task.region)
    if task.kind == "monotone":
        conds = conds + [Condition(task.vary[0], "is not missing")]
    bx = _box(domain, conds)
    if not task.pair:
        return bx, None
    bxp = list(bx)
    for j, spec in enumerate(domain.features):
        if spec.name in task.vary:
            r = Region.full(spec)
            if task.kind == "monotone":
                r.apply(Condition(spec.name, "is not missing"))
            bxp[j] = r
    return bx, bxp


def _margins(b: Bounds) -> tuple[np.ndarray, bool]:
    """The float64 rounding margin of the logits, and whether it is finite (else: exact arithmetic only)."""
    m = b.float_margin
    if np.all(np.isfinite(m)):
        return m, True
    return np.zeros_like(m), False


def _possible_classes(net: _Net, b: Bounds) -> set[int]:
    """Classes that the float64 forward pass may answer somewhere in the box, by the bounds alone."""
    K = len(net.classes)
    if b.empty:
        return set()
    lo, hi = b.lower[-1], b.upper[-1]
    d, finite = _margins(b)
    if not (finite and np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        return set(range(K))
    if net.binary:
        out = set()
        if hi[0] > -d[0]:
            out.add(1)
        if lo[0] <= d[0]:
            out.add(0)
        return out
    out = set()
    for k in range(K):
        if all(_up(hi[k] - lo[j]) >= -_up(d[k] + d[j]) for j in range(K) if j != k):
            out.add(k)
    return out


def _settled(task: _Task, px: set[int], pxp: set[int] | None) -> bool:
    if task.kind == "implies":
        return px <= {task.target}
    if task.kind == "monotone":
        return task.target not in px or pxp <= {task.target}
    return len(px | pxp) <= 1


def _scenarios(net: _Net, task: _Task, mx: np.ndarray, mxp: np.ndarray | None) -> list[list[tuple]]:
    """The ways a check can fail, each a list of rows ``(side, {logit: weight}, const)`` that must all be
    >= 0 (``g = sum w z + const``): "the float64 pass may answer k" is such a conjunction per class."""
    K = len(net.classes)

    def may(side: int, k: int) -> list[tuple]:
        m = mx if side == 0 else mxp
        if net.binary:
            return [(side, {0: 1.0 if k == 1 else -1.0}, float(m[0]))]
        return [(side, {k: 1.0, j: -1.0}, _pair_margin(m[k], m[j])) for j in range(K) if j != k]

    if task.kind == "implies":
        return [may(0, k) for k in range(K) if k != task.target]
    if task.kind == "monotone":
        return [may(0, task.target) + may(1, k) for k in range(K) if k != task.target]
    return [may(0, c) + may(1, k) for c in range(K) for k in range(K) if k != c]


def _row_bounds(row: tuple, B: Bounds) -> tuple[float, float]:
    """Sure bounds of one row ``g = sum w z + const`` from the bounds of the logits."""
    _, w, const = row
    lo_terms = [v * (B.lower[-1][k] if v > 0 else B.upper[-1][k]) for k, v in w.items()] + [const]
    hi_terms = [v * (B.upper[-1][k] if v > 0 else B.lower[-1][k]) for k, v in w.items()] + [const]
    slack = _gamma(len(lo_terms) + 1) * sum(abs(t) for t in lo_terms + hi_terms)
    return float(_down(sum(lo_terms) - slack)), float(_up(sum(hi_terms) + slack))


# -- search -----------------------------------------------------------------------------------------


def _margin(net: _Net, z: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """How far class ``c`` is ahead (> 0: answered, for two classes ``>= 0`` is a tie), and its gradient."""
    n = z.shape[0]
    if net.binary:
        s = 1.0 if c == 1 else -1.0
        return s * z[:, 0], np.full((n, 1), s)
    other = z.copy()
    other[:, c] = -np.inf
    j = np.argmax(other, axis=1)
    rows = np.arange(n)
    g = np.zeros_like(z)
    g[:, c] = 1.0
    g[rows, j] -= 1.0
    return z[:, c] - z[rows, j], g


def _objective(net: _Net, task: _Task, zs: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Violation score (>= 0: a likely violation) and its gradient with respect to each copy's logits."""
    if task.kind == "implies":
        A, g = _margin(net, zs[0], task.target)
        return -A, [-g]
    classes = [task.target] if task.kind == "monotone" else range(len(net.classes))
    best = None
    for c in classes:
        Aa, ga = _margin(net, zs[0], c)
        Ab, gb = _margin(net, zs[1], c)
        first = Aa <= -Ab
        S = np.where(first, Aa, -Ab)
        Ga = np.where(first[:, None], ga, 0.0)
        Gb = np.where(first[:, None], 0.0, -gb)
        if best is None:
            best = (S, Ga, Gb)
        else:
            take = S > best[0]
            best = (np.where(take, S, best[0]), np.where(take[:, None], Ga, best[1]),
                    np.where(take[:, None], Gb, best[2]))
    return best[0], [best[1], best[2]]


class _Search:
    """Counterexample search for one task: sampling, line scans, projected signed-gradient steps."""

    def __init__(self, net: _Net, task: _Task, box: list[Region], box_p: list[Region] | None,
                 rng: np.random.Generator) -> None:
        self.net = net
        self.task = task
        self.box = box
        self.box_p = box_p
        self.rng = rng
        self.ranges = [(_sampling_range(f, r) if f.kind == "numeric" and r.has_value else (0.0, 0.0))
                       for f, r in zip(net.feats, box)]
        self.vary = [j for j, f in enumerate(net.feats) if f.name in task.vary]
        self.evaluated = 0

    # -- raw rows --
    def sample(self, n: int, missing_rate: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
        """``n`` rows in the box: continuous values (codes for categoricals) and a missing mask."""
        rng = self.rng
        F = len(self.net.feats)
        Rc = np.zeros((n, F))
        M = np.zeros((n, F), dtype=bool)
        for j, (f, r) in enumerate(zip(self.net.feats, self.box)):
            if f.kind == "categorical":
                allowed = np.flatnonzero(r.levels) if r.values else np.array([], dtype=np.intp)
                if len(allowed):
                    Rc[:, j] = rng.choice(allowed, size=n)
                    M[:, j] = r.miss & (rng.random(n) < missing_rate)
                else:
                    M[:, j] = True
                continue
            if not r.has_value:
                M[:, j] = True
                continue
            lo, hi = self.ranges[j]
            if f.integer:
                x = rng.integers(int(lo), int(hi) + 1, size=n).astype(np.float64)
            else:
                x = lo + (hi - lo) * rng.random(n)
            corner = rng.random(n)
            x = np.where(corner < 0.15, lo, np.where(corner < 0.3, hi, x))
            Rc[:, j] = np.clip(x, lo, hi)
            M[:, j] = r.miss & (rng.random(n) < missing_rate)
        return Rc, M

    def raw(self, Rc: np.ndarray, M: np.ndarray) -> np.ndarray:
        R = Rc.copy()
        for j, f in enumerate(self.net.feats):
            if f.kind == "categorical" or f.integer:
                R[:, j] = np.round(R[:, j])
        R[M] = np.nan
        return R

    def valid(self, R: np.ndarray, first: bool = True) -> np.ndarray:
        """Rows inside the Domain and (for the first input) the region."""
        frame = self.net.frame(R)
        ok = self.net.domain.contains(frame)
        if first and self.task.region is not None:
            ok &= self.task.region.evaluate(lambda name: frame[name], len(frame))
        return ok

    # -- evaluation --
    def _apply(self, R: np.ndarray, override: dict | None) -> np.ndarray:
        if not override:
            return R
        R = R.copy()
        for j, v in override.items():
            R[:, j] = v
        return R

    def score(self, R: np.ndarray, overrides: list[dict], grad: bool = False):
        net = self.net
        pres_list, zs = [], []
        for ov in overrides:
            pres, z = net.forward(net.encode(self._apply(R, ov)))
            pres_list.append(pres)
            zs.append(z)
        self.evaluated += R.shape[0] * len(overrides)
        S, gz = _objective(net, self.task, zs)
        if not grad:
            return S, None
        G = np.zeros((R.shape[0], len(net.feats)))
        for pres, g in zip(pres_list, gz):
            gE = net.backward(pres, g)
            for j, f in enumerate(net.feats):
                if f.kind == "numeric":
                    G[:, j] += gE[:, f.col] / f.scale
        return S, G

    # -- stages --
    def pairs(self, R: np.ndarray) -> list[dict]:
        """Per row, the two values of the varied features (a line scan): ``[override_x, override_x']``."""
        net, task = self.net, self.task
        n = R.shape[0]
        if not task.pair:
            return [{}]
        opts = self._options()  # (G, len(vary)) raw values
        G = opts.shape[0]
        inreg = np.ones(G, dtype=bool)
        for k, j in enumerate(self.vary):
            inreg &= _in_region(net.feats[j], self.box[j], opts[:, k])
        classes = [task.target] if task.kind == "monotone" else list(range(len(net.classes)))
        A = np.empty((len(classes), n, G))
        for g in range(G):
            Rg = R.copy()
            for k, j in enumerate(self.vary):
                Rg[:, j] = opts[g, k]
            _, z = net.forward(net.encode(Rg))
            for ci, c in enumerate(classes):
                A[ci, :, g] = _margin(net, z, c)[0]
        self.evaluated += n * G
        rows = np.arange(n)
        best_s = np.full(n, -np.inf)
        best_a = np.zeros(n, dtype=np.intp)
        best_b = np.zeros(n, dtype=np.intp)
        for ci in range(len(classes)):
            Aa = np.where(inreg[None, :], A[ci], -np.inf)
            if task.kind == "monotone":
                order = np.arange(G) if task.direction == "increasing" else np.arange(G)[::-1]
                pref = np.maximum.accumulate(Aa[:, order], axis=1)
                arg = _prefix_argmax(Aa[:, order])
                s = np.minimum(pref, -A[ci][:, order])
                b = np.argmax(s, axis=1)
                cand_s = s[rows, b]
                cand_a, cand_b = order[arg[rows, b]], order[b]
            else:
                a = np.argmax(Aa, axis=1)
                b = np.argmax(-A[ci], axis=1)
                cand_s = np.minimum(Aa[rows, a], -A[ci][rows, b])
                cand_a, cand_b = a, b
            take = cand_s > best_s
            best_s = np.where(take, cand_s, best_s)
            best_a = np.where(take, cand_a, best_a)
            best_b = np.where(take, cand_b, best_b)
        ox = {j: opts[best_a, k] for k, j in enumerate(self.vary)}
        oxp = {j: opts[best_b, k] for k, j in enumerate(self.vary)}
        return [ox, oxp]

    def _options(self, G: int = 33) -> np.ndarray:
        """Values of the varied features to scan (monotone: sorted, present; invariant: with missing)."""
        net, task = self.net, self.task
        if len(self.vary) == 1:
            j = self.vary[0]
            f = net.feats[j]
            r = self.box_p[j]
            if f.kind == "categorical":
                vals = list(np.flatnonzero(r.levels).astype(np.float64)) if r.values else []
            else:
                lo, hi = _sampling_range(f, r)
                if f.integer and hi - lo + 1 <= 2 * G:
                    vals = list(np.arange(lo, hi + 1))
                else:
                    vals = list(np.linspace(lo, hi, G))
                    if f.integer:
                        vals = list(np.unique(np.round(vals)))
                    xl, xh = self.ranges[j]
                    if self.box[j].has_value:
                        vals += [xl, xh]
                vals = sorted(set(vals))
            if task.kind == "invariant" and r.miss:
                vals.append(np.nan)
            return np.asarray(vals, dtype=np.float64)[:, None]
        sub = Domain(tuple(net.domain[net.feats[j].name] for j in self.vary))
        draw = sub.sample(G, random_state=self.rng, missing_rate=0.2)
        out = np.empty((G, len(self.vary)))
        for k, j in enumerate(self.vary):
            f = net.feats[j]
            col = draw[f.name]
            if f.kind == "categorical":
                codes = np.asarray(col.cat.codes, dtype=np.float64)
                out[:, k] = np.where(codes < 0, np.nan, codes)
            else:
                out[:, k] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def descend(self, Rc: np.ndarray, M: np.ndarray, overrides: list[dict], steps: int = 40,
                sweep_every: int = 10, alpha0: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
        """Signed-gradient ascent of the violation score, projected into the box; returns the best raw rows and scores."""
        net = self.net
        F = len(net.feats)
        Rc, M = Rc.copy(), M.copy()
        fixed = set(self.vary)
        free_num = [j for j, (f, r) in enumerate(zip(net.feats, self.box))
                    if f.kind == "numeric" and j not in fixed and r.has_value and self.ranges[j][1] > self.ranges[j][0]]
        lo = np.array([self.ranges[j][0] for j in range(F)])
        hi = np.array([self.ranges[j][1] for j in range(F)])
        width = hi - lo
        discrete = [j for j, (f, r) in enumerate(zip(net.feats, self.box)) if j not in fixed and (
            f.kind == "categorical" or (r.miss and r.has_value))]
        R = self.raw(Rc, M)
        S, G = self.score(R, overrides, grad=True)
        best_R, best_S = R.copy(), S.copy()
        for t in range(steps):
            if discrete and t % sweep_every == 0:
                Rc, M = self._sweep(Rc, M, overrides, discrete)
                R = self.raw(Rc, M)
                S, G = self.score(R, overrides, grad=True)
            alpha = alpha0 * (0.05 ** (t / max(steps - 1, 1)))
            if free_num:
                step = alpha * np.sign(G[:, free_num]) * width[free_num]
                Rc[:, free_num] = np.clip(Rc[:, free_num] + step, lo[free_num], hi[free_num])
            R = self.raw(Rc, M)
            S, G = self.score(R, overrides, grad=True)
            better = S > best_S
            best_R[better] = R[better]
            best_S = np.where(better, S, best_S)
        return best_R, best_S

    def _sweep(self, Rc: np.ndarray, M: np.ndarray, overrides: list[dict], discrete: list[int]):
        """Coordinate sweep over levels and missingness: the best option per row for each discrete feature."""
        for j in discrete:
            f, r = self.net.feats[j], self.box[j]
            options: list[tuple[float, bool]] = []
            if f.kind == "categorical":
                if r.values:
                    options += [(float(c), False) for c in np.flatnonzero(r.levels)]
                if r.miss:
                    options.append((0.0, True))
            else:
                options = [(np.nan, False), (np.nan, True)]
            best_S, best = None, None
            for value, miss in options:
                Rc2, M2 = Rc.copy(), M.copy()
                if not np.isnan(value):
                    Rc2[:, j] = value
                M2[:, j] = miss
                S, _ = self.score(self.raw(Rc2, M2), overrides)
                if best_S is None:
                    best_S, best = S, (Rc2, M2)
                else:
                    take = S > best_S
                    best_S = np.where(take, S, best_S)
                    best[0][take] = Rc2[take]
                    best[1][take] = M2[take]
            Rc, M = best
        return Rc, M

    def confirm(self, R: np.ndarray, overrides: list[dict], S: np.ndarray, limit: int = 64) -> dict | None:
        """The first candidate (highest score first) that ``predict`` shows violating the check, or None."""
        order = np.argsort(-S, kind="stable")
        order = order[S[order] >= -1e-9][:limit]
        if not len(order):
            return None
        net, task = self.net, self.task
        ovs = [{j: v[order] for j, v in o.items()} for o in overrides]
        RX = self._apply(R[order], ovs[0])
        ok = self.valid(RX)
        if task.pair:
            RXp = self._apply(R[order], ovs[1])
            ok &= self.valid(RXp, first=False)
        idx = np.flatnonzero(ok)
        if not len(idx):
            return None
        X = net.frame(RX[idx])
        predict = net.predict
        try:
            if task.pair:
                Xp = net.frame(RXp[idx])
                holds = task.prop.holds(predict, X, Xp)
            else:
                holds = task.prop.holds(predict, X)
        except ValueError:
            return None
        bad = np.flatnonzero(~np.asarray(holds, dtype=bool))
        if not len(bad):
            return None
        k = int(idx[bad[0]])
        rows = [net.rows(RX[k:k + 1])[0]]
        if task.pair:
            rows.append(net.rows(RXp[k:k + 1])[0])
        return {"rows": rows, "score": float(S[order][k])}

    def run(self, n_samples: int, seeds: tuple[np.ndarray, np.ndarray] | None = None,
            deadline: float | None = None, alpha0: float = 0.2) -> tuple[dict | None, str]:
        """Sampling, then gradient steps from the best rows; ``(found, method)``."""
        if seeds is not None:
            Rc, M = seeds
        else:
            Rc, M = self.sample(n_samples)
            keep = self.valid(self.raw(Rc, M))
            Rc, M = Rc[keep], M[keep]
        if not len(Rc):
            return None, "sampling"
        R = self.raw(Rc, M)
        overrides = self.pairs(R)
        S, _ = self.score(R, overrides)
        found = self.confirm(R, overrides, S)
        if found is not None:
            return found, "sampling"
        if deadline is not None and time.time() > deadline:
            return None, "sampling"
        k = min(len(S), 48)
        top = np.argsort(-S, kind="stable")[:k]
        ov = [{j: v[top] for j, v in o.items()} for o in overrides]
        best_R, best_S = self.descend(Rc[top], M[top], ov, alpha0=alpha0)
        found = self.confirm(best_R, ov, best_S)
        return found, "gradient"


def _prefix_argmax(A: np.ndarray) -> np.ndarray:
    """Index of the running maximum along axis 1."""
    n, G = A.shape
    arg = np.zeros((n, G), dtype=np.intp)
    best = A[:, 0].copy()
    for g in range(1, G):
        take = A[:, g] > best
        best = np.where(take, A[:, g], best)
        arg[:, g] = np.where(take, g, arg[:, g - 1])
    return arg


def _raw_from_rows(search: _Search, rows: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Continuous values and missing mask from decoded rows (feature -> value or None); a missing numeric
    value keeps the middle of its range, for the sweep to try."""
    net = search.net
    F = len(net.feats)
    Rc = np.zeros((len(rows), F))
    M = np.zeros((len(rows), F), dtype=bool)
    for i, row in enumerate(rows):
        for j, f in enumerate(net.feats):
            v = row.get(f.name)
            if v is None:
                M[i, j] = True
                Rc[i, j] = 0.5 * (search.ranges[j][0] + search.ranges[j][1])
            elif f.kind == "categorical":
                Rc[i, j] = list(net.domain[f.name].levels).index(v)
            else:
                Rc[i, j] = float(v)
    return Rc, M


def _confirm_rows(search: _Search, rows: Sequence[dict], local: bool) -> dict | None:
    """A confirmed violation at a solver's point (``rows``: x, and x' for two inputs) or, with ``local``,
    a few small gradient steps from it."""
    task = search.task
    Rc, M = _raw_from_rows(search, rows)
    R = search.raw(Rc, M)
    overrides: list[dict] = [{}]
    if task.pair:
        overrides.append({j: R[1:2, j] for j in search.vary})
    S, _ = search.score(R[:1], overrides)
    found = search.confirm(R[:1], overrides, S) if S[0] >= -1e-6 else None
    if found is not None or not local:
        return found
    seeds = (np.repeat(Rc[:1], 8, axis=0), np.repeat(M[:1], 8, axis=0))
    found, _ = search.run(0, seeds=seeds, alpha0=1e-4)
    return found


# -- branch and bound over unstable neurons ---------------------------------------------------------


def _lp_rows(net: _Net, box: Sequence[Region], cols: dict, x: np.ndarray) -> dict:
    """An input (feature -> value or None) read from an LP solution, rounded into the box."""
    row: dict[str, Any] = {}
    for f, r in zip(net.feats, box):
        if f.kind == "categorical":
            allowed = [k for k in range(f.n_levels) if f.col + k in cols]
            vals = [x[cols[f.col + k]] for k in allowed]
            if allowed and (not r.miss or max(vals) >= 0.5):
                row[f.name] = net.domain[f.name].levels[allowed[int(np.argmax(vals))]]
            else:
                row[f.name] = None
            continue
        missing = not r.has_value or (f.ind >= 0 and r.miss and x[cols[f.ind]] >= 0.5)
        if missing:
            row[f.name] = None
            continue
        v = f.mean + f.scale * float(x[cols[f.col]])
        if f.integer:
            v = float(np.round(v))
        for col, t in f.steps:  # on the side of each cut its step takes in the LP (it may sit on the cut)
            if col not in cols:
                continue
            if x[cols[col]] < 0.5 and v >= t:
                v = _below(f, t)
            elif x[cols[col]] >= 0.5 and v < t:
                v = _at_or_above(f, t)
        lo, hi = r.lo, r.hi
        if f.integer:
            v = float(np.clip(v, lo, hi))
        else:
            lo = float(np.nextafter(lo, math.inf)) if (not r.loc and math.isfinite(lo)) else lo
            hi = float(np.nextafter(hi, -math.inf)) if (not r.hic and math.isfinite(hi)) else hi
            v = float(np.clip(v, lo, hi))
        row[f.name] = v
    return row


def _bab(net: _Net, task: _Task, bx: list[Region], bxp: list[Region] | None, Bx: Bounds, Bxp: Bounds | None,
         check: Any, limit_s: float, deadline: float | None, max_nodes: int = 2_000) -> tuple[str, Any, int]:
    """Branch and bound on the phases of unstable neurons and on the step inputs the box straddles (a
    step left fractional by the LP is branched on first: 0 with the value below the cut or missing, 1
    with it at or above), each node bounded by the LP relaxation.

    Returns ``("proved", None, nodes)`` when every node's rigorous LP bound
    excludes a violation, ``("violated", found, nodes)`` when an LP optimum
    rounds to an input that ``check`` confirms, else ``("open", why, nodes)``:
    ``"limit"`` (time or nodes), ``"lp"`` (no LP solution) or ``"tight"`` (an
    LP optimum that is a point of the network, yet does not reproduce).
    """
    stop = time.time() + limit_s
    if deadline is not None:
        stop = min(stop, deadline)
    L = len(net.layers)
    mx = _margins(Bx)[0]
    mxp = _margins(Bxp)[0] if Bxp is not None else None
    nodes = 0
    for rows in _scenarios(net, task, mx, mxp):
        stack: list[dict] = [{}]
        while stack:
            if time.time() > stop or nodes >= max_nodes:
                return "open", "limit", nodes
            fixes = stack.pop()
            nodes += 1
            lp = _LP()
            steps: dict = {}
            cx = _lp_inputs(lp, net, bx, fixes=fixes, side=0, steps=steps)
            zx, unstable = _lp_network(lp, net, cx, Bx, L, fixes, side=0)
            logits = [dict((u, v) for v, u in zx)]
            cxp = None
            if task.pair:
                cxp = _lp_inputs(lp, net, bxp, base=cx, vary=task.vary, fixes=fixes, side=1, steps=steps)
                if task.kind == "monotone":
                    f = next(f for f in net.feats if f.name == task.vary[0])
                    for j in (f.col, *(col for col, _ in f.steps)):  # the value and its steps: x <= x'
                        a, b = (cx[j], cxp[j]) if task.direction == "increasing" else (cxp[j], cx[j])
                        # Equal values make the two inputs one, which has one answer: an integer
                        # feature's values then differ by 1 at least (1 / scale encoded).
                        lp.le({a: 1.0, b: -1.0}, -_unit_step(f) if j == f.col and f.integer else 0.0)
                zxp, more = _lp_network(lp, net, cxp, Bxp, L, fixes, side=1)
                unstable.update(more)
                logits.append(dict((u, v) for v, u in zxp))
            spans = [_row_bounds(r, Bx if r[0] == 0 else Bxp) for r in rows]
            t = lp.var(min(lo for lo, _ in spans), min(hi for _, hi in spans))
            for side, w, const in rows:
                row = {t: 1.0}
                for k, v in w.items():
                    row[logits[side][k]] = -v
                lp.le(row, const)
            low, x = lp.minimum({t: -1.0})
            if low > 0:  # max t < 0: no violation under these phases
                continue
            if x is None:
                return "open", "lp", nodes
            cand = [_lp_rows(net, bx, cx, x)]
            if task.pair:
                second = dict(cand[0])
                second.update({n: v for n, v in _lp_rows(net, bxp, cxp, x).items() if n in task.vary})
                cand.append(second)
            gaps = {key: x[a] - max(x[p], 0.0) for key, (p, a) in unstable.items()}
            halves = {key: min(x[v], 1.0 - x[v]) for key, v in steps.items()}
            halves = {key: h for key, h in halves.items() if h > 1e-9}
            # The LP point is a point of the network: every neuron on its ReLU, every step 0 or 1.
            tight = (not gaps or max(gaps.values()) <= 1e-9) and not halves
            found = check(cand, local=nodes == 1 or tight)
            if found is not None:
                return "violated", found, nodes
            if tight:
                return "open", "tight", nodes
            if halves:
                key = max(halves, key=lambda k: (halves[k], -k[2]))
            else:
                key = max(gaps, key=lambda k: (gaps[k], -k[1]))
            stack += [{**fixes, key: 0}, {**fixes, key: 1}]
    return "proved", None, nodes


# -- Z3 ---------------------------------------------------------------------------------------------


def _q(v: float) -> Any:
    import z3

    return z3.RealVal(Fraction(float(v)))


def _std_bound(f: _Feature, x: float, upper: bool) -> float:
    """The standardised value ``(x - mean) / scale`` rounded outward to a float64."""
    q = (Fraction(x) - Fraction(f.mean)) / Fraction(f.scale)
    v = float(q)
    if upper and Fraction(v) < q:
        v = float(np.nextafter(v, math.inf))
    elif not upper and Fraction(v) > q:
        v = float(np.nextafter(v, -math.inf))
    return v


class _ScaledEncoding(Encoding):
    """An :class:`Encoding` whose real features are ``mean + scale * e`` for a Z3 variable ``e``.

    The network reads ``e`` directly, so its rows have the float64 weights
    (dyadic rationals) as coefficients; the rationals of ``mean`` and
    ``scale`` stay in the bounds and thresholds of ``e``. (With ``x`` as the
    variable every neuron's row holds ``w / scale`` for each feature's scale,
    and the simplex values' common denominators run to thousands of bits.)
    Integer features stay integers, linked to a standardised copy by one row.
    Everything is exact: thresholds, bounds, integrality.
    """

    def __init__(self, domain: Domain, net: _Net, tag: str = "", *, _base: "Encoding | None" = None,
                 _vary: Iterable[str] = ()) -> None:
        import z3

        super().__init__(domain, tag, _base=_base, _vary=_vary)
        self.net = net
        self.std: dict[str, Any] = {}
        for f in net.feats:
            if f.kind != "numeric":
                continue
            if f.name not in self.own:
                if _base is not None and f.name in getattr(_base, "std", {}):
                    self.std[f.name] = _base.std[f.name]
                continue
            if domain[f.name].kind == "real":
                e = z3.FreshReal(f"{f.name}{tag}#std")  # fresh: no feature's name can stand for it
                self.std[f.name] = e
                self.value[f.name] = _q(f.mean) + _q(f.scale) * e

    def variant(self, vary: Iterable[str], tag: str = "'") -> "_ScaledEncoding":
        vary = list(vary)
        for n in vary:
            self.domain[n]  # a clear KeyError for an unknown feature
        return _ScaledEncoding(self.domain, self.net, tag, _base=self, _vary=vary)


class _Z3Net:
    """The network as Z3 constraints over the variables of :class:`Encoding` objects.

    The encoded input is exact: ``(x - mean) / scale`` with the rationals of
    the float64 statistics, the imputed value where missing, the indicator,
    and one 0/1 term per level of a categorical feature (its row of the
    folded first layer: a one-hot column or an embedding's lookup). With
    ``bounds``, a neuron whose upper bound is <= 0 is dropped, one whose lower
    bound is >= 0 is linear, and only the others are a case split (with the
    triangle relaxation and the bounds as redundant linear facts). Without
    ``bounds`` every ReLU is ``If(p > 0, p, 0)`` (the plain encoding).
    """

    def __init__(self, net: _Net) -> None:
        import z3

        self.z3 = z3
        self.net = net
        self._inputs: dict[tuple, list[tuple[int, Any]]] = {}
        self._weights = [(np.vectorize(_q, otypes=[object])(W), [_q(v) for v in b]) for W, b in net.layers]
        self._n = 0

    def _fresh(self, stem: str) -> Any:
        self._n += 1
        return self.z3.FreshReal(f"{stem}!{self._n}")

    def inputs(self, enc: Encoding, out: list) -> list[tuple[int, Any]]:
        """``[(column, term), ...]`` of the encoded input of ``enc``; new constraints go to ``out``."""
        z3 = self.z3
        terms: list[tuple[int, Any]] = []
        for f in self.net.feats:
            x = enc.value[f.name]
            m = enc.missing.get(f.name)
            key = (f.name, x.get_id(), None if m is None else m.get_id())
            hit = self._inputs.get(key)
            if hit is None:
                hit = []
                if f.kind == "numeric":
                    std = getattr(enc, "std", {}).get(f.name)
                    if std is not None:
                        value = std
                    else:  # a standardised copy, linked by one row (integer features; plain Encodings)
                        value = self._fresh(f"{f.name}{enc.tag}#std")
                        xr = z3.ToReal(x) if x.is_int() else x
                        out.append(_q(f.scale) * value == xr - _q(f.mean))
                    if m is None:
                        hit.append((f.col, value))
                    else:
                        e = self._fresh(f"{f.name}{enc.tag}#enc")
                        out.append(z3.If(m, e == z3.RealVal(f.exact(Fraction(f.impute))), e == value))
                        hit.append((f.col, e))
                        if f.ind >= 0:
                            hit.append((f.ind, z3.If(m, z3.RealVal(1), z3.RealVal(0))))
                    for col, t in f.steps:  # x >= t, on the standardised variable: (t - mean) / scale
                        up = value >= z3.RealVal(f.exact(Fraction(t)))
                        hit.append((col, z3.If(up if m is None else z3.And(z3.Not(m), up),
                                                z3.RealVal(1), z3.RealVal(0))))
                else:
                    present = z3.BoolVal(True) if m is None else z3.Not(m)
                    onehot = []
                    for level in range(f.n_levels):
                        o = self._fresh(f"{f.name}{enc.tag}#{level}")
                        out.append(o == z3.If(z3.And(present, x == level), z3.RealVal(1), z3.RealVal(0)))
                        onehot.append(o)
                        hit.append((f.col + level, o))
                    out.append(z3.Sum(onehot) <= 1)
                self._inputs[key] = hit
            terms += hit
        return terms

    def logits(self, enc: Encoding, bounds: Bounds | None, out: list) -> list[Any]:
        """Z3 terms of the logits of ``enc``'s input (constraints to ``out``)."""
        z3 = self.z3
        h: list[tuple[int, Any]] = self.inputs(enc, out)
        tag = enc.tag
        n_layers = len(self.net.layers)
        for i in range(n_layers):
            Wq, bq = self._weights[i]
            W = self.net.layers[i][0]
            last = i == n_layers - 1
            nxt: list[tuple[int, Any]] = []
            for u in range(W.shape[1]):
                if bounds is not None and not last and bounds.upper[i][u] <= 0:
                    continue  # never active over the region
                terms = [Wq[j, u] * t for j, t in h if W[j, u] != 0.0]
                expr = z3.Sum(terms) + bq[u] if terms else bq[u]
                p = self._fresh(f"{'z' if last else 'p'}{i}_{u}{tag}")
                out.append(p == expr)
                if last:
                    nxt.append((u, p))
                    continue
                if bounds is None:
                    a = self._fresh(f"a{i}_{u}{tag}")
                    out.append(a == z3.If(p > 0, p, z3.RealVal(0)))
                    nxt.append((u, a))
                    continue
                lo, hi = float(bounds.lower[i][u]), float(bounds.upper[i][u])
                if math.isfinite(lo):
                    out.append(p >= _q(lo))
                if math.isfinite(hi):
                    out.append(p <= _q(hi))
                if lo >= 0:
                    nxt.append((u, p))
                    continue
                a = self._fresh(f"a{i}_{u}{tag}")
                out += [a >= 0, a >= p, z3.If(p > 0, a == p, a == 0)]
                if math.isfinite(lo) and math.isfinite(hi):
                    # triangle relaxation: a <= hi (p - lo) / (hi - lo)
                    out.append(a * (_q(hi) - _q(lo)) <= _q(hi) * (p - _q(lo)))
                nxt.append((u, a))
            h = nxt
        return [t for _, t in h]


def _possible(net: _Net, z: list[Any], margin: np.ndarray, k: int) -> Any:
    """Z3: the float64 forward pass may answer class ``k`` (exact logits ``z``, rounding within ``margin``)."""
    import z3

    if net.binary:
        d = _q(margin[0])
        return z[0] > -d if k == 1 else z[0] <= d
    parts = []
    for j in range(len(z)):
        if j == k:
            continue
        d = _q(_pair_margin(margin[k], margin[j]))
        parts.append(z[k] - z[j] > -d if j < k else z[k] - z[j] >= -d)
    return z3.And(parts)


def _certain(net: _Net, z: list[Any], rho: float, k: int) -> Any:
    """Z3: the exact logits answer class ``k`` by more than ``rho`` (robust to rounding)."""
    import z3

    r = _q(rho)
    if net.binary:
        return z[0] > r if k == 1 else z[0] < -r
    return z3.And([z[k] - z[j] > r for j in range(len(z)) if j != k])


def _violation(net: _Net, task: _Task, enc: Encoding, e2: Encoding | None, zx: list, zxp: list | None,
               pred: Any) -> Any:
    """Z3: the first input (and the second) show a violation, with ``pred(z, side, k)`` for "answers k"."""
    import z3

    K = len(net.classes)
    if task.kind == "implies":
        return z3.Or([pred(zx, 0, k) for k in range(K) if k != task.target])
    if task.kind == "monotone":
        f = task.vary[0]
        x, xp = enc.value[f], e2.value[f]
        step = xp >= x if task.direction == "increasing" else xp <= x
        c = task.target
        return z3.And(z3.Not(enc.is_missing(f)), z3.Not(e2.is_missing(f)), step, pred(zx, 0, c),
                      z3.Or([pred(zxp, 1, k) for k in range(K) if k != c]))
    return z3.Or([z3.And(pred(zx, 0, c), z3.Or([pred(zxp, 1, k) for k in range(K) if k != c])) for c in range(K)])


def _solve(net: _Net, task: _Task, Bx: Bounds, Bxp: Bounds | None, timeout_ms: int, deadline: float | None,
           *, robust: float | None = None) -> Any:
    """One exact Z3 query for a violation: possible within the float64 margin, or (``robust``) clear of the
    decision boundary by more than ``robust``."""
    import z3

    from ._checks import Solver

    enc = _ScaledEncoding(net.domain, net)
    zn = _Z3Net(net)
    cons: list = []
    zx = zn.logits(enc, Bx, cons)
    encs: list[Encoding] = [enc]
    e2 = zxp = None
    margins = [_margins(Bx)[0]]
    if task.pair:
        e2 = enc.variant(task.vary)
        cons += e2.domain_constraints(only_own=True)
        zxp = zn.logits(e2, Bxp, cons)
        encs.append(e2)
        margins.append(_margins(Bxp)[0])
    if robust is None:
        def pred(z: list, side: int, k: int) -> Any:
            return _possible(net, z, margins[side], k)
    else:
        def pred(z: list, side: int, k: int) -> Any:
            return _certain(net, z, robust, k)
    viol = _violation(net, task, enc, e2, zx, zxp, pred)
    region = task.region.z3(enc.cond) if task.region is not None else z3.BoolVal(True)
    solver = Solver(enc.domain_constraints() + cons, timeout_ms, deadline)
    return solver.check([region, viol], encs)


def _robust_margin(Bs: Sequence[Bounds]) -> float:
    """A margin past which a rational counterexample survives rounding its inputs to float64."""
    out = 1e-9
    for b in Bs:
        m, _ = _margins(b)
        lo, hi = b.lower[-1], b.upper[-1]
        size = float(np.max(np.abs(np.concatenate([lo, hi])[np.isfinite(np.concatenate([lo, hi]))]), initial=0.0))
        out = max(out, 4.0 * float(np.max(m, initial=0.0)), 1e-9 * (1.0 + size))
    return out


# -- one check, start to end ------------------------------------------------------------------------


def _run(net: _Net, task: _Task, rng: np.random.Generator, *, n_samples: int, timeout_ms: int,
         deadline: float | None, refine: bool, where: str) -> Finding:
    t0 = time.perf_counter()
    stages: dict[str, float] = {}
    details: dict[str, Any] = {"kind": "agreement" if task.rule else task.kind, "neurons": list(net.hidden)}

    def finding(status: str, message: str, method: str, cex: dict | None = None, **extra: Any) -> Finding:
        details.update(extra)
        details["method"] = method
        details["stage_seconds"] = {k: round(v, 6) for k, v in stages.items()}
        return Finding("property", status, message, rules=(task.rule,) if task.rule else (), counterexample=cex,
                       seconds=time.perf_counter() - t0, property=task.text, details=details)

    def violated(found: dict, method: str) -> Finding:
        rows = found["rows"]
        frame = pd.concat([frame_from_rows([r], net.domain) for r in rows], ignore_index=True)
        preds = list(net.predict(frame))
        cex = rows[0] if len(rows) == 1 else {"x": rows[0], "x_prime": rows[1]}
        return finding("violated", f"'{task.text}' fails on the counterexample (prediction"
                       f"{'s' if len(rows) > 1 else ''}: {', '.join(map(repr, preds))}; found by {method}, "
                       f"confirmed by predict).", method, cex, predictions=preds)

    if deadline is not None and time.time() > deadline:
        return finding("unknown", f"'{task.text}' is undecided: {_BUDGET}.", "none", reason=_BUDGET)
    bx, bxp = _boxes(net.domain, task)
    if _box_empty(bx) or (bxp is not None and _box_empty(bxp)):
        return finding("proved", f"'{task.text}' holds: no input of the {where} meets its conditions.", "bounds")

    # 1. search
    search = _Search(net, task, bx, bxp, rng)
    s0 = time.perf_counter()
    if n_samples > 0:
        found, method = search.run(n_samples, deadline=deadline)
        stages["search"] = time.perf_counter() - s0
        details["evaluated"] = search.evaluated
        if found is not None:
            return violated(found, method)

    # 2. bounds
    s0 = time.perf_counter()
    Bx = _bounds(net, bx)
    Bxp = _bounds(net, bxp) if bxp is not None else None
    refine = refine and not _settled(task, _possible_classes(net, Bx),
                                     _possible_classes(net, Bxp) if Bxp is not None else None)
    if refine:
        Bx = _refine(net, bx, Bx, deadline=deadline)
        if Bxp is not None:
            Bxp = _refine(net, bxp, Bxp, deadline=deadline)
    stages["bounds"] = time.perf_counter() - s0
    finite = _margins(Bx)[1] and (Bxp is None or _margins(Bxp)[1])
    margin = float(max(np.max(Bx.float_margin), np.max(Bxp.float_margin) if Bxp is not None else 0.0))
    details["unstable"] = Bx.unstable() if Bxp is None else [Bx.unstable(), Bxp.unstable()]
    details["float_margin"] = margin if finite else None
    details["float64_sound"] = finite
    how = (f"float64 rounding of predict covered (margin {margin:.1e})" if finite
           else "over exact arithmetic only: the Domain is unbounded, so float64 rounding is not bounded")
    if _settled(task, _possible_classes(net, Bx), _possible_classes(net, Bxp) if Bxp is not None else None):
        return finding("proved", f"'{task.text}' holds on every input of the {where} (proved by "
                       f"{'LP-tightened ' if refine else ''}interval bounds; {how}).", "bounds")

    def near(rows: Sequence[dict], local: bool = True) -> dict | None:
        s0 = time.perf_counter()
        found = _confirm_rows(search, rows, local)
        stages["search"] = stages.get("search", 0.0) + time.perf_counter() - s0
        return found

    # 3-4. branch and bound over the LP relaxation, then Z3: first with the float64 margin (a proof then
    # covers predict's rounding), then, if the only candidates lie within that margin of a decision
    # boundary and none reproduces, in exact arithmetic (a proof then says so).
    modes = [("float", Bx, Bxp)] if finite else []
    modes.append(("exact", _exact(Bx), _exact(Bxp)))
    spurious = ""
    for mode, Bm, Bmp in modes:
        if mode == "exact":
            details["float64_sound"] = False
            how = (f"over exact arithmetic: float64 rounding of predict may decide inputs within "
                   f"{margin:.1e} of a decision boundary" if finite else how)
        if refine:
            s0 = time.perf_counter()
            status, found, nodes = _bab(net, task, bx, bxp, Bm, Bmp, near, timeout_ms / 1000.0, deadline)
            stages["branch_and_bound"] = stages.get("branch_and_bound", 0.0) + time.perf_counter() - s0
            details["nodes"] = details.get("nodes", 0) + nodes
            if status == "proved":
                return finding("proved", f"'{task.text}' holds on every input of the {where} (proved by branch "
                               f"and bound over {nodes} LP relaxation(s) with rigorous dual bounds; {how}).",
                               "branch_and_bound")
            if status == "violated":
                return violated(found, "branch_and_bound")
            # "tight" (an LP point of the network that does not reproduce) still goes to Z3: the LP leaves
            # out one-hot groups, linear constraints, integrality and the region's disjunctions, so that
            # point may not be an input at all, and Z3 in this mode may yet prove the float64-sound result.
        s0 = time.perf_counter()
        out = _solve(net, task, Bm, Bmp, timeout_ms, deadline)
        stages["z3"] = stages.get("z3", 0.0) + time.perf_counter() - s0
        if out.status == "unsat":
            return finding("proved", f"'{task.text}' holds on every input of the {where} (proved by Z3; {how}).",
                           "z3")
        if out.status == "unknown":
            return finding("unknown", f"'{task.text}' is undecided: {out.reason}.", "z3", reason=out.reason)
        found = near(out.rows)
        if found is not None:
            return violated(found, "z3")
        spurious = "z3"
    # Exact counterexamples exist but none reproduces in float64: ask for one clear of the boundary.
    s0 = time.perf_counter()
    out = _solve(net, task, modes[-1][1], modes[-1][2], timeout_ms, deadline,
                 robust=_robust_margin([b for b in (Bx, Bxp) if b is not None]))
    stages["z3"] = stages.get("z3", 0.0) + time.perf_counter() - s0
    if out.status == "sat":
        found = near(out.rows)
        if found is not None:
            return violated(found, "z3")
    reason = ("the only counterexamples lie on a decision boundary (within float64 rounding) and none reproduces "
              "with predict" if out.status != "unknown" else out.reason)
    return finding("unknown", f"'{task.text}' is undecided: {reason}.", spurious or "z3", reason=reason)


def _exact(b: Bounds | None) -> Bounds | None:
    """The same bounds with a zero float64 margin: queries over exact arithmetic."""
    if b is None:
        return None
    return Bounds(b.lower, b.upper, [np.zeros_like(e) for e in b.error], b.empty, b.refined)


# -- entry point ------------------------------------------------------------------------------------


def verify_network(
    student: Any,
    properties: Iterable[Property | str] = (),
    *,
    rules: Any = None,
    domain: Domain | None = None,
    region: Any = None,
    timeout_ms: int = 10_000,
    time_budget_s: float | None = None,
    n_samples: int = 2_000,
    random_state: Any = 0,
) -> VerificationReport:
    """Prove or refute properties of a neural student, and its agreement with rules.

    Each check is first searched for a counterexample (sampling in the
    region, then projected signed-gradient steps on the network's margin);
    if none is found, it is proved with sound interval bounds (tightened by
    linear programming), then by branch and bound over the LP relaxation,
    then by Z3 over the exact network with the tightened bounds. A proof
    covers the float64 rounding of ``predict`` where the Domain is bounded,
    or says that it is over exact arithmetic. See ``docs/verification.md``,
    "Verifying a neural student".

    Parameters
    ----------
    student : DistilledMLPClassifier
        A fitted neural student.
    properties : iterable of Property or str
        :class:`Implies`, :class:`Monotone`, :class:`Invariant` or their
        strings. The region restricts the first input ``x``; the second input
        of a two-input property differs from ``x`` only on its feature(s),
        anywhere in the Domain.
    rules : RuleSet or fitted rule student, optional
        One check per rule: on every input of the region where the rule's
        conditions hold, the student answers the rule's class (an
        :class:`Implies`, reported with the rule's id).
    domain : Domain, optional
        The legal inputs; default ``student.domain_`` (same features and
        levels as the student's encoding).
    region : Condition, sequence of Condition, Rule or str, optional
        A conjunction (or any condition in the property grammar) restricting
        the inputs of every check.
    timeout_ms : int, default=10000
        Time limit of the branch and bound and of each Z3 query, per check; a
        check whose limits run out is ``unknown``.
    time_budget_s : float, optional
        Overall limit; what is left when it is spent is ``unknown``.
    n_samples : int, default=2000
        Random inputs drawn per check before the gradient steps (0: no search).
    random_state : int, Generator or None, default=0
        Seeds the search.

    Returns
    -------
    VerificationReport
        One ``property`` finding per check: ``proved``, ``violated`` (with a
        counterexample that ``student.predict`` confirms) or ``unknown``;
        ``details`` holds the method, the seconds per stage, the unstable
        neurons per layer and the float64 rounding margin of the proof.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from rulekd import DistilledMLPClassifier
    >>> X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    >>> m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3), hidden_layer_sizes=(8,),
    ...                            n_synthetic=300, max_epochs=5, random_state=0).fit(X, y)
    >>> report = verify_network(m, ["if x0 > 100 then 1",  # nothing in the Domain has x0 > 100
    ...                             "if x0 >= -10 then 1"])
    >>> [f.status for f in report.findings]
    ['proved', 'violated']
    >>> cex = report.findings[1].counterexample
    >>> int(m.predict(pd.DataFrame([cex]).to_numpy())[0])  # predict confirms it
    0
    """
    return _verify_network(student, properties, rules=rules, domain=domain, region=region, timeout_ms=timeout_ms,
                           time_budget_s=time_budget_s, n_samples=n_samples, random_state=random_state,
                           stacklevel=3)


def _verify_network(student: Any, properties: Iterable[Property | str] = (), *, rules: Any = None,
                    domain: Domain | None = None, region: Any = None, timeout_ms: int = 10_000,
                    time_budget_s: float | None = None, n_samples: int = 2_000, random_state: Any = 0,
                    lp: bool = True, stacklevel: int = 2) -> VerificationReport:
    """:func:`verify_network`; ``lp=False`` leaves out the LP tightening and branch and bound (Z3 decides
    what search and interval bounds do not: the tests use it to check the Z3 encoding)."""
    t_start = time.perf_counter()
    net, domain = _net(student, domain)
    check_timeout_ms(timeout_ms)
    check_time_budget(time_budget_s)
    if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool) or n_samples < 0:
        raise ValueError(f"n_samples must be an integer >= 0, got {n_samples!r}.")
    base = _as_region(region)
    if base is not None:
        Implies(base, then=net.classes[0]).validate(domain, net.classes)  # names and levels
    tasks = _tasks(net, domain, properties, rules, base)
    if isinstance(random_state, np.random.RandomState):
        random_state = int(random_state.randint(2**31 - 1))
    rng = np.random.default_rng(random_state)
    deadline = None if time_budget_s is None else time.time() + float(time_budget_s)
    where = "region" if base is not None else "Domain"
    findings = [_run(net, t, rng, n_samples=int(n_samples), timeout_ms=int(timeout_ms), deadline=deadline,
                     refine=lp, where=("rule's region" if t.rule and base is None else where)) for t in tasks]
    unknown = [f for f in findings if f.status == "unknown"]
    if unknown:
        reasons = sorted({str(f.details.get("reason", "")) for f in unknown})
        warnings.warn(f"{len(unknown)} finding(s) are unknown ({'; '.join(r for r in reasons if r)[:300]}); nothing "
                      f"was claimed for them. Raise timeout_ms or time_budget_s to decide them.",
                      SolverTimeoutWarning, stacklevel=stacklevel)
    target = {
        "source": type(student).__name__,
        "hidden_layer_sizes": list(net.hidden),
        "inputs": net.n_in,
        "classes": list(net.classes),
        "domain_features": len(domain),
        "region": base.text() if base is not None else None,
    }
    if rules is not None:
        target["rules"] = sum(t.rule is not None for t in tasks)
    return VerificationReport(tuple(findings), ("property",) if findings else (), {},
                              time.perf_counter() - t_start, target)
