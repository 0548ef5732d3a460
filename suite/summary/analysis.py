"""Points, horizons and verdicts as data, the gradient comparison point, representative runs.

No matplotlib, no mlflow: this works on tidy runs (frame.runs_frame) alone. The majority
rule is in the package's docstring; the wording of verdicts is render's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.horizon.brackets import Bracket, Majority, bracket, majority
from suite.record import Outcome
from suite.summary.estimates import CLAIM_AT, distance_in, estimates, p_order
from suite.summary.frame import LAG_COLUMNS, POINT_KEYS, cells_in_order, latest_per_seed, sorted_rows


# -- points and horizons -------------------------------------------------------------

def point_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, seq_len, hidden, cell) over its seeds (latest run per seed).

    loss_norm and metric are means over the runs that finished (a crashed run's last value
    is not a result) with a finite value; steps_to_solve is the median over solved seeds.
    n_runs counts runs before reruns were folded; majority is the state defined above.
    """
    repeats = runs.groupby(POINT_KEYS).size()
    rows = []
    for key, g in latest_per_seed(runs).groupby(POINT_KEYS, sort=False):
        done = g[g["outcome"] != Outcome.CRASHED]
        finite = lambda s: s[np.isfinite(s)]  # noqa: E731
        counts = g["outcome"].value_counts()
        n_solved, n_seeds = int(counts.get(Outcome.SOLVED, 0)), len(g)
        n_failed = int(counts.get(Outcome.FAILED, 0) + counts.get(Outcome.DIVERGED, 0))
        rows.append({
            **dict(zip(POINT_KEYS, key)), "n_seeds": n_seeds, "n_solved": n_solved, "success": n_solved / n_seeds,
            "loss_norm": finite(done["loss_norm"]).mean(), "metric": finite(done["metric"]).mean(),
            "n_diverged": int(counts.get(Outcome.DIVERGED, 0)), "n_crashed": int(counts.get(Outcome.CRASHED, 0)),
            "steps_to_solve": g.loc[g["outcome"] == Outcome.SOLVED, "steps_to_solve"].median(),
            "baseline_loss": g["baseline_loss"].median(), "n_runs": int(repeats[key]),
            "weights": g["weights"].median() if "weights" in g else np.nan,
            **{c: g[c].median() if c in g else np.nan for c in LAG_COLUMNS},  # NaN: the task does not say
            "grad_log10_ratio": finite(done["grad_log10_ratio"]).median(),
            "majority": majority(n_solved, n_failed, n_seeds),
        })
    if not rows:
        return pd.DataFrame(columns=POINT_KEYS + ["n_seeds", "n_solved", "success", "loss_norm", "majority"])
    return sorted_rows(pd.DataFrame(rows), POINT_KEYS)


def lag_distances(points: pd.DataFrame) -> dict[str, dict[int, float]]:
    """{task: {seq_len: d}}, d the mean distance its information travels, for the tasks whose every
    point says (runs of a task that declares no `lag`, or older runs, leave their task out) at two lags or
    more: from one, how d moves with T is unknown (selective copy's d is about T/2, memory's T−1), so a
    T50 elsewhere could not be written in d."""
    if "lag_mean" not in points.columns:
        return {}
    found = {}
    for task, g in points.groupby("task", sort=False):
        by_lag = g.groupby("seq_len")["lag_mean"].median()
        if by_lag.notna().all() and len(by_lag) > 1:
            found[task] = {int(t): float(d) for t, d in by_lag.items()}
    return found


def shortest_distances(points: pd.DataFrame) -> dict[str, dict[int, float]]:
    """{task: {seq_len: the shortest distance a sequence of the task has there (Lag.min)}}, for the tasks
    written in d (analysis.lag_distances) whose every point says."""
    if "lag_min" not in points.columns:
        return {}
    found = {}
    for task in lag_distances(points):
        by_lag = points.loc[points["task"] == task].groupby("seq_len")["lag_min"].min()
        if by_lag.notna().all():
            found[task] = {int(t): float(d) for t, d in by_lag.items()}
    return found


def distance_text(d: float) -> str:
    """A distance as written: whole steps as integers (49), a mean over sequences to one decimal (37.2)."""
    return f"{d:.0f}" if float(d).is_integer() else f"{d:.1f}"


def seeds_text(solved: int, seeds: int, crashed: int, word: str = "") -> str:
    """'2/3', or '2/3, 1 crashed' ('0/3 solved, 1 crashed' with word ' solved'): a crashed seed is in
    the count but neither solved nor failed."""
    return f"{solved}/{seeds}{word}" + (f", {crashed} crashed" if crashed else "")


