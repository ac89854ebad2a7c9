"""Coverage-guided fuzzing of rulekd's loaders with atheris (not part of the test suite).

The targets of ``tests/test_fuzz_loaders.py``, driven by libFuzzer instead of
hypothesis: ``RuleSet.from_json``, ``Domain.from_json``, ``parse_property`` /
``parse_condition`` and ``rulekd.load`` (a saved model whose ``metadata.json``
or ``rules.json`` is replaced by the input, with a matching manifest). Any
exception other than the loader's own validation error is a crash::

    pip install atheris            # optional; the suite never needs it
    python tests/atheris_loaders.py -max_total_time=300 -rss_limit_mb=4096
"""

from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path


def _rehash(folder: Path) -> None:
    m = folder / "manifest.json"
    doc = json.loads(m.read_text(encoding="utf-8"))
    doc["files"] = {p.relative_to(folder).as_posix(): {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                                                       "size": p.stat().st_size}
                    for p in sorted(folder.rglob("*")) if p.is_file() and p != m}
    m.write_text(json.dumps(doc), encoding="utf-8")


def main(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():
        import numpy as np
        import pandas as pd
        from sklearn.tree import DecisionTreeClassifier

        import rulekd
        from rulekd import Domain, RuleSet
        from rulekd._persist import ModelDirectoryError
        from rulekd.exceptions import DomainError, RuleFormatError
        from rulekd.verify import PropertySyntaxError, parse_condition, parse_property

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"age": rng.integers(18, 80, 80).astype(float), "income": rng.lognormal(3, 1, 80)})
    y = (X["age"] < 40).astype(int).to_numpy()
    model = rulekd.DistilledRuleClassifier(teacher=DecisionTreeClassifier(max_depth=2), max_rules=3,
                                           n_synthetic=0, random_state=0).fit(X, y)
    root = Path(tempfile.mkdtemp(prefix="rulekd-atheris-"))
    saved = rulekd.save(model, root / "model")
    work = root / "work"

    def one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        target = fdp.ConsumeIntInRange(0, 9)
        payload = fdp.ConsumeBytes(fdp.remaining_bytes())
        if target <= 2:
            try:
                RuleSet.from_json(payload)
            except RuleFormatError:
                pass
        elif target <= 4:
            try:
                Domain.from_json(payload)
            except DomainError:
                pass
        elif target <= 8:
            text = payload.decode("utf-8", errors="replace")
            for parse in (parse_property, parse_condition):
                try:
                    parse(text)
                except PropertySyntaxError:
                    pass
        else:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(saved, work)
            (work / ("metadata.json" if len(payload) % 2 else "rules.json")).write_bytes(payload)
            _rehash(work)
            try:
                rulekd.load(work)
            except ModelDirectoryError:
                pass

    atexit.register(shutil.rmtree, root, ignore_errors=True)  # libFuzzer may end the process without it
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
