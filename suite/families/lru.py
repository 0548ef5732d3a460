"""LRU, the Linear Recurrent Unit (Orvieto et al. 2023, "Resurrecting Recurrent Neural Networks for
Long Sequences", arXiv:2303.06349): a complex diagonal linear recurrence, stable by construction.

    u_t = W_e x_t + b_e                                 the paper's linear encoder, input -> H = hidden
    x_t = λ ⊙ x_{t−1} + γ ⊙ (B u_t)                     complex state x_t ∈ ℂ^N, B ∈ ℂ^{N×H}
    λ = exp(−exp(ν) + i·exp(θ))                         |λ| = exp(−e^ν) < 1 for every ν: stable
    γ = exp(γ_log), initialised to √(1 − |λ|²)          input normalisation: E|x_t|² stays ~E|B u|²
    y_t = Re(C x_t) + D ⊙ u_t                           C ∈ ℂ^{H×N}, D ∈ ℝ^H
    out_t = u_t + GLU(GELU(y_t))                        the paper's block (GLU(v) = W₁v ⊙ σ(W₂v)); or y_t

The state the suite sees is x_t, complex, laid out (layers, batch, N); the head reads out_t
(`output_is_state = False`). Layers stack as the paper's: each reads the previous one's out_t (the
paper's blocks also normalise their input: left out here, as dropout is).

Initialisation (the paper's appendix A, its JAX pseudo-code; checked against NicolasZucchet/minimal-LRU,
an unofficial JAX port of it, read, not copied): λ uniform on the ring r_min ≤ |λ| ≤ r_max (|λ|²
uniform on [r_min², r_max²]) by ν = log(−½ log(U·(r_max² − r_min²) + r_min²)), its phase by
θ = log(max_phase · U); γ_log = log √(1 − |λ|²) (then trained, as ν and θ); B ~ N(0, 1/(2H))
in each of its real and imaginary parts, C ~ N(0, 1/N) likewise, D ~ N(0, 1); the encoder and the GLU's
Linears torch's default. Written for this suite from those equations.

Two forms of the recurrence, the same function (`cell.scan`): a loop over time, and a parallel
scan (Hillis & Steele doubling: λ is the same at every step, so pass k adds λ^(2^k) times the
sequence shifted by 2^k; log₂T passes). The loop is the default: 1.7-2.4x faster on CPU at T = 50 to
1,000 (benchmarks/family_scan.py).

Weights per layer: 4NH + 3N + H (the recurrence) + 2H² + 2H (the GLU), plus I·H + H for the encoder.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def linear_scan(lam: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None) -> torch.Tensor:
    """Every x_t of x_t = λ x_{t−1} + b_t, one step at a time; b (batch, T, N), λ (N,), x0 (batch, N)."""
    x = torch.zeros_like(b[:, 0]) if x0 is None else x0
    states = []
    for b_t in b.unbind(1):  # not b[:, t]: see suite/families/scan.py's sequential_scan
        x = lam * x + b_t
        states.append(x)
    return torch.stack(states, dim=1)


def parallel_scan(lam: torch.Tensor, b: torch.Tensor, x0: torch.Tensor | None = None) -> torch.Tensor:
    """The same x_t in ⌈log₂ T⌉ passes: after the pass with shift d, x_t = Σ_{k<2d} λ^k b_{t−k}."""
    x = b if x0 is None else torch.cat([b[:, :1] + lam * x0.unsqueeze(1), b[:, 1:]], dim=1)
    power, shift = lam, 1
    while shift < x.shape[1]:
        x = torch.cat([x[:, :shift], x[:, shift:] + power * x[:, :-shift]], dim=1)
        power, shift = power * power, 2 * shift
    return x


class LRULayer(nn.Module):
    """One LRU and its block, in two halves (LRU.forward says why): the recurrence, and the output."""

    def __init__(self, hidden: int, state: int, knobs):
        super().__init__()
        self.scan = knobs.scan
        u = torch.rand(state)
        self.nu_log = nn.Parameter(torch.log(-0.5 * torch.log(u * (knobs.r_max ** 2 - knobs.r_min ** 2)
                                                               + knobs.r_min ** 2)))
        self.theta_log = nn.Parameter(torch.log(knobs.max_phase * torch.rand(state)))
        with torch.no_grad():
            modulus = torch.exp(-torch.exp(self.nu_log))
            self.gamma_log = nn.Parameter(torch.log(torch.sqrt(1 - modulus ** 2)))
        self.B_re = nn.Parameter(torch.randn(state, hidden) / math.sqrt(2 * hidden))
        self.B_im = nn.Parameter(torch.randn(state, hidden) / math.sqrt(2 * hidden))
        self.C_re = nn.Parameter(torch.randn(hidden, state) / math.sqrt(state))
        self.C_im = nn.Parameter(torch.randn(hidden, state) / math.sqrt(state))
        self.D = nn.Parameter(torch.randn(hidden))
        self.glu = nn.Linear(hidden, 2 * hidden) if knobs.glu else None  # W₁ and W₂ side by side

    def eigenvalues(self) -> torch.Tensor:
        return torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))

    # The recurrence and y_t in the parameters' precision (float32, or float64 for the diagnostics), also under
    # bf16 autocast: complex bf16 does not exist, and λ^T needs the digits.
    def recurrence(self, u: torch.Tensor, x0: torch.Tensor | None = None) -> torch.Tensor:
        """Every x_t (batch, T, N), complex, from u (batch, T, H) and x_0 (batch, N) or None (0)."""
        with torch.autocast(device_type=u.device.type, enabled=False):
            v = u.to(self.nu_log.dtype)
            bu = torch.complex(F.linear(v, self.B_re), F.linear(v, self.B_im)) * torch.exp(self.gamma_log)
            return (parallel_scan if self.scan else linear_scan)(self.eigenvalues(), bu, x0)

    def readout(self, u: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
        """out_t (batch, T, H) from u_t and x_t."""
        with torch.autocast(device_type=u.device.type, enabled=False):
            v = u.to(self.nu_log.dtype)
            y = F.linear(xs.real, self.C_re) - F.linear(xs.imag, self.C_im) + self.D * v  # Re(C x) + D ⊙ u
        if self.glu is None:
            return y
        w1, w2 = self.glu(F.gelu(y)).chunk(2, dim=-1)
        return u + w1 * torch.sigmoid(w2)


class LRU(nn.Module):
    output_is_state = False  # the head reads out_t, not the state x_t

    def __init__(self, input_size: int, hidden: int, knobs):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden, knobs.layers
        self.state_size = hidden if knobs.state is None else knobs.state
        self.encoder = nn.Linear(input_size, hidden)
        self.lrus = nn.ModuleList(LRULayer(hidden, self.state_size, knobs) for _ in range(knobs.layers))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        out, finals = self.encoder(x), []
        for layer, lru in enumerate(self.lrus):
            xs = lru.recurrence(out, None if state is None else state[layer])
            finals.append(xs[:, -1])
            if layer < self.num_layers - 1:
                out = lru.readout(out, xs)
        state = torch.stack(finals)
        # The last layer's y_T is read from the state returned, not from its copy in xs: the state is then a
        # node the output depends on, so its gradient, read step by step by suite/training/diagnostics.py, includes the
        # path through y_t (a total derivative, as for the cells whose output is their state).
        xs = torch.cat([xs[:, :-1], state[-1].unsqueeze(1)], dim=1)
        return self.lrus[-1].readout(out, xs), state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, state={self.state_size}, layers={self.num_layers}"
