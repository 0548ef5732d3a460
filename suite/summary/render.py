"""The summary as text: tables, verdict sentences, the gradient lines, Markdown and terminal sections.

This is where every sentence is worded; the facts come from analysis.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.horizon import FAILED, NONE, SOLVED
from suite.record import Outcome
from suite.summary.analysis import (CellVerdict, GroupVerdict, SizeVerdict, gradient_ratios, horizons, judge,
                                    size_verdicts)
from suite.summary.frame import cells_in_order

BAD_OUTCOMES = [Outcome.CRASHED, Outcome.DIVERGED]


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
    """Per task: rows (seq_len, hidden), a column per cell; attrs['baseline_loss'] = {lag: loss}."""
    tables = {}
    for task, g in points.groupby("task", sort=False):
        g = g.assign(text=[point_text(r) for r in g.itertuples()])
        table = g.pivot(index=["seq_len", "hidden"], columns="cell", values="text")[cells_in_order(g)].fillna("–")
        table.columns.name = None
        table.attrs["baseline_loss"] = g.groupby("seq_len")["baseline_loss"].median().dropna().to_dict()
        tables[task] = table
    return tables


def baseline_text(baselines: dict[int, float]) -> str:
    """The heading's statement: one value, or one per lag when it depends on the lag (copy)."""
    fmt = lambda v: f"{v:.3f}" if abs(v) >= 0.1 else f"{v:.3g}"  # noqa: E731  (as the README: 2.079, 0.297)
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
    return horizons(points).assign(lags_tried=lambda f: f["lags_tried"].map(lags_text),
                                   not_solved_below=lambda f: f["not_solved_below"].map(lags_text),
                                   ratio=lambda f: f["ratio"].map(lambda r: f"{r:.3g}" if np.isfinite(r) else ""))


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
def cell_sentence(v: CellVerdict) -> str:
    """One cell's verdict in words (see verdicts)."""
    count = [f"{s}/{n}" for s, n in zip(v.solved, v.seeds)]
    if v.kind == "all_solved":
        return f"{v.cell} solves every lag tried (up to T={v.lags[-1]}, {count[-1]})"
    if v.kind == "all_failed":
        return f"{v.cell} fails at every lag tried (from T={v.lags[0]}, {count[0]} solved)"
    if v.kind == "solves_then_fails":
        k = v.split
        return (f"{v.cell} solves up to T={v.lags[k - 1]} ({count[k - 1]}) "
                f"but fails from T={v.lags[k]} ({count[k]} solved)")
    if v.kind == "no_majority":
        return f"{v.cell} has no majority at any lag tried (T={lags_text(v.lags)})"
    groups = [(word, v.lags_where(state)) for word, state in (("solves", SOLVED), ("fails", FAILED),
                                                              ("no majority at", NONE))]
    return f"{v.cell} mixed ({'; '.join(f'{w} T={lags_text(ts)}' for w, ts in groups if ts)})"


def verdict_line(group: GroupVerdict) -> str:
    lags = group.lags
    span = f"T={lags[0]}..{lags[-1]}" if len(lags) > 1 else f"T={lags[0]}"
    common = group.common_kind()
    if common == "all_failed":
        body = f"every cell fails at every lag tried ({span})"
    elif common == "all_solved":
        body = f"every cell solves every lag tried (up to T={lags[-1]})"
    else:
        body = ", ".join(cell_sentence(v) for v in group.cells)
    return f"{group.task}: {body}"


def size_sentence(v: SizeVerdict) -> str:
    """One cell's horizon across hidden sizes (see verdicts)."""
    each = ", ".join(f"{b.text()} at h={h}" for h, b in zip(v.sizes, v.brackets))
    if v.trend == "same":
        text = f"{v.cell} {v.brackets[0].text()} at every size (h={','.join(map(str, v.sizes))})"
    elif v.trend == "unclear":
        text = f"{v.cell}'s horizon: {each} (no clear trend with size)"
    else:
        text = f"{v.cell}'s horizon {v.trend} with size: {each}"
    odd = [f"h={h}: not solved at T={lags_text(b.not_solved_below)}" for h, b in zip(v.sizes, v.brackets)
           if not b.monotone]
    return text + (f" (non-monotone: {'; '.join(odd)})" if odd else "")


