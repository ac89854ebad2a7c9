"""``rulekd distill / predict / verify / audit / export`` on files, and their bad-input answers."""

from __future__ import annotations

import io
import json
import os
import sqlite3
from pathlib import Path

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


def test_export_sql_takes_the_apis_options(files, rules_dir, capsys):
    """--keep, --order-by, --proba, --rule-column and --float-literals reach to_sql; they are refused for the
    other formats."""
    capsys.readouterr()
    rows = pd.read_csv(files / "rows.csv")
    rows.insert(0, "row_id", range(len(rows), 0, -1))
    assert main(["export", str(rules_dir), "--format", "sql", "--keep", "row_id", "--order-by", "row_id", "--proba",
                 "--rule-column", "rule", "--float-literals", "binary"]) == 0
    sql = capsys.readouterr().out
    con = sqlite3.connect(":memory:")
    rows.to_sql("data", con, index=False)
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    got = pd.DataFrame(cur.fetchall(), columns=names)
    model = load(rules_dir)
    X = rows.drop(columns=["row_id"]).astype({c: "category" for c in rows.columns if rows[c].dtype == object})
    assert names[:2] == ["row_id", "prediction"] and "rule" in names and len(names) == 3 + len(model.classes_)
    assert got["row_id"].tolist() == sorted(rows["row_id"])
    order = np.argsort(rows["row_id"].to_numpy())
    assert got["prediction"].tolist() == model.predict(X)[order].tolist()
    assert got["rule"].tolist() == model.decided_by(X)[order].tolist()
    assert main(["export", str(rules_dir), "--format", "python", "--proba"]) == 2
    assert "--proba applies to --format sql only" in _err(capsys)


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
    # Without --property, the hybrid's own guards are proved again (they were not: dead rules only).
    assert main(["verify", str(hybrid_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(f["property"], f["status"]) for f in report["findings"] if f["check"] == "property"] == [
        ("invariant status_sex", "proved")]
    assert {f["check"] for f in report["findings"]} == {"dead", "property"}
    assert main(["export", str(hybrid_dir), "--format", "sql"]) == 2
    assert "neural student answers the rest" in _err(capsys)
    assert main(["export", str(hybrid_dir), "--format", "text"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("else: the neural student")


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
    # which file and which model directory the report is about, with their SHA-256
    import hashlib

    pv = doc["provenance"]
    manifest = hashlib.sha256((hybrid_dir / "manifest.json").read_bytes()).hexdigest()
    assert pv["data_file"]["sha256"] == hashlib.sha256((files / "test.csv").read_bytes()).hexdigest()
    assert pv["model"]["sha256"] == manifest and pv["model"]["path"] == os.path.abspath(hybrid_dir)
    assert pv["data_file"]["path"] == os.path.abspath(files / "test.csv") and manifest in text


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


def test_an_output_is_never_the_input_data_even_with_force(files, rules_dir, tmp_path, capsys):
    """Regression: `predict --data d.csv --out d.csv --force` replaced the data with the predictions, and
    `audit --json` could be written over the data file."""
    import shutil

    data = Path(shutil.copy(files / "rows.csv", tmp_path / "rows.csv"))
    before = data.read_bytes()
    assert main(["predict", str(rules_dir), "--data", str(data), "--out", str(data), "--force"]) == 2
    assert "is the input data" in _err(capsys)
    labelled = Path(shutil.copy(files / "train.csv", tmp_path / "train.csv"))
    kept = labelled.read_bytes()
    assert main(["audit", str(rules_dir), "--data", str(labelled), "--target", "target", "--out",
                 str(tmp_path / "r.html"), "--json", str(labelled), "--force"]) == 2
    assert "is the input data" in _err(capsys)
    assert data.read_bytes() == before and labelled.read_bytes() == kept


def test_distill_drop_kind_and_n_synthetic(files, tmp_path, capsys):
    """--drop leaves an id column out of the features, --kind set gives an unordered rule set (the CLI's
    default is a list), --n-synthetic reaches the student; bad values are one-line errors."""
    import rulekd

    train = pd.read_csv(files / "train.csv")
    train.insert(0, "id", range(len(train)))
    train.to_csv(tmp_path / "train.csv", index=False)
    out = tmp_path / "m"
    assert main(["distill", "--data", str(tmp_path / "train.csv"), "--target", "target", "--drop", "id",
                 "--kind", "set", "--n-synthetic", "500", "--max-rules", "4", "--out", str(out), "--quiet"]) == 0
    model = rulekd.load(out)
    assert "id" not in model.feature_names_in_ and model.rules_.ordered is False and model.n_synthetic == 500
    bad = [(["--drop", "idx"], "--drop 'idx'"), (["--drop", "target"], "it is the target"),
           (["--n-synthetic", "many"], "--n-synthetic must be"), (["--kind", "set", "--model", "tree"], "--kind"),
           (["--teacher", str(files / "train.csv")], "not an XGBoost model file")]
    for extra, message in bad:
        assert main(["distill", "--data", str(tmp_path / "train.csv"), "--target", "target", *extra,
                     "--out", str(tmp_path / "x"), "--quiet"]) == 2
        err = _err(capsys)
        assert message in err and "/workspace" not in err and len(err.splitlines()) == 1


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
    assert main(base + ["--seed", "-1"]) == 2
    err = _err(capsys)
    assert "--seed must be a whole number from 0 to 4294967295, got -1" in err and "RandomState" not in err
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
        assert model.rules is None and model.max_rules == 32  # the hybrid's own cap
    else:  # --max-rules also bounds the rules that answer (it sized only the candidates': 24 answered for 4)
        assert model.rules.get_params()["polish"] is False and model.rules.max_rules == 5 and model.max_rules == 5


# -- reading CSV files as written, and never writing into a model directory ----------------------
def _small_model(tmp_path, frame, y, name="m"):
    """A rule student on ``frame`` (small XGBoost teacher), saved as a model directory."""
    from xgboost import XGBClassifier

    from rulekd import DistilledRuleClassifier, save

    model = DistilledRuleClassifier(teacher=XGBClassifier(n_estimators=5, max_depth=2, enable_categorical=True),
                                    max_rules=2, n_synthetic=200, polish=False, random_state=0).fit(frame, y)
    return model, save(model, tmp_path / name)


def test_a_delimiter_at_the_end_of_every_line_is_read_as_written(files, rules_dir, tmp_path):
    rows = (files / "rows.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "trailing.csv").write_text("\n".join(r + "," for r in rows[1:]).join([rows[0] + "\n", "\n"]),
                                           encoding="utf-8")
    for name in ("rows.csv", "trailing.csv"):
        src = files / name if name == "rows.csv" else tmp_path / name
        assert main(["predict", str(rules_dir), "--data", str(src), "--out", str(tmp_path / f"p-{name}"),
                     "--proba", "--quiet"]) == 0
    assert (tmp_path / "p-rows.csv").read_bytes() == (tmp_path / "p-trailing.csv").read_bytes()


def test_a_first_row_longer_than_the_header_is_refused_not_shifted(files, rules_dir, tmp_path, capsys):
    """pandas would take the first column as an index and shift every column by one."""
    lines = (files / "rows.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "long.csv").write_text("\n".join([lines[0], lines[1] + ",extra", *lines[2:]]) + "\n", encoding="utf-8")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "long.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    assert "more fields than its header" in _err(capsys)
    assert not (tmp_path / "p.csv").exists()


def test_text_levels_that_look_like_numbers_are_read_as_the_models_levels(tmp_path):
    rng = np.random.default_rng(0)
    g = rng.choice(["A", "1", "2"], 300)
    frame = pd.DataFrame({"g": pd.Categorical(g), "u": rng.normal(size=300)})
    y = ((g == "1") | (frame.u > 1)).astype(int)
    model, folder = _small_model(tmp_path, frame, y)
    new = pd.DataFrame({"g": ["1", "2", "1"], "u": [0.0, 0.0, 2.0]})
    new.to_csv(tmp_path / "new.csv", index=False)  # only number-like levels: read as 1, 2 without the model's hint
    assert main(["predict", str(folder), "--data", str(tmp_path / "new.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    expected = model.predict(new.astype({"g": pd.CategoricalDtype(["1", "2", "A"])}))
    assert pd.read_csv(tmp_path / "p.csv")["prediction"].tolist() == expected.tolist()


def test_an_empty_line_in_a_one_column_file_is_a_missing_value(tmp_path):
    rng = np.random.default_rng(0)
    v = rng.normal(size=300)
    v[::10] = np.nan
    frame = pd.DataFrame({"v": v})
    _, folder = _small_model(tmp_path, frame, (np.nan_to_num(v) > 0).astype(int))
    (tmp_path / "one.csv").write_text("v\n1.0\n\n-3.0\n", encoding="utf-8")
    assert main(["predict", str(folder), "--data", str(tmp_path / "one.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 3  # three rows in, three answers out


def test_true_false_columns_with_empty_cells_stay_numeric(tmp_path):
    from rulekd._tables import read_table

    (tmp_path / "b.csv").write_text("flag,u\nTrue,1\n,2\nFalse,3\n", encoding="utf-8")
    frame = read_table(tmp_path / "b.csv")
    assert frame["flag"].dtype == np.float64
    assert frame["flag"].tolist()[0] == 1.0 and np.isnan(frame["flag"][1]) and frame["flag"][2] == 0.0


def test_nothing_is_written_inside_a_model_directory(files, rules_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(rules_dir, copy)
    shutil.copytree(rules_dir, tmp_path / "outer")
    commands = [
        ["predict", str(copy), "--data", str(files / "rows.csv"), "--out", str(copy / "pred.csv")],
        ["export", str(copy), "--format", "text", "--out", str(copy / "rules.txt")],
        ["distill", "--data", str(files / "train.csv"), "--target", "target", "--out", str(copy / "sub"), "--force"],
    ]
    for cmd in commands:
        assert main(cmd) == 2, cmd
        assert "inside the rulekd model directory" in _err(capsys)
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in rules_dir.iterdir())
    load(copy)  # still loads
    from rulekd import save
    from rulekd._persist import ModelDirectoryError

    with pytest.raises(ModelDirectoryError, match="inside the rulekd model directory"):
        save(load(copy), tmp_path / "outer" / "nested")


def test_distill_force_refuses_a_folder_that_is_not_a_model_before_fitting(files, tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("keep me", encoding="utf-8")
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--out", str(out),
                 "--force", "--quiet"]) == 2
    err = _err(capsys)
    assert "not a rulekd model directory" in err and "Choose another folder" in err
    assert (out / "thesis.tex").read_text(encoding="utf-8") == "keep me"


def test_audit_refuses_one_file_for_both_reports(files, rules_dir, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["audit", str(rules_dir), "--data", str(files / "test.csv"), "--target", "target",
                 "--out", str(out), "--json", str(out)]) == 2
    assert "same file as --out" in _err(capsys)
    assert not out.exists()


def test_audit_flags_a_label_the_model_lacks_instead_of_refusing_the_file(files, rules_dir, tmp_path):
    """One label 'unknown' among 0 and 1 made the column text: every label read as a string and audit
    refused the file ("None of the labels in y ... is a class of the model")."""
    import json

    test = pd.read_csv(files / "test.csv")
    test["target"] = test["target"].astype(object)
    test.loc[0, "target"] = "unknown"
    test.to_csv(tmp_path / "stray.csv", index=False)
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    assert main(["audit", str(rules_dir), "--data", str(tmp_path / "stray.csv"), "--target", "target",
                 "--out", str(out), "--json", str(js), "--quiet"]) == 0
    balance = {str(b["class"]): b for b in json.loads(js.read_text(encoding="utf-8"))["sections"]["data"]["class_balance"]}
    assert balance["unknown"]["n"] == 1 and balance["unknown"]["unknown_to_model"]
    assert {k: b["n"] for k, b in balance.items() if k != "unknown"} == {
        str(k): int(n) for k, n in test["target"].iloc[1:].astype(int).value_counts().items()}


def test_a_semicolon_separated_file_is_named_as_such(files, rules_dir, tmp_path, capsys):
    pd.read_csv(files / "rows.csv").to_csv(tmp_path / "semi.csv", sep=";", index=False)
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "semi.csv"), "--out", str(tmp_path / "p.csv")]) == 2
    err = _err(capsys)
    assert "read as one column" in err and "separated by ';'" in err
    # distill and audit looked up --target first and told the user to pick another target
    train = pd.read_csv(files / "train.csv")
    train.to_csv(tmp_path / "semi_train.csv", sep=";", index=False)
    assert main(["distill", "--data", str(tmp_path / "semi_train.csv"), "--target", "target",
                 "--out", str(tmp_path / "m")]) == 2
    err = _err(capsys)
    assert "separated by ';'" in err and "pass --target" not in err


def test_a_utf16_file_is_told_to_pass_its_encoding(files, tmp_path, capsys):
    (tmp_path / "u16.csv").write_bytes(pd.read_csv(files / "train.csv").to_csv(index=False).encode("utf-16"))
    assert main(["distill", "--data", str(tmp_path / "u16.csv"), "--target", "target",
                 "--out", str(tmp_path / "m")]) == 2
    assert "--encoding (utf-16: the file starts with a UTF-16 byte-order mark)" in _err(capsys)


def test_a_loaded_teacher_gets_its_own_column_order(tmp_path):
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"p": rng.normal(size=300), "q": rng.normal(size=300), "r": rng.normal(size=300)})
    y = (frame.p + frame.q > 0).astype(int)
    XGBClassifier(n_estimators=5, max_depth=2).fit(frame, y).save_model(str(tmp_path / "teacher.json"))
    frame.assign(target=y)[["r", "q", "p", "target"]].to_csv(tmp_path / "train.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "train.csv"), "--target", "target", "--model", "tree",
                 "--teacher", str(tmp_path / "teacher.json"), "--max-rules", "4", "--out", str(tmp_path / "m"),
                 "--quiet"]) == 0
    assert load(tmp_path / "m").fidelity_ > 0.8


def test_distill_with_a_declared_domain_accepts_what_it_allows(files, tmp_path, capsys):
    from rulekd import Domain
    from rulekd._tables import read_table

    train = read_table(str(files / "train.csv")).drop(columns=["target"])
    Domain.from_data(train).update("duration", allow_missing=True).to_json(tmp_path / "domain.json")
    out = tmp_path / "declared"
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--max-rules", "4",
                 "--n-synthetic", "1000", "--domain", str(tmp_path / "domain.json"), "--out", str(out),
                 "--quiet"]) == 0
    assert load(out).domain_["duration"].allow_missing
    rows = pd.read_csv(files / "rows.csv")
    rows.loc[:9, "duration"] = np.nan
    rows.to_csv(tmp_path / "gaps.csv", index=False)
    assert main(["predict", str(out), "--data", str(tmp_path / "gaps.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "p.csv")["prediction"].notna().all()
    # The same model without --domain refuses those rows, naming the column.
    plain = tmp_path / "plain"
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--max-rules", "4",
                 "--n-synthetic", "1000", "--out", str(plain), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["predict", str(plain), "--data", str(tmp_path / "gaps.csv"), "--out", str(tmp_path / "q.csv"),
                 "--quiet"]) == 2
    assert "'duration' has missing values" in _err(capsys)


@pytest.mark.parametrize("content, match", [
    (None, "is not a file"),
    ("{", "Domain"),
    ('{"format": "rulekd.domain", "version": 1, "features": [{"name": "age", "kind": "integer", '
     '"lower": 0, "upper": 200, "allow_missing": false}], "onehot_groups": [], "constraints": []}',
     "lacks: leave them out with --drop status --drop duration --drop credit_history ..."),
])
def test_distill_refuses_a_bad_domain_file(files, tmp_path, capsys, content, match):
    path = tmp_path / "domain.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--n-synthetic", "200",
                 "--domain", str(path), "--out", str(tmp_path / "m"), "--quiet"]) == 2
    err = _err(capsys)
    assert match in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_a_byte_order_mark_does_not_hide_the_first_columns_levels(tmp_path):
    """Excel's "CSV UTF-8" starts with a BOM: the first column's text levels "1", "2" were read as numbers."""
    rng = np.random.default_rng(0)
    grade = rng.choice(["1", "2", "A"], 150)
    x = rng.normal(size=150)
    pd.DataFrame({"grade": grade, "x": x, "target": ((grade == "A") | (x > 0)).astype(int)}).to_csv(
        tmp_path / "train.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "train.csv"), "--target", "target", "--n-synthetic", "200",
                 "--max-rules", "3", "--out", str(tmp_path / "m"), "--quiet"]) == 0
    rows = pd.DataFrame({"grade": ["1", "2", "1"], "x": [0.5, -0.5, 1.0]})
    (tmp_path / "bom.csv").write_text(rows.to_csv(index=False), encoding="utf-8-sig")
    (tmp_path / "plain.csv").write_text(rows.to_csv(index=False), encoding="utf-8")
    for name in ("bom", "plain"):
        assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / f"{name}.csv"),
                     "--out", str(tmp_path / f"{name}-pred.csv"), "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "bom-pred.csv").equals(pd.read_csv(tmp_path / "plain-pred.csv"))


