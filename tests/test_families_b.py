"""S6 (Mamba's selective SSM block) and expRNN: their two forms agree, they keep the recurrent interface,
train on every task, give the diagnostics a gradient profile, start from their papers' initialisation,
and a bad knob is one line."""
import math
import pytest
import torch

from suite.components import build_task
from suite.diagnostics import hidden_gradient_norms
from suite.errors import ConfigError, one_line
from suite.families.exprnn import ExpRNN
from suite.families.knobs import ExpRNNKnobs, S6Knobs
from suite.families.s6 import S6
from suite.model import build_model, count_parameters
from tasks.memory import MemoryTask
from tests.conftest import ROOT, TINY, compose_config, store_runs

FAMILIES = ["s6", "exprnn"]
TASKS = sorted(p.stem for p in (ROOT / "conf/task").glob("*.yaml"))


def tiny_s6(layers=1, **knobs):
    torch.manual_seed(0)
    return S6(5, 8, S6Knobs(layers=layers, state_size=4, **knobs)).double()


def gradients(module, x, out):
    """d(a fixed random functional of out)/d(every parameter and the input)."""
    weights = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(1))
    return torch.autograd.grad((out * weights).sum(), [x, *module.parameters()])


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("length", [1, 2, 7, 64])
def test_s6_scan_equals_its_step_form_outputs_and_gradients(length, layers):
    s6 = tiny_s6(layers)
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

    s6 = tiny_s6(layers=2)
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

def family(name, input_size=5, hidden=8, layers=1):
    torch.manual_seed(0)
    if name == "s6":
        return S6(input_size, hidden, S6Knobs(layers=layers, state_size=4))
    return ExpRNN(input_size, hidden, ExpRNNKnobs(layers=layers))


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("name", FAMILIES)
def test_running_in_pieces_passing_the_state_on_equals_the_whole_sequence(name, layers):
    cell = family(name, layers=layers).double()
    x = torch.randn(3, 9, 5, dtype=torch.float64)
    whole, final = cell(x)
    state, pieces = None, []
    for a, b in [(0, 3), (3, 4), (4, 9)]:
        out, state = cell(x[:, a:b], state)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), whole, rtol=1e-9, atol=1e-9)
    for p, q in zip(state if isinstance(state, tuple) else (state,), final if isinstance(final, tuple) else (final,)):
        assert p.shape[:2] == (layers, 3)
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", FAMILIES)
def test_each_trains_one_step_on_every_task(name, task):
    cfg = compose_config(f"task={task}", f"cell={name}", "seq_len=12", "hidden=8")
    task = build_task(cfg.task)
    torch.manual_seed(0)
    model = build_model(dict(cfg.cell), 8, task)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = task.sample(4, task.generator("train", 0))
    loss = task.loss(model(x), y)
    loss.backward()
    assert math.isfinite(float(loss.detach()))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    torch.optim.Adam(model.parameters(), lr=1e-3).step()
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), before))


@pytest.mark.parametrize("name", FAMILIES)
def test_the_diagnostics_read_a_finite_nonzero_gradient_at_every_step(name):
    task = MemoryTask(seq_len=12)
    torch.manual_seed(0)
    model = build_model({"name": name}, 8, task).double()
    x, y = task.sample(16, task.generator("eval", 0))
    norms, top = hidden_gradient_norms(model, task, x.double(), y)
    assert norms.shape == (task.length,) and torch.isfinite(norms).all() and (norms > 0).all(), norms
    assert top.shape == (16, task.length, 8)


# --- initialisation: the papers' recipes ---

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

# --- configs and knobs ---

@pytest.mark.parametrize("name, knobs", [("s6", S6Knobs), ("exprnn", ExpRNNKnobs)])
def test_the_config_composes_to_the_knobs_defaults(name, knobs):
    cfg = compose_config(f"cell={name}")
    assert dict(cfg.cell) == vars(knobs())
    assert compose_config(f"cell={name}", "cell.layers=2").cell.layers == 2


@pytest.mark.parametrize("cell, message", [
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
])
def test_a_bad_knob_is_one_line_naming_key_and_value(cell, message):
    with pytest.raises(ConfigError) as caught:
        build_model(cell, 8, MemoryTask(seq_len=5))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value), str(caught.value)


@pytest.mark.parametrize("override, message", [
    ("cell.state_sise=4", "state_sise"),
    ("cell.state_size=big", "cell.state_size"),
])
def test_a_misspelt_or_mistyped_knob_on_the_command_line_is_one_line(override, message):
    with pytest.raises(Exception) as caught:
        compose_config("cell=s6", override)
    line = one_line(caught.value)
    assert message in line and "\n" not in line, line


def test_a_job_trains_s6_and_exprnn_with_the_diagnostics_on(job, tmp_path):
    """What `python run.py cell=s6` does, in this process: a FINISHED run with its gradient profile."""
    for name in FAMILIES:
        job(f"cell={name}", *TINY, "diagnostics.every=2", output=name)
    runs = store_runs(tmp_path)
    assert sorted(runs["tags.cell"]) == FAMILIES[::-1] and (runs["status"] == "FINISHED").all()
    assert runs["metrics.grad_log10_ratio"].map(math.isfinite).all()

