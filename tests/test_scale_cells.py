"""Engines: household Parquet → cells equal to the pandas reference ``did.cells.reduce_cells``.

DuckDB tests run in-process. The Spark tests (marked slow) share one local session for the whole test run
(fixture ``spark_engine``: ``local[2]``, no web UI, driver on 127.0.0.1) and skip with a clear reason when no
Java runtime is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from welfare_eval.did.cells import cell_columns
from welfare_eval.did.cells import reduce_cells as reduce_ref
from welfare_eval.scale import cell_means, connect, parquet_files, reduce_cells

VARS = ["income", "welfare_receipt", "savings", "hh_size", "elderly"]
PT = {"year": "int64"}


def read_rows(root: Path, where=None) -> pd.DataFrame:
    """The household rows as pandas, partition keys typed as the engine reads them."""
    part = ds.partitioning(pa.schema([("year", pa.int64()), ("province_code", pa.string())]), flavor="hive")
    return ds.dataset(root, partitioning=part).to_table(filter=where).to_pandas()


def assert_cells_equal(got: pd.DataFrame, want: pd.DataFrame, *, rtol: float = 1e-12) -> None:
    """Same columns and order, identical keys/carry/counts, sums equal to ``rtol`` (summation order)."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    moments = [c for c in got.columns if c.startswith("sum_w")]
    exact = [c for c in got.columns if c not in moments]
    for c in exact:
        assert got[c].astype(str).tolist() == want[c].astype(str).tolist(), c
    assert (got["n_rows"].to_numpy() == want["n_rows"].to_numpy()).all()
    for c in moments:
        np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=rtol, atol=0, err_msg=c)


def test_duckdb_cells_equal_reference(national_small):
    root = national_small.households
    rows = read_rows(root)
    want = reduce_ref(rows, keys=["village_id", "year"], variables=VARS, weights="weight", carry=["province_code"])
    got = reduce_cells(
        root, keys=["village_id", "year"], variables=VARS, weights="weight", carry=["province_code"], partition_types=PT
    )
    assert_cells_equal(got, want)
    assert got["village_id"].dtype == "string" and got["year"].dtype == "int64"
    assert got["n_rows"].sum() == national_small.n_rows
    # Σ weights of a village-year = its number of households (nonresponse weights)
    hh = national_small.villages.set_index("village_id")["n_households"]
    np.testing.assert_allclose(got["sum_w"], hh.loc[got["village_id"].astype(str)].to_numpy(), rtol=1e-12)


def test_duckdb_filters_unweighted_and_other_keys(national_small):
    root = national_small.households
    provs = sorted(national_small.villages["province_code"].unique())[:9]
    where = [("year", ">=", 2026), ("province_code", "in", provs), ("hh_size", "!=", 3)]
    flt = (ds.field("year") >= 2026) & ds.field("province_code").isin(provs) & (ds.field("hh_size") != 3)
    rows = read_rows(root, flt)
    assert rows["province_code"].nunique() == 9
    for kw in (
        dict(keys=["village_id", "year"], variables=["income", "farm"]),
        dict(keys=["province_code", "year", "elderly"], variables=["savings"], weights="weight"),
    ):
        want = reduce_ref(rows, **kw)
        got = reduce_cells(root, where=where, partition_types=PT, **kw)
        assert_cells_equal(got, want)
    # an engine reused over several reductions; a filter that keeps nothing gives an empty cell table
    with connect("duckdb", threads=1) as eng:
        a = reduce_cells(root, keys=["year"], variables=["income"], engine=eng, partition_types=PT)
        empty = reduce_cells(
            root, keys=["year"], variables=["income"], engine=eng, where=[("year", ">", 2100)], partition_types=PT
        )
        with pytest.raises(ValueError, match="cannot compare column 'year' of type string with 2100"):
            reduce_cells(root, keys=["year"], variables=["income"], engine=eng, where=[("year", ">", 2100)])
    assert a["n_rows"].sum() == national_small.n_rows
    assert empty.empty and list(empty.columns) == ["year", "n_rows", *cell_columns(["income"])]


