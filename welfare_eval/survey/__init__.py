"""Survey design, weighting and design-based estimation (the project's answer to R ``survey``).

Build a :class:`Design` once and pass it around::

    d = Design(hh, weights="w", strata="region", psu="village_id", fpc="n_villages",
               fpc_ssu="n_households", lonely_psu="error")
    d = rake(d, {"sex": {...}, "age_group": {...}})
    d.mean("income", by="arm").tidy()          # estimate, std_error, df, ci_low, ci_high, deff
    d.replicate("jkn").mean("income")

Public API
----------
``Design(data, *, weights, probs, strata, psu, ssu, fpc, fpc_ssu, certainty, lonely_psu, nest,
calibration_chain)``; estimators ``mean``, ``total``, ``proportion``, ``ratio``, ``quantile``
(Woodruff), ``glm`` (linear / logistic), all with ``by=`` domains; ``replicate(method="auto" | "jk1" |
"jkn" | "bootstrap" | "brr" | "fay", mse=, reapply=)``; ``with_replicate_weights``; ``update``;
``structure()``; ``audit()``.
Weighting: ``adjust_nonresponse``, ``poststratify``, ``rake``, ``calibrate`` (linear, truncated,
raking, logit), ``trim``. Waves: ``change`` (difference between waves with its covariance),
``adjust_attrition``. Every estimator returns a ``ResultBase`` whose ``tidy()`` has ``estimate``,
``std_error``, ``df``, ``ci_low``, ``ci_high``, ``deff``.

Validated against R ``survey`` 4.1.1 fixtures in ``tests/reference/survey/`` (1e-6 relative), against
finite-difference derivatives (linearisation of chained adjustments) and by simulation (CI coverage).
"""

from __future__ import annotations

from welfare_eval.survey.design import Design, DesignError
from welfare_eval.survey.glm import svyglm
from welfare_eval.survey.quantile import qrule_math
from welfare_eval.survey.replicate import replicate_factors
from welfare_eval.survey.results import GlmResult, SurveyEstimate, WeightAudit
from welfare_eval.survey.waves import adjust_attrition, change
from welfare_eval.survey.weighting import (
    CalibrationError,
    adjust_nonresponse,
    calibrate,
    poststratify,
    rake,
    trim,
)

__all__ = [
    "CalibrationError",
    "Design",
    "DesignError",
    "GlmResult",
    "SurveyEstimate",
    "WeightAudit",
    "adjust_attrition",
    "adjust_nonresponse",
    "calibrate",
    "change",
    "poststratify",
    "qrule_math",
    "rake",
    "replicate_factors",
    "svyglm",
    "trim",
]
