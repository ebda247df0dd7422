"""Absorption of fixed effects (exact, weighted) for the DiD regressions.

Everything downstream works in the *transformed* space: rows are multiplied by ``sqrt(w)`` so that
weighted least squares is ordinary least squares, and the fixed effects are projected out
orthogonally in that space (Frisch–Waugh–Lovell). The projection is exact, not iterative:

1. the fixed effect with the most levels (e.g. household or village) is removed by weighted
   within-group demeaning, which is the exact projection on its dummies;
2. the dummies of the remaining fixed effects (few levels: pair × period, year), already demeaned by
   step 1, are partialled out through an orthonormal basis obtained from their thin SVD; the SVD
   also discards the redundant directions (collinear dummies) without a reference level choice.

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
    _, inverse = np.unique(np.asarray(values), return_inverse=True)
    inv = inverse.astype(np.intp).ravel()
    return inv, int(inv.max()) + 1 if inv.size else 0


@dataclass
class Absorber:
    """Orthogonal projection off fixed effects in the ``sqrt(w)``-scaled space.

    Parameters
    ----------
    fes
        One integer-coded array per fixed effect (length N); may be empty.
    weights
        Positive weights (length N).
    """

    fes: list[IntArray]
    weights: FloatArray
    sizes: list[int] = field(init=False)
    _big: IntArray | None = field(init=False, default=None)
    _big_n: int = field(init=False, default=0)
    _basis: FloatArray | None = field(init=False, default=None)
    rank: int = field(init=False, default=0)

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
            n = self.weights.size
            dummies = np.zeros((n, total))
            offset = 0
            for i in small:
                dummies[np.arange(n), offset + self.fes[i]] = 1.0
                offset += self.sizes[i]
            z = self._demean_big(dummies * self._sw[:, None])
            u, s, _ = np.linalg.svd(z, full_matrices=False)
            tol = s.max() * max(z.shape) * np.finfo(float).eps * 10 if s.size else 0.0
            keep = s > max(tol, 1e-9 * (s.max() if s.size else 0.0))
            self._basis = np.ascontiguousarray(u[:, keep])
            self.rank += int(keep.sum())

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
        if self._basis is not None:
            flat = out.reshape(out.shape[0], -1)
            flat = flat - self._basis @ (self._basis.T @ flat)
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
