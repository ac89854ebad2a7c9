"""Exact re-optimisation of a two-class rule set's bounds, one feature at a time.

A binary rule set is a disjunction: a row gets the non-default class when any
rule covers it. Its agreement with the teacher on the transfer rows is

    const + sum of s over the covered rows,   s = w * (+1 if the teacher says
                                                   the rule class, else -1).

Fix every rule but one, and every condition of that rule but those on one
feature ``f``. The rows that the other rules leave uncovered and the rule's
other conditions let through are the only ones the constraint on ``f``
decides; summing ``s`` over them per bin of ``f`` gives each bin's worth. The
best constraint is then found exactly: for a numeric feature the contiguous
run of bins with the largest sum (a maximum-subarray scan), for a categorical
feature every level whose sum is positive, and in both the missing values
when their sum is positive. One exception: where no run of a numeric
feature's bins gains, the least costly run is kept rather than none, so that
the rule stays alive for its other features to narrow (emptying it there lost
rules a later step makes good). :func:`polish` repeats this over rules and
features until nothing gains; each step cannot lower the agreement. At the
end a rule is dropped when it covers no row, or when the rows it alone
covers hold more disagreement than agreement.

Numeric bins are cut at the teacher's own thresholds (the teacher's answer
only changes there), or, for a teacher without any, at up to 64 quantiles. A
feature a tree teacher never splits on is not constrained anew. Bounds are
written with :func:`~rulekd.students._tao.choose_threshold`, so each new
condition splits the transfer rows exactly as the bins did.

:func:`prune` removes rules one at a time (the one whose loss is smallest),
polishing after each removal: from a wider rule set it often ends better than
cutting the budget first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..rules._ir import Condition
from ._tao import choose_threshold

__all__ = ["Bins", "polish", "prune"]

# Numeric bins for a teacher without split thresholds.
_QUANTILE_BINS = 64
# Passes over every rule and feature; each pass that changes nothing ends the search.
_MAX_PASSES = 6
# A change that adds conditions must gain this many rows (of median weight) per condition
# added: without it, polishing on small data sets grows long rules that fit the synthetic
# rows better and the real ones worse (German credit, 5 folds: median fidelity -1 point).
_CONDITION_ROWS = 5.0


class Bins:
    """Every feature of the transfer rows as bin codes (missing: the last code).

    ``student`` supplies the Domain, the categorical level orders and the
    teacher's cut points (``_cuts_``, by feature index).
    """

    def __init__(self, student: Any, X: pd.DataFrame):
        self.names = list(student.domain_.names)
        self.X = X
        self.codes: list[np.ndarray | None] = []  # None: feature not re-optimised
        self.n_bins: list[int] = []  # bins before the missing one
        self.levels: list[list | None] = []  # categorical: level per bin
        self.cuts: list[np.ndarray | None] = []
        self.lo_val: list[np.ndarray | None] = []  # numeric: smallest, largest value per bin
        self.hi_val: list[np.ndarray | None] = []
        self.has_missing: list[bool] = []
        teacher_cuts = student._cuts_
        for j, spec in enumerate(student.domain_.features):
            col = X[spec.name]
            if spec.kind == "categorical":
                order = list(student._cat_orders_[spec.name])
                codes = pd.Categorical(col, categories=order).codes.astype(np.intp)
                codes[codes < 0] = len(order)
                self._add(codes, len(order), order, None, None, None)
                continue
            x = np.asarray(col, dtype=np.float64)
            cuts = teacher_cuts.get(j)
            if cuts is None and teacher_cuts:  # a tree teacher that never splits on it
                self._add(None, 0, None, None, None, None)
                continue
            if cuts is None:
                v = np.unique(x[~np.isnan(x)])
                if len(v) > _QUANTILE_BINS + 1:
                    v = np.unique(np.quantile(v, np.linspace(0, 1, _QUANTILE_BINS + 1)))
                cuts = (v[:-1] + v[1:]) / 2
            cuts = np.unique(np.asarray(cuts, dtype=np.float64))
            B = len(cuts) + 1
            codes = np.searchsorted(cuts, x, side="right")
            nan = np.isnan(x)
            codes[nan] = B
            lo = np.full(B, np.inf)
            hi = np.full(B, -np.inf)
            np.minimum.at(lo, codes[~nan], x[~nan])
            np.maximum.at(hi, codes[~nan], x[~nan])
            self._add(codes, B, None, teacher_cuts.get(j), lo, hi)

    def _add(self, codes, n, levels, cuts, lo, hi) -> None:
        self.has_missing.append(codes is not None and bool((codes == n).any()))
        self.codes.append(codes)
        self.n_bins.append(n)
        self.levels.append(levels)
        self.cuts.append(cuts)
        self.lo_val.append(lo)
        self.hi_val.append(hi)

    def best(self, j: int, s: np.ndarray, rows: np.ndarray, current: np.ndarray) -> tuple[float, np.ndarray]:
        """The constraint on feature ``j`` with the largest sum of ``s`` over ``rows``.

        Returns its value and the allowed bins (missing last). ``current`` (the
        bins the rule allows now) decides bins no row of ``rows`` falls in.
        """
        B = self.n_bins[j]
        S = np.bincount(self.codes[j][rows], weights=s[rows], minlength=B + 1)
        seen = np.bincount(self.codes[j][rows], minlength=B + 1) > 0
        allowed = np.zeros(B + 1, dtype=bool)
        if self.levels[j] is not None:
            allowed[:B] = np.where(seen[:B], S[:B] > 0, current[:B])
        else:
            seen_bins = np.flatnonzero(seen[:B])  # the run starts and ends where rows are
            if len(seen_bins):
                value, a, b = _max_run(S[seen_bins])
                # Where no run gains, the least costly one is kept all the same: the rule stays alive for
                # the other features to narrow (emptying it here lost the rule a later step makes good);
                # a rule that still costs more than it gains when the search ends is dropped (_ascend).
                if value > 0 or not S[B] > 0:
                    allowed[seen_bins[a]:seen_bins[b] + 1] = True
        allowed[B] = S[B] > 0 if seen[B] else current[B]
        return float(S[allowed].sum()), allowed

    def allowed_by(self, j: int, conds: list[Condition]) -> np.ndarray:
        """The bins of feature ``j`` that ``conds`` let through: every level (categorical), and
        the missing value (numeric; the run is found anew, so only that bin is needed)."""
        B = self.n_bins[j]
        levels = self.levels[j] if self.levels[j] is not None else []
        probe = pd.Series(pd.Categorical(levels + [np.nan], categories=levels)) if levels else pd.Series([np.nan])
        got = np.ones(len(probe), dtype=bool)
        for c in conds:
            got &= np.asarray(c.evaluate(probe), dtype=bool)
        if levels:
            return got
        m = np.zeros(B + 1, dtype=bool)
        m[B] = got[0]
        return m

    def conditions(self, j: int, allowed: np.ndarray) -> list[Condition] | None:
        """Conditions on feature ``j`` that let through exactly the rows of the ``allowed`` bins; ``None``
        when no bin is (no condition lets nothing through: the rule is dead, and the search drops it)."""
        name, B = self.names[j], self.n_bins[j]
        never_missing = not self.has_missing[j]  # then the missing side is not written
        missing = bool(allowed[B]) and not never_missing
        inside = allowed[:B]
        if not inside.any() and not missing:
            return None
        if self.levels[j] is not None:
            if inside.all():
                return [] if missing or never_missing else [Condition(name, "is not missing")]
            if not inside.any():
                return [Condition(name, "is missing")]
            levels = frozenset(self.levels[j][k] for k in np.flatnonzero(inside))
            return [Condition(name, "in", levels, missing)]
        idx = np.flatnonzero(inside)
        if not len(idx):
            return [Condition(name, "is missing")]
        lo, hi = int(idx[0]), int(idx[-1])
        lo_val, hi_val = self.lo_val[j], self.hi_val[j]  # empty bins hold +inf / -inf
        lower = upper = None
        if lo > 0 and np.isfinite(hi_val[:lo].max()):  # some row lies below the run: bound it
            lower = choose_threshold(self.cuts[j], float(hi_val[:lo].max()), float(lo_val[lo:].min()))
        if hi + 1 < B and np.isfinite(lo_val[hi + 1:].min()):  # some row lies above it
            upper = choose_threshold(self.cuts[j], float(hi_val[:hi + 1].max()), float(lo_val[hi + 1:].min()))
        out = []
        if lower is not None:
            out.append(Condition(name, ">", lower, missing))
        if upper is not None:
            out.append(Condition(name, "<=", upper, missing))
        if not out and not missing and not never_missing:
            out.append(Condition(name, "is not missing"))
        return out


def _max_run(S: np.ndarray) -> tuple[float, int, int]:
    """The non-empty contiguous run of ``S`` with the largest sum: ``(sum, first, last)``."""
    best, first, last = -np.inf, 0, 0
    run, start = 0.0, 0
    for i, v in enumerate(S.tolist()):
        if run <= 0:
            run, start = v, i
        else:
            run += v
        if run > best:
            best, first, last = run, start, i
    return best, first, last


class _State:
    """Rules as per-feature constraints with their row masks, and the coverage count."""

    def __init__(self, rules: list[list[Condition]], bins: Bins):
        self.bins = bins
        n = len(bins.X)
        index = {name: j for j, name in enumerate(bins.names)}
        self.rules: list[dict[int, tuple]] = []  # feature -> (conditions, row mask)
        for conds in rules:
            by_feature: dict[int, list] = {}
            for c in conds:
                by_feature.setdefault(index[c.feature], []).append(c)
            fm = {}
            for j, cs in by_feature.items():
                m = np.ones(n, dtype=bool)
                for c in cs:
                    m &= np.asarray(c.evaluate(bins.X[c.feature]), dtype=bool)
                fm[j] = (cs, m)
            self.rules.append(fm)
        self.M = np.column_stack([self.mask(i) for i in range(len(self.rules))]) if rules else np.zeros((n, 0), bool)
        self.count = self.M.sum(axis=1)

    def mask(self, i: int, skip: int | None = None) -> np.ndarray:
        m = np.ones(len(self.bins.X), dtype=bool)
        for j, (_, fm) in self.rules[i].items():
            if j != skip:
                m &= fm
        return m

    def set(self, i: int, j: int, allowed: np.ndarray) -> None:
        conds = self.bins.conditions(j, allowed)
        if conds is None:  # no bin allowed: the rule answers no row (dropped when the search ends)
            self.rules[i][j] = ([], np.zeros(len(self.bins.X), dtype=bool))
        elif conds:
            self.rules[i][j] = (conds, allowed[self.bins.codes[j]])
        else:
            self.rules[i].pop(j, None)
        new = self.mask(i)
        self.count += new.astype(self.count.dtype) - self.M[:, i]
        self.M[:, i] = new

    def length(self, i: int) -> int:
        """Conditions in rule ``i``."""
        return sum(len(conds) for conds, _ in self.rules[i].values())

    def remove(self, i: int) -> None:
        self.count -= self.M[:, i]
        self.M = np.delete(self.M, i, axis=1)
        del self.rules[i]

    def conditions(self) -> list[list[Condition]]:
        return [[c for j in sorted(fm) for c in fm[j][0]] for fm in self.rules]


def polish(rules: list[list[Condition]], bins: Bins, target: np.ndarray, w: np.ndarray,
           max_conditions: int | None = None) -> list[list[Condition]]:
    """Coordinate ascent on the rules' constraints, one (rule, feature) at a time (module docstring).

    Rules left covering no row are dropped. ``target``: the rows the teacher gives the rules' class; ``w``: row
    weights; ``max_conditions``: no change makes a rule longer than this (``None``: no limit).
    """
    st = _State(rules, bins)
    _ascend(st, target, w, max_conditions)
    return st.conditions()


def prune(rules: list[list[Condition]], budget: int, bins: Bins, target: np.ndarray,
          w: np.ndarray, max_conditions: int | None = None) -> list[list[Condition]]:
    """Polish, then drop the cheapest rule and polish again, until at most ``budget`` rules remain."""
    st = _State(rules, bins)
    _ascend(st, target, w, max_conditions)
    while len(st.rules) > budget:
        base = float(w[(st.count > 0) == target].sum())
        losses = [base - float(w[((st.count - st.M[:, i]) > 0) == target].sum()) for i in range(len(st.rules))]
        st.remove(int(np.argmin(losses)))
        _ascend(st, target, w, max_conditions)
    return st.conditions()


def _ascend(st: _State, target: np.ndarray, w: np.ndarray, max_conditions: int | None = None) -> None:
    """Best constraint per (rule, feature) in turn, kept when it gains more than half the median
    row weight (plus ``_CONDITION_ROWS`` per condition it adds) and leaves the rule at most
    ``max_conditions`` long; passes repeat until none changes anything."""
    bins = st.bins
    s = w * np.where(target, 1.0, -1.0)
    unit = float(np.median(w)) if len(w) else 0.0
    tol = 0.5 * unit
    for _ in range(_MAX_PASSES):
        changed = False
        for i in range(len(st.rules)):
            for j in range(len(bins.names)):
                if bins.codes[j] is None:
                    continue
                rows = (st.count - st.M[:, i] == 0) & st.mask(i, skip=j)
                conds, m = st.rules[i].get(j, ([], None))
                now = float(s[rows if m is None else rows & m].sum())
                value, allowed = bins.best(j, s, rows, bins.allowed_by(j, conds))
                written = bins.conditions(j, allowed)
                added = (0 if written is None else len(written)) - len(conds)
                if max_conditions is not None and added > 0 and st.length(i) + added > max_conditions:
                    continue
                extra = max(0, added) * _CONDITION_ROWS * unit
                if value > now + tol + extra:
                    st.set(i, j, allowed)
                    changed = True
        if not changed:
            break
    for i in reversed(range(len(st.rules))):
        # A rule the search emptied is dead; one whose own rows (no other rule answers them) hold more
        # disagreement than agreement costs more than it gains: drop both.
        own = st.M[:, i] & (st.count == 1)
        if not st.M[:, i].any() or float(s[own].sum()) < 0:
            st.remove(i)
