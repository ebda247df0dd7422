"""Content of the final report: display tables, figures and sentences built from the analysis results.

The report (``reports/final_report.qmd`` and its ``sections/``) calls these functions; they only select, label,
format and plot what the pipeline computed (no statistics here). Numbers follow the rules of
:mod:`welfare_eval.report.fmt`; labels come from :mod:`welfare_eval.reference`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.data import ReportData
from welfare_eval.report.tables import format_table, suppress_small_cells

__all__ = [
    "REPORTED_PACKAGES",
    "ReportData",
    "balance_display",
    "balance_overall_markdown",
    "balance_summary",
    "balance_tests_display",
    "checks_display",
    "design_display",
    "dropped_pairs_appendix_markdown",
    "dropped_pairs_display",
    "dropped_pairs_markdown",
    "dropped_pairs_phrase",
    "funnel_display",
    "ledger_display",
    "love_alt",
    "love_plot",
    "mean_abs_smd",
    "plan_source",
    "provenance_display",
    "quality_display",
    "reserves_display",
    "sample_display",
    "source",
    "source_text",
    "spillover_display",
    "spillover_markdown",
    "spillover_pairs",
]

Lang = Literal["th", "en"]
#: Packages whose versions the appendix lists (all others are pinned in requirements.lock).
REPORTED_PACKAGES = (
    "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "formulaic", "matplotlib", "seaborn",
    "pyarrow", "openpyxl", "pythainlp", "pandera", "nbclient", "ipykernel", "pypandoc-binary", "fontpkg-sarabun",
)


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def _cov(c: str, lang: Lang, *, with_unit: bool = False) -> str:
    name = _lab(f"covariate.{c}", lang)
    if with_unit and fmt.unit_of(c) == "share" and "%" not in name:
        return f"{name} (%)"
    return name


def _province(d: ReportData, code: Any, lang: Lang) -> str:
    return ref.label(f"province.{code}", lang, default=str(code))


# --------------------------------------------------------------------------------------------------
# Sources and sizes (caption lines)
# --------------------------------------------------------------------------------------------------
def source(d: ReportData, kind: str, lang: Lang = "th") -> str:
    """The caption's source line with N, as a markdown span ``[…]{.caption-source}`` (its own line under the
    caption): ``kind`` is ``frame``, ``design``, ``survey``, ``impact``, ``admin``, ``committee``, ``fieldwork``,
    ``plan``, ``ledger`` or ``analysis``."""
    return "[" + source_text(d, kind, lang) + "]{.caption-source}"


def source_text(d: ReportData, kind: str, lang: Lang = "th") -> str:
    """The source line of :func:`source` as plain text."""
    th = lang == "th"
    res = d.results
    n_vil = 2 * int(res["design"].shape[0]) if "design" in res else 0
    n_pairs = n_vil // 2
    demo = (" (ข้อมูลจำลอง)" if th else " (simulated data)") if d.is_demo else ""
    if kind == "frame":
        f = res["funnel"]
        tot = f[f["region"] == 0]
        n = int(tot["n_frame"].iloc[0]) if len(tot) else int(f["n_frame"].sum())
        return (f"ที่มา: กรอบหมู่บ้านของกรมการพัฒนาชุมชน{demo}; N = {fmt.count(n)} หมู่บ้าน" if th
                else f"Source: Community Development Department village frame{demo}; N = {fmt.count(n)} villages.")
    if kind == "design":
        return (f"ที่มา: บัญชีหมู่บ้านศึกษา{demo}; N = {n_vil} หมู่บ้านใน {n_pairs} คู่" if th
                else f"Source: study village list{demo}; N = {n_vil} villages in {n_pairs} pairs.")
    if kind in ("survey", "fieldwork"):
        s = res["sample_sizes"]
        n_int, n_smp = int(s["n_interviewed"].sum()), int(s["n_sampled"].sum())
        what = (f"{fmt.count(n_int)} การสัมภาษณ์จากครัวเรือนตัวอย่าง {fmt.count(n_smp)} ครัวเรือน-รอบ" if th
                else f"{fmt.count(n_int)} interviews of {fmt.count(n_smp)} sampled household-waves")
        return (f"ที่มา: การสำรวจครัวเรือน 3 รอบ{demo}; N = {what} ใน {n_vil} หมู่บ้าน" if th
                else f"Source: household survey, three waves{demo}; N = {what} in {n_vil} villages.")
    if kind == "impact":
        e = res["impact_effects"]
        lo, hi = int(e["n_obs"].min()), int(e["n_obs"].max())
        nn = fmt.count(hi) if lo == hi else f"{fmt.count(lo)}–{fmt.count(hi)}"
        return (f"ที่มา: การสำรวจครัวเรือน{demo}; N = {nn} การสัมภาษณ์ต่อสมการ (รอบก่อนดำเนินโครงการและรอบติดตาม) "
                f"ใน {n_vil} หมู่บ้าน {n_pairs} คู่" if th
                else f"Source: household survey{demo}; N = {nn} interviews per regression (baseline and the follow-up "
                f"wave) in {n_vil} villages, {n_pairs} pairs.")
    if kind == "admin":
        ev = res.get("impact_event", pd.DataFrame())
        n = int(ev["n_obs"].max()) if len(ev) and "n_obs" in ev else 0
        return (f"ที่มา: บันทึกรายปีของกลุ่มออมทรัพย์เพื่อการผลิต{demo}; N = {fmt.count(n)} หมู่บ้าน-ปี ใน {n_vil} หมู่บ้าน" if th
                else f"Source: yearly savings-group records{demo}; N = {fmt.count(n)} village-years in {n_vil} villages.")
    if kind == "committee":
        r = res.get("factors_reliability", pd.DataFrame())
        n = int(r["n_respondents"].max()) if len(r) and "n_respondents" in r else 0
        return (f"ที่มา: แบบประเมินปัจจัยแห่งความสำเร็จของคณะกรรมการ{demo}; N = {fmt.count(n)} กรรมการใน {n_vil} หมู่บ้าน" if th
                else f"Source: committee ratings of the success factors{demo}; N = {fmt.count(n)} committee members "
                f"in {n_vil} villages.")
    if kind == "ledger":
        n = len(d.ledger)
        return (f"ที่มา: บัญชีการทำความสะอาดข้อมูล; N = {fmt.count(n)} แถวข้อมูลดิบ" if th
                else f"Source: cleaning ledger; N = {fmt.count(n)} raw rows.")
    if kind == "plan":
        return (f"ที่มา: แผนการวิเคราะห์ที่ใช้ ({plan_source(d, lang)})" if th
                else f"Source: the analysis plan in force ({plan_source(d, lang)}).")
    return ("ที่มา: ผลการวิเคราะห์" + demo if th else "Source: analysis results" + demo + ".")


# --------------------------------------------------------------------------------------------------
# Design, sample, balance
# --------------------------------------------------------------------------------------------------
def design_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The pairs: region, pilot and comparison village (province) and their household counts."""
    t = d.results["design"]
    prov = "province_th" if lang == "th" else "province_en"
    return pd.DataFrame(
        {
            _lab("pair_id", lang): t["pair_id"].astype(int).astype(str),
            _lab("region", lang): t["region"].astype(int).astype(str),
            _lab("arm.pilot", lang): [f"{v} ({p})" for v, p in zip(t["pilot_village_id"], t[f"pilot_{prov}"], strict=True)],
            f"{_lab('n_households', lang)} ({_lab('arm.pilot', lang)})": [fmt.count(x) for x in t["pilot_n_households"]],
            _lab("arm.comparison", lang): [f"{v} ({p})" for v, p in
                                           zip(t["comparison_village_id"], t[f"comparison_{prov}"], strict=True)],
            f"{_lab('n_households', lang)} ({_lab('arm.comparison', lang)})": [
                fmt.count(x) for x in t["comparison_n_households"]],
        }
    )


