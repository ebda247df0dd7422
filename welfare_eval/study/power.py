"""Study step: power and minimum detectable effects (tables ``power_*``).

What could the 18-pair pilot detect, and how many villages and households does the expansion need? For each
outcome ``y`` of the plan's ``power`` section (default: the impact's headline outcomes) and each follow-up wave
``w`` (default: the impact's waves), on the same data as the impact step's two-period regression (interviewed
households of the baseline and wave ``w`` with their final weights, rows with ``y`` missing dropped):

1. :func:`welfare_eval.power.design_parameters` estimates the design parameters from the study's own data
   (ICC at baseline with its F interval; pair share of the villages' changes, correlations of village and
   household effects over the two waves, attrition, CV of the villages' summed weights and the Kish design
   effect within villages, with percentile intervals from a bootstrap of pairs) → ``power_parameters``;
2. :func:`welfare_eval.power.mde` gives the MDE at the target power for the pilot as run (its pairs, its mean
   interviewed households per village at baseline, two waves), in standard deviations of ``y`` at baseline and
   in ``y``'s units, beside the standard error the impact step actually obtained (CR2), which checks the
   variance model on the study's own data → ``power_mde``;
3. :func:`welfare_eval.power.planning_table` gives the MDE over pairs of villages × households per village with
   the parameters of the planning wave → ``power_planning``;
4. :func:`welfare_eval.power.simulate_power` (when ``power.simulation.enabled``) draws data from the fitted
   parameters with the pilot's pairs and households and analyses each data set with
   :func:`welfare_eval.did.estimate` and every inference method, at effect 0 (size) and at the analytic MDE:
   rejection rates with their Monte Carlo standard errors beside the analytic power, and a note where they
   depart by more than 3 Monte Carlo standard errors → ``power_simulation``.

No power is computed from the observed effects ("post-hoc power" is a function of the p-value and says nothing
new; Hoenig & Heisey 2001). The step reads and writes no files and holds no statistics of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval import power as pw
from welfare_eval.study.impact import WEIGHTS
from welfare_eval.study.plan import AnalysisPlan

__all__ = ["DESIGN", "RESULT_KEYS", "analyze_power", "power_data", "with_impact_se"]

#: Keys of the dict returned by :func:`analyze_power`.
RESULT_KEYS: tuple[str, ...] = ("power_parameters", "power_mde", "power_planning", "power_simulation")
#: The analytic design of the impact step's regression (village and pair × wave fixed effects, clustered by pair).
DESIGN = "matched_pair_did"
#: Departure (in Monte Carlo standard errors) from the analytic power that the simulation table notes.
DEPARTURE_Z = 3.0
#: Design keywords of :func:`welfare_eval.power.mde` reported with each MDE, and the parameter term they come from.
KEYWORDS: dict[str, str] = {
    "icc": "icc",
    "pair_correlation": "pair_correlation_change",
    "autocorr_cluster": "autocorr_cluster",
    "autocorr_individual": "autocorr_individual",
    "attrition": "attrition",
    "cv_cluster_size": "cv_cluster_weight",
    "deff_weights": "deff_weights",
}

PARAMETER_COLUMNS = ["outcome", "wave", "term", "estimate", "ci_low", "ci_high", "method", "used_as", "value_used",
                     "n_obs", "n_clusters", "description"]
MDE_COLUMNS = ["outcome", "wave", "scale", "term", "estimate", "std_error", "df", "multiplier", "sd",
               "mde_outcome_units", "std_error_outcome_units", "std_error_impact_cr2", "se_ratio", "pairs",
               "n_clusters", "per_cluster", "n_obs", "power", "alpha", "two_sided", "method", *KEYWORDS, "note"]
PLANNING_COLUMNS = ["outcome", "wave", "scale", "pairs", "n_clusters", "per_cluster", "n_obs", "mde",
                    "mde_outcome_units", "std_error", "df", "sd", "power", "alpha", "two_sided"]
SIMULATION_COLUMNS = ["outcome", "wave", "scale", "effect_type", "effect", "effect_outcome_units", "method", "power",
                      "mc_std_error", "n_sims", "rejections", "analytic_power", "z_departure", "mean_estimate",
                      "empirical_std_error", "analytic_std_error", "band", "departs", "pairs", "per_cluster",
                      "cv_cluster_size", "draws", "alpha", "note", "note_th"]


def _is_binary(s: pd.Series) -> bool:
    v = s.dropna().unique()
    return bool(len(v) > 0 and np.isin(v, (0.0, 1.0)).all())


def power_data(sample: pd.DataFrame, outcome: str, wave: str, *, baseline: str = "baseline") -> pd.DataFrame:
    """The impact step's two-period data for ``outcome`` at ``wave``: interviewed households of the baseline and
    ``wave`` (``sample`` from :func:`welfare_eval.study.impact.impact_sample`), rows with the outcome missing
    dropped. The rows :func:`welfare_eval.power.design_parameters` estimates from."""
    for col in (outcome, "wave", "village_id", "pair_id", "hh_id", WEIGHTS):
        if col not in sample.columns:
            raise ValueError(f"power: the household sample has no column {col!r} (pass the impact sample of the run)")
    d = sample[sample["wave"].astype(str).isin([baseline, wave])].dropna(subset=[outcome])
    for w in (baseline, wave):
        if not (d["wave"].astype(str) == w).any():
            raise ValueError(f"power: no interviewed household has {outcome!r} at the {w} wave")
    return d


def _parameters(d: pd.DataFrame, outcome: str, wave: str, plan: AnalysisPlan) -> pw.DesignParameters:
    p = plan.power
    try:
        return pw.design_parameters(d, outcome=outcome, cluster="village_id", pair="pair_id", unit="hh_id",
                                    wave="wave", baseline=plan.impact.baseline, followup=wave, weights=WEIGHTS,
                                    level=p.level, draws=p.draws, seed=plan.seed)
    except ValueError as exc:
        raise ValueError(f"power: outcome {outcome!r}, wave {wave!r}: {exc}") from None


def _pilot_size(d: pd.DataFrame, params: pw.DesignParameters) -> tuple[int, int]:
    """(pairs, households per village) of the pilot as run: its pairs and the mean interviewed households per
    village at baseline, rounded."""
    return int(d["pair_id"].nunique()), max(1, round(params["mean_cluster_size"]))


def _notes(params: pw.DesignParameters, keywords: dict[str, Any]) -> str:
    out = []
    for kw, term in KEYWORDS.items():
        if kw in keywords or kw == "deff_weights":
            continue
        if term in params.values and not math.isfinite(params.values[term]):
            out.append(f"{term} not estimable: {kw} = 0 assumed")
        elif term not in params.values:
            out.append(f"{term} not estimated: {kw} = 0 assumed")
    for k in ("icc", "autocorr_cluster", "autocorr_individual", "pair_correlation_change"):
        v = params.values.get(k, math.nan)
        kw = "pair_correlation" if k == "pair_correlation_change" else k
        used = keywords.get(kw)
        if used is not None and math.isfinite(v) and abs(used - v) > 1e-12:
            out.append(f"{k} = {v:.3f} outside its range: {kw} = {used:g} used")
    return "; ".join(out)


def _scale(d: pd.DataFrame, y: str) -> str:
    return "proportion" if _is_binary(d[y]) else "level"


def _impact_se(impact_effects: pd.DataFrame | None, outcome: str, wave: str) -> float:
    if impact_effects is None or impact_effects.empty:
        return math.nan
    e = impact_effects
    hit = e[(e["outcome"] == outcome) & (e["wave"] == wave) & (e["method"] == "cr2")]
    return float(hit["std_error"].iloc[0]) if len(hit) else math.nan


def _design_kw(plan: AnalysisPlan) -> dict[str, Any]:
    p = plan.power
    return {"design": DESIGN, "waves": 2, "alpha": p.alpha, "two_sided": p.two_sided}


def analyze_power(
    sample: pd.DataFrame,
    plan: AnalysisPlan,
    *,
    impact_effects: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Power and MDE tables of the plan's ``power`` section.

    Parameters
    ----------
    sample : DataFrame
        The run's household sample (:func:`welfare_eval.study.impact.impact_sample` of the weighted households:
        interviewed households × wave with ``w_final``); weights are not recomputed here.
    plan : AnalysisPlan
        ``plan.power`` (outcomes, waves, target power, alpha, sidedness, bootstrap draws, planning grid,
        simulation), ``plan.impact.baseline`` and ``plan.seed`` (bootstrap and simulation seed).
    impact_effects : DataFrame, optional
        The impact step's ``impact_effects`` table: its CR2 standard errors are reported beside the analytic
        ones (``std_error_impact_cr2``, ``se_ratio``).

    Returns
    -------
    dict of DataFrame
        ``power_parameters`` (outcome × wave × parameter: estimate, interval, the value the MDE uses),
        ``power_mde`` (outcome × wave: MDE in SD and outcome units, SE, df, the parameters used),
        ``power_planning`` (outcome × pairs × households at the planning wave), ``power_simulation``
        (outcome × effect × method: simulated and analytic power, Monte Carlo SE, note; empty when the
        simulation is disabled).

    Raises
    ------
    ValueError
        A listed outcome is not a column of ``sample``, or a wave has no household with the outcome.
    """
    pp = plan.power
    imp = plan.impact
    if pp.outcomes is not None:
        absent = [y for y in pp.outcomes if y not in sample.columns]
        if absent:
            raise ValueError(f"power.outcomes: {absent[0]!r} is not a column of the household sample")
    # default outcomes follow the impact step's rule: plan outcomes that are columns of the sample
    outcomes = [y for y in pp.outcomes_for(imp) if y in sample.columns]
    waves = list(pp.waves_for(imp))
    plan_wave = pp.planning_wave(imp)
    sim_outcomes = [y for y in pp.simulation_outcomes(imp) if y in outcomes] if pp.simulation.enabled else []
    sim_wave = pp.simulation_wave(imp)
    kw0 = _design_kw(plan)

    par_rows: list[pd.DataFrame] = []
    mde_rows: list[dict[str, Any]] = []
    plan_rows: list[pd.DataFrame] = []
    sim_rows: list[pd.DataFrame] = []
    for y in outcomes:
        for w in waves:
            d = power_data(sample, y, w, baseline=imp.baseline)
            params = _parameters(d, y, w, plan)
            keywords: dict[str, Any] = dict(params.as_dict(DESIGN))
            pairs, per_cluster = _pilot_size(d, params)
            scale = _scale(d, y)
            sd = float(params.values.get("sd", math.nan))
            # parameters ------------------------------------------------------------------------------
            t = params.tidy()
            used_as = {term: kw for kw, term in KEYWORDS.items()}
            if "cv_cluster_weight" not in params.values:  # unweighted: the CV of sizes sets the clusters' weights
                used_as["cv_cluster_size"] = "cv_cluster_size"
            t["used_as"] = [used_as.get(term, "") for term in t["term"]]
            t["value_used"] = [keywords.get(used_as[term], math.nan) if term in used_as else math.nan
                               for term in t["term"]]
            t.insert(0, "wave", w)
            t.insert(0, "outcome", y)
            par_rows.append(t)
            # MDE of the pilot as run -----------------------------------------------------------------
            r = pw.mde(clusters=pairs, per_cluster=per_cluster, power=pp.target_power, **kw0, **keywords)
            des = r.design
            se_units = r.std_error * sd
            mde_rows.append({
                "outcome": y, "wave": w, "scale": scale, "term": "mde", "estimate": r.estimate,
                "std_error": r.std_error, "df": r.df, "multiplier": r.multiplier, "sd": sd,
                "mde_outcome_units": r.estimate * sd, "std_error_outcome_units": se_units,
                "std_error_impact_cr2": math.nan, "se_ratio": math.nan,  # with_impact_se below
                "pairs": pairs, "n_clusters": int(d["village_id"].nunique()), "per_cluster": per_cluster,
                "n_obs": len(d), "power": pp.target_power, "alpha": pp.alpha, "two_sided": pp.two_sided,
                "method": r.method, **{k: float(getattr(des, k)) for k in KEYWORDS},
                "note": _notes(params, keywords),
            })
            # planning table of the expansion ---------------------------------------------------------------
            if w == plan_wave:
                g = pw.planning_table(clusters=list(pp.planning.pairs), per_cluster=list(pp.planning.households),
                                      power=pp.target_power, **kw0, **keywords).tidy()
                g = g.rename(columns={"clusters": "pairs"})
                g["n_clusters"] = g["n_clusters"].round().astype(int)
                g["n_obs"] = g["n_obs"].round().astype(int)
                g.insert(0, "scale", scale)
                g.insert(0, "wave", w)
                g.insert(0, "outcome", y)
                g["mde_outcome_units"] = g["mde"] * sd
                g["sd"] = sd
                g["power"] = pp.target_power
                g["alpha"] = pp.alpha
                g["two_sided"] = pp.two_sided
                plan_rows.append(g)
            # simulation -----------------------------------------------------------------------------------
            if y in sim_outcomes and w == sim_wave:
                sim_rows.append(_simulate(y, w, scale, sd, r, pairs=pairs, per_cluster=per_cluster,
                                          keywords=keywords, plan=plan))
    return {
        "power_parameters": _frame(par_rows, PARAMETER_COLUMNS),
        "power_mde": with_impact_se(pd.DataFrame(mde_rows, columns=MDE_COLUMNS), impact_effects),
        "power_planning": _frame(plan_rows, PLANNING_COLUMNS),
        "power_simulation": _frame(sim_rows, SIMULATION_COLUMNS),
    }


