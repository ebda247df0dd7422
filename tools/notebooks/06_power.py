"""Notebook 06: power and minimum detectable effects (issue 16)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from make_notebooks import SETUP

CELLS = [
    ("md", "# อำนาจการทดสอบและผลขั้นต่ำที่ตรวจพบได้ (Power and MDE)\n\n"
           "Could the 18-pair pilot detect the effects it was looking for, and how many villages and households "
           "does the expansion need? Run `make run` (or `welfare-eval run`) first. The tables come from "
           "`welfare_eval.study.power.analyze_power` (stored as `data/processed/results/power_*.parquet`; the "
           "settings are the `power:` section of the analysis plan): design parameters estimated from the study's "
           "own baseline and follow-up waves (with 95% intervals), the MDE at 80% power of the pilot as run, a "
           "planning table for the expansion, and simulated power by inference method. This notebook shows them; "
           "the last part calls `welfare_eval.power` directly for what-if questions (those cells recompute, from "
           "the stored parameters, and say so)."),
    ("code", SETUP),
    ("code", "from IPython.display import Markdown\n\n"
             "from welfare_eval.report import power_content as PC\n\n"
             "sorted(k for k in D.results if k.startswith('power_'))"),
    ("md", "## What the pilot as run can detect\n\n"
           "MDE = M × SE (M from the noncentral t with pairs − 1 degrees of freedom, exactly 80% power), in "
           "standard deviations of the outcome at baseline and in the outcome's units (percentage points for 0/1 "
           "outcomes). The analytic standard error is shown beside the CR2 standard error the impact step "
           "obtained: their ratio checks the variance model on the study's own data (a 17-df standard error is "
           "itself uncertain by about ±17%)."),
    ("code", "Markdown(PC.power_markdown(D, 'en'))"),
    ("code", "PC.mde_display(D, 'en')"),
    ("md", "## Design parameters from the data\n\n"
           "Method-of-moments estimates (ICC with its F interval; the others with percentile intervals from a "
           "bootstrap of pairs). `→ value used`: the estimate was outside its admissible range and the MDE uses "
           "the clipped value (a negative pair share of the change is planned as 0, which is conservative)."),
    ("code", "PC.parameters_display(D, 'en')"),
    ("code", "D.results['power_parameters'].query(\"outcome == 'savings' and wave == 'endline'\")"),
    ("md", "## Planning the expansion\n\n"
           "MDE (SD units) by pairs of villages per cohort (1 pilot : 1 comparison) × households per village, with "
           "the parameters of the planning wave. More pairs lower the MDE more than more households per village: "
           "the village-level variance only falls with the number of pairs."),
    ("code", "PC.planning_display(D, 'en')"),
    ("code", "PC.planning_plot(D, 'en');"),
    ("md", "## Simulated power by inference method\n\n"
           "Data drawn from the fitted parameters with the pilot's pairs and households, analysed with "
           "`did.estimate` and each inference method, at effect 0 (size) and at the analytic MDE. The Monte Carlo "
           "standard error is in brackets; the note says whether the simulation departs from the analytic value "
           "by more than 3 Monte Carlo SE. The plan's default is small (`power.simulation.n_sims`), so that "
           "`make run` stays fast: raise it for a decision."),
    ("code", "PC.simulation_display(D, 'en')"),
    ("code", "PC.simulation_plot(D, 'en');"),
    ("md", "## What-if questions with the library (recomputed here from the stored parameters)\n\n"
           "The stored MDE row holds the design keywords it used; `welfare_eval.power` answers other questions "
           "with them. First the stored MDE is reproduced, then: how many pairs would detect 0.15 SD with 30 "
           "households per village, what a third survey wave would buy, and the power curve of the pilot."),
    ("code", "from welfare_eval import power as pw\n\n"
             "KEYWORDS = ['icc', 'pair_correlation', 'autocorr_cluster', 'autocorr_individual', 'attrition',\n"
             "            'cv_cluster_size', 'deff_weights']\n"
             "row = D.results['power_mde'].query(\"outcome == 'qol_index' and wave == 'endline'\").iloc[0]\n"
             "kw = {k: float(row[k]) for k in KEYWORDS}\n"
             "r = pw.mde(design='matched_pair_did', clusters=int(row['pairs']), per_cluster=int(row['per_cluster']),\n"
             "           waves=2, power=float(row['power']), alpha=float(row['alpha']), **kw)\n"
             "assert abs(r.estimate - row['estimate']) < 1e-12  # the stored MDE, reproduced\n"
             "r.summary()"),
    ("code", "pw.sample_size(design='matched_pair_did', effect=0.15, per_cluster=30, waves=2, **kw).tidy()"),
    ("code", "# a third wave: baseline, then two follow-ups averaged (the panel's attrition applies per wave)\n"
             "pw.mde(design='matched_pair_did', clusters=18, per_cluster=30, waves=3, pre_waves=1, **kw).estimate"),
    ("code", "pw.power(design='matched_pair_did', clusters=18, per_cluster=30, waves=2, effect=0.3, **kw).plot(lang='en');"),
    ("md", "A larger simulation for one outcome (about 40 s per 1,000 data sets per effect on one core); set "
           "`power.simulation.n_sims: 1000` in `analysis_plan.yaml` to store it with the results instead:\n\n"
           "```python\n"
           "s = pw.simulate_power(design='matched_pair_did', clusters=18, per_cluster=30, waves=2,\n"
           "                      effect=[0, r.estimate], n_sims=1000, draws=999, seed=2568, **kw)\n"
           "s.tidy()\n"
           "```"),
]
