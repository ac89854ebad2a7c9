"""Issue 5's reference, measured: HybridCORELS with the fold's teacher as its black box, on the hybrid suite's folds.

Issue 5 quotes HybridCORELS's accuracy at about 0.5 and 0.75 transparency; this suite measures it
on the same folds as ``benchmarks/hybrid.py`` (5-fold stratified, fold seed 0), so that the
hybrid's figures can be set against a run of the peer, not only against quoted numbers.

For each data set, fold and binarisation: ``HybridCORELSPreClassifier``'s interpretable part
(an ordered rule prefix, certifiably optimal for its objective under ``min_coverage``) is learned
on the training fold's true labels over binary features; the rows it leaves are answered by the
fold's teacher (``XGBClassifier(n_estimators=200, max_depth=4)`` fitted on the whole training
fold, as ``benchmarks/hybrid.py``'s teacher row). That is HybridCORELS's own black-box step with
its default ``alpha=0`` (the black box fitted on every training row with equal weights), with
this project's teacher.

Binary features (CORELS needs them): for each numeric feature, ``x <= t`` and ``x > t`` at
``q`` quantiles of the training fold; for each level of a categorical feature, ``x == level``
and ``x != level``. A missing value makes every test on its feature false.

Not part of ``make bench``: HybridCORELS 0.53 (GPL-3.0, PyPI source only) does not build with
numpy 2 as published; benchmarks/README.md ("HybridCORELS") gives the steps used here.

    python -m benchmarks.hybrid_corels [--datasets breast_cancer,heart] [--quantiles 5,9]
                                       [--max-card 1] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time

import numpy as np
import pandas as pd

from . import _common as C
from .hybrid import REFERENCE

LEVELS = (0.5, 0.75)


def binarize(Xtr: pd.DataFrame, Xte: pd.DataFrame, n_quantiles: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Binary tests learned on ``Xtr`` (thresholds at its quantiles), applied to both frames."""
    tr_cols, te_cols, names = [], [], []

    def add(name: str, a: np.ndarray, b: np.ndarray) -> None:
        tr_cols.append(a)
        te_cols.append(b)
        names.append(name)

    for c in Xtr.columns:
        s_tr, s_te = Xtr[c], Xte[c]
        if isinstance(s_tr.dtype, pd.CategoricalDtype) or s_tr.dtype == object:
            levels = pd.unique(s_tr.dropna())
            for lv in levels:
                add(f"{c}=={lv}", (s_tr == lv).to_numpy(), (s_te == lv).to_numpy())
                if len(levels) > 2:  # with two levels, != one is == the other
                    add(f"{c}!={lv}", (s_tr.notna() & (s_tr != lv)).to_numpy(),
                        (s_te.notna() & (s_te != lv)).to_numpy())
            continue
        a, b = s_tr.to_numpy(dtype=float), s_te.to_numpy(dtype=float)
        known = a[~np.isnan(a)]
        if known.size == 0:
            continue
        cuts = np.unique(np.quantile(known, np.linspace(0, 1, n_quantiles + 2)[1:-1]))
        for t in cuts[cuts < known.max()]:  # a cut at the maximum splits nothing
            with np.errstate(invalid="ignore"):
                add(f"{c}<={t:.6g}", a <= t, b <= t)
                add(f"{c}>{t:.6g}", a > t, b > t)
    return (np.column_stack(tr_cols).astype(np.uint8), np.column_stack(te_cols).astype(np.uint8), names)


