"""Why a cell forgets: the gradient that reaches each time step, and gate statistics.

At some evaluation points (never in the hot loop) one held-out batch is run
through the model's own recurrent module *one step at a time*, so that every
state is a node of the autograd graph, and ‖∂L/∂h_t‖ is read for t = 1..T (the
total derivative: through the output at t and through all later steps; for the
LSTM, of the whole state (h_t, c_t)). In a tanh RNN it is a product of T−t
Jacobians diag(1−h²)·U and falls geometrically going back in time (Bengio et al. 1994;
Pascanu et al. 2013); the LSTM's additive cell state, with forget gates near 1, keeps it from vanishing.

What is differentiated is the task's `memory_loss`, the loss term that needs the remembered
information, not the whole training loss: for a task scored at every step (copy), step 1's own
output loss would reach h_1 directly and the ratio ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖ would not measure what
crosses the lag.

When: at the first evaluation point (step train.eval_every), at the first evaluation point past each
multiple of `every`, and at the last one. The first one is logged a second time under Metric.FIRST_EVAL's
names, at that step only: a run's last measurement is its early stop when it solved and its step budget
when it did not, so comparing last values would compare seeds at different points of training, while
every run reaches the first evaluation point (early stopping happens only at evaluation points).

Nothing here touches the parameters' `.grad` or the training data stream, so
turning diagnostics on does not change the training trajectory.
"""
from __future__ import annotations

import copy
import io

import torch

from suite.record import Metric
from suite.training.gradient_ratio import log10_norm, log10_ratio
from tasks.base import Task

SATURATED = 0.99  # |h| above this: a tanh unit whose derivative 1 - h² is below 0.02


def _parts(state) -> tuple[torch.Tensor, ...]:
    """The tensors of a torch-style recurrent state: (h,) or, for the LSTM, (h, c)."""
    return tuple(state) if isinstance(state, tuple) else (state,)


def _zeros_like(state):
    """The zero state shaped as `state`, each part a leaf whose gradient can be asked for."""
    zeros = tuple(torch.zeros_like(p, requires_grad=True) for p in _parts(state))
    return zeros if isinstance(state, tuple) else zeros[0]


def step_by_step(model, x: torch.Tensor):
    """Run model.rnn one step at a time; returns each step's state (graph nodes the next step
    reads, so their gradients are total derivatives) and the output as model.forward gives it.

    A cell whose output is not its state (`output_is_state = False`) computes its output y_t inside
    the step, upstream of the state it returns: the returned s_t feeds the later steps only, and at
    the last step nothing (its gradient is 0 there, on every task scored at the end). For such a
    cell the state recorded for step t is the one it *enters* with, s_{t-1} (s_0 the zero state the
    cell starts from, suite/model/contract.py), whose gradient is the total derivative through y_t and
    every later step: the profile is the gradient reaching each step, one state earlier.
    """
    entering = not getattr(model.rnn, "output_is_state", True)
    state, states, outputs = None, [], []
    for t in range(x.shape[1]):
        if entering:
            if state is None:
                state = _zeros_like(model.rnn(x[:, :1])[1])
            states.append(_parts(state))
        out, state = model.rnn(x[:, t : t + 1], state)
        if not entering:
            states.append(_parts(state))
        outputs.append(out)
    # What the head reads, (batch, T, hidden): h_t of the last layer, taken from the state so that the
    # state's gradient includes the path through the output (torch's fused cells return their output
    # and state as separate tensors). A cell whose output is not its state (a state-space model's
    # y_t = Re(C h_t) + D x_t) says so with `output_is_state = False`, and its outputs are read.
    if getattr(model.rnn, "output_is_state", True):
        top = torch.stack([parts[0][-1] for parts in states], dim=1)
    else:
        top = torch.cat(outputs, dim=1)
    output = model.head(top[:, -1] if model.last_only else top)
    return states, top, output


def hidden_gradient_norms(model, task: Task, x: torch.Tensor, y: torch.Tensor):
    """‖∂L/∂s_t‖ per time step, mean over the batch, and the last layer's h_t; L is task.memory_loss.

    s_t is the whole recurrent state of the last layer: h_t for the RNN and GRU, and the
    pair (h_t, c_t) for the LSTM (each an input of the next step), whose memory is carried
    by c_t: with the forget gate near 1 the gradient reaches early steps through c while
    its h part alone can be tiny.
    """
    with torch.enable_grad():
        states, top, output = step_by_step(model, x)
        # The LSTM's last c_T feeds nothing (the head reads h_T): its gradient is zero, not missing.
        grads = torch.autograd.grad(task.memory_loss(output, y), [p for parts in states for p in parts],
                                    allow_unused=True, materialize_grads=True)
    k = len(states[0])
    per_step = [grads[i : i + k] for i in range(0, len(grads), k)]
    # Each state part is laid out as torch's, (layers, batch, ...): the last layer's, all its numbers
    # (a state-space model's state is (batch, channels, N)), norm per sequence, mean over the batch.
    # |g|², not g²: a complex state (the LRU's) has a complex gradient, whose modulus is the real one's.
    norms = torch.stack([torch.sqrt(sum((g[-1].flatten(1).abs() ** 2).sum(-1) for g in parts)).mean()
                         for parts in per_step])
    return norms.detach(), top.detach()


