"""Builders of the processed tables from codebook-converted raw parts.

Each builder takes the converted parts of its source files, makes the row-level decisions (reject)
in the ledger, runs the cross-field checks, and returns a tidy table without personal data. Column
names follow docs/conventions.md. Duplicates are settled before the builders run
(:mod:`welfare_eval.clean.duplicates`).

Row rules (rejected rows keep their reason in the ledger):

- a row whose village code is missing/invalid, or not in the frame (frame) / the study (households,
  admin, committee), is rejected; so is every row of a village whose matched pair is dropped
  (``drop_pair`` correction or ``clean_all(drop_pairs=...)``);
- a household row without household id or with an unknown interview status is rejected.

The design list (``villages``) is the backbone of every estimate, so its faults stop the run with a
one-line error naming file, row and column: a missing or invalid village code, arm, pair, N or n; a
village not in the frame; n > N; a pair without exactly one pilot and at least one comparison village;
a pair spanning two regions; a village whose region differs from the frame's (or from its province's
region in the region scheme); a pilot of the frame that is not in the design list (a whole pair
missing). The household survey stops the run when a study village has no interviewed household in a
wave file (e.g. a pilot with no endline). The remedy the message names is to fix the file or to drop
the pair explicitly (recorded in the manifest, so the report states it).

Cross-field checks (flagged; the row is kept): frame code parts and region against the village code
and the region scheme, eligibility = all three CDD criteria, pilot ⇒ eligible; villages against the
frame (N, name, arm ⇔ pilot flag); households: typed village name against the code list (near misses
reported with their similarity), answers only for interviewed households, coping only after a health
shock, satisfaction only after receiving welfare, amount > 0 only if received (and received ⇒ amount
> 0, a warning), head's sex against the title of the name, one national ID per household, sample size
per village and wave against the design list; admin: allocations sum to the profit, welfare fund
identity (opening + income - payouts = closing), closing date in the accounting year, village in the
region of its sheet. Outliers: money values whose robust z (|log1p(x) − median| / (1.4826 MAD),
positive values of the file) exceeds 5 are flagged, never deleted.

Pseudonymous household ids: ``HMAC(key, identity)`` where the identity is the raw household id when it
already starts with the village code (``18030702-210``) and ``<village code>-<household id>``
otherwise, so ids numbered within each village (``210``) are never confused across villages and both
export styles give the same pseudonym.

Cell-level failures of rows that end up merged are dropped from the checks report (the duplicate
check stands for them), so every failure refers to a row that is kept or rejected.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.clean.apply import ROW
from welfare_eval.clean.context import SUBMISSION_META, Context, Part
from welfare_eval.clean.ids import pseudonymize
from welfare_eval.clean.io import CleaningError
from welfare_eval.clean.thai import village_name_key

__all__ = [
    "Context",
    "Part",
    "build_admin",
    "build_committee",
    "build_frame",
    "build_households",
    "build_villages",
    "household_identity",
]

DUPLICATE_RULES = frozenset({"duplicate_exact", "duplicate_conflict"})
#: Robust z (log scale, median/MAD) above which a money value is flagged as an outlier.
OUTLIER_Z = 5.0


# --------------------------------------------------------------------------------------------------
# generic row rules
# --------------------------------------------------------------------------------------------------
def _require(parts: list[Part], table: str, names: tuple[str, ...]) -> None:
    """Raise a one-line error when a source file lacks tidy columns its table builder needs."""
    for p in parts:
        miss = [n for n in names if n not in p.tidy.columns]
        if miss:
            raise CleaningError(
                f"{p.file}: table {table!r} needs tidy column(s) {miss}; map them in the codebook ('name' column)"
            )


def _drop_pair_rows(ctx: Context, part: Part) -> None:
    """Reject the rows of villages whose matched pair is dropped."""
    if not ctx.dropped_villages:
        return
    d = ctx.kept(part)
    hit = d["village_id"].isin(set(ctx.dropped_villages))
    for r, v in zip(d.loc[hit, ROW], d.loc[hit, "village_id"], strict=True):
        pid = ctx.dropped_villages[str(v)]
        why, where = ctx.dropped_pairs[pid]
        ctx.reject(part, [r], f"village of pair {pid}, dropped from the study ({where}: {why})", rule="dropped_pair",
                   column=part.raw_of("village_id"), values=[v])


def _check_village(ctx: Context, part: Part, known: set[str] | None, what: str) -> None:
    _drop_pair_rows(ctx, part)
    d = ctx.kept(part)
    col = part.raw_of("village_id")
    bad = d["village_id"].isna()
    ctx.reject(part, d.loc[bad, ROW], "missing or invalid village code", rule="village_code", column=col)
    if known is not None:
        out = d["village_id"].notna() & ~d["village_id"].isin(known)
        ctx.reject(part, d.loc[out, ROW], f"village code not in the {what}", rule="village_not_in_" + what,
                   column=col, values=d.loc[out, "village_id"])


def _finish(ctx: Context, parts: list[Part], *, keep_pii: bool = False) -> pd.DataFrame:
    """Kept rows of all parts, with personal-data columns dropped (unless ``keep_pii``)."""
    out = pd.concat([ctx.kept(p).assign(_file=p.file, _sheet=p.sheet) for p in parts], ignore_index=True)
    if not keep_pii:
        pii = set().union(*(p.pii_names() for p in parts))
        out = out.drop(columns=[c for c in out.columns if c in pii])
    return out


# --------------------------------------------------------------------------------------------------
# frame
# --------------------------------------------------------------------------------------------------
FRAME_DROP = ("province_name",)


def build_frame(ctx: Context, parts: list[Part]) -> pd.DataFrame:
    """Candidate frame: one row per village, code parts and region consistent with the reference."""
    prov = ctx.regions.provinces.set_index("province_code")["region"]
    _require(parts, "frame", ("village_id",))
    for p in parts:
        _check_village(ctx, p, None, "frame")
        d = ctx.kept(p)
        vid = d["village_id"].astype("string")
        for name, sl in (("province_code", slice(0, 2)), ("district_code", slice(2, 4)), ("subdistrict_code", slice(4, 6))):
            if name in d.columns:
                bad = d[name].notna() & (d[name] != vid.str[sl])
                ctx.flag(p, d.loc[bad, ROW], p.raw_of(name), d.loc[bad, name], "id_consistency",
                         f"{name} differs from the village code's digits")
        if "region" in d.columns:
            exp = vid.str[:2].map(prov)
            bad = d["region"].notna() & exp.notna() & (d["region"].astype("Float64") != exp.astype("Float64"))
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("region"), d.loc[bad, "region"], "region",
                     f"region differs from the province's region in scheme {ctx.regions.scheme}")
        crit = ["has_savings_group", "has_fund_institution", "has_sufficiency"]
        if "eligible" in d.columns and all(c in d.columns for c in crit):
            allc = (d[crit] == 1).all(axis=1).astype("Int64")
            bad = d["eligible"].notna() & d[crit].notna().all(axis=1) & (d["eligible"] != allc)
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("eligible"), d.loc[bad, "eligible"], "consistency",
                     "eligible is not 'meets all three criteria'")
        if "pilot" in d.columns and "eligible" in d.columns:
            bad = (d["pilot"] == 1) & (d["eligible"] == 0)
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("pilot"), d.loc[bad, "pilot"], "consistency",
                     "pilot village that is not eligible")
        if "sg_members" in d.columns and "n_households" in d.columns:
            bad = d["sg_members"] > d["n_households"] * 10
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("sg_members"), d.loc[bad, "sg_members"], "outlier",
                     "savings-group members exceed 10 per household", severity="warning")
    out = _finish(ctx, parts)
    # code parts and region follow from the village code when the frame does not carry them
    if "province_code" not in out.columns:
        out["province_code"] = out["village_id"].str[:2].astype("string")
    from_code = out["village_id"].str[:2].map(prov).astype("Int64")
    if "region" not in out.columns:
        out["region"] = from_code
    # a missing region follows from the province (the village code is valid, so its province is known)
    out["region"] = out["region"].astype("Int64").fillna(from_code).astype("int64")
    out = out.drop(columns=[c for c in (*FRAME_DROP, ROW, "_file", "_sheet") if c in out.columns])
    lead = [c for c in ("village_id", "village_name", "region", "province_code", "district_code", "subdistrict_code")
            if c in out.columns]
    out = out[lead + [c for c in out.columns if c not in lead]]
    return out.sort_values("village_id", kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# villages
# --------------------------------------------------------------------------------------------------
FRAME_COVARIATES = (
    "mean_income",
    "share_elderly",
    "share_farm",
    "has_savings_group",
    "sg_age",
    "sg_members",
    "sg_savings",
    "has_fund_institution",
    "has_sufficiency",
    "eligible",
)


#: Columns of the design list that every study village needs (N may come from the frame instead).
DESIGN_COLUMNS = ("village_id", "pair_id", "arm", "n_households", "n_sampled")
DROP_PAIR_HINT = ("or leave the pair out explicitly (sample.drop_pairs in analysis_plan.yaml, or action drop_pair in "
                  "data/raw/corrections/, see data/raw/README.md)")


def _where(ctx: Context, p: Part, row: int, name: str | None = None) -> str:
    line = ctx.ledger.lines.get((p.file, p.sheet, row), row)
    out = p.file + (f" sheet {p.sheet!r}" if p.sheet else "") + f" row {row}"
    if line != row:
        out += f" (line {line})"
    if name is not None:
        out += f" column {p.raw_of(name)!r}"
    return out


def _cell_problems(ctx: Context, p: Part) -> dict[tuple[int, str], str]:
    """Messages of the cell checks of a part: ``(row, raw column) → message`` (first one)."""
    out: dict[tuple[int, str], str] = {}
    for r in ctx.log.rows:
        if r[0] == p.file and r[1] == p.sheet and r[7] == "set_missing":
            out.setdefault((r[2], r[3]), r[8])
    return out


def _need(ctx: Context, p: Part, probs: dict[tuple[int, str], str], names: tuple[str, ...]) -> None:
    """Raise on the first kept design row whose value in one of ``names`` is missing or refused."""
    d = ctx.kept(p)
    for name in names:
        if name not in d.columns:
            continue
        for r in d.loc[d[name].isna(), ROW]:
            why = probs.get((int(r), p.raw_of(name)), "the value is missing")
            raise CleaningError(f"{_where(ctx, p, int(r), name)}: {why}; the design list needs it for every study "
                                f"village: fix the file, {DROP_PAIR_HINT}")


def build_villages(ctx: Context, parts: list[Part], frame: pd.DataFrame) -> pd.DataFrame:
    """Study villages with arm, treated, pair, N and n, and the frame's covariates.

    Raises
    ------
    CleaningError
        Any fault of the design list (see the module notes), naming file, row and column.
    """
    fr = frame.set_index("village_id")
    _require(parts, "villages", ("village_id", "arm", "pair_id", "n_sampled"))
    prov_region = ctx.regions.provinces.set_index("province_code")["region"]
    for p in parts:
        # a design row lost in reading (cut off, a separator inside a value) is an error
        for (fl, sh, r), (st, why, _) in ctx.ledger.status.items():
            if fl == p.file and sh == p.sheet and st == "rejected" and why != "blank row":
                raise CleaningError(f"{_where(ctx, p, r)}: {why}; the design list must be complete: fix the file")
        probs = _cell_problems(ctx, p)
        _need(ctx, p, probs, DESIGN_COLUMNS[:2])
        d = ctx.kept(p)
        # pairs left out of the study
        for pid in sorted(ctx.dropped_pairs):
            hit = d[d["pair_id"] == pid]
            if hit.empty:
                why, where = ctx.dropped_pairs[pid]
                raise CleaningError(f"{where}: pair {pid} is not in the design list {p.file}; fix the pair id")
            for v in hit["village_id"]:
                ctx.dropped_villages[str(v)] = int(pid)
        _drop_pair_rows(ctx, p)
        _need(ctx, p, probs, DESIGN_COLUMNS[2:])
        d = ctx.kept(p)
        out_frame = ~d["village_id"].isin(set(frame["village_id"]))
        if out_frame.any():
            r = int(d.loc[out_frame, ROW].iloc[0])
            raise CleaningError(f"{_where(ctx, p, r, 'village_id')}: village {d.loc[out_frame, 'village_id'].iloc[0]} is "
                                f"not in the candidate frame; fix the code or the frame, {DROP_PAIR_HINT}")
        f = fr.reindex(d["village_id"])
        n_pop = d["n_households"] if "n_households" in d.columns else f["n_households"].set_axis(d.index)
        rows_l = [int(x) for x in d[ROW]]
        vids = [str(x) for x in d["village_id"]]
        for r, v, n_s, n_p in zip(rows_l, vids, d["n_sampled"].astype("Int64").tolist(),
                                  n_pop.astype("Int64").tolist(), strict=True):
            if n_s is not pd.NA and n_p is not pd.NA and int(n_s) > int(n_p):
                raise CleaningError(f"{_where(ctx, p, r, 'n_sampled')}: n = {n_s} households sampled but village {v} has "
                                    f"N = {n_p}; fix n or N")
        # region: the design list's, the frame's and the province's in the region scheme must agree
        exp = d["village_id"].str[:2].map(prov_region).astype("Int64")
        have = d["region"].astype("Int64") if "region" in d.columns else f["region"].astype("Int64").set_axis(d.index)
        frame_region = f["region"].astype("Int64").set_axis(d.index) if "region" in f.columns else exp
        for r, v, g, e, fg in zip(rows_l, vids, have.tolist(), exp.tolist(), frame_region.tolist(), strict=True):
            if g is not pd.NA and e is not pd.NA and g != e:
                raise CleaningError(
                    f"{_where(ctx, p, r, 'region')}: village {v} is in province {v[:2]} of region {e} (scheme "
                    f"{ctx.regions.scheme}), not region {g}; fix the region or the village code, {DROP_PAIR_HINT}")
            if g is not pd.NA and fg is not pd.NA and g != fg:
                raise CleaningError(
                    f"{_where(ctx, p, r, 'region')}: region {g} differs from region {fg} of the candidate frame; fix one "
                    f"of them, {DROP_PAIR_HINT}")
        for col in ("n_households", "village_name", "province_code"):
            if col in d.columns and col in fr.columns:
                a = d[col].astype("string")
                b = f[col].astype("string").set_axis(d.index)
                bad = (a.notna() & b.notna() & (a != b)).fillna(False)
                ctx.flag(p, d.loc[bad, ROW], p.raw_of(col), d.loc[bad, col], "frame_consistency",
                         f"{col} differs from the candidate frame", severity="warning" if col == "village_name" else "error")
        if "pilot" in fr.columns:
            want = pd.Series(np.where(f["pilot"].to_numpy() == 1, "pilot", "comparison"), index=d.index)
            bad = (d["arm"] != want).fillna(False)
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("arm"), d.loc[bad, "arm"], "frame_consistency",
                     "arm differs from the frame's pilot flag")
        # matched sets: one pilot and at least one comparison village, all in one region
        for pair, grp in d.assign(_region=have).groupby("pair_id", sort=True):
            n_pil = int((grp["arm"] == "pilot").sum())
            rows_s = ", ".join(str(int(x)) for x in grp[ROW])
            if n_pil != 1 or len(grp) < 2:
                raise CleaningError(
                    f"{p.file} rows {rows_s} column {p.raw_of('arm')!r}: pair {pair} has {n_pil} pilot(s) and "
                    f"{len(grp) - n_pil} comparison village(s); a pair needs one pilot and at least one comparison: fix "
                    f"arm or pair_id, {DROP_PAIR_HINT}")
            regs = sorted({int(x) for x in grp["_region"].dropna()})
            if len(regs) > 1:
                raise CleaningError(
                    f"{p.file} rows {rows_s} column {p.raw_of('region')!r}: pair {pair} spans regions {regs}; villages are "
                    f"matched within a region: fix the pair, {DROP_PAIR_HINT}")
    out = _finish(ctx, parts)
    if "pilot" in fr.columns:
        missing = sorted(set(fr.index[fr["pilot"] == 1]) - set(out["village_id"]) - set(ctx.dropped_villages))
        for v in missing:
            ctx.log.add(parts[0].file, parts[0].sheet, 0, parts[0].raw_of("village_id"), v, "pair_missing",
                        f"pilot village {v} of the frame (region {fr.loc[v, 'region']!s}) is not in the design list",
                        severity="warning")
    for c in ("region", "province_code", "village_name", "n_households"):
        if c not in out.columns and c in fr.columns:
            out[c] = out["village_id"].map(fr[c])
    out["treated"] = (out["arm"] == "pilot").astype("int64")
    cov = [c for c in FRAME_COVARIATES if c in fr.columns]
    out = out.merge(frame[["village_id", *cov]], on="village_id", how="left", validate="1:1")
    lead = ["village_id", "village_name", "region", "province_code", "arm", "treated", "pair_id", "n_households", "n_sampled"]
    lead = [c for c in lead if c in out.columns]
    out = out[lead + cov]
    for c in ("region", "pair_id", "n_households", "n_sampled"):
        if c in out.columns:
            out[c] = out[c].astype("int64")
    return out.sort_values(["pair_id", "treated", "village_id"], ascending=[True, False, True], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# households and benefits
# --------------------------------------------------------------------------------------------------
HOUSEHOLD_DROP = frozenset({"village_name", "submission_id", "submission_uuid", "row_index", "interview_end"})


def _welfare_columns(columns: list[str]) -> list[str]:
    codes = list(ref.welfare_types()["code"])
    return [c for c in codes if f"received_{c}" in columns and f"amount_{c}" in columns]


def _mask(x: Any) -> np.ndarray:
    """A plain boolean array (missing = False) of a boolean Series or array."""
    if isinstance(x, pd.Series):
        return x.to_numpy(dtype=bool, na_value=False)
    return np.asarray(x, dtype=bool)


def _flag_where(ctx: Context, p: Part, d: pd.DataFrame, mask: Any, name: str, rule: str, message: Any, *,
                severity: str = "error", values: Any = None) -> None:
    """Flag the cells of column ``name`` of the rows of ``d`` where ``mask`` holds (fast when none does)."""
    m = _mask(mask)
    if not m.any():
        return
    rows = d[ROW].to_numpy()[m]
    vals = d[name].to_numpy(dtype=object)[m] if values is None else values
    msgs = message if isinstance(message, str) else [x for x, k in zip(message, m, strict=True) if k]
    ctx.flag(p, rows, p.raw_of(name), vals, rule, msgs, severity=severity)


def _outliers(x: np.ndarray) -> np.ndarray:
    """Positive values whose robust z on the log1p scale (median/MAD of the positive values) exceeds
    :data:`OUTLIER_Z` (Iglewicz & Hoaglin's modified z-score, MAD scaled by 1.4826)."""
    out = np.zeros(x.shape, dtype=bool)
    pos = np.isfinite(x) & (x > 0)
    if pos.sum() < 2:
        return out
    v = np.log1p(x[pos])
    med = np.median(v)
    mad = np.median(np.abs(v - med)) * 1.4826
    if not np.isfinite(mad) or mad == 0:
        return out
    out[pos] = np.abs(v - med) / mad > OUTLIER_Z
    return out


def _household_checks(ctx: Context, p: Part, vill: pd.DataFrame) -> None:
    d = ctx.kept(p)
    if d.empty:
        return
    # typed village name against the code list name of its (authoritative) village code
    if "village_name" in d.columns:
        listed = d["village_id"].map(vill.set_index("village_id")["village_name"]).tolist()
        typed = d["village_name"].tolist()
        diff, msgs = [], []
        for a, b in zip(typed, listed, strict=True):
            bad = a is not pd.NA and b is not pd.NA and a is not None and b is not None and \
                village_name_key(str(a)) != village_name_key(str(b))
            diff.append(bad)
            msgs.append(f"typed name differs from the code list name {b} (similarity "
                        f"{difflib.SequenceMatcher(None, village_name_key(str(a)), village_name_key(str(b))).ratio():.2f}); "
                        "code kept" if bad else "")
        _flag_where(ctx, p, d, diff, "village_name", "village_name", msgs, severity="warning")
    inter = _mask(d["status"] == "interviewed")
    answers = [c for c in d.columns if c not in {ROW, "status", "village_id", "village_name", "hh_id", *SUBMISSION_META}]
    # skip pattern: no answers unless interviewed
    has_ans = d[answers].notna().to_numpy().any(axis=1) & ~inter
    _flag_where(ctx, p, d, has_ans, "status", "skip_pattern", "answers recorded for a household that was not interviewed")
    if "coped" in d.columns and "had_health_shock" in d.columns:
        coped = d["coped"].notna().to_numpy()
        shock = d["had_health_shock"].to_numpy(dtype=float, na_value=np.nan)
        _flag_where(ctx, p, d, coped & (shock == 0), "coped", "skip_pattern", "coping answered although no health shock")
        _flag_where(ctx, p, d, inter & ~coped & (shock == 1), "coped", "skip_pattern",
                    "coping not answered after a health shock", severity="warning", values=None)
    if "head_title" in d.columns and "head_sex" in d.columns:
        want = d["head_title"].map({"mr": "male", "boy": "male", "mrs": "female", "miss": "female", "girl": "female"})
        sex_bad = want.notna() & d["head_sex"].notna() & (want != d["head_sex"])
        _flag_where(ctx, p, d, sex_bad, "head_sex", "consistency", "head's sex does not agree with the title of the head's name")
    wt = _welfare_columns(list(d.columns))
    for c in wt:
        rec = d[f"received_{c}"].to_numpy(dtype=float, na_value=np.nan)
        amt = d[f"amount_{c}"].to_numpy(dtype=float, na_value=np.nan)
        _flag_where(ctx, p, d, (rec == 0) & (amt > 0), f"amount_{c}", "consistency",
                    f"amount > 0 but {c} welfare not received")
        _flag_where(ctx, p, d, (rec == 1) & (amt == 0), f"amount_{c}", "consistency",
                    f"{c} welfare received but amount 0", severity="warning")
    if "welfare_satisfaction" in d.columns and wt:
        anyw = (d[[f"received_{c}" for c in wt]].to_numpy(dtype=float, na_value=np.nan) == 1).any(axis=1)
        _flag_where(ctx, p, d, d["welfare_satisfaction"].notna().to_numpy() & ~anyw, "welfare_satisfaction",
                    "skip_pattern", "satisfaction answered although no welfare received")
    for c in ["savings", "debt"] + [f"amount_{w}" for w in wt]:
        if c in d.columns:
            _flag_where(ctx, p, d, _outliers(d[c].to_numpy(dtype=float, na_value=np.nan)), c, "outlier",
                        f"robust z > {OUTLIER_Z:g} on the log scale; kept, please verify", severity="warning")
    # same national ID on two households of a wave
    if "national_id" in d.columns:
        nid = d["national_id"]
        dup = nid.notna() & nid.duplicated(keep=False) & d["hh_id"].notna()
        if dup.any():
            g = d[dup].groupby("national_id")["hh_id"].nunique()
            clash = d["national_id"].isin(g[g > 1].index)
            for r in d.loc[clash, ROW]:
                ctx.log.add(p.file, p.sheet, int(r), p.raw_of("national_id"), "", "national_id_conflict",
                            "the same national ID appears on two households", pii=True)


def household_identity(village_id: pd.Series, hh_id: pd.Series) -> list[str]:
    """The identity a household pseudonym is made from: the raw household id when it already starts
    with the village code (``18030702-210``), else ``<village code>-<household id>`` (``210`` in village
    18030702 gives ``18030702-210`` too), so ids numbered within each village stay apart."""
    out = []
    for v, h in zip(village_id.astype(str), hh_id.astype(str), strict=True):
        h = h.strip()
        out.append(h if h.startswith(v) else f"{v}-{h}")
    return out


def build_households(
    ctx: Context, parts: list[Part], villages: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Households (household × wave, all sampled households) and benefits (long)."""
    study = set(villages["village_id"])
    _require(parts, "households", ("village_id", "hh_id", "status"))
    for p in parts:
        if p.wave is None:
            ctx.notes.append(f"{p.file}: no wave in the file name; rows rejected")
            ctx.reject(p, p.tidy[ROW], "no survey wave in the file name", rule="wave")
            continue
        _drop_pair_rows(ctx, p)
        d = ctx.kept(p)
        # a valid village code that is not in the design list: a pair missing from the list?
        other = d["village_id"].notna() & ~d["village_id"].isin(study)
        if other.any():
            vo = str(d.loc[other, "village_id"].iloc[0])
            n = int((d["village_id"] == vo).sum())
            raise CleaningError(
                f"{_where(ctx, p, int(d.loc[other, ROW].iloc[0]), 'village_id')}: village {vo} ({n} row(s)) is not in the "
                f"design list (villages table); add its pair to the design list, {DROP_PAIR_HINT}")
        _check_village(ctx, p, study, "study")
        d = ctx.kept(p)
        ctx.reject(p, d.loc[d["hh_id"].isna(), ROW], "missing household id", rule="missing_id", column=p.raw_of("hh_id"))
        d = ctx.kept(p)
        ctx.reject(p, d.loc[d["status"].isna(), ROW], "missing or unknown interview status", rule="allowed_codes",
                   column=p.raw_of("status"))
        _household_checks(ctx, p, villages)
    # structure: every study village has interviewed households in every wave file
    waves: dict[str, list[Part]] = {}
    for p in parts:
        if p.wave is not None:
            waves.setdefault(p.wave, []).append(p)
    vinfo = villages.set_index("village_id")
    for w, ps in waves.items():
        seen_v: set[str] = set()
        for q in ps:
            dq = ctx.kept(q)
            seen_v |= {str(x) for x in dq.loc[dq["status"] == "interviewed", "village_id"]}
        missing = [str(x) for x in villages["village_id"] if str(x) not in seen_v]
        if missing:
            vm = missing[0]
            raise CleaningError(
                f"{', '.join(q.file for q in ps)}: {vinfo.loc[vm, 'arm']!s} village {vm} (pair {vinfo.loc[vm, 'pair_id']!s}) has no "
                f"interviewed household in the {w} (e.g. a pilot with no {w}); add the interviews, {DROP_PAIR_HINT}")
    hh = pd.concat([ctx.kept(p).assign(wave=p.wave, _file=p.file) for p in parts if p.wave is not None], ignore_index=True)
    # pseudonymous ids from the household's identity (village code + household id)
    raw_ids = household_identity(hh["village_id"], hh["hh_id"])
    uniq = sorted(set(raw_ids))
    pmap = dict(zip(uniq, pseudonymize(uniq, ctx.key), strict=True))
    if len(set(pmap.values())) != len(pmap):  # pragma: no cover - 64-bit collision
        raise RuntimeError("pseudonym collision; use a longer pseudonym")
    hh["hh_raw"] = hh["hh_id"]
    hh["hh_id"] = pd.array([pmap[x] for x in raw_ids], dtype="string")
    twice = hh.duplicated(["hh_id", "wave"], keep=False)
    if twice.any():
        g = hh[twice].sort_values(["wave", "hh_id", ROW], kind="mergesort").head(2)
        raise CleaningError(
            f"{g['_file'].iloc[0] if '_file' in g.columns else 'household survey'} rows "
            f"{', '.join(str(int(r)) for r in g[ROW])}: household ids {list(g['hh_raw'])} of village "
            f"{g['village_id'].iloc[0]} are the same household (one written with the village code); write them alike "
            "or settle the duplicate in data/raw/corrections/")
    hh["wave"] = pd.Categorical(hh["wave"], categories=list(ref.WAVES), ordered=True)
    # panel: sampled in the previous wave present in the data too
    present = [w for w in ref.WAVES if (hh["wave"] == w).any()]
    seen = {w: set(hh.loc[hh["wave"] == w, "hh_id"]) for w in present}
    prev = {w: seen[present[i - 1]] if i else set() for i, w in enumerate(present)}
    hh["panel"] = np.array([int(h in prev[str(w)]) for h, w in zip(hh["hh_id"], hh["wave"], strict=True)], dtype="int64")
    hh["interviewed"] = (hh["status"] == "interviewed").astype("int64")
    # year of the wave: the most common interview year of the wave's file
    when = next((c for c in ("interview_start", "interview_date", "submitted_at") if c in hh.columns), None)
    if when is not None and "year" not in hh.columns:
        yr = hh.groupby("wave", observed=True)[when].agg(lambda s: s.dt.year.mode().min())
        hh["year"] = hh["wave"].map(yr).astype("Int64")
    # benefits (long) and household welfare totals
    wt = _welfare_columns(list(hh.columns))
    keyc = ["hh_id", "village_id", "wave"]
    base = hh.loc[hh["interviewed"] == 1, keyc + [f"{k}_{c}" for c in wt for k in ("received", "amount")]]
    ben = pd.concat(
        [
            base[keyc].assign(welfare_type=c, received=base[f"received_{c}"], amount=base[f"amount_{c}"])
            for c in wt
        ],
        ignore_index=True,
    )
    wt_order = {c: i for i, c in enumerate(ref.welfare_types()["code"])}
    ben["_o"] = ben["welfare_type"].map(wt_order)
    ben = ben.sort_values(["wave", "village_id", "hh_id", "_o"], kind="mergesort").drop(columns="_o").reset_index(drop=True)
    ben["welfare_type"] = ben["welfare_type"].astype("string")
    ben["received"] = ben["received"].astype("Int64")
    ben["amount"] = ben["amount"].astype("float64")
    if wt:
        rec = hh[[f"received_{c}" for c in wt]].astype("Float64")
        amt = hh[[f"amount_{c}" for c in wt]].astype("Float64")
        complete = rec.notna().all(axis=1)
        hh["any_welfare"] = rec.max(axis=1).where(complete).astype("Int64")
        hh["n_welfare_types"] = rec.sum(axis=1).where(complete).astype("Int64")
        hh["welfare_amount"] = amt.sum(axis=1).where(amt.notna().all(axis=1)).astype("float64")
    for stem, k in (("qol", "qol_index"), ("self_reliance", "self_reliance_index")):
        items = sorted(c for c in hh.columns if c.startswith(stem + "_") and c[len(stem) + 1 :].isdigit())
        if items:
            hh[k] = hh[items].astype("Float64").mean(axis=1, skipna=False).astype("float64")
    # design information from the villages table
    v = villages.set_index("village_id")
    hh["region"] = hh["village_id"].map(v["region"]).astype("int64")
    hh["pair_id"] = hh["village_id"].map(v["pair_id"]).astype("int64")
    hh["arm"] = hh["village_id"].map(v["arm"]).astype("string")
    hh["treated"] = hh["village_id"].map(v["treated"]).astype("int64")
    hh["n_population"] = hh["village_id"].map(v["n_households"]).astype("int64")
    hh["n_sampled"] = hh["village_id"].map(v["n_sampled"]).astype("int64")
    # sample size per village and wave against the design list
    got = hh.groupby(["village_id", "wave"], observed=True).size()
    for w in [w for w in ref.WAVES if (hh["wave"] == w).any()]:
        p = next(q for q in parts if q.wave == w)
        for vid in sorted(v.index):
            n = int(got.get((vid, w), 0))
            want = int(v.loc[vid, "n_sampled"])
            if n != want:
                ctx.log.add(p.file, p.sheet, 0, p.raw_of("village_id"), vid, "sample_size",
                            f"{n} sampled households in the {w} file, design list says n = {want}", severity="warning")
    # drop personal data and bookkeeping; title of the head kept (not personal data)
    pii = set().union(*(p.pii_names() for p in parts))
    drop = [c for c in hh.columns if c in pii or c in HOUSEHOLD_DROP or c.startswith(("received_", "amount_"))]
    drop += [ROW, "hh_raw", "_file"]
    hh = hh.drop(columns=[c for c in drop if c in hh.columns])
    if "interview_start" in hh.columns:
        hh = hh.rename(columns={"interview_start": "interview_time"})
    lead = ["hh_id", "village_id", "region", "pair_id", "arm", "treated", "wave", "year", "status", "interviewed",
            "panel", "n_population", "n_sampled"]
    lead = [c for c in lead if c in hh.columns]
    rest = [c for c in hh.columns if c not in lead]
    hh = hh[lead + rest]
    hh = hh.sort_values(["wave", "village_id", "hh_id"], kind="mergesort").reset_index(drop=True)
    return hh, ben


# --------------------------------------------------------------------------------------------------
# admin (savings-group records) and committee ratings
# --------------------------------------------------------------------------------------------------
ADMIN_DROP = ("village_name",)


def build_admin(ctx: Context, parts: list[Part], villages: pd.DataFrame) -> pd.DataFrame:
    """Savings group × CE year: members, money, allocation (``alloc_<code>``), payouts, derived shares."""
    v = villages.set_index("village_id")
    alloc_codes = list(ref.profit_allocation()["code"])
    _require(parts, "admin", ("village_id", "year"))
    for p in parts:
        _check_village(ctx, p, set(villages["village_id"]), "study")
        d = ctx.kept(p)
        ctx.reject(p, d.loc[d["year"].isna(), ROW], "missing or invalid accounting year", rule="year",
                   column=p.raw_of("year"))
        d = ctx.kept(p)
        # sheet named after the region: the village must belong to it
        digits = "".join(ch for ch in p.sheet if ch.isdigit())
        if digits:
            bad = d["village_id"].map(v["region"]) != int(digits)
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("village_id"), d.loc[bad, "village_id"], "region",
                     f"village is not in region {digits} of sheet {p.sheet}")
        cols = [f"alloc_{c}" for c in alloc_codes if f"alloc_{c}" in d.columns]
        if cols and "profit" in d.columns:
            s = d[cols].sum(axis=1, min_count=len(cols))
            bad = s.notna() & d["profit"].notna() & ((s - d["profit"]).abs() > 1.0)
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("profit"), d.loc[bad, "profit"], "consistency",
                     [f"allocations sum to {a:,.0f}, profit is {b:,.0f}" for a, b in zip(s[bad], d.loc[bad, "profit"], strict=True)])
        fund = ("fund_opening", "alloc_welfare", "fund_income_other", "welfare_payout", "fund_closing")
        if all(c in d.columns for c in fund):
            # welfare fund identity: opening + (welfare allocation + other income) - payouts = closing
            gap = d["fund_opening"] + d["alloc_welfare"] + d["fund_income_other"] - d["welfare_payout"] - d["fund_closing"]
            bad = gap.notna() & (gap.abs() > 1.0)
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("fund_closing"), d.loc[bad, "fund_closing"], "consistency",
                     [f"fund identity off by {g:,.0f} baht (opening + income - payouts != closing)" for g in gap[bad]])
        if "closing_date" in d.columns:
            bad = d["closing_date"].notna() & (d["closing_date"].dt.year != d["year"])
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("closing_date"), d.loc[bad, "closing_date"].astype(str),
                     "consistency", "closing date is not in the accounting year")
        if "members" in d.columns:
            bad = d["members"] > d["village_id"].map(v["n_households"]) * 10
            ctx.flag(p, d.loc[bad, ROW], p.raw_of("members"), d.loc[bad, "members"], "outlier",
                     "more than 10 members per household", severity="warning")
    out = _finish(ctx, parts)
    out["region"] = out["village_id"].map(v["region"]).astype("int64")
    out["pair_id"] = out["village_id"].map(v["pair_id"]).astype("int64")
    out["arm"] = out["village_id"].map(v["arm"]).astype("string")
    out["treated"] = out["village_id"].map(v["treated"]).astype("int64")
    out["year"] = out["year"].astype("int64")
    if "profit" in out.columns and "alloc_welfare" in out.columns:
        out["welfare_share"] = (100.0 * out["alloc_welfare"] / out["profit"]).where(out["profit"] > 0).astype("float64")
    if "fund_income_other" in out.columns and "alloc_welfare" in out.columns:
        out["fund_income"] = (out["alloc_welfare"] + out["fund_income_other"]).astype("float64")
    if "welfare_payout" in out.columns and "members" in out.columns:
        out["welfare_payout_per_member"] = (out["welfare_payout"] / out["members"]).where(out["members"] > 0).astype("float64")
    out = out.drop(columns=[c for c in (*ADMIN_DROP, ROW, "_file", "_sheet") if c in out.columns])
    lead = ["village_id", "region", "pair_id", "arm", "treated", "year"]
    out = out[lead + [c for c in out.columns if c not in lead]]
    return out.sort_values(["village_id", "year"], kind="mergesort").reset_index(drop=True)


def build_committee(ctx: Context, parts: list[Part], villages: pd.DataFrame) -> pd.DataFrame:
    """Committee member × item (long): ``village_id``, ``member_no``, ``role``, ``item``, ``factor``, ``score``."""
    items = ref.success_factor_items()
    item_codes = list(items["item"])
    _require(parts, "committee", ("village_id", "member_no"))
    for p in parts:
        _check_village(ctx, p, set(villages["village_id"]), "study")
        d = ctx.kept(p)
        ctx.reject(p, d.loc[d["member_no"].isna(), ROW], "missing member number", rule="missing_id",
                   column=p.raw_of("member_no"))
    wide = _finish(ctx, parts)
    if "role" not in wide.columns:
        wide["role"] = pd.array([pd.NA] * len(wide), dtype="string")
    have = [c for c in item_codes if c in wide.columns]
    if not have:
        raise CleaningError(
            f"{parts[0].file}: no committee item column is named after a success-factor item "
            "(e.g. committee_1); fix the codebook's 'name' column"
        )
    long = wide.melt(id_vars=["village_id", "member_no", "role"], value_vars=have, var_name="item", value_name="score")
    long["factor"] = long["item"].map(items.set_index("item")["factor"]).astype("string")
    long["item"] = long["item"].astype("string")
    order = {c: i for i, c in enumerate(item_codes)}
    long["_o"] = long["item"].map(order)
    long = long.sort_values(["village_id", "member_no", "_o"], kind="mergesort").drop(columns="_o")
    long["member_no"] = long["member_no"].astype("int64")
    long["score"] = long["score"].astype("Int64")
    v = villages.set_index("village_id")
    long["arm"] = long["village_id"].map(v["arm"]).astype("string")
    long["treated"] = long["village_id"].map(v["treated"]).astype("int64")
    return long[["village_id", "arm", "treated", "member_no", "role", "item", "factor", "score"]].reset_index(drop=True)
