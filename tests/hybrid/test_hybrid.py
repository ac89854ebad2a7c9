"""HybridClassifier: routing, transparency, guards proved on the whole composition."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.frozen import FrozenEstimator
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted
from xgboost import XGBClassifier

from rulekd import DistilledMLPClassifier, DistilledRuleClassifier
from rulekd.datasets import load_german_credit
from rulekd.hybrid import GuardConflictError, GuardConflictWarning, HybridClassifier, verify_hybrid
from rulekd.verify import Implies, Invariant, Monotone


def _fast(**kw):
    params = dict(
        teacher=XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1, enable_categorical=True),
        rules=DistilledRuleClassifier(max_rules=6, n_synthetic=200),
        student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=15),
        n_synthetic=400,
        random_state=0,
    )
    params.update(kw)
    return HybridClassifier(**params)


@pytest.fixture(scope="module")
def german():
    d = load_german_credit()
    return train_test_split(d.data, d.target, test_size=0.3, random_state=0, stratify=d.target)


@pytest.fixture(scope="module")
def fitted(german):
    Xtr, _, ytr, _ = german
    return _fast(transparency=0.5).fit(Xtr, ytr)


GUARDS = (
    Monotone("duration", "increasing", toward=1),
    Invariant("status_sex"),
    Implies("credit_amount > 15000", then=1),
)


@pytest.fixture(scope="module")
def guarded(german):
    Xtr, _, ytr, _ = german
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)
        return _fast(transparency=0.6, guards=GUARDS).fit(Xtr, ytr)


def test_transparency_on_held_out_data_is_near_the_target(fitted, german):
    _, Xte, _, yte = german
    share = np.mean(fitted.decided_by(Xte) != "student")
    # Rules are chosen on the training rows' coverage; new rows differ by sampling only.
    assert abs(share - 0.5) <= 0.12, share
    assert abs(fitted.transparency_ - 0.5) <= 0.12


def test_decided_by_names_the_rule_whose_class_is_predicted(fitted, german):
    _, Xte, _, _ = german
    by = fitted.decided_by(Xte)
    pred = fitted.predict(Xte)
    ids = {fitted.rules_.rule_id(i): r for i, r in enumerate(fitted.rules_.rules)}
    assert set(by) <= set(ids) | {"student"}
    rule_rows = by != "student"
    assert rule_rows.any() and (~rule_rows).any()
    for i in np.flatnonzero(rule_rows):
        assert pred[i] == ids[by[i]].prediction
    # The named rule is the first one that matches the row.
    first = fitted.rules_.decided_by(Xte)
    assert list(first[rule_rows]) == list(by[rule_rows])
    # Student rows are answered by the student.
    stu = fitted.student_.predict(Xte[~rule_rows])
    assert np.array_equal(stu, pred[~rule_rows])


def test_predict_proba_agrees_with_predict(fitted, german):
    _, Xte, _, _ = german
    P = fitted.predict_proba(Xte)
    assert P.shape == (len(Xte), 2)
    assert np.allclose(P.sum(axis=1), 1.0)
    assert np.array_equal(fitted.classes_[P.argmax(axis=1)], fitted.predict(Xte))


class _StepTeacher(ClassifierMixin, BaseEstimator):
    """P(class 1) is 0.9 where x0 > 0.5, else 0.2: a teacher whose probabilities are not its labels' shares."""

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p1 = np.where(np.asarray(X, dtype=float)[:, 0] > 0.5, 0.9, 0.2)
        return np.column_stack([1 - p1, p1])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


