"""The codebook: one row per raw column per source file (format in docs/conventions.md).

Columns: ``source`` (file-name pattern, e.g. ``household_survey_*.csv``), ``raw_name``, ``name`` (tidy
name), ``table``, ``type``, ``unit``, ``allowed`` (``|``-separated codes or ``code=label`` pairs),
``min``, ``max``, ``missing_codes`` (``|``-separated), ``label_th``, ``label_en``, ``waves``
(``|``-separated), ``pii`` (``yes`` for names, IDs, phones and free text) and ``key`` (``yes`` for the
columns that identify a row of the source, e.g. village code + household id; optional).

Like DIME's ``iecodebook apply``, the codebook renames, recodes and labels the raw columns; the raw
files are never edited. Reading validates the codebook itself; :meth:`Codebook.for_file` and
:meth:`Codebook.check_header` validate it against a raw file's header.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from welfare_eval.clean.io import CleaningError, read_table
from welfare_eval.reference import WAVES

__all__ = ["CODEBOOK_COLUMNS", "PII_TYPES", "TYPES", "Codebook", "read_codebook"]

CODEBOOK_COLUMNS: tuple[str, ...] = (
    "source",
    "raw_name",
    "name",
    "table",
    "type",
    "unit",
    "allowed",
    "min",
    "max",
    "missing_codes",
    "label_th",
    "label_en",
    "waves",
    "pii",
    "key",
)
TYPES: frozenset[str] = frozenset(
    {
        "string",
        "int",
        "float",
        "bool",
        "category",
        "date",
        "datetime",
        "money",
        "year",
        "year_month",
        "village_code",
        "national_id",
        "phone",
        "person_name",
        "text",
    }
)
#: Types that are personal data whatever the ``pii`` column says.
PII_TYPES: frozenset[str] = frozenset({"national_id", "phone", "person_name", "text"})
_REQUIRED = ("source", "raw_name", "name", "table", "type")
_YES = ("yes", "y", "true", "1")
_YES_NO = ("", "yes", "no", "y", "n", "true", "false", "1", "0")


def _split(cell: str) -> list[str]:
    return [p.strip() for p in str(cell).split("|") if p.strip()]


def _number(cell: str, what: str, origin: str) -> float:
    s = str(cell).strip()
    if not s:
        return math.nan
    try:
        return float(s)
    except ValueError:
        raise CleaningError(f"{origin}: {what} {s!r} is not a number; fix the codebook") from None


@dataclass(frozen=True)
class Codebook:
    """A validated codebook.

    Attributes
    ----------
    entries : pandas.DataFrame
        The codebook rows with parsed helper columns ``min_``/``max_`` (float), ``allowed_map``
        (dict raw value → code), ``missing`` (list), ``wave_list`` (list) and ``is_pii`` (bool).
    origin : str
        File name (or ``<DataFrame>``) for messages.
    sha256 : str
        Hash of the codebook file (empty for a DataFrame).
    """

    entries: pd.DataFrame
    origin: str
    sha256: str = ""

    @classmethod
    def from_frame(
        cls, df: pd.DataFrame, *, origin: str = "<DataFrame>", sha256: str = "", rows: list[int] | None = None
    ) -> Codebook:
        """Validate a codebook table (all cells text) and parse its helper columns.

        ``rows`` are the spreadsheet rows of ``df``'s rows (for messages; default 2, 3, ...).
        """
        df = df.copy()
        row_numbers = list(rows) if rows is not None else list(range(2, len(df) + 2))
        df.columns = pd.Index([str(c).strip().lower() for c in df.columns])
        missing = [c for c in _REQUIRED if c not in df.columns]
        if missing:
            raise CleaningError(
                f"{origin}: codebook lacks column(s) {missing}; it needs {list(CODEBOOK_COLUMNS)} (docs/conventions.md)"
            )
        for c in CODEBOOK_COLUMNS:
            if c not in df.columns:
                df[c] = ""
        df = df.astype("string").fillna("")
        for c in df.columns:
            df[c] = df[c].str.strip()
        if df.empty:
            raise CleaningError(f"{origin}: codebook has no rows; list every raw column")
        recs: list[dict[str, object]] = []
        for i, rec in zip(row_numbers, df.to_dict("records"), strict=True):
            r = {str(k): v for k, v in rec.items()}
            where = f"{origin} row {i}"
            for c in _REQUIRED:
                if not r[c]:
                    raise CleaningError(f"{where}: empty {c!r}; fill it in the codebook")
            typ = str(r["type"]).lower()
            if typ not in TYPES:
                raise CleaningError(f"{where}: unknown type {r['type']!r}; use one of {sorted(TYPES)}")
            lo = _number(str(r["min"]), "min", where)
            hi = _number(str(r["max"]), "max", where)
            if not math.isnan(lo) and not math.isnan(hi) and lo > hi:
                raise CleaningError(f"{where}: min {lo} > max {hi}; fix the codebook")
            amap: dict[str, str] = {}
            for part in _split(str(r["allowed"])):
                code, _, lab = part.partition("=")
                code, lab = code.strip(), lab.strip()
                amap[code] = code
                if lab:
                    if lab in amap and amap[lab] != code:
                        raise CleaningError(f"{where}: label {lab!r} maps to two codes; fix 'allowed'")
                    amap[lab] = code
            waves = _split(str(r["waves"]))
            bad = [w for w in waves if w not in WAVES]
            if bad:
                raise CleaningError(f"{where}: unknown wave(s) {bad}; use {list(WAVES)}")
            pii = str(r["pii"]).lower()
            if pii not in _YES_NO:
                raise CleaningError(f"{where}: pii {r['pii']!r} must be 'yes' or 'no'; fix the codebook")
            key = str(r["key"]).lower()
            if key not in _YES_NO:
                raise CleaningError(f"{where}: key {r['key']!r} must be 'yes' or 'no'; fix the codebook")
            recs.append(
                {
                    **r,
                    "type": typ,
                    "min_": lo,
                    "max_": hi,
                    "allowed_map": amap,
                    "missing": _split(str(r["missing_codes"])),
                    "wave_list": waves,
                    "is_pii": pii in _YES or typ in PII_TYPES,
                    "is_key": key in _YES,
                    "codebook_row": i,
                }
            )
        out = pd.DataFrame(recs)
        # a raw column may appear once per source; a tidy name once per source and wave
        for (src, raw), g in out.groupby(["source", "raw_name"], sort=False):
            if len(g) > 1:
                raise CleaningError(
                    f"{origin} rows {list(g['codebook_row'])}: raw column {raw!r} of {src!r} is listed twice"
                )
        for (src, name), g in out.groupby(["source", "name"], sort=False):
            if len(g) > 1:
                seen: set[str] = set()
                for wl in g["wave_list"]:
                    ws = set(wl) if wl else set(WAVES)
                    if ws & seen:
                        raise CleaningError(
                            f"{origin} rows {list(g['codebook_row'])}: tidy name {name!r} of {src!r} comes from "
                            "two raw columns in the same wave; give each its own waves"
                        )
                    seen |= ws
        return cls(out, origin, sha256)

    def key_of(self, filename: str) -> list[str]:
        """Tidy names of the identity columns the codebook declares for a raw file (``key`` = yes), in
        codebook order; empty when the codebook declares none for it."""
        cache = self.__dict__.setdefault("_key_of", {})
        if filename not in cache:
            rows = self.for_file(filename)
            cache[filename] = list(dict.fromkeys(rows.loc[rows["is_key"].astype(bool), "name"].astype(str)))
        return list(cache[filename])

    def sources(self) -> list[str]:
        """The distinct source patterns, in codebook order."""
        return list(dict.fromkeys(self.entries["source"]))

    def for_file(self, filename: str, *, wave: str | None = None) -> pd.DataFrame:
        """Codebook rows of a raw file (source pattern matched with :func:`fnmatch.fnmatch`) in ``wave``.

        Raises
        ------
        CleaningError
            If no codebook row matches the file.
        """
        key = (filename, wave)
        cache = self.__dict__.setdefault("_for_file", {})
        if key in cache:
            return cache[key].copy()
        e = self.entries
        hit = e[[fnmatch.fnmatch(filename, str(p)) for p in e["source"]]]
        if hit.empty:
            raise CleaningError(
                f"{filename}: no codebook row has a source pattern matching this file; add its columns to {self.origin}"
            )
        if wave is not None:
            hit = hit[[(not wl) or (wave in wl) for wl in hit["wave_list"]]]
        cache[key] = hit.reset_index(drop=True)
        return cache[key].copy()

    def check_header(self, filename: str, columns: list[str], *, wave: str | None = None) -> tuple[pd.DataFrame, list[str]]:
        """Codebook rows of a file and the raw columns the codebook does not know.

        Raises
        ------
        CleaningError
            If a codebook column (for this wave) is missing from the file.
        """
        rows = self.for_file(filename, wave=wave)
        have = set(columns)
        absent = [r for r in rows["raw_name"] if r not in have]
        if absent:
            extra = f" (wave {wave})" if wave else ""
            raise CleaningError(
                f"{filename}: column(s) {absent[:5]} listed in the codebook{extra} are not in the file; "
                f"fix the codebook {self.origin} or the export"
            )
        known = set(rows["raw_name"])
        unknown = [c for c in columns if c not in known]
        return rows, unknown


def read_codebook(path: str | Path) -> Codebook:
    """Read and validate a codebook CSV (UTF-8, BOM or cp874, detected) or XLSX file (first sheet).

    Blank rows are skipped; a row with fewer or more fields than the header is an error.
    """
    raw = read_table(path)
    hit = _CACHE.get((raw.sha256, Path(path).name))
    if hit is not None:  # the same bytes validate to the same codebook (read-only use)
        return hit
    bad = [i for i in raw.issues if i.kind != "blank"]
    if bad:
        raise CleaningError(f"{Path(path).name} row {bad[0].row} (line {bad[0].line}): {bad[0].message}; fix the codebook")
    cb = Codebook.from_frame(raw.data, origin=Path(path).name, sha256=raw.sha256, rows=list(raw.rows))
    if len(_CACHE) > 8:
        _CACHE.clear()
    _CACHE[(raw.sha256, Path(path).name)] = cb
    return cb


_CACHE: dict[tuple[str, str], Codebook] = {}
