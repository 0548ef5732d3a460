"""The recurrent model: one recurrent module (tanh RNN, LSTM, GRU, a modern family of suite/families, or a
custom cell) plus a linear head.

The fused modules (`nn.RNN`, `nn.LSTM`, `nn.GRU`) are used so the fast cuDNN /
oneDNN kernels run. Each cell's initialisation is configurable because, at long
lags, the initialisation rather than the architecture decides the outcome within
a fixed budget (docs/cells.md, "The cells and their initialisation"; the measurements: docs/results.md).
"""
from __future__ import annotations

import torch
from torch import nn

from suite.model.cells import cell_config
from suite.errors import ConfigError
from suite.model.explicit import ExplicitGRU, ExplicitLSTM, ExplicitRNN
from suite.families.knobs import FAMILY_KNOBS, FamilyKnobs

CELLS = {
    "rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU,  # fused kernels: the default, fast path
    "rnn_explicit": ExplicitRNN, "lstm_explicit": ExplicitLSTM, "gru_explicit": ExplicitGRU,  # readable, slow
}


class RecurrentModel(nn.Module):
    """A recurrent module and a linear head.

    `rnn` may be any module with torch's recurrent interface (a custom cell, see
    `custom_cell`): batch_first `forward(x, state=None) -> (outputs (batch, T, hidden), state)`.
    Without it, `cell` picks one of CELLS.
    """

    def __init__(self, cell: str, input_size: int, hidden: int, output_size: int, layers: int = 1,
                 last_only: bool = False, rnn: nn.Module | None = None):
        super().__init__()
        if rnn is None and cell not in CELLS:
            raise ConfigError(f"cell.name={cell!r}: unknown cell; known cells: {', '.join(CELLS)} "
                              "(or give a custom cell with cell._target_)")
        kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.cell = cell
        #: rnn | lstm | gru, whichever implementation (the init recipes and diagnostics go by it)
        self.kind = cell.removesuffix("_explicit")
        self.rnn = rnn if rnn is not None else CELLS[cell](input_size, hidden, num_layers=layers, batch_first=True,
                                                           **kwargs)
        self.head = nn.Linear(hidden, output_size)
        # Tasks scored at the last step only need the head there: skip T-1 matmuls.
        self.last_only = last_only

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(x)
        if self.last_only:
            states = states[:, -1]
        return self.head(states)


# Keys of a cell config that the suite reads itself; a custom cell gets all the others.
SUITE_CELL_KEYS = ("_target_", "name", "layers")


def custom_cell(cell_cfg: dict, input_size: int, hidden: int) -> nn.Module:
    """Instantiate `cell._target_` with torch's recurrent arguments plus its own config keys; a mistake in
    the config is one line, a bug in the cell's class a ComponentBug with its traceback."""
    from suite.model.construct import construct

    own = {k: v for k, v in cell_cfg.items() if k not in SUITE_CELL_KEYS}
    target = cell_cfg["_target_"]
    module = construct("cell", {"_target_": target, **own}, input_size=input_size, hidden_size=hidden,
                       num_layers=cell_cfg.get("layers", 1), batch_first=True)
    if not isinstance(module, nn.Module):
        raise ConfigError(f"cell._target_={target!r}: expected a torch.nn.Module, got {type(module).__name__}")
    return module


def build_model(cell_cfg: dict, hidden: int, task) -> RecurrentModel:
    """The model for a cell config: a built-in cell, its knobs typed in suite/model/cells.py (defaults
    for any not given) and initialised by its recipe; or a custom cell (`_target_`), which
    initialises itself and is checked against the recurrent interface (suite/model/contract.py)."""
    sizes = {"input_size": task.input_size, "hidden": hidden, "output_size": task.output_size,
             "last_only": task.loss_at == "last"}
    if "_target_" in cell_cfg:
        from suite.model.contract import check_contract

        rnn = custom_cell(cell_cfg, task.input_size, hidden)
        # before any run exists (and, in a sweep, before any job trains): a broken rule is one line
        check_contract(rnn, f"cell._target_={cell_cfg['_target_']!r}", task.input_size, hidden,
                       cell_cfg.get("layers", 1))
        return RecurrentModel(cell_cfg["name"], layers=cell_cfg.get("layers", 1), **sizes, rnn=rnn)
    name = cell_cfg["name"]
    if name not in CELLS and name not in FAMILY_KNOBS:
        raise ConfigError(f"cell.name={name!r}: unknown cell; known cells: {', '.join([*CELLS, *FAMILY_KNOBS])} "
                          "(or give a custom cell with cell._target_)")
    spec = cell_config(name.removesuffix("_explicit"), cell_cfg)
    rnn = None
    if isinstance(spec, FamilyKnobs):  # a modern family (suite/families): its module initialises itself, from
        spec = spec.at_length(task.length)  # its knobs, those that follow the task's length resolved (auto)
        rnn = _import(spec.module)(task.input_size, hidden, spec)
    model = RecurrentModel(name, layers=spec.layers, **sizes, rnn=rnn)
    spec.initialise(model.rnn, t_max=task.length)  # a family: what its constructor leaves to the length (chrono)
    return model


def _import(path: str):
    """"package.module:Class" -> the class."""
    import importlib

    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
