"""Explicit cells match the fused ones; the gradient profile behaves as theory says."""
import copy
import math

import pytest
import torch
from torch import nn

from suite.config import TrainConfig
from suite.training.diagnostics import SATURATED, GradientDiagnostics, hidden_gradient_norms
from suite.model.explicit import ExplicitGRU, ExplicitLSTM, ExplicitRNN
from suite.model.recurrent import RecurrentModel, build_model
from suite.record import Metric
from suite.training.loop import train
from tasks.adding import AddingTask
from tasks.assoc_recall import AssocRecallTask
from tasks.copy import CopyTask
from tasks.memory import MemoryTask
from tasks.selective_copy import SelectiveCopyTask
from tests.conftest import TINY, store_runs

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


def textbook(kind: str, rnn: nn.Module, x: torch.Tensor):
    """Layer 0 run by the textbook formulas from torch's weights (gates in torch's order): each step's
    state nodes, its h_t, and the gate the diagnostics report (the LSTM's forget gate, the GRU's update gate)."""
    w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    h = x.new_zeros(x.shape[0], rnn.hidden_size)
    c = torch.zeros_like(h)
    nodes, hs, gates = [], [], []
    for t in range(x.shape[1]):
        if kind == "lstm":
            i, f, g, o = (x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
            # The state is the pair (h_t, c_t), each read by the next step; h_t is computed from
            # its own copy of the new cell value, so c_t's gradient is that of the pair's coordinate.
            new_cell = lambda: torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # noqa: E731
            c, h = new_cell(), torch.sigmoid(o) * torch.tanh(new_cell())
            nodes.append((h, c))
            gates.append(torch.sigmoid(f))
        elif kind == "gru":
            x_r, x_z, x_n = (x[:, t] @ w_ih.T + b_ih).chunk(3, dim=1)
            h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=1)
            r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
            h = (1 - z) * torch.tanh(x_n + r * h_n) + z * h
            nodes.append((h,))
            gates.append(z)
        else:
            h = torch.tanh(x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
            nodes.append((h,))
        hs.append(h)
    return nodes, torch.stack(hs, dim=1), torch.stack(gates, dim=1) if gates else None


def direct_profile(model: RecurrentModel, task, x, y, loss=None):
    """‖∂L/∂s_t‖ by a hand-written loop over the textbook formulas, one autograd call; L is
    task.memory_loss unless `loss` is given."""
    nodes, hs, _ = textbook(model.kind, model.rnn, x)
    output = model.head(hs[:, -1] if model.last_only else hs)
    grads = torch.autograd.grad((loss or task.memory_loss)(output, y), [n for parts in nodes for n in parts],
                                allow_unused=True, materialize_grads=True)
    k = len(nodes[0])
    return torch.stack([torch.sqrt(sum((g ** 2).sum(-1) for g in grads[i : i + k])).mean()
                        for i in range(0, len(grads), k)])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_suite_profile_equals_a_direct_autograd_computation(cell):
    task, model = memory_model(cell, 6, 8)
    x, y = task.sample(5, task.generator("eval", 1))
    suite_norms, _ = hidden_gradient_norms(model, task, x, y)
    torch.testing.assert_close(suite_norms, direct_profile(model, task, x, y), rtol=1e-4, atol=1e-9)


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


def independent_statistic(model: RecurrentModel, x: torch.Tensor) -> float:
    """The gate statistic recomputed from the weights by the textbook formulas, in float64 as the diagnostics."""
    double = copy.deepcopy(model).double()
    with torch.no_grad():
        _, hs, gates = textbook(model.kind, double.rnn, x.double())
    return float((hs.abs() > SATURATED).double().mean()) if model.kind == "rnn" else float(gates.mean())


# A tanh RNN whose recurrent matrix is 0.1 x an orthogonal one: ‖diag(1-h²) U‖ <= 0.1, so 9 steps back
# the gradient is at most 10^-9 of h_T's; the chrono-initialised gated cells keep it within ~10^-1.
RATIO_RANGE = {"rnn": (-math.inf, -9.0), "lstm": (-2.0, 2.0), "gru": (-2.0, 2.0), "lstm_explicit": (-2.0, 2.0)}


@pytest.mark.parametrize("cell, stat", [("rnn", Metric.SATURATED_FRACTION), ("lstm", Metric.FORGET_GATE_MEAN),
                                        ("gru", Metric.UPDATE_GATE_MEAN), ("lstm_explicit", Metric.FORGET_GATE_MEAN)])
def test_diagnostic_metrics_per_cell(cell, stat):
    task, model = memory_model(cell, 8, 10)
    if cell == "rnn":
        with torch.no_grad():
            model.rnn.weight_hh_l0.mul_(0.1)  # orthogonal at init: now every step shrinks by at least 10x
            model.rnn.weight_ih_l0.mul_(8.0)  # large inputs: some units saturate, so the fraction is not just 0
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=100, batch=16)
    metrics = diag(100, last=False)
    norms = diag.profiles[-1][1]  # the profile the test above checks against a direct computation
    assert metrics[Metric.GRAD_LOG10_FIRST] == pytest.approx(math.log10(norms[0]))
    assert metrics[Metric.GRAD_LOG10_LAST] == pytest.approx(math.log10(norms[-1]))
    assert metrics[Metric.GRAD_LOG10_MEMORY] == metrics[Metric.GRAD_LOG10_FIRST]  # memory: the symbol is at t=1
    assert metrics[Metric.GRAD_LOG10_RATIO] == pytest.approx(math.log10(norms[0] / norms[-1]))
    low, high = RATIO_RANGE[cell]
    assert low < metrics[Metric.GRAD_LOG10_RATIO] < high
    assert metrics[stat] == pytest.approx(independent_statistic(model, diag.x), rel=1e-6)
    assert 0.0 < metrics[stat] < 1.0  # not a degenerate value that any wrong statistic would also hit
    # the first call is the first evaluation point: measured, and logged under the first-eval names too
    assert {Metric.FIRST_EVAL[k]: metrics[k] for k in Metric.FIRST_EVAL} == \
           {k: metrics[k] for k in Metric.FIRST_EVAL.values()}


