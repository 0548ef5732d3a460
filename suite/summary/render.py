"""The summary's wording: its tables, verdict sentences and gradient lines (document.py arranges them).

This is where every sentence is worded; the facts come from analysis.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.horizon.brackets import Majority
from suite.summary.analysis import (CellVerdict, GroupVerdict, SizeVerdict, gradient_ratios, horizons, judge,
                                   matched_sizes, size_verdicts)
from suite.summary.estimates import estimates, order_text, p_order, p_text
from suite.summary.gradient_trajectories import point_heading
from suite.summary.lags import LagNames, lag_names
from suite.summary.frame import cells_in_order

# -- numbers and tables ----------------------------------------------------------------
def fmt_loss(value: float) -> str:
    """2 decimals from 0.1 up, else 2 significant digits (0.0031), so small losses stay visible."""
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.2g}"


def point_text(row) -> str:
    """'3/3 · 0.01', with '(1 diverged, 1 crashed)' when there are any, and '· ∇10^-6.8' (the
    gradient reaching t=1 relative to t=T, median over seeds) when the runs measured it."""
    text = f"{row.n_solved}/{row.n_seeds} · {fmt_loss(row.loss_norm)}"
    ratio = getattr(row, "grad_log10_ratio", np.nan)
    if ratio is not None and np.isfinite(ratio):
        text += f" · ∇10^{ratio:.1f}"
    notes = [f"{n} {what}" for n, what in ((row.n_diverged, "diverged"), (row.n_crashed, "crashed")) if n]  # words
    return text + (f" ({', '.join(notes)})" if notes else "")


def task_tables(points: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per task: rows (seq_len, hidden), a column per cell; attrs['baseline_loss'] = {lag: loss}. A task tried
    at matched sizes: rows seq_len, a column per cell at its size ('mingru h=188')."""
    tables, matched = {}, matched_sizes(points)
    for task, g in points.groupby("task", sort=False):
        g = g.assign(text=[point_text(r) for r in g.itertuples()])
        if task in matched:
            names = {cell: f"{cell} h={hidden}" for cell, hidden in matched[task].items()}
            table = g.assign(cell=g["cell"].map(names)).pivot(index="seq_len", columns="cell", values="text")
            table = table[[names[c] for c in cells_in_order(g)]].fillna("–")
        else:
            table = g.pivot(index=["seq_len", "hidden"], columns="cell", values="text")[cells_in_order(g)].fillna("–")
        table.columns.name = None
        table.attrs["baseline_loss"] = g.groupby("seq_len")["baseline_loss"].median().dropna().to_dict()
        tables[task] = table
    return tables


def baseline_text(baselines: dict[int, float]) -> str:
    """The heading's statement: one value, or one per lag when it depends on the lag (copy)."""
    fmt = lambda v: f"{v:.3f}" if abs(v) >= 0.1 else f"{v:.3g}"  # noqa: E731  (as docs/tasks.md: 2.079, 0.297)
    values = {fmt(v) for v in baselines.values()}
    if not values:
        return "baseline loss not logged"
    if len(values) == 1:
        return f"baseline loss {values.pop()}"
    return "baseline loss " + ", ".join(f"{fmt(v)} at T={t}" for t, v in sorted(baselines.items()))


def lags_text(lags) -> str:
    return ",".join(str(t) for t in lags)


def horizons_text(points: pd.DataFrame) -> pd.DataFrame:
    """analysis.horizons with lag lists written '20,100,200' and the ratio to 3 digits (horizons.csv, the tables)."""
    ratio = lambda r: f"{r:.3g}" if np.isfinite(r) else ""  # noqa: E731
    return horizons(points).assign(lags_tried=lambda f: f["lags_tried"].map(lags_text),
                                   not_solved_below=lambda f: f["not_solved_below"].map(lags_text),
                                   unresolved=lambda f: f["unresolved"].map(lags_text),
                                   t50_ratio=lambda f: f["t50_ratio"].map(ratio),
                                   bracket_ratio=lambda f: f["bracket_ratio"].map(ratio))


# horizons.csv's columns that the summary's tables leave out (the CSV has them all)
HIDDEN_IN_TABLE = ["task", "t50", "t50_lo", "t50_hi", "p_floor_high", "bracket_d", "longest_solved", "first_failed"]


