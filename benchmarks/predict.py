"""Predict suite: rows per second for the teacher, the rules (numpy and SQL), the student, the hybrid.

One data set (adult by default): fold 0 of the shared stratified 5-fold split;
the models are fitted on its training rows (subsampled to 8,000 rows: fit time
is not what is measured here, and prediction cost does not depend on it); the
rows to predict are drawn with replacement from its held-out rows (seed 0) to
10^5 and, in the full profile, 10^6 rows. In the same process, single-threaded
(XGBoost ``n_jobs=1``, BLAS limited to one thread, DuckDB ``threads=1``):

* **teacher**: ``XGBClassifier.predict`` (200 trees of depth 4, native categoricals);
* **rules, numpy**: ``RuleSet.predict`` of a ``DistilledRuleClassifier`` (16 rules);
* **rules, SQL in DuckDB**: the query of ``rulekd.rules.to_sql(student, table="data")``
  run on a DuckDB table holding the rows, predictions fetched as a numpy column
  (loading the table is timed apart); skipped with status "export not available"
  where ``rulekd.rules.to_sql`` does not exist;
* **neural student**: ``DistilledMLPClassifier.predict``;
* **hybrid**: ``HybridClassifier.predict`` (transparency 0.5: rules, then the student).

Each repeat calls every method once, in turn (interleaved, so that load from
other processes spreads over all of them); the best of the repeats is reported
as rows per second and as a speed-up over the teacher measured in the same
repeats. Agreement with the teacher's predictions on the same rows, and of the
SQL answers with ``RuleSet.predict``, is checked.

    python -m benchmarks.predict --quick      # 10^5 rows: results/predict.{md,json}
    python -m benchmarks.predict              # 10^5 and 10^6 rows: results/predict_full.{md,json}
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from . import _common as C

PROFILES = {
    "quick": dict(sizes=(100_000,), repeats=5),
    "full": dict(sizes=(100_000, 1_000_000), repeats=5),
}
TRAIN_ROWS = 8000
MAX_EPOCHS = 60
METHODS = (
    ("teacher", "teacher (XGBoost 200x4)"),
    ("rules_numpy", "rules, numpy (RuleSet.predict)"),
    ("rules_sql", "rules, SQL in DuckDB"),
    ("student", "neural student (DistilledMLPClassifier)"),
    ("hybrid", "hybrid (HybridClassifier, transparency 0.5)"),
)


def fit_models(dataset: str) -> tuple[dict, pd.DataFrame, dict]:
    """The fold-0 models of ``dataset``, its held-out rows, and facts about the models."""
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, HybridClassifier

    X, y = C.load(dataset)
    _, tr, te = next(C.folds(X, y))
    if len(tr) > TRAIN_ROWS:
        tr = np.sort(np.random.default_rng(0).choice(tr, size=TRAIN_ROWS, replace=False))
    Xtr, ytr, Xte = X.iloc[tr], y[tr], X.iloc[te]
    frozen, t_teacher = C.fit_frozen_teacher(Xtr, ytr)
    rules, t_rules = C.timed(lambda: DistilledRuleClassifier(teacher=frozen, max_rules=16, random_state=0)
                             .fit(Xtr, ytr))
    student, t_student = C.timed(lambda: DistilledMLPClassifier(teacher=frozen, max_epochs=MAX_EPOCHS,
                                                                random_state=0).fit(Xtr, ytr))
    hybrid, t_hybrid = C.timed(lambda: HybridClassifier(
        teacher=C.teacher(), student=DistilledMLPClassifier(max_epochs=MAX_EPOCHS), transparency=0.5,
        random_state=0).fit(Xtr, ytr))
    facts = {
        "dataset": dataset, "train_rows": len(tr), "held_out_rows": len(te),
        "fit_s": {"teacher": t_teacher, "rules": t_rules, "student": t_student, "hybrid": t_hybrid},
        "rules": len(rules.rules_), "rule_conditions": rules.rules_.n_conditions,
        "student_parameters": int(student.n_parameters_), "hybrid_rules": len(hybrid.rules_),
        "hybrid_transparency_held_out": float(np.mean(hybrid.decided_by(Xte) != "student")),
    }
    models = {"teacher": frozen.estimator, "rules": rules, "student": student, "hybrid": hybrid}
    return models, Xte, facts


def resample(X: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    idx = np.random.default_rng(seed).integers(0, len(X), size=n)
    return X.iloc[idx].reset_index(drop=True)


def _sql_method(rules: Any, big: pd.DataFrame) -> tuple[Callable[[], np.ndarray] | None, str, dict]:
    """A callable running the exported query in DuckDB over ``big``, or None and why not."""
    try:
        from rulekd.rules import to_sql
    except ImportError:
        return None, "export not available", {}
    try:
        import duckdb
    except ImportError:
        return None, "duckdb not installed (pip install duckdb)", {}
    con = duckdb.connect()
    con.execute("SET threads=1")
    t0 = time.perf_counter()
    con.register("rows_in", big)
    con.execute("CREATE OR REPLACE TABLE data AS SELECT * FROM rows_in")
    con.unregister("rows_in")
    load_s = time.perf_counter() - t0
    query = to_sql(rules, table="data")
    con.register("warm_in", big.iloc[:1000])
    con.execute("CREATE OR REPLACE TABLE warm AS SELECT * FROM warm_in")
    con.execute(to_sql(rules, table="warm")).fetchnumpy()  # warm-up

    def run() -> np.ndarray:
        return np.asarray(con.execute(query).fetchnumpy()["prediction"])

    return run, "ok", {"duckdb_load_s": load_s, "duckdb_version": duckdb.__version__}


def measure(models: dict, big: pd.DataFrame, repeats: int) -> tuple[list[dict], dict]:
    """Best-of-``repeats`` seconds per method on ``big``, the methods interleaved in each repeat."""
    from threadpoolctl import threadpool_limits

    predictors = {"teacher": models["teacher"], "rules_numpy": models["rules"].rules_,
                  "student": models["student"], "hybrid": models["hybrid"]}
    calls: dict[str, Callable[[], np.ndarray]] = {k: (lambda m=m: m.predict(big)) for k, m in predictors.items()}
    status = {k: "ok" for k in calls}
    sql, status["rules_sql"], extra = _sql_method(models["rules"], big)
    if sql is not None:
        calls["rules_sql"] = sql
    times: dict[str, list[float]] = {k: [] for k in calls}
    preds: dict[str, np.ndarray] = {}
    with threadpool_limits(limits=1):
        for m in predictors.values():  # warm-up on a small slice (the SQL one ran in _sql_method)
            m.predict(big.iloc[:1000])
        for _ in range(repeats):
            for key, fn in calls.items():
                t0 = time.perf_counter()
                preds[key] = np.asarray(fn())
                times[key].append(time.perf_counter() - t0)
    n = len(big)
    t_teacher = min(times["teacher"])
    rows = []
    for key, label in METHODS:
        rec: dict[str, Any] = {"n_rows": n, "key": key, "method": label, "status": status[key]}
        if key in times:
            best = min(times[key])
            rec.update(seconds_best=best, seconds_median=float(np.median(times[key])), seconds_all=times[key],
                       rows_per_s=n / best, speedup_vs_teacher=t_teacher / best,
                       agreement_with_teacher=float(np.mean(preds[key] == preds["teacher"])))
            if key == "rules_sql":
                rec["agreement_with_rules_numpy"] = float(np.mean(preds[key] == preds["rules_numpy"]))
        rows.append(rec)
    return rows, extra


def run(profile: str, dataset: str) -> dict:
    cfg = PROFILES[profile]
    t0 = time.perf_counter()
    models, Xte, facts = fit_models(dataset)
    print(f"models fitted in {time.perf_counter() - t0:.0f} s: {facts}", file=sys.stderr, flush=True)
    records, extras = [], {}
    for n in cfg["sizes"]:
        big = resample(Xte, n)
        rows, extra = measure(models, big, cfg["repeats"])
        records += rows
        extras[str(n)] = extra
        for r in rows:
            print(f"{n:>9,} rows  {r['method']:<45} {r.get('rows_per_s', float('nan')):>14,.0f} rows/s  "
                  f"x{r.get('speedup_vs_teacher', float('nan')):.2f} vs teacher  ({r['status']})",
                  file=sys.stderr, flush=True)
        del big
    return {"profile": profile, "config": {**cfg, "train_rows": TRAIN_ROWS, "max_epochs": MAX_EPOCHS,
                                           "threads": 1}, "models": facts, "records": records, "sql": extras}


def markdown(result: dict) -> str:
    f = result["models"]
    lines = [
        f"## Prediction speed ({result['profile']} profile)",
        "",
        f"Models fitted on {f['train_rows']:,} rows of {f['dataset']} (fold 0 of the shared split); rows to "
        f"predict drawn with replacement from its {f['held_out_rows']:,} held-out rows. One thread for every "
        "method. Best of "
        f"{result['config']['repeats']} interleaved repeats; speed-up = the teacher's best seconds / the "
        "method's, in the same repeats (above 1: faster than the teacher). Rule student: "
        f"{f['rules']} rules, {f['rule_conditions']} conditions; neural student: {f['student_parameters']:,} "
        f"parameters; hybrid: {f['hybrid_rules']} rules, answering {f['hybrid_transparency_held_out']:.0%} "
        "of the held-out rows by rules.",
        "",
        "| rows | method | status | rows / s | best s | speed-up vs teacher | agrees with teacher |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in result["records"]:
        if r["status"] != "ok" or "rows_per_s" not in r:
            lines.append(f"| {r['n_rows']:,} | {r['method']} | {r['status']} | | | | |")
            continue
        agree = f"{r['agreement_with_teacher']:.4f}"
        if "agreement_with_rules_numpy" in r:
            agree += f" (= numpy rules on {r['agreement_with_rules_numpy']:.2%})"
        lines.append(f"| {r['n_rows']:,} | {r['method']} | ok | {r['rows_per_s']:,.0f} | {r['seconds_best']:.3f} | "
                     f"{r['speedup_vs_teacher']:.2f}× | {agree} |")
    for n, extra in result["sql"].items():
        if extra:
            lines.append(f"\nDuckDB {extra['duckdb_version']}: loading {int(n):,} rows into the table took "
                         f"{extra['duckdb_load_s']:.2f} s (not in the timings above).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^5 rows only (the make bench profile)")
    ap.add_argument("--dataset", default="adult", choices=C.DATASETS)
    ap.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/results alone")
    args = ap.parse_args(argv)
    profile = "quick" if args.quick else "full"
    t0 = time.perf_counter()
    result = run(profile, args.dataset)
    result["wall_s"] = time.perf_counter() - t0
    md = markdown(result) + f"\nWall time of the run: {result['wall_s']:.0f} s.\n"
    print(md)
    if not args.no_write:
        cmd = "python -m benchmarks.predict " + " ".join(sys.argv[1:] if argv is None else argv)
        C.write_results("predict" if profile == "quick" else "predict_full", {"command": cmd, **result}, md, argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
