"""Apply a codebook to a raw table: rename, normalise, convert, recode and range-check each column.

Every cell that is changed or refused becomes a row of the checks report; a refused cell becomes
missing (the row is kept), never a guessed value. Row-level decisions (reject, merge) are made by the
table builders in :mod:`welfare_eval.clean.tables`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from welfare_eval.clean.checks import CheckLog
from welfare_eval.clean.ids import national_id_problem
from welfare_eval.clean.pii import pii_kind
from welfare_eval.clean.thai import (
    CE_RANGE,
    Era,
    ThaiParseError,
    currency_tokens,
    normalize_text,
    parse_baht,
    parse_be_date,
    parse_be_year,
    parse_be_year_month,
    split_title,
    thai_to_arabic_digits,
)
from welfare_eval.reference import VillageCodeError, validate_village_code

__all__ = ["ROW", "Converted", "apply_codebook", "convert_cell"]

#: Name of the column holding the raw row number (the spreadsheet's: header = 1, first data row = 2).
ROW = "_row"
_ZW = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TRUE = {"1", "yes", "y", "true", "t"}
_FALSE = {"0", "no", "n", "false", "f"}
_PHONE_RE = re.compile(r"(?:\+66|0)\d{8,9}")
_THAI_DIGIT = re.compile("[\u0e50-\u0e59]")
_NUMERIC = frozenset({"int", "float", "money", "year"})
#: Types holding personal data by definition (dropped before the processed tables; not scanned).
_PII_TYPES = frozenset({"national_id", "phone", "person_name", "text"})


@dataclass(frozen=True)
class Converted:
    """Result of converting one raw cell: value (``None`` = missing) and an optional issue."""

    value: Any
    rule: str = ""
    message: str = ""
    action: str = ""
    severity: str = "error"


def _era(unit: str) -> Era:
    """Era of a date/year column from its codebook unit (``CE``/``AD``, ``auto``; B.E. otherwise)."""
    u = unit.strip().lower()
    if u in ("ce", "ad", "c.e.") or u.startswith(("ce ", "ad ")):
        return "ce"
    if u in ("auto", "any"):
        return "auto"
    return "be"


def _is_be_year(unit: str) -> bool:
    """An ``int`` column whose unit says it holds Buddhist-Era years (e.g. ``BE year``)."""
    u = unit.strip().lower().replace(".", "")
    return "be" in u.split() and "year" in u


_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


def _iso_datetime(s: str) -> pd.Timestamp:
    """An ISO 8601 date-time (C.E.); with an offset it is converted to Thai local time (UTC+7), naive."""
    if not _ISO_RE.fullmatch(s):
        raise ThaiParseError(s, "not an ISO 8601 date-time (yyyy-mm-ddThh:mm:ss[+07:00])")
    try:
        t = pd.Timestamp(s)
    except ValueError:
        raise ThaiParseError(s, "not a valid date-time") from None
    if not CE_RANGE[0] <= t.year <= CE_RANGE[1]:
        raise ThaiParseError(s, f"year {t.year} is not a C.E. year; ISO dates are C.E.")
    if t.tzinfo is not None:
        t = t.tz_convert("Asia/Bangkok").tz_localize(None)
    return t


def _number(s: str) -> float:
    t = thai_to_arabic_digits(s).replace(",", "").replace(" ", "")
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", t):
        raise ThaiParseError(s, "not a number")
    return float(t)


def _range_message(x: float, lo: float, hi: float) -> str:
    if math.isnan(hi):
        return f"{x:g} is below the minimum {lo:g}"
    if math.isnan(lo):
        return f"{x:g} is above the maximum {hi:g}"
    return f"{x:g} is outside [{lo:g}, {hi:g}]"


def convert_cell(raw: str, entry: dict[str, Any]) -> Converted:
    """Convert one raw cell by its codebook entry (see module notes for the rules)."""
    typ = str(entry["type"])
    s = normalize_text(raw)
    if s == "" or s in entry["missing"]:
        if s:
            return Converted(None, "missing_code", f"missing-value code {s} set to missing", "set_missing", "info")
        return Converted(None)
    if typ not in _PII_TYPES and not entry.get("is_pii", False):
        kind = pii_kind(s)
        if kind is not None:
            return Converted(None, "pii_in_value", f"the value holds a {kind}; set missing (personal data never reaches "
                             "the processed tables)", "set_missing")
    amap: dict[str, str] = entry["allowed_map"]
    lo, hi = float(entry["min_"]), float(entry["max_"])
    try:
        if typ in ("string", "category"):
            if amap:
                if s not in amap:
                    return Converted(None, "allowed_codes", f"{s!r} is not an allowed code", "set_missing")
                return Converted(amap[s])
            return Converted(s)
        if typ == "bool":
            v = amap.get(s, s)
            if v.lower() in _TRUE:
                return Converted(1)
            if v.lower() in _FALSE:
                return Converted(0)
            return Converted(None, "allowed_codes", f"{s!r} is not a yes/no answer", "set_missing")
        if typ in ("int", "float", "money"):
            if amap and s in amap:
                s = amap[s]
            x = (
                parse_baht(s, allow_negative=not (lo >= 0))
                if typ == "money"
                else _number(s)
            )
            if typ == "int" and not float(x).is_integer():
                return Converted(None, "type", f"{s!r} is not a whole number", "set_missing")
            if (not math.isnan(lo) and x < lo) or (not math.isnan(hi) and x > hi):
                return Converted(None, "range", _range_message(x, lo, hi), "set_missing")
            if amap and typ != "money" and str(int(x) if float(x).is_integer() else x) not in amap:
                return Converted(None, "allowed_codes", f"{s!r} is not an allowed code", "set_missing")
            if typ == "int" and _is_be_year(str(entry["unit"])):
                return Converted(parse_be_year(str(int(x)), era="be"))  # B.E. year column: kept in C.E.
            return Converted(int(x) if typ == "int" else float(x))
        if typ == "datetime" or (typ == "date" and "iso" in str(entry["unit"]).lower()):
            return Converted(_iso_datetime(s))
        if typ == "date":
            return Converted(pd.Timestamp(parse_be_date(s, era=_era(str(entry["unit"])))))
        if typ == "year":
            y = parse_be_year(s, era=_era(str(entry["unit"])))
            if (not math.isnan(lo) and y < lo) or (not math.isnan(hi) and y > hi):
                return Converted(None, "range", "year " + _range_message(y, lo, hi), "set_missing")
            return Converted(y)
        if typ == "year_month":
            y, m = parse_be_year_month(s, era=_era(str(entry["unit"])))
            return Converted(f"{y:04d}-{m:02d}")
        if typ == "village_code":
            code = thai_to_arabic_digits(s)
            validate_village_code(code)
            return Converted(code)
        if typ == "national_id":
            why = national_id_problem(thai_to_arabic_digits(s))
            if why:
                return Converted(None, "national_id", why, "set_missing")
            return Converted(re.sub(r"[\s-]", "", thai_to_arabic_digits(s)))
        if typ == "phone":
            p = re.sub(r"[\s\-().]", "", thai_to_arabic_digits(s))
            if not _PHONE_RE.fullmatch(p):
                return Converted(None, "phone", "not a Thai phone number", "set_missing", "warning")
            return Converted(p)
        return Converted(s)  # text, person_name
    except ThaiParseError as exc:
        return Converted(None, "type", exc.reason, "set_missing")
    except VillageCodeError as exc:
        return Converted(None, "village_code", str(exc), "set_missing")


def _dtype(typ: str) -> str:
    if typ in ("int", "bool", "year"):
        return "Int64"
    if typ in ("float", "money"):
        return "float64"
    if typ in ("date", "datetime"):
        return "datetime64[us]"
    return "string"


def apply_codebook(
    data: pd.DataFrame,
    entries: pd.DataFrame,
    *,
    file: str,
    sheet: str = "",
    log: CheckLog,
    rows: list[int] | None = None,
) -> pd.DataFrame:
    """Rename and convert the columns of ``data`` listed in ``entries`` (codebook rows of the file).

    Text cells are normalised first (zero-width characters and stray spaces removed, logged as
    ``zero_width`` / ``whitespace`` with action ``normalized``). Columns of type ``person_name``
    also give a non-personal title column (mr/mrs/miss/boy/girl; ``head_name`` → ``head_title``) before
    the name is dropped
    downstream. Any other cell holding a national ID or a phone number
    (:func:`~welfare_eval.clean.pii.pii_kind`) is set missing (rule ``pii_in_value``). The result has
    the column :data:`ROW` with the raw row numbers: ``rows`` (the spreadsheet rows of ``data``'s rows,
    as :attr:`~welfare_eval.clean.io.RawTable.rows`), by default 2, 3, ...
    """
    row_numbers = [int(r) for r in rows] if rows is not None else list(range(2, len(data) + 2))
    if len(row_numbers) != len(data):
        raise ValueError(f"rows has {len(row_numbers)} numbers for {len(data)} rows")
    out: dict[str, Any] = {ROW: np.asarray(row_numbers, dtype="int64")}
    currency = currency_tokens()
    fields = ["raw_name", "name", "type", "unit", "is_pii", "allowed_map", "missing", "min_", "max_"]
    records = [dict(zip(fields, vals, strict=True)) for vals in zip(*(entries[f].tolist() for f in fields), strict=True)]
    grid = data.to_numpy(dtype=object)
    where = {str(c): j for j, c in enumerate(data.columns)}
    for entry in records:
        raw_name, name, typ = str(entry["raw_name"]), str(entry["name"]), str(entry["type"])
        pii = bool(entry["is_pii"])
        cells = ["" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)
                 for v in grid[:, where[raw_name]]]
        cache: dict[str, Converted] = {}
        values: list[Any] = []
        for row, cell in zip(row_numbers, cells, strict=True):
            if cell and typ not in ("national_id", "phone"):
                if _ZW.search(cell):
                    log.add(file, sheet, row, raw_name, cell, "zero_width", "zero-width character removed",
                            severity="info", action="normalized", pii=pii)
                elif cell != cell.strip() or "  " in cell:
                    log.add(file, sheet, row, raw_name, cell, "whitespace", "leading/trailing/double spaces removed",
                            severity="info", action="normalized", pii=pii)
            if cell and typ in _NUMERIC:
                if _THAI_DIGIT.search(cell):
                    log.add(file, sheet, row, raw_name, cell, "thai_digits", "Thai digits read as 0-9",
                            severity="info", action="normalized", pii=pii)
                if any(t in cell for t in currency):
                    log.add(file, sheet, row, raw_name, cell, "currency_text", "currency word/sign removed",
                            severity="info", action="normalized", pii=pii)
            c = cache.get(cell)
            if c is None:
                c = cache[cell] = convert_cell(cell, entry)
            if c.rule:
                log.add(file, sheet, row, raw_name, cell, c.rule, c.message, severity=c.severity, action=c.action, pii=pii)
            values.append(c.value)
        if typ == "person_name":
            stem = name[: -len("_name")] if name.endswith("_name") else name
            out[stem + "_title"] = pd.array([split_title(v)[0] if v else None for v in values], dtype="string")
        dt = _dtype(typ)
        if dt.startswith("datetime"):
            out[name] = pd.to_datetime(pd.Series(values, dtype="object")).astype("datetime64[us]").to_numpy()
        elif dt == "float64":
            out[name] = np.asarray([math.nan if v is None else v for v in values], dtype="float64")
        else:
            out[name] = pd.array(values, dtype=dt)  # type: ignore[call-overload]
    return pd.DataFrame(out)
