"""Z3 proofs about a whole hybrid: guards, rules and the guarded student together.

The hybrid answers with the first Implies guard that holds, else the first
rule that fires, else the guarded student. The student is encoded as an
*arbitrary* function (a Z3 uninterpreted function of the features it may
depend on) wrapped in the constructions of ``_guards.py``:

* the base answer ``S(x)`` is a function of every feature except the
  Invariant ones (the student's probabilities are averaged over those);
* each Monotone step (feature ``f``, grid ``G``, class ``c``) answers ``c``
  where some eligible grid point ``g`` (``g <= x_f`` when increasing) gives
  ``c`` one level down, a missing ``x_f`` keeps the level-down answer, and
  otherwise an arbitrary class other than ``c`` (a function of its own).

``unsat`` therefore proves the property for *every* network the hybrid
could hold, which is stronger than needed. A satisfying assignment is
re-evaluated with the real hybrid: reproduced, it is ``violated``; not
reproduced, the finding is ``unknown`` (the proof needs the network's own
weights, which this encoding does not read).
"""

from __future__ import annotations

import dataclasses
import time
from fractions import Fraction
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..domain import Domain
from ..exceptions import DomainError
from ..rules import Condition, Rule
from ..verify import Finding, VerificationReport
from ..verify._checks import Context, Solver, Spec
from ..verify._encode import Encoding, frame_from_rows
from ..verify._properties import PropertyContext, check_time_budget, parse_properties
from ..verify._verify import _vacuous

__all__ = ["verify_hybrid", "implies_conflict", "ImpliesScreen"]


class ImpliesScreen:
    """Finds an input where a rule's region meets an Implies guard's condition."""

    def __init__(self, domain: Domain, timeout_ms: int = 2000) -> None:
        self.enc = Encoding(domain)
        self.solver = Solver(self.enc.domain_constraints(), timeout_ms, None)

    def overlap(self, rule: Rule, guard: Any) -> dict | None:
        res = self.solver.check([self.enc.conj(rule.conditions), guard.condition.z3(self.enc.cond)], [self.enc])
        if res.status == "sat":
            return res.rows[0]
        if res.status == "unknown":
            return {"<undecided>": res.reason}  # cannot rule the overlap out: treat as a conflict
        return None


def implies_conflict(rule: Rule, guard: Any, screen: ImpliesScreen) -> dict | None:
    """An input inside both ``rule`` and ``guard``'s condition, or ``None`` when there is none."""
    return screen.overlap(rule, guard)


class _Composition:
    """The hybrid's answer as a Z3 term on any encoding of the same Domain."""

    def __init__(self, hybrid: Any, domain: Domain, code: Any) -> None:
        import z3

        self.z3 = z3
        self.h = hybrid
        self.domain = domain
        self.classes = list(hybrid.classes_)
        self.codes = [code(c) for c in self.classes]
        self.k = len(self.classes)
        self.steps = hybrid.guarding_.monotone_steps()
        inv = set(hybrid.guarding_.invariant_names)
        self.args_of = [s for s in domain.features if s.name not in inv]
        sorts = []
        for s in self.args_of:
            sorts.append(z3.RealSort() if s.kind == "real" else z3.IntSort())
            if s.allow_missing:
                sorts.append(z3.BoolSort())
        self.S = z3.Function("student", *sorts, z3.IntSort()) if sorts else z3.Int("student")
        self.F = [z3.Function(f"student_not_toward_{d}", *sorts, z3.IntSort()) if sorts else z3.Int(f"other_{d}")
                  for d in range(len(self.steps))]

    def _clamp(self, t: Any, avoid: int | None = None) -> Any:
        """``t`` mapped onto the class codes (any function into them is representable)."""
        z3 = self.z3
        allowed = [c for c in self.codes if c != avoid]
        out = z3.IntVal(allowed[0])
        for c in allowed[1:]:
            out = z3.If(t == c, z3.IntVal(c), out)
        return out

    def _apply(self, f: Any, assign: dict) -> Any:
        args = []
        for s in self.args_of:
            v, m = assign[s.name]
            args.append(v)
            if s.allow_missing:
                args.append(m)
        return f(*args) if args else f

    def _student(self, enc: Encoding, assign: dict, depth: int) -> Any:
        z3 = self.z3
        if depth == len(self.steps):
            return self._clamp(self._apply(self.S, assign))
        name, inc, c, grid = self.steps[depth]
        own = self._student(enc, assign, depth + 1)
        spec = self.domain[name]
        hits = []
        for g in grid:
            sub = dict(assign)
            const = z3.RealVal(Fraction(float(g))) if spec.kind == "real" else z3.IntVal(int(g))
            sub[name] = (const, z3.BoolVal(False))
            eligible = enc.cond(Condition(name, ">=" if inc else "<=", float(g)))
            hits.append(z3.And(eligible, self._student(enc, sub, depth + 1) == self.codes[c]))
        other = self._clamp(self._apply(self.F[depth], assign), avoid=self.codes[c])
        guarded = z3.If(z3.Or(hits), z3.IntVal(self.codes[c]), other) if hits else other
        return z3.If(enc.is_missing(name), own, guarded)

    def answer(self, enc: Encoding) -> Any:
        z3 = self.z3
        assign = {s.name: (enc.value[s.name], enc.is_missing(s.name)) for s in self.domain.features}
        t = self._student(enc, assign, 0)
        ci = dict(zip(self.classes, self.codes))
        for r in reversed(self.h.rules_.rules):
            t = z3.If(enc.conj(r.conditions), z3.IntVal(ci[r.prediction]), t)
        for _, g in reversed(self.h.guarding_.implies):
            t = z3.If(g.condition.z3(enc.cond), z3.IntVal(ci[g.then]), t)
        return t


