"""Report content of the success-factor analysis (issue #7): display tables, figures and sentences.

Every function takes the :class:`welfare_eval.report.content.ReportData` of the report and a language
(``"th"`` or ``"en"``) and only formats, words or plots the ``factors_*`` result tables written by
:func:`welfare_eval.study.factors.analyze_factors` (no statistics here). Labels come from
:func:`welfare_eval.reference.label`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.tables import format_number, format_p, format_table

if TYPE_CHECKING:
    from welfare_eval.report.data import ReportData

__all__ = [
    "dominance_alt",
    "dominance_display",
    "dominance_plot",
    "factor_profile_alt",
    "factor_profile_plot",
    "factors_summary_markdown",
    "formula",
    "moderation_display",
    "qca_solution_display",
    "qca_solution_markdown",
    "qca_truth_table_display",
    "reliability_display",
    "structure_markdown",
]

Lang = Literal["th", "en"]
_PILOT_COLOUR, _COMPARISON_COLOUR = "#1f4e79", "#c0392b"


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def _fac(code: str, lang: Lang) -> str:
    """Display name of a factor code or of the composite predictors."""
    if code in ("internal_mean", "external_mean"):
        return _lab(f"factors.{code}", lang)
    return ref.label(f"factor.{code}", lang, default=code)


def _res(d: ReportData, key: str) -> pd.DataFrame:
    if key not in d.results:
        raise KeyError(
            f"result table {key!r} not found; run `welfare-eval analyze` with the success-factor analysis "
            "(welfare_eval.study.factors.analyze_factors)"
        )
    return d.results[key]


def _interval(lo: Any, hi: Any, decimals: int) -> str:
    return fmt.interval(lo, hi, "number", places=decimals)


def _pct(x: float) -> str:
    return f"{100 * float(x):.0f}%"


# --------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------
def reliability_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Reliability of the 12 factor scales and of their village means.

    One row per factor: group, items, Cronbach's alpha with its Feldt 95% interval, McDonald's omega, the
    mean score with its Thai band, ICC(2) (reliability of the village mean) and the median rwg(j).
    """
    r = _res(d, "factors_reliability")
    icc = _res(d, "factors_icc").set_index("factor")
    pct = round(100 * float(r["conf_level"].iloc[0])) if "conf_level" in r else 95
    t = pd.DataFrame(
        {
            "factors.factor": [_fac(str(f), lang) for f in r["factor"]],
            "factors.group": [_lab(f"factor.{g}", lang) for g in r["group"]],
            "factors.alpha": [f"{fmt.number(a, 'ratio')} {_interval(lo, hi, 2)}" for a, lo, hi in
                                      zip(r["alpha"], r["alpha_lower"], r["alpha_upper"], strict=True)],
            "factors.omega": r["omega"].to_numpy(dtype=float),
            "factors.mean": r["mean"].to_numpy(dtype=float),
            "factors.band": list(r["band_th" if lang == "th" else "band_en"]),
            "factors.icc2": r["factor"].map(icc["icc2"]).to_numpy(dtype=float),
            "factors.rwg": r["factor"].map(icc["rwg_median"]).to_numpy(dtype=float),
        }
    )
    out = format_table(t, lang, decimals=2)
    if pct != 95:
        out.columns = [c.replace("95%", f"{pct}%") for c in out.columns]
    return out


def dominance_display(d: ReportData, lang: Lang = "th", *, model: str = "internal") -> pd.DataFrame:
    """Dominance analysis of the pilots' own DiD effect: general dominance, share of R², rank, bootstrap
    intervals and how often each factor is first / in the top three of the resamples."""
    t = _res(d, "factors_dominance")
    t = t[t["model"] == model].sort_values("rank", kind="mergesort")
    out = pd.DataFrame(
        {
            "factors.rank": t["rank"].astype(int).to_numpy(),
            "factors.factor": [_fac(str(p), lang) for p in t["predictor"]],
            "factors.general": t["general"].to_numpy(dtype=float),
            "factors.general_ci": [_interval(a, b, 3) for a, b in zip(t["general_lower"], t["general_upper"],
                                                                      strict=True)],
            "factors.share": t["share"].to_numpy(dtype=float),
            "factors.rank_ci": [_interval(a, b, 0) for a, b in zip(t["rank_lower"], t["rank_upper"], strict=True)],
            "factors.p_top1": t["p_top1"].to_numpy(dtype=float),
            "factors.p_top3": t["p_top3"].to_numpy(dtype=float),
        }
    )
    return format_table(out, lang, decimals=3, pct_cols=["factors.share", "factors.p_top1", "factors.p_top3"])


