"""Welfare-fund indicators per village and period, and the fund identity check.

For each village (``unit``) and period (``time``; years by default) of a table of fund records:

* ``payout_to_allocation`` = welfare payouts / the profit allocated to welfare by the organisation(s);
* ``payout_to_income`` = payouts / all income of the welfare fund (allocation + other income);
* ``welfare_share`` = 100 × welfare allocation / profit (percent; missing when profit ≤ 0);
* ``reserve_months`` = closing balance / monthly payouts (``months_per_period`` months per period;
  missing when nothing was paid);
* ``identity_gap`` = opening + income − payouts − closing (0 when the fund's books balance) and
  ``identity_ok`` (\\|gap\\| ≤ ``tolerance``);
* ``continuity_gap`` = opening of the period − closing of the village's previous period (missing
  for the first period or after a gap in the periods);
* ``balance_change`` = closing − opening, ``payout_per_member`` when members are given.

:func:`check_identity` returns the village-periods whose books do not balance; the same check
(:meth:`FundIndicators.violations`) is part of every :func:`fund_indicators` result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval._results import ResultBase

__all__ = ["FundIndicators", "check_identity", "fund_indicators"]


def _col(df: pd.DataFrame, name: str | None, what: str, *, required: bool = True) -> pd.Series | None:
    if name is None:
        return None
    if name not in df.columns:
        if required:
            raise ValueError(f"fund records lack column {name!r} ({what}); pass its name as {what}=")
        return None
    return pd.to_numeric(df[name], errors="raise").astype("float64")


@dataclass
class FundIndicators(ResultBase):
    """Per village-period fund indicators (see the module docstring).

    Attributes
    ----------
    table : DataFrame
        One row per village-period.
    unit, time : str
        Column names of the village and the period.
    group : str or None
        Grouping column (e.g. ``arm``) kept for summaries.
    tolerance : float
        Baht tolerance of the identity check.
    """

    table: pd.DataFrame
    unit: str
    time: str
    group: str | None
    tolerance: float

    title = "Welfare fund indicators"
    sheet_name = "fund_indicators"

    def tidy(self) -> pd.DataFrame:
        """The indicators, one row per village-period."""
        return self.table.copy()

    def violations(self) -> pd.DataFrame:
        """Village-periods whose books do not balance (\\|identity_gap\\| > tolerance)."""
        t = self.table
        return t[~t["identity_ok"].astype(bool)].reset_index(drop=True)

    def by_group(self) -> pd.DataFrame:
        """Sums by group and period with ratios of sums (``payout_to_allocation`` etc.) and the count
        of villages paying more than their allocation / their income."""
        keys = [self.group, self.time] if self.group else [self.time]
        t = self.table
        g = t.groupby(keys, sort=True, observed=True)
        out = g.agg(
            n_villages=(self.unit, "nunique"),
            profit=("profit", "sum"),
            welfare_allocation=("welfare_allocation", "sum"),
            income=("income", "sum"),
            payouts=("payouts", "sum"),
            closing=("closing", "sum"),
        )
        out["payout_to_allocation"] = out["payouts"] / out["welfare_allocation"].where(out["welfare_allocation"] > 0)
        out["payout_to_income"] = out["payouts"] / out["income"].where(out["income"] > 0)
        flags = t.assign(
            n_paying_over_allocation=(t["payouts"] > t["welfare_allocation"]).astype(int),
            n_paying_over_income=(t["payouts"] > t["income"]).astype(int),
        ).groupby(keys, sort=True, observed=True)
        out["n_paying_over_allocation"] = flags["n_paying_over_allocation"].sum()
        out["n_paying_over_income"] = flags["n_paying_over_income"].sum()
        out["n_identity_violations"] = g["identity_ok"].apply(lambda s: int((~s.astype(bool)).sum()))
        return out.reset_index()

    def notes(self) -> list[str]:
        v = self.violations()
        n = len(self.table)
        out = [f"{n} village-periods; fund identity opening + income − payouts = closing holds within "
               f"{self.tolerance:g} baht in {n - len(v)}"]
        if len(v):
            first = v.iloc[0]
            out.append(f"identity fails for {len(v)}, e.g. {first[self.unit]} {first[self.time]} "
                       f"(gap {first['identity_gap']:,.2f} baht)")
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Closing balance in months of payouts by period, one line per village (colour by group)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        t = self.table.sort_values([self.unit, self.time])
        groups = sorted(t[self.group].astype(str).unique()) if self.group else ["all"]
        colours = dict(zip(groups, ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"] * 4, strict=False))
        for _, d in t.groupby(self.unit, sort=True):
            g = str(d[self.group].iloc[0]) if self.group else "all"
            ax.plot(d[self.time], d["reserve_months"], color=colours[g], alpha=0.5, lw=1)
        for g in groups:
            ax.plot([], [], color=colours[g], label=g)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel(self.time)
        ax.set_ylabel("reserve (months of payouts)")
        if self.group:
            ax.legend(frameon=False)
        return ax


def fund_indicators(
    records: pd.DataFrame,
    *,
    unit: str = "village_id",
    time: str = "year",
    group: str | None = None,
    profit: str | None = "profit",
    allocation: str = "alloc_welfare",
    payouts: str = "welfare_payout",
    opening: str = "fund_opening",
    income: str = "fund_income",
    closing: str = "fund_closing",
    members: str | None = None,
    months_per_period: float = 12.0,
    tolerance: float = 1.0,
) -> FundIndicators:
    """Welfare-fund indicators per village-period (see the module docstring).

    Parameters
    ----------
    records : DataFrame
        One row per village and period. The defaults name the columns of the savings-group panel
        (``welfare_eval.clean`` table ``admin``).
    unit, time, group : str
        Village, period (sortable; consecutive integers for the continuity check) and an optional
        grouping column (e.g. ``arm``).
    profit, allocation, payouts, opening, income, closing, members : str
        Column names. ``profit`` and ``members`` may be ``None``.
    months_per_period : float
        12 for yearly records, 3 for quarterly ones.
    tolerance : float
        Baht tolerance of the identity check.

    Raises
    ------
    ValueError
        If a column is missing or a village-period appears twice.
    """
    need = [unit, time] + ([group] if group else [])
    miss = [c for c in need if c not in records.columns]
    if miss:
        raise ValueError(f"fund records lack column(s) {miss}")
    dup = records.duplicated([unit, time], keep=False)
    if dup.any():
        r = records.loc[dup].iloc[0]
        raise ValueError(f"fund records: {unit}={r[unit]!r}, {time}={r[time]!r} appears more than once")
    if months_per_period <= 0:
        raise ValueError("months_per_period must be positive")
    df = records.sort_values([unit, time], kind="mergesort").reset_index(drop=True)
    out = pd.DataFrame({unit: df[unit].to_numpy(), time: df[time].to_numpy()})
    if group:
        out[group] = df[group].to_numpy()
    pr = _col(df, profit, "profit", required=False)
    out["profit"] = pr.to_numpy() if pr is not None else np.nan
    out["welfare_allocation"] = _col(df, allocation, "allocation").to_numpy()  # type: ignore[union-attr]
    out["income"] = _col(df, income, "income").to_numpy()  # type: ignore[union-attr]
    out["payouts"] = _col(df, payouts, "payouts").to_numpy()  # type: ignore[union-attr]
    out["opening"] = _col(df, opening, "opening").to_numpy()  # type: ignore[union-attr]
    out["closing"] = _col(df, closing, "closing").to_numpy()  # type: ignore[union-attr]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["payout_to_allocation"] = np.where(out["welfare_allocation"] > 0,
                                               out["payouts"] / out["welfare_allocation"], np.nan)
        out["payout_to_income"] = np.where(out["income"] > 0, out["payouts"] / out["income"], np.nan)
        out["welfare_share"] = np.where(out["profit"] > 0, 100.0 * out["welfare_allocation"] / out["profit"], np.nan)
        out["reserve_months"] = np.where(out["payouts"] > 0,
                                         out["closing"] / (out["payouts"] / months_per_period), np.nan)
    out["balance_change"] = out["closing"] - out["opening"]
    out["identity_gap"] = out["opening"] + out["income"] - out["payouts"] - out["closing"]
    out["identity_ok"] = out["identity_gap"].abs() <= tolerance + 1e-9
    prev_close = out.groupby(unit, sort=False)["closing"].shift(1)
    prev_time = out.groupby(unit, sort=False)[time].shift(1)
    consecutive = _consecutive(prev_time, out[time])
    out["continuity_gap"] = np.where(consecutive, out["opening"] - prev_close, np.nan)
    if members is not None:
        m = _col(df, members, "members")
        out["members"] = m.to_numpy()  # type: ignore[union-attr]
        with np.errstate(divide="ignore", invalid="ignore"):
            out["payout_per_member"] = np.where(out["members"] > 0, out["payouts"] / out["members"], np.nan)
    return FundIndicators(out, unit, time, group, tolerance)


def _consecutive(prev: pd.Series, cur: pd.Series) -> np.ndarray:
    """Whether each period directly follows the previous one of its village (integers: +1)."""
    try:
        p = pd.to_numeric(prev, errors="raise").to_numpy(dtype=float)
        c = pd.to_numeric(cur, errors="raise").to_numpy(dtype=float)
        return np.asarray(c - p == 1.0)
    except (ValueError, TypeError):
        return np.asarray(prev.notna())


def check_identity(
    records: pd.DataFrame,
    *,
    unit: str = "village_id",
    time: str = "year",
    opening: str = "fund_opening",
    income: str = "fund_income",
    payouts: str = "welfare_payout",
    closing: str = "fund_closing",
    tolerance: float = 1.0,
    keys: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows whose fund books do not balance: \\|opening + income − payouts − closing\\| > tolerance.

    Returns the offending rows' ``unit``, ``time``, ``keys``, the four amounts and ``identity_gap``
    (an empty table when the identity holds everywhere).
    """
    cols = [unit, time, *keys]
    sub = records[[*cols, opening, income, payouts, closing]].copy()
    for c in (opening, income, payouts, closing):
        sub[c] = pd.to_numeric(sub[c], errors="raise").astype("float64")
    sub["identity_gap"] = sub[opening] + sub[income] - sub[payouts] - sub[closing]
    bad = sub["identity_gap"].abs() > tolerance + 1e-9
    return sub[bad].reset_index(drop=True)