def funnel_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Eligibility funnel by region with a total row."""
    f = d.results["funnel"].copy()
    f["region"] = [_lab("total", lang) if r == 0 else str(int(r)) for r in f["region"]]
    return format_table(f, lang)


def sample_display(d: ReportData, lang: Lang = "th", *, min_count: int | None = None) -> pd.DataFrame:
    """Sample sizes by wave and arm, with small cells suppressed."""
    min_count = d.min_cell if min_count is None else min_count
    s = d.results["sample_sizes"].copy()
    s["wave"] = [_lab(f"wave.{w}", lang) for w in s["wave"]]
    s["arm"] = [_lab(f"arm.{a}", lang) for a in s["arm"]]
    s = suppress_small_cells(
        s, count_cols=["n_interviewed"], min_count=min_count, value_cols=["response_rate"], hide_counts=False
    )
    return format_table(s, lang, pct_cols=["response_rate"])


def mean_abs_smd(d: ReportData) -> dict[str, float]:
    """Mean |SMD| of the matching covariates before and after matching."""
    b = d.results["balance"]
    return {s: float(b.loc[b["sample"] == s, "smd"].abs().mean()) for s in ("before", "after")}


def balance_summary(d: ReportData) -> dict[str, float]:
    """Mean |SMD| before/after, the largest |SMD| after, the joint F test and the permutation p-value."""
    b = d.results["balance"]
    rows = {str(r["test"]): r for r in d.results["balance_overall"].to_dict("records")}
    after = b.loc[b["sample"] == "after", "smd"].abs()
    smd = mean_abs_smd(d)
    f = rows.get("joint_f", {})
    perm = rows.get("permutation", {})
    return {
        "smd_before": smd["before"],
        "smd_after": smd["after"],
        "smd_after_max": float(after.max()) if len(after) else float("nan"),
        "n_over_01": float((after > 0.1).sum()),
        "n_covariates": float(len(after)),
        "f_stat": float(f.get("statistic", np.nan)),
        "f_df_num": float(f.get("df_num", np.nan)),
        "f_df_denom": float(f.get("df_denom", np.nan)),
        "p_joint": float(f.get("p_value", np.nan)),
        "p_perm": float(perm.get("p_value", np.nan)),
        "n_perm": float(perm.get("n_perm", np.nan)),
    }


def balance_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """SMD, variance ratio and KS before and after matching, one row per covariate (row label in the index)."""
    b = d.results["balance"]
    wide = b.pivot_table(index="covariate", columns="sample", values=["smd", "variance_ratio", "ks"], aggfunc="first")
    order = list(dict.fromkeys(b["covariate"]))
    wide = wide.reindex(order)
    out = pd.DataFrame(index=pd.Index([_cov(c, lang) for c in order], name=_lab("covariate", lang)))
    for stat in ("smd", "variance_ratio", "ks"):
        for stage in ("before", "after"):
            if (stat, stage) in wide.columns:
                out[f"{_lab(stat + '.short', lang)} ({_lab('balance.' + stage, lang)})"] = [
                    fmt.number(v, "ratio") for v in wide[(stat, stage)]
                ]
    return out


def balance_tests_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """iebaltab-style table: means by arm, the within-pair difference, its SE, df and p (each row in its unit)."""
    t = d.results["balance_tests"]
    rows = []
    for _, r in t.iterrows():
        c = str(r["covariate"])
        u = fmt.unit_of(c)
        rows.append({
            _lab("covariate", lang): _cov(c, lang, with_unit=True),
            _lab("mean_treated", lang): fmt.number(r["mean_treated"], u),
            _lab("mean_control", lang): fmt.number(r["mean_control"], u),
            _lab("diff", lang): fmt.number(r["estimate"], u, signed=True),
            _lab("std_error", lang): fmt.number(r["std_error"], u),
            _lab("df", lang): fmt.df(r["df"]),
            _lab("p_value", lang): fmt.p_value(r["p_value"]),
        })
    return pd.DataFrame(rows)


def balance_overall_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The joint F test and the within-pair permutation test of overall balance, and what they mean."""
    s = balance_summary(d)
    f_txt = (f"F({fmt.df(s['f_df_num'])},{fmt.NBSP}{fmt.df(s['f_df_denom'])}){fmt.NBSP}={fmt.NBSP}"
             f"{fmt.number(s['f_stat'], 'ratio')}")
    if lang == "th":
        return (
            f"ค่าเฉลี่ยของ |SMD| ลดลงจาก {fmt.number(s['smd_before'], 'ratio')} (ก่อนจับคู่) เหลือ "
            f"{fmt.number(s['smd_after'], 'ratio')} (หลังจับคู่) แต่ยังมีตัวแปร {int(s['n_over_01'])} จาก {int(s['n_covariates'])} "
            f"ตัวที่ |SMD| เกิน 0.1 การทดสอบความสมดุลรวม {f_txt}, p = {fmt.p_value(s['p_joint'])}; "
            f"การทดสอบแบบสลับป้ายภายในคู่ ({fmt.count(s['n_perm'])} ครั้ง) p = {fmt.p_value(s['p_perm'])} "
            "**ความสมดุลจึงยังไม่ดี**: การประมาณผลต้องอาศัยข้อสมมติแนวโน้มคู่ขนาน และตรวจสอบด้วยแบบจำลองที่ปรับตัวแปรร่วม "
            "(หมวดผลการประเมิน)\n"
        )
    return (
        f"The mean |SMD| fell from {fmt.number(s['smd_before'], 'ratio')} before matching to "
        f"{fmt.number(s['smd_after'], 'ratio')} after, but {int(s['n_over_01'])} of {int(s['n_covariates'])} covariates "
        f"still have |SMD| above 0.1. Joint test {f_txt}, p = {fmt.p_value(s['p_joint'])}; within-pair permutation test "
        f"({fmt.count(s['n_perm'])} permutations) p = {fmt.p_value(s['p_perm'])}. **Balance therefore remains poor**: "
        "the estimates rest on parallel trends and are checked with covariate-adjusted models (Impact section).\n"
    )