def test_rule_probabilities_are_the_teachers_over_the_rows_each_rule_answers():
    """Regression: a chosen rule's proba was the share of the teacher's labels over the rows its candidate
    covered (1.0 here); it is the teacher's mean probability over the rows it answers in the list."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x0": rng.uniform(0, 1, 400), "x1": rng.uniform(0, 1, 400)})
    y = (X["x0"] > 0.5).astype(int).to_numpy()
    teacher = FrozenEstimator(_StepTeacher().fit(X, y))
    h = _fast(teacher=teacher, transparency=1.0).fit(X, y)
    assert h.transparency_ == 1.0 and len(h.rules_) >= 2
    expected = {0: (0.8, 0.2), 1: (0.1, 0.9)}
    for r in h.rules_.rules:
        np.testing.assert_allclose(r.proba, expected[r.prediction], atol=1e-12)
    P = h.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], np.where(h.predict(X) == 1, 0.9, 0.2), atol=1e-12)


def test_transparency_curve_traces_the_rule_order(fitted, german):
    _, Xte, _, yte = german
    curve = fitted.transparency_curve(Xte, yte)
    assert list(curve.columns) == ["n_rules", "transparency", "accuracy", "rule_accuracy", "student_accuracy"]
    assert curve["transparency"].iloc[0] == 0.0
    assert (np.diff(curve["transparency"]) >= 0).all()
    assert len(curve) == len(fitted.rule_path_) + 1
    # The row of the fitted prefix is the hybrid's own accuracy.
    row = curve.loc[curve["n_rules"] == len(fitted.rules_)].iloc[0]
    assert row["accuracy"] == pytest.approx(np.mean(fitted.predict(Xte) == yte))


def test_automatic_transparency_does_not_lose_validation_accuracy(german):
    Xtr, _, ytr, _ = german
    h = _fast(transparency=None).fit(Xtr, ytr)
    s = h.validation_scores_
    assert s["hybrid_accuracy"] >= s["student_accuracy"] - 1e-9


def test_rows_an_implies_guard_answers_do_not_count_toward_transparency(german):
    """The target is a share of all rows answered by rules, as transparency_ and decided_by count it."""
    Xtr, _, ytr, _ = german
    guard = Implies("duration > 24", then=1)  # about a quarter of the rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)
        h = _fast(transparency=0.5, guards=[guard]).fit(Xtr, ytr)
    by = h.decided_by(Xtr)
    by_guard = np.char.startswith(by.astype(str), "guard:")
    assert 0.15 < by_guard.mean() < 0.35
    by_rule = (by != "student") & ~by_guard
    # Counting the guard's rows too, rules answering a quarter would have met the target.
    assert by_rule.mean() >= 0.5 - 0.05, by_rule.mean()
    assert abs(h.transparency_ - 0.5) <= 0.12


def test_a_student_that_takes_no_teacher_is_refused_before_anything_is_fitted(monkeypatch):
    """student=LogisticRegression() failed after the teacher and the candidates were fitted, in scikit-learn's
    words ("Invalid parameter 'teacher'")."""
    from sklearn.linear_model import LogisticRegression
    from rulekd.hybrid import _hybrid

    monkeypatch.setattr(_hybrid, "fit_teacher", lambda *a, **k: pytest.fail("the teacher was fitted"))
    X = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 7})
    y = (X["a"] > 20).astype(int)
    with pytest.raises(ValueError, match=r"student must be a student distilled from the hybrid's teacher.*got "
                                         r"LogisticRegression"):
        _fast(student=LogisticRegression()).fit(X, y)


def test_a_teacher_that_knows_more_classes_is_said_once_not_by_each_inner_student():
    """Five warnings (the rule student, two trees, the student, the focused student), now one, at the caller's line."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y3 = np.where(X.a > 0.5, 2, np.where(X.a > -0.5, 1, 0))
    teacher = FrozenEstimator(LogisticRegression().fit(X, y3))
    keep = y3 < 2
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        hyb = _fast(teacher=teacher, n_synthetic=100).fit(X[keep], y3[keep])
        hyb.retarget(0.8)  # the focused student is fitted again: still nothing more
    said = [w for w in got if "also knows the classes [2]" in str(w.message)]
    assert len(said) == 1 and said[0].filename == __file__
    assert list(hyb.classes_) == [0, 1]


def test_weight_zero_rows_are_split_so_that_both_parts_keep_weight():
    """Four rows of weight 1 among 300: the split stratifies on weight 0 or not as well as the class, and
    where a part would still be left without weight (the validation part: a ZeroDivisionError in the choice;
    the training part in one class: a false 'sample_weight is 0 on every row of class 0'), every row serves
    both, as for tiny data."""
    rs = np.random.RandomState(0)
    X = pd.DataFrame(rs.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X.a + X.b > 0).astype(int).to_numpy()
    hyb = _fast(n_synthetic=100)
    for n_weighted in (2, 12):
        w = np.zeros(len(y))
        for k in (0, 1):
            w[np.flatnonzero(y == k)[:n_weighted]] = 1.0
        for seed in range(6):
            tr, va = hyb._split(y, seed, w)
            assert w[va].sum() > 0 and (np.bincount(y[tr], weights=w[tr], minlength=2) > 0).all()
            if n_weighted == 12:  # enough weighted rows: a real split, weighted rows on both sides
                assert len(va) < len(y) and w[va].sum() >= 2
        assert np.array_equal(hyb._split(y, 0, np.ones(len(y)))[1], hyb._split(y, 0)[1])  # weights > 0: as before
    few = np.zeros(len(y))
    few[[*np.flatnonzero(y == 0)[:2], *np.flatnonzero(y == 1)[:2]]] = 1.0
    fitted = _fast(n_synthetic=100, random_state=2).fit(X, y, sample_weight=few)  # a ZeroDivisionError before
    assert fitted.validation_scores_["n_validation"] == len(y)


def test_rule_precision_and_rule_accuracy_weigh_the_validation_rows(german):
    Xtr, _, ytr, _ = german
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(ytr))
    h = _fast(transparency=0.6).fit(Xtr, ytr, sample_weight=w)
    d = h._choice_
    Xva, y_va, w_va = d["Xva"], d["y_va"], d["w_va"]
    assert not np.all(w_va == 1.0)
    pred = h.predict(Xva)
    right = pred == h.classes_[y_va]
    by = h.decided_by(Xva)
    for rid, prec in h.rule_precision_.items():
        sel = by == rid
        if sel.any():
            assert prec == pytest.approx(np.average(right[sel], weights=w_va[sel]))
    rule_rows = by != "student"
    assert h.validation_scores_["rule_accuracy"] == pytest.approx(
        np.average(right[rule_rows], weights=w_va[rule_rows]))


