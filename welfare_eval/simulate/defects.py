"""Planning and applying the defects of the raw exports.

The plan is made once from the fieldwork (stream ``defects``) and stored in ``truth.defects``; the
exporter only applies it, so the truth lists exactly what is in the files.

Household survey files (per wave; counts are ``round(rate * n)`` with ``n`` the number of
interviewed submissions of the wave, or of all submissions for misspelt village names). The
interviewed submissions are shuffled and cut into DISJOINT blocks, one per defect type below,
so a submission carries at most one of them (a misspelt village name may come on top):

``exact_duplicate``
    The row is exported twice; every column identical except ``_index``.
``changed_resubmission``
    An EARLIER submission (new ``_uuid`` and ``_id``, ``_submission_time`` 1–48 hours before) with a
    wrong ``finance/savings`` answer; the original (later) submission holds the true answer.
``out_of_range``
    One of ``hh/head_age`` (5 or 150), ``hh/hh_size`` (0 or 45), ``qol/q1``..``qol/q5`` (0 or 6).
``missing_code``
    One of ``finance/savings``, ``finance/debt``, ``hh/head_age`` set to ``-9``, or one of
    ``hh/hh_size``, ``qol/q1``..``qol/q5`` set to ``99``.
``stray_space``
    ``hh/head_name`` with a leading space, trailing spaces or a doubled inner space.
``zero_width``
    ``hh/head_name`` with U+200B inserted inside.
``misspelt_village_name``
    ``village/village_name`` with one character dropped, two swapped, a tone mark inserted, or the
    prefix บ้าน abbreviated to บ. (the village code is right).

Savings-group workbook: money cells (savings, loans, profit, allocations, payouts) drawn without
replacement into two disjoint sets, ``thai_digits`` (digits written ๐–๙) and ``baht_suffix``
(" บาท" appended).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

import welfare_eval.reference as r
from welfare_eval.simulate._rng import names, stream, vocab
from welfare_eval.simulate.config import DefectConfig

if TYPE_CHECKING:
    from welfare_eval.simulate.fieldwork import Fieldwork

__all__ = ["DEFECT_COLUMNS", "apply_admin_defects", "apply_household_defects", "plan_defects"]

DEFECT_COLUMNS = (
    "file",
    "defect",
    "uuid",
    "column",
    "original",
    "planted",
    "new_uuid",
    "new_submission_time",
    "new_id",
)
_HH_BLOCKS = (
    "exact_duplicate",
    "changed_resubmission",
    "out_of_range",
    "missing_code",
    "stray_space",
    "zero_width",
)
_MONEY = ("savings", "loans", "profit", "welfare_payout")
_TONE = "\u0e48"  # mai ek
_ZWSP = "\u200b"


def _count(rate: float, n: int) -> int:
    return round(rate * n)


def _is_mark(ch: str) -> bool:
    """Thai combining vowel or tone mark (sara am excluded)."""
    return ch == "\u0e31" or "\u0e34" <= ch <= "\u0e3a" or "\u0e47" <= ch <= "\u0e4e"


def _misspell(name: str, rng: np.random.Generator) -> str:
    prefix = str(names("village_prefix")[0])
    rest = name[len(prefix) :] if name.startswith(prefix) else name
    for _ in range(20):
        kind = int(rng.integers(0, 4))
        chars = list(rest)
        if kind == 0 and len(chars) >= 3:
            del chars[int(rng.integers(0, len(chars)))]
            out = prefix + "".join(chars)
        elif kind == 1 and len(chars) >= 2:
            i = int(rng.integers(0, len(chars) - 1))
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            out = prefix + "".join(chars)
        elif kind == 2:
            # a tone mark after a consonant that carries no mark yet
            ok = [
                k + 1
                for k, ch in enumerate(chars)
                if "\u0e01" <= ch <= "\u0e2e" and (k + 1 == len(chars) or not _is_mark(chars[k + 1]))
            ]
            if not ok:
                continue
            i = ok[int(rng.integers(0, len(ok)))]
            out = prefix + "".join(chars[:i]) + _TONE + "".join(chars[i:])
        else:
            out = prefix[0] + "." + rest
        if out != name:
            return out
    return name + _TONE  # pragma: no cover - fallback that always differs


def plan_defects(fw: Fieldwork, *, seed: int, config: DefectConfig | None = None) -> pd.DataFrame:
    """Choose the defects of the raw exports (see the module docstring); returns ``truth.defects``."""
    from welfare_eval.simulate.exports import raw_admin, raw_household

    cfg = config or DefectConfig()
    rng = stream(seed, "defects")
    rows: list[dict[str, object]] = []
    interviewed = vocab("status.interviewed")
    next_id = int(fw.households["submission_id"].max()) + 1
    for wave in r.WAVES:
        file = f"household_survey_{wave}.csv"
        raw = raw_household(fw, wave)
        ok = np.flatnonzero(raw["consent/status"].to_numpy() == interviewed)
        perm = rng.permutation(ok)
        counts = {d: _count(getattr(cfg, d), ok.size) for d in _HH_BLOCKS}
        if sum(counts.values()) > ok.size:
            raise ValueError(f"DefectConfig rates add up to more than the {ok.size} interviews of {wave}")
        pos = 0
        for d in _HH_BLOCKS:
            for i in perm[pos : pos + counts[d]]:
                row = raw.iloc[int(i)]
                rec: dict[str, object] = {"file": file, "defect": d, "uuid": row["_uuid"]}
                if d == "exact_duplicate":
                    rec.update(column="", original="", planted="")
                elif d == "changed_resubmission":
                    true = float(row["finance/savings"])
                    wrong = round(true * rng.uniform(1.5, 3.0)) + int(rng.integers(1000, 20_000))
                    t = pd.Timestamp(row["_submission_time"]) - pd.Timedelta(
                        minutes=int(rng.integers(60, 48 * 60))
                    )
                    b = rng.integers(0, 256, size=16, dtype=np.uint8)
                    b[6] = (b[6] & 0x0F) | 0x40
                    b[8] = (b[8] & 0x3F) | 0x80
                    x = bytes(b).hex()
                    rec.update(
                        column="finance/savings",
                        original=row["finance/savings"],
                        planted=str(wrong),
                        new_uuid=f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}",
                        new_submission_time=t.strftime("%Y-%m-%dT%H:%M:%S"),
                        new_id=str(next_id),
                    )
                    next_id += 1
                elif d == "out_of_range":
                    col = str(
                        rng.choice(
                            ["hh/head_age", "hh/hh_size", "qol/q1", "qol/q2", "qol/q3", "qol/q4", "qol/q5"]
                        )
                    )
                    bad = {"hh/head_age": ("5", "150"), "hh/hh_size": ("0", "45")}.get(col, ("0", "6"))
                    rec.update(column=col, original=row[col], planted=str(bad[int(rng.integers(0, 2))]))
                elif d == "missing_code":
                    cols = [
                        "finance/savings",
                        "finance/debt",
                        "hh/head_age",
                        "hh/hh_size",
                        "qol/q1",
                        "qol/q3",
                    ]
                    col = str(rng.choice(cols))
                    code = "-9" if col in ("finance/savings", "finance/debt", "hh/head_age") else "99"
                    rec.update(column=col, original=row[col], planted=code)
                elif d == "stray_space":
                    nm = str(row["hh/head_name"])
                    kind = int(rng.integers(0, 3))
                    planted = (
                        " " + nm if kind == 0 else (nm + "  " if kind == 1 else nm.replace(" ", "  ", 1))
                    )
                    rec.update(column="hh/head_name", original=nm, planted=planted)
                else:  # zero_width
                    nm = str(row["hh/head_name"])
                    k = int(rng.integers(1, len(nm)))
                    rec.update(column="hh/head_name", original=nm, planted=nm[:k] + _ZWSP + nm[k:])
                rows.append(rec)
            pos += counts[d]
        n_mis = _count(cfg.misspelt_village_name, len(raw))
        for i in np.sort(rng.choice(len(raw), size=n_mis, replace=False)):
            row = raw.iloc[int(i)]
            nm = str(row["village/village_name"])
            rows.append(
                {
                    "file": file,
                    "defect": "misspelt_village_name",
                    "uuid": row["_uuid"],
                    "column": "village/village_name",
                    "original": nm,
                    "planted": _misspell(nm, rng),
                }
            )
    # savings-group workbook: Thai digits and baht suffix on money cells
    sheets = raw_admin(fw)
    from welfare_eval.simulate.exports import codebook

    cbk = codebook()
    raw_of = dict(
        zip(
            cbk.loc[cbk["source"] == "savings_group_records.xlsx", "name"],
            cbk.loc[cbk["source"] == "savings_group_records.xlsx", "raw_name"],
            strict=True,
        )
    )
    money_raw = [raw_of[c] for c in list(_MONEY) + [f"alloc_{k}" for k in r.profit_allocation()["code"]]]
    cells = [(reg, i, col) for reg, df in sheets.items() for i in range(len(df)) for col in money_raw]
    rng = stream(seed, "defects.workbook")
    n_td = _count(cfg.thai_digits, len(cells))
    n_bs = _count(cfg.baht_suffix, len(cells))
    pick = rng.choice(len(cells), size=n_td + n_bs, replace=False)
    baht = vocab("unit.baht")
    for j, c in enumerate(pick):
        reg, i, col = cells[int(c)]
        sheet = sheets[reg]
        orig = str(sheet[col].iloc[i])
        td = j < n_td
        key = f"{sheet.iloc[i, 0]!s}:{sheet.iloc[i, 2]!s}"  # village code : BE year
        rows.append(
            {
                "file": "savings_group_records.xlsx",
                "defect": "thai_digits" if td else "baht_suffix",
                "uuid": key,
                "column": col,
                "original": orig,
                "planted": orig.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙"))
                if td
                else f"{orig} {baht}",
            }
        )
    out = pd.DataFrame(rows, columns=list(DEFECT_COLUMNS))
    for c in DEFECT_COLUMNS:
        out[c] = out[c].fillna("").astype(str).astype("string")
    return out


def apply_household_defects(raw: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """Apply a wave's planned defects to its raw table; rows ordered by submission time, ``_index`` 1..n."""
    df = raw.copy()
    pos = pd.Series(np.arange(len(df)), index=df["_uuid"].to_numpy())
    extra = []
    dup = []
    for rec in plan.to_dict(orient="records"):
        i = int(pos[rec["uuid"]])
        d = rec["defect"]
        if d == "exact_duplicate":
            dup.append(i)
        elif d == "changed_resubmission":
            row = df.iloc[i].copy()
            row[rec["column"]] = rec["planted"]
            row["_uuid"] = rec["new_uuid"]
            row["_submission_time"] = rec["new_submission_time"]
            row["_id"] = rec["new_id"]
            extra.append(row)
        else:
            df.loc[df.index[i], str(rec["column"])] = rec["planted"]
    df["__order"] = np.arange(len(df), dtype=float)
    parts = [df]
    if dup:
        d2 = df.iloc[sorted(dup)].copy()
        d2["__order"] = d2["__order"] + 0.5
        parts.append(d2)
    if extra:
        e2 = pd.DataFrame(extra)
        e2["__order"] = -1.0
        parts.append(e2)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_submission_time", "_uuid", "__order"], kind="mergesort").drop(columns="__order")
    out["_index"] = [str(k + 1) for k in range(len(out))]
    return out.reset_index(drop=True)


def apply_admin_defects(sheets: dict[int, pd.DataFrame], plan: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Apply the planned Thai-digit and baht-suffix defects to the savings-group sheets."""
    out = {k: v.copy() for k, v in sheets.items()}
    index: dict[str, tuple[int, int]] = {}
    for reg, df in out.items():
        for i, key in enumerate(df.iloc[:, 0].astype(str) + ":" + df.iloc[:, 2].astype(str)):
            index[key] = (reg, i)
    for rec in plan.to_dict(orient="records"):
        reg, i = index[rec["uuid"]]
        df = out[reg]
        df.loc[df.index[i], str(rec["column"])] = rec["planted"]
    return out
