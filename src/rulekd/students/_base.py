"""What every rulekd student shares: input validation, the teacher, the transfer set.

Students accept numpy arrays and pandas DataFrames with ``category`` (or
string) columns and missing values. Validation turns either into one
*canonical frame*: the fitted columns in fitted order, numeric columns as
float64 (NaN for missing), categorical columns as pandas ``Categorical`` with
the fitted levels. Rules, the teacher and the neural student all read it.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from ..domain import Domain, refuse_non_numbers
from ..exceptions import TeacherError, user_stacklevel
from ..rules._ir import _exact_integers
from ..teachers import fit_teacher
from ..teachers._adapter import _softmax
from ..transfer import STRATEGIES, make_transfer_set
from ..transfer._transfer import DECLARED_MISSING_RATE

__all__ = ["DistilledClassifierMixin"]


def _n_synthetic(value: Any, n_rows: int, minimum: int = 10_000) -> int:
    """``n_synthetic`` resolved: "auto" is ten rows per real row, between ``minimum`` and 60,000."""
    if value == "auto":
        return int(min(max(10 * n_rows, minimum), 60_000))
    return int(value)


def declared_domain(domain: Domain, frame: pd.DataFrame) -> tuple[Domain, pd.DataFrame]:
    """A user's Domain checked against the canonical training frame, in the frame's column order.

    Returns the Domain (its features reordered as the columns) and the frame with each categorical
    column's categories set to the Domain's levels. Refused: features that are not the columns,
    a categorical feature on a numeric column or the reverse, and rows outside the Domain (the
    teacher and the students would learn inputs the model then refuses, and the verifier's proofs
    would not speak for them).
    """
    cols = [str(c) for c in frame.columns]
    extra = [c for c in cols if c not in domain]
    absent = [n for n in domain.names if n not in set(cols)]
    if extra or absent:
        raise ValueError(
            "domain= must declare exactly the columns of X: "
            + (f"X has columns {extra[:10]} the Domain lacks" if extra else "")
            + ("; " if extra and absent else "")
            + (f"the Domain has features {absent[:10]} X lacks" if absent else "")
            + ". Build it from the training data (Domain.from_data(X)) and edit it with Domain.update."
        )
    specs = [domain[c] for c in cols]
    out = {}
    for spec, c in zip(specs, cols):
        col = frame[c]
        is_cat = isinstance(col.dtype, pd.CategoricalDtype)
        if is_cat != (spec.kind == "categorical"):
            raise ValueError(
                f"domain= declares {c!r} as {spec.kind}, but X's column {c!r} is "
                f"{'categorical' if is_cat else 'numeric'}. Declare the kind the data has (Domain.update({c!r}, "
                f"kind=...)) or convert the column."
            )
        if is_cat:
            levels = set(spec.levels)
            unknown = [v for v in col.dropna().unique() if v not in levels]
            if unknown:
                raise ValueError(
                    f"X's column {c!r} has levels {sorted(map(str, unknown))[:10]} that domain= does not list "
                    f"(levels {list(map(str, spec.levels))[:20]}). Add them with Domain.update({c!r}, levels=...)."
                )
            extra = [v for v in col.cat.categories if v not in levels]  # unused (checked above)
            col = pd.Categorical(col.cat.remove_categories(extra) if extra else col, categories=list(spec.levels))
        out[c] = col
    frame = pd.DataFrame(out, index=frame.index)
    domain = Domain(tuple(specs), onehot_groups=domain.onehot_groups, constraints=domain.constraints)
    inside = domain.contains(frame)
    if not inside.all():
        bad = np.flatnonzero(~inside)
        row = frame.iloc[[int(bad[0])]]
        why = [s.name for s in specs if not Domain((s,)).contains(row[[s.name]])[0]]
        where = f"its features {why[:5]}" if why else "a one-hot group or a linear constraint"
        raise ValueError(
            f"{len(bad)} row(s) of X lie outside domain= (the first, row {int(bad[0])}, in {where}). Widen the "
            f"Domain (Domain.update: bounds, levels, allow_missing=True; for rulekd distill, edit the --domain "
            f"file's \"lower\", \"upper\", \"levels\" or \"allow_missing\") or drop those rows."
        )
    return domain, frame


def clear_fitted(estimator: Any) -> None:
    """Drop every fitted attribute (names ending in ``_``): the estimator is unfitted again."""
    for name in [k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")]:
        estimator.__dict__.pop(name, None)


def unfitted_on_error(fit: Any) -> Any:
    """``fit`` that leaves the estimator unfitted when it raises. A refit that failed half way kept the
    new ``classes_`` or columns beside the old model, which then answered in the wrong terms (labels of
    the old fit under the new names, a probability column short)."""
    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            clear_fitted(self)
            raise

    return wrapper


class DistilledClassifierMixin(ClassifierMixin, BaseEstimator):
    """Base of the students: validation, teacher fitting, transfer set.

    Subclasses define ``__init__`` (storing parameters only) and ``_fit``.
    """

    _common_constraints: dict = {
        "teacher": "no_validation",
        "n_synthetic": [StrOptions({"auto"}), Interval(numbers.Integral, 0, None, closed="left")],
        "strategy": [StrOptions(set(STRATEGIES))],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "domain": [Domain, None],
        "random_state": ["random_state"],
    }

    # Fewest synthetic rows that n_synthetic="auto" gives.
    _min_synthetic = 10_000

    # -- input -------------------------------------------------------------
    def _validate_X(self, X: Any, *, reset: bool) -> pd.DataFrame:
        if not isinstance(X, (pd.DataFrame, pd.Series, np.ndarray)) and callable(getattr(X, "to_pandas", None)):
            # A pyarrow Table or a polars DataFrame: as a pandas frame, so that its column names name the
            # features as scikit-learn records them (read as an array, the rules named them x0, x1, ...).
            X = X.to_pandas()
        if not reset and hasattr(self, "feature_names_in_") and isinstance(X, (list, tuple)) and X \
                and all(isinstance(r, (list, tuple, np.ndarray)) for r in X):
            # A list of rows (X.to_numpy().tolist()): read as the object array it is, below.
            X = np.array(X, dtype=object)
        if not reset and hasattr(self, "feature_names_in_") and isinstance(X, np.ndarray) and X.dtype == object \
                and X.ndim == 2 and X.shape[1] == len(self.feature_names_in_):
            # An object array of a frame-fitted model's rows (text levels beside numbers, e.g. X.to_numpy()):
            # its columns are the fitted ones by position, as scikit-learn reads arrays (numpy's "could not
            # convert string to float" before).
            X = pd.DataFrame(X, columns=list(self.feature_names_in_))
        if isinstance(X, pd.DataFrame):
            if isinstance(X.columns, pd.MultiIndex):
                raise ValueError(
                    f"X has columns on {X.columns.nlevels} levels (a MultiIndex, e.g. {X.columns[0]!r}); rules name "
                    f"each feature by one name. Flatten them first, e.g. X.columns = ['_'.join(map(str, c)) for c in "
                    f"X.columns]."
                )
            if X.columns.duplicated().any():
                dup = sorted({str(c) for c in X.columns[X.columns.duplicated()]})
                raise ValueError(f"X has duplicate column names {dup}; rename them so that rules can name each feature.")
            if not reset and hasattr(self, "feature_names_in_"):
                cols = [str(c) for c in X.columns]
                fitted = list(self.feature_names_in_)
                if cols != fitted and sorted(cols) == sorted(fitted):
                    X = X.rename(columns=str)[fitted]  # same columns, another order: realign by name
            if X.shape[0] == 0:
                raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
            if X.shape[1] == 0:
                raise ValueError(f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
            validate_data(self, X, reset=reset, skip_check_array=True)
            frame = X.rename(columns=str).reset_index(drop=True)
            if not reset and not hasattr(self, "feature_names_in_"):
                fitted = list(self._feature_names_)
                cols = list(frame.columns)
                if cols != fitted and sorted(cols) == sorted(fitted) and fitted != _array_names(len(fitted)):
                    # Fitted on a frame with non-text column names (0, 1, ...), which scikit-learn does
                    # not record: the same names in another order are realigned by name, as text names are.
                    frame = frame[fitted]
                elif cols != fitted and sorted(cols) == sorted(fitted):
                    # The rules' own names (x0, x1, ...) in another order: read by position (as scikit-learn
                    # reads a frame for a model fitted on an array) the model would answer otherwise than
                    # rules_ and its exports, which read them by name.
                    raise ValueError(
                        f"X's columns are the names the rules give the features ({fitted[:5]}"
                        f"{' ...' if len(fitted) > 5 else ''}) in another order, but the model was fitted on an "
                        f"array and reads columns by position. Pass X[{fitted[:3]}{' + ...' if len(fitted) > 3 else ''}] "
                        f"(the columns in the rules' order) or X.to_numpy() in the fitted column order."
                    )
                else:  # fitted on an array: columns match by position, as scikit-learn does
                    frame = frame.set_axis(fitted, axis=1)
            if reset:
                self._object_columns_ = [
                    c for c in frame.columns
                    if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)
                ]
                for c in self._object_columns_:
                    kinds = {_kind_name(v) for v in frame[c].dropna()}  # numpy's str_ is a str, and so on
                    nested = sorted(kinds & {"list", "tuple", "dict", "set", "ndarray"})
                    if nested:
                        raise ValueError(
                            f"Column {c!r} holds {nested[0]} values; a feature holds one number or one level per "
                            f"row. Drop the column or expand it into columns of its own."
                        )
                    if kinds and kinds <= {"int", "float", "Decimal"} and frame[c].dtype == object:
                        # Numbers in an object column (None for a missing value, values from a database):
                        # read as levels, they made a categorical feature with one level per number.
                        raise ValueError(
                            f"Column {c!r} holds numbers in an object column (None for missing values, or "
                            f"decimal.Decimal values from a database, do this); convert it with "
                            f"pd.to_numeric(X[{c!r}]) for a numeric feature, or to a pandas category "
                            f"(X[{c!r}].astype('category')) if its numbers are codes of levels."
                        )
                    if len(kinds) > 1:  # numbers with text (numbers alone are refused above)
                        raise ValueError(
                            f"Column {c!r} mixes value types {sorted(kinds)}; convert it to one type "
                            f"(e.g. X[{c!r}].astype(str)) or to a pandas category."
                        )
        else:
            try:
                arr = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
            except ValueError as exc:
                if "could not convert string to float" not in str(exc):
                    raise
                # An object array with text (a SimpleImputer's output on mixed data): numpy's message names no fix.
                raise ValueError(
                    f"X is an array holding text ({str(exc).split(':', 1)[-1].strip()[:80]}), which an array of "
                    f"numbers cannot carry. Pass a pandas DataFrame whose text columns are category or str (e.g. "
                    f"pd.DataFrame(X) with named columns; in a Pipeline, set_output(transform='pandas') on the "
                    f"step before)."
                ) from None
            names = list(self._feature_names_) if not reset else _array_names(arr.shape[1])
            frame = pd.DataFrame(arr, columns=names)
            if reset:
                self._object_columns_ = []
        if reset:
            self._feature_names_ = [str(c) for c in frame.columns]
        return self._canonical(frame, reset=reset)

    def _canonical(self, frame: pd.DataFrame, *, reset: bool) -> pd.DataFrame:
        if reset:
            cat_cols = [
                c for c in frame.columns
                if isinstance(frame[c].dtype, pd.CategoricalDtype) or c in self._object_columns_
            ]
            out = {}
            for c in frame.columns:
                if c in cat_cols:
                    col = frame[c]
                    if not isinstance(col.dtype, pd.CategoricalDtype):
                        col = col.astype("category")
                    # Levels never seen in the data are kept: they stay legal in the Domain.
                    out[c] = col
                else:
                    out[c] = _check_float32_range(_numeric_column(frame[c], c), c)
            return pd.DataFrame(out)
        out = {}
        for spec in self.domain_.features:
            col = frame[spec.name]
            if spec.kind == "categorical":
                values = col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype(object)
                known = set(spec.levels)
                unseen = [v for v in values.dropna().unique() if v not in known]
                if unseen:
                    shown = list(map(str, spec.levels))
                    as_text = {str(v) for v in spec.levels if isinstance(v, str)}
                    retyped = all(not isinstance(v, str) and str(v) in as_text for v in unseen)
                    raise ValueError(
                        f"Column {spec.name!r} has levels unseen during fit: {sorted(map(str, unseen))[:10]}. "
                        f"Known levels: {shown[:20]}{f' ... ({len(shown)} in all)' if len(shown) > 20 else ''}. "
                        + (f"They are numbers where the model's levels are text (as read from a file): convert "
                           f"them with X[{spec.name!r}].astype(str)." if retyped else
                           "Map them to a known level or to missing.")
                    )
                if isinstance(values.dtype, pd.CategoricalDtype):
                    # Unused categories the model does not know (rows filtered out of a file): pandas warns,
                    # and will refuse, to recode a Categorical whose dtype holds them.
                    extra = [c for c in values.cat.categories if c not in known]
                    values = values.cat.remove_categories(extra) if extra else values
                out[spec.name] = pd.Categorical(values, categories=list(spec.levels))
            else:
                if isinstance(col.dtype, pd.CategoricalDtype):
                    text = [v for v in col.dropna().unique() if isinstance(v, str) and not _is_number(v)]
                    if spec.kind == "binary":  # True / False are what that column held: name another cell
                        text = [v for v in text if v.lower() not in ("true", "false")] or text
                    raise ValueError(
                        f"Column {spec.name!r} was numeric during fit but is categorical now"
                        + (f" (it holds text such as {text[0]!r})" if text else "")
                        + "; convert it to numbers (leave missing values empty)."
                    )
                exact = _exact_integers(col)
                # Machine integers beyond 2**53 stay integers: the rules compare them with their bounds
                # exactly, as rules_.predict and the exports do (float64 would round them first).
                out[spec.name] = col.array if exact is not None else _numeric_column(col, spec.name)
        return pd.DataFrame(out)

    def _validate_y(self, y: Any) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)  # "y should be a 1d array" otherwise
        if y.dtype.kind in "mM":
            raise ValueError(f"y holds dates or durations ({y.dtype}); class labels must be text, integers or "
                             f"booleans. Convert them (e.g. y.astype(str)).")
        if y.dtype == object:
            kinds = {_kind_name(v) for v in y if not pd.isna(v)} if len(y) else set()
            if kinds & {"Timestamp", "datetime", "date", "Timedelta", "timedelta"}:
                raise ValueError("y holds dates or durations; class labels must be text, integers or booleans. "
                                 "Convert them (e.g. y.astype(str)).")
            if len(kinds) > 1:
                raise ValueError(f"y mixes value types {sorted(kinds)}; convert the labels to one type (e.g. "
                                 f"y.astype(str)).")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError("y contains NaN; drop those rows or fill the labels.")
        if y.dtype == object and pd.isna(y).any():
            raise ValueError("y contains missing labels; drop those rows or fill the labels.")
        check_classification_targets(y)
        enc = LabelEncoder().fit(y)
        if len(enc.classes_) < 2:
            raise ValueError(
                f"The target has only one class ({enc.classes_[:1].tolist()[0]!r}); a classifier needs at least two. "
                f"Check the target column."
            )
        self.classes_ = enc.classes_
        codes = enc.transform(y)
        _warn_odd_classes(enc.classes_, np.bincount(codes, minlength=len(enc.classes_)))
        return codes

    # -- fit scaffolding -----------------------------------------------------
    def _prepare_fit(self, X: Any, y: Any, sample_weight: Any = None):
        """Validate parameters and data, then :meth:`_build_transfer` and split it.

        Returns ``(frame, y_idx, sample_weight, fit_part, val_part)`` where each
        part is a :class:`~rulekd.transfer.TransferSet` slice.
        """
        self._validate_params()
        frame, y_idx, sw, ts, fit_idx, val_idx = self._build_transfer(X, y, sample_weight)
        return frame, y_idx, sw, _subset(ts, fit_idx), _subset(ts, val_idx)

    def _start_fit(self, X: Any, y: Any, sample_weight: Any = None) -> tuple[pd.DataFrame, np.ndarray, Any, int]:
        """Validate ``X``, ``y`` and the weights; set ``classes_``, ``domain_`` and ``_seed_``.

        Returns ``(frame, y_idx, sample_weight, seed)``.
        """
        frame = self._validate_X(X, reset=True)
        y_idx = self._validate_y(y)
        if len(frame) != len(y_idx):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: X has {len(frame)} rows, y has {len(y_idx)}."
            )
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, frame, ensure_non_negative=True)
        if sw is not None:
            weighted = np.bincount(y_idx, weights=sw, minlength=len(self.classes_)) > 0
            if weighted.sum() < 2:
                raise ValueError(
                    f"sample_weight is 0 on every row of class(es) {self.classes_[~weighted].tolist()[:10]}, so "
                    f"only {self.classes_[weighted].tolist()} would be learned (a constant model); a classifier "
                    f"needs rows of weight > 0 in at least two classes. Check the weights."
                )
        if self.domain is None:
            self.domain_ = Domain.from_data(frame)
            _warn_unused_levels(frame, self.domain_)
        else:
            self.domain_, frame = declared_domain(self.domain, frame)
        rs = self.random_state
        rs = rs if isinstance(rs, np.random.RandomState) else np.random.RandomState(rs)
        seed = int(rs.randint(0, 2**31 - 1))
        self._seed_ = seed
        return frame, y_idx, sw, seed

    def _transfer_set(self, frame: pd.DataFrame, sw: Any, n_syn: int, seed: int) -> Any:
        """The teacher-labelled transfer set of ``frame``'s rows (the students' and the hybrid's).

        Levels the Domain lists but the rows lack are drawn in a share of the synthetic rows; a teacher
        that cannot read them (a ``OneHotEncoder`` with ``handle_unknown='error'``) is a ``TeacherError``
        for a declared Domain, and, for an inferred one (levels a pandas category kept, or the hybrid's
        validation rows hold), a warning and a transfer set without them, as before such levels were drawn.
        """
        declared_rate = self._declared_rate(sw)
        kw = dict(n_synthetic=n_syn, strategy=self.strategy, domain=self.domain_, random_state=seed,
                  missing_rate=declared_rate, row_weight=sw)
        view = _TeacherView(self.teacher_, self._frame_input_)
        try:
            return make_transfer_set(frame, view, unseen_level_rate=DECLARED_MISSING_RATE, **kw)
        except TeacherError as exc:
            novel = getattr(exc, "novel_levels", None)
            if self.domain is not None or not novel:
                raise
        name, levels = next(iter(novel.items()))
        warnings.warn(
            f"The teacher cannot read levels the training rows lack (the first, {name!r}: {levels}), so no "
            f"synthetic row holds them and the model answers them without having seen the teacher's answer. "
            f"Remove unused categories (X[{name!r}].cat.remove_unused_categories()) to have predict refuse "
            f"them, or give the teacher an encoder that accepts them (OneHotEncoder(handle_unknown='ignore')).",
            UserWarning, stacklevel=4)
        return make_transfer_set(frame, view, unseen_level_rate=0.0, **kw)

    def _declared_rate(self, sample_weight: Any) -> float:
        """The share of synthetic rows given a missing value the Domain allows but the rows the synthetic
        ones come from never have: for a declared Domain, and with rows of weight 0 (they are in the
        inferred Domain but shape no synthetic row); none otherwise, so the transfer sets of fits with
        inferred Domains and no zero weight are those of before. (Levels the Domain lists but those rows
        lack are drawn at the same rate in every fit: ``unseen_level_rate``.)"""
        zero_weight = sample_weight is not None and not np.all(np.asarray(sample_weight) > 0)
        return DECLARED_MISSING_RATE if self.domain is not None or zero_weight else 0.0

    def _build_transfer(self, X: Any, y: Any, sample_weight: Any = None):
        """Validate, fit the teacher, infer the Domain, build the transfer set, split it.

        Returns ``(frame, y_idx, sample_weight, transfer_set, fit_idx, val_idx)``;
        the real rows come first in the transfer set, the indices are sorted.
        Sets ``domain_``, ``teacher_``, ``classes_`` and ``_seed_``.
        """
        frame, y_idx, sw, seed = self._start_fit(X, y, sample_weight)
        teacher_input = frame if self._frame_input_ else frame.to_numpy(dtype=np.float64, na_value=np.nan)
        self.teacher_ = fit_teacher(self.teacher, teacher_input, self.classes_[y_idx], random_state=seed, sample_weight=sw)
        self._check_teacher_classes()
        n_syn = _n_synthetic(self.n_synthetic, len(frame), self._min_synthetic)
        ts = self._transfer_set(frame, sw, n_syn, seed)
        # Map the teacher's class columns onto ours (they can be a permutation).
        order = [list(self.teacher_.classes_).index(c) for c in self.classes_]
        ts.logits = ts.logits[:, order]
        if len(order) < len(self.teacher_.classes_):  # a (frozen) teacher that knows classes y does not hold
            extra = [c for c in self.teacher_.classes_.tolist() if c not in set(self.classes_.tolist())]
            warnings.warn(
                f"The teacher also knows the classes {extra[:10]}, which y does not hold; the student learns the "
                f"teacher's answers among the classes of y (its probabilities renormalised over them).",
                UserWarning, stacklevel=user_stacklevel())  # a hybrid's inner students: the same line, said once
            ts.proba = _softmax(ts.logits)
        else:
            ts.proba = ts.proba[:, order]
        weights = np.ones(len(ts))
        if sw is not None:
            weights[: len(frame)] = sw
            weights[len(frame):] = float(np.mean(sw))
        ts.weights = weights
        idx = np.arange(len(ts))
        if len(ts) >= 20:
            if int(np.ceil(self.validation_fraction * len(ts))) >= len(ts):  # scikit-learn's words named test_size
                raise ValueError(
                    f"validation_fraction={self.validation_fraction!r} holds out all {len(ts):,} transfer rows "
                    f"({len(frame):,} real, {len(ts) - len(frame):,} synthetic): none is left to train on. Use a "
                    f"smaller validation_fraction (e.g. 0.2).")
            fit_idx, val_idx = train_test_split(idx, test_size=self.validation_fraction, random_state=seed)
            fit_idx, val_idx = np.sort(fit_idx), np.sort(val_idx)
        else:
            fit_idx, val_idx = idx, idx
        return frame, y_idx, sw, ts, fit_idx, val_idx

    @property
    def _frame_input_(self) -> bool:
        """Whether the teacher reads the canonical frame: the model was fitted on a DataFrame with text
        column names, or has categorical features (which no float array can hold, whatever the names)."""
        if hasattr(self, "feature_names_in_"):
            return True
        domain = getattr(self, "domain_", None)
        return domain is not None and any(s.kind == "categorical" for s in domain.features)

    def _check_teacher_classes(self) -> None:
        t = set(self.teacher_.classes_.tolist())
        missing = [c for c in self.classes_.tolist() if c not in t]
        if missing:
            codes = sorted(map(str, t)) == sorted(str(i) for i in range(len(t)))
            raise ValueError(
                f"The teacher does not know the classes {missing}; its classes are {sorted(t, key=str)!r}. "
                + ("A saved XGBoost model keeps no class labels (it answers 0, 1, ... in the order of the labels "
                   "it was fitted on): pass the rulekd model directory it came from (rulekd distill --teacher DIR), "
                   "or labels 0..k-1 in that order." if codes and not all(str(c).isdigit() for c in missing)
                   else "The labels read the same but differ in type (text against numbers): give y the "
                   "teacher's label type." if {str(c) for c in missing} <= {str(c) for c in t}
                   else "Fit the teacher on the same labels.")
            )

    # -- prediction (rule students) -------------------------------------------
    def _rule_input(self, X: Any) -> pd.DataFrame:
        """Validated frame for the rules; missing values only where the Domain allows them.

        The rules are fitted to the Domain: a feature that had no missing value
        during fit has rules that say nothing about a missing one, so such a
        row is refused (like an unseen category) rather than answered silently.
        """
        frame = self._validate_X(X, reset=False)
        for spec in self.domain_.features:
            if not spec.allow_missing and frame[spec.name].isna().any():
                # Refused even where no rule reads the feature: the Domain is what the checks and proofs
                # cover (an Implies guard may speak of a missing value).
                unread = spec.name not in self._features_read()
                raise ValueError(
                    f"Column {spec.name!r} has missing values, but it had none during fit, so they lie outside the "
                    f"model's Domain (the inputs its checks and proofs cover)"
                    + (", although no rule reads the column" if unread else " and the rules do not cover them")
                    + f". Fill them (e.g. with the training median or a known level), or refit declaring "
                    f"them: domain=Domain.from_data(X).update({spec.name!r}, allow_missing=True) (rulekd distill "
                    f"--domain DOMAIN.json)."
                )
        return frame

    def _features_read(self) -> set:
        """The features the answer depends on: those the rules test (the hybrid's student reads them all)."""
        student = getattr(self, "student_", None)
        if student is not None:
            return set(self.domain_.names)
        return {c.feature for r in self.rules_.rules for c in r.conditions}

    def predict(self, X: Any) -> np.ndarray:
        """Class labels from the rules: ``rules_.predict``."""
        check_is_fitted(self)
        frame = self._rule_input(X)
        table = np.array(
            [list(self.classes_).index(r.prediction) for r in self.rules_.rules]
            + [list(self.classes_).index(self.rules_.default)]
        )
        return self.classes_[table[self.rules_.decide(frame)]]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the answering rule, columns in ``classes_`` order."""
        check_is_fitted(self)
        frame = self._rule_input(X)
        return self.rules_.predict_proba(frame)

    # Whether the model answers with rules: the neural student has no ``decided_by`` / ``get_rules``.
    _answers_with_rules = True

    @available_if(lambda self: self._answers_with_rules)
    def decided_by(self, X: Any) -> np.ndarray:
        """Id of the rule that answers each row (``"default"`` where none matches)."""
        check_is_fitted(self)
        frame = self._rule_input(X)
        return self.rules_.decided_by(frame)

    @available_if(lambda self: self._answers_with_rules)
    def get_rules(self) -> pd.DataFrame:
        """One row per rule: id, rule text, prediction, support, confidence, n_conditions.

        ``support``: training rows the rule's conditions match (in a rule list an earlier rule may
        answer some of them; ``decided_by`` names the rule that answers each row). ``confidence``: the
        weighted share of the fit transfer rows it matches on which the teacher gives its class.
        """
        check_is_fitted(self)
        return self.rules_.to_frame()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


class _TeacherView:
    """Feeds a teacher the canonical frame, or its array form for array-fitted students."""

    def __init__(self, teacher: Any, frame_input: bool):
        self.teacher = teacher
        self.frame_input = frame_input

    def logits(self, frame: pd.DataFrame) -> np.ndarray:
        if self.frame_input:
            return self.teacher.logits(frame)
        return self.teacher.logits(frame.to_numpy(dtype=np.float64, na_value=np.nan))


def _array_names(n: int) -> list[str]:
    """The names the students give the columns of an array: x0, x1, ..."""
    return [f"x{i}" for i in range(n)]


def _warn_odd_classes(classes: np.ndarray, counts: np.ndarray) -> None:
    """Warn about text labels that differ only in surrounding spaces or in case: a stray "Ja " beside "Ja"
    becomes a class of its own. (As many classes as rows, an id given as the target, scikit-learn warns of.)"""
    groups: dict[str, list[int]] = {}
    for k, c in enumerate(classes.tolist()):
        if isinstance(c, str):
            groups.setdefault(c.strip().casefold(), []).append(k)
    alike = [ks for ks in groups.values() if len(ks) > 1]
    if alike:
        def label(k: int) -> str:
            return f"{classes[k]!r} ({counts[k]:,} row{'s' if counts[k] != 1 else ''})"

        shown = "; ".join(" and ".join(label(k) for k in ks) for ks in alike[:3])
        warnings.warn(
            f"The target has labels that differ only in spaces or case, each a class of its own: {shown}. If they "
            f"are one class, clean the labels first (e.g. y.str.strip(), or y.str.strip().str.lower()).",
            UserWarning, stacklevel=user_stacklevel())


def teacher_cuts(teacher: Any, names: list[str], frame_input: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The teacher's numeric cut points and their summed gains (``Teacher.split_gains``), in the student's
    feature names ``names``; empty for a teacher that cannot list them.

    The cuts are read the way the teacher reads the student's columns: by name where it was fitted on a
    frame and is given one (``frame_input``: the student's ``_frame_input_``), else by position (a teacher
    fitted on an array names its columns x0, x1, ...; one fitted on a frame, given an array, reads it by
    position: ``Teacher.column_names`` orders its names). A teacher of one's own that does not say how it
    reads its input (no ``uses_frame``) is read by name if any of its names is one of ``names``, else by
    position. A teacher that lists its cuts without gains (``split_thresholds`` only) has them weighed
    equally.
    """
    try:
        gains = teacher.split_gains()
        if not gains:
            gains = {k: (np.asarray(t, dtype=np.float64), np.ones(len(t)))
                     for k, t in teacher.split_thresholds().items()}
    except Exception:  # a teacher that cannot list its cuts has none to offer
        return {}
    if not gains:
        return {}
    reads_frame = getattr(teacher, "uses_frame", None)
    if reads_frame is None:
        by_name = bool(set(gains) & set(names))
        order = _array_names(len(names))
    else:
        by_name = bool(reads_frame) and frame_input
        order = (teacher.column_names() if reads_frame else None) or _array_names(len(names))
    if by_name:
        return {k: v for k, v in gains.items() if k in set(names)}
    by_position = dict(zip(order, names))
    return {by_position[k]: v for k, v in gains.items() if k in by_position}


