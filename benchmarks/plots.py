"""Plots of the benchmark results: PNG files drawn from the JSON the suites wrote.

Reads ``benchmarks/results/*.json`` and writes, next to each file it can draw,
a PNG of the same name:

* ``fidelity*.json`` -> fidelity against complexity, one panel per data set:
  each method's median fidelity over folds against the median size it used (in
  its own unit: leaves, rules, stumps, terms), one point per budget, bars from
  the lowest to the highest fold;
* ``hybrid*.json`` -> accuracy against transparency, one panel per data set (``hybrid_corels.json``:
  HybridCORELS's points, one per binarisation):
  the hybrid at each transparency level (median accuracy against the median
  share of held-out rows answered by rules), the teacher and the neural student
  alone as horizontal lines, the rule student alone as a point at 1;
* ``verify.json``, ``verify_full.json`` -> verification seconds
  against rule count, log-log: rulekd with one and two jobs, the naive Z3
  baseline (hollow where extrapolated from a sample);
* ``predict*.json`` -> rows per second per method (log scale), per row count.

Whatever is absent is skipped with a line saying so.

    python -m benchmarks.plots [--results DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _common as C


def _grid(n: int, width: float = 4.6, height: float = 3.6) -> tuple[Any, list]:
    import matplotlib.pyplot as plt

    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _shared_legend(fig: Any, axes: list, ncol: int) -> None:
    """One legend under the figure for every label drawn in any panel (first handle per label)."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for h, n in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(n, h)
    fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center", ncol=min(ncol, len(seen)),
               frameon=False, fontsize=8)


def _stamp(payload: dict) -> str:
    env = payload.get("environment", {})
    return f"{payload.get('command', '').strip()} · {env.get('date', '')} · {env.get('cpu_count', '?')} CPUs"


# -- fidelity ---------------------------------------------------------------------------


def _family_label(method: str) -> str:
    return method.split(" (")[0]


def plot_fidelity(payload: dict, out: Path) -> Path | None:
    df = pd.DataFrame(payload.get("records", []))
    if df.empty or "fidelity" not in df:
        return None
    df = df[(df.status == "ok") & (df.family != "teacher") & df.rules.notna()].copy()
    if df.empty:
        return None
    df["label"] = df.method.map(_family_label)
    datasets = list(dict.fromkeys(df.dataset))
    labels = list(dict.fromkeys(df.label))
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20")
    colors = {lab: cmap(i % 20) for i, lab in enumerate(labels)}
    fig, axes = _grid(len(datasets))
    for ax, name in zip(axes, datasets):
        d = df[df.dataset == name]
        for lab in labels:
            g = d[d.label == lab]
            if g.empty:
                continue
            s = g.groupby("budget").agg(size=("rules", "median"), fid=("fidelity", "median"),
                                        lo=("fidelity", "min"), hi=("fidelity", "max")).sort_values("size")
            ours = lab.startswith("rulekd")
            k = [x for x in labels if x.startswith("rulekd")].index(lab) if ours else 0
            # rulekd's students: thick lines, one marker each (the rule set and list often coincide)
            ax.errorbar(s["size"], s["fid"], yerr=[s["fid"] - s["lo"], s["hi"] - s["fid"]], color=colors[lab],
                        marker="osD^"[k % 4] if ours else ".", mfc="none" if ours and k % 2 else colors[lab],
                        lw=2.2 if ours else 1.0, ls=("-", "-.", ":")[k % 3] if ours else "--",
                        ms=8 - 2 * (k % 2) if ours else 5, capsize=2, elinewidth=0.6, label=lab,
                        zorder=3 if ours else 2)
        ax.set_title(name)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("size used (leaves / rules / stumps / terms)")
        ax.set_ylabel("fidelity to the teacher")
        ax.grid(alpha=0.3)
    _shared_legend(fig, axes, ncol=5)
    fig.suptitle("Fidelity against complexity (median over folds, bars: fold range)\n" + _stamp(payload),
                 fontsize=9)
    return _save(fig, out)


# -- hybrid -----------------------------------------------------------------------------


def plot_hybrid(payload: dict, out: Path) -> Path | None:
    df = pd.DataFrame(payload.get("rows", []))
    if df.empty or not {"method", "accuracy", "transparency"} <= set(df.columns):
        return None
    datasets = list(dict.fromkeys(df.dataset))
    fig, axes = _grid(len(datasets))
    for ax, name in zip(axes, datasets):
        d = df[df.dataset == name]
        med = d.groupby("method", sort=False)[["accuracy", "transparency"]].median()
        hyb = med[med.index.str.startswith("hybrid")].sort_values("transparency")
        if len(hyb):
            ax.plot(hyb.transparency, hyb.accuracy, "o-", color="tab:blue", lw=2, label="hybrid")
        for m, r in hyb.iterrows():
            ax.annotate(m.split("@")[-1].strip(), (r.transparency, r.accuracy), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color="tab:blue")
        # hybrid_corels.json: the public peer's points ("HybridCORELS @ 0.50 (q=5, card 1)"), one per setting
        for m, r in med[med.index.str.startswith("HybridCORELS")].iterrows():
            ax.plot([r.transparency], [r.accuracy], "x", ms=8, color="tab:purple", label="HybridCORELS")
            ax.annotate(m.split("(")[-1].split(",")[0], (r.transparency, r.accuracy), textcoords="offset points",
                        xytext=(4, -10), fontsize=7, color="tab:purple")
        refs = (("teacher", "tab:red", "-"), ("neural student alone", "tab:green", "--"))
        for key, color, ls in refs:
            if key in med.index:
                ax.axhline(med.loc[key, "accuracy"], color=color, ls=ls, lw=1.2, label=key)
        rule = [m for m in med.index if m.startswith("rule student")]
        for m in rule:
            ax.plot([med.loc[m, "transparency"]], [med.loc[m, "accuracy"]], "*", ms=11, color="tab:orange",
                    label=m)
        ax.set_xlim(-0.03, 1.05)
        ax.set_title(name)
        ax.set_xlabel("transparency (share of held-out rows answered by rules)")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
    _shared_legend(fig, axes, ncol=4)
    fig.suptitle("Accuracy against transparency (median over folds)\n" + _stamp(payload), fontsize=9)
    return _save(fig, out)


