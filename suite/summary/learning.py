"""Learning time against the lag in the summary: per group, the updates a run took to solve, fitted by
suite/learning's mixture cure model, and the section's text (growth per doubling of the lag, T50(B) at a few
budgets, and which cell's learning time grows faster, claimed only at P ≥ 0.95).

A group is (task, cell, hidden), as the horizon estimates have it (a swept knob is in the cell's label), latest
run per seed. A solved run's learning time lies in (lo, hi]: hi its steps_to_solve, lo the last evaluation at
which it was not yet solved (the metric last_unsolved_step where the run logged it, else hi − train.eval_every).
A failed run is right-censored where it stopped (steps_trained, else its budget train.steps). Crashed and
diverged runs are no observation. The lag is the task's distance d (lag_mean) where every run records it, else
the seq_len knob T.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from suite.config import TrainConfig
from suite.learning import (EXPONENTIAL, LEVEL, POWER, GroupFit, Interval, fit_group, prob_greater,
                            runs as learning_runs)
from suite.learning.fit import weighted_quantile
from suite.learning.model import covariate
from suite.record import Outcome
from suite.summary.analysis import matched_sizes, point_table
from suite.summary.estimates import CLAIM_AT, p_text
from suite.summary.frame import cells_in_order, latest_per_seed, split_variant

BUDGETS = (500, 2000, 8000, 32000)  # the B of T50(B): 4x apart, around the suite's budgets
MANY_PAIRS = 3  # more pairs than this that the data do not separate are counted, not listed


@dataclass(frozen=True, eq=False)
class GroupLearning:
    """One group's learning-time observations and fit; fit None with the reason it was skipped."""

    task: str
    cell: str
    hidden: int
    symbol: str  # 'd' (the task's distance) or 'T' (seq_len)
    lag: np.ndarray
    lo: np.ndarray
    hi: np.ndarray  # inf: right-censored at lo
    fit: GroupFit | None
    budget: float  # the largest budget train.steps of its runs
    skipped: str = ""

    @property
    def censored(self) -> int:
        return int(np.isinf(self.hi).sum())


# -- observations ------------------------------------------------------------------------
def _number(g: pd.DataFrame, name: str) -> pd.Series:
    return pd.to_numeric(g[name], errors="coerce") if name in g else pd.Series(np.nan, index=g.index)


def _budget(g: pd.DataFrame) -> pd.Series:
    """train.steps as logged, else as the cell's label names it (a swept knob), else the config's default."""
    knob = pd.to_numeric(pd.Series(split_variant(g["cell"].iloc[0])[1].get("train.steps"), index=g.index),
                         errors="coerce")
    return _number(g, "budget").fillna(knob).fillna(TrainConfig.steps)


