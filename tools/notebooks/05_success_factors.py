"""Notebook 05: success factors of the pilot villages (issue 7)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# ปัจจัยแห่งความสำเร็จ (Success factors)\n\n"
           "Committee ratings of the 12 success factors (36 Likert items) → reliable scales → village scores → "
           "which factors go with a larger effect of the pilot in its own village (its DiD effect: the pilot's "
           "change minus its matched comparison village's change). Run `make run` (or `welfare-eval run`) first. "
           "The tables come from `welfare_eval.study.factors.analyze_factors` (stored in "
           "`data/processed/results/factors_*.parquet`); this notebook only shows them and calls library "
           "functions for exploration."),
    ("code", SETUP),
    ("code", "from IPython.display import Markdown\n\n"
             "from welfare_eval.report import factors_content as FC\n\n"
             "sorted(k for k in D.results if k.startswith('factors_'))"),
    ("md", "## Scales: reliability, agreement within villages, structure\n\n"
           "Cronbach's alpha with its Feldt interval and McDonald's omega per factor; ICC(2) and rwg(j) say "
           "whether the committee mean can stand for the village."),
    ("code", "FC.reliability_display(D, LANG)"),
    ("code", "Markdown(FC.structure_markdown(D, LANG))"),
    ("code", "D.results['factors_efa']"),
    ("code", "D.results['factors_efa_loadings'][['item', 'factor', 'group', 'F1', 'F2', 'communality', 'dominant']]"),
    ("md", "## Factor profile: pilots vs comparison villages"),
    ("code", "FC.factor_profile_plot(D, LANG);"),
    ("md", "## Success of each pilot: its own DiD effect"),
    ("code", "D.results['factors_success'].query(\"arm == 'pilot'\")"),
    ("md", "## Which factors matter, and how sure is that?\n\n"
           "Dominance analysis of the pilots' own DiD effect on the six internal factors (not all 12: with 18 "
           "pilots, 12 predictors give R² ≈ 0.7 by chance alone), with bootstrap intervals over pairs."),
    ("code", "FC.dominance_display(D, LANG)"),
    ("code", "FC.dominance_plot(D, LANG);"),
    ("code", "# complete dominance and how often it reproduces in the bootstrap\n"
             "D.results['factors_dominance_pairs'].query('complete == 1')"),
    ("code", "D.results['factors_associations'].query(\"outcome == 'did_effect'\")"
             "[['predictor', 'estimate', 'ci_low', 'ci_high', 'p_value', 'p_perm', 'p_holm', 'p_bh']]"),
    ("code", "D.results['factors_all_subsets']"),
    ("md", "## Moderation of the DiD effect (exploratory)\n\n"
           "Village level (stored): the pilot's own DiD effect on each centred factor, CR2 + Satterthwaite. "
           "The household-level version below fits the matched-pair DiD with a treated × post × factor term "
           "(`welfare_eval.factors.moderation_did`, design weights, CR2 clustered on pairs); on village means "
           "the two agree."),
    ("code", "FC.moderation_display(D, LANG)"),
    ("code", "import welfare_eval.factors as F\n"
             "from welfare_eval.study.factors import internal_factors\n"
             "from welfare_eval.study.weights import weights_pipeline\n\n"
             "tables = pipeline.load_processed(paths)\n"
             "hh = weights_pipeline(tables['households'], tables['villages']).households\n"
             "hh = hh[(hh['interviewed'] == 1) & hh['wave'].astype(str).isin(['baseline', 'endline'])].copy()\n"
             "hh['post'] = (hh['wave'].astype(str) == 'endline').astype(int)\n"
             "F.moderation_did(hh, scores=D.results['factors_villages'], predictors=internal_factors(),\n"
             "                 outcome='member_welfare_fund', weights='w_final', dropna=True)"),
    ("md", "## QCA: configurations of high factors that go with success"),
    ("code", "FC.qca_truth_table_display(D, LANG)"),
    ("code", "FC.qca_solution_display(D, LANG)"),
    ("code", "Markdown(FC.qca_solution_markdown(D, LANG))"),
    ("md", "## In words"),
    ("code", "Markdown(FC.factors_summary_markdown(D, LANG))"),
    ("code", "# the planted effect modifiers of the demo (None for real data)\n"
             "None if D.truth is None else D.truth['factor_coefficients']"),
]
