"""Expected demand on a welfare fund: cases by welfare type and year × benefit rules.

Three ways to build the ``demand`` table that :func:`welfare_eval.funds.project_funds` takes
(columns ``village_id``, ``welfare_type``, ``cases`` = expected cases, ``amount`` = baht per case,
and optionally ``year`` = 1..horizon):

* :func:`demand_from_population` — from the covered population by age band, rates by age (births,
  illness, ageing, deaths, disability: whatever the rate table holds) and each village's benefit
  rules, with the population projected year by year (ageing across bands, deaths, births, growth);
* :func:`demand_from_rates` — members × rates per member (no age structure);
* :func:`demand_from_history` — the cases actually paid in a recent window and the benefit amounts.

Benefit rules
-------------
``rules`` has ``village_id``, ``welfare_type``, ``amount`` and optionally ``offered`` (bool; rows
not offered are dropped), ``basis`` (``case``: the amount is paid per event and the rate is an
incidence per person-year; ``month``/``year``: the amount is paid per month/year of entitlement and
the rate is the share of persons entitled, so the yearly cost of one "case" is 12 × or 1 × the
amount), ``min_age``/``max_age`` (eligibility by age; a band partly inside counts by the share of
its years inside, ages uniform within a band) and ``waiting_months`` (new members wait this long:
with yearly inflow share ``i`` of new members, a share ``i × min(1, waiting/12)`` of the population
is not yet eligible).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BASIS_FACTOR", "demand_from_history", "demand_from_population", "demand_from_rates"]

#: Yearly cost of one "case" in units of the rule's amount, by basis.
BASIS_FACTOR: dict[str, float] = {"case": 1.0, "month": 12.0, "year": 1.0}
_OPEN_BAND = 20.0  # assumed width (years) of the last, open-ended age band for eligibility shares


def _rules(rules: pd.DataFrame) -> pd.DataFrame:
    need = {"village_id", "welfare_type", "amount"}
    miss = need - set(rules.columns)
    if miss:
        raise ValueError(f"rules lack column(s) {sorted(miss)}; need village_id, welfare_type, amount")
    r = rules.copy()
    r["village_id"] = r["village_id"].astype(str)
    if "offered" in r.columns:
        r = r[r["offered"].fillna(False).astype(bool)]
    if "basis" not in r.columns:
        r["basis"] = "case"
    r["basis"] = r["basis"].fillna("case").astype(str)
    bad = r.loc[~r["basis"].isin(list(BASIS_FACTOR)), "basis"]
    if len(bad):
        raise ValueError(f"rules: basis {bad.iloc[0]!r} is not one of {sorted(BASIS_FACTOR)}")
    r["amount"] = pd.to_numeric(r["amount"], errors="raise").astype(float)
    if (r["amount"] < 0).any() or r["amount"].isna().any():
        raise ValueError("rules: every offered welfare type needs a non-negative amount")
    for c in ("min_age", "max_age", "waiting_months"):
        r[c] = pd.to_numeric(r[c], errors="coerce") if c in r.columns else np.nan
    dup = r.duplicated(["village_id", "welfare_type"])
    if dup.any():
        d = r[dup].iloc[0]
        raise ValueError(f"rules: village {d['village_id']}, {d['welfare_type']} appears twice")
    r["annual_amount"] = r["amount"] * r["basis"].map(BASIS_FACTOR)
    return r.reset_index(drop=True)


def _bands(ages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted band lower bounds and widths (the last band is open: width inf)."""
    lo = np.unique(np.asarray(ages, dtype=float))
    if lo.size == 0:
        raise ValueError("population has no age bands")
    if (lo < 0).any():
        raise ValueError("population: ages (band lower bounds) must be >= 0")
    width = np.append(np.diff(lo), np.inf)
    return lo, width


