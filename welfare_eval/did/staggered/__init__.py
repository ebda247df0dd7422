"""Staggered-adoption difference-in-differences (Callaway & Sant'Anna 2021 and the estimators beside it).

* :func:`att_gt` — group-time ATT(g,t) (R ``did``) on panels, repeated cross-sections or weighted cell
  moments (:mod:`welfare_eval.did.cells`); :class:`ATTgtResult` with ``tidy()``, ``aggregate()``
  (:class:`AggregateResult`: simple / dynamic / group / calendar), ``pretrend_test()``, ``plot()``, and
  HonestDiD-style ``flci()`` / ``sensitivity()`` on the event-time aggregation;
* :func:`sunab` — Sun & Abraham (2021) interaction-weighted event study (``fixest::sunab``);
* :func:`imputation` — Borusyak, Jaravel & Spiess (2024) imputation estimator (``didimputation``);
* :func:`twfe` — the two-way fixed-effects coefficient with its Goodman-Bacon (2021) decomposition
  (``bacondecomp``).
"""

from .bacon import BaconResult, twfe
from .imputation import ImputationResult, imputation
from .model import att_gt
from .results import AggregateResult, ATTgtResult
from .sunab import SunAbrahamResult, sunab

__all__ = [
    "ATTgtResult",
    "AggregateResult",
    "BaconResult",
    "ImputationResult",
    "SunAbrahamResult",
    "att_gt",
    "imputation",
    "sunab",
    "twfe",
]
