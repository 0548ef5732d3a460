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
from suite.diagnostics import PROFILE_CSV, GradientDiagnostics
from suite.model import CellConfigError, build_model, count_parameters
from suite.sweep import RESULT_FILE, config_hash
from suite.privacy import redact
from suite.tracking import check_reachable, flatten, mlflow_run, open_experiment, tracking_uri, uri_source
from suite.train import train
from tasks.base import Task, TaskConfigError

log = logging.getLogger(__name__)


def config_source(group: str) -> str:
    """'task/my_task.yaml' for the option Hydra picked in `group` (for error messages)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(group)
        if choice:
            return f"{group}/{choice}.yaml"
    return f"the {group} config"


def build_task(task_cfg: DictConfig) -> Task:
    """Instantiate the task config's `_target_`; any mistake is one line naming the file and field."""
    source = config_source("task")
    for key in ("_target_", "name"):
        if key not in task_cfg:
            raise ConfigError(f"task.{key} is missing in {source}: every task config needs `_target_` "
                              "(a tasks.base.Task subclass) and `name`")
    target = task_cfg._target_
    try:
        task = instantiate(task_cfg)
    except InstantiationException as exc:
        cause = exc.__cause__
        if isinstance(cause, TaskConfigError):
            raise ConfigError(f"{cause} (in {source})") from None
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        raise ConfigError(f"task._target_={target!r} in {source}: {reason.splitlines()[0]}") from None
    if not isinstance(task, Task):
        raise ConfigError(f"task._target_={target!r} in {source}: {type(task).__name__} is not a subclass of "
                          "tasks.base.Task (the task contract)")
    return task


def make_fault(fault_cfg, run_name: str):
    """A deliberate failure for exercising the divergence and crash paths.

    `fault.kind` applies to every run; `fault.runs` ({run-name glob: kind}) to chosen runs of a
    sweep, e.g. one crash and one divergence among many healthy jobs.
    """
    from fnmatch import fnmatchcase

    kind, at_step = fault_cfg.kind, fault_cfg.at_step
    for pattern, chosen in (fault_cfg.runs or {}).items():
        if fnmatchcase(run_name, pattern):
            kind = chosen
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
    check_reachable(tracking_uri(cfg.tracking.uri), uri_source(cfg.tracking.uri))
    device = resolve_device(cfg.device)
    task = build_task(cfg.task)
    torch.manual_seed(cfg.seed)
    cell_cfg = OmegaConf.to_container(cfg.cell, resolve=True)
    try:
        model = build_model(cell_cfg, cfg.hidden, task).to(device)
    except CellConfigError as exc:
        raise ConfigError(str(exc)) from None
    return device, task, model


def find_finished_run(uri: str, experiment: str, chash: str):
    """The latest FINISHED run with this config hash, if any (for resuming sweeps)."""
    client, experiment_id = open_experiment(uri, experiment)
    runs = client.search_runs([experiment_id], max_results=1,
                              filter_string=f"tags.config_hash = '{chash}' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"])
    return runs[0] if runs else None


def log_profile(run, diagnostics: GradientDiagnostics, title: str, output_dir) -> None:
    """The gradient profiles as CSV and a plot, on the run and beside Hydra's outputs."""
    import tempfile

    csv = diagnostics.profile_csv()
    run.log_text(csv, f"diagnostics/{PROFILE_CSV}")
    if output_dir is not None:
        (Path(output_dir) / PROFILE_CSV).write_text(csv)
    with tempfile.TemporaryDirectory() as scratch:
        plot = Path(output_dir if output_dir is not None else scratch) / "grad_profile.png"
        diagnostics.plot(plot, f"{title}: gradient reaching each time step")
        run.log_artifact(plot, "diagnostics")


def write_result(output_dir: str | Path | None, result: dict) -> None:
    """A copy beside Hydra's outputs: the sweep reads it, and it survives a tracking server that went away."""
    if output_dir is not None:
        (Path(output_dir) / RESULT_FILE).write_text(json.dumps(result, indent=2))


