"""Small file helpers shared by every writer (rules, Domain, reports)."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import stat
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
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str):
        return str(v)  # a subclass such as numpy.str_ as a plain str (its repr is "np.str_('yes')")
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


def user_path(path: Any) -> Path:
    """``path`` as a :class:`~pathlib.Path`, a leading ``~`` (or ``~user``) expanded to the home folder, as
    the shell and pandas do: ``save(model, "~/models/credit")`` writes under the home folder, not into a
    new folder named ``~`` in the working directory. A home that cannot be found leaves ``~`` as it is."""
    p = Path(os.fspath(path))
    try:
        return p.expanduser()
    except RuntimeError:
        return p


def file_sha256(path: Any) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB chunks (a data file may be large)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _target(path: Any) -> Path:
    """The file to write for ``path``: a symbolic link's target (the link keeps pointing at the new
    content); a directory is refused."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.is_dir():
        raise IsADirectoryError(f"{os.fspath(path)!r} is a directory; give the path of a file (e.g. inside it).")
    return path


def is_stream(path: Any) -> bool:
    """An existing path that is neither a regular file nor a folder (a device such as ``/dev/stdout``, a
    FIFO): written to as a stream, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def temp_stem(name: str) -> str:
    """``name`` cut so that a temporary name built on it (about 30 more bytes) stays within the 255 bytes
    file systems allow (a legal 245-byte file or folder name could not be replaced)."""
    raw = name.encode("utf-8", "surrogateescape")
    return name if len(raw) <= 200 else raw[:200].decode("utf-8", "ignore")


def fsync_dir(folder: Any) -> None:
    """Flush ``folder``'s entries to disk, so that a rename into it survives a power loss (best effort:
    a platform or file system that cannot open or sync a folder is left as it is)."""
    try:
        fd = os.open(os.fspath(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Any, text: str | bytes, *, replace: bool = True) -> None:
    """Write ``text`` (UTF-8; ``bytes`` as they are) to ``path`` through a temporary file and a rename.

    A reader never sees a half-written file, and an existing file is only
    replaced once the new content is complete. The temporary file has a name
    of its own (``.<name>.<random>.tmp``, created exclusively), so no other
    file is touched; a symbolic link is followed (its target is replaced).
    ``replace=False`` never replaces a file: the complete temporary file is
    linked to ``path``, which fails (``FileExistsError``) if a file appeared
    there meanwhile. A device or a pipe (``/dev/stdout``, a FIFO) is written
    directly: there is no file to replace.
    """
    binary = isinstance(text, (bytes, bytearray))
    if is_stream(path):
        with open(path, "wb") if binary else open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    path = _target(path)
    tmp = None
    try:
        for _ in range(100):
            candidate = path.with_name(f".{temp_stem(path.name)}.{secrets.token_hex(4)}.tmp")
            try:  # "x": never an existing file
                fh = open(candidate, "xb") if binary else open(candidate, "x", encoding="utf-8")
            except FileExistsError:
                continue
            tmp = candidate
            with fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())  # the content is on disk before the rename makes it the file
            break
        else:  # pragma: no cover - 100 random names all taken
            raise FileExistsError(errno.EEXIST, "no free temporary name beside it", str(path))
        if replace:
            with contextlib.suppress(OSError):  # a private file stays private (the new one has the default mode)
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
        fsync_dir(path.parent)
    except BaseException as exc:  # an encoding error or Ctrl-C too: no half-written temporary file is left
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if isinstance(exc, OSError):
            raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


def _link_new(tmp: Path, path: Path) -> None:
    """Make the complete file ``tmp`` the new file ``path``; ``FileExistsError`` if ``path`` exists."""
    try:
        os.link(tmp, path)  # atomic, and never over an existing file
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: a rename after a check (a narrow race)
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.rename(tmp, path)
        return
    with contextlib.suppress(OSError):  # the file is written; a stray temporary name is only untidy
        tmp.unlink()


def write_text(path: Any, text: Any, *, overwrite: bool = False) -> Path:
    """Write ``text`` (or ``text()``, rendered only once the path is known to be free) to ``path``;
    ``bytes`` are written as they are.

    The text goes to a synced temporary file first (:func:`atomic_write_text`), so
    the path never holds a half-written file. An existing file is kept
    (``FileExistsError``) unless ``overwrite=True``, which replaces it
    atomically. A device or pipe (``/dev/stdout``) is written to, as a stream.
    Returns ``Path(path)`` (a leading ``~`` expanded, :func:`user_path`).
    """
    path = given = user_path(path)
    shown = os.fspath(path)
    if is_stream(path):
        atomic_write_text(path, text() if callable(text) else text)
        return given
    path = _target(path)

    def refuse() -> FileExistsError:
        return FileExistsError(f"{shown!r} already exists; pass overwrite=True to replace it, or choose another path.")

    if not overwrite and path.exists():
        raise refuse()  # before rendering anything
    content = text() if callable(text) else text
    try:  # a new file too goes through a synced temporary file: never seen half-written
        atomic_write_text(path, content, replace=overwrite)
    except FileExistsError:  # it appeared meanwhile
        if overwrite:
            raise
        raise refuse() from None
    return given


def dump_json(data: Any, path: Any = None, *, indent: int | None = 2, overwrite: bool = False) -> str:
    """Strict JSON text of ``data`` (no NaN / inf, UTF-8 kept); also written to ``path`` if given
    (an existing file only with ``overwrite=True``, then atomically)."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. '\ud800'): only a \u escape carries it exactly
        text = json.dumps(data, indent=indent, ensure_ascii=True, allow_nan=False)
    if path is not None:
        write_text(path, text, overwrite=overwrite)
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
