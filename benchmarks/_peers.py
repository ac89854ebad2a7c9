"""Adapters that fit a method and report accuracy, fidelity and its own complexity.

Every method, rulekd's and the peers', goes through :class:`Adapter`, so a
budget means the same thing for all, and each adapter says what it counted
(``unit``): leaves for trees, rules for rule models (the default rule not
counted), stumps for boosted stumps, terms (rules + linear terms) for RuleFit.
``conditions`` is the total number of conditions (splits for trees). A peer
that is not installed, fails, or exceeds its time cap is recorded with that
status, not dropped.
"""

from __future__ import annotations

import hashlib
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier


class PeerTimeout(Exception):
    """A peer stopped at its time cap (or skipped after one); the message is the status."""


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
    note: str = ""

    def evaluate(self, Xtr: pd.DataFrame, ytr: np.ndarray, yt_tr: np.ndarray,
                 Xte: pd.DataFrame, yte: np.ndarray, yt_te: np.ndarray) -> dict:
        rec = dict(method=self.method, family=self.family, budget=self.budget, status="ok",
                   accuracy=None, fidelity=None, fit_s=None, predict_s=None, rules=None, conditions=None,
                   unit=None)
        if self.note:
            rec["note"] = self.note
        try:
            A_tr, A_te = (numeric(Xtr, Xtr), numeric(Xte, Xtr)) if self.needs_numeric else (Xtr, Xte)
            target = ytr if not self.uses_teacher or self.family.startswith("rulekd") else yt_tr
            model = self.make()
            t0 = time.perf_counter()
            model.fit(A_tr, target)
            rec["fit_s"] = getattr(model, "fit_seconds_", None) or time.perf_counter() - t0
            t0 = time.perf_counter()
            pred = np.asarray(model.predict(A_te))
            rec["predict_s"] = time.perf_counter() - t0
            pred = pred.astype(yte.dtype) if pred.dtype != yte.dtype else pred
            rec["accuracy"] = float(np.mean(pred == yte))
            rec["fidelity"] = float(np.mean(pred == yt_te))
            c = self.complexity(model)
            rec["rules"] = c.get("rules", c.get("leaves"))
            rec["conditions"] = c.get("conditions")
            rec["unit"] = c.get("unit")
            if hasattr(model, "bench_extras"):
                rec.update(model.bench_extras(pred, yt_te))
            if rec["fit_s"] > self.time_cap_s:
                rec["status"] = f"over time cap ({rec['fit_s']:.0f} s > {self.time_cap_s:.0f} s)"
        except PeerTimeout as exc:
            rec["status"] = str(exc)
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


# -- complexity, each in the method's own unit ------------------------------------------


def _tree_complexity(m: Any) -> dict:
    t = m.tree_
    return {"rules": int(t.n_leaves), "conditions": int(t.node_count - t.n_leaves), "unit": "leaves"}


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
    """FIGS' budget counts splits; a sum of trees has splits + trees leaves."""
    splits = int(m.complexity_)
    n_trees = len(m.trees_)
    return {"rules": splits + n_trees, "conditions": splits, "unit": "leaves"}


def _hs_complexity(m: Any) -> dict:
    """HSTreeClassifierCV's fitted tree (scikit-learn's, with shrunk leaf values)."""
    est = m.estimator_
    return _tree_complexity(getattr(est, "estimator_", est))


def _boosted_complexity(m: Any) -> dict:
    """A weighted vote of stumps: one term per stump, one condition per split."""
    splits = sum(int(e.tree_.node_count - e.tree_.n_leaves) for e in m.estimators_)
    return {"rules": len(m.estimators_), "conditions": splits, "unit": "stumps"}


def _rulefit_complexity(m: Any) -> dict:
    """Non-zero rules plus non-zero linear terms (what RuleFit's ``max_rules`` bounds);
    conditions as imodels counts them (rule conditions + linear terms)."""
    n_linear = int(np.sum(np.asarray(m.coef[:m.n_features_]) != 0)) if m.include_linear else 0
    return {"rules": len(m.rules_) + n_linear, "conditions": int(m.complexity_), "unit": "terms"}


def _greedy_complexity(m: Any) -> dict:
    """A rule list of one split per entry; the last entry without a split is the default."""
    splits = sum("col" in r for r in m.rules_)
    return {"rules": splits, "conditions": splits, "unit": "rules"}


def _ripper_complexity(m: Any) -> dict:
    rules = list(m.ruleset_.rules)
    return {"rules": len(rules), "conditions": sum(len(r.conds) for r in rules), "unit": "rules"}


