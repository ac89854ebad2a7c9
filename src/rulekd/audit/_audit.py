"""``audit``: the facts of a model card, computed from a fitted model and data.

Each section is a plain dict (JSON types only), in model-card order. Nothing
is fitted: the model, its teacher and its students are only asked to predict.
"""

from __future__ import annotations

import datetime as _dt
import platform
import time
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ._facts import (
    as_list,
    caveats_from_description,
    fidelity,
    group_metrics,
    group_values,
    jsonable_params,
    label,
    performance,
    plain,
    safe_mean,
)
from ._report import FORMAT, SCHEMA_VERSION, SECTION_TITLES, SECTIONS, AuditReport

__all__ = ["audit"]

# Severity of a verifier finding as the audit reads it (see docs/audit.md).
_QUALITY_CHECKS = ("dead", "redundant_rule", "redundant_condition")


# -- what the model is ----------------------------------------------------------------
class _Subject:
    """The audited object, read through duck typing.

    kind: ``"ruleset"`` (a RuleSet alone), ``"rule_student"`` (``rules_`` and
    no ``student_``), ``"hybrid"`` (``rules_`` and ``student_``), ``"neural"``
    (a rulekd neural student) or ``"model"`` (any other classifier).
    """

    def __init__(self, model: Any):
        from ..rules import RuleSet

        self.model = model
        if isinstance(model, RuleSet):
            if model.default_is_student:
                raise ValueError(
                    "These are a hybrid's rules alone: the rows no rule answers go to its neural student, which a "
                    "RuleSet does not hold, so accuracy and fairness figures would be those of a placeholder class. "
                    "Audit the hybrid itself (rulekd.load its model directory).")
            self.kind = "ruleset"
            self.rules = model
        else:
            if not hasattr(model, "predict"):
                raise TypeError(
                    f"audit() takes a fitted classifier (a rulekd student, a hybrid, any estimator with predict) or "
                    f"a RuleSet; got {type(model).__name__}."
                )
            if hasattr(model, "fit"):
                from sklearn.utils.validation import check_is_fitted

                check_is_fitted(model)
            self.rules = getattr(model, "rules_", None)
            if self.rules is None and hasattr(model, "tree_") and hasattr(model, "classes_"):
                from ..rules import from_sklearn_tree  # a scikit-learn tree: its leaves, as verify() reads it

                self.rules = from_sklearn_tree(model)
            if self.rules is not None and not isinstance(self.rules, RuleSet):
                raise TypeError(f"Expected the model's rules_ to be a RuleSet, got {type(self.rules).__name__}.")
            if self.rules is not None:
                self.kind = "hybrid" if hasattr(model, "student_") else "rule_student"
            elif hasattr(model, "coefs_") and hasattr(model, "encoding_"):
                self.kind = "neural"
            else:
                self.kind = "model"
        self.type = type(model).__name__

    @property
    def classes(self) -> list:
        if self.kind == "ruleset":
            return list(self.rules.classes)
        return list(getattr(self.model, "classes_"))

    def feature_names(self, n: int) -> list[str]:
        for attr in ("feature_names_in_", "_feature_names_"):
            names = getattr(self.model, attr, None)
            if names is not None and len(names) == n:
                return [str(c) for c in names]
        if self.rules is not None and self.rules.feature_names is not None and len(self.rules.feature_names) == n:
            return list(self.rules.feature_names)
        return [f"x{i}" for i in range(n)]

    def frame(self, X: Any) -> pd.DataFrame:
        """The rows as a DataFrame; for rulekd students, their canonical frame (fitted levels, float64)."""
        validate = getattr(self.model, "_validate_X", None)
        if callable(validate) and hasattr(self.model, "domain_"):
            return validate(X, reset=False)
        if isinstance(X, pd.DataFrame):
            return X.rename(columns=str).reset_index(drop=True)
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x features), got an array of shape {arr.shape}.")
        return pd.DataFrame(arr, columns=self.feature_names(arr.shape[1]))

    def predict(self, X: Any, frame: pd.DataFrame) -> np.ndarray:
        if self.kind == "ruleset":
            return _objects(self.rules.predict(frame))
        return _objects(self.model.predict(X))

    def predict_proba(self, X: Any, frame: pd.DataFrame) -> np.ndarray | None:
        if self.kind == "ruleset":
            return self.rules.predict_proba(frame)
        if hasattr(self.model, "predict_proba"):
            return np.asarray(self.model.predict_proba(X), dtype=np.float64)
        return None

    def decided_by(self, X: Any, frame: pd.DataFrame) -> np.ndarray:
        """Who answers each row: a rule id, ``"default"``, ``"student"``, ``"guard:<k>"`` or ``"model"``."""
        if self.kind == "ruleset":
            return _objects(self.rules.decided_by(frame))
        if self.kind in ("rule_student", "hybrid"):
            if hasattr(self.model, "decided_by"):
                return _objects(self.model.decided_by(X))
            return _objects(self.rules.decided_by(frame))
        return np.full(len(frame), "model", dtype=object)


def _objects(a: Any) -> np.ndarray:
    arr = np.asarray(a)
    out = np.empty(len(arr), dtype=object)
    out[:] = [label(v) for v in arr.tolist()]
    return out


def _describe(subject: _Subject) -> str:
    return {
        "ruleset": "a rule set (ordered list or unordered set with a default class)",
        "rule_student": "rules distilled from a teacher; the rules are the model",
        "hybrid": "a hybrid: rules answer where they fire and are trusted, a neural student elsewhere",
        "neural": "a neural network distilled from a teacher",
        "model": "a classifier read through its predict method",
    }[subject.kind]


