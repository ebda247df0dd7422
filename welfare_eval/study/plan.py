"""The analysis plan of the Community Welfare evaluation: one object, read from YAML, used by every step.

:class:`AnalysisPlan` holds every choice of the analysis (outcomes and their families, matching covariates,
weighting steps, inference methods and draws, seeds, thresholds, suppression). Its defaults are the packaged
``plan.yaml`` (the pre-registered plan); a research team changes the plan by editing a copy
(``analysis_plan.yaml`` in the project folder) without touching code. :func:`load_plan` reads and checks a
file: unknown keys, wrong types and impossible values are errors that name the file and the key. The plan
travels with the results (``plan.to_dict()`` and :meth:`AnalysisPlan.sha256`) into the report's provenance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "AnalysisPlan",
    "DescriptivesPlan",
    "EventStudyPlan",
    "FactorsPlan",
    "FundAlarmsPlan",
    "FundDemandPlan",
    "FundScenarioPlan",
    "FundsPlan",
    "ImpactPlan",
    "MatchingPlan",
    "MonitoringPlan",
    "PlanError",
    "PowerPlan",
    "PowerPlanningPlan",
    "PowerSimulationPlan",
    "PreliminaryPlan",
    "ProgressThresholdsPlan",
    "ReportingPlan",
    "ScaleupMatchingPlan",
    "ScaleupPlan",
    "WeightsPlan",
    "covariate_spec",
    "default_plan",
    "default_plan_text",
    "load_plan",
]

_METHODS = ("cr1", "cr2", "wild", "ri", "cr3", "hc1", "iid")
_WEIGHT_STEPS = ("base", "nonresponse", "calibrate", "rake", "trim")
_WAVES = ("baseline", "midline", "endline")
_WELFARE_TYPES = ("childbirth", "illness", "elderly", "death", "disadvantaged", "occupation", "education", "disaster",
                  "other")
_SCALEUP_AGGREGATIONS = ("simple", "dynamic", "group", "calendar")
_SCALEUP_COMPARE = ("cs_panel", "sunab", "imputation", "twfe", "cs_matched")
_SCALEUP_ENGINES = ("duckdb", "spark")
_TRANSFORMS = ("log", "log1p", "pre")
_SPEC = re.compile(r"^\s*(?:(?P<f>[A-Za-z_][A-Za-z0-9_]*)\(\s*(?P<arg>[A-Za-z_][A-Za-z0-9_]*)\s*\)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))\s*$")


class PlanError(ValueError):
    """The analysis plan file is not valid (the message names the file and the key)."""


# --------------------------------------------------------------------------------------------------
# Sections (defaults are filled from plan.yaml by default_plan(); the literals below only give types)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchingPlan:
    """Matching of comparison villages (``welfare_eval.match.match_villages``)."""

    covariates: tuple[str, ...] = ()
    method: str = "mahalanobis"
    exact: str = "region"


@dataclass(frozen=True)
class WeightsPlan:
    """Household weighting steps (see :mod:`welfare_eval.study.weights`)."""

    steps: tuple[str, ...] = ("base", "nonresponse", "calibrate", "trim")
    trim_ratio: float = 3.5


@dataclass(frozen=True)
class DescriptivesPlan:
    """Weighted descriptive tables (see :mod:`welfare_eval.study.descriptives`)."""

    inference: str = "finite"
    outcomes: tuple[str, ...] = ()
    level: float = 0.95


@dataclass(frozen=True)
class PreliminaryPlan:
    """The first DiD table reported to the department (headline outcomes at one wave)."""

    outcomes: tuple[str, ...] = ()
    wave: str = "endline"
    draws: int = 2**18


@dataclass(frozen=True)
class EventStudyPlan:
    """Event study on the savings-group panel with its sensitivity analysis."""

    outcomes: tuple[str, ...] = ()
    start_year: int | None = None
    leads: int | None = None
    draws: int = 4096
    sensitivity_leads: int = 3
    flci_terms: tuple[int, ...] = (0,)
    flci_m: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    mbar: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)


@dataclass(frozen=True)
class ImpactPlan:
    """Matched-pair DiD on the household survey (see :mod:`welfare_eval.study.impact`)."""

    outcomes: tuple[str, ...] = ()
    headline: tuple[str, ...] = ()
    welfare_types: bool = True
    baseline: str = "baseline"
    waves: tuple[str, ...] = ("midline", "endline")
    methods: tuple[str, ...] = ("cr1", "cr2", "wild", "ri")
    draws: Mapping[str, int] = field(default_factory=dict)
    preliminary: PreliminaryPlan = field(default_factory=PreliminaryPlan)
    dr_covariates: str | tuple[str, ...] = "matching"
    event_study: EventStudyPlan = field(default_factory=EventStudyPlan)

    def family_draws(self, family: str) -> int:
        """Draws of a family (``primary``, ``secondary``, ``welfare_types``)."""
        if family not in self.draws:
            raise PlanError(f"impact.draws has no entry for family {family!r}")
        return int(self.draws[family])


@dataclass(frozen=True)
class FactorsPlan:
    """Success-factor analysis (see :mod:`welfare_eval.study.factors`)."""

    did_outcome: str = "member_welfare_fund"
    success_threshold: float = 0.10
    n_boot: int = 1000
    conf_level: float = 0.95
    efa_iter: int = 50
    qca_conditions: tuple[str, ...] | None = None
    qca_anchors: tuple[float, ...] = (2.60, 3.40, 4.20)
    qca_incl_cut: float = 0.8


@dataclass(frozen=True)
class PowerPlanningPlan:
    """Planning table of the expansion: MDE over pairs of villages × households per village."""

    pairs: tuple[int, ...] = (18, 36, 54, 72, 100, 150, 200)
    households: tuple[int, ...] = (10, 20, 30, 40)
    wave: str | None = None


@dataclass(frozen=True)
class PowerSimulationPlan:
    """Monte Carlo power of the impact estimator by inference method (``welfare_eval.power.simulate_power``)."""

    enabled: bool = True
    outcomes: tuple[str, ...] | None = None
    wave: str | None = None
    n_sims: int = 40
    draws: int = 999
    methods: tuple[str, ...] = ("cr1", "cr2", "wild", "ri")


@dataclass(frozen=True)
class PowerPlan:
    """Power and minimum detectable effects (see :mod:`welfare_eval.study.power`)."""

    outcomes: tuple[str, ...] | None = None
    waves: tuple[str, ...] | None = None
    target_power: float = 0.8
    alpha: float = 0.05
    two_sided: bool = True
    level: float = 0.95
    draws: int = 299
    planning: PowerPlanningPlan = field(default_factory=PowerPlanningPlan)
    simulation: PowerSimulationPlan = field(default_factory=PowerSimulationPlan)

    def outcomes_for(self, impact: ImpactPlan) -> tuple[str, ...]:
        """The outcomes of the power analysis: ``outcomes``, or the impact's headline outcomes when null."""
        return impact.headline if self.outcomes is None else self.outcomes

    def waves_for(self, impact: ImpactPlan) -> tuple[str, ...]:
        """The follow-up waves: ``waves``, or the impact's waves when null."""
        return impact.waves if self.waves is None else self.waves

    def planning_wave(self, impact: ImpactPlan) -> str | None:
        """Wave whose parameters the planning table uses (default: the last follow-up wave)."""
        waves = self.waves_for(impact)
        return self.planning.wave if self.planning.wave is not None else (waves[-1] if waves else None)

    def simulation_outcomes(self, impact: ImpactPlan) -> tuple[str, ...]:
        """Outcomes simulated (default: the first outcome of the power analysis)."""
        if self.simulation.outcomes is not None:
            return self.simulation.outcomes
        return self.outcomes_for(impact)[:1]

    def simulation_wave(self, impact: ImpactPlan) -> str | None:
        """Wave whose parameters the simulation uses (default: the planning wave)."""
        return self.simulation.wave if self.simulation.wave is not None else self.planning_wave(impact)


