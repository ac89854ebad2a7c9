"""``HybridClassifier``: trusted rules where they apply, the neural student elsewhere.

How ``fit`` works
-----------------
1. The real rows are split (stratified by class, and by weight 0 or not) into
   a training part and a validation part (``validation_fraction``); too few
   rows (or weighted rows) to split, and every row serves both. The teacher is fitted once, on the training
   part only (or used frozen), and shared by every student: a teacher that had
   seen the validation rows would make the students look better there.
2. Candidate rules, learned on the training part: the rules of the rule student
   (default :class:`DistilledRuleClassifier`), the leaves of two
   :class:`DistilledTreeClassifier` of different sizes (so both classes have
   rules), and, where the teacher is XGBoost, the leaves of its first trees.
   Each candidate answers the class the teacher gives most often on the rows it
   covers (real training rows plus synthetic rows near them).
3. Candidates that contradict a guard are set aside (``guard_conflicts_``):
   an ``Implies`` guard whose region they overlap with another class, a
   ``Monotone`` guard they could break (a rule for the ``toward`` class may only
   bound the feature from below, a rule for another class only from above), an
   ``Invariant`` guard on a feature they test.
4. The neural student (default :class:`DistilledMLPClassifier`, with the
   teacher's 24 cuts of largest gain as step inputs when the training part
   has at least 10,000 rows) is fitted on the training part. On the
   validation rows, a greedy pass orders the candidates: each step appends
   the rule that best trades accuracy for coverage, judged a quarter on the
   validation rows it would newly answer (true labels) and, to steady small
   samples, three quarters on the training and synthetic rows it would newly
   answer (agreement with the teacher). Several trade-off prices give several
   orders; for the requested ``transparency`` the shortest prefix that
   reaches it (coverage of the real rows) with the best gain, judged the same
   way, is kept.
   ``transparency=None`` keeps the prefix of best gain.
5. ``min_rule_precision`` (if set) drops candidates whose held-out precision,
   smoothed toward their agreement with the teacher, is lower.
6. ``refit=True`` (not the default): the rules chosen, the teacher (unless
   frozen) and the neural student are fitted again on all the real rows, so
   that they learn from every row, as a cross-validated search refits its
   winner. The rules, their precision and ``validation_scores_`` stay those
   of the first models.

Prediction: the first ``Implies`` guard whose condition holds, else the first
rule of ``rules_`` that fires, else the guarded student (``_guards.py``).
``decided_by`` names which.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..rules import Condition, Rule, RuleSet
from ..students import DistilledMLPClassifier, DistilledRuleClassifier, DistilledTreeClassifier
from ..domain import Domain
from ..exceptions import DomainError
from ..students._base import (DistilledClassifierMixin, _array_names, _n_synthetic, answered_proba, clear_fitted,
                              rank_first)
from ..students._tree import _TreeFitting
from ..teachers import fit_teacher
from ..verify import Implies, Invariant, Monotone, parse_property
from ._guards import Guarding

__all__ = ["HybridClassifier", "GuardConflictError", "GuardConflictWarning"]


class GuardConflictError(ValueError):
    """The guards cannot all hold together (with the hybrid's construction)."""


class GuardConflictWarning(UserWarning):
    """Candidate rules that contradict a guard were set aside."""


# Trade-off prices tried by the greedy ordering: accuracy (in rows) given up
# per row newly answered by a rule.
_PRICES = (0.0, 0.02, 0.05, 0.1, 0.2)
# Leaves of the candidate trees, and teacher trees read as candidates.
_TREE_SIZES = (16, 48)
_TEACHER_TREES = 12
# Weight of the teacher-agreement estimate against the validation estimate.
_PRIOR_ROWS = 10.0
# How far past the transparency target a rule may take the coverage while
# another candidate stays within it.
_OVERSHOOT = 0.05
# Weight of the validation rows' true labels in a rule's gain over the student; the
# rest is agreement with the teacher on the training and synthetic rows (ten times as
# many). Measured (5 folds, four data sets; docs/hybrid.md): 0.25 beat 0.5 on average.
_VALIDATION_SHARE = 0.25
# With focus_student: weight of the rows the chosen rules answer in the focused
# student's training (the rows left to it weigh 1). Measured (5 folds; docs/hybrid.md).
_FOCUS_WEIGHT = 0.1
# Fitted attributes that only a focused fit sets (dropped before every fit and refocus).
_FOCUS_ATTRS = ("base_student_", "focus_rules_")
# The default student's step inputs (the teacher's cuts of largest gain), given only when the
# student's training part has at least _STEPS_MIN_ROWS rows. Measured (docs/hybrid.md): adult (about
# 26,000 rows in the part) gained (+79 test rows at transparency 0.5, fold seed 1); the four data sets
# of at most 4,200 rows gained nothing beyond noise in the hybrid (the student alone lost on three of them).
_STUDENT_STEPS = 24
_STEPS_MIN_ROWS = 10_000
# Random Domain inputs searched for a violation of a guard Z3 could not prove.
_SEARCH_ROWS = 20_000
# Student evaluations per row (Guarding.evaluations_per_row) above which fit says what the guards cost.
_GUARD_COST_WARNING = 1_000


class HybridClassifier(DistilledClassifierMixin):
    """Rules a reviewer can read for most inputs, a compact network for the rest.

    Parameters
    ----------
    teacher : estimator, Teacher, FrozenEstimator or None, default=None
        The model distilled (default: XGBoost, see :func:`rulekd.teachers.default_teacher`);
        fitted once and shared by both students.
    rules : rule student, RuleSet or None, default=None
        Where candidate rules come from besides the built-in trees: an unfitted
        rule student (default ``DistilledRuleClassifier(max_rules=16, polish=False)``
        with the hybrid's ``n_synthetic``; a rule student given with
        ``n_synthetic="auto"`` also gets the hybrid's size), or a :class:`RuleSet`
        of candidates to choose from.
    student : estimator or None, default=None
        The neural student (default ``DistilledMLPClassifier``, given the
        teacher's 24 cuts of largest gain as inputs, ``threshold_inputs=24``,
        when it learns from at least 10,000 rows; docs/hybrid.md); its teacher
        is replaced by the hybrid's.
    transparency : float in (0, 1] or None, default=0.5
        Target share of inputs answered by rules (rows an ``Implies`` guard
        answers do not count, as in ``transparency_`` and :meth:`decided_by`);
        ``None`` chooses it on validation accuracy.
    min_rule_precision : float in [0, 1] or None, default=None
        Lowest held-out precision (smoothed toward the rule's agreement with the
        teacher) of a rule allowed to answer.
    guards : sequence of Implies, Monotone, Invariant or str, default=()
        Properties that hold for every input of the Domain, whichever part answers.
    max_rules : int, default=32
        Most rules in the ordered list.
    n_synthetic : "auto" or int, default="auto"
        Synthetic rows near the training rows, labelled by the teacher, used to
        label and judge candidate rules.
    strategy : str, default="perturb"
        How those rows are drawn (see :func:`rulekd.transfer.sample_synthetic`).
    validation_fraction : float, default=0.15
        Share of the real rows held out to choose the rules (the teacher and
        the students learn from the rest). Measured against 0.25 on folds
        other than the benchmark's (``docs/hybrid.md``): more rows for the
        models helped German credit and heart more than fewer validation rows
        cost, COMPAS was mixed, breast cancer lost up to 7 test rows of 569.
    refit : bool, default=False
        Once the rules are chosen, fit the teacher (unless frozen) and the
        student again on all the rows, training and validation, as a
        cross-validated search refits its winner: the students then learn from
        every row. The choice of rules and ``validation_scores_`` stay those
        of the models that made the choice. Measured on four bundled data sets
        (``docs/hybrid.md``), it changed accuracy by less than fold-to-fold
        noise, so it is off by default.
    focus_student : bool, default=True
        Once the rules are chosen, train the student again with the rows they
        answer weighted down (to a tenth), so that its capacity goes to the
        rows it answers (a :class:`DistilledMLPClassifier` student only). The student
        trained on every row is kept as ``base_student_`` and answers the
        rows inside those rules that a shorter list (:meth:`retarget` to a
        lower transparency, :meth:`transparency_curve`) leaves to the student.
        Costs a second student fit (and one per :meth:`retarget` that changes
        the rules). Measured in ``docs/hybrid.md``.
    domain : Domain or None, default=None
        As in :class:`~rulekd.DistilledTreeClassifier`: the declared inputs, or
        inferred from ``X``; handed to the inner students.
    random_state : int, RandomState or None
    verbose : int, default=0

    Attributes
    ----------
    rules_ : RuleSet
        The ordered rules that answer (``default`` is a placeholder: rows no rule
        covers go to the student, as ``metadata["default"] == "student"`` says).
    rule_path_ : RuleSet
        The full greedy order the chosen prefix was cut from (read by
        :meth:`transparency_curve`).
    student_ : DistilledMLPClassifier
        The network that answers the rows no rule answers (focused on them
        with ``focus_student``).
    base_student_ : DistilledMLPClassifier
        With ``focus_student``: the student trained on every row (see there).
    focus_rules_ : RuleSet
        With ``focus_student``: the rules whose rows ``student_`` was trained
        to neglect (``rules_`` at fit); ``base_student_`` answers inside them.
    teacher_ : Teacher
    domain_ : Domain
    guards_ : tuple of Property
    guard_grids_ : dict
        Monotone feature -> the grid of values its construction uses.
    guard_combos_ : list of (dict, float)
        Invariant value assignments the student is averaged over, with weights.
    transparency_ : float
        Share of validation rows answered by rules.
    rule_precision_ : dict
        Rule id -> precision on the validation rows it answers, weighted by their
        ``sample_weight`` (nan if none).
    guard_conflicts_ : list of dict
        Candidate rules set aside for contradicting a guard: ``rule``, ``guard``, ``reason``.
    guard_report_ : VerificationReport
        The guards proved on the whole composition at fit (with guards only; not kept by
        :func:`rulekd.save`, prove them again with :func:`verify_hybrid`).
    validation_scores_ : dict
        Validation accuracy of the hybrid, the student alone and the rules on their rows.

    Examples
    --------
    >>> from rulekd.datasets import load_breast_cancer
    >>> from xgboost import XGBClassifier
    >>> d = load_breast_cancer()
    >>> hyb = HybridClassifier(teacher=XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1),
    ...                        student=DistilledMLPClassifier(hidden_layer_sizes=(8,), max_epochs=5),
    ...                        rules=DistilledRuleClassifier(max_rules=4, n_synthetic=0),
    ...                        n_synthetic=0, transparency=0.5, random_state=0).fit(d.data, d.target)
    >>> 0.3 <= hyb.transparency_ <= 1.0
    True
    >>> set(hyb.decided_by(d.data[:5])) <= set(hyb.rules_.rule_id(i) for i in range(len(hyb.rules_))) | {"student"}
    True
    """

    _parameter_constraints: dict = {
        **DistilledClassifierMixin._common_constraints,
        "rules": "no_validation",
        "student": "no_validation",
        "transparency": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "min_rule_precision": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "guards": "no_validation",
        "max_rules": [Interval(numbers.Integral, 1, None, closed="left")],
        "refit": ["boolean"],
        "focus_student": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        teacher: Any = None,
        rules: Any = None,
        student: Any = None,
        transparency: float | None = 0.5,
        min_rule_precision: float | None = None,
        guards: Sequence[Any] = (),
        max_rules: int = 32,
        n_synthetic: int | str = "auto",
        strategy: str = "perturb",
        validation_fraction: float = 0.15,
        refit: bool = False,
        focus_student: bool = True,
        domain: Any = None,
        random_state: Any = None,
        verbose: int = 0,
    ):
        self.teacher = teacher
        self.rules = rules
        self.student = student
        self.transparency = transparency
        self.min_rule_precision = min_rule_precision
        self.guards = guards
        self.max_rules = max_rules
        self.n_synthetic = n_synthetic
        self.strategy = strategy
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.focus_student = focus_student
        self.domain = domain
        self.random_state = random_state
        self.verbose = verbose

    # -- fit -------------------------------------------------------------------------
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "HybridClassifier":
        """Fit the teacher, both students, and choose the rules; see the module docstring.

        A fit that fails leaves the model unfitted (not half refitted: a model answering with the old
        rules under new guards it does not honour).
        """
        try:
            with _inner_fits():
                self._fit(X, y, sample_weight)
        except BaseException:
            self._clear_fitted()
            raise
        extra = [c for c in self.teacher_.classes_.tolist() if c not in set(self.classes_.tolist())]
        if extra:  # said once here, not by each inner student
            warnings.warn(
                f"The teacher also knows the classes {extra[:10]}, which y does not hold; the students learn the "
                f"teacher's answers among the classes of y (its probabilities renormalised over them).",
                UserWarning, stacklevel=2)
        return self

    def _clear_fitted(self) -> None:
        """Drop every fitted attribute (the model is unfitted again)."""
        clear_fitted(self)
        self.__dict__.pop("_guarding", None)

    def _fit(self, X: Any, y: Any, sample_weight: Any = None) -> "HybridClassifier":
        self._validate_params()
        _check_transparency(self.transparency)
        if self.student is not None and "teacher" not in (self.student.get_params()
                                                          if hasattr(self.student, "get_params") else {}):
            raise ValueError(
                f"student must be a student distilled from the hybrid's teacher, such as "
                f"DistilledMLPClassifier(...) (an estimator with a 'teacher' parameter); got "
                f"{type(self.student).__name__}. To answer with another model, distil it as the teacher.")
        for stale in _FOCUS_ATTRS:
            self.__dict__.pop(stale, None)
        frame, y_idx, sw, seed = self._start_fit(X, y, sample_weight)
        k = len(self.classes_)
        self.guards_ = self._validated_guards()
        # The teacher learns from the training part only: were the validation rows
        # in its data, the students (which copy it) would look better on them
        # than on new rows, and the choice of rules would be biased.
        tr, va = self._split(y_idx, seed, sw)
        teacher_input = frame.iloc[tr] if self._frame_input_ else frame.iloc[tr].to_numpy(dtype=np.float64,
                                                                                          na_value=np.nan)
        self.teacher_ = fit_teacher(self.teacher, teacher_input, self.classes_[y_idx[tr]], random_state=seed,
                                    sample_weight=None if sw is None else sw[tr])
        self._check_teacher_classes()

        Xtr = frame.iloc[tr].reset_index(drop=True)
        Xva = frame.iloc[va].reset_index(drop=True)
        sw_tr = None if sw is None else sw[tr]
        fit_X = Xtr if self._frame_input_ else Xtr.to_numpy(dtype=np.float64, na_value=np.nan)
        labels_tr = self.classes_[y_idx[tr]]

        # Teacher-labelled rows near the training rows: label and judge candidates.
        n_syn = _n_synthetic(self.n_synthetic, len(Xtr))
        ts = self._transfer_set(Xtr, sw_tr, n_syn, seed)
        order = [list(self.teacher_.classes_).index(c) for c in self.classes_]
        t_lab = np.argmax(ts.logits[:, order], axis=1)

        g = Guarding.fit(self.guards_, self.domain_, self.classes_, Xtr)
        if g.evaluations_per_row > _GUARD_COST_WARNING:
            warnings.warn(
                f"The guards cost up to {g.evaluations_per_row:,} student evaluations for each row the student "
                f"answers (each Monotone guard's grid multiplies the cost of the guards after it, and Invariant "
                f"guards average over their values): fit and predict will be about that much slower on those "
                f"rows. Fewer Monotone guards, or Invariant guards over fewer values, cost less (docs/hybrid.md, "
                f"Guards).", UserWarning, stacklevel=3)
        self.guard_grids_ = {name: np.asarray(v, dtype=np.float64) for name, v in g.grids.items()}
        self.guard_combos_ = [(dict(values), float(w)) for values, w in g.combos]
        self._guarding = g
        candidates = self._candidates(fit_X, labels_tr, sw_tr, seed)
        candidates = self._relabel(candidates, ts.X, t_lab, k)
        candidates, self.guard_conflicts_ = self._screen(candidates)
        if self.guard_conflicts_:
            first = self.guard_conflicts_[0]
            warnings.warn(
                f"{len(self.guard_conflicts_)} candidate rule(s) contradict a guard and were set aside; the "
                f"first: '{first['rule']}' against '{first['guard']}' ({first['reason']}). See guard_conflicts_.",
                GuardConflictWarning,
                stacklevel=2,
            )

        self.student_ = self._fit_student(fit_X, labels_tr, sw_tr, seed)

        stu_va, _ = self._student_answer(Xva)
        stu_ts, _ = self._student_answer(ts.X)
        y_va = y_idx[va]
        w_va = np.ones(len(va)) if sw is None else np.asarray(sw, dtype=float)[va]
        t_proba = ts.proba[:, order]  # a teacher that knows classes y lacks: over y's classes
        t_proba = t_proba / np.maximum(t_proba.sum(axis=1, keepdims=True), 1e-300)
        self._prepare_choice(candidates, frame, Xva, y_va, w_va, stu_va, ts.X, t_lab, stu_ts, t_proba)
        self._select()
        if self.refit and len(va) < len(frame):
            # The rules stay; the models behind the student learn from every row.
            fit_X = frame if self._frame_input_ else frame.to_numpy(dtype=np.float64, na_value=np.nan)
            labels_tr, sw_tr = self.classes_[y_idx], sw
            self.teacher_ = fit_teacher(self.teacher, fit_X, labels_tr, random_state=seed, sample_weight=sw)
            self._check_teacher_classes()
            self.student_ = self._fit_student(fit_X, labels_tr, sw_tr, seed)
        self._choice_["focus_data"] = (fit_X, labels_tr, sw_tr, seed)
        if self.focus_student:
            self._focus(fit_X, labels_tr, sw_tr, seed)
        self._check_guards_hold()
        return self

    def _fit_student(self, X: Any, labels: np.ndarray, sw: Any, seed: int, **fit_kw: Any) -> Any:
        """The neural student, distilled from ``teacher_`` on ``(X, labels)``."""
        student = DistilledMLPClassifier(threshold_inputs=_student_steps(len(X))) if self.student is None \
            else clone(self.student)
        student.set_params(teacher=self.teacher_)
        self._declare_domain(student)
        if "random_state" in student.get_params() and student.get_params()["random_state"] is None:
            student.set_params(random_state=seed)
        kw = {} if sw is None else {"sample_weight": sw}
        if self.student is not None:
            return student.fit(X, labels, **kw, **fit_kw)
        # The default student takes steps on large data unasked: a teacher without cuts just gives it none.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"threshold_inputs=\d+ asks for the teacher's cut points")
            return student.fit(X, labels, **kw, **fit_kw)

    def _declare_domain(self, student: Any) -> None:
        """Give an inner student the hybrid's declared ``domain`` (unless it declares its own).

        It then accepts and learns what the hybrid's Domain allows (missing values above all), in
        its own feature names: an array reaches it as x0, x1, ... With ``domain=None`` the inner
        students infer theirs from the training part, as before.
        """
        if self.domain is None or "domain" not in student.get_params() or student.get_params()["domain"] is not None:
            return
        d = self.domain_
        if not self._frame_input_:
            d = _renamed_domain(d, _array_names(len(d)))
        student.set_params(domain=d)

    def _focus(self, X: Any, labels: np.ndarray, sw: Any, seed: int) -> None:
        """Train a second student on the rows the chosen rules leave to it (see ``focus_student``).

        The transfer rows a rule or an ``Implies`` guard answers get their weight
        multiplied by ``_FOCUS_WEIGHT``.
        The student trained on every row stays as ``base_student_`` and answers
        the rows inside the region of these rules (``focus_rules_``) that a
        shorter rule list (:meth:`retarget`, :meth:`transparency_curve`) leaves
        to the student.
        """
        base = getattr(self, "base_student_", self.student_)
        for stale in _FOCUS_ATTRS:
            self.__dict__.pop(stale, None)
        self.student_ = base
        if not isinstance(base, DistilledMLPClassifier) or not len(self.rules_):
            return
        focus = self.rules_

        names = list(self.domain_.names)

        def leave_to_student(F: pd.DataFrame) -> np.ndarray:
            # The student names an array's features x0, x1, ...: read its rows in the hybrid's names.
            F = F.set_axis(names, axis=1) if list(F.columns) != names else F
            return np.where((focus.decide(F) < 0) & ~self._guard_mask(F), 1.0, _FOCUS_WEIGHT)

        self.student_ = self._fit_student(X, labels, sw, seed, transfer_weight=leave_to_student)
        self.base_student_ = base
        self.focus_rules_ = focus

    def _split(self, y_idx: np.ndarray, seed: int, sw: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The training and validation rows (stratified by class, and by weight 0 or not); all rows for
        both where the data are too few to split (tiny data, or a part left without weight)."""
        idx = np.arange(len(y_idx))
        counts = np.bincount(y_idx)
        n_tr, n_va = _part_sizes(len(idx), self.validation_fraction)
        if len(idx) < 10 or n_va < len(counts) or n_tr < len(counts):
            return idx, idx
        strata = y_idx if sw is None else y_idx * 2 + (np.asarray(sw) > 0)
        strat = strata if np.bincount(strata)[np.unique(strata)].min() >= 2 else (
            y_idx if counts.min() >= 2 else None)
        tr, va = train_test_split(idx, test_size=n_va, random_state=seed, stratify=strat)
        tr, va = np.sort(tr), np.sort(va)
        if len(np.unique(y_idx[tr])) < len(counts):
            return idx, idx
        if sw is not None:
            w = np.asarray(sw, dtype=float)
            # A validation part of weight 0 judges nothing; a training part weighted in one class only
            # teaches a constant model: too few weighted rows to split.
            if w[va].sum() <= 0 or (np.bincount(y_idx[tr], weights=w[tr], minlength=len(counts)) > 0).sum() < 2:
                return idx, idx
        return tr, va

    def _validated_guards(self) -> tuple:
        guards = self.guards
        if isinstance(guards, (str, Implies, Monotone, Invariant)):
            guards = (guards,)
        try:
            props = [parse_property(g) for g in guards]
        except TypeError:
            raise ValueError(
                f"guards must be a sequence of Implies / Monotone / Invariant objects or property strings, "
                f"got {guards!r}."
            ) from None
        classes = self.classes_.tolist()  # Python scalars: guard texts show 1, not np.int64(1)
        return tuple(p.validate(self.domain_, classes) for p in props)

    # -- candidates --------------------------------------------------------------------
    def _candidates(self, fit_X: Any, labels: np.ndarray, sw: Any, seed: int) -> list[tuple]:
        """``(conditions, source)`` of every candidate rule (duplicates removed)."""
        kw = {} if sw is None else {"sample_weight": sw}
        # The hybrid's own transfer-set size for its built-in candidate students, resolved here:
        # the rule student's "auto" would take its own, larger floor (docs/hybrid.md, step 2).
        n_syn = _n_synthetic(self.n_synthetic, len(fit_X))
        out: list[tuple] = []
        if isinstance(self.rules, RuleSet):
            out += [(r.conditions, "given") for r in self.rules.rules]
        else:
            # polish=False: the choice below re-cuts the candidates anyway, and polishing would
            # multiply this student's fit time by about four (measured for the rule student alone).
            base = (DistilledRuleClassifier(max_rules=16, polish=False, n_synthetic=n_syn, strategy=self.strategy)
                    if self.rules is None else clone(self.rules))
            base.set_params(teacher=self.teacher_, random_state=seed)
            if base.get_params().get("n_synthetic") == "auto":  # as the built-in one (the CLI's --max-rules)
                base.set_params(n_synthetic=n_syn)
            self._declare_domain(base)
            base.fit(fit_X, labels, **kw)
            out += [(conds, "rule student") for conds in self._renamed(base)]
        for size in _TREE_SIZES:
            tree = DistilledTreeClassifier(teacher=self.teacher_, max_leaf_nodes=size, n_synthetic=n_syn,
                                           strategy=self.strategy, random_state=seed)
            self._declare_domain(tree)
            tree.fit(fit_X, labels, **kw)
            out += [(conds, f"tree {size}") for conds in self._renamed(tree)]
        out += self._teacher_tree_rules()
        seen, uniq = set(), []
        for conds, src in out:
            key = tuple(sorted(conds, key=lambda c: c.sort_key()))
            if key in seen or not conds:
                continue
            seen.add(key)
            uniq.append((key, src))
        return uniq

    def _renamed(self, model: Any) -> list[tuple]:
        """The conditions of each of ``model``'s rules, in the hybrid's feature names.

        A frame whose column names are not all strings (``pd.DataFrame(array)``) reaches
        the candidate students as an array, so they name its features x0, x1, ...; the
        hybrid names them after the columns ("0", "1", ...), in the same order.
        """
        rename = dict(zip(model.domain_.names, self.domain_.names))
        return [tuple(dataclasses.replace(c, feature=rename.get(c.feature, c.feature)) for c in r.conditions)
                for r in model.rules_.rules]

    def _teacher_tree_rules(self) -> list[tuple]:
        """Leaves of the teacher's first trees, when it is XGBoost (else none).

        The booster's split indices are the columns of the hybrid's frame, in order, so
        its leaves read in the hybrid's feature names whatever the booster calls them
        (``f0, f1, ...`` for a numpy array).
        """
        from ..rules import from_xgboost_tree
        from ..teachers import XGBoostTeacher

        if not isinstance(self.teacher_, XGBoostTeacher):
            return []
        cats = {s.name: list(s.levels) for s in self.domain_.features if s.kind == "categorical"}
        out = []
        try:
            for t in range(_TEACHER_TREES):
                rs = from_xgboost_tree(self.teacher_._booster, t, list(self.domain_.names), categories=cats)
                out += [(r.conditions, "teacher tree") for r in rs.rules]
        except (IndexError, ValueError, KeyError):
            pass  # fewer trees, or a booster that cannot be read as rules: no candidates from it
        return out

    def _relabel(self, candidates: list, Xt: pd.DataFrame, t_lab: np.ndarray, k: int) -> list[Rule]:
        """Each candidate answers the teacher's most frequent class on the rows it covers."""
        rules = []
        probe = RuleSet(tuple(Rule(c, self.classes_[0]) for c, _ in candidates), classes=tuple(self.classes_.tolist()),
                        default=self.classes_[0], ordered=True) if candidates else None
        if probe is None:
            return []
        M = probe.match(Xt)
        cols: dict[Condition, np.ndarray] = {}

        def mask(c: Condition) -> np.ndarray:
            if c not in cols:
                cols[c] = np.asarray(c.evaluate(Xt[c.feature]), dtype=bool)
            return cols[c]

        for j, (conds, src) in enumerate(candidates):
            sel = M[:, j]
            if not sel.any():
                continue
            counts = np.bincount(t_lab[sel], minlength=k).astype(float)
            c = int(np.argmax(counts))
            conds = self._shorten([_TreeFitting._tidy_condition(self, cd) for cd in conds], t_lab == c, mask)
            sel = np.logical_and.reduce([mask(cd) for cd in conds]) if conds else np.ones(len(Xt), dtype=bool)
            counts = np.bincount(t_lab[sel], minlength=k).astype(float)
            label = self.classes_.tolist()[c]
            rules.append(Rule(tuple(conds), label, proba=tuple(float(v) for v in counts / counts.sum()),
                              support=int(sel.sum()), confidence=float(counts[c] / counts.sum()), id=f"{src} #{j}"))
        return rules

    @staticmethod
    def _shorten(conds: list, agree: np.ndarray, mask: Any, slack: float = 0.005) -> list:
        """Drop conditions while agreement with the teacher on the covered rows stays (within ``slack``)."""
        def fid(cs: list) -> tuple[float, int]:
            sel = np.logical_and.reduce([mask(c) for c in cs]) if cs else np.ones(len(agree), dtype=bool)
            n = int(sel.sum())
            return (float(agree[sel].mean()) if n else 0.0), n

        f0, _ = fid(conds)
        while len(conds) > 1:
            best = None
            for i in range(len(conds)):
                f, n = fid(conds[:i] + conds[i + 1:])
                if f >= f0 - slack and (best is None or (f, n) > best[0]):
                    best = ((f, n), i)
            if best is None:
                break
            conds = conds[:best[1]] + conds[best[1] + 1:]
        return conds

    def _screen(self, rules: list[Rule]) -> tuple[list[Rule], list[dict]]:
        """Set aside candidates that contradict a guard."""
        from ._verify import ImpliesScreen

        keep, conflicts = [], []
        screen = ImpliesScreen(self.domain_) if self.guarding_.implies else None
        steps = self.guarding_.monotone_steps()
        for r in rules:
            reason, guard = None, None
            feats = r.features
            for g in self.guards_:
                if isinstance(g, Invariant) and feats & set(g.names):
                    reason, guard = f"it tests {sorted(feats & set(g.names))}, which the guard says must not matter", g
                    break
            if reason is None:
                code = list(self.classes_).index(r.prediction)
                for (name, inc, c, _), g in zip(steps, self.guarding_.monotone):
                    bad_ops = _monotone_bad_ops(inc, code == c)
                    if any(cd.feature == name and cd.op in bad_ops for cd in r.conditions):
                        reason, guard = f"it bounds {name!r} from the side the guard forbids for its class", g
                        break
                    if any(cd.feature == name and cd.is_categorical for cd in r.conditions):
                        reason, guard = f"it tests {name!r} with a set of values, which a monotone answer forbids", g
                        break
            if reason is None:
                for _, g in self.guarding_.implies:
                    if r.prediction != g.then:
                        row = screen.overlap(r, g)
                        if row is not None:
                            reason, guard = f"it answers {r.prediction!r} on an input the guard sends to {g.then!r}: {row}", g
                            break
            if reason is None:
                keep.append(r)
            else:
                conflicts.append({"rule": str(r), "guard": guard.text(), "reason": reason})
        return keep, conflicts

    # -- choice ----------------------------------------------------------------------------
    def _prepare_choice(self, rules: list[Rule], frame: pd.DataFrame, Xva: pd.DataFrame, y_va: np.ndarray,
                w_va: np.ndarray, stu_va: np.ndarray, Xt: pd.DataFrame, t_lab: np.ndarray, stu_t: np.ndarray,
                t_proba: np.ndarray) -> None:
        """Everything the choice of rules reads, kept (not pickled) so that :meth:`retarget` is cheap."""
        ci = {c: i for i, c in enumerate(self.classes_.tolist())}
        Mva = Mt = Mall = right_va = right_t = np.zeros((0, 0), dtype=bool)
        guard_va = self._guard_mask(Xva)
        guard_t = self._guard_mask(Xt)
        guard_all = self._guard_mask(frame)
        if rules:
            labels = self.classes_.tolist()
            probe = RuleSet(tuple(rules), classes=tuple(labels), default=labels[0], ordered=True)
            Mva = probe.match(Xva) & ~guard_va[:, None]
            Mt = probe.match(Xt) & ~guard_t[:, None]
            Mall = probe.match(frame) & ~guard_all[:, None]
            codes = np.array([ci[r.prediction] for r in rules])
            right_va = codes[None, :] == y_va[:, None]
            right_t = codes[None, :] == t_lab[:, None]
        n_t, n_all = len(Xt), len(frame)
        n_va = float(w_va.sum())
        stu_right_va = stu_va == y_va
        stu_right_t = stu_t == t_lab
        # Held-out precision smoothed toward agreement with the teacher.
        prec = []
        for j, r in enumerate(rules):
            n_j = w_va[Mva[:, j]].sum()
            prec.append(((w_va * right_va[:, j])[Mva[:, j]].sum() + _PRIOR_ROWS * r.confidence) / (n_j + _PRIOR_ROWS))
        self._choice_ = dict(rules=rules, Mva=Mva, Mt=Mt, Mall=Mall, right_va=right_va, right_t=right_t,
                             guard_va=guard_va, guard_t=guard_t, guard_all=guard_all, w_va=w_va, y_va=y_va,
                             Xva=Xva, stu_va=stu_va, stu_right_va=stu_right_va, stu_right_t=stu_right_t,
                             prec=np.asarray(prec), t_proba=t_proba,
                             n_t=n_t, n_all=n_all, n_va=n_va)

    def retarget(self, transparency: float | None) -> "HybridClassifier":
        """Choose the rules again for another ``transparency``, without refitting anything.

        The candidates, the validation rows of the last ``fit`` and the
        answers there of the student that made the first choice are reused
        (with ``refit``, not the refitted student's); sets ``transparency`` and
        every fitted rule attribute. With ``focus_student``, a change of rules
        trains the focused student again for the new ones (one student fit),
        so the result is the model a fresh ``fit`` at that transparency gives.
        Available on the object that was fitted (not after pickling or loading).
        A retarget that raises (a guard conflict at the new rules) leaves the
        model as it was.
        """
        check_is_fitted(self)
        if getattr(self, "_choice_", None) is None:
            raise ValueError("retarget needs the state of the last fit, which pickling or loading drops; refit instead.")
        _check_transparency(transparency)
        # A retarget that fails (a guard conflict at the new rules, an interrupted student fit) leaves
        # the model as it was: the fitted model a caller holds is not lost to a try at another level.
        before_state = dict(self.__dict__)
        try:
            self.transparency = transparency
            self._select()
            if self.focus_student:
                before = getattr(self, "focus_rules_", None)
                if before is None or before.to_json() != self.rules_.to_json():
                    with _inner_fits():
                        self._focus(*self._choice_["focus_data"])
            elif hasattr(self, "base_student_"):  # focus_student turned off since the fit: as a fresh fit, unfocused
                self.student_ = self.base_student_
                for stale in _FOCUS_ATTRS:
                    self.__dict__.pop(stale, None)
            self._check_guards_hold()
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before_state)
            raise
        return self

    def _select(self) -> None:
        d = self._choice_
        rules, Mva, Mt, Mall = d["rules"], d["Mva"], d["Mt"], d["Mall"]
        right_va, right_t, w_va, y_va = d["right_va"], d["right_t"], d["w_va"], d["y_va"]
        guard_va, guard_t, guard_all = d["guard_va"], d["guard_t"], d["guard_all"]
        stu_right_va, stu_right_t, prec = d["stu_right_va"], d["stu_right_t"], d["prec"]
        n_t, n_all, n_va, Xva = d["n_t"], d["n_all"], d["n_va"], d["Xva"]
        ok = [j for j in range(len(rules))
              if self.min_rule_precision is None or prec[j] >= self.min_rule_precision]

        def gain(j: int, nv: np.ndarray, nt: np.ndarray) -> float:
            """Accuracy gained over the student by letting rule j answer the rows newly covered
            (validation rows nv, true labels; training and synthetic rows nt, the teacher's
            labels), as a share of the validation rows, mixed by _VALIDATION_SHARE."""
            on_va = (w_va[nv] * (right_va[nv, j].astype(float) - stu_right_va[nv])).sum() / n_va
            on_t = (right_t[nt, j].astype(float) - stu_right_t[nt]).sum() / max(n_t, 1)
            return _VALIDATION_SHARE * on_va + (1.0 - _VALIDATION_SHARE) * on_t

        paths = []
        for price in _PRICES:
            cov_va = guard_va.copy()
            cov_t = guard_t.copy()
            # Transparency counts the rows rules answer, as transparency_ and decided_by do: the
            # rows an Implies guard answers are neither covered nor coverable (Mall leaves them out).
            cov_all = np.zeros_like(guard_all)
            order: list[int] = []
            total = 0.0  # gain over the student so far (see gain())
            steps = [(0.0, 0.0)]  # (share of the real rows answered by rules, gain) per prefix
            left = list(ok)
            while left and len(order) < max(self.max_rules, 1):
                best, best_val = None, (-np.inf, -np.inf)
                cap = None if self.transparency is None else self.transparency + _OVERSHOOT
                for j in left:
                    nv = Mva[:, j] & ~cov_va
                    nt = Mt[:, j] & ~cov_t
                    na = Mall[:, j] & ~cov_all
                    if not na.any() and not nv.any():
                        continue
                    val = gain(j, nv, nt) + price * na.sum() / n_all
                    # Below the target, prefer rules that do not overshoot it by much.
                    fits = cap is None or cov_all.mean() >= self.transparency or (
                        cov_all.sum() + na.sum()) / n_all <= cap
                    val = (float(fits), val)
                    if val > best_val:
                        best, best_val = j, val
                if best is None:
                    break
                total += gain(best, Mva[:, best] & ~cov_va, Mt[:, best] & ~cov_t)
                cov_va |= Mva[:, best]
                cov_t |= Mt[:, best]
                cov_all |= Mall[:, best]
                order.append(best)
                left.remove(best)
                steps.append((float(cov_all.mean()), total))
            paths.append((order, steps))
        chosen, cut = self._pick(paths)
        base_acc = float(np.average(stu_right_va, weights=w_va))
        path = [rules[j] for j in chosen]
        probas = self._answer_proba(chosen, Mt, d["t_proba"])
        path = [Rule(r.conditions, r.prediction, p, r.support, r.confidence, f"R{i + 1}", r.score)
                for i, (r, p) in enumerate(zip(path, probas))]
        default = self.classes_.tolist()[0]
        meta = {"source": "rulekd.HybridClassifier", "default": "student"}
        names = tuple(self.domain_.names)
        self.rule_path_ = RuleSet(tuple(path), classes=tuple(self.classes_.tolist()), default=default, ordered=True,
                                  feature_names=names, metadata=meta)
        self.rules_ = self.rule_path_.replace(rules=tuple(path[:cut]))
        pred_va, by_va = self._answer(Xva, student_codes=d["stu_va"])
        rule_rows = np.asarray([b not in ("student",) and not str(b).startswith("guard:") for b in by_va])
        self.transparency_ = float(rule_rows.mean()) if len(by_va) else 0.0
        self.rule_precision_ = {}
        for i in range(len(self.rules_)):
            rid = self.rules_.rule_id(i)
            sel = by_va == rid
            self.rule_precision_[rid] = _weighted_share(pred_va[sel] == y_va[sel], w_va[sel])
        self.validation_scores_ = {
            "hybrid_accuracy": float(np.average(pred_va == y_va, weights=w_va)),
            "student_accuracy": base_acc,
            "rule_accuracy": _weighted_share(pred_va[rule_rows] == y_va[rule_rows], w_va[rule_rows]),
            "n_validation": int(len(y_va)),
        }

    def _answer_proba(self, chosen: list[int], Mt: np.ndarray, t_proba: np.ndarray) -> list[tuple[float, ...]]:
        """Each chosen rule's ``proba``: the teacher's mean over the training and synthetic rows it
        answers in its place in the list (the rows no earlier rule and no guard answers), mixed toward
        the rule's class where that mean puts another first (:func:`rank_first`); a rule that answers
        none of those rows keeps its candidate's label shares."""
        rules = self._choice_["rules"]
        ci = {c: i for i, c in enumerate(self.classes_.tolist())}
        answer = np.full(Mt.shape[0], -1)  # position in the list of the rule that answers each row
        for k, j in enumerate(chosen):
            answer[Mt[:, j] & (answer < 0)] = k
        return [answered_proba(answer, k, t_proba, None, rules[j].proba, ci[rules[j].prediction])
                for k, j in enumerate(chosen)]

    def _pick(self, paths: list) -> tuple[list[int], int]:
        """The path and prefix length for the transparency target (or best accuracy)."""
        best = None
        for order, steps in paths:
            # Prefixes are compared by their gain, judged like the rules were chosen (validation
            # accuracy mixed with agreement with the teacher: steadier than the few validation
            # rows alone).
            if self.transparency is None:  # best gain; ties: the longer prefix (more transparency)
                cut = max(range(len(steps)), key=lambda i: (round(steps[i][1], 12), i))
            else:  # the shortest prefix that reaches the target
                reach = [i for i, (cov, _) in enumerate(steps) if cov >= self.transparency - 1e-12]
                cut = reach[0] if reach else len(steps) - 1
            # Ties between orders: with a target, the fewer rules; without, the more transparency.
            tie = steps[cut][0] if self.transparency is None else -cut
            key = (steps[cut][0] >= (self.transparency or 0) - 1e-12, round(steps[cut][1], 12), tie)
            if best is None or key > best[0]:
                best = (key, order, cut)
        return best[1], best[2]

    def _check_guards_hold(self) -> None:
        """Prove the guards on the composition; a violation is a conflict between guards.

        On a conflict the model is left unfitted: a caller that catches the error must not keep a
        model that answers against a guard it was asked to enforce.
        """
        self.__dict__.pop("guard_report_", None)  # a refit without guards keeps no old report
        if not self.guards_:
            return
        try:
            self._prove_guards()
        except GuardConflictError:
            self._clear_fitted()
            raise

    def _prove_guards(self) -> None:
        """``guard_report_``, or GuardConflictError with a counterexample (Z3's, or one found by sampling)."""
        from ._verify import verify_hybrid

        report = verify_hybrid(self, properties=self.guards_, checks="none", timeout_ms=5000, time_budget_s=60)
        for f, g in zip(report.findings, self.guards_):
            cex = f.counterexample if f.status == "violated" else None
            searched = True
            if f.status == "unknown":
                try:
                    cex = self._search_violation(g)
                except DomainError:  # a Domain that Domain.sample cannot draw from (an equality constraint)
                    searched = False
            if cex is not None:
                raise GuardConflictError(
                    f"The guards cannot all hold together with the hybrid's construction (rules first, then "
                    f"the guarded student; docs/hybrid.md, Guards): '{g.text()}' fails. Counterexample: {cex}. "
                    f"Drop or change one of the guards."
                )
            if f.status == "unknown":
                warnings.warn(
                    f"The guard '{g.text()}' could not be proved for every input ({f.message}); "
                    + (f"it held on {_SEARCH_ROWS} random inputs of the Domain." if searched else
                       "the Domain's constraints leave random inputs no room, so none was searched."),
                    GuardConflictWarning,
                    stacklevel=3,
                )
        self.guard_report_ = report

    def _search_violation(self, guard: Any, domain: Domain | None = None) -> dict | None:
        """A concrete violation of ``guard`` by this hybrid among random inputs of ``domain`` (the
        hybrid's own by default; another must list its features in its column order and allow nothing
        its predict refuses: ``verify_hybrid`` checks both), or ``None``. Raises ``DomainError`` where
        the Domain cannot be sampled (its constraints leave random inputs almost no room)."""
        domain = self.domain_ if domain is None else domain
        S = domain.sample(_SEARCH_ROWS, random_state=self._seed_)
        if any(f.allow_missing for f in domain.features):
            # as many rows again with missing values where the Domain allows them (the rows above have none)
            S = pd.concat([S, domain.sample(_SEARCH_ROWS, random_state=self._seed_ + 2, missing_rate=0.25)],
                          ignore_index=True)
        X1, X2 = guard.sample_pairs(S, domain, random_state=self._seed_ + 1)

        def predict(F: pd.DataFrame) -> np.ndarray:
            return self.classes_[self._answer(self._canonical(F, reset=False))[0]]

        ok = guard.holds(predict, X1) if X2 is None else guard.holds(predict, X1, X2)
        # A pair whose varied input leaves the Domain (a linear constraint, a one-hot group) is no
        # counterexample: only pairs inside it count.
        inside = domain.contains(X1) & (True if X2 is None else domain.contains(X2))
        ok = ok | ~inside
        if ok.all():
            return None
        i = int(np.flatnonzero(~ok)[0])

        def plain(frame: pd.DataFrame) -> dict:  # Python values (np.float64(50.0) read badly in a report)
            return {k: (None if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v))
                    for k, v in frame.iloc[i].items()}

        return plain(X1) if X2 is None else {"x": plain(X1), "x_prime": plain(X2)}

    @property
    def guarding_(self) -> Guarding:
        """The guards with their grids, rebuilt from ``guards_``, ``guard_grids_`` and ``guard_combos_``."""
        g = self.__dict__.get("_guarding")
        if g is None:
            g = Guarding(self.guards_, self.domain_, self.classes_, self.guard_grids_, self.guard_combos_)
            self.__dict__["_guarding"] = g
        return g

    # -- prediction --------------------------------------------------------------------------
    def _guard_mask(self, frame: pd.DataFrame) -> np.ndarray:
        mask = np.zeros(len(frame), dtype=bool)
        for _, g in self.guarding_.implies:
            mask |= g.condition.evaluate(lambda n: frame[n], len(frame))
        return mask

    def _student_proba_raw(self, frame: pd.DataFrame) -> np.ndarray:
        """The student's probabilities: ``student_``'s, or ``base_student_``'s inside ``focus_rules_``."""
        focus = getattr(self, "focus_rules_", None)
        inside = None if focus is None else focus.decide(frame) >= 0
        if inside is None or not inside.any():
            return self._proba_of(self.student_, frame)
        out = np.empty((len(frame), len(self.classes_)))
        for model, rows in ((self.base_student_, inside), (self.student_, ~inside)):
            if rows.any():
                out[rows] = self._proba_of(model, frame.iloc[np.flatnonzero(rows)])
        return out

    def _proba_of(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        X = frame if self._frame_input_ else frame.to_numpy(dtype=np.float64, na_value=np.nan)
        return model.predict_proba(X)

    def _student_answer(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.guarding_.student_answer(self._student_proba_raw, frame)

    def _answer(self, frame: pd.DataFrame, with_proba: bool = False, student_codes: np.ndarray | None = None):
        """Class codes, who answered, and (optionally) probabilities, for a canonical frame.

        ``student_codes`` (one per row of ``frame``) stand in for the student's answers.
        """
        n = len(frame)
        k = len(self.classes_)
        ci = {c: i for i, c in enumerate(self.classes_.tolist())}
        codes = np.full(n, -1)
        by = np.full(n, "student", dtype=object)
        proba = np.zeros((n, k)) if with_proba else None
        for gk, g in self.guarding_.implies:
            m = g.condition.evaluate(lambda name: frame[name], n) & (codes < 0)
            codes[m] = ci[g.then]
            by[m] = f"guard:{gk}"
            if with_proba:
                proba[m] = np.eye(k)[ci[g.then]]
        if len(self.rules_):
            d = self.rules_.decide(frame)
            m = (d >= 0) & (codes < 0)
            table = np.array([ci[r.prediction] for r in self.rules_.rules])
            ids = np.array([self.rules_.rule_id(i) for i in range(len(self.rules_))], dtype=object)
            codes[m] = table[d[m]]
            by[m] = ids[d[m]]
            if with_proba:
                proba[m] = self.rules_.proba_table()[d[m]]
        rest = codes < 0
        if student_codes is not None and not with_proba:
            codes[rest] = student_codes[rest]
        elif rest.any():
            sc, sp = self._student_answer(frame.iloc[np.flatnonzero(rest)].reset_index(drop=True))
            codes[rest] = sc
            if with_proba:
                proba[rest] = sp
        if not with_proba:
            return codes, by
        # Where a guard or a rule chose the class, make it the most probable one.
        return codes, by, rank_first(proba, codes)

    def _input(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self)
        return self._rule_input(X)

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: guard, else rule, else guarded student."""
        codes, _ = self._answer(self._input(X))
        return self.classes_[codes]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities of the part that answers (the chosen class always the most probable)."""
        _, _, proba = self._answer(self._input(X), with_proba=True)
        return proba

    def decided_by(self, X: Any) -> np.ndarray:
        """Per row: the id of the rule that answered, ``"guard:<k>"`` for guard ``k``, or ``"student"``."""
        _, by = self._answer(self._input(X))
        return by

    def transparency_curve(self, X: Any, y: Any) -> pd.DataFrame:
        """Accuracy against transparency on ``(X, y)`` for each prefix of the fitted rule order.

        Returns a DataFrame with columns ``n_rules``, ``transparency``,
        ``accuracy``, ``rule_accuracy``, ``student_accuracy`` (one row per
        prefix of ``rule_path_``, from no rule to all of them).
        """
        frame = self._input(X)
        y = np.asarray(y)
        if len(y) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(y)}.")
        saved = self.rules_
        rows = []
        try:
            for m in range(len(self.rule_path_) + 1):
                self.rules_ = self.rule_path_.replace(rules=self.rule_path_.rules[:m])
                codes, by = self._answer(frame)
                pred = self.classes_[codes]
                right = np.asarray(pred == y, dtype=bool)
                is_rule = np.asarray([b != "student" and not str(b).startswith("guard:") for b in by])
                rows.append({
                    "n_rules": m,
                    "transparency": float(is_rule.mean()),
                    "accuracy": float(right.mean()),
                    "rule_accuracy": float(right[is_rule].mean()) if is_rule.any() else float("nan"),
                    "student_accuracy": float(right[~is_rule].mean()) if (~is_rule).any() else float("nan"),
                })
        finally:
            self.rules_ = saved
        return pd.DataFrame(rows)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_choice_", None)  # validation matrices for retarget(): large, and not part of the model
        state.pop("_guarding", None)  # rebuilt from guards_, guard_grids_, guard_combos_
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


@contextlib.contextmanager
def _inner_fits() -> Iterator[None]:
    """Around the inner students' fits: what each of them would say of the shared teacher, the hybrid says once."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The teacher also knows the classes")
        yield


def _part_sizes(n_rows: int, validation_fraction: float) -> tuple[int, int]:
    """Rows of the training and validation parts of a fit on ``n_rows`` rows (before the small-data
    fallback of :meth:`HybridClassifier._split`, which trains and validates on every row)."""
    n_va = int(round(validation_fraction * n_rows))
    return n_rows - n_va, n_va


def _student_steps(n_rows: int) -> int:
    """Step inputs of the hybrid's default student fitted on ``n_rows`` rows: the teacher's
    ``_STUDENT_STEPS`` cuts of largest gain from ``_STEPS_MIN_ROWS`` rows on, none below."""
    return _STUDENT_STEPS if n_rows >= _STEPS_MIN_ROWS else 0


def _weighted_share(right: np.ndarray, w: np.ndarray) -> float:
    """Weighted share of ``right`` (the validation rows' sample weights); nan without weight."""
    total = float(w.sum())
    return float((w * right).sum() / total) if total > 0 else float("nan")


def _monotone_bad_ops(increasing: bool, toward_class: bool) -> tuple[str, ...]:
    """Condition ops a rule may not use on a Monotone feature.

    A rule answering the ``toward`` class must stay true when the feature moves
    in the guard's direction (so it may bound it only from the other side); a
    rule answering another class must stay true when it moves back.
    """
    upper, lower = ("<=", "<"), (">", ">=")
    if increasing:
        return upper if toward_class else lower
    return lower if toward_class else upper


def _check_transparency(transparency: Any) -> None:
    """In (0, 1] or None; a bool is refused (True passed as 1.0: every row to the rules)."""
    if transparency is None:
        return
    if isinstance(transparency, (bool, np.bool_)) or not isinstance(transparency, numbers.Real) \
            or not 0 < float(transparency) <= 1:
        raise ValueError(f"transparency must be a number in (0, 1] or None, got {transparency!r}.")


def _renamed_domain(domain: Domain, names: Sequence[str]) -> Domain:
    """``domain`` with its features renamed, in order, to ``names`` (groups and constraints too)."""
    new = dict(zip(domain.names, names))
    return Domain(
        tuple(dataclasses.replace(f, name=new[f.name]) for f in domain.features),
        onehot_groups=tuple(tuple(new[n] for n in g) for g in domain.onehot_groups),
        constraints=tuple(dataclasses.replace(c, coefficients=tuple((new[n], a) for n, a in c.coefficients))
                          for c in domain.constraints),
    )
