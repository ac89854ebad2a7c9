"""The ``rulekd`` command line: a thin layer over the public API.

``main(argv) -> int`` is the entry point (console script ``rulekd`` and
``python -m rulekd``). Exit codes: 0 success, 1 a verification found a
violation, 2 bad input (one-line message on stderr), 3 a verification result is
unknown (solver timeout) and nothing was violated.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

EXIT_OK, EXIT_VIOLATED, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
_DEMO_MARKER = ".rulekd-demo"


class CLIError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def _prepare_out_dir(out: Path, names: Sequence[str], force: bool) -> None:
    """Create ``out``; refuse to overwrite files we did not write unless ``force``."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {str(out)!r} exists and is not a directory.")
    out.mkdir(parents=True, exist_ok=True)
    ours = (out / _DEMO_MARKER).exists()
    clash = [n for n in names if (out / n).exists()]
    if clash and not (ours or force):
        raise CLIError(
            f"{str(out)!r} already holds {', '.join(clash)}; pass --force to overwrite or choose another --out."
        )
    probe = out / ".rulekd-write-test"
    try:
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"Cannot write to {str(out)!r}: {exc.strerror}.") from None
    (out / _DEMO_MARKER).write_text("written by `rulekd demo`\n", encoding="utf-8")


def cmd_demo(args: argparse.Namespace) -> int:
    """German credit: XGBoost teacher -> at most ``--max-rules`` rules, with fidelity."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from . import DistilledRuleClassifier, RuleSet
    from .datasets import load_german_credit

    if args.max_rules < 1:
        raise CLIError(f"--max-rules must be at least 1, got {args.max_rules}.")
    out = Path(args.out)
    _prepare_out_dir(out, ["rules.json", "rules.txt", "domain.json", "verification.json"], args.force)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    t0 = time.perf_counter()
    data = load_german_credit()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=args.seed
    )
    say(f"German credit: {len(X_train)} training rows, {len(X_test)} held-out rows, "
        f"{X_train.shape[1]} features; target 1 = bad credit risk.")
    say(f"Distilling XGBClassifier(n_estimators=200, max_depth=4) into at most {args.max_rules} rules ...")
    model = DistilledRuleClassifier(max_rules=args.max_rules, kind="list", random_state=args.seed)
    model.fit(X_train, y_train)
    teacher_pred = model.teacher_.predict(X_test)
    pred = model.predict(X_test)
    say("")
    say(model.rules_.to_text())
    say("")
    say(f"rules: {len(model.rules_)}  conditions: {model.rules_.n_conditions}")
    say(f"teacher accuracy (held out): {np.mean(teacher_pred == y_test):.3f}")
    say(f"rules accuracy   (held out): {np.mean(pred == y_test):.3f}")
    say(f"fidelity to the teacher (held out): {np.mean(pred == teacher_pred):.3f}")
    model.rules_.to_json(out / "rules.json")
    (out / "rules.txt").write_text(model.rules_.to_text() + "\n", encoding="utf-8")
    reloaded = RuleSet.from_json(out / "rules.json")
    same = bool(np.array_equal(reloaded.predict(X_test), model.rules_.predict(X_test))
                and np.array_equal(reloaded.predict_proba(X_test), model.rules_.predict_proba(X_test)))
    if reloaded != model.rules_ or not same:
        raise RuntimeError("rules.json did not reload to identical rules; please report this bug.")
    model.domain_.to_json(out / "domain.json")
    say(f"wrote {out / 'rules.json'} and {out / 'rules.txt'}; reloaded rules.json: identical rules and "
        f"predictions on {len(X_test)} rows")
    from .verify import verify

    properties = ["monotone duration increasing toward 1", "invariant status_sex"]
    report = verify(model, properties=properties)
    (out / "verification.json").write_text(report.to_json(), encoding="utf-8")
    say("")
    say("Z3 verification over the training Domain (domain.json):")
    for f in report.findings:
        if f.check == "property":
            say(f"  [{f.status}] {f.message}")
            cx = f.counterexample or {}
            if "x" in cx and "x_prime" in cx:
                diff = [k for k in cx["x"] if cx["x"][k] != cx["x_prime"][k]]
                same = {k: cx["x"][k] for k in ("status", "duration", "credit_amount", "age") if k not in diff}
                say("      e.g. " + ", ".join(f"{k}: {cx['x'][k]!r} -> {cx['x_prime'][k]!r}" for k in diff)
                    + " with " + ", ".join(f"{k}={v!r}" for k, v in same.items()) + ", ...")
    counts = {}
    for f in report.findings:
        counts.setdefault(f.check, []).append(f.status)
    for check in ("conflict", "dead", "redundant_condition", "redundant_rule", "gap"):
        if check in counts:
            say(f"  {check}: " + ", ".join(f"{counts[check].count(s)} {s}" for s in ("proved", "violated", "unknown")
                                              if counts[check].count(s)))
    say(f"  full report: {out / 'verification.json'}; re-run with "
        f"`rulekd verify {out / 'rules.json'} --domain {out / 'domain.json'} --property ...`")
    say(f"done in {time.perf_counter() - t0:.1f} s")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rulekd", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="distil XGBoost on German credit into readable rules")
    demo.add_argument("--out", default="rulekd-demo", help="output folder (default: rulekd-demo/)")
    demo.add_argument("--max-rules", type=int, default=16, help="rule budget (default 16)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--force", action="store_true", help="overwrite existing files in --out")
    demo.add_argument("--quiet", action="store_true", help="print nothing")
    demo.set_defaults(func=cmd_demo)
    try:
        from .verify._cli import add_verify_parser
    except ImportError:  # the verifier is optional at import time
        pass
    else:
        add_verify_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except CLIError as exc:
        print(f"rulekd: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"rulekd: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    raise SystemExit(main())
