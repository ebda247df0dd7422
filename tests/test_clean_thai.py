"""Property and example tests of the Thai parsers (welfare_eval.clean.thai)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from welfare_eval.clean.thai import (
    ThaiParseError,
    match_village_names,
    normalize_text,
    parse_baht,
    parse_be_date,
    parse_be_year,
    parse_be_year_month,
    split_title,
    thai_to_arabic_digits,
)

# Independent tables for the tests (not taken from the module under test).
THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
MONTHS_FULL = [
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
]  # fmt: skip
MONTHS_ABBR = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]


def to_thai_digits(s: str) -> str:
    return "".join(THAI_DIGITS[int(c)] if c.isdigit() else c for c in s)


dates = st.dates(min_value=dt.date(1857, 1, 1), max_value=dt.date(2157, 12, 31))
short_year_dates = st.dates(min_value=dt.date(1957, 1, 1), max_value=dt.date(2056, 12, 31))


def _fmt(d: dt.date, style: int, *, short: bool = False) -> str:
    be = d.year + 543
    y = f"{be % 100:02d}" if short else str(be)
    return [
        f"{d.day:02d}/{d.month:02d}/{y}",
        f"{d.day}/{d.month}/{y}",
        f"{d.day} {MONTHS_ABBR[d.month - 1]} {y}",
        f"{d.day} {MONTHS_FULL[d.month - 1]} {y}",
        f"{d.day:02d}-{d.month:02d}-{y}",
        f"{d.day}{MONTHS_ABBR[d.month - 1]}{y}",
    ][style]


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(0, 5), st.booleans())
def test_be_date_round_trip(d: dt.date, style: int, thai: bool) -> None:
    s = _fmt(d, style)
    if thai:
        s = to_thai_digits(s)
    assert parse_be_date(s) == d


@settings(max_examples=200, deadline=None)
@given(short_year_dates, st.integers(0, 5))
def test_be_date_two_digit_year(d: dt.date, style: int) -> None:
    assert parse_be_date(_fmt(d, style, short=True)) == d


@settings(max_examples=100, deadline=None)
@given(dates)
def test_be_date_iso_and_marker(d: dt.date) -> None:
    assert parse_be_date(f"{d.year + 543}-{d.month:02d}-{d.day:02d}") == d
    assert parse_be_date(f"{d.day} {MONTHS_FULL[d.month - 1]} พ.ศ. {d.year + 543}") == d


@settings(max_examples=200, deadline=None)
@given(st.integers(2400, 2700), st.integers(1, 12), st.integers(29, 35))
def test_be_date_impossible_day_rejected(be: int, month: int, day: int) -> None:
    ce = be - 543
    last = (dt.date(ce + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    s = f"{day}/{month}/{be}"
    if day <= last:
        assert parse_be_date(s) == dt.date(ce, month, day)
    else:
        with pytest.raises(ThaiParseError, match="does not exist"):
            parse_be_date(s)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(1800, 1, 1), max_value=dt.date(2200, 12, 31)))
def test_ce_year_refused_as_be(d: dt.date) -> None:
    with pytest.raises(ThaiParseError, match="not a Buddhist-Era year"):
        parse_be_date(f"{d.day}/{d.month}/{d.year}")
    assert parse_be_date(f"{d.day}/{d.month}/{d.year}", era="ce") == d


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789/-. มีค", max_size=14))
def test_be_date_garbage_never_silent(s: str) -> None:
    """Any text either parses to a date whose day and month appear in it, or is refused with a reason."""
    try:
        d = parse_be_date(s)
    except ThaiParseError as exc:
        assert exc.reason
        return
    assert str(d.day) in s or f"{d.day:02d}" in s
    assert str(d.year + 543)[-2:] in s


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "15/13/2568", "32/01/2568", "15/03/1500", "2568", "15 มีนาค 2568", "15//2568", "abc", "29/02/2568"],
)
def test_be_date_examples_refused(bad: str) -> None:
    with pytest.raises(ThaiParseError):
        parse_be_date(bad)


def test_be_date_examples() -> None:
    assert parse_be_date("15/03/2568") == dt.date(2025, 3, 15)
    assert parse_be_date("15 มี.ค. 68") == dt.date(2025, 3, 15)
    assert parse_be_date("15 มีนาคม 2568") == dt.date(2025, 3, 15)
    assert parse_be_date("๑๕/๐๓/๒๕๖๘") == dt.date(2025, 3, 15)
    assert parse_be_date("29/02/2567") == dt.date(2024, 2, 29)  # B.E. 2567 = C.E. 2024, a leap year
    assert parse_be_date("2025-03-15", era="auto") == dt.date(2025, 3, 15)
    assert parse_be_date("2568-03-15", era="auto") == dt.date(2025, 3, 15)
    with pytest.raises(ThaiParseError, match="declared"):
        parse_be_date("15 มีนาคม ค.ศ. 2025")


@settings(max_examples=200, deadline=None)
@given(st.integers(2400, 2700), st.integers(1, 12), st.integers(0, 3))
def test_year_month_round_trip(be: int, m: int, style: int) -> None:
    s = [f"{be}{m:02d}", f"{be}-{m:02d}", f"{m:02d}/{be}", f"{MONTHS_ABBR[m - 1]} {be}"][style]
    assert parse_be_year_month(s) == (be - 543, m)


def test_year_month_and_year_refusals() -> None:
    assert parse_be_year_month("มี.ค. 68") == (2025, 3)
    for bad in ("256813", "2568-00", "13/2568", "202503"):
        with pytest.raises(ThaiParseError):
            parse_be_year_month(bad)
    assert parse_be_year("2568") == 2025
    assert parse_be_year("พ.ศ. ๒๕๖๘") == 2025
    assert parse_be_year(2566) == 2023
    for bad in ("2025", "68", "25x8", 2566.5, True):
        with pytest.raises(ThaiParseError):
            parse_be_year(bad)


def _group(n: int) -> str:
    return f"{n:,}"


@settings(max_examples=400, deadline=None)
@given(
    st.integers(0, 10**11),
    st.sampled_from(["", "{} บาท", "฿{}", "{}.-", "{}บาท", "THB {}", "฿ {} บาท"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_baht_round_trip(satang: int, wrap: str, commas: bool, thai: bool, show_cents: bool) -> None:
    baht, cents = divmod(satang, 100)
    num = _group(baht) if commas else str(baht)
    if show_cents or cents:
        num += f".{cents:02d}"
    s = (wrap or "{}").format(num)
    if thai:
        s = to_thai_digits(s)
    assert parse_baht(s) == pytest.approx(satang / 100, rel=0, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.integers(1000, 10**9), st.data())
def test_baht_bad_grouping_refused(n: int, data: st.DataObject) -> None:
    digits = str(n)
    # a comma at a position that does not leave groups of three
    good = {len(digits) - 3 * k for k in range(1, len(digits))}
    bad_positions = [p for p in range(1, len(digits)) if p not in good]
    if not bad_positions:
        return
    p = data.draw(st.sampled_from(bad_positions))
    with pytest.raises(ThaiParseError):
        parse_baht(digits[:p] + "," + digits[p:])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 10**6), st.integers(100, 999))
def test_baht_three_decimals_and_negative_refused(n: int, frac: int) -> None:
    with pytest.raises(ThaiParseError, match="decimals"):
        parse_baht(f"{n}.{frac}")
    with pytest.raises(ThaiParseError, match="negative"):
        parse_baht(f"-{n}")
    assert parse_baht(f"-{n}", allow_negative=True) == -n


@pytest.mark.parametrize("bad", ["", "บาท", "1,5", "1,500,00", "1.500.000", "12a", "1 2 3x", "฿-", "nan", "inf", "1e5"])
def test_baht_examples_refused(bad: str) -> None:
    with pytest.raises(ThaiParseError):
        parse_baht(bad)


def test_baht_examples() -> None:
    assert parse_baht("1,500") == 1500.0
    assert parse_baht("1,500 บาท") == 1500.0
    assert parse_baht("฿1,500.50") == 1500.5
    assert parse_baht("๑,๕๐๐") == 1500.0
    assert parse_baht(250) == 250.0
    with pytest.raises(ThaiParseError):
        parse_baht(float("nan"))
    with pytest.raises(ThaiParseError):
        parse_baht(-3.0)


@given(st.integers(0, 10**15))
def test_thai_digits(n: int) -> None:
    assert thai_to_arabic_digits(to_thai_digits(str(n))) == str(n)
    assert thai_to_arabic_digits("ข้อ " + to_thai_digits(str(n))) == "ข้อ " + str(n)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("กขคงสมชายใจดี ab\u200b\u200c\ufeff\u00a0\t"))))
def test_normalize_text_properties(s: str) -> None:
    n = normalize_text(s)
    assert normalize_text(n) == n
    assert not any(c in n for c in "\u200b\u200c\ufeff\u00a0\t")
    assert "  " not in n
    assert n == n.strip()
    # only invisible characters and spacing are changed
    assert n.replace(" ", "") == "".join(c for c in s if c not in "\u200b\u200c\ufeff\u00a0\t ")


@pytest.mark.parametrize(
    ("name", "code", "rest"),
    [
        ("นางสาวสมศรี ใจดี", "miss", "สมศรี ใจดี"),
        ("น.ส. สมศรี ใจดี", "miss", "สมศรี ใจดี"),
        ("นางสมศรี", "mrs", "สมศรี"),
        ("นาย\u200bสมชาย  ใจดี ", "mr", "สมชาย ใจดี"),
        ("ด.ญ.มาลี", "girl", "มาลี"),
        ("เด็กชายต้น", "boy", "ต้น"),
        ("Mr. John Smith", "mr", "John Smith"),
        ("Missy Smith", None, "Missy Smith"),
        ("สมชาย ใจดี", None, "สมชาย ใจดี"),
    ],
)
def test_split_title(name: str, code: str | None, rest: str) -> None:
    assert split_title(name) == (code, rest)


def test_match_village_names() -> None:
    codes = pd.DataFrame({"village_id": ["10010101", "10010102", "10010103"], "village_name": ["บ้านหนองบัว", "บ้านโนนสูง", "บ้านดอนแดง"]})
    got = match_village_names(pd.Series(["บ้านหนองบัว", "บ้าน\u200bโนนสูง ", "บ้านหนองบว", "ตลาดใหม่"]), codes)
    assert got["status"].tolist() == ["exact", "exact", "near", "none"]
    assert got["village_id"].iloc[0] == "10010101"
    assert got["candidate"].iloc[2] == "10010101"


def _reference_baht(s: str) -> float | None:
    """An independent reading of a baht amount: None when it must be refused."""
    t = " ".join(s.split())
    if t[:1] == "฿" or t[:3] == "THB":
        t = t[1:] if t[:1] == "฿" else t[3:]
    for tok in ("บาท", "THB", "บ.", "฿"):
        if t.endswith(tok):
            t = t[: -len(tok)]
            break
    t = t.replace(" ", "")
    if t.endswith(".-"):
        t = t[:-2]
    if not t or t.count(".") > 1:
        return None
    whole, _, frac = t.partition(".")
    if frac and not (frac.isdigit() and len(frac) <= 2):
        return None
    if "." in t and not frac:
        return None
    groups = whole.split(",")
    if not all(g.isdigit() for g in groups):
        return None
    if len(groups) > 1 and not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
        return None
    return float("".join(groups) + "." + (frac or "0"))


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([*"0123456789,.", " ", "฿", "บาท", ".-", "๕", "THB", "บ."]), min_size=1, max_size=12).map("".join))
def test_baht_against_independent_reading(s: str) -> None:
    """Random strings: the parser and an independent reading agree on refusal and on the value."""
    s2 = thai_to_arabic_digits(s)
    want = _reference_baht(s2)
    try:
        got = parse_baht(s)
    except ThaiParseError as exc:
        assert exc.reason
        assert want is None, (s, want)
        return
    assert want is not None and got == pytest.approx(want, abs=1e-9), (s, got, want)


def _reference_date(s: str) -> dt.date | None:
    """An independent reading of d/m/y with a B.E. year: None when it must be refused."""
    parts = s.split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    d, m, y = parts
    if not (1 <= len(d) <= 2 and 1 <= len(m) <= 2 and len(y) in (2, 4)):
        return None
    be = 2500 + int(y) if len(y) == 2 else int(y)
    if not 2400 <= be <= 2700:
        return None
    try:
        return dt.date(be - 543, int(m), int(d))
    except ValueError:
        return None


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from([*"0123456789", "/", "/", "๒", "๕"]), min_size=1, max_size=11).map("".join))
def test_be_date_against_independent_reading(s: str) -> None:
    want = _reference_date(thai_to_arabic_digits(s))
    try:
        got = parse_be_date(s)
    except ThaiParseError as exc:
        assert exc.reason
        assert want is None, (s, want)
        return
    assert got == want, (s, got, want)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.integers(0, 14), st.integers(2300, 2800))
def test_be_date_grid(day: int, month: int, be: int) -> None:
    """Every (day, month, B.E. year) on a grid: accepted exactly when it is a real date in range."""
    s = f"{day}/{month}/{be}"
    want = _reference_date(s)
    if want is None:
        with pytest.raises(ThaiParseError):
            parse_be_date(s)
    else:
        assert parse_be_date(s) == want
