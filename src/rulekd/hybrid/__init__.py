"""Hybrid predictors: trusted rules where they apply, the neural student elsewhere.

:class:`HybridClassifier` chooses an ordered list of rules that answers a
target share of inputs at the best accuracy, routes every other input to a
compact neural student, and enforces guards (``Implies``, ``Monotone``,
``Invariant``) on every input; :func:`verify_hybrid` proves them on the whole
composition with Z3.
"""

from ._hybrid import GuardConflictError, GuardConflictWarning, HybridClassifier
from ._verify import verify_hybrid

__all__ = ["HybridClassifier", "GuardConflictError", "GuardConflictWarning", "verify_hybrid"]


def _register_model_directory() -> None:
    """How ``rulekd.save`` / ``rulekd.load`` write and read a HybridClassifier (see ``rulekd._persist``)."""
    import numpy as np

    from .. import _persist as P
    from ..verify import parse_property

    P.register(
        HybridClassifier,
        {
            **P.COMMON_FIELDS,
            "_feature_names_": P.Value(list[str]),
            "_object_columns_": P.Value(list[str]),
            "_seed_": P.Value(int),
            "rules_": P.RULESET,
            "rule_path_": P.RULESET,
            "student_": P.ESTIMATOR,
            "base_student_": P.ESTIMATOR,
            "focus_rules_": P.RULESET,
            "guards_": P.Value(list[str], dump=lambda gs: [g.text() for g in gs],
                               load=lambda texts: tuple(parse_property(t) for t in texts)),
            "guard_grids_": P.Value(dict[str, list[float]],
                                    dump=lambda d: {k: [float(v) for v in a] for k, v in d.items() for a in [v]},
                                    load=lambda d: {k: np.asarray(v, dtype=np.float64) for k, v in d.items()}),
            "guard_combos_": P.Value(list, dump=lambda cs: [[dict(v), float(w)] for v, w in cs],
                                     load=lambda cs: [(dict(v), float(w)) for v, w in cs]),
            "guard_conflicts_": P.Value(list[dict[str, str]]),
            "transparency_": P.Value(float),
            "rule_precision_": P.Value(dict[str, float]),
            "validation_scores_": P.Value(dict[str, float | int]),
        },
        name="rulekd.HybridClassifier",
        optional=("base_student_", "focus_rules_"),  # only a fit with focus_student sets them
        skip=("_choice_", "guard_report_"),
        check=_check_hybrid,
    )


def _check_hybrid(h: "HybridClassifier") -> None:
    """A loaded hybrid as a whole: its guards name its features and classes, its students answer its classes
    over as many features (a folder whose student/ was swapped loaded, and predict failed far inside)."""
    classes = h.classes_.tolist()
    for g in h.guards_:
        g.validate(h.domain_, classes)
    for attr in ("student_", "base_student_"):
        student = getattr(h, attr, None)
        if student is None:
            continue
        if isinstance(student, HybridClassifier) or not hasattr(student, "predict_proba"):
            raise ValueError(f"{attr} must be a student, got {type(student).__name__}.")
        if list(student.classes_.tolist()) != classes:
            raise ValueError(f"{attr} answers the classes {list(student.classes_)[:10]}, the hybrid {classes[:10]}.")
        if getattr(student, "n_features_in_", h.n_features_in_) != h.n_features_in_:
            raise ValueError(f"{attr} reads {student.n_features_in_} features, the hybrid {h.n_features_in_}.")
    names = set(h.domain_.names)
    unknown = sorted(set(h.guard_grids_) - names)
    if unknown:
        raise ValueError(f"guard_grids_ names features {unknown[:5]} the Domain lacks.")
    from ..verify import Monotone

    lacking = sorted({g.feature for g in h.guards_ if isinstance(g, Monotone)} - set(h.guard_grids_))
    if lacking:  # it loaded, then predict failed: "No grid for the Monotone guard(s)"
        raise ValueError(f"guard_grids_ lacks the grid of the Monotone guard(s) on {lacking[:5]}.")
    ids = {h.rules_.rule_id(i) for i in range(len(h.rules_))}
    unknown = sorted(set(h.rule_precision_) - ids)
    if unknown:
        raise ValueError(f"rule_precision_ names rules {unknown[:5]} that rules_ lacks.")


_register_model_directory()
