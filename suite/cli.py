"""The command line: Hydra composes the config, a job trains it, and this module alone prints
what went wrong and sets the exit status (suite/errors.py lists them). Any config mistake,
Hydra's or ours, is one line `error: key=value: what is allowed` with exit status 2.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import ConfigCompositionException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

# Only what composing and checking the config needs is imported up front (the schema registers
# itself in Hydra's ConfigStore): torch and MLflow (~2.5 s) load once the config is known good,
# so a typo is reported in under half a second.
from suite.config import CONF_DIR, validate
from suite.errors import (EXIT_CONFIG_ERROR, EXIT_INTERRUPTED, EXIT_JOBS_FAILED, EXIT_TRACKING_LOST, ConfigError,
                          JobStopped, SweepRefused, one_line, stop_now)
from suite.record import Artifact, Metric, Outcome, Result
from suite.sweeping.folder import SweepReport, parent_run_id, progress_text, write_result
from suite.tracking.links import browse_lines

# Where the sweep callback leaves its SweepReport (conf/config.yaml reads it into hydra.callbacks.sweep.report_to).
# An environment variable, not an override appended to argv: argparse rejects overrides placed after
# options such as `--cfg hydra --package hydra.launcher`.
REPORT_ENV = "RNN_SUITE_SWEEP_REPORT"
DEFAULT_SWEEP = "experiment=default"  # what `run.py -m` sweeps when the command line names no sweep
log = logging.getLogger(__name__)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> float | dict:
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return sweep_job(cfg, hydra_cfg)
    output_dir = hydra_cfg.runtime.output_dir
    try:
        validate(cfg)
        from suite.job import run_job

        result = run_job(cfg, output_dir=output_dir, progress=True)
    except (ConfigError, OmegaConfBaseException) as exc:  # the latter: a bad value met while resolving
        # Leave here, before Hydra wraps the error in its own multi-line report.
        exit_with(EXIT_CONFIG_ERROR, one_line(exc))
    if result.get(Result.TRACKING_LOST):
        exit_with(EXIT_TRACKING_LOST, f"the tracking server stopped answering during the run "
                  f"({result[Result.TRACKING_LOST]}); the result is kept in {output_dir}; once the server is back: "
                  f"python -m suite.reimport {output_dir}")
    print("\n".join(browse_lines(result[Result.TRACKING_URI], result[Result.EXPERIMENT_ID],
                                 run_id=result[Result.RUN_ID])), flush=True)
    return result.get(Metric.EVAL_LOSS_NORM, float("nan"))


def sweep_job(cfg: DictConfig, hydra_cfg) -> dict:
    """One job of a sweep, wherever the launcher runs it: its failure is recorded (in MLflow and
    in its result.json) and the rest of the sweep goes on. Returns its result (what result.json
    holds), which the launcher hands back to the sweeper (the horizon sweeper reads the outcome)."""
    output_dir, number = hydra_cfg.runtime.output_dir, hydra_cfg.job.num
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":  # exported by submitit's sbatch script
        end_run_when_slurm_stops_the_job()
    try:
        validate(cfg)
        from suite.job import run_job

        result = run_job(cfg, output_dir=output_dir, progress=False, sweeping=True,
                         parent_run_id=parent_run_id(hydra_cfg.sweep.dir))
    except (ConfigError, OmegaConfBaseException) as exc:
        result = {Result.RUN_ID: None, Result.OUTCOME: Outcome.CONFIG_ERROR, Result.ERROR: one_line(exc),
                  Result.JOB: number}
        write_result(output_dir, result)
        log.error("job #%s: %s", number, result[Result.ERROR])
        return result
    except (Exception, JobStopped) as exc:
        log.exception("job #%s (%s) crashed", number, cfg.run_name)
        result = {Result.RUN_ID: None, Result.OUTCOME: Outcome.CRASHED, Result.ERROR: f"{type(exc).__name__}: {exc}",
                  Result.JOB: number}
        if not (Path(output_dir) / Artifact.RESULT).exists():  # it crashed before its run was created
            write_result(output_dir, result)
        return result
    log.info("job #%s %s: %s · %s", number, cfg.run_name, result[Result.OUTCOME], progress_text(hydra_cfg.sweep.dir))
    return result


def exit_with(status: int, message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(status)


def end_run_when_slurm_stops_the_job() -> None:
    """A job SLURM stops ends its run KILLED, with the reason, instead of FAILED or left RUNNING.

    submitit ignores SIGTERM (it waits for SIGUSR2 to requeue), so SLURM's SIGKILL, KillWait
    seconds later, would leave the run RUNNING with no reason given. SIGUSR2, the time-limit
    warning `signal_delay_s` before --time, reaches submitit's handler, which requeues where it
    can (preemption) and otherwise raises UncompletedJobError: that one means KILLED too.
    """
    from submitit.core.utils import UncompletedJobError

    signal.signal(signal.SIGTERM, _stopped_by_slurm)
    submitits = signal.getsignal(signal.SIGUSR2)
    if not callable(submitits):
        return

    def time_limit_warning(signum, frame) -> None:
        try:
            submitits(signum, frame)
            return  # requeued
        except UncompletedJobError as exc:
            reason = f"SLURM's time-limit warning (SIGUSR2, signal_delay_s before --time): {exc}"
        stop_now(JobStopped(reason))

    signal.signal(signal.SIGUSR2, time_limit_warning)


def _stopped_by_slurm(signum, frame) -> None:
    # SLURM sends SIGTERM more than once (to the step's tasks, and again through srun): a second
    # one raised while the run is being ended would cut that short and lose the reason.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stop_now(JobStopped("SLURM stopped the job (SIGTERM: scancel, its time limit, or preemption); "
                        "the next sweep trains it again"))


def _interrupt(signum, frame) -> None:
    stop_now(KeyboardInterrupt(f"signal {signal.Signals(signum).name}"))


def main() -> None:
    # Let exceptions reach us instead of Hydra's multi-line report, unless the user asked for it.
    user_wants_trace = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    sys.argv[1:] = with_default_sweep(sys.argv[1:])
    handle, report_file = tempfile.mkstemp(prefix="rnn-suite-sweep-", suffix=".json")
    os.close(handle)
    os.environ[REPORT_ENV] = report_file
    # A scheduler stops a job with SIGTERM (SLURM at its time limit): end the runs as for Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ignored: a background job of a shell
        signal.signal(signal.SIGINT, _interrupt)  # Python's own handler can lose its KeyboardInterrupt (stop_now)
    try:
        launch(user_wants_trace, report_file)
    finally:
        Path(report_file).unlink(missing_ok=True)


def with_default_sweep(argv: list[str]) -> list[str]:
    """The command line Hydra gets: `-m` whose overrides sweep nothing (`-m device=cuda`,
    `-m hydra/launcher=slurm`, `-m hydra.sweep.dir=...`) runs the default sweep with them applied,
    as `-m` alone does; otherwise argv as given."""
    from suite.sweeping.hydra_internals import command_line

    args = command_line(argv)
    if args is None or not args.multirun or any((args.help, args.hydra_help, args.info, args.shell_completion,
                                                 args.experimental_rerun)):
        return argv
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except OverrideParseException:
        return argv  # Hydra reports it, in its own words
    if any(_names_a_sweep(override) for override in overrides):
        return argv
    at = _end_of(args.overrides, argv)
    return argv[:at] + [DEFAULT_SWEEP] + argv[at:]


def _end_of(overrides: list[str], argv: list[str]) -> int:
    """Where the overrides end in argv, or its end when there are none: argparse wants the overrides
    in one run (`a=1 --cfg hydra b=2` is refused), so an override added joins theirs."""
    n = len(overrides)
    starts = [i for i in range(len(argv) - n + 1) if n and argv[i:i + n] == overrides]
    return starts[-1] + n if starts else len(argv)


def _names_a_sweep(override: Override) -> bool:
    """A sweep value (`a,b`, range(), choice(), glob()), a preset, or a sweeper or its params chosen by hand
    (`hydra/sweeper=horizon` searches the lags of the config given)."""
    key = override.key_or_group
    return (override.is_sweep_override() or key in ("experiment", "hydra/sweeper")
            or key.startswith("hydra.sweeper.params"))


def launch(user_wants_trace: bool, report_file: str) -> None:
    """Run Hydra's app; turn what stopped it, and what the sweep reported, into a message and an exit status."""
    try:
        app()
    except SweepRefused as exc:
        exit_with(EXIT_CONFIG_ERROR, exc.message)
    except (ConfigCompositionException, OmegaConfBaseException) as exc:
        if user_wants_trace:
            raise
        exit_with(EXIT_CONFIG_ERROR, one_line(exc))
    except KeyboardInterrupt:
        # A second Ctrl-C must not cut the clean-up short and leave runs RUNNING.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(interrupted(SweepReport.load(report_file)), file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # The launcher itself failed (e.g. a SLURM job ended without a result): no parent left RUNNING.
        report = SweepReport.load(report_file)
        if not report.parent_run_id or user_wants_trace:
            raise
        from suite.sweeping.callback import end_stopped_sweep

        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500]
        end_stopped_sweep(report, "FAILED", f"the launcher stopped the sweep: {reason}")
        exit_with(EXIT_JOBS_FAILED, f"the launcher stopped the sweep ({reason}); its parent run "
                  f"{report.parent_run_id} is FAILED; summarise what finished with: "
                  f"python -m suite.summary --parent-run-id {report.parent_run_id}")
    sweep_ended(SweepReport.load(report_file))


