"""Sweeps: one MLflow parent run per `run.py -m`, and the summary at its end.

Hydra calls `SweepCallback` in the launching process, before any job starts and after the
last one ends, whatever launcher runs the jobs (basic, joblib, submitit):
- on start it checks every job's config, creates the store and the experiment once (several
  jobs creating a fresh SQLite database at the same moment race on its schema), ends runs a
  hard-killed earlier sweep left RUNNING, and opens the parent run; jobs find the parent's id
  in the sweep folder (suite/sweeping/folder.py), which also works for jobs on other machines;
- on end it reads each job's result.json, summarises those runs (reused ones included) and
  attaches the summary to the parent.
It leaves a SweepReport where suite/cli.py asked (`report_to`); the CLI prints and sets the
exit status from it, and ends the parent with `end_stopped_sweep` when the sweep is stopped.

Hydra's basic sweeper re-raises the first failed job *after* the batch and then skips
`on_multirun_end`, so jobs record their own failures and return normally (suite/cli.py).

Hydra loads this module for every run.py command: the heavy imports (torch through the job
checks, MLflow) are made inside the methods, so a config typo is reported at once.
"""
from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from suite.errors import ComponentBug, ConfigError, SweepRefused
from suite.record import SWEEP_PARENT, Artifact, Metric, Outcome, Param, Result, Tag
from suite.sweeping.folder import SweepReport, job_results, write_parent
from suite.sweeping.overrides import varied_keys

log = logging.getLogger(__name__)

