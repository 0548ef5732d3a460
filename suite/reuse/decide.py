"""Whether a stored run can stand for a job: the same config, trained by code that gives the same numbers.

A FINISHED run with the job's config hash (suite/record.py) is reused when
1. its code hash is today's (suite/reuse/fingerprint.py), or
2. its code differs but is shown to give today's numbers, both of:
   a. the golden numerics of its cell and its task are the versions it was trained under (suite/reuse/golden:
      a change that moves a golden number must regenerate them, tests/test_golden.py sees to it, and
      that bumps their versions), so a change meant to move numbers retrains, even where (b) cannot see it;
   b. today's code, retrained on its config up to its first evaluation, logs there exactly what it
      logged: the training loss, every evaluation metric and gradient diagnostic, bit for bit, and ends
      there or goes on as it did.
   (b) is shown once for a pair of code hashes and recorded on the experiment (a tag per pair), so the
   other jobs of that pair, in this sweep or a later one, are reused without retraining anything.
Otherwise the job trains, naming the modules that changed and why they count: a golden version bumped,
or the first number that moved.

So a refactor (a renamed variable, a reworded message, code moved between modules) keeps every stored
run, at the cost of a few updates per cell and task, and no command to remember; a change that moves
numbers retrains. (b) is checked on one config of a pair: a change that moves numbers only at some
lags or sizes, and no golden number, would pass it; the golden runs' coverage is what guards that.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from suite.record import Metric, Tag
from suite.reuse.fingerprint import CODE_UNKNOWN, changed_modules, parse_modules
from suite.reuse.golden import moved_since
from suite.tracking.queries import finished_run_matching
from suite.training.configured import train_configured

EQUIVALENT_TAG = "code_equivalent.{before}.{now}"  # an experiment tag: that code shown to give this code's numbers


@dataclass
class Decision:
    run: object | None  # the stored run to reuse; None: train
    changed: list[str] | None = None  # the modules changed since a stored run of this config, if there is one
    why: str = ""  # how it was decided, for the log


def decide(cfg, job, client, experiment_id: str, chash: str) -> Decision:
    """Reuse a stored run of this config, or train (job: a suite.job.Prepared)."""
    same = finished_run_matching(client, experiment_id, {Tag.CONFIG_HASH: chash, Tag.CODE_HASH: job.code_hash})
    if same is not None:
        return Decision(same, why="same code")
    older = finished_run_matching(client, experiment_id, {Tag.CONFIG_HASH: chash})
    if older is None:
        return Decision(None)
    tags = older.data.tags
    if Tag.CODE_MODULES not in tags:
        return Decision(None, [CODE_UNKNOWN], "its code is unknown")
    changed = changed_modules(parse_modules(tags[Tag.CODE_MODULES]), job.code)
    moved = moved_since(tags.get(Tag.GOLDEN), cfg.cell.name, cfg.task.name)
    if moved:
        return Decision(None, changed, f"the golden numerics moved since ({', '.join(moved)})")
    key = EQUIVALENT_TAG.format(before=tags[Tag.CODE_HASH], now=job.code_hash)
    if key in client.get_experiment(experiment_id).tags:
        return Decision(older, changed, "that code was shown to give these numbers")
    difference = reproduction_difference(cfg, job, client, older)
    if difference is not None:
        return Decision(None, changed, f"the numbers moved: {difference}")
    client.set_experiment_tag(experiment_id, key, f"run {older.info.run_id} retrained to its first evaluation "
                                                  "gave the same numbers")
    return Decision(older, changed, "retrained to its first evaluation, it gave the same numbers")


class _PastFirstEvaluation(Exception):
    """Raised at the first update after the first evaluation: the check has what it needs."""


class _FirstEvaluation:
    """train()'s log and progress at once: keeps the first evaluation's metrics, stops the loop after it."""

    def __init__(self):
        self.at: int | None = None
        self.metrics: dict[str, float] = {}

    def log(self, step: int, metrics: dict[str, float]) -> None:
        if self.at is None:
            self.at, self.metrics = step, dict(metrics)

    def step(self) -> None:
        if self.at is not None:
            raise _PastFirstEvaluation

    def evaluated(self, metrics) -> None:
        pass


def first_evaluation(cfg, task, model, device: torch.device) -> tuple[int, dict[str, float], object | None]:
    """Today's code on `cfg` up to its first evaluation, training a copy of `model` (the one the job built and
    would train): (its step, what it logged there, the TrainResult if the run ended there, else None).
    The model and torch's global random state are left as they were."""
    seen = _FirstEvaluation()
    model = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            trained, _ = train_configured(cfg, task, model, device, log=seen.log, progress=seen)
        except _PastFirstEvaluation:
            trained = None
    return seen.at, seen.metrics, trained


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def reproduction_difference(cfg, job, client, run) -> str | None:
    """None when today's code reproduces `run` (a stored FINISHED run of this config) at its first
    evaluation, bit for bit; else the first thing that differs."""
    step, metrics, trained = first_evaluation(cfg, job.task, job.model, job.device)
    for key, value in metrics.items():
        logged = {point.step: point.value for point in client.get_metric_history(run.info.run_id, key)}
        if step not in logged:
            return f"{key} at step {step}: not logged then, {value!r} now"
        if not _same(logged[step], value):
            return f"{key} at step {step}: {logged[step]!r} then, {value!r} now"
    ended_then = run.data.metrics.get(Metric.STEPS_TRAINED) == step
    if ended_then != (trained is not None):
        return f"the run {'ended' if ended_then else 'went on'} at step {step} then, " \
               f"{'ended' if trained is not None else 'goes on'} now"
    if trained is not None and trained.outcome != run.data.tags.get(Tag.OUTCOME):
        return f"outcome at step {step}: {run.data.tags.get(Tag.OUTCOME)} then, {trained.outcome} now"
    return None
