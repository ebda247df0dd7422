"""The final report opened in a real browser (headless Chromium driven by Playwright), both editions.

Each edition is rendered once per session (fixtures ``demo_project`` and ``demo_report_en``) and opened once
per edition with every network request routed: ``file:`` and ``data:`` pass, anything else is recorded and
aborted. Checked: no console error, no network request, no table or figure wider than the page (at 1280 px
on screen and at the A4 text width in print media), every table-of-contents link lands on an element, every
figure has alt text that is not its caption, tables have ``<caption>`` and ``scope``, Thai text breaks only
between words, English passages of the Thai edition carry ``lang="en"``. Screenshots of every section are saved
under the session's temporary folder (``…/report-screenshots/<edition>/``) and, when ``WELFARE_EVAL_ARTEFACTS``
is set, copied there.

The tests skip only when no Chromium binary exists and the ``CI`` environment variable is unset; in CI a
missing browser is a failure (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: The report's text width in print: A4 (210 mm) minus the 14 mm side margins of reports/assets/report.css.
PRINT_WIDTH_PX = round((210 - 2 * 14) / 25.4 * 96)
SCREEN_WIDTH_PX = 1280


def chromium_binary() -> str | None:
    """Debian's ``chromium`` (or another Chromium on PATH)."""
    for cand in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(cand) if not cand.startswith("/") else (cand if Path(cand).is_file() else None)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    exe = chromium_binary()
    if exe is None:
        msg = "no Chromium binary (install Debian's `chromium`: apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{msg}; CI must run the browser tests (.ci/run installs it)")
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Opened:
    """An edition open in a page, with what the page asked for and what it logged."""

    edition: str
    path: Path
    page: Any
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture(scope="session", params=["th", "en"])
def opened(request: pytest.FixtureRequest, chromium: Any) -> Iterator[Opened]:
    """One edition opened at 1280 px with all requests routed (only file: and data: may load)."""
    edition = request.param
    root = request.getfixturevalue("demo_project")
    path = root / "reports" / "final_report.html" if edition == "th" else request.getfixturevalue("demo_report_en")
    page = chromium.new_page(viewport={"width": SCREEN_WIDTH_PX, "height": 1000})
    o = Opened(edition, path, page)

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            o.requests.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: o.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: o.console.append(f"pageerror: {e}"))
    page.goto(path.as_uri(), wait_until="load")
    yield o
    page.close()


_OVERFLOW_JS = """() => {
  const body = document.body, cs = getComputedStyle(body);
  const right = body.getBoundingClientRect().right - parseFloat(cs.paddingRight) + 1;
  const out = [];
  for (const el of document.querySelectorAll('table, figure, img, .table-float, math[display="block"]')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const id = el.id || (el.closest('[id]') || {}).id || el.tagName;
    if (r.right > right) out.push(`${id}: right edge ${Math.round(r.right)} > ${Math.round(right)}`);
    if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'IMG')
      out.push(`${id}: content ${el.scrollWidth} px in ${el.clientWidth} px (clipped or scrolled)`);
  }
  return out;
}"""


def test_no_console_errors_and_no_network(opened: Opened) -> None:
    assert opened.console == [], f"{opened.edition}: console messages {opened.console[:5]}"
    assert opened.requests == [], f"{opened.edition}: the report requested {opened.requests[:5]}"
    lang = opened.page.evaluate("document.documentElement.lang")
    assert lang == opened.edition


def test_nothing_wider_than_the_page_on_screen_and_in_print(opened: Opened) -> None:
    page = opened.page
    page.set_viewport_size({"width": SCREEN_WIDTH_PX, "height": 1000})
    page.emulate_media(media="screen")
    assert page.evaluate(_OVERFLOW_JS) == []
    try:
        page.emulate_media(media="print")
        page.set_viewport_size({"width": PRINT_WIDTH_PX, "height": 1000})
        assert page.evaluate(_OVERFLOW_JS) == [], "in print media at the A4 text width"
        # print keeps the table of contents and never clips a table behind a scrollbar
        assert page.evaluate("getComputedStyle(document.querySelector('nav#TOC')).display") != "none"
        clipped = page.evaluate(
            "[...document.querySelectorAll('.table-float')].filter(e => getComputedStyle(e).overflowX !== 'visible').length"
        )
        assert clipped == 0
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": SCREEN_WIDTH_PX, "height": 1000})


