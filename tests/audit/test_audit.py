"""audit(): the facts of each section, checked against scikit-learn and by hand."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.tree import DecisionTreeClassifier

from rulekd import Condition, Domain, FeatureSpec, Rule, RuleSet
from rulekd.audit import SCHEMA_VERSION, SECTIONS, AuditReport, audit
from rulekd.audit._schema import validate


def _tiny():
    """12 rows, one feature; an ordered rule list with probabilities; a teacher that says what we choose."""
    x = np.arange(12) / 11.0
    X = pd.DataFrame({"x0": x})
    y = np.array([0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1, 0])
    t_labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0])
    teacher = DecisionTreeClassifier(random_state=0).fit(X, t_labels)  # distinct rows: reproduces t_labels
    rs = RuleSet(
        rules=(Rule((Condition("x0", ">", 0.75),), 1, proba=(0.1, 0.9), id="high"),
               Rule((Condition("x0", ">", 0.4),), 1, proba=(0.35, 0.65), id="mid")),
        classes=(0, 1), default=0, default_proba=(0.8, 0.2), ordered=True, feature_names=("x0",),
    )
    group = np.array(["A", "B"] * 6)
    return X, y, teacher, t_labels, rs, group


def test_metrics_match_sklearn_on_a_tiny_case():
    X, y, teacher, t_labels, rs, group = _tiny()
    rep = audit(rs, X, y, teacher=teacher, protected={"group": group}, verify=False)
    pred = rs.predict(X)
    proba = rs.predict_proba(X)
    perf = rep["performance"]["model"]
    assert perf["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert perf["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert perf["roc_auc"] == pytest.approx(roc_auc_score(y, proba[:, 1]))
    assert perf["brier"] == pytest.approx(brier_score_loss(y, proba[:, 1]))
    prob_true, prob_pred = calibration_curve(y, proba[:, 1], n_bins=10, strategy="uniform")
    bins = perf["reliability"]["bins"]
    assert [b["observed"] for b in bins] == pytest.approx(prob_true)
    assert [b["mean_predicted"] for b in bins] == pytest.approx(prob_pred)
    assert sum(b["count"] for b in bins) == len(y)

    fid = rep["fidelity"]
    assert fid["available"] and fid["source"] == "argument"
    assert fid["agreement"] == pytest.approx(accuracy_score(t_labels, pred))
    recall = recall_score(t_labels, pred, average=None, labels=[0, 1])
    precision = precision_score(t_labels, pred, average=None, labels=[0, 1])
    assert [c["where_teacher"] for c in fid["per_class"]] == pytest.approx(recall)
    assert [c["where_model"] for c in fid["per_class"]] == pytest.approx(precision)
    assert sum(map(sum, fid["confusion"])) == len(y)
    assert rep["performance"]["teacher"]["accuracy"] == pytest.approx(accuracy_score(y, t_labels))

    attr = rep["disaggregated"]["attributes"][0]
    m = attr["metrics"][0]
    assert m["positive_class"] == 1
    tpr = {g: recall_score(y[group == g], pred[group == g]) for g in ("A", "B")}
    fpr = {g: np.mean(pred[(group == g) & (y == 0)] == 1) for g in ("A", "B")}
    sel = {g: np.mean(pred[group == g] == 1) for g in ("A", "B")}
    rows = {r["group"]: r for r in m["groups"]}
    for g in ("A", "B"):
        assert rows[g]["tpr"] == pytest.approx(tpr[g])
        assert rows[g]["fpr"] == pytest.approx(fpr[g])
        assert rows[g]["selection_rate"] == pytest.approx(sel[g])
        assert rows[g]["small"]  # 6 rows < min_group_size
    assert m["gaps"]["tpr"]["gap"] == pytest.approx(abs(tpr["A"] - tpr["B"]))
    assert m["gaps"]["tpr"]["gap"] > 0  # the case is built so that the gap is not trivially zero
    assert m["gaps"]["selection_rate"]["gap"] == pytest.approx(abs(sel["A"] - sel["B"]))


def test_multiclass_roc_auc_and_brier_match_sklearn():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x0": rng.uniform(0, 1, 60)})
    rs = RuleSet(
        rules=(Rule((Condition("x0", "<", 0.3),), "a", proba=(0.7, 0.2, 0.1)),
               Rule((Condition("x0", ">", 0.7),), "c", proba=(0.1, 0.3, 0.6))),
        classes=("a", "b", "c"), default="b", default_proba=(0.25, 0.5, 0.25), ordered=False,
        feature_names=("x0",),
    )
    y = np.where(X.x0 < 0.35, "a", np.where(X.x0 > 0.65, "c", "b"))
    y[:6] = ["b", "c", "a", "b", "c", "a"]
    rep = audit(rs, X, y, verify=False)
    proba = rs.predict_proba(X)
    perf = rep["performance"]["model"]
    assert perf["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", labels=["a", "b", "c"]))
    assert perf["brier"] == pytest.approx(brier_score_loss(y, proba, labels=["a", "b", "c"]))
    assert perf["reliability"]["kind"] == "top-label"
    # Multiclass: the disaggregated section would be one-vs-rest per class.
    rep2 = audit(rs, X, y, protected={"g": np.array(["u", "v"] * 30)}, verify=False)
    assert rep2["disaggregated"]["positive_classes"] == ["a", "b", "c"]
    assert [m["positive_class"] for m in rep2["disaggregated"]["attributes"][0]["metrics"]] == ["a", "b", "c"]


def test_json_round_trips_with_schema_version_and_every_section(german_report):
    text = german_report.to_json()
    doc = json.loads(text)
    assert doc["format"] == "rulekd.audit"
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert list(doc["sections"]) == list(SECTIONS) == doc["section_order"]
    validate(doc)
    again = AuditReport.from_json(text)
    assert again.to_dict() == doc
    assert json.loads(again.to_json()) == doc


def test_schema_rejects_a_broken_document(german_report):
    doc = german_report.to_dict()
    doc["sections"]["verification"]["status"] = "fine"
    with pytest.raises(ValueError, match="verification/status"):
        AuditReport.from_dict(doc)
    doc = german_report.to_dict()
    doc["schema_version"] = 99
    with pytest.raises(ValueError, match="schema_version"):
        AuditReport.from_dict(doc)


def test_damaged_report_json_is_a_clean_value_error(german_report, monkeypatch):
    """Regression: from_json raised JSONDecodeError, RecursionError or 'File name too long' on damaged text,
    and read NaN; each is now a one-line ValueError naming the problem."""
    text = german_report.to_json()
    cases = {
        text[:-5]: "malformed",
        "  " + text.replace('"n_rows"', '"n_rows": NaN, "x"', 1): "non-standard constant NaN",
        "  [" + "1," * 3000 + "1]": "Not a rulekd audit report",  # JSON text, not a file name
        b"\xff" + text.encode(): "not valid UTF-8",
        text[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}": "nested too deeply",
        # json.loads reads this one; copying the free-form 'parameters' object goes past the recursion limit
        text.replace('"parameters": {', '"parameters": {"p": ' + "[" * 990 + "]" * 990 + ",", 1): "nested too deeply",
    }
    for bad, message in cases.items():
        assert bad != text
        with pytest.raises(ValueError, match=message) as info:
            AuditReport.from_json(bad)
        assert len(str(info.value)) < 300

    def too_deep(self, instance, _schema=None):  # the schema walk hitting the limit, as in test_json
        raise RecursionError("maximum recursion depth exceeded")
        yield

    import jsonschema

    monkeypatch.setattr(jsonschema.Draft202012Validator, "iter_errors", too_deep)
    with pytest.raises(ValueError, match="nested too deeply"):
        AuditReport.from_json(text)


def test_german_report_sections(german, german_report):
    s = german_report.sections
    model = german["model"]
    assert s["summary"]["model_kind"] == "rule_student"
    assert s["data"]["n_rows"] == 200 and s["data"]["n_features"] == 20
    assert sum(c["n"] for c in s["data"]["class_balance"]) == 200
    assert {f["name"] for f in s["data"]["features"]} == set(german["X"].columns)
    assert s["model"]["teacher"]["type"] == "XGBClassifier"
    assert s["model"]["components"][0]["size"]["rules"] == len(model.rules_)
    assert s["transparency"]["transparency"] == 1.0  # rules and default answer every row
    # Rules: support on the audited rows is what decided_by says.
    by = model.decided_by(german["X"])
    for r in s["rules"]["rules"]:
        assert r["support"] == int(np.sum(by == r["id"]))
    assert s["rules"]["default"]["support"] == int(np.sum(by == "default"))
    assert s["verification"]["ran"] and s["verification"]["properties"] == ["invariant status_sex"]
    # The data set's caveats (the code-table problem) reach the limitations.
    texts = " ".join(i["text"] for i in s["limitations"]["items"])
    assert "Grömping" in texts and "status_sex" in texts
    assert s["summary"]["headline"]["fidelity"] == s["fidelity"]["agreement"]


def test_gaps_of_a_rule_list_with_a_default_are_information_not_violations():
    dom = Domain((FeatureSpec("age", "integer", 18, 99), FeatureSpec("debt", "real", 0, 100)))
    rs = RuleSet(
        rules=(Rule((Condition("age", "<", 25.0), Condition("debt", ">", 50.0)), "bad"),
               Rule((Condition("debt", "<=", 10.0),), "good")),
        classes=("bad", "good"), default="good", ordered=True, feature_names=("age", "debt"),
    )
    X = pd.DataFrame({"age": [20, 30, 40, 22, 60, 19], "debt": [60.0, 30.0, 5.0, 70.0, 20.0, 80.0]})
    y = ["bad", "good", "good", "bad", "good", "good"]
    rep = audit(rs, X, y, domain=dom)
    v = rep["verification"]
    gaps = [f for f in v["findings"] if f["check"] == "gap"]
    assert gaps and all(f["status"] == "violated" for f in gaps)  # the verifier's own word
    assert all(f["severity"] == "information" for f in gaps)
    assert all("default" in f["note"] for f in gaps)
    assert v["verifier_status"] == "violated" and v["status"] == "proved"
    assert v["counts"]["information"] == len(gaps)
    html = rep.to_html()
    assert '<span class="badge information">information</span>' in html

    # A real violation stays a violation.
    rep2 = audit(rs, X, y, domain=dom, properties=["if age < 25 then bad"])
    prop = [f for f in rep2["verification"]["findings"] if f["check"] == "property"]
    assert prop[0]["severity"] == "violated" and prop[0]["counterexample"]
    assert rep2["verification"]["status"] == "violated"
    assert rep2["summary"]["verification_status"] == "violated"


def test_protected_attributes_categorical_and_numeric(german):
    X, y, model = german["X"], german["y"], german["model"]
    prot = german["protected"].copy()
    prot.loc[3, "sex"] = np.nan
    rep = audit(model, X, y, protected=prot, verify=False, min_group_size=20)
    sex, age = rep["disaggregated"]["attributes"]
    assert sex["grouping"]["binned"] is False
    assert [g["group"] for g in sex["metrics"][0]["groups"]] == ["female", "male", "missing"]
    assert age["grouping"]["binned"] is True
    cuts = age["grouping"]["cut_points"]
    expected = sorted(set(np.quantile(prot["age"], [0.25, 0.5, 0.75], method="lower").tolist()))
    assert cuts == expected and set(cuts) <= set(prot["age"].tolist())  # cut points are observed ages
    groups = age["metrics"][0]["groups"]
    assert [g["group"] for g in groups][0] == f"< {int(cuts[0])}" and groups[-1]["group"] == f">= {int(cuts[-1])}"
    assert sum(g["n"] for g in groups) == len(X)
    first = groups[0]
    assert first["n"] == int((prot["age"] < cuts[0]).sum())
    pred = model.predict(X)
    m = (prot["age"] < cuts[0]).to_numpy()
    assert first["selection_rate"] == pytest.approx(np.mean(pred[m] == 1))
    # Small groups are flagged and named in the limitations.
    assert sex["small_groups"] == ["missing"]
    assert any("'sex'" in i["text"] and "missing" in i["text"] for i in rep["limitations"]["items"])

    # User cut points; a protected column named in X; a few-valued number grouped by value.
    rep = audit(model, X, y, protected=["age", "people_liable"], protected_bins={"age": [25, 40, 60]}, verify=False)
    age, liable = rep["disaggregated"]["attributes"]
    assert [g["group"] for g in age["metrics"][0]["groups"]] == ["< 25", "[25, 40)", "[40, 60)", ">= 60"]
    assert age["metrics"][0]["groups"][1]["n"] == int(((X.age >= 25) & (X.age < 40)).sum())
    assert liable["grouping"]["binned"] is False
    assert [g["group"] for g in liable["metrics"][0]["groups"]] == [1, 2]

    with pytest.raises(ValueError, match="not a column of X"):
        audit(model, X, y, protected="sex", verify=False)
    with pytest.raises(ValueError, match="3 values"):
        audit(model, X, y, protected={"g": [1, 2, 3]}, verify=False)


def test_a_rule_set_without_a_teacher():
    X, y, _, _, rs, _ = _tiny()
    rep = audit(rs, X, y, verify=False)
    assert rep["fidelity"]["available"] is False
    assert "no teacher" in rep["fidelity"]["reason"]
    assert rep["model"]["teacher"] == {"present": False}
    assert rep["summary"]["headline"]["fidelity"] is None and rep["summary"]["teacher"] is None
    assert rep["performance"]["teacher"] is None
    assert any(i["kind"] == "teacher" for i in rep["limitations"]["items"])
    assert rep["verification"]["status"] == "not_run"
    html = rep.to_html()
    assert "Fidelity is not reported" in html


def test_a_neural_student_is_audited_and_its_network_verified_only_with_properties(german):
    pytest.importorskip("torch")
    from rulekd import DistilledMLPClassifier
    from rulekd.datasets import load_german_credit

    b = load_german_credit()
    net = DistilledMLPClassifier(teacher=_xgb(), hidden_layer_sizes=(8,), max_epochs=3, n_synthetic=200,
                                 random_state=0).fit(b.data.iloc[:300], b.target.iloc[:300])
    rep = audit(net, german["X"], german["y"])
    assert rep["summary"]["model_kind"] == "neural"
    assert rep["verification"]["status"] == "not_supported"  # as docs/audit.md's table says
    assert "verify_network" in rep["verification"]["reason"]
    # With a property, the network itself is verified.
    with_prop = audit(net, german["X"], german["y"], properties=["invariant status_sex"], time_budget_s=30)
    assert with_prop["verification"]["ran"]
    assert [f["check"] for f in with_prop["verification"]["findings"]] == ["property"]
    assert with_prop["verification"]["scope"] == "the network over the Domain"  # it said "the rules"
    assert [f["scope"] for f in with_prop["verification"]["findings"]] == ["network"]
    # The Domain it was verified over is recorded, and audited rows outside it are counted (they were not).
    assert with_prop["verification"]["domain"] == net.domain_.to_dict()
    far = german["X"].copy()
    far.loc[far.index[:3], "credit_amount"] = 10**7
    expected = int((~net.domain_.contains(net._validate_X(far, reset=False))).sum())
    assert expected >= 3
    outside = audit(net, far, german["y"], properties=["invariant status_sex"], time_budget_s=30)
    assert outside["verification"]["rows_outside_domain"] == expected
    assert any(i["text"].startswith(f"{expected} of the 200 audited rows lie outside the Domain")
               for i in outside["limitations"]["items"])
    # checks= names rule checks, which a network has none of: they do not stop its properties
    listed = audit(net, german["X"], german["y"], properties=["invariant status_sex"], checks=["gap", "dead"],
                   time_budget_s=30)
    assert listed["verification"]["status"] == with_prop["verification"]["status"] != "error"
    assert rep["transparency"]["transparency"] == 0.0
    assert [p["part"] for p in rep["transparency"]["parts"]] == ["model"]
    assert rep["rules"]["present"] is False
    assert any(c["role"] == "network" and c["size"]["parameters"] == net.n_parameters_
               for c in rep["model"]["components"])
    assert rep["fidelity"]["agreement"] == pytest.approx(
        np.mean(net.predict(german["X"]) == net.teacher_.predict(net._validate_X(german["X"], reset=False))))
    assert 'id="verification"' in rep.to_html()


def _xgb():
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True, random_state=0)


def test_a_duck_typed_hybrid(hybrid):
    model, X, y = hybrid
    rep = audit(model, X, y, time_budget_s=20)
    assert rep["summary"]["model_kind"] == "hybrid"
    by = model.decided_by(X)
    parts = {p["part"]: p for p in rep["transparency"]["parts"]}
    assert parts["rule"]["n"] == int(np.isin(by, list(model.trusted)).sum())
    assert parts["student"]["n"] == int((by == "student").sum())
    assert parts["guard"]["n"] == int((by == "guard:0").sum()) > 0
    pred = model.predict(X)
    m = by == "student"
    assert parts["student"]["accuracy"] == pytest.approx(np.mean(pred[m] == y[m]))
    assert rep["transparency"]["transparency"] == pytest.approx(np.mean(np.isin(by, list(model.trusted))))
    assert rep["transparency"]["fitted_transparency"] == 0.5
    assert [r["transparency"] for r in rep["transparency"]["curve"]] == [0.0, 0.5, 1.0]
    assert rep["transparency"]["curve"][0]["rule_accuracy"] is None  # NaN -> null
    trusted = next(iter(model.trusted))
    row = next(r for r in rep["rules"]["rules"] if r["id"] == trusted)
    assert row["held_out_precision"] == 0.9
    assert {c["role"] for c in rep["model"]["components"]} == {"rules", "student", "guards"}
    assert "student" in rep["verification"]["scope"]
    assert "redundant_rule" in rep["verification"]["skipped"]
    assert all("student" in f["note"] for f in rep["verification"]["findings"]
               if f["check"] == "gap" and f["status"] == "violated")
    html = rep.to_html()
    assert html.count("data:image/png;base64,") >= 2  # reliability and transparency curve


def test_audit_fits_nothing(german):
    """Neither the model nor its teacher is refitted: their fit methods are not called."""
    model = german["model"]
    est = model.teacher_.estimator

    def boom(*a, **k):
        raise AssertionError("audit() called fit")

    before = model.rules_.to_json()
    model.fit = boom
    est.fit = boom
    try:
        rep = audit(model, german["X"], german["y"], verify=False)
    finally:
        del model.fit
        del est.fit
    assert rep["summary"]["model_type"] == "DistilledRuleClassifier"
    assert model.rules_.to_json() == before


def test_a_verifier_error_is_recorded_not_raised(german):
    wrong = Domain((FeatureSpec("other", "real", 0, 1),))
    rep = audit(german["model"], german["X"], german["y"], domain=wrong)
    assert rep["verification"]["status"] == "error"
    assert "Domain" in rep["verification"]["reason"]
    assert any(i["kind"] == "verification" for i in rep["limitations"]["items"])


def test_bad_input_is_refused(german):
    X, y, model = german["X"], german["y"], german["model"]
    with pytest.raises(ValueError, match="199 labels"):
        audit(model, X, y[:199], verify=False)
    with pytest.raises(ValueError, match="pos_label"):
        audit(model, X, y, pos_label="yes", verify=False)
    with pytest.raises(TypeError, match="audit"):
        audit(object(), X, y)
    for subject in (model, model.rules_):  # the student got scikit-learn's "Found array with 0 sample(s)"
        with pytest.raises(ValueError, match=r"^audit\(\) needs at least one row\.$"):
            audit(subject, X.iloc[:0], y.iloc[:0], verify=False)
    from rulekd.verify import PropertySyntaxError

    with pytest.raises(PropertySyntaxError):
        audit(model, X, y, properties=["if and then"])


def test_a_student_fitted_on_arrays_is_audited_on_arrays():
    from sklearn.datasets import make_classification

    from rulekd import DistilledTreeClassifier

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    model = DistilledTreeClassifier(teacher=_xgb(), max_leaf_nodes=6, n_synthetic=200, random_state=0).fit(X, y)
    rep = audit(model, X, y, protected={"x0": X[:, 0]}, time_budget_s=20)
    assert [f["name"] for f in rep["data"]["features"]] == ["x0", "x1", "x2", "x3"]
    assert rep["fidelity"]["agreement"] == pytest.approx(np.mean(model.predict(X) == model.teacher_.predict(X)))
    assert rep["verification"]["ran"]
    assert rep["rules"]["rules"] and all(r["support"] >= 0 for r in rep["rules"]["rules"])
    with pytest.raises(ValueError, match="model's own terms"):
        audit(model, X, np.where(y == 1, "yes", "no"), verify=False)


def test_a_rulekd_hybrid_is_verified_as_a_whole(german):
    """The real HybridClassifier: rules checked alone, guards and properties proved on the whole hybrid."""
    pytest.importorskip("torch")
    hybrid_mod = pytest.importorskip("rulekd.hybrid")
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier
    from rulekd.datasets import load_german_credit

    b = load_german_credit()
    hyb = hybrid_mod.HybridClassifier(
        teacher=_xgb(), student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=3),
        rules=DistilledRuleClassifier(max_rules=4, n_synthetic=0), guards=["if duration > 60 then 1"],
        n_synthetic=0, transparency=0.5, random_state=0,
    ).fit(b.data.iloc[:300], b.target.iloc[:300])
    rep = audit(hyb, german["X"], german["y"], time_budget_s=30)
    v = rep["verification"]
    assert v["ran"] and v["whole_hybrid"]
    guard = [f for f in v["findings"] if f["scope"] == "hybrid" and "duration" in (f.get("property") or "")]
    assert guard and guard[0]["status"] == "proved"
    # The guards are listed beside the properties (the page listed properties only).
    assert v["guards"] == ["if duration > 60.0 then 1"]
    assert "guards, proved on the whole hybrid: <code>if duration &gt; 60.0 then 1</code>" in rep.to_html()
    assert all(f["scope"] == "rules" for f in v["findings"] if f["check"] != "property")
    # Redundancy against a placeholder default means nothing for a hybrid: not checked, and said so.
    assert "redundant_rule" in v["skipped"] and not any(f["check"] == "redundant_rule" for f in v["findings"])
    by = hyb.decided_by(german["X"])
    parts = {p["part"]: p["n"] for p in rep["transparency"]["parts"]}
    assert parts.get("student", 0) == int(np.sum(by == "student"))
    assert rep["rules"]["default"]["answered_by"] == "the neural student"
    assert rep["rules"]["default"]["support"] == int(np.sum(by == "student"))
    assert "an Implies guard whose condition holds answers before any rule" in rep["rules"]["semantics"]
    rules_part = next(c for c in rep["model"]["components"] if c["role"] == "rules")
    assert rules_part["default"] is None  # "default 0" before: a placeholder that never answers
    assert "otherwise the neural student" in rep.to_html()
    curve = rep["transparency"]["curve"]
    assert curve and {"transparency", "accuracy", "rule_accuracy", "student_accuracy"} <= set(curve[0])
    assert 'id="transparency"' in rep.to_html()


# -- figures a reviewer reads: each case once gave another number than scikit-learn ----------------
def test_balanced_accuracy_compares_labels_as_values_not_as_text():
    """y read from a CSV as floats (0.0, 1.0) against a model whose classes are ints (0, 1)."""
    X, y, teacher, _, rs, _ = _tiny()
    rep = audit(rs, X, y.astype(float), verify=False)
    pred = rs.predict(X)
    assert rep["performance"]["model"]["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert rep["performance"]["model"]["balanced_accuracy"] > 0.5


def test_a_plain_list_of_labels_with_one_unknown_label_keeps_the_others_as_numbers():
    """np.asarray([0, 1, 'x']) made every label text, and audit refused y as holding no class of the model."""
    X, y, _, _, rs, _ = _tiny()
    labels = [int(v) for v in y]
    labels[0] = "unknown"
    rep = audit(rs, X, labels, verify=False)
    balance = {b["class"]: b["n"] for b in rep["data"]["class_balance"]}
    assert balance.pop("unknown") == 1
    assert balance == {int(k): int(n) for k, n in pd.Series(labels[1:]).value_counts().items()}


def test_labels_the_model_does_not_know_are_noted_and_kept_out_of_balanced_accuracy():
    """Two rows labelled 'maybe' of 400 cut the balanced accuracy by a third (each such label is a class of
    its own there), with no note."""
    from rulekd.audit._facts import performance

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400).astype(object)
    pred = np.where(rng.random(400) < 0.8, y, 1 - y).astype(object)
    y[:2] = "maybe"
    out = performance(y, pred, None, [0, 1])
    assert out["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y[2:].astype(int), pred[2:].astype(int)))
    assert out["accuracy"] == pytest.approx(np.mean(pred[2:] == y[2:]) * 398 / 400)
    assert any("2 row(s) have a label the model does not know ('maybe')" in n for n in out["notes"])


def test_the_teachers_roc_auc_is_computed_on_its_own_probabilities():
    """Probabilities of exactly 0 stay 0 (they once went through clipped logits, which broke ties)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=5, n_informative=3, n_classes=3, random_state=2)
    X = pd.DataFrame(X, columns=list("abcde"))
    from rulekd import DistilledRuleClassifier

    model = DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), max_rules=3,
                                    n_synthetic=200, polish=False, random_state=0).fit(X.iloc[:300], y[:300])
    X, y = X.iloc[300:].reset_index(drop=True), y[300:]
    rep = audit(model, X, y, verify=False)  # the student's teacher_, behind rulekd's adapter
    P = model.teacher_.estimator.predict_proba(X)
    assert (P == 0).any()
    got = rep["performance"]["teacher"]
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, P, multi_class="ovr"), abs=1e-12)
    assert [c["roc_auc"] for c in got["roc_auc_per_class"]] == pytest.approx(
        [roc_auc_score(y == k, P[:, k]) for k in range(3)], abs=1e-12)


