"""Content of the final report: display tables, figures and sentences built from the analysis results.

The report (``reports/final_report.qmd``) calls these functions; they only load, format and plot
what the pipeline computed (no statistics here). Labels come from :mod:`welfare_eval.reference`.
"""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report.data import ReportData
from welfare_eval.report.tables import format_number, format_p, format_table, suppress_small_cells

__all__ = [
    "ReportData",
    "balance_display",
    "balance_overall_markdown",
    "balance_tests_display",
    "design_display",
    "funnel_display",
    "love_plot",
    "provenance_display",
    "quality_display",
    "reserves_display",
    "sample_display",
    "summary_markdown",
]

Lang = Literal["th", "en"]
#: Packages whose versions the appendix lists (all others are pinned in requirements.lock).
REPORTED_PACKAGES = (
    "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "formulaic", "matplotlib", "seaborn",
    "pyarrow", "openpyxl", "pythainlp", "pandera", "nbclient", "ipykernel", "pypandoc-binary", "fontpkg-sarabun",
)


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def design_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The 18 pairs: region, pilot and comparison village codes and provinces, household counts."""
    t = d.results["design"].copy()
    prov = "province_th" if lang == "th" else "province_en"
    out = pd.DataFrame(
        {
            _lab("region", lang): t["region"].astype(int),
            _lab("pair_id", lang): t["pair_id"].astype(int),
            f"{_lab('arm.pilot', lang)}": t["pilot_village_id"],
            f"{_lab('province', lang)} ({_lab('arm.pilot', lang)})": t[f"pilot_{prov}"],
            f"{_lab('n_households', lang)} ({_lab('arm.pilot', lang)})": t["pilot_n_households"].astype(int),
            f"{_lab('arm.comparison', lang)}": t["comparison_village_id"],
            f"{_lab('province', lang)} ({_lab('arm.comparison', lang)})": t[f"comparison_{prov}"],
            f"{_lab('n_households', lang)} ({_lab('arm.comparison', lang)})": t["comparison_n_households"].astype(int),
        }
    )
    return out


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


def balance_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """SMD, variance ratio and KS before and after matching, one row per covariate."""
    b = d.results["balance"]
    wide = b.pivot_table(index="covariate", columns="sample", values=["smd", "variance_ratio", "ks"], aggfunc="first")
    order = list(dict.fromkeys(b["covariate"]))
    wide = wide.reindex(order)
    out = pd.DataFrame(index=[_lab(f"covariate.{c}", lang) for c in order])
    out.index.name = _lab("covariate", lang)
    for stage in ("before", "after"):
        for stat in ("smd", "variance_ratio", "ks"):
            if (stat, stage) in wide.columns:
                out[f"{_lab(stat, lang)} ({_lab('balance.' + stage, lang)})"] = [
                    format_number(v, 3) for v in wide[(stat, stage)]
                ]
    types = b.drop_duplicates("covariate").set_index("covariate")["type"].reindex(order)
    out[_lab("covariate_type", lang)] = list(types)
    return out


def balance_tests_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """iebaltab-style table: means by arm, within-pair difference, its SE and p-value."""
    t = d.results["balance_tests"].copy()
    t["covariate"] = [_lab(f"covariate.{c}", lang) for c in t["covariate"]]
    t = t.rename(columns={"estimate": "diff", "std_error": "se_diff"})
    cols = ["covariate", "mean_treated", "mean_control", "diff", "se_diff", "df", "p_value"]
    return format_table(t[cols], lang, decimals=3)


def balance_overall_markdown(d: ReportData, lang: Lang = "th") -> str:
    """One sentence on the joint F test and the within-pair permutation test of overall balance."""
    rows = {str(r["test"]): r for r in d.results["balance_overall"].to_dict("records")}
    f, perm = rows["joint_f"], rows["permutation"]
    smd = mean_abs_smd(d)
    if lang == "th":
        return (
            f"ค่าเฉลี่ยของ |SMD| ลดลงจาก {smd['before']:.2f} (ก่อนจับคู่) เหลือ {smd['after']:.2f} (หลังจับคู่) "
            f"การทดสอบความสมดุลรวม: F({f['df_num']:.0f}, {f['df_denom']:.0f}) = {f['statistic']:.2f}, "
            f"p = {format_p(f['p_value'])}; การทดสอบแบบสลับภายในคู่ (permutation, {int(float(perm['n_perm'])):,} ครั้ง) "
            f"p = {format_p(perm['p_value'])} "
            "ความไม่สมดุลที่เหลืออยู่หมายความว่าการประมาณผลต้องอาศัยข้อสมมติแนวโน้มคู่ขนาน (parallel trends) "
            "และควรตรวจสอบด้วยแบบจำลองที่ปรับตัวแปรร่วม\n"
        )
    return (
        f"Mean |SMD| fell from {smd['before']:.2f} to {smd['after']:.2f}. Joint test: F({f['df_num']:.0f}, "
        f"{f['df_denom']:.0f}) = {f['statistic']:.2f}, p = {format_p(f['p_value'])}; within-pair permutation "
        f"test p = {format_p(perm['p_value'])}.\n"
    )


def reserves_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Reserve comparison villages (2nd, 3rd nearest) for each pilot, in case fieldwork loses a village."""
    r = d.results["reserves"].copy()
    cols = [c for c in ("pair_id", "region", "treated_id", "reserve_rank", "control_id", "distance") if c in r]
    return format_table(r[cols], lang, decimals=3)


