"""The checks report and the ledger.

Checks report (one row per failure, in the spirit of IPA's high-frequency checks): ``file``,
``sheet`` (workbooks; empty for CSV), ``row`` (the row number a spreadsheet shows: header = 1, first
data row = 2, blank rows counted; 0 for a check about a whole file, table or village), ``column`` (raw
column name), ``value``, ``rule``, ``severity`` (``error``/``warning``/``info``), ``action``
(``rejected``, ``merged``, ``set_missing``, ``normalized``, ``flagged``, ``recoded``, ``corrected``,
``skipped``, ``dropped_column``) and ``message``.

Nothing personal is written: the value of a column the codebook marks as personal data is replaced by
``<pii>`` (and so is that value wherever the message quotes it); any other value or message holding a
national ID or a phone number in any layout is masked the same way (:mod:`welfare_eval.clean.pii`);
values longer than :data:`~welfare_eval.clean.pii.MAX_LOGGED` characters are cut, with a note in the
message.

Ledger (every raw row accounted for, per file): ``file``, ``sheet``, ``row`` (spreadsheet row),
``line`` (physical line of a CSV file where the row starts; the row number for workbooks), ``status``
(``kept``, ``merged`` or ``rejected``), ``reason`` and ``merged_into`` (the kept row of the same file
and sheet a duplicate was merged into).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from welfare_eval.clean.pii import PII_MASK, mask_text, safe_log_value

__all__ = ["CHECK_COLUMNS", "LEDGER_COLUMNS", "PII_MASK", "CheckLog", "Ledger"]

CHECK_COLUMNS = ["file", "sheet", "row", "column", "value", "rule", "severity", "action", "message"]
LEDGER_COLUMNS = ["file", "sheet", "row", "line", "status", "reason", "merged_into"]

CheckRow = tuple[str, str, int, str, str, str, str, str, str]


@dataclass
class CheckLog:
    """Collects check failures; :meth:`frame` gives the report sorted by file, row, column, rule.

    ``pii_columns`` maps a file name to the raw columns the codebook marks as personal data: their
    values are always masked, whoever logs them.
    """

    rows: list[CheckRow] = field(default_factory=list)
    pii_columns: dict[str, set[str]] = field(default_factory=dict)

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
        """Record one failure (``pii`` masks the value; see the module notes)."""
        pii = pii or column in self.pii_columns.get(file, ())
        v, note = safe_log_value(value, pii=pii)
        raw = "" if value is None or value is pd.NA else str(value)
        msg = str(message)
        if raw and v != raw:  # the message must not quote what the value column masks or cuts
            msg = msg.replace(repr(raw), repr(v)).replace(raw, v)
        msg = mask_text(msg)
        if note:
            msg = f"{msg} ({note})"
        self.rows.append((file, sheet, int(row), mask_text(str(column)), v, rule, severity, action, msg))

    def drop(self, keep: Callable[[CheckRow], bool]) -> None:
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
    lines: dict[tuple[str, str, int], int] = field(default_factory=dict)
    #: incremented at every change (lets callers cache views of the kept rows)
    version: int = 0

    def open_file(self, file: str, sheet: str, rows: list[int], lines: list[int] | None = None) -> None:
        """Register the rows read from ``file`` (and ``sheet``) as ``kept`` until told otherwise."""
        self.version += 1
        self.read[file] = self.read.get(file, 0) + len(rows)
        for i, r in enumerate(rows):
            self.status[(file, sheet, r)] = ("kept", "", None)
            self.lines[(file, sheet, r)] = int(lines[i]) if lines is not None else int(r)

    def reject(self, file: str, sheet: str, row: int, reason: str) -> None:
        """Mark a row rejected (the first reason is kept; merged rows stay merged)."""
        cur = self.status[(file, sheet, row)]
        self.version += 1
        if cur[0] == "kept":
            self.status[(file, sheet, row)] = ("rejected", mask_text(reason), None)

    def merge(self, file: str, sheet: str, row: int, into: int, reason: str) -> None:
        """Mark a row merged into another (kept) row of the same file and sheet."""
        self.version += 1
        self.status[(file, sheet, row)] = ("merged", mask_text(reason), into)

    def get(self, file: str, sheet: str, row: int) -> str:
        """Current status of a row."""
        return self.status[(file, sheet, row)][0]

    def frame(self) -> pd.DataFrame:
        recs = [(f, sh, r, self.lines.get((f, sh, r), r), s, why, into) for (f, sh, r), (s, why, into) in self.status.items()]
        df = pd.DataFrame(recs, columns=LEDGER_COLUMNS)
        df["row"] = df["row"].astype("int64")
        df["line"] = df["line"].astype("int64")
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