def test_reliability_bins_put_a_probability_on_an_edge_where_calibration_curve_does():
    X = pd.DataFrame({"x0": np.arange(40, dtype=float)})
    rs = RuleSet(rules=(Rule((Condition("x0", "<", 10.0),), 0, proba=(0.7, 0.3)),
                        Rule((Condition("x0", "<", 30.0),), 1, proba=(0.5, 0.5)),),
                 classes=(0, 1), default=1, default_proba=(0.3, 0.7), ordered=True, feature_names=("x0",))
    y = np.array([0] * 7 + [1] * 3 + [0, 1] * 10 + [0] * 3 + [1] * 7)
    rep = audit(rs, X, y, verify=False)
    p = rs.predict_proba(X)[:, 1]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    bins = rep["performance"]["model"]["reliability"]["bins"]
    assert [b["mean_predicted"] for b in bins] == pytest.approx(prob_pred)
    assert [b["observed"] for b in bins] == pytest.approx(prob_true)
    assert [b["upper"] for b in bins] == pytest.approx([0.3, 0.5, 0.7])  # 0.5 lies in (0.4, 0.5]
    counts = np.array([b["count"] for b in bins])
    ece = np.sum(counts / len(y) * np.abs(prob_pred - prob_true))
    assert rep["performance"]["model"]["reliability"]["ece"] == pytest.approx(ece)


