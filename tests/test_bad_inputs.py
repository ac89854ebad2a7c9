"""The bad-input matrix of docs/bad-input.md: every case, for every estimator and every CLI command.

Each case ends in one of two ways: the documented result (the input is
answered), or a clear error, a ``ValueError`` / ``RulekdError`` (``OSError``
for files) raised by rulekd or scikit-learn's validation, whose message names
the problem. Never a traceback from inside numpy, pandas, torch, XGBoost or
Z3, and never lost data: nothing a refused command was given is overwritten.
On the command line a refusal is exit code 2 with one line on stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import inspect
import os
import re
import sqlite3
import traceback
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from xgboost import XGBClassifier

import rulekd
from rulekd import (
    DistilledMLPClassifier,
    DistilledRuleClassifier,
    DistilledTreeClassifier,
    Domain,
    HybridClassifier,
    RuleSet,
)
from rulekd.cli import main
from rulekd.exceptions import DomainError, RuleFormatError
from rulekd.rules import to_python, to_sql

pytest.importorskip("torch")

DOCS = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"


def _teacher():
    return XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1, enable_categorical=True)


def _student():
    return DistilledMLPClassifier(hidden_layer_sizes=(4,), max_epochs=3, n_synthetic=0)


MAKE = {
    "DistilledTreeClassifier": lambda: DistilledTreeClassifier(teacher=_teacher(), max_leaf_nodes=4, n_synthetic=0,
                                                               random_state=0),
    "DistilledRuleClassifier": lambda: DistilledRuleClassifier(teacher=_teacher(), max_rules=3, n_synthetic=0,
                                                               random_state=0),
    "DistilledMLPClassifier": lambda: DistilledMLPClassifier(teacher=_teacher(), hidden_layer_sizes=(4,),
                                                             max_epochs=3, n_synthetic=0, random_state=0),
    "HybridClassifier": lambda: HybridClassifier(
        teacher=_teacher(), rules=DistilledRuleClassifier(max_rules=3, n_synthetic=0, refine=False, improve=False),
        student=_student(), n_synthetic=0, random_state=0),
}
RULE_STUDENTS = ("DistilledTreeClassifier", "DistilledRuleClassifier")
SQL_HTML = ['"; DROP TABLE data; --', "<b>bold</b>"]


def _frame(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "a": rng.normal(size=n).round(4),
        "b": rng.integers(0, 10, n).astype(float),
        "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
        "d": rng.normal(size=n).round(4),
    })
    X.loc[rng.random(n) < 0.15, "d"] = np.nan
    y = ((X["a"] + (X["c"] == "x")) > 0.3).astype(int).to_numpy()
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _frame()
    return {name: make().fit(X, y) for name, make in MAKE.items()}


# -- outcomes -------------------------------------------------------------------------------------
_DEEP = ("numpy", "pandas", "torch", "xgboost", "z3", "scipy", "jsonschema")


def _refused(fn, match, exc=ValueError):
    """``fn()`` raises ``exc`` with a message matching ``match``, raised by rulekd or scikit-learn's validation."""
    with pytest.raises(exc, match=match) as info:
        fn()
    where = traceback.extract_tb(info.tb)[-1].filename.replace(os.sep, "/")
    inside = "/rulekd/" in where or "/sklearn/utils/" in where or "/pathlib" in where
    assert inside and not any(f"/site-packages/{d}/" in where for d in _DEEP), f"raised deep inside {where}"
    return str(info.value)


def _answered(model, X):
    """Every row gets a label of ``classes_`` and finite probabilities that sum to one."""
    pred = model.predict(X)
    proba = model.predict_proba(X)
    assert len(pred) == len(X) and set(pred) <= set(model.classes_)
    assert proba.shape == (len(X), len(model.classes_))
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
    return pred


def test_the_matrix_covers_every_public_estimator():
    public = {n for n in rulekd.__all__
              if inspect.isclass(getattr(rulekd, n)) and issubclass(getattr(rulekd, n), BaseEstimator)}
    assert public == set(MAKE)


# -- estimators: one test per case, for every estimator ---------------------------------------------
ESTIMATOR_CASES: dict = {}


def case(name):
    def register(fn):
        ESTIMATOR_CASES[name] = fn
        return fn
    return register


@case("nan")
def _(name, make, model):
    X, y = _frame()
    X.loc[:7, "a"] = np.nan
    _answered(make().fit(X, y), X)  # missing values are kept and answered, never dropped
    Xp, _ = _frame(40, seed=1)  # 'd' had missing values at fit: rows missing it are answered
    Xp.loc[:5, "d"] = np.nan
    _answered(model, Xp)


@case("nan-new-column")
def _(name, make, model):
    X, _ = _frame(40, seed=1)
    X.loc[3, "a"] = np.nan  # 'a' had no missing value during fit
    if name == "DistilledMLPClassifier":
        _answered(model, X)  # imputed with the training mean (encode() documents it)
    else:
        _refused(lambda: model.predict(X), "'a' has missing values, but it had none during fit")


@pytest.mark.parametrize("make", [lambda: rulekd.DistilledRuleClassifier(validation_fraction=0.999, n_synthetic=100),
                                  lambda: rulekd.DistilledMLPClassifier(validation_fraction=0.999, n_synthetic=100)])
def test_a_validation_fraction_that_leaves_no_training_row_names_itself(make):
    """It failed in scikit-learn's words ("test_size=0.999 ... the resulting train set will be empty"),
    with a row count (the transfer set's) the user never passed."""
    X, y = _frame()
    with pytest.raises(ValueError, match=r"validation_fraction=0\.999 holds out all 180 transfer rows \(80 real, "
                                         r"100 synthetic\): none is left to train on"):
        make().fit(X, y)


def test_a_missing_value_in_a_column_no_rule_reads_is_refused_and_said_so():
    """Refused all the same (outside the Domain, which the checks and proofs cover); the message no longer
    says the rules do not cover a column they never read."""
    X, y = _frame()
    model = rulekd.DistilledRuleClassifier(max_rules=3, n_synthetic=200, random_state=0).fit(X.assign(k=5.0), y)
    assert "k" not in {c.feature for r in model.rules_.rules for c in r.conditions}  # constant: never split on
    with pytest.raises(ValueError, match=r"'k' has missing values.*outside the model's Domain.*although no rule "
                                         r"reads the column\. Fill them"):
        model.predict(X.assign(k=np.nan))
    read = next(c.feature for r in model.rules_.rules for c in r.conditions
                if not model.domain_[c.feature].allow_missing)
    with pytest.raises(ValueError, match="and the rules do not cover them"):
        model.predict(X.assign(k=5.0).assign(**{read: np.nan}))