def _eligible_share(lo: np.ndarray, width: np.ndarray, amin: float, amax: float) -> np.ndarray:
    """Share of each band's years within [amin, amax + 1) (ages uniform within a band)."""
    a = -np.inf if np.isnan(amin) else amin
    b = np.inf if np.isnan(amax) else amax + 1.0
    w = np.where(np.isinf(width), _OPEN_BAND, width)
    hi = lo + w
    inside = np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)
    return inside / w


def _rate_matrix(rates: pd.DataFrame, lo: np.ndarray, types: list[str]) -> np.ndarray:
    """rates (types × bands): for each band the rate of the rate row with the largest age ≤ band."""
    need = {"welfare_type", "age", "rate"}
    miss = need - set(rates.columns)
    if miss:
        raise ValueError(f"rates lack column(s) {sorted(miss)}; need welfare_type, age, rate")
    out = np.zeros((len(types), lo.size))
    for i, k in enumerate(types):
        r = rates[rates["welfare_type"] == k].sort_values("age")
        if r.empty:
            continue
        ages = r["age"].to_numpy(dtype=float)
        vals = r["rate"].to_numpy(dtype=float)
        if (vals < 0).any():
            raise ValueError(f"rates: negative rate for {k}")
        idx = np.searchsorted(ages, lo, side="right") - 1
        out[i] = np.where(idx >= 0, vals[np.maximum(idx, 0)], 0.0)
    return out


