"""The modern families' initialisation knobs that follow the task's length (suite/families/knobs.py):
minGRU's and minLSTM's `cell.gate_bias` (null | a number | chrono) and the LRU's `cell.r_max=auto`. Their bad
values are one line naming the key (with every family knob's, in tests/test_families.py); chrono gives the gate
statistics it promises; and the defaults
build the very module the suite built before these knobs existed, weight for weight and draw for draw."""
import math

import pytest
import torch

from suite.families.knobs import FAMILY_KNOBS
from suite.model.cells import cell_config
from suite.model.recurrent import RecurrentModel, _import, build_model
from suite.record import config_hash
from tasks.memory import MemoryTask
from tests.conftest import compose_config

MINIMAL = ["mingru", "minlstm"]


def built(cfg: dict, hidden: int, seq_len: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(cfg, hidden, MemoryTask(seq_len=seq_len))


def keep_fraction(model, x: torch.Tensor) -> torch.Tensor:
    """What share of h_{t-1} layer 0 keeps at each step: minGRU's 1 − z, minLSTM's f' (batch, T, hidden)."""
    with torch.no_grad():
        a, _ = model.rnn.coefficients(model.rnn.projections[0](x))
    return a


def memory_inputs(seq_len: int, batch: int = 64) -> torch.Tensor:
    x, _ = MemoryTask(seq_len=seq_len).sample(batch, torch.Generator().manual_seed(1))
    return x


@pytest.mark.parametrize("name", MINIMAL)
def test_the_knobs_compose_from_the_command_line(name):
    for value, expected in (("chrono", "chrono"), ("2.5", 2.5), ("null", None)):
        assert compose_config(f"cell={name}", f"cell.gate_bias={value}").cell.gate_bias == expected
    assert compose_config("cell=lru", "cell.r_max=auto").cell.r_max == "auto"


# --- chrono: the gate statistics it promises ------------------------------------------------------------

@pytest.mark.parametrize("name", MINIMAL)
def test_chrono_keeps_most_of_the_state_at_init_and_more_the_longer_the_task(name):
    """With b = log u, u ~ U(1, T-1), a step keeps u/(1+u) at zero input: the write share 1/(1+u) has mean
    ln(T/2)/(T-2) (0.128 at T=20, 0.043 at T=90, 0.011 at T=500). On the task's one-hot inputs the input weights
    (±1/4) add a little noise: the measured mean stays within 20% of it, against ~0.5 under torch's default."""
    hidden = 2000
    means = {}
    for seq_len in (20, 90, 500):
        model = built({"name": name, "gate_bias": "chrono"}, hidden, seq_len)
        write = 1 - keep_fraction(model, memory_inputs(seq_len, batch=8))
        means[seq_len] = float(write.mean())
        expected = math.log(seq_len / 2) / (seq_len - 2)
        assert abs(means[seq_len] - expected) < 0.2 * expected, (seq_len, means[seq_len], expected)
        # time scales spread over 2..T: some units forget within a few steps, some keep for ~T
        scale = 1 / write.mean(dim=(0, 1))
        assert scale.min() < 3 and scale.max() > 0.7 * seq_len
    assert means[20] > means[90] > means[500]
    default = float(1 - keep_fraction(built({"name": name}, hidden, 90), memory_inputs(90, batch=8)).mean())
    assert abs(default - 0.5) < 0.02


def test_chrono_sets_the_keep_side_of_each_gate_in_every_layer():
    hidden, seq_len = 50, 40
    gru = built({"name": "mingru", "gate_bias": "chrono", "layers": 2}, hidden, seq_len).rnn
    lstm = built({"name": "minlstm", "gate_bias": "chrono", "layers": 2}, hidden, seq_len).rnn
    for layer in range(2):
        b_z = gru.projections[layer].bias[:hidden].detach()
        assert b_z.max() <= 0 and b_z.min() >= -math.log(seq_len - 1) - 1e-5 and b_z.std() > 0.3
        b_f, b_i = lstm.projections[layer].bias[:2 * hidden].detach().chunk(2)
        assert torch.equal(b_i, -b_f) and b_f.min() >= 0 and b_f.max() <= math.log(seq_len - 1) + 1e-5
    assert not torch.equal(gru.projections[0].bias[:hidden], gru.projections[1].bias[:hidden])  # drawn per layer


@pytest.mark.parametrize("name", MINIMAL)
def test_a_chrono_run_shares_every_other_weight_with_the_default_run_of_its_seed(name):
    """chrono is drawn after the whole model is built: only the keep side's bias differs from the default."""
    hidden = 10
    default, chrono = (built({"name": name, "gate_bias": value}, hidden, 40).state_dict() for value in (None, "chrono"))
    keep = 2 * hidden if name == "minlstm" else hidden  # the keep blocks' rows: z; or f and i
    for key, value in default.items():
        if key == "rnn.projections.0.bias":
            assert torch.equal(value[keep:], chrono[key][keep:]) and not torch.equal(value[:keep], chrono[key][:keep])
        else:
            assert torch.equal(value, chrono[key]), key


@pytest.mark.parametrize("name", MINIMAL)
def test_a_number_is_the_keep_sides_logit_in_both_families(name):
    """gate_bias = b keeps σ(b) of h_{t-1} a step at zero input, in minGRU (b_z = -b) and minLSTM (b_f = -b_i = b)."""
    model = built({"name": name, "gate_bias": 3.0}, 16, 30)
    with torch.no_grad():
        for projection in model.rnn.projections:
            projection.weight.zero_()
    keep = keep_fraction(model, memory_inputs(30, batch=2))
    torch.testing.assert_close(keep, torch.full_like(keep, 1 / (1 + math.exp(-3.0))))


@pytest.mark.parametrize("name", MINIMAL)
def test_chrono_lengthens_the_gradients_reach_at_init(name):
    """The point of it: at T=90, log10(‖∂L/∂h_1‖ / ‖∂L/∂h_T‖) at init (the logged grad_log10_ratio, in float64)
    goes from ~-23 under torch's default (½ kept a step: 0.5^89 ≈ 10^-27) to within a few orders of magnitude."""
    from suite.training.diagnostics import hidden_gradient_norms
    from suite.training.gradient_ratio import log10_ratio

    task = MemoryTask(seq_len=90)
    x, y = task.sample(32, torch.Generator().manual_seed(2))
    ratios = {}
    for gate_bias in (None, "chrono"):
        torch.manual_seed(0)
        model = build_model({"name": name, "gate_bias": gate_bias}, 64, task).double()  # as the diagnostics
        norms, _ = hidden_gradient_norms(model, task, x.double(), y)
        ratios[gate_bias] = log10_ratio(norms[0], norms[-1])
    assert ratios[None] < -15 and ratios["chrono"] > -3, ratios  # measured: -23.0 and -0.7 (both families)


# --- the LRU's ring at auto -------------------------------------------------------------------------------

@pytest.mark.parametrize("seq_len", [30, 90, 1000])
def test_lru_auto_puts_the_ring_up_to_one_minus_one_over_the_length(seq_len):
    knobs = cell_config("lru", {"name": "lru", "r_max": "auto", "r_min": 0.5}).at_length(seq_len)
    assert knobs.r_max == 1 - 1 / seq_len and knobs.r_min == 0.5
    model = built({"name": "lru", "r_max": "auto", "r_min": 0.5, "state": 4000}, 4, seq_len)
    modulus = model.rnn.lrus[0].eigenvalues().detach().abs()
    assert modulus.min() >= 0.5 - 1e-6 and modulus.max() <= 1 - 1 / seq_len + 1e-6
    assert modulus.max() > 1 - 1.5 / seq_len  # it reaches the top of the ring


def test_lru_auto_equals_the_number_it_resolves_to():
    auto = built({"name": "lru", "r_max": "auto"}, 8, 90)
    number = built({"name": "lru", "r_max": 1 - 1 / 90}, 8, 90)
    for (key, a), (_, b) in zip(auto.state_dict().items(), number.state_dict().items()):
        assert torch.equal(a, b), key


def test_every_size_can_be_matched_with_the_knobs_that_follow_the_length():
    from suite.families.sizing import recurrent_parameters

    assert recurrent_parameters({"name": "lru", "r_max": "auto"}, 32, 16) == \
        recurrent_parameters({"name": "lru"}, 32, 16)
    for name in MINIMAL:
        assert recurrent_parameters({"name": name, "gate_bias": "chrono"}, 32, 16) == \
            recurrent_parameters({"name": name}, 32, 16)


# --- the defaults: the module the suite built before these knobs ----------------------------------------

@pytest.mark.parametrize("name", list(FAMILY_KNOBS))
def test_the_defaults_build_todays_module_weight_for_weight_and_draw_for_draw(name):
    """build_model at the defaults against what it did before the knobs existed: the family's module from its
    knobs, then the head, nothing drawn after. The same weights, and the same random state left behind."""
    task = MemoryTask(seq_len=40)
    torch.manual_seed(0)
    now = build_model({"name": name}, 12, task)
    after_now = torch.get_rng_state()
    torch.manual_seed(0)
    spec = cell_config(name, {"name": name})
    rnn = _import(spec.module)(task.input_size, 12, spec)
    before = RecurrentModel(name, task.input_size, 12, task.output_size, layers=spec.layers, last_only=True, rnn=rnn)
    assert torch.equal(torch.get_rng_state(), after_now)
    assert now.state_dict().keys() == before.state_dict().keys()
    for key, value in before.state_dict().items():
        assert torch.equal(now.state_dict()[key], value), key


@pytest.mark.parametrize("name", MINIMAL)
def test_null_is_the_default_and_leaves_the_config_hash_of_runs_stored_before_the_knob(name):
    assert FAMILY_KNOBS[name]().gate_bias is None
    cfg = {"cell": {"name": name, "layers": 1, "scan": False}, "seed": 0}
    assert config_hash({**cfg, "cell": {**cfg["cell"], "gate_bias": None}}, "cpu") == config_hash(cfg, "cpu")
    assert config_hash({**cfg, "cell": {**cfg["cell"], "gate_bias": "chrono"}}, "cpu") != config_hash(cfg, "cpu")


def test_the_lrus_default_ring_is_unchanged():
    knobs = cell_config("lru", {"name": "lru"})
    assert (knobs.r_min, knobs.r_max) == (0.9, 0.999) and knobs.at_length(90) is knobs
