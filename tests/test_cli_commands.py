"""``rulekd distill / predict / verify / audit / export`` on files, and their bad-input answers."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest

from rulekd import load
from rulekd.cli import main
from rulekd.datasets import load_german_credit


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """German credit as train / test CSV files (a subsample, to keep the suite fast)."""
    d = tmp_path_factory.mktemp("cli")
    frame = load_german_credit().frame.sample(400, random_state=0).reset_index(drop=True)
    frame.iloc[:300].to_csv(d / "train.csv", index=False)
    frame.iloc[300:].to_csv(d / "test.csv", index=False)
    frame.iloc[300:].drop(columns=["target"]).to_csv(d / "rows.csv", index=False)
    return d


@pytest.fixture(scope="module")
def rules_dir(files):
    out = files / "rules-model"
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--max-rules", "6",
                 "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def hybrid_dir(files):
    out = files / "hybrid-model"
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--model", "hybrid",
                 "--transparency", "0.5", "--guard", "invariant status_sex", "--out", str(out), "--quiet"]) == 0
    return out


def _err(capsys) -> str:
    return capsys.readouterr().err


def test_distill_saves_a_model_that_predict_reproduces(files, rules_dir, tmp_path):
    model = load(rules_dir)
    assert len(model.rules_) <= 6
    pred_file = tmp_path / "pred.csv"
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(pred_file),
                 "--proba", "--quiet"]) == 0
    pred = pd.read_csv(pred_file)
    rows = pd.read_csv(files / "rows.csv")
    expected = model.predict(rows.astype({c: "category" for c in rows.columns if rows[c].dtype == object}))
    assert len(pred) == len(rows)
    assert np.array_equal(pred["prediction"].to_numpy(), expected)  # input order kept
    assert {"decided_by", "proba_0", "proba_1"} <= set(pred.columns)
    assert np.allclose(pred[["proba_0", "proba_1"]].sum(axis=1), 1.0)


def test_predict_ignores_extra_columns_such_as_the_target(files, rules_dir, tmp_path):
    out = tmp_path / "p.csv"
    assert main(["predict", str(rules_dir), "--data", str(files / "test.csv"), "--out", str(out), "--quiet"]) == 0
    assert len(pd.read_csv(out)) == 100


def test_export_sql_runs_and_matches_predict(files, rules_dir, capsys):
    capsys.readouterr()
    assert main(["export", str(rules_dir), "--format", "sql", "--table", "applicants"]) == 0
    sql = capsys.readouterr().out
    rows = pd.read_csv(files / "rows.csv")
    con = sqlite3.connect(":memory:")
    rows.to_sql("applicants", con, index=False)
    got = [r[0] for r in con.execute(sql)]
    model = load(rules_dir)
    expected = model.predict(rows.astype({c: "category" for c in rows.columns if rows[c].dtype == object}))
    assert got == list(expected)


@pytest.mark.parametrize("fmt, needle", [("text", "if "), ("python", "def predict"), ("json", '"rules"')])
def test_export_formats_to_a_file(rules_dir, tmp_path, fmt, needle):
    out = tmp_path / f"rules.{fmt}"
    assert main(["export", str(rules_dir), "--format", fmt, "--out", str(out), "--quiet"]) == 0
    assert needle in out.read_text(encoding="utf-8")
    # Never overwritten without --force.
    assert main(["export", str(rules_dir), "--format", fmt, "--out", str(out), "--quiet"]) == 2


def test_hybrid_distill_verify_and_export(files, hybrid_dir, capsys):
    model = load(hybrid_dir)
    assert type(model).__name__ == "HybridClassifier"
    assert all("status_sex" not in r.features for r in model.rules_.rules)
    capsys.readouterr()
    assert main(["verify", str(hybrid_dir), "--property", "invariant status_sex", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [f["status"] for f in report["findings"] if f["check"] == "property"] == ["proved"]
    assert main(["export", str(hybrid_dir), "--format", "sql"]) == 2
    assert "neural student answers the rest" in _err(capsys)
    assert main(["export", str(hybrid_dir), "--format", "text"]) == 0
    assert "the neural student answers" in capsys.readouterr().out


def test_verify_a_rule_model_directory_reports_a_violation(rules_dir, capsys):
    code = main(["verify", str(rules_dir), "--checks", "none", "--property", "if duration > 0 then 1"])
    assert code == 1
    assert "violated" in capsys.readouterr().out


def test_audit_writes_html_and_json(files, hybrid_dir, tmp_path):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["audit", str(hybrid_dir), "--data", str(files / "test.csv"), "--target", "target",
                 "--protected", "status_sex", "age", "--out", str(html), "--json", str(js), "--quiet"]) == 0
    doc = json.loads(js.read_text(encoding="utf-8"))
    assert doc["sections"]["disaggregated"]
    text = html.read_text(encoding="utf-8")
    assert "status_sex" in text and "<script src=" not in text


# -- bad input: one line on stderr, exit 2, nothing overwritten -------------------------------------
def test_missing_data_file(tmp_path, capsys):
    assert main(["distill", "--data", str(tmp_path / "nope.csv"), "--target", "y", "--out", str(tmp_path / "m")]) == 2
    err = _err(capsys)
    assert "does not exist" in err and err.count("\n") == 1
    assert not (tmp_path / "m").exists()


def test_missing_target_column(files, tmp_path, capsys):
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "nope", "--out", str(tmp_path / "m")]) == 2
    err = _err(capsys)
    assert "no column 'nope'" in err and "--target" in err


def test_malformed_and_non_utf8_files(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"a,b,target\n1,2,0\n\xff\xfe,3,1\n")
    assert main(["distill", "--data", str(bad), "--target", "target", "--out", str(tmp_path / "m")]) == 2
    assert "not utf-8 text" in _err(capsys).lower()
    dup = tmp_path / "dup.csv"
    dup.write_text("a,a,target\n1,2,0\n3,4,1\n", encoding="utf-8")
    assert main(["distill", "--data", str(dup), "--target", "target", "--out", str(tmp_path / "m")]) == 2
    assert "duplicate column names" in _err(capsys)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert main(["distill", "--data", str(empty), "--target", "target", "--out", str(tmp_path / "m")]) == 2
    assert "empty" in _err(capsys)
    odd = tmp_path / "data.xlsx"
    odd.write_text("x", encoding="utf-8")
    assert main(["distill", "--data", str(odd), "--target", "target", "--out", str(tmp_path / "m")]) == 2
    assert "unknown file type" in _err(capsys)


def test_distill_refuses_a_non_empty_output_folder(files, tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me", encoding="utf-8")
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--out", str(out)]) == 2
    assert "--force" in _err(capsys)
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "keep me"


def test_predict_refuses_to_overwrite_and_bad_model_paths(files, rules_dir, tmp_path, capsys):
    out = tmp_path / "pred.csv"
    out.write_text("precious", encoding="utf-8")
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(out)]) == 2
    assert "--force" in _err(capsys)
    assert out.read_text(encoding="utf-8") == "precious"
    assert main(["predict", str(tmp_path / "nope"), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "does not exist" in _err(capsys)
    assert main(["predict", str(files / "rows.csv"), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "not a model directory" in _err(capsys)


def test_predict_names_the_missing_feature_columns(files, rules_dir, tmp_path, capsys):
    rows = pd.read_csv(files / "rows.csv").drop(columns=["duration"])
    rows.to_csv(tmp_path / "short.csv", index=False)
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "short.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "'duration'" in _err(capsys)


def test_unseen_category_at_predict_is_one_line(files, rules_dir, tmp_path, capsys):
    rows = pd.read_csv(files / "rows.csv")
    rows.loc[0, "purpose"] = "spaceship"
    rows.to_csv(tmp_path / "odd.csv", index=False)
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "odd.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    err = _err(capsys)
    assert "spaceship" in err and err.count("\n") == 1


def test_a_tampered_model_directory_is_refused(rules_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(rules_dir, copy)
    rules = copy / "rules.json"
    rules.write_text(rules.read_text(encoding="utf-8").replace("<=", "<"), encoding="utf-8")
    assert main(["export", str(copy), "--format", "text"]) == 2
    assert "rules.json" in _err(capsys)


def test_option_misuse_is_reported(files, tmp_path, capsys):
    base = ["distill", "--data", str(files / "train.csv"), "--target", "target", "--out", str(tmp_path / "m")]
    assert main(base + ["--transparency", "0.5"]) == 2
    assert "--model hybrid" in _err(capsys)
    assert main(base + ["--model", "hybrid", "--transparency", "1.5"]) == 2
    assert "(0, 1]" in _err(capsys)
    assert main(base + ["--teacher", str(tmp_path / "nope.json")]) == 2
    assert "XGBoost model JSON" in _err(capsys)
    assert main(base + ["--model", "tree", "--max-conditions", "3"]) == 2
    assert "--model rules only" in _err(capsys)
    assert main(base + ["--max-conditions", "0"]) == 2
    assert "--max-conditions must be at least 1" in _err(capsys)
    assert not (tmp_path / "m").exists()


def test_distill_max_conditions_bounds_every_rule(files, tmp_path):
    import argparse

    from rulekd._commands import _build_model

    args = argparse.Namespace(seed=0, max_rules=6, max_conditions=2, transparency=None, model="rules", guards=[])
    assert _build_model(args, None).max_conditions == 2
    out = tmp_path / "short"
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--max-rules", "6",
                 "--max-conditions", "3", "--out", str(out), "--quiet"]) == 0
    model = load(out)
    assert 0 < len(model.rules_) <= 6
    assert max(len(r.conditions) for r in model.rules_.rules) <= 3


def test_parquet_input_gives_the_same_predictions_as_csv(files, rules_dir, tmp_path):
    pytest.importorskip("pyarrow")
    rows = pd.read_csv(files / "rows.csv")
    rows.to_parquet(tmp_path / "rows.parquet")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(a), "--quiet"]) == 0
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "rows.parquet"), "--out", str(b), "--quiet"]) == 0
    assert a.read_text(encoding="utf-8") == b.read_text(encoding="utf-8")


@pytest.mark.parametrize("max_rules", [None, 5])
def test_distilled_hybrid_candidates_are_not_polished(max_rules):
    """``distill --model hybrid`` builds the hybrid as benchmarked: the default candidate rule
    student (no polish, the hybrid's transfer-set size), or with --max-rules one without polish."""
    import argparse

    from rulekd._commands import _build_model

    args = argparse.Namespace(seed=0, max_rules=max_rules, max_conditions=None, transparency=None, model="hybrid",
                              guards=[])
    model = _build_model(args, None)
    if max_rules is None:
        assert model.rules is None
    else:
        assert model.rules.get_params()["polish"] is False and model.rules.max_rules == 5
