"""Hybrid suite: accuracy against transparency, with the teacher and each student alone.

For each data set and fold: the fold's teacher (XGBoost, 200 trees of depth 4,
fitted on the training fold); the rule student alone (``DistilledRuleClassifier``,
16 rules) and the neural student alone (``DistilledMLPClassifier`` as the
hybrid's default student: with the teacher's 24 cuts as step inputs where the
hybrid's training part has 10,000 rows or more, adult here), both
distilled from that teacher; and ``HybridClassifier`` at transparency 0.25,
0.5, 0.75 and the automatic choice (one fit, then :meth:`retarget` for each
level). The hybrid fits the same teacher configuration on its own
training part (85 %), because its validation rows must stay unseen by the teacher
(see ``rulekd/hybrid/_hybrid.py``). Accuracy, fidelity to the fold's teacher,
transparency achieved on the held-out fold, number of rules, fit seconds.

    python -m benchmarks.hybrid [--quick] [--datasets german_credit,heart] [--fold-seed 1]

``--fold-seed S`` (S > 0) draws other folds and writes ``results/hybrid_full_seedS``
(``hybrid_seedS`` quick): the reference below was measured on seed 0's folds, where
one test row moves a median by 0.5-1.6 points on the small data sets, so judge a
change to the hybrid on other seeds and report seed 0.

Quick profile: 2 of the 5 folds, adult subsampled to 8,000 rows, student
epochs capped at 60. Full: 5 folds, all of adult's train split.

Reference (issue 5): HybridCORELS with the same teacher as black box reaches,
at about 0.5 transparency, german_credit 0.752, compas 0.675, adult 0.867,
heart 0.795, breast_cancer 0.972 accuracy; at about 0.75, 0.733 / 0.668 /
0.824 / 0.805 / 0.974. Target: at every level rulekd's hybrid is at least as
accurate, and at 0.5 within 0.3 points of the teacher on the median data set.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import _common as C

LEVELS = (0.25, 0.5, 0.75, None)
REFERENCE = {  # HybridCORELS accuracy at ~0.5 and ~0.75 transparency (issue 5)
    0.5: {"german_credit": 0.752, "compas": 0.675, "adult": 0.867, "heart": 0.795, "breast_cancer": 0.972},
    0.75: {"german_credit": 0.733, "compas": 0.668, "adult": 0.824, "heart": 0.805, "breast_cancer": 0.974},
}
PROFILES = {
    "quick": dict(n_folds_run=2, adult_rows=8000, max_epochs=60),
    "full": dict(n_folds_run=5, adult_rows=None, max_epochs=200),
}


def _label(level: float | None) -> str:
    return "auto" if level is None else f"{level:.2f}"


def _conditions(rules) -> int:
    """Conditions summed over the rules (what a reviewer reads)."""
    return int(sum(len(r.conditions) for r in rules.rules))


def run_fold(name: str, X, y, tr, te, prof: dict) -> list[dict]:
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, HybridClassifier
    from rulekd.hybrid._hybrid import _part_sizes, _student_steps  # the hybrid's default student's steps

    Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
    teacher, t_fit = C.fit_frozen_teacher(Xtr, ytr)
    t_pred = teacher.predict(Xte)
    rows = [{"method": "teacher", "accuracy": float(np.mean(t_pred == yte)), "fidelity": 1.0, "transparency": 0.0,
             "rules": 0, "fit_s": t_fit}]
    rule, s = C.timed(lambda: DistilledRuleClassifier(teacher=teacher, max_rules=16, random_state=0).fit(Xtr, ytr))
    p = rule.predict(Xte)
    rows.append({"method": "rule student alone (16 rules)", "accuracy": float(np.mean(p == yte)),
                 "fidelity": float(np.mean(p == t_pred)), "transparency": 1.0, "rules": len(rule.rules_),
                 "conditions": _conditions(rule.rules_), "fit_s": s})
    # The hybrid's default student, alone and inside the hybrid: its step inputs as the hybrid's
    # training part (the fold less the validation rows) has rows.
    steps = _student_steps(_part_sizes(len(Xtr), HybridClassifier().validation_fraction)[0])
    mlp, s = C.timed(lambda: DistilledMLPClassifier(teacher=teacher, max_epochs=prof["max_epochs"],
                                                    threshold_inputs=steps, random_state=0).fit(Xtr, ytr))
    p = mlp.predict(Xte)
    rows.append({"method": "neural student alone", "accuracy": float(np.mean(p == yte)),
                 "fidelity": float(np.mean(p == t_pred)), "transparency": 0.0, "rules": 0, "fit_s": s})
    hyb, s_fit = C.timed(lambda: HybridClassifier(
        teacher=C.teacher(), student=DistilledMLPClassifier(max_epochs=prof["max_epochs"],
                                                            threshold_inputs=steps),
        transparency=LEVELS[0], random_state=0).fit(Xtr, ytr))
    for level in LEVELS:
        _, s = C.timed(lambda: hyb.retarget(level))
        p = hyb.predict(Xte)
        by = hyb.decided_by(Xte)
        rows.append({"method": f"hybrid @ {_label(level)}", "accuracy": float(np.mean(p == yte)),
                     "fidelity": float(np.mean(p == t_pred)), "transparency": float(np.mean(by != "student")),
                     "rules": len(hyb.rules_), "conditions": _conditions(hyb.rules_), "fit_s": s_fit + s})
    for r in rows:
        r.update(dataset=name)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2 folds, adult subsampled (the make bench profile)")
    ap.add_argument("--datasets", default=",".join(C.DATASETS))
    ap.add_argument("--update", action="store_true",
                    help="rerun only --datasets; keep the other data sets' rows from the last results of this profile")
    ap.add_argument("--fold-seed", type=int, default=0, metavar="S",
                    help="seed of the stratified folds (default 0, the protocol's); S > 0 writes *_seedS results")
    ap.add_argument("--render", action="store_true",
                    help="rebuild the .md of this profile and fold seed from its last JSON; run nothing")
    args = ap.parse_args(argv)
    if args.fold_seed < 0:
        ap.error(f"--fold-seed must be 0 or more, got {args.fold_seed}.")
    prof = PROFILES["quick" if args.quick else "full"]
    out = ("hybrid" if args.quick else "hybrid_full") + (f"_seed{args.fold_seed}" if args.fold_seed else "")
    if args.render:
        return _render(out, sys.argv[1:] if argv is None else argv)
    t_start = time.perf_counter()
    raw: list[dict] = []
    for name in args.datasets.split(","):
        X, y = C.load(name, max_rows=prof["adult_rows"] if name == "adult" else None)
        for k, tr, te in C.folds(X, y, seed=args.fold_seed):
            if k >= prof["n_folds_run"]:
                break
            for r in run_fold(name, X, y, tr, te, prof):
                r["fold"] = k
                raw.append(r)
            print(f"  {name} fold {k} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    datasets = args.datasets.split(",")
    kept_line = ""
    if args.update:
        kept, kept_line = C.kept_rows(out, datasets)
        raw = kept + raw
        datasets = [d for d in C.DATASETS if d in {r["dataset"] for r in raw}]
    md = kept_line + _markdown(raw, datasets, args.fold_seed, prof)
    cmd = "python -m benchmarks.hybrid " + " ".join(sys.argv[1:] if argv is None else argv)
    C.write_results(out, {"command": cmd.strip(), "profile": "quick" if args.quick else "full",
                          "profile_settings": prof, "fold_seed": args.fold_seed, "kept_line": kept_line,
                          "rows": raw}, md, argv, rows_key="rows")
    print(md)
    return 0


def _render(out: str, argv: list[str]) -> int:
    """Rebuild ``results/<out>.md`` from ``results/<out>.json`` (same rows, current tables)."""
    import json

    path = C.RESULTS / f"{out}.json"
    if not path.exists():
        raise SystemExit(f"--render needs {path}; run the suite first.")
    payload = json.loads(path.read_text(encoding="utf-8"))
    raw = payload["rows"]
    datasets = [d for d in C.DATASETS if d in {r["dataset"] for r in raw}]
    today = time.strftime("%Y-%m-%d")
    md = (payload.get("kept_line", "")
          + f"Tables rebuilt on {today} from this run's JSON (`{' '.join(['python -m benchmarks.hybrid', *argv])}`); "
          "nothing was fitted again.\n\n"
          + _markdown(raw, datasets, payload.get("fold_seed", 0), payload.get("profile_settings")))
    (C.RESULTS / f"{out}.md").write_text(C.header(payload) + md, encoding="utf-8")
    print(md)
    return 0


def _median_conditions(g) -> str:
    """Median conditions over folds; blank for rows kept from runs that did not count them."""
    if "conditions" not in g or g["conditions"].isna().all():
        return ""
    return C.median_count(g["conditions"].dropna())


def _markdown(raw: list[dict], datasets: list[str], fold_seed: int = 0, prof: dict | None = None) -> str:
    import pandas as pd

    prof = prof or PROFILES["full"]
    df = pd.DataFrame(raw)
    methods = list(dict.fromkeys(df["method"]))
    lines = ["# Hybrid: accuracy against transparency", "",
             f"Stratified 5-fold CV, fold seed {fold_seed}"
             + (" (the protocol's folds)" if fold_seed == 0 else " (not the folds the reference was measured on)")
             + ". Medians over folds [min–max]. Transparency: share of held-out rows answered by rules. "
             "Conditions: summed over the rules. The hybrid fits its own teacher (same configuration) on 85 % "
             "of the training fold; its fidelity is to the fold's teacher. Its fit s at 0.50 / 0.75 / auto add "
             "a `retarget` to the fit at 0.25, so they count one focused-student fit more than a fresh fit.", ""]
    if prof != PROFILES["full"]:
        lines += [f"**Quick profile, indicative only**: {prof['n_folds_run']} of the 5 folds, students "
                  f"trained at most {prof['max_epochs']} epochs, adult subsampled to {prof['adult_rows']:,} rows; "
                  "the reference and target marks below compare it with 5-fold figures.", ""]
    for name in datasets:
        d = df[df["dataset"] == name]
        if d.empty:
            continue
        lines += [f"## {name}", "",
                  "| method | accuracy | fidelity | transparency | rules | conditions | fit s |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for m in methods:
            g = d[d["method"] == m]
            if g.empty:
                continue
            lines.append(f"| {m} | {C.fmt(C.summarise(g['accuracy']))} | {C.fmt(C.summarise(g['fidelity']))} | "
                         f"{C.fmt(C.summarise(g['transparency']), 2)} | {C.median_count(g['rules'])} | "
                         f"{_median_conditions(g)} | {np.median(g['fit_s']):.1f} |")
        lines.append("")
    lines += ["## Against the reference (HybridCORELS, issue 5) and the teacher", "",
              "The verdict compares **means over the folds** with the reference, because the reference's "
              "figures are means: German credit's 0.752 and 0.733 cannot be medians of five 200-row folds (a "
              "fold's accuracy is a multiple of 0.005), nor heart's 0.795 and 0.805 of 60- and 61-row folds, nor "
              "breast cancer's 0.972 of 113- and 114-row folds. Medians are given beside the means. Four "
              "decimals, so that a cell just below its three-decimal reference does not print as equal.", "",
              "| data set | hybrid @0.50 mean (median) | ref @0.5 | hybrid @0.75 mean (median) | ref @0.75 | "
              "teacher mean (median) | hybrid@0.50 − teacher, means (medians) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    gaps, med_gaps = [], []
    for name in datasets:
        d = df[df["dataset"] == name]
        if d.empty:
            continue
        acc = {m: d[d["method"] == m]["accuracy"].to_numpy(dtype=float) for m in set(d["method"])}
        mean = {m: float(np.mean(a)) for m, a in acc.items()}
        med = {m: float(np.median(a)) for m, a in acc.items()}
        gap, med_gap = mean["hybrid @ 0.50"] - mean["teacher"], med["hybrid @ 0.50"] - med["teacher"]
        gaps.append(gap)
        med_gaps.append(med_gap)
        cells = []
        for level, method in ((0.5, "hybrid @ 0.50"), (0.75, "hybrid @ 0.75")):
            ref = REFERENCE[level].get(name, float("nan"))
            mark = "" if np.isnan(ref) else (" ≥ ref" if mean[method] >= ref else " **below**")
            cells.append(f"{mean[method]:.4f}{mark} ({med[method]:.4f}) | {ref:.3f}")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {mean['teacher']:.4f} ({med['teacher']:.4f}) | "
                     f"{gap * 100:+.2f} ({med_gap * 100:+.2f}) pts |")
    if gaps:
        lines += ["", f"Median over the data sets of the gap to the teacher at 0.5 transparency: "
                  f"{np.median(gaps) * 100:+.2f} points on means, {np.median(med_gaps) * 100:+.2f} on medians "
                  f"(target: within 0.3 points)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