# -- the teacher -------------------------------------------------------------------------
class _TeacherView:
    def __init__(self, teacher: Any, source: str):
        self.obj = teacher
        self.source = source

    @property
    def estimator(self) -> Any:
        from sklearn.frozen import FrozenEstimator

        est = getattr(self.obj, "estimator", self.obj)
        while isinstance(est, FrozenEstimator):
            est = est.estimator
        return est

    def _is_adapter(self) -> bool:
        from ..teachers import Teacher

        return isinstance(self.obj, Teacher)

    def predict(self, X: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, list]:
        """Labels, probabilities and their class order on the audited rows."""
        if self._is_adapter():
            proba = np.asarray(self.obj.proba(frame), dtype=np.float64)
            classes = [label(c) for c in self.obj.classes_]
            pred = np.empty(len(proba), dtype=object)
            pred[:] = [classes[k] for k in np.argmax(proba, axis=1)]
            return pred, proba, classes
        pred = _objects(self.obj.predict(X))
        proba = None
        classes = [label(c) for c in getattr(self.obj, "classes_", np.unique(pred))]
        if hasattr(self.obj, "predict_proba"):
            proba = np.asarray(self.obj.predict_proba(X), dtype=np.float64)
        return pred, proba, classes

    def describe(self) -> dict:
        est = self.estimator
        params = {}
        if hasattr(est, "get_params"):
            try:
                params = jsonable_params(est.get_params(deep=False))
            except Exception:  # an estimator whose get_params fails is still auditable
                params = {}
        return {"present": True, "source": self.source, "type": type(est).__name__,
                "adapter": type(self.obj).__name__ if self._is_adapter() else None, "parameters": params}


def _resolve_teacher(subject: _Subject, teacher: Any) -> _TeacherView | None:
    if teacher is not None:
        return _TeacherView(teacher, "argument")
    t = getattr(subject.model, "teacher_", None)
    if t is not None:
        return _TeacherView(t, "model.teacher_")
    return None


# -- the sections ------------------------------------------------------------------------
def _data_section(frame: pd.DataFrame, y: np.ndarray, classes: list, description: str | None) -> dict:
    features = []
    for c in frame.columns:
        col = frame[c]
        miss = int(col.isna().sum())
        entry: dict[str, Any] = {"name": str(c), "missing": miss,
                                 "missing_share": miss / len(col) if len(col) else None}
        if isinstance(col.dtype, pd.CategoricalDtype) or col.dtype == object or pd.api.types.is_string_dtype(col):
            entry["kind"] = "categorical"
            entry["levels"] = int(col.nunique(dropna=True))
        elif pd.api.types.is_bool_dtype(col.dtype):
            entry["kind"] = "binary"
            entry["levels"] = int(col.nunique(dropna=True))
        else:
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            entry["kind"] = "numeric"
            finite = x[~np.isnan(x)]
            entry["min"] = float(finite.min()) if len(finite) else None
            entry["max"] = float(finite.max()) if len(finite) else None
            entry["mean"] = float(finite.mean()) if len(finite) else None
        features.append(entry)
    counts = []
    seen = set()
    for c in classes:
        n = int(sum(v == c for v in y))
        counts.append({"class": label(c), "n": n, "share": n / len(y) if len(y) else None})
        seen.add(c)
    for c in pd.unique(pd.Series(y, dtype=object)):
        if c not in seen:
            n = int(sum(v == c for v in y))
            counts.append({"class": label(c), "n": n, "share": n / len(y), "unknown_to_model": True})
    return {
        "n_rows": int(len(frame)),
        "n_features": int(frame.shape[1]),
        "class_balance": counts,
        "features": features,
        "rows_with_missing": int(frame.isna().any(axis=1).sum()),
        "description": description,
    }


def _model_section(subject: _Subject, teacher: _TeacherView | None) -> dict:
    m = subject.model
    components = []
    rs = subject.rules
    if rs is not None:
        components.append({
            "role": "rules", "type": "RuleSet",
            "size": {"rules": len(rs), "conditions": rs.n_conditions, "features": len(rs.features)},
            "ordered": rs.ordered, "default": None if subject.kind == "hybrid" else label(rs.default),
            "source": plain(rs.metadata.get("source")),
        })
    if subject.kind == "neural":
        components.append(_network_component(m, "network"))
    student = getattr(m, "student_", None)
    if student is not None:
        components.append(_network_component(student, "student"))
    base = getattr(m, "base_student_", None)  # a hybrid with focus_student: the student trained on every row
    if base is not None:
        components.append(_network_component(base, "base student"))
    guards = getattr(m, "guards_", None)
    if guards is not None:
        gl = list(guards.values()) if isinstance(guards, Mapping) else as_list(guards)
        components.append({"role": "guards", "type": "guards", "size": {"guards": len(gl)},
                           "items": [g.text() if callable(getattr(g, "text", None)) else str(g) for g in gl]})
    params = {}
    if subject.kind != "ruleset" and hasattr(m, "get_params"):
        try:
            params = jsonable_params(m.get_params(deep=False))
        except Exception:
            params = {}
    fitted = {}
    for attr in ("fidelity_", "transparency_", "complexity_", "n_parameters_", "n_epochs_", "best_epoch_",
                 "feature_kind_", "n_features_in_"):
        if hasattr(m, attr):
            fitted[attr] = plain(getattr(m, attr))
    return {
        "type": subject.type,
        "kind": subject.kind,
        "description": _describe(subject),
        "classes": [label(c) for c in subject.classes],
        "parameters": params,
        "fitted": fitted,
        "teacher": teacher.describe() if teacher is not None else {"present": False},
        "components": components,
    }


def _network_component(net: Any, role: str) -> dict:
    size: dict[str, Any] = {}
    if hasattr(net, "n_parameters_"):
        size["parameters"] = int(net.n_parameters_)
    elif hasattr(net, "coefs_"):
        size["parameters"] = int(sum(np.size(w) for w in net.coefs_) + sum(np.size(b) for b in net.intercepts_))
    if hasattr(net, "coefs_"):
        size["layers"] = [int(np.shape(w)[1]) for w in net.coefs_]
    hidden = getattr(net, "hidden_layer_sizes", None)
    out = {"role": role, "type": type(net).__name__, "size": size}
    if hidden is not None:
        out["hidden_layer_sizes"] = plain(list(np.atleast_1d(hidden)))
    return out


