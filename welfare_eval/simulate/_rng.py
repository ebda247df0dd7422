"""Independent, named random streams derived from one seed.

Every component of the simulation draws from its own stream
``default_rng(SeedSequence(entropy=seed, spawn_key=(crc32(name),)))``, so adding draws to one component
(or changing its configuration) never reshuffles the numbers of another.
"""

from __future__ import annotations

import zlib
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["names", "stream", "vocab"]


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator of component ``name`` under ``seed`` (``seed`` a non-negative integer)."""
    if not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=(key,)))


@cache
def _names_table() -> pd.DataFrame:
    path = resources.files("welfare_eval.simulate") / "data" / "names.csv"
    with path.open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def names(kind: str) -> np.ndarray:
    """The pool of Thai name parts of one ``kind`` (see ``simulate/data/names.csv``) as an object array."""
    t = _names_table()
    out = t.loc[t["kind"] == kind, "th"].to_numpy(dtype=object)
    if out.size == 0:  # pragma: no cover - guards the packaged data
        raise KeyError(f"no names of kind {kind!r} in simulate/data/names.csv")
    return out


@cache
def _vocab_table() -> dict[tuple[str, str], str]:
    path = resources.files("welfare_eval.simulate") / "data" / "vocab.csv"
    with path.open("r", encoding="utf-8") as fh:
        t = pd.read_csv(fh, dtype=str, keep_default_na=False)
    return {(k, lang): str(v) for lang in ("th", "en") for k, v in zip(t["key"], t[lang], strict=True)}


def vocab(key: str, lang: str = "th") -> str:
    """A Thai (or English) word used in the simulated raw exports (``simulate/data/vocab.csv``)."""
    try:
        return _vocab_table()[(key, lang)]
    except KeyError:
        raise KeyError(f"no word {key!r} ({lang}) in simulate/data/vocab.csv") from None