def reserves_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Reserve comparison villages (2nd, 3rd nearest) for each pilot, in case fieldwork loses a village."""
    r = d.results["reserves"]
    return pd.DataFrame({
        _lab("pair_id", lang): r["pair_id"].astype(int).astype(str),
        _lab("treated_id", lang): r["treated_id"].astype(str),
        _lab("reserve_rank", lang): r["reserve_rank"].astype(int).astype(str),
        _lab("control_id", lang): r["control_id"].astype(str),
        _lab("distance", lang): [fmt.number(x, "ratio") for x in r["distance"]],
    })


def love_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Love plot of |SMD| before (open circles: pilots vs all eligible villages) and after matching (filled
    squares), with the 0.1 and 0.25 thresholds; the legend sits below the plot."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import MIN_FONT_PT, legend_below, use_thai_font

    use_thai_font()
    b = d.results["balance"]
    before = b[b["sample"] == "before"].set_index("covariate")["smd"].abs()
    after = b[b["sample"] == "after"].set_index("covariate")["smd"].abs().reindex(before.index)
    order = before.sort_values().index
    y = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(7.0, 0.42 * len(order) + 1.3))
    h1 = ax.scatter(before[order], y, s=46, facecolors="none", edgecolors="#59636e", marker="o", linewidths=1.4)
    h2 = ax.scatter(after[order], y, s=46, color="#1f4e79", marker="s")
    for v, ls in ((0.1, "--"), (0.25, ":")):
        ax.axvline(v, color="#8e0000", ls=ls, lw=1)
    ax.set_yticks(y, [_cov(c, lang) for c in order], fontsize=MIN_FONT_PT + 1)
    ax.set_xlabel(_lab("match.abs_smd", lang), fontsize=MIN_FONT_PT + 1)
    ax.set_xlim(left=0)
    ax.tick_params(axis="x", labelsize=MIN_FONT_PT + 1)
    fig.tight_layout()
    legend_below(fig, [h1, h2], [_lab("match.before", lang), _lab("match.after", lang)])
    return fig


def love_alt(d: ReportData, lang: Lang = "th") -> str:
    """What the Love plot shows, in one sentence (its alt text)."""
    s = balance_summary(d)
    b = d.results["balance"]
    after = b[b["sample"] == "after"].set_index("covariate")["smd"].abs()
    before = b[b["sample"] == "before"].set_index("covariate")["smd"].abs().reindex(after.index)
    n_down, n = int((after < before).sum()), len(after)
    worst = str(after.idxmax())
    if lang == "th":
        return (f"ค่า |SMD| ลดลงหลังจับคู่ใน {n_down} จาก {n} ตัวแปร (เฉลี่ยจาก {fmt.number(s['smd_before'], 'ratio')} เป็น "
                f"{fmt.number(s['smd_after'], 'ratio')}) แต่ {int(s['n_over_01'])} จาก {int(s['n_covariates'])} ตัวยังเกินเกณฑ์ 0.1 "
                f"สูงสุดคือ{_cov(worst, lang)} ({fmt.number(after.max(), 'ratio')})")
    return (f"|SMD| falls after matching for {n_down} of {n} covariates (mean {fmt.number(s['smd_before'], 'ratio')} to "
            f"{fmt.number(s['smd_after'], 'ratio')}), "
            f"but {int(s['n_over_01'])} of {int(s['n_covariates'])} covariates stay above 0.1; the largest is "
            f"{_cov(worst, lang)} ({fmt.number(after.max(), 'ratio')}).")


# --------------------------------------------------------------------------------------------------
# Spillover risk
# --------------------------------------------------------------------------------------------------
def spillover_pairs(d: ReportData) -> pd.DataFrame:
    """Pairs whose pilot and comparison villages lie in the same province (from the design table)."""
    t = d.results["design"]
    same = t["pilot_province_en"].astype(str) == t["comparison_province_en"].astype(str)
    return t[same].reset_index(drop=True)


def spillover_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The pairs with both villages in one province: pair, region, province, the two village codes."""
    t = spillover_pairs(d)
    prov = "province_th" if lang == "th" else "province_en"
    return pd.DataFrame({
        _lab("pair_id", lang): t["pair_id"].astype(int).astype(str),
        _lab("region", lang): t["region"].astype(int).astype(str),
        _lab("province", lang): t[f"pilot_{prov}"].astype(str),
        _lab("arm.pilot", lang): t["pilot_village_id"].astype(str),
        _lab("arm.comparison", lang): t["comparison_village_id"].astype(str),
    })