def test_default_rule_student_draws_synthetic_rows_with_the_hybrids_strategy(german, monkeypatch):
    from rulekd.students import _rules

    seen = []
    fit = _rules.DistilledRuleClassifier.fit

    def spy(self, *args, **kw):
        seen.append(self.strategy)
        return fit(self, *args, **kw)

    monkeypatch.setattr(_rules.DistilledRuleClassifier, "fit", spy)
    Xtr, _, ytr, _ = german
    _fast(rules=None, strategy="marginal", transparency=0.5).fit(Xtr, ytr)
    assert seen == ["marginal"]


def test_a_given_rule_student_on_auto_gets_the_hybrids_transfer_set_size(german, monkeypatch):
    # The CLI's --max-rules passes DistilledRuleClassifier(max_rules=N): its "auto" took the rule
    # student's own 40,000-row floor while --n-synthetic sized everything else.
    from rulekd.students import _rules

    seen = []
    fit = _rules.DistilledRuleClassifier.fit

    def spy(self, *args, **kw):
        seen.append(self.n_synthetic)
        return fit(self, *args, **kw)

    monkeypatch.setattr(_rules.DistilledRuleClassifier, "fit", spy)
    Xtr, _, ytr, _ = german
    _fast(rules=DistilledRuleClassifier(max_rules=4), n_synthetic=300, transparency=0.5).fit(Xtr, ytr)
    _fast(rules=DistilledRuleClassifier(max_rules=4, n_synthetic=250), n_synthetic=300, transparency=0.5).fit(Xtr, ytr)
    assert seen == [300, 250]


def test_guards_hold_on_random_domain_inputs(guarded):
    S = guarded.domain_.sample(10_000, random_state=1)
    for g in GUARDS:
        X1, X2 = g.sample_pairs(S, guarded.domain_, random_state=2)
        ok = g.holds(guarded.predict, X1) if X2 is None else g.holds(guarded.predict, X1, X2)
        assert ok.all(), (str(g), int((~ok).sum()))


def test_guards_are_proved_on_the_composition(guarded):
    report = verify_hybrid(guarded, GUARDS)
    props = [f for f in report.findings if f.check == "property"]
    assert [f.status for f in props] == ["proved"] * 3, [f.message for f in props]
    assert len(guarded.rules_) > 0  # the proof covers rules, not only the student


def test_guard_rows_are_named_and_forced(guarded):
    X = guarded.domain_.sample(200, random_state=3)
    X["credit_amount"] = 16000.0
    assert (guarded.decided_by(X) == "guard:2").all()
    assert (guarded.predict(X) == 1).all()


def test_rules_that_contradict_a_guard_are_set_aside_with_the_reason(german):
    Xtr, _, ytr, _ = german
    with pytest.warns(GuardConflictWarning, match="contradict a guard"):
        h = _fast(guards=[Implies("duration > 30", then=1)]).fit(Xtr, ytr)
    assert h.guard_conflicts_
    first = h.guard_conflicts_[0]
    assert set(first) == {"rule", "guard", "reason"}
    assert "duration" in first["reason"]  # the overlapping input is named
    # No kept rule answers 0 on an input the guard sends to 1: the proof decides it for all inputs.
    report = verify_hybrid(h, h.guards_)
    assert report.findings[-1].status == "proved"


def test_guards_that_cannot_hold_together_are_reported_at_fit(german):
    Xtr, _, ytr, _ = german
    guards = [Monotone("duration", "increasing", toward=1), Implies("duration > 40", then=0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)
        h = _fast(guards=guards)
        with pytest.raises(GuardConflictError, match="Counterexample"):
            h.fit(Xtr, ytr)
    # Caught, the error leaves no model that answers against a guard.
    with pytest.raises(NotFittedError):
        check_is_fitted(h)
    with pytest.raises(NotFittedError):
        h.predict(Xtr)


def test_a_retarget_that_fails_leaves_the_fitted_model_as_it_was(german, monkeypatch):
    """A guard conflict at the new level (or an interrupted student fit) left the model unfitted, and the
    caller lost a model that was fine at its old level."""
    Xtr, Xte, ytr, _ = german
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)
        h = _fast(guards=[Invariant("status_sex")], transparency=0.25).fit(Xtr.iloc[:300], ytr.iloc[:300])
    pred, rules, report = h.predict(Xte), h.rules_, h.guard_report_

    def conflict():
        raise GuardConflictError("Counterexample: made up for the test")

    monkeypatch.setattr(h, "_prove_guards", conflict)
    with pytest.raises(GuardConflictError):
        h.retarget(0.75)
    assert h.transparency == 0.25 and h.rules_ is rules and h.guard_report_ is report
    np.testing.assert_array_equal(h.predict(Xte), pred)
    monkeypatch.undo()
    assert h.retarget(0.75).transparency == 0.75 and len(h.rules_) >= len(rules)


