"""Check that a rendered HTML report needs no network: no remote scripts, styles, images or frames."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["check_self_contained"]

# Attributes that make a browser fetch something, per tag ("*" = any tag).
_FETCH_ATTRS: dict[str, tuple[str, ...]] = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
    "image": ("href", "xlink:href"),  # SVG
    "use": ("href", "xlink:href"),  # SVG
}
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(
    r"""url\(\s*(['"]?)(?P<u>[^'")]+)\1\s*\)|@import\s+(['"])(?P<i>[^'"]+)\3""", re.IGNORECASE
)


def _is_remote(url: str) -> bool:
    """``http(s)://``, ``ftp://`` or protocol-relative ``//host`` URLs; ``data:`` and ``#`` are local."""
    return bool(_REMOTE.match(url))


class _Collector(HTMLParser):
    def __init__(self, allow_links: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.allow_links = allow_links
        self.bad: list[str] = []
        self._in_style = False

    def _css(self, text: str) -> None:
        for m in _CSS_URL.finditer(text):
            u = m.group("u") or m.group("i") or ""
            if _is_remote(u):
                self.bad.append(u.strip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        wanted = _FETCH_ATTRS.get(tag, ())
        for name, value in attrs:
            if value is None:
                continue
            name = name.lower()
            if name in wanted:
                urls = (
                    [p.strip().split()[0] for p in value.split(",") if p.strip()]
                    if name == "srcset"
                    else [value]
                )
                self.bad.extend(u.strip() for u in urls if _is_remote(u))
            elif name == "style":
                self._css(value)
            elif tag == "a" and name == "href" and not self.allow_links and _is_remote(value):
                self.bad.append(value.strip())
        if tag == "style":
            self._in_style = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag.lower() == "style":
            self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag.lower() == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data)


def check_self_contained(html: str | Path, *, allow_links: bool = True) -> list[str]:
    """Remote URLs a browser would fetch when opening the report (empty list = self-contained).

    Looks at the ``src``/``href``/``srcset``/``data``/``poster`` attributes of ``script``, ``link``,
    ``img``, ``iframe``, ``source``, ``video``, ``audio``, ``embed``, ``object`` and SVG ``image``/``use``
    elements, and at ``url(...)`` / ``@import`` in ``<style>`` blocks and ``style=""`` attributes.
    Remote means ``http://``, ``https://``, any other ``scheme://`` or protocol-relative ``//host``;
    ``data:`` URIs and relative paths are not remote (relative paths are not checked for existence).

    Parameters
    ----------
    html : path or str
        A path to an HTML file (a :class:`~pathlib.Path`, or a string not starting with ``<``), or
        the HTML text itself.
    allow_links : bool, default True
        Plain hyperlinks ``<a href="https://...">`` (citations) are fetched only when clicked and are
        allowed; set ``False`` to list them too.

    Returns
    -------
    list of str
        The offending URLs in document order (duplicates kept).
    """
    if isinstance(html, Path) or not html.lstrip().startswith("<"):
        text = Path(html).read_text(encoding="utf-8")
    else:
        text = html
    c = _Collector(allow_links)
    c.feed(text)
    c.close()
    return c.bad
