"""The configuration schema and the checks that run before any training.

The dataclasses are registered in Hydra's ConfigStore and sit first in
`conf/config.yaml`'s defaults list, so Hydra rejects unknown keys and values of
the wrong type while composing. `validate` then checks ranges and cross-field
rules that a type cannot express, and `on_this_machine` what depends on the machine that
trains. All produce one-line errors (suite/errors.py). The cells' own knobs are typed in
suite/model/cells.py, registered here with the rest.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

import suite.model.cells  # noqa: F401  (registers conf/cell's schemas in the ConfigStore)
from suite.errors import ConfigError

if TYPE_CHECKING:
    import torch


CONF_DIR = Path(__file__).resolve().parent.parent / "conf"  # the suite's own configs (run.py's config_path)


def compose(*overrides: str):
    """The config run.py would train for these overrides, composed in this process with Hydra's compose API
    (the schema and resolvers of this module registered, as run.py has them)."""
    from hydra import compose as hydra_compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides))


@dataclass
class TrainConfig:
    steps: int = 2000  # optimiser updates: the budget, the same for every cell
    batch: int = 64  # sequences per update
    lr: float = 5e-3  # Adam learning rate
    clip: float = 1.0  # gradient-norm clipping (Pascanu et al. 2013); 0 disables it
    eval_every: int = 100  # steps between evaluations on the held-out set (with eval_growth: the first evaluation)
    # Evaluations on a geometric schedule: each at most this factor after the last (so the update at which a run
    # solves is known to that factor), from eval_every on, and at the budget. None: every eval_every steps.
    eval_growth: Optional[float] = None
    eval_size: int = 1000  # sequences in the fixed held-out evaluation set
    early_stop: bool = True  # stop as soon as the held-out set meets the task's solved criterion
    # Stop (as failed) after this many evaluations in a row at the baseline (loss/baseline >= 0.95);
    # 0 = off, the default: a cell can sit at the baseline for long and then learn.
    stop_at_baseline_after: int = 0
    precision: str = "fp32"  # fp32 | bf16 (autocast for the forward pass: for GPUs; weights stay fp32)


@dataclass
class DiagnosticsConfig:
    """Gradient flow through time (suite/training/diagnostics.py), measured off the hot path."""

    every: int = 500  # steps between measurements, at the next evaluation point (and the last one); 0 = off
    batch: int = 128  # held-out sequences the gradient is averaged over


@dataclass
class TrackingConfig:
    # MLflow tracking URI. null: $MLFLOW_TRACKING_URI if set, else sqlite:///<project>/mlflow.db
    uri: Optional[str] = None
    experiment: str = "rnn-vs-lstm"


@dataclass
class FaultConfig:
    """Deliberate faults, to exercise the failure paths (tests, demos). Off by default."""

    kind: Optional[str] = None  # null | nan (the loss becomes NaN) | error (training raises) | stall (each step
    # sleeps 50 ms, so a job is still training when a test stops it, whatever the machine's speed); every run
    at_step: int = 1
    # {run-name glob: kind}, only for these runs: ++fault.runs={rnn-memory-T5-h8-s0:error}
    runs: Dict[str, Optional[str]] = field(default_factory=dict)


@dataclass
class SweepConfig:
    """Sweep-only keys: none of them changes what a run trains (suite/record.NOT_TRAINED_KEYS)."""

    name: Optional[str] = None  # the preset's name: the parent run's name and the SLURM job name
    # each task's ladder of lags, and the rung (index) a job trains at; see conf/experiment/base/ladder.yaml
    ladders: Dict[str, List[int]] = field(default_factory=dict)
    rung: Optional[int] = None
    hidden_by_cell: Dict[str, int] = field(default_factory=dict)  # param-matched sweeps: hidden per cell
    lr_by_cell: Dict[str, float] = field(default_factory=dict)  # each cell at its own rate (experiment=fair_budget)
    # each task's cells at their own rates (experiment=leaderboard: the rates.yaml of experiment=rate_screen's summary)
    lr_by_task: Dict[str, Dict[str, float]] = field(default_factory=dict)
    # horizon searches: round 0's lags by the kind of device that trains (${device_kind:${device}})
    ladder_by_device: Dict[str, List[int]] = field(default_factory=dict)
    cap_by_device: Dict[str, int] = field(default_factory=dict)  # and the longest lag they may extend to


@dataclass
class Config:
    task: Any = MISSING  # a conf/task/*.yaml: `_target_` names a tasks.base.Task subclass
    cell: Any = MISSING  # a conf/cell/*.yaml
    # The task's input length knob T (copy's input is T + 2 n_copy long). How far the task's information travels
    # is the task's own lag (tasks.base.Task.lag): T-1 for memory, T+n_copy for copy, between T-T//2 and T-1 for
    # adding, between T-int(0.2T) and T-1-int(0.1T) for temporal order.
    seq_len: int = 50
    hidden: int = 64  # hidden units per layer
    seed: int = 0  # seeds the weights and the (task, split) data generators
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # torch intra-op threads; null = torch's own count. 1 by measurement (benchmarks/threads.py): with one
    # busy process beside it, 2 threads ran 1.9-4.5x slower than 1, for small and large models alike.
    threads: Optional[int] = 1
    run_name: str = MISSING
    resume: bool = True  # in a sweep, reuse a FINISHED run with the same config instead of retraining
    sweep: SweepConfig = field(default_factory=SweepConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    fault: FaultConfig = field(default_factory=FaultConfig)


ConfigStore.instance().store(name="schema", node=Config)


def _pick(ladder, rung):
    """`${pick:${sweep.ladders.memory},2}`: the lag at one rung of a task's ladder (experiment files use it)."""
    rung = int(rung)
    if not 0 <= rung < len(ladder):
        raise ConfigError(f"sweep.rung={rung}: this task's ladder {list(ladder)} has rungs 0..{len(ladder) - 1}")
    return ladder[rung]


