"""The report's summary: results at a glance and a short non-technical summary with its caveats.

Built only from the **final** impact results (``impact_effects``: the plan's headline outcomes at the plan's
last follow-up wave, CR2 interval, wild-bootstrap and randomization-inference p-values, Romano–Wolf adjusted
p) and from the balance tables — never from the superseded preliminary table (``did_preliminary``). Numbers are
formatted by :mod:`welfare_eval.report.fmt`; labels come from :mod:`welfare_eval.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report import fmt
from welfare_eval.report.data import ReportData

__all__ = [
    "Headline",
    "demo_banner_markdown",
    "glance_display",
    "headline_results",
    "summary_markdown",
    "verdict",
]

Lang = Literal["th", "en"]
ALPHA = 0.05


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


@dataclass(frozen=True)
class Headline:
    """One headline outcome at the final wave, as the summary shows it (data scale, not formatted)."""

    outcome: str
    unit: str
    estimate: float
    ci_low: float
    ci_high: float
    p_cr2: float
    p_wild: float
    p_ri: float
    p_romano_wolf: float
    comparison_baseline: float
    n_obs: int
    n_clusters: int
    truth: float | None

    @property
    def kind(self) -> str:
        """``clear`` (every method and Romano–Wolf below 5%), ``suggestive`` (every method, not Romano–Wolf),
        ``mixed`` (the methods disagree) or ``none``."""
        ps = [p for p in (self.p_cr2, self.p_wild, self.p_ri) if np.isfinite(p)]
        n_sig = sum(p < ALPHA for p in ps)
        if ps and n_sig == len(ps):
            return "clear" if np.isfinite(self.p_romano_wolf) and self.p_romano_wolf < ALPHA else "suggestive"
        return "mixed" if n_sig else "none"

    @property
    def direction(self) -> str:
        return "up" if self.estimate > 0 else "down"

    @property
    def truth_inside(self) -> bool | None:
        """Whether the planted effect lies in the CR2 interval (``None`` without a planted truth)."""
        if self.truth is None or not (np.isfinite(self.ci_low) and np.isfinite(self.ci_high)):
            return None
        return bool(self.ci_low <= self.truth <= self.ci_high)


def final_wave(d: ReportData) -> str:
    """The plan's last follow-up wave (``endline`` in the packaged plan)."""
    waves = (d.plan.get("impact") or {}).get("waves") or ["endline"]
    return str(list(waves)[-1])


def headline_outcomes(d: ReportData) -> list[str]:
    """The plan's headline outcomes, in plan order (those the analysis estimated)."""
    e = d.result("impact_effects")
    plan = list((d.plan.get("impact") or {}).get("headline") or [])
    have = list(dict.fromkeys(e.loc[e["headline"].astype(bool), "outcome"].astype(str)))
    return [y for y in plan if y in have] or have


def headline_results(d: ReportData) -> list[Headline]:
    """The headline outcomes at the final wave from ``impact_effects`` (one :class:`Headline` each)."""
    from welfare_eval.report.impact_content import planted_effect

    e = d.result("impact_effects")
    wave = final_wave(d)
    e = e[e["wave"].astype(str) == wave]
    out = []
    for y in headline_outcomes(d):
        s = e[e["outcome"] == y].set_index("method")
        if "cr2" not in s.index:
            continue
        rows: dict[Any, dict[Any, Any]] = s.to_dict("index")
        r: dict[Any, Any] = rows["cr2"]

        def pv(m: str, col: str = "p_value", rows: dict[Any, dict[Any, Any]] = rows) -> float:
            v = rows.get(m, {}).get(col)
            return float(v) if v is not None and not fmt.is_missing(v) else float("nan")

        out.append(Headline(
            outcome=y,
            unit=fmt.unit_of(y, str(r["scale"])),
            estimate=float(r["estimate"]),
            ci_low=float(r["ci_low"]),
            ci_high=float(r["ci_high"]),
            p_cr2=float(r["p_value"]),
            p_wild=pv("wild"),
            p_ri=pv("ri"),
            p_romano_wolf=pv("wild", "p_romano_wolf"),
            comparison_baseline=float(r["mean_comparison_baseline"]),
            n_obs=int(r["n_obs"]),
            n_clusters=int(r["n_clusters"]),
            truth=planted_effect(d, y, wave),
        ))
    return out


def verdict(h: Headline, lang: Lang = "th") -> str:
    """The plain-language verdict of a headline result."""
    key = f"verdict.{h.kind}" + (f".{h.direction}" if h.kind in ("clear", "suggestive") else "")
    return _lab(key, lang)


