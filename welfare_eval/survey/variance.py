"""The linearisation and variance kernel of :mod:`welfare_eval.survey`.

Everything here is a pure function of arrays or a small frozen record; the :class:`~welfare_eval.survey.
design.Design` object holds the state and the estimator modules (``glm``, ``quantile``, ``replicate``,
``weighting``, ``waves``) reach it only through its public methods, described by :class:`SurveyDesign`.

Records
    :class:`Sampling` (strata, PSU and SSU codes and labels, PSU → stratum, certainty PSUs, sample and
    population sizes at both stages), :class:`CalStep` (linearisation of one weighting step),
    :class:`WeightOp` (a replayable weighting step), :class:`RepInfo` (replicate weights and scales).

Functions
    :func:`group_sums`, :func:`t_quantile`, :func:`kish_deff` / :func:`kish_deff_by` (Kish 1965
    design effect of unequal weights), :func:`residualize` (influence values after calibration and
    nonresponse steps), :func:`stage_variance` / :func:`taylor_vcov` (stage-wise Taylor variance,
    Särndal, Swensson & Wretman 1992 eq. 4.3.21, R ``svyrecvar``), :func:`replicate_vcov`,
    :func:`weighted_variance` (R ``svyvar``) and :func:`srs_factor` (the SRS variance behind ``deff``).

The formulas follow R ``survey`` 4.1 (Lumley 2010, *Complex Surveys*, ch. 2-3, 7); the docstrings
name the R function whose convention is followed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, Self

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "LONELY_POLICIES",
    "CalStep",
    "DesignError",
    "LonelyPolicy",
    "RepInfo",
    "Sampling",
    "SurveyDesign",
    "WeightOp",
    "group_sums",
    "kish_deff",
    "kish_deff_by",
    "replicate_vcov",
    "residualize",
    "srs_factor",
    "stage_variance",
    "t_quantile",
    "taylor_vcov",
    "weighted_variance",
]

LonelyPolicy = Literal["error", "adjust", "average", "certainty", "remove"]
LONELY_POLICIES: tuple[str, ...] = ("error", "adjust", "average", "certainty", "remove")


class DesignError(ValueError):
    """A problem with the design specification or the data that the user must fix."""


# ---------------------------------------------------------------------------- records
def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.setflags(write=False)
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class Sampling:
    """The sampling structure of a design: who is in which stratum, PSU and SSU, and the stage sizes.

    Codes are integers in the sorted order of the labels (``pandas.factorize(sort=True)``). Arrays
    are read-only.

    Attributes
    ----------
    strata, strata_labels : ndarray
        Stratum code of each row; label of each stratum (one stratum labelled ``1`` without strata).
    psu, psu_labels : ndarray
        PSU code of each row; label of each PSU (the row number when no PSU column is given).
    psu_stratum : ndarray
        Stratum code of each PSU.
    certainty : ndarray of bool
        Certainty flag of each PSU (selected with probability 1).
    n_h, N_h : ndarray
        Sampled and population non-certainty PSUs per stratum (``N_h = inf`` without fpc).
    n_certainty_h : ndarray
        Certainty PSUs per stratum.
    ssu, ssu_psu : ndarray or None
        SSU code of each row and PSU code of each SSU (None for one-stage designs).
    m_i, M_i : ndarray
        Sampled and population SSUs per PSU (``m_i`` empty for one-stage designs; ``M_i = inf``
        without a second-stage fpc).
    has_strata : bool
        Whether a strata column was given.
    """

    strata: np.ndarray
    strata_labels: np.ndarray
    psu: np.ndarray
    psu_labels: np.ndarray
    psu_stratum: np.ndarray
    certainty: np.ndarray
    n_h: np.ndarray
    N_h: np.ndarray
    n_certainty_h: np.ndarray
    ssu: np.ndarray | None
    ssu_psu: np.ndarray | None
    m_i: np.ndarray
    M_i: np.ndarray
    has_strata: bool

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                _frozen(v)

    @property
    def n_psu(self) -> int:
        """Number of sampled PSUs."""
        return len(self.psu_labels)

    @property
    def n_strata(self) -> int:
        """Number of strata."""
        return len(self.strata_labels)

    @property
    def has_ssu(self) -> bool:
        """Whether a second stage is declared (SSU column, second-stage fpc or certainty PSUs)."""
        return self.ssu is not None

    @classmethod
    def from_data(
        cls,
        df: pd.DataFrame,
        *,
        strata: str | None = None,
        psu: str | None = None,
        ssu: str | None = None,
        fpc: str | None = None,
        fpc_ssu: str | None = None,
        certainty: str | None = None,
        nest: bool = False,
    ) -> Sampling:
        """Read the sampling structure from the design columns of ``df`` (checked, see ``Design``)."""
        n = len(df)
        if strata is not None:
            st, st_labels = _codes(df[strata])
        else:
            st, st_labels = np.zeros(n, dtype=np.int64), np.array([1], dtype=object)
        if psu is not None:
            psu_key: pd.Series = df[psu]
            if nest and strata is not None:
                psu_key = df[strata].astype(str) + "\x1f" + df[psu].astype(str)
            pc, pc_labels = _codes(psu_key)
        else:
            pc, pc_labels = np.arange(n, dtype=np.int64), np.arange(n).astype(object)
        n_psu = len(pc_labels)
        n_strata = len(st_labels)
        # PSUs nested in strata
        psu_stratum, bad = _constant_within(pc, st, n_psu)
        if bad is not None:
            raise DesignError(
                f"PSU {pc_labels[bad]!r} appears in more than one stratum: fix the data or pass nest=True"
            )
        psu_stratum = psu_stratum.astype(np.int64)
        # second stage
        sc: np.ndarray | None
        if ssu is not None:
            key = pd.Series(pc.astype(str)) + "\x1f" + df[ssu].astype(str)
            sc, _ = _codes(key)
        elif fpc_ssu is not None or certainty is not None:
            sc = np.arange(n, dtype=np.int64)
        else:
            sc = None
        # certainty PSUs
        cert_psu = np.zeros(n_psu, dtype=bool)
        if certainty is not None:
            cert_psu, bad = _constant_within(pc, df[certainty].astype(bool).to_numpy(), n_psu)
            if bad is not None:
                raise DesignError(
                    f"certainty column {certainty!r} varies within a PSU: make it constant per PSU"
                )
            cert_psu = cert_psu.astype(bool)
        # sample sizes: PSUs per stratum (excluding certainty PSUs), SSUs per PSU
        n_h = np.bincount(psu_stratum[~cert_psu], minlength=n_strata).astype(float)
        n_cert_h = np.bincount(psu_stratum[cert_psu], minlength=n_strata).astype(float)
        ssu_psu: np.ndarray | None = None
        m_i = np.zeros(0)
        if sc is not None:
            ssu_psu = np.zeros(int(sc.max()) + 1, dtype=np.int64)
            ssu_psu[sc] = pc
            m_i = np.bincount(ssu_psu, minlength=n_psu).astype(float)
        # population sizes (fpc) at both stages
        N_h = np.full(n_strata, np.inf)
        if fpc is not None:
            v_h, bad = _constant_within(st, df[fpc].to_numpy(dtype=float), n_strata)
            if bad is not None:
                raise DesignError(f"fpc column {fpc!r} varies within stratum {st_labels[bad]!r}")
            N_h = _fpc_to_popsize(v_h, n_h + n_cert_h, fpc, "stratum") - n_cert_h
        M_i = np.full(n_psu, np.inf)
        if fpc_ssu is not None:
            v_i, bad = _constant_within(pc, df[fpc_ssu].to_numpy(dtype=float), n_psu)
            if bad is not None:
                raise DesignError(f"fpc_ssu column {fpc_ssu!r} varies within PSU {pc_labels[bad]!r}")
            M_i = _fpc_to_popsize(v_i, m_i, fpc_ssu, "PSU")
        return cls(
            strata=st,
            strata_labels=st_labels,
            psu=pc,
            psu_labels=pc_labels,
            psu_stratum=psu_stratum,
            certainty=cert_psu,
            n_h=n_h,
            N_h=N_h,
            n_certainty_h=n_cert_h,
            ssu=sc,
            ssu_psu=ssu_psu,
            m_i=m_i,
            M_i=M_i,
            has_strata=strata is not None,
        )

    def fpc_weights(self) -> np.ndarray:
        """Design weights implied by the fpc: ``N_h / n_h`` (1 for certainty PSUs) times ``M_i / m_i``.

        Used when a design has neither weights nor probabilities; ``M_i / m_i`` only with a
        second-stage fpc.
        """
        n_all_h = self.n_h + self.n_certainty_h
        w1 = np.where(
            self.certainty,
            1.0,
            (self.N_h + self.n_certainty_h)[self.psu_stratum] / n_all_h[self.psu_stratum],
        )
        w = w1[self.psu]
        if self.ssu is not None and np.all(np.isfinite(self.M_i)):
            w = w * (self.M_i / self.m_i)[self.psu]
        return w


@dataclasses.dataclass(frozen=True, eq=False)
class CalStep:
    """Linearisation information of one weighting step (applied to influence values in order).

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


