"""The Community Welfare evaluation: its analysis plan and one step per analysis (the study layer).

This is the only part of the package that knows this study's plan. The general library
(:mod:`welfare_eval.match`, :mod:`~welfare_eval.survey`, :mod:`~welfare_eval.did`, :mod:`~welfare_eval.factors`,
...) knows nothing of it; :mod:`welfare_eval.pipeline` wires folders to these steps.

* :class:`AnalysisPlan`, :func:`load_plan`, :func:`default_plan`: every choice of the analysis, from YAML.
* :func:`analyze_study`: all steps in order (:mod:`~welfare_eval.study.analyze`).
* Steps, each ``(tables, plan) → tables``: :mod:`~welfare_eval.study.describe`,
  :mod:`~welfare_eval.study.matching`, :mod:`~welfare_eval.study.weights`, :mod:`~welfare_eval.study.sample`,
  :mod:`~welfare_eval.study.impact`, :mod:`~welfare_eval.study.power`, :mod:`~welfare_eval.study.descriptives`,
  :mod:`~welfare_eval.study.factors`, :mod:`~welfare_eval.study.funds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from welfare_eval.study.plan import AnalysisPlan, PlanError, default_plan, default_plan_text, load_plan

if TYPE_CHECKING:
    from welfare_eval.study.analyze import analyze_study

__all__ = ["AnalysisPlan", "PlanError", "analyze_study", "default_plan", "default_plan_text", "load_plan"]


def __getattr__(name: str) -> Any:
    # the steps import the whole statistical library (seconds): only when the analysis runs, so that reading
    # the plan (the monitoring commands, `welfare-eval plan`) stays quick
    if name == "analyze_study":
        from welfare_eval.study.analyze import analyze_study

        return analyze_study
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