def _outcome_name(y: str, lang: Lang) -> str:
    from welfare_eval.report.impact_content import outcome_label

    return outcome_label(y, lang)


def glance_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Results at a glance: each headline outcome at the final wave — comparison mean at baseline, effect with
    its CR2 95% interval, wild-bootstrap and randomization p, Romano–Wolf adjusted p, the verdict, and (demo)
    the planted truth."""
    rows = []
    for h in headline_results(d):
        unit_word = fmt.unit_word(h.unit, change=True, lang=lang)
        name = _outcome_name(h.outcome, lang)
        row: dict[str, Any] = {
            _lab("outcome", lang): name + (f" ({unit_word})" if h.unit in ("share", "percent") else ""),
            _lab("impact.comparison_mean", lang): fmt.number(h.comparison_baseline, h.unit)
            + ("%" if h.unit == "share" else ""),
            _lab("summary.effect_ci", lang): f"{fmt.number(h.estimate, h.unit, signed=True)} "
            f"{fmt.interval(h.ci_low, h.ci_high, h.unit)}",
            _lab("impact.p_wild", lang): fmt.p_value(h.p_wild),
            _lab("impact.p_ri", lang): fmt.p_value(h.p_ri),
            _lab("impact.p_romano_wolf", lang): fmt.p_value(h.p_romano_wolf),
            _lab("summary.verdict", lang): verdict(h, lang),
        }
        if d.truth is not None:
            row[_lab("planted_truth", lang)] = fmt.number(h.truth, h.unit, signed=True) if h.truth is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def _effect_phrase(h: Headline, lang: Lang) -> str:
    """"0.25 points (95% CI 0.12 to 0.38)" in words, on the display scale."""
    suffix = fmt.unit_suffix(h.unit, change=True, lang=lang)
    est = fmt.number(abs(h.estimate), h.unit) + suffix
    lo, hi = fmt.number(h.ci_low, h.unit), fmt.number(h.ci_high, h.unit)
    if lang == "th":
        return f"{est} (ช่วงความเชื่อมั่น 95% {lo} ถึง {hi})"
    return f"{est} (95% confidence interval {lo} to {hi})"


def _names(hs: list[Headline], lang: Lang) -> str:
    names = [_outcome_name(h.outcome, lang) for h in hs]
    if lang == "en":
        names = [f"“{n}”" for n in names]
    if len(names) <= 1:
        return "".join(names)
    if lang == "th":
        return " ".join(names[:-1]) + " และ" + names[-1]
    return ", ".join(names[:-1]) + " and " + names[-1]


def demo_banner_markdown(d: ReportData, lang: Lang = "th") -> str:
    """A banner saying that the report is built from simulated data (empty for real data)."""
    if not d.is_demo:
        return ""
    return f'::: {{.demo-banner role="note"}}\n{_lab("report.demo_banner", lang)}\n:::\n'


def summary_markdown(d: ReportData, lang: Lang = "th") -> str:
    """The non-technical summary under the results-at-a-glance table: what was done, what was found, the caveats
    (multiple testing, balance, few pairs, simulated data) and the conclusion — from the final results only."""
    from welfare_eval.report.content import balance_summary, dropped_pairs_phrase

    hs = headline_results(d)
    wave = final_wave(d)
    n_pairs = int(d.result("design").shape[0])
    n_int = int(d.result("sample_sizes")["n_interviewed"].sum())
    bal = balance_summary(d)
    clear = [h for h in hs if h.kind == "clear"]
    sugg = [h for h in hs if h.kind == "suggestive"]
    mixed = [h for h in hs if h.kind == "mixed"]
    none = [h for h in hs if h.kind == "none"]
    n_rw = sum(np.isfinite(h.p_romano_wolf) and h.p_romano_wolf < ALPHA for h in hs)
    th = lang == "th"
    wave_lab = _lab(f"wave.{wave}", lang)
    out: list[str] = []
    if th:
        out.append(
            f"การศึกษานี้เปรียบเทียบหมู่บ้านนำร่อง {n_pairs} หมู่บ้าน (เขตตรวจราชการละ 1 หมู่บ้าน) กับหมู่บ้านเปรียบเทียบ "
            f"{n_pairs} หมู่บ้านที่จับคู่ไว้ในเขตตรวจราชการเดียวกัน และสำรวจครัวเรือน 3 รอบ (ก่อน ระหว่าง และหลังดำเนินโครงการ; "
            f"สัมภาษณ์ได้รวม {fmt.count(n_int)} ครั้ง) ผลของโครงการคือการเปลี่ยนแปลงในหมู่บ้านนำร่องที่มากกว่าการเปลี่ยนแปลงในหมู่บ้านคู่ของตน "
            f"@tbl-glance สรุปผลต่อตัวชี้วัดหลัก {len(hs)} ตัว ณ รอบ{wave_lab}"
        )
        found = []
        for h in clear + sugg:
            verb = "เพิ่มขึ้น" if h.direction == "up" else "ลดลง"
            found.append(f"**{_outcome_name(h.outcome, lang)}** ในหมู่บ้านนำร่อง{verb}มากกว่าหมู่บ้านเปรียบเทียบ "
                         f"{_effect_phrase(h, lang)}")
        if found:
            out.append("สิ่งที่พบ: " + "; ".join(found) + ".")
        if mixed or none:
            out.append(f"ยังไม่พบผลที่ชัดเจนต่อ{_names(mixed + none, lang)} (ช่วงความเชื่อมั่นครอบคลุมศูนย์ หรือวิธีอนุมานให้ผลไม่ตรงกัน)")
        caveats = [
            f"**การทดสอบหลายตัวชี้วัด**: การดูตัวชี้วัดหลายตัวพร้อมกันเพิ่มโอกาสพบผลโดยบังเอิญ เมื่อปรับค่า p แบบ Romano–Wolf "
            f"ตัวชี้วัดหลัก {n_rw} จาก {len(hs)} ตัวยังมีนัยสำคัญที่ระดับ 5%"
            + (f" ({_names([h for h in hs if h.kind == 'clear'], lang)})" if clear else ""),
            f"**ความสมดุลยังไม่ดี**: หมู่บ้านนำร่องไม่ได้ถูกเลือกแบบสุ่ม หลังจับคู่แล้วค่าเฉลี่ยของ |SMD| ของตัวแปรที่ใช้จับคู่ยังเท่ากับ "
            f"{fmt.number(bal['smd_after'], 'ratio')} (เกณฑ์ที่ยอมรับกันทั่วไปคือไม่เกิน 0.1; ก่อนจับคู่ {fmt.number(bal['smd_before'], 'ratio')}) "
            f"และการทดสอบแบบสลับป้ายภายในคู่ให้ p = {fmt.p_value(bal['p_perm'])} ผลข้างต้นจึงเชื่อถือได้เมื่อแนวโน้มของสองกลุ่มจะขนานกัน"
            "หากไม่มีโครงการ (ข้อสมมติแนวโน้มคู่ขนาน) ซึ่งพิสูจน์ไม่ได้โดยตรง",
            f"**ขนาดการศึกษาเล็ก**: มีเพียง {n_pairs} คู่ ช่วงความเชื่อมั่นจึงกว้าง ผลขนาดเล็กถึงปานกลางอาจตรวจไม่พบ",
        ]
        if not d.dropped_pairs.empty:
            k = len(d.dropped_pairs)
            caveats.append(
                f"**คู่ที่ถูกตัดออก**: ตัด{dropped_pairs_phrase(d, lang)} ออกก่อนการวิเคราะห์ ผลข้างต้นจึงมาจาก {n_pairs} "
                f"คู่จาก {n_pairs + k} คู่ที่วางแผนไว้ และใช้ได้กับคู่ที่เหลือเท่านั้น หากเหตุที่ตัดเกี่ยวข้องกับผลของโครงการ "
                "ผลอาจเอนเอียง (@sec-design)"
            )
        if d.is_demo:
            inside = [h for h in hs if h.truth_inside]
            known = [h for h in hs if h.truth_inside is not None]
            caveats.append(
                "**ข้อมูลจำลอง**: ตัวเลขทั้งหมดมาจากข้อมูลจำลองที่กำหนดผลจริงไว้ล่วงหน้าเพื่อทดสอบระบบวิเคราะห์ ไม่ใช่ผลการประเมินจริง "
                f"ผลจริงที่กำหนดไว้อยู่ในช่วงความเชื่อมั่น 95% ของ {len(inside)} จาก {len(known)} ตัวชี้วัดหลัก"
            )
        out.append("ข้อควรระวัง:\n\n" + "\n".join(f"- {c}" for c in caveats))
        if clear:
            concl = (f"**ข้อสรุป**: หลักฐานชี้ว่าโครงการ{('ช่วยเพิ่ม' if all(h.direction == 'up' for h in clear) else 'เปลี่ยน')}"
                     f"{_names(clear, lang)}อย่างชัดเจน")
            if sugg:
                concl += f" และอาจ{'เพิ่ม' if all(h.direction == 'up' for h in sugg) else 'เปลี่ยน'}{_names(sugg, lang)} (ยังไม่ชัดเจนเมื่อปรับการทดสอบหลายตัวชี้วัด)"
            if mixed or none:
                concl += f" ส่วนผลต่อ{_names(mixed + none, lang)}ยังสรุปไม่ได้"
        elif sugg:
            concl = (f"**ข้อสรุป**: มีสัญญาณว่าโครงการช่วย{_names(sugg, lang)} แต่ไม่มีผลใดชัดเจนพอเมื่อปรับการทดสอบหลายตัวชี้วัด "
                     "จึงยังไม่ควรสรุปว่าโครงการได้ผล")
        else:
            concl = "**ข้อสรุป**: ยังไม่มีหลักฐานที่ชัดเจนว่าโครงการเปลี่ยนตัวชี้วัดหลัก"
        concl += " เนื่องจากการคัดเลือกไม่ได้สุ่มและความสมดุลยังไม่ดี ควรถือผลนี้เป็นหลักฐานเบื้องต้น และยืนยันอีกครั้งเมื่อขยายผลโครงการ"
        out.append(concl)
    else:
        out.append(
            f"The study compares {n_pairs} pilot villages (one per inspection region) with {n_pairs} comparison villages "
            f"matched within the same regions, and surveyed households three times (before, during and after the pilot; "
            f"{fmt.count(n_int)} interviews in all). The effect of the pilot is how much more the pilot villages changed than "
            f"their matched comparison villages. @tbl-glance summarises the {len(hs)} headline outcomes at "
            f"{wave_lab.split(' (')[0].lower()}."
        )
        found = []
        for h in clear + sugg:
            verb = "increased" if h.direction == "up" else "decreased"
            found.append(f"**{_outcome_name(h.outcome, lang)}** {verb} by {_effect_phrase(h, lang)} more in pilot villages "
                         "than in comparison villages")
        if found:
            out.append("What we found: " + "; ".join(found) + ".")
        if mixed or none:
            out.append(f"No clear effect on {_names(mixed + none, lang)} (the interval includes zero or the inference methods "
                       "disagree).")
        caveats = [
            f"**Multiple testing**: looking at several outcomes at once raises the chance of a finding by luck; after the "
            f"Romano–Wolf adjustment {n_rw} of the {len(hs)} headline outcomes remain significant at 5%"
            + (f" ({_names(clear, lang)})." if clear else "."),
            f"**Balance remains poor**: the pilots were not chosen at random; after matching, the mean |SMD| of the matching "
            f"covariates is still {fmt.number(bal['smd_after'], 'ratio')} (a common threshold is 0.1; before matching "
            f"{fmt.number(bal['smd_before'], 'ratio')}) and the within-pair permutation test gives p = {fmt.p_value(bal['p_perm'])}. "
            "The estimates hold only if both groups would have followed parallel trends without the pilot, which cannot be "
            "proven directly.",
            f"**A small study**: with only {n_pairs} pairs the intervals are wide; small to moderate effects may go undetected.",
        ]
        if not d.dropped_pairs.empty:
            k = len(d.dropped_pairs)
            caveats.append(
                f"**{'A pair' if k == 1 else 'Pairs'} left out**: {dropped_pairs_phrase(d, lang)} "
                f"{'was' if k == 1 else 'were'} left out before the analysis, so the results rest on {n_pairs} of the "
                f"{n_pairs + k} planned pairs and speak for those pairs only; if the reason is related to the pilot's "
                "effect, they may be biased (@sec-design)."
            )
        if d.is_demo:
            inside = [h for h in hs if h.truth_inside]
            known = [h for h in hs if h.truth_inside is not None]
            caveats.append(
                "**Simulated data**: every number comes from simulated data with planted effects, made to test the analysis; "
                f"these are not evaluation results. The planted effect lies in the 95% interval for {len(inside)} of "
                f"{len(known)} headline outcomes."
            )
        out.append("Caveats:\n\n" + "\n".join(f"- {c}" for c in caveats))
        if clear:
            concl = f"**Conclusion**: the evidence indicates that the pilot clearly changed {_names(clear, lang)}"
            if sugg:
                concl += f", and possibly {_names(sugg, lang)} (not robust to the multiple-testing adjustment)"
            if mixed or none:
                concl += f"; its effect on {_names(mixed + none, lang)} is not established"
            concl += "."
        elif sugg:
            concl = (f"**Conclusion**: there are signs that the pilot improved {_names(sugg, lang)}, but none survives the "
                     "multiple-testing adjustment, so the pilot's effect is not established.")
        else:
            concl = "**Conclusion**: there is no clear evidence that the pilot changed the headline outcomes."
        concl += (" Because the pilots were not randomly chosen and balance is poor, treat these results as preliminary "
                  "evidence to be confirmed when the programme is expanded.")
        out.append(concl)
    return "\n\n".join(out) + "\n"
