"""Result objects of the survey stage (estimates with SE, df, CI and deff; weight audit; GLM)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from welfare_eval._results import ResultBase

__all__ = ["GlmResult", "SurveyEstimate", "WeightAudit"]

_COLUMNS = ["estimate", "std_error", "df", "ci_low", "ci_high", "deff"]


class SurveyEstimate(ResultBase):
    """Design-based estimates (mean, total, ratio, proportion, quantile) with their variance.

    Attributes
    ----------
    table : DataFrame
        One row per term (variable or level) and domain, with ``estimate``, ``std_error``, ``df``,
        ``ci_low``, ``ci_high``, ``deff`` and ``n`` (unweighted count of units with non-zero weight).
    vcov : ndarray
        Covariance matrix of the estimates, in the row order of ``table``.
    statistic : str
        ``"mean"``, ``"total"``, ``"ratio"``, ``"proportion"`` or ``"quantile"``.
    method : str
        Variance method (``"taylor"`` or the replicate type).
    """

    def __init__(
        self,
        table: pd.DataFrame,
        vcov: np.ndarray,
        *,
        statistic: str,
        method: str,
        level: float,
        extra_notes: list[str] | None = None,
    ) -> None:
        self.table = table.reset_index(drop=True)
        self.vcov = np.asarray(vcov, dtype=float)
        self.statistic = statistic
        self.method = method
        self.level = level
        self.title = f"Survey {statistic} ({method} variance)"
        self._extra_notes = list(extra_notes or [])

    def tidy(self) -> pd.DataFrame:
        """One row per term/domain: estimate, std_error, df, ci_low, ci_high, deff (and n)."""
        return self.table.copy()

    @property
    def estimate(self) -> np.ndarray:
        """The point estimates as an array (row order of :meth:`tidy`)."""
        return self.table["estimate"].to_numpy(dtype=float)

    @property
    def std_error(self) -> np.ndarray:
        """The standard errors as an array (row order of :meth:`tidy`)."""
        return self.table["std_error"].to_numpy(dtype=float)

    def contrast(self, weights: Any) -> tuple[float, float]:
        """A linear combination ``c' theta`` of the estimates and its standard error (R ``svycontrast``).

        ``weights`` has one entry per row of :meth:`tidy`.
        """
        c = np.asarray(weights, dtype=float)
        if c.shape != (len(self.table),):
            raise ValueError(
                f"contrast needs {len(self.table)} weights (one per row of tidy()), got {c.shape}"
            )
        return float(c @ self.estimate), float(np.sqrt(max(c @ self.vcov @ c, 0.0)))

    def notes(self) -> list[str]:
        """Method, df and confidence level."""
        df = self.table["df"].iloc[0] if len(self.table) else float("nan")
        return [
            f"variance: {self.method}; design df = {df:g}; "
            f"{100 * self.level:g}% t-based confidence intervals",
            *self._extra_notes,
        ]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Dot-and-whisker plot of the estimates with their confidence intervals."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * len(self.table) + 1))
        labels = [
            " | ".join(str(v) for v in row)
            for row in self.table.drop(columns=[*_COLUMNS, "n"], errors="ignore").itertuples(index=False)
        ]
        y = np.arange(len(self.table))
        est = self.estimate
        ax.errorbar(
            est,
            y,
            xerr=[est - self.table["ci_low"], self.table["ci_high"] - est],
            fmt="o",
            capsize=3,
            **kwargs,
        )
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel(self.statistic)
        return ax


class WeightAudit(ResultBase):
    """Audit trail of the weighting steps: weight range, Kish design effect and effective sample size."""

    title = "Weighting audit trail"

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = list(rows)

    def tidy(self) -> pd.DataFrame:
        """One row per weighting step."""
        return pd.DataFrame(self.rows)

    def notes(self) -> list[str]:
        """How the columns are defined."""
        return [
            "kish_deff = n * sum(w^2) / sum(w)^2 over units with w > 0; ess = sum(w)^2 / sum(w^2)",
        ]

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Kish design effect after each step."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3))
        tab = self.tidy()
        ax.plot(range(len(tab)), tab["kish_deff"], marker="o", **kwargs)
        ax.set_xticks(range(len(tab)), tab["step"], rotation=30, ha="right")
        ax.set_ylabel("Kish deff")
        return ax


class GlmResult(ResultBase):
    """Survey-weighted GLM (svyglm-like) with design-based (sandwich) variance."""

    def __init__(
        self,
        table: pd.DataFrame,
        vcov: np.ndarray,
        *,
        family: str,
        method: str,
        df_residual: float,
        formula: str,
        level: float,
    ) -> None:
        self.table = table.reset_index(drop=True)
        self.vcov = np.asarray(vcov, dtype=float)
        self.family = family
        self.method = method
        self.df_residual = df_residual
        self.formula = formula
        self.level = level
        self.title = f"Survey-weighted GLM ({family}): {formula}"

    def tidy(self) -> pd.DataFrame:
        """One row per coefficient: estimate, std_error, df, ci_low, ci_high, deff, statistic, p_value."""
        return self.table.copy()

    @property
    def params(self) -> pd.Series:
        """Coefficients indexed by term."""
        return pd.Series(self.table["estimate"].to_numpy(), index=self.table["term"].to_list())

    def notes(self) -> list[str]:
        """Variance method and residual df."""
        return [
            f"variance: {self.method} (design-based sandwich); residual df = design df - p + 1 = "
            f"{self.df_residual:g}; t-based {100 * self.level:g}% CI"
        ]
