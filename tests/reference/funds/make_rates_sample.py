"""Write rates_sample.csv: the endline households of the seeded demo that the funds step's survey rates use.

Columns: village_id, arm, head_age, w (final weight), received_<type> for the nine welfare types. Made from
the demo (seed 2568) so that make_rates.R can compute the rates and their standard errors with R's survey
package; the test reads both files (no simulation needed).

Usage: .venv/bin/python tests/reference/funds/make_rates_sample.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from welfare_eval.clean import clean_all
from welfare_eval.simulate import simulate_study, write_raw_exports
from welfare_eval.study.sample import receipt_columns, receipt_wide
from welfare_eval.study.weights import weights_pipeline

HERE = Path(__file__).resolve().parent


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        study = simulate_study(seed=2568)
        write_raw_exports(study, Path(tmp) / "raw")
        tabs = clean_all(Path(tmp) / "raw", Path(tmp) / "processed", key="demo").tables
    hh = weights_pipeline(tabs["households"], tabs["villages"]).households
    hh = receipt_wide(hh, tabs["benefits"])
    s = hh[(hh["wave"].astype(str) == "endline") & (hh["interviewed"] == 1) & (hh["w_final"] > 0)]
    out = s[["village_id", "arm", "head_age", "w_final", *receipt_columns()]].rename(columns={"w_final": "w"})
    out.to_csv(HERE / "rates_sample.csv", index=False)


if __name__ == "__main__":
    main()