def test_a_refit_without_guards_keeps_no_guard_report(german):
    Xtr, _, ytr, _ = german
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)  # candidate rules set aside for the guard
        h = _fast(guards=[Invariant("status_sex")]).fit(Xtr.iloc[:300], ytr.iloc[:300])
    assert h.guard_report_.ok
    h.set_params(guards=()).fit(Xtr.iloc[:300], ytr.iloc[:300])
    assert h.guards_ == () and not hasattr(h, "guard_report_")


def test_monotone_and_invariant_on_the_same_feature_are_refused(german):
    Xtr, _, ytr, _ = german
    with pytest.raises(ValueError, match="monotone in 'duration'"):
        _fast(guards=[Monotone("duration", toward=1), Invariant("duration")]).fit(Xtr, ytr)
    # A refit refused this way left the old rules answering under the new guards_, which they break.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardConflictWarning)
        h = _fast(guards=[Monotone("duration", toward=1)]).fit(Xtr.iloc[:300], ytr.iloc[:300])
    with pytest.raises(ValueError, match="monotone in 'duration'"):
        h.set_params(guards=[Monotone("duration", toward=1), Invariant("duration")]).fit(Xtr.iloc[:300],
                                                                                          ytr.iloc[:300])
    with pytest.raises(NotFittedError):
        h.predict(Xtr)
    assert not hasattr(h, "guards_") and not hasattr(h, "rules_")


@pytest.mark.parametrize("params, match", [
    (dict(transparency=1.5), "transparency"),
    (dict(transparency=True), "transparency must be a number"),  # read as 1.0 before
    (dict(min_rule_precision=-0.1), "min_rule_precision"),
    (dict(guards=["monotone no_such_feature increasing toward 1"]), "no_such_feature"),
    (dict(guards=[Implies("duration > 10", then="maybe")]), "maybe"),
])
def test_bad_parameters_are_rejected_at_fit(german, params, match):
    Xtr, _, ytr, _ = german
    with pytest.raises(ValueError, match=match):
        _fast(**params).fit(Xtr.iloc[:100], ytr[:100])


def test_same_random_state_gives_the_same_model(german):
    Xtr, Xte, ytr, _ = german
    a = _fast(transparency=0.4).fit(Xtr, ytr)
    b = _fast(transparency=0.4).fit(Xtr, ytr)
    assert a.rules_.to_json() == b.rules_.to_json()
    assert np.array_equal(a.predict_proba(Xte), b.predict_proba(Xte))


def test_min_rule_precision_keeps_only_precise_rules(german):
    Xtr, _, ytr, _ = german
    loose = _fast(transparency=0.9).fit(Xtr, ytr)
    strict = _fast(transparency=0.9, min_rule_precision=0.9).fit(Xtr, ytr)
    assert strict.transparency_ <= loose.transparency_
    conf = [r.confidence for r in strict.rules_.rules]
    assert all(c >= 0.8 for c in conf), conf


# The scikit-learn checks of every estimator run in tests/test_conformance.py.


@pytest.mark.parametrize("focus", [False, True])
def test_retarget_chooses_again_without_refitting(german, focus):
    """retarget gives the model a fresh fit at that transparency gives; only a focused student
    is trained again (for the new rules), the teacher and the base student never."""
    Xtr, Xte, ytr, _ = german
    h = _fast(transparency=0.3, focus_student=focus).fit(Xtr, ytr)
    teacher = h.teacher_
    base = h.base_student_ if focus else h.student_
    low = h.transparency_
    h.retarget(0.8)
    assert h.teacher_ is teacher
    assert (h.base_student_ if focus else h.student_) is base
    assert h.transparency_ > low
    fresh = _fast(transparency=0.8, focus_student=focus).fit(Xtr, ytr)
    assert h.rules_.to_json() == fresh.rules_.to_json()
    assert np.array_equal(h.predict(Xte), fresh.predict(Xte))
    if focus:
        assert h.focus_rules_.to_json() == h.rules_.to_json()
        np.testing.assert_array_equal(h.student_.predict_proba(Xte), fresh.student_.predict_proba(Xte))
        focused = h.student_
        h.retarget(0.8)  # the same rules: nothing is trained again
        assert h.student_ is focused
    with pytest.raises(ValueError, match="transparency"):
        h.retarget(2.0)