def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A small pipe table (tabulate is not a dependency); columns padded for the terminal."""
    frame = df.reset_index() if index else df
    cell = lambda v: "–" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)  # noqa
    rows = [[str(c) for c in frame.columns]] + [[cell(v).replace("|", "\\|") for v in r]
                                               for r in frame.itertuples(index=False)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    line = lambda r: "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows[1:]])


# -- verdicts --------------------------------------------------------------------------
def _solved_above(v: CellVerdict, i: int, names: LagNames) -> str:
    """'; 1/3 at d=199': seeds that solved lags from the i-th on, where the majority failed."""
    above = [f"{v.count(j)} at {names.at(v.lags[j])}" for j in v.solved_from(i)]
    return f"; solved above it: {', '.join(above)}" if above else ""


def cell_sentence(v: CellVerdict, names: LagNames = LagNames()) -> str:
    """One cell's verdict in words (see verdicts)."""
    if v.kind == "all_solved":
        return f"{v.cell} solves every lag tried (up to {names.at(v.lags[-1])}, {v.count(len(v.lags) - 1)})"
    if v.kind == "all_failed":
        return (f"{v.cell} fails at every lag tried (from {names.at(v.lags[0])}, {v.count(0, ' solved')}"
                f"{_solved_above(v, 1, names)})")
    if v.kind == "solves_then_fails":
        k = v.split
        return (f"{v.cell} solves up to {names.at(v.lags[k - 1])} ({v.count(k - 1)}) "
                f"but fails from {names.at(v.lags[k])} ({v.count(k, ' solved')}{_solved_above(v, k + 1, names)})")
    if v.kind == "no_majority":
        return f"{v.cell} has no majority at any lag tried ({names.many(v.lags)})"
    groups = [(word, v.lags_where(state)) for word, state in (("solves", Majority.SOLVED), ("fails", Majority.FAILED),
                                                              ("no majority at", Majority.NONE))]
    crashed = [f"{c} crashed at {names.at(t)}" for t, c in zip(v.lags, v.crashed) if c]
    return (f"{v.cell} mixed ({'; '.join(f'{w} {names.many(ts)}' for w, ts in groups if ts)}"
            f"{'; ' + ', '.join(crashed) if crashed else ''})")


def verdict_line(group: GroupVerdict, names: LagNames = LagNames()) -> str:
    lags = group.lags
    common = group.common_kind()
    if common == "all_failed" and not any(sum(c.solved) for c in group.cells):
        body = f"every cell fails at every lag tried ({names.span(lags)})"
    elif common == "all_solved":
        body = f"every cell solves every lag tried (up to {names.at(lags[-1])})"
    else:
        body = ", ".join(cell_sentence(v, names) for v in group.cells)
    return f"{group.task}: {body}"


def size_sentence(v: SizeVerdict, names: LagNames = LagNames()) -> str:
    """One cell's horizon (T50 with its 95% interval) across hidden sizes, and what the runs say of its trend."""
    each = ", ".join(f"{names.t50(e)} at h={h}" for h, e in zip(v.sizes, v.estimates))
    probabilities = ", ".join(p_text(p) for p in v.p_up)
    if all(e is None for e in v.estimates):
        return f"{v.cell}: no seed finished at any lag tried (h={','.join(map(str, v.sizes))}; see crashed runs)"
    if v.trend == "same":
        return f"{v.cell} T50 {names.t50(v.estimates[0])} at every size (h={','.join(map(str, v.sizes))})"
    if v.trend == "unclear":
        return (f"{v.cell} T50 {each}; the data do not separate the sizes (P(the larger size's T50 is longer) = "
                f"{probabilities})")
    shown = probabilities if v.trend == "grows" else ", ".join(f"{1 - p:.2f}" for p in v.p_up)
    return f"{v.cell}'s horizon {v.trend} with size (P = {shown}): T50 {each}"


