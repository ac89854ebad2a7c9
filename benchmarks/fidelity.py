"""Fidelity suite: how faithfully small rule models reproduce the teacher.

For each data set and fold: the shared teacher; CART on the true labels and
CART on the teacher's labels (the usual baselines); rulekd's
``DistilledTreeClassifier`` and ``DistilledRuleClassifier`` (set and list) at
8, 16 and 32 leaves/rules. Accuracy and fidelity (agreement with the teacher)
on the held-out fold; complexity (rules, conditions); fit and predict seconds,
also as ratios to CART-on-labels measured in the same run.

    python -m benchmarks.fidelity [--quick] [--datasets german_credit,heart]
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


def rulekd_adapters(budget: int, frozen: Any) -> list[Adapter]:
    from rulekd import DistilledRuleClassifier, DistilledTreeClassifier

    def complexity(m: Any) -> dict:
        return dict(m.complexity_)

    return [
        Adapter(f"rulekd tree ({budget} leaves)", "rulekd-tree", budget,
                lambda: DistilledTreeClassifier(teacher=frozen, max_leaf_nodes=budget, random_state=0),
                complexity, uses_teacher=True),
        Adapter(f"rulekd rule set ({budget} rules)", "rulekd-set", budget,
                lambda: DistilledRuleClassifier(teacher=frozen, max_rules=budget, kind="set", random_state=0),
                complexity, uses_teacher=True),
        Adapter(f"rulekd rule list ({budget} rules)", "rulekd-list", budget,
                lambda: DistilledRuleClassifier(teacher=frozen, max_rules=budget, kind="list", random_state=0),
                complexity, uses_teacher=True),
    ]


def run(datasets: tuple[str, ...], budgets: tuple[int, ...], *, quick: bool, with_peers: bool,
        n_folds: int = 5) -> dict:
    records: list[dict] = []
    for name in datasets:
        X, y = C.load(name)
        for k, tr, te in C.folds(X, y, n_folds):
            Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
            frozen, t_fit = C.fit_frozen_teacher(Xtr, ytr)
            t_pred = frozen.predict(Xte)
            records.append(dict(dataset=name, fold=k, method="teacher (XGBoost 200x4)", family="teacher",
                                budget=None, accuracy=float(np.mean(t_pred == yte)), fidelity=1.0,
                                fit_s=t_fit, predict_s=None, rules=None, conditions=None, status="ok"))
            y_teacher_tr = frozen.predict(Xtr)
            for budget in budgets:
                adapters = [cart_adapter(budget, on="labels"), cart_adapter(budget, on="teacher")]
                adapters += rulekd_adapters(budget, frozen)
                if with_peers:
                    adapters += peer_adapters(budget, frozen)
                for ad in adapters:
                    rec = ad.evaluate(Xtr, ytr, y_teacher_tr, Xte, yte, t_pred)
                    rec.update(dataset=name, fold=k)
                    records.append(rec)
                    print(f"{name} fold {k} {rec['method']}: fid {rec.get('fidelity')} acc {rec.get('accuracy')} "
                          f"({rec['status']})", file=sys.stderr, flush=True)
    return {"records": records}


def table(records: list[dict]) -> str:
    df = pd.DataFrame(records)
    lines = []
    for name, g in df.groupby("dataset", sort=False):
        lines.append(f"### {name}\n")
        lines.append("| method | budget | fidelity | accuracy | rules | conditions | fit s | fit ÷ CART | predict s |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        base = g[g.family == "cart-labels"].groupby("budget")["fit_s"].median()
        for (method, budget), h in g.groupby(["method", "budget"], sort=False, dropna=False):
            ok = h[h.status == "ok"]
            if ok.empty:
                lines.append(f"| {method} | {budget} | {h.status.iloc[0]} | | | | | | |")
                continue
            fid = C.fmt(C.summarise(ok.fidelity.tolist()))
            acc = C.fmt(C.summarise(ok.accuracy.tolist()))
            rules = "" if ok.rules.isna().all() else f"{ok.rules.median():.0f}"
            conds = "" if ok.conditions.isna().all() else f"{ok.conditions.median():.0f}"
            fit = ok.fit_s.median()
            ratio = fit / base.get(budget, np.nan) if budget in base.index else np.nan
            pred = "" if ok.predict_s.isna().all() else f"{ok.predict_s.median():.4f}"
            lines.append(
                f"| {method} | {'' if pd.isna(budget) else int(budget)} | {fid} | {acc} | {rules} | {conds} | "
                f"{fit:.2f} | {'' if np.isnan(ratio) else f'{ratio:.1f}×'} | {pred} |"
            )
        lines.append("")
    return "\n".join(lines)


def headline(records: list[dict], budget: int = 16) -> str:
    """Best rulekd student vs best baseline/peer at ``budget`` per data set."""
    df = pd.DataFrame(records)
    df = df[(df.status == "ok") & (df.budget == budget)]
    med = df.groupby(["dataset", "method", "family"], sort=False)[["fidelity", "accuracy"]].median().reset_index()
    lines = [f"### Headline at ≤ {budget} rules/leaves (median over folds)\n",
             "| data set | best rulekd | fidelity | accuracy | best other | fidelity | accuracy | infidelity ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for name, g in med.groupby("dataset", sort=False):
        ours = g[g.family.str.startswith("rulekd")].sort_values("fidelity").iloc[-1]
        other = g[~g.family.str.startswith("rulekd")].sort_values("fidelity").iloc[-1]
        ratio = (1 - ours.fidelity) / max(1 - other.fidelity, 1e-9)
        lines.append(f"| {name} | {ours.method} | {ours.fidelity:.3f} | {ours.accuracy:.3f} | {other.method} | "
                     f"{other.fidelity:.3f} | {other.accuracy:.3f} | {ratio:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="budgets 16 only, no peers")
    ap.add_argument("--datasets", default=",".join(C.DATASETS))
    ap.add_argument("--budgets", default=None)
    ap.add_argument("--peers", action="store_true", help="also run the public peers (rulekd[bench])")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    datasets = tuple(args.datasets.split(","))
    budgets = tuple(int(b) for b in args.budgets.split(",")) if args.budgets else ((16,) if args.quick else BUDGETS)
    out = run(datasets, budgets, quick=args.quick, with_peers=args.peers, n_folds=args.folds)
    md = headline(out["records"], 16 if 16 in budgets else budgets[0]) + "\n" + table(out["records"])
    C.write_results("fidelity", {"protocol": {"datasets": datasets, "budgets": budgets, "folds": args.folds,
                                              "teacher": "XGBClassifier(n_estimators=200, max_depth=4)"},
                                 **out}, md, argv)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
