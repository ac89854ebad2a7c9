"""Model directories: round trips predict bit for bit; damaged, modified or foreign folders are refused."""

import hashlib
import io
import json
import os
import pickle
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, DistilledTreeClassifier, Domain, RulekdError
from rulekd import _persist as persist
from rulekd._persist import ModelDirectoryError, ModelDirectoryNotFoundError, load, save
from rulekd.datasets import load_german_credit

pytest.importorskip("torch")


def _teacher():
    return XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True, random_state=0)


FAST = {
    DistilledRuleClassifier: dict(max_rules=4),
    DistilledTreeClassifier: dict(max_leaf_nodes=6),
    DistilledMLPClassifier: dict(hidden_layer_sizes=(8,), max_epochs=3),
}


def _make(cls, teacher=None, **kw):
    return cls(teacher=_teacher() if teacher is None else teacher, n_synthetic=300, random_state=0,
               **{**FAST[cls], **kw})


@pytest.fixture(scope="module")
def credit():
    b = load_german_credit()
    X, y = b.data, b.target.to_numpy()
    return X.iloc[:240].reset_index(drop=True), y[:240], X.iloc[240:400].reset_index(drop=True)


def _inputs(credit, kind):
    X, y, X_test = credit
    if kind == "frame":
        return X, X_test
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    return X[numeric].to_numpy(dtype=float), X_test[numeric].to_numpy(dtype=float)


def _labels(y, kind):
    return np.where(y == 1, "bad", "good") if kind == "str" else y.astype(np.int64)


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    if a.dtype == object:
        assert a.tolist() == b.tolist() and [type(v) for v in a.tolist()] == [type(v) for v in b.tolist()]
    else:
        assert a.tobytes() == b.tobytes()


def _message(fn, *args, **kw):
    with pytest.raises(Exception) as info:
        fn(*args, **kw)
    return type(info.value), str(info.value)


def _rehash(folder):
    """What someone who edits files *and* the manifests does: every manifest matches the folder again."""
    folder = Path(folder)
    manifests = sorted(folder.rglob("manifest.json"), key=lambda p: -len(p.parts))
    for m in manifests:
        try:
            doc = json.loads(m.read_text())
        except ValueError:  # a damaged manifest stays damaged
            continue
        doc["files"] = {
            p.relative_to(m.parent).as_posix(): {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                                                 "size": p.stat().st_size}
            for p in sorted(m.parent.rglob("*")) if p.is_file() and p != m
        }
        m.write_text(json.dumps(doc))


def _edit_json(path, fn):
    doc = json.loads(Path(path).read_text())
    fn(doc)
    Path(path).write_text(json.dumps(doc))


# -- round trips ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [DistilledRuleClassifier, DistilledTreeClassifier, DistilledMLPClassifier])
@pytest.mark.parametrize("input_kind,label_kind", [("frame", "str"), ("frame", "int"), ("array", "str"),
                                                   ("array", "int")])
def test_round_trip_predicts_bit_for_bit(credit, tmp_path, cls, input_kind, label_kind):
    X, X_test = _inputs(credit, input_kind)
    y = _labels(credit[1], label_kind)
    m = _make(cls).fit(X, y)
    m2 = load(save(m, tmp_path / "model"))
    assert type(m2) is cls
    _same_bits(m.predict(X_test), m2.predict(X_test))
    _same_bits(m.predict_proba(X_test), m2.predict_proba(X_test))
    if hasattr(m, "rules_"):  # the rule students (DistilledMLPClassifier inherits a decided_by it cannot answer)
        _same_bits(m.decided_by(X_test), m2.decided_by(X_test))
    if hasattr(m, "decision_function"):
        _same_bits(m.decision_function(X_test), m2.decision_function(X_test))
    _same_bits(m.classes_, m2.classes_)
    assert m2.n_features_in_ == m.n_features_in_
    assert hasattr(m2, "feature_names_in_") == (input_kind == "frame")
    if input_kind == "frame":
        _same_bits(m.feature_names_in_, m2.feature_names_in_)
    assert m2.domain_ == m.domain_
    assert m2.fidelity_ == m.fidelity_
    if hasattr(m, "rules_"):
        assert m2.rules_ == m.rules_ and m2.rules_.to_json() == m.rules_.to_json()
    else:
        for a, b in zip(m.coefs_ + m.intercepts_, m2.coefs_ + m2.intercepts_):
            _same_bits(a, b)
        assert m2.encoding_ == m.encoding_
        sd, sd2 = m.module_.state_dict(), m2.module_.state_dict()
        assert list(sd) == list(sd2) and all(np.array_equal(sd[k].numpy(), sd2[k].numpy()) for k in sd)
    # The teacher comes back in XGBoost's own format and answers the same.
    _same_bits(m.teacher_.logits(X_test), m2.teacher_.logits(X_test))
    _same_bits(m.teacher_.classes_, m2.teacher_.classes_)
    # JSON parameters come back; the teacher estimator (not a JSON value) is left at its default.
    p, p2 = m.get_params(deep=False), m2.get_params(deep=False)
    assert p2.pop("teacher") is None and p.pop("teacher") is not None
    assert p == p2 and all(type(p[k]) is type(p2[k]) for k in p)
    # Same refusals on bad input.
    wrong_width = X_test.iloc[:, :-1] if input_kind == "frame" else X_test[:, :-1]
    assert _message(m.predict, wrong_width) == _message(m2.predict, wrong_width)
    if input_kind == "frame":
        unseen = X_test.copy()
        unseen["purpose"] = unseen["purpose"].astype(str)
        unseen.loc[0, "purpose"] = "spaceship"
        assert _message(m.predict, unseen) == _message(m2.predict, unseen)
        assert "spaceship" in _message(m2.predict, unseen)[1]


