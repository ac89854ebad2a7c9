"""Fixtures of the audit tests: small fitted models (fast settings) and a duck-typed hybrid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rulekd import DistilledRuleClassifier


def xgb_teacher():
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True, random_state=0)


@pytest.fixture(scope="session")
def german():
    """German credit: 300 rows to fit, 200 other rows to audit, with the protected frame."""
    from rulekd.datasets import load_german_credit

    b = load_german_credit()
    fit = slice(0, 300)
    aud = slice(300, 500)
    model = DistilledRuleClassifier(teacher=xgb_teacher(), max_rules=5, n_synthetic=300, random_state=0)
    model.fit(b.data.iloc[fit], b.target.iloc[fit])
    return {
        "model": model,
        "X": b.data.iloc[aud].reset_index(drop=True),
        "y": b.target.iloc[aud].reset_index(drop=True),
        "protected": b.protected.iloc[aud].reset_index(drop=True),
        "DESCR": b.DESCR,
    }


@pytest.fixture(scope="session")
def german_report(german):
    from rulekd.audit import audit

    return audit(german["model"], german["X"], german["y"], protected=german["protected"],
                 description=german["DESCR"], properties=["invariant status_sex"], time_budget_s=30)


class FakeHybrid:
    """A stand-in for ``rulekd.hybrid.HybridClassifier`` (written elsewhere), by its documented duck type.

    Rules answer where they match and are trusted; ``guard:0`` answers class 1
    where ``x0 > 2``; the student (a logistic regression) answers elsewhere.
    """

    def __init__(self, rule_model, student, trusted):
        self.rules_ = rule_model.rules_
        self.domain_ = rule_model.domain_
        self.teacher_ = rule_model.teacher_
        self.classes_ = rule_model.classes_
        self.student_ = student
        self.guards_ = ["if x0 > 2 then 1"]
        self.trusted = set(trusted)
        self.rule_precision_ = {rid: 0.9 for rid in self.trusted}
        self.transparency_ = 0.5

    def decided_by(self, X):
        by = np.asarray(self.rules_.decided_by(X), dtype=object)
        out = np.where([b in self.trusted for b in by], by, "student").astype(object)
        out[(np.asarray(X["x0"]) > 2) & (out == "student")] = "guard:0"
        return out

    def predict(self, X):
        by = self.decided_by(X)
        pred = np.asarray(self.student_.predict(X)).astype(object)
        rules = self.rules_.predict(X)
        for i, b in enumerate(by):
            if b == "guard:0":
                pred[i] = 1
            elif b != "student":
                pred[i] = rules[i]
        return pred.astype(int)

    def predict_proba(self, X):
        pred = self.predict(X)
        p = np.asarray(self.student_.predict_proba(X), dtype=float)
        by = self.decided_by(X)
        for i, b in enumerate(by):
            if b != "student":
                p[i] = [1.0 - pred[i], float(pred[i])]
        return p

    def transparency_curve(self, X, y):
        return pd.DataFrame({"transparency": [0.0, 0.5, 1.0], "accuracy": [0.8, 0.82, 0.75],
                             "rule_accuracy": [np.nan, 0.9, 0.75], "student_accuracy": [0.8, 0.78, np.nan]})


@pytest.fixture(scope="session")
def hybrid():
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    Xa, y = make_classification(n_samples=400, n_features=4, n_informative=3, n_redundant=0, random_state=1)
    X = pd.DataFrame(Xa, columns=["x0", "x1", "x2", "x3"])
    rm = DistilledRuleClassifier(teacher=xgb_teacher(), max_rules=4, n_synthetic=300, random_state=0).fit(X, y)
    student = LogisticRegression().fit(X, y)
    trusted = [rm.rules_.rule_id(i) for i in range(len(rm.rules_))][:1]
    return FakeHybrid(rm, student, trusted), X, y
