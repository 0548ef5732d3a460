"""The modern families (suite/families: every one in suite.families.knobs.FAMILY_KNOBS, so a new family is
covered here without a line added): each parallel form is its loop, running in pieces is the whole
sequence, they train on every task (the recurrent weights move, not only the head), their gradient profile
is measured, they start from their papers' initialisation, a bad knob is one line, and parameter counts
can be matched across cells."""
import dataclasses
import math

import pytest
import torch

from suite.model.cells import cell_config
from suite.config import TrainConfig
from suite.training.diagnostics import GradientDiagnostics, hidden_gradient_norms, step_by_step
from suite.errors import ConfigError, one_line
from suite.families.exprnn import ExpRNN
from suite.families.knobs import FAMILY_KNOBS, ExpRNNKnobs, S6Knobs
from suite.families.lru import linear_scan, parallel_scan
from suite.families.s6 import S6
from suite.families.scan import log_space_scan, sequential_scan
from suite.families.sizing import hidden_by_cell, matching_size, recurrent_parameters
from suite.model.recurrent import CELLS, _import, build_model, count_parameters
from suite.record import Metric
from suite.training.loop import train
from tasks.memory import MemoryTask
from tests.conftest import ROOT, TINY, compose_config, store_runs

FAMILIES = list(FAMILY_KNOBS)  # mingru, minlstm, lru, s6, exprnn, and whatever is registered next
# the families with a parallel form and a loop over time, chosen by the `scan` knob
SCANNED = [name for name, knobs in FAMILY_KNOBS.items() if "scan" in {f.name for f in dataclasses.fields(knobs)}]
# every family, each of its two forms where it has two
FORMS = [pytest.param(name, {"scan": scan}, id=f"{name}-{'scan' if scan else 'loop'}")
         for name in SCANNED for scan in (True, False)] + \
        [pytest.param(name, {}, id=name) for name in FAMILIES if name not in SCANNED]
TASKS = sorted(p.stem for p in (ROOT / "conf/task").glob("*.yaml"))


def family(name: str, input_size: int = 3, hidden: int = 5, dtype=torch.float64, **knobs):
    """The family's recurrent module alone, seeded, in float64 unless asked."""
    torch.manual_seed(0)
    spec = cell_config(name, {"name": name, **knobs})
    return _import(spec.module)(input_size, hidden, spec).to(dtype)


def scan_and_loop(name: str, **knobs):
    """The same weights in both forms."""
    scan = family(name, scan=True, **knobs)
    loop = family(name, scan=False, **knobs)
    loop.load_state_dict(scan.state_dict())
    return scan, loop


def parts(state):
    return state if isinstance(state, tuple) else (state,)


def gradients(module, x, out):
    """d(a fixed random functional of out)/d(every parameter and the input)."""
    weights = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(1))
    return torch.autograd.grad((out * weights).sum(), [x, *module.parameters()])


def test_every_family_config_is_a_registered_family():
    """conf/cell/*.yaml beyond the classic cells are exactly FAMILY_KNOBS: a family with a config is tested here."""
    assert {p.stem for p in (ROOT / "conf/cell").glob("*.yaml")} - CELLS.keys() == set(FAMILIES)


# --- the parallel form is the loop --------------------------------------------------------------------

