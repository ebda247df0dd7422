"""Report content of the impact analysis (``impact_*`` results of :func:`welfare_eval.study.impact.analyze_impact`).

Display tables, figures and plain-language paragraphs; no statistics here. Outcomes measured as 0/1
proportions are shown in percentage points (estimate × 100), as the planted truth's ``effect`` column.
Thai first: every function takes ``lang`` = ``"th"`` (default) or ``"en"``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval.report.data import ReportData
from welfare_eval.report.tables import format_number, format_p

__all__ = [
    "coefficient_plot",
    "dr_display",
    "effects_display",
    "event_plot",
    "event_tests_display",
    "impact_paragraphs_markdown",
    "influence_plot",
    "multiple_testing_display",
    "outcome_label",
    "sensitivity_display",
    "sensitivity_plot",
]

Lang = Literal["th", "en"]
METHODS = ("cr1", "cr2", "wild", "ri")
_COLORS = {"cr1": "#7f7f7f", "cr2": "#1f4e79", "wild": "#2e8b57", "ri": "#d35400"}
_TRUTH = "#c0392b"


def _lab(key: str, lang: Lang) -> str:
    return ref.label(key, lang, default=key)


def outcome_label(outcome: str, lang: Lang = "th") -> str:
    """Display name of an outcome column; ``received_<code>`` → "Received welfare: <type>"."""
    if outcome.startswith("received_"):
        code = outcome[len("received_"):]
        return f"{_lab('outcome.received', lang)}: {ref.label(f'welfare.{code}', lang, default=code)}"
    return ref.label(f"outcome.{outcome}", lang, default=outcome)


def _effects(d: ReportData) -> pd.DataFrame:
    if "impact_effects" not in d.results:
        raise ValueError("results have no impact_effects table; run `welfare-eval analyze` with the impact analysis")
    return d.results["impact_effects"]


def _factor(scale: str) -> float:
    return 100.0 if scale == "proportion" else 1.0


def _decimals(outcome: str, scale: str, value: float | None = None) -> int:
    if scale == "proportion":
        return 1
    if outcome in ("welfare_amount", "savings", "debt", "welfare_payout_per_member"):
        return 0
    return 2 if value is None or abs(value) >= 0.1 else 3


def _unit(outcome: str, scale: str, lang: Lang) -> str:
    if scale == "proportion":
        return _lab("impact.unit_pp", lang)
    if outcome in ("welfare_amount", "savings", "debt"):
        return "บาท" if lang == "th" else "baht"
    return ""


def _num(x: float, outcome: str, scale: str) -> str:
    v = float(x) * _factor(scale)
    return format_number(v, _decimals(outcome, scale, v), na="—")


def _ci(lo: float, hi: float, outcome: str, scale: str) -> str:
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return "—"
    return f"[{_num(lo, outcome, scale)}, {_num(hi, outcome, scale)}]"


def _truth_table(d: ReportData) -> pd.DataFrame | None:
    if not d.truth or not d.truth.get("effects"):
        return None
    t = pd.DataFrame(d.truth["effects"])
    return t if {"outcome", "wave"} <= set(t.columns) else None


def planted_effect(d: ReportData, outcome: str, wave: str) -> float | None:
    """The demo's planted effect on the data scale (None for real data or an outcome without truth)."""
    t = _truth_table(d)
    if t is None:
        return None
    hit = t[(t["outcome"] == outcome) & (t["wave"] == wave)]
    if hit.empty:
        return None
    col = "effect_data_scale" if "effect_data_scale" in hit else "effect"
    return float(hit[col].iloc[0])


def _wide(d: ReportData) -> pd.DataFrame:
    """One row per outcome × wave with the columns of each method side by side."""
    e = _effects(d)
    keys = ["outcome", "family", "wave"]
    base = e[e["method"] == "cr2"].set_index(keys)
    out = base[["estimate", "std_error", "df", "ci_low", "ci_high", "p_value", "scale", "n_obs",
                "mean_comparison_baseline", "headline", "p_holm", "p_bh"]].copy()
    for m in ("cr1", "wild", "ri", "ri_t"):
        s = e[e["method"] == m].set_index(keys)
        for c in ("ci_low", "ci_high", "p_value", "p_holm", "p_bh", "p_romano_wolf", "draws"):
            out[f"{c}_{m}"] = s[c].reindex(out.index)
    return out.reset_index()


