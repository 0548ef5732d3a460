"""The learning-time figure (learning_time.png): updates to solve against the lag, log-log, a panel per task;
each run at its solve interval, each run not solved by its budget an upward arrow there, and each group's fitted
median learning time (of the seeds that learn) with its 95% band. matplotlib's Figure directly, imported inside."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from suite.summary.learning import GroupLearning, median_band
from suite.summary.plots import figure_panels

SPREAD = 0.04  # groups side by side at a lag: each shifted by this fraction of the lag from the next


def _runs(ax, g: GroupLearning, shift: float, color: str, label: str, floor: float) -> None:
    """A solved run: its interval's geometric midpoint with a bar from lo to hi (lo = 0, solved at the first
    evaluation: at hi, with the bar down to the panel's floor); a run not solved by its budget: an upward arrow
    at its stop."""
    x, solved = g.lag * shift, np.isfinite(g.hi)
    lo, hi = g.lo[solved], g.hi[solved]
    mid = np.where(lo > 0, np.sqrt(lo * hi), hi)
    bottom = np.where(lo > 0, lo, floor)
    ax.errorbar(x[solved], mid, yerr=[mid - bottom, hi - mid], fmt="o", ms=3, color=color, elinewidth=0.8,
                capsize=0, label=label)
    if (~solved).any():
        ax.scatter(x[~solved], g.lo[~solved], marker=r"$\uparrow$", s=80, color=color, linewidths=0)
    if np.isfinite(g.budget):
        ax.axhline(g.budget, color=color, ls=":", lw=0.8)


def _fit(ax, g: GroupLearning, color: str) -> None:
    lags = np.geomspace(g.lag.min(), g.lag.max(), 48)
    median, lo, hi = median_band(g.fit, lags)
    ax.plot(lags, median, color=color, lw=1.2)
    ax.fill_between(lags, lo, hi, color=color, alpha=0.15, lw=0)


def plot_learning_time(groups: list[GroupLearning], path: str | Path) -> Path:
    """The figure of learning.learning_groups' groups (those with a solved or failed run), written to path."""
    shown = [g for g in groups if len(g.lag)]
    tasks = list(dict.fromkeys(g.task for g in shown))
    fig, axes = figure_panels(max(len(tasks), 1), width=5.5, height=4.2)
    if not tasks:
        axes[0].text(0.5, 0.5, "no solved or failed runs", ha="center", va="center")
    for ax, task in zip(axes, tasks):
        mine = [g for g in shown if g.task == task]
        several = len({g.hidden for g in mine}) > 1
        # the bands run far below the first evaluation where every seed solved there: the runs set the view
        floor = min(float(np.min(np.where(g.lo > 0, g.lo, g.hi / 2))) for g in mine) / 3
        for k, g in enumerate(mine):
            color, shift = f"C{k % 10}", 1 + SPREAD * (k - (len(mine) - 1) / 2)
            _runs(ax, g, shift, color, g.cell + (f" h={g.hidden}" if several else ""), floor)
            if g.fit is not None:
                _fit(ax, g, color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_xlabel(f"lag {mine[0].symbol}")
        ax.set_ylabel("updates to solve")
        ax.set_title(f"{task}: learning time (dotted: budget)", fontsize=9)
        ax.legend(fontsize=6, loc="best")
    fig.savefig(path, dpi=110)
    return Path(path)
