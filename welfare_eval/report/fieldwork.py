"""Fieldwork counts for the report: sample, response and panel retention per village and survey wave.

:func:`fieldwork_table` reduces the processed household table to one row per village × wave (counts and the
first and last interview date; no household-level data), which the pipeline puts in the report's data bundle
(:attr:`welfare_eval.report.data.ReportData.fieldwork`). The report's timeline (survey dates) and attrition
section (response, panel retention, differential attrition by arm) read it.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FIELDWORK_COLUMNS", "fieldwork_table"]

#: Columns of :func:`fieldwork_table`.
FIELDWORK_COLUMNS = (
    "village_id", "pair_id", "arm", "treated", "wave", "n_sampled", "n_interviewed", "n_panel", "n_refused",
    "n_not_at_home", "n_moved", "n_other", "first_interview", "last_interview",
)

_WAVES = ("baseline", "midline", "endline")


def fieldwork_table(households: pd.DataFrame) -> pd.DataFrame:
    """Per village × wave: households sampled, interviewed, also sampled in the previous wave (``n_panel``),
    not interviewed by reason, and the first/last interview date (ISO ``YYYY-MM-DD``).

    Parameters
    ----------
    households : DataFrame
        The processed household table (``village_id``, ``pair_id``, ``arm``, ``treated``, ``wave``,
        ``status``, ``interviewed``, ``panel`` and, when known, ``interview_time``).

    Raises
    ------
    ValueError
        If a required column is missing.
    """
    need = ["village_id", "pair_id", "arm", "treated", "wave", "status", "interviewed", "panel"]
    missing = [c for c in need if c not in households.columns]
    if missing:
        raise ValueError(f"fieldwork_table: the household table has no column(s) {missing}")
    h = households.assign(wave=households["wave"].astype(str), status=households["status"].astype(str))
    when = next((c for c in ("interview_time", "submitted_at") if c in h.columns), None)
    if when is not None:
        t = pd.to_datetime(h[when], errors="coerce")
        h = h.assign(_when=t.where(h["interviewed"] == 1))
    else:
        h = h.assign(_when=pd.Series(pd.NaT, index=h.index, dtype="datetime64[ns]"))
    keys = ["village_id", "pair_id", "arm", "treated", "wave"]
    g = h.groupby(keys, observed=True, sort=False)
    out = g.agg(
        n_sampled=("status", "size"),
        n_interviewed=("interviewed", "sum"),
        n_panel=("panel", "sum"),
        n_refused=("status", lambda s: int((s == "refused").sum())),
        n_not_at_home=("status", lambda s: int((s == "not_at_home").sum())),
        n_moved=("status", lambda s: int((s == "moved").sum())),
        first_interview=("_when", "min"),
        last_interview=("_when", "max"),
    ).reset_index()
    out["n_other"] = out["n_sampled"] - out["n_interviewed"] - out[["n_refused", "n_not_at_home", "n_moved"]].sum(axis=1)
    for c in ("first_interview", "last_interview"):
        out[c] = out[c].dt.strftime("%Y-%m-%d").astype("string")
    for c in ("n_sampled", "n_interviewed", "n_panel", "n_refused", "n_not_at_home", "n_moved", "n_other",
              "pair_id", "treated"):
        out[c] = out[c].astype("int64")
    out["village_id"] = out["village_id"].astype("string")
    out["arm"] = out["arm"].astype("string")
    order = {w: i for i, w in enumerate(_WAVES)}
    out = out.sort_values(["wave", "pair_id", "treated"], key=lambda s: s.map(order) if s.name == "wave" else s,
                          kind="mergesort").reset_index(drop=True)
    return out[list(FIELDWORK_COLUMNS)]
