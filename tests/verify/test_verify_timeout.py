"""The timeout path: unknown and a SolverTimeoutWarning, never a crash and never proved."""

from __future__ import annotations

import numpy as np
import pytest

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.exceptions import SolverTimeoutWarning
from rulekd.verify import Invariant, verify


def hard_instance(n_rules: int = 400, n_features: int = 30, seed: int = 0) -> tuple[RuleSet, Domain]:
    """Many overlapping rules with random thresholds: the gap and two-input property queries need real search.

    (Not a subset-sum Domain: Z3's integer GCD test does not check its time
    limit, so such an instance can overrun any timeout; see docs/verification.md.)
    """
    rng = np.random.default_rng(seed)
    feats = tuple(FeatureSpec(f"f{i}", "real", 0, 1) for i in range(n_features))
    rules = []
    for j in range(n_rules):
        fs = rng.choice(n_features, 4, replace=False)
        conds = tuple(C(f"f{f}", "<=" if rng.random() < 0.5 else ">", float(np.round(rng.random(), 2))) for f in fs)
        rules.append(Rule(conds, int(rng.integers(0, 2)), confidence=float(np.round(rng.random(), 3)), id=f"r{j}"))
    return RuleSet(tuple(rules), classes=(0, 1), default=0, ordered=False), Domain(feats)


def test_tiny_timeout_gives_unknown_and_a_warning_not_proved():
    rs, dom = hard_instance()
    with pytest.warns(SolverTimeoutWarning, match="unknown"):
        report = verify(rs, dom, checks=["gap"], properties=[Invariant("f1")], timeout_ms=1)
    assert not report.proved and not report.violated
    assert report.status == "unknown" and report.exit_code == 3
    (prop,) = report.by_check("property")
    assert prop.status == "unknown" and "timeout" in prop.details["reason"]
    assert report.by_check("gap")[0].status == "unknown"


def test_tiny_timeout_on_every_check_never_claims_a_proof_it_lacks():
    rs, dom = hard_instance(60, 12)
    with pytest.warns(SolverTimeoutWarning):
        report = verify(rs, dom, properties=[Invariant("f1")], timeout_ms=1)
    assert report.unknown
    # What is proved under the 1 ms limit must still be true: check it on samples.
    X = dom.sample(5000, random_state=0)
    for f in report.proved:
        if f.check == "gap":
            assert (rs.decide(X) != -1).all()
        if f.check == "property":
            X1, X2 = Invariant("f1").sample_pairs(X, dom, random_state=0)
            assert Invariant("f1").holds(rs.predict, X1, X2).all()


def test_spent_time_budget_leaves_the_rest_unknown():
    rs, dom = hard_instance()
    with pytest.warns(SolverTimeoutWarning):
        report = verify(rs, dom, checks=["dead", "redundant_rule"], timeout_ms=10_000, time_budget_s=0.05)
    assert report.unknown
    assert any("budget" in f.details.get("reason", "") for f in report.unknown)


def test_bad_timeout_is_rejected():
    rs, dom = hard_instance(4)
    with pytest.raises(ValueError, match="timeout_ms"):
        verify(rs, dom, timeout_ms=0)
