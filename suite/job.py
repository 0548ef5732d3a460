"""One configured job: build the task and the model, train, log the run to MLflow.

The config has passed `suite.config.validate` (the CLI checks it before torch and MLflow are
imported). Everything else that can be wrong is checked in `prepare`, before the MLflow run
is created, so a bad config leaves no half-logged run behind.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from suite.reuse import decide as reuse
from suite.config import flatten, on_this_machine
from suite.training.configured import build, set_up, train_configured
from suite.training.diagnostics import GradientDiagnostics
from suite.errors import JobStopped
from suite.reuse.fingerprint import code_hash, code_modules, modules_text
from suite.reuse.golden import versions_text
from suite.model.recurrent import count_parameters
from suite.privacy import redact
from suite.training.profile_figure import profile_figure
from suite.training.progress import ProgressBar
from suite.record import Artifact, Metric, Outcome, Param, Result, Tag, config_hash
from suite.sweeping.folder import write_result
from suite.tracking import twins
from suite.tracking.run_logger import RunLogger, mlflow_run
from suite.tracking.store import check_reachable, open_experiment, tracking_uri, uri_source
from tasks.base import Task

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """What a job needs before its run is created, each resolved once."""

    device: torch.device
    uri: str  # the tracking store
    task: Task
    model: torch.nn.Module
    n_params: int
    n_recurrent: int  # of those, the recurrent module's (the head's follow from the hidden size)
    code: dict[str, str]  # the code that decides the result, module by module (suite/reuse/fingerprint.py)

    @property
    def code_hash(self) -> str:
        return code_hash(self.code)


def prepare(cfg: DictConfig) -> Prepared:
    """Every check and construction that can fail on a bad config; no side effects on the store."""
    device = on_this_machine(cfg)
    uri = tracking_uri(cfg.tracking.uri)
    check_reachable(uri, uri_source(cfg.tracking.uri))
    task, model = build(cfg, device)
    return Prepared(device, uri, task, model, count_parameters(model), count_parameters(model.rnn),
                    code_modules(task, model))


def run_job(cfg: DictConfig, output_dir: str | Path | None = None, parent_run_id: str | None = None,
            progress: bool = True, sweeping: bool = False) -> dict:
    """Train one configured run and return its result record (also written to output_dir).

    In a sweep with `resume` on, an identical FINISHED run is reused instead, and a run of the same
    config that another live process is training is waited for and then reused (twins.py); a single
    `python run.py` always trains, since that is what someone typing it wants to watch.
    """
    set_up(cfg.threads)
    job = prepare(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    chash = config_hash(resolved, job.device.type)
    code_changed = None
    if sweeping and cfg.resume:
        match = {Tag.CONFIG_HASH: chash, Tag.CODE_HASH: job.code_hash}  # what makes two runs the same job
        result = None
        while result is None:  # None: a twin was training this config and has ended since: look again
            result, code_changed = reuse_finished_run(cfg, job, match)
            result = result or train_job(cfg, job, resolved, chash, parent_run_id, output_dir, progress, claim=match)
        if code_changed and not result.get(Result.REUSED):
            result[Result.CODE_CHANGED] = code_changed
    else:
        result = train_job(cfg, job, resolved, chash, parent_run_id, output_dir, progress)
    write_result(output_dir, result)
    return result


def train_job(cfg: DictConfig, job: Prepared, resolved: dict, chash: str, parent_run_id: str | None, output_dir,
              progress: bool, claim: dict[str, str] | None = None) -> dict | None:
    """Create the job's run and train it; its result record.

    With `claim` (the tags that make two runs the same job), the run first claims its config
    (suite/tracking/twins.py). If a twin FINISHED it or is ahead in line, the run is withdrawn
    (deleted), and the job waits for that twin to end and returns None.
    """
    tags = {**run_tags(cfg, job, chash), **(twins.claim_tags(claim) if claim else {})}
    run_id = twin = None
    try:
        with mlflow_run(job.uri, cfg.tracking.experiment, cfg.run_name, tags, parent_run_id, output_dir) as run:
            run_id = run.run_id
            twin = twins.claim(run, claim) if claim else None
            if twin is None:
                result = train_logged(cfg, job, resolved, run, output_dir, progress)
    except (Exception, JobStopped) as exc:
        write_result(output_dir, {Result.RUN_ID: run_id, Result.RUN_NAME: cfg.run_name,
                                  Result.OUTCOME: Outcome.CRASHED, Result.ERROR: f"{type(exc).__name__}: {exc}"})
        raise
    if twin is not None:  # its run is withdrawn: stopped while it waits, the job crashes without a run
        twins.await_end(run.client, twin, cfg.run_name)
        return None
    if run.lost:
        result[Result.TRACKING_LOST] = run.lost
    return result


def reuse_finished_run(cfg: DictConfig, job: Prepared, match: dict[str, str]) -> tuple[dict | None, list[str] | None]:
    """(the result of a FINISHED run of this config that today's code would train the same way (suite/reuse/decide.py),
    None) if the store has one; else (None, the modules changed since a FINISHED run of this config, if any)."""
    client, experiment_id = open_experiment(job.uri, cfg.tracking.experiment)
    decision = reuse.decide(cfg, job, client, experiment_id, match[Tag.CONFIG_HASH])
    if decision.run is None:
        if decision.changed:
            log.info("%s: a finished run of this config was trained by other code (%s) and %s: training again",
                     cfg.run_name, ", ".join(decision.changed), decision.why)
        return None, decision.changed
    previous = decision.run
    log.info("%s: reusing finished run %s (%s; %s); resume=false retrains", cfg.run_name, previous.info.run_id,
             previous.data.tags.get(Tag.OUTCOME, "unknown"), decision.why)
    return {Result.RUN_ID: previous.info.run_id, Result.RUN_NAME: cfg.run_name, Result.REUSED: True,
            Result.OUTCOME: previous.data.tags.get(Tag.OUTCOME, "unknown"), Result.EXPERIMENT_ID: experiment_id,
            Result.TRACKING_URI: redact(job.uri), **previous.data.metrics}, None


def run_tags(cfg: DictConfig, job: Prepared, chash: str) -> dict[str, object]:
    task = job.task
    return {
        Tag.CELL: cfg.cell.name, Tag.TASK: task.name, Tag.SEQ_LEN: task.seq_len, Tag.HIDDEN: cfg.hidden,
        Tag.SEED: cfg.seed, Tag.DEVICE: job.device.type, Tag.CONFIG_HASH: chash,
        Tag.CODE_HASH: job.code_hash, Tag.CODE_MODULES: modules_text(job.code),
        Tag.GOLDEN: versions_text(cfg.cell.name, cfg.task.name),
        # what the summary needs to know of the task, so it never names a concrete one
        Tag.TASK_METRIC: task.metric, Tag.TASK_HIGHER_IS_BETTER: task.higher_is_better,
    }


def train_logged(cfg: DictConfig, job: Prepared, resolved: dict, run: RunLogger, output_dir, progress: bool) -> dict:
    """Train inside the open run: the config and sizes up front, metrics as they come, the result at the end."""
    task = job.task
    config_text = redact(OmegaConf.to_yaml(resolved))
    if output_dir is not None:  # beside Hydra's outputs too: a server lost mid-run does not lose it
        (Path(output_dir) / Artifact.CONFIG).write_text(config_text)
    # No `None` in the UI's params (the whole config, with its nulls, is the config.yaml artifact);
    # `threads` is the count torch uses, whatever the config asked.
    run.log_params({**{k: v for k, v in flatten(resolved).items() if v is not None},
                    "threads": torch.get_num_threads(), Param.N_PARAMS: job.n_params,
                    Param.RECURRENT_PARAMS: job.n_recurrent,
                    Param.BASELINE_LOSS: task.baseline_loss, Param.INPUT_LENGTH: task.length, **lag_params(task)})
    run.log_datasets(datasets(cfg, resolved))
    run.log_text(config_text, Artifact.CONFIG)
    log.info("run %s: %s params on %s, baseline loss %.4f", cfg.run_name, job.n_params, job.device,
             task.baseline_loss)
    bar = ProgressBar(job.model, task, cfg.train.steps) if progress else None
    try:
        trained, diagnostics = train_configured(cfg, task, job.model, job.device, log=run.log_metrics, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if diagnostics is not None and diagnostics.profiles:
        log_profile(run, diagnostics, cfg.run_name, output_dir)
    final = {
        Metric.SOLVED: float(trained.outcome == Outcome.SOLVED),
        Metric.STEPS_TRAINED: trained.steps,
        Metric.TRAIN_SECONDS: trained.seconds,
        Metric.TRAIN_SEQS_PER_S: trained.steps * cfg.train.batch / max(trained.seconds, 1e-9),
        **({Metric.STEPS_TO_SOLVE: trained.steps_to_solve} if trained.steps_to_solve else {}),
        Metric.LAST_UNSOLVED_STEP: trained.last_unsolved,
        **({Metric.STOPPED_AT_BASELINE: 1.0} if trained.stopped_at_baseline else {}),
    }
    run.log_metrics(trained.steps, final)
    run.set_tags({Tag.OUTCOME: trained.outcome, Tag.NOTE: description(cfg, task, trained)})
    result = {Result.RUN_ID: run.run_id, Result.RUN_NAME: cfg.run_name, Result.OUTCOME: trained.outcome, **final,
              **{f"{Metric.EVAL_PREFIX}{k}": v for k, v in trained.final.items()},
              Result.EXPERIMENT_ID: run.experiment_id, Result.TRACKING_URI: redact(job.uri)}
    run.log_text(json.dumps(result, indent=2), Artifact.RESULT)
    log.info("%s: %s after %d steps (%.1f s), %s=%.4g, loss/baseline=%.3f", cfg.run_name, trained.outcome,
             trained.steps, trained.seconds, task.metric, trained.final.get(task.metric, float("nan")),
             trained.final.get("loss_norm", float("nan")))
    return result


def lag_params(task: Task) -> dict[str, float]:
    """How far the task's information travels (tasks.base.Lag), when the task says."""
    lag = task.lag
    return {} if lag is None else {Param.LAG_MIN: lag.min, Param.LAG_MEAN: lag.mean, Param.LAG_MAX: lag.max}


