"""The whole synthetic study: frame → choice of comparison villages → fieldwork → planted truths."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from welfare_eval._results import ResultBase
from welfare_eval.simulate.config import MATCH_COVARIATES, FieldworkConfig, FrameConfig
from welfare_eval.simulate.defects import plan_defects
from welfare_eval.simulate.fieldwork import Fieldwork, _cfg_dict, simulate_fieldwork
from welfare_eval.simulate.frame import pilot_selection, simulate_frame
from welfare_eval.simulate.truth import Truth

__all__ = ["MATCH_COVARIATES", "Study", "default_choose", "simulate_study"]

Chooser = Callable[[pd.DataFrame, int], pd.DataFrame]


@dataclass(frozen=True)
class Study(ResultBase):
    """A simulated study.

    Attributes
    ----------
    frame : DataFrame
        The candidate frame (:func:`simulate_frame`).
    study_villages : DataFrame
        ``village_id``, ``arm``, ``pair_id`` of the villages in the fieldwork.
    fieldwork : Fieldwork
    truth : Truth
    seed : int
    """

    frame: pd.DataFrame
    study_villages: pd.DataFrame
    fieldwork: Fieldwork
    truth: Truth
    seed: int

    title = "Simulated study"

    def tidy(self) -> pd.DataFrame:
        """The study villages with their arm, pair and household counts."""
        return self.fieldwork.villages[
            [
                "village_id",
                "village_name",
                "region",
                "province_code",
                "arm",
                "pair_id",
                "n_households",
                "n_sampled",
            ]
        ].copy()


def default_choose(
    frame: pd.DataFrame, seed: int, *, covariates: tuple[str, ...] | list[str] = MATCH_COVARIATES
) -> pd.DataFrame:
    """Nearest-neighbour Mahalanobis matching of each pilot to one eligible village of its region.

    Uses :func:`welfare_eval.match.match_villages` (``exact="region"``, ``covariates``, default
    :data:`~welfare_eval.simulate.config.MATCH_COVARIATES`). Pilots left unmatched by the matcher are left out
    of the study.
    """
    from welfare_eval.match import match_villages  # lazy: the simulator does not need it otherwise

    res = match_villages(
        frame,
        treat="pilot",
        covariates=list(covariates),
        exact="region",
        method="mahalanobis",
        seed=seed,
    )
    p = res.pairs
    out = pd.concat(
        [
            pd.DataFrame({"village_id": p["treated_id"], "arm": "pilot", "pair_id": p["pair_id"]}),
            pd.DataFrame({"village_id": p["control_id"], "arm": "comparison", "pair_id": p["pair_id"]}),
        ],
        ignore_index=True,
    )
    out["village_id"] = out["village_id"].astype("string")
    out["pair_id"] = out["pair_id"].astype(int)
    return out.sort_values(["pair_id", "arm"], ascending=[True, False], kind="mergesort").reset_index(
        drop=True
    )


def simulate_study(
    *,
    seed: int = 2568,
    frame_config: FrameConfig | None = None,
    fieldwork_config: FieldworkConfig | None = None,
    choose: Chooser | None = None,
    match_covariates: tuple[str, ...] | list[str] | None = None,
) -> Study:
    """Simulate a whole study in two steps as in real life: the frame, then the fieldwork.

    Parameters
    ----------
    seed : int
        Seed of everything (independent named streams per component).
    frame_config, fieldwork_config : optional
        Configurations (defaults documented in :mod:`welfare_eval.simulate.config`).
    choose : callable(frame, seed) -> DataFrame, optional
        Chooses the study villages (``village_id``, ``arm``, ``pair_id``); default
        :func:`default_choose` (Mahalanobis matching within region).
    match_covariates : sequence of str, optional
        Covariates of the default chooser's matching (default
        :data:`~welfare_eval.simulate.config.MATCH_COVARIATES`; the pipeline passes the analysis plan's, so
        the demo's fieldwork villages are the ones the analysis's matching chooses).

    Returns
    -------
    Study
    """
    fcfg = frame_config or FrameConfig()
    wcfg = fieldwork_config or FieldworkConfig()
    frame = simulate_frame(seed=seed, config=fcfg)
    if choose is None:
        covs = tuple(match_covariates) if match_covariates is not None else MATCH_COVARIATES
        study = default_choose(frame, seed, covariates=covs)
    else:
        study = choose(frame, seed)
    fw = simulate_fieldwork(frame, study, seed=seed, config=wcfg)
    sel = pilot_selection(frame, config=fcfg)
    sel = sel[sel["eligible"] == 1].merge(frame[["village_id", "pilot"]], on="village_id", how="left")
    sel = sel.drop(columns="eligible").reset_index(drop=True)
    defects = plan_defects(fw, seed=seed, config=wcfg.defects)
    truth = dataclasses.replace(
        fw.truth,
        selection={
            "model": "P(pilot = v | region g) = exp(score_v) / sum over eligible u in g of exp(score_u); "
            "score_v = sum_k coef_k * z_vk, z standardised over the eligible villages of the frame",
            "coefficients": {k: float(v) for k, v in fcfg.selection.items()},
            "n_candidates": len(frame),
            "n_eligible": int(frame["eligible"].sum()),
        },
        pilot_probabilities=sel,
        defects=defects,
        config={"frame": _cfg_dict(fcfg), **fw.truth.config},
    )
    fw = dataclasses.replace(fw, truth=truth)
    return Study(frame=frame, study_villages=study, fieldwork=fw, truth=truth, seed=seed)
