"""Typesetting of a rendered HTML page: Thai line breaks only between words, ``lang`` on foreign-script runs.

Thai is written without spaces between words, so a browser finds line-break opportunities with its own
dictionary. Chromium's (ICU) dictionary breaks inside words it does not know ("ครอ|นบาค" for Cronbach) and, in a
narrow table cell, even inside common words ("อย่างน้อยห|นึ่ง"); ``word-break: keep-all`` does not apply to
Thai (checked in Chromium 156). :func:`thai_breaks` therefore segments each Thai run with PyThaiNLP's word
tokenizer (``newmm``, dictionary maximal matching) and writes the segmentation into the text: a ZERO WIDTH
SPACE (U+200B, a break opportunity) between words and a WORD JOINER (U+2060, no break) between the grapheme
clusters inside a word, so the browser can break *only* between words. Fragments the dictionary does not know
(transliterations, names) are glued to their neighbours, so an unknown word is never split either; a few
transliterated technical terms of the report are kept whole explicitly (:data:`KEEP_WHOLE`).

:func:`lang_spans` marks runs of the other script: in a Thai page, English passages become
``<span lang="en">``; in an English page, Thai passages become ``<span lang="th">`` (screen readers switch
voice, browsers pick the right line breaking and hyphenation).

Both work on text nodes only: tags, attributes, entities, ``<script>``, ``<style>``, ``<math>``, ``<code>``,
``<pre>`` and ``<title>`` are left untouched.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Literal

__all__ = ["KEEP_WHOLE", "WJ", "ZWSP", "lang_spans", "segment_thai", "thai_breaks", "typeset_html"]

ZWSP = "\u200b"
WJ = "\u2060"

#: Transliterated terms the Thai dictionary lacks; kept as one unbreakable word.
KEEP_WHOLE: tuple[str, ...] = (
    "ครอนบาค",
    "แมคโดนัลด์",
    "โอเมกา",
    "แอลฟา",
    "ซัตเทอร์ธเวต",
    "บูตสแตรป",
    "โรมาโน",
    "วูล์ฟ",
    "มาฮาลาโนบิส",
    "เฟลด์ท",
)

_SKIP = {"script", "style", "math", "code", "pre", "title", "svg", "textarea", "kbd", "samp", "head"}
_TAG = re.compile(r"<!--.*?-->|<![^>]*>|<(?P<close>/)?(?P<name>[A-Za-z][A-Za-z0-9-]*)[^>]*?(?P<self>/)?>", re.S)
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
_THAI_RUN = re.compile(r"[\u0e01-\u0e5b]+")
# a Latin passage: from a Latin letter to the last Latin letter before the next Thai character
_LATIN_RUN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z](?:[^\u0e00-\u0e7f]*[A-Za-z])?\d*")
_THAI_PASSAGE = re.compile(r"[\u0e01-\u0e5b](?:[^A-Za-z<>&]*[\u0e01-\u0e5b])?")
_KEEP = re.compile("|".join(sorted(KEEP_WHOLE, key=len, reverse=True)))


@cache
def _dictionary() -> frozenset[str]:
    from pythainlp.corpus import thai_words

    return frozenset(thai_words())


def warm_up() -> None:
    """Load the dictionary and PyThaiNLP's word trie now (the first segmentation otherwise pays for it)."""
    _dictionary()
    _tokenize("ภาษาไทย")


def _tokenize(text: str) -> list[str]:
    from pythainlp.tokenize import word_tokenize

    return [t for t in word_tokenize(text, engine="newmm", keep_whitespace=False) if t]


@cache
def segment_thai(run: str) -> tuple[str, ...]:
    """Words of a run of Thai characters: PyThaiNLP ``newmm`` tokens, with fragments the dictionary does not
    know glued to their neighbours (a break is allowed only between two known words) and
    :data:`KEEP_WHOLE` terms kept whole."""
    words = _dictionary()
    pieces: list[tuple[str, bool]] = []  # (token, known)
    pos = 0
    for m in _KEEP.finditer(run):
        pieces += [(t, t in words) for t in _tokenize(run[pos : m.start()])] if m.start() > pos else []
        pieces.append((m.group(0), True))
        pos = m.end()
    if pos < len(run):
        pieces += [(t, t in words) for t in _tokenize(run[pos:])]
    out: list[str] = []
    prev_known = True
    for tok, known in pieces:
        if out and not (known and prev_known):
            out[-1] += tok
        else:
            out.append(tok)
        prev_known = known
    return tuple(out)


def _join_graphemes(word: str) -> str:
    """WORD JOINER between grapheme clusters (never before a combining mark or SARA AM)."""
    chars = []
    for k, ch in enumerate(word):
        if k and unicodedata.category(ch) not in ("Mn", "Mc") and ch != "\u0e33":
            chars.append(WJ)
        chars.append(ch)
    return "".join(chars)


def thai_breaks(text: str) -> str:
    """``text`` with break opportunities only between Thai words (see the module docstring)."""

    def sub(m: re.Match[str]) -> str:
        return ZWSP.join(_join_graphemes(w) for w in segment_thai(m.group(0)))

    return _THAI_RUN.sub(sub, text)


def lang_spans(text: str, *, page_lang: Literal["th", "en"]) -> list[tuple[str, str | None]]:
    """``text`` cut into ``(piece, lang)``: ``lang`` is ``"en"`` for an English passage in a Thai page (one
    with a word of two or more Latin letters), ``"th"`` for a Thai passage in an English page, else ``None``."""
    pattern = _LATIN_RUN if page_lang == "th" else _THAI_PASSAGE
    out: list[tuple[str, str | None]] = []
    pos = 0
    for m in pattern.finditer(text):
        if page_lang == "th" and not re.search(r"[A-Za-z]{2}", m.group(0)):
            continue
        if m.start() > pos:
            out.append((text[pos : m.start()], None))
        out.append((m.group(0), "en" if page_lang == "th" else "th"))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def _text(segment: str, *, page_lang: Literal["th", "en"], breaks: bool, spans: bool) -> str:
    out: list[str] = []
    pos = 0
    for m in [*_ENTITY.finditer(segment), None]:
        end = m.start() if m is not None else len(segment)
        chunk = segment[pos:end]
        if chunk:
            pieces = lang_spans(chunk, page_lang=page_lang) if spans else [(chunk, None)]
            for piece, lang in pieces:
                piece = thai_breaks(piece) if breaks else piece
                out.append(f'<span lang="{lang}">{piece}</span>' if lang else piece)
        if m is not None:
            out.append(m.group(0))
            pos = m.end()
    return "".join(out)


def typeset_html(
    page: str, *, lang: Literal["th", "en"], thai_breaks: bool = True, lang_spans: bool = True
) -> str:
    """Apply :func:`thai_breaks` and/or :func:`lang_spans` to the text nodes of an HTML page."""
    out: list[str] = []
    skip: list[str] = []
    pos = 0
    for m in _TAG.finditer(page):
        if m.start() > pos:
            seg = page[pos : m.start()]
            out.append(seg if skip or not seg.strip() else _text(seg, page_lang=lang, breaks=thai_breaks,
                                                                   spans=lang_spans))
        tag = m.group(0)
        name = (m.group("name") or "").lower()
        if name in _SKIP:
            if m.group("close"):
                if name in skip:
                    while skip and skip.pop() != name:
                        pass
            elif not m.group("self"):
                skip.append(name)
        out.append(tag)
        pos = m.end()
    rest = page[pos:]
    out.append(rest if skip or not rest.strip() else _text(rest, page_lang=lang, breaks=thai_breaks,
                                                            spans=lang_spans))
    return "".join(out)
