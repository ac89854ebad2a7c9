"""A small axis-aligned decision tree that can be refined by alternating optimisation.

Greedy CART chooses each split once, looking one level ahead. Tree
Alternating Optimisation (TAO; Carreira-Perpiñán and Tavallali, NeurIPS 2018)
keeps the structure and revisits every split: for the rows reaching a node, it
asks which child's subtree would classify each row correctly, and refits the
node's split (a weighted 0/1-loss stump, exact for numeric thresholds, for
level sets of categorical features and for the side of missing values) to send
rows where they are answered right. Leaves take the majority label of their
rows. Each step cannot increase the training error; passes repeat until none
improves. Subtrees that no row reaches any more are pruned.

Features are columns of an encoded float matrix: numeric values (NaN for
missing) and categorical features as integer codes (NaN for missing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..rules._ir import Condition, merge_conjunction

__all__ = ["Tree"]


def _set_test(name: str, chosen: frozenset, every: frozenset, missing: bool) -> Condition:
    """``name in chosen`` (or missing), said as a missingness test where it is one."""
    if not chosen and missing:
        return Condition(name, "is missing")
    if chosen == every and not missing:
        return Condition(name, "is not missing")
    return Condition(name, "in", chosen, missing)


def choose_threshold(cuts: np.ndarray | None, a: float, b: float) -> float:
    """A threshold in ``[a, b)``: ``x <= t`` splits values ``<= a`` from values ``>= b``.

    Any value in that interval is as good on the rows seen. A teacher cut point
    in it (``cuts``, sorted) is preferred, the one nearest the midpoint: the
    teacher's answer changes there, so the rule's boundary falls where the
    teacher's does. Otherwise the shortest decimal (:func:`nice_threshold`).
    """
    if cuts is not None and cuts.size:
        lo, hi = np.searchsorted(cuts, a, "left"), np.searchsorted(cuts, b, "left")
        if hi > lo:
            inside = cuts[lo:hi]
            return float(inside[np.argmin(np.abs(inside - (a + (b - a) / 2)))])
    return nice_threshold(a, b)


def nice_threshold(a: float, b: float) -> float:
    """A short decimal ``t`` with ``a <= t < b`` (``a < b``), for readable rules.

    ``x <= t`` then separates ``a`` from ``b`` exactly as the midpoint would.

    >>> nice_threshold(14.0, 15.0)  # integer data: "x <= 14"
    14.0
    >>> nice_threshold(2191.0, 2209.0)
    2200.0
    >>> nice_threshold(0.03124, 0.0345)
    0.033
    """
    mid = a + (b - a) / 2.0
    if mid == 0.0 or not math.isfinite(mid):
        return mid if a <= mid < b else a
    e = int(math.floor(math.log10(abs(mid))))
    for digits in range(1, 18):
        cand = round(mid, digits - 1 - e)
        if a <= cand < b:
            return float(cand)
    return a


@dataclass
class Tree:
    """Binary tree over encoded features; node 0 is the root.

    Attributes are parallel lists indexed by node id; ``feature[i] == -1``
    marks a leaf. ``left_set[i]`` is the boolean mask over category codes that
    go left (categorical splits) or None (numeric: ``x <= threshold[i]``).
    """

    n_classes: int
    categorical: dict[int, int]  # feature index -> number of levels
    cuts: dict[int, np.ndarray] = field(default_factory=dict)  # preferred thresholds per feature
    feature: list[int] = field(default_factory=list)
    threshold: list[float] = field(default_factory=list)
    left_set: list[Any] = field(default_factory=list)
    missing_left: list[bool] = field(default_factory=list)
    left: list[int] = field(default_factory=list)
    right: list[int] = field(default_factory=list)
    label: list[int] = field(default_factory=list)

    # -- construction --------------------------------------------------------
    def _add(self) -> int:
        for lst, v in ((self.feature, -1), (self.threshold, 0.0), (self.left_set, None), (self.missing_left, False),
                       (self.left, -1), (self.right, -1), (self.label, 0)):
            lst.append(v)
        return len(self.feature) - 1

    @classmethod
    def from_sklearn(cls, tree: Any, n_classes: int, categorical: dict[int, int],
                     cuts: dict[int, np.ndarray] | None = None) -> "Tree":
        """Copy a fitted scikit-learn tree (fitted on the same encoding)."""
        t = tree.tree_
        out = cls(n_classes=n_classes, categorical=dict(categorical), cuts=dict(cuts or {}))
        miss_left = getattr(t, "missing_go_to_left", np.zeros(t.node_count, dtype=bool))

        def copy(node: int) -> int:
            i = out._add()
            if t.children_left[node] == -1:
                v = t.value[node].ravel()
                out.label[i] = int(np.argmax(v)) if v.size == n_classes else 0
                return i
            f = int(t.feature[node])
            thr = float(t.threshold[node])
            out.feature[i] = f
            out.missing_left[i] = bool(miss_left[node])
            if f in out.categorical:
                codes = np.arange(out.categorical[f], dtype=np.float64)
                out.left_set[i] = codes.astype(np.float32) <= thr
            else:
                # CART tests float32(x) <= thr; keep an exact float64 equivalent.
                from ..rules._floats import float32_le_bound

                out.threshold[i] = float32_le_bound(thr)
            li = copy(int(t.children_left[node]))
            ri = copy(int(t.children_right[node]))
            out.left[i], out.right[i] = li, ri
            return i

        copy(0)
        return out

    # -- evaluation ------------------------------------------------------------
    def is_leaf(self, i: int) -> bool:
        return self.feature[i] == -1

    def go_left(self, i: int, Xe: np.ndarray) -> np.ndarray:
        x = Xe[:, self.feature[i]]
        miss = np.isnan(x)
        if self.left_set[i] is not None:
            codes = np.where(miss, 0, x).astype(np.intp)
            out = self.left_set[i][codes]
        else:
            with np.errstate(invalid="ignore"):
                out = x <= self.threshold[i]
        if miss.any():
            out = np.where(miss, self.missing_left[i], out)
        return out

    def route(self, Xe: np.ndarray, start: int = 0) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """Leaf reached by each row from node ``start``, and the rows through each node."""
        n = Xe.shape[0]
        leaf = np.full(n, start, dtype=np.intp)
        through: dict[int, np.ndarray] = {}
        stack = [(start, np.arange(n))]
        while stack:
            i, rows = stack.pop()
            through[i] = rows
            if self.is_leaf(i):
                leaf[rows] = i
                continue
            gl = self.go_left(i, Xe[rows]) if rows.size else np.zeros(0, dtype=bool)
            stack.append((self.left[i], rows[gl]))
            stack.append((self.right[i], rows[~gl]))
        return leaf, through

    def predict_index(self, Xe: np.ndarray, start: int = 0) -> np.ndarray:
        leaf, _ = self.route(Xe, start)
        return np.asarray(self.label, dtype=np.intp)[leaf]

    def nodes_bfs(self) -> list[int]:
        order, queue = [], [0]
        while queue:
            i = queue.pop(0)
            order.append(i)
            if not self.is_leaf(i):
                queue += [self.left[i], self.right[i]]
        return order

    def n_leaves(self) -> int:
        return sum(1 for i in self.nodes_bfs() if self.is_leaf(i))

    # -- TAO ---------------------------------------------------------------------
    def relabel(self, Xe: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Each reached leaf takes the weighted majority label of its rows."""
        leaf, _ = self.route(Xe)
        votes = np.zeros((len(self.feature), self.n_classes))
        np.add.at(votes, (leaf, y), w)
        for i in np.unique(leaf):
            self.label[i] = int(np.argmax(votes[i]))

    def refine(self, Xe: np.ndarray, y: np.ndarray, w: np.ndarray, *, max_passes: int = 8) -> int:
        """TAO passes until no split improves; returns the number of splits changed."""
        changed_total = 0
        for _ in range(max_passes):
            self.relabel(Xe, y, w)
            _, through = self.route(Xe)
            changed = 0
            for i in reversed(self.nodes_bfs()):
                if self.is_leaf(i):
                    continue
                rows = through.get(i)
                if rows is None or rows.size == 0:
                    continue
                changed += self._refit_node(i, Xe[rows], y[rows], w[rows])
            changed_total += changed
            if changed == 0:
                break
        self.relabel(Xe, y, w)
        self.prune_unreached(Xe)
        return changed_total

    def _refit_node(self, i: int, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> int:
        ok_l = self.predict_index(X, self.left[i]) == y
        ok_r = self.predict_index(X, self.right[i]) == y
        care = ok_l != ok_r
        if not care.any():
            return 0
        Xc, want_left, wc = X[care], ok_l[care], w[care]
        current = float(np.sum(wc[self.go_left(i, Xc) != want_left]))
        best = (current - 1e-9 * max(1.0, current), None)
        for f in range(X.shape[1]):
            cand = self._best_split(f, Xc[:, f], want_left, wc)
            if cand is not None and cand[0] < best[0]:
                best = cand
        if best[1] is None:
            return 0
        _, (f, thr, lset, mleft) = best
        self.feature[i], self.threshold[i], self.left_set[i], self.missing_left[i] = f, thr, lset, mleft
        return 1

    def _best_split(self, f: int, x: np.ndarray, want_left: np.ndarray, w: np.ndarray):
        miss = np.isnan(x)
        wl_miss = float(w[miss & want_left].sum())
        wr_miss = float(w[miss & ~want_left].sum())
        miss_err, miss_left = (wr_miss, True) if wr_miss <= wl_miss else (wl_miss, False)
        xs, wants, ws = x[~miss], want_left[~miss], w[~miss]
        # Every present value one way and the missing values the other: a split the node can make (and the
        # best one where missingness is what matters), scored beside the splits of the present values.
        present_l, present_r = float(ws[wants].sum()), float(ws[~wants].sum())
        one_way = []
        if miss.any():
            one_way = [(present_r + wl_miss, True), (present_l + wr_miss, False)]  # (error, present go left)
        if f in self.categorical:
            k = self.categorical[f]
            codes = xs.astype(np.intp)
            wl = np.bincount(codes[wants], weights=ws[wants], minlength=k)
            wr = np.bincount(codes[~wants], weights=ws[~wants], minlength=k)
            lset = wl > wr
            cands = []
            if lset.all() or not lset.any():
                # Majorities all one way: the best split of the levels moves the level that costs least
                # (one with rows; a level no row holds would split nothing).
                held = np.flatnonzero(wl + wr > 0)
                if held.size >= 2:
                    cost = np.abs(wl - wr)[held]
                    flip = held[int(np.argmin(cost))]
                    lset = lset.copy()
                    lset[flip] = not lset[flip]
                    cands.append((float(np.minimum(wl, wr).sum() + cost.min()) + miss_err, lset, miss_left))
            else:
                cands.append((float(np.minimum(wl, wr).sum()) + miss_err, lset, miss_left))
            cands += [(err, np.full(k, left), not left) for err, left in one_way]
            if not cands:
                return None
            err, lset, mleft = min(cands, key=lambda c: c[0])
            return err, (f, 0.0, lset, mleft)
        cands = [(err, (f, math.inf if left else -math.inf, None, not left)) for err, left in one_way]
        if xs.size >= 2:
            order = np.argsort(xs, kind="stable")
            xs, wants, ws = xs[order], wants[order], ws[order]
            wl_cum = np.cumsum(np.where(wants, ws, 0.0))
            wr_cum = np.cumsum(np.where(wants, 0.0, ws))
            total_l = wl_cum[-1]
            # Cut after position k (rows 0..k go left); only between distinct values.
            valid = xs[:-1] < xs[1:]
            if valid.any():
                err = wr_cum[:-1] + (total_l - wl_cum[:-1])
                err = np.where(valid, err, np.inf)
                k = int(np.argmin(err))
                thr = self.choose_threshold(f, float(xs[k]), float(xs[k + 1]))
                cands.insert(0, (float(err[k]) + miss_err, (f, thr, None, miss_left)))
        return min(cands, key=lambda c: c[0]) if cands else None

    def choose_threshold(self, f: int, a: float, b: float) -> float:
        """A threshold in ``[a, b)``: splits values ``<= a`` from values ``>= b``.

        Any value in that interval is as good on the rows seen. A cut point of
        the teacher's own (``self.cuts``) in it is preferred, the one nearest
        the midpoint: the teacher's answer changes there, so the rule's
        boundary falls where the teacher's does. Otherwise the shortest decimal.
        """
        return choose_threshold(self.cuts.get(f), a, b)

    def snap_thresholds(self, Xe: np.ndarray) -> None:
        """Move numeric thresholds to :meth:`choose_threshold` values (same split of the rows)."""
        _, through = self.route(Xe)
        for i in self.nodes_bfs():
            if self.is_leaf(i) or self.left_set[i] is not None:
                continue
            rows = through.get(i)
            if rows is None or rows.size == 0:
                continue
            x = Xe[rows, self.feature[i]]
            x = x[~np.isnan(x)]
            t = self.threshold[i]
            below, above = x[x <= t], x[x > t]
            if below.size and above.size:
                self.threshold[i] = self.choose_threshold(self.feature[i], float(below.max()), float(above.min()))

    def prune_unreached(self, Xe: np.ndarray) -> None:
        """Replace a split that sends no row to one side by its other child."""
        _, through = self.route(Xe)

        def fix(i: int) -> int:
            if self.is_leaf(i):
                return i
            li, ri = self.left[i], self.right[i]
            nl = through.get(li, np.zeros(0)).size
            nr = through.get(ri, np.zeros(0)).size
            if nl == 0 and nr > 0:
                return fix(ri)
            if nr == 0 and nl > 0:
                return fix(li)
            self.left[i], self.right[i] = fix(li), fix(ri)
            return i

        root = fix(0)
        if root != 0:
            self._copy_node(root, 0)

    def _copy_node(self, src: int, dst: int) -> None:
        for lst in (self.feature, self.threshold, self.left_set, self.missing_left, self.left, self.right, self.label):
            lst[dst] = lst[src]

    # -- read-out ------------------------------------------------------------------
    def collapse_same_label(self) -> None:
        """Merge every subtree whose leaves all carry one label into a leaf."""

        def visit(i: int) -> int:
            if self.is_leaf(i):
                return self.label[i]
            a, b = visit(self.left[i]), visit(self.right[i])
            if a == b and a >= 0:
                self.feature[i] = -1
                self.label[i] = a
                return a
            return -1

        visit(0)

    def leaf_paths(self, names: Sequence[str], levels: dict[int, Sequence[Any]]) -> list[tuple[int, tuple]]:
        """``(leaf, conditions)`` for every leaf, conditions in the rule IR."""
        out = []

        def walk(i: int, path: list[Condition]) -> None:
            if self.is_leaf(i):
                out.append((i, merge_conjunction(path)))
                return
            f, name, ml = self.feature[i], names[self.feature[i]], self.missing_left[i]
            if self.left_set[i] is not None:
                lv = levels[f]
                lset = frozenset(v for k, v in enumerate(lv) if self.left_set[i][k])
                walk(self.left[i], path + [_set_test(name, lset, frozenset(lv), ml)])
                walk(self.right[i], path + [_set_test(name, frozenset(lv) - lset, frozenset(lv), not ml)])
            elif math.isinf(self.threshold[i]):  # present values one way, missing the other (_best_split)
                present, missing = Condition(name, "is not missing"), Condition(name, "is missing")
                left_present = self.threshold[i] > 0
                walk(self.left[i], path + [present if left_present else missing])
                walk(self.right[i], path + [missing if left_present else present])
            else:
                walk(self.left[i], path + [Condition(name, "<=", self.threshold[i], ml)])
                walk(self.right[i], path + [Condition(name, ">", self.threshold[i], not ml)])

        walk(0, [])
        return out
