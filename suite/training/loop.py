"""The training loop: Adam on freshly sampled batches, a fixed step budget,
periodic evaluation on a fixed held-out set, early stop when solved.

The hot loop never reads a value back from the device: the training loss is
accumulated on the device and read once per evaluation, which is also where a
non-finite loss is noticed and the run ends as *diverged*.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from suite.errors import raise_stop_if_asked
from suite.record import Outcome
from tasks.base import Task

AT_BASELINE = 0.95  # eval loss / memoryless baseline at or above this: nothing learned yet


@dataclass
class TrainResult:
    outcome: str  # Outcome.SOLVED | FAILED | DIVERGED
    steps: int  # updates actually made
    steps_to_solve: Optional[int]  # first evaluation step at which the task was solved
    # the last evaluation step at which it was not (0: none before the first): the solve lies in (this, steps_to_solve];
    # a run that never solved was last seen unsolved here, at its last evaluation
    last_unsolved: int = 0
    final: dict[str, float] = field(default_factory=dict)  # metrics of the last evaluation
    seconds: float = 0.0  # wall time of the training loop, evaluations included
    stopped_at_baseline: bool = False  # ended early by train.stop_at_baseline_after


def autocast(device: torch.device, precision: str = "fp32"):
    """bf16 mixed precision for the forward pass (weights, optimiser and loss stay float32)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def full_precision(output: torch.Tensor) -> torch.Tensor:
    """The model's output in the default dtype: float32 out of bf16 autocast; float64 in the golden runs."""
    return output.to(torch.get_default_dtype())


def evaluation_steps(steps: int, every: int, growth: float | None = None) -> list[int]:
    """The updates after which the held-out set is evaluated, ascending, the budget last: every `every`
    updates, or from `every` on each at most `growth` times the last (one update at least apart), so that the
    update at which a run solves is known to that factor."""
    if growth is None:
        return [*range(every, steps, every), steps]
    points, at = [], every
    while at < steps:
        points.append(at)
        at = max(at + 1, math.floor(at * growth))
    return [*points, steps]


@torch.no_grad()
def evaluate(model: torch.nn.Module, task: Task, x: torch.Tensor, y: torch.Tensor, chunk: int = 1000,
             precision: str = "fp32") -> dict:
    """Task metrics over the held-out set, in chunks to bound memory at long lags."""
    model.eval()
    with autocast(x.device, precision):
        outputs = [full_precision(model(x[i : i + chunk])) for i in range(0, len(x), chunk)]
    model.train()
    metrics = task.metrics(torch.cat(outputs), y)
    return {k: float(v) for k, v in metrics.items()}


def train(
    model: torch.nn.Module,
    task: Task,
    cfg,  # a TrainConfig
    seed: int,
    device: torch.device,
    log: Callable[[int, dict], None] = lambda step, metrics: None,
    fault: Optional[Callable[[int, torch.Tensor], torch.Tensor]] = None,
    diagnose: Optional[Callable[[int, bool], dict]] = None,
    progress=None,  # a suite.training.progress.ProgressBar, or anything with its step and evaluated methods
) -> TrainResult:
    train_data = task.generator("train", seed, device)
    x_eval, y_eval = task.sample(cfg.eval_size, task.generator("eval", seed, device))
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = TrainResult(outcome=Outcome.FAILED, steps=0, steps_to_solve=None)
    loss_sum = torch.zeros((), device=device)
    since_eval = at_baseline_for = 0
    schedule = iter(evaluation_steps(cfg.steps, cfg.eval_every, cfg.eval_growth))
    next_eval = next(schedule)
    start = time.perf_counter()

    for step in range(1, cfg.steps + 1):
        raise_stop_if_asked()  # a stop that garbage collection swallowed (suite/errors.py)
        x, y = task.sample(cfg.batch, train_data)
        with autocast(device, cfg.precision):
            loss = task.loss(full_precision(model(x)), y)
        if fault is not None:
            loss = fault(step, loss)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimiser.step()
        loss_sum += loss.detach()
        since_eval += 1
        result.steps = step
        if progress:
            progress.step()

        if step != next_eval:
            continue
        next_eval = next(schedule, None)
        # --- evaluation point: the only place values come back to the host ---
        train_loss = float(loss_sum) / since_eval
        loss_sum.zero_()
        since_eval = 0
        metrics = evaluate(model, task, x_eval, y_eval, precision=cfg.precision)
        metrics["loss_norm"] = metrics["loss"] / task.baseline_loss
        result.final = metrics
        diverged = not (math.isfinite(train_loss) and math.isfinite(metrics["loss"]))
        solved_now = not diverged and result.steps_to_solve is None and task.solved(metrics)
        at_baseline_for = at_baseline_for + 1 if metrics["loss_norm"] >= AT_BASELINE else 0
        # Off by default: a cell can sit at the baseline for long and then learn (the naive LSTM does).
        stuck = bool(cfg.stop_at_baseline_after) and at_baseline_for >= cfg.stop_at_baseline_after
        last = step == cfg.steps or (solved_now and cfg.early_stop) or stuck
        # Gradient diagnostics (off the hot path): every few evaluations and at the last one.
        extra = diagnose(step, last) if diagnose is not None and not diverged else {}
        log(step, {"train_loss": train_loss, **{f"eval_{k}": v for k, v in metrics.items()}, **extra})
        if diverged:
            result.outcome = Outcome.DIVERGED
            break
        if progress:
            progress.evaluated(metrics)
        if not solved_now and result.steps_to_solve is None:
            result.last_unsolved = step
        if solved_now:
            result.steps_to_solve = step
            result.outcome = Outcome.SOLVED
            if cfg.early_stop:
                break
        if stuck:
            result.stopped_at_baseline = True
            break
    result.seconds = time.perf_counter() - start
    return result
