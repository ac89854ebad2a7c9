"""Exact float helpers shared by the rule IR, its importers and the verifier.

scikit-learn trees compare ``float32(x) <= t``; XGBoost compares
``float32(x) < t``. Both are monotone in ``x``, so each is equivalent to a
plain float64 comparison ``x <= m`` for one exact float64 ``m``. The functions
here compute that ``m``, so that SQL, Python export and Z3 can use ordinary
float64 arithmetic and still agree with the model bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["float32_le_bound", "float32_lt_bound", "format_float", "is_float32_midpoint", "parse_float"]

_F32_MAX = float(np.finfo(np.float32).max)
# Half an ulp above float32's largest finite value: float64 inputs at or past it
# round to infinity when cast to float32 (the tie goes to the even infinity).
_F32_OVERFLOW = _F32_MAX + 2.0**103


def _f32(x: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(x))


def _f32_down(t: float) -> float:
    """Largest float32 value (as float64, possibly -inf) that is <= t."""
    f = _f32(t)
    if f > t:
        with np.errstate(over="ignore"):
            f = float(np.nextafter(np.float32(f), np.float32(-np.inf)))
    return f


def float32_le_bound(t: float) -> float:
    """Return the largest float64 ``m`` with ``float32(x) <= t`` for all ``x <= m``.

    For every float64 ``x`` (not NaN): ``float32(x) <= t  <=>  x <= m``.

    >>> float32_le_bound(0.5) > 0.5
    True
    >>> float(np.float32(float32_le_bound(0.5))) <= 0.5
    True
    """
    t = float(t)
    if math.isnan(t):
        raise ValueError("A threshold cannot be NaN.")
    if t == math.inf:
        return math.inf
    a = _f32_down(t)
    if a == -math.inf:
        # Only inputs that round to -inf satisfy float32(x) <= t.
        return -_F32_OVERFLOW
    if a == _F32_MAX:
        mid = _F32_OVERFLOW
    else:
        b = float(np.nextafter(np.float32(a), np.float32(np.inf)))
        mid = (a + b) / 2.0  # exact: float32 needs 24 bits, the midpoint 25
    # Round-half-to-even decides to which side the midpoint itself rounds.
    m = mid if _f32(mid) <= t else float(np.nextafter(mid, -np.inf))
    return m


def is_float32_midpoint(x: float) -> bool:
    """Whether ``x`` lies exactly halfway between two adjacent float32 values (or past the largest one, where
    a cast rounds to infinity).

    :func:`float32_le_bound` returns ``nextafter(mid, -inf)`` when such a midpoint rounds up: the largest
    float64 below it. Integers beyond 2**53 can lie between the two, so an exact integer comparison needs
    ``x < mid`` (see :meth:`~rulekd.rules.Condition.integer_exact_bound`).

    >>> is_float32_midpoint(1.0 + 2.0**-24), is_float32_midpoint(1.0)
    (True, False)
    """
    x = float(x)
    if not math.isfinite(x):
        return False
    a = _f32_down(x)
    if a == x:
        return False
    if a == -math.inf:
        return x == -_F32_OVERFLOW
    if a == _F32_MAX:
        return x == _F32_OVERFLOW
    b = float(np.nextafter(np.float32(a), np.float32(np.inf)))
    return (a + b) / 2.0 == x


def float32_lt_bound(t: float) -> float:
    """Return ``m`` with ``float32(x) < t  <=>  x <= m`` for every float64 ``x``.

    >>> float(np.float32(float32_lt_bound(0.5))) < 0.5
    True
    """
    t = float(t)
    if math.isnan(t):
        raise ValueError("A threshold cannot be NaN.")
    if t == -math.inf:
        return -math.inf  # nothing is < -inf; callers treat x <= -inf as never (x finite)
    c = _f32_down(t)
    if c == t:
        with np.errstate(over="ignore"):
            c = float(np.nextafter(np.float32(c), np.float32(-np.inf)))
    return float32_le_bound(c)


def format_float(x: float) -> float | str:
    """JSON encoding of a float that survives a round trip bit for bit.

    Finite floats stay numbers (Python writes the shortest repr that reads back
    exactly); infinities become the strings ``"inf"`` and ``"-inf"``.
    """
    x = float(x)
    if math.isnan(x):
        raise ValueError("NaN cannot be stored as a threshold or probability.")
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def parse_float(v: object) -> float:
    """Inverse of :func:`format_float`; rejects anything else."""
    if isinstance(v, bool):
        raise ValueError(f"Expected a number, got the boolean {v!r}.")
    if isinstance(v, (int, float)):
        try:
            x = float(v)
        except OverflowError:  # a whole number too large for a double
            raise ValueError(f"A whole number of {int(v).bit_length()} bits is too large for a float; write "
                             f"'inf' or '-inf'.") from None
        if math.isnan(x):
            raise ValueError("NaN is not a valid threshold or probability.")
        return x
    if v == "inf":
        return math.inf
    if v == "-inf":
        return -math.inf
    raise ValueError(f"Expected a number, 'inf' or '-inf', got {v!r}.")
