"""Raw exports that look and misbehave like the real ones (see :mod:`welfare_eval.simulate`).

Files written by :func:`write_raw_exports` (nothing else goes into ``raw_dir``):

``cdd_village_frame.csv``
    UTF-8 with BOM, Thai headers, one row per candidate village; flags as มี/ไม่มี and ใช่/ไม่ใช่.
``study_villages.csv``
    UTF-8, the fieldwork design list: village_id, village_name, region, province_code, arm, pair_id,
    n_households, n_sampled.
``household_survey_{baseline,midline,endline}.csv``
    UTF-8, KoboToolbox style: group-prefixed names, Thai choice labels, ``_id``, ``_uuid``,
    ``_submission_time``, ``_index``; ``welfare/satisfaction`` only from midline on.
``savings_group_records.xlsx``
    One sheet per inspection region (``เขต <n>``), Thai headers, Buddhist-Era years and closing
    dates, money as text with thousands separators (some cells in Thai digits or with " บาท").
``committee_ratings.csv``
    Thai Windows encoding (cp874), one row per committee member with 36 item columns ``Q01``..``Q36``
    (items in the order of the success factors, then item order) holding Thai Likert level labels.
``codebook.csv``
    UTF-8, one row per raw column per source file (format of docs/conventions.md), with the identity
    columns of each source marked ``key`` = yes.
``corrections/corrections.csv``
    UTF-8, the decisions a field supervisor would have written about the planted changed
    re-submissions: for each, the later (corrected) submission is kept (``action`` = keep, identified by
    its ``_uuid``); see :mod:`welfare_eval.clean.corrections`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

import welfare_eval.reference as r
from welfare_eval._io import atomic_write_bytes
from welfare_eval.simulate._rng import vocab

if TYPE_CHECKING:
    from welfare_eval.simulate.fieldwork import Fieldwork
    from welfare_eval.simulate.study import Study

__all__ = [
    "RAW_FILES",
    "codebook",
    "committee_item_columns",
    "raw_admin",
    "raw_committee",
    "raw_frame",
    "raw_household",
    "raw_study_villages",
    "write_raw_exports",
]

#: The files :func:`write_raw_exports` writes, in order.
RAW_FILES: tuple[str, ...] = (
    "cdd_village_frame.csv",
    "study_villages.csv",
    "household_survey_baseline.csv",
    "household_survey_midline.csv",
    "household_survey_endline.csv",
    "savings_group_records.xlsx",
    "committee_ratings.csv",
    "codebook.csv",
    "corrections/corrections.csv",
)
_FIXED_TIME = datetime(2000, 1, 1, 0, 0, 0)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


# --------------------------------------------------------------------------------------------------
# Codebook
# --------------------------------------------------------------------------------------------------
@cache
def _template() -> pd.DataFrame:
    path = resources.files("welfare_eval.simulate") / "data" / "codebook_template.csv"
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def _allowed(key: str, source: str) -> str:
    pairs = {
        "@yesno": [("1", "choice.yes"), ("0", "choice.no")],
        "@received": [("1", "choice.received"), ("0", "choice.not_received")],
        "@has": [("1", "choice.has"), ("0", "choice.has_not")],
        "@sex": [("male", "sex.male"), ("female", "sex.female")],
        "@status": [(s, f"status.{s}") for s in ("interviewed", "refused", "not_at_home", "moved")],
        "@role": [(s, f"role.{s}") for s in ("chair", "vice_chair", "secretary", "treasurer", "member")],
    }
    if key == "@likert_level":
        if source.startswith("household_survey"):
            return "1|2|3|4|5"
        return "|".join(f"{k}={v}" for k, v in r.likert_labels("level", "th").items())
    if key in pairs:
        return "|".join(f"{code}={vocab(v)}" for code, v in pairs[key])
    return key


def committee_item_columns() -> pd.DataFrame:
    """Raw committee columns ``Q01``..``Q36`` and the item code each holds."""
    items = r.success_factor_items()
    sf = r.success_factors()[["code", "order"]].rename(columns={"code": "factor", "order": "forder"})
    items = items.merge(sf, on="factor").sort_values(["forder", "order"], kind="mergesort")
    items = items.reset_index(drop=True)
    items["raw_name"] = [f"Q{i + 1:02d}" for i in range(len(items))]
    return items[["raw_name", "item", "factor", "th", "en"]]


def codebook() -> pd.DataFrame:
    """The codebook of the raw exports: one row per raw column per source file."""
    return _codebook().copy()


@cache
def _codebook() -> pd.DataFrame:
    t = _template()
    wt = r.welfare_types()
    pa = r.profit_allocation()
    rows: list[dict[str, str]] = []
    for rec in t.to_dict(orient="records"):
        if "{code}" in rec["name"]:
            table = wt if rec["source"].startswith("household") else pa
            expand: Iterable[dict[str, str]] = [
                {"code": c, "th": th, "en": en.lower() if rec["source"].startswith("household") else en}
                for c, th, en in zip(table["code"], table["th"], table["en"], strict=True)
            ]
        elif "{nn}" in rec["raw_name"]:
            ci = committee_item_columns()
            expand = [
                {"nn": rn[1:], "item": it, "th": th, "en": en}
                for rn, it, th, en in zip(ci["raw_name"], ci["item"], ci["th"], ci["en"], strict=True)
            ]
        else:
            expand = [{}]
        for sub in expand:
            out = {k: (v.format(**sub) if sub and isinstance(v, str) else v) for k, v in rec.items()}
            out["allowed"] = _allowed(out["allowed"], out["source"])
            if out["waves"] == "@all":
                out["waves"] = "|".join(r.WAVES)
            rows.append({str(k): str(v) for k, v in out.items()})
    return pd.DataFrame(rows, columns=list(t.columns))


def _cols(source: str, wave: str | None = None) -> pd.DataFrame:
    cb = _codebook()
    cb = cb[cb["source"] == source]
    if wave is not None:
        cb = cb[cb["waves"].str.split("|").map(lambda ws: wave in ws)]
    return cb


# --------------------------------------------------------------------------------------------------
# Raw tables (before defects)
# --------------------------------------------------------------------------------------------------
def _num(x: pd.Series | np.ndarray, ndigits: int = 0) -> list[str]:
    """Numbers as plain text ('' for missing); whole numbers without decimals."""
    out = []
    for v in np.asarray(x, dtype=float):
        if np.isnan(v):
            out.append("")
        elif ndigits == 0:
            out.append(str(round(v)))
        else:
            out.append(f"{v:.{ndigits}f}")
    return out


def _choice(x: pd.Series, yes: str, no: str) -> list[str]:
    a = pd.to_numeric(x).astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return ["" if np.isnan(v) else (vocab(yes) if v == 1 else vocab(no)) for v in a]


def raw_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The candidate frame as the CDD exports it (Thai headers, all text)."""
    cb = _cols("cdd_village_frame.csv")
    pname = r.provinces().set_index("province_code")["province_th"]
    src = {
        "region": frame["region"].astype(int).astype(str).tolist(),
        "province_code": frame["province_code"].astype(str).tolist(),
        "province_name": frame["province_code"].astype(str).map(pname).astype(str).tolist(),
        "district_code": frame["district_code"].astype(str).tolist(),
        "subdistrict_code": frame["subdistrict_code"].astype(str).tolist(),
        "village_id": frame["village_id"].astype(str).tolist(),
        "village_name": frame["village_name"].astype(str).tolist(),
        "n_households": _num(frame["n_households"]),
        "mean_income": _num(frame["mean_income"]),
        "share_elderly": _num(frame["share_elderly"], 3),
        "share_farm": _num(frame["share_farm"], 3),
        "has_savings_group": _choice(frame["has_savings_group"], "choice.has", "choice.has_not"),
        "sg_age": _num(frame["sg_age"]),
        "sg_members": _num(frame["sg_members"]),
        "sg_savings": _num(frame["sg_savings"]),
        "has_fund_institution": _choice(frame["has_fund_institution"], "choice.has", "choice.has_not"),
        "has_sufficiency": _choice(frame["has_sufficiency"], "choice.has", "choice.has_not"),
        "eligible": _choice(frame["eligible"], "choice.yes", "choice.no"),
        "pilot": _choice(frame["pilot"], "choice.yes", "choice.no"),
    }
    return pd.DataFrame({raw: src[name] for raw, name in zip(cb["raw_name"], cb["name"], strict=True)})


