"""A sweep's jobs, checked before any of them runs, so a bad value in job #97 stops the sweep
before job #0 trains, with no parent run. The launching process runs this; the jobs may run
on other nodes, so what depends on the machine that trains (CUDA, its cores) is left to them.
"""
from __future__ import annotations

from hydra.errors import HydraException
from omegaconf import DictConfig, open_dict
from omegaconf.errors import OmegaConfBaseException

from suite.model.components import build_task, model_for
from suite.config import validate
from suite.errors import ConfigError, one_line
from suite.sweeping.hydra_internals import job_composer

CHECK_HIDDEN = 8  # a cell's name, init recipe and knobs are checked at any size: a small one is enough


def job_checker(config: DictConfig):
    """A function: a job's overrides -> None when its config composes, validates and builds, else the reason
    in one line. One composer for every call (suite.sweeping.hydra_internals.job_composer caches the groups)."""
    compose = job_composer(config)

    def check(overrides: list[str]) -> str | None:
        try:
            cfg = compose(overrides)
            with open_dict(cfg):
                del cfg["hydra"]
            validate(cfg)
            model_for(cfg, build_task(cfg.task), hidden=min(cfg.hidden, CHECK_HIDDEN))
        except (ConfigError, HydraException, OmegaConfBaseException) as exc:
            return one_line(exc)
        return None
    return check


def check_jobs(config: DictConfig, jobs: list[list[str]]) -> None:
    """Compose and check every job's config; the first bad one raises ConfigError naming the job."""
    check = job_checker(config)
    for number, overrides in enumerate(jobs):
        if (reason := check(overrides)) is not None:
            raise ConfigError(f"job #{number} ({' '.join(overrides)}): {reason}")