@pytest.mark.parametrize("labels", [
    pytest.param(lambda y: y == 1, id="bool"),
    pytest.param(lambda y: np.where(y == 1, 1.0, 0.0), id="float"),
    pytest.param(lambda y: np.array(["low", "mid", "high"], dtype=object)[(y + np.arange(len(y)) % 2) % 3],
                 id="three-str-object"),
])
def test_round_trip_keeps_label_types(credit, tmp_path, labels):
    X, y, X_test = credit
    yy = labels(y)
    m = _make(DistilledTreeClassifier).fit(X, yy)
    m2 = load(save(m, tmp_path / "model"))
    _same_bits(m.classes_, m2.classes_)
    _same_bits(m.predict(X_test), m2.predict(X_test))
    _same_bits(m.predict_proba(X_test), m2.predict_proba(X_test))


def test_label_codec_keeps_dtype_and_element_types():
    for arr in [np.array(["a", 1, 2.5, True, -(2**70)], dtype=object), np.array([True, False]),
                np.array([1, 2], dtype=np.uint8), np.array([0.1, np.inf], dtype=np.float32),
                np.array(["é", "a"], dtype="<U3")]:
        back = persist._labels_from_json(json.loads(json.dumps(persist._labels_to_json(arr, "x"))), "x")
        _same_bits(arr, back)


def test_value_codec_keeps_tuples_nonfinite_floats_and_key_types():
    value = {"a": (1, 2.0, None), "$b": [float("nan"), float("-inf")], 3: {"x": True}}
    back = persist._decode(json.loads(json.dumps(persist._encode(value))), "x")
    assert back.keys() == value.keys() and back["a"] == (1, 2.0, None) and back[3] == {"x": True}
    assert np.isnan(back["$b"][0]) and back["$b"][1] == float("-inf")


@pytest.mark.parametrize("teacher_kind", ["sklearn", "frozen-xgboost", "dart"])
def test_teacher_that_is_not_saved_or_frozen(credit, tmp_path, teacher_kind):
    X, X_test = _inputs(credit, "array")
    y = credit[1]
    if teacher_kind == "sklearn":
        teacher = DecisionTreeClassifier(max_depth=3, random_state=0)
    elif teacher_kind == "dart":
        teacher = XGBClassifier(booster="dart", n_estimators=5, max_depth=2, n_jobs=1)
    else:
        teacher = FrozenEstimator(_teacher().fit(X, y))
    m = _make(DistilledRuleClassifier, teacher=teacher).fit(X, y)
    folder = save(m, tmp_path / "model")
    info = json.loads((folder / "metadata.json").read_text())["attributes"]["teacher_"]
    m2 = load(folder)
    _same_bits(m.predict(X_test), m2.predict(X_test))
    if teacher_kind == "sklearn":
        assert info["saved"] is False and "DecisionTreeClassifier(max_depth=3" in info["text"]
        assert not (folder / "teacher.json").exists() and m2.teacher_ is None
    elif teacher_kind == "dart":  # not a booster rulekd can check before XGBoost reads it: kept out, said why
        assert info["saved"] is False and "gbtree" in info["reason"] and m2.teacher_ is None
    else:
        assert info["saved"] is True and info["frozen"] is True
        assert isinstance(m2.teacher_.estimator, FrozenEstimator)
        _same_bits(m.teacher_.logits(X_test), m2.teacher_.logits(X_test))


