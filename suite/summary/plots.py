"""The summary's figures: matplotlib's Figure directly (no pyplot state, no GUI backend),
imported inside the functions, so that importing this module stays cheap."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from suite.summary.analysis import matched_sizes, size_text
from suite.summary.frame import CELL_ORDER, cells_in_order


def figure_panels(n: int, width: float = 4.5, height: float = 3.4):
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
    if len(lags) > 8:  # a search's many lags would print on top of each other: round numbers instead
        from matplotlib.ticker import LogLocator, ScalarFormatter

        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.xaxis.set_major_formatter(ScalarFormatter())
    else:
        ax.set_xticks(lags, [str(t) for t in lags])
    ax.set_xlabel("lag T")


def plot_success(points: pd.DataFrame, path: str | Path) -> Path:
    """Success against lag, one panel per task, per group (cell, and hidden size if several): the fraction of
    seeds that solved each lag with its 95% binomial interval (Wilson), the fitted success curve with its 95%
    band (suite/horizon/threshold.py), and T50's 95% claim as a bar at one half."""
    from scipy.stats import binomtest

    from suite.summary.estimates import counts_of, group_estimate
    from suite.horizon.threshold import ABOVE, BELOW, NO_T50, curve_band

    tasks = list(points["task"].unique()) if len(points) else []
    fig, axes = figure_panels(max(len(tasks), 1))
    if not tasks:
        axes[0].text(0.5, 0.5, "no runs", ha="center", va="center")
    matched_tasks = matched_sizes(points)
    for ax, task in zip(axes, tasks):
        tp = points[points["task"] == task]
        sizes = sorted(tp["hidden"].unique())
        matched = task in matched_tasks
        for hidden in sizes:
            for cell in cells_in_order(tp):
                g = tp[(tp["cell"] == cell) & (tp["hidden"] == hidden)].sort_values("seq_len")
                counts = counts_of(g)
                if not counts:
                    continue
                # one line style per size; at matched sizes (every cell at its own) the size is in the label
                style, line = _style(cell), "-" if matched else ["-", "--", ":", "-."][sizes.index(hidden) % 4]
                lags = np.array(sorted(counts), dtype=float)
                k, n = (np.array([counts[int(t)][i] for t in lags]) for i in (0, 1))
                ci = [binomtest(int(a), int(b)).proportion_ci(method="wilson") for a, b in zip(k, n)]
                frac = k / n
                ax.errorbar(lags, frac, yerr=[frac - [c.low for c in ci], [c.high for c in ci] - frac], fmt="o",
                            ms=4, capsize=2, color=style["color"], lw=0.8,
                            label=f"{cell} h={hidden}" if len(sizes) > 1 else cell)
                fine = np.geomspace(lags[0], lags[-1], 40)
                median, low, high = curve_band(counts, fine)
                ax.plot(fine, median, ls=line, color=style["color"], lw=1.2)
                ax.fill_between(fine, low, high, color=style["color"], alpha=0.12, lw=0)
                est = group_estimate(g)
                if est is not None and est.claim != NO_T50:  # T50's claim, drawn at one half (to the edge if open)
                    lo = est.lo if est.lo > 0 else lags[0]
                    hi = est.hi if np.isfinite(est.hi) else lags[-1] * 1.5
                    ax.plot([lo, hi], [0.5, 0.5], color=style["color"], lw=3, alpha=0.5,
                            marker=">" if est.claim == ABOVE or not np.isfinite(est.hi) else
                            "<" if est.claim == BELOW else None, markevery=[1])
        _lag_axis(ax, tp["seq_len"])
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel("seeds solved (95% CI); fitted curve and band")
        ax.set_title(f"{task}: bar at 1/2 = T50's 95% interval")
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_curves(histories: dict[str, list[tuple[int, float]]], runs: pd.DataFrame, path: str | Path) -> Path:
    """Learning curves: histories maps run_name -> [(step, eval_loss_norm)]; `runs` (tidy) says each
    run's task, cell and lag. One panel per task, a line per (cell, seq_len)."""
    info = runs.drop_duplicates("run_name").set_index("run_name")
    named = [n for n in histories if n in info.index]
    tasks = list(dict.fromkeys(info.loc[n, "task"] for n in named))
    fig, axes = figure_panels(max(len(tasks), 1))
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
                # a marker on each evaluation, so a run solved at its first one is still a visible point
                ax.plot(steps, vals, color=_style(cell)["color"], ls="-" if lag == longest else "--",
                        marker=_style(cell)["marker"], markersize=3 if len(steps) > 1 else 6, label=f"{cell} T={lag}")
                values.extend(vals)
        if values and min(values) > 0:
            ax.set_yscale("log")  # a solved run's loss falls by orders of magnitude
        ax.axhline(1.0, color="grey", lw=0.8, ls=":")  # the memoryless baseline
        ax.set(title=task, xlabel="step", ylabel="eval loss / baseline")
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_gradients(profiles: dict, path: str | Path) -> Path:
    """‖∂L/∂h_t‖ against t (log scale, median over seeds) per task, a line per cell, at the first evaluation.
    profiles: {task: (lag, hidden, {cell: [first profile of each seed]})} (store.fetch_profiles: at the first
    evaluation point, the step every seed reaches)."""
    fig, axes = figure_panels(max(len(profiles), 1))
    for ax, (task, (lag, hidden, by_cell)) in zip(axes, profiles.items()):
        for cell in cells_in_order(pd.DataFrame({"cell": list(by_cell)})):
            median = np.median(np.array(by_cell[cell]), axis=0)
            ax.plot(np.arange(1, len(median) + 1), median, label=f"{cell} ({len(by_cell[cell])} seeds)",
                    color=_style(cell)["color"])
        ax.set_yscale("log")
        ax.set(title=f"{task}, T={lag}, {size_text(hidden)}", xlabel="time step t", ylabel="‖∂L/∂h_t‖ (median over seeds, first evaluation)")
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_trajectories(trajectories: pd.DataFrame, path: str | Path) -> Path:
    """log10 ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖ against the update, a line per run (solid: the seed solves, dashed: it fails),
    a panel per task and cell (gradient_trajectories.run_trajectories: at each task's gradient point)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from suite.summary.gradient_trajectories import VANISHED

    panels = [((task, cell), g[g["cell"] == cell]) for task, g in trajectories.groupby("task", sort=False)
              for cell in cells_in_order(g)]
    fig, axes = figure_panels(max(len(panels), 1))
    fig.subplots_adjust(left=0.85 / fig.get_figwidth(), wspace=0.4)  # room for the ratio's label and ticks (-26)
    for ax, ((task, cell), g) in zip(axes, panels):
        color = _style(cell)["color"]
        for (_, solved), run in g.sort_values("step").groupby(["run_id", "solved"], sort=False):
            ax.plot(run["step"], run["log10_ratio"], color=color, ls="-" if solved else "--", lw=1.1, marker=".",
                    markersize=4)
        seeds = g.drop_duplicates("run_id")["solved"]
        for solved, style, word in ((True, "-", "solves"), (False, "--", "fails")):
            n = int((seeds == solved).sum())
            if n:  # one legend entry per line style, with its count of seeds
                ax.plot([], [], color=color, ls=style, label=f"{word} ({n} seed{'' if n == 1 else 's'})")
        ax.axhline(VANISHED, color="grey", lw=0.8, ls=":")  # below it the gradient counts as vanished
        steps = g["step"]
        if steps.min() > 0 and steps.max() / steps.min() >= 8:  # a geometric evaluation schedule
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(title=f"{task}, T={g['seq_len'].iloc[0]}, h={g['hidden'].iloc[0]}: {cell}", xlabel="update",
               ylabel="log10 ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖")
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return Path(path)


def _estimate_lines(ax, lines, log_x: bool) -> None:
    """T50 with its 95% interval as an error bar against x, a line per (label, cell, xs, estimates), on a log
    lag axis; an open claim ('> T', '< T') is an arrow from T the way the horizon lies, a group with no T50
    is left out (so is one the runs place nowhere), and lines sit side by side rather than on top of each other."""
    from matplotlib.ticker import LogLocator, NullLocator, ScalarFormatter

    from suite.horizon.threshold import ABOVE, NO_T50

    arrow = 1.7  # how far an open-ended horizon's arrow reaches, as a factor of its lag
    ends = []
    def drawable(e) -> bool:  # a T50, or one end of it: not "no T50" nor "unbounded" (placed nowhere)
        return e is not None and e.claim != NO_T50 and not (e.lo == 0 and e.hi == math.inf)

    if not any(drawable(e) for *_, found in lines for e in found):
        # every run crashed, or no group has a T50: nothing to draw, and a log axis without data cannot be
        ax.text(0.5, 0.5, "no T50 to draw: no group has finished runs\nwith a T50 (see the summary)",
                transform=ax.transAxes, ha="center", va="center")
        return
    seen: dict[str, int] = {}
    for i, (label, cell, xs, found) in enumerate(lines):
        style = _style(cell)
        repeat = seen[cell] = seen.get(cell, -1) + 1  # the same cell again (another size): its colour, another mark
        if repeat:
            style["marker"] = "o^sDv<>"[repeat % 7]
        dashes = ("-", "--", ":", "-.")[repeat % 4]
        offset = i - (len(lines) - 1) / 2
        shown = [(x * 1.06 ** offset if log_x else x + 0.06 * offset, e) for x, e in zip(xs, found) if drawable(e)]
        px = [x for x, _ in shown]
        ys = [e.known_end for _, e in shown]
        ax.plot(px, ys, color=style["color"], marker=style["marker"], label=label, ls="none",
                mfc="none" if repeat % 2 else style["color"])
        for j in range(len(shown) - 1):  # a line only between two-sided estimates: an open end is no point to join
            if not shown[j][1].open_side and not shown[j + 1][1].open_side:
                ax.plot(px[j:j + 2], ys[j:j + 2], color=style["color"], lw=1.2, ls=dashes)
        for x, y, (_, e) in zip(px, ys, shown):
            if e.open_side:  # open-ended: an arrow the way the horizon lies, from the end the runs support
                tip = y * arrow if e.open_side == ABOVE else y / arrow
                ax.annotate("", xy=(x, tip), xytext=(x, y),
                            arrowprops={"arrowstyle": "->", "color": style["color"], "lw": 1.4})
                ends += [y, tip]
            else:
                ax.errorbar([x], [y], yerr=[[y - e.lo], [e.hi - y]], color=style["color"], capsize=3, lw=1.2)
                ends += [e.lo, e.hi]
    if log_x:
        ax.set_xscale("log")
    ax.set_yscale("log")
    if ends:
        ax.set_ylim(min(ends) / 1.2, max(ends) * 1.2)  # arrows do not widen the axis by themselves
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))  # 10, 20, 50, 100, ...: lags read as numbers
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.legend(fontsize="small")


def plot_horizons(verdicts: dict, path: str | Path) -> Path:
    """Horizon (T50, with its 95% interval) against hidden size (log-log), one panel per task, a line per
    cell. verdicts: analysis.size_verdicts."""
    fig, axes = figure_panels(max(len(verdicts), 1))
    for ax, (task, cells) in zip(axes, verdicts.items()):
        _estimate_lines(ax, [(v.cell, v.cell, v.sizes, v.estimates) for v in cells], log_x=True)
        sizes = sorted({h for v in cells for h in v.sizes})
        ax.set_xticks(sizes, [str(h) for h in sizes])
        ax.set(title=f"{task}: horizon T50 (95% interval; arrow: > / <)", xlabel="hidden size", ylabel="lag T")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_knob_curves(curves: list, path: str | Path) -> Path:
    """Horizon (T50, with its 95% interval) against a swept knob, one panel per task and knob, a line per
    cell and size; a numeric knob on a log axis, any other by name. curves: knobs.knob_curves."""
    panels: dict[tuple[str, str], list] = {}
    for c in curves:
        panels.setdefault((c.task, c.knob), []).append(c)
    fig, axes = figure_panels(max(len(panels), 1), height=3.7)  # room for a two-line title
    for ax, ((task, knob), group) in zip(axes, panels.items()):
        numeric = all(c.numeric for c in group)
        names = list(dict.fromkeys(v for c in group for v in c.values))  # in the order the curves give them
        if numeric:
            names.sort(key=float)
        where = {v: float(v) if numeric else i for i, v in enumerate(names)}
        _estimate_lines(ax, [(c.name, c.cell, [where[v] for v in c.values], c.found) for c in group], log_x=numeric)
        ax.set_xticks([where[v] for v in names], names)
        ax.set(xlabel=knob, ylabel="lag T")
        ax.set_title(f"{task}: T50 against {knob}\n(95% interval; arrow: open end)", fontsize="medium")
    fig.savefig(path, dpi=110)
    return Path(path)


def plot_leaderboard(points: pd.DataFrame, board: pd.DataFrame, path: str | Path) -> Path:
    """Each matched task's cells in their leaderboard order (leaderboard.leaderboards), best on the left: T50
    with its 95% interval on a log lag axis, an arrow for an open end, a dotted line between tiers."""
    from suite.summary.estimates import estimates

    found = estimates(points)
    tasks = list(dict.fromkeys(board["task"]))
    fig, axes = figure_panels(max(len(tasks), 1), width=5.5)
    for ax, task in zip(axes, tasks):
        rows = board[board["task"] == task].reset_index(drop=True)
        _estimate_lines(ax, [(f"{r.cell} h={r.hidden}", r.cell, [i], [found[(task, r.cell, r.hidden)]])
                             for i, r in enumerate(rows.itertuples())], log_x=False)
        for i in range(1, len(rows)):
            if rows.loc[i, "tier"] is not pd.NA and rows.loc[i, "tier"] != rows.loc[i - 1, "tier"]:
                ax.axvline(i - 0.5, color="0.6", ls=":", lw=1)
        ax.set_xticks(range(len(rows)), list(rows["cell"]), rotation=30)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set(ylabel="lag T")
        ax.set_title(f"{task}: T50 at matched weights\n(95% interval; arrow: open end; dotted: a new tier)",
                     fontsize="medium")
    fig.savefig(path, dpi=110)
    return Path(path)
