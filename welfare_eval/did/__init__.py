"""Difference-in-differences estimators and few-cluster inference.

Public API
----------
:func:`estimate`
    Matched-pair DiD (``y ~ D | unit + pair×period``, effects pooled or by period) or the classic 2×2,
    with iid/HC1, CR1, CR2 (+ Satterthwaite df), CR3, restricted wild cluster bootstrap and exact
    randomization inference side by side; results in :class:`DiDResult`.
:func:`many_outcomes`
    :func:`estimate` for several outcomes with Holm, Benjamini–Hochberg and Romano–Wolf p-values.
:func:`adjust_pvalues`, :func:`romano_wolf`
    The adjustments on their own.
:func:`event_study`
    Leads and lags on a yearly panel (unit + time or pair × time fixed effects), CR1/CR2/wild per
    coefficient, HTZ pre-trend test, sup-t bands, pre-test power (Roth 2022), relative-magnitudes
    sensitivity; results in :class:`EventStudyResult`.
:func:`model_table`
    Several models side by side (one column per model: estimate, SE/CI/p per method, N, clusters), like
    fixest's ``etable``; results in :class:`ModelTable`.
:func:`att_gt`
    Staggered adoption: group-time ATT(g,t) (Callaway & Sant'Anna 2021) on panels, repeated cross-sections
    or weighted cell moments, with aggregations, multiplier bootstrap and uniform bands; beside it
    :func:`sunab` (Sun & Abraham 2021), :func:`imputation` (Borusyak, Jaravel & Spiess 2024) and
    :func:`twfe` with the Goodman-Bacon decomposition (:mod:`welfare_eval.did.staggered`).
:func:`dr_did`
    Doubly robust DiD for two-period panels or repeated cross-sections (Sant'Anna & Zhao 2020) with
    influence-function and cluster-robust standard errors; results in :class:`DRDiDResult`.
"""

from .doubly_robust import DRDiDResult, dr_did
from .estimate import DEFAULT_INFERENCE, DiDResult, estimate
from .event_study import EventStudyResult, event_study
from .multiple import ManyOutcomes, adjust_pvalues, many_outcomes, romano_wolf
from .staggered import (
    AggregateResult,
    ATTgtResult,
    BaconResult,
    ImputationResult,
    SunAbrahamResult,
    att_gt,
    imputation,
    sunab,
    twfe,
)
from .table import ModelTable, model_table

__all__ = [
    "DEFAULT_INFERENCE",
    "ATTgtResult",
    "AggregateResult",
    "BaconResult",
    "DRDiDResult",
    "DiDResult",
    "EventStudyResult",
    "ImputationResult",
    "ManyOutcomes",
    "ModelTable",
    "SunAbrahamResult",
    "adjust_pvalues",
    "att_gt",
    "dr_did",
    "estimate",
    "event_study",
    "imputation",
    "many_outcomes",
    "model_table",
    "romano_wolf",
    "sunab",
    "twfe",
]
