"""Study step ``funds``: its tables against direct calls of the library, the survey rates against R's survey
package, the planted exhausting pilots, the plan's ``funds`` and ``monitoring`` sections, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import welfare_eval.funds as F
from welfare_eval._results import check_vocabulary
from welfare_eval.study import PlanError, default_plan, load_plan
from welfare_eval.study.funds import analyze_funds, demand_paths, fund_inputs, scenarios_of, survey_rates
from welfare_eval.study.sample import receipt_wide

FIX = Path(__file__).resolve().parent / "reference" / "funds"
FUNDS_TABLES = {"funds_indicators", "funds_by_arm", "funds_identity", "funds_rates", "funds_inputs", "funds_demand",
                "funds_scenarios", "funds_projection", "funds_bands", "funds_stress", "funds_arms", "funds_alarms"}


@pytest.fixture(scope="module")
def res(demo_analysis: Any) -> dict[str, pd.DataFrame]:
    return {k: v for k, v in demo_analysis.results.items() if k.startswith("funds_")}


def test_the_analysis_makes_every_funds_table(res: dict[str, pd.DataFrame]) -> None:
    assert set(res) == FUNDS_TABLES
    for name, t in res.items():
        check_vocabulary(t)
        assert list(t.columns) == [str(c) for c in t.columns], name
    assert len(res["funds_indicators"]) == 392 and res["funds_identity"].empty
    assert set(res["funds_projection"]["scenario"]) == {"baseline", "no_growth", "welfare_share_20"}
    assert set(res["funds_stress"]["scenario"]) == {"baseline", "disaster", "profit_shock", "combined"}
    assert len(res["funds_bands"]) == 36 * 11 and len(res["funds_demand"]) == 36 * 9 * 10


def test_indicators_and_projection_equal_direct_library_calls(res: dict[str, pd.DataFrame], clean_demo: Any) -> None:
    admin = clean_demo.tables()["admin"]
    plan = default_plan()
    ind = F.fund_indicators(admin, group="arm", members="members", tolerance=plan.funds.alarms.identity_tolerance)
    pd.testing.assert_frame_equal(res["funds_indicators"], ind.tidy(), check_dtype=False)
    pd.testing.assert_frame_equal(res["funds_by_arm"], ind.by_group(), check_dtype=False)
    # the fund now, by hand: closing of the last year, mean profit and welfare share over the last 3 years
    a = admin.sort_values(["village_id", "year"])
    tail = a.groupby("village_id").tail(3)
    inp = res["funds_inputs"].set_index("village_id")
    for v, g in tail.groupby("village_id"):
        assert inp.loc[v, "balance"] == g["fund_closing"].iloc[-1]
        assert inp.loc[v, "profit"] == pytest.approx(g["profit"].mean(), rel=1e-12)
        pos = g[g["profit"] > 0]
        assert inp.loc[v, "welfare_share"] == pytest.approx((100 * pos["alloc_welfare"] / pos["profit"]).mean())
        level = g["members"].iloc[-1] * (g["welfare_payout"] / g["members"]).mean()
        assert inp.loc[v, "payout_level"] == pytest.approx(level, rel=1e-12)
    # experience level: the demand path's year 1 costs exactly each village's payout level
    dm = res["funds_demand"]
    y1 = dm[dm["year"] == 1].groupby("village_id")["payout"].sum()
    np.testing.assert_allclose(y1.to_numpy(), inp.loc[y1.index, "payout_level"].to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(dm["payout"], dm["cases"] * dm["amount"], rtol=1e-12)
    # the baseline projection = project_funds on these inputs with the plan's scenario and settings
    fp = plan.funds
    proj_sc, _ = scenarios_of(fp)
    funds = res["funds_inputs"][["village_id", "arm", "balance", "profit", "welfare_share", "other_income"]]
    direct = F.project_funds(funds, dm[["village_id", "welfare_type", "year", "cases", "amount"]],
                             scenario=proj_sc["baseline"], horizon=fp.horizon, draws=fp.draws, seed=plan.seed,
                             alpha=fp.alarms.alpha, exhausted_probability=fp.alarms.exhausted_probability, group="arm")
    got = res["funds_projection"]
    pd.testing.assert_frame_equal(got[got["scenario"] == "baseline"].reset_index(drop=True), direct.tidy(),
                                  check_dtype=False)
    pd.testing.assert_frame_equal(res["funds_bands"], direct.bands(), check_dtype=False)


def test_survey_rates_equal_r_survey_package() -> None:
    """Rates and their linearisation standard errors (domains of a design with villages as PSUs) against
    svymean on subset() in R (tests/reference/funds/make_rates.R)."""
    sample = pd.read_csv(FIX / "rates_sample.csv", dtype={"village_id": str}).rename(columns={"w": "_w"})
    got = survey_rates(sample, default_plan().funds)
    want = pd.read_csv(FIX / "rates.csv")
    m = got.merge(want, on=["arm", "welfare_type", "age"], suffixes=("", "_r"), validate="one_to_one")
    assert len(m) == len(want) == 2 * 5 * 9
    np.testing.assert_allclose(m["rate"], m["rate_r"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(m["std_error"], m["std_error_r"], rtol=1e-8, atol=1e-14)
    assert (got["n_obs"] > 0).all() and (got["source"] == "survey").all()


def test_planted_exhausting_pilots_are_flagged(res: dict[str, pd.DataFrame], clean_demo: Any) -> None:
    truth = clean_demo.study.truth.funds
    planted = sorted(truth.loc[truth["planted_exhaustion"], "village_id"].astype(str))
    assert len(planted) == 2
    al = res["funds_alarms"].set_index("village_id")
    assert sorted(al.index[al["status"] == "exhausted"]) == planted
    assert (al.loc[planted, "arm"] == "pilot").all() and al.loc[planted, "projection_alarm"].all()
    assert (al.loc[planted, "years_to_exhaustion"] < 10).all() and (al.loc[planted, "sustainable_scale"] < 1).all()
    # both pay out more than their income year after year: the books say it before the projection does
    assert (al.loc[planted, "drawdown_years"] >= 2).all() and al.loc[planted, "drawdown_alarm"].all()
    assert list(res["funds_alarms"]["village_id"][:2].astype(str)) == sorted(planted, key=lambda v: -al.loc[v, "p_exhausted"])
    # the pilot-vs-comparison table counts them; a 20% welfare share would save them
    arms = res["funds_arms"].set_index(["scenario", "arm"])
    assert arms.loc[("baseline", "pilot"), "n_exhausted"] == 2 and arms.loc[("baseline", "comparison"), "n_exhausted"] == 0
    assert arms.loc[("welfare_share_20", "pilot"), "n_exhausted"] == 0
    # stress tests never make a fund safer (common random numbers)
    st = res["funds_stress"].pivot(index="village_id", columns="scenario", values="p_exhausted")
    assert (st["combined"] >= st["baseline"]).all() and (st["disaster"] >= st["baseline"]).all()


def test_alarms_follow_the_thresholds(res: dict[str, pd.DataFrame]) -> None:
    al = res["funds_alarms"]
    a = default_plan().funds.alarms
    assert (al["reserve_alarm"] == (al["reserve_months"] < a.reserve_months)).all()
    assert (al["drawdown_alarm"] == (al["drawdown_years"] >= a.drawdown_years)).all()
    assert (al["projection_alarm"] == (al["p_exhausted"] > a.alpha)).all()
    assert (al["alarm"] == al[["reserve_alarm", "drawdown_alarm", "identity_alarm", "projection_alarm"]].any(axis=1)).all()
    ind = res["funds_indicators"].sort_values("year")
    for v in al["village_id"][:3]:
        g = ind[ind["village_id"] == v]
        over = (g["payouts"] > g["income"]).to_numpy()[::-1]
        k = int(np.argmin(over)) if not over.all() else len(over)
        assert al.set_index("village_id").loc[v, "drawdown_years"] == k


def test_demand_from_the_plan_rates_and_survey_level(clean_demo: Any, demo_analysis: Any) -> None:
    """Plan rates replace the survey's; level "survey" = households × rates × benefits (no calibration)."""
    plan = default_plan().replace(funds={
        "draws": 200, "scenarios": {"no_growth": None, "welfare_share_20": None},
        "stress": {"disaster": None, "profit_shock": None, "combined": None},
        "demand": {"level": "survey", "rates": {"elderly": {"0": 0.05, "60": 0.8}}},
    })
    tabs = clean_demo.tables()
    hh = receipt_wide(demo_analysis.households, tabs["benefits"])
    out = analyze_funds(tabs, plan, households=hh)
    assert set(out["funds_projection"]["scenario"]) == {"baseline"} and set(out["funds_stress"]["scenario"]) == {"baseline"}
    r = out["funds_rates"]
    el = r[r["welfare_type"] == "elderly"].set_index(["arm", "age"])["rate"]
    assert (el.xs(60, level="age") == 0.8).all() and (el.xs(50, level="age") == 0.05).all()
    assert (r.loc[r["welfare_type"] == "elderly", "source"] == "plan").all()
    dm = out["funds_demand"]
    assert (dm["calibration"] == 1.0).all()
    # year 1 by hand for one village: member households by band × rate × benefit
    inp = out["funds_inputs"].set_index("village_id")
    v = str(inp.index[0])
    arm = inp.loc[v, "arm"]
    y1 = dm[(dm["village_id"] == v) & (dm["year"] == 1)].set_index("welfare_type")
    assert y1.loc["elderly", "amount"] == plan.funds.demand.benefits["elderly"]
    assert y1["population"].iloc[0] == pytest.approx(inp.loc[v, "member_households"], rel=1e-12)
    # elderly cases = households aged 60+ × 0.8 + the rest × 0.05, with the village's own shares
    s = hh[(hh["wave"] == "endline") & (hh["interviewed"] == 1) & (hh["village_id"] == v) & hh["head_age"].notna()]
    w = s["w_final"].to_numpy(dtype=float)
    old = (s["head_age"].to_numpy(dtype=float) >= 60)
    want = inp.loc[v, "member_households"] * (0.8 * w[old].sum() + 0.05 * w[~old].sum()) / w.sum()
    assert y1.loc["elderly", "cases"] == pytest.approx(want, rel=1e-10)
    assert arm in ("pilot", "comparison")


