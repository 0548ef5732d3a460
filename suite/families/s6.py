"""S6: the selective state-space block of Mamba (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling
with Selective State Spaces"), in pure torch, for the CPU.

One block, at `hidden` = D channels outside and E·D inside (E = `expand`):

    x, z   = in_proj(u_t)                              two branches of E·D channels each
    x      = SiLU(causal depthwise conv1d_K(x))        K = `conv_kernel`, over the last K inputs
    Δ_t    = softplus(W_Δ (W_r x_t) + b_Δ)             per channel; W_r: E·D -> R (low rank, R = dt_rank)
    B_t, C_t = W_B x_t, W_C x_t                        N numbers each (N = `state_size`), shared by channels
    h_t    = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t        per channel d: h_t[d] in R^N, A[d] = -exp(A_log[d]) < 0
    y_t    = C_t · h_t + D ⊙ x_t
    out_t  = out_proj(y_t ⊙ SiLU(z_t))                 back to D channels

B and C depend on the input (the "selection"): the block decides, token by token, what enters its
state and what is read out; Δ_t is how far the state moves: a small Δ keeps the state (exp(Δ A) ≈ 1),
a large one overwrites it. The first layer's in_proj reads the task's input directly; further layers
(`layers` > 1) are added as in Mamba's model, pre-norm residual: u <- u + block(RMSNorm(u)).

Initialisation (Mamba's, mamba_ssm/modules/mamba_simple.py):
- A = -exp(A_log), A_log[d, n] = log(n + 1): S4D-real, decay rates 1..N in every channel;
- Δ's bias b_Δ = softplus⁻¹(Δ0) with Δ0 log-uniform in [dt_min, dt_max] = [1e-3, 0.1] (floor 1e-4):
  at init the state's slowest time scale is 1/(Δ0 · 1) ≈ 1,000 steps and its fastest ~0.6 step, so
  memory over the suite's lags is there before training; W_Δ ~ U(±R^-1/2);
- D = 1 (the skip), torch's default for the projections and the convolution; no biases in the
  projections (mamba's bias=False), a bias in the convolution and in Δ.
Parameters per block at input D, E, R, N, K: 2ED·D + ED(2R + 3N + K + 3) + ED·D
(32,640 at D = 64, E = 2, N = 16, K = 4, R = 4, as mamba_ssm's block).

The recurrent interface (suite/families/__init__.py): `forward(x, state)`, batch first, and the state
is the pair (ssm, conv): ssm (layers, batch, E·D, N) the SSM's h, conv (layers, batch, E·D, K-1) the
last K-1 inputs of the convolution, so running step by step with the state passed on equals running
the whole sequence. The outputs are out_t, not the state: `output_is_state = False`.

Two forms of the same arithmetic. `forward` discretises the whole sequence at once (exp(Δ A) and
Δ B x for every t in one op each) and runs the recurrence in a loop over t on (batch, E·D, N) tensors:
the arithmetic of `selective_scan_ref` in state-spaces/mamba (mamba_ssm/ops/selective_scan_interface.py,
Apache-2.0, Copyright (c) 2023 Tri Dao, Albert Gu), written afresh here for the suite's layout and for
a state that is given and returned. `step` is the block one time step at a time, its convolution read
from the buffer (mamba's `step`); tests/test_families.py checks the two agree, outputs and gradients.

Speed and memory on the CPU: the recurrence is a loop of T small ops forward and again backward, and
every op touches (batch, E·D, N) numbers, 16x an LSTM's state at the defaults; in training autograd
keeps the discretised tensors of every step (~0.5 GB each at batch 64, hidden 64, N = 16, T = 1,000,
float32); without gradients (evaluation) the sequence is run in pieces of time and its scan in
chunks (PIECE_ELEMENTS, CHUNK_ELEMENTS), so evaluating 1,000 sequences holds no (T, batch, ...) tensor
but the outputs. Mamba's CUDA kernel fuses the scan and recomputes it in the
backward pass; that kernel (mamba-ssm) needs an NVIDIA GPU and is not used. Measured times:
docs/performance.md, "The modern families".
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from suite.families.knobs import S6Knobs

DT_INIT_FLOOR = 1e-4  # mamba's dt_init_floor
CHUNK_ELEMENTS = 1 << 21  # numbers per discretised chunk (8 MB in float32): see selective_scan
PIECE_ELEMENTS = 1 << 22  # batch x time x channels per piece of a sequence run without gradients: see S6.forward


def selective_scan(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The selective SSM over a whole sequence, from state h; returns (C_t · h_t for every t, h_T).

    x, delta: (batch, T, channels); A: (channels, N); B, C: (batch, T, N); h: (batch, channels, N).
    y: (batch, T, channels). Δ is already positive (softplus applied); D x is the caller's.
    The sequence is taken in chunks of time steps whose discretised tensors hold about CHUNK_ELEMENTS
    numbers, so that evaluating 1,000 sequences at T = 1,000 does not hold (T, batch, channels, N) at once.
    """
    steps = max(1, CHUNK_ELEMENTS // h.numel())
    ys = []
    # split, not slicing: a slice's backward writes its gradient into zeros of the whole tensor's size
    for chunk in zip(*(t.split(steps, dim=1) for t in (x, delta, B, C))):
        y, h = _scan_chunk(*chunk, A, h)
        ys.append(y)
    return torch.cat(ys, dim=1), h


def _scan_chunk(x, delta, B, C, A, h):
    # Time first, so that each step reads contiguous memory.
    decay = torch.exp(delta.transpose(0, 1).unsqueeze(-1) * A)  # (T, batch, channels, N): exp(Δ_t A)
    drive = (delta * x).transpose(0, 1).unsqueeze(-1) * B.transpose(0, 1).unsqueeze(2)  # Δ_t B_t x_t
    states = []
    # unbind, not decay[t]: indexing's backward writes each step's gradient into a zero tensor of the whole
    # chunk's size (O(T²) memory traffic); unbind's stacks them once
    for decay_t, drive_t in zip(decay.unbind(0), drive.unbind(0)):
        h = torch.addcmul(drive_t, decay_t, h)  # h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t
        states.append(h)
    y = torch.einsum("tbdn,btn->btd", torch.stack(states), C)  # C_t · h_t, for all t in one op
    return y, h


class S6Block(nn.Module):
    """One Mamba block: in_proj, causal conv, SiLU, selective SSM, gate, out_proj."""

    def __init__(self, input_size: int, hidden: int, knobs: S6Knobs):
        super().__init__()
        inner, n, k = knobs.expand * hidden, knobs.state_size, knobs.conv_kernel
        self.inner, self.n, self.k = inner, n, k
        self.rank = math.ceil(hidden / 16) if knobs.dt_rank == "auto" else knobs.dt_rank
        self.in_proj = nn.Linear(input_size, 2 * inner, bias=False)
        self.conv = nn.Conv1d(inner, inner, kernel_size=k, groups=inner, bias=True)  # padded by the caller
        self.x_proj = nn.Linear(inner, self.rank + 2 * n, bias=False)  # -> (Δ's low rank, B, C)
        self.dt_proj = nn.Linear(self.rank, inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.get_default_dtype())).repeat(inner, 1))
        self.D = nn.Parameter(torch.ones(inner))
        self.out_proj = nn.Linear(inner, hidden, bias=False)
        with torch.no_grad():
            bound = self.rank ** -0.5
            self.dt_proj.weight.uniform_(-bound, bound)
            u = torch.rand(inner)
            dt = torch.exp(u * (math.log(knobs.dt_max) - math.log(knobs.dt_min)) + math.log(knobs.dt_min))
            dt = dt.clamp(min=DT_INIT_FLOOR)
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus⁻¹(dt)

    def zero_state(self, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (like.new_zeros(batch, self.inner, self.n), like.new_zeros(batch, self.inner, self.k - 1))

    def _selection(self, x: torch.Tensor):
        """Δ (softplus applied), B, C from the convolved input x (..., inner)."""
        low, B, C = self.x_proj(x).split([self.rank, self.n, self.n], dim=-1)
        return F.softplus(self.dt_proj(low)), B, C

    def forward(self, u: torch.Tensor, state=None):
        """u: (batch, T, input) -> (out (batch, T, hidden), (ssm (batch, inner, N), conv (batch, inner, K-1)))."""
        batch, length = u.shape[:2]
        h, buffer = state if state is not None else self.zero_state(batch, u)
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (batch, T, inner) each
        padded = torch.cat([buffer, x.transpose(1, 2)], dim=-1)  # (batch, inner, K-1+T): the last K-1 inputs first
        x = F.silu(self.conv(padded)).transpose(1, 2)  # causal: out_t reads inputs t-K+1..t
        delta, B, C = self._selection(x)
        A = -torch.exp(self.A_log)
        y, h = selective_scan(x, delta, A, B, C, h)
        y = (y + self.D * x) * F.silu(z)
        return self.out_proj(y), (h, padded[..., padded.shape[-1] - (self.k - 1):])

    def step(self, u: torch.Tensor, state):
        """The same block for one time step u: (batch, input), its convolution read from the buffer."""
        h, buffer = state
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (batch, inner)
        window = torch.cat([buffer, x.unsqueeze(-1)], dim=-1)  # (batch, inner, K)
        x = F.silu((window * self.conv.weight.squeeze(1)).sum(-1) + self.conv.bias)
        delta, B, C = self._selection(x)
        A = -torch.exp(self.A_log)
        h = torch.exp(delta.unsqueeze(-1) * A) * h + (delta * x).unsqueeze(-1) * B.unsqueeze(1)
        y = (h * C.unsqueeze(1)).sum(-1) + self.D * x
        return self.out_proj(y * F.silu(z)), (h, window[..., 1:])


class S6(nn.Module):
    """`layers` S6 blocks; the first reads the input, the others are pre-norm residual (Mamba's model)."""

    output_is_state = False  # the head reads out_t, not the SSM's state

    def __init__(self, input_size: int, hidden: int, knobs: S6Knobs):
        super().__init__()
        knobs.check()
        self.hidden_size, self.num_layers = hidden, knobs.layers
        self.blocks = nn.ModuleList(S6Block(input_size if i == 0 else hidden, hidden, knobs)
                                    for i in range(knobs.layers))
        self.norms = nn.ModuleList(nn.RMSNorm(hidden) for _ in range(knobs.layers - 1))

    def _layers(self, state):
        for i, block in enumerate(self.blocks):
            yield i, block, None if state is None else (state[0][i], state[1][i])

    def _residual(self, i: int, block_out: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return block_out if i == 0 else u + block_out

    def forward(self, x: torch.Tensor, state=None):
        """x: (batch, T, input) -> (out (batch, T, hidden), (ssm (layers, batch, E·hidden, N),
        conv (layers, batch, E·hidden, K-1))).

        Without gradients (evaluation: 1,000 held-out sequences at once) the sequence is run in pieces
        of time, the state passed on, which gives the same outputs: the block's intermediate tensors,
        (batch, T, 2·E·hidden) and the like, are never whole (at T = 1,000 they would be GBs each)."""
        steps = max(1, PIECE_ELEMENTS // (x.shape[0] * self.blocks[0].inner))
        if torch.is_grad_enabled() or x.shape[1] <= steps:
            return self._forward(x, state)
        outputs = []
        for piece in x.split(steps, dim=1):
            out, state = self._forward(piece, state)
            outputs.append(out)
        return torch.cat(outputs, dim=1), state

    def _forward(self, x: torch.Tensor, state):
        ssm, conv, u = [], [], x
        for i, block, layer_state in self._layers(state):
            out, (h, buffer) = block(u if i == 0 else self.norms[i - 1](u), layer_state)
            u = self._residual(i, out, u)
            ssm.append(h)
            conv.append(buffer)
        return u, (torch.stack(ssm), torch.stack(conv))

    def step(self, x: torch.Tensor, state=None):
        """One time step x: (batch, input), through `S6Block.step`; the state as `forward`'s."""
        ssm, conv, u = [], [], x
        for i, block, layer_state in self._layers(state):
            layer_state = layer_state if layer_state is not None else block.zero_state(x.shape[0], x)
            out, (h, buffer) = block.step(u if i == 0 else self.norms[i - 1](u), layer_state)
            u = self._residual(i, out, u)
            ssm.append(h)
            conv.append(buffer)
        return u, (torch.stack(ssm), torch.stack(conv))
