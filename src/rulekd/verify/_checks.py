"""The checks on one rule set: conflict, dead, gap, redundant condition and rule, equivalence.

Every check follows one discipline:

* a universal claim (no conflict, no gap, a rule is dead, a condition is
  redundant, two predictors agree) is made only when Z3 answered ``unsat`` for
  its negation, after the exact interval pre-filter (:mod:`._boxes`) removed
  the pairs of rules that cannot overlap;
* an existential claim (a conflict, a gap, a disagreement; a rule that can
  fire, a condition that matters) rests on a concrete input that the ordinary
  evaluation path (``RuleSet.match`` / ``predict``, the tree's ``predict``)
  confirms before it is reported; an input that does not reproduce turns the
  item ``unknown`` with a note, never ``violated`` or ``proved``;
* a solver timeout or a spent time budget is ``unknown``.

The work of each check is a list of independent items (rules, pairs,
conditions, regions) run by :func:`run_items`, in this process or in joblib
workers, each with its own Z3 context.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain
from ..rules._ir import Condition, RuleSet
from ._boxes import BoxSet, region_of, separable
from ._encode import Encoding, frame_from_rows
from ._models import Model, as_model, ruleset_model
from ._report import Finding

__all__ = ["Spec", "Context", "Solver", "Outcome", "run_items", "CHECK_ORDER"]

CHECK_ORDER = ("conflict", "dead", "gap", "redundant_condition", "redundant_rule", "equivalence")
BUDGET = "time budget spent"


# -- solver ---------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # "sat", "unsat", "unknown"
    rows: list | None = None
    reason: str = ""
    seconds: float = 0.0


class _Watchdog:
    """Interrupts the Z3 context while a check runs past its limit.

    Z3's own timer can be lost (a very short timer that fires before the solver
    is in a cancellable state), and then ``check`` runs on without limit. The
    watchdog interrupts again every 50 ms after the limit (plus a grace) until
    the check returns. One daemon thread per process, armed around each check.
    """

    def __init__(self) -> None:
        import threading

        self._cv = threading.Condition()
        self._deadline: float | None = None
        self._ctx: Any = None
        self._thread = threading.Thread(target=self._run, name="rulekd-z3-watchdog", daemon=True)
        self._thread.start()

    def arm(self, ctx: Any, seconds: float) -> None:
        with self._cv:
            self._ctx = ctx
            self._deadline = time.monotonic() + seconds
            self._cv.notify()

    def disarm(self) -> None:
        with self._cv:
            self._deadline = None
            self._ctx = None

    def _run(self) -> None:
        with self._cv:
            while True:
                if self._deadline is None:
                    self._cv.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cv.wait(remaining)
                    continue
                if self._ctx is not None:
                    self._ctx.interrupt()
                self._cv.wait(0.05)


_WATCHDOG: _Watchdog | None = None


def _watchdog() -> _Watchdog:
    global _WATCHDOG
    if _WATCHDOG is None:
        _WATCHDOG = _Watchdog()
    return _WATCHDOG


class Solver:
    """An incremental Z3 solver holding the Domain constraints, with timeouts and a deadline."""

    def __init__(self, base: Sequence[Any], timeout_ms: int, deadline: float | None) -> None:
        import z3

        self.z3 = z3
        self.s = z3.Solver()
        self.s.add(list(base))
        self.timeout_ms = int(timeout_ms)
        self.deadline = deadline
        self.calls = 0

    def check(self, formulas: Sequence[Any], encodings: Sequence[Encoding] = ()) -> Outcome:
        z3 = self.z3
        t0 = time.perf_counter()
        remaining = math.inf if self.deadline is None else self.deadline - time.time()
        if remaining <= 0:
            return Outcome("unknown", reason="time budget spent")
        self.s.push()
        try:
            self.s.add(list(formulas))
            for _ in range(16):
                ms = max(1, int(min(self.timeout_ms, remaining * 1000.0)))
                self.s.set("timeout", ms)
                dog = _watchdog()
                dog.arm(self.s.ctx, ms / 1000.0 + 0.05 + 0.1 * ms / 1000.0)
                try:
                    r = self.s.check()
                finally:
                    dog.disarm()
                self.calls += 1
                if r == z3.unsat:
                    return Outcome("unsat", seconds=time.perf_counter() - t0)
                if r == z3.unknown:
                    why = self.s.reason_unknown()
                    if why in ("timeout", "canceled") and ms < self.timeout_ms:
                        why = "time budget spent"
                    elif why in ("timeout", "canceled"):
                        why = f"solver timeout ({self.timeout_ms} ms)"
                    return Outcome("unknown", reason=why, seconds=time.perf_counter() - t0)
                model = self.s.model()
                rows, refine = [], []
                for enc in encodings:
                    row, ref = enc.decode(model)
                    rows.append(row)
                    refine += ref
                if not refine:
                    return Outcome("sat", rows=rows, seconds=time.perf_counter() - t0)
                self.s.add(refine)
                remaining = math.inf if self.deadline is None else self.deadline - time.time()
                if remaining <= 0:
                    break
            return Outcome("unknown", reason="the solver's region holds no float64 input that could be found",
                           seconds=time.perf_counter() - t0)
        finally:
            self.s.pop()


# -- context --------------------------------------------------------------------


@dataclass
class Spec:
    """Everything a worker needs to rebuild the context (picklable)."""

    rules: RuleSet
    domain: Domain
    timeout_ms: int
    deadline: float | None
    reference: Any = None
    reference_kw: dict = field(default_factory=dict)
    properties: tuple = ()
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


class Context:
    """The rule set in priority order, its boxes, one encoding and one solver."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.rs = spec.rules
        self.domain = spec.domain
        self.model = ruleset_model(self.rs, self.domain)
        self.n = len(self.model)
        self.features = sorted(self.rs.features)
        self.boxes = BoxSet(self.model.conjs, self.domain, self.features)
        self.sep = separable(self.domain)
        self.enc = Encoding(self.domain)
        self.solver = Solver(self.enc.domain_constraints(), spec.timeout_ms, spec.deadline)
        self._may: np.ndarray | None = None
        self._codes: dict = {}
        self._ref: Model | None = None

    # helpers
    def expired(self) -> bool:
        """The overall time budget is spent: remaining items are unknown without building formulas."""
        return self.spec.deadline is not None and time.time() >= self.spec.deadline

    @property
    def may(self) -> np.ndarray:
        """``may[p, q]``: rules at priority positions p and q may overlap (not separated by boxes)."""
        if self._may is None:
            self._may = ~self.boxes.disjoint()
        return self._may

    def code(self, label: Any) -> int:
        if label not in self._codes:
            self._codes[label] = len(self._codes)
        return self._codes[label]

    def rid(self, p: int) -> str:
        return self.model.ids[p]

    def earlier(self, p: int) -> np.ndarray:
        return np.flatnonzero(self.may[p, :p])

    def later(self, p: int) -> np.ndarray:
        return p + 1 + np.flatnonzero(self.may[p, p + 1 :])

    def witness_ok(self, p: int) -> bool:
        """Box ``p`` yields a witness without Z3 (no linking constraints, exact, non-empty)."""
        return self.sep and bool(self.boxes.exact[p]) and not bool(self.boxes.empty[p])

    def frame(self, rows: Sequence[dict]) -> pd.DataFrame:
        return frame_from_rows(rows, self.domain)

    def in_domain(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.domain.contains(frame), dtype=bool)

    def decide(self, frame: pd.DataFrame) -> np.ndarray:
        """Priority position of the answering rule per row (-1: default), via ``RuleSet.decide``."""
        idx = self.rs.decide(frame[list(self.domain.names)])
        pos = {orig: p for p, orig in enumerate(self.model.index)}
        return np.asarray([pos.get(int(i), -1) for i in idx])

    def match(self, frame: pd.DataFrame) -> np.ndarray:
        """``RuleSet.match`` with columns in priority order."""
        m = self.rs.match(frame[list(self.domain.names)])
        return m[:, self.model.index]

    def reference(self) -> Model:
        if self._ref is None:
            self._ref = as_model(self.spec.reference, self.domain, **self.spec.reference_kw)
        return self._ref