def observations(g: pd.DataFrame, lag_column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lag, lo, hi) of one group's solved and failed runs (hi = inf: not solved by lo); runs whose record
    cannot be an observation (a solve without its step, a stop at update 0) are left out."""
    solved, failed = g["outcome"] == Outcome.SOLVED, g["outcome"] == Outcome.FAILED
    hi = _number(g, "steps_to_solve")
    last = _number(g, "last_unsolved_step")
    step = _number(g, "eval_every").fillna(TrainConfig.eval_every)
    lo = last.where(last.ge(0) & last.lt(hi), (hi - step).clip(lower=0))
    stopped = _number(g, "steps_trained")
    stopped = stopped.where(stopped.notna(), _budget(g))  # a run that logged where it stopped: there
    lag = _number(g, lag_column)
    keep = (lag.gt(0) & ((solved & hi.gt(0) & lo.lt(hi)) | (failed & stopped.gt(0)))).to_numpy()
    solved = solved.to_numpy()[keep]
    return (lag.to_numpy(float)[keep], np.where(solved, lo.to_numpy(float)[keep], stopped.to_numpy(float)[keep]),
            np.where(solved, hi.to_numpy(float)[keep], np.inf))


@lru_cache(maxsize=256)
def _fit(lag: tuple, lo: tuple, hi: tuple) -> GroupFit:
    return fit_group(learning_runs(lag, lo, hi))


def lag_column(task_runs: pd.DataFrame) -> str:
    """lag_mean (the distance d) where every run of the task records it, else seq_len (T)."""
    d = _number(task_runs, "lag_mean")
    return "lag_mean" if d.notna().all() and d.gt(0).all() else "seq_len"


def group_learning(task: str, cell: str, hidden: int, g: pd.DataFrame, column: str) -> GroupLearning:
    lag, lo, hi = observations(g, column)
    symbol = "d" if column == "lag_mean" else "T"
    found = dict(task=task, cell=cell, hidden=int(hidden), symbol=symbol, lag=lag, lo=lo, hi=hi,
                 budget=float(_budget(g).max()))
    lags = np.unique(lag)
    if len(lags) < 2:
        where = f" ({symbol}={lags[0]:g})" if len(lags) else ""
        return GroupLearning(fit=None, skipped=f"solved or failed runs at {len(lags)} lag(s){where}: the growth "
                                               "with the lag needs two or more", **found)
    if np.isinf(hi).all():
        return GroupLearning(fit=None, skipped="no run solved: no learning time observed", **found)
    try:
        return GroupLearning(fit=_fit(tuple(lag), tuple(lo), tuple(hi)), **found)
    except ValueError as exc:  # a record the model cannot take (runs.runs says which)
        return GroupLearning(fit=None, skipped=str(exc), **found)


def learning_groups(runs: pd.DataFrame) -> list[GroupLearning]:
    """Every (task, cell, hidden) group of the runs, tasks in their order, cells in the suite's."""
    if runs.empty:
        return []
    runs = latest_per_seed(runs)
    found = []
    for task, tr in runs.groupby("task", sort=False):
        column = lag_column(tr)
        for hidden in sorted(tr["hidden"].unique()):
            hr = tr[tr["hidden"] == hidden]
            found += [group_learning(task, cell, hidden, hr[hr["cell"] == cell], column)
                      for cell in cells_in_order(hr)]
    return found


def compared_sets(groups: list[GroupLearning], matched: set[str]) -> list[tuple[str, list[GroupLearning]]]:
    """(label, the fitted groups compared with each other): per task and hidden size; a task in `matched`
    (analysis.matched_sizes: its cells each tried at one size of their own) as one set."""
    sets: dict[tuple, list[GroupLearning]] = {}
    for g in groups:
        if g.fit is not None:
            sets.setdefault((g.task, None if g.task in matched else g.hidden), []).append(g)
    return [(f"{task} {'matched sizes' if hidden is None else f'h={hidden}'}", found)
            for (task, hidden), found in sets.items() if len(found) > 1]


