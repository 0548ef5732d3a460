"""Each modern family's knobs, typed, with their defaults (the only source of them: conf/cell/<name>.yaml
extends the dataclass through Hydra's ConfigStore, group `schema/cell`, as the classic cells do).

A family's dataclass names the torch module that implements it (`module`, "package.module:Class"),
imported only when a model is built. Why each default is what it is: the family's module, beside its
initialisation recipe.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from suite.errors import ConfigError


@dataclass
class FamilyKnobs:
    """What every family shares: the suite reads `name` and `layers` itself."""

    name: str = ""
    layers: int = 1  # one recurrent layer, as the classic cells' default
    module: ClassVar[str] = ""  # "suite.families.<file>:<Class>"


#: cell name -> its knobs; suite.cells merges this into CELL_CONFIGS
FAMILY_KNOBS: dict[str, type[FamilyKnobs]] = {}


def _int_knob(key: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"cell.{key}={value!r}: expected an integer >= {minimum}")


@dataclass
class S6Knobs(FamilyKnobs):
    """Mamba's selective SSM block (suite/families/s6.py); defaults are mamba_ssm's Mamba block's."""

    name: str = "s6"
    state_size: int = 16  # N, the SSM state per channel (mamba's d_state)
    expand: int = 2  # E: the block works at E x hidden channels inside (mamba's expand)
    conv_kernel: int = 4  # K, the depthwise causal convolution's width (mamba's d_conv)
    dt_min: float = 1e-3  # Δ at init, log-uniform in [dt_min, dt_max]: memory time scales 1/Δ up to ~1,000 steps
    dt_max: float = 0.1
    dt_rank: Any = "auto"  # rank of Δ's projection: "auto" = ceil(hidden / 16), or an integer
    module: ClassVar[str] = "suite.families.s6:S6"

    def check(self) -> None:
        """One line naming the key and the value for a knob out of range."""
        _int_knob("layers", self.layers, 1)
        _int_knob("state_size", self.state_size, 1)
        _int_knob("expand", self.expand, 1)
        _int_knob("conv_kernel", self.conv_kernel, 1)
        if self.dt_rank != "auto":
            if isinstance(self.dt_rank, bool) or not isinstance(self.dt_rank, int) or self.dt_rank < 1:
                raise ConfigError(f"cell.dt_rank={self.dt_rank!r}: expected 'auto' or an integer >= 1")
        for key in ("dt_min", "dt_max"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf):
                raise ConfigError(f"cell.{key}={value!r}: expected a number > 0")
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
        _int_knob("layers", self.layers, 1)
        if self.init not in EXPRNN_INITS:
            raise ConfigError(f"cell.init={self.init!r}: expected one of {', '.join(EXPRNN_INITS)}")


FAMILY_KNOBS.update({"s6": S6Knobs, "exprnn": ExpRNNKnobs})
