"""Result objects of :func:`~welfare_eval.did.staggered.att_gt` and its aggregations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ..._results import ResultBase
from .aggregate import Aggregation, aggregate_effects
from .bootstrap import BootstrapDraws, iqr_se, sup_t_critical

if TYPE_CHECKING:
    from ._data import _Cell, _Prepared

FloatArray = npt.NDArray[np.float64]

__all__ = ["ATTgtResult", "AggregateResult"]

_TINY = float(np.sqrt(np.finfo(float).eps) * 10)  # R did: SEs below this are reported as missing


def _max_or_nan(v: FloatArray) -> float:
    v = v[np.isfinite(v)]
    return float(v.max()) if v.size else float("nan")


def _fmt(v: float) -> str:
    return f"{v:g}"


class _Inference:
    """Shared inference on parameters with cluster contributions ``S`` (G × K)."""

    level: float
    std_errors: str
    boot: BootstrapDraws

    def _draws(self, contrib: FloatArray) -> FloatArray:
        return self.boot(contrib)

    def _se(self, contrib: FloatArray, *, need_draws: bool = True) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(standard errors, analytic SEs, bootstrap draws — empty when neither the band nor the SEs need them)."""
        analytic = np.sqrt(np.sum(contrib**2, axis=0))
        need = need_draws or self.std_errors == "bootstrap"
        draws = self._draws(contrib) if need else np.zeros((0, contrib.shape[1]))
        if self.std_errors == "bootstrap":
            se = iqr_se(draws)
        else:
            se = analytic.copy()
        se = np.where(se <= _TINY, np.nan, se)
        return se, analytic, draws

    def _table(self, est: FloatArray, contrib: FloatArray, *, band: bool = True,
               missing: npt.NDArray[np.bool_] | None = None) -> tuple[dict[str, FloatArray], float]:
        se, _, draws = self._se(contrib, need_draws=band)
        if missing is not None:
            se = np.where(missing, np.nan, se)
        z = float(stats.norm.ppf(0.5 + self.level / 2))
        crit = sup_t_critical(draws, se, self.level) if band else float("nan")
        if band and not np.isfinite(crit):
            crit = z
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = est / se
        cols = {
            "estimate": est, "std_error": se, "statistic": stat, "p_value": 2 * stats.norm.sf(np.abs(stat)),
            "ci_low": est - z * se, "ci_high": est + z * se,
            "band_low": est - crit * se, "band_high": est + crit * se,
        }
        return cols, crit