def mean_abs_smd(d: ReportData) -> dict[str, float]:
    """Mean |SMD| of the matching covariates before and after matching."""
    b = d.results["balance"]
    return {s: float(b.loc[b["sample"] == s, "smd"].abs().mean()) for s in ("before", "after")}


def love_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Love plot of |SMD| before (naive comparison) and after matching."""
    from welfare_eval.match import love_plot as _love

    b = d.results["balance"]
    before = b[b["sample"] == "before"].set_index("covariate")
    after = b[b["sample"] == "after"].set_index("covariate")
    return _love(before, after, lang=lang)


def quality_display(d: ReportData, lang: Lang = "th") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ledger totals per file (read = kept + merged + rejected) and failed checks by rule."""
    led = d.ledger
    if led.empty:
        return pd.DataFrame(), pd.DataFrame()
    tot = led.groupby(["file", "status"]).size().unstack(fill_value=0)
    for c in ("kept", "merged", "rejected"):
        if c not in tot:
            tot[c] = 0
    tot = tot[["kept", "merged", "rejected"]]
    tot.insert(0, "read", tot.sum(axis=1))
    tot = tot.reset_index()
    chk = d.checks
    by_rule = (
        chk.groupby(["rule", "severity", "action"]).size().rename("n").reset_index().sort_values("n", ascending=False)
        if not chk.empty
        else pd.DataFrame(columns=["rule", "severity", "action", "n"])
    )
    return format_table(tot, lang), format_table(by_rule, lang)


def provenance_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Versions, seed, region scheme and data hashes."""
    from welfare_eval.report.provenance import appendix_table

    man = dict(d.manifest)
    files: dict[str, str] = {}
    for item in man.get("inputs", []) + man.get("outputs", []):
        if isinstance(item, dict) and "file" in item and "sha256" in item:
            files[str(item["file"])] = str(item["sha256"])
    tab = appendix_table({"files": files}, seed=d.seed, packages=REPORTED_PACKAGES)
    scheme = d.region_scheme
    extra = pd.DataFrame(
        [
            ("run", "demo data (simulated)" if d.is_demo else "real data", "yes" if d.is_demo else "no"),
            ("regions", "scheme", f"{scheme.get('name_en') or scheme.get('scheme', '?')} ({scheme.get('date', '')})"),
            ("regions", "source", str(scheme.get("source", ""))),
            ("regions", "caveat", str(scheme.get("caveat", ""))),
            ("plan", "source", d.plan_source or "package default"),
            ("plan", "sha256", d.plan_sha256 or "unknown"),
            ("software", "requirements.lock (sha256)", d.lock_sha256 or "not found"),
        ],
        columns=["section", "item", "value"],
    )
    return pd.concat([tab, extra], ignore_index=True)


def summary_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The executive-summary paragraph (markdown)."""
    s = d.results["sample_sizes"]
    n_int = int(s["n_interviewed"].sum())
    n_vil = int(d.results["design"].shape[0] * 2)
    t = d.results["did_preliminary"]
    smd = mean_abs_smd(d)
    lines = []
    if lang == "th":
        if d.is_demo:
            lines.append(
                "> **ข้อมูลจำลอง** — รายงานฉบับนี้สร้างจากข้อมูลจำลองที่มีผลจริงที่กำหนดไว้ล่วงหน้า (planted truth) "
                "เพื่อทดสอบระบบวิเคราะห์ ไม่ใช่ผลการประเมินจริง\n"
            )
        lines.append(
            f"การศึกษานี้เปรียบเทียบหมู่บ้านนำร่อง {n_vil // 2} หมู่บ้าน (เขตตรวจราชการละ 1 หมู่บ้าน) กับหมู่บ้านเปรียบเทียบ "
            f"{n_vil // 2} หมู่บ้านที่จับคู่ภายในเขตตรวจราชการเดียวกัน สัมภาษณ์ครัวเรือนรวม {n_int:,} ครั้งใน 3 รอบการสำรวจ "
            f"การจับคู่ลดค่าเฉลี่ยของ |SMD| ของตัวแปรที่ใช้คัดเลือกจาก {smd['before']:.2f} เหลือ {smd['after']:.2f}."
        )
        for y in dict.fromkeys(t["outcome"]):
            r = t[(t["outcome"] == y) & (t["method"] == "cr2")]
            w = t[(t["outcome"] == y) & (t["method"] == "wild")]
            if r.empty:
                continue
            r0 = r.iloc[0]
            pw = f", wild bootstrap p = {format_p(w.iloc[0]['p_value'])}" if not w.empty else ""
            lines.append(
                f"- **{_lab('outcome.' + str(y), 'th')}**: ผลของโครงการ ณ รอบหลังดำเนินโครงการ (DiD) = {format_number(r0['estimate'], 3)} "
                f"(CR2 95% CI [{format_number(r0['ci_low'], 3)}, {format_number(r0['ci_high'], 3)}]{pw})"
            )
    else:
        lines.append(
            f"{n_vil // 2} pilot villages vs {n_vil // 2} matched comparison villages; {n_int:,} household interviews "
            f"in three waves; matching reduced the mean |SMD| from {smd['before']:.2f} to {smd['after']:.2f}."
        )
    paras = [x for x in lines if not x.startswith("- ")]
    items = [x for x in lines if x.startswith("- ")]
    return "\n\n".join(paras) + "\n\n" + "\n".join(items) + "\n"
