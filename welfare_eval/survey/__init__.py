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
``structure()``; ``audit()``. The estimators are also free functions (R's names): ``svymean``,
``svytotal``, ``svyproportion``, ``svyratio``, ``svyquantile``, ``svyglm``, ``make_replicate_design``.
Weighting: ``adjust_nonresponse``, ``poststratify``, ``rake``, ``calibrate`` (linear, truncated,
raking, logit; ``bounds``, ``bounds_const``, ``trim``, ``force`` as R), ``trim``. Waves: ``change`` (difference between waves with its covariance),
``adjust_attrition``. Every estimator returns a ``ResultBase`` whose ``tidy()`` has ``estimate``,
``std_error``, ``df``, ``ci_low``, ``ci_high``, ``deff``. Kish's design effect of unequal weights:
``kish_deff(weights) -> (deff, ess)`` and ``kish_deff_by(data, by, weights=)``.

Layout: :mod:`~welfare_eval.survey.variance` is the kernel (sampling structure, linearisation and
variance formulas, the ``SurveyDesign`` interface); :mod:`~welfare_eval.survey.design` holds the
state; the estimator modules (``estimators``, ``quantile``, ``glm``, ``replicate``) use only the
design's public interface, and ``weighting`` / ``waves`` build on the design. No module reads
another's private names and the modules import each other without a loop.

Validated against R ``survey`` 4.1.1 fixtures in ``tests/reference/survey/`` (1e-6 relative), against
finite-difference derivatives (linearisation of chained adjustments) and by simulation (CI coverage).
"""

from __future__ import annotations

from welfare_eval.survey.design import Design, DesignError
from welfare_eval.survey.estimators import svymean, svyproportion, svyratio, svytotal
from welfare_eval.survey.glm import svyglm
from welfare_eval.survey.quantile import qrule_math, svyquantile
from welfare_eval.survey.replicate import make_replicate_design, replicate_factors
from welfare_eval.survey.results import GlmResult, SurveyEstimate, WeightAudit
from welfare_eval.survey.variance import Sampling, SurveyDesign, kish_deff, kish_deff_by
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
    "Sampling",
    "SurveyDesign",
    "SurveyEstimate",
    "WeightAudit",
    "adjust_attrition",
    "adjust_nonresponse",
    "calibrate",
    "change",
    "kish_deff",
    "kish_deff_by",
    "make_replicate_design",
    "poststratify",
    "qrule_math",
    "rake",
    "replicate_factors",
    "svyglm",
    "svymean",
    "svyproportion",
    "svyquantile",
    "svyratio",
    "svytotal",
    "trim",
]