def test_a_column_of_lists_is_refused_unless_dropped(files, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(files / "train.csv").iloc[:120]
    frame["tags"] = [["a", "b"]] * len(frame)
    frame.to_parquet(tmp_path / "t.parquet")
    args = ["distill", "--data", str(tmp_path / "t.parquet"), "--target", "target", "--n-synthetic", "200",
            "--max-rules", "3", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "m")]) == 2
    err = _err(capsys)
    assert "Column 'tags'" in err and "--drop tags" in err and "Traceback" not in err
    assert main(args + ["--drop", "tags", "--out", str(tmp_path / "m")]) == 0


@pytest.mark.parametrize("extra, match", [
    (["--time-budget-s", "-1"], "positive number of seconds"),
    (["--time-budget-s", "nan"], "positive number of seconds"),
    (["--property", "invariant nope"], "'nope', which is not in the Domain"),
    (["--property", "if duration > 3 then maybe"], "maybe"),
])
def test_audit_refuses_bad_verification_arguments(files, rules_dir, tmp_path, capsys, extra, match):
    out = tmp_path / "r.html"
    assert main(["audit", str(rules_dir), "--data", str(files / "test.csv"), "--target", "target",
                 "--out", str(out), "--quiet"] + extra) == 2
    assert match in _err(capsys)
    assert not out.exists()


