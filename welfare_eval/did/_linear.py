"""Least squares after absorption, and its variance estimators (iid, HC1, CR1, CR2, CR3).

All arrays are in the transformed space of :class:`~welfare_eval.did._absorb.Absorber` (rows scaled by
``sqrt(w)``, fixed effects projected out), where weighted least squares is ordinary least squares.

Formulas
--------
* CR1 (Liang–Zeger with the fixest/reghdfe small-sample factor): ``c · A (Σ_g X_g'e_g e_g'X_g) A`` with
  ``A = (X'X)^{-1}``, ``c = G/(G-1) · (N-1)/(N-K)``; ``K`` counts the coefficients plus the fixed-effect
  parameters *not nested* in the clusters (fixest ``ssc(fixef.K = "nested")``: when every fixed effect is
  nested, ``K`` = coefficients + 1). Student t with ``G - 1`` df.
* CR2 (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018) exactly as R clubSandwich for ``lm`` with
  fixed-effect dummies and (survey) weights: working model ``Φ = I`` on the raw scale (weights are not
  taken as inverse variances), ``A_g = B_g^{+1/2}`` with ``B_g = (I - H)_g (I - H)_g'`` and ``H`` the full
  weighted hat matrix (fixed effects included); see :meth:`LinearFit._cr2_blocks`. With fixed effects
  nested in the clusters each block needs only the cluster's rows (``O(Σ N_g^2)``); otherwise
  ``O(N · N_g)`` per cluster. Satterthwaite df for a contrast ``c``:
  ``ν = (Σ_g p_g'p_g)^2 / Σ_{g,h} (p_g'p_h)^2`` with ``p_g = (I - H)' A_g W_g X_g A c``.
* CR3 (clubSandwich ``"CR3"``): ``A_g = (I - H_{gg})^{-1}`` without square root, no extra factor;
  equivalently ``Σ_g (β̂ - β̂_{(-g)})(β̂ - β̂_{(-g)})'`` (leave-one-cluster-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ._absorb import Absorber

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

__all__ = ["LinearFit"]

_EIG_TOL = 1e-10


@dataclass
class LinearFit:
    """OLS in the transformed space with cluster structure.

    Parameters
    ----------
    X, y
        Transformed regressors (N × p) and outcome (N).
    names
        Coefficient names.
    absorber
        The :class:`Absorber` used to build ``X`` and ``y`` (needed by CR2 and the wild bootstrap).
    cluster
        Integer cluster codes 0..G-1, or ``None``.
    """

    X: FloatArray
    y: FloatArray
    names: list[str]
    absorber: Absorber
    cluster: IntArray | None = None
    _raw: tuple[FloatArray, FloatArray] | None = None
    beta: FloatArray = field(init=False)
    A: FloatArray = field(init=False)
    resid: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        xtx = self.X.T @ self.X
        self.A = np.asarray(np.linalg.inv(xtx), dtype=np.float64)
        self.beta = self.A @ (self.X.T @ self.y)
        self.resid = self.y - self.X @ self.beta
        if self.cluster is not None:
            order = np.argsort(self.cluster, kind="stable")
            counts = np.bincount(self.cluster)
            bounds = np.concatenate([[0], np.cumsum(counts)])
            self._groups = [order[bounds[g] : bounds[g + 1]] for g in range(counts.size)]
            nested = self.absorber.nested_in(self.cluster)
            self.fe_nested = all(nested)
            sizes = self.absorber.sizes
            n_fe = len(sizes)
            if n_fe == 0:
                self.k_ssc = self.p
            else:
                # fixest ssc(fixef.K = "nested"): nparams minus nested FE sizes (+1 for each nested FE)
                nparams = self.p + sum(sizes) - (n_fe - 1)
                k = nparams - sum(s - 1 for s, nst in zip(sizes, nested, strict=True) if nst)
                self.k_ssc = max(k, self.p + 1)

    # -- basic quantities ------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return int(self.y.size)

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def k_total(self) -> int:
        """Coefficients plus fixed-effect parameters (rank)."""
        return self.p + self.absorber.rank

    @property
    def n_clusters(self) -> int:
        return len(self._groups) if self.cluster is not None else 0

    @property
    def groups(self) -> list[IntArray]:
        return self._groups

    # -- heteroskedasticity-only estimators --------------------------------------------------------
    def vcov_iid(self) -> FloatArray:
        sigma2 = float(self.resid @ self.resid) / (self.n - self.k_total)
        return sigma2 * self.A

    def vcov_hc1(self) -> FloatArray:
        xe = self.X * self.resid[:, None]
        return self.n / (self.n - self.k_total) * (self.A @ (xe.T @ xe) @ self.A)

    # -- cluster-robust ----------------------------------------------------------------------------
    def scores(self, resid: FloatArray | None = None) -> FloatArray:
        """Cluster sums of ``X_g' e_g`` (G × p)."""
        e = self.resid if resid is None else resid
        assert self.cluster is not None
        xe = self.X * e[:, None]
        out = np.zeros((self.n_clusters, self.p))
        np.add.at(out, self.cluster, xe)
        return out

    @property
    def cr1_factor(self) -> float:
        g = self.n_clusters
        return g / (g - 1) * (self.n - 1) / (self.n - self.k_ssc)

    def vcov_cr1(self) -> FloatArray:
        s = self.scores()
        return self.cr1_factor * (self.A @ (s.T @ s) @ self.A)

    # -- CR2 / CR3 -------------------------------------------------------------------------------
    def _adjust_nested(self, g: int, power: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(Q, f) such that A_g v = v + Q diag(f - 1) Q'v on the cluster rows; also X_g."""
        idx = self._groups[g]
        xg = self.X[idx]
        lchol = np.linalg.cholesky(self.A)
        u = xg @ lchol
        q, s, _ = np.linalg.svd(u, full_matrices=False)
        lam = s**2
        one_minus = 1.0 - lam
        f = np.zeros_like(one_minus)
        pos = one_minus > _EIG_TOL
        f[pos] = one_minus[pos] ** (-power)
        return q, f, xg

    def _adjust_general(self, g: int, power: float) -> FloatArray:
        """Dense A_g = ((I-H)_gg)^{+power} for fixed effects not nested in the clusters."""
        idx = self._groups[g]
        n = self.n
        e = np.zeros((n, idx.size))
        e[idx, np.arange(idx.size)] = 1.0
        md = self.absorber.project(e)[idx]
        xg = self.X[idx]
        b = md - xg @ self.A @ xg.T
        b = (b + b.T) / 2
        val, vec = np.linalg.eigh(b)
        f = np.zeros_like(val)
        pos = val > _EIG_TOL
        f[pos] = val[pos] ** (-power)
        return (vec * f) @ vec.T

    def _apply_adjust(self, g: int, v: FloatArray, power: float) -> FloatArray:
        if self.fe_nested:
            q, f, _ = self._cache_nested(g, power)
            return v + q @ ((f - 1.0)[:, None] * (q.T @ v)) if v.ndim == 2 else v + q @ ((f - 1.0) * (q.T @ v))
        return self._cache_general(g, power) @ v

    def _cache_nested(self, g: int, power: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        key = ("n", g, power)
        cache = self.__dict__.setdefault("_adj_cache", {})
        if key not in cache:
            cache[key] = self._adjust_nested(g, power)
        return cache[key]

    def _cache_general(self, g: int, power: float) -> FloatArray:
        key = ("g", g, power)
        cache = self.__dict__.setdefault("_adj_cache", {})
        if key not in cache:
            cache[key] = self._adjust_general(g, power)
        return cache[key]

    def adjusted_scores(self, power: float) -> FloatArray:
        """``X_g' A_g e_g`` for every cluster (G × p); power 1/2 = CR2, 1 = CR3."""
        out = np.empty((self.n_clusters, self.p))
        for g, idx in enumerate(self._groups):
            out[g] = self.X[idx].T @ self._apply_adjust(g, self.resid[idx], power)
        return out

    def _cr2_blocks(self) -> list[tuple[FloatArray, FloatArray]]:
        """Per cluster ``(A_g, sqrt(w_g))`` of CR2 with clubSandwich's working model Φ = I (raw scale).

        ``B_g = (I - H)_g (I - H)_g'`` with ``H = Z(Z'WZ)^{-1}Z'W`` the full (fixed effects included)
        weighted hat matrix. In the transformed space ``I - H = S^{-1}(I - P)S`` (``S = W^{1/2}``, ``P``
        the orthogonal projection on the scaled full design), hence
        ``B_g = S_g^{-1} [(I - P) W (I - P)]_{gg} S_g^{-1}``; ``A_g = B_g^{+1/2}``. Without weights this
        is ``((I - P)_{gg})^{+1/2}``.
        """
        cache = self.__dict__.setdefault("_adj_cache", {})
        if "cr2" in cache:
            return cache["cr2"]
        w = self.absorber.weights
        sw = self.absorber.sqrt_weights
        x = self.X
        xtwx = x.T @ (x * w[:, None])
        out = []
        for idx in self._groups:
            ng = idx.size
            xg = x[idx]
            if self.fe_nested:
                if self.absorber.fes:
                    local = Absorber([f[idx] for f in self.absorber.fes], w[idx])
                    mloc = local.project(np.eye(ng))
                else:
                    mloc = np.eye(ng)
                tgg = mloc - xg @ self.A @ xg.T
                xtwx_g = xg.T @ (xg * w[idx][:, None])
                k = (tgg * w[idx][None, :]) @ tgg + xg @ self.A @ (xtwx - xtwx_g) @ self.A @ xg.T
            else:
                e = np.zeros((self.n, ng))
                e[idx, np.arange(ng)] = 1.0
                y = self.absorber.project(e) - x @ (self.A @ xg.T)
                k = y.T @ (y * w[:, None])
            b = k / sw[idx][:, None] / sw[idx][None, :]
            b = (b + b.T) / 2
            val, vec = np.linalg.eigh(b)
            f = np.zeros_like(val)
            pos = val > _EIG_TOL * max(val.max(), 1.0)
            f[pos] = 1.0 / np.sqrt(val[pos])
            out.append(((vec * f) @ vec.T, sw[idx]))
        cache["cr2"] = out
        return out

    def vcov_cr2(self) -> FloatArray:
        blocks = self._cr2_blocks()
        u = np.empty((self.n_clusters, self.p))
        for g, idx in enumerate(self._groups):
            ag, sg = blocks[g]
            u[g] = self.X[idx].T @ (sg * (ag @ (self.resid[idx] / sg)))
        return self.A @ (u.T @ u) @ self.A

    def vcov_cr3(self) -> FloatArray:
        s = self.adjusted_scores(1.0)
        return self.A @ (s.T @ s) @ self.A

    def vcov_jackknife(self) -> FloatArray:
        """Delete-one-cluster jackknife ``(G-1)/G Σ_g (β̂_(-g) - β̄)(β̂_(-g) - β̄)'``."""
        loo = self.leave_one_out()
        dev = loo - loo.mean(axis=0)
        g = self.n_clusters
        return np.asarray((g - 1) / g * dev.T @ dev)

    def cr2_p_gram(self, contrasts: FloatArray) -> FloatArray:
        """Gram array ``Ω[q, r, g, h] = p_{g,q}' p_{h,r}`` of the CR2 Satterthwaite vectors.

        ``contrasts`` is (m × p); ``p_{g,q} = (I - H)' A_g W_g X_g A c_q`` (raw scale, Φ = I), computed
        as ``S (I - P) S^{-1}`` applied to the zero-padded cluster vector.
        """
        c = np.atleast_2d(contrasts)
        m = c.shape[0]
        gg = self.n_clusters
        ac = self.A @ c.T  # p × m
        sw = self.absorber.sqrt_weights
        blocks = self._cr2_blocks()
        pmat = np.zeros((m, gg, self.n))
        for g, idx in enumerate(self._groups):
            ag, sg = blocks[g]
            z = ag @ (sg[:, None] * (self.X[idx] @ ac))  # N_g × m, raw scale
            full = np.zeros((self.n, m))
            full[idx] = z / sg[:, None]
            proj = self.absorber.project(full) - self.X @ (self.A @ (self.X.T @ full))
            pmat[:, g, :] = (proj * sw[:, None]).T
        return np.einsum("qgn,rhn->qrgh", pmat, pmat)

    def cr2_df(self, contrast: FloatArray) -> float:
        """Satterthwaite degrees of freedom of the CR2 variance of ``c'β``."""
        omega = self.cr2_p_gram(np.atleast_2d(contrast))[0, 0]
        return float(np.trace(omega) ** 2 / np.sum(omega**2))

    def wald_htz(self, contrasts: FloatArray, values: FloatArray | None = None) -> dict[str, float]:
        """HTZ Wald test (Pustejovsky & Tipton 2018) of ``C β = d`` with the CR2 variance.

        ``Q = (Cβ̂ - d)'(C V C')^{-1}(Cβ̂ - d)``; ``C V C'`` is approximated by a Wishart with ``η``
        degrees of freedom, ``η = q(q+1) / Σ_{s,t} Var(V*_{st})`` where ``V* `` is ``C V C'``
        standardized by its expectation under the working model and
        ``Var(V_st) = Σ_{g,h} (p_gs'p_hs)(p_gt'p_ht) + (p_gs'p_ht)(p_gt'p_hs)``;
        ``F = (η - q + 1)/(η q) · Q`` on ``(q, η - q + 1)`` df.
        """
        from scipy import stats

        c = np.atleast_2d(np.asarray(contrasts, dtype=float))
        q = c.shape[0]
        d = np.zeros(q) if values is None else np.asarray(values, dtype=float)
        v = c @ self.vcov_cr2() @ c.T
        diff = c @ self.beta - d
        qstat = float(diff @ np.linalg.solve(v, diff))
        omega = self.cr2_p_gram(c)  # [s, t, g, h]
        expect = np.einsum("stgg->st", omega)
        val, vec = np.linalg.eigh((expect + expect.T) / 2)
        root = (vec / np.sqrt(val)) @ vec.T  # expect^{-1/2}
        om = np.einsum("as,stgh,bt->abgh", root, omega, root)
        # Σ_{s,t} Σ_{g,h} [Ω_ss,gh Ω_tt,gh + Ω_st,gh Ω_ts,gh]  (Ω[s,t,g,h] = p_gs'p_ht)
        diag = np.einsum("ssgh->sgh", om)
        total = float(np.einsum("sgh,tgh->", diag, diag) + np.einsum("stgh,tsgh->", om, om))
        eta = q * (q + 1) / total
        df2 = eta - q + 1
        fstat = (eta - q + 1) / (eta * q) * qstat
        return {"F": fstat, "df_num": float(q), "df_denom": df2, "p_value": float(stats.f.sf(fstat, q, df2)),
                "Q": qstat}

    # -- leave one cluster out ---------------------------------------------------------------------
    def leave_one_out(self) -> FloatArray:
        """β̂_{(-g)} for each cluster (G × p).

        ``β̂ - β̂_(-g) = A X_g'(I - H_gg)^{-1} e_g`` (exact deletion formula). With fixed effects not nested
        in the clusters the deletion also changes the other clusters' fixed effects; that case refits on
        the remaining rows with a fresh absorption.
        """
        if self.fe_nested:
            return self.beta[None, :] - (self.A @ self.adjusted_scores(1.0).T).T
        out = np.empty((self.n_clusters, self.p))
        for g, idx in enumerate(self._groups):
            keep = np.ones(self.n, dtype=bool)
            keep[idx] = False
            if self._raw is None:
                raise NotImplementedError("leave-one-out with non-nested fixed effects needs raw data")
            xr, yr = self._raw
            ab = Absorber([f[keep] for f in self.absorber.fes], self.absorber.weights[keep])
            xt = ab.transform(xr[keep])
            yt = ab.transform(yr[keep])
            out[g] = np.linalg.lstsq(xt, yt, rcond=None)[0]
        return out
