"""The JSON Schema (draft 2020-12) of the audit report, version 1.

It fixes the top level, the sections and the fields that readers rely on
(headline numbers, statuses, findings, rules, groups); sections may carry
more fields than listed. Kept as a Python dict so that it ships with the code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA", "validate"]

_num = {"type": ["number", "null"]}
_int = {"type": "integer", "minimum": 0}
_label = {"type": ["string", "integer", "number", "boolean", "null"]}
_strs = {"type": "array", "items": {"type": "string"}}
_status = {"enum": ["proved", "violated", "unknown", "not_run", "not_supported", "error"]}


def _obj(required: dict, **extra: Any) -> dict:
    return {"type": "object", "required": list(required), "properties": required, **extra}


_performance = _obj({
    "n": _int, "accuracy": _num, "balanced_accuracy": _num, "roc_auc": _num, "brier": _num,
    "notes": _strs,
    "reliability": {"oneOf": [{"type": "null"}, _obj({
        "kind": {"enum": ["binary", "top-label"]}, "n_bins": _int, "ece": _num,
        "bins": {"type": "array", "items": _obj({"lower": {"type": "number"}, "upper": {"type": "number"},
                                                  "count": _int, "mean_predicted": {"type": "number"},
                                                  "observed": {"type": "number"}})},
    })]},
})

_finding = _obj({
    "check": {"enum": ["conflict", "dead", "gap", "redundant_condition", "redundant_rule", "equivalence",
                       "property"]},
    "status": {"enum": ["proved", "violated", "unknown"]},
    "severity": {"enum": ["proved", "violated", "warning", "information", "unknown"]},
    "message": {"type": "string"},
    "rules": _strs,
    "counterexample": {"type": ["object", "null"]},
    "seconds": {"type": "number", "minimum": 0},
    "details": {"type": "object"},
})

_group = _obj({"group": _label, "n": _int, "n_positive": _int, "selection_rate": _num, "tpr": _num, "fpr": _num,
               "accuracy": _num, "small": {"type": "boolean"}})
_gap = _obj({"gap": _num, "max_group": _label, "min_group": _label})

SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "rulekd.audit.v1",
    "title": "rulekd audit report",
    "type": "object",
    "required": ["format", "schema_version", "created", "environment", "section_order", "sections"],
    "properties": {
        "format": {"const": "rulekd.audit"},
        "schema_version": {"const": 1},
        "created": {"type": "string"},
        "environment": {"type": "object", "required": ["rulekd"]},
        "provenance": {"type": "object"},  # reports written before it lack it
        "section_order": {"const": ["summary", "data", "model", "performance", "fidelity", "transparency",
                                    "rules", "verification", "disaggregated", "limitations"]},
        "section_titles": {"type": "object", "additionalProperties": {"type": "string"}},
        "sections": _obj({
            "summary": _obj({
                "title": {"type": "string"}, "model_type": {"type": "string"},
                "model_kind": {"enum": ["ruleset", "rule_student", "hybrid", "neural", "model"]},
                "n_rows": _int, "n_features": _int, "classes": {"type": "array", "items": _label},
                "headline": _obj({"accuracy": _num, "balanced_accuracy": _num, "roc_auc": _num, "fidelity": _num,
                                  "transparency": _num, "rules": {"type": ["integer", "null"]}}),
                "verification_status": _status,
            }),
            "data": _obj({
                "n_rows": _int, "n_features": _int,
                "class_balance": {"type": "array", "items": _obj({"class": _label, "n": _int, "share": _num})},
                "features": {"type": "array", "items": _obj({
                    "name": {"type": "string"}, "kind": {"enum": ["numeric", "categorical", "binary"]},
                    "missing": _int, "missing_share": _num})},
            }),
            "model": _obj({
                "type": {"type": "string"}, "kind": {"type": "string"}, "classes": {"type": "array"},
                "parameters": {"type": "object"}, "teacher": _obj({"present": {"type": "boolean"}}),
                "components": {"type": "array", "items": _obj({"role": {"type": "string"},
                                                               "type": {"type": "string"}})},
            }),
            "performance": _obj({"model": _performance,
                                 "teacher": {"oneOf": [{"type": "null"}, _performance]}}),
            "fidelity": _obj({"available": {"type": "boolean"}}, **{
                "if": {"properties": {"available": {"const": True}}},
                "then": {"required": ["agreement", "per_class", "confusion"], "properties": {
                    "agreement": _num,
                    "per_class": {"type": "array", "items": _obj({"class": _label, "where_teacher": _num,
                                                                  "where_model": _num})}}},
            }),
            "transparency": _obj({
                "transparency": _num,
                "parts": {"type": "array", "items": _obj({
                    "part": {"enum": ["rule", "default", "guard", "student", "model"]}, "n": _int, "share": _num,
                    "accuracy": _num, "fidelity": _num})},
                "curve": {"type": ["array", "null"], "items": {"type": "object"}},
            }),
            "rules": _obj({
                "present": {"type": "boolean"},
                "rules": {"type": "array", "items": _obj({
                    "id": {"type": "string"}, "rule": {"type": "string"}, "class": _label, "support": _int,
                    "precision": _num, "dead": {"type": "boolean"}, "redundant": {"type": "boolean"}})},
            }),
            "verification": _obj({
                "ran": {"type": "boolean"}, "status": _status, "reason": {"type": ["string", "null"]},
                "findings": {"type": "array", "items": _finding}, "counts": {"type": "object"},
            }),
            "disaggregated": _obj({
                "positive_classes": {"type": "array", "items": _label},
                "min_group_size": _int,
                "attributes": {"type": "array", "items": _obj({
                    "name": {"type": "string"},
                    "grouping": _obj({"binned": {"type": "boolean"}, "order": {"type": "array"}}),
                    "metrics": {"type": "array", "items": _obj({
                        "positive_class": _label,
                        "groups": {"type": "array", "items": _group},
                        "gaps": _obj({"selection_rate": _gap, "tpr": _gap, "fpr": _gap}),
                    })},
                })},
            }),
            "limitations": _obj({"items": {"type": "array", "items": _obj({"kind": {"type": "string"},
                                                                           "text": {"type": "string"}})}}),
        }),
    },
}


def validate(document: Any) -> None:
    """Raise ``ValueError`` naming the first place where ``document`` breaks :data:`SCHEMA`."""
    from ..rules._json import check_schema

    if not isinstance(document, dict) or document.get("format") != "rulekd.audit":
        raise ValueError('Not a rulekd audit report: expected a JSON object with "format": "rulekd.audit".')
    if document.get("schema_version") != 1:
        raise ValueError(f"Unsupported audit schema_version {document.get('schema_version')!r}; this rulekd "
                         f"reads version 1.")
    check_schema(document, SCHEMA, what="Audit report", kind="an audit report", error=ValueError)