def moderation_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Exploratory moderation of the DiD effect by each factor (CR2, Satterthwaite df, Holm/BH)."""
    t = _res(d, "factors_moderation")
    out = pd.DataFrame(
        {
            "factors.factor": [_fac(str(p), lang) for p in t["predictor"]],
            "factors.group": [_lab(f"factor.{g}", lang) for g in t["group"]],
            "factors.moderation": t["estimate"].to_numpy(dtype=float),
            "ci": [_interval(a, b, 3) for a, b in zip(t["ci_low"], t["ci_high"], strict=True)],
            "df": t["df"].to_numpy(dtype=float),
            "p_value": t["p_value"].to_numpy(dtype=float),
            "factors.p_holm": t["p_holm"].to_numpy(dtype=float),
            "factors.p_bh": t["p_bh"].to_numpy(dtype=float),
        }
    )
    return format_table(out, lang, decimals={"factors.moderation": 3, "df": 1},
                        p_cols=["p_value", "factors.p_holm", "factors.p_bh"])


def qca_truth_table_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The observed rows of the QCA truth table: conditions (1 = high), OUT, cases, consistency, PRI."""
    t = _res(d, "factors_qca_truth_table")
    sol = _res(d, "factors_qca_solution")
    conds = str(sol["conditions"].iloc[0]).split(",")
    out = pd.DataFrame({_fac(c, lang): t[c].astype(int).to_numpy() for c in conds})
    out[_lab("factors.out", lang)] = list(t["OUT"].astype(str))
    out[_lab("n", lang)] = t["n"].astype(int).to_numpy()
    out[_lab("factors.consistency", lang)] = [format_number(x, 2) for x in t["incl"]]
    out[_lab("factors.cases", lang)] = [", ".join(c.strip() for c in str(x).split(",") if c.strip()) for x in t["cases"]]
    return out


def _term_words(term: str, lang: Lang) -> str:
    if term in ("", "1"):
        return "—"
    parts = []
    for lit in term.split("*"):
        neg = lit.startswith("~")
        code = lit.lstrip("~")
        parts.append(f"{_fac(code, lang)} {_lab('factors.not_high' if neg else 'factors.high', lang)}")
    joiner = " และ " if lang == "th" else " and "
    return joiner.join(parts)


def _solution_words(solution: str, lang: Lang) -> str:
    if not solution:
        return "—"
    terms = [s.strip() for s in solution.split("+")]
    joiner = " หรือ " if lang == "th" else " or "
    return joiner.join(f"({_term_words(t, lang)})" for t in terms)


def _solutions(d: ReportData) -> pd.DataFrame:
    """One row per solution kind and model: formula, consistency, coverage (first model listed first)."""
    s = _res(d, "factors_qca_solution")
    return s.drop_duplicates(["kind", "model"]).reset_index(drop=True)


def formula(solution: str, lang: Lang = "th") -> str:
    """A QCA solution in Boolean notation with the factors' names: ``committee*~fund + cooperation`` →
    "คณะกรรมการ · ~กองทุน + ความร่วมมือ" (· = and, ~ = not high, + = or)."""
    if not solution:
        return "—"
    terms = []
    for term in solution.split("+"):
        lits = []
        for lit in term.strip().split("*"):
            neg = lit.startswith("~")
            lits.append(("~" if neg else "") + _fac(lit.lstrip("~"), lang))
        terms.append(" · ".join(lits))
    return " + ".join(terms)


