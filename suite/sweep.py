"""Sweeps: one MLflow parent run per `run.py -m`, resume of finished jobs, and the summary at the end.

Hydra calls `SweepCallback` in the launching process, before any job starts and
after the last one ends, whatever launcher runs the jobs (basic, joblib, submitit):
- on start it creates the SQLite database and the experiment once (several jobs
  creating a fresh database at the same moment race on its schema) and opens the
  parent run; jobs find the parent's id in a file in the sweep folder, which also
  works for jobs running on other machines that share the folder;
- on end it reads each job's `result.json`, summarises those runs (reused ones
  included) and attaches the summary to the parent.

Hydra's basic sweeper re-raises the first failed job *after* the batch and then
skips `on_multirun_end`, so jobs record their own failures and return normally
(see suite/cli.py); the exit status then comes from `SWEEP_STATUS`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from suite.config import ConfigError
from suite.sweep_plan import check_jobs, job_overrides

from suite.privacy import redact, redact_all
from suite.recovery import end_run, owner_tags, reap_dead_runs

# MLflow (suite.tracking, mlflow.*) is imported inside the functions that use it: Hydra loads this
# module for every run.py command, and a config typo should not wait ~1.2 s for MLflow's import.

log = logging.getLogger(__name__)

PARENT_FILE = "parent_run_id"
TOTAL_FILE = "jobs_total"
RESULT_FILE = "result.json"
# Keys that do not change what is trained, so they stay out of the resume hash.
NOT_HASHED = ("tracking", "threads", "run_name", "resume", "ladders", "rung", "hidden_by_cell", "sweep_name", "hydra")
# Set by the callback in the launching process; read by suite.cli for the exit status and Ctrl-C.
SWEEP_STATUS: dict[str, object] = {}


def config_hash(cfg: DictConfig, device_type: str) -> str:
    """A stable hash of everything that decides a run's result."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    kept = {k: v for k, v in resolved.items() if k not in NOT_HASHED}
    kept["device"] = device_type
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parent_run_id(sweep_dir: str | Path) -> str | None:
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


def _result_files(sweep_dir: str | Path) -> list[Path]:
    """One result.json per job that ran or was reused, in its job folder."""
    return sorted(Path(sweep_dir).glob(f"*/{RESULT_FILE}"))


def progress_text(sweep_dir: str | Path) -> str:
    """'37/108 jobs done', counted from the result files: right whichever worker asks."""
    done = len(_result_files(sweep_dir))
    total_file = Path(sweep_dir) / TOTAL_FILE
    total = total_file.read_text().strip() if total_file.exists() else "?"
    return f"{done}/{total} jobs done"


def job_results(sweep_dir: str | Path) -> list[dict]:
    """Every job's result.json under the sweep folder (one per job that ran or was reused)."""
    return [json.loads(p.read_text()) for p in _result_files(sweep_dir)]


def end_stopped_sweep(status: str, reason: str) -> int:
    """When the launching process stops early (Ctrl-C, a launcher error): the parent ends with
    `status` and the reason, and so do its children still RUNNING, if they ran on this machine.

    Jobs end their own run as KILLED when an interrupt reaches them, but a parallel launcher
    may stop its workers before they can; this catches those. Jobs on a cluster (submitit)
    run on without this process, so their runs are left to end themselves. Returns how many
    children ended with `status`.
    """
    parent, uri = SWEEP_STATUS.get("parent"), SWEEP_STATUS.get("uri")
    if not parent:
        return 0
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment_id = client.get_run(parent).info.experiment_id
    children = f"tags.mlflow.parentRunId = '{parent}'"
    if not SWEEP_STATUS.get("jobs_elsewhere"):
        for run in client.search_runs([experiment_id], max_results=5000,
                                      filter_string=f"{children} and attributes.status = 'RUNNING'"):
            end_run(client, run.info.run_id, status, reason)
    end_run(client, parent, status, reason)
    return len(client.search_runs([experiment_id], max_results=5000,
                                  filter_string=f"{children} and attributes.status = '{status}'"))


class SweepCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # Hydra would turn an exception here into a warning and train anyway, without a
        # parent run; a bad job config or a store we cannot reach must stop the sweep
        # before any training, with one line and nothing logged.
        try:
            jobs = job_overrides(config)
            if jobs is not None:
                started = time.perf_counter()
                check_jobs(config, jobs)
                log.info("checked %d job configs in %.1f s", len(jobs), time.perf_counter() - started)
            from suite.tracking import check_reachable, tracking_uri, uri_source

            uri = tracking_uri(config.tracking.uri)
            check_reachable(uri, uri_source(config.tracking.uri))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        try:
            self._open_parent(config, uri, None if jobs is None else len(jobs))
        except Exception as exc:
            print(f"error: cannot start the sweep's MLflow parent run: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            raise SystemExit(2) from exc

    def _open_parent(self, config: DictConfig, uri: str, total: int | None) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from suite.tracking import open_experiment

        client, experiment_id = open_experiment(uri, config.tracking.experiment)
        # Runs a hard-killed earlier sweep left RUNNING: end them, so they are trained again.
        reap_dead_runs(client, experiment_id)
        name = f"sweep-{config.get('sweep_name') or 'adhoc'}-{time.strftime('%Y%m%d-%H%M%S')}"
        overrides = list(config.hydra.overrides.task)
        run = client.create_run(experiment_id, run_name=name, tags=redact_all({
            "sweep": "parent", "sweep_dir": sweep_dir, "host": socket.gethostname(), **owner_tags(),
        }))
        # submitit's jobs run in processes (or on nodes) of their own, which outlive this one
        elsewhere = "submitit" in str(config.hydra.launcher.get("_target_", "")).lower()
        SWEEP_STATUS.update(parent=run.info.run_id, uri=uri, jobs_elsewhere=elsewhere)
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params else {}
        client.log_param(run.info.run_id, "overrides", redact(" ".join(overrides))[:6000] or "(none)")
        for key, value in params.items():
            client.log_param(run.info.run_id, f"sweep.{key}", redact(value)[:6000])
        (sweep_dir / PARENT_FILE).write_text(run.info.run_id)
        if total is not None:
            (sweep_dir / TOTAL_FILE).write_text(str(total))
        log.info("sweep %s: %s jobs, parent run %s in experiment '%s' (%s); outputs in %s", name,
                 total or "?", run.info.run_id, config.tracking.experiment, uri, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        # Hydra turns an exception raised here into a mere warning, so failures are
        # handled here: the parent never stays RUNNING, and the exit status says so.
        sweep_dir = Path(config.hydra.sweep.dir)
        parent = parent_run_id(sweep_dir)
        from suite.tracking import tracking_uri

        uri = tracking_uri(config.tracking.uri)
        status = "FAILED"
        try:
            self._summarise(config, sweep_dir, uri, parent)
            status = "FINISHED"
        except Exception as exc:
            log.exception("the sweep's summary failed")
            SWEEP_STATUS["summary_failed"] = 1
            SWEEP_STATUS["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            lost = sum(bool(r.get("tracking_lost")) for r in job_results(sweep_dir))
            if lost:
                SWEEP_STATUS.update(tracking_lost=lost, sweep_dir=str(sweep_dir))
            if parent:
                from mlflow.tracking import MlflowClient

                try:
                    MlflowClient(uri).set_terminated(parent, status)
                except Exception as exc:  # the server is gone: the parent stays RUNNING until reaped
                    log.error("cannot end the parent run %s: %s", parent, exc)

    def _summarise(self, config: DictConfig, sweep_dir: Path, uri: str, parent: str | None) -> None:
        import mlflow
        from mlflow.entities import Metric

        from suite import summary
        from suite.tracking import open_experiment

        client, experiment_id = open_experiment(uri, config.tracking.experiment)
        results = job_results(sweep_dir)
        run_ids = [r["run_id"] for r in results if r.get("run_id")]
        mlflow.set_tracking_uri(uri)
        runs = summary.runs_frame(summary.runs_by_id(experiment_id, run_ids))
        out = sweep_dir / "summary"
        text, paths = summary.summarise_runs(client, runs, out)
        no_run = [r for r in results if not r.get("run_id")]
        for r in no_run:
            text += f"\njob #{r.get('job', '?')} made no run: {r.get('error', '')}"
        print(text, flush=True)
        crashed = sum(r.get("outcome") == "crashed" for r in results) + len(no_run)
        reused = sum(bool(r.get("reused")) for r in results)
        if parent:
            for path in paths.values():
                client.log_artifact(parent, str(path), artifact_path="summary")
            now = int(time.time() * 1000)
            counts = {"jobs": len(results), "jobs_reused": reused, "jobs_crashed": crashed}
            client.log_batch(parent, metrics=[Metric(k, v, now, 0) for k, v in counts.items()])
        log.info("sweep summary in %s (%d jobs, %d reused, %d crashed)", out, len(results), reused, crashed)
        SWEEP_STATUS["crashed"] = crashed
