"""Determinism and stability: same ``random_state``, same model; predictions independent of how rows arrive.

* two fits with the same ``random_state`` give identical rules, weights and
  probabilities, in this process and in fresh interpreters with other hash
  seeds (set and dict order never leaks into a model);
* the teacher's ``n_jobs`` and the verifier's ``n_jobs`` change nothing;
* predictions do not depend on batch size or row order;
* a model saved and loaded predicts bit for bit the same;
* fitting touches no global random state.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
from xgboost import XGBClassifier

import rulekd
from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, DistilledTreeClassifier, HybridClassifier
from rulekd.verify import Invariant, Monotone, verify

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the neural student needs torch")


def _teacher(n_jobs=1):
    return XGBClassifier(n_estimators=10, max_depth=2, n_jobs=n_jobs, enable_categorical=True)


MAKE = {
    "tree": lambda **kw: DistilledTreeClassifier(teacher=_teacher(**kw), max_leaf_nodes=6, n_synthetic=150,
                                                 random_state=3),
    "rules": lambda **kw: DistilledRuleClassifier(teacher=_teacher(**kw), max_rules=4, n_synthetic=150,
                                                  random_state=3),
    "rule-list": lambda **kw: DistilledRuleClassifier(teacher=_teacher(**kw), max_rules=4, kind="list",
                                                      n_synthetic=150, random_state=3),
    "mlp": lambda **kw: DistilledMLPClassifier(teacher=_teacher(**kw), hidden_layer_sizes=(4,), max_epochs=3,
                                               n_synthetic=150, random_state=3),
    "hybrid": lambda **kw: HybridClassifier(
        teacher=_teacher(**kw), rules=DistilledRuleClassifier(max_rules=3, n_synthetic=100, refine=False),
        student=DistilledMLPClassifier(hidden_layer_sizes=(4,), max_epochs=3, n_synthetic=100),
        n_synthetic=200, random_state=3),
}


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, n).astype(float),
        "income": rng.lognormal(3, 1, n).round(3),
        "job": pd.Categorical(rng.choice(["clerk", "manager", "none", "trade"], n)),
        "city": pd.Categorical(rng.choice([f"c{i}" for i in range(6)], n)),
    })
    X.loc[rng.random(n) < 0.1, "income"] = np.nan
    y = (((X["age"] < 35) & (X["job"] != "manager")) | (X["income"].fillna(0) > 40)).astype(int).to_numpy()
    return X, y


def _fingerprint(model, X) -> dict:
    """Everything that must be identical between two equal fits."""
    out = {"proba": model.predict_proba(X).tolist(), "pred": model.predict(X).tolist()}
    if hasattr(model, "rules_"):
        out["rules"] = model.rules_.to_json()
    student = getattr(model, "student_", model)
    if hasattr(student, "weights"):
        out["weights"] = [[W.tolist(), b.tolist()] for W, b in student.weights()]
    return out


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {name: make().fit(X, y) for name, make in MAKE.items()}


@pytest.mark.parametrize("name", sorted(MAKE))
def test_same_random_state_gives_the_same_model_whatever_the_teacher_threads(name, data, fitted):
    import torch

    X, y = data
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    again = MAKE[name]().fit(X, y)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # no global random state used
    assert torch.equal(torch.get_rng_state(), torch_state)
    first = _fingerprint(fitted[name], X)
    assert _fingerprint(again, X) == first
    assert _fingerprint(MAKE[name](n_jobs=2).fit(X, y), X) == first
    # The seed is used: another random_state draws other synthetic rows (equal fits are not luck).
    assert _fingerprint(MAKE[name]().set_params(random_state=4).fit(X, y), X) != first


@pytest.mark.parametrize("name", sorted(MAKE))
def test_predictions_do_not_depend_on_batch_size_or_row_order(name, fitted):
    model = fitted[name]
    X, _ = _data(1200, seed=5)  # more rows than one block of the neural student's forward pass
    X = X[X["job"].notna()]
    full = model.predict_proba(X)
    for size in (1, 7, 256, 1025):
        parts = [model.predict_proba(X.iloc[i:i + size]) for i in range(0, min(len(X), 40 * size), size)]
        np.testing.assert_array_equal(np.vstack(parts), full[: sum(len(p) for p in parts)])
    perm = np.random.default_rng(0).permutation(len(X))
    np.testing.assert_array_equal(model.predict_proba(X.iloc[perm]), full[perm])
    np.testing.assert_array_equal(model.predict(X.iloc[perm]), model.predict(X)[perm])
    if hasattr(model, "decided_by"):
        np.testing.assert_array_equal(model.decided_by(X.iloc[perm]), model.decided_by(X)[perm])


@pytest.mark.parametrize("name", sorted(MAKE))
def test_save_and_load_predict_bit_for_bit_the_same(name, fitted, tmp_path):
    model = fitted[name]
    X, _ = _data(300, seed=6)
    back = rulekd.load(rulekd.save(model, tmp_path / "m"))
    assert _fingerprint(back, X) == _fingerprint(model, X)
    if hasattr(model, "decided_by"):
        np.testing.assert_array_equal(back.decided_by(X), model.decided_by(X))
    np.testing.assert_array_equal(rulekd.load(rulekd.save(back, tmp_path / "m2")).predict_proba(X),
                                  model.predict_proba(X))


# -- across processes ------------------------------------------------------------------------------------
FIT_IN_A_FRESH_PROCESS = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, sys.argv[1])
    import test_determinism as t
    X, y = t._data()
    print(json.dumps({name: t._fingerprint(t.MAKE[name]().fit(X, y), X) for name in t.RULE_MODELS}))
""")
RULE_MODELS = ("tree", "rules", "rule-list")


