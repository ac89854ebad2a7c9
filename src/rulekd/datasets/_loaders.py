"""Loaders for the public, high-stakes tabular data sets shipped with rulekd.

This module owns turning the raw files under ``rulekd/datasets/data`` into
ready-to-use :class:`~sklearn.utils.Bunch` objects: readable column names,
pandas ``category`` columns with readable levels, a 0/1 integer target, the
protected attributes in a separate frame and a description of each set's
source, licence and caveats. Everything is read offline from package data;
parsed frames are cached and every call returns fresh copies.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = [
    "list_datasets",
    "load_adult",
    "load_breast_cancer",
    "load_compas",
    "load_dataset",
    "load_german_credit",
    "load_heart",
]

_PACKAGE = "rulekd.datasets"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _data_path(name: str):
    """Return a traversable for the packaged data file ``name``."""
    return resources.files(_PACKAGE) / "data" / name


def _check_as_frame(as_frame: Any, loader: str, *, mixed: bool) -> None:
    """Validate ``as_frame``; refuse ``as_frame=False`` for mixed-type sets."""
    if not isinstance(as_frame, bool | np.bool_):
        raise TypeError(
            f"The 'as_frame' parameter of {loader} must be a bool. "
            f"Got {as_frame!r} instead."
        )
    if mixed and not as_frame:
        raise ValueError(
            f"{loader}(as_frame=False) is not supported: this data set mixes "
            "numeric and categorical columns, which a single NumPy array cannot "
            f"hold without losing types. Call {loader}(as_frame=True) and encode "
            "the categorical columns yourself (e.g. with "
            "sklearn.preprocessing.OneHotEncoder)."
        )


def _categorical(values: pd.Series, levels: list[str]) -> pd.Series:
    """Cast ``values`` to ``category`` with ``levels`` (in that order).

    Values outside ``levels`` raise instead of silently becoming NaN; missing
    values stay missing.
    """
    unknown = set(values.dropna().unique()) - set(levels)
    if unknown:  # pragma: no cover - guards the packaged files
        raise ValueError(
            f"Column {values.name!r} holds values {sorted(map(str, unknown))} "
            f"that are not among its expected levels {levels}."
        )
    dtype = pd.CategoricalDtype(pd.Index(levels, dtype=object).astype(str))
    return values.astype(dtype)


def _binary_target(values: pd.Series, positive: Any, negative: Any) -> pd.Series:
    """Map a two-valued column to int64 0/1 (``positive`` -> 1)."""
    unknown = set(values.unique()) - {positive, negative}
    if unknown:  # pragma: no cover - guards the packaged files
        raise ValueError(
            f"Target column holds unexpected labels {sorted(map(str, unknown))}; "
            f"expected only {negative!r} and {positive!r}."
        )
    return (values == positive).astype(np.int64).rename("target")


def _make_bunch(
    *,
    name: str,
    data: pd.DataFrame,
    target: pd.Series,
    protected: pd.DataFrame,
    target_names: list[str],
    descr: str,
) -> Bunch:
    """Assemble a Bunch from cached frames, copying everything."""
    data = data.copy(deep=True)
    target = target.copy(deep=True)
    protected = protected.copy(deep=True)
    frame = pd.concat([data, target], axis=1)
    categorical = [
        c for c in data.columns if isinstance(data[c].dtype, pd.CategoricalDtype)
    ]
    return Bunch(
        frame=frame,
        data=data,
        target=target,
        target_names=list(target_names),
        feature_names=list(data.columns),
        categorical_features=categorical,
        protected=protected,
        DESCR=descr,
        name=name,
    )


# --------------------------------------------------------------------------
# German credit
# --------------------------------------------------------------------------
_GERMAN_COLUMNS = [
    "status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "present_employment",
    "installment_rate",
    "status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
]

_GERMAN_DESCR = """\
Statlog German Credit data
--------------------------
1,000 consumer-credit applicants of a southern German bank, 20 attributes
(7 numeric, 13 categorical). Target: 1 = bad credit risk (300 rows),
0 = good credit risk (700 rows); target_names = ["good", "bad"].
Source: UCI Machine Learning Repository, Statlog (German Credit Data),
donated by Hans Hofmann (1994). Licence: CC BY 4.0.
Codes (A11, A12, ...) are replaced by the Statlog code table (values_maps.json);
telephone and foreign_worker become "yes"/"no"; levels that never occur
(purpose "(vacation - does not exist?)", status_sex "female : single") are
dropped. status_sex is kept as a feature and encodes sex and marital status.
Protected attributes: sex ("male"/"female", derived from status_sex) and age.
Caveats:
- Old data: credits granted around 1973-1975, amounts in Deutsche Mark.
- Sampling: a stratified sample in which bad risks are heavily over-sampled
  (30% here); rates and probabilities do not transfer to any population.