def test_export_takes_no_encoding_it_would_ignore(rules_dir, capsys):
    assert main(["export", str(rules_dir), "--format", "text", "--encoding", "latin-1"]) == 2
    assert "--encoding" in _err(capsys)


def test_predict_skip_refused_answers_every_other_row(files, rules_dir, tmp_path, capsys):
    rows = pd.read_csv(files / "rows.csv")
    feature = next(c for c in rows.columns if rows[c].dtype != float and rows[c].nunique() < 10)
    numeric = [c for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])]
    bad = rows.copy().astype({feature: object, numeric[1]: object, numeric[2]: float})
    bad.loc[3, feature] = "spaceship"
    bad.loc[7, numeric[0]] = np.nan  # the rules never saw it missing
    bad.loc[9, numeric[1]] = "12 kg"  # text in a numeric feature
    bad.loc[11, numeric[2]] = -np.inf  # stopped the whole file, --skip-refused or not
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "x.csv"),
                 "--quiet"]) == 2
    assert not (tmp_path / "x.csv").exists()
    capsys.readouterr()
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "p.csv"),
                 "--proba", "--skip-refused", "--quiet"]) == 0
    assert "4 of 100 rows refused" in _err(capsys)
    got = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    refused = [3, 7, 9, 11]
    assert [i for i in range(len(got)) if got.loc[i, "prediction"] == ""] == refused
    assert "spaceship" in got.loc[3, "refused"] and f"{numeric[0]}: missing" in got.loc[7, "refused"]
    assert "'12 kg' is not a number" in got.loc[9, "refused"]
    assert got.loc[11, "refused"] == f"{numeric[2]}: -inf is not a finite number"
    # The other rows read exactly as without the bad ones (the same text: labels stay integers).
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "all.csv"),
                 "--proba", "--quiet"]) == 0
    ref = pd.read_csv(tmp_path / "all.csv", dtype=str, keep_default_na=False)
    keep = [i for i in range(len(ref)) if i not in refused]
    assert got.drop(columns="refused").loc[keep].equals(ref.loc[keep])
    assert (got.loc[keep, "refused"] == "").all()
    # With --skip-refused the columns are the same whether or not a row was refused (a pipeline reads them)
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "ok.csv"),
                 "--proba", "--skip-refused"]) == 0
    clean = pd.read_csv(tmp_path / "ok.csv", dtype=str, keep_default_na=False)
    assert list(clean.columns) == list(got.columns) and (clean["refused"] == "").all()
    assert clean.drop(columns="refused").equals(ref)
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "q.csv"),
                 "--skip-refused"]) == 0
    assert "wrote 96 predictions" in capsys.readouterr().out


