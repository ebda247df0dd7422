"""The study's household sample: processed tables in, one analysis frame out (used by every step).

One reshaping of the benefits table (:func:`receipt_wide`) and one household frame (:func:`household_frame`)
so that the descriptive tables, the impact analysis and the success factors agree on who received which
welfare type. Rules (the cleaning stage guarantees them; here they are checked, never repaired silently):

* every ``welfare_type`` code is in the reference list (``welfare_eval.reference.welfare_types()``);
* at most one row per household × wave × welfare type;
* every interviewed household has a row for every welfare type; nonrespondents have none (their
  ``received_<type>`` values are missing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

import welfare_eval.reference as ref

__all__ = ["RECEIVED_PREFIX", "receipt_columns", "receipt_wide", "require_tables"]

#: Prefix of the receipt indicator columns (``received_<welfare type code>``).
RECEIVED_PREFIX = "received_"


def require_tables(tables: Mapping[str, pd.DataFrame], *names: str, step: str = "analysis") -> None:
    """Raise a one-line error when processed tables are missing."""
    missing = [n for n in names if n not in tables]
    if missing:
        raise ValueError(
            f"{step}: processed table(s) {missing} are missing; run `welfare-eval clean` first "
            "(it writes them to data/processed/)"
        )


def receipt_columns() -> list[str]:
    """``received_<code>`` for the nine welfare types, in reference order."""
    return [f"{RECEIVED_PREFIX}{c}" for c in ref.welfare_types()["code"]]


def receipt_wide(households: pd.DataFrame, benefits: pd.DataFrame) -> pd.DataFrame:
    """``households`` with one ``received_<code>`` column (0/1 float, NaN for nonrespondents) per welfare type.

    Parameters
    ----------
    households : DataFrame
        One row per sampled household × wave (``hh_id``, ``wave``, ``interviewed``).
    benefits : DataFrame
        Long table: household × wave × ``welfare_type`` with ``received`` (0/1).

    Raises
    ------
    ValueError
        Missing columns, an unknown welfare-type code, a duplicate household × wave × type row, a
        ``received`` value other than 0/1, or an interviewed household without a row for some type.
    """
    need = ["hh_id", "wave", "welfare_type", "received"]
    miss = [c for c in need if c not in benefits.columns]
    if miss:
        raise ValueError(f"benefits table has no column(s) {miss}; it needs {', '.join(need)}")
    codes = [str(c) for c in ref.welfare_types()["code"]]
    b = benefits[need].copy()
    b["hh_id"] = b["hh_id"].astype(str)
    b["wave"] = b["wave"].astype(str)
    b["welfare_type"] = b["welfare_type"].astype(str)
    unknown = sorted(set(b["welfare_type"]) - set(codes))
    if unknown:
        raise ValueError(
            f"benefits: welfare_type {unknown[0]!r} is not a reference welfare type ({', '.join(codes)}); "
            "recode it in the codebook (allowed codes) before cleaning"
        )
    dup = b.duplicated(["hh_id", "wave", "welfare_type"])
    if dup.any():
        first = b.loc[dup].iloc[0]
        raise ValueError(
            f"benefits: {int(dup.sum())} duplicate household × wave × welfare_type row(s) "
            f"(e.g. {first['hh_id']} {first['wave']} {first['welfare_type']}); the cleaning stage should prevent this"
        )
    rec = pd.to_numeric(b["received"], errors="coerce").astype(float)
    bad = rec.notna() & ~rec.isin([0.0, 1.0])
    if bad.any():
        first = b.loc[bad].iloc[0]
        raise ValueError(
            f"benefits: received = {first['received']!r} for {first['hh_id']} {first['wave']} "
            f"{first['welfare_type']}; it must be 0 or 1"
        )
    b["received"] = rec
    wide = b.pivot(index=["hh_id", "wave"], columns="welfare_type", values="received").reindex(columns=codes)
    hh = households.copy()
    keys = pd.MultiIndex.from_arrays([hh["hh_id"].astype(str), hh["wave"].astype(str)])
    vals = wide.reindex(keys).astype(float)
    for c in codes:
        hh[f"{RECEIVED_PREFIX}{c}"] = vals[c].to_numpy()
    resp = hh["interviewed"].astype(int).to_numpy() == 1
    missing_any = vals.isna().to_numpy()[resp]
    if missing_any.any():
        i = int(np.flatnonzero(missing_any.any(axis=1))[0])
        row = hh[resp].iloc[i]
        t = codes[int(np.flatnonzero(missing_any[i])[0])]
        raise ValueError(
            f"benefits: no receipt record of welfare type {t!r} for interviewed household {row['hh_id']} "
            f"in wave {row['wave']}; the benefits table must hold every welfare type of every interviewed household"
        )
    return hh


def numeric_outcomes(frame: pd.DataFrame, outcomes: Sequence[str]) -> pd.DataFrame:
    """A copy with each of ``outcomes`` (when present) as float (unparseable values become NaN)."""
    out = frame.copy()
    for c in outcomes:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out