def comparisons(found: dict, group: GroupVerdict, reference: str) -> str:
    """'lstm beyond rnn (P = 0.99), gru: the data do not separate it from rnn (P(beyond) = 0.71)': each cell
    against the reference cell, claimed only at a posterior probability ≥ CLAIM_AT (estimates.order_text)."""
    cells, task, size = [v.cell for v in group.cells], group.task, group.hidden_of
    if reference not in cells or len(cells) < 2:
        return ""
    said = []
    for cell in cells:
        if cell == reference:
            continue
        p = p_order(found.get((task, cell, size(cell))), found.get((task, reference, size(reference))))
        if p == p:  # nan: a group without an estimate
            said.append(order_text(cell, reference, p))
    return ", ".join(said)


def t50_part(group: GroupVerdict, found: dict, names: LagNames, reference: str) -> str:
    """'horizon T50: rnn d 80 [48, 160], lstm d > 199; lstm beyond rnn (P = 0.99)'."""
    each = ", ".join(f"{v.cell} {names.t50(found.get((group.task, v.cell, group.hidden_of(v.cell))))}"
                     for v in group.cells)
    compared = comparisons(found, group, reference)
    return f"horizon T50: {each}" + (f"; {compared}" if compared else "")


def verdicts(points: pd.DataFrame, reference: str = "rnn") -> list[str]:
    """One line per task, its lags written as the distance d its information travels (LagNames; T
    for a task that does not say; `lags_line` says how d relates to T).

    A task tried at two or more hidden sizes: its cells' horizons, T50 with its 95% interval
    (suite/summary/estimates.py), by size, and a trend only where the runs separate the sizes:
      "memory: rnn's horizon shrinks with size (P = 0.99, 0.97): T50 d 150 [120, 190] at h=32, ...;
       lstm T50 d > 199 at every size (h=32,64,128)"
    "grows"/"shrinks" needs a posterior probability ≥ 0.95 for every step between consecutive sizes
    (printed); otherwise "the data do not separate the sizes (P(the larger size's T50 is longer) = ...)".
    A task tried at one hidden size: per cell, from the majority state of each lag tried (package
    doc): first "horizon T50: rnn d 80 [48, 160], lstm d > 199; lstm beyond rnn (P = 0.99)", each
    cell's T50 and each cell against the reference cell, claimed only at ≥ 0.95 ("the data do not
    separate lstm from rnn (P(lstm beyond) = 0.71)" otherwise), then "; by lag: " and the majority
    sentences, in lag order:
      every lag solved           -> "lstm solves every lag tried (up to d=199, 3/3)"
      every lag failed           -> "rnn fails at every lag tried (from d=19, 0/3 solved)"
      solved up to a lag, failed at every longer one
                                 -> "rnn solves up to d=49 (3/3) but fails from d=99 (0/3 solved;
                                     solved above it: 1/3 at d=199)"
      no majority at any lag     -> "gru has no majority at any lag tried (d=49,99)"
      anything else              -> "rnn mixed (solves d=19,99; fails d=49; no majority at d=199)"
    The count is solved/seeds at the lag named, with the crashed seeds named ("2/3 (1 crashed)"): a
    crash is neither outcome. A lag failed by majority still names the seeds that solved it or a
    longer lag ("solved above it"). With two or more cells that all fail (all solve) every lag and
    no seed solved anything: "every cell fails at every lag tried (d=4..49)" ("every cell solves
    every lag tried (up to d=199)").
    """
    by_size = size_verdicts(points)
    names = lag_names(points)
    found = estimates(points)
    lines, done = [], set()
    for group in judge(points):
        named = names.get(group.task, LagNames())
        if group.task not in by_size:
            # the estimate first (what the UI's description and the parent's tags lead with), the raw evidence after
            task, _, by_lag = verdict_line(group, named).partition(": ")
            lines.append(f"{task}: {t50_part(group, found, named, reference)}; by lag: {by_lag}")
        elif group.task not in done:
            done.add(group.task)
            lines.append(f"{group.task}: " + "; ".join(size_sentence(v, named) for v in by_size[group.task]))
    return lines


def gradient_lines(points: pd.DataFrame, reference: str = "rnn") -> list[str]:
    """'memory, d=199 (T=200), h=64: rnn 10^-6.8, lstm 10^-0.4, gru 10^-1.2', from the runs' own measurements."""
    names = lag_names(points)
    return [f"{point_heading(names, task, lag, hidden)}: " + ", ".join(f"{cell} 10^{ratio:.1f}"
                                                                         for cell, ratio in values)
            for task, lag, hidden, values in gradient_ratios(points, reference)]