def test_a_level_named_NA_is_read_as_that_level(tmp_path):
    """pandas reads "NA" as missing: a model fitted on the level "NA" answered those rows as missing (the
    neural student disagreed with rulekd.load(...).predict on a third of the rows)."""
    from rulekd import DistilledRuleClassifier, save

    rng = np.random.default_rng(0)
    grade = rng.choice(["A", "B", "NA"], 300)
    X = pd.DataFrame({"grade": pd.Categorical(grade), "x": rng.normal(size=300)})
    y = ((grade == "NA") | (X.x > 1)).astype(int)
    model = DistilledRuleClassifier(max_rules=3, n_synthetic=300, random_state=0).fit(X, y)
    save(model, tmp_path / "m")
    X.to_csv(tmp_path / "rows.csv", index=False)
    assert "NA" in (tmp_path / "rows.csv").read_text(encoding="utf-8")
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "rows.csv"), "--out",
                 str(tmp_path / "p.csv"), "--quiet"]) == 0
    assert np.array_equal(pd.read_csv(tmp_path / "p.csv")["prediction"].to_numpy(), model.predict(X))


def test_distill_domain_may_declare_a_number_coded_column_categorical(tmp_path):
    """The CSV reads levels 1..3 as numbers; the Domain (as Domain.to_json writes it) says categorical: the
    column is read as its levels (exit 2 before: 'declares grade as categorical, but ... is numeric')."""
    from rulekd import Domain

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"grade": rng.integers(1, 4, 200), "x": rng.normal(size=200)})
    y = ((X.grade == 3) | (X.x > 1)).astype(int)
    X.assign(target=y).to_csv(tmp_path / "train.csv", index=False)
    Domain.from_data(X.astype({"grade": "category"})).update("grade", levels=(1, 2, 3, 4)).to_json(
        tmp_path / "domain.json")
    assert main(["distill", "--data", str(tmp_path / "train.csv"), "--target", "target", "--n-synthetic", "300",
                 "--max-rules", "3", "--domain", str(tmp_path / "domain.json"), "--out", str(tmp_path / "m"),
                 "--quiet"]) == 0
    model = load(tmp_path / "m")
    assert model.domain_["grade"].levels == (1, 2, 3, 4)
    pd.DataFrame({"grade": [4, 1], "x": [0.0, 2.0]}).to_csv(tmp_path / "rows.csv", index=False)  # 4: declared only
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "rows.csv"), "--out",
                 str(tmp_path / "p.csv"), "--quiet"]) == 0
    assert len(pd.read_csv(tmp_path / "p.csv")) == 2


def test_verify_of_a_network_without_properties_checks_nothing_and_says_so(files, tmp_path, capsys):
    """It printed 'Verification proved: 0 proved, 0 violated, 0 unknown' and exited 0."""
    out = tmp_path / "mlp"
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--model", "mlp",
                 "--n-synthetic", "300", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["verify", str(out)]) == 2
    assert "nothing was checked: DistilledMLPClassifier has no rule checks" in _err(capsys)
    assert main(["verify", str(out), "--property", "if duration > 1000 then 1"]) in (0, 1, 3)


def test_distill_into_a_folder_of_other_files_does_not_advise_force(files, rules_dir, tmp_path, capsys):
    """It said 'pass --force', and --force was then refused for the same folder."""
    other = tmp_path / "notes"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    args = ["distill", "--data", str(files / "train.csv"), "--target", "target", "--n-synthetic", "300"]
    assert main(args + ["--out", str(other)]) == 2
    err = _err(capsys)
    assert "not a rulekd model directory" in err and "pass --force" not in err
    assert (other / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert main(args + ["--out", str(rules_dir)]) == 2
    assert "holds a model; pass --force to replace it" in _err(capsys)


def test_distill_warns_of_numbers_with_thousands_separators(files, tmp_path, capsys):
    """'1,000' in a CSV is text: the column became a categorical feature with one level per number, and
    predict on the plain numbers then refused them as unseen levels, with no word at fit."""
    train = pd.read_csv(files / "train.csv")
    train["credit_amount"] = train["credit_amount"].map(lambda v: f"{int(v):,}")
    train.to_csv(tmp_path / "t.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "target", "--n-synthetic", "300",
                 "--out", str(tmp_path / "m"), "--quiet"]) == 0
    err = _err(capsys)
    assert "column 'credit_amount'" in err and "thousands separators" in err
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--n-synthetic", "300",
                 "--out", str(tmp_path / "m2"), "--quiet"]) == 0
    assert "thousands separators" not in _err(capsys)


