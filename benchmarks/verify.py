"""Verification suite: seconds for the full set of checks, rulekd vs a naive Z3 baseline.

Rule sets are the leaves of scikit-learn trees grown to 10, 100, 1,000 and
5,000 leaves on bundled data (german_credit, adult; categorical features as
codes, read back as level sets) and on synthetic data (``make_classification``
with label noise, so that trees grow that large). For each, in the same
process:

* **rulekd**: ``verify(rules, domain, reference=tree)`` — conflict, dead, gap,
  redundant condition, redundant rule, and equivalence with the source tree —
  with ``n_jobs=1`` and ``n_jobs=2``;
* **naive**: the same checks with every item sent to Z3 (all pairs of rules of
  different classes for conflicts, each rule against *all* earlier ones for
  dead rules, a full nested decision for redundant rules, one monolithic query
  for gap and equivalence), no interval pre-filter, no witness shortcut. Up to
  ``--naive-full-max`` rules every query is run; beyond, a random sample of the
  queries of each check is run (capped in time) and the total extrapolated
  from the mean per query. The table says which.

The naive verdicts on the queries it ran are compared with rulekd's findings
(``agree``). Machine load is recorded: this box may be shared.

    python -m benchmarks.verify [--quick] [--naive-full-max N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from . import _common as C

SIZES = (10, 100, 1000, 5000)


# -- rule sets ------------------------------------------------------------------------


def synthetic(n_rows: int = 60_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_rows, 20, n_informative=10, flip_y=0.3, random_state=seed)
    X = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    return X, y


def tree_rules(X: pd.DataFrame, y: np.ndarray, leaves: int) -> dict:
    """A tree grown to ``leaves`` leaves on ``X`` (categoricals as codes) and its rules."""
    from sklearn.tree import DecisionTreeClassifier

    from rulekd import Domain
    from rulekd.rules import from_sklearn_tree

    dom = Domain.from_data(X)
    cats = dom.categories
    Xe = pd.DataFrame(index=X.index)
    for f in dom.features:
        if f.kind == "categorical":
            codes = pd.Categorical(X[f.name], categories=list(f.levels)).codes.astype(np.float64)
            codes[codes < 0] = np.nan
            Xe[f.name] = codes
        else:
            Xe[f.name] = X[f.name].astype(np.float64)
    tree = DecisionTreeClassifier(max_leaf_nodes=max(leaves, 2), random_state=0).fit(Xe, y)
    rs = from_sklearn_tree(tree, list(Xe.columns), categories={k: list(v) for k, v in cats.items()})
    return {"rules": rs, "domain": dom, "tree": tree, "categories": {k: list(v) for k, v in cats.items()}}


# -- naive baseline ------------------------------------------------------------------


def naive(case: dict, report: Any, *, full: bool, time_cap: float, seed: int = 0) -> dict:
    """Every item straight to Z3; measured fully or on a time-capped random sample per check."""
    import z3

    from rulekd.verify._encode import Encoding
    from rulekd.verify._models import ruleset_model, sklearn_tree_model

    rs, dom, tree = case["rules"], case["domain"], case["tree"]
    rng = np.random.default_rng(seed)
    t_setup = time.perf_counter()
    enc = Encoding(dom)
    s = z3.Solver()
    s.set("timeout", 60_000)
    s.add(enc.domain_constraints())
    model = ruleset_model(rs, dom)
    n = len(model)
    ms = [enc.conj(c) for c in model.conjs]
    codes: dict = {}

    def code(label: Any) -> int:
        return codes.setdefault(label, len(codes))

    def answer(skip: int | None = None) -> Any:
        expr = z3.IntVal(code(model.default))
        for k in reversed(range(n)):
            if k != skip:
                expr = z3.If(ms[k], z3.IntVal(code(model.labels[k])), expr)
        return expr

    def query(formulas: list) -> str:
        s.push()
        s.add(formulas)
        r = s.check()
        s.pop()
        return str(r)

    setup = time.perf_counter() - t_setup
    checks: dict[str, dict] = {}

    def run(name: str, total: int, item, make) -> None:
        order = rng.permutation(total) if total else np.arange(0)
        t0 = time.perf_counter()
        done, verdicts = 0, {}
        for idx in order:
            it = item(int(idx))
            verdicts[it] = query(make(it))
            done += 1
            if not full and time.perf_counter() - t0 > time_cap:
                break
        spent = time.perf_counter() - t0
        est = spent if done == total else (spent / max(done, 1)) * total
        checks[name] = {"items": total, "measured": done, "seconds_measured": spent, "seconds": est,
                        "extrapolated": done < total, "verdicts": verdicts}

    labels = [code(l) for l in model.labels]
    pairs_total = [(i, j) for i in range(n) for j in range(i + 1, n) if labels[i] != labels[j]] if n <= 2000 else None
    if pairs_total is not None:
        run("conflict", len(pairs_total), lambda k: pairs_total[k], lambda ij: [ms[ij[0]], ms[ij[1]]])
    else:  # too many pairs to list: draw random pairs of different classes
        by = np.asarray(labels)
        total = int(sum(np.sum(by[i + 1:] != by[i]) for i in range(n)))

        def pair(_: int) -> tuple[int, int]:
            while True:
                i, j = sorted(rng.choice(n, 2, replace=False))
                if labels[i] != labels[j]:
                    return int(i), int(j)

        run("conflict", total, pair, lambda ij: [ms[ij[0]], ms[ij[1]]])
    run("dead", n, lambda k: k, lambda j: [ms[j]] + [z3.Not(ms[e]) for e in range(j)])
    conds = [(j, k) for j in range(n) for k in range(len(model.conjs[j]))]

    def red_cond(jk: tuple[int, int]) -> list:
        j, k = jk
        cs = model.conjs[j]
        return [enc.conj(cs[:k] + cs[k + 1:]), z3.Not(enc.cond(cs[k]))]

    run("redundant_condition", len(conds), lambda k: conds[k], red_cond)
    full_answer = answer()
    run("redundant_rule", n, lambda k: k, lambda j: [full_answer != answer(skip=j)])
    run("gap", 1, lambda k: "all", lambda _: [z3.And([z3.Not(m) for m in ms]) if ms else z3.BoolVal(True)])
    t0 = time.perf_counter()
    ref = sklearn_tree_model(tree, dom, list(rs.feature_names), case["categories"])
    ref_answer = ref.answer(enc, code)
    build = time.perf_counter() - t0
    run("equivalence", 1, lambda k: "all", lambda _: [full_answer != ref_answer])
    checks["equivalence"]["seconds"] += build
    total = setup + sum(c["seconds"] for c in checks.values())
    return {"seconds": total, "extrapolated": any(c["extrapolated"] for c in checks.values()), "checks": checks,
            "agree": agreement(checks, report, model)}


def agreement(checks: dict, report: Any, model: Any) -> dict:
    """Naive verdicts vs rulekd's findings on the queries the baseline ran."""
    ids = model.ids
    v = {f.check: [] for f in report.findings}
    for f in report.findings:
        v[f.check].append(f)
    conflict = {tuple(sorted(f.rules)) for f in v.get("conflict", []) if f.status == "violated"}
    dead = {f.rules[0] for f in v.get("dead", []) if f.status == "violated"}
    red_c = {(f.rules[0], f.details["condition_index"]) for f in v.get("redundant_condition", [])
             if f.status == "violated"}
    red_r = {f.rules[0] for f in v.get("redundant_rule", []) if f.status == "violated"}
    out = {}
    for name, c in checks.items():
        ok = 0
        undecided = sum(v not in ("sat", "unsat") for v in c["verdicts"].values())
        for item, verdict in c["verdicts"].items():
            if verdict not in ("sat", "unsat"):
                continue  # the baseline timed out: nothing to compare
            if name == "conflict":
                ok += (verdict == "sat") == (tuple(sorted((ids[item[0]], ids[item[1]]))) in conflict)
            elif name == "dead":
                ok += (verdict == "unsat") == (ids[item] in dead)
            elif name == "redundant_condition":
                ok += (verdict == "unsat") == ((ids[item[0]], item[1]) in red_c) or ids[item[0]] in dead
            elif name == "redundant_rule":
                ok += (verdict == "unsat") == (ids[item] in red_r or ids[item] in dead)
            else:
                proved = all(f.status == "proved" for f in v.get(name, []))
                ok += (verdict == "unsat") == proved
        out[name] = f"{ok}/{len(c['verdicts']) - undecided}" + (f" ({undecided} naive timeouts)" if undecided else "")
        c.pop("verdicts")
    return out


