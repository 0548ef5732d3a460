"""The command line: Hydra composes the config, `run_job` does the work, and any
config mistake (Hydra's or ours) is printed as one line with exit status 2."""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

# Only what composing and checking the config needs is imported up front (the schema registers
# itself in Hydra's ConfigStore): torch and MLflow (~2.5 s) load once the config is known good,
# so a typo is reported in under half a second.
from suite.config import ConfigError, validate

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"

EXIT_CONFIG_ERROR = 2  # a bad config value, or no tracking store to log to: nothing was trained
EXIT_JOBS_FAILED = 3  # a sweep ran, but some job crashed or its summary failed (see the summary)
EXIT_TRACKING_LOST = 4  # trained, but the tracking server went away: the result waits in the output folder
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the runs in progress are KILLED (the shell's convention, 128+2)
log = logging.getLogger(__name__)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def app(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    output_dir = hydra_cfg.runtime.output_dir
    try:
        validate(cfg)  # again in run_job; here first, before the heavy imports below
        from suite.job import run_job
        from suite.sweep import parent_run_id, progress_text

        result = run_job(cfg, output_dir=output_dir, progress=not sweeping, sweeping=sweeping,
                         parent_run_id=parent_run_id(hydra_cfg.sweep.dir) if sweeping else None)
    except (ConfigError, OmegaConfBaseException) as exc:  # the latter: a bad value met while resolving
        message = one_line(exc)
        if not sweeping:
            # Leave here, before Hydra wraps the error in its own multi-line report.
            exit_with(message)
        from suite.job import write_result

        write_result(output_dir, {"run_id": None, "outcome": "config_error", "error": message,
                                  "job": hydra_cfg.job.num})
        log.error("job #%s: %s", hydra_cfg.job.num, message)
        return float("nan")
    except Exception:
        if not sweeping:
            raise
        # Recorded as FAILED in MLflow and in result.json; the rest of the sweep goes on.
        log.exception("job #%s (%s) crashed", hydra_cfg.job.num, cfg.run_name)
        return float("nan")
    if sweeping:
        log.info("job #%s %s: %s · %s", hydra_cfg.job.num, cfg.run_name, result["outcome"],
                 progress_text(hydra_cfg.sweep.dir))
    elif result.get("tracking_lost"):
        print(f"error: the tracking server stopped answering during the run ({result['tracking_lost']}); "
              f"the result is kept in {output_dir}; once the server is back: python -m suite.reimport {output_dir}",
              file=sys.stderr)
        sys.exit(EXIT_TRACKING_LOST)
    return result.get("eval_loss_norm", float("nan"))


def sweep_status() -> dict:
    """What the sweep callback recorded (empty for a single run: suite.sweep was never loaded)."""
    sweep = sys.modules.get("suite.sweep")
    return sweep.SWEEP_STATUS if sweep is not None else {}


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def exit_with(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_CONFIG_ERROR)


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages, folded to one line naming key and value."""
    if isinstance(exc, ConfigError):
        return str(exc)
    resolver_error = "ConfigError raised while resolving interpolation: "
    if str(exc).startswith(resolver_error):  # raised by one of our resolvers (e.g. `pick`)
        return str(exc)[len(resolver_error):].splitlines()[0]
    if isinstance(exc, MissingConfigException) and exc.options is not None and exc.missing_cfg_file:
        group, _, choice = exc.missing_cfg_file.rpartition("/")
        return f"{group}={choice!r}: unknown {group}; choose one of {', '.join(sorted(exc.options))}"
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else None
    if cause is not None and getattr(cause, "full_key", None):
        reason = str(cause).splitlines()[0]
        override = str(exc).splitlines()[0]
        return f"{cause.full_key}: {reason} ({override})"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines[:3])


def main() -> None:
    # Let exceptions reach us instead of Hydra's multi-line report, unless the user asked for it.
    user_wants_trace = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if sys.argv[1:] in (["-m"], ["--multirun"]):
        sys.argv.append("experiment=default")  # `run.py -m` alone runs the default sweep
    # A scheduler stops a job with SIGTERM (SLURM at its time limit): end the runs as for Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        app()
    except (ConfigCompositionException, OmegaConfBaseException) as exc:
        if user_wants_trace:
            raise
        exit_with(one_line(exc))
    except KeyboardInterrupt:
        # A second Ctrl-C must not cut the clean-up short and leave runs RUNNING.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        status = sweep_status()
        message = "interrupted"
        if status.get("parent"):
            killed = sys.modules["suite.sweep"].end_stopped_sweep("KILLED", "interrupted (Ctrl-C or SIGTERM)")
            message += (f": the sweep's parent run and {killed} run(s) are KILLED; run the same command again to "
                        "finish the sweep (finished runs are reused)")
        if status.get("jobs_elsewhere"):
            message += "; jobs already submitted keep running: cancel them with your scheduler (e.g. scancel)"
        print(message, file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # The launcher itself failed (e.g. a SLURM job ended without a result): no parent left RUNNING.
        parent = sweep_status().get("parent")
        if not parent or user_wants_trace:
            raise
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500]
        sys.modules["suite.sweep"].end_stopped_sweep("FAILED", f"the launcher stopped the sweep: {reason}")
        print(f"error: the launcher stopped the sweep ({reason}); its parent run {parent} is FAILED; summarise "
              f"what finished with: python -m suite.summary --parent-run-id {parent}", file=sys.stderr)
        sys.exit(EXIT_JOBS_FAILED)
    status = sweep_status()
    if status.get("tracking_lost"):
        print(f"error: {status['tracking_lost']} job(s) lost the tracking server; their results are in "
              f"their output folders: python -m suite.reimport {status.get('sweep_dir', '<sweep dir>')}",
              file=sys.stderr)
        sys.exit(EXIT_TRACKING_LOST)
    if status.get("summary_failed"):
        print(f"error: the sweep's summary failed: {status['error']}", file=sys.stderr)
        sys.exit(EXIT_JOBS_FAILED)
    if status.get("crashed"):
        print(f"error: {status['crashed']} job(s) of the sweep crashed; see the summary", file=sys.stderr)
        sys.exit(EXIT_JOBS_FAILED)
