"""Reading the monitoring store: the current state "as of" a date, history, submission status.

A village-period may be reported several times (a correction is a new submission whose rows
supersede the earlier ones). The state **as of** a date ``D`` is, for every village-period, the
latest version received on or before ``D`` (corrections received later are ignored), so a report on
a past period, built with the same ``as_of``, gives the same numbers however many corrections have
arrived since. ``as_of`` may be a date, an ISO date text, or a reporting period, meaning that
period's report cut-off: :func:`cutoff` (the end of the quarter + ``cutoff_days``, default 45).
``as_of=None`` is the latest state.

Every function returns a DataFrame sorted by a fixed key (village, period, the table's own key, then
row id), with dates as :class:`datetime.date` and money as float, so the same store gives the same
tables on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from welfare_eval.monitor import schema as S
from welfare_eval.monitor.db import MonitorDB
from welfare_eval.monitor.periods import Period, PeriodError, parse_period

__all__ = [
    "CUTOFF_DAYS",
    "TABLE_KEYS",
    "current",
    "cutoff",
    "history",
    "panel",
    "resolve_as_of",
    "submission_status",
    "submissions",
    "trace",
]

#: Default days after the end of a quarter at which its progress report is compiled.
CUTOFF_DAYS = 45
#: Sort key of each figure table (after village and period).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "workshop": ("phase", "held_on"),
    "welfare_rule": ("welfare_type",),
    "membership": ("organisation",),
    "payout": ("welfare_type",),
    "profit": ("organisation", "fiscal_year"),
    "allocation": ("organisation", "fiscal_year", "category"),
    "fund_balance": (),
    "narrative": ("kind", "seq"),
}


def cutoff(period: Period | str, days: int = CUTOFF_DAYS) -> _dt.date:
    """The report cut-off of ``period``: ``days`` days after the end of the quarter."""
    return parse_period(period).due(days)


def resolve_as_of(as_of: _dt.date | str | Period | None, *, cutoff_days: int = CUTOFF_DAYS) -> _dt.date | None:
    """A date from ``as_of``: a date, an ISO date text, or a period (its :func:`cutoff`)."""
    if as_of is None:
        return None
    if isinstance(as_of, _dt.datetime):
        return as_of.date()
    if isinstance(as_of, _dt.date):
        return as_of
    if isinstance(as_of, Period):
        return cutoff(as_of, cutoff_days)
    try:
        return _dt.date.fromisoformat(str(as_of))
    except ValueError:
        pass
    try:
        return cutoff(parse_period(str(as_of)), cutoff_days)
    except PeriodError:
        raise ValueError(f"as_of {as_of!r} is neither a date (YYYY-MM-DD) nor a period (e.g. 2569Q3)") from None


def _current_vp(as_of: _dt.date | None) -> sa.Subquery:
    """Village-period rows current as of ``as_of`` with their submission's receipt date."""
    vp, sub = S.village_period, S.submission
    n, s2 = vp.alias("n"), sub.alias("s2")
    newer = sa.select(sa.literal(1)).select_from(n.join(s2, s2.c.id == n.c.submission_id)).where(
        n.c.supersedes_id == vp.c.id
    )
    q = sa.select(
        vp.c.id.label("village_period_id"),
        vp.c.village_id,
        vp.c.year,
        vp.c.quarter,
        vp.c.phase,
        vp.c.submission_id,
        sub.c.received_on,
    ).join(sub, sub.c.id == vp.c.submission_id)
    if as_of is not None:
        newer = newer.where(s2.c.received_on <= as_of)
        q = q.where(sub.c.received_on <= as_of)
    return q.where(~newer.exists()).subquery("cur")


def _frame(db: MonitorDB, q: Any, columns: list[str]) -> pd.DataFrame:
    """Run ``q``; integer columns become ``Int64`` (NULL-able), booleans ``boolean``, money ``float64``,
    so SQLite and PostgreSQL give identical frames."""
    with db.engine.connect() as conn:
        rows = conn.execute(q).all()
    types = [c.type for c in q.selected_columns]
    df = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
    for c, typ in zip(columns, types, strict=True):
        vals = df[c].tolist()
        if isinstance(typ, sa.Boolean):
            df[c] = pd.array([None if _null(v) else bool(v) for v in vals], dtype="boolean")
        elif isinstance(typ, sa.Numeric) and not isinstance(typ, sa.Integer):
            df[c] = pd.array([np.nan if _null(v) else float(v) for v in vals], dtype="float64")
        elif isinstance(typ, sa.Integer):
            df[c] = pd.array([None if _null(v) else int(v) for v in vals], dtype="Int64")
        elif isinstance(typ, sa.String | sa.Text):
            df[c] = pd.array([None if _null(v) else str(v) for v in vals], dtype="string")
    return df


