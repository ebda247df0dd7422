"""Deterministic, all-or-nothing writing of the processed tables, ledger, checks and manifest.

Everything is first written into a temporary folder beside ``out_dir``; only when every file has been
written are they moved into ``out_dir`` one by one with :func:`os.replace` (atomic per file on the
same file system). A failure leaves ``out_dir`` as it was. Parquet files carry no timestamps, so the
same tables give byte-identical files and the manifest's hashes are reproducible.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from welfare_eval.clean.io import CleaningError, sha256_file

__all__ = ["write_outputs", "write_parquet"]


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` without its index as Parquet (snappy, no timestamps)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, compression="snappy")


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    # UTF-8 with BOM so that spreadsheet programs show Thai text correctly
    df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")


def write_outputs(
    out_dir: str | Path,
    tables: dict[str, pd.DataFrame],
    *,
    reports: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    raw_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Write ``<table>.parquet``, ``<report>.csv`` and ``manifest.json`` into ``out_dir``.

    The manifest gets an ``outputs`` list (file, sha256, rows, columns) before it is written.

    Raises
    ------
    CleaningError
        If ``out_dir`` is inside ``raw_dir`` (the raw folder is never written).
    """
    out = Path(out_dir).resolve()
    if raw_dir is not None:
        raw = Path(raw_dir).resolve()
        if out == raw or raw in out.parents:
            raise CleaningError(f"{out}: output folder is inside the raw data folder {raw}; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        outputs = []
        for name in sorted(tables):
            p = tmp / f"{name}.parquet"
            write_parquet(tables[name], p)
            outputs.append(
                {"file": p.name, "sha256": sha256_file(p), "rows": len(tables[name]), "columns": list(tables[name].columns)}
            )
        for name in sorted(reports):
            p = tmp / f"{name}.csv"
            _write_csv(reports[name], p)
            outputs.append({"file": p.name, "sha256": sha256_file(p), "rows": len(reports[name])})
        manifest = {**manifest, "outputs": outputs}
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n", encoding="utf-8"
        )
        out.mkdir(parents=True, exist_ok=True)
        for p in sorted(tmp.iterdir()):
            os.replace(p, out / p.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest
