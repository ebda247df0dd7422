"""Eligibility screening of the candidate frame by the CDD criteria plus user rules.

The three criteria of the Community Development Department for a Community Welfare village are

* ``has_sufficiency``: the village runs sufficiency-economy activities;
* ``has_savings_group``: it has a savings group for production;
* ``has_fund_institution``: it has a community fund management institution.

A village is eligible when every criterion and every user rule holds. A missing criterion value is
*not* treated as "no": the village is ineligible with reason ``"<criterion> missing"``, so the table
shows which records need checking rather than silently excluding them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CDD_CRITERIA", "screen_eligibility"]

#: The CDD criteria (0/1 columns of the candidate frame), in the order reasons are listed.
CDD_CRITERIA: tuple[str, ...] = ("has_sufficiency", "has_savings_group", "has_fund_institution")

Rule = str | Callable[[pd.DataFrame], Any]


def _flag(s: pd.Series, name: str) -> pd.Series:
    """0/1/bool/'yes'-like column -> nullable boolean; anything else is an error."""
    if s.dtype == bool:
        return s.astype("boolean")
    if pd.api.types.is_numeric_dtype(s):
        bad = s.notna() & ~s.isin([0, 1])
        if bad.any():
            raise ValueError(f"criterion column {name!r} must be 0/1; found {s[bad].iloc[0]!r}")
        return s.map(lambda v: pd.NA if pd.isna(v) else bool(v)).astype("boolean")
    txt = s.astype("string").str.strip().str.lower()
    true = {"1", "true", "yes", "y"}
    false = {"0", "false", "no", "n"}
    bad = txt.notna() & ~txt.isin(true | false)
    if bad.any():
        raise ValueError(f"criterion column {name!r} must be 0/1 (or yes/no); found {s[bad].iloc[0]!r}")
    return txt.map(lambda v: pd.NA if pd.isna(v) else v in true).astype("boolean")


def screen_eligibility(
    frame: pd.DataFrame,
    *,
    rules: Mapping[str, Rule] | None = None,
    criteria: tuple[str, ...] | list[str] = CDD_CRITERIA,
    id_col: str = "village_id",
) -> pd.DataFrame:
    """Screen every candidate village and say why an ineligible one was excluded.

    Parameters
    ----------
    frame : DataFrame
        Candidate frame with ``village_id`` and the criterion columns.
    rules : mapping of name -> rule, optional
        Extra rules, each a pandas expression string evaluated with ``frame.eval`` (e.g.
        ``{"size": "n_households >= 50"}``) or a callable ``f(frame) -> boolean Series/array``.
        A rule that is false *or missing* for a village makes it ineligible with reason
        ``"rule <name> not met"`` / ``"rule <name> missing"``.
    criteria : sequence of str
        0/1 columns that must all be 1 (default: the three CDD criteria).
    id_col : str
        Village id column.

    Returns
    -------
    DataFrame
        One row per candidate, in the frame's order: ``village_id``, ``region`` (if present), one
        boolean column per criterion and rule (``<NA>`` when missing), ``eligible`` (0/1 int),
        ``n_failed`` and ``reason`` (``"; "``-joined reasons, empty string when eligible).

    Raises
    ------
    ValueError
        If a criterion column is absent or not 0/1, a rule expression fails or returns the wrong
        length, or ``village_id`` is missing/duplicated.
    """
    if id_col not in frame.columns:
        raise ValueError(f"frame has no {id_col!r} column")
    ids = frame[id_col]
    if ids.isna().any():
        raise ValueError(f"column {id_col!r} has missing values")
    if ids.astype(str).duplicated().any():
        raise ValueError(
            f"village_id {ids[ids.astype(str).duplicated()].iloc[0]!r} appears more than once in the frame"
        )
    absent = [c for c in criteria if c not in frame.columns]
    if absent:
        raise ValueError(
            f"eligibility criterion column(s) {absent} are not in the frame; pass criteria= to change the list"
        )
    out = pd.DataFrame({"village_id": ids.astype(str).to_numpy()}, index=frame.index)
    if "region" in frame.columns:
        out["region"] = frame["region"].to_numpy()
    checks: dict[str, pd.Series] = {}
    for c in criteria:
        checks[c] = _flag(frame[c], c)
    for name, rule in (rules or {}).items():
        key = f"rule_{name}"
        if key in checks or name in checks:
            raise ValueError(f"rule name {name!r} is used twice")
        try:
            val = frame.eval(rule) if isinstance(rule, str) else rule(frame)
        except Exception as exc:
            raise ValueError(f"eligibility rule {name!r} ({rule!r}) failed: {exc}") from None
        arr = (
            pd.Series(np.asarray(val, dtype=object), index=frame.index)
            if not isinstance(val, pd.Series)
            else val
        )
        if len(arr) != len(frame):
            raise ValueError(
                f"eligibility rule {name!r} returned {len(arr)} values for {len(frame)} villages"
            )
        arr = pd.Series(arr.to_numpy(dtype=object), index=frame.index)
        checks[key] = arr.map(
            lambda v: pd.NA if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else bool(v)
        ).astype("boolean")
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for key, s in checks.items():
        out[key] = s
        label = key if key in criteria else f"rule {key.removeprefix('rule_')}"
        for pos, v in enumerate(s.tolist()):
            if v is pd.NA:
                reasons[pos].append(f"{label} missing")
            elif not v:
                reasons[pos].append(f"{label} not met" if label.startswith("rule ") else f"{label} = 0")
    out["n_failed"] = [len(r) for r in reasons]
    out["eligible"] = (out["n_failed"] == 0).astype(int)
    out["reason"] = ["; ".join(r) for r in reasons]
    return out.reset_index(drop=True)
