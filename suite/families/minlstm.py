"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", arXiv:2410.01201): the LSTM without its
output gate, cell/hidden split or h_{t−1} in its gates; the forget and input gates normalised to sum to 1.

    f_t, i_t = σ(W_f x_t + b_f), σ(W_i x_t + b_i)       gates, from the input only
    f'_t, i'_t = f_t / (f_t + i_t), i_t / (f_t + i_t)    normalised: the scale of h_t does not grow with t
    h̃_t = g(W_h x_t + b_h)                              candidate; g keeps it positive (log-space form)
    h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ h̃_t

g as minGRU's (suite/families/mingru.py). In log space (appendix B.3.2), with d = softplus(−k_f) −
softplus(−k_i) = log(i_t / f_t): log f'_t = −softplus(d), log i'_t = −softplus(−d). The scan
(`cell.scan=true`) and the loop (`cell.scan=false`, the default: faster on CPU) compute the same function.

Initialisation: torch's default Linear, as the paper's code (it prescribes none): f' ≈ i' ≈ ½ at init.
`cell.gate_bias` sets b_f = b and b_i = −b instead: since σ(b) + σ(−b) = 1, f' = σ(b) at zero input, the
keep fraction minGRU gets from the same b (setting b_f alone would cap f' at σ(b)/(σ(b) + ½) < ⅔). `chrono`:
b = log U(1, T − 1), as minGRU's (suite/families/mingru.py).

Weights per layer: 3H(I + 1).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from suite.families.scan import DiagonalStack, g, log_g


class MinLSTM(DiagonalStack):
    gates = 3
    keep_blocks = ((0, 1), (1, -1))  # keeping is f large against i: b_f = gate_bias, b_i = −gate_bias

    def coefficients(self, projected: torch.Tensor):
        k_f, k_i, candidate = projected.chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        return f / (f + i), i / (f + i) * g(candidate)

    def log_coefficients(self, projected: torch.Tensor):
        k_f, k_i, candidate = projected.chunk(3, dim=-1)
        d = F.softplus(-k_f) - F.softplus(-k_i)
        return -F.softplus(d), -F.softplus(-d) + log_g(candidate)
