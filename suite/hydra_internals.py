"""What the suite needs from Hydra that Hydra has no public API for, in one place.

A sweep is checked in the launching process before any job starts, which needs each job's
overrides (as the basic sweeper will split them) and each job's composed config (as the
launcher will compose it). Hydra builds both inside its sweeper and launcher plugins; these
functions call the same internals. tests/test_hydra_internals.py fails loudly if they move.
"""
from __future__ import annotations

import copy

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def job_overrides(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, as the basic sweeper will make them of the YAML params and the command
    line; None under another sweeper (its jobs are not known up front)."""
    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    params = config.hydra.sweeper.get("params") or {}
    overrides = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(overrides), None)
    return [list(job) for job in batches[0]]


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
