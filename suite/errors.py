"""Errors the suite reports to the user, their exit statuses, folding any config error to the one
line the user sees (`key=value: what is allowed`), and the stop a signal asked for (stop_now).
Only suite/cli.py prints and exits.
"""
from __future__ import annotations

from typing import NoReturn

from hydra.errors import MissingConfigException
from omegaconf.errors import OmegaConfBaseException

EXIT_OK = 0
EXIT_CONFIG_ERROR = 2  # a bad config value, or no tracking store to log to: nothing was trained
EXIT_JOBS_FAILED = 3  # a sweep ran, but some job crashed or its summary failed (see the summary)
EXIT_TRACKING_LOST = 4  # trained, but the tracking server went away: the result waits in the output folder
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the runs in progress are KILLED (the shell's convention, 128+2)


class ConfigError(ValueError):
    """A bad config value, reported as one line: `key=value: what is allowed`."""


class ComponentBug(Exception):
    """A task's or cell's own code raised while it was being built: a bug in that class, not in the
    config. Not a ConfigError, so its traceback (chained to the original exception) is shown."""


class JobStopped(BaseException):
    """The scheduler is ending this job (SLURM's SIGTERM: scancel, its time limit, preemption).

    Raised from a signal handler, anywhere in training or logging: a BaseException, so that no
    library's `except Exception` (MLflow wraps its store's errors so) turns it into another error.
    The job's run ends KILLED with this reason, and the job then returns like any crashed job, so
    the rest of the sweep and its summary go on.
    """


# What a signal asked this process to raise (JobStopped, or KeyboardInterrupt for Ctrl-C and SIGTERM);
# the process is ending, so it stays asked for.
_stop_asked: BaseException | None = None


def stop_now(exc: BaseException) -> NoReturn:
    """Raise `exc` from a signal handler, and keep it for `raise_stop_if_asked`.

    Python drops an exception that a signal handler raises while a finalizer or a weakref callback
    runs (it prints "Exception ignored in ..."), and garbage collection runs those anywhere:
    SQLAlchemy's registries have them. Seen: 2 of 15 processes sent SIGTERM while logging to SQLite
    in a loop went on logging. So the training loop and the twin's wait ask again at every step.
    """
    global _stop_asked
    _stop_asked = exc
    raise exc


def raise_stop_if_asked() -> None:
    """Raise the stop a signal asked for, if one did (see stop_now)."""
    if _stop_asked is not None:
        raise _stop_asked.with_traceback(None)


class SweepRefused(BaseException):
    """A sweep stopped before it created anything (a bad job config, no tracking store).

    A BaseException because Hydra turns an Exception raised in a callback into a warning
    and starts the jobs anyway; this one reaches suite/cli.py, which prints it and exits 2.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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
