"""Study step: the household survey weights, computed once per run (built on :mod:`welfare_eval.survey`).

Sampling design of the household survey
---------------------------------------
* Stage 1: the 36 study villages (18 pilots, one per inspection region, and 18 matched comparison
  villages) are chosen purposively, not at random. They are **certainty PSUs**: selection probability 1.
* Stage 2: in every wave a simple random sample without replacement of ``n`` (= ``n_sampled``, 30) of the
  village's ``N`` (= ``n_population``) households. Households that leave the panel are replaced by a
  fresh random draw from the village, so every wave is again an SRS of ``n`` of ``N`` (exchangeable
  procedure): base weight ``N / n`` in every wave.

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
5.7/6.11), and by simulation on the demo's finite population (``tests/survey_coverage.py``): 95% CIs of the means by arm × wave of any_welfare, savings and qol_index
covered the population values in 95.0% of 200 repeated samples (pooled over 18 estimands; changes
93.3%); of savings, qol_index and self_reliance_index in 94.3% of 400 (changes 94.5%).

``"pairs"``: the design of the impact analysis, PSU = village, strata = matched pair, no fpc
(with-replacement approximation at stage 1, which also covers the household stage): df = 36 − 18 = 18.
Its intervals describe a superpopulation of villages like these; they are wider and over-cover the
finite-population values of the 36 villages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval._results import ResultBase
from welfare_eval.survey import (
    Design,
    adjust_attrition,
    adjust_nonresponse,
    kish_deff_by,
    poststratify,
    rake,
    trim,
)

__all__ = [
    "DEFAULT_STEPS",
    "INFERENCE",
    "STEPS",
    "HouseholdWeights",
    "household_design",
    "panel_design",
    "prepare_households",
    "weights_pipeline",
]

Inference = Literal["finite", "pairs"]
#: Variance options (see the module docstring).
INFERENCE: tuple[str, ...] = ("finite", "pairs")
#: Weighting steps in the order they are applied.
STEPS: tuple[str, ...] = ("base", "nonresponse", "calibrate", "rake", "trim")
#: Default steps of the study's weights.
DEFAULT_STEPS: tuple[str, ...] = ("base", "nonresponse", "calibrate", "trim")

_WAVES = tuple(ref.WAVES)
_NEEDED = ("hh_id", "village_id", "pair_id", "arm", "wave", "interviewed", "n_population", "n_sampled")


PREPARED_FLAG = "welfare_eval.study.weights.prepared"


def prepare_households(households: pd.DataFrame) -> pd.DataFrame:
    """Checked copy of the households table with the base weight ``w_base = N / n`` and the weighting class.

    Sorted by wave, village and household; every sampled household (nonrespondents too) must be present.
    """
    if households.attrs.get(PREPARED_FLAG) and {"w_base", "_class", "_frac"} <= set(households.columns):
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
    out.attrs[PREPARED_FLAG] = True
    return out




def na_groups(d: Design, variables: Sequence[str]) -> list[list[str]]:
    """Variables with the same missing-value pattern among respondents (estimated together)."""
    resp = d.data["interviewed"].to_numpy() == 1
    groups: dict[bytes, list[str]] = {}
    for y in variables:
        groups.setdefault(np.packbits(d.data[y].isna().to_numpy()[resp]).tobytes(), []).append(y)
    return list(groups.values())


def domain_means(d: Design, variables: Sequence[str], by: Sequence[str], level: float) -> pd.DataFrame:
    """Domain means of numeric variables, batched by missing-value pattern; column ``outcome``."""
    parts = []
    for cols in na_groups(d, variables):
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
    return household_step_designs(households, wave=wave, steps=steps, inference=inference, villages=villages,
                                  trim_ratio=trim_ratio, linked=linked, keep_noop=keep_noop)[-1][1]


def household_step_designs(
    households: pd.DataFrame,
    *,
    wave: str | None = None,
    steps: Sequence[str] = DEFAULT_STEPS,
    inference: Inference = "finite",
    villages: pd.DataFrame | None = None,
    trim_ratio: float = 3.5,
    linked: bool = False,
    keep_noop: bool = False,
) -> list[tuple[str, Design]]:
    """The design after each weighting step that was applied: ``[("base", d0), ("nonresponse", d1), ...]``.

    Arguments as :func:`household_design` (which returns the last design of this list). Steps that are
    not needed (trimming when no weight exceeds the cap; a no-op calibration unless ``keep_noop``) are
    not in the list.
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"steps {unknown}: use steps from {list(STEPS)}")
    hh = prepare_households(households)
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
    return _step_designs(hh, steps=steps, inference=inference, villages=villages, trim_ratio=trim_ratio,
                         linked=linked, keep_noop=keep_noop)


