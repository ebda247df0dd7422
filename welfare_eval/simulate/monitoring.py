"""Quarterly monitoring forms of the pilot villages, filled as the provinces would fill them.

:func:`simulate_monitoring` builds, from a simulated :class:`~welfare_eval.simulate.Study`, the content
of one quarterly form per inspection region and quarter (the region's pilot village), consistent with
the savings-group panel (``fieldwork.admin``): the four quarterly fund statements of a year add up to
the year's opening balance, income, payouts and closing balance, the payouts by welfare type add up to
the quarter's payouts, and the Q4 form reports the year's profit and its allocation shares. Stream
``monitoring`` (independent of every other component).

Content
-------
* phase: ``before`` in the start year, ``during`` the year after, ``after`` from the third year (and
  ``before`` in any earlier year);
* workshops with the committee: round ``before`` in Q1 of the start year, ``during`` in Q1 of the
  next year, ``after`` in Q3 of the third year (one pilot holds its "during" round a quarter late);
  participants N(45, 10²), 5–15 committee members;
* welfare types and rules: four types offered from the start (childbirth, illness, elderly, death), the
  other five launched at random quarters over the three years; amounts = the survey model's median
  amount × a village factor U(0.8, 1.2), to 50 baht; waiting period 3, 6 or 12 months;
* members: savings group (the panel's members), welfare fund (households × coverage rising from
  U(0.30, 0.45) to U(0.60, 0.80), 1.5 persons per household), fund management institution;
* payouts by welfare type: the year's payout split over quarters (Dirichlet(30, 30, 30, 30)) and over
  the offered types in proportion to the survey model's receipt rate × amount; cases = payout /
  amount rounded (at least one when anything is paid);
* fund: quarterly income = the year's income / 4; quarterly balances follow;
* notes: zero to two per form from ``simulate/data/monitoring_notes.csv``, some carrying a planted
  name, phone number or national ID (the importer must mask them).

Defects and delivery (``truth`` of the result)
---------------------------------------------
* ``be_period``: most regions (share ``be_share``) write the period in the Buddhist Era
  (``2568Q3``), the others in the Common Era;
* ``share_rounding``: forms whose allocation shares sum to 99.8 % (within the default tolerance);
* ``late_province``: one region's forms all arrive 5–40 days after the due date;
* ``corrected_resubmission``: one form first sent with wrong payouts for a welfare type (its
  fund statement consistent with them), then corrected 10–20 days later;
* ``duplicate_file``: one form sent twice (the same bytes under another name);
* ``rejected_then_fixed``: one form sent with a closing balance that breaks the fund identity
  (rejected), then sent again fixed;
* ``missing``: one region-quarter never sent.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import welfare_eval.reference as r
from welfare_eval._results import ResultBase
from welfare_eval.simulate._rng import names, stream, vocab
from welfare_eval.simulate.fieldwork import WELFARE_MODEL, national_id_check_digit

if TYPE_CHECKING:
    from welfare_eval.monitor.form import FormContent
    from welfare_eval.simulate.study import Study

__all__ = ["Monitoring", "MonitoringConfig", "simulate_monitoring", "write_monitoring_forms"]

_BASE_TYPES = ("childbirth", "illness", "elderly", "death")


@dataclass(frozen=True)
class MonitoringConfig:
    """Window, delivery and defects of the simulated quarterly forms.

    Attributes
    ----------
    first_year, last_year : int, optional
        C.E. years of the forms (default: the pilot's start year to two years later; the savings-group
        panel must cover them).
    due_days : int
        Days after the end of a quarter by which a form is due.
    be_share : float
        Share of regions that write the period in the Buddhist Era.
    share_rounding, late_regions, corrected, duplicates, rejected, missing : int
        Numbers of forms (regions for ``late_regions``) with each defect.
    regions : tuple of int, optional
        Only these inspection regions (default all; a smaller set makes quick tests).
    """

    first_year: int | None = None
    last_year: int | None = None
    due_days: int = 30
    be_share: float = 0.6
    share_rounding: int = 2
    late_regions: int = 1
    corrected: int = 1
    duplicates: int = 1
    rejected: int = 1
    missing: int = 1
    regions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.be_share <= 1:
            raise ValueError("MonitoringConfig.be_share must be in [0, 1]")
        for k in ("share_rounding", "late_regions", "corrected", "duplicates", "rejected", "missing", "due_days"):
            if getattr(self, k) < 0:
                raise ValueError(f"MonitoringConfig.{k} must be >= 0")


@dataclass
class Monitoring(ResultBase):
    """Simulated quarterly forms: content, delivery plan and planted defects.

    Attributes
    ----------
    villages : DataFrame
        The reporting villages to register in the store (``village_id``, ``region``,
        ``province_code``, ``village_name``, ``arm``, ``n_households``, ``first_period``).
    forms : dict
        ``(region, period)`` → :class:`~welfare_eval.monitor.form.FormContent` (the true content).
    deliveries : DataFrame
        One row per file to write: ``file``, ``region``, ``period``, ``kind`` (``original``,
        ``correction``, ``duplicate``, ``rejected``, ``fixed``), ``received_on``, ``defects``.
    truth : DataFrame
        Planted defects: ``defect``, ``region``, ``period``, ``file``, ``detail``.
    config : MonitoringConfig
    """

    villages: pd.DataFrame
    forms: dict[tuple[int, str], Any]
    deliveries: pd.DataFrame
    truth: pd.DataFrame
    config: MonitoringConfig = field(default_factory=MonitoringConfig)
    _variants: dict[str, Any] = field(default_factory=dict, repr=False)

    title = "Simulated quarterly monitoring forms"

    def tidy(self) -> pd.DataFrame:
        """The delivery plan (one row per file)."""
        return self.deliveries.copy()

    def received_on(self) -> dict[str, _dt.date]:
        """File name → date of receipt (for :func:`welfare_eval.monitor.import_forms`)."""
        return dict(zip(self.deliveries["file"], self.deliveries["received_on"], strict=True))

    def content(self, file: str) -> Any:
        """The content written to ``file`` (with its planted defect, if any)."""
        return self._variants[file]


@cache
def _notes() -> pd.DataFrame:
    path = resources.files("welfare_eval.simulate") / "data" / "monitoring_notes.csv"
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@cache
def _names(kind: str) -> np.ndarray:
    return names(kind)


def _fake_person(rng: np.random.Generator) -> dict[str, str]:
    female = rng.random() < 0.5
    given = _names("female_given" if female else "male_given")
    title = _names("title_female_married" if female else "title_male")[0]
    sa, sb = _names("surname_a"), _names("surname_b")
    nm = f"{title}{given[rng.integers(0, given.size)]} {sa[rng.integers(0, sa.size)]}{sb[rng.integers(0, sb.size)]}"
    d = np.concatenate([[rng.integers(1, 9)], rng.integers(0, 10, 11)])
    nid = "".join(map(str, d)) + str(int(national_id_check_digit(d[None, :])[0]))
    nid = f"{nid[0]}-{nid[1:5]}-{nid[5:10]}-{nid[10:12]}-{nid[12]}"
    x = rng.integers(0, 10, 8)
    phone = f"0{rng.choice(['6', '8', '9'])}{x[0]} {x[1]}{x[2]}{x[3]} {x[4]}{x[5]}{x[6]}{x[7]}"
    return {"name": nm, "phone": phone, "id": nid}


def _periods(y0: int, y1: int) -> list[tuple[int, int]]:
    return [(y, q) for y in range(y0, y1 + 1) for q in range(1, 5)]


def simulate_monitoring(study: Study, *, seed: int | None = None, config: MonitoringConfig | None = None) -> Monitoring:
    """Simulate the quarterly forms of the study's pilot villages (see the module docstring)."""
    from welfare_eval.monitor.form import blank_content
    from welfare_eval.monitor.periods import Period

    cfg = config or MonitoringConfig()
    seed = study.seed if seed is None else seed
    rng = stream(seed, "monitoring")
    fw = study.fieldwork
    start = int(study.truth.start_year)
    y0 = cfg.first_year if cfg.first_year is not None else start
    y1 = cfg.last_year if cfg.last_year is not None else start + 2
    if y1 < y0:
        raise ValueError("MonitoringConfig: last_year is before first_year")
    admin = fw.admin
    vil = fw.villages[fw.villages["arm"] == "pilot"].sort_values("region", kind="mergesort")
    vil = vil[vil["village_id"].isin(admin["village_id"])]
    if cfg.regions is not None:
        vil = vil[vil["region"].astype(int).isin([int(x) for x in cfg.regions])]
    if vil.empty:
        raise ValueError("simulate_monitoring: no pilot village has savings-group records")
    have = admin.groupby("village_id")["year"].agg(["min", "max"])
    for v in vil["village_id"]:
        if have.loc[v, "min"] > y0 or have.loc[v, "max"] < y1:
            raise ValueError(f"simulate_monitoring: the savings-group panel of {v} does not cover {y0}–{y1}")
    periods = _periods(y0, y1)
    regions = [int(x) for x in vil["region"]]
    nreg = len(regions)
    be_regions = set(rng.choice(regions, size=round(cfg.be_share * nreg), replace=False).tolist())
    late_regions = set(rng.choice(regions, size=min(cfg.late_regions, nreg), replace=False).tolist())
    wt = list(r.welfare_types()["code"])
    cats = list(r.profit_allocation()["code"])
    prov_th = r.provinces().set_index("province_code")["province_th"]
    notes = _notes()
    forms: dict[tuple[int, str], FormContent] = {}
    truth: list[dict[str, Any]] = []
    late_workshop = int(rng.choice(regions))
    for rec in vil.to_dict("records"):
        v, reg = str(rec["village_id"]), int(rec["region"])
        a = admin[admin["village_id"] == v].set_index("year")
        members_by_year = a["members"].astype(int).to_dict()
        nh = int(rec["n_households"])
        factor = rng.uniform(0.8, 1.2)
        amounts = {k: float(max(50, round(WELFARE_MODEL[k][2] * factor / 50) * 50)) for k in wt}
        waiting = {k: int(rng.choice([3, 6, 12])) for k in wt}
        later = [k for k in wt if k not in _BASE_TYPES]
        launch_idx = {k: 0 for k in _BASE_TYPES}
        for k in later:
            launch_idx[k] = int(rng.integers(1, len(periods) + 4))  # some never within the window
        cov0, cov1 = rng.uniform(0.30, 0.45), rng.uniform(0.60, 0.80)
        inst = rng.uniform(0.5, 0.8)
        for i, (y, q) in enumerate(periods):
            p = Period(y, q)
            c = blank_content(reg, p)
            c.header.update(
                province_code=str(rec["province_code"]),
                period_text=p.label("be" if reg in be_regions else "ce"),
                office=vocab("monitor.office").format(province=prov_th.get(str(rec["province_code"]), "")),
                position=vocab("monitor.position"),
            )
            phase = "before" if y <= start else ("during" if y == start + 1 else "after")
            S = c.sections
            S["villages"] = pd.DataFrame({"village": [v], "phase": [phase]})
            ws = []
            for ph, (wy, wq) in (("before", (start, 1)), ("during", (start + 1, 1)), ("after", (start + 2, 3))):
                if ph == "during" and reg == late_workshop:
                    wq += 1
                if (y, q) == (wy, wq):
                    day = Period(y, q).start + _dt.timedelta(days=int(rng.integers(10, 80)))
                    part = int(max(10, round(rng.normal(45, 10))))
                    ws.append({"village": v, "workshop_phase": ph, "held_on": day, "participants": part,
                               "committee_members": min(part, int(rng.integers(5, 16)))})
            S["workshops"] = pd.DataFrame(ws, columns=S["workshops"].columns)
            offered = [k for k in wt if launch_idx[k] <= i]
            S["rules"] = pd.DataFrame(
                [{"village": v, "welfare_type": k, "offered": True,
                  "launched_on": Period.from_index(Period(y0, 1).index + launch_idx[k]).start if launch_idx[k] else
                  _dt.date(min(y0, start), 1, 1),
                  "benefit_amount": amounts[k], "benefit_basis": "case", "eligibility": None,
                  "waiting_months": waiting[k], "min_age": 60 if k == "elderly" else None, "max_age": None}
                 for k in offered]
            )
            frac = (i + 1) / len(periods)
            cov = cov0 + (cov1 - cov0) * frac
            S["members"] = pd.DataFrame(
                [{"village": v, "organisation": "savings_group", "members": members_by_year[y], "households": None},
                 {"village": v, "organisation": "welfare_fund", "members": round(nh * cov * 1.5),
                  "households": round(nh * cov)},
                 {"village": v, "organisation": "fund_institution", "members": round(nh * inst),
                  "households": None}]
            )
            forms[(reg, p.label())] = c
        # yearly figures split into quarters
        for y in range(y0, y1 + 1):
            row: dict[str, Any] = {str(k): x for k, x in a.loc[y].items()}
            pay_y, inc_y = float(row["welfare_payout"]), float(row["fund_income"])
            qs = rng.dirichlet([30.0] * 4)
            pay_q = np.floor(pay_y * qs)
            pay_q[3] += pay_y - pay_q.sum()
            inc_q = np.floor(np.full(4, inc_y / 4.0))
            inc_q[3] += inc_y - inc_q.sum()
            bal = float(row["fund_opening"])
            path = bal + np.cumsum(inc_q - pay_q)
            if (path < 0).any():  # even split keeps the path linear between two non-negative balances
                pay_q = np.floor(np.full(4, pay_y / 4.0))
                pay_q[3] += pay_y - pay_q.sum()
            for q in range(1, 5):
                p = Period(y, q)
                c = forms[(reg, p.label())]
                S = c.sections
                offered = list(S["rules"]["welfare_type"])
                w = np.array([WELFARE_MODEL[k][0] * amounts[k] for k in offered])
                w = w * rng.gamma(20.0, 1.0 / 20.0, len(offered))
                share = w / w.sum()
                amt = np.floor(pay_q[q - 1] * share)
                amt[int(np.argmax(amt))] += pay_q[q - 1] - amt.sum()
                prow = []
                for k, x in zip(offered, amt, strict=True):
                    if x <= 0:
                        continue
                    prow.append({"village": v, "welfare_type": k, "cases": max(1, round(x / amounts[k])),
                                 "amount": float(x)})
                S["payouts"] = pd.DataFrame(prow, columns=S["payouts"].columns)
                S["fund"] = pd.DataFrame([{"village": v, "opening": bal, "income": float(inc_q[q - 1]),
                                           "payouts": float(pay_q[q - 1]),
                                           "closing": bal + inc_q[q - 1] - pay_q[q - 1]}])
                bal = bal + inc_q[q - 1] - pay_q[q - 1]
                if q == 4:
                    prof = float(row["profit"])
                    S["profit"] = pd.DataFrame([{"village": v, "organisation": "savings_group", "fiscal_year": y,
                                                 "profit": prof}])
                    sh = np.array([round(100.0 * float(row[f"alloc_{k}"]) / prof, 1) for k in cats])
                    sh[int(np.argmax(sh))] += round(100.0 - sh.sum(), 1)
                    S["allocation"] = pd.DataFrame({"village": v, "organisation": "savings_group", "fiscal_year": y,
                                                    "category": cats, "share": np.round(sh, 1)})
                nn = int(rng.integers(0, 3))
                nrows = []
                for _ in range(nn):
                    t = notes.iloc[int(rng.integers(0, len(notes)))]
                    nrows.append({"village": v, "kind": t["kind"], "text": t["text"].format(**_fake_person(rng))})
                S["notes"] = pd.DataFrame(nrows, columns=S["notes"].columns)
            if abs(bal - float(row["fund_closing"])) > 0.5:  # pragma: no cover - guards the construction
                raise AssertionError(f"quarterly fund path of {v} {y} does not end at the year's closing balance")
    # delivery plan and defects
    keys = sorted(forms, key=lambda k: (Period(*map(int, k[1].split("Q"))).index, k[0]))
    base_rows: list[dict[str, Any]] = []
    for reg, per in keys:
        p = Period(int(per[:4]), int(per[5]))
        due = p.due(cfg.due_days)
        if reg in late_regions:
            rec_on = due + _dt.timedelta(days=int(rng.integers(5, 41)))
        else:
            rec_on = due - _dt.timedelta(days=int(rng.integers(0, 26)))
        sub_on = rec_on - _dt.timedelta(days=int(rng.integers(0, 4)))
        forms[(reg, per)].header["submitted_on"] = max(sub_on, p.end + _dt.timedelta(days=1))
        base_rows.append({"region": reg, "period": per, "received_on": rec_on})
    for reg in sorted(be_regions):
        truth.append({"defect": "be_period", "region": reg, "period": "", "file": "", "detail": "periods written in B.E."})
    for reg in sorted(late_regions):
        truth.append({"defect": "late_province", "region": reg, "period": "", "file": "",
                      "detail": f"every form of region {reg} arrives after its due date"})
    order = rng.permutation(len(base_rows))
    special: dict[int, str] = {}

    def take(kind: str, n: int, *, need_q4: bool = False, not_late: bool = True) -> None:
        got = 0
        for j in list(order):
            if got >= n:
                break
            j = int(j)
            b = base_rows[j]
            if j in special or (need_q4 and not str(b["period"]).endswith("Q4")) or (not_late and b["region"] in late_regions):
                continue
            special[j] = kind
            got += 1

    take("share_rounding", cfg.share_rounding, need_q4=True)
    take("corrected", cfg.corrected)
    take("duplicate", cfg.duplicates)
    take("rejected", cfg.rejected)
    take("missing", cfg.missing)
    deliveries: list[dict[str, Any]] = []
    variants: dict[str, Any] = {}
    for j, b in enumerate(base_rows):
        reg, per, rec_on = b["region"], b["period"], b["received_on"]
        c = forms[(reg, per)]
        name = f"form_r{reg:02d}_{per}.xlsx"
        kind = special.get(j)
        if kind == "missing":
            truth.append({"defect": "missing", "region": reg, "period": per, "file": "", "detail": "never sent"})
            continue
        if kind == "share_rounding":
            c.sections["allocation"] = c.sections["allocation"].copy()
            al = c.sections["allocation"]
            k = int(np.argmax(al["share"].to_numpy()))
            al.loc[al.index[k], "share"] = round(float(al["share"].iloc[k]) - 0.2, 1)
            truth.append({"defect": "share_rounding", "region": reg, "period": per, "file": name,
                          "detail": "allocation shares sum to 99.8%"})
        if kind == "corrected":
            wrong = _wrong_payouts(c, rng)
            first = f"form_r{reg:02d}_{per}.xlsx"
            variants[first] = wrong
            deliveries.append({"file": first, "region": reg, "period": per, "kind": "original", "received_on": rec_on,
                               "defects": "wrong payouts, corrected later"})
            name = f"form_r{reg:02d}_{per}_corrected.xlsx"
            rec2 = rec_on + _dt.timedelta(days=int(rng.integers(10, 21)))
            variants[name] = c
            deliveries.append({"file": name, "region": reg, "period": per, "kind": "correction", "received_on": rec2,
                               "defects": ""})
            truth.append({"defect": "corrected_resubmission", "region": reg, "period": per, "file": name,
                          "detail": f"corrects {first} (payouts of one welfare type)"})
            continue
        if kind == "rejected":
            bad = _broken_identity(c)
            first = f"form_r{reg:02d}_{per}.xlsx"
            variants[first] = bad
            deliveries.append({"file": first, "region": reg, "period": per, "kind": "rejected", "received_on": rec_on,
                               "defects": "closing balance breaks the fund identity"})
            name = f"form_r{reg:02d}_{per}_fixed.xlsx"
            variants[name] = c
            deliveries.append({"file": name, "region": reg, "period": per, "kind": "fixed",
                               "received_on": rec_on + _dt.timedelta(days=int(rng.integers(3, 11))), "defects": ""})
            truth.append({"defect": "rejected_then_fixed", "region": reg, "period": per, "file": first,
                          "detail": f"rejected (fund identity), then {name}"})
            continue
        variants[name] = c
        deliveries.append({"file": name, "region": reg, "period": per, "kind": "original", "received_on": rec_on,
                           "defects": "share_rounding" if kind == "share_rounding" else ""})
        if kind == "duplicate":
            dup = f"form_r{reg:02d}_{per}_resent.xlsx"
            deliveries.append({"file": dup, "region": reg, "period": per, "kind": "duplicate",
                               "received_on": rec_on + _dt.timedelta(days=3), "defects": f"same bytes as {name}"})
            variants[dup] = c
            truth.append({"defect": "duplicate_file", "region": reg, "period": per, "file": dup,
                          "detail": f"byte-identical copy of {name}"})
    villages = pd.DataFrame(
        {
            "village_id": vil["village_id"].astype(str).to_numpy(),
            "region": vil["region"].astype(int).to_numpy(),
            "province_code": vil["province_code"].astype(str).to_numpy(),
            "village_name": vil["village_name"].astype(str).to_numpy(),
            "arm": "pilot",
            "n_households": vil["n_households"].astype(int).to_numpy(),
            "first_period": Period(y0, 1).label(),
        }
    )
    dl = pd.DataFrame(deliveries, columns=["file", "region", "period", "kind", "received_on", "defects"])
    tr = pd.DataFrame(truth, columns=["defect", "region", "period", "file", "detail"])
    return Monitoring(villages, forms, dl, tr, cfg, variants)


