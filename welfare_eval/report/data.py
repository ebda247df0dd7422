"""Everything a report shows, in one object that the pipeline builds and hands to the renderer.

The report never looks for files: :func:`welfare_eval.pipeline.report_data` collects the analysis results,
the cleaning manifest, ledger and checks, the analysis plan, the region scheme, the demo's planted truth (only
while the raw data are the demo's) and the software provenance into a :class:`ReportData`;
:meth:`ReportData.save` writes it to a folder whose path is the report's one parameter (``report_data``, a
Quarto execute parameter; the built-in renderer injects it the same way), and the report's first cell calls
:meth:`ReportData.load`. No environment variable and no process-wide setting travels between them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from welfare_eval._io import json_dumps, parquet_bytes, write_parquet

__all__ = ["ReportData", "ReportDataError"]

_META = "report_data.json"
_FORMAT = 1


class ReportDataError(ValueError):
    """The report's data bundle is missing or unreadable."""


@dataclass
class ReportData:
    """Everything the report shows, loaded once.

    Attributes
    ----------
    results : dict of DataFrame
        The analysis result tables (``design``, ``impact_effects``, ...).
    manifest : dict
        The cleaning manifest (inputs and outputs with hashes, key source, region scheme).
    ledger, checks : DataFrame
        The cleaning ledger (one row per raw row) and failed checks (values masked).
    truth : dict or None
        The demo's planted truth; ``None`` for real data (or demo files that were changed).
    simulation : dict or None
        The demo's generation record (seed, raw-file hashes) while the raw files are the demo's.
    seed : int or None
        Seed of the analysis.
    plan : dict
        The analysis plan as plain data (``welfare_eval.study.AnalysisPlan.to_dict()``), with
        ``plan_sha256`` and ``plan_source``.
    region_scheme : dict
        The province → region scheme the data were cleaned with (``RegionScheme.to_dict()``).
    software : dict
        Package version, git commit (when known), SHA-256 of ``requirements.lock``, versions of key packages.
    fieldwork : DataFrame
        Counts per village × survey wave (:func:`welfare_eval.report.fieldwork.fieldwork_table`): sampled,
        interviewed, panel, reasons for non-interview, first and last interview date. Empty when unknown.
    analysed_at : str
        When the analysis ran (ISO 8601, UTC; recorded in ``results/analysis.json``); empty when unknown.
    """

    results: dict[str, pd.DataFrame]
    manifest: dict[str, Any] = field(default_factory=dict)
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    truth: dict[str, Any] | None = None
    simulation: dict[str, Any] | None = None
    seed: int | None = None
    plan: dict[str, Any] = field(default_factory=dict)
    plan_sha256: str = ""
    plan_source: str = ""
    region_scheme: dict[str, Any] = field(default_factory=dict)
    software: dict[str, Any] = field(default_factory=dict)
    fieldwork: pd.DataFrame = field(default_factory=pd.DataFrame)
    analysed_at: str = ""

    @property
    def fieldwork_end(self) -> str:
        """Date of the last interview (``YYYY-MM-DD``), or ``""`` when the fieldwork table is empty."""
        f = self.fieldwork
        if f.empty or "last_interview" not in f:
            return ""
        v = f["last_interview"].dropna()
        return str(v.max()) if len(v) else ""

    @property
    def report_date(self) -> str:
        """The date the report carries: the analysis date, else the end of fieldwork (never "today", so a
        report rebuilt from the same results is the same report)."""
        return self.analysed_at[:10] if self.analysed_at else self.fieldwork_end

    @property
    def dropped_pairs(self) -> pd.DataFrame:
        """The matched pairs left out at cleaning (a ``drop_pair`` correction or ``clean_all(drop_pairs=...)``),
        from the cleaning manifest: ``pair_id``, ``villages`` (village codes joined by ", "), ``reason`` and
        ``decided_in`` (the corrections file and row, or the call). Empty when every pair was kept."""
        rows = [
            {"pair_id": int(e["pair_id"]), "villages": ", ".join(str(v) for v in e.get("villages") or []),
             "reason": str(e.get("reason") or ""), "decided_in": str(e.get("decided_in") or "")}
            for e in self.manifest.get("dropped_pairs") or [] if isinstance(e, dict) and "pair_id" in e
        ]
        cols = ["pair_id", "villages", "reason", "decided_in"]
        return pd.DataFrame(rows, columns=cols).sort_values("pair_id", kind="mergesort").reset_index(drop=True)

    @property
    def is_demo(self) -> bool:
        """Whether the data are the simulated demo (the raw files match the generation record)."""
        return self.simulation is not None

    @property
    def lock_sha256(self) -> str | None:
        """SHA-256 of ``requirements.lock`` (``None`` when unknown)."""
        v = self.software.get("lock_sha256")
        return str(v) if v else None

    @property
    def min_cell(self) -> int:
        """Smallest number of respondents a published cell may rest on (plan ``reporting.min_cell``, default 5)."""
        return int((self.plan.get("reporting") or {}).get("min_cell", 5))

    def result(self, key: str) -> pd.DataFrame:
        """One result table; a clear error when the analysis did not make it."""
        if key not in self.results:
            raise ReportDataError(f"the analysis results have no table {key!r}; run `welfare-eval analyze` again")
        return self.results[key]

    # ----------------------------------------------------------------------------------------------
    def save(self, folder: str | Path, *, durable: bool = True) -> Path:
        """Write the bundle to ``folder`` (Parquet tables and one JSON file); returns the folder.

        ``durable=False`` (a temporary bundle, read once by a render and removed) writes the files directly,
        without the atomic rename and fsync of each file (about 0.2 s for the demo's 56 tables).
        """
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)

        def put(df: pd.DataFrame, path: Path) -> None:
            if durable:
                write_parquet(df, path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(parquet_bytes(df))

        for name, df in sorted(self.results.items()):
            put(df, out / "results" / f"{name}.parquet")
        put(self.ledger.astype(str) if len(self.ledger.columns) else self.ledger, out / "ledger.parquet")
        put(self.checks.astype(str) if len(self.checks.columns) else self.checks, out / "checks.parquet")
        put(self.fieldwork, out / "fieldwork.parquet")
        meta = {
            "format": _FORMAT,
            "tables": sorted(self.results),
            "manifest": self.manifest,
            "truth": self.truth,
            "simulation": self.simulation,
            "seed": self.seed,
            "plan": self.plan,
            "plan_sha256": self.plan_sha256,
            "plan_source": self.plan_source,
            "region_scheme": self.region_scheme,
            "software": self.software,
            "analysed_at": self.analysed_at,
        }
        (out / _META).write_text(json_dumps(meta), encoding="utf-8")
        return out

    @classmethod
    def load(cls, folder: str | Path | None) -> ReportData:
        """Read a bundle written by :meth:`save`.

        Raises
        ------
        ReportDataError
            ``folder`` is ``None`` (the report was rendered without its ``report_data`` parameter: render it
            with ``welfare-eval report``) or holds no bundle.
        """
        if folder is None:
            raise ReportDataError(
                "the report has no data: render it with `welfare-eval report` (or pass the execute parameter "
                "report_data=<folder made by welfare_eval.pipeline.report_data(...).save(...)>)"
            )
        p = Path(folder)
        meta_p = p / _META
        if not meta_p.is_file():
            raise ReportDataError(f"{p}: no report data bundle ({_META} missing)")
        meta = json.loads(meta_p.read_text("utf-8"))
        if meta.get("format") != _FORMAT:
            raise ReportDataError(f"{p}: report data bundle format {meta.get('format')!r} is not {_FORMAT}")
        results = {n: pd.read_parquet(p / "results" / f"{n}.parquet") for n in meta["tables"]}
        return cls(
            results=results,
            manifest=meta.get("manifest") or {},
            ledger=pd.read_parquet(p / "ledger.parquet"),
            checks=pd.read_parquet(p / "checks.parquet"),
            truth=meta.get("truth"),
            simulation=meta.get("simulation"),
            seed=meta.get("seed"),
            plan=meta.get("plan") or {},
            plan_sha256=str(meta.get("plan_sha256") or ""),
            plan_source=str(meta.get("plan_source") or ""),
            region_scheme=meta.get("region_scheme") or {},
            software=meta.get("software") or {},
            fieldwork=pd.read_parquet(p / "fieldwork.parquet") if (p / "fieldwork.parquet").is_file() else pd.DataFrame(),
            analysed_at=str(meta.get("analysed_at") or ""),
        )