def test_metadata_records_versions_params_and_every_file(credit, tmp_path):
    X, y, _ = credit
    folder = save(_make(DistilledMLPClassifier).fit(X, y), tmp_path / "model")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["format"] == "rulekd.model" and meta["version"] == 1
    assert meta["estimator"] == "rulekd.DistilledMLPClassifier"
    assert set(meta["created_by"]) >= {"rulekd", "numpy", "scikit-learn", "xgboost", "torch"}
    assert meta["params"]["hidden_layer_sizes"] == {"$tuple": [8]}
    assert meta["params"]["teacher"]["$text"].startswith("XGBClassifier(")
    # domain= (added after format 1 shipped) is left out at its default, so an older rulekd, which refuses
    # parameters it does not know, still reads the directory; a declared one is written.
    assert "domain" not in meta["params"] and "max_epochs" in meta["params"]
    declared = save(_make(DistilledMLPClassifier, domain=Domain.from_data(X)).fit(X, y), tmp_path / "declared")
    assert "$domain" in json.loads((declared / "metadata.json").read_text())["params"]["domain"]
    manifest = json.loads((folder / "manifest.json").read_text())
    on_disk = {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk == {"metadata.json", "domain.json", "teacher.json", "arrays.npz"}
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


# -- a nested estimator and a custom codec (what the hybrid needs) -------------------------------------
class ToyHybrid(ClassifierMixin, BaseEstimator):
    """Rules where they are confident, a neural student elsewhere: the shape of rulekd.HybridClassifier."""

    def __init__(self, *, threshold=0.8):
        self.threshold = threshold

    def fit(self, X, y):
        from rulekd.verify import parse_property

        rules = _make(DistilledRuleClassifier).fit(X, y)
        self.student_ = _make(DistilledMLPClassifier).fit(X, y)
        self.rules_, self.domain_, self.teacher_ = rules.rules_, rules.domain_, rules.teacher_
        self.classes_, self.n_features_in_ = rules.classes_, rules.n_features_in_
        self.feature_names_in_ = rules.feature_names_in_
        self.rule_precision_ = {r.id: r.confidence for r in self.rules_.rules}
        self.transparency_ = 0.5
        self.guards_ = (parse_property("monotone duration increasing toward 1"),)
        self.covered_ = np.arange(4.0)
        return self

    def predict(self, X):
        by = self.rules_.decided_by(X)
        use_rules = np.array([self.rule_precision_.get(i, 0.0) >= self.threshold for i in by])
        return np.where(use_rules, self.rules_.predict(X), self.student_.predict(X))


@pytest.fixture
def toy_registered():
    persist.register(
        ToyHybrid,
        {
            **persist.COMMON_FIELDS,
            "rules_": persist.RULESET,
            "student_": persist.ESTIMATOR,
            "transparency_": persist.Value(float),
            "rule_precision_": persist.Value(dict[str, float]),
            "guards_": persist.PROPERTIES,
            "covered_": persist.ARRAY,
        },
        name="tests.ToyHybrid",
    )
    yield
    persist._REGISTRY.pop("tests.ToyHybrid")


def test_nested_estimator_and_custom_codec_round_trip(credit, tmp_path, toy_registered):
    X, y, X_test = credit
    m = ToyHybrid().fit(X, y)
    folder = save(m, tmp_path / "hybrid")
    assert (folder / "student" / "manifest.json").is_file() and (folder / "student" / "arrays.npz").is_file()
    m2 = load(folder)
    _same_bits(m.predict(X_test), m2.predict(X_test))
    assert [g.text() for g in m2.guards_] == [g.text() for g in m.guards_] and isinstance(m2.guards_, tuple)
    assert m2.rule_precision_ == m.rule_precision_ and m2.transparency_ == 0.5
    _same_bits(m.covered_, m2.covered_)
    _same_bits(m.student_.predict_proba(X_test), m2.student_.predict_proba(X_test))
    # The nested folder is a model directory of its own.
    _same_bits(m.student_.predict_proba(X_test), load(folder / "student").predict_proba(X_test))
    # A damaged nested file is named.
    weights = folder / "student" / "arrays.npz"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(ModelDirectoryError, match=r"student/arrays\.npz.*modified or damaged"):
        load(folder)
    _rehash(folder)  # even with every manifest rewritten, the damaged archive is refused cleanly
    with pytest.raises(ModelDirectoryError, match=r"student/arrays\.npz"):
        load(folder)


def test_custom_codec_failure_is_a_clean_error(credit, tmp_path, toy_registered):
    X, y, _ = credit
    folder = save(ToyHybrid().fit(X, y), tmp_path / "hybrid")
    _edit_json(folder / "metadata.json",
               lambda d: d["attributes"]["guards_"].update(value=["monotone ((( nonsense"]))
    _rehash(folder)
    with pytest.raises(ModelDirectoryError, match="guards_.*cannot be rebuilt"):
        load(folder)


# -- refusals: the folder -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(credit, tmp_path_factory):
    """One saved folder per student kind, copied by the tests that change it."""
    X, y, _ = credit
    root = tmp_path_factory.mktemp("saved")
    return {
        "rules": save(_make(DistilledRuleClassifier).fit(X, _labels(y, "str")), root / "rules"),
        "mlp": save(_make(DistilledMLPClassifier, threshold_inputs=24).fit(X, _labels(y, "str")), root / "mlp"),
    }


@pytest.fixture
def rules_dir(saved, tmp_path):
    return Path(shutil.copytree(saved["rules"], tmp_path / "model"))


@pytest.fixture
def mlp_dir(saved, tmp_path):
    return Path(shutil.copytree(saved["mlp"], tmp_path / "model"))


@pytest.mark.parametrize("name,content", [
    ("model.pkl", pickle.dumps({"a": 1})),
    ("model.joblib", b"anything"),
    ("notes.txt", pickle.dumps([1, 2, 3], protocol=4)),  # a pickle under another name
])
def test_load_refuses_a_folder_with_a_pickle(rules_dir, name, content):
    (rules_dir / name).write_bytes(content)
    with pytest.raises(ModelDirectoryError, match=rf"{name}.*pickle"):
        load(rules_dir)


def test_load_refuses_an_unknown_file(rules_dir):
    (rules_dir / "README.txt").write_text("hello")
    with pytest.raises(ModelDirectoryError, match=r"README\.txt.*not listed in manifest\.json"):
        load(rules_dir)


def test_load_refuses_a_tampered_json(rules_dir):
    text = (rules_dir / "rules.json").read_text()
    assert '"ordered": false' in text
    # Same size, valid JSON, a valid rule set: another model. Only the hash tells.
    (rules_dir / "rules.json").write_text(text.replace('"ordered": false', '"ordered": true '))
    with pytest.raises(ModelDirectoryError, match=r"rules\.json.*SHA-256.*modified or damaged"):
        load(rules_dir)


def test_load_refuses_truncated_weights(mlp_dir):
    path = mlp_dir / "arrays.npz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelDirectoryError, match=r"arrays\.npz.*bytes but manifest\.json records.*modified"):
        load(mlp_dir)


@pytest.mark.parametrize("name,message", [
    ("domain.json", r"'domain\.json'.*listed in manifest\.json but missing.*modified or damaged"),
    ("metadata.json", r"'metadata\.json'.*listed in manifest\.json but missing"),
    ("teacher.json", r"'teacher\.json'.*listed in manifest\.json but missing"),
    ("manifest.json", r"has no manifest\.json"),
])
def test_load_refuses_a_missing_file(rules_dir, name, message):
    (rules_dir / name).unlink()
    with pytest.raises(ModelDirectoryError, match=message):
        load(rules_dir)


def test_load_refuses_a_non_directory_and_a_missing_path(tmp_path):
    (tmp_path / "file.json").write_text("{}")
    with pytest.raises(ModelDirectoryError, match="is not a folder"):
        load(tmp_path / "file.json")
    with pytest.raises(ModelDirectoryNotFoundError, match="does not exist") as info:
        load(tmp_path / "nothing")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, RulekdError)
    with pytest.raises(TypeError):
        load(42)


def _meta(fn):
    return ("metadata.json", lambda p: _edit_json(p, fn))


def _replace(text):
    return lambda p: Path(p).write_text(text)


def _object_npz(path):
    """An archive whose array is a pickled object: np.load(allow_pickle=True) would unpickle it."""
    buf = io.BytesIO()
    np.savez(buf, **{"coefs_.0": np.array([{"evil": 1}], dtype=object)})
    Path(path).write_bytes(buf.getvalue())


