"""``clean_all``: raw exports + codebook → validated processed tables, ledger, checks and manifest."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import welfare_eval
import welfare_eval.reference as ref
from welfare_eval._io import write_csv
from welfare_eval._progress import progress
from welfare_eval._results import ResultBase
from welfare_eval.clean.apply import apply_codebook
from welfare_eval.clean.checks import CheckLog, Ledger
from welfare_eval.clean.codebook import Codebook, read_codebook
from welfare_eval.clean.corrections import Correction, Corrections, read_corrections
from welfare_eval.clean.duplicates import DEFAULT_KEYS, settle_duplicates
from welfare_eval.clean.ids import PseudonymKey, load_key
from welfare_eval.clean.io import CleaningError, Sheet, read_grid, table_from_grid
from welfare_eval.clean.pii import find_pii, mask_text, pii_kind
from welfare_eval.clean.schemas import validate_table
from welfare_eval.clean.tables import (
    DUPLICATE_RULES,
    Context,
    Part,
    build_admin,
    build_committee,
    build_frame,
    build_households,
    build_villages,
)
from welfare_eval.clean.thai import normalize_text
from welfare_eval.clean.write import write_outputs

__all__ = ["TABLES", "CleanResult", "clean_all", "find_pii", "variables"]

#: Processed tables, in dependency order.
TABLES: tuple[str, ...] = ("frame", "villages", "households", "benefits", "admin", "committee")
CODEBOOK_NAMES = ("codebook.csv", "codebook.xlsx")
#: Converted sheets of small raw files are remembered within the process (keyed by the file's SHA-256, the
#: codebook's SHA-256, sheet, wave and header row; never when a ``set`` correction edits the sheet), so that
#: rerunning the cleaning after a change to one file re-converts only that file. A remembered part is only
#: read: the row decisions of a run live in its ledger, never in the part.
MEMO_MAX_CELLS = 2_000_000
_MEMO: dict[tuple[Any, ...], tuple[Part, list[Any]]] = {}
_TABLES: dict[tuple[Any, ...], Any] = {}
#: File name of the duplicates report written when conflicting duplicates stop the run.
DUPLICATES_REPORT = "duplicates_report.csv"


@dataclass(frozen=True, repr=False)
class CleanResult(ResultBase):
    """Result of :func:`clean_all`.

    Attributes
    ----------
    tables : dict of DataFrame
        The processed tables (``frame``, ``villages``, ``households``, ``benefits``, ``admin``,
        ``committee``), validated by their schemas.
    ledger : DataFrame
        One row per raw row: ``file``, ``sheet``, ``row``, ``status`` (kept/merged/rejected),
        ``reason``, ``merged_into``.
    checks : DataFrame
        One row per failed check: ``file``, ``sheet``, ``row``, ``column``, ``value``, ``rule``,
        ``severity``, ``action``, ``message``.
    manifest : dict
        Inputs (file, sha256, encoding, rows), outputs (file, sha256, rows), codebook, key source.
    out_dir : Path or None
    notes_ : list of str
        Notes printed under the summary (demo key, files not imported, ...).
    variables : DataFrame
        The processed codebook (:func:`variables`): table, column, dtype, unit, Thai/English labels.
    """

    tables: dict[str, pd.DataFrame]
    ledger: pd.DataFrame
    checks: pd.DataFrame
    manifest: dict[str, Any]
    out_dir: Path | None = None
    notes_: list[str] = field(default_factory=list)
    variables: pd.DataFrame = field(default_factory=pd.DataFrame)

    title = "Cleaning: rows read, kept, merged and rejected by file"

    def totals(self) -> pd.DataFrame:
        """Rows read / kept / merged / rejected per raw file."""
        led = self.ledger
        t = pd.crosstab(led["file"], led["status"]).reindex(columns=["kept", "merged", "rejected"], fill_value=0)
        reads = {i["file"]: i["rows"] for i in self.manifest["inputs"]}
        t.insert(0, "read", [int(reads.get(f, 0)) for f in t.index])
        t.columns.name = None
        return t.reset_index().astype({"read": "int64", "kept": "int64", "merged": "int64", "rejected": "int64"})

    def tidy(self) -> pd.DataFrame:
        return self.totals()

    def failed_by_rule(self) -> pd.DataFrame:
        """Number of check failures by rule, severity and action."""
        c = self.checks
        if c.empty:
            return pd.DataFrame(columns=["rule", "severity", "action", "n"])
        return c.groupby(["rule", "severity", "action"], sort=True).size().rename("n").reset_index()

    def notes(self) -> list[str]:
        m = self.manifest
        out = [f"pseudonym key: {m['key_source']} (key id {m['key_id']})"]
        out += list(self.notes_)
        return out

    def summary(self) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 30):
            parts = [self.title, "=" * len(self.title), self.totals().to_string(index=False), "",
                     "Checks failed by rule", "---------------------",
                     self.failed_by_rule().to_string(index=False) if len(self.checks) else "(none)", ""]
            parts += ["Tables: " + ", ".join(f"{k} ({len(v)} rows)" for k, v in self.tables.items())]
        parts += [f"Note: {n}" for n in self.notes()]
        return "\n".join(parts)


def variables(tables: dict[str, pd.DataFrame], cb: Codebook) -> pd.DataFrame:
    """The processed codebook: one row per column of each processed table.

    ``table``, ``column``, ``dtype``, ``unit``, ``label_th``, ``label_en`` and ``source`` (``codebook``
    when the column comes from a raw column, ``reference`` when its label comes from
    :func:`welfare_eval.reference.label`, ``derived`` otherwise).
    """
    e = cb.entries
    recs = e.drop_duplicates(["table", "name"])
    by_table = {(str(t), str(n)): (str(u), str(a), str(b)) for t, n, u, a, b in
                zip(recs["table"], recs["name"], recs["unit"], recs["label_th"], recs["label_en"], strict=True)}
    recs = e.drop_duplicates("name")
    by_name = {str(n): (str(u), str(a), str(b)) for n, u, a, b in
               zip(recs["name"], recs["unit"], recs["label_th"], recs["label_en"], strict=True)}
    lab = ref.labels()
    plain = {str(k): (str(a), str(b)) for k, a, b in zip(lab["key"], lab["th"], lab["en"], strict=True)}
    rows = []

    def from_reference(keys: tuple[str, ...]) -> tuple[str, str] | None:
        for k in keys:
            if k in plain:
                return plain[k]
            if k.startswith(("region.", "province.")):
                try:
                    return ref.label(k, "th"), ref.label(k, "en")
                except KeyError:
                    continue
        return None

    for t, df in tables.items():
        for c in df.columns:
            unit, th, en, src = "", "", "", "derived"
            own = from_reference((f"clean.{c}",))  # labels of columns the cleaning derives or changes
            if own is not None:
                (th, en), src = own, "reference"
            elif (t, c) in by_table or c in by_name:
                unit, th, en = by_table.get((t, c)) or by_name[c]
                src = "codebook"
            else:
                got = from_reference((f"outcome.{c}", f"covariate.{c}", str(c)))
                if got is not None:
                    (th, en), src = got, "reference"
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                unit = "date-time (C.E., Thai time)"
            elif c == "year":
                unit = "year (C.E.)"
            rows.append((t, str(c), str(df[c].dtype), unit, th, en, src))
    out = pd.DataFrame(rows, columns=["table", "column", "dtype", "unit", "label_th", "label_en", "source"])
    return out.astype("string")


def _wave_of(name: str) -> str | None:
    stem = Path(name).stem.lower()
    found = [w for w in ref.WAVES if re.search(rf"(^|[^a-z]){w}([^a-z]|$)", stem)]
    return found[0] if len(found) == 1 else None


#: Rows searched for the header when row 1 is not it (title rows above a table).
HEADER_SEARCH_ROWS = 30


def _find_header(sheet: Sheet, expected: set[str]) -> int:
    """Index of the header record: the first row that names a codebook column, when only title-like rows
    (at most two filled cells) stand above it; 0 otherwise (the header check then names what is missing)."""
    def hits(k: int) -> int:
        return sum(1 for c in sheet.cells[k] if normalize_text(c) in expected)

    if not sheet.cells or hits(0) > 0:
        return 0
    for k in range(1, min(len(sheet.cells), HEADER_SEARCH_ROWS)):
        if hits(k) > 0:
            above = [sum(1 for c in sheet.cells[j] if c.strip()) for j in range(k)]
            return k if max(above) <= 2 else 0
    return 0


def _primary_table(entries: pd.DataFrame) -> str:
    have = list(dict.fromkeys(entries["table"].astype(str)))
    return next((t for t in TABLES if t in have), have[0])


def _locate(corr: Correction, tab: pd.DataFrame, sub_col: str | None, file: str) -> int:
    """Spreadsheet row a row correction points to (by row and/or submission id)."""
    row = corr.row
    if corr.submission:
        if sub_col is None:
            raise CleaningError(f"{corr.where}: {file} has no submission-id column (codebook name submission_uuid); "
                                "give the row number instead")
        hit = [int(r) for r in tab.index[tab[sub_col].str.strip() == corr.submission]]
        if not hit:
            raise CleaningError(f"{corr.where}: no row of {file} has submission {corr.submission!r} (any more); fix or "
                                "remove the correction")
        if len(hit) > 1 and row is None:
            raise CleaningError(f"{corr.where}: submission {corr.submission!r} is on rows {hit} of {file}; give the row too")
        if row is not None and row not in hit:
            raise CleaningError(f"{corr.where}: row {row} of {file} does not hold submission {corr.submission!r} (the "
                                "export changed?); fix the correction")
        row = hit[0] if row is None else row
    assert row is not None
    if row not in tab.index:
        raise CleaningError(f"{corr.where}: {file} has no data row {row} (any more); fix or remove the correction")
    return row


def _guard(c: Correction, file: str, raw: pd.DataFrame, row: int, key: list[str], raw_of: dict[str, str]) -> None:
    """Refuse a correction whose ``key`` guard no longer matches the row it points to."""
    if not c.key:
        return
    have = "; ".join(f"{k}={str(raw.at[row, raw_of.get(k, k)]).strip() if raw_of.get(k, k) in raw.columns else ''}"
                     for k in key)
    if _norm(have) != _norm(c.key):
        raise CleaningError(f"{c.where}: {file} row {row} no longer holds {c.key!r} (the export changed?); check and "
                            "fix the correction")


def _read_parts(
    path: Path, cb: Codebook, ctx: Context, inputs: list[dict[str, Any]], corr: Corrections,
    targets: dict[int, tuple[str, str, int]],
) -> list[Part]:
    name = path.name
    enc, digest, sheets = read_grid(path)
    wave = _wave_of(name)
    rows_all = cb.for_file(name)
    has_waves = any(bool(w) for w in rows_all["wave_list"])
    if has_waves and wave is None:
        raise CleaningError(f"{name}: the codebook lists survey waves for this file but its name has no wave; "
                            f"name it like household_survey_baseline.csv")
    expected = {normalize_text(str(r)) for r in rows_all["raw_name"]}
    book = enc == "xlsx"
    parts = []
    n_rows = 0
    for sh in sheets:
        where = f"{name}" + (f" sheet {sh.name!r}" if book else "")
        ign = corr.of("ignore_sheet", name, sh.name)
        if ign:
            for i, _c in ign:
                corr.mark(i)
            ctx.log.add(name, sh.name, 0, "", "", "sheet_ignored", f"sheet not read ({ign[0][1].where}: {ign[0][1].reason})",
                        severity="info", action="skipped")
            continue
        if not sh.cells:
            if book and len(sheets) > 1:
                ctx.log.add(name, sh.name, 0, "", "", "empty_sheet", "empty sheet; nothing to read", severity="info",
                            action="skipped")
                continue
            raise CleaningError(f"{where} is empty; re-export it from the source system")
        hdr = _find_header(sh, expected)
        for k in range(hdr):
            text = " ".join(c for c in sh.cells[k] if c.strip())
            if text:
                ctx.log.add(name, sh.name, sh.rows[k], "", text, "title_row", f"row above the header (row "
                            f"{sh.rows[hdr]}) not read", severity="warning", action="skipped")
        tkey = (digest, name, sh.name, hdr)
        tab = _TABLES.get(tkey) or table_from_grid(path, sh, encoding=enc, sha256=digest, header_index=hdr)
        if len(sh.cells) * max(len(sh.cells[0]), 1) <= MEMO_MAX_CELLS:
            _TABLES[tkey] = tab
            while len(_TABLES) > 64:
                _TABLES.pop(next(iter(_TABLES)))
        for new, old in tab.renamed.items():
            ctx.log.add(name, sh.name, tab.header_row, new, old, "header", "column name normalised (invisible "
                        "characters or extra spaces removed)", severity="info", action="normalized")
        entries = cb.for_file(name, wave=wave if has_waves else None)
        cols = list(tab.data.columns)
        absent = [r for r in entries["raw_name"] if r not in set(cols)]
        if absent:
            extra = f" (wave {wave})" if has_waves else ""
            hint = " or mark the sheet ignore_sheet in data/raw/corrections/" if book else ""
            raise CleaningError(f"{where}: column(s) {absent[:5]} listed in the codebook{extra} are not in the "
                                f"{'sheet' if book else 'file'}; fix the codebook {cb.origin} or the export{hint}")
        if tab.data.empty and not tab.issues:
            raise CleaningError(f"{where}: no data rows; re-export it or remove it from the raw folder")
        known = set(entries["raw_name"])
        for col in cols:
            if col not in known:
                ctx.log.add(name, sh.name, tab.header_row, col, "", "unknown_column",
                            "column not in the codebook; not imported", severity="warning", action="dropped_column")
        pii_raw = set(entries.loc[entries["is_pii"].astype(bool), "raw_name"].astype(str))
        ctx.log.pii_columns.setdefault(name, set()).update(pii_raw)
        raw = tab.data.set_axis(pd.Index(tab.rows, dtype="int64"))
        sub_names = entries.loc[entries["name"] == "submission_uuid", "raw_name"]
        sub_col = str(sub_names.iloc[0]) if len(sub_names) else None
        raw_of = dict(zip(entries["name"].astype(str), entries["raw_name"].astype(str), strict=True))
        table = _primary_table(entries)
        key = cb.key_of(name) or list(DEFAULT_KEYS.get(table, ()))

        # corrections: set (before the codebook), then drop and keep (after)
        mine = [(i, c) for i, c in enumerate(corr.items) if c.file == name and c.sheet == (sh.name if book else c.sheet)
                and c.action in ("set", "drop", "keep")]
        for i, c in mine:
            if book and c.sheet == "" and len(sheets) > 1:
                raise CleaningError(f"{c.where}: {name} is a workbook; give the sheet")
            r = _locate(c, raw, sub_col, name)
            _guard(c, name, raw, r, key, raw_of)
            targets[i] = (name, sh.name, r)
            if c.action == "set":
                if c.column not in raw.columns:
                    raise CleaningError(f"{c.where}: {name} has no column {c.column!r}; fix the correction")
                was = str(raw.at[r, c.column])
                raw.at[r, c.column] = c.value
                corr.mark(i)
                ctx.log.add(name, sh.name, r, c.column, c.value, "correction",
                            f"set (was {was!r}) by {c.where}: {c.reason}", severity="info", action="corrected",
                            pii=c.column in pii_raw)
        memo_key = (digest, cb.sha256, name, sh.name, wave, hdr) if not any(c.action == "set" for _, c in mine) else None
        hit = _MEMO.get(memo_key) if memo_key is not None else None
        if hit is not None:
            part, rows_logged = hit
            ctx.log.rows.extend(rows_logged)
        else:
            sub_log = CheckLog(pii_columns=ctx.log.pii_columns)
            tidy = apply_codebook(raw, entries, file=name, sheet=sh.name, log=sub_log, rows=list(tab.rows))
            ctx.log.rows.extend(sub_log.rows)
            part = Part(name, sh.name, wave if has_waves else None, raw, tidy, entries, key=key, table=table)
            if memo_key is not None and len(raw) * max(len(raw.columns), 1) <= MEMO_MAX_CELLS:
                _MEMO[memo_key] = (part, list(sub_log.rows))
                while len(_MEMO) > 64:
                    _MEMO.pop(next(iter(_MEMO)))
        all_rows = [(int(r), int(ln)) for r, ln in zip(raw.index, tab.lines, strict=True)]
        all_rows += [(i.row, i.line) for i in tab.issues]
        all_rows.sort()
        ctx.ledger.open_file(name, sh.name, [r for r, _ in all_rows], [ln for _, ln in all_rows])
        for iss in tab.issues:
            rule = "blank_row" if iss.kind == "blank" else "ragged_row"
            msg = iss.message if iss.kind == "blank" else f"{iss.message} (line {iss.line}); row not read"
            ctx.ledger.reject(name, sh.name, iss.row, iss.message)
            ctx.log.add(name, sh.name, iss.row, "", "", rule, msg, severity="info" if iss.kind == "blank" else "error",
                        action="rejected")
        if sh.trailing_blank:
            ctx.log.add(name, sh.name, 0, "", "", "blank_row", f"{sh.trailing_blank} blank line(s) at the end of the "
                        "file ignored", severity="info", action="skipped")
        for r, j, formula, value in sh.formulas:
            col = str(sh.cells[hdr][j - 1]) if j - 1 < len(sh.cells[hdr]) else ""
            if r <= tab.header_row:
                continue
            ctx.log.add(name, sh.name, r, normalize_text(col), formula, "formula",
                        "formula: the value Excel saved for it is used" if value else
                        "formula without a saved value: the cell is read as empty (open and save the file in Excel)",
                        severity="info" if value else "warning", action="normalized" if value else "set_missing",
                        pii=normalize_text(col) in pii_raw)
        for i, c in mine:
            if c.action == "drop":
                r = targets[i][2]
                corr.mark(i)
                ctx.ledger.reject(name, sh.name, r, f"dropped by {c.where}: {c.reason}")
                ctx.log.add(name, sh.name, r, "", "", "correction", f"row dropped by {c.where}: {c.reason}",
                            severity="info", action="rejected")
        parts.append(part)
        n_rows += len(all_rows)
    if not parts:
        raise CleaningError(f"{name}: no sheet with data was read; check the workbook or the ignore_sheet corrections")
    inputs.append({"file": name, "sha256": digest, "encoding": enc, "rows": n_rows,
                   "sheets": [p.sheet for p in parts if p.sheet]})
    return parts


def _norm(s: str) -> str:
    return ";".join(normalize_text(p).replace(" ", "") for p in s.split(";") if p.strip())


def _mask_tables(ctx: Context, tables: dict[str, pd.DataFrame]) -> None:
    """Last privacy guard: cells of processed tables holding a national ID or phone number are set
    missing (one check row per table and column)."""
    for name, df in tables.items():
        for c in find_pii(df):
            s = df[c]
            if pd.api.types.is_integer_dtype(s):
                bad = ((s >= 10**12) & (s < 10**13)).fillna(False)
            else:
                bad = s.astype("string").map(lambda v: pii_kind(v) is not None, na_action="ignore").fillna(False).astype(bool)
            n = int(bad.sum())
            df.loc[bad, c] = pd.NA
            ctx.log.add(f"({name} table)", "", 0, str(c), "", "pii_in_table",
                        f"{n} cell(s) of processed table {name!r} held a national ID or phone number; set missing",
                        action="set_missing")


def clean_all(
    raw_dir: str | Path,
    out_dir: str | Path | None,
    *,
    codebook: str | Path | None = None,
    key: str | bytes | Path | PseudonymKey | None = None,
    regions: ref.RegionScheme | None = None,
    demo: bool = False,
    corrections: str | Path | None = None,
    drop_pairs: Mapping[int, str] | Sequence[int] | None = None,
    drop_pairs_source: str = "clean_all(drop_pairs=...)",
    issues_dir: str | Path | None = None,
) -> CleanResult:
    """Clean the raw exports of ``raw_dir`` into validated processed tables.

    Parameters
    ----------
    raw_dir : path
        Folder with the raw exports (never written to).
    out_dir : path or None
        Folder for ``<table>.parquet``, ``ledger.csv``, ``checks.csv``, ``variables.csv`` (the processed
        codebook with Thai and English labels) and ``manifest.json``, published as one unit
        (:func:`~welfare_eval.clean.write.write_outputs`); ``None`` validates without writing.
    codebook : path, optional
        Codebook file (CSV or XLSX); default ``raw_dir/codebook.csv`` (or ``.xlsx``).
    key : optional
        Pseudonymisation key (see :func:`welfare_eval.clean.ids.load_key`); by default
        ``$WELFARE_EVAL_PSEUDONYM_KEY`` or ``~/.config/welfare_eval/pseudonym.key``. Without a key the
        run stops, unless ``demo``.
    demo : bool
        The caller has proved that ``raw_dir`` holds the simulator's demo exports (the pipeline compares
        every raw file's SHA-256 with the simulator's generation record): without a key, the public demo
        key is used, and the manifest and summary say so. Never set it for real data.
    corrections : path, optional
        Folder of corrections files (:mod:`welfare_eval.clean.corrections`); default
        ``raw_dir/corrections``.
    drop_pairs : mapping or sequence of int, optional
        Matched pairs left out of the study, ``{pair_id: reason}`` (or pair ids); as the ``drop_pair``
        correction: their villages' rows are rejected with the reason, and the manifest lists them.
    drop_pairs_source : str
        Where ``drop_pairs`` was decided, as the manifest records it (the pipeline passes the analysis plan's
        ``sample.drop_pairs``).
    issues_dir : path, optional
        Where the duplicates report (``duplicates_report.csv``) goes when conflicting duplicates stop
        the run; default the folder that holds ``out_dir`` (nothing is written when ``out_dir`` is None).
    regions : RegionScheme, optional
        The province → inspection-region mapping the villages are checked against (default: the packaged
        2017 scheme, or the one set with :func:`welfare_eval.reference.set_region_scheme`). The whole scheme
        is recorded in the manifest (``region_scheme``), so later stages and the report use the same one.

    Returns
    -------
    CleanResult

    Raises
    ------
    CleaningError
        One-line message naming the file (sheet, row, column) and what to do: missing raw folder,
        codebook, raw file or pseudonym key, codebook or corrections errors, unreadable files, rows
        that do not fit the header, faults of the design list, structural faults of the study,
        unsettled conflicting duplicates, schema failures.
    """
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise CleaningError(f"{raw}: raw data folder not found; run `welfare-eval simulate` or give --raw")
    if codebook is None:
        found = [raw / n for n in CODEBOOK_NAMES if (raw / n).is_file()]
        if not found:
            raise CleaningError(f"{raw}: no codebook.csv or codebook.xlsx; put the codebook beside the raw data")
        codebook = found[0]
    cb = read_codebook(codebook)
    pkey = load_key(key, allow_demo=bool(demo))
    corr_dir = Path(corrections) if corrections is not None else raw / "corrections"
    corr = read_corrections(corr_dir)
    scheme = regions if regions is not None else ref.region_scheme()
    ctx = Context(CheckLog(), Ledger(), pkey, regions=scheme)
    n_reg = len(scheme.regions)
    if pkey.is_demo:
        ctx.notes.append("DEMO pseudonym key used: hh_id values are NOT protected; never use it for real data")
    ctx.dropped_pairs = corr.dropped_pairs()
    if drop_pairs is not None:
        items = drop_pairs.items() if isinstance(drop_pairs, Mapping) else ((p, "") for p in drop_pairs)
        for pid, why in items:
            try:
                pid_int = int(pid)
            except (TypeError, ValueError):
                raise CleaningError(f"drop_pairs: pair id {pid!r} is not a whole number") from None
            ctx.dropped_pairs[pid_int] = (str(why) or "left out by the caller", drop_pairs_source)

    inputs: list[dict[str, Any]] = []
    parts: dict[str, list[Part]] = {}
    done: dict[str, str] = {}
    targets: dict[int, tuple[str, str, int]] = {}
    for pattern in cb.sources():
        files = sorted(p for p in raw.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern))
        if not files:
            raise CleaningError(f"{raw}: no raw file matches codebook source {pattern!r}; add the export or fix the codebook")
        for f in progress(files, desc=f"clean {pattern}", total=len(files)):
            if f.name in done:
                raise CleaningError(
                    f"{f.name}: matches two codebook sources ({done[f.name]!r}, {pattern!r}); make the patterns disjoint"
                )
            if pii_kind(f.name) is not None:
                raise CleaningError(f"{raw}: a raw file name holds a {pii_kind(f.name)}; rename the file")
            done[f.name] = pattern
            ps = _read_parts(f, cb, ctx, inputs, corr, targets)
            tables_of = set(ps[0].entries["table"])
            for t in tables_of:
                parts.setdefault(t, []).extend(ps)
    for i, c in enumerate(corr.items):
        if c.action in ("set", "drop", "keep") and i not in targets:
            raise CleaningError(f"{c.where}: {c.file!r}" + (f" sheet {c.sheet!r}" if c.sheet else "")
                                + " is not a raw file (or sheet) of the codebook; fix the file name")
        if c.action == "ignore_sheet" and i not in corr.used:
            raise CleaningError(f"{c.where}: {c.file} has no sheet {c.sheet!r}; fix the correction")
        if c.action == "keep_latest" and c.file not in done:
            raise CleaningError(f"{c.where}: {c.file!r} is not a raw file of the codebook; fix the file name")
    codebook_path = Path(codebook).resolve()
    ignored = sorted(
        p.name for p in raw.iterdir()
        if p.is_file() and p.name not in done and p.resolve() != codebook_path and not p.name.startswith(".")
        and not p.name.upper().startswith("README")  # the folder's own documentation
    )
    for name in ignored:  # an export of a source saved in another format would otherwise be left out unnoticed
        for pattern in cb.sources():
            if Path(name).suffix.lower() != Path(pattern).suffix.lower() and fnmatch.fnmatch(
                Path(name).stem, Path(pattern).stem
            ):
                raise CleaningError(
                    f"{name}: looks like an export of codebook source {pattern!r} but is a {Path(name).suffix or 'file '}"
                    f" without that type; save it as {Path(pattern).suffix} or move it out of the raw folder"
                )
    if ignored:
        ctx.notes.append(f"files not in the codebook, not imported: {ignored}")
    for need in ("frame", "villages"):
        if need not in parts:
            raise CleaningError(f"{Path(codebook).name}: no source file feeds table {need!r}; check the 'table' column")

    # identity and duplicates (before any table is built)
    units: dict[tuple[str, str | None], list[Part]] = {}
    for p in _unique([q for ps in parts.values() for q in ps]):
        if p.table == "households" and "hh_id" not in p.key:
            raise CleaningError(f"{cb.origin}: the key of {p.file} must include the household id (hh_id); mark it "
                                "key = yes in the codebook")
        if not cb.key_of(p.file):
            msg = f"{p.file}: the codebook declares no key; rows identified by {'+'.join(p.key)}"
            if msg not in ctx.notes:
                ctx.notes.append(msg)
        unit = units.setdefault((p.table, p.wave), [])
        if unit and unit[0].key != p.key:
            raise CleaningError(f"{cb.origin}: {unit[0].file} and {p.file} feed table {p.table!r} with different keys "
                                f"({unit[0].key} and {p.key}); declare the same key columns")
        unit.append(p)
    skip = _dropped_villages(parts.get("villages", []), ctx)
    report = settle_duplicates(ctx, units, corr, targets, skip_villages=skip)
    report_path = Path(issues_dir) / DUPLICATES_REPORT if issues_dir is not None else (
        Path(out_dir).absolute().parent / DUPLICATES_REPORT if out_dir is not None else None)
    if not report.empty:
        first = report[report["group"] == 1]
        e = f"{first['file'].iloc[0]} rows {', '.join(str(r) for r in first['row'])}: same {first['key'].iloc[0]}, " \
            f"different {first['differs'].iloc[0]}"
        saved = ""
        if report_path is not None:
            write_csv(report, report_path)
            saved = f"; every row is listed in {report_path}"
        raise CleaningError(
            f"{int(report['group'].max())} group(s) of conflicting duplicates (e.g. {e}){saved}; settle each group in "
            "data/raw/corrections/ (action keep or drop, or set a new id; see data/raw/README.md)"
        )
    if report_path is not None and report_path.is_file():
        report_path.unlink()  # the conflicts it listed are settled

    tables: dict[str, pd.DataFrame] = {}
    tables["frame"] = validate_table("frame", build_frame(ctx, parts["frame"]), n_regions=n_reg)
    tables["villages"] = validate_table("villages", build_villages(ctx, parts["villages"], tables["frame"]), n_regions=n_reg)
    hh_parts = _unique(parts.get("households", []) + parts.get("benefits", []))
    if hh_parts:
        hh, ben = build_households(ctx, hh_parts, tables["villages"])
        tables["households"] = validate_table("households", hh, n_regions=n_reg)
        tables["benefits"] = validate_table("benefits", ben, n_regions=n_reg)
    if parts.get("admin"):
        tables["admin"] = validate_table("admin", build_admin(ctx, parts["admin"], tables["villages"]), n_regions=n_reg)
    if parts.get("committee"):
        tables["committee"] = validate_table("committee", build_committee(ctx, parts["committee"], tables["villages"]), n_regions=n_reg)
    unknown_tables = sorted(set(parts) - set(TABLES))
    if unknown_tables:
        ctx.notes.append(f"codebook tables without a builder ignored: {unknown_tables}")

    # privacy guard: no PII column, and no ID/phone-looking value in any processed table
    pii_names = set(cb.entries.loc[cb.entries["is_pii"].astype(bool), "name"])
    for name, df in tables.items():
        bad = sorted(pii_names & set(df.columns))
        if bad:  # pragma: no cover - guarded by the builders
            raise CleaningError(f"processed table {name!r} would contain personal data in {bad}; report a bug")
    _mask_tables(ctx, tables)

    # drop cell-level failures of merged rows (their duplicate check stands for them)
    status = ctx.ledger.status
    ctx.log.drop(lambda r: r[5] in DUPLICATE_RULES or r[2] <= 1 or status.get((r[0], r[1], r[2]), ("kept",))[0] != "merged")
    ledger = ctx.ledger.frame()
    checks = ctx.log.frame()
    var = variables(tables, cb)
    for vc in ("label_th", "label_en", "unit"):
        var[vc] = var[vc].map(mask_text, na_action="ignore").astype("string")
    for inp in inputs:
        n_led = int((ledger["file"] == inp["file"]).sum())
        if n_led != inp["rows"]:  # pragma: no cover - ledger bookkeeping invariant
            raise RuntimeError(f"{inp['file']}: ledger has {n_led} rows but {inp['rows']} were read")

    in_raw = codebook_path.parent == raw.resolve()
    dropped = [
        {"pair_id": pid, "reason": mask_text(why), "decided_in": where,
         "villages": sorted(v for v, q in ctx.dropped_villages.items() if q == pid)}
        for pid, (why, where) in sorted(ctx.dropped_pairs.items())
    ]
    manifest: dict[str, Any] = {
        "package": "welfare_eval",
        "version": welfare_eval.__version__,
        "stage": "clean",
        "codebook": {"file": Path(codebook).name, "sha256": cb.sha256, "in_raw": in_raw},
        "key_source": pkey.source,
        "key_id": pkey.key_id,
        "demo_key": pkey.is_demo,
        "region_scheme": scheme.to_dict(),
        "inputs": inputs,
        "ignored_files": ignored,
        "keys": {p.file: p.key for p in _unique([q for ps in parts.values() for q in ps])},
        "corrections": {
            "files": corr.files if corr_dir.resolve().parent == raw.resolve()
            else [{**f, "path": str((corr_dir / Path(f["file"]).name).resolve())} for f in corr.files],
            "applied": len(corr.used),
        },
        "dropped_pairs": dropped,
    }
    if dropped:
        ctx.notes.append("pairs left out of the study: " + "; ".join(
            f"pair {d['pair_id']} ({d['reason']})" for d in dropped))
    if out_dir is not None:
        manifest = write_outputs(out_dir, tables, reports={"ledger": ledger, "checks": checks, "variables": var},
                                 manifest=manifest, raw_dir=raw)
    return CleanResult(
        tables, ledger, checks, manifest, Path(out_dir) if out_dir is not None else None, list(ctx.notes), var
    )


def _dropped_villages(parts: list[Part], ctx: Context) -> set[str]:
    """Villages of the dropped pairs, from the design list's (converted) pair ids."""
    out: set[str] = set()
    if not ctx.dropped_pairs:
        return out
    for p in parts:
        if "pair_id" in p.tidy.columns and "village_id" in p.tidy.columns:
            hit = p.tidy["pair_id"].isin(list(ctx.dropped_pairs)).fillna(False)
            out |= {str(v) for v in p.tidy.loc[hit, "village_id"].dropna()}
    return out


def _unique(parts: list[Part]) -> list[Part]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in parts:
        if (p.file, p.sheet) not in seen:
            seen.add((p.file, p.sheet))
            out.append(p)
    return out
