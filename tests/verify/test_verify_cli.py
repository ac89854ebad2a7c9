"""``rulekd verify``: exit codes 0 / 1 / 2 / 3, text and JSON output."""

from __future__ import annotations

import json

import pytest

from rulekd import Condition as C
from rulekd import Domain, FeatureSpec, Rule, RuleSet
from rulekd.verify._cli import main

from .test_verify_timeout import hard_instance


@pytest.fixture
def files(tmp_path):
    rs = RuleSet((Rule((C("x", "<=", 5.0),), "a"), Rule((C("x", ">", 5.0),), "b")),
                 classes=("a", "b", "c"), default="c", ordered=False)
    dom = Domain((FeatureSpec("x", "real", 0, 10), FeatureSpec("sex", "categorical", levels=("f", "m"))))
    rules_path, dom_path = tmp_path / "rules.json", tmp_path / "domain.json"
    rs.to_json(rules_path)
    dom.to_json(dom_path)
    return str(rules_path), str(dom_path), tmp_path


def test_everything_proved_exits_0(files, capsys):
    rules, dom, _ = files
    assert main(["verify", rules, "--domain", dom, "--property", "invariant sex"]) == 0
    assert "Verification proved" in capsys.readouterr().out


def test_with_a_property_the_exit_status_answers_for_the_properties(tmp_path, capsys):
    """Regression: every rule list has gaps where its default answers, so `rulekd verify MODEL --property P`
    exited 1 whatever P did; with --property the checks now default to none."""
    rs = RuleSet((Rule((C("x", "<=", 5.0),), "a"),), classes=("a", "b"), default="b")
    dom = Domain((FeatureSpec("x", "real", 0, 10), FeatureSpec("sex", "categorical", levels=("f", "m"))))
    rs.to_json(tmp_path / "r.json")
    dom.to_json(tmp_path / "d.json")
    base = ["verify", str(tmp_path / "r.json"), "--domain", str(tmp_path / "d.json")]
    assert main(base + ["--property", "invariant sex"]) == 0
    assert "gap" not in capsys.readouterr().out
    assert main(base + ["--property", "invariant sex", "--checks", "all"]) == 1  # the gap x > 5, asked for
    assert main(base) == 1
    assert "gap" in capsys.readouterr().out


def test_violation_exits_1_and_json_output(files, capsys):
    rules, dom, _ = files
    code = main(["verify", rules, "--domain", dom, "--property", 'if x < 6 then "a"', "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "violated"
    (f,) = [f for f in report["findings"] if f["check"] == "property"]
    assert f["status"] == "violated" and 5.0 < f["counterexample"]["x"] < 6.0


def test_unknown_exits_3(tmp_path, capsys):
    rs, dom = hard_instance()
    rs.to_json(tmp_path / "r.json")
    dom.to_json(tmp_path / "d.json")
    code = main(["verify", str(tmp_path / "r.json"), "--domain", str(tmp_path / "d.json"), "--checks", "none",
                 "--property", "invariant f1", "--timeout-ms", "1"])
    assert code == 3
    captured = capsys.readouterr()
    assert "unknown" in captured.out and "warning" in captured.err


@pytest.mark.parametrize("argv, message", [
    (["verify", "{tmp}/nope.json"], "does not exist"),
    (["verify", "{tmp}/bad.json"], "bad.json"),
    (["verify", "{rules}", "--domain", "{tmp}/bad.json"], "Domain"),
    (["verify", "{rules}", "--domain", "{dom}", "--property", "if __import__('os') then a"], "Expected a comparison"),
    (["verify", "{rules}", "--domain", "{dom}", "--property", "if y < 3 then a"], "'y'"),
    (["verify", "{rules}", "--domain", "{dom}", "--property", "if x < 3 then zz"], "classes"),
    (["verify", "{rules}", "--domain", "{dom}", "--checks", "gaps"], "Unknown check"),
    (["verify", "{rules}", "--timeout-ms", "0"], "positive integer"),
])
def test_bad_input_exits_2_with_a_message_naming_the_problem(files, capsys, argv, message):
    rules, dom, tmp = files
    (tmp / "bad.json").write_text("{not json", encoding="utf-8")
    argv = [a.format(tmp=tmp, rules=rules, dom=dom) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
