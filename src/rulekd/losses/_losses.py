"""Knowledge-distillation losses in torch: response, feature (hint) and relation.

Every function takes a batch of student outputs and the matching teacher
outputs and returns a scalar tensor that gradients flow through (teacher
tensors are treated as constants). Student logits may be ``(n,)`` or ``(n, 1)``
for a binary problem (one logit for the positive class) or ``(n, k)``;
teacher logits likewise. Per-row weights, where accepted, make the loss a
weighted mean over rows.

Raw scales differ by orders of magnitude (a similarity-preserving loss is
typically ~1e-3, a hint MSE ~1, a KL at ``T=4`` ~0.1-10), so
:class:`DistillationLoss` combines them with weights that are *normalised*:
the response term carries Hinton's ``T**2`` factor, which keeps its gradients
on the scale of a cross-entropy whatever the temperature, and every feature
and relation term is divided by its own value on the untrained student
(measured once, before the first update, by :meth:`DistillationLoss.calibrate`),
so it starts at 1, the scale of a cross-entropy at initialisation. A weight of
1.0 then means "as much as the hard labels", on every data set.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "response_loss",
    "hint_loss",
    "HintProjection",
    "rkd_distance_loss",
    "rkd_angle_loss",
    "similarity_preserving_loss",
    "DistillationLoss",
]

_EPS = 1e-12


def _check_temperature(temperature: Any) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
            or not (0 < temperature < math.inf):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}.")


def _as_two_column(logits: torch.Tensor) -> torch.Tensor:
    """``(n,)`` / ``(n, 1)`` binary logits -> ``(n, 2)`` as ``[0, z]``; ``(n, k)`` unchanged."""
    if logits.ndim == 1:
        logits = logits.unsqueeze(1)
    if logits.ndim != 2:
        raise ValueError(f"Logits must have shape (n,), (n, 1) or (n, k); got {tuple(logits.shape)}.")
    if logits.shape[1] == 1:
        return torch.cat([torch.zeros_like(logits), logits], dim=1)
    return logits


def _weighted_mean(per_row: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    if weight is None:
        return per_row.mean()
    weight = weight.to(per_row.dtype).reshape(-1)
    if weight.shape[0] != per_row.shape[0]:
        raise ValueError(f"weight has {weight.shape[0]} entries for a batch of {per_row.shape[0]} rows.")
    return (per_row * weight).sum() / weight.sum().clamp_min(_EPS)


# Temperatures above which the response loss is computed in float64 (float32 kept it within 1.5e-7 of
# float64 up to T = 100, 1e-4 at T = 1,000).
_FLOAT64_TEMPERATURE = 100.0


def response_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 4.0,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinton's response loss: ``T**2 * KL(softmax(t / T) || softmax(s / T))``.

    Parameters
    ----------
    student_logits : Tensor of shape (n,), (n, 1) or (n, k)
    teacher_logits : Tensor of shape (n,), (n, 1) or (n, k)
        A single column is the logit of the positive class, i.e. ``[0, z]``.
    temperature : float, default=4.0
        ``T > 0``. The ``T**2`` factor keeps the gradient magnitude independent
        of ``T`` (Hinton et al., 2015).
    weight : Tensor of shape (n,), optional
        Row weights (weighted mean over rows); default the plain mean.

    Returns
    -------
    Tensor
        A scalar: the batch mean of the per-row KL divergence times ``T**2``.

    Examples
    --------
    >>> s = torch.tensor([[0.0, 0.0]]); t = torch.tensor([[0.0, math.log(3.0)]])
    >>> round(float(response_loss(s, t, temperature=1.0)), 6)  # KL([.25,.75] || [.5,.5])
    0.130812
    """
    _check_temperature(temperature)
    s = _as_two_column(student_logits)
    t = _as_two_column(teacher_logits).detach().to(s.dtype)
    if s.shape != t.shape:
        raise ValueError(f"Student logits {tuple(s.shape)} and teacher logits {tuple(t.shape)} do not match.")
    # A teacher probability of exactly 0 or 1 (a logit of -inf / +inf, e.g. log(0)): the largest finite
    # logit instead, and 0 * log 0 = 0 (0 * -inf was nan).
    big = torch.finfo(t.dtype).max
    t = torch.nan_to_num(t, nan=float("nan"), posinf=big, neginf=-big)
    # At a high temperature the two log-softmaxes nearly cancel, and T**2 magnifies what is left: in float32
    # the loss was 9 % off at T = 1e4 and negative at 1e5. Above _FLOAT64_TEMPERATURE it is computed in float64.
    dtype = s.dtype
    if temperature > _FLOAT64_TEMPERATURE:
        s, t = s.double(), t.double()
        weight = None if weight is None else weight.double()
    log_q = F.log_softmax(s / temperature, dim=1)
    log_p = F.log_softmax(t / temperature, dim=1)
    p = log_p.exp()
    per_row = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p)).sum(dim=1)
    return (_weighted_mean(per_row, weight) * float(temperature) ** 2).to(dtype)