def demand_from_population(
    population: pd.DataFrame,
    rates: pd.DataFrame,
    rules: pd.DataFrame,
    *,
    horizon: int = 10,
    member_growth: float = 0.0,
    mortality: str | pd.DataFrame | None = "death",
    fertility: str | pd.DataFrame | None = "childbirth",
) -> pd.DataFrame:
    """Expected cases by village, welfare type and year from a projected population.

    Parameters
    ----------
    population : DataFrame
        ``village_id``, ``age`` (lower bound of an age band; the same bands for every village, the
        last open-ended) and ``n`` (persons covered by the fund) at the start of year 1.
    rates : DataFrame
        ``welfare_type``, ``age`` (lower bound; a band takes the rate of the row with the largest
        ``age`` ≤ the band's) and ``rate`` (cases per person-year for ``case`` rules, share entitled
        for ``month``/``year`` rules), e.g. estimated from the household survey.
    rules : DataFrame
        Benefit rules (see the module docstring).
    horizon : int
        Years to project.
    member_growth : float
        Yearly net growth of the covered population by new members (spread over bands pro rata).
    mortality, fertility : welfare type, DataFrame (``age``, ``rate``) or None
        Rates that drive the population: by default the ``death`` and ``childbirth`` rates of
        ``rates`` (per person-year); ``None`` switches deaths or births off.

    Returns
    -------
    DataFrame
        ``village_id``, ``welfare_type``, ``year`` (1..horizon), ``cases`` (expected),
        ``amount`` (yearly cost of one case: amount × basis factor), ``population``.

    Notes
    -----
    Cohort-component projection in bands: each year a band loses deaths (``n q``), passes
    ``1/width`` of its survivors to the next band and receives those of the band below; births
    (``Σ n f``) enter the first band; the total then grows by ``member_growth``.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    need = {"village_id", "age", "n"}
    miss = need - set(population.columns)
    if miss:
        raise ValueError(f"population lacks column(s) {sorted(miss)}; need village_id, age, n")
    pop = population.copy()
    pop["village_id"] = pop["village_id"].astype(str)
    if (pd.to_numeric(pop["n"]) < 0).any():
        raise ValueError("population: n must be non-negative")
    r = _rules(rules)
    lo, width = _bands(pop["age"].to_numpy())
    types = sorted(r["welfare_type"].unique())
    R = _rate_matrix(rates, lo, types)

    def _vital(spec: str | pd.DataFrame | None) -> np.ndarray:
        if spec is None:
            return np.zeros(lo.size)
        if isinstance(spec, str):
            sub = rates[rates["welfare_type"] == spec]
            return _rate_matrix(sub, lo, [spec])[0] if not sub.empty else np.zeros(lo.size)
        return _rate_matrix(spec.assign(welfare_type="_"), lo, ["_"])[0]

    q = np.clip(_vital(mortality), 0.0, 1.0)
    f = _vital(fertility)
    rows = []
    for v, g in pop.groupby("village_id", sort=True):
        n = np.zeros(lo.size)
        idx = np.searchsorted(lo, g["age"].to_numpy(dtype=float))
        np.add.at(n, idx, g["n"].to_numpy(dtype=float))
        rv = r[r["village_id"] == v]
        if rv.empty:
            continue
        elig = {}
        for rec in rv.to_dict("records"):
            share = _eligible_share(lo, width, rec["min_age"], rec["max_age"])
            inflow = member_growth + (float(n @ f) / n.sum() if n.sum() > 0 else 0.0)
            wait = 0.0 if np.isnan(rec["waiting_months"]) else min(1.0, rec["waiting_months"] / 12.0)
            elig[rec["welfare_type"]] = (share * max(0.0, 1.0 - inflow * wait), rec["annual_amount"])
        for t in range(1, horizon + 1):
            for i, k in enumerate(types):
                if k not in elig:
                    continue
                share, amount = elig[k]
                rows.append({"village_id": v, "welfare_type": k, "year": t, "cases": float(n @ (R[i] * share)),
                             "amount": amount, "population": float(n.sum())})
            # next year's population
            surv = n * (1.0 - q)
            move = np.where(np.isinf(width), 0.0, surv / np.where(np.isinf(width), 1.0, width))
            nxt = surv - move
            nxt[1:] += move[:-1]
            nxt[0] += float(n @ f)
            n = nxt * (1.0 + member_growth)
    out = pd.DataFrame(rows, columns=["village_id", "welfare_type", "year", "cases", "amount", "population"])
    return out


def demand_from_rates(members: pd.DataFrame, rates: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Expected yearly cases = members × rate per member, for the types each village offers.

    ``members``: ``village_id``, ``members``; ``rates``: ``welfare_type``, ``rate`` (per member-year;
    optionally ``village_id`` for village-specific rates). Returns ``village_id``, ``welfare_type``,
    ``cases``, ``amount`` (yearly cost per case).
    """
    r = _rules(rules)
    m = members[["village_id", "members"]].copy()
    m["village_id"] = m["village_id"].astype(str)
    on = ["welfare_type"] + (["village_id"] if "village_id" in rates.columns else [])
    rt = rates.copy()
    if "village_id" in rt.columns:
        rt["village_id"] = rt["village_id"].astype(str)
    d = r.merge(m, on="village_id", how="inner").merge(rt[[*on, "rate"]], on=on, how="left")
    if d["rate"].isna().any():
        k = d.loc[d["rate"].isna(), "welfare_type"].iloc[0]
        raise ValueError(f"rates: no rate for welfare type {k!r}")
    d["cases"] = d["members"].astype(float) * d["rate"].astype(float)
    d["amount"] = d["annual_amount"]
    return d[["village_id", "welfare_type", "cases", "amount"]].sort_values(["village_id", "welfare_type"]).reset_index(
        drop=True
    )


