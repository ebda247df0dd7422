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

The formulas live in :mod:`welfare_eval.survey.variance` (pure functions); this module holds the state.
The estimators of other modules (:func:`~welfare_eval.survey.glm.svyglm`,
:func:`~welfare_eval.survey.quantile.svyquantile`, :func:`~welfare_eval.survey.replicate.
make_replicate_design`, the weighting functions) use only the public methods of :class:`Design`
(the :class:`~welfare_eval.survey.variance.SurveyDesign` interface).

The code is written from the formulas; where a convention of R ``survey`` 4.1 is followed (lonely-PSU
options, deff definition), the docstring says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from welfare_eval._progress import progress
from welfare_eval.survey.estimators import svymean, svyproportion, svyratio, svytotal
from welfare_eval.survey.glm import svyglm
from welfare_eval.survey.quantile import svyquantile
from welfare_eval.survey.replicate import ReplicateMethod, make_replicate_design
from welfare_eval.survey.results import GlmResult, SurveyEstimate, WeightAudit
from welfare_eval.survey.variance import (
    LONELY_POLICIES,
    CalStep,
    DesignError,
    LonelyPolicy,
    RepInfo,
    Sampling,
    WeightOp,
    kish_deff,
    replicate_vcov,
    residualize,
    taylor_vcov,
)

