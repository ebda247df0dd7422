"""Study step: welfare-fund sustainability of the study villages (tables ``funds_*``).

:func:`analyze_funds` runs :mod:`welfare_eval.funds` on the savings-group records (processed table ``admin``:
one row per village and year with profit, allocation, welfare payouts and the fund statement) and the
household survey, with every assumption taken from ``plan.funds`` (the packaged ``plan.yaml`` states them).
It reads and writes no files; the statistics are the library's.

What it computes
----------------
* **Indicators** per village-year (:func:`welfare_eval.funds.fund_indicators`): payouts / welfare
  allocation, payouts / fund income, welfare share of profit, closing balance in months of payouts, balance
  change, and the fund identity opening + income − payouts = closing (``funds_identity`` lists every
  village-year where it fails by more than ``alarms.identity_tolerance`` baht); sums by arm and year with
  ratios of sums and the number of villages paying more than their allocation / their income.
* **Demand** for the nine welfare types from household demographics. The survey records each household's
  size, the head's age and which welfare types it received in the last 12 months, not every member's age,
  so the unit is the *member household*, banded by the head's age:

  - the rate of type *k* in band *b* is the weighted share of interviewed households of the band that
    received *k* at ``demand.wave`` (weights ``w_final``, per arm when ``demand.by_arm``), with a
    linearisation standard error clustered on villages; ``demand.rates`` may replace the rates of a type;
  - each village's member households at the start = households of the village × the weighted share of
    households that are welfare-fund members (``member_welfare_fund``; all households when the survey
    lacks it), spread over the bands by the village's own weighted shares (its arm's when it has no
    interviewed household at that wave);
  - the households are projected year by year (:func:`welfare_eval.funds.demand_from_population`): heads age
    from band to band; a head dies or hands over at the ASSUMED yearly rate ``demand.head_turnover`` and the
    household re-enters the youngest band (so the number of households changes only by
    ``member_growth``); cases = households × rate, cost = cases × ``demand.benefits`` (baht per case).
  - ``demand.level: experience`` (default) scales each village's cases so that its expected payouts in
    year 1 equal its own recent payout level (members of the last year × payouts per member over the last
    ``window`` years, :func:`welfare_eval.funds.inputs_from_panel`): survey receipts include welfare from
    other sources and the fund's benefits differ from the assumed amounts, so the level comes from the
    fund's own books and the demographics give the mix of types and the trend as heads age.
    ``level: survey`` uses the unscaled cases.
* **Projection** (:func:`welfare_eval.funds.project_funds`, Monte Carlo with ``draws`` draws, Poisson cases,
  log-normal profit growth) over ``horizon`` years under the baseline scenario and each alternative
  (``funds.scenarios``), and the stress tests (``funds.stress``, common random numbers): per village the
  probability that the fund is exhausted within the horizon, the years until exhaustion, the balance
  bands, and the sustainable benefit level (largest multiple of the current benefits with a probability of
  exhaustion ≤ ``alarms.alpha``). Income per village: profit = mean of the last ``window`` years' profit
  (one year's profit is noisy), × the welfare share (mean over the window of allocation / profit, or the
  scenario's), + the last year's other income.
* **Pilot vs comparison** (``funds_arms``): villages by status, mean probability of exhaustion, balances,
  year-1 income and payouts per arm and scenario.
* **Alarms** (``funds_alarms``), one row per village, thresholds in ``funds.alarms``: reserve below
  ``reserve_months`` months of payouts in the last year; payouts above the fund's income in each of the last
  ``drawdown_years`` years; a broken fund identity; a projected status ``at_risk`` (probability of
  exhaustion above ``alpha``) or ``exhausted`` (at least ``exhausted_probability``).

Not modelled (stated in the report): uncertainty of the survey rates and of the payout level (the bands are
Monte Carlo bands given them), inflation, a change of the benefit rules other than the scale, and reserves
other than the welfare fund.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.funds as F
import welfare_eval.reference as ref
from welfare_eval.study.plan import AnalysisPlan, FundScenarioPlan, FundsPlan, default_plan
from welfare_eval.study.sample import RECEIVED_PREFIX, receipt_wide, require_tables

__all__ = ["FUND_COLUMNS", "analyze_funds", "demand_paths", "fund_inputs", "scenarios_of", "survey_rates"]

#: Columns of ``admin`` the step needs.
FUND_COLUMNS = ("village_id", "arm", "year", "members", "profit", "alloc_welfare", "welfare_payout",
                "fund_opening", "fund_income", "fund_income_other", "fund_closing")


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------
def _scenario(base: FundScenarioPlan, change: FundScenarioPlan | None, name: str) -> F.Scenario:
    settings = {**base.settings(), **(change.settings() if change is not None else {})}
    if "disaster_types" in settings:
        settings["disaster_types"] = tuple(settings["disaster_types"])
    return F.Scenario(name=name, **settings)


def scenarios_of(fp: FundsPlan) -> tuple[dict[str, F.Scenario], dict[str, F.Scenario]]:
    """The projection scenarios (baseline first, then ``funds.scenarios``) and the stress scenarios
    (baseline first, then ``funds.stress``) of the plan, as :class:`welfare_eval.funds.Scenario`."""
    base = _scenario(fp.scenario, None, "baseline")
    proj = {"baseline": base}
    proj.update({n: _scenario(fp.scenario, s, n) for n, s in fp.scenarios.items() if s is not None})
    stress = {"baseline": base}
    stress.update({n: _scenario(fp.scenario, s, n) for n, s in fp.stress.items() if s is not None})
    return proj, stress


def _scenario_table(proj: Mapping[str, F.Scenario], stress: Mapping[str, F.Scenario]) -> pd.DataFrame:
    rows = []
    for kind, group in (("projection", proj), ("stress", stress)):
        for name, s in group.items():
            if kind == "stress" and name == "baseline":
                continue
            rows.append({
                "scenario": name,
                "kind": "baseline" if name == "baseline" else ("alternative" if kind == "projection" else "stress"),
                "profit_growth": s.profit_growth,
                "profit_growth_sd": s.profit_growth_sd,
                "welfare_share": np.nan if s.welfare_share is None else s.welfare_share,
                "other_income_growth": s.other_income_growth,
                "member_growth": s.member_growth,
                "benefit_growth": s.benefit_growth,
                "disaster_year": s.disaster_year,
                "disaster_multiplier": s.disaster_multiplier if s.disaster_year is not None else np.nan,
                "disaster_types": " ".join(s.disaster_types) if s.disaster_year is not None else "",
                "profit_shock_year": s.profit_shock_year,
                "profit_shock": s.profit_shock if s.profit_shock_year is not None else np.nan,
                "profit_shock_persistent": bool(s.profit_shock_persistent),
            })
    out = pd.DataFrame(rows)
    for c in ("disaster_year", "profit_shock_year"):
        out[c] = pd.array(out[c].tolist(), dtype="Int64")
    return out


# --------------------------------------------------------------------------------------------------
# Demand from the survey
# --------------------------------------------------------------------------------------------------
def _band_of(age: pd.Series, bands: tuple[int, ...]) -> np.ndarray:
    lo = np.asarray(bands, dtype=float)
    a = age.to_numpy(dtype=float)
    idx = np.searchsorted(lo, a, side="right") - 1
    return np.where(idx >= 0, lo[np.maximum(idx, 0)], lo[0])  # ages below the first bound join the first band


def _survey_sample(households: pd.DataFrame, benefits: pd.DataFrame | None, fp: FundsPlan) -> pd.DataFrame:
    """Interviewed households of ``demand.wave`` with their weight, head's-age band and receipt indicators."""
    d = fp.demand
    hh = households
    if not any(c.startswith(RECEIVED_PREFIX) for c in hh.columns):
        if benefits is None:
            raise ValueError("funds: the benefits table is needed for the welfare rates by age (or set funds.enabled: "
                             "false)")
        hh = receipt_wide(hh, benefits)
    need = ["village_id", "arm", "wave", "interviewed", "head_age"]
    miss = [c for c in need if c not in hh.columns]
    if miss:
        raise ValueError(f"funds: the households table lacks {miss}; the demand model needs the head's age")
    w = hh["w_final"] if "w_final" in hh.columns else pd.Series(1.0, index=hh.index)
    s = hh.assign(_w=w.astype(float))
    s = s[(s["wave"].astype(str) == d.wave) & (s["interviewed"] == 1) & (s["_w"] > 0)]
    if s.empty:
        raise ValueError(f"funds: no interviewed household at wave {d.wave!r} (plan funds.demand.wave)")
    return s


