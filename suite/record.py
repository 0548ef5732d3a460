"""What a run records, named once: its MLflow tags, metrics, params and artifacts, the fields of
its result.json, and the config keys that do not change what is trained.

The job writes these names; the sweep, the summary, the reaper and the re-import read them.
Change a name here and every reader follows.
"""
from __future__ import annotations

import hashlib
import json


class Tag:
    """MLflow tags. A training run carries the point it trained (cell .. seed) and its outcome."""

    RUN_NAME = "mlflow.runName"
    PARENT = "mlflow.parentRunId"
    NOTE = "mlflow.note.content"  # the run's description (markdown), on its Overview page in the UI
    # provenance, in the UI's Source, Version and User columns
    SOURCE_NAME, SOURCE_TYPE, GIT_COMMIT, USER = ("mlflow.source.name", "mlflow.source.type",
                                                 "mlflow.source.git.commit", "mlflow.user")
    CELL, TASK, SEQ_LEN, HIDDEN, SEED = "cell", "task", "seq_len", "hidden", "seed"
    DEVICE = "device"
    CONFIG_HASH = "config_hash"  # what resume matches on: record.config_hash
    CODE_HASH = "code_hash"  # and the code that decides the result (suite/reuse/fingerprint.py)
    CODE_MODULES = "code_modules"  # that code, module by module ('suite.training.loop=1a2b3c4d ...'): what changed
    GOLDEN = "golden_numerics"  # 'lstm-memory=1 ...': the golden versions it was trained under (suite/reuse/golden)
    OUTCOME = "outcome"  # Outcome.SOLVED | FAILED | DIVERGED, set when training ends
    ERROR = "error"  # why a run ended FAILED or KILLED
    # the task's own metric and its direction, so the summary never names a concrete task
    TASK_METRIC, TASK_HIGHER_IS_BETTER = "task_metric", "task_metric_higher_is_better"
    # the process that owns a RUNNING run (suite/tracking/owners.py ends it when that process is gone)
    OWNER_HOST, OWNER_PID, OWNER_STARTED = "owner_host", "owner_pid", "owner_started"
    # a sweep job's place in line among the live runs of its config (suite/tracking/twins.py): CLAIM_CHOOSING
    # while it takes its ticket, then the ticket; a run without it never yields (a single run, resume=false)
    CLAIM = "claim"
    REIMPORTED_FROM = "reimported_from"
    # a sweep's parent run
    SWEEP = "sweep"  # value SWEEP_PARENT
    SWEEP_DIR = "sweep_dir"
    HOST = "host"
    VERDICT_PREFIX = "verdict."  # verdict.<task>: the sweep's verdict line for that task


SWEEP_PARENT = "parent"
CLAIM_CHOOSING = "choosing"  # Tag.CLAIM of a run whose job has not taken its ticket yet


class Outcome:
    """How a job ended. The first three are a training run's `outcome` tag; the others exist only
    in result.json (the job made no usable run)."""

    SOLVED, FAILED, DIVERGED = "solved", "failed", "diverged"
    CRASHED = "crashed"  # training raised: the run is FAILED (or KILLED)
    CONFIG_ERROR = "config_error"  # the job's config was bad: no run at all
    TRAINED = (SOLVED, FAILED, DIVERGED)


class Metric:
    TRAIN_LOSS = "train_loss"
    EVAL_PREFIX = "eval_"  # eval_loss, eval_loss_norm, eval_<task metric>
    EVAL_LOSS = "eval_loss"
    EVAL_LOSS_NORM = "eval_loss_norm"  # held-out loss ÷ the task's memoryless baseline
    SOLVED = "solved"
    STEPS_TRAINED = "steps_trained"
    STEPS_TO_SOLVE = "steps_to_solve"
    # the last evaluation before the solve (0: none), or a run's last evaluation when it never solved: the run's
    # learning time lies in (LAST_UNSOLVED_STEP, STEPS_TO_SOLVE], or beyond LAST_UNSOLVED_STEP when censored
    LAST_UNSOLVED_STEP = "last_unsolved_step"
    TRAIN_SECONDS = "train_seconds"
    TRAIN_SEQS_PER_S = "train_seqs_per_s"
    STOPPED_AT_BASELINE = "stopped_at_baseline"
    # suite/training/diagnostics.py, log10 of ‖∂L/∂h_t‖ at t=1, t=T and the step to remember, and their first-last
    # difference: the orders of magnitude the learning signal loses across the lag
    GRAD_LOG10_FIRST, GRAD_LOG10_LAST, GRAD_LOG10_MEMORY = "grad_log10_first", "grad_log10_last", "grad_log10_memory"
    GRAD_LOG10_RATIO = "grad_log10_ratio"
    # The same four measured at the first evaluation point (step train.eval_every) and logged there
    # only: every run reaches that step (early stopping happens at evaluation points), so the value
    # search_runs returns (a metric's last) compares every seed and cell at one training step, where
    # the four above, last logged at a run's end, compare a solved seed's early stop with a failed
    # one's step budget.
    GRAD_LOG10_FIRST_FIRST_EVAL = "grad_log10_first_first_eval"
    GRAD_LOG10_LAST_FIRST_EVAL = "grad_log10_last_first_eval"
    GRAD_LOG10_MEMORY_FIRST_EVAL = "grad_log10_memory_first_eval"
    GRAD_LOG10_RATIO_FIRST_EVAL = "grad_log10_ratio_first_eval"
    FIRST_EVAL = {GRAD_LOG10_FIRST: GRAD_LOG10_FIRST_FIRST_EVAL, GRAD_LOG10_LAST: GRAD_LOG10_LAST_FIRST_EVAL,
                  GRAD_LOG10_MEMORY: GRAD_LOG10_MEMORY_FIRST_EVAL, GRAD_LOG10_RATIO: GRAD_LOG10_RATIO_FIRST_EVAL}
    # suite/training/diagnostics.py's gate statistics (layer 0): the tanh RNN's fraction of |h| > 0.99, the
    # LSTM's mean forget gate, the GRU's mean update gate
    SATURATED_FRACTION, FORGET_GATE_MEAN, UPDATE_GATE_MEAN = ("saturated_fraction", "forget_gate_mean",
                                                              "update_gate_mean")
    # a sweep's parent run
    JOBS, JOBS_REUSED, JOBS_CRASHED = "jobs", "jobs_reused", "jobs_crashed"
    # each group's horizon (suite/summary/estimates.py), as "t50/<task>/<cell>/h<hidden>": T50 and the ends of
    # its 95% claim (t50_lo 0 when open below; no t50_hi when open above)
    T50, T50_LO, T50_HI = "t50", "t50_lo", "t50_hi"
    # each group's learning time against the lag (suite/summary/learning.py), named as T50's are
    # ("growth_per_doubling/<task>/<cell>/h<hidden>"), each with the ends of its 95% interval and T50's convention
    # (the median only where both ends are closed; _lo 0 when open below; no _hi when open above): GROWTH, times
    # longer per doubling of the lag under the power law; T50_AT, T50(B), the lag at which half the seeds solve
    # within B updates, at each budget B of learning.BUDGETS, in the lag the fit used: .format(lag="d", budget=2000)
    # is "t50_d_at_2000" (d: the task's distance, where its runs record it), lag="T" "t50_T_at_2000" (seq_len)
    GROWTH, GROWTH_LO, GROWTH_HI = "growth_per_doubling", "growth_per_doubling_lo", "growth_per_doubling_hi"
    T50_AT, T50_AT_LO, T50_AT_HI = "t50_{lag}_at_{budget}", "t50_{lag}_at_{budget}_lo", "t50_{lag}_at_{budget}_hi"
    RUNS_SOLVED, RUNS_FAILED, RUNS_DIVERGED = "runs_solved", "runs_failed", "runs_diverged"


