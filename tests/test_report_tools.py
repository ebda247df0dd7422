"""Thai font for figures, provenance helpers and the self-containedness check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import numpy
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from welfare_eval.report import check_self_contained, figures, provenance

ROOT = Path(__file__).resolve().parents[1]


# ---- figures ---------------------------------------------------------------------------------------
def test_sarabun_has_thai_glyphs() -> None:
    path = figures.regular_font_file()
    assert path.name == "Sarabun-Regular.ttf"
    ft = FT2Font(str(path))
    assert ft.get_char_index(ord("ก")) != 0
    assert ft.get_char_index(ord("๙")) != 0
    assert figures.has_thai_glyphs(path)
    # DejaVu Sans, matplotlib's default, has no Thai: the check must be able to fail
    dejavu = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
    assert FT2Font(dejavu).get_char_index(ord("ก")) == 0
    assert not figures.has_thai_glyphs(dejavu)


def test_use_thai_font_is_idempotent_and_resolves() -> None:
    with mpl.rc_context():
        assert figures.use_thai_font() == "Sarabun"
        n_fonts = len(font_manager.fontManager.ttflist)
        assert figures.use_thai_font() == "Sarabun"
        assert len(font_manager.fontManager.ttflist) == n_fonts  # files registered once
        assert mpl.rcParams["font.family"][0] == "Sarabun"
        resolved = font_manager.findfont(font_manager.FontProperties(family=mpl.rcParams["font.family"]))
        assert Path(resolved).name.startswith("Sarabun")
        assert figures.check_thai_font() == "Sarabun"


def test_figure_and_savefig(tmp_path: Path) -> None:
    with mpl.rc_context():
        fig, ax = figures.figure(size=(3, 2))
        ax.set_title("หมู่บ้านนำร่อง")
        ax.plot([0, 1], [1, 0])
        out = figures.savefig(fig, tmp_path / "sub" / "f.png", dpi=50, close=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


# ---- provenance ------------------------------------------------------------------------------------
def test_file_hashes_match_fips_vector(tmp_path: Path) -> None:
    (tmp_path / "abc.txt").write_bytes(b"abc")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "empty.bin").write_bytes(b"")
    (tmp_path / "d" / ".hidden").write_bytes(b"zzz")
    h = provenance.file_hashes([tmp_path / "abc.txt", tmp_path / "d"], root=tmp_path)
    # SHA-256 test vectors from FIPS 180-2 ("abc") and the empty message
    assert h == {
        "abc.txt": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "d/empty.bin": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    with pytest.raises(FileNotFoundError):
        provenance.file_hashes(tmp_path / "nope")


def test_package_versions() -> None:
    v = provenance.package_versions(["numpy", "NOT-a-real-package-xyz"])
    assert v == {"numpy": numpy.__version__, "not-a-real-package-xyz": None}
    locked = provenance.locked_versions(ROOT / "requirements.lock")
    if locked:
        assert "pandas" in locked
        default = provenance.package_versions()
        assert set(default) == set(locked)


def test_appendix_table(tmp_path: Path) -> None:
    f = tmp_path / "households.parquet"
    f.write_bytes(b"abc")
    manifest = {
        "seed": 20240501,
        "files": {"villages.parquet": {"sha256": "00ff"}},
        "stage": {"name": "clean"},
    }
    app = provenance.appendix_table(manifest, packages=["numpy"], data_files=[f], root=tmp_path)
    assert list(app.columns) == ["section", "item", "value"]
    rows = {(s, i): v for s, i, v in app.itertuples(index=False)}
    assert rows[("run", "seed")] == "20240501"
    assert rows[("software", "numpy")].startswith(numpy.__version__)
    assert rows[("data", "villages.parquet")] == "00ff"
    assert rows[("data", "households.parquet")] == hashlib.sha256(b"abc").hexdigest()
    assert rows[("manifest", "stage.name")] == "clean"
    assert provenance.appendix_table(manifest, seed=7, packages=[]).query("item == 'seed'")[
        "value"
    ].tolist() == ["7"]


# ---- self-containedness ----------------------------------------------------------------------------
def test_check_self_contained_catches_remote_resources(tmp_path: Path) -> None:
    html = """<html><head>
    <script src="https://cdn.example.org/mathjax.js"></script>
    <link rel="stylesheet" href="//fonts.example.com/css">
    <style>@import "http://example.com/a.css"; body{background:url('https://x.example/bg.png')}</style>
    </head><body>
    <img src="data:image/png;base64,AAAA"><img src="local.png">
    <img srcset="small.png 1x, https://img.example/big.png 2x">
    <iframe src="HTTPS://EXAMPLE.COM/embed"></iframe>
    <a href="https://doi.org/10.1000/xyz">citation</a><a href="#sec">local</a>
    <div style="background-image: url(http://example.com/p.png)"></div>
    </body></html>"""
    bad = check_self_contained(html)
    assert bad == [
        "https://cdn.example.org/mathjax.js",
        "//fonts.example.com/css",
        "http://example.com/a.css",
        "https://x.example/bg.png",
        "https://img.example/big.png",
        "HTTPS://EXAMPLE.COM/embed",
        "http://example.com/p.png",
    ]
    f = tmp_path / "r.html"
    f.write_text(html, encoding="utf-8")
    strict = check_self_contained(f, allow_links=False)
    assert "https://doi.org/10.1000/xyz" in strict and len(strict) == len(bad) + 1
    assert check_self_contained('<html><script src="data:text/javascript,1"></script></html>') == []


def test_one_stylesheet_without_remote_resources() -> None:
    project = ROOT / "reports" / "assets" / "report.css"
    assert "http" not in project.read_text(encoding="utf-8")
    assert not (ROOT / "welfare_eval" / "report" / "report.css").exists()  # one copy only (the project's)