def run_job(cfg: DictConfig, output_dir: str | Path | None = None, parent_run_id: str | None = None,
            progress: bool = True, sweeping: bool = False) -> dict:
    """Train one configured run and return its result record.

    In a sweep with `resume` on, an identical FINISHED run is reused instead; a single
    `python run.py` always trains, since that is what someone typing it wants to watch.
    """
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    # Tiny hidden activations and gradients become denormal floats, which x86 CPUs handle
    # in microcode: measured 2.6x slower for a tanh RNN at T=100 late in training.
    torch.set_flush_denormal(True)
    device, task, model = prepare(cfg)
    uri = tracking_uri(cfg.tracking.uri)
    chash = config_hash(cfg, device.type)
    if sweeping and cfg.resume:
        previous = find_finished_run(uri, cfg.tracking.experiment, chash)
        if previous is not None:
            result = {"run_id": previous.info.run_id, "run_name": cfg.run_name, "reused": True,
                      "outcome": previous.data.tags.get("outcome", "unknown"), **previous.data.metrics}
            write_result(output_dir, result)
            log.info("%s: reusing finished run %s (%s); resume=false retrains", cfg.run_name,
                     previous.info.run_id, result["outcome"])
            return result

    resolved = OmegaConf.to_container(cfg, resolve=True)
    config_text = redact(OmegaConf.to_yaml(cfg, resolve=True))
    if output_dir is not None:  # beside Hydra's outputs too: a server lost mid-run does not lose it
        (Path(output_dir) / "config.yaml").write_text(config_text)
    tags = {
        "cell": cfg.cell.name, "task": task.name, "seq_len": task.seq_len, "hidden": cfg.hidden,
        "seed": cfg.seed, "device": device.type, "config_hash": chash,
        # what the summary needs to know of the task, so it never names a concrete one
        "task_metric": task.metric, "task_metric_higher_is_better": task.higher_is_better,
    }
    run_id = None
    try:
        with mlflow_run(uri, cfg.tracking.experiment, cfg.run_name, tags, parent_run_id, output_dir) as run:
            run_id = run.run_id
            run.log_params(flatten(resolved))
            run.log_params({"n_params": count_parameters(model), "baseline_loss": task.baseline_loss,
                            "input_length": task.length})
            run.log_text(config_text, "config.yaml")
            log.info("run %s: %s params on %s, baseline loss %.4f", cfg.run_name, count_parameters(model),
                     device, task.baseline_loss)
            diagnostics = (GradientDiagnostics(model, task, cfg.seed, device, cfg.diagnostics.every,
                                               cfg.diagnostics.batch) if cfg.diagnostics.every else None)
            trained = train(model, task, cfg.train, cfg.seed, device, log=run.log_metrics,
                            fault=make_fault(cfg.fault, cfg.run_name), diagnose=diagnostics,
                            progress=progress)
            if diagnostics is not None and diagnostics.profiles:
                log_profile(run, diagnostics, cfg.run_name, output_dir)
            final = {
                "solved": float(trained.outcome == "solved"),
                "steps_trained": trained.steps,
                "train_seconds": trained.seconds,
                "train_seqs_per_s": trained.steps * cfg.train.batch / max(trained.seconds, 1e-9),
                **({"steps_to_solve": trained.steps_to_solve} if trained.steps_to_solve else {}),
                **({"stopped_at_baseline": 1.0} if trained.stopped_at_baseline else {}),
            }
            run.log_metrics(trained.steps, final)
            run.set_tags({"outcome": trained.outcome})
            result = {"run_id": run_id, "run_name": cfg.run_name, "outcome": trained.outcome, **final,
                      **{f"eval_{k}": v for k, v in trained.final.items()}}
            run.log_text(json.dumps(result, indent=2), RESULT_FILE)
    except Exception as exc:
        write_result(output_dir, {"run_id": run_id, "run_name": cfg.run_name, "outcome": "crashed",
                                  "error": f"{type(exc).__name__}: {exc}"})
        raise
    if run.lost:
        result["tracking_lost"] = run.lost
    write_result(output_dir, result)
    log.info("%s: %s after %d steps (%.1f s), %s=%.4g, loss/baseline=%.3f", cfg.run_name, trained.outcome,
             trained.steps, trained.seconds, task.metric, trained.final.get(task.metric, float("nan")),
             trained.final.get("loss_norm", float("nan")))
    return result
