"""The whole analysis of the Community Welfare evaluation: processed tables + plan → result tables.

:func:`analyze_study` runs the steps in order, each ``(tables, plan) → tables``:

1. :mod:`~welfare_eval.study.describe`: study villages by region and province, eligibility funnel, sample sizes;
2. :mod:`~welfare_eval.study.matching`: matching within region and balance;
3. :mod:`~welfare_eval.study.weights`: household weights, **computed once** and handed to every later step;
4. :mod:`~welfare_eval.study.sample`: one reshaping of the benefits table (receipt of each welfare type);
5. :mod:`~welfare_eval.study.impact`: the preliminary DiD table and the impact tables;
6. :mod:`~welfare_eval.study.power`: power and minimum detectable effects of the impact design (same sample);
7. :mod:`~welfare_eval.study.descriptives`: weighted descriptive tables;
8. :mod:`~welfare_eval.study.factors`: success factors (when committee ratings exist);
9. :mod:`~welfare_eval.study.funds`: welfare-fund sustainability (when the savings-group records exist and
   ``plan.funds.enabled``).

It reads and writes no files (:mod:`welfare_eval.pipeline` does) and holds no statistics of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from welfare_eval._blas import single_blas_thread
from welfare_eval._io import parquet_safe
from welfare_eval._progress import progress
from welfare_eval.study.describe import design_table, eligibility_funnel, sample_sizes
from welfare_eval.study.descriptives import weighted_tables
from welfare_eval.study.factors import analyze_factors
from welfare_eval.study.funds import analyze_funds
from welfare_eval.study.impact import Fits, analyze_impact, impact_sample, preliminary_did
from welfare_eval.study.matching import analyze_matching
from welfare_eval.study.plan import AnalysisPlan, default_plan
from welfare_eval.study.power import analyze_power, with_impact_se
from welfare_eval.study.sample import receipt_wide, require_tables
from welfare_eval.study.weights import weights_pipeline

__all__ = ["analyze_study"]


def analyze_study(
    tables: Mapping[str, pd.DataFrame],
    plan: AnalysisPlan | None = None,
    *,
    seed: int | None = None,
    provinces: pd.DataFrame | None = None,
    executor: Executor | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the analysis plan on the processed tables.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The processed tables (``frame``, ``villages``, ``households`` required; ``benefits``, ``admin``,
        ``committee`` used when present), as written by :func:`welfare_eval.clean.clean_all`.
    plan : AnalysisPlan, optional
        The analysis plan (default: :func:`~welfare_eval.study.plan.default_plan`).
    seed : int, optional
        Overrides ``plan.seed``.
    provinces : DataFrame, optional
        Province table of the region scheme the data were cleaned with (for the design table's province
        names); default the packaged scheme.
    executor : concurrent.futures.Executor, optional
        Runs descriptives, factors and power (without the impact step's CR2 SEs, which are added here after) while
        this process runs impact and funds, e.g. :class:`welfare_eval._worker.WorkerProcess` (two cores: about
        half the wall time). The tables are the same as without it (the same computations, each on one BLAS
        thread); a worker that dies is replaced by running its steps here.

    Returns
    -------
    dict of DataFrame
        Parquet-safe tables (plain column types, default index): ``design``, ``funnel``, ``pairs``,
        ``reserves``, ``unmatched``, ``balance``, ``balance_tests``, ``balance_overall``, ``sample_sizes``,
        ``weights_summary``, ``did_preliminary``, the ``impact_*`` tables, the ``power_*`` tables, the ``survey_*``
        tables (with ``benefits``), the ``factors_*`` tables (with ``committee``) and the ``funds_*`` tables (with
        ``admin``).
    """
    # one BLAS thread: the products are small (faster on shared cores) and sums are then taken in one fixed
    # order, so the same data, plan and seed give byte-identical result tables on every run
    with single_blas_thread():
        return _analyze(tables, default_plan() if plan is None else plan, seed=seed, provinces=provinces,
                        executor=executor)


