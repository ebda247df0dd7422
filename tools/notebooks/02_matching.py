"""Notebook 02: the matched comparison design (issue 4)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# การจับคู่หมู่บ้าน (Matched comparison design)\n\n"
           "Eligibility screening of the CDD candidate frame, Mahalanobis matching of each pilot village to a "
           "comparison village of the same inspection region, balance before and after matching. The stored pairs "
           "and balance tables come from the analysis (`welfare-eval analyze`, with the plan's matching "
           "covariates); the cells below call `welfare_eval.match` to explore."),
    ("code", SETUP),
    ("code", "import welfare_eval.match as M\n"
             "MATCH_COVARIATES = D.plan['matching']['covariates']  # the plan the stored results follow\n"
             "frame = pipeline.load_processed(paths)['frame']\n"
             "screen = M.screen_eligibility(frame)\n"
             "screen['reason'].value_counts(dropna=False)"),
    ("md", "## Eligibility funnel by region"),
    ("code", "D.results['funnel']"),
    ("md", "## Matching: 1:1 Mahalanobis within region, optimal within each region, reserves listed\n\n"
           "The stored pairs (the ones in the report):"),
    ("code", "D.results['pairs'].head(6)"),
    ("md", "The same matching with the library, to explore (same plan and seed, so the same pairs):"),
    ("code", "m = M.match_villages(frame, treat='pilot', covariates=list(MATCH_COVARIATES), exact='region',\n"
             "                     method='mahalanobis', seed=D.seed)\n"
             "assert m.pairs['control_id'].tolist() == D.results['pairs']['control_id'].tolist()\nm"),
    ("code", "m.reserves.head(6)"),
    ("md", "## Balance before (pilots vs all eligible villages) and after matching"),
    ("code", "bal = m.balance()\nbal.tidy()[['sample', 'covariate', 'smd', 'variance_ratio', 'ks']]"),
    ("code", "m.plot();"),
    ("md", "## iebaltab-style tests and an overall test"),
    ("code", "bt = m.balance_tests()\nprint(bt.notes()[-1])\nbt.tidy()"),
    ("code", "M.permutation_balance_test(m.matched_data(), treat='pilot', covariates=list(MATCH_COVARIATES),\n"
             "                           strata='pair_id', seed=D.seed)"),
    ("md", "## Sensitivity: propensity-score matching with a caliper\n\n"
           "A pilot with no comparison village inside the caliper is reported in `unmatched`, never dropped "
           "silently."),
    ("code", "ps = M.match_villages(frame, treat='pilot', covariates=list(MATCH_COVARIATES), exact='region',\n"
             "                      method='propensity', caliper=0.5, seed=D.seed)\n"
             "ps.unmatched"),
]
