"""Distilled decision trees: CART grown on the teacher's transfer set, read out as rules.

The tree is fitted to what the teacher says on real and synthetic rows (hard
labels with the Gini criterion, or its probabilities with squared error), with
categorical features as ordinal codes sorted by the teacher's mean score
(Breiman's ordering, optimal for two classes), so that every split on them is a
level set. Leaves are relabelled with the teacher's majority class among the
rows they hold, and the tree becomes a :class:`~rulekd.RuleSet` through the
exact importer: the rules *are* the model (``predict`` evaluates them).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils._param_validation import Interval, StrOptions

from ..rules import RuleSet, from_sklearn_tree
from ..rules._ir import Rule
from ._base import DistilledClassifierMixin

__all__ = ["DistilledTreeClassifier"]


class _TreeFitting:
    """Helpers shared by the tree and rule students (categorical ordering, growth)."""

    def _category_orders(self, ts: Any) -> dict[str, list]:
        """Per categorical feature, its levels sorted by the teacher's mean score."""
        orders: dict[str, list] = {}
        k = ts.proba.shape[1]
        # One score per row: P(class 1) for two classes, else the projection of
        # the probabilities on their first principal direction.
        if k == 2:
            score = ts.proba[:, 1]
        else:
            centred = ts.proba - ts.proba.mean(axis=0)
            _, _, vt = np.linalg.svd(centred[: min(len(centred), 20000)], full_matrices=False)
            score = centred @ vt[0]
        for spec in self.domain_.features:
            if spec.kind != "categorical":
                continue
            codes = pd.Categorical(ts.X[spec.name], categories=list(spec.levels)).codes
            means = []
            for j, level in enumerate(spec.levels):
                sel = codes == j
                means.append((float(score[sel].mean()) if sel.any() else np.inf, j))
            orders[spec.name] = [spec.levels[j] for _, j in sorted(means)]
        return orders

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        cols = []
        for spec in self.domain_.features:
            col = frame[spec.name]
            if spec.kind == "categorical":
                order = self._cat_orders_[spec.name]
                codes = pd.Categorical(col, categories=order).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                cols.append(codes)
            else:
                cols.append(np.asarray(col, dtype=np.float64))
        return np.column_stack(cols)

    def _grow(self, Xe: np.ndarray, ts: Any, n_leaves: int, criterion: str, seed: int) -> Any:
        kw = dict(max_leaf_nodes=max(int(n_leaves), 2), min_samples_leaf=self._min_leaf(len(Xe)), random_state=seed)
        if criterion == "soft":
            target = ts.proba[:, 1] if ts.proba.shape[1] == 2 else ts.proba
            return DecisionTreeRegressor(**kw).fit(Xe, target, sample_weight=ts.weights)
        return DecisionTreeClassifier(**kw).fit(Xe, ts.labels_index, sample_weight=ts.weights)

    @staticmethod
    def _min_leaf(n: int) -> int:
        return max(1, n // 2000)

    def _leaf_tables(self, tree: Any, Xe: np.ndarray, ts: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per node: teacher majority class and mean teacher probabilities of its rows."""
        k = len(self.classes_)
        n_nodes = tree.tree_.node_count
        leaf = tree.apply(Xe)
        labels = np.zeros(n_nodes, dtype=np.intp)
        proba = np.full((n_nodes, k), 1.0 / k)
        votes = np.zeros((n_nodes, k))
        np.add.at(votes, (leaf, ts.labels_index), ts.weights)
        psum = np.zeros((n_nodes, k))
        np.add.at(psum, leaf, ts.proba * ts.weights[:, None])
        wsum = np.bincount(leaf, weights=ts.weights, minlength=n_nodes)
        has = wsum > 0
        proba[has] = psum[has] / wsum[has, None]
        labels[:] = np.argmax(votes, axis=1)
        labels[~has] = np.argmax(proba[~has], axis=1)
        return labels, proba

    def _tree_to_rules(self, tree: Any, Xe: np.ndarray, ts: Any) -> RuleSet:
        labels, proba = self._leaf_tables(tree, Xe, ts)
        rs = from_sklearn_tree(
            tree,
            feature_names=self.domain_.names,
            categories={n: self._cat_orders_[n] for n in self._cat_orders_},
            classes=self.classes_,
            leaf_labels=[self.classes_[i] for i in labels],
            leaf_proba=proba,
        )
        return rs

    def _finalise(self, rs: RuleSet, frame: pd.DataFrame, ts_fit: Any, **metadata: Any) -> RuleSet:
        """Recompute support on the real training rows and confidence on the transfer rows."""
        m_real = rs.match(frame)
        m_fit = rs.match(ts_fit.X)
        ci = {c: i for i, c in enumerate(self.classes_)}
        rules = []
        for j, r in enumerate(rs.rules):
            sel = m_fit[:, j]
            w = ts_fit.weights[sel]
            agree = ts_fit.labels_index[sel] == ci[r.prediction]
            conf = float(np.sum(w * agree) / np.sum(w)) if w.sum() > 0 else 0.0
            rules.append(Rule(r.conditions, r.prediction, r.proba, int(m_real[:, j].sum()), conf, r.id, r.score))
        meta = dict(rs.metadata)
        meta.update(metadata)
        return rs.replace(rules=tuple(rules), metadata=meta)

    def _fidelity(self, rs: RuleSet, ts: Any) -> float:
        pred = rs.predict(ts.X)
        ci = np.array([list(self.classes_).index(p) for p in pred])
        return float(np.average(ci == ts.labels_index, weights=ts.weights))


class DistilledTreeClassifier(_TreeFitting, DistilledClassifierMixin):
    """A decision tree distilled from a teacher, exposed as exact rules.

    Parameters
    ----------
    teacher : estimator, FrozenEstimator or None, default=None
        The model to distil. ``None``: ``XGBClassifier(n_estimators=200,
        max_depth=4)`` with native categorical support. An estimator is cloned
        and fitted on ``(X, y)``; a ``FrozenEstimator`` is used as is.
    max_leaf_nodes : int, default=16
        Leaves of the tree (= rules of ``rules_``).
    criterion : {"auto", "hard", "soft"}, default="auto"
        Fit the teacher's hard labels (Gini), its probabilities (squared
        error), or both and keep the more faithful on the validation rows.
    n_synthetic : int or "auto", default="auto"
        Synthetic rows added to the transfer set ("auto": ten per real row,
        between 10,000 and 60,000).
    strategy : {"perturb", "marginal", "mixed"}, default="perturb"
        How synthetic rows are drawn (see :mod:`rulekd.transfer`).
    validation_fraction : float, default=0.2
        Share of the transfer set held out to measure ``fidelity_``.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    teacher_ : Teacher
        The fitted teacher behind its adapter (``teacher_.estimator``).
    rules_ : RuleSet
        One disjoint rule per leaf (unordered); ``predict`` evaluates it.
    domain_ : Domain
        The inputs the model was fitted for (read by the verifier).
    fidelity_ : float
        Agreement with the teacher on the held-out transfer rows.
    complexity_ : dict
        ``{"rules": ..., "conditions": ..., "leaves": ...}``.
    classes_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.tree import DecisionTreeClassifier as Teacher
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> m = DistilledTreeClassifier(teacher=Teacher(max_depth=3), max_leaf_nodes=8,
    ...                             n_synthetic=1000, random_state=0).fit(X, y)
    >>> len(m.rules_) <= 8 and m.fidelity_ > 0.8
    True
    """

    _parameter_constraints: dict = {
        **DistilledClassifierMixin._common_constraints,
        "max_leaf_nodes": [Interval(numbers.Integral, 2, None, closed="left")],
        "criterion": [StrOptions({"auto", "hard", "soft"})],
    }

    def __init__(
        self,
        *,
        teacher: Any = None,
        max_leaf_nodes: int = 16,
        criterion: str = "auto",
        n_synthetic: int | str = "auto",
        strategy: str = "perturb",
        validation_fraction: float = 0.2,
        random_state: Any = None,
    ):
        self.teacher = teacher
        self.max_leaf_nodes = max_leaf_nodes
        self.criterion = criterion
        self.n_synthetic = n_synthetic
        self.strategy = strategy
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "DistilledTreeClassifier":
        """Fit the teacher (unless frozen), build the transfer set, grow the tree.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the real rows, for the teacher and the tree.
        """
        frame, _, _, fit, val = self._prepare_fit(X, y, sample_weight)
        self._cat_orders_ = self._category_orders(fit)
        Xe_fit = self._encode(fit.X)
        criteria = ["hard", "soft"] if self.criterion == "auto" else [self.criterion]
        best = None
        for crit in criteria:
            tree = self._grow(Xe_fit, fit, self.max_leaf_nodes, crit, self._seed_)
            rs = self._tree_to_rules(tree, Xe_fit, fit)
            score = self._fidelity(rs, val)
            if best is None or score > best[0]:
                best = (score, crit, rs, tree)
        self.fidelity_, self.criterion_, rs, self.tree_ = best
        self.rules_ = self._finalise(rs, frame, fit, source="rulekd.DistilledTreeClassifier",
                                     criterion=self.criterion_, fidelity=self.fidelity_)
        self.complexity_ = {
            "rules": len(self.rules_),
            "leaves": len(self.rules_),
            "conditions": self.rules_.n_conditions,
        }
        return self