def _step_designs(
    hh: pd.DataFrame,
    *,
    steps: Sequence[str],
    inference: str,
    villages: pd.DataFrame | None,
    trim_ratio: float,
    linked: bool,
    keep_noop: bool,
) -> list[tuple[str, Design]]:
    """The design after each weighting step actually applied (``(step, design)``; ``base`` first)."""
    d = _make_design(hh, inference, linked=linked)
    out: list[tuple[str, Design]] = [("base", d)]
    if "nonresponse" in steps:
        d = adjust_nonresponse(d, "interviewed", classes="_class")
        out.append(("nonresponse", d))
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
            out.append(("calibrate", d))
    if "rake" in steps:
        assert villages is not None
        d = rake(d, _farm_margins(hh, villages), by="_class")
        out.append(("rake", d))
    if "trim" in steps:
        w = d.weights
        pos = w[w > 0]
        cap = trim_ratio * float(np.median(pos))
        if pos.max() > cap:
            d = trim(d, upper=cap, strict=True)
            out.append(("trim", d))
    return out




def panel_design(
    households: pd.DataFrame,
    *,
    start: str = "baseline",
    end: str = "endline",
    inference: Inference = "finite",
    outcomes: Sequence[str] = (),
) -> Design:
    """Longitudinal design of the ``start``-wave sample followed to ``end`` (attrition-adjusted weights).

    One row per household sampled in ``start``; the ``end`` values of the outcomes are added with the
    suffix ``_end``. Weights: ``N/n`` → nonresponse in ``start`` (village classes) →
    :func:`~welfare_eval.survey.adjust_attrition` in village classes, retained = interviewed in
    ``start`` and in ``end``. The weights of the retained households add to ``N`` per village. The
    ``end`` values of ``outcomes`` are joined with the suffix ``_end``.
    """
    hh = prepare_households(households)
    a = hh[hh["wave"] == start].reset_index(drop=True)
    b = hh[hh["wave"] == end].set_index("hh_id")
    ok_end = b["interviewed"] == 1
    a["retained"] = (a["interviewed"].eq(1) & a["hh_id"].map(ok_end).fillna(False).astype(bool)).astype(int)
    num = [c for c in outcomes if c in hh.columns]
    end_vals = b[num].add_suffix("_end")
    a = a.join(end_vals, on="hh_id")
    a["_class"] = a["village_id"]
    if inference == "finite":
        d = Design(a, weights="w_base", strata="village_id", psu="hh_id", fpc="n_population")
    else:
        d = _make_design(a, inference)
    d = adjust_nonresponse(d, "interviewed", classes="_class")
    return adjust_attrition(d, "retained", classes="_class")




@dataclass(frozen=True)
class HouseholdWeights(ResultBase):
    """The study's household weights (result of :func:`weights_pipeline`).

    Attributes
    ----------
    households : DataFrame
        The households table (original rows and order) with ``w_base``, ``w_nonresponse`` (after the
        nonresponse step), ``w_final`` (0 for nonrespondents) and ``w_panel`` (baseline→endline
        longitudinal weight on both rows of the households interviewed in both waves, else 0).
    audit : DataFrame
        One row per wave × step: ``wave``, ``step_no``, ``step``, ``detail``, ``n_positive``, ``sum_w``,
        ``min_w``, ``max_w``, ``max_min_ratio``, ``cv_w``, ``kish_deff``, ``ess``; plus the panel's steps
        (wave ``"baseline→endline"``).
    distribution : DataFrame
        Quantiles of the positive weights after each applied step, per wave (``wave``, ``step``,
        ``n_positive``, ``mean``, ``q0`` … ``q100``).
    steps : tuple of str
        The weighting steps requested (the audit shows the ones applied).
    """

    households: pd.DataFrame
    audit: pd.DataFrame
    distribution: pd.DataFrame
    steps: tuple[str, ...] = DEFAULT_STEPS
    trim_ratio: float = 3.5

    title = "Household survey weights"

    def tidy(self) -> pd.DataFrame:
        return self.audit.copy()

    def summary_by(self, by: Sequence[str] = ("wave", "arm")) -> pd.DataFrame:
        """Respondents' final weights by ``by``: ``n``, ``sum_weights``, ``min``, ``max``, ``kish_deff``."""
        resp = self.households[self.households["interviewed"].astype(int) == 1].copy()
        resp["wave"] = pd.Categorical(resp["wave"].astype(str), categories=list(_WAVES), ordered=True)
        keys = list(by)
        k = kish_deff_by(resp, keys, weights="w_final")
        g = resp.groupby(keys, sort=True, observed=True)["w_final"]
        out = pd.DataFrame({"n": g.size(), "sum_weights": g.sum(), "min": g.min(), "max": g.max()}).reset_index()
        out = out.merge(k[[*keys, "kish_deff"]], on=keys, how="left")
        if "wave" in out.columns:
            out["wave"] = out["wave"].astype(str)
        return out