def _transparency_section(subject: _Subject, decided: np.ndarray, y: np.ndarray, pred: np.ndarray,
                          teacher_pred: np.ndarray | None, X: Any) -> dict:
    rule_ids = set()
    if subject.rules is not None:
        rule_ids = {subject.rules.rule_id(i) for i in range(len(subject.rules))}

    def part_of(d: Any) -> str:
        if d in rule_ids:
            return "rule"
        if d == "default":
            return "default"
        if d == "student":
            return "student"
        if isinstance(d, str) and d.startswith("guard"):
            return "guard"
        return "model"

    parts = np.asarray([part_of(d) for d in decided], dtype=object)
    correct = np.fromiter((a == b for a, b in zip(pred, y)), dtype=bool, count=len(y))
    agree = None if teacher_pred is None else np.fromiter(
        (a == b for a, b in zip(pred, teacher_pred)), dtype=bool, count=len(y))
    titles = {"rule": "a rule", "default": "the rule set's default class", "student": "the neural student",
              "guard": "a guard", "model": "the network" if subject.kind == "neural" else "the model"}
    rows = []
    for p in ("rule", "default", "guard", "student", "model"):
        m = parts == p
        if not m.any() and not (p == "rule" and subject.rules is not None):
            continue
        rows.append({"part": p, "answered_by": titles[p], "n": int(m.sum()), "share": safe_mean(m) if len(m) else None,
                     "accuracy": safe_mean(correct[m]),
                     "fidelity": None if agree is None else safe_mean(agree[m])})
    symbolic = np.isin(parts, ["rule", "default"])
    out: dict[str, Any] = {
        "transparency": safe_mean(symbolic),
        "definition": "share of rows answered by a rule or by the rule set's default class",
        "parts": rows,
        "guard_share": safe_mean(parts == "guard"),
        "fitted_transparency": plain(getattr(subject.model, "transparency_", None)) if subject.kind != "ruleset" else None,
        "curve": None,
        "notes": [],
    }
    if subject.kind == "neural":
        out["notes"].append("A neural network answers every row: no row is answered by a readable rule.")
    if subject.kind == "model":
        out["notes"].append("The model is not a rulekd rule model: every row counts as answered by the model.")
    if hasattr(subject.model, "transparency_curve") and subject.kind != "ruleset":
        try:
            curve = subject.model.transparency_curve(X, y)
            curve = pd.DataFrame(curve)
            out["curve"] = [{str(k): plain(v) for k, v in r.items()} for r in curve.to_dict(orient="records")]
        except Exception as exc:  # report, do not crash: the curve is an extra
            out["notes"].append(f"transparency_curve failed: {type(exc).__name__}: {exc}")
    return out


def _rules_section(subject: _Subject, frame: pd.DataFrame, decided: np.ndarray, y: np.ndarray,
                   verification: dict) -> dict:
    rs = subject.rules
    if rs is None:
        return {"present": False, "rules": [], "text": None,
                "notes": [f"{subject.type} has no rules: nothing to list."]}
    flags: dict[str, list[dict]] = {}
    for f in verification.get("findings", []):
        if f["check"] in _QUALITY_CHECKS and f["status"] != "proved" and f["rules"]:
            flags.setdefault(f["rules"][0], []).append(
                {"check": f["check"], "status": f["status"], "condition": f["details"].get("condition")})
    try:
        matched = rs.match(frame)
    except Exception:  # e.g. a hybrid whose rules read another frame: matches stay unknown
        matched = None
    held_out = getattr(subject.model, "rule_precision_", None) or {}
    rows = []
    ids = [rs.rule_id(i) for i in range(len(rs))]
    for i, (rid, r) in enumerate(zip(ids, rs.rules)):
        ans = np.asarray([d == rid for d in decided], dtype=bool)
        hit = np.asarray([v == r.prediction for v in y], dtype=bool)
        fl = flags.get(rid, [])
        rows.append({
            "id": rid,
            "rule": r.condition_text(),
            "text": str(r),
            "class": label(r.prediction),
            "n_conditions": len(r.conditions),
            "matches": None if matched is None else int(matched[:, i].sum()),
            "support": int(ans.sum()),
            "support_share": safe_mean(ans),
            "precision": safe_mean(hit[ans]),
            "fit_support": int(r.support),
            "fit_confidence": float(r.confidence),
            "held_out_precision": plain(held_out.get(rid)) if isinstance(held_out, Mapping) else None,
            "dead": any(x["check"] == "dead" and x["status"] == "violated" for x in fl),
            "redundant": any(x["check"] == "redundant_rule" and x["status"] == "violated" for x in fl),
            "redundant_conditions": [x["condition"] for x in fl
                                     if x["check"] == "redundant_condition" and x["status"] == "violated"],
            "undecided": sorted({x["check"] for x in fl if x["status"] == "unknown"}),
        })
    d = np.asarray([v == "default" for v in decided], dtype=bool)
    hit = np.asarray([v == rs.default for v in y], dtype=bool)
    default = {"class": label(rs.default), "answered_by": "default class", "support": int(d.sum()),
               "support_share": safe_mean(d), "precision": safe_mean(hit[d])}
    if subject.kind == "hybrid":
        # A hybrid's default is a placeholder: rows no rule covers go to the guards or the student.
        d = np.asarray([v == "student" for v in decided], dtype=bool)
        default = {"class": None, "answered_by": "the neural student", "support": int(d.sum()),
                   "support_share": safe_mean(d), "precision": None}
    # The per-rule checks the verifier column speaks for (a hybrid's rules never get redundant_rule; checks=
    # may leave out any of them): "ok" only says that those found nothing.
    checked = [c for c in ("dead", "redundant_rule", "redundant_condition")
               if verification.get("ran") and c in verification.get("checks", [])]
    semantics = ("ordered list: the first matching rule answers" if rs.ordered else
                 "unordered set: the matching rule of highest confidence answers")
    guards = getattr(subject.model, "guards_", ()) if subject.kind == "hybrid" else ()
    if any(type(g).__name__ == "Implies" or (isinstance(g, str) and g.strip().lower().startswith(("if ", "implies")))
           for g in guards or ()):
        semantics += "; an Implies guard whose condition holds answers before any rule"
    return {
        "present": True,
        "ordered": rs.ordered,
        "semantics": semantics,
        "rules": rows,
        "default": default,
        "text": rs.to_text(),
        "verified": bool(checked),
        "checked": checked,
        "notes": [],
    }