class HintProjection(nn.Module):
    """FitNets' regressor: a learned linear map from a student layer to the teacher's space.

    Parameters
    ----------
    in_features : int
        Width of the student layer that receives the hint.
    out_features : int
        Width of the teacher representation.
    generator : torch.Generator, optional
        Source of the initial weights (default: PyTorch's global one).
    """

    def __init__(self, in_features: int, out_features: int, generator: torch.Generator | None = None):
        super().__init__()
        # skip_init: no draw from PyTorch's global generator; weights come from ``generator``.
        self.linear = torch.nn.utils.skip_init(nn.Linear, in_features, out_features)
        bound = 1.0 / math.sqrt(max(in_features, 1))
        with torch.no_grad():
            nn.init.uniform_(self.linear.weight, -bound, bound, generator=generator)
            nn.init.uniform_(self.linear.bias, -bound, bound, generator=generator)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear(h)


def hint_loss(
    student_hidden: torch.Tensor,
    teacher_features: torch.Tensor,
    projection: nn.Module | None = None,
    kind: str = "mse",
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """FitNets hint loss between a projected student layer and a teacher representation.

    Parameters
    ----------
    student_hidden : Tensor of shape (n, h)
    teacher_features : Tensor of shape (n, m)
    projection : nn.Module, optional
        Maps ``(n, h)`` to ``(n, m)`` (a :class:`HintProjection`). ``None``
        requires ``h == m``.
    kind : {"mse", "cosine"}, default="mse"
        ``"mse"``: mean over rows of the mean squared error over the ``m``
        dimensions. ``"cosine"``: mean over rows of ``1 - cos(proj(h), t)``.
    weight : Tensor of shape (n,), optional
        Row weights.

    Examples
    --------
    >>> h = torch.tensor([[1.0, 0.0]]); t = torch.tensor([[0.0, 2.0]])
    >>> float(hint_loss(h, t)), float(hint_loss(h, t, kind="cosine"))
    (2.5, 1.0)
    """
    z = student_hidden if projection is None else projection(student_hidden)
    t = teacher_features.detach().to(z.dtype)
    if z.shape != t.shape:
        raise ValueError(
            f"The projected student layer has shape {tuple(z.shape)} but the teacher representation "
            f"{tuple(t.shape)}; pass a projection to the teacher's width."
        )
    if kind == "mse":
        per_row = ((z - t) ** 2).mean(dim=1)
    elif kind == "cosine":
        per_row = 1.0 - F.cosine_similarity(z, t, dim=1, eps=1e-8)
    else:
        raise ValueError(f"kind must be 'mse' or 'cosine', got {kind!r}.")
    return _weighted_mean(per_row, weight)


def _pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``(n, n)`` with an exact zero diagonal and finite gradients."""
    x = x.reshape(x.shape[0], -1)
    diff = x.unsqueeze(1) - x.unsqueeze(0)
    sq = (diff * diff).sum(dim=2)
    d = sq.clamp_min(_EPS).sqrt()
    eye = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
    return d.masked_fill(eye, 0.0)


def _mean_distance(d: torch.Tensor) -> torch.Tensor:
    """Park et al.'s normaliser: the mean distance over all pairs of two rows (``i != j``), identical rows
    included (they were left out, so a batch with repeated rows was scaled by a larger mean, and a student
    equal to the teacher up to a small jitter scored far from 0)."""
    n = d.shape[0]
    if n < 2:
        return d.new_tensor(1.0)
    return d.sum() / (n * (n - 1))  # the diagonal is exactly 0


def _normalised_distances(x: torch.Tensor) -> torch.Tensor:
    d = _pairwise_distances(x)
    return d / _mean_distance(d).clamp_min(_EPS)


def rkd_distance_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD distance loss (Park et al., 2019).

    Pairwise Euclidean distances within the batch, each set divided by its
    mean over all pairs of two rows (``i != j``, identical rows included, as
    Park et al. define it), compared with the Huber (smooth L1,
    ``beta=1``) loss, averaged over all ``n * n`` ordered pairs (the diagonal
    contributes zero).

    Parameters
    ----------
    student : Tensor of shape (n, h)
    teacher : Tensor of shape (n, m)
        Widths may differ: only distances are compared.

    Examples
    --------
    >>> s = torch.tensor([[0.0], [1.0], [3.0]]); t = torch.tensor([[0.0], [2.0], [4.0]])
    >>> round(float(rkd_distance_loss(s, t)), 6)
    0.013889
    """
    return _huber_between(student, teacher, _normalised_distances)


def _huber_between(student: torch.Tensor, teacher: torch.Tensor, relation: Any) -> torch.Tensor:
    """Huber loss between ``relation(student)`` and ``relation(teacher)`` (teacher side without gradient)."""
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"The student batch has {student.shape[0]} rows and the teacher's {teacher.shape[0]}.")
    with torch.no_grad():
        t = relation(teacher.detach().to(student.dtype))
    return F.smooth_l1_loss(relation(student), t, reduction="mean")