def effects_display(d: ReportData, lang: Lang = "th", *, wave: str | None = None,
                    family: str | None = None) -> pd.DataFrame:
    """Outcome × wave: estimate, CR2 CI, wild and RI p-values, Romano–Wolf adjusted p (and the planted truth).

    With ``wave`` given the table is for that wave only and has no wave column.
    """
    w = _wide(d)
    if wave is not None:
        w = w[w["wave"] == wave]
    if family is not None:
        w = w[w["family"] == family]
    rows = []
    for _, r in w.iterrows():
        y, sc = str(r["outcome"]), str(r["scale"])
        unit = _unit(y, sc, lang)
        row: dict[str, Any] = {
            _lab("outcome", lang): outcome_label(y, lang) + (f" ({unit})" if sc == "proportion" else ""),
            **({} if wave is not None else {_lab("wave", lang): _lab(f"wave.{r['wave']}", lang)}),
            _lab("impact.comparison_mean", lang): _num(r["mean_comparison_baseline"], y, sc),
            _lab("estimate", lang): _num(r["estimate"], y, sc),
            _lab("impact.ci_cr2", lang): _ci(r["ci_low"], r["ci_high"], y, sc),
            _lab("impact.p_wild", lang): format_p(r["p_value_wild"], na="—"),
            _lab("impact.p_ri", lang): format_p(r["p_value_ri"], na="—"),
            _lab("impact.p_romano_wolf", lang): format_p(r["p_romano_wolf_wild"], na="—"),
        }
        if d.truth is not None:
            tv = planted_effect(d, y, str(r["wave"]))
            row[_lab("planted_truth", lang)] = _num(tv, y, sc) if tv is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def multiple_testing_display(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> pd.DataFrame:
    """Unadjusted and Holm / BH / Romano–Wolf adjusted p-values (wild bootstrap) by family, one wave."""
    w = _wide(d)
    w = w[w["wave"] == wave]
    rows = []
    for _, r in w.iterrows():
        rows.append({
            _lab("impact.family", lang): _lab(f"impact.family.{r['family']}", lang),
            _lab("outcome", lang): outcome_label(str(r["outcome"]), lang),
            _lab("impact.p_wild", lang): format_p(r["p_value_wild"], na="—"),
            _lab("impact.p_holm", lang): format_p(r["p_holm_wild"], na="—"),
            _lab("impact.p_bh", lang): format_p(r["p_bh_wild"], na="—"),
            _lab("impact.p_romano_wolf", lang): format_p(r["p_romano_wolf_wild"], na="—"),
            f"{_lab('impact.p_romano_wolf', lang)} (RI-t)": format_p(r["p_romano_wolf_ri_t"], na="—"),
            _lab("impact.draws", lang): format_number(r["draws_wild"], 0, na="—"),
        })
    return pd.DataFrame(rows)


def coefficient_plot(d: ReportData, lang: Lang = "th", *, wave: str = "endline",
                     outcomes: list[str] | None = None) -> Any:
    """Estimate with each method's 95% CI (CR1, CR2, wild, RI), one panel per outcome; planted truth in red."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    e = _effects(d)
    e = e[(e["wave"] == wave) & e["method"].isin(METHODS)]
    if outcomes is None:
        outcomes = list(dict.fromkeys(e.loc[e["headline"], "outcome"])) or list(dict.fromkeys(e["outcome"]))[:6]
    ncol = min(3, len(outcomes))
    nrow = math.ceil(len(outcomes) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.5 * nrow), squeeze=False)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    for ax, y in zip(axes.flat, outcomes, strict=False):
        s = e[e["outcome"] == y].set_index("method").reindex(list(METHODS)).dropna(subset=["estimate"])
        sc = str(s["scale"].iloc[0])
        f = _factor(sc)
        pos = np.arange(len(s))[::-1]
        for p, (m, r) in zip(pos, s.iterrows(), strict=True):
            lo, hi = float(r["ci_low"]) * f, float(r["ci_high"]) * f
            est = float(r["estimate"]) * f
            if np.isfinite(lo) and np.isfinite(hi):
                ax.plot([lo, hi], [p, p], color=_COLORS[str(m)], lw=2)
            ax.plot([est], [p], "o", color=_COLORS[str(m)])
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        tv = planted_effect(d, y, wave)
        if tv is not None:
            ax.axvline(tv * f, color=_TRUTH, lw=1.2, label=_lab("planted_truth", lang))
            ax.legend(fontsize=7, loc="lower right", frameon=False)
        ax.set_yticks(pos, [str(m).upper() for m in s.index])
        unit = _unit(y, sc, lang)
        ax.set_title(outcome_label(y, lang), fontsize=9)
        if unit:
            ax.set_xlabel(unit, fontsize=8)
    fig.tight_layout()
    return fig


def influence_plot(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> Any:
    """Leave-one-pair-out estimates of the headline outcomes (dots) against the all-pairs estimate (line)."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    inf = d.results["impact_influence"]
    inf = inf[inf["wave"] == wave]
    scale = _effects(d).drop_duplicates("outcome").set_index("outcome")["scale"]
    outcomes = list(dict.fromkeys(inf["outcome"]))
    ncol = min(3, max(1, len(outcomes)))
    nrow = max(1, math.ceil(len(outcomes) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.6 * nrow), squeeze=False)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    for ax, y in zip(axes.flat, outcomes, strict=False):
        s = inf[inf["outcome"] == y].sort_values("pair_id")
        f = _factor(str(scale.get(y, "level")))
        ax.plot(s["pair_id"], s["estimate_without"] * f, "o", color="#1f4e79", ms=4,
                label=_lab("impact.without_pair", lang))
        ax.axhline(float(s["estimate"].iloc[0]) * f, color="#1f4e79", lw=1, label=_lab("impact.full_sample", lang))
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        tv = planted_effect(d, y, wave)
        if tv is not None:
            ax.axhline(tv * f, color=_TRUTH, lw=1.2, label=_lab("planted_truth", lang))
        ax.set_title(outcome_label(y, lang), fontsize=9)
        ax.set_xlabel(_lab("pair_id", lang), fontsize=8)
        ax.set_xticks(sorted(s["pair_id"].unique())[::3])
    if outcomes:
        axes.flat[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def dr_display(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> pd.DataFrame:
    """Matched-pair DiD (CR2) next to doubly robust DiD without and with the matching covariates (CR1)."""
    dr = d.results["impact_dr"]
    dr = dr[(dr["wave"] == wave) & (dr["method"] == "cr1")]
    w = _wide(d)
    w = w[w["wave"] == wave].set_index("outcome")
    rows = []
    for y in dict.fromkeys(dr["outcome"]):
        sc = str(w.loc[y, "scale"]) if y in w.index else "level"
        row: dict[str, Any] = {_lab("outcome", lang): outcome_label(str(y), lang)}
        if y in w.index:
            r = w.loc[y]
            row[_lab("impact.matched_pair", lang)] = (f"{_num(r['estimate'], y, sc)} "
                                                       f"{_ci(r['ci_low'], r['ci_high'], y, sc)}")
        for cov in ("none", "match"):
            s = dr[(dr["outcome"] == y) & (dr["covariates"] == cov)]
            if s.empty:
                continue
            r2 = s.iloc[0]
            row[f"{_lab('impact.dr', lang)}: {_lab('impact.dr.' + cov, lang)}"] = (
                f"{_num(r2['estimate'], y, sc)} {_ci(r2['ci_low'], r2['ci_high'], y, sc)}")
            if cov == "match" and "ess_comparison" in r2:
                row[_lab("impact.ess_comparison", lang)] = format_number(r2["ess_comparison"], 1)
        if d.truth is not None:
            tv = planted_effect(d, str(y), wave)
            row[_lab("planted_truth", lang)] = _num(tv, str(y), sc) if tv is not None else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def _event_truth(d: ReportData, outcome: str) -> pd.DataFrame | None:
    if not d.truth or not d.truth.get("event_time_effects"):
        return None
    t = pd.DataFrame(d.truth["event_time_effects"])
    t = t[t["outcome"] == outcome]
    return None if t.empty else t


def event_plot(d: ReportData, lang: Lang = "th") -> Any:
    """Event-study coefficients with pointwise CR2 95% CIs and the simultaneous sup-t band, per outcome."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    ev = d.results["impact_event"]
    outcomes = list(dict.fromkeys(ev["outcome"]))
    fig, axes = plt.subplots(1, max(1, len(outcomes)), figsize=(5.2 * max(1, len(outcomes)), 3.6), squeeze=False)
    for ax, y in zip(axes[0], outcomes, strict=False):
        s = ev[ev["outcome"] == y]
        pt = s[s["method"] == "cr2"].sort_values("rel_time")
        band = s[s["method"] == "sup_t"].sort_values("rel_time")
        ax.fill_between(band["rel_time"], band["ci_low"], band["ci_high"], color="#1f4e79", alpha=0.15,
                        label=_lab("method.sup_t", lang))
        ax.errorbar(pt["rel_time"], pt["estimate"], yerr=[pt["estimate"] - pt["ci_low"], pt["ci_high"] - pt["estimate"]],
                    fmt="o", color="#1f4e79", capsize=3, label=_lab("impact.pointwise", lang))
        ax.plot([-1], [0.0], marker="o", mfc="white", color="grey")
        ax.axhline(0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
        tt = _event_truth(d, str(y))
        if tt is not None:
            tt = tt[tt["event_time"].between(pt["rel_time"].min(), pt["rel_time"].max())]
            ax.plot(tt["event_time"], tt["effect"], "x", color=_TRUTH, ms=7, label=_lab("planted_truth", lang))
        ax.set_title(outcome_label(str(y), lang), fontsize=10)
        ax.set_xlabel(_lab("impact.rel_time", lang))
        ax.legend(fontsize=7, frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


def event_tests_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """Joint pre-trend tests, the sup-t critical value and the slope the pre-test detects (Roth 2022)."""
    t = d.results["impact_event_tests"]
    rows = []
    for _, r in t.iterrows():
        test = str(r["test"])
        if test == "pretrend_power" and str(r["term"]) != "k=0":
            continue  # one row per power: the slope and the bias it implies in the first post year
        if test.startswith("pretrend_") and test != "pretrend_power":
            val = (f"F({format_number(r['df_num'], 0)}, {format_number(r['df_denom'], 1)}) = "
                   f"{format_number(r['statistic'], 2)}, p = {format_p(r['p_value'])}")
        elif test == "sup_t_critical":
            val = format_number(r["value"], 3)
        else:
            val = (f"{_lab('impact.power', lang)} {format_number(100 * r['power'], 0)}%: "
                   f"{format_number(r['slope'], 3)}")
        rows.append({_lab("outcome", lang): outcome_label(str(r["outcome"]), lang),
                     _lab("impact.test", lang): _lab(f"impact.test.{test}", lang),
                     _lab("impact.statistic", lang): val})
    return pd.DataFrame(rows)


def sensitivity_display(d: ReportData, lang: Lang = "th") -> pd.DataFrame:
    """FLCI under smoothness (grid of M) and relative-magnitudes intervals (grid of M̄), with breakdown values."""
    s = d.results["impact_sensitivity"]
    rows = []
    for _, r in s.iterrows():
        smooth = r["restriction"] == "smoothness"
        bound = (f"M = {format_number(r['bound'], 3)} ({format_number(r['bound_rel_se'], 2)} SE)" if smooth
                 else f"M̄ = {format_number(r['bound'], 2)}")
        rows.append({
            _lab("outcome", lang): outcome_label(str(r["outcome"]), lang),
            _lab("impact.term", lang): str(r["term"]),
            _lab("impact.restriction", lang): _lab(f"impact.restriction.{r['restriction']}", lang),
            _lab("impact.bound", lang): bound,
            _lab("ci", lang): f"[{format_number(r['ci_low'], 2)}, {format_number(r['ci_high'], 2)}]",
            _lab("impact.includes_zero", lang): ("ใช่" if lang == "th" else "yes") if bool(r["includes_zero"])
            else ("ไม่" if lang == "th" else "no"),
            _lab("impact.breakdown", lang): format_number(r["breakdown"], 3, na="—"),
        })
    return pd.DataFrame(rows)


def sensitivity_plot(d: ReportData, lang: Lang = "th") -> Any:
    """CIs of the first post-year effect as the allowed violation of parallel trends grows."""
    import matplotlib.pyplot as plt

    from welfare_eval.report.figures import use_thai_font

    use_thai_font()
    s = d.results["impact_sensitivity"]
    s = s[s["term"] == "k=0"]
    outcomes = list(dict.fromkeys(s["outcome"]))
    fig, axes = plt.subplots(1, max(1, len(outcomes)), figsize=(5.0 * max(1, len(outcomes)), 3.4), squeeze=False)
    for ax, y in zip(axes[0], outcomes, strict=False):
        ticks: list[float] = []
        ticklabels: list[str] = []
        for restr, color in (("smoothness", "#1f4e79"), ("relative_magnitudes", "#d35400")):
            g = s[(s["outcome"] == y) & (s["restriction"] == restr)].reset_index(drop=True)
            x = np.arange(len(g)) + (0.0 if restr == "smoothness" else len(g) + 1)
            ax.errorbar(x, (g["ci_low"] + g["ci_high"]) / 2, yerr=(g["ci_high"] - g["ci_low"]) / 2, fmt="none",
                        color=color, capsize=3, lw=2, label=_lab(f"impact.restriction.{restr}", lang))
            ticks += list(x)
            ticklabels += ([f"M={v:g}SE" for v in g["bound_rel_se"]] if restr == "smoothness"
                           else [f"M̄={v:g}" for v in g["bound"]])
        ax.set_xticks(ticks, ticklabels, fontsize=7, rotation=45)
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        tt = _event_truth(d, str(y))
        if tt is not None:
            hit = tt[tt["event_time"] == 0]
            if not hit.empty:
                ax.axhline(float(hit["effect"].iloc[0]), color=_TRUTH, lw=1.2, label=_lab("planted_truth", lang))
        ax.set_title(f"{outcome_label(str(y), lang)} (k = 0)", fontsize=10)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def _p_eq(p: Any) -> str:
    txt = format_p(p, na="—")
    return f"p {txt}" if txt.startswith("<") else f"p = {txt}"


def impact_paragraphs_markdown(d: ReportData, lang: Lang = "th", *, wave: str = "endline") -> str:
    """A plain-language paragraph per headline outcome: the change, how sure, whether the methods agree,
    and (demo) whether the planted effect lies in the interval."""
    w = _wide(d)
    w = w[(w["wave"] == wave) & w["headline"]]
    paras = []
    for _, r in w.iterrows():
        y, sc = str(r["outcome"]), str(r["scale"])
        unit = _unit(y, sc, lang)
        u = f" {unit}" if unit else ""
        est = _num(abs(float(r["estimate"])), y, sc)
        ci = _ci(r["ci_low"], r["ci_high"], y, sc)
        ps = {m: float(r["p_value"]) if m == "cr2" else float(r[f"p_value_{m}"]) for m in METHODS}
        ps = {m: p for m, p in ps.items() if np.isfinite(p)}
        n_sig = sum(p < 0.05 for p in ps.values())
        p_rw = float(r["p_romano_wolf_wild"])
        up = float(r["estimate"]) > 0
        name = outcome_label(y, lang)
        tv = planted_effect(d, y, wave)
        lo_w, hi_w = float(r["ci_low_wild"]), float(r["ci_high_wild"])
        if lang == "th":
            direction = "เพิ่มขึ้นมากกว่า" if up else "เพิ่มขึ้นน้อยกว่า (หรือลดลงมากกว่า)"
            txt = (f"**{name}**: ระหว่าง{_lab('wave.baseline', lang)}และ{_lab(f'wave.{wave}', lang)} "
                   f"ครัวเรือนในหมู่บ้านนำร่อง{direction}หมู่บ้านเปรียบเทียบ {est}{u} "
                   f"(ช่วงความเชื่อมั่น 95% แบบ CR2 {ci}; wild bootstrap {_p_eq(ps.get('wild'))}; "
                   f"randomization inference {_p_eq(ps.get('ri'))}). ")
            if n_sig == len(ps):
                txt += "ทุกวิธีอนุมานให้ผลตรงกันว่าแตกต่างจากศูนย์อย่างมีนัยสำคัญที่ระดับ 5%"
                txt += (" และยังคงมีนัยสำคัญหลังปรับการทดสอบหลายตัวชี้วัด (Romano–Wolf " + _p_eq(p_rw) + ") "
                        if p_rw < 0.05 else
                        " แต่เมื่อปรับการทดสอบหลายตัวชี้วัด (Romano–Wolf " + _p_eq(p_rw) + ") ไม่มีนัยสำคัญ ")
            elif n_sig == 0:
                txt += "ไม่มีวิธีอนุมานใดที่พบความแตกต่างจากศูนย์อย่างมีนัยสำคัญที่ระดับ 5% จึงยังสรุปไม่ได้ว่ามีผล "
            else:
                txt += (f"วิธีอนุมานให้ผลไม่ตรงกัน ({n_sig} จาก {len(ps)} วิธีมีนัยสำคัญที่ระดับ 5%) "
                        "จึงควรตีความอย่างระมัดระวัง ")
            if tv is not None and np.isfinite(lo_w):
                inside = lo_w <= tv <= hi_w
                txt += (f"ผลจริงที่กำหนดในข้อมูลจำลองคือ {_num(tv, y, sc)}{u} "
                        + ("ซึ่งอยู่ในช่วงความเชื่อมั่นแบบ wild bootstrap" if inside
                           else "ซึ่งอยู่นอกช่วงความเชื่อมั่นแบบ wild bootstrap"))
        else:
            direction = "more" if up else "less"
            txt = (f"**{name}**: between {_lab('wave.baseline', lang).lower()} and {_lab(f'wave.{wave}', lang).lower()}, "
                   f"pilot households changed by {est}{u} {direction} than comparison households "
                   f"(95% CR2 CI {ci}; wild bootstrap {_p_eq(ps.get('wild'))}; randomization inference "
                   f"{_p_eq(ps.get('ri'))}). ")
            if n_sig == len(ps):
                txt += "All inference methods agree that the effect differs from zero at the 5% level"
                txt += (f" and it survives the multiple-testing adjustment (Romano–Wolf {_p_eq(p_rw)}). " if p_rw < 0.05
                        else f", but not after the multiple-testing adjustment (Romano–Wolf {_p_eq(p_rw)}). ")
            elif n_sig == 0:
                txt += "No inference method finds a difference from zero at the 5% level; the effect is not established. "
            else:
                txt += f"The methods disagree ({n_sig} of {len(ps)} significant at 5%); interpret with care. "
            if tv is not None and np.isfinite(lo_w):
                inside = lo_w <= tv <= hi_w
                txt += (f"The planted effect is {_num(tv, y, sc)}{u}, "
                        + ("inside the wild bootstrap CI." if inside else "outside the wild bootstrap CI."))
        paras.append(txt.strip())
    return "\n\n".join(paras) + "\n"
