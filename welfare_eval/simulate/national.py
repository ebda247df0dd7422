r"""National mode of the simulator: ~75,000 villages, ~12 million households a year, staggered adoption.

The expansion phase (ขยายผล) of the Community Welfare model is evaluated with two national data sets: the
village database (กชช.2ค, one row per village) and the yearly basic-needs survey of every rural household
(จปฐ.). This module simulates both at any scale, with a staggered rollout of the model to ~2,000 villages
over 2027–2030 and planted effects that vary by adoption cohort and event time, and streams the household
rows to Parquet partitioned by year and province (hive style)::

    <out>/villages.parquet                                  the village frame, with the adoption cohort
    <out>/households/year=2027/province_code=12/part-0.parquet
    <out>/truth.json, <out>/truth_villages.parquet          what was planted
    <out>/manifest.json                                     rows and bytes per partition, config, seed

Household rows are never all in memory: they are made block by block (``block_villages`` = 256 villages
of one province) and written as Parquet row groups, so peak memory does not grow with the number of
households (:func:`simulate_national`).

Randomness (order-independent)
------------------------------
Everything follows from one integer ``seed``. The village frame draws from the named streams
``national.layout``, ``national.covariates``, ``national.latent`` and ``national.adoption`` (see
:func:`welfare_eval.simulate._rng.stream`). Household numbers come from streams keyed by *where* they are,
never by *when* they are made::

    persistent traits of block b of province p:  SeedSequence(seed, spawn_key=(crc32("national.households"), p, b))
    year-t draws of that block:                  SeedSequence(seed, spawn_key=(crc32("national.household_year"), t, p, b))
    province × year shocks:                      SeedSequence(seed, spawn_key=(crc32("national.province_year"), t, p))

with ``p`` the province code as an integer and block ``b`` the villages ``[256 b, 256 (b + 1))`` of the
province in village-code order (256 = ``NationalConfig.block_villages``). The data are therefore identical
whatever the order in which partitions are made, whether in one process or several (``workers=``), and
whatever ``row_group_rows`` is.

1. Village frame (กชช.2ค-like; ``scale`` × 75,000 villages)
-----------------------------------------------------------
* Provinces: the 76 of :func:`welfare_eval.reference.provinces` with their inspection region. Every
  province gets one village, the rest are spread multinomially with weights ∝ exp(N(0, 0.45²)).
* Codes: villages per subdistrict 1 + Pois(9) (numbered 1..k, as หมู่ที่), subdistricts per district
  1 + Pois(7), districts numbered 1..D within the province; ``village_id`` = province (2) + district (2)
  + subdistrict (2) + village (2), an eight-digit string, unique.
* Latent development u ~ N(0, 1), province effect r_p ~ N(0, 0.12²):
  ``n_households`` = clip(round(exp(log 140 + 0.5 N(0,1))), 15, 1500) (mean ≈ 159, so 75,000 villages hold
  ≈ 12 million households); ``mean_income`` (baht per person per year) = exp(log 75,000 + 0.25 u + r_p +
  N(0, 0.12²)) to 100 baht; ``share_farm`` = expit(0.8 − 0.6 u + N(0, 0.5²)); ``share_elderly`` =
  expit(−1.3 − 0.2 u + N(0, 0.3²)); ``paved_road`` ~ Bern(expit(1.2 + 0.8 u)); ``km_to_district`` =
  exp(log 12 − 0.3 u + N(0, 0.5²)) to 0.1 km; savings group, fund institution and sufficiency village as
  in :func:`welfare_eval.simulate.simulate_frame` (``sg_age``, ``sg_members``, ``sg_savings`` are 0
  without a group); ``eligible`` = all three.
* Standardised covariates (over the whole frame, ddof 0): x_inc = z(log mean_income),
  x_farm = z(share_farm), x_sg = z(log1p sg_savings).
* Unobserved village terms (in ``truth_villages.parquet``): capacity c_v ~ N(0, 1); income level
  a_v ~ N(0, 4,000²) baht; welfare level α_v ~ N(0, 0.03²); savings level s_v ~ N(0, 0.2²) (log);
  effect multiplier m_v ~ Gamma(1/cv², cv²) (mean 1, SD cv = ``effect_heterogeneity``).

2. Staggered adoption (selection on village covariates)
-------------------------------------------------------
Among eligible villages, score_v = 0.4 z(sg_age) + 0.4 z(log1p sg_savings) + 0.3 z(log mean_income) +
0.4 c_v (z over the eligible villages; ``NationalConfig.selection``). The adopters are the top
``n_adopters`` of score_v + Gumbel (a draw without replacement with probabilities ∝ exp(score), the
Plackett–Luce / Gumbel-top-k scheme); they are ordered by score_v + a second Gumbel and cut into the
cohorts 2027, 2028, 2029, 2030 (shares 20/25/25/30 %), so higher scores adopt earlier. ``cohort`` = the
adoption year, 0 for villages that never adopt within the data.

3. Households (all N_v households of every village, every year t; τ = t − first year)
-------------------------------------------------------------------------------------
Persistent: ``hh_no`` 1..N_v; h, h_w, h_s ~ N(0, 1); ``hh_size`` = clip(1 + Pois(2.3), 1, 12);
``head_age`` = clip(round(N(50 + 40 (share_elderly − 0.2), 13²)), 20, 90) + τ; ``elderly`` (a member
aged 60+, held fixed over the years) = 1[head age at τ=0 ≥ 60] or Bern(0.25); ``farm`` ~ Bern(share_farm).

Untreated potential outcomes (b, e: village × year and household × year noise, S: province × year
shock, all mean zero; ``province_year_sd`` scales S, default 0 = no province × year shocks):

* ``income`` (baht per person per year, to 1 baht):
  Y0 = max(0, mean_income_v · exp(0.3 h − 0.045) · exp(e − 0.03125) + a_v + 5,000 c_v + b + S
  + (2,500 + 1,000 x_inc − 500 x_farm + 500 x_sg) τ), e ~ N(0, 0.25²), b ~ N(0, 2,500²), S ~ N(0, (1,000 k)²).
* ``welfare_receipt`` (0/1, the household received a community-welfare benefit in the year):
  p0 = clip(0.12 + 0.08 elderly + 0.02 1[hh_size ≥ 5] + 0.02 x_sg + 0.03 h_w + α_v + b + S
  + (0.005 + 0.004 x_sg − 0.002 x_inc) τ, 0, 1), b ~ N(0, 0.02²), S ~ N(0, (0.005 k)²); Y0 = 1[U < p0].
* ``savings`` (baht, to 1 baht): Y0 = max(0, exp(log 25,000 + 0.35 x_inc + 0.25 x_sg + s_v + 0.6 h_s + b + e)
  + (1,500 + 400 x_inc + 300 x_sg) τ), b ~ N(0, 0.1²), e ~ N(0, 0.4²) (log), S enters b with SD 0.02 k.

Why naive comparisons are biased but conditional parallel trends hold: every village or household term
that is related to adoption is either constant over the years (income level a_v + 5,000 c_v, the
household traits, which depend on share_elderly and share_farm) or part of the linear trend
(δ + κ'x) τ in x = (x_inc, x_farm, x_sg), all functions of frame columns; the terms that change over the
years (b, e, U, S) are drawn independently of adoption. So E[Y0_t − Y0_s | village] = (δ + κ'x_v)(t − s)
exactly (welfare: E[1[U < p0] | p0] = p0; savings: the lognormal part is stationary), apart from the
rarely binding clip / max(0, ·). Adopters are richer and have bigger savings groups, hence naive
adopter-vs-rest comparisons are biased (levels), unconditional parallel trends fail (adopters' x_inc and
x_sg steepen their trends), and parallel trends hold given (x_inc, x_farm, x_sg), with a conditional trend
linear in them: matching within province on those covariates, or ``att_gt`` with them as covariates,
removes the bias (checked in ``tests/test_simulate_national.py``).

Planted effects (cohort g, event time e = t − g ≥ 0; zero before adoption, no anticipation):
θ_o(g, e) = base_o · (1 + growth_o · e) · κ_g with (base, growth) = income (3,000 baht, 0.5),
welfare_receipt (0.08, 0.25), savings (2,000 baht, 1.0) and cohort multipliers κ = 1.2, 1.0, 0.9, 0.8
for 2027–2030 (``NationalConfig.effects`` / ``cohort_multiplier``). Treated potential outcomes share every
random number with Y0 (common random numbers): income Y1 = Y0 + m_v θ; savings Y1 = Y0 + m_v θ;
welfare Y1 = 1[U < min(1, p0 + m_v θ)]. The observed outcome is Y1 from the adoption year on.

Truth (``truth.json`` → ``effects``): per outcome × cohort × year, ``parameter`` = θ(g, e) (the
superpopulation effect per unit of m), ``att`` = the realised finite-population ATT(g, t) = mean of
Y1 − Y0 over ALL households of the cohort's villages (respondents or not; the estimand of a
household-weighted estimator), ``att_village`` = the unweighted mean over the cohort's villages of the
village mean of Y1 − Y0, with ``n_villages`` and ``n_households``.

4. Response and survey weights
------------------------------
Village × year response rate ρ = expit(logit ``response_rate`` + N(0, 0.5²)); n_resp ~ Bin(N_v, ρ) (at
least 1); the respondents are a simple random sample of size n_resp of the village's households, so
``weight`` = N_v / n_resp is the inverse inclusion probability given n_resp and Σ weight = N_v in every
village × year. Nonresponse is independent of the outcomes given the village (missing at random), so
weighted village totals are unbiased for the population totals.

Household file columns: ``village_id`` (string), ``hh_no`` (int32), ``weight``, ``hh_size``,
``head_age``, ``elderly``, ``farm`` (int32), ``income``, ``welfare_receipt`` (int32), ``savings``;
``year`` and ``province_code`` are the hive partition keys (in the folder names, not in the files).
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import zlib
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import expit, logit

import welfare_eval.reference as ref
from welfare_eval._io import write_json, write_parquet
from welfare_eval._progress import progress
from welfare_eval._results import ResultBase
from welfare_eval.simulate._rng import stream

__all__ = [
    "BLOCK_VILLAGES",
    "HOUSEHOLD_COLUMNS",
    "NATIONAL_OUTCOMES",
    "VILLAGE_COLUMNS",
    "NationalConfig",
    "NationalData",
    "NationalFrame",
    "NationalTruth",
    "planted_effect",
    "simulate_households",
    "simulate_national",
    "simulate_national_frame",
    "simulate_partition",
]

#: Default villages per random-number block (``NationalConfig.block_villages``; part of the random scheme).
BLOCK_VILLAGES = 256

#: Outcomes with planted effects, in order.
NATIONAL_OUTCOMES: tuple[str, ...] = ("income", "welfare_receipt", "savings")

#: Columns of the household Parquet files (the partition keys ``year`` and ``province_code`` are not in
#: the files: they are the folder names).
HOUSEHOLD_COLUMNS: tuple[str, ...] = (
    "village_id",
    "hh_no",
    "weight",
    "hh_size",
    "head_age",
    "elderly",
    "farm",
    "income",
    "welfare_receipt",
    "savings",
)

#: Columns of the village frame (``villages.parquet``), in order.
VILLAGE_COLUMNS: tuple[str, ...] = (
    "village_id",
    "region",
    "province_code",
    "district_code",
    "subdistrict_code",
    "n_households",
    "mean_income",
    "share_farm",
    "share_elderly",
    "paved_road",
    "km_to_district",
    "has_savings_group",
    "sg_age",
    "sg_members",
    "sg_savings",
    "has_fund_institution",
    "has_sufficiency",
    "eligible",
    "cohort",
)

_HH_SCHEMA = pa.schema(
    [
        ("village_id", pa.string()),
        ("hh_no", pa.int32()),
        ("weight", pa.float64()),
        ("hh_size", pa.int32()),
        ("head_age", pa.int32()),
        ("elderly", pa.int32()),
        ("farm", pa.int32()),
        ("income", pa.float64()),
        ("welfare_receipt", pa.int32()),
        ("savings", pa.float64()),
    ]
)


def _default_effects() -> dict[str, tuple[float, float]]:
    return {"income": (3000.0, 0.5), "welfare_receipt": (0.08, 0.25), "savings": (2000.0, 1.0)}


@dataclass(frozen=True)
class NationalConfig:
    """Sizes, rollout and planted effects of the national simulation (defaults in the module docstring).

    Attributes
    ----------
    n_villages, n_adopters : int
        Villages and adopting villages at ``scale=1`` (multiplied by ``scale``; at least one village per
        province and one adopter per cohort).
    years : tuple of int
        Survey years (CE), consecutive.
    cohorts : tuple of int
        Adoption years (each within ``years`` and after its first year).
    cohort_shares : tuple of float
        Share of the adopters in each cohort (sums to 1).
    households_median, households_log_sd : float
        Households per village: round(exp(log median + log_sd · N(0, 1))), clipped to ``households_range``.
    households_range : (int, int)
        Inclusive clip of the number of households per village.
    response_rate : float
        Average household response rate (village × year rates vary around it on the logit scale).
    province_year_sd : float
        Multiplier k of the province × year shocks (0 = none, the default; 1 = SD 1,000 baht on income).
    effects : dict
        outcome → (base, growth): θ(g, e) = base (1 + growth e) κ_g.
    cohort_multiplier : tuple of float
        κ_g for each cohort in ``cohorts``.
    effect_heterogeneity : float
        Coefficient of variation of the village effect multiplier m_v (Gamma, mean 1); 0 = homogeneous.
    selection : dict
        Coefficients of the adoption score on z(sg_age), z(log1p sg_savings), z(log mean_income) and the
        unobserved capacity (key ``capacity``).
    block_villages : int
        Villages per random-number block (part of the random scheme: another value gives other data; the
        data never depend on ``workers`` or ``row_group_rows``).
    """

    n_villages: int = 75_000
    n_adopters: int = 2_000
    years: tuple[int, ...] = (2025, 2026, 2027, 2028, 2029, 2030)
    cohorts: tuple[int, ...] = (2027, 2028, 2029, 2030)
    cohort_shares: tuple[float, ...] = (0.20, 0.25, 0.25, 0.30)
    households_median: float = 140.0
    households_log_sd: float = 0.5
    households_range: tuple[int, int] = (15, 1500)
    response_rate: float = 0.96
    province_year_sd: float = 0.0
    effects: dict[str, tuple[float, float]] = field(default_factory=_default_effects)
    cohort_multiplier: tuple[float, ...] = (1.2, 1.0, 0.9, 0.8)
    effect_heterogeneity: float = 0.35
    selection: dict[str, float] = field(
        default_factory=lambda: {"sg_age": 0.4, "sg_savings": 0.4, "mean_income": 0.3, "capacity": 0.4}
    )
    block_villages: int = BLOCK_VILLAGES

    def __post_init__(self) -> None:
        years = list(self.years)
        if len(years) < 2 or years != list(range(years[0], years[0] + len(years))):
            raise ValueError(f"NationalConfig.years must be at least two consecutive years, got {self.years}")
        cohorts = list(self.cohorts)
        if not cohorts or sorted(set(cohorts)) != cohorts:
            raise ValueError(f"NationalConfig.cohorts must be increasing and distinct, got {self.cohorts}")
        if cohorts[0] <= years[0] or cohorts[-1] > years[-1]:
            raise ValueError(
                f"NationalConfig.cohorts {self.cohorts} must lie within years {years[0] + 1}..{years[-1]} "
                "(every cohort needs a pre-adoption year)"
            )
        if len(self.cohort_shares) != len(cohorts) or len(self.cohort_multiplier) != len(cohorts):
            raise ValueError("NationalConfig.cohort_shares and cohort_multiplier need one value per cohort")
        if min(self.cohort_shares) <= 0 or not math.isclose(sum(self.cohort_shares), 1.0, abs_tol=1e-9):
            raise ValueError(f"NationalConfig.cohort_shares must be positive and sum to 1, got {self.cohort_shares}")
        if self.n_villages < 1 or self.n_adopters < 0:
            raise ValueError("NationalConfig.n_villages must be >= 1 and n_adopters >= 0")
        lo, hi = self.households_range
        if not 1 <= lo <= hi:
            raise ValueError(f"NationalConfig.households_range must be 1 <= low <= high, got {self.households_range}")
        if not 0.0 < self.response_rate < 1.0:
            raise ValueError(f"NationalConfig.response_rate must be in (0, 1), got {self.response_rate!r}")
        if self.province_year_sd < 0 or self.effect_heterogeneity < 0 or self.households_log_sd < 0:
            raise ValueError("NationalConfig: province_year_sd, effect_heterogeneity and households_log_sd must be >= 0")
        unknown = set(self.effects) - set(NATIONAL_OUTCOMES)
        if unknown:
            raise ValueError(f"NationalConfig.effects: unknown outcome(s) {sorted(unknown)}; use {NATIONAL_OUTCOMES}")
        if not isinstance(self.block_villages, int) or self.block_villages < 1:
            raise ValueError(f"NationalConfig.block_villages must be a positive integer, got {self.block_villages!r}")
        unknown = set(self.selection) - {"sg_age", "sg_savings", "mean_income", "capacity"}
        if unknown:
            raise ValueError(f"NationalConfig.selection: unknown term(s) {sorted(unknown)}")


def planted_effect(outcome: str, cohort: int, year: int, *, config: NationalConfig | None = None) -> float:
    """θ_o(g, t): the planted effect per unit of the village multiplier (0 before adoption, 0 for g = 0)."""
    cfg = config or NationalConfig()
    if outcome not in NATIONAL_OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; use one of {NATIONAL_OUTCOMES}")
    if cohort == 0 or year < cohort:
        return 0.0
    if cohort not in cfg.cohorts:
        raise ValueError(f"cohort {cohort} is not one of {cfg.cohorts}")
    base, growth = cfg.effects.get(outcome, (0.0, 0.0))
    kappa = cfg.cohort_multiplier[list(cfg.cohorts).index(cohort)]
    return float(base * (1.0 + growth * (year - cohort)) * kappa)


# --------------------------------------------------------------------------------------------------
# Village frame
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NationalFrame:
    """The simulated village frame and what household generation needs from it.

    Attributes
    ----------
    villages : DataFrame
        Columns :data:`VILLAGE_COLUMNS`, sorted by ``village_id`` (the public กชช.2ค-like table).
    latent : DataFrame
        Same rows: ``village_id``, ``capacity``, ``level_income``, ``level_welfare``, ``level_savings``,
        ``multiplier``, ``score`` (adoption score; NaN for ineligible villages), ``x_inc``, ``x_farm``, ``x_sg``.
    seed, scale : int, float
    config : NationalConfig
    """

    villages: pd.DataFrame
    latent: pd.DataFrame
    seed: int
    scale: float
    config: NationalConfig

    @property
    def provinces(self) -> list[str]:
        """Province codes present in the frame, sorted."""
        return sorted(self.villages["province_code"].astype(str).unique())

    def province_slice(self, province_code: str) -> slice:
        """Row range of a province in the (village-code sorted) frame."""
        try:
            return self._arrays["_slices"][str(province_code)]
        except KeyError:
            raise ValueError(f"province_code {province_code!r} has no village in the frame") from None

    @cached_property
    def _arrays(self) -> dict[str, Any]:
        """Numpy columns used by the household generator (pandas column access is slow per block)."""
        v, lat = self.villages, self.latent
        out: dict[str, Any] = {
            "village_id": v["village_id"].to_numpy(dtype=str),
            "n_households": v["n_households"].to_numpy(dtype=np.int64),
            "cohort": v["cohort"].to_numpy(dtype=np.int64),
        }
        for c in ("share_elderly", "share_farm", "mean_income"):
            out[c] = v[c].to_numpy(dtype=float)
        for c in ("x_inc", "x_farm", "x_sg", "capacity", "multiplier", "level_income", "level_welfare", "level_savings"):
            out[c] = lat[c].to_numpy(dtype=float)
        codes = v["province_code"].to_numpy(dtype=str)
        uniq, first = np.unique(codes, return_index=True)
        bounds = [*first.tolist(), len(codes)]
        out["_slices"] = {str(c): slice(bounds[i], bounds[i + 1]) for i, c in enumerate(uniq)}
        return out


def _scaled_sizes(scale: float, cfg: NationalConfig, n_provinces: int) -> tuple[int, int]:
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number (1.0 = national), got {scale!r}")
    n_v = round(cfg.n_villages * scale)
    if n_v < n_provinces:
        raise ValueError(
            f"scale={scale} gives {n_v} villages, fewer than the {n_provinces} provinces; "
            f"use scale >= {n_provinces / cfg.n_villages:.4g}"
        )
    n_a = max(len(cfg.cohorts), round(cfg.n_adopters * scale)) if cfg.n_adopters > 0 else 0
    return n_v, n_a


def _layout(rng: np.random.Generator, prov: pd.DataFrame, n_v: int) -> pd.DataFrame:
    """Province, district, subdistrict and village numbers of ``n_v`` villages (codes unique)."""
    n_p = len(prov)
    weights = np.exp(rng.normal(0.0, 0.45, size=n_p))
    counts = 1 + rng.multinomial(n_v - n_p, weights / weights.sum())
    parts: list[pd.DataFrame] = []
    for (code, region), n in zip(prov[["province_code", "region"]].itertuples(index=False), counts, strict=True):
        n = int(n)
        # villages per subdistrict 1 + Pois(9); enough subdistricts to hold n villages
        sizes = 1 + rng.poisson(9.0, size=n // 2 + 2)
        k = int(np.searchsorted(np.cumsum(sizes), n)) + 1
        sizes = sizes[:k].copy()
        sizes[-1] -= int(sizes.sum()) - n
        # subdistricts per district 1 + Pois(7)
        dsz = 1 + rng.poisson(7.0, size=k + 1)
        nd = int(np.searchsorted(np.cumsum(dsz), k)) + 1
        dsz = dsz[:nd].copy()
        dsz[-1] -= int(dsz.sum()) - k
        if nd > 99 or dsz.max() > 99 or sizes.max() > 99:
            raise ValueError(
                f"province {code}: {n} villages need more than 99 districts/subdistricts/villages; lower scale"
            )
        district = np.repeat(np.arange(1, nd + 1), dsz)  # per subdistrict
        sub_no = np.concatenate([np.arange(1, m + 1) for m in dsz])
        vil_no = np.concatenate([np.arange(1, m + 1) for m in sizes])
        parts.append(
            pd.DataFrame(
                {
                    "province_code": code,
                    "region": int(region),
                    "district": np.repeat(district, sizes),
                    "subdistrict": np.repeat(sub_no, sizes),
                    "village": vil_no,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["village_id"] = (
        out["province_code"].astype(str)
        + out["district"].map("{:02d}".format)
        + out["subdistrict"].map("{:02d}".format)
        + out["village"].map("{:02d}".format)
    )
    return out.sort_values("village_id", kind="mergesort").reset_index(drop=True)


def _z(x: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.float64]:
    ref_x = x if mask is None else x[mask]
    sd = float(ref_x.std())
    return (x - ref_x.mean()) / sd if sd > 0 else np.zeros_like(x)


def simulate_national_frame(
    *, seed: int = 2568, scale: float = 1.0, config: NationalConfig | None = None
) -> NationalFrame:
    """Simulate the national village frame (กชช.2ค-like covariates) and the staggered adoption.

    Parameters
    ----------
    seed : int
        Seed of the whole national simulation.
    scale : float
        1.0 = national size (75,000 villages, 2,000 adopters); 0.01 = 750 villages, 20 adopters.
    config : NationalConfig, optional

    Returns
    -------
    NationalFrame
    """
    cfg = config or NationalConfig()
    prov = ref.provinces().sort_values("province_code").reset_index(drop=True)
    n_v, n_a = _scaled_sizes(scale, cfg, len(prov))
    lay = _layout(stream(seed, "national.layout"), prov, n_v)
    n = len(lay)
    rc = stream(seed, "national.covariates")
    u = rc.standard_normal(n)
    pcodes, pidx = np.unique(lay["province_code"].to_numpy(dtype=str), return_inverse=True)
    r_p = rc.normal(0.0, 0.12, size=pcodes.size)[pidx]
    lo, hi = cfg.households_range
    n_hh = np.clip(np.round(np.exp(np.log(cfg.households_median) + cfg.households_log_sd * rc.standard_normal(n))), lo, hi)
    mean_income = np.round(np.exp(np.log(75_000) + 0.25 * u + r_p + rc.normal(0, 0.12, n)), -2)
    share_farm = np.round(expit(0.8 - 0.6 * u + rc.normal(0, 0.5, n)), 3)
    share_elderly = np.round(expit(-1.3 - 0.2 * u + rc.normal(0, 0.3, n)), 3)
    paved = rc.random(n) < expit(1.2 + 0.8 * u)
    km = np.round(np.exp(np.log(12.0) - 0.3 * u + rc.normal(0, 0.5, n)), 1)
    has_sg = rc.random(n) < expit(logit(0.75) + 0.8 * u)
    has_fi = rc.random(n) < expit(logit(0.70) + 0.8 * u)
    has_su = rc.random(n) < expit(logit(0.75) + 0.6 * u)
    sg_age = np.clip(np.round(rc.gamma(3.0, 4.0, n) + 2.0 * u), 1, 40)
    share_members = expit(-0.3 + 0.4 * u + rc.normal(0, 0.3, n))
    sg_members = np.minimum(np.maximum(rc.binomial(n_hh.astype(np.int64), share_members), 10), n_hh)
    per_member = np.exp(np.log(12_000) + 0.3 * u + 0.03 * (sg_age - 10) + rc.normal(0, 0.3, n))
    sg_savings = np.round(sg_members * per_member, -2)
    sg_age = np.where(has_sg, sg_age, 0)
    sg_members = np.where(has_sg, sg_members, 0)
    sg_savings = np.where(has_sg, sg_savings, 0.0)
    eligible = has_sg & has_fi & has_su

    rl = stream(seed, "national.latent")
    capacity = rl.standard_normal(n)
    level_income = rl.normal(0.0, 4000.0, n)
    level_welfare = rl.normal(0.0, 0.03, n)
    level_savings = rl.normal(0.0, 0.2, n)
    cv = cfg.effect_heterogeneity
    multiplier = rl.gamma(1.0 / cv**2, cv**2, n) if cv > 0 else np.ones(n)

    # adoption: Gumbel-top-k draw without replacement with P ∝ exp(score) among eligible villages
    covs = {
        "sg_age": sg_age.astype(float),
        "sg_savings": np.log1p(sg_savings),
        "mean_income": np.log(mean_income),
        "capacity": capacity,
    }
    score = np.zeros(n)
    for k, coef in cfg.selection.items():
        score += coef * (_z(covs[k], eligible) if k != "capacity" else covs[k])
    n_elig = int(eligible.sum())
    if n_a > n_elig:
        raise ValueError(f"{n_a} adopters requested but only {n_elig} eligible villages; lower n_adopters")
    ra = stream(seed, "national.adoption")
    key = np.where(eligible, score + ra.gumbel(size=n), -np.inf)
    adopters = np.argsort(-key, kind="stable")[:n_a]
    order_key = score[adopters] + ra.gumbel(size=n_a)
    adopters = adopters[np.argsort(-order_key, kind="stable")]
    sizes = _largest_remainder(n_a, cfg.cohort_shares)
    cohort = np.zeros(n, dtype=np.int64)
    cohort[adopters] = np.repeat(np.asarray(cfg.cohorts, dtype=np.int64), sizes)

    villages = pd.DataFrame(
        {
            "village_id": pd.array(lay["village_id"].to_numpy(dtype=str), dtype="string"),
            "region": lay["region"].to_numpy(dtype=np.int64),
            "province_code": pd.array(lay["province_code"].to_numpy(dtype=str), dtype="string"),
            "district_code": pd.array([f"{d:02d}" for d in lay["district"]], dtype="string"),
            "subdistrict_code": pd.array([f"{s:02d}" for s in lay["subdistrict"]], dtype="string"),
            "n_households": n_hh.astype(np.int64),
            "mean_income": mean_income.astype(float),
            "share_farm": share_farm.astype(float),
            "share_elderly": share_elderly.astype(float),
            "paved_road": paved.astype(np.int64),
            "km_to_district": km.astype(float),
            "has_savings_group": has_sg.astype(np.int64),
            "sg_age": sg_age.astype(np.int64),
            "sg_members": sg_members.astype(np.int64),
            "sg_savings": sg_savings.astype(float),
            "has_fund_institution": has_fi.astype(np.int64),
            "has_sufficiency": has_su.astype(np.int64),
            "eligible": eligible.astype(np.int64),
            "cohort": cohort,
        }
    )
    latent = pd.DataFrame(
        {
            "village_id": villages["village_id"],
            "capacity": capacity,
            "level_income": level_income,
            "level_welfare": level_welfare,
            "level_savings": level_savings,
            "multiplier": multiplier,
            "score": np.where(eligible, score, np.nan),
            "x_inc": _z(np.log(mean_income)),
            "x_farm": _z(share_farm.astype(float)),
            "x_sg": _z(np.log1p(sg_savings)),
        }
    )
    if villages["village_id"].duplicated().any():  # pragma: no cover - guarded by construction
        raise RuntimeError("duplicate village codes in the simulated national frame")
    return NationalFrame(villages=villages, latent=latent, seed=int(seed), scale=float(scale), config=cfg)


def _largest_remainder(total: int, shares: Sequence[float]) -> npt.NDArray[np.int64]:
    """Integer sizes summing to ``total`` proportional to ``shares`` (each >= 1 when total >= len)."""
    raw = np.asarray(shares, dtype=float) * total
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    if total >= len(out):
        while (out == 0).any():  # move one from the largest cohort to an empty one
            out[np.argmax(out)] -= 1
            out[np.argmin(out)] += 1
    return out


# --------------------------------------------------------------------------------------------------
# Households
# --------------------------------------------------------------------------------------------------
_POIS_CDF = np.cumsum(np.exp(-2.3) * np.cumprod(np.r_[1.0, np.full(39, 2.3) / np.arange(1, 40)]))


def _seq(seed: int, name: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(
        np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(name.encode()), *map(int, keys)))
    )


def _block(
    nf: NationalFrame, year: int, province_code: str, b: int, rows: slice, shocks: Mapping[str, float]
) -> tuple[pa.Table, list[dict[str, Any]]]:
    """Households of one block (villages ``rows`` of the frame) in one year, and the truth sums."""
    cfg = nf.config
    arr = nf._arrays
    ids_v = arr["village_id"][rows]
    nv = ids_v.size
    n_hh = arr["n_households"][rows]
    total = int(n_hh.sum())
    vi = np.repeat(np.arange(nv), n_hh)  # village index of each household
    starts = np.concatenate([[0], np.cumsum(n_hh)[:-1]])
    hh_no = np.arange(total) - starts[vi] + 1
    tau = year - cfg.years[0]
    p = int(province_code)

    def col(name: str) -> npt.NDArray[Any]:
        return np.asarray(arr[name][rows])[vi]

    # persistent household traits (same numbers every year)
    rp = _seq(nf.seed, "national.households", p, b)
    h = rp.standard_normal(total)
    h_w = rp.standard_normal(total)
    h_s = rp.standard_normal(total)
    # 1 + Pois(2.3) by inverse CDF of one uniform (exact, and faster than numpy's Poisson sampler)
    hh_size = np.clip(1 + np.searchsorted(_POIS_CDF, rp.random(total), side="right"), 1, 12)
    sh_eld = col("share_elderly")
    age0 = np.clip(np.round(rp.normal(50.0 + 40.0 * (sh_eld - 0.2), 13.0)), 20, 90)
    elderly = (age0 >= 60) | (rp.random(total) < 0.25)
    farm = rp.random(total) < col("share_farm")

    # draws of this year
    ry = _seq(nf.seed, "national.household_year", year, p, b)
    b_inc = ry.normal(0.0, 2500.0, nv)[vi]
    b_wel = ry.normal(0.0, 0.02, nv)[vi]
    b_sav = ry.normal(0.0, 0.1, nv)[vi]
    e_inc = ry.normal(0.0, 0.25, total)
    e_sav = ry.normal(0.0, 0.4, total)
    u_wel = ry.random(total)
    rho = expit(logit(cfg.response_rate) + ry.normal(0.0, 0.5, nv))
    n_resp = np.maximum(ry.binomial(n_hh, rho), 1)
    u_resp = ry.random(total)

    x_inc = col("x_inc")
    x_farm = col("x_farm")
    x_sg = col("x_sg")
    cap = col("capacity")
    m = col("multiplier")
    cohort_v = arr["cohort"][rows]
    cohort = cohort_v[vi]

    income0 = np.maximum(
        0.0,
        col("mean_income") * np.exp(0.3 * h - 0.045) * np.exp(e_inc - 0.03125)
        + col("level_income")
        + 5000.0 * cap
        + b_inc
        + shocks["income"]
        + (2500.0 + 1000.0 * x_inc - 500.0 * x_farm + 500.0 * x_sg) * tau,
    )
    p0 = np.clip(
        0.12
        + 0.08 * elderly
        + 0.02 * (hh_size >= 5)
        + 0.02 * x_sg
        + 0.03 * h_w
        + col("level_welfare")
        + b_wel
        + shocks["welfare_receipt"]
        + (0.005 + 0.004 * x_sg - 0.002 * x_inc) * tau,
        0.0,
        1.0,
    )
    sav0 = np.maximum(
        0.0,
        np.exp(
            np.log(25_000.0)
            + 0.35 * x_inc
            + 0.25 * x_sg
            + col("level_savings")
            + 0.6 * h_s
            + b_sav
            + shocks["savings"]
            + e_sav
        )
        + (1500.0 + 400.0 * x_inc + 300.0 * x_sg) * tau,
    )
    gs = np.unique(cohort_v)
    theta = {
        o: np.array([planted_effect(o, int(g), year, config=cfg) for g in gs])[np.searchsorted(gs, cohort)]
        for o in NATIONAL_OUTCOMES
    }
    y0 = {
        "income": np.round(income0),
        "welfare_receipt": (u_wel < p0).astype(np.int64),
        "savings": np.round(sav0),
    }
    y1 = {
        "income": np.round(income0 + m * theta["income"]),
        "welfare_receipt": (u_wel < np.minimum(1.0, p0 + m * theta["welfare_receipt"])).astype(np.int64),
        "savings": np.round(sav0 + m * theta["savings"]),
    }
    treated = (cohort > 0) & (year >= cohort)
    obs = {o: np.where(treated, y1[o], y0[o]) for o in NATIONAL_OUTCOMES}

    # truth: sums of Y1 - Y0 over every household of adopter villages, by cohort
    truth: list[dict[str, Any]] = []
    adopt = cohort_v > 0
    if adopt.any():
        diff = {o: (y1[o] - y0[o]).astype(float) for o in NATIONAL_OUTCOMES}
        per_village = {o: np.bincount(vi, weights=diff[o], minlength=nv) / n_hh for o in NATIONAL_OUTCOMES}
        for g in np.unique(cohort_v[adopt]):
            vm = cohort_v == g
            hm = vm[vi]
            rec: dict[str, Any] = {
                "cohort": int(g),
                "year": int(year),
                "n_villages": int(vm.sum()),
                "n_households": int(hm.sum()),
            }
            for o in NATIONAL_OUTCOMES:
                rec[f"sum_{o}"] = float(diff[o][hm].sum())
                rec[f"sum_village_{o}"] = float(per_village[o][vm].sum())
            truth.append(rec)

    # response: a simple random sample of n_resp households per village
    order = np.argsort(vi + u_resp, kind="stable")  # households are grouped by village: sort u within village
    rank = np.empty(total, dtype=np.int64)
    rank[order] = np.arange(total) - starts[vi[order]]
    keep = rank < n_resp[vi]
    weight = (n_hh / n_resp)[vi]

    ids = pa.array(ids_v, type=pa.string())
    table = pa.table(
        {
            "village_id": ids.take(pa.array(vi[keep].astype(np.int32))),
            "hh_no": pa.array(hh_no[keep].astype(np.int32)),
            "weight": pa.array(weight[keep].astype(np.float64)),
            "hh_size": pa.array(hh_size[keep].astype(np.int32)),
            "head_age": pa.array((age0[keep] + tau).astype(np.int32)),
            "elderly": pa.array(elderly[keep].astype(np.int32)),
            "farm": pa.array(farm[keep].astype(np.int32)),
            "income": pa.array(obs["income"][keep].astype(np.float64)),
            "welfare_receipt": pa.array(obs["welfare_receipt"][keep].astype(np.int32)),
            "savings": pa.array(obs["savings"][keep].astype(np.float64)),
        },
        schema=_HH_SCHEMA,
    )
    return table, truth


def _province_year_shocks(nf: NationalFrame, year: int, province_code: str) -> dict[str, float]:
    k = nf.config.province_year_sd
    r = _seq(nf.seed, "national.province_year", year, int(province_code))
    z = r.standard_normal(3)
    return {"income": 1000.0 * k * z[0], "welfare_receipt": 0.005 * k * z[1], "savings": 0.02 * k * z[2]}


def _blocks(nf: NationalFrame, province_code: str) -> Iterator[tuple[int, slice]]:
    sl = nf.province_slice(province_code)
    size = nf.config.block_villages
    for b, lo in enumerate(range(sl.start, sl.stop, size)):
        yield b, slice(lo, min(lo + size, sl.stop))


def simulate_partition(
    nf: NationalFrame, *, year: int, province_code: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The household rows of one province in one year, in memory (for small scales and tests).

    Returns
    -------
    (households, truth_sums)
        ``households``: columns :data:`HOUSEHOLD_COLUMNS` plus ``year`` and ``province_code``;
        ``truth_sums``: per cohort present, the sums behind :class:`NationalTruth` (``sum_<outcome>``,
        ``sum_village_<outcome>``, ``n_villages``, ``n_households``).
    """
    _check_year(nf, year)
    shocks = _province_year_shocks(nf, year, province_code)
    tables, truth = [], []
    for b, rows in _blocks(nf, province_code):
        t, tr = _block(nf, year, province_code, b, rows, shocks)
        tables.append(t)
        truth.extend(tr)
    df = pa.concat_tables(tables).to_pandas()
    df["year"] = np.int64(year)
    df["province_code"] = pd.array([province_code] * len(df), dtype="string")
    df["village_id"] = df["village_id"].astype("string")
    return df, pd.DataFrame(truth)