def verify_hybrid(
    hybrid: Any,
    properties: Iterable[Any] = (),
    *,
    domain: Domain | None = None,
    checks: str = "all",
    timeout_ms: int = 10_000,
    time_budget_s: float | None = None,
) -> VerificationReport:
    """Prove properties of a fitted :class:`HybridClassifier` over its Domain.

    Parameters
    ----------
    hybrid : HybridClassifier
    properties : iterable of Property or str
        Checked on the whole composition (guards, rules, guarded student).
    domain : Domain, optional
        Defaults to ``hybrid.domain_``.
    checks : {"all", "none"}
        ``"all"`` adds a ``dead`` finding per rule that can never answer
        (always preceded by a guard or an earlier rule).
    timeout_ms, time_budget_s
        Z3 limit per query and overall (what is left over is ``unknown``).

    Returns
    -------
    VerificationReport
    """
    t_start = time.perf_counter()
    domain = hybrid.domain_ if domain is None else domain
    if checks not in ("all", "none"):
        raise ValueError(f"checks must be 'all' or 'none' for a hybrid, got {checks!r}.")
    _check_domain(hybrid, domain)
    check_time_budget(time_budget_s)
    props = [p.validate(domain, hybrid.classes_) for p in parse_properties(properties)]
    deadline = None if time_budget_s is None else time.time() + float(time_budget_s)
    ctx = Context(Spec(hybrid.rules_, domain, int(timeout_ms), deadline))
    comp = _Composition(hybrid, domain, ctx.code)
    findings: list[Finding] = []
    if checks == "all":
        findings += _dead(hybrid, ctx)
    # The hybrid's own column order: one fitted on an array reads its columns by position, whatever
    # order domain= lists them in.
    names = list(hybrid.domain_.names)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        X = frame[names]
        if not hybrid._frame_input_:
            X = X.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(hybrid.predict(X), dtype=object)

    for prop in props:
        t0 = time.perf_counter()
        formula, encs = prop.violation(PropertyContext(ctx.enc, comp.answer, ctx.code))
        res = ctx.solver.check([formula], encs)
        text = prop.text()
        secs = time.perf_counter() - t0
        if res.status == "unsat":
            vac = _vacuous(ctx.solver, ctx.enc, prop)
            findings.append(Finding("property", "proved", f"'{text}' holds on every input of the Domain, "
                                    f"whichever part answers (proved for any network){vac}.", seconds=secs,
                                    property=text, details={"vacuous": True} if vac else {}))
        elif res.status == "unknown":
            findings.append(Finding("property", "unknown", f"'{text}' is undecided: {res.reason}.", seconds=secs,
                                    property=text, details={"reason": res.reason}))
        elif prop.confirm(predict, res.rows, domain):
            findings.append(_violated(hybrid, prop, res.rows, domain, names, predict, secs, "the counterexample"))
        else:
            # Z3's input is no violation for this network; another may be: search the Domain as the fit does for
            # guards (Z3's witness depends on its time limits, so one such input alone decided nothing).
            # The search samples the Domain given (in the hybrid's column order), so what it finds lies inside it.
            searched = "random Domain inputs"
            try:
                found = hybrid._search_violation(prop, dataclasses.replace(domain,
                                                                           features=tuple(domain[n] for n in names)))
            except DomainError:  # its constraints leave random inputs no room (an equality): no search
                found, searched = None, "a search (the Domain's constraints leave random inputs no room)"
            if found is not None:
                rows = [found["x"], found["x_prime"]] if "x_prime" in found else [found]
                findings.append(_violated(hybrid, prop, rows, domain, names, predict, time.perf_counter() - t0,
                                          "an input found by sampling the Domain"))
                continue
            findings.append(Finding("property", "unknown", f"'{text}' is not proved for an arbitrary network, and "
                                    f"neither the solver's input nor {searched} violate it for this "
                                    f"one; nothing is claimed.", seconds=time.perf_counter() - t0, property=text,
                                    details={"reason": "needs the network's weights"}))
    target = {"source": "rulekd.HybridClassifier", "rules": len(hybrid.rules_), "ordered": True,
              "classes": list(hybrid.classes_.tolist()), "features": len(hybrid.rules_.features),
              "domain_features": len(domain), "domain_inferred": False,
              "guards": [g.text() for g in hybrid.guards_]}
    checks_run = (("dead",) if checks == "all" else ()) + (("property",) if props else ())
    return VerificationReport(tuple(findings), checks_run, {}, time.perf_counter() - t_start, target)


