"""Small, pure helpers of the audit: JSON-safe values, metrics, grouping.

Everything here works on numpy arrays and returns plain Python values (the
audit's JSON document holds nothing else). Nothing is fitted.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .._io import json_value

__all__ = [
    "plain",
    "label",
    "safe_mean",
    "performance",
    "reliability",
    "fidelity",
    "group_values",
    "group_metrics",
    "caveats_from_description",
    "jsonable_params",
]


# -- JSON-safe values ---------------------------------------------------------------
plain = json_value  # numpy scalars to Python, NaN to None, infinities to strings (rulekd._io)


def label(v: Any) -> Any:
    """A class label or group value as a JSON scalar (``str`` for anything exotic)."""
    v = plain(v)
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def safe_mean(mask: np.ndarray) -> float | None:
    """Mean of a boolean array, ``None`` when it is empty."""
    return float(np.mean(mask)) if len(mask) else None


_Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def wilson_interval(mask: np.ndarray) -> list[float] | None:
    """The 95 % Wilson score interval of the share of ``True`` in ``mask`` (``None`` when it is empty).

    Wilson's interval stays inside [0, 1] and keeps its coverage on small
    groups and shares near 0 or 1, where the normal approximation does not.
    """
    n = len(mask)
    if not n:
        return None
    p = float(np.mean(mask))
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [max(0.0, float(centre - half)), min(1.0, float(centre + half))]


def jsonable_params(params: dict) -> dict:
    """Estimator parameters as JSON: scalars as they are, estimators and other objects as their ``repr``."""
    out = {}
    for k in sorted(params):
        v = params[k]
        if v is None or isinstance(v, (bool, int, float, str, np.generic)):
            out[str(k)] = plain(v)
        elif isinstance(v, (list, tuple)) and all(
            x is None or isinstance(x, (bool, int, float, str, np.generic)) for x in v
        ):
            out[str(k)] = plain(list(v))
        else:
            text = type(v).__name__ if hasattr(v, "get_params") else repr(v)
            out[str(k)] = text if len(text) <= 200 else text[:197] + "..."
    return out


# -- metrics ------------------------------------------------------------------------
def _equal(a: np.ndarray, b: Any) -> np.ndarray:
    """Elementwise ``a == b`` on object arrays (labels of mixed types compare as values)."""
    return np.asarray([x == b for x in a], dtype=bool) if a.dtype == object else (a == b)


def _codes(values: np.ndarray, classes: Sequence) -> np.ndarray:
    """Index of each value's class in ``classes`` (by ``==``); a value of no class gets a code of its own."""
    values = np.asarray(values, dtype=object)
    out = np.full(len(values), -1, dtype=np.int64)
    for k, c in enumerate(classes):
        out[(out < 0) & _equal(values, c)] = k
    others: dict[str, int] = {}
    for i in np.flatnonzero(out < 0):
        out[i] = len(classes) + others.setdefault(repr(values[i]), len(others))
    return out


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.fromiter((x == z for x, z in zip(a, b)), dtype=bool, count=len(a))