# -- item runners ---------------------------------------------------------------


# Each check's items are solved by ``solve_<check>(ctx, items) -> (results, pending)``:
# ``results`` are final, ``pending`` hold witness inputs still to be confirmed by
# evaluation. ``confirm_<check>(ctx, pending) -> results`` evaluates them in one
# batch (evaluating a rule set costs the same for one row as for a thousand, so
# the parent confirms once, whatever the number of workers).


def solve_dead(ctx: Context, items: Sequence[int]) -> tuple[list, list]:
    """Results ("unsat", p, s) / ("shadowed", p, earlier, s) / ("unknown", p, why, s); pending live witnesses."""
    out: list[tuple] = []
    pending: list[tuple] = []  # (p, row, seconds, from_box)
    for p in items:
        t0 = time.perf_counter()
        earlier = ctx.earlier(p)
        if ctx.witness_ok(p) and len(earlier) == 0:
            pending.append((p, ctx.boxes.pick(p), time.perf_counter() - t0, True))
            continue
        if ctx.expired():
            out.append(("unknown", p, BUDGET, 0.0))
            continue
        out.extend(_dead_by_solver(ctx, p, earlier, t0, pending))
    return out, pending


def _dead_by_solver(ctx: Context, p: int, earlier: np.ndarray, t0: float, pending: list) -> list[tuple]:
    res = ctx.solver.check([ctx.model.fire(ctx.enc, p, earlier)], [ctx.enc])
    if res.status == "sat":
        pending.append((p, res.rows[0], time.perf_counter() - t0, False))
        return []
    if res.status == "unknown":
        return [("unknown", p, res.reason, time.perf_counter() - t0)]
    if len(earlier) == 0:
        return [("unsat", p, time.perf_counter() - t0)]
    res2 = ctx.solver.check([ctx.model.match(ctx.enc, p)], [ctx.enc])
    if res2.status == "unsat":
        return [("unsat", p, time.perf_counter() - t0)]
    if res2.status == "unknown":
        return [("unknown", p, res2.reason, time.perf_counter() - t0)]
    return [("shadowed", p, [int(e) for e in earlier], time.perf_counter() - t0)]


def confirm_dead(ctx: Context, pending: list) -> list[tuple]:
    if not pending:
        return []
    frame = ctx.frame([row for _, row, _, _ in pending])
    ok = ctx.in_domain(frame)
    pos = ctx.decide(frame)
    out: list[tuple] = []
    retry: list = []
    for k, (p, row, secs, from_box) in enumerate(pending):
        if ok[k] and pos[k] == p:
            out.append(("live", p, secs))
        elif from_box:
            out.extend(_dead_by_solver(ctx, p, ctx.earlier(p), time.perf_counter() - secs, retry))
        else:
            out.append(("unknown", p, "the solver's witness does not reproduce when evaluated", secs))
    if retry:
        out.extend(confirm_dead(ctx, [(q, r, s, False) for q, r, s, _ in retry]))
    return out