def _te2rules_complexity(m: Any) -> dict:
    return {"rules": len(m.rules_), "conditions": sum(r.count("&") + 1 for r in m.rules_), "unit": "rules"}


# -- wrappers ---------------------------------------------------------------------------


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


TE2RULES_NOTE = (
    "te2rules reads XGBoost trees over numeric features named f0, f1, ... and cannot read the shared "
    "teacher's native categorical splits, so it explains an equivalent numeric teacher: the same "
    "XGBClassifier(n_estimators=200, max_depth=4) fitted on the same training rows and true labels, "
    "on the one-hot, median-imputed frame (`_peers.numeric`); that teacher's fit is not counted in fit s. "
    "te2rules explains that teacher's predictions on the training rows; its rules (positive class, "
    "greedy set-cover order) are cut to the first `budget`, so one extraction per fold serves every "
    "budget and fit s is that extraction. Fidelity is measured against the shared teacher like every "
    "other method; `fidelity_own_teacher` and `teacher_copy_agreement` in the JSON give the fidelity to "
    "the numeric teacher and that teacher's agreement with the shared one. Extraction runs in a child "
    "process killed at the time cap; after a time-out the data set's later folds are skipped."
)

# (dataset, num_stages) -> (fingerprint of the fold, extraction result); and the folds that timed out.
_TE2RULES_CACHE: dict[tuple, tuple[str, dict]] = {}
_TE2RULES_TIMED_OUT: dict[tuple, str] = {}


def _te2rules_child(conn: Any, model: Any, X: np.ndarray, y: np.ndarray, num_stages: int | None) -> None:
    """Run in a spawned process: te2rules' ModelExplainer on ``model``; sends (status, rules, seconds)."""
    import os

    os.environ["TQDM_DISABLE"] = "1"  # te2rules draws progress bars
    try:
        from te2rules.explainer import ModelExplainer

        t0 = time.perf_counter()
        explainer = ModelExplainer(model=model, feature_names=[f"f{i}" for i in range(X.shape[1])])
        rules = explainer.explain(X=X.tolist(), y=[int(v) for v in y], num_stages=num_stages)
        conn.send(("ok", list(rules), time.perf_counter() - t0))
    except Exception as exc:  # reported to the parent as the peer's status
        conn.send(("failed", f"{type(exc).__name__}: {str(exc)[:120]}", None))
    finally:
        conn.close()


class _Te2Rules:
    """te2rules explaining an XGBoost teacher of the shared configuration (see ``TE2RULES_NOTE``)."""

    def __init__(self, budget: int, *, num_stages: int | None, time_cap_s: float, dataset: str):
        self.budget = budget
        self.num_stages = num_stages
        self.time_cap_s = time_cap_s
        self.dataset = dataset

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "_Te2Rules":
        from . import _common as C

        A = X.to_numpy(dtype=float)
        y = np.asarray(y)
        where = (self.dataset, self.num_stages)
        key = hashlib.sha1(A.tobytes() + y.tobytes()).hexdigest()
        cached = _TE2RULES_CACHE.get(where)
        if cached is None or cached[0] != key:
            if where in _TE2RULES_TIMED_OUT and _TE2RULES_TIMED_OUT[where] != key:
                raise PeerTimeout(f"skipped: over time cap ({self.time_cap_s:.0f} s) on an earlier fold")
            _TE2RULES_CACHE[where] = (key, self._extract(C.teacher().fit(A, y), A))
        result = _TE2RULES_CACHE[where][1]
        if result["status"] == "timeout":
            _TE2RULES_TIMED_OUT[where] = key
            raise PeerTimeout(f"over time cap ({self.time_cap_s:.0f} s)")
        if result["status"] != "ok":
            raise RuntimeError(result["status"])
        self.copy_ = result["copy"]
        self.all_rules_ = result["rules"]
        self.rules_ = self.all_rules_[: self.budget]
        self.fit_seconds_ = result["seconds"]
        return self

    def _extract(self, copy: Any, A: np.ndarray) -> dict:
        import multiprocessing as mp

        import te2rules  # noqa: F401  (a missing package fails here, in this process)

        ctx = mp.get_context("spawn")
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_te2rules_child, args=(send, copy, A, copy.predict(A), self.num_stages),
                           daemon=True)
        proc.start()
        send.close()
        try:
            if not recv.poll(self.time_cap_s):
                return {"status": "timeout"}
            status, payload, seconds = recv.recv()
        except EOFError:
            status, payload, seconds = "failed", f"child exited with code {proc.exitcode}", None
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            recv.close()
        if status != "ok":
            return {"status": f"te2rules {payload}"}
        return {"status": "ok", "copy": copy, "rules": payload, "seconds": seconds}

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        df = pd.DataFrame(X.to_numpy(dtype=float), columns=[f"f{i}" for i in range(X.shape[1])])
        hit = np.zeros(len(df), dtype=bool)
        for r in self.rules_:  # te2rules' own semantics (RuleBuilder.apply): any rule -> class 1
            hit |= df.eval(r).to_numpy(dtype=bool)
        self._last_X = df
        return hit.astype(int)

    def bench_extras(self, pred: np.ndarray, y_teacher: np.ndarray) -> dict:
        own = self.copy_.predict(self._last_X.to_numpy())
        return {"fidelity_own_teacher": float(np.mean(pred == own)),
                "teacher_copy_agreement": float(np.mean(own == y_teacher)),
                "rules_extracted": len(self.all_rules_)}


