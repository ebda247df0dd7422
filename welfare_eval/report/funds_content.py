"""Report content of the section "Progress and fund sustainability": display tables, figures and sentences.

Every function takes the report's :class:`~welfare_eval.report.data.ReportData` and a language (``"th"`` or
``"en"``) and only formats, words or plots stored tables: the ``funds_*`` tables of
:func:`welfare_eval.study.funds.analyze_funds` and, when the monitoring store holds reports, the ``progress_*``
tables of the latest quarter (:func:`welfare_eval.pipeline.report_data`). No statistics here. Column headers and
category names come from :func:`welfare_eval.reference.label` (``funds.*``, ``progress.*`` keys); every number is
formatted by the helpers at the top of this module (one place).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt

if TYPE_CHECKING:
    from welfare_eval.report.data import ReportData

__all__ = [
    "alarms_display",
    "assumptions_display",
    "demand_display",
    "fan_alt",
    "fan_plot",
    "funds_source",
    "funds_summary_markdown",
    "has_funds",
    "has_progress",
    "indicators_display",
    "method_markdown",
    "no_funds_display",
    "progress_late_display",
    "progress_markdown",
    "progress_off_display",
    "progress_regions_display",
    "projection_display",
    "scenarios_display",
    "stress_display",
    "trend_alt",
    "trend_plot",
]

Lang = Literal["th", "en"]
_PILOT_COLOUR, _COMPARISON_COLOUR = "#1f4e79", "#c0392b"
_ARM_COLOURS = {"pilot": _PILOT_COLOUR, "comparison": _COMPARISON_COLOUR}


# --------------------------------------------------------------------------------------------------
# Formatting (the one place where this section's numbers are turned into text)
# --------------------------------------------------------------------------------------------------
def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def _num(x: Any, decimals: int = 2) -> str:
    """A plain number with ``decimals`` places (:func:`welfare_eval.report.fmt.number`)."""
    return fmt.number(x, places=decimals)


def _baht(x: Any) -> str:
    """Whole baht with thousands separators."""
    return "—" if _missing(x) else fmt.number(float(x), "baht")


def _ratio(x: Any, decimals: int = 2) -> str:
    return "—" if _missing(x) else fmt.number(float(x), "ratio", places=decimals)


def _pct(x: Any, decimals: int = 1) -> str:
    """A 0–1 share as a percentage."""
    return "—" if _missing(x) else fmt.percent(float(x), places=decimals)


def _months(x: Any) -> str:
    if _missing(x):
        return "—"
    return "∞" if math.isinf(float(x)) else fmt.number(float(x), places=1)


def _years(x: Any, lang: Lang) -> str:
    """Years until exhaustion: ``inf`` means not within the horizon."""
    if _missing(x):
        return "—"
    if math.isinf(float(x)):
        return _lab("funds.not_within", lang)
    return _num(float(x), 1)


def _prob(x: Any) -> str:
    return "—" if _missing(x) else _num(float(x), 2)


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def _arm(a: Any, lang: Lang) -> str:
    return _lab(f"arm.{a}", lang)


def _scenario(name: str, lang: Lang) -> str:
    return ref.label(f"funds.scenario.{name}", lang, default=name)


def _status(s: str, lang: Lang) -> str:
    return _lab(f"funds.status.{s}", lang)


def _village(r: Any) -> str:
    name = r.get("village_name") if hasattr(r, "get") else None
    return f"{r['village_id']} {name}" if name is not None and not _missing(name) and str(name) else str(r["village_id"])


def _res(d: ReportData, key: str) -> pd.DataFrame:
    if key not in d.results:
        raise KeyError(f"result table {key!r} not found; run `welfare-eval analyze` with the funds step "
                       "(plan funds.enabled: true and the savings-group records in data/processed/admin.parquet)")
    return d.results[key]


def _plan(d: ReportData) -> dict[str, Any]:
    f = d.plan.get("funds") if isinstance(d.plan, dict) else None
    return f if isinstance(f, dict) else {}


def _horizon(d: ReportData) -> int:
    b = _res(d, "funds_bands")
    return int(b["year"].max()) if len(b) else int(_plan(d).get("horizon", 10))


def has_funds(d: ReportData) -> bool:
    """Whether the analysis made the fund-sustainability tables."""
    return "funds_alarms" in d.results


def _no_funds(lang: Lang) -> str:
    return ("การวิเคราะห์ความยั่งยืนของกองทุนไม่ได้ดำเนินการ (แผนการวิเคราะห์ funds.enabled: false "
            "หรือไม่มีบัญชีกลุ่มออมทรัพย์)" if lang == "th" else
            "The fund-sustainability analysis was not run (analysis plan funds.enabled: false, or no savings-group "
            "records)")


def has_progress(d: ReportData) -> bool:
    """Whether the report carries the monitoring store's progress tables."""
    return "progress_villages" in d.results and "progress_info" in d.results


def _no_progress(lang: Lang) -> str:
    return ("ฐานข้อมูลติดตามความก้าวหน้ายังไม่มีรายงานรายไตรมาส นำเข้าแบบรายงานที่จังหวัดส่งมาด้วย "
            "`welfare-eval monitor import` แล้วสร้างรายงานใหม่" if lang == "th" else
            "The monitoring database holds no quarterly reports yet: import the provinces' forms with "
            "`welfare-eval monitor import` and build the report again")