def solve_conflict(ctx: Context, items: Sequence[tuple[int, int]]) -> tuple[list, list]:
    """Results ("disjoint", p, q, s) / ("unknown", p, q, why, s); pending overlap witnesses."""
    out: list[tuple] = []
    pending: list[tuple] = []
    for p, q in items:
        t0 = time.perf_counter()
        if ctx.witness_ok(p) and ctx.witness_ok(q):
            conj = tuple(ctx.model.conjs[p]) + tuple(ctx.model.conjs[q])
            regs = {f: region_of(conj, ctx.domain[f]) for f in {c.feature for c in conj}}
            if not any(r.empty for r in regs.values()):
                pending.append((p, q, ctx.boxes.pick(p, regs), time.perf_counter() - t0))
                continue
        if ctx.expired():
            out.append(("unknown", p, q, BUDGET, 0.0))
            continue
        res = ctx.solver.check([ctx.model.match(ctx.enc, p), ctx.model.match(ctx.enc, q)], [ctx.enc])
        if res.status == "sat":
            pending.append((p, q, res.rows[0], time.perf_counter() - t0))
        elif res.status == "unsat":
            out.append(("disjoint", p, q, time.perf_counter() - t0))
        else:
            out.append(("unknown", p, q, res.reason, time.perf_counter() - t0))
    return out, pending


def confirm_conflict(ctx: Context, pending: list) -> list[tuple]:
    if not pending:
        return []
    frame = ctx.frame([r for _, _, r, _ in pending])
    ok = ctx.in_domain(frame)
    m = ctx.match(frame)
    out = []
    for k, (p, q, row, secs) in enumerate(pending):
        if ok[k] and m[k, p] and m[k, q]:
            out.append(("overlap", p, q, row, secs))
        else:
            out.append(("unknown", p, q, "the overlap witness does not reproduce when evaluated", secs))
    return out


def solve_redundant_condition(ctx: Context, items: Sequence[tuple[int, int]]) -> tuple[list, list]:
    """Results ("redundant"|"dead"|"unknown", p, k, extra, s); pending witnesses that the condition matters."""
    out: list[tuple] = []
    pending: list[tuple] = []
    by_rule: dict[int, list[int]] = {}
    for p, k in items:
        by_rule.setdefault(p, []).append(k)
    for p, ks in by_rule.items():
        conds = ctx.model.conjs[p]
        fast = ctx.sep and bool(ctx.boxes.exact[p])
        regs = ctx.boxes.regions[p] if fast else {}
        for k in ks:
            t0 = time.perf_counter()
            c = conds[k]
            others = conds[:k] + conds[k + 1 :]
            if fast and not any(r.empty for f, r in regs.items() if f != c.feature):
                rest = region_of(others, ctx.domain[c.feature]).minus(c)
                if rest is not None and not rest.empty:
                    pending.append((p, k, ctx.boxes.pick(p, {c.feature: rest}), time.perf_counter() - t0))
                    continue
            if ctx.expired():
                out.append(("unknown", p, k, BUDGET, 0.0))
                continue
            res = _condition_by_solver(ctx, p, k, others, c, t0, pending)
            if res is not None:
                out.append(res)
    return _drop_dead_rule_conditions(ctx, out), pending


def confirm_redundant_condition(ctx: Context, pending: list) -> list[tuple]:
    if not pending:
        return []
    frame = ctx.frame([r for _, _, r, _ in pending])
    ok = ctx.in_domain(frame)
    need: dict[Condition, list[int]] = {}
    for i, (p, _, _, _) in enumerate(pending):
        for cc in ctx.model.conjs[p]:
            need.setdefault(cc, []).append(i)
    value: dict[tuple[Condition, int], bool] = {}
    for cc, idx in need.items():
        col = frame[cc.feature].iloc[idx]
        for i, v in zip(idx, np.asarray(cc.evaluate(col), dtype=bool)):
            value[(cc, i)] = bool(v)
    out = []
    for i, (p, k, _, secs) in enumerate(pending):
        hold = [value[(cc, i)] for cc in ctx.model.conjs[p]]
        if ok[i] and not hold[k] and all(h for j, h in enumerate(hold) if j != k):
            out.append(("needed", p, k, None, secs))
        else:
            out.append(("unknown", p, k, "the witness does not reproduce when evaluated", secs))
    return out


def _condition_by_solver(ctx: Context, p: int, k: int, others: Sequence[Condition], c: Condition, t0: float,
                         pending: list) -> tuple | None:
    import z3

    res = ctx.solver.check([ctx.enc.conj(others), z3.Not(ctx.enc.cond(c))], [ctx.enc])
    if res.status == "sat":
        pending.append((p, k, res.rows[0], time.perf_counter() - t0))
        return None
    if res.status == "unknown":
        return ("unknown", p, k, res.reason, time.perf_counter() - t0)
    return ("redundant", p, k, None, time.perf_counter() - t0)


def _drop_dead_rule_conditions(ctx: Context, results: list[tuple]) -> list[tuple]:
    """A rule whose conditions exclude every input is reported by ``dead``, not here."""
    rules = sorted({r[1] for r in results if r[0] == "redundant"})
    dead = set()
    for p in rules:
        if ctx.witness_ok(p):
            continue
        res = ctx.solver.check([ctx.model.match(ctx.enc, p)], [ctx.enc])
        if res.status == "unsat":
            dead.add(p)
    return [("dead",) + r[1:] if (r[0] == "redundant" and r[1] in dead) else r for r in results]


def solve_redundant_rule(ctx: Context, items: Sequence[int]) -> tuple[list, list]:
    """Results ("redundant"|"dead"|"unknown", p, extra, s); pending witnesses that the rule is needed."""
    out: list[tuple] = []
    pending: list[tuple] = []
    for p in items:
        t0 = time.perf_counter()
        earlier, later = ctx.earlier(p), ctx.later(p)
        label = ctx.model.labels[p]
        if ctx.witness_ok(p) and len(earlier) == 0 and len(later) == 0 and label != ctx.model.default:
            pending.append((p, ctx.boxes.pick(p), time.perf_counter() - t0))
            continue
        if ctx.expired():
            out.append(("unknown", p, BUDGET, 0.0))
            continue
        nxt = ctx.model.answer(ctx.enc, ctx.code, later)
        res = ctx.solver.check([ctx.model.fire(ctx.enc, p, earlier), nxt != ctx.code(label)], [ctx.enc])
        if res.status == "sat":
            pending.append((p, res.rows[0], time.perf_counter() - t0))
            continue
        if res.status == "unknown":
            out.append(("unknown", p, res.reason, time.perf_counter() - t0))
            continue
        # Removing it changes nothing; a rule that never answers is reported by `dead`.
        if ctx.witness_ok(p) and len(earlier) == 0:
            out.append(("redundant", p, None, time.perf_counter() - t0))
            continue
        res2 = ctx.solver.check([ctx.model.fire(ctx.enc, p, earlier)], [ctx.enc])
        if res2.status == "unsat":
            out.append(("dead", p, None, time.perf_counter() - t0))
        elif res2.status == "sat":
            out.append(("redundant", p, None, time.perf_counter() - t0))
        else:
            out.append(("unknown", p, res2.reason, time.perf_counter() - t0))
    return out, pending