def _severity(f: dict, kind: str) -> str:
    if f["status"] == "proved":
        return "proved"
    if f["status"] == "unknown":
        return "unknown"
    if f["check"] == "gap":
        return "information"
    if f["check"] in _QUALITY_CHECKS:
        return "warning"
    return "violated"


def _hybrid_verifier(model: Any) -> Any:
    """``rulekd.hybrid.verify_hybrid`` when ``model`` is a rulekd HybridClassifier, else ``None``."""
    try:
        from ..hybrid import HybridClassifier, verify_hybrid
    except ImportError:
        return None
    return verify_hybrid if isinstance(model, HybridClassifier) else None


def _run(fn: Any, *args: Any, **kw: Any) -> tuple[Any, str | None, str | None]:
    """``(report, None, None)``, or ``(None, status, reason)`` when the verifier raised."""
    try:
        return fn(*args, **kw), None, None
    except (TypeError, NotImplementedError) as exc:
        return None, "not_supported", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # record, do not crash: the rest of the audit stands
        return None, "error", f"{type(exc).__name__}: {exc}"


def _verification_section(subject: _Subject, frame: pd.DataFrame, properties: Sequence, domain: Any,
                          checks: Any, timeout_ms: int, time_budget_s: float | None, n_jobs: int | None,
                          run: bool) -> dict:
    from ..verify import parse_property, verify

    props = [parse_property(p) for p in properties]  # a syntax error is the caller's: raise it now
    base: dict[str, Any] = {"ran": False, "status": "not_run", "reason": None, "verifier_status": None,
                            "scope": None, "properties": [p.text() for p in props], "findings": [],
                            "counts": {}, "checks": [], "skipped": {}, "seconds": None, "domain": None,
                            "time_budget_s": time_budget_s, "timeout_ms": int(timeout_ms), "notes": []}
    if not run:
        base["reason"] = "verification was switched off (verify=False)"
        return base
    if subject.kind == "neural" and not props:
        base["status"] = "not_supported"
        base["reason"] = ("a neural student has no rules to check; pass properties= to prove them on the network "
                          "itself (rulekd.verify.verify_network)")
        return base
    hybrid = subject.kind == "hybrid"
    whole = _hybrid_verifier(subject.model) if hybrid else None
    # A hybrid's rule part is checked as a rule list over the hybrid's Domain (verify(hybrid)
    # itself proves properties on the whole composition, done below).
    target = subject.rules if subject.kind == "ruleset" or hybrid else subject.model
    if hybrid and domain is None:
        domain = getattr(subject.model, "domain_", None)
    data = None
    try:
        from ..domain import Domain
        from ..verify._verify import resolve_target

        if subject.kind == "neural":  # a network's Domain: the one given, else its own (as verify_network)
            dom = domain if domain is not None else subject.model.domain_
            if not isinstance(dom, Domain):
                dom = Domain.from_dict(dom) if isinstance(dom, dict) else Domain.from_json(dom)
        else:
            _, dom, _, _, _ = resolve_target(target, domain)
        if all(n in frame.columns for n in dom.names):
            data = frame
            # "Every input of the Domain" does not speak for audited rows outside it (values beyond its bounds).
            base["rows_outside_domain"] = int((~dom.contains(frame)).sum())
        base["domain"] = plain(dom.to_dict())
    except Exception:
        pass
    t0 = time.perf_counter()
    # The rule part. A hybrid's rules_ has a placeholder default (the student answers there), so
    # properties are proved on the whole hybrid, never on its rules alone.
    rule_props = [] if hybrid else props
    rule_checks = checks
    dropped: dict[str, str] = {}
    if hybrid:
        from ..verify import CHECKS

        asked = ([c for c in CHECKS if c != "equivalence"] if checks == "all" else
                 [] if checks in (None, "none") else as_list(checks))
        if "redundant_rule" in asked:
            dropped["redundant_rule"] = ("a hybrid's rules have a placeholder default: removing a rule sends its "
                                         "rows to the student, so redundancy against the default says nothing")
        rule_checks = [c for c in asked if c != "redundant_rule"] or "none"
    if subject.kind == "neural":
        rule_checks = "none"  # a network has no rules to check: its properties only
    report, fail, reason = _run(verify, target, domain, properties=rule_props, checks=rule_checks,
                                timeout_ms=int(timeout_ms), n_jobs=n_jobs, data=data, time_budget_s=time_budget_s)
    if report is None:
        base["status"], base["reason"] = fail, reason
        return base
    reports = [("network" if subject.kind == "neural" else "rules", report)]
    if hybrid and whole is not None:
        guards = list(getattr(subject.model, "guards_", ()) or ())
        base["guards"] = [g.text() if hasattr(g, "text") else str(g) for g in guards]
        texts = {p.text() for p in props}
        whole_props = props + [g for g in guards if not hasattr(g, "text") or g.text() not in texts]
        if whole_props:
            left = None if time_budget_s is None else max(1.0, time_budget_s - (time.perf_counter() - t0))
            rep2, fail2, reason2 = _run(whole, subject.model, whole_props, domain=domain, checks="none",
                                        timeout_ms=int(timeout_ms), time_budget_s=left)
            if rep2 is None:
                base["notes"].append(f"The whole-hybrid verification failed ({fail2}): {reason2}")
            else:
                reports.append(("hybrid", rep2))
    elif hybrid and props:
        base["notes"].append(
            f"{subject.type} has no whole-hybrid verifier (rulekd.hybrid.verify_hybrid reads a "
            f"HybridClassifier): the properties were not verified.")
    findings = []
    for scope, rep in reports:
        for f in rep.to_dict()["findings"]:
            f = dict(f)
            f["scope"] = scope
            f["severity"] = _severity(f, subject.kind)
            if f["check"] == "gap" and f["status"] == "violated":
                by = _answered_by(subject, f.get("counterexample")) if hybrid else None
                f["note"] = (
                    (f"No rule matches here; {by} (an Implies guard) answers this input, the neural student "
                     f"the rest of the region outside the guard." if by and by.startswith("guard:") else
                     "No rule matches here; the neural student answers these inputs"
                     + (", except where an Implies guard answers." if _implies_guards(subject) else "."))
                    if hybrid else
                    f"No rule matches here; the default class ({subject.rules.default!r}) answers, as designed. "
                    "This is information, not a violation."
                )
            findings.append(f)
    sev = [f["severity"] for f in findings]
    status = "violated" if "violated" in sev else "unknown" if "unknown" in sev else "proved"
    if not findings:  # checks="none" and no property: nothing was proved
        base["status"], base["reason"] = "not_run", "no check and no property was asked for (checks='none')"
        return base
    raw = [rep.status for _, rep in reports]
    if hybrid:
        scope = ("the hybrid's rules (rules_ over domain_)" +
                 ("; the properties and guards on the whole hybrid (guards, rules and guarded student, "
                  "rulekd.hybrid.verify_hybrid)" if len(reports) > 1 else "; the student is not verified"))
    elif subject.kind == "neural":
        scope = "the network over the Domain"
    else:
        scope = "the rules over the Domain"
    skipped: dict = dict(dropped)
    for _, rep in reports:
        skipped.update(rep.skipped)
    base.update({
        "ran": True,
        "status": status,
        "verifier_status": "violated" if "violated" in raw else "unknown" if "unknown" in raw else "proved",
        "scope": scope,
        "whole_hybrid": len(reports) > 1,
        "findings": findings,
        "counts": {s: sev.count(s) for s in ("proved", "violated", "warning", "information", "unknown")},
        "checks": list(dict.fromkeys(c for _, rep in reports for c in rep.checks)),
        "skipped": skipped,
        "seconds": float(sum(rep.seconds for _, rep in reports)),
        "target": plain(report.target),
    })
    return base


