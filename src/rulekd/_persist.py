"""Model directories: every fitted rulekd estimator saved as a documented folder.

:func:`save` writes an estimator as plain files (rules and Domain in their
versioned JSON, weights in a ``.npz`` read without pickle, an XGBoost teacher in
XGBoost's own JSON, ``metadata.json`` and a ``manifest.json`` of SHA-256
hashes); :func:`load` reads it back without unpickling or executing anything
from the folder: it refuses pickles and unknown files, checks every hash,
validates every JSON document, and rebuilds a model that predicts bit for bit
what the saved one did. ``docs/model-directory.md`` describes the layout.

What is saved for each estimator is a declarative *entry* in a registry: a map
from fitted attribute to the codec that writes it (:data:`RULESET`,
:data:`DOMAIN`, :data:`LABELS`, :data:`ARRAY`, :data:`ARRAYS`,
:data:`ESTIMATOR` for a nested fitted rulekd estimator, :data:`TEACHER`,
:data:`PROPERTIES`, or :class:`Value` for JSON values). Adding an estimator
takes one :func:`register` call: the students' entries are at the end of this
module, the hybrid's at the end of ``rulekd/hybrid/__init__.py``. The class is
given as an object, or as ``"module:Class"`` to be imported only when a folder
of that kind is saved or loaded. For example::

    register(
        "rulekd.hybrid:HybridClassifier",
        {
            **COMMON_FIELDS,            # classes_, feature_names_in_, n_features_in_, domain_, teacher_
            "rules_": RULESET,
            "student_": ESTIMATOR,      # a fitted DistilledMLPClassifier, saved as the folder student/
            "transparency_": Value(float),
            "rule_precision_": Value(dict[str, float]),
            "guards_": PROPERTIES,      # a tuple of verify properties, stored as their text
            "coverage_": ARRAY,         # any numeric or boolean numpy array
        },
        skip=(),                        # fitted attributes deliberately not saved
        check=None,                     # optional: validate a loaded estimator as a whole
    )

:func:`save` refuses an estimator with a fitted attribute (a name ending in
``_``) that its entry neither saves nor lists in ``skip``, so state is never
dropped silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import secrets
import shutil
import stat
import sys
import types
import typing
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ._io import fsync_dir, temp_stem, user_path
from .domain import Domain
from .exceptions import RulekdError
from .rules import RuleSet

__all__ = [
    "save",
    "load",
    "register",
    "ModelDirectoryError",
    "ModelDirectoryNotFoundError",
    "Value",
    "RULESET",
    "DOMAIN",
    "LABELS",
    "ARRAY",
    "ARRAYS",
    "ESTIMATOR",
    "TEACHER",
    "PROPERTIES",
    "COMMON_FIELDS",
    "FORMAT_VERSION",
]

FORMAT_VERSION = 1
_MODEL_FORMAT = "rulekd.model"
_MANIFEST_FORMAT = "rulekd.manifest"
_METADATA = "metadata.json"
_MANIFEST = "manifest.json"
_ARRAYS = "arrays.npz"
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# Largest file a model directory may hold (an XGBoost teacher of 1,000 depth-6 trees is about 15 MB).
_MAX_FILE_BYTES = 256 * 1024 * 1024
_MAX_FILES = 10_000
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".jbl", ".sav", ".dill", ".pt", ".pth", ".ckpt")
_REL_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Most bytes a text-label array may take beyond what its labels need (numpy keeps y's own dtype width).
_MAX_LABEL_BYTES = 64 * 1024 * 1024
# Parameters added after format version 1 first shipped, with the value that means "as before": a
# parameter at that value is not written, so a rulekd from before it still reads the directory (it
# refuses parameters it does not know); loading fills in the default.
_LATER_PARAMS: dict[str, Any] = {"domain": None}
_LABEL_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|U[0-9]{1,9}|O)$")


class ModelDirectoryError(RulekdError, ValueError):
    """A model directory cannot be written or read: damaged, modified, malformed or unsupported."""


class ModelDirectoryNotFoundError(ModelDirectoryError, FileNotFoundError):
    """The path given to :func:`load` does not exist."""


# -- JSON values -------------------------------------------------------------------------
class _Unencodable(Exception):
    pass


def _encode(v: Any) -> Any:
    """JSON form of a Python value; tuples, non-finite floats and non-string keys are tagged."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"$float": repr(v)}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, tuple):
        return {"$tuple": [_encode(x) for x in v]}
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in v):
            return {k: _encode(x) for k, x in v.items()}
        return {"$items": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, Domain):  # a student's declared domain= parameter
        return {"$domain": v.to_dict()}
    text = _property_text(v)
    if text is not None:
        return {"$property": text}
    raise _Unencodable(type(v).__name__)


def _property_text(v: Any) -> str | None:
    """The text of a verifier property (a hybrid's guard) that parses back to an equal property, else None."""
    try:
        from .verify import Implies, Invariant, Monotone, parse_property
    except ImportError:  # pragma: no cover - the verifier's dependencies are missing
        return None
    if not isinstance(v, (Implies, Invariant, Monotone)):
        return None
    text = v.text()
    try:
        same = parse_property(text) == v
    except ValueError:
        return None
    return text if same else None


def _decode(d: Any, where: str) -> Any:
    """Inverse of :func:`_encode`; raises :class:`ModelDirectoryError` naming ``where``."""
    if d is None or isinstance(d, (bool, int, float, str)):
        return d
    if isinstance(d, list):
        return [_decode(x, where) for x in d]
    if not isinstance(d, dict):  # pragma: no cover - json.loads gives no other type
        raise ModelDirectoryError(f"{where}: unexpected JSON value of type {type(d).__name__}.")
    if not any(k.startswith("$") for k in d):
        return {k: _decode(x, where) for k, x in d.items()}
    if len(d) != 1:
        raise ModelDirectoryError(f"{where}: a tagged value must have exactly one key, got {sorted(d)[:5]}.")
    tag, body = next(iter(d.items()))
    if tag == "$float":
        if body not in ("nan", "inf", "-inf"):
            raise ModelDirectoryError(f'{where}: "$float" must be "nan", "inf" or "-inf", got {body!r}.')
        return float(body)
    if tag == "$tuple":
        if not isinstance(body, list):
            raise ModelDirectoryError(f'{where}: "$tuple" must hold a list.')
        return tuple(_decode(x, where) for x in body)
    if tag == "$items":
        if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
            raise ModelDirectoryError(f'{where}: "$items" must hold a list of [key, value] pairs.')
        out = {}
        for k, x in body:
            key = _decode(k, where)
            try:
                out[key] = _decode(x, where)
            except TypeError:
                raise ModelDirectoryError(f"{where}: a dictionary key cannot be a {type(key).__name__}.") from None
        return out
    if tag == "$property":
        from .verify import parse_property

        if not isinstance(body, str):
            raise ModelDirectoryError(f'{where}: "$property" must hold the property\'s text.')
        try:
            return parse_property(body)
        except ValueError as exc:
            raise ModelDirectoryError(f"{where}: the property {body!r} cannot be read: {exc}") from None
    if tag == "$domain":
        try:
            return Domain.from_dict(body)
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelDirectoryError(f"{where}: the Domain cannot be read: {exc}") from None
    raise ModelDirectoryError(f"{where}: unknown tag {tag!r}; this rulekd reads $float, $tuple, $items, "
                              f"$property and $domain.")


