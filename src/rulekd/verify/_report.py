"""Findings and the verification report.

A :class:`Finding` is one verdict of one check: ``proved`` (Z3 answered unsat
for the negation), ``violated`` (with the evidence: a concrete input that the
ordinary ``predict`` path confirmed, or for dead / redundant items the unsat
answer that proves them) or ``unknown`` (solver timeout, time budget spent, or
a solver model that could not be turned into a real input). The
:class:`VerificationReport` collects them; it never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._io import dump_json, json_value

__all__ = ["Finding", "VerificationReport", "STATUSES", "CHECKS"]

STATUSES = ("proved", "violated", "unknown")
CHECKS = ("conflict", "dead", "gap", "redundant_condition", "redundant_rule", "equivalence", "property")


@dataclass(frozen=True)
class Finding:
    """One verdict of one check.

    Attributes
    ----------
    check : str
        One of ``conflict``, ``dead``, ``gap``, ``redundant_condition``,
        ``redundant_rule``, ``equivalence``, ``property``.
    status : {"proved", "violated", "unknown"}
        ``proved``: the property of the check holds on the whole Domain.
        ``violated``: it does not; see ``counterexample`` (re-checked by
        evaluating the model) or, for dead and redundant items, the unsat
        answer recorded in ``details["evidence"]``. ``unknown``: not decided.
    message : str
        One sentence a person can read.
    rules : tuple of str
        Ids of the rules involved (``Rule.id`` or ``"r<index>"``).
    counterexample : dict or None
        Feature -> value (float, level, or ``None`` for missing); for the
        two-input properties ``{"x": {...}, "x_prime": {...}}``.
    seconds : float
        Solver and evaluation time spent on this finding.
    details : dict
        Check-specific facts (condition text, evidence, data share, ...).
    property : str or None
        The property's text, for ``check == "property"``.
    """

    check: str
    status: str
    message: str
    rules: tuple[str, ...] = ()
    counterexample: dict | None = None
    seconds: float = 0.0
    details: dict = field(default_factory=dict, compare=False)
    property: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"A finding's status must be one of {STATUSES}, got {self.status!r}.")
        if self.check not in CHECKS:
            raise ValueError(f"Unknown check {self.check!r}; expected one of {CHECKS}.")
        object.__setattr__(self, "rules", tuple(str(r) for r in self.rules))

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "check": self.check,
            "status": self.status,
            "message": self.message,
            "rules": list(self.rules),
            "counterexample": json_value(self.counterexample) if self.counterexample is not None else None,
            "seconds": round(float(self.seconds), 6),
            "details": json_value(self.details),
        }
        if self.property is not None:
            d["property"] = self.property
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Finding":
        return cls(
            check=d["check"],
            status=d["status"],
            message=d.get("message", ""),
            rules=tuple(d.get("rules", ())),
            counterexample=d.get("counterexample"),
            seconds=float(d.get("seconds", 0.0)),
            details=dict(d.get("details", {})),
            property=d.get("property"),
        )

    def __str__(self) -> str:
        head = f"[{self.status}] {self.check}"
        if self.property:
            head += f" {self.property}"
        text = f"{head}: {self.message}"
        if self.counterexample is not None:
            text += f"\n    counterexample: {_format_cex(self.counterexample)}"
        return text


def _format_cex(cex: dict) -> str:
    if set(cex) == {"x", "x_prime"}:
        return f"x = {_format_cex(cex['x'])}; x' = {_format_cex(cex['x_prime'])}"
    parts = []
    for k, v in cex.items():
        parts.append(f"{k}={'missing' if v is None else repr(v)}")
    return "{" + ", ".join(parts) + "}"


@dataclass(frozen=True)
class VerificationReport:
    """What :func:`rulekd.verify.verify` found.

    Attributes
    ----------
    findings : tuple of Finding
    checks : tuple of str
        The checks that ran (``property`` when properties were given).
    skipped : dict
        Check -> reason, for requested checks that do not apply.
    seconds : float
        Wall time of the whole verification.
    target : dict
        What was verified (rules, features, ordered, source).
    """

    findings: tuple[Finding, ...]
    checks: tuple[str, ...] = ()
    skipped: dict = field(default_factory=dict)
    seconds: float = 0.0
    target: dict = field(default_factory=dict)

    @property
    def violated(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "violated"]

    @property
    def unknown(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "unknown"]

    @property
    def proved(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "proved"]

    @property
    def ok(self) -> bool:
        """``True`` when every finding is proved (nothing violated, nothing unknown)."""
        return all(f.status == "proved" for f in self.findings)

    @property
    def status(self) -> str:
        """``violated`` if anything is, else ``unknown`` if anything is, else ``proved``."""
        if self.violated:
            return "violated"
        if self.unknown:
            return "unknown"
        return "proved"

    @property
    def exit_code(self) -> int:
        """0 all proved, 1 something violated, 3 something unknown and nothing violated."""
        return {"proved": 0, "violated": 1, "unknown": 3}[self.status]

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]

    def summary(self) -> str:
        """A short plain-text account: one line per check, then the problems."""
        lines = [
            f"Verification {self.status}: {len(self.proved)} proved, {len(self.violated)} violated, "
            f"{len(self.unknown)} unknown ({self.seconds:.2f} s)."
        ]
        for check in self.checks:
            fs = self.by_check(check)
            counts = {s: sum(f.status == s for f in fs) for s in STATUSES}
            lines.append(
                f"  {check}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) if fs else f"  {check}: -"
            )
        for check, why in self.skipped.items():
            lines.append(f"  {check}: skipped ({why})")
        # ... and proofs that hold only because no input meets a property's condition (worth a look)
        problems = [f for f in self.findings if f.status != "proved" or (f.details or {}).get("vacuous")]
        if problems:
            lines.append("")
            for f in problems[:50]:
                lines.append("- " + str(f).replace("\n", "\n  "))
            if len(problems) > 50:
                lines.append(f"... and {len(problems) - 50} more.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict:
        return {
            "format": "rulekd.verification",
            "version": 1,
            "status": self.status,
            "ok": self.ok,
            "counts": {s: sum(f.status == s for f in self.findings) for s in STATUSES},
            "checks": list(self.checks),
            "skipped": dict(self.skipped),
            "seconds": round(float(self.seconds), 6),
            "target": json_value(self.target),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, path: Any = None, *, indent: int | None = 2, overwrite: bool = False) -> str:
        """Serialise to JSON; also write to ``path`` when given (an existing file only with
        ``overwrite=True``, then atomically)."""
        return dump_json(self.to_dict(), path, indent=indent, overwrite=overwrite)

    @classmethod
    def from_dict(cls, d: dict) -> "VerificationReport":
        if d.get("format") != "rulekd.verification":
            raise ValueError('Not a rulekd verification report: expected "format": "rulekd.verification".')
        return cls(
            findings=tuple(Finding.from_dict(f) for f in d.get("findings", ())),
            checks=tuple(d.get("checks", ())),
            skipped=dict(d.get("skipped", {})),
            seconds=float(d.get("seconds", 0.0)),
            target=dict(d.get("target", {})),
        )