def interrupted(report: SweepReport) -> str:
    """End an interrupted sweep's runs; the message saying what became of them."""
    message = "interrupted"
    if report.parent_run_id and not report.ended:
        from suite.sweeping.callback import end_stopped_sweep

        killed = end_stopped_sweep(report, "KILLED", "interrupted (Ctrl-C or SIGTERM)")
        message += (f": the sweep's parent run and {killed} run(s) are KILLED; run the same command again to "
                    "finish the sweep (finished runs are reused)")
    if report.jobs_elsewhere:
        message += "; jobs already submitted keep running: cancel them with your scheduler (e.g. scancel)"
    return message


def sweep_ended(report: SweepReport) -> None:
    """Print a finished sweep's summary; exit non-zero when any job needs attention."""
    if report.summary:
        print(report.summary, flush=True)
    if report.parent_run_id:
        print("\n".join(browse_lines(report.tracking_uri, report.experiment_id, report.parent_run_id)), flush=True)
    if report.tracking_lost:
        exit_with(EXIT_TRACKING_LOST, f"{report.tracking_lost} job(s) lost the tracking server; their results are "
                  f"in their output folders: python -m suite.reimport {report.sweep_dir}")
    if report.summary_error:
        exit_with(EXIT_JOBS_FAILED, f"the sweep's summary failed: {report.summary_error}")
    if report.crashed:
        exit_with(EXIT_JOBS_FAILED, f"{report.crashed} job(s) of the sweep crashed; see the summary")
