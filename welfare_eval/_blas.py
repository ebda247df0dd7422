"""One BLAS thread for the package's matrix products (one helper for every stage).

The estimators' products are tall and thin (N rows × a few dozen columns) or small; they are memory-bound and
gain little from BLAS threads, while on shared cores OpenBLAS threads waiting for each other made a full
``did.estimate`` 2.5× slower in wall time (3.5× the CPU) and a 300 × 250 × 15 product in the staggered bootstrap
100× slower (measured on the 2-core machine under load; benchmarks/bench_did.py, bench_staggered.py).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["one_blas_thread", "single_blas_thread"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: Products with more multiply-adds than this keep the BLAS threads.
LARGE_WORK = 50_000_000
_CONTROLLER: Any = None


def single_blas_thread(work: int = 0) -> contextlib.AbstractContextManager[object]:
    """Context manager limiting BLAS to one thread (threadpoolctl); a no-op for large products
    (``work`` > :data:`LARGE_WORK` multiply-adds) or when threadpoolctl is not installed."""
    global _CONTROLLER
    if work > LARGE_WORK:
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a declared dependency
            return contextlib.nullcontext()
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def one_blas_thread(fn: _F) -> _F:
    """Decorator: ``fn`` runs under :func:`single_blas_thread` (one BLAS thread)."""

    @functools.wraps(fn)
    def limited(*args: Any, **kwargs: Any) -> Any:
        with single_blas_thread():
            return fn(*args, **kwargs)

    return limited  # type: ignore[return-value]
