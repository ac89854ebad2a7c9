"""``simplify``: a shorter rule set with the same predictions, and the proof of it.

Steps, each exact on the Domain:

1. merge the intervals inside each rule (:func:`~rulekd.rules.merge_conjunction`);
2. drop rules that can never answer (Z3: unsatisfiable or shadowed);
3. drop conditions implied by a rule's other conditions and the Domain (Z3);
4. merge rules that predict the same class and whose union is one conjunction
   (two intervals that touch, two level sets, or one rule inside another);
   in a rule set where no two rules of different classes overlap (proved
   first), also minimise each class's disjunction with sympy's
   ``simplify_logic`` when it has few distinct conditions;
5. drop rules whose removal changes no prediction (Z3), one at a time;
6. prove the result equivalent to the input (the ``equivalence`` check).

The result predicts the same class as the input on every input of the Domain
(not necessarily the same probabilities: a dropped rule's inputs fall to the
rule or default that now answers). The proof is stored in
``metadata["simplification"]``; if it is not ``proved``, the input is returned
unchanged with the reason.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np

from ..domain import Domain
from ..exceptions import SolverTimeoutWarning
from ..rules._ir import Condition, Rule, RuleSet, merge_conjunction
from . import _checks as C
from ._boxes import exact_bound, region_of

__all__ = ["simplify"]


def simplify(
    rules: Any,
    domain: Domain | None = None,
    *,
    timeout_ms: int = 10_000,
    n_jobs: int | None = None,
    use_sympy: bool = True,
    max_sympy_conditions: int = 8,
    time_budget_s: float | None = None,
) -> RuleSet:
    """Drop redundant conditions and rules, merge intervals, and prove the result equivalent.

    Parameters
    ----------
    rules : RuleSet or fitted rule student
    domain : Domain, optional
        As in :func:`verify` (a student's ``domain_`` by default).
    timeout_ms : int
        Z3 limit per query. A query that times out keeps what it was about to drop.
    n_jobs : int or None
        Workers for the final equivalence proof.
    use_sympy : bool, default=True
        Minimise each class's disjunction with sympy (conflict-free unordered sets).
    max_sympy_conditions : int, default=8
        Largest number of distinct conditions in one class handed to sympy.
    time_budget_s : float, optional
        Overall limit; when spent, what is done so far is proved and returned.

    Returns
    -------
    RuleSet
        ``metadata["simplification"]`` holds ``proof`` (the equivalence
        finding as a dict, status ``proved``), the counts before and after,
        and what each step removed.

    Examples
    --------
    >>> from rulekd import Condition, Rule, RuleSet, Domain, FeatureSpec
    >>> rs = RuleSet((Rule((Condition("x", "<=", 5.0), Condition("x", "<=", 7.0)), 1),
    ...               Rule((Condition("x", ">", 5.0), Condition("x", "<=", 9.0)), 1)),
    ...              classes=(0, 1), default=0, ordered=False)
    >>> out = simplify(rs, Domain((FeatureSpec("x", "real", 0, 9),)))
    >>> out.metadata["simplification"]["proof"]["status"], str(out.rules[0]), len(out)
    ('proved', 'if true then 1', 1)
    """
    from ._verify import equivalence_finding, resolve_target

    t_start = time.perf_counter()
    original, domain, _, _, _ = resolve_target(rules, domain)
    deadline = None if time_budget_s is None else time.time() + float(time_budget_s)
    steps: dict[str, int] = {}
    # Every rule keeps the id it has now (an id-less rule's is its position, "r<i>"), so dropping a rule
    # neither renumbers the others nor lets one take another's id.
    current = original.replace(rules=tuple(
        _with(r, conditions=merge_conjunction(r.conditions), id=original.rule_id(i))
        for i, r in enumerate(original.rules)))
    steps["conditions_merged"] = original.n_conditions - current.n_conditions

    def spec(rs: RuleSet) -> C.Spec:
        return C.Spec(rs, domain, int(timeout_ms), deadline)

    # 2. rules that never answer
    ctx = C.Context(spec(current))
    res = C.run_items(ctx, "dead", range(ctx.n), None)
    dead = {ctx.model.index[r[1]] for r in res if r[0] in ("unsat", "shadowed")}
    current = current.replace(rules=tuple(r for i, r in enumerate(current.rules) if i not in dead))
    steps["dead_rules_removed"] = len(dead)

    # 3. redundant conditions
    current, n = _prune_conditions(current, spec)
    steps["conditions_removed"] = n

    # 4. merges
    current, n_merged, n_sympy = _merge_rules(current, spec, use_sympy, max_sympy_conditions)
    steps["rules_merged"] = n_merged
    steps["sympy_groups_minimised"] = n_sympy
    if n_merged or n_sympy:
        current, n = _prune_conditions(current, spec)
        steps["conditions_removed"] += n

    # 5. redundant rules
    current, n = _drop_redundant_rules(current, spec)
    steps["redundant_rules_removed"] = n

    # 6. the proof
    proof = equivalence_finding(C.Spec(original, domain, int(timeout_ms), None, current, {"compare": "class"}),
                                n_jobs)
    info = {
        "status": proof.status,
        "proof": proof.to_dict(),
        "rules_before": len(original),
        "rules_after": len(current),
        "conditions_before": original.n_conditions,
        "conditions_after": current.n_conditions,
        "steps": steps,
        "seconds": time.perf_counter() - t_start,
    }
    if proof.status != "proved":
        warnings.warn(
            f"simplify() could not prove its result equivalent to the input ({proof.status}: {proof.message}); "
            f"the input is returned unchanged.",
            SolverTimeoutWarning if proof.status == "unknown" else RuntimeWarning,
            stacklevel=2,
        )
        info["rules_after"], info["conditions_after"] = len(original), original.n_conditions
        meta = dict(original.metadata)
        meta["simplification"] = info
        return original.replace(metadata=meta)
    meta = dict(original.metadata)
    meta["simplification"] = info
    return current.replace(metadata=meta)


def _with(r: Rule, **changes: Any) -> Rule:
    d = dict(conditions=r.conditions, prediction=r.prediction, proba=r.proba, support=r.support,
             confidence=r.confidence, id=r.id, score=r.score)
    d.update(changes)
    return Rule(**d)


def _prune_conditions(rs: RuleSet, spec: Any) -> tuple[RuleSet, int]:
    """Drop, one at a time, each condition implied by the rule's others and the Domain."""
    import z3

    ctx = C.Context(spec(rs))
    removed = 0
    new_rules = []
    for r in rs.rules:
        conds = list(r.conditions)
        k = 0
        while k < len(conds):
            c = conds[k]
            others = conds[:k] + conds[k + 1 :]
            if ctx.sep and all(_boxable(x) for x in conds):
                regs = {f: region_of(others, ctx.domain[f]) for f in {x.feature for x in conds}}
                rest = regs[c.feature].minus(c)
                if rest is not None and not rest.empty and not any(
                        rr.empty for f, rr in regs.items() if f != c.feature):
                    k += 1
                    continue
            out = ctx.solver.check([ctx.enc.conj(others), z3.Not(ctx.enc.cond(c))], [])
            if out.status == "unsat":
                conds.pop(k)
                removed += 1
            else:
                k += 1
        new_rules.append(_with(r, conditions=tuple(conds)) if len(conds) != len(r.conditions) else r)
    return rs.replace(rules=tuple(new_rules)), removed


def _boxable(c: Condition) -> bool:
    return c.is_numeric or c.op in ("is missing", "is not missing") or c.is_categorical


def _drop_redundant_rules(rs: RuleSet, spec: Any) -> tuple[RuleSet, int]:
    """Remove rules whose removal changes no prediction, one at a time (latest priority first)."""
    ctx = C.Context(spec(rs))
    removed: set[int] = set()
    model = ctx.model
    for p in reversed(range(ctx.n)):
        earlier = [e for e in ctx.earlier(p) if e not in removed]
        later = [q for q in ctx.later(p) if q not in removed]
        label = model.labels[p]
        if not later and not earlier and ctx.witness_ok(p) and not C._same_label(label, model.default):
            continue  # it alone answers somewhere, with a class the default does not give: needed
        nxt = model.answer(ctx.enc, ctx.code, later)
        out = ctx.solver.check([model.fire(ctx.enc, p, earlier), nxt != ctx.code(label)], [])
        if out.status == "unsat":
            removed.add(p)
    keep = [i for p, i in enumerate(model.index) if p not in removed]
    keep_set = set(keep)
    return rs.replace(rules=tuple(r for i, r in enumerate(rs.rules) if i in keep_set)), len(removed)


# -- merging --------------------------------------------------------------------


def _shape(r: Rule, domain: Domain) -> dict[str, tuple[Condition, ...]] | None:
    """Conditions per feature; None when a feature's conditions are not a simple bound/set."""
    by: dict[str, list[Condition]] = {}
    for c in r.conditions:
        by.setdefault(c.feature, []).append(c)
    out = {}
    for f, cs in by.items():
        kinds = sorted(_kind(c, domain) for c in cs)
        if kinds not in (["lo"], ["hi"], ["hi", "lo"], ["set"]):
            return None
        out[f] = tuple(sorted(cs, key=lambda c: c.sort_key()))
    return out


def _kind(c: Condition, domain: Domain) -> str:
    if c.is_numeric and domain[c.feature].kind != "categorical":
        return "lo" if exact_bound(c)[0] in (">", ">=") else "hi"
    if c.is_categorical and domain[c.feature].kind == "categorical":
        return "set"
    return "other"


def _union(ci: tuple[Condition, ...], cj: tuple[Condition, ...], f: str, domain: Domain) -> tuple | None:
    """Conditions on ``f`` whose set is exactly the union of the two; None if not one region."""
    spec = domain[f]
    ri, rj = region_of(ci, spec), region_of(cj, spec)
    miss = ri.miss or rj.miss
    if spec.kind == "categorical":
        levels = ri.levels | rj.levels
        if levels.all() and (miss or not spec.allow_missing):
            return ()
        inside = frozenset(lv for lv, b in zip(spec.levels, levels) if b)
        return (Condition(f, "in", inside, miss and spec.allow_missing),)
    if not ri.has_value or not rj.has_value:
        return None
    # Contiguous? The later-starting interval must start inside or right at the end of the other.
    a, b = (ri, rj) if (ri.lo, not ri.loc) <= (rj.lo, not rj.loc) else (rj, ri)
    ca, cb = (ci, cj) if a is ri else (cj, ci)
    if b.lo < a.hi or (b.lo == a.hi and (b.loc or a.hic)):
        pass
    elif spec.kind != "real" and math.isfinite(a.hi) and b.lo == a.hi + 1:
        pass
    else:
        return None
    lo_c = [c for c in ca if _kind(c, domain) == "lo"]
    hi_src = ca if (a.hi, a.hic) >= (b.hi, b.hic) else cb
    hi_c = [c for c in hi_src if _kind(c, domain) == "hi"]
    keep = [Condition(c.feature, c.op, c.value, miss and spec.allow_missing, c.cast) for c in lo_c + hi_c]
    if not keep and not miss and spec.allow_missing:
        keep = [Condition(f, "is not missing")]
    return tuple(keep)


def _merged_rule(ri: Rule, rj: Rule, conds: tuple[Condition, ...]) -> Rule:
    si, sj = ri.support, rj.support
    proba = ri.proba
    if ri.proba is not None and rj.proba is not None and si + sj > 0:
        proba = tuple((si * a + sj * b) / (si + sj) for a, b in zip(ri.proba, rj.proba))
    return _with(ri, conditions=conds, support=si + sj, confidence=max(ri.confidence, rj.confidence), proba=proba)


def _merge_rules(rs: RuleSet, spec: Any, use_sympy: bool, max_atoms: int) -> tuple[RuleSet, int, int]:
    """Merge same-class rules whose union is one conjunction; returns (rules, merges, sympy groups)."""
    ctx = C.Context(spec(rs))
    if not rs.ordered:
        # Only where no two rules of different classes overlap: then the answer is
        # the class of whichever rule matches, and priorities do not matter.
        codes = np.asarray([ctx.code(l) for l in ctx.model.labels])
        differ = codes[:, None] != codes[None, :]
        items = [(int(p), int(q)) for p, q in np.argwhere(np.triu(ctx.may & differ, 1))]
        res = C.run_items(ctx, "conflict", items, None) if items else []
        if any(r[0] != "disjoint" for r in res):
            return rs, 0, 0
    rules = list(rs.rules)
    n_sympy = 0
    if use_sympy and not rs.ordered:
        rules, n_sympy = _sympy_minimise(rules, max_atoms)
    total = 0
    while True:
        rules, n = _merge_pass(rules, ctx.domain, rs.ordered)
        total += n
        if n == 0:
            break
    return rs.replace(rules=tuple(rules)), total, n_sympy


def _merge_pass(rules: list[Rule], domain: Domain, ordered: bool) -> tuple[list[Rule], int]:
    """One round of pairwise merges: rules equal except on one feature whose union is one region."""
    shapes = [_shape(r, domain) for r in rules]
    feats = sorted({c.feature for r in rules for c in r.conditions})
    index: dict[tuple, list[int]] = {}
    for i, (r, sh) in enumerate(zip(rules, shapes)):
        if sh is None:
            continue
        for f in feats:
            key = (r.prediction, f, frozenset((g, c) for g, c in sh.items() if g != f))
            index.setdefault(key, []).append(i)
    out = list(rules)
    used: set[int] = set()
    drop: set[int] = set()
    merges = 0
    for (_, f, _), members in sorted(index.items(), key=lambda kv: (kv[1][0], kv[0][1])):
        for x, a in enumerate(members):
            for b in members[x + 1 :]:
                if a in used or b in used:
                    continue
                if ordered and any(rules[k].prediction != rules[b].prediction for k in range(a + 1, b)):
                    continue  # a rule in between, of another class, might answer for part of b
                sa, sb = shapes[a], shapes[b]
                u = _union(sa.get(f, ()), sb.get(f, ()), f, domain)
                if u is None:
                    continue
                conds = tuple(c for g in sorted(sa) if g != f for c in sa[g]) + u
                out[a] = _merged_rule(rules[a], rules[b], conds)
                drop.add(b)
                used |= {a, b}
                merges += 1
    return [r for i, r in enumerate(out) if i not in drop], merges


def _sympy_minimise(rules: list[Rule], max_atoms: int) -> tuple[list[Rule], int]:
    """Per class, a minimal DNF of the rules' disjunction (conditions as Boolean atoms)."""
    from sympy import And, Not, Or, Symbol
    from sympy.logic.boolalg import BooleanTrue, simplify_logic

    out: list[Rule] = []
    groups: dict[Any, list[Rule]] = {}
    order: list[Any] = []
    used = {r.id for r in rules if r.id is not None}

    def fresh(base_id: str, k: int) -> str:
        """``<id>_<k>``, or with more underscores where another rule has that id."""
        rid = f"{base_id}_{k}"
        while rid in used:
            rid += "_"
        used.add(rid)
        return rid

    for r in rules:
        if r.prediction not in groups:
            order.append(r.prediction)
        groups.setdefault(r.prediction, []).append(r)
    n_done = 0
    for label in order:
        group = groups[label]
        atoms: dict[Condition, Any] = {}
        negated: dict[Condition, Any] = {}
        for r in group:
            for c in r.conditions:
                if c in atoms or c in negated:
                    continue
                neg = c.negate()
                if neg in atoms:
                    negated[c] = atoms[neg]
                else:
                    atoms[c] = Symbol(f"a{len(atoms)}")
        if len(group) < 2 or len(atoms) > max_atoms:
            out += group
            continue

        def lit(c: Condition) -> Any:
            return atoms[c] if c in atoms else Not(negated[c])

        expr = Or(*[And(*[lit(c) for c in r.conditions]) for r in group])
        simple = simplify_logic(expr, form="dnf", force=True)
        back = {s: c for c, s in atoms.items()}
        terms = list(simple.args) if isinstance(simple, Or) else [simple]
        new_conds: list[tuple[Condition, ...]] = []
        for t in terms:
            if isinstance(t, BooleanTrue):
                new_conds.append(())
                continue
            lits = list(t.args) if isinstance(t, And) else [t]
            conds = []
            for l in lits:
                conds.append(back[l.args[0]].negate() if isinstance(l, Not) else back[l])
            new_conds.append(tuple(conds))
        before = sum(len(r.conditions) for r in group)
        after = sum(len(c) for c in new_conds)
        if len(new_conds) > len(group) or (len(new_conds) == len(group) and after >= before):
            out += group
            continue
        n_done += 1
        base = max(group, key=lambda r: r.support)
        for k, conds in enumerate(new_conds):
            out.append(_with(base, conditions=conds, support=sum(r.support for r in group) if k == 0 else 0,
                             confidence=max(r.confidence for r in group),
                             id=base.id if k == 0 or base.id is None else fresh(base.id, k)))
    return out, n_done
