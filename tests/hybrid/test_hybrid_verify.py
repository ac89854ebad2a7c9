"""``rulekd.verify.verify`` on a hybrid proves the guards on the whole composition."""

import warnings

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