def test_string_labels_read_plainly_and_teacher_columns_follow_the_models_class_order():
    X, y, _, _, _, _ = _tiny()
    words = np.array(["no", "yes"])[y]
    teacher = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, words)  # classes_ ['no', 'yes']
    rs = RuleSet(rules=(Rule((Condition("x0", ">", 0.4),), np.str_("yes"), proba=(0.8, 0.2)),),
                 classes=(np.str_("yes"), np.str_("no")), default=np.str_("no"), default_proba=(0.3, 0.7),
                 feature_names=("x0",))
    rep = audit(rs, X, words, teacher=teacher, verify=False)
    model_rel = rep["performance"]["model"]["reliability"]
    teacher_rel = rep["performance"]["teacher"]["reliability"]
    assert model_rel["what"] == teacher_rel["what"] == "probability of 'no'"
    assert "np.str_" not in rep.to_json()
    p_no = teacher.predict_proba(X)[:, list(teacher.classes_).index("no")]
    assert sum(b["mean_predicted"] * b["count"] for b in teacher_rel["bins"]) / len(X) == pytest.approx(p_no.mean())


def test_a_level_called_missing_is_a_group_of_its_own():
    X, y, _, _, rs, _ = _tiny()
    group = pd.Series(["a", "missing", None, "a", "missing", None] * 2, dtype=object)
    rep = audit(rs, X, y, protected={"g": group}, verify=False)
    rows = {r["group"]: r["n"] for r in rep["disaggregated"]["attributes"][0]["metrics"][0]["groups"]}
    assert rows == {"a": 4, "missing": 4, "(missing)": 4}
    assert rep["disaggregated"]["attributes"][0]["grouping"]["missing_group"] == "(missing)"