def test_focused_student_learns_only_the_rows_the_rules_leave(german):
    """focus_student: a second student trained with the rows the rules answer weighted down; inside
    those rules the student trained on every row answers when a shorter list leaves rows to it."""
    Xtr, Xte, ytr, yte = german
    h = _fast(transparency=0.5).fit(Xtr, ytr)
    plain = _fast(transparency=0.5, focus_student=False).fit(Xtr, ytr)
    assert h.rules_.to_json() == plain.rules_.to_json()  # the choice is made before focusing
    assert not hasattr(plain, "base_student_") and not hasattr(plain, "focus_rules_")
    assert h.focus_rules_.to_json() == h.rules_.to_json()
    assert h.base_student_ is not h.student_
    assert np.array_equal(h.base_student_.predict_proba(Xte), plain.student_.predict_proba(Xte))
    outside = h.focus_rules_.decide(h._input(Xte)) < 0
    assert outside.any() and (~outside).any()
    # Outside the rules the focused student answers, inside them the base student.
    p = h._student_proba_raw(h._input(Xte))
    np.testing.assert_array_equal(p[outside], h.student_.predict_proba(Xte[outside]))
    np.testing.assert_array_equal(p[~outside], h.base_student_.predict_proba(Xte[~outside]))
    assert not np.array_equal(h.student_.predict_proba(Xte), h.base_student_.predict_proba(Xte))
    # A shorter prefix (the curve) leaves rows inside the focus rules to the base student.
    pair = np.where(outside, h.classes_[np.argmax(h.student_.predict_proba(Xte), axis=1)],
                    h.classes_[np.argmax(h.base_student_.predict_proba(Xte), axis=1)])
    curve = h.transparency_curve(Xte, yte)  # its first point: no rule, the pair of students answers
    assert curve["transparency"].iloc[0] == 0.0
    assert curve["accuracy"].iloc[0] == pytest.approx(np.mean(pair == yte))
    student_rows = np.asarray(h.decided_by(Xte) == "student")
    np.testing.assert_array_equal(h.predict(Xte)[student_rows], pair[student_rows])
    # retarget focuses a new student on the new rules; the base student stays.
    base = h.base_student_
    h.retarget(0.05)
    assert h.transparency_ < 0.5
    assert h.focus_rules_.to_json() == h.rules_.to_json() and h.base_student_ is base
    h.set_params(focus_student=False).fit(Xtr, ytr)  # a later fit without focus leaves no stale partner
    assert not hasattr(h, "base_student_") and not hasattr(h, "focus_rules_")


def test_focus_weights_reach_the_student(german, monkeypatch):
    """The transfer rows a chosen rule answers are weighted down in the focused student's losses."""
    from rulekd.hybrid._hybrid import _FOCUS_WEIGHT
    from rulekd.students import _mlp

    sets = []
    transfer = _mlp.DistilledMLPClassifier._transfer

    def spy(self, *args):
        out = transfer(self, *args)
        sets.append(out[2])  # the transfer set; fit multiplies the focus factors into its weights
        return out

    monkeypatch.setattr(_mlp.DistilledMLPClassifier, "_transfer", spy)
    Xtr, _, ytr, _ = german
    h = _fast(transparency=0.5).fit(Xtr, ytr)
    base, focused = sets[-2], sets[-1]
    assert (base.weights == 1.0).all()
    covered = h.focus_rules_.decide(focused.X) >= 0
    assert 0.2 < covered.mean() < 0.9  # about the share the rules answer
    np.testing.assert_array_equal(focused.weights, np.where(covered, _FOCUS_WEIGHT, 1.0))


def test_save_and_load_give_the_same_answers_and_proofs(guarded, german, tmp_path):
    from rulekd import load, save

    _, Xte, _, _ = german
    save(guarded, tmp_path / "hybrid")
    back = load(tmp_path / "hybrid")
    assert np.array_equal(back.predict_proba(Xte), guarded.predict_proba(Xte))
    assert list(back.decided_by(Xte)) == list(guarded.decided_by(Xte))
    # The focused student's partner and its rules come back too (they answer for shorter rule lists).
    assert back.focus_rules_.to_json() == guarded.focus_rules_.to_json()
    np.testing.assert_array_equal(back.base_student_.predict_proba(Xte), guarded.base_student_.predict_proba(Xte))
    np.testing.assert_array_equal(back.transparency_curve(Xte, guarded.predict(Xte)).to_numpy(),
                                  guarded.transparency_curve(Xte, guarded.predict(Xte)).to_numpy())
    assert [g.text() for g in back.guards_] == [g.text() for g in guarded.guards_]
    report = verify_hybrid(back, back.guards_)
    assert all(f.status == "proved" for f in report.findings if f.check == "property")
    with pytest.raises(ValueError, match="refit"):
        back.retarget(0.5)  # the validation state of fit is not saved


def test_frame_with_integer_column_names_gets_rules_in_its_own_names(german):
    # pd.DataFrame(array) names its columns 0, 1, ...: the candidate students then see an array and
    # name the features x0, x1, ...; the hybrid's rules must use its own names ("0", "1", ...).
    Xtr, Xte, ytr, _ = german
    Xtr, Xte = (pd.DataFrame(X.select_dtypes("number").to_numpy()) for X in (Xtr, Xte))
    hyb = _fast(transparency=0.5).fit(Xtr, ytr)
    assert hyb.domain_.names == tuple(str(j) for j in range(Xtr.shape[1]))
    assert len(hyb.rules_) and {c.feature for r in hyb.rules_.rules for c in r.conditions} <= set(hyb.domain_.names)
    by = hyb.decided_by(Xte)
    assert (by != "student").any()
    ids = {hyb.rules_.rule_id(i): r.prediction for i, r in enumerate(hyb.rules_.rules)}
    pred = hyb.predict(Xte)
    assert all(pred[i] == ids[by[i]] for i in np.flatnonzero(by != "student"))


