"""Study step: the impact analysis (matched-pair DiD tables ``impact_*`` and the preliminary table).

:func:`analyze_impact` takes the household sample (interviewed households with their final weights and
``received_<type>`` columns, :func:`impact_sample`), the processed ``villages`` and ``admin`` tables and the
:class:`~welfare_eval.study.plan.AnalysisPlan`, and returns DataFrames keyed ``impact_*``. It reads and writes
no files and never looks at the demo's planted truth; every statistic comes from :mod:`welfare_eval.did`
(:func:`~welfare_eval.did.estimate`, :func:`~welfare_eval.did.dr_did`, :func:`~welfare_eval.did.event_study`,
:func:`~welfare_eval.did.adjust_pvalues`, :func:`~welfare_eval.did.romano_wolf`). What this module adds is the
plan: outcomes and families, samples, weights, draws and the pilot's start year.

Specification of the household effects (one regression per outcome and follow-up wave ``w``, on the
interviewed households of the baseline and wave ``w``, weighted by the final survey weights)::

    y_ivt = δ_w D_vt + α_v + λ_{p(v),t} + ε_ivt,    D_vt = treated_v · 1[t = w]

with village fixed effects α_v, pair × wave fixed effects λ, clustering by the 18 pairs. Each follow-up
wave is compared with the baseline in its own two-period regression, so every effect is a classic
matched-pair DiD with all inference methods, including randomization inference with a CI by inversion
(in a joint three-wave regression RI could only test the joint sharp null).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval._progress import progress
from welfare_eval.did import DiDResult, adjust_pvalues, dr_did, estimate, event_study, romano_wolf
from welfare_eval.study.plan import AnalysisPlan, ImpactPlan
from welfare_eval.study.sample import RECEIVED_PREFIX, numeric_outcomes, require_tables

__all__ = [
    "RESULT_KEYS",
    "analyze_impact",
    "impact_sample",
    "outcome_families",
    "pilot_start_year",
    "preliminary_did",
]

#: Keys of the dict returned by :func:`analyze_impact`.
RESULT_KEYS: tuple[str, ...] = (
    "impact_effects",
    "impact_influence",
    "impact_dr",
    "impact_event",
    "impact_event_tests",
    "impact_sensitivity",
)
EVENT_COLUMNS = ["outcome", "term", "rel_time", "method", "estimate", "std_error", "df", "statistic", "p_value",
                 "ci_low", "ci_high", "n_obs", "n_clusters", "draws", "leads", "lags", "binned", "start_year"]
TEST_COLUMNS = ["outcome", "test", "statistic", "df_num", "df_denom", "p_value", "power", "slope", "term", "value"]
SENS_COLUMNS = ["outcome", "term", "restriction", "bound", "bound_rel_se", "estimate", "ci_low", "ci_high", "id_low",
                "id_high", "max_bias", "breakdown", "leads", "includes_zero"]
WEIGHTS = "w_final"


# --------------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------------
def impact_sample(households: pd.DataFrame, outcomes: Sequence[str] = ()) -> pd.DataFrame:
    """Interviewed households × wave with final weights; ``outcomes`` and ``received_*`` columns as float.

    ``households`` is the weighted household frame of the run (weights step, with ``w_final``; receipt
    columns from :func:`welfare_eval.study.sample.receipt_wide`).
    """
    if WEIGHTS not in households.columns:
        raise ValueError(
            f"households: no weight column {WEIGHTS!r}; pass the households of the weights step "
            "(welfare_eval.study.weights.weights_pipeline)"
        )
    hh = households[households["interviewed"].astype(int) == 1].copy()
    hh["wave"] = hh["wave"].astype(str)
    if (hh[WEIGHTS] <= 0).any() or hh[WEIGHTS].isna().any():
        bad = hh.loc[(hh[WEIGHTS] <= 0) | hh[WEIGHTS].isna(), "hh_id"].iloc[0]
        raise ValueError(f"households: interviewed household {bad} has a missing or non-positive {WEIGHTS!r}")
    rec = [c for c in hh.columns if str(c).startswith(RECEIVED_PREFIX)]
    hh = numeric_outcomes(hh, [*outcomes, *rec])
    hh["treated"] = hh["treated"].astype(int)
    return hh.reset_index(drop=True)


def outcome_families(sample: pd.DataFrame, plan: ImpactPlan) -> dict[str, list[str]]:
    """Outcome families of the multiple-testing adjustments: ``primary``, ``secondary``, ``welfare_types``.

    ``primary``: the plan's headline outcomes; ``secondary``: its other outcomes; ``welfare_types``: receipt
    of each welfare type (``received_<code>``) when ``plan.welfare_types``. Outcomes that are not columns of
    ``sample`` are left out; empty families are left out.
    """
    ys = [c for c in plan.outcomes if c in sample.columns]
    recs = [c for c in sample.columns if str(c).startswith(RECEIVED_PREFIX)] if plan.welfare_types else []
    fam = {
        "primary": [y for y in ys if y in plan.headline],
        "secondary": [y for y in ys if y not in plan.headline],
        "welfare_types": recs,
    }
    return {k: v for k, v in fam.items() if v}


def pilot_start_year(tables: Mapping[str, pd.DataFrame], *, start_year: int | None = None) -> pd.Series:
    """First post year (CE) of each pilot village, indexed by ``village_id``.

    In order of precedence: the ``start_year`` argument (all pilots); a ``start_year`` column of the
    ``villages`` table (one per pilot); else the calendar year of the baseline household survey. The
    baseline is fielded before the pilot's activities begin, in the pilot's first year, and the
    savings groups keep calendar-year accounts, so the first accounting year touched by the pilot is the
    year the baseline fieldwork ended (the latest baseline interview year; ``year`` column, else the
    interview date). If a baseline was fielded in the year *before* the pilot started, pass
    ``start_year`` explicitly.
    """
    require_tables(tables, "villages", step="impact")
    v = tables["villages"]
    pilots = v.loc[v["treated"].astype(int) == 1, "village_id"].astype(str)
    if start_year is not None:
        return pd.Series(int(start_year), index=pd.Index(pilots, name="village_id"), name="start_year")
    if "start_year" in v.columns:
        s = pd.to_numeric(v.set_index(v["village_id"].astype(str))["start_year"], errors="coerce").reindex(pilots)
        if s.isna().any():
            raise ValueError(f"villages.start_year is missing for pilot village(s) {list(s.index[s.isna()][:5])}")
        return s.astype(int).rename("start_year")
    require_tables(tables, "households", step="impact")
    hh = tables["households"]
    base = hh[(hh["wave"].astype(str) == "baseline") & (hh["interviewed"] == 1)]
    if base.empty:
        raise ValueError("no interviewed baseline households to date the pilot's start; pass start_year=")
    if "year" in base.columns and base["year"].notna().any():
        yr = int(pd.to_numeric(base["year"], errors="coerce").max())
    elif "interview_time" in base.columns and base["interview_time"].notna().any():
        yr = int(pd.to_datetime(base["interview_time"]).dt.year.max())
    else:
        raise ValueError("households has neither `year` nor `interview_time` for the baseline; pass start_year=")
    return pd.Series(yr, index=pd.Index(pilots, name="village_id"), name="start_year")


# --------------------------------------------------------------------------------------------------
# Household effects
# --------------------------------------------------------------------------------------------------
def _two_wave(sample: pd.DataFrame, wave: str, baseline: str = "baseline") -> pd.DataFrame:
    d = sample[sample["wave"].isin([baseline, wave])].copy()
    d["post"] = (d["wave"] == wave).astype(int)
    return d


def _is_binary(s: pd.Series) -> bool:
    v = s.dropna().unique()
    return bool(len(v) > 0 and np.isin(v, (0.0, 1.0)).all())


def _comparison_means(d: pd.DataFrame, y: str) -> tuple[float, float]:
    """Weighted mean of ``y`` among comparison households at baseline and at the follow-up wave."""
    out = []
    for post in (0, 1):
        s = d[(d["treated"] == 0) & (d["post"] == post)].dropna(subset=[y])
        out.append(float(np.average(s[y], weights=s[WEIGHTS])) if len(s) else np.nan)
    return out[0], out[1]


#: Household effect fits of one run, keyed (outcome, wave, baseline, methods, draws, seed): the preliminary
#: table's fits are the impact table's (same specification and draws), fitted once.
Fits = dict[tuple[str, str, str, tuple[str, ...], int, int], DiDResult]


def _fit(d: pd.DataFrame, y: str, wave: str, baseline: str, methods: Sequence[str], draws: int, seed: int,
         fits: Fits | None) -> tuple[pd.DataFrame, DiDResult]:
    """Complete cases of ``y`` in the two-wave frame ``d`` and the household DiD of ``y`` (from ``fits`` when it
    was fitted before in this run)."""
    dy = d.dropna(subset=[y])
    key = (y, wave, baseline, tuple(methods), int(draws), int(seed))
    if fits is not None and key in fits:
        return dy, fits[key]
    r = estimate(dy, outcome=y, treated="treated", post="post", unit="village_id", pair="pair_id",
                 weights=WEIGHTS, inference=tuple(methods), draws=draws, seed=seed)
    if fits is not None:
        fits[key] = r
    return dy, r


def _effects(
    sample: pd.DataFrame, ys: Sequence[str], wave: str, *, draws: int, seed: int,
    methods: Sequence[str] = ("cr1", "cr2", "wild", "ri"), baseline: str = "baseline", fits: Fits | None = None,
) -> tuple[pd.DataFrame, dict[str, DiDResult]]:
    """One family at one follow-up wave: each outcome on its own complete cases (e.g. ``coped``: households
    with a health shock), then the family's adjusted p-values."""
    d = _two_wave(sample, wave, baseline)
    results: dict[str, DiDResult] = {}
    tabs = []
    for y in ys:
        dy, r = _fit(d, y, wave, baseline, methods, draws, seed, fits)
        results[y] = r
        t = r.tidy()
        t.insert(0, "outcome", y)
        b0, b1 = _comparison_means(dy, y)
        t["mean_comparison_baseline"] = b0
        t["mean_comparison_wave"] = b1
        t["scale"] = "proportion" if _is_binary(dy[y]) else "level"
        tabs.append(t)
    return _adjust_family(pd.concat(tabs, ignore_index=True), results), results


