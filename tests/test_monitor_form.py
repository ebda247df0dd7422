"""Monitoring: reporting periods, PII scrubbing, the quarterly form (writing, reading, cell validation)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from welfare_eval.clean.ids import national_id_check_digit
from welfare_eval.monitor import (
    FormRules,
    Period,
    PeriodError,
    blank_content,
    parse_period,
    read_form,
    write_form,
)
from welfare_eval.monitor.form import SECTIONS, choices
from welfare_eval.monitor.pii import find_pii, scrub_text


# --------------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["2569Q3", "2026Q3", "2569 q3", "2569-Q3", "Q3/2569", "Q3 2026", "3/2569", "ไตรมาส 3/2569",
     "ไตรมาสที่ 3 ปี 2569", "ไตรมาส 3 พ.ศ. 2569", "๒๕๖๙Q๓", "2569 ไตรมาส 3", (2569, 3), (2026, 3)],
)
def test_period_be_and_ce_are_the_same_quarter(text: object) -> None:
    p = parse_period(text)
    assert p == Period(2026, 3)
    assert (p.label(), p.label("be")) == ("2026Q3", "2569Q3")
    assert (p.start, p.end) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30))


def test_period_arithmetic() -> None:
    p = Period(2025, 4)
    assert p.shift(1) == Period(2026, 1) and p.shift(-4) == Period(2024, 4)
    assert Period.from_index(p.index) == p
    assert p.end == dt.date(2025, 12, 31) and p.due(30) == dt.date(2026, 1, 30)
    assert Period(2024, 1).end == dt.date(2024, 3, 31)
    assert parse_period("2568Q1") < parse_period("2025Q2")


@pytest.mark.parametrize("bad", ["2569Q5", "2569Q0", "3000Q1", "1500Q1", "Q3", "2569", "", "foo", 2569])
def test_period_refuses(bad: object) -> None:
    with pytest.raises(PeriodError):
        parse_period(bad)


# --------------------------------------------------------------------------------------------------
# PII
# --------------------------------------------------------------------------------------------------
def _nid(first12: str) -> str:
    return first12 + str(national_id_check_digit(first12))


def test_national_ids_in_any_grouping_are_masked() -> None:
    nid = _nid("110170020345")
    for text in (nid, f"{nid[0]}-{nid[1:5]}-{nid[5:10]}-{nid[10:12]}-{nid[12]}",
                 f"{nid[0]} {nid[1:5]} {nid[5:10]} {nid[10:12]} {nid[12]}", f"{nid[:6]}.{nid[6:]}",
                 nid.translate(str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")), nid[:5] + "\u200b" + nid[5:]):
        assert scrub_text(f"บัตร {text} ครับ") == "บัตร [national-id] ครับ", text
    # one rule with the cleaning stage (fail closed): 13 digits written together are masked even with a
    # wrong check digit (a mistyped ID is still an ID); in another grouping only with a right check digit
    wrong = nid[:12] + str((int(nid[12]) + 1) % 10)
    assert scrub_text(f"เลขที่ {wrong}") == "เลขที่ [national-id]"
    assert scrub_text(f"เลขที่ {wrong[:3]} {wrong[3:7]} {wrong[7:]}") == f"เลขที่ {wrong[:3]} {wrong[3:7]} {wrong[7:]}"


@pytest.mark.parametrize(
    "phone",
    ["0812345678", "081-234-5678", "081 234 5678", "08-1234-5678", "(081) 234-5678", "+66 81 234 5678",
     "+66812345678", "66-81-234-5678", "02-123-4567", "021234567", "053 123 456", "๐๘๑๒๓๔๕๖๗๘"],
)
def test_phone_numbers_in_any_spacing_are_masked(phone: str) -> None:
    assert scrub_text(f"โทร {phone} ด่วน") == "โทร [phone] ด่วน"


def test_adjacent_numbers_and_amounts() -> None:
    nid = _nid("310100234567")
    got = scrub_text(f"โทร 081 234 5678 {nid[0]} {nid[1:5]} {nid[5:10]} {nid[10:12]} {nid[12]}")
    assert got == "โทร [phone] [national-id]"
    keep = "ยอดเงิน 1,234,567,890 บาท วันที่ 15/03/2568 ไตรมาส 2569Q3 สมาชิก 120 คน"
    assert scrub_text(keep) == keep


def test_person_names_after_titles_are_masked() -> None:
    assert scrub_text("นายสมชาย ใจดี เป็นประธาน") == "นาย[name] เป็นประธาน"
    assert scrub_text("คุณสมศรี มีสุข ได้รับเงิน") == "คุณ[name] ได้รับเงิน"
    assert scrub_text("นาง สมใจ รักดี มาประชุม") == "นาง [name] มาประชุม"
    assert scrub_text("Mr. John Smith met Mrs Jane Doe") == "Mr. [name] met Mrs [name]"
    # words that start like a title are not names
    for keep in ("นายกเทศมนตรีมาร่วมงาน", "คุณภาพชีวิตดีขึ้น", "นายอำเภอมาเยี่ยม", "นางพยาบาลมาตรวจ"):
        assert scrub_text(keep) == keep
    assert scrub_text("สมชายมาประชุม", known_names=["สมชาย"]) == "[name]มาประชุม"
    kinds = [p.kind for p in find_pii("นางสาวมาลี วงศ์ดี โทร 0812345678")]
    assert kinds == ["name", "phone"]


# --------------------------------------------------------------------------------------------------
# The form
# --------------------------------------------------------------------------------------------------
VILLAGES = pd.DataFrame({"village_id": ["12010601", "12020301"], "village_name": ["บ้านหนึ่ง", "บ้านสอง"]})
CATS = ["administration", "dividend", "public_benefit", "committee_remuneration", "expenses", "reserve", "welfare"]


def filled(period: str = "2569Q3", village: str = "12010601") -> object:
    c = blank_content(1, period)
    p = parse_period(period)
    c.header.update(province_code="12", submitted_on=p.end + dt.timedelta(days=5), office="สพจ. นนทบุรี",
                    position="นักวิชาการ")
    S = c.sections
    S["villages"] = pd.DataFrame({"village": [village], "phase": ["during"]})
    S["workshops"] = pd.DataFrame({"village": [village], "workshop_phase": ["during"],
                                   "held_on": [p.start + dt.timedelta(days=20)], "participants": [40],
                                   "committee_members": [12]})
    S["rules"] = pd.DataFrame({"village": [village] * 2, "welfare_type": ["childbirth", "death"], "offered": [True, True],
                               "launched_on": [dt.date(2025, 1, 1)] * 2, "benefit_amount": [1000.0, 3000.0],
                               "benefit_basis": ["case", "case"], "eligibility": ["สมาชิก 6 เดือน โทร 0812345678", None],
                               "waiting_months": [6, 6], "min_age": [None, None], "max_age": [None, None]})
    S["members"] = pd.DataFrame({"village": [village] * 2, "organisation": ["savings_group", "welfare_fund"],
                                 "members": [150, 120], "households": [100, 90]})
    S["payouts"] = pd.DataFrame({"village": [village] * 2, "welfare_type": ["childbirth", "death"], "cases": [2, 1],
                                 "amount": [2000.0, 3000.0]})
    S["profit"] = pd.DataFrame({"village": [village], "organisation": ["savings_group"], "fiscal_year": [p.year],
                                "profit": [100000.0]})
    S["allocation"] = pd.DataFrame({"village": [village] * 7, "organisation": ["savings_group"] * 7,
                                    "fiscal_year": [p.year] * 7, "category": CATS,
                                    "share": [10.0, 40.0, 10.0, 8.0, 7.0, 15.0, 10.0]})
    S["fund"] = pd.DataFrame({"village": [village], "opening": [50000.0], "income": [2500.0], "payouts": [5000.0],
                              "closing": [47500.0]})
    S["notes"] = pd.DataFrame({"village": [village], "kind": ["problem"],
                               "text": ["นายสมชาย ใจดี ขาดประชุม <script>alert(1)</script>"]})
    return c


def test_form_round_trip_and_bytes(tmp_path: Path) -> None:
    c = filled()
    a = write_form(tmp_path / "a.xlsx", region=1, villages=VILLAGES, content=c).read_bytes()
    b = write_form(tmp_path / "b.xlsx", region=1, villages=VILLAGES, content=c).read_bytes()
    assert a == b  # no timestamps
    got, rej, warn = read_form(tmp_path / "a.xlsx")
    assert rej.empty and warn.empty and got is not None
    assert got.period == Period(2026, 3) and got.header["period_text"] == "2569Q3"
    assert got.header["region"] == 1 and got.header["province_code"] == "12"
    for sec in SECTIONS:
        want = c.sections[sec.code].reset_index(drop=True)
        have = got.sections[sec.code][sec.codes].reset_index(drop=True)
        if sec.code == "rules":
            assert have["eligibility"].iloc[0] == "สมาชิก 6 เดือน โทร [phone]"
            continue
        if sec.code == "notes":
            assert have["text"].iloc[0] == "นาย[name] ขาดประชุม <script>alert(1)</script>"
            continue
        pd.testing.assert_frame_equal(have, want[sec.codes], check_dtype=False, obj=sec.code)
    assert got.sections["allocation"]["amount"].tolist() == [10000.0, 40000.0, 10000.0, 8000.0, 7000.0, 15000.0,
                                                             10000.0]
    # the content hash ignores row order and the submitter; it sees every figure
    c2 = filled()
    c2.sections["payouts"] = c2.sections["payouts"].iloc[::-1]
    c2.header.update(office="other", submitted_on=dt.date(2026, 10, 30))
    assert c2.content_hash() == c.content_hash()
    c2.sections["payouts"].loc[c2.sections["payouts"].index[0], "cases"] = 3
    assert c2.content_hash() != c.content_hash()


def test_blank_form_has_dropdowns(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    p = write_form(tmp_path / "blank.xlsx", region=1, villages=VILLAGES, period="2569Q3")
    wb = load_workbook(p)
    titles = [ws.title for ws in wb.worksheets]
    assert titles[0].startswith("0 ") and "lists" in titles and wb["lists"].sheet_state == "hidden"
    assert [t.split(" ")[0] for t in titles if t != "lists"] == [str(i) for i in range(11)]
    lists = {ws.cell(1, j).value: [ws.cell(i, j).value for i in range(2, ws.max_row + 1) if ws.cell(i, j).value]
             for ws in [wb["lists"]] for j in range(1, ws.max_column + 1)}
    assert lists["village"] == ["12010601 บ้านหนึ่ง", "12020301 บ้านสอง"]
    assert lists["phase"] == [d for _, d in choices("phase")] and len(lists["welfare_type"]) == 9
    assert len(lists["category"]) == 7
    ws = next(w for w in wb.worksheets if w.title.startswith("4 "))  # rules
    kinds = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert any("lists!$A$" in (f or "") for f in kinds) and any("lists!$C$" in (f or "") for f in kinds)
    hdr = next(w for w in wb.worksheets if w.title.startswith("1 "))
    assert hdr["C5"].value == "2569Q3"
    got, rej, _ = read_form(p)  # a blank form is rejected (no village, no office)
    assert got is None and {"reporting office is empty"} <= set(rej["reason"])


@pytest.fixture(scope="module")
def base_form(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid filled form, written once (tests copy it before editing)."""
    return write_form(tmp_path_factory.mktemp("form") / "base.xlsx", region=1, villages=VILLAGES, content=filled())