@dataclasses.dataclass(frozen=True, eq=False)
class RepInfo:
    """Replicate weights (n x R, full weights) with R's ``scale``, ``rscales`` and ``mse``.

    ``v = scale * sum_r rscales_r (theta_r - centre)^2``, centre = the full-sample estimate with
    ``mse=True``, else the mean of the replicates (R ``svrVar``).
    """

    weights: np.ndarray
    scale: float
    rscales: np.ndarray
    mse: bool
    type: str


@dataclasses.dataclass(frozen=True, eq=False)
class WeightOp:
    """A weighting step that can be replayed on any weight vector (used to re-apply on replicates).

    ``fn(w) -> (w_new, calstep_or_None)`` adjusts the full-sample weights; ``on_replicate`` (default
    ``fn``) adjusts one replicate's weights, for steps that treat replicates differently (R keeps a
    replicate's calibration that does not converge, with a warning).
    """

    name: str
    fn: Callable[[np.ndarray], tuple[np.ndarray, CalStep | None]]
    detail: str = ""
    on_replicate: Callable[[np.ndarray], tuple[np.ndarray, CalStep | None]] | None = None

    def replicate(self, w: np.ndarray) -> np.ndarray:
        """The step applied to one replicate's weights ``w`` (the adjusted weights)."""
        return (self.on_replicate or self.fn)(w)[0]