def test_models_do_not_depend_on_the_process_hash_seed(fitted, data):
    """Set and dict iteration order (string hashing is salted per process) never reaches a model."""
    X, _ = data
    expected = {name: _fingerprint(fitted[name], X) for name in RULE_MODELS}
    here = os.path.dirname(os.path.abspath(__file__))
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"  # another seed than this process's
    proc = subprocess.run([sys.executable, "-c", FIT_IN_A_FRESH_PROCESS, here], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": seed}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == json.loads(json.dumps(expected))


# -- the verifier ----------------------------------------------------------------------------------------------
def _findings(report) -> list[dict]:
    out = []
    for f in report.to_dict()["findings"]:
        f.pop("seconds", None)
        out.append(f)
    return out


def test_verification_verdicts_do_not_depend_on_n_jobs(fitted, monkeypatch):
    """Workers (forced on for this small rule set) give the same verdicts as one process.

    Findings decided per rule or per pair (conflict, dead, redundant) are identical. Gap regions and
    property counterexamples come from a model Z3 chooses, which may differ from one call to the next
    within a process: there the verdicts are the same and every witness is checked to be real.
    """
    from rulekd.verify import _checks

    model = fitted["rules"]
    props = [Invariant("city"), Monotone("age", "decreasing", toward=1)]
    serial = _findings(verify(model, properties=props, n_jobs=1))
    monkeypatch.setattr(_checks, "PARALLEL_MIN_ITEMS", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # joblib on a loaded machine
        parallel = _findings(verify(model, properties=props, n_jobs=2))
    by_model = ("gap", "property")
    assert sorted((f["check"], f["status"]) for f in parallel) == sorted((f["check"], f["status"]) for f in serial)
    assert [f for f in parallel if f["check"] not in by_model] == [f for f in serial if f["check"] not in by_model]
    for f in parallel + serial:
        cx = f["counterexample"]
        if f["check"] == "gap" and f["status"] == "violated":
            row = _rows(model, [cx])
            assert model.domain_.contains(row).all() and (model.rules_.decide(row) == -1).all()
        if f["check"] == "property" and f["status"] == "violated":
            a, b = model.predict(_rows(model, [cx["x"], cx["x_prime"]]))
            assert a != b  # the pair really breaks the property


def _rows(model, dicts: list) -> pd.DataFrame:
    frame = pd.DataFrame(dicts, columns=list(model.domain_.names))
    for spec in model.domain_.features:
        if spec.kind == "categorical":
            frame[spec.name] = pd.Categorical(frame[spec.name], categories=list(spec.levels))
        else:
            frame[spec.name] = frame[spec.name].astype(float)
    return frame
