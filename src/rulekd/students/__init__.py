"""Students: models distilled from a teacher.

Rule students (always available): :class:`DistilledTreeClassifier`,
:class:`DistilledRuleClassifier`. The neural student
:class:`DistilledMLPClassifier` needs ``rulekd[torch]`` to be fitted.
"""

from ._mlp import DistilledMLPClassifier  # imports torch only when fitted
from ._rules import DistilledRuleClassifier
from ._tree import DistilledTreeClassifier

__all__ = ["DistilledTreeClassifier", "DistilledRuleClassifier", "DistilledMLPClassifier"]