@dataclass(frozen=True)
class FundScenarioPlan:
    """Income and demand assumptions of a fund projection (:class:`welfare_eval.funds.Scenario`).

    In ``funds.scenario`` (the baseline) ``welfare_share: null`` keeps each village's own share of profit;
    in ``funds.scenarios`` and ``funds.stress`` every setting left ``null`` keeps the baseline's value.
    """

    profit_growth: float | None = None
    profit_growth_sd: float | None = None
    welfare_share: float | None = None
    other_income_growth: float | None = None
    member_growth: float | None = None
    benefit_growth: float | None = None
    disaster_year: int | None = None
    disaster_multiplier: float | None = None
    disaster_types: tuple[str, ...] | None = None
    profit_shock_year: int | None = None
    profit_shock: float | None = None
    profit_shock_persistent: bool | None = None

    def settings(self) -> dict[str, Any]:
        """The settings that are not ``null``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class FundDemandPlan:
    """Demand for the nine welfare types from household demographics (see :mod:`welfare_eval.study.funds`)."""

    wave: str = "endline"
    age_bands: tuple[int, ...] = (20, 40, 50, 60, 70)
    by_arm: bool = True
    level: str = "experience"
    benefits: Mapping[str, float] = field(default_factory=dict)
    rates: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    head_turnover: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FundAlarmsPlan:
    """Thresholds of the fund-sustainability alarms."""

    reserve_months: float = 6.0
    drawdown_years: int = 2
    alpha: float = 0.10
    exhausted_probability: float = 0.5
    identity_tolerance: float = 1.0


@dataclass(frozen=True)
class FundsPlan:
    """Welfare-fund sustainability (see :mod:`welfare_eval.study.funds`)."""

    enabled: bool = True
    window: int = 3
    horizon: int = 10
    draws: int = 1000
    seed: int | None = None
    scenario: FundScenarioPlan = field(default_factory=FundScenarioPlan)
    scenarios: Mapping[str, FundScenarioPlan | None] = field(default_factory=dict)
    stress: Mapping[str, FundScenarioPlan | None] = field(default_factory=dict)
    demand: FundDemandPlan = field(default_factory=FundDemandPlan)
    alarms: FundAlarmsPlan = field(default_factory=FundAlarmsPlan)


@dataclass(frozen=True)
class ProgressThresholdsPlan:
    """Traffic-light thresholds of the progress report (:class:`welfare_eval.monitor.Thresholds`)."""

    types_green: int = 5
    types_amber: int = 3
    coverage_green: float = 0.50
    coverage_amber: float = 0.30
    reserve_green: float = 12.0
    reserve_amber: float = 6.0
    falling_quarters: int = 4


@dataclass(frozen=True)
class MonitoringPlan:
    """Quarterly monitoring of the pilots: the reporting window, deadlines and the progress report's lights."""

    first_period: str | None = None
    last_period: str | None = None
    due_days: int = 30
    cutoff_days: int = 45
    thresholds: ProgressThresholdsPlan = field(default_factory=ProgressThresholdsPlan)


