"""Importing filled quarterly forms into the monitoring store: all or nothing, idempotent, traceable.

:func:`import_form` reads and validates a form (:func:`welfare_eval.monitor.form.read_form`), then,
in ONE transaction holding the importers' lock, checks it against the store and writes it:

1. the same file (SHA-256 of its bytes) already imported → ``duplicate_file``, nothing written;
2. a file with the same content (SHA-256 of the canonical content: region, period and every row, see
   :meth:`FormContent.content_hash`) already imported → ``duplicate_content``, nothing written;
3. store checks, each failure a rejection row naming sheet, row and column: every village
   registered, in the form's region (and province when given) and due to report in the period; the
   period within ``IntakeRules.first_period``–``last_period`` and begun by the date of receipt; the
   submission date not after the receipt date; a correction not received before the version it
   replaces;
4. otherwise a ``submission`` row, one ``village_period`` row per village (pointing to the version it
   supersedes, if any: status ``correction``) and the figure rows, each with its spreadsheet row and
   the id of the figure it corrects.

A rejected file writes nothing; an interrupted import (error, kill, power cut) leaves the store as it
was, because everything happens in one database transaction. Importing the same file again changes
nothing.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from welfare_eval._io import sha256_bytes, write_csv, write_excel
from welfare_eval._results import ResultBase
from welfare_eval.monitor import schema as S
from welfare_eval.monitor.db import MonitorDB, utc_now
from welfare_eval.monitor.form import (
    REJECTION_COLUMNS,
    FormContent,
    FormRules,
    _sheet_title,
    group_rejections,
    read_form,
)
from welfare_eval.monitor.periods import Period, parse_period

__all__ = ["ImportBatch", "ImportResult", "IntakeRules", "import_form", "import_forms", "read_receipts"]

STATUSES = ("accepted", "correction", "duplicate_file", "duplicate_content", "rejected")


@dataclass(frozen=True)
class IntakeRules(FormRules):
    """Rules of the import: the form's tolerances (:class:`FormRules`) and the store's checks.

    Attributes
    ----------
    first_period, last_period : Period or str, optional
        The range of reporting periods accepted (B.E. or C.E.); ``None`` leaves that side open.
    due_days : int
        Days after the end of a quarter by which its report is due (used by the submission status
        queries; default 30).
    """

    first_period: Period | str | None = None
    last_period: Period | str | None = None
    due_days: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        for k in ("first_period", "last_period"):
            v = getattr(self, k)
            if v is not None:
                object.__setattr__(self, k, parse_period(v))
        if self.due_days < 0:
            raise ValueError(f"IntakeRules.due_days must be >= 0, got {self.due_days}")


@dataclass
class ImportResult(ResultBase):
    """The outcome of importing one form.

    Attributes
    ----------
    file : str
    file_sha256 : str
    status : str
        ``accepted``, ``correction``, ``duplicate_file``, ``duplicate_content`` or ``rejected``.
    submission_id : int or None
        The new submission, or the one a duplicate repeats.
    region, period : int, str
        From the form (``period`` in C.E., e.g. ``2026Q3``); ``None`` when unreadable.
    villages : list of str
    received_on : date
    rejections, warnings : DataFrame
        Columns ``file, sheet, row, column, value, reason``.
    superseded : list of int
        Ids of the village-period rows this submission supersedes.
    """

    file: str
    file_sha256: str
    status: str
    submission_id: int | None = None
    region: int | None = None
    period: str | None = None
    villages: list[str] = field(default_factory=list)
    received_on: _dt.date | None = None
    rejections: pd.DataFrame = field(default_factory=lambda: group_rejections([]))
    warnings: pd.DataFrame = field(default_factory=lambda: group_rejections([]))
    superseded: list[int] = field(default_factory=list)

    title = "Import of a quarterly form"

    @property
    def ok(self) -> bool:
        """Whether the store holds the form's content (accepted now or before)."""
        return self.status != "rejected"

    def tidy(self) -> pd.DataFrame:
        """One row: file, status, submission, region, period, villages, receipt date, counts."""
        return pd.DataFrame(
            [
                {
                    "file": self.file,
                    "status": self.status,
                    "submission_id": self.submission_id,
                    "region": self.region,
                    "period": self.period,
                    "villages": " ".join(self.villages),
                    "received_on": self.received_on,
                    "n_rejections": len(self.rejections),
                    "n_warnings": len(self.warnings),
                    "n_superseded": len(self.superseded),
                }
            ]
        ).astype({"submission_id": "Int64", "region": "Int64"})

    def notes(self) -> list[str]:
        return [f"{r['sheet']} row {r['row']} {r['column']}: {r['reason']}" for r in self.rejections.to_dict("records")]

    def write_report(self, path: str | Path) -> Path:
        """Write this file's rejection report: CSV (rejections) or XLSX (sheets ``file``, ``rejections``,
        ``warnings``), chosen by the suffix; text cells are formula-neutralised."""
        return ImportBatch([self]).write_report(path)


