"""Common behaviour of results objects: ``tidy()``, ``summary()``, ``plot()``, HTML repr for Jupyter."""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

__all__ = ["ResultBase"]


class ResultBase:
    """Base class of welfare_eval results.

    Subclasses implement :meth:`tidy` and may override :attr:`title`, :meth:`notes`, :meth:`summary`
    and :meth:`plot`.
    """

    title: str = "Result"

    def tidy(self) -> pd.DataFrame:  # pragma: no cover - abstract
        """The result as a tidy DataFrame (one row per term, domain or outcome)."""
        raise NotImplementedError

    def notes(self) -> list[str]:
        """Short notes printed under the table (method, df, warnings)."""
        return []

    def summary(self) -> str:
        """A plain-text summary: title, table and notes."""
        with pd.option_context("display.width", 120, "display.max_columns", 30, "display.precision", 4):
            body = self.tidy().to_string()
        lines = [self.title, "=" * len(self.title), body]
        lines += [f"Note: {n}" for n in self.notes()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.title}>"

    def _repr_html_(self) -> str:
        table = self.tidy().to_html(float_format=lambda x: f"{x:.4g}", border=0)
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes())
        return (
            f"<div><strong>{html.escape(self.title)}</strong>{table}"
            + (f"<ul style='font-size:smaller'>{notes}</ul>" if notes else "")
            + "</div>"
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:  # pragma: no cover - overridden where useful
        """Plot the result (not every result has a picture)."""
        raise NotImplementedError(f"{type(self).__name__} has no plot")