@dataclass(frozen=True)
class SamplePlan:
    """Which matched pairs the study keeps: ``drop_pairs`` maps a pair id to the reason it is left out.

    Read by cleaning (``welfare-eval clean``): the pairs' villages are rejected with the reason, the manifest
    lists them (``decided_in``: the plan) and the report states them. The advice of the structural checks
    ("drop the pair") is carried out here, or by a ``drop_pair`` row in ``data/raw/corrections``.
    """

    drop_pairs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportingPlan:
    """Disclosure control of published tables."""

    min_cell: int = 5


@dataclass(frozen=True)
class ScaleupMatchingPlan:
    """Matching of the adopting villages to never-treated villages (``welfare_eval.scale.match_adopters``)."""

    covariates: tuple[str, ...] = ()
    exact: str | None = "province_code"
    ratio: int = 1
    method: str = "mahalanobis"
    eligible: str | None = "eligible"


@dataclass(frozen=True)
class ScaleupPlan:
    """The nationwide expansion: staggered adoption on the yearly household survey (see
    :mod:`welfare_eval.study.scaleup`).

    Covariates are village-table columns, optionally transformed: ``name``, ``log(name)``, ``log1p(name)``,
    or ``pre(variable)`` = the village's weighted household mean of a reduced variable (an outcome or a
    household covariate) over the years before the first adoption cohort (minus anticipation).
    """

    outcomes: tuple[str, ...] = ()
    headline: str = ""
    unit: str = "village_id"
    time: str = "year"
    cohort: str = "cohort"
    weights: str | None = "weight"
    province: str = "province_code"
    covariates: tuple[str, ...] = ()
    household_covariates: tuple[str, ...] = ()
    control: str = "never"
    method: str = "dr"
    base_period: str = "varying"
    anticipation: int = 0
    cluster: str = "village_id"
    draws: int = 999
    seed: int | None = None
    level: float = 0.95
    aggregations: tuple[str, ...] = _SCALEUP_AGGREGATIONS
    min_e: int | None = None
    max_e: int | None = None
    balance_e: int | None = None
    compare: tuple[str, ...] = _SCALEUP_COMPARE
    sensitivity_mbar: tuple[float, ...] = ()
    sensitivity_m: tuple[float, ...] = ()
    panel_weights: str = "none"
    engine: str = "duckdb"
    matching: ScaleupMatchingPlan = field(default_factory=ScaleupMatchingPlan)

    @property
    def reduced_variables(self) -> tuple[str, ...]:
        """Household variables the engine reduces to cells: the outcomes, then the household covariates."""
        return tuple(dict.fromkeys([*self.outcomes, *self.household_covariates]))


def covariate_spec(spec: str) -> tuple[str, str, str]:
    """Parse a covariate setting of the scale-up plan: ``(transform, column, name)``.

    ``"share_farm"`` → ``("", "share_farm", "share_farm")``; ``"log(mean_income)"`` →
    ``("log", "mean_income", "log_mean_income")``; ``"pre(income)"`` → ``("pre", "income", "pre_income")``.

    Raises
    ------
    PlanError
        Not a column name or ``transform(column)`` with a known transform (``log``, ``log1p``, ``pre``).
    """
    m = _SPEC.match(spec) if isinstance(spec, str) else None
    if m is None:
        raise PlanError(f"covariate {spec!r} is not a column name or transform(column) ({', '.join(_TRANSFORMS)})")
    if m.group("name"):
        return "", m.group("name"), m.group("name")
    f, arg = m.group("f"), m.group("arg")
    if f not in _TRANSFORMS:
        raise PlanError(f"covariate {spec!r}: unknown transform {f!r} (transforms: {', '.join(_TRANSFORMS)})")
    return f, arg, f"{f}_{arg}"