def test_demand_paths_keep_households_but_age_them() -> None:
    """Head turnover re-enters the youngest band: without member growth the households stay as many."""
    fp = default_plan().funds
    pop = pd.DataFrame({"village_id": "10010101", "age": [20.0, 40.0, 50.0, 60.0, 70.0], "n": [10.0, 20, 30, 25, 15]})
    rates = pd.DataFrame({"arm": "all", "welfare_type": ["elderly"] * 5 + ["childbirth"] * 5,
                          "age": [20, 40, 50, 60, 70] * 2, "rate": [0, 0, 0, 0.5, 0.9, 0.2, 0.1, 0, 0, 0]})
    d = demand_paths(pop, rates, pd.Series({"10010101": "pilot"}), fp, member_growth=0.0)
    tot = d[d["welfare_type"] == "elderly"].set_index("year")["population"]
    np.testing.assert_allclose(tot.to_numpy(), 100.0, rtol=1e-12)
    el = d[d["welfare_type"] == "elderly"].set_index("year")["cases"]
    assert el.loc[10] > el.loc[1]  # heads cross 60 faster than the oldest are replaced
    g = demand_paths(pop, rates, pd.Series({"10010101": "pilot"}), fp, member_growth=0.05)
    np.testing.assert_allclose(g[g["welfare_type"] == "elderly"]["population"].to_numpy(), 100 * 1.05 ** np.arange(10))


