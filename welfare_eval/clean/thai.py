"""Thai-aware parsers for raw survey and administrative exports.

Every parser is strict: it returns a value only when the text can mean exactly one thing and raises
:class:`ThaiParseError` (a ``ValueError``) with a one-line ``reason`` otherwise, so that a doubtful
value becomes a row of the checks report instead of a silently wrong number.

- :func:`thai_to_arabic_digits`: Thai digits ๐–๙ to 0–9 (pythainlp).
- :func:`normalize_text`: NFC, zero-width characters removed (pythainlp ``remove_zw`` plus BOM, ZWJ,
  word joiner, soft hyphen), all whitespace runs collapsed to one space (pythainlp ``remove_dup_spaces``).
- :func:`parse_be_date`, :func:`parse_be_year_month`, :func:`parse_be_year`: Buddhist-Era (B.E. = C.E. + 543)
  dates in the common formats (``15/03/2568``, ``15 มี.ค. 68``, ``15 มีนาคม 2568``, ``2568-03-15``),
  year-month codes (``256803``, ``2568-03``, ``03/2568``, ``มี.ค. 68``) and years.
- :func:`parse_baht`: amounts such as ``1,500``, ``1,500 บาท``, ``฿1,500.50``, ``1,500.-``, ``๑,๕๐๐``.
- :func:`split_title`: the title prefix (นาย, นาง, นางสาว, ด.ช., ...) split from a person's name.
- :func:`match_village_names`: village names matched to a code list, with near misses reported.

The Thai tokens (title prefixes, currency words, era markers) are data, kept in
``welfare_eval/clean/data/thai_tokens.csv``; Thai month names come from pythainlp.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
import re
import unicodedata
from functools import cache
from importlib import resources
from typing import Literal

import pandas as pd
from pythainlp.util import remove_dup_spaces, remove_zw, thai_digit_to_arabic_digit
from pythainlp.util.date import thai_abbr_months, thai_full_months

__all__ = [
    "BE_OFFSET",
    "BE_RANGE",
    "CE_RANGE",
    "Era",
    "ThaiParseError",
    "currency_tokens",
    "match_village_names",
    "normalize_text",
    "parse_baht",
    "parse_be_date",
    "parse_be_year",
    "parse_be_year_month",
    "split_title",
    "thai_to_arabic_digits",
    "title_codes",
    "village_name_key",
]

#: Buddhist Era year = Common Era year + 543.
BE_OFFSET = 543
#: Plausible Buddhist-Era years (C.E. 1857–2157); a 4-digit year outside is refused as B.E.
BE_RANGE = (2400, 2700)
#: Plausible Common-Era years when C.E. is allowed.
CE_RANGE = (1800, 2200)

Era = Literal["be", "ce", "auto"]

# Invisible characters removed besides pythainlp's ZWSP/ZWNJ: ZWJ, word joiner, BOM/ZWNBSP, soft hyphen.
_EXTRA_INVISIBLE = dict.fromkeys(map(ord, "\u200d\u2060\ufeff\u00ad"), None)
_SPACE_RE = re.compile(r"\s+")


class ThaiParseError(ValueError):
    """A raw value that a parser refuses; ``reason`` says why in one line."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"{value!r}: {reason}")


# --------------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------------
@cache
def _tokens() -> pd.DataFrame:
    with (resources.files("welfare_eval.clean") / "data" / "thai_tokens.csv").open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


@cache
def _tokens_of(kind: str) -> tuple[tuple[str, str], ...]:
    t = _tokens()
    t = t[t["kind"] == kind]
    pairs = list(zip(t["token"], t["code"], strict=True))
    return tuple(sorted(pairs, key=lambda p: -len(p[0])))  # longest first: นางสาว before นาง