def test_every_toc_link_resolves(opened: Opened) -> None:
    res = opened.page.evaluate("""() => [...document.querySelectorAll('nav#TOC a')].map(a => {
        const id = decodeURIComponent((a.getAttribute('href') || '').replace(/^#/, ''));
        return [a.textContent, id, !!(id && document.getElementById(id))]; })""")
    assert len(res) >= 15, res
    bad = [r for r in res if not r[2]]
    assert bad == []
    # and every in-text cross-reference lands too
    dead = opened.page.evaluate("""() => [...document.querySelectorAll('a[href^="#"]')]
        .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))
        .filter(id => id && !document.getElementById(id))""")
    assert dead == []
    text = opened.page.evaluate("document.body.innerText")
    assert "?" not in [w[-1] for w in text.split() if w.startswith(("tbl-", "fig-", "sec-"))], "unresolved reference"


def test_every_figure_has_alt_text_stating_a_finding(opened: Opened) -> None:
    figs = opened.page.evaluate("""() => [...document.querySelectorAll('figure')].map(f => {
        const img = f.querySelector('img');
        return {id: f.id, alt: img ? img.getAttribute('alt') : null,
                cap: (f.querySelector('figcaption') || {}).innerText || ''}; })""")
    assert len(figs) >= 8
    for f in figs:
        assert f["id"].startswith("fig-"), f
        assert f["alt"] and len(f["alt"]) > 30, f
        assert f["alt"].strip() not in f["cap"], f"{f['id']}: the alt text repeats the caption"
    imgs_without_alt = opened.page.evaluate("[...document.images].filter(i => !i.getAttribute('alt')).length")
    assert imgs_without_alt == 0


def test_tables_are_accessible(opened: Opened) -> None:
    res = opened.page.evaluate("""() => [...document.querySelectorAll('.table-float table')].map(t => ({
        id: t.closest('.table-float').id,
        caption: ((t.querySelector('caption') || {}).innerText || '').replace(/[\u200b\u2060]/g, ''),
        colHeads: t.querySelectorAll('thead th').length,
        colScoped: t.querySelectorAll('thead th[scope="col"]').length,
        rows: t.querySelectorAll('tbody tr').length,
        rowHeads: t.querySelectorAll('tbody th[scope="row"]').length }))""")
    assert len(res) >= 25
    for t in res:
        assert t["caption"].strip(), t  # <caption>, announced with its table
        assert t["colHeads"] == t["colScoped"] > 0, t
        assert t["rowHeads"] == t["rows"], t  # every row has its label in a <th scope="row">
    # captions say where the numbers come from and how many
    src = "ที่มา" if opened.edition == "th" else "Source"
    assert all(src in t["caption"] for t in res)


_BREAKS_JS = """() => {
  // every line break inside a Thai run of a table cell or paragraph must fall at a word boundary (U+200B)
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let n;
  while ((n = walker.nextNode())) {
    if (!/[\\u0e01-\\u0e5b]/.test(n.data) || n.parentElement.closest('math, code, pre, nav')) continue;
    let lastTop = null;
    for (let i = 0; i < n.data.length; i++) {
      const ch = n.data[i];
      if (/[\\u0e31\\u0e34-\\u0e3a\\u0e47-\\u0e4e\\u200b\\u2060]/.test(ch)) continue; // marks and break characters
      range.setStart(n, i); range.setEnd(n, i + 1);
      const rects = range.getClientRects();
      if (!rects.length) continue;
      const top = Math.round(rects[0].top);
      if (lastTop !== null && top > lastTop + 2) {
        const prev = n.data.slice(0, i).replace(/[\\u2060]/g, '');
        const before = prev[prev.length - 1];
        if (/[\\u0e01-\\u0e5b]/.test(ch) && before && /[\\u0e01-\\u0e5b]/.test(before))
          bad.push(prev.slice(-8) + '|' + n.data.slice(i, i + 8).replace(/[\\u2060\\u200b]/g, ''));
      }
      lastTop = top;
    }
  }
  return bad.slice(0, 10);
}"""


