"""DistilledMLPClassifier: fidelity, determinism, invariance, validation, export."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from rulekd.students._mlp import DistilledMLPClassifier  # noqa: E402
from rulekd.students._tree import DistilledTreeClassifier  # noqa: E402
from rulekd.teachers import TorchTeacher  # noqa: E402

FAST = dict(hidden_layer_sizes=(8,), n_synthetic=300, max_epochs=8, random_state=0)


@pytest.fixture(scope="module")
def problem():
    X, y = make_classification(n_samples=400, n_features=5, n_informative=3, random_state=0)
    teacher = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0).fit(X[:300], y[:300])
    return X, y, teacher


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.lognormal(3, 1, n),
        "job": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        "country": pd.Categorical(rng.choice([f"k{i}" for i in range(12)], n)),
    })
    X.loc[rng.random(n) < 0.1, "income"] = np.nan
    y = ((X["age"] > 45) ^ (X["job"] == "b")).astype(int).to_numpy()
    return X, y


def _small_xgb():
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True, random_state=0)


@pytest.fixture(scope="module")
def fitted(mixed):
    X, y = mixed
    return DistilledMLPClassifier(teacher=_small_xgb(), categorical_encoding="embedding", threshold_inputs=24,
                                  **FAST).fit(X, y)


# -- learning ---------------------------------------------------------------------------------
def test_student_of_a_fixed_teacher_reaches_high_fidelity_on_new_rows(problem):
    X, y, teacher = problem
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), hidden_layer_sizes=(32, 16), n_synthetic=2000,
                               learning_rate=1e-2, max_epochs=60, random_state=0).fit(X[:300], y[:300])
    fidelity = np.mean(m.predict(X[300:]) == teacher.predict(X[300:]))
    assert fidelity >= 0.9
    assert m.fidelity_ >= 0.85
    assert set(m.history_[0]) >= {"epoch", "train_loss", "val_loss", "label", "response", "feature", "relation"}
    assert m.feature_kind_ == "leaf_embedding"
    assert set(m.loss_scales_) == {"hint", "distance", "angle", "similarity"}
    assert set(m.initial_losses_) == {"label", "response", "hint", "distance", "angle", "similarity"}
    assert all(m.initial_losses_[k] == m.loss_scales_[k] for k in m.loss_scales_)


def test_each_knowledge_kind_alone_trains_its_terms(problem):
    X, y, teacher = problem
    for kind, term in [("response", "response"), ("feature", "feature"), ("relation", "relation")]:
        m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), knowledge=(kind,), **FAST).fit(X[:300], y[:300])
        assert term in m.history_[0] and "label" in m.history_[0]
        others = {"response", "feature", "relation"} - {term}
        assert not others & set(m.history_[0])


def test_label_only_mlp_without_synthetic_rows(problem):
    X, y, teacher = problem
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), knowledge=(), n_synthetic=0,
                               hidden_layer_sizes=(8,), max_epochs=30, random_state=0).fit(X[:300], y[:300])
    assert m.feature_kind_ is None and m.loss_scales_ == {}
    assert np.mean(m.predict(X[300:]) == y[300:]) > 0.75


# -- determinism and invariance -----------------------------------------------------------------
def test_same_random_state_gives_identical_model_and_leaves_global_rng_alone(mixed):
    X, y = mixed
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    threads = torch.get_num_threads()
    kw = dict(teacher=_small_xgb(), **FAST)
    a = DistilledMLPClassifier(**kw).fit(X, y)
    b = DistilledMLPClassifier(**kw).fit(X, y)
    for (Wa, ba), (Wb, bb) in zip(a.weights(), b.weights()):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    assert [h["train_loss"] for h in a.history_] == [h["train_loss"] for h in b.history_]
    c = DistilledMLPClassifier(**{**kw, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.weights()[0][0], c.weights()[0][0])
    assert torch.equal(torch_state, torch.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])
    assert torch.get_num_threads() == threads


def test_predict_does_not_depend_on_batch_size_or_row_order(fitted, mixed):
    X, _ = mixed
    big = pd.concat([X] * 10, ignore_index=True)  # 3,000 rows: more than one prediction block
    full = fitted.predict_proba(big)
    one_by_one = np.vstack([fitted.predict_proba(X.iloc[[i]]) for i in range(0, len(X), 7)])
    np.testing.assert_array_equal(one_by_one, full[: len(X)][::7])
    chunks = np.vstack([fitted.predict_proba(big.iloc[i:i + 333]) for i in range(0, len(big), 333)])
    np.testing.assert_array_equal(chunks, full)
    perm = np.random.default_rng(0).permutation(len(big))
    np.testing.assert_array_equal(fitted.predict_proba(big.iloc[perm]), full[perm])
    np.testing.assert_array_equal(fitted.predict(big), fitted.classes_[np.argmax(full, axis=1)])


def test_predict_encodes_large_inputs_in_chunks_with_the_same_result(fitted, mixed, monkeypatch):
    import rulekd.students._mlp as mlp

    X, _ = mixed
    big = pd.concat([X] * 10, ignore_index=True)
    whole = fitted.decision_function(big)
    labels = fitted.predict(big)
    monkeypatch.setattr(mlp, "_CHUNK", 700)  # 3,000 rows: five chunks, the last one short
    np.testing.assert_array_equal(fitted.decision_function(big), whole)
    np.testing.assert_array_equal(fitted.predict(big), labels)


# -- parameters ---------------------------------------------------------------------------------
@pytest.mark.parametrize("params, message", [
    ({"temperature": -1.0},
     r"The 'temperature' parameter of DistilledMLPClassifier must be a float in the range \[0\.001, 1000000\.0\]\. Got -1\.0 instead"),
    ({"knowledge": ("response", "attention")},
     r"The 'knowledge' parameter of DistilledMLPClassifier must be a subset of .*Got \('response', 'attention'\) instead"),
    ({"knowledge": "gradients"}, r"The 'knowledge' parameter of DistilledMLPClassifier must be a subset"),
    ({"hidden_layer_sizes": ()},
     r"The 'hidden_layer_sizes' parameter of DistilledMLPClassifier must be a non-empty sequence of ints >= 1\. Got \(\) instead"),
    ({"hidden_layer_sizes": (8, 0)}, r"The 'hidden_layer_sizes' parameter"),
    ({"knowledge": (), "label_weight": 0.0}, r"nothing to learn from"),
    # feature and relation terms shape the hidden layers only: the output layer stayed at its initial weights
    ({"knowledge": ("feature", "relation"), "label_weight": 0.0}, r"would never train its output layer"),
    ({"knowledge": ("relation",), "label_weight": 0.0}, r"add 'response' to knowledge"),
    ({"device": "gpu-please"}, r"The 'device' parameter of DistilledMLPClassifier must name a torch device"),
    pytest.param({"device": "cuda"}, r"torch sees no CUDA device",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")),
    # torch's own errors (RuntimeError, AssertionError, ModuleNotFoundError) came after the teacher was fitted
    ({"device": "meta"}, r"'meta', which holds no data to train on"),
    ({"device": "hpu"}, r"torch sees no HPU device"),
    pytest.param({"device": "mps"}, r"torch sees no MPS device",
                 marks=pytest.mark.skipif(torch.backends.mps.is_available(), reason="an MPS device is present")),
])
def test_bad_parameters_are_rejected_at_fit_with_sklearn_style_messages(params, message):
    X, y = make_classification(n_samples=30, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    m = DistilledMLPClassifier(**params)  # __init__ only stores
    with pytest.raises(InvalidParameterError, match=message):
        m.fit(X, y)
    assert not hasattr(m, "teacher_")  # rejected before anything is fitted


# -- inputs, encoding, weights --------------------------------------------------------------------
def test_encoding_describes_standardised_numbers_indicators_and_one_hot(fitted, mixed):
    X, _ = mixed
    kinds = [(e["name"], e["kind"]) for e in fitted.encoding_]
    assert ("age", "numeric") in kinds and ("income__missing", "missing_indicator") in kinds
    assert ("job=b", "onehot") in kinds and ("country=k11", "onehot") in kinds
    E = fitted.encode(X)
    assert E.shape == (len(X), len(fitted.encoding_))
    j = [e["name"] for e in fitted.encoding_].index("income")
    assert abs(E[:, j].mean()) < 1e-9  # standardised on the real rows, missing imputed to the mean
    miss = X["income"].isna().to_numpy()
    np.testing.assert_array_equal(E[:, j + 1], miss)
    assert np.all(E[miss, j] == 0.0)
    jobs = [i for i, e in enumerate(fitted.encoding_) if e["feature"] == "job"]
    np.testing.assert_array_equal(E[:, jobs].sum(axis=1), 1.0)


def test_weights_are_a_relu_network_over_the_encoded_input(fitted, mixed):
    X, _ = mixed
    h = fitted.encode(X)
    layers = fitted.weights()
    assert len(layers) == 2 and layers[-1][0].shape[1] == 1  # one hidden layer; one logit (binary)
    for i, (W, b) in enumerate(layers):
        h = h @ W + b
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(h[:, 0], fitted.decision_function(X), rtol=1e-10, atol=1e-12)
    # the torch module agrees (embeddings of the 3- and 12-level features folded into the first layer)
    assert [(b - a, d) for a, b, d in fitted._embedded_] == [(3, 2), (12, 6)]
    n_steps = sum(e["kind"] == "step" for e in fitted.encoding_)  # the teacher's cuts as inputs
    assert n_steps > 0
    assert fitted.n_parameters_ == 3 * 2 + 12 * 6 + (3 + 2 + 6 + n_steps) * 8 + 8 + 8 + 1  # 3 numeric inputs
    with torch.no_grad():
        z = fitted.module_(torch.as_tensor(fitted.encode(X), dtype=torch.float32)).numpy()[:, 0]
    np.testing.assert_allclose(z, fitted.decision_function(X), atol=1e-4)


def test_auto_encoding_embeds_only_where_it_saves_parameters(mixed):
    X, y = mixed
    small = DistilledMLPClassifier(teacher=_small_xgb(), knowledge=(), **FAST).fit(X, y)
    assert small._embedded_ == []  # 12 levels into 8 units: one-hot is smaller
    wide = DistilledMLPClassifier(teacher=_small_xgb(), knowledge=(), **{**FAST, "hidden_layer_sizes": (32,)}).fit(X, y)
    assert [(b - a) for a, b, _ in wide._embedded_] == [12]


def test_parameter_count_of_a_one_hot_network():
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2), hidden_layer_sizes=(6, 3),
                               knowledge=("response",), n_synthetic=50, max_epochs=2, threshold_inputs=0,
                               random_state=0).fit(X, y)
    assert m.n_parameters_ == (4 * 6 + 6) + (6 * 3 + 3) + (3 * 1 + 1)


def test_multiclass_string_labels_and_a_torch_teacher():
    X, y = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    with torch.random.fork_rng():  # a fixed teacher, without touching the global RNG state
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    labels = np.array(["low", "mid", "high"])
    teacher = TorchTeacher(net, classes=labels)
    m = DistilledMLPClassifier(teacher=teacher, **FAST).fit(X, labels[y])
    assert m.feature_kind_ == "hidden"
    proba = m.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert set(m.predict(X)) <= set(labels) and m.weights()[-1][0].shape[1] == 3


def test_a_float64_torch_teacher_gives_its_hidden_activations():
    """Regression: the hidden-activation hook fed a float64 module float32 input (RuntimeError: mat1 and
    mat2 must have the same dtype), so the default fit failed; the logits already used the module's dtype."""
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).double()
    teacher = TorchTeacher(net, classes=(0, 1))
    m = DistilledMLPClassifier(teacher=teacher, **FAST).fit(X, y)
    assert m.feature_kind_ == "hidden" and np.isfinite(m.history_[-1]["train_loss"])
    assert np.mean(m.predict(X) == teacher.predict(X)) > 0.7