def _conforms(v: Any, tp: Any) -> bool:
    """Whether ``v`` has type ``tp`` (``int``, ``list[str]``, ``dict[str, float]``, ``X | None``...)."""
    if tp is Any:
        return True
    if tp is None or tp is type(None):
        return v is None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(v, a) for a in args)
    if tp is bool:
        return isinstance(v, bool)
    if tp is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if tp is float:
        return isinstance(v, float)
    if origin is list or tp is list:
        return isinstance(v, list) and (not args or all(_conforms(x, args[0]) for x in v))
    if origin is tuple or tp is tuple:
        if not isinstance(v, tuple):
            return False
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(x, args[0]) for x in v)
        return len(v) == len(args) and all(_conforms(x, a) for x, a in zip(v, args))
    if origin is dict or tp is dict:
        return isinstance(v, dict) and (
            not args or all(_conforms(k, args[0]) and _conforms(x, args[1]) for k, x in v.items())
        )
    return isinstance(v, tp)


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) and not typing.get_args(tp) else str(tp).replace("typing.", "")


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _parse_json(data: bytes, rel: str) -> Any:
    """Strict JSON (UTF-8, no NaN/Infinity constants, no duplicate keys); clean errors naming ``rel``."""

    def no_constant(name: str) -> Any:
        raise ModelDirectoryError(f"{rel} is malformed: it contains the non-standard constant {name}.")

    def no_duplicates(pairs: list) -> dict:
        out = {}
        for k, v in pairs:
            if k in out:
                raise ModelDirectoryError(f"{rel} is malformed: the key {k!r} appears twice in one object.")
            out[k] = v
        return out

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelDirectoryError(f"{rel} is not valid UTF-8 ({exc.reason} at byte {exc.start}).") from None
    try:
        return json.loads(text, parse_constant=no_constant, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ModelDirectoryError(
            f"{rel} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from None
    except RecursionError:
        raise ModelDirectoryError(f"{rel} is nested too deeply.") from None
    except ValueError as exc:
        if isinstance(exc, ModelDirectoryError):
            raise
        raise ModelDirectoryError(f"{rel} is not valid JSON: {exc}.") from None


def _fields(obj: Any, where: str, required: Mapping[str, Any], optional: Mapping[str, Any] = {}) -> dict:
    """Check that ``obj`` is an object with exactly these keys of these types."""
    if not isinstance(obj, dict):
        raise ModelDirectoryError(f"{where} must be a JSON object, got {type(obj).__name__}.")
    missing = [k for k in required if k not in obj]
    if missing:
        raise ModelDirectoryError(f"{where} lacks the required key(s) {missing}.")
    unknown = sorted(k for k in obj if k not in required and k not in optional)
    if unknown:
        raise ModelDirectoryError(f"{where} has unknown key(s) {unknown[:10]}.")
    for k, tp in {**required, **optional}.items():
        if k in obj and not _conforms(obj[k], tp):
            raise ModelDirectoryError(
                f"{where}: {k!r} must be {_type_name(tp)}, got {type(obj[k]).__name__} {_short(obj[k])}."
            )
    return obj


def _describe(v: Any) -> str:
    """Readable text of a parameter that is not a JSON value (an estimator: its non-None parameters)."""
    if hasattr(v, "get_params") and not isinstance(v, type):
        try:
            import inspect

            sig = inspect.signature(type(v).__init__).parameters.values()
            defaults = {p.name: p.default for p in sig if p.default is not p.empty}

            def is_default(k: str, p: Any) -> bool:
                d = defaults.get(k, None)
                try:
                    return p is d or (type(p) is type(d) and bool(p == d))
                except Exception:  # e.g. arrays: shown
                    return False

            shown = {k: p for k, p in v.get_params(deep=False).items() if not is_default(k, p)}
            text = f"{type(v).__name__}({', '.join(f'{k}={p!r}' for k, p in shown.items())})"
        except Exception:  # a broken get_params or signature: fall back to repr
            text = repr(v)
    else:
        text = repr(v)
    return text if len(text) <= 2000 else text[:2000] + "..."


def _short(v: Any, n: int = 80) -> str:
    text = repr(v)
    return text if len(text) <= n else text[:n] + "..."


# -- writing and reading contexts ---------------------------------------------------------
class _Writer:
    """Collects the files of one model directory (``prefix`` inside the top folder)."""

    def __init__(self, files: dict[str, bytes], prefix: str, cls_name: str):
        self.files = files
        self.prefix = prefix
        self.cls_name = cls_name
        self.arrays: dict[str, np.ndarray] = {}

    def add_file(self, name: str, data: bytes) -> None:
        self.files[self.prefix + name] = data

    def add_array(self, key: str, arr: Any, attr: str) -> None:
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf":
            raise ModelDirectoryError(
                f"{self.cls_name}.{attr} holds an array of dtype {arr.dtype}; a model directory stores "
                f"numeric and boolean arrays only (never objects, which would need pickle)."
            )
        self.arrays[key] = np.ascontiguousarray(arr)


class _Reader:
    """Serves the verified bytes of one model directory and records which files were used."""

    def __init__(self, files: dict[str, bytes], prefix: str, used: set[str]):
        self.files = files
        self.prefix = prefix
        self.used = used
        self._arrays: dict[str, np.ndarray] | None = None
        self.array_keys_used: set[str] = set()

    def rel(self, name: str) -> str:
        return self.prefix + name

    def file(self, name: str) -> bytes:
        rel = self.prefix + name
        if rel not in self.files:
            raise ModelDirectoryError(
                f"{rel} is missing: metadata.json refers to it but the manifest does not list it."
            )
        self.used.add(rel)
        return self.files[rel]

    def array(self, key: str) -> np.ndarray:
        if self._arrays is None:
            self._arrays = _read_npz(self.file(_ARRAYS), self.rel(_ARRAYS))
        if key not in self._arrays:
            raise ModelDirectoryError(f"{self.rel(_ARRAYS)} lacks the array {key!r} that metadata.json refers to.")
        self.array_keys_used.add(key)
        return self._arrays[key]

    def finish(self) -> None:
        if self._arrays is not None:
            extra = sorted(set(self._arrays) - self.array_keys_used)
            if extra:
                raise ModelDirectoryError(f"{self.rel(_ARRAYS)} holds arrays no attribute refers to: {extra[:10]}.")


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _read_npz(data: bytes, rel: str) -> dict[str, np.ndarray]:
    """Arrays of an uncompressed ``.npz``, read with ``allow_pickle=False``.

    Each member's ``.npy`` header is checked against the member's size before
    the array is read, so a crafted header cannot make numpy allocate more
    than the file holds.
    """
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_FILES:
                raise ModelDirectoryError(f"{rel} holds more than {_MAX_FILES} arrays.")
            for info in infos:
                if not info.filename.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED:
                    raise ModelDirectoryError(
                        f"{rel} holds {info.filename!r}, which is not an uncompressed .npy array."
                    )
                key = info.filename[: -len(".npy")]
                if key in out:
                    raise ModelDirectoryError(f"{rel} holds the array {key!r} twice.")
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                    else:
                        raise ModelDirectoryError(f"{rel}: array {key!r} has an unsupported .npy version {version}.")
                    if dtype.kind not in "biuf" or dtype.hasobject:
                        raise ModelDirectoryError(f"{rel}: array {key!r} has dtype {dtype}; only numbers are allowed.")
                    count = math.prod(shape)
                    if count * dtype.itemsize != info.file_size - f.tell():
                        raise ModelDirectoryError(f"{rel}: array {key!r} does not have the size its header declares.")
                with zf.open(info) as f:
                    out[key] = np.lib.format.read_array(f, allow_pickle=False)
    except ModelDirectoryError:
        raise
    except Exception as exc:  # zipfile, numpy header and read errors of many types: the file is damaged
        raise ModelDirectoryError(f"{rel} is not a readable .npz file ({type(exc).__name__}: {exc}).") from None
    return out


# -- codecs ---------------------------------------------------------------------------------
_ABSENT = object()  # a codec's load may return this: leave the attribute unset


def _stem(attr: str) -> str:
    return attr.strip("_") or attr


class Codec:
    """How one fitted attribute is written to and read from a model directory.

    ``dump(value, attr, writer)`` returns the JSON description kept under
    ``metadata.json["attributes"][attr]`` (it may add files or arrays);
    ``load(description, attr, reader)`` rebuilds the value.
    """

    kind = ""

    def files(self, attr: str) -> tuple[str, ...]:
        """Names of the files (or a folder, ending in ``/``) this codec writes for ``attr``."""
        return ()

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<codec {self.kind}>"


class _DocumentCodec(Codec):
    """A value with its own versioned JSON (``to_json`` / ``from_dict``), written as ``<name>.json``."""

    def __init__(self, kind: str, cls: type, what: str):
        self.kind = kind
        self.cls = cls
        self.what = what

    def files(self, attr: str) -> tuple[str, ...]:
        return (f"{_stem(attr)}.json",)

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        if not isinstance(value, self.cls):
            raise ModelDirectoryError(f"{w.cls_name}.{attr} must be a {self.cls.__name__}, got {type(value).__name__}.")
        name = self.files(attr)[0]
        w.add_file(name, value.to_json().encode("utf-8"))
        return {"kind": self.kind, "file": name}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        name = _expect_file(desc, self.files(attr)[0], attr, r)
        data = _parse_json(r.file(name), r.rel(name))
        try:
            return self.cls.from_dict(data)
        except RulekdError as exc:
            raise ModelDirectoryError(f"{r.rel(name)} is not a valid {self.what}: {exc}") from None


def _expect_file(desc: dict, expected: str, attr: str, r: _Reader) -> str:
    _fields(desc, f"{r.rel(_METADATA)}: attribute {attr!r}", {"kind": str, "file": str})
    if desc["file"] != expected:
        raise ModelDirectoryError(
            f"{r.rel(_METADATA)}: attribute {attr!r} must be stored in {expected!r}, not {desc['file']!r}."
        )
    return expected


def _labels_to_json(values: Any, what: str) -> dict:
    arr = np.asarray(values)
    if arr.ndim != 1 or not _LABEL_DTYPE.match(arr.dtype.str):
        raise ModelDirectoryError(
            f"{what} must be a 1-D array of strings, numbers or booleans; got dtype {arr.dtype} and shape {arr.shape}."
        )
    items = arr.tolist()
    if arr.dtype.kind == "O":
        items = [v.item() if isinstance(v, np.generic) else v for v in items]
        bad = [v for v in items if not isinstance(v, (str, int, float, bool))]
        if bad:
            raise ModelDirectoryError(f"{what} holds values of type {type(bad[0]).__name__}; only str, int, float "
                                      f"and bool labels can be saved.")
    return {"dtype": arr.dtype.str, "values": [_encode(v) for v in items]}


def _labels_from_json(desc: Any, where: str) -> np.ndarray:
    _fields(desc, where, {"dtype": str, "values": list}, {"kind": str})
    dtype_str = desc["dtype"]
    if not _LABEL_DTYPE.match(dtype_str):
        raise ModelDirectoryError(f"{where}: unsupported label dtype {dtype_str!r}.")
    dtype = np.dtype(dtype_str)
    values = _decode(desc["values"], where)
    kind = dtype.kind
    allowed = {"b": bool, "i": int, "u": int, "f": float, "U": str, "O": str | int | float | bool}[kind]
    for v in values:
        if not _conforms(v, allowed):
            raise ModelDirectoryError(
                f"{where}: a value of dtype {dtype_str} must be {_type_name(allowed)}, got {_short(v)}."
            )
        if kind == "U" and len(v) > dtype.itemsize // 4:
            raise ModelDirectoryError(f"{where}: {_short(v)} is longer than dtype {dtype_str} allows.")
    if kind == "U" and dtype.itemsize * len(values) > max(_MAX_LABEL_BYTES, 4 * sum(len(v) for v in values)):
        # A label array can be wider than its longest value (y's own dtype), but <U999999999 only
        # allocates gigabytes from a one-line edit: the array may take at most 64 MiB beyond its text.
        raise ModelDirectoryError(f"{where}: dtype {dtype_str} would take {dtype.itemsize * len(values)} bytes "
                                  f"for {len(values)} values of at most {max([len(v) for v in values] + [0])} "
                                  f"characters.")
    if kind == "O":
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr
    try:
        return np.array(values, dtype=dtype)
    except (OverflowError, ValueError, TypeError) as exc:
        raise ModelDirectoryError(f"{where}: the values do not fit dtype {dtype_str} ({exc}).") from None


class _LabelsCodec(Codec):
    kind = "labels"

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        return {"kind": self.kind, **_labels_to_json(value, f"{w.cls_name}.{attr}")}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        return _labels_from_json(desc, f"{r.rel(_METADATA)}: attribute {attr!r}")


class _ArrayCodec(Codec):
    kind = "array"

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        w.add_array(attr, value, attr)
        return {"kind": self.kind, "key": attr}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        _fields(desc, f"{r.rel(_METADATA)}: attribute {attr!r}", {"kind": str, "key": str})
        if desc["key"] != attr:
            raise ModelDirectoryError(f"{r.rel(_METADATA)}: attribute {attr!r} must use array key {attr!r}.")
        return r.array(attr)


class _ArrayListCodec(Codec):
    kind = "arrays"

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        if not isinstance(value, (list, tuple)):
            raise ModelDirectoryError(f"{w.cls_name}.{attr} must be a list of arrays, got {type(value).__name__}.")
        for i, arr in enumerate(value):
            w.add_array(f"{attr}.{i}", arr, attr)
        return {"kind": self.kind, "count": len(value), "tuple": isinstance(value, tuple)}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        _fields(desc, f"{r.rel(_METADATA)}: attribute {attr!r}", {"kind": str, "count": int, "tuple": bool})
        if not 0 <= desc["count"] <= _MAX_FILES:
            raise ModelDirectoryError(f"{r.rel(_METADATA)}: attribute {attr!r} has an invalid count {desc['count']}.")
        out = [r.array(f"{attr}.{i}") for i in range(desc["count"])]
        return tuple(out) if desc["tuple"] else out


class Value(Codec):
    """A JSON value stored inline in ``metadata.json``.

    Parameters
    ----------
    type : type or generic alias, default=typing.Any
        What the stored value must be: ``int``, ``float``, ``str``, ``bool``,
        ``list[str]``, ``dict[str, float]``, ``tuple[int, ...]``,
        ``str | None``... Checked when saving and again when loading.
        Tuples, non-finite floats and non-string dictionary keys survive the
        round trip (they are tagged in the JSON).
    dump : callable, optional
        Turns the attribute into the stored value (e.g. property objects
        into their text); identity by default.
    load : callable, optional
        Turns the stored value back into the attribute (e.g.
        ``rulekd.verify.parse_property``); identity by default. Any exception
        it raises becomes a :class:`ModelDirectoryError` naming the attribute.
    """

    kind = "value"

    def __init__(self, type: Any = Any, *, dump: Callable[[Any], Any] | None = None,
                 load: Callable[[Any], Any] | None = None):
        self.type = type
        self._dump = dump
        self._load = load

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        data = self._dump(value) if self._dump is not None else value
        try:
            encoded = _encode(data)
        except _Unencodable as exc:
            raise ModelDirectoryError(
                f"{w.cls_name}.{attr} holds a {exc}, which is not a JSON value; declare the attribute with "
                f"another codec in the persistence registry."
            ) from None
        if not _conforms(_decode(encoded, attr), self.type):
            raise ModelDirectoryError(
                f"{w.cls_name}.{attr} must be {_type_name(self.type)} to be saved, got {_short(value)}."
            )
        return {"kind": self.kind, "value": encoded}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        where = f"{r.rel(_METADATA)}: attribute {attr!r}"
        _fields(desc, where, {"kind": str, "value": Any})
        value = _decode(desc["value"], where)
        if not _conforms(value, self.type):
            raise ModelDirectoryError(f"{where} must be {_type_name(self.type)}, got {_short(value)}.")
        if self._load is None:
            return value
        try:
            return self._load(value)
        except Exception as exc:  # a user-supplied converter: any failure means bad content
            raise ModelDirectoryError(f"{where} cannot be rebuilt: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"Value({_type_name(self.type)})"


class _EstimatorCodec(Codec):
    kind = "estimator"

    def files(self, attr: str) -> tuple[str, ...]:
        return (f"{_stem(attr)}/",)

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        sub = w.prefix + self.files(attr)[0]
        name = _write_model(value, w.files, sub)
        return {"kind": self.kind, "dir": self.files(attr)[0].rstrip("/"), "estimator": name}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        where = f"{r.rel(_METADATA)}: attribute {attr!r}"
        _fields(desc, where, {"kind": str, "dir": str, "estimator": str})
        expected = self.files(attr)[0].rstrip("/")
        if desc["dir"] != expected:
            raise ModelDirectoryError(f"{where} must be stored in the folder {expected!r}, not {desc['dir']!r}.")
        est = _read_model(r.files, r.prefix + expected + "/", r.used)
        if _entry_name(est) != desc["estimator"]:
            raise ModelDirectoryError(f"{where}: the folder holds a {_entry_name(est)}, not a {desc['estimator']}.")
        return est


class _TeacherCodec(Codec):
    """An XGBoost teacher in XGBoost's JSON; any other teacher is recorded as text and not saved."""

    kind = "teacher"

    def files(self, attr: str) -> tuple[str, ...]:
        return (f"{_stem(attr)}.json",)

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        from .teachers import XGBoostTeacher
        from .teachers._adapter import _unfrozen

        text = _describe(getattr(value, "estimator", value))
        if not isinstance(value, XGBoostTeacher):
            adapter = "None" if value is None else type(value).__name__
            return {"kind": self.kind, "saved": False, "adapter": adapter, "text": text,
                    "reason": "only XGBoost teachers are saved; predict never needs the teacher"}
        import xgboost as xgb
        from sklearn.frozen import FrozenEstimator

        inner = _unfrozen(value.estimator)
        booster = inner if isinstance(inner, xgb.Booster) else inner.get_booster()
        name = self.files(attr)[0]
        data = bytes(booster.save_raw(raw_format="json"))
        if len(data) > _MAX_FILE_BYTES:  # load refuses a larger file: keep the teacher out, and say why
            return {"kind": self.kind, "saved": False, "adapter": "XGBoostTeacher", "text": text,
                    "reason": f"its JSON has {len(data)} bytes, more than the {_MAX_FILE_BYTES} a model file may "
                              f"hold. Predict never needs the teacher."}
        try:
            _check_xgboost_json(_parse_json(data, name), name)
        except ModelDirectoryError as exc:  # e.g. dart, gblinear, multi-output trees: kept out, said why
            return {"kind": self.kind, "saved": False, "adapter": "XGBoostTeacher", "text": text,
                    "reason": f"{exc} Predict never needs the teacher."}
        w.add_file(name, data)
        desc = {
            "kind": self.kind, "saved": True, "adapter": "XGBoostTeacher",
            "model": "XGBClassifier" if type(inner) is xgb.XGBClassifier else "Booster",
            "frozen": isinstance(value.estimator, FrozenEstimator),
            "classes": _labels_to_json(value.classes_, f"{w.cls_name}.{attr}.classes_"),
            "file": name, "text": text,
        }
        if type(inner) is xgb.XGBClassifier:
            # The booster's JSON keeps the trees, not the scikit-learn parameters (n_estimators, max_depth,
            # ...): kept here so that a loaded teacher reports them (an audit reads them) and refits alike.
            desc["params"] = {k: v for k, v in inner.get_params(deep=False).items() if _plain_param(v)}
        return desc

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        where = f"{r.rel(_METADATA)}: attribute {attr!r}"
        if not isinstance(desc, dict) or desc.get("saved") is not True:
            _fields(desc, where, {"kind": str, "saved": bool, "adapter": str, "text": str, "reason": str})
            return None
        _fields(desc, where, {"kind": str, "saved": bool, "adapter": str, "model": str, "frozen": bool,
                              "classes": dict, "file": str, "text": str}, {"params": dict})
        name = _expect_file(
            {"kind": desc["kind"], "file": desc["file"]}, self.files(attr)[0], attr, r
        )
        if desc["adapter"] != "XGBoostTeacher" or desc["model"] not in ("XGBClassifier", "Booster"):
            raise ModelDirectoryError(f"{where}: unknown teacher {desc['adapter']}/{desc['model']}.")
        classes = _labels_from_json(desc["classes"], f"{where}.classes")
        data = r.file(name)
        _check_xgboost_json(_parse_json(data, r.rel(name)), r.rel(name))
        import xgboost as xgb
        from sklearn.frozen import FrozenEstimator

        from .teachers import XGBoostTeacher

        params = desc.get("params", {})
        # XGBClassifier keeps extra keyword parameters (nthread=...) too: any name, plain values only.
        bad = sorted(k for k, v in params.items() if not k.isidentifier() or not _plain_param(v))
        if bad or (params and desc["model"] != "XGBClassifier"):
            raise ModelDirectoryError(f"{where}: teacher parameters {bad[:10] or sorted(params)[:10]} are not "
                                      f"XGBClassifier parameters with plain values.")
        try:
            if desc["model"] == "XGBClassifier":
                est = xgb.XGBClassifier(**params)
                est.load_model(bytearray(data))
            else:
                est = xgb.Booster()
                est.load_model(bytearray(data))
            if desc["frozen"]:
                est = FrozenEstimator(est)
            return XGBoostTeacher(est, classes=classes)
        except Exception as exc:  # XGBoostError, TeacherError, TypeError...: the model file is not usable
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ModelDirectoryError(f"{r.rel(name)}: XGBoost cannot load the teacher: {first}") from None


def _plain_param(v: Any) -> bool:
    """A parameter value JSON holds exactly: None, a bool, an int, a finite float or text."""
    if isinstance(v, float):
        return math.isfinite(v)
    return v is None or isinstance(v, (bool, int, str))


# -- the XGBoost teacher's JSON ----------------------------------------------------------------------
_XGB_OBJECTIVES = ("binary:logistic", "binary:logitraw", "multi:softprob", "multi:softmax")
_XGB_TREE_KEYS = {
    "base_weights", "categories", "categories_nodes", "categories_segments", "categories_sizes", "default_left",
    "id", "left_children", "loss_changes", "parents", "right_children", "split_conditions", "split_indices",
    "split_type", "sum_hessian", "tree_param",
}
_XGB_ROOT_PARENT = 2147483647  # how XGBoost writes the root's (invalid) parent
_XGB_MAX_CATEGORY = 2**24  # XGBoost's own bound: categories are exact in float32
# Bits of category sets all categorical splits together may need (16 MiB): real models need a few per split.
_XGB_MAX_CATEGORY_BITS = 2**27
_XGB_INT_KINDS = {9: (-(2**7), 2**7), 10: (0, 2**8), 11: (-(2**15), 2**15), 12: (0, 2**16),
                  13: (-(2**31), 2**31), 14: (0, 2**32), 15: (-(2**63), 2**63), 16: (0, 2**64)}
_INT_TEXT = re.compile(r"^(0|[1-9][0-9]{0,8})$")
_FLOATS_TEXT = re.compile(r"^\[?-?[0-9.]+(E[-+]?[0-9]+)?(,-?[0-9.]+(E[-+]?[0-9]+)?)*\]?$", re.IGNORECASE)


def _check_xgboost_json(doc: Any, rel: str) -> None:
    """Refuse an XGBoost model JSON that is not a plain tree ensemble with consistent indices.

    XGBoost's loader trusts the indices in the file (children, parents,
    category segments, the category encoder); an inconsistent file can crash
    the process instead of raising. Only the gbtree classifiers that rulekd
    fits are accepted, with every index checked against its array.
    """

    def fail(msg: str) -> None:
        raise ModelDirectoryError(f"{rel} is not an XGBoost tree model rulekd can load safely: {msg}.")

    def need(ok: bool, msg: str) -> None:
        if not ok:
            fail(msg)

    def ints(v: Any, lo: int, hi: int) -> bool:  # every element an int in [lo, hi)
        return isinstance(v, list) and all(type(x) is int and lo <= x < hi for x in v)

    def numbers(v: Any, n: int) -> bool:
        return isinstance(v, list) and len(v) == n and all(type(x) in (int, float) for x in v)

    def count(text: Any, lo: int, hi: int, what: str) -> int:
        ok = isinstance(text, str) and bool(_INT_TEXT.match(text)) and lo <= int(text) < hi
        need(ok, f"{what} is {_short(text)}")
        return int(text)

    need(isinstance(doc, dict) and set(doc) == {"learner", "version"}, "the top level must hold learner and version")
    need(ints(doc["version"], 0, 2**31) and len(doc["version"]) == 3, "version must be [major, minor, patch]")
    learner = doc["learner"]
    need(isinstance(learner, dict), "learner must be an object")
    need({"gradient_booster", "learner_model_param", "objective"} <= set(learner) <= {
        "attributes", "feature_names", "feature_types", "gradient_booster", "learner_model_param", "objective"},
        "learner has unexpected keys")
    lmp = learner["learner_model_param"]
    need(_conforms(lmp, dict[str, str]), "learner_model_param must map names to strings")
    need(set(lmp) <= {"base_score", "boost_from_average", "num_class", "num_feature", "num_target"}
         and {"base_score", "num_class", "num_feature"} <= set(lmp), "learner_model_param has unexpected keys")
    n_feature = count(lmp["num_feature"], 1, 10**7, "num_feature")
    n_class = count(lmp["num_class"], 0, 10**5, "num_class")
    need(n_class != 1, "num_class is 1")
    need(lmp.get("num_target", "1") == "1", "only single-target models are supported")
    need(lmp.get("boost_from_average", "1") in ("0", "1"), "boost_from_average must be 0 or 1")
    need(bool(_FLOATS_TEXT.match(lmp["base_score"])) and len(lmp["base_score"]) < 10**6, "base_score is malformed")
    need(_conforms(learner.get("attributes", {}), dict[str, str]), "attributes must map names to strings")
    names, types_ = learner.get("feature_names", []), learner.get("feature_types", [])
    need(_conforms(names, list[str]) and len(names) in (0, n_feature), "feature_names do not match num_feature")
    need(_conforms(types_, list[str]) and len(types_) in (0, n_feature)
         and all(t in ("q", "c", "int", "float", "i") for t in types_), "feature_types are malformed")
    objective = learner["objective"]
    need(isinstance(objective, dict) and objective.get("name") in _XGB_OBJECTIVES,
         f"the objective must be one of {_XGB_OBJECTIVES}")
    need(all(_conforms(v, dict[str, str]) for k, v in objective.items() if k != "name"), "objective is malformed")
    need(objective["name"].startswith("binary:") == (n_class == 0), "the objective does not match num_class")
    gb = learner["gradient_booster"]
    need(isinstance(gb, dict) and set(gb) == {"name", "model"} and gb["name"] == "gbtree",
         "only the gbtree booster is supported")
    model = gb["model"]
    required = {"gbtree_model_param", "iteration_indptr", "tree_info", "trees"}
    need(isinstance(model, dict) and required <= set(model) <= required | {"cats"}, "the model has unexpected keys")
    trees = model["trees"]
    need(isinstance(trees, list) and len(trees) <= 10**6, "trees must be a list")
    param = model["gbtree_model_param"]
    need(_conforms(param, dict[str, str]) and set(param) == {"num_parallel_tree", "num_trees"},
         "gbtree_model_param is malformed")
    need(count(param["num_trees"], 0, 10**6 + 1, "num_trees") == len(trees), "num_trees differs from the trees")
    count(param["num_parallel_tree"], 1, 10**4, "num_parallel_tree")
    need(ints(model["tree_info"], 0, max(n_class, 1)) and len(model["tree_info"]) == len(trees),
         "tree_info is malformed")
    indptr = model["iteration_indptr"]
    need(ints(indptr, 0, len(trees) + 1) and indptr[:1] == [0] and indptr[-1:] == [len(trees)]
         and all(a <= b for a, b in zip(indptr, indptr[1:])), "iteration_indptr is malformed")
    n_cats = _check_xgboost_cats(model.get("cats"), n_feature, need, ints)
    for t, tree in enumerate(trees):
        _check_xgboost_tree(tree, t, n_feature, types_, n_cats, need, ints, numbers, count)
    # XGBoost gives each categorical split a bit field as wide as its largest category: 2 MiB for one split on
    # category 2**24 - 1, so a few kilobytes of JSON could ask for gigabytes.
    bits = sum(max(tree["categories"][s:s + k]) + 1 for tree in trees
               for s, k in zip(tree["categories_segments"], tree["categories_sizes"]))
    need(bits <= _XGB_MAX_CATEGORY_BITS, f"the categorical splits would need {bits} bits of category sets "
                                         f"(at most {_XGB_MAX_CATEGORY_BITS})")


def _check_xgboost_cats(cats: Any, n_feature: int, need: Callable, ints: Callable) -> list[int] | None:
    """The category encoder (XGBoost >= 3.1): per feature its categories; returns their counts."""
    if cats is None:
        return None
    need(isinstance(cats, dict) and {"enc", "feature_segments", "sorted_idx"} <= set(cats)
         <= {"enc", "feature_segments", "sorted_idx", "is_ref", "sorted"}, "cats has unexpected keys")
    need(all(isinstance(cats.get(k, False), bool) for k in ("is_ref", "sorted")), "cats flags must be booleans")
    enc, segments, sorted_idx = cats["enc"], cats["feature_segments"], cats["sorted_idx"]
    need(isinstance(enc, list) and len(enc) in (0, n_feature), "cats.enc does not match num_feature")
    sizes: list[int] = []
    keys: list[list] = []
    for col in enc:
        need(isinstance(col, dict), "a cats.enc entry must be an object")
        if "offsets" in col:
            need(set(col) == {"offsets", "values"}, "a string category column has unexpected keys")
            off, val = col["offsets"], col["values"]
            need(ints(val, -(2**7), 2**8) and ints(off, 0, len(val) + 1) and len(off) != 1
                 and (not off or (off[0] == 0 and off[-1] == len(val)))
                 and all(a <= b for a, b in zip(off, off[1:])), "a string category column is malformed")
            keys.append([val[a:b] for a, b in zip(off, off[1:])])
        else:
            need(set(col) == {"type", "values"} and type(col["type"]) is int and col["type"] in _XGB_INT_KINDS,
                 "a numeric category column must hold integers")
            lo, hi = _XGB_INT_KINDS[col["type"]]
            need(ints(col["values"], lo, hi), "a numeric category column has values outside its type")
            keys.append(list(col["values"]))
        sizes.append(len(keys[-1]))
    total = sum(sizes)
    need(total < 2**31, "too many categories")
    if not enc:
        need(segments == [] and sorted_idx == [], "cats without columns must have empty segments")
        return None
    expected = [0]
    for s in sizes:
        expected.append(expected[-1] + s)
    need(segments == expected, "cats.feature_segments do not match the columns")
    if sorted_idx:
        need(ints(sorted_idx, 0, 2**31) and len(sorted_idx) == total, "cats.sorted_idx is malformed")
        for j, k in enumerate(keys):
            part = sorted_idx[expected[j]:expected[j + 1]]
            need(sorted(part) == list(range(len(k))), "cats.sorted_idx does not permute each feature's categories")
    return sizes


def _check_xgboost_tree(tree: Any, t: int, n_feature: int, types_: list, n_cats: list[int] | None,
                        need: Callable, ints: Callable, numbers: Callable, count: Callable) -> None:
    need(isinstance(tree, dict) and set(tree) == _XGB_TREE_KEYS, f"tree {t} has unexpected keys")
    tp = tree["tree_param"]
    need(_conforms(tp, dict[str, str]) and set(tp) == {"num_deleted", "num_feature", "num_nodes", "size_leaf_vector"},
         f"tree {t}: tree_param is malformed")
    need(tp["num_deleted"] == "0" and tp["size_leaf_vector"] == "1", f"tree {t}: only plain scalar trees are supported")
    need(count(tp["num_feature"], 1, 10**7, "num_feature") == n_feature, f"tree {t}: num_feature differs")
    n = count(tp["num_nodes"], 1, 2**24, f"tree {t}: num_nodes")
    need(tree["id"] == t and type(tree["id"]) is int, f"tree {t}: id must be {t}")
    for key in ("base_weights", "loss_changes", "sum_hessian", "split_conditions"):
        need(numbers(tree[key], n), f"tree {t}: {key} must hold {n} numbers")
    left, right, parents = tree["left_children"], tree["right_children"], tree["parents"]
    for key in ("left_children", "right_children"):
        need(ints(tree[key], -1, n) and len(tree[key]) == n, f"tree {t}: {key} must hold {n} node ids")
    need(ints(parents, 0, 2**31) and len(parents) == n and parents[0] == _XGB_ROOT_PARENT,
         f"tree {t}: parents are malformed")
    need(ints(tree["split_indices"], 0, n_feature) and len(tree["split_indices"]) == n,
         f"tree {t}: split_indices must be feature indices")
    need(ints(tree["default_left"], 0, 2) and len(tree["default_left"]) == n, f"tree {t}: default_left must be 0/1")
    split_type = tree["split_type"]
    need(ints(split_type, 0, 2) and len(split_type) == n, f"tree {t}: split_type must be 0/1")
    parent_of = {}
    for i in range(n):
        leaf = left[i] == -1
        need(leaf == (right[i] == -1), f"tree {t}: node {i} has one child")
        if leaf:
            need(split_type[i] == 0, f"tree {t}: leaf {i} has a categorical split")
            continue
        need(left[i] != right[i] and 0 not in (left[i], right[i]), f"tree {t}: node {i} has invalid children")
        for c in (left[i], right[i]):
            need(c not in parent_of, f"tree {t}: node {c} has two parents")
            parent_of[c] = i
    need(len(parent_of) == n - 1 and all(parents[c] == p for c, p in parent_of.items()),
         f"tree {t}: parents do not match the children")
    seen, stack = 0, [0]
    while stack:  # every node reachable from the root: no detached cycles
        i = stack.pop()
        seen += 1
        if left[i] != -1:
            stack += [left[i], right[i]]
        need(seen <= n, f"tree {t}: the nodes do not form a tree")
    need(seen == n, f"tree {t}: the nodes do not form a tree")
    nodes, starts, sizes, cats = (tree["categories_nodes"], tree["categories_segments"], tree["categories_sizes"],
                                  tree["categories"])
    need(ints(cats, 0, _XGB_MAX_CATEGORY), f"tree {t}: categories must be small non-negative integers")
    need(ints(nodes, 0, n) and nodes == sorted(set(nodes))
         and set(nodes) == {i for i in range(n) if split_type[i] == 1}, f"tree {t}: categories_nodes are malformed")
    need(ints(starts, 0, len(cats) + 1) and ints(sizes, 1, len(cats) + 1) and len(starts) == len(sizes) == len(nodes)
         and all(s + k <= len(cats) for s, k in zip(starts, sizes)), f"tree {t}: category segments are malformed")
    for node, s, k in zip(nodes, starts, sizes):
        f = tree["split_indices"][node]
        need(not types_ or types_[f] == "c", f"tree {t}: node {node} splits a non-categorical feature by categories")
        if n_cats is not None:
            need(max(cats[s:s + k]) < max(n_cats[f], 1), f"tree {t}: node {node} names an unknown category")


RULESET: Codec = _DocumentCodec("ruleset", RuleSet, "rule set")
"""A :class:`~rulekd.RuleSet`, written as ``<name>.json`` in the versioned rule-set JSON."""
DOMAIN: Codec = _DocumentCodec("domain", Domain, "Domain")
"""A :class:`~rulekd.Domain`, written as ``<name>.json`` in the Domain JSON."""
LABELS: Codec = _LabelsCodec()
"""A 1-D array of labels or names (``classes_``, ``feature_names_in_``), dtype and element types kept."""
ARRAY: Codec = _ArrayCodec()
"""A numeric or boolean numpy array, in ``arrays.npz``."""
ARRAYS: Codec = _ArrayListCodec()
"""A list (or tuple) of numeric numpy arrays, in ``arrays.npz``."""
ESTIMATOR: Codec = _EstimatorCodec()
"""A nested fitted rulekd estimator, written as the model directory ``<name>/``."""
TEACHER: Codec = _TeacherCodec()
"""A :class:`~rulekd.Teacher`: XGBoost as ``<name>.json`` (XGBoost's JSON); others not saved (``None`` on load)."""


def _property_texts(properties: Any) -> list[str]:
    return [p.text() for p in properties]


def _parse_properties(texts: list[str]) -> tuple:
    from .verify import parse_property

    return tuple(parse_property(t) for t in texts)


PROPERTIES: Codec = Value(list[str], dump=_property_texts, load=_parse_properties)
"""A tuple of :mod:`rulekd.verify` properties, stored as their text and parsed back (never evaluated)."""


class _TorchModuleCodec(Codec):
    """The neural student's torch network: its state dict in ``arrays.npz``; rebuilt when torch is installed."""

    kind = "torch_module"

    def dump(self, value: Any, attr: str, w: _Writer) -> dict:
        sd = value.state_dict()
        keys = list(sd)
        for key in keys:
            w.add_array(f"{attr}.{key}", sd[key].detach().cpu().numpy(), attr)
        spec = [int(value.n_inputs), [list(e) for e in value.embedded],
                [int(lin.out_features) for lin in value.hidden], int(value.out.out_features)]
        return {"kind": self.kind, "keys": keys, "spec": spec}

    def load(self, desc: dict, attr: str, r: _Reader) -> Any:
        where = f"{r.rel(_METADATA)}: attribute {attr!r}"
        _fields(desc, where, {"kind": str, "keys": list[str], "spec": list})
        spec = desc["spec"]
        if not (len(spec) == 4 and _conforms(spec[0], int) and _conforms(spec[1], list[list[int]])
                and all(len(e) == 3 for e in spec[1]) and _conforms(spec[2], list[int]) and _conforms(spec[3], int)):
            raise ModelDirectoryError(f"{where}: 'spec' must be [n_inputs, [[start, stop, dim], ...], [width, ...], "
                                      f"n_outputs], got {_short(spec)}.")
        arrays = {key: r.array(f"{attr}.{key}") for key in desc["keys"]}
        try:
            import torch
        except ImportError:
            return _ABSENT  # prediction runs in numpy; module_ needs torch
        n_inputs, embedded, hidden, n_out = spec
        expected = {"passthrough": None, "out.weight": (n_out, None), "out.bias": (n_out,)}
        for i, h in enumerate(hidden):
            expected[f"hidden.{i}.weight"] = (h, None)
            expected[f"hidden.{i}.bias"] = (h,)
        for e, (a, b, d) in enumerate(embedded):
            expected[f"embeddings.{e}.weight"] = (d, b - a)
        if set(arrays) != set(expected):
            raise ModelDirectoryError(f"{where}: the saved state does not match the network spec {spec}.")
        for key, shape in expected.items():
            arr = arrays[key]
            if shape is not None and (
                arr.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, arr.shape))
            ):
                raise ModelDirectoryError(f"{where}: {key} has shape {arr.shape}, the spec needs {shape}.")
        n_passthrough = arrays["passthrough"].shape[0] if arrays["passthrough"].ndim == 1 else -1
        if n_inputs != n_passthrough + sum(max(0, b - a) for a, b, _ in embedded):
            # before any loop over n_inputs: a number in the JSON must not decide how long loading takes
            raise ModelDirectoryError(f"{where}: the network spec {spec} does not match its input layout.")
        inside = {j for a, b, _ in embedded for j in range(max(a, 0), min(b, n_inputs))}
        passthrough = [j for j in range(n_inputs) if j not in inside]
        if not all(0 <= a < b <= n_inputs and d >= 1 for a, b, d in embedded) or len(inside) != sum(
            b - a for a, b, _ in embedded
        ) or arrays["passthrough"].tolist() != passthrough:
            raise ModelDirectoryError(f"{where}: the network spec {spec} is inconsistent.")
        from .students._mlp import _network_class

        try:
            net = _network_class()(n_inputs, [tuple(e) for e in embedded], tuple(hidden), n_out)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}, strict=True)
        except Exception as exc:  # torch raises RuntimeError / ValueError / TypeError on a bad state
            raise ModelDirectoryError(f"{where}: the network cannot be rebuilt: {str(exc)[:300]}") from None
        return net.eval()


