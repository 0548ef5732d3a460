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

Two forms of the same arithmetic. `forward` runs the whole sequence: the arithmetic of `selective_scan_ref`
in state-spaces/mamba (mamba_ssm/ops/selective_scan_interface.py, Apache-2.0, Copyright (c) 2023 Tri Dao,
Albert Gu), written afresh here for the suite's layout and for a state that is given and returned.
`step` is the block one time step at a time, its convolution read from the buffer (mamba's `step`);
tests/test_families.py checks the two agree, outputs and gradients.

Speed and memory on the CPU: every step of the recurrence touches (batch, E·D, N) numbers, 16x an LSTM's
state at the defaults, and each pure-torch op reads and writes all of them, so the cost is the number of
passes over (T, batch, E·D, N) numbers and whether they are in cache. `selective_scan` is therefore not
run through autograd (`selective_scan_ref`, the loop that autograd differentiates, is the reference that
tests/test_s6_scan.py holds it to) but by `_Scan`, a custom autograd.Function: its forward goes a step at
a time, the state kept as (batch, N, E·D) so that C_t · h_t is a row times a matrix, and keeps only the
state at the start of each chunk of steps (CHUNK_ELEMENTS); its backward recomputes one chunk's states
from there, runs the adjoint back through the chunk and reads every gradient from states and adjoint,
the sums over channels and over N as batched matmuls. No tensor of (T, batch, E·D, N) numbers exists, in
training or in evaluation, where the sequence is also run in pieces of time (PIECE_ELEMENTS), so that
evaluating 1,000 sequences holds no (T, batch, ...) tensor but the outputs. The block works time first
throughout, its depthwise causal convolution a sum of K shifted inputs (`_CausalConv`): conv1d's (batch,
channels, T) layout would cost two transposing copies of every number. Closed forms over a chunk
(cumulative log-decays and segment sums as in Mamba-2's SSD, or suite/families/scan.py's log-space scan)
take more passes, not fewer: with a decay per (channel, n), nothing in them becomes a matmul. Mamba's
CUDA kernel fuses the scan and recomputes it in the backward pass; that kernel (mamba-ssm) needs an
NVIDIA GPU and is not used. Measured times: docs/performance.md, "The modern families".
"""
from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from suite.families.knobs import S6Knobs

DT_INIT_FLOOR = 1e-4  # mamba's dt_init_floor
CHUNK_ELEMENTS = 1 << 21  # numbers in a chunk of steps' states (8 MB in float32), _Scan's unit of recomputing
PIECE_ELEMENTS = 1 << 22  # batch x time x channels per piece of a sequence run without gradients: see S6.forward


def selective_scan_ref(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                       h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference form of `selective_scan`, its arguments and results: a loop over time through autograd, the
    arithmetic of mamba's `selective_scan_ref`. Every discretised tensor is (T, batch, channels, N) at once:
    for tests, at short T."""
    decay = torch.exp(delta.unsqueeze(-1) * A)  # (T, batch, channels, N): exp(Δ_t A)
    drive = (delta * x).unsqueeze(-1) * B.unsqueeze(2)  # Δ_t B_t x_t
    states = []
    # unbind, not decay[t]: indexing's backward writes each step's gradient into a zero tensor of the whole
    # sequence's size (O(T²) memory traffic); unbind's stacks them once
    for decay_t, drive_t in zip(decay.unbind(0), drive.unbind(0)):
        h = torch.addcmul(drive_t, decay_t, h)  # h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t
        states.append(h)
    return torch.einsum("tbdn,tbn->tbd", torch.stack(states), C), h  # C_t · h_t, for all t in one op


