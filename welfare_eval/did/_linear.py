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
  weighted hat matrix (fixed effects included). With fixed effects nested in the clusters (every
  matched-pair layout) ``B_g = I - ŴŴ' + Φ diag(μ - 1) Φ' + Y K Y'`` exactly (:meth:`LinearFit._nested_parts`):
  zero on each unit's weight vector, one eigenvalue ``μ_h`` per unit whose weights vary within it, and a
  term of rank 2 × (regressors + small fixed-effect levels in the cluster). ``A_g`` is then applied
  either exactly from a thin eigendecomposition (*low-rank*, :meth:`LinearFit._cr2_lowrank`,
  ``O(N_g rank^2)``) or, when many units have varying weights, by a rational quadrature of
  ``x^{-1/2}`` with Woodbury resolvents (*resolvent*, :meth:`LinearFit._cr2_resolvent`, relative error
  < 1e-12), never forming an ``N_g × N_g`` matrix. The earlier *thin* (weights constant within units)
  and *reduced* (eigendecomposition in the complement of the unit weight vectors, ``O((N_g/3)^3)``)
  computations and the *dense* one (``O(N · N_g)`` + ``O(N_g^3)`` per cluster: the oracle, and the path
  for fixed effects not nested in the clusters) remain; all agree to 1e-10 (tests/test_did_scale.py,
  tests/test_did_fastpaths.py). Satterthwaite df for a contrast ``c``:
  ``ν = (Σ_g p_g'p_g)^2 / Σ_{g,h} (p_g'p_h)^2`` with ``p_g = (I - H)' A_g W_g X_g A c``.
* CR3 (clubSandwich ``"CR3"``): ``A_g = (I - H_{gg})^{-1}`` without square root, no extra factor;
  equivalently ``Σ_g (β̂ - β̂_{(-g)})(β̂ - β̂_{(-g)})'`` (leave-one-cluster-out).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ._absorb import Absorber

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

__all__ = ["LinearFit"]

_EIG_TOL = 1e-10


