"""The study's power step (welfare_eval.study.power), its plan section and its report content, on the demo.

The step's tables are checked against direct calls of the general library (welfare_eval.power) on the same
data, the impact step's standard errors, the formula printed in the report section, and the plan's checks.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from welfare_eval import power as pw
from welfare_eval.power.analytic import build_design
from welfare_eval.study import PlanError, default_plan, load_plan
from welfare_eval.study.power import (
    DESIGN,
    KEYWORDS,
    MDE_COLUMNS,
    PARAMETER_COLUMNS,
    PLANNING_COLUMNS,
    RESULT_KEYS,
    SIMULATION_COLUMNS,
    _simulate,
    analyze_power,
    power_data,
)

PLAN = default_plan()
PP = PLAN.power


@pytest.fixture(scope="module")
def out(demo_analysis) -> dict[str, pd.DataFrame]:
    return demo_analysis.subset("power_")


@pytest.fixture(scope="module")
def sample(demo_analysis) -> pd.DataFrame:
    return demo_analysis.sample


def _params(sample: pd.DataFrame, y: str, w: str, *, draws: int = PP.draws) -> pw.DesignParameters:
    d = sample[sample["wave"].isin(["baseline", w])].dropna(subset=[y])
    return pw.design_parameters(d, outcome=y, cluster="village_id", pair="pair_id", unit="hh_id", wave="wave",
                                baseline="baseline", followup=w, weights="w_final", draws=draws, seed=PLAN.seed)


# --------------------------------------------------------------------------------------------------
# Shape
# --------------------------------------------------------------------------------------------------
def test_keys_columns_and_rows(out):
    assert set(out) == set(RESULT_KEYS)
    cols = {"power_parameters": PARAMETER_COLUMNS, "power_mde": MDE_COLUMNS, "power_planning": PLANNING_COLUMNS,
            "power_simulation": SIMULATION_COLUMNS}
    for k, c in cols.items():
        assert list(out[k].columns) == c, k
    heads, waves = PLAN.impact.headline, PLAN.impact.waves
    m = out["power_mde"]
    assert list(zip(m["outcome"], m["wave"], strict=True)) == [(y, w) for y in heads for w in waves]
    g = out["power_planning"]
    assert set(g["wave"]) == {waves[-1]} and len(g) == len(heads) * len(PP.planning.pairs) * len(PP.planning.households)
    assert sorted(g["pairs"].unique()) == sorted(PP.planning.pairs)
    assert (g["n_clusters"] == 2 * g["pairs"]).all()
    s = out["power_simulation"]
    assert set(s["outcome"]) == {heads[0]} and set(s["wave"]) == {waves[-1]}
    assert sorted(s["method"].unique()) == sorted([*PP.simulation.methods, "ri_t"])
    assert (s.groupby("effect_type").size() == len(PP.simulation.methods) + 1).all()
    assert (s["n_sims"] == PP.simulation.n_sims).all()


def test_parquet_round_trip(out, tmp_path):
    for k, df in out.items():
        df.to_parquet(tmp_path / f"{k}.parquet")
        back = pd.read_parquet(tmp_path / f"{k}.parquet")
        pd.testing.assert_frame_equal(back, df, check_dtype=False)


# --------------------------------------------------------------------------------------------------
# Against the library
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("outcome,wave", [("savings", "endline"), ("any_welfare", "midline")])
def test_parameters_mde_planning_equal_direct_calls(out, sample, outcome, wave):
    p = _params(sample, outcome, wave)
    got = out["power_parameters"].query("outcome == @outcome and wave == @wave").reset_index(drop=True)
    want = p.tidy()
    pd.testing.assert_frame_equal(got[list(want.columns)], want, check_dtype=False, rtol=1e-12)
    d = power_data(sample, outcome, wave)
    kw = p.as_dict(DESIGN)
    r = pw.mde(design=DESIGN, clusters=d["pair_id"].nunique(), per_cluster=round(p["mean_cluster_size"]), waves=2,
               power=PP.target_power, alpha=PP.alpha, **kw)
    m = out["power_mde"].query("outcome == @outcome and wave == @wave").iloc[0]
    assert m["estimate"] == pytest.approx(r.estimate, rel=1e-12)
    assert m["std_error"] == pytest.approx(r.std_error, rel=1e-12) and m["df"] == r.df == 17
    assert m["pairs"] == 18 and m["n_clusters"] == 36 and m["per_cluster"] == round(p["mean_cluster_size"])
    assert m["mde_outcome_units"] == pytest.approx(r.estimate * p["sd"], rel=1e-12)
    for k in KEYWORDS:  # the keywords used are the clipped estimates (defaults where not estimable)
        assert m[k] == pytest.approx(kw.get(k, getattr(r.design, k)), rel=1e-12)
    if wave == PP.planning_wave(PLAN.impact):
        t = pw.planning_table(design=DESIGN, clusters=list(PP.planning.pairs),
                              per_cluster=list(PP.planning.households), waves=2, power=PP.target_power, **kw).tidy()
        g = out["power_planning"].query("outcome == @outcome").reset_index(drop=True)
        np.testing.assert_allclose(g["mde"], t["mde"], rtol=1e-12)
        np.testing.assert_allclose(g["mde_outcome_units"], t["mde"] * p["sd"], rtol=1e-12)


def test_simulation_equals_direct_call(sample):
    """A small simulation through the step equals simulate_power called directly (same data, same seed)."""
    y, w = "savings", "midline"
    plan = PLAN.replace(power={"outcomes": [y], "waves": [w], "draws": 0,
                               "simulation": {"n_sims": 6, "draws": 99}})
    res = analyze_power(sample, plan)
    p = _params(sample, y, w, draws=0)
    m = res["power_mde"].iloc[0]
    kw = {k: (max(0.0, v) if k.startswith("autocorr") else v) for k, v in p.as_dict(DESIGN).items()}
    direct = pw.simulate_power(design=DESIGN, clusters=18, per_cluster=int(m["per_cluster"]), waves=2,
                               effect=[0.0, float(m["estimate"])], inference=PP.simulation.methods, n_sims=6,
                               draws=99, seed=PLAN.seed, **kw).tidy()
    s = res["power_simulation"]
    for c in ("effect", "power", "mc_std_error", "rejections", "analytic_power", "mean_estimate",
              "empirical_std_error"):
        np.testing.assert_allclose(s[c].to_numpy(float), direct[c].to_numpy(float), rtol=1e-12, err_msg=c)
    assert list(s["method"]) == list(direct["method"])


def test_simulation_table_of_the_run(out):
    s = out["power_simulation"]
    # the analytic column is the analytic power: α under no effect, the target at the MDE
    null, at = s[s["effect_type"] == "null"], s[s["effect_type"] == "mde"]
    np.testing.assert_allclose(null["analytic_power"], PP.alpha, rtol=1e-9)
    np.testing.assert_allclose(at["analytic_power"], PP.target_power, rtol=1e-6)
    np.testing.assert_allclose(at["effect"], out["power_mde"].query(
        "outcome == @at.outcome.iloc[0] and wave == @at.wave.iloc[0]")["estimate"].iloc[0], rtol=1e-12)
    np.testing.assert_allclose(s["power"], s["rejections"] / s["n_sims"])
    np.testing.assert_allclose(s["mc_std_error"], np.sqrt(s["power"] * (1 - s["power"]) / s["n_sims"]))
    se0 = np.sqrt(s["analytic_power"] * (1 - s["analytic_power"]) / s["n_sims"])
    np.testing.assert_allclose(s["z_departure"], (s["power"] - s["analytic_power"]) / se0)
    np.testing.assert_allclose(s["band"], 3 * se0)
    assert (s["departs"] == (s["z_departure"].abs() > 3)).all()
    assert s["note"].str.len().gt(0).all() and s["note_th"].str.contains("มอนติคาร์โล").all()


def test_impact_standard_errors_beside_the_analytic_ones(out, demo_analysis):
    e = demo_analysis.results["impact_effects"].query("method == 'cr2'").set_index(["outcome", "wave"])
    m = out["power_mde"].set_index(["outcome", "wave"])
    np.testing.assert_allclose(m["std_error_impact_cr2"], e.loc[m.index, "std_error"], rtol=1e-12)
    np.testing.assert_allclose(m["se_ratio"], m["std_error_impact_cr2"] / m["std_error_outcome_units"])
    # the variance model predicts the realised SEs: within the sampling error of a 17-df SE (about ±17%)
    assert m["se_ratio"].between(0.6, 1.4).all(), m["se_ratio"]


def test_formula_printed_in_the_report(out):
    """SE² = 4/P [ρ(1−φc)(1−π) f_c + (1−ρ) deff_w f_h (1 − φh(1−a)) / n] (section _04b_power.qmd)."""
    for _, r in out["power_mde"].iterrows():
        des = build_design(design=DESIGN, clusters=int(r["pairs"]), per_cluster=int(r["per_cluster"]), waves=2,
                           **{k: float(r[k]) for k in KEYWORDS})
        f_c, f_h = des.size_factors()
        se2 = 4 / r["pairs"] * (r["icc"] * (1 - r["autocorr_cluster"]) * (1 - r["pair_correlation"]) * f_c
                                + (1 - r["icc"]) * r["deff_weights"] * f_h
                                * (1 - r["autocorr_individual"] * (1 - r["attrition"])) / r["per_cluster"])
        assert math.sqrt(se2) == pytest.approx(r["std_error"], rel=1e-10)


def test_clipped_parameters_are_reported(out):
    par = out["power_parameters"]
    used = par[par["used_as"] != ""]
    est, val = used["estimate"].to_numpy(float), used["value_used"].to_numpy(float)
    ok = np.isfinite(est) & np.isfinite(val)
    inside = (used["used_as"].str.startswith("autocorr") & (np.abs(est) <= 1)) | (
        used["used_as"].isin(["icc", "pair_correlation", "attrition"]) & (est >= 0) & (est <= 0.999))
    np.testing.assert_allclose(val[ok & inside.to_numpy()], est[ok & inside.to_numpy()], rtol=1e-12)
    neg = used[(used["used_as"] == "pair_correlation") & (used["estimate"] < 0)]
    assert len(neg) and (neg["value_used"] == 0).all()
    m = out["power_mde"].set_index(["outcome", "wave"])
    for y, w in neg[["outcome", "wave"]].drop_duplicates().itertuples(index=False):
        assert "pair_correlation = 0 used" in m.loc[(y, w), "note"]


# --------------------------------------------------------------------------------------------------
# Other plans, the simulation's notes, bad input
# --------------------------------------------------------------------------------------------------
def test_one_sided_single_outcome_without_simulation(sample, out):
    plan = PLAN.replace(power={"outcomes": ["qol_index"], "waves": ["endline"], "two_sided": False, "draws": 0,
                               "simulation": {"enabled": False}, "planning": {"pairs": [18, 40], "households": [30]}})
    res = analyze_power(sample, plan)
    m = res["power_mde"]
    assert len(m) == 1 and not bool(m["two_sided"].iloc[0])
    two = out["power_mde"].query("outcome == 'qol_index' and wave == 'endline'")["estimate"].iloc[0]
    assert m["estimate"].iloc[0] < two  # a one-sided test detects smaller effects
    assert res["power_simulation"].empty and list(res["power_simulation"].columns) == SIMULATION_COLUMNS
    assert len(res["power_planning"]) == 2
    assert res["power_parameters"].query("term != 'icc'")["ci_low"].isna().all()  # draws 0: no bootstrap


def test_simulation_notes_few_pairs_and_departure():
    """4 pairs: the t promises power, but the wild bootstrap's 16 sign vectors can never reject at 5%."""
    plan = PLAN.replace(power={"simulation": {"n_sims": 30, "methods": ["cr1", "wild"], "draws": 99}})
    kw = {"icc": 0.1, "autocorr_cluster": 0.5, "autocorr_individual": 0.3, "attrition": 0.1,
          "pair_correlation": 0.0, "cv_cluster_size": 0.0, "deff_weights": 1.0}
    r = pw.mde(design=DESIGN, clusters=4, per_cluster=20, waves=2, **kw)
    t = _simulate("y", "endline", "level", 1.0, r, pairs=4, per_cluster=20, keywords=kw, plan=plan)
    wild = t[(t["method"] == "wild") & (t["effect_type"] == "mde")].iloc[0]
    assert wild["power"] == 0 and bool(wild["departs"])
    assert "Only 4 pairs" in wild["note"] and "มีเพียง 4 คู่" in wild["note_th"]
    assert "Below the analytic value" in wild["note"]


