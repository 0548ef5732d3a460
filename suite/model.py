"""The recurrent model: one torch recurrent module (tanh RNN, LSTM or GRU) plus a linear head.

The fused modules (`nn.RNN`, `nn.LSTM`, `nn.GRU`) are used so the fast cuDNN /
oneDNN kernels run. Each cell's initialisation is configurable because, at long
lags, the initialisation rather than the architecture decides the outcome within
a fixed budget (see README, "Initialisation").
"""
from __future__ import annotations

import math

import torch
from torch import nn

from suite.explicit import ExplicitGRU, ExplicitLSTM, ExplicitRNN

CELLS = {
    "rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU,  # fused kernels: the default, fast path
    "rnn_explicit": ExplicitRNN, "lstm_explicit": ExplicitLSTM, "gru_explicit": ExplicitGRU,  # readable, slow
}
# Gate blocks in torch's stacked bias vectors, in torch's order.
LSTM_GATES = ("input", "forget", "cell", "output")
GRU_GATES = ("reset", "update", "new")


class CellConfigError(ValueError):
    """A cell knob has a bad value. The message names the key and the value."""


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
            raise CellConfigError(f"cell.name={cell!r}: unknown cell; known cells: {', '.join(CELLS)} "
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


def _gate_bias_init(model: RecurrentModel, gate: int, value, t_max: int, negate: int | None = None):
    """Set one gate's bias in every layer: a constant, or chrono initialisation.

    torch keeps two bias vectors (b_ih and b_hh) that are summed; we put the whole
    value in b_ih and zero the gate's part of b_hh, so the effective bias is `value`.
    Chrono (Tallec & Ollivier 2018): b ~ log U(1, t_max - 1), and optionally the
    `negate` gate (the LSTM's input gate) gets -b, so that memory is kept for a
    characteristic time of the order of the lag.
    """
    hidden = model.rnn.hidden_size
    block = slice(gate * hidden, (gate + 1) * hidden)
    with torch.no_grad():
        for layer in range(model.rnn.num_layers):
            b_ih = getattr(model.rnn, f"bias_ih_l{layer}")
            b_hh = getattr(model.rnn, f"bias_hh_l{layer}")
            if value == "chrono":
                bias = torch.log(torch.empty(hidden).uniform_(1.0, max(t_max - 1.0, 1.0 + 1e-6)))
            else:
                bias = torch.full((hidden,), float(value))
            b_ih[block] = bias
            b_hh[block] = 0.0
            if negate is not None:
                other = slice(negate * hidden, (negate + 1) * hidden)
                b_ih[other] = -bias
                b_hh[other] = 0.0


def _check_bias_value(key: str, value):
    if value is None or value == "chrono":
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CellConfigError(f"cell.{key}={value!r}: expected a number, 'chrono' or null (torch's default)")


def initialise(model: RecurrentModel, cell_cfg: dict, t_max: int) -> None:
    """Apply the cell's initialisation recipe from its config.

    rnn:  recurrent_init: default | orthogonal (the hidden-to-hidden matrix)
    lstm: forget_bias: null | <number> | chrono  (chrono also sets input bias = -forget bias)
    gru:  update_bias: null | <number> | chrono
    """
    if model.kind == "rnn":
        init = cell_cfg.get("recurrent_init", "default")
        if init not in ("default", "orthogonal"):
            raise CellConfigError(f"cell.recurrent_init={init!r}: expected 'default' or 'orthogonal'")
        if init == "orthogonal":
            with torch.no_grad():
                for layer in range(model.rnn.num_layers):
                    nn.init.orthogonal_(getattr(model.rnn, f"weight_hh_l{layer}"))
    elif model.kind == "lstm":
        value = cell_cfg.get("forget_bias")
        _check_bias_value("forget_bias", value)
        if value is not None:
            negate = LSTM_GATES.index("input") if value == "chrono" else None
            _gate_bias_init(model, LSTM_GATES.index("forget"), value, t_max, negate)
    elif model.kind == "gru":
        value = cell_cfg.get("update_bias")
        _check_bias_value("update_bias", value)
        if value is not None:
            _gate_bias_init(model, GRU_GATES.index("update"), value, t_max)


# Keys of a cell config that the suite reads itself; a custom cell gets all the others.
SUITE_CELL_KEYS = ("_target_", "name", "layers")


def custom_cell(cell_cfg: dict, input_size: int, hidden: int) -> nn.Module:
    """Instantiate `cell._target_` with torch's recurrent arguments plus its own config keys."""
    from hydra.utils import instantiate

    own = {k: v for k, v in cell_cfg.items() if k not in SUITE_CELL_KEYS}
    target = cell_cfg["_target_"]
    try:
        module = instantiate({"_target_": target, **own}, input_size=input_size, hidden_size=hidden,
                             num_layers=cell_cfg.get("layers", 1), batch_first=True)
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise CellConfigError(f"cell._target_={target!r}: {type(cause).__name__}: {cause}".splitlines()[0]) from None
    if not isinstance(module, nn.Module):
        raise CellConfigError(f"cell._target_={target!r}: expected a torch.nn.Module, got {type(module).__name__}")
    return module


def build_model(cell_cfg: dict, hidden: int, task) -> RecurrentModel:
    custom = "_target_" in cell_cfg
    model = RecurrentModel(
        cell=cell_cfg["name"],
        input_size=task.input_size,
        hidden=hidden,
        output_size=task.output_size,
        layers=cell_cfg.get("layers", 1),
        last_only=task.loss_at == "last",
        rnn=custom_cell(cell_cfg, task.input_size, hidden) if custom else None,
    )
    if not custom:  # a custom cell initialises itself
        initialise(model, cell_cfg, t_max=task.length)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
