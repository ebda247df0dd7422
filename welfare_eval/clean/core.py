"""``clean_all``: raw exports + codebook → validated processed tables, ledger, checks and manifest."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import welfare_eval
import welfare_eval.reference as ref
from welfare_eval._progress import progress
from welfare_eval._results import ResultBase
from welfare_eval.clean.apply import ROW, apply_codebook
from welfare_eval.clean.checks import CheckLog, Ledger
from welfare_eval.clean.codebook import Codebook, read_codebook
from welfare_eval.clean.ids import PseudonymKey, load_key
from welfare_eval.clean.io import CleaningError, RawTable, read_table, read_workbook
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
from welfare_eval.clean.write import write_outputs

__all__ = ["TABLES", "CleanResult", "clean_all", "find_pii", "variables"]

#: Processed tables, in dependency order.
TABLES: tuple[str, ...] = ("frame", "villages", "households", "benefits", "admin", "committee")
CODEBOOK_NAMES = ("codebook.csv", "codebook.xlsx")
_NATIONAL_ID = re.compile(r"(?<!\d)\d{13}(?!\d)|(?<!\d)\d-\d{4}-\d{5}-\d{2}-\d(?!\d)")
_PHONE = re.compile(r"(?<![\d-])(?:\+66|0)\d{1,2}[- ]?\d{3}[- ]?\d{4}(?![\d-])")


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


def find_pii(df: pd.DataFrame) -> list[str]:
    """Columns of ``df`` that look like national IDs or Thai phone numbers.

    Text columns are searched for 13-digit runs (or the dashed ID layout) and phone numbers; integer
    columns for 13-digit values (an ID stored as a number).
    """
    hits = []
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_integer_dtype(s):
            x = s.dropna().astype("int64")
            if ((x >= 10**12) & (x < 10**13)).any():
                hits.append(str(c))
            continue
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object or isinstance(s.dtype, pd.CategoricalDtype)):
            continue
        vals = s.dropna().astype(str)
        if vals.str.contains(_NATIONAL_ID).any() or vals.str.contains(_PHONE).any():
            hits.append(str(c))
    return hits


def variables(tables: dict[str, pd.DataFrame], cb: Codebook) -> pd.DataFrame:
    """The processed codebook: one row per column of each processed table.

    ``table``, ``column``, ``dtype``, ``unit``, ``label_th``, ``label_en`` and ``source`` (``codebook``
    when the column comes from a raw column, ``reference`` when its label comes from
    :func:`welfare_eval.reference.label`, ``derived`` otherwise).
    """
    e = cb.entries
    by_table = e.drop_duplicates(["table", "name"]).set_index(["table", "name"])
    by_name = e.drop_duplicates("name").set_index("name")
    rows = []
    def from_reference(keys: tuple[str, ...]) -> tuple[str, str] | None:
        for k in keys:
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
            elif (t, c) in by_table.index or c in by_name.index:
                hit = by_table.loc[[(t, c)]] if (t, c) in by_table.index else by_name.loc[[c]]
                r = hit.iloc[0]
                unit, th, en, src = str(r["unit"]), str(r["label_th"]), str(r["label_en"]), "codebook"
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


def _read_parts(path: Path, cb: Codebook, ctx: Context, inputs: list[dict[str, Any]]) -> list[Part]:
    name = path.name
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        tabs: list[tuple[str, RawTable]] = read_workbook(path)
    else:
        tabs = [("", read_table(path))]
    wave = _wave_of(name)
    has_waves = any(bool(w) for w in cb.for_file(name)["wave_list"])
    if has_waves and wave is None:
        raise CleaningError(f"{name}: the codebook lists survey waves for this file but its name has no wave; "
                            f"name it like household_survey_baseline.csv")
    parts = []
    n_rows = 0
    for sheet, tab in tabs:
        where = f"{name}" + (f" sheet {sheet!r}" if sheet else "")
        if tab.data.empty:
            raise CleaningError(f"{where}: no data rows; re-export it or remove it from the raw folder")
        entries, unknown = cb.check_header(name, list(tab.data.columns), wave=wave if has_waves else None)
        for col in unknown:
            ctx.log.add(name, sheet, 1, col, "", "unknown_column", "column not in the codebook; not imported",
                        severity="warning", action="dropped_column")
        tidy = apply_codebook(tab.data, entries, file=name, sheet=sheet, log=ctx.log)
        ctx.ledger.open_file(name, sheet, tidy[ROW].tolist())
        parts.append(Part(name, sheet, wave if has_waves else None, tab.data, tidy, entries))
        n_rows += len(tab.data)
    inputs.append({"file": name, "sha256": tabs[0][1].sha256, "encoding": tabs[0][1].encoding, "rows": n_rows,
                   "sheets": [s for s, _ in tabs if s]})
    return parts


def clean_all(
    raw_dir: str | Path,
    out_dir: str | Path | None,
    *,
    codebook: str | Path | None = None,
    key: str | bytes | Path | PseudonymKey | None = None,
    regions: ref.RegionScheme | None = None,
    demo: bool = False,
) -> CleanResult:
    """Clean the raw exports of ``raw_dir`` into validated processed tables.

    Parameters
    ----------
    raw_dir : path
        Folder with the raw exports (never written to).
    out_dir : path or None
        Folder for ``<table>.parquet``, ``ledger.csv``, ``checks.csv``, ``variables.csv`` (the processed
        codebook with Thai and English labels) and ``manifest.json``
        (written all-or-nothing); ``None`` validates without writing.
    codebook : path, optional
        Codebook file (CSV or XLSX); default ``raw_dir/codebook.csv`` (or ``.xlsx``).
    key : optional
        Pseudonymisation key (see :func:`welfare_eval.clean.ids.load_key`); by default
        ``$WELFARE_EVAL_PSEUDONYM_KEY`` or ``~/.config/welfare_eval/pseudonym.key``; without one the run stops
        (fail closed), unless ``demo`` is true.
    demo : bool
        The caller has proved that the raw files are the simulated demo (the pipeline compares their SHA-256
        with the simulator's generation record): then, without a key, the public demo key is used and the
        manifest and summary say so. The cleaning itself never guesses this from file names.
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
        One-line message naming the file and what to do: missing raw folder, codebook or raw file,
        codebook errors, unknown encoding, empty file, missing codebook column, schema failure.
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
    pkey = load_key(key, allow_demo=demo)
    scheme = regions if regions is not None else ref.region_scheme()
    ctx = Context(CheckLog(), Ledger(), pkey, regions=scheme)
    n_reg = len(scheme.regions)
    if pkey.is_demo:
        ctx.notes.append("DEMO pseudonym key used: hh_id values are NOT protected; never use it for real data")

    inputs: list[dict[str, Any]] = []
    parts: dict[str, list[Part]] = {}
    done: dict[str, str] = {}
    for pattern in cb.sources():
        files = sorted(p for p in raw.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pattern))
        if not files:
            raise CleaningError(f"{raw}: no raw file matches codebook source {pattern!r}; add the export or fix the codebook")
        for f in progress(files, desc=f"clean {pattern}", total=len(files)):
            if f.name in done:
                raise CleaningError(
                    f"{f.name}: matches two codebook sources ({done[f.name]!r}, {pattern!r}); make the patterns disjoint"
                )
            done[f.name] = pattern
            ps = _read_parts(f, cb, ctx, inputs)
            tables_of = set(ps[0].entries["table"])
            for t in tables_of:
                parts.setdefault(t, []).extend(ps)
    codebook_path = Path(codebook).resolve()
    ignored = sorted(
        p.name for p in raw.iterdir()
        if p.is_file() and p.name not in done and p.resolve() != codebook_path and not p.name.startswith(".")
        and not p.name.upper().startswith("README")  # the folder's own documentation
    )
    if ignored:
        ctx.notes.append(f"files not in the codebook, not imported: {ignored}")
    for need in ("frame", "villages"):
        if need not in parts:
            raise CleaningError(f"{Path(codebook).name}: no source file feeds table {need!r}; check the 'table' column")

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

    # privacy guard: no PII column and no ID/phone-looking text in any processed table
    pii_names = set(cb.entries.loc[cb.entries["is_pii"].astype(bool), "name"])
    for name, df in tables.items():
        bad = sorted(pii_names & set(df.columns)) or find_pii(df)
        if bad:  # pragma: no cover - guarded by the builders
            raise CleaningError(f"processed table {name!r} would contain personal data in {bad}; report a bug")

    # drop cell-level failures of merged rows (their duplicate check stands for them)
    status = ctx.ledger.status
    ctx.log.drop(lambda r: r[5] in DUPLICATE_RULES or r[2] <= 1 or status.get((r[0], r[1], r[2]), ("kept",))[0] != "merged")
    ledger = ctx.ledger.frame()
    checks = ctx.log.frame()
    var = variables(tables, cb)
    for i in inputs:
        n = int((ledger["file"] == i["file"]).sum())
        if n != i["rows"]:  # pragma: no cover - ledger bookkeeping invariant
            raise RuntimeError(f"{i['file']}: ledger has {n} rows but {i['rows']} were read")

    manifest: dict[str, Any] = {
        "package": "welfare_eval",
        "version": welfare_eval.__version__,
        "stage": "clean",
        "codebook": {"file": Path(codebook).name, "sha256": cb.sha256},
        "key_source": pkey.source,
        "key_id": pkey.key_id,
        "demo_key": pkey.is_demo,
        "region_scheme": scheme.to_dict(),
        "inputs": inputs,
        "ignored_files": ignored,
    }
    if out_dir is not None:
        manifest = write_outputs(out_dir, tables, reports={"ledger": ledger, "checks": checks, "variables": var}, manifest=manifest,
                                 raw_dir=raw)
        for t in TABLES:  # a table of an earlier run that this codebook no longer produces would mislead
            if t not in tables:
                (Path(out_dir) / f"{t}.parquet").unlink(missing_ok=True)
    return CleanResult(
        tables, ledger, checks, manifest, Path(out_dir) if out_dir is not None else None, list(ctx.notes), var
    )


def _unique(parts: list[Part]) -> list[Part]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in parts:
        if (p.file, p.sheet) not in seen:
            seen.add((p.file, p.sheet))
            out.append(p)
    return out
