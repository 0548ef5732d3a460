"""Why, over training: how each run's gradient ratio ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖ moves from one diagnostics
measurement to the next, and per group how far it falls and when, the seeds that solve and those that fail apart.

The first-evaluation ratio (the Why lines, render.gradient_lines) compares every seed at one step; but the
gradient can vanish during training, and for some seeds and not others, so one step cannot say whether it
vanished before a seed failed or only after. Every run with diagnostics on stores its whole profile
(diagnostics/grad_profile.csv: step, t, grad_norm at each measurement); this reads the ratio at each step.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from suite.record import Outcome
from suite.summary.analysis import at_size, gradient_points, size_text
from suite.summary.frame import cells_in_order
from suite.summary.lags import lag_names
from suite.training.gradient_ratio import log10_ratio

VANISHED = -3.0  # log10 ratio below which the gradient reaching t=1 counts as vanished: under 10^-3 of h_T's
GROUP = ["task", "cell", "seq_len", "hidden"]
TRAJECTORY_COLUMNS = [*GROUP, "seed", "run_id", "solved", "step", "log10_ratio"]


def trajectory(profile: pd.DataFrame) -> pd.DataFrame:
    """(step, log10_ratio) at each measured step of one run's profile (columns step, t, grad_norm): the norm
    at t=1 over the one at its last t, by the diagnostics' own definition (the logged grad_log10_ratio's)."""
    ends = profile.sort_values(["step", "t"]).groupby("step")["grad_norm"].agg(["first", "last"])
    return pd.DataFrame({"step": ends.index.astype(int),
                         "log10_ratio": [log10_ratio(a, b) for a, b in zip(ends["first"], ends["last"])]})


def run_trajectories(runs: pd.DataFrame, profiles: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (run, measured step) for the runs with a profile (run_id -> its profile): the run's group,
    seed, whether it solved (its outcome), the step and its log10 ratio (TRAJECTORY_COLUMNS)."""
    kept = runs[runs["run_id"].isin(profiles.keys())]
    if kept.empty:
        return pd.DataFrame(columns=TRAJECTORY_COLUMNS)
    steps = pd.concat([trajectory(profiles[rid]).assign(run_id=rid) for rid in kept["run_id"]], ignore_index=True)
    info = kept[[*GROUP, "seed", "run_id"]].assign(solved=kept["outcome"] == Outcome.SOLVED)
    return info.merge(steps, on="run_id")[TRAJECTORY_COLUMNS]


def seed_trajectories(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per run: its first and last measured step and ratio, its lowest ratio, and the first step at which the ratio
    is below VANISHED (inf: never)."""
    measured = trajectories.dropna(subset=["log10_ratio"]).sort_values("step")
    keys = [*GROUP, "solved", "run_id"]
    per_run = measured.groupby(keys, dropna=False, sort=False).agg(
        first_step=("step", "first"), first=("log10_ratio", "first"), last_step=("step", "last"),
        last=("log10_ratio", "last"), lowest=("log10_ratio", "min")).reset_index()
    below = measured[measured["log10_ratio"] < VANISHED].groupby("run_id")["step"].min()
    return per_run.assign(vanishes_at=per_run["run_id"].map(below).astype(float).fillna(np.inf))


def trajectory_summary(trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per (task, cell, seq_len, hidden) and whether the seed solved: seeds, the medians over them of the first
    measured step and ratio, of the last, and of the lowest ratio; vanishes_at, the median step at which the ratio
    first falls below VANISHED (inf where most seeds never do), and vanished, the seeds whose ratio ever does."""
    per_seed = seed_trajectories(trajectories)
    return per_seed.groupby([*GROUP, "solved"], dropna=False, sort=False).agg(
        seeds=("run_id", "size"), first_step=("first_step", "median"), first=("first", "median"),
        last_step=("last_step", "median"), last=("last", "median"), lowest=("lowest", "median"),
        vanishes_at=("vanishes_at", "median"), vanished=("vanishes_at", lambda s: int(np.isfinite(s).sum())),
    ).reset_index()


# -- in words ------------------------------------------------------------------------
def power(log10: float) -> str:
    """'10^-2.1', '10^-26', '10^-3': a decimal where it is worth one."""
    text = (f"{log10:.1f}" if abs(log10) < 10 else f"{log10:.0f}").removesuffix(".0")
    return "10^0" if text == "-0" else f"10^{text}"


def update(step: float) -> str:
    return f"update {round(step):,}"


def _seeds(n: int, solved: bool) -> str:
    """'the 3 seeds that fail', 'the 1 seed that solves'."""
    verb = ("solve" if solved else "fail") + ("s" if n == 1 else "")
    return f"the {n} seed{'' if n == 1 else 's'} that {verb}"


def part_text(g) -> str:
    """How one part's ratio moves (medians over its seeds), from the first measurement to the last."""
    start, end = f"{power(g.first)} at {update(g.first_step)}", f"{power(g.last)} at {update(g.last_step)}"
    fall = "falls" if g.vanished == 1 else "fall"
    mixed = f" ({g.vanished} of {g.seeds} seeds {fall} below it)" if 0 < g.vanished < g.seeds else ""
    if not np.isfinite(g.vanishes_at):
        return f"stays above {power(VANISHED)}{mixed}: {start}, {end}, lowest {power(g.lowest)}"
    if g.vanishes_at <= g.first_step:
        return f"is already below {power(VANISHED)} at the first measurement{mixed}: {start}, {end}"
    return f"falls from {start} below {power(VANISHED)} by {update(g.vanishes_at)}{mixed}, to {end}"


def cell_text(cell: str, parts: pd.DataFrame) -> str:
    """One cell's trajectory: the seeds that solve and those that fail apart where both have seeds."""
    if parts["solved"].nunique() == 2:
        each = "; in ".join(f"{_seeds(g.seeds, g.solved)}, {part_text(g)}"
                            for g in parts.sort_values("solved", ascending=False).itertuples())
        return f"{cell}'s ratio, in {each}"
    g = next(parts.itertuples())
    verb = "solve" if g.solved else "fail"
    who = f"{g.seeds} seeds, all {verb}" if g.seeds > 1 else f"1 seed, which {verb}s"
    return f"{cell}'s ratio {part_text(g)} ({who})"


def point_heading(names: dict, task: str, lag: int, hidden: int | None) -> str:
    """'memory, d=199 (T=200), h=64': a task's gradient point as the Why lines name it."""
    where = f"{names[task].at(lag)} (T={lag})" if task in names else f"T={lag}"
    return f"{task}, {where}, {size_text(hidden)}"


def trajectory_lines(points: pd.DataFrame, trajectories: pd.DataFrame | None, reference: str = "rnn") -> list[str]:
    """A sentence per task at its gradient point (analysis.gradient_points), each cell's ratio over training:
    'memory, d=199 (T=200), h=64: rnn's ratio falls from 10^-2.1 at update 100 below 10^-3 by update 300, to
    10^-26 at update 2,000 (3 seeds, all fail); lstm's ratio stays above 10^-3: ... (3 seeds, all solve)'."""
    if trajectories is None or trajectories.empty:
        return []
    summary, names, lines = trajectory_summary(trajectories), lag_names(points), []
    for task, (lag, hidden) in gradient_points(points, reference).items():
        at = summary[(summary["task"] == task) & (summary["seq_len"] == lag) & at_size(summary, hidden)]
        if len(at):
            cells = [cell_text(cell, at[at["cell"] == cell]) for cell in cells_in_order(at)]
            lines.append(f"{point_heading(names, task, lag, hidden)}: " + "; ".join(cells))
    return lines
