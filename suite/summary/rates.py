"""Each cell's learning rate from a rate screen (a sweep of train.lr at a few lags and seeds), chosen by learning
time: per task, cell and size, the rate whose learning-time T50(B) is longest at the runs' budget B.

Why learning time and not the horizon T50 of knob_effects.py: a screen is short (round 0: a few lags, 3 seeds
each), and at its lags most seeds of every rate may solve, which leaves the pass/fail horizon open-ended at
several rates and ranks nothing. How many updates each seed took to solve still differs between rates, and
suite/learning's fit of those times against the lag (summary/learning.py's groups) turns them into T50(B), the
lag at which half the seeds solve within B updates: the quantity the leaderboard ranks cells by, at the rate
the board will run.

"Best" is the rate expected to beat the most others, Σ_j P(T50_i(B) > T50_j(B)) over the fits' posterior draws
(the two growth forms mixed by p_power, as GroupFit.t50 mixes them), not the posterior median, which an interval
open at one end leaves to the prior. A rate without a fit (no seed solved, or runs at one lag) ranks below every
fitted one. The best is claimed over the runner-up only at P ≥ CLAIM_AT; below it the screen takes the best all
the same (a rate must be chosen) and says that the runs do not separate the two.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import yaml

from suite.learning import EXPONENTIAL, FORMS, POWER, GroupFit, Interval
from suite.learning.fit import interval
from suite.summary.estimates import CLAIM_AT, p_text
from suite.summary.frame import split_variant
from suite.summary.learning import GroupLearning, interval_text, learning_groups

KNOB = "train.lr"


@dataclass(frozen=True, eq=False)
class RateChoice:
    """One task × cell × size (the other swept knobs held: `fixed`) at each rate of the screen, and its choice."""

    task: str
    cell: str  # the bare cell name ('rnn')
    hidden: int
    fixed: tuple[tuple[str, str], ...]  # the other knobs in the cell's label, held
    symbol: str  # the lag's symbol: 'd' or 'T'
    budget: float  # B of T50(B): the groups' budget (the largest, should they differ)
    rates: list[float]  # ascending
    values: list[str]  # each rate as the cell's label writes it
    t50: list[Interval | None]  # T50(B) per rate; None where the rate's group has no fit
    skipped: list[str]  # why a rate's group has no fit ('' where it has one)
    order: list[int]  # the rates' indices, best first
    best: int | None  # None where no rate has a fit
    runner_up: int | None
    p: float  # P(best's T50(B) > runner-up's); nan without a fitted runner-up

    @property
    def name(self) -> str:
        return self.cell + (f" ({', '.join(f'{k}={v}' for k, v in self.fixed)})" if self.fixed else "")

    def at(self, i: int) -> str:
        return f"{KNOB}={self.values[i]}"

    def t50_text(self, i: int) -> str:
        return interval_text(self.t50[i], self.symbol) if self.t50[i] is not None else "–"


# -- the posterior of T50(B) ---------------------------------------------------------------
def t50_draws(fit: GroupFit, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """(values, weights) of T50(budget) over both growth forms' draws, each form's weights scaled by its
    posterior probability (GroupFit.t50's mixture); the weights sum to 1."""
    share = {POWER: fit.p_power, EXPONENTIAL: 1.0 - fit.p_power}
    values = np.concatenate([fit.fits[f].t50_draws(budget) for f in FORMS])
    weights = np.concatenate([share[f] * fit.fits[f].weight for f in FORMS])
    return values, weights / weights.sum()


def p_greater(x: np.ndarray, w: np.ndarray, y: np.ndarray, v: np.ndarray) -> float:
    """P(X > Y) for independent posteriors given as weighted draws, Σ_i Σ_j w_i v_j [x_i > y_j] (ties count one
    half), in O((n + m) log m): Y's draws sorted once, each x placed among them by binary search."""
    order = np.argsort(y, kind="stable")
    ys, cv = y[order], np.concatenate(([0.0], np.cumsum(v[order])))
    below = cv[np.searchsorted(ys, x, side="left")]
    at_or_below = cv[np.searchsorted(ys, x, side="right")]
    return float(np.sum(w * (below + at_or_below) / 2) / (np.sum(w) * cv[-1]))


def ranked(draws: list[tuple[np.ndarray, np.ndarray] | None],
           t50: list[Interval | None]) -> tuple[list[int], np.ndarray]:
    """(the indices, best first; P[i, j] = P(T50_i > T50_j), nan where either has no fit). Best: the most wins
    expected, Σ_j P[i, j]; ties by the median; a rate without a fit last."""
    k = len(draws)
    p = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            if i != j and draws[i] is not None and draws[j] is not None:
                p[i, j] = p_greater(*draws[i], *draws[j])

    def key(i: int) -> tuple[float, float]:
        if draws[i] is None:
            return (math.inf, math.inf)
        return (-float(np.nansum(p[i])), -t50[i].median)

    return sorted(range(k), key=key), p


# -- the choices ---------------------------------------------------------------------------
def choice(key: tuple, by_value: dict[str, GroupLearning]) -> RateChoice:
    """One series' choice: T50(B) at each rate, the rates ranked, the best and runner-up."""
    task, cell, hidden, fixed = key
    values = sorted(by_value, key=float)
    groups = [by_value[v] for v in values]
    budget = max(g.budget for g in groups)
    draws = [t50_draws(g.fit, budget) if g.fit is not None else None for g in groups]
    t50 = [interval(*d) if d is not None else None for d in draws]
    order, p = ranked(draws, t50)
    fitted = [i for i in order if draws[i] is not None]
    best, runner_up = (fitted + [None, None])[:2]
    return RateChoice(task, cell, hidden, fixed, groups[0].symbol, budget, [float(v) for v in values], values,
                      t50, [g.skipped for g in groups], order, best, runner_up,
                      float(p[best, runner_up]) if runner_up is not None else math.nan)


def rate_choices(runs: pd.DataFrame) -> list[RateChoice]:
    """Every task × cell × size (other knobs held) whose runs tried train.lr at two or more values, in the
    learning-time groups' order."""
    series: dict[tuple, dict[str, GroupLearning]] = {}
    for g in learning_groups(runs):
        cell, knobs = split_variant(g.cell)
        if KNOB not in knobs:
            continue
        fixed = tuple((k, v) for k, v in knobs.items() if k != KNOB)
        series.setdefault((g.task, cell, g.hidden, fixed), {})[knobs[KNOB]] = g
    return [choice(key, by_value) for key, by_value in series.items() if len(by_value) >= 2]


# -- text, table, YAML ---------------------------------------------------------------------
def rate_sentence(c: RateChoice) -> str:
    """'memory rnn h=64: train.lr=0.001 (T50(2,000) d 160 [87, 280]) beyond train.lr=0.003's d 81 [23, 180]
    (P = 0.97)', or that the data do not separate the two and which the screen takes; then the rates not fitted."""
    head = f"{c.task} {c.name} h={c.hidden}"
    unfitted = [i for i in range(len(c.rates)) if c.t50[i] is None]
    rest = "".join(f"; no fit at {c.at(i)} ({c.skipped[i]})" for i in unfitted)
    if c.best is None:
        return f"{head}: no rate's learning time could be fitted, so the screen takes none{rest}"
    mine = f"T50({c.budget:,.0f}) {c.t50_text(c.best)}"
    if c.runner_up is None:
        return f"{head}: only {c.at(c.best)} has a learning-time fit ({mine}): the screen takes it{rest}"
    second, theirs = c.at(c.runner_up), c.t50_text(c.runner_up)
    if c.p >= CLAIM_AT:
        return f"{head}: {c.at(c.best)} ({mine}) beyond {second}'s {theirs} (P = {c.p:.2f}){rest}"
    return (f"{head}: the data do not separate {c.at(c.best)} ({mine}) from {second} ({theirs}) "
            f"(P(the first is longer) = {p_text(c.p)}): the screen takes {c.at(c.best)}{rest}")


def rate_lines(runs: pd.DataFrame, choices: list[RateChoice] | None = None) -> list[str]:
    """One sentence per choice; [] where no cell was screened over train.lr."""
    return [rate_sentence(c) for c in (rate_choices(runs) if choices is None else choices)]


def rates_table(runs: pd.DataFrame, choices: list[RateChoice] | None = None) -> pd.DataFrame:
    """One row per choice: the chosen rate and its T50(B), the runner-up and its T50(B), P(chosen beyond
    runner-up), and T50(B) at every rate."""
    rows = []
    for c in rate_choices(runs) if choices is None else choices:
        best, second = c.best, c.runner_up
        rows.append({
            "task": c.task, "cell": c.name, "hidden": c.hidden,
            "lr": c.rates[best] if best is not None else math.nan,
            "t50": f"T50({c.budget:,.0f}) {c.t50_text(best)}" if best is not None else "",
            "runner_up": c.rates[second] if second is not None else math.nan,
            "t50_runner_up": c.t50_text(second) if second is not None else "",
            "p_best": round(c.p, 3) if second is not None else math.nan,
            "every_rate": "; ".join(f"{v}: {c.t50_text(i)}" for i, v in enumerate(c.values)),
        })
    return pd.DataFrame(rows)


def rates_yaml(choices: list[RateChoice]) -> str:
    """{task: {cell: chosen rate}} as YAML, for a leaderboard's sweep.lr_by_task. A cell screened at several
    sizes or other knobs has one rate there: the first choice's (a comment names the others)."""
    chosen: dict[str, dict[str, float]] = {}
    lines = ["# each cell's train.lr, chosen by the summary's rate screen (suite/summary/rates.py): the rate whose "
             "learning-time T50(B) is longest"]
    for c in choices:
        if c.best is None:
            continue
        if c.cell in chosen.get(c.task, {}):
            lines.append(f"# not kept: {c.task} {c.name} h={c.hidden} chose {c.values[c.best]}")
            continue
        chosen.setdefault(c.task, {})[c.cell] = c.rates[c.best]
    return "\n".join(lines) + "\n" + yaml.safe_dump(chosen, sort_keys=False, default_flow_style=False)
