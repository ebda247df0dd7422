"""Content of the report's framing sections: timeline, outcome definitions, the analysis plan, attrition, power.

Every function reads the :class:`~welfare_eval.report.data.ReportData` bundle only (results, plan, fieldwork
counts) and returns a display table or markdown in the report's language; numbers follow
:mod:`welfare_eval.report.fmt`, labels come from :mod:`welfare_eval.reference`.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.data import ReportData

__all__ = [
    "attrition_display",
    "attrition_markdown",
    "differential_attrition",
    "differential_attrition_display",
    "draws_text",
    "ethics_markdown",
    "limitations_markdown",
    "outcomes_definition_display",
    "plan_display",
    "plan_markdown",
    "timeline_display",
    "timeline_markdown",
    "welfare_types_count",
    "welfare_types_list",
]

Lang = Literal["th", "en"]
_WAVES = ("baseline", "midline", "endline")


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def _outcome(y: str, lang: Lang) -> str:
    from welfare_eval.report.impact_content import outcome_label

    return outcome_label(y, lang)


def _waves(d: ReportData) -> list[str]:
    f = d.fieldwork
    if not f.empty:
        return [w for w in _WAVES if (f["wave"].astype(str) == w).any()]
    s = d.results.get("sample_sizes", pd.DataFrame())
    return [w for w in _WAVES if len(s) and (s["wave"].astype(str) == w).any()]


# --------------------------------------------------------------------------------------------------
# Intervention and timeline
# --------------------------------------------------------------------------------------------------
def welfare_types_count() -> int:
    """Number of welfare types in the reference list (nine)."""
    return len(ref.welfare_types())


def welfare_types_list(lang: Lang = "th") -> str:
    """The welfare types in words, in reference order."""
    names = [ref.label(f"welfare.{c}", lang) for c in ref.welfare_types()["code"]]
    if lang == "th":
        return " ".join(names[:-1]) + " และ" + names[-1]
    names = [n[0].lower() + n[1:] for n in names]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _event_years(d: ReportData) -> tuple[int | None, int | None, int | None]:
    """(first record year, pilot start year, last record year) of the savings-group records, from the event study."""
    ev = d.results.get("impact_event", pd.DataFrame())
    if ev.empty or "start_year" not in ev or "rel_time" not in ev:
        return None, None, None
    start = int(ev["start_year"].dropna().iloc[0]) if ev["start_year"].notna().any() else None
    if start is None:
        return None, None, None
    # the reference year (-1) is not a coefficient row but is in the panel
    lo = int(min(ev["rel_time"].min(), -1)) + start
    hi = int(ev["rel_time"].max()) + start
    return lo, start, hi


def _workshop_tables(d: ReportData) -> list[tuple[str, pd.DataFrame]]:
    return [(k, v) for k, v in sorted(d.results.items()) if "workshop" in k and isinstance(v, pd.DataFrame) and len(v)]


def timeline_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The study's timeline from the data: savings-group records, each survey wave's fieldwork dates and
    interviews, the pilot's start, and the three workshop phases (dates when the data have them)."""
    th = lang == "th"
    rows: list[dict[str, str]] = []
    lo, start, hi = _event_years(d)
    col_when, col_what, col_n = _lab("timeline.when", lang), _lab("timeline.event", lang), _lab("timeline.detail", lang)
    if lo is not None and hi is not None:
        rows.append({col_when: f"{lo}–{hi}", col_what: _lab("timeline.records", lang),
                     col_n: _lab("timeline.records_detail", lang)})
    f = d.fieldwork
    has_workshops = bool(_workshop_tables(d))
    for k, w in enumerate(_waves(d)):
        sub = f[f["wave"].astype(str) == w] if not f.empty else f
        if len(sub):
            when = fmt.date_range(sub["first_interview"].dropna().min(), sub["last_interview"].dropna().max())
            n = int(sub["n_interviewed"].sum())
            nv = int(sub["village_id"].nunique())
            detail = (f"สัมภาษณ์ได้ {fmt.count(n)} ครัวเรือนใน {nv} หมู่บ้าน" if th
                      else f"{fmt.count(n)} households interviewed in {nv} villages")
        else:
            when, detail = "—", ""
        rows.append({col_when: when, col_what: f"{_lab('timeline.survey', lang)}: {_lab(f'wave.{w}', lang)}",
                     col_n: detail})
        if k == 0 and start is not None:
            rows.append({col_when: str(start), col_what: _lab("timeline.start", lang),
                         col_n: _lab("timeline.start_detail", lang)})
        phase = ("before", "during", "after")[min(k, 2)]
        rows.append({col_when: _lab("timeline.see_monitoring" if has_workshops else "timeline.not_recorded", lang),
                     col_what: _lab(f"timeline.workshop.{phase}", lang), col_n: _lab("timeline.workshop_detail", lang)})
    return pd.DataFrame(rows)


