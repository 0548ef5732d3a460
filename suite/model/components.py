"""The task and the model a config describes, built with one-line errors.

A job builds them to train; a sweep's up-front check builds every job's (the model at a small
size) so that a bad value in job #97 stops the sweep before job #0 trains.
"""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from suite.model.construct import construct
from suite.errors import ConfigError
from tasks.base import Task, TaskConfigError


def config_source(group: str) -> str:
    """'task/my_task.yaml' for the option Hydra picked in `group` (for error messages)."""
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(group)
        if choice:
            return f"{group}/{choice}.yaml"
    return f"the {group} config"


def build_task(task_cfg: DictConfig) -> Task:
    """Instantiate the task config's `_target_`; a mistake in the config is one line naming the file and
    field, a bug in the task's class a ComponentBug with its traceback (suite/model/construct.py)."""
    source = config_source("task")
    for key in ("_target_", "name"):
        if key not in task_cfg:
            raise ConfigError(f"task.{key} is missing in {source}: every task config needs `_target_` "
                              "(a tasks.base.Task subclass) and `name`")
    task = construct("task", task_cfg, f" in {source}", config_errors=(TaskConfigError,))
    if not isinstance(task, Task):
        raise ConfigError(f"task._target_={task_cfg._target_!r} in {source}: {type(task).__name__} is not a subclass "
                          "of tasks.base.Task (the task contract)")
    return task


def model_for(cfg: DictConfig, task: Task, hidden: int | None = None):
    """The whole config's model for `task` (on the CPU), at `hidden` units if given, else cfg.hidden: its cell
    config resolved, then suite.model.recurrent.build_model."""
    from suite.model.recurrent import build_model  # torch: only once the config is known good

    return build_model(OmegaConf.to_container(cfg.cell, resolve=True), cfg.hidden if hidden is None else hidden, task)


# The name suite/training/configured.py (and two tests) import; it goes once they import model_for.
build_model = model_for