class _NoLinear(torch.nn.Module):
    """A torch teacher built from bare parameters: no nn.Linear to read hidden activations from."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.W = torch.nn.Parameter(torch.randn(4, 2, generator=g))

    def forward(self, x):
        return torch.relu(x) @ self.W


def test_auto_feature_kind_falls_back_to_logits_where_hidden_cannot_be_read():
    """Regression: feature_kind='auto' chose 'hidden' for every torch teacher and the fit failed with
    advice (layer=) the student has no parameter for."""
    X, y = make_classification(n_samples=120, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    teacher = TorchTeacher(_NoLinear(), classes=(0, 1))
    with pytest.warns(UserWarning, match="uses its logits"):
        m = DistilledMLPClassifier(teacher=teacher, **FAST).fit(X, y)
    assert m.feature_kind_ == "logits"
    with pytest.raises(Exception, match="no nn.Linear"):  # asked for explicitly: still an error
        DistilledMLPClassifier(teacher=teacher, feature_kind="hidden", **FAST).fit(X, y)


def test_a_feature_kind_error_offers_only_kinds_the_student_reads():
    """Regression: the message offered 'leaves', which the student's parameter check then refused."""
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="not available") as info:
        DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2), feature_kind="hidden",
                               **FAST).fit(X, y)
    assert "'leaves'" not in str(info.value) and "'leaf_embedding'" in str(info.value)