def selective_scan(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The selective SSM over a whole sequence, from state h; returns (C_t · h_t for every t, h_T).

    Time first, so that a step's numbers are contiguous: x, delta: (T, batch, channels); A: (channels, N);
    B, C: (T, batch, N); h: (batch, channels, N); y: (T, batch, channels). Δ is already positive (softplus
    applied); D x is the caller's. `selective_scan_ref`'s arithmetic, run by `_Scan` without autograd's graph.
    """
    dtype = functools.reduce(torch.promote_types, [t.dtype for t in (x, delta, A, B, C, h)])
    # one dtype (under bf16 autocast A is float32, the rest bf16), so that the work buffers take every result
    delta, dx, B, C = (t.to(dtype).contiguous() for t in (delta, delta * x, B, C))
    with torch.autocast(x.device.type, enabled=False):  # and the matmuls stay in it
        return _Scan.apply(delta, dx, A.to(dtype), B, C, h.to(dtype))


def _states(delta, dx, B, A, h, states, decay):
    """A chunk's states from h, a step at a time (a step's numbers stay in cache from one op to the next):
    states[0] = h, states[i + 1] = h after step i, decay[i] = exp(Δ_i A). delta, dx: (L, batch, channels),
    B: (L, batch, N); states, decay: work buffers of L + 1 and L steps of (batch, channels, N)."""
    states[0] = h
    steps, decays = states.unbind(0), decay.unbind(0)
    # each step's operands as views made in one op each, not three small ops a step
    for i, (delta_t, dx_t, B_t) in enumerate(zip(delta.unsqueeze(-1).unbind(0), dx.unsqueeze(-1).unbind(0),
                                                  B.unsqueeze(2).unbind(0))):
        torch.mul(delta_t, A, out=decays[i]).exp_()
        torch.mul(decays[i], steps[i], out=steps[i + 1]).addcmul_(dx_t, B_t)


class _Scan(torch.autograd.Function):
    """The scan without autograd's graph, time first: (T, batch, ...). Forward runs a step at a time and keeps
    only the state at the start of each chunk of L steps (L: CHUNK_ELEMENTS numbers over a step's state);
    backward recomputes a chunk's states from it, runs the adjoint λ_t = dL/dh_t = C_t gy_t + exp(Δ_{t+1} A)
    λ_{t+1} back through the chunk, and reads every gradient from the states and λ. Nothing is
    (T, batch, channels, N): the work buffers are a step's (forward) or a chunk's (backward)."""

    @staticmethod
    def forward(ctx, delta, dx, A, B, C, h):
        length, batch, channels = delta.shape
        steps = min(length, max(1, CHUNK_ELEMENTS // h.numel()))
        bounds = h.new_empty(-(-length // steps), *h.shape) if any(ctx.needs_input_grad) else None
        # the state as (batch, N, channels): C_t · h_t is then a row times a matrix, torch's faster matmul
        A_t, h = A.t().contiguous(), h.transpose(1, 2).contiguous()
        y, decay = delta.new_empty(length, batch, 1, channels), torch.empty_like(h)
        per_step = zip(delta.unsqueeze(2).unbind(0), dx.unsqueeze(2).unbind(0), B.unsqueeze(-1).unbind(0),
                       C.unsqueeze(2).unbind(0), y.unbind(0))
        for t, (delta_t, dx_t, B_t, C_t, y_t) in enumerate(per_step):
            if bounds is not None and t % steps == 0:
                bounds[t // steps] = h.transpose(1, 2)
            torch.mul(delta_t, A_t, out=decay).exp_()  # exp(Δ_t A)
            h.mul_(decay).addcmul_(B_t, dx_t)  # h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t
            torch.matmul(C_t, h, out=y_t)  # C_t · h_t
        if bounds is not None:
            ctx.save_for_backward(delta, dx, A, B, C, bounds)
            ctx.steps = steps
        return y.squeeze(2), h.transpose(1, 2)

    @staticmethod
    def backward(ctx, gy, gh):
        with torch.autocast(gy.device.type, enabled=False):
            return _scan_backward(ctx.steps, *ctx.saved_tensors, gy.contiguous(), gh)


def _scan_backward(steps, delta, dx, A, B, C, bounds, gy, gh):
    """_Scan's backward: the gradients of (delta, dx, A, B, C, h) from those of (y, h_T)."""
    length, batch, channels = delta.shape
    g_delta, g_dx, g_B, g_C = (torch.empty_like(t) for t in (delta, dx, B, C))
    g_A = torch.zeros_like(A)
    carry = gh.clone()  # exp(Δ_{t+1} A) λ_{t+1}: what λ_t receives from the chunks after its own
    states = gh.new_empty(steps + 1, *gh.shape)
    lam, decay = gh.new_empty(steps, *gh.shape), gh.new_empty(steps, *gh.shape)
    for j in reversed(range(bounds.shape[0])):
        t, n = slice(j * steps, (j + 1) * steps), min(steps, length - j * steps)
        S, lam_c, decay_c = states[:n + 1], lam[:n], decay[:n]
        _states(delta[t], dx[t], B[t], A, bounds[j], S, decay_c)
        g = gy[t].unsqueeze(-2)  # (n, batch, 1, channels)
        torch.matmul(g, S[1:], out=g_C[t].unsqueeze(-2))  # dL/dC_t = Σ_d gy_t h_t
        torch.mul(g.transpose(-1, -2), C[t].unsqueeze(2), out=lam_c)  # C_t gy_t
        lams, decays = lam_c.unbind(0), decay_c.unbind(0)
        lams[n - 1].add_(carry)
        for i in range(n - 2, -1, -1):
            torch.addcmul(lams[i], decays[i + 1], lams[i + 1], out=lams[i])
        torch.mul(decays[0], lams[0], out=carry)
        torch.matmul(lam_c, B[t].unsqueeze(-1), out=g_dx[t].unsqueeze(-1))  # dL/d(Δx)_t = Σ_n λ_t B_t
        torch.matmul(dx[t].unsqueeze(-2), lam_c, out=g_B[t].unsqueeze(-2))  # dL/dB_t = Σ_d λ_t Δ_t x_t
        r = decay_c.mul_(S[:-1]).mul_(lam_c)  # dL/d(Δ_t A) = λ_t ⊙ h_{t-1} ⊙ exp(Δ_t A)
        # channels first, as a batch of matmuls: Σ_n A r for dL/dΔ, Σ_(t, batch) Δ r for dL/dA
        r = r.view(n * batch, channels, -1).transpose(0, 1)
        g_A += torch.bmm(delta[t].reshape(-1, channels).t().contiguous().unsqueeze(1), r).squeeze(1)
        g_delta[t] = torch.bmm(r, A.unsqueeze(-1)).view(channels, n, batch).permute(1, 2, 0)
    return g_delta, g_dx, g_A, g_B, g_C, carry


class _CausalConv(torch.autograd.Function):
    """The block's depthwise causal convolution, time first: out_t = b + Σ_k w[:, k] ⊙ padded_{t+k} from padded
    (K-1+T, batch, channels), w (channels, K), b (channels). conv1d would take (batch, channels, T): two
    transposing copies of every number, each slower than the convolution itself."""

    @staticmethod
    def forward(ctx, padded, weight, bias):
        taps = weight.t().contiguous()  # (K, channels): a strided tap vector makes each op ~3x slower
        length = padded.shape[0] - taps.shape[0] + 1
        out = torch.addcmul(bias, padded[:length], taps[0])
        for k in range(1, taps.shape[0]):
            out.addcmul_(padded[k:k + length], taps[k])
        ctx.save_for_backward(padded, taps)
        return out

    @staticmethod
    def backward(ctx, grad):
        padded, taps = ctx.saved_tensors
        length = grad.shape[0]
        g_padded, g_taps, work = torch.zeros_like(padded), torch.empty_like(taps), torch.empty_like(grad)
        for k in range(taps.shape[0]):
            g_padded[k:k + length].addcmul_(grad, taps[k])
            torch.sum(torch.mul(grad, padded[k:k + length], out=work), (0, 1), out=g_taps[k])
        return g_padded, g_taps.t(), grad.sum((0, 1))


class S6Block(nn.Module):
    """One Mamba block: in_proj, causal conv, SiLU, selective SSM, gate, out_proj."""

    def __init__(self, input_size: int, hidden: int, knobs: S6Knobs):
        super().__init__()
        inner, n, k = knobs.expand * hidden, knobs.state_size, knobs.conv_kernel
        self.inner, self.n, self.k = inner, n, k
        self.rank = math.ceil(hidden / 16) if knobs.dt_rank == "auto" else knobs.dt_rank
        self.in_proj = nn.Linear(input_size, 2 * inner, bias=False)
        # its weights (mamba's depthwise conv1d); run by _CausalConv, time first
        self.conv = nn.Conv1d(inner, inner, kernel_size=k, groups=inner, bias=True)
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
        """u: (T, batch, input), time first as the scan -> (out (T, batch, hidden), (ssm (batch, inner, N),
        conv (batch, inner, K-1)))."""
        h, buffer = state if state is not None else self.zero_state(u.shape[1], u)
        x, z = self.in_proj(u).chunk(2, dim=-1)  # (T, batch, inner) each
        padded = torch.cat([buffer.permute(2, 0, 1), x])  # (K-1+T, batch, inner): the last K-1 inputs first
        x = F.silu(_CausalConv.apply(padded, self.conv.weight.squeeze(1), self.conv.bias))
        delta, B, C = self._selection(x)
        A = -torch.exp(self.A_log)
        y, h = selective_scan(x, delta, A, B, C, h)
        y = (y + self.D * x) * F.silu(z)
        return self.out_proj(y), (h, padded[padded.shape[0] - (self.k - 1):].permute(1, 2, 0))

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
        (T, batch, 2·E·hidden) and the like, are never whole (at T = 1,000 they would be GBs each)."""
        steps = max(1, PIECE_ELEMENTS // (x.shape[0] * self.blocks[0].inner))
        u = x.transpose(0, 1)  # time first inside (S6Block.forward)
        if torch.is_grad_enabled() or x.shape[1] <= steps:
            out, state = self._forward(u, state)
            return out.transpose(0, 1), state
        outputs = []
        for piece in u.split(steps, dim=0):
            out, state = self._forward(piece, state)
            outputs.append(out)
        return torch.cat(outputs, dim=0).transpose(0, 1), state

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