def timeline_markdown(d: ReportData, lang: Lang = "th") -> str:
    """What the timeline says about when the effect is measured, with the dates from the data."""
    f = d.fieldwork
    lo, start, hi = _event_years(d)
    waves = _waves(d)
    if f.empty or not waves:
        return ""
    first = f[f["wave"].astype(str) == waves[0]]
    last = f[f["wave"].astype(str) == waves[-1]]
    b0, b1 = fmt.date(first["first_interview"].dropna().min()), fmt.date(first["last_interview"].dropna().max())
    e1 = fmt.date(last["last_interview"].dropna().max())
    th = lang == "th"
    if th:
        txt = (f"การสำรวจรอบก่อนดำเนินโครงการเก็บข้อมูลระหว่าง {b0} ถึง {b1} และรอบสุดท้ายเสร็จเมื่อ {e1} (@tbl-timeline) "
               "ผลของโครงการ ณ รอบหลังดำเนินโครงการจึงวัดการเปลี่ยนแปลงในช่วงเวลาดังกล่าว ")
        if start is not None:
            txt += (f"บันทึกรายปีของกลุ่มออมทรัพย์ครอบคลุมปี {lo}–{hi} ซึ่งให้ข้อมูลก่อนเริ่มโครงการ (ปี {start}) "
                    "หลายปีสำหรับตรวจข้อสมมติแนวโน้มคู่ขนาน ")
        if not _workshop_tables(d):
            txt += ("วันจัดประชุมเชิงปฏิบัติการแต่ละรอบไม่อยู่ในข้อมูลที่ใช้วิเคราะห์ (บันทึกในฐานข้อมูลติดตามความก้าวหน้า) "
                    "รายงานนี้จึงไม่ระบุวันดังกล่าว")
        return txt.strip() + "\n"
    txt = (f"The baseline survey ran from {b0} to {b1} and the last wave ended on {e1} (@tbl-timeline); the effect at "
           "endline measures the change over that period. ")
    if start is not None:
        txt += (f"The savings groups' yearly records cover {lo}–{hi}, several years before the pilot's start ({start}), "
                "which lets the event study check parallel trends. ")
    if not _workshop_tables(d):
        txt += ("The workshop dates of each phase are not in the data this analysis uses (they are kept in the "
                "monitoring database), so this report does not state them.")
    return txt.strip() + "\n"