def test_a_training_loss_that_is_not_finite_is_an_error():
    """Regression: at temperature 1e39 the response loss was NaN in float32; nan < inf never holds, so the
    untrained weights were returned without a word. Such a temperature is now refused as a parameter (as are
    those whose loss rounding loses: 1e5 gave a negative KL in float32); a weight that overflows float32
    still makes the loss infinite."""
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    for T in (1e39, 2e6, 1e-300):
        with pytest.raises(InvalidParameterError, match=r"'temperature' parameter .* range \[0.001, 1000000.0\]"):
            DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2), temperature=T, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="training loss .* is inf .*learning_rate"):
        DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2), response_weight=1e39, **FAST).fit(X, y)


def test_inputs_that_overflow_the_network_are_refused_not_answered_nan():
    """Near the largest double the hidden activations overflow (inf - inf): decision_function and predict_proba
    gave NaN on 1,345 of 2,000 rows and predict answered class 0 for them."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = (X.a + X.b > 0).astype(int).to_numpy()
    m = DistilledMLPClassifier(teacher=_small_xgb(), hidden_layer_sizes=(8, 8), n_synthetic=200, max_epochs=4,
                               random_state=0).fit(X, y)
    Z = pd.DataFrame(rng.choice([-1.7e308, 1.7e308, 0.0], size=(200, 4)), columns=list("abcd"))
    for answer in (m.decision_function, m.predict_proba, m.predict):
        with pytest.raises(ValueError, match=r"row\(s\) overflow the network's float64 arithmetic"):
            answer(Z)
    huge = pd.DataFrame(rng.choice([-1e300, 1e300, 0.0], size=(200, 4)), columns=list("abcd"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's overflow warnings reached the user on the way
        assert np.isfinite(m.predict_proba(huge)).all()  # large but not overflowing: answered, as documented
        np.testing.assert_array_equal(m.predict(huge), m.classes_[m.predict_proba(huge).argmax(axis=1)])


def test_a_high_temperature_loss_is_computed_in_float64():
    """At T = 1e4 the float32 loss was 9 % off (5.81 for 6.38), at 1e5 it could be negative."""
    import torch

    from rulekd.losses import response_loss

    torch.manual_seed(0)
    s, t = torch.randn(256, 3) * 3, torch.randn(256, 3) * 3
    for T in (1e3, 1e4, 1e5):
        got = response_loss(s, t, temperature=T)
        assert got.dtype == torch.float32
        assert float(got) == pytest.approx(float(response_loss(s.double(), t.double(), temperature=T)), rel=1e-6)


def test_relation_knowledge_needs_batches_of_three_rows():
    """Regression: batch_size=2 silently dropped the relation term (or blamed the weights)."""
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    with pytest.raises(InvalidParameterError, match="batch_size must be >= 3"):
        DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2), knowledge=("relation",),
                               batch_size=2, **FAST).fit(X, y)


# -- persistence and export -------------------------------------------------------------------------
def test_pickle_stores_a_cpu_state_dict_and_round_trips(fitted, mixed):
    X, _ = mixed
    state = fitted.__getstate__()
    assert "module_" not in state
    assert all(isinstance(v, torch.Tensor) and v.device.type == "cpu" for v in state["_module_state_"].values())
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.predict_proba(X), fitted.predict_proba(X))
    for key, v in fitted.module_.state_dict().items():
        assert torch.equal(back.module_.state_dict()[key], v)


def test_onnx_export_predicts_like_the_student(fitted, mixed, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    X, _ = mixed
    path = tmp_path / "student.onnx"
    model = fitted.to_onnx(path)
    assert path.exists() and model.graph.input[0].name == "input"
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, proba, label = sess.run(None, {"input": fitted.encode(X).astype(np.float32)})
    np.testing.assert_array_equal(fitted.classes_[label], fitted.predict(X))
    np.testing.assert_allclose(proba, fitted.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(logits[:, 0], fitted.decision_function(X), atol=1e-4)


def test_onnx_export_keeps_an_existing_file_unless_told(fitted, tmp_path):
    """to_onnx(path) wrote over any file at path (onnx.save), where every other writer keeps it."""
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "student.onnx"
    path.write_bytes(b"someone's file")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fitted.to_onnx(path)
    assert path.read_bytes() == b"someone's file"
    model = fitted.to_onnx(path, overwrite=True)
    assert onnx.load(str(path)) == model
    assert [p.name for p in tmp_path.iterdir()] == ["student.onnx"]  # no temporary file left


def test_onnx_export_refuses_an_opset_it_cannot_write(fitted, tmp_path):
    """opset 0 or 5 gave the onnx checker's 'Mismatched attribute type', and a three-class opset 5 wrote a
    file onnxruntime refuses; the newest opset onnx knows is written and checked."""
    onnx = pytest.importorskip("onnx")
    latest = onnx.defs.onnx_opset_version()
    for bad in (0, -1, 5, 6, latest + 1, 7.0, True):
        with pytest.raises(ValueError, match=rf"opset must be an ONNX operator set from 7 .* to {latest}.*got"):
            fitted.to_onnx(tmp_path / "x.onnx", opset=bad)
    assert not (tmp_path / "x.onnx").exists()
    for good in (7, latest):
        onnx.checker.check_model(fitted.to_onnx(opset=good))


def test_onnx_export_multiclass(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    X, y = make_classification(n_samples=150, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3), **FAST).fit(X, y)
    sess = ort.InferenceSession(m.to_onnx().SerializeToString(), providers=["CPUExecutionProvider"])
    _, proba, label = sess.run(None, {"input": m.encode(X).astype(np.float32)})
    np.testing.assert_array_equal(m.classes_[label], m.predict(X))
    np.testing.assert_allclose(proba, m.predict_proba(X), atol=1e-5)


# -- progress -------------------------------------------------------------------
def test_verbose_shows_a_progress_bar_and_silent_by_default(problem, capsys):
    X, y, teacher = problem
    DistilledMLPClassifier(teacher=FrozenEstimator(teacher), **FAST).fit(X, y)
    assert capsys.readouterr().err == ""
    DistilledMLPClassifier(teacher=FrozenEstimator(teacher), verbose=1, **FAST).fit(X, y)
    assert "DistilledMLPClassifier" in capsys.readouterr().err


# Elsewhere: the scikit-learn checks, nested parameters and GridSearchCV (tests/test_conformance.py);
# import without torch and the one-line error naming rulekd[torch] (tests/test_optional_dependencies.py).


def test_canonical_frames_take_the_fast_path_and_predict_the_same(fitted, mixed):
    X, _ = mixed
    fast = fitted.predict_proba(X)  # categorical dtypes with exactly the fitted levels
    slow = fitted.predict_proba(X.astype({"job": object, "country": object}))  # strings: full validation
    np.testing.assert_array_equal(fast, slow)
    reordered = X.assign(job=X["job"].cat.reorder_categories(["c", "b", "a"]))
    np.testing.assert_array_equal(fitted.predict_proba(reordered), fast)
    bad = X.copy()
    bad.loc[3, "age"] = np.inf
    with pytest.raises(ValueError, match="'age' contains infinity"):
        fitted.predict(bad)
    with pytest.raises(ValueError, match="unseen"):
        fitted.predict(X.assign(job=pd.Categorical(["z"] * len(X))))


def test_numeric_only_student_folds_the_standardisation_into_the_first_layer():
    """Numeric-only students predict from raw values through folded weights: the same network."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(400, 4)) * [1.0, 10.0, 100.0, 0.1] + [0.0, 5.0, -50.0, 1.0],
                     columns=["a", "b", "c", "d"])
    X.loc[rng.random(400) < 0.1, "b"] = np.nan  # missing values: imputed inside the folded path
    y = ((X["a"] > 0) ^ (X["c"] > -50)).astype(int).to_numpy()
    tree = DecisionTreeClassifier(max_depth=3, random_state=0)
    m = DistilledMLPClassifier(teacher=tree, threshold_inputs=0, **FAST).fit(X, y)
    assert m._encoding_plan()["numeric_only"] is False  # 'b' has missing values: an indicator column
    Xn = X.fillna(0.0)
    stepped = DistilledMLPClassifier(teacher=tree, threshold_inputs=24, **FAST).fit(Xn, y)._encoding_plan()
    assert stepped["numeric_only"] is False and stepped["raw"] is True  # steps: the raw path, not numeric-only
    m = DistilledMLPClassifier(teacher=tree, threshold_inputs=0, **FAST).fit(Xn, y)
    assert m._encoding_plan()["numeric_only"] is True
    def network(rows):
        h = m.encode(rows)  # a missing 'b' at predict is imputed with the training mean
        for i, (W, b) in enumerate(m.weights()):
            h = h @ W + b
            if i < len(m.weights()) - 1:
                h = np.maximum(h, 0)
        return h[:, 0]

    np.testing.assert_allclose(m.decision_function(Xn), network(Xn), rtol=1e-9, atol=1e-12)  # no missing value
    z = m.decision_function(X)
    np.testing.assert_allclose(z, network(X), rtol=1e-9, atol=1e-12)
    # DataFrame (fast path), numpy (full validation), one row at a time and permuted: bit-identical.
    with pytest.warns(UserWarning, match="valid feature names"):
        np.testing.assert_array_equal(m.decision_function(X.to_numpy()), z)
    np.testing.assert_array_equal(np.concatenate([m.decision_function(X.iloc[[i]]) for i in range(0, 400, 9)]),
                                  z[::9])
    perm = rng.permutation(400)
    np.testing.assert_array_equal(m.decision_function(X.iloc[perm]), z[perm])
    np.testing.assert_array_equal(m.decision_function(X[["b", "a", "c", "d"]]), z)  # realigned by name
    with pytest.raises(ValueError, match="feature names"):
        m.predict(X.rename(columns={"a": "e"}))


