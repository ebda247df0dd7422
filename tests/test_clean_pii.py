"""Personal data in any layout (welfare_eval.clean.pii), the check log's masking, and line accounting of the reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from welfare_eval.clean import CleaningError, find_pii, mask_text, pii_kind, read_table
from welfare_eval.clean.checks import CheckLog
from welfare_eval.clean.pii import national_id_check_digit, safe_log_value

VALID = "1101700230708"  # check digit 8 by the mod-11 rule


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (VALID, "national ID"),
        ("1101700230705", "national ID"),  # wrong check digit, written together: still an ID
        ("1-1017-00230-70-8", "national ID"),
        ("1 1017 00230 70 5", "national ID"),  # the official grouping, any check digit
        ("1.1017.00230.70.8", "national ID"),
        ("11 0170 0230 708", "national ID"),  # another grouping: valid check digit
        ("๑๑๐๑๗๐๐๒๓๐๗๐๘", "national ID"),  # Thai digits
        ("เลขบัตร 1101700230708 ครับ", "national ID"),
        ("08 1234 5678", "phone number"),
        ("081-234-5678", "phone number"),
        ("0812345678", "phone number"),
        ("+66 81 234 5678", "phone number"),
        ("+66 (0)81 234 5678", "phone number"),
        ("0066 81 234 5678", "phone number"),
        ("02-123-4567", "phone number"),
        ("โทร.๐๘๑๒๓๔๕๖๗๘", "phone number"),
        ("โทร0812345678", "phone number"),
    ],
)
def test_found_in_any_layout(text: str, kind: str) -> None:
    assert pii_kind(text) == kind
    assert "<pii>" in mask_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "11 0170 0230 705",  # a non-official grouping with a wrong check digit: a list of numbers, not an ID
        "18030702-210",  # village code + household number
        "3f2a0b1c-0812-4567-8901-0a1b2c3d4e5f",  # a submission UUID
        "2024-02-01T08:15:00.000+07:00",
        "2024-02-01 08:15:00",
        "1,500,000",
        "01/02/2567",
        "256803",
        "12010601",
        "Hacdpbbkdmmnfeagh",
        "0.1234567",
        "บ้านหนองบัว หมู่ 5",
        "",
    ],
)
def test_not_personal_data(text: str) -> None:
    assert pii_kind(text) is None
    assert mask_text(text) == text


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.sampled_from([" ", "-", "", "."]))
def test_any_valid_id_in_the_official_grouping_is_found(first12: str, sep: str) -> None:
    d = first12 + str(national_id_check_digit(first12))
    text = sep.join([d[0], d[1:5], d[5:10], d[10:12], d[12]])
    assert pii_kind(f"หมายเหตุ {text} ok") == "national ID"


def test_mask_keeps_the_rest() -> None:
    assert mask_text("โทร 08 1234 5678 หรือ 02-123-4567") == "โทร <pii> หรือ <pii>"


def test_safe_log_value() -> None:
    assert safe_log_value("นายสมชาย", pii=True) == ("<pii>", "")
    assert safe_log_value("x 081-234-5678")[0] == "<pii>"
    v, note = safe_log_value("ก" * 1000)
    assert len(v) == 201 and note == "value cut to 200 of 1,000 characters"
    assert safe_log_value(None) == ("", "") and safe_log_value(float("nan")) == ("", "")


def test_check_log_masks_pii_columns_and_messages() -> None:
    log = CheckLog(pii_columns={"f.csv": {"hh/name"}})
    log.add("f.csv", "", 2, "hh/name", "นายสมชาย ใจดี", "type", "'นายสมชาย ใจดี' is not allowed")
    log.add("f.csv", "", 3, "hh/hh_size", VALID, "range", f"{VALID} is above the maximum 20")
    log.add("f.csv", "", 4, "note", "=HYPERLINK(\"x\")", "type", "not a number")
    log.add("f.csv", "", 5, "village", "ก" * 5000, "village_name", "typed name differs")
    f = log.frame()
    assert list(f["value"][:2]) == ["<pii>", "<pii>"]
    assert "สมชาย" not in "".join(f["message"]) and VALID not in "".join(f["message"])
    assert "value masked: it holds a national ID" in f["message"].iloc[1]
    assert len(f["value"].iloc[3]) == 201 and "cut to 200 of 5,000" in f["message"].iloc[3]


def test_find_pii_columns() -> None:
    df = pd.DataFrame({
        "a": ["ok", "โทร 08 1234 5678"],
        "b": pd.Categorical(["x", "1-1017-00230-70-8"]),
        "c": pd.array([1, 1101700230708], dtype="Int64"),
        "d": ["Hacdpbbkdmmnfeagh", "12010601"],
        "e": [1.5, 2.5],
    })
    assert find_pii(df) == ["a", "b", "c"]


def test_error_messages_are_masked_and_one_line() -> None:
    e = CleaningError("row 3: 'โทร 0812345678' is not a number;\n fix it")
    assert str(e) == "row 3: 'โทร <pii>' is not a number; fix it"


def test_reader_accounts_for_every_line(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text('a,b,c\n1,"two\nlines",3\n\n4,5,6\n7,8\n9,10,11,12\n13,14,15,\n\n\n', encoding="utf-8")
    t = read_table(p)
    # rows count records as a spreadsheet shows them (a quoted line break stays in its cell), lines count
    # physical lines: row 2 spans lines 2-3, so row 3 (blank) is line 4, ...; a trailing empty field is no fault
    assert t.rows == (2, 4, 7) and t.lines == (2, 5, 8)
    assert t.data["b"].tolist() == ["two\nlines", "5", "14"]
    assert {(i.row, i.line, i.kind) for i in t.issues} == {(3, 4, "blank"), (5, 6, "short"), (6, 7, "long")}


def test_reader_row_and_line_numbers(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text('a,b\n1,"x\ny"\n2,z\n', encoding="utf-8")
    t = read_table(p)
    assert t.rows == (2, 3) and t.lines == (2, 4)


def test_one_detector_for_cleaning_and_monitoring() -> None:
    """The monitoring store's scrubber finds numbers with the cleaning stage's detector (one rule)."""
    from welfare_eval.clean.pii import national_id_check_digit, pii_spans
    from welfare_eval.monitor.pii import scrub_text

    first = "310100234567"
    nid = first + str(national_id_check_digit(first))
    text = f"โทร 081 234 5678 {nid[0]} {nid[1:5]} {nid[5:10]} {nid[10:12]} {nid[12]} หรือ (081) 234-5678, 66-81-234-5678"
    kinds = [k for _a, _b, k in pii_spans(text)]
    assert kinds == ["phone", "national_id", "phone", "phone"]
    assert scrub_text(text) == "โทร [phone] [national-id] หรือ [phone], [phone]"
    # identifiers are not personal data: a submission UUID and a village code with a household suffix
    for keep in ("uuid e3f2a1b0-0812-3456-7890-1234abcd5678 ok", "18030702-210", "ยอด 1,234,567,890 บาท"):
        assert pii_spans(keep) == [], keep
