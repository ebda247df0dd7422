"""Reading raw exports: CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM, Thai Windows cp874/TIS-620) and XLSX.

Every line is accounted for. A file is first read into a *grid* (:class:`Sheet`): every record as a
list of text cells with the row number a spreadsheet program shows for it (header = row 1, blank
rows counted) and, for CSV files, the physical line where it starts (a quoted value may span several
lines). :func:`table_from_grid` then takes the header and gives the data rows, reporting as
:class:`RowIssue` every blank row, every row with fewer fields than the header (e.g. a file cut off
in its last line) and every row with more non-empty fields than the header (a separator inside an
unquoted value); such rows are not data rows, and the caller decides what to do with them.

The encoding of a CSV file is detected and reported, never guessed silently:

1. a byte-order mark → ``utf-8-sig`` or ``utf-16``;
2. bytes that decode as UTF-8 → ``utf-8``;
3. otherwise ``cp874`` (Windows-874, a superset of TIS-620) only if the bytes decode as cp874 and
   the non-ASCII bytes are plausible Thai text: at least 90 % of them in the Thai letter block
   0xA1–0xFB of TIS-620, at least 80 % of them in runs (words), and Thai vowel/tone marks after a
   letter (see :func:`_plausible_thai`);
4. anything else raises :class:`CleaningError`: a UTF-8 file cut inside a character, a UTF-8 file
   with a stray byte (line named), NUL bytes (a binary or UTF-16 file without a byte-order mark), or
   an unknown code page.

All cells are read as text (no type inference, no NA guessing), so that leading zeros of codes, Thai
digits and missing-value codes reach the codebook untouched. Workbook formulas are read as the value
Excel saved for them and listed in :attr:`Sheet.formulas`.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from welfare_eval.clean.pii import mask_text
from welfare_eval.clean.thai import normalize_text

__all__ = [
    "CleaningError",
    "RawTable",
    "RowIssue",
    "Sheet",
    "detect_encoding",
    "read_grid",
    "read_table",
    "read_workbook",
    "sha256_file",
    "table_from_grid",
]

_BOM = b"\xef\xbb\xbf"
#: Share of non-ASCII bytes that must lie in 0xA1–0xFB for cp874 to be accepted.
THAI_BYTE_SHARE = 0.9
#: Share of non-ASCII bytes that must have a non-ASCII neighbour (Thai words are runs of letters).
THAI_RUN_SHARE = 0.8
#: Largest raw file read (bytes); larger files are refused with a message.
MAX_FILE_BYTES = 512 * 1024 * 1024
#: ``csv`` field size limit: one cell may hold up to this many characters.
_FIELD_LIMIT = 64 * 1024 * 1024


class CleaningError(ValueError):
    """A problem with a raw file or the codebook that the user must fix (one-line message).

    The message never shows a national ID or phone number: any such text in it is masked.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(mask_text(" ".join(str(message).split())))


@dataclass(frozen=True)
class RowIssue:
    """A raw row that is not a data row: ``kind`` is ``blank``, ``short`` or ``long``."""

    row: int
    line: int
    kind: str
    message: str


@dataclass(frozen=True)
class Sheet:
    """A CSV file or one workbook sheet as read: every record as text cells.

    Attributes
    ----------
    name : str
        Sheet name (``""`` for a CSV file).
    cells : list of list of str
        The records (rows) in file order; trailing empty rows of a workbook are dropped.
    rows : list of int
        Spreadsheet row number of each record (1 = first row).
    lines : list of int
        Physical line where each record starts (CSV); the row number for workbooks.
    formulas : list of tuple
        Workbook cells holding a formula: ``(row, column number, formula, saved value)``.
    trailing_blank : int
        Blank lines after the last record of a CSV file (ignored, reported).
    """

    name: str
    cells: list[list[str]]
    rows: list[int]
    lines: list[int]
    formulas: list[tuple[int, int, str, str]] = field(default_factory=list)
    trailing_blank: int = 0