def weights_pipeline(
    households: pd.DataFrame,
    villages: pd.DataFrame | None = None,
    *,
    steps: Sequence[str] = DEFAULT_STEPS,
    trim_ratio: float = 3.5,
) -> HouseholdWeights:
    """Household weights of every wave, their audit and distribution, in one pass over the steps.

    Per wave the weighting steps are applied once (:func:`household_design`); the nonresponse weights,
    the final weights, the audit and the weight distribution are all read off that one sequence of
    designs. Then the panel (longitudinal) weights (:func:`panel_design`).
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"steps {unknown}: use steps from {list(STEPS)}")
    src = households.reset_index(drop=True)
    hh = prepare_households(src)
    key = src["hh_id"].astype(str) + "|" + src["wave"].astype(str)
    audits: list[pd.DataFrame] = []
    dist_rows: list[dict[str, Any]] = []
    w_nr_parts: list[pd.Series] = []
    w_fin_parts: list[pd.Series] = []
    for wv in _WAVES:
        if not (hh["wave"] == wv).any():
            continue
        seq = household_step_designs(hh, wave=wv, steps=steps, villages=villages, trim_ratio=trim_ratio,
                                     keep_noop=True)
        k = (seq[-1][1].data["hh_id"] + "|" + seq[-1][1].data["wave"]).to_numpy()
        after_nr = dict(seq).get("nonresponse", seq[0][1])
        w_nr_parts.append(pd.Series(after_nr.weights, index=k))
        w_fin_parts.append(pd.Series(seq[-1][1].weights, index=k))
        a = seq[-1][1].audit().tidy()
        a.insert(0, "wave", wv)
        audits.append(a)
        for (_, d), step in zip(seq, a["step"], strict=True):
            w = d.weights
            w = w[w > 0]
            row: dict[str, Any] = {"wave": wv, "step": step, "n_positive": int(w.size), "mean": float(w.mean())}
            for q in QUANTILES:
                row[f"q{round(100 * q)}"] = float(np.quantile(w, q))
            dist_rows.append(row)
    w_nr = pd.concat(w_nr_parts) if w_nr_parts else pd.Series(dtype=float)
    w_fin = pd.concat(w_fin_parts) if w_fin_parts else pd.Series(dtype=float)
    out = src.copy()
    out["w_base"] = (src["n_population"].astype(float) / src["n_sampled"].astype(float)).to_numpy()
    out["w_nonresponse"] = key.map(w_nr).to_numpy(dtype=float)
    out["w_final"] = key.map(w_fin).to_numpy(dtype=float)
    out["w_panel"] = 0.0
    if {"baseline", "endline"} <= set(hh["wave"]):
        p = panel_design(hh)
        wp = pd.Series(p.weights, index=p.data["hh_id"].to_numpy())
        in_pair = src["wave"].astype(str).isin(["baseline", "endline"]).to_numpy()
        out.loc[in_pair, "w_panel"] = src.loc[in_pair, "hh_id"].astype(str).map(wp).fillna(0.0).to_numpy()
        a = p.audit().tidy()
        a.insert(0, "wave", "baseline→endline")
        audits.append(a)
    audit = pd.concat(audits, ignore_index=True)
    audit["step_no"] = audit.groupby("wave", sort=False).cumcount()
    audit = audit[["wave", "step_no", *[c for c in audit.columns if c not in ("wave", "step_no")]]]
    return HouseholdWeights(households=out, audit=audit, distribution=pd.DataFrame(dist_rows),
                            steps=tuple(steps), trim_ratio=trim_ratio)


#: Quantiles of the weight distribution table.
QUANTILES: tuple[float, ...] = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