# ---------------------------------------------------------------------------- the design interface
class SurveyDesign(Protocol):
    """What the estimator modules need from a design (implemented by :class:`~welfare_eval.survey.Design`).

    The estimators (``svyglm``, ``svyquantile``, ``make_replicate_design``) are written against this
    interface, so they never import the design module and never touch its private state.
    """

    data: pd.DataFrame
    lonely_psu: str

    @property
    def n(self) -> int: ...

    @property
    def n_psu(self) -> int: ...

    @property
    def n_strata(self) -> int: ...

    @property
    def df(self) -> float: ...

    @property
    def weights(self) -> np.ndarray: ...

    @property
    def base_weights(self) -> np.ndarray: ...

    @property
    def sampling(self) -> Sampling: ...

    @property
    def weighting_steps(self) -> tuple[WeightOp, ...]: ...

    @property
    def replicate_info(self) -> RepInfo | None: ...

    @property
    def variance_method(self) -> str: ...

    def column(self, var: str) -> pd.Series: ...

    def analysis_matrix(self, var: str | Sequence[str]) -> tuple[np.ndarray, list[str], np.ndarray]: ...

    def domains(self, by: str | Sequence[str] | None) -> tuple[list[dict[str, Any]], list[np.ndarray]]: ...

    def check_missing(self, na: np.ndarray, na_rm: bool, what: str) -> np.ndarray: ...

    def vcov(
        self, z: np.ndarray, theta_fn: Callable[[np.ndarray], np.ndarray], full: np.ndarray
    ) -> np.ndarray: ...

    def mean_se(self, y: np.ndarray) -> tuple[float, float]: ...

    def subset_rows(self, mask: np.ndarray | pd.Series) -> Self: ...

    def with_replicates(self, info: RepInfo, *, step: str, detail: str) -> Self: ...


