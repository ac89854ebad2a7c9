"""The command line: the demo's output, its files, and its refusal to clobber."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rulekd import RuleSet
from rulekd.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--out", str(out)])
    return code, buf.getvalue(), out


def test_demo_prints_rules_and_fidelity(demo_run):
    code, text, _ = demo_run
    assert code == 0
    assert re.search(r"^if .+ then \d$", text, flags=re.M), text
    assert re.search(r"^else \d$", text, flags=re.M)
    m = re.search(r"fidelity to the teacher: (0\.\d+)", text)
    assert m and 0.5 < float(m.group(1)) <= 1.0
    n_rules = int(re.search(r"rules: (\d+)", text).group(1))
    assert 1 <= n_rules <= 16


def test_demo_tells_the_whole_story(demo_run):
    """Teacher, rule student, neural student, hybrid, proofs, exports, model directories, audit."""
    code, text, out = demo_run
    assert code == 0
    for step in range(1, 6):
        assert f"[{step}/5]" in text
    assert re.search(r"neural student alone \(\d+ parameters\), held out: accuracy 0\.\d+", text)
    m = re.search(r"hybrid, held out: accuracy (0\.\d+), answered by rules (\d+)% of rows", text)
    assert m and 0.5 < float(m.group(1)) <= 1.0 and 20 <= int(m.group(2)) <= 80
    # The guards are proved on the hybrid as a whole.
    assert text.count("hybrid [proved]") == 2
    for name in ("rules.json", "rules.txt", "rules.sql", "rules.py", "domain.json", "verification.json",
                 "hybrid-verification.json", "audit.html", "audit.json"):
        assert (out / name).is_file(), name
    html = (out / "audit.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and "verification" in html
    from rulekd import load

    hybrid = load(out / "models" / "hybrid")
    assert type(hybrid).__name__ == "HybridClassifier"
    assert load(out / "models" / "rules").rules_ == RuleSet.from_json(out / "rules.json")


def test_demo_writes_reloadable_rules(demo_run):
    _, text, out = demo_run
    rs = RuleSet.from_json(out / "rules.json")
    assert (out / "rules.txt").read_text(encoding="utf-8").strip() == rs.to_text()
    assert len(rs) <= 16
    from rulekd.datasets import load_german_credit

    X = load_german_credit().data
    assert np.isin(rs.predict(X), [0, 1]).all()


def test_demo_refuses_to_overwrite_foreign_files(tmp_path, capsys):
    (tmp_path / "rules.json").write_text("precious", encoding="utf-8")
    code = main(["demo", "--out", str(tmp_path), "--quiet"])
    assert code == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "rules.json").read_text(encoding="utf-8") == "precious"


@pytest.mark.parametrize("make, said", [
    (lambda d: (d / "models" / "rules").mkdir(parents=True) or (d / "models" / "rules" / "mine.csv").write_text("x"),
     "not a rulekd model directory"),
    (lambda d: (d / "models").write_text("x"), "is a file"),
    (lambda d: (d / "rules.sql").mkdir(), "is a folder"),
])
def test_demo_with_force_refuses_what_it_cannot_replace_before_writing(tmp_path, capsys, make, said):
    """--force replaces the demo's own files, never another folder: refused up front (it was refused at the
    end, after seven files were written, in the API's words: 'overwrite=True')."""
    make(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["demo", "--out", str(tmp_path), "--force", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert said in err and "overwrite=True" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_unknown_command_is_a_usage_error(capsys):
    assert main(["no-such-command"]) == 2
    assert main([]) == 2


def test_demo_rejects_a_non_positive_budget_before_writing(tmp_path, capsys):
    """Regression: --max-rules 0 ended in a traceback with exit code 1 after creating --out."""
    out = tmp_path / "never"
    assert main(["demo", "--out", str(out), "--max-rules", "0"]) == 2
    assert "--max-rules must be at least 1" in capsys.readouterr().err
    assert not out.exists()


def test_demo_overwrites_only_the_files_its_last_run_wrote(demo_run, tmp_path, capsys):
    """Regression: the marker was written before any work, so an interrupted run's folder let a later run
    overwrite files the user had put there since."""
    import shutil

    from rulekd.cli import DEMO_FILES, _prepare_out_dir

    _, _, out = demo_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    _prepare_out_dir(copy, DEMO_FILES, force=False)  # unchanged since the demo wrote it: the demo's own
    (copy / "rules.py").write_text("# my own edits\n", encoding="utf-8")
    assert main(["demo", "--out", str(copy), "--quiet"]) == 2
    assert "rules.py" in capsys.readouterr().err
    assert (copy / "rules.py").read_text(encoding="utf-8") == "# my own edits\n"
    # A folder an interrupted run left (a marker of the old kind, or none) holds the user's files.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".rulekd-demo").write_text("written by `rulekd demo`\n", encoding="utf-8")
    (fresh / "domain.json").write_text("{}", encoding="utf-8")
    assert main(["demo", "--out", str(fresh), "--quiet"]) == 2
    assert (fresh / "domain.json").read_text(encoding="utf-8") == "{}"
