"""Small file helpers shared by every writer (rules, Domain, reports)."""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def json_value(v: Any) -> Any:
    """``v`` as plain JSON types: numpy scalars to Python, NaN to ``None``, infinities to strings.

    Floats are kept exactly (no rounding); dict keys become strings; tuples,
    sets and arrays become lists; anything else its ``str``. Used by the
    verification and audit reports.
    """
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, np.generic):
        return json_value(v.item())
    if isinstance(v, dict):
        return {str(k): json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_value(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return [json_value(x) for x in sorted(v, key=lambda x: (type(x).__name__, str(x)))]
    if isinstance(v, np.ndarray):
        return [json_value(x) for x in v.tolist()]
    if v is pd.NA or v is pd.NaT:
        return None
    return str(v)


def atomic_write_text(path: Any, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an existing file is only
    replaced once the new content is complete.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()  # no half-written temporary file is left behind
        raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from None


def dump_json(data: Any, path: Any = None, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``data`` (no NaN / inf, UTF-8 kept); written atomically to ``path`` if given."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. '\ud800'): only a \u escape carries it exactly
        text = json.dumps(data, indent=indent, ensure_ascii=True, allow_nan=False)
    if path is not None:
        atomic_write_text(path, text)
    return text


def is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate such as ``'\\ud800'``).

    Names and levels must be: pandas (through pyarrow), SQL engines and UTF-8
    files cannot hold a lone surrogate.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
