"""Notebook 04: impact of the pilot, difference-in-differences (issue 6)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# ผลการประเมิน (Impact of the pilot)\n\n"
           "Matched-pair difference-in-differences on the household survey (each follow-up wave against the "
           "baseline; village and pair × wave fixed effects; final survey weights; clustered by the 18 pairs) "
           "with four inference methods side by side (CR1, CR2 + Satterthwaite, wild cluster bootstrap, "
           "randomization inference), multiple-testing adjustments, leave-one-pair-out influence, a doubly "
           "robust check, and an event study of the savings groups' yearly records with pre-trend tests and "
           "Rambachan–Roth sensitivity. Run `make run` (or `welfare-eval run`) first. The tables come from "
           "`welfare_eval.study.impact.analyze_impact` (stored as `data/processed/results/impact_*.parquet`); "
           "this notebook shows them and calls library functions for exploration."),
    ("code", SETUP),
    ("code", "from IPython.display import Markdown\n\n"
             "from welfare_eval.report import impact_content as IC\n\n"
             "sorted(k for k in D.results if k.startswith('impact_'))"),
    ("md", "## Effects by outcome and wave\n\n"
           "Binary outcomes in percentage points. `p (wild)`: restricted wild cluster bootstrap-t (full "
           "enumeration of the 2^18 sign vectors for the primary outcomes, 4,096 random draws otherwise); "
           "`p (RI)`: within-pair swaps of the pilot label; Romano–Wolf: step-down over the family."),
    ("code", "IC.effects_display(D, LANG, wave='endline')"),
    ("code", "IC.effects_display(D, LANG, wave='midline')"),
    ("code", "IC.coefficient_plot(D, LANG);"),
    ("md", "## Multiple testing (endline)\n\nFamilies: primary (headline) outcomes, secondary outcomes, "
           "receipt of each welfare type. Holm controls the family-wise error rate, BH the false discovery "
           "rate; Romano–Wolf uses the joint bootstrap distribution (less conservative than Holm under "
           "correlated outcomes)."),
    ("code", "IC.multiple_testing_display(D, LANG)"),
    ("md", "## Plain-language summary"),
    ("code", "Markdown(IC.impact_paragraphs_markdown(D, LANG))"),
    ("md", "## Robustness: one pair at a time, doubly robust DiD"),
    ("code", "IC.influence_plot(D, LANG);"),
    ("code", "IC.dr_display(D, LANG)"),
    ("md", "## Savings groups: event study, pre-trends and sensitivity\n\n"
           "Year 0 is the pilot's first year (derived from the baseline survey year, not hard-coded). "
           "Pointwise CR2 intervals and the simultaneous sup-t band; the joint pre-trend test and the slope "
           "the pre-test would detect (Roth 2022); FLCIs under smoothness (M in standard errors of the "
           "first-year effect) and relative-magnitudes intervals (M̄), with breakdown values."),
    ("code", "IC.event_plot(D, LANG);"),
    ("code", "IC.event_tests_display(D, LANG)"),
    ("code", "IC.sensitivity_display(D, LANG)"),
    ("code", "IC.sensitivity_plot(D, LANG);"),
    ("md", "## Exploring: one outcome with the library directly"),
    ("code", "from welfare_eval import did\n"
             "from welfare_eval.study.impact import impact_sample\n"
             "from welfare_eval.study.weights import weights_pipeline\n\n"
             "tables = pipeline.load_processed(paths)\n"
             "s = impact_sample(weights_pipeline(tables['households'], tables['villages']).households)\n"
             "d = s[s['wave'].isin(['baseline', 'endline'])].dropna(subset=['savings']).copy()\n"
             "d['post'] = (d['wave'] == 'endline').astype(int)\n"
             "res = did.estimate(d, outcome='savings', treated='treated', post='post', unit='village_id',\n"
             "                   pair='pair_id', weights='w_final', draws=2**12)\n"
             "res.tidy()"),
]
