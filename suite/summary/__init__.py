"""Summaries of a sweep: from MLflow runs to tables, horizons, verdicts and plots.

Everything here works on `mlflow.search_runs`' DataFrame, so a past sweep can be
re-summarised from the store without training (`python -m suite.summary`).

  frame     search_runs' DataFrame -> one tidy row per run
  analysis  points, horizons, verdicts (as data), gradient points, representative runs
  knob_effects  horizon against a swept knob (train.lr, ...): T50 at each value, the best one
  render    the text and Markdown: tables, verdict sentences, sections
  plots     matplotlib figures
  learning  learning time against the lag per group (suite/learning's model): growth per doubling, T50 at
            several budgets, which cell's grows faster; learning_plot its figure
  gradient_trajectories  each run's gradient ratio over training, seeds that solve and fail apart (the Why section)
  from_store  fetching from the store (suite/tracking/queries.py) and writing the files
  from_csv  the same summary from a committed runs.csv alone (python -m suite.summary --runs)
  __main__  the command line, and embedding the summary in a docs page (docs/results.md)

mlflow and matplotlib are imported inside the functions that need them: importing frame,
analysis or render stays cheap for code that only builds tables.

Majority rule, used by the horizons and the verdicts: at one (task, lag, hidden,
cell) point a lag is "solved" when a strict majority of the seeds tried solved it,
"failed" when a strict majority ended without solving it (failed or diverged), and
"none" otherwise (a tie, or crashes leave no majority). A crash is no evidence either
way, so it never counts as a failure.
"""