- Grömping (2019, "South German Credit Data: Correcting a Widely Used Data
  Set") shows that the Statlog code table is wrong for several attributes,
  among them status and status_sex. Under her corrected table status_sex does
  not separate men from women, so the derived sex is unreliable: fairness
  findings by sex on these data should not be trusted.
- Small: 1,000 rows, some levels with fewer than 15 rows.
"""


@functools.lru_cache(maxsize=None)
def _german_frames() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    with _data_path("values_maps.json").open("r", encoding="utf-8") as fh:
        maps = json.load(fh)
    with _data_path("german.data.gz").open("rb") as fh:
        raw = pd.read_csv(
            fh,
            sep=" ",
            header=None,
            names=[*_GERMAN_COLUMNS, "credit"],
            compression="gzip",
            dtype=str,
            keep_default_na=False,
        )

    def readable(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value).strip()

    data = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for column in _GERMAN_COLUMNS:
        if column in maps:
            mapping = {code: readable(text) for code, text in maps[column].items()}
            unknown = set(raw[column]) - set(mapping)
            if unknown:  # pragma: no cover - guards the packaged files
                raise ValueError(
                    f"Unknown codes {sorted(unknown)} in column {column!r}."
                )
            present = set(raw[column])
            # Code-table order (ordinal for status, savings, employment, ...),
            # keeping only levels that occur in the data; "no" before "yes".
            levels = list(dict.fromkeys(t for c, t in mapping.items() if c in present))
            if set(levels) == {"no", "yes"}:
                levels = ["no", "yes"]
            data[column] = _categorical(raw[column].map(mapping), levels)
        else:
            data[column] = raw[column].astype(np.int64)

    target = _binary_target(raw["credit"].astype(np.int64), positive=2, negative=1)
    sex = data["status_sex"].astype(str).str.split(":").str[0].str.strip()
    protected = pd.DataFrame(
        {
            "sex": _categorical(sex, ["female", "male"]),
            "age": data["age"].copy(),
        },
        index=data.index,
    )
    return data, target, protected


def load_german_credit(*, as_frame: bool = True) -> Bunch:
    """Load the Statlog German credit data (1,000 applicants, target 1 = bad risk).

    Parameters
    ----------
    as_frame : bool, default=True
        Must be True: the data mix numeric and categorical columns. False
        raises a ``ValueError``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with attributes

        - ``data`` : DataFrame of shape (1000, 20), the features; 13 columns
          are ``category`` with readable levels (``"... < 0 DM"``).
        - ``target`` : Series of shape (1000,), int64, 1 = bad credit risk.
        - ``frame`` : DataFrame of shape (1000, 21), features and ``"target"``.
        - ``target_names`` : ``["good", "bad"]``.
        - ``feature_names``, ``categorical_features`` : lists of column names.
        - ``protected`` : DataFrame with ``sex`` (category, derived from
          ``status_sex``) and ``age``, aligned with ``data``.
        - ``DESCR`` : str, source, licence and caveats (read them: the sex
          coding of these data is known to be unreliable).
        - ``name`` : ``"german_credit"``.

    Examples
    --------
    >>> from rulekd.datasets import load_german_credit
    >>> bunch = load_german_credit()
    >>> bunch.data.shape
    (1000, 20)
    >>> int(bunch.target.sum())
    300
    >>> bunch.data["housing"].cat.categories.tolist()
    ['rent', 'own', 'for free']
    """
    _check_as_frame(as_frame, "load_german_credit", mixed=True)
    data, target, protected = _german_frames()
    return _make_bunch(
        name="german_credit",
        data=data,
        target=target,
        protected=protected,
        target_names=["good", "bad"],
        descr=_GERMAN_DESCR,
    )


# --------------------------------------------------------------------------
# Adult (census income)
# --------------------------------------------------------------------------
_ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
]
_ADULT_SPLITS = ("train", "test", "all")

_ADULT_DESCR = """\
Adult (Census Income) data
--------------------------
Persons from the 1994 US Current Population Survey, 14 attributes (6 numeric,
8 categorical). Standard split: train 32,561 rows (adult.data), test 16,281
rows (adult.test); split="all" stacks them, train first (48,842 rows).
Target: 1 = income > 50K a year (about 24%); target_names = ["<=50K", ">50K"].
Source: UCI Machine Learning Repository, Adult, Becker & Kohavi (1996).
Licence: CC BY 4.0.
Missing values ("?" in the files) are NaN in workclass, occupation and
native_country (about 7% of rows). Category levels are the union over both
files, so train and test share them.
Protected attributes: sex, race and age.
Caveats:
- Old data: 1994 incomes, not adjusted for inflation; $50K then is roughly
  $100K today.
- Sampling: rows were filtered (age > 16, gross income > 100, hours > 0);
  fnlwgt is a survey weight, not a property of the person.
- Imbalance: about two thirds of rows are male and 85% White; small groups
  (Amer-Indian-Eskimo, Other) give unstable per-group estimates.
- relationship ("Husband", "Wife") and marital_status are close proxies for
  sex; dropping sex does not remove it from the data.
"""


def _read_adult_file(name: str, *, skiprows: int) -> pd.DataFrame:
    with _data_path(name).open("rb") as fh:
        df = pd.read_csv(
            fh,
            header=None,
            names=[*_ADULT_COLUMNS, "income"],
            compression="gzip",
            skiprows=skiprows,
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
            skip_blank_lines=True,
        )
    for column in df.columns:
        if not pd.api.types.is_numeric_dtype(df[column]):
            df[column] = df[column].str.strip()
    df["income"] = df["income"].str.rstrip(".")
    return df


@functools.lru_cache(maxsize=None)
def _adult_frames() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, int]:
    train = _read_adult_file("adult.data.gz", skiprows=0)
    # The test file opens with the line "|1x3 Cross validator".
    test = _read_adult_file("adult.test.gz", skiprows=1)
    raw = pd.concat([train, test], ignore_index=True)

    data = pd.DataFrame(index=raw.index)
    for column in _ADULT_COLUMNS:
        if pd.api.types.is_numeric_dtype(raw[column]):
            data[column] = raw[column].astype(np.int64)
        else:
            levels = sorted(raw[column].dropna().unique())
            data[column] = _categorical(raw[column], levels)
    target = _binary_target(raw["income"], positive=">50K", negative="<=50K")
    protected = data[["sex", "race", "age"]].copy()
    return data, target, protected, len(train)


def load_adult(*, split: str = "train", as_frame: bool = True) -> Bunch:
    """Load the Adult census-income data (target 1 = income > 50K).

    Parameters
    ----------
    split : {"train", "test", "all"}, default="train"
        The standard UCI split: ``"train"`` (32,561 rows), ``"test"``
        (16,281 rows) or ``"all"`` (both stacked, train first, 48,842 rows).
        Rows are indexed 0 .. n-1 within the returned split.
    as_frame : bool, default=True
        Must be True: the data mix numeric and categorical columns. False
        raises a ``ValueError``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with attributes

        - ``data`` : DataFrame of shape (n, 14); 8 ``category`` columns whose
          missing values (``"?"`` in the files) are NaN.
        - ``target`` : Series of shape (n,), int64, 1 = income > 50K.
        - ``frame`` : DataFrame of shape (n, 15), features and ``"target"``.
        - ``target_names`` : ``["<=50K", ">50K"]``.
        - ``feature_names``, ``categorical_features`` : lists of column names.
        - ``protected`` : DataFrame with ``sex``, ``race`` and ``age``.
        - ``DESCR`` : str, source, licence and caveats.
        - ``name`` : ``"adult"``.

    Examples
    --------
    >>> from rulekd.datasets import load_adult
    >>> bunch = load_adult(split="test")
    >>> bunch.data.shape
    (16281, 14)
    >>> bunch.target_names
    ['<=50K', '>50K']
    """
    if split not in _ADULT_SPLITS:
        raise ValueError(
            f"The 'split' parameter of load_adult must be one of "
            f"{', '.join(repr(s) for s in _ADULT_SPLITS)}. Got {split!r} instead."
        )
    _check_as_frame(as_frame, "load_adult", mixed=True)
    data, target, protected, n_train = _adult_frames()
    if split != "all":
        rows = slice(0, n_train) if split == "train" else slice(n_train, None)
        data = data.iloc[rows].reset_index(drop=True)
        target = target.iloc[rows].reset_index(drop=True)
        protected = protected.iloc[rows].reset_index(drop=True)
    return _make_bunch(
        name="adult",
        data=data,
        target=target,
        protected=protected,
        target_names=["<=50K", ">50K"],
        descr=_ADULT_DESCR,
    )


# --------------------------------------------------------------------------
# COMPAS
# --------------------------------------------------------------------------
_COMPAS_FEATURES = [
    "sex",
    "age",
    "race",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
    "c_charge_degree",
]

_CHARGE_DEGREES = {"F": "felony", "M": "misdemeanour"}  # the raw codes of c_charge_degree ("O" is filtered out)
_COMPAS_DESCR = """\
ProPublica COMPAS recidivism data (Broward County, Florida)
-----------------------------------------------------------
Defendants screened with COMPAS in 2013-2014, followed for two years.
6,172 of the 7,214 raw rows remain after ProPublica's filter:
abs(days_b_screening_arrest) <= 30, is_recid != -1, c_charge_degree != "O",
score_text != "N/A". Features (8): sex, age, race, juvenile felony,
misdemeanour and other counts, priors_count, c_charge_degree ("felony" or
"misdemeanour"; the raw file's "F" / "M"). The COMPAS scores (decile_score, score_text, v_*) and
later outcomes (is_recid, r_*, vr_*, dates) are deliberately left out.
Target: two_year_recid, 1 = new arrest within two years (2,809 rows, 46%);
target_names = ["no_recid", "recid"].
Source: ProPublica compas-analysis, Angwin et al., "Machine Bias" (2016).
Licence: publicly released by ProPublica; no open-data licence is attached,
so cite the source and check ProPublica's terms before redistributing.
Protected attributes: sex, race and age.
Caveats:
- The label is re-arrest, not re-offence: it inherits policing bias, which
  differs by race and neighbourhood.
- One county, two years, over a decade old; not representative of other
  courts. Race categories are those recorded by Broward County.
- Small groups: Asian (31) and Native American (11) rows.
- priors_count and decile_score appear twice in the raw file's header
  (identical copies); the first priors_count is used.
"""


@functools.lru_cache(maxsize=None)
def _compas_frames() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    with _data_path("compas-scores-two-years.csv.gz").open("rb") as fh:
        # The header repeats "decile_score" and "priors_count"; pandas renames
        # the second copies to "decile_score.1" and "priors_count.1". The
        # copies are identical, and only the first priors_count is kept.
        raw = pd.read_csv(fh, compression="gzip")
    score_text = raw["score_text"]
    keep = (
        (raw["days_b_screening_arrest"].abs() <= 30)  # NaN compares False
        & (raw["is_recid"] != -1)
        & (raw["c_charge_degree"] != "O")
        & score_text.notna()  # pandas reads the token "N/A" as NaN
        & (score_text != "N/A")
    )
    raw = raw.loc[keep].reset_index(drop=True)

    data = pd.DataFrame(index=raw.index)
    for column in _COMPAS_FEATURES:
        if column == "c_charge_degree":  # readable levels, in the codes' order
            data[column] = _categorical(raw[column].map(_CHARGE_DEGREES), list(_CHARGE_DEGREES.values()))
        elif column in {"sex", "race"}:
            data[column] = _categorical(raw[column], sorted(raw[column].unique()))
        else:
            data[column] = raw[column].astype(np.int64)
    target = _binary_target(
        raw["two_year_recid"].astype(np.int64), positive=1, negative=0
    )
    protected = data[["sex", "race", "age"]].copy()
    return data, target, protected


def load_compas(*, as_frame: bool = True) -> Bunch:
    """Load the ProPublica COMPAS two-year recidivism data (6,172 defendants).

    The usual ProPublica filter is applied and no COMPAS score or later
    outcome is among the features.

    Parameters
    ----------
    as_frame : bool, default=True
        Must be True: the data mix numeric and categorical columns. False
        raises a ``ValueError``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with attributes

        - ``data`` : DataFrame of shape (6172, 8); ``sex``, ``race`` and
          ``c_charge_degree`` (``"felony"``/``"misdemeanour"``) are ``category``.
        - ``target`` : Series of shape (6172,), int64, 1 = re-arrested within
          two years.
        - ``frame`` : DataFrame of shape (6172, 9), features and ``"target"``.
        - ``target_names`` : ``["no_recid", "recid"]``.
        - ``feature_names``, ``categorical_features`` : lists of column names.
        - ``protected`` : DataFrame with ``sex``, ``race`` and ``age``.
        - ``DESCR`` : str, source, licence and caveats.
        - ``name`` : ``"compas"``.

    Examples
    --------
    >>> from rulekd.datasets import load_compas
    >>> bunch = load_compas()
    >>> bunch.data.shape
    (6172, 8)
    >>> "decile_score" in bunch.data.columns
    False
    """
    _check_as_frame(as_frame, "load_compas", mixed=True)
    data, target, protected = _compas_frames()
    return _make_bunch(
        name="compas",
        data=data,
        target=target,
        protected=protected,
        target_names=["no_recid", "recid"],
        descr=_COMPAS_DESCR,
    )


# --------------------------------------------------------------------------
# Heart disease (Cleveland)
# --------------------------------------------------------------------------
_HEART_FEATURES = [
    "age",
    "sex",
    "cp",
    "trestbps",
    "chol",
    "fbs",
    "restecg",
    "thalach",
    "exang",
    "oldpeak",
    "slope",
    "ca",
    "thal",
]
_HEART_THAL_LEVELS = ["normal", "fixed", "reversible"]

_HEART_DESCR = """\
Cleveland heart disease data
----------------------------
303 patients of the Cleveland Clinic Foundation, 13 attributes. thal is a
category (normal, fixed, reversible defect); the other 12 stay numeric as in
the file, although sex (1 = male), cp (chest pain type), fbs, restecg, exang
and slope are codes rather than measurements.
Target: 1 = file's target == 1 (83 rows, 27%); target_names =
["no_disease", "disease"].
Source: UCI Machine Learning Repository, Heart Disease, Janosi, Steinbrunn,
Pfisterer & Detrano (1988). Licence: CC BY 4.0.
Protected attributes: sex ("female"/"male", from sex 0/1) and age.
Caveats:
- This copy is not the raw UCI file: it has no "?" marks, its target has 83
  positives where UCI's num > 0 has 139, cp holds a code 0 (4 rows) outside
  UCI's 1-4, and thal holds "1" and "2" (one row each) outside its three
  levels. Those two thal values are set to NaN here; cp is left as is.
  Treat the label and these codes with care.
- Small and old: 303 patients referred for angiography in the 1980s.
- Skewed: about two thirds of the patients are men, so estimates for women
  rest on about 100 rows.
"""


@functools.lru_cache(maxsize=None)
def _heart_frames() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    with _data_path("heart.csv").open("rb") as fh:
        raw = pd.read_csv(fh, na_values=["?", ""], keep_default_na=False)
    raw.columns = [c.strip() for c in raw.columns]

    data = pd.DataFrame(index=raw.index)
    for column in _HEART_FEATURES:
        if column == "thal":
            thal = raw[column].astype(str).str.strip()
            thal = thal.where(thal.isin(_HEART_THAL_LEVELS))  # "?", "1", "2" -> NaN
            data[column] = _categorical(thal, _HEART_THAL_LEVELS)
        elif column == "oldpeak" or raw[column].isna().any():
            data[column] = raw[column].astype(np.float64)
        else:
            data[column] = raw[column].astype(np.int64)
    target = _binary_target(raw["target"].astype(np.int64), positive=1, negative=0)
    sex = data["sex"].map({0: "female", 1: "male"})
    protected = pd.DataFrame(
        {"sex": _categorical(sex, ["female", "male"]), "age": data["age"].copy()},
        index=data.index,
    )
    return data, target, protected


def load_heart(*, as_frame: bool = True) -> Bunch:
    """Load the Cleveland heart disease data (303 patients, target 1 = disease).

    Parameters
    ----------
    as_frame : bool, default=True
        Must be True: ``thal`` is categorical. False raises a ``ValueError``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with attributes

        - ``data`` : DataFrame of shape (303, 13); ``thal`` is ``category``
          (``"normal"``, ``"fixed"``, ``"reversible"``), the rest numeric.
        - ``target`` : Series of shape (303,), int64, 1 = heart disease.
        - ``frame`` : DataFrame of shape (303, 14), features and ``"target"``.
        - ``target_names`` : ``["no_disease", "disease"]``.
        - ``feature_names``, ``categorical_features`` : lists of column names.
        - ``protected`` : DataFrame with ``sex`` (category ``"female"`` /
          ``"male"``) and ``age``.
        - ``DESCR`` : str, source, licence and caveats.
        - ``name`` : ``"heart"``.

    Examples
    --------
    >>> from rulekd.datasets import load_heart
    >>> bunch = load_heart()
    >>> bunch.data.shape
    (303, 13)
    >>> bunch.categorical_features
    ['thal']
    """
    _check_as_frame(as_frame, "load_heart", mixed=True)
    data, target, protected = _heart_frames()
    return _make_bunch(
        name="heart",
        data=data,
        target=target,
        protected=protected,
        target_names=["no_disease", "disease"],
        descr=_HEART_DESCR,
    )


# --------------------------------------------------------------------------
# Breast cancer (Wisconsin diagnostic), from scikit-learn
# --------------------------------------------------------------------------
_BREAST_CANCER_DESCR = """\
Breast Cancer Wisconsin (Diagnostic) data
-----------------------------------------
569 fine-needle aspirates of breast masses, 30 numeric features (mean,
standard error and worst value of 10 nucleus measurements from digitised
images). Loaded from scikit-learn (sklearn.datasets.load_breast_cancer).
Target: scikit-learn's coding is kept: 0 = malignant (212 rows),
1 = benign (357 rows); target_names = ["malignant", "benign"]. Note that
this is the reverse of the other rulekd data sets, where 1 is the adverse
outcome: to predict malignancy use 1 - target.
Source: UCI Machine Learning Repository, Breast Cancer Wisconsin
(Diagnostic), Wolberg, Street & Mangasarian (1995). Licence: CC BY 4.0.
Protected attributes: none are recorded (protected is empty).
Caveats:
- One clinic (University of Wisconsin Hospitals), early 1990s.
- A clinical case series, not a screening population: the malignant
  share (37%) is far above what screening sees.
- Features are strongly correlated (radius, perimeter and area).
"""


@functools.lru_cache(maxsize=None)
def _breast_cancer_frames() -> tuple[pd.DataFrame, pd.Series, list[str]]:
    from sklearn.datasets import load_breast_cancer as _sk_load

    sk = _sk_load(as_frame=True)
    data = sk.data.astype(np.float64)
    target = sk.target.astype(np.int64).rename("target")
    return data, target, [str(t) for t in sk.target_names]


def load_breast_cancer(*, as_frame: bool = True) -> Bunch:
    """Load the Wisconsin diagnostic breast cancer data (target 0 = malignant).

    A thin wrapper around :func:`sklearn.datasets.load_breast_cancer` that
    adds the fields every rulekd loader returns. scikit-learn's target coding
    is kept: 0 = malignant, 1 = benign.

    Parameters
    ----------
    as_frame : bool, default=True
        If True, ``data``, ``target``, ``frame`` and ``protected`` are pandas
        objects. If False, ``data`` is a float64 ndarray of shape (569, 30),
        ``target`` an int64 ndarray of shape (569,), ``protected`` an empty
        ndarray of shape (569, 0) and ``frame`` is None.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        Dictionary-like object with attributes

        - ``data`` : DataFrame of shape (569, 30), all float64.
        - ``target`` : Series of shape (569,), int64, 0 = malignant,
          1 = benign.
        - ``frame`` : DataFrame of shape (569, 31), features and ``"target"``.
        - ``target_names`` : ``["malignant", "benign"]``.
        - ``feature_names`` : list of 30 names; ``categorical_features`` : [].
        - ``protected`` : empty DataFrame with the same index as ``data``.
        - ``DESCR`` : str, source, licence and caveats.
        - ``name`` : ``"breast_cancer"``.

    Examples
    --------
    >>> from rulekd.datasets import load_breast_cancer
    >>> bunch = load_breast_cancer()
    >>> bunch.data.shape, bunch.protected.shape
    ((569, 30), (569, 0))
    >>> bunch.target_names
    ['malignant', 'benign']
    """
    _check_as_frame(as_frame, "load_breast_cancer", mixed=False)
    data, target, target_names = _breast_cancer_frames()
    bunch = _make_bunch(
        name="breast_cancer",
        data=data,
        target=target,
        protected=pd.DataFrame(index=data.index),
        target_names=target_names,
        descr=_BREAST_CANCER_DESCR,
    )
    if not as_frame:
        # copy=True: pandas 3 returns a read-only view where the dtype already matches.
        bunch.data = bunch.data.to_numpy(dtype=np.float64, copy=True)
        bunch.target = bunch.target.to_numpy(dtype=np.int64, copy=True)
        bunch.protected = np.empty((len(data), 0), dtype=np.float64)
        bunch.frame = None
    return bunch


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------
_LOADERS: dict[str, Callable[..., Bunch]] = {
    "german_credit": load_german_credit,
    "adult": load_adult,
    "compas": load_compas,
    "heart": load_heart,
    "breast_cancer": load_breast_cancer,
}


def list_datasets() -> tuple[str, ...]:
    """Return the names accepted by :func:`load_dataset`.

    Returns
    -------
    names : tuple of str
        ``("german_credit", "adult", "compas", "heart", "breast_cancer")``.

    Examples
    --------
    >>> from rulekd.datasets import list_datasets
    >>> list_datasets()
    ('german_credit', 'adult', 'compas', 'heart', 'breast_cancer')
    """
    return tuple(_LOADERS)


def load_dataset(name: str, **kwargs: Any) -> Bunch:
    """Load a packaged data set by name.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    **kwargs
        Passed on to the loader, e.g. ``split="test"`` for ``"adult"``.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        What the loader ``load_<name>`` returns.

    Raises
    ------
    ValueError
        If ``name`` is not a known data set.

    Examples
    --------
    >>> from rulekd.datasets import load_dataset
    >>> load_dataset("adult", split="test").name
    'adult'
    """
    try:
        loader = _LOADERS[name]
    except (KeyError, TypeError):
        valid = ", ".join(repr(n) for n in _LOADERS)
        raise ValueError(
            f"Unknown data set {name!r}. Valid names are: {valid}. "
            "See rulekd.datasets.list_datasets()."
        ) from None
    return loader(**kwargs)
