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
from mlflow.entities import Metric
from omegaconf import DictConfig, OmegaConf

from suite.tracking import open_experiment, tracking_uri

log = logging.getLogger(__name__)

PARENT_FILE = "parent_run_id"
TOTAL_FILE = "jobs_total"
RESULT_FILE = "result.json"
# Keys that do not change what is trained, so they stay out of the resume hash.
NOT_HASHED = ("tracking", "threads", "run_name", "resume", "ladders", "rung", "hidden_by_cell", "sweep_name", "hydra")
# Set by on_multirun_end in the launching process; read by suite.cli to pick the exit status.
SWEEP_STATUS: dict[str, int] = {}


def config_hash(cfg: DictConfig, device_type: str) -> str:
    """A stable hash of everything that decides a run's result."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    kept = {k: v for k, v in resolved.items() if k not in NOT_HASHED}
    kept["device"] = device_type
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parent_run_id(sweep_dir: str | Path) -> str | None:
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


def count_jobs(config: DictConfig) -> int | None:
    """How many jobs the basic sweeper will make of the YAML params and the command line."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = config.hydra.sweeper.get("params") or {}
        overrides = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
        batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(overrides), None)
        return len(batches[0])
    except Exception:  # another sweeper, or Hydra's internals moved: progress just shows no total
        return None


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


class SweepCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # Hydra would turn an exception here into a warning and train anyway, without a
        # parent run; a store we cannot open must stop the sweep before any training.
        try:
            self._open_parent(config)
        except Exception as exc:
            print(f"error: cannot start the sweep's MLflow parent run: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            raise SystemExit(2) from exc

    def _open_parent(self, config: DictConfig) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        uri = tracking_uri(config.tracking.uri)
        client, experiment_id = open_experiment(uri, config.tracking.experiment)
        name = f"sweep-{config.get('sweep_name') or 'adhoc'}-{time.strftime('%Y%m%d-%H%M%S')}"
        overrides = list(config.hydra.overrides.task)
        run = client.create_run(experiment_id, run_name=name, tags={
            "sweep": "parent", "sweep_dir": str(sweep_dir), "host": socket.gethostname(),
        })
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params else {}
        client.log_param(run.info.run_id, "overrides", " ".join(overrides)[:6000] or "(none)")
        for key, value in params.items():
            client.log_param(run.info.run_id, f"sweep.{key}", str(value)[:6000])
        (sweep_dir / PARENT_FILE).write_text(run.info.run_id)
        total = count_jobs(config)
        if total is not None:
            (sweep_dir / TOTAL_FILE).write_text(str(total))
        log.info("sweep %s: %s jobs, parent run %s in experiment '%s' (%s); outputs in %s", name,
                 total or "?", run.info.run_id, config.tracking.experiment, uri, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        # Hydra turns an exception raised here into a mere warning, so failures are
        # handled here: the parent never stays RUNNING, and the exit status says so.
        sweep_dir = Path(config.hydra.sweep.dir)
        parent = parent_run_id(sweep_dir)
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
            if parent:
                from mlflow.tracking import MlflowClient

                MlflowClient(uri).set_terminated(parent, status)

    def _summarise(self, config: DictConfig, sweep_dir: Path, uri: str, parent: str | None) -> None:
        import mlflow

        from suite import summary

        client, experiment_id = open_experiment(uri, config.tracking.experiment)
        results = job_results(sweep_dir)
        run_ids = [r["run_id"] for r in results if r.get("run_id")]
        mlflow.set_tracking_uri(uri)
        runs = summary.runs_frame(summary.runs_by_id(experiment_id, run_ids))
        points = summary.point_table(runs)
        histories = summary.fetch_histories(client, summary.representative_runs(runs))
        out = sweep_dir / "summary"
        paths = summary.write_summary(runs, out, histories, summary.fetch_profiles(client, runs, points))
        text = summary.format_text(points, runs)
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
