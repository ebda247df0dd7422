"""The survey design object and its design-based estimators.

A :class:`Design` is built once from a household (or village) table and passed to every estimator. It
records strata, PSUs, an optional second stage with finite population corrections at both stages,
certainty PSUs, the weights and every weighting step applied to them, and (after
:meth:`Design.replicate`) replicate weights.

Variance is computed as R's ``survey`` package does (Lumley 2010, *Complex Surveys*, ch. 2-3):

* Taylor linearisation: the weighted influence values of the estimator are summed to PSUs, centred
  within strata and combined with ``f_h n_h / (n_h - 1)`` where ``f_h = (N_h - n_h) / N_h`` (1 without
  fpc); when a first-stage fpc is given and a second stage is declared, the within-PSU variance of the
  SSU totals is added with the factor ``n_h / N_h`` (the unbiased two-stage formula, Särndal et al. 1992,
  eq. 4.3.21). After calibration the influence values are replaced by ``w_i e_i`` with ``e_i`` the
  residuals of the ``d``-weighted regression on the calibration variables (Deville & Särndal 1992).
* Replicate weights: ``v = scale * sum_r rscale_r (theta_r - c)^2`` with ``c`` the replicate mean or,
  with ``mse=True``, the full-sample estimate.

The code is written from the formulas; where a convention of R ``survey`` 4.1 is followed (lonely-PSU
options, deff definition), the docstring says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from welfare_eval._progress import progress
from welfare_eval.survey.results import SurveyEstimate, WeightAudit

__all__ = ["Design", "DesignError"]

LonelyPolicy = Literal["error", "adjust", "average", "certainty", "remove"]
_LONELY = ("error", "adjust", "average", "certainty", "remove")


class DesignError(ValueError):
    """A problem with the design specification or the data that the user must fix."""


@dataclasses.dataclass(frozen=True)
class CalStep:
    """Linearisation information of one calibration step (applied to influence values in order).

    kind "greg": ``z -> w_post * (u - X b)`` with ``u = z / w_post`` and ``b`` the ``d``-weighted least
    squares coefficient of ``u`` on ``X``. kind "ipf": R ``rake()``'s approximation (10 sweeps of
    unweighted cell-mean removal over the margins). kind "nrclass": weighting-class nonresponse
    adjustment, ``z -> d ū_c + r (z - w_post ū_c)`` with ``ū_c`` the respondents' weighted mean of
    ``u`` in class c. kind "ipw": inverse response propensity from a logistic model with design matrix
    ``X``, ``z -> z - d (r - p) x' H^{-1} sum_R z (1 - p) x`` with ``H = sum d p (1 - p) x x'``. Each is
    the exact derivative ``d_i ∂θ/∂d_i`` of the adjusted estimator (checked by finite differences in
    the tests).
    """

    kind: str
    X: np.ndarray | None
    d: np.ndarray
    w_post: np.ndarray
    margins: tuple[np.ndarray, ...] = ()
    codes: np.ndarray | None = None
    resp: np.ndarray | None = None
    p: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class RepInfo:
    """Replicate weights (n x R, full weights) with R's ``scale``, ``rscales`` and ``mse``."""

    weights: np.ndarray
    scale: float
    rscales: np.ndarray
    mse: bool
    type: str


@dataclasses.dataclass(frozen=True)
class WeightOp:
    """A weighting step that can be replayed on any weight vector (used to re-apply on replicates).

    ``fn(w) -> (w_new, calstep_or_None)``.
    """

    name: str
    fn: Callable[[np.ndarray], tuple[np.ndarray, CalStep | None]]
    detail: str = ""


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (sorted-unique order) and the unique labels of a column."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _group_sum(codes: np.ndarray, x: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups, x.shape[1]))
    np.add.at(out, codes, x)
    return out


def _tquant(level: float, df: float) -> float:
    """Two-sided critical value: t with ``df`` (normal when df is infinite, NaN when df <= 0)."""
    if not np.isfinite(df):
        return float(stats.norm.ppf(0.5 + level / 2))
    if df <= 0:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, df))


def _kish(w: np.ndarray) -> tuple[float, float]:
    pos = w[w > 0]
    if pos.size == 0:
        return float("nan"), 0.0
    s1, s2 = pos.sum(), np.square(pos).sum()
    return float(pos.size * s2 / s1**2), float(s1**2 / s2)