_TORCH_MODULE: Codec = _TorchModuleCodec()


# -- registry -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    name: str
    cls: Any  # a class, or "module:QualName", imported on first use
    fields: Mapping[str, Codec]
    optional: frozenset[str]
    skip: frozenset[str]
    check: Callable[[Any], None] | None = None
    _resolved: list = field(default_factory=list, compare=False, repr=False)

    def resolve(self) -> type:
        if not self._resolved:
            cls = self.cls
            if isinstance(cls, str):
                import importlib

                module, _, qual = cls.partition(":")
                cls = importlib.import_module(module)
                for part in qual.split("."):
                    cls = getattr(cls, part)
            self._resolved.append(cls)
        return self._resolved[0]


_REGISTRY: dict[str, _Entry] = {}


def register(
    cls: type | str,
    fields: Mapping[str, Codec],
    *,
    name: str | None = None,
    optional: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    check: Callable[[Any], None] | None = None,
) -> None:
    """Declare how an estimator class is saved and loaded.

    Parameters
    ----------
    cls : type or str
        The estimator class, or ``"module:ClassName"`` (imported on first use).
        Only this exact class is saved (not subclasses, whose state may differ).
    fields : mapping of str to codec
        Each fitted attribute and its codec: :data:`RULESET`, :data:`DOMAIN`,
        :data:`LABELS`, :data:`ARRAY`, :data:`ARRAYS`, :data:`ESTIMATOR`,
        :data:`TEACHER` or a :class:`Value`. File names derive from the
        attribute (``rules_`` -> ``rules.json``, ``student_`` -> ``student/``).
    name : str, optional
        The name recorded in ``metadata.json`` (default ``"rulekd.<ClassName>"``);
        :func:`load` accepts only registered names.
    optional : tuple of str
        Attributes that may be absent (``feature_names_in_`` always may).
    skip : tuple of str
        Fitted attributes that are deliberately not saved (fit-time state).
    check : callable, optional
        ``check(estimator)`` validates a loaded estimator as a whole (raise
        ``ValueError`` for an inconsistent one), after the common checks.
    """
    qual = cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"
    if name is None:
        name = "rulekd." + qual.rpartition(":")[2].rpartition(".")[2]
    used: dict[str, str] = {}
    for attr, codec in fields.items():
        if not isinstance(codec, Codec):
            raise TypeError(f"The codec of {attr!r} must be a rulekd._persist codec, got {codec!r}.")
        for f in codec.files(attr):
            if f in used or f in (_METADATA, _MANIFEST, _ARRAYS):
                raise ValueError(f"{attr!r} would write {f!r}, which {used.get(f, 'the model directory')} uses.")
            used[f] = attr
    _REGISTRY[name] = _Entry(
        name=name, cls=cls, fields=dict(fields),
        optional=frozenset(optional) | {"feature_names_in_"}, skip=frozenset(skip), check=check,
    )