def test_join_with_the_village_table_in_the_engine(national_small):
    """Household rows joined with the village frame inside the engine: the cells carry the adoption cohort."""
    villages = national_small.villages[["village_id", "cohort", "region"]]
    with connect("duckdb") as eng:
        hh = eng.read_parquet(national_small.households, partition_types=PT)
        joined = hh.join(eng.from_pandas(villages), "village_id")
        got = reduce_cells(
            joined, keys=["village_id", "year"], variables=["income"], weights="weight",
            carry=["province_code", "cohort", "region"], engine=eng,
        )
    rows = read_rows(national_small.households).merge(villages, on="village_id", validate="many_to_one")
    want = reduce_ref(rows, keys=["village_id", "year"], variables=["income"], weights="weight",
                      carry=["province_code", "cohort", "region"])
    assert_cells_equal(got, want)
    assert (got["cohort"] > 0).sum() == 3 * (national_small.villages["cohort"] > 0).sum()


def _tiny(tmp_path: Path, **cols) -> Path:
    base = {
        "village_id": ["01", "01", "02", "02"],
        "year": [1, 1, 1, 2],
        "y": [1.0, 2.0, 3.0, 4.0],
        "w": [1.0, 2.0, 1.0, 1.0],
        "prov": ["a", "a", "b", "b"],
    }
    base.update(cols)
    path = tmp_path / "tiny.parquet"
    pd.DataFrame(base).to_parquet(path)
    return path


def test_single_file_folder_and_booleans(tmp_path: Path):
    path = _tiny(tmp_path, flag=[True, False, True, True])
    df = pd.read_parquet(path)
    want = reduce_ref(df, keys=["village_id", "year"], variables=["y", "flag"], weights="w", carry=["prov"])
    assert_cells_equal(reduce_cells(path, keys=["village_id", "year"], variables=["y", "flag"], weights="w", carry=["prov"]), want)
    assert_cells_equal(reduce_cells(tmp_path, keys=["village_id", "year"], variables=["y", "flag"], weights="w", carry=["prov"]), want)
    _root, files, keys = parquet_files(tmp_path)
    assert files == [path] and keys == []


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_infinite_values_are_not_missing(tmp_path: Path):
    """+inf and -inf in one cell make its sums NaN (the probe flags it) but are not missing values: the
    reference keeps them, and so does the engine."""
    path = _tiny(tmp_path, y=[np.inf, -np.inf, 3.0, 4.0])
    want = reduce_ref(pd.read_parquet(path), keys=["village_id", "year"], variables=["y"])
    got = reduce_cells(path, keys=["village_id", "year"], variables=["y"])
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert np.isnan(got["sum_w__y"].iloc[0])
    with pytest.raises(ValueError, match="carry columns must not be keys"):
        reduce_cells(path, keys=["village_id", "year"], variables=["y"], carry=["year"])


@pytest.mark.parametrize(
    ("cols", "kw", "msg"),
    [
        ({"y": [1.0, np.nan, 3.0, 4.0]}, {}, r"1 row\(s\) with missing values .*\['y'\].*'village_id': '01'"),
        ({"y": [1.0, None, 3.0, None]}, {}, r"2 row\(s\) with missing values"),
        ({"village_id": ["01", None, "02", "02"]}, {}, r"missing values .*\['village_id'\]"),
        ({"w": [1.0, -2.0, 1.0, 1.0]}, {"weights": "w"}, r"weight 'w' is negative in 1 row"),
        ({"w": [1.0, 1.0, np.nan, 1.0]}, {"weights": "w"}, r"missing values .*\['w'\]"),
        ({"prov": ["a", "b", "b", "b"]}, {"carry": ["prov"]}, r"carry column 'prov' varies within cell \{'village_id': '01', 'year': 1\}"),
        ({"prov": ["a", None, "b", "b"]}, {"carry": ["prov"]}, r"carry column 'prov' varies"),
        ({"y": ["1", "2", "3", "4"]}, {}, r"column 'y' has type string"),
        ({}, {"variables": ["nope"]}, r"column\(s\) \['nope'\] are not in the data"),
        ({}, {"keys": []}, r"at least one key"),
        ({}, {"variables": ["y", "y"]}, r"distinct"),
        ({}, {"where": [("y", "~", 1)]}, r"operator '~'"),
        ({}, {"where": [("y", "in", 1)]}, r"needs a list"),
        ({}, {"where": [("z", "==", 1)]}, r"column 'z' is not in the data"),
    ],
)
def test_bad_input_is_refused_like_the_reference(tmp_path: Path, cols, kw, msg):
    path = _tiny(tmp_path, **cols)
    args = {"keys": ["village_id", "year"], "variables": ["y"], **kw}
    with pytest.raises(ValueError, match=msg):
        reduce_cells(path, **args)


