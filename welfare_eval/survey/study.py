"""The study's household weights and weighted descriptive tables (issue 5), built on :mod:`welfare_eval.survey`.

Sampling design of the household survey
---------------------------------------
* Stage 1: the 36 study villages (18 pilots, one per inspection region, and 18 matched comparison
  villages) are chosen purposively, not at random. They are **certainty PSUs**: selection probability 1.
* Stage 2: in every wave a simple random sample without replacement of ``n`` (= ``n_sampled``, 30) of the
  village's ``N`` (= ``n_population``) households. Households that leave the panel are replaced by a
  fresh random draw from the village, so every wave is again an SRS of ``n`` of ``N`` (exchangeable
  procedure, see :func:`welfare_eval.simulate.sample_village`): base weight ``N / n`` in every wave.

Weights (``weights_pipeline``), per wave
----------------------------------------
1. ``base``: ``N / n``.
2. ``nonresponse``: unit nonresponse adjusted within weighting classes village × wave (respondents
   carry the weight of the class's nonrespondents; nonrespondents keep weight 0 and stay in the design).
3. ``calibrate``: post-stratification to the known number of households ``N`` of each village (and wave).
   Because the base weights of a village's sample add to ``n * N / n = N`` and the nonresponse step keeps
   the class totals, the weights already add to ``N``: the step is a check (all factors 1 to rounding)
   that records itself in the audit; it would bite if the classes were changed (e.g. propensity classes).
4. ``rake`` (optional, off by default): raking within village × wave to the number of farming
   households ``N * share_farm`` from the CDD village data. Off by default because ``share_farm`` is a
   village-level statistic of another source and reference date, not a count of the sampled population
   (in the demo, each household farms with probability ``share_farm``, so the "margin" is off by
   sampling noise and raking to it would add bias, not remove it). The villages/frame tables carry no
   other household-level margins (``share_elderly`` is a share of persons, ``mean_income`` a mean).
5. ``trim``: only if the largest weight exceeds ``trim_ratio`` × the median (default 3.5); with
   within-village SRS the weights only vary between villages (N/n) and trimming is not needed.

Panel (longitudinal) weights: households of the baseline sample followed to the endline. Base ``N / n``
on the baseline sample, baseline nonresponse within village, then :func:`~welfare_eval.survey.adjust_attrition`
within village (retained = interviewed at baseline and at endline). Cross-sectional weights need no
attrition adjustment because leavers are replaced by a random draw.

Variance (``inference``)
------------------------
``"finite"`` (default for the descriptive tables): inference to the households of these 36 villages
(the villages are purposive, so they are not a sample of anything). Villages are certainty PSUs; the
variance is that of stratified SRS of households with fpc ``1 - n/N``: strata = village × wave,
PSU = household, fpc = ``N``; df = respondents − strata (about 3,000 stacked, 1,000 per wave). With the
nonresponse linearisation, nonrespondents stay in the design (the survey module's ``nrclass`` step).
The change between waves uses a linked design (strata = village, PSU = household across waves,
sampling fraction ``n/N``) so that the panel households give the covariance between the waves; the
calibration to ``N`` per village × wave is kept there because it centres the influence values within
each wave (without it the village-level stratum would mix the two waves). The linked covariance
``(1 - n/N) sum_panel z_b z_e`` exceeds the exact covariance of two overlapping SRS (Tam 1984,
``S_12 (k / n^2 - 1/N)``) by ``S_12 (1 - k/n) / N``: about 1-4% of the variance of the change here (k/n about 0.8,
N about 260, household correlation between waves up to 0.7), so its SE is up to ~2% small.

Validation: hand computations (weighted means; the textbook stratified-SRS variance, Cochran 1977
5.7/6.11), and by simulation on the demo's finite population (:func:`census_population`,
:func:`coverage_simulation`): 95% CIs of the means by arm × wave of any_welfare, savings and qol_index
covered the population values in 95.0% of 200 repeated samples (pooled over 18 estimands; changes
93.3%); of savings, qol_index and self_reliance_index in 94.3% of 400 (changes 94.5%).

``"pairs"``: the design of the impact analysis, PSU = village, strata = matched pair, no fpc
(with-replacement approximation at stage 1, which also covers the household stage): df = 36 − 18 = 18.
Its intervals describe a superpopulation of villages like these; they are wider and over-cover the
finite-population values of the 36 villages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.survey.design import Design, DesignError
from welfare_eval.survey.waves import adjust_attrition, change
from welfare_eval.survey.weighting import adjust_nonresponse, poststratify, rake, trim

__all__ = [
    "INFERENCE",
    "OUTCOMES",
    "STEPS",
    "census_population",
    "changes",
    "coverage_simulation",
    "design_summary",
    "household_design",
    "panel_design",
    "receipt_wide",
    "weight_distribution",
    "weighted_tables",
    "weights_pipeline",
]

Inference = Literal["finite", "pairs"]
#: Variance options (see the module docstring).
INFERENCE: tuple[str, ...] = ("finite", "pairs")
#: Weighting steps in the order they are applied.
STEPS: tuple[str, ...] = ("base", "nonresponse", "calibrate", "rake", "trim")
#: Default steps of the study's weights.
DEFAULT_STEPS: tuple[str, ...] = ("base", "nonresponse", "calibrate", "trim")
#: Household outcomes of the descriptive tables.
OUTCOMES: tuple[str, ...] = (
    "any_welfare",
    "n_welfare_types",
    "welfare_amount",
    "savings",
    "debt",
    "qol_index",
    "self_reliance_index",
    "member_savings_group",
    "member_welfare_fund",
    "member_village_fund",
)
_WAVES = tuple(ref.WAVES)
_NEEDED = ("hh_id", "village_id", "pair_id", "arm", "wave", "interviewed", "n_population", "n_sampled")


_FLAG = "welfare_eval.survey.study.prepared"


def _prepare(households: pd.DataFrame) -> pd.DataFrame:
    if households.attrs.get(_FLAG) and {"w_base", "_class", "_frac"} <= set(households.columns):
        return households.copy()  # already checked and prepared here
    missing = [c for c in _NEEDED if c not in households.columns]
    if missing:
        raise ValueError(f"households table lacks column(s) {missing}: pass the processed households table")
    hh = households.copy()
    hh["wave"] = hh["wave"].astype(str)
    bad = sorted(set(hh["wave"]) - set(_WAVES))
    if bad:
        raise ValueError(f"households: unknown wave(s) {bad}; expected {list(_WAVES)}")
    hh["village_id"] = hh["village_id"].astype(str)
    hh["hh_id"] = hh["hh_id"].astype(str)
    hh["arm"] = hh["arm"].astype(str)
    hh["interviewed"] = hh["interviewed"].astype(int)
    for c in ("n_population", "n_sampled"):
        hh[c] = hh[c].astype(float)
    per = hh.groupby(["village_id", "wave"])[["n_population", "n_sampled"]].nunique()
    if (per > 1).any().any():
        v = per[(per > 1).any(axis=1)].index[0]
        raise ValueError(f"households: n_population / n_sampled vary within village × wave {v}")
    size = hh.groupby(["village_id", "wave"]).size()
    ns = hh.groupby(["village_id", "wave"])["n_sampled"].first()
    if (size != ns).any():
        v = size[size != ns].index[0]
        raise ValueError(
            f"households: village × wave {v} has {size[v]} rows but n_sampled = {ns[v]:g}; "
            "keep every sampled household (nonrespondents too) in the table"
        )
    hh["w_base"] = hh["n_population"] / hh["n_sampled"]
    hh["_class"] = hh["village_id"] + "|" + hh["wave"]
    hh["_frac"] = hh["n_sampled"] / hh["n_population"]
    out = hh.sort_values(["wave", "village_id", "hh_id"], kind="mergesort").reset_index(drop=True)
    out.attrs[_FLAG] = True
    return out


def _na_groups(d: Design, variables: Sequence[str]) -> list[list[str]]:
    """Variables with the same missing-value pattern among respondents (estimated together)."""
    resp = d.data["interviewed"].to_numpy() == 1
    groups: dict[bytes, list[str]] = {}
    for y in variables:
        groups.setdefault(np.packbits(d.data[y].isna().to_numpy()[resp]).tobytes(), []).append(y)
    return list(groups.values())


def _means(d: Design, variables: Sequence[str], by: Sequence[str], level: float) -> pd.DataFrame:
    """Domain means of numeric variables, batched by missing-value pattern; column ``outcome``."""
    parts = []
    for cols in _na_groups(d, variables):
        t = d.mean(cols, by=list(by), na_rm=True, level=level).tidy()
        parts.append(t.rename(columns={"term": "outcome"}))
    out = pd.concat(parts, ignore_index=True)
    return out[["outcome", *[c for c in out.columns if c != "outcome"]]]


def _make_design(hh: pd.DataFrame, inference: str, *, linked: bool = False) -> Design:
    if inference == "finite":
        if linked:
            # households across waves are the PSUs (panel households carry the covariance between
            # waves); sampling fraction n/N in every village (fpc 1 - n/N). Where n differs between
            # waves the smallest fraction is used (the larger fpc factor: conservative).
            hh = hh.assign(_frac=hh.groupby("village_id")["_frac"].transform("min"))
            return Design(hh, weights="w_base", strata="village_id", psu="hh_id", fpc="_frac")
        return Design(hh, weights="w_base", strata="_class", psu="hh_id", fpc="n_population", nest=True)
    if inference == "pairs":
        return Design(hh, weights="w_base", strata="pair_id", psu="village_id")
    raise ValueError(f"inference={inference!r}: use one of {', '.join(INFERENCE)}")


def _farm_margins(hh: pd.DataFrame, villages: pd.DataFrame) -> dict[Any, dict[str, dict[Any, float]]]:
    if "share_farm" not in villages.columns or "farm" not in hh.columns:
        raise ValueError("rake step: needs share_farm in villages and farm in households")
    share = villages.set_index(villages["village_id"].astype(str))["share_farm"].astype(float)
    out: dict[Any, dict[str, dict[Any, float]]] = {}
    for cls, g in hh.groupby("_class", sort=True):
        N = float(g["n_population"].iloc[0])
        s = float(share[g["village_id"].iloc[0]])
        out[cls] = {"_farm": {1: N * s, 0: N * (1 - s)}}
    return out


def household_design(
    households: pd.DataFrame,
    *,
    wave: str | None = None,
    steps: Sequence[str] = DEFAULT_STEPS,
    inference: Inference = "finite",
    villages: pd.DataFrame | None = None,
    trim_ratio: float = 3.5,
    linked: bool = False,
    keep_noop: bool = False,
) -> Design:
    """The weighted household design of one wave (or of all waves stacked).

    Parameters
    ----------
    households : DataFrame
        Processed households table: one row per sampled household × wave, nonrespondents included.
    wave : str, optional
        Keep one wave (``"baseline"``, ``"midline"``, ``"endline"``); default all waves stacked (each row
        with its own wave's weight).
    steps : sequence of str
        Weighting steps from :data:`STEPS`, applied in that order (``"base"`` is always first).
        ``"rake"`` needs ``villages`` (``share_farm``) and a ``farm`` column among respondents.
    inference : {"finite", "pairs"}
        Variance design (module docstring): ``"finite"`` = villages as certainty PSUs, SRS of households
        with fpc (strata village × wave, df = respondents − strata); ``"pairs"`` = PSU village, strata
        matched pair, df = 18.
    villages : DataFrame, optional
        Processed villages table (for the rake step).
    trim_ratio : float
        The trim step caps weights at ``trim_ratio`` × median weight, and only when some weight is above.
    linked : bool
        ``"finite"`` only: the design for changes between waves (strata village, PSU household across
        waves, fpc fraction ``n/N``).
    keep_noop : bool
        Record the calibration step even when it changes no weight (the weights already add to ``N``
        per village × wave). In the cross-sectional ``"finite"`` design such a step is variance-neutral
        and, by default, skipped for speed; the audit of :func:`weights_pipeline` keeps it.

    Returns
    -------
    Design
        ``design.data`` holds the households with ``w_base``; ``design.weights`` the final weights;
        ``design.audit()`` one row per step.
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"steps {unknown}: use steps from {list(STEPS)}")
    hh = _prepare(households)
    if wave is not None:
        if wave not in _WAVES:
            raise ValueError(f"wave={wave!r}: use one of {list(_WAVES)}")
        hh = hh[hh["wave"] == wave].reset_index(drop=True)
    if "rake" in steps:
        if inference == "pairs":
            raise ValueError("steps 'rake' and inference='pairs' do not go together: raking within the village "
                             "PSUs leaves no between-village variance; use inference='finite'")
        if villages is None:
            raise ValueError("steps include 'rake': pass villages= (the processed villages table)")
        resp = hh["interviewed"] == 1
        farm = pd.to_numeric(hh["farm"], errors="coerce") if "farm" in hh.columns else pd.Series(np.nan, index=hh.index)
        if farm[resp].isna().any():
            raise ValueError("rake step: farm is missing for some respondents; impute it or drop 'rake'")
        # nonrespondents (weight 0) get a placeholder level; they carry no weight in the margins
        hh["_farm"] = farm.fillna(0).astype(int)
    d = _make_design(hh, inference, linked=linked)
    if "nonresponse" in steps:
        d = adjust_nonresponse(d, "interviewed", classes="_class")
    if "calibrate" in steps and inference == "finite":
        # (pairs: the step is skipped. It changes no weight, see the module docstring, but its
        # linearisation within the village PSUs would remove the between-village variance that the
        # pairs design is there to measure: village totals of calibration residuals are all zero.)
        pop = hh.groupby("_class")["n_population"].first().to_dict()
        cls = hh["_class"].to_numpy()
        w = d.weights
        sums = pd.Series(w).groupby(cls).sum()
        noop = bool(np.allclose(sums.to_numpy(), sums.index.map(pop).to_numpy(dtype=float), rtol=1e-12, atol=0))
        if linked or keep_noop or not noop:
            # in the cross-sectional finite design the strata are the calibration cells, so a no-op
            # post-stratification is also variance-neutral (the constant d*u_c terms of the
            # nonresponse linearisation are centred away within strata; checked in the tests) and is
            # skipped for speed unless keep_noop; in the linked design (strata = village, both waves)
            # it removes those terms and is kept.
            d = poststratify(d, "_class", pop)
    if "rake" in steps:
        assert villages is not None
        d = rake(d, _farm_margins(hh, villages), by="_class")
    if "trim" in steps:
        w = d.weights
        pos = w[w > 0]
        cap = trim_ratio * float(np.median(pos))
        if pos.max() > cap:
            d = trim(d, upper=cap, strict=True)
    return d