# --------------------------------------------------------------------------------------------------
# Outcomes and indices
# --------------------------------------------------------------------------------------------------
def outcomes_definition_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Each impact outcome of the plan: name, unit of the effect, definition, family (headline or secondary);
    the receipt of each welfare type as one row when the plan includes that family."""
    imp = d.plan.get("impact") or {}
    outcomes = [str(y) for y in imp.get("outcomes") or []]
    head = {str(y) for y in imp.get("headline") or []}
    eff = d.results.get("impact_effects", pd.DataFrame())
    have = set(eff["outcome"].astype(str)) if len(eff) else set(outcomes)
    rows = []
    for y in outcomes:
        if y not in have:
            continue
        u = fmt.unit_of(y)
        rows.append({
            _lab("outcome", lang): _outcome(y, lang),
            _lab("outcomes.unit", lang): fmt.unit_word(u, change=True, lang=lang) or _lab(f"unit.{u}", lang),
            _lab("outcomes.definition", lang): _lab(f"def.outcome.{y}", lang),
            _lab("impact.family", lang): _lab("impact.family.primary" if y in head else "impact.family.secondary", lang),
        })
    if imp.get("welfare_types"):
        n_types = len(ref.welfare_types())
        rows.append({
            _lab("outcome", lang): _lab("outcome.received", lang) + (f" ({n_types} ประเภท)" if lang == "th"
                                                                       else f" ({n_types} types)"),
            _lab("outcomes.unit", lang): fmt.unit_word("share", change=True, lang=lang),
            _lab("outcomes.definition", lang): _lab("def.outcome.received", lang),
            _lab("impact.family", lang): _lab("impact.family.welfare_types", lang),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# The analysis plan
# --------------------------------------------------------------------------------------------------
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def draws_text(n: Any, n_pairs: int, lang: Lang = "th") -> str:
    """Number of draws; ``2¹⁸ = 262,144 (full enumeration)`` when it enumerates every sign vector of the pairs."""
    n = int(n)
    if n_pairs > 0 and n == 2**n_pairs:
        return f"2{str(n_pairs).translate(_SUPERSCRIPT)} = {fmt.count(n)} ({_lab('impact.enumerated', lang)})"
    return fmt.count(n)


def plan_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The analysis plan the results follow, setting by setting, in words (from ``D.plan``)."""
    p = d.plan
    imp = p.get("impact") or {}
    mat = p.get("matching") or {}
    wts = p.get("weights") or {}
    ev = imp.get("event_study") or {}
    fac = p.get("factors") or {}
    desc = p.get("descriptives") or {}
    head = [str(y) for y in imp.get("headline") or []]
    others = [str(y) for y in imp.get("outcomes") or [] if y not in head]
    rows: list[tuple[str, str]] = []

    def add(key: str, value: str) -> None:
        rows.append((_lab(f"plan.{key}", lang), value))

    sep = ", "
    add("headline", sep.join(_outcome(y, lang) for y in head))
    add("secondary", sep.join(_outcome(y, lang) for y in others))
    add("welfare_types", _lab("yes" if imp.get("welfare_types") else "no", lang))
    add("waves", f"{_lab('wave.' + str(imp.get('baseline', 'baseline')), lang)} → "
        + sep.join(_lab(f"wave.{w}", lang) for w in imp.get("waves") or []))
    add("methods", sep.join(_lab(f"method.{m}", lang) for m in imp.get("methods") or []))
    draws = imp.get("draws") or {}
    n_pairs = int(d.results["design"].shape[0]) if "design" in d.results else 0
    add("draws", sep.join(f"{_lab('impact.family.' + str(k), lang)}: {draws_text(v, n_pairs, lang)}"
                          for k, v in draws.items()))
    add("multiple_testing", _lab("plan.multiple_testing_value", lang))
    add("matching", f"{_lab('plan.method.' + str(mat.get('method', 'mahalanobis')), lang)}; "
        + sep.join(_lab(f"covariate.{c}", lang) for c in mat.get("covariates") or []))
    add("weights", " → ".join(_lab(f"survey.step.{s}", lang) for s in wts.get("steps") or []))
    add("descriptives", _lab(f"plan.inference.{desc.get('inference', 'finite')}", lang))
    if ev:
        add("event_study", sep.join(_outcome(str(y), lang) for y in ev.get("outcomes") or [])
            + f"; {_lab('impact.draws', lang)} {fmt.count(ev.get('draws', 0))}")
    if fac:
        add("factors", f"{_outcome(str(fac.get('did_outcome', '')), lang)}; "
            + f"{_lab('plan.success_threshold', lang)} {fmt.number(fac.get('success_threshold'), 'share')} "
            + fmt.unit_word("share", change=True, lang=lang)
            + f"; bootstrap {fmt.count(fac.get('n_boot', 0))}")
    add("min_cell", fmt.count((p.get("reporting") or {}).get("min_cell", d.min_cell)))
    add("seed", str(p.get("seed", d.seed)))
    from welfare_eval.report.content import plan_source

    add("source", plan_source(d, lang) + (f" (SHA-256 {d.plan_sha256[:16]}…)" if d.plan_sha256 else ""))
    return pd.DataFrame(rows, columns=[_lab("plan.setting", lang), _lab("report.value", lang)])