def description(cfg: DictConfig, task: Task, trained) -> str:
    """The run's one-line description in the UI: `lstm · memory · T=30: solved at step 300, loss ÷ baseline 0.0011`."""
    how = f"solved at step {trained.steps_to_solve}" if trained.steps_to_solve else \
        f"{trained.outcome} after {trained.steps} steps"
    return (f"{cfg.cell.name} · {task.name} · T={task.seq_len}: {how}, "
            f"loss ÷ baseline {trained.final.get('loss_norm', float('nan')):.2g}")


def datasets(cfg: DictConfig, resolved: dict) -> dict[str, dict]:
    """The synthetic data a run trains and is evaluated on, described by what makes it: the task
    and its knobs, the split and the seed (tasks.base.Task.generator), and how many sequences."""
    made_by = {"task": resolved["task"], "seed": cfg.seed}
    name = f"{cfg.task.name}-T{cfg.seq_len}-s{cfg.seed}"
    return {"train": {"name": f"{name}-train", **made_by, "split": "train",
                      "sequences": cfg.train.steps * cfg.train.batch, "batch": cfg.train.batch},
            "eval": {"name": f"{name}-eval", **made_by, "split": "eval", "sequences": cfg.train.eval_size}}


def log_profile(run: RunLogger, diagnostics: GradientDiagnostics, title: str, output_dir) -> None:
    """The gradient profiles as CSV and a plot, on the run and beside Hydra's outputs."""
    csv = diagnostics.profile_csv()
    run.log_text(csv, f"{Artifact.DIAGNOSTICS_DIR}/{Artifact.PROFILE_CSV}")
    figure = profile_figure(diagnostics.profiles, f"{title}: gradient reaching each time step")
    if output_dir is None:
        run.log_figure(figure, f"{Artifact.DIAGNOSTICS_DIR}/{Artifact.PROFILE_PNG}")
        return
    (Path(output_dir) / Artifact.PROFILE_CSV).write_text(csv)
    png = Path(output_dir) / Artifact.PROFILE_PNG
    figure.savefig(png, dpi=100)  # drawn once: log_figure would draw it again for the run
    run.log_artifact(png, Artifact.DIAGNOSTICS_DIR)