def _binary_auc(truth: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if truth.all() or not truth.any():
        return None
    return float(roc_auc_score(truth, score))


def performance(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: Sequence,
                *, n_bins: int = 10) -> dict:
    """Accuracy, balanced accuracy, ROC AUC, Brier score and reliability of one predictor.

    ROC AUC: binary, the score of ``classes[1]``; multiclass, the unweighted
    mean of one-vs-rest AUCs over the classes that occur both present and
    absent in ``y`` (scikit-learn's ``multi_class="ovr", average="macro"``).
    Brier: binary, the mean squared error of the probability of ``classes[1]``
    (range [0, 1]); multiclass, the mean over rows of the summed squared error
    over classes (range [0, 2], Brier's original definition).
    """
    from sklearn.metrics import balanced_accuracy_score

    correct = _same(pred, y)
    out: dict[str, Any] = {
        "n": int(len(y)),
        "accuracy": safe_mean(correct),
        "accuracy_ci": wilson_interval(correct),
        "balanced_accuracy": None,
        "roc_auc": None,
        "brier": None,
        "notes": [],
    }
    y_codes = _codes(y, classes)
    known = y_codes < len(classes)
    if not known.all():
        strange = sorted({repr(v) for v in np.asarray(y, dtype=object)[~known]})
        out["notes"].append(
            f"{int((~known).sum())} row(s) have a label the model does not know ({', '.join(strange[:5])}): they "
            f"count as wrong in the accuracy, and are left out of the balanced accuracy (a label of two rows "
            f"would weigh there as much as a class of the model).")
    if known.any():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
            # On class codes: labels compare as values (0 == 0.0), as accuracy does, not as their text.
            out["balanced_accuracy"] = float(balanced_accuracy_score(y_codes[known],
                                                                     _codes(pred, classes)[known]))
    if proba is None:
        out["notes"].append("The predictor gives no probabilities: no ROC AUC, Brier score or reliability.")
        out["reliability"] = None
        return out
    proba = np.asarray(proba, dtype=np.float64)
    onehot = np.column_stack([_equal(y, c) for c in classes]).astype(np.float64)
    if len(classes) == 2:
        truth = onehot[:, 1].astype(bool)
        out["roc_auc"] = _binary_auc(truth, proba[:, 1])
        if out["roc_auc"] is None:
            out["notes"].append("ROC AUC is undefined: the data hold a single class.")
        out["roc_auc_kind"] = "binary"
        out["brier"] = float(np.mean((proba[:, 1] - onehot[:, 1]) ** 2)) if len(y) else None
        out["brier_kind"] = "binary"
    else:
        aucs = [_binary_auc(onehot[:, k].astype(bool), proba[:, k]) for k in range(len(classes))]
        defined = [a for a in aucs if a is not None]
        out["roc_auc"] = float(np.mean(defined)) if defined else None
        out["roc_auc_kind"] = "one-vs-rest macro"
        out["roc_auc_per_class"] = [{"class": label(c), "roc_auc": a} for c, a in zip(classes, aucs)]
        if len(defined) < len(classes):
            out["notes"].append(
                f"ROC AUC averages {len(defined)} of {len(classes)} classes: the others are absent from the data.")
        out["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1))) if len(y) else None
        out["brier_kind"] = "multiclass (sum over classes, range 0 to 2)"
    out["reliability"] = reliability(y, proba, classes, n_bins=n_bins)
    return out


def reliability(y: np.ndarray, proba: np.ndarray, classes: Sequence, *, n_bins: int = 10) -> dict:
    """Reliability diagram data in ``n_bins`` equal-width bins of [0, 1].

    Binary: the predicted probability of ``classes[1]`` against the observed
    share of ``classes[1]`` (as :func:`sklearn.calibration.calibration_curve`
    with ``strategy="uniform"``). Multiclass: the top-label confidence against
    the share of rows where the top label is right. Also the expected
    calibration error (bin-size weighted mean absolute gap).
    """
    proba = np.asarray(proba, dtype=np.float64)
    if len(classes) == 2:
        score = proba[:, 1]
        hit = _equal(y, classes[1])
        kind = "binary"
        what = f"probability of {classes[1]!r}"
    else:
        top = np.argmax(proba, axis=1)
        score = proba[np.arange(len(proba)), top]
        hit = _same(np.asarray([classes[k] for k in top], dtype=object), y)
        kind = "top-label"
        what = "confidence of the top class"
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # As calibration_curve(strategy="uniform"): bin k holds edges[k] < p <= edges[k+1] (bin 0 also p == 0).
    idx = np.searchsorted(edges[1:-1], score, side="left")
    bins = []
    ece = 0.0
    for k in range(n_bins):
        m = idx == k
        n = int(m.sum())
        if n == 0:
            continue
        mp = float(np.mean(score[m]))
        fo = float(np.mean(hit[m]))
        ece += n / len(score) * abs(mp - fo)
        bins.append({"lower": float(edges[k]), "upper": float(edges[k + 1]), "count": n,
                     "mean_predicted": mp, "observed": fo})
    return {"kind": kind, "what": what, "n_bins": int(n_bins), "bins": bins,
            "ece": float(ece) if len(score) else None}


def fidelity(pred: np.ndarray, ref: np.ndarray, classes: Sequence) -> dict:
    """Agreement of ``pred`` with the teacher's ``ref``, overall and per class.

    Per class ``c``: ``where_teacher`` is the share of rows the teacher labels
    ``c`` that the model also labels ``c`` (recall against the teacher);
    ``where_model`` the share of rows the model labels ``c`` that the teacher
    labels ``c`` (precision against the teacher).
    """
    agree = _same(pred, ref)
    per_class = []
    for c in classes:
        t = _equal(ref, c)
        m = _equal(pred, c)
        per_class.append({
            "class": label(c),
            "n_teacher": int(t.sum()),
            "n_model": int(m.sum()),
            "where_teacher": safe_mean(m[t]),
            "where_model": safe_mean(t[m]),
        })
    confusion = [[int(np.sum(_equal(ref, a) & _equal(pred, b))) for b in classes] for a in classes]
    return {"n": int(len(pred)), "agreement": safe_mean(agree), "per_class": per_class,
            "confusion": confusion}


# -- protected groups ----------------------------------------------------------------
def _fmt_edge(v: float) -> str:
    return repr(int(v)) if float(v).is_integer() else repr(float(v))


def group_values(values: pd.Series, name: str, *, bins: Sequence[float] | None, n_bins: int,
                 max_levels: int) -> tuple[np.ndarray, dict]:
    """Group label per row and how the groups were made.

    Categorical, text and Boolean values, and numbers with at most
    ``max_levels`` distinct values, are their own groups. Other numbers are
    cut at ``bins`` (cut points, given by the user) or at the
    ``k / n_bins`` quantiles of the data (``numpy.quantile(method="lower")``,
    so each cut point is an observed value; repeated cut points are merged).
    Group ``"< a"`` holds ``x < a``, ``"[a, b)"`` holds ``a <= x < b``, ``">= b"``
    holds ``x >= b``. Missing values form the group ``"missing"`` (``"(missing)"``
    if a value is itself called ``"missing"``, and so on).
    """
    s = values.reset_index(drop=True)
    missing = s.isna().to_numpy()
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype) \
        and not isinstance(s.dtype, pd.CategoricalDtype)
    n_distinct = int(s.nunique(dropna=True))
    info: dict[str, Any] = {"attribute": name, "kind": "numeric" if numeric else "categorical",
                            "distinct_values": n_distinct}
    if not numeric or (bins is None and n_distinct <= max_levels):
        info["binned"] = False
        info["method"] = "each value is a group"
        groups = np.empty(len(s), dtype=object)
        groups[:] = [None if m else label(v) for v, m in zip(s.tolist(), missing)]
        present = [g for g, m in zip(groups, missing) if not m]
        absent = _missing_name(present)
        groups[missing] = absent
        if isinstance(s.dtype, pd.CategoricalDtype):
            order = [label(c) for c in s.cat.categories]
        else:
            order = sorted(set((type(g), g) for g in present), key=lambda tg: (tg[0].__name__, tg[1]))
            order = [g for _, g in order]
        info["order"] = [g for g in order if any(same_group(gg, g) for gg in present)] + (
            [absent] if missing.any() else [])
        if missing.any():
            info["missing_group"] = absent
        return groups, info
    x = s.to_numpy(dtype=np.float64, na_value=np.nan)
    if bins is not None:
        cuts = sorted({float(b) for b in bins})
        info["method"] = "user cut points"
    else:
        qs = np.quantile(x[~missing], np.arange(1, n_bins) / n_bins, method="lower") if (~missing).any() else []
        cuts = sorted({float(q) for q in qs})
        lo = float(np.min(x[~missing])) if (~missing).any() else None
        cuts = [c for c in cuts if lo is None or c > lo]  # a cut at the minimum makes an empty first group
        info["method"] = f"quantiles (n_bins={n_bins}, numpy.quantile method='lower')"
    info["binned"] = True
    info["cut_points"] = [plain(c) for c in cuts]
    names = []
    if not cuts:
        names = ["all"]
    else:
        names.append(f"< {_fmt_edge(cuts[0])}")
        for a, b in zip(cuts[:-1], cuts[1:]):
            names.append(f"[{_fmt_edge(a)}, {_fmt_edge(b)})")
        names.append(f">= {_fmt_edge(cuts[-1])}")
    k = np.searchsorted(np.asarray(cuts, dtype=np.float64), np.where(missing, 0.0, x), side="right")
    groups = np.empty(len(s), dtype=object)
    groups[:] = [names[i] for i in k]
    absent = _missing_name(names)
    groups[missing] = absent
    present = set(groups.tolist())
    info["order"] = [g for g in names if g in present] + ([absent] if missing.any() else [])
    if missing.any():
        info["missing_group"] = absent
    return groups, info


def _missing_name(taken: Sequence) -> str:
    """``"missing"``, in parentheses as often as needed to differ from every group in ``taken``."""
    name = "missing"
    while any(same_group(name, g) for g in taken):
        name = f"({name})"
    return name


def same_group(a: Any, b: Any) -> bool:
    """Group labels are the same value of the same type (1, 1.0 and True are three groups)."""
    return type(a) is type(b) and a == b


def group_metrics(groups: np.ndarray, order: Sequence, y: np.ndarray, pred: np.ndarray, positive: Any,
                  *, min_group_size: int) -> dict:
    """Selection rate, TPR, FPR and accuracy per group for one positive class, and the largest gaps.

    Selection rate: share of the group predicted ``positive``. TPR: of the
    group's rows whose label is ``positive``, the share predicted
    ``positive`` (``None`` without such rows). FPR: the same over the other
    rows. A gap is the largest minus the smallest value over the groups where
    the metric is defined; small groups (fewer than ``min_group_size`` rows)
    are included and flagged.
    """
    is_pos = _equal(y, positive)
    says_pos = _equal(pred, positive)
    correct = _same(pred, y)
    rows = []
    n_all = len(y)
    for g in order:
        m = np.asarray([same_group(gg, g) for gg in groups], dtype=bool)
        n = int(m.sum())
        rows.append({
            "group": label(g),
            "n": n,
            "share": n / n_all if n_all else None,
            "n_positive": int((m & is_pos).sum()),
            "selection_rate": safe_mean(says_pos[m]),
            "tpr": safe_mean(says_pos[m & is_pos]),
            "fpr": safe_mean(says_pos[m & ~is_pos]),
            "accuracy": safe_mean(correct[m]),
            # 95 % Wilson intervals: how far a small group's figures can be from the group's own rates
            "selection_rate_ci": wilson_interval(says_pos[m]),
            "tpr_ci": wilson_interval(says_pos[m & is_pos]),
            "fpr_ci": wilson_interval(says_pos[m & ~is_pos]),
            "accuracy_ci": wilson_interval(correct[m]),
            "small": n < min_group_size,
        })
    gaps = {}
    for metric in ("selection_rate", "tpr", "fpr", "accuracy"):
        vals = [(r[metric], r["group"]) for r in rows if r[metric] is not None]
        if len(vals) < 2:
            gaps[metric] = {"gap": None, "max_group": None, "min_group": None}
            continue
        hi = max(vals, key=lambda t: t[0])
        lo = min(vals, key=lambda t: t[0])
        gaps[metric] = {"gap": hi[0] - lo[0], "max_group": hi[1], "min_group": lo[1],
                        "max": hi[0], "min": lo[0]}
    def ratio_of(rs: list[dict]) -> float | None:
        sel = [r["selection_rate"] for r in rs if r["selection_rate"] is not None]
        return (min(sel) / max(sel)) if len(sel) >= 2 and max(sel) > 0 else None

    # The ratio over every group is often 0 because of a group of one or two rows; the ratio over the
    # groups that are not small is the figure a reviewer compares with the four-fifths rule.
    return {"positive_class": label(positive), "groups": rows, "gaps": gaps, "selection_rate_ratio": ratio_of(rows),
            "selection_rate_ratio_large_groups": ratio_of([r for r in rows if not r["small"]])}


# -- data set description --------------------------------------------------------------
_BULLET = re.compile(r"^\s*[-*]\s+")


def caveats_from_description(text: str | None) -> list[str]:
    """The bullet points under a ``Caveats:`` heading of a data set's ``DESCR``, one string each."""
    if not text:
        return []
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if line.strip().lower().rstrip(":") == "caveats":
            start = i + 1
            break
    if start is None:
        return []
    items: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            if items:
                break
            continue
        if _BULLET.match(line):
            items.append(_BULLET.sub("", line).strip())
        elif items and line[:1].isspace():
            items[-1] += " " + line.strip()
        else:
            break
    return items


def as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (str, bytes)):
        return [x]
    if isinstance(x, Iterable):
        return list(x)
    return [x]