MALICIOUS = {
    "n_features_in_ wrong type": (*_meta(lambda d: d["attributes"]["n_features_in_"].update(value="20")),
                                  "n_features_in_.*must be int"),
    "n_features_in_ inconsistent": (*_meta(lambda d: d["attributes"]["n_features_in_"].update(value=3)),
                                    "n_features_in_ is 3"),
    "missing attribute": (*_meta(lambda d: d["attributes"].pop("classes_")), r"\['classes_'\].*missing"),
    "unknown attribute": (*_meta(lambda d: d["attributes"].update(evil_={"kind": "value", "value": 1})),
                          "no saved attribute"),
    "unknown estimator": (*_meta(lambda d: d.update(estimator="os.system")), "unknown estimator 'os.system'"),
    "format version": (*_meta(lambda d: d.update(version=2)), "format version 2 is not supported"),
    "missing key": (*_meta(lambda d: d.pop("params")), r"lacks the required key\(s\) \['params'\]"),
    "unknown parameter": (*_meta(lambda d: d["params"].update(evil=1)), r"no parameter\(s\) \['evil'\]"),
    "invalid parameter": (*_meta(lambda d: d["params"].update(max_rules="many")), "invalid parameter.*max_rules"),
    "attribute kind": (*_meta(lambda d: d["attributes"]["domain_"].update(kind="ruleset")), "must be of kind 'domain'"),
    "redirected file": (*_meta(lambda d: d["attributes"]["domain_"].update(file="../../etc/passwd")),
                        "must be stored in 'domain.json'"),
    "label dtype": (*_meta(lambda d: d["attributes"]["classes_"].update(dtype="V8")), "unsupported label dtype"),
    "label dtype far too wide": (*_meta(lambda d: d["attributes"]["classes_"].update(dtype="<U99999999")),
                                 "would take .* bytes for 2 values"),  # 1.2 GB allocated before
    "label values": (*_meta(lambda d: d["attributes"]["classes_"].update(values=[1, 2])), "must be str"),
    "labels unlike the rules": (*_meta(lambda d: d["attributes"]["classes_"].update(values=["no", "yes"])),
                                "differ from classes_"),
    "unknown tag": (*_meta(lambda d: d["attributes"]["fidelity_"].update(value={"$eval": "1"})), "unknown tag"),
    "teacher adapter": (*_meta(lambda d: d["attributes"]["teacher_"].update(model="Pickle")), "unknown teacher"),
    "rule predicts an unknown class": ("rules.json", lambda p: _edit_json(
        p, lambda d: d["rules"][0].update(prediction="maybe")), r"rules\.json is not a valid rule set"),
    "rules as a path": ("rules.json", _replace("/etc/passwd"), r"rules\.json is not valid JSON"),
    "rules with NaN": ("rules.json", _replace('{"format": NaN}'), r"rules\.json is malformed.*NaN"),
    "duplicate keys": ("domain.json", _replace('{"format": "rulekd.domain", "format": "x"}'), "appears twice"),
    "domain kind": ("domain.json", lambda p: _edit_json(p, lambda d: d["features"][0].update(kind="weird")),
                    r"domain\.json is not a valid Domain"),
    "teacher not xgboost": ("teacher.json", _replace('{"learner": 1, "version": [3, 2, 0]}'),
                            r"teacher\.json is not an XGBoost tree model rulekd can load safely"),
    "tree with a bad parent": ("teacher.json", lambda p: _edit_json(  # XGBoost itself segfaults on this file
        p, lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0]["parents"].__setitem__(1, -1)),
        r"teacher\.json.*tree 0: parents"),
    "tree with bad category segments": ("teacher.json", lambda p: _edit_json(
        p, lambda d: d["learner"]["gradient_booster"]["model"]["trees"][0].update(categories_sizes=[100000])),
        r"teacher\.json.*tree 0: category segments"),
    "category encoder out of range": ("teacher.json", lambda p: _edit_json(
        p, lambda d: d["learner"]["gradient_booster"]["model"]["cats"].update(feature_segments=[0, 1])),
        r"teacher\.json.*cats\.feature_segments"),
    "teacher not json": ("teacher.json", _replace("\x80\x04garbage"), r"teacher\.json"),
    "metadata not utf-8": ("metadata.json", lambda p: Path(p).write_bytes(b"\xff\xfe{}"), "not valid UTF-8"),
    "extra listed file": ("extra.json", _replace("{}"), r"extra\.json.*not part of the model"),
}


@pytest.mark.parametrize("case", list(MALICIOUS))
def test_load_validates_content_even_when_the_manifest_matches(rules_dir, case):
    name, change, message = MALICIOUS[case]
    change(rules_dir / name)
    _rehash(rules_dir)
    with pytest.raises(ModelDirectoryError, match=message):
        load(rules_dir)