# -- float32 decisions -------------------------------------------------------------------------
@pytest.mark.parametrize("sizes, scale", [((5, 8, 1), 1.0), ((30, 32, 16, 1), 1e3), ((12, 4, 3), 1e-3),
                                          ((3, 64, 64, 2), 30.0)])
def test_float32_error_bound_holds_against_extended_precision(sizes, scale):
    """Every float32 logit is within the bound of the exact network (computed in long double)."""
    from rulekd.students._mlp import _BLOCK, _float32_error_bound, _forward_blocks

    rng = np.random.default_rng(len(sizes))
    coefs = [rng.normal(size=(a, b)) * rng.uniform(0.1, 3.0) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) for b in sizes[1:]]
    X = rng.normal(size=(_BLOCK + 300, sizes[0])) * scale * rng.lognormal(0, 2, size=sizes[0])
    v1, alpha, beta = _float32_error_bound(coefs, intercepts)
    z32 = np.empty((len(X), sizes[-1]), dtype=np.float32)
    r = np.empty(len(X), dtype=np.float32)
    _forward_blocks(X, z32, [W.astype(np.float32) for W in coefs], [b.astype(np.float32) for b in intercepts],
                    None, v1=v1.astype(np.float32), r=r)
    h = X.astype(np.longdouble)
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        h = h @ W.astype(np.longdouble) + b.astype(np.longdouble)
        if i < len(coefs) - 1:
            h = np.maximum(h, 0)
    err = np.abs(z32.astype(np.longdouble) - h).max(axis=1)
    bound = alpha * r.astype(np.float64) + beta
    assert (err <= bound).all()
    assert (err > 0).any()  # float32 did round: the bound is what keeps the decisions exact
    assert np.median(bound / np.maximum(np.abs(h).max(axis=1), 1e-30)) < 1e-2  # and it is not vacuous


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_equals_the_float64_logits_on_the_decision_boundary(n_classes):
    """predict runs in float32 but redoes in float64 the rows it cannot decide for certain:
    on rows within 1e-12 of the boundary its labels are still those of decision_function."""
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, n_classes=n_classes,
                               n_clusters_per_class=1, random_state=0)
    X = pd.DataFrame(X * [1.0, 100.0, 0.01, 1.0, 5.0, 1.0], columns=list("abcdef"))
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=4, random_state=0), threshold_inputs=0,
                               **FAST).fit(X, y)
    assert m._encoding_plan()["numeric_only"] is True  # the raw-input path

    def labels(rows):
        z = m.decision_function(rows)
        return m.classes_[(z > 0).astype(int)] if z.ndim == 1 else m.classes_[np.argmax(z, axis=1)]

    def gap(rows):  # distance of the logits to a tie
        z = m.decision_function(rows)
        if z.ndim == 1:
            return np.abs(z)
        top = np.sort(z, axis=1)
        return top[:, -1] - top[:, -2]

    # Bisect between rows of different labels down to the boundary.
    base = labels(X)
    a_rows = np.flatnonzero(base == m.classes_[0])[:40]
    b_rows = np.flatnonzero(base != m.classes_[0])[:40]
    near = []
    for i, j in zip(a_rows, b_rows):
        lo, hi = X.iloc[i].to_numpy(), X.iloc[j].to_numpy()
        la = labels(pd.DataFrame([lo], columns=X.columns))[0]
        for _ in range(80):
            mid = (lo + hi) / 2
            if labels(pd.DataFrame([mid], columns=X.columns))[0] == la:
                lo = mid
            else:
                hi = mid
        near += [lo, hi]
    near = pd.DataFrame(near, columns=X.columns)
    assert gap(near).min() < 1e-9  # truly on the boundary
    calls = []
    forward = m._forward
    m._forward = lambda Xe, raw=False: (calls.append(len(Xe)), forward(Xe, raw))[1]
    try:
        got = m.predict(near)
    finally:
        del m._forward
    np.testing.assert_array_equal(got, labels(near))
    assert sum(calls) >= len(near) // 2  # the boundary rows went through float64
    np.testing.assert_array_equal(m.predict(X), labels(X))


