"""Summaries of a sweep: from MLflow runs to tables, horizons, verdicts and plots.

Everything here works on `mlflow.search_runs`' DataFrame, so a past sweep can be
re-summarised from the store without training (`python -m suite.summary`).
mlflow and matplotlib are imported inside the functions that need them: importing
this module stays cheap for code that only builds tables.

Majority rule, used by the horizons and the verdicts: at one (task, lag, hidden,
cell) point a lag is "solved" when a strict majority of the seeds tried solved it,
"failed" when a strict majority ended without solving it (failed or diverged), and
"none" otherwise (a tie, or crashes leave no majority). A crash is no evidence either
way, so it never counts as a failure.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CELL_ORDER = ("rnn", "lstm", "gru")
OUTCOMES = ("solved", "failed", "diverged")
KEPT_STATUS = ("FINISHED", "FAILED", "KILLED")  # RUNNING/SCHEDULED runs have no result yet
CRASH_STATUS = ("FAILED", "KILLED")
POINT_KEYS = ["task", "seq_len", "hidden", "cell"]
PROFILE_CSV = "grad_profile.csv"  # each run's artifact diagnostics/<this>, as suite.diagnostics names it
# (not imported from there: that would load torch into `python -m suite.summary`)
RUN_COLUMNS = ["task", "cell", "seq_len", "hidden", "seed", "outcome", "loss_norm", "metric", "steps_to_solve",
               "baseline_loss", "grad_log10_ratio", "run_id", "run_name", "error", "status", "start_time"]


# -- tidy runs -----------------------------------------------------------------
def _col(df: pd.DataFrame, name: str) -> pd.Series:
    """A column, or all-missing when no run logged it (search_runs omits such columns)."""
    return df[name] if name in df.columns else pd.Series(np.nan, index=df.index, dtype=object)


def _text(series: pd.Series) -> pd.Series:
    return series.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))


def _number(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float)


def _cell_rank(series: pd.Series) -> pd.Series:
    # rnn, lstm, gru first (the suite's story), any other cell after them by name; variants after their cell.
    base = lambda c: c.split(" (")[0]  # noqa: E731
    return series.map(lambda c: f"{CELL_ORDER.index(base(c))}{c}" if base(c) in CELL_ORDER
                      else f"{len(CELL_ORDER)}{c}")


def _sorted(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    key = lambda s: _cell_rank(s) if s.name == "cell" else s  # noqa: E731
    return df.sort_values(by, key=key, kind="stable").reset_index(drop=True)


def runs_frame(df: pd.DataFrame | None) -> pd.DataFrame:
    """search_runs output -> one tidy row per suite run (columns RUN_COLUMNS).

    Runs without the suite's tags (a sweep's parent run, runs of other tools) are left out,
    as are runs still RUNNING. outcome is "crashed" for FAILED/KILLED runs and for any run
    without a valid outcome tag.
    """
    if df is None or df.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RUN_COLUMNS})
    status = _text(_col(df, "status")).str.upper()
    df, status = df[status.isin(KEPT_STATUS)], status[status.isin(KEPT_STATUS)]
    raw_outcome = _text(_col(df, "tags.outcome"))
    crashed = status.isin(CRASH_STATUS) | ~raw_outcome.isin(OUTCOMES)
    out = pd.DataFrame({
        "task": _text(_col(df, "tags.task")), "cell": _text(_col(df, "tags.cell")),
        "seq_len": _number(_col(df, "tags.seq_len")), "hidden": _number(_col(df, "tags.hidden")),
        "seed": _number(_col(df, "tags.seed")),
        "outcome": raw_outcome.where(~crashed, "crashed"),
        "loss_norm": _number(_col(df, "metrics.eval_loss_norm")), "metric": np.nan,
        "steps_to_solve": _number(_col(df, "metrics.steps_to_solve")),
        "baseline_loss": _number(_col(df, "params.baseline_loss")),
        "grad_log10_ratio": _number(_col(df, "metrics.grad_log10_ratio")),
        "run_id": _text(_col(df, "run_id")), "run_name": _text(_col(df, "tags.mlflow.runName")),
        "error": _text(_col(df, "tags.error")), "status": status,
        "start_time": pd.to_datetime(_col(df, "start_time"), errors="coerce", utc=True),
        # where fetch_profiles finds the gradient profile; not written to runs.csv (it holds local paths)
        "artifact_uri": _text(_col(df, "artifact_uri")),
    })
    # Each run names its task's metric (tag task_metric), so no task is named here.
    for name in _text(_col(df, "tags.task_metric")).unique():
        column = f"metrics.eval_{name}"
        if name and column in df.columns:
            rows = _text(_col(df, "tags.task_metric")) == name
            out.loc[rows, "metric"] = _number(df.loc[rows, column])
    usable = (out["task"] != "") & (out["cell"] != "") & out[["seq_len", "hidden", "seed"]].notna().all(axis=1)
    out = out[usable].astype({"seq_len": int, "hidden": int, "seed": int})
    out["cell"] = _with_variants(out["cell"], df.loc[out.index], out["task"])
    return _sorted(out, ["task", "seq_len", "hidden", "cell", "seed"])


# Params that vary from run to run by design (the lag, the seed, ...) or do not change what
# is trained; any *other* param that differs between runs of one (task, cell) is a variant.
NOT_VARIANTS = ("params.seq_len", "params.task.seq_len", "params.seed", "params.rung", "params.run_name",
                "params.hidden", "params.n_params", "params.baseline_loss", "params.input_length",
                "params.threads", "params.resume", "params.device", "params.sweep_name")
NOT_VARIANT_PREFIXES = ("params.tracking.", "params.ladders.", "params.hidden_by_cell.")


def _with_variants(cells: pd.Series, df: pd.DataFrame, tasks: pd.Series) -> pd.Series:
    """'lstm' -> 'lstm (cell.forget_bias=chrono)' when a sweep varied a knob beyond lag and seed.

    Without this, runs of e.g. a learning-rate sweep would be folded together as reruns.
    """
    labels = cells.copy()
    params = [c for c in df.columns if c.startswith("params.") and c not in NOT_VARIANTS
              and not c.startswith(NOT_VARIANT_PREFIXES)]
    for _, rows in df.groupby([tasks, cells]).groups.items():
        group = df.loc[rows, params].astype(str)
        varied = [c for c in params if group[c].nunique() > 1]
        if varied:
            labels.loc[rows] = cells.loc[rows] + " (" + group[varied].apply(
                lambda r: ", ".join(f"{c[len('params.'):]}={v}" for c, v in r.items()), axis=1) + ")"
    return labels


def latest_per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per (point, seed): a rerun of the same configuration replaces the older run."""
    runs = runs.sort_values("start_time", kind="stable", na_position="first")
    return runs.drop_duplicates(POINT_KEYS + ["seed"], keep="last")


