"""The timeout path: unknown and a SolverTimeoutWarning, never a crash and never proved."""

from __future__ import annotations

import numpy as np
import pytest

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.exceptions import SolverTimeoutWarning
from rulekd.verify import Invariant, verify


def hard_instance(n: int = 24, seed: int = 0) -> tuple[RuleSet, Domain]:
    """Rules over a Domain whose linear constraint is a subset-sum problem: every query is hard."""
    rng = np.random.default_rng(seed)
    feats = tuple(FeatureSpec(f"b{i}", "integer", 0, 1) for i in range(n)) + (FeatureSpec("z", "real", 0, 1),)
    w = rng.integers(10**6, 10**7, size=n)
    dom = Domain(feats).with_constraint({f"b{i}": float(w[i]) for i in range(n)}, "==", float(w[: n // 2].sum() + 1))
    rules = tuple(Rule((C(f"b{i}", ">", 0.5), C("z", "<=", 0.5)), i % 2, id=f"r{i}") for i in range(n))
    return RuleSet(rules, classes=(0, 1), default=0, ordered=False), dom


def test_tiny_timeout_gives_unknown_and_a_warning_not_proved():
    rs, dom = hard_instance()
    with pytest.warns(SolverTimeoutWarning, match="unknown"):
        report = verify(rs, dom, properties=[Invariant("z")], timeout_ms=1)
    assert not report.proved
    assert report.status in ("unknown", "violated") and report.unknown
    (prop,) = report.by_check("property")
    assert prop.status == "unknown" and "timeout" in prop.details["reason"]
    assert report.by_check("gap")[0].status == "unknown"
    assert report.exit_code in (1, 3)


def test_spent_time_budget_leaves_the_rest_unknown():
    rs, dom = hard_instance(12)
    with pytest.warns(SolverTimeoutWarning):
        report = verify(rs, dom, checks=["dead", "gap"], timeout_ms=10_000, time_budget_s=0.05)
    assert not report.proved and report.unknown
    assert any("budget" in f.details.get("reason", "") or "timeout" in f.details.get("reason", "")
               for f in report.unknown)


def test_bad_timeout_is_rejected():
    rs, dom = hard_instance(4)
    with pytest.raises(ValueError, match="timeout_ms"):
        verify(rs, dom, timeout_ms=0)
