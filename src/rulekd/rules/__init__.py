"""The rule IR: conditions, rules, rule lists and sets, JSON, tree importers, exports.

Every rulekd model that can be read by a person is a :class:`RuleSet`; the
verifier, the exporters and the audit report all read this one object.
"""

from ._export import EXPORT_FORMATS, export, to_python, to_sql, to_text
from ._floats import float32_le_bound, float32_lt_bound
from ._importers import from_sklearn_tree, from_xgboost_tree, xgboost_trees
from ._ir import Condition, Rule, RuleSet, merge_conjunction
from ._json import FORMAT_VERSION, schema

__all__ = [
    "Condition",
    "Rule",
    "RuleSet",
    "merge_conjunction",
    "from_sklearn_tree",
    "from_xgboost_tree",
    "xgboost_trees",
    "float32_le_bound",
    "float32_lt_bound",
    "FORMAT_VERSION",
    "schema",
    "EXPORT_FORMATS",
    "export",
    "to_python",
    "to_sql",
    "to_text",
]
