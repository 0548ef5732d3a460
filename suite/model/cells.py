"""Each built-in cell's knobs, typed, with their defaults next to the initialisation recipe they
drive. These dataclasses are the only source of the defaults: conf/cell/*.yaml extend them
(Hydra's ConfigStore, group `schema/cell`), so the YAML and the code cannot disagree.

At long lags the initialisation, more than the architecture, decides the outcome within a
fixed budget (docs/results.md, "How the defaults were chosen"): torch's default init leaves the LSTM at chance from
T≈50 on the memory task, and the tanh RNN fails T=50 with a uniform recurrent matrix.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hydra.core.config_store import ConfigStore

from suite.errors import ConfigError
from suite.families.knobs import FAMILY_KNOBS
from suite.model.chrono import CHRONO, bias_values, check_bias

if TYPE_CHECKING:  # torch is imported where weights are set: composing a config must not wait for it
    from torch import nn

# Gate blocks in torch's stacked weights and biases, in torch's order.
LSTM_GATES = ("input", "forget", "cell", "output")
GRU_GATES = ("reset", "update", "new")


@dataclass
class RNNCell:
    """tanh RNN: h_t = tanh(W x_t + U h_{t-1} + b), torch.nn.RNN."""

    name: str = "rnn"
    layers: int = 1
    # default: torch's uniform U (fails the memory task at T=50 with lr 2e-3) | orthogonal U
    recurrent_init: str = "orthogonal"

    def initialise(self, rnn: "nn.Module", t_max: int) -> None:
        if self.recurrent_init not in ("default", "orthogonal"):
            raise ConfigError(f"cell.recurrent_init={self.recurrent_init!r}: expected 'default' or 'orthogonal'")
        if self.recurrent_init == "orthogonal":
            import torch

            with torch.no_grad():
                for layer in range(rnn.num_layers):
                    torch.nn.init.orthogonal_(getattr(rnn, f"weight_hh_l{layer}"))


@dataclass
class LSTMCell:
    """LSTM, torch.nn.LSTM."""

    name: str = "lstm"
    layers: int = 1
    # null: torch's default (~0: stays at chance from T~50) | a number | chrono (Tallec & Ollivier 2018),
    # which also sets the input gate's bias to minus the forget gate's
    forget_bias: Any = CHRONO

    def initialise(self, rnn: "nn.Module", t_max: int) -> None:
        check_bias("forget_bias", self.forget_bias)
        if self.forget_bias is not None:
            negate = LSTM_GATES.index("input") if self.forget_bias == CHRONO else None
            gate_bias_init(rnn, LSTM_GATES.index("forget"), self.forget_bias, t_max, negate)


@dataclass
class GRUCell:
    """GRU, torch.nn.GRU."""

    name: str = "gru"
    layers: int = 1
    update_bias: Any = CHRONO  # null: torch's default (~0) | a number | chrono

    def initialise(self, rnn: "nn.Module", t_max: int) -> None:
        check_bias("update_bias", self.update_bias)
        if self.update_bias is not None:
            gate_bias_init(rnn, GRU_GATES.index("update"), self.update_bias, t_max)


#: cell kind -> its knobs and recipe (the explicit cells, rnn_explicit etc., share their kind's)
CELL_CONFIGS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell, **FAMILY_KNOBS}

for _kind, _node in CELL_CONFIGS.items():
    # conf/cell/<kind>.yaml starts its defaults list with `/schema/cell/<kind>@_here_`; a group of its
    # own keeps the schemas out of `cell=` choices
    ConfigStore.instance().store(group="schema/cell", name=_kind, node=_node)


def cell_config(kind: str, cell_cfg: dict):
    """The typed knobs of a built-in cell from its config dict; missing knobs take the defaults."""
    schema = CELL_CONFIGS[kind]
    known = set(schema.__dataclass_fields__)
    for key in cell_cfg:
        if key not in known:
            raise ConfigError(f"cell.{key}={cell_cfg[key]!r}: unknown key for a {kind} cell; "
                              f"known keys: {', '.join(sorted(known))}")
    return schema(**cell_cfg)


def gate_bias_init(rnn: "nn.Module", gate: int, value, t_max: int, negate: int | None = None) -> None:
    """Set one gate's bias in every layer: a constant, or chrono initialisation.

    torch keeps two bias vectors (b_ih and b_hh) that are summed; we put the whole
    value in b_ih and zero the gate's part of b_hh, so the effective bias is `value`.
    Chrono (Tallec & Ollivier 2018): b ~ log U(1, t_max - 1), and optionally the
    `negate` gate (the LSTM's input gate) gets -b, so that memory is kept for a
    characteristic time of the order of the lag.
    """
    import torch

    hidden = rnn.hidden_size
    block = slice(gate * hidden, (gate + 1) * hidden)
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            b_ih = getattr(rnn, f"bias_ih_l{layer}")
            b_hh = getattr(rnn, f"bias_hh_l{layer}")
            bias = bias_values(value, hidden, t_max)
            b_ih[block] = bias
            b_hh[block] = 0.0
            if negate is not None:
                other = slice(negate * hidden, (negate + 1) * hidden)
                b_ih[other] = -bias
                b_hh[other] = 0.0