def plan_markdown(d: ReportData, lang: Lang = "th") -> str:
    """Which plan the analysis follows and how to check it."""
    src = d.plan_source or ""
    packaged = not src or src.startswith("package") or (src.endswith("plan.yaml") and "analysis_plan" not in src)
    sha = d.plan_sha256[:16] if d.plan_sha256 else ""
    if lang == "th":
        who = ("แผนการวิเคราะห์ที่มากับโปรแกรม (กำหนดไว้ก่อนวิเคราะห์ข้อมูล)" if packaged
               else f"แผนการวิเคราะห์ของโครงการ ({src})")
        return (f"การวิเคราะห์ทั้งหมดเป็นไปตาม{who} @tbl-plan สรุปสาระสำคัญ ตัวชี้วัดหลัก วิธีอนุมาน จำนวนการสุ่ม "
                f"และการปรับการทดสอบหลายตัวชี้วัดถูกกำหนดในแผนนี้ ไม่ได้เลือกหลังเห็นผล ค่าแฮช SHA-256 ของแผน ({sha}…) "
                "บันทึกไว้กับผลการวิเคราะห์ ผู้อ่านจึงตรวจได้ว่าผลมาจากแผนใด\n")
    who = ("the plan that ships with the package (fixed before the data were analysed)" if packaged
           else f"the project's analysis plan ({src})")
    return (f"The whole analysis follows {who}; @tbl-plan lists its settings. The headline outcomes, inference "
            "methods, numbers of draws and multiple-testing families are set there, not chosen after seeing results. "
            f"The plan's SHA-256 ({sha}…) is stored with the results, so a reader can check which plan produced them.\n")


# --------------------------------------------------------------------------------------------------
# Attrition
# --------------------------------------------------------------------------------------------------
def _village_rates(d: ReportData) -> pd.DataFrame:
    """Per village: nonresponse per wave and panel attrition per follow-up wave (shares)."""
    f = d.fieldwork.copy()
    f["wave"] = f["wave"].astype(str)
    waves = _waves(d)
    v = f.pivot_table(index=["village_id", "pair_id", "treated"], columns="wave",
                      values=["n_sampled", "n_interviewed", "n_panel"], aggfunc="sum")
    out = pd.DataFrame(index=v.index)
    for w in waves:
        out[f"nonresponse_{w}"] = 1.0 - v[("n_interviewed", w)] / v[("n_sampled", w)]
    for prev, w in pairwise(waves):
        out[f"attrition_{w}"] = 1.0 - v[("n_panel", w)] / v[("n_sampled", prev)]
    return out.reset_index()


