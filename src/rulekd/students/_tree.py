"""Distilled decision trees: grown on the teacher's transfer set, refined, read out as rules.

The tree is grown by CART on what the teacher says about real and synthetic
rows (its hard labels with Gini, or its probabilities with squared error), with
categorical features as ordinal codes sorted by the teacher's mean score
(Breiman's ordering), then refined by tree alternating optimisation
(:mod:`._tao`), which revisits every split to agree with the teacher on more
rows. The tree becomes a :class:`~rulekd.RuleSet` and the rules *are* the
model: ``predict`` evaluates them.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils._param_validation import Interval, StrOptions

from ..rules import RuleSet
from ..rules._ir import Condition, Rule
from ._base import DistilledClassifierMixin, answered_proba, teacher_cuts, unfitted_on_error
from ._tao import Tree

__all__ = ["DistilledTreeClassifier"]


class _TreeFitting:
    """Shared by the tree and rule students: encoding, growth, refinement, read-out."""

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
            for j in range(len(spec.levels)):
                sel = codes == j
                means.append((float(score[sel].mean()) if sel.any() else np.inf, j))
            orders[spec.name] = [spec.levels[j] for _, j in sorted(means)]
        return orders

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        cols = []
        for spec in self.domain_.features:
            col = frame[spec.name]
            if spec.kind == "categorical":
                codes = pd.Categorical(col, categories=self._cat_orders_[spec.name]).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                cols.append(codes)
            else:
                cols.append(np.asarray(col, dtype=np.float64))
        return np.column_stack(cols)

    @property
    def _max_depth(self) -> int | None:
        """Deepest tree to grow (``None``: any). A root-to-leaf path of depth d reads as a rule of at
        most d conditions, so with more than two classes ``max_conditions`` bounds the depth; with two,
        the rule student cuts each rule to ``max_conditions`` itself (``_DNF``) and grows trees freely."""
        limit = getattr(self, "max_conditions", None)
        return limit if limit is not None and len(self.classes_) > 2 else None

    @property
    def _categorical_index(self) -> dict[int, int]:
        return {j: len(s.levels) for j, s in enumerate(self.domain_.features) if s.kind == "categorical"}

    def _grow(self, Xe: np.ndarray, ts: Any, n_leaves: int, criterion: str) -> Tree:
        """CART with ``n_leaves`` leaves, copied into a refinable :class:`Tree`."""
        kw = dict(max_leaf_nodes=max(int(n_leaves), 2), min_samples_leaf=max(1, len(Xe) // 2000),
                  max_depth=self._max_depth, random_state=self._seed_)
        if criterion == "soft":
            target = ts.proba[:, 1] if ts.proba.shape[1] == 2 else ts.proba
            sk = DecisionTreeRegressor(**kw).fit(Xe, target, sample_weight=ts.weights)
        else:
            sk = DecisionTreeClassifier(**kw).fit(Xe, ts.labels_index, sample_weight=ts.weights)
        tree = Tree.from_sklearn(sk, len(self.classes_), self._categorical_index, self._cuts_)
        tree.snap_thresholds(Xe)
        tree.relabel(Xe, ts.labels_index, ts.weights)
        return tree

    def _teacher_cuts(self) -> dict[int, np.ndarray]:
        """The teacher's split thresholds per numeric feature index (empty if it has none)."""
        by_name = {k: t for k, (t, _) in teacher_cuts(self.teacher_, list(self.domain_.names),
                                                                 self._frame_input_).items()}
        return {
            j: np.sort(np.asarray(by_name[spec.name], dtype=np.float64))
            for j, spec in enumerate(self.domain_.features)
            if spec.name in by_name and spec.kind != "categorical"
        }

    def _refined(self, tree: Tree, Xe: np.ndarray, ts: Any) -> Tree:
        out = copy.deepcopy(tree)
        out.refine(Xe, ts.labels_index, ts.weights, max_passes=self._tao_passes)
        return out

    _tao_passes = 8

    def _readout(self, tree: Tree, Xe: np.ndarray, ts: Any, *, drop_default: bool) -> RuleSet:
        """Rules of ``tree`` (same-label subtrees merged); optionally without the default class's."""
        tree = copy.deepcopy(tree)
        tree.collapse_same_label()
        leaf, _ = tree.route(Xe)
        k = len(self.classes_)
        n_nodes = len(tree.feature)
        psum = np.zeros((n_nodes, k))
        np.add.at(psum, leaf, ts.proba * ts.weights[:, None])
        wsum = np.bincount(leaf, weights=ts.weights, minlength=n_nodes)
        names = self.domain_.names
        levels = {j: self._cat_orders_[names[j]] for j in self._categorical_index}
        paths = tree.leaf_paths(names, levels)
        labels = np.array([tree.label[i] for i, _ in paths])
        weights = np.array([wsum[i] for i, _ in paths])
        if drop_default:
            counts = np.bincount(labels, minlength=k)
            by_weight = np.bincount(labels, weights=weights, minlength=k)
            default = int(np.lexsort((by_weight, counts))[-1])
        else:
            default = int(np.argmax(np.bincount(labels, weights=weights, minlength=k)))
        rules = []
        dsum, dw = np.zeros(k), 0.0
        for (node, conds), lab in zip(paths, labels):
            p = psum[node] / wsum[node] if wsum[node] > 0 else np.full(k, 1.0 / k)
            if drop_default and lab == default:
                dsum += psum[node]
                dw += wsum[node]
                continue
            rules.append(Rule(conds, self.classes_[lab], tuple(float(v) for v in p), 0, float(p[lab]),
                              f"r{len(rules)}"))
        dprob = tuple(float(v) for v in (dsum / dw)) if dw > 0 else None
        return RuleSet(rules=tuple(rules), classes=tuple(self.classes_.tolist()), default=self.classes_[default],
                       default_proba=dprob, ordered=False, feature_names=names,
                       metadata={"n_leaves": len(paths)})

    def _tidy_condition(self, c: Condition) -> Condition:
        """Shorter, equivalent-on-the-Domain form of a condition.

        A feature the Domain never allows missing loses its ``or missing``
        clause; a level set is written as ``not in`` its complement when that
        is shorter (both exact, since values are always one of the levels).
        """
        spec = self.domain_[c.feature]
        missing = c.missing and spec.allow_missing
        if c.is_categorical and spec.kind == "categorical":  # a level set on a numeric feature stays as given
            levels = frozenset(spec.levels)
            inside = c.value if c.op == "in" else levels - c.value
            outside = levels - inside
            if len(outside) < len(inside):
                return Condition(c.feature, "not in", outside, missing)
            return Condition(c.feature, "in", inside, missing)
        if c.is_numeric:
            return Condition(c.feature, c.op, c.value, missing, c.cast)
        return c

    def _finalise(self, rs: RuleSet, frame: pd.DataFrame, ts_fit: Any, **metadata: Any) -> RuleSet:
        """Tidy conditions; recompute support (real rows), confidence and probabilities (transfer rows)."""
        rs = rs.replace(rules=tuple(
            Rule(tuple(self._tidy_condition(c) for c in r.conditions), r.prediction, r.proba,
                 r.support, r.confidence, r.id, r.score)
            for r in rs.rules
        ))
        m_real = rs.match(frame)
        m_fit = rs.match(ts_fit.X)
        ci = {c: i for i, c in enumerate(self.classes_.tolist())}
        rules = []
        for j, r in enumerate(rs.rules):
            sel = m_fit[:, j]
            w = ts_fit.weights[sel]
            agree = ts_fit.labels_index[sel] == ci[r.prediction]
            conf = float(np.sum(w * agree) / np.sum(w)) if w.sum() > 0 else 0.0
            rules.append(Rule(r.conditions, r.prediction, r.proba, int(m_real[:, j].sum()), conf, r.id, r.score))
        meta = dict(rs.metadata)
        meta.update(metadata)
        return self._answer_proba(rs.replace(rules=tuple(rules), metadata=meta), ts_fit)

    def _answer_proba(self, rs: RuleSet, ts: Any) -> RuleSet:
        """Each rule's and the default's ``proba``: the teacher's over the transfer rows it answers.

        The weighted mean of the teacher's probabilities over the rows that
        ``decide`` gives the rule (the default: the rows no rule answers), so
        ``predict_proba`` on those rows is the teacher's mean there. Computed
        after every edit to the rules, so no figure is left from a rule's
        earlier form. Where that mean puts another class first (a teacher
        whose probabilities are skewed inside the rule, or a rule that answers
        no transfer row), it is mixed ``0.4 * mean + 0.6 * one-hot`` with the
        rule's class, as :class:`~rulekd.HybridClassifier` does, so that
        ``predict_proba``'s most probable class is always ``predict``'s
        (:func:`._base.answered_proba`).
        """
        ci = {c: i for i, c in enumerate(self.classes_.tolist())}
        answer = rs.decide(ts.X)
        stored = rs.proba_table()

        def proba(j: int, code: int) -> tuple[float, ...]:
            return answered_proba(answer, j, ts.proba, ts.weights, stored[j], code)

        rules = tuple(
            Rule(r.conditions, r.prediction, proba(j, ci[r.prediction]), r.support, r.confidence, r.id, r.score)
            for j, r in enumerate(rs.rules)
        )
        return rs.replace(rules=rules, default_proba=proba(-1, ci[rs.default]))

    def _fidelity(self, rs: RuleSet, ts: Any) -> float:
        ci = {c: i for i, c in enumerate(self.classes_.tolist())}
        table = np.array([ci[r.prediction] for r in rs.rules] + [ci[rs.default]])
        return float(np.average(table[rs.decide(ts.X)] == ts.labels_index, weights=ts.weights))