def test_predict_equals_the_float64_logits_where_float32_underflows():
    """The float32 pass's error bound had only relative terms: products below float32's normal range are
    off by up to 2**-150, and with inputs near 1e-41 predict disagreed with decision_function on 73,367 of
    4 million rows (hand-set weights, zero biases)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": np.linspace(0, 10, 50), "b": np.linspace(-5, 5, 50)})
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2, random_state=0), hidden_layer_sizes=(1,),
                               n_synthetic=50, max_epochs=1, early_stopping=False, threshold_inputs=0, random_state=0)
    m.fit(X, (X.a > 5).astype(int))
    m.encoding_ = [dict(e, mean=0.0, scale=1.0, impute=0.0) for e in m.encoding_]
    mismatches = 0
    for _ in range(20):
        w = rng.uniform(-3, 3, 2).astype(np.float32).astype(float)
        m.coefs_ = [np.array([[w[0]], [w[1]]]), np.array([[1.0]])]
        m.intercepts_ = [np.array([0.0]), np.array([0.0])]
        m.__dict__.pop("_f32_cache", None)
        m.__dict__.pop("_plan_cache", None)
        A = rng.uniform(1e-44, 1e-40, (20_000, 2))
        A[:, 1] = -A[:, 0] * w[0] / w[1] * (1 + rng.normal(0, 1e-4, 20_000))
        F = pd.DataFrame(A, columns=["a", "b"])
        mismatches += int(np.sum(m.predict(F) != (m.decision_function(F) > 0).astype(int)))
    assert mismatches == 0


def test_predict_of_values_beyond_float32_range_falls_back_to_float64():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = (X["a"] + X["b"] > 0).astype(int).to_numpy()
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), **FAST).fit(X, y)
    huge = pd.DataFrame([[1e300, 0.0, 0.0], [-1e300, 0.0, 0.0], [0.0, 1e39, -1e39], [0.5, 0.5, 0.5]],
                        columns=["a", "b", "c"])
    z = m.decision_function(huge)
    np.testing.assert_array_equal(m.predict(huge), m.classes_[(z > 0).astype(int)])


def test_every_real_row_is_trained_on_and_synthetic_rows_validate(problem, monkeypatch):
    X, y, teacher = problem
    seen = {}
    train = DistilledMLPClassifier._train

    def spy(self, data, fit_idx, val_idx, *args):
        seen["fit"], seen["val"] = fit_idx, val_idx
        return train(self, data, fit_idx, val_idx, *args)

    monkeypatch.setattr(DistilledMLPClassifier, "_train", spy)
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), **FAST).fit(X, y)
    n = len(X)
    assert np.isin(np.arange(n), seen["fit"]).all()  # every true label is learned from
    assert (seen["val"] >= n).all() and 30 <= len(seen["val"]) <= 90  # about a fifth of the 300 synthetic rows
    assert np.intersect1d(seen["fit"], seen["val"]).size == 0
    assert len(np.union1d(seen["fit"], seen["val"])) == n + 300
    assert 0.0 <= m.fidelity_ <= 1.0
    # Without synthetic rows the real rows are split, as for any MLP.
    DistilledMLPClassifier(teacher=FrozenEstimator(teacher), knowledge=(), **{**FAST, "n_synthetic": 0}).fit(X, y)
    assert len(seen["val"]) == pytest.approx(0.2 * n, abs=1) and (seen["val"] < n).all()
    assert np.intersect1d(seen["fit"], seen["val"]).size == 0


def test_transfer_weight_multiplies_row_weights_and_bad_factors_are_refused(problem, monkeypatch):
    X, y, teacher = problem
    seen = []
    train = DistilledMLPClassifier._train

    def spy(self, data, *args):
        seen.append(data["w"].copy())
        return train(self, data, *args)

    monkeypatch.setattr(DistilledMLPClassifier, "_train", spy)
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), **FAST)
    m.fit(X, y, transfer_weight=lambda F: np.where(F.iloc[:, 0].to_numpy() > 0, 1.0, 0.25))
    # The real rows come first in the transfer set.
    np.testing.assert_array_equal(seen[-1][: len(X)], np.where(X[:, 0] > 0, 1.0, 0.25).astype(np.float32))
    assert set(np.unique(seen[-1])) == {0.25, 1.0}
    for bad, message in [(lambda F: np.ones(3), "one per transfer row"),
                         (lambda F: -np.ones(len(F)), "non-negative"),
                         (lambda F: np.full(len(F), np.nan), "finite"),
                         (lambda F: np.zeros(len(F)), "nothing is left to learn from"),
                         # real rows only: the held-out synthetic rows weigh 0, and early stopping kept epoch 1
                         (lambda F: np.r_[np.ones(len(X)), np.zeros(len(F) - len(X))], "every validation row")]:
        with pytest.raises(ValueError, match=message):
            DistilledMLPClassifier(teacher=FrozenEstimator(teacher), **FAST).fit(X, y, transfer_weight=bad)
    real_only = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), **FAST, early_stopping=False)
    real_only.fit(X, y, transfer_weight=lambda F: np.r_[np.ones(len(X)), np.zeros(len(F) - len(X))])
    assert real_only.n_epochs_ == FAST["max_epochs"]


def test_sample_weight_zero_on_every_validation_row_turns_early_stopping_off_and_says_so():
    """Without synthetic rows the held-out rows are real; weight 0 on all of them made the validation loss 0
    at every epoch, and early stopping silently kept the first epoch's weights (training accuracy 0.54)."""
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    seed = int(np.random.RandomState(0).randint(0, 2**31 - 1))  # the student's own split (random_state=0)
    _, val = train_test_split(np.arange(300), test_size=0.2, random_state=seed)
    sw = np.ones(300)
    sw[val] = 0.0
    kw = dict(teacher=_small_xgb(), n_synthetic=0, hidden_layer_sizes=(8,), max_epochs=15, n_iter_no_change=3,
              random_state=0)
    with pytest.warns(UserWarning, match=r"Every validation row \(the 60 held-out rows\) has sample_weight 0.*"
                                         r"early stopping is off for this fit \(max_epochs=15"):
        m = DistilledMLPClassifier(**kw).fit(X, y, sample_weight=sw)
    assert m.n_epochs_ == m.best_epoch_ == 15
    off = DistilledMLPClassifier(**kw, early_stopping=False).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(m.predict(X), off.predict(X))  # the same fit as without early stopping
    assert np.mean(m.predict(X) == y) > 0.9