def _nan_weight(path):
    """The first layer's first weight made NaN (a well-formed archive otherwise)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["coefs_.0"] = arrays["coefs_.0"].copy()
    arrays["coefs_.0"][0, 0] = np.nan
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    Path(path).write_bytes(buf.getvalue())


def _steps(doc):
    """The step columns (threshold_inputs) of a saved neural student's encoding, those of its first
    feature with more than one."""
    steps = [e for e in doc["attributes"]["encoding_"]["value"] if e["kind"] == "step"]
    first = next(e["feature"] for e in steps if sum(x["feature"] == e["feature"] for x in steps) > 1)
    return [e for e in steps if e["feature"] == first]


MALICIOUS_MLP = {
    "NaN weight": ("arrays.npz", _nan_weight, "NaN or infinity"),  # loaded, and predict_proba answered NaN
    "pickled object in the archive": ("arrays.npz", _object_npz, r"arrays\.npz.*dtype object"),
    "encoding unlike the Domain": (
        *_meta(lambda d: d["attributes"]["encoding_"]["value"][0].update(feature="duration")),
        r"encoding_\[0\] must be a onehot column of 'status'"),
    "step thresholds out of order": (*_meta(lambda d: _steps(d)[0].update(threshold=1e9)), "must increase"),
    "step threshold not a number": (*_meta(lambda d: _steps(d)[0].update(threshold="5")), "finite float threshold"),
    "step of a categorical feature": (*_meta(lambda d: _steps(d)[0].update(feature="status")),
                                      r"step columns of \['status'\], which are not numeric"),
    "history wrong type": (*_meta(lambda d: d["attributes"]["history_"].update(value=[["x"]])), "history_"),
    "network spec unlike the weights": (
        *_meta(lambda d: d["attributes"]["module_"]["spec"].__setitem__(2, [10**9])), "module_.*shape"),
    "network inputs unlike the layout": (  # a loop over 10**12 inputs before any check
        *_meta(lambda d: d["attributes"]["module_"]["spec"].__setitem__(0, 10**12)), "does not match its input layout"),
}


@pytest.mark.parametrize("case", list(MALICIOUS_MLP))
def test_load_validates_the_neural_student(mlp_dir, case):
    name, change, message = MALICIOUS_MLP[case]
    change(mlp_dir / name)
    _rehash(mlp_dir)
    with pytest.raises(ModelDirectoryError, match=message):
        load(mlp_dir)


def test_load_refuses_an_invalid_manifest_name(rules_dir):
    _edit_json(rules_dir / "manifest.json",
               lambda d: d["files"].update({"../outside.json": {"sha256": "0" * 64, "size": 0}}))
    with pytest.raises(ModelDirectoryError, match=r"invalid file name '\.\./outside\.json'"):
        load(rules_dir)


# -- refusals: saving -------------------------------------------------------------------------------------
def test_save_refuses_an_unfitted_or_foreign_estimator(credit, tmp_path):
    X, y, _ = credit
    with pytest.raises(NotFittedError):
        save(DistilledRuleClassifier(), tmp_path / "a")
    with pytest.raises(ModelDirectoryError, match="rulekd estimators only"):
        save(DecisionTreeClassifier(max_depth=2).fit(X.select_dtypes("number"), y), tmp_path / "b")
    assert not any(tmp_path.iterdir())


def test_save_refuses_undeclared_fitted_state(saved, tmp_path):
    m = load(saved["rules"])
    m.extra_ = 1
    with pytest.raises(ModelDirectoryError, match=r"\['extra_'\]"):
        save(m, tmp_path / "model")
    assert not any(tmp_path.iterdir())


def test_save_never_replaces_another_folder(saved, tmp_path):
    m = load(saved["rules"])
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    with pytest.raises(ModelDirectoryError, match="already exists and is not empty.*overwrite=True"):
        save(m, user)
    with pytest.raises(ModelDirectoryError, match="not a rulekd model directory"):
        save(m, user, overwrite=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelDirectoryError, match="is not a folder"):
        save(m, tmp_path / "file", overwrite=True)
    # A model directory with a file of the user's added is not replaced either.
    folder = save(m, tmp_path / "model")
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ModelDirectoryError, match="not a rulekd model directory"):
        save(m, folder, overwrite=True)
    assert (user / "thesis.tex").read_text() == "precious" and (folder / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "mine", "model"]  # no temporary folders left


def test_save_overwrites_only_a_model_directory(saved, tmp_path, credit):
    rules, mlp = load(saved["rules"]), load(saved["mlp"])
    folder = save(rules, tmp_path / "model")
    with pytest.raises(ModelDirectoryError, match="already exists"):
        save(mlp, folder)
    assert type(load(folder)) is DistilledRuleClassifier
    save(mlp, folder, overwrite=True)
    assert type(load(folder)) is DistilledMLPClassifier
    (tmp_path / "empty").mkdir()
    save(rules, tmp_path / "empty")  # an empty folder is filled
    assert type(load(tmp_path / "empty")) is DistilledRuleClassifier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "model"]
    assert not (folder / "rules.json").exists()  # nothing of the replaced model is left


# -- random damage -----------------------------------------------------------------------------------------
def _damage(folder, data, rehash):
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    path = files[data.draw(st.integers(0, len(files) - 1), label="file")]
    raw = bytearray(path.read_bytes())
    op = data.draw(st.sampled_from(["flip", "truncate", "flip-many"]), label="op")
    if op == "truncate":
        raw = raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), label="keep")]
    else:
        n = 1 if op == "flip" else data.draw(st.integers(2, 8), label="n")
        places = data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=n, unique=True), label="at")
        for i in places:
            raw[i] ^= data.draw(st.integers(1, 255), label="mask")
    path.write_bytes(bytes(raw))
    if rehash:
        _rehash(folder)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), which=st.sampled_from(["rules", "mlp"]))
def test_random_damage_is_always_refused(saved, data, which):
    with tempfile.TemporaryDirectory() as tmp:
        folder = shutil.copytree(saved[which], os.path.join(tmp, "model"))
        _damage(folder, data, rehash=False)
        with pytest.raises(ModelDirectoryError):
            load(folder)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), which=st.sampled_from(["rules", "mlp"]))
def test_random_edits_with_a_matching_manifest_give_a_model_or_a_clean_error(saved, data, which):
    with tempfile.TemporaryDirectory() as tmp:
        folder = shutil.copytree(saved[which], os.path.join(tmp, "model"))
        _damage(folder, data, rehash=True)
        try:
            load(folder)
        except ModelDirectoryError:
            pass


# -- guards and format versions (each case once failed) ---------------------------------------------
def _guarded_hybrid(X, y, guard):
    from rulekd import HybridClassifier

    return HybridClassifier(teacher=_teacher(), n_synthetic=200, max_rules=3, random_state=0, guards=[guard],
                            student=DistilledMLPClassifier(hidden_layer_sizes=(4,), max_epochs=3,
                                                           n_synthetic=200)).fit(X, y)


@pytest.mark.filterwarnings("ignore:.*candidate rule\\(s\\) contradict a guard")  # expected: rules set aside
@pytest.mark.parametrize("labels", ["bool", "bigint"])
def test_a_hybrid_guarding_a_bool_or_huge_integer_label_loads_back(tmp_path, labels):
    """The guard's text names the label (`then True`, `then 1152921504606846977`): it must parse back."""
    from sklearn.base import clone

    from rulekd.verify import Implies

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    positive = (X.a + X.b > 0).to_numpy()
    y = positive if labels == "bool" else np.where(positive, 2**60 + 1, 7)
    then = True if labels == "bool" else 2**60 + 1
    model = _guarded_hybrid(X, y, Implies("a > 1.5", then=then))
    back = load(save(model, tmp_path / "h"))
    _same_bits(back.predict(X), model.predict(X))
    _same_bits(back.predict_proba(X), model.predict_proba(X))
    assert back.guards_[0].then == then and type(back.guards_[0].then) is type(then)
    # the guards parameter comes back too, so a clone refitted keeps enforcing the guard
    assert back.get_params()["guards"] == model.get_params()["guards"]
    refit = clone(back).fit(X, y)
    assert [g.text() for g in refit.guards_] == [g.text() for g in model.guards_]


