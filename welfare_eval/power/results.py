"""Result objects of :mod:`welfare_eval.power`: one calculation, a planning table, a simulation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .._results import ResultBase
from .analytic import Design, Method, multiplier, power_from_ncp

__all__ = ["MDEResult", "PlanningTable", "PowerCalculation", "PowerResult", "SampleSizeResult", "SimulationResult"]


def _label(key: str, lang: str) -> str:
    from welfare_eval.reference import label

    if lang == "th":
        return label(key, "th")
    if lang == "en":
        return label(key, "en")
    raise ValueError(f"lang={lang!r}: use 'th' or 'en'")


def _size_columns(design: Design) -> dict[str, Any]:
    if design.design == "individual_rct":
        return {"clusters": np.nan, "n_clusters": np.nan, "per_cluster": np.nan, "n": design.n,
                "n_obs": design.n}
    per_wave = design.total_clusters * design.per_cluster
    waves = design.waves if design.is_did else 1
    return {"clusters": design.clusters, "n_clusters": design.total_clusters, "per_cluster": design.per_cluster,
            "n": np.nan, "n_obs": per_wave * waves}


class PowerCalculation(ResultBase):
    """One analytic calculation: the design, the t test and the solved quantity.

    Attributes
    ----------
    design : Design
        The design with its variance components (sizes as solved).
    estimate : float
        The solved quantity (MDE in SD units, power, or the integer sample size).
    std_error, df, multiplier
        Standard error of the effect estimator (SD units), degrees of freedom, and the MDE multiplier
        ``M`` (``MDE = M · SE``; for :func:`~welfare_eval.power.power` the noncentrality ``effect / SE``).
    """

    title = "Power calculation"
    term = ""
    sheet_name = "power"

    def __init__(self, *, design: Design, alpha: float, two_sided: bool, method: Method,
                 effect: float, power: float, multiplier_value: float, extra_notes: list[str] | None = None,
                 exact: float | None = None) -> None:
        self.design = design
        self.alpha = alpha
        self.two_sided = two_sided
        self.method = method
        self.effect = effect
        self.power = power
        self.multiplier = multiplier_value
        self.exact = exact
        self._notes = list(extra_notes or [])

    @property
    def estimate(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def std_error(self) -> float:
        return self.design.std_error()

    @property
    def df(self) -> float:
        return self.design.df()

    @property
    def mde(self) -> float:
        """Minimum detectable effect at the target / computed power (SD units)."""
        return float(self.effect)

    def tidy(self) -> pd.DataFrame:
        row: dict[str, Any] = {
            "term": self.term,
            "estimate": self.estimate,
            "design": self.design.design,
            "std_error": self.std_error,
            "df": self.df,
            "multiplier": self.multiplier,
            "effect": self.effect,
            "power": self.power,
            "alpha": self.alpha,
            "two_sided": self.two_sided,
            "method": self.method,
        }
        row.update(_size_columns(self.design))
        row["exact"] = np.nan if self.exact is None else self.exact
        return pd.DataFrame([row])

    def notes(self) -> list[str]:
        d = self.design
        side = "two-sided" if self.two_sided else "one-sided"
        out = [d.describe()]
        out.append(f"{side} t test at α = {self.alpha:g}, df = {d.df_rule()} = {d.df():g}")
        if self.method == "powerup":
            out.append("MDE multiplier M = t(1−α/2, df) + t(power, df) (PowerUp!, central t); power by the noncentral t")
        else:
            out.append("power by the noncentral t; MDE multiplier solves power(M) = target exactly")
        if d.cv_cluster_size > 0:
            out.append(f"unequal cluster sizes: cluster variance × (1 + CV²) = {1 + d.cv_cluster_size ** 2:.4g} "
                       "(Eldridge et al. 2006)")
        if d.deff_weights > 1:
            out.append(f"survey weights: household variance × Kish design effect {d.deff_weights:.4g}")
        out += self._notes
        return out

    def _target_power(self) -> float:
        """Power at which :meth:`plot` marks the MDE."""
        return float(self.power)

    def power_at(self, effect: Any) -> np.ndarray:
        """Power at the given effect size(s) for this design (noncentral t)."""
        e = np.atleast_1d(np.asarray(effect, dtype=float))
        se, df = self.std_error, self.df
        return np.array([power_from_ncp(x / se, df, self.alpha, self.two_sided) for x in e])

    def plot(self, ax: Any = None, *, lang: str = "en", effects: Any = None, **kwargs: Any) -> Any:
        """Power curve: power against effect size, with the MDE at the target power marked."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        target = self._target_power()
        mde = self.design.mde(alpha=self.alpha, power=target, two_sided=self.two_sided, method="noncentral")
        if effects is None:
            effects = np.linspace(0.0, max(2.0 * mde, 1.2 * abs(self.effect)), 101)
        effects = np.asarray(effects, dtype=float)
        ax.plot(effects, self.power_at(effects), **kwargs)
        ax.axhline(target, color="grey", lw=0.8, ls="--")
        ax.axvline(mde, color="grey", lw=0.8, ls=":")
        ax.annotate(f"MDE = {mde:.3g}", (mde, target), textcoords="offset points", xytext=(4, -12), fontsize=8)
        ax.set_xlabel(_label("power.effect", lang))
        ax.set_ylabel(_label("power.power", lang))
        ax.set_ylim(0, 1.02)
        ax.set_title(_label("power.title_curve", lang))
        return ax


