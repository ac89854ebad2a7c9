"""Property-based: on random rule sets and Domains, verdicts agree with evaluation.

Every universal claim (proved: no conflict, no gap, a property holds; violated:
a rule is dead, a condition or rule is redundant, a region is a gap) is
checked on at least 10,000 inputs of the Domain (random rows plus the rows on
and next to every threshold); every counterexample must show its violation.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulekd import Condition, Domain, FeatureSpec, Rule, RuleSet
from rulekd.verify import Implies, Invariant, parse_condition, verify
from rulekd.verify._encode import frame_from_rows

R_THRESH = (0.0, 2.5, 3.3, 5.0, 7.5, 10.0)
N_THRESH = (0.0, 1.0, 2.5, 3.0, 6.0)
LEVELS = ("a", "b", "c")
LABELS = (0, 1, 2)


@st.composite
def domains(draw):
    feats = (
        FeatureSpec("r", "real", 0.0, 10.0, allow_missing=draw(st.booleans())),
        FeatureSpec("n", "integer", 0, 6),
        FeatureSpec("k", "categorical", levels=LEVELS, allow_missing=draw(st.booleans())),
    )
    dom = Domain(feats)
    if draw(st.booleans()):
        dom = dom.with_constraint({"r": 1.0, "n": -1.0}, "<=", 5.0)
    return dom


@st.composite
def conditions(draw):
    which = draw(st.sampled_from(["r", "r", "n", "k", "miss"]))
    if which == "r":
        return Condition("r", draw(st.sampled_from(["<", "<=", ">", ">="])), draw(st.sampled_from(R_THRESH)),
                         draw(st.booleans()), draw(st.sampled_from([None, "float32"])))
    if which == "n":
        return Condition("n", draw(st.sampled_from(["<", "<=", ">", ">="])), draw(st.sampled_from(N_THRESH)),
                         draw(st.booleans()))
    if which == "k":
        levels = draw(st.sets(st.sampled_from(LEVELS), min_size=1, max_size=2))
        return Condition("k", draw(st.sampled_from(["in", "not in"])), frozenset(levels), draw(st.booleans()))
    return Condition(draw(st.sampled_from(["r", "k"])), draw(st.sampled_from(["is missing", "is not missing"])))


@st.composite
def rule_sets(draw):
    n = draw(st.integers(0, 5))
    rules = tuple(
        Rule(tuple(draw(st.lists(conditions(), min_size=1, max_size=3))), draw(st.sampled_from(LABELS)),
             confidence=draw(st.sampled_from([0.5, 0.7, 0.9])), id=f"r{i}")
        for i in range(n)
    )
    return RuleSet(rules, classes=LABELS, default=draw(st.sampled_from(LABELS)), ordered=draw(st.booleans()),
                   feature_names=("r", "n", "k"))


def _inputs(dom: Domain, rs: RuleSet, seed: int) -> pd.DataFrame:
    """10,000 random rows, plus rows on and next to every threshold the rules use."""
    rng = np.random.default_rng(seed)
    rand = dom.sample(10_000, random_state=seed, missing_rate=0.15)
    edges = set(R_THRESH)
    for r in rs.rules:
        for c in r.conditions:
            if c.feature == "r" and c.is_numeric:
                t = c.exact_bound()[1]
                edges |= {t, float(np.nextafter(t, -math.inf)), float(np.nextafter(t, math.inf))}
    edges = sorted(e for e in edges if 0.0 <= e <= 10.0)
    m = 2000
    ns = rng.integers(0, 7, size=m).astype(float)
    rows = pd.DataFrame({
        "r": rng.choice(edges, size=m),
        "n": ns,
        "k": pd.Categorical(rng.choice(list(LEVELS), size=m), categories=list(LEVELS)),
    })
    both = pd.concat([rand, rows], ignore_index=True)
    both["k"] = pd.Categorical(both["k"], categories=list(LEVELS))
    return both[dom.contains(both)].reset_index(drop=True)


def _cond_mask(conds, X):
    out = np.ones(len(X), dtype=bool)
    for c in conds:
        out &= c.evaluate(X[c.feature])
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dom=domains(), rs=rule_sets(), seed=st.integers(0, 10_000), prop_cond=conditions(),
       then=st.sampled_from(LABELS))
def test_verdicts_agree_with_evaluation(dom, rs, seed, prop_cond, then):
    prop_cond = Condition(prop_cond.feature, prop_cond.op, prop_cond.value)  # property tests fail on missing
    implies = Implies(parse_condition(f"{_text(prop_cond)}"), then=then)
    report = verify(rs, dom, properties=[implies, Invariant("k")], max_gap_regions=4)
    X = _inputs(dom, rs, seed)
    assert len(X) >= 10_000
    match = rs.match(X)
    decide = rs.decide(X)
    pred = np.asarray(rs.predict(X))
    idx = {rs.rule_id(i): i for i in range(len(rs))}
    for f in report.findings:
        cex = f.counterexample
        if f.check == "conflict":
            if f.status == "proved":
                for i in range(len(rs)):
                    for j in range(i + 1, len(rs)):
                        if rs.rules[i].prediction != rs.rules[j].prediction:
                            assert not (match[:, i] & match[:, j]).any(), f
            elif f.status == "violated":
                m = rs.match(frame_from_rows([cex], dom))[0]
                assert m[idx[f.rules[0]]] and m[idx[f.rules[1]]]
        elif f.check == "gap":
            if f.status == "proved":
                assert (decide != -1).all(), f
            elif f.status == "violated":
                assert rs.decide(frame_from_rows([cex], dom))[0] == -1
                region = f.details.get("region")
                if region:
                    inside = parse_condition(region).evaluate(lambda n: X[n], len(X))
                    assert (decide[inside] == -1).all(), f
        elif f.check == "dead" and f.status == "violated":
            assert not (decide == idx[f.rules[0]]).any(), f
        elif f.check == "redundant_condition" and f.status == "violated":
            j = idx[f.rules[0]]
            conds = rs.rules[j].conditions
            k = f.details["condition_index"]
            others = conds[:k] + conds[k + 1:]
            assert (~_cond_mask(others, X) | _cond_mask([conds[k]], X)).all(), f
        elif f.check == "redundant_rule" and f.status == "violated":
            j = idx[f.rules[0]]
            without = rs.replace(rules=rs.rules[:j] + rs.rules[j + 1:])
            assert (np.asarray(without.predict(X)) == pred).all(), f
        elif f.check == "property":
            prop = implies.validate(dom, rs.classes) if f.property.startswith("if") else Invariant("k")
            predict = lambda frame: rs.predict(frame)  # noqa: E731
            if f.status == "proved":
                if isinstance(prop, Implies):
                    assert prop.holds(predict, X).all(), f
                else:
                    X1, X2 = prop.sample_pairs(X, dom, random_state=seed)
                    assert prop.holds(predict, X1, X2).all(), f
            elif f.status == "violated":
                rows = [cex] if "x" not in cex else [cex["x"], cex["x_prime"]]
                assert prop.confirm(predict, rows, dom), f
    assert not report.unknown, [str(f) for f in report.unknown]


def _text(c: Condition) -> str:
    if c.op in ("is missing", "is not missing"):
        return f"{c.feature} {c.op}"
    if c.is_categorical:
        return f"{c.feature} {c.op} {{" + ", ".join(f"'{v}'" for v in sorted(c.value)) + "}"
    return f"{c.feature} {c.op} {c.value!r}"