def run_fold(name: str, X: pd.DataFrame, y: np.ndarray, tr: np.ndarray, te: np.ndarray, quantiles: list[int],
             max_card: int, time_limit: int) -> list[dict]:
    from HybridCORELS import HybridCORELSPreClassifier

    Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
    teacher, t_fit = C.fit_frozen_teacher(Xtr, ytr)
    t_pred = teacher.predict(Xte)
    rows = [{"method": "teacher", "accuracy": float(np.mean(t_pred == yte)), "transparency": 0.0, "rules": 0,
             "fit_s": t_fit}]
    classes = np.unique(ytr)
    if len(classes) != 2:
        raise SystemExit(f"{name}: HybridCORELS takes two classes, this data set has {len(classes)}.")
    codes_tr = (ytr == classes[1]).astype(int)
    for q in quantiles:
        Btr, Bte, names = binarize(Xtr, Xte, q)
        for level in LEVELS:
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress (and that no black box is given)
                model = HybridCORELSPreClassifier(min_coverage=level, max_card=max_card, verbosity=[])
                model.interpretable_part.fit(Btr, codes_tr, names, "y", time_limit=time_limit, memory_limit=6000)
            fit_s = time.perf_counter() - t0
            part = np.asarray(model.interpretable_part.predict(Bte))  # 0 / 1: a rule answers; 2: the black box
            by_rule = part < 2
            pred = np.where(by_rule, classes[np.minimum(part, 1)], t_pred)
            listed = getattr(getattr(model.interpretable_part, "rl_", None), "rules", None)
            prefix = None if listed is None else listed[:-1]  # the last entry stands for the black box
            rows.append({"method": f"HybridCORELS @ {level:.2f} (q={q}, card {max_card})",
                         "accuracy": float(np.mean(pred == yte)), "transparency": float(by_rule.mean()),
                         "rules": None if prefix is None else len(prefix), "binary_features": len(names),
                         "fit_s": t_fit + fit_s, "level": level, "quantiles": q})
    for r in rows:
        r["dataset"] = name
    return rows


def _markdown(raw: list[dict], datasets: list[str], fold_seed: int) -> str:
    df = pd.DataFrame(raw)
    lines = ["# HybridCORELS measured on the hybrid suite's folds", "",
             f"Stratified 5-fold CV, fold seed {fold_seed}. Accuracy: mean over folds (median, min–max). The "
             "rows a prefix leaves are answered by the fold's teacher. Transparency: share of held-out rows the "
             "prefix answers (its `min_coverage` holds on the training fold). `q`: quantiles per numeric "
             "feature; `card`: conditions per rule.", ""]
    for name in datasets:
        d = df[df["dataset"] == name]
        lines += [f"## {name}", "", "| method | accuracy (mean) | median [min–max] | transparency | rules | fit s |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for m in dict.fromkeys(d["method"]):
            g = d[d["method"] == m]
            ref = "" if "level" not in g or g["level"].isna().all() else (
                f" (issue 5's reference: {REFERENCE[float(g['level'].iloc[0])][name]})")
            rules = "" if g["rules"].isna().all() else C.median_count(g["rules"].dropna())
            lines.append(f"| {m}{ref} | {g['accuracy'].mean():.4f} | {C.fmt(C.summarise(g['accuracy']))} | "
                         f"{g['transparency'].mean():.2f} | {rules} | {np.median(g['fit_s']):.1f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(d for d in C.DATASETS if d != "adult"),
                    help="comma-separated (default: all but adult, whose binary features make CORELS slow)")
    ap.add_argument("--quantiles", default="5,9", help="quantiles per numeric feature, comma-separated")
    ap.add_argument("--max-card", type=int, default=1, help="conditions per rule (CORELS's max_card)")
    ap.add_argument("--time-limit", type=int, default=60, help="CPU seconds per prefix search")
    ap.add_argument("--fold-seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        import HybridCORELS  # noqa: F401
    except ImportError:
        raise SystemExit("HybridCORELS is not installed; benchmarks/README.md ('HybridCORELS') says how.") from None
    quantiles = [int(q) for q in args.quantiles.split(",")]
    datasets = args.datasets.split(",")
    raw: list[dict] = []
    t_start = time.perf_counter()
    for name in datasets:
        X, y = C.load(name)
        for k, tr, te in C.folds(X, y, seed=args.fold_seed):
            for r in run_fold(name, X, y, tr, te, quantiles, args.max_card, args.time_limit):
                r["fold"] = k
                raw.append(r)
            print(f"  {name} fold {k} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    md = _markdown(raw, datasets, args.fold_seed)
    out = "hybrid_corels" + (f"_seed{args.fold_seed}" if args.fold_seed else "")
    C.write_results(out, {"fold_seed": args.fold_seed, "quantiles": quantiles, "max_card": args.max_card,
                          "time_limit_s": args.time_limit, "rows": raw}, md, argv, rows_key="rows")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
