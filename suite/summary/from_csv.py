"""The summary of a committed sweep from its runs.csv alone: no store needed.

Every summary writes runs.csv, one tidy row per run (suite/summary/frame.py's columns), and that file is what
the docs commit for each sweep. The verdicts, horizons, learning-time fits and tables are functions of those rows
only, so they can be recomputed from it by anyone, on any machine, after the store is gone: that is how the docs'
summaries are regenerated when the summary's code changes, and how the tests check that what the docs print is
what the committed runs give. The learning curves and gradient profiles live in the store's runs (metrics
histories and artifacts): a summary from runs.csv keeps the figures of them that the store's summary drew.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.summary.analysis import point_table
from suite.summary.from_store import drawn_figures, SummaryError, write_summary
from suite.summary.document import format_text


class RunsFileError(SummaryError):
    """The file is not a summary's runs.csv."""


REQUIRED = ("task", "cell", "seq_len", "seed", "outcome")


def read_runs(path: str | Path) -> pd.DataFrame:
    """A runs.csv as the summary's tidy runs frame."""
    path = Path(path)
    if not path.is_file():
        raise RunsFileError(f"{path}: no such file")
    runs = pd.read_csv(path)
    missing = [c for c in REQUIRED if c not in runs]
    if missing:
        raise RunsFileError(f"{path}: not a summary's runs.csv (no {', '.join(missing)} column)")
    return runs


def summarise_csv(path: str | Path, out_dir: str | Path | None = None,
                  reference: str = "rnn") -> tuple[pd.DataFrame, str]:
    """(runs, text summary) of a runs.csv; with out_dir, also the summary's files, as a store's summary writes
    them, except the figures only the store can draw (learning curves, gradient profiles), which are kept."""
    runs = read_runs(path)
    points = point_table(runs)
    paths = {} if out_dir is None else write_summary(runs, out_dir, points=points, reference=reference,
                                                     from_store=False)
    return runs, format_text(points, runs, reference, drawn=drawn_figures(paths))