def _gate(model, x, states, gate: int) -> torch.Tensor:
    """Layer-0 gate activation σ(W x_t + b + U h_{t-1} + b') for every t, from the weights.
    Gate 1 is the LSTM's forget gate and the GRU's update gate in torch's order."""
    hidden = model.rnn.hidden_size
    rows = slice(gate * hidden, (gate + 1) * hidden)
    w_ih, w_hh = model.rnn.weight_ih_l0[rows], model.rnn.weight_hh_l0[rows]
    b = model.rnn.bias_ih_l0[rows] + model.rnn.bias_hh_l0[rows]
    previous = torch.cat([torch.zeros_like(states[:1]), states[:-1]])  # h_{t-1}, layer 0, (T, batch, hidden)
    return torch.sigmoid(x @ w_ih.T + b + previous.transpose(0, 1) @ w_hh.T)


def _as_double(y: torch.Tensor) -> torch.Tensor:
    return y.double() if y.is_floating_point() else y  # class indices stay integers


class GradientDiagnostics:
    """Measures at evaluation points and keeps every profile for the run's artifacts."""

    def __init__(self, model, task: Task, seed: int, device, every: int, batch: int = 128):
        self.model, self.task, self.every = model, task, every
        # Its own held-out batch and generator: the training stream is left untouched.
        self.x, self.y = task.sample(batch, task.generator("eval", seed, device))
        self.profiles: list[tuple[int, list[float]]] = []
        self.next_at = every
        self.first_eval_step: int | None = None  # the step of the first call: the first evaluation point

    def __call__(self, step: int, last: bool) -> dict[str, float]:
        """Measure at the first call (train's first evaluation point), at the first evaluation point
        past each multiple of `every`, and at the last one; the first measurement also under Metric.FIRST_EVAL."""
        first = self.first_eval_step is None
        if not first and step < self.next_at and not last:
            return {}
        if first:
            self.first_eval_step = step
        self.next_at = (step // self.every + 1) * self.every
        # In float64: a vanished gradient is ~1e-40 and beyond at long lags, under float32's range
        # (and flushed to 0 with denormals off), which would turn the ratio into a mere bound.
        probe = copy.deepcopy(self.model).double()
        norms, states = hidden_gradient_norms(probe, self.task, self.x.double(), _as_double(self.y))
        norms = norms.cpu()
        self.profiles.append((step, norms.tolist()))
        at = min(self.task.remember_at, len(norms) - 1)
        first_t, final, memory = (log10_norm(norms[i]) for i in (0, -1, at))
        gradient = {
            Metric.GRAD_LOG10_FIRST: first_t, Metric.GRAD_LOG10_LAST: final, Metric.GRAD_LOG10_MEMORY: memory,
            # orders of magnitude the learning signal loses across the lag
            Metric.GRAD_LOG10_RATIO: log10_ratio(norms[0], norms[-1]),
        }
        metrics = {**gradient, **({Metric.FIRST_EVAL[k]: v for k, v in gradient.items()} if first else {})}
        metrics.update(self.gate_statistics(probe, states))
        return metrics

    @torch.no_grad()
    def gate_statistics(self, model, states: torch.Tensor) -> dict[str, float]:
        kind = model.kind
        if kind == "rnn":
            return {Metric.SATURATED_FRACTION: float((states.abs() > SATURATED).float().mean())}
        if kind not in ("lstm", "gru") or model.rnn.num_layers != 1:
            return {}  # gates are recomputed from layer 0's states with torch's layout: one-layer LSTM/GRU only
        layer0 = states.transpose(0, 1)  # (T, batch, hidden)
        gate = float(_gate(model, self.x.to(states.dtype), layer0, 1).mean())
        return {Metric.FORGET_GATE_MEAN if kind == "lstm" else Metric.UPDATE_GATE_MEAN: gate}

    def profile_csv(self) -> str:
        out = io.StringIO()
        out.write("step,t,grad_norm\n")
        for step, norms in self.profiles:
            out.writelines(f"{step},{t + 1},{value:.6g}\n" for t, value in enumerate(norms))
        return out.getvalue()