COMMON_FIELDS: dict[str, Codec] = {
    "classes_": LABELS,
    "feature_names_in_": LABELS,
    "n_features_in_": Value(int),
    "domain_": DOMAIN,
    "teacher_": TEACHER,
}
"""Fields every rulekd classifier has; spread them into an entry with ``**COMMON_FIELDS``."""

_STUDENT_FIELDS: dict[str, Codec] = {
    **COMMON_FIELDS,
    "_feature_names_": Value(list[str]),
    "_object_columns_": Value(list[str]),
    "_seed_": Value(int),
    "fidelity_": Value(float),
}

_RULE_STUDENT_FIELDS: dict[str, Codec] = {
    **_STUDENT_FIELDS,
    "rules_": RULESET,
    "complexity_": Value(dict[str, int]),
    "criterion_": Value(str),
    "refined_": Value(bool),
    "_cat_orders_": Value(dict[str, list[str | int | float | bool]]),
}


def _entry_for(model: Any) -> _Entry:
    for entry in _REGISTRY.values():
        try:
            cls = entry.resolve()
        except (ImportError, AttributeError):  # pragma: no cover - an optional module not installed
            continue
        if type(model) is cls:
            return entry
    names = sorted(_REGISTRY)
    raise ModelDirectoryError(
        f"rulekd.save writes rulekd estimators only ({', '.join(n.rpartition('.')[2] for n in names)}); "
        f"got {type(model).__module__}.{type(model).__qualname__}. A subclass needs its own registry entry "
        f"(see rulekd._persist.register)."
    )


