"""Success factors of the Community Welfare pilot: scales, structure, dominance analysis and QCA.

Modules
-------
scales               reliability (alpha + Feldt CI, omega, item-total), factor scores, village aggregation
                     with rwg(j), ICC(1), ICC(2)
dominance_analysis   general / conditional / complete dominance of R² with bootstrap intervals
efa                  KMO, Bartlett, parallel analysis, minres + rotation, internal/external split
models               success measures, bivariate CR2 associations, all-subsets regression with AICc
                     weights, moderation of the DiD effect
qca                  fuzzy and crisp calibration, truth table, necessity, Quine-McCluskey minimisation
"""

from welfare_eval.factors import qca
from welfare_eval.factors.dominance_analysis import DominanceResult, all_subsets_r2, dominance
from welfare_eval.factors.efa import EFAResult, ParallelAnalysis, efa, parallel_analysis
from welfare_eval.factors.models import (
    AllSubsetsResult,
    AssociationResult,
    all_subsets,
    associations,
    cr2_test,
    moderation,
    moderation_did,
    success_measures,
)
from welfare_eval.factors.scales import (
    AggregationResult,
    ICCResult,
    ReliabilityResult,
    ScaleReliabilityResult,
    aggregate_villages,
    committee_wide,
    factor_scores,
    feldt_ci,
    icc,
    reliability,
    rwg_j,
    scale_reliability,
)

__all__ = [
    "AggregationResult",
    "AllSubsetsResult",
    "AssociationResult",
    "DominanceResult",
    "EFAResult",
    "ICCResult",
    "ParallelAnalysis",
    "ReliabilityResult",
    "ScaleReliabilityResult",
    "aggregate_villages",
    "all_subsets",
    "all_subsets_r2",
    "associations",
    "committee_wide",
    "cr2_test",
    "dominance",
    "efa",
    "factor_scores",
    "feldt_ci",
    "icc",
    "moderation",
    "moderation_did",
    "parallel_analysis",
    "qca",
    "reliability",
    "rwg_j",
    "scale_reliability",
    "success_measures",
]