def test_group_names_in_a_script_without_a_font_warn_nothing_and_stay_in_the_tables(tmp_path):
    """Chinese group names on a machine without a CJK font: one matplotlib warning per glyph, naming rulekd's
    source lines, reached the user; the plot draws boxes, the tables carry the names."""
    X, y, _, _, rs, _ = _tiny()
    group = pd.Series(["北京", "上海", "广州"] * 4, dtype=object)
    rep = audit(rs, X, y, protected={"城市": group}, verify=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"Glyph \d+")
        rep.write_html(tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert all(name in html for name in ("北京", "上海", "广州", "城市"))


def test_audit_arguments_are_checked_with_messages_that_name_them():
    X, y, _, _, rs, group = _tiny()
    kw = dict(protected={"group": group}, verify=False)
    with pytest.raises(ValueError, match="protected_bins must be a dict"):
        audit(rs, X, y, protected_bins=[30, 50], **kw)
    with pytest.raises(ValueError, match="protected_bins names 'Group', which is not a protected attribute"):
        audit(rs, X, y, protected_bins={"Group": [1]}, **kw)
    with pytest.raises(ValueError, match=r"protected_bins\['group'\] must be finite numeric cut points"):
        audit(rs, X, y, protected_bins={"group": ["thirty"]}, **kw)
    for bad in ("10", -5, 0, True):
        with pytest.raises(ValueError, match="max_levels must be a positive integer"):
            audit(rs, X, y, max_levels=bad, **kw)
    # Cut points for an attribute of levels were accepted and ignored (each level stayed a group).
    with pytest.raises(ValueError, match=r"protected_bins\['group'\]: 'group' holds levels .* numbers only"):
        audit(rs, X, y, protected_bins={"group": [1, 2]}, **kw)
    numeric = {"group": np.arange(12.0)}
    binned = audit(rs, X, y, protected=numeric, protected_bins={"group": [4]}, n_bins=np.int64(3),
                   min_group_size=np.int64(3), verify=False)  # numpy integers: refused before, as max_levels was not
    assert [g["group"] for g in binned["disaggregated"]["attributes"][0]["metrics"][0]["groups"]] == ["< 4", ">= 4"]
    # The verifier's arguments: a report whose verification "failed" with the verifier's error before.
    for bad, said in [(dict(timeout_ms=-1), "timeout_ms must be a positive integer"),
                      (dict(time_budget_s="x"), "time_budget_s must be a positive number"),
                      (dict(checks="bogus"), "Unknown check 'bogus'"),
                      (dict(n_jobs="x"), "n_jobs must be a whole number")]:
        with pytest.raises(ValueError, match=said):
            audit(rs, X, y, protected={"group": group}, **bad)
    audit(rs, X, y, timeout_ms=-1, **kw)  # not verifying: not read
    # one property given as a string is that property, not a list of its characters
    rep = audit(rs, X, y, properties="if x0 > 0.8 then 1", time_budget_s=10)
    assert rep["verification"]["properties"] == ["if x0 > 0.8 then 1"]


def test_protected_frames_must_have_x_index(german):
    """Regression: the protected frame was read by position, so one in another row order gave other group
    figures (female selection rate 0.241 -> 0.443 on COMPAS) without a word. Another order is refused, as
    for y: by label and by position give other figures, and neither can be assumed."""
    X, y, prot = german["X"], german["y"], german["protected"][["sex"]]
    base = audit(german["model"], X, y, protected=prot, verify=False)
    shuffled = prot.sample(frac=1, random_state=1)
    with pytest.raises(ValueError, match=r"index that is not X's: pass it with X's index \(protected.loc"):
        audit(german["model"], X, y, protected=shuffled, verify=False)
    again = audit(german["model"], X, y, protected=shuffled.loc[X.index], verify=False)
    assert again["disaggregated"] == base["disaggregated"]
    with pytest.raises(ValueError, match="index that is not X's"):
        audit(german["model"], X, y, protected=prot.set_axis(prot.index + 1000), verify=False)
    # a plain array is read in X's row order
    arr = audit(german["model"], X, y, protected={"sex": prot["sex"].to_numpy()}, verify=False)
    assert arr["disaggregated"] == base["disaggregated"]


def test_selection_rate_ratio_over_groups_that_are_not_small():
    """A group of one row selected never made the only ratio 0; the ratio over groups that are not small is
    given beside it."""
    from rulekd.audit._facts import group_metrics

    groups = np.array(["a"] * 40 + ["b"] * 40 + ["tiny"], dtype=object)  # as audit() groups them
    pred = np.array([1] * 20 + [0] * 20 + [1] * 16 + [0] * 24 + [0])
    y = pred.copy()
    m = group_metrics(groups, ["a", "b", "tiny"], y, pred, 1, min_group_size=10)
    assert m["selection_rate_ratio"] == 0.0
    assert m["selection_rate_ratio_large_groups"] == pytest.approx(0.4 / 0.5)
    assert group_metrics(groups, ["a", "b", "tiny"], y, pred, 1, min_group_size=50)[
        "selection_rate_ratio_large_groups"] is None


def test_protected_column_names_that_are_not_text_keep_xs_rows():
    """Regression (this session's alignment): protected="1" on a frame with integer column names and a
    non-default index was taken from the re-indexed copy and refused."""
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({0: rng.normal(size=n), 1: rng.integers(0, 2, n)}, index=np.arange(n) + 1000)
    y = (X[0] > 0).astype(int).to_numpy()
    rs = RuleSet((Rule((Condition("0", ">", 0.0),), 1),), classes=(0, 1), default=0)
    rep = audit(rs, X.set_axis(["0", "1"], axis=1), y, protected="1", verify=False)
    rep_int = audit(rs, X, y, protected="1", verify=False)
    assert rep_int["disaggregated"] == rep["disaggregated"]


def test_a_hybrids_rules_alone_are_refused():
    import numpy as np

    from rulekd.rules import Condition, Rule, RuleSet

    rs = RuleSet((Rule((Condition("x0", ">", 0.5),), 1),), classes=(0, 1), default=0, ordered=True,
                 metadata={"default": "student"})
    with pytest.raises(ValueError, match="hybrid's rules alone.*Audit the hybrid itself"):
        audit(rs, np.array([[0.2], [0.9]]), [0, 1], verify=False)



def test_y_in_another_row_order_is_refused_not_guessed(german):
    X, y = german["X"], german["y"]
    shuffled = y.sample(frac=1, random_state=1)  # X's row labels, another order: by label or by position?
    with pytest.raises(ValueError, match=r"y's index holds X's row labels in another order"):
        audit(german["model"], X, shuffled, verify=False)  # read by position before: every figure wrong
    by_label = audit(german["model"], X, shuffled.loc[X.index], verify=False)
    assert by_label["performance"]["model"]["accuracy"] == pytest.approx(
        np.mean(german["model"].predict(X) == y.to_numpy()))
    # Another index entirely (y.reset_index, X kept its own): by position, as scikit-learn reads y.
    moved = X.set_axis(X.index + 1000)
    by_position = audit(german["model"], moved, y, verify=False)
    assert by_position["performance"]["model"]["accuracy"] == by_label["performance"]["model"]["accuracy"]


def test_nothing_verified_is_not_proved_and_ok_means_checked(german):
    X, y = german["X"], german["y"]
    none = audit(german["model"], X, y, checks="none")
    assert none["verification"]["status"] == "not_run"  # "proved" with no finding before
    assert "verification proved" not in str(none)
    conflict_only = audit(german["model"], X, y, checks=["conflict"], time_budget_s=30)
    assert conflict_only["rules"]["checked"] == [] and not conflict_only["rules"]["verified"]
    html = conflict_only.to_html()
    rules_html = html[html.index('id="rules"'):html.index('id="verification"')]
    assert ">ok<" not in rules_html  # "ok" for dead and redundant checks that never ran, before
    full = audit(german["model"], X, y, time_budget_s=30)
    assert full["rules"]["checked"] == ["dead", "redundant_rule", "redundant_condition"]


def test_an_unknown_finding_is_explained_by_its_own_reason(german, monkeypatch):
    pytest.importorskip("torch")
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier
    from rulekd.datasets import load_german_credit
    from rulekd.hybrid import HybridClassifier

    b = load_german_credit()
    hyb = HybridClassifier(teacher=_xgb(), student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=3),
                           rules=DistilledRuleClassifier(max_rules=4, n_synthetic=0), n_synthetic=0,
                           transparency=0.5, random_state=0).fit(b.data.iloc[:300], b.target.iloc[:300])
    monkeypatch.setattr(HybridClassifier, "_search_violation", lambda self, prop, domain=None: None)  # nothing found
    rep = audit(hyb, german["X"], german["y"], properties=["monotone duration increasing toward 1"],
                time_budget_s=30)
    unknown = [f for f in rep["verification"]["findings"] if f["status"] == "unknown"]
    if not unknown:
        pytest.skip("Z3's witness was a violation for this network: nothing unknown to explain")
    texts = [i["text"] for i in rep["limitations"]["items"] if i["kind"] == "verification"]
    assert any("needs the network's weights" in t and "a larger time budget does not decide them" in t for t in texts)
    assert not any("Raise timeout_ms" in t for t in texts)