def test_the_validation_loss_is_the_weighted_mean_over_the_held_out_rows(problem, monkeypatch):
    """Batches were averaged by their size: with factors that vary along the (sorted) held-out rows, the loss
    early stopping watched was 0.286 where the weighted mean over the rows was 0.257."""
    import torch
    import torch.nn.functional as F

    X, y, teacher = problem
    seen = {}
    fidelity = DistilledMLPClassifier._fidelity_from

    def spy(self, ts, val_idx):
        seen["ts"], seen["val"] = ts, val_idx
        return fidelity(self, ts, val_idx)

    monkeypatch.setattr(DistilledMLPClassifier, "_fidelity_from", spy)
    T = 4.0
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), hidden_layer_sizes=(8,), knowledge=("response",),
                               n_synthetic=600, max_epochs=3, early_stopping=False, batch_size=32, temperature=T,
                               random_state=0)
    m.fit(X, y, transfer_weight=lambda F_: np.r_[np.ones(len(F_) // 2), np.full(len(F_) - len(F_) // 2, 0.01)])
    ts, val = seen["ts"], seen["val"]
    z = torch.tensor(m._forward(m._encode(ts.X.iloc[val]))[:, 0], dtype=torch.float64)
    zz = torch.stack([torch.zeros_like(z), z], 1)
    t = torch.tensor(ts.logits[val], dtype=torch.float64)
    per_row = F.cross_entropy(zz, torch.tensor(ts.labels_index[val]), reduction="none") + T * T * (
        torch.softmax(t / T, 1) * (torch.log_softmax(t / T, 1) - torch.log_softmax(zz / T, 1))).sum(1)
    w = torch.tensor(ts.weights[val], dtype=torch.float64)
    assert m.history_[-1]["val_loss"] == pytest.approx(float((per_row * w).sum() / w.sum()), rel=1e-5)
    assert m.history_[-1]["val_loss"] != pytest.approx(float(per_row.mean()), rel=1e-2)  # the weights matter


def test_a_knowledge_weight_of_zero_trains_as_leaving_the_kind_out(problem):
    """feature_weight=0 drew the hint projection's weights anyway, moving every later draw: another network
    than knowledge without "feature" (weights up to 0.32 apart)."""
    X, y, teacher = problem
    kw = dict(teacher=FrozenEstimator(teacher), hidden_layer_sizes=(8,), n_synthetic=200, max_epochs=5,
              early_stopping=False, random_state=0)
    zero = DistilledMLPClassifier(feature_weight=0.0, **kw).fit(X, y)
    absent = DistilledMLPClassifier(knowledge=("response", "relation"), **kw).fit(X, y)
    for a, b in zip(zero.coefs_ + zero.intercepts_, absent.coefs_ + absent.intercepts_):
        np.testing.assert_array_equal(a, b)
    present = DistilledMLPClassifier(**kw).fit(X, y)
    assert not np.array_equal(present.coefs_[0], absent.coefs_[0])


def test_a_few_synthetic_rows_do_not_become_the_whole_validation_set(problem, monkeypatch):
    """n_synthetic=20 held out 3 synthetic rows and validated on them alone (early stopping and fidelity_
    on 3 rows); the real rows' share is held out as well then."""
    X, y, teacher = problem
    seen = {}
    train = DistilledMLPClassifier._train

    def spy(self, data, fit_idx, val_idx, *args):
        seen["val"] = val_idx
        return train(self, data, fit_idx, val_idx, *args)

    monkeypatch.setattr(DistilledMLPClassifier, "_train", spy)
    DistilledMLPClassifier(teacher=FrozenEstimator(teacher), **{**FAST, "n_synthetic": 20}).fit(X, y)
    assert len(seen["val"]) >= 0.2 * len(X) - 1 and (seen["val"] < len(X)).sum() >= 0.15 * len(X)


@pytest.mark.parametrize("spread", [1e-13, 1e-25])
def test_a_feature_of_tiny_spread_is_standardised_not_left_as_constant(spread):
    """A spread below 1e-12 was read as constant (scale 1): the student saw inputs of size 1e-13 and
    answered at chance (0.52 against a teacher at 1.0)."""
    rng = np.random.default_rng(0)
    X = rng.random((300, 1)) * spread
    y = (X[:, 0] > 0.5 * spread).astype(int)
    # (scikit-learn's trees cannot split a feature spanning less than 1e-7; XGBoost can)
    m = DistilledMLPClassifier(teacher=_small_xgb(), knowledge=("response",), hidden_layer_sizes=(8,),
                               n_synthetic=300, max_epochs=30, random_state=0).fit(X, y)
    assert m.teacher_.estimator.score(X, y) > 0.95
    assert m.encoding_[0]["scale"] == pytest.approx(X[:, 0].std())
    assert m.score(X, y) > 0.9


def test_zero_weight_on_every_training_row_is_named():
    """sample_weight non-zero only on held-out rows was blamed on a weight range too wide for float32."""
    from rulekd.students._mlp import _float32_weights

    with pytest.raises(ValueError, match="Every training row has weight 0"):
        _float32_weights(np.array([0.0, 0.0, 1.0]), np.array([0, 1]))
    np.testing.assert_array_equal(_float32_weights(np.array([2e-9, 4e-9, 0.0]), np.array([0, 1])),
                                  np.array([2 / 3, 4 / 3, 0.0], dtype=np.float32))


@pytest.mark.parametrize("scale", [1e-30, 1e39])
def test_the_overall_scale_of_sample_weights_does_not_matter(problem, scale):
    """Weights of 1e-30 vanished under the losses' floor (accuracy 0.47 for 0.98); 1e39 overflowed
    float32 (a NaN loss)."""
    X, y, teacher = problem
    kw = dict(teacher=FrozenEstimator(teacher), **FAST)
    base = DistilledMLPClassifier(**kw).fit(X, y, sample_weight=np.ones(len(X)))
    scaled = DistilledMLPClassifier(**kw).fit(X, y, sample_weight=np.full(len(X), scale))
    np.testing.assert_allclose(scaled.decision_function(X), base.decision_function(X), rtol=1e-4, atol=1e-4)


def test_predict_proba_of_overflowing_multiclass_logits_is_finite_and_agrees_with_predict():
    X, y = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), **FAST).fit(X, y)
    z = np.array([[-np.inf, -np.inf, np.inf], [np.inf, np.inf, -np.inf], [1e308, -1e308, 0.0]])
    m.decision_function = lambda X: z  # finite inputs near the largest double give such logits
    P = m.predict_proba(X[:3])
    assert np.isfinite(P).all()
    np.testing.assert_array_equal(np.argmax(P, axis=1), np.argmax(z, axis=1))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_a_torch_teacher_on_text_levels_names_the_columns():
    from rulekd.exceptions import TeacherError

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.random(60), "c": pd.Categorical(rng.choice(["u", "v"], 60))})
    y = rng.integers(0, 2, 60)
    module = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with pytest.raises(TeacherError, match=r"columns \['c'\] hold values that are not numbers"):
        DistilledMLPClassifier(teacher=TorchTeacher(module), **FAST).fit(X, y)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba_ranks_the_predicted_class_first_even_at_a_hair_of_a_logit(n_classes):
    """Logits ~1e-16 apart round to equal probabilities; the predicted class is still the most probable."""
    X, y = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0,
                               n_classes=n_classes, random_state=0)
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), **FAST).fit(X, y)
    if n_classes == 2:
        z = np.array([2.220446049250313e-16, 1e-300, 0.0, -1e-300, 3.0])
        expected = (z > 0).astype(int)
    else:
        z = np.array([[0.0, 1e-17, 0.0], [1e-17, 0.0, 1e-17], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
        expected = np.argmax(z, axis=1)
    m.decision_function = lambda X: z  # the network's logits at such rows, as found by bisection
    P = m.predict_proba(X[: len(z)])
    np.testing.assert_array_equal(np.argmax(P, axis=1), expected)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-15)


def test_a_categorical_feature_past_column_127_of_the_encoding():
    """pandas's int8 category codes plus the one-hot block's start overflowed past column 127."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(150, 130)), columns=[f"n{i}" for i in range(130)])
    X["c"] = pd.Categorical(rng.choice(["a", "b", "c"], 150))
    y = ((X["n0"] > 0) ^ (X["c"] == "b")).astype(int).to_numpy()
    m = DistilledMLPClassifier(max_epochs=3, n_synthetic=50, random_state=0).fit(X, y)
    Xe = m.encode(X)
    block = [j for j, e in enumerate(m.encoding_) if e["feature"] == "c"]
    assert block[0] >= 128
    assert np.array_equal(Xe[:, block].argmax(axis=1), X["c"].cat.codes.to_numpy())
    assert m.predict(X).shape == (150,)


def test_threshold_inputs_are_the_teachers_cuts_of_largest_gain():
    """threshold_inputs step columns at the teacher's cuts of numeric features of largest total gain,
    sorted per feature after its numeric column; 1 where x >= t, 0 below and where x is missing."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.uniform(0, 10, 300), "b": rng.normal(size=300),
                      "c": pd.Categorical(rng.choice(["u", "v"], 300))})
    X.loc[rng.random(300) < 0.1, "a"] = np.nan
    y = (X["a"].fillna(5) + 3 * X["b"] + rng.normal(0, 1, 300) > 6).astype(int).to_numpy()  # many cuts
    teacher = FrozenEstimator(_small_xgb().fit(X, y))
    m = DistilledMLPClassifier(teacher=teacher, threshold_inputs=4, **FAST).fit(X, y)
    steps = [e for e in m.encoding_ if e["kind"] == "step"]
    gains = m.teacher_.split_gains()
    ranked = sorted(((float(g), f, float(t)) for f in ("a", "b") for t, g in zip(*gains[f])
                     if X[f].min() < t <= X[f].max()), reverse=True)
    assert len(ranked) > 4 and len(steps) == 4
    assert {(e["feature"], e["threshold"]) for e in steps} == {(f, t) for _, f, t in ranked[:4]}
    names = [e["name"] for e in m.encoding_]
    for f in ("a", "b"):
        cols = [j for j, e in enumerate(m.encoding_) if e["feature"] == f and e["kind"] == "step"]
        ts = [m.encoding_[j]["threshold"] for j in cols]
        assert ts == sorted(ts) and all(j > names.index(f) for j in cols)
    E = m.encode(X)
    for j, e in enumerate(m.encoding_):
        if e["kind"] == "step":
            x = X[e["feature"]].to_numpy()
            np.testing.assert_array_equal(E[:, j], np.where(np.isnan(x), 0.0, (x >= e["threshold"]).astype(float)))
    assert not any(e["kind"] == "step" for e in DistilledMLPClassifier(teacher=teacher, **FAST).fit(X, y).encoding_)


