"""The summary as a document: its sections in order, each a short heading, what it shows said once under it, its
figure, then its lines and tables; written as Markdown (summary.md, the pages `--into` fills) or for a terminal.

The sentences and tables come from render.py and the modules it draws on; this module only arranges them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from suite.record import Outcome
from suite.summary.gradient_trajectories import VANISHED, power, trajectory_lines
from suite.summary.knob_effects import best_lines
from suite.summary.lags import lags_line
from suite.summary.leaderboard import board_section
from suite.summary.learning import ABOUT as LEARNING_ABOUT, learning_lines
from suite.summary.rates import rate_lines
from suite.summary.render import (baseline_text, gradient_lines, horizons_text, markdown_table, task_tables,
                                  verdicts)

BAD_OUTCOMES = [Outcome.CRASHED, Outcome.DIVERGED]
# the widest pipe table a page shows without scrolling sideways at 1,280 px (tests/test_site_width.py), in
# characters of its Markdown line: wider cell tables are cut into several, a few cells each
WIDEST_TABLE = 100
# the horizons table's columns (the reader's comparison) and their headings; horizons.csv keeps the raw evidence
HORIZON_COLUMNS = {"cell": "cell", "hidden": "hidden", "horizon": "T50 (T)", "horizon_d": "T50 (d)", "runs": "runs",
                   "bracket": "bracket"}
# the leaderboard table's columns and their headings; leaderboard.csv keeps the weights and the run counts
BOARD_COLUMNS = {"tier": "tier", "cell": "cell", "hidden": "hidden", "lr": "rate", "horizon_d": "T50 (d)",
                 "p_beyond_next": "P beyond next", "growth": "growth"}


@dataclass
class Section:
    """A heading (level 1–3), what the section shows (said once, under it), its figures ({file: alt text}: inline
    in Markdown where drawn, named in the terminal), and its body (lines and tables, Markdown)."""
    level: int
    title: str
    about: str = ""
    figures: dict[str, str] = field(default_factory=dict)
    body: list[str] = field(default_factory=list)

    def markdown(self, drawn: set[str]) -> str:
        """'' for a section with nothing to show: no lines and none of its figures drawn."""
        shown = [f"![{alt}]({name})" for name, alt in self.figures.items() if name in drawn]
        if not (self.level == 1 or any(self.body) or shown):
            return ""
        return "\n\n".join(p for p in [f"{'#' * self.level} {self.title}", self.about, *shown, *self.body] if p)

    def text(self, drawn: set[str]) -> str:
        """'' for a section with no lines (a terminal shows no figures: it names those drawn)."""
        if not (self.level == 1 or any(self.body)):
            return ""
        named = [name for name in self.figures if name in drawn]
        named = f" ({', '.join(named)})" if named else ""
        heading = {1: "== ", 2: "-- ", 3: ""}[self.level] + self.title
        about = (self.about + named) if self.about else named.strip()
        return "\n\n".join(p for p in [heading, about, *self.body] if p)


def board_tables(board: pd.DataFrame) -> list[str]:
    """The leaderboard as the page shows it, a table per task: T50 in d, or in T where a task's runs record no
    distance; the rate column where the runs record their rate (a runs.csv from before the column has none)."""
    shown = board.assign(horizon_d=board["horizon_d"].fillna(board["horizon"] + " (T)"))
    columns = {k: v for k, v in BOARD_COLUMNS.items() if k != "lr" or shown["lr"].astype(bool).any()}
    return [f"{task}:\n\n" + markdown_table(rows[list(columns)].rename(columns=columns), index=False)
            for task, rows in shown.groupby("task", sort=False)]


def bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def narrow_tables(table: pd.DataFrame, widest: int = WIDEST_TABLE) -> list[str]:
    """The cell table as pipe tables no wider than `widest` characters: its cell columns cut into runs, the
    index (lag, size) repeated in each."""
    tables, cells = [], list(table.columns)
    while cells:
        take = len(cells)
        while take > 1 and len(markdown_table(table[cells[:take]]).splitlines()[0]) > widest:
            take -= 1
        tables.append(markdown_table(table[cells[:take]]))
        cells = cells[take:]
    return tables


def problem_runs(runs: pd.DataFrame) -> list[str]:
    """Crashed and diverged runs, one line each, with the error a crash left."""
    bad = runs[runs["outcome"].isin(BAD_OUTCOMES)]
    return [f"`{r.run_name or r.run_id}` ({r.outcome}" + (f", {r.status}): {r.error or 'no error recorded'}"
                                                           if r.outcome == Outcome.CRASHED else ")")
            for r in bad.itertuples()]


def code_versions_text(runs: pd.DataFrame) -> str:
    """' Runs of the same task and cell were trained by different versions of the code (memory rnn: 2 versions)…'
    when they were, else ''. The fingerprint (suite/reuse/fingerprint.py) covers each task's and custom cell's own
    module, so it differs between tasks by design: versions are counted within each task and cell."""
    if "code_hash" not in runs.columns or runs.empty:
        return ""
    code = runs["code_hash"].replace("", "unknown (before fingerprints)")
    versions = code.groupby([runs["task"], runs["cell"]]).nunique()
    mixed = versions[versions > 1]
    if mixed.empty:
        return ""
    each = ", ".join(f"{task} {cell}: {n} versions" for (task, cell), n in mixed.items())
    return (f" Runs of the same task and cell were trained by different versions of the code ({each}): "
            "compare them with care, or resume the sweep to retrain the old ones.")


def sections(points: pd.DataFrame, runs: pd.DataFrame, reference: str = "rnn",
             trajectories: pd.DataFrame | None = None) -> list[Section]:
    """The summary's sections, in reading order (the verdicts and their figure first, the long tables last)."""
    n_bad = runs["outcome"].isin(BAD_OUTCOMES).sum()
    found = [Section(1, "Sweep summary", f"{len(runs)} runs, {len(points)} points, {n_bad} crashed or diverged."
                     + code_versions_text(runs)),
             Section(2, "Verdicts", figures={"success.png": "success rate against lag",
                                             "horizons.png": "horizon against hidden size"},
                     body=[bullets(verdicts(points)), lags_line(points) or ""])]
    lines, board = board_section(points, runs)
    if lines:
        found.append(Section(
            2, "Leaderboard",
            "Each task's cells at matched weights (the recurrent module's), ranked by horizon T50 with its 95% "
            "interval; a new tier only where the cell above is beyond the next with P ≥ 0.95 (P beyond next), so "
            "the order within a tier is no claim. Growth: how many times longer the cell's learning time gets per "
            "doubling of the lag, with its 95% interval (– where it could not be fitted: runs at one lag, or none "
            "solved). leaderboard.csv adds each cell's weights, T50 in T and runs.",
            {"leaderboard.png": "horizons ranked at matched weights"},
            [bullets(lines), *board_tables(board)]))
    best = best_lines(points, reference)
    if best:
        found.append(Section(2, "Horizon against each swept knob",
                             "The value with the longest T50, claimed only where the runs separate it from the "
                             "runner-up, and each cell at its best against the reference (knobs.csv).",
                             {"knobs.png": "horizon against each swept knob"}, [bullets(best)]))
    rates = rate_lines(runs)
    if rates:
        found.append(Section(2, "Each cell's rate",
                             "Per task, cell and size screened over train.lr: the rate whose learning-time T50(B) "
                             "is longest at the runs' budget B (the lag at which half the seeds solve within B "
                             "updates, from the fits of Learning time), claimed over the runner-up only where the "
                             "runs separate the two, taken all the same where they do not (rates.csv; rates.yaml: "
                             "the chosen rates as a leaderboard's sweep.lr_by_task).", body=[bullets(rates)]))
    gradients = gradient_lines(points, reference)
    if gradients:
        found.append(Section(2, "Why",
                             "The gradient reaching the first step: ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖ of the loss that needs "
                             "the remembered information, the median over seeds, each seed measured at the first "
                             "evaluation (step train.eval_every).",
                             {"gradients.png": "gradient reaching each step"}, [bullets(gradients)]))
    over_training = trajectory_lines(points, trajectories, reference)
    if over_training:
        found.append(Section(3, "Why, over training",
                             "The same ratio, at the same lag and size, at every diagnostics measurement "
                             "(diagnostics.every): medians over seeds, the seeds that solve and those that fail "
                             f"apart; below {power(VANISHED)} counts as vanished.",
                             {"gradient_trajectories.png": "gradient ratio over training"}, [bullets(over_training)]))
    learning = learning_lines(runs)
    if learning:
        found.append(Section(2, "Learning time", LEARNING_ABOUT, {"learning_time.png": "updates to solve against lag"},
                             [bullets(learning)]))
    found += task_sections(points, runs)
    found.append(Section(2, "Learning curves", "Each run's evaluation loss ÷ baseline over training.",
                         {"curves.png": "learning curves"}))
    return found