HORIZON_COLUMNS = ["task", "cell", "hidden", "horizon", "horizon_d", "t50", "t50_lo", "t50_hi", "t50_ratio", "runs",
                   "p_floor_high", "bracket", "bracket_d", "bracket_ratio", "solved_lower", "solved_upper", "monotone",
                   "not_solved_below", "unresolved", "lags_tried", "longest_solved", "first_failed"]


def brackets(points: pd.DataFrame) -> dict[tuple[str, str, int], tuple[Bracket, pd.DataFrame]]:
    """{(task, cell, hidden): (its Bracket, its points by lag)} (suite/horizon/search.py's rule)."""
    found = {}
    for (task, cell, hidden), g in points.groupby(["task", "cell", "hidden"], sort=False):
        g = g.sort_values("seq_len").set_index("seq_len", drop=False)
        found[(task, cell, int(hidden))] = (bracket({int(t): s for t, s in g["majority"].items()}), g)
    return found


def horizons(points: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, cell, hidden).

    The horizon is T50, the lag at which half the seeds solve (suite/summary/estimates.py): horizon in
    seq_len T ('66 [49, 107]', '> 200', '< 10', 'no T50 (...)'), horizon_d the same in the distance d
    the task's information travels (NA when the task does not say), t50 / t50_lo / t50_hi (the claim's
    ends: 0 and inf where it is open), t50_ratio (hi / lo), runs (seeds that finished, over every lag)
    and p_floor_high (P that the curve never falls to one half).
    The majority bracket is raw evidence beside it: bracket ('52–59', '≥ 270', '< 10' or 'unresolved')
    and bracket_d, bracket_ratio, solved_lower / solved_upper (seeds solved / tried at the bracket's two
    lags, crashed seeds named), monotone and not_solved_below (lags failed below the longest solved
    one), unresolved (lags with no majority: ties or crashes, which bound nothing), lags_tried,
    longest_solved and first_failed (the bracket's lags; NA where it is open)."""
    rows = []
    distances, shortest = lag_distances(points), shortest_distances(points)
    found = estimates(points)
    for (task, cell, hidden), (b, g) in brackets(points).items():
        at = lambda lag: seeds_text(int(g.loc[lag, "n_solved"]), int(g.loc[lag, "n_seeds"]),  # noqa: E731
                                    int(g.loc[lag, "n_crashed"])) if lag else pd.NA
        d, est = distances.get(task), found[(task, cell, hidden)]
        rows.append({"task": task, "cell": cell, "hidden": hidden,
                     "horizon": est.text() if est else "no finished runs",
                     "horizon_d": est.text(distance_in(d, shortest.get(task))) if est and d else pd.NA,
                     "t50": est.t50 if est else np.nan, "t50_lo": est.lo if est else np.nan,
                     "t50_hi": est.hi if est else np.nan, "t50_ratio": est.ratio if est else np.nan,
                     "runs": est.runs if est else 0, "p_floor_high": est.p_floor_high if est else np.nan,
                     "bracket": b.text(), "bracket_d": b.text(lambda t: distance_text(d[t])) if d else pd.NA,
                     "bracket_ratio": b.ratio,
                     "solved_lower": at(b.solved), "solved_upper": at(b.failed), "monotone": b.monotone,
                     "not_solved_below": list(b.not_solved_below), "unresolved": list(b.unresolved),
                     "lags_tried": list(b.lags),
                     "longest_solved": b.solved if b.solved else pd.NA, "first_failed": b.failed if b.failed else pd.NA})
    frame = pd.DataFrame(rows, columns=HORIZON_COLUMNS).astype({"longest_solved": "Int64", "first_failed": "Int64",
                                                                "bracket_ratio": float})
    return sorted_rows(frame, ["task", "hidden", "cell"])


# -- verdicts ------------------------------------------------------------------------
@dataclass(frozen=True)
class CellVerdict:
    """One cell's points at one (task, hidden), in lag order, judged by the majority rule.

    kind: 'all_solved' (every lag solved), 'all_failed' (every lag failed), 'solves_then_fails'
    (solved up to lags[split - 1], failed at every longer lag), 'no_majority' (at every lag),
    'mixed' (anything else). solved[i] of seeds[i] seeds solved lags[i]; states[i] is its majority.
    """

    cell: str
    kind: str
    lags: tuple[int, ...]
    states: tuple[str, ...]
    solved: tuple[int, ...]
    seeds: tuple[int, ...]
    crashed: tuple[int, ...] = ()  # seeds with no result at each lag (in `seeds`, neither solved nor failed)
    split: int | None = None  # solves_then_fails: the index of the first lag not solved

    def lags_where(self, state: str) -> list[int]:
        return [t for t, s in zip(self.lags, self.states) if s == state]

    def count(self, i: int, word: str = "") -> str:
        """'2/3' or '2/3, 1 crashed' at the i-th lag ('0/3 solved, 1 crashed' with word ' solved')."""
        return seeds_text(self.solved[i], self.seeds[i], self.crashed[i] if self.crashed else 0, word)

    def solved_from(self, i: int) -> list[int]:
        """The indices from i on where some seed solved (a lag failed by majority may still have some)."""
        return [j for j in range(i, len(self.lags)) if self.solved[j]]


@dataclass(frozen=True)
class GroupVerdict:
    """The verdicts of every cell of one task at one hidden size (lags: every lag tried there), or, for a
    task tried at matched sizes (matched_sizes), of every cell at its own: hidden None, sizes {cell: hidden}."""

    task: str
    hidden: int | None
    lags: tuple[int, ...]
    cells: tuple[CellVerdict, ...]
    sizes: tuple[tuple[str, int], ...] = ()

    def hidden_of(self, cell: str) -> int | None:
        return dict(self.sizes).get(cell, self.hidden)

    def common_kind(self) -> str | None:
        """'all_failed' / 'all_solved' when two or more cells all share it, else None."""
        kinds = {c.kind for c in self.cells}
        if len(self.cells) > 1 and len(kinds) == 1 and kinds <= {"all_failed", "all_solved"}:
            return kinds.pop()
        return None


def cell_verdict(cell: str, g: pd.DataFrame) -> CellVerdict:
    """The verdict for one cell's points sorted by lag."""
    lags, states = tuple(int(t) for t in g["seq_len"]), tuple(g["majority"])
    data = dict(cell=cell, lags=lags, states=states, solved=tuple(int(s) for s in g["n_solved"]),
                seeds=tuple(int(n) for n in g["n_seeds"]), crashed=tuple(int(n) for n in g["n_crashed"]))
    if all(s == Majority.SOLVED for s in states):
        return CellVerdict(kind="all_solved", **data)
    if all(s == Majority.FAILED for s in states):
        return CellVerdict(kind="all_failed", **data)
    k = next(i for i, s in enumerate(states) if s != Majority.SOLVED)  # the first lag not solved
    if k > 0 and all(s == Majority.FAILED for s in states[k:]):
        return CellVerdict(kind="solves_then_fails", split=k, **data)
    if all(s == Majority.NONE for s in states):
        return CellVerdict(kind="no_majority", **data)
    return CellVerdict(kind="mixed", **data)


def matched_sizes(points: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{task: {cell: hidden}} for each task whose cells were tried at matched sizes: every cell at one size
    of its own, not all the same (experiment=leaderboard: each at an LSTM's weights). Such a task's cells
    are compared with each other, each at its size, rather than size by size."""
    found = {}
    for task, tp in points.groupby("task", sort=False):
        per_cell = tp.groupby("cell", sort=False)["hidden"].unique()
        if len(per_cell) > 1 and all(len(h) == 1 for h in per_cell) and tp["hidden"].nunique() > 1:
            found[task] = {cell: int(h[0]) for cell, h in per_cell.items()}
    return found


def judge(points: pd.DataFrame) -> list[GroupVerdict]:
    """A GroupVerdict per task and hidden size, tasks in the points' order, hidden sizes ascending; one per
    task tried at matched sizes, every cell at its own."""
    groups = []
    matched = matched_sizes(points)
    for task, tp in points.groupby("task", sort=False):
        if task in matched:
            cells = tuple(cell_verdict(c, tp[tp["cell"] == c].sort_values("seq_len")) for c in cells_in_order(tp))
            lags = tuple(int(t) for t in sorted(tp["seq_len"].unique()))
            groups.append(GroupVerdict(task=task, hidden=None, lags=lags, cells=cells,
                                       sizes=tuple(matched[task].items())))
            continue
        hiddens = sorted(tp["hidden"].unique())
        for hidden in hiddens:
            hp = tp[tp["hidden"] == hidden]
            cells = tuple(cell_verdict(c, hp[hp["cell"] == c].sort_values("seq_len")) for c in cells_in_order(hp))
            groups.append(GroupVerdict(task=task, hidden=int(hidden),
                                       lags=tuple(int(t) for t in sorted(hp["seq_len"].unique())), cells=cells))
    return groups


@dataclass(frozen=True)
class SizeVerdict:
    """How one cell's horizon (T50) changes with its hidden size on one task (sizes ascending).

    trend: 'same' (the same claim at every size, e.g. '> 200'), 'grows' / 'shrinks' (each size's T50
    above / below the previous one's with posterior probability ≥ CLAIM_AT, for every step), 'unclear'
    (the data do not separate them). p_up[i]: P(T50 at sizes[i + 1] > T50 at sizes[i]).
    """

    cell: str
    sizes: tuple[int, ...]
    estimates: tuple
    brackets: tuple[Bracket, ...]
    p_up: tuple[float, ...]
    trend: str


def size_trend(found: list, p_up: list[float]) -> str:
    if len({e.text() if e else "" for e in found}) == 1:
        return "same"
    if p_up and all(p >= CLAIM_AT for p in p_up):
        return "grows"
    if p_up and all(1 - p >= CLAIM_AT for p in p_up):
        return "shrinks"
    return "unclear"


def size_verdicts(points: pd.DataFrame) -> dict[str, list[SizeVerdict]]:
    """Per task tried at two or more hidden sizes (not matched ones: one size per cell), a SizeVerdict per cell
    (cells in the suite's order)."""
    found, majority_brackets = estimates(points), brackets(points)
    verdicts, matched = {}, matched_sizes(points)
    for task, tp in points.groupby("task", sort=False):
        if tp["hidden"].nunique() < 2 or task in matched:
            continue
        verdicts[task] = []
        for cell in cells_in_order(tp):
            sizes = tuple(sorted(int(h) for h in tp.loc[tp["cell"] == cell, "hidden"].unique()))
            chosen = tuple(found[(task, cell, h)] for h in sizes)
            p_up = tuple(p_order(b, a) for a, b in zip(chosen, chosen[1:]))
            verdicts[task].append(SizeVerdict(cell, sizes, chosen, tuple(majority_brackets[(task, cell, h)][0]
                                                                        for h in sizes), p_up,
                                              size_trend(list(chosen), list(p_up))))
    return verdicts


# -- the gradient story ----------------------------------------------------------------
def gradient_points(points: pd.DataFrame, reference: str = "rnn") -> dict[str, tuple[int, int | None]]:
    """Per task, the (lag, hidden) where cells are compared: the shortest lag at which the
    reference cell (the tanh RNN) fails by majority (where its gradient matters), else the
    longest lag tried. At the task's largest hidden size; hidden None for a task tried at matched
    sizes (every cell at its own)."""
    chosen, matched = {}, matched_sizes(points)
    for task, tp in points.groupby("task", sort=False):
        hidden = None if task in matched else int(tp["hidden"].max())
        tp = tp if hidden is None else tp[tp["hidden"] == hidden]
        failed = tp[(tp["cell"] == reference) & (tp["majority"] == Majority.FAILED)]["seq_len"]
        chosen[task] = (int(failed.min()) if len(failed) else int(tp["seq_len"].max()), hidden)
    return chosen


def gradient_ratios(points: pd.DataFrame, reference: str = "rnn") -> list[tuple[str, int, int, list]]:
    """[(task, lag, hidden, [(cell, median log10 gradient ratio)])] at each task's gradient point,
    for the cells that measured it; tasks where none did are left out."""
    if "grad_log10_ratio" not in points.columns:
        return []
    found = []
    for task, (lag, hidden) in gradient_points(points, reference).items():
        at = points[(points["task"] == task) & (points["seq_len"] == lag) & at_size(points, hidden)]
        values = [(r.cell, r.grad_log10_ratio) for r in at.itertuples() if np.isfinite(r.grad_log10_ratio)]
        if values:
            found.append((task, lag, hidden, values))
    return found


def at_size(frame: pd.DataFrame, hidden: int | None) -> pd.Series:
    """The rows at this hidden size; every row for None (a matched task: each cell at its own)."""
    return frame["hidden"] == hidden if hidden is not None else pd.Series(True, index=frame.index)


def size_text(hidden: int | None) -> str:
    """'h=64', or 'matched sizes' (a matched task: every cell at its own)."""
    return "matched sizes" if hidden is None else f"h={hidden}"


# -- learning curves worth drawing -----------------------------------------------------
def representative_runs(runs: pd.DataFrame, max_runs: int = 12, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Runs worth a learning curve: per (task, cell), at the largest hidden size and its smallest
    finished seed, the longest lag tried, then (budget allowing) the cell's longest solved lag."""
    done = runs[runs["outcome"] != Outcome.CRASHED]
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
