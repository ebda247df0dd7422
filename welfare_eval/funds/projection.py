r"""Ten-year projection of welfare-fund adequacy by Monte Carlo, with stress tests.

Model (village v, year t = 1..H, draw d)
---------------------------------------
* Demand: cases :math:`C_{vkt} \sim \text{Poisson}(\lambda_{vkt})` for each welfare type k, with
  :math:`\lambda` from the ``demand`` table (a path by year, or year-1 cases grown by
  ``member_growth``); payouts :math:`D_{vt} = s \sum_k C_{vkt} a_{vk} (1+b)^{t-1}` with the benefit
  amounts :math:`a` (``amount``), indexation b (``benefit_growth``) and benefit scale s (1 = the
  current rules).
* Income: profit :math:`P_{vt} = P_{v0} \prod_{u \le t} G_{vu}`, :math:`\log G \sim N(\log(1+g) -
  \sigma^2/2, \sigma^2)` (so :math:`E G = 1 + g`), times the welfare share (the village's own, or the
  scenario's), no allocation from a loss, plus other income :math:`O_v (1+o)^t`.
* Balance: :math:`B_{vt} = B_{v,t-1} + I_{vt} - D_{vt}`, :math:`B_{v0}` = the fund's balance now.
  With income and payouts spread evenly over a year, the fund runs dry in the first year with
  :math:`B_{vt} < 0`, at :math:`\tau = t - 1 + B_{v,t-1} / (D_{vt} - I_{vt})` years.
* Stress: a disaster year multiplies the expected cases of the listed types in that year; a profit
  shock removes a share of that year's profit (or of every later year's, when persistent).

Reported per village: the probability that the fund is exhausted within the horizon, the median and
5–95 % range of the years until exhaustion (``inf`` = not within the horizon), the balance bands by
year, and the **sustainable benefit scale**: the largest s with P(exhausted within H) ≤ ``alpha``.
Because payouts are linear in s, a draw exhausts the fund exactly when :math:`s > s_d =
\min_t (B_0 + \sum_{u \le t} I_u) / \sum_{u \le t} D_u(1)`, so the sustainable scale is the
``alpha``-quantile of :math:`s_d` over the draws (no search needed; common random numbers).
Status: ``exhausted`` when the probability is at least ``exhausted_probability`` (0.5),
``at_risk`` when it exceeds ``alpha``, ``sustainable`` otherwise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval._progress import progress
from welfare_eval._results import ResultBase

__all__ = [
    "FundProjection",
    "Scenario",
    "StressTests",
    "default_stress_scenarios",
    "project_funds",
    "stress_tests",
]


@dataclass(frozen=True)
class Scenario:
    """Income, demand and stress assumptions of a projection.

    Attributes
    ----------
    name : str
    profit_growth : float
        Expected yearly growth of profit (0.03 = 3 %).
    profit_growth_sd : float
        Standard deviation of the yearly log growth of profit (village-specific shocks).
    welfare_share : float or None
        Percent of profit allocated to welfare; ``None`` keeps each village's own share.
    other_income_growth : float
        Yearly growth of other income (members' contributions, other organisations).
    member_growth : float
        Yearly growth of expected cases when ``demand`` has no ``year`` column.
    benefit_growth : float
        Yearly indexation of benefit amounts.
    disaster_year : int or None
        Year (1..horizon) of a disaster; ``disaster_multiplier`` multiplies the expected cases of
        ``disaster_types`` in that year.
    disaster_multiplier : float
    disaster_types : tuple of str
    profit_shock_year : int or None
        Year of a profit shock removing ``profit_shock`` (share, 0.5 = −50 %) of profit in that year
        (and every later year when ``profit_shock_persistent``).
    profit_shock : float
    profit_shock_persistent : bool
    """

    name: str = "baseline"
    profit_growth: float = 0.03
    profit_growth_sd: float = 0.05
    welfare_share: float | None = None
    other_income_growth: float = 0.0
    member_growth: float = 0.0
    benefit_growth: float = 0.0
    disaster_year: int | None = None
    disaster_multiplier: float = 1.0
    disaster_types: tuple[str, ...] = ("disaster", "illness", "death")
    profit_shock_year: int | None = None
    profit_shock: float = 0.0
    profit_shock_persistent: bool = False

    def __post_init__(self) -> None:
        if self.profit_growth <= -1:
            raise ValueError("Scenario.profit_growth must be > -1")
        if self.profit_growth_sd < 0:
            raise ValueError("Scenario.profit_growth_sd must be >= 0")
        if self.welfare_share is not None and not 0 <= self.welfare_share <= 100:
            raise ValueError("Scenario.welfare_share is a percentage in [0, 100]")
        if self.disaster_multiplier < 0:
            raise ValueError("Scenario.disaster_multiplier must be >= 0")
        if not 0 <= self.profit_shock <= 1:
            raise ValueError("Scenario.profit_shock is a share in [0, 1]")
        for k in ("disaster_year", "profit_shock_year"):
            v = getattr(self, k)
            if v is not None and v < 1:
                raise ValueError(f"Scenario.{k} counts years from 1")


def default_stress_scenarios(base: Scenario | None = None) -> dict[str, Scenario]:
    """Baseline; a disaster in year 1 (5 × the disaster, illness and death cases); a 50 % profit
    shock in year 1; both together."""
    b = base or Scenario()
    return {
        "baseline": dataclasses.replace(b, name="baseline"),
        "disaster": dataclasses.replace(b, name="disaster", disaster_year=1, disaster_multiplier=5.0),
        "profit_shock": dataclasses.replace(b, name="profit_shock", profit_shock_year=1, profit_shock=0.5),
        "combined": dataclasses.replace(b, name="combined", disaster_year=1, disaster_multiplier=5.0,
                                        profit_shock_year=1, profit_shock=0.5),
    }


@dataclass
class FundProjection(ResultBase):
    """Result of :func:`project_funds`.

    Attributes
    ----------
    summary_table : DataFrame
        One row per village (see :meth:`tidy`).
    balance_bands : DataFrame
        Quantiles of the balance by village and year (:meth:`bands`).
    scenario : Scenario
    horizon, draws, seed : int
    alpha, exhausted_probability : float
    """

    summary_table: pd.DataFrame
    balance_bands: pd.DataFrame
    scenario: Scenario
    horizon: int
    draws: int
    seed: int
    alpha: float
    exhausted_probability: float
    group: str | None = None
    critical_scales: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)

    title = "Welfare fund projection"
    sheet_name = "fund_projection"

    def tidy(self) -> pd.DataFrame:
        """One row per village: ``village_id`` (+ group), ``balance``, expected ``income_year1`` and
        ``payout_year1``, ``reserve_months``, ``p_exhausted``, ``years_to_exhaustion`` (median),
        ``years_q05``, ``years_q95`` (``inf`` = not within the horizon), ``sustainable_scale``,
        ``sustainable_payout_year1``, ``status``, ``scenario``, ``method``."""
        return self.summary_table.copy()

    def bands(self) -> pd.DataFrame:
        """Balance quantiles (``q05``, ``q25``, ``q50``, ``q75``, ``q95``) by village and year 0..H."""
        return self.balance_bands.copy()

    def flagged(self) -> list[str]:
        """Villages whose status is not ``sustainable``."""
        t = self.summary_table
        return sorted(t.loc[t["status"] != "sustainable", "village_id"].astype(str))

    def notes(self) -> list[str]:
        s = self.scenario
        return [
            f"Monte Carlo with {self.draws} draws (seed {self.seed}), horizon {self.horizon} years, "
            f"scenario {s.name!r}: profit growth {s.profit_growth:.1%} (sd {s.profit_growth_sd:.1%}), "
            f"benefit indexation {s.benefit_growth:.1%}",
            f"status: exhausted if P(exhausted within {self.horizon} years) >= {self.exhausted_probability:g}, "
            f"at risk if > {self.alpha:g}; sustainable scale = largest multiplier of current benefits with "
            f"P(exhausted) <= {self.alpha:g}",
        ]

    def plot(self, ax: Any = None, *, villages: Sequence[str] | None = None, **kwargs: Any) -> Any:
        """Fan charts of the projected balance (median, 50 % and 90 % bands) for up to 12 villages
        (default: the flagged ones first)."""
        import matplotlib.pyplot as plt

        b = self.balance_bands
        if villages is None:
            order = self.summary_table.sort_values(["p_exhausted", "village_id"], ascending=[False, True])
            villages = list(order["village_id"].astype(str))[:12]
        villages = list(villages)
        if ax is None:
            n = len(villages)
            ncol = min(4, max(1, n))
            nrow = int(np.ceil(n / ncol))
            _, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.4 * nrow), squeeze=False, sharex=True)
            axes = axes.ravel()
            for a in axes[n:]:
                a.set_visible(False)
        else:
            axes = np.atleast_1d(ax).ravel()
        for a, v in zip(axes, villages, strict=False):
            d = b[b["village_id"].astype(str) == v]
            a.fill_between(d["year"], d["q05"], d["q95"], color="#9ecae1", alpha=0.6, lw=0)
            a.fill_between(d["year"], d["q25"], d["q75"], color="#4292c6", alpha=0.7, lw=0)
            a.plot(d["year"], d["q50"], color="#08306b", lw=1.2)
            a.axhline(0, color="#d62728", lw=0.8)
            a.set_title(v, fontsize=9)
            a.tick_params(labelsize=7)
        return axes


def _prepare(funds: pd.DataFrame, demand: pd.DataFrame, group: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    need = {"village_id", "balance", "profit", "welfare_share"}
    miss = need - set(funds.columns)
    if miss:
        raise ValueError(f"funds lack column(s) {sorted(miss)}; need village_id, balance, profit, welfare_share "
                         "(and optionally other_income)")
    f = funds.copy()
    f["village_id"] = f["village_id"].astype(str)
    if f["village_id"].duplicated().any():
        raise ValueError(f"funds: village {f.loc[f['village_id'].duplicated(), 'village_id'].iloc[0]} appears twice")
    if "other_income" not in f.columns:
        f["other_income"] = 0.0
    for c in ("balance", "profit", "welfare_share", "other_income"):
        f[c] = pd.to_numeric(f[c], errors="raise").astype(float)
        if f[c].isna().any():
            raise ValueError(f"funds: column {c} has missing values (village {f.loc[f[c].isna(), 'village_id'].iloc[0]})")
    if group is not None and group not in f.columns:
        raise ValueError(f"funds lack the group column {group!r}")
    need_d = {"village_id", "welfare_type", "cases", "amount"}
    miss = need_d - set(demand.columns)
    if miss:
        raise ValueError(f"demand lacks column(s) {sorted(miss)}; need village_id, welfare_type, cases, amount")
    d = demand.copy()
    d["village_id"] = d["village_id"].astype(str)
    if (pd.to_numeric(d["cases"]) < 0).any() or (pd.to_numeric(d["amount"]) < 0).any():
        raise ValueError("demand: cases and amounts must be non-negative")
    unknown = sorted(set(d["village_id"]) - set(f["village_id"]))
    if unknown:
        raise ValueError(f"demand: village {unknown[0]} is not in funds")
    return f.sort_values("village_id").reset_index(drop=True), d


def project_funds(
    funds: pd.DataFrame,
    demand: pd.DataFrame,
    *,
    horizon: int = 10,
    scenario: Scenario | None = None,
    draws: int = 2000,
    seed: int = 2568,
    alpha: float = 0.10,
    exhausted_probability: float = 0.5,
    group: str | None = None,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
    random_cases: bool = True,
) -> FundProjection:
    """Project every village's welfare fund ``horizon`` years ahead (see the module docstring).

    Parameters
    ----------
    funds : DataFrame
        One row per village: ``village_id``, ``balance`` (fund balance now), ``profit`` (latest
        yearly profit of the organisations that allocate to welfare), ``welfare_share`` (percent of
        profit allocated to welfare), optional ``other_income`` (baht per year) and a ``group``
        column.
    demand : DataFrame
        ``village_id``, ``welfare_type``, ``cases`` (expected per year), ``amount`` (baht per case)
        and optionally ``year`` (1..horizon, a path, e.g. from
        :func:`~welfare_eval.funds.demand_from_population`). Villages without rows have no demand.
    horizon : int
    scenario : Scenario, optional
    draws : int
        Monte Carlo draws (a progress bar shows on a terminal).
    seed : int
    alpha : float
        Tolerated probability of exhaustion (at-risk threshold and sustainable scale).
    exhausted_probability : float
        Probability from which a fund is reported ``exhausted``.
    group : str, optional
        Column of ``funds`` carried into the results (e.g. ``arm``).
    quantiles : sequence of float
        Quantiles of the balance bands.
    random_cases : bool
        Draw cases from the Poisson distribution (default); ``False`` uses the expected cases, so
        that with ``profit_growth_sd=0`` the projection is deterministic (a check, or a "central"
        path).
    """
    sc = scenario or Scenario()
    if horizon < 1:
        raise ValueError("horizon must be at least 1 year")
    if draws < 10:
        raise ValueError("draws must be at least 10")
    if not 0 < alpha < exhausted_probability <= 1:
        raise ValueError("need 0 < alpha < exhausted_probability <= 1")
    f, d = _prepare(funds, demand, group)
    vids = list(f["village_id"])
    nv, H = len(vids), horizon
    types = sorted(d["welfare_type"].astype(str).unique())
    nk = len(types)
    lam = np.zeros((nv, nk, H))
    amt = np.zeros((nv, nk))
    vi = {v: i for i, v in enumerate(vids)}
    ki = {k: i for i, k in enumerate(types)}
    years = np.arange(1, H + 1)
    if "year" in d.columns:
        dd = d[(d["year"] >= 1) & (d["year"] <= H)]
        for r in dd.to_dict("records"):
            lam[vi[str(r["village_id"])], ki[str(r["welfare_type"])], int(r["year"]) - 1] = float(r["cases"])
            amt[vi[str(r["village_id"])], ki[str(r["welfare_type"])]] = float(r["amount"])
        have = set(zip(dd["village_id"], dd["year"].astype(int), strict=True))
        for v in set(dd["village_id"]):
            miss_y = [t for t in years if (v, t) not in have]
            if miss_y:
                raise ValueError(f"demand: village {v} has no rows for year(s) {miss_y[:3]} of the horizon")
    else:
        dup = d.duplicated(["village_id", "welfare_type"])
        if dup.any():
            raise ValueError(f"demand: village {d[dup].iloc[0]['village_id']}, {d[dup].iloc[0]['welfare_type']} "
                             "appears twice (add a year column for a path)")
        growth = (1.0 + sc.member_growth) ** (years - 1)
        for r in d.to_dict("records"):
            lam[vi[str(r["village_id"])], ki[str(r["welfare_type"])]] = float(r["cases"]) * growth
            amt[vi[str(r["village_id"])], ki[str(r["welfare_type"])]] = float(r["amount"])
    if sc.disaster_year is not None and sc.disaster_year <= H:
        for k in sc.disaster_types:
            if k in ki:
                lam[:, ki[k], sc.disaster_year - 1] *= sc.disaster_multiplier
    index = (1.0 + sc.benefit_growth) ** (years - 1)
    share = np.full(nv, sc.welfare_share) if sc.welfare_share is not None else f["welfare_share"].to_numpy()
    p0 = f["profit"].to_numpy()
    other = f["other_income"].to_numpy()[:, None] * (1.0 + sc.other_income_growth) ** years[None, :]
    b0 = f["balance"].to_numpy()
    shock = np.ones(H)
    if sc.profit_shock_year is not None and sc.profit_shock_year <= H:
        if sc.profit_shock_persistent:
            shock[sc.profit_shock_year - 1 :] = 1.0 - sc.profit_shock
        else:
            shock[sc.profit_shock_year - 1] = 1.0 - sc.profit_shock
    mu = np.log1p(sc.profit_growth) - sc.profit_growth_sd**2 / 2.0
    rng = np.random.default_rng(seed)
    tau = np.empty((draws, nv))
    crit = np.empty((draws, nv))
    bal = np.empty((draws, nv, H + 1))
    chunk = 250
    starts = range(0, draws, chunk)
    for s0 in progress(starts, desc="fund projection", total=len(starts)):
        m = min(chunk, draws - s0)
        cases = rng.poisson(np.broadcast_to(lam, (m, nv, nk, H))) if random_cases else np.broadcast_to(lam, (m, nv, nk, H))
        pay = np.einsum("dvkt,vk->dvt", cases, amt) * index[None, None, :]
        g = np.exp(mu + sc.profit_growth_sd * rng.standard_normal((m, nv, H)))
        prof = p0[None, :, None] * np.cumprod(g, axis=2) * shock[None, None, :]
        inc = np.clip(prof, 0.0, None) * share[None, :, None] / 100.0 + other[None, :, :]
        cum_i = np.cumsum(inc, axis=2)
        cum_d = np.cumsum(pay, axis=2)
        b = b0[None, :, None] + cum_i - cum_d
        bal[s0 : s0 + m, :, 0] = b0[None, :]
        bal[s0 : s0 + m, :, 1:] = b
        neg = b < 0
        first = np.where(neg.any(axis=2), neg.argmax(axis=2), -1)
        prev = np.concatenate([np.broadcast_to(b0[None, :, None], (m, nv, 1)), b[:, :, :-1]], axis=2)
        t_idx = np.maximum(first, 0)
        pb = np.take_along_axis(prev, t_idx[..., None], axis=2)[..., 0]
        net = np.take_along_axis(pay - inc, t_idx[..., None], axis=2)[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip(np.where(net > 0, pb / net, 0.0), 0.0, 1.0)
        tau[s0 : s0 + m] = np.where(first >= 0, t_idx + frac, np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(cum_d > 0, (b0[None, :, None] + cum_i) / cum_d, np.inf)
        crit[s0 : s0 + m] = np.clip(ratio.min(axis=2), 0.0, None)
    p_ex = (tau <= H).mean(axis=0)
    qs = np.quantile(tau, [0.5, 0.05, 0.95], axis=0, method="inverted_cdf")  # tau may be inf
    sus = np.quantile(crit, alpha, axis=0, method="inverted_cdf")
    pay1 = (lam[:, :, 0] * amt).sum(axis=1)
    inc1 = np.clip(p0 * (1.0 + sc.profit_growth) * shock[0], 0.0, None) * share / 100.0 + other[:, 0]
    status = np.where(p_ex >= exhausted_probability, "exhausted", np.where(p_ex > alpha, "at_risk", "sustainable"))
    with np.errstate(divide="ignore", invalid="ignore"):
        reserve = np.where(pay1 > 0, b0 / (pay1 / 12.0), np.inf)
    summ = pd.DataFrame({"village_id": vids})
    if group is not None:
        summ[group] = f[group].to_numpy()
    summ = summ.assign(
        balance=b0,
        income_year1=inc1,
        payout_year1=pay1,
        reserve_months=reserve,
        p_exhausted=p_ex,
        years_to_exhaustion=qs[0],
        years_q05=qs[1],
        years_q95=qs[2],
        sustainable_scale=sus,
        sustainable_payout_year1=np.where(np.isfinite(sus), sus * pay1, np.inf),
        status=status,
        scenario=sc.name,
        method="monte_carlo",
    )
    qv = np.quantile(bal, list(quantiles), axis=0, method="inverted_cdf")  # (nq, nv, H+1)
    rows = []
    names = [f"q{round(q * 100):02d}" for q in quantiles]
    for j, v in enumerate(vids):
        for t in range(H + 1):
            rows.append({"village_id": v, "year": t, **{n: float(qv[i, j, t]) for i, n in enumerate(names)}})
    bands = pd.DataFrame(rows)
    if group is not None:
        bands.insert(1, group, bands["village_id"].map(dict(zip(vids, f[group], strict=True))))
    return FundProjection(summ, bands, sc, H, draws, seed, alpha, exhausted_probability, group, crit)


@dataclass
class StressTests(ResultBase):
    """Projections of the same funds under several scenarios (:func:`stress_tests`)."""

    projections: Mapping[str, FundProjection]

    title = "Welfare fund stress tests"
    sheet_name = "stress_tests"

    def tidy(self) -> pd.DataFrame:
        """One row per village and scenario (the columns of :meth:`FundProjection.tidy`)."""
        return pd.concat([p.tidy() for p in self.projections.values()], ignore_index=True)

    def wide(self, value: str = "p_exhausted") -> pd.DataFrame:
        """Villages × scenarios table of one column (default the probability of exhaustion)."""
        t = self.tidy()
        w = t.pivot(index="village_id", columns="scenario", values=value)
        return w[list(self.projections)].reset_index()

    def notes(self) -> list[str]:
        first = next(iter(self.projections.values()))
        return [f"scenarios: {', '.join(self.projections)}", *first.notes()[:1]]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Heat map of the probability of exhaustion (villages × scenarios)."""
        import matplotlib.pyplot as plt

        w = self.wide().set_index("village_id")
        if ax is None:
            _, ax = plt.subplots(figsize=(1.2 * w.shape[1] + 2, 0.25 * w.shape[0] + 1))
        im = ax.imshow(w.to_numpy(dtype=float), aspect="auto", cmap="Reds", vmin=0, vmax=1)
        ax.set_xticks(range(w.shape[1]), list(w.columns), rotation=30, ha="right")
        ax.set_yticks(range(w.shape[0]), list(w.index), fontsize=7)
        ax.figure.colorbar(im, ax=ax, label="P(exhausted)")
        return ax


def stress_tests(
    funds: pd.DataFrame,
    demand: pd.DataFrame,
    *,
    scenarios: Mapping[str, Scenario] | None = None,
    **kwargs: Any,
) -> StressTests:
    """Run :func:`project_funds` under each scenario (default :func:`default_stress_scenarios`) with the
    same seed, so the scenarios differ only by their assumptions (common random numbers)."""
    sc = dict(scenarios) if scenarios is not None else default_stress_scenarios()
    if not sc:
        raise ValueError("stress_tests: no scenario given")
    out = {}
    for name, s in sc.items():
        out[name] = project_funds(funds, demand, scenario=dataclasses.replace(s, name=name), **kwargs)
    return StressTests(out)
