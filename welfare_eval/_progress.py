"""Progress display for long work (bootstrap, simulation, rendering).

Shows a tqdm bar on an interactive terminal or in Jupyter; stays quiet in CI, in tests and when
``WELFARE_EVAL_PROGRESS=0``. Set ``WELFARE_EVAL_PROGRESS=1`` to force it on.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")

__all__ = ["progress", "progress_enabled"]


def progress_enabled() -> bool:
    """Whether progress bars are shown (env ``WELFARE_EVAL_PROGRESS`` overrides the TTY check)."""
    env = os.environ.get("WELFARE_EVAL_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false", "no")
    if os.environ.get("CI") or "PYTEST_CURRENT_TEST" in os.environ:
        return False
    return sys.stderr.isatty()


def progress(iterable: Iterable[T], *, desc: str = "", total: int | None = None) -> Iterator[T]:
    """Wrap ``iterable`` in a progress bar when progress display is enabled."""
    if not progress_enabled():
        yield from iterable
        return
    yield from tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
