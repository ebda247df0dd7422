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
from typing import Any

import matplotlib as mpl
from matplotlib import font_manager

__all__ = [
    "THAI_SAMPLE",
    "check_thai_font",
    "figure",
    "font_files",
    "has_thai_glyphs",
    "savefig",
    "style",
    "use_thai_font",
]

#: Thai characters checked by :func:`has_thai_glyphs`: consonants, vowels, tone marks, digits.
THAI_SAMPLE = "กขคงจฉญฎฐณดตถทนบปผพภมยรลวศษสหอฮะาำิีึืุูเแโใไ็่้๊๋์๐๑๒"

_FALLBACK = "DejaVu Sans"


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


def style() -> None:
    """Apply the report's figure style (seaborn ``whitegrid`` theme, colour-blind palette).

    Figure size and resolution are not touched; in a report they come from the document's
    ``fig-width``/``fig-height``/``fig-dpi``, elsewhere from :func:`figure` / :func:`savefig` arguments.
    """
    import seaborn as sns

    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette="colorblind",
        # figure size and dpi are left alone: the report sets them (Quarto fig-width/fig-height/fig-dpi)
        rc={
            "savefig.bbox": "tight",
            "axes.titleweight": "bold",
            "axes.spines.right": False,
            "axes.spines.top": False,
        },
    )


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