def title_codes() -> pd.DataFrame:
    """The recognised title prefixes (token, code, note); codes are ``mr``, ``mrs``, ``miss``, ``boy``, ``girl``."""
    t = _tokens()
    return t[t["kind"] == "title"][["token", "code", "note"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------
def thai_to_arabic_digits(text: str) -> str:
    """Replace Thai digits ๐–๙ by ASCII digits 0–9 (other characters unchanged)."""
    return str(thai_digit_to_arabic_digit(text))


def normalize_text(text: str) -> str:
    """Unicode NFC, zero-width characters removed, whitespace runs collapsed, ends stripped.

    Thai digits are kept (use :func:`thai_to_arabic_digits`); letters are not otherwise changed.
    """
    s = str(text)
    if s.isascii() and s.isprintable() and "  " not in s:  # fast path: nothing to normalise but the ends
        return s.strip()
    s = unicodedata.normalize("NFC", s)
    s = remove_zw(s).translate(_EXTRA_INVISIBLE)
    s = _SPACE_RE.sub(" ", s)  # tabs, NBSP, ideographic and narrow spaces -> one ASCII space
    return str(remove_dup_spaces(s)).strip()


def _prepare(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ThaiParseError(value, "value is missing")
    s = thai_to_arabic_digits(normalize_text(str(value)))
    if not s:
        raise ThaiParseError(value, "value is empty")
    return s


# --------------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------------
def _month_alternatives() -> list[tuple[str, int]]:
    alts: list[tuple[str, int]] = []
    for i, (full, abbr) in enumerate(zip(thai_full_months, thai_abbr_months, strict=True), start=1):
        alts += [(full, i), (abbr, i), (abbr.replace(".", ""), i)]
    return sorted(alts, key=lambda p: -len(p[0]))


_MONTHS = _month_alternatives()
_MONTH_OF = dict(_MONTHS)
_MONTH_RE = "|".join(re.escape(m) for m, _ in _MONTHS)


def _era_re() -> str:
    toks = [re.escape(t) for t, _ in _tokens_of("era")]
    return "|".join(toks) if toks else "(?!)"


@cache
def _date_patterns() -> dict[str, re.Pattern[str]]:
    era = f"(?P<era>{_era_re()})"
    return {
        "dmy": re.compile(r"(?P<d>\d{1,2})\s*[/.\-]\s*(?P<m>\d{1,2})\s*[/.\-]\s*" + f"(?:{era}\\s*)?" + r"(?P<y>\d{4}|\d{2})"),
        "iso": re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"),
        "thai": re.compile(
            rf"(?P<d>\d{{1,2}})\s*(?P<mon>{_MONTH_RE})\s*(?:{era}\s*)?(?P<y>\d{{4}}|\d{{2}})"
        ),
        "ym_iso": re.compile(r"(?P<y>\d{4})\s*[-/]\s*(?P<m>\d{1,2})"),
        "ym_compact": re.compile(r"(?P<y>\d{4})(?P<m>\d{2})"),
        "my": re.compile(r"(?P<m>\d{1,2})\s*[/\-]\s*" + f"(?:{era}\\s*)?" + r"(?P<y>\d{4})"),
        "ym_thai": re.compile(rf"(?P<mon>{_MONTH_RE})\s*(?:{era}\s*)?(?P<y>\d{{4}}|\d{{2}})"),
        "year": re.compile(f"(?:{era}\\s*)?" + r"(?P<y>\d{4})"),
    }


def _era_of_token(token: str | None, era: Era, value: object) -> Era:
    if not token:
        return era
    code = dict(_tokens_of("era"))[token]
    if era != "auto" and code != era:
        raise ThaiParseError(value, f"the text says {token} but the field is declared {era.upper()}")
    return "be" if code == "be" else "ce"


def _resolve_year(y: str, era: Era, value: object) -> int:
    """Common-Era year of a 2- or 4-digit year string under ``era``."""
    n = int(y)
    if len(y) == 2:
        if era == "ce":
            raise ThaiParseError(value, f"two-digit year {y} is ambiguous in C.E.; write the full year")
        return 2500 + n - BE_OFFSET  # '68' = B.E. 2568, the usual Thai short form
    lo_be, hi_be = BE_RANGE
    lo_ce, hi_ce = CE_RANGE
    if era == "be":
        if not lo_be <= n <= hi_be:
            hint = "; it looks like a C.E. year" if lo_ce <= n <= hi_ce else ""
            raise ThaiParseError(value, f"year {n} is not a Buddhist-Era year ({lo_be}–{hi_be}){hint}")
        return n - BE_OFFSET
    if era == "ce":
        if not lo_ce <= n <= hi_ce:
            hint = "; it looks like a B.E. year" if lo_be <= n <= hi_be else ""
            raise ThaiParseError(value, f"year {n} is not a C.E. year ({lo_ce}–{hi_ce}){hint}")
        return n
    if lo_be <= n <= hi_be:
        return n - BE_OFFSET
    if lo_ce <= n <= hi_ce:
        return n
    raise ThaiParseError(value, f"year {n} is neither a plausible B.E. nor C.E. year")


def _make_date(y: int, m: int, d: int, value: object) -> _dt.date:
    if not 1 <= m <= 12:
        raise ThaiParseError(value, f"month {m} is not 1–12")
    try:
        return _dt.date(y, m, d)
    except ValueError:
        raise ThaiParseError(value, f"day {d} does not exist in month {m} of {y} C.E. ({y + BE_OFFSET} B.E.)") from None


def parse_be_date(value: object, *, era: Era = "be") -> _dt.date:
    """Parse a (Buddhist-Era) date to a :class:`datetime.date` in the Common Era.

    Formats: ``15/03/2568``, ``15-3-68``, ``15.03.2568``, ``2568-03-15`` (a time part is ignored),
    ``15 มี.ค. 68``, ``15 มีค 2568``, ``15 มีนาคม พ.ศ. 2568``; Thai digits allowed. Two-digit years are
    read as B.E. 25yy.

    Parameters
    ----------
    value : str or date
        The raw value; :class:`datetime.date` objects are returned unchanged (their year is taken
        as C.E.) unless the year is a B.E. year, which is converted.
    era : {"be", "ce", "auto"}
        Era of 4-digit years: ``"be"`` refuses C.E.-looking years (the safe default for Thai forms),
        ``"ce"`` refuses B.E.-looking years, ``"auto"`` takes 2400–2700 as B.E. and 1800–2200 as C.E.

    Raises
    ------
    ThaiParseError
        If the text is not one of the formats, the year is implausible for ``era``, or the day does
        not exist (e.g. 29 February of a non-leap year).
    """
    if isinstance(value, _dt.datetime):
        value = value.date()
    if isinstance(value, _dt.date):
        y = value.year
        if BE_RANGE[0] <= y <= BE_RANGE[1] and era != "ce":
            return _make_date(y - BE_OFFSET, value.month, value.day, value)
        return value
    s = _prepare(value)
    pats = _date_patterns()
    m = pats["dmy"].fullmatch(s) or pats["thai"].fullmatch(s) or pats["iso"].fullmatch(s)
    if m is None:
        raise ThaiParseError(value, "not a date in a known format (dd/mm/yyyy, d เดือน yyyy, yyyy-mm-dd)")
    g = m.groupdict()
    e = _era_of_token(g.get("era"), era, value)
    month = _MONTH_OF[g["mon"]] if g.get("mon") else int(g["m"])
    return _make_date(_resolve_year(g["y"], e, value), month, int(g["d"]), value)


def parse_be_year_month(value: object, *, era: Era = "be") -> tuple[int, int]:
    """Parse a year-month code to ``(year_ce, month)``.

    Formats: ``256803``, ``2568-03``, ``2568/3``, ``03/2568``, ``มี.ค. 68``, ``มีนาคม 2568``.
    """
    s = _prepare(value)
    pats = _date_patterns()
    for key in ("ym_compact", "ym_iso", "my", "ym_thai"):
        m = pats[key].fullmatch(s)
        if m is None:
            continue
        g = m.groupdict()
        e = _era_of_token(g.get("era"), era, value)
        month = _MONTH_OF[g["mon"]] if g.get("mon") else int(g["m"])
        if not 1 <= month <= 12:
            raise ThaiParseError(value, f"month {month} is not 1–12")
        return _resolve_year(g["y"], e, value), month
    raise ThaiParseError(value, "not a year-month in a known format (yyyymm, yyyy-mm, mm/yyyy, เดือน yy)")


def parse_be_year(value: object, *, era: Era = "be") -> int:
    """Parse a 4-digit (B.E.) year, optionally written ``พ.ศ. 2568``, to the C.E. year (int)."""
    if isinstance(value, bool):
        raise ThaiParseError(value, "a boolean is not a year")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
            raise ThaiParseError(value, "year is not a whole number")
        value = str(int(value))
    s = _prepare(value)
    m = _date_patterns()["year"].fullmatch(s)
    if m is None:
        raise ThaiParseError(value, "not a 4-digit year")
    e = _era_of_token(m.group("era"), era, value)
    return _resolve_year(m.group("y"), e, value)


# --------------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------------
_AMOUNT_RE = re.compile(r"(?P<sign>[-−]?)(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?(?:\.-|\.–)?")


def parse_baht(value: object, *, allow_negative: bool = False) -> float:
    """Parse a baht amount to a float.

    Accepted: ``1500``, ``1,500``, ``1,500 บาท``, ``฿1,500.50``, ``1,500.-``, ``THB 1500``, Thai digits.
    Refused (with a reason): thousands groups that are not 3 digits (``1,50``), more than 2 decimals
    (``1.500`` could be a European thousands separator), several numbers, negative amounts unless
    ``allow_negative``, and anything that is not an amount.
    """
    if isinstance(value, bool):
        raise ThaiParseError(value, "a boolean is not an amount")
    if isinstance(value, int | float):
        x = float(value)
        if not math.isfinite(x):
            raise ThaiParseError(value, "amount is not finite")
        if x < 0 and not allow_negative:
            raise ThaiParseError(value, "negative amount")
        return x
    s = _prepare(value)
    # one currency sign/code before the amount, one currency word/sign/code after it
    for token, _ in _tokens_of("currency_prefix"):
        if s.startswith(token):
            s = s[len(token) :].strip()
            break
    for token, _ in _tokens_of("currency"):
        if s.endswith(token):
            s = s[: -len(token)].strip()
            break
    s = s.replace(" ", "")
    m = _AMOUNT_RE.fullmatch(s)
    if m is None:
        if re.fullmatch(r"[-−]?[\d,]+(\.\d+)?", s):
            if re.search(r"\.\d{3,}$", s):
                raise ThaiParseError(value, "more than 2 decimals (is the dot a thousands separator?)")
            raise ThaiParseError(value, "thousands separators are not in groups of 3 digits")
        raise ThaiParseError(value, "not a baht amount")
    x = float(m.group("int").replace(",", "") + "." + (m.group("frac") or "0"))
    if m.group("sign") and x != 0:
        if not allow_negative:
            raise ThaiParseError(value, "negative amount")
        x = -x
    return x


# --------------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------------
def split_title(name: object) -> tuple[str | None, str]:
    """Split a title prefix from a person's name.

    Returns ``(code, rest)`` where ``code`` is ``mr``, ``mrs``, ``miss``, ``boy``, ``girl`` or ``None``
    (no recognised prefix) and ``rest`` the normalised name without it. The longest prefix wins
    (นางสาว before นาง); an English prefix must be followed by a space or a dot.

    Examples
    --------
    >>> split_title("นางสาวสมศรี ใจดี")[0]
    'miss'
    """
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return None, ""
    s = normalize_text(str(name))
    for token, code in _tokens_of("title"):
        if token.isascii():
            if s.lower().startswith(token.lower()):
                rest = s[len(token) :]
                if token.endswith(".") or rest[:1] in (" ", "."):
                    return code, rest.lstrip(". ").strip()
        elif s.startswith(token):
            return code, s[len(token) :].strip()
    return None, s


# --------------------------------------------------------------------------------------------------
# Village names
# --------------------------------------------------------------------------------------------------
def village_name_key(name: str) -> str:
    """Comparison key of a village name: normalised, Thai digits to ASCII, lower case, no spaces."""
    s = thai_to_arabic_digits(normalize_text(name)).lower()
    return s.replace(" ", "")


def currency_tokens() -> list[str]:
    """Currency words and signs recognised by :func:`parse_baht` (longest first)."""
    return sorted({t for k in ("currency", "currency_prefix") for t, _ in _tokens_of(k)}, key=lambda t: -len(t))


def match_village_names(
    names: pd.Series,
    codes: pd.DataFrame,
    *,
    name_col: str = "village_name",
    code_col: str = "village_id",
    cutoff: float = 0.8,
) -> pd.DataFrame:
    """Match village names to a code list.

    Names are compared after :func:`normalize_text`, Thai digits to ASCII and spaces removed. An exact
    match of a name that is unique in the list gives ``status="exact"``; otherwise the closest names
    by :class:`difflib.SequenceMatcher` ratio ≥ ``cutoff`` give ``"near"`` (a near miss, reported, with
    the candidate code) and anything else ``"none"``. Names listed twice in the code list give
    ``"ambiguous"``.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``names``: ``name``, ``status``, ``village_id`` (exact only), ``candidate``
        (best near match), ``score``.
    """
    keys = codes[name_col].astype(str).map(village_name_key)
    counts = keys.value_counts()
    lookup = dict(zip(keys, codes[code_col].astype(str), strict=True))
    uniq = sorted(set(keys))
    rows = []
    for raw in names.astype("string").fillna(""):
        k = village_name_key(raw)
        if k and k in lookup:
            amb = counts[k] > 1
            rows.append((raw, "ambiguous" if amb else "exact", None if amb else lookup[k], None, 1.0))
            continue
        best = difflib.get_close_matches(k, uniq, n=1, cutoff=cutoff) if k else []
        if best:
            score = difflib.SequenceMatcher(None, k, best[0]).ratio()
            rows.append((raw, "near", None, lookup[best[0]], score))
        else:
            rows.append((raw, "none", None, None, 0.0))
    return pd.DataFrame(rows, columns=["name", "status", "village_id", "candidate", "score"], index=names.index)