def spillover_markdown(d: ReportData, lang: Lang = "th") -> str:
    """How many pairs share a province, and why that matters (contamination biases the effect towards zero)."""
    n = len(spillover_pairs(d))
    n_pairs = int(d.results["design"].shape[0])
    prov_counts = pd.concat([d.results["design"]["pilot_province_en"], d.results["design"]["comparison_province_en"]])
    shared = int((prov_counts.value_counts() > 1).sum())
    if lang == "th":
        if n == 0:
            txt = (f"ไม่มีคู่ใดใน {n_pairs} คู่ที่หมู่บ้านนำร่องและหมู่บ้านเปรียบเทียบอยู่ในจังหวัดเดียวกัน "
                   "ความเสี่ยงที่ผลของโครงการจะกระจายไปถึงหมู่บ้านเปรียบเทียบ (spillover) จึงต่ำ")
        else:
            txt = (f"ใน {n_pairs} คู่ มี **{n} คู่** ที่หมู่บ้านนำร่องและหมู่บ้านเปรียบเทียบอยู่ในจังหวัดเดียวกัน (@tbl-spillover) "
                   "หมู่บ้านที่อยู่ใกล้กันอาจได้รับผลของโครงการไปด้วย เช่น ผ่านเครือข่ายกองทุน เจ้าหน้าที่พัฒนาชุมชนคนเดียวกัน "
                   "หรือการดูงาน (spillover) ซึ่งทำให้ผลที่ประมาณได้ต่ำกว่าผลจริง การวิเคราะห์ตัดคู่ทีละคู่ (หมวดผลการประเมิน) "
                   "แสดงว่าผลขึ้นกับคู่ใดคู่หนึ่งมากเพียงใด")
        if shared:
            txt += f" โดยรวมมี {shared} จังหวัดที่มีหมู่บ้านศึกษามากกว่าหนึ่งหมู่บ้าน"
        return txt + "\n"
    if n == 0:
        txt = (f"In none of the {n_pairs} pairs do the pilot and the comparison village lie in the same province, so "
               "the risk that the pilot spills over to its comparison village is low.")
    else:
        txt = (f"In **{n} of the {n_pairs} pairs** the pilot and the comparison village lie in the same province "
               "(@tbl-spillover). Nearby villages may be touched by the pilot through the fund network, the same community "
               "development officer or study visits (spillover), which biases the estimated effect towards zero. The "
               "leave-one-pair-out analysis (Impact section) shows how much the estimates rest on any single pair.")
    if shared:
        txt += f" Overall, {shared} provinces hold more than one study village."
    return txt + "\n"


