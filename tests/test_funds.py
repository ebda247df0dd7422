"""Welfare-fund library: indicators and the identity, demand from a projected population (brute force),
the Monte Carlo projection (exact cases and simulation), stress tests, and the simulated study's planted
truths (identity in every village-year, the two exhausting pilots flagged)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import welfare_eval.funds as F
from welfare_eval._results import check_vocabulary


# --------------------------------------------------------------------------------------------------
# Indicators
# --------------------------------------------------------------------------------------------------
def _records() -> pd.DataFrame:
    return pd.DataFrame({
        "village_id": ["a", "a", "a", "b", "b"],
        "arm": ["pilot"] * 3 + ["comparison"] * 2,
        "year": [2020, 2021, 2023, 2020, 2021],
        "profit": [1000.0, 2000.0, 1500.0, -100.0, 500.0],
        "alloc_welfare": [100.0, 200.0, 150.0, 0.0, 50.0],
        "fund_income": [150.0, 250.0, 150.0, 20.0, 60.0],
        "welfare_payout": [120.0, 300.0, 0.0, 30.0, 40.0],
        "fund_opening": [500.0, 530.0, 480.0, 100.0, 90.0],
        "fund_closing": [530.0, 480.0, 630.0, 90.0, 112.0],
        "members": [10, 12, 12, 5, 0],
    })


def test_fund_indicators_by_hand() -> None:
    res = F.fund_indicators(_records(), group="arm", members="members")
    t = res.tidy().set_index(["village_id", "year"])
    assert t.loc[("a", 2020), "payout_to_allocation"] == pytest.approx(1.2)
    assert t.loc[("a", 2021), "payout_to_income"] == pytest.approx(300 / 250)
    assert t.loc[("a", 2020), "welfare_share"] == pytest.approx(10.0)
    assert np.isnan(t.loc[("b", 2020), "welfare_share"])  # a loss year has no share
    assert np.isnan(t.loc[("b", 2020), "payout_to_allocation"])  # nothing allocated
    assert t.loc[("a", 2021), "reserve_months"] == pytest.approx(480 / (300 / 12))
    assert np.isnan(t.loc[("a", 2023), "reserve_months"])  # nothing paid
    assert t.loc[("a", 2021), "continuity_gap"] == pytest.approx(0.0)
    assert np.isnan(t.loc[("a", 2023), "continuity_gap"])  # 2022 missing: not consecutive
    assert t.loc[("b", 2021), "identity_gap"] == pytest.approx(90 + 60 - 40 - 112)
    assert not t.loc[("b", 2021), "identity_ok"] and t["identity_ok"].sum() == 4
    assert np.isnan(t.loc[("b", 2021), "payout_per_member"])
    v = res.violations()
    assert list(zip(v["village_id"], v["year"], strict=True)) == [("b", 2021)]
    bad = F.check_identity(_records())
    assert len(bad) == 1 and bad["identity_gap"].iloc[0] == pytest.approx(-2.0)
    g = res.by_group().set_index(["arm", "year"])
    assert g.loc[("pilot", 2021), "n_paying_over_allocation"] == 1
    assert g.loc[("comparison", 2021), "n_identity_violations"] == 1
    assert "holds within 1 baht in 4" in res.notes()[0]
    check_vocabulary(res.tidy())
    check_vocabulary(res.by_group())
    res.plot()


def test_fund_indicators_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="appears more than once"):
        F.fund_indicators(pd.concat([_records(), _records().iloc[:1]]))
    with pytest.raises(ValueError, match="fund_closing"):
        F.fund_indicators(_records().drop(columns="fund_closing"))


# --------------------------------------------------------------------------------------------------
# Demand
# --------------------------------------------------------------------------------------------------
def test_demand_from_population_equals_brute_force_single_years() -> None:
    """One-year bands: ageing is a shift, so the projection can be written out by hand."""
    ages = np.arange(0, 6)
    n0 = np.array([10.0, 12.0, 9.0, 14.0, 11.0, 8.0])
    q = np.array([0.01, 0.0, 0.02, 0.03, 0.05, 0.2])  # deaths
    f = np.array([0.0, 0.0, 0.1, 0.15, 0.0, 0.0])  # births
    ill = np.array([0.2, 0.1, 0.1, 0.15, 0.3, 0.5])
    pop = pd.DataFrame({"village_id": "v", "age": ages, "n": n0})
    rates = pd.concat([
        pd.DataFrame({"welfare_type": "death", "age": ages, "rate": q}),
        pd.DataFrame({"welfare_type": "childbirth", "age": ages, "rate": f}),
        pd.DataFrame({"welfare_type": "illness", "age": ages, "rate": ill}),
        pd.DataFrame({"welfare_type": "elderly", "age": [0], "rate": [1.0]}),
    ])
    rules = pd.DataFrame({"village_id": "v", "welfare_type": ["death", "childbirth", "illness", "elderly"],
                          "amount": [3000.0, 1000.0, 500.0, 100.0], "basis": ["case", "case", "case", "month"],
                          "min_age": [None, None, None, 4], "max_age": [None, None, 3, None]})
    g = 0.02
    d = F.demand_from_population(pop, rates, rules, horizon=4, member_growth=g)
    n = n0.copy()
    for t in range(1, 5):
        want = {"death": n @ q, "childbirth": n @ f, "illness": n[:4] @ ill[:4], "elderly": n[4:].sum()}
        got = d[d["year"] == t].set_index("welfare_type")
        for k, w in want.items():
            assert got.loc[k, "cases"] == pytest.approx(w, rel=1e-12), (t, k)
        assert got.loc["elderly", "amount"] == 1200.0 and got.loc["illness", "amount"] == 500.0
        nxt = np.zeros_like(n)
        surv = n * (1 - q)
        nxt[1:] = surv[:-1]
        nxt[-1] += surv[-1]  # the last band is open
        nxt[0] += n @ f
        n = nxt * (1 + g)


def test_demand_bands_ageing_and_waiting_period() -> None:
    pop = pd.DataFrame({"village_id": "v", "age": [0, 20, 60], "n": [100.0, 100.0, 100.0]})
    rates = pd.DataFrame({"welfare_type": ["illness"], "age": [0], "rate": [0.1]})
    rules = pd.DataFrame({"village_id": "v", "welfare_type": ["illness"], "amount": [500.0], "min_age": [60],
                          "waiting_months": [6]})
    d = F.demand_from_population(pop, rates, rules, horizon=3, member_growth=0.1, mortality=None, fertility=None)
    # band 0-19 passes 1/20, band 20-59 passes 1/40 of its people on each year; eligible 60+ only;
    # 10 % yearly inflow waits half a year: eligible share 0.95
    n = np.array([100.0, 100.0, 100.0])
    for t in (1, 2, 3):
        c = float(d.loc[d["year"] == t, "cases"].iloc[0])
        assert c == pytest.approx(0.1 * n[2] * 0.95, rel=1e-12)
        move = n[:2] / np.array([20.0, 40.0])
        n = np.array([n[0] - move[0], n[1] - move[1] + move[0], n[2] + move[1]]) * 1.1
    assert d["population"].iloc[0] == 300.0


def test_demand_helpers_and_errors() -> None:
    rules = pd.DataFrame({"village_id": ["v", "v", "w"], "welfare_type": ["death", "illness", "death"],
                          "amount": [3000.0, 500.0, 2000.0], "offered": [True, False, True]})
    d = F.demand_from_rates(pd.DataFrame({"village_id": ["v", "w"], "members": [100, 50]}),
                            pd.DataFrame({"welfare_type": ["death", "illness"], "rate": [0.01, 0.2]}), rules)
    assert d.to_dict("list") == {"village_id": ["v", "w"], "welfare_type": ["death", "death"], "cases": [1.0, 0.5],
                                 "amount": [3000.0, 2000.0]}
    pay = pd.DataFrame({"village_id": "v", "welfare_type": ["death", "death", "illness"], "cases": [1, 2, 4],
                        "amount": [3000.0, 6000.0, 2000.0], "period": ["2025Q1", "2025Q2", "2025Q2"]})
    h = F.demand_from_history(pay).set_index("welfare_type")
    assert h.loc["death", "cases"] == pytest.approx(6.0) and h.loc["death", "amount"] == pytest.approx(3000.0)
    h2 = F.demand_from_history(pay, rules=rules)
    assert list(h2["welfare_type"]) == ["death"]  # illness not offered any more
    with pytest.raises(ValueError, match="basis"):
        F.demand_from_rates(pd.DataFrame({"village_id": ["v"], "members": [1]}),
                            pd.DataFrame({"welfare_type": ["death"], "rate": [0.1]}), rules.assign(basis="week"))
    with pytest.raises(ValueError, match="no rate"):
        F.demand_from_rates(pd.DataFrame({"village_id": ["v"], "members": [1]}),
                            pd.DataFrame({"welfare_type": ["illness"], "rate": [0.1]}), rules)


# --------------------------------------------------------------------------------------------------
# Projection
# --------------------------------------------------------------------------------------------------
def _one(balance: float, profit: float, share: float, cases: float, amount: float, other: float = 0.0) -> tuple:
    funds = pd.DataFrame({"village_id": ["v"], "balance": [balance], "profit": [profit], "welfare_share": [share],
                          "other_income": [other]})
    demand = pd.DataFrame({"village_id": ["v"], "welfare_type": ["all"], "cases": [cases], "amount": [amount]})
    return funds, demand


def test_projection_exact_when_nothing_is_random() -> None:
    # income 1,000 + 200 a year, payouts 2,000: the 3,000 balance lasts 3000 / 800 = 3.75 years
    funds, demand = _one(3000.0, 10000.0, 10.0, 20.0, 100.0, other=200.0)
    sc = F.Scenario(profit_growth=0.0, profit_growth_sd=0.0)
    p = F.project_funds(funds, demand, scenario=sc, draws=10, random_cases=False, horizon=10)
    t = p.tidy().iloc[0]
    assert t["years_to_exhaustion"] == pytest.approx(3.75) and t["p_exhausted"] == 1.0 and t["status"] == "exhausted"
    # sustainable scale s: balance stays >= 0 for 10 years iff 3000 + 10 * 1200 >= 10 * 2000 s
    assert t["sustainable_scale"] == pytest.approx(15000 / 20000)
    assert t["reserve_months"] == pytest.approx(3000 / (2000 / 12))
    b = p.bands()
    assert b.loc[b["year"] == 4, "q50"].iloc[0] == pytest.approx(3000 - 4 * 800)
    # a fund whose income covers its payouts is never exhausted
    funds2, demand2 = _one(0.0, 10000.0, 20.0, 20.0, 100.0)
    t2 = F.project_funds(funds2, demand2, scenario=sc, draws=10, random_cases=False).tidy().iloc[0]
    assert t2["p_exhausted"] == 0.0 and np.isinf(t2["years_to_exhaustion"]) and t2["status"] == "sustainable"
    assert t2["sustainable_scale"] == pytest.approx(1.0)


def test_projection_probability_matches_the_poisson_distribution() -> None:
    """One year: exhausted iff balance + income < amount x C, C ~ Poisson(lambda)."""
    funds, demand = _one(2000.0, 10000.0, 10.0, 25.0, 120.0)
    sc = F.Scenario(profit_growth=0.0, profit_growth_sd=0.0)
    draws = 20000
    t = F.project_funds(funds, demand, scenario=sc, horizon=1, draws=draws, seed=11).tidy().iloc[0]
    exact = 1.0 - stats.poisson.cdf(np.floor(3000.0 / 120.0), 25.0)
    se = np.sqrt(exact * (1 - exact) / draws)
    assert abs(t["p_exhausted"] - exact) < 4 * se


def test_sustainable_scale_is_the_alpha_quantile() -> None:
    funds, demand = _one(5000.0, 20000.0, 10.0, 30.0, 100.0)
    sc = F.Scenario(profit_growth=0.02, profit_growth_sd=0.1)
    p = F.project_funds(funds, demand, scenario=sc, draws=2000, seed=5, alpha=0.1)
    s = float(p.tidy()["sustainable_scale"].iloc[0])
    at = F.project_funds(funds, demand.assign(amount=100.0 * s), scenario=sc, draws=2000, seed=5)
    above = F.project_funds(funds, demand.assign(amount=100.0 * s * 1.001), scenario=sc, draws=2000, seed=5)
    assert at.tidy()["p_exhausted"].iloc[0] <= 0.1 <= above.tidy()["p_exhausted"].iloc[0]


def test_stress_scenarios_make_things_worse() -> None:
    funds = pd.DataFrame({"village_id": ["v", "w"], "balance": [3000.0, 30000.0], "profit": [20000.0, 40000.0],
                          "welfare_share": [10.0, 10.0]})
    demand = pd.DataFrame({"village_id": ["v", "v", "w"], "welfare_type": ["disaster", "death", "illness"],
                           "cases": [1.0, 5.0, 10.0], "amount": [1500.0, 300.0, 300.0]})
    st = F.stress_tests(funds, demand, draws=400, seed=3)
    w = st.wide().set_index("village_id")
    assert list(w.columns) == ["baseline", "disaster", "profit_shock", "combined"]
    assert (w["disaster"] >= w["baseline"]).all() and (w["combined"] >= w["profit_shock"]).all()
    assert w.loc["v", "disaster"] > w.loc["v", "baseline"]
    assert (w["profit_shock"] >= w["baseline"]).all()
    assert len(st.tidy()) == 8
    check_vocabulary(st.tidy())
    st.plot()
    st.projections["baseline"].plot()


def test_projection_refuses_bad_input() -> None:
    funds, demand = _one(1.0, 1.0, 10.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="not in funds"):
        F.project_funds(funds, demand.assign(village_id="x"))
    with pytest.raises(ValueError, match="welfare_share"):
        F.project_funds(funds.drop(columns="welfare_share"), demand)
    with pytest.raises(ValueError, match="alpha"):
        F.project_funds(funds, demand, alpha=0.6)
    with pytest.raises(ValueError, match="no rows for year"):
        F.project_funds(funds, demand.assign(year=1), horizon=2)
    with pytest.raises(ValueError, match="share"):
        F.Scenario(profit_shock=1.5)


# --------------------------------------------------------------------------------------------------
# The simulated study's planted truths
# --------------------------------------------------------------------------------------------------
def test_admin_panel_respects_the_fund_identity(clean_demo: Any) -> None:
    a = clean_demo.study.fieldwork.admin
    assert F.check_identity(a, tolerance=0.5).empty
    assert (a["welfare_payout"] <= a["fund_opening"] + a["fund_income"] + 1e-9).all()
    assert (a[["fund_opening", "fund_closing", "fund_income_other"]] >= 0).all().all()
    assert (a["fund_income"] == a["alloc_welfare"] + a["fund_income_other"]).all()
    ind = F.fund_indicators(a, group="arm")
    assert ind.violations().empty
    assert np.nanmax(np.abs(ind.tidy()["continuity_gap"])) < 1e-9
    # the cleaned table carries the same fund columns (the identity survives cleaning)
    proc = clean_demo.tables()["admin"]
    assert F.check_identity(proc, tolerance=0.5).empty
    assert (clean_demo.study.truth.funds["capped_years"] == 0).all()


def test_planted_exhausting_pilots_are_flagged_from_the_panel(clean_demo: Any) -> None:
    study = clean_demo.study
    truth = study.truth.funds
    planted = sorted(truth.loc[truth["planted_exhaustion"], "village_id"].astype(str))
    assert len(planted) == 2
    funds, demand = F.inputs_from_panel(study.fieldwork.admin, group="arm")
    proj = F.project_funds(funds, demand, group="arm", draws=1000, seed=2568,
                           scenario=F.Scenario(profit_growth=0.03, member_growth=0.03))
    assert proj.flagged() == planted
    t = proj.tidy().set_index("village_id")
    assert (t.loc[planted, "arm"] == "pilot").all() and (t.loc[planted, "years_to_exhaustion"] < 10).all()
    # the truth's own flat continuation agrees
    assert sorted(truth.loc[np.isfinite(truth["years_to_exhaustion"]), "village_id"].astype(str)) == planted