def _null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _add_period(df: pd.DataFrame) -> pd.DataFrame:
    if "year" in df.columns and "quarter" in df.columns:
        df.insert(int(list(df.columns).index("quarter")) + 1, "period",
                  [Period(int(y), int(q)).label() for y, q in zip(df["year"], df["quarter"], strict=True)])
    return df


def _filters(q: Any, cur: Any, village: str | None, period: Period | str | None,
             through: Period | str | None) -> Any:
    if village is not None:
        q = q.where(cur.c.village_id == str(village))
    if period is not None:
        p = parse_period(period)
        q = q.where(cur.c.year == p.year, cur.c.quarter == p.quarter)
    if through is not None:
        p = parse_period(through)
        q = q.where(cur.c.year * 4 + cur.c.quarter <= p.year * 4 + p.quarter)
    return q


def current(
    db: MonitorDB,
    table: str,
    *,
    as_of: _dt.date | str | Period | None = None,
    village: str | None = None,
    period: Period | str | None = None,
    through: Period | str | None = None,
) -> pd.DataFrame:
    """The current rows of a table (``village_period`` or a figure table) as of a date.

    Parameters
    ----------
    table : str
        ``"village_period"`` or one of :data:`welfare_eval.monitor.schema.FIGURE_TABLES`.
    as_of : date, str or Period, optional
        See the module docstring; ``None`` = latest.
    village, period, through : optional
        Keep one village, one period, or the periods up to ``through``.

    Returns
    -------
    DataFrame
        ``village_id``, ``year``, ``quarter``, ``period`` (C.E.), ``phase`` (``village_phase`` for a
        figure table), ``submission_id``, ``received_on``, ``village_period_id`` and the table's
        columns (``id``, ``source_row``, ``supersedes_id``, values).
    """
    d = resolve_as_of(as_of)
    cur = _current_vp(d)
    lead = ["village_id", "year", "quarter", "phase", "submission_id", "received_on", "village_period_id"]
    if table == "village_period":
        q = sa.select(*[cur.c[c] for c in lead])
        q = _filters(q, cur, village, period, through).order_by(cur.c.village_id, cur.c.year, cur.c.quarter)
        return _add_period(_frame(db, q, lead))
    if table not in TABLE_KEYS:
        raise ValueError(f"unknown monitoring table {table!r}; use village_period or one of {sorted(TABLE_KEYS)}")
    t = S.metadata.tables[table]
    own = [c.name for c in t.columns if c.name != "village_period_id"]
    q = sa.select(*[cur.c[c] for c in lead], *[t.c[c] for c in own]).join(
        t, t.c.village_period_id == cur.c.village_period_id
    )
    q = _filters(q, cur, village, period, through).order_by(
        cur.c.village_id, cur.c.year, cur.c.quarter, *[t.c[k] for k in TABLE_KEYS[table]], t.c.id
    )
    names = ["village_phase" if c == "phase" else c for c in lead]
    return _add_period(_frame(db, q, names + own))


def history(db: MonitorDB, table: str = "village_period", *, village: str | None = None,
            period: Period | str | None = None) -> pd.DataFrame:
    """Every version of every row (nothing is ever deleted), with its submission and a flag
    ``superseded`` (true when a later version replaces it)."""
    vp, sub = S.village_period, S.submission
    n = vp.alias("n")
    is_sup = sa.exists(sa.select(sa.literal(1)).select_from(n).where(n.c.supersedes_id == vp.c.id))
    lead = [vp.c.village_id, vp.c.year, vp.c.quarter, vp.c.phase.label("village_phase"), vp.c.submission_id,
            sub.c.file_name,
            sub.c.received_on, vp.c.id.label("village_period_id"), vp.c.supersedes_id.label("vp_supersedes_id"),
            is_sup.label("superseded")]
    names = ["village_id", "year", "quarter", "village_phase", "submission_id", "file_name", "received_on",
             "village_period_id", "vp_supersedes_id", "superseded"]
    q = sa.select(*lead).join(sub, sub.c.id == vp.c.submission_id)
    if table != "village_period":
        if table not in TABLE_KEYS:
            raise ValueError(f"unknown monitoring table {table!r}")
        t = S.metadata.tables[table]
        own = [c.name for c in t.columns if c.name != "village_period_id"]
        q = sa.select(*lead, *[t.c[c] for c in own]).join(sub, sub.c.id == vp.c.submission_id).join(
            t, t.c.village_period_id == vp.c.id
        )
        names += own
        order = [vp.c.village_id, vp.c.year, vp.c.quarter, *[t.c[k] for k in TABLE_KEYS[table]], t.c.id]
    else:
        order = [vp.c.village_id, vp.c.year, vp.c.quarter, vp.c.id]
    if village is not None:
        q = q.where(vp.c.village_id == str(village))
    if period is not None:
        p = parse_period(period)
        q = q.where(vp.c.year == p.year, vp.c.quarter == p.quarter)
    df = _frame(db, q.order_by(*order), names)
    df["superseded"] = df["superseded"].astype(bool)
    return _add_period(df)