def test_bad_sources(tmp_path: Path, national_small):
    with pytest.raises(ValueError, match="does not exist"):
        reduce_cells(tmp_path / "none", keys=["a"], variables=["b"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no \.parquet file"):
        reduce_cells(tmp_path / "empty", keys=["a"], variables=["b"])
    mixed = tmp_path / "mixed"
    (mixed / "year=1").mkdir(parents=True)
    (mixed / "other").mkdir()
    pd.DataFrame({"a": [1]}).to_parquet(mixed / "year=1" / "p.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(mixed / "other" / "p.parquet")
    with pytest.raises(ValueError, match="not key=value partitions"):
        reduce_cells(mixed, keys=["a"], variables=["a"])
    with pytest.raises(ValueError, match="not a partition key"):
        reduce_cells(national_small.households, keys=["year"], variables=["income"], partition_types={"yr": "int64"})
    with pytest.raises(ValueError, match="partition_types\\['year'\\]"):
        reduce_cells(national_small.households, keys=["year"], variables=["income"], partition_types={"year": "int8"})
    with pytest.raises(ValueError, match="engine must be one of"):
        connect("postgres")
    # partition values stay text unless typed: province codes keep their form
    got = reduce_cells(national_small.households, keys=["province_code", "year"], variables=["income"])
    assert got["year"].dtype == "string" and got["province_code"].str.len().eq(2).all()


def test_cell_means():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"g": rng.integers(0, 4, 200), "x": rng.normal(size=200), "w": rng.uniform(0.5, 2, 200)})
    cells = reduce_ref(df, keys=["g"], variables=["x"], weights="w")
    m = cell_means(cells, ["x"])
    for g, sub in df.groupby("g"):
        mu = np.average(sub["x"], weights=sub["w"])
        var = np.average((sub["x"] - mu) ** 2, weights=sub["w"])
        row = m[m["g"] == g].iloc[0]
        assert row["mean__x"] == pytest.approx(mu, rel=1e-12)
        assert row["var__x"] == pytest.approx(var, rel=1e-9)
    with pytest.raises(ValueError, match="sum_w__x__x"):
        cell_means(cells.drop(columns="sum_w__x__x"), ["x"])


# ------------------------------------------------------------------ Spark (local mode)
@pytest.mark.slow
def test_spark_cells_equal_duckdb_and_reference(spark_engine, national_small):
    root = national_small.households
    variables = ["income", "welfare_receipt", "hh_size"]
    kw = dict(keys=["village_id", "year"], variables=variables, weights="weight", carry=["province_code"],
              partition_types=PT)
    provs = sorted(national_small.villages["province_code"].unique())[5:13]
    where = [("province_code", "in", provs), ("year", ">=", 2026)]
    spark = reduce_cells(root, engine=spark_engine, where=where, **kw)
    duck = reduce_cells(root, engine="duckdb", where=where, **kw)
    rows = read_rows(root, ds.field("province_code").isin(provs) & (ds.field("year") >= 2026))
    ref = reduce_ref(rows, keys=["village_id", "year"], variables=variables, weights="weight", carry=["province_code"])
    assert_cells_equal(spark, ref)
    assert_cells_equal(spark, duck)
    assert spark["province_code"].nunique() == 8 and set(spark["year"]) == {2026, 2027}
    for c in spark.columns:
        assert spark[c].dtype == duck[c].dtype, c


@pytest.mark.slow
def test_spark_refuses_missing_values(spark_engine, tmp_path: Path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"v": ["1", "1", "2"], "y": [1.0, np.nan, 2.0]}).to_parquet(path)
    # engine="spark" by name reuses the running session and must not stop it afterwards
    with pytest.raises(ValueError, match=r"1 row\(s\) with missing values .*\['y'\]"):
        reduce_cells(path, keys=["v"], variables=["y"], engine="spark")
    assert not spark_engine.backend._session.sparkContext._jsc.sc().isStopped()
