"""Recurrent cells written out step by step, exactly as the textbook formulas.

They hold the same parameters, under the same names, as torch's fused modules
(`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, gates in torch's
order), so `load_state_dict` moves weights either way and the initialisation
recipes of suite/model/recurrent.py apply unchanged. They are slow (a Python loop over
time) and exist to be read and to expose the gates: `cell=rnn_explicit`,
`cell=lstm_explicit`, `cell=gru_explicit`. The fused modules stay the default.

    tanh RNN  h_t = tanh(W x_t + b_ih + U h_{t-1} + b_hh)
    LSTM      i_t, f_t, o_t = σ(...), c̃_t = tanh(...)        (torch's order: i, f, g, o)
              c_t = f_t ⊙ c_{t-1} + i_t ⊙ c̃_t                  the additive cell-state path
              h_t = o_t ⊙ tanh(c_t)
    GRU       r_t, z_t = σ(...), n_t = tanh(W_n x_t + b_in + r_t ⊙ (U_n h_{t-1} + b_hn))
              h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
"""
from __future__ import annotations

import math

import torch
from torch import nn

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def steps(projected: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The time steps of (batch, T, features), taken apart once: indexing `projected[:, t]` in the loop
    would send each step's gradient back as a full-size tensor, zero but for its slice (an O(T²) backward)."""
    return projected.unbind(1)


class ExplicitRecurrent(nn.Module):
    """batch_first, like the fused modules in suite/model/recurrent.py; `forward` returns (states, final)."""

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = True):
        super().__init__()
        if not batch_first:
            raise ValueError("the explicit cells are batch_first only")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        gates = GATES[self.kind]
        bound = 1.0 / math.sqrt(hidden_size)  # torch's own initialisation
        for layer in range(num_layers):
            inputs = input_size if layer == 0 else hidden_size
            for name, shape in ((f"weight_ih_l{layer}", (gates * hidden_size, inputs)),
                                (f"weight_hh_l{layer}", (gates * hidden_size, hidden_size)),
                                (f"bias_ih_l{layer}", (gates * hidden_size,)),
                                (f"bias_hh_l{layer}", (gates * hidden_size,))):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        #: gate activations of the last forward pass when `record_gates` is on: name -> (batch, T, hidden)
        self.record_gates = False
        self.gates: dict[str, torch.Tensor] = {}

    def layer_params(self, layer: int):
        return (getattr(self, f"weight_ih_l{layer}"), getattr(self, f"weight_hh_l{layer}"),
                getattr(self, f"bias_ih_l{layer}"), getattr(self, f"bias_hh_l{layer}"))

    def forward(self, x: torch.Tensor, state=None):
        batch = x.shape[0]
        finals, recorded = [], {}
        for layer in range(self.num_layers):
            init = self._initial(batch, x) if state is None else self._select(state, layer)
            x, final, gates = self._run_layer(x, init, *self.layer_params(layer))
            finals.append(final)
            if self.record_gates and layer == 0:
                recorded = gates
        self.gates = recorded
        return x, self._stack(finals)

    # -- per-kind pieces ----------------------------------------------------------
    def _initial(self, batch, x):
        return x.new_zeros(batch, self.hidden_size)

    def _select(self, state, layer):
        return state[layer]

    def _stack(self, finals):
        return torch.stack(finals)

    def _run_layer(self, x, h, w_ih, w_hh, b_ih, b_hh):
        projected = x @ w_ih.T + b_ih  # the input part of every step at once
        states = []
        for x_t in steps(projected):
            h = torch.tanh(x_t + h @ w_hh.T + b_hh)
            states.append(h)
        return torch.stack(states, dim=1), h, {}


class ExplicitRNN(ExplicitRecurrent):
    kind = "rnn"


class ExplicitLSTM(ExplicitRecurrent):
    kind = "lstm"

    def _initial(self, batch, x):
        zeros = x.new_zeros(batch, self.hidden_size)
        return zeros, zeros

    def _select(self, state, layer):
        return state[0][layer], state[1][layer]

    def _stack(self, finals):
        return torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals])

    def _run_layer(self, x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        projected = x @ w_ih.T + b_ih
        states, record = [], {"input": [], "forget": [], "output": [], "cell": []}
        for x_t in steps(projected):
            i, f, g, o = (x_t + h @ w_hh.T + b_hh).chunk(4, dim=1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            states.append(h)
            if self.record_gates:
                for name, value in (("input", i), ("forget", f), ("output", o), ("cell", c)):
                    record[name].append(value.detach())
        gates = {k: torch.stack(v, dim=1) for k, v in record.items() if v}
        return torch.stack(states, dim=1), (h, c), gates


class ExplicitGRU(ExplicitRecurrent):
    kind = "gru"

    def _run_layer(self, x, h, w_ih, w_hh, b_ih, b_hh):
        projected = x @ w_ih.T + b_ih
        states, record = [], {"reset": [], "update": []}
        for x_t in steps(projected):
            x_r, x_z, x_n = x_t.chunk(3, dim=1)
            h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            h = (1 - z) * n + z * h
            states.append(h)
            if self.record_gates:
                record["reset"].append(r.detach())
                record["update"].append(z.detach())
        gates = {k: torch.stack(v, dim=1) for k, v in record.items() if v}
        return torch.stack(states, dim=1), h, gates
