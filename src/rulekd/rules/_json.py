"""JSON dump and load of a :class:`RuleSet`, validated by a shipped JSON Schema.

The format is versioned (``"format": "rulekd.ruleset", "version": 1``). Floats
survive bit for bit: finite values are written with Python's round-trip repr,
infinities as ``"inf"`` / ``"-inf"``. Loading never evaluates anything: the text
is parsed by :func:`json.loads`, checked against the schema, then rebuilt
through the validating constructors of the rule IR.
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._io import dump_json, user_path
from ..exceptions import RuleFormatError
from ._floats import format_float, parse_float
from ._ir import Condition, Rule, RuleSet

__all__ = ["dumps", "loads", "ruleset_to_dict", "ruleset_from_dict", "schema", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_MAX_BYTES = 256 * 1024 * 1024


@lru_cache(maxsize=1)
def schema() -> dict:
    """The JSON Schema (draft 2020-12) of the rule-set format."""
    text = (resources.files("rulekd.rules") / "schema" / "ruleset-v1.schema.json").read_text("utf-8")
    return json.loads(text)


def _label(v: Any, what: str = "A class label") -> Any:
    """A label as JSON holds it: text, a whole number, a finite number or a boolean."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        raise RuleFormatError(f"{what} cannot be {v!r} in JSON.")
    if not isinstance(v, (str, int, float, bool)):  # bool is an int
        raise RuleFormatError(f"{what} {v!r} ({type(v).__name__}) cannot be written to rule-set JSON: labels "
                              f"are text, numbers or booleans. Convert it (e.g. to str) first.")
    return v


def _condition_to_dict(c: Condition) -> dict:
    d: dict[str, Any] = {"feature": c.feature, "op": c.op}
    if c.is_numeric:
        d["value"] = format_float(c.value)
    elif c.is_categorical:
        d["value"] = sorted(c.value, key=lambda v: (type(v).__name__, str(v)))
    if c.op not in ("is missing", "is not missing"):
        d["missing"] = c.missing
    if c.cast is not None:
        d["cast"] = c.cast
    return d


def ruleset_to_dict(rs: RuleSet) -> dict:
    """Plain-Python (JSON-ready) form of a rule set."""
    rules = []
    for r in rs.rules:
        d: dict[str, Any] = {
            "id": r.id,
            "conditions": [_condition_to_dict(c) for c in r.conditions],
            "prediction": _label(r.prediction),
            "proba": list(r.proba) if r.proba is not None else None,
            "support": r.support,
            "confidence": r.confidence,
        }
        if r.score is not None:
            d["score"] = format_float(r.score)
        rules.append(d)
    return {
        "format": "rulekd.ruleset",
        "version": FORMAT_VERSION,
        "ordered": rs.ordered,
        "classes": [_label(c) for c in rs.classes],
        "default": _label(rs.default),
        "default_proba": list(rs.default_proba) if rs.default_proba is not None else None,
        "feature_names": list(rs.feature_names) if rs.feature_names is not None else None,
        "rules": rules,
        "metadata": _jsonable(rs.metadata),
    }


def _jsonable(obj: Any) -> Any:
    """Metadata may hold numpy scalars or tuples; make it plain JSON."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return format_float(obj) if not math.isnan(obj) else None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def dumps(rs: RuleSet, path: Any = None, *, indent: int | None = 2, overwrite: bool = False) -> str:
    """Serialise ``rs``; also write it to ``path`` when given (an existing file only with ``overwrite=True``)."""
    return dump_json(ruleset_to_dict(rs), path, indent=indent, overwrite=overwrite)


def _validate(data: Any) -> None:
    if not isinstance(data, dict):
        raise RuleFormatError(f"A rule-set JSON document must be an object, got {type(data).__name__}.")
    if data.get("format") != "rulekd.ruleset":
        raise RuleFormatError(
            "Not a rulekd rule set: the 'format' field must be \"rulekd.ruleset\"."
        )
    if data.get("version") != FORMAT_VERSION:
        raise RuleFormatError(
            f"Unsupported rule-set format version {data.get('version')!r}; this rulekd reads version {FORMAT_VERSION}."
        )
    check_schema(data, schema(), what="Rule-set", kind="a rule set", error=RuleFormatError)


def check_schema(data: Any, document_schema: dict, *, what: str, kind: str, error: type[Exception]) -> None:
    """Raise ``error`` naming the first place where ``data`` breaks ``document_schema`` (draft 2020-12),
    or saying that it is nested too deeply for jsonschema to walk. ``what`` names the JSON ("Rule-set"),
    ``kind`` the document ("a rule set")."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(document_schema)
    try:
        found = jsonschema.exceptions.best_match(validator.iter_errors(data))
        if found is not None:
            where = "/".join(str(p) for p in found.absolute_path) or "(top level)"
            raise error(f"Invalid {what[0].lower() + what[1:]} JSON at {where}: {found.message}")
    except RecursionError:  # json.loads reads deeper documents than jsonschema can walk or print
        raise error(f"{what} JSON is nested too deeply to be {kind}.") from None