def survey_rates(sample: pd.DataFrame, fp: FundsPlan) -> pd.DataFrame:
    """Rates of receipt per household-year by arm, welfare type and head's-age band (see the module docstring).

    Returns ``arm`` (``all`` when pooled), ``welfare_type``, ``age`` (lower bound of the band), ``rate``,
    ``std_error`` (Taylor linearisation of the domain mean, villages as with-replacement PSUs of the whole
    sample: what R's ``svymean(~y, subset(design, ...))`` gives), ``n_obs`` (households), ``n_clusters``
    (villages with households in the cell), ``n_received`` (households that received the type),
    ``n_missing_age`` (households of the arm without the head's age, left out) and ``source`` (``survey``, or
    ``plan`` for rates given in ``funds.demand.rates``).
    """
    d = fp.demand
    types = [str(c) for c in ref.welfare_types()["code"]]
    s = sample.copy()
    s["_arm"] = s["arm"].astype(str) if d.by_arm else "all"
    missing_age = s.groupby("_arm")["head_age"].apply(lambda x: int(x.isna().sum()))
    s = s[s["head_age"].notna()]
    s["_band"] = _band_of(s["head_age"], d.age_bands)
    # the design: every interviewed household of the wave, villages as with-replacement PSUs; each arm × band
    # cell is a domain of it (all the sample's villages count in the variance, as R's survey::subset does)
    all_villages = np.unique(sample["village_id"].astype(str).to_numpy())
    n_psu = all_villages.size
    rows = []
    for (arm, band), g in s.groupby(["_arm", "_band"], sort=True):
        w = g["_w"].to_numpy(dtype=float)
        inv = np.searchsorted(all_villages, g["village_id"].astype(str).to_numpy())
        for k in types:
            col = f"{RECEIVED_PREFIX}{k}"
            if col not in g.columns:
                raise ValueError(f"funds: no receipt indicator for welfare type {k!r} in the survey")
            y = g[col].to_numpy(dtype=float)
            ok = ~np.isnan(y)
            wk, yk, ik = w[ok], y[ok], inv[ok]
            tw = wk.sum()
            r = float((wk * yk).sum() / tw) if tw > 0 else np.nan
            # Taylor linearisation of the domain ratio mean: z_c = sum_{i in c, domain} w_i (y_i - r) / sum w,
            # V = C/(C-1) sum_c (z_c - mean z)^2 over the C villages of the design (mean z = 0 here)
            z = np.bincount(ik, weights=wk * (yk - r), minlength=n_psu) / tw if tw > 0 else np.zeros(n_psu)
            se = float(np.sqrt(n_psu / (n_psu - 1) * ((z - z.mean()) ** 2).sum())) if n_psu > 1 and tw > 0 else np.nan
            rows.append({"arm": arm, "welfare_type": k, "age": int(float(str(band))), "rate": r, "std_error": se,
                         "n_obs": int(ok.sum()), "n_clusters": int(np.unique(ik).size),
                         "n_received": int((yk > 0).sum()), "n_missing_age": int(missing_age.get(arm, 0)),
                         "source": "survey"})
    out = pd.DataFrame(rows)
    if d.rates:  # the plan's rates replace the survey's for the types it names
        over = []
        for k, by_age in d.rates.items():
            ages = sorted((float(a), float(v)) for a, v in by_age.items())
            for arm in sorted(out["arm"].unique()):
                for band in d.age_bands:
                    below = [v for a, v in ages if a <= band]
                    over.append({"arm": arm, "welfare_type": k, "age": int(band), "rate": below[-1] if below else 0.0,
                                 "std_error": np.nan, "n_obs": 0, "n_clusters": 0, "n_received": 0,
                                 "n_missing_age": int(missing_age.get(arm, 0)), "source": "plan"})
        out = pd.concat([out[~out["welfare_type"].isin(list(d.rates))], pd.DataFrame(over)], ignore_index=True)
    order = {k: i for i, k in enumerate(types)}
    out = out.sort_values(["arm", "welfare_type", "age"], key=lambda c: c.map(order) if c.name == "welfare_type" else c,
                          kind="mergesort")
    return out.reset_index(drop=True)


def _population(sample: pd.DataFrame, villages: pd.DataFrame, ids: pd.DataFrame,
                fp: FundsPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Member households by village and head's-age band at the start (columns ``village_id``, ``age``, ``n``)
    and, per village, ``households``, ``member_share`` and ``demography`` (``village`` or ``arm``)."""
    d = fp.demand
    s = sample[sample["head_age"].notna()].copy()
    s["_band"] = _band_of(s["head_age"], d.age_bands)
    s["village_id"] = s["village_id"].astype(str)
    has_member = "member_welfare_fund" in s.columns

    def shares(g: pd.DataFrame) -> pd.Series:
        t = g.groupby("_band")["_w"].sum()
        return t.reindex(list(map(float, d.age_bands)), fill_value=0.0) / t.sum()

    def member(g: pd.DataFrame) -> float:
        if not has_member:
            return 1.0
        m = g["member_welfare_fund"].astype(float)
        ok = m.notna()
        return float(np.average(m[ok], weights=g.loc[ok, "_w"])) if ok.any() else np.nan

    nh = villages.assign(village_id=villages["village_id"].astype(str)).set_index("village_id")["n_households"]
    rows, info = [], []
    for rec in ids.to_dict("records"):
        v, arm = str(rec["village_id"]), str(rec["arm"])
        g = s[s["village_id"] == v]
        source = "village"
        if g.empty:
            g = s[s["arm"].astype(str) == arm]
            source = "arm"
        if v not in nh.index:
            raise ValueError(f"funds: village {v} has savings-group records but is not in the villages table")
        sh = shares(g)
        ms = member(g)
        if np.isnan(ms):
            ms = member(s[s["arm"].astype(str) == arm])
        n = float(nh[v]) * ms
        for band, share in zip(sh.index, sh.to_numpy(dtype=float), strict=True):
            rows.append({"village_id": v, "age": float(band), "n": n * float(share)})
        info.append({"village_id": v, "households": float(nh[v]), "member_share": ms, "member_households": n,
                     "demography": source})
    return pd.DataFrame(rows), pd.DataFrame(info)


def demand_paths(
    population: pd.DataFrame,
    rates: pd.DataFrame,
    arms: pd.Series,
    fp: FundsPlan,
    *,
    member_growth: float,
    level: pd.Series | None = None,
) -> pd.DataFrame:
    """Expected cases by village, welfare type and year 1..horizon (the demand table of the projection).

    Per arm, :func:`welfare_eval.funds.demand_from_population` with the arm's rates, the plan's benefits and
    the head-turnover rates as both the exits and the re-entries of the youngest band. With ``level`` (expected
    payouts of year 1 per village) the cases of a village are scaled so that year 1 costs ``level``
    (column ``calibration`` = the scale; 1 without ``level``).
    """
    d = fp.demand
    turnover = pd.DataFrame({"age": [float(a) for a in d.head_turnover], "rate": list(d.head_turnover.values())})
    types = [str(c) for c in ref.welfare_types()["code"]]
    parts = []
    by_arm = rates["arm"].nunique() > 1 or rates["arm"].iloc[0] != "all"
    for arm, vids in arms.groupby(arms, sort=True):
        r = rates[rates["arm"] == (arm if by_arm else "all")]
        if r.empty:
            raise ValueError(f"funds: no survey rates for arm {arm!r} (households of that arm at wave {d.wave!r})")
        ids = list(map(str, vids.index))
        rules = pd.DataFrame([{"village_id": v, "welfare_type": k, "amount": float(d.benefits[k])}
                              for v in ids for k in types])
        pop = population[population["village_id"].isin(ids)]
        parts.append(F.demand_from_population(pop, r[["welfare_type", "age", "rate"]], rules, horizon=fp.horizon,
                                              member_growth=member_growth, mortality=turnover, fertility=turnover))
    out = pd.concat(parts, ignore_index=True)
    out["calibration"] = 1.0
    if level is not None:
        y1 = out[out["year"] == 1]
        cost = (y1["cases"] * y1["amount"]).groupby(y1["village_id"]).sum()
        lv = level.copy()
        lv.index = lv.index.astype(str)
        bad = [v for v in cost.index if cost[v] <= 0 and lv.get(v, 0.0) > 0]
        if bad:
            raise ValueError(f"funds: village {bad[0]} paid welfare but its survey demand is zero; give rates in "
                             "funds.demand.rates or use funds.demand.level: survey")
        scale = (lv.reindex(cost.index) / cost.where(cost > 0)).fillna(0.0)
        out["calibration"] = out["village_id"].map(scale).astype(float)
        out["cases"] = out["cases"] * out["calibration"]
    out["payout"] = out["cases"] * out["amount"]
    order = {k: i for i, k in enumerate(types)}
    out = out.sort_values(["village_id", "year", "welfare_type"],
                          key=lambda c: c.map(order) if c.name == "welfare_type" else c, kind="mergesort")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Funds now
# --------------------------------------------------------------------------------------------------
def fund_inputs(admin: pd.DataFrame, fp: FundsPlan) -> tuple[pd.DataFrame, pd.Series]:
    """Each village's fund now (``village_id``, ``arm``, ``region``, ``last_year``, ``balance``, ``profit``,
    ``welfare_share``, ``other_income``) and its current payout level (baht per year, indexed by village).

    From :func:`welfare_eval.funds.inputs_from_panel` over the last ``window`` years, except ``profit``: the
    mean of the window's profits rather than the last year's alone.
    """
    funds, hist = F.inputs_from_panel(admin, window=fp.window, group="arm")
    a = admin.assign(village_id=admin["village_id"].astype(str)).sort_values(["village_id", "year"], kind="mergesort")
    tail = a.groupby("village_id", sort=True).tail(fp.window)
    funds["profit"] = funds["village_id"].map(tail.groupby("village_id")["profit"].mean()).astype(float)
    funds["last_year"] = funds["village_id"].map(a.groupby("village_id")["year"].max()).astype(int)
    if "region" in a.columns:
        funds["region"] = funds["village_id"].map(a.groupby("village_id")["region"].last()).astype(int)
    level = (hist["cases"] * hist["amount"]).set_axis(hist["village_id"].astype(str))
    return funds, level.astype(float)


# --------------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------------
def analyze_funds(
    tables: Mapping[str, pd.DataFrame],
    plan: AnalysisPlan | None = None,
    *,
    households: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The welfare-fund sustainability tables (see the module docstring).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Processed tables: ``admin`` (savings-group records with the fund statement), ``villages``,
        ``households`` and ``benefits``.
    plan : AnalysisPlan, optional
        ``plan.funds`` (default: the packaged plan); the seed is ``plan.funds.seed`` or ``plan.seed``.
    households : DataFrame, optional
        The weighted households (``w_final``; with ``received_<type>`` columns or not), as the analysis
        computes them once; default: unit weights of ``tables["households"]``.

    Returns
    -------
    dict of DataFrame
        ``funds_indicators``, ``funds_by_arm``, ``funds_identity``, ``funds_rates``, ``funds_inputs``,
        ``funds_demand``, ``funds_scenarios``, ``funds_projection``, ``funds_bands``, ``funds_stress``,
        ``funds_arms``, ``funds_alarms``; empty when ``plan.funds.enabled`` is false.
    """
    plan = plan or default_plan()
    fp = plan.funds
    if not fp.enabled:
        return {}
    require_tables(tables, "admin", "villages", "households", step="funds")
    admin = tables["admin"]
    miss = [c for c in FUND_COLUMNS if c not in admin.columns]
    if miss:
        raise ValueError(f"funds: the savings-group records (admin) lack {miss}; the fund statement columns are needed "
                         "(or set funds.enabled: false in the analysis plan)")
    al = fp.alarms
    seed = plan.seed if fp.seed is None else fp.seed
    out: dict[str, pd.DataFrame] = {}

    # indicators and the identity ------------------------------------------------------------------------
    ind = F.fund_indicators(admin, group="arm", members="members", tolerance=al.identity_tolerance)
    out["funds_indicators"] = ind.tidy()
    out["funds_by_arm"] = ind.by_group()
    out["funds_identity"] = ind.violations()

    # demand ---------------------------------------------------------------------------------------------
    hh = households if households is not None else tables["households"]
    sample = _survey_sample(hh, tables.get("benefits"), fp)
    rates = survey_rates(sample, fp)
    out["funds_rates"] = rates
    funds, level = fund_inputs(admin, fp)
    arms = funds.set_index("village_id")["arm"].astype(str)
    population, info = _population(sample, tables["villages"], funds[["village_id", "arm"]], fp)
    proj_sc, stress_sc = scenarios_of(fp)
    calibrate = level if fp.demand.level == "experience" else None
    paths: dict[float, pd.DataFrame] = {}

    def path(sc: F.Scenario) -> pd.DataFrame:
        if sc.member_growth not in paths:
            paths[sc.member_growth] = demand_paths(population, rates, arms, fp, member_growth=sc.member_growth,
                                                   level=calibrate)
        return paths[sc.member_growth]

    base_demand = path(proj_sc["baseline"])
    out["funds_demand"] = base_demand
    y1 = base_demand[base_demand["year"] == 1]
    inputs = funds.merge(info, on="village_id", how="left")
    inputs["payout_level"] = inputs["village_id"].map(level).astype(float)
    inputs["payout_year1"] = inputs["village_id"].map(y1.groupby("village_id")["payout"].sum()).astype(float)
    inputs["calibration"] = inputs["village_id"].map(y1.groupby("village_id")["calibration"].first()).astype(float)
    front = ["village_id", "arm", "region", "last_year"]
    inputs = inputs[[c for c in front if c in inputs.columns] + [c for c in inputs.columns if c not in front]]
    out["funds_inputs"] = inputs
    out["funds_scenarios"] = _scenario_table(proj_sc, stress_sc)

    # projections ------------------------------------------------------------------------------------------
    kw: dict[str, Any] = {"horizon": fp.horizon, "draws": fp.draws, "seed": seed, "alpha": al.alpha,
                          "exhausted_probability": al.exhausted_probability, "group": "arm"}
    fund_cols = ["village_id", "arm", "balance", "profit", "welfare_share", "other_income"]
    projections = {n: F.project_funds(funds[fund_cols], path(s), scenario=s, **kw) for n, s in proj_sc.items()}
    stressed = {"baseline": projections["baseline"]}
    stressed.update({n: F.project_funds(funds[fund_cols], path(s), scenario=s, **kw)
                     for n, s in stress_sc.items() if n != "baseline"})
    proj_t = pd.concat([p.tidy() for p in projections.values()], ignore_index=True)
    stress_t = F.StressTests(stressed).tidy()
    out["funds_projection"] = proj_t
    out["funds_bands"] = projections["baseline"].bands()
    out["funds_stress"] = stress_t
    out["funds_arms"] = _by_arm(proj_t, stress_t)
    alarms = _alarms(ind.tidy(), projections["baseline"].tidy(), funds, fp)
    vil = tables["villages"]
    if "village_name" in vil.columns:  # village names are public (CDD village registry), shown in the report
        names = vil.assign(village_id=vil["village_id"].astype(str)).set_index("village_id")["village_name"]
        alarms.insert(1, "village_name", alarms["village_id"].map(names).astype("string"))
    out["funds_alarms"] = alarms
    return out


