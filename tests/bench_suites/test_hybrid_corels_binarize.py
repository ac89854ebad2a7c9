"""The binary tests benchmarks/hybrid_corels.py gives HybridCORELS (nothing is fitted; HybridCORELS not needed)."""

import numpy as np
import pandas as pd

from benchmarks.hybrid_corels import binarize  # the repository root is on sys.path under `python -m pytest`


def test_thresholds_come_from_the_training_rows_and_apply_to_both():
    tr = pd.DataFrame({"x": np.arange(10, dtype=float), "c": pd.Categorical(list("aab") * 3 + ["c"])})
    te = pd.DataFrame({"x": [-1.0, 4.5, 100.0, np.nan], "c": pd.Categorical(["a", "c", "b", None],
                                                                           categories=["a", "b", "c"])})
    Btr, Bte, names = binarize(tr, te, 3)
    cuts = np.quantile(np.arange(10.0), [0.25, 0.5, 0.75])
    assert names[:6] == [f"x<={t:.6g}" if i % 2 == 0 else f"x>{t:.6g}" for t in cuts for i in range(2)]
    for j, name in enumerate(names):  # every column is its test, row by row
        if name.startswith("x<="):
            t = float(name[3:])
            expected_tr, expected_te = tr["x"] <= t, te["x"] <= t
        elif name.startswith("x>"):
            t = float(name[2:])
            expected_tr, expected_te = tr["x"] > t, te["x"] > t
        elif "!=" in name:
            lv = name.split("!=")[1]
            expected_tr, expected_te = tr["c"].notna() & (tr["c"] != lv), te["c"].notna() & (te["c"] != lv)
        else:
            lv = name.split("==")[1]
            expected_tr, expected_te = tr["c"] == lv, te["c"] == lv
        np.testing.assert_array_equal(Btr[:, j], expected_tr.to_numpy().astype(np.uint8), err_msg=name)
        np.testing.assert_array_equal(Bte[:, j], expected_te.to_numpy().astype(np.uint8), err_msg=name)
    assert Bte[3].sum() == 0  # a missing value makes every test on its feature false
    assert Btr.dtype == np.uint8 and set(np.unique(Btr)) <= {0, 1}
    assert {"c==a", "c!=a", "c==b", "c!=b", "c==c", "c!=c"} <= set(names)