def _edit(path: Path, sheet_no: int, cell: str, value: object) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = next(w for w in wb.worksheets if w.title.split(" ")[0] == str(sheet_no))
    ws[cell] = value
    wb.save(path)


@pytest.mark.parametrize(
    ("sheet", "cell", "value", "column", "reason"),
    [
        (6, "C5", "two", "C (cases)", "not a whole number"),
        (6, "D5", "-50", "D (amount)", "negative amount"),
        (9, "E5", 47400.0, "E (closing)", "not the closing balance"),
        (8, "E11", 9.0, "E (share)", "they must sum to 100"),
        (2, "B5", "soon", "B (phase)", "not one of the listed values"),
        (3, "C5", dt.date(2026, 1, 3), "C (held_on)", "outside the reporting quarter"),
        (2, "A5", "99999999", "A (village)", "not one of the region's villages"),
        (6, "B5", "disaster", "B (welfare_type)", "not list as offered"),
    ],
)
def test_one_bad_cell_rejects_the_form_and_is_named(base_form: Path, tmp_path: Path, sheet: int, cell: str,
                                                    value: object, column: str, reason: str) -> None:
    import shutil

    p = Path(shutil.copy(base_form, tmp_path / "f.xlsx"))
    _edit(p, sheet, cell, value)
    got, rej, _ = read_form(p)
    assert got is None
    hit = rej[rej["reason"].str.contains(reason)]
    assert len(hit) >= 1, rej.to_string()
    r = hit.iloc[0]
    assert r["sheet"].split(" ")[0] == str(sheet) and r["column"] == column and r["file"] == "f.xlsx"
    if sheet != 8:
        assert int(r["row"]) == int(cell[1:])


