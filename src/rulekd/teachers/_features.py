"""What a teacher knows beyond its outputs: its internal representation of a row.

:func:`teacher_features` reads it through the :class:`~rulekd.teachers.Teacher`
adapter, whatever model sits behind it:

* XGBoost: the leaf each tree sends the row to (``pred_leaf``), those leaves
  embedded as a dense vector, or the per-feature contributions to the margin
  (``pred_contribs``, exact TreeSHAP or the faster Saabas approximation);
* scikit-learn tree models and ensembles: the leaves from ``apply``, raw or
  embedded;
* a scikit-learn ``MLPClassifier`` (alone or last in a ``Pipeline``): its
  hidden activations, recomputed from ``coefs_`` and ``intercepts_``;
* a torch module: the activations of named sub-modules, read with forward
  hooks;
* any teacher: its logits.

The neural student distils these with hint and relation losses
(:mod:`rulekd.losses`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..exceptions import TeacherError
from ._adapter import SklearnTeacher, TorchTeacher, XGBoostTeacher, as_teacher

__all__ = ["teacher_features", "available_feature_kinds", "FEATURE_KINDS"]

FEATURE_KINDS = ("auto", "logits", "leaves", "leaf_embedding", "contributions", "hidden")


def _unfreeze(est: Any) -> Any:
    from sklearn.frozen import FrozenEstimator

    while isinstance(est, FrozenEstimator):
        est = est.estimator
    return est


def _final_estimator(teacher: SklearnTeacher) -> Any:
    """The model at the end of the teacher (inside FrozenEstimator / Pipeline)."""
    from sklearn.pipeline import Pipeline

    est = _unfreeze(teacher.estimator)
    return _unfreeze(est[-1]) if isinstance(est, Pipeline) else est


def _unwrap_sklearn(teacher: SklearnTeacher, X: Any) -> tuple[Any, Any]:
    """The final estimator and ``X`` as it reaches it (through a Pipeline's transformers)."""
    from sklearn.pipeline import Pipeline

    est = _unfreeze(teacher.estimator)
    Xi = teacher._input(X)
    if isinstance(est, Pipeline):
        if len(est.steps) > 1:
            Xi = est[:-1].transform(Xi)
        est = _unfreeze(est[-1])
    return est, Xi


def available_feature_kinds(teacher: Any) -> tuple[str, ...]:
    """The feature kinds :func:`teacher_features` can read from ``teacher`` (besides "auto")."""
    teacher = as_teacher(teacher)
    if isinstance(teacher, XGBoostTeacher):
        return ("contributions", "leaves", "leaf_embedding", "logits")
    if isinstance(teacher, TorchTeacher):
        return ("hidden", "logits")
    if isinstance(teacher, SklearnTeacher):
        from sklearn.neural_network import MLPClassifier

        est = _final_estimator(teacher)
        if isinstance(est, MLPClassifier):
            return ("hidden", "logits")
        if hasattr(est, "apply"):
            return ("leaf_embedding", "leaves", "logits")
    return ("logits",)


def teacher_features(
    teacher: Any,
    X: Any,
    kind: str = "auto",
    *,
    layer: str | int | Sequence[str] | None = None,
    approximate: bool = False,
    n_components: int = 16,
    random_state: Any = None,
) -> np.ndarray:
    """The teacher's internal representation of each row of ``X``.

    Parameters
    ----------
    teacher : Teacher or fitted model
        A :class:`~rulekd.teachers.Teacher` (or a fitted model, wrapped with
        :func:`~rulekd.teachers.as_teacher`).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows in the form the teacher accepts (as for ``teacher.logits``).
    kind : {"auto", "logits", "leaves", "leaf_embedding", "contributions", "hidden"}
        * ``"leaves"``: leaf index per tree, int64 ``(n, n_trees)`` (XGBoost
          ``pred_leaf``; scikit-learn ``apply``, flattened for gradient
          boosting).
        * ``"leaf_embedding"``: the leaves one-hot encoded per tree and
          reduced to ``n_components`` dimensions with truncated SVD fitted on
          ``X`` (so compute it once, for all the rows you need).
        * ``"contributions"`` (XGBoost): per-feature contributions to the
          margin plus the bias column, ``(n, n_classes_out * (d + 1))``;
          they sum to the margin. ``approximate=True`` uses Saabas'
          approximation, ~15x faster than exact TreeSHAP.
        * ``"hidden"``: a scikit-learn ``MLPClassifier``'s hidden activations
          (``layer``: index of the hidden layer, default the last, or
          ``"all"``); a torch module's activations of the sub-modules named in
          ``layer`` (a name or a list, concatenated), by default the input of
          its last ``nn.Linear``.
        * ``"logits"``: the teacher's logits (any teacher).
        * ``"auto"``: ``"contributions"`` for XGBoost, ``"leaf_embedding"``
          for scikit-learn trees, ``"hidden"`` for MLPs and torch modules,
          else ``"logits"``.
    layer : str, int, list of str or None
        See ``kind="hidden"``.
    approximate : bool, default=False
        See ``kind="contributions"``.
    n_components : int, default=16
        See ``kind="leaf_embedding"``.
    random_state : int or None
        Seed of the truncated SVD.

    Returns
    -------
    ndarray of shape (n_samples, n_outputs)
        float64, except int64 for ``"leaves"``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from rulekd.teachers import as_teacher
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> t = as_teacher(RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y))
    >>> teacher_features(t, X, "leaves").shape, teacher_features(t, X, n_components=4).shape
    ((100, 5), (100, 4))
    """
    teacher = as_teacher(teacher)
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {FEATURE_KINDS}, got {kind!r}.")
    available = available_feature_kinds(teacher)
    if kind == "auto":
        kind = available[0]
    elif kind not in available:
        raise TeacherError(
            f"Feature kind {kind!r} is not available for {type(teacher).__name__} over "
            f"{type(getattr(teacher.estimator, 'estimator', teacher.estimator)).__name__}; "
            f"available: {available}."
        )
    if kind == "logits":
        return np.asarray(teacher.logits(X), dtype=np.float64)
    if kind == "leaf_embedding":
        leaves = teacher_features(teacher, X, "leaves")
        return _embed_leaves(leaves, n_components, random_state)
    if isinstance(teacher, XGBoostTeacher):
        return _xgboost_features(teacher, X, kind, approximate)
    if isinstance(teacher, TorchTeacher):
        return _torch_hidden(teacher, X, layer)
    est, Xi = _unwrap_sklearn(teacher, X)
    if kind == "leaves":
        leaves = np.asarray(est.apply(Xi))
        return leaves.reshape(leaves.shape[0], -1).astype(np.int64)
    return _mlp_hidden(est, Xi, layer)


def _xgboost_features(teacher: XGBoostTeacher, X: Any, kind: str, approximate: bool) -> np.ndarray:
    dm = teacher._dmatrix(X)
    rounds = teacher.iteration_range  # the trees the model answers with (early stopping: up to its best)
    if kind == "leaves":
        out = np.asarray(teacher._booster.predict(dm, pred_leaf=True, iteration_range=rounds))
        return out.reshape(out.shape[0], -1).astype(np.int64)
    out = np.asarray(teacher._booster.predict(dm, pred_contribs=True, approx_contribs=bool(approximate),
                                              iteration_range=rounds), dtype=np.float64)
    return out.reshape(out.shape[0], -1)


def _embed_leaves(leaves: np.ndarray, n_components: int, random_state: Any) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import OneHotEncoder

    if int(n_components) < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components!r}.")
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=True, dtype=np.float64).fit_transform(leaves)
    n_cols = onehot.shape[1]
    k = int(min(n_components, max(n_cols - 1, 1), max(onehot.shape[0] - 1, 1)))
    if n_cols <= 1 or k < 1:
        return np.zeros((leaves.shape[0], 1))
    seed = random_state if random_state is not None else 0
    return TruncatedSVD(n_components=k, random_state=seed).fit_transform(onehot)


