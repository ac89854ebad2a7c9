"""Guard suite: what a guard costs the hybrid in accuracy and prediction time.

For each data set and fold: ``HybridClassifier(transparency=0.5)`` without
guards, and with each guard of :data:`GUARDS` alone (one fit each, same
``random_state``). Test-fold accuracy, transparency, rules, fit seconds,
predict seconds (best of three calls; and their ratio to the unguarded
hybrid's), and how many
test rows answered by the student get another answer from the guarded
student than from the bare network (the construction's own effect; the rest
of the accuracy difference comes from the rules chosen under the guard).

A Monotone guard answers on a grid of its feature's values (quantiles of the
distinct training values, ``rulekd/hybrid/_guards.py``). The rows marked
"grid: quantiles of rows" take the same fitted hybrid and swap in quantiles
of the training rows instead (``guard_grids_``), to judge that choice.

    python -m benchmarks.guards [--quick] [--datasets heart,german_credit]

Quick profile: 2 of the 5 folds, heart only unless ``--datasets``, adult
subsampled to 8,000 rows. Full: 5 folds, adult's whole train split.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from . import _common as C

# data set -> guards, each (kind, feature[, direction, toward class]); toward 1 = the risk class
# (disease, bad credit, income > 50K), a direction a reviewer would expect.
GUARDS = {
    "heart": [("Monotone", "chol", "increasing", 1), ("Invariant", "sex")],
    "german_credit": [("Monotone", "credit_amount", "increasing", 1), ("Invariant", "status_sex")],
    "adult": [("Monotone", "capital_gain", "increasing", 1), ("Invariant", "sex")],
}
PROFILES = {
    "quick": dict(n_folds_run=2, adult_rows=8000, datasets="heart"),
    "full": dict(n_folds_run=5, adult_rows=None, datasets=",".join(GUARDS)),
}
GRID_SIZE = 32  # as rulekd.hybrid._guards.GRID_SIZE


def _guard(spec: tuple):
    from rulekd.verify import Invariant, Monotone

    if spec[0] == "Monotone":
        return Monotone(spec[1], spec[2], toward=spec[3])
    return Invariant(spec[1])


def _label(spec: tuple | None) -> str:
    if spec is None:
        return "no guard"
    if spec[0] == "Monotone":
        return f"Monotone({spec[1]}, {spec[2]}, toward={spec[3]})"
    return f"Invariant({spec[1]})"


def _row_quantiles(values: np.ndarray, size: int) -> np.ndarray:
    """``size`` quantiles of the rows (ties count as often as they occur), distinct."""
    v = values[~np.isnan(values)]
    if len(np.unique(v)) <= size:
        return np.unique(v)
    return np.unique(np.quantile(v, np.linspace(0.0, 1.0, size), method="inverted_cdf"))


def _student_changed(hyb, Xte) -> int:
    """Test rows answered by the student whose guarded answer differs from the bare network's."""
    frame = hyb._input(Xte)
    raw = np.argmax(hyb._student_proba_raw(frame), axis=1)
    guarded, _ = hyb._student_answer(frame)
    stu = hyb.decided_by(Xte) == "student"
    return int(np.sum(guarded[stu] != raw[stu]))


