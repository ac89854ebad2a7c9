"""How well calibrated are the rules' probabilities on held-out rows?

Two measurements on the protocol's folds (5-fold stratified, seed 0, teacher
``XGBClassifier(n_estimators=200, max_depth=4)``), test rows pooled over the folds:

* ``DistilledRuleClassifier(max_rules=16)`` with the fold's teacher frozen: log-loss, Brier score and
  expected calibration error (10 equal-width bins) of its ``predict_proba``, beside the teacher's;
* ``HybridClassifier(transparency=0.5)`` on the rows its rules answer: the rules' ``proba`` (the teacher's
  mean over the rows each rule answers) against the label shares of the rule's candidate that were used
  before session 12 (read from the same fit's candidates).

A one-off measurement, not part of ``make bench``; prints a markdown table.
``python -m benchmarks.calibration --datasets heart,german_credit,breast_cancer``
(about 25 minutes on 2 cores; heart alone about 4).
"""

from __future__ import annotations

import argparse

import numpy as np

from . import _common as C


def _ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        m = (p > a) & (p <= b) if a > 0 else (p >= a) & (p <= b)
        if m.any():
            total += m.mean() * abs(p[m].mean() - y[m].mean())
    return float(total)


def _scores(p1: np.ndarray, y: np.ndarray) -> str:
    from sklearn.metrics import brier_score_loss, log_loss

    clipped = np.clip(p1, 1e-6, 1 - 1e-6)
    return f"{log_loss(y, clipped, labels=[0, 1]):.3f} / {brier_score_loss(y, p1):.3f} / {_ece(p1, y):.3f}"


def run(name: str) -> list[str]:
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, HybridClassifier
    from rulekd.students._base import rank_first

    X, y = C.load(name)
    rules, teacher_p, ys = [], [], []
    new, old, yh = [], [], []
    for _, tr, te in C.folds(X, y):
        Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
        teacher, _ = C.fit_frozen_teacher(Xtr, ytr)
        m = DistilledRuleClassifier(teacher=teacher, max_rules=16, random_state=0).fit(Xtr, ytr)
        rules.append(m.predict_proba(Xte)[:, 1])
        teacher_p.append(teacher.predict_proba(Xte)[:, 1])
        ys.append(yte)
        h = HybridClassifier(teacher=C.teacher(), student=DistilledMLPClassifier(max_epochs=200), transparency=0.5,
                             random_state=0).fit(Xtr, ytr)
        by = h.decided_by(Xte)
        on = by != "student"
        new.append(h.predict_proba(Xte)[on, 1])
        cand = {(r.conditions, r.prediction): r.proba for r in h._choice_["rules"]}
        table = np.array([cand[(r.conditions, r.prediction)] for r in h.rules_.rules])
        ids = [h.rules_.rule_id(i) for i in range(len(h.rules_))]
        codes = np.searchsorted(h.classes_, h.predict(Xte)[on])
        old.append(rank_first(table[[ids.index(b) for b in by[on]]], codes)[:, 1])
        yh.append(yte[on])
    y_all, y_h = np.concatenate(ys), np.concatenate(yh)
    return [f"| {name} | {len(y_all)} | {_scores(np.concatenate(rules), y_all)} "
            f"| {_scores(np.concatenate(teacher_p), y_all)} | {len(y_h)} | {_scores(np.concatenate(new), y_h)} "
            f"| {_scores(np.concatenate(old), y_h)} |"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="heart,german_credit,breast_cancer")
    args = ap.parse_args(argv)
    lines = ["Log-loss / Brier / ECE, test rows pooled over 5 folds (seed 0).", "",
             "| data set | rows | rule student (16 rules) | teacher | hybrid rule rows @0.5 | rules' proba | "
             "candidate label shares (before) |",
             "| --- | ---: | --- | --- | ---: | --- | --- |"]
    for name in args.datasets.split(","):
        lines += run(name)
        print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
