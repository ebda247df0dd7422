"""Absorption of fixed effects (exact, weighted) for the DiD regressions.

Everything downstream works in the *transformed* space: rows are multiplied by ``sqrt(w)`` so that
weighted least squares is ordinary least squares, and the fixed effects are projected out
orthogonally in that space (Frisch–Waugh–Lovell). The projection is exact, not iterative:

1. the fixed effect with the most levels (e.g. household or village) is removed by weighted
   within-group demeaning, which is the exact projection on its dummies;
2. the dummies of the remaining fixed effects (few levels: pair × period, year), already demeaned by
   step 1, are partialled out through an orthonormal basis obtained from their thin SVD; the SVD
   also discards the redundant directions (collinear dummies) without a reference level choice.
   The demeaned dummies are block-diagonal over connected components (e.g. one per pair), so the SVD
   and the basis are kept per component: memory linear in N.

Cost is linear in the number of rows (times the number of levels of the small fixed effects), so the
household-level fit never forms the large dummy matrix. Alternating projections are not needed because
step 2 is an exact least-squares projection.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

__all__ = ["Absorber"]

#: largest number of dummy columns partialled out densely in step 2
MAX_SMALL_LEVELS = 20_000


def _codes(values: npt.ArrayLike) -> tuple[IntArray, int]:
    """Integer codes 0..n-1 (order of first appearance; hash-based, O(N))."""
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values).ravel())
    return codes.astype(np.intp), len(uniques)


@dataclass
class Absorber:
    """Orthogonal projection off fixed effects in the ``sqrt(w)``-scaled space.

    Parameters
    ----------
    fes
        One integer-coded array per fixed effect (length N); may be empty.
    weights
        Positive weights (length N).

    The demeaned dummies of the small fixed effects are block-diagonal over the connected components of
    the graph linking levels of the largest fixed effect to levels of the others (with units nested in
    pairs and pair × period fixed effects: one component per pair). Their orthonormal basis is kept per
    component (rows × levels of that component), so memory is ``O(N × levels per component)``, not
    ``O(N × all levels)``.
    """

    fes: list[IntArray]
    weights: FloatArray
    sizes: list[int] = field(init=False)
    _big: IntArray | None = field(init=False, default=None)
    _big_n: int = field(init=False, default=0)
    rank: int = field(init=False, default=0)
    #: per component with small fixed effects: its rows (ascending) and the orthonormal basis there
    _comp_rows: list[IntArray] = field(init=False, default_factory=list)
    _comp_basis: list[FloatArray] = field(init=False, default_factory=list)
    _comp_of_row: IntArray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        coded = [_codes(f) for f in self.fes]
        self.fes = [c for c, _ in coded]
        self.sizes = [n for _, n in coded]
        self._sw = np.sqrt(self.weights)
        if not self.fes:
            return
        order = np.argsort(self.sizes)[::-1]
        big = int(order[0])
        self._big, self._big_n = self.fes[big], self.sizes[big]
        self._wsum = np.bincount(self._big, weights=self.weights, minlength=self._big_n)
        self.rank = self._big_n
        small = [int(i) for i in order[1:]]
        if small:
            total = sum(self.sizes[i] for i in small)
            if total > MAX_SMALL_LEVELS:
                raise ValueError(
                    f"fixed effects: {total} levels besides the largest one; at most {MAX_SMALL_LEVELS} "
                    "can be absorbed exactly (aggregate the data or use fewer fixed effects)"
                )
            self._small_basis(small, total)

    def _small_basis(self, small: list[int], total: int) -> None:
        """Orthonormal basis of the small fixed effects' dummies after demeaning by the largest one.

        Thin SVD per connected component; the rank threshold is the one of a thin SVD of the whole
        (block-diagonal) matrix: ``s > max(s_max · max(N, levels) · 10 eps, 1e-9 s_max)``.
        """
        from scipy import sparse
        from scipy.sparse.csgraph import connected_components

        assert self._big is not None
        n = self.weights.size
        nb = self._big_n
        offsets = np.cumsum([0] + [self.sizes[i] for i in small])
        scodes = [self.fes[i] + off for i, off in zip(small, offsets[:-1], strict=True)]
        rows = np.concatenate([self._big] * len(small))
        cols = np.concatenate(scodes) + nb
        graph = sparse.coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(nb + total,) * 2)
        n_comp, label = connected_components(graph, directed=False)
        comp_row = label[self._big].astype(np.intp)  # every component holds a level of the largest FE
        row_order = np.argsort(comp_row, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(comp_row, minlength=n_comp))])
        sw = self._sw
        pieces = []
        for c in range(n_comp):
            idx = row_order[bounds[c] : bounds[c + 1]]
            if idx.size == 0:
                continue
            big_l, nbl = _codes(self._big[idx])
            sc = np.column_stack([s[idx] for s in scodes])
            flat, n_lv = _codes(sc)
            local = flat.reshape(sc.shape[0], -1)
            m = idx.size
            z = np.zeros((m, n_lv))
            for k in range(len(scodes)):
                z[np.arange(m), local[:, k]] = 1.0
            z *= sw[idx, None]
            wsum = np.bincount(big_l, weights=self.weights[idx], minlength=nbl)
            means = np.stack([np.bincount(big_l, weights=sw[idx] * z[:, j], minlength=nbl) for j in range(n_lv)],
                             axis=1) / wsum[:, None]
            z -= sw[idx, None] * means[big_l]
            u, s, _ = np.linalg.svd(z, full_matrices=False)
            pieces.append((idx, u, s))
        smax = max((float(s.max()) for _, _, s in pieces if s.size), default=0.0)
        tol = smax * max(n, total) * np.finfo(float).eps * 10
        keep_at = max(tol, 1e-9 * smax)
        for idx, u, s in pieces:
            keep = s > keep_at
            if keep.any():
                self._comp_rows.append(idx)
                self._comp_basis.append(np.ascontiguousarray(u[:, keep]))
                self.rank += int(keep.sum())
        self._comp_of_row = np.full(n, -1, dtype=np.intp)
        for c, idx in enumerate(self._comp_rows):
            self._comp_of_row[idx] = c

    @property
    def has_small(self) -> bool:
        """Whether fixed effects besides the largest one remain after demeaning (a non-empty basis)."""
        return bool(self._comp_basis)

    def basis_rows(self, idx: IntArray) -> FloatArray:
        """Rows ``idx`` (ascending) of the orthonormal basis of the demeaned small fixed effects.

        Columns of the components that meet ``idx`` only (``len(idx) × their rank``).
        """
        if not self._comp_basis:
            return np.empty((idx.size, 0))
        assert self._comp_of_row is not None
        own = self._comp_of_row[idx]
        first = int(own[0]) if idx.size else -1
        if first >= 0 and self._comp_rows[first].size == idx.size and bool((own == first).all()):
            # idx is exactly one component's rows (both ascending; e.g. a pair): its basis, read-only
            view = self._comp_basis[first].view()
            view.flags.writeable = False
            return view
        comps = np.unique(own)
        comps = comps[comps >= 0]
        out = np.zeros((idx.size, sum(self._comp_basis[c].shape[1] for c in comps)))
        col = 0
        for c in comps:
            rows, basis = self._comp_rows[c], self._comp_basis[c]
            pos = np.searchsorted(idx, rows)
            pos_c = np.minimum(pos, idx.size - 1)
            hit = idx[pos_c] == rows
            out[pos_c[hit], col : col + basis.shape[1]] = basis[hit]
            col += basis.shape[1]
        return out

    # -- projections -------------------------------------------------------------------------------
    def _demean_big(self, z: FloatArray) -> FloatArray:
        """Project ``z`` (transformed space) off the dummies of the largest fixed effect."""
        assert self._big is not None
        sw = self._sw
        flat = z.reshape(z.shape[0], -1)
        if flat.shape[1] <= 4:
            out = np.empty_like(flat)
            for k in range(flat.shape[1]):
                # weighted group mean of z/sqrt(w) is sum(sqrt(w) z)/sum(w)
                means = np.bincount(self._big, weights=sw * flat[:, k], minlength=self._big_n) / self._wsum
                out[:, k] = flat[:, k] - sw * means[self._big]
        else:  # many columns: one sparse product instead of a loop over columns
            from scipy import sparse

            n = flat.shape[0]
            ind = sparse.csr_matrix((sw, (self._big, np.arange(n))), shape=(self._big_n, n))
            means = np.asarray(ind @ flat) / self._wsum[:, None]
            out = flat - sw[:, None] * means[self._big]
        return out.reshape(z.shape)

    def project(self, z: npt.ArrayLike) -> FloatArray:
        """``M_D z`` for ``z`` already in the transformed (``sqrt(w)``-scaled) space."""
        arr = np.asarray(z, dtype=float)
        if self._big is None:
            return arr.copy()
        out = self._demean_big(arr)
        if self._comp_basis:
            flat = out.reshape(out.shape[0], -1)
            n = flat.shape[0]
            for rows, basis in zip(self._comp_rows, self._comp_basis, strict=True):
                if rows.size == n:
                    flat -= basis @ (basis.T @ flat)
                else:
                    part = flat[rows]
                    flat[rows] = part - basis @ (basis.T @ part)
            out = flat.reshape(arr.shape)
        return out

    def transform(self, z: npt.ArrayLike) -> FloatArray:
        """Scale raw data by ``sqrt(w)`` and project off the fixed effects."""
        arr = np.asarray(z, dtype=float)
        scaled = arr * (self._sw if arr.ndim == 1 else self._sw[:, None])
        return self.project(scaled)

    @property
    def sqrt_weights(self) -> FloatArray:
        return self._sw

    def nested_in(self, cluster: IntArray) -> list[bool]:
        """For each fixed effect, whether every level lies within one cluster."""
        out = []
        for f, n in zip(self.fes, self.sizes, strict=True):
            first = np.full(n, -1, dtype=np.intp)
            first[f] = cluster
            out.append(bool(np.all(first[f] == cluster)))
        return out