def no_funds_display(lang: Lang = "th") -> pd.DataFrame:
    """The one-cell table shown in place of a fund table when the fund analysis was not run."""
    return pd.DataFrame({_lab("power.note", lang): [_no_funds(lang)]})


def progress_off_display(lang: Lang = "th") -> pd.DataFrame:
    """The one-cell table shown in place of a progress table when the monitoring store holds no reports."""
    return pd.DataFrame({_lab("power.note", lang): [_no_progress(lang).replace("`", "")]})


def funds_source(d: ReportData, kind: Literal["books", "projection", "progress"], lang: Lang = "th") -> str:
    """The caption's source line with N (markdown span ``[…]{.caption-source}``): ``books`` (the welfare-fund
    books of the savings-group records), ``projection`` (books, household survey and the plan's assumptions) or
    ``progress`` (the monitoring database)."""
    th = lang == "th"
    demo = (" (ข้อมูลจำลอง)" if th else " (simulated data)") if d.is_demo else ""
    if kind == "progress":
        if not has_progress(d):
            text = "ที่มา: ฐานข้อมูลติดตามความก้าวหน้า (ยังไม่มีรายงาน)" if th else "Source: monitoring database (no reports yet)."
        else:
            info = d.results["progress_info"].iloc[0]
            n = len(d.results["progress_villages"])
            text = (f"ที่มา: ฐานข้อมูลติดตามความก้าวหน้า{demo} ไตรมาส {info['period_be']}; N = {n} หมู่บ้านนำร่อง" if th
                    else f"Source: monitoring database{demo}, quarter {info['period']}; N = {n} pilot villages.")
        return "[" + text + "]{.caption-source}"
    if not has_funds(d):
        return "[" + ("ที่มา: ผลการวิเคราะห์" if th else "Source: analysis results.") + "]{.caption-source}"
    ind = _res(d, "funds_indicators")
    nv, ny = fmt.count(ind["village_id"].nunique()), fmt.count(len(ind))
    if kind == "books":
        text = (f"ที่มา: บัญชีกองทุนสวัสดิการในบันทึกรายปีของกลุ่มออมทรัพย์เพื่อการผลิต{demo}; N = {ny} หมู่บ้าน-ปี ใน {nv} หมู่บ้าน"
                if th else f"Source: welfare-fund books in the yearly savings-group records{demo}; N = {ny} village-years in "
                f"{nv} villages.")
    else:
        draws = fmt.count(int(_plan(d).get("draws", 0)))
        text = (f"ที่มา: บัญชีกองทุนสวัสดิการ การสำรวจครัวเรือน และสมมติฐานในแผนการวิเคราะห์{demo}; N = {nv} หมู่บ้าน "
                f"การสุ่ม {draws} รอบ" if th else
                f"Source: welfare-fund books, household survey and the analysis plan's assumptions{demo}; N = {nv} villages, "
                f"{draws} draws.")
    return "[" + text + "]{.caption-source}"


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------
def funds_summary_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The sustainability alarms stated plainly (markdown): identity check, payouts above allocation or income in
    the last year by arm, the villages whose fund is projected to run out or at risk, and the other alarms."""
    th = lang == "th"
    if not has_funds(d):
        return _no_funds(lang)
    ind = _res(d, "funds_indicators")
    al = _res(d, "funds_alarms")
    ident = _res(d, "funds_identity")
    f = _plan(d)
    alarms = f.get("alarms", {}) if isinstance(f.get("alarms"), dict) else {}
    h = _horizon(d)
    lines: list[str] = []
    n_rows = len(ind)
    if ident.empty:
        lines.append(
            f"**บัญชีกองทุน**: ยอดยกมา + รายรับ − จ่ายสวัสดิการ = ยอดคงเหลือ ถูกต้องทุกหมู่บ้านทุกปี ({n_rows:,} หมู่บ้าน-ปี "
            f"คลาดเคลื่อนไม่เกิน {_baht(alarms.get('identity_tolerance', 1))} บาท)" if th else
            f"**Fund books**: opening + income − payouts = closing holds in every village-year ({n_rows:,} "
            f"village-years, within {_baht(alarms.get('identity_tolerance', 1))} baht)")
    else:
        first = ident.iloc[0]
        lines.append(
            f"**บัญชีกองทุนไม่สมดุล** {len(ident):,} จาก {n_rows:,} หมู่บ้าน-ปี (เช่น {first['village_id']} ปี "
            f"{int(first['year'])} ต่างกัน {_baht(first['identity_gap'])} บาท) ตัวเลขของหมู่บ้าน-ปีเหล่านี้ต้องตรวจสอบกับเอกสาร"
            if th else
            f"**The fund's books do not balance** in {len(ident):,} of {n_rows:,} village-years (e.g. "
            f"{first['village_id']} {int(first['year'])}, gap {_baht(first['identity_gap'])} baht); check them "
            "against the records")
    last = ind[ind["year"] == ind.groupby("village_id")["year"].transform("max")]
    parts = []
    for arm, g in last.groupby("arm", sort=False):
        over_a = int((g["payouts"] > g["welfare_allocation"]).sum())
        over_i = int((g["payouts"] > g["income"]).sum())
        parts.append((str(arm), len(g), over_a, over_i))
    parts.sort(key=lambda t: list(ref.ARMS).index(t[0]) if t[0] in ref.ARMS else 9)
    if parts:
        if th:
            txt = " และ".join(f"{_arm(a, lang)} {a_over} จาก {n} หมู่บ้าน" for a, n, a_over, _ in parts)
            txt2 = " และ".join(f"{_arm(a, lang)} {i_over} หมู่บ้าน" for a, _n, _a, i_over in parts)
            lines.append(f"**ปีล่าสุด** จ่ายสวัสดิการมากกว่ากำไรที่จัดสรรเป็นสวัสดิการ: {txt} "
                         f"(ส่วนที่เกินมาจากรายรับอื่นของกองทุนหรือเงินสะสม) จ่ายมากกว่ารายรับทั้งหมดของกองทุน "
                         f"(เงินสะสมลดลง): {txt2}")
        else:
            txt = " and ".join(f"{a_over} of {n} {_arm(a, lang).lower()}s" for a, n, a_over, _ in parts)
            txt2 = " and ".join(f"{i_over} {_arm(a, lang).lower()}s" for a, _n, _a, i_over in parts)
            lines.append(f"**In the last year** {txt} paid out more than the profit allocated to welfare (the rest came "
                         f"from the fund's other income or its reserve); {txt2} paid out more than all the fund's "
                         "income (the reserve fell)")
    flagged = al[al["status"] != "sustainable"]
    if flagged.empty:
        lines.append(
            f"**การฉายภาพ {h} ปี** (กรณีฐาน): ไม่มีหมู่บ้านใดที่โอกาสเงินกองทุนหมดภายใน {h} ปีเกิน "
            f"{_pct(alarms.get('alpha', 0.1), 0)}" if th else
            f"**{h}-year projection** (baseline): no village's fund has a probability above "
            f"{_pct(alarms.get('alpha', 0.1), 0)} of running out within {h} years")
    else:
        items = []
        for r in flagged.to_dict("records"):
            if th:
                items.append(f"{_village(r)} ({_arm(r['arm'], lang)} เขต {int(r['region'])}): {_status(r['status'], lang)} "
                             f"โอกาส {_prob(r['p_exhausted'])} มัธยฐาน {_years(r['years_to_exhaustion'], lang)} ปี "
                             f"รักษาระดับสวัสดิการได้ {_ratio(r['sustainable_scale'])} เท่าของปัจจุบัน")
            else:
                items.append(f"{_village(r)} ({_arm(r['arm'], lang).lower()}, region {int(r['region'])}): "
                             f"{_status(r['status'], lang).lower()}, probability {_prob(r['p_exhausted'])}, median "
                             f"{_years(r['years_to_exhaustion'], lang)} years; it can sustain "
                             f"{_ratio(r['sustainable_scale'])} × its current benefits")
        head = (f"**สัญญาณเตือน: การฉายภาพ {h} ปี** (กรณีฐาน) พบ {len(flagged)} หมู่บ้านที่เงินกองทุนสวัสดิการมีแนวโน้มหมด"
                f"หรือมีความเสี่ยง" if th else
                f"**Alarm: the {h}-year projection** (baseline) finds {len(flagged)} village(s) whose welfare fund is "
                "likely to run out or at risk")
        lines.append(head + ":\n\n" + "\n".join(f"  - {x}" for x in items))
    other = al[(al["status"] == "sustainable") & al["alarm"].astype(bool)]
    if len(other):
        names = ", ".join(_village(r) for r in other.to_dict("records"))
        lines.append(
            f"หมู่บ้านอื่นที่มีสัญญาณเตือนจากบัญชีปีล่าสุด (เงินคงเหลือต่ำกว่า {_months(alarms.get('reserve_months', 6))} "
            f"เดือนของการจ่าย หรือจ่ายเกินรายรับติดต่อกัน {int(alarms.get('drawdown_years', 2))} ปี): {names}" if th else
            f"Other villages with an alarm from their latest books (reserve below "
            f"{_months(alarms.get('reserve_months', 6))} months of payouts, or payouts above income "
            f"{int(alarms.get('drawdown_years', 2))} years running): {names}")
    if d.is_demo and d.truth and isinstance(d.truth.get("funds"), list):
        planted = sorted(str(r["village_id"]) for r in d.truth["funds"] if r.get("planted_exhaustion"))
        found = sorted(str(v) for v in al.loc[al["status"] == "exhausted", "village_id"])
        ok = set(planted) <= set(found)
        lines.append(
            f"*ข้อมูลจำลอง*: หมู่บ้านที่กำหนดให้เงินกองทุนมีแนวโน้มหมด ({', '.join(planted)}) "
            + ("ถูกพบทุกหมู่บ้าน" if ok else "ไม่ถูกพบครบ") if th else
            f"*Simulated data*: the villages planted on a path to exhaustion ({', '.join(planted)}) "
            + ("are all found" if ok else "are not all found"))
    return "\n\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------
def indicators_display(d: ReportData, lang: Lang = "th", *, years: int = 3) -> pd.DataFrame:
    """Pilot vs comparison in the last ``years`` years: sums by arm and year with ratios of sums; one row per
    indicator, one column per arm and year (narrow enough for the page)."""
    if not has_funds(d):
        return pd.DataFrame()
    t = _res(d, "funds_by_arm")
    t = t[t["year"] > t["year"].max() - years].copy()
    order = {a: i for i, a in enumerate(ref.ARMS)}
    t = t.assign(_o=t["arm"].map(order)).sort_values(["_o", "year"], kind="mergesort")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(t["profit"] > 0, t["welfare_allocation"] / t["profit"], np.nan)
        reserve = np.where(t["payouts"] > 0, t["closing"] / (t["payouts"] / 12.0), np.nan)
    rows: dict[str, list[str]] = {
        _lab("funds.villages", lang): [str(int(n)) for n in t["n_villages"]],
        _lab("funds.profit", lang): [_baht(x) for x in t["profit"]],
        _lab("funds.welfare_share", lang): [_pct(x) for x in share],
        _lab("funds.allocation", lang): [_baht(x) for x in t["welfare_allocation"]],
        _lab("funds.income", lang): [_baht(x) for x in t["income"]],
        _lab("funds.payouts", lang): [_baht(x) for x in t["payouts"]],
        _lab("funds.payout_to_allocation", lang): [_ratio(x) for x in t["payout_to_allocation"]],
        _lab("funds.closing", lang): [_baht(x) for x in t["closing"]],
        _lab("funds.reserve_months", lang): [_months(x) for x in reserve],
        _lab("funds.n_over_allocation", lang): [str(int(x)) for x in t["n_paying_over_allocation"]],
        _lab("funds.n_over_income", lang): [str(int(x)) for x in t["n_paying_over_income"]],
    }
    cols = [f"{_arm(a, lang)} {int(y)}" for a, y in zip(t["arm"], t["year"], strict=True)]
    out = pd.DataFrame({_lab("funds.indicator", lang): list(rows)})
    for k, c in enumerate(cols):
        out[c] = [v[k] for v in rows.values()]
    return out


def alarms_display(d: ReportData, lang: Lang = "th", *, all_villages: bool = False,
                   part: Literal["books", "projection"] | None = None) -> pd.DataFrame:
    """Villages with an alarm (``all_villages``: every village), worst first: latest reserve, years paying more
    than income, the baseline projection (probability of running out, median years, sustainable level) and the
    alarms raised. ``part="books"`` keeps the village, its latest books and the alarms raised;
    ``part="projection"`` the village, the projection and the status (two tables that fit the page)."""
    if part not in (None, "books", "projection"):
        raise ValueError(f"alarms_display: part must be None, 'books' or 'projection', not {part!r}")
    if not has_funds(d):
        return pd.DataFrame()
    al = _res(d, "funds_alarms")
    if not all_villages:
        al = al[al["alarm"].astype(bool)]
    h = _horizon(d)
    kinds = ("reserve", "drawdown", "identity", "projection")
    raised = [", ".join(_lab(f"funds.alarm.{k}", lang) for k in kinds if bool(r[f"{k}_alarm"]))
              for r in al.to_dict("records")]
    out = pd.DataFrame({
        _lab("funds.village", lang): [_village(r) for r in al.to_dict("records")],
        _lab("arm", lang): [_arm(a, lang) for a in al["arm"]],
        _lab("region", lang): [str(int(x)) for x in al["region"]] if "region" in al else "",
        _lab("funds.closing", lang): [_baht(x) for x in al["closing"]],
        _lab("funds.reserve_months", lang): [_months(x) for x in al["reserve_months"]],
        _lab("funds.drawdown_years", lang): [str(int(x)) for x in al["drawdown_years"]],
        _lab("funds.p_exhausted", lang).format(h=h): [_prob(x) for x in al["p_exhausted"]],
        _lab("funds.years_to_exhaustion", lang): [_years(x, lang) for x in al["years_to_exhaustion"]],
        _lab("funds.sustainable_scale", lang): [_ratio(x) for x in al["sustainable_scale"]],
        _lab("funds.status", lang): [_status(s, lang) for s in al["status"]],
        _lab("funds.alarms", lang): raised,
    })
    if part is None:
        return out
    keep = ([0, 1, 2, 3, 4, 5, 10] if part == "books" else [0, 6, 7, 8, 9])
    return out.iloc[:, keep]


def _arms_table(t: pd.DataFrame, lang: Lang, h: int,
                part: Literal["status", "money"] | None = None) -> pd.DataFrame:
    if part not in (None, "status", "money"):
        raise ValueError(f"part must be None, 'status' or 'money', not {part!r}")
    out = pd.DataFrame({
        _lab("funds.scenario", lang): [_scenario(s, lang) for s in t["scenario"]],
        _lab("arm", lang): [_arm(a, lang) for a in t["arm"]],
        _lab("funds.villages", lang): [str(int(x)) for x in t["n_villages"]],
        _lab("funds.n_sustainable", lang): [str(int(x)) for x in t["n_sustainable"]],
        _lab("funds.n_at_risk", lang): [str(int(x)) for x in t["n_at_risk"]],
        _lab("funds.n_exhausted", lang): [str(int(x)) for x in t["n_exhausted"]],
        _lab("funds.p_mean", lang).format(h=h): [_prob(x) for x in t["p_exhausted_mean"]],
        _lab("funds.first_exhaustion", lang): [_years(x, lang) for x in t["years_to_exhaustion_min"]],
        _lab("funds.income_year1", lang): [_baht(x) for x in t["income_year1"]],
        _lab("funds.payout_year1", lang): [_baht(x) for x in t["payout_year1"]],
        _lab("funds.scale_median", lang): [_ratio(x) for x in t["sustainable_scale_median"]],
    })
    if part is None:
        return out
    return out.iloc[:, [0, 1, 3, 4, 5, 6, 7] if part == "status" else [0, 1, 8, 9, 10]]


def scenarios_display(d: ReportData, lang: Lang = "th", *, part: Literal["status", "money"] | None = None
                      ) -> pd.DataFrame:
    """Pilot vs comparison under every scenario of the plan (baseline, alternatives, stress tests), in the plan's
    order. ``part="status"``: villages by status, mean probability of running out, earliest exhaustion;
    ``part="money"``: year-1 income and expected payouts and the median sustainable level (two tables that fit
    the page); ``None``: all columns with the number of villages."""
    if not has_funds(d):
        return pd.DataFrame()
    return _arms_table(_res(d, "funds_arms"), lang, _horizon(d), part)


def projection_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Pilot vs comparison under the baseline and the alternative scenarios (villages by status, mean probability
    of running out within the horizon, earliest exhaustion, year-1 income and payouts, median sustainable level)."""
    if not has_funds(d):
        return pd.DataFrame()
    t = _res(d, "funds_arms")
    return _arms_table(t[t["kind"] != "stress"], lang, _horizon(d))