@dataclass(frozen=True)
class RawTable:
    """A raw table as read.

    ``data`` holds the data rows as text (empty cells ``""``); ``rows`` the spreadsheet row number of
    each data row; ``lines`` the physical line of each data row; ``issues`` the rows that are not data rows
    (:class:`RowIssue`); ``header_row`` the row of the header; ``encoding`` and ``sha256`` those of
    the file; ``renamed`` the header cells changed by normalisation (``{normalised: as written}``).
    """

    path: Path
    data: pd.DataFrame
    encoding: str
    sha256: str
    sheet: str = ""
    rows: tuple[int, ...] = ()
    lines: tuple[int, ...] = ()
    issues: tuple[RowIssue, ...] = ()
    header_row: int = 1
    renamed: dict[str, str] = field(default_factory=dict)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------------------
def _plausible_thai(raw: bytes) -> tuple[bool, str]:
    """Whether non-UTF-8 bytes are plausible Thai text in cp874, and if not, why not.

    Rules (all must hold): the bytes decode as cp874; at least :data:`THAI_BYTE_SHARE` of the
    non-ASCII bytes lie in the Thai block 0xA1–0xFB; at least :data:`THAI_RUN_SHARE` of them stand next
    to another non-ASCII byte (Thai words are runs of Thai letters, while accented Latin letters
    in another 8-bit code page stand alone between ASCII letters); and Thai vowel/tone marks (which
    combine with a preceding letter) almost never start a run.
    """
    high = [i for i, b in enumerate(raw) if b >= 0x80]
    if not high:
        return False, "no non-ASCII bytes"
    try:
        text = raw.decode("cp874")
    except UnicodeDecodeError as exc:
        return False, f"byte 0x{raw[exc.start]:02X} is not defined in cp874"
    thai = sum(1 for i in high if 0xA1 <= raw[i] <= 0xFB) / len(high)
    if thai < THAI_BYTE_SHARE:
        return False, f"only {thai:.0%} of non-ASCII bytes are Thai letters"
    hs = set(high)
    run = sum(1 for i in high if (i - 1) in hs or (i + 1) in hs) / len(high)
    if run < THAI_RUN_SHARE:
        return False, f"only {run:.0%} of non-ASCII bytes form words"
    marks = [j for j, ch in enumerate(text) if unicodedata.category(ch) == "Mn"]
    orphan = sum(1 for j in marks if j == 0 or not ("\u0e01" <= text[j - 1] <= "\u0e5b"))
    if marks and orphan / len(marks) > 0.01:
        return False, f"{orphan} Thai vowel/tone marks without a letter before them"
    return True, ""


def _line_of(raw: bytes, pos: int) -> int:
    return raw.count(b"\n", 0, pos) + 1


