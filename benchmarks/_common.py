"""Shared protocol of the benchmark suites: data, folds, teacher, timing, output.

Protocol (issue 7): the five bundled data sets, stratified 5-fold CV with
seed 0, teacher ``XGBClassifier(n_estimators=200, max_depth=4)`` fitted once
per fold and shared by every method (as a ``FrozenEstimator``), medians over
folds with the spread, all times from this process and also given as ratios to
a baseline measured in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ("german_credit", "compas", "adult", "heart", "breast_cancer")


def load(name: str, *, max_rows: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and 0/1 target of a bundled data set (adult: the standard train split)."""
    from rulekd.datasets import load_dataset

    kw = {"split": "train"} if name == "adult" else {}
    b = load_dataset(name, **kw)
    X, y = b.data.reset_index(drop=True), np.asarray(b.target)
    if max_rows is not None and len(X) > max_rows:
        rng = np.random.default_rng(0)
        idx = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    return X, y


def folds(X: pd.DataFrame, y: np.ndarray, n_splits: int = 5,
          seed: int = 0) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Stratified, shuffled folds; ``seed`` 0 gives the protocol's folds (the ones every target is stated on)."""
    skf = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(skf.split(X, y)):
        yield k, tr, te


def teacher() -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=200, max_depth=4, enable_categorical=True, tree_method="hist",
                         random_state=0, n_jobs=1)


def fit_frozen_teacher(X: pd.DataFrame, y: np.ndarray) -> tuple[Any, float]:
    """The fold's teacher, fitted once and frozen; returns it with its fit seconds."""
    from sklearn.frozen import FrozenEstimator

    t0 = time.perf_counter()
    model = teacher().fit(X, y)
    return FrozenEstimator(model), time.perf_counter() - t0


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def environment() -> dict:
    import importlib.metadata as md

    versions = {}
    for pkg in ("rulekd", "numpy", "pandas", "scikit-learn", "xgboost-cpu", "xgboost", "torch", "z3-solver",
                "imodels", "te2rules", "wittgenstein"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": _commit(),
    }


def _commit() -> str | None:
    """The git commit of the code that ran (``+dirty`` with uncommitted changes), or None outside git."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "benchmarks"], cwd=root,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def summarise(values: list[float]) -> dict:
    a = np.asarray(values, dtype=float)
    return {"median": float(np.median(a)), "min": float(a.min()), "max": float(a.max()), "n": int(a.size)}


def fmt(stat: dict, digits: int = 3) -> str:
    return f"{stat['median']:.{digits}f} [{stat['min']:.{digits}f}–{stat['max']:.{digits}f}]"


def write_results(name: str, payload: dict, markdown: str, argv: list[str] | None = None,
                  rows_key: str | None = None) -> None:
    """Write ``results/<name>.json`` and ``.md``, stamped with the environment and the command.

    ``rows_key``: the payload's list of per-fold rows; each row this run made is stamped with its
    ``source`` (date, command, commit), so that ``--update`` can say where kept rows come from.
    """
    import sys

    RESULTS.mkdir(parents=True, exist_ok=True)
    args = list(sys.argv[1:] if argv is None else argv)
    module = name.removesuffix("_full")  # <suite>_full.* is the full profile of benchmarks/<suite>.py
    payload = {"environment": environment(), "command": f"python -m benchmarks.{module} " + " ".join(args), **payload}
    if rows_key is not None:
        env = payload["environment"]
        source = {"date": env["date"], "command": payload["command"].strip(), "commit": env.get("commit")}
        for row in payload[rows_key]:
            row.setdefault("source", source)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    (RESULTS / f"{name}.md").write_text(header(payload) + markdown, encoding="utf-8")


def kept_rows(name: str, rerun: list[str], key: str = "rows") -> tuple[list[dict], str]:
    """For ``--update``: the rows (``payload[key]``) of ``results/<name>.json`` whose data set is
    not in ``rerun``, and a line for the markdown saying which run they come from."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"--update needs an earlier {path}; run without --update first.")
    old = json.loads(path.read_text(encoding="utf-8"))
    rows = [r for r in old[key] if r["dataset"] not in rerun]
    # Rows written before sources were stamped come from the file's run.
    file_source = {"date": old["environment"]["date"], "command": old["command"].strip(),
                   "commit": old["environment"].get("commit")}
    groups: dict[tuple, set] = {}
    for r in rows:
        r.setdefault("source", file_source)
        src = r["source"]
        groups.setdefault((src["date"], src["command"], src.get("commit")), set()).add(r["dataset"])
    parts = [f"{', '.join(sorted(ds))} from the run of {date} (`{cmd}`, commit {commit or 'not recorded'})"
             for (date, cmd, commit), ds in sorted(groups.items())]
    line = (f"Rerun here: {', '.join(rerun)}. Kept: {'; '.join(parts) or 'none'}. Rows of different commits "
            f"may differ in code as well as in data set.\n\n")
    return rows, line


def header(payload: dict) -> str:
    """The stamp that opens every ``results/*.md``: the command, the date, the machine, the versions."""
    env = payload["environment"]
    command = payload.get("command") or "python -m benchmarks"
    return (
        f"<!-- generated by `{command.strip()}`; do not edit -->\n"
        f"Run {env['date']} on {env['cpu_count']} CPUs ({env['machine']}), Python {env['python']}; "
        + ", ".join(f"{k} {v}" for k, v in env["packages"].items())
        + "\n\n"
    )


def median_count(values: Any) -> str:
    """The median of counts (rules, conditions): a whole number, or with one decimal where an even number
    of folds puts it between two (rules 7 and 26 over 2 folds: 16.5, not 16)."""
    m = float(np.median(np.asarray(values, dtype=float)))
    return f"{m:.0f}" if m == round(m) else f"{m:.1f}"


def times(x: float) -> str:
    """A ratio as ``1.5x``, ``42x`` or ``1,143x``."""
    return f"{x:.1f}x" if x < 10 else f"{x:,.0f}x"