# ---------------------------------------------------------------------------- small kernels
def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (sorted-unique order) and the unique labels of a column."""
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def _constant_within(groups: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, int | None]:
    """One value per group (codes 0 .. n_groups-1) of a column that must be constant within groups.

    Returns the values (float; NaN for a group without rows) and the first group where the column
    varies (None if it is constant everywhere).
    """
    per = pd.DataFrame({"g": groups, "v": values}).drop_duplicates()
    dup = per["g"].duplicated()
    if dup.any():
        return np.zeros(0), int(per.loc[dup, "g"].iloc[0])
    out = np.full(n_groups, np.nan)
    out[per["g"].to_numpy()] = per["v"].to_numpy(dtype=float)
    return out, None


def _fpc_to_popsize(v: np.ndarray, n: np.ndarray, col: str, unit: str) -> np.ndarray:
    """Population sizes from an fpc given as counts (all >= 1) or sampling fractions (all <= 1), as R."""
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


def group_sums(codes: np.ndarray, x: np.ndarray, n_groups: int) -> np.ndarray:
    """Column sums of ``x`` (rows x k) within the groups ``codes`` (0 .. n_groups-1): n_groups x k."""
    out = np.zeros((n_groups, x.shape[1]))
    np.add.at(out, codes, x)
    return out


def t_quantile(level: float, df: float) -> float:
    """Two-sided critical value: t with ``df`` (normal when df is infinite, NaN when df <= 0)."""
    if not np.isfinite(df):
        return float(stats.norm.ppf(0.5 + level / 2))
    if df <= 0:
        return float("nan")
    return float(stats.t.ppf(0.5 + level / 2, df))


def kish_deff(weights: np.ndarray | pd.Series | Sequence[float]) -> tuple[float, float]:
    """Kish's (1965) design effect of unequal weighting and the effective sample size.

    ``deff = n * sum(w^2) / sum(w)^2`` and ``ess = sum(w)^2 / sum(w^2) = n / deff`` over the units with
    a positive weight (zero weights are units outside the domain or nonrespondents and are left out).

    Parameters
    ----------
    weights : array-like
        Non-negative, finite weights.

    Returns
    -------
    (float, float)
        ``(deff, ess)``; ``(nan, 0.0)`` when no weight is positive.

    Raises
    ------
    ValueError
        If a weight is missing, infinite or negative.
    """
    w = np.asarray(weights, dtype=float).ravel()
    if not np.all(np.isfinite(w)):
        raise ValueError("kish_deff: weights must be finite (found missing or infinite values)")
    if np.any(w < 0):
        raise ValueError(
            f"kish_deff: {int((w < 0).sum())} negative weight(s): Kish's design effect needs weights >= 0"
        )
    pos = w[w > 0]
    if pos.size == 0:
        return float("nan"), 0.0
    s1, s2 = pos.sum(), np.square(pos).sum()
    return float(pos.size * s2 / s1**2), float(s1**2 / s2)


def kish_deff_by(
    data: pd.DataFrame,
    by: str | Sequence[str],
    *,
    weights: str | np.ndarray | pd.Series,
) -> pd.DataFrame:
    """:func:`kish_deff` within each domain of ``data`` defined by the ``by`` columns.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    by : str or list of str
        Domain columns (missing values form their own domain).
    weights : str or array-like
        Weight column of ``data`` or an array in the row order of ``data``.

    Returns
    -------
    DataFrame
        One row per domain (sorted): the ``by`` columns, ``n_positive`` (units with a positive
        weight), ``sum_w``, ``kish_deff`` and ``ess``. Domains where no weight is positive are kept
        (``kish_deff`` NaN, ``ess`` 0).
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in data.columns]
    if missing:
        raise ValueError(f"kish_deff_by: by column(s) {missing} are not in the data")
    if isinstance(weights, str):
        if weights not in data.columns:
            raise ValueError(f"kish_deff_by: weights column {weights!r} is not in the data")
        w = data[weights].to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != (len(data),):
            raise ValueError(f"kish_deff_by: weights has {w.size} values for {len(data)} rows")
    kish_deff(w)  # validates the weights (finite, non-negative) with a clear message
    grouped = data.groupby(keys, sort=True, dropna=False, observed=True).indices
    rows = []
    for key, idx in grouped.items():
        tup = key if isinstance(key, tuple) else (key,)
        wd = w[idx]
        deff, ess = kish_deff(wd)
        rows.append(
            {
                **dict(zip(keys, tup, strict=True)),
                "n_positive": int(np.count_nonzero(wd > 0)),
                "sum_w": float(wd[wd > 0].sum()),
                "kish_deff": deff,
                "ess": ess,
            }
        )
    return pd.DataFrame(rows, columns=[*keys, "n_positive", "sum_w", "kish_deff", "ess"])


