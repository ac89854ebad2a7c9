"""rulekd without torch: the import works, the neural parts fail with one line naming ``rulekd[torch]``.

One fresh interpreter, in which an import hook refuses ``torch`` (as if it were
not installed), runs every probe once; the tests check what it found, so the
result does not depend on what the test process has already imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

PROBES = textwrap.dedent("""
    import importlib.abc, json, sys

    class _NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "torch":
                raise ImportError("No module named 'torch' (blocked by the test)")

    sys.meta_path.insert(0, _NoTorch())
    csv_path, out_dir, saved_mlp, x_path = sys.argv[1:5]
    out = {}

    import rulekd
    out["heavy_on_import"] = [m for m in ("torch", "z3", "xgboost", "matplotlib") if m in sys.modules]
    import rulekd.audit, rulekd.cli, rulekd.datasets, rulekd.hybrid, rulekd.rules, rulekd.students
    import rulekd.teachers, rulekd.transfer, rulekd.verify
    out["torch_loaded"] = "torch" in sys.modules

    import numpy as np
    from sklearn.tree import DecisionTreeClassifier
    from rulekd import DistilledMLPClassifier, DistilledRuleClassifier, HybridClassifier
    from rulekd.exceptions import MissingDependencyError

    rng = np.random.default_rng(0)
    X = rng.random((60, 3))
    y = (X[:, 0] > 0.5).astype(int)
    rules = DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=2), max_rules=2, n_synthetic=0)
    out["rules_fit"] = int(len(rules.fit(X, y).predict(X)))
    errors = {}
    for name, make in [("mlp", lambda: DistilledMLPClassifier().fit(X, y)),
                       ("hybrid", lambda: HybridClassifier(teacher=DecisionTreeClassifier(max_depth=2),
                                                           n_synthetic=0).fit(X, y)),
                       ("losses", lambda: __import__("rulekd.losses"))]:
        try:
            make()
            errors[name] = None
        except MissingDependencyError as exc:
            errors[name] = str(exc)
    out["errors"] = errors

    import contextlib, io
    from rulekd.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out["cli_code"] = main(["distill", "--data", csv_path, "--target", "y", "--model", "mlp",
                                "--out", out_dir, "--quiet"])
    out["cli_stderr"] = err.getvalue()

    if saved_mlp != "-":
        out["saved_proba"] = rulekd.load(saved_mlp).predict_proba(np.load(x_path)).tolist()
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory):
    d = tmp_path_factory.mktemp("no-torch")
    data = d / "train.csv"
    data.write_text("a,b,y\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(40)), encoding="utf-8")
    saved, expected, X = "-", None, np.random.default_rng(1).random((30, 3))
    try:
        import torch  # noqa: F401
    except ImportError:  # pragma: no cover - the neural student cannot be saved here
        pass
    else:
        from sklearn.tree import DecisionTreeClassifier

        import rulekd

        y = (X[:, 0] > 0.5).astype(int)
        model = rulekd.DistilledMLPClassifier(teacher=DecisionTreeClassifier(max_depth=2), hidden_layer_sizes=(4,),
                                              max_epochs=2, n_synthetic=0, random_state=0).fit(X, y)
        rulekd.save(model, d / "mlp")
        saved, expected = str(d / "mlp"), model.predict_proba(X)
    np.save(d / "X.npy", X)
    proc = subprocess.run([sys.executable, "-c", PROBES, str(data), str(d / "model"), saved, str(d / "X.npy")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["expected_proba"] = expected
    out["model_dir"] = d / "model"
    return out


def test_import_rulekd_and_its_subpackages_work_without_torch(without_torch):
    assert without_torch["heavy_on_import"] == []  # import rulekd pulls in no heavy optional package
    assert without_torch["torch_loaded"] is False


@pytest.mark.parametrize("part", ["mlp", "hybrid", "losses"])
def test_neural_parts_raise_one_line_naming_the_extra(without_torch, part):
    message = without_torch["errors"][part]
    assert message is not None, f"{part} did not raise MissingDependencyError"
    assert "\n" not in message and "rulekd[torch]" in message


def test_rule_students_fit_without_torch(without_torch):
    assert without_torch["rules_fit"] == 60


def test_cli_distill_of_a_neural_student_is_one_line_and_exit_2(without_torch):
    assert without_torch["cli_code"] == 2
    err = without_torch["cli_stderr"]
    assert err.count("\n") == 1 and "rulekd[torch]" in err
    assert not without_torch["model_dir"].exists()


def test_a_saved_neural_student_predicts_without_torch(without_torch):
    """The saved network is plain arrays: loading and predicting need numpy, not torch."""
    if without_torch["expected_proba"] is None:  # pragma: no cover
        pytest.skip("torch is not installed here, so no neural student could be saved")
    np.testing.assert_array_equal(np.asarray(without_torch["saved_proba"]), without_torch["expected_proba"])
