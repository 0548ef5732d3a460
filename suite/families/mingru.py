"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?", arXiv:2410.01201): the GRU with its gates
and candidate read from x_t only, so that one layer is a diagonal linear recurrence, trainable by a scan.

    z_t = σ(W_z x_t + b_z)                              update gate, from the input only
    h̃_t = g(W_h x_t + b_h)                              candidate; g keeps it positive (log-space form)
    h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t               a convex mix, no tanh: h_t stays positive

g(x) = x + 0.5 (x ≥ 0), σ(x) otherwise: the paper's log-space version (appendix B.3), used by both the
scan (`cell.scan=true`, log a_t = −softplus(k_t), log b_t = log σ(k_t) + log g(h̃_t)) and the loop
(`cell.scan=false`, the default: faster on CPU, benchmarks/family_scan.py), so that the two are the
same function. Stacked layers read the previous layer's
h (as torch's num_layers); the gates see no h_{t−1}, so expressiveness over time comes from depth.

Initialisation: torch's default Linear (uniform ±1/√fan_in), as the paper's code (it prescribes
none). Its update gate then sits near σ(0) = ½ at init: h_{t−1} is halved every step, a time scale
of ~1.4 steps until training moves the gate's bias. `cell.gate_bias` (suite/families/knobs.py) sets the
keep side's bias b instead, b_z = −b so that 1 − z = σ(b) at zero input: a number, or `chrono`,
b = log U(1, T − 1) with T the task's length, so z = 1/(1 + u) and the units' time scales 1/z spread over
2..T (Tallec & Ollivier 2018's recipe for the LSTM's forget gate, on minGRU's keep side).

Weights per layer: 2H(I + 1) (I its input size). The scan and loop: suite/families/scan.py, whose
scan is adapted from lucidrains/minGRU-pytorch (MIT License; its notice in NOTICE).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from suite.families.scan import DiagonalStack, g, log_g


class MinGRU(DiagonalStack):
    gates = 2
    keep_blocks = ((0, -1),)  # keeping is z small: b_z = −gate_bias

    def coefficients(self, projected: torch.Tensor):
        k, candidate = projected.chunk(2, dim=-1)
        z = torch.sigmoid(k)
        return 1 - z, z * g(candidate)

    def log_coefficients(self, projected: torch.Tensor):
        k, candidate = projected.chunk(2, dim=-1)
        # log(1 − σ(k)) = −softplus(k), log σ(k) = −softplus(−k)
        return -F.softplus(k), -F.softplus(-k) + log_g(candidate)