def raw_study_villages(villages: pd.DataFrame) -> pd.DataFrame:
    """The fieldwork design list (English headers, as the evaluation team keeps it)."""
    v = villages.sort_values(["pair_id", "arm"], ascending=[True, False], kind="mergesort")
    out = pd.DataFrame(
        {
            "village_id": v["village_id"].astype(str).to_numpy(),
            "village_name": v["village_name"].astype(str).to_numpy(),
            "region": v["region"].astype(int).astype(str).to_numpy(),
            "province_code": v["province_code"].astype(str).to_numpy(),
            "arm": v["arm"].astype(str).to_numpy(),
            "pair_id": v["pair_id"].astype(int).astype(str).to_numpy(),
            "n_households": v["n_households"].astype(int).astype(str).to_numpy(),
            "n_sampled": v["n_sampled"].astype(int).astype(str).to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def _iso_local(ts: pd.Series) -> list[str]:
    return [t.strftime("%Y-%m-%dT%H:%M:%S.000+07:00") for t in pd.to_datetime(ts)]


def raw_household(fw: Fieldwork, wave: str) -> pd.DataFrame:
    """One wave of the household survey as KoboToolbox exports it (before defects; all text)."""
    h = fw.households[fw.households["wave"] == wave].sort_values(
        ["submitted_at", "submission_uuid"], kind="mergesort"
    )
    ok = (h["interviewed"] == 1).to_numpy()
    names = fw.villages.set_index("village_id")["village_name"]
    yes, no = "choice.yes", "choice.no"

    def ans(values: list[str]) -> list[str]:
        return [v if k else "" for v, k in zip(values, ok, strict=True)]

    src: dict[str, list[str]] = {
        "interview_start": _iso_local(h["interview_start"]),
        "interview_end": _iso_local(h["interview_end"]),
        "status": [vocab(f"status.{s}") for s in h["status"]],
        "village_id": h["village_id"].astype(str).tolist(),
        "village_name": h["village_id"].astype(str).map(names).astype(str).tolist(),
        "hh_id": h["hh_id"].astype(str).tolist(),
        "head_name": ans(h["head_name"].fillna("").astype(str).tolist()),
        "national_id": ans(h["national_id"].fillna("").astype(str).tolist()),
        "phone": ans(h["phone"].fillna("").astype(str).tolist()),
        "head_sex": ["" if pd.isna(s) else vocab(f"sex.{s}") for s in h["head_sex"]],
        "head_age": _num(h["head_age"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)),
        "hh_size": _num(h["hh_size"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)),
        "farm": _choice(h["farm"], yes, no),
        "welfare_satisfaction": _num(
            h["welfare_satisfaction"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        ),
        "savings": _num(h["savings"]),
        "debt": _num(h["debt"]),
        "had_health_shock": _choice(h["had_health_shock"], yes, no),
        "coped": _choice(h["coped"], yes, no),
        "submission_id": [str(x) for x in h["submission_id"]],
        "submission_uuid": h["submission_uuid"].astype(str).tolist(),
        "submitted_at": [t.strftime("%Y-%m-%dT%H:%M:%S") for t in pd.to_datetime(h["submitted_at"])],
        "row_index": [str(i + 1) for i in range(len(h))],
    }
    for code in r.welfare_types()["code"]:
        src[f"received_{code}"] = _choice(h[f"received_{code}"], "choice.received", "choice.not_received")
        src[f"amount_{code}"] = _num(h[f"amount_{code}"])
    for c in [c for c in h.columns if c.startswith(("qol_", "self_reliance_", "member_"))]:
        if c.endswith("_index"):
            continue
        if c.startswith("member_"):
            src[c] = _choice(h[c], yes, no)
        else:
            src[c] = _num(h[c].astype("Float64").to_numpy(dtype=float, na_value=np.nan))
    cb = _cols("household_survey_*.csv", wave)
    return pd.DataFrame({raw: src[name] for raw, name in zip(cb["raw_name"], cb["name"], strict=True)})


def _money_text(v: float) -> str:
    return f"{round(v):,}"


def raw_admin(fw: Fieldwork) -> dict[int, pd.DataFrame]:
    """The savings-group records, one table per inspection region (before defects; all text)."""
    a = fw.admin.merge(
        fw.villages[["village_id", "village_name", "region"]], on="village_id", how="left", validate="m:1"
    )
    a = a.sort_values(["region", "village_id", "year"], kind="mergesort")
    cb = _cols("savings_group_records.xlsx")
    out: dict[int, pd.DataFrame] = {}
    for reg, g in a.groupby("region", sort=True):
        src: dict[str, list[str]] = {
            "village_id": g["village_id"].astype(str).tolist(),
            "village_name": g["village_name"].astype(str).tolist(),
            "year": [str(int(y) + 543) for y in g["year"]],
            "members": [str(int(m)) for m in g["members"]],
            "closing_date": [f"31/12/{int(y) + 543}" for y in g["year"]],
        }
        for c in ["savings", "loans", "profit", "welfare_payout", "fund_opening", "fund_income_other", "fund_closing"] + [
            f"alloc_{k}" for k in r.profit_allocation()["code"]
        ]:
            src[c] = [_money_text(v) for v in g[c]]
        out[int(str(reg))] = pd.DataFrame(
            {raw: src[name] for raw, name in zip(cb["raw_name"], cb["name"], strict=True)}
        )
    return out


def raw_committee(fw: Fieldwork) -> pd.DataFrame:
    """Committee ratings, one row per member, items ``Q01``..``Q36`` as Thai Likert level labels."""
    c = fw.committee
    wide = c.pivot_table(
        index=["village_id", "member_no", "role"], columns="item", values="score", aggfunc="first"
    )
    wide = wide.reset_index().sort_values(["village_id", "member_no"], kind="mergesort")
    lab = r.likert_labels("level", "th")
    ci = committee_item_columns()
    out = pd.DataFrame(
        {
            "รหัสหมู่บ้าน": wide["village_id"].astype(str).to_numpy(),
            "ลำดับกรรมการ": wide["member_no"].astype(int).astype(str).to_numpy(),
            "ตำแหน่ง": [vocab(f"role.{x}") for x in wide["role"]],
        }
    )
    cb = _cols("committee_ratings.csv")
    head = dict(zip(cb["name"], cb["raw_name"], strict=True))
    out.columns = [head["village_id"], head["member_no"], head["role"]]
    for rn, it in zip(ci["raw_name"], ci["item"], strict=True):
        out[rn] = [lab[int(v)] for v in wide[it]]
    return out


# --------------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------------
def _csv_bytes(df: pd.DataFrame, encoding: str) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\r\n" if encoding == "cp874" else "\n")
    return buf.getvalue().encode(encoding)


def raw_corrections(plan: pd.DataFrame) -> pd.DataFrame:
    """The demo's corrections file: keep the later submission of every planted changed re-submission."""
    cr = plan[plan["defect"] == "changed_resubmission"]
    return pd.DataFrame(
        {
            "file": cr["file"].astype(str).to_numpy(),
            "sheet": "",
            "row": "",
            "submission": cr["uuid"].astype(str).to_numpy(),
            "key": "",
            "action": "keep",
            "column": "",
            "value": "",
            "reason": "re-submission: the later submission corrects the earlier one (field supervisor)",
        },
        columns=["file", "sheet", "row", "submission", "key", "action", "column", "value", "reason"],
    )


def _xlsx_bytes(sheets: dict[str, pd.DataFrame]) -> bytes:
    """An xlsx workbook with every cell as text, fixed document properties and zip timestamps."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    wb = Workbook()
    wb.remove(wb.active)
    for name, df in sheets.items():
        ws = wb.create_sheet(title=name)
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append(list(row))
    wb.properties.creator = "welfare_eval.simulate"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    wb.properties.lastModifiedBy = "welfare_eval.simulate"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
        ExcelWriter(wb, zf).save()
    # re-pack with fixed timestamps (openpyxl stamps entries with the time of day)
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            zf.writestr(zi, src.read(info.filename))
    return out.getvalue()


def write_raw_exports(study: Study, raw_dir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Write the raw exports of a simulated study (with the planted defects of ``study.truth``).

    Parameters
    ----------
    study : Study
        From :func:`~welfare_eval.simulate.simulate_study`.
    raw_dir : path
        Folder to write into (created if needed). Only the files of :data:`RAW_FILES` are written.
    overwrite : bool
        Replace existing files; otherwise an existing file raises ``FileExistsError``.

    Returns
    -------
    list of Path
        The files written, in the order of :data:`RAW_FILES`.
    """
    from welfare_eval.simulate.defects import apply_admin_defects, apply_household_defects

    raw_dir = Path(raw_dir)
    targets = [raw_dir / f for f in RAW_FILES]
    if not overwrite:
        exist = [p for p in targets if p.exists()]
        if exist:
            raise FileExistsError(f"{exist[0]} exists; pass overwrite=True to replace the raw exports")
    fw = study.fieldwork
    plan = study.truth.defects
    data: dict[str, bytes] = {}
    data["cdd_village_frame.csv"] = _csv_bytes(raw_frame(study.frame), "utf-8-sig")
    data["study_villages.csv"] = _csv_bytes(raw_study_villages(fw.villages), "utf-8")
    for w in r.WAVES:
        name = f"household_survey_{w}.csv"
        df = apply_household_defects(raw_household(fw, w), plan[plan["file"] == name])
        data[name] = _csv_bytes(df, "utf-8")
    sheets = apply_admin_defects(raw_admin(fw), plan[plan["file"] == "savings_group_records.xlsx"])
    prefix = vocab("sheet.region")
    data["savings_group_records.xlsx"] = _xlsx_bytes({f"{prefix} {k}": v for k, v in sheets.items()})
    data["committee_ratings.csv"] = _csv_bytes(raw_committee(fw), "cp874")
    data["codebook.csv"] = _csv_bytes(codebook(), "utf-8")
    data["corrections/corrections.csv"] = _csv_bytes(raw_corrections(plan), "utf-8")
    for f, p in zip(RAW_FILES, targets, strict=True):
        atomic_write_bytes(p, data[f])
    return targets
