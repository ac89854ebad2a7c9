"""Tests for rulekd.datasets: shapes, dtypes, levels, targets and copy safety."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from rulekd.datasets import (
    list_datasets,
    load_adult,
    load_breast_cancer,
    load_compas,
    load_dataset,
    load_german_credit,
    load_heart,
)

EXPECTED = {
    # name: (rows, features, positives, protected columns)
    "german_credit": (1000, 20, 300, ["sex", "age"]),
    "adult": (32561, 14, 7841, ["sex", "race", "age"]),
    "compas": (6172, 8, 2809, ["sex", "race", "age"]),
    "heart": (303, 13, 83, ["sex", "age"]),
    "breast_cancer": (569, 30, 357, []),
}


def test_list_datasets_names_every_loader():
    assert list_datasets() == (
        "german_credit",
        "adult",
        "compas",
        "heart",
        "breast_cancer",
    )


@pytest.mark.parametrize("name", list(EXPECTED))
def test_bunch_shapes_and_fields(name):
    rows, n_features, positives, protected_cols = EXPECTED[name]
    bunch = load_dataset(name)

    assert bunch.name == name
    assert bunch.data.shape == (rows, n_features)
    assert bunch.feature_names == list(bunch.data.columns)
    assert isinstance(bunch.target, pd.Series)
    assert bunch.target.name == "target"
    assert bunch.target.dtype == np.int64
    assert set(bunch.target.unique()) == {0, 1}
    assert int(bunch.target.sum()) == positives
    assert isinstance(bunch.target_names, list) and len(bunch.target_names) == 2

    assert list(bunch.frame.columns) == [*bunch.feature_names, "target"]
    pd.testing.assert_frame_equal(bunch.frame[bunch.feature_names], bunch.data)
    pd.testing.assert_series_equal(bunch.frame["target"], bunch.target)

    assert list(bunch.protected.columns) == protected_cols
    assert bunch.protected.index.equals(bunch.data.index)
    assert bunch.data.index.equals(pd.RangeIndex(rows))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_column_dtypes_are_category_or_numeric(name):
    bunch = load_dataset(name)
    categorical = [
        c
        for c in bunch.data.columns
        if isinstance(bunch.data[c].dtype, pd.CategoricalDtype)
    ]
    assert bunch.categorical_features == categorical
    for column in bunch.data.columns:
        if column in categorical:
            continue
        assert bunch.data[column].dtype in (np.int64, np.float64), column


@pytest.mark.parametrize("name", list(EXPECTED))
def test_category_levels_are_stripped_strings(name):
    data = load_dataset(name).data
    for column in load_dataset(name).categorical_features:
        for level in data[column].cat.categories:
            assert isinstance(level, str)
            assert level == level.strip(), (column, level)
            assert level not in {"", "?"}, (column, level)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_descr_states_licence_source_and_rows(name):
    rows = EXPECTED[name][0]
    descr = load_dataset(name).DESCR
    assert "Licence:" in descr
    assert "Source:" in descr
    assert "Caveats:" in descr
    assert f"{rows:,}" in descr or str(rows) in descr
    assert 10 <= len(descr.splitlines()) <= 25


# -- German credit --------------------------------------------------------
def test_german_credit_has_no_raw_codes_left():
    bunch = load_german_credit()
    code = re.compile(r"^A\d+$")
    for column in bunch.categorical_features:
        assert not any(code.match(level) for level in bunch.data[column].cat.categories)
    assert len(bunch.categorical_features) == 13
    assert "... < 0 DM" in bunch.data["status"].cat.categories
    # "0 <= ... < 200 DM " carries a trailing space in values_maps.json.
    assert "0 <= ... < 200 DM" in bunch.data["status"].cat.categories
    assert bunch.data["telephone"].cat.categories.tolist() == ["no", "yes"]
    assert bunch.data["foreign_worker"].value_counts()["yes"] == 963


def test_german_credit_target_is_bad_risk():
    bunch = load_german_credit()
    assert bunch.target_names == ["good", "bad"]
    assert int((bunch.target == 1).sum()) == 300


def test_german_credit_sex_follows_status_sex():
    bunch = load_german_credit()
    sex = bunch.protected["sex"]
    assert sex.cat.categories.tolist() == ["female", "male"]
    assert sex.value_counts().to_dict() == {"male": 690, "female": 310}
    prefix = bunch.data["status_sex"].astype(str).str.split(" : ").str[0]
    assert (prefix == sex.astype(str)).all()
    pd.testing.assert_series_equal(bunch.protected["age"], bunch.data["age"])


# -- Adult ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("split", "rows", "positives"),
    [("train", 32561, 7841), ("test", 16281, 3846), ("all", 48842, 11687)],
)
def test_adult_splits(split, rows, positives):
    bunch = load_adult(split=split)
    assert bunch.data.shape == (rows, 14)
    assert int(bunch.target.sum()) == positives
    assert bunch.target_names == ["<=50K", ">50K"]


def test_adult_missing_values_are_nan():
    data = load_adult().data
    missing = data.isna().sum()
    assert missing[missing > 0].to_dict() == {
        "workclass": 1836,
        "occupation": 1843,
        "native_country": 583,
    }
    assert "?" not in data["workclass"].cat.categories


def test_adult_train_and_test_share_levels():
    train, test = load_adult(split="train").data, load_adult(split="test").data
    for column in load_adult().categorical_features:
        assert train[column].dtype == test[column].dtype, column
    # Holand-Netherlands occurs only in the training file.
    assert "Holand-Netherlands" in test["native_country"].cat.categories


def test_adult_all_is_train_then_test():
    train, test, both = (load_adult(split=s) for s in ("train", "test", "all"))
    expected = pd.concat([train.frame, test.frame], ignore_index=True)
    pd.testing.assert_frame_equal(both.frame, expected)


def test_adult_rejects_unknown_split():
    with pytest.raises(ValueError, match="'train', 'test', 'all'.*Got 'validation'"):
        load_adult(split="validation")


# -- COMPAS ---------------------------------------------------------------
def test_compas_leaves_out_scores_and_outcomes():
    bunch = load_compas()
    assert bunch.feature_names == [
        "sex",
        "age",
        "race",
        "juv_fel_count",
        "juv_misd_count",
        "juv_other_count",
        "priors_count",
        "c_charge_degree",
    ]
    for column in bunch.frame.columns:
        assert "score" not in column
        assert not column.startswith(("v_", "r_", "vr_", "is_", "decile"))
    assert bunch.target_names == ["no_recid", "recid"]


def test_compas_categories():
    data = load_compas().data
    assert data["c_charge_degree"].cat.categories.tolist() == ["felony", "misdemeanour"]  # not the raw F / M
    assert data["sex"].cat.categories.tolist() == ["Female", "Male"]
    assert data["race"].value_counts()["African-American"] == 3175


def test_compas_raw_duplicate_columns_are_identical():
    """The raw header repeats decile_score and priors_count; the copies agree."""
    data_dir = resources.files("rulekd.datasets") / "data"
    path = data_dir / "compas-scores-two-years.csv.gz"
    with path.open("rb") as fh:
        raw = pd.read_csv(fh, compression="gzip")
    assert len(raw) == 7214
    for column in ("decile_score", "priors_count"):
        assert (raw[column] == raw[f"{column}.1"]).all()


# -- Heart ----------------------------------------------------------------
def test_heart_thal_is_category_and_invalid_codes_missing():
    bunch = load_heart()
    assert bunch.categorical_features == ["thal"]
    levels = bunch.data["thal"].cat.categories.tolist()
    assert levels == ["normal", "fixed", "reversible"]
    assert int(bunch.data["thal"].isna().sum()) == 2
    assert int(bunch.data.drop(columns="thal").isna().sum().sum()) == 0
    assert bunch.data["oldpeak"].dtype == np.float64
    assert bunch.target_names == ["no_disease", "disease"]


def test_heart_protected_sex_is_readable():
    bunch = load_heart()
    sex = bunch.protected["sex"]
    assert (sex.astype(str) == bunch.data["sex"].map({0: "female", 1: "male"})).all()
    assert sex.value_counts().to_dict() == {"male": 205, "female": 98}
    pd.testing.assert_series_equal(bunch.protected["age"], bunch.data["age"])


# -- Breast cancer --------------------------------------------------------
def test_breast_cancer_keeps_sklearn_coding():
    bunch = load_breast_cancer()
    assert bunch.target_names == ["malignant", "benign"]
    assert int((bunch.target == 0).sum()) == 212
    assert "0 = malignant" in bunch.DESCR
    assert bunch.protected.shape == (569, 0)
    assert bunch.categorical_features == []


def test_breast_cancer_as_arrays():
    bunch = load_breast_cancer(as_frame=False)
    assert isinstance(bunch.data, np.ndarray) and bunch.data.shape == (569, 30)
    assert bunch.data.dtype == np.float64
    assert isinstance(bunch.target, np.ndarray) and bunch.target.dtype == np.int64
    assert bunch.frame is None
    assert bunch.protected.shape == (569, 0)
    np.testing.assert_array_equal(bunch.data, load_breast_cancer().data.to_numpy())
    # Writeable, as scikit-learn's are (pandas 3 gave read-only views): users shuffle and centre in place.
    assert bunch.data.flags.writeable and bunch.target.flags.writeable
    bunch.data -= bunch.data.mean(axis=0)


# -- Errors and copies ----------------------------------------------------
@pytest.mark.parametrize("name", ["german_credit", "adult", "compas", "heart"])
def test_as_frame_false_is_refused_for_mixed_types(name):
    with pytest.raises(ValueError, match="as_frame=True"):
        load_dataset(name, as_frame=False)


def test_as_frame_must_be_bool():
    with pytest.raises(TypeError, match="must be a bool"):
        load_heart(as_frame="yes")


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown data set 'titanic'") as info:
        load_dataset("titanic")
    for name in list_datasets():
        assert repr(name) in str(info.value)


def test_load_dataset_passes_keywords():
    assert load_dataset("adult", split="test").data.shape[0] == 16281


@pytest.mark.parametrize("name", list(EXPECTED))
def test_returned_objects_are_independent_copies(name):
    first = load_dataset(name)
    column = first.feature_names[0]
    before = load_dataset(name)

    if isinstance(first.data[column].dtype, pd.CategoricalDtype):
        first.data[column] = first.data[column].cat.rename_categories(
            lambda c: f"edited {c}"
        )
    else:
        first.data.iloc[:, 0] = -1
    for extra in first.feature_names[1:]:
        del first.data[extra]
    first.target.iloc[:] = 1 - first.target
    first.frame.iloc[0, -1] = 7
    if first.protected.shape[1]:
        first.protected.iloc[:, -1] = -1

    after = load_dataset(name)
    pd.testing.assert_frame_equal(after.frame, before.frame)
    pd.testing.assert_frame_equal(after.data, before.data)
    pd.testing.assert_series_equal(after.target, before.target)
    pd.testing.assert_frame_equal(after.protected, before.protected)


def test_data_and_frame_of_one_bunch_are_independent():
    bunch = load_compas()
    bunch.data.loc[0, "age"] = -1
    assert bunch.frame.loc[0, "age"] != -1