class Design:
    """A (stratified, clustered, possibly two-stage) survey design.

    Parameters
    ----------
    data : DataFrame
        One row per sampled unit (household). Rows with zero weight stay in the design (domains,
        nonrespondents) so that the PSU structure is kept.
    weights, probs : str, optional
        Column of sampling weights or of (overall) selection probabilities; at most one. Without both,
        weights come from the fpc (``N_h/n_h * M_i/m_i``) when given, else equal weights of 1.
    strata : str, optional
        Stratum column (inspection region, or matched pair).
    psu : str, optional
        First-stage cluster column (village). Without it each row is its own PSU.
    ssu : str, optional
        Second-stage unit column (nested in PSU). With ``fpc_ssu`` and no ``ssu`` the row is the SSU.
    fpc, fpc_ssu : str, optional
        Finite population correction at stage 1 (PSUs in the stratum) and stage 2 (SSUs in the PSU),
        as population counts (all values >= 1) or sampling fractions (all values <= 1), as in R.
    certainty : str, optional
        Boolean column flagging certainty PSUs (selected with probability 1, e.g. the purposively
        chosen pilot villages). They contribute no first-stage variance and their full second-stage
        variance. Give ``fpc`` counts that include them; they are removed from both ``N_h`` and ``n_h``.
    lonely_psu : {"error", "adjust", "average", "certainty", "remove"}
        What to do with a stratum that has a single PSU (R's ``options(survey.lonely.psu)``):
        ``"error"`` (default) raises; ``"certainty"`` / ``"remove"`` give it no variance at that stage;
        ``"adjust"`` uses its deviation from zero (R's centring at the grand mean of the influence
        values); ``"average"`` replaces it by the average variance of the other strata.
    nest : bool
        PSU labels repeat across strata (e.g. village number 1 in every region): make them unique
        within strata. Without it a PSU in two strata is an error.
    calibration_chain : {"chain_rule", "r"}
        Order in which several weighting steps are linearised for Taylor variance. ``"chain_rule"``
        (default) goes from the last step back to the first, which is the derivative of the final
        estimator with respect to the base weights. ``"r"`` goes first to last as R ``svyrecvar``
        does; with one step they agree, with chained steps R's order can be far off (e.g. SE of the
        api00 total after postStratify then calibrate on apiclus1: R 41,865; chain rule 21,116 =
        finite-difference derivative; JK1 re-applying both steps 24,119).
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        weights: str | None = None,
        probs: str | None = None,
        strata: str | None = None,
        psu: str | None = None,
        ssu: str | None = None,
        fpc: str | None = None,
        fpc_ssu: str | None = None,
        certainty: str | None = None,
        lonely_psu: LonelyPolicy = "error",
        nest: bool = False,
        calibration_chain: Literal["chain_rule", "r"] = "chain_rule",
    ) -> None:
        if not isinstance(data, pd.DataFrame):
            raise DesignError("data must be a pandas DataFrame")
        if lonely_psu not in _LONELY:
            raise DesignError(f"lonely_psu={lonely_psu!r}: use one of {', '.join(_LONELY)}")
        if weights is not None and probs is not None:
            raise DesignError("give either weights= or probs=, not both")
        df = data.reset_index(drop=True)
        n = len(df)
        if n == 0:
            raise DesignError("data has no rows")
        for arg, col in {
            "weights": weights,
            "probs": probs,
            "strata": strata,
            "psu": psu,
            "ssu": ssu,
            "fpc": fpc,
            "fpc_ssu": fpc_ssu,
            "certainty": certainty,
        }.items():
            if col is None:
                continue
            if col not in df.columns:
                raise DesignError(f"{arg}={col!r}: no such column in data")
            if df[col].isna().any():
                first = int(np.flatnonzero(df[col].isna().to_numpy())[0])
                raise DesignError(
                    f"{arg} column {col!r} has missing values (first at row {first}): fill or drop them"
                )
        self._spec = {
            "weights": weights,
            "probs": probs,
            "strata": strata,
            "psu": psu,
            "ssu": ssu,
            "fpc": fpc,
            "fpc_ssu": fpc_ssu,
            "certainty": certainty,
            "nest": nest,
        }
        self.data = df
        self.lonely_psu: str = lonely_psu
        if calibration_chain not in ("chain_rule", "r"):
            raise DesignError(f"calibration_chain={calibration_chain!r}: use 'chain_rule' or 'r'")
        self.calibration_chain: str = calibration_chain
        self.has_strata = strata is not None
        if strata is not None:
            self._strata, self._strata_labels = _codes(df[strata])
        else:
            self._strata, self._strata_labels = np.zeros(n, dtype=np.int64), np.array([1], dtype=object)
        if psu is not None:
            psu_key: pd.Series = df[psu]
            if nest and strata is not None:
                psu_key = df[strata].astype(str) + "\x1f" + df[psu].astype(str)
            self._psu, self._psu_labels = _codes(psu_key)
        else:
            self._psu, self._psu_labels = np.arange(n, dtype=np.int64), np.arange(n).astype(object)
        n_psu = len(self._psu_labels)
        # PSUs nested in strata
        per_psu = pd.DataFrame({"p": self._psu, "s": self._strata}).drop_duplicates()
        if per_psu["p"].duplicated().any():
            bad = per_psu.loc[per_psu["p"].duplicated(), "p"].iloc[0]
            raise DesignError(
                f"PSU {self._psu_labels[bad]!r} appears in more than one stratum: fix the data or pass nest=True"
            )
        self._psu_stratum = np.zeros(n_psu, dtype=np.int64)
        self._psu_stratum[per_psu["p"].to_numpy()] = per_psu["s"].to_numpy()
        # second stage
        self.has_ssu = ssu is not None or fpc_ssu is not None or certainty is not None
        self._ssu: np.ndarray | None
        if ssu is not None:
            key = pd.Series(self._psu.astype(str)) + "\x1f" + df[ssu].astype(str)
            self._ssu, _ = _codes(key)
        elif fpc_ssu is not None or certainty is not None:
            self._ssu = np.arange(n, dtype=np.int64)
        else:
            self._ssu = None
        # certainty PSUs
        if certainty is not None:
            cert_row = df[certainty].astype(bool).to_numpy()
            cert_psu = np.zeros(n_psu, dtype=bool)
            chk = pd.DataFrame({"p": self._psu, "c": cert_row}).drop_duplicates()
            if chk["p"].duplicated().any():
                raise DesignError(
                    f"certainty column {certainty!r} varies within a PSU: make it constant per PSU"
                )
            cert_psu[chk["p"].to_numpy()] = chk["c"].to_numpy()
        else:
            cert_psu = np.zeros(n_psu, dtype=bool)
        self._cert_psu = cert_psu
        # sample sizes: PSUs per stratum (excluding certainty PSUs), SSUs per PSU
        n_strata = len(self._strata_labels)
        self._n_h = np.bincount(self._psu_stratum[~cert_psu], minlength=n_strata).astype(float)
        n_cert_h = np.bincount(self._psu_stratum[cert_psu], minlength=n_strata).astype(float)
        if self._ssu is not None:
            ssu_psu = np.zeros(int(self._ssu.max()) + 1, dtype=np.int64)
            ssu_psu[self._ssu] = self._psu
            self._ssu_psu = ssu_psu
            self._m_i = np.bincount(ssu_psu, minlength=n_psu).astype(float)
        # fpc
        self._N_h = np.full(n_strata, np.inf)
        if fpc is not None:
            vals = df[fpc].to_numpy(dtype=float)
            per = pd.DataFrame({"s": self._strata, "v": vals}).drop_duplicates()
            if per["s"].duplicated().any():
                s = per.loc[per["s"].duplicated(), "s"].iloc[0]
                raise DesignError(f"fpc column {fpc!r} varies within stratum {self._strata_labels[s]!r}")
            v_h = np.full(n_strata, np.nan)
            v_h[per["s"].to_numpy()] = per["v"].to_numpy()
            n_all_h = self._n_h + n_cert_h
            self._N_h = self._fpc_to_popsize(v_h, n_all_h, fpc, "stratum") - n_cert_h
        self._M_i = np.full(n_psu, np.inf)
        if fpc_ssu is not None:
            vals = df[fpc_ssu].to_numpy(dtype=float)
            per = pd.DataFrame({"p": self._psu, "v": vals}).drop_duplicates()
            if per["p"].duplicated().any():
                p = per.loc[per["p"].duplicated(), "p"].iloc[0]
                raise DesignError(f"fpc_ssu column {fpc_ssu!r} varies within PSU {self._psu_labels[p]!r}")
            v_i = np.full(n_psu, np.nan)
            v_i[per["p"].to_numpy()] = per["v"].to_numpy()
            self._M_i = self._fpc_to_popsize(v_i, self._m_i, fpc_ssu, "PSU")
        # weights
        if weights is not None:
            w = df[weights].to_numpy(dtype=float)
        elif probs is not None:
            p = df[probs].to_numpy(dtype=float)
            if np.any(p <= 0) or np.any(p > 1):
                raise DesignError(f"probs column {probs!r} must lie in (0, 1]")
            w = 1.0 / p
        elif fpc is not None:
            n_all_h = self._n_h + n_cert_h
            w1 = np.where(
                cert_psu, 1.0, (self._N_h + n_cert_h)[self._psu_stratum] / n_all_h[self._psu_stratum]
            )
            w = w1[self._psu]
            if fpc_ssu is not None:
                w = w * (self._M_i / self._m_i)[self._psu]
        else:
            w = np.ones(n)
        if np.any(~np.isfinite(w)) or np.any(w < 0):
            raise DesignError("weights must be finite and non-negative")
        self.weights_base = w.copy()
        self._w = w.copy()
        self._ops: list[WeightOp] = []
        self._cal: list[CalStep] = []
        self._rep: RepInfo | None = None
        self._rep_base: RepInfo | None = None
        self._audit: list[dict[str, Any]] = []
        self._df_override: float | None = None
        self._log_step("base", "design weights")

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _fpc_to_popsize(v: np.ndarray, n: np.ndarray, col: str, unit: str) -> np.ndarray:
        if np.all(v >= 1):
            popsize = v.astype(float)
        elif np.all(v <= 1) and np.all(v > 0):
            popsize = n / v
        else:
            raise DesignError(
                f"fpc column {col!r}: give all population counts (>= 1) or all sampling fractions (<= 1)"
            )
        if np.any(popsize < n - 1e-9):
            i = int(np.flatnonzero(popsize < n - 1e-9)[0])
            raise DesignError(
                f"fpc column {col!r} implies more than 100% sampling in {unit} #{i}: check the counts"
            )
        return popsize

    def _copy(self) -> Design:
        new = object.__new__(Design)
        new.__dict__.update(self.__dict__)
        new._ops = list(self._ops)
        new._cal = list(self._cal)
        new._audit = list(self._audit)
        new._w = self._w.copy()
        return new

    def _log_step(self, step: str, detail: str) -> None:
        w = self._w
        kd, ess = _kish(w)
        pos = w[w > 0]
        self._audit.append(
            {
                "step": step,
                "detail": detail,
                "n_positive": int(pos.size),
                "sum_w": float(pos.sum()),
                "min_w": float(pos.min()) if pos.size else float("nan"),
                "max_w": float(pos.max()) if pos.size else float("nan"),
                "max_min_ratio": float(pos.max() / pos.min()) if pos.size else float("nan"),
                "cv_w": float(pos.std() / pos.mean()) if pos.size else float("nan"),
                "kish_deff": kd,
                "ess": ess,
            }
        )

    def _with_op(self, op: WeightOp) -> Design:
        """Return a new design with ``op`` applied to the weights (and to each replicate column)."""
        new = self._copy()
        w_new, cal = op.fn(self._w)
        new._w = w_new
        new._ops.append(op)
        if cal is not None:
            new._cal.append(cal)
        if self._rep is not None:
            cols = [
                op.fn(self._rep.weights[:, r])[0]
                for r in progress(range(self._rep.weights.shape[1]), desc=f"{op.name} on replicates")
            ]
            new._rep = dataclasses.replace(self._rep, weights=np.column_stack(cols))
        new._log_step(op.name, op.detail)
        return new

    # ------------------------------------------------------------------ properties
    @property
    def weights(self) -> np.ndarray:
        """Current (final) weights, one per row of :attr:`data`."""
        return self._w.copy()

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self._w)

    @property
    def n_psu(self) -> int:
        """Number of sampled PSUs."""
        return len(self._psu_labels)

    @property
    def n_strata(self) -> int:
        """Number of strata."""
        return len(self._strata_labels)

    @property
    def df(self) -> float:
        """Design degrees of freedom: PSUs with a positive weight minus strata (R's ``degf``).

        For replicate designs: the rank of the replicate weights minus 1 (R's convention), capped by the
        Taylor design df when the PSU structure is known.
        """
        if self._df_override is not None:
            return self._df_override
        inset = (self._w != 0) & ~self._cert_psu[self._psu]
        return float(len(np.unique(self._psu[inset])) - len(np.unique(self._strata[inset])))

    @property
    def replicate_weights(self) -> np.ndarray | None:
        """The replicate weights (n x R) of a replicate design, else None."""
        return None if self._rep is None else self._rep.weights.copy()

    @property
    def variance_method(self) -> str:
        """``"taylor"`` or the replicate type."""
        return "taylor" if self._rep is None else self._rep.type

    def structure(self) -> pd.DataFrame:
        """Per stratum: sampled PSUs, population PSUs, certainty PSUs, units, sum of weights, lonely flag."""
        cert_h = np.bincount(self._psu_stratum[self._cert_psu], minlength=self.n_strata)
        units = np.bincount(self._strata, minlength=self.n_strata)
        wsum = np.bincount(self._strata, weights=self._w, minlength=self.n_strata)
        return pd.DataFrame(
            {
                "stratum": self._strata_labels,
                "n_psu": self._n_h.astype(int),
                "N_psu": self._N_h,
                "certainty_psu": cert_h,
                "n_units": units,
                "sum_weights": wsum,
                "lonely": self._n_h == 1,
            }
        )

    def audit(self) -> WeightAudit:
        """The weighting audit trail (one row per step: range, Kish deff, effective sample size)."""
        return WeightAudit(self._audit)

    def __repr__(self) -> str:
        return (
            f"<Design: n={self.n}, strata={self.n_strata}, PSUs={self.n_psu}, "
            f"df={self.df:g}, variance={self.variance_method}, steps={len(self._audit)}>"
        )

    # ------------------------------------------------------------------ variance engines
    def _residualize(self, z: np.ndarray) -> np.ndarray:
        """Replace influence values by calibration residuals, step by step (as R's svyrecvar)."""
        steps = self._cal if self.calibration_chain == "r" else list(reversed(self._cal))
        for step in steps:
            wp = step.w_post
            safe = np.where(wp != 0, wp, 1.0)
            u = np.where((wp != 0)[:, None], z / safe[:, None], 0.0)
            if step.kind == "greg":
                assert step.X is not None
                sd = np.sqrt(step.d)
                A = step.X * sd[:, None]
                b, *_ = np.linalg.lstsq(A, u * sd[:, None], rcond=None)
                z = wp[:, None] * (u - step.X @ b)
            elif step.kind == "ipf":
                # R rake(): 10 sweeps of x <- x - psw * ave(x / psw, margin) (unweighted cell means)
                for _ in range(10):
                    for m in step.margins:
                        q = np.where((wp != 0)[:, None], z / safe[:, None], 0.0)
                        k = int(m.max()) + 1
                        sums = _group_sum(m, q, k)
                        cnt = np.bincount(m, minlength=k).astype(float)
                        z = z - wp[:, None] * (sums / cnt[:, None])[m]
            elif step.kind == "nrclass":
                assert step.codes is not None and step.resp is not None
                k = int(step.codes.max()) + 1
                zr = np.where(step.resp[:, None], z, 0.0)
                num = _group_sum(step.codes, zr, k)
                den = np.bincount(step.codes, weights=np.where(step.resp, wp, 0.0), minlength=k)
                ubar = num / np.where(den > 0, den, 1.0)[:, None]
                z = step.d[:, None] * ubar[step.codes] + np.where(
                    step.resp[:, None], z - wp[:, None] * ubar[step.codes], 0.0
                )
            elif step.kind == "ipw":
                assert step.X is not None and step.resp is not None and step.p is not None
                X, pr, d = step.X, step.p, step.d
                H = (X * (d * pr * (1 - pr))[:, None]).T @ X
                A = X.T @ (np.where(step.resp, 1 - pr, 0.0)[:, None] * z)
                z = z - (d * (step.resp - pr))[:, None] * (X @ np.linalg.solve(H, A))
            else:  # pragma: no cover - internal
                raise AssertionError(step.kind)
        return z

    def _stage(
        self,
        totals: np.ndarray,
        group: np.ndarray,
        n_g: np.ndarray,
        N_g: np.ndarray,
        labels: Sequence[Any],
        stage: int,
        group_mult: np.ndarray | None = None,
        average: bool = True,
    ) -> np.ndarray:
        """One stage: unit totals ``totals`` (units x k) in groups (strata) with sizes n_g, N_g."""
        k = totals.shape[1]
        G = len(n_g)
        fin = np.isfinite(N_g)
        N_safe = np.where(fin & (N_g > 0), N_g, 1.0)
        f = np.where(fin, (np.where(fin, N_g, 0.0) - n_g) / N_safe, 1.0)
        sums = _group_sum(group, totals, G)
        means = sums / np.where(n_g > 0, n_g, 1.0)[:, None]
        dev = totals - means[group]
        lonely = n_g == 1
        active = f > 1e-7
        if group_mult is not None:
            active &= group_mult > 0
            f = f * group_mult
        if self.lonely_psu == "adjust":
            dev = np.where(lonely[group][:, None], totals, dev)
        if np.any(lonely & active):
            g0 = int(np.flatnonzero(lonely & active)[0])
            if self.lonely_psu == "error":
                what = "stratum" if stage == 1 else "PSU"
                raise DesignError(
                    f"{what} {labels[g0]!r} has only one sampled unit at stage {stage}: choose lonely_psu="
                    "'adjust', 'average', 'certainty' or 'remove', or collapse strata"
                )
        scale_g = np.where(n_g > 1, f * n_g / np.where(n_g > 1, n_g - 1, 1.0), f)
        scale_g = np.where(active, scale_g, 0.0)
        if self.lonely_psu in ("certainty", "remove", "average"):
            scale_g = np.where(lonely, 0.0, scale_g)
        unit_scale = scale_g[group]
        v = (dev * unit_scale[:, None]).T @ dev
        if self.lonely_psu == "average" and average:
            # R: lonely strata are NA and the sum over the others is scaled by nstrat / nokstrat
            present = n_g > 0
            n_ok = int((present & ~(lonely & active)).sum())
            v = v * (int(present.sum()) / n_ok) if n_ok else v * 0.0
        return v.reshape(k, k)

    def _taylor_vcov(self, z: np.ndarray) -> np.ndarray:
        """Design covariance of sum(z) (z: n x k weighted influence values)."""
        z = self._residualize(np.asarray(z, dtype=float).reshape(self.n, -1))
        n_psu = self.n_psu
        t_psu = _group_sum(self._psu, z, n_psu)
        cert = self._cert_psu
        # stage 1: non-certainty PSUs grouped by stratum
        nc = ~cert
        v = self._stage(
            t_psu[nc],
            self._psu_stratum[nc],
            self._n_h,
            self._N_h,
            list(self._strata_labels),
            1,
        )
        # stage 2: SSUs within PSU, weighted by n_h / N_h (1 for certainty PSUs)
        if self._ssu is not None:
            fin = np.isfinite(self._N_h)
            f1 = np.where(fin, self._n_h / np.where(fin & (self._N_h > 0), self._N_h, 1.0), 0.0)
            mult = np.where(cert, 1.0, f1[self._psu_stratum])
            if np.any(mult > 0):
                n_ssu = int(self._ssu.max()) + 1
                t_ssu = _group_sum(self._ssu, z, n_ssu)
                v = v + self._stage(
                    t_ssu,
                    self._ssu_psu,
                    self._m_i,
                    self._M_i,
                    list(self._psu_labels),
                    2,
                    group_mult=mult,
                    average=False,
                )
        return v

    def _rep_vcov(self, theta_fn: Callable[[np.ndarray], np.ndarray], full: np.ndarray) -> np.ndarray:
        """Replicate covariance: theta_fn(W) gives the R x k replicate estimates."""
        assert self._rep is not None
        rep = self._rep
        with np.errstate(divide="ignore", invalid="ignore"):
            th = np.asarray(theta_fn(rep.weights), dtype=float).reshape(rep.weights.shape[1], -1)
        if rep.mse:
            centre = full.reshape(1, -1)
        else:
            centre = th[rep.rscales > 0].mean(axis=0, keepdims=True)
        d = th - centre
        return rep.scale * (d * rep.rscales[:, None]).T @ d

    def _vcov(
        self, z: np.ndarray, theta_fn: Callable[[np.ndarray], np.ndarray], full: np.ndarray
    ) -> np.ndarray:
        if self._rep is None:
            return self._taylor_vcov(z)
        return self._rep_vcov(theta_fn, full)

    # ------------------------------------------------------------------ variable helpers
    def _column(self, var: str) -> pd.Series:
        if var not in self.data.columns:
            raise DesignError(f"variable {var!r} is not a column of the design data")
        return self.data[var]

    def _analysis_matrix(self, var: str | Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Numeric matrix of the analysis variables (categorical → indicator per level), and NA rows."""
        names = [var] if isinstance(var, str) else list(var)
        cols: list[np.ndarray] = []
        terms: list[str] = []
        na = np.zeros(self.n, dtype=bool)
        for nm in names:
            s = self._column(nm)
            na |= s.isna().to_numpy()
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
                cols.append(s.astype(float).to_numpy())
                terms.append(nm)
            else:
                cat = s.astype("category") if not isinstance(s.dtype, pd.CategoricalDtype) else s
                for lev in cat.cat.categories:
                    cols.append((cat == lev).to_numpy(dtype=float))
                    terms.append(f"{nm}={lev}")
        X = np.column_stack(cols)
        X = np.where(na[:, None], 0.0, X)
        return X, terms, na

    def _domains(self, by: str | Sequence[str] | None) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
        if by is None:
            return [{}], [np.ones(self.n, dtype=bool)]
        keys = [by] if isinstance(by, str) else list(by)
        for k in keys:
            self._column(k)
            if self.data[k].isna().any():
                raise DesignError(f"domain column {k!r} has missing values: recode them to a level")
        grouped = self.data.groupby(keys, sort=True, observed=True).indices
        labels, masks = [], []
        for key, idx in grouped.items():
            tup = key if isinstance(key, tuple) else (key,)
            labels.append(dict(zip(keys, tup, strict=True)))
            m = np.zeros(self.n, dtype=bool)
            m[idx] = True
            masks.append(m)
        return labels, masks

    def _na_check(self, na: np.ndarray, na_rm: bool, what: str) -> np.ndarray:
        if na.any() and not na_rm:
            first = int(np.flatnonzero(na)[0])
            raise DesignError(
                f"{what} has {int(na.sum())} missing values (first at row {first}): pass na_rm=True to treat "
                "them as outside the domain, or impute"
            )
        return ~na

    def _finish(
        self,
        rows: list[dict[str, Any]],
        est: np.ndarray,
        vcov: np.ndarray,
        vsrs: np.ndarray,
        statistic: str,
        level: float,
        df: float | None,
        notes: list[str] | None = None,
    ) -> SurveyEstimate:
        se = np.sqrt(np.clip(np.diag(vcov), 0, None))
        dfv = self.df if df is None else df
        tq = _tquant(level, dfv)
        tab = pd.DataFrame(rows)
        tab["estimate"] = est
        tab["std_error"] = se
        tab["df"] = dfv
        tab["ci_low"] = est - tq * se
        tab["ci_high"] = est + tq * se
        with np.errstate(divide="ignore", invalid="ignore"):
            tab["deff"] = np.diag(vcov) / vsrs
        notes = list(notes or [])
        if not dfv > 0:
            notes.append("design df <= 0 (one PSU per stratum?): intervals undefined; collapse strata")
        if self._rep is not None and np.isnan(se).any():
            notes.append(
                "SE is NaN where a domain is empty in some replicates (e.g. BRR with a domain in one PSU per stratum: use Fay or JKn)"
            )
        return SurveyEstimate(
            tab, vcov, statistic=statistic, method=self.variance_method, level=level, extra_notes=notes
        )

    @staticmethod
    def _wvar(y: np.ndarray, wd: np.ndarray) -> np.ndarray:
        """R's svyvar: weighted variance with the n/(n-1) factor (n = units with non-zero weight)."""
        n = float(np.count_nonzero(wd))
        W = wd.sum()
        mu = (wd[:, None] * y).sum(axis=0) / W
        return (wd[:, None] * np.square(y - mu)).sum(axis=0) / W * n / (n - 1)

    @staticmethod
    def _srs_factor(W: float, nobs: float, deff: str) -> float:
        return 1.0 / nobs if deff == "replace" else (W - nobs) / (W * nobs)

    # ------------------------------------------------------------------ estimators
    def mean(
        self,
        var: str | Sequence[str],
        by: str | Sequence[str] | None = None,
        *,
        na_rm: bool = False,
        level: float = 0.95,
        deff: Literal["wor", "replace"] = "wor",
        df: float | None = None,
    ) -> SurveyEstimate:
        """Weighted mean of ``var`` (a categorical variable gives one proportion per level).

        Domains ``by`` are estimated as subpopulations: units outside the domain keep their place in
        the design with zero contribution (never subsetting). ``deff`` follows R's ``svymean(...,
        deff=TRUE)``: the design variance over ``s^2_w (N̂ - n) / (N̂ n)`` with the ``n/(n-1)``
        weighted variance ``s^2_w`` (``deff="replace"`` drops the ``(N̂-n)/N̂`` factor). ``df``
        defaults to the design df of the whole design (#PSU − #strata) for every domain.
        """
        return self._linear("mean", var, by, na_rm=na_rm, level=level, deff=deff, df=df)

    def total(
        self,
        var: str | Sequence[str],
        by: str | Sequence[str] | None = None,
        *,
        na_rm: bool = False,
        level: float = 0.95,
        deff: Literal["wor", "replace"] = "wor",
        df: float | None = None,
    ) -> SurveyEstimate:
        """Weighted (Horvitz-Thompson / calibrated) total of ``var``, optionally by domain."""
        return self._linear("total", var, by, na_rm=na_rm, level=level, deff=deff, df=df)

    def _linear(
        self,
        kind: str,
        var: str | Sequence[str],
        by: str | Sequence[str] | None,
        *,
        na_rm: bool,
        level: float,
        deff: str,
        df: float | None,
    ) -> SurveyEstimate:
        Y, terms, na = self._analysis_matrix(var)
        ok = self._na_check(na, na_rm, f"variable {var!r}")
        labels, masks = self._domains(by)
        w = self._w
        rows: list[dict[str, Any]] = []
        zs, ests, vsrs, doms = [], [], [], []
        for lab, m in zip(labels, masks, strict=True):
            dom = (m & ok).astype(float)
            wd = w * dom
            W = wd.sum()
            if W <= 0:
                raise DesignError(f"domain {lab or 'all'} has no units with positive weight")
            nobs = float(np.count_nonzero(wd))
            svar = self._wvar(Y, wd)
            if kind == "mean":
                e = (wd[:, None] * Y).sum(axis=0) / W
                z = wd[:, None] * (Y - e) / W
                vs = svar * self._srs_factor(W, nobs, deff)
            else:
                e = (wd[:, None] * Y).sum(axis=0)
                z = wd[:, None] * Y
                vs = svar * W**2 * self._srs_factor(W, nobs, deff)
            for t in terms:
                rows.append({**lab, "term": t, "n": int(nobs)})
            zs.append(z)
            ests.append(e)
            vsrs.append(vs)
            doms.append(dom)
        Z = np.column_stack(zs)
        est = np.concatenate(ests)

        def theta(Wr: np.ndarray) -> np.ndarray:
            out = []
            for dom in doms:
                Wd = Wr * dom[:, None]
                tot = Wd.T @ Y
                out.append(tot / Wd.sum(axis=0)[:, None] if kind == "mean" else tot)
            return np.column_stack(out)

        vcov = self._vcov(Z, theta, est)
        return self._finish(rows, est, vcov, np.concatenate(vsrs), kind, level, df)

    def proportion(
        self,
        var: str,
        by: str | Sequence[str] | None = None,
        *,
        na_rm: bool = False,
        level: float = 0.95,
        method: Literal["mean", "logit"] = "mean",
        df: float | None = None,
    ) -> SurveyEstimate:
        """Proportion in each level of ``var`` (a 0/1 or boolean variable gives the share of 1).

        ``method="mean"`` gives the Wald interval of :meth:`mean`; ``"logit"`` the interval of R's
        ``svyciprop(method="logit")``: ``expit(logit(p) ± t se / (p (1 - p)))``.
        """
        s = self._column(var)
        res = self.mean(var, by, na_rm=na_rm, level=level, df=df)
        tab = res.table
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            vals = s.dropna().astype(float).unique()
            if not set(vals) <= {0.0, 1.0}:
                raise DesignError(
                    f"proportion: {var!r} is numeric but not 0/1; use mean() or a categorical column"
                )
        if method == "logit":
            p = tab["estimate"].to_numpy(dtype=float)
            se = tab["std_error"].to_numpy(dtype=float)
            dfv = tab["df"].to_numpy(dtype=float)
            tq = stats.t.ppf(0.5 + level / 2, dfv)
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.log(p / (1 - p))
                half = tq * se / (p * (1 - p))
            tab["ci_low"] = 1 / (1 + np.exp(-(lg - half)))
            tab["ci_high"] = 1 / (1 + np.exp(-(lg + half)))
        return SurveyEstimate(tab, res.vcov, statistic="proportion", method=res.method, level=level)

    def ratio(
        self,
        num: str,
        den: str,
        by: str | Sequence[str] | None = None,
        *,
        na_rm: bool = False,
        level: float = 0.95,
        deff: Literal["wor", "replace"] = "wor",
        df: float | None = None,
    ) -> SurveyEstimate:
        """Ratio of two totals ``sum(w num) / sum(w den)`` (R's ``svyratio``), optionally by domain."""
        Yn, _, na1 = self._analysis_matrix(num)
        Yd, _, na2 = self._analysis_matrix(den)
        if Yn.shape[1] != 1 or Yd.shape[1] != 1:
            raise DesignError("ratio: num and den must be numeric columns")
        ok = self._na_check(na1 | na2, na_rm, f"ratio {num}/{den}")
        yn, yd = Yn[:, 0], Yd[:, 0]
        labels, masks = self._domains(by)
        w = self._w
        rows, zs, ests, vsrs, doms = [], [], [], [], []
        for lab, m in zip(labels, masks, strict=True):
            dom = (m & ok).astype(float)
            wd = w * dom
            W = wd.sum()
            D = (wd * yd).sum()
            if D == 0:
                raise DesignError(f"ratio: the weighted total of {den!r} is zero in domain {lab or 'all'}")
            R = (wd * yn).sum() / D
            r = dom * (yn - R * yd) / D
            z = w * r
            nobs = float(np.count_nonzero(wd))
            vs = self._wvar(r[:, None], wd) * W**2 * self._srs_factor(W, nobs, deff)
            rows.append({**lab, "term": f"{num}/{den}", "n": int(nobs)})
            zs.append(z)
            ests.append(R)
            vsrs.append(vs)
            doms.append(dom)

        def theta(Wr: np.ndarray) -> np.ndarray:
            return np.column_stack([((Wr * d[:, None]).T @ yn) / ((Wr * d[:, None]).T @ yd) for d in doms])

        est = np.asarray(ests, dtype=float)
        vcov = self._vcov(np.column_stack(zs), theta, est)
        return self._finish(rows, est, vcov, np.concatenate(vsrs), "ratio", level, df)

    def quantile(
        self,
        var: str,
        q: float | Sequence[float] = 0.5,
        by: str | Sequence[str] | None = None,
        *,
        na_rm: bool = False,
        level: float = 0.95,
        df: float | None = None,
    ) -> SurveyEstimate:
        """Quantiles with Woodruff confidence intervals (R ``svyquantile``, survey >= 4.1 defaults).

        The estimate is the "math" rule (the smallest ``x`` with weighted CDF >= q); the interval
        inverts the t-based Wald interval of the estimated CDF at the estimate (``interval.type =
        "mean"``) and the SE is the interval width over ``2 t``. For replicate designs the CDF
        variance comes from the replicates. ``deff`` is not defined (NaN).
        """
        from welfare_eval.survey.quantile import woodruff

        return woodruff(self, var, q, by, na_rm=na_rm, level=level, df=df)

    def glm(
        self,
        formula: str,
        family: Literal["gaussian", "binomial", "logistic", "quasibinomial", "linear"] = "gaussian",
        *,
        subset: str | None = None,
        level: float = 0.95,
    ) -> Any:
        """Survey-weighted linear or logistic regression with design-based variance (R ``svyglm``).

        Returns a :class:`~welfare_eval.survey.results.GlmResult` (``tidy()``: term, estimate,
        std_error, df, ci_low, ci_high, deff, statistic, p_value). See :mod:`welfare_eval.survey.glm`.
        """
        from welfare_eval.survey.glm import svyglm

        return svyglm(self, formula, family=family, subset=subset, level=level)

    def replicate(
        self,
        method: Literal["auto", "jk1", "jkn", "bootstrap", "brr", "fay"] = "auto",
        *,
        replicates: int = 200,
        seed: int | None = None,
        mse: bool = False,
        reapply: bool = True,
        fay_rho: float = 0.5,
        fpc: bool = True,
    ) -> Design:
        """A replicate-weight version of this design (see :mod:`welfare_eval.survey.replicate`).

        ``method="auto"`` is JK1 for an unstratified design and JKn otherwise (as R). ``replicates``
        and ``seed`` are used by the bootstrap; ``mse=True`` centres the replicates at the full-sample
        estimate; ``reapply=True`` repeats every recorded weighting step on each replicate; ``fpc``
        uses the first-stage fpc in the replicate scales.
        """
        from welfare_eval.survey.replicate import make_replicate_design

        if method == "auto":
            method = "jkn" if self.n_strata > 1 else "jk1"

        return make_replicate_design(
            self,
            method,
            replicates=replicates,
            seed=seed,
            mse=mse,
            reapply=reapply,
            fay_rho=fay_rho,
            fpc=fpc,
        )

    def with_replicate_weights(
        self,
        repweights: np.ndarray,
        *,
        scale: float,
        rscales: np.ndarray | None = None,
        mse: bool = False,
        type: str = "user",
        combined: bool = True,
    ) -> Design:
        """Attach user-supplied replicate weights (``combined``: full weights, else factors × weights).

        ``scale`` and ``rscales`` as in R ``svrepdesign``: ``v = scale * sum_r rscales_r (theta_r -
        centre)^2``. Without a PSU/strata structure in the design, df = rank of the replicate weights - 1.
        """
        R = np.asarray(repweights, dtype=float)
        if R.ndim != 2 or R.shape[0] != self.n:
            raise DesignError(f"repweights must have {self.n} rows (one per unit), got shape {R.shape}")
        if not combined:
            R = R * self._w[:, None]
        rs = np.ones(R.shape[1]) if rscales is None else np.asarray(rscales, dtype=float)
        new = self._copy()
        new._rep = RepInfo(weights=R, scale=float(scale), rscales=rs, mse=mse, type=type)
        if self._spec["psu"] is None and self._spec["strata"] is None:
            # no PSU structure known: R's convention, rank of the replicate weights minus 1
            new._df_override = float(np.linalg.matrix_rank(R / np.abs(R).max(), tol=1e-5) - 1)
        return new

    def update(self, **columns: Any) -> Design:
        """A copy with new or replaced analysis variables (R ``update.survey.design``).

        Values are arrays/Series in row order or callables taking the data, as ``DataFrame.assign``.
        Design columns (strata, PSU, weights, fpc) are not re-read.
        """
        new = self._copy()
        new.data = self.data.assign(**columns)
        if len(new.data) != self.n:
            raise DesignError("update() must not change the number of rows")
        return new

    def _mean_array(self, y: np.ndarray) -> tuple[float, float]:
        """Weighted mean of an array over the units with non-zero weight, and its SE."""
        w = self._w
        W = w.sum()
        e = float((w * y).sum() / W)
        z = (w * (y - e) / W)[:, None]

        def theta(Wr: np.ndarray) -> np.ndarray:
            return (Wr.T @ y / Wr.sum(axis=0))[:, None]

        v = self._vcov(z, theta, np.array([e]))
        return e, float(np.sqrt(max(v[0, 0], 0.0)))

    def subset_rows(self, mask: np.ndarray | pd.Series) -> Design:
        """Zero the weights outside ``mask`` (R's ``subset``: domain kept inside the full design)."""
        m = np.asarray(mask, dtype=bool)
        if m.shape != (self.n,):
            raise DesignError(f"mask must have {self.n} entries")
        new = self._copy()
        new._w = np.where(m, self._w, 0.0)
        if self._rep is not None:
            new._rep = dataclasses.replace(self._rep, weights=self._rep.weights * m[:, None])
        return new
