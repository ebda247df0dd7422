"""National mode of the simulator: frame, order-independent streaming to hive Parquet, weights, truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import welfare_eval.reference as ref
from welfare_eval.simulate.national import (
    HOUSEHOLD_COLUMNS,
    NATIONAL_OUTCOMES,
    VILLAGE_COLUMNS,
    NationalConfig,
    planted_effect,
    simulate_national,
    simulate_national_frame,
    simulate_partition,
)

# two years, one cohort: few partitions (2 × 76), so the files are quick to write; blocks of 3 villages
TINY = NationalConfig(
    years=(2025, 2026), cohorts=(2026,), cohort_shares=(1.0,), cohort_multiplier=(1.0,), block_villages=3
)


@pytest.fixture(scope="module")
def frame():
    return simulate_national_frame(seed=11, scale=0.01)


def test_frame_codes_regions_and_adoption(frame):
    v = frame.villages
    assert list(v.columns) == list(VILLAGE_COLUMNS)
    assert len(v) == 750 and v["village_id"].is_unique
    assert v["village_id"].is_monotonic_increasing
    assert all(ref.is_valid_village_code(c) for c in v["village_id"])
    assert (v["village_id"].str[:2] == v["province_code"]).all()
    assert (v["village_id"].str[2:4] == v["district_code"]).all()
    prov = ref.provinces().set_index("province_code")["region"]
    assert set(v["province_code"]) == set(prov.index)  # every province has a village
    assert (v["region"].to_numpy() == prov.loc[v["province_code"].astype(str)].to_numpy()).all()
    counts = v.loc[v["cohort"] > 0, "cohort"].value_counts().sort_index()
    assert counts.to_dict() == {2027: 4, 2028: 5, 2029: 5, 2030: 6}  # 20 adopters by shares 20/25/25/30 %
    assert (v.loc[v["cohort"] > 0, "eligible"] == 1).all()
    assert ((v["sg_age"] == 0) == (v["has_savings_group"] == 0)).all()


def test_frame_full_scale_sizes_and_selection():
    nf = simulate_national_frame(seed=2568, scale=1.0)
    v = nf.villages
    assert len(v) == 75_000
    assert 11.5e6 < v["n_households"].sum() < 12.5e6
    assert (v["cohort"] > 0).sum() == 2000
    assert int(v["district_code"].astype(int).max()) <= 99
    # selection into (early) adoption on covariates: adopters richer, older savings groups;
    # earlier cohorts have higher adoption scores
    a = v["cohort"] > 0
    elig = v["eligible"] == 1
    assert v.loc[a, "mean_income"].mean() > v.loc[elig & ~a, "mean_income"].mean() * 1.05
    assert v.loc[a, "sg_age"].mean() > v.loc[elig & ~a, "sg_age"].mean() + 2
    score = nf.latent.loc[a, "score"].groupby(v.loc[a, "cohort"]).mean()
    assert score.is_monotonic_decreasing


def test_scale_and_config_errors():
    with pytest.raises(ValueError, match="fewer than the 76 provinces"):
        simulate_national_frame(scale=0.0005)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        simulate_national_frame(scale=-1)
    with pytest.raises(ValueError, match="pre-adoption year"):
        NationalConfig(cohorts=(2025, 2027))
    with pytest.raises(ValueError, match="consecutive"):
        NationalConfig(years=(2025, 2027))
    with pytest.raises(ValueError, match="sum to 1"):
        NationalConfig(cohort_shares=(0.5, 0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="unknown outcome"):
        NationalConfig(effects={"debt": (1.0, 0.0)})
    with pytest.raises(ValueError, match="not a survey year"):
        simulate_partition(simulate_national_frame(scale=0.002), year=2040, province_code="11")
    with pytest.raises(ValueError, match="no village"):
        simulate_partition(simulate_national_frame(scale=0.002), year=2025, province_code="10")


def test_planted_effect_formula():
    assert planted_effect("income", 2027, 2026) == 0.0
    assert planted_effect("income", 0, 2030) == 0.0
    assert planted_effect("income", 2027, 2029) == pytest.approx(3000 * (1 + 0.5 * 2) * 1.2)
    assert planted_effect("savings", 2030, 2030) == pytest.approx(2000 * 0.8)
    assert planted_effect("welfare_receipt", 2028, 2030) == pytest.approx(0.08 * 1.5 * 1.0)


def test_partition_weights_and_columns(frame):
    df, _ = simulate_partition(frame, year=2027, province_code="30")
    assert list(df.columns) == [*HOUSEHOLD_COLUMNS, "year", "province_code"]
    v = frame.villages.set_index("village_id")
    tot = df.groupby("village_id")["weight"].sum()
    assert np.allclose(tot.to_numpy(), v.loc[tot.index, "n_households"].to_numpy(), rtol=1e-12)
    n = df.groupby("village_id").size()
    assert (n <= v.loc[n.index, "n_households"]).all() and (n >= 1).all()
    assert 0.9 < n.sum() / v.loc[n.index, "n_households"].sum() < 0.99  # ≈ 96 % response
    assert df.groupby("village_id")["hh_no"].apply(lambda s: s.is_unique).all()
    assert set(df["welfare_receipt"].unique()) <= {0, 1}
    assert (df["income"] >= 0).all() and (df["savings"] >= 0).all()


def test_stream_is_order_chunk_and_process_independent(tmp_path: Path):
    a = simulate_national(tmp_path / "a", seed=5, scale=0.002, config=TINY)
    b = simulate_national(tmp_path / "b", seed=5, scale=0.002, config=TINY, row_group_rows=500, workers=2)
    assert a.n_rows == b.n_rows > 0
    pd.testing.assert_frame_equal(a.manifest.drop(columns="bytes"), b.manifest.drop(columns="bytes"))
    for rel in a.manifest["path"]:
        assert pq.read_table(a.root / rel).equals(pq.read_table(b.root / rel)), rel
    pd.testing.assert_frame_equal(a.truth.effects, b.truth.effects)
    biggest = a.manifest.sort_values("rows")["path"].iloc[-1]
    assert pq.ParquetFile(b.root / biggest).metadata.num_row_groups > 1
    # one partition made alone, in memory, equals the streamed file
    nf = simulate_national_frame(seed=5, scale=0.002, config=TINY)
    for year, pc in [(2026, "40"), (2025, "11")]:
        mem, _ = simulate_partition(nf, year=year, province_code=pc)
        disk = pq.read_table(a.households / f"year={year}" / f"province_code={pc}" / "part-0.parquet").to_pandas()
        pd.testing.assert_frame_equal(
            mem[list(HOUSEHOLD_COLUMNS)].reset_index(drop=True), disk, check_dtype=False
        )
    # files written by the run
    assert {p.name for p in a.root.iterdir()} == {
        "households", "villages.parquet", "truth.json", "truth_villages.parquet", "manifest.json",
    }
    man = json.loads((a.root / "manifest.json").read_text("utf-8"))
    assert man["n_rows"] == a.n_rows and len(man["partitions"]) == 2 * 76
    truth = json.loads((a.root / "truth.json").read_text("utf-8"))
    assert len(truth["effects"]) == len(a.truth.effects)
    pd.testing.assert_frame_equal(pd.read_parquet(a.root / "villages.parquet"), a.villages, check_dtype=False)
    assert not list(a.households.rglob(".*"))  # no temporary files left
    with pytest.raises(FileExistsError, match="overwrite=True"):
        simulate_national(tmp_path / "a", seed=5, scale=0.002, config=TINY)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        simulate_national(tmp_path / "a", seed=6, scale=0, config=TINY, overwrite=True)
    assert (a.root / "manifest.json").exists()  # a bad call does not remove the earlier simulation
    simulate_national(tmp_path / "a", seed=6, scale=0.002, config=TINY, overwrite=True)
    assert not pq.read_table(a.root / biggest).equals(pq.read_table(b.root / biggest))


def test_truth_matches_the_planted_model(frame):
    """att = Σ(Y1 − Y0)/N over all households of a cohort: m_v θ per household up to the 1-baht rounding
    (income, savings), so att ≈ θ × household-weighted mean multiplier; pre-periods exactly 0."""
    cfg = frame.config
    sums = []
    with_adopters = sorted(frame.villages.loc[frame.villages["cohort"] > 0, "province_code"].unique())
    for year in cfg.years:
        for pc in with_adopters:  # other provinces add no truth rows
            sums.append(simulate_partition(frame, year=year, province_code=pc)[1])
    from welfare_eval.simulate.national import _truth_from_sums

    eff = _truth_from_sums(frame, pd.concat(sums, ignore_index=True)).effects
    assert len(eff) == len(NATIONAL_OUTCOMES) * len(cfg.cohorts) * len(cfg.years)
    pre = eff[eff["event_time"] < 0]
    assert (pre["att"] == 0).all() and (pre["att_village"] == 0).all() and (pre["parameter"] == 0).all()
    v = frame.villages
    m = frame.latent["multiplier"]
    for g in cfg.cohorts:
        sel = v["cohort"] == g
        n = v.loc[sel, "n_households"]
        m_hh = float((m[sel] * n).sum() / n.sum())
        m_v = float(m[sel].mean())
        for o in ("income", "savings"):
            for t in range(g, cfg.years[-1] + 1):
                row = eff[(eff["outcome"] == o) & (eff["cohort"] == g) & (eff["year"] == t)].iloc[0]
                theta = planted_effect(o, g, t, config=cfg)
                assert row["parameter"] == theta
                assert row["att"] == pytest.approx(theta * m_hh, abs=0.5)
                assert row["att_village"] == pytest.approx(theta * m_v, abs=0.5)
                assert row["n_households"] == n.sum() and row["n_villages"] == sel.sum()
        # welfare receipt: Y1 − Y0 ∈ {0, 1}, mean close to θ m (binomial noise over ≈ 700 households)
        w = eff[(eff["outcome"] == "welfare_receipt") & (eff["cohort"] == g) & (eff["event_time"] >= 0)]
        assert (w["att"] > 0).all()
        assert np.allclose(w["att"], w["parameter"] * m_hh, atol=0.05)


@pytest.mark.slow
def test_selection_biases_naive_and_unconditional_comparisons_but_not_conditional_trends():
    """Untreated years 2025 and 2029 of many small villages (one cohort, 2030): adopters' income is higher
    (naive level comparisons are biased) and grows faster (unconditional parallel trends fail), but not
    given x_inc, x_farm, x_sg (conditional parallel trends hold: the adopter coefficient is noise).
    Fixed seed; with these sizes the unconditional t is ≈ 8 and the conditional one ≈ 0.6."""
    import statsmodels.api as sm

    cfg = NationalConfig(
        n_adopters=6_000, households_median=10, households_range=(5, 1000),
        cohorts=(2030,), cohort_shares=(1.0,), cohort_multiplier=(1.0,),
    )
    nf = simulate_national_frame(seed=2568, scale=0.25, config=cfg)
    means = {}
    for year in (2025, 2029):
        parts = []
        for pc in nf.provinces:
            df, _ = simulate_partition(nf, year=year, province_code=pc)
            parts.append(df.assign(wy=df["weight"] * df["income"]).groupby("village_id")[["weight", "wy"]].sum())
        s = pd.concat(parts)
        means[year] = s["wy"] / s["weight"]
    d = nf.villages.set_index("village_id").join(nf.latent.set_index("village_id"))
    d = d[d["eligible"] == 1].assign(level=means[2025], trend=means[2029] - means[2025])
    d["adopter"] = (d["cohort"] > 0).astype(float)
    assert d["adopter"].sum() == 1500

    def t_adopter(y: str, covs: list[str]) -> float:
        fit = sm.OLS(d[y], sm.add_constant(d[["adopter", *covs]])).fit(cov_type="HC1")
        return float(fit.tvalues["adopter"])

    assert t_adopter("level", []) > 10  # naive comparison of levels: biased
    assert t_adopter("trend", []) > 4  # unconditional parallel trends fail
    assert abs(t_adopter("trend", ["x_inc", "x_farm", "x_sg"])) < 2.6  # conditional parallel trends hold
