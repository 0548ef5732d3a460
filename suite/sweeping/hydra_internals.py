"""What the suite needs from Hydra that Hydra has no public API for, in one place.

A sweep is checked in the launching process before any job starts, which needs each job's
overrides (as the basic sweeper will split them) and each job's composed config (as the
launcher will compose it), and the sweep's parent run records the values each swept key runs
with. Hydra builds these inside its sweeper and launcher plugins; these functions call the same
internals. tests/test_hydra_internals.py fails loudly if they move.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
HORIZON_SWEEPER = "hydra_plugins.horizon_sweeper.horizon_sweeper.HorizonSweeper"


@dataclass(frozen=True)
class Planned:
    """The jobs a sweep will run that are known before it starts; complete=False when the sweeper
    adds more as it goes (the horizon search: these are its round 0)."""

    jobs: list[list[str]]
    complete: bool


def sweep_overrides(params, arguments: list[str]) -> list[Override]:
    """A sweeper's YAML params followed by the command line's overrides, parsed as Hydra's sweepers
    parse them: where both name a key, the later one (the command line's) is the one that runs."""
    texts = [f"{k}={v}" for k, v in (params or {}).items()] + list(arguments)
    return OverridesParser.create().parse_overrides(texts)


def grid(params, arguments: list[str]) -> list[list[str]]:
    """The product of a sweeper's YAML params and the command line's overrides, one list per job,
    as the basic sweeper splits them."""
    batches = BasicSweeper.split_arguments(sweep_overrides(params, arguments), None)
    return [list(job) for job in batches[0]]


def swept_overrides(config: DictConfig) -> list[Override]:
    """The override each swept key runs with: for the keys of `hydra.sweeper.params` and those the
    command line gives sweep syntax (`lr=0.01,0.1`). Where the command line names a preset's key,
    sweep or one value, its override is the one the sweeper runs; the command line's other single
    values are not swept (the parent's `overrides` param lists them)."""
    params = config.hydra.sweeper.get("params") or {}
    parsed = sweep_overrides(params, config.hydra.overrides.task)
    in_preset = {o.get_key_element() for o in parsed[:len(params)]}
    last = {o.get_key_element(): o for o in parsed}  # keyed and ordered as the basic sweeper's split
    return [o for key, o in last.items() if key in in_preset or o.is_sweep_override()]


def swept_values(config: DictConfig) -> dict[str, str]:
    """Each swept key with its values as written: `seed` -> 'range(60,90)', `cell` -> 'rnn'."""
    return {o.key_or_group: o.get_value_string() for o in swept_overrides(config)}


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
    from suite.horizon.search import Search
    from suite.horizon.settings import SearchSettings

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


def command_line(argv: list[str]):
    """Hydra's own reading of run.py's command line (its argparse namespace: multirun, overrides, help, ...);
    None where Hydra will stop on it (a bad option, --version)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from hydra._internal.utils import get_args_parser

    try:  # argparse prints before it exits: Hydra prints the same once it reads argv itself
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            return get_args_parser().parse_args(argv)
    except SystemExit:
        return None
