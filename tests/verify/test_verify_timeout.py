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


# -- every Z3 query has a limit; a spent budget is reported, never a hang ---------------------------------
def test_z3_solvers_are_created_only_behind_the_timeout_wrapper():
    """Every solver in rulekd is ``verify._checks.Solver``, which sets a timeout before each query."""
    import pathlib
    import re

    import rulekd

    root = pathlib.Path(rulekd.__file__).parent
    raw = re.compile(r"z3\.(Solver|SolverFor|SimpleSolver|Optimize|Fixedpoint|Then|Tactic)\(|\.check_sat\(")
    found = [f"{p.relative_to(root)}:{i}" for p in sorted(root.rglob("*.py"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if raw.search(line)]
    assert found == ["verify/_checks.py:117"], found


def test_every_query_runs_with_a_timeout(monkeypatch):
    """verify (every check and a property), simplify and an equivalence proof: no z3 check() without a limit."""
    import z3

    from rulekd.verify import simplify

    limits: dict[int, int] = {}
    queries = []
    real_set, real_check = z3.Solver.set, z3.Solver.check

    def set_(self, *args, **kw):
        if args[:1] == ("timeout",):
            limits[id(self)] = int(args[1])
        return real_set(self, *args, **kw)

    def check(self, *args):
        queries.append(limits.get(id(self)))
        return real_check(self, *args)

    monkeypatch.setattr(z3.Solver, "set", set_)
    monkeypatch.setattr(z3.Solver, "check", check)
    rs, dom = hard_instance(12, 4, seed=3)
    verify(rs, dom, properties=[Invariant("f1")], timeout_ms=3000)
    simple = simplify(rs, dom, timeout_ms=3000)
    verify(simple, dom, checks=["equivalence"], reference=rs, timeout_ms=3000)
    assert len(queries) > 20
    assert all(ms is not None and 1 <= ms <= 3000 for ms in queries), sorted(set(map(str, queries)))


def test_a_spent_budget_returns_in_time_and_accounts_for_every_item():
    """Over budget: the run stops near the budget and the report says how much was decided and what was not.

    Regression: with part of a check decided and the rest left unknown by the budget, the report listed
    only the unknown (and violated) items, not how many had been checked and found fine.
    """
    import time

    rs, dom = hard_instance()
    t0 = time.perf_counter()
    with pytest.warns(SolverTimeoutWarning, match="unknown"):
        report = verify(rs, dom, checks=["dead", "redundant_condition", "redundant_rule", "gap"],
                        properties=[Invariant("f1")], timeout_ms=60_000, time_budget_s=0.3)
    assert time.perf_counter() - t0 < 20  # the budget plus building the encoding, never the 60 s query limit
    totals = {"dead": len(rs), "redundant_rule": len(rs), "redundant_condition": rs.n_conditions}
    for check, total in totals.items():
        found = report.by_check(check)
        fine = sum(f.details.get("items_decided_fine", 0) for f in found if f.status == "proved")
        per_item = sum(1 for f in found if f.status != "proved")
        assert fine + per_item == total, (check, fine, per_item, total)  # every item accounted for
    assert report.unknown and all(f.details["reason"] in ("time budget spent", "solver timeout (60000 ms)")
                                  for f in report.unknown)
    assert any(f.details.get("partial") for f in report.proved)  # something was decided, and says so
    head = report.summary().splitlines()[0]
    assert f"{len(report.proved)} proved, {len(report.violated)} violated, {len(report.unknown)} unknown" in head
    assert report.to_dict()["counts"] == {"proved": len(report.proved), "violated": len(report.violated),
                                          "unknown": len(report.unknown)}


def test_cli_verify_over_budget_exits_3_with_the_counts(tmp_path, capsys):
    from rulekd.cli import main

    rs, _ = hard_instance()
    path = tmp_path / "rules.json"
    rs.to_json(path)
    code = main(["verify", str(path), "--checks", "dead,redundant_rule", "--time-budget-s", "0.05"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "unknown" in out.splitlines()[0] and "dead:" in out and "redundant_rule:" in out
    assert "rulekd verify: warning:" in err


def test_simplify_and_the_hybrid_verifier_respect_their_budget():
    import time

    from rulekd.verify import simplify

    rs, dom = hard_instance(120, 12)
    t0 = time.perf_counter()
    out = simplify(rs, dom, timeout_ms=2000, time_budget_s=0.2, use_sympy=False)
    assert out.metadata["simplification"]["proof"]["status"] in ("proved", "unknown")
    assert out.metadata["simplification"]["proof"]["status"] != "violated"
    assert time.perf_counter() - t0 < 60