def _angles(x: torch.Tensor) -> torch.Tensor:
    x = x.reshape(x.shape[0], -1)
    diff = x.unsqueeze(0) - x.unsqueeze(1)  # diff[i, j] = x_j - x_i
    norm = diff.norm(dim=2, keepdim=True)
    unit = diff / norm.clamp_min(1e-8)
    unit = torch.where(norm > 1e-8, unit, torch.zeros_like(unit))
    return torch.bmm(unit, unit.transpose(1, 2))  # [i, j, k] = cos of the angle j-i-k


def rkd_angle_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """RKD angle loss (Park et al., 2019).

    For every triple ``(i, j, k)`` of the batch, the cosine of the angle at
    ``x_i`` between ``x_j - x_i`` and ``x_k - x_i`` (zero when two rows
    coincide), student against teacher with the Huber loss, averaged over all
    ``n**3`` triples. Memory is ``O(n**3)``: call it on a sub-batch.

    Examples
    --------
    >>> s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> t = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    >>> round(float(rkd_angle_loss(s, t)), 6)
    0.037037
    """
    return _huber_between(student, teacher, _angles)


def similarity_preserving_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Similarity-preserving loss (Tung & Mori, 2019).

    ``G = A A^T`` over the batch, each row of ``G`` scaled to unit L2 norm,
    then ``||G_s - G_t||_F^2 / n**2``.

    Examples
    --------
    >>> s = torch.tensor([[1.0, 0.0], [0.0, 1.0]]); t = torch.tensor([[1.0], [1.0]])
    >>> round(float(similarity_preserving_loss(s, t)), 6)  # rows [1,0],[0,1] vs [.7071,.7071]
    0.292893
    """
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(f"The student batch has {student.shape[0]} rows and the teacher's {teacher.shape[0]}.")
    n = student.shape[0]
    a_s = student.reshape(n, -1)
    with torch.no_grad():
        a_t = teacher.detach().to(a_s.dtype).reshape(n, -1)
        g_t = F.normalize(a_t @ a_t.T, p=2, dim=1)
    g_s = F.normalize(a_s @ a_s.T, p=2, dim=1)
    return ((g_s - g_t) ** 2).sum() / float(n * n)


RELATION_TERMS = ("distance", "angle", "similarity")


def _geometry(x: torch.Tensor, terms: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Normalised distances, angle cosines and normalised Gram matrix, sharing the pairwise differences."""
    x = x.reshape(x.shape[0], -1)
    out: dict[str, torch.Tensor] = {}
    if "distance" in terms or "angle" in terms:
        diff = x.unsqueeze(0) - x.unsqueeze(1)  # diff[i, j] = x_j - x_i
        sq = (diff * diff).sum(dim=2)
        norm = sq.clamp_min(_EPS).sqrt()
        eye = torch.eye(x.shape[0], dtype=torch.bool, device=x.device)
        if "distance" in terms:
            d = norm.masked_fill(eye, 0.0)
            out["distance"] = d / _mean_distance(d).clamp_min(_EPS)
        if "angle" in terms:
            # The true length where the pair counts (as _angles: length > 1e-8). norm is that length
            # above sqrt(_EPS) = 1e-6 (and is used there: the same arithmetic, bit for bit, as before this
            # fix); below, sq's own root, with 1 where the pair does not count, so that no gradient goes
            # through a square root at 0.
            far = sq > 1e-16
            length = torch.where(sq > _EPS, norm, torch.where(far, sq, torch.ones_like(sq)).sqrt())
            unit = torch.where(far.unsqueeze(2), diff / length.unsqueeze(2), torch.zeros_like(diff))
            out["angle"] = torch.bmm(unit, unit.transpose(1, 2))
    if "similarity" in terms:
        out["similarity"] = F.normalize(x @ x.T, p=2, dim=1)
    return out


