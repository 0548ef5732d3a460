"""The model and its cell initialisation recipes."""
import math

import pytest
import torch

from suite.model.cells import cell_config
from suite.errors import ConfigError
from suite.model.recurrent import RecurrentModel, build_model
from tasks.adding import AddingTask
from tasks.assoc_recall import AssocRecallTask
from tasks.copy import CopyTask
from tasks.memory import MemoryTask
from tasks.selective_copy import SelectiveCopyTask


def test_unknown_cell_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"cell.name='transformer'.*rnn, lstm, gru"):
        build_model({"name": "transformer"}, 4, MemoryTask(seq_len=5))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("task", [CopyTask(seq_len=5), AddingTask(seq_len=6), MemoryTask(seq_len=5),
                                  SelectiveCopyTask(seq_len=5), AssocRecallTask(seq_len=6)])
def test_output_shape_matches_where_the_task_scores(cell, task):
    model = build_model({"name": cell}, 8, task)
    x, y = task.sample(4, task.generator("train", 0))
    out = model(x)
    if task.loss_at == "every":
        assert out.shape == (4, task.length, task.output_size)
    else:
        assert out.shape == (4, task.output_size)
    task.loss(out, y).backward()  # the pieces fit together


def effective_bias(model, gate):
    h = model.rnn.hidden_size
    return (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0)[gate * h : (gate + 1) * h]


def test_lstm_constant_forget_bias():
    model = build_model({"name": "lstm", "forget_bias": 3}, 16, MemoryTask(seq_len=10))
    assert torch.allclose(effective_bias(model, 1), torch.full((16,), 3.0))


def test_lstm_chrono_init_sets_forget_in_range_and_input_to_minus_forget():
    task = MemoryTask(seq_len=100)
    model = build_model({"name": "lstm", "forget_bias": "chrono"}, 256, task)
    forget, input_ = effective_bias(model, 1), effective_bias(model, 0)
    assert forget.min() >= 0 and forget.max() <= math.log(99) + 1e-6
    assert forget.std() > 0.3  # spread over time scales, not a constant
    assert torch.allclose(input_, -forget)


def test_gru_update_bias():
    model = build_model({"name": "gru", "update_bias": 2.5}, 8, MemoryTask(seq_len=10))
    assert torch.allclose(effective_bias(model, 1), torch.full((8,), 2.5))


def test_rnn_orthogonal_recurrent_matrix():
    model = build_model({"name": "rnn", "recurrent_init": "orthogonal"}, 12, MemoryTask(seq_len=10))
    w = model.rnn.weight_hh_l0
    assert torch.allclose(w @ w.T, torch.eye(12), atol=1e-5)


@pytest.mark.parametrize("cfg, key", [
    ({"name": "lstm", "forget_bias": "big"}, "cell.forget_bias='big'"),
    ({"name": "gru", "update_bias": True}, "cell.update_bias=True"),
    ({"name": "rnn", "recurrent_init": "identity"}, "cell.recurrent_init='identity'"),
])
def test_bad_init_recipe_names_the_key(cfg, key):
    model = RecurrentModel(cfg["name"], 3, 4, 2)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        cell_config(cfg["name"], cfg).initialise(model.rnn, t_max=10)


def test_a_misspelt_cell_knob_is_an_error_not_ignored():
    with pytest.raises(ConfigError, match=r"cell\.forget_bais=3: unknown key for a lstm cell"):
        build_model({"name": "lstm", "forget_bais": 3}, 4, MemoryTask(seq_len=5))