# --------------------------------------------------------------------------------------------------
# Data quality and provenance (appendices)
# --------------------------------------------------------------------------------------------------
_MD_SPECIAL = set("\\`*_{}[]<>#+-!|~^$&\"'.:=")


def md_text(text: str) -> str:
    """User-given text (a reason typed in a corrections file) safe inside report markdown: every markdown
    character backslash-escaped, ``@`` as an entity (no citation or cross-reference), line breaks as spaces."""
    out = []
    for ch in " ".join(str(text).split()):
        if ch == "@":
            out.append("&#64;")
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _decided_in(where: str, lang: Lang) -> str:
    """Where a pair was dropped, in the report's language: ``faults.csv row 2`` → the corrections file and row."""
    import re

    m = re.fullmatch(r"(?P<file>.+) row (?P<row>\d+)", where.strip())
    if m:
        return (f"แฟ้มแก้ไขข้อมูล {m['file']} แถวที่ {m['row']}" if lang == "th"
                else f"corrections file {m['file']}, row {m['row']}")
    if where.startswith("clean_all("):
        return f"คำสั่ง {where}" if lang == "th" else f"the call {where}"
    return where


def dropped_pairs_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The pairs left out at cleaning: pair, its villages (codes), the reason given and where it was decided."""
    dp = d.dropped_pairs
    return pd.DataFrame({
        _lab("pair_id", lang): dp["pair_id"].astype(int).astype(str),
        _lab("dropped.villages", lang): dp["villages"],
        _lab("dropped.reason", lang): dp["reason"],
        _lab("dropped.decided_in", lang): [_decided_in(w, lang) for w in dp["decided_in"]],
    })


def dropped_pairs_phrase(d: ReportData, lang: Lang = "th") -> str:
    """"pair 1 (no endline interviews)" for every dropped pair, joined; markdown-safe. Empty when none."""
    dp = d.dropped_pairs
    word = "คู่ที่" if lang == "th" else "pair"
    items = [f"{word} {int(p)} (“{md_text(r)}”)" if r.strip() else f"{word} {int(p)} ({_lab('dropped.no_reason', lang)})"
             for p, r in zip(dp["pair_id"], dp["reason"], strict=True)]
    if lang == "th" or len(items) < 2:
        return " ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pairs_planned(d: ReportData) -> tuple[int, int]:
    """(pairs analysed, pairs planned = analysed + dropped)."""
    n = int(d.results["design"].shape[0]) if "design" in d.results else 0
    return n, n + len(d.dropped_pairs)


def dropped_pairs_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The study-design paragraph on pairs left out (how many pairs the analysis has, which were dropped and
    why, pointing to the appendix table); empty when every pair was kept."""
    dp = d.dropped_pairs
    if dp.empty:
        return ""
    n, planned = _pairs_planned(d)
    k = len(dp)
    if lang == "th":
        return (f"การวิเคราะห์ใช้ **{n} คู่จาก {planned} คู่** ที่วางแผนไว้ โดยตัด{dropped_pairs_phrase(d, lang)} "
                f"ออกตั้งแต่ขั้นทำความสะอาดข้อมูล ({k} คู่ รวม {2 * k} หมู่บ้าน; @tbl-dropped-pairs) "
                "หมู่บ้านทั้งสองของคู่ที่ตัดออกไม่อยู่ในตารางใดของรายงานนี้ ผลการประเมินจึงเป็นผลของคู่ที่เหลือ "
                "และการตัดคู่ออกไม่ทำให้เกิดความเอนเอียงก็ต่อเมื่อเหตุที่ตัดไม่เกี่ยวกับผลของโครงการ\n")
    return (f"The analysis has **{n} of the {planned} planned pairs**: {dropped_pairs_phrase(d, lang)} "
            f"{'was' if k == 1 else 'were'} left out at cleaning ({k} {'pair' if k == 1 else 'pairs'}, {2 * k} villages; "
            "@tbl-dropped-pairs). Neither village of a dropped pair appears in any table of this report, so the "
            "results are those of the remaining pairs; leaving a pair out biases nothing only if the reason is "
            "unrelated to the pilot's effect.\n")


