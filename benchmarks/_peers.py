"""Adapters that fit a method and report accuracy, fidelity and its own complexity.

Every method, rulekd's and the peers', goes through :class:`Adapter`, so a
budget means the same thing for all: leaves for trees, rules for rule models
(the default rule not counted). A peer that is not installed, fails, or
exceeds its time cap is recorded with that status, not dropped.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier


@dataclass
class Adapter:
    method: str
    family: str
    budget: int | None
    make: Callable[[], Any]
    complexity: Callable[[Any], dict]
    uses_teacher: bool = False
    needs_numeric: bool = False
    time_cap_s: float = 600.0

    def evaluate(self, Xtr: pd.DataFrame, ytr: np.ndarray, yt_tr: np.ndarray,
                 Xte: pd.DataFrame, yte: np.ndarray, yt_te: np.ndarray) -> dict:
        rec = dict(method=self.method, family=self.family, budget=self.budget, status="ok",
                   accuracy=None, fidelity=None, fit_s=None, predict_s=None, rules=None, conditions=None)
        try:
            A_tr, A_te = (numeric(Xtr, Xtr), numeric(Xte, Xtr)) if self.needs_numeric else (Xtr, Xte)
            target = ytr if not self.uses_teacher or self.family.startswith("rulekd") else yt_tr
            model = self.make()
            t0 = time.perf_counter()
            model.fit(A_tr, target)
            rec["fit_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            pred = np.asarray(model.predict(A_te))
            rec["predict_s"] = time.perf_counter() - t0
            pred = pred.astype(yte.dtype) if pred.dtype != yte.dtype else pred
            rec["accuracy"] = float(np.mean(pred == yte))
            rec["fidelity"] = float(np.mean(pred == yt_te))
            c = self.complexity(model)
            rec["rules"] = c.get("rules", c.get("leaves"))
            rec["conditions"] = c.get("conditions")
            if rec["fit_s"] > self.time_cap_s:
                rec["status"] = f"over time cap ({rec['fit_s']:.0f} s > {self.time_cap_s:.0f} s)"
        except Exception as exc:  # a peer's failure is a result, not a crash
            rec["status"] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
            rec["traceback"] = traceback.format_exc(limit=3)
        return rec


def numeric(X: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """One-hot categoricals (levels from ``reference``), NaN -> median: for peers that need numbers."""
    out = {}
    for c in reference.columns:
        col = X[c]
        if isinstance(reference[c].dtype, pd.CategoricalDtype):
            for lv in reference[c].cat.categories:
                out[f"{c}={lv}"] = (col == lv).astype(float).to_numpy()
        else:
            x = col.to_numpy(dtype=float, na_value=np.nan)
            med = float(np.nanmedian(reference[c].to_numpy(dtype=float, na_value=np.nan)))
            out[c] = np.where(np.isnan(x), med, x)
    return pd.DataFrame(out, index=X.index)


def _tree_complexity(m: Any) -> dict:
    t = m.tree_
    return {"leaves": int(t.n_leaves), "rules": int(t.n_leaves), "conditions": int(t.node_count - t.n_leaves)}


def cart_adapter(budget: int, *, on: str) -> Adapter:
    """scikit-learn CART with ``budget`` leaves, on the true labels or the teacher's."""
    return Adapter(
        f"CART on {'true' if on == 'labels' else 'teacher'} labels ({budget} leaves)",
        "cart-labels" if on == "labels" else "cart-teacher",
        budget,
        lambda: DecisionTreeClassifier(max_leaf_nodes=budget, random_state=0),
        _tree_complexity,
        uses_teacher=(on == "teacher"),
        needs_numeric=True,
    )


def _figs_complexity(m: Any) -> dict:
    splits = int(getattr(m, "complexity_", 0))
    n_trees = len(getattr(m, "trees_", [])) or 1
    return {"rules": splits + n_trees, "leaves": splits + n_trees, "conditions": splits}


def _hs_complexity(m: Any) -> dict:
    est = getattr(m, "estimator_", m)
    inner = getattr(est, "estimator_", est)
    if hasattr(inner, "tree_"):
        return _tree_complexity(inner)
    return {"rules": None}


def _count_rules(m: Any) -> dict:
    if hasattr(m, "estimators_"):  # BoostedRules: one stump rule per estimator
        return {"rules": len(m.estimators_), "conditions": len(m.estimators_)}
    rules = getattr(m, "rules_", None)
    if rules is None and hasattr(m, "ruleset_"):
        rules = list(m.ruleset_)
    n = len(rules) if rules is not None else None
    return {"rules": n, "conditions": None}


def _greedy_complexity(m: Any) -> dict:
    return {"rules": len(getattr(m, "rules_", [])), "conditions": len(getattr(m, "rules_", []))}


class _Ripper:
    """wittgenstein's RIPPER with a scikit-learn face (0/1 labels, numeric frame)."""

    def __init__(self, max_rules: int):
        self.max_rules = max_rules

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "_Ripper":
        import wittgenstein as lw

        self.model_ = lw.RIPPER(max_rules=self.max_rules, random_state=0)
        df = X.copy()
        df["__y"] = y
        self.model_.fit(df, class_feat="__y", pos_class=1)
        self.ruleset_ = self.model_.ruleset_
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict(X), dtype=int)


def peer_adapters(budget: int, frozen: Any) -> list[Adapter]:
    """Public peers (installed with ``rulekd[bench]``), fitted to the teacher's labels on the
    real training rows (the usual way to distil with them); a missing package is a status."""
    try:
        import imodels  # noqa: F401
    except ImportError:
        return [Adapter("imodels (not installed)", "peer", budget, _missing("imodels"), lambda m: {})]
    from imodels import (BoostedRulesClassifier, FIGSClassifier, GreedyRuleListClassifier,
                         HSTreeClassifierCV, RuleFitClassifier)

    out = [
        Adapter(f"FIGS ({budget} splits)", "peer-figs", budget,
                lambda: FIGSClassifier(max_rules=budget, random_state=0), _figs_complexity,
                uses_teacher=True, needs_numeric=True),
        Adapter(f"HSTree CV ({budget} leaves)", "peer-hstree", budget,
                lambda: HSTreeClassifierCV(max_leaf_nodes=budget),
                _hs_complexity, uses_teacher=True, needs_numeric=True),
        Adapter(f"BoostedRules ({budget} rules)", "peer-boosted", budget,
                lambda: BoostedRulesClassifier(n_estimators=budget, random_state=0), _count_rules,
                uses_teacher=True, needs_numeric=True),
        Adapter(f"RuleFit ({budget} rules)", "peer-rulefit", budget,
                lambda: RuleFitClassifier(max_rules=budget, random_state=0), _count_rules,
                uses_teacher=True, needs_numeric=True),
        Adapter(f"GreedyRuleList (depth {budget})", "peer-greedy", budget,
                lambda: GreedyRuleListClassifier(max_depth=budget), _greedy_complexity,
                uses_teacher=True, needs_numeric=True),
    ]
    try:
        import wittgenstein  # noqa: F401

        out.append(Adapter(f"RIPPER ({budget} rules)", "peer-ripper", budget, lambda: _Ripper(budget),
                           _count_rules, uses_teacher=True, needs_numeric=True))
    except ImportError:
        out.append(Adapter("RIPPER (not installed)", "peer-ripper", budget, _missing("wittgenstein"), lambda m: {}))
    return out


def _missing(pkg: str) -> Callable[[], Any]:
    def make() -> Any:
        raise ImportError(f"{pkg} is not installed (pip install rulekd[bench])")

    return make