def _entry_name(model: Any) -> str:
    return _entry_for(model).name


# -- consistency checks ---------------------------------------------------------------------------
def _check_common(est: Any, entry: _Entry) -> None:
    """What every estimator's predict relies on: labels, Domain and rules agree with each other."""
    classes = getattr(est, "classes_", None)
    if classes is not None:
        values = classes.tolist()
        if len(values) < 2 or len(set(values)) != len(values):
            raise ValueError(f"classes_ must hold at least two distinct labels, got {_short(values)}.")
    dom = getattr(est, "domain_", None)
    if dom is not None:
        names = list(dom.names)
        if hasattr(est, "n_features_in_") and est.n_features_in_ != len(names):
            raise ValueError(f"n_features_in_ is {est.n_features_in_} but the Domain has {len(names)} features.")
        fn = getattr(est, "feature_names_in_", None)
        if fn is not None and [str(v) for v in fn.tolist()] != names:
            raise ValueError("feature_names_in_ differs from the Domain's feature names.")
        if fn is not None and not all(isinstance(v, str) for v in fn.tolist()):
            raise ValueError("feature_names_in_ must hold strings.")
        private = getattr(est, "_feature_names_", None)
        if private is not None and list(private) != names:
            raise ValueError("_feature_names_ differs from the Domain's feature names.")
        booster = getattr(getattr(est, "teacher_", None), "_booster", None)
        if booster is not None and booster.num_features() != len(names):  # audit and refit would fail inside XGBoost
            raise ValueError(f"the teacher reads {booster.num_features()} features, the model {len(names)}.")
    for attr, codec in entry.fields.items():
        rs = getattr(est, attr, None)
        if codec is not RULESET or rs is None:
            continue
        if classes is not None and list(rs.classes) != classes.tolist():
            raise ValueError(f"{attr}.classes {list(rs.classes)[:10]} differ from classes_ {classes.tolist()[:10]}.")
        if dom is None:
            continue
        for rule in rs.rules:
            for c in rule.conditions:
                if c.feature not in dom:
                    raise ValueError(f"rule {rule.id!r} of {attr} tests {c.feature!r}, which the Domain lacks.")
                # A set of values on a numeric feature (`a in {2, 6}`, from a user's candidate rules), and a
                # threshold on a categorical feature whose levels are numbers, are read by predict and the
                # verifier alike; a threshold on text levels is not.
                spec = dom[c.feature]
                if c.is_numeric and spec.kind == "categorical" and not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec.levels):
                    raise ValueError(f"rule {rule.id!r} of {attr} compares {c.feature!r} in a way its "
                                     f"{dom[c.feature].kind} kind does not allow.")
    teacher_classes = getattr(getattr(est, "teacher_", None), "classes_", None)
    if classes is not None and teacher_classes is not None:
        unknown = [c for c in classes.tolist() if c not in set(np.asarray(teacher_classes).tolist())]
        if unknown:
            raise ValueError(f"the teacher does not know the classes {_short(unknown)}.")