@case("nan-target")
def _(name, make, model):
    X, y = _frame()
    y = y.astype(float)
    y[4] = np.nan
    _refused(lambda: make().fit(X, y), "y contains NaN")


@case("inf")
def _(name, make, model):
    for v in (np.inf, -np.inf):
        X, y = _frame()
        X.loc[2, "a"] = v
        _refused(lambda: make().fit(X, y), "'a' contains infinity")
        _refused(lambda: model.predict(X), "'a' contains infinity")


@case("empty")
def _(name, make, model):
    X, y = _frame()
    _refused(lambda: make().fit(X.iloc[:0], y[:0]), "0 sample")
    _refused(lambda: model.predict(X.iloc[:0]), "0 sample")
    _refused(lambda: make().fit(X.iloc[:, :0], y), "0 feature")


@case("one-row")
def _(name, make, model):
    X, y = _frame()
    _refused(lambda: make().fit(X.iloc[:1], y[:1]), "only one class")
    assert _answered(model, X.iloc[[5]]).shape == (1,)
    first = [int(np.flatnonzero(y == k)[0]) for k in (0, 1)]
    _answered(make().fit(X.iloc[first], y[first]), X.iloc[first])  # one row per class is enough to fit


@case("one-feature")
def _(name, make, model):
    X, y = _frame()
    m = make().fit(X[["a"]], y)
    _answered(m, X[["a"]])
    assert list(m.feature_names_in_) == ["a"]


@case("constant-features")
def _(name, make, model):
    X, y = _frame()
    _answered(make().fit(X.assign(k=5.0), y), X.assign(k=5.0))
    flat = pd.DataFrame({"k": np.ones(len(y)), "j": np.zeros(len(y))})
    pred = _answered(make().fit(flat, y), flat)
    assert len(set(pred)) == 1  # nothing to tell the rows apart: one answer for all


@case("single-class")
def _(name, make, model):
    X, y = _frame()
    _refused(lambda: make().fit(X, np.zeros_like(y)), r"only one class \(0\); a classifier needs at least two")


@case("stray-label")
def _(name, make, model):
    """A label that differs from another only in spaces or case is a class of its own: said, at the caller's line."""
    X, y = _frame()
    labels = np.where(y == 1, "bad", "good").astype(object)
    labels[3] = "Bad "
    with pytest.warns(UserWarning, match=r"differ only in spaces or case.*'Bad ' \(1 row\) and 'bad' \(\d+ rows\)") as got:
        m = make().fit(X, labels)
    assert list(m.classes_) == ["Bad ", "bad", "good"]
    assert {Path(w.filename).name for w in got if "spaces or case" in str(w.message)} == {Path(__file__).name}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*differ only in spaces or case")
        make().fit(X, np.where(y == 1, "bad", "good"))


@case("string-labels")
def _(name, make, model):
    X, y = _frame()
    labels = np.where(y == 1, "bad", "good")
    m = make().fit(X, labels)
    assert list(m.classes_) == ["bad", "good"]
    pred = _answered(m, X)
    assert np.mean(pred == labels) > 0.5


@case("multiclass")
def _(name, make, model):
    X, _ = _frame()
    y3 = np.digitize(X["a"], [-0.4, 0.4])
    m = make().fit(X, y3)
    assert list(m.classes_) == [0, 1, 2]
    _answered(m, X)


@case("column-count")
def _(name, make, model):
    X, _ = _frame(30, seed=1)
    _refused(lambda: model.predict(X[["a", "b", "c"]]), "feature names")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "X does not have valid feature names"
        _refused(lambda: model.predict(X[["a", "b"]].to_numpy()), "2 features")


@case("column-names")
def _(name, make, model):
    X, _ = _frame(30, seed=1)
    _refused(lambda: model.predict(X.rename(columns={"a": "A"})), "feature names")


@case("column-order")
def _(name, make, model):
    X, _ = _frame(30, seed=1)
    np.testing.assert_array_equal(model.predict_proba(X[X.columns[::-1]]), model.predict_proba(X))


@case("unseen-level")
def _(name, make, model):
    X, _ = _frame(30, seed=1)
    X["c"] = X["c"].cat.add_categories(["w"])
    X.loc[0, "c"] = "w"
    _refused(lambda: model.predict(X), r"'c' has levels unseen during fit: \['w'\]")
    X["c"] = X["c"].astype(object)  # plain strings: the same answer
    _refused(lambda: model.predict(X), r"'c' has levels unseen during fit")


@case("mixed-types")
def _(name, make, model):
    X, y = _frame()
    X["c"] = pd.Series(["x", 1, 2.5, "y"] * 20, dtype=object)
    _refused(lambda: make().fit(X, y), r"'c' mixes value types \['float', 'int', 'str'\]")
    Xp, _ = _frame(30, seed=1)
    Xp["a"] = Xp["a"].astype(object)
    Xp.loc[0, "a"] = "12 kg"  # text in a numeric feature
    _refused(lambda: model.predict(Xp), "'a' holds values that are not numbers")


@case("huge-and-tiny")
def _(name, make, model):
    X, y = _frame()
    _refused(lambda: make().fit(X.assign(a=X["a"] * 1e300), y), "'a' holds values up to .*float32 range")
    _answered(make().fit(X.assign(a=X["a"] * 1e-300), y), X.assign(a=X["a"] * 1e-300))
    _answered(make().fit(X.assign(a=X["a"] * 5e-324), y), X)  # subnormal magnitudes
    Xp, _ = _frame(30, seed=1)
    Xp.loc[:9, "a"] = [1e300, -1e300, 1e308, -1e308, 3.4e38, 1e-300, -1e-300, 5e-324, 0.0, -0.0]
    _answered(model, Xp)  # outside the Domain, but a valid float: answered


