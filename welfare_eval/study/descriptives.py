"""Study step: weighted descriptive tables of the household survey (keys ``survey_*``).

Receipt of each welfare type, household outcomes, change between waves and design effects, by arm × wave,
with design-based standard errors (:mod:`welfare_eval.survey`). The weights come from the weights step
(:mod:`welfare_eval.study.weights`, computed once per run); the design, its variance options (``finite`` /
``pairs``) and their validation are described there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.study.sample import numeric_outcomes, receipt_columns, receipt_wide
from welfare_eval.study.weights import (
    DEFAULT_STEPS,
    INFERENCE,
    HouseholdWeights,
    Inference,
    domain_means,
    household_design,
    na_groups,
    prepare_households,
)
from welfare_eval.survey import DesignError, change, kish_deff_by

__all__ = ["changes", "design_summary", "weighted_tables"]

_WAVES = tuple(ref.WAVES)


def _check_same_weights(d: Any, households: pd.DataFrame) -> None:
    """The variance design's weights must be the weights step's ``w_final`` (same steps, same data)."""
    key = d.data["hh_id"].astype(str) + "|" + d.data["wave"].astype(str)
    ref_w = pd.Series(
        households["w_final"].to_numpy(dtype=float),
        index=households["hh_id"].astype(str) + "|" + households["wave"].astype(str),
    )
    expected = key.map(ref_w).to_numpy(dtype=float)
    if not np.allclose(d.weights, expected, rtol=1e-10, atol=1e-10):  # pragma: no cover - internal guard
        raise AssertionError("descriptives: the variance design's weights differ from the weights step's w_final")


def weighted_tables(
    weights: HouseholdWeights,
    benefits: pd.DataFrame,
    *,
    villages: pd.DataFrame | None = None,
    inference: Inference = "finite",
    outcomes: Sequence[str] = (),
    level: float = 0.95,
) -> dict[str, pd.DataFrame]:
    """Weighted descriptive tables of the household survey (Parquet-safe, keys ``survey_*``).

    ``weights`` is the result of :func:`welfare_eval.study.weights.weights_pipeline` (its audit and weight
    distribution are reported as they are; the variance design replays the same steps, and its weights are
    checked to equal ``w_final``). Design: see :mod:`welfare_eval.study.weights`; ``inference="finite"`` (default) treats the 36 purposive villages
    as certainty PSUs and the households as a stratified SRS (strata village × wave, fpc ``N``), so the
    intervals are for the households of these villages; ``"pairs"`` uses PSU = village, strata = pair
    (df = 36 − 18 = 18) as the impact analysis does. Domains (arm, wave) are estimated with ``by=``
    inside the full design, never by subsetting. Items missing among respondents are left out of the
    domain (available cases; ``na_rm=True``).

    Returns
    -------
    dict of DataFrame
        ``survey_weights_audit`` (per wave × step: weight range, Kish deff, ESS);
        ``survey_weight_distribution`` (quantiles of the weights per wave × step);
        ``survey_receipt`` (weighted share receiving each of the 9 welfare types by arm × wave:
        ``welfare_type, arm, wave, n, n_received, estimate, std_error, df, ci_low, ci_high, deff``);
        ``survey_outcomes`` (weighted means of ``outcomes`` by arm × wave, same columns with
        ``outcome``); ``survey_change`` (baseline → endline change by arm with SE from the covariance
        between waves); ``survey_design_effects`` (design effect of every estimate and the Kish deff of
        the weights in its domain, effective sample size ``n / deff``).
    """
    if inference not in INFERENCE:
        raise ValueError(f"inference={inference!r}: use one of {', '.join(INFERENCE)}")
    steps = weights.steps
    households = weights.households
    hh = numeric_outcomes(receipt_wide(prepare_households(households), benefits), outcomes)
    outcomes = [y for y in outcomes if y in hh.columns]
    d = household_design(hh, steps=steps, inference=inference, villages=villages, trim_ratio=weights.trim_ratio)
    _check_same_weights(d, households)
    audit = weights.audit
    by = ["arm", "wave"]
    codes = list(ref.welfare_types()["code"])
    rec_cols = receipt_columns()
    res = d.mean(rec_cols, by=by, na_rm=True, level=level)
    rec = res.tidy()
    rec.insert(0, "welfare_type", rec.pop("term").str.removeprefix("received_"))
    cnt = (
        hh[hh["interviewed"] == 1]
        .groupby(by, as_index=False)[rec_cols]
        .sum()
        .melt(id_vars=by, var_name="welfare_type", value_name="n_received")
    )
    cnt["welfare_type"] = cnt["welfare_type"].str.removeprefix("received_")
    rec = rec.merge(cnt, on=[*by, "welfare_type"], how="left")
    rec["n_received"] = rec["n_received"].astype("int64")
    rec = _order(rec, "welfare_type", codes)
    out_tab = _order(domain_means(d, outcomes, by, level), "outcome", list(outcomes))
    if {"baseline", "endline"} <= set(hh["wave"]):
        change_tab = changes(hh, [*outcomes, *rec_cols], steps=steps, inference=inference, villages=villages,
                             level=level, trim_ratio=weights.trim_ratio)
    else:
        change_tab = pd.DataFrame(
            columns=["outcome", "arm", "from", "to", "estimate", "std_error", "df", "ci_low", "ci_high"]
        )
    kish = kish_deff_by(d.data[by], by, weights=d.weights)
    de = pd.concat(
        [
            rec.assign(outcome="received_" + rec["welfare_type"])[["outcome", *by, "n", "deff"]],
            out_tab[["outcome", *by, "n", "deff"]],
        ],
        ignore_index=True,
    ).merge(kish[[*by, "kish_deff"]], on=by, how="left")
    de["ess"] = de["n"] / de["deff"]
    for t in (rec, out_tab, change_tab, de):
        t.insert(0, "inference", inference)
    dist = weights.distribution
    return {
        "survey_weights_audit": audit.copy(),
        "survey_weight_distribution": dist.copy(),
        "survey_receipt": rec,
        "survey_outcomes": out_tab,
        "survey_change": change_tab,
        "survey_design_effects": de,
    }


def changes(
    households: pd.DataFrame,
    variables: Sequence[str],
    *,
    start: str = "baseline",
    end: str = "endline",
    by: str = "arm",
    steps: Sequence[str] = DEFAULT_STEPS,
    inference: Inference = "finite",
    villages: pd.DataFrame | None = None,
    level: float = 0.95,
    trim_ratio: float = 3.5,
) -> pd.DataFrame:
    """Change of the weighted mean of each variable from ``start`` to ``end`` by ``by``, with its SE.

    Uses :func:`welfare_eval.survey.change` on the design of the two waves stacked: with
    ``inference="finite"`` the linked design (strata village, PSU household, so the panel households
    give the covariance between the waves; fpc ``1 - n/N``); with ``"pairs"`` PSU village, strata pair
    (covariance from the shared villages). Variables with the same missing-value pattern are estimated
    together (one covariance matrix); items missing among respondents are out of the domain.
    Returns ``outcome, <by>, from, to, estimate, std_error, df, ci_low, ci_high, cov_between_waves,
    corr_between_waves``.
    """
    hh = households[households["wave"].astype(str).isin([start, end])].copy()
    hh["wave"] = hh["wave"].astype(str)
    for y in variables:
        hh[y] = pd.to_numeric(hh[y], errors="coerce").astype(float)
    d = household_design(hh, steps=steps, inference=inference, villages=villages, linked=inference == "finite",
                         trim_ratio=trim_ratio)
    parts = []
    for cols in na_groups(d, variables):
        # change() estimates the means of all columns at once (one "term" per column)
        t = change(d, cast(Any, cols), wave="wave", start=start, end=end, by=by, na_rm=True, level=level).tidy()
        if "term" not in t.columns:
            t["term"] = cols[0]
        parts.append(t)
    out = pd.concat(parts, ignore_index=True).rename(columns={"term": "outcome"}).drop(columns="deff")
    rank = {y: i for i, y in enumerate(variables)}
    out = out.assign(_r=out["outcome"].map(rank)).sort_values(["_r", by], kind="mergesort").drop(columns="_r")
    return out[["outcome", *[c for c in out.columns if c != "outcome"]]].reset_index(drop=True)


def _order(t: pd.DataFrame, col: str, levels: Sequence[str]) -> pd.DataFrame:
    wave_rank = {w: i for i, w in enumerate(_WAVES)}
    arm_rank = {a: i for i, a in enumerate(ref.ARMS)}
    lev_rank = {v: i for i, v in enumerate(levels)}
    key = pd.DataFrame(
        {
            "a": t[col].map(lev_rank),
            "b": t["arm"].map(arm_rank),
            "c": t["wave"].map(wave_rank) if "wave" in t.columns else 0,
        }
    )
    idx = key.sort_values(["a", "b", "c"], kind="mergesort").index
    return t.loc[idx].reset_index(drop=True)


def _check_sum_to_n(households: pd.DataFrame, weight: str = "w_final") -> pd.DataFrame:
    """Sum of ``weight`` per village × wave against ``n_population`` (used by tests and the notebook)."""
    g = households.assign(wave=households["wave"].astype(str)).groupby(["village_id", "wave"])
    out = pd.DataFrame({"sum_w": g[weight].sum(), "N": g["n_population"].first().astype(float)})
    out["diff"] = out["sum_w"] - out["N"]
    return out.reset_index()


def design_summary(inference: Inference = "finite") -> Mapping[str, str]:
    """One-line description of the variance design (for tables and the report)."""
    if inference == "finite":
        return {
            "psu": "village (certainty) / household",
            "strata": "village x wave",
            "fpc": "1 - n/N",
            "df": "respondents - strata",
        }
    if inference == "pairs":
        return {"psu": "village", "strata": "matched pair", "fpc": "none", "df": "36 - 18 = 18"}
    raise DesignError(f"inference={inference!r}: use one of {', '.join(INFERENCE)}")


# ---------------------------------------------------------------------------------------------------
# Simulation check (issue 5 acceptance): CI coverage of finite-population values over repeated samples
# ---------------------------------------------------------------------------------------------------