def _adjust_family(tab: pd.DataFrame, results: Mapping[str, DiDResult]) -> pd.DataFrame:
    """Holm and BH within each method; Romano–Wolf over the joint draws (``wild``, ``ri_t``).

    This is :func:`~welfare_eval.did.many_outcomes`'s computation, applied here because the
    outcomes have different complete-case samples (``many_outcomes`` takes one data set). The draws
    depend only on the number of pairs, ``draws`` and the seed, so all outcomes share them.
    """
    tab = tab.copy()
    for col in ("p_holm", "p_bh", "p_romano_wolf"):
        tab[col] = np.nan
    for method in dict.fromkeys(tab["method"]):
        rows = np.flatnonzero((tab["method"] == method).to_numpy())
        pv = tab["p_value"].to_numpy(dtype=float)[rows]
        tab.loc[rows, "p_holm"] = adjust_pvalues(pv, "holm")
        tab.loc[rows, "p_bh"] = adjust_pvalues(pv, "bh")
        if method in ("wild", "ri_t"):
            kind = "wild" if method == "wild" else "ri"
            t_obs, t_star = [], []
            for y in tab["outcome"].to_numpy()[rows]:
                r = results[str(y)]
                star, obs = r.draws[("D", kind)].stats(r.null, studentized=True)
                t_obs.append(obs)
                t_star.append(star)
            if len({s.size for s in t_star}) == 1:
                tab.loc[rows, "p_romano_wolf"] = romano_wolf(
                    t_obs, np.column_stack(t_star), ties="half" if kind == "wild" else "full"
                )
    return tab