def test_rows_outside_the_domain_are_named_in_the_limitations(german):
    from rulekd.datasets import load_german_credit

    model = german["model"]
    X = german["X"].copy()
    X.loc[X.index[:2], "credit_amount"] = 10**6  # beyond the Domain's bounds: answered, but no proof covers it
    expected = int((~model.domain_.contains(model._validate_X(X, reset=False))).sum())
    assert expected >= 2
    rep = audit(model, X, german["y"], checks=["dead"], time_budget_s=30)
    assert rep["verification"]["rows_outside_domain"] == expected
    texts = [i["text"] for i in rep["limitations"]["items"] if i["kind"] == "verification"]
    assert any(t.startswith(f"{expected} of the 200 audited rows lie outside the Domain") for t in texts)
    b = load_german_credit()  # the rows the model was fitted on lie inside its Domain
    fitted_rows = audit(model, b.data.iloc[:300], b.target.iloc[:300], checks=["dead"], time_budget_s=30)
    assert fitted_rows["verification"]["rows_outside_domain"] == 0
    assert not any("lie outside the Domain" in i["text"] for i in fitted_rows["limitations"]["items"])



@pytest.mark.parametrize("as_array", [False, True])
def test_a_scikit_learn_tree_is_audited_with_the_rules_it_is_verified_as(as_array):
    """A DecisionTreeClassifier was verified (findings naming leaf2, leaf5) while the report said it had no
    rules, transparency 0 and no rule count."""
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.uniform(0, 10, 300)})
    y = ((X.a + (X.b - 5) / 3) > 0.3).astype(int)
    Xf = X.to_numpy() if as_array else X
    est = DecisionTreeClassifier(max_depth=2, random_state=0).fit(Xf, y)
    rep = audit(est, Xf, y, time_budget_s=30)
    listed = {r["id"]: r for r in rep["rules"]["rules"]}
    assert rep["rules"]["present"] and len(listed) == est.get_n_leaves()
    cited = {i for f in rep["verification"]["findings"] for i in f["rules"]}
    assert cited and cited <= set(listed)  # every rule a finding names is in the list
    leaves = est.apply(Xf)
    assert sorted(r["support"] for r in listed.values()) == sorted(np.bincount(leaves)[np.unique(leaves)])
    assert rep["transparency"]["transparency"] == 1.0
    assert rep["summary"]["headline"]["rules"] == est.get_n_leaves()