def task_sections(points: pd.DataFrame, runs: pd.DataFrame) -> list[Section]:
    """Per task: its cells at each lag, then its horizons (the raw evidence is horizons.csv's), then its crashed and
    diverged runs."""
    found, hz = [], horizons_text(points)
    for i, (task, table) in enumerate(task_tables(points).items()):
        baseline = baseline_text(table.attrs["baseline_loss"])
        found += [Section(2, task, baseline[0].upper() + baseline[1:] + "." + (
                              " Each cell: solved/seeds · mean eval loss ÷ memoryless baseline (1.00 = learned "
                              "nothing) · the gradient ratio of Why, where measured." if i == 0 else ""),
                          body=narrow_tables(table)),
                  Section(3, f"{task}: horizons", "" if i else (
                              "T50, the lag at which half the seeds solve, with its 95% interval, in T and in d; "
                              "runs: the seeds that finished; bracket: the longest lag a majority solved – the next "
                              "lag a majority failed. horizons.csv adds the seeds that solved the bracket's ends, the "
                              "lags with no majority and the lags tried."),
                          body=[markdown_table(hz.loc[hz["task"] == task, list(HORIZON_COLUMNS)]
                                               .rename(columns=HORIZON_COLUMNS), index=False)])]
        bad = problem_runs(runs[runs["task"] == task])
        if bad:
            found.append(Section(3, f"{task}: crashed and diverged runs", body=[bullets(bad)]))
    return found