# -- points, tables, horizons ----------------------------------------------------
def majority(n_solved: int, n_failed: int, n_seeds: int) -> str:
    """"solved" / "failed" / "none" by strict majority of the seeds tried (see module doc)."""
    if 2 * n_solved > n_seeds:
        return "solved"
    return "failed" if 2 * n_failed > n_seeds else "none"


def point_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, seq_len, hidden, cell) over its seeds (latest run per seed).

    loss_norm and metric are means over the runs that finished (a crashed run's last value
    is not a result) with a finite value; steps_to_solve is the median over solved seeds.
    n_runs counts runs before reruns were folded; majority is the state defined above.
    """
    repeats = runs.groupby(POINT_KEYS).size()
    rows = []
    for key, g in latest_per_seed(runs).groupby(POINT_KEYS, sort=False):
        done = g[g["outcome"] != "crashed"]
        finite = lambda s: s[np.isfinite(s)]  # noqa: E731
        counts = g["outcome"].value_counts()
        n_solved, n_seeds = int(counts.get("solved", 0)), len(g)
        n_failed = int(counts.get("failed", 0) + counts.get("diverged", 0))
        rows.append({
            **dict(zip(POINT_KEYS, key)), "n_seeds": n_seeds, "n_solved": n_solved, "success": n_solved / n_seeds,
            "loss_norm": finite(done["loss_norm"]).mean(), "metric": finite(done["metric"]).mean(),
            "n_diverged": int(counts.get("diverged", 0)), "n_crashed": int(counts.get("crashed", 0)),
            "steps_to_solve": g.loc[g["outcome"] == "solved", "steps_to_solve"].median(),
            "baseline_loss": g["baseline_loss"].median(), "n_runs": int(repeats[key]),
            "grad_log10_ratio": finite(done["grad_log10_ratio"]).median(),
            "majority": majority(n_solved, n_failed, n_seeds),
        })
    if not rows:
        return pd.DataFrame(columns=POINT_KEYS + ["n_seeds", "n_solved", "success", "loss_norm", "majority"])
    return _sorted(pd.DataFrame(rows), POINT_KEYS)


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
    notes = [f"{n} {what}" for n, what in ((row.n_diverged, "diverged"), (row.n_crashed, "crashed")) if n]
    return text + (f" ({', '.join(notes)})" if notes else "")


def _cells(frame: pd.DataFrame) -> list[str]:
    return list(_sorted(pd.DataFrame({"cell": frame["cell"].unique()}), ["cell"])["cell"])


def task_tables(points: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per task: rows (seq_len, hidden), a column per cell; attrs['baseline_loss'] = {lag: loss}."""
    tables = {}
    for task, g in points.groupby("task", sort=False):
        g = g.assign(text=[point_text(r) for r in g.itertuples()])
        table = g.pivot(index=["seq_len", "hidden"], columns="cell", values="text")[_cells(g)].fillna("–")
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


