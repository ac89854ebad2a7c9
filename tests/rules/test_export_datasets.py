"""On every bundled data set, the SQL (SQLite and DuckDB) and Python exports answer like the fitted student.

Each data set gets a few missing values injected before fitting (two numeric
columns and one categorical column), so the Domain allows them and the rules
may carry ``or missing``; the exports then see NULL / None in those places.
"""

from __future__ import annotations

import functools
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

from rulekd import DistilledRuleClassifier, DistilledTreeClassifier
from rulekd.datasets import list_datasets, load_dataset
from rulekd.rules import to_python, to_sql, to_text

duckdb = pytest.importorskip("duckdb")
xgboost = pytest.importorskip("xgboost")

MAX_ROWS = 3000
# The tree student runs where the rule student does not, so both kinds are covered.
STUDENTS = {
    "german_credit": ("rules", "tree"),
    "adult": ("rules",),
    "compas": ("list",),
    "heart": ("rules", "tree"),
    "breast_cancer": ("rules",),
}


@functools.lru_cache(maxsize=None)
def _data(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    bunch = load_dataset(name)
    X, y = bunch.data.reset_index(drop=True), np.asarray(bunch.target)
    rng = np.random.default_rng(0)
    if len(X) > MAX_ROWS:
        idx = np.sort(rng.choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[idx].reset_index(drop=True), y[idx]
    X = X.copy()
    numeric = [c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]
    categorical = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    for c in numeric[:2] + categorical[:1]:
        if not isinstance(X[c].dtype, pd.CategoricalDtype):
            X[c] = X[c].astype(np.float64)
        X.loc[rng.random(len(X)) < 0.05, c] = np.nan
    return X, y


@functools.lru_cache(maxsize=None)
def _fit(name: str, kind: str):
    X, y = _data(name)
    teacher = xgboost.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, enable_categorical=True,
                                    tree_method="hist")
    if kind == "tree":
        model = DistilledTreeClassifier(teacher=teacher, max_leaf_nodes=8, n_synthetic=0, random_state=0)
    else:
        model = DistilledRuleClassifier(teacher=teacher, max_rules=8, kind="list" if kind == "list" else "set",
                                        n_synthetic=0, random_state=0)
    return model.fit(X, y), X


def _sql_rows(X: pd.DataFrame) -> list[tuple]:
    """Rows for a database driver: Python scalars, None for missing, the row number first."""
    cols = []
    for c in X.columns:
        values = X[c].astype(object).where(X[c].notna(), None).tolist()
        cols.append([v.item() if isinstance(v, np.generic) else v for v in values])
    return [(i, *row) for i, row in enumerate(zip(*cols))]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _types(X: pd.DataFrame) -> list[str]:
    return ["VARCHAR" if isinstance(X[c].dtype, pd.CategoricalDtype) else "DOUBLE PRECISION" for c in X.columns]


def _run_sqlite(X: pd.DataFrame, sql: str) -> list[tuple]:
    con = sqlite3.connect(":memory:")
    cols = ", ".join(f"{_q(c)} {'TEXT' if t == 'VARCHAR' else 'REAL'}" for c, t in zip(X.columns, _types(X)))
    con.execute(f'CREATE TABLE "data" ("row_id" INTEGER, {cols})')
    con.executemany(f'INSERT INTO "data" VALUES ({", ".join("?" * (X.shape[1] + 1))})', _sql_rows(X))
    return con.execute(sql).fetchall()


def _run_duckdb(X: pd.DataFrame, sql: str) -> list[tuple]:
    con = duckdb.connect()
    cols = ", ".join(f"{_q(c)} {t}" for c, t in zip(X.columns, _types(X)))
    con.execute(f'CREATE TABLE "data" ("row_id" BIGINT, {cols})')
    frame = pd.DataFrame({"row_id": np.arange(len(X))})
    for j, c in enumerate(X.columns):  # plain columns: a pandas category would arrive as an ENUM
        col = X[c]
        frame[f"c{j}"] = col.astype(object).where(col.notna(), None) if isinstance(col.dtype, pd.CategoricalDtype) \
            else col.astype(np.float64)
    con.register("frame", frame)
    con.execute('INSERT INTO "data" SELECT * FROM frame')
    return con.execute(sql).fetchall()


CASES = [(name, kind) for name in list_datasets() for kind in STUDENTS.get(name, ("rules",))]


@pytest.mark.parametrize(("name", "kind"), CASES)
def test_sql_and_python_exports_answer_like_the_student(name, kind):
    model, X = _fit(name, kind)
    expected = model.predict(X).tolist()
    expected_p = model.predict_proba(X)
    assert X.isna().to_numpy().any()
    assert len(set(expected)) == 2  # both classes predicted: the rules are exercised

    for run, literals in ((_run_sqlite, "decimal"), (_run_sqlite, "binary"), (_run_duckdb, "decimal")):
        sql = to_sql(model, order_by="row_id", keep=["row_id"], proba=True, float_literals=literals)
        got = run(X, sql)
        assert [r[0] for r in got] == list(range(len(X)))
        assert [r[1] for r in got] == expected, (run.__name__, literals)
        assert np.array_equal(np.array([r[2:] for r in got], dtype=float), expected_p)

    namespace: dict = {}
    exec(to_python(model), namespace)
    rows = [{c: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v) for c, v in zip(X.columns, r)}
            for r in X.astype(object).itertuples(index=False, name=None)]
    assert [namespace["predict"](r) for r in rows] == expected
    assert np.array_equal(np.array([namespace["predict_proba"](r) for r in rows]), expected_p)

    if kind == "tree":
        text = to_text(model, "tree")
        assert text.count("class:") == len(model.rules_)
    else:
        with pytest.raises(ValueError, match="needs rules from a tree"):
            to_text(model, "tree")


def test_rules_that_allow_missing_values_are_exercised():
    """The injected NaNs meet conditions with an ``or missing`` clause somewhere."""
    allowing = 0
    for name, kind in CASES:
        model, X = _fit(name, kind)
        allowing += sum(c.missing for r in model.rules_.rules for c in r.conditions if c.op not in ("is missing",))
    assert allowing > 0
