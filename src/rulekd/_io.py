"""Small file helpers shared by every writer (rules, Domain, reports)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


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