# --------------------------------------------------------------------------------------------------
# Robustness: leave one pair out, doubly robust DiD
# --------------------------------------------------------------------------------------------------
def _influence(results: Mapping[tuple[str, str], Any], headline: Sequence[str]) -> pd.DataFrame:
    rows = []
    for (y, wave), r in results.items():
        if y not in headline:
            continue
        inf = r.influence()
        inf = inf[inf["term"] == "D"]
        est = float(r.coef["D"])
        for _, row in inf.iterrows():
            rows.append({"outcome": y, "wave": wave, "pair_id": int(row["cluster"]), "estimate": est,
                         "estimate_without": float(row["estimate_without"]), "change": float(row["change"])})
    cols = ["outcome", "wave", "pair_id", "estimate", "estimate_without", "change"]
    return pd.DataFrame(rows, columns=cols)


def _village_covariates(villages: pd.DataFrame, covariates: Sequence[str]) -> pd.DataFrame:
    """Village covariates, standardized over the study villages (the DR-DiD estimate is invariant to
    affine transformations of the covariates; standardizing only helps the logit's numerics)."""
    miss = [c for c in covariates if c not in villages.columns]
    if miss:
        raise ValueError(f"villages table has no matching covariate(s) {miss}")
    v = villages[["village_id", *covariates]].copy()
    v["village_id"] = v["village_id"].astype(str)
    for c in covariates:
        x = pd.to_numeric(v[c], errors="coerce").astype(float)
        if x.isna().any():
            raise ValueError(f"villages.{c} is missing for village(s) {list(v.loc[x.isna(), 'village_id'][:5])}")
        sd = float(x.std(ddof=0))
        v[f"z_{c}"] = (x - x.mean()) / (sd if sd > 0 else 1.0)
    return v[["village_id", *[f"z_{c}" for c in covariates]]]