def test_a_gap_input_an_implies_guard_answers_is_said_to_be_the_guards():
    """The note said the neural student answers a gap finding's input that the guard answered."""
    from rulekd import DistilledMLPClassifier
    from rulekd.hybrid import HybridClassifier

    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.uniform(0, 10, n)})
    y = ((X.a + (X.b - 5) / 3 + rng.normal(scale=0.3, size=n)) > 0.3).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = HybridClassifier(teacher=_xgb(), max_rules=4, n_synthetic=300, guards=["if a > 0 then 0"],
                             student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5), random_state=0)
        h.fit(X.iloc[:300], y.iloc[:300])
        rep = audit(h, X.iloc[300:], y.iloc[300:], time_budget_s=30)
    gaps = [f for f in rep["verification"]["findings"]
            if f["check"] == "gap" and f["status"] == "violated" and f["counterexample"]]
    assert gaps
    for f in gaps:
        by = h.decided_by(pd.DataFrame([f["counterexample"]]))[0]
        if by.startswith("guard:"):
            assert f["note"].startswith(f"No rule matches here; {by} (an Implies guard) answers this input")
        else:
            assert f["note"] == ("No rule matches here; the neural student answers these inputs, except where an "
                                 "Implies guard answers.")
    assert any(h.decided_by(pd.DataFrame([f["counterexample"]]))[0].startswith("guard:") for f in gaps)