def _condition_from_dict(d: dict) -> Condition:
    op = d["op"]
    value = d.get("value")
    if op in ("<=", "<", ">", ">="):
        if value is None or isinstance(value, list):
            raise RuleFormatError(f"Condition {d['feature']!r} {op} needs a numeric value.")
        value = parse_float(value)
    elif op in ("in", "not in"):
        if not isinstance(value, list):
            raise RuleFormatError(f"Condition {d['feature']!r} {op} needs a list of levels.")
        value = frozenset(value)
    elif value is not None:
        raise RuleFormatError(f"Condition {d['feature']!r} '{op}' takes no value.")
    return Condition(d["feature"], op, value, d.get("missing", False), d.get("cast"))


def ruleset_from_dict(data: Any) -> RuleSet:
    """Validate ``data`` against the schema and build the :class:`RuleSet`."""
    _validate(data)
    try:
        rules = tuple(
            Rule(
                conditions=tuple(_condition_from_dict(c) for c in r["conditions"]),
                prediction=_label(r["prediction"], "A rule's prediction"),
                proba=r.get("proba"),
                support=r.get("support", 0),
                confidence=r.get("confidence", 1.0),
                id=r.get("id"),
                score=parse_float(r["score"]) if r.get("score") is not None else None,
            )
            for r in data["rules"]
        )
        return RuleSet(
            rules=rules,
            classes=tuple(_label(c) for c in data["classes"]),  # 1e400 reads as inf, which to_json refuses
            default=_label(data["default"], "The default label"),
            default_proba=data.get("default_proba"),
            ordered=data["ordered"],
            feature_names=data.get("feature_names"),
            metadata=dict(data.get("metadata") or {}),
        )
    except RuleFormatError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise RuleFormatError(f"Invalid rule-set JSON: {exc}") from None


def read_source(text_or_path: Any, *, what: str, max_bytes: int, error: type[Exception]) -> str:
    """The JSON text of ``text_or_path``: JSON text (str or bytes) or a file path.

    A ``str`` is JSON text when it is empty, starts with ``{``, ``[`` or ``"``, spans
    several lines or is too long to be a path; otherwise it names a file. Malformed
    input raises ``error``; a missing file raises :class:`FileNotFoundError`.
    """
    if isinstance(text_or_path, str) and not _looks_like_json(text_or_path):
        text_or_path = Path(text_or_path)
    if isinstance(text_or_path, os.PathLike):
        path = user_path(text_or_path)
        shown = str(path) if len(str(path)) <= 200 else str(path)[:200] + "..."
        try:
            is_file = path.is_file()
        except (OSError, ValueError) as exc:  # e.g. a name too long for the file system
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise FileNotFoundError(f"{what} file {shown!r} cannot be opened ({reason}).") from None
        if not is_file:
            raise FileNotFoundError(f"{what} file {shown!r} does not exist.")
        if path.stat().st_size > max_bytes:
            raise error(f"{what} file {shown!r} is larger than {max_bytes} bytes.")
        raw = path.read_bytes()
    elif isinstance(text_or_path, (bytes, bytearray)):
        raw = bytes(text_or_path)
    elif isinstance(text_or_path, str):
        raw = text_or_path.encode("utf-8", errors="surrogatepass")
    else:
        raise TypeError(f"Expected JSON text or a path, got {type(text_or_path).__name__}.")
    if len(raw) > max_bytes:
        raise error(f"{what} JSON is larger than {max_bytes} bytes.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} JSON is not valid UTF-8 ({exc.reason} at byte {exc.start}).") from None


def _looks_like_json(s: str) -> bool:
    head = s.lstrip()
    return not head or head[0] in '{["' or "\n" in s or len(s) > 4096


def parse_json(text: str, *, what: str, error: type[Exception], reject_constant: Any) -> Any:
    """``json.loads`` that raises ``error`` (never a traceback) on malformed text."""
    try:
        return json.loads(text, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{what} JSON is malformed: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except RecursionError:
        raise error(f"{what} JSON is nested too deeply.") from None


def loads(text_or_path: Any) -> RuleSet:
    """Load a rule set from a JSON string, bytes, or a path to a ``.json`` file."""
    text = read_source(text_or_path, what="Rule-set", max_bytes=_MAX_BYTES, error=RuleFormatError)
    data = parse_json(text, what="Rule-set", error=RuleFormatError, reject_constant=_reject_constant)
    return ruleset_from_dict(data)


def _reject_constant(name: str) -> float:
    raise RuleFormatError(f"Rule-set JSON contains the non-standard constant {name}; use \"inf\" or \"-inf\".")
