"""Notebook 01: data quality — the checks report and the ledger (issue 3)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# คุณภาพข้อมูล (Data quality)\n\n"
           "Every raw row is accounted for in the ledger (kept, merged as a duplicate, or rejected with its "
           "reason); every failed check is a row of the checks report with file, row, column, value and rule. "
           "Personal data never reach `data/processed/`: the `value` of a check on a personal column is shown "
           "as `<pii>`. Re-run the cleaning in place with `welfare_eval.clean.clean_all(raw, None)` (validates "
           "without writing)."),
    ("code", SETUP),
    ("code", "ledger, checks = D.ledger, D.checks  # as the report shows them\n"
             "totals = ledger.groupby(['file', 'status']).size().unstack(fill_value=0)\n"
             "totals.insert(0, 'read', totals.sum(axis=1))\n"
             "totals"),
    ("md", "## Failed checks by rule"),
    ("code", "checks.groupby(['rule', 'severity', 'action']).size().rename('n').reset_index()"
             ".sort_values('n', ascending=False)"),
    ("md", "## Duplicates: which submissions were merged, and the columns that differed"),
    ("code", "checks[checks['rule'].str.startswith('duplicate')].head(10)"),
    ("md", "## Village names typed in the field that differ from the code list (near misses)"),
    ("code", "checks[checks['rule'] == 'village_name'][['file', 'row', 'value', 'message']].head(10)"),
    ("md", "## Out-of-range values and missing-value codes (set to missing, never deleted)"),
    ("code", "checks[checks['rule'].isin(['range', 'missing_code'])].head(10)"),
    ("md", "## What the cleaning used: the manifest (hashes of every input and output)"),
    ("code", "import pandas as pd\n"
             "pd.DataFrame(D.manifest['inputs'])[['file', 'encoding', 'rows', 'sha256']]"),
    ("code", "D.region_scheme['name_en'], D.region_scheme['date']  # the province → region scheme used"),
]