def run_fold(name: str, X, y, tr, te) -> list[dict]:
    from rulekd import HybridClassifier

    Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
    rows = []
    base_predict = None
    for spec in [None] + GUARDS[name]:
        guards = [] if spec is None else [_guard(spec)]
        hyb, s_fit = C.timed(lambda: HybridClassifier(teacher=C.teacher(), transparency=0.5, guards=guards,
                                                      random_state=0).fit(Xtr, ytr))
        variants = [(_label(spec), None)]
        if spec is not None and spec[0] == "Monotone":
            variants.append((_label(spec) + ", grid: quantiles of rows", spec[1]))
        for label, regrid in variants:
            if regrid is not None:
                x = hyb._input(Xtr)[regrid].to_numpy(dtype=np.float64, na_value=np.nan)
                hyb.guard_grids_ = {regrid: _row_quantiles(x, GRID_SIZE)}
                hyb.__dict__.pop("_guarding", None)  # rebuilt from guard_grids_
            # Best of three: the first call of a process also pays one-off costs (torch's first forward pass).
            runs = [C.timed(lambda: hyb.predict(Xte)) for _ in range(3)]
            p, s_pred = runs[0][0], min(s for _, s in runs)
            base_predict = s_pred if spec is None else base_predict
            by = hyb.decided_by(Xte)
            rows.append({"dataset": name, "guard": label, "accuracy": float(np.mean(p == yte)),
                         "right": int(np.sum(p == yte)), "n": len(te),
                         "transparency": float(np.mean(by != "student")), "rules": len(hyb.rules_),
                         "student_changed": 0 if spec is None else _student_changed(hyb, Xte),
                         "fit_s": s_fit, "predict_s": s_pred, "predict_ratio": s_pred / base_predict})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 folds, heart only unless --datasets")
    ap.add_argument("--datasets", default=None, help="comma-separated, from " + ", ".join(GUARDS))
    args = ap.parse_args(argv)
    prof = PROFILES["quick" if args.quick else "full"]
    datasets = (args.datasets or prof["datasets"]).split(",")
    unknown = [d for d in datasets if d not in GUARDS]
    if unknown:
        ap.error(f"no guards declared for {unknown}; choose from {', '.join(GUARDS)}.")
    t_start = time.perf_counter()
    raw: list[dict] = []
    for name in datasets:
        X, y = C.load(name, max_rows=prof["adult_rows"] if name == "adult" else None)
        for k, tr, te in C.folds(X, y):
            if k >= prof["n_folds_run"]:
                break
            for r in run_fold(name, X, y, tr, te):
                r["fold"] = k
                raw.append(r)
            print(f"  {name} fold {k} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    md = _markdown(raw, datasets, prof)
    C.write_results("guards" if args.quick else "guards_full",
                    {"profile": "quick" if args.quick else "full", "profile_settings": prof, "rows": raw}, md, argv,
                    rows_key="rows")
    print(md)
    return 0


def _markdown(raw: list[dict], datasets: list[str], prof: dict | None = None) -> str:
    import pandas as pd

    prof = prof or PROFILES["full"]
    df = pd.DataFrame(raw)
    folds = "" if prof["n_folds_run"] == 5 else f" ({prof['n_folds_run']} of the 5 folds run: the quick profile)"
    lines = ["# Guards: accuracy and prediction time against the unguarded hybrid", "",
             f"Stratified 5-fold CV{folds}, seed 0 (the protocol's folds), transparency 0.5. Accuracy: median over folds "
             "[min–max]; *right*: test rows right, summed over the folds run; *student changed*: test rows the "
             "student answers where the guarded answer differs from the bare network's, summed; predict ×: "
             "median ratio of predict seconds to the unguarded hybrid's on the same fold.", ""]
    for name in datasets:
        d = df[df["dataset"] == name]
        if d.empty:
            continue
        lines += [f"## {name}", "",
                  "| guard | accuracy | right | Δ right | transparency | rules | student changed | fit s "
                  "| predict × |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        base = int(d[d["guard"] == "no guard"]["right"].sum())
        for g in dict.fromkeys(d["guard"]):
            s = d[d["guard"] == g]
            right = int(s["right"].sum())
            lines.append(f"| {g} | {C.fmt(C.summarise(s['accuracy']))} | {right} of {int(s['n'].sum())} | "
                         f"{right - base:+d} | {C.fmt(C.summarise(s['transparency']), 2)} | "
                         f"{C.median_count(s['rules'])} | {int(s['student_changed'].sum())} | "
                         f"{np.median(s['fit_s']):.1f} | {np.median(s['predict_ratio']):.1f} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
