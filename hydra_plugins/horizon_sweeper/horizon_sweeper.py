"""A Hydra sweeper that estimates each group's memory horizon (T50) adaptively (suite/horizon/search.py).

Each round's jobs go to the configured launcher in one batch, as the basic sweeper's do, so
the search runs on any launcher (joblib, submitit, SLURM). A job's outcome comes back as its
return value (suite/cli.py's sweep_job returns its result); a job that raised counts as
crashed. Job numbers run on across rounds, so every job keeps its own folder, and a search
that is run again trains only what its store lacks (finished runs are reused by config hash,
and the same outcomes lead to the same next lags).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from suite.sweeping.hydra_internals import default_choice, grid
from suite.record import Outcome, Result
from suite.sweeping.folder import write_total

if TYPE_CHECKING:
    from suite.horizon.search import Search

log = logging.getLogger(__name__)


class HorizonSweeper(Sweeper):
    def __init__(self, params: Optional[Dict[str, str]] = None, **settings: Any) -> None:
        # The search (numpy, scipy: ~0.6 s) is imported when a sweeper is made, not when Hydra scans its plugins
        from suite.horizon.settings import SearchSettings

        super().__init__()
        self.params = params or {}
        self.settings = SearchSettings.from_config(settings)
        self.hydra_context: Optional[HydraContext] = None
        self.config: Optional[DictConfig] = None
        self.launcher = None
        self.search: Optional[Search] = None  # the last search, its outcomes and why each group stopped
        self.valid = None  # a job's overrides -> whether its config builds; None: suite.sweeping.plan's check

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: List[str]) -> List[Sequence[JobReturn]]:
        from suite.horizon.search import Search

        assert self.config is not None and self.launcher is not None
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        search = self.search = Search(grid(self.params, arguments), self.settings, default_choice(self.config, "task"),
                                      valid=self.valid or self._valid())
        batch, returns, launched = search.first_round(), [], 0
        while batch:
            self.validate_batch_is_legal(batch)
            write_total(sweep_dir, launched + len(batch))  # the jobs' progress lines count against it
            log.info("horizon search, round %d: %d jobs", search.rounds, len(batch))
            results = self.launcher.launch(batch, initial_job_idx=launched)
            for overrides, result in zip(batch, results):
                search.record(list(overrides), outcome_of(result))
            launched += len(batch)
            returns.append(results)
            batch = search.next_round()
        log.info("horizon search done: %d jobs in %d rounds\n  %s", launched, search.rounds + 1,
                 "\n  ".join(search.report()))
        return returns

    def _valid(self):
        """Whether a job's config composes, validates and builds: the search extends no group below its task's
        shortest valid length (selective copy needs seq_len >= n_copy)."""
        from suite.sweeping.plan import job_checker  # torch and the tasks: imported when a search runs, not at discovery

        check = job_checker(self.config)
        return lambda overrides: check(overrides) is None


def outcome_of(result: JobReturn) -> str:
    """A job's outcome from what it returned; a job that raised, or returned something else, crashed."""
    if result.status != JobStatus.COMPLETED:
        return Outcome.CRASHED
    value = result.return_value
    return value.get(Result.OUTCOME, Outcome.CRASHED) if isinstance(value, dict) else Outcome.CRASHED
