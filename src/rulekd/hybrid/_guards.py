"""Guards: the hybrid's declared properties, enforced on the neural part by construction.

The hybrid answers a row with the first Implies guard whose condition holds,
else with the first trusted rule that fires, else with the neural student.
The rules are chosen so that they respect the guards (see ``_hybrid.py``);
this module makes the *student's* answer respect them whatever the network
computes, with constructions simple enough for Z3 to prove the composition
while treating the network as an arbitrary function (``_verify.py``):

* ``Invariant(f)``: the student's probabilities are averaged over a fixed set
  of values of ``f`` (every level, the missing value where it is allowed, or
  the grid below for a numeric feature), weighted by their frequency in the
  training data (a grid point counts the training values nearer to it than to
  its neighbours; every value one more). The answer then depends on ``f`` not
  at all. Cost: one student evaluation per value (per combination, with
  several such guards).
* ``Monotone(f, increasing, toward=c)``: on a fixed grid ``G`` of values of
  ``f`` (every distinct training value, or 32 quantiles of the distinct
  values: ``_grid``), the answer is ``c`` exactly
  when the student answers ``c`` at some grid point ``g <= x_f`` (all other
  features as in ``x``); otherwise the student's best class other than ``c``.
  Raising ``x_f`` only adds grid points, so an answer ``c`` is never left.
  Cost: up to ``|G|`` evaluations of what follows it (the next guards' constructions, else the
  student) per row answered by the student, so the costs of several guards multiply; the answer
  changes only at grid points (its resolution in ``f``).
  ``decreasing`` mirrors it (``g >= x_f``). A missing ``x_f`` is answered by
  the student as is (the property compares present values only).
* ``Implies(cond, then=c)``: answered by the guard before rules and student.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..domain import Domain
from ..verify import Implies, Invariant, Monotone

__all__ = ["Guarding", "GRID_SIZE", "MAX_COMBINATIONS"]

# Most grid points per Monotone feature and per numeric Invariant feature.
GRID_SIZE = 32
INVARIANT_GRID = 8
# Most value combinations averaged over for all Invariant guards together.
MAX_COMBINATIONS = 256


def _grid(values: np.ndarray, size: int) -> np.ndarray:
    """Every distinct value, or ``size`` quantiles of the distinct values (spread over their range
    in rank, not weighted by how often each occurs)."""
    v = np.unique(values[~np.isnan(values)])
    if len(v) <= size:
        return v
    return np.unique(np.quantile(v, np.linspace(0.0, 1.0, size), method="inverted_cdf"))


@dataclass
class Guarding:
    """The guards of one fitted hybrid and the grids they use.

    Build it with :meth:`fit` (grids and value weights from training rows);
    the constructor takes them as saved, so a loaded model rebuilds it exactly.

    Parameters
    ----------
    guards : sequence of Property
        Validated (labels resolved) against ``domain`` and ``classes``.
    domain : Domain
    classes : ndarray
    grids : dict
        Monotone feature -> sorted grid of values.
    combos : list of (dict, float)
        Invariant value assignments (``None``: missing) and their weights.
    """

    guards: Sequence[Any]
    domain: Domain
    classes: np.ndarray
    grids: dict
    combos: list
    implies: list = field(init=False)
    monotone: list = field(init=False)
    invariant: list = field(init=False)

    def __post_init__(self) -> None:
        self.implies = [(k, g) for k, g in enumerate(self.guards) if isinstance(g, Implies)]
        self.monotone = [g for g in self.guards if isinstance(g, Monotone)]
        self.invariant = [g for g in self.guards if isinstance(g, Invariant)]
        for g in self.monotone:
            if g.feature in self.invariant_names:
                raise ValueError(
                    f"The guards say both that the prediction is monotone in {g.feature!r} and that it never "
                    f"depends on it; keep one of the two."
                )
        towards = {self._code(g.toward) for g in self.monotone}
        if len(self.classes) > 2 and len(towards) > 1:
            raise ValueError(
                "Monotone guards toward different classes are supported for two classes only; with "
                f"{len(self.classes)} classes name the same class in every Monotone guard."
            )
        missing = [g.feature for g in self.monotone if g.feature not in self.grids]
        if missing:
            raise ValueError(f"No grid for the Monotone guard(s) on {missing}.")

    @classmethod
    def fit(cls, guards: Sequence[Any], domain: Domain, classes: np.ndarray, frame: pd.DataFrame) -> "Guarding":
        """Grids of the Monotone features and value weights of the Invariant ones, from training rows."""
        grids = {}
        for g in guards:
            if isinstance(g, Monotone):
                x = frame[g.feature].to_numpy(dtype=np.float64, na_value=np.nan)
                grid = _grid(x, GRID_SIZE)
                if len(grid) == 0:
                    raise ValueError(f"Monotone guard on {g.feature!r}: the training data has no value of it.")
                grids[g.feature] = grid
        names = sorted({n for g in guards if isinstance(g, Invariant) for n in g.names})
        return cls(guards, domain, classes, grids, _invariant_combinations(names, domain, frame))

    # -- class codes -----------------------------------------------------------
    def _code(self, label: Any) -> int:
        return int(list(self.classes).index(label))

    def monotone_steps(self) -> list[tuple[str, bool, int, np.ndarray]]:
        """``(feature, increasing, toward code, grid)`` per Monotone guard; binary guards toward one class."""
        steps = []
        first = self._code(self.monotone[0].toward) if self.monotone else 0
        for g in self.monotone:
            inc = g.direction == "increasing"
            c = self._code(g.toward)
            if len(self.classes) == 2 and c != first:
                # Raising toward the other class == lowering toward this one.
                inc, c = not inc, first
            steps.append((g.feature, inc, c, self.grids[g.feature]))
        return steps

    @property
    def invariant_names(self) -> list[str]:
        return sorted({n for g in self.invariant for n in g.names})

    # -- the guarded student ---------------------------------------------------------
    def student_proba(self, proba: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame) -> np.ndarray:
        """The student's probabilities, averaged over the Invariant values."""
        if not self.combos:
            return proba(frame)
        n = len(frame)
        big = pd.concat([_assign(frame, values) for values, _ in self.combos], ignore_index=True)
        p = proba(big).reshape(len(self.combos), n, -1)
        w = np.asarray([w for _, w in self.combos])
        return np.tensordot(w, p, axes=1)

    @property
    def evaluations_per_row(self) -> int:
        """The most student evaluations a row the student answers can cost: each Monotone guard
        evaluates what follows it at its row's value and at each grid point below (above) it, and the
        Invariant guards average over their combinations of values, so the factors multiply."""
        n = max(len(self.combos), 1)
        for *_, grid in self.monotone_steps():
            n *= 1 + len(grid)
        return n

    def student_answer(self, proba: Callable[[pd.DataFrame], np.ndarray], frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(class codes, probabilities)`` of the guarded student for each row."""
        return self._answer(proba, frame, self.monotone_steps())

    def _answer(self, proba: Callable, frame: pd.DataFrame, steps: list) -> tuple[np.ndarray, np.ndarray]:
        if not steps:
            P = self.student_proba(proba, frame)
            return np.argmax(P, axis=1), P
        name, inc, c, grid = steps[0]
        own, P = self._answer(proba, frame, steps[1:])
        x = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            elig = grid[None, :] <= x[:, None] if inc else grid[None, :] >= x[:, None]
        rows, cols = np.nonzero(elig)
        hit = np.zeros(len(frame), dtype=bool)
        if len(rows):
            sub = frame.iloc[rows].reset_index(drop=True)
            sub = _assign(sub, {name: grid[cols]})
            sub_codes, _ = self._answer(proba, sub, steps[1:])
            np.logical_or.at(hit, rows, sub_codes == c)
        present = ~np.isnan(x)
        other = P.copy()
        other[:, c] = -np.inf
        best_other = np.argmax(other, axis=1)
        codes = np.where(hit, c, np.where(own == c, best_other, own))
        return np.where(present, codes, own), P


def _invariant_combinations(names: Sequence[str], domain: Domain, frame: pd.DataFrame) -> list[tuple[dict, float]]:
    """Value assignments of the invariant features and their weights (sum 1)."""
    if not names:
        return []
    per_feature = []  # per factor: [(assignment, weight)], an assignment a dict of feature -> value
    joint: list[str] = []
    for group in domain.onehot_groups:
        # A declared one-hot group guarded whole takes its k legal values, not the 2**k 0/1 combinations
        # (most of which break the group, so the student was averaged mostly outside the Domain).
        if set(group) <= set(names) and not any(domain[g].allow_missing for g in group):
            X = np.column_stack([frame[g].to_numpy(dtype=np.float64, na_value=np.nan) for g in group])
            counts = [float(np.sum(X[:, i] == 1.0)) for i in range(len(group))]
            w = np.asarray(counts) + 1.0
            per_feature.append([({g: float(i == j) for j, g in enumerate(group)}, float(wi))
                                for i, wi in enumerate(w / w.sum())])
            joint += list(group)
    for n in names:
        if n in joint:
            continue
        spec = domain[n]
        col = frame[n]
        if spec.kind == "categorical":
            values: list = list(spec.levels)
            counts = [float((col == v).sum()) for v in values]
        else:
            x = col.to_numpy(dtype=np.float64, na_value=np.nan)
            grid = _grid(x, 2 if spec.kind == "binary" else INVARIANT_GRID)
            values = [float(v) for v in grid]
            # A grid point counts the training values nearer to it than to its neighbours (its own
            # value only, where the grid holds every distinct value).
            nearest = np.searchsorted((grid[1:] + grid[:-1]) / 2.0, x[~np.isnan(x)])
            counts = np.bincount(nearest, minlength=len(grid)).astype(float).tolist()
        if spec.allow_missing:
            values.append(None)
            counts.append(float(col.isna().sum()))
        w = np.asarray(counts) + 1.0  # every value counts, however rare
        per_feature.append([({n: v}, float(wi)) for v, wi in zip(values, w / w.sum())])
    total = int(np.prod([len(p) for p in per_feature]))
    if total > MAX_COMBINATIONS:
        raise ValueError(
            f"The Invariant guards on {list(names)} need {total} value combinations of the student "
            f"(more than {MAX_COMBINATIONS}); guard fewer features, or declare one-hot columns as a group of "
            f"the Domain (Domain.with_onehot_group; on the command line, \"onehot_groups\" in the --domain "
            f"file) so that they take their legal values only."
        )
    out = []
    for combo in itertools.product(*per_feature):
        values = {}
        for assignment, _ in combo:
            values.update(assignment)
        out.append(({n: values[n] for n in names}, float(np.prod([w for _, w in combo]))))
    return out


def _assign(frame: pd.DataFrame, values: dict) -> pd.DataFrame:
    """A copy of ``frame`` with columns set to the given values (``None``: missing)."""
    out = frame.copy()
    for name, v in values.items():
        col = out[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            vals = [v] * len(out) if not isinstance(v, np.ndarray) else list(v)
            out[name] = pd.Categorical(vals, categories=col.cat.categories)
        else:
            out[name] = np.full(len(out), np.nan if v is None else v, dtype=np.float64) if not isinstance(
                v, np.ndarray) else v.astype(np.float64)
    return out
