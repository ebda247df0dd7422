"""The study's impact step (welfare_eval.study.impact) and its report content, on the simulated demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from welfare_eval import did
from welfare_eval.study import default_plan
from welfare_eval.study.impact import (
    RESULT_KEYS,
    analyze_impact,
    impact_sample,
    outcome_families,
    pilot_start_year,
    preliminary_did,
)
from welfare_eval.study.sample import receipt_wide

SEED = 2568
PLAN = default_plan()
HEADLINE_OUTCOMES = PLAN.impact.headline


@pytest.fixture(scope="module")
def demo(demo_analysis) -> tuple[dict[str, pd.DataFrame], dict]:
    """Processed tables of the simulated demo (simulate → raw exports → clean) and its planted truth."""
    return demo_analysis.tables, demo_analysis.truth


@pytest.fixture(scope="module")
def out(demo_analysis) -> dict[str, pd.DataFrame]:
    return demo_analysis.subset("impact_")


@pytest.fixture(scope="module")
def weighted(demo_analysis) -> pd.DataFrame:
    """The impact sample: interviewed households with final weights and receipt by welfare type."""
    return demo_analysis.sample


def _two_wave(hh: pd.DataFrame, wave: str) -> pd.DataFrame:
    d = hh[(hh["interviewed"] == 1) & hh["wave"].astype(str).isin(["baseline", wave])].copy()
    d["post"] = (d["wave"].astype(str) == wave).astype(int)
    return d


def _row(out, outcome, wave, method):
    e = out["impact_effects"]
    r = e[(e["outcome"] == outcome) & (e["wave"] == wave) & (e["method"] == method)]
    assert len(r) == 1
    return r.iloc[0]


# --------------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------------
REQUIRED = {
    "impact_effects": ["outcome", "family", "wave", "term", "method", "estimate", "std_error", "df", "p_value",
                       "ci_low", "ci_high", "n_obs", "n_clusters", "draws", "enumerated", "p_holm", "p_bh",
                       "p_romano_wolf", "mean_comparison_baseline", "scale", "headline"],
    "impact_influence": ["outcome", "wave", "pair_id", "estimate", "estimate_without", "change"],
    "impact_dr": ["outcome", "wave", "covariates", "method", "estimate", "std_error", "ci_low", "ci_high"],
    "impact_event": ["outcome", "term", "rel_time", "method", "estimate", "std_error", "ci_low", "ci_high",
                     "draws", "leads", "lags", "start_year"],
    "impact_event_tests": ["outcome", "test", "statistic", "df_num", "df_denom", "p_value", "power", "slope",
                           "term", "value"],
    "impact_sensitivity": ["outcome", "term", "restriction", "bound", "bound_rel_se", "ci_low", "ci_high",
                           "breakdown", "includes_zero"],
}


def test_keys_and_columns(out):
    assert tuple(out) == RESULT_KEYS
    for key, cols in REQUIRED.items():
        missing = [c for c in cols if c not in out[key].columns]
        assert not missing, (key, missing)
        assert len(out[key]) > 0, key


def test_outcomes_waves_methods(out, demo):
    tables, _ = demo
    e = out["impact_effects"]
    types = [f"received_{c}" for c in tables["benefits"]["welfare_type"].astype(str).unique()]
    for y in ["any_welfare", "n_welfare_types", "welfare_amount", "savings", "debt", "coped", "qol_index",
              "self_reliance_index", "member_welfare_fund", "member_savings_group", *types]:
        for w in ("midline", "endline"):
            got = set(e.loc[(e["outcome"] == y) & (e["wave"] == w), "method"])
            assert got == {"cr1", "cr2", "wild", "ri", "ri_t"}, (y, w, got)
    assert set(e["family"]) == {"primary", "secondary", "welfare_types"}
    assert set(e.loc[e["family"] == "primary", "outcome"]) == set(HEADLINE_OUTCOMES)
    # draws: full enumeration (2^18 with 18 pairs) for the primary family, 2^12 random draws otherwise
    res = e[e["method"].isin(["wild", "ri", "ri_t"])]
    prim = res["family"] == "primary"
    assert (res.loc[prim, "draws"] == 2**18).all() and res.loc[prim, "enumerated"].all()
    # random draws: 2^12 sign vectors; randomization adds the observed assignment
    expect = np.where(res.loc[~prim, "method"] == "wild", 2**12, 2**12 + 1)
    np.testing.assert_array_equal(res.loc[~prim, "draws"].to_numpy(), expect)
    assert not res.loc[~prim, "enumerated"].any()


def test_parquet_round_trip(out, tmp_path):
    from welfare_eval._io import write_parquet

    for name, df in out.items():
        p = tmp_path / f"{name}.parquet"
        write_parquet(df, p)
        back = pd.read_parquet(p)
        pd.testing.assert_frame_equal(back, df, check_dtype=True)


# --------------------------------------------------------------------------------------------------
# Numbers equal direct calls / brute force
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("outcome", "wave", "draws"), [("savings", "endline", 2**18), ("qol_index", "midline", 2**18),
                                                         ("debt", "endline", 2**12), ("coped", "midline", 2**12)])
def test_equals_direct_estimate(out, weighted, outcome, wave, draws):
    d = _two_wave(weighted, wave)
    d = d[d[outcome].notna()].assign(**{outcome: lambda x: x[outcome].astype(float)})
    ref = did.estimate(d, outcome=outcome, treated="treated", post="post", unit="village_id", pair="pair_id",
                       weights="w_final", draws=draws, seed=SEED).tidy().set_index("method")
    for m in ("cr1", "cr2", "wild", "ri", "ri_t"):
        r = _row(out, outcome, wave, m)
        for c in ("estimate", "std_error", "df", "p_value", "ci_low", "ci_high"):
            a, b = float(r[c]), float(ref.loc[m, c])
            assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12), (m, c)
        assert int(r["n_obs"]) == len(d)


def test_endline_equals_preliminary_did(out, weighted, demo_analysis):
    """The preliminary table (same specification, 2^18 draws) gives the same primary numbers."""
    pre = preliminary_did(weighted, PLAN).set_index(["outcome", "method"])
    stored = demo_analysis.results["did_preliminary"].set_index(["outcome", "method"])
    pd.testing.assert_frame_equal(pre.sort_index(), stored.sort_index(), check_dtype=False, check_index_type=False)
    for y in ("any_welfare", "welfare_amount", "savings"):
        for m in ("cr1", "cr2", "wild", "ri"):
            r = _row(out, y, "endline", m)
            assert float(r["estimate"]) == pytest.approx(float(pre.loc[(y, m), "estimate"]), rel=1e-12)
            assert float(r["p_value"]) == pytest.approx(float(pre.loc[(y, m), "p_value"]), rel=1e-12)


def test_receipt_by_type_from_benefits(demo, weighted):
    tables, _ = demo
    s = weighted
    b = tables["benefits"]
    ill = b[b["welfare_type"] == "illness"].assign(wave=lambda x: x["wave"].astype(str))
    direct = ill.set_index(["hh_id", "wave"])["received"].astype(float)
    got = s.set_index(["hh_id", "wave"])["received_illness"]
    assert got.notna().all()
    pd.testing.assert_series_equal(got.sort_index(), direct.reindex(got.index).sort_index(), check_names=False)
    # any_welfare is the union of the nine receipts
    rec = s[[c for c in s.columns if c.startswith("received_")]]
    assert rec.shape[1] == 9
    np.testing.assert_array_equal(rec.max(axis=1).to_numpy(), s["any_welfare"].to_numpy())


def test_holm_bh_match_statsmodels(out, monkeypatch):
    import gc

    from statsmodels.stats.multitest import multipletests

    # statsmodels' multipletests calls gc.collect() on every call (0.2 s each with the demo's tables in memory)
    monkeypatch.setattr(gc, "collect", lambda *args: 0)

    e = out["impact_effects"]
    for (_wave, _fam, m), g in e.groupby(["wave", "family", "method"]):
        if len(g) < 2:
            continue
        p = g["p_value"].to_numpy(dtype=float)
        np.testing.assert_allclose(g["p_holm"], multipletests(p, method="holm")[1], rtol=0, atol=1e-15)
        np.testing.assert_allclose(g["p_bh"], multipletests(p, method="fdr_bh")[1], rtol=0, atol=1e-15)
        if m in ("wild", "ri_t"):
            rw = g["p_romano_wolf"].to_numpy(dtype=float)
            assert np.isfinite(rw).all()
            assert (rw >= p - 1e-12).all()  # never below the unadjusted p
            order = np.argsort(-np.abs(g["statistic"].to_numpy(dtype=float)), kind="stable")
            assert (np.diff(rw[order]) >= -1e-15).all()  # step-down: monotone in |t|
            assert (rw <= 1).all()
        else:
            assert g["p_romano_wolf"].isna().all()


def test_leave_one_pair_out_brute_force(out, weighted):
    inf = out["impact_influence"]
    d = _two_wave(weighted, "endline")
    for pair in (1, 7):
        dd = d[d["pair_id"] != pair]
        ref = did.estimate(dd, outcome="welfare_amount", treated="treated", post="post", unit="village_id",
                           pair="pair_id", weights="w_final", inference=("cr1",)).tidy()
        got = inf[(inf["outcome"] == "welfare_amount") & (inf["wave"] == "endline") & (inf["pair_id"] == pair)]
        assert float(got["estimate_without"].iloc[0]) == pytest.approx(float(ref["estimate"].iloc[0]), rel=1e-9)
    assert set(inf["outcome"]) == set(HEADLINE_OUTCOMES)
    assert inf.groupby(["outcome", "wave"]).size().eq(18).all()


def test_dr_without_covariates_is_weighted_2x2(out, weighted):
    """With an intercept only, the DR-DiD of repeated cross-sections is the weighted difference of four means."""
    d = _two_wave(weighted, "endline").dropna(subset=["savings"])

    def m(t, p):
        s = d[(d["treated"] == t) & (d["post"] == p)]
        return np.average(s["savings"], weights=s["w_final"])

    ref = (m(1, 1) - m(1, 0)) - (m(0, 1) - m(0, 0))
    dr = out["impact_dr"]
    got = dr[(dr["outcome"] == "savings") & (dr["wave"] == "endline") & (dr["covariates"] == "none")]
    assert np.allclose(got["estimate"].to_numpy(dtype=float), ref, rtol=1e-10)
    assert set(dr["covariates"]) == {"none", "match"}
    # overlap diagnostic: without covariates every comparison village counts fully
    assert (dr.loc[dr["covariates"] == "none", "ess_comparison"] == 18).all()
    assert dr.loc[dr["covariates"] == "match", "ess_comparison"].between(1, 18).all()


# --------------------------------------------------------------------------------------------------
# Planted truth (the analysis never reads it; the tests do)
# --------------------------------------------------------------------------------------------------
def test_wild_ci_covers_planted_endline_effects(out, demo):
    _, truth = demo
    eff = pd.DataFrame(truth["effects"]).set_index(["outcome", "wave"])
    for y in HEADLINE_OUTCOMES:
        tv = float(eff.loc[(y, "endline"), "effect_data_scale"])
        r = _row(out, y, "endline", "wild")
        assert r["ci_low"] <= tv <= r["ci_high"], (y, tv, r["ci_low"], r["ci_high"])


def test_zero_effect_outcomes_not_significant(out, demo):
    """Planted zero effects (debt, village-fund membership, education welfare) are not found."""
    _, truth = demo
    eff = pd.DataFrame(truth["effects"])
    zero = set(eff.loc[(eff["wave"] == "endline") & eff["zero_effect"], "outcome"])
    e = out["impact_effects"]
    checked = 0
    for y in zero & set(e["outcome"]):
        r = _row(out, y, "endline", "wild")
        assert r["ci_low"] <= 0 <= r["ci_high"], y
        assert r["p_romano_wolf"] > 0.05, y
        checked += 1
    assert checked >= 3
    # and the clearest planted effect is found after adjustment
    assert _row(out, "qol_index", "endline", "wild")["p_romano_wolf"] < 0.05


def test_start_year_derived_not_hard_coded(demo):
    tables, truth = demo
    s = pilot_start_year(tables)
    assert (s == truth["start_year"]).all() and len(s) == 18
    assert (pilot_start_year(tables, start_year=2020) == 2020).all()
    v = tables["villages"].copy()
    v["start_year"] = np.where(v["treated"] == 1, 2024, np.nan)
    assert (pilot_start_year({**tables, "villages": v}) == 2024).all()
    hh = tables["households"].copy()
    hh["year"] = hh["year"] + 5
    assert (pilot_start_year({**tables, "households": hh}) == truth["start_year"] + 5).all()


def test_event_study_parallel_trends_and_truth(out, demo):
    _, truth = demo
    tests = out["impact_event_tests"]
    pt = tests[tests["test"] == "pretrend_htz_cr2"]
    assert len(pt) == 2 and (pt["p_value"] > 0.05).all()  # parallel trends planted (slope 0)
    assert truth["pretrend_slope"] == 0
    ev = out["impact_event"]
    assert (ev["start_year"] == truth["start_year"]).all()
    tt = pd.DataFrame(truth["event_time_effects"]).set_index(["outcome", "event_time"])["effect"]
    band = ev[ev["method"] == "sup_t"]
    for _, r in band.iterrows():
        tv = float(tt.loc[(r["outcome"], int(r["rel_time"]))])
        assert r["ci_low"] <= tv <= r["ci_high"], (r["outcome"], r["rel_time"])
    # pre-periods: every year before the start has its own coefficient (no binning by default)
    assert sorted(band.loc[band["outcome"] == "welfare_share", "rel_time"]) == [-8, -7, -6, -5, -4, -3, -2, 0, 1, 2]
    crit = tests[tests["test"] == "sup_t_critical"]["value"]
    assert (crit > 2.11).all()  # above the pointwise t(17) 97.5% quantile


def test_event_study_equals_direct_call(out, demo):
    tables, _ = demo
    a = tables["admin"].copy()
    a["start_year"] = np.where(a["treated"] == 1, 2023.0, np.nan)
    res = did.event_study(a, outcome="welfare_share", unit="village_id", time="year", start="start_year",
                          pair="pair_id", leads=8, lags=2, draws=2**12, seed=SEED)
    ref = res.tidy().set_index(["term", "method"])
    ev = out["impact_event"]
    ev = ev[ev["outcome"] == "welfare_share"].set_index(["term", "method"])
    for key in ref.index:
        assert float(ev.loc[key, "estimate"]) == pytest.approx(float(ref.loc[key, "estimate"]), rel=1e-12)
        assert float(ev.loc[key, "ci_low"]) == pytest.approx(float(ref.loc[key, "ci_low"]), rel=1e-12)


def test_sensitivity_breakdown_consistent(out):
    s = out["impact_sensitivity"]
    assert set(s["restriction"]) == {"smoothness", "relative_magnitudes"}
    for (y, term, restr), g in s.groupby(["outcome", "term", "restriction"]):
        bd = float(g["breakdown"].iloc[0])
        if not np.isfinite(bd):
            continue
        tol = 0.1 * float(g["bound"].max() / g["bound_rel_se"].max()) if restr == "smoothness" else 1e-9
        below = g[g["bound"] < bd - tol]
        above = g[g["bound"] > bd + tol]
        assert not below["includes_zero"].any(), (y, term, restr)
        assert above["includes_zero"].all(), (y, term, restr)
    # relative magnitudes: CIs widen with M̄; at M̄ = 0 the identified set is the point estimate
    rm = s[s["restriction"] == "relative_magnitudes"]
    for _, g in rm.groupby(["outcome", "term"]):
        g = g.sort_values("bound")
        assert (np.diff(g["ci_high"] - g["ci_low"]) >= -1e-12).all()
        assert float(g["id_low"].iloc[0]) == pytest.approx(float(g["estimate"].iloc[0]))


def test_families_and_errors(demo, weighted):
    tables, _ = demo
    s = weighted[["hh_id", "wave", "savings", "debt", "received_illness"]]
    plan = PLAN.replace(impact={"outcomes": ["savings", "debt", "nope"], "headline": ["savings"]})
    fam = outcome_families(s, plan.impact)
    assert fam == {"primary": ["savings"], "secondary": ["debt"], "welfare_types": ["received_illness"]}
    no_types = PLAN.replace(impact={"outcomes": ["savings", "debt"], "headline": ["savings"], "welfare_types": False})
    assert outcome_families(s, no_types.impact) == {"primary": ["savings"], "secondary": ["debt"]}
    with pytest.raises(ValueError, match="w_final"):
        impact_sample(tables["households"])
    with pytest.raises(ValueError, match="missing"):
        analyze_impact(weighted, {"households": tables["households"]}, PLAN)
    # the benefits reshaping refuses what it cannot represent (one rule for every step)
    b = tables["benefits"]
    with pytest.raises(ValueError, match="duplicate"):
        receipt_wide(tables["households"], pd.concat([b, b.iloc[:1]], ignore_index=True))
    with pytest.raises(ValueError, match="not a reference welfare type"):
        receipt_wide(tables["households"], b.assign(welfare_type=b["welfare_type"].astype(str).replace("illness", "x")))
    with pytest.raises(ValueError, match="no receipt record"):
        receipt_wide(tables["households"], b.iloc[1:])


# --------------------------------------------------------------------------------------------------
# Report content
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report_data(out, demo):
    from welfare_eval.report.data import ReportData

    _, truth = demo
    return ReportData(results=out, manifest={}, ledger=pd.DataFrame(), checks=pd.DataFrame(), truth=truth,
                      simulation={"seed": SEED}, seed=SEED, plan=PLAN.to_dict())


@pytest.mark.parametrize("lang", ["th", "en"])
def test_display_functions(report_data, lang):
    import matplotlib.pyplot as plt

    from welfare_eval.reference import label
    from welfare_eval.report import impact_content as C

    t = C.effects_display(report_data, lang)
    assert len(t) == len(report_data.results["impact_effects"].query("method == 'cr2'"))
    assert label("planted_truth", lang) in t.columns
    assert label("impact.ci_cr2", lang) in t.columns
    for f in (C.multiple_testing_display, C.dr_display, C.event_tests_display, C.sensitivity_display):
        df = f(report_data, lang)
        assert isinstance(df, pd.DataFrame) and len(df) > 0
    for f in (C.coefficient_plot, C.influence_plot, C.event_plot, C.sensitivity_plot):
        fig = f(report_data, lang)
        assert fig.axes
        plt.close(fig)
    md = C.impact_paragraphs_markdown(report_data, lang)
    for y in HEADLINE_OUTCOMES:
        assert C.outcome_label(y, lang) in md
    assert md.count("\n\n") == len(HEADLINE_OUTCOMES) - 1
    # the paragraphs compare the planted effect with the CR2 interval the effect tables show (issue 14)
    inside = "ซึ่งอยู่ในช่วง" if lang == "th" else "inside the CR2"
    assert md.count(inside) == len(HEADLINE_OUTCOMES)  # planted effects inside the CIs (see above)


def test_display_real_data_has_no_truth(report_data):
    from dataclasses import replace

    from welfare_eval.reference import label
    from welfare_eval.report import impact_content as C

    d = replace(report_data, truth=None, simulation=None)
    assert label("planted_truth", "th") not in C.effects_display(d, "th").columns
    assert "ข้อมูลจำลอง" not in C.impact_paragraphs_markdown(d, "th")
    assert C.outcome_label("received_illness", "en") == "Received welfare: Illness"


def test_family_adjustment_equals_many_outcomes(out, demo, weighted):
    """On a family with one common sample (receipt by type), the per-outcome adjustment reproduces
    did.many_outcomes (Holm, BH, Romano–Wolf over the joint draws)."""
    s = weighted
    types = [c for c in s.columns if c.startswith("received_")]
    d = s[s["wave"].isin(["baseline", "endline"])].copy()
    d["post"] = (d["wave"] == "endline").astype(int)
    assert d[types].notna().all().all()
    ref = did.many_outcomes(d, outcomes=types, treated="treated", post="post", unit="village_id", pair="pair_id",
                            weights="w_final", draws=2**12, seed=SEED).tidy().set_index(["outcome", "method"])
    e = out["impact_effects"]
    e = e[(e["family"] == "welfare_types") & (e["wave"] == "endline")].set_index(["outcome", "method"])
    for c in ("p_value", "p_holm", "p_bh", "p_romano_wolf"):
        np.testing.assert_allclose(e[c].to_numpy(dtype=float), ref.loc[e.index, c].to_numpy(dtype=float),
                                   rtol=1e-12, atol=0, equal_nan=True)