@pytest.mark.parametrize("length", [1, 2, 7, 64])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("name", SCANNED)
@pytest.mark.parametrize("with_state", [False, True], ids=["from_zero", "from_a_state"])
def test_the_scan_equals_the_loop_in_outputs_states_and_gradients(name, layers, length, with_state):
    scan, loop = scan_and_loop(name, layers=layers)
    x = torch.randn(4, length, 3, dtype=torch.float64)
    state = None
    if with_state:  # a state the module itself reached (positive for minGRU/minLSTM, complex for the LRU)
        _, state = loop(torch.randn(4, 5, 3, dtype=torch.float64))
        state = state.detach().requires_grad_()
    results = []
    for module in (scan, loop):
        out, final = module(x, state)
        loss = out.square().sum() + out[:, -1].sum() + final.abs().square().sum()
        wrt = [*module.parameters(), *([state] if with_state else [])]
        # (at T = 1 from zero the LRU's λ is not used: its gradient is 0)
        results.append((out, final, torch.autograd.grad(loss, wrt, allow_unused=True, materialize_grads=True)))
    (out_s, final_s, grads_s), (out_l, final_l, grads_l) = results
    assert out_s.shape == (4, length, 5)
    assert final_s.shape[:2] == (layers, 4)
    torch.testing.assert_close(out_s, out_l, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(final_s, final_l, atol=1e-5, rtol=1e-5)
    for g_s, g_l in zip(grads_s, grads_l):
        torch.testing.assert_close(g_s, g_l, atol=1e-5, rtol=1e-5)


def test_the_log_space_scan_is_the_recurrence_and_carries_a_state_of_either_sign():
    """Against the recurrence written out, with h_0 negative (the scan never takes its logarithm), and at a
    length where the coefficients' product underflows float64 (a* < −750)."""
    torch.manual_seed(1)
    a, b = torch.rand(2, 1000, 3, dtype=torch.float64) * 0.5, torch.rand(2, 1000, 3, dtype=torch.float64)
    h0 = -torch.rand(2, 3, dtype=torch.float64)
    h, expected = h0, []
    for t in range(1000):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    expected = torch.stack(expected, dim=1)
    torch.testing.assert_close(log_space_scan(a.log(), b.log(), h0), expected, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(sequential_scan(a, b, h0), expected)


def test_the_lru_parallel_scan_is_the_recurrence():
    torch.manual_seed(2)
    lam = torch.polar(torch.rand(6, dtype=torch.float64), 6 * torch.rand(6, dtype=torch.float64))
    b = torch.randn(3, 37, 6, dtype=torch.complex128)
    x0 = torch.randn(3, 6, dtype=torch.complex128)
    torch.testing.assert_close(parallel_scan(lam, b, x0), linear_scan(lam, b, x0))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("length", [1, 2, 7, 64])
def test_s6_scan_equals_its_step_form_outputs_and_gradients(length, layers):
    s6 = family("s6", input_size=5, hidden=8, layers=layers, state_size=4)
    x = torch.randn(3, length, 5, dtype=torch.float64, requires_grad=True)
    whole, (ssm, conv) = s6(x)
    state, steps = None, []
    for t in range(length):
        out, state = s6.step(x[:, t], state)
        steps.append(out)
    steps = torch.stack(steps, dim=1)
    torch.testing.assert_close(steps, whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state[0], ssm, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state[1], conv, rtol=1e-5, atol=1e-5)
    for a, b in zip(gradients(s6, x, steps), gradients(s6, x, whole)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_s6_gives_the_same_in_chunks_of_time_and_without_gradients_in_pieces(monkeypatch):
    """The scan's chunks of time (CHUNK_ELEMENTS) and the no-gradient pieces (PIECE_ELEMENTS) bound memory at
    long T; made small here (5 and 7 steps at this size), they change no output, state or gradient."""
    import suite.families.s6 as s6_module

    s6 = family("s6", input_size=5, hidden=8, layers=2, state_size=4)
    x = torch.randn(3, 64, 5, dtype=torch.float64, requires_grad=True)
    whole, state = s6(x)
    grads = gradients(s6, x, whole)
    inner, n = s6.blocks[0].inner, s6.blocks[0].n
    monkeypatch.setattr(s6_module, "CHUNK_ELEMENTS", 5 * 3 * inner * n)
    chunked, chunked_state = s6(x)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    for a, b in zip([*chunked_state, *gradients(s6, x, chunked)], [*state, *grads]):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(s6_module, "PIECE_ELEMENTS", 7 * 3 * inner)
    with torch.no_grad():
        pieces, pieces_state = s6(x)
    for a, b in zip([pieces, *pieces_state], [whole, *state]):
        torch.testing.assert_close(a, b.detach(), rtol=1e-12, atol=1e-12)


# --- step by step, or in pieces, is the whole sequence ------------------------------------------------

@pytest.mark.parametrize("split", [
    pytest.param([(t, t + 1) for t in range(9)], id="step_by_step"),
    pytest.param([(0, 3), (3, 4), (4, 9)], id="in_pieces"),
])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("name, knobs", FORMS)
def test_running_in_pieces_passing_the_state_on_equals_the_whole_sequence(name, knobs, layers, split):
    module = family(name, layers=layers, **knobs)
    x = torch.randn(3, 9, 3, dtype=torch.float64)
    whole, final = module(x)
    state, outs = None, []
    for a, b in split:
        out, state = module(x[:, a:b], state)
        outs.append(out)
    torch.testing.assert_close(torch.cat(outs, dim=1), whole, rtol=1e-9, atol=1e-9)
    assert len(parts(state)) == len(parts(final))
    for p, q in zip(parts(state), parts(final)):
        assert p.shape[:2] == (layers, 3)
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", FAMILIES)
def test_the_diagnostics_step_by_step_gives_what_the_model_gives(name):
    task = MemoryTask(seq_len=8)
    torch.manual_seed(0)
    model = build_model({"name": name}, 6, task).double()
    x, _ = task.sample(4, task.generator("eval", 0))
    _, _, output = step_by_step(model, x.double())
    torch.testing.assert_close(output, model(x.double()))


# --- they train, and their gradient profile is measured ---------------------------------------------

@pytest.fixture(scope="module")
def tasks():
    """Every conf/task config, built by the suite's own builder (variants through their defaults list)."""
    from suite.model.components import build_task

    return {name: build_task(compose_config(f"task={name}", "seq_len=12").task) for name in TASKS}


@pytest.fixture(scope="module")
def cells():
    """Every family's cell config as conf/cell/<name>.yaml composes it."""
    return {name: dict(compose_config(f"cell={name}").cell) for name in FAMILIES}


@pytest.mark.parametrize("task_name", TASKS)
@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_trains_a_step_on_every_task_moving_its_recurrent_weights(name, task_name, tasks, cells):
    task = tasks[task_name]
    torch.manual_seed(0)
    model = build_model(cells[name], 8, task)
    # a finite loss, and a finite gradient reaching every trainable parameter
    x, y = task.sample(4, task.generator("train", 0))
    loss = task.loss(model(x), y)
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)
    # one step of the suite's training loop moves every weight of the recurrent module (model.rnn), not just the head
    rnn_before = {k: p.detach().clone() for k, p in model.rnn.named_parameters()}
    head_before = [p.detach().clone() for p in model.head.parameters()]
    cfg = TrainConfig(steps=1, batch=4, eval_every=1, eval_size=8)
    result = train(model, task, cfg, seed=0, device=torch.device("cpu"), progress=False)
    assert result.steps == 1 and math.isfinite(result.final["loss"])
    assert rnn_before, "model.rnn has no parameters"
    still = [k for k, p in model.rnn.named_parameters() if torch.equal(p, rnn_before[k])]
    assert not still, f"{name}: one training step left these recurrent weights where they were: {still}"
    assert any(not torch.equal(p, q) for p, q in zip(model.head.parameters(), head_before))


@pytest.mark.parametrize("name", FAMILIES)
def test_bf16_autocast_runs_the_recurrence_in_float32(name):
    task = MemoryTask(seq_len=6)
    torch.manual_seed(0)
    model = build_model({"name": name}, 8, task)
    cfg = TrainConfig(steps=2, batch=4, eval_every=1, eval_size=8, precision="bf16")
    assert math.isfinite(train(model, task, cfg, seed=0, device=torch.device("cpu"), progress=False).final["loss"])
    x, _ = task.sample(2, task.generator("eval", 0))
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        _, state = model.rnn(x)
    assert all(part.dtype in (torch.float32, torch.complex64) for part in parts(state))


@pytest.mark.parametrize("name", FAMILIES)
def test_gradient_norms_are_finite_and_nonzero_at_every_step(name):
    """As the run's diagnostics read them (GradientDiagnostics, float32), and directly in float64."""
    task = MemoryTask(seq_len=12)
    torch.manual_seed(0)
    model = build_model({"name": name}, 8, task)
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=1, batch=8)
    metrics = diag(1, last=False)
    norms = torch.tensor(diag.profiles[-1][1])
    assert norms.shape == (12,) and torch.isfinite(norms).all() and (norms > 0).all()
    assert math.isfinite(metrics[Metric.GRAD_LOG10_RATIO])
    x, y = task.sample(4, task.generator("eval", 0))
    norms, top = hidden_gradient_norms(model.double(), task, x.double(), y)
    assert norms.shape == (task.length,) and torch.isfinite(norms).all() and (norms > 0).all(), norms
    assert top.shape == (4, task.length, 8)


def lru_by_hand(model, x: torch.Tensor):
    """A one-layer LRU model by its equations in real arithmetic, each step's state a pair (Re x_t, Im x_t)
    of graph nodes: (the nodes, the model's output)."""
    rnn, layer = model.rnn, model.rnn.lrus[0]
    modulus, angle = torch.exp(-torch.exp(layer.nu_log)), torch.exp(layer.theta_log)
    lam_re, lam_im, gamma = modulus * torch.cos(angle), modulus * torch.sin(angle), torch.exp(layer.gamma_log)
    re = im = x.new_zeros(x.shape[0], rnn.state_size)
    nodes, outs = [], []
    for t in range(x.shape[1]):
        u = rnn.encoder(x[:, t])
        re, im = (lam_re * re - lam_im * im + gamma * (u @ layer.B_re.T),
                  lam_re * im + lam_im * re + gamma * (u @ layer.B_im.T))
        nodes.append((re, im))
        y = re @ layer.C_re.T - im @ layer.C_im.T + layer.D * u
        w1, w2 = layer.glu(torch.nn.functional.gelu(y)).chunk(2, dim=-1)
        outs.append(u + w1 * torch.sigmoid(w2))
    outs = torch.stack(outs, dim=1)
    return nodes, model.head(outs[:, -1] if model.last_only else outs)


def test_the_lru_gradient_profile_equals_a_direct_computation_on_real_and_imaginary_parts():
    """A complex state's ‖∂L/∂x_t‖ (|g|² summed) is that of its real and imaginary parts as two real nodes."""
    task = MemoryTask(seq_len=7)
    torch.manual_seed(0)
    model = build_model({"name": "lru", "state": 4}, 5, task).double()
    x, y = task.sample(3, task.generator("eval", 0))
    x = x.double()
    suite_norms, _ = hidden_gradient_norms(model, task, x, y)
    nodes, output = lru_by_hand(model, x)
    torch.testing.assert_close(output, model(x))
    grads = torch.autograd.grad(task.memory_loss(output, y), [n for pair in nodes for n in pair])
    by_hand = torch.stack([torch.sqrt(grads[i].square().sum(-1) + grads[i + 1].square().sum(-1)).mean()
                           for i in range(0, len(grads), 2)])
    assert (by_hand > 0).all()
    # the LRU's output is not its state: the profile is taken at the state each step enters (x_{t-1},
    # suite/training/diagnostics.py), so step t's norm is the by-hand norm of x_{t-1}
    torch.testing.assert_close(suite_norms[1:], by_hand[:-1])


def test_the_code_fingerprint_covers_a_familys_shared_module():
    """A resumed sweep reuses a minGRU run only if suite/families/scan.py (its base class's module) is unchanged."""
    from suite.reuse.fingerprint import code_modules

    task = MemoryTask(seq_len=5)
    assert {"suite.families.mingru", "suite.families.scan"} <= code_modules(task, build_model({"name": "mingru"}, 4,
                                                                                              task)).keys()
    assert "builtins" not in code_modules(task, build_model({"name": "lstm"}, 4, task))


def test_a_job_trains_every_family_with_the_diagnostics_on(job, tmp_path):
    """What `python run.py cell=<family>` does, in this process: a FINISHED run with its gradient profile."""
    for name in FAMILIES:
        job(f"cell={name}", *TINY, "diagnostics.every=2", output=name)
    runs = store_runs(tmp_path)
    assert sorted(runs["tags.cell"]) == sorted(FAMILIES) and (runs["status"] == "FINISHED").all()
    assert runs["metrics.grad_log10_ratio"].map(math.isfinite).all()


# --- initialisation: the papers' recipes ----------------------------------------------------------------

def test_the_lru_eigenvalues_start_on_the_ring_with_the_input_normalisation():
    module = family("lru", hidden=4, dtype=torch.float64, state=4000, r_min=0.5, r_max=0.8, max_phase=1.0)
    layer = module.lrus[0]
    lam = layer.eigenvalues().detach()
    modulus, phase = lam.abs(), lam.angle()
    assert modulus.min() >= 0.5 and modulus.max() <= 0.8
    assert phase.min() >= 0 and phase.max() <= 1.0
    # |λ|² uniform on [r_min², r_max²]: its mean is the midpoint (0.445), to ~3 standard errors
    assert abs(float((modulus ** 2).mean()) - (0.25 + 0.64) / 2) < 3 * 0.113 / math.sqrt(4000)
    torch.testing.assert_close(torch.exp(layer.gamma_log).detach(), torch.sqrt(1 - modulus ** 2))
    assert module.state_size == 4000 and layer.B_re.shape == (4000, 4) and layer.C_re.shape == (4, 4000)


def test_the_lru_defaults_and_the_state_following_hidden():
    knobs = cell_config("lru", {"name": "lru"})
    assert (knobs.r_min, knobs.r_max, knobs.state, knobs.glu) == (0.9, 0.999, None, True)
    assert family("lru", hidden=7).state_size == 7


def test_s6_starts_from_mambas_initialisation():
    knobs = S6Knobs()
    s6 = S6(64, 64, knobs)
    block = s6.blocks[0]
    assert count_parameters(s6) == 32_640  # mamba_ssm's block at d_model 64, expand 2, d_state 16
    assert block.rank == 4 and block.inner == 128 and block.conv.kernel_size == (4,)
    torch.testing.assert_close(-torch.exp(block.A_log), -torch.arange(1.0, 17.0).repeat(128, 1))
    assert torch.equal(block.D, torch.ones(128))
    dt = torch.nn.functional.softplus(block.dt_proj.bias.detach())
    assert dt.min() >= knobs.dt_min * (1 - 1e-5) and dt.max() <= knobs.dt_max * (1 + 1e-5)
    logs = torch.log10(dt)  # log-uniform over two decades: spread over them, not bunched at one end
    assert logs.min() < -2.7 and logs.max() > -1.3 and abs(float(logs.mean()) + 2) < 0.2
    assert s6.output_is_state is False


def test_s6_knobs_reach_the_block():
    s6 = S6(3, 32, S6Knobs(state_size=5, expand=3, conv_kernel=2, dt_rank=7, dt_min=0.01, dt_max=0.02, layers=2))
    block = s6.blocks[1]
    assert (block.inner, block.n, block.k, block.rank) == (96, 5, 2, 7)
    dt = torch.nn.functional.softplus(block.dt_proj.bias.detach())
    assert dt.min() >= 0.01 * (1 - 1e-5) and dt.max() <= 0.02 * (1 + 1e-5)
    out, (ssm, conv) = s6(torch.randn(2, 6, 3))
    assert out.shape == (2, 6, 32) and ssm.shape == (2, 2, 96, 5) and conv.shape == (2, 2, 96, 1)


@pytest.mark.parametrize("init", ["henaff", "cayley"])
def test_exprnn_starts_orthogonal_from_the_papers_skew_initialisation(init):
    torch.manual_seed(0)
    cell = ExpRNN(4, 9, ExpRNNKnobs(init=init))
    W = cell.recurrent[0].weight.detach()
    torch.testing.assert_close(W @ W.T, torch.eye(9), atol=1e-5, rtol=0)
    X = cell.recurrent[0].parametrizations.weight.original.detach()
    A = X.tril() - X.tril().T
    s = A[torch.arange(4) * 2, torch.arange(4) * 2 + 1]  # the 2x2 blocks' angles; unit 9 is left alone
    assert torch.count_nonzero(A) == 8 and torch.equal(A[8], torch.zeros(9))
    if init == "henaff":
        assert s.abs().max() <= math.pi
    else:  # -tan(u/2), u in [0, π/2]
        assert s.max() <= 0 and s.min() >= -1
    assert cell.bias.abs().max() <= 0.01
    assert count_parameters(cell) == 9 * 9 + 9 * 4 + 9  # torch stores X whole (the paper counts 9*8/2)


def test_exprnn_stays_orthogonal_after_training_steps():
    torch.manual_seed(0)
    cell = ExpRNN(4, 6, ExpRNNKnobs())
    optimiser = torch.optim.Adam(cell.parameters(), lr=0.1)
    for _ in range(3):
        optimiser.zero_grad()
        cell(torch.randn(2, 5, 4))[0].square().sum().backward()
        optimiser.step()
    W = cell.recurrent[0].weight.detach()
    torch.testing.assert_close(W @ W.T, torch.eye(6), atol=1e-5, rtol=0)


def test_exprnn_keeps_the_norm_of_its_state():
    """With no input and modReLU's bias at 0, h_t = h_{t-1} exp(A): orthogonal, so the norm stays, at any lag."""
    torch.manual_seed(0)
    cell = ExpRNN(4, 6, ExpRNNKnobs()).double()
    with torch.no_grad():
        cell.inputs[0].weight.zero_()
        cell.bias.zero_()
    h0 = torch.randn(1, 3, 6, dtype=torch.float64)
    _, h = cell(torch.zeros(3, 200, 4, dtype=torch.float64), h0)
    torch.testing.assert_close(h.norm(dim=-1), h0.norm(dim=-1), rtol=1e-9, atol=0)
    assert not torch.allclose(h, h0)  # it rotates


# --- configs and knobs: a bad knob is one line ----------------------------------------------------------

@pytest.mark.parametrize("name", FAMILIES)
def test_each_family_config_composes_to_its_dataclass(name):
    declared = vars(FAMILY_KNOBS[name]())
    assert dict(compose_config(f"cell={name}").cell) == declared
    cfg = compose_config(f"cell={name}", "cell.layers=2")
    assert cfg.cell.name == name and cfg.cell.layers == 2
    assert {k: v for k, v in cfg.cell.items() if k != "layers"} == {k: v for k, v in declared.items() if k != "layers"}


@pytest.mark.parametrize("cfg, message", [
    ({"name": "mingru", "scna": False}, "cell.scna=False: unknown key for a mingru cell"),
    ({"name": "lru", "r_mim": 0.1}, "cell.r_mim=0.1: unknown key for a lru cell"),
    ({"name": "lru", "r_min": 0.99, "r_max": 0.9}, "cell.r_min=0.99: must be below cell.r_max=0.9"),
    ({"name": "lru", "r_min": 0.5, "r_max": 0.5}, "cell.r_min=0.5: must be below cell.r_max=0.5"),
    ({"name": "lru", "r_min": -0.1}, "cell.r_min=-0.1: expected a number in [0, 1)"),
    ({"name": "lru", "r_max": 1.5}, "cell.r_max=1.5: expected a number in (0, 1]"),
    ({"name": "lru", "state": 0}, "cell.state=0: expected an integer >= 1"),
    ({"name": "lru", "state": 2.5}, "cell.state=2.5: expected an integer >= 1"),
    ({"name": "lru", "max_phase": 0.0}, "cell.max_phase=0.0: expected a number in (0, 2π]"),
    ({"name": "lru", "max_phase": "pi"}, "cell.max_phase='pi': expected a finite number"),
    ({"name": "minlstm", "layers": 0}, "cell.layers=0: expected an integer >= 1"),
    ({"name": "mingru", "scan": "yes"}, "cell.scan='yes': expected true or false"),
    ({"name": "s6", "state_size": 0}, "cell.state_size=0: expected an integer >= 1"),
    ({"name": "s6", "expand": 0}, "cell.expand=0: expected an integer >= 1"),
    ({"name": "s6", "conv_kernel": 0}, "cell.conv_kernel=0: expected an integer >= 1"),
    ({"name": "s6", "dt_min": 0.2}, "cell.dt_min=0.2: expected below cell.dt_max=0.1"),
    ({"name": "s6", "dt_min": 0.0}, "cell.dt_min=0.0: expected a number > 0"),
    ({"name": "s6", "dt_max": -1.0}, "cell.dt_max=-1.0: expected a number > 0"),
    ({"name": "s6", "dt_rank": 0}, "cell.dt_rank=0: expected 'auto' or an integer >= 1"),
    ({"name": "s6", "dt_rank": "full"}, "cell.dt_rank='full': expected 'auto' or an integer >= 1"),
    ({"name": "s6", "layers": 0}, "cell.layers=0: expected an integer >= 1"),
    ({"name": "exprnn", "init": "haar"}, "cell.init='haar': expected one of henaff, cayley"),
    ({"name": "exprnn", "layers": 0}, "cell.layers=0: expected an integer >= 1"),
    ({"name": "s6", "state_sise": 4}, "cell.state_sise=4: unknown key for a s6 cell"),
    ({"name": "exprnn", "inti": "cayley"}, "cell.inti='cayley': unknown key for a exprnn cell"),
    # the initialisation knobs that follow the task's length (tests/test_family_init.py)
    ({"name": "mingru", "gate_bias": "chorno"}, "cell.gate_bias='chorno': expected a number, 'chrono' or null"),
    ({"name": "minlstm", "gate_bias": True}, "cell.gate_bias=True: expected a number, 'chrono' or null"),
    ({"name": "mingru", "gate_bias": math.inf}, "cell.gate_bias=inf: expected a number, 'chrono' or null"),
    ({"name": "lru", "r_max": "autp"}, "cell.r_max='autp': expected a number in (0, 1] or 'auto'"),
    ({"name": "lru", "r_max": math.nan}, "cell.r_max=nan: expected a number in (0, 1] or 'auto'"),
    ({"name": "lru", "r_max": "auto", "r_min": 1.0}, "cell.r_min=1.0: expected a number in [0, 1)"),
    # auto at the task's length (5): 1 - 1/5 = 0.8, not above the default r_min
    ({"name": "lru", "r_max": "auto"}, "cell.r_max='auto': 1 - 1/T = 0.8 at the task's length T=5, not above "
                                       "cell.r_min=0.9; lower cell.r_min"),
    ({"name": "lru", "r_max": "auto", "r_min": 0.8}, "cell.r_max='auto': 1 - 1/T = 0.8 at the task's length T=5"),
])
def test_a_bad_knob_is_one_line_naming_key_and_value(cfg, message):
    with pytest.raises(ConfigError) as caught:
        build_model(cfg, 8, MemoryTask(seq_len=5))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value), str(caught.value)


