"""Teacher feature knowledge: leaves, leaf embeddings, contributions, hidden activations."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from rulekd.exceptions import TeacherError
from rulekd.teachers import TorchTeacher, as_teacher, fit_teacher
from rulekd.teachers._features import available_feature_kinds, teacher_features

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=200, n_features=5, n_informative=3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def data3():
    X, y = make_classification(n_samples=240, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=1)
    return X, y


def _xgb(X, y, **kw):
    from xgboost import XGBClassifier

    return fit_teacher(XGBClassifier(n_estimators=7, max_depth=3, random_state=0, **kw), X, y)


def test_xgboost_contributions_sum_to_the_margin_binary(data):
    X, y = data
    t = _xgb(X, y)
    for approximate in (False, True):
        c = teacher_features(t, X, "contributions", approximate=approximate)
        assert c.shape == (len(X), X.shape[1] + 1)
        np.testing.assert_allclose(c.sum(axis=1), t.logits(X)[:, 1], atol=1e-4)


def test_xgboost_contributions_flatten_classes_multiclass(data3):
    X, y = data3
    t = _xgb(X, y)
    c = teacher_features(t, X, "contributions")
    assert c.shape == (len(X), 3 * (X.shape[1] + 1))
    np.testing.assert_allclose(c.reshape(len(X), 3, -1).sum(axis=2), t.logits(X), atol=1e-4)


def test_xgboost_leaves_are_one_index_per_tree(data, data3):
    X, y = data
    leaves = teacher_features(_xgb(X, y), X, "leaves")
    assert leaves.shape == (len(X), 7) and leaves.dtype == np.int64
    X3, y3 = data3
    assert teacher_features(_xgb(X3, y3), X3, "leaves").shape == (len(X3), 7 * 3)


def test_xgboost_features_read_categorical_frames():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=150), "c": pd.Categorical(rng.choice(list("pqr"), 150))})
    y = ((X["a"] > 0) ^ (X["c"] == "q")).astype(int)
    t = _xgb(X, y, enable_categorical=True)
    c = teacher_features(t, X, "auto")
    np.testing.assert_allclose(c.sum(axis=1), t.logits(X)[:, 1], atol=1e-4)


def test_leaf_embedding_is_dense_deterministic_and_separates_leaves(data):
    X, y = data
    t = as_teacher(RandomForestClassifier(n_estimators=6, max_depth=3, random_state=0).fit(X, y))
    e1 = teacher_features(t, X, "leaf_embedding", n_components=4, random_state=0)
    e2 = teacher_features(t, X, "leaf_embedding", n_components=4, random_state=0)
    assert e1.shape == (len(X), 4)
    np.testing.assert_array_equal(e1, e2)
    leaves = teacher_features(t, X, "leaves")
    same = (leaves[:, None, :] == leaves[None, :, :]).all(axis=2)
    d = np.linalg.norm(e1[:, None] - e1[None], axis=2)
    assert np.all(d[same] < 1e-8)  # rows in the same leaves embed to the same point


def test_sklearn_apply_for_single_trees_and_boosting(data3):
    X, y = data3
    tree = as_teacher(DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y))
    leaves = teacher_features(tree, X, "leaves")
    assert leaves.shape == (len(X), 1)
    np.testing.assert_array_equal(leaves[:, 0], tree.estimator.apply(X))
    gb = as_teacher(GradientBoostingClassifier(n_estimators=4, max_depth=2, random_state=0).fit(X, y))
    assert teacher_features(gb, X, "leaves").shape == (len(X), 4 * 3)


def test_mlp_hidden_activations_match_a_hand_forward_pass(data):
    X, y = data
    mlp = MLPClassifier(hidden_layer_sizes=(6, 4), max_iter=50, random_state=0).fit(X, y)
    t = as_teacher(mlp)
    h1 = np.maximum(X @ mlp.coefs_[0] + mlp.intercepts_[0], 0)
    h2 = np.maximum(h1 @ mlp.coefs_[1] + mlp.intercepts_[1], 0)
    np.testing.assert_allclose(teacher_features(t, X, "hidden"), h2)
    np.testing.assert_allclose(teacher_features(t, X, "hidden", layer=0), h1)
    assert teacher_features(t, X, "hidden", layer="all").shape == (len(X), 10)
    with pytest.raises(ValueError, match="hidden layers"):
        teacher_features(t, X, "hidden", layer=5)


def test_mlp_inside_a_frozen_pipeline_sees_the_transformed_input(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(5,), activation="tanh", max_iter=50,
                                                         random_state=0)).fit(X, y)
    t = fit_teacher(FrozenEstimator(pipe), X, y)
    mlp = pipe[-1]
    expected = np.tanh(pipe[0].transform(X) @ mlp.coefs_[0] + mlp.intercepts_[0])
    np.testing.assert_allclose(teacher_features(t, X), expected)


def test_mlp_after_a_sparse_one_hot_encoding_gives_the_dense_activations():
    """A ColumnTransformer with many one-hot levels outputs a sparse matrix: np.asarray made it an object
    array ("setting an array element with a sequence")."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "shop": rng.choice([f"s{i}" for i in range(40)], 200)})
    y = (X["a"] > 0).astype(int).to_numpy()
    out = {}
    for threshold in (1.0, 0.0):  # sparse output, dense output
        pipe = make_pipeline(ColumnTransformer([("oh", OneHotEncoder(), ["shop"]), ("sc", StandardScaler(), ["a"])],
                                               sparse_threshold=threshold),
                             MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0)).fit(X, y)
        assert hasattr(pipe[0].transform(X), "tocsr") == (threshold == 1.0)
        out[threshold] = teacher_features(fit_teacher(FrozenEstimator(pipe), X, y), X, "hidden")
    assert isinstance(out[1.0], np.ndarray) and out[1.0].shape == (200, 5)
    np.testing.assert_allclose(out[1.0], out[0.0])


