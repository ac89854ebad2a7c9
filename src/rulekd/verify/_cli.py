"""``rulekd verify``: the command-line face of :func:`rulekd.verify.verify`.

    rulekd verify RULES.json [--domain DOMAIN.json] [--property "..."]...
                  [--checks conflict,gap,...] [--json] [--timeout-ms N]
                  [--time-budget-s S] [--n-jobs N] [--max-gap-regions N]

Exit status: 0 when every finding is proved, 1 when something is violated,
3 when something is unknown and nothing violated, 2 on bad input (the message
names the problem).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any, Sequence

__all__ = ["add_verify_parser", "run_verify", "main", "EXIT_PROVED", "EXIT_VIOLATED", "EXIT_BAD_INPUT",
           "EXIT_UNKNOWN"]

EXIT_PROVED, EXIT_VIOLATED, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


def add_verify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``verify`` sub-command to an ``argparse`` sub-parsers object."""
    p = subparsers.add_parser(
        "verify",
        help="prove or refute checks and properties of a rule set with Z3",
        description=(
            "Verify a rule set (rulekd JSON) over a Domain: conflicts, dead rules, gaps, redundant conditions "
            "and rules, and user properties. Exit 0: all proved; 1: something violated; 3: something unknown "
            "(timeout), nothing violated; 2: bad input."
        ),
    )
    p.add_argument("rules", metavar="DIR|RULES.json",
                   help="a model directory (rulekd distill / rulekd.save) or a rule set in the rulekd JSON format")
    p.add_argument("--domain", metavar="DOMAIN.json",
                   help="Domain in the rulekd JSON format (default: a model directory's own Domain, the range "
                        "of its training data; for a rules JSON, every feature unbounded, missing allowed)")
    p.add_argument("--property", dest="properties", action="append", default=[], metavar="TEXT",
                   help='a property, e.g. "if age < 25 and amount > 10000 then bad", '
                        '"monotone duration increasing toward bad", "invariant sex"; repeatable')
    p.add_argument("--checks", default=None, metavar="LIST",
                   help="comma-separated checks (conflict, dead, gap, redundant_condition, redundant_rule), "
                        "'all' or 'none' (default: all without --property; none with it, so that the exit "
                        "status answers for the properties). A hybrid's model directory takes 'all' (its dead "
                        "rules) or 'none'; without --property its guards are proved on the whole hybrid")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--timeout-ms", type=_positive_int, default=10_000, metavar="N",
                   help="Z3 limit per query in milliseconds (default: 10000)")
    p.add_argument("--time-budget-s", type=_positive_float, default=None, metavar="S",
                   help="overall limit in seconds; what is left is reported unknown")
    p.add_argument("--n-jobs", type=int, default=None, metavar="N", help="parallel workers (default: 1)")
    p.add_argument("--max-gap-regions", type=_positive_int, default=10, metavar="N",
                   help="most gap regions to describe (default: 10)")
    p.set_defaults(func=run_verify)
    return p


def _read_json_file(path: str, what: str) -> Any:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {path!r} does not exist.")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{what} file {path!r} is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} file {path!r} is not valid JSON: {exc.msg} (line {exc.lineno}).") from None


def run_verify(args: argparse.Namespace) -> int:
    """Run ``rulekd verify`` from parsed arguments; returns the exit status."""
    from ..domain import Domain
    from ..exceptions import RulekdError
    from ..rules._ir import RuleSet
    from . import verify

    out, err = sys.stdout, sys.stderr
    try:
        if Path(args.rules).is_dir():
            from .._persist import load

            rules = load(Path(args.rules))  # a model: its own Domain unless --domain is given
        elif not Path(args.rules).is_file():
            raise FileNotFoundError(f"Rules file {args.rules!r} does not exist.")
        else:
            try:
                rules = RuleSet.from_json(Path(args.rules))
            except RulekdError as exc:
                raise type(exc)(f"Rules file {args.rules!r}: {exc}") from None
        domain = None
        if args.domain:
            try:
                domain = Domain.from_json(Path(args.domain))
            except RulekdError as exc:
                raise type(exc)(f"Domain file {args.domain!r}: {exc}") from None
        # With --property and no --checks, only the properties: a rule list's gaps (where its default
        # answers, as designed) would otherwise make every run exit 1.
        checks: Any = (args.checks if args.checks is not None else ("none" if args.properties else "all")).strip()
        if checks not in ("all", "none"):
            checks = [c.strip() for c in checks.split(",") if c.strip()]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if type(rules).__name__ == "HybridClassifier":
                from ..hybrid import verify_hybrid

                if checks not in ("all", "none"):
                    raise ValueError("A hybrid is verified with --checks all or none (dead rules and properties).")
                # Without --property, the properties the hybrid declares: its guards, proved again.
                props = list(args.properties) or list(getattr(rules, "guards_", ()) or ())
                report = verify_hybrid(rules, props, domain=domain, checks=checks,
                                       timeout_ms=args.timeout_ms, time_budget_s=args.time_budget_s)
            else:
                report = verify(rules, domain, properties=list(args.properties), checks=checks,
                                timeout_ms=args.timeout_ms, n_jobs=args.n_jobs, time_budget_s=args.time_budget_s,
                                max_gap_regions=args.max_gap_regions)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        err.write(f"rulekd verify: error: {msg}\n")
        return EXIT_BAD_INPUT
    for w in caught:
        err.write(f"rulekd verify: warning: {w.message}\n")
    if not report.findings:  # "proved" over nothing checked would read as a pass (a network has no rule checks)
        err.write(f"rulekd verify: error: nothing was checked: {type(rules).__name__} has no rule checks to run"
                  f"{' with --checks ' + args.checks if args.checks else ''}; pass --property "
                  f"\"if ... then ...\" (or monotone / invariant) to prove something about it.\n")
        return EXIT_BAD_INPUT
    if args.json:
        out.write(report.to_json() + "\n")
    else:
        out.write(report.summary() + "\n")
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m rulekd.verify._cli verify ...``), for tests."""
    parser = argparse.ArgumentParser(prog="rulekd")
    sub = parser.add_subparsers(dest="command", required=True)
    add_verify_parser(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors with status 2
        return int(exc.code) if exc.code is not None else EXIT_BAD_INPUT
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
