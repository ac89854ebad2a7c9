"""The compact neural student: a small ReLU network distilled from the teacher.

:class:`DistilledMLPClassifier` encodes a row (standardised numbers, missing
indicators, the teacher's split thresholds as 0/1 steps, one-hot categories),
passes it through ``Linear + ReLU`` layers and
reads logits from a last ``Linear`` layer. It learns on the transfer set (real
and synthetic rows labelled by the teacher) from three kinds of knowledge:

* ``"response"``: the teacher's softened distribution (KL with ``T**2``);
* ``"feature"``: the teacher's representation of each row (XGBoost per-feature
  contributions, leaf embeddings, hidden activations; see
  :func:`rulekd.teachers.teacher_features`) reached from the student's last
  hidden layer through a learned projection (FitNets hint);
* ``"relation"``: the geometry of the batch in that representation (RKD
  distance and angle, similarity preserving),

plus hard labels (the data's on real rows, the teacher's on synthetic ones).
See :mod:`rulekd.losses` for the formulas and the normalisation of the weights.

torch is imported only inside methods: ``import rulekd`` works without it.
Prediction runs in numpy (float64) from the plain weights, in fixed-size
blocks, so it depends neither on how many rows are passed at once nor on their
order; the same weights are what :meth:`DistilledMLPClassifier.weights`,
:meth:`DistilledMLPClassifier.to_onnx` and the verifier read.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import numbers
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..exceptions import TeacherError, require, user_stacklevel
from ..teachers._adapter import _unfrozen
from ._base import DistilledClassifierMixin, teacher_cuts, unfitted_on_error

__all__ = ["DistilledMLPClassifier"]

KNOWLEDGE = ("response", "feature", "relation")
_STUDENT_FEATURE_KINDS = ("auto", "contributions", "leaf_embedding", "hidden", "logits")
_BLOCK = 1024  # rows per prediction block (padded): fixes the BLAS code path (1024: fastest of 256-4096)
_CHUNK = 64 * _BLOCK  # rows encoded at a time when predicting (bounds the memory of the encoded input)
_MIN_SYNTHETIC_VALIDATION = 30  # held-out synthetic rows needed to validate on them alone (see _transfer)
_EMBED_MIN_LEVELS = 11  # "auto": one-hot up to 10 levels, an embedding above


def _embedding_dim(n_levels: int) -> int:
    """fast.ai's rule of thumb ``1.6 * n**0.56``, capped at 8 (the student is small)."""
    return int(max(2, min(8, round(1.6 * n_levels**0.56))))


@functools.lru_cache(maxsize=None)
def _blas_controller() -> Any:
    """One threadpoolctl controller (building it scans the loaded libraries: do it once)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.lru_cache(maxsize=None)
def _network_class() -> type:
    """The torch module class, defined on first use so that torch stays optional."""
    torch = require("torch", "torch")
    nn = torch.nn

    class _MLPNetwork(nn.Module):
        """Encoded input -> [pass-through | embedded one-hot blocks] -> Linear+ReLU ... -> Linear."""

        def __init__(self, n_inputs: int, embedded: list, hidden: tuple, n_outputs: int):
            super().__init__()
            self.n_inputs = int(n_inputs)
            self.embedded = [(int(a), int(b), int(d)) for a, b, d in embedded]
            inside = set()
            for a, b, _ in self.embedded:
                inside.update(range(a, b))
            passthrough = [j for j in range(self.n_inputs) if j not in inside]
            self.register_buffer("passthrough", torch.tensor(passthrough, dtype=torch.long))
            self.embeddings = nn.ModuleList(
                [torch.nn.utils.skip_init(nn.Linear, b - a, d, bias=False) for a, b, d in self.embedded]
            )
            width = len(passthrough) + sum(d for _, _, d in self.embedded)
            layers = []
            for h in hidden:
                layers.append(torch.nn.utils.skip_init(nn.Linear, width, int(h)))
                width = int(h)
            self.hidden = nn.ModuleList(layers)
            self.out = torch.nn.utils.skip_init(nn.Linear, width, int(n_outputs))

        def reset_parameters(self, generator: Any) -> None:
            """PyTorch's default Linear initialisation, drawn from ``generator``."""
            with torch.no_grad():
                for lin in list(self.embeddings) + list(self.hidden) + [self.out]:
                    nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=generator)
                    if lin.bias is not None:
                        bound = 1.0 / math.sqrt(max(lin.weight.shape[1], 1))
                        nn.init.uniform_(lin.bias, -bound, bound, generator=generator)

        def forward(self, x: Any, return_hidden: bool = False) -> Any:
            parts = [x.index_select(1, self.passthrough)]
            parts += [emb(x[:, a:b]) for emb, (a, b, _) in zip(self.embeddings, self.embedded)]
            h = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
            hidden = []
            for lin in self.hidden:
                h = torch.relu(lin(h))
                hidden.append(h)
            logits = self.out(h)
            return (logits, hidden) if return_hidden else logits

    _MLPNetwork.__module__ = __name__
    _MLPNetwork.__qualname__ = "_MLPNetwork"
    return _MLPNetwork


