"""Balance result object (before/after matching) with a Love plot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from welfare_eval._results import ResultBase
from welfare_eval.match.balance import balance_table

__all__ = ["BalanceResult", "love_plot"]


def _label(key: str, lang: str, default: str | None = None) -> str:
    from welfare_eval.reference import label

    fallback = default if default is not None else key.split(".", 1)[-1].replace("_", " ")
    try:
        return label(key, lang, default=fallback)  # type: ignore[arg-type]
    except Exception:  # pragma: no cover - label lookup must never break a plot
        return fallback


def _cov_label(name: str, lang: str) -> str:
    return _label(f"covariate.{name}", lang, default=name)


@dataclass(repr=False)
class BalanceResult(ResultBase):
    """Covariate balance before and after matching.

    Attributes
    ----------
    before, after : DataFrame
        :func:`welfare_eval.match.balance_table` of the matching population (pilots vs every eligible
        candidate: the naive comparison) and of the matched sample (with matching weights).
    """

    before: pd.DataFrame
    after: pd.DataFrame
    treat: str
    covariates: list[str]
    weighted: bool = False
    sd_denominator: str = "own"
    title: str = "Covariate balance before and after matching"

    @classmethod
    def from_samples(
        cls,
        *,
        before: pd.DataFrame,
        after: pd.DataFrame,
        treat: str,
        covariates: Sequence[str],
        weights_before: Any = None,
        weights_after: Any = None,
        survey_weighted: bool | None = None,
        sd_denominator: Literal["own", "before"] = "own",
    ) -> BalanceResult:
        """Balance tables of two samples.

        ``sd_denominator="own"`` (default) standardizes each sample by its own pooled SD;
        ``"before"`` divides the after-matching mean difference by the *before* sample's
        ``sd_pooled`` (R ``cobalt``'s default), so that SMDs before and after share one yardstick.
        The denominator used is always in column ``smd_denominator``.
        """
        covs = list(covariates)
        b = balance_table(before, treat=treat, covariates=covs, weights=weights_before)
        a = balance_table(after, treat=treat, covariates=covs, weights=weights_after)
        b.insert(list(b.columns).index("smd"), "smd_denominator", b["sd_pooled"])
        if sd_denominator == "own":
            a.insert(list(a.columns).index("smd"), "smd_denominator", a["sd_pooled"])
        elif sd_denominator == "before":
            a.insert(list(a.columns).index("smd"), "smd_denominator", b["sd_pooled"].reindex(a.index))
            a["smd"] = a["mean_diff"] / a["smd_denominator"]
            a["smd_gt_0_1"] = a["smd"].abs() > 0.1
            a["smd_gt_0_25"] = a["smd"].abs() > 0.25
        else:
            raise ValueError(f"sd_denominator must be 'own' or 'before', not {sd_denominator!r}")
        return cls(
            before=b,
            after=a,
            treat=treat,
            covariates=covs,
            weighted=(weights_before is not None) if survey_weighted is None else survey_weighted,
            sd_denominator=sd_denominator,
        )

    def tidy(self) -> pd.DataFrame:
        """Long table: one row per covariate and sample (``before``/``after``)."""
        out = pd.concat({"before": self.before, "after": self.after}, names=["sample", "covariate"])
        return out.reset_index()

    def table(self) -> pd.DataFrame:
        """Wide table indexed by covariate: means, SMD, variance ratio and KS before and after."""
        keep = ["mean_treated", "mean_control", "smd", "variance_ratio", "ks"]
        b = self.before[["type", *keep]]
        a = self.after[keep]
        return pd.concat({"before": b, "after": a}, axis=1)

    sheet_name = "balance"

    def mean_abs_smd(self) -> pd.Series:
        """Mean |SMD| over covariates, before and after."""
        return pd.Series(
            {"before": float(self.before["smd"].abs().mean()), "after": float(self.after["smd"].abs().mean())}
        )

    def notes(self) -> list[str]:
        m = self.mean_abs_smd()
        return [
            "SMD = (m_t - m_c) / sqrt((s_t^2 + s_c^2)/2), sample variances (n-1), binary covariates "
            "included (column type); denominator (column smd_denominator) from "
            + ("each sample itself." if self.sd_denominator == "own" else "the sample before matching."),
            "Before: pilots vs all eligible candidates; after: matched sample with matching weights"
            + (" times survey weights." if self.weighted else "."),
            f"Mean |SMD| before {m['before']:.3f}, after {m['after']:.3f}.",
        ]

    def plot(self, ax: Any = None, *, lang: str = "en", threshold: float = 0.1, **kwargs: Any) -> Any:
        """Love plot of |SMD| before and after matching."""
        return love_plot(self.before, self.after, ax=ax, lang=lang, threshold=threshold, **kwargs)


def love_plot(
    before: pd.DataFrame,
    after: pd.DataFrame | None = None,
    *,
    ax: Any = None,
    lang: str = "en",
    threshold: float = 0.1,
    absolute: bool = True,
) -> Any:
    """Love plot: one row per covariate, SMD before (open circle) and after (filled dot) matching.

    Covariate labels come from ``welfare_eval.reference.label("covariate.<name>", lang)`` where such a
    label exists, else the column name. Dashed lines mark ``threshold`` (and 0.25).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(before) + 1.2))
    covs = list(before.index)
    sb = before["smd"].to_numpy(dtype=float)
    sa = after["smd"].reindex(covs).to_numpy(dtype=float) if after is not None else None
    if absolute:
        sb = np.abs(sb)
        sa = np.abs(sa) if sa is not None else None
    order = np.argsort(-np.nan_to_num(sb), kind="mergesort")[::-1]
    y = np.arange(len(covs))
    ax.scatter(sb[order], y, facecolors="none", edgecolors="tab:gray", label=_label("match.before", lang))
    if sa is not None:
        ax.scatter(sa[order], y, color="tab:blue", label=_label("match.after", lang))
    ax.set_yticks(y)
    ax.set_yticklabels([_cov_label(covs[i], lang) for i in order])
    for v in (threshold, 0.25):
        ax.axvline(v, color="tab:red" if v == threshold else "tab:orange", ls="--", lw=0.8)
        if not absolute:
            ax.axvline(-v, color="tab:red" if v == threshold else "tab:orange", ls="--", lw=0.8)
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(_label("match.abs_smd" if absolute else "match.smd", lang))
    ax.legend(loc="lower right", frameon=False)
    return ax