def test_a_model_directorys_teacher_is_reused_with_its_text_labels(files, tmp_path, capsys):
    """Its teacher.json, fitted on labels 'bad' / 'good', read back with classes '0', '1', and distill
    said to fit the teacher on the same labels."""
    train = pd.read_csv(files / "train.csv")
    train["target"] = np.where(train["target"] == 1, "bad", "good")
    train.to_csv(tmp_path / "t.csv", index=False)
    base = ["distill", "--data", str(tmp_path / "t.csv"), "--target", "target", "--n-synthetic", "300", "--quiet"]
    assert main(base + ["--out", str(tmp_path / "first")]) == 0
    first = load(tmp_path / "first")
    for spec in (tmp_path / "first", tmp_path / "first" / "teacher.json"):
        out = tmp_path / f"again_{spec.name}"
        assert main(base + ["--teacher", str(spec), "--out", str(out)]) == 0, _err(capsys)
        again = load(out)
        rows = train.drop(columns=["target"])
        np.testing.assert_array_equal(again.predict(rows), first.predict(rows))  # the same teacher, distilled alike
        assert set(again.classes_) == {"bad", "good"}


def test_distill_domain_column_errors_name_drop_and_the_target(files, tmp_path, capsys):
    from rulekd import Domain
    from rulekd._tables import read_table

    train = read_table(str(files / "train.csv"))
    Domain.from_data(train).to_json(tmp_path / "with_target.json")  # lists the target as a feature
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--n-synthetic", "200",
                 "--domain", str(tmp_path / "with_target.json"), "--out", str(tmp_path / "m"), "--quiet"]) == 2
    err = _err(capsys)
    assert "lists features ['target'] the data lacks; 'target' is the target" in err and "domain=" not in err
    # Without a column the Domain lacks, --drop makes the data fit it.
    Domain.from_data(train.drop(columns=["target", "age"])).to_json(tmp_path / "no_age.json")
    base = ["distill", "--data", str(files / "train.csv"), "--target", "target", "--n-synthetic", "200",
            "--max-rules", "3", "--domain", str(tmp_path / "no_age.json"), "--quiet"]
    assert main(base + ["--out", str(tmp_path / "m")]) == 2
    assert "the data has columns ['age'] that --domain" in _err(capsys)
    assert main(base + ["--drop", "age", "--out", str(tmp_path / "m2")]) == 0


@pytest.mark.parametrize("extra, match", [
    (["--keep", "age", "--keep", "AGE"], "(--keep age and --keep AGE; names that differ only in case count as the "
                                         "same). Pass each column to --keep once."),
    (["--keep", "age", "--rule-column", "Age"], "(--keep age and --rule-column Age; "),
    (["--rule-column", "PREDICTION"], "(the prediction column and --rule-column PREDICTION; "),
    (["--keep", "prediction"], "leave --keep prediction out"),
    (["--proba", "--keep", "proba_1"], "(--keep proba_1 and a probability column (--proba);"),
])
def test_export_sql_column_clashes_are_named_by_their_flags(rules_dir, capsys, extra, match):
    assert main(["export", str(rules_dir), "--format", "sql", *extra]) == 2
    err = _err(capsys)
    assert match in err and "rule_column" not in err and "keep or the output" not in err


def test_export_tree_of_a_rule_list_points_to_format_text(rules_dir, capsys):
    assert main(["export", str(rules_dir), "--format", "tree"]) == 2
    err = _err(capsys)
    assert "Use --format text for these rules." in err and "style=" not in err


def test_a_guard_outside_the_grammar_shows_its_caret_under_the_text(files, tmp_path, capsys):
    assert main(["distill", "--data", str(files / "train.csv"), "--target", "target", "--model", "hybrid",
                 "--guard", "if age > then 1", "--out", str(tmp_path / "m"), "--quiet"]) == 2
    lines = _err(capsys).splitlines()
    assert lines[-2].strip() == "if age > then 1"
    assert lines[-1].index("^") == lines[-2].index("then")  # under the token it could not read


def test_a_column_with_an_empty_header_keeps_its_missing_values(tmp_path):
    """Regression: the per-column NA options were keyed by the header's text, and pandas names an empty
    header cell "Unnamed: 1": with a model level "NA" in another column, that column's NA became text."""
    from rulekd._tables import read_table

    path = tmp_path / "t.csv"
    path.write_text("a,,c\n1,NA,NA\n2,3,x\n3,,y\n", encoding="utf-8")
    frame = read_table(str(path), text_levels={"c": ["NA", "x", "y"]})
    assert frame["Unnamed: 1"].dtype == np.float64 and frame["Unnamed: 1"].isna().tolist() == [True, False, True]
    assert frame["c"].tolist() == ["NA", "x", "y"]  # the level, kept as text


def test_a_parquet_decimal_column_is_a_numeric_feature(tmp_path):
    """Parquet decimals reach pandas as decimal.Decimal objects: read_table made them a category with one
    level per number, and distill then failed naming no fix."""
    import decimal

    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    amount = rng.integers(0, 10_000, 200) / 100
    table = pa.table({"amount": pa.array([decimal.Decimal(f"{v:.2f}") for v in amount], type=pa.decimal128(9, 2)),
                      "target": (amount > 50).astype(int)})
    import pyarrow.parquet as pq

    pq.write_table(table, tmp_path / "d.parquet")
    assert main(["distill", "--data", str(tmp_path / "d.parquet"), "--target", "target", "--max-rules", "2",
                 "--n-synthetic", "300", "--out", str(tmp_path / "m"), "--quiet"]) == 0
    assert load(tmp_path / "m").domain_["amount"].kind == "real"