def horizons(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, cell, hidden): longest_solved, horizon ('none', '≥ T' or 'T'),
    first_failed (shortest lag a majority failed; NA if none), lags_tried, monotone
    (False when some lag fails below a solved one)."""
    rows = []
    for (task, cell, hidden), g in points.groupby(["task", "cell", "hidden"], sort=False):
        g = g.sort_values("seq_len")
        lags, states = [int(x) for x in g["seq_len"]], list(g["majority"])
        solved = [t for t, s in zip(lags, states) if s == "solved"]
        failed = [t for t, s in zip(lags, states) if s == "failed"]
        horizon = "none" if not solved else f"≥ {lags[-1]}" if states[-1] == "solved" else str(max(solved))
        rows.append({"task": task, "cell": cell, "hidden": hidden,
                     "longest_solved": max(solved) if solved else pd.NA, "horizon": horizon,
                     "first_failed": min(failed) if failed else pd.NA, "lags_tried": lags,
                     "monotone": not (solved and failed and min(failed) < max(solved))})
    frame = pd.DataFrame(rows, columns=["task", "cell", "hidden", "longest_solved", "horizon", "first_failed",
                                        "lags_tried", "monotone"])
    frame = frame.astype({"longest_solved": "Int64", "first_failed": "Int64"})
    return _sorted(frame, ["task", "hidden", "cell"])


# -- verdicts ------------------------------------------------------------------
def _lags(lags) -> str:
    return ",".join(str(t) for t in lags)


def cell_verdict(cell: str, g: pd.DataFrame) -> tuple[str, str]:
    """(kind, phrase) for one cell's points sorted by lag; kind is 'all_solved', 'all_failed' or 'other'."""
    lags, states = list(g["seq_len"]), list(g["majority"])
    count = [f"{s}/{n}" for s, n in zip(g["n_solved"], g["n_seeds"])]
    if all(s == "solved" for s in states):
        return "all_solved", f"{cell} solves every lag tried (up to T={lags[-1]}, {count[-1]})"
    if all(s == "failed" for s in states):
        return "all_failed", f"{cell} fails at every lag tried (from T={lags[0]}, {count[0]} solved)"
    k = next(i for i, s in enumerate(states) if s != "solved")  # the first lag not solved
    if k > 0 and all(s == "failed" for s in states[k:]):
        return "other", (f"{cell} solves up to T={lags[k - 1]} ({count[k - 1]}) "
                         f"but fails from T={lags[k]} ({count[k]} solved)")
    if all(s == "none" for s in states):
        return "other", f"{cell} has no majority at any lag tried (T={_lags(lags)})"
    groups = [(word, [t for t, s in zip(lags, states) if s == state])
              for word, state in (("solves", "solved"), ("fails", "failed"), ("no majority at", "none"))]
    return "other", f"{cell} mixed ({'; '.join(f'{w} T={_lags(ts)}' for w, ts in groups if ts)})"


