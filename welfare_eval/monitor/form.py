"""The quarterly Excel form: its specification, writing it (blank or filled) and reading it back.

The workbook has one sheet per section, each with a bilingual title (row 1), Thai and English column
headings (rows 2 and 3), a hidden row of column codes (row 4; the reader finds columns by these
codes, so columns may be moved but not renamed) and data from row 5 on. A hidden sheet ``lists``
holds the drop-down lists (villages of the region, phases, welfare types, yes/no, benefit bases,
organisations, allocation categories, note kinds) used by the sheets' data validation.

=====  ============  ==========================================================================
sheet  section       columns
=====  ============  ==========================================================================
0      readme        instructions (not read back)
1      header        region, province_code, period, submitted_on, office, position, form_version
2      villages      village, phase
3      workshops     village, workshop_phase, held_on, participants, committee_members
4      rules         village, welfare_type, offered, launched_on, benefit_amount, benefit_basis,
                     eligibility, waiting_months, min_age, max_age
5      members       village, organisation, members, households
6      payouts       village, welfare_type, cases, amount
7      profit        village, organisation, fiscal_year, profit
8      allocation    village, organisation, fiscal_year, category, share
9      fund          village, opening, income, payouts, closing
10     notes         village, kind, text
=====  ============  ==========================================================================

:func:`read_form` validates every cell (type, range, list membership) and then the rules between
cells (every village listed on sheet 2; one row per key; payouts only for offered types and with
cases; allocation shares of each organisation summing to 100 within ``share_tolerance``; a profit
row for every allocation; one fund row per village with opening + income − payouts = closing within
``balance_tolerance`` and payouts equal to the sum on sheet 6; workshops held within the quarter).
Every failure is one row of the rejection table (file, sheet, row, column, value, reason). Free
text is PII-scrubbed (:func:`welfare_eval.monitor.pii.scrub_text`).
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

import welfare_eval.reference as ref
from welfare_eval._io import json_dumps, sha256_bytes
from welfare_eval.clean.thai import (
    ThaiParseError,
    normalize_text,
    parse_baht,
    parse_be_date,
    parse_be_year,
    thai_to_arabic_digits,
)
from welfare_eval.monitor.periods import Period, PeriodError, parse_period
from welfare_eval.monitor.pii import scrub_text
from welfare_eval.monitor.schema import PHASES

__all__ = [
    "BASES",
    "FORM_VERSION",
    "NOTE_KINDS",
    "ORGANISATIONS",
    "REJECTION_COLUMNS",
    "SECTIONS",
    "FormContent",
    "FormRules",
    "blank_content",
    "choices",
    "read_form",
    "write_form",
]

FORM_VERSION = "1"
#: Organisations whose members, profit and allocation the form reports.
ORGANISATIONS: tuple[str, ...] = (
    "savings_group",
    "fund_institution",
    "welfare_fund",
    "village_fund",
    "network",
    "other",
)
#: Bases of a benefit amount: per case (event), per month or per year of entitlement.
BASES: tuple[str, ...] = ("case", "month", "year")
#: Kinds of free-text notes.
NOTE_KINDS: tuple[str, ...] = ("problem", "lesson")
#: Columns of the rejection table.
REJECTION_COLUMNS: tuple[str, ...] = ("file", "sheet", "row", "column", "value", "reason")

HEAD_ROWS = 4  # title, Thai, English, codes
DATA_START = HEAD_ROWS + 1
MAX_ROWS = 300  # rows covered by the data validation of each sheet


@dataclass(frozen=True)
class FormRules:
    """Tolerances and limits of :func:`read_form` (see :class:`welfare_eval.monitor.IntakeRules` for the
    import's rules, which extend these).

    Attributes
    ----------
    share_tolerance : float
        Allocation shares of an organisation must sum to 100 ± this many percentage points
        (default 0.5: shares written to one decimal that do not add up exactly, e.g. 99.8, pass
        with a warning; 99.0 is rejected).
    balance_tolerance : float
        Baht by which opening + income − payouts may differ from closing, and the fund's payouts
        from the sum of sheet 6 (default 1 baht, rounding).
    max_errors : int
        Stop collecting after this many rejections (the file is rejected anyway).
    max_amount : float
        Largest amount accepted in a money cell (default 1e9 baht: larger is a typing error).
    """

    share_tolerance: float = 0.5
    balance_tolerance: float = 1.0
    max_errors: int = 500
    max_amount: float = 1e9

    def __post_init__(self) -> None:
        if not 0 <= self.share_tolerance < 100:
            raise ValueError(f"FormRules.share_tolerance must be in [0, 100), got {self.share_tolerance}")
        if self.balance_tolerance < 0:
            raise ValueError(f"FormRules.balance_tolerance must be >= 0, got {self.balance_tolerance}")
        if self.max_errors < 1:
            raise ValueError("FormRules.max_errors must be at least 1")


# --------------------------------------------------------------------------------------------------
# Specification
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Col:
    """A column of a section: canonical ``code``, ``kind`` and constraints."""

    code: str
    kind: str  # village, choice, int, money, money_signed, percent, date, year, text, bool
    required: bool = True
    choices: str = ""
    lo: float | None = None
    hi: float | None = None
    width: int = 18
    label: str = ""  # label key suffix (default: code)


@dataclass(frozen=True)
class Section:
    """A sheet of the form: number, code, columns and the key unique within a village."""

    number: int
    code: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.columns]


_V = Col("village", "village", width=30)
SECTIONS: tuple[Section, ...] = (
    Section(2, "villages", (_V, Col("phase", "choice", choices="phase")), ("village",)),
    Section(
        3,
        "workshops",
        (
            _V,
            Col("workshop_phase", "choice", choices="phase"),
            Col("held_on", "date"),
            Col("participants", "int", lo=0, hi=100_000),
            Col("committee_members", "int", required=False, lo=0, hi=1_000),
        ),
        ("village", "workshop_phase", "held_on"),
    ),
    Section(
        4,
        "rules",
        (
            _V,
            Col("welfare_type", "choice", choices="welfare_type", width=32),
            Col("offered", "bool", choices="yesno"),
            Col("launched_on", "date", required=False),
            Col("benefit_amount", "money", required=False),
            Col("benefit_basis", "choice", required=False, choices="basis"),
            Col("eligibility", "text", required=False, width=40),
            Col("waiting_months", "int", required=False, lo=0, hi=240),
            Col("min_age", "int", required=False, lo=0, hi=120),
            Col("max_age", "int", required=False, lo=0, hi=120),
        ),
        ("village", "welfare_type"),
    ),
    Section(
        5,
        "members",
        (
            _V,
            Col("organisation", "choice", choices="organisation", width=36),
            Col("members", "int", lo=0, hi=1_000_000),
            Col("households", "int", required=False, lo=0, hi=1_000_000),
        ),
        ("village", "organisation"),
    ),
    Section(
        6,
        "payouts",
        (
            _V,
            Col("welfare_type", "choice", choices="welfare_type", width=32),
            Col("cases", "int", lo=0, hi=1_000_000),
            Col("amount", "money"),
        ),
        ("village", "welfare_type"),
    ),
    Section(
        7,
        "profit",
        (
            _V,
            Col("organisation", "choice", choices="organisation", width=36),
            Col("fiscal_year", "year"),
            Col("profit", "money_signed"),
        ),
        ("village", "organisation", "fiscal_year"),
    ),
    Section(
        8,
        "allocation",
        (
            _V,
            Col("organisation", "choice", choices="organisation", width=36),
            Col("fiscal_year", "year"),
            Col("category", "choice", choices="category", width=30),
            Col("share", "percent", lo=0, hi=100),
        ),
        ("village", "organisation", "fiscal_year", "category"),
    ),
    Section(
        9,
        "fund",
        (
            _V,
            Col("opening", "money"),
            Col("income", "money"),
            Col("payouts", "money"),
            Col("closing", "money"),
        ),
        ("village",),
    ),
    Section(
        10,
        "notes",
        (_V, Col("kind", "choice", choices="note"), Col("text", "text", width=80)),
        (),
    ),
)
_BY_CODE = {s.code: s for s in SECTIONS}
HEADER_FIELDS: tuple[str, ...] = (
    "region",
    "province_code",
    "period",
    "submitted_on",
    "office",
    "position",
    "form_version",
)


def _both(key: str) -> str:
    return ref.label(key, "both")


def choices(name: str) -> list[tuple[str, str]]:
    """The ``(code, display text)`` pairs of a drop-down list (display = "ไทย (English)")."""
    return list(_choices(name))


@cache
def _choices(name: str) -> tuple[tuple[str, str], ...]:
    return tuple(_choices_list(name))


def _choices_list(name: str) -> list[tuple[str, str]]:
    if name == "phase":
        return [(p, _both(f"monitor.phase.{p}")) for p in PHASES]
    if name == "welfare_type":
        return [(c, _both(f"welfare.{c}")) for c in ref.welfare_types()["code"]]
    if name == "category":
        return [(c, _both(f"allocation.{c}")) for c in ref.profit_allocation()["code"]]
    if name == "organisation":
        return [(c, _both(f"monitor.org.{c}")) for c in ORGANISATIONS]
    if name == "basis":
        return [(c, _both(f"monitor.basis.{c}")) for c in BASES]
    if name == "note":
        return [(c, _both(f"monitor.note.{c}")) for c in NOTE_KINDS]
    if name == "yesno":
        return [("yes", _both("monitor.yes")), ("no", _both("monitor.no"))]
    raise KeyError(f"no drop-down list {name!r}")


@cache
def _lookup_table(name: str) -> dict[str, str]:
    """Every accepted spelling (code, Thai, English, both; case-folded) → code."""
    out: dict[str, str] = {}
    keys = {
        "phase": "monitor.phase.{}",
        "welfare_type": "welfare.{}",
        "category": "allocation.{}",
        "organisation": "monitor.org.{}",
        "basis": "monitor.basis.{}",
        "note": "monitor.note.{}",
    }
    for code, disp in choices(name):
        spellings = {code, disp}
        if name in keys:
            k = keys[name].format(code)
            spellings |= {ref.label(k, "th"), ref.label(k, "en")}
        elif name == "yesno":
            k = f"monitor.{code}"
            spellings |= {ref.label(k, "th"), ref.label(k, "en")}
            spellings |= {"y", "1", "true"} if code == "yes" else {"n", "0", "false"}
        for s in spellings:
            out[_fold(s)] = code
    return out


def _fold(s: str) -> str:
    return normalize_text(str(s)).casefold()


# --------------------------------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------------------------------
@dataclass
class FormContent:
    """The content of a form in canonical codes.

    Attributes
    ----------
    header : dict
        ``region`` (int), ``province_code`` (str or None), ``period`` (:class:`Period`),
        ``period_text`` (as written), ``submitted_on`` (date or None), ``office``, ``position``
        (scrubbed text), ``form_version``.
    sections : dict of DataFrame
        One table per section code with the section's columns (``village`` = village code, choices
        as codes, dates as :class:`datetime.date`) and ``row`` (the spreadsheet row; absent or
        missing for content built in code). Allocation rows get ``amount`` = profit × share / 100.
    """

    header: dict[str, Any]
    sections: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def period(self) -> Period:
        return self.header["period"]

    @property
    def villages(self) -> list[str]:
        return sorted(self.sections["villages"]["village"].astype(str))

    def content_hash(self) -> str:
        """SHA-256 of the content that matters for the store: region, province, period and every
        section's rows (sorted; spreadsheet row numbers, the submission date and the submitter are
        left out, so re-saving or re-sorting a form gives the same hash)."""
        doc: dict[str, Any] = {
            "region": int(self.header["region"]),
            "province_code": self.header.get("province_code"),
            "period": self.period.label(),
        }
        for sec in SECTIONS:
            df = self.sections.get(sec.code)
            rows = [] if df is None else [{k: _canon(r.get(k)) for k in sec.codes} for r in df.to_dict("records")]
            doc[sec.code] = sorted(rows, key=lambda r: json_dumps(r))
        return sha256_bytes(json_dumps(doc).encode("utf-8"))


def _canon(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return round(float(v), 3)
    return str(v)


def blank_content(region: int, period: Period | str | None = None) -> FormContent:
    """A content object with empty sections (for filling in code, e.g. by the simulator)."""
    header = {
        "region": int(region),
        "province_code": None,
        "period": parse_period(period) if period is not None else None,
        "period_text": parse_period(period).label("be") if period is not None else "",
        "submitted_on": None,
        "office": "",
        "position": "",
        "form_version": FORM_VERSION,
    }
    return FormContent(header, {s.code: pd.DataFrame(columns=s.codes) for s in SECTIONS})


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------
def _sheet_title(number: int, code: str) -> str:
    return f"{number} {ref.label(f'monitor.sheet.{code}', 'th')}"[:31]


def _village_display(villages: pd.DataFrame) -> list[tuple[str, str]]:
    out = []
    for r in villages.sort_values("village_id").to_dict("records"):
        name = r.get("village_name")
        name = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
        out.append((str(r["village_id"]), f"{r['village_id']} {name}".strip()))
    return out


def write_form(
    path: str | Path,
    *,
    region: int,
    villages: pd.DataFrame,
    period: Period | str | None = None,
    content: FormContent | None = None,
    labels: bool = True,
) -> Path:
    """Write the quarterly form for a region: blank, or filled with ``content``.

    Parameters
    ----------
    path : path
        The ``.xlsx`` file to write (atomically).
    region : int
        Inspection region; its villages fill the village drop-down.
    villages : DataFrame
        ``village_id`` and optional ``village_name`` of the villages that report in the region.
    period : Period or str, optional
        Pre-filled reporting period (written in the B.E., e.g. ``2569Q3``).
    content : FormContent, optional
        Values to fill in (header and sections, canonical codes). ``content.header["period_text"]``
        is written as the period when given (so a filled form may carry a B.E. or a C.E. period).
    labels : bool
        Write choices as their display text ("ไทย (English)", as a drop-down would) rather than codes.

    Returns
    -------
    Path
        The file written. The same arguments give byte-identical files.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from welfare_eval._io import _fix_zip_times, atomic_write_bytes

    if "village_id" not in villages.columns:
        raise ValueError("write_form: villages needs a village_id column")
    vlist = _village_display(villages)
    vdisp = dict(vlist)
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    title_font = Font(bold=True, size=13)

    # readme
    ws = wb.create_sheet(_sheet_title(0, "readme"))
    ws["A1"] = ref.label("monitor.form.title", "th")
    ws["A1"].font = title_font
    ws["A2"] = ref.label("monitor.form.title", "en")
    for i in range(1, 6):
        ws.cell(row=2 + 2 * i - 1, column=1, value=ref.label(f"monitor.form.readme.{i}", "th"))
        ws.cell(row=2 + 2 * i, column=1, value=ref.label(f"monitor.form.readme.{i}", "en"))
    ws.column_dimensions["A"].width = 110

    # lists (hidden)
    lists = wb.create_sheet("lists")
    lists.sheet_state = "hidden"
    list_ref: dict[str, str] = {}
    names = ["village", "phase", "welfare_type", "yesno", "basis", "organisation", "category", "note"]
    for j, name in enumerate(names, start=1):
        items = [d for _, d in (vlist if name == "village" else choices(name))]
        col = get_column_letter(j)
        lists.cell(row=1, column=j, value=name)
        for i, d in enumerate(items, start=2):
            lists.cell(row=i, column=j, value=d)
        list_ref[name] = f"=lists!${col}$2:${col}${max(2, len(items) + 1)}"

    # header
    ws = wb.create_sheet(_sheet_title(1, "header"))
    ws["A1"] = f"{ref.label('monitor.sheet.header', 'th')} ({ref.label('monitor.sheet.header', 'en')})"
    ws["A1"].font = title_font
    for j, k in enumerate(("monitor.header.field", "monitor.header.field", "monitor.header.value"), start=1):
        c = ws.cell(row=2, column=j, value=ref.label(k, "th" if j != 2 else "en"))
        c.font, c.fill = bold, head_fill
    hdr = dict(content.header) if content is not None else {}
    p = parse_period(period) if period is not None else hdr.get("period")
    values: dict[str, Any] = {
        "region": int(region),
        "province_code": hdr.get("province_code"),
        "period": hdr.get("period_text") or (p.label("be") if isinstance(p, Period) else None),
        "submitted_on": hdr.get("submitted_on"),
        "office": hdr.get("office") or None,
        "position": hdr.get("position") or None,
        "form_version": FORM_VERSION,
    }
    for i, k in enumerate(HEADER_FIELDS, start=3):
        ws.cell(row=i, column=1, value=ref.label(f"monitor.header.{k}", "th"))
        ws.cell(row=i, column=2, value=ref.label(f"monitor.header.{k}", "en"))
        v = values[k]
        cell = ws.cell(row=i, column=3, value=v)
        if isinstance(v, _dt.date):
            cell.number_format = "dd/mm/yyyy"
        ws.cell(row=i, column=4, value=k)
    ws.column_dimensions["D"].hidden = True
    for col, w in zip("ABC", (34, 44, 30), strict=True):
        ws.column_dimensions[col].width = w

    # sections
    for sec in SECTIONS:
        ws = wb.create_sheet(_sheet_title(sec.number, sec.code))
        th, en = ref.label(f"monitor.sheet.{sec.code}", "th"), ref.label(f"monitor.sheet.{sec.code}", "en")
        ws["A1"] = f"{sec.number}. {th} ({en})"
        ws["A1"].font = title_font
        for j, col in enumerate(sec.columns, start=1):
            key = f"monitor.col.{col.label or col.code}"
            for row, lang in ((2, "th"), (3, "en")):
                c = ws.cell(row=row, column=j, value=ref.label(key, lang))  # type: ignore[arg-type]
                c.font, c.fill = bold, head_fill
                c.alignment = Alignment(wrap_text=True, vertical="top")
            ws.cell(row=4, column=j, value=col.code)
            letter = get_column_letter(j)
            ws.column_dimensions[letter].width = col.width
            rng = f"{letter}{DATA_START}:{letter}{DATA_START + MAX_ROWS - 1}"
            dv: DataValidation | None = None
            if col.kind == "village":
                dv = DataValidation(type="list", formula1=list_ref["village"], allow_blank=True)
            elif col.kind in ("choice", "bool"):
                dv = DataValidation(type="list", formula1=list_ref[col.choices], allow_blank=True)
            elif col.kind == "int":
                dv = DataValidation(type="whole", operator="between", formula1=str(int(col.lo or 0)),
                                    formula2=str(int(col.hi or 10**9)), allow_blank=True)
            elif col.kind in ("money", "percent"):
                dv = DataValidation(type="decimal", operator="between", formula1=str(col.lo or 0),
                                    formula2=str(col.hi or 10**9), allow_blank=True)
            elif col.kind == "date":
                dv = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=True)
            if dv is not None:
                err = {"village": "list", "choice": "list", "bool": "list", "date": "date"}.get(col.kind, "number")
                dv.error = f"{ref.label(f'monitor.error.{err}', 'th')} / {ref.label(f'monitor.error.{err}', 'en')}"
                dv.errorTitle = ref.label("monitor.error.title", "both")[:32]
                dv.showErrorMessage = True
                ws.add_data_validation(dv)
                dv.add(rng)
        ws.row_dimensions[4].hidden = True
        ws.freeze_panes = f"A{DATA_START}"
        if content is not None and sec.code in content.sections:
            df = content.sections[sec.code]
            lookup = {name: dict(choices(name)) for name in
                      ("phase", "welfare_type", "yesno", "basis", "organisation", "category", "note")}
            for i, rec in enumerate(df.to_dict("records")):
                for j, col in enumerate(sec.columns, start=1):
                    v = rec.get(col.code)
                    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                        continue
                    if labels and col.kind == "village":
                        v = vdisp.get(str(v), str(v))
                    elif labels and col.kind == "choice":
                        v = lookup[col.choices].get(str(v), v)
                    elif col.kind == "bool" and isinstance(v, bool | int):
                        v = lookup["yesno"]["yes" if v else "no"] if labels else ("yes" if v else "no")
                    cell = ws.cell(row=DATA_START + i, column=j, value=v)
                    if isinstance(v, _dt.date):
                        cell.number_format = "dd/mm/yyyy"
    wb.properties.creator = "welfare_eval.monitor"
    wb.properties.lastModifiedBy = "welfare_eval.monitor"
    fixed = _dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return atomic_write_bytes(path, _fix_zip_times(buf.getvalue()))


