"""Each group's horizon as an estimate: T50, the lag at which half the seeds solve, with its 95% interval
(suite/horizon/threshold.py), from the runs' outcomes at every lag tried; and the probability of an order between
two groups, which is what a comparison verdict may claim (only at ≥ 0.95, and always with it).

A group is (task, cell, hidden) as the point table has them (a swept knob is part of the cell's label).
Crashed seeds count as neither outcome. Lags are estimated in T (the seq_len knob the runs were made at)
and written in d, the distance the task's information travels, where the task says (lag_distances).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from suite.horizon.threshold import NO_T50, Estimate, estimate, prob_greater

CLAIM_AT = 0.95  # a comparison is claimed only when its posterior probability is at least this

Group = tuple[str, str, int]  # (task, cell, hidden)


def counts_of(g: pd.DataFrame) -> dict[int, tuple[int, int]]:
    """{lag: (solved, tried)} from one group's points: tried leaves crashed seeds out (evidence of neither)."""
    return {int(r.seq_len): (int(r.n_solved), int(r.n_seeds - r.n_crashed)) for r in g.itertuples()
            if r.n_seeds - r.n_crashed > 0}


@lru_cache(maxsize=1024)
def _estimate(evidence: tuple[tuple[int, int, int], ...]) -> Estimate:
    return estimate({lag: (solved, tried) for lag, solved, tried in evidence})


def group_estimate(g: pd.DataFrame) -> Estimate | None:
    """The group's T50 estimate; None when no seed finished at any lag (nothing to estimate from)."""
    counts = counts_of(g)
    if not counts:
        return None
    return _estimate(tuple((lag, s, n) for lag, (s, n) in sorted(counts.items())))


def estimates(points: pd.DataFrame) -> dict[Group, Estimate | None]:
    """{(task, cell, hidden): its estimate} for every group of the point table, in its order."""
    return {(task, cell, int(hidden)): group_estimate(g)
            for (task, cell, hidden), g in points.groupby(["task", "cell", "hidden"], sort=False)}


def distance_at(distances: dict[int, float] | None):
    """T -> d for one task, linear through its (T, d) points and beyond them (d = T − 1, T + 3, ~0.75 T):
    exact for the suite's tasks, whose distance is linear in T; identity when the task does not say."""
    if not distances:
        return lambda t: t
    ts = np.array(sorted(distances), dtype=float)
    ds = np.array([distances[int(t)] for t in ts])
    slope = (ds[-1] - ds[0]) / (ts[-1] - ts[0]) if len(ts) > 1 else 1.0
    return lambda t: float(ds[0] + slope * (t - ts[0])) if np.isfinite(t) else t


def distance_in(distances: dict[int, float] | None, shortest: dict[int, float] | None = None):
    """T -> d for one task (estimates.distance_at: linear through its (T, d) points and beyond them), never
    below the task's shortest distance at that T (Lag.min, linear through its points the same way): a mean
    distance cannot be shorter than the shortest. Extrapolated below the lags tried, selective copy's mean
    (about T/2) would fall under the 4 steps every sequence carries its information (T 3 read as d 3.5);
    there the end is written as that bound (d 4). Memory's shortest is its mean (T−1): unchanged."""
    mean = distance_at(distances)
    if not distances or not shortest:
        return mean
    least = distance_at(shortest)
    return lambda t: max(mean(t), least(t)) if np.isfinite(t) else t


def p_order(a: Estimate | None, b: Estimate | None) -> float:
    """P(T50 of a > T50 of b); nan when either has no estimate."""
    return prob_greater(a, b) if a is not None and b is not None else float("nan")


def ranked(found: list[Estimate | None]) -> list[int]:
    """Indices of the estimates, longest T50 first: by the number of the others each is expected to beat,
    Σ_j P(T50_i > T50_j) over the posteriors. Not by the posterior median, which for an interval open at
    its top ('> 18') is the prior's, not the runs'. A group without an estimate comes last."""
    def wins(i: int) -> float:
        if found[i] is None:
            return -math.inf
        return sum(p_order(found[i], e) for j, e in enumerate(found) if j != i and e is not None)

    def score(e: Estimate | None) -> float:  # ties (each beats none): the median, an unreached half the longest
        if e is None:
            return -math.inf
        if e.claim == NO_T50:  # the curve never falls to one half: the longest horizon there is
            return math.inf
        return e.t50 if e.t50 == e.t50 else -math.inf

    return sorted(range(len(found)), key=lambda i: (-wins(i), -score(found[i])))


def p_shown(p: float) -> float:
    """p to 2 decimals, as printed; an order not claimed (p and 1 - p both below CLAIM_AT) never reads as claimed:
    0.9497 reads 0.94, not 0.95, and 0.0503 reads 0.06."""
    shown = round(p, 2)
    if p < CLAIM_AT and 1 - p < CLAIM_AT:
        shown = min(max(shown, round(1 - CLAIM_AT + 0.01, 2)), round(CLAIM_AT - 0.01, 2))
    return shown


def p_text(p: float) -> str:
    return f"{p_shown(p):.2f}"


def order_text(cell: str, reference: str, p: float) -> str:
    """'lstm beyond rnn (P = 0.99)', 'lstm short of rnn (P = 0.97)' or 'the data do not separate lstm from rnn
    (P(lstm beyond) = 0.71)', from p = P(cell's T50 > reference's): an order is claimed only at ≥ CLAIM_AT."""
    if p >= CLAIM_AT:
        return f"{cell} beyond {reference} (P = {p:.2f})"
    if 1 - p >= CLAIM_AT:
        return f"{cell} short of {reference} (P = {1 - p:.2f})"
    return f"the data do not separate {cell} from {reference} (P({cell} beyond) = {p_text(p)})"
