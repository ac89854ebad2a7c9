"""The HTML page and the files: self-contained, escaped, every section, safe writing."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.tree import DecisionTreeClassifier

from rulekd import DistilledRuleClassifier
from rulekd.audit import SECTIONS, AuditReport, audit
from rulekd.exceptions import MissingDependencyError

HOSTILE = "<script>alert(1)</script>"
HOSTILE_CLASS = "<script>alert(2)</script>"
HOSTILE_ATTR = "<img src=x onerror=alert(3)>"


def _section_ids(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', html)


def test_html_has_every_section_and_nothing_external(german_report):
    html = german_report.to_html()
    assert _section_ids(html) == list(SECTIONS)
    lower = html.lower()
    assert "<script" not in lower
    assert "http://" not in lower and "https://" not in lower
    assert "@import" not in lower and "url(" not in lower
    assert '<link' not in lower and "<iframe" not in lower
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "Content-Security-Policy" in html
    # Plots: reliability diagram and one per protected attribute.
    assert len(srcs) == 1 + len(german_report["disaggregated"]["attributes"])


def test_a_url_in_user_text_does_not_become_a_url_in_the_page(german):
    rep = audit(german["model"], german["X"], german["y"], verify=False,
                title="See https://example.org", description="Data\nCaveats:\n- from http://example.org/x\n")
    html = rep.to_html()
    assert "https://" not in html and "http://" not in html
    assert "https&#58;//example.org" in html  # shown to the reader, not fetchable markup


def _hostile_model():
    rng = np.random.default_rng(0)
    n = 160
    X = pd.DataFrame({HOSTILE: rng.uniform(0, 1, n), "x1": rng.uniform(0, 1, n)})
    y = np.where(X[HOSTILE] + 0.3 * X["x1"] > 0.7, HOSTILE_CLASS, "ok")
    model = DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=3, random_state=0), max_rules=3,
                                    n_synthetic=200, random_state=0).fit(X, y)
    return model, X, y


def test_hostile_names_and_labels_are_escaped():
    model, X, y = _hostile_model()
    groups = np.where(np.arange(len(X)) % 2 == 0, "<i>even</i>", "odd")
    rep = audit(model, X, y, protected={HOSTILE_ATTR: groups}, title=HOSTILE, time_budget_s=20)
    assert any(HOSTILE in r["rule"] for r in rep["rules"]["rules"])  # the name really reaches the rules
    html = rep.to_html()
    lower = html.lower()
    assert "<script" not in lower and "<img src=x" not in lower and "<i>even" not in lower
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "&lt;i&gt;even&lt;/i&gt;" in html
    assert _section_ids(html) == list(SECTIONS)


def test_bidirectional_controls_in_user_text_are_shown_not_obeyed():
    """U+202E in a level reached the page raw and could show a rule's text reversed to a reviewer."""
    from rulekd import Condition, Rule, RuleSet

    level = "abc\u202edef"
    X = pd.DataFrame({"k": pd.Categorical([level, "other"] * 20)})
    rs = RuleSet((Rule((Condition("k", "in", frozenset([level])),), 1),), classes=(0, 1), default=0,
                 feature_names=("k",))
    rep = audit(rs, X, [1, 0] * 20, verify=False, title="report \u2067x\u2069")
    html = rep.to_html()
    assert not any(ch in html for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "abc\\u202edef" in html and "report \\u2067x\\u2069" in html
    assert any(level in r["rule"] for r in rep["rules"]["rules"])  # the JSON keeps the text exactly


def test_write_refuses_to_overwrite(german_report, tmp_path):
    p = tmp_path / "audit.json"
    german_report.write_json(p)
    p.write_text("keep me", encoding="utf-8")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        german_report.write_json(p)
    assert p.read_text(encoding="utf-8") == "keep me"
    german_report.write_json(p, overwrite=True)
    assert AuditReport.from_json(p).to_dict() == german_report.to_dict()

    h = tmp_path / "audit.html"
    german_report.write(h)
    with pytest.raises(FileExistsError):
        german_report.write(h)
    with pytest.raises(FileExistsError):
        german_report.write_html(h)
    german_report.write(h, overwrite=True)
    assert _section_ids(h.read_text(encoding="utf-8")) == list(SECTIONS)
    with pytest.raises(ValueError, match="suffix"):
        german_report.write(tmp_path / "audit.txt")
    assert not (tmp_path / "audit.txt").exists()


def test_html_needs_the_report_extra(german_report, monkeypatch):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"rulekd\[report\]"):
        german_report.to_html()


