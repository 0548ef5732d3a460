"""Verdicts recomputed from a summary's runs.csv by the summary's own functions, and the verdict lines a
printed summary shows, so that tests compare the two without depending on the verdicts' wording."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from suite.record import Outcome
from suite.summary.analysis import point_table
from suite.summary.frame import LAG_COLUMNS, POINT_KEYS
from suite.summary.render import verdicts

# The columns of runs.csv that point_table reads (frame.runs_frame's tidy rows)
KEYS = POINT_KEYS + ["seed", "outcome", "start_time"]
VALUES = ["loss_norm", "metric", "steps_to_solve", "baseline_loss", *LAG_COLUMNS, "grad_log10_ratio"]
BULLETS = ("- ", "* ")


def runs_from_csv(path: Path) -> pd.DataFrame:
    """runs.csv as the tidy runs it was written from, after checking that it holds what point_table needs."""
    runs = pd.read_csv(path)
    missing = [c for c in KEYS + VALUES if c not in runs.columns]
    assert not missing, f"{path}: no column {missing}"
    assert runs[KEYS].notna().all().all(), f"{path}: a run without its task, cell, lag, hidden size, seed or time"
    assert runs["outcome"].isin([*Outcome.TRAINED, Outcome.CRASHED]).all(), set(runs["outcome"])
    runs["start_time"] = pd.to_datetime(runs["start_time"], utc=True)  # latest_per_seed orders reruns by it
    return runs


def recomputed_verdicts(runs_csv: Path) -> list[str]:
    """The verdict lines of the runs in runs_csv, as render.verdicts words them today."""
    runs = runs_from_csv(runs_csv)
    lines = verdicts(point_table(runs))
    assert lines, f"{runs_csv}: no verdict"
    return lines


def printed_verdicts(text: str, expected: list[str]) -> list[str]:
    """The bullet list of `text` that holds the first expected verdict, each bullet's text: the verdicts a
    summary printed (render prints them as one bullet per line), with any extra or missing line kept."""
    lines = [line.strip() for line in text.splitlines()]
    bullet = lambda line: line[:2] in BULLETS  # noqa: E731
    start = next((i for i, line in enumerate(lines) if bullet(line) and line[2:] == expected[0]), None)
    assert start is not None, f"the verdict {expected[0]!r} is not printed:\n{text[-4000:]}"
    while start > 0 and bullet(lines[start - 1]):  # the list may begin above it: a stale line there is kept
        start -= 1
    end = start
    while end < len(lines) and bullet(lines[end]):
        end += 1
    return [line[2:] for line in lines[start:end]]


def assert_printed_verdicts_are_the_runs(text: str, runs_csv: Path) -> None:
    """What `text` prints as verdicts is exactly what the summary's functions conclude from runs_csv."""
    expected = recomputed_verdicts(runs_csv)
    printed = printed_verdicts(text, expected)
    # (a helper module's asserts are not rewritten by pytest: the message says what differs)
    assert printed == expected, "printed, then recomputed from {}:\n{}\n--\n{}".format(
        runs_csv, "\n".join(printed), "\n".join(expected))