def detect_encoding(raw: bytes, *, name: str = "<bytes>") -> str:
    """Detect the encoding of CSV bytes: ``utf-8-sig``, ``utf-16``, ``utf-8`` or ``cp874`` (see module notes).

    Raises
    ------
    CleaningError
        If the bytes are cut inside a UTF-8 character, hold a stray byte in UTF-8 text or NUL bytes,
        or are neither UTF-8 nor plausible Thai cp874.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            raw.decode("utf-16")
        except UnicodeDecodeError:
            raise CleaningError(f"{name}: broken UTF-16 text (cut off?); re-save the file as UTF-8 CSV") from None
        return "utf-16"
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise CleaningError(
            f"{name}: line {_line_of(raw, nul)} holds a NUL byte (a binary file, or UTF-16 without a "
            "byte-order mark); re-save the file as UTF-8 CSV"
        )
    bom = raw.startswith(_BOM)
    try:
        raw.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start + (len(_BOM) if bom else 0)
        if exc.reason == "unexpected end of data" and exc.end + (len(_BOM) if bom else 0) >= len(raw):
            raise CleaningError(
                f"{name}: the file ends in the middle of a character (line {_line_of(raw, start)}): it was cut off; "
                "copy or export it again"
            ) from None
        if not bom:
            ok, why = _plausible_thai(raw)
            if ok:
                return "cp874"
        head = raw[:start]
        if bom or any(b >= 0x80 for b in head):  # UTF-8 text with a stray byte
            raise CleaningError(
                f"{name}: line {_line_of(raw, start)} holds byte 0x{raw[start]:02X}, which is not UTF-8 although the "
                "text before it is; re-save the file as UTF-8 CSV"
            ) from None
        raise CleaningError(
            f"{name}: unknown encoding (not UTF-8, and not Thai cp874/TIS-620: {why}); re-save the file as UTF-8 CSV"
        ) from None
    return "utf-8-sig" if bom else "utf-8"


# --------------------------------------------------------------------------------------------------
# Grids
# --------------------------------------------------------------------------------------------------
def _cell_text(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, _dt.datetime):
        if v.time() == _dt.time(0, 0):
            return v.date().isoformat()
        return v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, _dt.time):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise CleaningError(f"{path}: file not found; check the raw data folder")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise CleaningError(f"{path.name}: {size / 2**20:,.0f} MB is larger than the {MAX_FILE_BYTES // 2**20} MB "
                            "a raw export may have; split it or check that it is the right file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CleaningError(f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__}); close it in other "
                            "programs and check its permissions") from None


def _csv_grid(path: Path, raw: bytes) -> tuple[str, Sheet]:
    enc = detect_encoding(raw, name=path.name)
    text = raw.decode(enc)
    if text.startswith("\ufeff"):  # utf-16 keeps its BOM as a character
        text = text[1:]
    csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    cells: list[list[str]] = []
    rows: list[int] = []
    lines: list[int] = []
    prev = 0
    try:
        for rec in reader:
            cells.append(rec)
            rows.append(len(cells))
            lines.append(prev + 1)
            prev = reader.line_num
    except csv.Error as exc:
        why = str(exc)
        if "end of data" in why:
            raise CleaningError(
                f"{path.name}: a quote opened in row {len(cells) + 1} (line {prev + 1}) is never closed; the file is cut "
                "off or a value holds an unpaired quote; fix or re-export it"
            ) from None
        raise CleaningError(
            f"{path.name}: row {len(cells) + 1} (line {prev + 1}) is not valid CSV ({why}); quote values that hold "
            "commas or quotes, or re-export the file"
        ) from None
    trailing = 0
    while cells and not any(c.strip() for c in cells[-1]):
        cells.pop()
        rows.pop()
        lines.pop()
        trailing += 1
    return enc, Sheet("", cells, rows, lines, trailing_blank=trailing)


def _xlsx_grids(path: Path, raw: bytes) -> list[Sheet]:
    from openpyxl import load_workbook

    def load(data_only: bool, read_only: bool = True) -> Any:
        try:
            return load_workbook(io.BytesIO(raw), read_only=read_only, data_only=data_only)
        except Exception as exc:  # openpyxl raises many kinds (zipfile, XML, KeyError, ...)
            raise CleaningError(f"{path.name}: cannot read as Excel ({type(exc).__name__}); open it in Excel and save "
                                "it again as .xlsx (not password-protected)") from None

    # one pass over the cells; the values Excel saved for formulas are read only when there are formulas
    wb = load(False, read_only=False)
    grids: list[tuple[str, list[list[Any]]]] = []
    found: list[tuple[str, int, int, str]] = []
    try:
        for ws in wb.worksheets:
            values = []
            for r, row in enumerate(ws.iter_rows(min_row=1), start=1):
                vals = []
                for j, c in enumerate(row, start=1):
                    v = c.value
                    if c.data_type == "f":
                        found.append((str(ws.title), r, j, str(v)))
                    vals.append(v)
                values.append(vals)
            grids.append((str(ws.title), values))
    except Exception as exc:
        raise CleaningError(f"{path.name}: cannot read as Excel ({type(exc).__name__}); open it in Excel and save it "
                            "again as .xlsx") from None
    finally:
        wb.close()
    formulas: dict[str, list[tuple[int, int, str, str]]] = {t: [] for t, _ in grids}
    if found:
        cached = load(True, read_only=False)
        by_title = dict(grids)
        for title, r, j, f in found:
            saved = cached[title].cell(r, j).value
            by_title[title][r - 1][j - 1] = saved
            formulas[title].append((r, j, f, _cell_text(saved)))
    out: list[Sheet] = []
    for title, values in grids:
        while values and all(_cell_text(v) == "" for v in values[-1]):
            values.pop()  # trailing empty rows are formatting, not data
        cells = [[_cell_text(v) for v in row] for row in values]
        nums = list(range(1, len(cells) + 1))
        out.append(Sheet(title, cells, nums, nums, formulas[title]))
    return out


def read_grid(path: str | Path) -> tuple[str, str, list[Sheet]]:
    """Read a CSV or XLSX file into grids: ``(encoding, sha256, sheets)`` (one sheet for a CSV).

    Raises
    ------
    CleaningError
        Missing, unreadable, empty or too large file, unsupported type, encoding problems, invalid CSV
        quoting (with row and line), unreadable workbook.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.strip():
        raise CleaningError(f"{path.name}: file is empty; re-export it from the source system")
    digest = hashlib.sha256(raw).hexdigest()
    suffix = path.suffix.lower()
    key = (digest, suffix, path.name)
    if key in _GRIDS:  # the same bytes give the same grid (grids are never modified)
        return _GRIDS[key]
    if suffix == ".csv":
        enc, sheet = _csv_grid(path, raw)
        out = (enc, digest, [sheet])
    elif suffix in (".xlsx", ".xlsm"):
        out = ("xlsx", digest, _xlsx_grids(path, raw))
    else:
        raise CleaningError(f"{path.name}: unsupported file type {suffix!r}; save it as .csv (UTF-8) or .xlsx")
    if len(raw) <= _GRID_MEMO_BYTES:
        _GRIDS[key] = out
        while len(_GRIDS) > 64:
            _GRIDS.pop(next(iter(_GRIDS)))
    return out


