"""One configured run: validate, build the task and the model, train, log to MLflow.

Everything that can be wrong with the config is checked before the MLflow run is
created, so a bad config leaves no half-logged run behind.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from suite.config import ConfigError, resolve_device, validate
from suite.model import CellConfigError, build_model, count_parameters
from suite.tracking import flatten, mlflow_run, tracking_uri
from suite.train import TrainResult, train
from tasks.base import Task, TaskConfigError

log = logging.getLogger(__name__)


def build_task(task_cfg: DictConfig) -> Task:
    try:
        task = instantiate(task_cfg)
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, TaskConfigError):
            raise ConfigError(str(cause)) from None
        raise ConfigError(f"task._target_={task_cfg._target_!r}: {cause or exc}") from None
    if not isinstance(task, Task):
        raise ConfigError(f"task._target_={task_cfg._target_!r}: expected a subclass of tasks.base.Task")
    return task


def make_fault(kind: str | None, at_step: int):
    """A deliberate failure for exercising the divergence and crash paths."""
    if kind is None:
        return None

    def fault(step: int, loss: torch.Tensor) -> torch.Tensor:
        if step < at_step:
            return loss
        if kind == "error":
            raise RuntimeError(f"injected fault at step {step} (fault.kind=error)")
        return loss * float("nan")

    return fault


def prepare(cfg: DictConfig):
    """Every check and construction that can fail on a bad config; no side effects on the store."""
    validate(cfg)
    device = resolve_device(cfg.device)
    task = build_task(cfg.task)
    torch.manual_seed(cfg.seed)
    cell_cfg = OmegaConf.to_container(cfg.cell, resolve=True)
    try:
        model = build_model(cell_cfg, cfg.hidden, task).to(device)
    except CellConfigError as exc:
        raise ConfigError(str(exc)) from None
    return device, task, model


def run_job(cfg: DictConfig, output_dir: str | Path | None = None) -> TrainResult:
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device, task, model = prepare(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    tags = {
        "cell": cfg.cell.name, "task": task.name, "seq_len": task.seq_len, "hidden": cfg.hidden,
        "seed": cfg.seed, "device": device.type,
    }
    with mlflow_run(tracking_uri(cfg.tracking.uri), cfg.tracking.experiment, cfg.run_name, tags) as run:
        run.log_params(flatten(resolved))
        run.log_params({"n_params": count_parameters(model), "baseline_loss": task.baseline_loss,
                        "input_length": task.length})
        run.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        log.info("run %s: %s params on %s, baseline loss %.4f", cfg.run_name, count_parameters(model), device,
                 task.baseline_loss)
        result = train(model, task, cfg.train, cfg.seed, device, log=run.log_metrics,
                       fault=make_fault(cfg.fault.kind, cfg.fault.at_step))
        final = {
            "solved": float(result.outcome == "solved"),
            "steps_trained": result.steps,
            "train_seconds": result.seconds,
            "train_seqs_per_s": result.steps * cfg.train.batch / max(result.seconds, 1e-9),
            **({"steps_to_solve": result.steps_to_solve} if result.steps_to_solve else {}),
        }
        run.log_metrics(result.steps, final)
        run.set_tags({"outcome": result.outcome})
        summary = {"run_id": run.run_id, "run_name": cfg.run_name, "outcome": result.outcome,
                   **final, **{f"eval_{k}": v for k, v in result.final.items()}}
        run.log_text(json.dumps(summary, indent=2), "result.json")
    if output_dir is not None:
        # A copy beside Hydra's outputs, so the result survives a tracking server that went away.
        (Path(output_dir) / "result.json").write_text(json.dumps(summary, indent=2))
    metric = task.metric
    log.info("%s: %s after %d steps (%.1f s), %s=%.4g, loss/baseline=%.3f", cfg.run_name, result.outcome,
             result.steps, result.seconds, metric, result.final.get(metric, float("nan")),
             result.final.get("loss_norm", float("nan")))
    return result