def _document(points: pd.DataFrame, runs: pd.DataFrame, write, reference: str, partial: str | None,
              trajectories: pd.DataFrame | None) -> str:
    lead = f"PARTIAL SUMMARY: {partial}.\n\n" if partial else ""
    if points.empty:
        return lead + write(Section(1, "Sweep summary", "No finished runs.")) + "\n"
    return lead + "\n\n".join(filter(None, map(write, sections(points, runs, reference, trajectories)))) + "\n"


def render_markdown(points: pd.DataFrame, runs: pd.DataFrame, reference: str = "rnn", partial: str | None = None,
                    trajectories: pd.DataFrame | None = None, drawn: set[str] = frozenset()) -> str:
    """The summary as Markdown, each figure of `drawn` (file names, beside summary.md) inline in its section;
    `partial` (what runs could not be read) leads it; `trajectories` (gradient_trajectories.run_trajectories, from
    the store's profiles) adds the lines over training."""
    return _document(points, runs, lambda s: s.markdown(drawn), reference, partial, trajectories)


def format_text(points: pd.DataFrame, runs: pd.DataFrame, reference: str = "rnn", partial: str | None = None,
                trajectories: pd.DataFrame | None = None, drawn: set[str] = frozenset()) -> str:
    """The same content for a terminal: plain headings, the figures of `drawn` named, the tables as pipe tables."""
    return _document(points, runs, lambda s: s.text(drawn), reference, partial, trajectories)
