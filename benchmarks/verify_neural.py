"""Neural verification suite: seconds to decide a check on a small ReLU student, rulekd vs plain Z3.

Students: ``DistilledMLPClassifier`` with hidden layers (16,) and (16, 16) without step inputs
(``threshold_inputs=0``, the students of issue 5's reference), and (16,) with the teacher's 24 cuts
of largest gain as step inputs (``threshold_inputs=24``, as the hybrid's default student on large data),
distilled from the shared frozen XGBoost teacher on the training rows of fold
0 of breast_cancer (30 real inputs) and heart (integer inputs, a categorical
input that may be missing). Regions, per student:

* **rules**: the rules of a ``DistilledRuleClassifier(max_rules=8)`` fitted on
  the same rows; the check is agreement: on every input of the Domain where
  the rule's conditions hold, the student answers the rule's class;
* **boxes**: boxes of radius ``eps`` standard deviations around held-out rows
  (integers rounded inward, categorical levels and missingness fixed); the
  check is that the student answers its prediction at the centre. These are
  the regions where a proof is possible.

Per region, in the same process and on the same student:

* **rulekd**: ``verify_network`` (search, interval bounds, LP tightening,
  branch and bound, Z3), ``timeout_ms`` = the cap;
* **plain Z3**: one query over the same exact input encoding (the raw inputs
  as Z3 variables, standardised copies linked by one row each, one-hot
  levels, imputation), every ReLU ``If(p > 0, p, 0)``, no bounds, no search,
  exact semantics (``z > 0`` is class 1); a model is re-checked with
  ``predict``. Its time is capped at the cap; a capped query is ``unknown``.

    python -m benchmarks.verify_neural [--full] [--cap S]

rulekd alone also runs on more boxes (10 per radius 0.1, 0.3, 0.5; 20 in
full), where the plain baseline would take too long.

The default is the quick profile (the first 2 rules and 1 box of radius 0.3
per student, 10 s cap: 18 plain queries, a few minutes on 2 cores), which
writes ``results/verify_neural.{md,json}``; ``--full`` runs every rule and 5
boxes at each of two radii with a 60 s cap and writes
``results/verify_neural_full.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from . import _common as C

DATASETS = ("breast_cancer", "heart")
# (hidden layers, step inputs) of each student
STUDENTS = (((16,), 0), ((16, 16), 0), ((16,), 24))
ALONE_RADII = (0.1, 0.3, 0.5)


# -- regions ---------------------------------------------------------------------------------------


def box_conditions(row: pd.DataFrame, student: Any, eps: float) -> list:
    """Conditions of a box of radius ``eps`` standard deviations around one row (categories pinned)."""
    from rulekd import Condition

    scale = {e["feature"]: e["scale"] for e in student.encoding_ if e["kind"] == "numeric"}
    out = []
    for spec in student.domain_.features:
        v = row[spec.name].iloc[0]
        if pd.isna(v):
            out.append(Condition(spec.name, "is missing"))
        elif spec.kind == "categorical":
            out.append(Condition(spec.name, "in", frozenset([v])))
        else:
            r = eps * scale[spec.name]
            lo, hi = float(v) - r, float(v) + r
            if spec.kind != "real":
                lo, hi = float(np.ceil(lo)), float(np.floor(hi))
            out += [Condition(spec.name, ">=", max(lo, spec.lower)), Condition(spec.name, "<=", min(hi, spec.upper))]
    return out


# -- the plain baseline ------------------------------------------------------------------------------


def plain_z3(student: Any, conditions: list, then: Any, cap_s: float) -> dict:
    """One Z3 query, every ReLU an ``If``, no bounds: is there an input of the region not answered ``then``?"""
    from rulekd.verify._checks import Solver
    from rulekd.verify._encode import Encoding, frame_from_rows
    from rulekd.verify._neural import _net, _Z3Net

    t0 = time.perf_counter()
    net, dom = _net(student, None)
    enc = Encoding(dom)
    cons: list = []
    z = _Z3Net(net).logits(enc, None, cons)  # bounds=None: the plain encoding
    c = net.code(then)
    if net.binary:
        viol = z[0] <= 0 if c == 1 else z[0] > 0
    else:
        import z3

        viol = z3.Or([z3.And([z[k] >= z[j] if j > k else z[k] > z[j] for j in range(len(z)) if j != k])
                      for k in range(len(z)) if k != c])
    out = Solver(enc.domain_constraints() + cons, int(cap_s * 1000), None).check([enc.conj(conditions), viol], [enc])
    status = {"unsat": "proved", "unknown": "unknown"}.get(out.status, "violated")
    confirmed = None
    if out.status == "sat":
        pred = student.predict(frame_from_rows(out.rows, dom))[0]
        confirmed = bool(pred != then)
        if not confirmed:
            status = "unconfirmed"
    return {"status": status, "seconds": time.perf_counter() - t0, "confirmed": confirmed,
            "reason": out.reason}


# -- run ---------------------------------------------------------------------------------------------


def run(full: bool, cap_s: float) -> dict:
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, RuleSet
    from rulekd.verify import Implies, verify_network
    from rulekd.verify._grammar import AllOf
    from rulekd.verify._grammar import Test as Atom

    n_rules = None if full else 2
    n_boxes = 5 if full else 1
    radii = (0.1, 0.3) if full else (0.3,)
    n_alone = 20 if full else 10
    records, alone = [], []
    fits = []
    for name in DATASETS:
        X, y = C.load(name)
        _, tr, te = next(C.folds(X, y))
        Xtr, ytr, Xte = X.iloc[tr].reset_index(drop=True), y[tr], X.iloc[te].reset_index(drop=True)
        teacher, t_teacher = C.fit_frozen_teacher(Xtr, ytr)
        rules, t_rules = C.timed(lambda: DistilledRuleClassifier(teacher=teacher, max_rules=8,
                                                                 random_state=0).fit(Xtr, ytr))
        rs = rules.rules_
        for hidden, steps in STUDENTS:
            student, t_fit = C.timed(lambda: DistilledMLPClassifier(teacher=teacher, hidden_layer_sizes=hidden,
                                                                    threshold_inputs=steps,
                                                                    random_state=0).fit(Xtr, ytr))
            fits.append({"dataset": name, "hidden": list(hidden), "steps": steps, "fit_s": t_fit,
                         "rules_fit_s": t_rules, "teacher_fit_s": t_teacher, "rules": len(rs),
                         "fidelity": student.fidelity_})
            cases = []
            for i, rule in enumerate(rs.rules[:n_rules]):
                one = RuleSet((rule,), classes=rs.classes, default=rs.default, ordered=rs.ordered)
                cases.append(("rule", rs.rule_id(i), list(rule.conditions), rule.prediction,
                              dict(rules=one)))
            for eps in radii:
                for k in range(n_boxes):
                    row = Xte.iloc[[k]].reset_index(drop=True)
                    conds = box_conditions(row, student, eps)
                    pred = student.predict(row)[0]
                    prop = Implies(AllOf(tuple(Atom(c) for c in conds)), then=pred)
                    cases.append((f"box {eps}", f"test row {k}", conds, pred, dict(properties=[prop])))
            for kind, label, conds, then, kw in cases:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    report = verify_network(student, timeout_ms=int(cap_s * 1000), **kw)
                    ours_s = time.perf_counter() - t0
                (f,) = report.findings
                base = plain_z3(student, conds, then, cap_s)
                rec = {
                    "dataset": name, "hidden": list(hidden), "steps": steps, "kind": kind, "region": label,
                    "conditions": len(conds), "ours_status": f.status, "ours_method": f.details.get("method"),
                    "ours_s": ours_s, "ours_finding_s": f.seconds, "ours_details": f.details,
                    "plain_status": base["status"], "plain_s": base["seconds"], "plain_confirmed": base["confirmed"],
                    "plain_reason": base["reason"],
                }
                records.append(rec)
                print(f"{name:>14} {_student(hidden, steps):>14} {kind:>8} {label:>12}: rulekd {f.status:>8} "
                      f"({rec['ours_method']}) {ours_s:6.3f}s | plain {base['status']:>8} {base['seconds']:6.2f}s",
                      file=sys.stderr, flush=True)
            # rulekd alone on more boxes (the plain baseline is too slow to run on all of them)
            for eps in ALONE_RADII:
                for k in range(n_alone):
                    row = Xte.iloc[[k]].reset_index(drop=True)
                    prop = Implies(AllOf(tuple(Atom(c) for c in box_conditions(row, student, eps))),
                                   then=student.predict(row)[0])
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        t0 = time.perf_counter()
                        (f,) = verify_network(student, [prop], timeout_ms=int(cap_s * 1000)).findings
                    alone.append({"dataset": name, "hidden": list(hidden), "steps": steps, "eps": eps, "row": k,
                                  "status": f.status, "method": f.details.get("method"),
                                  "seconds": time.perf_counter() - t0})
    return {"records": records, "alone": alone, "fits": fits, "full": full, "cap_s": cap_s,
            "load_average_at_end": os.getloadavg()}


# -- report --------------------------------------------------------------------------------------------


def _student(hidden: Any, steps: int) -> str:
    """A student as the tables name it: its hidden layers, and its step inputs if any."""
    return ",".join(map(str, hidden)) + (f" + {steps} steps" if steps else "")


def summary_rows(payload: dict) -> list[dict]:
    cap = payload["cap_s"]
    groups: dict[tuple, list[dict]] = {}
    for r in payload["records"]:  # records of runs before the stepped student have no "steps": 0
        groups.setdefault((r["dataset"], tuple(r["hidden"]), r.get("steps", 0), r["kind"]), []).append(r)
    groups[("all", ("all",), 0, "all")] = list(payload["records"])
    out = []
    for (name, hidden, steps, kind), rs in groups.items():
        ours = np.array([r["ours_s"] for r in rs])
        plain = np.array([min(r["plain_s"], cap) for r in rs])
        capped = np.array([r["plain_status"] == "unknown" for r in rs])
        ratio = plain / ours
        both = [r for r in rs if r["plain_status"] in ("proved", "violated") and r["ours_status"] != "unknown"]
        out.append({
            "dataset": name, "hidden": hidden, "steps": steps, "kind": kind, "n": len(rs),
            "ours": {s: sum(r["ours_status"] == s for r in rs) for s in ("proved", "violated", "unknown")},
            "plain": {s: sum(r["plain_status"] == s for r in rs) for s in ("proved", "violated", "unknown",
                                                                           "unconfirmed")},
            "ours_median_s": float(np.median(ours)), "ours_max_s": float(ours.max()),
            "plain_median_s": float(np.median(plain)), "plain_max_s": float(plain.max()),
            "capped": int(capped.sum()),
            "ratio_of_medians": float(np.median(plain) / np.median(ours)),
            "median_ratio": float(np.median(ratio)),
            "agree": f"{sum(r['plain_status'] == r['ours_status'] for r in both)}/{len(both)}",
        })
    return out


def _counts(d: dict) -> str:
    return " / ".join(str(d[k]) for k in ("proved", "violated", "unknown")) + (
        f" (+{d['unconfirmed']} unconfirmed)" if d.get("unconfirmed") else "")


def markdown(payload: dict) -> str:
    cap = payload["cap_s"]
    rows = summary_rows(payload)
    lines = [
        "## Verifying the neural student: rulekd vs a plain Z3 encoding",
        "",
        f"Seconds per region to answer one check (agreement with a rule on its region; the centre's class on a "
        f"box around a held-out row). rulekd = `verify_network` (search, interval bounds, LP tightening, branch "
        f"and bound, Z3); plain = one Z3 query, every ReLU `If(p > 0, p, 0)`, no bounds, no search, capped at "
        f"{cap:g} s (a capped query counts {cap:g} s and is `unknown`). Verdicts as proved / violated / unknown; "
        f"`agree` = regions both decided with the same verdict. Ratios: plain / rulekd (with capped plain "
        f"queries these are lower bounds).",
        "",
        f"Load average at the end of the run: {', '.join(f'{x:.1f}' for x in payload['load_average_at_end'])} "
        f"(this machine may be shared).",
        "",
        "| data | hidden | regions | n | rulekd p/v/u | rulekd median (max) s | plain p/v/u | plain median (max) s "
        "| capped | ratio of medians | median ratio | agree |",
        "| --- | --- | --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {_student(r['hidden'], r.get('steps', 0))} | {r['kind']} | {r['n']} | "
            f"{_counts(r['ours'])} | "
            f"{r['ours_median_s']:.3f} ({r['ours_max_s']:.2f}) | {_counts(r['plain'])} | "
            f"{r['plain_median_s']:.2f} ({r['plain_max_s']:.1f}) | {r['capped']} | "
            f"{C.times(r['ratio_of_medians'])} | {C.times(r['median_ratio'])} | {r['agree']} |")
    if payload.get("alone"):
        lines += ["", "rulekd alone on more boxes (held-out rows; the plain baseline is too slow to run on all of "
                  "them): verdicts, how they were settled, seconds per box.", "",
                  "| data | hidden | eps | n | proved / violated / unknown | settled by | median (max) s |",
                  "| --- | --- | ---: | ---: | --- | --- | ---: |"]
        groups: dict[tuple, list[dict]] = {}
        for r in payload["alone"]:
            groups.setdefault((r["dataset"], tuple(r["hidden"]), r.get("steps", 0), r["eps"]), []).append(r)
        for (name, hidden, steps, eps), rs in groups.items():
            secs = np.array([r["seconds"] for r in rs])
            counts = {st: sum(r["status"] == st for r in rs) for st in ("proved", "violated", "unknown")}
            methods: dict[str, int] = {}
            for r in rs:
                methods[r["method"]] = methods.get(r["method"], 0) + 1
            lines.append(f"| {name} | {_student(hidden, steps)} | {eps:g} | {len(rs)} | {_counts(counts)} | "
                         + ", ".join(f"{m} {n}" for m, n in sorted(methods.items(), key=lambda kv: -kv[1]))
                         + f" | {np.median(secs):.3f} ({secs.max():.2f}) |")
    lines += ["", "Per region (rulekd's method: how the check was settled):", "",
              "| data | hidden | region | rulekd | method | s | plain | s |",
              "| --- | --- | --- | --- | --- | ---: | --- | ---: |"]
    for r in payload["records"]:
        lines.append(f"| {r['dataset']} | {_student(r['hidden'], r.get('steps', 0))} | {r['kind']}: {r['region']} | "
                     f"{r['ours_status']} | {r['ours_method']} | {r['ours_s']:.3f} | {r['plain_status']} | "
                     f"{r['plain_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="every rule, 5 boxes at two radii, 60 s cap")
    ap.add_argument("--quick", action="store_true", help="the default profile (accepted for `python -m benchmarks`)")
    ap.add_argument("--cap", type=float, default=None, help="seconds per query (default: 10 quick, 60 full)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    ap.add_argument("--render", action="store_true", help="rebuild the .md from the last run's JSON; run nothing")
    args = ap.parse_args(argv)
    if args.render:
        name = "verify_neural_full" if args.full else "verify_neural"
        payload = json.loads((C.RESULTS / f"{name}.json").read_text(encoding="utf-8"))
        payload["summary"] = summary_rows(payload)
        (C.RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
        md = markdown(payload) + f"\nTotal wall time of the run: {payload['total_seconds']:.0f} s.\n"
        (C.RESULTS / f"{name}.md").write_text(C.header(payload) + md, encoding="utf-8")
        print(md)
        return 0
    cap = args.cap if args.cap is not None else (60.0 if args.full else 10.0)
    t0 = time.perf_counter()
    payload = run(args.full, cap)
    payload["total_seconds"] = time.perf_counter() - t0
    payload["summary"] = summary_rows(payload)
    md = markdown(payload) + f"\nTotal wall time of the run: {payload['total_seconds']:.0f} s.\n"
    if not args.no_write:
        C.write_results("verify_neural_full" if args.full else "verify_neural", payload, md, argv)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