def trace(db: MonitorDB, table: str, row_id: int) -> dict[str, Any]:
    """Where a figure came from: its submission (file, hashes, dates, office) and spreadsheet row."""
    if table not in TABLE_KEYS:
        raise ValueError(f"unknown monitoring table {table!r}")
    t = S.metadata.tables[table]
    vp, sub = S.village_period, S.submission
    q = (
        sa.select(t.c.id, t.c.source_row, vp.c.village_id, vp.c.year, vp.c.quarter, sub.c.id.label("submission_id"),
                  sub.c.file_name, sub.c.file_sha256, sub.c.content_sha256, sub.c.period_text, sub.c.submitted_on,
                  sub.c.received_on, sub.c.submitter_office, sub.c.imported_at)
        .join(vp, vp.c.id == t.c.village_period_id)
        .join(sub, sub.c.id == vp.c.submission_id)
        .where(t.c.id == int(row_id))
    )
    with db.engine.connect() as conn:
        r = conn.execute(q).first()
    if r is None:
        raise KeyError(f"no row {row_id} in table {table}")
    return dict(r._asdict())


def submissions(db: MonitorDB) -> pd.DataFrame:
    """Every accepted submission (without the import time of day, for reproducible listings)."""
    s = S.submission
    cols = ["id", "file_name", "file_sha256", "region", "province_code", "year", "quarter", "period_text",
            "submitted_on", "received_on", "submitter_office", "submitter_position", "n_villages"]
    df = _frame(db, sa.select(*[s.c[c] for c in cols]).order_by(s.c.received_on, s.c.id), cols)
    return _add_period(df)


def submission_status(
    db: MonitorDB,
    *,
    through: Period | str,
    as_of: _dt.date | str | Period | None = None,
    due_days: int = 30,
    first: Period | str | None = None,
) -> pd.DataFrame:
    """On-time, late and missing reports of every village expected to report, period by period.

    A village is expected to report every quarter from its ``first_period`` (set when registered;
    villages without one are not expected) to ``through``. A report is due ``due_days`` after the end
    of its quarter.

    Parameters
    ----------
    through : Period or str
        Last period considered.
    as_of : optional
        Only submissions received by then count (default: ``through``'s report cut-off).
    due_days : int
    first : Period or str, optional
        Ignore periods before this one.

    Returns
    -------
    DataFrame
        One row per expected village-period: ``village_id``, ``village_name``, ``region``,
        ``province_code``, ``year``, ``quarter``, ``period``, ``due_on``, ``status``
        (``on_time``, ``late``, ``missing``, or ``pending`` when nothing is in yet but ``as_of`` is not
        past the due date), ``first_received_on``, ``last_received_on``,
        ``days_late``, ``n_versions`` (submissions of this village-period; 2 or more means
        resubmitted or corrected), ``submission_ids``.
    """
    thr = parse_period(through)
    d = resolve_as_of(as_of if as_of is not None else thr)
    lo = parse_period(first) if first is not None else None
    vill = db.villages()
    vp, sub = S.village_period, S.submission
    q = sa.select(vp.c.village_id, vp.c.year, vp.c.quarter, sub.c.received_on, sub.c.id).join(
        sub, sub.c.id == vp.c.submission_id
    )
    if d is not None:
        q = q.where(sub.c.received_on <= d)
    got = _frame(db, q.order_by(vp.c.village_id, vp.c.year, vp.c.quarter, sub.c.received_on, sub.c.id),
                 ["village_id", "year", "quarter", "received_on", "submission_id"])
    by: dict[tuple[str, int, int], list[tuple[_dt.date, int]]] = {}
    for r in got.to_dict("records"):
        k = (str(r["village_id"]), int(r["year"]), int(r["quarter"]))
        by.setdefault(k, []).append((r["received_on"], int(r["submission_id"])))
    rows = []
    for rec in vill.sort_values("village_id").to_dict("records"):
        v: Any = pd.Series(rec)
        if v["first_year"] is None or pd.isna(v["first_year"]):
            continue
        start = Period(int(v["first_year"]), int(v["first_quarter"]))
        if lo is not None and lo > start:
            start = lo
        for i in range(start.index, thr.index + 1):
            p = Period.from_index(i)
            due = p.due(due_days)
            vers = by.get((str(v["village_id"]), p.year, p.quarter), [])
            first_r: _dt.date | None = vers[0][0] if vers else None
            if first_r is not None:
                status = "on_time" if first_r <= due else "late"
            else:
                status = "pending" if d is not None and d <= due else "missing"
            rows.append(
                {
                    "village_id": v["village_id"],
                    "village_name": v["village_name"],
                    "region": int(v["region"]),
                    "province_code": v["province_code"],
                    "year": p.year,
                    "quarter": p.quarter,
                    "period": p.label(),
                    "due_on": due,
                    "status": status,
                    "first_received_on": first_r,
                    "last_received_on": vers[-1][0] if vers else None,
                    "days_late": (first_r - due).days if first_r is not None and status == "late" else 0,
                    "n_versions": len(vers),
                    "submission_ids": " ".join(str(s) for _, s in vers),
                }
            )
    cols = ["village_id", "village_name", "region", "province_code", "year", "quarter", "period", "due_on",
            "status", "first_received_on", "last_received_on", "days_late", "n_versions", "submission_ids"]
    return pd.DataFrame(rows, columns=cols)