class ATTgtResult(_Inference, ResultBase):
    """Group-time average treatment effects with influence-function and bootstrap inference.

    Attributes
    ----------
    contrib : ndarray (clusters × cells)
        Cluster sums of each ATT(g,t)'s influence-function contributions (``vcov() = contrib.T @ contrib``).
    """

    title = "Group-time average treatment effects"
    sheet_name = "att_gt"

    def __init__(self, *, cells: list[_Cell], contrib: FloatArray, prep: _Prepared, settings: dict[str, Any],
                 level: float, std_errors: str, boot: BootstrapDraws) -> None:
        self._cells = cells
        self.contrib = contrib
        self._prep = prep
        self.settings = settings
        self.level = level
        self.std_errors = std_errors
        self.boot = boot
        self.title = f"ATT(g,t): {settings['outcome']}"
        self._cache: dict[str, Any] = {}

    # -- bootstrap through one basis -------------------------------------------------------------------
    def _draws(self, contrib: FloatArray) -> FloatArray:
        """Bootstrap draws of parameters with cluster contributions ``contrib``.

        Every parameter here (ATT(g,t), aggregations, their cohort-share terms) has contributions in the
        span of ``[S_att, A, N]`` (ATT(g,t) contributions, per-cluster cohort weights and id counts), so
        the multipliers are applied once to that basis (one pass over the clusters, whatever the number
        of parameters) and each parameter's draws follow by its coefficients on the basis (exact: the
        fit is checked; otherwise the draws are computed directly).
        """
        if "basis" not in self._cache:
            p = self._prep
            basis = np.column_stack([self.contrib, p.id_weight_by_cohort, p.id_count])
            scale = np.abs(basis).max(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
            basis = basis / scale
            self._cache["basis"] = (basis, np.linalg.pinv(basis.T @ basis, rcond=1e-12, hermitian=True),
                                    self.boot(basis))
        basis, gram_inv, bdraws = self._cache["basis"]
        c = np.nan_to_num(np.asarray(contrib, dtype=float))
        coef = gram_inv @ (basis.T @ c)
        resid = np.abs(basis @ coef - c).max(initial=0.0)
        if resid <= 1e-9 * max(float(np.abs(c).max(initial=0.0)), 1e-300):
            return np.asarray(bdraws @ coef)
        return self.boot(contrib)

    # -- accessors ---------------------------------------------------------------------------------
    @property
    def estimates(self) -> FloatArray:
        return np.array([c.estimate for c in self._cells])

    @property
    def cohorts(self) -> FloatArray:
        return np.array([c.cohort for c in self._cells])

    @property
    def times(self) -> FloatArray:
        return np.array([c.time for c in self._cells])

    @property
    def n_clusters(self) -> int:
        return self._prep.n_clusters

    def vcov(self) -> FloatArray:
        """Analytic covariance of the ATT(g,t) (``S'S``; R ``did``'s ``V_analytical / n``)."""
        return self.contrib.T @ self.contrib

    def influence(self) -> pd.DataFrame:
        """Cluster contributions (rows: clusters, columns: ``ATT(g,t)`` terms)."""
        return pd.DataFrame(self.contrib, index=pd.Index(self._prep.cluster_labels, name="cluster"),
                            columns=self._terms())

    def _terms(self) -> list[str]:
        return [f"ATT({_fmt(c.cohort)},{_fmt(c.time)})" for c in self._cells]

    def tidy(self) -> pd.DataFrame:
        if "tidy" not in self._cache:
            est = self.estimates
            ref = np.array([np.isnan(c.n_obs) for c in self._cells])
            cols, crit = self._table(est, self.contrib, missing=ref)
            out = pd.DataFrame({
                "term": self._terms(), "cohort": self.cohorts, "time": self.times,
                "event_time": self.times - self.cohorts, "base_time": [c.base for c in self._cells],
                "post": [c.post for c in self._cells], **cols,
                "n_obs": [c.n_obs for c in self._cells], "n_clusters": [c.n_clusters for c in self._cells]})
            self._cache["tidy"] = out
            self._cache["crit"] = crit
        return self._cache["tidy"].copy()

    def critical_value(self) -> float:
        """Sup-t critical value of the simultaneous band over all ATT(g,t)."""
        self.tidy()
        return float(self._cache["crit"])

    def notes(self) -> list[str]:
        s = self.settings
        out = [f"{s['mode_label']}; method {s['method']}; comparison: "
               f"{'never-treated' if s['control'] == 'never' else 'never- and not-yet-treated'} units; base period "
               f"{s['base_period']}; anticipation {s['anticipation']}; covariates: {', '.join(s['covariates']) or 'none'}",
               f"{self.n_clusters} clusters ({s['cluster'] or 'rows'}); standard errors: {self.std_errors}"
               f"{' (influence function)' if self.std_errors == 'analytic' else ' (multiplier bootstrap, IQR)'}; "
               f"{int(self.level * 100)}% uniform band from {self.boot.draws} {self.boot.kind} multiplier draws "
               f"(seed {self.boot.seed})"]
        out += list(self._prep.notes)
        try:
            pt = self.pretrend_test()
            w = pt[pt["method"] == "wald"].iloc[0]
            out.append(f"pre-trend test (Wald, all pre-treatment ATT(g,t) = 0): chi2 = {w['statistic']:.3f} on "
                       f"{w['df']:.0f} df, p = {w['p_value']:.4f}")
        except ValueError:
            pass
        return out

    # -- tests -------------------------------------------------------------------------------------
    def pretrend_test(self) -> pd.DataFrame:
        """Joint test that every pre-treatment ATT(g,t) (``t < g − anticipation``) is zero.

        Rows ``wald``: ``att' V⁻¹ att`` on ``q`` df, chi-square (R ``did``'s pre-test, with the analytic
        cluster-robust ``V``; cells with zero variance excluded); ``sup_t``: bootstrap p-value of
        ``max |ATT/se|`` over the pre-treatment cells (whether the uniform band over them covers zero).
        With anticipation, the cells in ``[g − anticipation, g)`` may carry anticipated effects and are not
        tested (as ``csdid``; R ``did``'s source tests every ``t < g``); without anticipation the two agree.
        """
        if "pretrend" in self._cache:
            return self._cache["pretrend"].copy()
        tab = self.tidy()
        ant = self.settings["anticipation"]
        pre = np.flatnonzero((self.times < self.cohorts - ant) & tab["std_error"].notna().to_numpy())
        if pre.size == 0:
            raise ValueError("pretrend_test: no pre-treatment ATT(g,t) with a standard error")
        att = self.estimates[pre]
        v = self.vcov()[np.ix_(pre, pre)]
        if np.linalg.cond(v) > 1 / np.finfo(float).eps:
            raise ValueError("pretrend_test: singular covariance of the pre-treatment ATT(g,t)")
        w = float(att @ np.linalg.solve(v, att))
        se, _, draws = self._se(self.contrib[:, pre])
        tmax = float(np.max(np.abs(att) / se))
        tb = np.max(np.abs(draws) / se, axis=1)
        p_sup = float(np.mean(tb >= tmax))
        out = pd.DataFrame([
            {"term": "pre-treatment ATT(g,t) = 0", "method": "wald", "statistic": w, "df": float(pre.size),
             "p_value": float(stats.chi2.sf(w, pre.size)), "n_clusters": self.n_clusters},
            {"term": "pre-treatment ATT(g,t) = 0", "method": "sup_t", "statistic": tmax, "df": float(pre.size),
             "p_value": p_sup, "n_clusters": self.n_clusters}])
        self._cache["pretrend"] = out
        return out.copy()

    # -- aggregation ---------------------------------------------------------------------------------
    def aggregate(self, type: str = "dynamic", *, min_e: float = -np.inf, max_e: float = np.inf,
                  balance_e: int | None = None) -> AggregateResult:
        """Aggregate ATT(g,t) like R ``aggte``: ``"simple"``, ``"dynamic"``, ``"group"`` or ``"calendar"``.

        ``min_e``/``max_e`` bound the event times (``dynamic``; ``max_e`` also limits the post periods used by
        ``simple`` and ``group``); ``balance_e`` keeps only cohorts observed at least ``balance_e`` periods
        after treatment (``dynamic``).
        """
        p = self._prep
        agg = aggregate_effects(kind=type, att=self.estimates, contrib=self.contrib, group=self.cohorts,
                                time=self.times, cohorts=p.cohorts, A=p.id_weight_by_cohort, N=p.id_count,
                                n_ids=p.n_ids, times=p.times, min_e=min_e, max_e=max_e, balance_e=balance_e)
        return AggregateResult(agg, parent=self)

    # -- plot --------------------------------------------------------------------------------------
    def plot(self, ax: Any = None, *, kind: str = "cohorts", **kwargs: Any) -> Any:
        """``kind="cohorts"``: one panel per cohort, ATT(g,t) by period with CIs and the uniform band;
        ``kind="event"``: the dynamic aggregation (event-study figure with its band)."""
        if kind == "event":
            return self.aggregate("dynamic").plot(ax=ax, **kwargs)
        if kind != "cohorts":
            raise ValueError(f"plot: kind={kind!r}; use 'cohorts' or 'event'")
        import matplotlib.pyplot as plt

        tab = self.tidy()
        cohorts = list(dict.fromkeys(tab["cohort"]))
        if ax is None:
            _fig, axes = plt.subplots(len(cohorts), 1, figsize=(6.5, 2.2 * len(cohorts)), sharex=True, squeeze=False)
            axes = axes[:, 0]
        else:
            axes = np.atleast_1d(ax)
            if axes.size != len(cohorts):
                raise ValueError(f"plot: pass {len(cohorts)} axes (one per cohort)")
        for a, gv in zip(axes, cohorts, strict=True):
            sub = tab[tab["cohort"] == gv]
            for post, colour in ((False, "tab:blue"), (True, "tab:red")):
                s = sub[sub["post"] == post]
                a.errorbar(s["time"], s["estimate"], yerr=[s["estimate"] - s["band_low"], s["band_high"] - s["estimate"]],
                           fmt="none", ecolor=colour, alpha=0.35, lw=4)
                a.errorbar(s["time"], s["estimate"], yerr=[s["estimate"] - s["ci_low"], s["ci_high"] - s["estimate"]],
                           fmt="o", color=colour, capsize=3, label="post" if post else "pre", **kwargs)
            a.axhline(0, color="grey", lw=0.8)
            a.set_title(f"cohort {_fmt(gv)}", fontsize="small")
        axes[-1].set_xlabel("period")
        axes[0].legend(frameon=False, fontsize="small")
        return axes


class AggregateResult(_Inference, ResultBase):
    """An aggregation of ATT(g,t) (``aggte``) with pointwise CIs, a uniform band and an overall row."""

    sheet_name = "aggregate"

    def __init__(self, agg: Aggregation, *, parent: ATTgtResult) -> None:
        self.agg = agg
        self.parent = parent
        self.level = parent.level
        self.std_errors = parent.std_errors
        self.boot = parent.boot
        self._draws = parent._draws  # type: ignore[method-assign]
        self.title = f"ATT aggregated ({agg.kind}): {parent.settings['outcome']}"
        self._cache: dict[str, Any] = {}

    @property
    def kind(self) -> str:
        return self.agg.kind

    def vcov(self) -> FloatArray:
        """Analytic covariance of the aggregated rows (without the overall row)."""
        return self.agg.contrib.T @ self.agg.contrib

    def tidy(self) -> pd.DataFrame:
        if "tidy" in self._cache:
            return self._cache["tidy"].copy()
        a = self.agg
        col = {"dynamic": "event_time", "group": "cohort", "calendar": "time"}.get(a.kind)
        labels = np.array(a.labels, dtype=float)
        est = np.r_[a.estimate, a.overall]
        if a.labels:
            cols, crit = self._table(a.estimate, a.contrib)
            self._cache["crit"] = crit
        else:
            cols = {}
        ocols, _ = self._table(np.array([a.overall]), a.overall_contrib[:, None], band=False)
        merged = {k: np.r_[cols[k], ocols[k]] if cols else ocols[k] for k in ocols}
        prefix = {"dynamic": "e", "group": "g", "calendar": "t"}.get(a.kind, "")
        nan = np.full(labels.size, np.nan)
        parent = self.parent.tidy()["n_obs"].to_numpy(dtype=float)
        used = [*a.cells_used[: labels.size], sorted({i for u in a.cells_used for i in u})]
        out = pd.DataFrame({
            "term": [f"{prefix}={_fmt(v)}" for v in labels] + ["overall"], "type": a.kind,
            **{c: np.r_[labels if c == col else nan, np.nan] for c in ("cohort", "time", "event_time")},
            **merged, "n_obs": [_max_or_nan(parent[u]) for u in used],
            "n_clusters": self.parent.n_clusters})
        out["estimate"] = est
        self._cache["tidy"] = out
        return out.copy()

    def critical_value(self) -> float:
        self.tidy()
        return float(self._cache.get("crit", np.nan))

    def notes(self) -> list[str]:
        a = self.agg
        out = [f"aggregation {a.kind} of ATT(g,t) with cohort-share weights (R did aggte); overall: "
               + {"simple": "weighted average of all post-treatment ATT(g,t)",
                  "dynamic": "average of the event-time effects e >= 0",
                  "group": "cohort effects weighted by cohort shares",
                  "calendar": "average of the calendar-period effects"}[a.kind],
               f"{int(self.level * 100)}% CIs pointwise; band: uniform (sup-t) over the rows, not for 'overall'; "
               "n_obs: the largest 2×2 sample among the ATT(g,t) entering the row"]
        if a.kind == "dynamic" and (np.isfinite(a.min_e) or np.isfinite(a.max_e) or a.balance_e is not None):
            out.append(f"event times limited to [{a.min_e:g}, {a.max_e:g}]"
                       + (f", cohorts balanced up to e = {a.balance_e}" if a.balance_e is not None else ""))
        return out

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Estimates by event time / cohort / period with pointwise CIs and the uniform band."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6.5, 3.8))
        tab = self.tidy()
        tab = tab[tab["term"] != "overall"]
        col = {"dynamic": "event_time", "group": "cohort", "calendar": "time"}.get(self.kind)
        if col is None:
            raise ValueError("plot: the simple aggregation has a single number; nothing to plot")
        x = tab[col].to_numpy(dtype=float)
        ax.fill_between(x, tab["band_low"], tab["band_high"], alpha=0.18, step="mid",
                        label=f"uniform band ({int(self.level * 100)}%)")
        colours = np.where(x >= 0, "tab:red", "tab:blue") if self.kind == "dynamic" else np.full(x.size, "tab:red")
        est, lo, hi = (tab[c].to_numpy(dtype=float) for c in ("estimate", "ci_low", "ci_high"))
        for j in range(x.size):
            ax.errorbar([x[j]], [est[j]], yerr=[[est[j] - lo[j]], [hi[j] - est[j]]], fmt="o", color=colours[j],
                        capsize=3, **kwargs)
        ax.axhline(0, color="grey", lw=0.8)
        if self.kind == "dynamic":
            ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel({"event_time": "periods since adoption", "cohort": "cohort", "time": "period"}[col])
        ax.set_ylabel(self.parent.settings["outcome"])
        ax.legend(frameon=False, fontsize="small")
        return ax

    # -- sensitivity (Rambachan & Roth 2023), reusing the event-study machinery ------------------------
    def _event_split(self) -> tuple[FloatArray, FloatArray, list[float], list[float], float]:
        if self.kind != "dynamic":
            raise ValueError("sensitivity needs the dynamic (event-time) aggregation")
        if self.parent.settings["base_period"] != "universal":
            raise ValueError("HonestDiD-style sensitivity needs base_period='universal' (event-time effects "
                             "relative to one reference period, as HonestDiD requires for did results)")
        e = np.array(self.agg.labels)
        ref = -1.0 - self.parent.settings["anticipation"]
        pre = [float(v) for v in e if v < ref]
        post = [float(v) for v in e if v > ref]
        idx = [int(np.flatnonzero(e == v)[0]) for v in pre + post]
        v = self.vcov()[np.ix_(idx, idx)]
        if not pre:
            raise ValueError("sensitivity: needs at least one pre-period event time besides the reference")
        return self.agg.estimate[idx], v, pre, post, ref

    def flci(self, m: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1), *, l_vec: Any = None,
             alpha: float = 0.05) -> pd.DataFrame:
        """Fixed-length CIs under smoothness restrictions Δ^SD(M) (HonestDiD), via
        :func:`welfare_eval.did._honest.flci_smoothness` on the event-time effects and their analytic
        covariance; ``l_vec`` weights the post periods (default: the first after the reference)."""
        from .._honest import flci_smoothness

        b, v, pre, post, ref = self._event_split()
        if pre != [ref - len(pre) + i for i in range(len(pre))] or post != [ref + 1 + i for i in range(len(post))]:
            raise ValueError("flci: event times must be contiguous around the reference period")
        lv = None if l_vec is None else np.asarray(l_vec, dtype=float)
        rows = []
        for mm in m:
            r = flci_smoothness(b, v, len(pre), len(post), float(mm), lv, alpha)
            rows.append({"M": mm, "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "half_length": r["half_length"], "max_bias": r["max_bias"]})
        return pd.DataFrame(rows)

    def sensitivity(self, mbar: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0)) -> pd.DataFrame:
        """Relative-magnitudes sensitivity Δ^RM(M̄) (:func:`welfare_eval.did._honest.relative_magnitudes`,
        as the event study's), with this aggregation's uniform band as the projection box."""
        from .._honest import relative_magnitudes

        b, v, pre, post, ref = self._event_split()
        se = np.sqrt(np.diag(v))
        n = len(pre)
        return relative_magnitudes(beta_pre=b[:n], beta_post=b[n:], se_pre=se[:n], se_post=se[n:],
                                   crit=self.critical_value(), k_pre=pre, k_post=post, reference=ref,
                                   terms=[f"e={_fmt(k)}" for k in post], mbar=mbar)
