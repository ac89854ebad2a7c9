"""Students: models distilled from a teacher.

Rule students (always available): :class:`DistilledTreeClassifier`,
:class:`DistilledRuleClassifier`. The neural student needs ``rulekd[torch]``.
"""

from ._rules import DistilledRuleClassifier
from ._tree import DistilledTreeClassifier

__all__ = ["DistilledTreeClassifier", "DistilledRuleClassifier"]