def answered_proba(answer: np.ndarray, j: int, proba: np.ndarray, weights: np.ndarray | None, fallback: Any,
                   code: int) -> tuple[float, ...]:
    """A rule's ``proba``: the (weighted) mean of the teacher's ``proba`` over the rows it answers
    (``answer == j``), ``fallback`` where it answers none, with its class ``code`` ranked first
    (:func:`rank_first`). The rule students and the hybrid share this."""
    sel = answer == j
    w = None if weights is None else weights[sel]
    if sel.any() and (w is None or w.sum() > 0):
        p = np.average(proba[sel], axis=0, weights=w)
    else:
        p = np.asarray(fallback, dtype=np.float64)
    return tuple(float(v) for v in rank_first(p, [code])[0])


def rank_first(proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``proba`` (rows) with each row's class ``codes`` the most probable: where another class is first, the
    row is mixed ``0.4 * proba + 0.6 * one-hot``. The rule students and the hybrid share this convention."""
    proba = np.array(proba, dtype=np.float64, ndmin=2)
    codes = np.asarray(codes, dtype=np.intp).reshape(-1)
    changed = np.argmax(proba, axis=1) != codes
    proba[changed] = 0.4 * proba[changed] + 0.6 * np.eye(proba.shape[1])[codes[changed]]
    return proba


def _numeric_column(col: pd.Series, name: str) -> np.ndarray:
    if isinstance(col.dtype, pd.CategoricalDtype):
        raise ValueError(f"Column {name!r} is categorical here but was numeric during fit.")
    refuse_non_numbers(col.dtype, name)  # a DomainError, a ValueError
    try:
        x = col.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(
            f"Column {name!r} holds values that are not numbers; make it a pandas category "
            f"(X[{name!r}] = X[{name!r}].astype('category')) or convert it to numbers."
        ) from None
    if np.isinf(x).any():
        raise ValueError(f"Column {name!r} contains infinity; replace it with a finite value or NaN.")
    return x


def _kind_name(v: Any) -> str:
    """The type of a value as a column's type check sees it: numpy scalars as their Python kind."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, numbers.Integral):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(x: np.ndarray, name: str) -> np.ndarray:
    """Refuse, at fit, magnitudes that float32 cannot hold (the trees compare values in float32)."""
    big = float(np.nanmax(np.abs(x), initial=0.0))
    if big > _FLOAT32_MAX:
        raise ValueError(
            f"Column {name!r} holds values up to {big:.3g} in magnitude, beyond the float32 range "
            f"(about 3.4e38) in which tree teachers, the rule students' trees and the neural student compute; "
            f"rescale it (e.g. divide it by a power of ten or take a logarithm) before fitting."
        )
    return x


def _warn_unused_levels(frame: pd.DataFrame, domain: Domain) -> None:
    """Say which categories of X no row holds (a pandas category keeps the levels of rows filtered out):
    the inferred Domain lists them, so predict answers them, from synthetic rows the teacher labelled
    without having seen one."""
    unused = {}
    for spec in domain.features:
        if spec.kind == "categorical":
            held = set(frame[spec.name].dropna().unique())
            missing = [v for v in spec.levels if v not in held]
            if missing:
                unused[spec.name] = missing
    if unused:
        name, levels = next(iter(unused.items()))
        warnings.warn(
            f"{len(unused)} categorical column(s) list levels no row holds (the first, {name!r}: "
            f"{list(map(str, levels))[:5]}). The model answers them as the teacher does on synthetic rows, and "
            f"the teacher never saw one either. To have predict refuse them instead, remove them: "
            f"X[{name!r}] = X[{name!r}].cat.remove_unused_categories().",
            UserWarning, stacklevel=4)


def _subset(ts: Any, idx: np.ndarray) -> Any:
    from ..transfer import TransferSet

    out = TransferSet(
        X=ts.X.iloc[idx].reset_index(drop=True),
        proba=ts.proba[idx],
        logits=ts.logits[idx],
        is_synthetic=ts.is_synthetic[idx],
    )
    out.weights = ts.weights[idx]
    return out
