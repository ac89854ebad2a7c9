"""Fuzzed loaders: rule-set JSON, Domain JSON, the property grammar and model directories.

Hypothesis feeds each loader malformed input: random bytes and text, random
JSON documents, and valid documents with one part damaged. The only outcome
allowed besides a valid object is the loader's own validation error. Each call
runs under a wall-clock alarm (nothing hangs), an audit hook that fails the
test if anything is executed, compiled, unpickled or spawned (nothing
executes), and a snapshot of the folder it reads (nothing is written or left
behind). ``RULEKD_FUZZ_SCALE`` multiplies every example count, for a longer
campaign outside the suite (e.g. ``RULEKD_FUZZ_SCALE=20 pytest tests/test_fuzz_loaders.py``).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xgboost import XGBClassifier

import rulekd
from rulekd import Domain, RuleSet
from rulekd._persist import ModelDirectoryError
from rulekd.exceptions import DomainError, RuleFormatError
from rulekd.verify import PropertySyntaxError, parse_condition, parse_property

SCALE = float(os.environ.get("RULEKD_FUZZ_SCALE", "1"))
TIME_LIMIT_S = 10.0  # per call: far above any real load, far below a hang
COUNTS: dict[str, int] = {}  # inputs tried per loader (printed at the end with -s)


def _settings(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# -- the guards around every call -----------------------------------------------------------------
_WATCH = threading.local()
_FORBIDDEN = ("exec", "compile", "pickle.find_class", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
              "os.fork", "subprocess.Popen", "ctypes.dlopen", "ctypes.call_function", "socket.connect",
              "urllib.Request", "webbrowser.open")


def _importing() -> bool:
    """Inside an import (a module of an installed package loaded the first time it is needed)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _audit(event: str, args: tuple) -> None:
    events = getattr(_WATCH, "events", None)
    if events is not None and event.startswith(_FORBIDDEN) and not _importing():
        events.append(event)


