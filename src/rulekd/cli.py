"""The ``rulekd`` command line: a thin layer over the public API.

``main(argv) -> int`` is the entry point (console script ``rulekd`` and
``python -m rulekd``)::

    rulekd demo [--out DIR]
    rulekd distill --data TRAIN.csv|.parquet --target COL [--model rules|tree|mlp|hybrid]
                   [--teacher xgboost|MODEL.json] [--max-rules N] [--transparency F]
                   [--guard PROPERTY]... --out DIR
    rulekd predict DIR --data X.csv --out PRED.csv [--proba]
    rulekd verify DIR|RULES.json [--property ...]
    rulekd audit DIR --data TEST.csv --target COL [--protected COL ...] --out REPORT.html
    rulekd export DIR|RULES.json --format text|tree|json|sql|python [--out FILE] [--table NAME]

Exit codes: 0 success, 1 a verification found a violation, 2 bad input (a
one-line message on stderr: a bad path, a missing column, a malformed file, an
output that exists without ``--force``), 3 a verification result is unknown
(solver timeout) and nothing was violated, 4 an internal error (a bug in
rulekd: the traceback is printed). Progress goes to stderr, only on a
terminal and never with ``--quiet``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from ._io import file_sha256
from .exceptions import RulekdError

EXIT_OK, EXIT_VIOLATED, EXIT_BAD_INPUT, EXIT_UNKNOWN = 0, 1, 2, 3
# A bug in rulekd, not in the input: never 1, which `verify` uses for "violated".
EXIT_INTERNAL = 4
# The reader of the standard output closed it early (`| head`): 128 + SIGPIPE, as other tools exit.
EXIT_BROKEN_PIPE = 141
_DEMO_MARKER = ".rulekd-demo"


class CLIError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def _prepare_out_dir(out: Path, names: Sequence[str], force: bool) -> None:
    """Create ``out``; refuse to overwrite files the demo did not write unless ``force``.

    A file is the demo's when the marker the last complete run left lists it with the same content (its
    SHA-256): a file put there since, or an interrupted run's folder, is the user's.
    """
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {str(out)!r} exists and is not a directory.")
    out.mkdir(parents=True, exist_ok=True)
    ours = _demo_files(out)
    clash = [n for n in names if (out / n).exists() and not _is_ours(out / n, ours.get(n))]
    if clash and not force:
        raise CLIError(
            f"{str(out)!r} already holds {', '.join(clash)}; pass --force to overwrite or choose another --out."
        )
    # What --force cannot replace is refused now, before anything is written (not after half the files).
    from ._persist import _is_model_directory

    for n in names:
        if n != "models" and (out / n).is_dir():
            raise CLIError(f"{str(out / n)!r} is a folder; the demo writes a file of that name. Move it or choose "
                           f"another --out.")
    models = out / "models"
    if models.exists() and not models.is_dir():
        raise CLIError(f"{str(models)!r} is a file; the demo writes its model directories in a folder of that "
                       f"name. Move it or choose another --out.")
    for sub in ("rules", "hybrid"):
        target = models / sub
        if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not _is_model_directory(target))):
            raise CLIError(f"{str(target)!r} is not a rulekd model directory (no manifest.json listing exactly its "
                           f"files), so the demo does not replace it, even with --force (rulekd never deletes "
                           f"another folder). Move it or choose another --out.")
    probe = out / ".rulekd-write-test"
    try:
        probe.write_text("", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        raise CLIError(f"Cannot write to {str(out)!r}: {exc.strerror}; fix its permissions or choose another --out.") from None


def _demo_files(out: Path) -> dict:
    """The files the last complete demo run wrote to ``out``: name -> SHA-256 (``"folder"`` for a folder)."""
    import json

    try:
        files = json.loads((out / _DEMO_MARKER).read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return files if isinstance(files, dict) else {}


def _is_ours(path: Path, digest: object) -> bool:
    if path.is_dir():  # models/: the demo's saves replace only model directories there, never other folders
        return digest == "folder"
    return isinstance(digest, str) and path.is_file() and file_sha256(path) == digest


def _write_demo_marker(out: Path, names: Sequence[str]) -> None:
    """Record what this run wrote (after it wrote everything), for :func:`_prepare_out_dir` next time."""
    import json

    files = {n: ("folder" if (out / n).is_dir() else file_sha256(out / n)) for n in names if (out / n).exists()}
    text = json.dumps({"written_by": "rulekd demo", "files": files}, indent=1, sort_keys=True)
    (out / _DEMO_MARKER).write_text(text + "\n", encoding="utf-8")


DEMO_FILES = ["rules.json", "rules.txt", "rules.sql", "rules.py", "domain.json", "verification.json",
              "hybrid-verification.json", "audit.html", "audit.json", "models"]
DEMO_PROPERTIES = ["monotone duration increasing toward 1", "invariant status_sex"]


def cmd_demo(args: argparse.Namespace) -> int:
    """German credit, the whole story: teacher, rule student, neural student, hybrid, proofs, exports, audit."""
    import warnings

    import numpy as np
    from sklearn.model_selection import train_test_split

    from . import DistilledRuleClassifier, HybridClassifier, RuleSet
    from ._persist import load, save
    from .datasets import load_german_credit
    from .rules import to_python, to_sql

    if args.max_rules < 1:
        raise CLIError(f"--max-rules must be at least 1, got {args.max_rules}.")
    if not 0 <= args.seed < 2**32:
        raise CLIError(f"--seed must be a whole number from 0 to 4294967295, got {args.seed}.")
    out = Path(args.out)
    _prepare_out_dir(out, DEMO_FILES, args.force)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    t0 = time.perf_counter()
    data = load_german_credit()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=args.seed
    )
    say(f"German credit: {len(X_train)} training rows, {len(X_test)} held-out rows, "
        f"{X_train.shape[1]} features; target 1 = bad credit risk.")

    # 1. Rules: the teacher's knowledge in at most --max-rules readable rules.
    say(f"\n[1/5] Distilling XGBClassifier(n_estimators=200, max_depth=4) into at most {args.max_rules} rules ...")
    # polish=False: on German credit polishing measured no fidelity gain (5 folds) and makes
    # the rules longer; the demo shows the shortest faithful rules.
    model = DistilledRuleClassifier(max_rules=args.max_rules, kind="list", polish=False, random_state=args.seed)
    model.fit(X_train, y_train)
    teacher_pred = model.teacher_.predict(X_test)
    pred = model.predict(X_test)
    say(model.rules_.to_text())
    say(f"rules: {len(model.rules_)}  conditions: {model.rules_.n_conditions}")
    say(f"teacher accuracy (held out): {np.mean(teacher_pred == y_test):.3f}")
    say(f"rules accuracy   (held out): {np.mean(pred == y_test):.3f}   "
        f"fidelity to the teacher: {np.mean(pred == teacher_pred):.3f}")

    # 2. Hybrid: rules for half of the inputs, the neural student for the rest, guards on every input.
    say(f"\n[2/5] Hybrid: rules answer about half of the inputs, a compact neural student the rest; "
        f"guards: {'; '.join(DEMO_PROPERTIES)} ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # candidate rules set aside for the guards are listed in guard_conflicts_
        hybrid = HybridClassifier(transparency=0.5, guards=DEMO_PROPERTIES, random_state=args.seed)
        hybrid.fit(X_train, y_train)
    h_pred = hybrid.predict(X_test)
    alone = getattr(hybrid, "base_student_", hybrid.student_)  # the student trained on every row
    s_pred = alone.predict(X_test)
    by = hybrid.decided_by(X_test)
    say(hybrid.rules_.to_text().rsplit("\nelse", 1)[0] + "\nelse: the neural student")
    say(f"neural student alone ({alone.n_parameters_} parameters), held out: accuracy "
        f"{np.mean(s_pred == y_test):.3f}")
    say(f"hybrid, held out: accuracy {np.mean(h_pred == y_test):.3f}, answered by rules "
        f"{np.mean(by != 'student'):.0%} of rows ({len(hybrid.rules_)} rules; "
        f"{len(hybrid.guard_conflicts_)} candidate rules set aside for the guards)")

    # 3. Proofs with Z3 over the training Domain.
    say("\n[3/5] Z3 verification over the training Domain:")
    from .hybrid import verify_hybrid
    from .verify import verify

    report = verify(model, properties=DEMO_PROPERTIES)
    (out / "verification.json").write_text(report.to_json(), encoding="utf-8")
    for f in report.findings:
        if f.check == "property":
            say(f"  rules  [{f.status}] {f.message}")
            cx = f.counterexample or {}
            if "x" in cx and "x_prime" in cx:
                diff = [k for k in cx["x"] if cx["x"][k] != cx["x_prime"][k]]
                same = {k: cx["x"][k] for k in ("status", "duration", "credit_amount", "age") if k not in diff}
                say("      e.g. " + ", ".join(f"{k}: {cx['x'][k]!r} -> {cx['x_prime'][k]!r}" for k in diff)
                    + " with " + ", ".join(f"{k}={v!r}" for k, v in same.items()) + ", ...")
    counts: dict = {}
    for f in report.findings:
        counts.setdefault(f.check, []).append(f.status)
    if "gap" in counts and model.rules_.default is not None:
        n_gap = counts.pop("gap").count("violated")
        say(f"  rules  gap: {n_gap} region(s) where no rule fires, answered by the default class "
            f"{model.rules_.default!r} (information, not an error)")
    for check in ("conflict", "dead", "redundant_condition", "redundant_rule", "gap"):
        if check in counts:
            say(f"  rules  {check}: " + ", ".join(f"{counts[check].count(s)} {s}"
                                                  for s in ("proved", "violated", "unknown") if counts[check].count(s)))
    h_report = verify_hybrid(hybrid, DEMO_PROPERTIES)
    (out / "hybrid-verification.json").write_text(h_report.to_json(), encoding="utf-8")
    for f in h_report.findings:
        if f.check == "property":
            say(f"  hybrid [{f.status}] {f.message}")

    # 4. Exports and model directories.
    say("\n[4/5] Exports and model directories:")
    model.rules_.to_json(out / "rules.json", overwrite=True)  # the demo's own files (checked above)
    (out / "rules.txt").write_text(model.rules_.to_text() + "\n", encoding="utf-8")
    (out / "rules.sql").write_text(to_sql(model, table="applicants") + "\n", encoding="utf-8")
    (out / "rules.py").write_text(to_python(model), encoding="utf-8")
    model.domain_.to_json(out / "domain.json", overwrite=True)
    reloaded = RuleSet.from_json(out / "rules.json")
    same = bool(np.array_equal(reloaded.predict(X_test), model.rules_.predict(X_test))
                and np.array_equal(reloaded.predict_proba(X_test), model.rules_.predict_proba(X_test)))
    if reloaded != model.rules_ or not same:
        raise RuntimeError("rules.json did not reload to identical rules; please report this bug.")
    models = out / "models"
    models.mkdir(exist_ok=True)
    save(model, models / "rules", overwrite=True)
    save(hybrid, models / "hybrid", overwrite=True)
    back = load(models / "hybrid")
    if not np.array_equal(back.predict(X_test), h_pred):
        raise RuntimeError("the saved hybrid did not reload to identical predictions; please report this bug.")
    say(f"  {out / 'rules.json'} (reloads to identical rules and predictions), rules.txt, rules.sql, rules.py, "
        f"domain.json")
    say(f"  {models / 'rules'}/ and {models / 'hybrid'}/ (model directories; the hybrid reloads to identical "
        f"predictions on {len(X_test)} rows)")

    # 5. The audit report a reviewer reads.
    say("\n[5/5] Audit report on the held-out rows ...")
    from .audit import audit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = audit(hybrid, X_test, y_test, protected=["status_sex", "age"], properties=DEMO_PROPERTIES,
                    description=data)
    rep.write_html(out / "audit.html", overwrite=True)
    rep.write_json(out / "audit.json", overwrite=True)
    say(f"  {rep}")
    say(f"  {out / 'audit.html'} (open it in a browser) and {out / 'audit.json'}")
    say(f"\ndone in {time.perf_counter() - t0:.1f} s. Next: `rulekd verify {models / 'hybrid'} --property ...`, "
        f"`rulekd export {models / 'rules'} --format sql`, `rulekd predict {models / 'hybrid'} --data FILE.csv --out PRED.csv`")
    _write_demo_marker(out, DEMO_FILES)
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
    from ._commands import add_parsers

    add_parsers(sub)
    try:
        from .verify._cli import add_verify_parser
    except ImportError:  # the verifier is optional at import time
        pass
    else:
        add_verify_parser(sub)
    return parser


def _quiet_stdout() -> None:
    """Point the standard output at the null device, so that flushing it at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no file descriptor (a captured stream): nothing to flush
        pass


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
    except BrokenPipeError:  # the reader stopped early (`rulekd predict ... --out - | head`): not an error of input
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except PermissionError as exc:
        where = f"{exc.filename!r}" if exc.filename else str(exc)
        print(f"rulekd: error: permission denied: {where}; fix its permissions or choose another path.",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a missing file, a file where a folder should be, a full disk: one line, no traceback
        print(f"rulekd: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RulekdError, ValueError) as exc:  # bad data or files: one line, never a traceback
        from .verify import PropertySyntaxError

        # ... except a property's syntax error (a --guard), whose caret marks a place on the line above it.
        msg = str(exc).rstrip() if isinstance(exc, PropertySyntaxError) else " ".join(str(exc).split())
        print(f"rulekd: error: {msg}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: the traceback for a report, and an exit code of its own
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"rulekd: internal error ({type(exc).__name__}); this is a bug in rulekd, please report it with "
              f"the traceback above.", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
