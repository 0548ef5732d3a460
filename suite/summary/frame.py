"""search_runs' DataFrame -> one tidy row per run (RUN_COLUMNS), and the suite's order of cells.

Every column name a run records is built from suite/record.py; `tags.`, `params.` and
`metrics.` are how search_runs prefixes them.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.record import NOT_TRAINED_KEYS, Metric, Outcome, Param, Tag

CELL_ORDER = ("rnn", "lstm", "gru", "mingru", "minlstm", "lru", "s6", "exprnn")
KEPT_STATUS = ("FINISHED", "FAILED", "KILLED")  # RUNNING/SCHEDULED runs have no result yet
CRASH_STATUS = ("FAILED", "KILLED")
POINT_KEYS = ["task", "seq_len", "hidden", "cell"]
LAG_COLUMNS = ["lag_min", "lag_mean", "lag_max"]  # how far the task's information travels (tasks.base.Lag)
RUN_COLUMNS = ["task", "cell", "seq_len", "hidden", "seed", "outcome", "loss_norm", "metric", "steps_to_solve",
               "last_unsolved_step", "steps_trained", "budget", "eval_every", "lr", "baseline_loss", "weights", *LAG_COLUMNS, "grad_log10_ratio", "run_id", "run_name", "error", "status", "start_time",
               "code_hash"]

# Params that vary from run to run by design: the point's coordinates (config keys) and per-run values.
POINT_PARAMS = ("seq_len", "task.seq_len", "seed", "hidden", "device")
# Params the job derives from the config rather than sets.
DERIVED_PARAMS = (Param.N_PARAMS, Param.RECURRENT_PARAMS, Param.BASELINE_LOSS, Param.INPUT_LENGTH, Param.LAG_MIN, Param.LAG_MEAN,
                  Param.LAG_MAX)


def tag(name: str) -> str:
    return f"tags.{name}"


def metric(name: str) -> str:
    return f"metrics.{name}"


def param(name: str) -> str:
    return f"params.{name}"


# -- column helpers ----------------------------------------------------------------
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


def sorted_rows(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sorted by `by`, cells in the suite's order (rnn, lstm, gru, then others by name)."""
    key = lambda s: _cell_rank(s) if s.name == "cell" else s  # noqa: E731
    return df.sort_values(by, key=key, kind="stable").reset_index(drop=True)


def cells_in_order(frame: pd.DataFrame) -> list[str]:
    """The cells of `frame`, each once, in the suite's order."""
    return list(sorted_rows(pd.DataFrame({"cell": frame["cell"].unique()}), ["cell"])["cell"])


# -- tidy runs ---------------------------------------------------------------------
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
    raw_outcome = _text(_col(df, tag(Tag.OUTCOME)))
    crashed = status.isin(CRASH_STATUS) | ~raw_outcome.isin(Outcome.TRAINED)
    out = pd.DataFrame({
        "task": _text(_col(df, tag(Tag.TASK))), "cell": _text(_col(df, tag(Tag.CELL))),
        "seq_len": _number(_col(df, tag(Tag.SEQ_LEN))), "hidden": _number(_col(df, tag(Tag.HIDDEN))),
        "seed": _number(_col(df, tag(Tag.SEED))),
        "outcome": raw_outcome.where(~crashed, Outcome.CRASHED),
        "loss_norm": _number(_col(df, metric(Metric.EVAL_LOSS_NORM))), "metric": np.nan,
        "steps_to_solve": _number(_col(df, metric(Metric.STEPS_TO_SOLVE))),
        # when it learned: its solve lies in (last_unsolved_step, steps_to_solve], or beyond steps_trained when it did
        # not solve (suite/summary/learning.py); last_unsolved_step is NaN in runs from before it was logged
        "last_unsolved_step": _number(_col(df, metric(Metric.LAST_UNSOLVED_STEP))),
        "steps_trained": _number(_col(df, metric(Metric.STEPS_TRAINED))),
        "budget": _number(_col(df, param("train.steps"))), "eval_every": _number(_col(df, param("train.eval_every"))),
        "lr": _number(_col(df, param("train.lr"))),  # NaN in runs.csv files written before it was a column
        "baseline_loss": _number(_col(df, param(Param.BASELINE_LOSS))),
        "weights": _number(_col(df, param(Param.RECURRENT_PARAMS))),  # the recurrent module's; NaN in older runs
        # how far the task's information travels (tasks.base.Lag); NaN for a task that does not say
        "lag_min": _number(_col(df, param(Param.LAG_MIN))), "lag_mean": _number(_col(df, param(Param.LAG_MEAN))),
        "lag_max": _number(_col(df, param(Param.LAG_MAX))),
        # measured at the first evaluation point, which every run reaches (suite/training/diagnostics.py): every
        # seed compared at the same step, not at its early stop or its budget's end
        "grad_log10_ratio": _number(_col(df, metric(Metric.GRAD_LOG10_RATIO_FIRST_EVAL))),
        "run_id": _text(_col(df, "run_id")), "run_name": _text(_col(df, tag(Tag.RUN_NAME))),
        "error": _text(_col(df, tag(Tag.ERROR))), "status": status,
        "start_time": pd.to_datetime(_col(df, "start_time"), errors="coerce", utc=True),
        "code_hash": _text(_col(df, tag(Tag.CODE_HASH))),  # '' for runs from before code fingerprints
        # where fetch_profiles finds the gradient profile; not written to runs.csv (it holds local paths)
        "artifact_uri": _text(_col(df, "artifact_uri")),
    })
    # Each run names its task's metric (tag task_metric), so no task is named here.
    task_metric = _text(_col(df, tag(Tag.TASK_METRIC)))
    for name in task_metric.unique():
        column = metric(f"{Metric.EVAL_PREFIX}{name}")
        if name and column in df.columns:
            rows = task_metric == name
            out.loc[rows, "metric"] = _number(df.loc[rows, column])
    usable = (out["task"] != "") & (out["cell"] != "") & out[["seq_len", "hidden", "seed"]].notna().all(axis=1)
    out = out[usable].astype({"seq_len": int, "hidden": int, "seed": int})
    out["cell"] = _with_variants(out["cell"], df.loc[out.index], out["task"])
    return sorted_rows(out, ["task", "seq_len", "hidden", "cell", "seed"])