def test_share_tolerance_is_stated(tmp_path: Path) -> None:
    c = filled()
    al = c.sections["allocation"]
    al.loc[al.index[-1], "share"] = 9.8  # shares sum to 99.8
    p = write_form(tmp_path / "f.xlsx", region=1, villages=VILLAGES, content=c)
    got, rej, warn = read_form(p)
    assert got is not None and rej.empty and "99.8%" in warn["reason"].iloc[0]
    got, rej, _ = read_form(p, rules=FormRules(share_tolerance=0.1))
    assert got is None and "100 ± 0.1" in rej["reason"].iloc[0] and rej["row"].iloc[0] == 5


def test_thai_digits_baht_and_be_dates_are_read(base_form: Path, tmp_path: Path) -> None:
    import shutil

    p = Path(shutil.copy(base_form, tmp_path / "f.xlsx"))
    _edit(p, 6, "D5", "๒,๐๐๐ บาท")
    _edit(p, 3, "C5", "21/07/2569")
    _edit(p, 1, "C5", "Q3/2026")
    got, rej, _ = read_form(p)
    assert rej.empty, rej.to_string()
    assert got.sections["payouts"]["amount"].iloc[0] == 2000.0
    assert got.sections["workshops"]["held_on"].iloc[0] == dt.date(2026, 7, 21)
    assert got.period == Period(2026, 3)


def test_not_an_xlsx(tmp_path: Path) -> None:
    p = tmp_path / "x.xlsx"
    p.write_text("hello")
    got, rej, _ = read_form(p)
    assert got is None and "not a readable .xlsx" in rej["reason"].iloc[0]
