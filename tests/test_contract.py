"""The recurrent interface a cell must keep (suite/model/contract.py): every built-in cell keeps it, and a
cell that breaks a rule is stopped before training with one line naming the cell and the rule."""
import pytest
import torch
from torch import nn

from suite.model.contract import check_contract
from suite.errors import ComponentBug, ConfigError
from suite.model.recurrent import build_model
from tasks.memory import MemoryTask

BUILT_IN = ["rnn", "lstm", "gru", "rnn_explicit", "lstm_explicit", "gru_explicit", "s6", "exprnn"]


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", BUILT_IN)
def test_every_built_in_cell_keeps_the_contract(cell, layers):
    task = MemoryTask(seq_len=6)
    model = build_model({"name": cell, "layers": layers}, 7, task)
    check_contract(model.rnn, f"cell={cell}", task.input_size, 7, layers)


class Good(nn.Module):
    """h_t = tanh(W x_t + U h_{t-1}): the contract kept; each broken cell below changes one thing."""

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.inp = nn.Linear(input_size, hidden_size)
        self.rec = nn.Linear(hidden_size, hidden_size, bias=False)

    def step(self, x_t, h):
        return torch.tanh(self.inp(x_t) + self.rec(h))

    def forward(self, x, state=None):
        h = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state[-1]
        outputs = []
        for t in range(x.shape[1]):
            h = self.step(x[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, dim=1), h[None]


class NoStateArgument(Good):
    def forward(self, x):
        return super().forward(x)


class OutputsOnly(Good):
    def forward(self, x, state=None):
        return super().forward(x, state)[0]


class TimeFirst(Good):
    def forward(self, x, state=None):
        out, h = super().forward(x, state)
        return out.transpose(0, 1), h


class StateAList(Good):
    def forward(self, x, state=None):
        out, h = super().forward(x, None if state is None else state[0])
        return out, [h]


class StateWithoutLayers(Good):
    def forward(self, x, state=None):
        out, h = super().forward(x, None if state is None else state[None])
        return out, h[0]


class IgnoresState(Good):  # a MinGRU-like mistake: every call starts from zeros
    def forward(self, x, state=None):
        return super().forward(x)


class NotFinite(Good):
    def forward(self, x, state=None):
        out, h = super().forward(x, state)
        return out / 0.0, h


class OutputIsNotState(Good):  # reads out a projection of h, without saying output_is_state = False
    def forward(self, x, state=None):
        out, h = super().forward(x, state)
        return 2 * out, h


class DetachedState(Good):
    def forward(self, x, state=None):
        out, h = super().forward(x, state)
        return out, h.detach()


class Float32Only(Good):
    def forward(self, x, state=None):
        return super().forward(x.float(), None if state is None else state.float())


BROKEN = {
    NoStateArgument: "forward(x, state) must take the state as its second argument",
    OutputsOnly: "forward(x) must return a pair (outputs, state), got a tensor (3, 5, 4)",
    TimeFirst: "forward(x)'s outputs must be (batch, T, hidden) = (3, 5, 4) (batch first), got (5, 3, 4)",
    StateAList: "forward(x)'s state must be a tensor or a tuple of tensors, got a list of 1: (Tensor)",
    StateWithoutLayers: "forward(x)'s state must be laid out (layers, batch, ...) = (1, 3, ...) as torch's, got (3, 4)",
    IgnoresState: "forward(x, state) ignored state: step-by-step outputs differ from the whole sequence (first at step 2",
    NotFinite: "forward(x) gave non-finite outputs (NaN or inf)",
    OutputIsNotState: "the state's first part at the last layer is not the output",
    DetachedState: "state part 0 is not in the autograd graph",
}


def test_the_good_cell_passes():
    check_contract(Good(2, 4), "cell._target_='Good'", 2, 4)


@pytest.mark.parametrize("cls", BROKEN, ids=lambda c: c.__name__)
def test_a_cell_that_breaks_a_rule_is_one_line_naming_cell_and_rule(cls):
    with pytest.raises(ConfigError) as caught:
        check_contract(cls(2, 4), f"cell._target_='my_cells.{cls.__name__}'", 2, 4)
    message = str(caught.value)
    assert message.startswith(f"cell._target_='my_cells.{cls.__name__}': ") and "\n" not in message
    assert BROKEN[cls] in message, message


def test_a_state_laid_out_batch_first_is_caught_even_with_two_layers():
    class BatchFirstState(Good):
        def forward(self, x, state=None):
            out, h = super().forward(x, None if state is None else state.transpose(0, 1)[-1:])
            return out, h.expand(2, -1, -1).transpose(0, 1)  # (batch, layers, hidden)

    with pytest.raises(ConfigError, match=r"laid out \(layers, batch, \.\.\.\) = \(2, 3, \.\.\.\) as torch's, "
                                          r"got \(3, 2, 4\)"):
        check_contract(BatchFirstState(2, 4), "cell", 2, 4, layers=2)


def test_a_cell_whose_output_is_not_its_state_says_so_and_passes():
    OutputIsNotState.output_is_state = False
    try:
        check_contract(OutputIsNotState(2, 4), "cell", 2, 4)
    finally:
        del OutputIsNotState.output_is_state


def test_an_exception_in_the_cells_code_is_a_bug_with_its_traceback_not_a_config_error():
    with pytest.raises(ComponentBug, match=r"cell: forward\(x\) in float64 \(as the diagnostics run it\) raised "
                                           rf"RuntimeError: .*a bug in {__name__}\.Float32Only") as caught:
        check_contract(Float32Only(2, 4), "cell", 2, 4)
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_the_check_changes_nothing_the_run_will_use():
    cell = Good(2, 4)
    before = {k: v.clone() for k, v in cell.state_dict().items()}
    torch.manual_seed(123)
    check_contract(cell, "cell", 2, 4)
    drawn = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(drawn, torch.rand(3))  # torch's global random state is as it was
    assert all(torch.equal(v, before[k]) and v.dtype == torch.float32 for k, v in cell.state_dict().items())
    assert cell.training


def test_build_model_checks_a_custom_cell_before_returning_it():
    spec = {"_target_": f"{__name__}.IgnoresState", "name": "mine", "layers": 1}
    with pytest.raises(ConfigError, match=rf"^cell\._target_='{__name__}\.IgnoresState': forward\(x, state\) ignored state"):
        build_model(spec, 4, MemoryTask(seq_len=5))
    assert build_model({**spec, "_target_": f"{__name__}.Good"}, 4, MemoryTask(seq_len=5)).rnn.hidden_size == 4


def test_a_cell_whose_output_is_not_its_state_must_start_from_zeros():
    class StartsFromOnes(Good):
        output_is_state = False

        def forward(self, x, state=None):
            return super().forward(x, x.new_ones(1, x.shape[0], self.hidden_size) if state is None else state)

    with pytest.raises(ConfigError, match=r"forward\(x\) must start from the zero state"):
        check_contract(StartsFromOnes(2, 4), "cell", 2, 4)