def panel_design(
    households: pd.DataFrame,
    *,
    start: str = "baseline",
    end: str = "endline",
    inference: Inference = "finite",
) -> Design:
    """Longitudinal design of the ``start``-wave sample followed to ``end`` (attrition-adjusted weights).

    One row per household sampled in ``start``; the ``end`` values of the outcomes are added with the
    suffix ``_end``. Weights: ``N/n`` → nonresponse in ``start`` (village classes) →
    :func:`~welfare_eval.survey.adjust_attrition` in village classes, retained = interviewed in
    ``start`` and in ``end``. The weights of the retained households add to ``N`` per village.
    """
    hh = _prepare(households)
    a = hh[hh["wave"] == start].reset_index(drop=True)
    b = hh[hh["wave"] == end].set_index("hh_id")
    ok_end = b["interviewed"] == 1
    a["retained"] = (a["interviewed"].eq(1) & a["hh_id"].map(ok_end).fillna(False).astype(bool)).astype(int)
    num = [c for c in hh.columns if c in OUTCOMES]
    end_vals = b[num].add_suffix("_end")
    a = a.join(end_vals, on="hh_id")
    a["_class"] = a["village_id"]
    if inference == "finite":
        d = Design(a, weights="w_base", strata="village_id", psu="hh_id", fpc="n_population")
    else:
        d = _make_design(a, inference)
    d = adjust_nonresponse(d, "interviewed", classes="_class")
    return adjust_attrition(d, "retained", classes="_class")