def dropped_pairs_appendix_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The appendix's record of dropped pairs: a sentence and a cross-reference table (pair, villages, reason,
    where decided) when any pair was left out; one short sentence otherwise."""
    from welfare_eval.report.tables import html_table

    dp = d.dropped_pairs
    n, planned = _pairs_planned(d)
    if dp.empty:
        return ("ไม่มีคู่ใดถูกตัดออกจากการวิเคราะห์\n" if lang == "th"
                else "No pair was left out of the analysis.\n")
    k = len(dp)
    if lang == "th":
        intro = (f"คู่ที่ถูกตัดออกจากการวิเคราะห์ ({k} คู่) พร้อมเหตุผลและผู้ตัดสินใจ อยู่ใน @tbl-dropped-pairs "
                 "การตัดคู่ทำได้ด้วยคำสั่ง `drop_pair` ในแฟ้มแก้ไขข้อมูล (data/raw/corrections/) ซึ่งบันทึกไว้ทุกครั้งที่ทำความสะอาดข้อมูล")
        cap = f"คู่เปรียบเทียบที่ถูกตัดออกก่อนการวิเคราะห์ ({n} จาก {planned} คู่ถูกวิเคราะห์) เหตุผล และที่มาของการตัดสินใจ"
        src = "[ที่มา: บันทึกการทำความสะอาดข้อมูล (manifest.json)]{.caption-source}"
    else:
        intro = (f"The {'pair' if k == 1 else f'{k} pairs'} left out of the analysis, with the reason and where it was "
                 f"decided, {'is' if k == 1 else 'are'} in @tbl-dropped-pairs. A pair is dropped by a `drop_pair` row in a corrections file "
                 "(data/raw/corrections/), applied and recorded on every cleaning run.")
        cap = f"Pairs left out before the analysis ({n} of {planned} pairs analysed), the reason and where it was decided."
        src = "[Source: cleaning record (manifest.json).]{.caption-source}"
    table = html_table(dropped_pairs_display(d, lang))
    return f"{intro}\n\n::: {{#tbl-dropped-pairs}}\n```{{=html}}\n{table}\n```\n\n{cap} {src}\n:::\n"


def ledger_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Ledger totals per file: rows read = kept + merged + rejected."""
    led = d.ledger
    if led.empty:
        return pd.DataFrame()
    tot = led.groupby(["file", "status"]).size().unstack(fill_value=0)
    for c in ("kept", "merged", "rejected"):
        if c not in tot:
            tot[c] = 0
    tot = tot[["kept", "merged", "rejected"]]
    tot.insert(0, "read", tot.sum(axis=1))
    return format_table(tot.reset_index(), lang)