def test_a_bad_knob_on_the_command_line_is_caught_before_training():
    """What run.py does before creating a run: compose (Hydra types the knobs), then build."""
    from suite.job import prepare

    with pytest.raises(ConfigError, match=r"^cell\.r_min=0\.99: must be below cell\.r_max=0\.9$"):
        prepare(compose_config("cell=lru", "cell.r_min=0.99", "cell.r_max=0.9", "device=cpu"))
    with pytest.raises(ConfigError, match=r"^cell\.gate_bias='slow': expected a number, 'chrono' or null"):
        prepare(compose_config("cell=mingru", "cell.gate_bias=slow", "device=cpu"))


@pytest.mark.parametrize("override, message", [
    ("cell.state_sise=4", "state_sise"),
    ("cell.state_size=big", "cell.state_size"),
])
def test_a_misspelt_or_mistyped_knob_on_the_command_line_is_one_line(override, message):
    with pytest.raises(Exception) as caught:
        compose_config("cell=s6", override)
    line = one_line(caught.value)
    assert message in line and "\n" not in line, line


# --- matching parameter counts ------------------------------------------------------------------------

def test_the_counts_are_the_papers_formulae():
    i, h, n = 16, 64, 32
    assert recurrent_parameters({"name": "lstm"}, h, i) == 4 * h * (i + h) + 8 * h
    assert recurrent_parameters({"name": "gru"}, h, i) == 3 * h * (i + h) + 6 * h
    assert recurrent_parameters({"name": "rnn"}, h, i) == h * (i + h) + 2 * h
    assert recurrent_parameters({"name": "mingru", "layers": 2}, h, i) == 2 * h * (i + 1) + 2 * h * (h + 1)
    assert recurrent_parameters({"name": "minlstm"}, h, i) == 3 * h * (i + 1)
    lru = 4 * n * h + 3 * n + h
    assert recurrent_parameters({"name": "lru", "state": n, "glu": False}, h, i) == lru + i * h + h
    assert recurrent_parameters({"name": "lru", "state": n}, h, i) == lru + 2 * h * h + 2 * h + i * h + h
    task = MemoryTask(seq_len=5)
    model = build_model({"name": "lru", "state": n}, h, task)
    assert count_parameters(model) == recurrent_parameters({"name": "lru", "state": n}, h, i) + \
        h * task.output_size + task.output_size  # the rest is the head