def weights_pipeline(
    households: pd.DataFrame,
    villages: pd.DataFrame | None = None,
    frame: pd.DataFrame | None = None,
    *,
    steps: Sequence[str] = DEFAULT_STEPS,
    trim_ratio: float = 3.5,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Household weights of every wave and the audit of the weighting steps.

    Returns
    -------
    (DataFrame, DataFrame)
        The households (original row order) with ``w_base``, ``w_nonresponse`` (after the nonresponse
        step), ``w_final`` (0 for nonrespondents) and ``w_panel`` (baseline→endline longitudinal weight,
        on both rows of the households interviewed in both waves, else 0); and the audit: one row per
        wave × step (``wave``, ``step``, ``detail``, ``n_positive``, ``sum_w``, ``min_w``, ``max_w``,
        ``max_min_ratio``, ``cv_w``, ``kish_deff``, ``ess``), plus the panel's steps (wave
        ``"baseline→endline"``). ``frame`` is accepted for symmetry with the pipeline and not used (the
        villages table carries the frame's village data of the study villages).
    """
    del frame
    src = households.reset_index(drop=True)
    hh = _prepare(src)
    key = src["hh_id"].astype(str) + "|" + src["wave"].astype(str)
    audits = []
    w_nr = pd.Series(dtype=float)
    w_fin = pd.Series(dtype=float)
    for wv in _WAVES:
        if not (hh["wave"] == wv).any():
            continue
        d = household_design(hh, wave=wv, steps=steps, villages=villages, trim_ratio=trim_ratio, keep_noop=True)
        k = d.data["hh_id"] + "|" + d.data["wave"]
        w_fin = pd.concat([w_fin, pd.Series(d.weights, index=k.to_numpy())])
        nr = household_design(hh, wave=wv, steps=("base", "nonresponse"))
        w_nr = pd.concat([w_nr, pd.Series(nr.weights, index=k.to_numpy())])
        a = d.audit().tidy()
        a.insert(0, "wave", wv)
        audits.append(a)
    out = src.copy()
    out["w_base"] = (src["n_population"].astype(float) / src["n_sampled"].astype(float)).to_numpy()
    out["w_nonresponse"] = key.map(w_nr).to_numpy(dtype=float)
    out["w_final"] = key.map(w_fin).to_numpy(dtype=float)
    out["w_panel"] = 0.0
    waves = set(hh["wave"])
    if {"baseline", "endline"} <= waves:
        p = panel_design(hh)
        wp = pd.Series(p.weights, index=p.data["hh_id"].to_numpy())
        in_pair = src["wave"].astype(str).isin(["baseline", "endline"]).to_numpy()
        out.loc[in_pair, "w_panel"] = src.loc[in_pair, "hh_id"].astype(str).map(wp).fillna(0.0).to_numpy()
        a = p.audit().tidy()
        a.insert(0, "wave", "baseline→endline")
        audits.append(a)
    audit = pd.concat(audits, ignore_index=True)
    audit["step_no"] = audit.groupby("wave", sort=False).cumcount()
    return out, audit[["wave", "step_no", *[c for c in audit.columns if c not in ("wave", "step_no")]]]


#: Quantiles of the weight distribution table.
QUANTILES: tuple[float, ...] = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def weight_distribution(
    households: pd.DataFrame,
    villages: pd.DataFrame | None = None,
    *,
    steps: Sequence[str] = DEFAULT_STEPS,
    trim_ratio: float = 3.5,
) -> pd.DataFrame:
    """Distribution of the positive weights after each step, per wave (for box plots without microdata).

    One row per wave × step: ``n_positive``, ``mean``, ``q0`` (min), ``q5``, ``q25``, ``q50``, ``q75``,
    ``q95``, ``q100`` (max).
    """
    hh = _prepare(households)
    rows: list[dict[str, Any]] = []
    for wv in _WAVES:
        if not (hh["wave"] == wv).any():
            continue
        for k in range(1, len(steps) + 1):
            d = household_design(hh, wave=wv, steps=steps[:k], villages=villages, trim_ratio=trim_ratio, keep_noop=True)
            step = d.audit().tidy()["step"].iloc[-1]
            if k > 1 and rows and rows[-1]["wave"] == wv and rows[-1]["step"] == step:
                continue  # the requested step was not needed (e.g. trimming)
            w = d.weights
            w = w[w > 0]
            row: dict[str, Any] = {"wave": wv, "step": step, "n_positive": int(w.size), "mean": float(w.mean())}
            for q in QUANTILES:
                row[f"q{round(100 * q)}"] = float(np.quantile(w, q))
            rows.append(row)
    return pd.DataFrame(rows)


def receipt_wide(households: pd.DataFrame, benefits: pd.DataFrame) -> pd.DataFrame:
    """Households with one ``received_<code>`` column per welfare type (from the long benefits table).

    Nonrespondents have no benefit rows and get missing values; a respondent without a row for a type
    is an error (the benefits table must be complete for respondents).
    """
    codes = list(ref.welfare_types()["code"])
    b = benefits[["hh_id", "wave", "welfare_type", "received"]].copy()
    b["hh_id"] = b["hh_id"].astype(str)
    b["wave"] = b["wave"].astype(str)
    b["welfare_type"] = b["welfare_type"].astype(str)
    wide = b.pivot_table(
        index=["hh_id", "wave"], columns="welfare_type", values="received", aggfunc="first", observed=True
    )
    wide = wide.reindex(columns=codes)
    wide.columns = [f"received_{c}" for c in wide.columns]
    hh = households.copy()
    keys = pd.MultiIndex.from_arrays([hh["hh_id"].astype(str), hh["wave"].astype(str)])
    vals = wide.reindex(keys).astype(float)
    for c in vals.columns:
        hh[c] = vals[c].to_numpy()
    resp = hh["interviewed"].astype(int).to_numpy() == 1
    miss = vals.isna().to_numpy()[resp]
    if miss.any():
        i = int(np.flatnonzero(miss.any(axis=1))[0])
        row = hh[resp].iloc[i]
        raise ValueError(
            f"benefits: no receipt record for respondent {row['hh_id']} in wave {row['wave']}; "
            "the benefits table must hold all 9 welfare types of every interviewed household"
        )
    return hh


def _tidy(res: Any, **extra: Any) -> pd.DataFrame:
    t = res.tidy()
    for k, v in extra.items():
        t.insert(0, k, v)
    return t


def _domain_kish(d: Design, by: Sequence[str]) -> pd.DataFrame:
    w = d.weights
    data = d.data[list(by)].assign(_w=w)
    data = data[data["_w"] > 0]
    g = data.groupby(list(by), sort=True)["_w"]
    return pd.DataFrame(
        {
            "n_positive": g.size(),
            "sum_w": g.sum(),
            "kish_deff": g.apply(lambda s: float(len(s) * (s**2).sum() / s.sum() ** 2)),
        }
    ).reset_index()


def weighted_tables(
    households: pd.DataFrame,
    benefits: pd.DataFrame,
    *,
    villages: pd.DataFrame | None = None,
    inference: Inference = "finite",
    outcomes: Sequence[str] = OUTCOMES,
    steps: Sequence[str] = DEFAULT_STEPS,
    level: float = 0.95,
) -> dict[str, pd.DataFrame]:
    """Weighted descriptive tables of the household survey (Parquet-safe, keys ``survey_*``).

    Design: see the module docstring; ``inference="finite"`` (default) treats the 36 purposive villages
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
    hh = receipt_wide(_prepare(households), benefits)
    outcomes = [y for y in outcomes if y in hh.columns]
    for y in outcomes:
        hh[y] = pd.to_numeric(hh[y], errors="coerce").astype(float)
    _, audit = weights_pipeline(households, villages, steps=steps)
    d = household_design(hh, steps=steps, inference=inference, villages=villages)
    by = ["arm", "wave"]
    codes = list(ref.welfare_types()["code"])
    rec_cols = [f"received_{c}" for c in codes]
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
    out_tab = _order(_means(d, outcomes, by, level), "outcome", list(outcomes))
    if {"baseline", "endline"} <= set(hh["wave"]):
        change_tab = changes(hh, [*outcomes, *rec_cols], steps=steps, inference=inference, villages=villages, level=level)
    else:
        change_tab = pd.DataFrame(
            columns=["outcome", "arm", "from", "to", "estimate", "std_error", "df", "ci_low", "ci_high"]
        )
    kish = _domain_kish(d, by)
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
    dist = weight_distribution(households, villages, steps=steps)
    return {
        "survey_weights_audit": _parquet_safe(audit),
        "survey_weight_distribution": _parquet_safe(dist),
        "survey_receipt": _parquet_safe(rec),
        "survey_outcomes": _parquet_safe(out_tab),
        "survey_change": _parquet_safe(change_tab),
        "survey_design_effects": _parquet_safe(de),
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
    d = household_design(hh, steps=steps, inference=inference, villages=villages, linked=inference == "finite")
    parts = []
    for cols in _na_groups(d, variables):
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


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reset_index(drop=True).copy()
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            out[c] = s.astype(str).astype("string")
        elif pd.api.types.is_integer_dtype(s):
            out[c] = s.astype("int64")
        elif pd.api.types.is_float_dtype(s):
            out[c] = s.astype("float64")
    return out


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
    # prepared as _prepare() would (the construction guarantees its checks)
    out["n_population"] = out["n_population"].astype(float)
    out["n_sampled"] = out["n_sampled"].astype(float)
    out["w_base"] = out["n_population"] / out["n_sampled"]
    out["_class"] = out["village_id"] + "|" + out["wave"]
    out["_frac"] = out["n_sampled"] / out["n_population"]
    out.attrs[_FLAG] = True
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
        t = _means(d, outcomes, ["arm", "wave"], level)
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