def _check_mlp(est: Any) -> None:
    """The neural student's encoding and weights fit each other, its Domain and its classes."""
    coefs, intercepts, enc = est.coefs_, est.intercepts_, est.encoding_
    if len(coefs) < 2 or len(coefs) != len(intercepts):
        raise ValueError("coefs_ and intercepts_ must hold the same number (at least 2) of layers.")
    width = len(enc)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        if W.dtype != np.float64 or b.dtype != np.float64 or W.ndim != 2 or b.ndim != 1:
            raise ValueError(f"layer {i}: weights must be float64 matrices and bias vectors.")
        if W.shape[0] != width or b.shape[0] != W.shape[1]:
            raise ValueError(f"layer {i}: shapes {W.shape} / {b.shape} do not chain from width {width}.")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):  # predict_proba would answer NaN
            raise ValueError(f"layer {i}: the weights hold NaN or infinity.")
        width = W.shape[1]
    k = len(est.classes_)
    if width != (1 if k == 2 else k):
        raise ValueError(f"the network has {width} outputs for {k} classes.")
    net = getattr(est, "module_", None)
    if net is not None and (net.n_inputs != len(enc) or int(net.out.out_features) != width):
        raise ValueError("module_ does not have the shape of coefs_.")
    keys = {"numeric": {"name", "feature", "kind", "mean", "scale", "impute"},
            "missing_indicator": {"name", "feature", "kind"},
            "onehot": {"name", "feature", "kind", "level"},
            "step": {"name", "feature", "kind", "threshold"}}
    # Step columns (threshold_inputs) follow their numeric feature's columns, thresholds increasing.
    by_feature: dict = {}
    for e in enc:
        if isinstance(e, dict) and e.get("kind") == "step":
            if set(e) != keys["step"] or not isinstance(e["threshold"], float) or not math.isfinite(e["threshold"]):
                raise ValueError(f"encoding_ step column {_short(e)} needs name, feature and a finite float threshold.")
            by_feature.setdefault(e["feature"], []).append(e["threshold"])
    expected = []
    for spec in est.domain_.features:
        if spec.kind == "categorical":
            expected += [("onehot", spec.name, level) for level in spec.levels]
            continue
        expected.append(("numeric", spec.name, None))
        if spec.allow_missing:
            expected.append(("missing_indicator", spec.name, None))
        ts = by_feature.pop(spec.name, [])
        if any(b <= a for a, b in zip(ts, ts[1:])):
            raise ValueError(f"encoding_: the step thresholds of {spec.name!r} must increase, got {ts[:10]}.")
        expected += [("step", spec.name, t) for t in ts]
    if by_feature:
        raise ValueError(f"encoding_ has step columns of {sorted(map(str, by_feature))[:10]}, which are not numeric "
                         f"features of the Domain.")
    if len(enc) != len(expected):
        raise ValueError(f"encoding_ has {len(enc)} columns; the Domain implies {len(expected)}.")
    for j, (e, (kind, feature, level)) in enumerate(zip(enc, expected)):
        if e.get("kind") != kind or e.get("feature") != feature or set(e) != keys[kind]:
            raise ValueError(f"encoding_[{j}] must be a {kind} column of {feature!r}, got {_short(e)}.")
        if not isinstance(e["name"], str):
            raise ValueError(f"encoding_[{j}]['name'] must be a string.")
        if kind == "step" and e["threshold"] != level:
            raise ValueError(f"encoding_[{j}] must be the step at {level!r} of {feature!r}, got {_short(e)}.")
        if kind == "onehot" and (type(e["level"]) is not type(level) or e["level"] != level):
            raise ValueError(f"encoding_[{j}] must encode level {level!r} of {feature!r}, got {e['level']!r}.")
        if kind == "numeric":
            vals = [e["mean"], e["scale"], e["impute"]]
            if not all(isinstance(v, float) and math.isfinite(v) for v in vals) or e["scale"] == 0:
                raise ValueError(f"encoding_[{j}] needs finite float mean, impute and a non-zero scale.")


register("rulekd.students:DistilledRuleClassifier", _RULE_STUDENT_FIELDS, skip=("_cuts_",))
register("rulekd.students:DistilledTreeClassifier", _RULE_STUDENT_FIELDS, skip=("_cuts_",))
register(
    "rulekd.students:DistilledMLPClassifier",
    {
        **_STUDENT_FIELDS,
        "coefs_": ARRAYS,
        "intercepts_": ARRAYS,
        "encoding_": Value(list[dict[str, str | int | float | bool]]),
        "_embedded_": Value(list[tuple[int, int, int]]),
        "module_": _TORCH_MODULE,
        "n_parameters_": Value(int),
        "feature_kind_": Value(str | None),
        "loss_scales_": Value(dict[str, float]),
        "initial_losses_": Value(dict[str, float]),
        "history_": Value(list[dict[str, int | float]]),
        "n_epochs_": Value(int),
        "best_epoch_": Value(int),
    },
    optional=("module_",),
    check=_check_mlp,
)


# -- writing ---------------------------------------------------------------------------------------
def _versions() -> dict[str, str | None]:
    import importlib.metadata
    import platform

    import pandas
    import sklearn

    from . import __version__

    def dist(module: str, *names: str) -> str | None:
        mod = sys.modules.get(module)
        if mod is not None and isinstance(getattr(mod, "__version__", None), str):
            return mod.__version__
        for n in names:
            try:
                return importlib.metadata.version(n)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    return {
        "rulekd": __version__, "python": platform.python_version(), "numpy": np.__version__,
        "pandas": pandas.__version__, "scikit-learn": sklearn.__version__,
        "xgboost": dist("xgboost", "xgboost", "xgboost-cpu"), "torch": dist("torch", "torch"),
    }


def _fitted_attributes(model: Any) -> list[str]:
    return [k for k in vars(model) if k.endswith("_") and not k.startswith("__")]