def qca_solution_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """The QCA solutions (conservative, parsimonious, intermediate): formula, consistency, coverage.

    The solutions in words are in :func:`qca_solution_markdown`; the formula names the factors (:func:`formula`).
    """
    s = _solutions(d)
    rows = []
    for _, r in s.iterrows():
        rows.append(
            {
                _lab("factors.solution_kind", lang): _lab(f"factors.qca.{r['kind']}", lang)
                + (f" M{int(r['model'])}" if int(r["model"]) > 1 else ""),
                _lab("factors.solution", lang): formula(str(r["solution"]), lang),
                _lab("factors.consistency", lang): format_number(r.get("solution_incl"), 2, na="—"),
                _lab("factors.coverage", lang): format_number(r.get("solution_cov"), 2, na="—"),
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------
def factor_profile_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Mean village score of each factor, pilots (circles) vs comparison villages (squares); faint dots: the
    villages; dotted lines: the bands for interpreting means; one legend below."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import ARM_STYLE, MIN_FONT_PT, legend_below, use_thai_font

    use_thai_font()
    v = _res(d, "factors_villages")
    facs = [str(c) for c in ref.success_factors()["code"] if c in v.columns]
    fig, ax = plt.subplots(figsize=(7.2, 0.42 * len(facs) + 1.2))
    pos = np.arange(len(facs))[::-1].astype(float)
    rng = np.random.default_rng(0)  # jitter of the village dots only (display)
    handles, labels = [], []
    for arm, shift in (("pilot", 0.15), ("comparison", -0.15)):
        st = ARM_STYLE[arm]
        sub = v[v["arm"] == arm]
        if sub.empty:
            continue
        for y, f in zip(pos, facs, strict=True):
            vals = sub[f].dropna().to_numpy(dtype=float)
            ax.scatter(vals, y + shift + rng.uniform(-0.05, 0.05, len(vals)), s=9, color=st["color"], alpha=0.25,
                       lw=0, marker=st["marker"])
        means = sub[facs].mean()
        h = ax.scatter(means.to_numpy(), pos + shift, s=48, color=st["color"], marker=st["marker"], zorder=3)
        handles.append(h)
        labels.append(f"{_lab(f'arm.{arm}', lang)} (n = {len(sub)})")
    for b in ref.likert_bands()["high"].iloc[:-1]:
        ax.axvline(float(b), color="grey", lw=0.6, ls=":")
    n_int = sum(1 for f in facs if f in set(ref.success_factors().query("group == 'internal'")["code"]))
    if 0 < n_int < len(facs):
        ax.axhline(pos[n_int - 1] - 0.5, color="grey", lw=0.8)
    ax.set_yticks(pos, [_fac(f, lang) for f in facs], fontsize=MIN_FONT_PT)
    ax.set_xlim(1, 5)
    ax.tick_params(axis="x", labelsize=MIN_FONT_PT)
    ax.set_xlabel(_lab("factors.score_mean", lang), fontsize=MIN_FONT_PT + 1)
    fig.tight_layout()
    legend_below(fig, handles, labels, ncol=2)
    return fig


def factor_profile_alt(d: ReportData, lang: Lang = "th") -> str:
    """What the profile plot shows: the factor where pilots score most above comparison villages, and the
    range of the pilots' means."""
    v = _res(d, "factors_villages")
    facs = [str(c) for c in ref.success_factors()["code"] if c in v.columns]
    m: dict[str, dict[str, float]] = {str(a): {str(f): float(x) for f, x in row.items()}
                                      for a, row in v.groupby("arm")[facs].mean().to_dict("index").items()}
    if not {"pilot", "comparison"} <= set(m):
        return _lab("factors.score_mean", lang)
    gap = {f: m["pilot"][f] - m["comparison"][f] for f in facs}
    top = max(facs, key=lambda f: gap[f])
    lo, hi = min(m["pilot"].values()), max(m["pilot"].values())
    if lang == "th":
        return (f"คะแนนเฉลี่ยของหมู่บ้านนำร่องอยู่ระหว่าง {lo:.2f} ถึง {hi:.2f} จากคะแนนเต็ม 5 "
                f"ด้านที่หมู่บ้านนำร่องสูงกว่าหมู่บ้านเปรียบเทียบมากที่สุดคือ{_fac(top, lang)} (ต่างกัน {gap[top]:.2f})")
    return (f"Pilot villages score between {lo:.2f} and {hi:.2f} out of 5 on average; they lead the comparison "
            f"villages most on {_fac(top, lang)} (by {gap[top]:.2f}).")


def dominance_plot(d: ReportData, lang: Lang = "th") -> Any:
    """General dominance of each predictor with 95% bootstrap intervals: the six internal factors (top)
    and the internal vs external composites (bottom)."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import MIN_FONT_PT, use_thai_font

    use_thai_font()
    t = _res(d, "factors_dominance")
    models = [m for m in ("internal", "composite") if (t["model"] == m).any()]
    sizes = [int((t["model"] == m).sum()) for m in models]
    fig, axes = plt.subplots(len(models), 1, figsize=(7.2, 0.42 * sum(sizes) + 1.4 * len(models)), squeeze=False,
                             gridspec_kw={"height_ratios": sizes})
    for ax, m in zip(axes[:, 0], models, strict=True):
        s = t[t["model"] == m].sort_values("general", ascending=True, kind="mergesort")
        names = [_fac(str(p), lang) for p in s["predictor"]]
        err = np.vstack([np.clip(s["general"] - s["general_lower"], 0, None),
                         np.clip(s["general_upper"] - s["general"], 0, None)])
        ax.barh(names, s["general"], xerr=err, capsize=3, color=_PILOT_COLOUR, alpha=0.85)
        for y, (g, p1) in enumerate(zip(s["general_upper"], s["p_top1"], strict=True)):
            if np.isfinite(p1):
                ax.text(float(g), y, f"  {_pct(p1)}", va="center", fontsize=MIN_FONT_PT, color="#444444")
        r = s.iloc[0]
        head = _lab("factor.internal", lang) if m == "internal" else _lab("factors.internal_vs_external", lang)
        ax.set_title(f"{head}: R² = {r['r2_full']:.2f} (n = {int(r['n'])})", fontsize=MIN_FONT_PT + 1)
        ax.set_xlabel(_lab("factors.general", lang), fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.margins(x=0.15)
    fig.tight_layout()
    fig.text(0.01, 0.0, _lab("factors.bar_note", lang), fontsize=MIN_FONT_PT, color="#444444", va="top")
    return fig


def dominance_alt(d: ReportData, lang: Lang = "th") -> str:
    """The dominance plot's finding: the top factor, its share of R² and how often it ranks first."""
    t = _res(d, "factors_dominance")
    s = t[t["model"] == "internal"].sort_values("rank", kind="mergesort")
    if s.empty:
        return _lab("factors.general", lang)
    r = s.iloc[0]
    p1 = _pct(r["p_top1"]) if np.isfinite(float(r["p_top1"])) else "—"
    if lang == "th":
        return (f"ในปัจจัยภายใน {_fac(str(r['predictor']), lang)} มีอิทธิพลโดยรวมสูงสุด ({_pct(r['share'])} ของ R² = "
                f"{float(r['r2_full']):.2f}) และเป็นอันดับ 1 ใน {p1} ของการสุ่มซ้ำ ช่วง bootstrap ของปัจจัยต่าง ๆ ทับซ้อนกัน")
    return (f"Among the internal factors {_fac(str(r['predictor']), lang)} has the largest general dominance "
            f"({_pct(r['share'])} of R² = {float(r['r2_full']):.2f}) and ranks first in {p1} of resamples; the bootstrap "
            "intervals overlap.")


# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------
def qca_solution_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The QCA result in words: the conservative and intermediate solutions as sentences with formulas,
    their consistency and coverage, and the limited-diversity caveat."""
    s = _solutions(d)
    first = s.iloc[0]
    thr = float(first["success_threshold"])
    n_cases, n_succ = int(first["n_cases"]), int(first["n_success"])
    anchors = str(first["anchors"]).split("/")
    lines = []
    if lang == "th":
        lines.append(
            f"ในการวิเคราะห์เชิงเปรียบเทียบเชิงคุณภาพ (QCA) หมู่บ้านนำร่องถือว่า **ประสบความสำเร็จ** เมื่อผล DiD ของตนเอง "
            f"มากกว่า {thr:.2f} ({n_succ} จาก {n_cases} หมู่บ้าน) คะแนนปัจจัยถูกแปลงเป็นระดับความเป็นสมาชิกของเซต "
            f"\"ปัจจัยสูง\" โดยใช้จุดยึด {anchors[0]} (ไม่เป็นสมาชิกเลย) {anchors[1]} (จุดกึ่งกลาง) และ {anchors[2]} "
            "(เป็นสมาชิกเต็มที่) ตามเกณฑ์การแปลความหมายค่าเฉลี่ย"
        )
    else:
        lines.append(
            f"In the QCA a pilot village counts as a **success** when its own DiD effect exceeds {thr:.2f} "
            f"({n_succ} of {n_cases} pilots). Factor scores were calibrated into membership of the set \"high\" with "
            f"anchors {anchors[0]} (fully out), {anchors[1]} (crossover) and {anchors[2]} (fully in)."
        )
    for kind in ("conservative", "intermediate"):
        hit = s[s["kind"] == kind]
        if hit.empty:
            continue
        r = hit.iloc[0]
        name = _lab(f"factors.qca.{kind}", lang)
        if not str(r["solution"]):
            lines.append(
                f"- **{name}**: "
                + ("ไม่มีรูปแบบเงื่อนไขใดที่นำไปสู่ความสำเร็จอย่างสม่ำเสมอ" if lang == "th"
                   else "no configuration leads to success consistently")
            )
            continue
        more = f" ({len(hit)} " + ("แบบจำลองที่สั้นเท่ากัน)" if lang == "th" else "equally short models)") if len(hit) > 1 else ""
        fit = (f"ความสอดคล้อง {format_number(r['solution_incl'], 2)}, ความครอบคลุม {format_number(r['solution_cov'], 2)}"
               if lang == "th"
               else f"consistency {format_number(r['solution_incl'], 2)}, coverage {format_number(r['solution_cov'], 2)}")
        lead = "หมู่บ้านนำร่องประสบความสำเร็จเมื่อ " if lang == "th" else "pilots succeed when "
        low = float(r["solution_cov"]) < 0.5
        note = (("; ความครอบคลุมต่ำ: รูปแบบนี้อธิบายหมู่บ้านที่สำเร็จได้เพียงส่วนน้อย" if lang == "th"
                 else "; low coverage: it accounts for only a minority of the successful pilots") if low else "")
        lines.append(f"- **{name}**{more}: {lead}{_solution_words(str(r['solution']), lang)} — "
                     f"{formula(str(r['solution']), lang)} → {_lab('factors.success', lang)} ({fit}{note})")
    if bool(first["limited_diversity"]):
        n_rem = int(first["n_remainders"])
        k = len(str(first["conditions"]).split(","))
        lines.append(
            f"> **ข้อควรระวัง**: รูปแบบเงื่อนไขที่เป็นไปได้ {2 ** k} แบบ ไม่มีหมู่บ้านใดเลย {n_rem} แบบ (limited diversity) "
            "คำตอบแบบประหยัดและแบบกลางจึงอาศัยข้อสมมติเกี่ยวกับรูปแบบที่ไม่มีข้อมูล ควรอ่านคำตอบแบบระมัดระวังเป็นหลัก"
            if lang == "th"
            else f"> **Caution**: {n_rem} of the {2 ** k} configurations have no village (limited diversity); the "
            "parsimonious and intermediate solutions rest on assumptions about them, read the conservative one first."
        )
    return "\n\n".join(x for x in lines if not x.startswith("- ")) + "\n\n" + "\n".join(
        x for x in lines if x.startswith("- ")
    ) + "\n"


def structure_markdown(d: ReportData, lang: Lang = "th") -> str:
    """Reliability, agreement and factor structure of the committee ratings in one paragraph."""
    r = _res(d, "factors_reliability")
    icc = _res(d, "factors_icc")
    e = _res(d, "factors_efa").set_index("statistic")["value"]
    a_lo, a_hi = float(r["alpha"].min()), float(r["alpha"].max())
    weakest = _fac(str(r["factor"].iloc[int(np.argmin(r["alpha"].to_numpy(dtype=float)))]), lang)
    i2_lo, i2_hi = float(icc["icc2"].min()), float(icc["icc2"].max())
    rwg = float(icc["rwg_median"].median())
    if lang == "th":
        return (
            f"ความเชื่อมั่นของมาตรวัดปัจจัยทั้ง 12 ด้าน (แอลฟาของครอนบาค) อยู่ระหว่าง {a_lo:.2f} ถึง {a_hi:.2f} "
            f"(ต่ำสุดคือ {weakest}) ความเชื่อมั่นของค่าเฉลี่ยระดับหมู่บ้าน ICC(2) อยู่ระหว่าง {i2_lo:.2f} ถึง {i2_hi:.2f} "
            f"และค่ามัธยฐานของ rwg(j) เท่ากับ {rwg:.2f} จึงใช้ค่าเฉลี่ยของกรรมการเป็นคะแนนของหมู่บ้านได้ "
            f"ความเหมาะสมของข้อมูลสำหรับการวิเคราะห์องค์ประกอบ KMO = {e['kmo']:.2f}; "
            f"ในแบบจำลอง 2 องค์ประกอบ ข้อคำถาม {_pct(e['split_agreement'])} มีน้ำหนักสูงสุดในองค์ประกอบที่ตรงกับกลุ่ม "
            f"(ปัจจัยภายใน/ภายนอก) ของตน; parallel analysis ชี้ {int(e['parallel_n_pc'])} องค์ประกอบหลัก "
            f"({int(e['parallel_n_fa'])} องค์ประกอบร่วม)\n"
        )
    return (
        f"Cronbach's alpha of the 12 factor scales ranges from {a_lo:.2f} to {a_hi:.2f} (lowest: {weakest}); the "
        f"reliability of the village means, ICC(2), from {i2_lo:.2f} to {i2_hi:.2f}, with a median rwg(j) of {rwg:.2f}, "
        f"so committee means can stand for the village. KMO = {e['kmo']:.2f}; in a two-factor solution "
        f"{_pct(e['split_agreement'])} of the items load most on the factor matched to their group (internal/external); "
        f"parallel analysis suggests {int(e['parallel_n_pc'])} components ({int(e['parallel_n_fa'])} common factors).\n"
    )


def _planted(d: ReportData) -> list[str]:
    if not d.truth:
        return []
    coef = d.truth.get("factor_coefficients") or {}
    return [str(k) for k, v in sorted(coef.items(), key=lambda kv: -abs(float(kv[1]))) if float(v) != 0.0]


def factors_summary_markdown(d: ReportData, lang: Lang = "th") -> str:
    """Which factors come out on top, and how sure that is (markdown paragraph).

    Reads the dominance of the six internal factors (bootstrap rank intervals, share of resamples in which a
    factor is first / in the top three, full-model R² against the R² expected by chance), the composite
    internal-vs-external model, the Holm-adjusted moderation tests and, for the demo, whether the factors
    planted in the simulation (``truth["factor_coefficients"]``) are the top ones.
    """
    dom = _res(d, "factors_dominance")
    t = dom[dom["model"] == "internal"].sort_values("rank", kind="mergesort").reset_index(drop=True)
    comp = dom[dom["model"] == "composite"].set_index("predictor")
    mod = _res(d, "factors_moderation")
    r0 = t.iloc[0]
    n, p = int(r0["n"]), int(r0["n_predictors"])
    r2, r2_null = float(r0["r2_full"]), float(r0["r2_null_expected"])
    n_boot = int(r0["n_boot"])
    th = lang == "th"

    def describe(r: pd.Series) -> str:
        if not np.isfinite(float(r.get("rank_lower", np.nan))):  # no bootstrap (plan factors.n_boot = 0)
            return (f"**{_fac(str(r['predictor']), lang)}** (สัดส่วน {_pct(r['share'])} ของ R²)" if th
                    else f"**{_fac(str(r['predictor']), lang)}** ({_pct(r['share'])} of R²)")
        lo, hi = round(float(r["rank_lower"])), round(float(r["rank_upper"]))
        if th:
            return (f"**{_fac(str(r['predictor']), lang)}** (สัดส่วน {_pct(r['share'])} ของ R², ช่วงอันดับ 95% "
                    f"[{lo},{fmt.NBSP}{hi}], อยู่ใน 3 อันดับแรก {_pct(r['p_top3'])} ของการสุ่มซ้ำ)")
        return (f"**{_fac(str(r['predictor']), lang)}** ({_pct(r['share'])} of R², 95% rank interval [{lo},{fmt.NBSP}{hi}], "
                f"top three in {_pct(r['p_top3'])} of resamples)")

    top = [describe(t.iloc[i]) for i in range(min(3, len(t)))]
    has_boot = n_boot > 0 and np.isfinite(float(r0["p_top1"]))
    clear_first = has_boot and float(r0["rank_upper"]) <= 1.0
    chance = r2 <= r2_null
    lines: list[str] = []
    if th:
        lines.append(
            f"เมื่ออธิบายความแตกต่างของผล DiD ของหมู่บ้านนำร่อง {n} หมู่บ้านด้วยปัจจัยภายใน {p} ด้าน "
            f"(dominance analysis) ปัจจัยที่มีอิทธิพลโดยรวมสูงสุดคือ {top[0]}"
            + (f" รองลงมาคือ {top[1]}" if len(top) > 1 else "")
            + (f" และ {top[2]}" if len(top) > 2 else "")
        )
        sure = (
            f"**ความแน่นอน**: R² ของแบบจำลองเต็มเท่ากับ {r2:.2f} ขณะที่ความบังเอิญอย่างเดียวให้ R² ราว {r2_null:.2f} "
            f"({p} ตัวแปร {n} หมู่บ้าน) "
        )
        if not has_boot:
            sure += "ไม่ได้คำนวณช่วง bootstrap จึงบอกความแน่นอนของลำดับไม่ได้"
        elif chance:
            sure += "ปัจจัยทั้งหมดรวมกันอธิบายได้ไม่เกินกว่าที่คาดจากความบังเอิญ จึงไม่ควรตีความลำดับนี้"
        elif clear_first:
            sure += (f"{_fac(str(r0['predictor']), lang)} เป็นอันดับ 1 ในทุกช่วงอันดับ 95% ({_pct(r0['p_top1'])} ของการสุ่มซ้ำ) "
                     "แต่ลำดับของปัจจัยอื่นยังไม่แน่นอน")
        elif float(r0["p_top1"]) >= 0.5:
            sure += (f"{_fac(str(r0['predictor']), lang)} เป็นอันดับ 1 ใน {_pct(r0['p_top1'])} ของการสุ่มซ้ำ {n_boot:,} ครั้ง "
                     "แต่ช่วงอันดับของปัจจัยต่าง ๆ ยังกว้างและทับซ้อนกัน ลำดับจึงยังไม่แน่นอน")
        else:
            sure += (f"ไม่มีปัจจัยใดเป็นอันดับ 1 เกินครึ่งหนึ่งของการสุ่มซ้ำ {n_boot:,} ครั้ง ช่วงอันดับกว้างและทับซ้อนกัน "
                     "ลำดับจึงไม่แน่นอน")
        lines.append(sure)
        if {"internal_mean", "external_mean"} <= set(comp.index):
            lines.append(
                f"เมื่อเทียบค่าเฉลี่ยรวมของปัจจัยภายในกับปัจจัยภายนอก ปัจจัยภายในได้สัดส่วน {_pct(float(comp['share'].loc['internal_mean']))} "
                f"ของ R² (R² = {float(comp['r2_full'].iloc[0]):.2f}; ความบังเอิญอย่างเดียวให้ราว "
                f"{float(comp['r2_null_expected'].iloc[0]):.2f})"
            )
        sig = mod[mod["p_holm"] < 0.05]
        best = mod.iloc[int(np.argmin(mod["p_value"].to_numpy(dtype=float)))]
        lines.append(
            "การวิเคราะห์ตัวแปรกำกับ (moderation) ซึ่งเป็นการวิเคราะห์เชิงสำรวจ: "
            + (
                "ปัจจัยที่ยังมีนัยสำคัญหลังปรับแบบ Holm คือ " + ", ".join(_fac(str(x), lang) for x in sig["predictor"])
                if len(sig)
                else f"ไม่มีปัจจัยใดมีนัยสำคัญหลังปรับการทดสอบพหุคูณแบบ Holm (ค่า p ต่ำสุด {format_p(best['p_value'])} "
                f"ของ{_fac(str(best['predictor']), lang)}, หลังปรับ {format_p(best['p_holm'])})"
            )
        )
    else:
        lines.append(
            f"Explaining the differences in the own DiD effect of the {n} pilot villages by the {p} internal factors "
            f"(dominance analysis), the largest general dominance goes to {top[0]}"
            + (f", then {top[1]}" if len(top) > 1 else "")
            + (f" and {top[2]}" if len(top) > 2 else "")
            + "."
        )
        sure = f"**How sure**: the full-model R² is {r2:.2f}, against about {r2_null:.2f} from chance alone ({p} predictors, {n} pilots); "
        if not has_boot:
            sure += "no bootstrap was run, so the certainty of the ordering is unknown."
        elif chance:
            sure += "together the factors explain no more than chance would, so the ordering should not be read."
        elif clear_first:
            sure += (f"{_fac(str(r0['predictor']), lang)} is first throughout its 95% rank interval "
                     f"({_pct(r0['p_top1'])} of resamples), but the order of the others is uncertain.")
        elif float(r0["p_top1"]) >= 0.5:
            sure += (f"{_fac(str(r0['predictor']), lang)} is first in {_pct(r0['p_top1'])} of {n_boot:,} resamples, but the "
                     "rank intervals are wide and overlap, so the ordering is uncertain.")
        else:
            sure += (f"no factor is first in more than half of {n_boot:,} resamples; the rank intervals are wide and "
                     "overlap, so the ordering is uncertain.")
        lines.append(sure)
        if {"internal_mean", "external_mean"} <= set(comp.index):
            lines.append(
                f"Internal vs external composites: the internal mean takes {_pct(float(comp['share'].loc['internal_mean']))} of "
                f"R² (R² = {float(comp['r2_full'].iloc[0]):.2f}; about {float(comp['r2_null_expected'].iloc[0]):.2f} "
                "from chance alone)."
            )
        sig = mod[mod["p_holm"] < 0.05]
        best = mod.iloc[int(np.argmin(mod["p_value"].to_numpy(dtype=float)))]
        lines.append(
            "Moderation (exploratory): "
            + (
                "significant after Holm adjustment: " + ", ".join(_fac(str(x), lang) for x in sig["predictor"]) + "."
                if len(sig)
                else f"no factor is significant after Holm adjustment (smallest p = {format_p(best['p_value'])} for "
                f"{_fac(str(best['predictor']), lang)}, Holm {format_p(best['p_holm'])})."
            )
        )
    planted = _planted(d)
    if planted:
        ranks = dict(zip(t["predictor"].astype(str), t["rank"].astype(int), strict=True))
        k = len(planted)
        in_model = [f for f in planted if f in ranks]
        on_top = [f for f in in_model if ranks[f] <= k]
        items = ", ".join(
            f"{_fac(f, lang)} ({'อันดับ' if th else 'rank'} {ranks[f]})" if f in ranks
            else f"{_fac(f, lang)} (" + ("ไม่อยู่ในแบบจำลอง" if th else "not in the model") + ")"
            for f in planted
        )
        if th:
            verdict = (
                f"ปัจจัยที่กำหนดทั้ง {k} ด้านอยู่ใน {k} อันดับแรก" if len(on_top) == k
                else f"อยู่ใน {k} อันดับแรก {len(on_top)} จาก {k} ด้าน"
            )
            lines.append(
                f"> **ข้อมูลจำลอง**: ปัจจัยที่กำหนดให้ขยายผลของโครงการจริง (planted) คือ {items} จาก {p} ด้าน: {verdict} "
                "ผล DiD ของแต่ละหมู่บ้านมีความคลาดเคลื่อนจากการสุ่มตัวอย่างสูง (ประมาณ 30 ครัวเรือนต่อรอบ) "
                "ลำดับจึงอาจต่างจากค่าจริงได้"
            )
        else:
            verdict = (
                f"all {k} are in the top {k}" if len(on_top) == k else f"{len(on_top)} of {k} are in the top {k}"
            )
            lines.append(
                f"> **Demo data**: the factors planted as effect modifiers are {items} of {p}: {verdict}. Each "
                "village's DiD effect carries large sampling error (about 30 households per wave), so the estimated "
                "order can differ from the truth."
            )
    return "\n\n".join(lines) + "\n"
