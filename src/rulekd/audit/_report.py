"""``AuditReport``: the audit's facts, their JSON and HTML forms, and safe writing.

The report holds one JSON document (plain types only). ``to_json`` dumps it,
``to_html`` renders it (plots drawn from the same facts), ``from_json`` loads
it back, so an HTML page can be re-rendered from a stored JSON report.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import write_text

__all__ = ["AuditReport", "FORMAT", "SCHEMA_VERSION", "SECTIONS", "SECTION_TITLES"]

FORMAT = "rulekd.audit"
SCHEMA_VERSION = 1
SECTIONS = ("summary", "data", "model", "performance", "fidelity", "transparency", "rules", "verification",
            "disaggregated", "limitations")
SECTION_TITLES = {
    "summary": "Summary",
    "data": "Data",
    "model": "The model",
    "performance": "Performance",
    "fidelity": "Fidelity to the teacher",
    "transparency": "Transparency",
    "rules": "The rules",
    "verification": "Verification",
    "disaggregated": "Disaggregated metrics",
    "limitations": "Limitations and caveats",
}


def _write(path: Any, make_text: Any, overwrite: bool) -> Path:
    return write_text(path, make_text, overwrite=overwrite)


_MAX_BYTES = 512 * 1024 * 1024  # the report of a large model; a bigger file is not one of ours


def _reject(name: str) -> float:
    raise ValueError(f"Audit report JSON contains the non-standard constant {name}; reports write null there.")


@dataclass(frozen=True, eq=False)
class AuditReport:
    """What :func:`rulekd.audit.audit` found, in model-card order.

    Attributes
    ----------
    document : dict
        The JSON document: ``format`` (``"rulekd.audit"``), ``schema_version``,
        ``created``, ``environment``, ``section_order``, ``section_titles`` and
        ``sections`` (one dict per section, see ``docs/audit.md``).

    Examples
    --------
    >>> from rulekd import Condition, Rule, RuleSet
    >>> from rulekd.audit import audit
    >>> rs = RuleSet((Rule((Condition("x0", ">", 0.5),), 1),), classes=(0, 1), default=0)
    >>> report = audit(rs, [[0.2], [0.9]], [0, 1], verify=False)
    >>> list(report.sections)[:3]
    ['summary', 'data', 'model']
    >>> report.to_dict()["schema_version"]
    1
    """

    document: dict

    @property
    def sections(self) -> dict:
        """Section name -> its facts (a dict), in model-card order."""
        return self.document["sections"]

    def __getitem__(self, section: str) -> dict:
        try:
            return self.sections[section]
        except KeyError:
            raise KeyError(f"No section {section!r}; sections are {list(self.sections)}.") from None

    @property
    def verification_status(self) -> str:
        """``proved``, ``violated``, ``unknown``, ``not_run``, ``not_supported`` or ``error``."""
        return self.sections["verification"]["status"]

    def to_dict(self) -> dict:
        """A deep copy of the JSON document."""
        return copy.deepcopy(self.document)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as strict JSON text (no NaN or infinity, UTF-8 kept; \\u escapes where a label
        holds text UTF-8 cannot carry, such as a lone surrogate)."""
        text = json.dumps(self.document, indent=indent, ensure_ascii=False, allow_nan=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = json.dumps(self.document, indent=indent, ensure_ascii=True, allow_nan=False)
        return text

    def to_html(self) -> str:
        """One self-contained HTML page: inline CSS, plots as PNG data URIs, no script, no external URL.

        Needs ``rulekd[report]`` (Jinja2 and matplotlib).
        """
        from ._html import render_html

        html = render_html(self.document)
        try:
            html.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in a label: shown as its escape (\\udce9), never lost
            html = html.encode("utf-8", "backslashreplace").decode("utf-8")
        return html

    def write_json(self, path: Any, *, overwrite: bool = False) -> Path:
        """Write :meth:`to_json` to ``path``; an existing file is kept unless ``overwrite=True``."""
        return _write(path, self.to_json, overwrite)

    def write_html(self, path: Any, *, overwrite: bool = False) -> Path:
        """Write :meth:`to_html` to ``path``; an existing file is kept unless ``overwrite=True``."""
        return _write(path, self.to_html, overwrite)

    def write(self, path: Any, *, overwrite: bool = False) -> Path:
        """Write JSON (``.json``) or HTML (``.html`` / ``.htm``), chosen by the file's suffix."""
        suffix = Path(path).suffix.lower()
        if suffix == ".json":
            return self.write_json(path, overwrite=overwrite)
        if suffix in (".html", ".htm"):
            return self.write_html(path, overwrite=overwrite)
        raise ValueError(f"Cannot tell the format of {os.fspath(path)!r}: use a .json or .html suffix, or call "
                         f"write_json / write_html.")

    @classmethod
    def from_dict(cls, data: dict) -> "AuditReport":
        """Load a document made by :meth:`to_dict`, validating it against the JSON schema."""
        from ._schema import validate

        validate(data)
        try:
            return cls(copy.deepcopy(data))
        except RecursionError:  # a free-form part (parameters, details) nested past what Python can copy
            raise ValueError("Audit report JSON is nested too deeply to be an audit report.") from None

    @classmethod
    def from_json(cls, text_or_path: Any) -> "AuditReport":
        """Load from JSON text (str or bytes) or a file path; damaged input raises ``ValueError``."""
        from ..rules._json import parse_json, read_source

        text = read_source(text_or_path, what="Audit report", max_bytes=_MAX_BYTES, error=ValueError)
        return cls.from_dict(parse_json(text, what="Audit report", error=ValueError, reject_constant=_reject))

    def __str__(self) -> str:
        s = self.sections["summary"]
        h = s["headline"]

        def pct(v: Any) -> str:
            return "n/a" if v is None else f"{100 * v:.1f} %"

        return (f"{s['title']}: {s['model_type']} on {s['n_rows']} rows; accuracy {pct(h['accuracy'])}, "
                f"fidelity {pct(h['fidelity'])}, transparency {pct(h['transparency'])}; "
                f"verification {s['verification_status']}.")

    def __repr__(self) -> str:
        return f"AuditReport({self.sections['summary']['title']!r})"
