"""What minGRU and minLSTM share: a stack of diagonal recurrences h_t = a_t ⊙ h_{t−1} + b_t whose
coefficients a_t ∈ (0, 1), b_t > 0 come from x_t alone, run either by Heinsen's log-space parallel scan
or by a loop over time (the same equations, one step at a time).

Log-space scan (Heinsen 2023, "Efficient Parallelization of a Ubiquitous Sequential Computation";
Feng et al. 2024, appendix B), for t = 1..T:

    a*_t = Σ_{s≤t} log a_s                                   a cumulative sum
    h_t  = exp(a*_t) h_0 + exp(a*_t + logcumsumexp_{s≤t}(log b_s − a*_s))

The second term is Heinsen's scan from h_0 = 0, which needs b_t > 0 (its logarithm): hence the
paper's g(x) = x + 0.5 for x ≥ 0, σ(x) otherwise, which keeps the candidate state h̃_t positive. The
first term carries a given state h_0 on, of either sign, without taking its logarithm (the
reference read below prepends log g(h_0), not log h_0, to the sequence: a continued scan there is
not the whole sequence's).

`g`, `log_g` and the three lines of `log_space_scan` without its h_0 term closely follow
`g`, `log_g` and `heinsen_associative_scan_log` in lucidrains/minGRU-pytorch (`minGRU_pytorch/minGRU.py`,
the paper's appendix B), Copyright (c) 2024 Phil Wang, MIT License: the full notice is in NOTICE. The
h_0 term above is ours.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from suite.model.chrono import bias_values

LOW_PRECISION = (torch.bfloat16, torch.float16)


def g(x: torch.Tensor) -> torch.Tensor:
    """Feng et al.'s g: x + 0.5 for x ≥ 0, σ(x) otherwise; continuous, positive, increasing."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """log g(x), computed without forming g(x) for x < 0 (log σ(x) = −softplus(−x))."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def log_space_scan(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Every h_t of h_t = a_t h_{t−1} + b_t from log a, log b (batch, T, H) and h_0 (batch, H) or None (0)."""
    a_star = log_a.cumsum(dim=1)
    h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))
    if h0 is not None:
        h = h + torch.exp(a_star) * h0.unsqueeze(1)
    return h


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The same h_t, one step at a time from a, b (batch, T, H)."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    states = []
    # unbind, not a[:, t]: indexing's backward writes each step's gradient into a zero tensor of the whole
    # sequence, T of them, which makes the loop's backward quadratic in T
    for a_t, b_t in zip(a.unbind(1), b.unbind(1)):
        h = a_t * h + b_t
        states.append(h)
    return torch.stack(states, dim=1)


class DiagonalStack(nn.Module):
    """`layers` diagonal recurrences, each reading the previous one's states (as torch's num_layers);
    layer l projects its input with one Linear to `gates` blocks of `hidden`. A subclass gives the
    coefficients from the projection: `coefficients` directly (the loop) and `log_coefficients` (the scan).

    forward(x (batch, T, input_size), state (layers, batch, hidden) or None) -> (h of the last layer
    (batch, T, hidden), h_T of every layer (layers, batch, hidden)). The output is the state.
    """

    gates = 2
    output_is_state = True
    #: the gate blocks of the projection (index, sign) whose bias sets how much of h_{t-1} a step keeps at init,
    #: the sign making a positive `cell.gate_bias` keep more (init_keep_bias)
    keep_blocks: tuple[tuple[int, int], ...] = ()

    def __init__(self, input_size: int, hidden: int, knobs):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden, knobs.layers
        self.scan = knobs.scan
        # torch's default Linear initialisation: the paper prescribes none
        self.projections = nn.ModuleList(nn.Linear(input_size if layer == 0 else hidden, self.gates * hidden)
                                         for layer in range(knobs.layers))

    def init_keep_bias(self, value, t_max: int) -> None:
        """`cell.gate_bias` (suite/families/knobs.py): the keep side's bias b in every layer, a number or
        "chrono", b = log U(1, t_max − 1) per unit (suite.model.chrono, as the LSTM's and the GRU's gate biases),
        written into each block of `keep_blocks` with its sign."""
        hidden = self.hidden_size
        with torch.no_grad():
            for projection in self.projections:
                bias = bias_values(value, hidden, t_max)
                for block, sign in self.keep_blocks:
                    projection.bias[block * hidden:(block + 1) * hidden] = sign * bias

    def coefficients(self, projected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def log_coefficients(self, projected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        finals = []
        for layer, projection in enumerate(self.projections):
            projected = projection(x)
            if projected.dtype in LOW_PRECISION:  # under bf16 autocast: the recurrence in float32
                projected = projected.float()
            h0 = None if state is None else state[layer]
            if self.scan:
                x = log_space_scan(*self.log_coefficients(projected), h0)
            else:
                x = sequential_scan(*self.coefficients(projected), h0)
            finals.append(x[:, -1])
        return x, torch.stack(finals)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, layers={self.num_layers}, scan={self.scan}"
