"""The checks report and the ledger.

Checks report (one row per failure, in the spirit of IPA's high-frequency checks): ``file``,
``sheet`` (workbooks; empty for CSV), ``row`` (the row number a spreadsheet shows: header = 1, first
data row = 2; 0 for a check about a whole file or village), ``column`` (raw column name),
``value`` (``<pii>`` for personal data), ``rule``, ``severity`` (``error``/``warning``/``info``),
``action`` (``rejected``, ``merged``, ``set_missing``, ``normalized``, ``flagged``, ``recoded``,
``dropped_column``) and ``message``.

Ledger (every raw row accounted for, per file): ``file``, ``sheet``, ``row``, ``status`` (``kept``,
``merged`` or ``rejected``), ``reason`` and ``merged_into`` (the kept row a duplicate was merged into).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["CHECK_COLUMNS", "LEDGER_COLUMNS", "CheckLog", "Ledger"]

CHECK_COLUMNS = ["file", "sheet", "row", "column", "value", "rule", "severity", "action", "message"]
LEDGER_COLUMNS = ["file", "sheet", "row", "status", "reason", "merged_into"]
PII_MASK = "<pii>"


@dataclass
class CheckLog:
    """Collects check failures; :meth:`frame` gives the report sorted by file, row, column, rule."""

    rows: list[tuple[str, str, int, str, str, str, str, str, str]] = field(default_factory=list)

    def add(
        self,
        file: str,
        sheet: str,
        row: int,
        column: str,
        value: object,
        rule: str,
        message: str,
        *,
        severity: str = "error",
        action: str = "flagged",
        pii: bool = False,
    ) -> None:
        """Record one failure (``pii`` masks the value)."""
        v = PII_MASK if pii else ("" if value is None or value is pd.NA else str(value))
        self.rows.append((file, sheet, int(row), column, v, rule, severity, action, message))

    def drop(self, keep: Callable[[tuple[str, str, int, str, str, str, str, str, str]], bool]) -> None:
        """Keep only the failures for which ``keep(row)`` is true."""
        self.rows = [r for r in self.rows if keep(r)]

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=CHECK_COLUMNS)
        df = df.astype({c: "string" for c in CHECK_COLUMNS if c != "row"}).astype({"row": "int64"})
        return df.sort_values(["file", "sheet", "row", "column", "rule"], kind="mergesort").reset_index(drop=True)


@dataclass
class Ledger:
    """Status of every raw row; a row's status can be changed until :meth:`frame` is called."""

    status: dict[tuple[str, str, int], tuple[str, str, int | None]] = field(default_factory=dict)
    read: dict[str, int] = field(default_factory=dict)

    def open_file(self, file: str, sheet: str, rows: list[int]) -> None:
        """Register the rows read from ``file`` (and ``sheet``) as ``kept`` until told otherwise."""
        self.read[file] = self.read.get(file, 0) + len(rows)
        for r in rows:
            self.status[(file, sheet, r)] = ("kept", "", None)

    def reject(self, file: str, sheet: str, row: int, reason: str) -> None:
        """Mark a row rejected (the first reason is kept; merged rows stay merged)."""
        cur = self.status[(file, sheet, row)]
        if cur[0] == "kept":
            self.status[(file, sheet, row)] = ("rejected", reason, None)

    def merge(self, file: str, sheet: str, row: int, into: int, reason: str) -> None:
        """Mark a row merged into another (kept) row of the same file and sheet."""
        self.status[(file, sheet, row)] = ("merged", reason, into)

    def get(self, file: str, sheet: str, row: int) -> str:
        """Current status of a row."""
        return self.status[(file, sheet, row)][0]

    def frame(self) -> pd.DataFrame:
        recs = [(f, sh, r, s, why, into) for (f, sh, r), (s, why, into) in self.status.items()]
        df = pd.DataFrame(recs, columns=LEDGER_COLUMNS)
        df["row"] = df["row"].astype("int64")
        df["merged_into"] = df["merged_into"].astype("Int64")
        for c in ("file", "sheet", "status", "reason"):
            df[c] = df[c].astype("string")
        return df.sort_values(["file", "sheet", "row"], kind="mergesort").reset_index(drop=True)

    def totals(self) -> pd.DataFrame:
        """Rows read, kept, merged and rejected per file (``read`` = ``kept + merged + rejected``)."""
        df = self.frame()
        t = pd.crosstab(df["file"], df["status"]).reindex(columns=["kept", "merged", "rejected"], fill_value=0)
        t.insert(0, "read", pd.Series(self.read).reindex(t.index).astype("int64"))
        t.columns.name = None
        return t.reset_index()
