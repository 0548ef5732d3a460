"""Each modern family's knobs, typed, with their defaults (the only source of them: conf/cell/<name>.yaml
extends the dataclass through Hydra's ConfigStore, group `schema/cell`, as the classic cells do).

A family's dataclass names the torch module that implements it (`module`, "package.module:Class"),
imported only when a model is built. Why each default is what it is: the family's module, beside its
initialisation recipe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Optional

from suite.errors import ConfigError
from suite.model.chrono import check_bias

AUTO = "auto"


@dataclass
class FamilyKnobs:
    """What every family shares: the suite reads `name` and `layers` itself.

    The knobs are checked when the dataclass is made from a cell config (suite.model.cells.cell_config),
    before any torch module is built: a bad value is one ConfigError line naming the key."""

    name: str = ""
    layers: int = 1  # one recurrent layer, as the classic cells' default
    module: ClassVar[str] = ""  # "suite.families.<file>:<Class>"

    def __post_init__(self) -> None:
        _integer(self, "layers", 1)
        self.check()

    def check(self) -> None:
        """A family's own knob checks (ConfigError naming `cell.<key>=<value>`)."""

    def at_length(self, t_max: int) -> "FamilyKnobs":
        """These knobs for a task of input length t_max, any that follow the length (`auto`) resolved; the
        module is built from what this returns (suite.model.recurrent.build_model). Default: as they are."""
        return self

    def initialise(self, module, t_max: int) -> None:
        """What the family's constructor leaves to the task's length t_max, set on the built module (as the
        classic cells' recipes in suite/model/cells.py), after the whole model is built. Default: nothing."""


def _integer(knobs, key: str, low: int) -> None:
    value = getattr(knobs, key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"cell.{key}={value!r}: expected an integer >= {low}")


def _number(knobs, key: str) -> float:
    value = getattr(knobs, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"cell.{key}={value!r}: expected a finite number")
    return float(value)


def _flag(knobs, key: str) -> None:
    value = getattr(knobs, key)
    if not isinstance(value, bool):
        raise ConfigError(f"cell.{key}={value!r}: expected true or false")


@dataclass
class MinimalKnobs(FamilyKnobs):
    """What minGRU and minLSTM share: the form that trains, and the gates' bias at init."""

    # false: a loop over time | true: Heinsen's log-space scan over the sequence (the paper's training mode: on a
    # GPU). The same function; on CPU the loop is faster (minGRU 3.5-4.3x, minLSTM 2.4-3.2x at T = 50 to 1,000,
    # batch 64, hidden 64, 1 thread: benchmarks/family_scan.py), the scan's exp and logcumsumexp over every
    # element costing more than T small steps
    scan: bool = False
    # The bias b of the gates' keep side: at zero input a step keeps σ(b) of h_{t-1} (minGRU: b_z = -b;
    # minLSTM: b_f = b, b_i = -b, so f' = σ(b)). null: torch's default Linear init, as the paper's code (b ~ 0:
    # half of h_{t-1} kept a step, a memory of ~1.4 steps) | a number | chrono: b = log U(1, T - 1) per unit,
    # T the task's input length (Tallec & Ollivier 2018, as the LSTM's and GRU's recipes), time scales 2 to T.
    # null stays the default: the paper prescribes none and the leaderboard measures the families as published
    gate_bias: Any = None

    def check(self) -> None:
        _flag(self, "scan")
        check_bias("gate_bias", self.gate_bias)

    def initialise(self, module, t_max: int) -> None:
        if self.gate_bias is not None:
            module.init_keep_bias(self.gate_bias, t_max)


@dataclass
class MinGRUKnobs(MinimalKnobs):
    """minGRU (Feng et al. 2024): gates from x_t only, so it can be trained with a log-space parallel scan."""

    name: str = "mingru"
    module: ClassVar[str] = "suite.families.mingru:MinGRU"


@dataclass
class MinLSTMKnobs(MinimalKnobs):
    """minLSTM (Feng et al. 2024): normalised forget and input gates from x_t only, same scan as minGRU."""

    name: str = "minlstm"
    module: ClassVar[str] = "suite.families.minlstm:MinLSTM"