@dataclass
class ImportBatch(ResultBase):
    """The outcome of importing several forms (:func:`import_forms`)."""

    results: list[ImportResult]

    title = "Import of quarterly forms"

    def tidy(self) -> pd.DataFrame:
        """One row per file in import order."""
        if not self.results:
            return ImportResult("", "", "accepted").tidy().iloc[0:0]
        return pd.concat([r.tidy() for r in self.results], ignore_index=True)

    def rejections(self) -> pd.DataFrame:
        """Every rejection (sheet, row, column, reason) of every rejected file."""
        return group_rejections([r.rejections for r in self.results])

    def warnings(self) -> pd.DataFrame:
        """Every warning of every file."""
        return group_rejections([r.warnings for r in self.results])

    def duplicates(self) -> pd.DataFrame:
        """The files that repeated a file or a content already in the store."""
        t = self.tidy()
        return t[t["status"].isin(["duplicate_file", "duplicate_content"])].reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Number of files by status."""
        t = self.tidy()
        return {s: int((t["status"] == s).sum()) for s in STATUSES}

    def notes(self) -> list[str]:
        return [f"{k}: {v}" for k, v in self.counts().items() if v]

    def write_report(self, path: str | Path) -> Path:
        """Write the rejection report: CSV (rejections only) or XLSX (sheets ``files``, ``rejections``,
        ``warnings``), chosen by the suffix; text cells are formula-neutralised."""
        p = Path(path)
        if p.suffix.lower() == ".csv":
            return write_csv(self.rejections(), p)
        if p.suffix.lower() == ".xlsx":
            return write_excel({"files": self.tidy(), "rejections": self.rejections(),
                                "warnings": self.warnings()}, p)
        raise ValueError(f"{p}: the rejection report is written as .csv or .xlsx")


# --------------------------------------------------------------------------------------------------
# Mapping form sections to tables
# --------------------------------------------------------------------------------------------------
#: section → (table, {table column: section column}, key columns of the table)
_TABLES: dict[str, tuple[sa.Table, dict[str, str], tuple[str, ...]]] = {
    "workshops": (S.workshop, {"phase": "workshop_phase", "held_on": "held_on", "participants": "participants",
                               "committee_members": "committee_members"}, ("phase", "held_on")),
    "rules": (S.welfare_rule, {c: c for c in ("welfare_type", "offered", "launched_on", "benefit_amount",
                                              "benefit_basis", "eligibility", "waiting_months", "min_age",
                                              "max_age")}, ("welfare_type",)),
    "members": (S.membership, {"organisation": "organisation", "members": "members", "households": "households"},
                ("organisation",)),
    "payouts": (S.payout, {"welfare_type": "welfare_type", "cases": "cases", "amount": "amount"},
                ("welfare_type",)),
    "profit": (S.profit, {"organisation": "organisation", "fiscal_year": "fiscal_year", "profit": "profit"},
               ("organisation", "fiscal_year")),
    "allocation": (S.allocation, {"organisation": "organisation", "fiscal_year": "fiscal_year",
                                  "category": "category", "share_pct": "share", "amount": "amount"},
                   ("organisation", "fiscal_year", "category")),
    "fund": (S.fund_balance, {"opening": "opening", "income": "income", "payouts": "payouts", "closing": "closing"},
             ()),
    "notes": (S.narrative, {"kind": "kind", "seq": "seq", "text": "text"}, ("kind", "seq")),
}


def _py(v: Any) -> Any:
    """A plain Python value for the database (NaN/NA → None, numpy scalars → Python)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.date()
    return v


