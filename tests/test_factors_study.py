"""The study's success-factor step (welfare_eval.study.factors) and its report content, on the demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import welfare_eval.factors as F
from welfare_eval.reference import label, success_factors
from welfare_eval.study import default_plan
from welfare_eval.study import factors as study
from welfare_eval.study.factors import RESULT_KEYS, analyze_factors, internal_factors

FACTORS = [str(c) for c in success_factors()["code"]]
PLAN = default_plan()
QCA_ANCHORS = PLAN.factors.qca_anchors


def _plan(**factors):
    """The packaged plan with some factor settings changed."""
    return PLAN.replace(factors=factors)


@pytest.fixture(scope="module")
def demo(demo_analysis) -> tuple[dict[str, pd.DataFrame], dict]:
    """Processed tables of the simulated demo (simulate → raw exports → clean) and its planted truth."""
    return demo_analysis.tables, demo_analysis.truth


@pytest.fixture(scope="module")
def out(demo_analysis) -> dict[str, pd.DataFrame]:
    return demo_analysis.subset("factors_")


@pytest.fixture(scope="module")
def report_data(out, demo):
    from welfare_eval.report.data import ReportData

    _, truth = demo
    return ReportData(results=out, manifest={}, ledger=pd.DataFrame(), checks=pd.DataFrame(), truth=truth,
                      simulation={"seed": 2568}, seed=PLAN.seed, plan=PLAN.to_dict())


# --------------------------------------------------------------------------------------------------
# Shape of the results
# --------------------------------------------------------------------------------------------------
REQUIRED = {
    "factors_reliability": ["factor", "group", "n_items", "alpha", "alpha_lower", "alpha_upper", "omega", "mean",
                            "band_th", "band_en"],
    "factors_villages": ["village_id", "arm", "pair_id", "n_raters", *FACTORS, "internal_mean", "external_mean",
                         *[f"rwg_{f}" for f in FACTORS]],
    "factors_icc": ["factor", "icc1", "icc2", "F", "p_value", "rwg_median"],
    "factors_efa": ["statistic", "value", "note"],
    "factors_efa_loadings": ["item", "factor", "group", "F1", "F2", "communality", "dominant"],
    "factors_success": ["village_id", "arm", "pair_id", "coverage_change", "did_effect", "pair_change", "success"],
    "factors_associations": ["outcome", "predictor", "estimate", "std_error", "df", "p_value", "p_perm", "p_holm", "p_bh"],
    "factors_dominance": ["model", "predictor", "general", "share", "rank", "general_lower", "general_upper",
                          "rank_lower", "rank_upper", "p_top1", "p_top3", "r2_full", "r2_null_expected"],
    "factors_dominance_pairs": ["model", "predictor", "other", "complete", "reproducibility"],
    "factors_moderation": ["predictor", "estimate", "std_error", "df", "p_value", "p_holm", "p_bh", "exploratory"],
    "factors_qca_truth_table": [*internal_factors(), "OUT", "n", "incl", "PRI", "cases", "limited_diversity"],
    "factors_qca_solution": ["kind", "solution", "term", "incl", "cov_raw", "solution_incl", "solution_cov",
                             "limited_diversity", "warning"],
}


def test_keys_columns_and_sizes(out):
    assert tuple(out) == RESULT_KEYS
    for key, cols in REQUIRED.items():
        missing = set(cols) - set(out[key].columns)
        assert not missing, f"{key} lacks {missing}"
    assert len(out["factors_reliability"]) == 12 and (out["factors_reliability"]["n_items"] == 3).all()
    assert len(out["factors_villages"]) == 36
    assert len(out["factors_success"]) == 36
    assert out["factors_success"]["did_effect"].notna().sum() == 18
    assert len(out["factors_moderation"]) == 12 and (out["factors_moderation"]["n"] == 18).all()
    dom = out["factors_dominance"]
    assert sorted(dom.loc[dom["model"] == "internal", "predictor"]) == sorted(internal_factors())
    assert sorted(dom.loc[dom["model"] == "composite", "predictor"]) == ["external_mean", "internal_mean"]
    assert set(out["factors_qca_solution"]["kind"]) == {"conservative", "parsimonious", "intermediate"}


def test_plain_columns_survive_parquet(out, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for key, df in out.items():
        assert isinstance(df.index, pd.RangeIndex), key
        assert not isinstance(df.columns, pd.MultiIndex), key
        assert not any(df[c].dtype == object for c in df.columns), f"{key} has object columns"
        path = tmp_path / f"{key}.parquet"
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)  # as welfare_eval.pipeline does
        back = pd.read_parquet(path)
        pd.testing.assert_frame_equal(back, df, check_exact=True)


# --------------------------------------------------------------------------------------------------
# Numbers against independent computations
# --------------------------------------------------------------------------------------------------
def test_own_did_effect_by_hand(out, demo):
    """Unweighted village means here; the study uses the final weights, which are constant within a village ×
    wave (SRS with a class nonresponse adjustment), so the two agree to rounding (atol 1e-15)."""
    tables, _ = demo
    hh = tables["households"]
    hh = hh[hh["interviewed"] == 1]
    mean = hh.groupby([hh["village_id"].astype(str), hh["wave"].astype(str)], observed=True)[
        "member_welfare_fund"].mean()
    change = mean.xs("endline", level=1) - mean.xs("baseline", level=1)
    v = tables["villages"].assign(village_id=lambda d: d["village_id"].astype(str))
    v["change"] = v["village_id"].map(change)
    comp = v[v["arm"] == "comparison"].set_index("pair_id")["change"]
    pil = v[v["arm"] == "pilot"].assign(did=lambda d: d["change"] - d["pair_id"].map(comp))
    s = out["factors_success"].set_index("village_id")
    np.testing.assert_allclose(s.loc[pil["village_id"], "did_effect"].to_numpy(), pil["did"].to_numpy(), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(s.loc[pil["village_id"], "pair_change"].to_numpy(),
                               pil["pair_id"].map(comp).to_numpy(), rtol=1e-12, atol=1e-15)
    assert (s.loc[pil["village_id"], "success"].to_numpy(dtype=bool) == (pil["did"] > 0.10).to_numpy()).all()


def test_village_scores_and_reliability_by_hand(out, demo):
    tables, _ = demo
    c = tables["committee"].assign(score=lambda d: d["score"].astype(float))
    member = c.groupby(["village_id", "member_no", "factor"])["score"].mean()  # every demo member answers all items
    village = member.groupby(level=["village_id", "factor"]).mean().unstack()
    v = out["factors_villages"].set_index("village_id")
    np.testing.assert_allclose(v.loc[village.index, FACTORS].to_numpy(), village[FACTORS].to_numpy(), rtol=1e-12)
    wide = c.pivot_table(index=["village_id", "member_no"], columns="item", values="score")
    items = [f"committee_{i}" for i in (1, 2, 3)]
    x = wide[items].dropna().to_numpy()
    k = x.shape[1]
    alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))
    rel = out["factors_reliability"].set_index("factor")
    assert rel.at["committee", "alpha"] == pytest.approx(alpha, rel=1e-12)
    assert rel.at["committee", "alpha_lower"] < alpha < rel.at["committee", "alpha_upper"]


def test_dominance_adds_up_to_ols_r2(out):
    dom = out["factors_dominance"]
    pilots = out["factors_villages"].merge(out["factors_success"][["village_id", "did_effect"]], on="village_id")
    pilots = pilots[pilots["did_effect"].notna()]
    for model, preds in (("internal", internal_factors()), ("composite", ["internal_mean", "external_mean"])):
        t = dom[dom["model"] == model]
        x = np.column_stack([np.ones(len(pilots)), pilots[preds].to_numpy(dtype=float)])
        y = pilots["did_effect"].to_numpy(dtype=float)
        beta, *_ = np.linalg.lstsq(x, y, rcond=None)
        r2 = 1 - np.sum((y - x @ beta) ** 2) / np.sum((y - y.mean()) ** 2)
        assert t["r2_full"].iloc[0] == pytest.approx(r2, rel=1e-10)
        assert t["general"].sum() == pytest.approx(r2, abs=1e-10)
        assert t["r2_null_expected"].iloc[0] == pytest.approx(len(preds) / (len(pilots) - 1))
        assert t["p_top1"].sum() == pytest.approx(1.0, abs=0.01)  # ties are (almost) impossible
        assert ((t["p_top1"] <= t["p_top3"]) & (t["rank_lower"] <= t["rank"]) & (t["rank"] <= t["rank_upper"] + 1)).all()
        assert (t["n_boot"] == 1000).all()
    pairs = out["factors_dominance_pairs"]
    assert ((pairs["reproducibility"] >= 0) & (pairs["reproducibility"] <= 1)).all()


def test_moderation_slope_is_the_ols_slope(out):
    pilots = out["factors_villages"].merge(out["factors_success"][["village_id", "did_effect"]], on="village_id")
    pilots = pilots[pilots["did_effect"].notna()]
    mod = out["factors_moderation"].set_index("predictor")
    for f in FACTORS:
        slope = np.polyfit(pilots[f].to_numpy(dtype=float), pilots["did_effect"].to_numpy(dtype=float), 1)[0]
        assert mod.at[f, "estimate"] == pytest.approx(slope, rel=1e-9)
    assert mod["exploratory"].all()
    assert (mod["p_holm"] >= mod["p_value"] - 1e-15).all() and (mod["p_bh"] >= mod["p_value"] - 1e-15).all()


def test_qca_calibration_by_formula(out):
    sets = out["factors_qca_sets"]
    villages = out["factors_villages"].set_index("village_id")
    exc, cross, inc = QCA_ANCHORS
    for f in internal_factors():
        x = villages.loc[sets["village_id"], f].to_numpy(dtype=float)
        slope = np.where(x >= cross, np.log(19) / (inc - cross), np.log(19) / (cross - exc))  # idm = 0.95
        np.testing.assert_allclose(sets[f].to_numpy(), expit((x - cross) * slope), rtol=1e-12)
    np.testing.assert_array_equal(sets["SUCCESS"].to_numpy(), (sets["did_effect"] > 0.10).to_numpy(dtype=float))
    tt = out["factors_qca_truth_table"]
    assert tt["n"].sum() + sum(1 for s in tt["ambiguous_cases"].iloc[0].split(",") if s) == 18
    sol = out["factors_qca_solution"]
    assert sol["limited_diversity"].all() and sol["warning"].str.contains("limited diversity").all()
    ok = sol[sol["solution"] != ""]
    assert ((ok["incl"] >= 0) & (ok["incl"] <= 1) & (ok["solution_cov"] <= 1)).all()
    cons = ok[ok["kind"] == "conservative"]
    assert (cons["solution_incl"] >= 0.8 - 1e-12).all()  # each term is an OUT = 1 row or a union of them


def test_planted_factors_on_top_of_the_planted_multiplier(out, demo):
    """With the true multiplier as outcome, the village scores from the pipeline rank the planted factors first."""
    _, truth = demo
    planted = {k for k, v in truth["factor_coefficients"].items() if v != 0}
    ve = pd.DataFrame(truth["village_effects"])[["village_id", "multiplier"]]
    v = out["factors_villages"].merge(ve, on="village_id")
    res = F.dominance(v, outcome="multiplier", predictors=internal_factors())
    assert set(res.tidy()["predictor"].iloc[: len(planted)]) == planted


def test_reproducible_for_a_seed(demo):
    tables, _ = demo
    a = analyze_factors(tables, _plan(n_boot=60, efa_iter=10), seed=7)
    b = analyze_factors(tables, _plan(n_boot=60, efa_iter=10), seed=7)
    for k in RESULT_KEYS:
        pd.testing.assert_frame_equal(a[k], b[k], check_exact=True)
    c = analyze_factors(tables, _plan(n_boot=60, efa_iter=10), seed=8)
    assert not np.allclose(a["factors_dominance"]["general_lower"], c["factors_dominance"]["general_lower"])
    pd.testing.assert_frame_equal(a["factors_success"], c["factors_success"])  # no randomness there


def test_fewer_qca_conditions(demo):
    tables, _ = demo
    res = analyze_factors(tables, _plan(n_boot=0, efa_iter=10, qca_conditions=["committee", "cooperation", "fund"]))
    tt = res["factors_qca_truth_table"]
    assert {"committee", "cooperation", "fund"} <= set(tt.columns) and "activities" not in tt.columns
    assert res["factors_qca_solution"]["conditions"].iloc[0] == "committee,cooperation,fund"
    assert res["factors_dominance"]["n_boot"].eq(0).all() and res["factors_dominance"]["p_top1"].isna().all()


def test_user_errors(demo):
    tables, _ = demo
    with pytest.raises(ValueError, match="committee"):
        analyze_factors({k: v for k, v in tables.items() if k != "committee"}, PLAN)
    with pytest.raises(ValueError, match="did_outcome"):
        analyze_factors(tables, _plan(did_outcome="no_such_column"))
    with pytest.raises(ValueError, match="qca_conditions"):
        analyze_factors(tables, _plan(n_boot=0, efa_iter=5, qca_conditions=["committee", "nonsense"]))


# --------------------------------------------------------------------------------------------------
# Report content
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["th", "en"])
def test_display_tables(report_data, lang):
    from welfare_eval.report import factors_content as FC
    from welfare_eval.report.tables import html_table

    rel = FC.reliability_display(report_data, lang)
    assert rel.shape[0] == 12 and label("factors.alpha", lang) in rel.columns
    assert label("factor.committee", lang) in set(rel.iloc[:, 0])
    dom = FC.dominance_display(report_data, lang)
    assert dom.shape[0] == 6 and label("factors.rank_ci", lang) in dom.columns
    assert FC.moderation_display(report_data, lang).shape[0] == 12
    tt = FC.qca_truth_table_display(report_data, lang)
    assert tt.shape[0] == len(report_data.results["factors_qca_truth_table"]) > 0
    sol = FC.qca_solution_display(report_data, lang)
    assert sol.shape[0] >= 3 and sol.iloc[:, 1].str.len().gt(0).all()
    for t in (rel, dom, tt, sol):
        assert "<table" in str(html_table(t))
    md = FC.qca_solution_markdown(report_data, lang)
    # the solution names the factors, not their codes (issue 14: no untranslated codes)
    assert f"→ {label('factors.success', lang)}" in md and ("limited diversity" in md)
    assert not any(f" {c}*" in md or f"*{c}" in md for c in ("committee", "fund", "cooperation"))
    assert FC.structure_markdown(report_data, lang).strip()


@pytest.mark.parametrize("lang", ["th", "en"])
def test_figures(report_data, lang):
    import matplotlib.pyplot as plt

    from welfare_eval.report import factors_content as FC

    for fig in (FC.factor_profile_plot(report_data, lang), FC.dominance_plot(report_data, lang)):
        assert fig.axes and any(ax.has_data() for ax in fig.axes)
        labels = {t.get_text() for ax in fig.axes for t in ax.get_yticklabels()}
        assert label("factor.cooperation", lang) in labels
        plt.close(fig)


def test_summary_says_what_is_on_top_and_how_sure(report_data):
    from welfare_eval.report import factors_content as FC

    dom = report_data.results["factors_dominance"]
    t = dom[dom["model"] == "internal"].sort_values("rank")
    en = FC.factors_summary_markdown(report_data, "en")
    first = t.iloc[0]
    assert f"**{label('factor.' + first['predictor'], 'en')}**" in en.split("How sure")[0]
    assert f"[{round(first['rank_lower'])},\u00a0{round(first['rank_upper'])}]" in en  # intervals never wrap
    assert "resamples" in en and f"{first['r2_full']:.2f}" in en
    if first["rank_upper"] > 1:
        assert "uncertain" in en  # no claim of a clear winner when the first rank interval is wider than [1, 1]
    ranks = dict(zip(t["predictor"], t["rank"], strict=True))
    for f in ("committee", "cooperation", "fund"):  # planted in the demo
        assert f"{label('factor.' + f, 'en')} (rank {ranks[f]})" in en
    n_top = sum(ranks[f] <= 3 for f in ("committee", "cooperation", "fund"))
    assert ("all 3 are in the top 3" if n_top == 3 else f"{n_top} of 3 are in the top 3") in en
    th = FC.factors_summary_markdown(report_data, "th")
    assert "ข้อมูลจำลอง" in th and "ช่วงอันดับ" in th


def test_summary_without_truth(report_data):
    from dataclasses import replace

    from welfare_eval.report import factors_content as FC

    real = replace(report_data, truth=None, simulation=None)
    assert "Demo data" not in FC.factors_summary_markdown(real, "en")


def test_module_docstring_states_the_predictor_choice():
    assert "12/17" in (study.__doc__ or "") and "6/17" in (study.__doc__ or "")


def test_pilot_without_ratings_is_reported_not_dropped_silently(demo):
    tables, _ = demo
    pilot = str(tables["villages"].query("arm == 'pilot'")["village_id"].iloc[0])
    t = dict(tables)
    t["committee"] = tables["committee"][tables["committee"]["village_id"].astype(str) != pilot]
    with pytest.warns(UserWarning, match=pilot):
        res = analyze_factors(t, _plan(n_boot=0, efa_iter=5))
    assert (res["factors_moderation"]["n"] == 17).all()
    assert pilot not in set(res["factors_villages"]["village_id"])