def test_refit_fits_teacher_and_student_again_on_every_row_and_keeps_the_choice(german):
    from sklearn.tree import DecisionTreeClassifier

    Xtr, Xte, ytr, _ = german
    Xtr, Xte = Xtr.select_dtypes("number"), Xte.select_dtypes("number")  # what a scikit-learn tree takes
    kw = dict(teacher=DecisionTreeClassifier(max_depth=4, random_state=0), transparency=0.5)
    once = _fast(**kw).fit(Xtr, ytr)  # refit=False is the default
    again = _fast(refit=True, **kw).fit(Xtr, ytr)
    n = len(Xtr)
    # The teacher that made the choice saw the training part (85 %); the refitted one every row.
    assert once.teacher_.estimator.tree_.n_node_samples[0] == n - round(0.15 * n)
    assert again.teacher_.estimator.tree_.n_node_samples[0] == n
    assert again.student_.teacher_ is again.teacher_  # the student learned from the refitted teacher
    assert again.student_.n_features_in_ == once.student_.n_features_in_
    # The choice of rules and its validation figures are those of the first models.
    assert again.rules_.to_text() == once.rules_.to_text()
    assert again.validation_scores_ == once.validation_scores_
    assert again.transparency_ == once.transparency_
    # The student answers differ somewhere (it learned from more rows), the rule rows never.
    by = again.decided_by(Xte)
    assert (by == once.decided_by(Xte)).all()
    rules = by != "student"
    assert (again.predict(Xte)[rules] == once.predict(Xte)[rules]).all()
    assert not np.allclose(again.student_.predict_proba(Xte), once.student_.predict_proba(Xte))


def test_invariant_values_of_a_numeric_feature_are_weighted_by_the_rows_near_them():
    """8 grid points over 50 distinct values; a value held by 70 % of the rows weighs about that much."""
    from rulekd.domain import Domain
    from rulekd.hybrid._guards import INVARIANT_GRID, _invariant_combinations

    rng = np.random.default_rng(0)
    x = np.where(rng.random(1000) < 0.7, 0.0, rng.choice(np.linspace(0.1, 6.2, 49), 1000))
    frame = pd.DataFrame({"oldpeak": x, "other": rng.random(1000)})
    combos = _invariant_combinations(["oldpeak"], Domain.from_data(frame), frame)
    values = np.array([c["oldpeak"] for c, _ in combos])
    weights = np.array([w for _, w in combos])
    assert len(combos) == INVARIANT_GRID and weights.sum() == pytest.approx(1.0)
    grid_mid = (values[1:] + values[:-1]) / 2
    counts = np.bincount(np.searchsorted(grid_mid, x), minlength=len(values)) + 1.0
    np.testing.assert_allclose(weights, counts / counts.sum())
    assert weights[values == 0.0][0] > 0.6


@pytest.mark.parametrize("transparency, expected", [(None, [1, 2]), (0.3, [0])])
def test_ties_between_rule_orders_go_to_more_transparency_or_to_fewer_rules(transparency, expected):
    """Automatic choice: equal gain, more rows answered by rules; a target: equal gain, fewer rules."""
    paths = [([0], [(0.0, 0.0), (0.3, 0.1)]),
             ([1, 2], [(0.0, 0.0), (0.2, 0.0), (0.35, 0.1)])]  # the same gain, a rule more
    order, cut = HybridClassifier(transparency=transparency)._pick(paths)
    assert order == expected
    assert cut == (2 if transparency is None else 1)


def test_a_numpy_array_gets_the_same_hybrid_as_its_dataframe():
    """Same candidates (the teacher's trees included: XGBoost names an array's features f0, f1, ...),
    same rules up to the column names, same answers."""
    from rulekd.datasets import load_breast_cancer

    d = load_breast_cancer()
    X, y = d.data.iloc[::2], d.target[::2]
    frame_fit = _fast(teacher=XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1), transparency=0.6).fit(X, y)
    array_fit = _fast(teacher=XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1), transparency=0.6).fit(
        X.to_numpy(), y)
    assert len(array_fit._choice_["rules"]) == len(frame_fit._choice_["rules"])
    rename = dict(zip(frame_fit.domain_.names, array_fit.domain_.names))
    for a, b in zip(array_fit.rules_.rules, frame_fit.rules_.rules):
        assert a.prediction == b.prediction
        assert sorted(str(c) for c in a.conditions) == sorted(
            str(dataclasses.replace(c, feature=rename[c.feature])) for c in b.conditions)
    np.testing.assert_array_equal(array_fit.predict(X.to_numpy()), frame_fit.predict(X))