__all__ = ["CalStep", "Design", "DesignError", "RepInfo", "WeightOp"]


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
        if lonely_psu not in LONELY_POLICIES:
            raise DesignError(f"lonely_psu={lonely_psu!r}: use one of {', '.join(LONELY_POLICIES)}")
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
        self._sampling = Sampling.from_data(
            df, strata=strata, psu=psu, ssu=ssu, fpc=fpc, fpc_ssu=fpc_ssu, certainty=certainty, nest=nest
        )
        self.has_strata = strata is not None
        self.has_ssu = ssu is not None or fpc_ssu is not None or certainty is not None
        # weights
        if weights is not None:
            w = df[weights].to_numpy(dtype=float)
        elif probs is not None:
            p = df[probs].to_numpy(dtype=float)
            if np.any(p <= 0) or np.any(p > 1):
                raise DesignError(f"probs column {probs!r} must lie in (0, 1]")
            w = 1.0 / p
        elif fpc is not None:
            w = self._sampling.fpc_weights()
        else:
            w = np.ones(n)
        if np.any(~np.isfinite(w)) or np.any(w < 0):
            raise DesignError("weights must be finite and non-negative")
        self.weights_base = w.copy()
        self._w = w.copy()
        self._ops: tuple[WeightOp, ...] = ()
        self._cal: tuple[CalStep, ...] = ()
        self._rep: RepInfo | None = None
        self._audit: tuple[dict[str, Any], ...] = ()
        self._df_override: float | None = None
        self._log_step("base", "design weights")

    # ------------------------------------------------------------------ construction helpers
    def _copy(self) -> Design:
        new = object.__new__(Design)
        new.__dict__.update(self.__dict__)
        new._w = self._w.copy()
        return new

    def _log_step(self, step: str, detail: str) -> None:
        w = self._w
        pos = w[w > 0]
        kd, ess = kish_deff(pos)
        self._audit = (
            *self._audit,
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
            },
        )

    def with_weighting_step(self, op: WeightOp) -> Design:
        """A new design with the weighting step ``op`` applied to the weights (and to each replicate).

        The step is recorded (replayed on replicates by :meth:`replicate` with ``reapply=True``), its
        linearisation (if any) enters the Taylor variance, and a row is added to :meth:`audit`.
        This is how :mod:`welfare_eval.survey.weighting` adjusts a design; use it for a new step.
        """
        new = self._copy()
        w_new, cal = op.fn(self._w)
        new._w = w_new
        new._ops = (*self._ops, op)
        if cal is not None:
            new._cal = (*self._cal, cal)
        if self._rep is not None:
            cols = [
                op.replicate(self._rep.weights[:, r])
                for r in progress(range(self._rep.weights.shape[1]), desc=f"{op.name} on replicates")
            ]
            new._rep = dataclasses.replace(self._rep, weights=np.column_stack(cols))
        new._log_step(op.name, op.detail)
        return new

    def with_replicates(self, info: RepInfo, *, step: str, detail: str, df: float | None = None) -> Design:
        """A new design whose variance comes from the replicate weights ``info``.

        ``step`` and ``detail`` name the row added to :meth:`audit` (weights unchanged); ``df``
        overrides the design degrees of freedom (None: keep them).
        """
        if info.weights.ndim != 2 or info.weights.shape[0] != self.n:
            raise DesignError(
                f"replicate weights must have {self.n} rows (one per unit), got shape {info.weights.shape}"
            )
        new = self._copy()
        new._rep = info
        if df is not None:
            new._df_override = float(df)
        new._audit = (*self._audit, {**self._audit[-1], "step": step, "detail": detail})
        return new

    # ------------------------------------------------------------------ properties
    @property
    def weights(self) -> np.ndarray:
        """Current (final) weights, one per row of :attr:`data`."""
        return self._w.copy()

    @property
    def base_weights(self) -> np.ndarray:
        """Design weights before any weighting step (a copy of :attr:`weights_base`)."""
        return self.weights_base.copy()

    @property
    def sampling(self) -> Sampling:
        """The sampling structure (strata, PSUs, SSUs, certainty PSUs, stage sizes), read-only."""
        return self._sampling

    @property
    def weighting_steps(self) -> tuple[WeightOp, ...]:
        """The weighting steps applied since the design weights, in order (replayable)."""
        return self._ops

    @property
    def calibration_steps(self) -> tuple[CalStep, ...]:
        """Linearisation records of the weighting steps that have one (trimming has none)."""
        return self._cal

    @property
    def replicate_info(self) -> RepInfo | None:
        """Replicate weights with their scales (None for a Taylor design)."""
        return self._rep

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self._w)

    @property
    def n_psu(self) -> int:
        """Number of sampled PSUs."""
        return self._sampling.n_psu

    @property
    def n_strata(self) -> int:
        """Number of strata."""
        return self._sampling.n_strata

    @property
    def df(self) -> float:
        """Design degrees of freedom: PSUs with a positive weight minus strata (R's ``degf``).

        For replicate designs: the rank of the replicate weights minus 1 (R's convention), capped by the
        Taylor design df when the PSU structure is known.
        """
        if self._df_override is not None:
            return self._df_override
        s = self._sampling
        inset = (self._w != 0) & ~s.certainty[s.psu]
        return float(len(np.unique(s.psu[inset])) - len(np.unique(s.strata[inset])))

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
        s = self._sampling
        cert_h = np.bincount(s.psu_stratum[s.certainty], minlength=self.n_strata)
        units = np.bincount(s.strata, minlength=self.n_strata)
        wsum = np.bincount(s.strata, weights=self._w, minlength=self.n_strata)
        return pd.DataFrame(
            {
                "stratum": s.strata_labels,
                "n_psu": s.n_h.astype(int),
                "N_psu": s.N_h,
                "certainty_psu": cert_h,
                "n_units": units,
                "sum_weights": wsum,
                "lonely": s.n_h == 1,
            }
        )

    def audit(self) -> WeightAudit:
        """The weighting audit trail (one row per step: range, Kish deff, effective sample size)."""
        return WeightAudit(list(self._audit))

    def __repr__(self) -> str:
        return (
            f"<Design: n={self.n}, strata={self.n_strata}, PSUs={self.n_psu}, "
            f"df={self.df:g}, variance={self.variance_method}, steps={len(self._audit)}>"
        )

    # ------------------------------------------------------------------ variance
    def _residualize(self, z: np.ndarray) -> np.ndarray:
        """Influence values after the weighting steps (see :func:`~welfare_eval.survey.variance.residualize`)."""
        return residualize(z, self._cal, chain=self.calibration_chain)

    def vcov(
        self, z: np.ndarray, theta_fn: Callable[[np.ndarray], np.ndarray], full: np.ndarray
    ) -> np.ndarray:
        """Design covariance of an estimator (Taylor or replicate, whichever this design uses).

        Parameters
        ----------
        z : ndarray
            Weighted influence values (n x k) of the estimator computed with the current weights:
            ``sum(z)`` linearises the estimator. Used by a Taylor design (after the weighting steps'
            residualisation).
        theta_fn : callable
            ``theta_fn(W)`` with ``W`` the n x R replicate weights returns the R x k replicate
            estimates. Used by a replicate design.
        full : ndarray
            The k full-sample estimates (centre of the replicates with ``mse=True``).

        Returns
        -------
        ndarray
            k x k covariance matrix.
        """
        if self._rep is None:
            z = self._residualize(np.asarray(z, dtype=float).reshape(self.n, -1))
            return taylor_vcov(z, self._sampling, lonely_psu=self.lonely_psu)
        return replicate_vcov(theta_fn, full, self._rep)

    def mean_se(self, y: np.ndarray) -> tuple[float, float]:
        """Weighted mean of an array (one value per row) and its design-based standard error.

        Units with zero weight are outside the domain; used e.g. for the CDF in Woodruff intervals.
        """
        w = self._w
        W = w.sum()
        e = float((w * y).sum() / W)
        z = (w * (y - e) / W)[:, None]

        def theta(Wr: np.ndarray) -> np.ndarray:
            return (Wr.T @ y / Wr.sum(axis=0))[:, None]

        v = self.vcov(z, theta, np.array([e]))
        return e, float(np.sqrt(max(v[0, 0], 0.0)))

    # ------------------------------------------------------------------ variable helpers
    def column(self, var: str) -> pd.Series:
        """The column ``var`` of :attr:`data` (a :class:`DesignError` naming it if it is absent)."""
        if var not in self.data.columns:
            raise DesignError(f"variable {var!r} is not a column of the design data")
        return self.data[var]

    def analysis_matrix(self, var: str | Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Numeric matrix of analysis variables, their term names and the rows with a missing value.

        Numeric and boolean columns give one column each; other columns one indicator per level
        (``"var=level"``). Missing values are set to 0 in the matrix and flagged in the third array.
        """
        names = [var] if isinstance(var, str) else list(var)
        cols: list[np.ndarray] = []
        terms: list[str] = []
        na = np.zeros(self.n, dtype=bool)
        for nm in names:
            s = self.column(nm)
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

    def domains(self, by: str | Sequence[str] | None) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
        """Domains of the ``by`` columns: their labels (``{column: value}``) and row masks, sorted.

        ``by=None`` is one domain, the whole sample. Missing values in a domain column are an error.
        """
        if by is None:
            return [{}], [np.ones(self.n, dtype=bool)]
        keys = [by] if isinstance(by, str) else list(by)
        for k in keys:
            self.column(k)
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

    def check_missing(self, na: np.ndarray, na_rm: bool, what: str) -> np.ndarray:
        """Rows usable for an estimate: ``~na``; missing values without ``na_rm`` are an error naming ``what``."""
        if na.any() and not na_rm:
            first = int(np.flatnonzero(na)[0])
            raise DesignError(
                f"{what} has {int(na.sum())} missing values (first at row {first}): pass na_rm=True to treat "
                "them as outside the domain, or impute"
            )
        return ~na

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
        """Weighted mean of ``var``, optionally by domain (R ``svymean``).

        A categorical variable gives one proportion per level; domains are subpopulations inside the
        full design. See :func:`~welfare_eval.survey.estimators.svymean` for ``deff`` and ``df``.
        """
        return svymean(self, var, by, na_rm=na_rm, level=level, deff=deff, df=df)

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
        """Weighted (Horvitz-Thompson / calibrated) total of ``var``, optionally by domain (:func:`svytotal`)."""
        return svytotal(self, var, by, na_rm=na_rm, level=level, deff=deff, df=df)

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
        """Proportion in each level of ``var``, Wald or logit interval (:func:`~welfare_eval.survey.estimators.svyproportion`)."""
        return svyproportion(self, var, by, na_rm=na_rm, level=level, method=method, df=df)

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
        return svyratio(self, num, den, by, na_rm=na_rm, level=level, deff=deff, df=df)

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
        """Quantiles with Woodruff confidence intervals (:func:`~welfare_eval.survey.quantile.svyquantile`)."""
        return svyquantile(self, var, q, by, na_rm=na_rm, level=level, df=df)

    def glm(
        self,
        formula: str,
        family: Literal["gaussian", "binomial", "logistic", "quasibinomial", "linear"] = "gaussian",
        *,
        subset: str | None = None,
        level: float = 0.95,
    ) -> GlmResult:
        """Survey-weighted linear or logistic regression with design-based variance (R ``svyglm``).

        Returns a :class:`~welfare_eval.survey.results.GlmResult` (``tidy()``: term, estimate,
        std_error, df, ci_low, ci_high, deff, statistic, p_value). Same as
        :func:`~welfare_eval.survey.glm.svyglm`.
        """
        return svyglm(self, formula, family=family, subset=subset, level=level)

    def replicate(
        self,
        method: ReplicateMethod = "auto",
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
        uses the first-stage fpc in the replicate scales. Same as
        :func:`~welfare_eval.survey.replicate.make_replicate_design`.
        """
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
