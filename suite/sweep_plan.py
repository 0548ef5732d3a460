"""A sweep's jobs, known before any of them runs: their overrides, their composed configs, and
the checks that stop a bad sweep before it creates anything.

The launching process runs these (suite.sweep's callback); the jobs themselves may run on
other nodes, so what depends on the machine that trains (CUDA, its cores) is left to them.
"""
from __future__ import annotations

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from suite.config import ConfigError, validate


def job_overrides(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, as the basic sweeper will make them of the YAML params and the command line."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        params = config.hydra.sweeper.get("params") or {}
        overrides = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
        batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(overrides), None)
        return [list(job) for job in batches[0]]
    except Exception:  # another sweeper, or Hydra's internals moved: no total, no checks up front
        return None


def job_composer(config: DictConfig):
    """A function: a job's overrides -> its config, composed as Hydra will compose it.

    Composing a config from the defaults tree takes ~0.1 s, a minute for a 500-job sweep; so
    each distinct choice of config groups (task=..., cell=...) is composed once, and each
    job's plain values (seed=..., rung=...) are applied to a copy, as Hydra itself applies them
    after composing.
    """
    import copy

    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

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


def check_jobs(config: DictConfig, jobs: list[list[str]]) -> None:
    """Check every job's config now, so a bad value in job #97 stops the sweep before job #0
    trains, with no parent run. Machine-dependent checks (CUDA, cores) are left to the jobs,
    which may run on other nodes."""
    from suite.cli import one_line
    from suite.job import build_task
    from suite.model import CellConfigError, build_model

    compose = job_composer(config)
    for number, overrides in enumerate(jobs):
        try:
            cfg = compose(overrides)
            with open_dict(cfg):
                del cfg["hydra"]
            validate(cfg, this_machine=False)
            task = build_task(cfg.task)
            # The cell's name, init recipe and knobs are checked at any size: a small one is enough.
            build_model(OmegaConf.to_container(cfg.cell, resolve=True), min(cfg.hidden, 8), task)
        except (ConfigError, CellConfigError, HydraException, OmegaConfBaseException) as exc:
            raise ConfigError(f"job #{number} ({' '.join(overrides)}): {one_line(exc)}") from None