class MDEResult(PowerCalculation):
    """Result of :func:`~welfare_eval.power.mde`: ``.estimate`` is the MDE in standard-deviation units."""

    title = "Minimum detectable effect"
    term = "mde"

    @property
    def estimate(self) -> float:
        return float(self.effect)

    def interval(self) -> tuple[float, float]:
        """PowerUp!'s "95 % CI" of the MDE: ``MDE ∓ t_c · SE``, ``t_c`` the test's critical value.

        The confidence interval an estimate equal to the MDE would have (PowerUpR prints it as
        ``MDES (1 ∓ t_c / M)``).
        """
        from .analytic import critical_value

        half = critical_value(self.df, self.alpha, self.two_sided) * self.std_error
        return self.effect - half, self.effect + half


class PowerResult(PowerCalculation):
    """Result of :func:`~welfare_eval.power.power`: ``.estimate`` is the power to detect ``effect``."""

    title = "Power"
    term = "power"

    @property
    def estimate(self) -> float:
        return float(self.power)

    def _target_power(self) -> float:
        return 0.8

    @property
    def mde(self) -> float:
        """The MDE at 80 % power for this design (noncentral t)."""
        return self.design.mde(alpha=self.alpha, power=0.8, two_sided=self.two_sided, method=self.method)


class SampleSizeResult(PowerCalculation):
    """Result of :func:`~welfare_eval.power.sample_size`.

    ``.estimate`` is the smallest whole number of clusters (pairs for paired designs), individuals per
    cluster or individuals (``solve_for``) that reaches the target; ``.power`` is the power achieved with
    it (noncentral t) and ``.achieved_mde`` its MDE at the target power; ``.exact`` the real-valued
    solution before rounding up.
    """

    title = "Sample size"

    def __init__(self, *, solve_for: str, size: int, target_power: float, achieved_mde: float,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.solve_for = solve_for
        self.size = size
        self.target_power = target_power
        self.achieved_mde = achieved_mde
        self.term = solve_for

    @property
    def estimate(self) -> float:
        return float(self.size)

    def _target_power(self) -> float:
        return float(self.target_power)

    def tidy(self) -> pd.DataFrame:
        t = super().tidy()
        t["target_power"] = self.target_power
        t["achieved_mde"] = self.achieved_mde
        return t

    def notes(self) -> list[str]:
        out = super().notes()
        rule = "MDE ≤ effect (PowerUp! multiplier)" if self.method == "powerup" else "power ≥ target"
        out.append(f"smallest whole {self.solve_for} with {rule}: {self.size} (real solution {self.exact:.4g}); "
                   f"achieved power {self.power:.4f} for effect {self.effect:g}")
        return out


# ------------------------------------------------------------------------------------------------
# planning table
# ------------------------------------------------------------------------------------------------
class PlanningTable(ResultBase):
    """MDE (or power) over a grid of numbers of clusters (pairs) × individuals per cluster.

    ``tidy()`` is long (one row per grid cell); :meth:`wide` pivots it (rows ``clusters``, columns
    ``per_cluster``); :meth:`plot` draws one MDE (power) curve per ``per_cluster`` value.
    """

    title = "Planning table"
    sheet_name = "planning"

    def __init__(self, table: pd.DataFrame, *, value: str, design: Design, alpha: float, two_sided: bool,
                 power: float | None, effect: float | None, method: Method) -> None:
        self._table = table
        self.value = value
        self.design = design
        self.alpha = alpha
        self.two_sided = two_sided
        self.power = power
        self.effect = effect
        self.method = method
        self.title = "Minimum detectable effect by sample size" if value == "mde" else "Power by sample size"

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def wide(self) -> pd.DataFrame:
        """The table with one row per ``clusters`` and one column per ``per_cluster``."""
        return self._table.pivot(index="clusters", columns="per_cluster", values=self.value)

    def notes(self) -> list[str]:
        d = self.design
        side = "two-sided" if self.two_sided else "one-sided"
        what = (f"MDE (SD units) at {self.power:.0%} power" if self.value == "mde"
                else f"power to detect {self.effect:g} SD")
        out = [f"{what}, {side} α = {self.alpha:g}, df = {d.df_rule()}",
               "design (sizes vary over the grid): " + d.describe()]
        if d.paired:
            out.append("clusters = pairs; n_clusters = all clusters of the pairs")
        return out

    def plot(self, ax: Any = None, *, lang: str = "en", **kwargs: Any) -> Any:
        """One line per ``per_cluster``: MDE (or power) against the number of clusters (pairs)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self._table
        for m, g in t.groupby("per_cluster", sort=True):
            g = g.sort_values("clusters")
            ax.plot(g["clusters"], g[self.value], marker="o", ms=3,
                    label=f"{_label('power.per_cluster', lang)} = {m}", **kwargs)
        ax.set_xlabel(_label("power.pairs" if self.design.paired else "power.clusters", lang))
        ax.set_ylabel(_label("power.mde" if self.value == "mde" else "power.power", lang))
        ax.set_title(_label("power.title_planning" if self.value == "mde" else "power.title_power_planning", lang))
        ax.legend(fontsize=8)
        return ax


# ------------------------------------------------------------------------------------------------
# simulation
# ------------------------------------------------------------------------------------------------
class SimulationResult(ResultBase):
    """Result of :func:`~welfare_eval.power.simulate_power`: rejection rates by inference method.

    ``tidy()``: one row per effect × method with ``power`` (rejection rate), ``mc_std_error``
    (``√(p(1 − p)/n_sims)``), ``n_sims`` and ``analytic_power`` (noncentral t with the design's df) for
    comparison, plus the mean and Monte Carlo standard deviation of the estimates and the analytic
    standard error.
    """

    title = "Simulated power"
    sheet_name = "simulation"

    def __init__(self, table: pd.DataFrame, *, design: Design, alpha: float, two_sided: bool, seed: int,
                 draws: int, estimates: pd.DataFrame, extra_notes: list[str]) -> None:
        self._table = table
        self.design = design
        self.alpha = alpha
        self.two_sided = two_sided
        self.seed = seed
        self.draws = draws
        self.estimates = estimates
        self._notes = extra_notes

    def tidy(self) -> pd.DataFrame:
        return self._table.copy()

    def notes(self) -> list[str]:
        out = [self.design.describe(),
               f"{'two' if self.two_sided else 'one'}-sided tests at α = {self.alpha:g}; Monte Carlo standard "
               f"error √(p(1−p)/n_sims); seed {self.seed}; wild/ri with {self.draws} draws "
               "(full enumeration when 2^pairs ≤ draws)",
               f"analytic_power: noncentral t with df = {self.design.df_rule()} = {self.design.df():g}"]
        return out + self._notes

    def plot(self, ax: Any = None, *, lang: str = "en", **kwargs: Any) -> Any:
        """Simulated power by method (± 2 Monte Carlo SE) and the analytic power, against effect size."""
        import matplotlib.pyplot as plt

        from welfare_eval.reference import label

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self._table
        effects = np.sort(t["effect"].unique())
        for meth, g in t.groupby("method", sort=False):
            g = g.sort_values("effect")
            name = label(f"method.{meth}", "th" if lang == "th" else "en", default=str(meth))
            ax.errorbar(g["effect"], g["power"], yerr=2 * g["mc_std_error"], marker="o", ms=3, capsize=2,
                        label=name, **kwargs)
        if len(effects) > 1:
            grid = np.linspace(effects.min(), effects.max(), 101)
        else:
            grid = effects
        se, df = self.design.std_error(), self.design.df()
        ax.plot(grid, [power_from_ncp(e / se, df, self.alpha, self.two_sided) for e in grid], color="black",
                lw=1, ls="--", label=_label("power.analytic", lang))
        ax.set_xlabel(_label("power.effect", lang))
        ax.set_ylabel(_label("power.power", lang))
        ax.set_ylim(0, 1.02)
        ax.set_title(_label("power.title_simulation", lang))
        ax.legend(fontsize=8)
        return ax


def mde_value(design: Design, *, alpha: float, power: float, two_sided: bool, method: Method) -> tuple[float, float]:
    """(MDE, multiplier) for ``design``."""
    m = multiplier(design.df(), alpha=alpha, power=power, two_sided=two_sided, method=method)
    return m * design.std_error(), m


def finite(x: float) -> bool:
    return x is not None and math.isfinite(x)