def weighted_variance(y: np.ndarray, wd: np.ndarray) -> np.ndarray:
    """R's ``svyvar``: weighted variance of each column of ``y`` with the n/(n-1) factor.

    ``n`` is the number of units with a non-zero weight ``wd``.
    """
    n = float(np.count_nonzero(wd))
    W = wd.sum()
    mu = (wd[:, None] * y).sum(axis=0) / W
    return (wd[:, None] * np.square(y - mu)).sum(axis=0) / W * n / (n - 1)


def srs_factor(W: float, nobs: float, deff: str) -> float:
    """Factor turning a population variance into the SRS variance of a mean (R's ``deff``).

    ``(N̂ - n) / (N̂ n)`` without replacement (``deff="wor"``), ``1 / n`` with replacement.
    """
    return 1.0 / nobs if deff == "replace" else (W - nobs) / (W * nobs)


# ---------------------------------------------------------------------------- Taylor variance
def residualize(z: np.ndarray, steps: Sequence[CalStep], *, chain: str = "chain_rule") -> np.ndarray:
    """Influence values after the weighting steps: replace ``z`` by calibration residuals, step by step.

    ``chain="chain_rule"`` goes from the last step back to the first (the derivative of the final
    estimator with respect to the base weights); ``"r"`` goes first to last as R ``svyrecvar``.
    """
    ordered = list(steps) if chain == "r" else list(reversed(steps))
    for step in ordered:
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
                    sums = group_sums(m, q, k)
                    cnt = np.bincount(m, minlength=k).astype(float)
                    z = z - wp[:, None] * (sums / cnt[:, None])[m]
        elif step.kind == "nrclass":
            assert step.codes is not None and step.resp is not None
            k = int(step.codes.max()) + 1
            zr = np.where(step.resp[:, None], z, 0.0)
            num = group_sums(step.codes, zr, k)
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