def _answered_by(subject: _Subject, row: Any) -> str | None:
    """What answers a finding's input (``decided_by``), or None when it cannot be read back."""
    if not isinstance(row, Mapping) or not hasattr(subject.model, "decided_by"):
        return None
    try:
        return str(np.asarray(subject.model.decided_by(subject.frame(pd.DataFrame([dict(row)]))))[0])
    except Exception:  # an input the model's own checks refuse: say nothing rather than guess
        return None


def _implies_guards(subject: _Subject) -> bool:
    from ..verify import Implies

    return any(isinstance(g, Implies) for g in getattr(subject.model, "guards_", ()) or ())


def _check_bins(bins: Any, protected: Mapping) -> None:
    """``protected_bins``: a mapping from protected attributes to numeric cut points."""
    if bins is None:
        return
    if not isinstance(bins, Mapping):
        raise ValueError(f"protected_bins must be a dict from protected attribute to cut points, e.g. "
                         f"{{'age': [30, 50]}}; got {type(bins).__name__}.")
    for name, cuts in bins.items():
        if name not in protected:
            raise ValueError(f"protected_bins names {name!r}, which is not a protected attribute "
                             f"({sorted(map(str, protected))}); pass it in protected= or fix the name.")
        values = [cuts] if isinstance(cuts, (str, bytes)) or not hasattr(cuts, "__iter__") else list(cuts)
        if not values or any(isinstance(v, (bool, str, bytes)) or not isinstance(v, (int, float, np.number))
                             or not np.isfinite(v) for v in values):
            raise ValueError(f"protected_bins[{name!r}] must be finite numeric cut points, e.g. [30, 50]; "
                             f"got {cuts!r}.")
        dtype = protected[name].dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype) \
                or isinstance(dtype, pd.CategoricalDtype):  # group_values makes each of its values a group
            raise ValueError(f"protected_bins[{name!r}]: {name!r} holds levels ({dtype}), each a group of its own; "
                             f"cut points apply to numbers only. Drop it from protected_bins, or pass the attribute "
                             f"as numbers.")


def _in_class_order(proba: np.ndarray | None, own: list, classes: list) -> tuple[np.ndarray | None, list]:
    """The teacher's probability columns in the model's class order (where they hold the same classes),
    so that both reliability diagrams describe the same class."""
    if proba is None or len(own) != len(classes) or own == classes:
        return proba, own
    where = [next((j for j, c in enumerate(own) if c == k), None) for k in classes]
    if None in where or len(set(where)) != len(where):
        return proba, own
    return proba[:, where], list(classes)


def _disaggregated_section(protected: dict[str, pd.Series], y: np.ndarray, pred: np.ndarray, classes: list,
                           pos_label: Any, bins: Mapping | None, n_bins: int, max_levels: int,
                           min_group_size: int) -> dict:
    if pos_label is not None:
        positives = [pos_label]
    elif len(classes) == 2:
        positives = [classes[1]]
    else:
        positives = list(classes)
    attrs = []
    for name, values in protected.items():
        groups, info = group_values(values, name, bins=(bins or {}).get(name), n_bins=n_bins,
                                    max_levels=max_levels)
        metrics = [group_metrics(groups, info["order"], y, pred, p, min_group_size=min_group_size)
                   for p in positives]
        attrs.append({"name": name, "grouping": info, "metrics": metrics,
                      "small_groups": [r["group"] for r in metrics[0]["groups"] if r["small"]] if metrics else []})
    return {
        "positive_classes": [label(p) for p in positives],
        "min_group_size": int(min_group_size),
        "attributes": attrs,
        "definitions": {
            "selection_rate": "share of the group's rows predicted as the positive class",
            "tpr": "of the group's rows whose label is the positive class, the share predicted positive",
            "fpr": "of the group's other rows, the share predicted positive",
            "gap": "largest minus smallest value over the groups where the metric is defined",
            "selection_rate_ratio": "smallest over largest selection rate",
            "selection_rate_ratio_large_groups": "the same over the groups that are not small (None with fewer "
                                                 "than two of them)",
        },
        "notes": [] if protected else ["No protected attribute was given (protected=...)."],
    }