def test_torch_hidden_activations_through_forward_hooks(data):
    torch = pytest.importorskip("torch")
    X, _ = data
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3), torch.nn.ReLU(),
                              torch.nn.Linear(3, 1))
    t = TorchTeacher(net, classes=[0, 1])
    Xt = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        h1 = torch.relu(net[0](Xt))
        h2 = torch.relu(net[2](h1))
    np.testing.assert_allclose(teacher_features(t, X, "hidden"), h2.numpy(), rtol=1e-6)  # input of last Linear
    np.testing.assert_allclose(teacher_features(t, X, "hidden", layer="1"), h1.numpy(), rtol=1e-6)
    both = teacher_features(t, X, "hidden", layer=["1", "3"])
    assert both.shape == (len(X), 9)
    assert not any(m._forward_hooks for m in net.modules())  # hooks removed
    with pytest.raises(ValueError, match="no sub-modules"):
        teacher_features(t, X, "hidden", layer="encoder")


def test_torch_hidden_activations_are_those_of_the_call_not_of_a_later_in_place_op(data):
    """An in-place ReLU after the layer read turned the pre-activations it returned into post-activations;
    the default layer was the nn.Linear declared last, not the one called last (a head declared before the
    body gave the raw input back)."""
    torch = pytest.importorskip("torch")
    X, _ = data
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(inplace=True), torch.nn.Linear(6, 1))
    Xt = torch.as_tensor(X, dtype=torch.float32)
    with torch.no_grad():
        pre = seq[0](Xt).numpy()
    assert pre.min() < 0
    np.testing.assert_allclose(teacher_features(TorchTeacher(seq, classes=[0, 1]), X, "hidden", layer="0"), pre,
                               rtol=1e-6)

    class HeadFirst(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(6, 1)  # declared first, called last
            self.body = torch.nn.Linear(5, 6)

        def forward(self, x):
            return self.head(torch.relu(self.body(x)))

    net = HeadFirst()
    with torch.no_grad():
        expected = torch.relu(net.body(Xt)).numpy()
    got = teacher_features(TorchTeacher(net, classes=[0, 1]), X, "hidden")
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert not any(m._forward_hooks for m in net.modules())


def test_an_xgboost_teacher_fitted_with_early_stopping_answers_with_its_best_rounds(data):
    """All the trees were used: probabilities up to 0.3 away from the model's own, 2.75 % of labels differ."""
    from xgboost import XGBClassifier

    X, y = data
    model = XGBClassifier(n_estimators=40, max_depth=3, learning_rate=0.5, n_jobs=1, early_stopping_rounds=2,
                          random_state=0)
    model.fit(X[:150], y[:150], eval_set=[(X[150:], y[150:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()  # it did stop early
    t = as_teacher(FrozenEstimator(model))
    np.testing.assert_allclose(t.proba(X), model.predict_proba(X), atol=1e-6)
    assert teacher_features(t, X, "leaves").shape[1] == model.best_iteration + 1
    contribs = teacher_features(t, X, "contributions")
    np.testing.assert_allclose(contribs.sum(axis=1), t.logits(X)[:, 1], atol=1e-4)


def test_auto_kind_and_unavailable_kinds(data):
    X, y = data
    assert available_feature_kinds(_xgb(X, y))[0] == "contributions"
    assert available_feature_kinds(as_teacher(RandomForestClassifier(n_estimators=2).fit(X, y)))[0] == "leaf_embedding"
    lr = as_teacher(LogisticRegression().fit(X, y))
    assert available_feature_kinds(lr) == ("logits",)
    np.testing.assert_allclose(teacher_features(lr, X), lr.logits(X))
    with pytest.raises(TeacherError, match="not available"):
        teacher_features(lr, X, "contributions")
    with pytest.raises(ValueError, match="kind must be one of"):
        teacher_features(lr, X, "gradients")