def _device_kind(device: str) -> str:
    """`${device_kind:${device}}`: 'cuda' for cuda and cuda:N, else 'cpu' (auto, as the launching
    process cannot know what the jobs' machines have): a preset's choices by device use it."""
    return "cuda" if str(device).startswith("cuda") else "cpu"


def _matched_hidden(reference: str, reference_hidden, *, _root_) -> int:
    """`hidden: ${matched_hidden:lstm,64}`: the hidden size at which this job's cell has as many weights
    as an LSTM at 64 units on this job's task (suite/families/sizing.py), computed per job since the
    match depends on the task's inputs. Builds the task (torch): read only by configs that use it."""
    from suite.model.components import build_task
    from suite.families.sizing import matched_hidden

    asked = f"hidden=${{matched_hidden:{reference},{reference_hidden}}}"
    if reference not in ("rnn", "lstm", "gru"):  # a reference whose default knobs the suite itself fixes
        raise ConfigError(f"{asked}: the reference cell is rnn, lstm or gru, not {reference!r}")
    cell = OmegaConf.to_container(_root_.cell, resolve=True)
    try:
        return matched_hidden(cell, reference, int(reference_hidden), build_task(_root_.task).input_size)
    except ConfigError as exc:
        raise ConfigError(f"{asked}: {exc}") from None


OmegaConf.register_new_resolver("pick", _pick, replace=True)
OmegaConf.register_new_resolver("device_kind", _device_kind, replace=True)
OmegaConf.register_new_resolver("matched_hidden", _matched_hidden, replace=True)

FAULTS = (None, "nan", "error", "stall")


def _require(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: {allowed}")


def resolve_device(name: str) -> "torch.device":
    """`auto` picks CUDA when present. Asking for CUDA without it is a config error."""
    import torch  # here, not at the top: a config error is reported before torch's ~1.3 s import

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r}: expected auto, cpu, cuda or cuda:N") from None
    _require(device.type in ("cpu", "cuda"), "device", name, "expected auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        _require(torch.cuda.is_available(), "device", name, "CUDA is not available on this machine; use cpu or auto")
        index = device.index or 0
        count = torch.cuda.device_count()
        _require(index < count, "device", name, f"this machine has {count} CUDA device(s)")
    return device


def _check_known_keys(cfg) -> None:
    """Hydra lets `+key=value` add keys the schema lacks; a typo there would be silently ignored."""
    for prefix, node, schema in (("", cfg, Config), ("train.", cfg.train, TrainConfig), ("sweep.", cfg.sweep, SweepConfig),
                                 ("tracking.", cfg.tracking, TrackingConfig), ("fault.", cfg.fault, FaultConfig),
                                 ("diagnostics.", cfg.diagnostics, DiagnosticsConfig)):
        known = {f.name for f in fields(schema)}
        for key in node:
            _require(key in known, f"{prefix}{key}", node[key],
                     f"unknown key; known keys: {', '.join(sorted(known))}")


# Upper bounds catch typos (an extra zero or two) before hours of compute, not real limits of the code.
MAX_SEQ_LEN, MAX_HIDDEN, MAX_BATCH, MAX_STEPS = 100_000, 16_384, 65_536, 10_000_000
URI_SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "file", "databricks")


def _int_in(cfg_value, key: str, low: int, high: int) -> None:
    _require(low <= cfg_value <= high, key, cfg_value, f"expected an integer from {low:,} to {high:,}")