def test_thai_breaks_only_between_words(opened: Opened) -> None:
    if opened.edition != "th":
        pytest.skip("the English edition has Thai only in names")
    page = opened.page
    for width in (SCREEN_WIDTH_PX, 700):  # wide, and narrow enough that table cells wrap more
        page.set_viewport_size({"width": width, "height": 1000})
        assert page.evaluate(_BREAKS_JS) == [], f"a line break inside a Thai word at {width} px"
    page.set_viewport_size({"width": SCREEN_WIDTH_PX, "height": 1000})


def test_english_passages_carry_their_language(opened: Opened) -> None:
    other = "en" if opened.edition == "th" else "th"
    # a Latin word (not letters inside a hex hash) in the Thai edition; Thai in the English one
    script = r"(?<![A-Za-z0-9])[A-Za-z]{3,}" if opened.edition == "th" else r"[\u0e01-\u0e5b]{2,}"
    missing = opened.page.evaluate(
        """([script, other]) => { const re = new RegExp(script); const out = [];
        const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); let n;
        while ((n = w.nextNode())) {
          if (!re.test(n.data) || n.parentElement.closest('math, code, pre, script, style')) continue;
          const host = n.parentElement.closest('[lang]');
          if (!host || host.getAttribute('lang') !== other) out.push(n.data.trim().slice(0, 40));
        }
        return out.slice(0, 10); }""",
        [script, other],
    )
    assert missing == []
    spans = opened.page.evaluate(f"document.querySelectorAll('span[lang=\"{other}\"]').length")
    assert spans >= (50 if opened.edition == "th" else 1)


def test_demo_banner_on_title_and_figures(opened: Opened) -> None:
    page = opened.page
    subtitle = page.evaluate("((document.querySelector('p.subtitle') || {}).innerText || '').replace(/[\\u200b\\u2060]/g, '')")
    assert ("ข้อมูลจำลอง" if opened.edition == "th" else "Simulated data") in subtitle
    assert page.evaluate("getComputedStyle(document.querySelector('p.subtitle')).borderTopStyle") == "solid"
    assert page.evaluate("document.querySelectorAll('.demo-banner').length") == 1


def test_screenshots_of_every_section(opened: Opened, tmp_path_factory: pytest.TempPathFactory) -> None:
    page = opened.page
    out = tmp_path_factory.getbasetemp() / "report-screenshots" / opened.edition
    out.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": SCREEN_WIDTH_PX, "height": 1400})
    ids = page.evaluate("[...document.querySelectorAll('h2[id]')].map(h => h.id)")
    assert len(ids) >= 15
    for k, sid in enumerate(ids):  # the first screenful of each section (no full-page relayout per shot)
        page.evaluate("(id) => window.scrollTo(0, document.getElementById(id).getBoundingClientRect().top"
                      " + window.scrollY - 8)", sid)
        page.screenshot(path=str(out / f"{k:02d}_{sid}.jpg"), type="jpeg", quality=70)
    page.set_viewport_size({"width": SCREEN_WIDTH_PX, "height": 1000})
    shots = sorted(out.glob("*.jpg"))
    assert len(shots) == len(ids) and all(p.stat().st_size > 5_000 for p in shots)
    dest = os.environ.get("WELFARE_EVAL_ARTEFACTS")
    if dest:
        target = Path(dest) / "report-screenshots" / opened.edition
        target.mkdir(parents=True, exist_ok=True)
        for p in shots:
            shutil.copy2(p, target / p.name)