def _key(row: Mapping[str, Any], cols: tuple[str, ...]) -> tuple[Any, ...]:
    out = []
    for c in cols:
        v = row[c]
        out.append(v.isoformat() if isinstance(v, _dt.date) else (round(v, 6) if isinstance(v, float) else v))
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------------
class _Reject(Exception):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(rows)} rejection(s)")
        self.rows = rows


def _today() -> _dt.date:
    return utc_now().astimezone(_dt.timezone(_dt.timedelta(hours=7))).date()  # Thai date


def import_form(
    db: MonitorDB,
    path: str | Path,
    *,
    received_on: _dt.date | str | None = None,
    rules: IntakeRules | None = None,
) -> ImportResult:
    """Import one filled quarterly form (see the module docstring).

    Parameters
    ----------
    db : MonitorDB
    path : path
        The ``.xlsx`` file.
    received_on : date or ISO text, optional
        Date the file was received (default: today, Thai time). Lateness and the "as of" queries
        use it.
    rules : IntakeRules, optional

    Returns
    -------
    ImportResult
        Never raises for a bad form: the rejections are in the result.
    """
    rules = rules or IntakeRules()
    p = Path(path)
    data = p.read_bytes()
    fh = sha256_bytes(data)
    if isinstance(received_on, str):
        received_on = _dt.date.fromisoformat(received_on)
    rec_on = received_on or _today()
    res = ImportResult(file=p.name, file_sha256=fh, status="rejected", received_on=rec_on)
    with db.engine.connect() as conn:
        hit = conn.execute(sa.select(S.submission.c.id).where(S.submission.c.file_sha256 == fh)).first()
    if hit is not None:
        res.status, res.submission_id = "duplicate_file", int(hit[0])
        return res
    content, rej, warn = read_form(data, rules=rules, file_name=p.name)
    res.warnings = warn
    if content is None:
        res.rejections = rej
        return res
    res.region, res.period, res.villages = int(content.header["region"]), content.period.label(), content.villages
    ch = content.content_hash()
    try:
        with db.write() as conn:
            dup = conn.execute(
                sa.select(S.submission.c.id).where(S.submission.c.content_sha256 == ch).order_by(S.submission.c.id)
            ).first()
            if dup is not None:
                res.status, res.submission_id = "duplicate_content", int(dup[0])
                return res
            current = _check_store(conn, content, p.name, rec_on, rules)
            sid, superseded, more_warn = _write(conn, content, p.name, fh, ch, rec_on, current)
    except _Reject as exc:
        res.rejections = group_rejections([pd.DataFrame(exc.rows, columns=list(REJECTION_COLUMNS))])
        return res
    res.submission_id = sid
    res.superseded = superseded
    res.status = "correction" if superseded else "accepted"
    if more_warn:
        res.warnings = group_rejections([warn, pd.DataFrame(more_warn, columns=list(REJECTION_COLUMNS))])
    return res


def _check_store(conn: Connection, content: FormContent, name: str, rec_on: _dt.date,
                 rules: IntakeRules) -> dict[str, dict[str, Any]]:
    """Store-level checks; returns the current village-period row of each village (if any)."""
    h = content.header
    per: Period = content.period
    rows: list[dict[str, Any]] = []
    hsheet = _sheet_title(1, "header")
    hrow = h.get("rows", {})

    def bad(sheet: str, row: int | None, col: str, value: Any, reason: str) -> None:
        rows.append({"file": name, "sheet": sheet, "row": row, "column": col,
                     "value": "" if value is None else str(value), "reason": reason})

    first_p = parse_period(rules.first_period) if rules.first_period is not None else None
    last_p = parse_period(rules.last_period) if rules.last_period is not None else None
    if first_p is not None and per < first_p:
        bad(hsheet, hrow.get("period"), "C (period)", h.get("period_text"),
            f"period {per} is before the first monitored period {rules.first_period}")
    if last_p is not None and per > last_p:
        bad(hsheet, hrow.get("period"), "C (period)", h.get("period_text"),
            f"period {per} is after the last monitored period {rules.last_period}")
    if per.start > rec_on:
        bad(hsheet, hrow.get("period"), "C (period)", h.get("period_text"),
            f"period {per} had not begun when the form was received ({rec_on})")
    if h.get("submitted_on") is not None and h["submitted_on"] > rec_on:
        bad(hsheet, hrow.get("submitted_on"), "C (submitted_on)", h["submitted_on"],
            f"submission date is after the date of receipt ({rec_on})")
    listed = content.sections["villages"]
    ids = [str(v) for v in listed["village"]]
    reg = {r.village_id: r for r in conn.execute(sa.select(S.village).where(S.village.c.village_id.in_(ids)))}
    vsheet = _sheet_title(2, "villages")
    for r in listed.to_dict("records"):
        v, row = str(r["village"]), r.get("row")
        g = reg.get(v)
        if g is None:
            bad(vsheet, row, "A (village)", v, f"village {v} is not registered in the study")
            continue
        if g.region != int(h["region"]):
            bad(vsheet, row, "A (village)", v, f"village {v} is in region {g.region}, not region {h['region']}")
        if h.get("province_code") and g.province_code != h["province_code"]:
            bad(vsheet, row, "A (village)", v,
                f"village {v} is in province {g.province_code}, not province {h['province_code']} of the header")
        if g.first_year is not None and per < Period(g.first_year, g.first_quarter):
            bad(vsheet, row, "A (village)", v,
                f"village {v} reports from {Period(g.first_year, g.first_quarter)} on, not for {per}")
    current = _current_versions(conn, ids, per)
    for r in listed.to_dict("records"):
        cur = current.get(str(r["village"]))
        if cur is not None and cur["received_on"] > rec_on:
            bad(vsheet, r.get("row"), "A (village)", r["village"],
                f"a version received later ({cur['received_on']}, submission {cur['submission_id']}) is already "
                f"stored; import files in the order they were received")
    if rows:
        raise _Reject(rows)
    return current


