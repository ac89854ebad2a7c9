"""Synthetic rows near the data, inside its :class:`~rulekd.Domain`, labelled by the teacher.

A student distilled on the training rows alone sees the teacher only where the
data is; synthetic rows let it query the teacher around them (TREPAN, MUNGE and
FAST-DAD do the same). Three strategies:

* ``"marginal"``: every feature drawn independently from its empirical
  marginal (missing values included). Covers the box, ignores correlations.
* ``"perturb"``: a real row, with each feature, with probability ``p_swap``,
  replaced by a value from its marginal, and numeric features jittered by
  Gaussian noise (``noise`` times the feature's spread). Stays near the data.
  Strongly correlated numeric features (|Spearman| >= 0.8 on the real rows,
  joined transitively) are swapped together, from one donor row, as the
  columns of a one-hot group are: swapped one by one they would give rows no
  real row resembles (a tumour's radius from one row, its area from another).
* ``"mixed"``: half of each.

Every synthetic value is clipped, rounded and levelled into the Domain, so the
sampler never leaves it. With ``missing_rate`` (a user's declared Domain), a
share of the synthetic rows get a missing value in each feature the Domain lets
be missing and the real rows never leave missing.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

from ..domain import Domain
from ..exceptions import DomainError, TeacherError

__all__ = ["TransferSet", "make_transfer_set", "sample_synthetic", "STRATEGIES"]

STRATEGIES = ("marginal", "perturb", "mixed")


@dataclass
class TransferSet:
    """Rows the students learn from.

    Attributes
    ----------
    X : DataFrame
        Real rows first, then synthetic rows.
    proba : ndarray of shape (n, n_classes)
        The teacher's probabilities (temperature 1).
    logits : ndarray of shape (n, n_classes)
        The teacher's logits.
    is_synthetic : ndarray of bool
    """

    X: pd.DataFrame
    proba: np.ndarray
    logits: np.ndarray
    is_synthetic: np.ndarray

    @property
    def labels_index(self) -> np.ndarray:
        """Index of the teacher's class per row."""
        return np.argmax(self.logits, axis=1)

    def __len__(self) -> int:
        return len(self.X)


