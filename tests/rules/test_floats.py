"""float32_le_bound / float32_lt_bound and the JSON float helpers."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rulekd.rules import float32_le_bound, float32_lt_bound
from rulekd.rules._floats import format_float, parse_float

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal
F32_SUB = float(np.nextafter(np.float32(0), np.float32(1)))  # smallest subnormal
F32_OVERFLOW = F32_MAX + 2.0**103  # float64 values >= this round to inf in float32


def f32(x: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(x))


def f32_next(x: float, toward: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.nextafter(np.float32(x), np.float32(toward)))


def up(x: float, k: int = 1) -> float:
    for _ in range(k):
        x = math.nextafter(x, math.inf)
    return x


def down(x: float, k: int = 1) -> float:
    for _ in range(k):
        x = math.nextafter(x, -math.inf)
    return x


def _edge_thresholds() -> list[float]:
    base = [
        0.0, -0.0, 0.5, 0.1, -0.1, 1.0 / 3.0, 1.0, -1.0, 25.0, 1e-7, 123456.789,
        F32_MAX, -F32_MAX, F32_TINY, -F32_TINY, F32_SUB, -F32_SUB, F32_SUB / 2, -F32_SUB / 2,
        F32_SUB * 1.5, F32_OVERFLOW, -F32_OVERFLOW, 1e300, -1e300, 5e-324, -5e-324,
        math.inf, -math.inf, float(np.finfo(np.float64).max), -float(np.finfo(np.float64).max),
        2.0**24 + 1, 16777217.0, 0.30000001192092896,
    ]
    out = []
    for t in base:
        out.append(t)
        if math.isfinite(t):
            out += [up(t), down(t)]
            a = f32(t)
            if math.isfinite(a):
                b = f32_next(a, math.inf)
                c = f32_next(a, -math.inf)
                out += [a, b, c, up(a), down(a)]
                for lo, hi in ((a, b), (c, a)):
                    if math.isfinite(lo) and math.isfinite(hi):
                        mid = (lo + hi) / 2  # exact tie between float32 neighbours
                        out += [mid, up(mid), down(mid)]
    return [t for t in out if not math.isnan(t)]


EDGE = _edge_thresholds()


def _probes(t: float, m: float) -> list[float]:
    xs = [m, up(m), down(m), up(m, 2), down(m, 2), t, up(t), down(t), 0.0, -0.0,
          math.inf, -math.inf, F32_MAX, -F32_MAX, F32_OVERFLOW, down(F32_OVERFLOW), -F32_OVERFLOW, up(-F32_OVERFLOW)]
    if math.isfinite(t):
        a = f32(t)
        xs += [a, f32_next(a, math.inf), f32_next(a, -math.inf)]
    return [x for x in xs if not math.isnan(x)]


def _check_le(t: float, xs) -> None:
    m = float32_le_bound(t)
    for x in list(xs) + _probes(t, m):
        assert (f32(x) <= t) == (x <= m), (t.hex(), m.hex(), x.hex())


def _check_lt(t: float, xs) -> None:
    m = float32_lt_bound(t)
    for x in list(xs) + _probes(t, m):
        if t == -math.inf and x == -math.inf:
            continue  # documented: no float64 m makes "x <= m" false for x = -inf
        assert (f32(x) < t) == (x <= m), (t.hex(), m.hex(), x.hex())


def test_le_bound_is_exact_at_edge_thresholds():
    assert len(EDGE) > 300
    for t in EDGE:
        _check_le(t, [])


def test_lt_bound_is_exact_at_edge_thresholds():
    for t in EDGE:
        _check_lt(t, [])


def _bits_to_float(b: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", b))[0]


thresholds = st.one_of(
    st.floats(allow_nan=False),
    st.floats(allow_nan=False, width=32),
    st.integers(0, 2**64 - 1).map(_bits_to_float).filter(lambda v: not math.isnan(v)),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda a: up(a)),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda a: down(a)),
)


@settings(max_examples=200, deadline=None)
@given(t=thresholds, xs=st.lists(st.floats(allow_nan=False), max_size=10))
def test_le_bound_matches_float32_comparison(t, xs):
    _check_le(t, xs + [x * 1e-30 for x in xs])


@settings(max_examples=200, deadline=None)
@given(t=thresholds, xs=st.lists(st.floats(allow_nan=False), max_size=10))
def test_lt_bound_matches_float32_comparison(t, xs):
    _check_lt(t, xs + [x * 1e-30 for x in xs])


def test_bounds_reject_nan():
    with pytest.raises(ValueError):
        float32_le_bound(math.nan)
    with pytest.raises(ValueError):
        float32_lt_bound(math.nan)


def test_le_bound_of_float32_value_is_above_it():
    # float32(x) <= 0.5 also holds for x slightly above 0.5 (they round down to 0.5).
    m = float32_le_bound(0.5)
    assert m > 0.5 and f32(m) == 0.5 and f32(up(m)) > 0.5


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False))
def test_format_parse_float_round_trip_bit_for_bit(x):
    import json

    back = parse_float(json.loads(json.dumps(format_float(x), allow_nan=False)))
    assert struct.pack("<d", back) == struct.pack("<d", x)


@pytest.mark.parametrize("bad", [True, False, None, "nan", "Infinity", [1.0], {"a": 1}, float("nan")])
def test_parse_float_rejects_non_numbers(bad):
    with pytest.raises(ValueError):
        parse_float(bad)


def test_format_float_rejects_nan():
    with pytest.raises(ValueError):
        format_float(math.nan)
