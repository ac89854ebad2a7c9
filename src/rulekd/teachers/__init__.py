"""Teachers: one adapter over XGBoost, scikit-learn classifiers and torch modules."""

from ._adapter import (
    SklearnTeacher,
    Teacher,
    TorchTeacher,
    XGBoostTeacher,
    as_teacher,
    default_teacher,
    fit_teacher,
)

__all__ = [
    "Teacher",
    "SklearnTeacher",
    "XGBoostTeacher",
    "TorchTeacher",
    "as_teacher",
    "default_teacher",
    "fit_teacher",
]
