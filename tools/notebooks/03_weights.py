"""Notebook 03: household survey weights and weighted descriptive tables (issue 5)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# การถ่วงน้ำหนักและตารางเชิงพรรณนา (Survey weights and descriptive tables)\n\n"
           "Run `make run` (or `welfare-eval run`) first. The weighted tables below are the stored results "
           "of the analysis; the weights themselves are recomputed here, on purpose and visibly, with the "
           "study's weights step (`welfare_eval.study.weights.weights_pipeline`, the function the analysis "
           "calls) to look at them household by household.\n\n"
           "**Design.** The 36 villages were chosen purposively: they are *certainty PSUs* and the "
           "descriptive tables are about the households of these villages (`inference='finite'`: "
           "stratified SRS of households, strata village × wave, fpc 1 − n/N). The impact analysis "
           "treats villages as PSUs within matched pairs (`inference='pairs'`, df = 36 − 18 = 18)."),
    ("code", SETUP),
    ("code", "from welfare_eval.report import survey_content as S\n"
             "from welfare_eval.study.descriptives import weighted_tables\n"
             "from welfare_eval.study.weights import weights_pipeline\n\n"
             "tables = pipeline.load_processed(paths)\n"
             "w = weights_pipeline(tables['households'], tables['villages'],\n"
             "                     steps=D.plan['weights']['steps'], trim_ratio=D.plan['weights']['trim_ratio'])\n"
             "w.audit"),
    ("md", "## Weights add up to the village household counts\n\n"
           "Base weight N/n, nonresponse adjustment within village × wave, then calibration to N per "
           "village: the last step changes nothing (the weights already add to N) and is kept as a check."),
    ("code", "hh = w.households\n"
             "chk = hh.groupby(['village_id', 'wave'], observed=True).agg(sum_w=('w_final', 'sum'), N=('n_population', 'first'))\n"
             "print('largest |sum of weights - N| over village x wave:', float((chk['sum_w'] - chk['N']).abs().max()))\n"
             "chk.head()"),
    ("code", "S.weights_figure(D, LANG);"),
    ("md", "## Receipt of the 9 welfare types by arm and wave (weighted %, 95% CI)"),
    ("code", "S.receipt_display(D, LANG)"),
    ("code", "S.receipt_figure(D, LANG);"),
    ("md", "## Outcomes and their change from baseline to endline"),
    ("code", "S.outcomes_display(D, LANG)"),
    ("code", "S.change_display(D, LANG)"),
    ("code", "D.results['survey_design_effects'].groupby('wave')[['deff', 'kish_deff']].describe().round(2)"),
    ("md", "Design effects under the two variance designs: the pairs design (villages as PSUs) adds the "
           "between-village variance, which the finite-population design does not count because the "
           "villages are fixed. The pairs version is computed here (the stored tables use the plan's design)."),
    ("code", "pairs = weighted_tables(w, tables['benefits'], inference='pairs',\n"
             "                        outcomes=D.plan['descriptives']['outcomes'])\n"
             "cmp = D.results['survey_outcomes'][['outcome', 'arm', 'wave', 'estimate', 'std_error']].merge(\n"
             "    pairs['survey_outcomes'][['outcome', 'arm', 'wave', 'std_error']], on=['outcome', 'arm', 'wave'],\n"
             "    suffixes=('_finite', '_pairs'))\n"
             "cmp.head(12)"),
    ("md", "The coverage of these intervals was checked by simulation on the demo's finite population "
           "(`tests/survey_coverage.py`, run by the test suite: 95% CIs cover in about 95% of 200 samples)."),
    ("code", "print(S.survey_summary_markdown(D, LANG))"),
]
