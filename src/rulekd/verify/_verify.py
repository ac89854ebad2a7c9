"""``verify``: run the checks and the user properties, collect a report."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain
from ..exceptions import DomainError, RuleFormatError, SolverTimeoutWarning
from ..rules._ir import RuleSet
from . import _checks as C
from ._encode import infer_domain, level_truth
from ._properties import Property, PropertyContext, check_time_budget, check_timeout_ms, parse_properties
from ._report import Finding, VerificationReport

__all__ = ["verify", "resolve_target", "check_properties"]

_ALL = C.CHECK_ORDER


def resolve_target(model_or_rules: Any, domain: Domain | None) -> tuple[RuleSet, Domain, Any, str, bool]:
    """``(rules, domain, default_reference, source, domain_inferred)`` from what the user passed."""
    reference = None
    source = "RuleSet"
    if isinstance(model_or_rules, RuleSet):
        rules = model_or_rules
    elif isinstance(model_or_rules, dict):
        rules = RuleSet.from_dict(model_or_rules)
        source = "JSON"
    elif isinstance(model_or_rules, (str, os.PathLike)):
        rules = RuleSet.from_json(model_or_rules)
        source = "JSON"
    elif hasattr(model_or_rules, "rules_"):
        rules = model_or_rules.rules_
        if domain is None:
            domain = getattr(model_or_rules, "domain_", None)
        source = type(model_or_rules).__name__
    elif hasattr(model_or_rules, "tree_") and hasattr(model_or_rules, "classes_"):
        from ..rules import from_sklearn_tree

        rules = from_sklearn_tree(model_or_rules)
        reference = model_or_rules
        source = type(model_or_rules).__name__
    elif hasattr(model_or_rules, "fit"):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model_or_rules)  # an estimator not fitted yet: NotFittedError, else unsupported
        raise TypeError(f"verify() cannot read rules from a fitted {type(model_or_rules).__name__}; pass a "
                        f"rulekd rule student, a DecisionTreeClassifier or a RuleSet.")
    else:
        raise TypeError(
            f"verify() takes a RuleSet, its JSON (dict, text or path), a fitted rulekd rule student or a fitted "
            f"scikit-learn decision tree; got {type(model_or_rules).__name__}."
        )
    if not isinstance(rules, RuleSet):
        raise TypeError(f"Expected the model's rules_ to be a RuleSet, got {type(rules).__name__}.")
    inferred = domain is None
    if domain is None:
        domain = infer_domain(rules)
    elif isinstance(domain, (str, os.PathLike, dict)):
        domain = Domain.from_dict(domain) if isinstance(domain, dict) else Domain.from_json(domain)
    if not isinstance(domain, Domain):
        raise TypeError(f"domain must be a rulekd Domain, got {type(domain).__name__}.")
    _validate(rules, domain)
    return rules, domain, reference, source, inferred


def _validate(rules: RuleSet, domain: Domain) -> None:
    missing = sorted(rules.features - set(domain.names))
    if missing:
        raise DomainError(
            f"The rules use features {missing[:10]} that are not in the Domain (Domain features: "
            f"{list(domain.names)[:20]}). Pass the Domain the rules were learned on."
        )
    seen = set()
    for r in rules.rules:
        for c in r.conditions:
            if c in seen:
                continue
            seen.add(c)
            spec = domain[c.feature]
            if spec.kind == "categorical" and not c.op.startswith("is"):
                level_truth(c, spec)
            elif spec.kind != "categorical" and c.is_categorical:
                if any(isinstance(v, str) for v in c.value):
                    raise RuleFormatError(
                        f"The condition '{c}' tests {c.feature!r} for text levels, but the Domain says "
                        f"{c.feature!r} is {spec.kind}."
                    )


def check_n_jobs(n_jobs: Any) -> None:
    """``n_jobs`` is a whole number of workers or None (a ValueError naming it otherwise)."""
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer))):
        raise ValueError(f"n_jobs must be a whole number of workers or None, got {n_jobs!r}.")


def _check_arguments(n_jobs: Any, max_gap_regions: Any, data: Any, domain: Domain) -> None:
    """ValueErrors that name the argument (deep inside, a str n_jobs failed a comparison with an int)."""
    def whole(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    check_n_jobs(n_jobs)
    if not whole(max_gap_regions) or max_gap_regions < 0:
        raise ValueError(f"max_gap_regions must be a whole number >= 0, got {max_gap_regions!r}.")
    if data is not None:
        if not isinstance(data, pd.DataFrame):
            raise ValueError(f"data must be a DataFrame with the Domain's columns, got {type(data).__name__}.")
        absent = [n for n in domain.names if n not in data.columns]
        if absent:
            raise ValueError(f"data lacks the Domain's columns {absent[:10]}; it needs every feature of the Domain "
                             f"to place its rows in the gaps.")


def _resolve_checks(checks: Any, has_reference: bool) -> list[str]:
    if checks is None or checks == "none":
        return []
    if checks == "all":
        return [c for c in _ALL if c != "equivalence" or has_reference]
    if isinstance(checks, str):
        checks = [checks]
    try:
        checks = list(checks)
    except TypeError:
        raise ValueError(f"checks must be 'all', 'none', a check's name or a list of them, got {checks!r}.") from None
    out = []
    for c in checks:
        if c not in _ALL:
            raise ValueError(f"Unknown check {c!r}; choose from {', '.join(_ALL)} or 'all'.")
        if c == "equivalence" and not has_reference:
            raise ValueError("The equivalence check needs reference=... (a tree, an XGBoost model or a RuleSet).")
        if c not in out:
            out.append(c)
    return out


def verify(
    model_or_rules: Any,
    domain: Domain | None = None,
    properties: Iterable[Property | str] = (),
    checks: str | Sequence[str] = "all",
    timeout_ms: int = 10_000,
    n_jobs: int | None = None,
    *,
    reference: Any = None,
    compare: str | None = None,
    tree_index: int | None = None,
    categories: dict | None = None,
    data: pd.DataFrame | None = None,
    time_budget_s: float | None = None,
    max_gap_regions: int = 10,
) -> VerificationReport:
    """Prove or refute the checks and properties of a rule set over a Domain.

    Parameters
    ----------
    model_or_rules : RuleSet, dict, str, path, rule student, DecisionTreeClassifier, neural student or hybrid
        The rules. A fitted :class:`~rulekd.DistilledMLPClassifier` is checked
        by :func:`verify_network` (``reference`` then names rules the network
        must agree with); a fitted :class:`~rulekd.HybridClassifier` by
        :func:`rulekd.hybrid.verify_hybrid` (the whole composition). A fitted
        rulekd rule student gives its ``rules_`` and
        ``domain_``; a fitted scikit-learn tree is imported with
        :func:`~rulekd.rules.from_sklearn_tree` and becomes the default
        ``reference``, so that the import itself is proved exact.
    domain : Domain, optional
        The legal inputs. Without one (and without a student's ``domain_``),
        every feature is real and unbounded (or categorical with the levels the
        rules name plus ``"<other>"``) and may be missing.
    properties : iterable of Property or str
        :class:`Implies`, :class:`Monotone`, :class:`Invariant`, or strings in
        the property grammar (:func:`parse_property`).
    checks : "all", "none", str or sequence of str
        Among ``conflict`` (unordered sets only), ``dead``, ``gap``,
        ``redundant_condition``, ``redundant_rule``, ``equivalence`` (needs
        ``reference``). ``"all"`` runs every one that applies.
    timeout_ms : int, default=10000
        Z3 time limit per query; a query that runs out is ``unknown`` and a
        :class:`~rulekd.exceptions.SolverTimeoutWarning` is raised.
    n_jobs : int or None
        Workers for the per-rule and per-pair queries (joblib); ``None``: 1.
    reference : RuleSet, DecisionTreeClassifier or XGBoost model, optional
        A predictor to prove equivalent to the rules over the Domain.
    compare : {"class", "leaf"}, optional
        What must agree: the class (default), or for a single XGBoost tree the
        leaf reached (default for an XGBoost reference; the rules' ids then
        name the leaves, as :func:`~rulekd.rules.from_xgboost_tree` writes them).
    tree_index : int, optional
        Which tree of an XGBoost reference (default: the rules'
        ``metadata["tree_index"]`` or 0).
    categories : dict, optional
        Category-code order of categorical features as the reference tree saw
        them (default: the Domain's level order).
    data : DataFrame, optional
        Rows for the share of data that falls into each gap.
    time_budget_s : float, optional
        Overall limit; what is left when it is spent is reported ``unknown``.
    max_gap_regions : int, default=10
        Most gap regions to describe.

    Returns
    -------
    VerificationReport

    Examples
    --------
    >>> from rulekd import Condition, Rule, RuleSet, Domain, FeatureSpec
    >>> rs = RuleSet((Rule((Condition("age", "<", 25.0),), "bad"),
    ...               Rule((Condition("age", ">=", 25.0),), "good")), classes=("bad", "good"),
    ...              default="good", ordered=False)
    >>> dom = Domain((FeatureSpec("age", "integer", 18, 99),))
    >>> report = verify(rs, dom, properties=["if age < 20 then bad"])
    >>> report.status, [f.check for f in report.violated]
    ('violated', ['redundant_rule'])
    """
    from ..students._mlp import DistilledMLPClassifier

    if isinstance(model_or_rules, DistilledMLPClassifier):  # the network itself: see verify_network
        from ._neural import _verify_network

        if checks not in ("all", "none"):
            raise ValueError(f"A neural student is verified with checks='all' or 'none' (its properties, and "
                             f"agreement with reference= rules); got {checks!r}.")
        return _verify_network(model_or_rules, properties, rules=reference, domain=domain, timeout_ms=timeout_ms,
                               time_budget_s=time_budget_s, stacklevel=3)
    if type(model_or_rules).__name__ == "HybridClassifier" and hasattr(model_or_rules, "guarding_"):
        from ..hybrid import verify_hybrid  # guards, rules and the guarded student together

        if checks not in ("all", "none"):
            raise ValueError(f"A hybrid is verified with checks='all' or 'none', got {checks!r}.")
        return verify_hybrid(model_or_rules, properties, domain=domain, checks=checks, timeout_ms=timeout_ms,
                             time_budget_s=time_budget_s)
    t_start = time.perf_counter()
    rules, domain, default_ref, source, inferred = resolve_target(model_or_rules, domain)
    if reference is None:
        reference = default_ref
    check_timeout_ms(timeout_ms)
    check_time_budget(time_budget_s)
    _check_arguments(n_jobs, max_gap_regions, data, domain)
    names = _resolve_checks(checks, reference is not None)
    props = parse_properties(properties)
    if rules.default_is_student:
        # A hybrid's rules alone: their default stands in for the neural student, so a property or
        # a rule's redundancy (judged against that default) would speak of answers the hybrid never gives.
        if props:
            raise ValueError("These are a hybrid's rules (rows no rule answers go to its neural student): "
                             "properties hold or fail on the whole hybrid. Verify the HybridClassifier or its "
                             "model directory instead (`rulekd verify MODEL_DIR --property ...`).")
        if "redundant_rule" in names:
            if checks != "all":
                raise ValueError("redundant_rule is not checked on a hybrid's rules: removing a rule sends its "
                                 "rows to the student, not to the default.")
            names = [n for n in names if n != "redundant_rule"]
        if checks == "all":  # its gaps are where the student answers, by design: asked for by name only
            names = [n for n in names if n != "gap"]
    props = [p.validate(domain, rules.classes) for p in props]
    deadline = None if time_budget_s is None else time.time() + float(time_budget_s)
    ref_kw: dict[str, Any] = {}
    if reference is not None:
        ref_kw = _reference_kw(reference, rules, compare, tree_index, categories)
    spec = C.Spec(rules, domain, int(timeout_ms), deadline, reference, ref_kw)
    ctx = C.Context(spec)
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    for name in names:
        t0 = time.perf_counter()
        if name == "conflict":
            if rules.ordered:
                skipped["conflict"] = "an ordered list: the first matching rule answers, overlaps are intended"
                continue
            findings += _conflict(ctx, n_jobs, t0)
        elif name == "dead":
            res = C.run_items(ctx, "dead", range(ctx.n), n_jobs)
            findings += C.finish_dead(ctx, res, time.perf_counter() - t0)
        elif name == "gap":
            findings += C.check_gap(ctx, max_regions=int(max_gap_regions), data=data)
        elif name == "redundant_condition":
            items = [(p, k) for p in range(ctx.n) for k in range(len(ctx.model.conjs[p]))]
            res = C.run_items(ctx, "redundant_condition", items, n_jobs)
            findings += C.finish_redundant_condition(ctx, res, time.perf_counter() - t0)
        elif name == "redundant_rule":
            res = C.run_items(ctx, "redundant_rule", range(ctx.n), n_jobs)
            findings += C.finish_redundant_rule(ctx, res, time.perf_counter() - t0)
        elif name == "equivalence":
            findings.append(equivalence_finding(spec, n_jobs))
    findings += check_properties(ctx, props)
    checks_run = [n for n in names if n not in skipped] + (["property"] if props else [])
    _warn_unknown(findings)
    target = {
        "source": source,
        "rules": len(rules),
        "ordered": rules.ordered,
        "classes": list(rules.classes),
        "features": len(rules.features),
        "domain_features": len(domain),
        "domain_inferred": inferred,
    }
    return VerificationReport(tuple(findings), tuple(checks_run), skipped, time.perf_counter() - t_start, target)


def _reference_kw(reference: Any, rules: RuleSet, compare: str | None, tree_index: int | None,
                  categories: dict | None) -> dict:
    is_xgb = hasattr(reference, "get_booster") or type(reference).__name__ == "Booster"
    kw: dict[str, Any] = {}
    if compare is None:
        compare = "leaf" if is_xgb else "class"
    if compare not in ("class", "leaf"):
        raise ValueError(f"compare must be 'class' or 'leaf', got {compare!r}.")
    if is_xgb and compare != "leaf":
        raise ValueError("A single XGBoost tree predicts a margin, not a class: compare it with compare='leaf'.")
    kw["compare"] = compare
    if is_xgb:
        kw["tree_index"] = int(tree_index if tree_index is not None else rules.metadata.get("tree_index", 0))
    if not isinstance(reference, RuleSet):
        if rules.feature_names is not None:
            kw["feature_names"] = list(rules.feature_names)
        if categories:
            kw["categories"] = dict(categories)
    return kw


def _conflict(ctx: C.Context, n_jobs: int | None, t0: float) -> list[Finding]:
    n = ctx.n
    labels = ctx.model.labels
    if n < 2:
        return C.finish_conflict(ctx, [], 0, 0, time.perf_counter() - t0)
    codes = np.asarray([ctx.code(l) for l in labels])
    differ = codes[:, None] != codes[None, :]
    n_pairs = int(np.triu(differ, 1).sum())
    cand = np.argwhere(np.triu(ctx.may & differ, 1))
    items = [(int(p), int(q)) for p, q in cand]
    res = C.run_items(ctx, "conflict", items, n_jobs)
    return C.finish_conflict(ctx, res, n_pairs, len(items), time.perf_counter() - t0)


MONOLITHIC_MS = 2000


def equivalence_finding(spec: C.Spec, n_jobs: int | None) -> Finding:
    """Prove the rules of ``spec`` equivalent to ``spec.reference`` (one finding).

    First one query over the whole Domain (``answer_rules != answer_reference``)
    with a short limit; if Z3 does not settle it, one query per region, each
    with only the regions of the other model that its box can meet.
    """
    t0 = time.perf_counter()
    ectx = C.EquivalenceContext(spec)
    solver = ectx.solver
    a, b = ectx.model_a, ectx.model_b
    saved = solver.timeout_ms
    solver.timeout_ms = min(saved, MONOLITHIC_MS)
    try:
        res = (solver.check([a.answer(ectx.enc, ectx.code) != b.answer(ectx.enc, ectx.code)], [ectx.enc])
               if MONOLITHIC_MS > 0 else C.Outcome("unknown"))
    finally:
        solver.timeout_ms = saved
    if res.status == "unsat":
        return C.finish_equivalence(ectx, [("same", ("all",), None, res.seconds)], time.perf_counter() - t0)
    if res.status == "sat":
        confirmed = C.confirm_equivalence(ectx, [(("all",), res.rows[0], res.seconds)])
        if confirmed[0][0] == "differ":
            return C.finish_equivalence(ectx, confirmed, time.perf_counter() - t0)
    items = C.equivalence_items(ectx)
    res = C.run_items(ectx, "equivalence", items, n_jobs)
    return C.finish_equivalence(ectx, res, time.perf_counter() - t0)


def _vacuous(solver: Any, enc: Any, prop: Property) -> str:
    """For an ``Implies`` proved because no input of the Domain meets its condition, words that say so (a
    condition outside the training data's range, ``if age > 100 then ...``, is proved for no input at all)."""
    from ._properties import Implies

    if not isinstance(prop, Implies) or solver.check([prop.condition.z3(enc.cond)], [enc]).status != "unsat":
        return ""
    return (", vacuously: no input of the Domain meets its condition (check the condition against the Domain's "
            "bounds and levels)")


def check_properties(ctx: C.Context, props: Sequence[Property]) -> list[Finding]:
    """One finding per property, each from a single Z3 query over the Domain."""
    out = []
    names = list(ctx.domain.names)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(ctx.rs.predict(frame[names]), dtype=object)

    for prop in props:
        t0 = time.perf_counter()
        pctx = PropertyContext(ctx.enc, lambda e: ctx.model.answer(e, ctx.code), ctx.code)
        formula, encs = prop.violation(pctx)
        res = ctx.solver.check([formula], encs)
        text = prop.text()
        secs = time.perf_counter() - t0
        if res.status == "unsat":
            vac = _vacuous(ctx.solver, ctx.enc, prop)
            out.append(Finding("property", "proved", f"'{text}' holds on every input of the Domain{vac}.",
                               seconds=secs, property=text, details={"vacuous": True} if vac else {}))
        elif res.status == "unknown":
            out.append(Finding("property", "unknown", f"'{text}' is undecided: {res.reason}.", seconds=secs,
                               property=text, details={"reason": res.reason}))
        elif prop.confirm(predict, res.rows, ctx.domain):
            cex = prop.counterexample(res.rows)
            rows = res.rows
            frame = pd.concat([ctx.frame([r]) for r in rows], ignore_index=True)
            by = list(ctx.rs.decided_by(frame[names]))
            preds = list(predict(frame))
            out.append(Finding("property", "violated", f"'{text}' fails on the counterexample "
                               f"(prediction{'s' if len(rows) > 1 else ''}: {', '.join(map(repr, preds))}).",
                               rules=tuple(b for b in by if b != "default"), counterexample=cex, seconds=secs,
                               property=text, details={"predictions": preds, "decided_by": by}))
        else:
            out.append(Finding("property", "unknown", f"'{text}': the solver's counterexample does not reproduce "
                               f"when evaluated, so nothing is claimed.", seconds=secs, property=text,
                               details={"reason": "counterexample does not reproduce"}))
    return out


def _warn_unknown(findings: Sequence[Finding]) -> None:
    unknown = [f for f in findings if f.status == "unknown"]
    if not unknown:
        return
    reasons = sorted({str(f.details.get("reason", "")) for f in unknown})
    warnings.warn(
        f"{len(unknown)} finding(s) are unknown ({'; '.join(r for r in reasons if r)[:300]}); nothing was "
        f"claimed for them. Raise timeout_ms or time_budget_s to decide them.",
        SolverTimeoutWarning,
        stacklevel=3,
    )