def attrition_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Per wave and arm: households sampled and interviewed, response rate, households kept from the previous
    wave (panel), attrition since the previous wave, and why households were not interviewed."""
    f = d.fieldwork.copy()
    if f.empty:
        return pd.DataFrame()
    f["wave"] = f["wave"].astype(str)
    g = f.groupby(["wave", "arm"], sort=False)[["n_sampled", "n_interviewed", "n_panel", "n_refused",
                                                 "n_not_at_home", "n_moved", "n_other"]].sum()
    waves = _waves(d)
    tot: dict[Any, dict[str, float]] = {k: {str(c): float(v) for c, v in row.items()} for k, row in g.to_dict("index").items()}
    rows = []
    for k, w in enumerate(waves):
        for arm in ("pilot", "comparison"):
            if (w, arm) not in tot:
                continue
            r = tot[(w, arm)]
            prev = tot.get((waves[k - 1], arm)) if k > 0 else None
            attr = fmt.percent(1.0 - r["n_panel"] / prev["n_sampled"]) if prev is not None else "—"
            kept = fmt.count(r["n_panel"]) if prev is not None else "—"
            rows.append({
                _lab("wave", lang): _lab(f"wave.{w}", lang),
                _lab("arm", lang): _lab(f"arm.{arm}", lang),
                _lab("n_sampled", lang): fmt.count(r["n_sampled"]),
                _lab("n_interviewed", lang): fmt.count(r["n_interviewed"]),
                _lab("response_rate", lang): fmt.percent(r["n_interviewed"] / r["n_sampled"]),
                _lab("attrition.kept", lang): kept,
                _lab("attrition.rate", lang): attr,
                _lab("attrition.refused", lang): fmt.count(r["n_refused"]),
                _lab("attrition.not_at_home", lang): fmt.count(r["n_not_at_home"]),
                _lab("attrition.moved", lang): fmt.count(r["n_moved"] + r["n_other"]),
            })
    return pd.DataFrame(rows)


def differential_attrition(d: ReportData) -> pd.DataFrame:
    """Pilot minus comparison nonresponse and panel attrition (shares), with the within-pair test.

    The difference is the mean within-pair difference of the village rates; its p-value is the paired t test
    (OLS with pair fixed effects, :func:`welfare_eval.match.balance_tests`, df = pairs − 1). Columns:
    ``measure``, ``wave``, ``pilot``, ``comparison``, ``estimate``, ``p_value``, ``df``, ``n_pairs``.
    """
    from welfare_eval.match import balance_tests

    if d.fieldwork.empty:
        return pd.DataFrame(columns=["measure", "wave", "pilot", "comparison", "estimate", "p_value", "df", "n_pairs"])
    v = _village_rates(d)
    cols = [c for c in v.columns if c.startswith(("nonresponse_", "attrition_"))]
    bt = balance_tests(v, treat="treated", covariates=cols, fixed_effects="pair_id").tidy().set_index("covariate")
    f = d.fieldwork.assign(wave=d.fieldwork["wave"].astype(str))
    g = f.groupby(["wave", "treated"])[["n_sampled", "n_interviewed", "n_panel"]].sum()
    tot: dict[Any, dict[str, float]] = {k: {str(c): float(x) for c, x in row.items()} for k, row in g.to_dict("index").items()}
    tests: dict[Any, dict[str, float]] = {k: {str(c): float(x) for c, x in row.items() if c in ("estimate", "p_value", "df")}
                                          for k, row in bt.to_dict("index").items()}
    waves = _waves(d)
    rows = []
    for c in cols:
        measure, w = c.split("_", 1)
        if measure == "nonresponse":
            pil = 1 - tot[(w, 1)]["n_interviewed"] / tot[(w, 1)]["n_sampled"]
            com = 1 - tot[(w, 0)]["n_interviewed"] / tot[(w, 0)]["n_sampled"]
        else:
            prev = waves[waves.index(w) - 1]
            pil = 1 - tot[(w, 1)]["n_panel"] / tot[(prev, 1)]["n_sampled"]
            com = 1 - tot[(w, 0)]["n_panel"] / tot[(prev, 0)]["n_sampled"]
        rows.append({"measure": measure, "wave": w, "pilot": pil, "comparison": com, **tests[c],
                     "n_pairs": int(v["pair_id"].nunique())})
    return pd.DataFrame(rows)


def differential_attrition_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """:func:`differential_attrition` for the report: rates in %, the difference in percentage points."""
    t = differential_attrition(d)
    return pd.DataFrame({
        _lab("attrition.measure", lang): [f"{_lab('attrition.' + m, lang)}: {_lab('wave.' + w, lang)}"
                                          for m, w in zip(t["measure"], t["wave"], strict=True)],
        _lab("arm.pilot", lang) + " (%)": [fmt.number(x, "share") for x in t["pilot"]],
        _lab("arm.comparison", lang) + " (%)": [fmt.number(x, "share") for x in t["comparison"]],
        _lab("attrition.difference", lang): [fmt.number(x, "share", signed=True) for x in t["estimate"]],
        _lab("df", lang): [fmt.df(x) for x in t["df"]],
        _lab("p_value", lang): [fmt.p_value(x) for x in t["p_value"]],
    })


def attrition_markdown(d: ReportData, lang: Lang = "th") -> str:
    """Attrition in words: overall response and panel retention, and whether it differs by arm."""
    t = differential_attrition(d)
    if t.empty:
        return ""
    f = d.fieldwork
    rr = float(f["n_interviewed"].sum() / f["n_sampled"].sum())
    att = t[t["measure"] == "attrition"]
    worst = t.iloc[int(np.argmax(np.abs(t["estimate"].to_numpy())))]
    sig = t[t["p_value"] < 0.05]
    th = lang == "th"
    a_lo = fmt.percent(min(att["pilot"].min(), att["comparison"].min())) if len(att) else "—"
    a_hi = fmt.percent(max(att["pilot"].max(), att["comparison"].max())) if len(att) else "—"
    wlab = _lab(f"wave.{worst['wave']}", lang)
    mlab = _lab(f"attrition.{worst['measure']}", lang)
    if th:
        txt = (f"สัมภาษณ์ได้ {fmt.percent(rr)} ของครัวเรือนตัวอย่างทั้งหมด ครัวเรือนที่หลุดจากการติดตามระหว่างรอบ (ย้ายออกและถูกแทนด้วยการสุ่มใหม่) "
               f"มี {a_lo}–{a_hi} ต่อรอบ (@tbl-attrition) ")
        if len(sig):
            txt += (f"**การหลุดหายต่างกันระหว่างกลุ่ม**: {len(sig)} ตัววัดมีนัยสำคัญที่ระดับ 5% (@tbl-attrition-diff) "
                    "ผลของโครงการอาจเอนเอียงหากครัวเรือนที่หลุดหายต่างจากครัวเรือนที่เหลือ")
        else:
            txt += (f"ไม่พบความแตกต่างของการไม่ตอบหรือการหลุดหายระหว่างหมู่บ้านนำร่องกับหมู่บ้านเปรียบเทียบ (@tbl-attrition-diff; "
                    f"ผลต่างมากที่สุดคือ{mlab} {wlab} {fmt.number(worst['estimate'], 'share', signed=True)} จุดร้อยละ, "
                    f"p = {fmt.p_value(worst['p_value'])}) การหลุดหายจึงไม่น่าจะทำให้ผลเอนเอียงมาก "
                    "แต่ยังไม่ได้ตรวจว่าลักษณะของครัวเรือนที่หลุดหายต่างกันหรือไม่")
        return txt + "\n"
    txt = (f"{fmt.percent(rr)} of all sampled households were interviewed; {a_lo}–{a_hi} of the panel left between waves "
           "(moved away, replaced by a new random draw) (@tbl-attrition). ")
    if len(sig):
        txt += (f"**Attrition differs by arm**: {len(sig)} measures are significant at 5% (@tbl-attrition-diff); the "
                "effects may be biased if leavers differ from stayers.")
    else:
        txt += (f"Nonresponse and attrition do not differ between pilot and comparison villages (@tbl-attrition-diff; "
                f"largest difference: {mlab.lower()} at {wlab.split(' (')[0].lower()}, "
                f"{fmt.number(worst['estimate'], 'share', signed=True)} percentage points, p = {fmt.p_value(worst['p_value'])}), "
                "so attrition is unlikely to bias the effects much; whether leavers differ in their characteristics "
                "has not been checked.")
    return txt + "\n"


# --------------------------------------------------------------------------------------------------
# Limitations and ethics
# --------------------------------------------------------------------------------------------------
def limitations_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The study's limitations as a list, with the numbers that make them concrete."""
    from welfare_eval.report.content import balance_summary, spillover_pairs

    n_pairs = int(d.results["design"].shape[0]) if "design" in d.results else 0
    bal = balance_summary(d) if {"balance", "balance_overall"} <= set(d.results) else {}
    n_spill = len(spillover_pairs(d)) if "design" in d.results else 0
    scheme = d.region_scheme
    th = lang == "th"
    items: list[str] = []
    if th:
        items.append(f"**การคัดเลือกไม่ได้สุ่ม**: หมู่บ้านนำร่องถูกเลือกโดยกรมการพัฒนาชุมชน และหลังจับคู่ความสมดุลยังไม่ดี "
                     f"(ค่าเฉลี่ยของ |SMD| {fmt.number(bal.get('smd_after'), 'ratio')}; @sec-matching) ผลของโครงการจึงถูกต้อง"
                     "เมื่อข้อสมมติแนวโน้มคู่ขนานเป็นจริงเท่านั้น การศึกษาเชิงเหตุการณ์ของกลุ่มออมทรัพย์ (@sec-event) ตรวจข้อสมมตินี้ได้"
                     "เฉพาะตัวชี้วัดระดับกลุ่ม ไม่ใช่ตัวชี้วัดระดับครัวเรือน")
        items.append(f"**ขนาดเล็ก**: มี {n_pairs} คู่ ผลขนาดเล็กถึงปานกลางอาจตรวจไม่พบ (@sec-power) และค่า p ของแต่ละวิธีอนุมาน"
                     "อาจต่างกันเมื่อผลอยู่ใกล้เกณฑ์")
        items.append(f"**การกระจายผล**: {n_spill} คู่มีหมู่บ้านทั้งสองอยู่ในจังหวัดเดียวกัน (@sec-spillover) หากหมู่บ้านเปรียบเทียบได้รับ"
                     "ผลของโครงการไปด้วย ผลที่ประมาณได้จะต่ำกว่าผลจริง")
        items.append("**ข้อมูลจากการรายงานของครัวเรือน**: การได้รับสวัสดิการ เงินออม หนี้สิน และดัชนีต่าง ๆ มาจากคำตอบของครัวเรือน "
                     "อาจคลาดเคลื่อนจากการจำหรือการตอบให้ดูดี และครัวเรือนในหมู่บ้านนำร่องอาจตอบต่างไปเพราะรู้ว่าอยู่ในโครงการ")
        items.append("**การทดสอบหลายตัวชี้วัด**: รายงานนี้ดูตัวชี้วัดหลายตัวใน 2 รอบ ข้อสรุปจึงอิงค่า p ที่ปรับแบบ Romano–Wolf "
                     "ของตัวชี้วัดหลักเป็นหลัก ผลของตัวชี้วัดรองและการวิเคราะห์ปัจจัยแห่งความสำเร็จเป็นผลเชิงสำรวจ")
        items.append("**การนำไปใช้ที่อื่น**: หมู่บ้านนำร่องผ่านเกณฑ์ความพร้อมและได้รับการสนับสนุนใกล้ชิด "
                     "ผลในการขยายโครงการไปยังหมู่บ้านทั่วไปอาจต่างจากนี้")
        if scheme:
            items.append(f"**เขตตรวจราชการ**: การจัดจังหวัดเข้าเขตใช้ {scheme.get('name_th') or scheme.get('name_en', '')} "
                         "(ภาคผนวกที่มาของผลลัพธ์) หากใช้การจัดกลุ่มอื่น คู่และตารางรายเขตจะเปลี่ยน")
        if d.is_demo:
            items.append("**ข้อมูลจำลอง**: รายงานนี้สร้างจากข้อมูลจำลองเพื่อทดสอบระบบวิเคราะห์ ตัวเลขไม่ใช่ผลการประเมินจริง")
    else:
        items.append(f"**Non-random selection**: the Department chose the pilots, and balance after matching is poor (mean "
                     f"|SMD| {fmt.number(bal.get('smd_after'), 'ratio')}; @sec-matching), so the effects are right only "
                     "under parallel trends. The savings-group event study (@sec-event) checks that assumption for group-level "
                     "outcomes only, not for the household outcomes.")
        items.append(f"**Small size**: with {n_pairs} pairs small to moderate effects may go undetected (@sec-power), and "
                     "the inference methods can disagree when an effect is near the threshold.")
        items.append(f"**Spillover**: in {n_spill} pairs both villages lie in the same province (@sec-spillover); if "
                     "comparison villages are touched by the pilot, the estimates understate its effect.")
        items.append("**Self-reported data**: welfare receipt, savings, debt and the indices are households' answers, open "
                     "to recall and social-desirability error, and pilot households may answer differently because they know "
                     "they are in the pilot.")
        items.append("**Multiple testing**: the report looks at many outcomes in two waves; its conclusions rest on the "
                     "Romano–Wolf adjusted p-values of the headline outcomes. Secondary outcomes and the success-factor "
                     "analysis are exploratory.")
        items.append("**External validity**: the pilots met readiness criteria and had close support; effects in an "
                     "expansion to ordinary villages may differ.")
        if scheme:
            items.append(f"**Inspection regions**: provinces are grouped into regions by {scheme.get('name_en', '')} "
                         "(provenance appendix); another grouping would change the pairs and the regional tables.")
        if d.is_demo:
            items.append("**Simulated data**: this report is built from simulated data to test the analysis; its numbers "
                         "are not evaluation results.")
    return "\n".join(f"- {x}" for x in items) + "\n"