sys.addaudithook(_audit)  # cannot be removed; it only records while a guarded call runs


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _guarded(what: str, folder: Path | None = None):
    """Time limit, no execution, no change to ``folder``; counts the call."""
    before = _snapshot(folder) if folder is not None else None

    def alarm(signum, frame):
        raise _Hang(f"{what} ran longer than {TIME_LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    _WATCH.events = []
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        events, _WATCH.events = _WATCH.events, None
        COUNTS[what] = COUNTS.get(what, 0) + 1
        assert not events, f"{what} executed something: {events[:5]}"
        if folder is not None:
            assert _snapshot(folder) == before, f"{what} changed the folder it read"


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*"))}


def _expect_clean(call, errors, what, folder=None):
    """``call()`` returns or raises one of ``errors``; anything else fails the test."""
    with _guarded(what, folder):
        try:
            return call()
        except errors:
            return None


# -- generators -------------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
special = st.sampled_from([
    "NaN", "Infinity", "-Infinity", "inf", "-inf", "nan", 1e308, -1e308, 5e-324, 2**63, -2**63, 2**1000, "",
    "\x00", "\ud800", "é", "\u202e", "__import__('os').system('echo pwned')", "${jndi:ldap://x}", "'; DROP TABLE x; --",
    "<script>alert(1)</script>", [], {}, [[[[[]]]]], {"$float": "nan"}, {"$tuple": [1]}, True, None, 0, -1, 10**6,
])
values = json_values | special


def _paths(doc, prefix=()):
    """Every (path to a value) in a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, data):
    """One random damage to a copy of ``doc``: replace, delete, insert, retype, nest or duplicate a value."""
    doc = copy.deepcopy(doc)
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths), label="path")
    op = data.draw(st.sampled_from(["replace", "delete", "insert", "wrap", "stringify", "number", "deep"]), label="op")
    if not path:
        return data.draw(values, label="document") if op != "deep" else [doc]
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    old = parent[key]
    if op == "replace":
        parent[key] = data.draw(values, label="value")
    elif op == "delete":
        del parent[key]
    elif op == "insert":
        if isinstance(old, dict):
            old[data.draw(st.text(max_size=12), label="key")] = data.draw(values, label="value")
        elif isinstance(old, list):
            old.insert(data.draw(st.integers(0, len(old)), label="at"), data.draw(values, label="value"))
        else:
            parent[key] = [old, data.draw(values, label="value")]
    elif op == "wrap":
        parent[key] = [old] if data.draw(st.booleans(), label="list") else {"x": old}
    elif op == "stringify":
        parent[key] = json.dumps(old)
    elif op == "number":
        parent[key] = data.draw(st.sampled_from([0, -1, 1.5, 1e308, -1e308, 2**64, float("inf")]), label="n")
    else:
        deep = old
        for _ in range(data.draw(st.integers(50, 3000), label="depth")):
            deep = [deep]
        parent[key] = deep
    return doc


def _text(doc) -> str:
    try:
        return json.dumps(doc, allow_nan=True)
    except (ValueError, RecursionError):
        return "[" * 5000


def _byte_damage(raw: bytes, data) -> bytes:
    raw = bytearray(raw)
    op = data.draw(st.sampled_from(["flip", "truncate", "insert"]), label="byte op")
    if op == "truncate":
        return bytes(raw[: data.draw(st.integers(0, len(raw)), label="keep")])
    at = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="at")
    if op == "flip" and raw:
        raw[at] ^= data.draw(st.integers(1, 255), label="mask")
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
    return bytes(raw)


# -- fixtures: valid documents to damage ---------------------------------------------------------------
@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "age": rng.integers(18, 80, 120).astype(float),
        "job": pd.Categorical(rng.choice(["a", "b", "c"], 120)),
        "income": rng.lognormal(3, 1, 120),
    })
    X.loc[rng.random(120) < 0.1, "income"] = np.nan
    y = ((X["age"] < 40) | (X["job"] == "b")).astype(int).to_numpy()
    teacher = XGBClassifier(n_estimators=10, max_depth=2, n_jobs=1, enable_categorical=True)
    return rulekd.DistilledRuleClassifier(teacher=teacher, max_rules=4, n_synthetic=0, random_state=0).fit(X, y), X


@pytest.fixture(scope="module")
def rules_doc(model):
    return json.loads(model[0].rules_.to_json())


@pytest.fixture(scope="module")
def domain_doc(model):
    return json.loads(model[0].domain_.to_json())


# -- the rule-set JSON loader ---------------------------------------------------------------------------------
RULESET_ERRORS = (RuleFormatError, FileNotFoundError)  # a short single-line str is read as a path


@_settings(400)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_ruleset_loader_on_random_bytes(raw):
    _expect_clean(lambda: RuleSet.from_json(raw), (RuleFormatError,), "RuleSet.from_json")


@_settings(300)
@given(doc=json_values)
def test_ruleset_loader_on_random_json(doc):
    _expect_clean(lambda: RuleSet.from_json(_text(doc)), RULESET_ERRORS, "RuleSet.from_json")


@_settings(800)
@given(data=st.data())
def test_ruleset_loader_on_damaged_documents(rules_doc, model, data):
    text = _text(_mutate(rules_doc, data))
    if data.draw(st.booleans(), label="bytes too"):
        text = _byte_damage(text.encode("utf-8", "surrogatepass"), data)
    rs = _expect_clean(lambda: RuleSet.from_json(text), RULESET_ERRORS, "RuleSet.from_json")
    if rs is not None:  # accepted: a well-formed rule set, which evaluates or refuses the data cleanly
        assert rs == RuleSet.from_json(rs.to_json())
        with _guarded("RuleSet.predict"):
            try:
                rs.predict(model[1])
            except (ValueError, KeyError):
                pass


def test_ruleset_loader_reads_a_file_without_changing_it(rules_doc, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({**rules_doc, "rules": "oops"}), encoding="utf-8")
    _expect_clean(lambda: RuleSet.from_json(path), RULESET_ERRORS, "RuleSet.from_json", tmp_path)
    with pytest.raises(RuleFormatError, match="rules"):
        RuleSet.from_json(path)


# -- the Domain loader ------------------------------------------------------------------------------------------
DOMAIN_ERRORS = (DomainError, FileNotFoundError)


@_settings(300)
@given(raw=st.binary(max_size=300))
def test_domain_loader_on_random_bytes(raw):
    _expect_clean(lambda: Domain.from_json(raw), (DomainError,), "Domain.from_json")


@_settings(300)
@given(doc=json_values)
def test_domain_loader_on_random_json(doc):
    _expect_clean(lambda: Domain.from_json(_text(doc)), DOMAIN_ERRORS, "Domain.from_json")


@_settings(600)
@given(data=st.data())
def test_domain_loader_on_damaged_documents(domain_doc, data):
    text = _text(_mutate(domain_doc, data))
    dom = _expect_clean(lambda: Domain.from_json(text), DOMAIN_ERRORS, "Domain.from_json")
    if dom is not None:  # accepted: it round-trips and can be sampled or refuses cleanly
        assert Domain.from_json(dom.to_json()) == dom
        with _guarded("Domain.sample"):
            try:
                dom.sample(5, random_state=0)
            except DomainError:
                pass


# -- the property grammar -----------------------------------------------------------------------------------------
TOKENS = ["if", "then", "and", "or", "not", "in", "is", "missing", "true", "false", "monotone", "invariant",
          "increasing", "decreasing", "toward", "Implies", "Monotone", "Invariant", "(", ")", "{", "}", ",", "=",
          "<", "<=", ">", ">=", "==", "!=", "age", "job", "`odd name`", "`", '"a"', "'b'", '"', "1", "-2.5", "1e308",
          "1e999", "inf", "-inf", "nan", "0x10", "9007199254740993", "then=", "direction=", "toward=", "__import__",
          "os.system('x')", "lambda", ";", "\\", "\n", "\t", " ", "é", "\x00", "then 1"]
token_text = st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)
grammar_input = token_text | st.text(max_size=80) | st.text(alphabet="()!<>=` \"'", max_size=200)


@_settings(1500)
@given(text=grammar_input)
def test_property_grammar_on_malformed_text(text):
    prop = _expect_clean(lambda: parse_property(text), (PropertySyntaxError,), "parse_property")
    if prop is not None:  # accepted: its canonical text reads back to the same property
        assert parse_property(prop.text()).text() == prop.text()
    cond = _expect_clean(lambda: parse_condition(text), (PropertySyntaxError,), "parse_condition")
    if cond is not None:
        assert str(parse_condition(str(cond))) == str(cond)


def test_property_grammar_limits_length_and_depth():
    with _guarded("parse_condition"):
        with pytest.raises(PropertySyntaxError, match="limit"):
            parse_condition("age < 1 or " * 5000 + "age < 2")
        with pytest.raises(PropertySyntaxError, match="nested more than"):
            parse_condition("(" * 5000 + "age < 1" + ")" * 5000)
        with pytest.raises(PropertySyntaxError, match="nested more than"):
            parse_condition("not " * 2000 + "age < 1")


# -- the model directory loader -------------------------------------------------------------------------------------
def _rehash(folder: Path) -> None:
    """Make the manifest match the files again, so that the damage reaches the parsers behind it."""
    m = folder / "manifest.json"
    try:
        doc = json.loads(m.read_text(encoding="utf-8"))
        files = {p.relative_to(folder).as_posix(): {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                                                    "size": p.stat().st_size}
                 for p in sorted(folder.rglob("*")) if p.is_file() and p != m}
        doc["files"] = files
    except (ValueError, TypeError, AttributeError, RecursionError):
        return  # a damaged manifest stays damaged
    m.write_text(json.dumps(doc), encoding="utf-8")


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return rulekd.save(model[0], tmp_path_factory.mktemp("fuzz") / "model")


@_settings(250)
@given(data=st.data())
def test_model_directory_loader_on_damaged_folders(saved, model, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(shutil.copytree(saved, Path(tmp) / "model"))
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        path = data.draw(st.sampled_from(files), label="file")
        raw = path.read_bytes()
        if path.suffix == ".json" and data.draw(st.booleans(), label="structured"):
            try:
                raw = _text(_mutate(json.loads(raw), data)).encode("utf-8", "surrogatepass")
            except ValueError:
                pass
        else:
            raw = _byte_damage(raw, data)
        path.write_bytes(raw)
        if data.draw(st.booleans(), label="rehash"):
            _rehash(folder)
        loaded = _expect_clean(lambda: rulekd.load(folder), (ModelDirectoryError,), "rulekd.load", folder)
        if loaded is not None:  # accepted: the model predicts, or refuses the data cleanly
            with _guarded("loaded.predict"):
                try:
                    loaded.predict(model[1])
                except ValueError:
                    pass
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["model"]  # nothing left next to it


# -- regressions found by the fuzzer -------------------------------------------------------------------------------
def test_lone_surrogates_are_refused_in_names_and_levels():
    """Regression: Domain.from_json accepted a level '\\ud800' (valid JSON), which Domain.sample then crashed on
    inside pyarrow (UnicodeEncodeError), and whose to_json text from_json could not read back."""
    doc = {"format": "rulekd.domain", "version": 1,
           "features": [{"name": "job", "kind": "categorical", "levels": ["a", "\ud800"]}]}
    with pytest.raises(DomainError, match="not valid Unicode"):
        Domain.from_json(json.dumps(doc))
    doc["features"][0].update(name="\udcff", levels=["a"])
    with pytest.raises(DomainError, match="not valid Unicode"):
        Domain.from_json(json.dumps(doc))
    with pytest.raises(RuleFormatError, match="not valid Unicode"):
        rulekd.Condition("job", "in", {"\ud800"})
    with pytest.raises(RuleFormatError, match="not valid Unicode"):
        rulekd.Condition("\ud800", "<=", 1.0)


def test_text_json_cannot_carry_as_utf8_is_written_with_escapes():
    """Regression: to_json wrote a lone surrogate (here in metadata) as raw text, which is not UTF-8, so the
    file could not be written and the text not read back; it is now written as a \\u escape."""
    rs = RuleSet((), classes=(0, 1), default=0, metadata={"note": "\ud800"})
    text = rs.to_json()
    text.encode("utf-8")
    assert RuleSet.from_json(text).metadata == {"note": "\ud800"}


def test_deeply_nested_metadata_is_refused():
    """Regression: RuleSet.from_json accepted metadata nested ~600 levels deep, which to_json then failed on
    with a RecursionError."""
    deep: list = []
    for _ in range(600):
        deep = [deep]
    doc = json.loads(RuleSet((), classes=(0, 1), default=0).to_json())
    doc["metadata"] = {"x": deep}
    with _guarded("RuleSet.from_json"):
        with pytest.raises(RuleFormatError, match="nested more than 64 levels"):
            RuleSet.from_json(json.dumps(doc))


def test_report_fuzz_counts(capsys):
    """Prints how many inputs each loader was given in this run (visible with ``-s``)."""
    with capsys.disabled():
        if COUNTS:
            print("\nfuzzed inputs:", dict(sorted(COUNTS.items())), "total", sum(COUNTS.values()))
    assert all(n > 0 for n in COUNTS.values())
