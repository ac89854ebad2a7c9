"""Fidelity suite: how faithfully small rule models reproduce the teacher.

For each data set and fold: the shared teacher; CART on the true labels and
CART on the teacher's labels (the usual baselines); rulekd's
``DistilledTreeClassifier`` and ``DistilledRuleClassifier`` (set and list) at
8, 16 and 32 leaves/rules; with ``--peers`` the public peers of ``_peers``
(imodels FIGS, HSTree CV, BoostedRules, RuleFit, GreedyRuleList; wittgenstein
RIPPER; te2rules at 1 and 2 stages, time-capped). Accuracy and fidelity
(agreement with the teacher) on the held-out fold; complexity in each method's
own unit; fit and predict seconds, also as ratios to CART-on-labels measured in
the same run; a status per method (folds ok, failed, over time cap).

    python -m benchmarks.fidelity --quick --peers --te2rules-stages 1 --te2rules-cap 30   # make bench: results/fidelity.*
    python -m benchmarks.fidelity --peers [--budgets 8,16,32]    # results/fidelity_full.{md,json}
    python -m benchmarks.fidelity --quick --datasets german_credit,heart
    python -m benchmarks.fidelity --budgets 16 --max-conditions 3 --out fidelity16_k3   # short rules
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import pandas as pd

from . import _common as C
from ._peers import Adapter, cart_adapter, peer_adapters

BUDGETS = (8, 16, 32)
# the make bench profile: like neural and hybrid quick, 2 of the 5 folds and adult subsampled
QUICK = {"folds_run": 2, "adult_rows": 8000}


def rulekd_adapters(budget: int, frozen: Any, max_conditions: int | None = None) -> list[Adapter]:
    from rulekd import DistilledRuleClassifier, DistilledTreeClassifier

    short = "" if max_conditions is None else f", ≤ {max_conditions} conditions each"

    def tree_complexity(m: Any) -> dict:
        # a binary tree of L leaves has L - 1 splits (the unit CART's conditions count)
        return {"rules": m.complexity_["leaves"], "conditions": m.complexity_["leaves"] - 1, "unit": "leaves"}

    def rule_complexity(m: Any) -> dict:
        # rules without the default; conditions summed over the rules
        return {"rules": m.complexity_["rules"], "conditions": m.complexity_["conditions"], "unit": "rules"}

    return [
        Adapter(f"rulekd tree ({budget} leaves)", "rulekd-tree", budget,
                lambda: DistilledTreeClassifier(teacher=frozen, max_leaf_nodes=budget, random_state=0),
                tree_complexity, uses_teacher=True),
        Adapter(f"rulekd rule set ({budget} rules{short})", "rulekd-set", budget,
                lambda: DistilledRuleClassifier(teacher=frozen, max_rules=budget, max_conditions=max_conditions,
                                                kind="set", random_state=0),
                rule_complexity, uses_teacher=True),
        Adapter(f"rulekd rule list ({budget} rules{short})", "rulekd-list", budget,
                lambda: DistilledRuleClassifier(teacher=frozen, max_rules=budget, max_conditions=max_conditions,
                                                kind="list", random_state=0),
                rule_complexity, uses_teacher=True),
    ]


def run(datasets: tuple[str, ...], budgets: tuple[int, ...], *, quick: bool, with_peers: bool,
        n_folds: int = 5, n_folds_run: int | None = None, adult_rows: int | None = None,
        te2rules_stages: tuple[int, ...] = (1, 2), te2rules_cap_s: float = 90.0,
        max_conditions: int | None = None) -> dict:
    records: list[dict] = []
    for name in datasets:
        X, y = C.load(name, max_rows=adult_rows if name == "adult" else None)
        for k, tr, te in C.folds(X, y, n_folds):
            if n_folds_run is not None and k >= n_folds_run:
                break
            Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
            frozen, t_fit = C.fit_frozen_teacher(Xtr, ytr)
            t_pred = frozen.predict(Xte)
            records.append(dict(dataset=name, fold=k, method="teacher (XGBoost 200x4)", family="teacher",
                                budget=None, accuracy=float(np.mean(t_pred == yte)), fidelity=1.0,
                                fit_s=t_fit, predict_s=None, rules=None, conditions=None, unit=None, status="ok"))
            y_teacher_tr = frozen.predict(Xtr)
            for budget in budgets:
                adapters = [cart_adapter(budget, on="labels"), cart_adapter(budget, on="teacher")]
                adapters += rulekd_adapters(budget, frozen, max_conditions)
                if with_peers:
                    adapters += peer_adapters(budget, frozen, name, te2rules_stages=te2rules_stages,
                                              te2rules_cap_s=te2rules_cap_s)
                for ad in adapters:
                    rec = ad.evaluate(Xtr, ytr, y_teacher_tr, Xte, yte, t_pred)
                    rec.update(dataset=name, fold=k)
                    records.append(rec)
                    print(f"{name} fold {k} {rec['method']}: fid {rec.get('fidelity')} acc {rec.get('accuracy')} "
                          f"({rec['status']})", file=sys.stderr, flush=True)
    return {"records": records}


def _status(h: pd.DataFrame) -> str:
    """'5/5 ok', or how many folds ended how: a failure or time-out is shown, never dropped."""
    n, ok = len(h), int((h.status == "ok").sum())
    if ok == n:
        return f"{n}/{n} ok"
    other = h[h.status != "ok"].status.map(lambda s: s.split(":")[0] if s.startswith("failed") else s)
    return f"{ok}/{n} ok; " + "; ".join(f"{c}× {s}" for s, c in other.value_counts().items())


def table(records: list[dict]) -> str:
    df = pd.DataFrame(records)
    if "unit" not in df:
        df["unit"] = None
    lines = ["Medians over folds [min–max]; *size* is what the method used, in its own unit "
             "(leaves; rules without the default; stumps; terms = rules + linear terms); *conditions*: "
             "splits for trees, conditions summed over rules for rule models; only folds with status ok "
             "enter the medians.\n"]
    notes: dict[str, list[str]] = {}
    for name, g in df.groupby("dataset", sort=False):
        lines.append(f"### {name}\n")
        lines.append("| method | budget | status | fidelity | accuracy | size | conditions | fit s | fit ÷ CART "
                     "| predict s |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        base = g[g.family == "cart-labels"].groupby("budget")["fit_s"].median()
        for (method, budget), h in g.groupby(["method", "budget"], sort=False, dropna=False):
            if "note" in h and h.note.notna().any():
                names = notes.setdefault(h.note.dropna().iloc[0], [])
                if method.split(" (")[0] not in names:
                    names.append(method.split(" (")[0])
            b = "" if pd.isna(budget) else int(budget)
            ok = h[h.status == "ok"]
            if ok.empty:
                lines.append(f"| {method} | {b} | {_status(h)} | | | | | | | |")
                continue
            fid = C.fmt(C.summarise(ok.fidelity.tolist()))
            acc = C.fmt(C.summarise(ok.accuracy.tolist()))
            unit = ok.unit.dropna().iloc[0] if ok.unit.notna().any() else ""
            size = "" if ok.rules.isna().all() else f"{ok.rules.median():.0f} {unit}".strip()
            conds = "" if ok.conditions.isna().all() else f"{ok.conditions.median():.0f}"
            fit = ok.fit_s.median()
            ratio = fit / base.get(budget, np.nan) if budget in base.index else np.nan
            pred = "" if ok.predict_s.isna().all() else f"{ok.predict_s.median():.4f}"
            lines.append(
                f"| {method} | {b} | {_status(h)} | {fid} | {acc} | {size} | {conds} | "
                f"{fit:.2f} | {'' if np.isnan(ratio) else f'{ratio:.1f}×'} | {pred} |"
            )
        lines.append("")
    if notes:
        lines.append("### Notes\n")
        lines += [f"- **{', '.join(names)}**: {text}" for text, names in notes.items()]
        lines.append("")
    return "\n".join(lines)


def headline(records: list[dict], budgets: tuple[int, ...]) -> str:
    """Best rulekd student against the best other method (baselines and peers), per budget and data set.

    Only methods with every fold ok compete (a method that failed or timed out on a fold is listed
    in the tables with its status). The infidelity ratio is (1 - fidelity of the best rulekd
    student) / (1 - fidelity of the best other method): below 1 rulekd is more faithful.
    """
    df = pd.DataFrame(records)
    lines = []
    for budget in budgets:
        d = df[df.budget == budget]
        complete = d.groupby(["dataset", "method"]).status.apply(lambda s: bool((s == "ok").all()))
        d = d[d.set_index(["dataset", "method"]).index.map(complete).to_numpy(dtype=bool)]
        med = (d.groupby(["dataset", "method", "family"], sort=False)[["fidelity", "accuracy", "rules"]]
               .median().reset_index())
        units = d.groupby("method").unit.first()
        lines += [f"### Headline at budget {budget} (median over folds)\n",
                  "| data set | best rulekd | size | fidelity | accuracy | best other | size | fidelity | accuracy "
                  "| infidelity ratio | accuracy Δ (pts) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, g in med.groupby("dataset", sort=False):
            ours = g[g.family.str.startswith("rulekd")]
            other = g[~g.family.str.startswith("rulekd") & (g.family != "teacher")]
            if ours.empty or other.empty:
                continue
            ours = ours.sort_values(["fidelity", "accuracy"]).iloc[-1]
            other = other.sort_values(["fidelity", "accuracy"]).iloc[-1]
            ratio = (1 - ours.fidelity) / max(1 - other.fidelity, 1e-9)
            size = lambda r: f"{r.rules:.0f} {units.get(r.method) or ''}".strip()  # noqa: E731
            lines.append(f"| {name} | {ours.method} | {size(ours)} | {ours.fidelity:.3f} | {ours.accuracy:.3f} | "
                         f"{other.method} | {size(other)} | {other.fidelity:.3f} | {other.accuracy:.3f} | "
                         f"{ratio:.2f} | {100 * (ours.accuracy - other.accuracy):+.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="budget 16, 2 of the 5 folds, adult subsampled to 8,000 rows (with --peers: the "
                         "peers too); writes results/fidelity.*")
    ap.add_argument("--datasets", default=",".join(C.DATASETS))
    ap.add_argument("--budgets", default=None, help="comma-separated (default 8,16,32; --quick: 16)")
    ap.add_argument("--peers", action="store_true", help="also run the public peers (rulekd[bench])")
    ap.add_argument("--te2rules-stages", default="1,2",
                    help="te2rules num_stages to run with --peers, comma-separated ('' for none)")
    ap.add_argument("--te2rules-cap", type=float, default=90.0,
                    help="seconds per te2rules extraction before it is stopped (status 'over time cap')")
    ap.add_argument("--max-conditions", type=int, default=None, metavar="K",
                    help="rulekd's rule set and list with max_conditions=K (default: no limit)")
    ap.add_argument("--folds", type=int, default=5, help="number of cross-validation folds (the split)")
    ap.add_argument("--folds-run", type=int, default=None,
                    help="run only the first N folds of the split (default: all; --quick: 2)")
    ap.add_argument("--adult-rows", type=int, default=None,
                    help="subsample adult to this many rows, seed 0 (default: all; --quick: 8000)")
    ap.add_argument("--out", default=None,
                    help="results name (default: fidelity with --quick, else fidelity_full)")
    args = ap.parse_args(argv)
    datasets = tuple(args.datasets.split(","))
    budgets = tuple(int(b) for b in args.budgets.split(",")) if args.budgets else ((16,) if args.quick else BUDGETS)
    stages = tuple(int(s) for s in args.te2rules_stages.split(",") if s)
    folds_run = args.folds_run if args.folds_run is not None else (QUICK["folds_run"] if args.quick else None)
    adult_rows = args.adult_rows if args.adult_rows is not None else (QUICK["adult_rows"] if args.quick else None)
    out = run(datasets, budgets, quick=args.quick, with_peers=args.peers, n_folds=args.folds,
              n_folds_run=folds_run, adult_rows=adult_rows, te2rules_stages=stages,
              te2rules_cap_s=args.te2rules_cap, max_conditions=args.max_conditions)
    scope = (f"Stratified {args.folds}-fold CV, seed 0; folds run: "
             f"{folds_run if folds_run is not None else args.folds} of {args.folds}"
             + (f"; adult subsampled to {adult_rows:,} rows" if adult_rows else "")
             + "; teacher XGBClassifier(n_estimators=200, max_depth=4), shared by every method"
             + ("; with the public peers" if args.peers else "; no peers (--peers adds them)") + ".\n\n")
    md = scope + headline(out["records"], budgets) + "\n" + table(out["records"])
    name = args.out or ("fidelity" if args.quick else "fidelity_full")
    cmd_args = list(sys.argv[1:] if argv is None else argv)
    C.write_results(name, {"command": "python -m benchmarks.fidelity " + " ".join(cmd_args),
                           "protocol": {"datasets": datasets, "budgets": budgets, "folds": args.folds,
                                        "folds_run": folds_run, "adult_rows": adult_rows,
                                        "peers": args.peers, "te2rules_stages": stages,
                                        "te2rules_cap_s": args.te2rules_cap, "max_conditions": args.max_conditions,
                                        "teacher": "XGBClassifier(n_estimators=200, max_depth=4)"},
                           **out}, md, argv)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
