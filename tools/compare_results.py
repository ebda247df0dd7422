"""Compare two analysis results folders (data/processed/results) table by table.

Usage: .venv/bin/python tools/compare_results.py BEFORE_DIR AFTER_DIR
Each Parquet file is byte-identical, or has the same columns, dtypes and shape with numeric values equal to 1e-12
relative (NaN where NaN) and other values exactly equal; anything else is listed. Exit status 1 on a difference.
Used to check that speed work changes no result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def compare(a: Path, b: Path, rtol: float = 1e-12) -> int:
    fa = {p.name for p in a.glob("*.parquet")}
    fb = {p.name for p in b.glob("*.parquet")}
    bad = 0
    if fa != fb:
        print("file sets differ:", sorted(fa ^ fb))
        bad += 1
    n_bytes = n_close = 0
    for name in sorted(fa & fb):
        if (a / name).read_bytes() == (b / name).read_bytes():
            n_bytes += 1
            continue
        da, db = pd.read_parquet(a / name), pd.read_parquet(b / name)
        problems = []
        if list(da.columns) != list(db.columns):
            problems.append(f"columns {list(da.columns)} vs {list(db.columns)}")
        elif da.shape != db.shape:
            problems.append(f"shape {da.shape} vs {db.shape}")
        else:
            for c in da.columns:
                x, y = da[c], db[c]
                if x.dtype != y.dtype:
                    problems.append(f"{c}: dtype {x.dtype} vs {y.dtype}")
                    continue
                if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
                    xv, yv = x.to_numpy(dtype=float, na_value=np.nan), y.to_numpy(dtype=float, na_value=np.nan)
                    with np.errstate(invalid="ignore"):
                        diff = np.abs(xv - yv)
                    same_nan = np.array_equal(np.isnan(xv), np.isnan(yv))
                    ok = np.isnan(xv) | (diff <= rtol * np.maximum(np.abs(xv), np.abs(yv)))
                    ok |= xv == yv
                    if not same_nan or not ok.all():
                        rel = np.nanmax(diff / np.maximum(np.abs(xv), 1e-300))
                        problems.append(f"{c}: max rel diff {rel:.3g}")
                elif not x.equals(y):
                    problems.append(f"{c}: values differ")
        if problems:
            bad += 1
            print(f"DIFF {name}: " + "; ".join(problems))
        else:
            n_close += 1
            print(f"close (not byte-identical) {name}")
    print(f"{n_bytes} byte-identical, {n_close} equal to {rtol:g} relative, {bad} different")
    return bad


if __name__ == "__main__":
    sys.exit(1 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 0)