def _by_arm(proj: pd.DataFrame, stress: pd.DataFrame) -> pd.DataFrame:
    """Pilot vs comparison per scenario: villages by status, mean probability of exhaustion, sums."""
    rows = []
    for kind, t in (("projection", proj), ("stress", stress[stress["scenario"] != "baseline"])):
        for (sc, arm), g in t.groupby(["scenario", "arm"], sort=False):
            fin = g["years_to_exhaustion"][np.isfinite(g["years_to_exhaustion"])]
            rows.append({
                "scenario": sc,
                "kind": kind if sc != "baseline" else "baseline",
                "arm": arm,
                "n_villages": len(g),
                "n_sustainable": int((g["status"] == "sustainable").sum()),
                "n_at_risk": int((g["status"] == "at_risk").sum()),
                "n_exhausted": int((g["status"] == "exhausted").sum()),
                "p_exhausted_mean": float(g["p_exhausted"].mean()),
                "years_to_exhaustion_min": float(fin.min()) if len(fin) else np.inf,
                "balance": float(g["balance"].sum()),
                "income_year1": float(g["income_year1"].sum()),
                "payout_year1": float(g["payout_year1"].sum()),
                "sustainable_scale_median": float(g["sustainable_scale"].median()),
            })
    out = pd.DataFrame(rows)
    arm_order = {a: i for i, a in enumerate(ref.ARMS)}
    out["_a"] = out["arm"].map(arm_order).fillna(len(arm_order))
    out["_s"] = out.groupby("scenario", sort=False).ngroup()
    return out.sort_values(["_s", "_a"], kind="mergesort").drop(columns=["_a", "_s"]).reset_index(drop=True)


