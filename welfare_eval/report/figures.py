"""Thai-capable matplotlib figures with one consistent style.

Matplotlib's bundled DejaVu fonts have no Thai glyphs: Thai titles come out as empty boxes. The
``fontpkg-sarabun`` package ships the Sarabun family (SIL Open Font License); :func:`use_thai_font`
registers its TrueType files with matplotlib and makes it the default family, with DejaVu Sans as the
per-glyph fallback (matplotlib ≥ 3.6) for symbols Sarabun lacks.

Examples
--------
>>> from welfare_eval.report import figures
>>> figures.use_thai_font()
'Sarabun'
>>> figures.has_thai_glyphs()
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, cast

import matplotlib as mpl
from matplotlib import font_manager

__all__ = [
    "ARM_STYLE",
    "COLORBLIND",
    "MAX_WIDTH_IN",
    "METHOD_STYLE",
    "MIN_FONT_PT",
    "THAI_SAMPLE",
    "THEME_RC",
    "TRUTH_STYLE",
    "WAVE_STYLE",
    "FigureHTML",
    "check_thai_font",
    "figure",
    "font_files",
    "has_thai_glyphs",
    "legend_below",
    "savefig",
    "show",
    "style",
    "use_thai_font",
]

#: Thai characters checked by :func:`has_thai_glyphs`: consonants, vowels, tone marks, digits.
THAI_SAMPLE = "กขคงจฉญฎฐณดตถทนบปผพภมยรลวศษสหอฮะาำิีึืุูเแโใไ็่้๊๋์๐๑๒"

_FALLBACK = "DejaVu Sans"

#: Smallest font size (points) of any text in a report figure: at the report's page width (figures are at
#: most :data:`MAX_WIDTH_IN` inches, shown at 96 px per inch on screen and scaled to about 0.9 in print)
#: 9 pt stays readable.
MIN_FONT_PT = 9.0
#: Widest report figure (inches); wider ones would be scaled down below the readable font size.
MAX_WIDTH_IN = 7.5

#: Arms and waves are told apart by marker and line style as well as by colour (colour-blind and greyscale
#: readers). Keys: ``color``, ``marker``, ``linestyle``.
ARM_STYLE: dict[str, dict[str, Any]] = {
    "pilot": {"color": "#1f4e79", "marker": "o", "linestyle": "-"},
    "comparison": {"color": "#c0392b", "marker": "s", "linestyle": "--"},
}
WAVE_STYLE: dict[str, dict[str, Any]] = {
    "baseline": {"color": "#7f8c8d", "marker": "o", "linestyle": ":"},
    "midline": {"color": "#2e86c1", "marker": "^", "linestyle": "--"},
    "endline": {"color": "#1f4e79", "marker": "s", "linestyle": "-"},
}
#: Inference methods of the impact analysis.
METHOD_STYLE: dict[str, dict[str, Any]] = {
    "cr1": {"color": "#7f7f7f", "marker": "o", "linestyle": ":"},
    "cr2": {"color": "#1f4e79", "marker": "s", "linestyle": "-"},
    "wild": {"color": "#2e8b57", "marker": "D", "linestyle": "--"},
    "ri": {"color": "#d35400", "marker": "^", "linestyle": "-."},
}
#: The demo's planted truth.
TRUTH_STYLE: dict[str, Any] = {"color": "#8e0000", "marker": "x", "linestyle": (0, (1, 1))}


@cache
def font_files() -> tuple[Path, ...]:
    """The Sarabun ``.ttf`` files shipped by ``fontpkg-sarabun`` (sorted; empty if not installed)."""
    try:
        import fontpkg_sarabun
    except ImportError:  # pragma: no cover - the package is a dependency
        return ()
    root = Path(getattr(fontpkg_sarabun, "ROOT", Path(fontpkg_sarabun.__file__).parent))
    return tuple(sorted(root.rglob("*.ttf")))


def _family() -> str:
    try:
        import fontpkg_sarabun
    except ImportError:  # pragma: no cover
        return "Sarabun"
    return str(getattr(fontpkg_sarabun, "FAMILY", "Sarabun"))


def regular_font_file() -> Path:
    """Path of ``Sarabun-Regular.ttf``.

    Raises
    ------
    FileNotFoundError
        If ``fontpkg-sarabun`` is not installed.
    """
    files = font_files()
    for f in files:
        if f.stem.endswith("-Regular"):
            return f
    if files:
        return files[0]
    raise FileNotFoundError("no Sarabun .ttf found; install the 'fontpkg-sarabun' package")


_registered = False


def use_thai_font(*, theme: bool = True) -> str:
    """Register Sarabun with matplotlib and make it the default font; return the family name.

    Idempotent: the font files are added once per process; the rc settings are re-applied on every
    call (so calling it after ``seaborn.set_theme`` restores the Thai font).

    Parameters
    ----------
    theme : bool, default True
        Also apply the report style (:func:`style`) first; seaborn's theme resets fonts, which is why
        the font is set after it.
    """
    global _registered
    family = _family()
    if not _registered:
        files = font_files()
        if not files:
            raise FileNotFoundError("no Sarabun .ttf found; install the 'fontpkg-sarabun' package")
        for f in files:
            font_manager.fontManager.addfont(str(f))
        _registered = True
    if theme:
        style()
    mpl.rcParams["font.family"] = [family, _FALLBACK]
    mpl.rcParams["font.sans-serif"] = [family, *[f for f in mpl.rcParams["font.sans-serif"] if f != family]]
    mpl.rcParams["axes.unicode_minus"] = True
    mpl.rcParams["svg.fonttype"] = "path"
    return family


#: seaborn's colour-blind palette ("colorblind", 10 colours): the report's colour cycle.
COLORBLIND = ("#0173B2", "#DE8F05", "#029E73", "#D55E00", "#CC78BC", "#CA9161", "#FBAFE4", "#949494", "#ECE133",
              "#56B4E9")

#: The report's figure style: what ``seaborn.set_theme(context="notebook", style="whitegrid",
#: palette="colorblind")`` sets (tests/test_report_figures.py checks it against seaborn), plus bold titles,
#: no top or right spine and tight bounding boxes. ``image.cmap`` keeps matplotlib's default (seaborn's
#: "rocket" exists only once seaborn is imported); every figure of the package names its colour map.
THEME_RC: dict[str, Any] = {
    # seaborn style "whitegrid"
    "axes.axisbelow": True, "axes.edgecolor": ".8", "axes.grid": True, "axes.labelcolor": ".15",
    "axes.linewidth": 1.25, "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                                                  "sans-serif"],
    "grid.color": ".8", "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "text.color": ".15", "xtick.bottom": False, "xtick.color": ".15", "ytick.color": ".15", "ytick.left": False,
    # seaborn context "notebook"
    "axes.labelsize": 12.0, "axes.titlesize": 12.0, "font.size": 12.0, "grid.linewidth": 1.0,
    "legend.fontsize": 11.0, "legend.title_fontsize": 12.0, "xtick.labelsize": 11.0, "ytick.labelsize": 11.0,
    "xtick.major.size": 6.0, "xtick.major.width": 1.25, "xtick.minor.size": 4.0, "xtick.minor.width": 1.0,
    "ytick.major.size": 6.0, "ytick.major.width": 1.25, "ytick.minor.size": 4.0, "ytick.minor.width": 1.0,
    # the report's own
    "savefig.bbox": "tight", "axes.titleweight": "bold", "axes.spines.right": False, "axes.spines.top": False,
}


def style() -> None:
    """Apply the report's figure style (:data:`THEME_RC`: seaborn's ``whitegrid`` theme with the colour-blind
    palette, whose colours also replace the one-letter colour codes ``"bgrmyc"``, ``"k"`` becoming dark grey).

    Set directly rather than through ``seaborn.set_theme``, whose import (scipy.stats with it) costs every
    report kernel about 0.7 s, for settings that never change. Figure size and resolution are not touched; in a
    report they come from the document's ``fig-width``/``fig-height``/``fig-dpi``, elsewhere from
    :func:`figure` / :func:`savefig` arguments.
    """
    from cycler import cycler
    from matplotlib import colors

    rgb = [colors.to_rgb(c) for c in COLORBLIND]
    mpl.rcParams.update(cast(Any, THEME_RC))  # (matplotlib types the keys as a Literal of every rc name)
    mpl.rcParams["axes.prop_cycle"] = cycler("color", rgb)
    for code, c in zip("bgrmyck", [rgb[0], rgb[2], rgb[3], rgb[4], rgb[8], rgb[9], (0.1, 0.1, 0.1)], strict=True):
        colors.get_named_colors_mapping()[code] = c


def legend_below(fig: Any, handles: list[Any], labels: list[str], *, ncol: int | None = None) -> Any:
    """One legend for the whole figure, centred *below* the axes (never over the data); ``savefig`` with
    ``bbox_inches="tight"`` keeps it in the image."""
    if not handles:
        return None
    ncol = ncol or min(len(handles), 3)
    return fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol,
                      frameon=False, fontsize=MIN_FONT_PT + 1)


class FigureHTML:
    """A report figure as one ``<img>`` with alt text (``_repr_html_``): what :func:`show` returns.

    Attributes
    ----------
    html : str
        ``<img class="we-fig" src="data:image/png;base64,…" alt="…" width=… height=…>``.
    alt : str
        The alt text (the figure's finding, not its caption).
    png : bytes
        The image.
    width, height : int
        Display size in CSS pixels.
    """

    def __init__(self, png: bytes, *, alt: str, width: int, height: int) -> None:
        import base64
        import html as _html

        self.png, self.alt, self.width, self.height = png, alt, width, height
        b64 = base64.b64encode(png).decode("ascii")
        self.html = (f'<img class="we-fig" src="data:image/png;base64,{b64}" alt="{_html.escape(alt, quote=True)}"'
                     f' width="{width}" height="{height}">')

    def _repr_html_(self) -> str:
        return self.html


def show(fig: Any, *, alt: str, demo: bool = False, lang: str = "th", dpi: int = 192) -> FigureHTML:
    """The figure as a report image: PNG at ``dpi`` (2× for sharp screens), shown at 96 px per inch, with
    ``alt`` as its alt text and, for simulated data (``demo``), a banner above the plot saying so. Closes
    ``fig``.

    Raises
    ------
    ValueError
        If ``alt`` is empty (every report figure states its finding in words).
    """
    import io
    import struct

    import matplotlib.pyplot as plt

    from welfare_eval.reference import label

    if not alt or not alt.strip():
        raise ValueError("figures.show: give alt text that states what the figure shows (its finding)")
    if demo:
        fig.text(0.5, 1.0, label("report.demo_figure", "th" if lang == "th" else "en"), ha="center",
                 va="bottom", fontsize=MIN_FONT_PT + 1, fontweight="bold", color="#8e0000",
                 transform=fig.transFigure,
                 bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fdecea", "edgecolor": "#8e0000", "lw": 0.8})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.08, facecolor="white")
    plt.close(fig)
    png = buf.getvalue()
    w_px, h_px = struct.unpack(">II", png[16:24])
    scale = 96.0 / dpi
    return FigureHTML(png, alt=alt.strip(), width=round(w_px * scale), height=round(h_px * scale))


def has_thai_glyphs(font: str | Path | None = None, text: str = THAI_SAMPLE) -> bool:
    """Whether a font has a glyph for every character of ``text``.

    Parameters
    ----------
    font : str or Path, optional
        A font file, or a family name resolved by matplotlib's font manager (without falling back to
        DejaVu). Default: the family :func:`use_thai_font` installs.
    """
    from matplotlib.ft2font import FT2Font

    if font is None:
        use_thai_font(theme=False)
        font = _family()
    path = Path(font)
    if not path.is_file():
        try:
            path = Path(font_manager.findfont(str(font), fallback_to_default=False))
        except ValueError:
            return False
    ft = FT2Font(str(path))
    return all(ft.get_char_index(ord(ch)) != 0 for ch in text if not ch.isspace())


def check_thai_font() -> str:
    """Make sure figures can show Thai; return the family name.

    Raises
    ------
    RuntimeError
        If the font matplotlib resolves for the default family lacks Thai glyphs.
    """
    family = use_thai_font(theme=False)
    resolved = Path(font_manager.findfont(font_manager.FontProperties(family=family)))
    if not has_thai_glyphs(resolved):
        raise RuntimeError(
            f"matplotlib resolves font family {family!r} to {resolved.name}, which lacks Thai glyphs; "
            "reinstall 'fontpkg-sarabun' or clear the matplotlib font cache"
        )
    return family


def figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kwargs: Any) -> Any:
    """A new ``(fig, ax)`` pair in the report style with the Thai font.

    Parameters
    ----------
    nrows, ncols : int
        Subplot grid (``ax`` is an array when there is more than one).
    size : (width, height) in inches, optional
        Default ``rcParams["figure.figsize"]`` (in a report: the document's fig-width × fig-height).
    **kwargs
        Passed to :func:`matplotlib.pyplot.subplots`.
    """
    import matplotlib.pyplot as plt

    use_thai_font()
    if size is not None:
        kwargs["figsize"] = size
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, **kwargs)


def savefig(fig: Any, path: str | Path, *, dpi: int = 150, close: bool = False, **kwargs: Any) -> Path:
    """Save a figure atomically (temporary file + rename); the format follows the suffix.

    Returns
    -------
    Path
        The written file.
    """
    import io

    from welfare_eval._io import atomic_write_bytes

    path = Path(path)
    kwargs.setdefault("bbox_inches", "tight")
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format=path.suffix.lstrip(".") or "png", **kwargs)
    atomic_write_bytes(path, buf.getvalue())
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path


@contextmanager
def thai_font_context() -> Iterator[str]:
    """Context manager: the Thai font and report style inside, previous rc settings restored after."""
    with mpl.rc_context():
        yield use_thai_font()