def _dr(sample: pd.DataFrame, villages: pd.DataFrame, headline: Sequence[str], waves: Sequence[str],
        covariates: Sequence[str], baseline: str = "baseline") -> pd.DataFrame:
    zc = _village_covariates(villages, covariates)
    zcols = [c for c in zc.columns if c != "village_id"]
    s = sample.assign(village_id=sample["village_id"].astype(str)).merge(zc, on="village_id", how="left",
                                                                          validate="many_to_one")
    rows = []
    for wave in waves:
        d = _two_wave(s, wave, baseline)
        for y in headline:
            dy = d.dropna(subset=[y])
            for label, cov in (("none", []), ("match", zcols)):
                r = dr_did(dy, outcome=y, treated="treated", post="post", unit=None, covariates=cov,
                           pair="pair_id", weights=WEIGHTS)
                t = r.tidy()
                t.insert(0, "outcome", y)
                t.insert(1, "wave", wave)
                t.insert(2, "covariates", label)
                t = t.assign(**_overlap(dy, cov))
                rows.append(t)
    out = pd.concat(rows, ignore_index=True)
    out["covariate_list"] = "|".join(covariates)
    return out


def _overlap(d: pd.DataFrame, cov: Sequence[str]) -> dict[str, float]:
    """Overlap diagnostics of the DR-DiD propensity score (the same weighted logit of ``treated`` on the
    covariates over all rows, fitted by statsmodels): the largest score among comparison villages and the
    Kish effective number of comparison villages under the odds weights ``w p/(1-p)`` summed by village."""
    if not cov:
        n_c = float(d.loc[d["treated"] == 0, "village_id"].nunique())
        return {"ps_max_comparison": float(np.average(d["treated"], weights=d[WEIGHTS])), "ess_comparison": n_c}
    import statsmodels.api as sm

    x = sm.add_constant(d[list(cov)].to_numpy(dtype=float))
    w = d[WEIGHTS].to_numpy(dtype=float)
    fit = sm.GLM(d["treated"].to_numpy(dtype=float), x, family=sm.families.Binomial(), freq_weights=w / w.mean()).fit()
    ps = np.asarray(fit.fittedvalues)
    comp = (d["treated"] == 0).to_numpy()
    odds = pd.Series(w[comp] * ps[comp] / (1 - ps[comp])).groupby(d["village_id"].to_numpy()[comp]).sum()
    return {"ps_max_comparison": float(ps[comp].max()), "ess_comparison": float(odds.sum() ** 2 / (odds**2).sum())}