@case("duplicate-names")
def _(name, make, model):
    X, y = _frame()
    dup = X.set_axis(["a", "a", "c", "d"], axis=1)
    _refused(lambda: make().fit(dup, y), r"duplicate column names \['a'\]")
    _refused(lambda: model.predict(dup), r"duplicate column names \['a'\]")


@case("sql-html-names")
def _(name, make, model):
    X, y = _frame()
    X = X.rename(columns={"a": SQL_HTML[0], "c": SQL_HTML[1]})
    m = make().fit(X, y)
    pred = _answered(m, X)
    assert list(m.feature_names_in_) == [SQL_HTML[0], "b", SQL_HTML[1], "d"]
    if name in RULE_STUDENTS:  # the rules name the columns as they are, and their exports run
        con = sqlite3.connect(":memory:")
        X.astype({SQL_HTML[1]: str}).to_sql("data", con, index=False)
        assert [r[0] for r in con.execute(to_sql(m, table="data"))] == list(pred)
        namespace: dict = {}
        exec(compile(to_python(m), "<rules>", "exec"), namespace)
        rows = X.astype({SQL_HTML[1]: object}).to_dict("records")
        assert [namespace["predict"](r) for r in rows] == list(pred)
        assert con.execute("SELECT count(*) FROM data").fetchone()[0] == len(X)  # nothing dropped


@case("object-numbers")
def _(name, make, model):
    import decimal

    X, y = _frame()
    none_for_nan = X.assign(d=X["d"].astype(object).where(X["d"].notna(), None))  # floats and None: object
    _refused(lambda: make().fit(none_for_nan, y), r"'d' holds numbers in an object column .*pd.to_numeric")
    dec = X.assign(a=[decimal.Decimal(str(v)) for v in X["a"]])  # what database drivers return
    _refused(lambda: make().fit(dec, y), r"'a' holds numbers in an object column")
    nested = X.assign(c=[[v] for v in X["c"]])
    _refused(lambda: make().fit(nested, y), r"'c' holds list values")
    _refused(lambda: make().fit(X.set_axis(pd.MultiIndex.from_product([["g"], list("abcd")]), axis=1), y),
             r"X has columns on 2 levels \(a MultiIndex")


@case("target-types")
def _(name, make, model):
    X, y = _frame()
    mixed = np.array(["yes" if v else 0 for v in y], dtype=object)
    mixed[0], mixed[1] = 0, "yes"
    _refused(lambda: make().fit(X, mixed), r"y mixes value types \['int', 'str'\]")
    _refused(lambda: make().fit(X, mixed[::-1].copy()), r"y mixes value types \['int', 'str'\]")  # either first
    dates = pd.to_datetime(np.where(y == 1, "2024-01-01", "2025-01-01"))
    _refused(lambda: make().fit(X, dates), "y holds dates or durations")
    _refused(lambda: make().fit(X, pd.Series(list(dates), dtype=object)), "y holds dates or durations")


@case("weights-range")
def _(name, make, model):
    X, y = _frame()
    w = np.ones(len(X))
    # The XGBoost teacher gets the weights divided by their mean: their scale decided whether it could split
    # at all (min_child_weight=1 against sums of weights, squared in float32), silently below 1e39. (The
    # students read weights as frequencies: the real rows' share of the transfer set grows with them.)
    teacher = make().fit(X, y, sample_weight=w).teacher_.proba(X)
    for scale in (1e39, 1e300, 1e20, 1e-3, 1e-30, 1e-46, 1e-300):
        m = make().fit(X, y, sample_weight=w * scale)
        np.testing.assert_allclose(m.teacher_.proba(X), teacher, atol=1e-6)
        _answered(m, X)
    _answered(make().fit(X, y, sample_weight=np.r_[1e39, w[1:]]), X)
    _refused(lambda: make().fit(X, y, sample_weight=np.where(y == 1, 0.0, 1.0)),
             r"sample_weight is 0 on every row of class\(es\) \[1\].*constant model")


@case("unused-level")
def _(name, make, model):
    X, y = _frame()
    X["c"] = X["c"].cat.add_categories(["w"])  # a level no row holds (its rows filtered out)
    with pytest.warns(UserWarning, match=r"list levels no row holds \(the first, 'c': \['w'\]\)"):
        m = make().fit(X, y)
    Xp, _ = _frame(30, seed=1)
    Xp["c"] = pd.Categorical(["w"] * 30, categories=["x", "y", "z", "w"])
    _answered(m, Xp)  # answered, as the Domain lists it
    _refused(lambda: make().fit(X.assign(c=X["c"].cat.remove_unused_categories()), y).predict(Xp),
             r"'c' has levels unseen during fit: \['w'\]")  # the fix the warning names