class Param:
    """Besides the flattened resolved config (`train.lr`, `cell.name`, ...)."""

    N_PARAMS = "n_params"
    # the recurrent module's alone (model.rnn, without the head): what a matched size matches (suite/families/sizing.py)
    RECURRENT_PARAMS = "recurrent_params"
    BASELINE_LOSS = "baseline_loss"
    INPUT_LENGTH = "input_length"
    # the distance the task's information travels (tasks.base.Lag), in time steps
    LAG_MIN, LAG_MEAN, LAG_MAX = "lag_min", "lag_mean", "lag_max"
    OVERRIDES = "overrides"  # a sweep's parent run: the command line's overrides
    SWEPT_PREFIX = "swept."  # a sweep's parent run: what each swept key took, e.g. swept.cell = rnn,lstm,gru


class Artifact:
    """Paths inside a run's artifacts (and, by file name, in the job's output folder)."""

    CONFIG = "config.yaml"
    RESULT = "result.json"
    DIAGNOSTICS_DIR = "diagnostics"
    PROFILE_CSV = "grad_profile.csv"  # under DIAGNOSTICS_DIR
    PROFILE_PNG = "grad_profile.png"  # under DIAGNOSTICS_DIR
    SUMMARY_DIR = "summary"  # a sweep's parent run
    RUNS_CSV = "runs.csv"  # under SUMMARY_DIR: every run the sweep summarised, reused ones included


class Result:
    """Fields of a job's result.json (besides its final metrics, under their Metric names)."""

    RUN_ID, RUN_NAME, OUTCOME = "run_id", "run_name", "outcome"
    REUSED = "reused"  # a finished run of an earlier sweep stands in for this job
    CODE_CHANGED = "code_changed"  # a finished run of the same config was trained by other code: what changed
    ERROR = "error"
    TRACKING_LOST = "tracking_lost"  # why the tracking server stopped answering (python -m suite.reimport)
    JOB = "job"  # the job's number in its sweep, when it made no run
    PARENT = "parent_run_id"  # the sweep's parent run the job belonged to (a folder may hold an earlier launch's)
    EXPERIMENT_ID, TRACKING_URI = "experiment_id", "tracking_uri"  # where the run is (the URI redacted)


# Config keys that do not change what is trained: where it is logged, how many threads, what the
# sweep calls it, and the sweep's own bookkeeping (all sweep-only keys live under `sweep`).
# They stay out of the resume hash and never make a "variant" in the summary.
NOT_TRAINED_KEYS = ("sweep", "tracking", "threads", "run_name", "resume", "hydra",
                    # where the sweep-only keys lived before they moved under `sweep` (runs in older stores)
                    "ladders", "rung", "sweep_name", "hidden_by_cell")


# Knobs added after runs were stored, each at the value that trains as the code did before it existed: at that
# value the knob is left out of the hash, so adding it keeps every stored run (a knob's other values hash as usual).
NEUTRAL_WHEN_ADDED = {("train", "eval_growth"): None, ("cell", "gate_bias"): None}


def config_hash(resolved: dict, device_type: str) -> str:
    """A stable hash of everything that decides a run's result: the resolved config without
    NOT_TRAINED_KEYS (and the knobs of NEUTRAL_WHEN_ADDED at their neutral value), and the kind of device it trains on."""
    kept = {k: v for k, v in resolved.items() if k not in NOT_TRAINED_KEYS}
    for (group, key), neutral in NEUTRAL_WHEN_ADDED.items():
        if isinstance(kept.get(group), dict) and key in kept[group] and kept[group][key] == neutral:
            kept[group] = {k: v for k, v in kept[group].items() if k != key}
    kept["device"] = device_type
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]
