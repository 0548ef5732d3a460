"""Task generators: shapes, labels, determinism, and baselines checked against the memoryless predictor."""
import math

import pytest
import torch

from tasks.adding import AddingTask
from tasks.base import TaskConfigError
from tasks.copy import CopyTask
from tasks.memory import MemoryTask

TASKS = [
    lambda: CopyTask(seq_len=12),
    lambda: AddingTask(seq_len=12),
    lambda: MemoryTask(seq_len=12),
]


@pytest.mark.parametrize("make", TASKS)
def test_shapes_and_dtypes(make):
    task = make()
    x, y = task.sample(5, task.generator("train", 0))
    assert x.shape == (5, task.length, task.input_size)
    assert x.dtype == torch.float32
    if isinstance(task, AddingTask):
        assert y.shape == (5, 1) and y.dtype == torch.float32
    elif isinstance(task, CopyTask):
        assert y.shape == (5, task.length) and y.dtype == torch.long
    else:
        assert y.shape == (5,) and y.dtype == torch.long


@pytest.mark.parametrize("make", TASKS)
def test_same_seed_same_data_other_seed_or_split_differs(make):
    task = make()
    a = task.sample(32, task.generator("train", 7))
    b = make().sample(32, make().generator("train", 7))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    other_seed = task.sample(32, task.generator("train", 8))
    other_split = task.sample(32, task.generator("eval", 7))
    assert not torch.equal(a[0], other_seed[0])
    assert not torch.equal(a[0], other_split[0])


def test_generator_rejects_unknown_split():
    with pytest.raises(ValueError, match="split='test'"):
        MemoryTask(seq_len=5).generator("test", 0)


def test_copy_layout_by_hand():
    task = CopyTask(seq_len=5, symbols=4, n_copy=3)
    x, y = task.sample(2, task.generator("train", 0))
    symbols = x.argmax(-1)
    assert task.length == 5 + 2 * 3 and task.input_size == 6 and task.output_size == 5
    for seq, target in zip(symbols, y):
        data = seq[:3]
        assert ((1 <= data) & (data <= 4)).all()
        # then T-1 = 4 blanks, one delimiter (symbols + 1 = 5), then 3 blanks
        assert seq[3:7].tolist() == [0, 0, 0, 0]
        assert seq[7].item() == 5
        assert seq[8:].tolist() == [0, 0, 0]
        # target: blank for T + n_copy = 8 positions, then the data
        assert target[:8].tolist() == [0] * 8
        assert target[8:].tolist() == data.tolist()


def test_adding_labels_by_hand():
    task = AddingTask(seq_len=10)
    x, y = task.sample(64, task.generator("train", 3))
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :5].sum(1) == 1).all() and (markers[:, 5:].sum(1) == 1).all()
    first = values[0][markers[0] == 1]
    assert y[0, 0].item() == pytest.approx(first.sum().item())


def test_memory_labels_by_hand():
    task = MemoryTask(seq_len=6, symbols=3, distractors=2)
    x, y = task.sample(50, task.generator("train", 1))
    symbols = x.argmax(-1)
    assert (symbols[:, 0] == y).all()
    assert ((symbols[:, 1:] >= 3) & (symbols[:, 1:] < 5)).all()
    assert set(y.tolist()) == {0, 1, 2}


def test_copy_recall_accuracy_ignores_blanks():
    task = CopyTask(seq_len=20)
    x, y = task.sample(100, task.generator("eval", 0))
    always_blank = torch.zeros(100, task.length, task.output_size)
    always_blank[..., 0] = 10.0
    assert task.metrics(always_blank, y)["recall_accuracy"].item() == 0.0


# --- baselines: the formula equals the loss of the memoryless predictor on sampled data ---

def test_copy_baseline_matches_memoryless_predictor():
    task = CopyTask(seq_len=50)
    assert task.baseline_loss == pytest.approx(10 * math.log(8) / 70)
    x, y = task.sample(2000, task.generator("eval", 0))
    logits = torch.full((2000, task.length, task.output_size), -1e9)
    logits[:, : -task.n_copy, 0] = 0.0  # certain "blank" while nothing is asked
    logits[:, -task.n_copy :, 1:] = 0.0  # then uniform over the 8 symbols
    assert task.loss(logits, y).item() == pytest.approx(task.baseline_loss, rel=1e-4)


def test_adding_baseline_matches_memoryless_predictor():
    task = AddingTask(seq_len=50)
    x, y = task.sample(200_000, task.generator("eval", 0))
    measured = task.loss(torch.ones_like(y), y).item()
    assert measured == pytest.approx(1 / 6, rel=0.02)
    assert task.baseline_loss == pytest.approx(1 / 6)


def test_memory_baseline_matches_memoryless_predictor():
    task = MemoryTask(seq_len=50)
    x, y = task.sample(1000, task.generator("eval", 0))
    uniform = torch.zeros(1000, task.output_size)
    assert task.loss(uniform, y).item() == pytest.approx(math.log(8), rel=1e-6)
    assert task.baseline_loss == pytest.approx(math.log(8))


def test_solved_criterion_direction():
    assert MemoryTask(seq_len=5).solved({"accuracy": 0.995})
    assert not MemoryTask(seq_len=5).solved({"accuracy": 0.9})
    assert AddingTask(seq_len=5).solved({"mse": 0.005})
    assert not AddingTask(seq_len=5).solved({"mse": 0.05})


@pytest.mark.parametrize("kwargs, key", [
    ({"seq_len": 0}, "task.seq_len=0"),
    ({"seq_len": 10, "symbols": 1}, "task.symbols=1"),
    ({"seq_len": 10, "solve_threshold": 2.0}, "task.solve_threshold=2.0"),
])
def test_bad_task_knobs_name_the_key(kwargs, key):
    with pytest.raises(TaskConfigError, match=key.replace(".", r"\.")):
        MemoryTask(**kwargs)


@pytest.mark.parametrize("make", TASKS)
def test_sampling_stays_on_the_generators_device(make):
    task = make()
    x, y = task.sample(3, task.generator("train", 0, device="cpu"))
    assert x.device.type == "cpu" and y.device.type == "cpu"


def test_temporal_order_labels_by_hand():
    from tasks.temporal_order import X, TemporalOrderTask

    task = TemporalOrderTask(seq_len=100)
    x, y = task.sample(200, task.generator("train", 0))
    symbols = x.argmax(-1)
    for seq, label in zip(symbols, y):
        relevant = (seq >= X).nonzero().flatten().tolist()
        assert len(relevant) == 2
        t1, t2 = relevant
        assert 10 <= t1 < 20 and 50 <= t2 < 60
        assert label.item() == 2 * (seq[t1].item() - X) + (seq[t2].item() - X)  # XX=0, XY=1, YX=2, YY=3
    assert set(y.tolist()) == {0, 1, 2, 3}


def test_temporal_order_baseline_matches_memoryless_predictor():
    from tasks.temporal_order import TemporalOrderTask

    task = TemporalOrderTask(seq_len=30)
    x, y = task.sample(4000, task.generator("eval", 0))
    assert task.loss(torch.zeros(4000, 4), y).item() == pytest.approx(math.log(4), rel=1e-6)
    assert task.baseline_loss == pytest.approx(math.log(4))
    assert task.remember_at == 3