def test_missing_outcome_column_is_an_error(sample):
    plan = PLAN.replace(power={"outcomes": ["savings"]})
    with pytest.raises(ValueError, match=r"power\.outcomes: 'savings' is not a column"):
        analyze_power(sample.drop(columns="savings"), plan)


@pytest.mark.parametrize("change,match", [
    ({"alpha": 1.2}, "power.alpha"),
    ({"target_power": 0.03}, "power.target_power"),
    ({"level": 1.0}, "power.level"),
    ({"draws": 50}, "power.draws"),
    ({"draws": "many"}, "power.draws must be a whole number"),
    ({"outcomes": ["nope"]}, "power.outcomes: 'nope' is not in impact.outcomes"),
    ({"outcomes": []}, "power.outcomes is empty"),
    ({"waves": ["baseline"]}, "power.waves: 'baseline' is not a follow-up wave"),
    ({"planning": {"pairs": [1, 18]}}, "power.planning.pairs must be whole numbers of at least 2"),
    ({"planning": {"households": [0]}}, "power.planning.households"),
    ({"planning": {"pairs": [18, 18]}}, "power.planning.pairs lists a value twice"),
    ({"planning": {"pairs": [18.5]}}, "power.planning.pairs\\[0\\] must be a whole number"),
    ({"waves": ["midline"], "planning": {"wave": "endline"}}, "power.planning.wave 'endline'"),
    ({"simulation": {"n_sims": 0}}, "power.simulation.n_sims"),
    ({"simulation": {"draws": 10}}, "power.simulation.draws"),
    ({"simulation": {"methods": ["bogus"]}}, "power.simulation.methods has unknown method 'bogus'"),
    ({"simulation": {"outcomes": ["debt"]}}, "power.simulation.outcomes: 'debt' is not one of the power outcomes"),
    ({"simulation": {"enabled": "yes"}}, "power.simulation.enabled must be true or false"),
    ({"two_sided": False}, "wild or ri"),
    ({"foo": 1}, "unknown setting power.foo"),
    ({"simulation": {"sims": 10}}, "unknown setting power.simulation.sims"),
])
def test_bad_plan_values(change, match):
    with pytest.raises(PlanError, match=match):
        PLAN.replace(power=change)