def is_variant_param(key: str) -> bool:
    """Whether a param (a flattened config key such as `train.lr`) that differs between runs of one
    (task, cell) makes them different variants. Not when its top-level key does not change what is
    trained (suite.record.NOT_TRAINED_KEYS: `sweep.rung`, `tracking.uri`, ...), when it is a point
    coordinate or per-run value (the lag, the seed, ...), or when the job derives it."""
    return not (key.split(".", 1)[0] in NOT_TRAINED_KEYS or key in POINT_PARAMS or key in DERIVED_PARAMS)


def _with_variants(cells: pd.Series, df: pd.DataFrame, tasks: pd.Series) -> pd.Series:
    """'lstm' -> 'lstm (cell.forget_bias=chrono)' when a sweep varied a knob beyond lag and seed.

    Without this, runs of e.g. a learning-rate sweep would be folded together as reruns.
    """
    labels = cells.copy()
    prefix = param("")
    params = [c for c in df.columns if c.startswith(prefix) and is_variant_param(c[len(prefix):])]
    for _, rows in df.groupby([tasks, cells]).groups.items():
        group = df.loc[rows, params]
        # a knob set to null is not logged (MLflow params cannot be null): its runs read `=null`, as typed
        group = group.astype(object).where(group.notna(), "null").astype(str)
        varied = [c for c in params if group[c].nunique() > 1]
        if varied:
            labels.loc[rows] = cells.loc[rows] + " (" + group[varied].apply(
                lambda r: _SEP.join(f"{c[len(prefix):]}={v}" for c, v in r.items()), axis=1) + ")"
    return labels


_SEP = ", "  # between a variant's knobs in its label


def split_variant(label: str) -> tuple[str, dict[str, str]]:
    """'lstm (train.lr=0.005, train.steps=500)' -> ('lstm', {'train.lr': '0.005', 'train.steps': '500'});
    a label without knobs -> (label, {}). The inverse of _with_variants' labels (a value holding ', '
    would not survive it: the suite's knobs are numbers and names)."""
    cell, open_, rest = label.partition(" (")
    if not open_ or not rest.endswith(")"):
        return label, {}
    return cell, dict(part.partition("=")[::2] for part in rest[:-1].split(_SEP))


# knobs that RUN_COLUMNS already holds under a short name
KNOB_COLUMNS = {"train.lr": "lr", "train.steps": "budget", "train.eval_every": "eval_every"}


def with_knob_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.csv's rows with a column per knob that a variant's label names ('rnn (train.lr=0.001)' -> lr 0.001), so
    every knob that varies between a sweep's runs is a column of its own (KNOB_COLUMNS' short names where it has
    one). A column the runs already fill (from their params) is kept as it is."""
    knobs = runs["cell"].map(lambda label: split_variant(label)[1])
    added = {}
    for key in dict.fromkeys(k for found in knobs for k in found):
        column = KNOB_COLUMNS.get(key, key)
        if column in runs and runs[column].notna().any():
            continue
        values = knobs.map(lambda found: found.get(key))
        numbers = pd.to_numeric(values, errors="coerce")
        added[column] = numbers if numbers.notna().sum() == values.notna().sum() else values
    return runs.assign(**added)


def latest_per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per (point, seed): a rerun of the same configuration replaces the older run."""
    runs = runs.sort_values("start_time", kind="stable", na_position="first")
    return runs.drop_duplicates(POINT_KEYS + ["seed"], keep="last")