# --------------------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------------------
class _TooMany(Exception):
    pass


class _Errors:
    def __init__(self, file: str, limit: int) -> None:
        self.file, self.limit, self.rows = file, limit, []  # type: ignore[var-annotated]

    def add(self, sheet: str, row: int | None, column: str, value: Any, reason: str) -> None:
        self.rows.append(
            {"file": self.file, "sheet": sheet, "row": row, "column": column,
             "value": "" if value is None else str(value), "reason": reason}
        )
        if len(self.rows) >= self.limit:
            raise _TooMany

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=list(REJECTION_COLUMNS))
        df["row"] = df["row"].astype("Int64")
        return df


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and normalize_text(v) == "")


def _parse_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("a yes/no value is not a whole number")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v) or v != int(v):
            raise ValueError("not a whole number")
        return int(v)
    s = thai_to_arabic_digits(normalize_text(str(v))).replace(",", "")
    if not re.fullmatch(r"[+-]?\d+(\.0+)?", s):
        raise ValueError("not a whole number")
    return int(float(s))


def _parse_percent(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("a yes/no value is not a percentage")
    if isinstance(v, int | float):
        x = float(v)
    else:
        s = thai_to_arabic_digits(normalize_text(str(v))).replace(" ", "").rstrip("%")
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", s):
            raise ValueError("not a percentage")
        x = float(s)
    if not math.isfinite(x):
        raise ValueError("not a finite number")
    return x


def _cell(col: Col, v: Any, lookups: Mapping[str, Mapping[str, str]], villages: set[str],
          rules: FormRules) -> Any:
    """Parse one cell; raises ValueError with the reason."""
    if col.kind == "village":
        s = thai_to_arabic_digits(normalize_text(str(int(v) if isinstance(v, float) and v == int(v) else v)))
        m = re.match(r"^(\d{8})(?:\s|$)", s)
        if not m:
            raise ValueError("not a village code (8 digits, then the name if you like)")
        code = m.group(1)
        if villages and code not in villages:
            raise ValueError(f"village {code} is not one of the region's villages on this form")
        return code
    if col.kind in ("choice", "bool"):
        code = lookups[col.choices].get(_fold(str(v)))
        if code is None:
            raise ValueError(f"not one of the listed values ({', '.join(c for c, _ in choices(col.choices))})")
        return (code == "yes") if col.kind == "bool" else code
    if col.kind == "int":
        x = _parse_int(v)
    elif col.kind in ("money", "money_signed"):
        try:
            xf = parse_baht(v, allow_negative=col.kind == "money_signed")
        except ThaiParseError as exc:
            raise ValueError(exc.reason if hasattr(exc, "reason") else str(exc)) from None
        if abs(xf) > rules.max_amount:
            raise ValueError(f"amount {xf:,.2f} is larger than {rules.max_amount:,.0f} baht")
        return round(xf, 2)
    elif col.kind == "percent":
        xp = _parse_percent(v)
        if (col.lo is not None and xp < col.lo) or (col.hi is not None and xp > col.hi):
            raise ValueError(f"{xp:g} is outside {col.lo:g}–{col.hi:g}")
        return xp
    elif col.kind == "date":
        try:
            return parse_be_date(v, era="auto")
        except ThaiParseError as exc:
            raise ValueError(exc.reason if hasattr(exc, "reason") else str(exc)) from None
    elif col.kind == "year":
        try:
            return parse_be_year(v, era="auto")
        except ThaiParseError as exc:
            raise ValueError(exc.reason if hasattr(exc, "reason") else str(exc)) from None
    elif col.kind == "text":
        text = scrub_text(v)
        if len(text) > 4000:
            raise ValueError("text longer than 4,000 characters")
        return text
    else:  # pragma: no cover - guards the specification
        raise AssertionError(col.kind)
    if (col.lo is not None and x < col.lo) or (col.hi is not None and x > col.hi):
        raise ValueError(f"{x} is outside {col.lo:g}–{col.hi:g}")
    return x


def _sheet_map(wb: Any) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for ws in wb.worksheets:
        m = re.match(r"^\s*(\d+)\b", ws.title)
        if m:
            out.setdefault(int(m.group(1)), ws)
    return out


def read_form(
    source: str | Path | bytes,
    *,
    rules: FormRules | None = None,
    file_name: str | None = None,
    village_names: Mapping[str, str] | None = None,
) -> tuple[FormContent | None, pd.DataFrame, pd.DataFrame]:
    """Read and validate a filled quarterly form (no database needed).

    Parameters
    ----------
    source : path or bytes
        The ``.xlsx`` file.
    rules : FormRules, optional
        Tolerances (default :class:`FormRules`).
    file_name : str, optional
        Name used in the rejection table (default the file's name).
    village_names : mapping, optional
        The villages allowed on the form (code → name); default: those in the form's hidden list.

    Returns
    -------
    content, rejections, warnings
        ``content`` is ``None`` when anything is rejected; ``rejections`` and ``warnings`` have the
        columns :data:`REJECTION_COLUMNS` (warnings do not reject the file).
    """
    from openpyxl import load_workbook

    rules = rules or FormRules()
    if isinstance(source, bytes):
        data, name = source, file_name or "<bytes>"
    else:
        data, name = Path(source).read_bytes(), file_name or Path(source).name
    err = _Errors(name, rules.max_errors)
    warn = _Errors(name, 10**6)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a non-xlsx file
        err.rows.append({"file": name, "sheet": "", "row": None, "column": "", "value": "",
                         "reason": f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})"})
        return None, err.frame(), warn.frame()
    try:
        content = _read(wb, err, warn, rules, village_names)
    except _TooMany:
        content = None
        err.rows.append({"file": name, "sheet": "", "row": None, "column": "", "value": "",
                         "reason": f"more than {rules.max_errors} problems; stopped checking"})
    finally:
        wb.close()
    if err.rows:
        return None, err.frame(), warn.frame()
    return content, err.frame(), warn.frame()


def _read(wb: Any, err: _Errors, warn: _Errors, rules: FormRules,
          village_names: Mapping[str, str] | None) -> FormContent | None:
    sheets = _sheet_map(wb)
    missing = [n for n in [1, *(s.number for s in SECTIONS)] if n not in sheets]
    for n in missing:
        code = "header" if n == 1 else next(s.code for s in SECTIONS if s.number == n)
        err.add(_sheet_title(n, code), None, "", "", f"sheet {n} ({code}) is missing; use the form as sent")
    if missing:
        return None
    if village_names is None and "lists" in wb.sheetnames:
        village_names = {}
        for (v,) in wb["lists"].iter_rows(min_row=2, max_col=1, values_only=True):
            if v is not None:
                m = re.match(r"^(\d{8})\s*(.*)$", str(v))
                if m:
                    village_names[m.group(1)] = m.group(2)
    allowed = set(village_names or {})
    lookups = {n: _lookup_table(n) for n in ("phase", "welfare_type", "yesno", "basis", "organisation",
                                             "category", "note")}
    header = _read_header(sheets[1], err)
    tables: dict[str, pd.DataFrame] = {}
    for sec in SECTIONS:
        tables[sec.code] = _read_section(sheets[sec.number], sec, err, lookups, allowed, rules)
    if header is None or err.rows:
        return None
    content = FormContent(header, tables)
    _cross_checks(content, sheets, err, warn, rules)
    return content if not err.rows else None


def _read_header(ws: Any, err: _Errors) -> dict[str, Any] | None:
    title = ws.title
    found: dict[str, tuple[int, Any]] = {}
    for i, row in enumerate(ws.iter_rows(min_row=1, max_col=4, values_only=True), start=1):
        if len(row) >= 4 and row[3] in HEADER_FIELDS:
            found[str(row[3])] = (i, row[2])
    miss = [k for k in HEADER_FIELDS if k not in found]
    if miss:
        err.add(title, None, "D", "", f"header rows {miss} are missing (hidden column D names them)")
        return None
    out: dict[str, Any] = {"form_version": FORM_VERSION, "rows": {k: found[k][0] for k in HEADER_FIELDS}}
    r, v = found["form_version"]
    if str(v).strip() != FORM_VERSION:
        err.add(title, r, "C (form_version)", v, f"form version {v!r} is not {FORM_VERSION}; use the current form")
    r, v = found["region"]
    try:
        out["region"] = _parse_int(v)
        if out["region"] < 1:
            raise ValueError("not a region number")
    except (ValueError, TypeError):
        err.add(title, r, "C (region)", v, "region must be a whole number (1–18 under the 2017 scheme)")
    r, v = found["province_code"]
    out["province_code"] = None
    if not _empty(v):
        s = thai_to_arabic_digits(normalize_text(str(int(v) if isinstance(v, float) else v)))
        if not re.fullmatch(r"\d{1,2}", s):
            err.add(title, r, "C (province_code)", v, "province code must be 2 digits")
        else:
            out["province_code"] = s.zfill(2)
    r, v = found["period"]
    if _empty(v):
        err.add(title, r, "C (period)", v, "reporting period is empty; write e.g. 2569Q3")
    else:
        try:
            out["period"] = parse_period(str(v))
            out["period_text"] = normalize_text(str(v))
        except PeriodError as exc:
            err.add(title, r, "C (period)", v, str(exc))
    r, v = found["submitted_on"]
    out["submitted_on"] = None
    if not _empty(v):
        try:
            out["submitted_on"] = parse_be_date(v, era="auto")
        except ThaiParseError as exc:
            err.add(title, r, "C (submitted_on)", v, getattr(exc, "reason", str(exc)))
    r, v = found["office"]
    if _empty(v):
        err.add(title, r, "C (office)", v, "reporting office is empty")
    out["office"] = scrub_text(v) if not _empty(v) else ""
    r, v = found["position"]
    out["position"] = scrub_text(v) if not _empty(v) else ""
    if "period" in out and out.get("submitted_on") is not None and out["submitted_on"] < out["period"].start:
        r, v = found["submitted_on"]
        err.add(title, r, "C (submitted_on)", v,
                f"submitted before the reporting quarter {out['period']} began ({out['period'].start})")
    return out


def _read_section(ws: Any, sec: Section, err: _Errors, lookups: Mapping[str, Mapping[str, str]],
                  allowed: set[str], rules: FormRules) -> pd.DataFrame:
    from openpyxl.utils import get_column_letter

    title = ws.title
    rows = list(ws.iter_rows(min_row=1, values_only=True))
    codes_row = rows[HEAD_ROWS - 1] if len(rows) >= HEAD_ROWS else ()
    pos: dict[str, int] = {}
    for j, v in enumerate(codes_row):
        if isinstance(v, str) and v.strip() in sec.codes:
            pos[v.strip()] = j
    miss = [c for c in sec.codes if c not in pos]
    if miss:
        err.add(title, HEAD_ROWS, "", "", f"column(s) {miss} missing (row {HEAD_ROWS} holds the column codes)")
        return pd.DataFrame(columns=[*sec.codes, "row"])
    out = []
    for i, row in enumerate(rows[HEAD_ROWS:], start=DATA_START):
        cells = {c: (row[pos[c]] if pos[c] < len(row) else None) for c in sec.codes}
        if all(_empty(v) for v in cells.values()):
            continue
        rec: dict[str, Any] = {"row": i}
        for col in sec.columns:
            v = cells[col.code]
            where = f"{get_column_letter(pos[col.code] + 1)} ({col.code})"
            if _empty(v):
                if col.required:
                    err.add(title, i, where, "", "required value is empty")
                rec[col.code] = None
                continue
            try:
                rec[col.code] = _cell(col, v, lookups, allowed, rules)
            except (ValueError, TypeError) as exc:
                err.add(title, i, where, v, str(exc))
                rec[col.code] = None
        out.append(rec)
    return pd.DataFrame(out, columns=[*sec.codes, "row"])


def _where(sheets: Mapping[int, Any], sec: str, col: str) -> tuple[str, str]:
    s = _BY_CODE[sec]
    from openpyxl.utils import get_column_letter

    return sheets[s.number].title, f"{get_column_letter(s.codes.index(col) + 1)} ({col})"


def _cross_checks(content: FormContent, sheets: Mapping[int, Any], err: _Errors, warn: _Errors,
                  rules: FormRules) -> None:
    """Rules between cells (plain Python over the records: the tables of one form are small)."""
    period: Period = content.header["period"]
    T: dict[str, list[dict[str, Any]]] = {
        k: [{str(c): x for c, x in rec.items()} for rec in df.to_dict("records")] for k, df in content.sections.items()
    }
    listed = T["villages"]
    if not listed:
        sh, col = _where(sheets, "villages", "village")
        err.add(sh, DATA_START, col, "", "no village is listed; list every reporting village with its phase")
        return
    # unique keys
    for sec in SECTIONS:
        if not sec.key:
            continue
        seen: set[tuple[Any, ...]] = set()
        for r in T[sec.code]:
            k = tuple(_canon(r[c]) for c in sec.key)
            if k in seen:
                sh, col = _where(sheets, sec.code, sec.key[-1])
                err.add(sh, r["row"], col, r[sec.key[-1]],
                        f"duplicate row for {', '.join(sec.key)} (an earlier row has the same)")
            seen.add(k)
    vill = {r["village"] for r in listed}
    for sec in SECTIONS[1:]:
        for r in T[sec.code]:
            if r["village"] not in vill:
                sh, col = _where(sheets, sec.code, "village")
                err.add(sh, r["row"], col, r["village"], "village is not listed on sheet 2 (village status)")
    # workshops within the quarter; committee <= participants
    for r in T["workshops"]:
        if r["held_on"] is not None and not period.contains(r["held_on"]):
            sh, col = _where(sheets, "workshops", "held_on")
            err.add(sh, r["row"], col, r["held_on"], f"date is outside the reporting quarter {period} "
                    f"({period.start}–{period.end})")
        cm = r.get("committee_members")
        if _has(cm) and _has(r["participants"]) and cm > r["participants"]:
            sh, col = _where(sheets, "workshops", "committee_members")
            err.add(sh, r["row"], col, cm, "more committee members than participants")
    # rules
    offered: dict[tuple[str, str], bool] = {}
    for r in T["rules"]:
        offered[(r["village"], r["welfare_type"])] = bool(r["offered"])
        if r["offered"] and not _has(r.get("benefit_amount")):
            sh, col = _where(sheets, "rules", "benefit_amount")
            err.add(sh, r["row"], col, "", "an offered welfare type needs its benefit amount")
        lo: Any = r.get("min_age")
        hi: Any = r.get("max_age")
        if _has(lo) and _has(hi) and lo > hi:
            sh, col = _where(sheets, "rules", "max_age")
            err.add(sh, r["row"], col, hi, f"maximum age {hi} is below the minimum age {lo}")
        if _has(r.get("launched_on")) and r["launched_on"] > period.end:
            sh, col = _where(sheets, "rules", "launched_on")
            err.add(sh, r["row"], col, r["launched_on"], f"launch date is after the reporting quarter {period}")
    # payouts
    paid: dict[str, float] = {}
    for r in T["payouts"]:
        if _has(r["amount"]):
            paid[r["village"]] = paid.get(r["village"], 0.0) + float(r["amount"])
        if _has(r["amount"]) and r["amount"] > 0 and (r["cases"] or 0) == 0:
            sh, col = _where(sheets, "payouts", "cases")
            err.add(sh, r["row"], col, r["cases"], "an amount was paid but the number of cases is 0")
        if r["cases"] and not offered.get((r["village"], r["welfare_type"]), False):
            sh, col = _where(sheets, "payouts", "welfare_type")
            err.add(sh, r["row"], col, r["welfare_type"],
                    "payouts for a welfare type that sheet 4 does not list as offered")
    # profit: the accounting year just closed or the current one
    prof: dict[tuple[Any, Any, Any], Any] = {}
    for r in T["profit"]:
        fy = r["fiscal_year"]
        if _has(fy) and not period.year - 1 <= fy <= period.year:
            sh, col = _where(sheets, "profit", "fiscal_year")
            err.add(sh, r["row"], col, fy, f"accounting year {fy} C.E. is neither {period.year - 1} nor {period.year}")
        prof[(r["village"], r["organisation"], fy)] = r["profit"]
    # allocation: a profit row; shares summing to 100; no allocation of a loss
    groups: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    amounts: list[float | None] = []
    for r in T["allocation"]:
        key = (r["village"], r["organisation"], r["fiscal_year"])
        groups.setdefault(key, []).append(r)
        pr: Any = prof.get(key)
        if key not in prof:
            sh, col = _where(sheets, "allocation", "organisation")
            err.add(sh, r["row"], col, r["organisation"],
                    "no net profit on sheet 7 for this village, organisation and accounting year")
            amounts.append(None)
        elif _has(pr) and _has(r["share"]):
            amounts.append(round(float(pr) * float(r["share"]) / 100.0, 2))
            if pr < 0 and r["share"]:
                sh, col = _where(sheets, "allocation", "share")
                err.add(sh, r["row"], col, r["share"], "a loss (negative profit) cannot be allocated")
        else:
            amounts.append(None)
    content.sections["allocation"] = content.sections["allocation"].assign(
        amount=pd.array(amounts, dtype="Float64").astype("float64")
    )
    for (v, o, fy), g in sorted(groups.items(), key=lambda kv: str(kv[0])):
        total = round(sum(float(r["share"]) for r in g if _has(r["share"])), 6)
        rows = [int(r["row"]) for r in g]
        sh, col = _where(sheets, "allocation", "share")
        msg = f"shares of village {v}, {o}, year {fy} sum to {total:g}% (rows {min(rows)}–{max(rows)})"
        if abs(total - 100.0) > rules.share_tolerance + 1e-9:
            err.add(sh, min(rows), col, f"{total:g}", f"{msg}; they must sum to 100 ± {rules.share_tolerance:g}")
        elif abs(total - 100.0) > 1e-9:
            warn.add(sh, min(rows), col, f"{total:g}", f"{msg}; accepted (within 100 ± {rules.share_tolerance:g})")
    # fund: one row per village, identity, payouts equal to sheet 6
    fund = T["fund"]
    with_fund = {r["village"] for r in fund}
    for r in listed:
        if r["village"] not in with_fund:
            sh, col = _where(sheets, "fund", "village")
            err.add(sh, None, col, r["village"],
                    f"no fund balance row for village {r['village']} (listed on sheet 2, row {r['row']})")
    tol = rules.balance_tolerance
    for r in fund:
        if not all(_has(r[c]) for c in ("opening", "income", "payouts", "closing")):
            continue
        gap = r["opening"] + r["income"] - r["payouts"] - r["closing"]
        if abs(gap) > tol + 1e-9:
            sh, col = _where(sheets, "fund", "closing")
            err.add(sh, r["row"], col, r["closing"],
                    f"opening + income − payouts = {r['opening'] + r['income'] - r['payouts']:,.2f}, "
                    f"not the closing balance {r['closing']:,.2f} (difference {gap:,.2f} baht)")
        s6 = paid.get(r["village"], 0.0)
        if abs(r["payouts"] - s6) > tol + 1e-9:
            sh, col = _where(sheets, "fund", "payouts")
            err.add(sh, r["row"], col, r["payouts"],
                    f"payouts {r['payouts']:,.2f} differ from the sum on sheet 6 ({s6:,.2f} baht)")


def _has(v: Any) -> bool:
    """Not None / NaN / NA."""
    if v is None or v is pd.NA:
        return False
    return not (isinstance(v, float) and math.isnan(v))


def group_rejections(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate rejection tables (empty table with the columns when there are none)."""
    frames = [f for f in frames if f is not None and not f.empty]
    if not frames:
        df = pd.DataFrame(columns=list(REJECTION_COLUMNS))
        df["row"] = df["row"].astype("Int64")
        return df
    return pd.concat(frames, ignore_index=True)