#: Grids of small files are remembered within the process, by content hash (see :func:`read_grid`).
_GRID_MEMO_BYTES = 4 * 1024 * 1024
_GRIDS: dict[tuple[str, str, str], tuple[str, str, list[Sheet]]] = {}


def _where(path: Path, sheet: str) -> str:
    return f"{path.name}" + (f" sheet {sheet!r}" if sheet else "")


def table_from_grid(path: str | Path, sheet: Sheet, *, encoding: str, sha256: str, header_index: int = 0) -> RawTable:
    """The data rows of a grid whose header is record ``header_index`` (0 = the first row).

    Header cells are normalised (:func:`~welfare_eval.clean.thai.normalize_text`: invisible characters
    removed, spaces collapsed); records after the header that are blank, shorter than the header, or
    longer with non-empty extra cells become :class:`RowIssue` rather than data rows. Empty columns
    without a name at the right end are dropped.

    Raises
    ------
    CleaningError
        No header, a duplicate column name, or a column without a name that holds data.
    """
    path = Path(path)
    where = _where(path, sheet.name)
    if header_index >= len(sheet.cells):
        raise CleaningError(f"{where}: no header row; re-export it with column names in row 1")
    head_raw = list(sheet.cells[header_index])
    head = [normalize_text(h) for h in head_raw]
    body = sheet.cells[header_index + 1 :]
    brows = sheet.rows[header_index + 1 :]
    blines = sheet.lines[header_index + 1 :]
    # unnamed columns: dropped when empty everywhere, an error when they hold data
    width = len(head)
    keep_cols = []
    for j in range(width):
        if head[j]:
            keep_cols.append(j)
            continue
        filled = [r for rec, r in zip(body, brows, strict=True) if j < len(rec) and rec[j].strip()]
        if filled:
            raise CleaningError(
                f"{where}: column {j + 1} (row {sheet.rows[header_index]}) has no name but holds data (e.g. row "
                f"{filled[0]}); name it in the header row or delete it"
            )
    if not keep_cols:
        raise CleaningError(f"{where}: the header row {sheet.rows[header_index]} is empty; put the column names in row 1")
    names = [head[j] for j in keep_cols]
    seen: dict[str, int] = {}
    for j in keep_cols:
        n = head[j]
        if n in seen:
            raise CleaningError(
                f"{where}: duplicate column name {n!r} (columns {seen[n] + 1} and {j + 1}); rename one in the export"
            )
        seen[n] = j
    if len(keep_cols) == 1 and any(sep in names[0] for sep in (";", "\t", "|")) and encoding != "xlsx":
        sep = next(s for s in (";", "\t", "|") if s in names[0])
        raise CleaningError(
            f"{where}: the header has one column and contains {sep!r}: the file is separated by {sep!r}, not by "
            "commas; save it as 'CSV UTF-8 (comma delimited)'"
        )
    data: list[list[str]] = []
    rows: list[int] = []
    lines: list[int] = []
    issues: list[RowIssue] = []
    for rec, r, ln in zip(body, brows, blines, strict=True):
        if not any(c.strip() for c in rec):
            issues.append(RowIssue(r, ln, "blank", "blank row"))
            continue
        n_named = len([j for j in keep_cols if j < len(rec)])
        if len(rec) < width and n_named < len(keep_cols) and encoding != "xlsx":
            issues.append(RowIssue(r, ln, "short", f"row has {len(rec)} of {width} fields (cut off, or a line break "
                                                   "inside an unquoted value?)"))
            continue
        extra = [c for c in rec[width:] if c.strip()]
        if extra:
            issues.append(RowIssue(r, ln, "long", f"row has {len(rec)} fields, the header {width} (a comma inside an "
                                                  "unquoted value?)"))
            continue
        data.append([rec[j] if j < len(rec) else "" for j in keep_cols])
        rows.append(r)
        lines.append(ln)
    df = pd.DataFrame(data, columns=pd.Index(names), dtype="string") if data else pd.DataFrame(
        {n: pd.Series([], dtype="string") for n in names}
    )
    renamed = {head[j]: head_raw[j] for j in keep_cols if head[j] != head_raw[j]}
    return RawTable(path, df.fillna("").reset_index(drop=True), encoding, sha256, sheet.name, tuple(rows), tuple(lines),
                    tuple(issues), sheet.rows[header_index], renamed)