def stage_variance(
    totals: np.ndarray,
    group: np.ndarray,
    n_g: np.ndarray,
    N_g: np.ndarray,
    labels: Sequence[Any],
    stage: int,
    *,
    lonely_psu: str,
    group_mult: np.ndarray | None = None,
    average: bool = True,
) -> np.ndarray:
    """Variance contribution of one sampling stage (R ``onestage``).

    Unit totals ``totals`` (units x k) in groups (strata at stage 1, PSUs at stage 2) with sample and
    population sizes ``n_g``, ``N_g``: ``sum_g f_g n_g/(n_g-1) sum_i (t_gi - t̄_g)(t_gi - t̄_g)'`` with
    ``f_g = (N_g - n_g)/N_g`` (1 without fpc), times ``group_mult`` (stage 2: ``n_h / N_h`` of the
    PSU's stratum), with R's lonely-PSU options.
    """
    k = totals.shape[1]
    G = len(n_g)
    fin = np.isfinite(N_g)
    N_safe = np.where(fin & (N_g > 0), N_g, 1.0)
    f = np.where(fin, (np.where(fin, N_g, 0.0) - n_g) / N_safe, 1.0)
    sums = group_sums(group, totals, G)
    means = sums / np.where(n_g > 0, n_g, 1.0)[:, None]
    dev = totals - means[group]
    lonely = n_g == 1
    active = f > 1e-7
    if group_mult is not None:
        active &= group_mult > 0
        f = f * group_mult
    if lonely_psu == "adjust":
        dev = np.where(lonely[group][:, None], totals, dev)
    if np.any(lonely & active):
        g0 = int(np.flatnonzero(lonely & active)[0])
        if lonely_psu == "error":
            what = "stratum" if stage == 1 else "PSU"
            raise DesignError(
                f"{what} {labels[g0]!r} has only one sampled unit at stage {stage}: choose lonely_psu="
                "'adjust', 'average', 'certainty' or 'remove', or collapse strata"
            )
    scale_g = np.where(n_g > 1, f * n_g / np.where(n_g > 1, n_g - 1, 1.0), f)
    scale_g = np.where(active, scale_g, 0.0)
    if lonely_psu in ("certainty", "remove", "average"):
        scale_g = np.where(lonely, 0.0, scale_g)
    unit_scale = scale_g[group]
    v = (dev * unit_scale[:, None]).T @ dev
    if lonely_psu == "average" and average:
        # R: lonely strata are NA and the sum over the others is scaled by nstrat / nokstrat
        present = n_g > 0
        n_ok = int((present & ~(lonely & active)).sum())
        v = v * (int(present.sum()) / n_ok) if n_ok else v * 0.0
    return v.reshape(k, k)


def taylor_vcov(z: np.ndarray, sampling: Sampling, *, lonely_psu: str) -> np.ndarray:
    """Design covariance of ``sum(z)`` (z: n x k weighted influence values, already residualised).

    Stage 1: PSU totals centred within strata (certainty PSUs excluded). Stage 2 (with an SSU level):
    SSU totals centred within PSUs, weighted by ``n_h / N_h`` (1 for certainty PSUs), which is the
    unbiased two-stage estimator (Särndal et al. 1992, eq. 4.3.21) and R's ``svyrecvar``.
    """
    s = sampling
    t_psu = group_sums(s.psu, z, s.n_psu)
    cert = s.certainty
    nc = ~cert
    v = stage_variance(
        t_psu[nc], s.psu_stratum[nc], s.n_h, s.N_h, list(s.strata_labels), 1, lonely_psu=lonely_psu
    )
    if s.ssu is not None:
        assert s.ssu_psu is not None
        fin = np.isfinite(s.N_h)
        f1 = np.where(fin, s.n_h / np.where(fin & (s.N_h > 0), s.N_h, 1.0), 0.0)
        mult = np.where(cert, 1.0, f1[s.psu_stratum])
        if np.any(mult > 0):
            n_ssu = int(s.ssu.max()) + 1
            t_ssu = group_sums(s.ssu, z, n_ssu)
            v = v + stage_variance(
                t_ssu,
                s.ssu_psu,
                s.m_i,
                s.M_i,
                list(s.psu_labels),
                2,
                lonely_psu=lonely_psu,
                group_mult=mult,
                average=False,
            )
    return v


def replicate_vcov(
    theta_fn: Callable[[np.ndarray], np.ndarray], full: np.ndarray, rep: RepInfo
) -> np.ndarray:
    """Replicate covariance (R ``svrVar``): ``theta_fn(W)`` gives the R x k replicate estimates."""
    with np.errstate(divide="ignore", invalid="ignore"):
        th = np.asarray(theta_fn(rep.weights), dtype=float).reshape(rep.weights.shape[1], -1)
    if rep.mse:
        centre = full.reshape(1, -1)
    else:
        centre = th[rep.rscales > 0].mean(axis=0, keepdims=True)
    d = th - centre
    return rep.scale * (d * rep.rscales[:, None]).T @ d
