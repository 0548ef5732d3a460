"""A gate bias knob and its chrono recipe (Tallec & Ollivier 2018), one definition for every cell that has one:
the LSTM's forget and GRU's update biases (suite/model/cells.py) and minGRU's and minLSTM's keep-side bias
(suite/families). The check runs when a config is composed, so this module imports torch only to draw."""
from __future__ import annotations

import math

from suite.errors import ConfigError

CHRONO = "chrono"


def check_bias(key: str, value) -> None:
    """null (torch's default), a finite number, or chrono; else a one-line ConfigError naming cell.<key>."""
    if value is None or value == CHRONO:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"cell.{key}={value!r}: expected a number, 'chrono' or null (torch's default)")


def bias_values(value, hidden: int, t_max: int):
    """One layer's bias for a gate: `value` in every unit, or chrono's b ~ log U(1, t_max - 1) per unit (a time
    scale of the order of the task's length), drawn from torch's global generator."""
    import torch

    if value == CHRONO:
        return torch.log(torch.empty(hidden).uniform_(1.0, max(t_max - 1.0, 1.0 + 1e-6)))
    return torch.full((hidden,), float(value))
