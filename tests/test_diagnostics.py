"""Explicit cells match the fused ones; the gradient profile behaves as theory says."""
import math

import pytest
import torch
from torch import nn

from suite.config import TrainConfig
from suite.diagnostics import GradientDiagnostics, hidden_gradient_norms
from suite.explicit import ExplicitGRU, ExplicitLSTM, ExplicitRNN
from suite.model import RecurrentModel, build_model
from suite.train import train
from tasks.adding import AddingTask
from tasks.memory import MemoryTask

PAIRS = [(nn.RNN, ExplicitRNN), (nn.LSTM, ExplicitLSTM), (nn.GRU, ExplicitGRU)]


@pytest.mark.parametrize("fused_cls, explicit_cls", PAIRS, ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("inputs, hidden, layers", [(3, 4, 1), (5, 16, 1), (2, 7, 2)])
def test_explicit_cells_match_fused_outputs_states_and_gradients(fused_cls, explicit_cls, inputs, hidden, layers):
    torch.manual_seed(inputs * hidden + layers)
    fused = fused_cls(inputs, hidden, num_layers=layers, batch_first=True)
    explicit = explicit_cls(inputs, hidden, num_layers=layers)
    explicit.load_state_dict(fused.state_dict())
    x = torch.randn(4, 9, inputs)
    out_f, state_f = fused(x)
    out_e, state_e = explicit(x)
    torch.testing.assert_close(out_e, out_f, atol=1e-5, rtol=1e-5)
    for a, b in zip(state_e if isinstance(state_e, tuple) else (state_e,),
                    state_f if isinstance(state_f, tuple) else (state_f,)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    (out_f.square().sum() + out_f[:, -1].sum()).backward()
    (out_e.square().sum() + out_e[:, -1].sum()).backward()
    grads_f = dict(fused.named_parameters())
    for name, p in explicit.named_parameters():
        torch.testing.assert_close(p.grad, grads_f[name].grad, atol=1e-4, rtol=1e-4)


def test_explicit_lstm_exposes_its_gates():
    model = build_model({"name": "lstm_explicit", "forget_bias": 3.0}, 8, MemoryTask(seq_len=6))
    model.rnn.record_gates = True
    model(torch.zeros(2, 6, 16))
    assert model.rnn.gates["forget"].shape == (2, 6, 8)
    assert model.rnn.gates["forget"].mean() > 0.9  # sigmoid(3) = 0.95 with zero input and state


def memory_model(cell, hidden, seq_len, **init):
    task = MemoryTask(seq_len=seq_len)
    torch.manual_seed(0)
    return task, build_model({"name": cell, **init}, hidden, task)


def test_tanh_rnn_with_small_recurrent_weights_loses_the_gradient_geometrically():
    task, model = memory_model("rnn", 16, 30)
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(0.5 * torch.eye(16))  # every step multiplies by at most 0.5
    x, y = task.sample(64, task.generator("eval", 0))
    norms, _ = hidden_gradient_norms(model, task, x, y)
    assert (norms[1:] > norms[:-1]).all()  # falls at every step going back in time
    ratios = norms[:-1] / norms[1:]
    assert ratios.max() <= 0.5 + 1e-6  # at least the factor 0.5 of U per step
    assert math.log10(norms[0] / norms[-1]) < -8  # 29 steps: about 0.5^29 ≈ 2e-9 or less


def test_lstm_with_open_forget_gate_and_closed_input_gate_keeps_it_flat():
    task, model = memory_model("lstm", 16, 30)
    hidden = 16
    with torch.no_grad():
        model.rnn.bias_ih_l0.zero_()
        model.rnn.bias_hh_l0.zero_()
        model.rnn.bias_ih_l0[hidden : 2 * hidden] = 10.0  # forget gate ≈ 1
        model.rnn.bias_ih_l0[:hidden] = -10.0  # input gate ≈ 0
    x, y = task.sample(64, task.generator("eval", 0))
    norms, _ = hidden_gradient_norms(model, task, x, y)
    assert abs(math.log10(norms[0] / norms[-1])) < 0.5  # within a factor of ~3 across 30 steps


def direct_profile(rnn: nn.Module, head: nn.Module, task, x, y):
    """‖∂L/∂s_t‖ by a hand-written loop over the textbook formulas, one autograd call."""
    w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    h = x.new_zeros(x.shape[0], rnn.hidden_size)
    c = torch.zeros_like(h)
    nodes = []
    for t in range(x.shape[1]):
        pre = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        if isinstance(rnn, nn.LSTM):
            i, f, g, o = pre.chunk(4, dim=1)
            # The state is the pair (h_t, c_t), each read by the next step; h_t is computed from
            # its own copy of the new cell value, so c_t's gradient is that of the pair's coordinate.
            new_cell = lambda: torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # noqa: E731
            c, h = new_cell(), torch.sigmoid(o) * torch.tanh(new_cell())
            nodes.append((h, c))
        else:
            h = torch.tanh(pre)
            nodes.append((h,))
    loss = task.loss(head(h), y)
    grads = torch.autograd.grad(loss, [n for parts in nodes for n in parts], allow_unused=True,
                                materialize_grads=True)
    k = len(nodes[0])
    return torch.stack([torch.sqrt(sum((g ** 2).sum(-1) for g in grads[i : i + k])).mean()
                        for i in range(0, len(grads), k)])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_suite_profile_equals_a_direct_autograd_computation(cell):
    task, model = memory_model(cell, 6, 8)
    x, y = task.sample(5, task.generator("eval", 1))
    suite_norms, _ = hidden_gradient_norms(model, task, x, y)
    torch.testing.assert_close(suite_norms, direct_profile(model.rnn, model.head, task, x, y), rtol=1e-4, atol=1e-9)


def test_diagnostics_do_not_change_the_training_trajectory():
    task = AddingTask(seq_len=12)
    cfg = TrainConfig(steps=60, batch=16, eval_every=10, eval_size=64, early_stop=False)
    finals = []
    for diagnose in (False, True):
        torch.manual_seed(3)
        model = build_model({"name": "lstm", "forget_bias": "chrono"}, 8, task)
        hook = GradientDiagnostics(model, task, seed=3, device="cpu", every=10, batch=32) if diagnose else None
        result = train(model, task, cfg, seed=3, device=torch.device("cpu"), diagnose=hook, progress=False)
        finals.append(result.final)
        if diagnose:
            assert len(hook.profiles) == 6 and len(hook.profiles[0][1]) == 12
    assert finals[0] == finals[1]


@pytest.mark.parametrize("cell, stat", [("rnn", "saturated_fraction"), ("lstm", "forget_gate_mean"),
                                        ("gru", "update_gate_mean"), ("lstm_explicit", "forget_gate_mean")])
def test_diagnostic_metrics_per_cell(cell, stat):
    task, model = memory_model(cell, 8, 10)
    metrics = GradientDiagnostics(model, task, seed=0, device="cpu", every=100, batch=16)(100, last=False)
    assert {"grad_log10_ratio", "grad_log10_first", "grad_log10_last", "grad_log10_memory", stat} <= metrics.keys()
    assert 0.0 <= metrics[stat] <= 1.0


def test_forget_gate_statistic_matches_the_explicit_cells_gates():
    task, model = memory_model("lstm", 8, 10, forget_bias=2.0)
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=1, batch=16)
    explicit = RecurrentModel("lstm_explicit", task.input_size, 8, task.output_size, last_only=True)
    explicit.load_state_dict(model.state_dict())
    explicit.rnn.record_gates = True
    explicit(diag.x)
    assert diag(1, last=False)["forget_gate_mean"] == pytest.approx(float(explicit.rnn.gates["forget"].mean()), rel=1e-5)