def test_plan_file_with_bad_power_key_names_the_file(tmp_path):
    p = tmp_path / "analysis_plan.yaml"
    p.write_text("power:\n  target_powr: 0.9\n", encoding="utf-8")
    with pytest.raises(PlanError, match=r"analysis_plan.yaml: unknown setting power.target_powr"):
        load_plan(p)
    p.write_text("power:\n  target_power: 0.9\n  simulation: {n_sims: 1000}\n", encoding="utf-8")
    plan = load_plan(p)
    assert plan.power.target_power == 0.9 and plan.power.simulation.n_sims == 1000
    assert plan.power.outcomes_for(plan.impact) == plan.impact.headline


# --------------------------------------------------------------------------------------------------
# Report content
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report_data(demo_analysis):
    from welfare_eval.report.data import ReportData

    return ReportData(results=demo_analysis.results, truth=demo_analysis.truth, simulation={"seed": PLAN.seed},
                      seed=PLAN.seed, plan=PLAN.to_dict())


@pytest.mark.parametrize("lang", ["th", "en"])
def test_report_content(report_data, lang):
    import matplotlib.pyplot as plt

    from welfare_eval.reference import label
    from welfare_eval.report import power_content as PC
    from welfare_eval.report.impact_content import outcome_label

    assert PC.has_power(report_data)
    m = PC.mde_display(report_data, lang)
    assert len(m) == len(report_data.results["power_mde"])
    for key in ("power.mde_sd", "power.mde_units", "power.se_analytic", "power.se_impact", "power.planted_sd"):
        assert label(key, lang) in m.columns
    assert len(PC.mde_display(report_data, lang, wave="endline")) == len(PLAN.impact.headline)
    par = PC.parameters_display(report_data, lang)
    assert len(par) == len(PLAN.impact.headline) and label("power.term.icc", lang) in par.columns
    assert par.map(lambda v: "→" in str(v)).to_numpy().any()  # clipped values are shown
    plan_tab = PC.planning_display(report_data, lang)
    assert len(plan_tab) == len(PLAN.impact.headline) * len(PP.planning.pairs)
    assert f"{label('power.per_cluster', lang)} = 30" in plan_tab.columns
    one = PC.planning_display(report_data, lang, outcome="savings", units="outcome")
    assert len(one) == len(PP.planning.pairs) and label("outcome", lang) not in one.columns
    sim = PC.simulation_display(report_data, lang)
    assert len(sim) == len(report_data.results["power_simulation"])
    note = report_data.results["power_simulation"]["note_th" if lang == "th" else "note"]
    assert list(sim[label("power.note", lang)]) == list(note)
    for f in (PC.planning_plot, PC.simulation_plot):
        fig = f(report_data, lang)
        assert fig.axes
        plt.close(fig)
    md = PC.power_markdown(report_data, lang)
    for y in PLAN.impact.headline:
        assert outcome_label(y, lang) in md
    assert ("18 คู่" if lang == "th" else "18 village pairs") in md


def test_report_content_without_power_or_simulation(report_data):
    from welfare_eval.report import power_content as PC

    old = replace(report_data, results={k: v for k, v in report_data.results.items() if not k.startswith("power_")})
    assert not PC.has_power(old)
    with pytest.raises(ValueError, match="no power_mde table"):
        PC.mde_display(old, "th")
    res = dict(report_data.results)
    res["power_simulation"] = res["power_simulation"].iloc[0:0]
    nosim = replace(report_data, results=res, truth=None)
    assert PC.simulation_display(nosim, "en").empty
    assert "enabled: false" in PC.simulation_off_display(nosim, "th").iloc[0, 0]
    assert "simulation" not in PC.power_markdown(nosim, "en")
    assert "Planted" not in " ".join(PC.mde_display(nosim, "en").columns)
