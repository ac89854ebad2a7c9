"""One interface over every teacher: XGBoost, scikit-learn classifiers, torch modules.

A :class:`Teacher` gives logits, soft targets at a temperature, hard labels and
(for tree ensembles) its own split thresholds, whatever model sits behind it.
:func:`fit_teacher` is how estimators obtain one: a teacher passed to them is
cloned and fitted; one wrapped in :class:`sklearn.frozen.FrozenEstimator` (or
an ``nn.Module``, or a :class:`Teacher`) is used as is and never modified.
"""

from __future__ import annotations

import inspect
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from ..exceptions import NotFittedError, TeacherError, user_stacklevel

__all__ = ["Teacher", "SklearnTeacher", "XGBoostTeacher", "TorchTeacher", "fit_teacher", "default_teacher"]


def default_teacher(random_state: Any = None) -> Any:
    """The default teacher: ``XGBClassifier(n_estimators=200, max_depth=4)``.

    Native categorical support is on, so pandas ``category`` columns are used as
    they are (no one-hot encoding).
    """
    from xgboost import XGBClassifier

    seed = random_state if isinstance(random_state, (int, np.integer)) else 0
    return XGBClassifier(
        n_estimators=200,
        max_depth=4,
        learning_rate=0.1,
        enable_categorical=True,
        tree_method="hist",
        n_jobs=1,  # XGBoost threads oversubscribe small machines badly; one is fast on tabular sizes
        random_state=int(seed),
    )


def _scoring_estimator(est: Any) -> Any:
    """The fitted model whose ``decision_function`` a wrapper passes on: through ``FrozenEstimator``, a
    ``Pipeline``'s last step and a search's ``best_estimator_`` (an SVC(decision_function_shape='ovo')
    inside a pipeline gives one-vs-one scores too)."""
    from sklearn.pipeline import Pipeline

    for _ in range(20):  # wrappers nest a few deep at most
        inner = _unfrozen(est)
        if isinstance(inner, Pipeline):
            inner = inner.steps[-1][1]
        elif hasattr(inner, "best_estimator_"):
            inner = inner.best_estimator_
        if inner is est:
            return est
        est = inner
    return est


def _unfrozen(est: Any) -> Any:
    """The model inside a :class:`~sklearn.frozen.FrozenEstimator`, else ``est`` itself.

    Only ``FrozenEstimator`` is unwrapped: meta-estimators such as
    ``RandomForestClassifier`` or ``CalibratedClassifierCV`` also have an
    ``estimator`` attribute, but it holds their unfitted template.
    """
    from sklearn.frozen import FrozenEstimator

    while isinstance(est, FrozenEstimator):
        est = est.estimator
    return est


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Teacher:
    """Adapter base class. Subclasses implement :meth:`logits`.

    Attributes
    ----------
    estimator : object
        The wrapped model (never modified by rulekd).
    classes_ : ndarray
        Class labels in the column order of :meth:`logits`.
    """

    estimator: Any
    classes_: np.ndarray

    def logits(self, X: Any) -> np.ndarray:
        """Unnormalised log-probabilities, shape ``(n, n_classes)``."""
        raise NotImplementedError

    def proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``."""
        return _softmax(self.logits(X))

    def soft_targets(self, X: Any, temperature: float = 1.0) -> np.ndarray:
        """``softmax(logits / T)``: the teacher's distribution softened by ``T``."""
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}.")
        return _softmax(self.logits(X) / float(temperature))

    def predict(self, X: Any) -> np.ndarray:
        """Hard labels (argmax of the logits)."""
        return self.classes_[np.argmax(self.logits(X), axis=1)]

    def split_thresholds(self) -> dict[str, np.ndarray]:
        """The teacher's own cut points per feature name (tree models); else empty."""
        return {name: t for name, (t, _) in self.split_gains().items()}

    def split_gains(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per feature name, the teacher's numeric cut points (sorted, distinct) and the total gain of
        the splits at each (XGBoost's loss change; a scikit-learn tree's weighted impurity decrease);
        empty for a teacher without split thresholds."""
        return {}

    def column_names(self) -> list[str] | None:
        """The names ``split_gains`` gives the columns of a teacher fitted on a frame, in the order of its
        columns; ``None`` for a teacher fitted on an array (its cuts are then named x0, x1, ... by position)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.estimator!r})"


