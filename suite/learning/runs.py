"""One group's runs as learning-time observations: lag, and the interval (lo, hi] of updates it solved in.

A run solved between two evaluations is interval-censored: lo is the last evaluation at which it was not yet
solved (0 if none), hi the first at which it was. A run not solved by its budget B is right-censored there:
it is held as (B, inf]. A crashed run is no observation and must be left out by the caller.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Runs:
    """Validated arrays, one entry a run; hi = inf marks a run right-censored at lo (its budget)."""

    lag: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @property
    def censored(self) -> np.ndarray:
        return np.isinf(self.hi)

    @property
    def lags(self) -> np.ndarray:
        """The distinct lags tried, ascending."""
        return np.unique(self.lag)

    def __len__(self) -> int:
        return self.lag.size


def runs(lag, lo, hi) -> Runs:
    """Runs from plain arrays (hi = inf: not solved by the budget lo); raises ValueError on what cannot be a run."""
    lag, lo, hi = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (lag, lo, hi))
    if not lag.shape == lo.shape == hi.shape or lag.ndim != 1:
        raise ValueError(f"lag, lo and hi must be 1-d arrays of one length, got {lag.shape}, {lo.shape}, {hi.shape}")
    bad = ~(np.isfinite(lag) & (lag > 0))
    if bad.any():
        raise ValueError(f"lag must be a positive number, got {lag[bad][0]!r} (run {np.flatnonzero(bad)[0]})")
    bad = ~(np.isfinite(lo) & (lo >= 0))
    if bad.any():
        raise ValueError(f"lo must be a finite number of updates >= 0, got {lo[bad][0]!r} "
                         f"(run {np.flatnonzero(bad)[0]})")
    bad = np.isnan(hi) | ~(lo < hi)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise ValueError(f"run {i}: (lo, hi] = ({lo[i]!r}, {hi[i]!r}]: expected lo < hi (hi = inf: not solved by lo)")
    bad = np.isinf(hi) & (lo <= 0)
    if bad.any():
        raise ValueError(f"run {np.flatnonzero(bad)[0]}: right-censored at a budget of 0 updates: no observation")
    if np.unique(lag).size < 2:
        raise ValueError("the growth with the lag needs runs at two lags or more, got "
                         f"{np.unique(lag).size}")
    return Runs(lag, lo, hi)


def from_schedule(lag, steps_to_solve, schedule, budget) -> Runs:
    """Runs from what training records: the update at which each run was first seen solved (nan: never), the
    evaluation schedule (the updates evaluated at, shared by the runs) and each run's budget (a scalar or one a run).
    lo is the evaluation before the solving one (0 if it was the first)."""
    steps = np.atleast_1d(np.asarray(steps_to_solve, dtype=float))
    schedule = np.unique(np.asarray(schedule, dtype=float))
    budget = np.broadcast_to(np.asarray(budget, dtype=float), steps.shape)
    solved = np.isfinite(steps)
    off = solved & ~np.isin(steps, schedule)
    if off.any():
        raise ValueError(f"steps_to_solve {steps[off][0]!r} is not an evaluation of the schedule")
    late = solved & (steps > budget)
    if late.any():
        raise ValueError(f"steps_to_solve {steps[late][0]!r} is past the run's budget {budget[late][0]!r}")
    before = np.searchsorted(schedule, np.where(solved, steps, 0.0)) - 1  # the evaluation before the solving one
    lo = np.where(solved, np.where(before >= 0, schedule[np.maximum(before, 0)], 0.0), budget)
    return runs(lag, lo, np.where(solved, steps, np.inf))