def checks_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Failed checks by rule, severity and action, translated (a rule without a label shows its message)."""
    chk = d.checks
    if chk.empty:
        return pd.DataFrame(columns=[_lab("rule", lang), _lab("severity", lang), _lab("action", lang), _lab("n", lang)])
    g = chk.groupby(["rule", "severity", "action"]).agg(n=("rule", "size"), message=("message", "first"))
    g = g.reset_index().sort_values(["n", "rule"], ascending=[False, True], kind="mergesort")

    def rule_text(rule: str, message: str) -> str:
        key = f"check.rule.{rule}"
        return ref.label(key, lang, default="") or str(message)

    return pd.DataFrame({
        _lab("rule", lang): [rule_text(str(r), str(m)) for r, m in zip(g["rule"], g["message"], strict=True)],
        _lab("severity", lang): [ref.label(f"check.severity.{s}", lang, default=str(s)) for s in g["severity"]],
        _lab("action", lang): [ref.label(f"check.action.{a}", lang, default=str(a)) for a in g["action"]],
        _lab("n", lang): [fmt.count(x) for x in g["n"]],
    })


def quality_display(d: ReportData, lang: Lang = "th") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ledger totals per file and failed checks by rule (:func:`ledger_display`, :func:`checks_display`)."""
    return ledger_display(d, lang), checks_display(d, lang)


