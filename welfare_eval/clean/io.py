"""Reading raw exports: CSV (UTF-8, UTF-8 with BOM, Thai Windows cp874/TIS-620) and XLSX.

The encoding of a CSV file is detected and reported, never guessed silently:

1. a UTF-8 byte-order mark → ``utf-8-sig``;
2. bytes that decode as UTF-8 → ``utf-8``;
3. otherwise ``cp874`` (Windows-874, a superset of TIS-620) only if the bytes decode as cp874 and
   the non-ASCII bytes are plausible Thai text: at least 90 % of them in the Thai letter block
   0xA1–0xFB of TIS-620, at least 80 % of them in runs (words), and Thai vowel/tone marks after a
   letter (see :func:`_plausible_thai`);
4. anything else raises :class:`CleaningError`.

All cells are read as text (no type inference, no NA guessing), so that leading zeros of codes, Thai
digits and missing-value codes reach the codebook untouched.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["CleaningError", "RawTable", "detect_encoding", "read_table", "read_workbook", "sha256_file"]

_BOM = b"\xef\xbb\xbf"
#: Share of non-ASCII bytes that must lie in 0xA1–0xFB for cp874 to be accepted.
THAI_BYTE_SHARE = 0.9
#: Share of non-ASCII bytes that must have a non-ASCII neighbour (Thai words are runs of letters).
THAI_RUN_SHARE = 0.8


class CleaningError(ValueError):
    """A problem with a raw file or the codebook that the user must fix (one-line message)."""


@dataclass(frozen=True)
class RawTable:
    """A raw table as read: ``data`` (all text), ``encoding`` and the file's ``sha256``."""

    path: Path
    data: pd.DataFrame
    encoding: str
    sha256: str


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


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


def detect_encoding(raw: bytes, *, name: str = "<bytes>") -> str:
    """Detect the encoding of CSV bytes: ``utf-8-sig``, ``utf-8`` or ``cp874`` (see module notes).

    Raises
    ------
    CleaningError
        If the bytes are neither UTF-8 nor plausible Thai cp874.
    """
    if raw.startswith(_BOM):
        return "utf-8-sig"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    ok, why = _plausible_thai(raw)
    if ok:
        return "cp874"
    raise CleaningError(f"{name}: unknown encoding (not UTF-8, and not Thai cp874/TIS-620: {why}); re-save the file as UTF-8 CSV")


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
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _read_sheets(path: Path, raw: bytes, sheet: str | int | None) -> dict[str | int, pd.DataFrame]:
    try:
        got = pd.read_excel(io.BytesIO(raw), sheet_name=sheet, dtype=object, header=None, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds
        raise CleaningError(f"{path.name}: cannot read as Excel ({type(exc).__name__}); re-save it as .xlsx") from None
    if isinstance(got, dict):
        return {k: v for k, v in got.items()}
    return {sheet if sheet is not None else 0: got}


def _sheet_frame(obj: pd.DataFrame, where: str) -> tuple[pd.DataFrame, list[str]]:
    # trailing empty rows are formatting, not data; empty rows inside are kept (and accounted for)
    filled = obj.notna().any(axis=1).to_numpy()
    obj = obj.iloc[: int(filled.nonzero()[0].max()) + 1] if filled.any() else obj.iloc[:0]
    if obj.empty:
        raise CleaningError(f"{where} is empty; re-export it from the source system")
    names = [_cell_text(v) for v in obj.iloc[0]]
    body = obj.iloc[1:]
    df = pd.DataFrame({i: [_cell_text(v) for v in body.iloc[:, i]] for i in range(body.shape[1])}, dtype="string")
    df.columns = pd.Index(names)
    return df, names


def _finish(df: pd.DataFrame, names: list[str], where: str) -> pd.DataFrame:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CleaningError(f"{where}: duplicate column name(s) {dup}; rename them in the export")
    blank = [i for i, n in enumerate(names) if not n.strip() or n.startswith("Unnamed:")]
    if blank:
        raise CleaningError(f"{where}: column {blank[0] + 1} has no name; fix the header row")
    df.columns = pd.Index([str(c) for c in names])
    return df.astype("string").fillna("").reset_index(drop=True)


def read_workbook(path: str | Path) -> list[tuple[str, RawTable]]:
    """Read every sheet of an XLSX file (each as :func:`read_table` would), in workbook order."""
    path = Path(path)
    if not path.is_file():
        raise CleaningError(f"{path}: file not found; check the raw data folder")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    out = []
    for name, obj in _read_sheets(path, raw, None).items():
        where = f"{path.name} sheet {name!r}"
        df, names = _sheet_frame(obj, where)
        out.append((str(name), RawTable(path=path, data=_finish(df, names, where), encoding="xlsx", sha256=digest)))
    return out


def read_table(path: str | Path, *, sheet: str | int = 0) -> RawTable:
    """Read a raw CSV or XLSX file with every cell as text.

    Parameters
    ----------
    path : path to a ``.csv``, ``.xlsx`` or ``.xlsm`` file
    sheet : sheet name or index for Excel files

    Returns
    -------
    RawTable
        ``data`` with string columns (empty cells as ``""``), the detected ``encoding``
        (``utf-8-sig``, ``utf-8``, ``cp874`` or ``xlsx``) and the file's ``sha256``.

    Raises
    ------
    CleaningError
        If the file is missing, empty, has no header, duplicate column names, or an unknown encoding.
    """
    path = Path(path)
    if not path.is_file():
        raise CleaningError(f"{path}: file not found; check the raw data folder")
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    if not raw.strip():
        raise CleaningError(f"{path.name}: file is empty; re-export it from the source system")
    if suffix == ".csv":
        enc = detect_encoding(raw, name=path.name)
        text = raw.decode(enc)
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)
        except pd.errors.EmptyDataError:
            raise CleaningError(f"{path.name}: no header row; re-export it with column names") from None
        except pd.errors.ParserError as exc:
            raise CleaningError(f"{path.name}: not a valid CSV ({str(exc).splitlines()[0]}); re-export it") from None
        # mangled duplicate names ("x.1") cannot be told from real ones here; check the header itself
        first = pd.read_csv(io.StringIO(text), nrows=1, header=None, dtype=str, keep_default_na=False)
        names = [str(h) for h in first.iloc[0].tolist()]
    elif suffix in (".xlsx", ".xlsm"):
        enc = "xlsx"
        obj = _read_sheets(path, raw, sheet)[sheet]
        df, names = _sheet_frame(obj, f"{path.name} sheet {sheet!r}")
    else:
        raise CleaningError(f"{path.name}: unsupported file type {suffix!r}; use .csv or .xlsx")
    df = _finish(df, names, path.name)
    return RawTable(path=path, data=df, encoding=enc, sha256=hashlib.sha256(raw).hexdigest())
