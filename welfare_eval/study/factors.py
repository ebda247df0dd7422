"""Study step: the success-factor analysis (tables ``factors_*``).

:func:`analyze_factors` runs the ``welfare_eval.factors`` stage on the processed tables (``committee``,
``villages``, ``households`` and, when present, ``benefits`` and ``admin``) and returns DataFrames with plain
columns (text, numbers, booleans; no index, no objects) that survive a Parquet round trip, keyed
``factors_*``. It reads and writes no files and holds no statistics of its own: every number comes from
the public functions of :mod:`welfare_eval.factors` (validated there against R / brute force).

Choices (the honest version for 18 pilot villages)
--------------------------------------------------
* **Success** of a pilot village is its own DiD effect on ``did_outcome``: the pilot's change from
  baseline to endline minus the change of its matched comparison village(s)
  (:func:`welfare_eval.factors.success_measures`). It is noisy: each village change rests on about 30
  households per wave.
* **Dominance analysis** uses two pre-specified models, never all 12 factors: with 18 pilots and 12
  predictors the full-model R² is about 12/17 ≈ 0.7 from chance alone, so every ordering would be noise.

  - ``internal``: the six internal factors (committee, fund, activities, equipment, members'
    understanding, members' cooperation). The pilot's DiD effect is a contrast *within* a matched pair
    from the same inspection region, so the external conditions that the pair shares (government policy,
    CDD officers, budget support, promotion, the current situation) largely cancel from it, and the
    internal factors are the ones a village and the CDD can act on. Six predictors for 18 pilots still
    give an R² of about 6/17 ≈ 0.35 by chance, which the table reports (``r2_null_expected``) next to the
    bootstrap rank intervals and the share of resamples in which a factor is first / in the top three.
  - ``composite``: the mean of the six internal and the mean of the six external factor scores (2
    predictors): do internal or external conditions go with larger effects?

  The external factors are still in the bivariate associations and the moderation table (all 12, with
  Holm and Benjamini-Hochberg adjustment).
* **Moderation** of the DiD effect by each factor is the village-level meta-regression
  (:func:`welfare_eval.factors.moderation`: own DiD effect on the centred factor, CR2 clustered on pairs
  with Satterthwaite df; with one pilot per pair this is HC2). It is exploratory: 12 tests on 18 pilots.
  The household-level version (:func:`welfare_eval.factors.moderation_did`, equal on village means) is
  slower and left to the notebook.
* **QCA** calibrates the village factor scores with anchors taken from the Thai mean-interpretation
  bands used throughout the report (``plan.factors.qca_anchors``, default 2.60 = top of "low" → full non-membership,
  3.40 = top of "moderate" → crossover, 4.20 = top of "high" → full membership, so membership above 0.5
  means "rated high or very high"); the outcome set SUCCESS is crisp: own DiD effect above
  ``success_threshold`` (default 0.10 = 10 percentage points for a 0/1 outcome). Conditions are the six
  internal factors (pre-specified like the dominance model); with 18 cases most of the 64 configurations
  are logical remainders, which the tables say (``limited_diversity``, ``warning``), and 18 cases are fewer
  than the ~26 that Marx (2010) advises for six conditions, so the conservative solution describes the
  successful cases rather than generalising; read it first. ``qca_conditions`` chooses fewer conditions.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.factors import (
    DominanceResult,
    aggregate_villages,
    all_subsets,
    associations,
    committee_wide,
    dominance,
    efa,
    moderation,
    qca,
    scale_reliability,
    success_measures,
)
from welfare_eval.study.plan import AnalysisPlan, FactorsPlan
from welfare_eval.study.sample import require_tables

__all__ = [
    "DOMINANCE_MODELS",
    "RESULT_KEYS",
    "analyze_factors",
    "external_factors",
    "internal_factors",
]

# The QCA calibration anchors (``plan.factors.qca_anchors``, default 2.60 / 3.40 / 4.20 on the 1-5 scale) are the
# upper limits of the Thai bands "low", "moderate" and "high" of ``welfare_eval.reference.likert_bands()``; the
# success threshold (default 0.10 = 10 percentage points on a 0/1 outcome) and the minimum consistency of a
# truth-table row coded OUT = 1 (default 0.8) are plan settings too.

#: Names of the dominance models (see the module docstring).
DOMINANCE_MODELS: tuple[str, str] = ("internal", "composite")
#: Keys of the dict returned by :func:`analyze_factors`.
RESULT_KEYS: tuple[str, ...] = (
    "factors_reliability",
    "factors_villages",
    "factors_icc",
    "factors_efa",
    "factors_efa_loadings",
    "factors_success",
    "factors_associations",
    "factors_all_subsets",
    "factors_dominance",
    "factors_dominance_pairs",
    "factors_moderation",
    "factors_qca_sets",
    "factors_qca_truth_table",
    "factors_qca_solution",
)


def internal_factors() -> list[str]:
    """Codes of the six internal success factors (reference order)."""
    f = ref.success_factors()
    return [str(c) for c in f.loc[f["group"] == "internal", "code"]]


def external_factors() -> list[str]:
    """Codes of the six external success factors (reference order)."""
    f = ref.success_factors()
    return [str(c) for c in f.loc[f["group"] == "external", "code"]]


def _weights_column(households: pd.DataFrame) -> str | None:
    """The household weight used for village means.

    ``w_final`` (design weight N/n with nonresponse adjustment, from the weights step) when the
    table has it, else none: households are a simple random sample within each village and wave, so the
    design weight N/n and its within-village nonresponse adjustment are constant within a village × wave
    and the weighted village mean equals the unweighted one.
    """
    return "w_final" if "w_final" in households.columns else None


# --------------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------------
def _reliability_table(wide: pd.DataFrame, conf_level: float) -> pd.DataFrame:
    t = scale_reliability(wide, conf_level=conf_level, lang="th").tidy()
    t = t.rename(columns={"k": "n_items", "n": "n_respondents", "band": "band_th"}).drop(columns=["label"])
    t["band_en"] = [ref.likert_band(m, "en") if 1.0 <= m <= 5.0 else "" for m in t["mean"]]
    t["conf_level"] = conf_level
    cols = ["factor", "group", "n_items", "n_respondents", "alpha", "alpha_lower", "alpha_upper", "std_alpha",
            "omega", "omega_model", "mean", "band_th", "band_en", "conf_level"]
    return t[cols]


def _village_table(agg: Any, villages: pd.DataFrame) -> pd.DataFrame:
    facs = [str(c) for c in ref.success_factors()["code"]]
    v = agg.villages.copy()
    v["village_id"] = v["village_id"].astype(str)
    v["internal_mean"] = v[internal_factors()].mean(axis=1)
    v["external_mean"] = v[external_factors()].mean(axis=1)
    rwg = agg.rwg.copy()
    rwg["village_id"] = rwg["village_id"].astype(str)
    rwg = rwg.rename(columns={f: f"rwg_{f}" for f in facs})
    meta = villages[["village_id", "region", "arm", "pair_id"]].assign(
        village_id=villages["village_id"].astype(str), arm=villages["arm"].astype(str)
    )
    out = meta.merge(v, on="village_id", how="right", validate="one_to_one").merge(
        rwg, on="village_id", how="left", validate="one_to_one"
    )
    unknown = out.loc[out["arm"].isna(), "village_id"]
    if len(unknown):
        raise ValueError(
            f"analyze_factors: committee ratings of village {unknown.iloc[0]} which is not in the villages table; "
            "fix the village code in the committee export"
        )
    return out.sort_values(["pair_id", "arm", "village_id"], ascending=[True, False, True], kind="mergesort")


def _icc_table(agg: Any) -> pd.DataFrame:
    t = agg.tidy().rename(columns={"band": "band_th"})
    grp = ref.success_factors().set_index("code")["group"]
    t.insert(1, "group", t["factor"].map(grp).astype(str))
    t["band_en"] = [ref.likert_band(m, "en") if 1.0 <= m <= 5.0 else "" for m in t["mean"]]
    return t


def _efa_tables(wide: pd.DataFrame, *, n_iter: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    with warnings.catch_warnings():
        # factor_analyzer notes that it used a pseudo-inverse for the KMO; harmless here
        warnings.simplefilter("ignore", UserWarning)
        res = efa(wide, n_factors=2, rotation="oblimin", n_iter=n_iter, seed=seed)
    rows: list[tuple[str, float, str]] = [
        ("n_respondents", float(res.n), "committee members with every item answered"),
        ("n_items", float(len(res.loadings)), "Likert items"),
        ("n_dropped", float(res.n_dropped), "members left out for a missing item"),
        ("kmo", res.kmo, "Kaiser-Meyer-Olkin sampling adequacy (>= 0.6 acceptable, >= 0.8 good)"),
        ("bartlett_chisq", res.bartlett["chisq"], "Bartlett's test of sphericity"),
        ("bartlett_df", float(res.bartlett["df"]), "Bartlett's test of sphericity"),
        ("bartlett_p", res.bartlett["p_value"], "Bartlett's test of sphericity"),
        ("parallel_n_pc", float(res.parallel.n_factors),
         f"parallel analysis ({res.parallel.n_iter} simulations, {res.parallel.quantile:.0%} quantile), components"),
        ("parallel_n_fa", float(res.parallel.n_factors_fa), "parallel analysis, common factors"),
        ("n_factors_fitted", float(res.n_factors), "minres + oblimin solution with one factor per group"),
        ("split_agreement", float(res.split["agreement"].iloc[0]) if res.split is not None else float("nan"),
         "share of items loading most on the factor matched to their group (internal/external)"),
    ]
    kv = pd.DataFrame(rows, columns=["statistic", "value", "note"])
    lo = res.tidy()
    fac = ref.success_factor_items().set_index("item")["factor"]
    lo.insert(1, "factor", lo["item"].map(fac).astype(str))
    return kv, lo


def _dominance_rows(res: DominanceResult, model: str, top: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = res.tidy()
    p = len(res.predictors)
    grp = ref.success_factors().set_index("code")["group"]
    keep = ["predictor", "general", "share", "rank", "general_lower", "general_upper", "share_lower",
            "share_upper", "rank_lower", "rank_upper", "completely_dominates", "completely_dominated_by"]
    keep += [f"cond_{k + 1}" for k in range(p)]
    for c in keep:  # one schema whether or not the plan asks for a bootstrap (n_boot = 0: intervals missing)
        if c not in t.columns:
            t[c] = np.nan
    t = t[keep].copy()
    t.insert(0, "model", model)
    t.insert(1, "outcome", res.outcome)
    t.insert(3, "group", [str(grp.get(x, "composite")) for x in t["predictor"]])
    n_used = 0
    if res.boot is not None and len(res.boot):
        ranks = res.boot[res.predictors].rank(axis=1, ascending=False, method="min")
        n_used = len(res.boot)
        t["p_top1"] = t["predictor"].map((ranks <= 1).mean()).astype(float)
        t[f"p_top{top}"] = t["predictor"].map((ranks <= top).mean()).astype(float)
    else:
        t["p_top1"] = np.nan
        t[f"p_top{top}"] = np.nan
    t["r2_full"] = res.r2_full
    t["r2_adj"] = 1 - (1 - res.r2_full) * (res.n - 1) / (res.n - p - 1)
    t["r2_null_expected"] = p / (res.n - 1)
    t["n"] = res.n
    t["n_predictors"] = p
    t["n_boot"] = n_used
    t["conf_level"] = res.conf_level
    comp = res.complete.to_numpy()
    rep = res.reproducibility.to_numpy() if res.reproducibility is not None else None
    names = res.predictors
    pairs = [
        {
            "model": model,
            "predictor": names[i],
            "other": names[j],
            "complete": int(comp[i, j]),
            "reproducibility": float(rep[i, j]) if rep is not None else float("nan"),
        }
        for i in range(p)
        for j in range(p)
        if i != j
    ]
    return t, pd.DataFrame(pairs)


def _qca_tables(
    pilots: pd.DataFrame, conditions: Sequence[str], fp: FactorsPlan
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    exc, cross, inc = fp.qca_anchors
    threshold = fp.success_threshold
    sets = pilots[["village_id", "pair_id", "did_effect"]].copy()
    for c in conditions:
        sets[c] = qca.calibrate(pilots[c].astype(float), exclusion=exc, crossover=cross, inclusion=inc)
    sets["SUCCESS"] = qca.crisp(pilots["did_effect"].astype(float), threshold=threshold, inclusive=False)
    data = sets.set_index("village_id")[[*conditions, "SUCCESS"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", qca.LimitedDiversityWarning)  # reported in the tables instead
        tt = qca.truth_table(data, outcome="SUCCESS", conditions=list(conditions), incl_cut=fp.qca_incl_cut)
    limited = tt.remainder_share > qca.REMAINDER_WARN_SHARE
    warn = (
        f"limited diversity: {tt.n_remainders} of {2 ** len(conditions)} configurations are logical remainders "
        f"({len(data)} cases); the parsimonious and intermediate solutions rest on assumptions about them"
        if limited
        else ""
    )
    tab = tt.tidy()
    tab.insert(len(conditions) + 1, "outcome", "SUCCESS")
    tab["n_remainders"] = tt.n_remainders
    tab["limited_diversity"] = limited
    tab["ambiguous_cases"] = ",".join(tt.ambiguous_cases)
    sol_rows: list[pd.DataFrame] = []
    dir_exp = dict.fromkeys(conditions, 1)
    for kind, kw in (
        ("conservative", {"include": ""}),
        ("parsimonious", {"include": "?"}),
        ("intermediate", {"include": "?", "dir_exp": dir_exp}),
    ):
        try:
            sol = qca.minimize(tt, **kw)
        except ValueError as exc_:
            sol_rows.append(
                pd.DataFrame([{"kind": kind, "model": 0, "solution": "", "term": "", "note": str(exc_)}])
            )
            continue
        s = sol.tidy()
        s.insert(0, "kind", kind)
        s["remainders_used"] = ",".join(map(str, sol.remainders_used))
        s["n_remainders_used"] = len(sol.remainders_used)
        s["note"] = ""
        sol_rows.append(s)
    solution = pd.concat(sol_rows, ignore_index=True)
    solution["n_cases"] = len(data)
    solution["n_success"] = int(data["SUCCESS"].sum())
    solution["success_threshold"] = threshold
    solution["incl_cut"] = fp.qca_incl_cut
    solution["anchors"] = "/".join(f"{a:.2f}" for a in fp.qca_anchors)
    solution["conditions"] = ",".join(conditions)
    solution["n_remainders"] = tt.n_remainders
    solution["limited_diversity"] = limited
    solution["warning"] = warn
    return sets, tab, solution


# --------------------------------------------------------------------------------------------------
# The whole analysis
# --------------------------------------------------------------------------------------------------
def analyze_factors(
    tables: Mapping[str, pd.DataFrame],
    plan: AnalysisPlan,
    *,
    households: pd.DataFrame | None = None,
    seed: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the success-factor analysis on the processed tables.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The processed tables (``committee``, ``villages``, ``households``; ``benefits`` and ``admin`` add
        success measures when present).
    plan : AnalysisPlan
        ``plan.factors``: ``did_outcome`` (household column whose baseline→endline change defines each
        pilot's own DiD effect, i.e. success), ``n_boot`` (bootstrap resamples of pairs for the dominance
        intervals, 0 = none), ``success_threshold`` (QCA outcome: own DiD effect above it, in units of
        ``did_outcome``), ``conf_level``, ``efa_iter`` (parallel-analysis simulations), ``qca_conditions``
        (default: the six internal factors; Marx (2010) advises at least about 16 cases for 5 conditions
        and 26 for 6), ``qca_anchors`` and ``qca_incl_cut``.
    households : DataFrame, optional
        The run's weighted household frame (with ``w_final``); default ``tables["households"]``.
    seed : int, optional
        Seed of the bootstrap and of the parallel-analysis simulations (default ``plan.seed``).

    Returns
    -------
    dict of DataFrame
        ``factors_reliability`` (per factor: group, items, alpha with Feldt CI, omega, mean, Thai band),
        ``factors_villages`` (village factor scores, internal/external means, rwg(j) per factor),
        ``factors_icc`` (per factor: ICC(1), ICC(2), F test, rwg(j) summary), ``factors_efa`` (KMO,
        Bartlett, parallel analysis, internal/external split as statistic/value/note) and
        ``factors_efa_loadings``, ``factors_success`` (success measures per village with the pilot's own
        DiD effect), ``factors_associations`` (standardised slope per factor and outcome, CR2 +
        Satterthwaite, Holm/BH, permutation p), ``factors_all_subsets`` (AICc inclusion probabilities),
        ``factors_dominance`` and ``factors_dominance_pairs`` (general dominance, share, rank with bootstrap
        intervals, frequency of being first / top three; complete dominance with its reproducibility),
        ``factors_moderation`` (exploratory), ``factors_qca_sets``, ``factors_qca_truth_table`` and
        ``factors_qca_solution``.

    Raises
    ------
    ValueError
        If a table or ``did_outcome`` is missing, or fewer than 4 pilots have a DiD effect.
    """
    fp = plan.factors
    seed = plan.seed if seed is None else seed
    did_outcome, n_boot, conf_level = fp.did_outcome, fp.n_boot, fp.conf_level
    success_threshold, efa_iter, qca_conditions = fp.success_threshold, fp.efa_iter, fp.qca_conditions
    require_tables(tables, "committee", "villages", "households", step="factors")
    committee, villages = tables["committee"], tables["villages"]
    households = tables["households"] if households is None else households
    if did_outcome not in households.columns:
        raise ValueError(
            f"analyze_factors: households has no column {did_outcome!r}; pass did_outcome=<household column>"
        )
    facs = [str(c) for c in ref.success_factors()["code"]]
    internal = internal_factors()
    conds = list(qca_conditions) if qca_conditions is not None else internal
    unknown = [c for c in conds if c not in facs]
    if unknown:
        raise ValueError(f"analyze_factors: qca_conditions {unknown} are not success-factor codes ({', '.join(facs)})")

    wide = committee_wide(committee)
    items = [c for c in wide.columns if c not in ("village_id", "member_no")]
    wide = wide.astype(dict.fromkeys(items, "float64"))  # nullable Int64 scores → float (NaN for missing)

    out: dict[str, pd.DataFrame] = {}
    out["factors_reliability"] = _reliability_table(wide, conf_level)
    agg = aggregate_villages(wide)
    vt = _village_table(agg, villages)
    out["factors_villages"] = vt
    out["factors_icc"] = _icc_table(agg)
    out["factors_efa"], out["factors_efa_loadings"] = _efa_tables(wide, n_iter=efa_iter, seed=seed)

    m = success_measures(
        households,
        villages=villages,
        benefits=tables.get("benefits"),
        admin=tables.get("admin"),
        coverage=did_outcome,
        weight=_weights_column(households),
    )
    m.insert(1, "outcome", did_outcome)
    m["pair_change"] = m["coverage_change"] - m["did_effect"]  # mean change of the pair's comparison village(s)
    m["success"] = (m["did_effect"] > success_threshold).astype("boolean").mask(m["did_effect"].isna())
    out["factors_success"] = m

    no_scores = sorted(set(m.loc[m["did_effect"].notna(), "village_id"]) - set(vt["village_id"]))
    if no_scores:
        warnings.warn(
            f"analyze_factors: pilot village(s) {', '.join(no_scores)} have a DiD effect but no committee ratings; "
            "they are left out of the factor analyses (the n columns count the pilots used)",
            UserWarning,
            stacklevel=2,
        )
    v = vt.drop(columns=["arm", "pair_id", "region"]).merge(m, on="village_id", how="inner", validate="one_to_one")
    pilots = v[(v["arm"] == "pilot") & v["did_effect"].notna()].sort_values("pair_id", kind="mergesort")
    if len(pilots) < 4:
        raise ValueError(f"analyze_factors: only {len(pilots)} pilot village(s) have a DiD effect and factor scores")

    assoc = []
    outcomes = ["did_effect"] + (
        ["welfare_fund_per_member"]
        if "welfare_fund_per_member" in pilots and pilots["welfare_fund_per_member"].notna().sum() >= 4
        else []
    )
    for y in outcomes:
        a = associations(pilots, outcome=y, predictors=facs, cluster="pair_id", conf_level=conf_level,
                         n_perm=999 if y == "did_effect" else 0, seed=seed).tidy()
        if "p_perm" not in a:
            a["p_perm"] = np.nan
        a.insert(0, "outcome", y)
        a.insert(2, "group", a["predictor"].map(ref.success_factors().set_index("code")["group"]).astype(str))
        assoc.append(a)
    out["factors_associations"] = pd.concat(assoc, ignore_index=True)

    subs = all_subsets(pilots, outcome="did_effect", predictors=facs)
    st = subs.tidy()
    st.insert(0, "outcome", "did_effect")
    st["max_size"] = subs.max_size
    st["n"] = subs.n
    out["factors_all_subsets"] = st

    dom_rows, pair_rows = [], []
    for model, preds in (("internal", internal), ("composite", ["internal_mean", "external_mean"])):
        res = dominance(pilots, outcome="did_effect", predictors=preds, n_boot=n_boot, cluster="pair_id",
                        conf_level=conf_level, seed=seed)
        t, pr = _dominance_rows(res, model)
        dom_rows.append(t)
        pair_rows.append(pr)
    out["factors_dominance"] = pd.concat(dom_rows, ignore_index=True)
    out["factors_dominance_pairs"] = pd.concat(pair_rows, ignore_index=True)

    mod = moderation(pilots, predictors=facs, effect="did_effect", cluster="pair_id", conf_level=conf_level).tidy()
    mod.insert(0, "outcome", did_outcome)
    mod.insert(1, "level", "village")
    mod.insert(3, "group", mod["predictor"].map(ref.success_factors().set_index("code")["group"]).astype(str))
    mod["exploratory"] = True
    mod["note"] = (
        "exploratory: change of the pilot's own DiD effect per scale point of the factor; "
        f"{len(facs)} tests on {len(pilots)} pilots, read the Holm/BH columns"
    )
    out["factors_moderation"] = mod

    sets, tt, sol = _qca_tables(pilots, conds, fp)
    out["factors_qca_sets"] = sets
    out["factors_qca_truth_table"] = tt
    out["factors_qca_solution"] = sol
    return {k: out[k] for k in RESULT_KEYS}