class SweepCallback(Callback):
    def __init__(self, report_to: str | None = None):
        self.report_to = report_to
        self.report = SweepReport()
        self.parent = None  # the parent run's RunLogger, in the launching process

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # Hydra would turn an Exception here into a warning and train anyway, without a parent
        # run; SweepRefused (a BaseException) stops the sweep before any training.
        from suite.sweeping.hydra_internals import planned_jobs
        from suite.sweeping.plan import check_jobs
        from suite.tracking.store import check_reachable, tracking_uri, uri_source

        try:
            planned = planned_jobs(config)
            if planned is not None:
                started = time.perf_counter()
                check_jobs(config, planned.jobs)
                log.info("checked %d job configs in %.1f s", len(planned.jobs), time.perf_counter() - started)
            uri = tracking_uri(config.tracking.uri)
            check_reachable(uri, uri_source(config.tracking.uri))
        except ConfigError as exc:
            raise SweepRefused(str(exc)) from None
        except ComponentBug as exc:  # a task's or cell's own code raised: its traceback, then the one line
            log.exception("building a job's task or cell raised")
            raise SweepRefused(str(exc)) from None
        try:
            self._open_parent(config, uri, planned)
        except Exception as exc:
            raise SweepRefused(f"cannot start the sweep's MLflow parent run: {type(exc).__name__}: {exc}") from exc

    def _open_parent(self, config: DictConfig, uri: str, planned) -> None:
        from suite.sweeping.hydra_internals import swept_overrides
        from suite.tracking.owners import reap_dead_runs
        from suite.tracking.run_logger import start_run

        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        total = len(planned.jobs) if planned is not None and planned.complete else None
        varied = (varied_keys(planned.jobs) if planned is not None
                  else [o.key_or_group for o in swept_overrides(config) if o.is_sweep_override()])
        name = parent_name(config.sweep.name, varied, total)
        self.parent = start_run(uri, config.tracking.experiment, name, {
            Tag.SWEEP: SWEEP_PARENT, Tag.SWEEP_DIR: sweep_dir, Tag.HOST: socket.gethostname(),
            Tag.NOTE: f"Sweep in progress: {total or 'an adaptive number of'} jobs; its verdicts appear here when it ends."})
        self.parent.log_params(parent_params(config))
        # Runs a hard-killed earlier sweep left RUNNING: end them, so they are trained again (the new
        # parent's owner, this process, is alive: it stays).
        reap_dead_runs(self.parent.client, self.parent.experiment_id)
        write_parent(sweep_dir, self.parent.run_id, total)
        # submitit's jobs run in processes (or on nodes) of their own, which outlive this one
        elsewhere = "submitit" in str(config.hydra.launcher.get("_target_", "")).lower()
        self.report = SweepReport(parent_run_id=self.parent.run_id, tracking_uri=uri, sweep_dir=str(sweep_dir),
                                  experiment_id=self.parent.experiment_id, jobs_elsewhere=elsewhere)
        self.report.save(self.report_to)
        log.info("sweep %s: %s jobs, parent run %s in experiment '%s' (%s); outputs in %s", name, total or "?",
                 self.parent.run_id, config.tracking.experiment, uri, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        # Hydra turns an exception raised here into a mere warning, so failures are handled
        # here: the parent never stays RUNNING, and the report says what went wrong.
        report = self.report
        results = job_results(report.sweep_dir)
        report.jobs = len(results)
        report.reused = sum(bool(r.get(Result.REUSED)) for r in results)
        report.retrained = sum(bool(r.get(Result.CODE_CHANGED)) for r in results)
        report.crashed = sum(r.get(Result.OUTCOME) == Outcome.CRASHED or not r.get(Result.RUN_ID) for r in results)
        report.tracking_lost = sum(bool(r.get(Result.TRACKING_LOST)) for r in results)
        status, error = "FAILED", None
        try:
            self._summarise(config, results)
            status = "FINISHED"
        except KeyboardInterrupt:  # Ctrl-C while summarising: the jobs are done, the sweep was stopped
            status, error = "KILLED", "interrupted (Ctrl-C or SIGTERM) while summarising"
            raise
        except Exception as exc:
            log.exception("the sweep's summary failed")
            report.summary_error = error = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                self.parent.end(status, error)
            except Exception as exc:  # the server is gone: the parent stays RUNNING until reaped
                log.error("cannot end the parent run %s: %s", report.parent_run_id, exc)
            report.ended = True
            report.save(self.report_to)

    def _summarise(self, config: DictConfig, results: list[dict]) -> None:
        from suite.summary.from_store import summarise_sweep

        report = self.report
        out = Path(report.sweep_dir) / Artifact.SUMMARY_DIR
        summary = summarise_sweep(report.tracking_uri, report.experiment_id,
                                  [r[Result.RUN_ID] for r in results if r.get(Result.RUN_ID)], out)
        no_run = [f"job #{r.get(Result.JOB, '?')} made no run: {r.get(Result.ERROR, '')}"
                  for r in results if not r.get(Result.RUN_ID)]
        no_run += retrained_lines(results)
        report.summary = "\n".join([summary.text, *no_run])
        for path in summary.paths.values():
            self.parent.log_artifact(path, Artifact.SUMMARY_DIR)
        # What the UI shows of the sweep on the parent's own page: the verdicts, no clicks away.
        self.parent.set_tags({Tag.NOTE: description(summary, no_run),
                              **{f"{Tag.VERDICT_PREFIX}{task}": line for task, line in summary.verdicts.items()}})
        outcomes = summary.outcomes
        self.parent.log_metrics(0, {
            Metric.JOBS: report.jobs, Metric.JOBS_REUSED: report.reused, Metric.JOBS_CRASHED: report.crashed,
            Metric.RUNS_SOLVED: outcomes.get(Outcome.SOLVED, 0), Metric.RUNS_FAILED: outcomes.get(Outcome.FAILED, 0),
            Metric.RUNS_DIVERGED: outcomes.get(Outcome.DIVERGED, 0), **summary.t50})
        log.info("sweep summary in %s (%d jobs, %d reused, %d trained again on changed code, %d crashed)", out,
                 report.jobs, report.reused, report.retrained, report.crashed)


def retrained_lines(results: list[dict]) -> list[str]:
    """'3 job(s) not reused, trained again: their finished runs were trained by other code (suite.training.loop)'."""
    changed = [r[Result.CODE_CHANGED] for r in results if r.get(Result.CODE_CHANGED)]
    if not changed:
        return []
    modules = sorted({m for c in changed for m in c})
    return [f"{len(changed)} job(s) not reused, trained again: their finished runs were trained by other code "
            f"({', '.join(modules)})"]


def parent_params(config: DictConfig) -> dict[str, str]:
    """The parent run's params, from the overrides the sweeper splits into its jobs: the command line's
    overrides, and `swept.<key>` for each swept key with the values the jobs ran (not the preset's
    values where the command line replaced them)."""
    from suite.sweeping.hydra_internals import swept_values

    return {Param.OVERRIDES: " ".join(config.hydra.overrides.task) or "(none)",
            **{f"{Param.SWEPT_PREFIX}{k}": v for k, v in swept_values(config).items()}}


def parent_name(preset: str | None, swept: list[str], total: int | None) -> str:
    """What the sweep varied, for the runs table: `default: task×cell×sweep.rung×seed, 108 jobs (11-27 15:20)`;
    `..., adaptive` when the sweeper decides the jobs as it goes."""
    what = "×".join(swept) or "one job"
    count = f"{total} jobs" if total is not None else "adaptive"
    return f"{preset or 'adhoc'}: {what}, {count} ({time.strftime('%m-%d %H:%M')})"


def description(summary, no_run: list[str]) -> str:
    """The parent's description: the verdicts first (the UI shows a description's first lines), then
    the summary's markdown, cut at a section within MLflow's tag limit."""
    from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

    verdicts = "".join(f"- **{task}**: {line}\n" for task, line in summary.verdicts.items())
    text = f"**Verdicts**\n\n{verdicts}\n{summary.markdown}" + "".join(f"\n- {line}" for line in no_run)
    if len(text) <= MAX_TAG_VAL_LENGTH:
        return text
    more = f"\n\n… the rest: Artifacts → {Artifact.SUMMARY_DIR}/summary.md"
    cut = text.rfind("\n## ", 0, MAX_TAG_VAL_LENGTH - len(more))
    return text[: cut if cut > 0 else MAX_TAG_VAL_LENGTH - len(more)] + more


def end_stopped_sweep(report: SweepReport, status: str, reason: str) -> int:
    """When the launching process stops early (Ctrl-C, a launcher error): the parent ends with
    `status` and the reason, and so do its children still RUNNING, if they ran on this machine.

    Jobs end their own run as KILLED when an interrupt reaches them, but a parallel launcher
    may stop its workers before they can; this catches those. Jobs on a cluster (submitit)
    run on without this process, so their runs are left to end themselves. Returns how many
    children ended with `status`.
    """
    from suite.tracking.queries import children_with_status, end_run
    from suite.tracking.store import client_for

    parent, experiment_id = report.parent_run_id, report.experiment_id
    if not parent:
        return 0
    client = client_for(report.tracking_uri)
    if not report.jobs_elsewhere:
        for run in children_with_status(client, experiment_id, parent, "RUNNING"):
            end_run(client, run.info.run_id, status, reason)
    end_run(client, parent, status, reason)
    return len(children_with_status(client, experiment_id, parent, status))