def test_timeouts_are_told_to_raise_the_budget(german):
    rep = audit(german["model"], german["X"], german["y"], time_budget_s=1e-6)
    texts = [i["text"] for i in rep["limitations"]["items"] if i["kind"] == "verification"]
    assert any("solver timeout or time budget" in t and "Raise timeout_ms or time_budget_s" in t
               and "rulekd audit --time-budget-s" in t for t in texts)  # the CLI's name too
    assert not any("does not decide them" in t for t in texts)


def test_the_report_fingerprints_the_audited_rows_and_the_model(german, german_report, tmp_path):
    """A reviewer could not tell which data or which model a report was about (no hash of either)."""
    import hashlib

    from sklearn.linear_model import LogisticRegression

    from rulekd import save

    pv = german_report.to_dict()["provenance"]
    folder = save(german["model"], tmp_path / "m")
    assert pv["model"]["sha256"] == hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    assert pv["data"]["rows"] == len(german["X"])
    again = audit(german["model"], german["X"], german["y"], verify=False).to_dict()["provenance"]
    assert again["data"] == pv["data"] and again["model"] == pv["model"]  # the same rows, the same model
    X2 = german["X"].copy()
    X2.iloc[7, X2.columns.get_loc("duration")] += 1
    changed = audit(german["model"], X2, german["y"], verify=False).to_dict()["provenance"]
    y2 = german["y"].copy()
    y2.iloc[3] = 1 - y2.iloc[3]
    relabelled = audit(german["model"], german["X"], y2, verify=False).to_dict()["provenance"]
    assert len({pv["data"]["sha256"], changed["data"]["sha256"], relabelled["data"]["sha256"]}) == 3
    rs = german["model"].rules_
    by_rules = audit(rs, german["X"], german["y"], verify=False).to_dict()["provenance"]
    assert by_rules["model"]["sha256"] == hashlib.sha256(rs.to_json().encode("utf-8")).hexdigest()
    Xn = german["X"].select_dtypes("number")
    plain = audit(LogisticRegression(max_iter=2000).fit(Xn, german["y"]), Xn, german["y"], verify=False)
    assert plain.to_dict()["provenance"]["model"]["sha256"] is None
    assert "rulekd.save cannot write this model" in plain.to_html()
    html = german_report.to_html()
    assert pv["data"]["sha256"] in html and pv["model"]["sha256"] in html
    # a report written before provenance existed still loads and renders
    old = german_report.to_dict()
    del old["provenance"]
    assert "Provenance" not in AuditReport.from_dict(old).to_html()