def test_a_vanishing_rnn_and_a_chrono_lstm_are_orders_of_magnitude_apart():
    """What the summary's "why" line rests on: the same task and lag, the tanh RNN's ratio far below the LSTM's."""
    ratios = {}
    for cell in ("rnn", "lstm"):
        task, model = memory_model(cell, 8, 20)
        if cell == "rnn":
            with torch.no_grad():
                model.rnn.weight_hh_l0.mul_(0.3)
        ratios[cell] = GradientDiagnostics(model, task, seed=0, device="cpu", every=1)(1, last=False)[
            Metric.GRAD_LOG10_RATIO]
    assert ratios["rnn"] < 19 * math.log10(0.3) < -9  # 19 steps, each shrinking by at least 0.3
    assert ratios["lstm"] > ratios["rnn"] + 8


class RecallOnlyCopy(CopyTask):
    """Copy whose memory_loss keeps the recalled positions only (the loss terms that need the first n_copy inputs)."""

    def memory_loss(self, output, target):
        return self.loss(output[:, -self.n_copy :], target[:, -self.n_copy :])


def test_the_diagnostics_differentiate_the_tasks_memory_loss():
    task = RecallOnlyCopy(seq_len=6, symbols=3, n_copy=2)
    torch.manual_seed(0)
    model = build_model({"name": "rnn"}, 8, task)
    with torch.no_grad():
        model.rnn.weight_hh_l0.mul_(0.2)
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=1, batch=16)
    ratio = diag(1, last=False)[Metric.GRAD_LOG10_RATIO]
    double = copy.deepcopy(model).double()
    x, y = diag.x.double(), diag.y
    by_hand = direct_profile(double, task, x, y)
    assert ratio == pytest.approx(math.log10(by_hand[0] / by_hand[-1]), rel=1e-6)
    # The whole loss would score step 1's own output, whose gradient reaches h_1 directly: a different,
    # much larger ratio, which says nothing about the lag.
    whole = direct_profile(double, task, x, y, loss=task.loss)
    assert math.log10(whole[0] / whole[-1]) > ratio + 3


