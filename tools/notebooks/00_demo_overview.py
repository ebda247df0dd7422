"""Notebook 00: overview of the demo study (issue 2)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# ภาพรวมการศึกษา (Study overview)\n\nRun `make run` (or `welfare-eval run`) first: it "
           "simulates the demo study when `data/raw/` is empty, cleans it, analyses it and renders the "
           "report. This notebook reads the same processed tables and results; it computes nothing "
           "of its own."),
    ("code", SETUP),
    ("code", "tables = pipeline.load_processed(paths)\n{name: df.shape for name, df in tables.items()}"),
    ("code", "results = D.results  # stored by `welfare-eval analyze`; nothing is recomputed here\nsorted(results)"),
    ("md", "## Eligibility funnel and the 18 matched pairs"),
    ("code", "results['funnel']"),
    ("code", "results['design']"),
    ("md", "## Sample sizes by wave and arm"),
    ("code", "results['sample_sizes']"),
    ("md", "## Balance before and after matching"),
    ("code", "from welfare_eval.report import content\n"
             "content.love_plot(D, LANG);"),
    ("md", "## Results at a glance: the final impact estimates of the headline outcomes\n\n"
           "From `impact_effects` (the plan's headline outcomes at its last wave): CR2 interval, wild-bootstrap and "
           "randomization p-values, Romano–Wolf adjusted p. The first table reported to the department "
           "(`did_preliminary`) is superseded by these."),
    ("code", "from welfare_eval.report import summary_content\n"
             "summary_content.glance_display(D, LANG)"),
    ("code", "e = results['impact_effects']\n"
             "e[e['headline'] & (e['wave'] == D.plan['impact']['waves'][-1])][\n"
             "    ['outcome', 'method', 'estimate', 'std_error', 'df', 'p_value', 'ci_low', 'ci_high', 'p_romano_wolf']]"),
    ("md", "## The analysis plan the results follow (`analysis_plan.yaml`, or the packaged plan)"),
    ("code", "print(D.plan_source, D.plan_sha256[:12])\nD.plan['impact']['headline']"),
    ("code", "truth = D.truth  # the demo's planted truth; None for real data\n"
             "None if truth is None else [e for e in truth['effects'] if e['wave'] == 'endline'][:6]"),
]
