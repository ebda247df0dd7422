"""The report's figure style equals seaborn's theme it stands for (set without importing seaborn)."""

from __future__ import annotations

import matplotlib as mpl
from matplotlib import colors

from welfare_eval.report import figures

CODES = "bgrmyck"


def _state() -> tuple[dict, dict]:
    return dict(mpl.rcParams), {c: colors.to_rgb(c) for c in CODES}


def test_style_equals_seaborn_set_theme() -> None:
    import seaborn as sns

    saved_rc, saved_codes = _state()
    try:
        mpl.rcdefaults()
        sns.set_theme(context="notebook", style="whitegrid", palette="colorblind",
                      rc={"savefig.bbox": "tight", "axes.titleweight": "bold", "axes.spines.right": False,
                          "axes.spines.top": False})
        theirs, their_codes = _state()
        mpl.rcdefaults()
        for c in CODES:
            colors.get_named_colors_mapping()[c] = colors.BASE_COLORS[c]  # matplotlib's own codes back
        default_cmap = mpl.rcParams["image.cmap"]
        figures.style()
        ours, our_codes = _state()
    finally:
        mpl.rcParams.update(saved_rc)
        for c, rgb in saved_codes.items():
            colors.get_named_colors_mapping()[c] = rgb
    assert our_codes == their_codes
    assert theirs["image.cmap"] == "rocket" and ours["image.cmap"] == default_cmap  # the one key left out
    diff = {k for k in theirs if k != "image.cmap" and theirs[k] != ours[k]}
    assert not diff, {k: (ours[k], theirs[k]) for k in diff}