# -- driver ---------------------------------------------------------------------------


def cases(quick: bool) -> list[tuple[str, int]]:
    if quick:
        return [("synthetic", 10), ("synthetic", 100), ("synthetic", 1000), ("synthetic", 5000),
                ("german_credit", 10), ("german_credit", 100), ("adult", 1000)]
    return [("synthetic", k) for k in SIZES] + [("german_credit", 10), ("german_credit", 100),
                                                 ("adult", 100), ("adult", 1000), ("adult", 5000)]


def run(quick: bool, naive_full_max: int, time_cap: float) -> dict:
    import warnings

    from rulekd.verify import verify

    data_cache: dict[str, tuple[pd.DataFrame, np.ndarray]] = {}
    records = []
    for name, leaves in cases(quick):
        if name not in data_cache:
            data_cache[name] = synthetic() if name == "synthetic" else C.load(name)
        X, y = data_cache[name]
        case = tree_rules(X, y, leaves)
        rs = case["rules"]
        rec: dict[str, Any] = {"dataset": name, "leaves_asked": leaves, "rules": len(rs),
                               "conditions": rs.n_conditions, "features": len(rs.features)}
        report = None
        for jobs in ((1,) if (quick and leaves >= 5000) else (1, 2)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                report = verify(rs, case["domain"], reference=case["tree"], categories=case["categories"],
                                n_jobs=jobs)
                rec[f"rulekd_s_jobs{jobs}"] = time.perf_counter() - t0
        rec["per_check_s"] = {c: sum(f.seconds for f in report.by_check(c)) for c in report.checks}
        rec["findings"] = {c: {s: sum(f.status == s for f in report.by_check(c)) for s in
                               ("proved", "violated", "unknown")} for c in report.checks}
        full = len(rs) <= naive_full_max
        nv = naive(case, report, full=full, time_cap=time_cap)
        rec["naive_s"] = nv["seconds"]
        rec["naive_extrapolated"] = nv["extrapolated"]
        rec["naive_checks"] = nv["checks"]
        rec["agree"] = nv["agree"]
        rec["speedup_jobs1"] = nv["seconds"] / rec["rulekd_s_jobs1"]
        records.append(rec)
        print(f"{name:>14} {len(rs):>5} rules: rulekd {rec['rulekd_s_jobs1']:.2f}s "
              f"(2 jobs: {rec.get('rulekd_s_jobs2', float('nan')):.2f}s), naive {nv['seconds']:.1f}s"
              f"{' (extrapolated)' if nv['extrapolated'] else ''}, x{rec['speedup_jobs1']:.0f}", file=sys.stderr)
    return {"records": records, "quick": quick, "naive_full_max": naive_full_max, "time_cap_s": time_cap,
            "load_average_at_end": os.getloadavg()}


def markdown(payload: dict) -> str:
    lines = [
        "## Verification: full set of checks (conflict, dead, gap, redundant condition, redundant rule, "
        "equivalence with the source tree)",
        "",
        "Seconds of wall time for `verify(rules, domain, reference=tree)`; the naive baseline sends every "
        "item to Z3 without the interval pre-filter (`~` = extrapolated from a time-capped random sample of "
        "its queries, see the JSON for counts). Speed-up = naive / the faster rulekd run. `agree` = naive "
        "verdicts that match rulekd's findings, over the queries the baseline ran. Below 4,000 solver items "
        "per check both rulekd runs take the same sequential path, so their difference is timing noise.",
        "",
        f"Load average at the end of the run: {', '.join(f'{x:.1f}' for x in payload['load_average_at_end'])} "
        f"(this machine may be shared; parallel timings suffer most).",
        "",
        "| data | rules | conditions | rulekd n_jobs=1 (s) | rulekd n_jobs=2 (s) | naive (s) | speed-up | agree |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in payload["records"]:
        j2 = r.get("rulekd_s_jobs2")
        agree = ", ".join(f"{k} {v}" for k, v in r["agree"].items())
        lines.append(
            f"| {r['dataset']} | {r['rules']} | {r['conditions']} | {r['rulekd_s_jobs1']:.2f} | "
            f"{'-' if j2 is None else f'{j2:.2f}'} | {'~' if r['naive_extrapolated'] else ''}{r['naive_s']:.1f} | "
            f"{C.times(r['naive_s'] / min(r['rulekd_s_jobs1'], j2 or math.inf))} | {agree} |"
        )
    lines += ["", "Per check (rulekd, n_jobs=1, seconds summed over findings; naive seconds):", "",
              "| data | rules | " + " | ".join(("conflict", "dead", "gap", "red. cond.", "red. rule", "equiv.")) + " |",
              "| --- | ---: |" + " ---: |" * 6]
    for r in payload["records"]:
        cells = []
        for c in ("conflict", "dead", "gap", "redundant_condition", "redundant_rule", "equivalence"):
            nv = r["naive_checks"][c]
            cells.append(f"{r['per_check_s'].get(c, 0.0):.2f} / {'~' if nv['extrapolated'] else ''}{nv['seconds']:.1f}")
        lines.append(f"| {r['dataset']} | {r['rules']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer cases, sampled baseline (a few minutes)")
    ap.add_argument("--naive-full-max", type=int, default=None,
                    help="run every naive query up to this many rules (default: 100 quick, 1000 full)")
    ap.add_argument("--time-cap", type=float, default=None,
                    help="seconds per naive check when sampling (default: 4 quick, 30 full)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    ap.add_argument("--render", action="store_true", help="rebuild verify_full.md from verify_full.json (with --quick: verify.md from verify.json); "
                         "run nothing")
    args = ap.parse_args(argv)
    # The quick profile writes results/verify.*, the full one verify_full.*, so that
    # `make bench` never overwrites a full run.
    name = "verify" if args.quick else "verify_full"
    if args.render:
        payload = json.loads((C.RESULTS / f"{name}.json").read_text(encoding="utf-8"))
        payload.setdefault("command", "python -m benchmarks.verify")  # runs before commands were stamped
        (C.RESULTS / f"{name}.md").write_text(C.header(payload) + markdown(payload), encoding="utf-8")
        print(markdown(payload))
        return 0
    full_max = args.naive_full_max if args.naive_full_max is not None else (100 if args.quick else 1000)
    cap = args.time_cap if args.time_cap is not None else (4.0 if args.quick else 30.0)
    t0 = time.perf_counter()
    payload = run(args.quick, full_max, cap)
    payload["total_seconds"] = time.perf_counter() - t0
    md = markdown(payload)
    if not args.no_write:
        C.write_results(name, payload, md, argv)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
