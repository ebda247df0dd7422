"""One results style for the whole package: ``tidy()``, ``summary()``, ``plot()``, HTML repr, export.

Every estimator returns a subclass of :class:`ResultBase`. The subclass implements :meth:`tidy` (a
DataFrame with the column vocabulary below) and, where useful, :meth:`notes` and :meth:`plot`;
everything else (plain-text summary, Jupyter HTML, CSV / XLSX / HTML export) comes from the base.

Column vocabulary
-----------------
The same name means the same thing in every tidy table (:data:`COLUMNS`); the old spellings listed in
:data:`RENAMED` are not used anywhere (a test checks every table the package makes).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["COLUMNS", "RENAMED", "ResultBase", "check_vocabulary"]

#: The column vocabulary of tidy tables: name → meaning.
COLUMNS: dict[str, str] = {
    "term": "coefficient, variable or contrast the row is about",
    "estimate": "point estimate",
    "std_error": "standard error",
    "statistic": "test statistic (t, z, F or chi-square; the table or its notes say which)",
    "df": "degrees of freedom of a t statistic or of a confidence interval",
    "df_num": "numerator degrees of freedom of an F statistic",
    "df_denom": "denominator degrees of freedom of an F statistic",
    "p_value": "p-value",
    "ci_low": "lower limit of the confidence interval",
    "ci_high": "upper limit of the confidence interval",
    "n_obs": "number of observations used",
    "n_clusters": "number of clusters",
    "method": "inference method (cr1, cr2, wild, ri, ...)",
}
#: Old column names → their name in the vocabulary (the changelog of the redesign).
RENAMED: dict[str, str] = {
    "se": "std_error",
    "ci_lower": "ci_low",
    "ci_upper": "ci_high",
    "df_den": "df_denom",
    "pvalue": "p_value",
    "p": "p_value",
    "stderr": "std_error",
}


def check_vocabulary(df: pd.DataFrame, *, where: str = "table") -> None:
    """Raise ``ValueError`` if ``df`` uses an old column name from :data:`RENAMED`."""
    bad = [c for c in df.columns if isinstance(c, str) and c in RENAMED]
    if bad:
        fix = ", ".join(f"{c} → {RENAMED[c]}" for c in bad)
        raise ValueError(f"{where}: column(s) outside the vocabulary: {fix}")


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
        with pd.option_context(
            "display.width", 140, "display.max_columns", 40, "display.max_colwidth", 40, "display.precision", 4
        ):
            body = self.tidy().to_string()
        lines = [self.title, "=" * len(self.title), body]
        lines += [f"Note: {n}" for n in self.notes()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.title}>"

    #: Sheet name of :meth:`to_excel`.
    sheet_name: str = "result"

    def _export_frame(self) -> pd.DataFrame:
        """The table that :meth:`to_csv`, :meth:`to_excel` and the HTML show (default :meth:`tidy`)."""
        return self.tidy()

    def _table_html(self) -> str:
        t = self._export_frame()
        show_index = not isinstance(t.index, pd.RangeIndex)
        return str(t.to_html(float_format=lambda x: f"{x:.4g}", border=0, index=show_index, escape=True))

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes())
        return (
            f"<div><strong>{html.escape(self.title)}</strong>{self._table_html()}"
            + (f"<ul style='font-size:smaller'>{notes}</ul>" if notes else "")
            + "</div>"
        )

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the result (not every result has a picture)."""
        raise NotImplementedError(f"{type(self).__name__} has no plot")

    # ----------------------------------------------------------------------------------------------
    # Export (atomic; text cells formula-neutralised for spreadsheets)
    # ----------------------------------------------------------------------------------------------
    def to_csv(self, path: str | Path) -> Path:
        """Write the table (:meth:`tidy`) as UTF-8 CSV (with BOM, for spreadsheets); returns the path."""
        from welfare_eval._io import write_csv

        t = self._export_frame()
        return write_csv(t, path, index=not isinstance(t.index, pd.RangeIndex))

    def to_excel(self, path: str | Path) -> Path:
        """Write the table to sheet :attr:`sheet_name` and the notes to sheet ``notes`` of an XLSX file."""
        from welfare_eval._io import write_excel

        t = self._export_frame()
        if not isinstance(t.index, pd.RangeIndex):
            t = t.reset_index()
        return write_excel({self.sheet_name: t, "notes": pd.DataFrame({"note": self.notes()})}, path)

    def to_html(self, path: str | Path | None = None) -> str:
        """HTML of the title, table and notes (escaped); also written to ``path`` when given."""
        text = self._repr_html_()
        if path is not None:
            from welfare_eval._io import atomic_write_text

            atomic_write_text(path, text)
        return text
