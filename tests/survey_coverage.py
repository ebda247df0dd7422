"""Coverage simulation of the study's weighted means on the demo's finite population (used by the tests).

The villages of the demo and all their households stay fixed (:func:`census_population`); each repetition
draws new household samples with the simulator's procedure, computes the study's weights and the means by
arm × wave and the change baseline → endline, and checks whether the confidence intervals cover the
finite-population values. Moved here from the study layer: it needs the simulator, which the library and
the study layer never import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.study.descriptives import changes
from welfare_eval.study.weights import PREPARED_FLAG as FLAG
from welfare_eval.study.weights import Inference, domain_means, household_design

_WAVES = tuple(ref.WAVES)


def census_population(seed: int = 2568) -> pd.DataFrame:
    """Every household of the demo study's 36 villages in every wave (the simulator's finite population).

    The simulator draws the population of each study village (outcomes of every household and wave)
    before it samples; the household samples use other random streams. Simulating the fieldwork with a
    sample size above every village's size, no attrition and no nonresponse therefore returns the
    complete population that the demo study (:func:`welfare_eval.simulate.simulate_study` with the same
    seed and default configurations) samples from.
    """
    from welfare_eval.simulate import FieldworkConfig
    from welfare_eval.simulate.fieldwork import simulate_fieldwork
    from welfare_eval.simulate.frame import simulate_frame
    from welfare_eval.simulate.study import default_choose

    fr = simulate_frame(seed=seed)
    st = default_choose(fr, seed)
    big = int(fr["n_households"].max()) + 1
    fw = simulate_fieldwork(fr, st, seed=seed, config=FieldworkConfig(n_per_village=big, attrition=0.0, nonresponse=0.0))
    pop = fw.households.copy()
    pop["wave"] = pop["wave"].astype(str)
    if (pop["n_sampled"] != pop["n_population"]).any():  # pragma: no cover - guards the construction
        raise AssertionError("census_population: not every household was enumerated")
    return pop.reset_index(drop=True)


class _Census:
    """The census in arrays: rows sorted by village, wave, household line (fast repeated sampling)."""

    def __init__(self, pop: pd.DataFrame, outcomes: Sequence[str]) -> None:
        wave_rank = {w: i for i, w in enumerate(_WAVES)}
        p = pop.assign(_w=pop["wave"].map(wave_rank)).sort_values(["village_id", "_w", "hh_line"], kind="mergesort")
        self.villages = p.drop_duplicates("village_id")[["village_id", "arm", "pair_id", "n_population"]].reset_index(drop=True)
        self.N = self.villages["n_population"].to_numpy(dtype=int)
        # offset of village j, wave t: start_j * 3 + t * N_j (each village has its N households per wave)
        self.start = np.concatenate([[0], np.cumsum(self.N)[:-1]]) * len(_WAVES)
        self.hh_id = p["hh_id"].astype(str).to_numpy()
        self.Y = {y: p[y].to_numpy(dtype=float) for y in outcomes}
        if len(p) != self.N.sum() * len(_WAVES):  # pragma: no cover - guards the construction
            raise ValueError("census: every village needs all of its households in every wave")


def _draw_sample(
    census: _Census,
    rng: np.random.Generator,
    *,
    n: int,
    attrition: float,
    nonresponse: float,
) -> pd.DataFrame:
    """One repetition of the study's household samples from the census (simulator's sampling procedure)."""
    from welfare_eval.simulate.fieldwork import sample_village

    idx, vj, wt, stat, nsz = [], [], [], [], []
    for j, N in enumerate(census.N):
        n_j = min(n, int(N))
        for t, (lines, _panel, status) in enumerate(
            sample_village(rng, rng, int(N), n_j, attrition=attrition, nonresponse=nonresponse, waves=len(_WAVES))
        ):
            idx.append(census.start[j] + t * N + lines)
            vj.append(np.full(lines.size, j))
            wt.append(np.full(lines.size, t))
            stat.append(status)
            nsz.append(np.full(lines.size, n_j))
    ii, jj = np.concatenate(idx), np.concatenate(vj)
    ok = np.concatenate(stat) == "interviewed"
    v = census.villages
    out = pd.DataFrame(
        {
            "hh_id": census.hh_id[ii],
            "village_id": v["village_id"].to_numpy()[jj],
            "pair_id": v["pair_id"].to_numpy()[jj],
            "arm": v["arm"].to_numpy()[jj],
            "wave": np.asarray(_WAVES, dtype=object)[np.concatenate(wt)],
            "interviewed": ok.astype(int),
            "n_population": census.N[jj],
            "n_sampled": np.concatenate(nsz),
        }
    )
    for y, arr in census.Y.items():
        out[y] = np.where(ok, arr[ii], np.nan)
    # prepared as prepare_households() would (the construction guarantees its checks)
    out["n_population"] = out["n_population"].astype(float)
    out["n_sampled"] = out["n_sampled"].astype(float)
    out["w_base"] = out["n_population"] / out["n_sampled"]
    out["_class"] = out["village_id"] + "|" + out["wave"]
    out["_frac"] = out["n_sampled"] / out["n_population"]
    out.attrs[FLAG] = True
    return out


def coverage_simulation(
    population: pd.DataFrame,
    *,
    reps: int = 200,
    seed: int = 1,
    outcomes: Sequence[str] = ("any_welfare", "savings", "qol_index"),
    inference: Inference = "finite",
    n: int = 30,
    attrition: float = 0.10,
    nonresponse: float = 0.05,
    level: float = 0.95,
    change_reps: int | None = None,
) -> pd.DataFrame:
    """Coverage of the weighted means' confidence intervals over repeated household samples.

    The villages and their households (``population``, e.g. :func:`census_population`) stay fixed; each
    repetition draws new household samples with the simulator's procedure (SRS per wave with attrition
    and replacement, random nonresponse), computes the weights and the means by arm × wave, and the
    change baseline → endline by arm, and checks whether each interval covers the finite-population
    value (the mean over all households of the arm's villages). The change is checked in the first
    ``change_reps`` repetitions only (default all; it costs twice a repetition of the means).

    Returns
    -------
    DataFrame
        One row per estimand (``statistic`` mean/change, ``outcome``, ``arm``, ``wave``): ``true``,
        ``mean_estimate``, ``bias``, ``empirical_se`` (SD over repetitions), ``mean_se``, ``coverage``,
        ``reps``.
    """
    from welfare_eval._progress import progress

    pop = population.copy()
    pop["wave"] = pop["wave"].astype(str)
    outcomes = list(outcomes)
    truth_m = pop.groupby(["arm", "wave"])[outcomes].mean()
    rows: list[pd.DataFrame] = []
    n_change = reps if change_reps is None else min(change_reps, reps)
    rng = np.random.default_rng(seed)
    census = _Census(pop, outcomes)
    for r in progress(range(reps), desc="coverage", total=reps):
        smp = _draw_sample(census, rng, n=n, attrition=attrition, nonresponse=nonresponse)
        d = household_design(smp, inference=inference)
        t = domain_means(d, outcomes, ["arm", "wave"], level)
        t["statistic"], t["rep"] = "mean", r
        rows.append(t)
        if r < n_change:
            t = changes(smp, outcomes, inference=inference, level=level)
            t["statistic"], t["rep"], t["wave"] = "change", r, "endline-baseline"
            rows.append(t.drop(columns=["from", "to"]))
    res = pd.concat(rows, ignore_index=True)
    tm: dict[tuple[Any, ...], float] = {
        (a, w, y): float(truth_m.loc[(a, w), y]) for (a, w) in truth_m.index for y in outcomes
    }
    true = []
    for st, y, arm, wv in res[["statistic", "outcome", "arm", "wave"]].itertuples(index=False):
        if st == "mean":
            true.append(tm[(arm, wv, y)])
        else:
            true.append(tm[(arm, "endline", y)] - tm[(arm, "baseline", y)])
    res["true"] = true
    res["covered"] = (res["ci_low"] <= res["true"]) & (res["true"] <= res["ci_high"])
    g = res.groupby(["statistic", "outcome", "arm", "wave"], sort=False)
    out = pd.DataFrame(
        {
            "true": g["true"].first(),
            "mean_estimate": g["estimate"].mean(),
            "empirical_se": g["estimate"].std(ddof=1),
            "mean_se": g["std_error"].mean(),
            "coverage": g["covered"].mean(),
            "reps": g.size(),
        }
    ).reset_index()
    out["bias"] = out["mean_estimate"] - out["true"]
    out.insert(0, "inference", inference)
    return out