def _current_versions(conn: Connection, ids: list[str], per: Period) -> dict[str, dict[str, Any]]:
    """The latest (not superseded) village-period row of each village for ``per``."""
    vp, sub = S.village_period, S.submission
    newer = sa.select(sa.literal(1)).select_from(vp.alias("n")).where(sa.literal_column("n.supersedes_id") == vp.c.id)
    q = (
        sa.select(vp.c.id, vp.c.village_id, vp.c.submission_id, sub.c.received_on)
        .join(sub, sub.c.id == vp.c.submission_id)
        .where(vp.c.village_id.in_(ids), vp.c.year == per.year, vp.c.quarter == per.quarter, ~newer.exists())
    )
    return {r.village_id: r._asdict() for r in conn.execute(q)}


def _write(conn: Connection, content: FormContent, name: str, fh: str, ch: str, rec_on: _dt.date,
           current: Mapping[str, Mapping[str, Any]]) -> tuple[int, list[int], list[dict[str, Any]]]:
    h = content.header
    per = content.period
    sid = conn.execute(
        sa.insert(S.submission).returning(S.submission.c.id),
        {
            "file_name": name,
            "file_sha256": fh,
            "content_sha256": ch,
            "form_version": h["form_version"],
            "region": int(h["region"]),
            "province_code": h.get("province_code"),
            "year": per.year,
            "quarter": per.quarter,
            "period_text": h.get("period_text") or per.label(),
            "submitted_on": h.get("submitted_on"),
            "received_on": rec_on,
            "submitter_office": h.get("office") or None,
            "submitter_position": h.get("position") or None,
            "imported_at": utc_now(),
            "n_villages": len(content.villages),
        },
    ).scalar_one()
    sections = dict(content.sections)
    notes = sections["notes"].copy()
    if not notes.empty:
        notes["seq"] = notes.groupby("village").cumcount() + 1
    sections["notes"] = notes
    superseded: list[int] = []
    warnings: list[dict[str, Any]] = []
    for r in content.sections["villages"].sort_values("village").to_dict("records"):
        v = str(r["village"])
        old = current.get(v)
        vpid = conn.execute(
            sa.insert(S.village_period).returning(S.village_period.c.id),
            {"submission_id": sid, "village_id": v, "year": per.year, "quarter": per.quarter, "phase": r["phase"],
             "source_row": _py(r.get("row")), "supersedes_id": None if old is None else old["id"]},
        ).scalar_one()
        if old is not None:
            superseded.append(int(old["id"]))
        for sec, (table, cols, key) in _TABLES.items():
            df = sections[sec]
            df = df[df["village"].astype(str) == v]
            if df.empty:
                continue
            prev: dict[tuple[Any, ...], int] = {}
            if old is not None:
                q = sa.select(table).where(table.c.village_period_id == old["id"])
                for pr in conn.execute(q):
                    prev[_key(pr._asdict(), key)] = int(pr.id)
            batch = []
            for rec in df.to_dict("records"):
                row = {tc: _py(rec.get(sc)) for tc, sc in cols.items()}
                batch.append(
                    {"village_period_id": vpid, "source_row": _py(rec.get("row")),
                     "supersedes_id": prev.get(_key(row, key)), **row}
                )
            conn.execute(sa.insert(table), batch)
        # continuity with the previous quarter's closing balance (a warning, not a rejection)
        fund = sections["fund"]
        fr = fund[fund["village"].astype(str) == v]
        if not fr.empty:
            prev_close = _previous_closing(conn, v, per)
            opening = float(fr["opening"].iloc[0])
            if prev_close is not None and abs(prev_close - opening) > 1.0:
                warnings.append({"file": name, "sheet": _sheet_title(9, "fund"), "row": _py(fr["row"].iloc[0]),
                                 "column": "B (opening)", "value": f"{opening:.2f}",
                                 "reason": f"opening balance differs from the closing balance of {per.shift(-1)} "
                                           f"in the store ({prev_close:,.2f} baht)"})
    return int(sid), superseded, warnings


