"""rulekd: neuro-symbolic knowledge distillation for high-stakes tabular data.

A strong, opaque *teacher* (XGBoost by default) is distilled into readable
rules (verified with Z3) and compact neural students, and combined into hybrid
predictors. The public names are re-exported here; heavy dependencies (torch,
Z3, matplotlib) are imported only where they are used.
"""

from .domain import Domain, FeatureSpec, LinearConstraint
from .exceptions import (
    DomainError,
    MissingDependencyError,
    RuleFormatError,
    RulekdError,
    SolverTimeoutWarning,
    TeacherError,
)
from .rules import Condition, Rule, RuleSet, from_sklearn_tree, from_xgboost_tree
from .students import DistilledMLPClassifier, DistilledRuleClassifier, DistilledTreeClassifier
from .hybrid import HybridClassifier
from ._persist import load, save
from .teachers import Teacher, TorchTeacher, fit_teacher

__version__ = "0.1.0"

__all__ = [
    "Condition",
    "Domain",
    "DomainError",
    "DistilledMLPClassifier",
    "DistilledRuleClassifier",
    "DistilledTreeClassifier",
    "FeatureSpec",
    "HybridClassifier",
    "LinearConstraint",
    "MissingDependencyError",
    "Rule",
    "RuleFormatError",
    "RuleSet",
    "RulekdError",
    "SolverTimeoutWarning",
    "Teacher",
    "TeacherError",
    "TorchTeacher",
    "fit_teacher",
    "from_sklearn_tree",
    "from_xgboost_tree",
    "load",
    "save",
    "__version__",
]