def _write_model(model: Any, files: dict[str, bytes], prefix: str) -> str:
    """Add the files of ``model``'s directory (under ``prefix``) to ``files``; return its entry name."""
    from sklearn.utils.validation import check_is_fitted

    entry = _entry_for(model)
    check_is_fitted(model)
    cls_name = type(model).__name__
    undeclared = sorted(set(_fitted_attributes(model)) - set(entry.fields) - entry.skip)
    if undeclared:
        raise ModelDirectoryError(
            f"{cls_name} has fitted attribute(s) {undeclared} that its model-directory entry does not declare; "
            f"add them to the entry's fields (or skip) in rulekd._persist so that no state is dropped."
        )
    try:  # what load would refuse is not written (a diverged network's NaN weights saved, then never loaded)
        _check_common(model, entry)
        if entry.check is not None:
            entry.check(model)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ModelDirectoryError(f"{cls_name} cannot be saved: {exc}") from None
    w = _Writer(files, prefix, cls_name)
    params: dict[str, Any] = {}
    for key, val in model.get_params(deep=False).items():
        if key in _LATER_PARAMS and val is _LATER_PARAMS[key]:
            continue
        try:
            params[key] = _encode(val)
        except _Unencodable:
            params[key] = {"$text": _describe(val)}
    attributes: dict[str, Any] = {}
    for attr, codec in entry.fields.items():
        if attr not in vars(model):
            if attr in entry.optional:
                continue
            raise ModelDirectoryError(f"{cls_name} is fitted but lacks {attr!r}; it cannot be saved.")
        attributes[attr] = codec.dump(getattr(model, attr), attr, w)
    if w.arrays:
        w.add_file(_ARRAYS, _npz_bytes(w.arrays))
    meta = {
        "format": _MODEL_FORMAT,
        "version": FORMAT_VERSION,
        "estimator": entry.name,
        "created_by": _versions(),
        "params": params,
        "attributes": attributes,
    }
    try:
        w.add_file(_METADATA, _json_bytes(meta))
    except ValueError as exc:  # pragma: no cover - _encode tags every non-finite float
        raise ModelDirectoryError(f"{cls_name} cannot be written as JSON: {exc}") from None
    own = {rel[len(prefix):]: data for rel, data in files.items() if rel.startswith(prefix)}
    w.add_file(_MANIFEST, _json_bytes(_manifest(own)))
    return entry.name


def _manifest(files: Mapping[str, bytes]) -> dict:
    return {
        "format": _MANIFEST_FORMAT,
        "version": FORMAT_VERSION,
        "algorithm": "sha256",
        "files": {
            rel: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for rel, data in sorted(files.items())
        },
    }


