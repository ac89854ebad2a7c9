"""Synthetic rows near the data, inside its :class:`~rulekd.Domain`, labelled by the teacher.

A student distilled on the training rows alone sees the teacher only where the
data is; synthetic rows let it query the teacher around them (TREPAN, MUNGE and
FAST-DAD do the same). Two strategies:

* ``"marginal"``: every feature drawn independently from its empirical
  marginal (missing values included). Covers the box, ignores correlations.
* ``"perturb"``: a real row, with each feature, with probability ``p_swap``,
  replaced by a value from its marginal, and numeric features jittered by
  Gaussian noise (``noise`` times the feature's spread). Stays near the data.
* ``"mixed"``: half of each.

Every synthetic value is clipped, rounded and levelled into the Domain, so the
sampler never leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..domain import Domain

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
) -> pd.DataFrame:
    """Draw ``n_samples`` synthetic rows like ``X`` (see the module docstring).

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": pd.Categorical(list("xyxy"))})
    >>> S = sample_synthetic(X, 10, random_state=0)
    >>> S.shape, bool(Domain.from_data(X).contains(S).all())
    ((10, 2), True)
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    n_samples = int(n_samples)
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}.")
    if len(X) == 0:
        raise ValueError("Cannot sample synthetic rows from an empty table.")
    rng = np.random.default_rng(random_state)
    domain = domain if domain is not None else Domain.from_data(X)
    if strategy == "mixed":
        k = n_samples // 2
        a = sample_synthetic(X, k, strategy="marginal", domain=domain, random_state=rng)
        b = sample_synthetic(X, n_samples - k, strategy="perturb", domain=domain, random_state=rng,
                             p_swap=p_swap, noise=noise)
        return pd.concat([a, b], ignore_index=True)
    n = len(X)
    if strategy == "marginal":
        base_idx = None
        swap = np.ones((n_samples, X.shape[1]), dtype=bool)
    else:
        base_idx = rng.integers(0, n, size=n_samples)
        swap = rng.random((n_samples, X.shape[1])) < p_swap
    cols: dict[str, Any] = {}
    for j, spec in enumerate(domain.features):
        col = X[spec.name]
        donor = rng.integers(0, n, size=n_samples)
        if spec.kind == "categorical":
            codes = pd.Categorical(col, categories=list(spec.levels)).codes
            out = codes[donor] if base_idx is None else np.where(swap[:, j], codes[donor], codes[base_idx])
            cols[spec.name] = pd.Categorical.from_codes(out, categories=list(spec.levels))
            continue
        x = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if base_idx is None:
            out = x[donor]
        else:
            out = np.where(swap[:, j], x[donor], x[base_idx])
            if spec.kind != "binary":
                finite = x[~np.isnan(x)]
                spread = float(np.std(finite)) if finite.size else 0.0
                jitter = rng.normal(0.0, noise * spread, size=n_samples)
                jittered = out + jitter
                if spec.kind == "integer":
                    jittered = np.round(jittered)
                out = jittered
        with np.errstate(invalid="ignore"):
            out = np.clip(out, spec.lower, spec.upper)
        if spec.kind in ("integer", "binary"):
            out = np.round(out)
        if not spec.allow_missing:
            out = np.where(np.isnan(out), x[~np.isnan(x)][0] if np.any(~np.isnan(x)) else 0.0, out)
        cols[spec.name] = out
    return pd.DataFrame(cols)


def make_transfer_set(
    X: pd.DataFrame,
    teacher: Any,
    *,
    n_synthetic: int = 0,
    strategy: str = "perturb",
    domain: Domain | None = None,
    random_state: Any = None,
    include_real: bool = True,
) -> TransferSet:
    """Real rows (optionally) plus ``n_synthetic`` synthetic rows, labelled by ``teacher``.

    ``teacher`` is a fitted :class:`~rulekd.teachers.Teacher`.
    """
    parts = [X.reset_index(drop=True)] if include_real else []
    if n_synthetic > 0:
        parts.append(
            sample_synthetic(X, n_synthetic, strategy=strategy, domain=domain, random_state=random_state)
        )
    if not parts:
        raise ValueError("The transfer set is empty: include the real rows or ask for synthetic ones.")
    data = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for name in X.columns:  # concat can drop category dtypes when levels differ
        if isinstance(X[name].dtype, pd.CategoricalDtype) and not isinstance(data[name].dtype, pd.CategoricalDtype):
            data[name] = pd.Categorical(data[name], categories=X[name].cat.categories)
    logits = np.asarray(teacher.logits(data), dtype=np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    proba = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    is_syn = np.zeros(len(data), dtype=bool)
    if include_real:
        is_syn[len(X):] = True
    else:
        is_syn[:] = True
    return TransferSet(X=data, proba=proba, logits=logits, is_synthetic=is_syn)