def read_workbook(path: str | Path) -> list[tuple[str, RawTable]]:
    """Read every sheet of an XLSX file (header in row 1), in workbook order."""
    path = Path(path)
    enc, digest, sheets = read_grid(path)
    out = []
    for sh in sheets:
        if not sh.cells:
            raise CleaningError(f"{_where(path, sh.name)} is empty; re-export it from the source system")
        out.append((sh.name, table_from_grid(path, sh, encoding=enc, sha256=digest)))
    return out


def read_table(path: str | Path, *, sheet: str | int = 0) -> RawTable:
    """Read a raw CSV or XLSX file with every cell as text, header in row 1.

    Parameters
    ----------
    path : path to a ``.csv``, ``.xlsx`` or ``.xlsm`` file
    sheet : sheet name or index for Excel files

    Returns
    -------
    RawTable
        ``data`` with string columns (empty cells as ``""``), their spreadsheet ``rows``, the detected
        ``encoding`` (``utf-8-sig``, ``utf-8``, ``utf-16``, ``cp874`` or ``xlsx``), the file's ``sha256``
        and the rows that are not data rows (``issues``: blank, short, long).

    Raises
    ------
    CleaningError
        If the file is missing, empty, has no header, duplicate column names, or an unknown encoding.
    """
    path = Path(path)
    enc, digest, sheets = read_grid(path)
    if enc == "xlsx":
        if isinstance(sheet, int):
            if not 0 <= sheet < len(sheets):
                raise CleaningError(f"{path.name}: has {len(sheets)} sheet(s), no sheet number {sheet}")
            sh = sheets[sheet]
        else:
            hit = [s for s in sheets if s.name == sheet]
            if not hit:
                raise CleaningError(f"{path.name}: no sheet named {sheet!r} (sheets: {[s.name for s in sheets]})")
            sh = hit[0]
        if not sh.cells:
            raise CleaningError(f"{_where(path, sh.name)} is empty; re-export it from the source system")
    else:
        sh = sheets[0]
        if not sh.cells:
            raise CleaningError(f"{path.name}: file is empty; re-export it from the source system")
    return table_from_grid(path, sh, encoding=enc, sha256=digest)