@pytest.mark.filterwarnings("ignore:.*candidate rule\\(s\\) contradict a guard")
def test_a_hybrid_lacking_a_monotone_guards_grid_is_refused_at_load(credit, tmp_path):
    """It loaded, and predict failed: "No grid for the Monotone guard(s) on ['duration']"."""
    X, y, _ = credit
    folder = save(_guarded_hybrid(X, y, "monotone duration increasing toward 1"), tmp_path / "h")
    assert type(load(folder)).__name__ == "HybridClassifier"
    _edit_json(folder / "metadata.json", lambda d: d["attributes"]["guard_grids_"].update(value={}))
    _rehash(folder)
    with pytest.raises(ModelDirectoryError, match=r"lacks the grid of the Monotone guard\(s\) on \['duration'\]"):
        load(folder)


def test_a_newer_format_version_is_named_before_its_new_keys(saved, tmp_path):
    import shutil

    for name in ("metadata.json", "manifest.json"):
        folder = tmp_path / name.split(".")[0]
        shutil.copytree(saved["rules"], folder)
        _edit_json(folder / name, lambda d: d.update(version=2, signature="abc"))
        if name == "metadata.json":
            _rehash(folder)
        kind, msg = _message(load, folder)
        assert kind is ModelDirectoryError and "format version 2 is not supported" in msg, msg


def test_a_loaded_xgboost_teacher_keeps_its_parameters(rules_dir):
    """Regression: the booster's JSON keeps the trees, not XGBClassifier's parameters, so a loaded model's
    teacher (and every `rulekd audit` report) said n_estimators None, max_depth None."""
    model = load(rules_dir)
    saved_params = json.loads((rules_dir / "metadata.json").read_text())["attributes"]["teacher_"]["params"]
    params = model.teacher_.estimator.get_params()
    assert params["n_estimators"] == saved_params["n_estimators"] is not None
    assert params["max_depth"] == saved_params["max_depth"] is not None
    _edit_json(rules_dir / "metadata.json",
               lambda d: d["attributes"]["teacher_"]["params"].update(n_estimators=[1, 2]))
    _rehash(rules_dir)
    with pytest.raises(ModelDirectoryError, match="not XGBClassifier parameters"):
        load(rules_dir)


def test_an_xgboost_teacher_with_extra_keyword_parameters_saves_and_loads(credit, tmp_path):
    """Regression (this session's params): XGBClassifier(nthread=1) kept nthread among its parameters, which
    the load-time check of known names refused."""
    X, y, Xt = credit
    model = _make(DistilledRuleClassifier, teacher=XGBClassifier(n_estimators=5, max_depth=2, nthread=1,
                                                                 enable_categorical=True)).fit(X, y)
    back = load(save(model, tmp_path / "m"))
    assert back.teacher_.estimator.get_params()["nthread"] == 1
    np.testing.assert_array_equal(back.predict(Xt), model.predict(Xt))


# -- file writing (rulekd._io) ------------------------------------------------------------------------
def test_a_replaced_file_keeps_its_permissions(tmp_path):
    import os
    import stat

    from rulekd._io import write_text

    p = tmp_path / "predictions.csv"
    p.write_text("old", encoding="utf-8")
    os.chmod(p, 0o600)  # private predictions stay private (the replacement was 0o644)
    write_text(p, "new", overwrite=True)
    assert p.read_text(encoding="utf-8") == "new"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_a_saved_folder_keeps_the_permissions_of_the_folder_it_replaces(saved, tmp_path):
    """An empty 0700 folder, or a 0700 model directory replaced with overwrite=True, became 0755."""
    import stat

    rules = load(saved["rules"])
    for name, first in (("empty", None), ("model", rules)):
        folder = tmp_path / name
        if first is None:
            folder.mkdir()
        else:
            save(first, folder)
        os.chmod(folder, 0o700)
        save(rules, folder, overwrite=True)
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        assert type(load(folder)) is DistilledRuleClassifier


def test_a_failed_save_into_an_empty_folder_keeps_the_folder(saved, tmp_path, monkeypatch):
    """The empty folder was removed before the final rename; when that failed, the user's folder was gone."""
    rules = load(saved["rules"])
    (tmp_path / "empty").mkdir()
    real = os.rename
    monkeypatch.setattr(persist.os, "rename", lambda a, b: (_ for _ in ()).throw(OSError(5, "simulated I/O error"))
                        if ".rulekd-tmp-" in str(a) else real(a, b))
    with pytest.raises(OSError, match="simulated"):
        save(rules, tmp_path / "empty")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not any((tmp_path / "empty").iterdir())