def simulate_households(
    nf: NationalFrame, *, years: Sequence[int] | None = None
) -> tuple[pa.Table, NationalTruth]:
    """Every household row of ``years`` (default all) in memory as one Arrow table, with the planted truth.

    The rows are those :func:`simulate_national` writes (same random-number scheme), with the partition keys
    as columns (``year`` int64, ``province_code`` string), ordered by year, province and village. For small
    scales and tests (e.g. a Monte Carlo over seeds without writing files); ``nf`` from
    :func:`simulate_national_frame`.
    """
    tables: list[pa.Table] = []
    sums: list[dict[str, Any]] = []
    for year in nf.config.years if years is None else years:
        _check_year(nf, int(year))
        for pc in nf.provinces:
            shocks = _province_year_shocks(nf, int(year), pc)
            for b, rows in _blocks(nf, pc):
                t, tr = _block(nf, int(year), pc, b, rows, shocks)
                n = t.num_rows
                t = t.append_column("year", pa.array(np.full(n, int(year), dtype=np.int64)))
                tables.append(t.append_column("province_code", pa.array([pc] * n, type=pa.string())))
                sums.extend(tr)
    return pa.concat_tables(tables), _truth_from_sums(nf, pd.DataFrame(sums))


def _check_year(nf: NationalFrame, year: int) -> None:
    if year not in nf.config.years:
        raise ValueError(f"year {year} is not a survey year of the configuration {nf.config.years}")