@dataclass
class LRUKnobs(FamilyKnobs):
    """LRU (Orvieto et al. 2023): a complex diagonal linear recurrence, λ initialised on a ring."""

    name: str = "lru"
    # null: N = hidden, so one number sizes the cell | an integer >= 1. The paper's runs take N of the order
    # of H (minimal-LRU's defaults: N = 128 with H = 256)
    state: Optional[int] = None
    # λ uniform on the ring r_min <= |λ| <= r_max: the paper's default ring is [0, 1]; its long-range settings
    # [0.9, 0.999] (sCIFAR) and [0.999, 0.9999] (PathX). Ours is [0.9, 0.999]: a time scale 1/(1 - |λ|) of
    # 10 to 1,000 steps, the suite's lags; on [0, 1] half the units forget within ~3 steps.
    r_min: float = 0.9
    # a number | auto: 1 - 1/T, T the task's input length: the paper sets the ring per task, r_max 0.999 on
    # sCIFAR's 1,024 steps and 0.9999 on PathX's 16,384 (as recalled: docs/cells.md), 1 - 1/T to a power of
    # ten. 0.999 stays the default: its time scales reach 1,000 steps, beyond the leaderboard's lags (<= 810)
    r_max: Any = 0.999
    # arg λ uniform on [0, max_phase]: the paper's default 2π (6.28); π/10 on PathX
    max_phase: float = 6.283185307179586
    # true: the paper's block, y -> GELU -> GLU plus a skip from the layer's input (a nonlinearity: one
    # LRU layer and the linear head would otherwise be a linear map of the inputs) | false: y_t itself
    glu: bool = True
    # false: a loop over time | true: a parallel scan over the sequence. The same function; on CPU the loop is
    # 1.7-2.4x faster at T = 50 to 1,000 (batch 64, hidden 64, 1 thread: benchmarks/family_scan.py)
    scan: bool = False
    module: ClassVar[str] = "suite.families.lru:LRU"

    def check(self) -> None:
        if self.state is not None:
            _integer(self, "state", 1)
        r_min = _number(self, "r_min")
        if not 0 <= r_min < 1:
            raise ConfigError(f"cell.r_min={self.r_min!r}: expected a number in [0, 1)")
        if self.r_max != AUTO:
            r_max = self.r_max
            if isinstance(r_max, bool) or not isinstance(r_max, (int, float)) or not 0 < r_max <= 1:
                raise ConfigError(f"cell.r_max={self.r_max!r}: expected a number in (0, 1] or 'auto'")
            if r_min >= r_max:
                raise ConfigError(f"cell.r_min={self.r_min!r}: must be below cell.r_max={self.r_max!r}")
        if not 0 < _number(self, "max_phase") <= 2 * math.pi:
            raise ConfigError(f"cell.max_phase={self.max_phase!r}: expected a number in (0, 2π]")
        _flag(self, "glu")
        _flag(self, "scan")

    def at_length(self, t_max: int) -> "LRUKnobs":
        if self.r_max != AUTO:
            return self
        r_max = 1 - 1 / t_max
        if r_max <= self.r_min:
            raise ConfigError(f"cell.r_max='auto': 1 - 1/T = {r_max:.4g} at the task's length T={t_max}, not above "
                              f"cell.r_min={self.r_min!r}; lower cell.r_min")
        return replace(self, r_max=r_max)


@dataclass
class S6Knobs(FamilyKnobs):
    """Mamba's selective SSM block (suite/families/s6.py); defaults are mamba_ssm's Mamba block's."""

    name: str = "s6"
    state_size: int = 16  # N, the SSM state per channel (mamba's d_state)
    expand: int = 2  # E: the block works at E x hidden channels inside (mamba's expand)
    conv_kernel: int = 4  # K, the depthwise causal convolution's width (mamba's d_conv)
    # Δ at init, log-uniform in [dt_min, dt_max]: memory time scales 1/Δ up to ~1,000 steps. No `auto`: Mamba
    # keeps this range at every length (docs/cells.md, "Δ and the sequence length")
    dt_min: float = 1e-3
    dt_max: float = 0.1
    dt_rank: Any = "auto"  # rank of Δ's projection: "auto" = ceil(hidden / 16), or an integer
    module: ClassVar[str] = "suite.families.s6:S6"

    def check(self) -> None:
        for key in ("state_size", "expand", "conv_kernel"):
            _integer(self, key, 1)
        if self.dt_rank != "auto":
            if isinstance(self.dt_rank, bool) or not isinstance(self.dt_rank, int) or self.dt_rank < 1:
                raise ConfigError(f"cell.dt_rank={self.dt_rank!r}: expected 'auto' or an integer >= 1")
        for key in ("dt_min", "dt_max"):
            if _number(self, key) <= 0:
                raise ConfigError(f"cell.{key}={getattr(self, key)!r}: expected a number > 0")
        if self.dt_min >= self.dt_max:
            raise ConfigError(f"cell.dt_min={self.dt_min!r}: expected below cell.dt_max={self.dt_max!r}")


EXPRNN_INITS = ("henaff", "cayley")


@dataclass
class ExpRNNKnobs(FamilyKnobs):
    """expRNN (suite/families/exprnn.py): an orthogonal recurrent matrix exp(A), A skew-symmetric."""

    name: str = "exprnn"
    # A's initial eigen-angles, as in the paper's code: henaff (uniform in (-π, π)) | cayley (in [0, π/2])
    init: str = "henaff"
    module: ClassVar[str] = "suite.families.exprnn:ExpRNN"

    def check(self) -> None:
        if self.init not in EXPRNN_INITS:
            raise ConfigError(f"cell.init={self.init!r}: expected one of {', '.join(EXPRNN_INITS)}")


#: cell name -> its knobs; suite.model.cells merges this into CELL_CONFIGS
FAMILY_KNOBS: dict[str, type[FamilyKnobs]] = {"mingru": MinGRUKnobs, "minlstm": MinLSTMKnobs, "lru": LRUKnobs,
                                              "s6": S6Knobs, "exprnn": ExpRNNKnobs}
