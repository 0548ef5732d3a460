"""expRNN (Lezcano-Casado & Martínez-Rubio 2019, "Cheap Orthogonal Constraints in Neural Networks: A
Simple Parametrization of the Orthogonal and Unitary Group"): a vanilla RNN whose recurrent matrix is
orthogonal, W = exp(A) with A skew-symmetric, trained through A:

    h_t = modReLU(V x_t + h_{t-1} exp(A)),     modReLU(z) = sign(z) · ReLU(|z| + b)   (elementwise, b learnt)

An orthogonal W keeps ‖h_{t-1} W‖ = ‖h_{t-1}‖: the linear part neither shrinks nor blows up the state or
its gradient, however long the lag (a tanh RNN's Jacobians shrink it geometrically); modReLU keeps a
unit's sign and moves its magnitude by b, so the nonlinearity can let the norm through too.

The parametrization is torch's own, `torch.nn.utils.parametrizations.orthogonal(orthogonal_map=
"matrix_exp", use_trivialization=False)`: the parameter X is square, A = tril(X) - tril(X)ᵀ, W = exp(A)
(the paper's "static" expRNN; the trivialization's moving base would be the paper's dtriv). W is
computed once per forward call, not per step. torch stores X whole, so the parameter count (n_params)
includes H(H+1)/2 entries that never move (their gradient is 0): H² + H·I + H where the paper counts
H(H-1)/2 + H·I + H.

Initialisation (the paper's code, github.com/Lezcano/expRNN, initialization.py and orthogonal.py):
- A block-diagonal with 2×2 blocks [[0, s], [-s, 0]] (a rotation by s per pair of units; with H odd
  the last unit gets 0, eigenvalue 1): `init: henaff` draws s ~ U(-π, π) (Henaff et al. 2016),
  `init: cayley` s = -sqrt((1 - cos u)/(1 + cos u)) with u ~ U(0, π/2) (as scoRNN's Cayley init);
- V (no bias): Kaiming normal for ReLU; modReLU's b ~ U(-0.01, 0.01).

Learning rates: the paper trains with RMSprop at lr 1e-3..2e-4 and a 10× smaller lr for A (e.g. 2e-4
and 2e-5 on the copy task). The suite trains every parameter with Adam at one `train.lr` (suite/training/loop.py);
a per-parameter learning rate would mean a hook in the shared optimiser and is not implemented: the lr
that suits expRNN is for a sweep over train.lr to find (experiment=lr_tune).

Layers: `layers` > 1 stacks the cell (layer l reads layer l-1's h_t); the state is (layers, batch, hidden)
and the output is the last layer's h_t, as torch's nn.RNN.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import orthogonal

from suite.families.knobs import ExpRNNKnobs


def skew_init(hidden: int, init: str) -> torch.Tensor:
    """A block-diagonal skew-symmetric A: s_i at (2i, 2i+1), -s_i at (2i+1, 2i)."""
    pairs = hidden // 2
    if init == "henaff":
        s = torch.empty(pairs).uniform_(-math.pi, math.pi)
    else:  # cayley
        u = torch.empty(pairs).uniform_(0.0, math.pi / 2)
        s = -torch.sqrt((1 - torch.cos(u)) / (1 + torch.cos(u)))
    A = torch.zeros(hidden, hidden)
    idx = torch.arange(pairs) * 2
    A[idx, idx + 1] = s
    A[idx + 1, idx] = -s
    return A


def modrelu(z: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return torch.sign(z) * torch.relu(z.abs() + bias)


class ExpRNN(nn.Module):
    """expRNN with torch's recurrent interface: batch-first forward(x, state) -> (h for every t, h_T)."""

    output_is_state = True

    def __init__(self, input_size: int, hidden: int, knobs: ExpRNNKnobs):
        super().__init__()
        knobs.check()
        self.hidden_size, self.num_layers = hidden, knobs.layers
        self.inputs = nn.ModuleList(nn.Linear(input_size if i == 0 else hidden, hidden, bias=False)
                                    for i in range(knobs.layers))
        self.recurrent = nn.ModuleList(
            orthogonal(nn.Linear(hidden, hidden, bias=False), orthogonal_map="matrix_exp", use_trivialization=False)
            for _ in range(knobs.layers))
        self.bias = nn.Parameter(torch.empty(knobs.layers, hidden).uniform_(-0.01, 0.01))  # modReLU's b
        with torch.no_grad():
            for inp, rec in zip(self.inputs, self.recurrent):
                nn.init.kaiming_normal_(inp.weight, nonlinearity="relu")
                # X whose tril(X) - tril(X)ᵀ is the initial A
                rec.parametrizations.weight.original.copy_(skew_init(hidden, knobs.init).tril())

    def forward(self, x: torch.Tensor, state=None):
        """x: (batch, T, input) -> (h_t of the last layer (batch, T, hidden), h_T (layers, batch, hidden))."""
        if state is None:
            state = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        finals, u = [], x
        for layer, (inp, rec) in enumerate(zip(self.inputs, self.recurrent)):
            W = rec.weight  # exp(A): one matrix exponential per call
            drive = inp(u)  # V x_t for every t at once
            h, hs = state[layer], []
            # unbind, not drive[:, t]: indexing's backward writes each step's gradient into zeros of the
            # whole sequence's size (O(T²) memory traffic); unbind's stacks them once
            for drive_t in drive.unbind(1):
                h = modrelu(torch.addmm(drive_t, h, W), self.bias[layer])
                hs.append(h)
            u = torch.stack(hs, dim=1)
            finals.append(h)
        return u, torch.stack(finals)