def _write_partition(
    nf: NationalFrame, hh_root: Path, year: int, province_code: str, row_group_rows: int
) -> dict[str, Any]:
    """Stream one (year, province) partition to Parquet; returns its manifest entry and truth sums."""
    folder = hh_root / f"year={year}" / f"province_code={province_code}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    tmp = folder / ".part-0.parquet.tmp"
    shocks = _province_year_shocks(nf, year, province_code)
    truth: list[dict[str, Any]] = []
    rows = 0
    buf: list[pa.Table] = []
    buffered = 0
    try:
        with pq.ParquetWriter(tmp, _HH_SCHEMA, compression="zstd") as writer:
            for b, sl in _blocks(nf, province_code):
                t, tr = _block(nf, year, province_code, b, sl, shocks)
                truth.extend(tr)
                rows += t.num_rows
                buf.append(t)
                buffered += t.num_rows
                if buffered >= row_group_rows:
                    writer.write_table(pa.concat_tables(buf), row_group_size=max(buffered, 1))
                    buf, buffered = [], 0
            if buf:
                writer.write_table(pa.concat_tables(buf), row_group_size=max(buffered, 1))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {
        "year": int(year),
        "province_code": province_code,
        "path": str(path.relative_to(hh_root.parent)),
        "rows": int(rows),
        "bytes": int(path.stat().st_size),
        "truth": truth,
    }


