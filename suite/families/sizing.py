"""Matching parameter counts: the size at which a cell has about as many weights as another.

What is counted: the recurrent module's parameters, `model.rnn` as suite.model.recurrent.build_model builds it
(the cell and what belongs to it: the LRU's encoder and blocks), not the linear head, whose size
hidden × outputs + outputs follows from the hidden size alone. For example, on the memory task
(16 inputs) the LSTM at hidden 64 has 4H(I + H) + 8H = 20,992.

How: build the cell for a candidate size on torch's meta device (shapes, no memory, no arithmetic)
and count, bisecting on the size. No formula per cell, so any cell build_model knows (the classic
three, every family in suite/families, a custom `_target_` cell) is matched without edits here;
the one assumption is that the count does not decrease as the size grows.
"""
from __future__ import annotations

import json
from bisect import bisect_left
from functools import lru_cache
from types import SimpleNamespace

from suite.errors import ConfigError

TOLERANCE = 0.05  # a match is within ±5% of the target
MAX_SIZE = 16_384  # suite.config.MAX_HIDDEN (not imported: that module pulls in Hydra's schemas)


def recurrent_parameters(cell_cfg: dict, hidden: int, input_size: int) -> int:
    """The number of weights in the recurrent module of `cell_cfg` at `hidden` units, for `input_size` inputs."""
    import torch

    from suite.model.recurrent import build_model

    # what build_model reads of a task; the output size and length change the head and the init, not the count
    # (a length long enough that every knob that follows it resolves: cell.r_max=auto needs 1 - 1/T > r_min)
    task = SimpleNamespace(input_size=input_size, output_size=1, loss_at="last", length=1_000_000)
    try:
        with torch.device("meta"):
            model = build_model(dict(cell_cfg), hidden, task)
    except (NotImplementedError, RuntimeError):  # an init that reads values (.item()): build it for real
        model = build_model(dict(cell_cfg), hidden, task)
    return sum(p.numel() for p in model.rnn.parameters())


def matching_size(cell_cfg: dict, target: int, input_size: int, key: str = "hidden", hidden: int | None = None,
                  tolerance: float = TOLERANCE, high: int = MAX_SIZE) -> int:
    """The value of `key` (the hidden size, or a size knob of the cell such as the LRU's `state`, at
    `hidden` units) whose recurrent module's count is nearest `target`; a ConfigError if even that
    one is off by more than `tolerance` (a fraction of the target)."""
    if key != "hidden" and hidden is None:
        raise ValueError(f"matching cell.{key} needs the hidden size it is matched at")

    def count(size: int) -> int:
        if key == "hidden":
            return recurrent_parameters(cell_cfg, size, input_size)
        return recurrent_parameters({**cell_cfg, key: size}, hidden, input_size)

    top = high
    if count(top) >= target:  # the smallest size reaching the target: it or the one below is the nearest
        top = 1 + bisect_left(range(1, high), True, key=lambda size: count(size) >= target)
    best = min({max(top - 1, 1), top}, key=lambda size: abs(count(size) - target))
    found = count(best)
    name = cell_cfg.get("name", cell_cfg.get("_target_", "?"))
    if abs(found - target) > tolerance * target:
        where = "hidden" if key == "hidden" else f"cell.{key}"
        raise ConfigError(f"cell.name={name!r}: no {where} from 1 to {high:,} gives {target:,} parameters "
                          f"within ±{tolerance:.0%} (nearest: {where}={best}, {found:,})")
    return best


def hidden_by_cell(cells: list[str], reference: str = "lstm", reference_hidden: int = 64,
                   input_size: int = 16) -> dict[str, int]:
    """{cell: hidden} matching `reference` at `reference_hidden` (default cells' knobs): a value for
    sweep.hidden_by_cell. The default input size is the memory task's (8 symbols + 8 distractors)."""
    return {cell: matched_hidden({"name": cell}, reference, reference_hidden, input_size) for cell in cells}


def matched_hidden(cell_cfg: dict, reference: str, reference_hidden: int, input_size: int) -> int:
    """The hidden size at which `cell_cfg` (its knobs as given) has the weights of the `reference` cell at
    `reference_hidden` units, for a task of `input_size` inputs: one job's size in a matched sweep.
    Per job, because the match depends on the task: minGRU's weights are input projections only, so
    against the LSTM at h=64 it gets 617 units on the memory task (16 inputs) and 2,901 on adding (2)."""
    return _matched(json.dumps(cell_cfg, sort_keys=True), reference, int(reference_hidden), int(input_size))


@lru_cache(maxsize=512)  # a config resolves its hidden size each time it is read: bisect once per cell and task
def _matched(cell_json: str, reference: str, reference_hidden: int, input_size: int) -> int:
    target = recurrent_parameters({"name": reference}, reference_hidden, input_size)
    return matching_size(json.loads(cell_json), target, input_size)