def _protected_columns(protected: Any, X: Any, frame: pd.DataFrame) -> dict[str, pd.Series]:
    if protected is None:
        return {}
    n = len(frame)
    out: dict[str, pd.Series] = {}
    if isinstance(protected, pd.DataFrame):
        items = [(str(c), protected[c]) for c in protected.columns]
    elif isinstance(protected, pd.Series):
        items = [(str(protected.name) if protected.name is not None else "protected", protected)]
    elif isinstance(protected, Mapping):
        items = [(str(k), v) for k, v in protected.items()]
    else:
        items = []
        for name in as_list(protected):
            if not isinstance(name, str):
                raise TypeError(
                    f"protected must be column names of X, a DataFrame or Series aligned with X, or a dict of "
                    f"name -> values; got an item {name!r}."
                )
            src = X if isinstance(X, pd.DataFrame) and name in X.columns else frame
            if src is frame and isinstance(X, pd.DataFrame) and len(X) == len(frame):
                src = frame.set_axis(X.index)  # X's own rows (its column names were not text)
            if name not in src.columns:
                raise ValueError(
                    f"The protected attribute {name!r} is not a column of X (columns: {list(map(str, frame.columns))[:20]}). "
                    f"Pass its values as protected=pd.DataFrame({{{name!r}: values}}) aligned with X."
                )
            items.append((name, src[name]))
    x_index = X.index if isinstance(X, pd.DataFrame) else None
    for name, values in items:
        if isinstance(values, pd.Series) and x_index is not None and not values.index.equals(x_index):
            # Neither by label nor by position can be assumed (as for y): X's labels in another order
            # are refused like any other index, with both fixes named.
            raise ValueError(
                f"The protected attribute {name!r} has an index that is not X's: pass it with X's index "
                f"(protected.loc[X.index], rows matched by label) or as a plain array in X's row order "
                f"(.to_numpy(), rows matched by position)."
            )
        s = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
        if len(s) != n:
            raise ValueError(f"The protected attribute {name!r} has {len(s)} values but X has {n} rows.")
        out[name] = s
    return out


def _summary_section(subject: _Subject, data: dict, perf: dict, fid: dict, trans: dict, ver: dict,
                     title: str | None) -> dict:
    headline = {
        "accuracy": perf["model"]["accuracy"],
        "accuracy_ci": perf["model"]["accuracy_ci"],
        "balanced_accuracy": perf["model"]["balanced_accuracy"],
        "roc_auc": perf["model"]["roc_auc"],
        "fidelity": fid.get("agreement") if fid["available"] else None,
        "transparency": trans["transparency"],
        "rules": len(subject.rules) if subject.rules is not None else None,
    }
    return {
        "title": title or f"Audit of {subject.type}",
        "model_type": subject.type,
        "model_kind": subject.kind,
        "description": _describe(subject),
        "n_rows": data["n_rows"],
        "n_features": data["n_features"],
        "classes": [label(c) for c in subject.classes],
        "headline": headline,
        "teacher": fid.get("teacher_type"),
        "verification_status": ver["status"],
        "verification_counts": ver["counts"],
    }


def _limitations_section(subject: _Subject, description: str | None, teacher: _TeacherView | None,
                         ver: dict, disagg: dict, data: dict, fid: dict) -> dict:
    items: list[dict] = []

    def add(kind: str, text: str) -> None:
        items.append({"kind": kind, "text": text})

    for c in caveats_from_description(description):
        add("dataset", c)
    add("data", "Every number here is measured on the rows given to audit(); on the training rows it overstates "
                "how the model does on new data.")
    if data["n_rows"] < 200:
        add("data", f"Only {data['n_rows']} rows were audited: the metrics carry wide uncertainty.")
    if teacher is None:
        add("teacher", "No teacher was given and the model has none (teacher_): fidelity is not reported.")
    elif not fid["available"]:
        add("teacher", f"The teacher could not be evaluated on these rows: {fid.get('reason')}")
    status = ver["status"]
    if status == "not_supported":
        add("verification", f"{subject.type} cannot be verified by rulekd.verify: {ver['reason']}")
    elif status == "error":
        add("verification", f"Verification failed: {ver['reason']}")
    elif status == "not_run":
        add("verification", "Verification was not run.")
    else:
        unknown = [f for f in ver.get("findings", []) if f.get("severity") == "unknown"]
        reasons: dict[str, int] = {}
        for f in unknown:  # a reason that is not a timeout (a hybrid's "needs the network's weights"), else ""
            r = (f.get("details") or {}).get("reason")
            r = r if isinstance(r, str) and not any(w in r.lower() for w in ("timeout", "time budget", "cancel")) \
                else ""
            reasons[r] = reasons.get(r, 0) + 1
        for r, n in reasons.items():
            if r:
                add("verification", f"{n} verification finding(s) are unknown ({r}): nothing is claimed for them; "
                                    f"a larger time budget does not decide them.")
            else:
                add("verification", f"{n} verification finding(s) are unknown (solver timeout or time budget): "
                                    f"nothing is claimed for them. Raise timeout_ms or time_budget_s to decide them "
                                    f"(`rulekd audit --time-budget-s`).")
        outside = ver.get("rows_outside_domain") or 0
        if outside:
            add("verification", f"{outside} of the {data['n_rows']} audited rows lie outside the Domain the "
                                f"verification covers (Domain.contains; e.g. a value beyond its bounds): what is "
                                f"proved for every input of the Domain does not speak for them.")
        if ver.get("target", {}).get("domain_inferred"):
            add("verification", "No Domain was given: the verifier assumed every feature unbounded and possibly "
                                "missing, so its verdicts speak about more inputs than the data can hold.")
        if subject.kind == "hybrid" and not ver.get("whole_hybrid"):
            add("verification", "Only the hybrid's rules were verified; rows answered by the neural student are "
                                "not covered by any proof here.")
        for n in ver.get("notes", []):
            add("verification", n)
    for a in disagg["attributes"]:
        if a["small_groups"]:
            add("groups", f"Protected attribute {a['name']!r}: groups {a['small_groups']} have fewer than "
                          f"{disagg['min_group_size']} rows; their rates and gaps are unreliable.")
        if a["grouping"].get("binned"):
            add("groups", f"Protected attribute {a['name']!r} is numeric and was cut into groups "
                          f"({a['grouping']['method']}, cut points {a['grouping']['cut_points']}); other cut points "
                          f"can show other gaps.")
    if len(disagg["positive_classes"]) > 1:
        add("groups", "Multiclass target: the disaggregated rates are one-vs-rest, one table per class.")
    return {"items": items}


