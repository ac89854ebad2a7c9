"""``rulekd.verify.verify`` on a hybrid proves the guards on the whole composition."""

import warnings

import numpy as np
import pandas as pd
import pytest
from xgboost import XGBClassifier

from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, HybridClassifier
from rulekd.datasets import load_german_credit
from rulekd.hybrid import GuardConflictWarning
from rulekd.verify import verify


@pytest.fixture(scope="module")
def hybrid():
    d = load_german_credit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)
        return HybridClassifier(
            teacher=XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True),
            rules=DistilledRuleClassifier(max_rules=4, n_synthetic=100),
            student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
            guards=["invariant status_sex", "monotone duration increasing toward 1"],
            n_synthetic=200, random_state=0,
        ).fit(d.data, d.target)

def test_verify_dispatches_a_hybrid_to_the_composition_proof(hybrid):
    report = verify(hybrid, properties=hybrid.guards_)
    props = [f for f in report.findings if f.check == "property"]
    assert [f.status for f in props] == ["proved", "proved"]
    assert report.target["source"] == "rulekd.HybridClassifier"

def test_a_property_the_hybrid_breaks_is_violated_with_a_real_counterexample(hybrid):
    report = verify(hybrid, properties=["invariant age"], checks="none")
    (f,) = report.findings
    assert f.status in ("violated", "unknown")
    if f.status == "violated":  # the counterexample really changes the hybrid's answer

        from rulekd.verify._encode import frame_from_rows

        x = frame_from_rows([f.counterexample["x"]], hybrid.domain_)
        xp = frame_from_rows([f.counterexample["x_prime"]], hybrid.domain_)
        assert hybrid.predict(x)[0] != hybrid.predict(xp)[0]

def test_rule_checks_other_than_all_or_none_are_refused_for_a_hybrid(hybrid):
    with pytest.raises(ValueError, match="'all' or 'none'"):
        verify(hybrid, checks=["gap"])


# -- review of the network verification (session 14) ---------------------------------------------------
def _small_hybrid(X, y, **kw):
    from sklearn.tree import DecisionTreeClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HybridClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0),
                                rules=DistilledRuleClassifier(max_rules=2, n_synthetic=100),
                                student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                                n_synthetic=200, random_state=0, **kw).fit(X, y)


def test_the_search_for_a_violation_keeps_to_the_domain():
    """Pairs whose varied input left the Domain (here x0 + x1 <= 10) were reported as counterexamples."""
    import numpy as np
    import pandas as pd

    from rulekd import Domain
    from rulekd.verify import Monotone

    rng = np.random.default_rng(0)
    x0 = rng.uniform(0, 10, 400)
    X = pd.DataFrame({"x0": x0, "x1": rng.uniform(0, 10, 400) * (10 - x0) / 10})
    y = ((X.x0 > 3) & (X.x0 < 6)).astype(int)
    dom = Domain.from_data(X).with_constraint({"x0": 1.0, "x1": 1.0}, "<=", 10.0)
    h = _small_hybrid(X, y, domain=dom, transparency=0.05)
    found = h._search_violation(Monotone("x0", "decreasing", toward=1))
    assert found is not None  # the hybrid answers 1 only in the middle of x0
    for key in ("x", "x_prime"):
        assert dom.contains(pd.DataFrame([found[key]]))[0]