# worker state for process pools: the frame is rebuilt from (seed, scale, config) once per worker
_WORKER_FRAME: NationalFrame | None = None


def _worker_init(seed: int, scale: float, config: NationalConfig) -> None:
    global _WORKER_FRAME
    os.environ.setdefault("WELFARE_EVAL_PROGRESS", "0")
    _WORKER_FRAME = simulate_national_frame(seed=seed, scale=scale, config=config)


def _worker_task(args: tuple[str, int, str, int]) -> dict[str, Any]:
    hh_root, year, province_code, row_group_rows = args
    assert _WORKER_FRAME is not None
    return _write_partition(_WORKER_FRAME, Path(hh_root), year, province_code, row_group_rows)


# --------------------------------------------------------------------------------------------------
# Truth and the whole run
# --------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class NationalTruth(ResultBase):
    """Planted effects of a national simulation.

    Attributes
    ----------
    effects : DataFrame
        One row per outcome × cohort × year: ``outcome``, ``cohort``, ``year``, ``event_time``,
        ``parameter`` (θ(g, e)), ``att`` (realised household-weighted ATT(g, t) over every household of the
        cohort's villages), ``att_village`` (unweighted mean over villages of the village ATT),
        ``n_villages``, ``n_households``. Pre-adoption years have ``parameter`` 0 and ``att`` exactly 0.
    villages : DataFrame
        Per village: ``village_id``, ``cohort``, ``multiplier`` (m_v), ``capacity`` (unobserved c_v),
        ``score`` (adoption score).
    seed, scale : int, float
    config : dict
    """

    effects: pd.DataFrame
    villages: pd.DataFrame
    seed: int
    scale: float
    config: dict[str, Any]
    title: str = "Planted effects of the national simulation"

    def tidy(self) -> pd.DataFrame:
        return self.effects.copy()

    def notes(self) -> list[str]:
        return [
            f"seed {self.seed}, scale {self.scale}; effects vary by cohort and event time "
            "(θ = base · (1 + growth · e) · κ_g, village multiplier m_v with mean 1).",
            "att: mean of Y1 − Y0 over all households of the cohort's villages (household-weighted);"
            " att_village: mean over villages of the village mean.",
        ]

    def to_dict(self) -> dict[str, Any]:
        eff = self.effects.astype(object).where(self.effects.notna(), None)
        return {
            "seed": self.seed,
            "scale": self.scale,
            "config": self.config,
            "outcomes": list(NATIONAL_OUTCOMES),
            "effects": eff.to_dict(orient="records"),
        }


