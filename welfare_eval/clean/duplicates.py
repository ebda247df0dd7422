"""Identity and duplicates, as a data manager settles them (DIME ``ieduplicates`` style).

The codebook declares the columns that identify a row of each source (``key`` = yes, e.g. village code
+ household id); a table whose files declare none gets the default identity of
:data:`DEFAULT_KEYS`. Within each *unit* (all the files and sheets feeding one table in one survey
wave) the key must identify the rows (Stata's ``isid``):

1. rows of one file (or sheet) that are equal in every raw column except export counters (``_index``)
   are exact duplicates: merged into the first copy, one check row each (rule ``duplicate_exact``);
2. rows that share the key but differ in content are conflicting duplicates. A person decides: a
   ``keep`` or ``drop`` row in the corrections file (:mod:`welfare_eval.clean.corrections`), a ``set``
   of a new id, or a ``keep_latest`` rule for the file. Settled groups are logged (rule
   ``duplicate_conflict``: the rows not kept are merged into the kept row of the same file and sheet,
   or rejected when it lies in another file or sheet); unsettled groups stop the run with a
   duplicates report (:data:`REPORT_COLUMNS`) that lists every row, never choosing one silently.

Rows without a complete key are left to the table builders (which reject them with a reason).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pandas as pd

from welfare_eval.clean.apply import ROW
from welfare_eval.clean.context import EXPORT_COUNTERS, SUBMISSION_META, Context, Part
from welfare_eval.clean.corrections import Corrections
from welfare_eval.clean.io import CleaningError
from welfare_eval.clean.pii import safe_log_value

__all__ = ["DEFAULT_KEYS", "REPORT_COLUMNS", "key_text", "settle_duplicates"]

#: Identity of a row when the codebook declares no key for its file.
DEFAULT_KEYS: dict[str, tuple[str, ...]] = {
    "frame": ("village_id",),
    "villages": ("village_id",),
    "households": ("village_id", "hh_id"),
    "benefits": ("village_id", "hh_id"),
    "admin": ("village_id", "year"),
    "committee": ("village_id", "member_no"),
}
#: Columns of the duplicates report (the last two are for the person who settles the conflicts).
REPORT_COLUMNS = ["group", "file", "sheet", "row", "line", "key", "submission", "submitted_at", "differs", "action",
                  "reason"]


def _raw_text(part: Part, row: int, tidy_name: str) -> str:
    col = part.raw_of(tidy_name)
    if col not in part.raw.columns:
        return ""
    return str(part.raw.at[row, col])


def key_text(part: Part, row: int, key: list[str]) -> str:
    """The identity of a raw row as the duplicates report shows it: ``village_id=…; hh_id=…`` (the value of a
    personal-data column as ``<pii>``)."""
    pii = part.pii_names()
    return "; ".join(f"{k}={'<pii>' if k in pii else _raw_text(part, row, k).strip()}" for k in key)


def _norm_key(s: str) -> str:
    return ";".join(p.replace(" ", "") for p in s.split(";") if p.strip())


@dataclass
class _Row:
    part: Part
    row: int
    key: tuple[Any, ...]


def _exact_duplicates(ctx: Context, part: Part) -> None:
    d = ctx.kept(part)
    if d.empty:
        return
    rows = [int(r) for r in d[ROW]]
    counters = {part.raw_of(n) for n in EXPORT_COUNTERS}
    cols = [str(c) for c in part.raw.columns if c not in counters]
    first: dict[tuple[str, ...], int] = {}
    for r, sig in zip(rows, part.raw_rows(rows, cols), strict=True):
        if sig in first:
            ctx.ledger.merge(part.file, part.sheet, r, first[sig], f"exact duplicate of row {first[sig]}")
            ctx.log.add(part.file, part.sheet, r, "", "", "duplicate_exact",
                        f"exact duplicate of row {first[sig]}; merged", severity="warning", action="merged")
        else:
            first[sig] = r


def _differs(group: list[_Row]) -> dict[tuple[str, str, int], list[str]]:
    """Raw columns (not submission metadata) in which each row of a group differs from another row."""
    recs = []
    for g in group:
        cols = [str(c) for c in g.part.raw.columns]
        recs.append(dict(zip(cols, g.part.raw_rows([g.row])[0], strict=True)))
    out = {}
    for g, mine in zip(group, recs, strict=True):
        meta = {g.part.raw_of(n) for n in SUBMISSION_META}
        diff = [c for c in mine if c not in meta and any(o.get(c) != mine[c] for o in recs if o is not mine)]
        out[(g.part.file, g.part.sheet, g.row)] = diff
    return out


def settle_duplicates(
    ctx: Context,
    units: dict[tuple[str, str | None], list[Part]],
    corrections: Corrections,
    targets: dict[int, tuple[str, str, int]],
    *,
    skip_villages: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """Merge exact duplicates and settle conflicting ones; return the report of unsettled conflicts.

    Parameters
    ----------
    units : dict
        ``(table, wave) → parts`` whose rows must be unique by their key (``part.key``).
    corrections : Corrections
    targets : dict
        Index of a row correction → ``(file, sheet, row)`` it points to (resolved by the caller).
    skip_villages : set of str
        Villages whose rows are left out (their pair is dropped).

    Returns
    -------
    DataFrame
        One row per row of an unsettled conflict (:data:`REPORT_COLUMNS`); empty when all is settled.

    Raises
    ------
    CleaningError
        A ``keep`` correction for a row that has no conflicting duplicate, or two ``keep`` rows in one group.
    """
    keep_rows = {targets[i]: (i, c) for i, c in corrections.of("keep") if i in targets}
    used_keep: set[tuple[str, str, int]] = set()
    report: list[dict[str, Any]] = []
    n_group = 0
    for (_table, _wave), parts in units.items():
        for p in parts:
            _exact_duplicates(ctx, p)
        groups: dict[tuple[Any, ...], list[_Row]] = defaultdict(list)
        for p in parts:
            d = ctx.kept(p)
            if any(k not in d.columns for k in p.key):
                continue
            ok = d[p.key].notna().all(axis=1)
            if "village_id" in d.columns and skip_villages:
                skipped = d["village_id"].isin(skip_villages).fillna(False)
                for r in d.loc[skipped, ROW]:  # a decision about a row of a dropped pair is moot, not stale
                    hit = keep_rows.get((p.file, p.sheet, int(r)))
                    if hit is not None:
                        corrections.mark(hit[0])
                        used_keep.add((p.file, p.sheet, int(r)))
                ok &= ~skipped
            for r, kv in zip(d.loc[ok, ROW], d.loc[ok, p.key].itertuples(index=False, name=None), strict=True):
                groups[tuple(str(v) for v in kv)].append(_Row(p, int(r), kv))
        for _k, g in groups.items():
            if len(g) < 2:
                continue
            ids = [(x.part.file, x.part.sheet, x.row) for x in g]
            keeps = [i for i in ids if i in keep_rows]
            if len(keeps) > 1:
                a, b = (keep_rows[k][1].where for k in keeps[:2])
                raise CleaningError(f"{a} and {b}: both keep a row of the same duplicate group; keep one of them")
            winner: _Row | None = None
            how = ""
            if keeps:
                i, c = keep_rows[keeps[0]]
                corrections.mark(i)
                used_keep.add(keeps[0])
                winner = g[ids.index(keeps[0])]
                how = f"settled by {c.where}: {c.reason}"
            else:
                rules = [(i, c) for i, c in corrections.of("keep_latest") if all(x.part.file == c.file for x in g)]
                if rules:
                    i, c = rules[0]
                    order = c.column or "submitted_at"
                    col = order if order in g[0].part.tidy.columns else next(
                        (n for n in g[0].part.tidy.columns if g[0].part.raw_of(n) == order), None)
                    if col is None:
                        raise CleaningError(f"{c.where}: order column {order!r} is not a column of {c.file}; give the "
                                            "submission-time column in 'column'")
                    vals = []
                    for x in g:
                        t = x.part.tidy.loc[x.part.tidy[ROW] == x.row, col].iloc[0]
                        vals.append(t)
                    if all(pd.notna(v) for v in vals):
                        best = max(vals)
                        if sum(1 for v in vals if v == best) == 1:
                            corrections.mark(i)
                            winner = g[vals.index(best)]
                            how = f"kept the latest {order} ({c.where}: {c.reason})"
            diffs = _differs(g)
            keyname = "+".join(g[0].part.key)
            if winner is None:
                n_group += 1
                for x in g:
                    sub = _raw_text(x.part, x.row, "submission_uuid")
                    subv, _ = safe_log_value(sub)
                    when, _ = safe_log_value(_raw_text(x.part, x.row, "submitted_at"))
                    keyv, _ = safe_log_value(key_text(x.part, x.row, x.part.key))
                    report.append({
                        "group": n_group, "file": x.part.file, "sheet": x.part.sheet, "row": x.row,
                        "line": ctx.ledger.lines.get((x.part.file, x.part.sheet, x.row), x.row), "key": keyv,
                        "submission": subv, "submitted_at": when,
                        "differs": ", ".join(diffs[(x.part.file, x.part.sheet, x.row)]) or "(metadata only)",
                        "action": "", "reason": "",
                    })
                continue
            for x in g:
                if x is winner:
                    continue
                diff = diffs[(x.part.file, x.part.sheet, x.row)]
                what = ", ".join(diff) or "metadata"
                if x.part.file == winner.part.file and x.part.sheet == winner.part.sheet:
                    ctx.ledger.merge(x.part.file, x.part.sheet, x.row, winner.row,
                                     f"same {keyname} as row {winner.row}; {how}")
                    action = "merged"
                    where = f"row {winner.row}"
                else:
                    where = f"{winner.part.file}" + (f" sheet {winner.part.sheet!r}" if winner.part.sheet else "") + \
                        f" row {winner.row}"
                    ctx.ledger.reject(x.part.file, x.part.sheet, x.row, f"same {keyname} as {where}; {how}")
                    action = "rejected"
                ctx.log.add(x.part.file, x.part.sheet, x.row, ",".join(diff), "", "duplicate_conflict",
                            f"same {keyname} as {where} with different {what}; {how}", action=action)
    stale = [k for k in keep_rows if k not in used_keep]
    if stale:
        c = keep_rows[stale[0]][1]
        raise CleaningError(
            f"{c.where}: {c.file} row {stale[0][2]} has no conflicting duplicate (any more); remove the correction"
        )
    return pd.DataFrame(report, columns=REPORT_COLUMNS)
