"""Knowledge-distillation losses (torch): response, feature (hint) and relation.

Needs ``rulekd[torch]``. See :mod:`rulekd.losses._losses` for the formulas
and for how :class:`DistillationLoss` normalises the weights of the terms.
"""

from ..exceptions import require as _require

_require("torch", "torch")

from ._losses import (  # noqa: E402
    RELATION_TERMS,
    DistillationLoss,
    HintProjection,
    hint_loss,
    response_loss,
    rkd_angle_loss,
    rkd_distance_loss,
    similarity_preserving_loss,
)

__all__ = [
    "RELATION_TERMS",
    "DistillationLoss",
    "HintProjection",
    "hint_loss",
    "response_loss",
    "rkd_angle_loss",
    "rkd_distance_loss",
    "similarity_preserving_loss",
]
