"""Power, minimum detectable effects and sample sizes for cluster and matched-pair DiD designs.

Public API
----------
:func:`mde`, :func:`power`, :func:`sample_size`
    Analytic minimum detectable effect (SD units), power, and the smallest sample (clusters / pairs,
    individuals per cluster, or individuals) for ``design="cluster_rct"`` (PowerUp! CRA2_2r),
    ``"matched_pair_did"`` (matched pairs, household panel, DiD with pair × wave fixed effects),
    ``"repeated_cross_section"`` (DiD with new households every wave) and ``"individual_rct"``
    (two-sample t, as R ``pwr``); t distribution with the design's degrees of freedom, noncentral t
    for power. Results: :class:`MDEResult`, :class:`PowerResult`, :class:`SampleSizeResult`.
:func:`planning_table`
    MDE (or power) over a grid of clusters × individuals per cluster (:class:`PlanningTable`).
:func:`design_parameters`, :func:`icc`
    Variance components from data: ICC (one-way ANOVA with its F interval), pair correlation,
    correlations over waves, Kish design effect and cluster-size CV, with cluster-bootstrap intervals
    (:class:`DesignParameters`; ``.as_dict(design)`` gives the keywords of :func:`mde`).
:func:`simulate_power`
    Monte Carlo power of :func:`welfare_eval.did.estimate` with each inference method (CR1, CR2, wild,
    RI) on data simulated from the variance components (:class:`SimulationResult`).
:func:`deff_cluster_size`
    Eldridge's design effect of unequal cluster sizes (Kish's of unequal weights:
    :func:`welfare_eval.survey.kish_deff`).
"""

from .analytic import DESIGNS, Design, deff_cluster_size
from .parameters import DesignParameters, ICCResult, design_parameters, icc
from .results import (
    MDEResult,
    PlanningTable,
    PowerCalculation,
    PowerResult,
    SampleSizeResult,
    SimulationResult,
)
from .simulation import simulate_design, simulate_power
from .solve import mde, planning_table, power, sample_size

__all__ = [
    "DESIGNS",
    "Design",
    "DesignParameters",
    "ICCResult",
    "MDEResult",
    "PlanningTable",
    "PowerCalculation",
    "PowerResult",
    "SampleSizeResult",
    "SimulationResult",
    "deff_cluster_size",
    "design_parameters",
    "icc",
    "mde",
    "planning_table",
    "power",
    "sample_size",
    "simulate_design",
    "simulate_power",
]
