"""Import fitted trees into the rule IR with each model's exact semantics.

* scikit-learn: a node tests ``float32(x) <= threshold``; missing values follow
  ``missing_go_to_left`` (recorded by the splitter, also when training saw none).
* XGBoost: a numeric node tests ``float32(x) < split_condition``; a categorical
  node sends the listed category codes to the right child; missing values follow
  the learned default branch (``default_left``).

Each leaf becomes one rule, so the rule set is unordered and its rules are
disjoint: exactly one matches any input, and it predicts what the tree predicts.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from ..exceptions import RuleFormatError
from ._ir import Condition, Rule, RuleSet, merge_conjunction

__all__ = ["from_sklearn_tree", "from_xgboost_tree", "xgboost_trees"]


def from_sklearn_tree(
    tree: Any,
    feature_names: Sequence[str] | None = None,
    *,
    categories: dict[str, Sequence[Any]] | None = None,
    leaf_labels: Any = None,
    classes: Sequence[Any] | None = None,
    leaf_proba: Any = None,
    stop_at: Any = None,
) -> RuleSet:
    """Rules of a fitted :class:`~sklearn.tree.DecisionTreeClassifier`, one per leaf.

    Parameters
    ----------
    tree : DecisionTreeClassifier
        Fitted tree (``tree_`` present).
    feature_names : sequence of str, optional
        Column names; defaults to ``feature_names_in_`` or ``x0, x1, ...``.
    categories : dict, optional
        Features that the tree saw as ordinal category codes ``0..k-1``: name ->
        levels in code order. Their splits become ``in`` / ``not in`` level sets.
    leaf_labels : array-like of shape (n_nodes,), optional
        Override the class each leaf predicts (used by distillation, which may
        relabel leaves); defaults to the argmax of the leaf probabilities.
    classes : sequence, optional
        Class labels; required for a regression tree (whose outputs are then
        read as class probabilities), else ``tree.classes_``.
    leaf_proba : array-like of shape (n_nodes, n_classes), optional
        Override the probabilities of each leaf.
    stop_at : array-like of bool, shape (n_nodes,), optional
        Treat these internal nodes as leaves (their subtree collapsed), e.g.
        where every leaf below predicts the same class.

    Returns
    -------
    RuleSet
        Unordered, one disjoint rule per leaf; ``id`` is ``"leaf<node>"``.
    """
    t = getattr(tree, "tree_", None)
    if t is None:
        raise ValueError("from_sklearn_tree needs a fitted scikit-learn decision tree (no tree_ found).")
    if getattr(tree, "n_outputs_", 1) != 1:
        raise ValueError("from_sklearn_tree reads single-output trees; this tree has several outputs.")
    if classes is None:
        if not hasattr(tree, "classes_"):
            raise ValueError("A regression tree needs classes=... to be read as a classifier.")
        classes = tree.classes_
    classes = tuple(np.asarray(classes).tolist())
    if feature_names is None:
        names = getattr(tree, "feature_names_in_", None)
        feature_names = [str(n) for n in names] if names is not None else [f"x{i}" for i in range(t.n_features)]
    feature_names = tuple(str(n) for n in feature_names)
    if len(feature_names) != t.n_features:
        raise ValueError(f"Got {len(feature_names)} feature names for a tree with {t.n_features} features.")
    categories = dict(categories or {})
    miss_left = getattr(t, "missing_go_to_left", None)
    if leaf_proba is not None:
        values = np.asarray(leaf_proba, dtype=np.float64)
    elif hasattr(tree, "classes_"):
        values = t.value[:, 0, :]
    else:
        raise ValueError("Pass leaf_proba=... to read a regression tree as a classifier.")
    if values.shape != (t.node_count, len(classes)):
        raise ValueError(f"Leaf probabilities have shape {values.shape}, expected {(t.node_count, len(classes))}.")
    for what, given in (("leaf_labels", leaf_labels), ("stop_at", stop_at)):
        if given is not None and len(given) != t.node_count:
            raise ValueError(f"{what} has {len(given)} entries; the tree has {t.node_count} nodes (one per node).")
    total = float(t.weighted_n_node_samples[0])
    rules: list[Rule] = []

    def split(node: int) -> tuple[Condition, Condition]:
        name = feature_names[t.feature[node]]
        thr = float(t.threshold[node])
        ml = bool(miss_left[node]) if miss_left is not None else False
        if thr == math.inf and not ml:
            # scikit-learn's split of the missing values from the others: every value goes left
            # (x <= inf), a missing one right. Said as such (it read "c in {} or c is missing").
            return (Condition(name, "is not missing"), Condition(name, "is missing"))
        if name in categories:
            levels = list(categories[name])
            codes = np.arange(len(levels), dtype=np.float64)
            left = frozenset(lv for lv, c in zip(levels, codes) if float(np.float32(c)) <= thr)
            right = frozenset(levels) - left
            if not 0 <= thr <= len(levels) - 1:
                # A threshold lies within the codes the tree saw (a midpoint between two, or for the random
                # splitter a value from min up to max): one outside the list's codes means the tree saw
                # codes the list lacks, and an import would answer them wrongly.
                raise RuleFormatError(
                    f"The tree splits {name!r} at code {thr:g}, but categories[{name!r}] lists "
                    f"{len(levels)} level(s) (codes 0-{len(levels) - 1}): the tree saw codes the list lacks. "
                    f"Pass every level, in category-code order."
                )

            def side(listed: frozenset, missing: bool) -> Condition:
                # No level on a side that missing values take (a split of the missing values from the
                # rest at the largest code): said as such, not "c in {} or c is missing".
                return Condition(name, "is missing") if missing and not listed else Condition(name, "in", listed, missing)

            return side(left, ml), side(right, not ml)
        return (
            Condition(name, "<=", thr, ml, "float32"),
            Condition(name, ">", thr, not ml, "float32"),
        )

    def walk(node: int, path: list[Condition]) -> None:
        left, right = int(t.children_left[node]), int(t.children_right[node])
        if left == -1 or (stop_at is not None and stop_at[node]):
            v = values[node]
            s = float(v.sum())
            p = v / s if s > 0 else np.full(len(classes), 1.0 / len(classes))
            if leaf_labels is not None:
                pred = leaf_labels[node]
                if pred not in classes:
                    raise RuleFormatError(
                        f"leaf_labels gives leaf {node} the label "
                        f"{pred.item() if isinstance(pred, np.generic) else pred!r}, which is not one of the classes "
                        f"{list(classes)!r}; give labels from classes= (or the tree's classes_)."
                    )
            else:
                pred = classes[int(np.argmax(v))]
            ci = classes.index(pred)
            rules.append(
                Rule(
                    conditions=merge_conjunction(path),
                    prediction=pred,
                    proba=tuple(float(x) for x in p),
                    support=int(t.n_node_samples[node]),
                    confidence=float(p[ci]),
                    id=f"leaf{node}",
                )
            )
            return
        cl, cr = split(node)
        walk(left, path + [cl])
        walk(right, path + [cr])

    walk(0, [])
    # A tree with a single leaf has one rule with no conditions: it is the default too.
    default_rule = max(rules, key=lambda r: r.support)
    return RuleSet(
        rules=tuple(rules),
        classes=classes,
        default=default_rule.prediction,
        default_proba=default_rule.proba,
        ordered=False,
        feature_names=feature_names,
        metadata={"source": "sklearn.tree", "n_leaves": len(rules), "weighted_n_samples": total},
    )


def _booster(model: Any) -> Any:
    import xgboost as xgb

    if isinstance(model, xgb.Booster):
        return model
    if hasattr(model, "get_booster"):
        return model.get_booster()
    raise TypeError(f"Expected an XGBoost Booster or XGBClassifier, got {type(model).__name__}.")


def xgboost_trees(model: Any) -> list[dict]:
    """The trees of an XGBoost model as parsed from its own JSON format."""
    booster = _booster(model)
    doc = json.loads(booster.save_raw("json"))
    gb = doc["learner"]["gradient_booster"]
    if gb.get("name", "gbtree") != "gbtree":
        raise ValueError(
            f"Only tree boosters (booster='gbtree') can be read as rules; this model uses {gb.get('name')!r}."
        )
    return gb["model"]["trees"]


def from_xgboost_tree(
    model: Any,
    tree_index: int = 0,
    feature_names: Sequence[str] | None = None,
    *,
    categories: dict[str, Sequence[Any]] | None = None,
    classes: Sequence[Any] = (0, 1),
) -> RuleSet:
    """Rules of one XGBoost tree, one per leaf, with the leaf value as ``score``.

    Parameters
    ----------
    model : xgboost.Booster or XGBClassifier
    tree_index : int
        Which tree (as in ``Booster.predict(pred_leaf=True)`` columns).
    feature_names : sequence of str, optional
        Defaults to the booster's feature names or ``f0, f1, ...``.
    categories : dict, optional
        name -> levels in category-code order, for features XGBoost treated as
        categorical (pandas ``category`` columns). Required for those features.
    classes : sequence, default=(0, 1)
        A leaf with a positive score predicts ``classes[1]``, otherwise
        ``classes[0]`` (one tree alone only orders margins).

    Returns
    -------
    RuleSet
        Unordered, one disjoint rule per leaf; ``id`` is ``"t<tree>_leaf<node>"``
        and ``score`` the leaf value, so that ``rs.decide(X)`` picks the same
        leaf as ``Booster.predict(..., pred_leaf=True)[:, tree_index]``.
    """
    booster = _booster(model)
    missing = getattr(model, "missing", np.nan)
    if missing is not None and not (isinstance(missing, (float, np.floating)) and math.isnan(missing)):
        raise RuleFormatError(
            f"The model treats {missing!r} as missing (missing={missing!r}); the rules read only NaN as "
            f"missing. Replace {missing!r} by NaN in the data and refit with the default missing=nan."
        )
    trees = xgboost_trees(booster)
    if not 0 <= tree_index < len(trees):
        raise IndexError(f"tree_index {tree_index} is out of range: the model has {len(trees)} trees.")
    tree = trees[tree_index]
    if int(tree.get("tree_param", {}).get("size_leaf_vector", 1) or 1) > 1:
        raise RuleFormatError(
            "This XGBoost model grows multi-output trees (multi_strategy='multi_output_tree'), whose leaves "
            "hold one value per class; import a model fitted with the default multi_strategy='one_output_per_tree'."
        )
    if feature_names is None:
        feature_names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
    feature_names = tuple(str(n) for n in feature_names)
    if len(feature_names) != booster.num_features():
        raise ValueError(f"feature_names has {len(feature_names)} names; the model has "
                         f"{booster.num_features()} features.")
    categories = dict(categories or {})
    classes = tuple(classes)
    if len(classes) != 2:
        raise ValueError("from_xgboost_tree labels leaves by the sign of their score: pass two classes.")
    left_c, right_c = tree["left_children"], tree["right_children"]
    cond = tree["split_conditions"]
    idx = tree["split_indices"]
    default_left = tree["default_left"]
    split_type = tree.get("split_type", [0] * len(left_c))
    hess = tree.get("sum_hessian", [0.0] * len(left_c))
    cat_sets: dict[int, list[int]] = {}
    cats = tree.get("categories", [])
    for node, seg, size in zip(
        tree.get("categories_nodes", []), tree.get("categories_segments", []), tree.get("categories_sizes", [])
    ):
        cat_sets[int(node)] = [int(c) for c in cats[seg : seg + size]]
    rules: list[Rule] = []

    def walk(node: int, path: list[Condition]) -> None:
        left, right = int(left_c[node]), int(right_c[node])
        if left == -1:
            score = float(np.float32(cond[node]))
            pred = classes[1] if score > 0 else classes[0]
            rules.append(
                Rule(
                    conditions=merge_conjunction(path),
                    prediction=pred,
                    support=0,
                    confidence=1.0,
                    id=f"t{tree_index}_leaf{node}",
                    score=score,
                )
            )
            return
        name = feature_names[int(idx[node])]
        dl = bool(default_left[node])
        if int(split_type[node]) == 1:
            if name not in categories:
                raise RuleFormatError(
                    f"Tree {tree_index} splits on {name!r} as a categorical feature; pass its levels "
                    f"in categories={{'{name}': [...]}} (in category-code order)."
                )
            levels = list(categories[name])
            right_codes = set(cat_sets.get(node, []))
            unlisted = sorted(k for k in right_codes if not 0 <= k < len(levels))
            if unlisted:  # those codes would vanish from the rule, and their level answer as the other side
                raise RuleFormatError(
                    f"Tree {tree_index} sends category code(s) {unlisted} of {name!r} right, but "
                    f"categories[{name!r}] lists {len(levels)} level(s) (codes 0-{len(levels) - 1}). Pass "
                    f"every level the model was fitted with, in category-code order."
                )
            right_set = frozenset(lv for k, lv in enumerate(levels) if k in right_codes)
            # The listed codes go right and every other value left, as XGBoost sends a code it does
            # not list (out of range, negative) left. (It truncates a fractional code first: 1.5
            # is code 1; such input, possible only with numeric codes, is not modelled.)
            cl = Condition(name, "not in", right_set, dl)
            cr = Condition(name, "in", right_set, not dl)
        else:
            thr = float(np.float32(cond[node]))
            cl = Condition(name, "<", thr, dl, "float32")
            cr = Condition(name, ">=", thr, not dl, "float32")
        walk(left, path + [cl])
        walk(right, path + [cr])

    walk(0, [])
    return RuleSet(
        rules=tuple(rules),
        classes=classes,
        default=classes[0],
        ordered=False,
        feature_names=feature_names,
        metadata={"source": "xgboost", "tree_index": tree_index, "sum_hessian": float(hess[0]) if hess else 0.0},
    )