def stress_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Pilot vs comparison under the stress tests (the baseline first, for reference)."""
    if not has_funds(d):
        return pd.DataFrame()
    t = _res(d, "funds_arms")
    return _arms_table(t[t["kind"].isin(["baseline", "stress"])], lang, _horizon(d))


def demand_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Expected payouts by welfare type and arm in year 1 and in the last year of the baseline path (baht), with
    each type's share of year 1 and the change."""
    if not has_funds(d):
        return pd.DataFrame()
    dm = _res(d, "funds_demand")
    inp = _res(d, "funds_inputs").set_index("village_id")["arm"]
    dm = dm.assign(arm=dm["village_id"].astype(str).map(inp))
    h = int(dm["year"].max())
    rows = []
    types = [str(c) for c in ref.welfare_types()["code"]]
    arms = [a for a in ref.ARMS if a in set(dm["arm"])]
    for k in types:
        rec: dict[str, str] = {_lab("funds.welfare_type", lang): ref.label(f"welfare.{k}", lang, default=k)}
        for a in arms:
            g = dm[(dm["arm"] == a)]
            y1 = float(g.loc[(g["year"] == 1) & (g["welfare_type"] == k), "payout"].sum())
            yh = float(g.loc[(g["year"] == h) & (g["welfare_type"] == k), "payout"].sum())
            tot1 = float(g.loc[g["year"] == 1, "payout"].sum())
            rec[f"{_arm(a, lang)}: {_lab('funds.year1', lang)}"] = _baht(y1)
            rec[f"{_arm(a, lang)}: {_lab('funds.share_of_total', lang)}"] = _pct(y1 / tot1 if tot1 > 0 else np.nan)
            rec[f"{_arm(a, lang)}: {_lab('funds.year_h', lang).format(h=h)}"] = _baht(yh)
        rows.append(rec)
    return pd.DataFrame(rows)