_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def _mlp_hidden(est: Any, Xi: Any, layer: Any) -> np.ndarray:
    act = _ACTIVATIONS[est.activation]
    if hasattr(Xi, "tocsr"):  # a sparse matrix (a ColumnTransformer's one-hot output): the product stays sparse
        h = Xi.tocsr().astype(np.float64)
    else:
        h = Xi.to_numpy(dtype=np.float64) if isinstance(Xi, pd.DataFrame) else np.asarray(Xi, dtype=np.float64)
    hidden = []
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1]):
        h = act(h @ W + b)
        hidden.append(h)
    if not hidden:
        raise TeacherError("The MLP teacher has no hidden layer.")
    if layer == "all":
        return np.hstack(hidden)
    idx = -1 if layer is None else layer
    if not isinstance(idx, (int, np.integer)) or not -len(hidden) <= idx < len(hidden):
        raise ValueError(f"layer must be an index of the {len(hidden)} hidden layers or 'all', got {layer!r}.")
    return hidden[int(idx)]


def _torch_hidden(teacher: TorchTeacher, X: Any, layer: Any) -> np.ndarray:
    import torch

    module = teacher.estimator
    named = dict(module.named_modules())
    captured: dict[str, Any] = {}
    handles = []
    # Tensors are cloned as they are captured: a later in-place operation (ReLU(inplace=True)) changed them.
    def keep(t: Any) -> Any:
        t = t[0] if isinstance(t, (tuple, list)) else t
        return t.detach().clone()

    if layer is None:
        # The input of the nn.Linear called last in forward (the one declared last need not be: a module
        # declaring its head before its body gave the raw input back).
        linears = [n for n, m in named.items() if isinstance(m, torch.nn.Linear)]
        if not linears:
            raise TeacherError("The torch teacher has no nn.Linear; name the modules to read with layer=.")
        def record(n: str, inp: Any) -> None:  # returns None: a hook's return value would replace the output
            captured.clear()  # only the latest call is read: no copy of every layer's input is kept
            captured[n] = keep(inp)

        for n in linears:
            handles.append(named[n].register_forward_hook(lambda m, inp, out, n=n: record(n, inp)))
    else:
        names = [layer] if isinstance(layer, str) else list(layer)
        missing = [n for n in names if n not in named or n == ""]
        if missing:
            raise ValueError(f"The torch teacher has no sub-modules {missing}; its modules: {[n for n in named if n][:20]}.")
        for n in names:
            handles.append(named[n].register_forward_hook(
                lambda m, inp, out, n=n: captured.__setitem__(n, keep(out))))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(teacher.input_tensor(X))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    if layer is None:
        if not captured:
            raise TeacherError("The torch teacher's forward called none of its nn.Linear modules; name the "
                               "modules to read with layer=.")
        names = list(captured)  # the nn.Linear called last
    parts = []
    for n in names:
        if n not in captured:
            raise TeacherError(f"The torch teacher's module {n!r} was not called in forward.")
        t = captured[n]
        parts.append(t.cpu().reshape(t.shape[0], -1).double().numpy())
    return np.hstack(parts)