def test_distill_keeps_zero_padded_class_codes_and_names_words_read_as_missing(tmp_path, capsys):
    """Regression: a target of codes "01", "02", "10" was read as the numbers 1, 2, 10 (predict answered 1 and
    10, and the audit's labels no longer matched); 'NA' in a text column became a missing value silently."""
    rng = np.random.default_rng(0)
    n = 200
    a = rng.normal(size=n)
    frame = pd.DataFrame({"a": a.round(3), "g": rng.choice(["yes", "no", "NA"], n),
                          "grade": np.where(a < -0.5, "01", np.where(a < 0.5, "02", "10"))})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "grade", "--max-rules", "4",
                 "--n-synthetic", "300", "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "column 'g' of" in err and "'NA' (" in err and "read as missing values" in err
    assert load(tmp_path / "m").classes_.tolist() == ["01", "02", "10"]
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "t.csv"), "--out",
                 str(tmp_path / "p.csv"), "--quiet"]) == 0
    pred = pd.read_csv(tmp_path / "p.csv", dtype=str)["prediction"]
    assert set(pred) <= {"01", "02", "10"}
    assert main(["audit", str(tmp_path / "m"), "--data", str(tmp_path / "t.csv"), "--target", "grade",
                 "--out", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    perf = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["sections"]["performance"]["model"]
    assert perf["accuracy"] > 0.9 and not perf["notes"]  # the file's labels read as the model's codes
    assert [c["class"] for c in perf["roc_auc_per_class"]] == ["01", "02", "10"]


def test_refusals_and_counterexamples_print_plain_values(tmp_path):
    """Regression: the refused column read `cp: level np.int64(5) unseen during fit`, and a hybrid's sampled
    counterexample showed duration=np.float64(50.0)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "cp": pd.Categorical(rng.integers(0, 4, 120))})
    y = (frame["a"] > 0).astype(int).to_numpy()
    _, path = _small_model(tmp_path, frame, y)
    rows = frame.head(3).assign(cp=pd.Categorical([5, 1, 2]))
    rows.to_csv(tmp_path / "rows.csv", index=False)
    assert main(["predict", str(path), "--data", str(tmp_path / "rows.csv"), "--out", str(tmp_path / "p.csv"),
                 "--skip-refused", "--quiet"]) == 0
    refused = pd.read_csv(tmp_path / "p.csv")["refused"].fillna("").tolist()
    assert refused[0] == "cp: level 5 unseen during fit" and refused[1:] == ["", ""]


def test_a_sampled_hybrid_counterexample_holds_python_values():
    import warnings

    from xgboost import XGBClassifier

    from rulekd import DistilledMLPClassifier, HybridClassifier
    from rulekd.verify import Invariant

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.integers(0, 5, 200).astype(float), "b": rng.normal(size=200)})
    y = (X["a"] + X["b"] > 2).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = HybridClassifier(teacher=XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1),
                             student=DistilledMLPClassifier(hidden_layer_sizes=(4,), max_epochs=3),
                             n_synthetic=300, random_state=0).fit(X, y)
    found = h._search_violation(Invariant("a"))
    assert found is not None
    assert all(type(v) in (float, int) for row in (found["x"], found["x_prime"]) for v in row.values())


def test_distill_warns_of_numbers_with_a_marker_for_missing_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    chol = rng.integers(150, 300, 120).astype(str).astype(object)
    chol[[3, 7]] = "?"  # UCI's marker for a missing value
    frame = pd.DataFrame({"a": rng.normal(size=120), "chol": chol, "y": rng.integers(0, 2, 120)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "y", "--max-rules", "2",
                 "--n-synthetic", "200", "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "column 'chol' of" in err and "holds numbers except ['?'] (2 cells)" in err


def test_predict_out_dash_writes_the_standard_output(files, rules_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("prediction") and len(out.splitlines()) == 101
    assert not (tmp_path / "-").exists()


def test_an_output_file_that_appears_while_working_is_kept(files, rules_dir, tmp_path, capsys, monkeypatch):
    """predict --out and export --out checked for the file, then renamed over whatever appeared meanwhile."""
    from rulekd import _commands, _tables

    real = _tables.check_new_file

    def check_then_someone_writes(path, force, **kw):
        p = real(path, force, **kw)
        Path(p).write_text("the user's file", encoding="utf-8")
        return p

    # The check just before the write: write_csv's for predict (which also checks before its work), export's own.
    for module, argv in (
            (_tables, ["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "p.csv")]),
            (_commands, ["export", str(rules_dir), "--format", "sql", "--out", str(tmp_path / "r.sql")])):
        monkeypatch.setattr(module, "check_new_file", check_then_someone_writes)
        out = Path(argv[-1])
        assert main(argv) == 2
        assert "appeared while rulekd was working; it was kept" in _err(capsys)
        assert out.read_text(encoding="utf-8") == "the user's file"
        out.unlink()
        assert main(argv + ["--force"]) == 0  # with --force it is replaced, as asked
        assert out.read_text(encoding="utf-8") != "the user's file"
        monkeypatch.setattr(module, "check_new_file", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.csv", "r.sql"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_predict_and_export_write_into_a_named_pipe(files, rules_dir, tmp_path):
    """A device or pipe given as --out (/dev/stdout, a FIFO) is written to: it 'already existed' without
    --force, and with it the temporary file beside it could not be made."""
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for argv in (["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(fifo)],
                 ["export", str(rules_dir), "--format", "sql", "--out", str(fifo)]):
        got = []
        reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
        reader.start()
        assert main(argv + ["--quiet"]) == 0
        reader.join(timeout=30)
        assert got and got[0].strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_reader_that_stops_early_is_not_told_about_bad_input(files, rules_dir, tmp_path, capsys, monkeypatch):
    """`rulekd predict ... --out - | head` printed "rulekd: error: [Errno 32] Broken pipe" and exited 2."""
    import io

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", "-"]) == 141
    assert capsys.readouterr().err == ""


def test_a_bare_xgboost_file_and_text_labels_are_told_how_to_match(tmp_path, capsys):
    """A teacher.json copied out of its model directory knows classes 0, 1, ... only: the message named 'Fit the
    teacher on the same labels', though it was; now it says why and what to pass."""
    from xgboost import XGBClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    y = (frame["a"] > 0).astype(int)
    XGBClassifier(n_estimators=5, max_depth=2).fit(frame, y).save_model(str(tmp_path / "teacher.json"))
    frame.assign(target=np.where(y == 1, "good", "bad")).to_csv(tmp_path / "t.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "target", "--teacher",
                 str(tmp_path / "teacher.json"), "--max-rules", "2", "--out", str(tmp_path / "m"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "A saved XGBoost model keeps no class labels" in err and "--teacher DIR" in err


@pytest.mark.parametrize("body", ["1,5;2;0\n3;4,5;1\n", "1;2;0\n3,1;4,5,6,7;1\n"])
def test_a_semicolon_file_with_commas_in_its_fields_is_named_as_such(tmp_path, capsys, body):
    (tmp_path / "t.csv").write_text("a;b;target\n" + body, encoding="utf-8")
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "target", "--out",
                 str(tmp_path / "m"), "--quiet"]) == 2
    assert "its fields look separated by ';', not commas" in capsys.readouterr().err


def test_demo_refuses_a_negative_seed_in_cli_words(tmp_path, capsys):
    assert main(["demo", "--seed", "-1", "--out", str(tmp_path / "d"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--seed must be a whole number from 0 to 4294967295, got -1" in err and "RandomState" not in err
    assert not (tmp_path / "d").exists()


def test_one_bad_cell_in_a_true_false_column_refuses_only_its_row(tmp_path, capsys):
    """One cell that is not True/False made pandas read the column as text: --skip-refused then refused every
    row ("'True' is not a number"), and without it the error named 'True' as the bad value."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"age": rng.integers(18, 80, 300), "flag": rng.choice([True, False], 300)})
    train["y"] = ((train.age < 30) | train.flag).astype(int)
    train.to_csv(tmp_path / "train.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "train.csv"), "--target", "y", "--n-synthetic", "500",
                 "--out", str(tmp_path / "m"), "--quiet"]) == 0
    (tmp_path / "new.csv").write_text("age,flag\n50,True\n50,x\n60,FALSE\n25,false\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "new.csv"), "--out", "-",
                 "--skip-refused", "--quiet"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    assert got["refused"].tolist() == ["", "flag: 'x' is not a number", "", ""]
    assert got["prediction"].tolist() == ["1", "", "0", "1"]
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "new.csv"), "--out", "-"]) == 2
    assert "text such as 'x'" in _err(capsys)


def test_predict_writes_csv_only_under_a_name_that_says_so(files, rules_dir, tmp_path, capsys):
    """--out x.parquet wrote CSV text into a file named .parquet (nothing could read it as Parquet); a .tsv
    name got commas."""
    for name in ("p.parquet", "p.xlsx"):
        assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / name),
                     "--quiet"]) == 2
        assert "predictions are written as CSV text; name the output .csv" in _err(capsys)
        assert not (tmp_path / name).exists()
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "p.tsv"),
                 "--quiet"]) == 0
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 0
    tsv = pd.read_csv(tmp_path / "p.tsv", sep="\t", dtype=str)
    assert list(tsv.columns) == ["prediction", "decided_by"] and tsv.equals(pd.read_csv(tmp_path / "p.csv", dtype=str))


def test_predict_keeps_answers_in_line_with_a_file_holding_empty_lines(files, rules_dir, tmp_path, capsys):
    """An empty line between rows was skipped: every later prediction moved up one line against the input."""
    lines = (files / "rows.csv").read_text(encoding="utf-8").splitlines()
    (tmp_path / "gap.csv").write_text("\n".join(lines[:3] + [""] + lines[3:6]) + "\n\n\n", encoding="utf-8")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "gap.csv"), "--out", str(tmp_path / "p.csv"),
                 "--quiet"]) == 2
    assert "1 empty line(s) between its rows (data row(s) 3" in _err(capsys)
    assert not (tmp_path / "p.csv").exists()
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "gap.csv"), "--out", "-",
                 "--skip-refused", "--quiet"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    (tmp_path / "plain.csv").write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "plain.csv"), "--out", "-", "--quiet"]) == 0
    ref = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    assert len(got) == 6 and got["refused"].tolist() == ["", "", "empty line", "", "", ""]  # trailing ones dropped
    assert got.drop(columns="refused").drop(index=2).reset_index(drop=True).equals(ref)


def test_distill_reads_zero_padded_codes_as_levels_and_refuses_unnamed_columns(tmp_path, capsys):
    """Codes such as '007' and '7' were read as the same number 7 (only the target was kept as text); a
    column with an empty header cell became the feature 'Unnamed: 1', named by its position."""
    rng = np.random.default_rng(0)
    dx = rng.choice(["007", "7", "070", "700"], 300)
    pd.DataFrame({"dx": dx, "age": rng.integers(18, 80, 300), "risk": (dx == "007").astype(int)}).to_csv(
        tmp_path / "c.csv", index=False)
    capsys.readouterr()
    assert main(["distill", "--data", str(tmp_path / "c.csv"), "--target", "risk", "--n-synthetic", "500",
                 "--out", str(tmp_path / "m"), "--quiet"]) == 0
    err = _err(capsys)
    assert "column(s) ['dx']" in err and "leading zeros" in err
    (tmp_path / "new.csv").write_text("dx,age\n007,40\n7,40\n", encoding="utf-8")
    assert main(["predict", str(tmp_path / "m"), "--data", str(tmp_path / "new.csv"), "--out", "-", "--quiet"]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["prediction"].tolist() == [1, 0]
    (tmp_path / "d.csv").write_text("id,,y\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)), encoding="utf-8")
    assert main(["distill", "--data", str(tmp_path / "d.csv"), "--target", "y", "--out", str(tmp_path / "d"),
                 "--quiet"]) == 2
    assert "no name in the header ('Unnamed: 1'" in _err(capsys) and not (tmp_path / "d").exists()


def test_read_table_messages_for_a_workbook_a_leading_empty_line_and_a_protected_target(files, rules_dir, tmp_path,
                                                                                         capsys):
    (tmp_path / "book.csv").write_bytes(b"PK\x03\x04" + bytes(200))  # an .xlsx saved under a .csv name
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "book.csv"), "--out", "-"]) == 2
    assert "is a spreadsheet workbook" in _err(capsys)  # it suggested --encoding latin-1
    text = (files / "rows.csv").read_text(encoding="utf-8")
    (tmp_path / "lead.csv").write_text("\n" + text, encoding="utf-8")  # "is empty: it has no header row"
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "lead.csv"), "--out", "-", "--quiet"]) == 0
    got = capsys.readouterr().out
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", "-", "--quiet"]) == 0
    assert got == capsys.readouterr().out
    assert main(["audit", str(rules_dir), "--data", str(files / "test.csv"), "--target", "target",
                 "--protected", "target", "--out", str(tmp_path / "a.html")]) == 2
    assert "--protected 'target' is the target" in _err(capsys)  # it said "is not a column"


def test_distill_warns_about_dates_amounts_and_decimal_commas_read_as_text(tmp_path, capsys):
    """Dates, '$11,089', '12.5%' and '18,5' in a CSV became categorical features with a level per value,
    silently (the same dates in Parquet are refused)."""
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame({
        "visit": pd.date_range("2020-01-01", periods=n).strftime("%Y-%m-%d"),
        "balance": [f"${v:,}" for v in rng.integers(1000, 90000, n)],
        "rate": [f"{v / 10}%" for v in rng.integers(0, 200, n)],
        "bmi": [f"{v},{d}" for v, d in zip(rng.integers(15, 40, n), rng.integers(0, 10, n))],
        "age": rng.integers(18, 80, n),
    })
    frame["y"] = (frame.age < 40).astype(int)
    frame.to_csv(tmp_path / "b.csv", index=False)
    assert main(["distill", "--data", str(tmp_path / "b.csv"), "--target", "y", "--n-synthetic", "300",
                 "--max-rules", "2", "--out", str(tmp_path / "m"), "--quiet"]) == 0
    err = _err(capsys)
    assert "column 'visit' of" in err and "holds dates (e.g. '2020-01-01')" in err
    assert "column 'balance'" in err and "'rate'" in err and "currency or percent signs" in err
    assert "column 'bmi'" in err and "decimal comma" in err
    assert "column 'age'" not in err


def test_a_bad_byte_far_into_a_file_is_placed_where_it_is(rules_dir, files, tmp_path, capsys):
    """pandas counts the byte within the chunk it decodes: a bad byte at 800,000 was reported at byte 1."""
    head = (files / "rows.csv").read_text(encoding="utf-8").splitlines()
    body = "\n".join([head[0]] + head[1:] * (800_000 // len("\n".join(head[1:])) + 1)) + "\n"
    at = len(body.encode("utf-8"))
    (tmp_path / "late.csv").write_bytes(body.encode("utf-8") + b"\xe9" + b"\n")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "late.csv"), "--out", "-"]) == 2
    err = _err(capsys)
    assert f"is not utf-8 text (byte {at})" in err and "latin-1" in err


def test_predict_reads_long_fields_lines_of_spaces_and_a_bom_above_an_empty_line(files, rules_dir, tmp_path, capsys):
    """Review of the empty-line handling: a 200,000-character note crashed Python's csv reader (internal
    error); a line of spaces refused the whole file; a BOM then an empty line read as 'no rows'."""
    lines = (files / "rows.csv").read_text(encoding="utf-8").splitlines()
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", "-", "--quiet"]) == 0
    ref = capsys.readouterr().out.splitlines()
    long = [lines[0] + ",note"] + [f'{ln},"{"x" * 200_000}"' for ln in lines[1:4]]
    (tmp_path / "long.csv").write_text("\n".join(long) + "\n", encoding="utf-8")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "long.csv"), "--out", "-", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines() == ref[:4]
    (tmp_path / "ws.csv").write_text("\n".join(lines[:3] + ["   "] + lines[3:5] + [" \t"]) + "\n", encoding="utf-8")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "ws.csv"), "--out", "-", "--skip-refused",
                 "--quiet"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype=str, keep_default_na=False)
    assert got["refused"].tolist() == ["", "", "empty line", "", ""]
    assert got["prediction"].drop(index=2).tolist() == [r.split(",")[0] for r in ref[1:5]]
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf\n" + "\n".join(lines[:5]).encode("utf-8") + b"\n")
    assert main(["predict", str(rules_dir), "--data", str(tmp_path / "bom.csv"), "--out", "-", "--quiet"]) == 0
    assert capsys.readouterr().out.splitlines() == ref[:5]


def test_distill_reading_keeps_numbers_numeric_where_they_are(tmp_path, capsys):
    """Review: '-04' (a signed number) made its column codes; '0,125' (a decimal comma) was called a thousands
    separator, advising to remove it; a column the --domain declares integer was refused as categorical."""
    from rulekd import Domain, load

    rng = np.random.default_rng(0)
    temp = rng.integers(-9, 30, 200)
    hour = rng.integers(0, 24, 200)
    frame = pd.DataFrame({"temp": [f"{t:03d}" for t in temp], "hour": [f"{h:02d}" for h in hour],
                          "w": [f"{v},{d}" for v, d in zip(rng.integers(0, 1, 200), rng.integers(100, 999, 200))],
                          "y": ((temp > 10) ^ (hour > 12)).astype(int)})
    frame.to_csv(tmp_path / "t.csv", index=False)
    Domain.from_data(pd.DataFrame({"temp": temp, "hour": hour})).to_json(tmp_path / "d.json")
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "y", "--drop", "w", "--n-synthetic", "300",
                 "--domain", str(tmp_path / "d.json"), "--out", str(tmp_path / "m"), "--quiet"]) == 0
    assert "leading zeros" not in _err(capsys)  # hour is declared integer: --domain wins; temp has signs
    kinds = {f.name: f.kind for f in load(tmp_path / "m").domain_.features}
    assert kinds == {"temp": "integer", "hour": "integer"}
    assert main(["distill", "--data", str(tmp_path / "t.csv"), "--target", "y", "--n-synthetic", "300",
                 "--out", str(tmp_path / "m2"), "--quiet"]) == 0
    err = _err(capsys)
    assert "column(s) ['hour']" in err and "thousands" not in err and "column 'w'" in err and "decimal comma" in err


def test_more_reading_messages_from_the_review(files, rules_dir, tmp_path, capsys):
    head = "a" * 10_000 + ",b\n"  # a bad byte in a header longer than the reader's first chunk
    (tmp_path / "h.csv").write_bytes(head.encode() + b"1,2\xe9\n")
    (tmp_path / "t.csv").write_bytes(b"a,b\n1,2\n3,\xc3")  # a character cut short at the end of the file
    for name, at in (("h.csv", len(head) + 3), ("t.csv", 10)):
        assert main(["predict", str(rules_dir), "--data", str(tmp_path / name), "--out", "-"]) == 2
        assert f"is not utf-8 text (byte {at})" in _err(capsys)
    assert main(["predict", str(rules_dir), "--data", str(files / "rows.csv"), "--out", str(tmp_path / "p.csv.gz"),
                 "--quiet"]) == 2  # plain text under a .gz name
    assert "names a .gz file" in _err(capsys) and not (tmp_path / "p.csv.gz").exists()
