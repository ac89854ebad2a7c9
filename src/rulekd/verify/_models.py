"""Predictors as lists of regions, for the checks and the equivalence proof.

A :class:`Model` is a priority-ordered list of conjunctions, each with a label
(a class, or a tree leaf), and a default label where none matches (``None``
for a tree, whose leaves cover every input). Three are built here:

* from a :class:`~rulekd.RuleSet` (unordered sets ordered by confidence, as
  ``RuleSet.decide`` does);
* from a fitted scikit-learn tree, walking ``tree_`` directly (``float32(x) <=
  threshold``, missing values down ``missing_go_to_left``);
* from one tree of an XGBoost model, walking the model's own JSON
  (``float32(x) < split``, ``default_left``, category sets to the right).

The tree walks do not use the rule importers, so proving a rule set
equivalent to the tree it came from is not circular. Each model also evaluates
concrete inputs through the model's ordinary predict path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain
from ..exceptions import RuleFormatError
from ..rules._ir import Condition, RuleSet
from ._boxes import BoxSet
from ._encode import Encoding

__all__ = ["Model", "ruleset_model", "sklearn_tree_model", "xgboost_tree_model", "as_model"]


@dataclass
class Model:
    """Regions in priority order: the first whose conjunction holds answers.

    Attributes
    ----------
    conjs : list of tuple of Condition
        In priority order.
    labels : list
        The answer of each region.
    ids : list of str
        A name per region (rule id, or ``leaf<node>``).
    default : label or None
        Answer where no region holds; ``None`` when the regions cover every
        input and are pairwise disjoint (a tree).
    evaluate : callable
        DataFrame (Domain columns, categoricals as pandas Categorical) ->
        array of labels, through the model's own predict path.
    name : str
    """

    conjs: list
    labels: list
    ids: list
    default: Any
    evaluate: Callable[[pd.DataFrame], np.ndarray]
    name: str
    index: list | None = None  # original rule index of each region (rule sets)

    @property
    def complete(self) -> bool:
        return self.default is None

    def __len__(self) -> int:
        return len(self.conjs)

    def boxes(self, domain: Domain, features: Sequence[str]) -> BoxSet:
        return BoxSet(self.conjs, domain, features)

    def match(self, enc: Encoding, k: int) -> Any:
        return enc.conj(self.conjs[k])

    def fire(self, enc: Encoding, k: int, earlier: Sequence[int]) -> Any:
        """Region ``k`` answers: it holds and none of ``earlier`` (those that may overlap) does."""
        import z3

        m = self.match(enc, k)
        if self.complete or not len(earlier):
            return m
        return z3.And([m] + [z3.Not(self.match(enc, e)) for e in earlier])

    def none(self, enc: Encoding, candidates: Sequence[int]) -> Any:
        """No region among ``candidates`` holds."""
        import z3

        if self.complete:
            return z3.BoolVal(False) if len(candidates) else z3.BoolVal(True)
        return z3.And([z3.Not(self.match(enc, k)) for k in candidates]) if len(candidates) else z3.BoolVal(True)

    def answer(self, enc: Encoding, code: Callable[[Any], int], candidates: Sequence[int] | None = None) -> Any:
        """Int expression: the code of the answer, using only ``candidates`` (all that may hold)."""
        import z3

        cand = list(range(len(self.conjs))) if candidates is None else sorted(candidates)
        if self.complete:
            if not cand:
                raise RuntimeError("A complete model must have a region everywhere.")
            expr = z3.IntVal(code(self.labels[cand[-1]]))
            cand = cand[:-1]
        else:
            expr = z3.IntVal(code(self.default))
        for k in reversed(cand):
            lab = code(self.labels[k])
            expr = z3.If(self.match(enc, k), z3.IntVal(lab), expr)
        return expr


def _priority(rs: RuleSet) -> list[int]:
    n = len(rs.rules)
    if rs.ordered:
        return list(range(n))
    conf = np.array([r.confidence for r in rs.rules])
    return [int(i) for i in np.lexsort((np.arange(n), -conf))]


_LEAF = re.compile(r"^(?:t\d+_)?leaf(\d+)$")


def ruleset_model(rs: RuleSet, domain: Domain, *, compare: str = "class") -> Model:
    """The rule set as a model; ``compare="leaf"`` labels rules by the tree leaf in their id."""
    order = _priority(rs)
    conjs = [rs.rules[i].conditions for i in order]
    ids = [rs.rule_id(i) for i in order]
    names = list(domain.names)
    if compare == "leaf":
        labels = []
        for i in order:
            m = _LEAF.match(rs.rule_id(i))
            if m is None:
                raise RuleFormatError(
                    f"Comparing tree leaves needs rule ids like 'leaf<node>' or 't<k>_leaf<node>' (as the "
                    f"importers write them); rule {rs.rule_id(i)!r} has none."
                )
            labels.append(int(m.group(1)))
        node_of = {rs.rule_id(i): lab for i, lab in zip(order, labels)}

        def evaluate(frame: pd.DataFrame) -> np.ndarray:
            by = rs.decided_by(frame[names])
            return np.asarray([node_of.get(b, "default") for b in by], dtype=object)

        return Model(conjs, labels, ids, "default", evaluate, "rules", list(order))

    # A hybrid's rules leave the rows no rule answers to its student: the default is not a class there, and
    # a change that moved rows between a rule and the student (a rule dropped, a condition removed) must not
    # pass for equivalent because the rule's class equals the placeholder.
    default = student_label(rs.classes) if rs.default_is_student else rs.default

    def evaluate_cls(frame: pd.DataFrame) -> np.ndarray:
        out = np.asarray(rs.predict(frame[names]), dtype=object)
        if rs.default_is_student:
            out[rs.decide(frame[names]) < 0] = default
        return out

    return Model(conjs, [rs.rules[i].prediction for i in order], ids, default, evaluate_cls, "rules", list(order))


def student_label(classes: Sequence[Any]) -> str:
    """The answer of a hybrid's rules where none fires, in the verifier's models: a text no class has."""
    label = "the neural student"
    taken = {c for c in classes if isinstance(c, str)}
    while label in taken:
        label += "*"
    return label


def _cat_order(name: str, domain: Domain, categories: dict | None) -> list:
    levels = list(domain[name].levels)
    if categories and name in categories:
        order = list(categories[name])
        unknown = [lv for lv in levels if lv not in order]
        if unknown:
            raise RuleFormatError(
                f"Domain levels {unknown[:5]} of {name!r} are not among the tree's categories {order[:10]}."
            )
        return order
    return levels


def sklearn_tree_model(tree: Any, domain: Domain, feature_names: Sequence[str] | None = None,
                       categories: dict | None = None) -> Model:
    """A fitted ``DecisionTreeClassifier`` read from ``tree_`` (its own semantics, not the importer's)."""
    t = getattr(tree, "tree_", None)
    if t is None or not hasattr(tree, "classes_"):
        raise TypeError("Expected a fitted scikit-learn DecisionTreeClassifier.")
    if feature_names is None:
        fn = getattr(tree, "feature_names_in_", None)
        feature_names = [str(n) for n in fn] if fn is not None else [f"x{i}" for i in range(t.n_features)]
    feature_names = list(feature_names)
    classes = list(np.asarray(tree.classes_).tolist())
    miss_left = getattr(t, "missing_go_to_left", None)
    conjs, labels, ids = [], [], []
    orders = {f: _cat_order(f, domain, categories) for f in feature_names
              if f in domain and domain[f].kind == "categorical"}

    def split(node: int) -> tuple[Condition, Condition]:
        f = feature_names[int(t.feature[node])]
        thr = float(t.threshold[node])
        ml = bool(miss_left[node]) if miss_left is not None else False
        if f in orders:
            order = orders[f]
            left = frozenset(lv for k, lv in enumerate(order) if float(np.float32(k)) <= thr)
            right = frozenset(order) - left
            return Condition(f, "in", left, ml), Condition(f, "in", right, not ml)
        return Condition(f, "<=", thr, ml, "float32"), Condition(f, ">", thr, not ml, "float32")

    stack = [(0, ())]
    while stack:
        node, path = stack.pop()
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left == -1:
            conjs.append(path)
            labels.append(classes[int(np.argmax(t.value[node, 0]))])
            ids.append(f"leaf{node}")
            continue
        cl, cr = split(node)
        stack.append((right, path + (cr,)))
        stack.append((left, path + (cl,)))

    fitted_names = getattr(tree, "feature_names_in_", None)

    def evaluate(frame: pd.DataFrame) -> np.ndarray:
        cols = {}
        for f in feature_names:
            col = frame[f]
            if f in orders:
                codes = pd.Categorical(col, categories=orders[f]).codes.astype(np.float64)
                codes[codes < 0] = np.nan
                cols[f] = codes
            else:
                cols[f] = np.asarray(col, dtype=np.float64)
        X = pd.DataFrame(cols, columns=feature_names)
        if fitted_names is None:
            X = X.to_numpy()
        return np.asarray(tree.predict(X), dtype=object)

    return Model(conjs, labels, ids, None, evaluate, "sklearn tree")


def xgboost_tree_model(model: Any, domain: Domain, tree_index: int = 0, feature_names: Sequence[str] | None = None,
                       categories: dict | None = None) -> Model:
    """One tree of an XGBoost model, read from its JSON; labels are leaf node ids."""
    import xgboost as xgb

    from ..rules import xgboost_trees

    booster = model if isinstance(model, xgb.Booster) else model.get_booster()
    trees = xgboost_trees(booster)
    if not 0 <= tree_index < len(trees):
        raise IndexError(f"tree_index {tree_index} is out of range: the model has {len(trees)} trees.")
    tree = trees[tree_index]
    if feature_names is None:
        feature_names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
    feature_names = [str(n) for n in feature_names]
    lc, rc = tree["left_children"], tree["right_children"]
    cond, idx, dleft = tree["split_conditions"], tree["split_indices"], tree["default_left"]
    stype = tree.get("split_type", [0] * len(lc))
    cats = tree.get("categories", [])
    right_codes: dict[int, set] = {}
    for node, seg, size in zip(tree.get("categories_nodes", []), tree.get("categories_segments", []),
                               tree.get("categories_sizes", [])):
        right_codes[int(node)] = {int(c) for c in cats[seg : seg + size]}
    orders: dict[str, list] = {}
    conjs, labels, ids = [], [], []
    stack = [(0, ())]
    while stack:
        node, path = stack.pop()
        left, right = int(lc[node]), int(rc[node])
        if left == -1:
            conjs.append(path)
            labels.append(node)
            ids.append(f"t{tree_index}_leaf{node}")
            continue
        f = feature_names[int(idx[node])]
        dl = bool(dleft[node])
        if int(stype[node]) == 1:
            if f not in domain or domain[f].kind != "categorical":
                raise RuleFormatError(f"XGBoost splits on {f!r} as categorical; the Domain must list its levels.")
            order = orders.setdefault(f, _cat_order(f, domain, categories))
            rset = frozenset(lv for k, lv in enumerate(order) if k in right_codes.get(node, set()))
            lset = frozenset(order) - rset
            cl, cr = Condition(f, "in", lset, dl), Condition(f, "in", rset, not dl)
        else:
            thr = float(np.float32(cond[node]))
            cl, cr = Condition(f, "<", thr, dl, "float32"), Condition(f, ">=", thr, not dl, "float32")
        stack.append((right, path + (cr,)))
        stack.append((left, path + (cl,)))
    names_in_model = booster.feature_names

    def evaluate(frame: pd.DataFrame) -> np.ndarray:
        cols = {}
        for f in feature_names:
            if f in domain and domain[f].kind == "categorical":
                order = orders.get(f) or _cat_order(f, domain, categories)
                cols[f] = pd.Categorical(frame[f], categories=order)
            else:
                cols[f] = np.asarray(frame[f], dtype=np.float64)
        X = pd.DataFrame(cols, columns=feature_names)
        if names_in_model is None and not any(isinstance(v, pd.Categorical) for v in cols.values()):
            dm = xgb.DMatrix(X.to_numpy(), missing=np.nan)
        else:
            dm = xgb.DMatrix(X, missing=np.nan, enable_categorical=True)
        leaves = booster.predict(dm, pred_leaf=True)
        leaves = np.asarray(leaves).reshape(len(X), -1)
        return np.asarray(leaves[:, tree_index].astype(int), dtype=object)

    return Model(conjs, labels, ids, None, evaluate, f"xgboost tree {tree_index}")


def as_model(obj: Any, domain: Domain, *, compare: str = "class", tree_index: int | None = None,
             feature_names: Sequence[str] | None = None, categories: dict | None = None) -> Model:
    """A Model from a RuleSet, a fitted scikit-learn tree or an XGBoost model."""
    if isinstance(obj, Model):
        return obj
    if isinstance(obj, RuleSet):
        return ruleset_model(obj, domain, compare=compare)
    if hasattr(obj, "tree_") and hasattr(obj, "classes_"):
        return sklearn_tree_model(obj, domain, feature_names, categories)
    try:
        import xgboost as xgb
    except ImportError:  # pragma: no cover
        xgb = None
    if xgb is not None and (isinstance(obj, xgb.Booster) or hasattr(obj, "get_booster")):
        return xgboost_tree_model(obj, domain, tree_index or 0, feature_names, categories)
    raise TypeError(
        f"Cannot compare with a {type(obj).__name__}: expected a RuleSet, a fitted scikit-learn "
        f"DecisionTreeClassifier or an XGBoost model."
    )