def _lowrank_inv_sqrt(z: FloatArray, k: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(I + Z K Z')^(-1/2) = I + Q diag(f) Q'`` from the thin SVD of ``Z`` (near-zero singular values dropped):
    returns ``Q`` and ``f`` (eigenvalues at or below ``_EIG_TOL`` of the largest give the pseudo-inverse's 0)."""
    uz, sz, rz = np.linalg.svd(z, full_matrices=False)
    keep = sz > sz.max() * max(z.shape) * np.finfo(float).eps * 10 if sz.size else sz > 0
    uz, sr = uz[:, keep], sz[keep, None] * rz[keep]
    kq = sr @ k @ sr.T
    lam, evec = np.linalg.eigh((kq + kq.T) / 2)
    q = uz @ evec
    val = 1.0 + lam
    top = max(float(val.max()) if val.size else 1.0, 1.0)
    f = np.zeros_like(val)
    pos = val > _EIG_TOL * top
    f[pos] = 1.0 / np.sqrt(val[pos])
    return q, f - 1.0
#: the resolvent (quadrature) CR2 path is used when more units than this have weights varying within them
LOWRANK_MAX_UNITS = 48
#: largest spectral condition bound accepted by the resolvent path (else the exact low-rank path)
RESOLVENT_MAX_KAPPA = 1e10


def _group_sums(codes: IntArray, v: FloatArray, n: int | None = None) -> FloatArray:
    """Column sums of ``v`` (rows × k) within the levels ``codes`` (levels × k)."""
    m = int(codes.max()) + 1 if n is None else n
    if v.ndim == 1:
        return np.asarray(np.bincount(codes, weights=v, minlength=m), dtype=np.float64)
    return np.stack([np.bincount(codes, weights=v[:, k], minlength=m) for k in range(v.shape[1])], axis=1) \
        if v.shape[1] else np.zeros((m, 0))


def _orthonormalize(y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``y = U R`` with orthonormal ``U`` (tall ``y``): Cholesky QR twice on scaled columns (two GEMMs,
    stable for condition numbers up to ~1e7), Householder QR when the Gram matrix is not definite."""
    scale = np.linalg.norm(y, axis=0)
    if y.shape[1] and scale.min() > 0:
        try:
            u = y / scale
            r_tot = np.diag(scale)
            for _ in range(2):
                r = np.linalg.cholesky(u.T @ u).T
                u = u @ np.linalg.inv(r)  # k × k: one GEMM over the rows
                r_tot = r @ r_tot
            if np.allclose(u.T @ u, np.eye(u.shape[1]), atol=1e-12, rtol=0):
                return u, r_tot
        except np.linalg.LinAlgError:
            pass
    q, r = np.linalg.qr(y)
    return q, r


def inv_sqrt_nodes(lo: float, hi: float) -> tuple[FloatArray, FloatArray]:
    """Nodes ``t_j^2`` and weights ``ω_j`` with ``x^{-1/2} ≈ Σ_j ω_j / (x + t_j^2)`` on ``[lo, hi]``.

    ``x^{-1/2} = (2/π) ∫_0^∞ dt / (x + t^2)``; the substitution ``t = √lo · sc(u | m)``, ``m = 1 - lo/hi``
    (Jacobi elliptic functions) and the midpoint rule on ``[0, K(m)]`` converge geometrically
    (Hale, Higham & Trefethen 2008, "Computing A^α, log(A), and related matrix functions by contour
    integrals", SIAM J. Numer. Anal. 46, method 3). The number of nodes ``8 + 2.3 log κ`` gives a
    relative error below 1e-12 uniformly on ``[lo, hi]`` for ``κ = hi/lo ≤ 1e10`` (checked on a grid in
    tests/test_did_fastpaths.py).
    """
    from scipy.special import ellipj, ellipkm1

    kappa = max(hi / lo, 1.0)
    n = int(np.ceil(8 + 2.3 * np.log(kappa)))
    p = 1.0 / kappa  # complementary parameter 1 - m, kept exact (m itself loses digits when κ is large)
    m = 1.0 - p
    kk = float(ellipkm1(p))
    u = (np.arange(n) + 0.5) * kk / n
    sn, cn, dn, _ = ellipj(u, m)
    sn2, cn2, dn2, _ = ellipj(kk - u, m)
    # past K/2 through u' = K - u (sn(u) = cd(u'), cn(u) = √p sd(u'), dn(u) = √p nd(u')): no cancellation
    far = u > kk / 2
    sc = np.where(far, cn2 / (np.sqrt(p) * sn2), sn / cn)
    dc2 = np.where(far, dn2 / (np.sqrt(p) * sn2**2), dn / cn**2)
    t2 = lo * sc**2
    om = (2.0 / np.pi) * (kk / n) * np.sqrt(lo) * dc2
    return np.asarray(t2, dtype=float), np.asarray(om, dtype=float)


@dataclass
class _CR2Adjust:
    """CR2 adjustment ``A_g`` of one cluster: a dense matrix, or ``M + Q diag(d) Q'`` (thin path) where
    ``M`` demeans within the levels ``codes`` (identity when ``codes`` is None)."""

    sqrt_w: FloatArray
    dense: FloatArray | None = None
    thin: tuple[FloatArray, FloatArray, IntArray | None] | None = None
    reduced: tuple[Any, FloatArray] | None = None  # (Qc sparse N_g × n_r, R = B_r^{+1/2})
    #: ``I - Ŵ Ŵ' + Q diag(d) Q'`` with ``Ŵ`` the normalised weight vectors of the units (``codes``)
    lowrank: tuple[FloatArray | None, IntArray | None, FloatArray, FloatArray] | None = None

    def apply(self, v: FloatArray) -> FloatArray:
        if self.lowrank is not None:
            what, codes, q, d = self.lowrank
            vv = v.reshape(v.shape[0], -1)
            out = vv + q @ (d[:, None] * (q.T @ vv))
            if codes is not None and what is not None:
                out -= what[:, None] * _group_sums(codes, what[:, None] * vv)[codes]
            return out.reshape(v.shape)
        if self.dense is not None:
            return np.asarray(self.dense @ v, dtype=np.float64)
        if self.reduced is not None:
            qc, root = self.reduced
            return np.asarray(qc @ (root @ (qc.T @ v)), dtype=np.float64)
        assert self.thin is not None
        q, d, codes = self.thin
        vv = v.reshape(v.shape[0], -1)
        if codes is not None:
            n_lv = int(codes.max()) + 1
            counts = np.bincount(codes, minlength=n_lv).astype(float)
            means = np.stack([np.bincount(codes, weights=vv[:, k], minlength=n_lv) for k in range(vv.shape[1])],
                             axis=1) / counts[:, None]
            mv = vv - means[codes]
        else:
            mv = vv
        out = mv + q @ (d[:, None] * (q.T @ vv))
        return out.reshape(v.shape)


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
    #: CR2 computation: "auto" (low-rank or resolvent per cluster with nested fixed effects, else dense),
    #: or one forced: "lowrank", "resolvent", "thin", "reduced", "dense" (the oracle)
    cr2_path: str = "auto"
    beta: FloatArray = field(init=False)
    A: FloatArray = field(init=False)
    resid: FloatArray = field(init=False)

    def __post_init__(self) -> None:
        xtx = self.X.T @ self.X
        self.A = np.asarray(np.linalg.inv(xtx), dtype=np.float64)
        self.beta = self.A @ (self.X.T @ self.y)
        self.resid = self.y - self.X @ self.beta
        if self.cluster is not None:
            small = self.cluster.astype(np.int16) if self.cluster.max() < 2**15 else self.cluster
            order = np.argsort(small, kind="stable")  # radix sort for 16-bit codes: O(N)
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
        return self.cluster_sums(self.X * e[:, None])

    def cluster_sums(self, v: FloatArray) -> FloatArray:
        """Sums of the rows of ``v`` (N or N × k) within clusters (G or G × k), in O(N k).

        One product with the sparse G × N cluster indicator (built once per fit at the first call with three
        or more columns, O(N) memory): the same additions in the same order as ``np.bincount`` per column
        (bit-identical), 4-10× faster for several columns."""
        assert self.cluster is not None
        cache = self.__dict__.setdefault("_adj_cache", {})
        ind = cache.get("cluster_csr")
        if ind is None and (v.ndim == 1 or v.shape[1] < 3):  # building the indicator would not pay off yet
            return _group_sums(self.cluster, v, self.n_clusters)
        if ind is None:
            from scipy import sparse

            n = self.cluster.size
            ind = sparse.csr_matrix((np.ones(n), (self.cluster, np.arange(n))), shape=(self.n_clusters, n))
            cache["cluster_csr"] = ind
        arr = np.asarray(v, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] == 0:
            return np.zeros((self.n_clusters, 0))
        return np.asarray(ind @ arr, dtype=np.float64)

    def cluster_grams(self, a: FloatArray, b: FloatArray | None = None) -> FloatArray:
        """``a_g' b_g`` for every cluster (G × k × l; ``b = a`` by default), in O(N k l) without copies
        of the cluster rows."""
        bb = a if b is None else b
        out = np.empty((self.n_clusters, a.shape[1], bb.shape[1]))
        for k in range(a.shape[1]):
            out[:, k, :] = self.cluster_sums(a[:, k, None] * bb)
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

    def thin_cr2_applies(self) -> bool:
        """Whether the thin (O(N_g k^2)) CR2 path is exactly equivalent to the dense one.

        It is when every fixed effect is nested in the clusters and the weights are constant within each
        level of the largest fixed effect (the one absorbed by demeaning) — in particular without weights
        or without fixed effects. Then ``S`` commutes with that demeaning ``M`` and
        ``B_g = M + Z K Z'`` on the cluster rows with ``Z`` of a few columns (see :meth:`_cr2_thin`).
        """
        if self.cluster is None or not self.fe_nested:
            return False
        ab = self.absorber
        if ab._big is None:
            return True
        w = ab.weights
        lo = np.full(ab._big_n, np.inf)
        hi = np.full(ab._big_n, -np.inf)
        np.minimum.at(lo, ab._big, w)
        np.maximum.at(hi, ab._big, w)
        return bool(np.all(hi - lo <= 1e-12 * np.maximum(np.abs(hi), 1.0)))

    def _cr2_thin(self, g: int, xtwx: FloatArray) -> _CR2Adjust:
        """CR2 adjustment of cluster ``g`` by a thin decomposition (nested fixed effects, weights constant
        within the levels of the largest fixed effect).

        In the transformed space ``(I - P)_{gg} = T = M - L Γ L'`` with ``M`` the within-level demeaning
        of the largest fixed effect on the cluster rows, ``L = [V_g, X_g]`` (``V_g`` the cluster rows of the
        orthonormal basis of the other, demeaned, fixed effects) and ``Γ = diag(I, A)``. ``S = W^{1/2}``
        commutes with ``M``, so with ``L_s = S^{-1}L``, ``L_t = S L`` and ``C = A (X'WX - X_g'W_gX_g) A``::

            B_g = S^{-1}[T W T + X_g C X_g']S^{-1} = M + Z K Z',   Z = [L_s, L_t],
            K = [[Γ L'WL Γ + C_pad, -Γ], [-Γ, 0]].

        With ``Z = U diag(s) R'`` (thin SVD, rank-revealing) and ``diag(s)R'KR diag(s) = E Λ E'``,
        ``Q = U E`` spans the non-unit eigenvectors of ``B_g`` inside ``range(M)``: eigenvalues ``1 + Λ``
        there, 1 on the rest of ``range(M)``, 0 on its complement. Hence
        ``B_g^{+1/2} = M + Q (f(1 + Λ) - 1) Q'`` with ``f(x) = x^{-1/2}`` (0 below the same eigenvalue
        tolerance as the dense path). Cost ``O(N_g k^2)``, ``k`` = columns of ``Z``.
        """
        ab = self.absorber
        idx = self._groups[g]
        sw = ab.sqrt_weights[idx]
        w = ab.weights[idx]
        xg = self.X[idx]
        p = self.p
        if ab.has_small:
            vb = ab.basis_rows(idx)
            u, s, _ = np.linalg.svd(vb, full_matrices=False)
            vg = u[:, s > 0.5]  # singular values of a block of a projection's basis are 0 or 1
        else:
            vg = np.empty((idx.size, 0))
        r = vg.shape[1]
        lmat = np.hstack([vg, xg])
        gam = np.zeros((r + p, r + p))
        gam[:r, :r] = np.eye(r)
        gam[r:, r:] = self.A
        ls = lmat / sw[:, None]
        lt = lmat * sw[:, None]
        c = self.A @ (xtwx - xg.T @ (xg * w[:, None])) @ self.A
        c_pad = np.zeros_like(gam)
        c_pad[r:, r:] = c
        k11 = gam @ (lt.T @ lt) @ gam + c_pad
        kmat = np.block([[k11, -gam], [-gam, np.zeros_like(gam)]])
        q, f1 = _lowrank_inv_sqrt(np.hstack([ls, lt]), kmat)
        codes = None
        if ab._big is not None:
            codes = np.unique(ab._big[idx], return_inverse=True)[1].ravel()
        return _CR2Adjust(sqrt_w=sw, thin=(q, f1, codes))

    def _cr2_reduced(self, g: int, xtwx: FloatArray) -> _CR2Adjust:
        """Dense CR2 adjustment of cluster ``g`` computed in a reduced basis (nested fixed effects).

        ``B_g`` vanishes on ``W_g d_l`` for every level ``l`` of the largest fixed effect (``d_l`` its
        dummy on the cluster rows): ``(I - H)'`` kills ``W Z a`` for ``a`` supported on nested dummies.
        With ``Q_c`` an orthonormal basis of the complement (one Householder reflection per level,
        block-sparse), ``B_g^{+1/2} = Q_c (Q_c'B_gQ_c)^{+1/2} Q_c'`` and the eigendecomposition has
        size ``N_g`` minus the number of levels. ``Q_c'B_gQ_c = F'WF + (X_g'G)'C(X_g'G)`` with
        ``G = S^{-1}Q_c``, ``F = (I - P)_{gg} G = E - L Γ L'G``, ``E = M G`` (block-sparse, ``M`` the
        within-level demeaning), ``L = [V_g, X_g]``, ``Γ = diag(I, A)`` as in :meth:`_cr2_thin`.
        """
        from scipy import sparse

        ab = self.absorber
        assert ab._big is not None
        idx = self._groups[g]
        ng = idx.size
        sw = ab.sqrt_weights[idx]
        w = ab.weights[idx]
        codes = np.unique(ab._big[idx], return_inverse=True)[1].ravel()
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        starts = np.concatenate([[0], np.cumsum(counts)])
        rows_l: list[IntArray] = []
        cols_l: list[IntArray] = []
        vals_l: list[FloatArray] = []
        col0 = 0
        for m in np.unique(counts):
            if m < 2:
                continue
            lv = np.flatnonzero(counts == m)
            members = order[starts[lv][:, None] + np.arange(m)[None, :]]  # levels × m (row positions)
            u = w[members]
            u = u / np.linalg.norm(u, axis=1, keepdims=True)
            v = u.copy()
            v[:, 0] += 1.0
            h = np.eye(m)[None] - 2.0 * v[:, :, None] * v[:, None, :] / np.sum(v * v, axis=1)[:, None, None]
            block = h[:, :, 1:]  # levels × m × (m-1): orthonormal, orthogonal to w on the level
            colidx = col0 + np.arange(lv.size)[:, None] * (m - 1) + np.arange(m - 1)[None, :]
            rows_l.append(np.repeat(members[:, :, None], m - 1, axis=2).ravel())
            cols_l.append(np.repeat(colidx[:, None, :], m, axis=1).ravel())
            vals_l.append(block.ravel())
            col0 += lv.size * (m - 1)
        nr = col0
        if nr == 0:
            return _CR2Adjust(sqrt_w=sw, dense=np.zeros((ng, ng)))
        qc = sparse.csr_matrix((np.concatenate(vals_l), (np.concatenate(rows_l), np.concatenate(cols_l))),
                               shape=(ng, nr))
        gmat = sparse.diags(1.0 / sw) @ qc
        ind = sparse.csr_matrix((sw, (codes, np.arange(ng))), shape=(counts.size, ng))
        wsum = np.bincount(codes, weights=w)
        dummy = sparse.csr_matrix((np.ones(ng), (np.arange(ng), codes)), shape=(ng, counts.size))
        emat = (gmat - sparse.diags(sw) @ dummy @ sparse.diags(1.0 / wsum) @ (ind @ gmat)).tocsc()
        xg = self.X[idx]
        p = self.p
        if ab.has_small:
            ub, sb, _ = np.linalg.svd(ab.basis_rows(idx), full_matrices=False)
            vg = ub[:, sb > 0.5]
        else:
            vg = np.empty((ng, 0))
        r = vg.shape[1]
        lmat = np.hstack([vg, xg])
        gam = np.zeros((r + p, r + p))
        gam[:r, :r] = np.eye(r)
        gam[r:, r:] = self.A
        pmat = gam @ np.asarray((gmat.T @ lmat).T)  # (r+p) × n_r  = Γ L'G
        we = sparse.diags(w) @ emat
        ewe = np.asarray((emat.T @ we).toarray())
        ewl = np.asarray(we.T @ lmat)  # n_r × (r+p)
        lwl = lmat.T @ (lmat * w[:, None])
        cross = ewl @ pmat
        xgg = np.asarray((gmat.T @ xg).T)  # p × n_r
        c = self.A @ (xtwx - xg.T @ (xg * w[:, None])) @ self.A
        br = ewe - cross - cross.T + pmat.T @ lwl @ pmat + xgg.T @ c @ xgg
        br = (br + br.T) / 2
        val, vec = np.linalg.eigh(br)
        f = np.zeros_like(val)
        pos = val > _EIG_TOL * max(val.max(), 1.0)
        f[pos] = 1.0 / np.sqrt(val[pos])
        return _CR2Adjust(sqrt_w=sw, reduced=(qc, (vec * f) @ vec.T))

    # -- exact fast CR2 for fixed effects nested in the clusters ---------------------------------------
    def _local(self, g: int) -> tuple[IntArray | None, FloatArray]:
        """Cached per cluster: local codes 0..n-1 of the largest fixed effect on its rows (None without
        fixed effects) and the rows of the small fixed effects' basis (:meth:`Absorber.basis_rows`)."""
        cache = self.__dict__.setdefault("_local_cache", {})
        if g not in cache:
            ab = self.absorber
            idx = self._groups[g]
            codes = None
            if ab._big is not None:
                codes = pd.factorize(ab._big[idx])[0].astype(np.intp)
            cache[g] = (codes, ab.basis_rows(idx))
        return cache[g]

    def _nested_parts(self, g: int, xtwx: FloatArray) -> dict[str, Any]:
        """Per-cluster pieces of ``B_g = I - Ŵ Ŵ' + Φ Δ Φ' + Y K Y'`` (raw scale, nested fixed effects).

        Notation as in :meth:`_cr2_thin`: in the transformed space ``(I - P)_{gg} = M_b - L Γ L'`` with
        ``M_b`` the projection off the largest fixed effect's (unit's) scaled dummies, ``L = [V_g, X_g]``,
        ``Γ = diag(I, A)``. With ``R_b = S^{-1} M_b S = I - Σ_h 1_h w_h'/W_h`` (raw within-unit weighted
        demeaning), ``L_t = S L``, ``L_s = S^{-1} L`` and ``C = A (X'WX - X_g'W_gX_g) A``::

            B_g = R_b R_b' - R_b L_t Γ L_s' - L_s Γ L_t' R_b' + L_s (Γ L_t'L_t Γ + C_pad) L_s'
                = R_b R_b' + Y K Y',   Y = [R_b L_t, L_s],   K = [[0, -Γ], [-Γ, Γ L_t'L_t Γ + C_pad]].

        Per unit ``h`` (``T_h`` rows, weights ``w``, ``W = Σ w``), ``R_b R_b'`` is 0 on ``ŵ = w/|w|``,
        ``μ_h = T_h |w|²/W²`` on ``φ_h ∝ 1 - w W/|w|²`` (⊥ ŵ) and 1 elsewhere; ``μ_h = 1`` when the
        weights are constant within the unit. ``Y`` and ``φ`` are orthogonal to every ``ŵ``, so
        ``B_g = I - Ŵ Ŵ' + Φ diag(μ - 1) Φ' + Y K Y'`` with ``Φ`` the units whose weights vary.
        """
        ab = self.absorber
        idx = self._groups[g]
        sw = ab.sqrt_weights[idx]
        w = ab.weights[idx]
        xg = self.X[idx]
        p = self.p
        local_codes, vb = self._local(g)
        vg = np.empty((idx.size, 0))
        if vb.shape[1]:
            ub, sb, _ = np.linalg.svd(vb, full_matrices=False)
            vg = ub[:, sb > 0.5]  # singular values of a block of a projection's basis are 0 or 1
        r = vg.shape[1]
        lmat = np.hstack([vg, xg])
        gam = np.zeros((r + p, r + p))
        gam[:r, :r] = np.eye(r)
        gam[r:, r:] = self.A
        lt = lmat * sw[:, None]
        ls = lmat / sw[:, None]
        parts: dict[str, Any] = {"idx": idx, "sw": sw, "w": w, "xg": xg, "gam": gam, "r": r, "codes": None,
                                 "what": None}
        rbl = lt
        if local_codes is not None:
            codes = local_codes
            nu = int(codes.max()) + 1
            cnt = np.bincount(codes, minlength=nu).astype(float)
            wsum = np.bincount(codes, weights=w, minlength=nu)
            w2 = np.bincount(codes, weights=w * w, minlength=nu)
            rbl = lt - _group_sums(codes, lt * w[:, None], nu)[codes] / wsum[codes, None]
            dev = w - (wsum / cnt)[codes]
            mu1 = cnt * np.bincount(codes, weights=dev * dev, minlength=nu) / wsum**2  # μ - 1 ≥ 0
            phi = 1.0 - w * (wsum / w2)[codes]
            norm = np.sqrt(np.bincount(codes, weights=phi * phi, minlength=nu))
            sel = (cnt >= 2) & (mu1 > 1e-12) & (norm > 0)
            phi = np.where(sel[codes], phi / np.where(norm > 0, norm, 1.0)[codes], 0.0)
            parts.update(codes=codes, what=w / np.sqrt(w2)[codes], mu1=mu1, sel=sel, phi=phi, nu=nu)
        c = self.A @ (xtwx - xg.T @ (xg * w[:, None])) @ self.A
        xi = gam @ (lt.T @ lt) @ gam
        xi[r:, r:] += c
        zero = np.zeros_like(gam)
        parts["y"] = np.hstack([rbl, ls])
        parts["k"] = np.block([[zero, -gam], [-gam, xi]])
        return parts

    def _cr2_lowrank(self, parts: dict[str, Any]) -> _CR2Adjust:
        """Exact ``A_g = B_g^{+1/2} = I - Ŵ Ŵ' + Q (f(1 + Λ) - 1) Q'`` from the low-rank form of
        :meth:`_nested_parts`: ``Ỹ = [Y, Φ] = U s R'`` (thin SVD, rank-revealing) and
        ``s R' diag(K, μ - 1) R s = E Λ E'``, ``Q = U E``; ``f(x) = x^{-1/2}``, 0 at or below the dense
        path's eigenvalue tolerance (the directions ``W d`` of nested dummies other than the unit's).
        Cost ``O(N_g (k + n_φ)^2)``: ``k`` = 2 × (non-absorbed regressors + small fixed-effect levels in
        the cluster), ``n_φ`` = units whose weights vary within them (village FE: 2 per pair)."""
        y, k = parts["y"], parts["k"]
        if parts["codes"] is not None and parts["sel"].any():
            sel_units = np.flatnonzero(parts["sel"])
            pos = np.full(parts["nu"], -1, dtype=np.intp)
            pos[sel_units] = np.arange(sel_units.size)
            codes = parts["codes"]
            cols = np.zeros((codes.size, sel_units.size))
            rows = np.flatnonzero(pos[codes] >= 0)
            cols[rows, pos[codes[rows]]] = parts["phi"][rows]
            y = np.hstack([y, cols])
            k2 = np.zeros((k.shape[0] + sel_units.size,) * 2)
            k2[: k.shape[0], : k.shape[0]] = k
            k2[k.shape[0] :, k.shape[0] :] = np.diag(parts["mu1"][sel_units])
            k = k2
        q, f1 = _lowrank_inv_sqrt(y, k)
        return _CR2Adjust(sqrt_w=parts["sw"], lowrank=(parts["what"], parts["codes"], q, f1))

    def _cr2_resolvent(self, parts: dict[str, Any], vecs: FloatArray) -> FloatArray | None:
        """``A_g v`` for the columns ``v`` of ``vecs`` when many units have weights varying within them.

        ``B_g`` restricted to the complement of ``Ŵ`` is ``D + Y K Y'`` with ``D = I + Φ diag(μ-1) Φ'``
        (``Φ`` orthonormal: one column per unit). Its null directions there, ``(I - ŴŴ') W d`` for the
        other nested dummies ``d`` (pair × period), are projected out of ``v`` and lifted to eigenvalue 1
        (``B' = B + N N'``), which leaves ``B^{+1/2} v`` unchanged. The spectrum of ``B'`` lies in
        ``[min(1, w_min/w_max,g · (1 - ν)), max(1, w_max/w_min,g)]`` (``ν`` the largest eigenvalue of
        ``A^{1/2} X_g'X_g A^{1/2}``, the cluster's leverage; bounds from ``w_min (I-P)_{gg} ⪯
        [(I-P)W(I-P)]_{gg} ⪯ w_max I``), and ``B'^{-1/2} v = Σ_j ω_j (B' + t_j^2)^{-1} v``
        (:func:`inv_sqrt_nodes`, relative error < 1e-12), each resolvent by Woodbury on ``D + t_j^2``
        (diagonal in the unit basis) with the orthonormalised ``Y``: ``O(N_g k)`` once plus
        ``O(n_units k^2)`` per node. Returns None (use the exact low-rank path) when the cluster's leverage
        is within 1e-6 of 1 or the condition bound exceeds :data:`RESOLVENT_MAX_KAPPA` (1e10).
        """
        ab = self.absorber
        idx, w, xg, codes, what = parts["idx"], parts["w"], parts["xg"], parts["codes"], parts["what"]
        assert codes is not None and what is not None
        nu = parts["nu"]
        lchol = np.linalg.cholesky(self.A)
        xl = xg @ lchol
        lev = float(np.linalg.eigvalsh(xl.T @ xl).max()) if xl.size else 0.0
        if lev > 1.0 - 1e-6:
            return None
        wall = ab.weights
        lo = min(1.0, float(wall.min()) / float(w.max()) * (1.0 - lev))
        hi = max(1.0, float(wall.max()) / float(w.min()))
        if hi / lo > RESOLVENT_MAX_KAPPA:
            return None
        # null directions of B_g besides Ŵ: the other nested dummies, weighted, off Ŵ
        big_pos = next(i for i, f in enumerate(ab.fes) if f is ab._big)
        dums = []
        for i, fe in enumerate(ab.fes):
            if i == big_pos:
                continue
            loc = np.unique(fe[idx], return_inverse=True)[1].ravel()
            d = np.zeros((idx.size, int(loc.max()) + 1))
            d[np.arange(idx.size), loc] = w
            dums.append(d)
        y = parts["y"]
        if dums:
            dm = np.hstack(dums)
            dm -= what[:, None] * _group_sums(codes, what[:, None] * dm, nu)[codes]
            un, sn, _ = np.linalg.svd(dm, full_matrices=False)
            nmat = un[:, sn > 1e-9 * sn.max()] if sn.size and sn.max() > 0 else np.empty((idx.size, 0))
        else:
            nmat = np.empty((idx.size, 0))
        k = parts["k"]
        y2 = np.hstack([y, nmat])
        k2 = np.zeros((k.shape[0] + nmat.shape[1],) * 2)
        k2[: k.shape[0], : k.shape[0]] = k
        k2[k.shape[0] :, k.shape[0] :] = np.eye(nmat.shape[1])
        uq, rq = _orthonormalize(y2)
        kh = rq @ k2 @ rq.T
        kh = (kh + kh.T) / 2
        # v projected on the range of B_g: off Ŵ and off N
        v = vecs - what[:, None] * _group_sums(codes, what[:, None] * vecs, nu)[codes]
        v -= nmat @ (nmat.T @ v)
        sel_units = np.flatnonzero(parts["sel"])
        phi = parts["phi"]
        pos = np.full(nu, -1, dtype=np.intp)
        pos[sel_units] = np.arange(sel_units.size)
        rows = np.flatnonzero(pos[codes] >= 0)
        prow = pos[codes[rows]]
        ns = sel_units.size
        kdim, nv = uq.shape[1], v.shape[1]
        b = _group_sums(prow, phi[rows, None] * uq[rows], ns)  # Φ'U  (n_sel × k)
        pv = _group_sums(prow, phi[rows, None] * v[rows], ns)  # Φ'v
        uv = uq.T @ v
        dl = parts["mu1"][sel_units]
        t2s, oms = inv_sqrt_nodes(lo, hi)
        cc = 1.0 + t2s
        # all nodes at once: D_j^{-1} = I/c_j + Φ diag(β_j) Φ',  β_j = 1/(c_j + μ - 1) - 1/c_j
        beta = 1.0 / (cc[None, :] + dl[:, None]) - 1.0 / cc[None, :]  # n_sel × J
        eye = np.eye(kdim)
        # (X'β)' rather than β'X: OpenBLAS is several times faster on this orientation
        gmat = ((b[:, :, None] * b[:, None, :]).reshape(ns, kdim * kdim).T @ beta).T.reshape(-1, kdim, kdim)
        gmat += eye[None] / cc[:, None, None]  # U'D_j^{-1}U
        dv = ((b[:, :, None] * pv[:, None, :]).reshape(ns, kdim * nv).T @ beta).T.reshape(-1, kdim, nv)
        dv += uv[None] / cc[:, None, None]  # U'D_j^{-1}v
        # (D + U K̂ U')^{-1} v = D^{-1}v - D^{-1}U (I + K̂ G)^{-1} K̂ U'D^{-1}v
        sol = np.linalg.solve(eye[None] + kh[None] @ gmat, kh[None] @ dv)  # J × k × nv
        acc_v = float(np.sum(oms / cc))
        acc_u = np.einsum("j,jkc->kc", oms / cc, sol)
        wb = beta * oms[None, :]
        acc_phi = wb.sum(axis=1)[:, None] * pv - np.einsum(
            "ik,ikc->ic", b, (wb @ sol.reshape(sol.shape[0], -1)).reshape(ns, kdim, nv))
        out = acc_v * v - uq @ acc_u
        out[rows] += phi[rows, None] * acc_phi[prow]
        return np.asarray(out, dtype=np.float64)

    def _cr2_fast_applies(self) -> bool:
        """Whether the exact fast CR2 paths apply: clustered, every fixed effect nested in the clusters."""
        return self.cluster is not None and self.fe_nested

    def _cr2_applied(self) -> list[FloatArray]:
        """Per cluster ``A_g [e_g / S_g, S_g X_g A]`` (raw scale; N_g × (1 + p)), cached.

        Everything CR2 needs (the variance, Satterthwaite df, HTZ) is a function of these columns:
        ``u_g = X_g' S_g A_g S_g^{-1} e_g`` and, for a contrast ``c``, ``A_g S_g X_g A c``.
        """
        cache = self.__dict__.setdefault("_adj_cache", {})
        if "cr2_applied" in cache:
            return cache["cr2_applied"]
        if self.cr2_path not in ("auto", "dense", "thin", "reduced", "lowrank", "resolvent"):
            raise ValueError(f"cr2_path={self.cr2_path!r}: use 'auto', 'dense', 'thin', 'reduced', 'lowrank' "
                             "or 'resolvent'")
        out: list[FloatArray] = []
        fast = self.cr2_path in ("auto", "lowrank", "resolvent")
        if fast and not self._cr2_fast_applies():
            if self.cr2_path != "auto":
                raise ValueError(f"cr2_path={self.cr2_path!r} needs fixed effects nested in the clusters")
            fast = False
        if not fast:
            blocks = self._cr2_blocks()
            for g, idx in enumerate(self._groups):
                out.append(blocks[g].apply(self._cr2_vecs(idx)))
            cache["cr2_applied"] = out
            return out
        w = self.absorber.weights
        xtwx = self.X.T @ (self.X * w[:, None])
        paths = []
        for idx, g in zip(self._groups, range(self.n_clusters), strict=True):
            parts = self._nested_parts(g, xtwx)
            vecs = self._cr2_vecs(idx)
            many = parts["codes"] is not None and int(parts["sel"].sum()) > LOWRANK_MAX_UNITS
            res = None
            if self.cr2_path == "resolvent" or (self.cr2_path == "auto" and many):
                if parts["codes"] is None:
                    raise ValueError("cr2_path='resolvent' needs a unit fixed effect")
                res = self._cr2_resolvent(parts, vecs)
            if res is None:
                n_phi = int(parts["sel"].sum()) if parts["codes"] is not None else 0
                if n_phi * idx.size > 2e8:
                    raise ValueError(
                        f"CR2: cluster {g} has {n_phi} units with weights varying within them and a leverage "
                        "within 1e-6 of 1 (its rows nearly determine a coefficient); the exact adjustment "
                        "would need a dense N_g × units matrix; use cr1/wild or check the regressors")
                res = self._cr2_lowrank(parts).apply(vecs)
                paths.append("lowrank")
            else:
                paths.append("resolvent")
            out.append(res)
        cache["cr2_applied"] = out
        cache["cr2_paths"] = paths
        return out

    def _cr2_vecs(self, idx: IntArray) -> FloatArray:
        sg = self.absorber.sqrt_weights[idx]
        return np.column_stack([self.resid[idx] / sg, sg[:, None] * (self.X[idx] @ self.A)])

    def _cr2_blocks(self) -> list[_CR2Adjust]:
        """Per cluster the CR2 adjustment ``A_g`` (and ``sqrt(w_g)``) with clubSandwich's working model Φ = I
        (raw scale).

        ``B_g = (I - H)_g (I - H)_g'`` with ``H = Z(Z'WZ)^{-1}Z'W`` the full (fixed effects included)
        weighted hat matrix. In the transformed space ``I - H = S^{-1}(I - P)S`` (``S = W^{1/2}``, ``P``
        the orthogonal projection on the scaled full design), hence
        ``B_g = S_g^{-1} [(I - P) W (I - P)]_{gg} S_g^{-1}``; ``A_g = B_g^{+1/2}``. Without weights this
        is ``((I - P)_{gg})^{+1/2}``. Where :meth:`thin_cr2_applies`, ``A_g`` comes from a thin
        decomposition (:meth:`_cr2_thin`, exactly equal); otherwise from a dense eigendecomposition
        (``O(N_g^3)``; survey weights varying within units with Φ = I have no low-rank structure —
        clubSandwich then also keeps the fixed-effect dummies, ``inverse_var = FALSE``).
        """
        cache = self.__dict__.setdefault("_adj_cache", {})
        if "cr2" in cache:
            return cache["cr2"]
        if self.cr2_path not in ("auto", "dense", "thin", "reduced"):
            raise ValueError(f"cr2_path={self.cr2_path!r}: use 'auto', 'dense', 'thin' or 'reduced'")
        thin = self.thin_cr2_applies()
        if self.cr2_path == "thin" and not thin:
            raise ValueError("cr2_path='thin' needs nested fixed effects and weights constant within units")
        if self.cr2_path == "reduced" and not (self.fe_nested and self.absorber._big is not None):
            raise ValueError("cr2_path='reduced' needs fixed effects nested in the clusters")
        use_thin = thin and self.cr2_path in ("auto", "thin")
        use_reduced = (self.fe_nested and self.absorber._big is not None and not use_thin
                       and self.cr2_path in ("auto", "reduced"))
        w = self.absorber.weights
        sw = self.absorber.sqrt_weights
        x = self.X
        xtwx = x.T @ (x * w[:, None])
        out = []
        for g, idx in enumerate(self._groups):
            if use_thin:
                out.append(self._cr2_thin(g, xtwx))
                continue
            if use_reduced:
                out.append(self._cr2_reduced(g, xtwx))
                continue
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
            out.append(_CR2Adjust(sqrt_w=sw[idx], dense=(vec * f) @ vec.T))
        cache["cr2"] = out
        return out

    def vcov_cr2(self) -> FloatArray:
        applied = self._cr2_applied()
        u = np.empty((self.n_clusters, self.p))
        sw = self.absorber.sqrt_weights
        for g, idx in enumerate(self._groups):
            u[g] = self.X[idx].T @ (sw[idx] * applied[g][:, 0])
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

        ``contrasts`` is (m × p); ``p_{g,q} = (I - H)' A_g W_g X_g A c_q`` (raw scale, Φ = I). With ``ζ_g``
        the transformed cluster vector ``S_g^{-1} A_g S_g X_g A c`` and fixed effects nested in the
        clusters, ``(I - P)_{gh} = δ_{gh} M_g - X_g A X_h'``, hence::

            Ω_gh = δ_gh (M_gζ_g)'W_g(M_gζ_g) - β_g'A α_h - α_g'A β_h + α_g'A X'WX A α_h,
            α_g = X_g'ζ_g,  β_g = X_g'W_g M_g ζ_g                                    (O(N m p) in all).

        Otherwise (fixed effects not nested) ``p_g`` is formed as an N-vector through the absorber.
        """
        c = np.atleast_2d(contrasts)
        if not self._cr2_fast_applies() or self.cr2_path == "dense":
            return self._cr2_p_gram_full(c)
        cache = self.__dict__.setdefault("_adj_cache", {})
        if "omega_eye" not in cache:  # Ω is bilinear in the contrasts: compute it once for the identity
            cache["omega_eye"] = self._cr2_p_gram_nested(np.eye(self.p))
        return np.asarray(np.einsum("qa,rb,abgh->qrgh", c, c, cache["omega_eye"]), dtype=np.float64)

    def _cr2_p_gram_nested(self, c: FloatArray) -> FloatArray:
        m = c.shape[0]
        gg = self.n_clusters
        applied = self._cr2_applied()
        ab = self.absorber
        sw_all, w_all = ab.sqrt_weights, ab.weights
        alpha = np.empty((gg, self.p, m))
        beta = np.empty((gg, self.p, m))
        gamma = np.empty((gg, m, m))
        for g, idx in enumerate(self._groups):
            sw, w = sw_all[idx], w_all[idx]
            zeta = (applied[g][:, 1:] @ c.T) / sw[:, None]  # N_g × m, transformed space
            mz = zeta
            codes, vb = self._local(g)
            if codes is not None:
                wsum = np.bincount(codes, weights=w)
                mz = zeta - sw[:, None] * (_group_sums(codes, sw[:, None] * zeta) / wsum[:, None])[codes]
                if vb.shape[1]:
                    mz = mz - vb @ (vb.T @ mz)
            xg = self.X[idx]
            alpha[g] = xg.T @ zeta
            beta[g] = xg.T @ (w[:, None] * mz)
            gamma[g] = mz.T @ (w[:, None] * mz)
        xtwx = self.X.T @ (self.X * w_all[:, None])
        a = self.A
        aw = a @ xtwx @ a
        ba = np.einsum("gkq,kl,hlr->qrgh", beta, a, alpha)
        aa = np.einsum("gkq,kl,hlr->qrgh", alpha, aw, alpha)
        omega = aa - ba - np.einsum("qrgh->rqhg", ba)
        for g in range(gg):
            omega[:, :, g, g] += gamma[g]
        return omega

    def _cr2_p_gram_full(self, c: FloatArray) -> FloatArray:
        """:meth:`cr2_p_gram` by forming each ``p_g`` as an N-vector (any fixed effects; O(G N))."""
        m = c.shape[0]
        gg = self.n_clusters
        sw = self.absorber.sqrt_weights
        applied = self._cr2_applied()
        pmat = np.zeros((m, gg, self.n))
        for g, idx in enumerate(self._groups):
            sg = sw[idx]
            z = applied[g][:, 1:] @ c.T  # A_g S_g X_g A c, raw scale
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
