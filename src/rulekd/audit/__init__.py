"""Audit reports: a fitted model, its teacher and labelled rows in, a model card out.

:func:`audit` computes the facts (data, model, performance, fidelity to the
teacher, transparency, the rules, their Z3 verification, metrics per protected
group, limitations) without fitting anything; :class:`AuditReport` gives them
as schema-versioned JSON (:meth:`~AuditReport.to_json`) and as one
self-contained HTML page (:meth:`~AuditReport.to_html`, needs
``rulekd[report]``). See ``docs/audit.md``.
"""

from ._audit import audit
from ._report import FORMAT, SCHEMA_VERSION, SECTION_TITLES, SECTIONS, AuditReport
from ._schema import SCHEMA

__all__ = ["AuditReport", "FORMAT", "SCHEMA", "SCHEMA_VERSION", "SECTIONS", "SECTION_TITLES", "audit"]