def _copy(c: FormContent) -> FormContent:
    from welfare_eval.monitor.form import FormContent

    return FormContent(dict(c.header), {k: v.copy() for k, v in c.sections.items()})


def _wrong_payouts(c: FormContent, rng: np.random.Generator) -> FormContent:
    """A version whose largest payout line is 10x too high (a typing error), fund statement consistent."""
    w = _copy(c)
    p = w.sections["payouts"]
    f = w.sections["fund"]
    if p.empty:
        return w
    k = int(np.argmax(p["amount"].to_numpy()))
    extra = float(p["amount"].iloc[k]) * 9.0
    extra = min(extra, float(f["opening"].iloc[0] + f["income"].iloc[0] - f["payouts"].iloc[0]))
    p.loc[p.index[k], "amount"] = float(p["amount"].iloc[k]) + extra
    f.loc[f.index[0], "payouts"] = float(f["payouts"].iloc[0]) + extra
    f.loc[f.index[0], "closing"] = float(f["closing"].iloc[0]) - extra
    return w


def _broken_identity(c: FormContent) -> FormContent:
    w = _copy(c)
    f = w.sections["fund"]
    f.loc[f.index[0], "closing"] = float(f["closing"].iloc[0]) + 1000.0
    return w


def write_monitoring_forms(monitoring: Monitoring, folder: str | Path, *, receipts: bool = True) -> list[Path]:
    """Write every delivered form of ``monitoring`` into ``folder`` (filled forms in the intake format).

    Duplicates are byte-identical copies. With ``receipts`` the department's log of receipt dates is
    written beside them as ``receipts.csv`` (``file``, ``received_on``; read it with
    :func:`welfare_eval.monitor.read_receipts`). Returns the form paths in delivery order.
    """
    from welfare_eval.monitor.form import write_form

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vil = monitoring.villages
    out = []
    written: dict[tuple[int, str, int], Path] = {}
    for d in monitoring.deliveries.to_dict("records"):
        c = monitoring.content(d["file"])
        path = folder / d["file"]
        key = (int(d["region"]), str(d["period"]), id(c))
        if d["kind"] == "duplicate" and key in written:
            path.write_bytes(written[key].read_bytes())
        else:
            write_form(path, region=int(d["region"]), villages=vil[vil["region"] == int(d["region"])], content=c)
        written[key] = path
        out.append(path)
    if receipts:
        from welfare_eval._io import write_csv

        log = monitoring.deliveries[["file", "received_on"]].copy()
        log["received_on"] = [d.isoformat() for d in log["received_on"]]
        write_csv(log, folder / "receipts.csv")
    return out