def confirm_redundant_rule(ctx: Context, pending: list) -> list[tuple]:
    if not pending:
        return []
    frame = ctx.frame([r for _, r, _ in pending])
    ok = ctx.in_domain(frame)
    m = ctx.match(frame)
    pred = np.asarray(ctx.rs.predict(frame[list(ctx.domain.names)]), dtype=object)
    labels = ctx.model.labels
    out = []
    for i, (p, row, secs) in enumerate(pending):
        hits = np.flatnonzero(m[i])
        with_p = labels[hits[0]] if len(hits) else ctx.model.default
        rest = [h for h in hits if h != p]
        without = labels[rest[0]] if rest else ctx.model.default
        if ok[i] and len(hits) and hits[0] == p and _same_label(with_p, pred[i]) and not _same_label(without, with_p):
            out.append(("needed", p, None, secs))
        else:
            out.append(("unknown", p, "the witness does not reproduce when evaluated", secs))
    return out


_EQ_PENDING_STOP = 5


def solve_equivalence(ctx: Context, items: Sequence[tuple]) -> tuple[list, list]:
    """Results ("same"|"unknown"|"skipped", item, extra, s); pending disagreement witnesses.

    After a few disagreements the rest is skipped: one confirmed counterexample
    settles the verdict (skipped items are solved later if none confirms).
    """
    a, b = ctx.model_a, ctx.model_b
    out: list[tuple] = []
    pending: list[tuple] = []
    for n, item in enumerate(items):
        if len(pending) >= _EQ_PENDING_STOP:
            out += [("skipped", it, None, 0.0) for it in items[n:]]
            break
        t0 = time.perf_counter()
        if ctx.expired():
            out.append(("unknown", item, BUDGET, 0.0))
            continue
        if item[0] == "A":
            p = item[1]
            cand = np.flatnonzero(~ctx.cross[p])
            earlier = np.flatnonzero(ctx.may_a[p, :p]) if not a.complete else ()
            f = [a.fire(ctx.enc, p, earlier), b.answer(ctx.enc, ctx.code, cand) != ctx.code(a.labels[p])]
        elif item[0] == "B":
            k = item[1]
            cand = np.flatnonzero(~ctx.cross[:, k])
            earlier = np.flatnonzero(ctx.may_b[k, :k]) if not b.complete else ()
            f = [b.fire(ctx.enc, k, earlier), a.none(ctx.enc, cand)]
        else:
            f = [a.none(ctx.enc, range(len(a))), b.none(ctx.enc, range(len(b)))]
        res = ctx.solver.check(f, [ctx.enc])
        if res.status == "sat":
            pending.append((item, res.rows[0], time.perf_counter() - t0))
        elif res.status == "unsat":
            out.append(("same", item, None, time.perf_counter() - t0))
        else:
            out.append(("unknown", item, res.reason, time.perf_counter() - t0))
    return out, pending


def confirm_equivalence(ctx: Context, pending: list) -> list[tuple]:
    if not pending:
        return []
    a, b = ctx.model_a, ctx.model_b
    frame = ctx.frame([r for _, r, _ in pending])
    ok = ctx.in_domain(frame)
    la, lb = a.evaluate(frame), b.evaluate(frame)
    out = []
    for i, (item, row, secs) in enumerate(pending):
        if ok[i] and not _same_label(la[i], lb[i]):
            out.append(("differ", item, (row, la[i], lb[i]), secs))
        else:
            out.append(("unknown", item, "the disagreement does not reproduce when evaluated", secs))
    return out


def _same_label(x: Any, y: Any) -> bool:
    try:
        return bool(x == y)
    except Exception:  # pragma: no cover - exotic labels
        return str(x) == str(y)