def verdicts(points: pd.DataFrame) -> list[str]:
    """One line per task (per task and hidden size when a task has several: suffix ' [h=H]').

    Per cell, from the majority state of each lag tried (module doc), in lag order:
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
    lines = []
    for task, tp in points.groupby("task", sort=False):
        hiddens = sorted(tp["hidden"].unique())
        for hidden in hiddens:
            hp = tp[tp["hidden"] == hidden]
            judged = [cell_verdict(c, hp[hp["cell"] == c].sort_values("seq_len")) for c in _cells(hp)]
            kinds = {kind for kind, _ in judged}
            lags = sorted(hp["seq_len"].unique())
            span = f"T={lags[0]}..{lags[-1]}" if len(lags) > 1 else f"T={lags[0]}"
            if len(judged) > 1 and kinds == {"all_failed"}:
                body = f"every cell fails at every lag tried ({span})"
            elif len(judged) > 1 and kinds == {"all_solved"}:
                body = f"every cell solves every lag tried (up to T={lags[-1]})"
            else:
                body = ", ".join(phrase for _, phrase in judged)
            lines.append(f"{task}: {body}" + (f" [h={hidden}]" if len(hiddens) > 1 else ""))
    return lines


# -- plots (matplotlib's Figure directly: no pyplot state, no GUI backend) -------
def _panels(n: int, width: float = 4.5, height: float = 3.4):
    from matplotlib.figure import Figure

    cols = max(1, min(n, 3))
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(width * cols, height * rows))
    # Fixed margins: matplotlib's constrained layout cost ~0.3 s a figure, a third of a summary's time.
    fig.subplots_adjust(left=0.6 / (width * cols), right=1 - 0.15 / (width * cols), wspace=0.32,
                        bottom=0.5 / (height * rows), top=1 - 0.35 / (height * rows), hspace=0.45)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def _style(cell: str) -> dict:
    """The same colour and marker for a cell in every panel; markers of decreasing size so that
    cells with identical results (all at 0) stay visible on top of each other."""
    i = CELL_ORDER.index(cell) if cell in CELL_ORDER else len(CELL_ORDER) + sum(map(ord, cell)) % 5
    return {"color": f"C{i}", "marker": "os^Dvx<>"[i % 8], "markersize": max(8 - 1.5 * i, 3)}


def _lag_axis(ax, lags) -> None:
    lags = sorted(set(int(t) for t in lags))
    if lags and lags[0] > 0 and lags[-1] / lags[0] >= 8:  # a log axis once lags span ~an order of magnitude
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(lags, [str(t) for t in lags])
    ax.set_xlabel("lag T")


def plot_success(points: pd.DataFrame, path: str | Path) -> Path:
    """Success rate against lag, one panel per task, a line per cell (and hidden size, if several)."""
    tasks = list(points["task"].unique()) if len(points) else []
    fig, axes = _panels(max(len(tasks), 1))
    if not tasks:
        axes[0].text(0.5, 0.5, "no runs", ha="center", va="center")
    for ax, task in zip(axes, tasks):
        tp = points[points["task"] == task]
        sizes = sorted(tp["hidden"].unique())
        for hidden in sizes:
            for cell in _cells(tp):
                g = tp[(tp["cell"] == cell) & (tp["hidden"] == hidden)].sort_values("seq_len")
                if g.empty:
                    continue
                ax.plot(g["seq_len"], g["success"], ls=["-", "--", ":", "-."][sizes.index(hidden) % 4],
                        label=f"{cell} h={hidden}" if len(sizes) > 1 else cell, **_style(cell))
        _lag_axis(ax, tp["seq_len"])
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("success rate (seeds solved)")
        ax.set_title(task)
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_curves(histories: dict[str, list[tuple[int, float]]], runs: pd.DataFrame, path: str | Path) -> Path:
    """Learning curves: histories maps run_name -> [(step, eval_loss_norm)]; `runs` (tidy) says each
    run's task, cell and lag. One panel per task, a line per (cell, seq_len)."""
    info = runs.drop_duplicates("run_name").set_index("run_name")
    named = [n for n in histories if n in info.index]
    tasks = list(dict.fromkeys(info.loc[n, "task"] for n in named))
    fig, axes = _panels(max(len(tasks), 1))
    if not tasks:
        axes[0].text(0.5, 0.5, "no learning curves", ha="center", va="center")
    for ax, task in zip(axes, tasks):
        values, mine = [], [n for n in named if info.loc[n, "task"] == task]
        longest = max(info.loc[n, "seq_len"] for n in mine)
        for name in mine:
            points = [(s, v) for s, v in histories[name] if np.isfinite(v)]  # a diverged run ends in NaN
            if points:
                cell, lag = info.loc[name, "cell"], info.loc[name, "seq_len"]
                steps, vals = zip(*sorted(points))
                ax.plot(steps, vals, color=_style(cell)["color"], ls="-" if lag == longest else "--",
                        label=f"{cell} T={lag}")
                values.extend(vals)
        if values and min(values) > 0:
            ax.set_yscale("log")  # a solved run's loss falls by orders of magnitude
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")  # the memoryless baseline
        ax.set(title=task, xlabel="step", ylabel="eval loss / baseline")
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


