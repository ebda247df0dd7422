"""Cell conversion by codebook type (welfare_eval.clean.apply), with the checks it reports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from welfare_eval.clean.apply import ROW, apply_codebook
from welfare_eval.clean.checks import CheckLog, Ledger
from welfare_eval.clean.codebook import Codebook, read_codebook

COLS = ["source", "raw_name", "name", "table", "type", "unit", "allowed", "min", "max", "missing_codes", "label_th", "label_en", "waves", "pii"]
ROWS = [
    ["t.csv", "money", "amount", "x", "money", "baht", "", "0", "100000", "-9", "", "", "", ""],
    ["t.csv", "date", "visit", "x", "date", "BE date", "", "", "", "", "", "", "", ""],
    ["t.csv", "ts", "submitted_at", "x", "date", "ISO 8601 with offset", "", "", "", "", "", "", "", ""],
    ["t.csv", "year", "year", "x", "int", "BE year", "", "2500", "2600", "", "", "", "", ""],
    ["t.csv", "ym", "month", "x", "year_month", "", "", "", "", "", "", "", "", ""],
    ["t.csv", "status", "status", "x", "category", "", "interviewed=สัมภาษณ์สำเร็จ|refused=ปฏิเสธ", "", "", "", "", "", "", ""],
    ["t.csv", "got", "received", "x", "bool", "", "1=ได้รับ|0=ไม่ได้รับ", "", "", "", "", "", "", ""],
    ["t.csv", "vid", "village_id", "x", "village_code", "", "", "", "", "", "", "", "", ""],
    ["t.csv", "nid", "national_id", "x", "national_id", "", "", "", "", "", "", "", "", "yes"],
    ["t.csv", "name", "head_name", "x", "person_name", "", "", "", "", "", "", "", "", "yes"],
    ["t.csv", "q1", "q1", "x", "int", "", "1|2|3|4|5", "1", "5", "99", "", "", "", ""],
]
RAW = {
    "money": ["฿1,500.50", "๑,๐๐๐ บาท", "-9", "abc", "200000"],
    "date": ["15/03/2568", "15 มี.ค. 68", "2025-03-15", "31/02/2568", ""],
    "ts": ["2024-02-01T11:14:00.000+07:00", "2024-02-01T04:14:00Z", "2567-02-01T00:00:00", "x", ""],
    "year": ["2566", "๒๕๖๗", "2023", "2566", ""],
    "ym": ["256803", "มี.ค. 68", "2568-13", "", ""],
    "status": ["สัมภาษณ์สำเร็จ", "refused", " ปฏิเสธ ", "อื่น ๆ", ""],
    "got": ["ได้รับ", "ไม่ได้รับ", "1", "บางที", ""],
    "vid": ["12010601", "๑๒๐๑๐๖๐๑", "1201060", "12000601", ""],
    "nid": ["1234567890121", "1-2345-67890-12-1", "1234567890122", "", ""],
    "name": ["นางสาว\u200bสมศรี ใจดี", "นายสมชาย  ใจดี", " ด.ช.ต้น", "สมหญิง", ""],
    "q1": ["3", "99", "6", "2.5", ""],
}


def _run() -> tuple[pd.DataFrame, pd.DataFrame]:
    cb = Codebook.from_frame(pd.DataFrame(ROWS, columns=COLS))
    log = CheckLog()
    out = apply_codebook(pd.DataFrame(RAW, dtype="string"), cb.for_file("t.csv"), file="t.csv", log=log)
    return out, log.frame()


def test_values_and_types() -> None:
    out, _ = _run()
    assert out[ROW].tolist() == [2, 3, 4, 5, 6]
    assert out["amount"].tolist()[:2] == [1500.5, 1000.0] and out["amount"].iloc[2:].isna().all()
    assert out["visit"].tolist()[:2] == [pd.Timestamp("2025-03-15")] * 2 and out["visit"].iloc[2:].isna().all()
    assert out["submitted_at"].tolist()[:2] == [pd.Timestamp("2024-02-01 11:14:00")] * 2  # UTC → Thai time
    assert out["year"].tolist()[:2] == [2023, 2024] and pd.isna(out["year"].iloc[2])
    assert out["month"].tolist()[:2] == ["2025-03", "2025-03"] and pd.isna(out["month"].iloc[2])
    assert out["status"].tolist()[:3] == ["interviewed", "refused", "refused"] and pd.isna(out["status"].iloc[3])
    assert out["received"].tolist()[:3] == [1, 0, 1] and pd.isna(out["received"].iloc[3])
    assert out["village_id"].tolist()[:2] == ["12010601", "12010601"] and out["village_id"].iloc[2:].isna().all()
    assert out["national_id"].tolist()[:2] == ["1234567890121"] * 2 and out["national_id"].iloc[2:].isna().all()
    assert out["head_title"].tolist()[:3] == ["miss", "mr", "boy"] and out["head_title"].iloc[3:].isna().all()
    assert out["head_name"].tolist()[:2] == ["นางสาวสมศรี ใจดี", "นายสมชาย ใจดี"]
    assert out["q1"].tolist()[0] == 3 and out["q1"].iloc[1:].isna().all()
    assert str(out["amount"].dtype) == "float64" and str(out["year"].dtype) == "Int64"
    assert str(out["visit"].dtype).startswith("datetime64")


def test_checks_reported() -> None:
    _, c = _run()
    rules = c.groupby(["column", "rule"]).size().to_dict()
    assert rules[("money", "missing_code")] == 1 and rules[("money", "type")] == 1 and rules[("money", "range")] == 1
    assert rules[("money", "thai_digits")] == 1 and rules[("money", "currency_text")] == 2
    assert rules[("date", "type")] == 2  # a C.E. date in a B.E. field, and 31 February
    msg = c.loc[(c["column"] == "date") & (c["row"] == 4), "message"].item()
    assert "Buddhist-Era" in msg
    assert rules[("ts", "type")] == 2 and rules[("year", "range")] == 1 and rules[("ym", "type")] == 1
    assert rules[("status", "allowed_codes")] == 1 and rules[("status", "whitespace")] == 1
    assert rules[("got", "allowed_codes")] == 1
    assert rules[("vid", "village_code")] == 2
    assert rules[("nid", "national_id")] == 1
    assert rules[("name", "zero_width")] == 1 and rules[("name", "whitespace")] == 2
    assert rules[("q1", "missing_code")] == 1 and rules[("q1", "range")] == 1 and rules[("q1", "type")] == 1
    # personal data never appears in the report
    assert (c.loc[c["column"].isin(["nid", "name"]), "value"] == "<pii>").all()
    assert c["severity"].isin(["error", "warning", "info"]).all()


def test_ledger_totals() -> None:
    led = Ledger()
    led.open_file("a.csv", "", [2, 3, 4, 5])
    led.reject("a.csv", "", 3, "bad village")
    led.merge("a.csv", "", 5, 2, "exact duplicate of row 2")
    led.reject("a.csv", "", 5, "ignored: merged rows stay merged")
    t = led.totals().set_index("file").loc["a.csv"]
    assert (t["read"], t["kept"], t["merged"], t["rejected"]) == (4, 2, 1, 1)
    f = led.frame()
    assert f.loc[f["row"] == 5, "merged_into"].item() == 2


def test_codebook_xlsx(tmp_path: Path) -> None:
    p = tmp_path / "codebook.xlsx"
    pd.DataFrame(ROWS, columns=COLS).to_excel(p, index=False)
    cb = read_codebook(p)
    assert len(cb.entries) == len(ROWS)
    assert cb.entries.loc[cb.entries["name"] == "status", "allowed_map"].item()["ปฏิเสธ"] == "refused"


@pytest.mark.parametrize("bad", ["", "x"])
def test_codebook_empty_type(bad: str) -> None:
    rows = [r.copy() for r in ROWS]
    rows[0][4] = bad
    from welfare_eval.clean import CleaningError

    with pytest.raises(CleaningError):
        Codebook.from_frame(pd.DataFrame(rows, columns=COLS))