@pytest.mark.parametrize("case", ["array teacher, frame named x1, x0", "frame teacher, array student"])
def test_step_inputs_read_the_teachers_cuts_as_it_reads_the_columns(case):
    """The cuts are matched to the student's features the way the teacher reads them: by position for a
    teacher fitted on an array (it names its columns x0, x1, ...; a frame named x1, x0 took another
    feature's cuts by name) and for a frame-fitted teacher given an array (every cut was dropped)."""
    rng = np.random.default_rng(0)
    F = pd.DataFrame({"p": rng.uniform(0, 1, 400), "q": rng.uniform(0, 1, 400)})
    y = ((F["p"] > 0.3) & (F["q"] < 0.8)).astype(int).to_numpy()  # column 0 cut at 0.3, column 1 at 0.8
    if case.startswith("array"):
        teacher, X = _small_xgb().fit(F.to_numpy(), y), F.set_axis(["x1", "x0"], axis=1)
    else:
        teacher, X = _small_xgb().fit(F, y), F.to_numpy()
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), threshold_inputs=2, **FAST).fit(X, y)
    first, second = m.domain_.names  # the student's names of columns 0 and 1
    steps = {e["feature"]: e["threshold"] for e in m.encoding_ if e["kind"] == "step"}
    assert set(steps) == {first, second}
    assert abs(steps[first] - 0.3) < 0.05 and abs(steps[second] - 0.8) < 0.05
    if case.startswith("array"):  # the tree student snaps to the same cuts (its own reading of them)
        tree = DistilledTreeClassifier(teacher=FrozenEstimator(teacher), max_leaf_nodes=3, n_synthetic=200,
                                       random_state=0).fit(X, y)
        cuts = {j: c.tolist() for j, c in tree._cuts_.items()}
        assert min(abs(t - 0.3) for t in cuts[0]) < 0.05 and min(abs(t - 0.8) for t in cuts[1]) < 0.05
        assert max(cuts[0]) < 0.6 and min(cuts[1]) > 0.5