def representative_runs(runs: pd.DataFrame, max_runs: int = 12, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Runs worth a learning curve: per (task, cell), at the largest hidden size and its smallest
    finished seed, the longest lag tried, then (budget allowing) the cell's longest solved lag."""
    done = runs[runs["outcome"] != "crashed"]
    hz = horizons(point_table(runs) if points is None else points) if len(runs) else None
    first, second = [], []
    for (task, cell), g in done.groupby(["task", "cell"], sort=False):
        g = g[g["hidden"] == g["hidden"].max()]
        pick = lambda lag: g[g["seq_len"] == lag].sort_values("seed").iloc[0]  # noqa: E731
        first.append(pick(g["seq_len"].max()))
        row = hz[(hz["task"] == task) & (hz["cell"] == cell) & (hz["hidden"] == g["hidden"].max())]
        solved = row["longest_solved"].iloc[0]
        if not pd.isna(solved) and solved != g["seq_len"].max():
            second.append(pick(solved))
    chosen = (first + second)[:max_runs]
    return pd.DataFrame(chosen) if chosen else runs.iloc[:0]


def fetch_histories(client, runs: pd.DataFrame, metric: str = "eval_loss_norm") -> dict[str, list]:
    """run_name -> [(step, value)] for the given runs (one request each: keep `runs` short)."""
    return {r.run_name: [(m.step, m.value) for m in client.get_metric_history(r.run_id, metric)]
            for r in runs.itertuples()}


# -- text and files --------------------------------------------------------------
def markdown_table(df: pd.DataFrame, index: bool = True) -> str:
    """A small pipe table (tabulate is not a dependency); columns padded for the terminal."""
    frame = df.reset_index() if index else df
    cell = lambda v: "–" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)  # noqa
    rows = [[str(c) for c in frame.columns]] + [[cell(v).replace("|", "\\|") for v in r]
                                               for r in frame.itertuples(index=False)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    line = lambda r: "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows[1:]])


def problem_runs(runs: pd.DataFrame) -> list[str]:
    """Crashed and diverged runs, one line each, with the error a crash left."""
    bad = runs[runs["outcome"].isin(["crashed", "diverged"])]
    return [f"`{r.run_name or r.run_id}` ({r.outcome}" + (f", {r.status}): {r.error or 'no error recorded'}"
                                                           if r.outcome == "crashed" else ")")
            for r in bad.itertuples()]


def _sections(points: pd.DataFrame, runs: pd.DataFrame, h1: str, h2: str, h3: str) -> str:
    if points.empty:
        return f"{h1}Sweep summary\n\nNo finished runs.\n"
    n_bad = runs["outcome"].isin(["crashed", "diverged"]).sum()
    parts = [f"{h1}Sweep summary", f"{len(runs)} runs, {len(points)} points, {n_bad} crashed or diverged. "
             "Cells: solved/seeds · mean eval loss ÷ memoryless baseline (1.00 = learned nothing).",
             f"{h2}Verdicts", "\n".join(f"- {v}" for v in verdicts(points))]
    gradients = gradient_lines(points)
    if gradients:
        parts += [f"{h2}Why: the gradient reaching the first step (‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖, median over seeds)",
                  "\n".join(f"- {g}" for g in gradients)]
    hz = horizons(points).assign(lags_tried=lambda f: f["lags_tried"].map(_lags))
    for task, table in task_tables(points).items():
        parts += [f"{h2}{task} ({baseline_text(table.attrs['baseline_loss'])})", markdown_table(table),
                  f"{h3}{task}: horizons (longest lag solved by a majority of seeds)",
                  markdown_table(hz[hz["task"] == task].drop(columns=["task", "longest_solved"]), index=False)]
        bad = problem_runs(runs[runs["task"] == task])
        if bad:
            parts += [f"{h3}{task}: crashed and diverged runs", "\n".join(f"- {b}" for b in bad)]
    return "\n\n".join(parts) + "\n"


def render_markdown(points: pd.DataFrame, runs: pd.DataFrame) -> str:
    return _sections(points, runs, "# ", "## ", "### ")


def format_text(points: pd.DataFrame, runs: pd.DataFrame) -> str:
    """The same content for a terminal: plain headings, the tables as pipe tables."""
    return _sections(points, runs, "== ", "-- ", "")


def _tidy(runs_df: pd.DataFrame) -> pd.DataFrame:
    """Accept either search_runs' DataFrame or runs_frame's output."""
    return runs_df if {"task", "cell", "outcome"} <= set(runs_df.columns) else runs_frame(runs_df)


def write_summary(runs_df: pd.DataFrame, out_dir: str | Path,
                  histories: dict[str, list[tuple[int, float]]] | None = None,
                  profiles: dict | None = None, points: pd.DataFrame | None = None) -> dict[str, Path]:
    """summary.csv, runs.csv, horizons.csv, summary.md, success.png (and curves.png given histories,
    gradients.png given profiles)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = _tidy(runs_df)
    points = point_table(runs) if points is None else points
    paths = {name: out / name for name in ("summary.csv", "runs.csv", "horizons.csv", "summary.md", "success.png")}
    points.to_csv(paths["summary.csv"], index=False)
    runs[[c for c in RUN_COLUMNS if c in runs]].to_csv(paths["runs.csv"], index=False)
    horizons(points).assign(lags_tried=lambda f: f["lags_tried"].map(_lags)).to_csv(paths["horizons.csv"],
                                                                                 index=False)
    paths["summary.md"].write_text(render_markdown(points, runs), encoding="utf-8")
    plot_success(points, paths["success.png"])
    if histories:
        paths["curves.png"] = plot_curves(histories, runs, out / "curves.png")
    if profiles:
        paths["gradients.png"] = plot_gradients(profiles, out / "gradients.png")
    return paths


# -- the gradient story ------------------------------------------------------------
def gradient_points(points: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per task, the (lag, hidden) where cells are compared: the shortest lag at which the
    tanh RNN fails by majority (where its gradient matters), else the longest lag tried."""
    chosen = {}
    for task, tp in points.groupby("task", sort=False):
        hidden = int(tp["hidden"].max())
        tp = tp[tp["hidden"] == hidden]
        failed = tp[(tp["cell"] == "rnn") & (tp["majority"] == "failed")]["seq_len"]
        chosen[task] = (int(failed.min()) if len(failed) else int(tp["seq_len"].max()), hidden)
    return chosen


def gradient_lines(points: pd.DataFrame) -> list[str]:
    """'memory, T=200: rnn 10^-6.8, lstm 10^-0.4, gru 10^-1.2', from the runs' own measurements."""
    if "grad_log10_ratio" not in points.columns:
        return []
    lines = []
    for task, (lag, hidden) in gradient_points(points).items():
        at = points[(points["task"] == task) & (points["seq_len"] == lag) & (points["hidden"] == hidden)]
        values = [f"{r.cell} 10^{r.grad_log10_ratio:.1f}" for r in at.itertuples() if np.isfinite(r.grad_log10_ratio)]
        if values:
            lines.append(f"{task}, T={lag}, h={hidden}: " + ", ".join(values))
    return lines


def _artifact_csv(client, run) -> pd.DataFrame | None:
    """A run's diagnostics/grad_profile.csv: read in place from a local artifact store, else downloaded."""
    import tempfile
    from urllib.parse import unquote, urlparse

    from mlflow.exceptions import MlflowException

    uri = getattr(run, "artifact_uri", "") or ""
    try:
        if uri.startswith("file:"):  # a local store: no copy (MLflow's download costs ~15 ms a file)
            return pd.read_csv(Path(unquote(urlparse(uri).path)) / "diagnostics" / PROFILE_CSV)
        with tempfile.TemporaryDirectory() as tmp:
            return pd.read_csv(client.download_artifacts(run.run_id, f"diagnostics/{PROFILE_CSV}", tmp))
    except (MlflowException, OSError):
        return None  # a run trained with diagnostics off


def fetch_profiles(client, runs: pd.DataFrame, points: pd.DataFrame) -> dict:
    """{task: (lag, hidden, {cell: [final profile of each seed]})} from the runs' diagnostics/grad_profile.csv."""
    from concurrent.futures import ThreadPoolExecutor

    profiles = {}
    for task, (lag, hidden) in gradient_points(points).items():
        chosen = runs[(runs["task"] == task) & (runs["seq_len"] == lag) & (runs["hidden"] == hidden)
                      & (runs["outcome"] != "crashed")]
        rows = list(chosen.itertuples())
        with ThreadPoolExecutor(max_workers=8) as pool:  # downloads from a server wait on the network
            csvs = list(pool.map(lambda r: _artifact_csv(client, r), rows))
        by_cell: dict[str, list[list[float]]] = {}
        for r, csv in zip(rows, csvs):
            if csv is not None:
                last = csv[csv["step"] == csv["step"].max()].sort_values("t")
                by_cell.setdefault(r.cell, []).append(list(last["grad_norm"]))
        if by_cell:
            profiles[task] = (lag, hidden, by_cell)
    return profiles


def plot_gradients(profiles: dict, path: str | Path) -> Path:
    """‖∂L/∂h_t‖ against t (log scale, median over seeds) per task, a line per cell, at the end of training."""
    fig, axes = _panels(max(len(profiles), 1))
    for ax, (task, (lag, hidden, by_cell)) in zip(axes, profiles.items()):
        for cell in _cells(pd.DataFrame({"cell": list(by_cell)})):
            median = np.median(np.array(by_cell[cell]), axis=0)
            ax.plot(np.arange(1, len(median) + 1), median, label=f"{cell} ({len(by_cell[cell])} seeds)",
                    color=_style(cell)["color"])
        ax.set_yscale("log")
        ax.set(title=f"{task}, T={lag}, h={hidden}", xlabel="time step t", ylabel="‖∂L/∂h_t‖ (median over seeds)")
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


# -- the store -----------------------------------------------------------------
class SummaryError(Exception):
    """Nothing to summarise where the user pointed (unknown experiment or run)."""


def search_store(tracking_uri: str, experiment: str | None = None, parent_run_id: str | None = None) -> pd.DataFrame:
    """search_runs' DataFrame: the children of `parent_run_id`, else every run of `experiment`."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if parent_run_id and not parent_run_id.isalnum():  # it goes inside a quoted filter string
        raise SummaryError(f"parent run id {parent_run_id!r}: expected letters and digits")
    client = MlflowClient(tracking_uri)
    if experiment:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            raise SummaryError(f"experiment {experiment!r} not found in {tracking_uri}")
        experiment_id = exp.experiment_id
    elif parent_run_id:
        try:
            experiment_id = client.get_run(parent_run_id).info.experiment_id
        except MlflowException:
            raise SummaryError(f"run {parent_run_id!r} not found in {tracking_uri}") from None
    else:
        raise SummaryError("give an experiment or a parent run id")
    query = f"tags.mlflow.parentRunId = '{parent_run_id}'" if parent_run_id else ""
    previous = mlflow.get_tracking_uri()  # search_runs has no URI argument: set it, then put it back
    mlflow.set_tracking_uri(tracking_uri)
    try:
        found = mlflow.search_runs(experiment_ids=[experiment_id], filter_string=query)
        if parent_run_id:
            # A resumed sweep reused finished runs of earlier sweeps: the parent lists them.
            reused = set(_listed_run_ids(client, parent_run_id)) - set(found.get("run_id", []))
            found = pd.concat([found, runs_by_id(experiment_id, sorted(reused))], ignore_index=True)
        return found
    finally:
        mlflow.set_tracking_uri(previous)


def _listed_run_ids(client, parent_run_id: str) -> list[str]:
    """The run ids in the parent's summary/runs.csv, if the sweep got as far as writing it."""
    import tempfile

    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(parent_run_id, "summary/runs.csv", tmp)
        except (MlflowException, OSError):
            return []
        return [r for r in pd.read_csv(path, usecols=["run_id"])["run_id"].dropna().astype(str)]


def runs_by_id(experiment_id: str, run_ids: list[str]) -> pd.DataFrame:
    """search_runs' DataFrame for these run ids (the filter is chunked to stay short)."""
    import mlflow

    frames = [mlflow.search_runs(experiment_ids=[experiment_id], filter_string="attributes.run_id IN ({})".format(
        ", ".join(f"'{r}'" for r in run_ids[i : i + 100]))) for i in range(0, len(run_ids), 100)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def summarise_runs(client, runs: pd.DataFrame, out_dir: str | Path | None = None,
                   max_curves: int = 12) -> tuple[str, dict[str, Path]]:
    """(text summary, files written) for tidy runs; with out_dir, the files, learning curves and
    gradient profiles too (fetched from the store through `client`)."""
    points = point_table(runs)
    paths = {}
    if out_dir is not None:
        histories = fetch_histories(client, representative_runs(runs, max_curves, points))
        paths = write_summary(runs, out_dir, histories, fetch_profiles(client, runs, points), points)
    return format_text(points, runs), paths


def summarise_store(tracking_uri: str, experiment: str | None = None, parent_run_id: str | None = None,
                    out_dir: str | Path | None = None, max_curves: int = 12) -> tuple[pd.DataFrame, str]:
    """(tidy runs, text summary) from the store; with out_dir, also the files and learning curves."""
    from mlflow.tracking import MlflowClient

    runs = runs_frame(search_store(tracking_uri, experiment, parent_run_id))
    text, _ = summarise_runs(MlflowClient(tracking_uri), runs, out_dir, max_curves)
    return runs, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite.summary",
                                     description="Summarise a past sweep from MLflow (no training).")
    parser.add_argument("--parent-run-id", help="summarise the child runs of this run")
    parser.add_argument("--experiment", help="summarise every run of this experiment")
    parser.add_argument("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, else the project's mlflow.db)")
    parser.add_argument("--out", default="summary", help="folder for the files (default: ./summary)")
    parser.add_argument("--readme", help="also replace the block between the summary markers of this Markdown "
                                         "file with the printed summary and a link to the plot")
    args = parser.parse_args(argv)
    if not (args.parent_run_id or args.experiment):
        parser.error("give --parent-run-id or --experiment")
    from suite.tracking import tracking_uri

    uri = tracking_uri(args.tracking_uri)
    try:
        _, text = summarise_store(uri, args.experiment, args.parent_run_id, out_dir=args.out)
    except SummaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"files written to {Path(args.out).resolve()}")
    if args.readme:
        embed_in_readme(Path(args.readme), text, Path(args.out) / "success.png")
        print(f"summary embedded in {args.readme}")
    return 0


README_START, README_END = "<!-- summary:start -->", "<!-- summary:end -->"


def embed_in_readme(readme: Path, text: str, plot: Path) -> None:
    """Put the summary, exactly as printed, between the markers, so the README never shows numbers
    typed by hand."""
    doc = readme.read_text(encoding="utf-8")
    if README_START not in doc or README_END not in doc:
        raise SummaryError(f"{readme}: no {README_START} ... {README_END} block to replace")
    head, rest = doc.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    link = Path(os.path.relpath(plot.resolve(), readme.resolve().parent)).as_posix()
    block = f"{README_START}\n```text\n{text.rstrip()}\n```\n\n![success rate against lag]({link})\n{README_END}"
    readme.write_text(head + block + tail, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
