"""The planted truths of a simulated study."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from welfare_eval._results import ResultBase

__all__ = ["Truth", "write_truth"]


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for rec in df.to_dict(orient="records"):
        clean: dict[str, Any] = {}
        for k, v in rec.items():
            if v is pd.NA or v is None or (isinstance(v, float) and math.isnan(v)):
                clean[str(k)] = None
            elif hasattr(v, "item"):
                clean[str(k)] = v.item()
            else:
                clean[str(k)] = v
        out.append(clean)
    return out


@dataclass(frozen=True)
class Truth(ResultBase):
    """What was planted in a simulated study, for checking every stage against.

    Attributes
    ----------
    seed : int
    start_year : int
        CE year the pilot starts (event time 0 of the savings-group panel).
    effects : DataFrame
        Household effects, one row per outcome × wave: ``outcome`` (= the column of
        ``fieldwork.households``), ``unit`` (percentage points, baht, index points, types),
        ``effect`` (the estimand: average of Y(1) − Y(0) over ALL households of the pilot villages'
        populations — among those with a health shock for ``coped`` — on the stated unit),
        ``effect_data_scale`` (the same on the scale of the data column, e.g. a 0/1 proportion),
        ``parameter`` (the nominal model parameter times the wave's share), ``n_population_treated``
        and ``zero_effect`` (true when Y(1) = Y(0) for every treated household).
    village_effects : DataFrame
        Per pilot village: effect ``multiplier`` m_v and its endline ATT on headline outcomes.
    factor_scores : DataFrame
        Latent success-factor scores f_vk (standard normal) of every study village.
    factor_coefficients : dict
        beta_k of m_v = max(0, 1 + sum_k beta_k f_vk); factors not listed have 0.
    item_loadings : DataFrame
        Committee item intercepts and loadings (item, factor, intercept, loading).
    event_time_effects : DataFrame
        Savings-group panel effects by outcome and event time (``effect``), and the
        ``differential_trend`` added to pilots when parallel trends are violated.
    pretrend_slope : float
        Differential linear trend of pilots per year (0 under parallel trends).
    selection : dict
        Pilot-selection model: ``coefficients`` and a description.
    pilot_probabilities : DataFrame
        Selection probability of each eligible frame village within its region, with ``pilot``.
    defects : DataFrame
        Every defect planted in the raw exports: ``file``, ``defect``, ``uuid`` (or key),
        ``column``, ``original``, ``planted``, ``detail``.
    config : dict
        The configurations used.
    funds : DataFrame
        The welfare fund of each village with a savings group: ``planted_exhaustion`` (the pilots
        planted on a path to exhaustion), ``kappa`` (target payout / income), ``payout_level``
        (c_v), the last year's ``expected_payout_last``, ``income_last`` and ``closing_last``,
        ``years_to_exhaustion`` if income and expected payouts stayed at their last-year level
        (``inf`` when income covers them) and ``capped_years`` (years whose payout the fund could
        not cover in full; 0 in the default study).
    """

    seed: int
    start_year: int
    effects: pd.DataFrame
    village_effects: pd.DataFrame
    factor_scores: pd.DataFrame
    factor_coefficients: dict[str, float]
    item_loadings: pd.DataFrame
    event_time_effects: pd.DataFrame
    pretrend_slope: float
    selection: dict[str, Any]
    pilot_probabilities: pd.DataFrame
    defects: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    funds: pd.DataFrame = field(default_factory=pd.DataFrame)

    title = "Planted truths of the simulated study"

    def tidy(self) -> pd.DataFrame:
        """Household effects (outcome × wave) and admin-panel event-time effects in one table."""
        hh = self.effects.assign(source="household")[["source", "outcome", "wave", "unit", "effect"]]
        ev = self.event_time_effects.assign(source="savings_group")
        ev = ev.assign(wave=ev["event_time"].map(lambda e: f"event_time={e}"))[
            ["source", "outcome", "wave", "unit", "effect"]
        ]
        return pd.concat([hh, ev], ignore_index=True)

    def defect_counts(self) -> pd.DataFrame:
        """Number of planted defects by file and defect type."""
        if self.defects.empty:
            return pd.DataFrame(columns=["file", "defect", "n"])
        return self.defects.groupby(["file", "defect"], sort=True).size().rename("n").reset_index()

    def effect(self, outcome: str, wave: str = "endline", *, data_scale: bool = False) -> float:
        """The planted household effect of ``outcome`` at ``wave``."""
        e = self.effects
        hit = e[(e["outcome"] == outcome) & (e["wave"] == wave)]
        if hit.empty:
            raise KeyError(f"no planted effect for outcome {outcome!r} at wave {wave!r}")
        return float(hit["effect_data_scale" if data_scale else "effect"].iloc[0])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "seed": int(self.seed),
            "start_year": int(self.start_year),
            "effects": _records(self.effects),
            "village_effects": _records(self.village_effects),
            "factor_scores": _records(self.factor_scores),
            "factor_coefficients": {k: float(v) for k, v in self.factor_coefficients.items()},
            "item_loadings": _records(self.item_loadings),
            "event_time_effects": _records(self.event_time_effects),
            "pretrend_slope": float(self.pretrend_slope),
            "selection": self.selection,
            "pilot_probabilities": _records(self.pilot_probabilities),
            "defects": _records(self.defects),
            "defect_counts": _records(self.defect_counts()),
            "config": self.config,
            "funds": _records(self.funds),
        }

    def to_json(self) -> str:
        """The truth as deterministic JSON text (sorted keys, UTF-8 characters kept)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, indent=1)


def write_truth(truth: Truth, path: str | Path) -> Path:
    """Write ``truth.to_json()`` to ``path`` (UTF-8), atomically; keep it OUT of the raw-data folder."""
    from welfare_eval._io import atomic_write_bytes

    path = Path(path)
    atomic_write_bytes(path, (truth.to_json() + "\n").encode("utf-8"))
    return path