def test_accuracy_and_group_rates_carry_95_percent_wilson_intervals(german, german_report):
    """A reviewer had rates of small groups with nothing saying how far chance could move them."""
    from scipy.stats import binomtest

    def wilson(k, n):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        return [ci.low, ci.high]

    perf = german_report["performance"]["model"]
    n, acc = perf["n"], perf["accuracy"]
    np.testing.assert_allclose(perf["accuracy_ci"], wilson(round(acc * n), n), rtol=1e-12)
    assert german_report["summary"]["headline"]["accuracy_ci"] == perf["accuracy_ci"]
    rows = [r for a in german_report["disaggregated"]["attributes"] for mt in a["metrics"] for r in mt["groups"]]
    assert rows
    for r in rows:
        np.testing.assert_allclose(r["selection_rate_ci"], wilson(round(r["selection_rate"] * r["n"]), r["n"]),
                                   rtol=1e-12)
        assert r["selection_rate_ci"][0] <= r["selection_rate"] <= r["selection_rate_ci"][1]
        if r["tpr"] is None:
            assert r["tpr_ci"] is None
    one = audit(german["model"], german["X"].head(1), german["y"].head(1), verify=False)
    lo, hi = one["performance"]["model"]["accuracy_ci"]  # one row: the interval is wide, and inside [0, 1]
    assert 0 <= lo < hi <= 1 and hi - lo > 0.7
    html = german_report.to_html()
    assert "95 % interval" in html and "Wilson intervals" in html
    old = german_report.to_dict()  # a report written before the intervals renders without them
    del old["sections"]["summary"]["headline"]["accuracy_ci"]
    del old["sections"]["performance"]["model"]["accuracy_ci"]
    assert "95 % interval" not in AuditReport.from_dict(old).to_html()