def assumptions_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The scenarios of the projection and the stress tests, as stated in the analysis plan."""
    if not has_funds(d):
        return pd.DataFrame()
    t = _res(d, "funds_scenarios")
    no = "—"

    def share(x: Any) -> str:
        return _lab("funds.own_share", lang) if _missing(x) else f"{_num(float(x), 0)}%"

    def disaster(r: Any) -> str:
        if _missing(r["disaster_year"]) or r["disaster_year"] is None:
            return no
        return (f"{_lab('funds.in_year', lang)} {int(r['disaster_year'])}: ×{_num(float(r['disaster_multiplier']), 1)} "
                f"({', '.join(ref.label(f'welfare.{k}', lang, default=k) for k in str(r['disaster_types']).split())})")

    def shock(r: Any) -> str:
        if _missing(r["profit_shock_year"]) or r["profit_shock_year"] is None:
            return no
        txt = f"{_lab('funds.in_year', lang)} {int(r['profit_shock_year'])}: −{_pct(r['profit_shock'], 0)}"
        return txt + (f" ({_lab('funds.persistent', lang)})" if bool(r["profit_shock_persistent"]) else "")

    recs = t.to_dict("records")
    return pd.DataFrame({
        _lab("funds.scenario", lang): [_scenario(r["scenario"], lang) for r in recs],
        _lab("funds.kind", lang): [_lab(f"funds.kind.{r['kind']}", lang) for r in recs],
        _lab("funds.profit_growth", lang): [_pct(r["profit_growth"]) for r in recs],
        _lab("funds.profit_growth_sd", lang): [_pct(r["profit_growth_sd"]) for r in recs],
        _lab("funds.welfare_share", lang): [share(r["welfare_share"]) for r in recs],
        _lab("funds.member_growth", lang): [_pct(r["member_growth"]) for r in recs],
        _lab("funds.benefit_growth", lang): [_pct(r["benefit_growth"]) for r in recs],
        _lab("funds.disaster", lang): [disaster(r) for r in recs],
        _lab("funds.profit_shock", lang): [shock(r) for r in recs],
    })


def method_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The projection's settings from the plan (horizon, draws, seed, thresholds, demand level) in one paragraph."""
    if not has_funds(d):
        return ""
    f = _plan(d)
    al = f.get("alarms", {}) if isinstance(f.get("alarms"), dict) else {}
    dem = f.get("demand", {}) if isinstance(f.get("demand"), dict) else {}
    h, draws, window = _horizon(d), int(f.get("draws", 0)), int(f.get("window", 3))
    seed = f.get("seed") if f.get("seed") is not None else d.seed
    alpha, pex = float(al.get("alpha", 0.1)), float(al.get("exhausted_probability", 0.5))
    level = str(dem.get("level", "experience"))
    bands = ", ".join(str(b) for b in dem.get("age_bands", []))
    if lang == "th":
        lvl = ("ปรับระดับการจ่ายปีแรกให้เท่ากับการจ่ายจริงของกองทุนเอง (จำนวนสมาชิกปีล่าสุด × การจ่ายต่อสมาชิกเฉลี่ย "
               f"{window} ปีล่าสุด) ส่วนข้อมูลประชากรกำหนดสัดส่วนของแต่ละประเภทและแนวโน้มเมื่อหัวหน้าครัวเรือนอายุมากขึ้น"
               if level == "experience" else "ใช้จำนวนกรณีจากอัตราในการสำรวจโดยไม่ปรับระดับ")
        return (f"การฉายภาพ {h} ปี ด้วยวิธีมอนติคาร์โล {draws:,} รอบ (seed {seed}) จำนวนกรณีแต่ละประเภทสุ่มจากการแจกแจงปัวซง "
                f"และการเติบโตของกำไรสุ่มจากการแจกแจงล็อกนอร์มอล รายรับของกองทุน = กำไรเฉลี่ย {window} ปีล่าสุด × สัดส่วนที่จัดสรร"
                f"เป็นสวัสดิการ + รายรับอื่น อุปสงค์สวัสดิการ 9 ประเภทคำนวณจากครัวเรือนสมาชิกจำแนกตามอายุหัวหน้าครัวเรือน "
                f"(ช่วงอายุเริ่มที่ {bands} ปี) × อัตราการได้รับสวัสดิการแต่ละประเภทในรอบ 12 เดือนจากการสำรวจครัวเรือน "
                f"× อัตราสวัสดิการต่อกรณีตามแผนการวิเคราะห์ โดย{lvl} "
                f"**เกณฑ์**: \"คาดว่าเงินจะหมด\" เมื่อโอกาสที่เงินหมดภายใน {h} ปี ≥ {_num(pex, 2)} "
                f"\"มีความเสี่ยง\" เมื่อโอกาสนั้นมากกว่า {_num(alpha, 2)} "
                f"ระดับสวัสดิการที่รักษาได้คือจำนวนเท่าสูงสุดของสวัสดิการปัจจุบันที่โอกาสเงินหมดไม่เกิน {_num(alpha, 2)} "
                "ช่วงของยอดเงินเป็นช่วงจากการสุ่มภายใต้สมมติฐาน ไม่รวมความไม่แน่นอนของอัตราจากการสำรวจและระดับการจ่าย "
                "และไม่รวมเงินเฟ้อ")
    lvl = ("each village's expected payouts in year 1 are set to its own recent payouts (members in the last year × "
           f"payouts per member over the last {window} years); the demographics give the mix of types and the trend as "
           "heads of household age" if level == "experience" else "cases come from the survey rates without calibration")
    return (f"{h}-year Monte Carlo projection with {draws:,} draws (seed {seed}): Poisson cases of each welfare type, "
            f"log-normal profit growth. Fund income = mean profit of the last {window} years × the share allocated to "
            f"welfare + other income. Demand for the nine welfare types = member households by the head's age (bands "
            f"from {bands}) × the survey's rates of receipt of each type in 12 months × the benefit per case stated in "
            f"the analysis plan; {lvl}. **Thresholds**: \"expected to run out\" when the probability of running out "
            f"within {h} years is at least {_num(pex, 2)}, \"at risk\" when it exceeds "
            f"{_num(alpha, 2)}; the sustainable benefit level is the largest multiple of the current benefits "
            f"whose probability of running out is at most {_num(alpha, 2)}. The balance bands are Monte Carlo "
            "bands under the assumptions: they leave out the uncertainty of the survey rates and of the payout level, "
            "and inflation")


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
def trend_plot(d: ReportData, lang: Lang = "th") -> Any:
    """By arm and year: payouts ÷ welfare allocation and payouts ÷ fund income (left, ratios of sums) and the
    closing balance in months of payouts (right)."""
    if not has_funds(d):
        return None
    from welfare_eval.report.figures import MAX_WIDTH_IN, MIN_FONT_PT, figure, legend_below

    t = _res(d, "funds_by_arm").sort_values("year")
    fig, (a1, a2) = figure(1, 2, size=(MAX_WIDTH_IN, 3.4))
    handles, labels = [], []
    for arm, g in t.groupby("arm", sort=False):
        c = _ARM_COLOURS.get(str(arm), "grey")
        mk = "o" if str(arm) == "pilot" else "s"
        (h1,) = a1.plot(g["year"], g["payout_to_allocation"], color=c, marker=mk, ms=4)
        (h2,) = a1.plot(g["year"], g["payout_to_income"], color=c, ls="--", marker=mk, ms=4, mfc="white")
        with np.errstate(divide="ignore", invalid="ignore"):
            reserve = np.where(g["payouts"] > 0, g["closing"] / (g["payouts"] / 12.0), np.nan)
        a2.plot(g["year"], reserve, color=c, marker=mk, ms=4)
        handles += [h1, h2]
        labels += [f"{_arm(arm, lang)}: {_lab('funds.fig.to_allocation', lang)}",
                   f"{_arm(arm, lang)}: {_lab('funds.fig.to_income', lang)}"]
    a1.axhline(1.0, color="black", lw=0.8)
    a1.set_title(_lab("funds.fig.ratios", lang), fontsize=MIN_FONT_PT + 1)
    a2.set_title(_lab("funds.reserve_months", lang), fontsize=MIN_FONT_PT + 1)
    a2.set_ylim(bottom=0)
    for ax in (a1, a2):
        ax.set_xlabel(_lab("funds.year", lang), fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.xaxis.get_major_locator().set_params(integer=True)
    legend_below(fig, handles, labels, ncol=2)
    return fig


def trend_alt(d: ReportData, lang: Lang = "th") -> str:
    """Alt text of :func:`trend_plot`: the payout ratios and the reserve of each arm in the first and last year."""
    if not has_funds(d):
        return _no_funds(lang)
    t = _res(d, "funds_by_arm").sort_values("year")
    parts = []
    for arm, g in t.groupby("arm", sort=False):
        f, la = g.iloc[0], g.iloc[-1]
        res = [float(r["closing"]) / (float(r["payouts"]) / 12.0) if float(r["payouts"]) > 0 else np.nan for r in (f, la)]
        if lang == "th":
            parts.append(f"{_arm(arm, lang)}: จ่าย ÷ เงินจัดสรร {_ratio(f['payout_to_allocation'])} ในปี {int(f['year'])} "
                         f"และ {_ratio(la['payout_to_allocation'])} ในปี {int(la['year'])} เงินคงเหลือ {_months(res[0])} "
                         f"เป็น {_months(res[1])} เดือนของการจ่าย")
        else:
            parts.append(f"{_arm(arm, lang).lower()}s: payouts ÷ allocation {_ratio(f['payout_to_allocation'])} in "
                         f"{int(f['year'])} and {_ratio(la['payout_to_allocation'])} in {int(la['year'])}, reserve from "
                         f"{_months(res[0])} to {_months(res[1])} months of payouts")
    return ("การจ่ายสวัสดิการเทียบกับเงินจัดสรรและเงินคงเหลือรายปี " if lang == "th" else
            "Payouts against allocation and the reserve by year: ") + "; ".join(parts)


def fan_alt(d: ReportData, lang: Lang = "th", *, n: int = 6) -> str:
    """Alt text of :func:`fan_plot`: the villages shown, their probability of running out and median years."""
    if not has_funds(d):
        return _no_funds(lang)
    al = _res(d, "funds_alarms")
    top = al.sort_values(["p_exhausted", "village_id"], ascending=[False, True], kind="mergesort").head(n)
    if lang == "th":
        items = [f"{r['village_id']} โอกาส {_prob(r['p_exhausted'])} ({_status(str(r['status']), lang)})"
                 for r in top.to_dict("records")]
        return (f"ยอดเงินกองทุนที่ฉายภาพของ {len(top)} หมู่บ้านที่มีโอกาสเงินหมดสูงสุด: " + "; ".join(items)
                + " หมู่บ้านที่คาดว่าเงินจะหมดมีค่ามัธยฐานของยอดเงินลดลงถึงศูนย์ภายในช่วงที่ฉายภาพ")
    items = [f"{r['village_id']} probability {_prob(r['p_exhausted'])} ({_status(str(r['status']), lang).lower()})"
             for r in top.to_dict("records")]
    return (f"Projected fund balances of the {len(top)} villages most likely to run out: " + "; ".join(items)
            + ". The median balance of those expected to run out reaches zero within the horizon.")


def fan_plot(d: ReportData, lang: Lang = "th", *, n: int = 6) -> Any:
    """Projected fund balance (baseline: median, 50% and 90% Monte Carlo bands, thousand baht) of the ``n``
    villages most likely to run out, flagged ones first."""
    if not has_funds(d):
        return None
    from welfare_eval.report.figures import MAX_WIDTH_IN, MIN_FONT_PT, figure, legend_below

    al = _res(d, "funds_alarms")
    b = _res(d, "funds_bands")
    top = al.sort_values(["p_exhausted", "village_id"], ascending=[False, True], kind="mergesort").head(n)
    k = len(top)
    if k == 0:
        return None
    ncol = min(3, k)
    nrow = math.ceil(k / ncol)
    fig, axes = figure(nrow, ncol, size=(min(MAX_WIDTH_IN, 2.5 * ncol), 2.4 * nrow + 0.4), squeeze=False, sharex=True)
    axes = axes.ravel()
    for ax in axes[k:]:
        ax.set_visible(False)
    for ax, r in zip(axes, top.to_dict("records"), strict=False):
        g = b[b["village_id"].astype(str) == str(r["village_id"])].sort_values("year")
        ax.fill_between(g["year"], g["q05"] / 1e3, g["q95"] / 1e3, color="#9ecae1", alpha=0.6, lw=0,
                        label=_lab("funds.fig.band90", lang))
        ax.fill_between(g["year"], g["q25"] / 1e3, g["q75"] / 1e3, color="#4292c6", alpha=0.7, lw=0,
                        label=_lab("funds.fig.band50", lang))
        ax.plot(g["year"], g["q50"] / 1e3, color="#08306b", lw=1.2, label=_lab("funds.fig.median", lang))
        ax.axhline(0, color="#d62728", lw=0.8)
        ax.set_title(f"{r['village_id']} ({_arm(r['arm'], lang)})\n{_status(str(r['status']), lang)}, "
                     f"p = {_prob(r['p_exhausted'])}", fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.yaxis.set_major_formatter(fmt.axis_formatter("baht"))
    for ax in axes[(nrow - 1) * ncol: k]:
        ax.set_xlabel(_lab("funds.fig.years_ahead", lang), fontsize=MIN_FONT_PT)
    for i in range(nrow):
        axes[i * ncol].set_ylabel(_lab("funds.fig.balance_axis", lang), fontsize=MIN_FONT_PT)
    handles, labels = axes[0].get_legend_handles_labels()
    legend_below(fig, handles, labels, ncol=3)
    return fig


# --------------------------------------------------------------------------------------------------
# Progress (the monitoring store)
# --------------------------------------------------------------------------------------------------
def progress_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The latest quarter's progress in words, or how to get it when the report has no monitoring data."""
    th = lang == "th"
    if not has_progress(d):
        return _no_progress(lang)
    info = d.results["progress_info"].iloc[0]
    v = d.results["progress_villages"]
    per = str(info["period_be"] if th else info["period"])
    n = {k: int((v["overall"] == k).sum()) for k in ("green", "amber", "red", "grey")}
    rep = {k: int((v["report_status"] == k).sum()) for k in ("on_time", "late", "missing", "pending")}
    low = v[v["light_reserve"] == "red"]
    lines = []
    if th:
        lines.append(f"ข้อมูลจากฐานข้อมูลติดตามความก้าวหน้า ({info['store']}) ไตรมาส {per} ณ วันที่ {info['as_of']} "
                     f"(ใช้รายงานฉบับล่าสุดที่ได้รับภายในวันตัดข้อมูล): หมู่บ้านนำร่องที่ต้องรายงาน {len(v)} หมู่บ้าน "
                     f"ส่งตรงเวลา {rep['on_time']} ล่าช้า {rep['late']} ยังไม่ส่ง {rep['missing']} "
                     f"สัญญาณไฟภาพรวม: เขียว {n['green']} เหลือง {n['amber']} แดง {n['red']}"
                     + (f" ไม่มีข้อมูล {n['grey']}" if n["grey"] else ""))
        if len(low):
            lines.append("เงินกองทุนต่ำกว่าเกณฑ์ (สัญญาณแดง): " + ", ".join(_village(r) for r in low.to_dict("records")))
    else:
        lines.append(f"From the monitoring database ({info['store']}), quarter {per}, as of {info['as_of']} (the latest "
                     f"version of each report received by the cut-off): {len(v)} pilot villages due to report; "
                     f"{rep['on_time']} on time, {rep['late']} late, {rep['missing']} missing. Overall lights: "
                     f"{n['green']} green, {n['amber']} amber, {n['red']} red"
                     + (f", {n['grey']} without data" if n["grey"] else ""))
        if len(low):
            lines.append("Fund balance below the threshold (red): " + ", ".join(_village(r) for r in low.to_dict("records")))
    return "\n\n".join(lines)


def progress_regions_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Status by inspection region in the latest quarter (reports on time / late / missing, traffic lights)."""
    if not has_progress(d):
        return pd.DataFrame()
    t = d.results["progress_regions"]
    return pd.DataFrame({
        _lab("progress.col.region", lang): [str(int(x)) for x in t["region"]],
        _lab("progress.col.villages", lang): [str(int(x)) for x in t["villages"]],
        _lab("progress.col.on_time", lang): [str(int(x)) for x in t["on_time"]],
        _lab("progress.col.late", lang): [str(int(x)) for x in t["late"]],
        _lab("progress.col.missing", lang): [str(int(x)) for x in t["missing"]],
        _lab("progress.col.green", lang): [str(int(x)) for x in t["green"]],
        _lab("progress.col.amber", lang): [str(int(x)) for x in t["amber"]],
        _lab("progress.col.red", lang): [str(int(x)) for x in t["red"]],
        _lab("progress.col.balance", lang): [_baht(x) for x in t["fund_closing"]],
        _lab("progress.col.overall", lang): [_lab(f"progress.light.{x}", lang) for x in t["overall"]],
    })


def progress_late_display(d: ReportData, lang: Lang = "th", *, last: int = 4) -> pd.DataFrame:
    """Late and missing quarterly reports of the last ``last`` quarters up to the latest."""
    if not has_progress(d):
        return pd.DataFrame()
    s = d.results["progress_submissions"]
    if s.empty:
        return pd.DataFrame({_lab("progress.col.status", lang): [_lab("progress.no_late", lang)]})
    pers = sorted(set(s["period"]))[-last:]
    s = s[s["period"].isin(pers)]

    def be(p: str) -> str:
        return f"{int(p[:4]) + 543}{p[4:]}"

    return pd.DataFrame({
        _lab("progress.col.period", lang): [be(str(p)) if lang == "th" else str(p) for p in s["period"]],
        _lab("progress.col.region", lang): [str(int(x)) for x in s["region"]],
        _lab("funds.village", lang): [_village(r) for r in s.to_dict("records")],
        _lab("progress.col.due", lang): [str(x) for x in s["due_on"]],
        _lab("progress.col.status", lang): [_lab(f"progress.status.{x}", lang) for x in s["status"]],
        _lab("progress.col.received", lang): ["—" if _missing(x) else str(x) for x in s["first_received_on"]],
        _lab("progress.col.days_late", lang): [str(int(x)) if int(x) else "—" for x in s["days_late"]],
    })