class EquivalenceContext(Context):
    """Context for comparing the rule set (A) with a reference predictor (B)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        kw = dict(spec.reference_kw)
        compare = kw.pop("compare", "class")
        self.model_a = ruleset_model(self.rs, self.domain, compare=compare)
        self.model_b = as_model(spec.reference, self.domain, compare=compare, **kw)
        feats: set[str] = set(self.features)
        for conj in self.model_b.conjs:
            feats |= {c.feature for c in conj}
        for f in feats:
            self.enc.spec(f)
        self._feats = sorted(feats)
        self._pre: dict[str, np.ndarray | None] = {}
        self._ab: tuple[BoxSet, BoxSet] | None = None

    def _boxes_ab(self) -> tuple[BoxSet, BoxSet]:
        if self._ab is None:
            self._ab = (BoxSet(self.model_a.conjs, self.domain, self._feats),
                        BoxSet(self.model_b.conjs, self.domain, self._feats))
        return self._ab

    @property
    def cross(self) -> np.ndarray:
        """``cross[p, k]``: region p of the rules and region k of the reference are disjoint."""
        if "cross" not in self._pre:
            ba, bb = self._boxes_ab()
            self._pre["cross"] = ba.disjoint(bb)
        return self._pre["cross"]

    @property
    def may_a(self) -> np.ndarray:
        if "may_a" not in self._pre:
            self._pre["may_a"] = ~self._boxes_ab()[0].disjoint()
        return self._pre["may_a"]

    @property
    def may_b(self) -> np.ndarray | None:
        if "may_b" not in self._pre:
            self._pre["may_b"] = None if self.model_b.complete else ~self._boxes_ab()[1].disjoint()
        return self._pre["may_b"]

    def precomputed(self) -> dict:
        return {"cross": self.cross, "may_a": self.may_a, "may_b": self.may_b}


RUNNERS: dict[str, tuple[Callable, Callable]] = {
    "dead": (solve_dead, confirm_dead),
    "conflict": (solve_conflict, confirm_conflict),
    "redundant_condition": (solve_redundant_condition, confirm_redundant_condition),
    "redundant_rule": (solve_redundant_rule, confirm_redundant_rule),
    "equivalence": (solve_equivalence, confirm_equivalence),
}

_WORKER_CACHE: dict[tuple[str, str], Context] = {}
# Below this many items a check runs in this process: starting workers and
# rebuilding the context in each costs more than the solver work it spreads.
PARALLEL_MIN_ITEMS = 4000


def _context_for(spec: Spec, kind: str, pre: dict) -> Context:
    key = (spec.key, "equivalence" if kind == "equivalence" else "rules")
    ctx = _WORKER_CACHE.get(key)
    if ctx is None:
        if len(_WORKER_CACHE) > 4:
            _WORKER_CACHE.clear()
        if kind == "equivalence":
            ctx = EquivalenceContext(spec)
            ctx._pre.update(pre)
        else:
            ctx = Context(spec)
            ctx._may = pre.get("may")
        _WORKER_CACHE[key] = ctx
    return ctx


def _worker(spec: Spec, kind: str, items: Sequence, pre: dict) -> tuple[list, list]:
    return RUNNERS[kind][0](_context_for(spec, kind, pre), items)


def run_items(ctx: Context, kind: str, items: Sequence, n_jobs: int | None) -> list:
    """Solve ``items`` of check ``kind`` (here or in joblib workers), then confirm the witnesses here."""
    items = list(items)
    if not items:
        return []
    solve, confirm = RUNNERS[kind]
    jobs = _effective_jobs(n_jobs)
    slow = [it for it in items if _needs_solver(ctx, kind, it)] if jobs > 1 else []
    if jobs <= 1 or len(slow) < PARALLEL_MIN_ITEMS:
        results, pending = solve(ctx, items)
    else:
        from joblib import Parallel, delayed

        slow_set = set(slow)
        results, pending = solve(ctx, [it for it in items if it not in slow_set])
        # Interleave so that each worker gets a mix of cheap and costly items.
        chunks = [slow[i::jobs] for i in range(jobs)]
        # The overlap matrices travel with the work (joblib memory-maps large arrays).
        pre = ctx.precomputed() if isinstance(ctx, EquivalenceContext) else {"may": ctx.may}
        parts = Parallel(n_jobs=jobs)(delayed(_worker)(ctx.spec, kind, chunk, pre) for chunk in chunks)
        results = results + [r for part in parts for r in part[0]]
        pending = pending + [r for part in parts for r in part[1]]
    results = results + confirm(ctx, pending)
    skipped = [r[1] for r in results if r[0] == "skipped"]
    if skipped:
        results = [r for r in results if r[0] != "skipped"]
        if not any(r[0] == "differ" for r in results):
            results += run_items(ctx, kind, skipped, None)
    return results


def _needs_solver(ctx: Context, kind: str, item: Any) -> bool:
    """Whether an item goes to Z3 (else the boxes decide it here, cheaply)."""
    if kind == "dead":
        return not (ctx.witness_ok(item) and len(ctx.earlier(item)) == 0)
    if kind == "conflict":
        return not (ctx.witness_ok(item[0]) and ctx.witness_ok(item[1]))
    if kind == "redundant_condition":
        return not (ctx.sep and bool(ctx.boxes.exact[item[0]]))
    if kind == "redundant_rule":
        return not (ctx.witness_ok(item) and len(ctx.earlier(item)) == 0 and len(ctx.later(item)) == 0)
    return True


def _effective_jobs(n_jobs: int | None) -> int:
    import os

    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, int(n_jobs))


# -- findings -------------------------------------------------------------------


def finish_dead(ctx: Context, results: list[tuple], seconds: float) -> list[Finding]:
    out = []
    n_live = 0
    for r in sorted(results, key=lambda r: r[1]):
        kind, p = r[0], r[1]
        if kind == "live":
            n_live += 1
        elif kind == "unsat":
            out.append(Finding("dead", "violated",
                               f"Rule {ctx.rid(p)} can never fire: its conditions exclude every input of the Domain.",
                               rules=(ctx.rid(p),), seconds=r[-1],
                               details={"kind": "unsatisfiable", "evidence": "z3 unsat",
                                        "rule": str(ctx.rs.rules[ctx.model.index[p]])}))
        elif kind == "shadowed":
            by = [ctx.rid(e) for e in r[2]]
            out.append(Finding("dead", "violated",
                               f"Rule {ctx.rid(p)} never answers: wherever it matches, an earlier rule "
                               f"({', '.join(by[:8])}{', ...' if len(by) > 8 else ''}) answers first.",
                               rules=(ctx.rid(p), *by), seconds=r[-1],
                               details={"kind": "shadowed", "evidence": "z3 unsat", "shadowed_by": by,
                                        "rule": str(ctx.rs.rules[ctx.model.index[p]])}))
        else:
            out.append(Finding("dead", "unknown", f"Whether rule {ctx.rid(p)} can fire is undecided: {r[2]}.",
                               rules=(ctx.rid(p),), seconds=r[-1], details={"reason": r[2]}))
    if not out:
        out.append(Finding("dead", "proved",
                           f"Every rule ({ctx.n}) answers for some input of the Domain (a witness input per rule, "
                           f"confirmed by evaluation).", seconds=seconds, details={"rules_checked": n_live}))
    elif n_live and _any_unknown(out):
        out.append(_partial("dead", f"{n_live} of {ctx.n} rules answer for some input of the Domain (a witness "
                                    f"input per rule, confirmed by evaluation)", n_live, ctx.n, seconds))
    return out


def _any_unknown(findings: list[Finding]) -> bool:
    return any(f.status == "unknown" for f in findings)


def _partial(check: str, what: str, done: int, total: int, seconds: float) -> Finding:
    """What was decided before a timeout or a spent budget left the rest undecided (how much was checked)."""
    return Finding(check, "proved", f"{what}; the others are reported one by one.", seconds=seconds,
                   details={"items_decided_fine": done, "items": total, "partial": True})


def finish_conflict(ctx: Context, results: list[tuple], n_pairs: int, n_candidates: int,
                    seconds: float) -> list[Finding]:
    out = []
    for r in sorted(results, key=lambda r: (r[1], r[2])):
        kind, p, q = r[0], r[1], r[2]
        if kind == "overlap":
            lp, lq = ctx.model.labels[p], ctx.model.labels[q]
            out.append(Finding("conflict", "violated",
                               f"Rules {ctx.rid(p)} (predicts {lp!r}) and {ctx.rid(q)} (predicts {lq!r}) both "
                               f"match the counterexample.",
                               rules=(ctx.rid(p), ctx.rid(q)), counterexample=r[3], seconds=r[-1],
                               details={"predictions": [lp, lq]}))
        elif kind == "unknown":
            out.append(Finding("conflict", "unknown",
                               f"Whether rules {ctx.rid(p)} and {ctx.rid(q)} overlap is undecided: {r[3]}.",
                               rules=(ctx.rid(p), ctx.rid(q)), seconds=r[-1], details={"reason": r[3]}))
    if not out:
        out.append(Finding("conflict", "proved",
                           "No two rules that predict different classes match a common input of the Domain.",
                           seconds=seconds,
                           details={"pairs": n_pairs, "separated_by_intervals": n_pairs - n_candidates,
                                    "proved_by_z3": n_candidates}))
    elif _any_unknown(out):
        fine = n_pairs - len(out)
        if fine:
            out.append(_partial("conflict", f"{fine} of {n_pairs} pairs of rules that predict different classes "
                                            f"match no common input of the Domain", fine, n_pairs, seconds))
    return out


def finish_redundant_condition(ctx: Context, results: list[tuple], seconds: float) -> list[Finding]:
    out = []
    for r in sorted(results, key=lambda r: (r[1], r[2])):
        kind, p, k = r[0], r[1], r[2]
        c = ctx.model.conjs[p][k]
        if kind == "redundant":
            out.append(Finding("redundant_condition", "violated",
                               f"In rule {ctx.rid(p)}, the condition '{c}' is implied by the rule's other "
                               f"conditions and the Domain.",
                               rules=(ctx.rid(p),), seconds=r[-1],
                               details={"condition": str(c), "condition_index": k, "evidence": "z3 unsat"}))
        elif kind == "unknown":
            out.append(Finding("redundant_condition", "unknown",
                               f"Whether '{c}' is needed in rule {ctx.rid(p)} is undecided: {r[3]}.",
                               rules=(ctx.rid(p),), seconds=r[-1],
                               details={"condition": str(c), "condition_index": k, "reason": r[3]}))
    n = sum(1 for r in results if r[0] == "needed")
    if not out:
        out.append(Finding("redundant_condition", "proved",
                           f"Every condition ({n}) matters: each has an input of the Domain that meets the rule's "
                           f"other conditions but not it (confirmed by evaluation).",
                           seconds=seconds, details={"conditions_checked": n}))
    elif n and _any_unknown(out):
        out.append(_partial("redundant_condition", f"{n} of {len(results)} conditions matter (an input of the "
                                                   f"Domain each, confirmed by evaluation)", n, len(results), seconds))
    return out


def finish_redundant_rule(ctx: Context, results: list[tuple], seconds: float) -> list[Finding]:
    out = []
    for r in sorted(results, key=lambda r: r[1]):
        kind, p = r[0], r[1]
        if kind == "redundant":
            out.append(Finding("redundant_rule", "violated",
                               f"Removing rule {ctx.rid(p)} changes no prediction on the Domain.",
                               rules=(ctx.rid(p),), seconds=r[-1],
                               details={"evidence": "z3 unsat", "rule": str(ctx.rs.rules[ctx.model.index[p]])}))
        elif kind == "unknown":
            out.append(Finding("redundant_rule", "unknown",
                               f"Whether rule {ctx.rid(p)} is needed is undecided: {r[2]}.",
                               rules=(ctx.rid(p),), seconds=r[-1], details={"reason": r[2]}))
    n = sum(1 for r in results if r[0] == "needed")
    if not out:
        out.append(Finding("redundant_rule", "proved",
                           f"Every live rule ({n}) is needed: removing it changes the prediction of some input "
                           f"(confirmed by evaluation).", seconds=seconds, details={"rules_checked": n}))
    elif n and _any_unknown(out):
        out.append(_partial("redundant_rule", f"{n} of {len(results)} rules are needed: removing one changes the "
                                              f"prediction of some input (confirmed by evaluation)", n, len(results),
                            seconds))
    return out


def finish_equivalence(ctx: "EquivalenceContext", results: list[tuple], seconds: float) -> Finding:
    b = ctx.model_b
    differ = [r for r in results if r[0] == "differ"]
    unknown = [r for r in results if r[0] == "unknown"]
    what = f"the rules and the {b.name}"
    n_items = len(results)
    if differ:
        row, la, lb = differ[0][2]
        involved = _item_ids(ctx, differ[0][1])
        return Finding("equivalence", "violated",
                       f"The predictions of {what} differ: {la!r} vs {lb!r} on the counterexample.",
                       rules=involved, counterexample=row, seconds=seconds,
                       details={"rules_answer": la, "reference_answer": lb, "regions_differing": len(differ),
                                "other_counterexamples": [d[2][0] for d in differ[1:5]]})
    if unknown:
        return Finding("equivalence", "unknown",
                       f"Equivalence of {what} is undecided on {len(unknown)} of {n_items} regions: "
                       f"{unknown[0][2]}.", rules=tuple(sorted({i for u in unknown for i in _item_ids(ctx, u[1])}))[:20],
                       seconds=seconds, details={"reason": unknown[0][2], "regions_undecided": len(unknown)})
    return Finding("equivalence", "proved",
                   f"The predictions of {what} agree on every input of the Domain.", seconds=seconds,
                   details={"regions": n_items, "compare": ctx.spec.reference_kw.get("compare", "class")})


def _item_ids(ctx: "EquivalenceContext", item: tuple) -> tuple[str, ...]:
    if item[0] == "all":
        return ()
    if item[0] == "A":
        return (ctx.model_a.ids[item[1]],)
    if item[0] == "B":
        return (f"reference:{ctx.model_b.ids[item[1]]}",)
    return ("default",)


def equivalence_items(ctx: "EquivalenceContext") -> list[tuple]:
    a, b = ctx.model_a, ctx.model_b
    items: list[tuple] = [("A", p) for p in range(len(a))]
    if not a.complete:
        items += [("B", k) for k in range(len(b)) if not _same_label(b.labels[k], a.default)]
        if not b.complete and not _same_label(a.default, b.default):
            items.append(("defaults",))
    return items


# -- gap ------------------------------------------------------------------------


def check_gap(ctx: Context, *, max_regions: int, data: pd.DataFrame | None) -> list[Finding]:
    """The regions where no rule matches (the default answers), each with an example."""
    import z3

    t_start = time.perf_counter()
    enc, model = ctx.enc, ctx.model
    blocked: list = []
    findings: list[Finding] = []
    none_all = model.none(enc, range(ctx.n))
    data_frame = data[list(ctx.domain.names)] if data is not None else None
    data_default = None
    if data_frame is not None:
        data_default = ctx.rs.decide(data_frame) == -1
        uncounted = data_default.copy()  # regions may overlap: each row counts in the first region holding it
    while True:
        t0 = time.perf_counter()
        res = ctx.solver.check([none_all] + blocked, [enc])
        if res.status == "unsat":
            break
        if res.status == "unknown":
            findings.append(Finding("gap", "unknown",
                                    f"Whether {'another' if findings else 'any'} input falls to the default is "
                                    f"undecided: {res.reason}.", seconds=time.perf_counter() - t0,
                                    details={"reason": res.reason}))
            break
        row = res.rows[0]
        frame = ctx.frame([row])
        if not (ctx.in_domain(frame)[0] and ctx.rs.decide(frame[list(ctx.domain.names)])[0] == -1):
            findings.append(Finding("gap", "unknown", "A gap was found by the solver but its example input does "
                                    "not reproduce when evaluated.", seconds=time.perf_counter() - t0,
                                    details={"reason": "witness does not reproduce"}))
            break
        if len(findings) >= max_regions:
            findings.append(Finding("gap", "violated",
                                    f"More inputs fall to {_who(ctx)} outside the {max_regions} regions listed "
                                    f"(limit max_gap_regions={max_regions}).", counterexample=row,
                                    seconds=time.perf_counter() - t0, details={"limit_reached": True}))
            break
        region = _generalise_gap(ctx, row)
        if region is None:  # the example's own cell was not proved a gap (time budget): no region claimed
            findings.append(Finding("gap", "violated",
                                    f"{_who(ctx)[0].upper() + _who(ctx)[1:]} answers this input: no rule matches it. The "
                                    f"region around it was not proved within the time budget.",
                                    counterexample=row, seconds=time.perf_counter() - t0,
                                    details={"region": None, "default": ctx.rs.default}))
            findings.append(Finding("gap", "unknown",
                                    f"Whether other inputs fall to {_who(ctx)} is undecided: the solver did not "
                                    "finish within the time budget.", seconds=time.perf_counter() - t0,
                                    details={"reason": "region not proved"}))
            break
        # The region's text is in the condition grammar (parse_condition reads it back): "true" for all of it.
        region_text = " and ".join(str(c) for c in region) if region else "true"
        details: dict[str, Any] = {"region": region_text, "default": ctx.rs.default}
        if data_frame is not None and len(data_frame):
            inside = np.ones(len(data_frame), dtype=bool)
            for c in region:
                inside &= c.evaluate(data_frame[c.feature])
            details["data_share"] = float(np.mean(inside & uncounted))
            uncounted &= ~inside
        message = (f"No rule matches any input with {region_text}; {_who(ctx)} answers there." if region else
                   f"No rule matches any input; {_who(ctx)} answers everywhere.")
        findings.append(Finding("gap", "violated", message,
                                counterexample=row, seconds=time.perf_counter() - t0, details=details))
        blocked.append(z3.Not(enc.conj(region)) if region else z3.BoolVal(False))
    if not findings:
        findings.append(Finding("gap", "proved", "Every input of the Domain is matched by some rule.",
                                seconds=time.perf_counter() - t_start))
    elif data_default is not None:
        for f in findings:
            f.details.setdefault("data_share_all_gaps", float(np.mean(data_default)))
    return findings


def _who(ctx: Context) -> str:
    """Who answers where no rule matches: the default class, or a hybrid's neural student."""
    return "the hybrid's neural student" if ctx.rs.default_is_student else f"the default ({ctx.rs.default!r})"