def save(model: Any, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save a fitted rulekd estimator as a model directory (see ``docs/model-directory.md``).

    The files are written to a temporary folder next to ``path`` and renamed
    into place once complete, so a reader never sees a half-written model.

    Parameters
    ----------
    model : estimator
        A fitted ``DistilledRuleClassifier``, ``DistilledTreeClassifier``,
        ``DistilledMLPClassifier`` (or another registered rulekd estimator).
    path : str or path-like
        The folder to create. Missing parent folders are created; a leading
        ``~`` is the home folder.
    overwrite : bool, default=False
        Replace an existing non-empty folder at ``path``, but only if it is
        itself a rulekd model directory (its ``manifest.json`` lists every
        file in it); any other folder is never touched.

    Returns
    -------
    pathlib.Path
        The model directory.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The model is not fitted.
    ModelDirectoryError
        The model cannot be saved (not a rulekd estimator, undeclared fitted
        state), or ``path`` exists and may not be replaced.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from rulekd import DistilledRuleClassifier
    >>> X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    >>> m = DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=3), max_rules=3,
    ...                             n_synthetic=200, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = save(m, pathlib.Path(tmp) / "model")
    ...     names = sorted(p.name for p in folder.iterdir())
    ...     same = (load(folder).predict(X) == m.predict(X)).all()
    >>> names, bool(same)
    (['domain.json', 'manifest.json', 'metadata.json', 'rules.json'], True)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}.")
    files: dict[str, bytes] = {}
    _write_model(model, files, "")  # everything is validated and encoded before the disk is touched
    target = Path(os.path.abspath(user_path(path)))
    if not target.name:
        raise ModelDirectoryError(f"Cannot save a model directory at {str(target)!r}; name a folder.")
    state = _target_state(target, overwrite)
    parent = target.parent
    made = [p for p in (parent, *parent.parents) if not p.exists()]  # folders this save creates
    parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = _fresh_dir(parent, f".{temp_stem(target.name)}.rulekd-tmp-")
    except BaseException:
        _remove_empty(made)
        raise
    try:
        for rel, data in sorted(files.items()):
            dest = tmp.joinpath(*rel.split("/"))
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for folder in sorted({tmp.joinpath(*rel.split("/")).parent for rel in files}, reverse=True):
            fsync_dir(folder)  # their entries too, deepest first
        if state != "absent":  # the folder replaced keeps its permissions (a private 0700 one stays private)
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        if state == "absent":
            os.rename(tmp, target)
        elif state == "empty":
            try:
                os.rename(tmp, target)  # POSIX renames over an empty folder atomically
            except OSError:  # elsewhere: remove it first, and put it back if the rename still fails
                target.rmdir()
                try:
                    os.rename(tmp, target)
                except BaseException:
                    with contextlib.suppress(OSError):
                        target.mkdir()
                    raise
        else:
            old = parent / f".{temp_stem(target.name)}.rulekd-old-{secrets.token_hex(6)}"
            os.rename(target, old)
            try:
                os.rename(tmp, target)
            except BaseException as exc:
                try:
                    os.rename(old, target)
                except OSError as undo:
                    raise ModelDirectoryError(
                        f"Saving over {str(target)!r} failed ({exc}), and putting the old model back failed too "
                        f"({undo}): the old model directory is at {str(old)!r}; rename it back.") from exc
                raise
            shutil.rmtree(old, ignore_errors=True)
            if old.exists():
                warnings.warn(f"The new model is saved at {str(target)!r}, but the old one, renamed aside to "
                              f"{str(old)!r}, could not be deleted (permissions?); delete it yourself.",
                              UserWarning, stacklevel=2)
        fsync_dir(parent)  # the renames, not only the files, survive a power loss
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise
    return target


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed save created (deepest first), where they are still empty."""
    for folder in folders:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _fresh_dir(parent: Path, prefix: str) -> Path:
    """A new folder (default permissions, unlike ``mkdtemp``'s 0o700)."""
    for _ in range(100):
        candidate = parent / f"{prefix}{secrets.token_hex(6)}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    raise ModelDirectoryError(f"Cannot create a temporary folder in {parent}.")  # pragma: no cover


def enclosing_model_directory(path: str | os.PathLike) -> Path | None:
    """The rulekd model directory that ``path`` lies inside (not ``path`` itself), if any.

    A model directory's manifest lists every file in it, so anything written
    inside one (a prediction file, a nested model) breaks its loading.
    """
    here = Path(os.path.abspath(user_path(path)))
    for folder in here.parents:
        if (folder / _MANIFEST).is_file() and _is_model_directory(folder):
            return folder
    return None


def _target_state(target: Path, overwrite: bool) -> str:
    if target.is_symlink():
        raise ModelDirectoryError(f"{target} is a symbolic link; save to a real folder path.")
    inside = enclosing_model_directory(target)
    if inside is not None:
        raise ModelDirectoryError(
            f"{target} lies inside the rulekd model directory {inside}, whose manifest lists every file in it: "
            f"a folder written there would stop it from loading. Choose a path outside it."
        )
    if not target.exists():
        return "absent"
    if not target.is_dir():
        raise ModelDirectoryError(
            f"{target} exists and is not a folder; rulekd.save writes a folder. Choose another path."
        )
    if not any(target.iterdir()):
        return "empty"
    if not overwrite:
        raise ModelDirectoryError(
            f"{target} already exists and is not empty. Pass overwrite=True to replace a rulekd model "
            f"directory, or choose another path."
        )
    if not _is_model_directory(target):
        raise ModelDirectoryError(
            f"{target} is not a rulekd model directory (no valid manifest.json listing every file in it), so "
            f"overwrite=True does not replace it: rulekd never deletes another folder. Choose another path."
        )
    return "model"


def _is_model_directory(root: Path) -> bool:
    try:
        listing, _ = _listing(root)
        m = root / _MANIFEST
        if not m.is_file() or m.stat().st_size > _MAX_MANIFEST_BYTES:  # before reading it
            return False
        data = m.read_bytes()
        manifest = _manifest_entries(_parse_json(data, _MANIFEST), _MANIFEST)
    except (ModelDirectoryError, OSError):
        return False
    return set(listing) - {_MANIFEST} <= set(manifest)


# -- reading --------------------------------------------------------------------------------------
def _listing(root: Path) -> tuple[list[str], list[str]]:
    """Relative paths of the files and folders under ``root``; refuses links and special files."""
    files: list[str] = []
    dirs: list[str] = []

    def unreadable(exc: OSError) -> None:  # os.walk skipped such a folder, and its files read as missing
        raise PermissionError(exc.errno, f"Cannot list the folder {exc.filename!r} of the model directory "
                                         f"({exc.strerror}); fix its permissions", exc.filename) from None

    for here, dirnames, filenames in os.walk(root, followlinks=False, onerror=unreadable):
        rel_here = os.path.relpath(here, root)
        base = "" if rel_here == "." else rel_here.replace(os.sep, "/") + "/"
        for d in sorted(dirnames):
            if os.path.islink(os.path.join(here, d)):
                raise ModelDirectoryError(f"Refusing to load {root}: {base + d!r} is a symbolic link.")
            dirs.append(base + d)
        for name in sorted(filenames):
            full = os.path.join(here, name)
            if os.path.islink(full) or not os.path.isfile(full):
                raise ModelDirectoryError(f"Refusing to load {root}: {base + name!r} is not a regular file.")
            files.append(base + name)
        if len(files) + len(dirs) > _MAX_FILES:
            raise ModelDirectoryError(f"Refusing to load {root}: it holds more than {_MAX_FILES} entries.")
    return files, dirs


def _looks_like_pickle(full: Path, rel: str) -> bool:
    if rel.lower().endswith(_PICKLE_SUFFIXES):
        return True
    try:
        with open(full, "rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5  # pickle's PROTO opcode


def _newer_version(doc: Any, rel: str) -> None:
    """A folder of another format version is named as such before its keys are checked (a newer version
    may add keys)."""
    v = doc.get("version") if isinstance(doc, dict) else None
    if isinstance(v, int) and not isinstance(v, bool) and v != FORMAT_VERSION:
        raise ModelDirectoryError(
            f"{rel}: format version {v} is not supported; this rulekd reads version {FORMAT_VERSION}. Load it "
            f"with the rulekd version that wrote it (see created_by in metadata.json)."
        )


def _manifest_entries(doc: Any, rel: str) -> dict[str, dict]:
    _newer_version(doc, rel)
    _fields(doc, rel, {"format": str, "version": int, "algorithm": str, "files": dict})
    if doc["format"] != _MANIFEST_FORMAT:
        raise ModelDirectoryError(f"{rel} is not a rulekd manifest (format {doc['format']!r}).")
    if doc["version"] != FORMAT_VERSION:
        raise ModelDirectoryError(
            f"{rel} has format version {doc['version']}; this rulekd reads version {FORMAT_VERSION}. "
            f"Load it with the rulekd version that wrote it (see metadata.json)."
        )
    if doc["algorithm"] != "sha256":
        raise ModelDirectoryError(f"{rel}: unsupported hash algorithm {doc['algorithm']!r}; expected 'sha256'.")
    for name, info in doc["files"].items():
        parts = name.split("/")
        if not _REL_PATH.match(name) or any(p in (".", "..") for p in parts) or name == _MANIFEST:
            raise ModelDirectoryError(f"{rel} lists an invalid file name {name!r}.")
        _fields(info, f"{rel}: entry {name!r}", {"sha256": str, "size": int})
        if not _SHA256.match(info["sha256"]) or info["size"] < 0:
            raise ModelDirectoryError(f"{rel}: entry {name!r} needs a lowercase hex SHA-256 and a size >= 0.")
    return doc["files"]


def _damaged(root: Any, rel: str, what: str) -> ModelDirectoryError:
    return ModelDirectoryError(
        f"{rel} in {root} {what}: the folder was modified or damaged after it was saved. "
        f"Copy it again from a good source, or save the model again."
    )


def _read_verified(root: Path) -> dict[str, bytes]:
    """The bytes of every file of ``root``, after the pickle, listing, size and hash checks."""
    listing, dirs = _listing(root)
    for rel in listing:
        if _looks_like_pickle(root / rel, rel):
            raise ModelDirectoryError(
                f"Refusing to load {root}: it contains {rel!r}, a pickle/joblib file. A rulekd model directory "
                f"holds no pickles and rulekd.load never unpickles; remove the file or save the model again."
            )
    if _MANIFEST not in listing:
        raise ModelDirectoryError(
            f"{root} has no manifest.json, so it is not a rulekd model directory (or it was damaged). "
            f"Write one with rulekd.save."
        )
    if (root / _MANIFEST).stat().st_size > _MAX_MANIFEST_BYTES:  # before reading it (a sparse file costs no disk)
        raise ModelDirectoryError(f"{root / _MANIFEST} is larger than {_MAX_MANIFEST_BYTES} bytes.")
    raw = (root / _MANIFEST).read_bytes()
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise ModelDirectoryError(f"{root / _MANIFEST} is larger than {_MAX_MANIFEST_BYTES} bytes.")
    manifest = _manifest_entries(_parse_json(raw, _MANIFEST), _MANIFEST)
    unknown = [rel for rel in listing if rel != _MANIFEST and rel not in manifest]
    if unknown:
        raise ModelDirectoryError(
            f"Refusing to load {root}: {unknown[0]!r} is not listed in manifest.json (an unknown file). The folder "
            f"was modified after it was saved; remove the file or save the model again."
        )
    needed = {"/".join(f.split("/")[:i]) for f in manifest for i in range(1, f.count("/") + 1)}
    extra_dirs = sorted(set(dirs) - needed)
    if extra_dirs:
        raise ModelDirectoryError(f"Refusing to load {root}: the folder {extra_dirs[0]!r} is not part of the model.")
    present = set(listing)
    for rel in manifest:
        if rel not in present:
            raise _damaged(root, repr(rel), "is listed in manifest.json but missing")
    files: dict[str, bytes] = {_MANIFEST: raw}
    for rel, info in manifest.items():
        full = root.joinpath(*rel.split("/"))
        size = full.stat().st_size
        if size != info["size"]:
            raise _damaged(root, repr(rel), f"has {size} bytes but manifest.json records {info['size']}")
        if size > _MAX_FILE_BYTES:
            raise _damaged(root, repr(rel), f"has {size} bytes; a model file may have at most {_MAX_FILE_BYTES}")
        data = full.read_bytes()  # at most _MAX_FILE_BYTES, checked above with stat
        if len(data) != info["size"] or hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise _damaged(root, repr(rel), "does not match its SHA-256 in manifest.json")
        files[rel] = data
    return files


def load(path: str | os.PathLike) -> Any:
    """Load a model directory written by :func:`save`.

    Nothing from the folder is unpickled or executed: the folder must hold
    exactly the files its ``manifest.json`` lists, each with the recorded
    size and SHA-256; every JSON document is validated; arrays are read with
    ``allow_pickle=False``; the XGBoost teacher is read by XGBoost's own JSON
    loader.

    Parameters
    ----------
    path : str or path-like
        The folder.

    Returns
    -------
    estimator
        The fitted estimator; it predicts exactly what the saved one did.
        Constructor parameters that are not JSON values (the ``teacher``
        estimator, a ``RandomState``) are recorded as text in
        ``metadata.json`` and left at their defaults; a teacher that is not
        XGBoost is not saved, and ``teacher_`` is ``None``.

    Raises
    ------
    ModelDirectoryNotFoundError
        ``path`` does not exist (also a ``FileNotFoundError``).
    ModelDirectoryError
        ``path`` is not a folder; the folder holds a pickle, an unknown or a
        missing file, a file whose size or hash differs from the manifest
        (modified or damaged), or a malformed document.

    Examples
    --------
    See :func:`save`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}.")
    root = user_path(path)
    if not root.exists():
        raise ModelDirectoryNotFoundError(f"No model directory at {str(root)!r}: the path does not exist.")
    if not root.is_dir():
        raise ModelDirectoryError(
            f"{str(root)!r} is not a folder; rulekd.load expects the folder written by rulekd.save."
        )
    files = _read_verified(root)
    used: set[str] = set()
    try:
        est = _read_model(files, "", used)
    except RecursionError:
        raise ModelDirectoryError(f"{root}: a document is nested too deeply.") from None
    unused = sorted(set(files) - used)
    if unused:
        raise ModelDirectoryError(
            f"Refusing to load {root}: {unused[0]!r} is listed in manifest.json but is not part of the model "
            f"(no attribute in metadata.json refers to it)."
        )
    return est


def _read_model(files: dict[str, bytes], prefix: str, used: set[str]) -> Any:
    """Rebuild the estimator stored under ``prefix`` (``""`` or ``"student/"``) from verified bytes."""
    if prefix:  # a nested directory carries its own manifest: it must agree too
        rel = prefix + _MANIFEST
        if rel not in files:
            raise ModelDirectoryError(f"{rel} is missing: a nested model directory needs its own manifest.")
        manifest = _manifest_entries(_parse_json(files[rel], rel), rel)
        own = {p[len(prefix):] for p in files if p.startswith(prefix)} - {_MANIFEST}
        if set(manifest) != own:
            raise ModelDirectoryError(f"{rel} does not list exactly the files of {prefix.rstrip('/')!r}.")
        for name, info in manifest.items():
            data = files[prefix + name]
            if len(data) != info["size"] or hashlib.sha256(data).hexdigest() != info["sha256"]:
                raise _damaged(prefix.rstrip("/"), repr(name), "does not match its SHA-256 in its manifest.json")
    used.add(prefix + _MANIFEST)
    r = _Reader(files, prefix, used)
    meta_rel = r.rel(_METADATA)
    meta = _parse_json(r.file(_METADATA), meta_rel)
    _newer_version(meta, meta_rel)
    _fields(meta, meta_rel, {"format": str, "version": int, "estimator": str, "created_by": dict,
                             "params": dict, "attributes": dict})
    if meta["format"] != _MODEL_FORMAT:
        raise ModelDirectoryError(f"{meta_rel}: format must be {_MODEL_FORMAT!r}, got {meta['format']!r}.")
    if meta["version"] != FORMAT_VERSION:
        raise ModelDirectoryError(
            f"{meta_rel}: format version {meta['version']} is not supported; this rulekd reads version "
            f"{FORMAT_VERSION}. Load it with the rulekd version named in created_by."
        )
    entry = _REGISTRY.get(meta["estimator"])
    if entry is None:
        raise ModelDirectoryError(
            f"{meta_rel}: unknown estimator {meta['estimator']!r}; this rulekd loads {sorted(_REGISTRY)}."
        )
    cls = entry.resolve()
    est = cls(**_read_params(meta["params"], cls, meta_rel))
    if hasattr(est, "_parameter_constraints"):
        try:
            est._validate_params()
        except (ValueError, TypeError) as exc:
            raise ModelDirectoryError(f"{meta_rel}: invalid parameter: {exc}") from None
    attrs = meta["attributes"]
    unknown = sorted(set(attrs) - set(entry.fields))
    if unknown:
        raise ModelDirectoryError(f"{meta_rel}: {entry.name} has no saved attribute(s) {unknown[:10]}.")
    missing = sorted(set(entry.fields) - set(attrs) - entry.optional)
    if missing:
        raise ModelDirectoryError(f"{meta_rel}: the attribute(s) {missing} of {entry.name} are missing.")
    for attr, codec in entry.fields.items():
        if attr not in attrs:
            continue
        desc = attrs[attr]
        if not isinstance(desc, dict) or desc.get("kind") != codec.kind:
            got = desc.get("kind") if isinstance(desc, dict) else type(desc).__name__
            raise ModelDirectoryError(f"{meta_rel}: attribute {attr!r} must be of kind {codec.kind!r}, got {got!r}.")
        value = codec.load(desc, attr, r)
        if value is not _ABSENT:
            setattr(est, attr, value)
    r.finish()
    try:
        _check_common(est, entry)
        if entry.check is not None:
            entry.check(est)
    except ModelDirectoryError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ModelDirectoryError(f"{prefix or './'}: the saved {entry.name} is inconsistent: {exc}") from None
    return est


def _read_params(params: dict, cls: type, where: str) -> dict:
    names = set(cls._get_param_names())
    unknown = sorted(set(params) - names)
    if unknown:
        raise ModelDirectoryError(
            f"{where}: {cls.__name__} has no parameter(s) {unknown[:10]}; the model was saved by another "
            f"rulekd version (see created_by)."
        )
    out = {}
    for key, val in params.items():
        if isinstance(val, dict) and set(val) == {"$text"}:
            if not isinstance(val["$text"], str):
                raise ModelDirectoryError(f"{where}: parameter {key!r}: '$text' must be a string.")
            continue  # recorded for people, not restored: the default stands
        out[key] = _decode(val, f"{where}: parameter {key!r}")
    return out