def _truth_from_sums(nf: NationalFrame, sums: pd.DataFrame) -> NationalTruth:
    cfg = nf.config
    rows: list[dict[str, Any]] = []
    if len(sums):
        tot = sums.groupby(["cohort", "year"], sort=True).sum(numeric_only=True).reset_index()
        for rec in tot.to_dict(orient="records"):
            g, t = int(rec["cohort"]), int(rec["year"])
            for o in NATIONAL_OUTCOMES:
                rows.append(
                    {
                        "outcome": o,
                        "cohort": g,
                        "year": t,
                        "event_time": t - g,
                        "parameter": planted_effect(o, g, t, config=cfg),
                        "att": rec[f"sum_{o}"] / rec["n_households"],
                        "att_village": rec[f"sum_village_{o}"] / rec["n_villages"],
                        "n_villages": int(rec["n_villages"]),
                        "n_households": int(rec["n_households"]),
                    }
                )
    eff = pd.DataFrame(
        rows,
        columns=["outcome", "cohort", "year", "event_time", "parameter", "att", "att_village", "n_villages", "n_households"],
    )
    eff["outcome"] = pd.Categorical(eff["outcome"], categories=list(NATIONAL_OUTCOMES), ordered=True)
    eff = eff.sort_values(["outcome", "cohort", "year"]).reset_index(drop=True)
    eff["outcome"] = eff["outcome"].astype(str)
    adopters = nf.villages["cohort"].to_numpy() > 0
    vt = pd.DataFrame(
        {
            "village_id": nf.villages["village_id"][adopters].to_numpy(dtype=str),
            "cohort": nf.villages["cohort"][adopters].to_numpy(dtype=np.int64),
            "multiplier": nf.latent["multiplier"][adopters].to_numpy(dtype=float),
            "capacity": nf.latent["capacity"][adopters].to_numpy(dtype=float),
            "score": nf.latent["score"][adopters].to_numpy(dtype=float),
        }
    )
    return NationalTruth(
        effects=eff, villages=vt, seed=nf.seed, scale=nf.scale, config=_config_dict(cfg)
    )


