"""Public, high-stakes tabular data sets, shipped with rulekd and loaded offline.

Each loader returns a :class:`sklearn.utils.Bunch` with the same fields:
``data`` (features), ``target`` (0/1), ``frame`` (both), ``target_names``,
``feature_names``, ``categorical_features``, ``protected`` (the protected
attributes, aligned with ``data``), ``DESCR`` (source, licence, positive class
and caveats) and ``name``. :func:`load_dataset` loads one by name.
"""

from rulekd.datasets._loaders import (
    list_datasets,
    load_adult,
    load_breast_cancer,
    load_compas,
    load_dataset,
    load_german_credit,
    load_heart,
)

__all__ = [
    "list_datasets",
    "load_adult",
    "load_breast_cancer",
    "load_compas",
    "load_dataset",
    "load_german_credit",
    "load_heart",
]