def verdicts(points: pd.DataFrame) -> list[str]:
    """One line per task.

    A task tried at two or more hidden sizes: its cells' horizons (brackets, suite/horizon.py) by size:
      "memory: rnn's horizon grows with size: 30–52 at h=32, 52–68 at h=64, 68–78 at h=128;
       lstm ≥ 270 at every size (h=32,64,128)"
    with "shrinks", "(no clear trend with size)" when brackets overlap, and "(non-monotone: h=64:
    not solved at T=30)" when a lag below the longest solved one was not solved.
    A task tried at one hidden size: per cell, from the majority state of each lag tried (package
    doc), in lag order:
      every lag solved           -> "lstm solves every lag tried (up to T=200, 3/3)"
      every lag failed           -> "rnn fails at every lag tried (from T=20, 0/3 solved)"
      solved up to a lag, failed at every longer one
                                 -> "rnn solves up to T=50 (3/3) but fails from T=100 (0/3 solved)"
      no majority at any lag     -> "gru has no majority at any lag tried (T=50,100)"
      anything else              -> "rnn mixed (solves T=20,100; fails T=50; no majority at T=200)"
    The count is solved/seeds at the lag named. Cells are joined by ", ". With two or more
    cells that all fail (all solve) every lag: "every cell fails at every lag tried (T=5..50)"
    ("every cell solves every lag tried (up to T=200)").
    """
    by_size = size_verdicts(points)
    lines, done = [], set()
    for group in judge(points):
        if group.task not in by_size:
            lines.append(verdict_line(group))
        elif group.task not in done:
            done.add(group.task)
            lines.append(f"{group.task}: " + "; ".join(size_sentence(v) for v in by_size[group.task]))
    return lines


def gradient_lines(points: pd.DataFrame, reference: str = "rnn") -> list[str]:
    """'memory, T=200: rnn 10^-6.8, lstm 10^-0.4, gru 10^-1.2', from the runs' own measurements."""
    return [f"{task}, T={lag}, h={hidden}: " + ", ".join(f"{cell} 10^{ratio:.1f}" for cell, ratio in values)
            for task, lag, hidden, values in gradient_ratios(points, reference)]


# -- the whole summary -----------------------------------------------------------------
def problem_runs(runs: pd.DataFrame) -> list[str]:
    """Crashed and diverged runs, one line each, with the error a crash left."""
    bad = runs[runs["outcome"].isin(BAD_OUTCOMES)]
    return [f"`{r.run_name or r.run_id}` ({r.outcome}" + (f", {r.status}): {r.error or 'no error recorded'}"
                                                           if r.outcome == Outcome.CRASHED else ")")
            for r in bad.itertuples()]


def _sections(points: pd.DataFrame, runs: pd.DataFrame, h1: str, h2: str, h3: str, reference: str) -> str:
    if points.empty:
        return f"{h1}Sweep summary\n\nNo finished runs.\n"
    n_bad = runs["outcome"].isin(BAD_OUTCOMES).sum()
    parts = [f"{h1}Sweep summary", f"{len(runs)} runs, {len(points)} points, {n_bad} crashed or diverged. "
             "Cells: solved/seeds · mean eval loss ÷ memoryless baseline (1.00 = learned nothing).",
             f"{h2}Verdicts", "\n".join(f"- {v}" for v in verdicts(points))]
    gradients = gradient_lines(points, reference)
    if gradients:
        parts += [f"{h2}Why: the gradient reaching the first step (‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖, median over seeds)",
                  "\n".join(f"- {g}" for g in gradients)]
    hz = horizons_text(points)
    for task, table in task_tables(points).items():
        parts += [f"{h2}{task} ({baseline_text(table.attrs['baseline_loss'])})", markdown_table(table),
                  f"{h3}{task}: horizons (the longest lag a majority of seeds solved – the next lag tried; "
                  "solved_lower/upper: seeds that solved those two lags)",
                  markdown_table(hz[hz["task"] == task].drop(columns=["task", "longest_solved", "first_failed"]),
                                 index=False)]
        bad = problem_runs(runs[runs["task"] == task])
        if bad:
            parts += [f"{h3}{task}: crashed and diverged runs", "\n".join(f"- {b}" for b in bad)]
    return "\n\n".join(parts) + "\n"


def render_markdown(points: pd.DataFrame, runs: pd.DataFrame, reference: str = "rnn") -> str:
    return _sections(points, runs, "# ", "## ", "### ", reference)


def format_text(points: pd.DataFrame, runs: pd.DataFrame, reference: str = "rnn") -> str:
    """The same content for a terminal: plain headings, the tables as pipe tables."""
    return _sections(points, runs, "== ", "-- ", "", reference)