class DistilledTreeClassifier(_TreeFitting, DistilledClassifierMixin):
    """A decision tree distilled from a teacher, exposed as exact rules.

    Parameters
    ----------
    teacher : estimator, FrozenEstimator or None, default=None
        The model to distil. ``None``: ``XGBClassifier(n_estimators=200,
        max_depth=4)`` with native categorical support. An estimator is cloned
        and fitted on ``(X, y)``; a ``FrozenEstimator`` is used as is.
    max_leaf_nodes : int, default=16
        Most leaves of the tree (= rules of ``rules_``).
    criterion : {"auto", "hard", "soft"}, default="auto"
        Grow on the teacher's hard labels (Gini), its probabilities (squared
        error), or both and keep the more faithful on the validation rows.
    refine : bool, default=True
        Refine the grown tree by tree alternating optimisation (kept only when
        it is more faithful on the validation rows).
    n_synthetic : int or "auto", default="auto"
        Synthetic rows added to the transfer set ("auto": ten per real row,
        between 10,000 and 60,000).
    strategy : {"perturb", "marginal", "mixed"}, default="perturb"
        How synthetic rows are drawn (see :mod:`rulekd.transfer`).
    validation_fraction : float, default=0.2
        Share of the transfer set held out for model choice and ``fidelity_``.
    domain : Domain or None, default=None
        The inputs the model is for. ``None``: ``Domain.from_data(X)``. A
        Domain declares them instead (wider bounds, more levels, missing values
        where ``X`` has none): it names exactly ``X``'s columns and holds every
        row of ``X``. Synthetic rows are drawn inside it (with some missing
        values where it allows them and ``X`` has none), ``predict`` accepts
        what it allows, and the verifier proves over it.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    teacher_ : Teacher
        The fitted teacher behind its adapter (``teacher_.estimator``).
    rules_ : RuleSet
        One disjoint rule per leaf (unordered); ``predict`` evaluates it. Each
        rule's ``proba`` is the teacher's mean over the transfer rows it
        answers (see ``docs/architecture.md``).
    domain_ : Domain
        The inputs the model was fitted for (read by the verifier).
    fidelity_ : float
        Agreement with the teacher on the held-out transfer rows.
    complexity_ : dict
        ``{"rules": ..., "leaves": ..., "conditions": ...}``.
    criterion_ : {"hard", "soft"}
        The criterion of the chosen tree.
    refined_ : bool
        Whether the chosen tree is the TAO-refined one.
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
        "refine": ["boolean"],
    }

    def __init__(
        self,
        *,
        teacher: Any = None,
        max_leaf_nodes: int = 16,
        criterion: str = "auto",
        refine: bool = True,
        n_synthetic: int | str = "auto",
        strategy: str = "perturb",
        validation_fraction: float = 0.2,
        domain: Any = None,
        random_state: Any = None,
    ):
        self.teacher = teacher
        self.max_leaf_nodes = max_leaf_nodes
        self.criterion = criterion
        self.refine = refine
        self.n_synthetic = n_synthetic
        self.strategy = strategy
        self.validation_fraction = validation_fraction
        self.domain = domain
        self.random_state = random_state

    @unfitted_on_error
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "DistilledTreeClassifier":
        """Fit the teacher (unless frozen), build the transfer set, grow and refine the tree.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the real rows, for the teacher and the tree.

        Returns
        -------
        self
        """
        frame, _, _, fit, val = self._prepare_fit(X, y, sample_weight)
        self._cat_orders_ = self._category_orders(fit)
        self._cuts_ = self._teacher_cuts()
        Xe = self._encode(fit.X)
        criteria = ["hard", "soft"] if self.criterion == "auto" else [self.criterion]
        best = None
        for crit in criteria:
            grown = self._grow(Xe, fit, self.max_leaf_nodes, crit)
            trees = [(grown, False)] + ([(self._refined(grown, Xe, fit), True)] if self.refine else [])
            for tree, refined in trees:
                rs = self._readout(tree, Xe, fit, drop_default=False)
                score = self._fidelity(rs, val)
                if best is None or score > best[0] + 1e-12:
                    best = (score, crit, refined, rs)
        self.fidelity_, self.criterion_, self.refined_, rs = best
        self.rules_ = self._finalise(rs, frame, fit, source="rulekd.DistilledTreeClassifier",
                                     criterion=self.criterion_, refined=self.refined_, fidelity=self.fidelity_)
        self.complexity_ = {"rules": len(self.rules_), "leaves": len(self.rules_),
                            "conditions": self.rules_.n_conditions}
        return self
