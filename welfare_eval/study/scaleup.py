"""Study step: the nationwide expansion (ขยายผล) — staggered adoption on the yearly household survey.

The expansion is evaluated on two national data sets: the household rows of the yearly basic-needs survey
(จปฐ., ≈ 12 million households a year) and the village table (กชช.2ค, ≈ 75,000 villages, with the year each
village adopted the Community Welfare model, 0 = never). A data engine (:mod:`welfare_eval.scale`) reduces
the household rows to village × year **cells** (weighted counts, sums and cross-products; the contract of
:mod:`welfare_eval.did.cells`); this step turns the cells, the village table and the plan's ``scaleup``
section into result tables. It reads and writes no files (:mod:`welfare_eval.pipeline` does).

:func:`analyze_scaleup` ``(cells, villages, plan) → tables``:

1. **Design** — the village table's covariates (``log(x)``, ``log1p(x)``, ``pre(y)`` = the village's
   weighted household mean of ``y`` before the first cohort) are merged onto the cells; every cell's village
   must be in the village table (an error names the first that is not). ``scaleup_cohorts`` (villages,
   households and household rows per cohort) and ``scaleup_trends`` (household-weighted means by cohort ×
   year) describe the rollout.
2. **Group-time effects** — for every outcome, :func:`welfare_eval.did.att_gt` on the cells (the repeated
   cross-sections estimator on the household rows the cells summarise, household-weighted, clustered by
   ``cluster``; Callaway & Sant'Anna 2021) with the plan's covariates, comparison group, method, base period
   and anticipation; a multiplier bootstrap (``draws``) gives the uniform sup-t band. Tables
   ``scaleup_att_gt``, ``scaleup_aggregates`` (the plan's aggregations, each with an ``overall`` row) and
   ``scaleup_pretrend`` (Wald and sup-t pre-trend tests).
3. **Matching** — adopters matched to never-treated villages within province (:func:`welfare_eval.scale.
   match_adopters`) on ``scaleup.matching.covariates``; ``scaleup_balance`` (before/after), ``scaleup_pairs``,
   ``scaleup_unmatched``, ``scaleup_matching`` (per cohort).
4. **Estimators side by side** (headline outcome) — on the village × year panel of village means (villages
   observed every year): Callaway–Sant'Anna on the panel (``cs_panel``), Sun & Abraham (``sunab``), Borusyak,
   Jaravel & Spiess imputation (``imputation``) and the static two-way fixed-effects coefficient (``twfe``),
   the regression estimators with covariate × year terms (the conditional-parallel-trends analogue of the
   covariates); beside them the cells estimate (``cs_cells``) and Callaway–Sant'Anna on the matched
   adopters and comparison villages (``cs_matched``). ``scaleup_compare`` holds event-time and overall rows;
   ``scaleup_bacon`` the Goodman-Bacon decomposition of the unadjusted TWFE coefficient (exact for the
   balanced, unweighted village panel). Columns ``sample``, ``weighting`` (``households`` | ``villages``),
   ``adjustment`` (``covariates`` | ``covariates_by_year`` | ``matching`` | ``matching_and_covariates`` |
   ``none``) and ``covariates`` say what each row is.

5. **Sensitivity** (headline outcome) — HonestDiD-style bounds on the event-time effects under violations of
   parallel trends (relative magnitudes M̄, smoothness M; ``scaleup_sensitivity``).

``scaleup_notes`` keeps every estimator's notes (samples, conventions, dropped units).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval._blas import single_blas_thread
from welfare_eval._io import parquet_safe
from welfare_eval._progress import progress
from welfare_eval.did import att_gt, imputation, sunab, twfe
from welfare_eval.did.cells import moment_name
from welfare_eval.scale import match_adopters
from welfare_eval.study.plan import AnalysisPlan, ScaleupPlan, covariate_spec, default_plan

__all__ = [
    "RESULT_TABLES",
    "ScaleupData",
    "analyze_scaleup",
    "compare_estimators",
    "describe_rollout",
    "match_expansion",
    "prepare_scaleup",
    "sensitivity",
    "staggered_effects",
]

#: Result tables of :func:`analyze_scaleup` (some are empty when the plan skips their step).
RESULT_TABLES = (
    "scaleup_summary",
    "scaleup_cohorts",
    "scaleup_trends",
    "scaleup_att_gt",
    "scaleup_aggregates",
    "scaleup_pretrend",
    "scaleup_balance",
    "scaleup_pairs",
    "scaleup_unmatched",
    "scaleup_matching",
    "scaleup_compare",
    "scaleup_bacon",
    "scaleup_sensitivity",
    "scaleup_notes",
)

_HH_WEIGHT = "_we_households"


@dataclass
class ScaleupData:
    """The cells with the village covariates and cohort merged on, and the village table used.

    Attributes
    ----------
    cells : DataFrame
        One row per village × year: the cell columns, the cohort (0 = never), the covariates (by their plan
        names, e.g. ``log_mean_income``) and the cluster column.
    villages : DataFrame
        One row per village of the village table: id, cohort, province/exact/eligible columns when present,
        and every covariate of ``covariates`` and ``matching.covariates`` (``NaN`` for ``pre(y)`` of a
        village without household rows before the first cohort).
    covariates : list of str
        Column names of the estimation covariates (village covariates, then household covariates).
    village_covariates : list of str
        Column names of the village covariates (constant within a village).
    matching_covariates : list of str
    years : ndarray
        Survey years of the cells.
    first_cohort : float
        Earliest adoption year with a pre-adoption year in the data (NaN when none).
    notes : list of str
    """

    cells: pd.DataFrame
    villages: pd.DataFrame
    covariates: list[str]
    village_covariates: list[str]
    matching_covariates: list[str]
    years: np.ndarray
    first_cohort: float
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# 1. Design
# --------------------------------------------------------------------------------------------------
def _require(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    missing = [c for c in dict.fromkeys(cols) if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: column(s) {missing} missing (columns: {list(df.columns)[:20]})")


def _unit_text(s: pd.Series) -> pd.Series:
    return s.astype("string")


def _pre_means(cells: pd.DataFrame, su: ScaleupPlan, variables: Sequence[str], first: float) -> pd.DataFrame:
    """Weighted household means of ``variables`` per village over the years before ``first − anticipation``."""
    if not variables:
        return pd.DataFrame({su.unit: pd.Series(dtype="string")})
    if not np.isfinite(first):
        raise ValueError("scaleup: pre(...) covariates need an adoption cohort after the first survey year")
    cut = first - su.anticipation
    pre = cells[cells[su.time].to_numpy(dtype=float) < cut]
    if pre.empty:
        raise ValueError(f"scaleup: pre(...) covariates need household rows before {cut:g} (first cohort "
                         f"{first:g} − anticipation {su.anticipation}); the cells start in {cells[su.time].min()}")
    g = pre.groupby(su.unit, sort=True, observed=True)
    sw = g[moment_name()].sum()
    out = pd.DataFrame({su.unit: sw.index.astype("string")})
    for v in variables:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"pre_{v}"] = (g[moment_name(v)].sum() / sw).to_numpy(dtype=float)
    return out


def _transform(vt: pd.DataFrame, spec: str, unit: str, where: str) -> pd.Series:
    f, col, name = covariate_spec(spec)
    if f == "pre":
        return vt[name]
    if col not in vt.columns:
        raise ValueError(f"{where}: covariate {spec!r} needs column {col!r} in the village table")
    x = pd.to_numeric(vt[col], errors="coerce").astype(float)
    bad_text = x.isna() & vt[col].notna()
    if bad_text.any():
        i = int(np.flatnonzero(bad_text.to_numpy())[0])
        raise ValueError(f"{where}: column {col!r} of village {vt[unit].iloc[i]!r} is not a number "
                         f"({vt[col].iloc[i]!r})")
    if f == "log":
        bad = x <= 0
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{where}: {spec!r} needs {col!r} > 0; village {vt[unit].iloc[i]!r} has "
                             f"{x.iloc[i]:g} (use log1p({col}) for values that may be 0)")
        return pd.Series(np.log(x.to_numpy()), index=x.index)
    if f == "log1p":
        bad = x <= -1
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{where}: {spec!r} needs {col!r} > −1; village {vt[unit].iloc[i]!r} has {x.iloc[i]:g}")
        return pd.Series(np.log1p(x.to_numpy()), index=x.index)
    return x


def prepare_scaleup(cells: pd.DataFrame, villages: pd.DataFrame, plan: AnalysisPlan) -> ScaleupData:
    """Merge the village table's cohort and covariates onto the cells (see the module docstring).

    Raises
    ------
    ValueError
        Missing columns, duplicate villages or village × year cells, cells of villages absent from the village
        table, covariates that are missing, not numeric or outside the transform's domain (the message names
        the village), ``pre(y)`` without a pre-adoption year.
    """
    su = plan.scaleup
    if not isinstance(cells, pd.DataFrame) or not isinstance(villages, pd.DataFrame):
        raise ValueError("scaleup: cells and villages must be pandas DataFrames")
    variables = list(su.reduced_variables)
    _require(cells, [su.unit, su.time, "n_rows", moment_name(), *[moment_name(v) for v in variables]],
             "scaleup cells (reduce the household rows with the plan's outcomes and household covariates)")
    _require(villages, [su.unit, su.cohort], "scaleup village table")
    if cells.empty:
        raise ValueError("scaleup: the cells are empty (no household rows were reduced)")
    cells = cells.reset_index(drop=True).copy()
    cells[su.unit] = _unit_text(cells[su.unit])
    dup = cells.duplicated([su.unit, su.time])
    if dup.any():
        r = cells.loc[dup].iloc[0]
        raise ValueError(f"scaleup cells: more than one cell for {su.unit} {r[su.unit]!r}, {su.time} {r[su.time]}")
    vt = villages.reset_index(drop=True).copy()
    vt[su.unit] = _unit_text(vt[su.unit])
    if vt[su.unit].isna().any():
        raise ValueError(f"scaleup village table: {int(vt[su.unit].isna().sum())} row(s) without {su.unit!r}")
    dup_v = vt[su.unit].duplicated()
    if dup_v.any():
        raise ValueError(f"scaleup village table: village {vt.loc[dup_v, su.unit].iloc[0]!r} appears more than once")
    # the cells' villages must all be in the village table
    known = set(vt[su.unit].dropna())
    absent = ~cells[su.unit].isin(known)
    if absent.any():
        first_absent = cells.loc[absent, su.unit].iloc[0]
        raise ValueError(
            f"scaleup: {int(cells.loc[absent, su.unit].nunique())} village(s) with household rows are not in the "
            f"village table (first {first_absent!r}); add them (cohort 0 if they never adopted) or drop their rows"
        )
    coh = pd.to_numeric(vt[su.cohort], errors="coerce")
    if (coh.isna() & vt[su.cohort].notna()).any():
        i = int(np.flatnonzero((coh.isna() & vt[su.cohort].notna()).to_numpy())[0])
        raise ValueError(f"scaleup village table: cohort {vt[su.cohort].iloc[i]!r} of village {vt[su.unit].iloc[i]!r} "
                         "is not a year (use 0 or leave empty for never adopted)")
    vt[su.cohort] = coh.fillna(0).astype(float)
    years = np.unique(cells[su.time].to_numpy(dtype=float))
    adopt = vt[su.cohort].to_numpy()
    in_data = adopt[(adopt > years.min()) & (adopt <= years.max())]
    first = float(in_data.min()) if in_data.size else float("nan")

    specs = list(su.covariates)
    m_specs = list(su.matching.covariates)
    pre_vars = [covariate_spec(s)[1] for s in dict.fromkeys([*specs, *m_specs]) if covariate_spec(s)[0] == "pre"]
    pre = _pre_means(cells, su, list(dict.fromkeys(pre_vars)), first)
    if pre_vars:
        vt = vt.merge(pre, on=su.unit, how="left", validate="one_to_one")
    names: list[str] = []
    for spec in dict.fromkeys([*specs, *m_specs]):
        name = covariate_spec(spec)[2]
        vt[name] = _transform(vt, spec, su.unit, "scaleup").to_numpy(dtype=float)
        names.append(name)
    cov_names = [covariate_spec(s)[2] for s in specs]
    m_names = [covariate_spec(s)[2] for s in m_specs]

    carry = [su.cohort, *cov_names]
    if su.cluster != su.unit and su.cluster not in cells.columns:
        _require(vt, [su.cluster], f"scaleup: cluster {su.cluster!r} is neither in the cells nor")
        carry.append(su.cluster)
    carry = list(dict.fromkeys(carry))
    clash = [c for c in carry if c in cells.columns]
    merged = cells.merge(vt[[su.unit, *carry]], on=su.unit, how="left", validate="many_to_one",
                         suffixes=("", "__village"))
    for c in clash:
        a, b = merged[c], merged[f"{c}__village"]
        if c == su.cohort:
            a = pd.to_numeric(a, errors="coerce").fillna(0)
        differ = ~((a.astype(str) == b.astype(str)) | (pd.to_numeric(a, errors="coerce") == pd.to_numeric(b, errors="coerce")))
        if differ.any():
            r = merged.loc[differ].iloc[0]
            raise ValueError(f"scaleup: column {c!r} of the cells ({r[c]!r}) differs from the village table "
                             f"({r[f'{c}__village']!r}) for village {r[su.unit]!r}")
        merged = merged.drop(columns=f"{c}__village")
    for c in cov_names:
        na = merged[c].isna()
        if na.any():
            v = merged.loc[na, su.unit].iloc[0]
            raise ValueError(f"scaleup: covariate {c!r} is missing for {int(merged.loc[na, su.unit].nunique())} "
                             f"village(s) with household rows (first {v!r}); impute it explicitly or change "
                             "scaleup.covariates")
    notes = []
    no_rows = len(known - set(cells[su.unit]))
    if no_rows:
        notes.append(f"{no_rows} village(s) of the village table have no household rows and are not in the cells")
    keep_cols = [c for c in (su.province, su.matching.exact, su.matching.eligible, "region") if c and c in vt.columns]
    vt_out = vt[list(dict.fromkeys([su.unit, su.cohort, *keep_cols, *names]))].copy()
    return ScaleupData(cells=merged, villages=vt_out, covariates=[*cov_names, *su.household_covariates],
                       village_covariates=cov_names, matching_covariates=m_names, years=years, first_cohort=first,
                       notes=notes)


def describe_rollout(data: ScaleupData, plan: AnalysisPlan) -> dict[str, pd.DataFrame]:
    """``scaleup_summary`` (one row), ``scaleup_cohorts`` (per cohort) and ``scaleup_trends`` (household-weighted
    means of each outcome by cohort × year)."""
    su = plan.scaleup
    c = data.cells
    g = c.groupby(su.cohort, sort=True)
    per_village_year = c.groupby([su.cohort, su.unit], sort=True)[moment_name()].mean().groupby(level=0).sum()
    cohorts = pd.DataFrame({
        "cohort": g[su.unit].nunique().index.to_numpy(dtype=float),
        "n_villages": g[su.unit].nunique().to_numpy(dtype=np.int64),
        "n_households": per_village_year.to_numpy(dtype=float),
        "n_rows": g["n_rows"].sum().to_numpy(dtype=np.int64),
        "n_cells": g.size().to_numpy(dtype=np.int64),
    })
    cohorts["never_treated"] = cohorts["cohort"] == 0
    rows = []
    for o in su.outcomes:
        t = c.groupby([su.cohort, su.time], sort=True)[[moment_name(), moment_name(o), "n_rows"]].sum()
        n_v = c.groupby([su.cohort, su.time], sort=True)[su.unit].nunique()
        for (gv, tv), sw, swy, nr, nv in zip(t.index, t[moment_name()], t[moment_name(o)], t["n_rows"], n_v,
                                              strict=True):
            rows.append({"outcome": o, "cohort": float(gv), "time": float(tv), "mean": swy / sw, "sum_w": sw,
                         "n_rows": int(nr), "n_villages": int(nv)})
    trends = pd.DataFrame(rows)
    adopters = data.villages[su.cohort] > 0
    summary = pd.DataFrame([{
        "n_villages": int(c[su.unit].nunique()), "n_villages_table": len(data.villages),
        "n_adopters": int((c.drop_duplicates(su.unit)[su.cohort] > 0).sum()),
        "n_adopters_table": int(adopters.sum()), "n_cells": len(c), "n_rows": int(c["n_rows"].sum()),
        "sum_w": float(c[moment_name()].sum()), "first_year": float(data.years.min()),
        "last_year": float(data.years.max()), "n_years": int(data.years.size),
        "first_cohort": data.first_cohort, "outcomes": ", ".join(su.outcomes), "headline": su.headline,
        "covariates": ", ".join(su.covariates), "household_covariates": ", ".join(su.household_covariates),
        "control": su.control, "method": su.method, "base_period": su.base_period,
        "anticipation": su.anticipation, "cluster": su.cluster, "draws": su.draws, "level": su.level,
    }])
    return {"scaleup_summary": summary, "scaleup_cohorts": cohorts, "scaleup_trends": trends}


# --------------------------------------------------------------------------------------------------
# 2. Group-time effects on the cells
# --------------------------------------------------------------------------------------------------
def _seed(plan: AnalysisPlan) -> int:
    return int(plan.scaleup.seed if plan.scaleup.seed is not None else plan.seed)


def _att_gt_cells(cells: pd.DataFrame, outcome: str, data: ScaleupData, plan: AnalysisPlan, *,
                  method: str | None = None) -> Any:
    su = plan.scaleup
    return att_gt(cells, outcome=outcome, unit=su.unit, time=su.time, cohort=su.cohort, cells=True,
                  covariates=data.covariates or None, method=method or su.method, control=su.control,
                  base_period=su.base_period, anticipation=su.anticipation, cluster=su.cluster, level=su.level,
                  draws=su.draws, seed=_seed(plan))


def _aggregate(res: Any, kind: str, su: ScaleupPlan) -> pd.DataFrame:
    kw: dict[str, Any] = {}
    if kind == "dynamic":
        kw = {"min_e": -np.inf if su.min_e is None else su.min_e, "max_e": np.inf if su.max_e is None else su.max_e,
              "balance_e": su.balance_e}
    elif su.max_e is not None and kind in ("simple", "group"):
        kw = {"max_e": su.max_e}
    return res.aggregate(kind, **kw).tidy()


def _notes_rows(outcome: str, estimator: str, notes: Sequence[str]) -> list[dict[str, str]]:
    return [{"outcome": outcome, "estimator": estimator, "note": str(n)} for n in notes]


def staggered_effects(data: ScaleupData, plan: AnalysisPlan, *, outcomes: Sequence[str] | None = None,
                      results: dict[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """ATT(g,t), aggregations and pre-trend tests of every outcome on the cells.

    ``results`` (optional dict) receives the :class:`~welfare_eval.did.staggered.ATTgtResult` per outcome.
    """
    su = plan.scaleup
    att, aggs, pre, notes = [], [], [], []
    for o in outcomes if outcomes is not None else su.outcomes:
        res = _att_gt_cells(data.cells, o, data, plan)
        if results is not None:
            results[o] = res
        att.append(res.tidy().assign(outcome=o))
        for kind in su.aggregations:
            aggs.append(_aggregate(res, kind, su).assign(outcome=o))
        try:
            pre.append(res.pretrend_test().assign(outcome=o))
        except ValueError as exc:
            notes += _notes_rows(o, "cs_cells", [f"no pre-trend test: {exc}"])
        notes += _notes_rows(o, "cs_cells", res.notes())
    first = ["outcome"]
    return {
        "scaleup_att_gt": _front(pd.concat(att, ignore_index=True), first),
        "scaleup_aggregates": _front(pd.concat(aggs, ignore_index=True), first),
        "scaleup_pretrend": _front(pd.concat(pre, ignore_index=True), first) if pre else
        pd.DataFrame(columns=["outcome", "term", "method", "statistic", "df", "p_value", "n_clusters"]),
        "_notes": pd.DataFrame(notes, columns=["outcome", "estimator", "note"]),
    }


def _front(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    return df[[*cols, *[c for c in df.columns if c not in cols]]]


# --------------------------------------------------------------------------------------------------
# 3. Matching adopters within province
# --------------------------------------------------------------------------------------------------
def match_expansion(data: ScaleupData, plan: AnalysisPlan) -> tuple[dict[str, pd.DataFrame], Any]:
    """Adopters matched to never-treated villages (``scaleup.matching``); returns the tables and the
    :class:`~welfare_eval.match.MatchResult` (``None`` when the plan has no matching covariates)."""
    su, m = plan.scaleup, plan.scaleup.matching
    if not data.matching_covariates:
        return {}, None
    vt = data.villages
    # only villages with household rows take part (a village without rows has no outcome to compare)
    vt = vt[vt[su.unit].isin(set(data.cells[su.unit]))].reset_index(drop=True)
    eligible = m.eligible if m.eligible and m.eligible in vt.columns else None
    if m.eligible and eligible is None:
        raise ValueError(f"scaleup.matching.eligible: column {m.eligible!r} is not in the village table "
                         "(set it to null to use every never-treated village)")
    if m.exact and m.exact not in vt.columns:
        raise ValueError(f"scaleup.matching.exact: column {m.exact!r} is not in the village table")
    res = match_adopters(vt, covariates=data.matching_covariates, cohort=su.cohort, exact=m.exact,
                         eligible=eligible, ratio=m.ratio, method=m.method, seed=_seed(plan), id_col=su.unit,
                         missing="exclude", n_reserves=0)
    pairs = res.pairs.copy()
    unmatched = res.unmatched.copy()
    adopters = vt[vt[su.cohort] > 0]
    per = adopters.groupby(su.cohort).size()
    pc = pairs["cohort"].to_numpy(dtype=float)
    excl = res.excluded if isinstance(res.excluded, pd.DataFrame) else pd.DataFrame()
    n_excl_t = int((excl["treated"] == 1).sum()) if len(excl) and "treated" in excl.columns else 0
    summary = pd.DataFrame({"cohort": per.index.to_numpy(dtype=float), "n_adopters": per.to_numpy(dtype=np.int64)})
    summary["n_matched"] = [int(pairs.loc[pc == g, "treated_id"].nunique()) for g in summary["cohort"]]
    summary["n_unmatched"] = summary["n_adopters"] - summary["n_matched"]
    summary["n_comparison_villages"] = [int(pairs.loc[pc == g, "control_id"].nunique()) for g in summary["cohort"]]
    tables = {"scaleup_balance": res.balance().tidy(), "scaleup_pairs": pairs, "scaleup_unmatched": unmatched,
              "scaleup_matching": summary}
    notes = [*res.notes()] if hasattr(res, "notes") else []
    if n_excl_t or len(excl):
        notes.append(f"{len(excl)} village(s) left out of the matching for missing covariates "
                     f"({n_excl_t} adopter(s)); see scaleup_unmatched")
    tables["_notes"] = pd.DataFrame(_notes_rows(su.headline, "matching", notes), columns=["outcome", "estimator", "note"])
    return tables, res


# --------------------------------------------------------------------------------------------------
# 4. Estimators side by side (headline outcome)
# --------------------------------------------------------------------------------------------------
def village_panel(data: ScaleupData, plan: AnalysisPlan, outcome: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The village × year panel of household-weighted village means of ``outcome`` (villages observed in every
    year), with the covariates and their × year terms; returns (panel, × year column names, notes)."""
    su = plan.scaleup
    c = data.cells
    n_years = data.years.size
    counts = c.groupby(su.unit, sort=False)[su.time].nunique()
    full = counts.index[counts.to_numpy() == n_years]
    notes = []
    if full.size < counts.size:
        notes.append(f"village panel: {counts.size - full.size} village(s) without household rows in every year "
                     f"left out (balanced panel of {full.size} villages × {n_years} years)")
    cols = [su.unit, su.time, su.cohort, *data.village_covariates,
            *([su.cluster] if su.cluster != su.unit else [])]
    p = c.loc[c[su.unit].isin(set(full)), list(dict.fromkeys(cols))].reset_index(drop=True)
    sel = c[su.unit].isin(set(full)).to_numpy()
    p[outcome] = (c.loc[sel, moment_name(outcome)].to_numpy(dtype=float) / c.loc[sel, moment_name()].to_numpy(dtype=float))
    if su.panel_weights == "households":
        p[_HH_WEIGHT] = c.loc[sel].groupby(su.unit, sort=False)[moment_name()].transform("mean").to_numpy(dtype=float)
    by_year = []
    t = p[su.time].to_numpy(dtype=float)
    for cov in data.village_covariates:
        x = p[cov].to_numpy(dtype=float)
        x = x - x.mean()
        for s in data.years[1:]:
            name = f"{cov}__x__{s:g}"
            p[name] = np.where(t == s, x, 0.0)
            by_year.append(name)
    return p, by_year, notes


