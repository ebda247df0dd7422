"""Notebook 03: household survey weights and weighted descriptive tables (issue 5)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# การถ่วงน้ำหนักและตารางเชิงพรรณนา (Survey weights and descriptive tables)\n\n"
           "Run `make run` (or `welfare-eval run`) first. This notebook reads the processed tables and "
           "computes the weights and the weighted tables with `welfare_eval.survey.study` (the same "
           "functions the analysis stage calls).\n\n"
           "**Design.** The 36 villages were chosen purposively: they are *certainty PSUs* and the "
           "descriptive tables are about the households of these villages (`inference='finite'`: "
           "stratified SRS of households, strata village × wave, fpc 1 − n/N). The impact analysis "
           "treats villages as PSUs within matched pairs (`inference='pairs'`, df = 36 − 18 = 18)."),
    ("code", SETUP),
    ("code", "import pandas as pd\n"
             "from welfare_eval.survey import study\n"
             "from welfare_eval.report.content import ReportData\n"
             "from welfare_eval.report import survey_content as S\n\n"
             "tables = pipeline.load_processed(paths, ['households', 'benefits', 'villages', 'frame'])\n"
             "hh, audit = study.weights_pipeline(tables['households'], tables['villages'], tables['frame'])\n"
             "audit"),
    ("md", "## Weights add up to the village household counts\n\n"
           "Base weight N/n, nonresponse adjustment within village × wave, then calibration to N per "
           "village: the last step changes nothing (the weights already add to N) and is kept as a check."),
    ("code", "chk = study._check_sum_to_n(hh)\n"
             "print('largest |sum of weights - N| over village x wave:', float(chk['diff'].abs().max()))\n"
             "chk.head()"),
    ("code", "res = study.weighted_tables(tables['households'], tables['benefits'], villages=tables['villages'])\n"
             "D = ReportData(results=res, manifest={}, ledger=pd.DataFrame(), checks=pd.DataFrame(), truth=None,\n"
             "               simulation=None, seed=None)\n"
             "S.weights_figure(D, 'th');"),
    ("md", "## Receipt of the 9 welfare types by arm and wave (weighted %, 95% CI)"),
    ("code", "S.receipt_display(D, 'th')"),
    ("code", "S.receipt_figure(D, 'th');"),
    ("md", "## Outcomes and their change from baseline to endline"),
    ("code", "S.outcomes_display(D, 'en')"),
    ("code", "S.change_display(D, 'en')"),
    ("code", "res['survey_design_effects'].groupby('wave')[['deff', 'kish_deff']].describe().round(2)"),
    ("md", "Design effects under the two variance designs: the pairs design (villages as PSUs) adds the "
           "between-village variance, which the finite-population design does not count because the "
           "villages are fixed."),
    ("code", "pairs = study.weighted_tables(tables['households'], tables['benefits'], inference='pairs')\n"
             "cmp = res['survey_outcomes'][['outcome', 'arm', 'wave', 'estimate', 'std_error']].merge(\n"
             "    pairs['survey_outcomes'][['outcome', 'arm', 'wave', 'std_error']], on=['outcome', 'arm', 'wave'],\n"
             "    suffixes=('_finite', '_pairs'))\n"
             "cmp.head(12)"),
    ("md", "## Simulation check (demo only): CI coverage of the finite-population means\n\n"
           "The simulator draws the whole population of each study village before it samples. "
           "`census_population(seed)` enumerates it; `coverage_simulation` draws new household samples "
           "with the simulator's procedure and checks how often the 95% CIs cover the population means. "
           "The test suite runs 200 repetitions (`tests/test_survey_study.py`, marked slow); 40 here."),
    ("code", "rec = pipeline.simulation_record(paths)\n"
             "if rec is None:\n"
             "    print('real data: no simulated population to check against')\n"
             "else:\n"
             "    pop = study.census_population(rec['seed'])\n"
             "    cov = study.coverage_simulation(pop, reps=40, seed=1, change_reps=10)\n"
             "    print('pooled coverage of the means:', round(cov.loc[cov.statistic == 'mean', 'coverage'].mean(), 3))\n"
             "    display(cov)"),
    ("code", "print(S.survey_summary_markdown(D, 'th'))"),
]
