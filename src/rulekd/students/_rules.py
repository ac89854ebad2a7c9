"""Distilled rule sets and rule lists, cut to a budget of rules.

A tree grown on the teacher's transfer set is read out as disjoint rules; the
rules of one class (the default) are dropped since the default answers for
them, so ``max_rules`` rules can carry a tree with many more leaves. Sibling
leaves that predict the same class are merged first. The number of leaves is
chosen as the largest that fits the budget, judged on the validation rows.

``kind="list"`` then turns the set into an ordered decision list and shortens
it greedily: a condition or a rule is removed when the list's agreement with
the teacher on the transfer rows does not drop.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from ..rules import RuleSet, from_sklearn_tree
from ..rules._ir import Rule
from ._base import DistilledClassifierMixin
from ._tree import _TreeFitting

__all__ = ["DistilledRuleClassifier"]


def _merge_same_class_subtrees(tree: Any, labels: np.ndarray) -> np.ndarray:
    """Collapse subtrees whose leaves all share one label.

    Returns ``(collapsed, uniform)``: ``collapsed`` is True where the node is a
    leaf of the simplified tree (an original leaf, or the highest internal node
    whose leaves all predict the same class); ``uniform`` is that shared label
    (-2 where the leaves below disagree).
    """
    t = tree.tree_
    n = t.node_count
    uniform = np.full(n, -1, dtype=np.intp)  # label if every leaf below agrees, else -2

    def visit(node: int) -> int:
        l, r = t.children_left[node], t.children_right[node]
        if l == -1:
            uniform[node] = labels[node]
            return uniform[node]
        a, b = visit(l), visit(r)
        uniform[node] = a if (a == b and a >= 0) else -2
        return uniform[node]

    visit(0)
    collapsed = np.zeros(n, dtype=bool)

    def mark(node: int) -> None:
        if uniform[node] >= 0:
            collapsed[node] = True
            return
        mark(t.children_left[node])
        mark(t.children_right[node])

    mark(0)
    return collapsed, uniform


def _node(rule: Rule) -> int:
    """Tree node of a rule read out by the importer (id ``"leaf<node>"``)."""
    return int(rule.id[4:])


class DistilledRuleClassifier(_TreeFitting, DistilledClassifierMixin):
    """Readable rules distilled from a teacher, at most ``max_rules`` of them.

    Parameters
    ----------
    teacher : estimator, FrozenEstimator or None, default=None
        As in :class:`DistilledTreeClassifier`.
    max_rules : int, default=16
        Most rules in ``rules_`` (the default class is not counted).
    kind : {"set", "list"}, default="set"
        ``"set"``: disjoint rules, order does not matter. ``"list"``: an
        ordered decision list (first match answers), shortened greedily.
    criterion : {"auto", "hard", "soft"}, default="auto"
    n_synthetic : int or "auto", default="auto"
    strategy : {"perturb", "marginal", "mixed"}, default="perturb"
    validation_fraction : float, default=0.2
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    teacher_, rules_, domain_, fidelity_, complexity_, classes_,
    n_features_in_, feature_names_in_ : see :class:`DistilledTreeClassifier`.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> m = DistilledRuleClassifier(teacher=RandomForestClassifier(20, random_state=0),
    ...                             max_rules=4, n_synthetic=1000, random_state=0).fit(X, y)
    >>> len(m.rules_) <= 4
    True
    """

    _parameter_constraints: dict = {
        **DistilledClassifierMixin._common_constraints,
        "max_rules": [Interval(numbers.Integral, 1, None, closed="left")],
        "kind": [StrOptions({"set", "list"})],
        "criterion": [StrOptions({"auto", "hard", "soft"})],
    }

    def __init__(
        self,
        *,
        teacher: Any = None,
        max_rules: int = 16,
        kind: str = "set",
        criterion: str = "auto",
        n_synthetic: int | str = "auto",
        strategy: str = "perturb",
        validation_fraction: float = 0.2,
        random_state: Any = None,
    ):
        self.teacher = teacher
        self.max_rules = max_rules
        self.kind = kind
        self.criterion = criterion
        self.n_synthetic = n_synthetic
        self.strategy = strategy
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "DistilledRuleClassifier":
        """Fit the teacher (unless frozen), build the transfer set, learn the rules."""
        frame, _, _, fit, val = self._prepare_fit(X, y, sample_weight)
        self._cat_orders_ = self._category_orders(fit)
        Xe_fit = self._encode(fit.X)
        criteria = ["hard", "soft"] if self.criterion == "auto" else [self.criterion]
        best = None
        for crit in criteria:
            over = 0
            n_leaves = self.max_rules + 1
            while over < 3 and n_leaves <= 8 * self.max_rules + 8:
                tree = self._grow(Xe_fit, fit, n_leaves, crit, self._seed_)
                rs = self._rules_within_budget(tree, Xe_fit, fit)
                if rs is None:
                    over += 1
                else:
                    over = 0
                    score = self._fidelity(rs, val)
                    if best is None or score > best[0] + 1e-12:
                        best = (score, crit, rs)
                if tree.get_n_leaves() < n_leaves:  # the tree stopped growing
                    break
                n_leaves += 1
        score, self.criterion_, rs = best
        if self.kind == "list":
            rs = self._shorten_list(rs, fit)
            score = self._fidelity(rs, val)
        self.fidelity_ = score
        self.rules_ = self._finalise(rs, frame, fit, source="rulekd.DistilledRuleClassifier",
                                     kind=self.kind, criterion=self.criterion_, fidelity=score)
        self.complexity_ = {
            "rules": len(self.rules_),
            "conditions": self.rules_.n_conditions,
            "leaves": int(rs.metadata.get("n_leaves", len(self.rules_) + 1)),
        }
        return self

    def _rules_within_budget(self, tree: Any, Xe: np.ndarray, ts: Any) -> RuleSet | None:
        """Rules of ``tree`` minus the default class, or None if over budget."""
        labels, proba = self._leaf_tables(tree, Xe, ts)
        collapsed, uniform = _merge_same_class_subtrees(tree, labels)
        # Leaves of the simplified tree get their own label and probabilities.
        t = tree.tree_
        node_labels = labels.copy()
        node_labels[collapsed] = uniform[collapsed]
        # Probabilities of a collapsed node: the weighted mean over its rows.
        leaf_of_row = tree.apply(Xe)
        node_of_row = self._collapsed_node(tree, collapsed, leaf_of_row)
        k = len(self.classes_)
        psum = np.zeros((t.node_count, k))
        np.add.at(psum, node_of_row, ts.proba * ts.weights[:, None])
        wsum = np.bincount(node_of_row, weights=ts.weights, minlength=t.node_count)
        node_proba = proba.copy()
        has = wsum > 0
        node_proba[has] = psum[has] / wsum[has, None]
        full = self._collapsed_rules(tree, collapsed, node_labels, node_proba)
        counts = np.bincount([list(self.classes_).index(r.prediction) for r in full.rules], minlength=k)
        # Default: the class whose rules we drop. The most rules, then the most weight.
        weight_by_class = np.zeros(k)
        for j, r in enumerate(full.rules):
            weight_by_class[list(self.classes_).index(r.prediction)] += wsum[_node(r)]
        default = int(np.lexsort((weight_by_class, counts))[-1])
        kept = tuple(r for r in full.rules if r.prediction != self.classes_[default])
        if len(kept) > self.max_rules:
            return None
        dsel = np.isin(node_of_row, [_node(r) for r in full.rules if r.prediction == self.classes_[default]])
        dprob = np.average(ts.proba[dsel], axis=0, weights=ts.weights[dsel]) if dsel.any() else None
        if dprob is not None:
            dprob = tuple(float(v) for v in dprob / dprob.sum())
        kept = tuple(Rule(r.conditions, r.prediction, r.proba, r.support, r.confidence, f"r{i}") for i, r in enumerate(kept))
        return RuleSet(
            rules=kept, classes=full.classes, default=self.classes_[default], default_proba=dprob,
            ordered=False, feature_names=full.feature_names,
            metadata={"n_leaves": int(collapsed.sum())},
        )

    @staticmethod
    def _collapsed_node(tree: Any, collapsed: np.ndarray, leaf_of_row: np.ndarray) -> np.ndarray:
        t = tree.tree_
        parent = np.full(t.node_count, -1, dtype=np.intp)
        for node in range(t.node_count):
            for c in (t.children_left[node], t.children_right[node]):
                if c != -1:
                    parent[c] = node
        # For each original leaf, its highest collapsed ancestor (or itself).
        top = np.arange(t.node_count)
        for leaf in np.unique(leaf_of_row):
            node, best = leaf, leaf
            while node != -1:
                if collapsed[node]:
                    best = node
                node = parent[node]
            top[leaf] = best
        return top[leaf_of_row]

    def _collapsed_rules(self, tree: Any, collapsed: np.ndarray, labels: np.ndarray, proba: np.ndarray) -> RuleSet:
        """Rules of the tree whose leaves are the ``collapsed`` nodes (via the exact importer)."""
        return from_sklearn_tree(
            tree, feature_names=self.domain_.names,
            categories={n: self._cat_orders_[n] for n in self._cat_orders_},
            classes=self.classes_, leaf_labels=[self.classes_[i] for i in labels], leaf_proba=proba,
            stop_at=collapsed,
        )

    def _shorten_list(self, rs: RuleSet, ts: Any) -> RuleSet:
        """Ordered list; drop conditions, then rules, while fidelity on ``ts`` does not drop."""
        rules = sorted(rs.rules, key=lambda r: -r.support)
        current = rs.replace(rules=tuple(rules), ordered=True)
        best = self._fidelity(current, ts)
        for i in range(len(current.rules)):
            conds = list(current.rules[i].conditions)
            j = 0
            while j < len(conds):
                trial_conds = conds[:j] + conds[j + 1 :]
                trial_rules = list(current.rules)
                r = trial_rules[i]
                trial_rules[i] = Rule(tuple(trial_conds), r.prediction, r.proba, r.support, r.confidence, r.id)
                trial = current.replace(rules=tuple(trial_rules))
                score = self._fidelity(trial, ts)
                if score >= best:
                    current, best, conds = trial, score, trial_conds
                else:
                    j += 1
        i = 0
        while i < len(current.rules):
            trial = current.replace(rules=current.rules[:i] + current.rules[i + 1 :])
            score = self._fidelity(trial, ts)
            if score >= best and len(trial.rules) > 0:
                current, best = trial, score
            else:
                i += 1
        return current
