"""File kernel shared by every stage: atomic writes, Parquet, hashes, safe CSV/XLSX cells.

One implementation of each so that every file the package writes behaves the same way:

* :func:`atomic_write_bytes` / :func:`atomic_write_text`: a temporary file in the target's folder,
  ``fsync``, then :func:`os.replace` (atomic on one file system); a failure leaves the old file.
* :func:`parquet_safe` and :func:`write_parquet`: plain column types (float, int64, bool, string) and no
  timestamps in the file, so the same table gives byte-identical files.
* :func:`write_csv` and :func:`write_excel`: spreadsheet-formula neutralisation (OWASP "CSV
  injection"): a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is
  not a plain number is prefixed with an apostrophe, so Excel or LibreOffice shows it as text.
* :func:`sha256_file`, :func:`json_dumps`: reproducible hashes and JSON (sorted keys, UTF-8).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "json_dumps",
    "neutralize_formulas",
    "parquet_bytes",
    "parquet_safe",
    "sha256_bytes",
    "sha256_file",
    "write_csv",
    "write_excel",
    "write_json",
    "write_parquet",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


# --------------------------------------------------------------------------------------------------
# Hashes and JSON
# --------------------------------------------------------------------------------------------------
def sha256_bytes(data: bytes) -> str:
    """SHA-256 of ``data`` (hex)."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def json_dumps(obj: Any) -> str:
    """Canonical JSON text: UTF-8 (Thai kept), sorted keys, two-space indent, trailing newline."""
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"


# --------------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------------
def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file beside it, fsync, :func:`os.replace`).

    The parent folder is created when missing. On any failure the temporary file is removed and the
    previous content of ``path`` (if any) is left as it was.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600): give it the mode a plain open() would (or keep the old one)
        os.chmod(tmp, p.stat().st_mode & 0o7777 if p.exists() else 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode(encoding))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as canonical JSON (:func:`json_dumps`) atomically."""
    return atomic_write_text(path, json_dumps(obj))


# --------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------
def parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with plain column types that round-trip through Parquet unchanged.

    No index (reset) and text column names. Object columns holding only booleans → ``bool`` (nullable
    ``boolean`` when some are missing), only numbers → ``float64``, anything else → pandas ``string``;
    categoricals and strings → ``string``; booleans → ``bool``; integers → ``int64`` (``float64`` when some
    are missing); other numbers → ``float64``. Missing text stays missing (``<NA>``), it never becomes the
    text ``"nan"``.
    """
    out = df.reset_index(drop=True).copy()
    out.columns = [str(c) for c in out.columns]
    for c in out.columns:
        s = out[c]
        if s.dtype == object:
            vals = [v for v in s if v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA]
            if vals and all(isinstance(v, bool | np.bool_) for v in vals):
                out[c] = s.astype("boolean") if len(vals) < len(s) else s.astype(bool)
                continue
            if vals and all(isinstance(v, int | float | np.integer | np.floating) for v in vals):
                out[c] = pd.to_numeric(s).astype("float64")
                continue
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s):
            miss = s.isna().to_numpy()
            objs = s.astype(object).to_numpy()
            out[c] = pd.array([None if m else str(v) for v, m in zip(objs, miss, strict=True)], dtype="string")
        elif isinstance(s.dtype, pd.BooleanDtype):
            out[c] = s if s.isna().any() else s.astype(bool)
        elif pd.api.types.is_bool_dtype(s):
            out[c] = s.astype(bool)
        elif pd.api.types.is_integer_dtype(s):
            out[c] = s.astype("int64") if not s.isna().any() else s.astype("float64")
        elif pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype("float64")
    return out


def parquet_bytes(df: pd.DataFrame, *, compression: str = "snappy") -> bytes:
    """``df`` (without index) as Parquet bytes; no timestamps, so equal tables give equal bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression=compression)
    return buf.getvalue()


def write_parquet(df: pd.DataFrame, path: str | Path, *, compression: str = "snappy") -> Path:
    """Write ``df`` (without index) as Parquet atomically (see :func:`parquet_bytes`)."""
    return atomic_write_bytes(path, parquet_bytes(df, compression=compression))


# --------------------------------------------------------------------------------------------------
# Spreadsheet-safe CSV / XLSX
# --------------------------------------------------------------------------------------------------
def _neutral(v: Any) -> Any:
    if isinstance(v, str) and v and v.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(v.strip()):
        return "'" + v
    return v


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` whose text cells cannot run as spreadsheet formulas (OWASP CSV injection).

    A text cell starting with ``= + - @``, a tab or a carriage return gets a leading apostrophe unless
    it is a plain number such as ``-9`` or ``+1.5``. Numeric columns are untouched; so are column names
    unless they start the same way.
    """
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if s.dtype == object or pd.api.types.is_string_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = s.astype(object).map(_neutral)
    out.columns = [_neutral(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | Path, *, bom: bool = True, index: bool = False) -> Path:
    """Write ``df`` as CSV atomically with formula-neutralised text cells.

    ``bom=True`` (default) writes UTF-8 with a byte-order mark so that spreadsheet programs show Thai
    text correctly; line ends are ``\\n``.
    """
    text = neutralize_formulas(df).to_csv(index=index, lineterminator="\n")
    return atomic_write_bytes(path, text.encode("utf-8-sig" if bom else "utf-8"))


def write_excel(sheets: Mapping[str, pd.DataFrame], path: str | Path, *, index: bool = False) -> Path:
    """Write one sheet per DataFrame to an XLSX file atomically, text cells formula-neutralised.

    Sheet names are cut to Excel's 31 characters. The workbook's creation time is fixed so the same
    tables give the same file.
    """
    import datetime as _dt

    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, df in sheets.items():
            neutralize_formulas(df).to_excel(xl, sheet_name=str(name)[:31], index=index)
        book = xl.book
        book.properties.creator = "welfare_eval"
        book.properties.created = _dt.datetime(2000, 1, 1)
        book.properties.modified = _dt.datetime(2000, 1, 1)
    return atomic_write_bytes(path, _fix_zip_times(buf.getvalue()))


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _fix_zip_times(data: bytes) -> bytes:
    """Rewrite a ZIP (XLSX) with fixed member timestamps, so equal content gives equal bytes.

    openpyxl stamps ``docProps/core.xml`` with the time of saving (``dcterms:modified``) whatever the
    workbook's properties say; that stamp is fixed to 2000-01-01 too.
    """
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", body)
            dst.writestr(zi, body)
    return out.getvalue()