def demand_from_history(
    payouts: pd.DataFrame,
    *,
    periods_per_year: int = 4,
    rules: pd.DataFrame | None = None,
    amount: str = "rule",
) -> pd.DataFrame:
    """Yearly demand from the cases paid in a recent window (e.g. the last four quarters).

    Parameters
    ----------
    payouts : DataFrame
        ``village_id``, ``welfare_type``, ``cases``, ``amount`` (baht paid) and ``period``; one row
        per village, type and period of the window (without ``period`` the rows are taken to cover
        one year).
    periods_per_year : int
        Number of periods in a year (4 for quarterly records): cases and amounts are summed over
        the window and scaled to a year by ``periods_per_year / number of periods`` of the village.
    rules : DataFrame, optional
        Benefit rules: types not offered any more are dropped and, with ``amount="rule"``, the yearly
        cost per case is the rule's (amount × basis factor).
    amount : {"rule", "paid"}
        Cost per case when ``rules`` are given: the rule's amount, or the average actually paid per
        case in the window (when payments per case vary, e.g. reimbursements up to the rule's amount).

    Returns
    -------
    DataFrame
        ``village_id``, ``welfare_type``, ``cases`` (per year), ``amount`` (baht per case).
    """
    need = {"village_id", "welfare_type", "cases", "amount"}
    miss = need - set(payouts.columns)
    if miss:
        raise ValueError(f"payouts lack column(s) {sorted(miss)}")
    p = payouts.copy()
    p["village_id"] = p["village_id"].astype(str)
    g = p.groupby(["village_id", "welfare_type"], sort=True)[["cases", "amount"]].sum().reset_index()
    if "period" in p.columns:
        n_per = p.groupby("village_id")["period"].nunique().astype(float)
        scale = g["village_id"].map(periods_per_year / n_per)
    else:  # no period column: the rows are taken to cover one year
        scale = pd.Series(1.0, index=g.index)
    g["paid"] = g["amount"]
    g["cases"] = g["cases"].astype(float) * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        g["amount"] = np.where(g["cases"] > 0, g["paid"] * scale / g["cases"], 0.0)
    if amount not in ("rule", "paid"):
        raise ValueError(f"amount must be 'rule' or 'paid', got {amount!r}")
    if rules is not None:
        r = _rules(rules)[["village_id", "welfare_type", "annual_amount"]]
        g = g.merge(r, on=["village_id", "welfare_type"], how="inner")
        if amount == "rule":
            g["amount"] = g["annual_amount"]
    return g[["village_id", "welfare_type", "cases", "amount"]].reset_index(drop=True)


def inputs_from_panel(
    records: pd.DataFrame,
    *,
    unit: str = "village_id",
    time: str = "year",
    window: int = 3,
    group: str | None = None,
    profit: str = "profit",
    allocation: str = "alloc_welfare",
    other_income: str | None = "fund_income_other",
    payouts: str = "welfare_payout",
    closing: str = "fund_closing",
    members: str = "members",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``funds`` and history-based ``demand`` tables for :func:`~welfare_eval.funds.project_funds` from
    yearly fund records (e.g. the savings-group panel ``admin``).

    Per village, at its last year: ``balance`` = closing balance, ``profit``, ``welfare_share`` =
    mean over the last ``window`` years of 100 × allocation / profit (years with a profit),
    ``other_income``. Demand is one line, ``welfare_type = "all"``: ``cases`` = members in the last
    year and ``amount`` = payouts per member averaged over the last ``window`` years (a smoother
    level than one noisy year; with rising payouts it is conservative towards the fund).
    """
    cols = [unit, time, profit, allocation, payouts, closing, members] + ([other_income] if other_income else [])
    miss = [c for c in cols if c not in records.columns]
    if miss:
        raise ValueError(f"records lack column(s) {miss}")
    if window < 1:
        raise ValueError("window must be at least 1")
    df = records.sort_values([unit, time], kind="mergesort")
    frows, drows = [], []
    for v, g in df.groupby(unit, sort=True):
        last = g.iloc[-1]
        tail = g.iloc[-window:]
        pos = tail[tail[profit] > 0]
        share = float((100.0 * pos[allocation] / pos[profit]).mean()) if len(pos) else 0.0
        ppm = float((tail[payouts] / tail[members].where(tail[members] > 0)).mean())
        rec = {"village_id": str(v), "balance": float(last[closing]), "profit": float(last[profit]),
               "welfare_share": share, "other_income": float(last[other_income]) if other_income else 0.0}
        if group:
            rec[group] = last[group]
        frows.append(rec)
        drows.append({"village_id": str(v), "welfare_type": "all", "cases": float(last[members]),
                      "amount": 0.0 if np.isnan(ppm) else ppm})
    return pd.DataFrame(frows), pd.DataFrame(drows)
