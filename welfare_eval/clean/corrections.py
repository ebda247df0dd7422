"""Corrections decided by a person, kept with the raw data and applied (and logged) on every run.

In the spirit of DIME's ``ieduplicates`` / ``iecorrect``: the raw exports are never edited; a data
manager writes each decision as a row of a corrections file in ``data/raw/corrections/`` (``*.csv``
in UTF-8, or ``*.xlsx``, first sheet; files read in name order). Every correction is applied on every
run and becomes a row of the checks report (rule ``correction``); a correction that no longer fits the
data (row gone, key changed, duplicate already settled) stops the run, so a re-export can never
silently change what a decision means.

Columns (a header row; extra columns, such as those of the duplicates report, are ignored):

``file``        raw file name the correction is about (not for ``drop_pair``)
``sheet``       workbook sheet (empty for CSV files)
``row``         spreadsheet row number (header = 1), as in the duplicates report and ``checks.csv``
``submission``  instead of (or as well as) ``row``: the value of the file's submission id (the raw
                column the codebook maps to ``submission_uuid``, e.g. KoboToolbox ``_uuid``)
``key``         optional guard: the row's identity as the duplicates report shows it
                (``village_id=18030702; hh_id=18030702-210``); the correction is refused when the row no
                longer holds it
``action``      ``drop`` (the row is rejected), ``keep`` (of a group of conflicting duplicates, this row
                is kept and the others are merged into it), ``set`` (``column`` of the row is set to
                ``value`` before the codebook is applied, e.g. a new household id for two households that
                share one), ``keep_latest`` (a rule for a whole file: conflicting duplicates are settled by
                keeping the row with the latest ``column``, default the tidy ``submitted_at``),
                ``ignore_sheet`` (a workbook sheet that is not data, e.g. notes), ``drop_pair`` (a matched
                pair left out of the study: ``value`` = pair id; its villages' rows are rejected and the
                manifest lists the pair so the report can state it)
``column``      raw column for ``set``; order column for ``keep_latest``
``value``       new raw value for ``set``; pair id for ``drop_pair``
``reason``      required: why, and who decided (masked like every logged text)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from welfare_eval.clean.io import CleaningError, read_table, sha256_file

__all__ = ["ACTIONS", "CORRECTION_COLUMNS", "Correction", "Corrections", "read_corrections"]

ACTIONS = ("drop", "keep", "set", "keep_latest", "ignore_sheet", "drop_pair")
CORRECTION_COLUMNS = ("file", "sheet", "row", "submission", "key", "action", "column", "value", "reason")
_ROW_ACTIONS = ("drop", "keep", "set")


@dataclass(frozen=True)
class Correction:
    """One row of a corrections file (``where`` names it for messages: ``corrections.csv row 4``)."""

    where: str
    action: str
    file: str
    sheet: str
    row: int | None
    submission: str
    key: str
    column: str
    value: str
    reason: str


@dataclass
class Corrections:
    """All corrections, with bookkeeping of which ones were used."""

    items: list[Correction] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    used: set[int] = field(default_factory=set)

    def of(self, action: str, file: str | None = None, sheet: str | None = None) -> list[tuple[int, Correction]]:
        """Corrections with ``action`` (for ``file`` and ``sheet`` when given), with their index."""
        return [
            (i, c) for i, c in enumerate(self.items)
            if c.action == action and (file is None or c.file == file) and (sheet is None or c.sheet == sheet)
        ]

    def mark(self, i: int) -> None:
        self.used.add(i)

    def unused(self) -> list[Correction]:
        return [c for i, c in enumerate(self.items) if i not in self.used]

    def dropped_pairs(self) -> dict[int, tuple[str, str]]:
        """``{pair_id: (reason, where)}`` of the ``drop_pair`` corrections."""
        out: dict[int, tuple[str, str]] = {}
        for i, c in self.of("drop_pair"):
            self.mark(i)
            out[int(c.value)] = (c.reason, c.where)
        return out


def _int(text: str, what: str, where: str) -> int:
    t = text.strip()
    try:
        v = float(t)
    except ValueError:
        raise CleaningError(f"{where}: {what} {t!r} is not a whole number; fix the corrections file") from None
    if not v.is_integer() or v < 1:
        raise CleaningError(f"{where}: {what} {t!r} is not a whole number >= 1; fix the corrections file")
    return int(v)


def read_corrections(folder: str | Path | None) -> Corrections:
    """Read and validate every corrections file of ``folder`` (missing folder: no corrections).

    Raises
    ------
    CleaningError
        One-line message naming the corrections file and row: unknown action, missing reason, missing
        file/row/column/value for the action, a row named twice with different actions.
    """
    out = Corrections()
    if folder is None:
        return out
    folder = Path(folder)
    if not folder.is_dir():
        return out
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".xlsx")
                   and not p.name.startswith((".", "~$")))
    others = sorted(p.name for p in folder.iterdir() if p.is_file() and p not in paths and not p.name.startswith(".")
                    and not p.name.upper().startswith("README"))
    if others:
        raise CleaningError(f"{folder.name}/{others[0]}: corrections must be .csv or .xlsx files; convert or move it")
    seen: dict[tuple[str, str, int | None, str], tuple[str, str]] = {}
    for p in paths:
        tab = read_table(p)
        bad = [i for i in tab.issues if i.kind != "blank"]
        if bad:
            raise CleaningError(f"{p.name} row {bad[0].row}: {bad[0].message}; fix the corrections file")
        df = tab.data.copy()
        df.columns = pd.Index([str(c).strip().lower() for c in df.columns])
        if "action" not in df.columns or "reason" not in df.columns:
            raise CleaningError(f"{p.name}: a corrections file needs the columns 'action' and 'reason' (and "
                                f"{list(CORRECTION_COLUMNS)} as needed); see data/raw/README.md")
        for c in CORRECTION_COLUMNS:
            if c not in df.columns:
                df[c] = ""
        out.files.append({"file": f"{folder.name}/{p.name}", "sha256": sha256_file(p), "rows": len(df)})
        for r, rec in zip(tab.rows, df.to_dict("records"), strict=True):
            where = f"{p.name} row {int(r)}"
            v = {k: str(rec[k]).strip() for k in CORRECTION_COLUMNS}
            act = v["action"].lower()
            if act not in ACTIONS:
                raise CleaningError(f"{where}: action {v['action']!r} is not one of {list(ACTIONS)}; fix the corrections file")
            if not v["reason"]:
                raise CleaningError(f"{where}: no reason given; say why and who decided in the 'reason' column")
            row = _int(v["row"], "row", where) if v["row"] else None
            if act in _ROW_ACTIONS:
                if not v["file"]:
                    raise CleaningError(f"{where}: action {act!r} needs the raw file name in 'file'")
                if row is None and not v["submission"]:
                    raise CleaningError(f"{where}: action {act!r} needs 'row' (spreadsheet row) or 'submission'")
                if row is not None and row < 2:
                    raise CleaningError(f"{where}: row {row} is the header; give a data row (2 or more)")
            if act == "set" and not v["column"]:
                raise CleaningError(f"{where}: action 'set' needs the raw column name in 'column'")
            if act in ("keep_latest", "ignore_sheet") and not v["file"]:
                raise CleaningError(f"{where}: action {act!r} needs the raw file name in 'file'")
            if act == "ignore_sheet" and not v["sheet"]:
                raise CleaningError(f"{where}: action 'ignore_sheet' needs the sheet name in 'sheet'")
            if act == "drop_pair":
                _int(v["value"], "pair id (value)", where)
            if act in _ROW_ACTIONS:
                ident = (v["file"], v["sheet"], row, v["submission"])
                prev = seen.get(ident)
                if prev is not None and (prev[0] != act or act != "set"):
                    raise CleaningError(f"{where}: the same row is already corrected by {prev[1]}; keep one decision per row")
                seen[ident] = (act, where)
            out.items.append(Correction(where, act, v["file"], v["sheet"], row, v["submission"], v["key"],
                                        v["column"], v["value"], v["reason"]))
    return out
