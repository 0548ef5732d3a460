"""What the suite needs from Hydra that Hydra has no public API for, in one place.

A sweep is checked in the launching process before any job starts, which needs each job's
overrides (as the basic sweeper will split them) and each job's composed config (as the
launcher will compose it). Hydra builds both inside its sweeper and launcher plugins; these
functions call the same internals. tests/test_hydra_internals.py fails loudly if they move.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
HORIZON_SWEEPER = "hydra_plugins.horizon_sweeper.horizon_sweeper.HorizonSweeper"


@dataclass(frozen=True)
class Planned:
    """The jobs a sweep will run that are known before it starts; complete=False when the sweeper
    adds more as it goes (the horizon search: these are its round 0)."""

    jobs: list[list[str]]
    complete: bool


def grid(params, arguments: list[str]) -> list[list[str]]:
    """The product of a sweeper's YAML params and the command line's overrides, one list per job,
    as the basic sweeper splits them."""
    overrides = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
    batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(overrides), None)
    return [list(job) for job in batches[0]]


def default_choice(config: DictConfig, group: str) -> str | None:
    """The config group's choice in the primary config (`task` -> 'memory')."""
    return config.hydra.runtime.choices.get(group)


def planned_jobs(config: DictConfig) -> Planned | None:
    """The jobs known up front under the basic sweeper (all) and the horizon sweeper (round 0);
    None under another sweeper."""
    sweeper = config.hydra.sweeper
    if sweeper.get("_target_") not in (BASIC_SWEEPER, HORIZON_SWEEPER):
        return None  # another sweeper's params may use sweep syntax the basic sweeper cannot split
    jobs = grid(sweeper.get("params"), config.hydra.overrides.task)
    if sweeper.get("_target_") == BASIC_SWEEPER:
        return Planned(jobs, complete=True)
    from suite.horizon import Search, SearchSettings

    search = Search(jobs, SearchSettings.from_config(sweeper), default_choice(config, "task"))
    return Planned(search.first_round(), complete=False)


def job_composer(config: DictConfig):
    """A function: a job's overrides -> its config, composed as Hydra will compose it.

    Composing a config from the defaults tree takes ~0.1 s, a minute for a 500-job sweep; so
    each distinct choice of config groups (task=..., cell=...) is composed once, and each
    job's plain values (seed=..., sweep.rung=...) are applied to a copy, as Hydra itself
    applies them after composing.
    """
    loader = GlobalHydra.instance().config_loader()
    groups = set(loader.list_groups(""))
    parser = OverridesParser.create()
    composed: dict[tuple[str, ...], DictConfig] = {}

    def compose(overrides: list[str]) -> DictConfig:
        parsed = parser.parse_overrides(overrides)
        is_group = [o.key_or_group.split("/")[0] in groups for o in parsed]
        choice = tuple(text for text, group in zip(overrides, is_group) if group)
        if choice not in composed:
            composed[choice] = loader.load_sweep_config(config, list(choice))
        cfg = copy.deepcopy(composed[choice])
        ConfigLoaderImpl._apply_overrides_to_config([o for o, g in zip(parsed, is_group) if not g], cfg)
        return cfg

    return compose


def locate(path: str):
    """The object a dotted `_target_` names, imported as Hydra's instantiate would (ImportError if it
    cannot be; hydra.utils.get_class would also log the error, which breaks a one-line message)."""
    from hydra._internal.utils import _locate

    return _locate(path)