def _thresholds(ctx: Context) -> dict[str, list[float]]:
    ts: dict[str, set] = {}
    for conj in ctx.model.conjs:
        for c in conj:
            if c.is_numeric:
                t = c.exact_bound()[1]
                if math.isfinite(t):
                    ts.setdefault(c.feature, set()).add(t)
            elif c.is_categorical and ctx.domain[c.feature].kind != "categorical":
                ts.setdefault(c.feature, set()).update(
                    float(v) for v in c.value if isinstance(v, (int, float)) and math.isfinite(float(v)))
    return {f: sorted(v) for f, v in ts.items()}


def _bound_conds(f: str, lo: tuple | None, hi: tuple | None, miss: bool, values: bool,
                 can_miss: bool = True) -> list[Condition]:
    if not values:
        return [Condition(f, "is missing")]
    out = []
    if lo is not None:
        out.append(Condition(f, ">=" if lo[1] else ">", lo[0], miss and can_miss))
    if hi is not None:
        out.append(Condition(f, "<=" if hi[1] else "<", hi[0], miss and can_miss))
    if not out and not miss and can_miss:
        out.append(Condition(f, "is not missing"))
    return out


def _generalise_gap(ctx: Context, row: dict) -> list[Condition] | None:
    """Grow the cell of ``row`` feature by feature while no rule matches inside (each step proved by Z3).

    ``None`` when the cell of ``row`` itself is not proved a gap (the solver ran out of time): then no
    region may be claimed, and ``[]`` would mean the whole Domain.
    """
    ts = _thresholds(ctx)
    parts: dict[str, list[Condition]] = {}
    state: dict[str, Any] = {}
    for f in ctx.features:
        spec = ctx.domain[f]
        v = row[f]
        if spec.kind == "categorical":
            if v is None:
                parts[f] = [Condition(f, "is missing")]
                state[f] = ("cat", None, False)
            else:
                parts[f] = [Condition(f, "in", frozenset([v]))]
                state[f] = ("cat", {v}, False)
            continue
        if v is None:
            parts[f] = [Condition(f, "is missing")]
            state[f] = ("num-missing",)
            continue
        t = ts.get(f, [])
        lows = [(x, True) if x == v else (x, False) for x in reversed(t) if x <= v]
        highs = [(x, True) if x == v else (x, False) for x in t if x >= v]
        lo_c = _expand(lows)
        hi_c = _expand(highs)
        state[f] = ("num", lo_c, hi_c)
        parts[f] = _bound_conds(f, lo_c[0] if lo_c else None, hi_c[0] if hi_c else None, False, True,
                                spec.allow_missing)

    def region() -> list[Condition]:
        return [c for f in ctx.features for c in parts[f]]

    def all_gap(conds: list[Condition]) -> bool:
        bs = BoxSet([conds], ctx.domain, ctx.features)
        cand = np.flatnonzero(~bs.disjoint(ctx.boxes)[0])
        import z3

        res = ctx.solver.check([ctx.enc.conj(conds), z3.Or([ctx.model.match(ctx.enc, k) for k in cand])
                                if len(cand) else z3.BoolVal(False)], [])
        return res.status == "unsat"

    if not all_gap(region()):
        # Not proved: the solver ran out of time (or the cell is not a gap throughout).
        return None
    for f in ctx.features:
        spec = ctx.domain[f]
        st = state[f]
        if st[0] == "cat":
            _, levels, _ = st
            trial = dict(parts)
            trial[f] = []
            if all_gap([c for g in ctx.features for c in trial[g]]):
                parts[f] = []
                continue
            if levels is None:
                continue
            for lv in spec.levels:
                if lv in levels:
                    continue
                trial[f] = [Condition(f, "in", frozenset(levels | {lv}))]
                if all_gap([c for g in ctx.features for c in trial[g]]):
                    levels = levels | {lv}
            miss = False
            if spec.allow_missing:
                trial[f] = [Condition(f, "in", frozenset(levels), True)]
                miss = all_gap([c for g in ctx.features for c in trial[g]])
            parts[f] = [] if (len(levels) == len(spec.levels) and (miss or not spec.allow_missing)) else [
                Condition(f, "in", frozenset(levels), miss)]
            continue
        if st[0] == "num-missing":
            trial = dict(parts)
            trial[f] = []
            if all_gap([c for g in ctx.features for c in trial[g]]):
                parts[f] = []
            continue
        _, lows, highs = st

        def build(lo: tuple | None, hi: tuple | None, miss: bool = False) -> list[Condition]:
            trial = dict(parts)
            trial[f] = _bound_conds(f, lo, hi, miss, True, spec.allow_missing)
            return [c for g in ctx.features for c in trial[g]]

        # Loosest lower bound (the list runs from tightest to none) keeping the region a gap.
        lo_opts = list(lows) + [None]
        best_lo = _search(lo_opts, lambda o: all_gap(build(o, highs[0] if highs else None)))
        hi_opts = list(highs) + [None]
        best_hi = _search(hi_opts, lambda o: all_gap(build(best_lo, o)))
        miss = spec.allow_missing and all_gap(build(best_lo, best_hi, True))
        parts[f] = _bound_conds(f, best_lo, best_hi, miss, True, spec.allow_missing)
    return region()


def _expand(opts: list[tuple[float, bool]]) -> list[tuple[float, bool]]:
    """Candidate bounds from the tightest to the loosest: (t, open) then (t, closed) per threshold."""
    out: list[tuple[float, bool]] = []
    for t, at_point in opts:
        if at_point:
            out.append((t, True))
        else:
            out += [(t, False), (t, True)]
    return out


def _search(options: list, ok: Callable[[Any], bool]) -> Any:
    """The last option for which ``ok`` holds, given ``ok(options[0])`` and monotonicity."""
    if len(options) == 1:
        return options[0]
    lo, hi = 0, len(options) - 1
    if ok(options[hi]):
        return options[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(options[mid]):
            lo = mid
        else:
            hi = mid
    return options[lo]
