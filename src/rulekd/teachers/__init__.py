"""Teachers: one adapter over XGBoost, scikit-learn classifiers and torch modules,
and the feature knowledge they hold (leaves, contributions, hidden activations)."""

from ._adapter import (
    SklearnTeacher,
    Teacher,
    TorchTeacher,
    XGBoostTeacher,
    as_teacher,
    default_teacher,
    fit_teacher,
)
from ._features import FEATURE_KINDS, available_feature_kinds, teacher_features

__all__ = [
    "FEATURE_KINDS",
    "available_feature_kinds",
    "teacher_features",
    "Teacher",
    "SklearnTeacher",
    "XGBoostTeacher",
    "TorchTeacher",
    "as_teacher",
    "default_teacher",
    "fit_teacher",
]