@dataclass(frozen=True)
class AnalysisPlan:
    """Every choice of the analysis, in one object (see the module docstring).

    Build it with :func:`default_plan` (the packaged plan) or :func:`load_plan` (a YAML file);
    :meth:`replace` returns a copy with some values changed (``plan.replace(seed=1)``,
    ``plan.replace(impact={"headline": ["savings"]})``).
    """

    version: int = 1
    seed: int = 2568
    sample: SamplePlan = field(default_factory=SamplePlan)
    matching: MatchingPlan = field(default_factory=MatchingPlan)
    weights: WeightsPlan = field(default_factory=WeightsPlan)
    descriptives: DescriptivesPlan = field(default_factory=DescriptivesPlan)
    impact: ImpactPlan = field(default_factory=ImpactPlan)
    factors: FactorsPlan = field(default_factory=FactorsPlan)
    power: PowerPlan = field(default_factory=PowerPlan)
    funds: FundsPlan = field(default_factory=FundsPlan)
    monitoring: MonitoringPlan = field(default_factory=MonitoringPlan)
    reporting: ReportingPlan = field(default_factory=ReportingPlan)
    scaleup: ScaleupPlan = field(default_factory=ScaleupPlan)
    source: str = field(default="package default", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (lists, dicts, numbers, strings), without its ``source``."""
        d = _plain(self)
        assert isinstance(d, dict)
        d.pop("source", None)
        return d

    def to_yaml(self) -> str:
        """The plan as YAML text (what :func:`load_plan` reads back to an equal plan)."""
        return str(yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False, width=100))

    def sha256(self) -> str:
        """SHA-256 of the plan's canonical JSON (same plan → same hash, whatever the file's layout)."""
        text = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def replace(self, **changes: Any) -> AnalysisPlan:
        """A copy with ``changes`` applied (sections may be given as partial dicts); validated."""
        merged = _deep_merge(self.to_dict(), _plain(changes))
        return _build(merged, where=f"{self.source} (with changes)")

    # convenience -------------------------------------------------------------------------------------
    @property
    def headline(self) -> tuple[str, ...]:
        """The headline (primary) outcomes."""
        return self.impact.headline


# --------------------------------------------------------------------------------------------------
# Building and checking
# --------------------------------------------------------------------------------------------------
def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_plain(v) for v in obj]
    return obj


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _convert(value: Any, tp: Any, key: str, where: str) -> Any:
    """Convert plain YAML data to the annotated type ``tp`` (dataclass, tuple, Mapping, scalar, Optional)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise PlanError(f"{where}: {key} must be a mapping of settings, got {type(value).__name__}")
        return _section(tp, value, key, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, key, where)
            except PlanError as exc:
                errors.append(str(exc))
        raise PlanError(errors[-1] if errors else f"{where}: {key} has an invalid value {value!r}")
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise PlanError(f"{where}: {key} must be a list, got {value!r}")
        (item,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
        return tuple(_convert(v, item, f"{key}[{i}]", where) for i, v in enumerate(value))
    if origin in (Mapping, dict) or tp is Mapping:
        if not isinstance(value, Mapping):
            raise PlanError(f"{where}: {key} must be a mapping, got {value!r}")
        _k, vt = typing.get_args(tp)
        return {str(k): _convert(v, vt, f"{key}.{k}", where) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise PlanError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PlanError(f"{where}: {key} must be a whole number, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PlanError(f"{where}: {key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise PlanError(f"{where}: {key} must be text, got {value!r}")
        return value
    raise PlanError(f"{where}: {key}: unsupported setting type {tp!r}")  # pragma: no cover


def _section(cls: type, data: Mapping[str, Any], key: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name != "source"]
    unknown = [k for k in data if k not in names]
    if unknown:
        prefix = f"{key}." if key else ""
        raise PlanError(
            f"{where}: unknown setting {prefix}{unknown[0]} (known settings{' of ' + key if key else ''}: "
            f"{', '.join(names)})"
        )
    kwargs = {}
    for k, v in data.items():
        kwargs[k] = _convert(v, hints[k], f"{key}.{k}" if key else k, where)
    return cls(**kwargs)


def _check(plan: AnalysisPlan, where: str) -> None:
    def bad(msg: str) -> PlanError:
        return PlanError(f"{where}: {msg}")

    if plan.version != 1:
        raise bad(f"version {plan.version} is not supported (this package reads version 1)")
    for pid, why in plan.sample.drop_pairs.items():
        if not str(pid).strip().isdigit() or int(pid) < 1:
            raise bad(f"sample.drop_pairs: {pid!r} is not a pair id (a whole number from 1)")
        if not str(why).strip():
            raise bad(f"sample.drop_pairs.{pid}: give the reason the pair is left out")
    if not plan.matching.covariates:
        raise bad("matching.covariates is empty: list the village covariates to match on")
    unknown = [s for s in plan.weights.steps if s not in _WEIGHT_STEPS]
    if unknown:
        raise bad(f"weights.steps has unknown step {unknown[0]!r} (steps: {', '.join(_WEIGHT_STEPS)})")
    if not plan.weights.trim_ratio > 1:
        raise bad(f"weights.trim_ratio must be above 1, got {plan.weights.trim_ratio}")
    if plan.descriptives.inference not in ("finite", "pairs"):
        raise bad(f"descriptives.inference must be 'finite' or 'pairs', got {plan.descriptives.inference!r}")
    for name, level in (("descriptives.level", plan.descriptives.level), ("factors.conf_level", plan.factors.conf_level)):
        if not 0 < level < 1:
            raise bad(f"{name} must lie between 0 and 1, got {level}")
    imp = plan.impact
    if not imp.outcomes:
        raise bad("impact.outcomes is empty")
    missing = [y for y in imp.headline if y not in imp.outcomes]
    if missing:
        raise bad(f"impact.headline outcome {missing[0]!r} is not in impact.outcomes")
    for w in (imp.baseline, *imp.waves, imp.preliminary.wave):
        if w not in _WAVES:
            raise bad(f"impact: unknown wave {w!r} (waves: {', '.join(_WAVES)})")
    if imp.baseline in imp.waves:
        raise bad("impact.waves must not contain the baseline wave")
    unknown = [m for m in imp.methods if m not in _METHODS]
    if unknown:
        raise bad(f"impact.methods has unknown method {unknown[0]!r} (methods: {', '.join(_METHODS)})")
    fams = ["primary", "secondary"] + (["welfare_types"] if imp.welfare_types else [])
    for f in fams:
        if f not in imp.draws:
            raise bad(f"impact.draws.{f} is missing (draws per family: primary, secondary, welfare_types)")
    for f, n in [*imp.draws.items(), ("preliminary", imp.preliminary.draws), ("event_study", imp.event_study.draws)]:
        if n < 99:
            raise bad(f"impact draws for {f} must be at least 99, got {n}")
    if isinstance(imp.dr_covariates, str) and imp.dr_covariates != "matching":
        raise bad("impact.dr_covariates must be 'matching' or a list of village covariates")
    es = imp.event_study
    if es.sensitivity_leads < 2:
        raise bad("impact.event_study.sensitivity_leads must be at least 2")
    fac = plan.factors
    if len(fac.qca_anchors) != 3 or not fac.qca_anchors[0] < fac.qca_anchors[1] < fac.qca_anchors[2]:
        raise bad("factors.qca_anchors must be three increasing numbers (exclusion, crossover, inclusion)")
    if not 0.5 <= fac.qca_incl_cut <= 1:
        raise bad(f"factors.qca_incl_cut must lie in [0.5, 1], got {fac.qca_incl_cut}")
    if fac.n_boot < 0 or fac.efa_iter < 1:
        raise bad("factors.n_boot must be >= 0 and factors.efa_iter >= 1")
    _check_power(plan, bad)
    if plan.reporting.min_cell < 1:
        raise bad(f"reporting.min_cell must be at least 1, got {plan.reporting.min_cell}")
    _check_funds(plan.funds, bad)
    _check_monitoring(plan.monitoring, bad)
    _check_scaleup(plan.scaleup, bad)


def _check_scenario(s: FundScenarioPlan, key: str, bad: Any, *, baseline: bool) -> None:
    if baseline:
        missing = [k for k in ("profit_growth", "profit_growth_sd", "other_income_growth", "member_growth",
                               "benefit_growth") if getattr(s, k) is None]
        if missing:
            raise bad(f"{key}.{missing[0]} must be set in the baseline scenario")
    if s.profit_growth is not None and s.profit_growth <= -1:
        raise bad(f"{key}.profit_growth must be above -1, got {s.profit_growth}")
    for k in ("profit_growth_sd", "disaster_multiplier"):
        v = getattr(s, k)
        if v is not None and v < 0:
            raise bad(f"{key}.{k} must be >= 0, got {v}")
    if s.welfare_share is not None and not 0 <= s.welfare_share <= 100:
        raise bad(f"{key}.welfare_share is a percentage of profit in [0, 100], got {s.welfare_share}")
    if s.profit_shock is not None and not 0 <= s.profit_shock <= 1:
        raise bad(f"{key}.profit_shock is a share of profit in [0, 1], got {s.profit_shock}")
    for k in ("disaster_year", "profit_shock_year"):
        v = getattr(s, k)
        if v is not None and v < 1:
            raise bad(f"{key}.{k} counts years of the projection from 1, got {v}")
    unknown = [t for t in (s.disaster_types or ()) if t not in _WELFARE_TYPES]
    if unknown:
        raise bad(f"{key}.disaster_types has unknown welfare type {unknown[0]!r} (types: {', '.join(_WELFARE_TYPES)})")


def _check_funds(f: FundsPlan, bad: Any) -> None:
    if f.window < 1:
        raise bad(f"funds.window must be at least 1 year, got {f.window}")
    if f.horizon < 1:
        raise bad(f"funds.horizon must be at least 1 year, got {f.horizon}")
    if f.draws < 100:
        raise bad(f"funds.draws must be at least 100, got {f.draws}")
    _check_scenario(f.scenario, "funds.scenario", bad, baseline=True)
    for group in ("scenarios", "stress"):
        for name, s in getattr(f, group).items():
            if s is None:  # a scenario switched off in a project's plan
                continue
            if name == "baseline":
                raise bad(f"funds.{group}: the name 'baseline' is the baseline scenario (funds.scenario)")
            _check_scenario(s, f"funds.{group}.{name}", bad, baseline=False)
    d = f.demand
    if d.wave not in _WAVES:
        raise bad(f"funds.demand.wave: unknown wave {d.wave!r} (waves: {', '.join(_WAVES)})")
    if d.level not in ("experience", "survey"):
        raise bad(f"funds.demand.level must be 'experience' or 'survey', got {d.level!r}")
    if not d.age_bands or list(d.age_bands) != sorted(set(d.age_bands)) or d.age_bands[0] < 0:
        raise bad("funds.demand.age_bands must be increasing lower bounds of the head's age bands (e.g. [20, 40, 60])")
    for name, table in (("benefits", d.benefits), ("rates", d.rates)):
        unknown = [t for t in table if t not in _WELFARE_TYPES]
        if unknown:
            raise bad(f"funds.demand.{name} has unknown welfare type {unknown[0]!r} (types: {', '.join(_WELFARE_TYPES)})")
    missing = [t for t in _WELFARE_TYPES if t not in d.benefits]
    if missing:
        raise bad(f"funds.demand.benefits has no amount for welfare type {missing[0]!r} (give all nine)")
    neg = [t for t, a in d.benefits.items() if a < 0]
    if neg:
        raise bad(f"funds.demand.benefits.{neg[0]} must be >= 0")
    for t, by_age in d.rates.items():
        for age, r in by_age.items():
            if not _is_age(age):
                raise bad(f"funds.demand.rates.{t}: key {age!r} is not an age (lower bound of a band)")
            if r < 0:
                raise bad(f"funds.demand.rates.{t}.{age} must be >= 0, got {r}")
    if not d.head_turnover:
        raise bad("funds.demand.head_turnover is empty: give the yearly rate of a change of head by age")
    for age, r in d.head_turnover.items():
        if not _is_age(age) or not 0 <= r <= 1:
            raise bad(f"funds.demand.head_turnover.{age}: need an age key and a rate in [0, 1], got {r}")
    a = f.alarms
    if not 0 < a.alpha < a.exhausted_probability <= 1:
        raise bad("funds.alarms: need 0 < alpha < exhausted_probability <= 1")
    if a.reserve_months < 0 or a.drawdown_years < 1 or a.identity_tolerance < 0:
        raise bad("funds.alarms: reserve_months and identity_tolerance must be >= 0, drawdown_years >= 1")


def _is_age(key: str) -> bool:
    try:
        return float(key) >= 0
    except ValueError:
        return False


_PERIOD = re.compile(r"^\s*(\d{4})\s*[Qq]([1-4])\s*$")


def _quarter_index(text: str) -> int | None:
    """``2569Q3`` (B.E.) or ``2026Q3`` (C.E.) → C.E. year × 4 + quarter; None when not such a quarter.

    The plan takes the canonical form only (welfare_eval.monitor.parse_period reads more spellings), and
    checking it here keeps reading the plan free of the monitoring library's imports.
    """
    m = _PERIOD.match(str(text))
    if not m:
        return None
    y = int(m.group(1))
    y = y - 543 if 2400 <= y <= 2700 else y  # the eras of welfare_eval.clean.thai (BE_RANGE, CE_RANGE)
    return y * 4 + int(m.group(2)) if 1800 <= y <= 2200 else None


def _check_monitoring(m: MonitoringPlan, bad: Any) -> None:
    got = {}
    for k in ("first_period", "last_period"):
        v = getattr(m, k)
        if v is None:
            continue
        q = _quarter_index(v)
        if q is None:
            raise bad(f"monitoring.{k}: {v!r} is not a quarter; write e.g. 2566Q1 (B.E.) or 2023Q1 (C.E.)")
        got[k] = q
    if len(got) == 2 and got["last_period"] < got["first_period"]:
        raise bad("monitoring.last_period is before monitoring.first_period")
    if m.due_days < 0 or m.cutoff_days < 0:
        raise bad("monitoring.due_days and monitoring.cutoff_days must be >= 0")
    t = m.thresholds
    if not (0 <= t.types_amber <= t.types_green and 0 <= t.coverage_amber <= t.coverage_green <= 1
            and 0 <= t.reserve_amber <= t.reserve_green and t.falling_quarters >= 1):
        raise bad("monitoring.thresholds: need amber <= green for types, coverage (shares in [0, 1]) and reserve, "
                  "and falling_quarters >= 1")


def _one_of(value: Any, allowed: tuple[str, ...], key: str, bad: Any) -> None:
    if value not in allowed:
        raise bad(f"{key} must be one of {', '.join(allowed)}; got {value!r}")


def _check_scaleup(su: ScaleupPlan, bad: Any) -> None:
    """Checks of the ``scaleup`` section (each message names the key)."""
    if not su.outcomes:
        raise bad("scaleup.outcomes is empty: list the household outcomes of the expansion")
    for key, vals in (("outcomes", su.outcomes), ("household_covariates", su.household_covariates),
                      ("aggregations", su.aggregations), ("compare", su.compare)):
        dup = [v for i, v in enumerate(vals) if v in vals[:i]]
        if dup:
            raise bad(f"scaleup.{key} lists {dup[0]!r} twice")
    if su.headline not in su.outcomes:
        raise bad(f"scaleup.headline {su.headline!r} is not in scaleup.outcomes")
    both = set(su.outcomes) & set(su.household_covariates)
    if both:
        raise bad(f"scaleup: {sorted(both)[0]!r} is both an outcome and a household covariate")
    for key in ("unit", "time", "cohort", "province", "cluster"):
        if not getattr(su, key):
            raise bad(f"scaleup.{key} must name a column")
    names = {su.unit, su.time, su.cohort, su.province, *([su.weights] if su.weights else [])}
    clash = names & set(su.reduced_variables)
    if clash:
        raise bad(f"scaleup: {sorted(clash)[0]!r} is a key, cohort or weight column and cannot be an outcome")
    _one_of(su.control, ("never", "not_yet"), "scaleup.control", bad)
    _one_of(su.method, ("dr", "reg", "ipw"), "scaleup.method", bad)
    _one_of(su.base_period, ("varying", "universal"), "scaleup.base_period", bad)
    _one_of(su.panel_weights, ("none", "households"), "scaleup.panel_weights", bad)
    _one_of(su.engine, _SCALEUP_ENGINES, "scaleup.engine", bad)
    if su.household_covariates and su.method != "reg":
        raise bad(
            f"scaleup.household_covariates need method 'reg' (cells carry their moments; {su.method!r} needs "
            "the household rows); use village covariates in scaleup.covariates or set scaleup.method: reg"
        )
    if su.anticipation < 0:
        raise bad(f"scaleup.anticipation must be >= 0, got {su.anticipation}")
    if su.draws < 99:
        raise bad(f"scaleup.draws must be at least 99, got {su.draws}")
    if not 0 < su.level < 1:
        raise bad(f"scaleup.level must lie between 0 and 1, got {su.level}")
    unknown = [a for a in su.aggregations if a not in _SCALEUP_AGGREGATIONS]
    if unknown or not su.aggregations:
        raise bad(f"scaleup.aggregations must list some of {', '.join(_SCALEUP_AGGREGATIONS)}"
                  + (f"; unknown {unknown[0]!r}" if unknown else ""))
    unknown = [c for c in su.compare if c not in _SCALEUP_COMPARE]
    if unknown:
        raise bad(f"scaleup.compare has unknown estimator {unknown[0]!r} (estimators: {', '.join(_SCALEUP_COMPARE)})")
    if su.min_e is not None and su.max_e is not None and su.min_e > su.max_e:
        raise bad(f"scaleup.min_e ({su.min_e}) is above scaleup.max_e ({su.max_e})")
    if su.balance_e is not None and su.balance_e < 0:
        raise bad(f"scaleup.balance_e must be >= 0, got {su.balance_e}")
    if any(v < 0 for v in (*su.sensitivity_mbar, *su.sensitivity_m)):
        raise bad("scaleup.sensitivity_mbar and scaleup.sensitivity_m must be >= 0")
    m = su.matching
    if m.ratio < 1:
        raise bad(f"scaleup.matching.ratio must be at least 1, got {m.ratio}")
    _one_of(m.method, ("mahalanobis", "propensity"), "scaleup.matching.method", bad)
    reduced = set(su.reduced_variables)
    for key, specs in (("covariates", su.covariates), ("matching.covariates", m.covariates)):
        seen: dict[str, str] = {}
        for spec in specs:
            try:
                f, col, name = covariate_spec(spec)
            except PlanError as exc:
                raise bad(f"scaleup.{key}: {exc}") from None
            if name in seen:
                raise bad(f"scaleup.{key}: {spec!r} and {seen[name]!r} give the same column {name!r}")
            seen[name] = spec
            if f == "pre" and col not in reduced:
                raise bad(f"scaleup.{key}: {spec!r} needs {col!r} among scaleup.outcomes or household_covariates")
            if name in names or name in reduced:
                raise bad(f"scaleup.{key}: {spec!r} would replace the column {name!r}")


def _check_power(plan: AnalysisPlan, bad: Callable[[str], PlanError]) -> None:
    imp, pw = plan.impact, plan.power
    if not 0 < pw.alpha < 1:
        raise bad(f"power.alpha must lie between 0 and 1, got {pw.alpha}")
    if not pw.alpha < pw.target_power < 1:
        raise bad(f"power.target_power must lie between power.alpha ({pw.alpha}) and 1, got {pw.target_power}")
    if not 0 < pw.level < 1:
        raise bad(f"power.level must lie between 0 and 1, got {pw.level}")
    if pw.draws != 0 and pw.draws < 99:
        raise bad(f"power.draws must be 0 (no bootstrap intervals) or at least 99, got {pw.draws}")
    if pw.outcomes is not None and not pw.outcomes:
        raise bad("power.outcomes is empty: list outcomes, or null for impact.headline")
    outcomes = pw.outcomes_for(imp)
    missing = [y for y in outcomes if y not in imp.outcomes]
    if missing:
        raise bad(f"power.outcomes: {missing[0]!r} is not in impact.outcomes")
    if pw.waves is not None and not pw.waves:
        raise bad("power.waves is empty: list follow-up waves, or null for impact.waves")
    waves = pw.waves_for(imp)
    for w in waves:
        if w not in _WAVES or w == imp.baseline:
            raise bad(f"power.waves: {w!r} is not a follow-up wave (waves: "
                      f"{', '.join(x for x in _WAVES if x != imp.baseline)})")
    pl = pw.planning
    for name, grid, low in (("pairs", pl.pairs, 2), ("households", pl.households, 1)):
        if not grid:
            raise bad(f"power.planning.{name} is empty")
        small = [v for v in grid if v < low]
        if small:
            raise bad(f"power.planning.{name} must be whole numbers of at least {low}, got {small[0]}")
        if len(set(grid)) != len(grid):
            raise bad(f"power.planning.{name} lists a value twice")
    if pl.wave is not None and pl.wave not in waves:
        raise bad(f"power.planning.wave {pl.wave!r} is not one of power.waves ({', '.join(waves)})")
    sim = pw.simulation
    if sim.outcomes is not None:
        if not sim.outcomes:
            raise bad("power.simulation.outcomes is empty: list outcomes, null for the first power outcome, "
                      "or set power.simulation.enabled: false")
        extra = [y for y in sim.outcomes if y not in outcomes]
        if extra:
            raise bad(f"power.simulation.outcomes: {extra[0]!r} is not one of the power outcomes")
    if sim.wave is not None and sim.wave not in waves:
        raise bad(f"power.simulation.wave {sim.wave!r} is not one of power.waves ({', '.join(waves)})")
    if sim.n_sims < 1:
        raise bad(f"power.simulation.n_sims must be at least 1, got {sim.n_sims}")
    if sim.draws < 99:
        raise bad(f"power.simulation.draws must be at least 99, got {sim.draws}")
    if not sim.methods:
        raise bad("power.simulation.methods is empty")
    unknown = [m for m in sim.methods if m not in _METHODS]
    if unknown:
        raise bad(f"power.simulation.methods has unknown method {unknown[0]!r} (methods: {', '.join(_METHODS)})")
    if sim.enabled and not pw.two_sided and any(m in ("wild", "ri") for m in sim.methods):
        raise bad("power.two_sided is false but power.simulation.methods has wild or ri, which give two-sided "
                  "p-values only; use t-based methods (cr1, cr2, ...) for one-sided tests")


def _build(data: Mapping[str, Any], *, where: str) -> AnalysisPlan:
    if not isinstance(data, Mapping):
        raise PlanError(f"{where}: the plan must be a mapping of sections (matching, weights, impact, ...)")
    plan = _section(AnalysisPlan, data, "", where)
    plan = dataclasses.replace(plan, source=where)
    _check(plan, where)
    return typing.cast(AnalysisPlan, plan)


#: libyaml's loader when PyYAML was built with it (ten times faster than the pure-Python one, same documents):
#: every command of the CLI reads the packaged plan at least once.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)  # a safe loader (C or Python)


def default_plan_text() -> str:
    """Text of the packaged plan file (``welfare_eval/study/plan.yaml``, comments included)."""
    return resources.files("welfare_eval.study").joinpath("plan.yaml").read_text(encoding="utf-8")


def default_plan() -> AnalysisPlan:
    """The packaged, pre-registered plan."""
    return _build(_load_yaml(default_plan_text()), where="package default plan")


def load_plan(path: str | Path | None = None) -> AnalysisPlan:
    """Read an analysis plan from YAML; ``None`` gives :func:`default_plan`.

    Settings missing from the file keep the packaged defaults, so a file may hold only what it changes.

    Raises
    ------
    PlanError
        The file is missing, is not YAML, or has an unknown key, a wrong type or an impossible value
        (the message names the file and the key).
    """
    if path is None:
        return default_plan()
    p = Path(path)
    if not p.is_file():
        raise PlanError(f"{p}: analysis plan file not found")
    try:
        data = _load_yaml(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise PlanError(f"{p}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PlanError(f"{p}: the plan must be a mapping of sections (matching, weights, impact, ...)")
    merged = _deep_merge(default_plan().to_dict(), dict(data))
    return _build(merged, where=str(p))