def ethics_markdown(d: ReportData, lang: Lang = "th") -> str:
    """Consent, privacy and disclosure control, from what the data pipeline actually did."""
    man = d.manifest
    demo_key = bool(man.get("demo_key"))
    n_refused = int(d.fieldwork["n_refused"].sum()) if not d.fieldwork.empty else None
    th = lang == "th"
    parts: list[str] = []
    if th:
        parts.append("ผู้สัมภาษณ์อธิบายวัตถุประสงค์ของการสำรวจและขอความยินยอมจากครัวเรือนก่อนสัมภาษณ์ทุกรอบ "
                     "ครัวเรือนปฏิเสธหรือหยุดตอบได้ทุกเมื่อโดยไม่มีผลต่อการได้รับสวัสดิการ"
                     + (f" (ปฏิเสธรวม {fmt.count(n_refused)} ครั้ง ซึ่งนับเป็นการไม่ตอบ; @tbl-attrition)" if n_refused is not None else ""))
        parts.append("ชื่อ เลขประจำตัวประชาชน และหมายเลขโทรศัพท์ไม่ถูกส่งต่อไปยังข้อมูลที่ประมวลผลแล้ว ผลการวิเคราะห์ หรือรายงานนี้ "
                     "ครัวเรือนระบุด้วยรหัสแฝงที่สร้างจากกุญแจลับ (keyed hash) และตารางที่เผยแพร่ปกปิดช่องที่มีผู้ตอบน้อยกว่า "
                     f"{d.min_cell} ราย")
        if d.is_demo or demo_key:
            parts.append("ข้อมูลในรายงานนี้เป็นข้อมูลจำลอง ไม่มีผู้ตอบจริง และใช้กุญแจสาธารณะสำหรับข้อมูลจำลองเท่านั้น")
        else:
            parts.append("การศึกษากับข้อมูลจริงต้องได้รับการรับรองจากคณะกรรมการจริยธรรมการวิจัยในมนุษย์ก่อนเก็บข้อมูล "
                         "และเก็บกุญแจของรหัสแฝงแยกจากข้อมูล")
        return "\n\n".join(parts) + "\n"
    parts.append("Interviewers explained the purpose of the survey and asked each household for consent before every "
                 "interview; households could refuse or stop at any time without any effect on their welfare"
                 + (f" ({fmt.count(n_refused)} refusals in all, counted as nonresponse; @tbl-attrition)." if n_refused is not None
                    else "."))
    parts.append("Names, national ID numbers and telephone numbers never reach the processed data, the results or this "
                 "report; households are identified by a pseudonym made with a secret key (keyed hash), and published "
                 f"tables suppress cells with fewer than {d.min_cell} respondents.")
    if d.is_demo or demo_key:
        parts.append("The data in this report are simulated: there are no real respondents, and the public demo key is "
                     "used only for such data.")
    else:
        parts.append("A study with real data needs approval by a human-research ethics committee before fieldwork, and "
                     "the pseudonym key must be kept apart from the data.")
    return "\n\n".join(parts) + "\n"