def te2rules_adapters(budget: int, dataset: str, *, stages: tuple[int, ...] = (1, 2),
                      time_cap_s: float = 90.0) -> list[Adapter]:
    """te2rules at ``num_stages`` 1 (rules of single trees) and 2 (pairs of trees), each capped."""
    out = []
    for s in stages:
        out.append(Adapter(
            f"te2rules, {s} stage{'s' if s > 1 else ''} ({budget} rules)", f"peer-te2rules-{s}", budget,
            lambda s=s: _Te2Rules(budget, num_stages=s, time_cap_s=time_cap_s, dataset=dataset),
            _te2rules_complexity, uses_teacher=False, needs_numeric=True, time_cap_s=time_cap_s + 60,
            note=TE2RULES_NOTE))
    return out


def peer_adapters(budget: int, frozen: Any, dataset: str = "", *, te2rules_stages: tuple[int, ...] = (1, 2),
                  te2rules_cap_s: float = 90.0) -> list[Adapter]:
    """Public peers (installed with ``rulekd[bench]``), fitted to the teacher's labels on the
    real training rows (the usual way to distil with them); te2rules explains an equivalent
    numeric teacher (see ``TE2RULES_NOTE``). A missing package is a status."""
    try:
        import imodels  # noqa: F401
    except ImportError:
        out = [Adapter("imodels (not installed)", "peer", budget, _missing("imodels"), lambda m: {})]
    else:
        from imodels import (BoostedRulesClassifier, FIGSClassifier, GreedyRuleListClassifier,
                             HSTreeClassifierCV, RuleFitClassifier)

        out = [
            Adapter(f"FIGS ({budget} splits)", "peer-figs", budget,
                    lambda: FIGSClassifier(max_rules=budget, random_state=0), _figs_complexity,
                    uses_teacher=True, needs_numeric=True,
                    note="FIGS' max_rules counts splits; a sum of k trees with s splits has s + k leaves."),
            Adapter(f"HSTree CV ({budget} leaves)", "peer-hstree", budget,
                    # Its own default tree has no random_state (ties between equal splits broke at random,
                    # so reruns differed): the same tree, seeded.
                    lambda: HSTreeClassifierCV(DecisionTreeClassifier(max_leaf_nodes=budget, random_state=0),
                                               max_leaf_nodes=budget),
                    _hs_complexity, uses_teacher=True, needs_numeric=True),
            Adapter(f"BoostedRules ({budget} stumps)", "peer-boosted", budget,
                    lambda: BoostedRulesClassifier(n_estimators=budget, random_state=0), _boosted_complexity,
                    uses_teacher=True, needs_numeric=True),
            Adapter(f"RuleFit ({budget} terms)", "peer-rulefit", budget,
                    lambda: RuleFitClassifier(max_rules=budget, random_state=0), _rulefit_complexity,
                    uses_teacher=True, needs_numeric=True),
            Adapter(f"GreedyRuleList (depth {budget})", "peer-greedy", budget,
                    lambda: GreedyRuleListClassifier(max_depth=budget), _greedy_complexity,
                    uses_teacher=True, needs_numeric=True),
        ]
    try:
        import wittgenstein  # noqa: F401

        out.append(Adapter(f"RIPPER ({budget} rules)", "peer-ripper", budget, lambda: _Ripper(budget),
                           _ripper_complexity, uses_teacher=True, needs_numeric=True))
    except ImportError:
        out.append(Adapter("RIPPER (not installed)", "peer-ripper", budget, _missing("wittgenstein"), lambda m: {}))
    if te2rules_stages:
        out += te2rules_adapters(budget, dataset, stages=te2rules_stages, time_cap_s=te2rules_cap_s)
    return out


def _missing(pkg: str) -> Callable[[], Any]:
    def make() -> Any:
        raise ImportError(f"{pkg} is not installed (pip install rulekd[bench])")

    return make