def _relation_terms(student: torch.Tensor, teacher: torch.Tensor, terms: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The relation losses named in ``terms`` for one batch (same values as the functions above)."""
    with torch.no_grad():
        gt = _geometry(teacher.detach().to(student.dtype), terms)
    gs = _geometry(student, terms)
    out = {}
    for key in terms:
        if key == "similarity":
            out[key] = ((gs[key] - gt[key]) ** 2).sum() / float(student.shape[0] ** 2)
        else:
            out[key] = F.smooth_l1_loss(gs[key], gt[key], reduction="mean")
    return out


class DistillationLoss(nn.Module):
    """Label, response, hint and relation terms with normalised weights.

    ``total = label_weight * CE(hard labels)
    + response_weight * T**2 KL
    + feature_weight * hint / scale_hint
    + relation_weight * mean(distance / scale_d, angle / scale_a, similarity / scale_sp)``

    The scales are the values of each raw term on the untrained student,
    measured by :meth:`calibrate` before training (a term whose scale is zero
    carries no signal and is dropped). Before calibration they are 1.

    Parameters
    ----------
    temperature : float, default=4.0
    label_weight, response_weight, feature_weight, relation_weight : float
        Weight of each term; 0 switches a term off.
    hint_kind : {"mse", "cosine"}, default="mse"
    projection : nn.Module, optional
        The hint's learned projection (its parameters train with the student).
    relation_terms : tuple of str, default=("distance", "angle", "similarity")
    relation_batch_size : int, default=32
        Relation losses are computed on the first ``relation_batch_size`` rows
        of each (shuffled) batch; the angle loss costs ``O(n**3)`` (32 rows:
        32,768 angles, enough signal at a fraction of the cost).
    """

    def __init__(
        self,
        *,
        temperature: float = 4.0,
        label_weight: float = 1.0,
        response_weight: float = 1.0,
        feature_weight: float = 0.0,
        relation_weight: float = 0.0,
        hint_kind: str = "mse",
        projection: nn.Module | None = None,
        relation_terms: tuple[str, ...] = RELATION_TERMS,
        relation_batch_size: int = 32,
    ):
        super().__init__()
        _check_temperature(temperature)
        for name, w in (("label_weight", label_weight), ("response_weight", response_weight),
                        ("feature_weight", feature_weight), ("relation_weight", relation_weight)):
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not (0 <= w < math.inf):
                raise ValueError(f"{name} must be a finite number >= 0, got {w!r}.")
        if hint_kind not in ("mse", "cosine"):
            raise ValueError(f"hint_kind must be 'mse' or 'cosine', got {hint_kind!r}.")
        if isinstance(relation_batch_size, bool) or not isinstance(relation_batch_size, numbers.Integral) \
                or relation_batch_size < 3:
            raise ValueError(f"relation_batch_size must be an int >= 3 (the angle term needs three rows), "
                             f"got {relation_batch_size!r}.")
        unknown = sorted(set(relation_terms) - set(RELATION_TERMS))
        if unknown:
            raise ValueError(f"Unknown relation terms {unknown}; choose from {RELATION_TERMS}.")
        self.temperature = float(temperature)
        self.label_weight = float(label_weight)
        self.response_weight = float(response_weight)
        self.feature_weight = float(feature_weight)
        self.relation_weight = float(relation_weight)
        self.hint_kind = hint_kind
        self.projection = projection
        self.relation_terms = tuple(relation_terms)
        self.relation_batch_size = int(relation_batch_size)
        self.scales: dict[str, float] = {}
        self.initial_values: dict[str, float] = {}

    def raw_terms(
        self,
        student_logits: torch.Tensor,
        student_hidden: torch.Tensor | None,
        *,
        hard_labels: torch.Tensor | None = None,
        teacher_logits: torch.Tensor | None = None,
        teacher_features: torch.Tensor | None = None,
        weight: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Each active term before weighting and normalisation.

        ``hard_labels`` may hold -1 for rows without a hard label (the label
        term is then the mean over the other rows, and absent if none has one).
        """
        out: dict[str, torch.Tensor] = {}
        if self.label_weight > 0 and hard_labels is not None:
            valid = hard_labels >= 0  # a negative label: this row has no hard label
            if bool(valid.all()):
                z = _as_two_column(student_logits)
                out["label"] = _weighted_mean(F.cross_entropy(z, hard_labels, reduction="none"), weight)
            elif bool(valid.any()):
                z = _as_two_column(student_logits)[valid]
                w = None if weight is None else weight.reshape(-1)[valid]
                out["label"] = _weighted_mean(F.cross_entropy(z, hard_labels[valid], reduction="none"), w)
        if self.response_weight > 0 and teacher_logits is not None:
            out["response"] = response_loss(student_logits, teacher_logits, self.temperature, weight)
        if self.feature_weight > 0 and teacher_features is not None and student_hidden is not None:
            out["hint"] = hint_loss(student_hidden, teacher_features, self.projection, self.hint_kind, weight)
        if self.relation_weight > 0 and teacher_features is not None and student_hidden is not None:
            m = min(self.relation_batch_size, student_hidden.shape[0])
            if m >= 3:
                out.update(_relation_terms(student_hidden[:m], teacher_features[:m], self.relation_terms))
        return out

    def calibrate(self, raw_batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
        """Set each feature / relation term's scale to its mean over ``raw_batches``.

        ``raw_batches`` are :meth:`raw_terms` of the untrained student. The
        mean of every term (label and response included) is kept in
        ``initial_values`` for diagnostics.
        """
        means: dict[str, float] = {}
        for key in ("label", "response", "hint") + RELATION_TERMS:
            vals = [float(b[key].detach()) for b in raw_batches if key in b]
            if vals:
                means[key] = float(sum(vals) / len(vals))
        self.initial_values = means
        self.scales = {k: v for k, v in means.items() if k not in ("label", "response")}
        return self.scales

    def combine(self, raw: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted, normalised total and the per-kind contributions (floats, for logging).

        The contributions are keyed ``label``, ``response``, ``feature`` and
        ``relation``.
        """
        parts: dict[str, torch.Tensor] = {}
        if "label" in raw:
            parts["label"] = self.label_weight * raw["label"]
        if "response" in raw:
            parts["response"] = self.response_weight * raw["response"]
        hint = self._normalised("hint", raw["hint"]) if "hint" in raw else None
        if hint is not None:
            parts["feature"] = self.feature_weight * hint
        rel = [self._normalised(k, raw[k]) for k in RELATION_TERMS if k in raw]
        rel = [r for r in rel if r is not None]
        if rel:
            parts["relation"] = self.relation_weight * torch.stack(rel).mean()
        if not parts:
            raise ValueError("No loss term is active: every weight is 0, or a term lacks its inputs (hard labels, "
                             "teacher logits or features; the relation terms need a batch of at least 3 rows).")
        total = torch.stack(list(parts.values())).sum()
        return total, {k: float(v.detach()) for k, v in parts.items()}

    def _normalised(self, key: str, value: torch.Tensor) -> torch.Tensor | None:
        scale = self.scales.get(key, 1.0)
        if not scale > 1e-12:
            return None
        return value / scale

    def forward(self, student_logits: torch.Tensor, student_hidden: torch.Tensor | None = None, **kw: Any) -> torch.Tensor:
        total, _ = self.combine(self.raw_terms(student_logits, student_hidden, **kw))
        return total