def with_impact_se(mde: pd.DataFrame, impact_effects: pd.DataFrame | None) -> pd.DataFrame:
    """``power_mde`` with the impact step's CR2 standard error of each outcome × wave (``std_error_impact_cr2``;
    NaN without ``impact_effects``) and its ratio to the analytic one in outcome units (``se_ratio``).

    :func:`analyze_power` applies it; the analysis applies it again when power ran beside the impact step.
    """
    if mde.empty:
        return mde
    out = mde.copy()
    se = [_impact_se(impact_effects, str(y), str(w)) for y, w in zip(out["outcome"], out["wave"], strict=True)]
    units = [float(u) for u in out["std_error_outcome_units"]]
    out["std_error_impact_cr2"] = se
    out["se_ratio"] = [s / u if u > 0 else math.nan for s, u in zip(se, units, strict=True)]
    return out


def _frame(parts: Sequence[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def _simulate(y: str, w: str, scale: str, sd: float, r: pw.MDEResult, *, pairs: int, per_cluster: int,
              keywords: dict[str, Any], plan: AnalysisPlan) -> pd.DataFrame:
    """Simulated power at effect 0 and at the analytic MDE, with a note where it departs from the analytic power."""
    pp, sim = plan.power, plan.power.simulation
    # the simulation's model has non-negative correlations over waves (variance shares); a negative estimate
    # is sampling noise around a small value: simulate (and compare with the analytic power) at 0
    kw: dict[str, Any] = {k: (max(0.0, v) if k.startswith("autocorr") else v) for k, v in keywords.items()}
    clipped = [k for k in keywords if kw[k] != keywords[k]]
    res = pw.simulate_power(clusters=pairs, per_cluster=per_cluster, effect=[0.0, r.estimate],
                            inference=tuple(sim.methods), n_sims=sim.n_sims, draws=sim.draws, seed=plan.seed,
                            **_design_kw(plan), **kw)
    t = res.tidy()
    t["effect_type"] = np.where(t["effect"] == 0.0, "null", "mde")
    t["effect_outcome_units"] = t["effect"] * sd
    a = t["analytic_power"].to_numpy(dtype=float)
    n = t["n_sims"].to_numpy(dtype=float)
    se0 = np.sqrt(a * (1.0 - a) / n)  # MC SE under the analytic power: defined even when 0 or all reject
    t["z_departure"] = np.where(se0 > 0, (t["power"].to_numpy(dtype=float) - a) / np.where(se0 > 0, se0, 1.0),
                                np.nan)
    t["band"] = DEPARTURE_Z * se0
    t["departs"] = np.isfinite(t["z_departure"]) & (t["z_departure"].abs() > DEPARTURE_Z)
    t["cv_cluster_size"] = res.design.cv_cluster_size
    for col, lang in (("note", "en"), ("note_th", "th")):
        t[col] = [_departure_note(row, des=res.design, draws=sim.draws, lang=lang) for _, row in t.iterrows()]
    if clipped:
        for col, lang in (("note", "en"), ("note_th", "th")):
            t[col] = t[col] + "; " + ref.label("power.note.clipped", "th" if lang == "th" else "en").format(
                names=", ".join(clipped))
    t.insert(0, "scale", scale)
    t.insert(0, "wave", w)
    t.insert(0, "outcome", y)
    t["pairs"] = pairs
    t["per_cluster"] = per_cluster
    t["draws"] = sim.draws
    t["alpha"] = pp.alpha
    return t


def _departure_note(row: pd.Series, *, des: pw.Design, draws: int, lang: str) -> str:
    """Whether the simulated rejection rate departs from the analytic value by more than DEPARTURE_Z Monte Carlo
    SEs (computed at the analytic value), and the design features that can explain a departure: few pairs for
    the wild bootstrap and randomization inference, the t approximation, unequal village sizes or weights."""
    th = lang == "th"

    def lab(key: str, **kw: Any) -> str:
        return ref.label(key, "th" if th else "en").format(**kw)

    meth = str(row["method"])
    z = float(row["z_departure"])
    if not bool(row["departs"]):
        return lab("power.note.agree", band=f"{float(row['band']):.3f}", k=f"{DEPARTURE_Z:g}")
    parts = [lab("power.note.above" if z > 0 else "power.note.below", z=f"{abs(z):.1f}")]
    pairs = int(des.clusters)
    if meth in ("wild", "ri", "ri_t"):
        if 2**pairs <= draws:
            parts.append(lab("power.note.few_pairs", pairs=pairs))
    else:
        parts.append(lab("power.note.t_exact", df=f"{des.df():g}"))
    if des.cv_cluster_size > 0:
        parts.append(lab("power.note.unequal", cv=f"{des.cv_cluster_size:.2f}"))
    return "; ".join(parts)