def test_html_renders_from_a_stored_json_report(german_report):
    again = AuditReport.from_json(german_report.to_json())
    assert _section_ids(again.to_html()) == list(SECTIONS)


@pytest.mark.parametrize("section, key", [("summary", "description"), ("verification", "scope"),
                                          ("rules", "semantics"), ("transparency", "definition")])
def test_a_stored_report_lacking_a_field_the_page_shows_is_a_clear_error(german_report, section, key):
    """from_json took such documents and to_html then raised jinja2's UndefinedError."""
    import json

    doc = json.loads(german_report.to_json())
    del doc["sections"][section][key]
    with pytest.raises(ValueError, match=rf"cannot be rendered as HTML: .*{key}.*audit again"):
        AuditReport.from_json(json.dumps(doc)).to_html()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (apt-get install -y chromium)")
def test_headless_chromium_loads_the_page(german_report, tmp_path):
    path = tmp_path / "audit.html"
    german_report.write_html(path)
    proc = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert _section_ids(dom) == list(SECTIONS)
    for title in german_report.document["section_titles"].values():
        assert title in dom
    # No console message, no blocked or failed load.
    bad = [line for line in proc.stderr.splitlines()
           if "CONSOLE" in line or "Refused to" in line or "net::ERR" in line or "Uncaught" in line]
    assert not bad, bad


def test_the_domains_groups_and_constraints_are_shown_where_a_proof_rests_on_them():
    """A property proved only thanks to a Domain constraint: the HTML's Domain table showed bounds and levels
    only, so its reader could not see the assumption."""
    from rulekd import Condition, Rule, RuleSet
    from rulekd.domain import Domain

    rng = np.random.default_rng(0)
    x1 = rng.uniform(0, 1, 200)
    X = pd.DataFrame({"x0": np.minimum(1, x1 + rng.uniform(0, 0.2, 200)), "x1": x1,
                      "u": [1.0, 0.0] * 100, "v": [0.0, 1.0] * 100})
    y = (X.x0 > 0.5).astype(int).to_numpy()
    rs = RuleSet((Rule((Condition("x0", ">", 0.5),), 1),), classes=(0, 1), default=0, feature_names=tuple(X))
    box = Domain.from_data(X).update("x0", lower=0.0, upper=1.0).update("x1", lower=0.0, upper=1.0)
    dom = box.with_constraint({"x0": 1, "x1": -1}, ">=", 0).with_onehot_group(["u", "v"])
    rep = audit(rs, X, y, domain=dom, properties=["if x1 > 0.5 then 1"], time_budget_s=30)
    assert [f["severity"] for f in rep["verification"]["findings"] if f["check"] == "property"] == ["proved"]
    html = rep.to_html()
    part = html[html.index("The Domain (what"):]
    part = part[:part.index("</details>")]
    assert "constraint: <code>1.0·x0 + -1.0·x1 &gt;= 0.0</code>" in part
    assert "one-hot group: exactly one of <code>u</code>, <code>v</code> is 1" in part
    plain = audit(rs, X, y, domain=box, properties=["if x1 > 0.5 then 1"], time_budget_s=30)
    assert [f["severity"] for f in plain["verification"]["findings"] if f["check"] == "property"] == ["violated"]
    assert "No one-hot group and no linear constraint" in plain.to_html()


def test_a_label_with_a_lone_surrogate_is_written_not_refused(tmp_path):
    """A label read with surrogateescape (b'caf\\xe9' as 'caf\\udce9'): write_json and write_html raised
    UnicodeEncodeError."""
    import json

    from rulekd import Condition, Rule, RuleSet

    X = pd.DataFrame({"x0": np.linspace(0, 1, 50)})
    rs = RuleSet((Rule((Condition("x0", ">", 0.5),), 1),), classes=(0, 1), default=0, feature_names=("x0",))
    y = [1 if v > 0.5 else 0 for v in X.x0]
    y[0] = "caf\udce9"
    rep = audit(rs, X, pd.Series(y, dtype=object), verify=False)
    rep.write_json(tmp_path / "r.json")
    rep.write_html(tmp_path / "r.html")
    back = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert "caf\udce9" in [b["class"] for b in back["sections"]["data"]["class_balance"]]  # exactly, via \u escapes
    assert "caf\\udce9" in (tmp_path / "r.html").read_text(encoding="utf-8")  # shown as its escape