def _same_version(a: str, b: str) -> bool:
    """``1.0`` and ``1.000`` are the same version (PEP 440 normalisation)."""
    try:
        from packaging.version import Version

        return Version(a) == Version(b)
    except Exception:
        return a == b


def plan_source(d: ReportData, lang: Lang = "th") -> str:
    """The plan's source for display: the packaged plan by name, a project plan by its file name (no local path)."""
    src = (d.plan_source or "").strip()
    if not src or src.startswith("package"):
        return _lab("prov.packaged_plan", lang)
    return src.replace("\\", "/").rsplit("/", 1)[-1]


def provenance_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """What the results rest on, in the report's language: dates, software (version, git commit, lock file,
    key packages), the seed, the plan, the region scheme and the SHA-256 of every input and output file.

    No local paths: files are named by their base name and the interpreter is described by its version.
    """
    import platform

    from welfare_eval.report.provenance import locked_versions, package_versions

    th = lang == "th"
    rows: list[tuple[str, str, str]] = []

    def add(section: str, item: str, value: Any) -> None:
        rows.append((_lab(f"prov.{section}", lang), item, str(value)))

    add("run", _lab("prov.data_kind", lang), _lab("prov.demo" if d.is_demo else "prov.real", lang))
    if d.analysed_at:
        add("run", _lab("prov.analysed_at", lang), d.analysed_at.replace("T", " ").replace("+00:00", " UTC"))
    if d.fieldwork_end:
        add("run", _lab("prov.fieldwork_end", lang), d.fieldwork_end)
    if d.seed is not None:
        add("run", _lab("prov.seed", lang), d.seed)
    sw = d.software
    add("software", "welfare_eval", sw.get("package_version") or _lab("prov.unknown", lang))
    add("software", _lab("prov.git_commit", lang), sw.get("git_commit") or _lab("prov.unknown", lang))
    add("software", _lab("prov.lock_sha256", lang), d.lock_sha256 or _lab("prov.unknown", lang))
    add("software", "Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})")
    locked = locked_versions()
    for name, ver in package_versions(REPORTED_PACKAGES).items():
        shown = _lab("prov.not_installed", lang) if ver is None else ver
        if name in locked and ver is not None and not _same_version(locked[name], ver):
            shown = f"{ver} ({_lab('prov.lock', lang)}: {locked[name]})"
        add("software", name, shown)
    add("plan", _lab("prov.plan_source", lang), plan_source(d, lang))
    add("plan", "SHA-256", d.plan_sha256 or _lab("prov.unknown", lang))
    scheme = d.region_scheme
    if scheme:
        name = scheme.get("name_th" if th else "name_en") or scheme.get("name_en") or scheme.get("scheme", "")
        add("regions", _lab("prov.scheme", lang), f"{name} ({scheme.get('date', '')})")
        add("regions", _lab("prov.scheme_source", lang), scheme.get("source", ""))
    man = d.manifest
    for item in list(man.get("inputs", [])) + list(man.get("outputs", [])):
        if isinstance(item, dict) and "file" in item and "sha256" in item:
            add("data", str(item["file"]).replace("\\", "/").rsplit("/", 1)[-1], item["sha256"])
    if man.get("key_id"):
        add("data", _lab("prov.key_id", lang), man["key_id"])
    return pd.DataFrame(rows, columns=[_lab("report.section", lang), _lab("report.item", lang),
                                       _lab("report.value", lang)])