@pytest.mark.parametrize("make", [lambda: SelectiveCopyTask(seq_len=7, symbols=3, n_copy=2),
                                  lambda: AssocRecallTask(seq_len=9, n_pairs=2, n_queries=2, vocab=3)],
                         ids=["selective_copy", "assoc_recall"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_the_diagnostics_work_on_tasks_scored_at_their_last_steps(make, cell):
    """Selective copy and associative recall score a few outputs at the end (their memory_loss is their loss):
    the suite's ratio is the hand-computed profile's, every number finite, and the first step's gradient is
    not zero (it reaches step 1 across the lag, not through step 1's own output)."""
    task = make()
    torch.manual_seed(0)
    model = build_model({"name": cell}, 8, task)
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=1, batch=16)
    metrics = diag(1, last=False)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    by_hand = direct_profile(copy.deepcopy(model).double(), task, diag.x.double(), diag.y)
    assert len(by_hand) == task.length and (by_hand > 0).all()
    assert metrics[Metric.GRAD_LOG10_RATIO] == pytest.approx(math.log10(by_hand[0] / by_hand[-1]), rel=1e-6, abs=1e-9)


class SolvedAtThirdEvaluation(MemoryTask):
    """Solved from its third evaluation on, whatever the model: an early stop at a known step."""

    def __init__(self, seq_len: int, solvable: bool = True):
        super().__init__(seq_len=seq_len)
        self.solvable, self.evaluations = solvable, 0

    def solved(self, metrics):
        self.evaluations += 1
        return self.solvable and self.evaluations >= 3


@pytest.mark.parametrize("solvable, end", [(True, 30), (False, 80)], ids=["early_stop", "to_the_end"])
def test_the_first_eval_measurement_is_logged_at_step_eval_every_only(solvable, end):
    """Whether a run stops early or runs its budget, its first-eval metrics are the measurement at
    step eval_every, logged there once; the schedule (every 25: steps 30, 50, 80) and the last one go on."""
    task = SolvedAtThirdEvaluation(seq_len=8, solvable=solvable)
    torch.manual_seed(0)
    model = build_model({"name": "rnn"}, 8, task)
    logged = []
    hook = GradientDiagnostics(model, task, seed=0, device="cpu", every=25, batch=16)
    cfg = TrainConfig(steps=80, batch=8, eval_every=10, eval_size=32)
    result = train(model, task, cfg, seed=0, device=torch.device("cpu"), diagnose=hook, progress=False,
                   log=lambda step, metrics: logged.append((step, metrics)))
    assert result.steps == end
    at = lambda name: {step: m[name] for step, m in logged if name in m}  # noqa: E731
    for name, first_eval in Metric.FIRST_EVAL.items():
        assert at(first_eval) == {10: at(name)[10]}, name
    assert sorted(at(Metric.GRAD_LOG10_RATIO)) == [10, 30] + ([50, 80] if end == 80 else [])


def test_search_runs_gives_the_first_eval_value(job, tmp_path):
    """Through MLflow: search_runs (a metric's last value) returns the measurement at step eval_every."""
    from mlflow.tracking import MlflowClient

    result = job("task=memory", "cell=rnn", *TINY, "train.steps=6", "diagnostics.every=4")
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    history = lambda name: [(m.step, m.value) for m in client.get_metric_history(result["run_id"], name)]  # noqa
    ratio = history(Metric.GRAD_LOG10_RATIO)
    assert [step for step, _ in ratio] == [2, 4, 6]
    assert history(Metric.GRAD_LOG10_RATIO_FIRST_EVAL) == [ratio[0]]
    assert store_runs(tmp_path).iloc[0][f"metrics.{Metric.GRAD_LOG10_RATIO_FIRST_EVAL}"] == ratio[0][1]


def test_forget_gate_statistic_matches_the_explicit_cells_gates():
    task, model = memory_model("lstm", 8, 10, forget_bias=2.0)
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=1, batch=16)
    explicit = RecurrentModel("lstm_explicit", task.input_size, 8, task.output_size, last_only=True)
    explicit.load_state_dict(model.state_dict())
    explicit.rnn.record_gates = True
    explicit(diag.x)
    expected = float(explicit.rnn.gates["forget"].mean())
    assert diag(1, last=False)[Metric.FORGET_GATE_MEAN] == pytest.approx(expected, rel=1e-5)


class _Tanh(nn.Module):
    """h_t = tanh(W x_t + U h_{t-1}), torch's recurrent interface, its output its state."""

    def __init__(self, input_size, hidden):
        super().__init__()
        self.hidden_size = hidden
        self.inp, self.rec = nn.Linear(input_size, hidden), nn.Linear(hidden, hidden, bias=False)

    def forward(self, x, state=None):
        h = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state[-1]
        outputs = []
        for t in range(x.shape[1]):
            h = torch.tanh(self.inp(x[:, t]) + self.rec(h))
            outputs.append(h)
        return torch.stack(outputs, dim=1), h[None]


class _TanhReadOut(_Tanh):
    output_is_state = False  # the same numbers, read as a state-space model's are


def test_a_cell_whose_output_is_not_its_state_is_profiled_at_the_state_each_step_enters():
    """Its y_t is computed inside the step, upstream of the state it returns, so the returned s_T feeds
    nothing: its profile is taken at the state each step enters, h_{t-1} (the total derivative through
    y_t and every later step), which is the output_is_state profile one step earlier, and non-zero at T."""
    task = MemoryTask(seq_len=8)
    torch.manual_seed(0)
    model = RecurrentModel("tanh", task.input_size, 6, task.output_size, last_only=True,
                           rnn=_Tanh(task.input_size, 6)).double()
    x, y = task.sample(16, task.generator("eval", 0))
    as_state, _ = hidden_gradient_norms(model, task, x.double(), y)
    model.rnn.__class__ = _TanhReadOut
    entering, top = hidden_gradient_norms(model, task, x.double(), y)
    torch.testing.assert_close(entering[1:], as_state[:-1], rtol=1e-10, atol=0)
    assert (entering > 0).all() and top.shape == (16, 8, 6)