def _trailing(flags: pd.Series) -> int:
    """Number of True values at the end of a sequence."""
    n = 0
    for f in reversed(flags.tolist()):
        if not f:
            break
        n += 1
    return n


def _alarms(ind: pd.DataFrame, proj: pd.DataFrame, funds: pd.DataFrame, fp: FundsPlan) -> pd.DataFrame:
    """One row per village: the alarms of ``plan.funds.alarms`` and the baseline projection's status."""
    al = fp.alarms
    t = ind.sort_values(["village_id", "year"], kind="mergesort")
    p = {str(r["village_id"]): r for r in proj.to_dict("records")}
    rows: list[dict[str, Any]] = []
    for v, g in t.groupby("village_id", sort=True):
        last = g.iloc[-1]
        draw = _trailing(g["payouts"] > g["income"])
        reserve = float(last["reserve_months"])
        pr = p[str(v)]
        rec: dict[str, Any] = {
            "village_id": str(v),
            "arm": str(last["arm"]),
            "last_year": int(last["year"]),
            "closing": float(last["closing"]),
            "reserve_months": reserve,
            "reserve_alarm": bool(not np.isnan(reserve) and reserve < al.reserve_months),
            "drawdown_years": draw,
            "drawdown_alarm": bool(draw >= al.drawdown_years),
            "identity_failures": int((~g["identity_ok"].astype(bool)).sum()),
            "identity_alarm": bool((~g["identity_ok"].astype(bool)).any()),
            "p_exhausted": float(pr["p_exhausted"]),
            "years_to_exhaustion": float(pr["years_to_exhaustion"]),
            "sustainable_scale": float(pr["sustainable_scale"]),
            "status": str(pr["status"]),
            "projection_alarm": bool(pr["status"] != "sustainable"),
        }
        rec["n_alarms"] = sum(int(rec[k]) for k in ("reserve_alarm", "drawdown_alarm", "identity_alarm",
                                                     "projection_alarm"))
        rec["alarm"] = rec["n_alarms"] > 0
        rows.append(rec)
    out = pd.DataFrame(rows)
    if "region" in funds.columns:
        out.insert(2, "region", out["village_id"].map(funds.set_index("village_id")["region"]).astype(int))
    sev = out["status"].map({"exhausted": 0, "at_risk": 1, "sustainable": 2})
    out = out.assign(_sev=sev).sort_values(["_sev", "n_alarms", "p_exhausted", "village_id"],
                                           ascending=[True, False, False, True], kind="mergesort")
    return out.drop(columns="_sev").reset_index(drop=True)