def test_a_failed_save_removes_the_folders_it_created(saved, tmp_path, monkeypatch):
    """save(model, 'a/b/model') made a/ and a/b/; a save that failed left them behind, empty."""
    rules = load(saved["rules"])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "keep.txt").write_text("user's", encoding="utf-8")
    real = os.rename
    monkeypatch.setattr(persist.os, "rename", lambda a, b: (_ for _ in ()).throw(OSError(5, "simulated I/O error"))
                        if ".rulekd-tmp-" in str(a) else real(a, b))
    with pytest.raises(OSError, match="simulated"):
        save(rules, tmp_path / "a" / "b" / "c" / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # a/ was there before: kept
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["keep.txt"]
    monkeypatch.undo()
    assert type(load(save(rules, tmp_path / "a" / "b" / "c" / "model"))) is DistilledRuleClassifier


def test_an_overwrite_whose_undo_fails_says_where_the_old_model_is(saved, tmp_path, monkeypatch):
    rules = load(saved["rules"])
    save(rules, tmp_path / "m")
    real = os.rename
    monkeypatch.setattr(persist.os, "rename", lambda a, b: (_ for _ in ()).throw(OSError(5, "simulated I/O error"))
                        if ".rulekd-" in str(a) else real(a, b))
    with pytest.raises(ModelDirectoryError, match="the old model directory is at .*rulekd-old-.*; rename it back"):
        save(rules, tmp_path / "m", overwrite=True)
    old = [p for p in tmp_path.iterdir() if ".rulekd-old-" in p.name]
    assert len(old) == 1 and type(load(old[0])) is DistilledRuleClassifier  # the old model, whole


def test_an_old_model_that_cannot_be_deleted_is_named(saved, tmp_path, monkeypatch):
    rules = load(saved["rules"])
    save(rules, tmp_path / "m")
    monkeypatch.setattr(persist.shutil, "rmtree", lambda *a, **k: None)  # as when the old copy is read-only
    with pytest.warns(UserWarning, match="could not be deleted .*delete it yourself"):
        save(rules, tmp_path / "m", overwrite=True)


def test_an_unreadable_folder_is_a_permission_error_not_a_damaged_model(saved, tmp_path, monkeypatch):
    """os.walk skipped a folder it could not list: 'has no manifest.json' / 'listed ... but missing'."""
    folder = Path(shutil.copytree(saved["mlp"], tmp_path / "m"))
    real = os.scandir

    def scandir(path=".", *a):
        if os.fspath(path) == os.fspath(folder):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(PermissionError, match=r"Cannot list the folder .*/m' of the model directory .* fix its"):
        load(folder)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads file descriptors' paths from /proc")
def test_writes_reach_the_disk_before_and_after_their_renames(saved, tmp_path, monkeypatch):
    """A file's content is synced before the rename makes it the file, and the folder after it (a power
    loss could otherwise leave an empty file, or the old one, after a write that had returned)."""
    from rulekd._io import write_text

    synced: list[str] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd)))
    p = tmp_path / "out.txt"
    p.write_text("old", encoding="utf-8")
    write_text(p, "new", overwrite=True)
    assert synced[0].endswith(".tmp") and synced[1] == str(tmp_path)
    synced.clear()
    model = load(saved["rules"])
    target = save(model, tmp_path / "sub" / "model")
    files = {Path(s_).name for s_ in synced if "rulekd-tmp-" in Path(s_).parent.name}
    assert files == {f.name for f in target.iterdir()}
    assert any(Path(s_).name.startswith(".model.rulekd-tmp-") for s_ in synced)  # the new folder's entries
    assert synced[-1] == str(tmp_path / "sub")  # the folder the model directory was renamed into


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_failed_write_leaves_no_file_behind(tmp_path, overwrite):
    from rulekd._io import write_text

    p = tmp_path / "out.txt"
    if overwrite:
        p.write_text("kept", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text(p, "ok\ud800", overwrite=overwrite)  # a lone surrogate cannot be written as UTF-8
    assert sorted(x.name for x in tmp_path.iterdir()) == (["out.txt"] if overwrite else [])
    if overwrite:
        assert p.read_text(encoding="utf-8") == "kept"
    write_text(p, "fine", overwrite=overwrite)  # the retry finds the path free (or replaces it)
    assert p.read_text(encoding="utf-8") == "fine"


def _categorical_tree(k):
    """One XGBoost tree whose k categorical splits all name category 2**24 - 1 (a 2 MiB bit field each)."""
    n = 2 * k + 1
    left, right, parents = [-1] * n, [-1] * n, [0] * n
    parents[0] = 2147483647
    for i in range(k):
        a = i + 1 if i < k - 1 else k
        left[i], right[i] = a, k + 1 + i
        parents[a], parents[k + 1 + i] = i, i
    return {"base_weights": [0.0] * n, "categories": [2**24 - 1] * k, "categories_nodes": list(range(k)),
            "categories_segments": list(range(k)), "categories_sizes": [1] * k, "default_left": [0] * n, "id": 0,
            "left_children": left, "loss_changes": [0.0] * n, "parents": parents, "right_children": right,
            "split_conditions": [0.0] * n, "split_indices": [0] * n, "split_type": [1] * k + [0] * (k + 1),
            "sum_hessian": [1.0] * n,
            "tree_param": {"num_deleted": "0", "num_feature": None, "num_nodes": str(n), "size_leaf_vector": "1"}}


def test_a_teacher_whose_category_sets_would_need_gigabytes_is_refused(rules_dir):
    def edit(doc):
        learner = doc["learner"]
        n_feature = int(learner["learner_model_param"]["num_feature"])
        learner["feature_types"] = ["c"] * n_feature
        model = learner["gradient_booster"]["model"]
        model.pop("cats", None)
        tree = _categorical_tree(400)  # 44 KB of JSON; XGBoost allocated 1 GB loading it
        tree["tree_param"]["num_feature"] = str(n_feature)
        model["trees"] = [tree]
        model["gbtree_model_param"]["num_trees"] = "1"
        model["tree_info"] = [0]
        model["iteration_indptr"] = [0, 1]

    _edit_json(rules_dir / "teacher.json", edit)
    _rehash(rules_dir)
    with pytest.raises(ModelDirectoryError, match="categorical splits would need .* bits"):
        load(rules_dir)


def test_a_file_larger_than_a_model_file_can_be_is_refused_before_reading(rules_dir):
    big = rules_dir / "teacher.json"
    with open(big, "r+b") as fh:  # sparse: no disk, but reading it would take a gigabyte of memory
        fh.truncate(1 << 30)
    _edit_json(rules_dir / "manifest.json", lambda d: d["files"]["teacher.json"].update(size=1 << 30))
    with pytest.raises(ModelDirectoryError, match="a model file may have at most"):
        load(rules_dir)


def test_a_hybrid_is_checked_as_a_whole(credit, tmp_path):
    from rulekd import HybridClassifier

    X, y, _ = credit
    h = HybridClassifier(teacher=_teacher(), rules=_make(DistilledRuleClassifier),
                         student=_make(DistilledMLPClassifier), n_synthetic=300, random_state=0,
                         guards=["invariant status_sex"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # candidate rules set aside for the guard
        h.fit(X, _labels(y, "str"))
    folder = save(h, tmp_path / "h")
    bad_guard = Path(shutil.copytree(folder, tmp_path / "g"))
    _edit_json(bad_guard / "metadata.json",
               lambda d: d["attributes"]["guards_"].update(value=["if zz > 1 then 'nope'"]))
    _rehash(bad_guard)
    with pytest.raises(ModelDirectoryError, match="inconsistent.*'zz'"):
        load(bad_guard)  # loaded before; predict failed with KeyError: 'zz'
    swapped = Path(shutil.copytree(folder, tmp_path / "s"))
    shutil.rmtree(swapped / "student")
    other = save(_make(DistilledMLPClassifier).fit(X, y), tmp_path / "other")  # other classes: 0 / 1
    shutil.copytree(other, swapped / "student")
    _rehash(swapped)
    with pytest.raises(ModelDirectoryError, match="student_ answers the classes"):
        load(swapped)


def _one_more_feature(doc):
    learner = doc["learner"]
    n = int(learner["learner_model_param"]["num_feature"]) + 1
    learner["learner_model_param"]["num_feature"] = str(n)
    for key, extra in (("feature_names", "extra"), ("feature_types", "float")):
        if learner.get(key):
            learner[key] = learner[key] + [extra]
    for tree in learner["gradient_booster"]["model"]["trees"]:
        tree["tree_param"]["num_feature"] = str(n)


def test_a_teacher_for_other_features_is_refused(credit, tmp_path):
    X, X_test = _inputs(credit, "array")  # numbers only: the teacher has no category encoder to extend
    folder = save(_make(DistilledRuleClassifier).fit(X, credit[1]), tmp_path / "m")
    _edit_json(folder / "teacher.json", _one_more_feature)
    _rehash(folder)
    with pytest.raises(ModelDirectoryError, match=r"the teacher reads (\d+) features, the model"):
        load(folder)



def test_a_teacher_too_large_for_a_model_file_is_left_out_at_save(credit, tmp_path, monkeypatch):
    import rulekd._persist as P

    X, y, X_test = credit
    model = _make(DistilledRuleClassifier).fit(X, y)
    monkeypatch.setattr(P, "_MAX_FILE_BYTES", 1000)  # as a 300 MB teacher against the real cap
    folder = save(model, tmp_path / "m")
    assert not (folder / "teacher.json").exists()
    meta = json.loads((folder / "metadata.json").read_text())
    assert "more than the 1000 a model file may hold" in meta["attributes"]["teacher_"]["reason"]
    monkeypatch.undo()
    again = load(folder)  # the folder save wrote loads (refused as damaged before)
    _same_bits(again.predict_proba(X_test), model.predict_proba(X_test))


def test_labels_of_a_wide_dtype_round_trip(credit, tmp_path):
    X, y, X_test = credit
    labels = np.where(y == 1, "bad", "good").astype("<U5000")  # numpy keeps y's width in classes_
    model = _make(DistilledTreeClassifier).fit(X, labels)
    again = load(save(model, tmp_path / "m"))
    assert again.classes_.dtype == model.classes_.dtype
    _same_bits(again.predict(X_test), model.predict(X_test))


def test_a_file_with_a_long_legal_name_can_be_replaced(tmp_path):
    from rulekd._io import write_text

    p = tmp_path / ("r" * 245 + ".csv")  # 249 bytes: legal; its temporary name was not
    write_text(p, "old")
    write_text(p, "new", overwrite=True)
    assert p.read_text(encoding="utf-8") == "new"



def test_a_model_load_would_refuse_is_not_saved(credit, tmp_path):
    X, y, _ = credit
    net = _make(DistilledMLPClassifier).fit(X, y)
    net.coefs_[0][0, 0] = np.nan  # as a diverged fit leaves it: saved before, then refused at every load
    with pytest.raises(ModelDirectoryError, match="cannot be saved: layer 0: the weights hold NaN"):
        save(net, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_hybrid_with_given_rules_testing_numbers_by_sets_saves_and_loads(tmp_path):
    """Regression: a candidate `a in {2, 6}` on an integer feature (or `c > 1` on number levels) fitted,
    answered and was proved, then save refused it as a comparison its feature's kind does not allow."""
    import warnings

    from xgboost import XGBClassifier

    from rulekd import Condition, DistilledMLPClassifier, Domain, FeatureSpec, HybridClassifier, Rule, RuleSet

    rng = np.random.default_rng(0)
    dom = Domain((FeatureSpec("a", "integer", 0, 6), FeatureSpec("c", "categorical", levels=(1, 2, 3))))
    X = pd.DataFrame({"a": rng.integers(0, 7, 300).astype(float),
                      "c": pd.Categorical(rng.integers(1, 4, 300), categories=[1, 2, 3])})
    y = (X.a.isin([2, 6]) | (X.c == 3)).astype(int)
    given = RuleSet((Rule((Condition("a", "in", frozenset({2, 6})),), 1), Rule((Condition("c", ">", 2.0),), 1)),
                    classes=(0, 1), default=0, ordered=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = HybridClassifier(teacher=XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1, enable_categorical=True),
                             rules=given, student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
                             transparency=0.6, n_synthetic=1000, domain=dom, random_state=0).fit(X, y)
    assert any(c.is_categorical for r in h.rule_path_.rules for c in r.conditions if c.feature == "a")
    save(h, tmp_path / "m")
    back = load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(X), h.predict_proba(X))
    assert back.decided_by(X).tolist() == h.decided_by(X).tolist()


def test_a_leading_tilde_is_the_home_folder(saved, tmp_path, monkeypatch):
    """`save(m, "~/models/x")` made a folder named `~` in the working directory (and load looked there);
    rules, Domain and report files written or read by path did the same."""
    from rulekd import RuleSet

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    model = load(saved["rules"])
    folder = save(model, "~/models/credit")
    assert folder == home / "models" / "credit" and (folder / "manifest.json").is_file()
    assert not (work / "~").exists()
    back = load("~/models/credit")
    assert back.rules_ == model.rules_
    model.rules_.to_json("~/rules.json")
    assert (home / "rules.json").is_file() and not (work / "~").exists()
    assert RuleSet.from_json("~/rules.json") == model.rules_
    assert RuleSet.from_json(Path("~/rules.json")) == model.rules_