def median_band(fit: GroupFit, lags) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, lo, hi) over the posterior of the median learning time of the seeds that learn, exp(b0 + b1 x),
    at each lag: the two growth forms mixed by their posterior probabilities, as T50(B) is."""
    lags = np.asarray(lags, dtype=float)
    share = {POWER: fit.p_power, EXPONENTIAL: 1.0 - fit.p_power}
    ln_t = np.concatenate([f.params["b0"][:, None] + f.params["b1"][:, None] * covariate(lags, form)[None, :]
                           for form, f in fit.fits.items()])
    weight = np.concatenate([share[form] * f.weight for form, f in fit.fits.items()])
    tail = (1 - LEVEL) / 2
    ends = np.array([weighted_quantile(column, weight, [0.5, tail, 1 - tail]) for column in ln_t.T])
    return tuple(np.exp(ends[:, k]) for k in range(3))


# -- text --------------------------------------------------------------------------------
ABOUT = ("Updates to solve against the lag, fitted per group (suite/learning: a "
           "share of seeds never learns; the others learn in a log-normal time whose median grows with the lag as "
           "a power law or exponentially). Growth: times longer per doubling of the lag, with its 95% interval; "
           "p_power: the probability of the power law over exponential growth. T50(B): the lag at which half the "
           "seeds solve within B updates. Lags are d, the distance the task's information travels, where the runs "
           "record it, else T, the seq_len knob.")


def number(v: float) -> str:
    """2 significant figures, thousands separated: 0.52, 4.0, 92, 310, 1,600."""
    if not np.isfinite(v):
        return "∞"
    r = float(f"{v:.2g}")  # rounded first: 0.996 reads 1.0 and 9.96 reads 10, as 1 and 10 do
    if abs(r) >= 100:
        return f"{r:,.0f}"
    return f"{r:.0f}" if abs(r) >= 10 else f"{r:.1f}" if abs(r) >= 1 else f"{r:.2g}"


def interval_text(i: Interval, symbol: str = "") -> str:
    """'d 92 [61, 130]'; an interval open at one end reads 'd > 160' ('d < 20'), as the horizons do: what the
    runs support, without a median placed by the prior alone."""
    lead = f"{symbol} " if symbol else ""
    if i.lo <= 0 and not np.isfinite(i.hi):
        return f"{lead}unbounded (beyond the lags searched both ways)"
    if not np.isfinite(i.hi):
        return f"{lead}> {number(i.lo)}"
    if i.lo <= 0:
        return f"{lead}< {number(i.hi)}"
    return f"{lead}{number(i.median)} [{number(i.lo)}, {number(i.hi)}]"


def group_line(g: GroupLearning) -> str:
    """'memory rnn h=64 (24 runs, 10 not solved): ×4.1 [2.5, 8.1] per doubling of d. ...' or why it was skipped."""
    name = f"{g.task} {g.cell} h={g.hidden}"
    if g.fit is None:
        return f"{name}: skipped: {g.skipped}"
    f = g.fit
    form = (f"The data pick the power law (p_power = {f.p_power:.2f}; evidence: {f.decisiveness})."
            if f.form == POWER else
            f"The data pick exponential growth (p_power = {f.p_power:.2f}; evidence: {f.decisiveness}): "
            f"×{interval_text(f.growth())} per +100 of {g.symbol}.")
    t50 = ", ".join(interval_text(i, g.symbol) for i in f.t50(BUDGETS))
    return (f"{name} ({len(g.lag)} runs, {g.censored} not solved within their budget): "
            f"×{interval_text(f.growth(POWER))} per doubling of {g.symbol}. {form} "
            f"T50 at B = {', '.join(f'{b:,}' for b in BUDGETS)} updates: {t50}.")


def growth_text(g: GroupLearning | None) -> str:
    """'×4.1 [2.5, 8.1]': the learning time's growth per doubling of the lag with its 95% interval (the power law's,
    as group_line gives it), or '–' where the group could not be fitted (one lag, no solve) or has no run."""
    return f"×{interval_text(g.fit.growth(POWER))}" if g is not None and g.fit is not None else "–"


def pair_orders(found: list[GroupLearning]) -> tuple[dict[str, list[str]], list[str]]:
    """({faster cell: ['lstm (P = 0.99)', ...]}, ['rnn vs gru: the data do not separate them (...)', ...]) over
    every pair: P(a's growth per doubling > b's) claims an order only at ≥ CLAIM_AT either way."""
    faster: dict[str, list[str]] = {}
    open_ = []
    for i, a in enumerate(found):
        for b in found[i + 1:]:
            p = prob_greater(a.fit, b.fit, POWER)
            if max(p, 1 - p) >= CLAIM_AT:
                first, second = (a, b) if p >= CLAIM_AT else (b, a)
                faster.setdefault(first.cell, []).append(f"{second.cell} (P = {max(p, 1 - p):.2f})")
            else:
                open_.append(f"{a.cell} vs {b.cell}: the data do not separate them (P({a.cell}'s faster) = {p_text(p)})")
    return faster, open_


def comparison_lines(groups: list[GroupLearning], matched: set[str]) -> list[str]:
    """Per set of compared groups: a line per cell whose learning time grows faster than another's, then the
    pairs the data do not separate (counted, when many)."""
    lines = []
    for label, found in compared_sets(groups, matched):
        faster, open_ = pair_orders(found)
        lines += [f"{label}: {cell}'s learning time grows faster with the lag than that of {', '.join(slower)}"
                  for cell, slower in faster.items()]
        if len(open_) > MANY_PAIRS:
            open_ = [f"the data do not separate {'the other' if faster else 'any of the'} {len(open_)} pairs"]
        lines += [f"{label}: {words}" for words in open_]
    return lines


def learning_lines(runs: pd.DataFrame) -> list[str]:
    """Per task: each group's line, then the comparisons between its cells; [] when no group has a solved or
    failed run."""
    groups = learning_groups(runs)
    if not any(len(g.lag) for g in groups):
        return []
    matched, lines = set(matched_sizes(point_table(runs))), []
    for task in dict.fromkeys(g.task for g in groups):
        mine = [g for g in groups if g.task == task]
        lines += [group_line(g) for g in mine] + comparison_lines(mine, matched)
    return lines
