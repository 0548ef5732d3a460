"""Task generators: shapes, labels, determinism, and baselines checked against the memoryless predictor."""
import math

import pytest
import torch

from tasks.adding import AddingTask
from tasks.base import LastStepClassification, TaskConfigError
from tasks.copy import CopyTask
from tasks.memory import MemoryTask
from tasks.temporal_order import X, TemporalOrderTask

TASKS = {
    "copy": lambda: CopyTask(seq_len=12),
    "adding": lambda: AddingTask(seq_len=12),
    "memory": lambda: MemoryTask(seq_len=12),
    "temporal_order": lambda: TemporalOrderTask(seq_len=12),
}


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
def test_shapes_and_dtypes(make):
    task = make()
    x, y = task.sample(5, task.generator("train", 0))
    assert x.shape == (5, task.length, task.input_size)
    assert x.dtype == torch.float32
    if isinstance(task, AddingTask):
        assert y.shape == (5, 1) and y.dtype == torch.float32
    elif isinstance(task, CopyTask):
        assert y.shape == (5, task.length) and y.dtype == torch.long
    elif isinstance(task, LastStepClassification):  # memory, temporal order: one class per sequence
        assert y.shape == (5,) and y.dtype == torch.long
        assert ((0 <= y) & (y < task.output_size)).all()
    else:
        pytest.fail(f"{type(task).__name__}: say which target shape it has")


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
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
    for row_values, row_markers, target in zip(values, markers, y):
        first, second = row_markers.nonzero().flatten().tolist()
        assert first < 5 <= second
        assert target.item() == pytest.approx(row_values[first].item() + row_values[second].item())


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


# --- baselines: the formula equals the loss of the best memoryless predictor, fitted and measured ---

def memoryless_prediction(task, n=20_000):
    """The best predictor that ignores the input, fitted on training data: the mean target (regression)
    or the log of each class's frequency, per scored position (classification)."""
    _, y = task.sample(n, task.generator("train", 0))
    if y.is_floating_point():
        return y.mean(0)
    counts = torch.nn.functional.one_hot(y, task.output_size).float().sum(0)
    return torch.log((counts + 1e-6) / (counts + 1e-6).sum(-1, keepdim=True))


@pytest.mark.parametrize("make", [lambda: CopyTask(seq_len=50), lambda: AddingTask(seq_len=50),
                                  lambda: MemoryTask(seq_len=50), lambda: MemoryTask(seq_len=20, symbols=5),
                                  lambda: TemporalOrderTask(30)],
                         ids=["copy", "adding", "memory", "memory_k5", "temporal_order"])
def test_baseline_is_the_loss_of_the_best_memoryless_predictor(make):
    """Fails if a formula is wrong, or if the data are not what the formula assumes (labels not
    uniform, a marker in the wrong place): the prediction is fitted to the sampled data."""
    task = make()
    prediction = memoryless_prediction(task)
    _, y = task.sample(20_000, task.generator("eval", 0))
    measured = task.loss(prediction.expand(len(y), *prediction.shape), y).item()
    assert measured == pytest.approx(task.baseline_loss, rel=0.02)


def test_baselines_by_formula():
    assert CopyTask(seq_len=50).baseline_loss == pytest.approx(10 * math.log(8) / 70)
    assert AddingTask(seq_len=50).baseline_loss == pytest.approx(1 / 6)
    assert MemoryTask(seq_len=50).baseline_loss == pytest.approx(math.log(8))
    assert TemporalOrderTask(seq_len=30).baseline_loss == pytest.approx(math.log(4))
    assert TemporalOrderTask(seq_len=30).remember_at == 3


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


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
def test_sampling_follows_the_generators_device_not_the_default_device(make):
    """Every tensor is made on the generator's device: with another default device ('meta', which
    holds no data) a task that forgot `device=` somewhere would return meta tensors or fail."""
    task = make()
    generator = task.generator("train", 0, device="cpu")
    with torch.device("meta"):
        x, y = task.sample(3, generator)
    assert x.device.type == "cpu" and y.device.type == "cpu"
    assert torch.isfinite(x).all()


def test_temporal_order_labels_by_hand():
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