def test_step_inputs_from_a_hist_gradient_boosting_teacher():
    """Its cuts are read from its trees; with a categorical column its features are counted categories
    first, so a frame with the category in the middle still gives each cut to its own feature."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=400), "c": pd.Categorical(rng.choice(["u", "v"], 400)),
                      "b": rng.normal(size=400)})
    y = (((X["b"] > 0.3) & (X["a"] < -0.5)) | ((X["c"] == "u") & (X["a"] > 1))).astype(int).to_numpy()
    teacher = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    m = DistilledMLPClassifier(teacher=FrozenEstimator(teacher), threshold_inputs=4, **FAST).fit(X, y)
    steps = [(e["feature"], e["threshold"]) for e in m.encoding_ if e["kind"] == "step"]
    assert len(steps) == 4 and {f for f, _ in steps} == {"a", "b"}
    assert any(f == "a" and abs(t + 0.5) < 0.1 for f, t in steps) and any(f == "a" and abs(t - 1) < 0.15
                                                                          for f, t in steps)
    assert any(f == "b" and abs(t - 0.3) < 0.1 for f, t in steps)
    tree_cuts = m.teacher_.split_gains()
    assert all(t in tree_cuts[f][0] for f, t in steps)  # the teacher's own cut points


def test_a_teacher_without_split_thresholds_gives_no_step_inputs(problem):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = problem
    with pytest.warns(UserWarning, match=r"threshold_inputs=24 asks for the teacher's cut points, but the teacher "
                                         r"\(LogisticRegression\) lists none.*threshold_inputs=0"):
        m = DistilledMLPClassifier(teacher=LogisticRegression(), threshold_inputs=24, **FAST).fit(X, y)
    assert {e["kind"] for e in m.encoding_} == {"numeric"} and m._encoding_plan()["numeric_only"]


def test_a_student_of_numbers_and_steps_predicts_from_raw_values_like_its_network():
    """Numbers and steps only: predict takes the raw block (steps compared in float64, appended after the
    numbers, standardisation folded); its labels are the network's on encode(X), at the cuts too."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(400, 3)) * [1.0, 100.0, 0.01], columns=["a", "b", "c"])
    y = ((X["a"] > 0.3) ^ (X["b"] > 50)).astype(int).to_numpy()
    m = DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=4, random_state=0), threshold_inputs=24,
                               **FAST).fit(X, y)
    plan = m._encoding_plan()
    assert plan["raw"] and not plan["numeric_only"] and len(plan["step_pos"]) > 0
    rows = [X]
    for e in m.encoding_:  # rows exactly at each cut and one float below it
        if e["kind"] == "step":
            at = X.iloc[:20].copy()
            at[e["feature"]] = e["threshold"]
            below = at.copy()
            below[e["feature"]] = np.nextafter(e["threshold"], -np.inf)
            rows += [at, below]
    rows = pd.concat(rows, ignore_index=True)

    h = m.encode(rows)
    for i, (W, b) in enumerate(m.weights()):
        h = h @ W + b
        if i < len(m.weights()) - 1:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(m.decision_function(rows), h[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(m.predict(rows), m.classes_[(m.decision_function(rows) > 0).astype(int)])
    steps = [j for j, e in enumerate(m.encoding_) if e["kind"] == "step"]
    assert set(np.unique(m.encode(rows)[:, steps]).tolist()) == {0.0, 1.0}


def test_steps_of_a_frame_with_integer_column_names_are_the_arrays():
    """A frame whose column names are not all strings reaches the teacher as an array (cuts named x0, x1):
    its steps were lost, and the student differed from the one fitted on the same values as an array."""
    X, y = make_classification(n_samples=200, n_features=3, n_informative=3, n_redundant=0, random_state=0)
    kw = dict(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), threshold_inputs=4, **FAST)
    arr = DistilledMLPClassifier(**kw).fit(X, y)
    frame = DistilledMLPClassifier(**kw).fit(pd.DataFrame(X), y)
    steps = [(e["feature"], e["threshold"]) for e in frame.encoding_ if e["kind"] == "step"]
    assert len(steps) == 4
    assert [(f"x{f}", t) for f, t in steps] == [(e["feature"], e["threshold"]) for e in arr.encoding_
                                                  if e["kind"] == "step"]
    np.testing.assert_array_equal(frame.predict(pd.DataFrame(X)), arr.predict(X))
