"""The leaderboard: the cells of each task tried at matched sizes (analysis.matched_sizes, as
experiment=leaderboard runs them), ranked by horizon, with the intervals and the probabilities that
separate them.

Ranked longest T50 first by the number of the others each is expected to beat (estimates.ranked). The
tiers carry the claim: a cell opens a new tier only where the cell ranked just above it is beyond it
with P ≥ CLAIM_AT (estimates.p_order, printed as p_beyond_next). Within a tier the runs do not separate
neighbours, so the order there is no claim (two cells a tier apart may still be separated: read P).
A cell without an estimate (no finished run) comes last, with no tier. Beside its horizon, each cell's growth:
how much longer its learning time gets per doubling of the lag (suite/summary/learning.py's fit of its runs).
"""
from __future__ import annotations

import pandas as pd

from suite.summary.analysis import lag_distances, matched_sizes, shortest_distances
from suite.summary.estimates import CLAIM_AT, distance_in, estimates, p_order, p_shown, ranked
from suite.summary.learning import growth_text, learning_groups

COLUMNS = ["task", "tier", "cell", "hidden", "weights", "lr", "horizon", "horizon_d", "runs", "p_beyond_next",
           "growth"]


def rates_of(runs: pd.DataFrame, task: str, cell: str) -> str:
    """The learning rate(s) the cell's runs on the task trained at ('0.003'; '0.001, 0.005' where they differ;
    '' where the runs do not record it)."""
    if "lr" not in runs:
        return ""
    lr = pd.to_numeric(runs.loc[(runs["task"] == task) & (runs["cell"] == cell), "lr"], errors="coerce").dropna()
    return ", ".join(f"{v:g}" for v in sorted(lr.unique()))


def leaderboards(points: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """A row per cell of each matched task (COLUMNS), best first: its tier, size, weights (the recurrent
    module's, median over its runs), the rate it trained at, T50 in T and in d, finished runs, P(its T50 > the
    next one's), and the growth of its learning time per doubling of the lag from `runs` (the points' runs;
    learning.growth_text: '×4.1 [2.5, 8.1]', '–' where it could not be fitted; learning.py caches the fits)."""
    found, distances, matched, rows = estimates(points), lag_distances(points), matched_sizes(points), []
    shortest = shortest_distances(points)
    groups = {(g.task, g.cell, g.hidden): g for g in learning_groups(runs)} if matched else {}
    for task, sizes in matched.items():
        cells = list(sizes)
        chosen = [found[(task, cell, sizes[cell])] for cell in cells]
        order = ranked(chosen)
        to_d = distance_in(distances.get(task), shortest.get(task))  # never below the task's shortest distance
        tier, above = 1, float("nan")
        for place, i in enumerate(order):
            e = chosen[i]
            after = chosen[order[place + 1]] if place + 1 < len(order) else None
            tier += place > 0 and above >= CLAIM_AT  # the cell above is beyond this one
            weights = points.loc[(points["task"] == task) & (points["cell"] == cells[i]), "weights"].median()
            beyond_next = p_order(e, after)
            rows.append({"task": task, "tier": tier if e is not None else pd.NA, "cell": cells[i],
                         "hidden": sizes[cells[i]], "weights": int(weights) if weights == weights else pd.NA,
                         "lr": rates_of(runs, task, cells[i]),
                         "horizon": e.text() if e else "no finished runs",
                         "horizon_d": e.text(to_d) if e and task in distances else pd.NA,
                         "runs": e.runs if e else 0, "p_beyond_next": p_shown(beyond_next),
                         "growth": growth_text(groups.get((task, cells[i], int(sizes[cells[i]]))))})
            above = beyond_next
    return pd.DataFrame(rows, columns=COLUMNS).astype({"tier": "Int64", "weights": "Int64"})


def leaderboard_lines(board: pd.DataFrame) -> list[str]:
    """'memory: tier 1 lstm d > 89, gru d > 89; tier 2 (P = 0.99 that the one above is beyond) rnn d 40 [30, 60]'."""
    lines = []
    for task, rows in board.groupby("task", sort=False):
        in_d = rows["horizon_d"].notna().all()
        symbol, column = ("d", "horizon_d") if in_d else ("T", "horizon")
        said = lambda r: f"{r.cell} " + (getattr(r, column) if str(getattr(r, column)).startswith("no ")  # noqa: E731
                                          else f"{symbol} {getattr(r, column)}")
        parts, above = [], None
        for tier, members in rows.groupby("tier", sort=False, dropna=False):
            each = ", ".join(said(r) for r in members.itertuples())
            if pd.isna(tier):
                parts.append(f"not ranked: {each}")
                continue
            step = f" (P = {above:.2f} that the one above is beyond)" if above is not None else ""
            parts.append(f"tier {tier}{step} {each}")
            above = members["p_beyond_next"].iloc[-1]
        lines.append(f"{task}: " + "; ".join(parts))
    return lines


def board_section(points: pd.DataFrame, runs: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """(the lines, the table) for the summary; both empty when no task was tried at matched sizes."""
    board = leaderboards(points, runs)
    return leaderboard_lines(board), board