def test_funds_step_switch_and_errors(clean_demo: Any) -> None:
    tabs = clean_demo.tables()
    assert analyze_funds(tabs, default_plan().replace(funds={"enabled": False})) == {}
    bad = dict(tabs, admin=tabs["admin"].drop(columns=["fund_closing"]))
    with pytest.raises(ValueError, match=r"admin\) lack \['fund_closing'\].*funds.enabled"):
        analyze_funds(bad, default_plan())
    with pytest.raises(ValueError, match="households"):
        analyze_funds({k: v for k, v in tabs.items() if k != "households"}, default_plan())
    funds, level = fund_inputs(tabs["admin"], default_plan().funds)
    assert len(funds) == 36 and (level > 0).all()


@pytest.mark.parametrize(
    ("yaml_text", "match"),
    [
        ("funds:\n  demand:\n    benefits: {pension: 100}\n", "unknown welfare type 'pension'"),
        ("funds:\n  alarms: {alpha: 0.6}\n", "0 < alpha < exhausted_probability"),
        ("funds:\n  scenario: {profit_growth: null}\n", "funds.scenario.profit_growth must be set"),
        ("funds:\n  stress:\n    flood: {disaster_types: [flood]}\n", "funds.stress.flood.disaster_types"),
        ("funds:\n  scenarios:\n    baseline: {profit_growth: 0.1}\n", "the name 'baseline'"),
        ("funds:\n  demand: {wave: final}\n", "funds.demand.wave"),
        ("funds:\n  demand: {age_bands: [60, 20]}\n", "age_bands must be increasing"),
        ("funds:\n  draws: 5\n", "funds.draws must be at least 100"),
        ("funds:\n  scenarios:\n    low: {profit_growht: 0.0}\n", "unknown setting funds.scenarios.low.profit_growht"),
        ("monitoring: {first_period: 2569Q5}\n", "monitoring.first_period: '2569Q5' is not a quarter"),
        ("monitoring: {first_period: 2569Q1, last_period: 2568Q4}\n", "last_period is before"),
        ("monitoring:\n  thresholds: {coverage_green: 0.2}\n", "monitoring.thresholds"),
    ],
)
def test_plan_sections_are_checked(tmp_path: Path, yaml_text: str, match: str) -> None:
    p = tmp_path / "analysis_plan.yaml"
    p.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(PlanError, match=match) as err:
        load_plan(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_plan_round_trip_with_funds_and_monitoring(tmp_path: Path) -> None:
    plan = default_plan()
    assert plan.funds.scenario.member_growth == 0.02 and plan.monitoring.first_period == "2566Q1"
    p = tmp_path / "analysis_plan.yaml"
    p.write_text(plan.to_yaml(), encoding="utf-8")
    assert load_plan(p) == plan
    p.write_text("monitoring: {first_period: 2023Q1}\nfunds:\n  scenarios: {welfare_share_20: null}\n", encoding="utf-8")
    q = load_plan(p)
    assert q.funds.scenarios["welfare_share_20"] is None and "no_growth" in q.funds.scenarios
    proj, stress = scenarios_of(q.funds)
    assert list(proj) == ["baseline", "no_growth"] and list(stress) == ["baseline", "disaster", "profit_shock", "combined"]
    assert stress["disaster"].profit_growth == plan.funds.scenario.profit_growth  # inherited from the baseline


def test_report_section_states_the_alarms(demo_project: Path) -> None:
    from welfare_eval.report._typeset import WJ, ZWSP

    # the Thai edition marks word boundaries (U+200B) and joins (U+2060) between Thai words: read past them
    html = (demo_project / "reports" / "final_report.html").read_text("utf-8").replace(ZWSP, "").replace(WJ, "")
    assert "ความก้าวหน้าและความยั่งยืนของกองทุน" in html
    i = html.index('id="sec-funds-sustainability"')  # the heading, not the TOC
    assert "ความยั่งยืนของกองทุนสวัสดิการ" in html[i:i + 300]
    section = html[i:html.index("ภาคผนวก ก.", i)]
    from welfare_eval import pipeline

    rec = pipeline.load_results(pipeline.Paths.from_root(demo_project))
    al = rec["funds_alarms"]
    for v in al.loc[al["status"] == "exhausted", "village_id"]:
        assert section.count(str(v)) >= 2  # in the alarm sentence and in the alarms table
    assert "คาดว่าเงินจะหมด" in section and "ถูกพบทุกหมู่บ้าน" in section
    assert "ฐานข้อมูลติดตามความก้าวหน้ายังไม่มีรายงาน" in html  # `run` made no store: the section says so