def _aligned(X: Any, names: list[str] | None, shown: Any = str) -> Any:
    """``X`` with the columns a frame-fitted model was fitted on (``names``), in its order: the same columns in
    another order are reordered, an array of that width is named by position; other columns are a
    TeacherError naming what is missing and what is extra (scikit-learn's and XGBoost's own errors came from
    inside them). ``shown`` maps a column label to the name the model knows it by."""
    if names is None:
        return X
    if not isinstance(X, pd.DataFrame):
        arr = np.asarray(X)
        if arr.ndim == 2 and arr.shape[1] == len(names):
            return pd.DataFrame(arr, columns=names)
        return X
    cols = [shown(c) for c in X.columns]
    if cols == list(names):
        return X
    if len(set(cols)) == len(cols) and set(cols) == set(names):
        where = {c: i for i, c in enumerate(cols)}
        return X.iloc[:, [where[n] for n in names]].set_axis(list(X.columns[[where[n] for n in names]]), axis=1)
    missing = [n for n in names if n not in set(cols)]
    extra = [c for c in cols if c not in set(names)]
    raise TeacherError(
        f"The teacher was fitted on other columns than the data's: it lacks {extra[:10]} and needs "
        f"{missing[:10]}. Pass the columns it was trained on (drop the others, e.g. an id or the target), with "
        f"the names it was trained with.")


class _InputMixin:
    """Feed the model data in the form it was fitted on (frame or array)."""

    uses_frame: bool = True

    def _input(self, X: Any) -> Any:
        if isinstance(X, pd.DataFrame) and not self.uses_frame:
            if any(isinstance(d, pd.CategoricalDtype) for d in X.dtypes):
                return X
            return X.to_numpy(dtype=np.float64, na_value=np.nan)
        return X


