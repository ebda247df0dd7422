"""Matched comparison design: eligibility screening, matching within region, balance diagnostics.

Public API
----------
screen_eligibility(frame, *, rules=None)
    CDD criteria (``has_sufficiency``, ``has_savings_group``, ``has_fund_institution``) plus user
    rules; one row per candidate with ``eligible`` and the ``reason`` it was excluded.
match_villages(frame, *, treat, covariates, exact="region", method="mahalanobis", caliper=None,
ratio=1, seed=0, algorithm="optimal", n_reserves=2, ...)
    Mahalanobis or logit-propensity-score distance, optional PS caliper (SD units, applied inside
    exact strata), 1:k without replacement, optimal (default) or closest-pair-first greedy
    assignment within each exact stratum, seeded tie-breaking that never depends on row order;
    returns :class:`MatchResult` with ``.pairs`` (``pair_id``, ``treated_id``, ``control_id``,
    ``region``, ``distance``, ...), ``.unmatched`` (with reasons), ``.reserves``, ``.balance()``,
    ``.balance_tests()``, ``.matched_data()``, ``.plot()`` (Love plot).
balance_table(data, *, treat, covariates, weights=None)
    Means, SDs, SMD (pooled sample-variance denominator of the sample tabulated, binary covariates
    included), variance ratio, weighted KS, threshold flags.
balance_tests, joint_balance_test, permutation_balance_test
    ``iebaltab``-style difference/SE/p-value table (OLS, HC1 or CR1 clustered; fixed effects; survey
    weights), joint F test and a permutation omnibus test; CSV/XLSX/HTML export.

Conventions are stated in the docstrings of :mod:`~welfare_eval.match.distance` (covariance, PS,
caliper), :mod:`~welfare_eval.match.matching` (algorithm, ties, reserves),
:mod:`~welfare_eval.match.balance` and :mod:`~welfare_eval.match._stats` (weighted SD and KS) and
:mod:`~welfare_eval.match.baltab` (regression variances and df).
"""

from __future__ import annotations

from welfare_eval.match.balance import BALANCE_COLUMNS, balance_table
from welfare_eval.match.baltab import (
    BalanceTestResult,
    balance_tests,
    joint_balance_test,
    permutation_balance_test,
)
from welfare_eval.match.eligibility import CDD_CRITERIA, screen_eligibility
from welfare_eval.match.matching import MatchResult, match_villages, tie_key
from welfare_eval.match.report import BalanceResult, love_plot

__all__ = [
    "BALANCE_COLUMNS",
    "CDD_CRITERIA",
    "BalanceResult",
    "BalanceTestResult",
    "MatchResult",
    "balance_table",
    "balance_tests",
    "joint_balance_test",
    "love_plot",
    "match_villages",
    "permutation_balance_test",
    "screen_eligibility",
    "tie_key",
]
