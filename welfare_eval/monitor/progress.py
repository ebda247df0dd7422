"""The progress report for the Ministry: status per region and village against the milestones.

:func:`build_progress_report` reads the monitoring store **only** (nothing else), as of the report's
cut-off date (by default the end of the quarter + 45 days), and returns a :class:`ProgressReport`
with the tables and a self-contained Thai HTML page (inline CSS, the Sarabun font and the figures
embedded, no external request) and an XLSX workbook. The same store and arguments give the same
bytes: nothing depends on the clock, rows are in a fixed order, and figures are SVG with fixed ids
and no date. Corrections received after the cut-off do not change a past period's report.

Milestones and traffic lights (thresholds are :class:`Thresholds` fields)
---------------------------------------------------------------------
* **Workshops** by phase: the rounds due by the village's phase (before: 1, during: 2, after: 3)
  against those held so far — green all held, amber one missing, red more;
* **Welfare types launched** (offered): green ≥ ``types_green`` (5), amber ≥ ``types_amber`` (3),
  red below;
* **Households covered**: welfare-fund member households / households of the village: green ≥
  ``coverage_green`` (50 %), amber ≥ ``coverage_amber`` (30 %), red below;
* **Fund balance**: closing balance in months of the payouts of the last four quarters: green ≥
  ``reserve_green`` (12), amber ≥ ``reserve_amber`` (6), red below; a balance that fell in each of the
  last ``falling_quarters`` (4) quarters is at most amber;
* **Report**: on time green, late amber, missing red.

A milestone without data is grey. A village's overall light is its worst milestone light (grey
ignored). A village whose report for the period is missing is shown with its latest earlier figures,
marked as such.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import welfare_eval.reference as ref
from welfare_eval._io import atomic_write_text, write_excel
from welfare_eval._results import ResultBase
from welfare_eval.monitor import queries as Q
from welfare_eval.monitor.db import MonitorDB
from welfare_eval.monitor.periods import Period, parse_period
from welfare_eval.monitor.schema import PHASES

__all__ = ["LIGHTS", "ProgressReport", "Thresholds", "build_progress_report"]

#: Traffic lights from best to worst, then "no data".
LIGHTS: tuple[str, ...] = ("green", "amber", "red", "grey")
_RANK = {"green": 0, "amber": 1, "red": 2}
_COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "grey": "#9e9e9e"}


@dataclass(frozen=True)
class Thresholds:
    """Traffic-light thresholds of the progress report (documented defaults)."""

    types_green: int = 5
    types_amber: int = 3
    coverage_green: float = 0.50
    coverage_amber: float = 0.30
    reserve_green: float = 12.0
    reserve_amber: float = 6.0
    falling_quarters: int = 4

    def __post_init__(self) -> None:
        if not 0 <= self.types_amber <= self.types_green:
            raise ValueError("Thresholds: need 0 <= types_amber <= types_green")
        if not 0 <= self.coverage_amber <= self.coverage_green <= 1:
            raise ValueError("Thresholds: need 0 <= coverage_amber <= coverage_green <= 1")
        if not 0 <= self.reserve_amber <= self.reserve_green:
            raise ValueError("Thresholds: need 0 <= reserve_amber <= reserve_green")
        if self.falling_quarters < 1:
            raise ValueError("Thresholds.falling_quarters must be at least 1")

    def rules(self, lang: str = "th") -> pd.DataFrame:
        """The rules in words (milestone, green, amber, red)."""
        L = lambda k: ref.label(k, lang)  # type: ignore[arg-type]  # noqa: E731
        pct = lambda x: f"{100 * x:g}%"  # noqa: E731
        types, months = L("progress.unit.types"), L("progress.unit.months")
        falling = L("progress.rule.falling").format(n=self.falling_quarters)
        return pd.DataFrame(
            [
                ("workshops", L("progress.rule.workshops_green"), L("progress.rule.workshops_amber"),
                 L("progress.rule.workshops_red")),
                ("types", f"≥ {self.types_green} {types}", f"{self.types_amber}–{self.types_green - 1} {types}",
                 f"< {self.types_amber} {types}"),
                ("coverage", f"≥ {pct(self.coverage_green)}", f"{pct(self.coverage_amber)}–{pct(self.coverage_green)}",
                 f"< {pct(self.coverage_amber)}"),
                ("reserve", f"≥ {self.reserve_green:g} {months} {falling}",
                 f"{self.reserve_amber:g}–{self.reserve_green:g} {months}", f"< {self.reserve_amber:g} {months}"),
                ("report", L("progress.status.on_time"), L("progress.status.late"), L("progress.status.missing")),
            ],
            columns=["milestone", "green", "amber", "red"],
        )


def _light_hi(x: float | None, green: float, amber: float) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "grey"
    return "green" if x >= green else ("amber" if x >= amber else "red")


def _worst(lights: list[str]) -> str:
    known = [x for x in lights if x in _RANK]
    return max(known, key=lambda x: _RANK[x]) if known else "grey"


@dataclass
class ProgressReport(ResultBase):
    """The progress report of one period (see :func:`build_progress_report`).

    Attributes
    ----------
    period : Period
    as_of : date
        Cut-off date of the data.
    villages, regions, submissions, trends : DataFrame
        Status per village, per region, the late/missing list and the trends by period.
    thresholds : Thresholds
    """

    period: Period
    as_of: _dt.date
    villages: pd.DataFrame
    regions: pd.DataFrame
    submissions: pd.DataFrame
    trends: pd.DataFrame
    thresholds: Thresholds
    figures: dict[str, str] = field(default_factory=dict, repr=False)

    title = "Progress report"
    sheet_name = "villages"

    def tidy(self) -> pd.DataFrame:
        """Status per village (one row per village expected to report)."""
        return self.villages.copy()

    def notes(self) -> list[str]:
        v = self.villages
        n = {k: int((v["overall"] == k).sum()) for k in LIGHTS}
        return [f"period {self.period} (B.E. {self.period.label('be')}), data as of {self.as_of}",
                f"villages: {n['green']} green, {n['amber']} amber, {n['red']} red, {n['grey']} without data"]

    def html(self) -> str:
        """The self-contained Thai HTML page."""
        return _render_html(self)

    def write_html(self, path: str | Path) -> Path:
        """Write :meth:`html` atomically (UTF-8)."""
        return atomic_write_text(path, self.html())

    def write_xlsx(self, path: str | Path) -> Path:
        """Write the tables to an XLSX workbook (sheets villages, regions, submissions, trends,
        thresholds, columns), formula-neutralised, fixed timestamps."""
        cols = pd.DataFrame(
            [(c, _col_label(c, "th"), _col_label(c, "en")) for c in self.villages.columns],
            columns=["column", "th", "en"],
        )
        meta = pd.DataFrame({"key": ["period", "period_be", "as_of"],
                             "value": [self.period.label(), self.period.label("be"), self.as_of.isoformat()]})
        thr = pd.DataFrame({"threshold": list(asdict(self.thresholds)), "value": list(asdict(self.thresholds).values())})
        return write_excel(
            {"villages": self.villages, "regions": self.regions, "submissions": self.submissions,
             "trends": self.trends, "thresholds": thr, "columns": cols, "report": meta},
            path,
        )

    def to_html(self, path: str | Path | None = None) -> str:
        text = self.html()
        if path is not None:
            atomic_write_text(path, text)
        return text


_COLUMN_KEYS = {
    "region": "progress.col.region",
    "province_code": "progress.col.province",
    "village_name": "progress.col.village",
    "phase": "progress.col.phase",
    "report_status": "progress.col.report",
    "workshops_held": "progress.col.workshops",
    "types_offered": "progress.col.types",
    "coverage": "progress.col.coverage",
    "fund_closing": "progress.col.balance",
    "reserve_months": "progress.col.reserve",
    "balance_change_4q": "progress.col.change",
    "overall": "progress.col.overall",
}


def _col_label(c: str, lang: str) -> str:
    key = _COLUMN_KEYS.get(c)
    return ref.label(key, lang) if key else c  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------
def build_progress_report(
    db: MonitorDB,
    period: Period | str,
    *,
    as_of: _dt.date | str | None = None,
    thresholds: Thresholds | None = None,
    due_days: int = 30,
    cutoff_days: int = Q.CUTOFF_DAYS,
    first_period: Period | str | None = None,
) -> ProgressReport:
    """Build the progress report of ``period`` (``"2569Q3"`` B.E. or ``"2026Q3"`` C.E.) from the store.

    Parameters
    ----------
    db : MonitorDB
    period : Period or str
    as_of : date or str, optional
        Data cut-off (default: the end of the quarter + ``cutoff_days``).
    thresholds : Thresholds, optional
    due_days : int
        Days after the end of a quarter by which its report is due.
    cutoff_days : int
    first_period : Period or str, optional
        First period of the trends (default: the earliest period in the store).
    """
    per = parse_period(period)
    th = thresholds or Thresholds()
    d = Q.resolve_as_of(as_of if as_of is not None else per, cutoff_days=cutoff_days)
    assert d is not None
    status = Q.submission_status(db, through=per, as_of=d, due_days=due_days, first=first_period)
    vill = db.villages()
    starts = vill["first_year"].astype("Float64") * 4 + vill["first_quarter"].astype("Float64") - 1
    expected = vill[starts.notna() & (starts <= per.index)].copy()  # villages due to report by the period
    pan = Q.panel(db, as_of=d, through=per)
    rules_all = Q.current(db, "welfare_rule", as_of=d, through=per)
    work = Q.current(db, "workshop", as_of=d, through=per)
    rows = []
    for v in expected.sort_values(["region", "village_id"]).to_dict("records"):
        vid = str(v["village_id"])
        pv = pan[pan["village_id"] == vid].sort_values(["year", "quarter"])
        st = status[(status["village_id"] == vid) & (status["period"] == per.label())]
        rep = str(st["status"].iloc[0]) if len(st) else "missing"
        days_late = int(st["days_late"].iloc[0]) if len(st) else 0
        rec: dict[str, Any] = {
            "village_id": vid,
            "village_name": v.get("village_name"),
            "region": int(v["region"]),
            "province_code": v["province_code"],
            "report_status": rep,
            "days_late": days_late,
        }
        if pv.empty:
            rec.update(data_period=None, phase=None, workshops_held=0, workshops_due=None, types_offered=None,
                       coverage=np.nan, fund_closing=np.nan, payouts_4q=np.nan, reserve_months=np.nan,
                       balance_change_4q=np.nan, falling=False)
        else:
            last = pv.iloc[-1]
            lp = Period(int(last["year"]), int(last["quarter"]))
            held = sorted(set(work.loc[work["village_id"] == vid, "phase"]), key=PHASES.index)
            due = PHASES[: PHASES.index(str(last["phase"])) + 1]
            win = pv[(pv["year"] * 4 + pv["quarter"]) > (lp.index - 4)]
            pay4 = float(win["fund_payouts"].sum())
            closing = float(last["fund_closing"]) if pd.notna(last["fund_closing"]) else np.nan
            past = pv[(pv["year"] * 4 + pv["quarter"]) == lp.index - 4]
            change = (100.0 * (closing / float(past["fund_closing"].iloc[0]) - 1.0)
                      if len(past) and float(past["fund_closing"].iloc[0]) > 0 else np.nan)
            tail = pv.tail(th.falling_quarters + 1)["fund_closing"].to_numpy(dtype=float)
            falling = len(tail) == th.falling_quarters + 1 and bool(np.all(np.diff(tail) < 0))
            hh = v.get("n_households")
            cov = (float(last["welfare_fund_households"]) / float(hh)
                   if hh is not None and pd.notna(hh) and float(hh) > 0 and pd.notna(last["welfare_fund_households"])
                   else np.nan)
            rec.update(
                data_period=lp.label(),
                phase=str(last["phase"]),
                workshops_held=len(held),
                workshops_due=len(due),
                workshops_missing=" ".join(p for p in due if p not in held),
                types_offered=int(last["types_offered"]),
                coverage=cov,
                fund_closing=closing,
                payouts_4q=pay4,
                reserve_months=(closing / (pay4 / 12.0)) if pay4 > 0 else (np.inf if closing > 0 else np.nan),
                balance_change_4q=change,
                falling=falling,
            )
        rows.append(rec)
    vt = pd.DataFrame(rows)
    if "workshops_missing" not in vt.columns:
        vt["workshops_missing"] = ""
    vt["workshops_missing"] = vt["workshops_missing"].fillna("").astype(str)
    for c in ("workshops_held", "workshops_due", "types_offered"):
        vt[c] = pd.array([None if pd.isna(x) else int(x) for x in vt[c]], dtype="Int64")
    for c in ("data_period", "phase"):
        vt[c] = pd.array([None if pd.isna(x) else str(x) for x in vt[c]], dtype="string")
    vt["light_workshops"] = [
        "grey" if pd.isna(due) else ("green" if held >= due else ("amber" if held == due - 1 else "red"))
        for held, due in zip(vt["workshops_held"], vt["workshops_due"], strict=True)
    ]
    vt["light_types"] = [_light_hi(np.nan if pd.isna(x) else float(x), th.types_green, th.types_amber)
                         for x in vt["types_offered"]]
    vt["light_coverage"] = [_light_hi(float(x), th.coverage_green, th.coverage_amber) for x in vt["coverage"]]
    lr = []
    for x, fall in zip(vt["reserve_months"], vt["falling"], strict=True):
        light = _light_hi(float(x), th.reserve_green, th.reserve_amber)
        if fall and light == "green":
            light = "amber"
        lr.append(light)
    vt["light_reserve"] = lr
    vt["light_report"] = vt["report_status"].map({"on_time": "green", "late": "amber", "missing": "red",
                                                  "pending": "grey"}).fillna("grey")
    lights = ["light_workshops", "light_types", "light_coverage", "light_reserve", "light_report"]
    vt["overall"] = [_worst(list(r)) for r in vt[lights].itertuples(index=False)]
    vt = vt.sort_values(["region", "village_id"], kind="mergesort").reset_index(drop=True)
    # regions
    reg_rows = []
    for rg, g in vt.groupby("region", sort=True):
        reg_rows.append(
            {
                "region": int(str(rg)),
                "villages": len(g),
                "on_time": int((g["report_status"] == "on_time").sum()),
                "late": int((g["report_status"] == "late").sum()),
                "missing": int((g["report_status"] == "missing").sum()),
                "green": int((g["overall"] == "green").sum()),
                "amber": int((g["overall"] == "amber").sum()),
                "red": int((g["overall"] == "red").sum()),
                "fund_closing": float(g["fund_closing"].sum(min_count=1)) if g["fund_closing"].notna().any() else np.nan,
                "overall": _worst(list(g["overall"])),
            }
        )
    rt = pd.DataFrame(reg_rows)
    # late and missing list, newest first
    sub = status[status["status"].isin(["late", "missing"])].copy()
    sub = sub.sort_values(["year", "quarter", "region", "village_id"], ascending=[False, False, True, True],
                          kind="mergesort").reset_index(drop=True)
    sub = sub[["period", "region", "province_code", "village_id", "village_name", "due_on", "status",
               "first_received_on", "days_late", "n_versions"]]
    # trends by period
    first = parse_period(first_period) if first_period is not None else (
        Period(int(pan["year"].min()), int(pan["quarter"][pan["year"] == pan["year"].min()].min())) if len(pan) else per
    )
    trows = []
    for i in range(first.index, per.index + 1):
        p = Period.from_index(i)
        g = pan[(pan["year"] == p.year) & (pan["quarter"] == p.quarter)]
        s = status[status["period"] == p.label()]
        r = rules_all[(rules_all["year"] == p.year) & (rules_all["quarter"] == p.quarter)]
        trows.append(
            {
                "period": p.label(),
                "period_be": p.label("be"),
                "villages_expected": len(s),
                "villages_reporting": len(g),
                "on_time": int((s["status"] == "on_time").sum()),
                "late": int((s["status"] == "late").sum()),
                "missing": int((s["status"] == "missing").sum()),
                "types_offered_mean": float(g["types_offered"].mean()) if len(g) else np.nan,
                "types_launched_any": int(r.loc[r["offered"].astype(bool), "welfare_type"].nunique()) if len(r) else 0,
                "welfare_fund_households": float(g["welfare_fund_households"].sum(min_count=1)) if len(g) else np.nan,
                "fund_closing": float(g["fund_closing"].sum(min_count=1)) if len(g) else np.nan,
                "fund_payouts": float(g["fund_payouts"].sum(min_count=1)) if len(g) else np.nan,
            }
        )
    tt = pd.DataFrame(trows)
    report = ProgressReport(per, d, vt, rt, sub, tt, th)
    report.figures = _figures(tt)
    return report


# --------------------------------------------------------------------------------------------------
# Figures (deterministic SVG, Thai text drawn as paths with Sarabun)
# --------------------------------------------------------------------------------------------------
@cache
def _sarabun() -> tuple[str, Path | None]:
    """Register the Sarabun fonts of ``fontpkg-sarabun`` with matplotlib; (family, regular file)."""
    from matplotlib import font_manager

    try:
        import fontpkg_sarabun
    except ImportError:  # pragma: no cover - a dependency
        return "DejaVu Sans", None
    root = Path(getattr(fontpkg_sarabun, "ROOT", Path(fontpkg_sarabun.__file__).parent))
    files = sorted(root.rglob("*.ttf"))
    for f in files:
        font_manager.fontManager.addfont(str(f))
    regular = next((f for f in files if f.stem.endswith("-Regular")), files[0] if files else None)
    return str(getattr(fontpkg_sarabun, "FAMILY", "Sarabun")), regular


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:]


def _figures(tt: pd.DataFrame) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    family, _ = _sarabun()
    out: dict[str, str] = {}
    if tt.empty:
        return out
    rc: dict[str, Any] = {"font.family": [family, "DejaVu Sans"], "svg.hashsalt": "welfare_eval.progress", "svg.fonttype": "path",
          "axes.spines.top": False, "axes.spines.right": False, "font.size": 10}
    x = np.arange(len(tt))
    labels = [f"{p[5]}/{p[:4]}" for p in tt["period_be"]]
    with plt.rc_context(rc):  # type: ignore[arg-type]
        fig, ax = plt.subplots(figsize=(7.5, 3.4), layout="constrained")
        ax.plot(x, tt["fund_closing"] / 1e6, color="#1565c0", marker="o", lw=2, label=ref.label("progress.fig_balance"))
        ax.bar(x, tt["fund_payouts"] / 1e6, color="#90caf9", label=ref.label("progress.fig_payouts"))
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(ref.label("progress.fig_balance_axis"))
        ax.legend(frameon=False, fontsize=9)
        ax.set_title(ref.label("progress.fig_fund"), fontsize=11)
        out["fund"] = _svg(fig)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(7.5, 3.4), layout="constrained")
        ax.bar(x, tt["welfare_fund_households"], color="#a5d6a7", label=ref.label("progress.fig_households"))
        ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=8)
        ax2 = ax.twinx()
        ax2.plot(x, tt["types_offered_mean"], color="#2e7d32", marker="s", lw=2, label=ref.label("progress.fig_types"))
        ax2.set_ylim(0, 9.5)
        ax2.spines["top"].set_visible(False)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, frameon=False, fontsize=9, loc="upper left")
        ax.set_title(ref.label("progress.fig_coverage"), fontsize=11)
        out["coverage"] = _svg(fig)
        plt.close(fig)
    return out


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------
@cache
def _font_face() -> str:
    _, regular = _sarabun()
    if regular is None:  # pragma: no cover
        return ""
    data = base64.b64encode(regular.read_bytes()).decode("ascii")
    return ("@font-face{font-family:'Sarabun';font-style:normal;font-weight:400;"
            f"src:url(data:font/ttf;base64,{data}) format('truetype');}}")


@cache
def _template() -> Any:
    import jinja2

    text = (resources.files("welfare_eval.monitor") / "templates" / "progress.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["num"] = _fmt_num
    env.filters["pct"] = _fmt_pct
    env.filters["thdate"] = _fmt_date
    return env.from_string(text)


def _missing(x: Any) -> bool:
    """None, NaN, NA or NaT (not inf)."""
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    return isinstance(x, float) and np.isnan(x)


def _fmt_num(x: Any, digits: int = 0) -> str:
    if _missing(x):
        return "–"
    if isinstance(x, float) and np.isinf(x):
        return "∞"
    return f"{float(x):,.{digits}f}"


def _fmt_pct(x: Any) -> str:
    if _missing(x):
        return "–"
    return f"{100 * float(x):.0f}"


def _fmt_date(x: Any) -> str:
    if _missing(x):
        return "–"
    if isinstance(x, str):
        x = _dt.date.fromisoformat(x)
    from pythainlp.util.date import thai_abbr_months

    return f"{x.day} {thai_abbr_months[x.month - 1]} {x.year + 543}"


def _period_th(label: str) -> str:
    p = parse_period(label)
    return f"{p.quarter}/{p.year + 543}"


def _render_html(rep: ProgressReport) -> str:
    L = lambda k: ref.label(k, "th")  # noqa: E731
    Le = lambda k: ref.label(k, "en")  # noqa: E731
    names = {str(r["region"]): ref.label(f"region.{r['region']}", "th") for r in rep.regions.to_dict("records")}
    prov = ref.provinces().set_index("province_code")["province_th"].to_dict()
    villages = []
    for r in rep.villages.to_dict("records"):
        r = {k: (None if _missing(x) else x) for k, x in r.items()}
        villages.append({
            **r,
            "province": prov.get(str(r["province_code"]), str(r["province_code"])),
            "phase_th": ref.label(f"monitor.phase.{r['phase']}", "th") if r["phase"] else "–",
            "report_th": L(f"progress.status.{r['report_status']}"),
            "stale": r["data_period"] is not None and r["data_period"] != rep.period.label(),
            "data_period_th": _period_th(r["data_period"]) if r["data_period"] else "",
        })
    subs = []
    for r in rep.submissions.to_dict("records"):
        r = {k: (None if _missing(x) else x) for k, x in r.items()}
        subs.append({**r, "period_th": _period_th(r["period"]), "status_th": L(f"progress.status.{r['status']}"),
                     "province": prov.get(str(r["province_code"]), str(r["province_code"]))})
    trends = [{**r, "period_th": _period_th(r["period"])} for r in rep.trends.to_dict("records")]
    n = {k: int((rep.villages["overall"] == k).sum()) for k in LIGHTS}
    cur = rep.trends.iloc[-1].to_dict() if len(rep.trends) else {}
    rules = rep.thresholds.rules()
    rules["name"] = [L(f"progress.milestone.{m}") for m in rules["milestone"]]
    ctx = {
        "L": L,
        "Le": Le,
        "font_face": _font_face(),
        "colours": _COLOURS,
        "period_th": _period_th(rep.period.label()),
        "period_be": rep.period.label("be"),
        "period_ce": rep.period.label(),
        "as_of_th": _fmt_date(rep.as_of),
        "n": n,
        "cur": cur,
        "regions": [{**r, "name": names[str(r["region"])]} for r in rep.regions.to_dict("records")],
        "villages": villages,
        "subs": subs,
        "trends": trends,
        "rules": rules.to_dict("records"),
        "figures": rep.figures,
        "lights": LIGHTS,
    }
    text = _template().render(**ctx)
    return str(text)