def _config_dict(cfg: NationalConfig) -> dict[str, Any]:
    d = asdict(cfg)
    return json.loads(json.dumps(d))


@dataclass(frozen=True)
class NationalData:
    """A national simulation written to disk.

    Attributes
    ----------
    root : Path
        Output folder.
    households : Path
        Root of the hive-partitioned household Parquet data set (``year=…/province_code=…/part-0.parquet``).
    villages : DataFrame
        The village frame (also in ``root/villages.parquet``).
    truth : NationalTruth
    manifest : DataFrame
        One row per partition: ``year``, ``province_code``, ``path``, ``rows``, ``bytes``.
    """

    root: Path
    households: Path
    villages: pd.DataFrame
    truth: NationalTruth
    manifest: pd.DataFrame

    @property
    def n_rows(self) -> int:
        """Household rows written."""
        return int(self.manifest["rows"].sum())


_OWN_FILES = ("villages.parquet", "truth.json", "truth_villages.parquet", "manifest.json")


def simulate_national(
    out: str | Path,
    *,
    seed: int = 2568,
    scale: float = 1.0,
    config: NationalConfig | None = None,
    workers: int = 1,
    row_group_rows: int = 250_000,
    overwrite: bool = False,
) -> NationalData:
    """Simulate the national data and stream the household rows to hive-partitioned Parquet.

    Parameters
    ----------
    out : path
        Output folder (created). Holds ``villages.parquet``, ``households/``, ``truth.json``,
        ``truth_villages.parquet`` and ``manifest.json``.
    seed : int
    scale : float
        1.0 = national (≈ 75,000 villages, ≈ 12 million households a year, six years ≈ 72 million rows).
    config : NationalConfig, optional
    workers : int
        Processes generating partitions in parallel (the data do not depend on it).
    row_group_rows : int
        Rows buffered before a Parquet row group is written (bounds memory; the data do not depend on it).
    overwrite : bool
        Replace an earlier simulation in ``out`` (only the files listed above are removed).

    Returns
    -------
    NationalData
    """
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if not isinstance(row_group_rows, int) or row_group_rows < 1:
        raise ValueError(f"row_group_rows must be a positive integer, got {row_group_rows!r}")
    cfg = config or NationalConfig()
    nf = simulate_national_frame(seed=seed, scale=scale, config=cfg)  # validates before anything is removed
    root = Path(out)
    hh_root = root / "households"
    existing = [root / f for f in _OWN_FILES if (root / f).exists()] + ([hh_root] if hh_root.exists() else [])
    if existing:
        if not overwrite:
            raise FileExistsError(
                f"{root} already holds a national simulation ({existing[0].name}); pass overwrite=True to replace it"
            )
        for p in existing:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    root.mkdir(parents=True, exist_ok=True)
    tasks = [(year, pc) for year in cfg.years for pc in nf.provinces]
    entries: list[dict[str, Any]] = []
    desc = f"simulating households ({len(tasks)} partitions)"
    if workers == 1:
        for year, pc in progress(tasks, desc=desc, total=len(tasks)):
            entries.append(_write_partition(nf, hh_root, year, pc, row_group_rows))
    else:
        # "spawn": fresh interpreters (forking a process that holds Arrow/BLAS thread pools is unsafe);
        # each worker rebuilds the frame from (seed, scale, config) once
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(seed, scale, cfg),
        ) as pool:
            it = pool.map(_worker_task, [(str(hh_root), y, pc, row_group_rows) for y, pc in tasks], chunksize=4)
            entries.extend(progress(it, desc=desc, total=len(tasks)))
    sums = pd.DataFrame([t for e in entries for t in e.pop("truth")])
    truth = _truth_from_sums(nf, sums)
    manifest = pd.DataFrame(entries, columns=["year", "province_code", "path", "rows", "bytes"])
    write_parquet(nf.villages, root / "villages.parquet")
    write_parquet(truth.villages, root / "truth_villages.parquet")
    write_json(root / "truth.json", truth.to_dict())
    write_json(
        root / "manifest.json",
        {
            "seed": int(seed),
            "scale": float(scale),
            "config": _config_dict(cfg),
            "n_villages": len(nf.villages),
            "n_adopters": int((nf.villages["cohort"] > 0).sum()),
            "n_rows": int(manifest["rows"].sum()),
            "households": "households",
            "partitioning": ["year", "province_code"],
            "columns": list(HOUSEHOLD_COLUMNS),
            "partitions": manifest.to_dict(orient="records"),
        },
    )
    return NationalData(root=root, households=hh_root, villages=nf.villages, truth=truth, manifest=manifest)