def _rows(tab: pd.DataFrame, estimator: str, **extra: Any) -> pd.DataFrame:
    keep = [c for c in ("term", "event_time", "estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high",
                        "band_low", "band_high", "n_obs", "n_clusters") if c in tab.columns]
    out = tab[keep].copy()
    out.insert(0, "estimator", estimator)
    for k, v in extra.items():
        out[k] = v
    return out


def _cs_rows(res: Any, su: ScaleupPlan, estimator: str, **extra: Any) -> pd.DataFrame:
    """Event-time rows (dynamic aggregation, with its band) and the overall row (the simple aggregation: the
    average over treated cohort-periods, the definition the regression estimators' overall rows share)."""
    dyn = _aggregate(res, "dynamic", su)
    dyn = dyn[dyn["term"] != "overall"]
    simple = _aggregate(res, "simple", su)
    return pd.concat([_rows(dyn, estimator, **extra), _rows(simple, estimator, **extra)], ignore_index=True)


def _label(v: Any) -> str:
    if isinstance(v, str):
        return v
    return "never" if float(v) == 0 else f"{float(v):g}"


def compare_estimators(data: ScaleupData, plan: AnalysisPlan, *, cells_result: Any = None,
                       matched_units: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Callaway–Sant'Anna (cells, panel, matched), Sun–Abraham, imputation and TWFE on the headline outcome,
    and the Bacon decomposition (see the module docstring)."""
    su = plan.scaleup
    o = su.headline
    frames: list[pd.DataFrame] = []
    notes: list[dict[str, str]] = []
    covs = ", ".join(data.covariates)
    adj = "covariates" if covs else "none"
    res = cells_result if cells_result is not None else _att_gt_cells(data.cells, o, data, plan)
    frames.append(_cs_rows(res, su, "cs_cells", sample="cells", weighting="households", adjustment=adj,
                           covariates=covs))
    steps = [e for e in su.compare]
    panel_needed = any(e in steps for e in ("cs_panel", "sunab", "imputation", "twfe"))
    bacon = pd.DataFrame(columns=["outcome", "type", "treated", "control", "estimate", "weight"])
    if panel_needed:
        p, by_year, pnotes = village_panel(data, plan, o)
        notes += _notes_rows(o, "village_panel", pnotes)
        w = _HH_WEIGHT if su.panel_weights == "households" else None
        wlab = "households" if w else "villages"
        cl = su.cluster
        common: dict[str, Any] = {"outcome": o, "unit": su.unit, "time": su.time, "cohort": su.cohort, "weights": w, "cluster": cl}
        vcovs = ", ".join(data.village_covariates)
        xadj = "covariates_by_year" if by_year else "none"
        for est in steps:
            if est == "cs_panel":
                r = att_gt(p, **common, covariates=data.village_covariates or None, method=su.method,
                           control=su.control, base_period=su.base_period, anticipation=su.anticipation,
                           level=su.level, draws=su.draws, seed=_seed(plan), panel=True)
                frames.append(_cs_rows(r, su, "cs_panel", sample="village panel", weighting=wlab,
                                       adjustment="covariates" if vcovs else "none", covariates=vcovs))
                notes += _notes_rows(o, est, r.notes())
            elif est == "sunab":
                r = sunab(p, **common, covariates=by_year or None, level=su.level)
                frames.append(_rows(r.tidy(), "sunab", sample="village panel", weighting=wlab, adjustment=xadj,
                                    covariates=vcovs))
                notes += _notes_rows(o, est, r.notes())
            elif est == "imputation":
                r = imputation(p, **common, covariates=by_year or None, anticipation=su.anticipation, level=su.level)
                frames.append(_rows(r.tidy(), "imputation", sample="village panel", weighting=wlab, adjustment=xadj,
                                    covariates=vcovs))
                notes += _notes_rows(o, est, r.notes())
            elif est == "twfe":
                r = twfe(p, **common, covariates=by_year or None, level=su.level)
                frames.append(_rows(r.tidy().assign(term="overall", event_time=np.nan), "twfe",
                                    sample="village panel", weighting=wlab, adjustment=xadj, covariates=vcovs))
                notes += _notes_rows(o, est, r.notes())
                r0 = twfe(p, **common | {"weights": None}, level=su.level)
                frames.append(_rows(r0.tidy().assign(term="overall", event_time=np.nan), "twfe_unadjusted",
                                    sample="village panel", weighting="villages", adjustment="none", covariates=""))
                notes += _notes_rows(o, "twfe_unadjusted", r0.notes())
                try:
                    d = r0.decomposition()
                except ValueError as exc:
                    notes += _notes_rows(o, "bacon", [str(exc)])
                else:
                    bacon = d.assign(outcome=o, treated=[_label(v) for v in d["treated"]],
                                     control=[_label(v) for v in d["control"]])
                    bacon = _front(bacon, ["outcome"])
    if "cs_matched" in steps and matched_units is not None:
        sub = data.cells[data.cells[su.unit].isin(set(matched_units))].reset_index(drop=True)
        # matching balanced the covariates (the propensity part); the regression adjustment removes what is
        # left (matching + regression, Abadie & Imbens 2011), without a propensity model on a small sample
        r = _att_gt_cells(sub, o, data, plan, method="reg")
        frames.append(_cs_rows(r, su, "cs_matched", sample="cells of matched villages", weighting="households",
                               adjustment="matching_and_covariates" if covs else "matching", covariates=covs))
        notes += _notes_rows(o, "cs_matched", r.notes())
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "outcome", o)
    return {"scaleup_compare": out, "scaleup_bacon": bacon,
            "_notes": pd.DataFrame(notes, columns=["outcome", "estimator", "note"])}


# --------------------------------------------------------------------------------------------------
# 5. Sensitivity to violations of parallel trends (headline outcome)
# --------------------------------------------------------------------------------------------------
_SENS_COLUMNS = ["outcome", "restriction", "term", "event_time", "bound", "estimate", "id_low", "id_high", "ci_low",
                 "ci_high"]


def sensitivity(data: ScaleupData, plan: AnalysisPlan, *, cells_result: Any = None) -> dict[str, pd.DataFrame]:
    """HonestDiD-style sensitivity of the headline event study (``scaleup.sensitivity_mbar`` / ``_m``).

    Rambachan & Roth (2023) need event-time effects relative to one reference period, so the cells estimate is
    refitted with ``base_period="universal"`` unless the plan already uses it. Rows ``relative_magnitudes``
    (per post event time and M̄: identified set at the estimates and the projection CI over the uniform band,
    :meth:`~welfare_eval.did.staggered.AggregateResult.sensitivity`) and ``smoothness`` (fixed-length CI of the
    first post period under Δ^SD(M), :meth:`~welfare_eval.did.staggered.AggregateResult.flci`).
    """
    su = plan.scaleup
    o = su.headline
    notes: list[dict[str, str]] = []
    if not su.sensitivity_mbar and not su.sensitivity_m:
        return {"scaleup_sensitivity": pd.DataFrame(columns=_SENS_COLUMNS), "_notes": pd.DataFrame()}
    res = cells_result if cells_result is not None and su.base_period == "universal" else att_gt(
        data.cells, outcome=o, unit=su.unit, time=su.time, cohort=su.cohort, cells=True,
        covariates=data.covariates or None, method=su.method, control=su.control, base_period="universal",
        anticipation=su.anticipation, cluster=su.cluster, level=su.level, draws=su.draws, seed=_seed(plan))
    agg = res.aggregate("dynamic", min_e=-np.inf if su.min_e is None else su.min_e,
                        max_e=np.inf if su.max_e is None else su.max_e, balance_e=su.balance_e)
    est = agg.tidy().set_index("term")["estimate"]
    rows: list[pd.DataFrame] = []
    try:
        if su.sensitivity_mbar:
            rm = agg.sensitivity(mbar=tuple(su.sensitivity_mbar))
            rows.append(pd.DataFrame({
                "restriction": "relative_magnitudes", "term": rm["term"],
                "event_time": [float(t[2:]) for t in rm["term"]], "bound": rm["mbar"].astype(float),
                "estimate": [float(est[t]) for t in rm["term"]], "id_low": rm["id_low"], "id_high": rm["id_high"],
                "ci_low": rm["ci_low"], "ci_high": rm["ci_high"]}))
        if su.sensitivity_m:
            fl = agg.flci(m=tuple(su.sensitivity_m))
            rows.append(pd.DataFrame({
                "restriction": "smoothness", "term": "e=0", "event_time": 0.0, "bound": fl["M"].astype(float),
                "estimate": fl["estimate"], "id_low": np.nan, "id_high": np.nan, "ci_low": fl["ci_low"],
                "ci_high": fl["ci_high"]}))
    except ValueError as exc:
        notes += _notes_rows(o, "sensitivity", [f"no sensitivity analysis: {exc}"])
    notes += _notes_rows(o, "sensitivity", [
        "event-time effects relative to e = -1 (att_gt with base_period universal); relative magnitudes: projection "
        "CIs over the uniform band (conservative; not HonestDiD's conditional/hybrid interval)"])
    out = pd.concat(rows, ignore_index=True).assign(outcome=o) if rows else pd.DataFrame(columns=_SENS_COLUMNS)
    return {"scaleup_sensitivity": out[_SENS_COLUMNS],
            "_notes": pd.DataFrame(notes, columns=["outcome", "estimator", "note"])}


# --------------------------------------------------------------------------------------------------
# The whole step
# --------------------------------------------------------------------------------------------------
def analyze_scaleup(cells: pd.DataFrame, villages: pd.DataFrame, plan: AnalysisPlan | None = None, *,
                    seed: int | None = None, outcomes: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Result tables of the expansion from the cells, the village table and the plan (module docstring).

    Parameters
    ----------
    cells : DataFrame
        Village × year cells of the household rows (:func:`welfare_eval.scale.reduce_cells` with keys
        ``[unit, time]``, the plan's outcomes and household covariates as variables, the household weights,
        and the province carried).
    villages : DataFrame
        The village table: ``unit``, ``cohort`` (adoption year, 0 or missing = never), the covariate columns,
        and the province / eligibility columns the matching uses.
    plan : AnalysisPlan, optional
        Default :func:`~welfare_eval.study.default_plan`; its ``scaleup`` section drives everything.
    seed : int, optional
        Overrides the plan's seed (``scaleup.seed``, else ``seed``).
    outcomes : sequence of str, optional
        Estimate only these of ``scaleup.outcomes`` (default all).

    Returns
    -------
    dict of DataFrame
        Parquet-safe tables named in :data:`RESULT_TABLES`.
    """
    plan = default_plan() if plan is None else plan
    if seed is not None:
        plan = plan.replace(scaleup={"seed": int(seed)})
    su = plan.scaleup
    if outcomes is not None:
        unknown = [o for o in outcomes if o not in su.outcomes]
        if unknown:
            raise ValueError(f"scaleup: outcome {unknown[0]!r} is not in scaleup.outcomes {list(su.outcomes)}")
    with single_blas_thread():
        return _analyze(cells, villages, plan, outcomes)


def _analyze(cells: pd.DataFrame, villages: pd.DataFrame, plan: AnalysisPlan,
             outcomes: Sequence[str] | None) -> dict[str, pd.DataFrame]:
    su = plan.scaleup
    steps = ["design", "effects", "matching", "compare", "sensitivity"]
    bar = iter(progress(steps, desc="scale-up analysis", total=len(steps)))
    next(bar)
    data = prepare_scaleup(cells, villages, plan)
    out: dict[str, pd.DataFrame] = describe_rollout(data, plan)
    notes = [pd.DataFrame(_notes_rows("", "design", data.notes), columns=["outcome", "estimator", "note"])]
    next(bar)
    fitted: dict[str, Any] = {}
    eff = staggered_effects(data, plan, outcomes=outcomes, results=fitted)
    notes.append(eff.pop("_notes"))
    out.update(eff)
    next(bar)
    mt, mres = match_expansion(data, plan)
    if mt:
        notes.append(mt.pop("_notes"))
        out.update(mt)
    next(bar)
    want = outcomes is None or su.headline in outcomes
    if want and su.compare:
        units = None
        if mres is not None and len(mres.pairs):
            units = pd.concat([mres.pairs["treated_id"], mres.pairs["control_id"]]).astype(str).unique().tolist()
        cmp_ = compare_estimators(data, plan, cells_result=fitted.get(su.headline), matched_units=units)
        notes.append(cmp_.pop("_notes"))
        out.update(cmp_)
    next(bar)
    if want:
        sens = sensitivity(data, plan, cells_result=fitted.get(su.headline))
        notes.append(sens.pop("_notes"))
        out.update(sens)
    for _ in bar:
        pass
    out["scaleup_notes"] = pd.concat([n for n in notes if len(n)], ignore_index=True) if any(len(n) for n in notes) \
        else pd.DataFrame(columns=["outcome", "estimator", "note"])
    for name in RESULT_TABLES:
        out.setdefault(name, pd.DataFrame())
    return {k: parquet_safe(out[k]) for k in RESULT_TABLES}