def _check_domain(hybrid: Any, domain: Domain) -> None:
    """``domain`` must describe inputs the hybrid answers: its features, and no level or missing value its
    ``predict`` refuses (a property over those would say nothing about the model)."""
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be a rulekd Domain, got {type(domain).__name__}.")
    own = hybrid.domain_
    if set(domain.names) != set(own.names):
        raise DomainError(f"domain= must have the hybrid's features {list(own.names)[:20]}; it has "
                          f"{list(domain.names)[:20]}.")
    for spec in domain.features:
        mine = own[spec.name]
        extra = sorted(map(str, set(spec.levels) - set(mine.levels))) if spec.kind == "categorical" else []
        if (spec.kind == "categorical") != (mine.kind == "categorical") or extra or \
                (spec.allow_missing and not mine.allow_missing):
            what = (f"levels {extra[:10]}" if extra else "missing values" if spec.allow_missing and not
                    mine.allow_missing else f"kind {spec.kind!r} (the hybrid's is {mine.kind!r})")
            raise DomainError(
                f"domain= gives feature {spec.name!r} {what} that the hybrid refuses at predict: a property "
                f"over such inputs says nothing about the model. Verify over hybrid.domain_, or fit the hybrid "
                f"with domain= declaring them."
            )


def _violated(hybrid: Any, prop: Any, rows: list, domain: Any, names: list, predict: Any, secs: float,
              how: str) -> Finding:
    """The finding for a property ``rows`` (one input, or a pair) violate on the real hybrid."""
    frame = pd.concat([frame_from_rows([r], domain) for r in rows], ignore_index=True)
    X = frame[names] if hybrid._frame_input_ else frame[names].to_numpy(dtype=np.float64, na_value=np.nan)
    by = list(hybrid.decided_by(X))
    preds = [v.item() if isinstance(v, np.generic) else v for v in predict(frame)]
    text = prop.text()
    return Finding("property", "violated", f"'{text}' fails on {how} (predictions: {', '.join(map(repr, preds))}; "
                   f"answered by {', '.join(map(str, by))}).", rules=tuple(b for b in by if b != "student"),
                   counterexample=prop.counterexample(rows), seconds=secs, property=text,
                   details={"predictions": preds, "decided_by": by})


def _dead(hybrid: Any, ctx: Context) -> list[Finding]:
    """Rules that never answer: every input they cover goes to a guard or an earlier rule."""
    z3 = ctx.solver.z3
    enc = ctx.enc
    before = [g.condition.z3(enc.cond) for _, g in hybrid.guarding_.implies]
    out = []
    t_all = time.perf_counter()
    for i, r in enumerate(hybrid.rules_.rules):
        t0 = time.perf_counter()
        rid = hybrid.rules_.rule_id(i)
        res = ctx.solver.check([enc.conj(r.conditions)] + [z3.Not(b) for b in before], [enc])
        secs = time.perf_counter() - t0
        if res.status == "unsat":
            out.append(Finding("dead", "violated", f"Rule {rid} never answers: a guard or an earlier rule "
                               f"answers every input it covers.", rules=(rid,), seconds=secs,
                               details={"kind": "shadowed", "evidence": "z3 unsat", "rule": str(r)}))
        elif res.status == "unknown":
            out.append(Finding("dead", "unknown", f"Whether rule {rid} ever answers is undecided: {res.reason}.",
                               rules=(rid,), seconds=secs, details={"reason": res.reason}))
        before.append(enc.conj(r.conditions))
    if not out:
        out.append(Finding("dead", "proved", f"Each of the {len(hybrid.rules_)} rules answers some input.",
                           seconds=time.perf_counter() - t_all))
    return out