def _previous_closing(conn: Connection, village: str, per: Period) -> float | None:
    prev = per.shift(-1)
    cur = _current_versions(conn, [village], prev).get(village)
    if cur is None:
        return None
    v = conn.execute(sa.select(S.fund_balance.c.closing).where(S.fund_balance.c.village_period_id == cur["id"])).first()
    return None if v is None else float(v[0])


def read_receipts(path: str | Path) -> dict[str, _dt.date]:
    """Read a log of receipt dates (CSV with ``file`` and ``received_on``, ISO dates or B.E. dd/mm/yyyy)
    into the mapping :func:`import_forms` takes.

    Raises
    ------
    ValueError
        Naming the row when a column is missing, a date is not a date or a file appears twice.
    """
    from welfare_eval.clean.thai import ThaiParseError, parse_be_date

    p = Path(path)
    df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    miss = {"file", "received_on"} - set(df.columns)
    if miss:
        raise ValueError(f"{p}: receipts need the columns file and received_on (missing {sorted(miss)})")
    out: dict[str, _dt.date] = {}
    for i, r in enumerate(df.to_dict("records"), start=2):
        name = str(r["file"]).strip()
        try:
            d = _dt.date.fromisoformat(str(r["received_on"]).strip())
        except ValueError:
            try:
                d = parse_be_date(r["received_on"], era="auto")
            except ThaiParseError as exc:
                raise ValueError(f"{p} row {i}: received_on {r['received_on']!r} is not a date ({exc})") from None
        if name in out:
            raise ValueError(f"{p} row {i}: file {name} appears twice")
        out[name] = d
    return out


def import_forms(
    db: MonitorDB,
    files: str | Path | Iterable[str | Path],
    *,
    received_on: _dt.date | Mapping[str, _dt.date] | Callable[[Path], _dt.date] | None = None,
    rules: IntakeRules | None = None,
) -> ImportBatch:
    """Import several forms in order of receipt (then file name); see :func:`import_form`.

    Parameters
    ----------
    files : folder, file or iterable of files
        A folder means its ``*.xlsx`` files (not recursive; names starting with ``~$`` skipped).
    received_on : date, mapping or callable, optional
        One date for all, a mapping file name → date, or a function of the path; default today.
    """
    from welfare_eval._progress import progress

    if isinstance(files, str | Path) and Path(files).is_dir():
        paths = sorted(q for q in Path(files).glob("*.xlsx") if not q.name.startswith("~$"))
    elif isinstance(files, str | Path):
        paths = [Path(files)]
    else:
        paths = [Path(f) for f in files]

    def when(q: Path) -> _dt.date | None:
        if received_on is None or isinstance(received_on, _dt.date):
            return received_on
        if callable(received_on):
            return received_on(q)
        got = received_on.get(q.name, received_on.get(str(q)))
        if got is None:
            raise ValueError(f"import_forms: no date of receipt for {q.name}")
        return got

    dated = sorted(((when(q), q) for q in paths), key=lambda t: (t[0] or _dt.date.max, t[1].name))
    results = [import_form(db, q, received_on=d, rules=rules) for d, q in progress(dated, desc="import",
                                                                                    total=len(dated))]
    return ImportBatch(results)