def sample_synthetic(
    X: pd.DataFrame,
    n_samples: int,
    *,
    strategy: str = "perturb",
    domain: Domain | None = None,
    random_state: Any = None,
    p_swap: float = 0.3,
    noise: float = 0.1,
    missing_rate: float = 0.0,
    unseen_level_rate: float = 0.0,
    row_weight: Any = None,
) -> pd.DataFrame:
    """Draw ``n_samples`` synthetic rows like ``X`` (see the module docstring).

    ``missing_rate``: the share of synthetic rows given a missing value in each feature the Domain lets be
    missing but ``X`` never leaves missing (the students pass ``DECLARED_MISSING_RATE`` for a user's
    ``domain=``, so that the rules learn the teacher's answer there; 0 keeps ``X``'s missing values only).
    ``unseen_level_rate``: likewise, the share given a level the Domain lists but ``X`` never holds, in
    each categorical feature (the students pass ``DECLARED_MISSING_RATE`` in every fit).
    ``row_weight``: one non-negative weight per row of ``X`` (a student's ``sample_weight``); synthetic
    rows start from, and take values of, real rows drawn in proportion to it, so a row of weight 0
    shapes none of them. ``None`` or equal weights draw every row alike.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": pd.Categorical(list("xyxy"))})
    >>> S = sample_synthetic(X, 10, random_state=0)
    >>> S.shape, bool(Domain.from_data(X).contains(S).all())
    ((10, 2), True)
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, numbers.Integral) or n_samples < 0:
        raise ValueError(f"n_samples must be a whole number >= 0, got {n_samples!r}.")
    n_samples = int(n_samples)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not 0.0 <= noise < math.inf:
        raise ValueError(f"noise must be a finite number >= 0 (the jitter's share of a feature's spread), got {noise!r}.")
    if isinstance(p_swap, bool) or not isinstance(p_swap, numbers.Real) or not 0.0 <= p_swap <= 1.0:
        raise ValueError(f"p_swap must be a number in [0, 1], got {p_swap!r}.")
    if len(X) == 0:
        raise ValueError("Cannot sample synthetic rows from an empty table.")
    for rate_name, rate in (("missing_rate", missing_rate), ("unseen_level_rate", unseen_level_rate)):
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"{rate_name} must be a number in [0, 1], got {rate!r}.")
    p_row = _row_probabilities(row_weight, len(X))
    rng = np.random.default_rng(random_state)
    X = X.copy(deep=False)
    X.columns = [str(c) for c in X.columns]  # the Domain names columns by str
    domain = domain if domain is not None else Domain.from_data(X)
    absent = [n for n in domain.names if n not in X.columns]
    if absent:
        raise ValueError(f"X lacks the Domain features {absent[:10]}.")
    if strategy == "mixed":
        k = n_samples // 2
        a = sample_synthetic(X, k, strategy="marginal", domain=domain, random_state=rng, missing_rate=missing_rate,
                             unseen_level_rate=unseen_level_rate, row_weight=row_weight)
        b = sample_synthetic(X, n_samples - k, strategy="perturb", domain=domain, random_state=rng,
                             p_swap=p_swap, noise=noise, missing_rate=missing_rate,
                             unseen_level_rate=unseen_level_rate, row_weight=row_weight)
        return pd.concat([a, b], ignore_index=True)
    # Rows that still break a one-hot group or a linear constraint of the Domain
    # (the data itself may) are drawn again; what is left comes from Domain.sample.
    groups = list(domain.onehot_groups)
    # The features of an equality constraint (shares that sum to 1) come together from one real row,
    # unjittered: a row that satisfies it keeps satisfying it (rejection alone would almost never).
    tied = [[n for n, _ in c.coefficients] for c in domain.constraints if c.op == "=="]
    groups += [g for g in tied if len(g) > 1]
    if strategy == "perturb":
        groups += correlated_groups(X, domain)
    groups = _merged(groups, domain.names)
    parts = []
    need = n_samples
    drawn = kept = 0
    for _ in range(20):
        # The first round draws what is asked; later ones as many more as the share kept so far needs
        # (drawing only what was missing, a Domain that keeps a tenth of the rows was never filled).
        size = need if not drawn else min(int(math.ceil(1.2 * need * drawn / max(kept, 1))), 50 * n_samples + 100)
        block = _draw(X, domain, size, strategy, rng, p_swap, noise, groups, {n for g in tied for n in g},
                      missing_rate, unseen_level_rate, p_row)
        drawn += len(block)
        block = block[domain.contains(block)] if len(block) else block
        kept += len(block)
        parts.append(block.iloc[:need])
        need -= len(parts[-1])
        if need <= 0:
            break
    if need > 0:
        # What the data's rows cannot give (they break the Domain's constraints almost always): uniform rows.
        try:
            parts.append(domain.sample(need, rng))
        except DomainError as exc:
            raise DomainError(
                f"Could not draw {n_samples} synthetic rows inside the Domain: {kept} of {drawn} rows drawn from "
                f"the data met its one-hot groups and constraints, and {exc}") from None
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)


def _merged(groups: list[list[str]], names: Sequence[str]) -> list[list[str]]:
    """Groups that share a feature joined into one (connected components, as ``correlated_groups``), each in
    ``names``' order: tying each group's members to its first in turn undid an earlier tie (p + q == 1 and
    q + r == 1: p kept q's old donor row)."""
    if not groups:
        return []
    index = {n: i for i, n in enumerate(names)}
    linked = np.zeros((len(names), len(names)), dtype=bool)
    for g in groups:
        for m in g[1:]:
            linked[index[g[0]], index[m]] = True
    _, label = connected_components(linked, directed=False)
    members: dict[int, list[str]] = {}
    for n in sorted({n for g in groups for n in g}, key=index.__getitem__):
        members.setdefault(int(label[index[n]]), []).append(n)
    return [m for m in members.values() if len(m) > 1]


# Numeric features this correlated (absolute Spearman on the real rows) are swapped together.
# Of the bundled data sets only breast cancer has such features (groups of 15, 3 and 2 of its
# 30); its rule student's median fidelity at 16 rules went from 0.974 to 0.982 (0.974 with
# 0.9, groups of 6, 6, 3 and 2), the other data sets' transfer sets are unchanged.
_CORRELATED = 0.8
# At most this many (evenly spaced) rows enter the correlations.
_CORRELATION_ROWS = 20_000


def correlated_groups(X: pd.DataFrame, domain: Domain, threshold: float = _CORRELATED) -> list[list[str]]:
    """Groups of real or integer features joined by |Spearman correlation| >= ``threshold``.

    Groups are the connected components of that relation with two members or
    more, each in the Domain's feature order. Correlations are computed over
    the rows where both values are present (every k-th row where there are
    more than ``_CORRELATION_ROWS``); a constant column joins nothing.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [2.0, 4, 6, 9], "c": [4.0, 1, 3, 2]})
    >>> correlated_groups(X, Domain.from_data(X))
    [['a', 'b']]
    """
    names = [s.name for s in domain.features if s.kind in ("real", "integer") and s.name in X.columns]
    if len(names) < 2:
        return []
    rows = X[names].iloc[:: max(1, -(-len(X) // _CORRELATION_ROWS))]  # cost: features² × rows
    with np.errstate(invalid="ignore", divide="ignore"):
        C = rows.apply(pd.to_numeric, errors="coerce").corr(method="spearman").abs().to_numpy()
    linked = np.nan_to_num(C, nan=0.0) >= threshold
    _, label = connected_components(linked, directed=False)
    members: dict[int, list[str]] = {}
    for name, k in zip(names, label.tolist()):
        members.setdefault(k, []).append(name)
    return [m for m in members.values() if len(m) > 1]


def _draw(
    X: pd.DataFrame, domain: Domain, n_samples: int, strategy: str, rng: np.random.Generator,
    p_swap: float, noise: float, groups: list[list[str]], unjittered: set[str] = frozenset(),
    missing_rate: float = 0.0, unseen_level_rate: float = 0.0, p_row: np.ndarray | None = None,
) -> pd.DataFrame:
    n = len(X)
    names = domain.names
    # The rows synthetic ones can come from: what X "never leaves missing", the levels it lacks and the
    # jitter's spread are judged over them (a row of weight 0 shapes none of the synthetic rows).
    live = np.ones(n, dtype=bool) if p_row is None else p_row > 0

    def rows(size: Any) -> np.ndarray:
        """Real rows to start from or take values of: uniformly, or in proportion to the row weights."""
        return rng.integers(0, n, size=size) if p_row is None else rng.choice(n, size=size, p=p_row)

    if strategy == "marginal":
        base_idx = None
        swap = np.ones((n_samples, len(names)), dtype=bool)
    else:
        base_idx = rows(n_samples)
        swap = rng.random((n_samples, len(names))) < p_swap
    donors = rows((n_samples, len(names)))
    # The members of a group (one-hot, or correlated) are swapped together, from one donor row.
    for g in groups:
        first = names.index(g[0])
        for m in g[1:]:
            j = names.index(m)
            donors[:, j] = donors[:, first]
            swap[:, j] = swap[:, first]
    cols: dict[str, Any] = {}
    for j, spec in enumerate(domain.features):
        col = X[spec.name]
        donor = donors[:, j]
        if spec.kind == "categorical":
            # -1 for missing values and for levels the Domain does not know
            codes = pd.Index(list(spec.levels), dtype=object).get_indexer(np.asarray(col, dtype=object))
            out = codes[donor] if base_idx is None else np.where(swap[:, j], codes[donor], codes[base_idx])
            if not spec.allow_missing:
                # Missing and unknown levels (code -1) become levels seen in X, else any level.
                bad = out < 0
                if bad.any():
                    seen = codes[codes >= 0]
                    pool = seen if seen.size else np.arange(len(spec.levels))
                    out = np.where(bad, pool[rng.integers(0, len(pool), size=n_samples)], out)
            elif missing_rate > 0 and not (codes[live] < 0).any():
                out = np.where(rng.random(n_samples) < missing_rate, -1, out)
            unseen = np.setdiff1d(np.arange(len(spec.levels)), codes[live])
            if unseen_level_rate > 0 and unseen.size:
                # levels the Domain lists but the live rows lack: without them the rules never see the teacher there
                pick = rng.random(n_samples) < unseen_level_rate
                out = np.where(pick, unseen[rng.integers(0, unseen.size, size=n_samples)], out)
            cols[spec.name] = pd.Categorical.from_codes(out, categories=list(spec.levels))
            continue
        x = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if base_idx is None:
            out = x[donor]
        else:
            out = np.where(swap[:, j], x[donor], x[base_idx])
            if spec.kind != "binary" and spec.name not in unjittered:
                finite = x[live & ~np.isnan(x)]
                spread = _spread(finite)
                jitter = rng.normal(0.0, noise * spread, size=n_samples)
                jittered = out + jitter
                if spec.kind == "integer":
                    jittered = np.round(jittered)
                out = jittered
        if not spec.allow_missing:
            finite = x[~np.isnan(x)]
            out = np.where(np.isnan(out), finite[0] if finite.size else 0.0, out)
        elif missing_rate > 0 and not np.isnan(x[live]).any():
            out = np.where(rng.random(n_samples) < missing_rate, np.nan, out)
        with np.errstate(invalid="ignore"):
            out = np.clip(out, spec.lower, spec.upper)
        if spec.kind in ("integer", "binary"):
            out = np.round(out)
        cols[spec.name] = out
    return pd.DataFrame(cols, index=pd.RangeIndex(n_samples))


# The share of synthetic rows a student gives a missing value in each feature its declared Domain
# (``domain=``) lets be missing but the real rows never leave missing, and a level it lists but the
# real rows lack in each categorical feature: without them the students would never see the teacher's
# answer there. An inferred Domain draws no missing values (``missing_rate=0``) unless rows of weight 0
# hold what the others lack (``DistilledClassifierMixin._declared_rate``). Levels are drawn at this rate
# in every fit: an inferred Domain lists a level no row holds when a pandas category keeps it (rows
# filtered out), or when only rows of weight 0 or the hybrid's validation rows hold it.
DECLARED_MISSING_RATE = 0.05


def _spread(x: np.ndarray) -> float:
    """The standard deviation of finite values, computed on a scale that cannot overflow (np.std of
    values near 1e160 is inf, and the jitter then put every value on a bound)."""
    if not x.size:
        return 0.0
    scale = float(np.max(np.abs(x)))
    if scale < 1e150:
        return float(np.std(x))
    return float(np.std(x / scale)) * scale


def _row_probabilities(row_weight: Any, n: int) -> np.ndarray | None:
    """Drawing probabilities of the real rows from their weights; ``None`` (uniform) for equal weights."""
    if row_weight is None:
        return None
    w = np.asarray(row_weight, dtype=np.float64).reshape(-1)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or not (w > 0).any():
        raise ValueError(f"row_weight must be {n} finite non-negative weights, not all 0.")
    if (w == w[0]).all():
        return None  # the same draws as without weights
    w = w / w.max()  # a sum of weights near 1e308 overflowed
    return w / w.sum()


def make_transfer_set(
    X: pd.DataFrame,
    teacher: Any,
    *,
    n_synthetic: int = 0,
    strategy: str = "perturb",
    domain: Domain | None = None,
    random_state: Any = None,
    include_real: bool = True,
    missing_rate: float = 0.0,
    unseen_level_rate: float = 0.0,
    row_weight: Any = None,
) -> TransferSet:
    """Real rows (optionally) plus ``n_synthetic`` synthetic rows, labelled by ``teacher``.

    ``teacher`` is a fitted :class:`~rulekd.teachers.Teacher`; ``missing_rate``,
    ``unseen_level_rate`` and ``row_weight`` as in :func:`sample_synthetic`.
    """
    parts = [X.reset_index(drop=True)] if include_real else []
    if n_synthetic > 0:
        if domain is not None:
            uncovered = [str(c) for c in X.columns if str(c) not in domain]
            if uncovered:
                raise ValueError(f"The Domain lacks X's columns {uncovered[:10]}: synthetic rows would have no value "
                                 f"there. Describe every column (Domain.from_data(X), then Domain.update).")
        synthetic = sample_synthetic(X, n_synthetic, strategy=strategy, domain=domain, random_state=random_state,
                                     missing_rate=missing_rate, unseen_level_rate=unseen_level_rate,
                                     row_weight=row_weight)
        # sample_synthetic names the columns by text (as the Domain does): X's own names again, so that
        # the concat below puts each value under its column (pd.DataFrame(array) names them 0, 1, ...).
        synthetic.columns = [dict((str(c), c) for c in X.columns).get(c, c) for c in synthetic.columns]
        parts.append(_like(synthetic[list(X.columns)], X))
    if not parts:
        raise ValueError("The transfer set is empty: include the real rows or ask for synthetic ones.")
    data = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for name in X.columns:  # concat can drop category dtypes when levels differ
        if isinstance(X[name].dtype, pd.CategoricalDtype) and not isinstance(data[name].dtype, pd.CategoricalDtype):
            levels = list(X[name].cat.categories)
            if domain is not None and str(name) in domain:  # levels the Domain adds (drawn above) stay levels
                levels += [v for v in domain[str(name)].levels if v not in set(levels)]
            data[name] = pd.Categorical(data[name], categories=levels)
        elif X[name].dtype == bool and data[name].dtype == object:  # synthetic NaN (a Domain allows them)
            data[name] = data[name].astype(np.float64)
    novel = {}  # levels of the synthetic rows the real ones lack (drawn for a declared Domain)
    for name in X.columns:
        if isinstance(X[name].dtype, pd.CategoricalDtype) and len(data) > len(X):
            extra = set(data[name].iloc[len(X) if include_real else 0:].dropna().unique()) - set(X[name].dropna())
            if extra:
                novel[str(name)] = sorted(map(str, extra))[:5]
    logits = _teacher_logits(teacher, data, novel)
    z = logits - logits.max(axis=1, keepdims=True)
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    is_syn = np.zeros(len(data), dtype=bool)
    if include_real:
        is_syn[len(X):] = True
    else:
        is_syn[:] = True
    return TransferSet(X=data, proba=proba, logits=logits, is_synthetic=is_syn)


def _teacher_logits(teacher: Any, data: pd.DataFrame, novel: dict | None = None) -> np.ndarray:
    """The teacher's logits on the transfer rows; a TeacherError where it cannot read missing values
    (a Domain may allow them where the real rows have none) or levels the real rows lack (``novel``, drawn
    for a declared Domain), or answers something that is not a number."""
    missing = data.isna().any(axis=1).to_numpy()
    fix = ("Use a teacher that reads missing values (XGBoost, HistGradientBoostingClassifier, a Pipeline with an "
           "imputer), or a Domain that does not allow them.")
    try:
        logits = np.asarray(teacher.logits(data), dtype=np.float64)
    except (ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if missing.any() and "nan" in str(exc).lower():
            cols = [str(c) for c in data.columns[data.isna().any()]][:10]
            raise TeacherError(f"The teacher cannot read missing values ({first}), and {missing.sum()} transfer "
                               f"rows have them, in {cols}. {fix}") from exc
        if novel:
            err = TeacherError(
                f"The teacher failed on synthetic rows holding levels the Domain lists but the training rows "
                f"lack ({first}): {novel}. Give it an encoder that accepts them (e.g. OneHotEncoder("
                f"handle_unknown='ignore')), use the default XGBoost teacher, or declare only levels the data "
                f"holds.")
            err.novel_levels = novel  # a fit with an inferred Domain draws again without them (students/_base)
            raise err from exc
        raise
    # -inf is a probability of 0 (a log-softmax that underflowed): kept as a finite logit far below the
    # row's largest, whose softmax is still exactly 0; NaN, +inf and rows with no finite logit are refused.
    top = np.max(logits, axis=1, initial=-np.inf) if logits.size else np.zeros(len(logits))
    bad = np.isnan(logits).any(axis=1) | np.isposinf(logits).any(axis=1) | ~np.isfinite(top)
    if not bad.any() and np.isneginf(logits).any():
        floor = (top - 1000.0 * np.maximum(1.0, np.abs(top)))[:, None]
        logits = np.where(np.isneginf(logits), floor, logits)
    if bad.any():
        where = " (all with missing values)" if missing[bad].all() else ""
        raise TeacherError(f"The teacher answered NaN or infinity on {bad.sum()} of {len(data)} transfer "
                           f"rows{where}. " + (fix if missing[bad].all() else "Check the teacher on those rows."))
    return logits


def _like(S: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
    """Give synthetic columns the dtypes of the real ones where no value is lost.

    Without it ``concat`` makes a bool column ``object`` (bool + float), which
    XGBoost refuses, and turns string columns into mixed category/str columns.
    """
    S = S.copy()
    for name in S.columns:
        if name not in X.columns or isinstance(X[name].dtype, pd.CategoricalDtype):
            continue  # category columns are restored after the concat
        target = X[name].dtype
        if S[name].dtype == target:
            continue
        if isinstance(target, np.dtype) and target.kind in "biu" and S[name].isna().any():
            continue  # numpy bool / int columns cannot hold NaN (a bool column: see make_transfer_set)
        if isinstance(target, np.dtype) and target.kind in "iu" and S[name].dtype.kind == "f":
            v = S[name].to_numpy()
            if not np.array_equal(v, np.round(v)):
                continue  # a Domain that makes the feature real: casting would truncate its values
            end = 2.0 ** (8 * target.itemsize - (target.kind == "i"))  # the first whole number past the type
            if v.size and (v.min() < float(np.iinfo(target).min) or v.max() >= end):
                continue  # outside the integer type (a widened Domain, values near 2**63): it would wrap around
        try:
            S[name] = S[name].astype(target)
        except (TypeError, ValueError):
            pass
    return S
