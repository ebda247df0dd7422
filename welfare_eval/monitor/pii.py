"""PII scrubbing of free text before it is stored: national IDs, phone numbers, person names.

Free-text answers (problems and obstacles, lessons, eligibility notes, the submitting office) often
carry personal data: "คุณสมศรี มีสุข โทร 081 234 5678 ได้รับเงินช่วยเหลือ". :func:`scrub_text` masks

* **Thai national IDs and phone numbers** in any spacing, punctuation or digits, by the one rule of
  :mod:`welfare_eval.clean.pii` (13 digits together or in the official 1-4-5-2-1 grouping are masked
  whatever the check digit — a mistyped ID is still an ID —, other groupings when the check digit is
  right; phones ``0`` + 8–9 digits or ``+66``/``0066`` + 8–9 digits);
* **person names where they can be detected**: the words after a title or honorific (นาย, นาง,
  นางสาว, น.ส., ด.ช., ด.ญ., คุณ, กำนัน, ผู้ใหญ่บ้าน, ... , Mr/Mrs/Ms/Miss/Dr) up to the end of the
  surname. Thai words are segmented with pythainlp's dictionary tokenizer (``newmm``), so
  "นายกเทศมนตรี" (mayor) or "คุณภาพ" (quality) are single words and are not taken for a title;
  names given in ``known_names`` are masked wherever they occur.

Commas are not separators, so amounts such as ``1,234,567`` are never taken for numbers to mask. Text is
normalised first (NFC, zero-width
characters removed, whitespace runs collapsed: :func:`welfare_eval.clean.thai.normalize_text`), so a
zero-width space cannot hide an ID.

Name detection is a heuristic: a name written without a title ("สมชายมาประชุม") cannot be told from
other words and is not masked; pass such names in ``known_names``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pandas as pd

from welfare_eval.clean.pii import pii_spans
from welfare_eval.clean.thai import normalize_text, thai_to_arabic_digits, title_codes

__all__ = ["MASKS", "PIISpan", "find_pii", "scrub_text"]

#: Replacement text of each kind of PII.
MASKS: dict[str, str] = {"national_id": "[national-id]", "phone": "[phone]", "name": "[name]"}

_GROUP = re.compile(r"\d+")
_SEP = re.compile(r"[\s\-\u2010-\u2015./()\u00b7]{0,3}")
_LETTER = re.compile(r"[\u0e01-\u0e4e\w]", re.UNICODE)
_EN_NAME = re.compile(r"\s*[A-Z][A-Za-z'\-]+(?:\s+[A-Z][A-Za-z'\-]+)?")


@dataclass(frozen=True)
class PIISpan:
    """A piece of PII found in a (normalised) text: ``kind``, character span and the text."""

    kind: str
    start: int
    end: int
    text: str


@cache
def _titles() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Thai titles/honorifics, English titles), longest first."""
    toks = list(title_codes()["token"]) if "token" in title_codes().columns else []
    path = resources.files("welfare_eval.monitor") / "data" / "honorifics.csv"
    with path.open("r", encoding="utf-8") as fh:
        toks += list(pd.read_csv(fh, dtype=str, keep_default_na=False)["token"])
    th = sorted({t for t in toks if not t.isascii()}, key=len, reverse=True)
    en = sorted({t for t in toks if t.isascii()}, key=len, reverse=True)
    return tuple(th), tuple(en)


def _numbers(text: str) -> list[PIISpan]:
    """National IDs and phone numbers in ``text``: the cleaning stage's detector
    (:func:`welfare_eval.clean.pii.pii_spans`), so that a number is personal data by one rule everywhere."""
    return [PIISpan(kind, a, b, text[a:b]) for a, b, kind in pii_spans(text)]


def _names(text: str, known_names: Iterable[str]) -> list[PIISpan]:
    from pythainlp.tokenize import word_tokenize

    th_titles, en_titles = _titles()
    out: list[PIISpan] = []
    # Thai: tokens; a token equal to a title starts a name (given name up to the next space, then
    # the surname when it follows after one space)
    tokens = word_tokenize(text, engine="newmm", keep_whitespace=True)
    pos, spans = 0, []
    for t in tokens:
        spans.append((pos, pos + len(t), t))
        pos += len(t)
    k = 0
    while k < len(spans):
        t = spans[k][2]
        if t in th_titles:
            m = k + 1
            if m < len(spans) and spans[m][2].isspace():
                m += 1
            start = m
            while m < len(spans) and not spans[m][2].isspace() and _LETTER.match(spans[m][2]):
                m += 1
            if m > start:
                end_tok = m
                # surname: one space, then a run of letters
                if m + 1 < len(spans) and spans[m][2] == " " and _LETTER.match(spans[m + 1][2]):
                    n = m + 1
                    while n < len(spans) and not spans[n][2].isspace() and _LETTER.match(spans[n][2]):
                        n += 1
                    end_tok = n
                a, b = spans[start][0], spans[end_tok - 1][1]
                out.append(PIISpan("name", a, b, text[a:b]))
                k = end_tok
                continue
        k += 1
    # English titles: Mr. John Smith
    for tok in en_titles:
        for hit in re.finditer(rf"(?<![A-Za-z]){re.escape(tok)}(?![A-Za-z])", text):
            nm_m = _EN_NAME.match(text, hit.end())
            if nm_m:
                a = nm_m.start() + (len(nm_m.group(0)) - len(nm_m.group(0).lstrip()))
                out.append(PIISpan("name", a, nm_m.end(), text[a : nm_m.end()]))
    for name in known_names:
        nm = normalize_text(str(name)).strip()
        if len(nm) >= 2:
            for hit in re.finditer(re.escape(nm), text):
                out.append(PIISpan("name", hit.start(), hit.end(), hit.group(0)))
    return out


def find_pii(text: str, *, known_names: Iterable[str] = ()) -> list[PIISpan]:
    """The PII found in ``text`` after normalisation (see the module docstring), sorted by position.

    Spans refer to ``normalize_text(text)``; overlapping finds are merged into the earliest one.
    """
    norm = normalize_text(str(text))
    ascii_digits = thai_to_arabic_digits(norm)  # same length: Thai digits map one to one
    found = sorted(_numbers(ascii_digits) + _names(norm, known_names), key=lambda p: (p.start, -p.end))
    out: list[PIISpan] = []
    for p in found:
        if out and p.start < out[-1].end:
            if p.end > out[-1].end:
                q = out[-1]
                out[-1] = PIISpan(q.kind, q.start, p.end, norm[q.start : p.end])
            continue
        out.append(PIISpan(p.kind, p.start, p.end, norm[p.start : p.end]))
    return out


def scrub_text(text: object, *, known_names: Iterable[str] = ()) -> str:
    """``text`` normalised, with national IDs, phone numbers and detectable names masked.

    Examples
    --------
    >>> scrub_text("คุณสมศรี มีสุข โทร 081 234 5678 บัตร 1-1017-00203-45-0")
    'คุณ[name] โทร [phone] บัตร [national-id]'
    """
    if text is None:
        return ""
    norm = normalize_text(str(text))
    spans = find_pii(norm, known_names=known_names)
    parts, pos = [], 0
    for p in spans:
        parts.append(norm[pos : p.start])
        parts.append(MASKS[p.kind])
        pos = p.end
    parts.append(norm[pos:])
    return "".join(parts)
