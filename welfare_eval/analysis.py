"""The study's analysis plan: which tables, specifications and outcomes, in one place.

:func:`analyze_study` takes the processed tables (a dict of DataFrames, as written by
:func:`welfare_eval.clean.clean_all`) and returns the analysis tables the report shows. It reads and
writes no files (:mod:`welfare_eval.pipeline` does that) and holds no statistics of its own: every
number comes from a stage's public API (``match``, ``survey``, ``did``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import welfare_eval.reference as ref

__all__ = [
    "MATCH_COVARIATES",
    "PRELIMINARY_OUTCOMES",
    "AnalysisPlan",
    "analyze_study",
    "design_table",
    "eligibility_funnel",
    "household_weights",
    "preliminary_did",
    "sample_sizes",
]

#: Covariates of the village matching (CDD village data), the same list the demo's fieldwork used.
MATCH_COVARIATES: tuple[str, ...] = (
    "mean_income",
    "share_elderly",
    "share_farm",
    "sg_age",
    "sg_members",
    "sg_savings",
    "n_households",
)

#: Outcomes of the preliminary DiD table (household level).
PRELIMINARY_OUTCOMES: tuple[str, ...] = ("any_welfare", "welfare_amount", "savings")


@dataclass(frozen=True)
class AnalysisPlan:
    """Choices of the analysis (defaults are the pre-registered ones).

    Attributes
    ----------
    match_covariates : tuple of str
        Covariates for the Mahalanobis matching within inspection region.
    outcomes : tuple of str
        Household outcomes of the preliminary DiD table.
    waves : (str, str)
        The two waves compared (before, after).
    inference : tuple of str
        DiD inference methods reported side by side.
    draws : int
        Wild-bootstrap draws / randomization assignments (full enumeration when 2^G ≤ draws).
    """

    match_covariates: tuple[str, ...] = MATCH_COVARIATES
    outcomes: tuple[str, ...] = PRELIMINARY_OUTCOMES
    waves: tuple[str, str] = ("baseline", "endline")
    inference: tuple[str, ...] = ("cr1", "cr2", "wild", "ri")
    draws: int = 2**18
    extra: Mapping[str, object] = field(default_factory=dict)


def _require(tables: Mapping[str, pd.DataFrame], *names: str) -> None:
    missing = [n for n in names if n not in tables]
    if missing:
        raise ValueError(
            f"processed tables {missing} are missing; run `welfare-eval clean` first (it writes them to data/processed/)"
        )


def design_table(villages: pd.DataFrame) -> pd.DataFrame:
    """The 36 study villages by inspection region and province: one row per pair."""
    prov = ref.provinces().set_index("province_code")
    v = villages.copy()
    v["province_code"] = v["village_id"].str[:2]
    v["province_th"] = v["province_code"].map(prov["province_th"])
    v["province_en"] = v["province_code"].map(prov["province_en"])
    pil = v[v["arm"] == "pilot"].set_index("pair_id")
    com = v[v["arm"] == "comparison"].set_index("pair_id")
    out = pd.DataFrame(
        {
            "region": pil["region"],
            "pilot_village_id": pil["village_id"],
            "pilot_province_th": pil["province_th"],
            "pilot_province_en": pil["province_en"],
            "pilot_n_households": pil["n_households"],
            "comparison_village_id": com["village_id"].reindex(pil.index),
            "comparison_province_th": com["province_th"].reindex(pil.index),
            "comparison_province_en": com["province_en"].reindex(pil.index),
            "comparison_n_households": com["n_households"].reindex(pil.index),
        }
    )
    out.index.name = "pair_id"
    return out.reset_index().sort_values(["region", "pair_id"], kind="mergesort").reset_index(drop=True)


def eligibility_funnel(frame: pd.DataFrame, villages: pd.DataFrame) -> pd.DataFrame:
    """Frame → eligible → pilots / comparison villages, overall and by region."""
    f = frame.copy()
    f["eligible"] = pd.to_numeric(f["eligible"], errors="coerce").fillna(0).astype(int)
    arms = villages.set_index("village_id")["arm"]
    f["arm"] = f["village_id"].map(arms)
    g = f.groupby("region", sort=True)
    out = pd.DataFrame(
        {
            "n_frame": g.size(),
            "n_eligible": g["eligible"].sum(),
            "n_pilot": g["arm"].apply(lambda s: int((s == "pilot").sum())),
            "n_comparison": g["arm"].apply(lambda s: int((s == "comparison").sum())),
        }
    ).reset_index()
    total = out.drop(columns="region").sum().to_frame().T
    total.insert(0, "region", 0)  # 0 = all regions
    return pd.concat([out, total], ignore_index=True).astype("int64")


def sample_sizes(households: pd.DataFrame) -> pd.DataFrame:
    """Villages, sampled and interviewed households, response rate and panel share by wave and arm."""
    hh = households.copy()
    hh["wave"] = pd.Categorical(hh["wave"].astype(str), categories=list(ref.WAVES), ordered=True)
    g = hh.groupby(["wave", "arm"], observed=True, sort=True)
    out = pd.DataFrame(
        {
            "n_villages": g["village_id"].nunique(),
            "n_sampled": g.size(),
            "n_interviewed": g["interviewed"].sum(),
            "n_panel": g["panel"].sum(),
        }
    ).reset_index()
    out["response_rate"] = out["n_interviewed"] / out["n_sampled"]
    out["wave"] = out["wave"].astype(str)
    return out


def household_weights(households: pd.DataFrame, villages: pd.DataFrame | None = None) -> pd.DataFrame:
    """Survey weights of every sampled household (the survey stage's weights pipeline).

    Base weight N/n (simple random sample of n of the village's N households in each wave), unit
    nonresponse adjusted within village × wave weighting classes, calibrated to the village household
    counts (see :func:`welfare_eval.survey.study.weights_pipeline`). Adds ``w_base``,
    ``w_nonresponse``, ``w_final`` (0 for nonrespondents) and ``w_panel`` (the baseline → endline
    longitudinal weight).
    """
    from welfare_eval.survey.study import weights_pipeline

    hh, _audit = weights_pipeline(households, villages)
    return hh


def preliminary_did(
    households: pd.DataFrame,
    *,
    outcomes: Sequence[str] = PRELIMINARY_OUTCOMES,
    waves: tuple[str, str] = ("baseline", "endline"),
    inference: Sequence[str] = ("cr1", "cr2", "wild", "ri"),
    draws: int = 2**18,
    seed: int = 0,
) -> pd.DataFrame:
    """Matched-pair DiD ``y ~ D | village + pair×wave`` for each outcome, weighted, clustered by pair.

    Uses the interviewed households of the two ``waves`` with their final weights (see
    :func:`household_weights`). One row per outcome × inference method.
    """
    from welfare_eval.did import estimate

    hh = households[(households["interviewed"] == 1) & households["wave"].astype(str).isin(waves)].copy()
    hh["post"] = (hh["wave"].astype(str) == waves[1]).astype(int)
    rows = []
    for y in outcomes:
        d = hh.dropna(subset=[y])
        res = estimate(
            d,
            outcome=y,
            treated="treated",
            post="post",
            unit="village_id",
            pair="pair_id",
            weights="w_final",
            inference=tuple(inference),
            draws=draws,
            seed=seed,
        )
        t = res.tidy()
        t.insert(0, "outcome", y)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def analyze_study(
    tables: Mapping[str, pd.DataFrame], *, seed: int = 0, plan: AnalysisPlan | None = None
) -> dict[str, pd.DataFrame]:
    """Run the analysis plan on the processed tables.

    Returns
    -------
    dict of DataFrame
        ``design`` (villages by region and province), ``funnel`` (eligibility funnel), ``pairs``
        (matching result on the frame, with ``surveyed`` = the pair is the one in the fieldwork), ``reserves``,
        ``unmatched``, ``balance`` (before/after matching), ``balance_tests`` (iebaltab-style within-pair
        differences), ``balance_overall`` (joint F and within-pair permutation test), ``sample_sizes``,
        ``weights_summary``, ``did_preliminary`` (the headline outcomes at endline, as first reported),
        the impact tables ``impact_*`` of :func:`welfare_eval.did.study.analyze_impact` (effects by outcome and
        wave with every inference method and multiple-testing adjustment, leave-one-pair-out, doubly robust
        DiD, event study with pre-trend tests and sensitivity); the weighted descriptive tables ``survey_*`` of
        :func:`welfare_eval.survey.study.weighted_tables` (weights audit, receipt by welfare type, outcomes,
        change between waves, design effects); with committee ratings also the success-factor tables
        ``factors_*`` of :func:`welfare_eval.factors.study.analyze_factors` (reliability, village scores, ICC,
        EFA, success measures, associations, all-subsets, dominance, moderation, QCA).
    """
    from welfare_eval.match import match_villages, permutation_balance_test

    plan = plan or AnalysisPlan()
    _require(tables, "frame", "villages", "households")
    frame, villages, households = tables["frame"], tables["villages"], tables["households"]

    out: dict[str, pd.DataFrame] = {}
    out["design"] = design_table(villages)
    out["funnel"] = eligibility_funnel(frame, villages)

    m = match_villages(
        frame, treat="pilot", covariates=list(plan.match_covariates), exact="region", method="mahalanobis", seed=seed
    )
    pairs = m.pairs.copy()
    fieldwork = villages.pivot_table(index="pair_id", columns="arm", values="village_id", aggfunc="first")
    surveyed = set(zip(fieldwork.get("pilot", pd.Series(dtype=str)), fieldwork.get("comparison", pd.Series(dtype=str)),
                       strict=True))
    pairs["surveyed"] = [(t, c) in surveyed for t, c in zip(pairs["treated_id"], pairs["control_id"], strict=True)]
    out["pairs"] = pairs
    out["reserves"] = m.reserves.copy()
    out["unmatched"] = m.unmatched.copy()
    out["balance"] = m.balance().tidy()
    bt = m.balance_tests()  # iebaltab-style: within-pair differences, pair fixed effects
    out["balance_tests"] = bt.tidy()
    perm = permutation_balance_test(
        m.matched_data(), treat="pilot", covariates=list(plan.match_covariates), strata="pair_id", seed=seed
    )
    out["balance_overall"] = pd.DataFrame(
        [
            {"test": "joint_f", "statistic": float(bt.joint["F"]), "df_num": float(bt.joint["df_num"]),
             "df_den": float(bt.joint["df_den"]), "p_value": float(bt.joint["p_value"]), "n_perm": 0},
            {"test": "permutation", "statistic": float(perm["statistic"]), "df_num": np.nan, "df_den": np.nan,
             "p_value": float(perm["p_value"]), "n_perm": int(perm["n_perm"])},
        ]
    )

    out["sample_sizes"] = sample_sizes(households)
    hh = household_weights(households, villages)
    resp = hh[hh["interviewed"] == 1]
    resp = resp.assign(wave=pd.Categorical(resp["wave"], categories=list(ref.WAVES), ordered=True))
    g = resp.groupby(["wave", "arm"], sort=True, observed=True)
    out["weights_summary"] = pd.DataFrame(
        {
            "n": g.size(),
            "sum_weights": g["w_final"].sum(),
            "min": g["w_final"].min(),
            "max": g["w_final"].max(),
            "kish_deff": g["w_final"].apply(lambda w: float(len(w) * (w**2).sum() / w.sum() ** 2)),
        }
    ).reset_index()
    out["weights_summary"]["wave"] = out["weights_summary"]["wave"].astype(str)
    out["did_preliminary"] = preliminary_did(
        hh, outcomes=plan.outcomes, waves=plan.waves, inference=plan.inference, draws=plan.draws, seed=seed
    )
    from welfare_eval.did.study import analyze_impact

    out.update(analyze_impact(tables, households=hh, seed=seed))  # impact_* tables
    if "benefits" in tables:
        from welfare_eval.survey.study import weighted_tables

        out.update(weighted_tables(households, tables["benefits"], villages=villages))
    if "committee" in tables:
        from welfare_eval.factors.study import analyze_factors

        out.update(analyze_factors(tables, seed=seed))
    return out
