"""The summary of runs in the store: fetching them (every search is suite/tracking/queries.py's)
and writing the files (CSV, Markdown, plots). mlflow is imported inside the functions."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite.record import Artifact, Metric, Outcome
from suite.summary.analysis import at_size, gradient_points, horizons, point_table, representative_runs, size_verdicts
from suite.summary.frame import RUN_COLUMNS, runs_frame, with_knob_columns
from suite.summary.gradient_trajectories import run_trajectories
from suite.summary.knob_effects import best_table, knob_curves
from suite.learning import POWER
from suite.summary.learning import BUDGETS, GroupLearning, learning_groups
from suite.summary.learning_plot import plot_learning_time
from suite.summary.leaderboard import leaderboards
from suite.summary.rates import rate_choices, rates_table, rates_yaml
from suite.summary.plots import (plot_curves, plot_gradients, plot_horizons, plot_knob_curves, plot_leaderboard,
                                 plot_success, plot_trajectories)
from suite.summary.document import format_text, render_markdown
from suite.summary.render import horizons_text, verdicts
from suite.tracking import queries


class SummaryError(Exception):
    """Nothing to summarise where the user pointed (unknown experiment or run)."""


# -- files -----------------------------------------------------------------------------
def _tidy(runs_df: pd.DataFrame) -> pd.DataFrame:
    """Accept either search_runs' DataFrame or runs_frame's output."""
    return runs_df if {"task", "cell", "outcome"} <= set(runs_df.columns) else runs_frame(runs_df)


def write_summary(runs_df: pd.DataFrame, out_dir: str | Path,
                  histories: dict[str, list[tuple[int, float]]] | None = None,
                  profiles: dict | None = None, points: pd.DataFrame | None = None,
                  reference: str = "rnn", partial: str | None = None,
                  trajectories: pd.DataFrame | None = None, from_store: bool = True) -> dict[str, Path]:
    """summary.csv, runs.csv, horizons.csv, summary.md, success.png (and curves.png given histories,
    gradients.png given profiles, gradient_trajectories.png and the Why section's lines over training given
    trajectories (gradient_trajectories.run_trajectories), horizons.png when a task was tried at several hidden
    sizes, leaderboard.csv and leaderboard.png when at matched sizes, knobs.csv and knobs.png when a knob was
    swept beyond lag and seed, rates.csv and rates.yaml when train.lr was (rates.py: each cell's rate),
    learning_time.png when a group's learning time could be fitted: solved runs at two lags or more).
    from_store=False: the runs come from a runs.csv (suite/summary/from_csv.py), whose columns are
    all written back, and the figures only the store can draw (STORE_FIGURES) are left as the store's summary drew
    them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = _tidy(runs_df)
    points = point_table(runs) if points is None else points
    paths = {name: out / name for name in ("summary.csv", "runs.csv", "horizons.csv", "summary.md", "success.png")}
    # What a point is and how it ended first, so the UI's preview of the first columns shows results;
    # floats to 4 significant digits (the store keeps the full values).
    points[results_first(points.columns, POINT_RESULTS)].to_csv(paths["summary.csv"], index=False,
                                                                float_format="%.4g")
    columns = [c for c in RUN_COLUMNS if c in runs] if from_store else list(runs.columns)
    with_knob_columns(runs[results_first(columns, RUN_RESULTS)]).to_csv(paths["runs.csv"], index=False,
                                                                        float_format="%.4g")
    horizons_text(points).to_csv(paths["horizons.csv"], index=False)
    plot_success(points, paths["success.png"])
    by_size = size_verdicts(points)
    if by_size:
        paths["horizons.png"] = plot_horizons(by_size, out / "horizons.png")
    board = leaderboards(points, runs)
    if len(board):  # a task tried at matched sizes: its cells ranked
        board.to_csv(out / "leaderboard.csv", index=False)
        paths["leaderboard.csv"] = out / "leaderboard.csv"
        paths["leaderboard.png"] = plot_leaderboard(points, board, out / "leaderboard.png")
    curves = knob_curves(points)
    if curves:  # a knob swept beyond lag and seed: T50 against it, and its best value
        best_table(points, curves).to_csv(out / "knobs.csv", index=False)
        paths["knobs.csv"] = out / "knobs.csv"
        paths["knobs.png"] = plot_knob_curves(curves, out / "knobs.png")
    choices = rate_choices(runs)
    if choices:  # a rate screen: each cell's rate by learning time, and the rates as a leaderboard's sweep key
        rates_table(runs, choices).to_csv(out / "rates.csv", index=False)
        (out / "rates.yaml").write_text(rates_yaml(choices), encoding="utf-8")
        paths.update({name: out / name for name in ("rates.csv", "rates.yaml")})
    learning = learning_groups(runs)
    if any(g.fit is not None for g in learning):  # updates to solve against the lag, with each group's fit
        paths["learning_time.png"] = plot_learning_time(learning, out / "learning_time.png")
    if histories:
        paths["curves.png"] = plot_curves(histories, runs, out / "curves.png")
    if profiles:
        paths["gradients.png"] = plot_gradients(profiles, out / "gradients.png")
    if trajectories is not None and len(trajectories):
        paths["gradient_trajectories.png"] = plot_trajectories(trajectories, out / "gradient_trajectories.png")
    # A figure an earlier summary drew into this folder and this one did not would pass for this one's
    # (python -m suite.summary --into links horizons.png when it is there).
    for name in OPTIONAL_FIGURES - set(paths) - (set() if from_store else STORE_FIGURES):
        (out / name).unlink(missing_ok=True)
    # last: the Markdown shows each figure drawn beside it, inline in its section
    if not from_store:  # the figures the store's summary drew, kept
        paths.update({name: out / name for name in STORE_FIGURES if (out / name).exists()})
    drawn = drawn_figures(paths)
    paths["summary.md"].write_text(render_markdown(points, runs, reference, partial, trajectories, drawn),
                                   encoding="utf-8")
    return paths


def drawn_figures(paths: dict[str, Path]) -> set[str]:
    """The figures among a summary's files (write_summary's paths), which its text shows or names."""
    return {name for name in paths if name.endswith(".png")}


OPTIONAL_FIGURES = {"horizons.png", "curves.png", "gradients.png", "gradient_trajectories.png", "knobs.png",
                    "knobs.csv", "leaderboard.png", "leaderboard.csv", "learning_time.png", "rates.csv",
                    "rates.yaml"}
# drawn from what the store holds beyond runs.csv: metric histories and gradient profiles
STORE_FIGURES = {"curves.png", "gradients.png", "gradient_trajectories.png"}


POINT_RESULTS = ["task", "cell", "seq_len", "majority", "success", "loss_norm", "metric", "steps_to_solve",
                 "grad_log10_ratio"]
RUN_RESULTS = ["task", "cell", "seq_len", "seed", "outcome", "loss_norm", "metric", "steps_to_solve"]


def results_first(columns, first: list[str]) -> list[str]:
    return [c for c in first if c in columns] + [c for c in columns if c not in first]


# -- what the runs recorded beyond search_runs' frame ------------------------------------
def fetch_histories(client, runs: pd.DataFrame, metric: str = Metric.EVAL_LOSS_NORM) -> dict[str, list]:
    """run_name -> [(step, value)] for the given runs (one request each: keep `runs` short)."""
    return {r.run_name: queries.metric_history(client, r.run_id, metric) for r in runs.itertuples()}


def _profile_csv(client, run) -> pd.DataFrame | None:
    """A run's gradient profile (None for a run trained with diagnostics off)."""
    return queries.read_artifact(client, run.run_id, getattr(run, "artifact_uri", "") or "", queries.profile_path(),
                                 pd.read_csv)


def gradient_point_runs(runs: pd.DataFrame, points: pd.DataFrame, reference: str = "rnn") -> pd.DataFrame:
    """The runs that finished training at each task's gradient point (analysis.gradient_points)."""
    finished = runs[runs["outcome"] != Outcome.CRASHED]
    chosen = [finished[(finished["task"] == task) & (finished["seq_len"] == lag) & at_size(finished, hidden)]
              for task, (lag, hidden) in gradient_points(points, reference).items()]
    return pd.concat(chosen) if chosen else runs.iloc[:0]


def fetch_profiles(client, runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """run_id -> its whole gradient profile (step, t, grad_norm at every measurement), one download per run, for
    the runs that have one (keep `runs` short: gradient_point_runs)."""
    from concurrent.futures import ThreadPoolExecutor

    rows = list(runs.itertuples())
    with ThreadPoolExecutor(max_workers=8) as pool:  # downloads from a server wait on the network
        csvs = list(pool.map(lambda r: _profile_csv(client, r), rows))
    return {r.run_id: csv for r, csv in zip(rows, csvs) if csv is not None}


def first_profiles(runs: pd.DataFrame, profiles: dict[str, pd.DataFrame], points: pd.DataFrame,
                   reference: str = "rnn") -> dict:
    """{task: (lag, hidden, {cell: [first profile of each seed]})} at each task's gradient point, from
    fetch_profiles' profiles (plots.plot_gradients draws it)."""
    found = {}
    for task, (lag, hidden) in gradient_points(points, reference).items():
        chosen = runs[(runs["task"] == task) & (runs["seq_len"] == lag) & at_size(runs, hidden)]
        by_cell: dict[str, list[list[float]]] = {}
        for r in chosen[chosen["run_id"].isin(profiles.keys())].itertuples():
            csv = profiles[r.run_id]
            # the first measurement, at the first evaluation point: the step every seed reaches
            first = csv[csv["step"] == csv["step"].min()].sort_values("t")
            by_cell.setdefault(r.cell, []).append(list(first["grad_norm"]))
        if by_cell:
            found[task] = (lag, hidden, by_cell)
    return found


# -- the store ---------------------------------------------------------------------------
def search_store(tracking_uri: str, experiment: str | None = None,
                 parent_run_id: str | None = None) -> tuple[pd.DataFrame, str | None]:
    """(search_runs' DataFrame, what could not be read or None): the children of `parent_run_id` and the
    runs of earlier sweeps it reused (listed in its summary/runs.csv), else every run of `experiment`."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if parent_run_id and not parent_run_id.isalnum():  # it goes inside a quoted filter string
        raise SummaryError(f"parent run id {parent_run_id!r}: expected letters and digits")
    if not (experiment or parent_run_id):
        raise SummaryError("give an experiment or a parent run id")
    client = MlflowClient(tracking_uri)
    experiment_id = queries.experiment_id_of(client, experiment, parent_run_id)
    if experiment_id is None:
        raise SummaryError(f"experiment {experiment!r} not found in {tracking_uri}" if experiment
                           else f"run {parent_run_id!r} not found in {tracking_uri}")
    if not parent_run_id:
        return queries.experiment_frame(tracking_uri, experiment_id), None
    found = queries.children_frame(tracking_uri, experiment_id, parent_run_id)
    children = set(found.get("run_id", []))
    # A resumed sweep reused finished runs of earlier sweeps: the parent lists them in its runs.csv.
    try:
        listed = set(queries.summarised_run_ids(client, parent_run_id))
    except (MlflowException, OSError) as exc:
        reused = client.get_run(parent_run_id).data.metrics.get(Metric.JOBS_REUSED)
        if reused == 0:  # the sweep finished and reused nothing: its children are all of it
            return found, None
        count = f"its {int(reused)} reused run(s)" if reused else "the runs it reused from earlier sweeps, if any,"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return found, (f"the parent run's {Artifact.SUMMARY_DIR}/{Artifact.RUNS_CSV} cannot be read ({reason}), so "
                       f"{count} are left out; {len(children)} child run(s) read")
    wanted = sorted(listed - children)
    reused = queries.runs_frame_by_id(tracking_uri, experiment_id, wanted)
    missing = set(wanted) - set(reused.get("run_id", []))
    problem = (f"{len(missing)} of the {len(listed)} runs the parent's {Artifact.RUNS_CSV} lists are not in the store "
               f"(deleted?): {', '.join(sorted(missing)[:5])}{' …' if len(missing) > 5 else ''}") if missing else None
    return pd.concat([found, reused], ignore_index=True), problem


def summarise_runs(client, runs: pd.DataFrame, out_dir: str | Path | None = None,
                   max_curves: int = 12, reference: str = "rnn",
                   points: pd.DataFrame | None = None, partial: str | None = None) -> tuple[str, dict[str, Path]]:
    """(text summary, files written) for tidy runs (and their point table, when already made); with
    out_dir, the files, learning curves and gradient profiles too (fetched from the store through `client`), and
    from the profiles the gradient's trajectories over training (in the Why section and a figure).
    `partial` says what runs are missing: it leads the summary."""
    points = point_table(runs) if points is None else points
    paths, trajectories = {}, None
    if out_dir is not None:
        histories = fetch_histories(client, representative_runs(runs, max_curves, points))
        at_points = gradient_point_runs(runs, points, reference)
        measured = fetch_profiles(client, at_points)
        trajectories = run_trajectories(at_points, measured)
        paths = write_summary(runs, out_dir, histories, first_profiles(at_points, measured, points, reference),
                              points, reference, partial, trajectories)
    return format_text(points, runs, reference, partial, trajectories, drawn_figures(paths)), paths


def summarise_store(tracking_uri: str, experiment: str | None = None, parent_run_id: str | None = None,
                    out_dir: str | Path | None = None, max_curves: int = 12,
                    reference: str = "rnn", allow_partial: bool = False) -> tuple[pd.DataFrame, str]:
    """(tidy runs, text summary) from the store; with out_dir, also the files and learning curves.
    Runs that cannot be read stop it (SummaryError, with the count and the reason) unless
    `allow_partial`: then the summary's first line says what is left out."""
    from mlflow.tracking import MlflowClient

    frame, problem = search_store(tracking_uri, experiment, parent_run_id)
    if problem and not allow_partial:
        raise SummaryError(f"{problem}; the verdicts would leave them out (--allow-partial summarises what was read)")
    runs = runs_frame(frame)
    text, _ = summarise_runs(MlflowClient(tracking_uri), runs, out_dir, max_curves, reference, partial=problem)
    return runs, text


@dataclass
class SweepSummary:
    """What a sweep's parent run shows of its summary: the text, the markdown (its description in the
    UI), each task's verdict and the runs' outcomes, and the files written."""

    text: str
    markdown: str
    verdicts: dict[str, str] = field(default_factory=dict)  # task -> its verdict line(s), joined by "; "
    outcomes: dict[str, int] = field(default_factory=dict)  # solved / failed / diverged / crashed -> runs
    paths: dict[str, Path] = field(default_factory=dict)
    t50: dict[str, float] = field(default_factory=dict)  # the parent's metrics: sweep_metrics


def claim_metrics(names: tuple[str, str, str], group: str, median: float, lo: float, hi: float) -> dict[str, float]:
    """{'<names[0]>/<group>': median, '<names[1]>/<group>': lo, '<names[2]>/<group>': hi} for a 95% claim, with
    T50's convention: the median only where both ends are closed (an open claim's median is its prior's: not
    sent), an infinite end left out (lo is 0 where the claim is open below)."""
    bounded = 0 < lo and hi < float("inf")
    found = {}
    for name, value in zip(names, (median if bounded else float("nan"), lo, hi)):
        if value == value and abs(value) != float("inf"):
            found[f"{name}/{group}"] = float(value)
    return found


def metric_group(task: str, cell: str, hidden) -> str:
    """'memory/rnn/h64': a group as a metric name's tail; characters MLflow does not take in a metric name, as in
    'lstm (cell.forget_bias=chrono)', become '_'."""
    return re.sub(r"[^A-Za-z0-9_\-. /:]", "_", f"{task}/{cell}/h{hidden}")


def t50_metrics(hz: pd.DataFrame) -> dict[str, float]:
    """{'t50/memory/rnn/h64': 80.1, 't50_lo/...': 48.0, 't50_hi/...': 160.3, ...} from analysis.horizons: each
    group's T50 and its claim's ends, named so that MLflow's runs table can show them. An open end is left out."""
    found = {}
    for r in hz.itertuples():
        found.update(claim_metrics((Metric.T50, Metric.T50_LO, Metric.T50_HI), metric_group(r.task, r.cell, r.hidden),
                                   r.t50, r.t50_lo, r.t50_hi))
    return found


def learning_metrics(groups: list[GroupLearning]) -> dict[str, float]:
    """{'growth_per_doubling/memory/rnn/h64': 4.1, 'growth_per_doubling_lo/...': 2.5, ..., 't50_d_at_2000/...': 92,
    ...} from learning.learning_groups: each fitted group's growth per doubling of the lag (the power law's, as
    the Learning time section gives it) and T50(B) at each of learning.BUDGETS, with their 95% intervals, by
    claim_metrics' convention (suite/record.py names them). A skipped group (one lag, no solve) sends nothing."""
    found = {}
    for g in groups:
        if g.fit is None:
            continue
        group = metric_group(g.task, g.cell, g.hidden)
        growth = g.fit.growth(POWER)
        found.update(claim_metrics((Metric.GROWTH, Metric.GROWTH_LO, Metric.GROWTH_HI), group,
                                   growth.median, growth.lo, growth.hi))
        for budget, t50 in zip(BUDGETS, g.fit.t50(BUDGETS)):
            names = tuple(n.format(lag=g.symbol, budget=budget) for n in (Metric.T50_AT, Metric.T50_AT_LO,
                                                                         Metric.T50_AT_HI))
            found.update(claim_metrics(names, group, t50.median, t50.lo, t50.hi))
    return found


def sweep_metrics(points: pd.DataFrame, runs: pd.DataFrame) -> dict[str, float]:
    """The metrics a sweep's parent run logs of its summary: each group's horizon (t50_metrics) and learning
    time (learning_metrics; the fits are learning.py's, cached)."""
    return {**(t50_metrics(horizons(points)) if len(points) else {}), **learning_metrics(learning_groups(runs))}


def summarise_sweep(uri: str, experiment_id: str, run_ids: list[str], out_dir) -> SweepSummary:
    """The summary of a sweep's runs, with the files written to out_dir (a sweep's, when it ends)."""
    from mlflow.tracking import MlflowClient

    runs = runs_frame(queries.runs_frame_by_id(uri, experiment_id, list(run_ids)))
    points = point_table(runs)
    text, paths = summarise_runs(MlflowClient(uri), runs, out_dir, points=points)
    by_task: dict[str, list[str]] = {}
    for line in verdicts(points) if len(points) else []:
        task, _, verdict = line.partition(": ")
        by_task.setdefault(task, []).append(verdict)
    outcomes = {k: int(v) for k, v in runs["outcome"].value_counts().items()}
    return SweepSummary(text, paths["summary.md"].read_text(encoding="utf-8"),
                        {task: "; ".join(lines) for task, lines in by_task.items()}, outcomes, paths,
                        sweep_metrics(points, runs))
