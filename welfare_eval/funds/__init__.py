"""Welfare-fund sustainability: indicators per village and period, demand, Monte Carlo projection, stress tests.

A general library (it knows nothing of a particular study):

* :func:`fund_indicators` — payouts / welfare allocation, welfare share of profit, reserve in months
  of payouts, balance trajectory and the fund identity check (opening + income − payouts =
  closing) per village and period; :func:`check_identity` lists the periods whose books do not
  balance.
* Demand: :func:`demand_from_population` (population by age band × rates by age × benefit rules,
  projected with ageing, deaths, births and growth), :func:`demand_from_rates`,
  :func:`demand_from_history`, and :func:`inputs_from_panel` (funds and history-based demand from a
  yearly panel).
* :func:`project_funds` — 10-year Monte Carlo projection: the probability and timing of exhaustion,
  balance bands and the sustainable benefit level of each village; :func:`stress_tests` under
  :func:`default_stress_scenarios` (disaster year, profit shock) or your own :class:`Scenario`.

Examples
--------
>>> import welfare_eval.funds as F
>>> funds, demand = F.inputs_from_panel(admin, group="arm")       # doctest: +SKIP
>>> proj = F.project_funds(funds, demand, group="arm", seed=1)   # doctest: +SKIP
>>> proj.flagged()                                              # doctest: +SKIP
"""

from __future__ import annotations

from welfare_eval.funds.demand import (
    BASIS_FACTOR,
    demand_from_history,
    demand_from_population,
    demand_from_rates,
    inputs_from_panel,
)
from welfare_eval.funds.indicators import FundIndicators, check_identity, fund_indicators
from welfare_eval.funds.projection import (
    FundProjection,
    Scenario,
    StressTests,
    default_stress_scenarios,
    project_funds,
    stress_tests,
)

__all__ = [
    "BASIS_FACTOR",
    "FundIndicators",
    "FundProjection",
    "Scenario",
    "StressTests",
    "check_identity",
    "default_stress_scenarios",
    "demand_from_history",
    "demand_from_population",
    "demand_from_rates",
    "fund_indicators",
    "inputs_from_panel",
    "project_funds",
    "stress_tests",
]