def __getattr__(name: str) -> Any:  # PEP 562: lets pickle find the lazily defined class
    if name == "_MLPNetwork":
        return _network_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DistilledMLPClassifier(DistilledClassifierMixin):
    """A compact ReLU network distilled from a teacher (response, feature, relation).

    Parameters
    ----------
    teacher : estimator, FrozenEstimator, Teacher or None, default=None
        The model to distil. ``None``: ``XGBClassifier(n_estimators=200,
        max_depth=4)``. An estimator is cloned and fitted on ``(X, y)``; a
        ``FrozenEstimator`` or a :class:`~rulekd.teachers.Teacher` (e.g.
        ``TorchTeacher``) is used as is.
    hidden_layer_sizes : tuple of int, default=(32, 16)
        Widths of the hidden ``Linear + ReLU`` layers (at least one).
    knowledge : tuple of {"response", "feature", "relation"}, default=all three
        What the student learns from besides hard labels. ``()`` trains on
        hard labels only (with ``n_synthetic=0`` and ``threshold_inputs=0``:
        an ordinary MLP on the data).
    temperature : float, default=4.0
        Softening temperature ``T`` of the response loss, from 0.001 to 10**6
        (values near 1-20 are usual; above 100 the loss is computed in
        float64, whose rounding it outgrows beyond 10**6).
    label_weight : float, default=1.0
        Weight of the cross-entropy with the hard labels.
    response_weight, feature_weight, relation_weight : float, default=1.0
        Weights of the knowledge terms. The feature and relation terms are
        divided by their value on the untrained student (``loss_scales_``),
        so 1.0 means "as much as the hard labels" on any data set. The
        response term is left on Hinton's scale (``T**2`` times the KL
        divergence): against a teacher whose logits are large (a single
        tree's clipped log-probabilities) it starts several times larger
        than the label term (``initial_losses_`` shows both).
    hard_labels : {"data", "teacher"}, default="data"
        Hard labels of the real rows: the true ``y`` ("data") or the
        teacher's prediction ("teacher"). Synthetic rows always carry the
        teacher's prediction. (Leaving synthetic rows without a hard label
        when the response term is on, as in Hinton's transfer set, was
        measured on the five benchmark data sets: no accuracy gain, lower
        fidelity.)
    feature_kind : {"auto", "contributions", "leaf_embedding", "hidden", "logits"}, default="auto"
        The teacher representation used by the feature and relation terms
        (:func:`rulekd.teachers.teacher_features`; XGBoost contributions are
        Saabas' approximation). "auto": contributions for XGBoost, leaf
        embedding for scikit-learn trees, hidden activations for MLP and
        torch teachers, else logits.
    hint_loss : {"mse", "cosine"}, default="mse"
    categorical_encoding : {"auto", "onehot", "embedding"}, default="auto"
        Categorical features are always one-hot in the encoded input;
        "embedding" maps each one-hot block (of more than two levels) through
        a learned embedding of ``min(8, round(1.6 * levels**0.56))``
        dimensions (at most ``levels - 1``), folded into the first layer by :meth:`weights`; "auto"
        embeds features with more than 10 levels where that takes fewer
        parameters than one-hot.
    threshold_inputs : int, default=0
        Feature knowledge from the teacher's split thresholds: the teacher's
        cuts of numeric features with the largest total gain
        (``Teacher.split_gains``), this many at most, become 0/1 input
        columns (``x >= t``, 0 where ``x`` is missing) beside the
        standardised numbers. A network reads a sharp cut on a skewed
        feature (capital gain) badly from one standardised number; the
        teacher's own cuts give it them directly. They raise agreement with
        the teacher everywhere, and accuracy where the teacher is the more
        accurate model (Adult), but cost accuracy where it is not (heart,
        COMPAS), so the student alone has none by default; the hybrid's
        default student has 24 when it learns from 10,000 rows or more
        (docs/neural.md, *Split thresholds as inputs*). Each costs one input (``hidden_layer_sizes[0]`` weights).
        A teacher without split thresholds gives none (with a warning).
    n_synthetic : int or "auto", default="auto"
        Synthetic rows in the transfer set ("auto": ten per real row, between
        10,000 and 60,000).
    strategy : {"perturb", "marginal", "mixed"}, default="perturb"
    validation_fraction : float, default=0.2
        Share of the synthetic rows held out for early stopping and
        ``fidelity_`` (labelled by the teacher); every real row is trained
        on. Without synthetic rows, the share of the real rows held out.
    max_epochs : int, default=200
    batch_size : int or "auto", default="auto"
        "auto": ``n_fit // 16`` clipped to [32, 512].
    learning_rate : float, default=1e-2
        Adam's step size.
    weight_decay : float, default=0.0
    early_stopping : bool, default=True
        Stop when the validation loss of the outputs (hard-label
        cross-entropy plus response term, on the held-out synthetic rows) has
        not improved by ``tol`` for ``n_iter_no_change`` epochs, and keep the
        best weights.
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    device : str, default="cpu"
        Where training runs (e.g. "cuda"). The fitted model lives on the CPU.
    n_threads : int or None, default=1
        torch's intra-op threads while ``fit`` runs, restored when it returns
        (``torch.set_num_threads``). The network is small: one thread is the
        fastest, and several threads spin badly when other processes share
        the cores. None leaves torch's setting alone.
    domain : Domain or None, default=None
        As in :class:`DistilledTreeClassifier`: the declared inputs, or inferred from ``X``.
    random_state : int, RandomState or None, default=None
        Seeds the teacher, the transfer set and a local ``torch.Generator``
        (initial weights, shuffling); no global seed is set.
    verbose : int, default=0
        > 0: a tqdm progress bar over epochs.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (CPU, eval mode), input :meth:`encode`.
    coefs_, intercepts_ : list of ndarray
        Dense layers in order, ``h = relu(h @ coefs_[i] + intercepts_[i])``,
        no ReLU after the last; embeddings folded into the first layer.
    encoding_ : list of dict
        One entry per encoded input column (see :meth:`encode`).
    n_parameters_ : int
        Trainable parameters of ``module_`` (the hint projection, used only in
        training, is not counted).
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, each term's
        contribution and ``seconds`` (since training began).
    loss_scales_ : dict
        Normalising scale of each feature / relation term (its raw value on
        the untrained student).
    initial_losses_ : dict
        Raw value of every active term on the untrained student.
    feature_kind_ : str or None
        The teacher representation actually used.
    n_epochs_, best_epoch_ : int
    fidelity_ : float
        Agreement with the teacher on the held-out synthetic rows (held-out
        real rows when there are no synthetic ones).
    teacher_, domain_, classes_, n_features_in_, feature_names_in_

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    >>> m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3), hidden_layer_sizes=(8,),
    ...                            n_synthetic=500, max_epochs=20, random_state=0).fit(X, y)
    >>> m.predict(X[:3]).shape, m.n_parameters_
    ((3,), 57)
    """

    _answers_with_rules = False  # no decided_by / get_rules: the network answers every row

    _parameter_constraints: dict = {
        **DistilledClassifierMixin._common_constraints,
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "knowledge": [list, tuple, str],
        # Beyond these the response loss is lost to rounding (docs: values near 1-20 are usual).
        "temperature": [Interval(numbers.Real, 1e-3, 1e6, closed="both")],
        "label_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "response_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "feature_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "relation_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "hard_labels": [StrOptions({"data", "teacher"})],
        "feature_kind": [StrOptions(set(_STUDENT_FEATURE_KINDS))],
        "hint_loss": [StrOptions({"mse", "cosine"})],
        "categorical_encoding": [StrOptions({"auto", "onehot", "embedding"})],
        "threshold_inputs": [Interval(numbers.Integral, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "device": "no_validation",
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        teacher: Any = None,
        hidden_layer_sizes: Any = (32, 16),
        knowledge: Any = KNOWLEDGE,
        temperature: float = 4.0,
        label_weight: float = 1.0,
        response_weight: float = 1.0,
        feature_weight: float = 1.0,
        relation_weight: float = 1.0,
        hard_labels: str = "data",
        feature_kind: str = "auto",
        hint_loss: str = "mse",
        categorical_encoding: str = "auto",
        threshold_inputs: int = 0,
        n_synthetic: int | str = "auto",
        strategy: str = "perturb",
        validation_fraction: float = 0.2,
        max_epochs: int = 200,
        batch_size: int | str = "auto",
        learning_rate: float = 1e-2,
        weight_decay: float = 0.0,
        early_stopping: bool = True,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        device: str = "cpu",
        n_threads: int | None = 1,
        domain: Any = None,
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.teacher = teacher
        self.hidden_layer_sizes = hidden_layer_sizes
        self.knowledge = knowledge
        self.temperature = temperature
        self.label_weight = label_weight
        self.response_weight = response_weight
        self.feature_weight = feature_weight
        self.relation_weight = relation_weight
        self.hard_labels = hard_labels
        self.feature_kind = feature_kind
        self.hint_loss = hint_loss
        self.categorical_encoding = categorical_encoding
        self.threshold_inputs = threshold_inputs
        self.n_synthetic = n_synthetic
        self.strategy = strategy
        self.validation_fraction = validation_fraction
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.n_threads = n_threads
        self.domain = domain
        self.random_state = random_state
        self.verbose = verbose

    # -- parameters ------------------------------------------------------------
    def _check_params(self) -> tuple[tuple[int, ...], tuple[str, ...]]:
        self._validate_params()
        name = type(self).__name__
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(np.ravel(np.asarray(hidden, dtype=object)))
        if not hidden or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden):
            raise InvalidParameterError(
                f"The 'hidden_layer_sizes' parameter of {name} must be a non-empty sequence of ints >= 1. "
                f"Got {self.hidden_layer_sizes!r} instead."
            )
        knowledge = (self.knowledge,) if isinstance(self.knowledge, str) else tuple(self.knowledge)
        bad = [k for k in knowledge if k not in KNOWLEDGE]
        if bad:
            raise InvalidParameterError(
                f"The 'knowledge' parameter of {name} must be a subset of {KNOWLEDGE}. "
                f"Got {self.knowledge!r} instead (unknown: {bad})."
            )
        active = ["label"] if self.label_weight > 0 else []
        active += [k for k in knowledge if getattr(self, f"{k}_weight") > 0]
        if not active:
            raise InvalidParameterError(
                f"{name} has nothing to learn from: label_weight is 0 and no knowledge kind with a "
                f"positive weight is chosen. Got knowledge={self.knowledge!r}."
            )
        if "label" not in active and "response" not in active:
            # feature and relation knowledge act on the hidden layers only: no gradient reaches the output layer
            raise InvalidParameterError(
                f"{name} would never train its output layer: label_weight is 0 and the response knowledge is "
                f"off, and the feature and relation terms only shape the hidden layers. Set label_weight > 0 or "
                f"add 'response' to knowledge (with response_weight > 0). Got knowledge={self.knowledge!r}."
            )
        if "relation" in knowledge and self.relation_weight > 0 and self.batch_size != "auto" \
                and self.batch_size < 3:
            raise InvalidParameterError(
                f"The relation knowledge of {name} compares rows of a batch (angles need three): batch_size "
                f"must be >= 3 with knowledge including 'relation'. Got batch_size={self.batch_size!r}."
            )
        return tuple(int(h) for h in hidden), knowledge

    # -- fit ---------------------------------------------------------------------
    @unfitted_on_error
    def fit(self, X: Any, y: Any, sample_weight: Any = None, *, transfer_weight: Any = None) -> "DistilledMLPClassifier":
        """Fit the teacher (unless frozen), build the transfer set, train the network.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the real rows (teacher fit and every per-row loss);
            synthetic rows get their mean.
        transfer_weight : callable, optional
            ``transfer_weight(frame)`` -> one non-negative factor per row of
            the transfer set (a DataFrame of the validated columns, real rows
            first), multiplied into the row weights of every per-row loss and
            of the validation loss. :class:`~rulekd.HybridClassifier` uses it
            to focus its student on the rows its rules leave to it (a small
            factor on the rows a rule answers).

        Returns
        -------
        self
        """
        hidden, knowledge = self._check_params()
        torch = require("torch", "torch")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError):
            raise InvalidParameterError(
                f"The 'device' parameter of {type(self).__name__} must name a torch device such as 'cpu' "
                f"or 'cuda'. Got {self.device!r} instead."
            ) from None
        if device.type == "meta":  # tensors without data: nothing can be trained there
            raise InvalidParameterError(
                f"The 'device' parameter of {type(self).__name__} is {self.device!r}, which holds no data to "
                f"train on; use device='cpu' or 'cuda'.")
        backend = getattr(torch, device.type, None) if device.type != "mps" else getattr(torch.backends, "mps", None)
        if device.type != "cpu" and not (callable(getattr(backend, "is_available", None)) and backend.is_available()):
            # Checked before the teacher and the transfer set are built (torch's own error came after them).
            raise InvalidParameterError(
                f"The 'device' parameter of {type(self).__name__} is {self.device!r} but torch sees no "
                f"{device.type.upper()} device (torch {torch.__version__}); use device='cpu'."
            )
        frame, y_idx, ts, fit_idx, val_idx = self._transfer(X, y, sample_weight)
        if transfer_weight is not None:
            factor = np.asarray(transfer_weight(ts.X), dtype=np.float64).reshape(-1)
            if factor.shape != (len(ts),) or not (np.isfinite(factor).all() and (factor >= 0).all()):
                raise ValueError(
                    f"transfer_weight must return {len(ts)} finite non-negative factors (one per transfer row); "
                    f"got shape {factor.shape}."
                )
            if not factor[fit_idx].any():
                raise ValueError("transfer_weight gave every training row a factor of 0: nothing is left to learn from.")
            if self.early_stopping and len(val_idx) and not factor[val_idx].any():
                raise ValueError(
                    f"transfer_weight gave every validation row (the {len(val_idx)} held-out transfer rows) a factor "
                    f"of 0: the validation loss would be 0 at every epoch and early stopping would keep the first. "
                    f"Give them a positive factor, or set early_stopping=False."
                )
            ts.weights = ts.weights * factor
        stop_early = bool(self.early_stopping)
        if stop_early and len(val_idx) and not ts.weights[val_idx].any():
            # sample_weight 0 on every held-out row (real rows are held out without synthetic ones): the
            # validation loss would be 0 at every epoch and the first epoch's weights kept.
            warnings.warn(
                f"Every validation row (the {len(val_idx)} held-out rows) has sample_weight 0, so the validation "
                f"loss cannot judge the epochs: early stopping is off for this fit (max_epochs={self.max_epochs} "
                f"epochs, the last kept). Give more rows a positive weight, or synthetic rows to validate on "
                f"(n_synthetic).", UserWarning, stacklevel=user_stacklevel())
            stop_early = False
        self._fit_encoding(frame, hidden)
        k = len(self.classes_)
        hard = ts.labels_index.copy()
        if self.hard_labels == "data":
            hard[: len(frame)] = y_idx
        Xe = self._encode(ts.X).astype(np.float32)
        feats = None
        self.feature_kind_ = None
        if "feature" in knowledge or "relation" in knowledge:
            feats = self._teacher_representation(ts, fit_idx)
        data = {
            "x": Xe,
            "hard": hard.astype(np.int64),
            "teacher": ts.logits.astype(np.float32),
            "w": _float32_weights(ts.weights, fit_idx),
        }
        if feats is not None:
            data["feat"] = feats
        threads = torch.get_num_threads()
        if self.n_threads is not None:
            torch.set_num_threads(int(self.n_threads))
        try:
            self._train(data, fit_idx, val_idx, hidden, k, knowledge, device, stop_early)
        finally:
            torch.set_num_threads(threads)
        self._fidelity_from(ts, val_idx)
        return self

    def _transfer(self, X: Any, y: Any, sample_weight: Any):
        """:meth:`DistilledClassifierMixin._build_transfer`, keeping the split's indices
        so that real rows can carry their true labels.

        Every real row is trained on when synthetic rows are held out: the
        teacher labels those, so early stopping spends no true label. (Held
        out, the real rows were at most a tenth of the validation loss with
        ``n_synthetic="auto"`` but a fifth of the true labels; what training
        on them changes is measured in docs/neural.md.) Without synthetic
        rows, or with fewer than 30 of them held out, a share of the real rows
        is held out as well, as in any MLP.
        """
        frame, y_idx, _, ts, fit_idx, val_idx = self._build_transfer(X, y, sample_weight)
        n_real = len(frame)
        synthetic_val = val_idx[val_idx >= n_real]
        # Only when there are enough of them: a handful of synthetic rows (n_synthetic=20 left 3) would
        # make early stopping and fidelity_ judge on 1-3 rows.
        if len(synthetic_val) >= min(_MIN_SYNTHETIC_VALIDATION, len(val_idx)):
            fit_idx = np.union1d(fit_idx, np.arange(n_real))
            val_idx = synthetic_val
        return frame, y_idx, ts, fit_idx, val_idx

    def _teacher_representation(self, ts: Any, fit_idx: np.ndarray) -> np.ndarray | None:
        """Teacher features on the transfer set, centred and scaled by one global RMS."""
        from ..teachers._features import available_feature_kinds, teacher_features

        # Only the kinds this student reads ("leaves" are indices, not a representation).
        available = tuple(k for k in available_feature_kinds(self.teacher_) if k in _STUDENT_FEATURE_KINDS)
        kind = available[0] if self.feature_kind == "auto" else self.feature_kind
        if kind not in available:
            raise ValueError(
                f"feature_kind={self.feature_kind!r} is not available for this teacher; "
                f"available: {available}. Use feature_kind='auto'."
            )
        Xt = ts.X if self._frame_input_ else ts.X.to_numpy(dtype=np.float64, na_value=np.nan)
        try:
            F = teacher_features(self.teacher_, Xt, kind, approximate=True, random_state=self._seed_)
        except TeacherError as exc:
            if self.feature_kind != "auto" or kind != "hidden":
                raise
            # A torch module without a usable nn.Linear (or whose last one forward never calls):
            # "auto" reads its logits instead, and says so.
            warnings.warn(f"The teacher's hidden activations cannot be read ({exc}); the feature knowledge "
                          f"uses its logits (feature_kind='logits').", UserWarning, stacklevel=4)
            kind = "logits"
            F = teacher_features(self.teacher_, Xt, kind, approximate=True, random_state=self._seed_)
        F = np.asarray(F, dtype=np.float64).reshape(len(ts), -1)
        if kind == "logits" and F.shape[1] == 2:
            F = F[:, 1:] - F[:, :1]  # a binary teacher's logits carry one number
        mean = F[fit_idx].mean(axis=0)
        std = F[fit_idx].std(axis=0)
        keep = std > 1e-12 * max(1.0, float(np.abs(F).max(initial=0.0)))
        self.feature_kind_ = kind
        if not keep.any():
            return None
        F = F[:, keep] - mean[keep]
        rms = float(np.sqrt(np.mean(F[fit_idx] ** 2)))
        return (F / max(rms, 1e-12)).astype(np.float32)

    # -- preprocessing -----------------------------------------------------------
    def _fit_encoding(self, frame: pd.DataFrame, hidden: tuple[int, ...]) -> None:
        """Standardisation statistics and column layout, from the real training rows."""
        enc: list[dict] = []
        embedded: list[tuple[int, int, int]] = []
        steps = self._step_thresholds(frame)
        for spec in self.domain_.features:
            if spec.kind == "categorical":
                start = len(enc)
                for level in spec.levels:
                    enc.append({"name": f"{spec.name}={level}", "feature": spec.name, "kind": "onehot",
                                "level": _plain(level)})
                n_levels = len(spec.levels)
                dim = min(_embedding_dim(n_levels), n_levels - 1)
                h1 = int(hidden[0])
                embed = self.categorical_encoding == "embedding" or (
                    self.categorical_encoding == "auto" and n_levels >= _EMBED_MIN_LEVELS
                    and dim * (n_levels + h1) < n_levels * h1  # only where it saves parameters
                )
                if embed and n_levels > 2:
                    embedded.append((start, len(enc), dim))
                continue
            x = frame[spec.name].to_numpy(dtype=np.float64, na_value=np.nan)
            finite = x[~np.isnan(x)]
            mean = float(finite.mean()) if finite.size else 0.0
            scale = float(finite.std()) if finite.size else 1.0
            # Constant only relative to its own size (a spread of 1e-13 on values of that size is a feature);
            # below 1e-30 a scale would not survive float32 (exports) and the column is left unscaled.
            scale = scale if scale > 1e-12 * abs(mean) and scale >= 1e-30 else 1.0
            enc.append({"name": spec.name, "feature": spec.name, "kind": "numeric",
                        "mean": mean, "scale": scale, "impute": mean})
            if spec.allow_missing:
                enc.append({"name": f"{spec.name}__missing", "feature": spec.name, "kind": "missing_indicator"})
            for t in steps.get(spec.name, ()):
                enc.append({"name": f"{spec.name}>={t!r}", "feature": spec.name, "kind": "step", "threshold": t})
        self.encoding_ = enc
        self._embedded_ = embedded

    def _step_thresholds(self, frame: pd.DataFrame) -> dict[str, list[float]]:
        """The teacher's cuts that become step inputs (``threshold_inputs``), per numeric feature, sorted.

        The ``threshold_inputs`` cuts of largest total gain over all numeric features
        (:func:`teacher_cuts`); a cut that leaves every training row on one side is skipped (a constant
        input).
        """
        numeric = [s.name for s in self.domain_.features if s.kind != "categorical"]
        budget = int(self.threshold_inputs)
        if not budget or not numeric:
            return {}
        gains = teacher_cuts(self.teacher_, list(self.domain_.names), self._frame_input_)
        if not gains:
            model = _unfrozen(getattr(self.teacher_, "estimator", self.teacher_))
            warnings.warn(
                f"threshold_inputs={budget} asks for the teacher's cut points, but the teacher "
                f"({type(model).__name__}) lists none: the student has no step "
                f"inputs. XGBoost, scikit-learn trees, forests and (Hist)GradientBoosting list their cuts; set "
                f"threshold_inputs=0 to silence this.", UserWarning, stacklevel=user_stacklevel())
        cands = []
        for name in numeric:
            if name not in gains:
                continue
            x = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
            x = x[~np.isnan(x)]
            if not x.size:
                continue
            lo, hi = x.min(), x.max()
            for t, g in zip(*gains[name]):
                if np.isfinite(t) and lo < t <= hi:  # some rows on each side of x >= t
                    cands.append((-float(g), name, float(t)))
        out: dict[str, list[float]] = {}
        for _, name, t in sorted(cands)[:budget]:
            out.setdefault(name, []).append(t)
        return {k: sorted(v) for k, v in out.items()}

    def _numeric_block(self, frame: pd.DataFrame) -> np.ndarray:
        numeric = self._encoding_plan()["numeric"]
        if len(numeric) == frame.shape[1] and list(frame.columns) == numeric:
            return frame.to_numpy(dtype=np.float64, na_value=np.nan)
        return frame[numeric].to_numpy(dtype=np.float64, na_value=np.nan)

    def _encode(self, frame: pd.DataFrame | None, numeric_block: np.ndarray | None = None) -> np.ndarray:
        """Encoded rows (see :meth:`encode`); ``frame=None`` with a ``numeric_block`` for a student
        without categorical features (the raw path)."""
        plan = self._encoding_plan()
        n = len(frame) if frame is not None else numeric_block.shape[0]
        # In-place arithmetic: every fresh (n, d) array costs page faults that, for
        # 10,000 rows, take longer than the network itself.
        z = miss = None
        if plan["numeric"]:
            x = self._numeric_block(frame) if numeric_block is None else numeric_block
            miss = np.isnan(x)
            z = np.where(miss, plan["impute"], x)  # a new array: the caller's data is never written
            with np.errstate(over="ignore"):  # a value near the largest double: inf, answered or refused later
                z -= plan["mean"]
                z /= plan["scale"]
            if plan["numeric_only"]:
                return z
        out = np.zeros((n, len(self.encoding_)), dtype=np.float64)
        if z is not None:
            out[:, plan["num_pos"]] = z
            if len(plan["ind_pos"]):
                out[:, plan["ind_pos"]] = miss[:, plan["ind_src"]]
            if len(plan["step_pos"]):
                with np.errstate(invalid="ignore"):  # NaN >= t is False: a missing value's steps are 0
                    out[:, plan["step_pos"]] = x[:, plan["step_src"]] >= plan["step_t"]
        rows = np.arange(n)
        for name, start, levels in plan["categorical"]:
            col = frame[name]
            # intp: pandas gives int8 codes for up to 127 levels, and start + code overflowed int8 past
            # column 127 of the encoding (an OverflowError for any categorical feature placed there).
            codes = np.asarray(col.cat.codes if isinstance(col.dtype, pd.CategoricalDtype)
                               else pd.Categorical(col, categories=levels).codes, dtype=np.intp)
            ok = codes >= 0
            out[rows[ok], start + codes[ok]] = 1.0
        return out

    def _encoding_plan(self) -> dict:
        """``encoding_`` as index arrays, for a vectorised :meth:`_encode` (cached)."""
        plan = self.__dict__.get("_plan_cache")
        if plan is not None and plan["key"] is self.encoding_:
            return plan
        numeric, num_pos, mean, scale, impute, ind_pos, ind_src, categorical = [], [], [], [], [], [], [], []
        step_pos, step_src, step_t = [], [], []
        for j, e in enumerate(self.encoding_):
            if e["kind"] == "numeric":
                numeric.append(e["feature"])
                num_pos.append(j)
                mean.append(e["mean"])
                scale.append(e["scale"])
                impute.append(e["impute"])
            elif e["kind"] == "missing_indicator":
                ind_pos.append(j)
                ind_src.append(numeric.index(e["feature"]))
            elif e["kind"] == "step":
                step_pos.append(j)
                step_src.append(numeric.index(e["feature"]))
                step_t.append(e["threshold"])
            elif not categorical or categorical[-1][0] != e["feature"]:
                categorical.append((e["feature"], j, list(self.domain_[e["feature"]].levels)))
        plan = {
            "key": self.encoding_, "numeric": numeric, "num_pos": np.array(num_pos, dtype=np.intp),
            "mean": np.array(mean), "scale": np.array(scale), "impute": np.array(impute),
            "ind_pos": np.array(ind_pos, dtype=np.intp), "ind_src": np.array(ind_src, dtype=np.intp),
            "step_pos": np.array(step_pos, dtype=np.intp), "step_src": np.array(step_src, dtype=np.intp),
            "step_t": np.array(step_t, dtype=np.float64),
            "categorical": categorical,
            "numeric_only": len(num_pos) == len(self.encoding_) and num_pos == list(range(len(num_pos))),
            # Numbers and steps only: predict may take the raw numeric block (_raw_layers), whose
            # columns come first, then the steps (perm: their positions in the encoding).
            "raw": bool(num_pos) and len(num_pos) + len(step_pos) == len(self.encoding_),
            "perm": np.array(num_pos + step_pos, dtype=np.intp),
        }
        self.__dict__["_plan_cache"] = plan
        return plan

    def encode(self, X: Any) -> np.ndarray:
        """The network's input: one column per entry of ``encoding_``, float64.

        * numeric feature: ``(x - mean) / scale``, a missing value imputed
          with ``impute`` (the training mean, so it encodes to 0);
        * ``missing_indicator`` (features that had missing values in training):
          1.0 where the value is missing, else 0.0;
        * ``step`` (``threshold_inputs``): 1.0 where the numeric value is
          ``>= threshold``, else 0.0 (missing: 0.0);
        * ``onehot``: 1.0 where the categorical value equals ``level``; a
          missing category is all zeros.

        ``predict_proba(X)`` is ``softmax`` (``sigmoid`` for two classes) of
        the network applied to ``encode(X)`` with :meth:`weights` (up to
        float rounding: a student whose inputs are all numeric has the
        standardisation folded into its first layer at prediction).
        """
        check_is_fitted(self)
        return self._encode(*self._frame_for_predict(X))

    def _frame_for_predict(self, X: Any) -> tuple[pd.DataFrame, np.ndarray | None]:
        """The validated input for :meth:`_encode` (and its numeric block, where already read).

        A DataFrame that already is canonical (the fitted columns in order,
        numpy numeric dtypes, categorical columns with exactly the fitted
        levels) is used as it is after the feature-name check: converting it
        would give the same values, at several times the cost of the network.
        Anything else goes through the full validation.
        """
        if not (isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_") and X.shape[0] > 0
                and X.shape[1] == len(self.domain_.features)):
            return self._validate_X(X, reset=False), None
        for spec, name, dtype in zip(self.domain_.features, X.columns, X.dtypes):
            if name != spec.name:
                return self._validate_X(X, reset=False), None
            if spec.kind == "categorical":
                if not (isinstance(dtype, pd.CategoricalDtype) and len(dtype.categories) == len(spec.levels)
                        and all(a == b for a, b in zip(dtype.categories, spec.levels))):
                    return self._validate_X(X, reset=False), None
            elif not (isinstance(dtype, np.dtype) and dtype.kind in "fi"):
                return self._validate_X(X, reset=False), None
        # The loop above is sklearn's feature-name and count check (names in order), done
        # without validate_data, which costs a third of a 10,000-row prediction.
        numeric = self._encoding_plan()["numeric"]
        x = None
        if numeric:
            x = self._numeric_block(X)
            if not np.isfinite(x).all():  # one pass when all is finite; NaN (missing) is allowed
                bad = np.isinf(x).any(axis=0)
                if bad.any():
                    name = numeric[int(np.argmax(bad))]
                    raise ValueError(f"Column {name!r} contains infinity; replace it with a finite value or NaN.")
        return X, x

    # -- training ------------------------------------------------------------------
    def _train(self, data: dict, fit_idx: np.ndarray, val_idx: np.ndarray, hidden: tuple, k: int,
               knowledge: tuple, device: Any, stop_early: bool) -> None:
        torch = require("torch", "torch")
        from ..losses import DistillationLoss, HintProjection

        gen = torch.Generator().manual_seed(self._seed_)
        n_out = 1 if k == 2 else k
        net = _network_class()(data["x"].shape[1], self._embedded_, hidden, n_out)
        net.reset_parameters(gen)
        feats = data.get("feat")
        projection = None
        if feats is not None and "feature" in knowledge and self.feature_weight > 0:
            # (with weight 0, no projection: drawing its weights moved every later draw of ``gen``, so
            # feature_weight=0 trained another network than leaving "feature" out)
            projection = HintProjection(hidden[-1], feats.shape[1], generator=gen)
        loss_fn = DistillationLoss(
            temperature=self.temperature,
            label_weight=self.label_weight,
            response_weight=self.response_weight if "response" in knowledge else 0.0,
            feature_weight=self.feature_weight if ("feature" in knowledge and feats is not None) else 0.0,
            relation_weight=self.relation_weight if ("relation" in knowledge and feats is not None) else 0.0,
            hint_kind=self.hint_loss,
            projection=projection,
        )
        net.to(device)
        loss_fn.to(device)
        tensors = {key: torch.as_tensor(v).to(device) for key, v in data.items()}
        params = list(net.parameters()) + (list(projection.parameters()) if projection is not None else [])
        opt = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        n_fit = len(fit_idx)
        bs = int(np.clip(n_fit // 16, 32, 512)) if self.batch_size == "auto" else int(self.batch_size)
        bs = max(1, min(bs, n_fit))
        fit_t = torch.as_tensor(fit_idx, dtype=torch.long)
        val_t = torch.as_tensor(val_idx, dtype=torch.long)

        def batch_terms(idx: Any, outputs_only: bool = False) -> dict:
            idx = idx.to(device)
            logits, hs = net(tensors["x"][idx], return_hidden=True)
            if n_out == 1:
                logits = logits[:, 0]
            with_features = "feat" in tensors and not outputs_only
            return loss_fn.raw_terms(
                logits, hs[-1],
                hard_labels=tensors["hard"][idx],
                teacher_logits=tensors["teacher"][idx],
                teacher_features=tensors["feat"][idx] if with_features else None,
                weight=tensors["w"][idx],
            )

        # Normalise the feature and relation terms by their value on the untrained student.
        with torch.no_grad():
            perm = fit_t[torch.randperm(n_fit, generator=gen)]
            calib = [batch_terms(perm[i:i + bs]) for i in range(0, min(n_fit, 8 * bs), bs)]
        self.loss_scales_ = loss_fn.calibrate(calib)
        self.initial_losses_ = dict(loss_fn.initial_values)

        # Early stopping watches the outputs (hard-label CE + response KL) on the
        # held-out rows; the feature and relation terms shape the representation
        # and keep falling long after the predictions stop improving.
        watched = [key for key in ("label", "response") if getattr(loss_fn, f"{key}_weight") > 0]

        def validation_loss() -> float:
            net.eval()
            total, count = 0.0, 0.0
            with torch.no_grad():
                for i in range(0, len(val_t), bs):
                    idx = val_t[i:i + bs]
                    t, parts = loss_fn.combine(batch_terms(idx, outputs_only=bool(watched)))
                    value = sum(parts[key] for key in watched if key in parts) if watched else float(t)
                    # Each batch's value is a weighted mean: batches count by their weight (by their size,
                    # a sorted val_idx undid transfer_weight), so this is the weighted mean over the rows.
                    weight = float(tensors["w"][idx.to(device)].sum())
                    total += value * weight
                    count += weight
            net.train()
            return total / count if count > 0 else 0.0

        history: list[dict] = []
        best = (math.inf, 0, copy.deepcopy(net.state_dict()))
        no_improve = 0
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.max_epochs, desc=type(self).__name__, unit="epoch", leave=True)
        net.train()
        start = time.perf_counter()
        epoch = 0
        try:
            for epoch in range(1, self.max_epochs + 1):
                perm = fit_t[torch.randperm(n_fit, generator=gen)]
                sums: dict[str, float] = {}
                total_sum, count = 0.0, 0
                for i in range(0, n_fit, bs):
                    idx = perm[i:i + bs]
                    total, parts = loss_fn.combine(batch_terms(idx))
                    if not torch.isfinite(total):
                        # nan < best never holds: the untrained weights would be kept without a word.
                        terms = ", ".join(f"{key} {v:.4g}" for key, v in parts.items())
                        raise ValueError(
                            f"The training loss of {type(self).__name__} is {float(total)} at epoch {epoch} "
                            f"({terms}). Check the temperature ({self.temperature!r}: values near 1-20 are "
                            f"usual) and lower learning_rate ({self.learning_rate!r})."
                        )
                    opt.zero_grad(set_to_none=True)
                    total.backward()
                    opt.step()
                    weight = float(tensors["w"][idx.to(device)].sum())  # as in validation_loss
                    total_sum += float(total.detach()) * weight
                    count += weight
                    for key, v in parts.items():
                        sums[key] = sums.get(key, 0.0) + v * weight
                record = {"epoch": epoch, "train_loss": total_sum / count}
                record.update({key: v / count for key, v in sums.items()})
                record["val_loss"] = validation_loss()
                record["seconds"] = time.perf_counter() - start
                history.append(record)
                if record["val_loss"] < best[0] - self.tol:
                    best = (record["val_loss"], epoch, copy.deepcopy(net.state_dict()))
                    no_improve = 0
                else:
                    no_improve += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(train=f"{record['train_loss']:.4f}", val=f"{record['val_loss']:.4f}")
                if stop_early and no_improve >= self.n_iter_no_change:
                    break
        finally:
            if bar is not None:
                bar.close()
        if stop_early:
            net.load_state_dict(best[2])
            self.best_epoch_ = best[1]
        else:
            self.best_epoch_ = epoch
        self.n_epochs_ = epoch
        self.history_ = history
        net.to("cpu").eval()
        self.module_ = net
        self.n_parameters_ = int(sum(p.numel() for p in net.parameters() if p.requires_grad))
        self._set_weights()

    def _set_weights(self) -> None:
        """Plain float64 weights from ``module_``, embeddings folded into the first layer."""
        net = self.module_
        sd = {key: v.detach().cpu().double().numpy() for key, v in net.state_dict().items()}
        n_in = len(self.encoding_)
        passthrough = sd["passthrough"].astype(np.int64)
        W1 = sd["hidden.0.weight"]  # (h1, width): columns = passthrough, then each embedding
        first = np.zeros((n_in, W1.shape[0]))
        first[passthrough] = W1[:, : len(passthrough)].T
        col = len(passthrough)
        for e, (a, b, d) in enumerate(self._embedded_):
            E = sd[f"embeddings.{e}.weight"]  # (d, b - a)
            first[a:b] = (W1[:, col:col + d] @ E).T
            col += d
        coefs = [first]
        intercepts = [sd["hidden.0.bias"]]
        for i in range(1, len(net.hidden)):
            coefs.append(sd[f"hidden.{i}.weight"].T.copy())
            intercepts.append(sd[f"hidden.{i}.bias"])
        coefs.append(sd["out.weight"].T.copy())
        intercepts.append(sd["out.bias"])
        self.coefs_ = coefs
        self.intercepts_ = intercepts
        raw = self._encoding_plan()["raw"]
        self._float32_layers(raw)  # cached now: predict leaves __dict__ unchanged (a scikit-learn check)

    def _fidelity_from(self, ts: Any, val_idx: np.ndarray) -> None:
        z = self._forward(self._encode(ts.X.iloc[val_idx]))
        pred = (z[:, 0] > 0).astype(int) if z.shape[1] == 1 else np.argmax(z, axis=1)
        w = ts.weights[val_idx]
        self.fidelity_ = float(np.average(pred == ts.labels_index[val_idx], weights=w if w.sum() > 0 else None))

    # -- prediction ------------------------------------------------------------------
    def _forward(self, Xe: np.ndarray, raw: bool = False) -> np.ndarray:
        """Logits of the encoded rows, in padded blocks of fixed size (row-order and batch invariant).

        ``raw``: ``Xe`` is the numeric block of a student of numbers (and steps) only,
        not yet encoded; it is encoded here with :meth:`_encode`'s arithmetic. (Only the
        float32 pass of :meth:`_decide` folds the standardisation into the first
        layer; folded float64 logits would differ from the network's by
        cancellation where ``mean / scale`` is large, and the verifier reasons
        about the network.)
        """
        if raw:
            Xe = self._encode(None, Xe)
        coefs, intercepts = self.coefs_, self.intercepts_
        out = np.empty((Xe.shape[0], coefs[-1].shape[1]))
        # One BLAS thread: the blocks are small, and threads that spin on shared cores
        # cost 10-100x more than the product itself.
        # Overflow (inputs near the largest double) gives inf logits, which predict_proba clips, or NaN,
        # which decision_function and predict refuse (_refuse_overflow): no RuntimeWarning on the way.
        with _blas_controller().limit(limits=1, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
            _forward_blocks(Xe, out, coefs, intercepts, None)
        return out

    def _decide(self, Xe: np.ndarray, raw: bool = False) -> np.ndarray:
        """Class indices of the rows, exactly ``argmax`` of :meth:`_forward`'s logits, faster.

        A float32 pass answers every row whose margin is larger than a bound
        on the float32 pass's rounding error (:func:`_float32_error_bound`);
        the few rows closer to the decision boundary (and any row that does
        not fit float32) are computed again in float64. float32 halves the
        cost of the products, which are most of a prediction.
        """
        coefs, intercepts, impute, v1, alpha, beta = self._float32_layers(raw)
        n = Xe.shape[0]
        z = np.empty((n, coefs[-1].shape[1]), dtype=np.float32)
        r = np.empty(n, dtype=np.float32)
        plan = self._encoding_plan()
        steps = (plan["step_src"], plan["step_t"]) if raw and len(plan["step_pos"]) else None
        with _blas_controller().limit(limits=1, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
            _forward_blocks(Xe, z, coefs, intercepts, impute, v1=v1, r=r, steps=steps)
        bound = 2.0 * (alpha * r.astype(np.float64) + beta)  # 2x: also covers the float64 pass's own rounding
        if z.shape[1] == 1:
            idx = (z[:, 0] > 0).astype(np.intp)
            margin = np.abs(z[:, 0].astype(np.float64))
        else:
            idx = np.argmax(z, axis=1)
            top = np.partition(z, z.shape[1] - 2, axis=1)[:, -2:].astype(np.float64)
            margin = 0.5 * (top[:, 1] - top[:, 0])
        unsure = np.flatnonzero(~(margin > bound))  # NaN or inf (overflow) is unsure too
        if len(unsure):
            z64 = _refuse_overflow(self._forward(Xe[unsure], raw))
            idx[unsure] = (z64[:, 0] > 0) if z64.shape[1] == 1 else np.argmax(z64, axis=1)
        return idx

    def _raw_layers(self) -> tuple[list, list, np.ndarray, tuple[float, float]]:
        """Students of numbers (and steps) only: layers that take raw values, the imputation values,
        and how far the folded first layer may be from the network's (for :meth:`_decide`'s float32 pass).

        The raw block is the numeric columns, then the steps (0/1, computed from the raw values in
        :func:`_forward_blocks`; mean 0, scale 1): the first layer's rows are taken in that order.

        ``((x - mean) / scale) @ W1 + b1 == x @ (W1 / scale[:, None]) + (b1 - (mean / scale) @ W1)``
        in exact arithmetic; in float64 the folded weights and bias are rounded, and so is the
        network's own input ``fl((x - mean) / scale)``, so a first-layer value of the folded layer is
        within ``3 * 2**-53 * r + e_b`` of the network's, with ``r = |x| @ max_k |W1 / scale|`` (as in
        :func:`_float32_error_bound`) and ``e_b`` a constant.
        """
        plan = self._encoding_plan()
        n_steps = len(plan["step_pos"])
        W1, b1 = self.coefs_[0][plan["perm"]], self.intercepts_[0]
        scale = np.concatenate([plan["scale"], np.ones(n_steps)])
        first = W1 / scale[:, None]
        ratio = np.concatenate([plan["mean"], np.zeros(n_steps)]) / scale
        first_b = b1 - ratio @ W1
        u64 = 2.0 ** -53
        d = W1.shape[0]
        mag = float((np.abs(b1) + np.abs(ratio) @ np.abs(W1)).max(initial=0.0))
        # Folded bias: each ratio rounded once, a d-term dot product, the subtraction (gamma_{d+2}).
        # The network's own input is fl((x - mean) / scale): two roundings of each term, 2 u |x - mean| / scale,
        # at most 2 u (r + mag) on a first-layer value. Folded weights: one rounding each, u r.
        e_b = ((d + 2) * u64 / (1.0 - (d + 2) * u64) + 2.0 * u64) * mag
        impute = np.concatenate([plan["impute"], np.zeros(n_steps)])  # a step is never missing
        return [first] + list(self.coefs_[1:]), [first_b] + list(self.intercepts_[1:]), impute, (3.0 * u64, e_b)

    def _float32_layers(self, raw: bool) -> tuple:
        """float32 copies of the layers :meth:`_forward` uses, with their error bound (cached)."""
        cache = self.__dict__.get("_f32_cache")
        if cache is None or cache[0] is not self.coefs_:
            cache = (self.coefs_, {})
            self.__dict__["_f32_cache"] = cache
        if raw not in cache[1]:
            coefs, intercepts, impute, fold = self._raw_layers() if raw else (
                self.coefs_, self.intercepts_, None, (0.0, 0.0))
            v1, alpha, beta = _float32_error_bound(coefs, intercepts, fold)
            tiny = float(np.finfo(np.float32).tiny)
            if any(((a != 0) & (np.abs(a) < tiny)).any() for a in list(coefs) + list(intercepts)):
                alpha = np.inf  # weights float32 holds only as subnormals: every row takes the float64 pass
            cache[1][raw] = (
                [W.astype(np.float32) for W in coefs], [b.astype(np.float32) for b in intercepts],
                None if impute is None else impute.astype(np.float32), v1.astype(np.float32), alpha, beta,
            )
        return cache[1][raw]

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: shape (n,) for two classes (the positive class's), else (n, n_classes)."""
        check_is_fitted(self)
        z = _refuse_overflow(self._through_network(X, self._forward))
        return z[:, 0] if z.shape[1] == 1 else z

    def _through_network(self, X: Any, step: Any) -> np.ndarray:
        """``step`` (:meth:`_forward` or :meth:`_decide`) applied to the validated, encoded input."""
        frame, x = self._frame_for_predict(X)
        if self._encoding_plan()["raw"]:
            return step(self._numeric_block(frame) if x is None else x, raw=True)
        # Encoded in chunks: one (n, width) matrix for a million rows costs more in
        # memory traffic than the network. Rows are encoded one by one, so chunks
        # change nothing in the result.
        if len(frame) <= _CHUNK:  # one chunk: no row slice of the frame (a copy per column)
            return step(self._encode(frame, x))
        out = None
        for start in range(0, len(frame), _CHUNK):
            rows = slice(start, start + _CHUNK)
            part = step(self._encode(frame.iloc[rows], None if x is None else x[rows]))
            if out is None:
                out = np.empty((len(frame),) + part.shape[1:], dtype=part.dtype)
            out[rows] = part
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order."""
        z = self.decision_function(X)
        if z.ndim == 1:
            p = 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that never overflows
            P, won = np.column_stack([1.0 - p, p]), (z > 0).astype(np.intp)
        else:
            won = np.argmax(z, axis=1)
            big = np.finfo(np.float64).max  # logits that overflowed to +-inf: inf - inf would be NaN
            z = np.clip(z, -big, big)
            with np.errstate(over="ignore"):  # a spread beyond the largest double: exp(-inf) = 0
                e = np.exp(z - z.max(axis=1, keepdims=True))
            P = e / e.sum(axis=1, keepdims=True)
        # Logits a hair apart (|z| ~ 1e-16) round to equal probabilities: the class predict gives (the larger
        # logit) is made the most probable by one ulp, so that argmax(predict_proba) == predict on every row.
        tie = np.argmax(P, axis=1) != won
        if tie.any():
            rows = np.flatnonzero(tie)
            P[rows, won[rows]] = np.nextafter(P[rows].max(axis=1), 1.0)
        return P

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: the argmax of the logits (ties to the first class).

        Exactly the labels of :meth:`decision_function`, through a faster
        float32 pass where its rounding provably cannot change the answer
        (:meth:`_decide`).
        """
        check_is_fitted(self)
        return self.classes_[self._through_network(X, self._decide)]

    # -- plain weights and export -----------------------------------------------------------
    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The dense layers in order as ``[(W, b), ...]``, float64 copies.

        ``W`` has shape ``(n_in, n_out)``; the network is
        ``h_0 = encode(X)``, ``h_{i+1} = relu(h_i @ W_i + b_i)`` for every
        layer but the last, and ``logits = h_L @ W_L + b_L`` (one column, the
        positive class's logit, for two classes). Embeddings are folded into
        the first layer, so this is exactly a ReLU network over the encoded
        input described by ``encoding_``.
        """
        check_is_fitted(self)
        return [(W.copy(), b.copy()) for W, b in zip(self.coefs_, self.intercepts_)]

    def to_onnx(self, path: Any = None, *, opset: int = 17, overwrite: bool = False) -> Any:
        """Export the network to ONNX (input: :meth:`encode`'s output as float32).

        Outputs ``logits`` ``(n, 1)`` for two classes else ``(n, k)``,
        ``probabilities`` ``(n, k)`` and ``label`` (int64 index into
        ``classes_``). The model's metadata holds ``encoding_`` and
        ``classes_`` as JSON (keys ``rulekd.encoding`` and ``rulekd.classes``).

        Parameters
        ----------
        path : str or path-like, optional
            Where to write the model (through a temporary file: never
            half-written); the ``onnx.ModelProto`` is returned either way.
        opset : int, default=17
            The ONNX operator set, from 7 to the newest the installed onnx knows.
        overwrite : bool, default=False
            Replace an existing file at ``path``; without it an existing file
            is kept and ``FileExistsError`` raised, as every rulekd writer does.
        """
        check_is_fitted(self)
        onnx = require("onnx", "test")
        from onnx import TensorProto, helper, numpy_helper

        latest = onnx.defs.onnx_opset_version()
        if isinstance(opset, bool) or not isinstance(opset, numbers.Integral) or not 7 <= opset <= latest:
            raise ValueError(
                f"opset must be an ONNX operator set from 7 (the first whose Gemm broadcasts the bias, as this "
                f"export needs) to {latest} (the newest this onnx package knows), got {opset!r}.")

        nodes, inits = [], []
        h = "input"
        last = len(self.coefs_) - 1
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            inits.append(numpy_helper.from_array(W.astype(np.float32), f"W{i}"))
            inits.append(numpy_helper.from_array(b.astype(np.float32), f"b{i}"))
            out = "logits" if i == last else f"z{i}"
            nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"b{i}"], [out], name=f"dense{i}"))
            if i < last:
                nodes.append(helper.make_node("Relu", [out], [f"h{i}"], name=f"relu{i}"))
                h = f"h{i}"
        k = len(self.classes_)
        if self.coefs_[-1].shape[1] == 1:
            inits.append(numpy_helper.from_array(np.ones((1,), np.float32), "one"))
            nodes += [
                helper.make_node("Sigmoid", ["logits"], ["p1"], name="sigmoid"),
                helper.make_node("Sub", ["one", "p1"], ["p0"], name="complement"),
                helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1, name="concat"),
            ]
        else:
            nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1, name="softmax"))
        if k == 2:  # label = [logit > 0]
            inits.append(numpy_helper.from_array(np.zeros((1,), np.float32), "zero"))
            inits.append(numpy_helper.from_array(np.array([-1], np.int64), "flat"))
            nodes += [
                helper.make_node("Greater", ["logits", "zero"], ["positive"], name="threshold"),
                helper.make_node("Cast", ["positive"], ["label_2d"], to=TensorProto.INT64, name="cast"),
                helper.make_node("Reshape", ["label_2d", "flat"], ["label"], name="flatten"),
            ]
        else:
            nodes.append(helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0, name="argmax"))
        n_out = self.coefs_[-1].shape[1]
        graph = helper.make_graph(
            nodes, "rulekd_mlp_student",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", len(self.encoding_)])],
            [
                helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", n_out]),
                helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["n", k]),
                helper.make_tensor_value_info("label", TensorProto.INT64, ["n"]),
            ],
            inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))],
                                  producer_name="rulekd")
        model.ir_version = 8
        helper.set_model_props(model, {
            "rulekd.encoding": json.dumps(self.encoding_),
            "rulekd.classes": json.dumps([_plain(c) for c in self.classes_]),
        })
        onnx.checker.check_model(model)
        if path is not None:
            from .._io import write_text

            write_text(path, model.SerializeToString, overwrite=overwrite)
        return model

    # -- pickling --------------------------------------------------------------------------
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_plan_cache", None)
        state.pop("_f32_cache", None)
        net = state.pop("module_", None)
        if net is not None:
            state["_module_state_"] = {key: v.detach().cpu().clone() for key, v in net.state_dict().items()}
            state["_module_spec_"] = (
                len(self.encoding_), list(self._embedded_),
                tuple(int(lin.out_features) for lin in net.hidden), int(net.out.out_features),
            )
        return state

    def __setstate__(self, state: dict) -> None:
        sd = state.pop("_module_state_", None)
        spec = state.pop("_module_spec_", None)
        super().__setstate__(state)
        if sd is not None:
            net = _network_class()(*spec)
            net.load_state_dict(sd)
            self.module_ = net.eval()


def _refuse_overflow(z: np.ndarray) -> np.ndarray:
    """``z``, unless some logits are NaN: inputs near the largest double (fit refuses values beyond
    float32's range; predict reads any finite value) overflow the network's float64 arithmetic (inf - inf)."""
    bad = np.isnan(z).any(axis=1) if z.ndim == 2 else np.isnan(z)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} row(s) overflow the network's float64 arithmetic: their inputs are so large (near "
            f"the largest double, 1.8e308) that the logits would be NaN. Clip the inputs to the training range "
            f"(model.domain_ gives its bounds) or mark such values missing.")
    return z


def _forward_blocks(Xe: np.ndarray, out: np.ndarray, coefs: list, intercepts: list, impute: np.ndarray | None,
                    *, v1: np.ndarray | None = None, r: np.ndarray | None = None,
                    steps: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """``out[i]`` = the network's logits of row ``Xe[i]``, computed in ``out``'s dtype in padded
    blocks of ``_BLOCK`` rows (the same BLAS code path for every row, whatever the batch).

    ``impute``: values for missing inputs (a raw numeric block), else None.
    ``v1`` and ``r``: also write ``r[i] = |row i| @ v1`` (the error bound's input term).
    ``steps``: ``(columns, thresholds)``: a raw block's step inputs, ``Xe[:, column] >= threshold``
    compared in ``Xe``'s float64 (0 where missing), appended after its columns.
    """
    n = Xe.shape[0]
    dtype = out.dtype
    last = len(coefs) - 1
    impute_nan = impute is not None and bool(np.isnan(Xe).any())  # one pass; most inputs have none
    d = Xe.shape[1]
    width = d + (len(steps[0]) if steps is not None else 0)
    # Buffers reused for every block (fresh arrays of this size cost page faults).
    pad = np.zeros((_BLOCK, width), dtype=dtype)
    nan = np.empty(pad.shape, dtype=bool)
    absx = np.empty_like(pad) if r is not None else None
    rbuf = np.empty(_BLOCK, dtype=dtype) if r is not None else None
    bufs = [np.empty((_BLOCK, W.shape[1]), dtype=dtype) for W in coefs]
    for start in range(0, n, _BLOCK):
        m = min(_BLOCK, n - start)
        pad[:m, :d] = Xe[start:start + m]
        if steps is not None:
            pad[:m, d:] = Xe[start:start + m, steps[0]] >= steps[1]
        if m < _BLOCK:
            pad[m:] = 0.0
        if impute_nan:
            np.isnan(pad, out=nan)
            np.copyto(pad, impute, where=nan)
        if r is not None:
            np.abs(pad, out=absx)
            np.matmul(absx, v1, out=rbuf)
            r[start:start + m] = rbuf[:m]
        h = pad
        for i, (W, b) in enumerate(zip(coefs, intercepts)):
            np.matmul(h, W, out=bufs[i])
            bufs[i] += b
            if i < last:
                np.maximum(bufs[i], 0.0, out=bufs[i])
            h = bufs[i]
        out[start:start + m] = h[:m]


def _float32_error_bound(coefs: list, intercepts: list,
                         fold: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, float, float]:
    """A bound on how far a float32 forward pass's logits are from the exact ones, per row.

    Returns ``(v1, alpha, beta)``: for a row ``x``, every logit of the float32
    pass (inputs, weights and arithmetic in float32) is within
    ``alpha * r + beta`` of the exact network's, where ``r = |x| @ v1`` and
    ``v1[j] = max_k |W1[j, k]|`` (so ``r`` bounds every first-layer
    ``sum_j |x_j W1[j, k]|``). Standard bounds with the unit roundoff
    ``u = 2**-24`` and ``gamma_n = n u / (1 - n u)`` for an ``n``-term dot
    product, carried layer by layer as ``(coefficient of r, constant)``:
    a layer's magnitude ``A' = S A + B`` and its error
    ``E' = S (1 + u) E + u S A + gamma_n S (1 + u) (A + E) + u B``, plus ``u``
    times the result for the bias addition; ``S`` is the layer's largest
    column sum of ``|W|``, ``B`` its largest ``|b|``; ReLU adds nothing.
    ``fold``: ``(coefficient of r, constant)`` by which the first layer given
    may differ from the network's own (a folded standardisation), carried
    through the later layers like the rest of the first layer's error.

    Underflow: a float32 product or cast whose result is below the normal
    range is off by up to ``eta = 2**-150`` in absolute terms (sums of floats
    are exact there), which the relative terms miss; each layer adds ``eta``
    per product, and the first ``eta * S`` for its inputs' casts. Weights or
    biases that are themselves below float32's normal range are not covered
    (:meth:`DistilledMLPClassifier._float32_layers` sends every row to the
    float64 pass then).
    """
    u = 2.0 ** -24
    eta = 2.0 ** -150

    def gamma(n: int) -> float:
        return n * u / (1.0 - n * u)

    W1, b1 = coefs[0], intercepts[0]
    v1 = np.abs(W1).max(axis=1) if W1.shape[1] else np.zeros(W1.shape[0])
    B = float(np.abs(b1).max(initial=0.0))
    # (coefficient of r, constant) pairs
    A = np.array([1.0, B])
    c1 = gamma(W1.shape[0]) * (1.0 + u) ** 2 + 2.0 * u + u * u  # input and weight casts, dot product
    S1 = float(np.abs(W1).sum(axis=0).max(initial=0.0))
    E = np.array([c1, u * B + eta * (S1 + W1.shape[0])])
    E = E + u * (A + E) + np.asarray(fold, dtype=np.float64)
    for W, b in zip(coefs[1:], intercepts[1:]):
        S = float(np.abs(W).sum(axis=0).max(initial=0.0))
        B = float(np.abs(b).max(initial=0.0))
        g = gamma(W.shape[0])
        A_next = S * A + np.array([0.0, B])
        E = S * (1.0 + u) * E + u * S * A + g * S * (1.0 + u) * (A + E) + np.array([0.0, u * B + eta * W.shape[0]])
        A = A_next
        E = E + u * (A + E)
    return v1, float(E[0]), float(E[1])


def _float32_weights(w: np.ndarray, fit_idx: np.ndarray) -> np.ndarray:
    """Row weights as float32 for the losses, which are weighted means and so ignore the weights' overall
    scale: weights whose mean over the training rows lies far from 1 are divided by it first (1e-30 each
    vanished under the losses' 1e-12 floor on a batch's weight, and 1e39 overflowed float32 to inf)."""
    w = np.asarray(w, dtype=np.float64)
    if len(fit_idx) and not w[fit_idx].any():
        raise ValueError("Every training row has weight 0 (sample_weight is 0 wherever it is not held out for "
                         "validation): nothing is left to learn from; give the rows positive weights.")
    mean = float(w[fit_idx].mean()) if len(fit_idx) else 1.0
    if mean > 0 and not 1e-3 <= mean <= 1e3:
        w = w / mean
    out = w.astype(np.float32)
    if not np.isfinite(out).all() or not out[fit_idx].any():
        raise ValueError(
            f"The row weights span too wide a range for float32 training (largest {float(w.max()):.3g} "
            f"against a mean of {float(w[fit_idx].mean()):.3g} after scaling); bring sample_weight within "
            f"a range of about 1e30."
        )
    return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