def test_a_hybrids_rules_alone_leave_the_students_rows_unanswered(fitted, german):
    """Regression: a hybrid's rules_ (or its model directory's rules.json) printed 'else 0' and exported SQL
    and Python that answered the student's rows with that placeholder (42 of 300 rows wrong in SQLite), and
    verify proved properties of a default the hybrid never answers."""
    import sqlite3

    from rulekd.rules import to_python, to_sql, to_text
    from rulekd.verify import verify

    _, Xte, _, _ = german
    rs = fitted.rules_
    assert rs.default_is_student
    assert rs.to_text().splitlines()[-1] == "else: the neural student"
    assert to_text(rs).splitlines()[-1] == "else: the neural student"
    by = fitted.decided_by(Xte)
    on_rules = by != "student"
    assert 0 < on_rules.sum() < len(Xte)
    expected = [p if r else None for p, r in zip(fitted.predict(Xte).tolist(), on_rules)]

    namespace: dict = {}
    exec(compile(to_python(rs), "<export>", "exec"), namespace)
    rows = Xte.astype(object).where(Xte.notna(), None).to_dict("records")
    assert [namespace["predict"](r) for r in rows] == expected
    assert [namespace["decided_by"](r) for r in rows] == by.tolist()
    assert all(namespace["predict_proba"](r) is None for r, on in zip(rows, on_rules) if not on)

    con = sqlite3.connect(":memory:")
    Xte.astype(object).where(Xte.notna(), None).to_sql("data", con, index=False)
    got = [row[0] for row in con.execute(to_sql(rs, table="data", proba=True))]
    assert got == expected

    with pytest.raises(ValueError, match="hybrid's rules"):
        verify(rs, properties=["invariant status_sex"])
    report = verify(rs, checks="all")  # the structural checks run; redundant_rule and gap (by design) left out
    assert "redundant_rule" not in report.checks and "gap" not in report.checks and "dead" in report.checks
    gaps = verify(rs, checks=["gap"]).by_check("gap")  # asked for by name: the student answers there
    assert gaps and all("neural student" in f.message for f in gaps if f.status == "violated")