@case("dataframe-library")
def _(name, make, model):
    pa = pytest.importorskip("pyarrow")
    X, y = _frame()
    table = pa.Table.from_pandas(X, preserve_index=False)
    m = make().fit(table, y)
    assert list(m.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(m.predict_proba(X), m.predict_proba(table))  # a pandas frame, or the table


@case("array-names")
def _(name, make, model):
    X, y = _frame()
    num = X.drop(columns=["c"])
    m = make().fit(num.to_numpy(), y)
    named = pd.DataFrame(num.to_numpy(), columns=["x0", "x1", "x2"])
    np.testing.assert_array_equal(m.predict(named), m.predict(num.to_numpy()))  # in order: by position
    _refused(lambda: m.predict(named[["x1", "x0", "x2"]]), r"the names the rules give the features .* another order")
    if name in RULE_STUDENTS:
        ints = pd.DataFrame(num.to_numpy())  # columns 0, 1, 2: the rules name them '0', '1', '2'
        mi = make().fit(ints, y)
        np.testing.assert_array_equal(mi.rules_.predict(ints), mi.predict(ints))


@pytest.mark.parametrize("name", sorted(MAKE))
@pytest.mark.parametrize("case", list(ESTIMATOR_CASES))
def test_estimator(case, name, fitted):
    ESTIMATOR_CASES[case](name, MAKE[name], fitted[name])


# -- regressions ---------------------------------------------------------------------------------------------
def test_xgboost_teacher_takes_column_names_xgboost_refuses():
    """Regression: a column named like '<b>' or 'a[1]' made fit fail inside XGBoost ("feature_names must be
    string, and may not contain [, ] or <"); XGBoost now gets percent-encoded names, rulekd keeps the real ones."""
    from rulekd.teachers import fit_teacher

    X, y = _frame()
    X = X.rename(columns={"a": "<b>a</b>", "b": "b[1]", "d": "100%"})
    teacher = fit_teacher(_teacher(), X, y, random_state=0)
    assert set(teacher.split_thresholds()) <= set(X.columns)  # the teacher's cut points under the real names
    np.testing.assert_array_equal(teacher.predict(X), teacher.predict(X.copy()))
    hybrid = MAKE["HybridClassifier"]().fit(X, y)  # reads the teacher's own trees as candidate rules
    assert {f for r in hybrid.rule_path_.rules for f in r.features} <= set(X.columns)


def test_values_beyond_float32_are_refused_by_name_at_fit():
    """Regression: 1e300 in a column failed deep inside XGBoost ("Input data contains `inf` or a value too
    large") or scikit-learn's float32 validation, naming neither the column nor the fix."""
    X, y = _frame()
    for name, make in MAKE.items():
        msg = _refused(lambda: make().fit(X.assign(b=X["b"] * 1e39), y), "'b' holds values up to 9e\\+39")
        assert "rescale" in msg


def test_the_neural_student_has_no_rule_methods(fitted):
    """Regression: DistilledMLPClassifier inherited decided_by / get_rules from the rule students and failed
    with AttributeError 'rules_' when they were called (`rulekd predict` on a neural student crashed)."""
    model = fitted["DistilledMLPClassifier"]
    assert not hasattr(model, "decided_by") and not hasattr(model, "get_rules")
    assert hasattr(fitted["DistilledRuleClassifier"], "decided_by")


def test_the_cli_shows_no_traceback_for_file_system_errors(tmp_path, capsys):
    """Regression: `rulekd distill --out FILE/sub` ended in a FileExistsError traceback after fitting (main
    caught only FileNotFoundError, IsADirectoryError and PermissionError); it now stops before any work."""
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    data = _csv(tmp_path / "t.csv", _table())
    err = _bad(capsys, "is a file, not a folder", *_distill(data, tmp_path / "a-file" / "sub"))
    assert "Traceback" not in err


# -- files through the Python API ----------------------------------------------------------------------
def test_missing_files_are_named(tmp_path):
    _refused(lambda: RuleSet.from_json(tmp_path / "nope.json"), "does not exist", FileNotFoundError)
    _refused(lambda: Domain.from_json(tmp_path / "nope.json"), "does not exist", FileNotFoundError)
    _refused(lambda: rulekd.load(tmp_path / "nope"), "does not exist", FileNotFoundError)


def test_non_utf8_json_is_refused_with_the_byte(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"format": "rulekd.ruleset", "caf\xe9": 1}')
    _refused(lambda: RuleSet.from_json(bad), r"not valid UTF-8 .*byte 33", RuleFormatError)
    _refused(lambda: Domain.from_json(bad), r"not valid UTF-8 .*byte 33", DomainError)


# -- a folder without write permission (even for root) ------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@contextlib.contextmanager
def _without_root_override():
    """Root ignores permission bits through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH: drop both from this
    thread's effective set for the duration, so that a read-only folder is read-only to root too."""
    if os.geteuid() != 0:
        yield
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        head, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
        if libc.capget(ctypes.byref(head), data) != 0:
            raise OSError(ctypes.get_errno(), "capget")
        saved = data[0].effective
        data[0].effective &= ~0b110  # bits 1 and 2: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.capset(ctypes.byref(head), data) != 0:
            raise OSError(ctypes.get_errno(), "capset")
    except (OSError, AttributeError) as exc:
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE ({exc}): chmod does not stop root")
    try:
        yield
    finally:
        data[0].effective = saved
        assert libc.capset(ctypes.byref(head), data) == 0


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` without write permission for this process while the block runs."""
    os.chmod(folder, 0o555)
    try:
        with _without_root_override():
            with pytest.raises(PermissionError):  # the simulation works: nobody may write here
                (folder / "probe").write_text("x", encoding="utf-8")
            yield folder
    finally:
        os.chmod(folder, 0o755)


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(MAKE))
def test_saving_into_a_read_only_folder_fails_and_keeps_what_was_there(name, fitted, tmp_path):
    model = fitted[name]
    rulekd.save(model, tmp_path / "kept")
    before = _snapshot(tmp_path)
    with read_only(tmp_path):
        _refused(lambda: rulekd.save(model, tmp_path / "new"), "Permission denied", PermissionError)
        _refused(lambda: rulekd.save(model, tmp_path / "kept", overwrite=True), "Permission denied",
                 PermissionError)
        if name in RULE_STUDENTS:
            _refused(lambda: model.rules_.to_json(tmp_path / "rules.json"), r"rules\.json", PermissionError)
        _refused(lambda: model.domain_.to_json(tmp_path / "domain.json"), r"domain\.json", PermissionError)
    assert _snapshot(tmp_path) == before  # nothing written, nothing removed, no temporary file left
    np.testing.assert_array_equal(rulekd.load(tmp_path / "kept").predict_proba(_frame()[0]),
                                  model.predict_proba(_frame()[0]))


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    """Regression: atomic_write_text left ``<name>.tmp`` behind when the final rename failed."""
    from rulekd._io import atomic_write_text

    (tmp_path / "target").mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "target", "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target"]


def test_an_atomic_write_touches_no_other_file(tmp_path):
    """The temporary file has a name of its own: a user's ``<name>.tmp`` is neither replaced nor removed."""
    from rulekd._io import atomic_write_text

    (tmp_path / "rules.sql.tmp").write_text("precious", encoding="utf-8")
    atomic_write_text(tmp_path / "rules.sql", "new")
    assert (tmp_path / "rules.sql.tmp").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.sql", "rules.sql.tmp"]
    (tmp_path / "out.tmp").write_text("mine", encoding="utf-8")
    (tmp_path / "out").mkdir()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        atomic_write_text(tmp_path / "out", "text")
    assert (tmp_path / "out.tmp").read_text(encoding="utf-8") == "mine"


def test_writing_through_a_symbolic_link_replaces_its_target(tmp_path):
    from rulekd._io import atomic_write_text

    (tmp_path / "real.txt").write_text("old", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(tmp_path / "real.txt")
    atomic_write_text(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text(encoding="utf-8") == "new"


def test_a_new_file_is_complete_and_synced_before_it_appears(tmp_path, monkeypatch):
    """write_text without overwrite wrote the path itself, unsynced: a crash left a half-written file."""
    from rulekd import _io

    events = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])

    def link(src, dst):
        assert not os.path.exists(dst)
        assert open(src, encoding="utf-8").read() == "complete text"  # whole before it gets its name
        events.append("link")
        return real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    _io.write_text(tmp_path / "report.html", "complete text")
    assert events[:2] == ["fsync", "link"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    with pytest.raises(FileExistsError, match="already exists"):
        _io.write_text(tmp_path / "report.html", "other")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == "complete text"


def test_a_new_file_appearing_meanwhile_is_kept_even_without_hard_links(tmp_path, monkeypatch):
    from rulekd import _io

    def appear_then_refuse_links(src, dst):
        Path(dst).write_text("the user's file", encoding="utf-8")  # written by someone else meanwhile
        raise PermissionError(errno.EPERM, "Operation not permitted")  # as on a file system without links

    monkeypatch.setattr(os, "link", appear_then_refuse_links)
    with pytest.raises(FileExistsError, match="already exists"):
        _io.write_text(tmp_path / "rules.json", "ours")
    assert (tmp_path / "rules.json").read_text(encoding="utf-8") == "the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.json"]  # no temporary file left
    monkeypatch.setattr(os, "link", lambda src, dst: (_ for _ in ()).throw(OSError(errno.ENOTSUP, "no links")))
    _io.write_text(tmp_path / "other.json", "ours")  # the fallback: a rename after a check
    assert (tmp_path / "other.json").read_text(encoding="utf-8") == "ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json", "rules.json"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_pipe_or_device_is_written_as_a_stream_not_replaced(tmp_path):
    """`--out /dev/stdout --force` failed (a temporary file beside /proc/self/fd/1), and without --force the
    device 'already existed'."""
    import threading

    from rulekd._io import write_text

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    write_text(fifo, "streamed")  # no overwrite needed: nothing is replaced
    reader.join(timeout=10)
    assert got == ["streamed"]
    assert fifo.exists() and not fifo.is_file()  # the pipe itself is still there, not a file in its place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_rule_and_domain_files_are_kept_unless_overwrite(tmp_path):
    """RuleSet.to_json, Domain.to_json and export(path=) refuse an existing file by default, like save."""
    from rulekd.rules import export

    model = MAKE["DistilledRuleClassifier"]().fit(*_frame())
    writers = {
        "rules.json": lambda p, **kw: model.rules_.to_json(p, **kw),
        "domain.json": lambda p, **kw: model.domain_.to_json(p, **kw),
        "rules.sql": lambda p, **kw: export(model, "sql", path=p, **kw),
    }
    for name, write in writers.items():
        path = tmp_path / name
        path.write_text("the user's file", encoding="utf-8")
        with pytest.raises(FileExistsError, match=rf"{re.escape(name)}' already exists; pass overwrite=True"):
            write(path)
        assert path.read_text(encoding="utf-8") == "the user's file"
        text = write(path, overwrite=True)
        assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(writers)  # no temporary file left


# -- the command line -----------------------------------------------------------------------------------
@pytest.fixture
def fast_distill(monkeypatch):
    """``rulekd distill`` with small teachers and students: the command's own path, at test speed."""
    import rulekd._commands as commands

    real = commands._build_model

    def build(args, teacher):
        model = real(args, teacher)
        model.set_params(teacher=_teacher() if teacher is None else teacher, n_synthetic=0)
        if args.model == "mlp":
            model.set_params(hidden_layer_sizes=(4,), max_epochs=3)
        if args.model == "hybrid":
            # The default candidate rule student (rules=None) takes the hybrid's n_synthetic (0 here).
            model.set_params(student=_student())
            if model.rules is not None:
                model.set_params(rules__n_synthetic=0)
        return model

    monkeypatch.setattr(commands, "_build_model", build)


def _csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def _table(n=60, seed=0, **extra) -> pd.DataFrame:
    X, y = _frame(n, seed)
    X = X.assign(c=X["c"].astype(str), **extra)
    return X.assign(target=y)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Data files and saved models (fitted through the API with fast settings) for the CLI cases."""
    d = tmp_path_factory.mktemp("cli")
    train = _table(80)
    _csv(d / "train.csv", train)
    _csv(d / "rows.csv", _table(30, seed=1).drop(columns="target"))
    _csv(d / "test.csv", _table(30, seed=1))
    X = train.drop(columns="target").astype({"c": "category"})
    rules = MAKE["DistilledRuleClassifier"]().set_params(kind="list").fit(X, train["target"].to_numpy())
    rulekd.save(rules, d / "rules-model")
    rules.rules_.to_json(d / "rules.json")
    rulekd.save(MAKE["DistilledMLPClassifier"]().fit(X, train["target"].to_numpy()), d / "mlp-model")
    weird = train.rename(columns={"a": SQL_HTML[0], "c": SQL_HTML[1]})
    _csv(d / "weird.csv", weird)
    wm = MAKE["DistilledRuleClassifier"]().fit(weird.drop(columns="target").astype({SQL_HTML[1]: "category"}),
                                               weird["target"].to_numpy())
    rulekd.save(wm, d / "weird-model")
    return d


def _run(capsys, *argv) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _bad(capsys, match, *argv) -> str:
    """Exit 2 with exactly one line on stderr that matches ``match``."""
    code, _, err = _run(capsys, *argv)
    assert code == 2, (code, err)
    assert err.count("\n") == 1 and re.search(match, err), err
    return err


def _ok(capsys, *argv) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    return out


def _distill(data, out, *extra):
    return ("distill", "--data", data, "--target", "target", "--out", out, "--quiet", *extra)


def _predict(cli, data, out, model="rules-model", *extra):
    return ("predict", cli / model, "--data", data, "--out", out, "--quiet", *extra)


def _audit(cli, data, out, model="rules-model"):
    return ("audit", cli / model, "--data", data, "--target", "target", "--out", out, "--quiet",
            "--time-budget-s", "5")


CLI_CASES: dict = {}


def cli_case(name, command):
    def register(fn):
        CLI_CASES[(name, command)] = fn
        return fn
    return register


# distill
@cli_case("nan", "distill")
def _(cli, tmp, capsys):
    t = _table()
    t.loc[:5, "a"] = np.nan
    _ok(capsys, *_distill(_csv(tmp / "t.csv", t), tmp / "m"))
    assert rulekd.load(tmp / "m").domain_["a"].allow_missing


@cli_case("inf", "distill")
def _(cli, tmp, capsys):
    t = _table().astype({"a": object})
    t.loc[3, "a"] = "inf"
    _bad(capsys, "'a' contains infinity", *_distill(_csv(tmp / "t.csv", t), tmp / "m"))
    assert not (tmp / "m").exists()


@cli_case("empty", "distill")
def _(cli, tmp, capsys):
    _bad(capsys, "has a header but no rows", *_distill(_csv(tmp / "t.csv", _table().iloc[:0]), tmp / "m"))
    (tmp / "zero.csv").write_bytes(b"")
    _bad(capsys, "is empty", *_distill(tmp / "zero.csv", tmp / "m"))


@cli_case("one-row", "distill")
def _(cli, tmp, capsys):
    _bad(capsys, "only one class", *_distill(_csv(tmp / "t.csv", _table().iloc[:1]), tmp / "m"))


@cli_case("one-feature", "distill")
def _(cli, tmp, capsys):
    _ok(capsys, *_distill(_csv(tmp / "t.csv", _table()[["a", "target"]]), tmp / "m"))
    assert list(rulekd.load(tmp / "m").feature_names_in_) == ["a"]


@cli_case("constant-features", "distill")
def _(cli, tmp, capsys):
    _ok(capsys, *_distill(_csv(tmp / "t.csv", _table(k=5.0, s="same")), tmp / "m"))


@cli_case("single-class", "distill")
def _(cli, tmp, capsys):
    _bad(capsys, r"only one class \(1\);", *_distill(_csv(tmp / "t.csv", _table().assign(target=1)), tmp / "m"))


@cli_case("nan-target", "distill")
def _(cli, tmp, capsys):
    t = _table().astype({"target": float})
    t.loc[2, "target"] = np.nan
    _bad(capsys, "1 missing labels; drop those rows", *_distill(_csv(tmp / "t.csv", t), tmp / "m"))


@cli_case("string-labels", "distill")
def _(cli, tmp, capsys):
    t = _table()
    t["target"] = np.where(t["target"] == 1, "bad", "good")
    _ok(capsys, *_distill(_csv(tmp / "t.csv", t), tmp / "m"))
    _ok(capsys, *_predict(tmp, tmp / "t.csv", tmp / "p.csv", "m"))
    assert set(pd.read_csv(tmp / "p.csv")["prediction"]) <= {"bad", "good"}


@cli_case("multiclass", "distill")
def _(cli, tmp, capsys):
    t = _table()
    t["target"] = np.digitize(t["a"], [-0.4, 0.4])
    _ok(capsys, *_distill(_csv(tmp / "t.csv", t), tmp / "m", "--model", "hybrid"))
    _ok(capsys, *_predict(tmp, tmp / "t.csv", tmp / "p.csv", "m", "--proba"))
    assert {"proba_0", "proba_1", "proba_2"} <= set(pd.read_csv(tmp / "p.csv").columns)


@cli_case("mixed-types", "distill")
def _(cli, tmp, capsys):
    t = _table()
    t["c"] = ["x", "1", "2.5", "y"] * 15  # numbers and words in one column: read as text levels
    _ok(capsys, *_distill(_csv(tmp / "t.csv", t), tmp / "m"))
    assert set(rulekd.load(tmp / "m").domain_["c"].levels) == {"x", "1", "2.5", "y"}


@cli_case("huge-and-tiny", "distill")
def _(cli, tmp, capsys):
    t = _table()
    _bad(capsys, "float32 range", *_distill(_csv(tmp / "h.csv", t.assign(a=t["a"] * 1e300)), tmp / "m"))
    _ok(capsys, *_distill(_csv(tmp / "t.csv", t.assign(a=t["a"] * 1e-300)), tmp / "m"))


@cli_case("duplicate-names", "distill")
def _(cli, tmp, capsys):
    (tmp / "t.csv").write_text("a,a,target\n1,2,0\n3,4,1\n", encoding="utf-8")
    _bad(capsys, r"duplicate column names \['a'\]", *_distill(tmp / "t.csv", tmp / "m"))


@cli_case("sql-html-names", "distill")
def _(cli, tmp, capsys):
    _ok(capsys, *_distill(cli / "weird.csv", tmp / "m"))
    assert SQL_HTML[0] in rulekd.load(tmp / "m").feature_names_in_


@cli_case("non-utf8", "distill")
def _(cli, tmp, capsys):
    (tmp / "t.csv").write_bytes("a,b,target\n1,caf\xe9,0\n2,th\xe9,1\n".encode("latin-1"))
    _bad(capsys, "is not utf-8 text .*--encoding", *_distill(tmp / "t.csv", tmp / "m"))
    (tmp / "t.csv").write_bytes(("a,b,target\n" + "".join(f"{i},caf\xe9{i % 2},{i % 2}\n" for i in range(20)))
                                .encode("latin-1"))
    _ok(capsys, *_distill(tmp / "t.csv", tmp / "m", "--encoding", "latin-1"))
    assert "café1" in rulekd.load(tmp / "m").domain_["b"].levels


@cli_case("missing-file", "distill")
def _(cli, tmp, capsys):
    _bad(capsys, "does not exist", *_distill(tmp / "nope.csv", tmp / "m"))
    _bad(capsys, "is a file, not a folder", *_distill(cli / "train.csv", cli / "rows.csv" / "m"))


@cli_case("no-write-permission", "distill")
def _(cli, tmp, capsys):
    with read_only(tmp):
        _bad(capsys, "Cannot write into the folder .*Permission denied", *_distill(cli / "train.csv", tmp / "m"))
    assert list(tmp.iterdir()) == []


# predict and audit read rows the same way: each variant of a case runs through both
def _rows(cli):
    return pd.read_csv(cli / "test.csv")


def _edit(column, rows_, values, dtype=None):
    def apply(t):
        t = t.astype({column: dtype}) if dtype else t.copy()
        t.loc[rows_, column] = values
        return t
    return apply


ROW_CASES = {  # case -> [(edit of the labelled test rows, None: answered | regex of the refusal)]
    "nan": [(_edit("d", slice(0, 3), np.nan), None),  # 'd' had missing values during fit
            (_edit("a", 4, np.nan), "'a' has missing values, but it had none during fit")],
    "inf": [(_edit("a", 0, "-inf", object), "'a' contains infinity")],
    "empty": [(lambda t: t.iloc[:0], "has a header but no rows")],
    "one-row": [(lambda t: t.iloc[:1], None)],
    "column-count": [(lambda t: t.drop(columns="b"), r"lacks the model's feature column\(s\) \['b'\]"),
                     (lambda t: t.assign(extra=1), None)],  # columns the model does not use: ignored
    "column-names": [(lambda t: t.rename(columns={"a": "A"}), r"lacks the model's feature column\(s\) \['a'\]")],
    "unseen-level": [(_edit("c", 2, "spaceship"), r"'c' has levels unseen during fit: \['spaceship'\]")],
    "mixed-types": [(_edit("a", 1, "12 kg", object), r"'a' was numeric during fit but is categorical now \(it holds text such as '12 kg'\)")],
    "huge-and-tiny": [(_edit("a", slice(0, 3), [1e300, -1e308, 1e-300, 5e-324]), None)],
    "duplicate-names": [(lambda t: t.assign(e=t["d"]).rename(columns={"e": "d"}), r"duplicate column names \['d'\]")],
    "non-utf8": [(_edit("c", 0, "caf@@"), "is not utf-8 text")],  # @@: the byte 0xff (see _write_rows)
}


def _write_rows(path: Path, frame: pd.DataFrame) -> Path:
    path.write_bytes(frame.to_csv(index=False).encode("utf-8").replace(b"@@", b"\xff"))
    return path


def _rows_case(case, command):
    def run(cli, tmp, capsys):
        for k, (edit, refusal) in enumerate(ROW_CASES[case]):
            data = _write_rows(tmp / f"rows{k}.csv", edit(_rows(cli)))
            argv = (_predict(cli, data, tmp / f"p{k}.csv") if command == "predict"
                    else _audit(cli, data, tmp / f"r{k}.html"))
            if refusal is None:
                _ok(capsys, *argv)
            else:
                _bad(capsys, refusal, *argv)
                assert not (tmp / f"p{k}.csv").exists() and not (tmp / f"r{k}.html").exists()
    return run


for _case in ROW_CASES:
    for _command in ("predict", "audit"):
        CLI_CASES[(_case, _command)] = _rows_case(_case, _command)


@cli_case("column-order", "predict")
def _(cli, tmp, capsys):
    rows = _rows(cli)
    _ok(capsys, *_predict(cli, cli / "test.csv", tmp / "a.csv"))
    _ok(capsys, *_predict(cli, _csv(tmp / "r.csv", rows[rows.columns[::-1]]), tmp / "b.csv"))
    assert (tmp / "a.csv").read_text(encoding="utf-8") == (tmp / "b.csv").read_text(encoding="utf-8")


@cli_case("column-order", "audit")
def _(cli, tmp, capsys):
    rows = _rows(cli)
    _ok(capsys, *_audit(cli, _csv(tmp / "r.csv", rows[rows.columns[::-1]]), tmp / "r.html"))


@cli_case("nan-target", "audit")
def _(cli, tmp, capsys):
    rows = _rows(cli).astype({"target": float})
    rows.loc[3, "target"] = np.nan
    _bad(capsys, "1 missing labels; drop those rows", *_audit(cli, _csv(tmp / "r.csv", rows), tmp / "r.html"))


@cli_case("huge-and-tiny", "predict")
def _(cli, tmp, capsys):
    _rows_case("huge-and-tiny", "predict")(cli, tmp, capsys)  # the rule student, as for audit
    rows = _rows(cli)
    rows.loc[:3, "a"] = [1e300, -1e308, 1e-300, 5e-324]
    _ok(capsys, *_predict(cli, _csv(tmp / "r.csv", rows), tmp / "p.csv", "mlp-model", "--proba"))
    assert np.isfinite(pd.read_csv(tmp / "p.csv")[["proba_0", "proba_1"]].to_numpy()).all()


@cli_case("sql-html-names", "predict")
def _(cli, tmp, capsys):
    _ok(capsys, *_predict(cli, cli / "weird.csv", tmp / "p.csv", "weird-model", "--proba"))
    assert len(pd.read_csv(tmp / "p.csv")) == len(pd.read_csv(cli / "weird.csv"))


@cli_case("missing-file", "predict")
def _(cli, tmp, capsys):
    _bad(capsys, "does not exist", *_predict(cli, tmp / "nope.csv", tmp / "p.csv"))
    _bad(capsys, "Model directory .* does not exist", *_predict(tmp, cli / "rows.csv", tmp / "p.csv", "nope"))
    _bad(capsys, "does not exist", *_predict(cli, cli / "rows.csv", tmp / "no-folder" / "p.csv"))


@cli_case("no-write-permission", "predict")
def _(cli, tmp, capsys):
    (tmp / "p.csv").write_text("precious", encoding="utf-8")
    with read_only(tmp):
        _bad(capsys, "Cannot write into the folder .*Permission denied",
             *_predict(cli, cli / "rows.csv", tmp / "new.csv"))
        _bad(capsys, "Cannot write into the folder .*Permission denied",
             *_predict(cli, cli / "rows.csv", tmp / "p.csv", "rules-model", "--force"))
    assert (tmp / "p.csv").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in tmp.iterdir()) == ["p.csv"]


@cli_case("model-without-rules", "predict")
def _(cli, tmp, capsys):
    """Regression: `rulekd predict` on a neural student crashed with AttributeError 'rules_' (decided_by)."""
    _ok(capsys, *_predict(cli, cli / "rows.csv", tmp / "p.csv", "mlp-model"))
    assert list(pd.read_csv(tmp / "p.csv").columns) == ["prediction"]


# verify
@cli_case("missing-file", "verify")
def _(cli, tmp, capsys):
    _bad(capsys, "Rules file .* does not exist", "verify", tmp / "nope.json")
    _bad(capsys, "Domain file .* does not exist", "verify", cli / "rules.json", "--domain", tmp / "nope.json")


@cli_case("non-utf8", "verify")
def _(cli, tmp, capsys):
    (tmp / "r.json").write_bytes(b'{"format": "rulekd.ruleset", "\xff": 1}')
    _bad(capsys, "not valid UTF-8", "verify", tmp / "r.json")
    _bad(capsys, "Domain JSON is not valid UTF-8", "verify", cli / "rules.json", "--domain", tmp / "r.json")


@cli_case("empty", "verify")
def _(cli, tmp, capsys):
    (tmp / "r.json").write_bytes(b"")
    _bad(capsys, "Rule-set JSON is malformed", "verify", tmp / "r.json")


@cli_case("empty", "export")
def _(cli, tmp, capsys):
    (tmp / "r.json").write_bytes(b"")
    _bad(capsys, "Rule-set JSON is malformed", "export", tmp / "r.json", "--format", "sql")


@cli_case("malformed-file", "verify")
def _(cli, tmp, capsys):
    (tmp / "r.json").write_text('{"format": "rulekd.ruleset", "version": 1,', encoding="utf-8")
    _bad(capsys, "malformed", "verify", tmp / "r.json")
    code, _, err = _run(capsys, "verify", cli / "rules.json", "--property", "if a < then 1")
    assert code == 2 and "Expected a number or a quoted string, got 'then'" in err  # shown with a caret


@cli_case("sql-html-names", "verify")
def _(cli, tmp, capsys):
    code, out, err = _run(capsys, "verify", cli / "weird-model", "--checks", "none", "--property",
                          "invariant `<b>bold</b>`")
    assert code in (0, 1) and "<b>bold</b>" in out, err


# audit
@cli_case("single-class", "audit")
def _(cli, tmp, capsys):
    _ok(capsys, *_audit(cli, _csv(tmp / "t.csv", _table(30, seed=1).assign(target=1)), tmp / "r.html"))
    assert "ROC AUC is undefined: the data hold a single class." in (tmp / "r.html").read_text(encoding="utf-8")


@cli_case("sql-html-names", "audit")
def _(cli, tmp, capsys):
    _ok(capsys, *_audit(cli, cli / "weird.csv", tmp / "r.html", "weird-model"))
    html = (tmp / "r.html").read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


@cli_case("missing-file", "audit")
def _(cli, tmp, capsys):
    _bad(capsys, "does not exist", *_audit(cli, tmp / "nope.csv", tmp / "r.html"))
    _bad(capsys, "does not exist", *_audit(tmp, cli / "train.csv", tmp / "r.html", "nope"))


@cli_case("no-write-permission", "audit")
def _(cli, tmp, capsys):
    with read_only(tmp):
        _bad(capsys, "Cannot write into the folder .*Permission denied", *_audit(cli, cli / "train.csv",
                                                                                  tmp / "r.html"))
    assert list(tmp.iterdir()) == []


# export
@cli_case("missing-file", "export")
def _(cli, tmp, capsys):
    _bad(capsys, "does not exist", "export", tmp / "nope.json", "--format", "sql")


@cli_case("non-utf8", "export")
def _(cli, tmp, capsys):
    (tmp / "r.json").write_bytes(b'{"format": "rulekd.ruleset", "\xff": 1}')
    _bad(capsys, "not valid UTF-8", "export", tmp / "r.json", "--format", "sql")


@cli_case("malformed-file", "export")
def _(cli, tmp, capsys):
    (tmp / "r.json").write_text('{"format": "rulekd.ruleset", "version": 1}', encoding="utf-8")
    _bad(capsys, "Invalid rule-set JSON", "export", tmp / "r.json", "--format", "python")


@cli_case("sql-html-names", "export")
def _(cli, tmp, capsys):
    sql = _ok(capsys, "export", cli / "weird-model", "--format", "sql", "--table", 'odd "table"')
    rows = pd.read_csv(cli / "weird.csv")
    con = sqlite3.connect(":memory:")
    rows.to_sql('odd "table"', con, index=False)
    got = [r[0] for r in con.execute(sql)]
    model = rulekd.load(cli / "weird-model")
    X = rows.drop(columns="target").astype({SQL_HTML[1]: "category"})
    assert got == list(model.predict(X))
    assert con.execute('SELECT count(*) FROM "odd ""table"""').fetchone()[0] == len(rows)  # table intact


@cli_case("model-without-rules", "export")
def _(cli, tmp, capsys):
    _bad(capsys, r"DistilledMLPClassifier\) has no rules to export", "export", cli / "mlp-model", "--format", "sql")


@cli_case("no-write-permission", "export")
def _(cli, tmp, capsys):
    with read_only(tmp):
        _bad(capsys, "Cannot write into the folder .*Permission denied",
             "export", cli / "rules-model", "--format", "sql", "--out", tmp / "r.sql")
    assert list(tmp.iterdir()) == []


# demo
@cli_case("no-write-permission", "demo")
def _(cli, tmp, capsys):
    (tmp / "mine").mkdir()
    with read_only(tmp):
        _bad(capsys, "permission denied: .*fix its permissions", "demo", "--out", tmp / "new", "--quiet")
    with read_only(tmp / "mine"):
        _bad(capsys, "Cannot write to .*Permission denied", "demo", "--out", tmp / "mine", "--quiet")
    assert [p.name for p in tmp.iterdir()] == ["mine"] and list((tmp / "mine").iterdir()) == []


@cli_case("missing-file", "demo")
def _(cli, tmp, capsys):
    _bad(capsys, "exists and is not a directory", "demo", "--out", cli / "rows.csv", "--quiet")


@pytest.mark.parametrize("case, command", list(CLI_CASES))
def test_cli(case, command, cli, tmp_path, capsys, fast_distill):
    tmp = tmp_path / "work"
    tmp.mkdir()
    CLI_CASES[(case, command)](cli, tmp, capsys)


# -- the documented table -------------------------------------------------------------------------------
def test_docs_table_lists_every_tested_case():
    """docs/bad-input.md has a row for every case tested here, and no row that is not tested."""
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", text, flags=re.M))
    tested = set(ESTIMATOR_CASES) | {c for c, _ in CLI_CASES}
    assert documented == tested