def validate(cfg) -> None:
    """Range and cross-field checks; raises ConfigError naming the first bad key.

    Nothing here depends on the machine that trains (CUDA present, its cores: see
    `on_this_machine`), so a sweep checks every job's config in the launching process, which
    may be a cluster's login node without the GPUs its jobs will get.
    """
    _check_known_keys(cfg)
    _int_in(cfg.seq_len, "seq_len", 2, MAX_SEQ_LEN)
    _int_in(cfg.hidden, "hidden", 1, MAX_HIDDEN)
    _require(cfg.seed >= 0, "seed", cfg.seed, "expected an integer >= 0")
    _require(cfg.threads is None or cfg.threads >= 1, "threads", cfg.threads, "expected null or an integer >= 1")
    t = cfg.train
    _int_in(t.steps, "train.steps", 1, MAX_STEPS)
    _int_in(t.batch, "train.batch", 1, MAX_BATCH)
    _require(math.isfinite(t.lr) and 0 < t.lr <= 1, "train.lr", t.lr, "expected a number in (0, 1]")
    _require(math.isfinite(t.clip) and t.clip >= 0, "train.clip", t.clip, "expected a number >= 0 (0 disables)")
    _int_in(t.eval_every, "train.eval_every", 1, MAX_STEPS)
    _require(t.eval_growth is None or (math.isfinite(t.eval_growth) and 1 < t.eval_growth <= 10), "train.eval_growth",
             t.eval_growth, "expected null (every train.eval_every steps) or a factor in (1, 10]")
    _int_in(t.eval_size, "train.eval_size", 1, 1_000_000)
    _int_in(t.stop_at_baseline_after, "train.stop_at_baseline_after", 0, MAX_STEPS)
    _require(t.precision in ("fp32", "bf16"), "train.precision", t.precision, "expected fp32 or bf16")
    d = cfg.diagnostics
    _require(d.every >= 0, "diagnostics.every", d.every, "expected an integer >= 0 (0 = off)")
    _int_in(d.batch, "diagnostics.batch", 1, MAX_BATCH)
    _require(bool(cfg.tracking.experiment.strip()), "tracking.experiment", cfg.tracking.experiment,
             "expected a non-empty name")
    uri = cfg.tracking.uri
    scheme = uri.split("://", 1)[0].split("+", 1)[0] if uri and "://" in uri else None
    _require(uri is None or scheme in URI_SCHEMES or uri == "databricks", "tracking.uri", uri,
             f"expected a URI with one of the schemes {', '.join(URI_SCHEMES)}, such as "
             "sqlite:////abs/path/mlflow.db or http://127.0.0.1:5000")
    for key, kind in [("fault.kind", cfg.fault.kind)] + [(f"fault.runs.{k}", v) for k, v in cfg.fault.runs.items()]:
        _require(kind in FAULTS, key, kind, "expected null, nan, error or stall")
    _require(cfg.fault.at_step >= 1, "fault.at_step", cfg.fault.at_step, "expected an integer >= 1")
    for cell, size in cfg.sweep.hidden_by_cell.items():
        _int_in(size, f"sweep.hidden_by_cell.{cell}", 1, MAX_HIDDEN)
    rates = [(f"sweep.lr_by_cell.{cell}", lr) for cell, lr in cfg.sweep.lr_by_cell.items()]
    rates += [(f"sweep.lr_by_task.{task}.{cell}", lr) for task, cells in cfg.sweep.lr_by_task.items()
              for cell, lr in cells.items()]
    for key, lr in rates:
        _require(math.isfinite(lr) and lr > 0, key, lr, "expected a positive number")
    _require("name" in cfg.cell, "cell.name", None, "every cell config needs it (see conf/cell/)")
    _require(cfg.device == "auto" or cfg.device.split(":")[0] in ("cpu", "cuda"), "device", cfg.device,
             "expected auto, cpu, cuda or cuda:N")


def on_this_machine(cfg) -> "torch.device":
    """The checks that depend on the machine that trains; the device to train on."""
    if cfg.threads is not None:
        cores = os.cpu_count() or 1
        _require(cfg.threads <= cores, "threads", cfg.threads, f"this machine has {cores} cores")
    return resolve_device(cfg.device)


def flatten(cfg: dict) -> dict[str, object]:
    """{'train': {'lr': 0.002}} -> {'train.lr': 0.002}: a resolved config as MLflow params. Lists stay whole and
    an empty mapping gives no key; values come back as Python's own types (to_dict's records box numpy's)."""
    import pandas as pd  # here: this module loads at the CLI's start, and pandas (with numpy) takes ~0.5 s

    return pd.json_normalize(cfg, sep=".").to_dict(orient="records")[0]