# -- the entry point ------------------------------------------------------------------------
def audit(
    model: Any,
    X: Any,
    y: Any,
    *,
    teacher: Any = None,
    protected: Any = None,
    properties: Iterable[Any] = (),
    domain: Any = None,
    pos_label: Any = None,
    protected_bins: Mapping[str, Sequence[float]] | None = None,
    n_bins: int = 4,
    max_levels: int = 10,
    min_group_size: int = 30,
    verify: bool = True,
    checks: str | Sequence[str] = "all",
    timeout_ms: int = 5_000,
    time_budget_s: float | None = 60.0,
    n_jobs: int | None = None,
    description: str | None = None,
    title: str | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> AuditReport:
    """Audit a fitted model on labelled rows: a model card as data, HTML and JSON.

    Nothing is fitted. The model (and its teacher) only predict; the rules are
    verified with :func:`rulekd.verify.verify`.

    Parameters
    ----------
    model : rulekd student, hybrid, RuleSet or classifier
        A fitted :class:`~rulekd.DistilledRuleClassifier`,
        :class:`~rulekd.DistilledTreeClassifier`,
        :class:`~rulekd.DistilledMLPClassifier`, a hybrid (``rules_``,
        ``student_``, ``decided_by``), a :class:`~rulekd.RuleSet`, or any
        fitted classifier with ``predict``.
    X : DataFrame or array of shape (n_rows, n_features)
        The rows to audit (held-out rows give honest numbers).
    y : array-like of shape (n_rows,)
        Their true labels.
    teacher : Teacher or fitted classifier, optional
        The reference for fidelity; default the model's ``teacher_``.
        A rulekd :class:`~rulekd.teachers.Teacher` adapter is given the
        model's canonical frame, any other classifier ``X`` as passed.
    protected : str, list of str, DataFrame, Series or dict, optional
        Protected attributes: column names of ``X``, or values aligned with
        ``X`` (e.g. ``bunch.protected``).
    properties : iterable of Property or str
        Properties to verify (:func:`rulekd.verify.parse_property` grammar).
    domain : Domain, optional
        The legal inputs for verification; default the model's ``domain_``.
    pos_label : label, optional
        The positive class of the disaggregated metrics; default the second
        class when there are two, else every class one-vs-rest.
    protected_bins : dict of name -> cut points, optional
        Cut points for numeric protected attributes (e.g. ``{"age": [25, 40, 60]}``).
    n_bins : int, default=4
        Quantile groups for a numeric protected attribute without cut points.
    max_levels : int, default=10
        A numeric protected attribute with at most this many distinct values
        is grouped by value, not binned.
    min_group_size : int, default=30
        Groups with fewer rows are flagged as small.
    verify : bool, default=True
        Run the verifier.
    checks : "all" or sequence of str, default="all"
        The verifier's checks.
    timeout_ms : int, default=5000
        Z3 limit per query.
    time_budget_s : float or None, default=60.0
        Overall verification time budget; what is left undecided is ``unknown``.
    n_jobs : int or None
        Workers for the verifier.
    description : str or Bunch, optional
        The data set's description (``bunch.DESCR``, or the bunch itself);
        it is shown in the data section and its ``Caveats:`` list goes into
        the limitations.
    title : str, optional
    provenance : mapping, optional
        More facts about where the audited data and model come from, added
        to the report's ``provenance`` as given (``rulekd audit`` adds the
        data file and the model directory with their SHA-256). The report
        always records SHA-256 fingerprints of the audited rows and of the
        model (see ``docs/audit.md``).

    Returns
    -------
    AuditReport

    Examples
    --------
    >>> from rulekd import Condition, Rule, RuleSet
    >>> rs = RuleSet((Rule((Condition("x0", ">", 0.5),), 1),), classes=(0, 1), default=0,
    ...              feature_names=("x0",))
    >>> report = audit(rs, [[0.2], [0.9], [0.7]], [0, 1, 0], verify=False)
    >>> report["performance"]["model"]["accuracy"]
    0.6666666666666666
    >>> report["fidelity"]["available"]
    False
    """
    subject = _Subject(model)
    description = getattr(description, "DESCR", description)  # a data set's Bunch works too
    if isinstance(y, pd.Series) and isinstance(X, pd.DataFrame) and len(y) == len(X) \
            and not y.index.equals(X.index) and set(y.index) == set(X.index):
        # X's labels in another order: by label and by position (as scikit-learn reads y) give other figures,
        # and neither can be assumed (a reordered y was read by position, silently). Another index entirely
        # (y.reset_index) is read by position, as before.
        raise ValueError("y's index holds X's row labels in another order: pass y.loc[X.index] (rows matched by "
                         "label) or y.to_numpy() (rows matched by position).")
    if isinstance(y, (pd.Series, pd.Index)):
        y = y.to_numpy()
    elif isinstance(y, (list, tuple)) and np.ndim(y) == 1:  # np.asarray([0, 1, "x"]) makes every label text
        y = np.array(list(y) + [None], dtype=object)[:-1]
    y_arr = _objects(np.asarray(y).ravel() if np.ndim(y) else np.asarray([y]))
    if len(y_arr) == 0 and (X.shape[0] if hasattr(X, "shape") else len(X)) == 0:  # before the model's checks
        raise ValueError("audit() needs at least one row.")
    frame = subject.frame(X)
    if len(frame) != len(y_arr):
        raise ValueError(f"X has {len(frame)} rows but y has {len(y_arr)} labels; pass aligned X and y.")
    if len(frame) == 0:
        raise ValueError("audit() needs at least one row.")
    def whole(v: Any) -> bool:  # numpy integers too (np.int64(3) was refused, as max_levels was not)
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not (whole(n_bins) and n_bins >= 2):
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}.")
    if not (whole(min_group_size) and min_group_size >= 1):
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}.")
    classes = [label(c) for c in subject.classes]
    if not any(v == c for v in set(y_arr.tolist()) for c in classes):
        raise ValueError(
            f"None of the labels in y ({sorted(map(str, set(y_arr.tolist())))[:10]}) is a class of the model "
            f"({classes[:10]}); pass the true labels in the model's own terms."
        )
    if pos_label is not None and label(pos_label) not in classes:
        raise ValueError(f"pos_label {pos_label!r} is not one of the model's classes {classes}.")
    if isinstance(max_levels, bool) or not isinstance(max_levels, (int, np.integer)) or max_levels < 1:
        raise ValueError(f"max_levels must be a positive integer (numeric groups with at most that many values "
                         f"are not cut), got {max_levels!r}.")
    if verify:  # the verifier's own arguments: refused here, not reported as a verification that failed
        from ..verify._properties import check_time_budget, check_timeout_ms
        from ..verify._verify import _resolve_checks, check_n_jobs

        check_timeout_ms(timeout_ms)
        check_time_budget(time_budget_s)
        check_n_jobs(n_jobs)
        _resolve_checks(checks, has_reference=True)
    Xin = X if subject.kind == "ruleset" or isinstance(X, pd.DataFrame) else np.asarray(X)
    pred = subject.predict(Xin, frame)
    proba = subject.predict_proba(Xin, frame)
    decided = subject.decided_by(Xin, frame)
    protected_cols = _protected_columns(protected, X, frame)
    _check_bins(protected_bins, protected_cols)

    tview = _resolve_teacher(subject, teacher)
    perf: dict[str, Any] = {"model": performance(y_arr, pred, proba, classes), "teacher": None}
    fid: dict[str, Any] = {"available": False, "teacher_type": None}
    teacher_pred = None
    if tview is not None:
        fid["teacher_type"] = tview.describe()["type"]
        fid["source"] = tview.source
        try:
            teacher_pred, t_proba, t_classes = tview.predict(Xin, frame)
        except Exception as exc:  # report, do not crash
            fid["reason"] = f"{type(exc).__name__}: {exc}"
        else:
            t_proba, t_classes = _in_class_order(t_proba, t_classes, classes)
            perf["teacher"] = performance(y_arr, teacher_pred, t_proba, t_classes)
            fid.update(fidelity(pred, teacher_pred, classes))
            fid["available"] = True
    else:
        fid["reason"] = "no teacher: none was given and the model has no teacher_"
    fid["fitted_fidelity"] = plain(getattr(subject.model, "fidelity_", None)) if subject.kind != "ruleset" else None
    fid["fitted_fidelity_note"] = "agreement with the teacher on the held-out transfer rows at fit time"

    ver = _verification_section(subject, frame, as_list(properties), domain, checks, timeout_ms, time_budget_s,
                                n_jobs, verify)
    data = _data_section(frame, y_arr, classes, description)
    trans = _transparency_section(subject, decided, y_arr, pred, teacher_pred, Xin)
    rules = _rules_section(subject, frame, decided, y_arr, ver)
    disagg = _disaggregated_section(protected_cols, y_arr, pred, classes, pos_label, protected_bins, n_bins,
                                    max_levels, min_group_size)
    sections = {
        "summary": _summary_section(subject, data, perf, fid, trans, ver, title),
        "data": data,
        "model": _model_section(subject, tview),
        "performance": perf,
        "fidelity": fid,
        "transparency": trans,
        "rules": rules,
        "verification": ver,
        "disaggregated": disagg,
        "limitations": _limitations_section(subject, description, tview, ver, disagg, data, fid),
    }
    assert tuple(sections) == SECTIONS
    from .. import __version__

    import sklearn

    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "environment": {"rulekd": __version__, "python": platform.python_version(),
                        "numpy": np.__version__, "pandas": pd.__version__, "scikit-learn": sklearn.__version__},
        "provenance": plain({**_provenance(subject, frame, y_arr), **dict(provenance or {})}),
        "section_order": list(SECTIONS),
        "section_titles": dict(SECTION_TITLES),
        "sections": plain(sections),
    }
    return AuditReport(doc)