def panel(
    db: MonitorDB,
    *,
    as_of: _dt.date | str | Period | None = None,
    through: Period | str | None = None,
) -> pd.DataFrame:
    """One row per reported village-period (as of a date) with the figures the progress report needs.

    Columns: ``village_id``, ``year``, ``quarter``, ``period``, ``phase``, ``submission_id``,
    ``received_on``, ``workshops_before``/``_during``/``_after`` (workshops held in the quarter by
    round), ``types_offered`` (welfare types offered), ``welfare_fund_members`` and
    ``welfare_fund_households``, ``payout_cases`` and ``payout_amount`` (sums over types),
    ``fund_opening``, ``fund_income``, ``fund_payouts``, ``fund_closing``.
    """
    vp = current(db, "village_period", as_of=as_of, through=through)
    key = ["village_id", "year", "quarter"]
    out = vp[[*key, "period", "phase", "submission_id", "received_on"]].copy()
    w = current(db, "workshop", as_of=as_of, through=through)
    for ph in S.PHASES:
        n = w[w["phase"] == ph].groupby(key).size().rename(f"workshops_{ph}")
        out = out.merge(n.reset_index(), on=key, how="left")
        out[f"workshops_{ph}"] = out[f"workshops_{ph}"].fillna(0).astype(int)
    r = current(db, "welfare_rule", as_of=as_of, through=through)
    n = r[r["offered"].astype(bool)].groupby(key).size().rename("types_offered")
    out = out.merge(n.reset_index(), on=key, how="left")
    out["types_offered"] = out["types_offered"].fillna(0).astype(int)
    m = current(db, "membership", as_of=as_of, through=through)
    m = m[m["organisation"] == "welfare_fund"][[*key, "members", "households"]]
    out = out.merge(m.rename(columns={"members": "welfare_fund_members", "households": "welfare_fund_households"}),
                    on=key, how="left")
    pay = current(db, "payout", as_of=as_of, through=through)
    agg = pay.groupby(key).agg(payout_cases=("cases", "sum"), payout_amount=("amount", "sum")).reset_index()
    out = out.merge(agg, on=key, how="left")
    out[["payout_cases", "payout_amount"]] = out[["payout_cases", "payout_amount"]].fillna(0)
    f = current(db, "fund_balance", as_of=as_of, through=through)
    f = f[[*key, "opening", "income", "payouts", "closing"]].rename(
        columns={c: f"fund_{c}" for c in ("opening", "income", "payouts", "closing")}
    )
    out = out.merge(f, on=key, how="left")
    return out.sort_values(key, kind="mergesort").reset_index(drop=True)