# -- verify -----------------------------------------------------------------------------


def plot_verify(payload: dict, out: Path) -> Path | None:
    recs = [r for r in payload.get("records", []) if isinstance(r, dict) and {"rules", "rulekd_s_jobs1"} <= set(r)]
    if not recs:
        return None
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in recs))
    markers = dict(zip(datasets, "osD^v<>p"))
    fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
    series = (("rulekd_s_jobs1", "rulekd, n_jobs=1", "tab:blue"), ("rulekd_s_jobs2", "rulekd, n_jobs=2", "tab:cyan"),
              ("naive_s", "naive all-pairs Z3", "tab:red"))
    for key, label, color in series:
        for name in datasets:
            rs = sorted((r for r in recs if r["dataset"] == name and r.get(key) is not None), key=lambda r: r["rules"])
            if not rs:
                continue
            x = [r["rules"] for r in rs]
            y = [max(r[key], 1e-3) for r in rs]
            ax.plot(x, y, "-", color=color, lw=1, alpha=0.6)
            for r, xi, yi in zip(rs, x, y):
                hollow = key == "naive_s" and r.get("naive_extrapolated")
                ax.plot([xi], [yi], markers[name], color=color, mfc="none" if hollow else color, ms=7)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=2, label=lab) for _, lab, c in series]
    handles += [Line2D([], [], color="gray", marker=markers[n], ls="", label=n) for n in datasets]
    handles.append(Line2D([], [], color="tab:red", marker="o", mfc="none", ls="", label="naive, extrapolated"))
    ax.legend(handles=handles, fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rules")
    ax.set_ylabel("seconds for the full set of checks")
    ax.grid(alpha=0.3, which="both")
    ax.set_title("Verification time against rule count\n" + _stamp(payload), fontsize=9)
    return _save(fig, out)


# -- predict ----------------------------------------------------------------------------


def plot_predict(payload: dict, out: Path) -> Path | None:
    recs = [r for r in payload.get("records", []) if r.get("rows_per_s")]
    if not recs:
        return None
    import matplotlib.pyplot as plt

    sizes = sorted({r["n_rows"] for r in recs})
    methods = list(dict.fromkeys(r["method"] for r in payload["records"]))
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.45 * len(methods) * len(sizes)), layout="constrained")
    height = 0.8 / len(sizes)
    for j, n in enumerate(sizes):
        by = {r["method"]: r for r in recs if r["n_rows"] == n}
        ys = np.arange(len(methods)) + j * height
        vals = [by[m]["rows_per_s"] if m in by else 0 for m in methods]
        ax.barh(ys, vals, height=height, label=f"{n:,} rows")
        for y, m in zip(ys, methods):
            if m in by:
                ax.text(by[m]["rows_per_s"], y, f" {by[m]['speedup_vs_teacher']:.1f}×", va="center", fontsize=7)
            else:
                ax.text(1, y, " " + next(r["status"] for r in payload["records"] if r["method"] == m), va="center",
                        fontsize=7)
    ax.set_yticks(np.arange(len(methods)) + height * (len(sizes) - 1) / 2)
    ax.set_yticklabels(methods, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(left=min(r["rows_per_s"] for r in recs) / 4)
    ax.set_xlabel("rows per second (one thread; label: speed-up over the teacher)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="x", which="both")
    ax.set_title("Prediction speed\n" + _stamp(payload), fontsize=9)
    return _save(fig, out)


# file patterns -> the function that draws them (verify_neural*.json has no rule counts: not drawn)
PLOTTERS = ((("fidelity*.json",), plot_fidelity), (("hybrid*.json",), plot_hybrid),
            (("verify.json", "verify_full.json"), plot_verify), (("predict*.json",), plot_predict))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=C.RESULTS, help="folder of the JSON results (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("[plots] skipped: matplotlib is not installed (pip install rulekd[bench])", file=sys.stderr)
        return 0
    drawn = 0
    for patterns, plot in PLOTTERS:
        paths = sorted(p for pattern in patterns for p in args.results.glob(pattern))
        if not paths:
            print(f"[plots] no {' or '.join(patterns)} in {args.results}: nothing to draw", file=sys.stderr)
        for path in paths:
            payload = json.loads(path.read_text(encoding="utf-8"))
            png = plot(payload, path.with_suffix(".png"))
            if png is None:
                print(f"[plots] {path.name}: no records this module can draw; skipped", file=sys.stderr)
            else:
                drawn += 1
                print(f"[plots] {png}", file=sys.stderr)
    return 0 if drawn else 1


if __name__ == "__main__":
    raise SystemExit(main())