def _provenance(subject: _Subject, frame: pd.DataFrame, y: np.ndarray) -> dict:
    """Fingerprints of what was audited, so a reviewer can tell which data and which model a report is about."""
    import hashlib

    rows = hashlib.sha256(frame.to_csv(index=False).encode("utf-8", "surrogatepass"))
    rows.update(pd.Series(y, dtype=object).to_csv(index=False, header=False).encode("utf-8", "surrogatepass"))
    out = {"data": {"rows": len(frame), "sha256": rows.hexdigest(),
                    "method": "SHA-256 of the audited rows as pandas writes them to CSV (DataFrame.to_csv(index=False), "
                              "the model's feature columns in its order), then the labels, one per line"}}
    try:
        if subject.kind == "ruleset":
            digest = hashlib.sha256(subject.model.to_json().encode("utf-8")).hexdigest()
            method = "SHA-256 of the rule set's JSON (RuleSet.to_json(), UTF-8)"
        else:
            from .._persist import _MANIFEST, _write_model

            files: dict[str, bytes] = {}
            _write_model(subject.model, files, "")
            digest = hashlib.sha256(files[_MANIFEST]).hexdigest()
            method = ("SHA-256 of manifest.json as rulekd.save writes this model (it lists every file of the model "
                      "directory with its SHA-256, and the library versions): sha256sum MODEL_DIR/manifest.json. "
                      "A model loaded from a directory can differ from that directory's (parameters a save does "
                      "not keep, such as the teacher estimator, come back as defaults); rulekd audit records the "
                      "directory's own")
        out["model"] = {"sha256": digest, "method": method}
    except Exception as exc:  # a model rulekd cannot save: said, not a failed audit
        out["model"] = {"sha256": None, "reason": f"rulekd.save cannot write this model ({type(exc).__name__})"}
    return out