class SklearnTeacher(_InputMixin, Teacher):
    """Any fitted scikit-learn classifier with ``predict_proba`` or ``decision_function``."""

    def __init__(self, estimator: Any, classes: Any = None):
        if not (hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function")):
            inner = _unfrozen(estimator)
            hint = ": give it voting='soft'" if getattr(inner, "voting", None) == "hard" else ""
            raise TeacherError(
                f"{type(inner).__name__} has neither predict_proba nor decision_function; "
                f"a teacher must give scores, not only labels{hint}."
            )
        try:
            check_is_fitted(estimator)
        except (NotFittedError, TypeError):
            raise TeacherError(f"The teacher {type(estimator).__name__} is not fitted.") from None
        self.estimator = estimator
        inner = _unfrozen(estimator)
        raw = getattr(inner, "classes_", None) if classes is None else classes
        if isinstance(raw, list) and raw and all(np.ndim(c) == 1 for c in raw):
            raise TeacherError(f"The teacher {type(inner).__name__} predicts {len(raw)} outputs (one classes_ per "
                               f"output): distil one output at a time, with a teacher fitted on that output.")
        self.classes_ = np.asarray(raw)
        if self.classes_.ndim != 1 or len(self.classes_) < 2:
            raise TeacherError("The teacher must be a classifier with at least two classes_.")
        names = getattr(inner, "feature_names_in_", None)
        self.uses_frame = names is not None
        self._names = None if names is None else [str(n) for n in names]

    def _input(self, X: Any) -> Any:
        return _aligned(super()._input(X), self._names)

    def column_names(self) -> list[str] | None:
        return None if self._names is None else list(self._names)

    def _predict_proba(self, Xi: Any) -> np.ndarray | None:
        if not hasattr(self.estimator, "predict_proba"):
            return None
        try:
            return np.asarray(self.estimator.predict_proba(Xi), dtype=np.float64)
        except (AttributeError, NotImplementedError):
            return None

    def proba(self, X: Any) -> np.ndarray:
        """The estimator's own ``predict_proba`` where it has one (exact: not through clipped logits, which
        would turn probabilities of 0 into tiny, row-dependent values); else softmax of the decision function."""
        p = self._predict_proba(self._input(X))
        return p if p is not None else super().proba(X)

    def logits(self, X: Any) -> np.ndarray:
        Xi = self._input(X)
        p = self._predict_proba(Xi)
        if p is not None:
            return np.log(np.clip(p, 1e-12, 1.0))
        d = np.asarray(self.estimator.decision_function(Xi), dtype=np.float64)
        if d.ndim == 1:
            return np.column_stack([np.zeros_like(d), d])
        ovo = getattr(_scoring_estimator(self.estimator), "decision_function_shape", None) == "ovo"
        if d.shape[1] != len(self.classes_) or ovo:  # with 3 classes, 3 pairwise scores look like 3 logits
            raise TeacherError(
                f"{type(_scoring_estimator(self.estimator)).__name__}.decision_function gives {d.shape[1]} columns for "
                f"{len(self.classes_)} classes (one-vs-one scores, e.g. SVC(decision_function_shape='ovo')), not "
                f"one score per class; use decision_function_shape='ovr' or probability=True."
            )
        return d

    def split_gains(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        inner = _unfrozen(self.estimator)
        if hasattr(inner, "_predictors"):  # HistGradientBoosting
            return _hist_gradient_boosting_cuts(inner)
        trees = []
        if hasattr(inner, "tree_"):
            trees = [inner]
        elif hasattr(inner, "estimators_"):
            trees = list(np.ravel(inner.estimators_))
            if not trees or not all(hasattr(t, "tree_") for t in trees):
                # A vote or stack with other members: cut points of its trees alone would mark the other
                # members' features as never split on, and the search would leave them alone.
                return {}
        # A bagged tree with max_features sees a subset of the columns: its indices are into that subset.
        subsets = getattr(inner, "estimators_features_", None) if not hasattr(inner, "tree_") else None
        names = getattr(inner, "feature_names_in_", None)
        out: dict[str, list] = {}
        for i, t in enumerate(trees):
            tr = t.tree_
            cols = None if subsets is None else np.asarray(subsets[i])
            w, imp = tr.weighted_n_node_samples, tr.impurity
            for node, (f, thr) in enumerate(zip(tr.feature, tr.threshold)):
                if f >= 0:
                    f = int(f if cols is None else cols[f])
                    key = str(names[f]) if names is not None else f"x{f}"
                    left, right = tr.children_left[node], tr.children_right[node]
                    gain = w[node] * imp[node] - w[left] * imp[left] - w[right] * imp[right]
                    out.setdefault(key, []).append((float(thr), max(float(gain), 0.0)))
        return {k: _summed(v) for k, v in out.items()}


class XGBoostTeacher(_InputMixin, Teacher):
    """A fitted ``XGBClassifier`` or a raw ``xgboost.Booster`` (binary or multiclass).

    ``label_encoder`` maps XGBoost's ``0..k-1`` back to the user's labels when
    rulekd fitted it on encoded labels.
    """

    def __init__(self, estimator: Any, label_encoder: LabelEncoder | None = None, classes: Any = None):
        import xgboost as xgb

        self.estimator = estimator
        inner = _unfrozen(estimator)
        self._booster = inner if isinstance(inner, xgb.Booster) else inner.get_booster()
        self._sklearn = not isinstance(inner, xgb.Booster)
        self._inner = inner
        n_class = self._n_classes()
        if label_encoder is not None:
            self.classes_ = np.asarray(label_encoder.classes_)
        elif classes is not None:
            self.classes_ = np.asarray(classes)
        elif self._sklearn and hasattr(inner, "classes_"):
            self.classes_ = np.asarray(inner.classes_)
        else:
            self.classes_ = np.arange(n_class)
        if len(self.classes_) != n_class:
            raise TeacherError(f"The XGBoost model has {n_class} classes but {len(self.classes_)} labels were given.")
        self.uses_frame = self._booster.feature_names is not None

    def column_names(self) -> list[str] | None:
        names = self._booster.feature_names
        return None if names is None else [_from_xgboost_name(str(n)) for n in names]

    def _n_classes(self) -> int:
        import json

        cfg = json.loads(self._booster.save_config())
        n = int(cfg["learner"]["learner_model_param"].get("num_class", "0"))
        obj = cfg["learner"]["objective"]["name"]
        if not (obj.startswith("binary:") or obj.startswith("multi:")):
            raise TeacherError(f"The XGBoost model's objective {obj!r} is not a classification objective.")
        return max(n, 2)

    def _input(self, X: Any) -> Any:
        names = self._booster.feature_names
        if isinstance(X, pd.DataFrame):
            text = [c for c in X.columns if X[c].dtype == object or pd.api.types.is_string_dtype(X[c].dtype)]
            if text:  # XGBoost's own message names DMatrix parameters; the students pass categories
                shown = text[0]
                raise TeacherError(
                    f"Column(s) {[str(c) for c in text[:10]]} hold text; the XGBoost teacher reads a categorical "
                    f"feature as a pandas category with the levels it was fitted on, in that order. Convert them, "
                    f"e.g. X.astype({{{shown!r}: pd.CategoricalDtype(model.domain_[{shown!r}].levels)}}) with the "
                    f"rulekd model's Domain (model.predict does this itself).")
        if names is not None:
            X = _aligned(X, list(names), shown=xgboost_name)
        X = _xgboost_categories(super()._input(X))
        if isinstance(X, pd.DataFrame) and names is not None and list(X.columns) != list(names):
            if [xgboost_name(c) for c in X.columns] == list(names):
                X = X.set_axis(list(names), axis=1)  # the names rulekd gave XGBoost (see xgboost_name)
        width = self._booster.num_features()
        got = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
        if got is not None and got != width:  # XGBoost read fewer columns as missing values, silently
            raise TeacherError(f"The XGBoost teacher was trained on {width} features, the data have {got}: pass "
                               f"the columns it was trained on, in that order.")
        return X

    def _dmatrix(self, X: Any) -> Any:
        """``X`` as a DMatrix, built with the model's ``n_jobs`` threads (XGBoost's default, all
        cores, costs ~50x more on small inputs when other processes share them)."""
        import xgboost as xgb

        n_jobs = getattr(self._inner, "n_jobs", None) if self._sklearn else None
        return xgb.DMatrix(self._input(X), enable_categorical=True, missing=np.nan, nthread=n_jobs)

    @property
    def iteration_range(self) -> tuple[int, int]:
        """The rounds the model answers with: up to its ``best_iteration`` when it was fitted with early
        stopping (as its own ``predict_proba``; all its trees gave up to 0.3 other probabilities), else all."""
        best = self._booster.attr("best_iteration")
        return (0, int(best) + 1) if best is not None else (0, 0)

    def logits(self, X: Any) -> np.ndarray:
        dm = self._dmatrix(X)
        m = np.asarray(self._booster.predict(dm, output_margin=True, iteration_range=self.iteration_range),
                       dtype=np.float64)
        if m.ndim == 1:
            return np.column_stack([np.zeros_like(m), m])
        return m

    def split_gains(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from ..rules import xgboost_trees

        names = self._booster.feature_names or [f"x{i}" for i in range(self._booster.num_features())]
        try:
            trees = xgboost_trees(self._booster)
        except ValueError:  # a linear or dart booster: no plain trees to read
            return {}
        out: dict[str, list] = {}
        for tree in trees:
            n = len(tree["left_children"])
            types = tree.get("split_type", [0] * n)
            gains = tree.get("loss_changes", [0.0] * n)
            for left, f, c, st, g in zip(tree["left_children"], tree["split_indices"], tree["split_conditions"], types,
                                         gains):
                if left != -1 and int(st) == 0:
                    out.setdefault(_from_xgboost_name(str(names[int(f)])), []).append(
                        (float(np.float32(c)), max(float(g), 0.0)))
        return {k: _summed(v) for k, v in out.items()}


def _hist_gradient_boosting_cuts(model: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A scikit-learn HistGradientBoosting model's numeric cuts (``x <= t`` goes left, as in a scikit-learn
    tree) with the gains of their splits, per feature name (``x0, x1, ...`` for one fitted on an array).

    Read from its private ``_predictors``; the feature indices there count the columns as its categorical
    preprocessing (``_preprocessor``) orders them, categories first. A version of scikit-learn that stores
    them otherwise gives no cuts (as a teacher without split thresholds).
    """
    try:
        n = int(model.n_features_in_)
        names = getattr(model, "feature_names_in_", None)
        order = np.arange(n)
        pre = getattr(model, "_preprocessor", None)
        if pre is not None:
            parts = []
            for _, trans, cols in pre.transformers_:
                if isinstance(trans, str) and trans == "drop":
                    continue
                cols = np.asarray(cols)
                if cols.dtype == bool:
                    parts.append(np.flatnonzero(cols))
                elif cols.dtype.kind in "iu":
                    parts.append(cols.astype(np.intp))
                else:  # columns by name
                    where = {str(c): i for i, c in enumerate(names)}
                    parts.append(np.array([where[str(c)] for c in cols], dtype=np.intp))
            order = np.concatenate(parts) if parts else order
        out: dict[str, list] = {}
        for iteration in model._predictors:
            for predictor in iteration:
                nodes = predictor.nodes
                split = (nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 0)
                for f, thr, gain in zip(nodes["feature_idx"][split], nodes["num_threshold"][split],
                                        nodes["gain"][split]):
                    j = int(order[int(f)])
                    key = str(names[j]) if names is not None else f"x{j}"
                    out.setdefault(key, []).append((float(thr), max(float(gain), 0.0)))
    except (AttributeError, KeyError, ValueError, TypeError, IndexError):
        return {}
    return {k: _summed(v) for k, v in out.items()}


def _summed(pairs: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct thresholds (sorted) and the gains summed over the splits at each."""
    t = np.array([p[0] for p in pairs], dtype=np.float64)
    g = np.array([p[1] for p in pairs], dtype=np.float64)
    uniq, inv = np.unique(t, return_inverse=True)
    return uniq, np.bincount(inv.ravel(), weights=g, minlength=len(uniq))


def _not_numbers_message(X: Any) -> str:
    """Why a torch teacher cannot read ``X``: the columns that hold text (it reads one float tensor)."""
    bad: list[str] = []
    if isinstance(X, pd.DataFrame):
        for c in X.columns:
            try:
                X[c].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                bad.append(str(c))
    where = f"columns {bad[:10]} hold" if bad else "the input holds"
    return (f"A torch teacher reads one tensor of numbers, but {where} values that are not numbers (text "
            f"levels of a categorical feature). Encode them as numbers (one-hot or level codes) in X, the same "
            f"way the module was trained, before fitting.")


class TorchTeacher(Teacher):
    """A trained ``torch.nn.Module`` mapping a float tensor ``(n, d)`` to logits.

    Parameters
    ----------
    module : torch.nn.Module
        Returns ``(n, n_classes)`` logits, or ``(n,)`` / ``(n, 1)`` for binary.
    classes : array-like
        Labels of the output columns.
    """

    def __init__(self, module: Any, classes: Any = (0, 1)):
        self.estimator = module
        self.classes_ = np.asarray(classes)
        self._warned = False

    def _check_logits(self, out: np.ndarray) -> None:
        """Warn (once) when the outputs look like probabilities: read as logits, a final Sigmoid's
        outputs in [0, 1] gave class 1 on every row, a Softmax's flattened the soft targets."""
        if getattr(self, "_warned", False) or out.size < 20 or not np.isfinite(out).all():
            return
        inside = bool(out.min() >= 0.0 and out.max() <= 1.0)
        sums_to_one = out.ndim == 2 and out.shape[1] > 1 and bool(np.allclose(out.sum(axis=1), 1.0, atol=1e-4))
        if inside and (out.ndim == 1 or out.shape[1] == 1 or sums_to_one):
            self._warned = True
            warnings.warn(
                "The torch teacher's outputs all lie in [0, 1]" + (" and sum to 1 on each row" if sums_to_one else "")
                + ": they look like probabilities, but TorchTeacher reads logits. Drop the module's final Sigmoid "
                "/ Softmax (or wrap it so that forward returns the scores before it).", UserWarning, stacklevel=3)

    def input_tensor(self, X: Any) -> Any:
        """``X`` as a tensor of the module's own dtype and device (a float64 module, or one on a GPU),
        float32 on the CPU for a module without floating parameters."""
        import torch

        first = next(iter(self.estimator.parameters()), None)
        dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
        device = first.device if first is not None else "cpu"
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        try:
            arr = X.to_numpy(dtype=np_dtype, na_value=np.nan) if isinstance(X, pd.DataFrame) else np.asarray(X, np_dtype)
        except (TypeError, ValueError):
            raise TeacherError(_not_numbers_message(X)) from None
        # torch.tensor copies: pandas may hand out a read-only array.
        return torch.tensor(arr, dtype=dtype, device=device)

    def logits(self, X: Any) -> np.ndarray:
        import torch

        was_training = self.estimator.training
        self.estimator.eval()
        x = self.input_tensor(X)
        try:
            with torch.no_grad():
                out = self.estimator(x).detach().cpu().double().numpy()  # bfloat16 has no numpy dtype
        except RuntimeError as exc:  # e.g. "mat1 and mat2 shapes cannot be multiplied": the data's width
            raise TeacherError(f"The torch teacher could not read the data ({x.shape[1]} columns): "
                               f"{str(exc).splitlines()[0][:200]}. Pass the columns it was trained on, in that "
                               f"order, encoded as at its training.") from None
        finally:
            self.estimator.train(was_training)
        self._check_logits(out)
        if out.ndim == 1 or out.shape[1] == 1:
            out = out.reshape(-1)
            out = np.column_stack([np.zeros_like(out), out])
        if out.shape[1] != len(self.classes_):
            raise TeacherError(f"The torch teacher returned {out.shape[1]} columns for {len(self.classes_)} classes.")
        return out


# XGBoost refuses feature names containing "[", "]" or "<". Such a name (and, so that
# the mapping stays one to one, any name containing "%") reaches XGBoost
# percent-encoded; every other name is passed unchanged.
_XGB_ESCAPES = {"%": "%25", "[": "%5B", "]": "%5D", "<": "%3C"}
_XGB_UNESCAPES = {v: k for k, v in _XGB_ESCAPES.items()}


def xgboost_name(name: Any) -> str:
    """The feature name XGBoost is given for column ``name`` (see ``_XGB_ESCAPES``).

    >>> xgboost_name("income"), xgboost_name("<b>x</b>"), xgboost_name("a[1]")
    ('income', '%3Cb>x%3C/b>', 'a%5B1%5D')
    """
    name = str(name)
    if not any(ch in name for ch in _XGB_ESCAPES):
        return name
    return "".join(_XGB_ESCAPES.get(ch, ch) for ch in name)


def _from_xgboost_name(name: str) -> str:
    """The column name behind an XGBoost feature name written by :func:`xgboost_name`."""
    if "%" not in name:
        return name
    out = re.sub("%(25|5B|5D|3C)", lambda m: _XGB_UNESCAPES[m.group(0)], name)
    return out if xgboost_name(out) == name else name


def _is_xgboost(est: Any) -> bool:
    try:
        import xgboost as xgb
    except ImportError:  # pragma: no cover
        return False
    return isinstance(_unfrozen(est), (xgb.Booster, xgb.XGBModel))


def _is_torch_module(est: Any) -> bool:
    mod = type(est).__module__ or ""
    if not mod.startswith("torch") and "torch" not in str(type(est).__mro__):
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(est, torch.nn.Module)


def as_teacher(estimator: Any) -> Teacher:
    """Wrap an already fitted model (or return a :class:`Teacher` as is)."""
    if isinstance(estimator, Teacher):
        return estimator
    if _is_torch_module(estimator) or _is_torch_module(_unfrozen(estimator)):
        raise TeacherError("Wrap a torch module as TorchTeacher(module, classes=...) to name its classes.")
    if _is_xgboost(estimator):
        return XGBoostTeacher(estimator)
    return SklearnTeacher(estimator)


def _refuse_nul_levels(X: pd.DataFrame) -> None:
    """XGBoost fails on a category level holding the NUL character (a bare AssertionError from its C++ side)."""
    for c in X.columns:
        dtype = X[c].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            bad = [v for v in dtype.categories if isinstance(v, str) and "\x00" in v]
            if bad:
                raise TeacherError(f"Column {str(c)!r} has levels holding the NUL character, e.g. {bad[0]!r}, which "
                                   f"XGBoost cannot read; remove or replace that character in the data.")


def _xgboost_categories(X: Any) -> Any:
    """Category columns XGBoost refuses, with the same codes in a form it reads: bool or float levels, and
    levels of mixed types (1, 3 and "a"), become text (same order); nullable integer levels (``Int64``)
    become numpy integers. Text and numpy integer levels are left as they are, so a user's own XGBoost
    model (which XGBoost could only fit on those) is fed its categories unchanged."""
    if not isinstance(X, pd.DataFrame):
        return X
    _refuse_nul_levels(X)  # at fit and at predict (a frozen or loaded model too)
    out = None
    for c in X.columns:
        dtype = X[c].dtype
        if not isinstance(dtype, pd.CategoricalDtype):
            continue
        cats = dtype.categories
        if isinstance(cats.dtype, pd.api.extensions.ExtensionDtype) and cats.dtype.kind in "iu":
            out = X.copy() if out is None else out
            out[c] = X[c].cat.rename_categories(cats.to_numpy(dtype=cats.dtype.numpy_dtype))
            continue
        odd = any(isinstance(v, (bool, np.bool_, float, np.floating)) for v in cats)
        mixed = cats.dtype == object and not all(isinstance(v, str) for v in cats)
        if odd or mixed:
            if len({str(v) for v in cats}) != len(cats):
                continue  # levels whose text coincides (1 and "1"): left to XGBoost as they are
            out = X.copy() if out is None else out
            out[c] = X[c].cat.rename_categories([str(v) for v in cats])
    return X if out is None else out


def _seeded(est: Any, random_state: Any) -> Any:
    """``est`` with every ``random_state`` parameter left at ``None`` set from the student's seed, so that
    the student's ``random_state`` makes the whole fit reproducible (as the default teacher's is)."""
    if random_state is None:
        return est
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    unset = sorted(k for k, v in est.get_params(deep=True).items()
                   if (k == "random_state" or k.endswith("__random_state")) and v is None)
    if unset:
        est.set_params(**{k: int(rng.randint(np.iinfo(np.int32).max)) for k in unset})
    return est


def _mean_one(sample_weight: Any) -> np.ndarray:
    """Weights divided by their mean, for XGBoost: it compares sums of weights (hessians) with
    ``min_child_weight=1`` and squares them in float32, so their scale decided whether it could split at all
    (weights of 0.001 each, as when normalised to sum to 1, or of 1e20 or 1e-30, gave a constant teacher
    without a word, and 1e39 failed inside XGBoost). Weights of mean 1 are unchanged; the students use the
    weights as given (frequency weights: the real rows' share of the transfer set)."""
    w = np.asarray(sample_weight, dtype=np.float64)
    top = float(np.max(w, initial=0.0))
    if top <= 0.0 or not np.isfinite(top):
        return w  # refused by the caller's checks (or XGBoost's own)
    mean = float(np.mean(w / top))  # the largest first: a sum of weights near 1e308 overflows
    return w if mean * top == 1.0 else (w / top) / mean


def fit_teacher(
    teacher: Any,
    X: Any,
    y: Any,
    *,
    random_state: Any = None,
    sample_weight: Any = None,
) -> Teacher:
    """Return a fitted :class:`Teacher` for ``teacher`` on ``(X, y)``.

    * ``None``: :func:`default_teacher`, fitted here.
    * :class:`sklearn.frozen.FrozenEstimator`, :class:`Teacher`: used as is.
    * any other estimator: cloned, then fitted (the user's object is untouched).
      XGBoost models are fitted on encoded labels, so string labels work.
    """
    from sklearn.frozen import FrozenEstimator

    if isinstance(teacher, Teacher):
        return teacher
    if _is_torch_module(teacher):
        raise TeacherError(
            "A torch module cannot be fitted by rulekd; train it yourself and pass "
            "TorchTeacher(module, classes=...) as the teacher."
        )
    if isinstance(teacher, FrozenEstimator):
        return _checked(as_teacher(teacher), X)
    if teacher is not None and not hasattr(teacher, "get_params"):
        raise TeacherError(
            f"The teacher {type(teacher).__name__} is not a scikit-learn estimator, so rulekd cannot clone and fit "
            f"it; pass a fitted model wrapped in sklearn.frozen.FrozenEstimator (an xgboost.Booster too), or an "
            f"estimator such as XGBClassifier()."
        )
    est = default_teacher(random_state) if teacher is None else _seeded(clone(teacher), random_state)
    fit_kw = {} if sample_weight is None else {"sample_weight": sample_weight}
    if _is_xgboost(est):
        if sample_weight is not None:
            fit_kw = {"sample_weight": _mean_one(sample_weight)}
        enc = LabelEncoder().fit(y)
        if len(enc.classes_) < 2:
            raise TeacherError("The target has a single class; a classifier needs at least two.")
        stop = est.get_params().get("early_stopping_rounds")
        if stop:
            raise TeacherError(
                f"The XGBoost teacher has early_stopping_rounds={stop}, which needs a validation set (eval_set) "
                f"that rulekd does not hold out for it. Fit it yourself with eval_set=[(X_val, y_val)] and pass "
                f"FrozenEstimator(model) as the teacher (its best rounds are used), or leave early_stopping_rounds "
                f"unset.")
        objective = est.get_params().get("objective")
        if isinstance(objective, str) and objective.startswith("multi:") and len(enc.classes_) == 2:
            raise TeacherError(f"The XGBoost teacher's objective {objective!r} needs three classes or more; the "
                               f"target has two: use objective='binary:logistic' (XGBoost's default).")
        if isinstance(X, pd.DataFrame):
            cats = [str(c) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
            if cats and not est.get_params().get("enable_categorical"):
                raise TeacherError(
                    f"The XGBoost teacher cannot read the category columns {cats[:5]}: pass "
                    f"XGBClassifier(enable_categorical=True, ...) (as rulekd's default teacher does), or encode "
                    f"those columns as numbers first.")
            X = _xgboost_categories(X.set_axis([xgboost_name(c) for c in X.columns], axis=1))
        est.fit(X, enc.transform(y), **fit_kw)
        return XGBoostTeacher(est, label_encoder=enc)
    if not hasattr(est, "fit"):
        raise TeacherError(f"The teacher {type(est).__name__} has no fit method.")
    # XGBoost inside another estimator (a Pipeline, a search, a calibration) wants labels 0..k-1 and weights
    # of mean 1, as a bare one gets (weights of 0.001 gave a constant teacher).
    nested_xgb = any(_is_xgboost(v) for v in est.get_params(deep=True).values())
    if sample_weight is not None:
        fit_kw = _weight_keywords(est, _mean_one(sample_weight) if nested_xgb else sample_weight)
    encoded = None
    if nested_xgb:
        encoded = LabelEncoder().fit(y)
        y = encoded.transform(y)
    try:
        est.fit(X, y, **fit_kw)
    except (ValueError, TypeError) as exc:
        said = str(exc)
        if fit_kw and ("sample_weight" in said or "metadata_routing" in said or "metadata routing" in said):
            # A meta-estimator whose fit takes **fit_params but cannot pass the weights on (a search over a
            # model without them: "All the fits failed"; OneVsRest without metadata routing).
            first = said.strip().splitlines()[0].split(" See ")[0][:160]
            raise TeacherError(
                f"The teacher {type(est).__name__} could not take sample_weight ({first}). Fit without "
                f"sample_weight, or choose a teacher that takes it (e.g. XGBClassifier). A meta-estimator that "
                f"passes it on only with scikit-learn's metadata routing needs sklearn.set_config("
                f"enable_metadata_routing=True) and set_fit_request(sample_weight=True) on the model inside it."
            ) from None
        text = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)] \
            if isinstance(X, pd.DataFrame) else []
        if not text or ("convert" not in str(exc) and "float" not in str(exc)):
            raise
        # A scikit-learn model that reads only numbers met category / text columns.
        raise TeacherError(
            f"The teacher {type(est).__name__} could not read the category or text columns {text[:10]} "
            f"({str(exc).splitlines()[0][:120]}). Give it a Pipeline that encodes them (e.g. a ColumnTransformer "
            f"with OneHotEncoder), or use the default XGBoost teacher, which reads categories natively."
        ) from None
    return _checked(SklearnTeacher(est, classes=None if encoded is None else encoded.classes_), X)


# Training rows on which a scikit-learn teacher's own predict is compared with the class rulekd reads from it.
_AGREEMENT_ROWS = 2_000


def _checked(teacher: Teacher, X: Any) -> Teacher:
    """``teacher``, after a warning where the estimator's own ``predict`` disagrees with the class of highest
    probability (or score) that rulekd distils, on more than 1 % of (up to ``_AGREEMENT_ROWS``) training rows:
    a tuned decision threshold (``FixedThresholdClassifier``), ``SVC(probability=True)``'s separately
    calibrated probabilities, a one-vs-one vote. The students would copy the probabilities, not ``predict``."""
    if not isinstance(teacher, SklearnTeacher) or not hasattr(teacher.estimator, "predict"):
        return teacher
    n = len(X)
    rows = np.arange(n) if n <= _AGREEMENT_ROWS else np.sort(
        np.random.default_rng(0).choice(n, _AGREEMENT_ROWS, replace=False))
    Xs = X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
    try:
        own = np.asarray(teacher.estimator.predict(teacher._input(Xs)))
        labels = getattr(teacher.estimator, "classes_", None)
        own_idx = pd.Index(np.asarray(labels)).get_indexer(own) if labels is not None else None
        ours = np.argmax(teacher.logits(Xs), axis=1)
    except Exception:  # a predict rulekd cannot compare with: nothing to say
        return teacher
    if own_idx is None or (own_idx < 0).any() or len(own_idx) != len(ours):
        return teacher
    share = float(np.mean(own_idx != ours))
    if share > 0.01:
        what, whats = ("probability", "probabilities") if hasattr(teacher.estimator, "predict_proba") else (
            "score", "scores")
        warnings.warn(
            f"The teacher {type(_unfrozen(teacher.estimator)).__name__}'s own predict disagrees with its class of "
            f"highest {what} on {share:.1%} of {len(rows):,} training rows. rulekd distils the {whats} "
            f"(predict_proba, else decision_function), so the students copy those, not predict, and fidelity is "
            f"measured against them. A tuned decision threshold (FixedThresholdClassifier, "
            f"TunedThresholdClassifierCV), SVC(probability=True)'s separately calibrated probabilities or a "
            f"one-vs-one vote does this; distil the classifier inside it, or one whose predict follows its "
            f"probabilities.", UserWarning, stacklevel=user_stacklevel())
    return teacher


def _weight_keywords(est: Any, sample_weight: Any) -> dict:
    """``fit`` keywords that pass ``sample_weight`` to ``est`` (a Pipeline: to its last step; with
    scikit-learn's metadata routing on, plain ``sample_weight``, routed where the steps request it)."""
    import sklearn
    from sklearn.pipeline import Pipeline
    from sklearn.utils.validation import has_fit_parameter

    name, target = ("sample_weight", est)
    if isinstance(est, Pipeline):
        if sklearn.get_config().get("enable_metadata_routing"):  # step__sample_weight is refused then
            return {"sample_weight": sample_weight}
        name, target = f"{est.steps[-1][0]}__sample_weight", est.steps[-1][1]
    takes_keywords = any(p.kind is inspect.Parameter.VAR_KEYWORD
                         for p in inspect.signature(target.fit).parameters.values())
    if not has_fit_parameter(target, "sample_weight") and not (takes_keywords and not isinstance(est, Pipeline)):
        # (a search, a vote or a stack passes **fit_params on to its estimators)
        raise TeacherError(
            f"The teacher {type(target).__name__} cannot take sample_weight (its fit has no such parameter); "
            f"fit without sample_weight, or choose a teacher that takes it (e.g. XGBClassifier)."
        )
    return {name: sample_weight}