def test_rule_probabilities_sum_to_one_with_a_teacher_that_knows_more_classes():
    """Regression (this session's rule proba): a frozen teacher with a class y lacks gave rule proba summing
    to 0.71; the teacher's answers are renormalised over y's classes as the students do."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y3 = np.digitize(X["a"] + 0.3 * X["b"], [-0.5, 0.5])
    teacher = FrozenEstimator(LogisticRegression().fit(X, y3))
    y = (X["a"] > 0).astype(int).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = _fast(teacher=teacher, transparency=0.5).fit(X, y)
    for r in h.rules_.rules:
        assert sum(r.proba) == pytest.approx(1.0)
    np.testing.assert_allclose(h.predict_proba(X).sum(axis=1), 1.0)


def test_retarget_after_turning_focus_off_gives_the_unfocused_model(german):
    Xtr, Xte, ytr, _ = german
    h = _fast().fit(Xtr.iloc[:300], ytr.iloc[:300])
    assert hasattr(h, "base_student_")
    h.set_params(focus_student=False).retarget(0.3)
    fresh = _fast(focus_student=False, transparency=0.3).fit(Xtr.iloc[:300], ytr.iloc[:300])
    assert not hasattr(h, "base_student_") and not hasattr(h, "focus_rules_")
    assert h.rules_ == fresh.rules_
    np.testing.assert_array_equal(h.predict_proba(Xte), fresh.predict_proba(Xte))


def test_a_property_z3_cannot_refute_for_this_network_is_searched_for(fitted, monkeypatch):
    """Z3's witness depends on its time limits; when it is no violation for this network, Domain inputs are
    searched (the audit said "unknown" where rulekd.verify found the same violation)."""
    from rulekd.verify import Invariant
    from rulekd.verify._encode import frame_from_rows

    # Z3's witness (any network) taken for one this network does not confirm, whichever it is.
    monkeypatch.setattr(Invariant, "confirm", lambda self, *a, **k: False)
    report = verify_hybrid(fitted, ["invariant age"], checks="none")
    (f,) = report.findings
    assert f.status == "violated" and "found by sampling the Domain" in f.message
    x, x_prime = (frame_from_rows([f.counterexample[k]], fitted.domain_) for k in ("x", "x_prime"))
    assert fitted.domain_.contains(x).all() and fitted.domain_.contains(x_prime).all()
    assert [c for c in x.columns if not x[c].equals(x_prime[c])] == ["age"]
    assert fitted.predict(x)[0] != fitted.predict(x_prime)[0]



def test_the_search_stays_inside_the_domain_given(fitted):
    """verify_hybrid(domain=narrower): the search samples the Domain given, so what it finds lies inside it
    (it once sampled the hybrid's own Domain, whose inputs may lie outside, and was then skipped)."""
    from rulekd.verify._encode import frame_from_rows

    lo, hi = fitted.domain_["age"].lower, fitted.domain_["age"].upper
    narrow = fitted.domain_.update("age", lower=lo, upper=lo + 1)
    (f,) = verify_hybrid(fitted, ["invariant age"], domain=narrow, checks="none").findings
    assert f.status == "violated"
    for k in ("x", "x_prime"):
        row = frame_from_rows([f.counterexample[k]], narrow)
        assert narrow.contains(row).all() and lo <= row["age"].iloc[0] <= lo + 1


def test_the_guards_cost_per_row_is_counted_and_announced_when_large(german, monkeypatch):
    from rulekd import Domain
    from rulekd.hybrid import _hybrid
    from rulekd.hybrid._guards import Guarding

    Xtr, _, ytr, _ = german
    guards = (Monotone("duration", "increasing", toward=1), Monotone("age", "increasing", toward=1),
              Invariant("status_sex"))
    g = Guarding.fit(guards, Domain.from_data(Xtr), np.array([0, 1]), Xtr)
    seen = []

    def proba(frame):
        seen.append(len(frame))
        return np.tile([0.9, 0.1], (len(frame), 1))  # never class 1: every grid point is tried

    top = Xtr.iloc[[int(np.argmax(Xtr["duration"].to_numpy() + Xtr["age"].to_numpy() * 1000))]]
    top = top.assign(duration=Xtr["duration"].max(), age=Xtr["age"].max())  # above every grid point of both
    g.student_answer(proba, top)
    assert sum(seen) == g.evaluations_per_row == (1 + len(g.grids["duration"])) * (1 + len(g.grids["age"])) * len(
        g.combos)
    monkeypatch.setattr(_hybrid, "_GUARD_COST_WARNING", 2)  # one Monotone guard over a 2-value grid costs 3
    with pytest.warns(UserWarning, match=r"The guards cost up to \d+ student evaluations for each row"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GuardConflictWarning)
            _fast(guards=[Monotone("duration", toward=1)]).fit(Xtr.iloc[:200], ytr.iloc[:200])


def test_too_many_invariant_combinations_are_refused_with_both_ways_to_declare_groups(german):
    """The message named Domain.with_onehot_group only, an API word a command-line user cannot act on."""
    from rulekd import Domain
    from rulekd.hybrid._guards import MAX_COMBINATIONS, Guarding

    Xtr, _, _, _ = german
    guards = (Invariant("purpose"), Invariant("credit_history"), Invariant("savings"), Invariant("job"))
    sizes = [Xtr[g.feature].cat.categories.size for g in guards]
    assert int(np.prod(sizes)) > MAX_COMBINATIONS
    with pytest.raises(ValueError, match=r"Domain\.with_onehot_group; on the command line, \"onehot_groups\" in the "
                                         r"--domain file"):
        Guarding.fit(guards, Domain.from_data(Xtr), np.array([0, 1]), Xtr)


def test_the_default_student_reads_the_teachers_cuts_when_it_has_the_rows(german, monkeypatch):
    """student=None: a DistilledMLPClassifier given the teacher's 24 cuts of largest gain as step inputs
    (threshold_inputs=24) when its training part has at least _STEPS_MIN_ROWS rows, none below (the
    student alone has none by default). Its fit is cut short after encoding."""
    from rulekd.hybrid import _hybrid
    from rulekd.students._mlp import DistilledMLPClassifier

    X, _, y, _ = german
    seen = []

    class Stop(BaseException):  # not an Exception: nothing in fit may catch it
        pass

    def stop(self, X, *a, **k):
        seen.append((self.threshold_inputs, len(X), self.get_params()["teacher"]))
        raise Stop

    monkeypatch.setattr(DistilledMLPClassifier, "fit", stop)
    for min_rows in (_hybrid._STEPS_MIN_ROWS, 170, 171):
        monkeypatch.setattr(_hybrid, "_STEPS_MIN_ROWS", min_rows)
        hyb = HybridClassifier(transparency=0.5, n_synthetic=200, random_state=0)
        with pytest.raises(Stop):
            hyb.fit(X.iloc[:200], y.iloc[:200])
    assert DistilledMLPClassifier().threshold_inputs == 0
    # 200 rows, 30 of them for validation: the student learns from 170.
    assert [(t, n) for t, n, _ in seen] == [(0, 170), (24, 170), (0, 170)]
    assert all(teacher is not None for _, _, teacher in seen)  # the hybrid's teacher


def test_the_default_students_steps_from_a_teacher_without_cuts_say_nothing(monkeypatch):
    """The default student asks for steps unasked by the user: a teacher that lists no cuts gives it none
    without the warning a user who asked for threshold_inputs gets."""
    from sklearn.linear_model import LogisticRegression
    from rulekd.hybrid import _hybrid

    monkeypatch.setattr(_hybrid, "_STEPS_MIN_ROWS", 10)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0).astype(int)
    small = DistilledMLPClassifier(hidden_layer_sizes=(4,), max_epochs=2, n_synthetic=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hyb = HybridClassifier(teacher=LogisticRegression(), n_synthetic=100, random_state=0).fit(X, y)
    assert hyb.student_.threshold_inputs == 24 and not any(e["kind"] == "step" for e in hyb.student_.encoding_)
    with pytest.warns(UserWarning, match=r"threshold_inputs=3 asks for the teacher's cut points.*LogisticRegression"):
        HybridClassifier(teacher=LogisticRegression(), student=small.set_params(threshold_inputs=3), n_synthetic=100,
                         random_state=0).fit(X, y)