# --------------------------------------------------------------------------------------------------
# Event study on the savings-group panel
# --------------------------------------------------------------------------------------------------
def _event(
    admin: pd.DataFrame,
    start: pd.Series,
    outcomes: Sequence[str],
    *,
    leads: int | None,
    sensitivity_leads: int,
    flci_terms: Sequence[int],
    draws: int,
    seed: int,
    m_rel: Sequence[float],
    mbar: Sequence[float],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    a = admin.copy()
    a["village_id"] = a["village_id"].astype(str)
    a["start_year"] = a["village_id"].map(start).astype(float)  # NaN for comparison villages
    a["year"] = a["year"].astype(int)
    rel = a["year"] - a["start_year"]
    if not rel.notna().any():
        raise ValueError("admin: no savings-group records of pilot villages")
    n_pre, n_post = int(-rel.min()), int(rel.max())
    if n_post < 0:
        raise ValueError(f"admin: no savings-group year on or after the pilot's start ({int(start.min())}); "
                         "check start_year")
    use_leads = n_pre if leads is None else int(leads)
    if min(use_leads, n_pre) < 2 or sensitivity_leads < 2:
        raise ValueError(f"admin: {n_pre} pre-period year(s) before the start, leads={use_leads}, "
                         f"sensitivity_leads={sensitivity_leads}; the event study needs at least 2")
    s_leads = min(sensitivity_leads, n_pre)
    starts = sorted(set(start.astype(int)))
    ev_rows, test_rows, sens_rows = [], [], []
    kw: dict[str, Any] = {"unit": "village_id", "time": "year", "start": "start_year", "pair": "pair_id",
                          "reference": -1, "draws": draws, "seed": seed}
    for y in progress(list(outcomes), desc="impact: event study"):
        d = a.dropna(subset=[y])
        d = d.assign(**{y: pd.to_numeric(d[y], errors="coerce").astype(float)})
        res = event_study(d, outcome=y, leads=use_leads, lags=n_post, bin_endpoints=True,
                          inference=("cr1", "cr2", "wild"), **kw)
        t = res.tidy()
        t.insert(0, "outcome", y)
        t["draws"] = np.where(t["method"] == "wild", float(min(draws, 2 ** int(t["n_clusters"].iloc[0]))), np.nan)
        t["leads"] = use_leads
        t["lags"] = n_post
        t["binned"] = use_leads < n_pre
        t["start_year"] = starts[0] if len(starts) == 1 else -1
        ev_rows.append(t)
        # tests ------------------------------------------------------------------------------------
        for method, name in (("cr2", "pretrend_htz_cr2"), ("cr1", "pretrend_f_cr1")):
            pt = res.pretrend_test(method=method)
            test_rows.append({"outcome": y, "test": name, "statistic": pt["F"], "df_num": pt["df_num"],
                              "df_denom": pt["df_denom"], "p_value": pt["p_value"], "power": np.nan,
                              "slope": np.nan, "term": "", "value": np.nan})
        test_rows.append({"outcome": y, "test": "sup_t_critical", "statistic": np.nan, "df_num": np.nan,
                          "df_denom": float(res.fit.n_clusters - 1), "p_value": np.nan, "power": np.nan,
                          "slope": np.nan, "term": "", "value": res.sup_t_critical()})
        pw = res.pretrend_power((0.5, 0.8))
        for _, r in pw.iterrows():
            for term in res.post_terms:
                test_rows.append({"outcome": y, "test": "pretrend_power", "statistic": np.nan, "df_num": np.nan,
                                  "df_denom": np.nan, "p_value": np.nan, "power": float(r["power"]),
                                  "slope": float(r["slope"]), "term": term, "value": float(r[f"bias {term}"])})
        # sensitivity on the window [-sensitivity_leads, lags] (years before it dropped, not binned) ----
        ds = d[~(d["year"] - d["start_year"] < -s_leads)]  # keeps comparison villages (NaN start)
        ds = ds[ds["year"] >= int(start.min()) - s_leads]
        rs = event_study(ds, outcome=y, leads=s_leads, lags=n_post, bin_endpoints=False, inference=("cr1",), **kw)
        post_sorted = sorted(rs.post_terms, key=lambda s: int(s.split("=")[1]))
        se_cr2 = pd.Series(np.sqrt(np.diag(rs.fit.vcov_cr2())), index=rs.names)
        for k in flci_terms:
            term = f"k={int(k)}"
            if term not in post_sorted:
                continue
            l_vec = [1.0 if t == term else 0.0 for t in post_sorted]
            scale = float(se_cr2[term])
            fl = rs.flci(m=[float(x) * scale for x in m_rel], l_vec=l_vec)
            bd = _flci_breakdown(rs, l_vec, scale, [float(x) for x in m_rel], fl)
            for x, (_, r) in zip(m_rel, fl.iterrows(), strict=True):
                sens_rows.append({"outcome": y, "term": term, "restriction": "smoothness", "bound": float(r["M"]),
                                  "bound_rel_se": float(x), "estimate": float(r["estimate"]),
                                  "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
                                  "id_low": np.nan, "id_high": np.nan, "max_bias": float(r["max_bias"]),
                                  "breakdown": bd, "leads": s_leads})
        rm = rs.sensitivity(mbar=list(mbar))
        for tname, g in rm.groupby("term", sort=False):
            bd = _rm_breakdown(rs, str(tname))
            for _, r in g.iterrows():
                sens_rows.append({"outcome": y, "term": str(tname), "restriction": "relative_magnitudes",
                                  "bound": float(r["mbar"]), "bound_rel_se": np.nan,
                                  "estimate": float(rs.fit.beta[rs.names.index(str(tname))]),
                                  "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
                                  "id_low": float(r["id_low"]), "id_high": float(r["id_high"]),
                                  "max_bias": np.nan, "breakdown": bd, "leads": s_leads})
    ev = pd.concat(ev_rows, ignore_index=True)
    tests = pd.DataFrame(test_rows, columns=TEST_COLUMNS)
    sens = pd.DataFrame(sens_rows, columns=[c for c in SENS_COLUMNS if c != "includes_zero"])
    sens["includes_zero"] = (sens["ci_low"] <= 0) & (sens["ci_high"] >= 0)
    return ev, tests, sens


def _flci_breakdown(res: Any, l_vec: Sequence[float], scale: float, grid: Sequence[float], fl: pd.DataFrame,
                    *, tol: float = 0.1, max_rel: float = 8.0) -> float:
    """Smallest smoothness bound M at which the FLCI contains 0.

    0 when it contains 0 already at M = 0; NaN when it still excludes 0 at ``max_rel`` standard errors.
    The bracket comes from the grid already computed (``grid`` in standard errors, results ``fl``), then
    bisection to ``tol`` standard errors (each FLCI is an optimisation, so calls are kept few).
    """

    def excludes_row(r: Any) -> bool:
        return bool(r["ci_low"] > 0 or r["ci_high"] < 0)

    def excludes(m_rel: float) -> bool:
        return excludes_row(res.flci(m=[m_rel * scale], l_vec=l_vec).iloc[0])

    ex = [excludes_row(r) for _, r in fl.iterrows()]
    order = np.argsort(grid)
    lo, hi = None, None
    for i in order:
        if ex[i]:
            lo = grid[i]
        elif hi is None:
            hi = grid[i]
            break
    if lo is None:
        return 0.0
    if hi is None:
        hi = max(lo, 1.0)
        while excludes(hi):
            lo, hi = hi, 2.0 * hi
            if hi > max_rel:
                return float("nan")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if excludes(mid):
            lo = mid
        else:
            hi = mid
    return float(hi * scale)


def _rm_breakdown(res: Any, term: str) -> float:
    """Smallest M̄ at which the relative-magnitudes projection CI contains 0.

    The CI bounds are linear in M̄ (:meth:`EventStudyResult.sensitivity`), so the crossing follows from
    the bounds at M̄ = 0 and 1; NaN when the pre-periods show no variation (the CI never widens)."""
    s = res.sensitivity(mbar=[0.0, 1.0])
    s = s[s["term"] == term].set_index("mbar")
    lo0, lo1 = float(s.loc[0.0, "ci_low"]), float(s.loc[1.0, "ci_low"])
    hi0, hi1 = float(s.loc[0.0, "ci_high"]), float(s.loc[1.0, "ci_high"])
    if lo0 <= 0 <= hi0:
        return 0.0
    if lo0 > 0:
        slope = lo0 - lo1
        return lo0 / slope if slope > 0 else float("nan")
    slope = hi1 - hi0
    return -hi0 / slope if slope > 0 else float("nan")


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------
def preliminary_did(sample: pd.DataFrame, plan: AnalysisPlan, *, seed: int | None = None,
                    fits: Fits | None = None) -> pd.DataFrame:
    """The first DiD table reported to the department: ``plan.impact.preliminary`` outcomes at one wave.

    ``y ~ D | village + pair×wave`` for each outcome on the interviewed households of the baseline and the
    wave, weighted, clustered by pair, every method of ``plan.impact.methods``; one row per outcome × method.
    ``sample`` is :func:`impact_sample`'s frame. ``fits``: the fits of :func:`analyze_impact` on the same
    ``sample`` (its ``fits=``), reused where the specification and draws are the same.
    """
    imp = plan.impact
    pre = imp.preliminary
    seed = plan.seed if seed is None else seed
    d = _two_wave(sample, pre.wave, imp.baseline)
    rows = []
    for y in pre.outcomes:
        if y not in d.columns:
            raise ValueError(f"impact.preliminary: outcome {y!r} is not a household column")
        _, res = _fit(d, y, pre.wave, imp.baseline, imp.methods, pre.draws, seed, fits)
        t = res.tidy()
        t.insert(0, "outcome", y)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def analyze_impact(
    sample: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    plan: AnalysisPlan,
    *,
    seed: int | None = None,
    fits: Fits | None = None,
) -> dict[str, pd.DataFrame]:
    """The study's DiD tables (household effects, influence, DR-DiD, event study, sensitivity).

    Parameters
    ----------
    sample : DataFrame
        :func:`impact_sample` of the run's weighted household frame.
    tables : mapping of str to DataFrame
        Processed tables: ``villages`` (required; DR-DiD covariates, pilots' start year), ``admin`` (event
        study; skipped with empty tables when absent), ``households`` (dates the pilot's start).
    plan : AnalysisPlan
        ``plan.impact``: outcomes, headline, welfare-type family, waves, methods, draws per family
        (Romano–Wolf needs the same draws for all outcomes of a family; ``draws`` and ``enumerated``
        columns say what was used), doubly robust covariates, event study and sensitivity settings.
    seed : int, optional
        Seed of the random draws (default ``plan.seed``).
    fits : dict, optional
        Receives the household effect fits (for :func:`preliminary_did` on the same ``sample``; fits already in
        it are reused).

    Returns
    -------
    dict of DataFrame
        ``impact_effects`` (outcome × family × wave × method: estimate, SE, df, p, CI, draws,
        enumerated, p_holm, p_bh, p_romano_wolf, comparison means, scale, headline),
        ``impact_influence`` (headline outcome × wave × pair: estimate without the pair),
        ``impact_dr`` (headline outcome × wave × covariates none/match × method if/cr1),
        ``impact_event`` (outcome × event time × method cr1/cr2/wild/sup_t),
        ``impact_event_tests`` (pre-trend HTZ and F tests, sup-t critical value, Roth pre-test power),
        ``impact_sensitivity`` (FLCI over M and relative magnitudes over M̄ with breakdown values).
    """
    require_tables(tables, "villages", step="impact")
    imp = plan.impact
    seed = plan.seed if seed is None else seed
    families = outcome_families(sample, imp)
    bad_waves = [w for w in imp.waves if w not in set(sample["wave"])]
    if bad_waves:
        raise ValueError(f"impact.waves {bad_waves}: give follow-up waves present in the household table")
    heads = [y for y in imp.headline if any(y in ys for ys in families.values())]

    frames = []
    all_results: dict[tuple[str, str], DiDResult] = {}
    jobs = [(w, fam, ys) for w in imp.waves for fam, ys in families.items()]
    for wave, fam, ys in progress(jobs, desc="impact: effects", total=len(jobs)):
        tab, res = _effects(sample, ys, wave, draws=imp.family_draws(fam), seed=seed, methods=imp.methods,
                            baseline=imp.baseline, fits=fits)
        tab.insert(1, "family", fam)
        tab.insert(2, "wave", wave)
        frames.append(tab)
        all_results.update({(y, wave): r for y, r in res.items()})
    eff = pd.concat(frames, ignore_index=True)
    eff["enumerated"] = eff["draws"].notna() & (eff["draws"] >= 2.0 ** eff["n_clusters"].astype(float))
    eff["headline"] = eff["outcome"].isin(heads)

    out: dict[str, pd.DataFrame] = {"impact_effects": eff}
    out["impact_influence"] = _influence(all_results, heads)
    villages = tables["villages"]
    if isinstance(imp.dr_covariates, str):  # "matching": the matching covariates present in villages
        cov = [c for c in plan.matching.covariates if c in villages.columns]
    else:
        cov = list(imp.dr_covariates)
    out["impact_dr"] = _dr(sample, villages, heads, imp.waves, cov, imp.baseline)

    es = imp.event_study
    ev_out = [y for y in es.outcomes if "admin" in tables and y in tables["admin"].columns]
    if ev_out:
        start = pilot_start_year(tables, start_year=es.start_year)
        ev, tests, sens = _event(tables["admin"], start, ev_out, leads=es.leads,
                                 sensitivity_leads=es.sensitivity_leads, flci_terms=es.flci_terms, draws=es.draws,
                                 seed=seed, m_rel=es.flci_m, mbar=es.mbar)
    else:
        ev = pd.DataFrame(columns=EVENT_COLUMNS)
        tests = pd.DataFrame(columns=TEST_COLUMNS)
        sens = pd.DataFrame(columns=SENS_COLUMNS)
    out["impact_event"] = ev
    out["impact_event_tests"] = tests
    out["impact_sensitivity"] = sens
    return out
