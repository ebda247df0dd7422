"""The state of a cleaning run shared by the table builders and the duplicates rules.

:class:`Part` is one raw file (or one workbook sheet) after the codebook was applied; :class:`Context` holds
the checks log, the ledger, the pseudonymisation key, the region scheme and the pairs left out of the study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.clean.apply import ROW
from welfare_eval.clean.checks import CheckLog, Ledger
from welfare_eval.clean.ids import PseudonymKey

__all__ = ["EXPORT_COUNTERS", "SUBMISSION_META", "Context", "Part"]

#: Tidy names of export bookkeeping, ignored when looking for exact duplicates.
EXPORT_COUNTERS = frozenset({"row_index"})
#: Tidy names of submission metadata (differ between resubmissions; not "content").
SUBMISSION_META = frozenset(
    {"row_index", "submission_id", "submission_uuid", "submitted_at", "interview_start", "interview_end", "interview_date"}
)


@dataclass
class Part:
    """One raw file (or one sheet of a workbook) after the codebook was applied."""

    file: str
    sheet: str
    wave: str | None
    raw: pd.DataFrame
    tidy: pd.DataFrame
    entries: pd.DataFrame
    key: list[str] = field(default_factory=list)
    table: str = ""

    def raw_of(self, name: str) -> str:
        """Raw column name of a tidy name (the tidy name itself when it has no raw column)."""
        if not hasattr(self, "_raw_names"):
            self._raw_names = {str(n): str(r) for n, r in zip(self.entries["name"], self.entries["raw_name"], strict=True)}
        return self._raw_names.get(name, name)

    def raw_rows(self, rows: list[int], columns: list[str] | None = None) -> list[tuple[str, ...]]:
        """Raw text of the given spreadsheet rows (all columns, or ``columns``) as tuples."""
        if not hasattr(self, "_raw_values"):
            self._raw_values = self.raw.to_numpy(dtype=object)
            self._raw_pos = {int(r): i for i, r in enumerate(self.raw.index)}
            self._raw_cols = {str(c): j for j, c in enumerate(self.raw.columns)}
        js = [self._raw_cols[c] for c in columns] if columns is not None else list(range(self._raw_values.shape[1]))
        vals = self._raw_values
        return [tuple(vals[self._raw_pos[r], j] for j in js) for r in rows]

    def pii_names(self) -> set[str]:
        return set(self.entries.loc[self.entries["is_pii"].astype(bool), "name"])


@dataclass
class Context:
    """Shared state of a cleaning run: checks log, ledger and pseudonymisation key."""

    log: CheckLog
    ledger: Ledger
    key: PseudonymKey
    notes: list[str] = field(default_factory=list)
    regions: ref.RegionScheme = field(default_factory=ref.region_scheme)
    #: pair id → (reason, where it was decided) of the pairs left out of the study
    dropped_pairs: dict[int, tuple[str, str]] = field(default_factory=dict)
    #: village → pair id of the villages of dropped pairs (filled by :func:`build_villages`)
    dropped_villages: dict[str, int] = field(default_factory=dict)
    _kept: dict[tuple[str, str], tuple[int, pd.DataFrame, pd.DataFrame]] = field(default_factory=dict, repr=False)

    def kept(self, part: Part) -> pd.DataFrame:
        """The tidy rows of a part that are still kept (a cached view until the ledger changes)."""
        hit = self._kept.get((part.file, part.sheet))
        if hit is not None and hit[0] == self.ledger.version and hit[1] is part.tidy:
            return hit[2]
        st = self.ledger.status
        f, sh = part.file, part.sheet
        mask = [st[(f, sh, r)][0] == "kept" for r in part.tidy[ROW].tolist()]
        out = part.tidy[np.asarray(mask, dtype=bool)]
        self._kept[(part.file, part.sheet)] = (self.ledger.version, part.tidy, out)
        return out

    def reject(self, part: Part, rows: Any, reason: str, *, rule: str, column: str = "", values: Any = None) -> None:
        """Reject rows (log one check per row with ``action='rejected'``)."""
        rows = list(rows)
        vals = list(values) if values is not None else [""] * len(rows)
        for r, v in zip(rows, vals, strict=True):
            if self.ledger.get(part.file, part.sheet, int(r)) != "kept":
                continue
            self.ledger.reject(part.file, part.sheet, int(r), reason)
            self.log.add(part.file, part.sheet, int(r), column, v, rule, reason, action="rejected")

    def flag(self, part: Part, rows: Any, column: str, values: Any, rule: str, message: Any, *, severity: str = "error") -> None:
        """Flag cells (rows stay kept); ``message`` a string or one per row."""
        rows = list(rows)
        vals = list(values)
        msgs = list(message) if not isinstance(message, str) else [message] * len(rows)
        for r, v, m in zip(rows, vals, msgs, strict=True):
            self.log.add(part.file, part.sheet, int(r), column, v, rule, m, severity=severity, action="flagged")