def test_every_cell_matches_the_lstm_within_five_percent():
    cells = ["rnn", "lstm", "gru", "rnn_explicit", *FAMILIES]
    target = recurrent_parameters({"name": "lstm"}, 64, 16)
    sizes = hidden_by_cell(cells, "lstm", 64, input_size=16)
    assert sizes["lstm"] == 64 and sizes["rnn"] == sizes["rnn_explicit"]
    for cell, hidden in sizes.items():
        count = recurrent_parameters({"name": cell}, hidden, 16)
        assert abs(count - target) <= 0.05 * target, (cell, hidden, count)
        # the nearest: one unit more or less is no closer
        for other in (hidden - 1, hidden + 1):
            assert abs(recurrent_parameters({"name": cell}, other, 16) - target) >= abs(count - target)


def test_a_size_knob_can_be_matched_and_an_impossible_target_is_one_line():
    target = recurrent_parameters({"name": "lstm"}, 64, 16)
    state = matching_size({"name": "lru"}, target, 16, key="state", hidden=32)
    assert abs(recurrent_parameters({"name": "lru", "state": state}, 32, 16) - target) <= 0.05 * target
    with pytest.raises(ConfigError, match=r"^cell.name='lstm': no hidden from 1 to 4 gives 20,992 parameters"):
        matching_size({"name": "lstm"}, target, 16, high=4)