def _analyze(
    tables: Mapping[str, pd.DataFrame],
    plan: AnalysisPlan,
    *,
    seed: int | None,
    provinces: pd.DataFrame | None,
    executor: Executor | None = None,
) -> dict[str, pd.DataFrame]:
    if seed is not None:
        plan = plan.replace(seed=int(seed))
    require_tables(tables, "frame", "villages", "households", step="analysis")
    frame, villages, households = tables["frame"], tables["villages"], tables["households"]
    benefits = tables.get("benefits")

    out: dict[str, pd.DataFrame] = {}
    steps = ["design", "matching", "weights", "impact", "power", "descriptives", "factors", "funds"]
    bar = iter(progress(steps, desc="analysis", total=len(steps)))
    next(bar)
    out["design"] = design_table(villages, provinces)
    out["funnel"] = eligibility_funnel(frame, villages)
    next(bar)
    out.update(analyze_matching(frame, villages, plan))
    out["sample_sizes"] = sample_sizes(households)
    next(bar)
    weights = weights_pipeline(households, villages, steps=plan.weights.steps, trim_ratio=plan.weights.trim_ratio)
    out["weights_summary"] = weights.summary_by(("wave", "arm"))
    hh = weights.households if benefits is None else receipt_wide(weights.households, benefits)
    sample = impact_sample(hh, plan.impact.outcomes)
    ctx = _Inputs(dict(tables), plan, weights, hh, villages, benefits, sample)
    side = None
    if executor is not None:
        try:  # beside impact and funds: descriptives, factors and power (its impact SEs are added below)
            side = executor.submit(_steps, ctx, WORKER_STEPS)
        except BrokenExecutor:  # e.g. a worker that could not start: the steps run here
            side = None
    next(bar)
    fits: Fits = {}  # the preliminary table's fits are the impact table's: fitted once
    out.update(analyze_impact(sample, tables, plan, fits=fits))
    out["did_preliminary"] = preliminary_did(sample, plan, fits=fits)
    next(bar)
    if side is None:
        out.update(_steps(ctx, ("power", "descriptives", "factors", "funds"), impact_effects=out.get("impact_effects"),
                          bar=bar))
    else:
        out.update(_steps(ctx, ("funds",)))
        try:
            done = side.result()
        except BrokenExecutor:  # the worker died (an error of a step is raised as such): the steps run here
            done = _steps(ctx, WORKER_STEPS)
        if "power_mde" in done:
            done["power_mde"] = with_impact_se(done["power_mde"], out.get("impact_effects"))
        out.update(done)
    for _ in bar:
        pass
    return {k: parquet_safe(v) for k, v in out.items()}


#: Steps a worker runs beside impact and funds (they need no impact result, except power's impact SEs).
WORKER_STEPS = ("descriptives", "factors", "power")


@dataclass(frozen=True)
class _Inputs:
    """What the steps after the weights take (sent to the worker, pickled, as one object)."""

    tables: Mapping[str, pd.DataFrame]
    plan: AnalysisPlan
    weights: Any
    hh: pd.DataFrame
    villages: pd.DataFrame
    benefits: pd.DataFrame | None
    sample: pd.DataFrame


def _steps(
    ctx: _Inputs,
    names: Sequence[str],
    *,
    impact_effects: pd.DataFrame | None = None,
    bar: Iterator[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the named steps (power, descriptives, factors, funds) in order (here or in an executor's worker);
    ``bar`` advances before each step after the first."""
    out: dict[str, pd.DataFrame] = {}
    plan, tables = ctx.plan, ctx.tables
    with single_blas_thread():
        for k, name in enumerate(names):
            if bar is not None and k:
                next(bar)
            if name == "power":
                out.update(analyze_power(ctx.sample, plan, impact_effects=impact_effects))
            elif name == "descriptives" and ctx.benefits is not None:
                d = plan.descriptives
                out.update(weighted_tables(ctx.weights, ctx.benefits, villages=ctx.villages,
                                           inference=cast(Any, d.inference), outcomes=d.outcomes, level=d.level))
            elif name == "factors" and "committee" in tables:
                out.update(analyze_factors(tables, plan, households=ctx.weights.households))
            elif name == "funds" and "admin" in tables:
                out.update(analyze_funds(tables, plan, households=ctx.hh))
    return out