def test_verify_hybrid_reads_an_array_hybrid_by_its_own_column_order_and_refuses_inputs_it_refuses():
    """A Domain listing an array hybrid's features in another order fed predict swapped columns (a false
    'violated'); a domain= with levels or missing values the hybrid refuses crashed in predict."""
    import numpy as np

    from rulekd import Domain
    from rulekd.exceptions import DomainError
    from rulekd.hybrid import verify_hybrid
    from rulekd.verify import Monotone

    from sklearn.tree import DecisionTreeClassifier

    from rulekd.verify._encode import frame_from_rows

    rng = np.random.default_rng(0)
    A = np.column_stack([rng.uniform(0, 10, 300), rng.uniform(0, 10, 300), rng.integers(0, 5, 300).astype(float)])
    y = ((A[:, 0] + 0.3 * A[:, 1] > 6) ^ (A[:, 2] == 2)).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = HybridClassifier(teacher=DecisionTreeClassifier(max_depth=4, random_state=0),
                             rules=DistilledRuleClassifier(max_rules=4, n_synthetic=100),
                             student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                             n_synthetic=200, random_state=0).fit(A, y)
    reversed_domain = Domain(tuple(reversed(h.domain_.features)))
    props = ["if x0 > 6 and x2 >= 3 then 1", Monotone("x0", "increasing", toward=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = verify_hybrid(h, props, checks="none").findings
        other = verify_hybrid(h, props, domain=reversed_domain, checks="none").findings
    assert [f.status for f in other] == [f.status for f in own]
    # the reported pair really breaks the property for the hybrid, read in its own column order
    monotone = other[1]
    assert monotone.status == "violated"
    names = list(h.domain_.names)
    pair = [frame_from_rows([monotone.counterexample[k]], h.domain_) for k in ("x", "x_prime")]
    assert not props[1].holds(lambda F: h.predict(F[names].to_numpy()), *pair).all()
    with pytest.raises(DomainError, match="missing values that the hybrid refuses at predict"):
        verify_hybrid(h, ["if x0 is missing then 1"], domain=h.domain_.update("x0", allow_missing=True))


def test_the_search_for_a_violation_tries_missing_values_the_domain_allows():
    """The fit-time (and verify fallback) search drew no missing value: a guard broken only there passed
    fit with a warning, and predict broke it."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    X.loc[:20, "a"] = np.nan
    h = _small_hybrid(X, (X.b > 0).astype(int), transparency=0.5)

    class BrokenWhereMissing:  # a guard that only inputs with `a` missing break
        def sample_pairs(self, S, domain, random_state=None):
            return S, None

        def holds(self, predict, X1):
            return ~X1["a"].isna().to_numpy()

    found = h._search_violation(BrokenWhereMissing())
    assert found is not None and found["a"] is None


def test_an_invariant_over_a_declared_one_hot_group_averages_over_its_legal_values():
    """It averaged the student over every 0/1 combination of the columns (55 % of the weight on
    combinations that break the group) and refused groups of 9 columns (512 combinations)."""
    import numpy as np
    import pandas as pd

    from rulekd import Domain
    from rulekd.hybrid import verify_hybrid
    from rulekd.verify import Invariant

    rng = np.random.default_rng(0)
    k = 9
    hot = rng.integers(0, k, 300)
    X = pd.DataFrame({"a": rng.normal(size=300), **{f"o{i}": (hot == i).astype(float) for i in range(k)}})
    y = ((X.a > 0) ^ (hot < 3)).astype(int)
    group = tuple(f"o{i}" for i in range(k))
    dom = Domain.from_data(X).with_onehot_group(group)
    h = _small_hybrid(X, y, domain=dom, guards=[Invariant(group)], transparency=0.5)
    assert len(h.guard_combos_) == k
    assert all(sum(v.values()) == 1.0 for v, _ in h.guard_combos_)
    assert sum(w for _, w in h.guard_combos_) == pytest.approx(1.0)
    assert verify_hybrid(h, h.guards_, checks="none").findings[0].status == "proved"
    moved = X.assign(**{g: 0.0 for g in group}).assign(o0=1.0)
    np.testing.assert_array_equal(h.predict(moved), h.predict(X.assign(**{g: 0.0 for g in group}).assign(o8=1.0)))


def test_a_narrower_domain_is_searched_for_violations_too():
    """Regression: with domain= other than the hybrid's own, a property Z3's witness did not settle was left
    'unknown' without the random search its message claimed (brute force over the narrower Domain refuted it)."""
    import dataclasses
    import itertools
    import warnings

    from xgboost import XGBClassifier

    from rulekd import DistilledMLPClassifier, Domain, FeatureSpec, HybridClassifier
    from rulekd.hybrid import verify_hybrid

    rng = np.random.default_rng(0)
    dom = Domain((FeatureSpec("a", "integer", 0, 6), FeatureSpec("b", "integer", 0, 3), FeatureSpec("c", "binary", 0, 1)))
    X = pd.DataFrame({"a": rng.integers(0, 7, 300), "b": rng.integers(0, 4, 300), "c": rng.integers(0, 2, 300)}).astype(float)
    y = ((0.8 * X.a - X.b + 1.5 * X.c + rng.normal(0, 1, 300)) > 1.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = HybridClassifier(teacher=XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1),
                             student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                             transparency=0.3, n_synthetic=1000, domain=dom, random_state=0).fit(X, y)
    narrow = dataclasses.replace(dom, features=(dom["a"], FeatureSpec("b", "integer", 0, 2), dom["c"]))
    grid = pd.DataFrame(list(itertools.product(range(7), range(3), range(2))), columns=["a", "b", "c"]).astype(float)
    pred = h.predict(grid)
    for text in ("invariant a", "monotone a decreasing toward 1"):
        (f,) = verify_hybrid(h, [text], domain=narrow, checks="none").findings
        assert f.status == "violated", (text, f.message)
        rows = pd.DataFrame([f.counterexample["x"], f.counterexample["x_prime"]]
                            if "x" in f.counterexample else [f.counterexample])
        assert narrow.contains(rows.astype(float)).all()
    assert len(set(pred)) == 2  # the grid the Domain allows does hold both answers


def test_a_domain_random_inputs_cannot_meet_leaves_the_property_unknown_and_says_why():
    """Regression (session 15): the search over a domain= with an equality constraint (shares p + q == 1,
    which Domain.sample cannot draw) raised DomainError where the verdict had been 'unknown'."""
    import warnings

    from xgboost import XGBClassifier

    from rulekd import DistilledMLPClassifier, HybridClassifier
    from rulekd.hybrid import verify_hybrid

    rng = np.random.default_rng(0)
    p = rng.random(300)
    X = pd.DataFrame({"p": p, "q": 1 - p, "r": rng.random(300)})
    y = ((X.p + 0.3 * X.r + rng.normal(0, 0.2, 300)) > 0.6).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = HybridClassifier(teacher=XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1),
                             student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                             transparency=0.3, n_synthetic=1000, random_state=0).fit(X, y)
    shares = h.domain_.with_constraint({"p": 1.0, "q": 1.0}, "==", 1.0)
    statuses = []
    for text in ("invariant r", "monotone r increasing toward 1", "monotone p increasing toward 1"):
        (f,) = verify_hybrid(h, [text], domain=shares, checks="none").findings
        statuses.append(f.status)
        if f.status == "unknown":
            assert "the Domain's constraints leave random inputs no room" in f.message
    assert "unknown" in statuses
