"""Task generators: shapes, labels, determinism, baselines checked against the fitted memoryless predictor,
and lags checked against the distances in sampled sequences."""
import math

import pytest
import torch
import torch.nn.functional as F

from tasks.adding import AddingTask
from tasks.assoc_recall import AssocRecallTask
from tasks.base import LastStepClassification, TaskConfigError
from tasks.copy import CopyTask
from tasks.memory import MemoryTask
from tasks.selective_copy import SelectiveCopyTask
from tasks.temporal_order import X, TemporalOrderTask

TASKS = {
    "copy": lambda: CopyTask(seq_len=12),
    "adding": lambda: AddingTask(seq_len=12),
    "memory": lambda: MemoryTask(seq_len=12),
    "temporal_order": lambda: TemporalOrderTask(seq_len=12),
    "selective_copy": lambda: SelectiveCopyTask(seq_len=12),
    "assoc_recall": lambda: AssocRecallTask(seq_len=12),
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
    elif isinstance(task, (SelectiveCopyTask, AssocRecallTask)):  # a class per scored step: the last few
        scored = task.n_copy if isinstance(task, SelectiveCopyTask) else task.n_queries
        assert y.shape == (5, scored) and y.dtype == torch.long
        assert ((0 <= y) & (y < task.output_size)).all()
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


def test_selective_copy_layout_by_hand():
    task = SelectiveCopyTask(seq_len=7, symbols=3, n_copy=3)
    x, y = task.sample(200, task.generator("train", 0))
    symbols = x.argmax(-1)
    assert task.length == 7 + 3 and task.input_size == 5 and task.output_size == 3
    for seq, target in zip(symbols, y):
        stretch = seq[:7]
        held = stretch.nonzero().flatten()  # blanks are 0; data symbols 1..3
        assert len(held) == 3 and ((1 <= stretch[held]) & (stretch[held] <= 3)).all()
        assert seq[7:].tolist() == [4, 4, 4]  # the markers (symbols + 1)
        assert target.tolist() == (stretch[held] - 1).tolist()  # the data in order of position, as classes
    assert (symbols[:, :7] != 0).any(0).all()  # every position of the stretch holds data in some sequence
    assert set(y.flatten().tolist()) == {0, 1, 2}


def test_selective_copy_places_the_tokens_uniformly():
    """Every M-subset of the T positions equally likely (the lag's mean and the placement's randomness
    rest on it): T=4, M=2 has 6 subsets, each within 5 standard errors of 1/6."""
    task = SelectiveCopyTask(seq_len=4, n_copy=2)
    x, _ = task.sample(60_000, task.generator("train", 0))
    held = x[:, :4].argmax(-1) != 0
    codes = (held.long() * torch.tensor([1, 2, 4, 8])).sum(1)
    counts = torch.bincount(codes, minlength=16)
    subsets = [c for c in range(16) if bin(c).count("1") == 2]
    assert counts[subsets].sum() == 60_000
    spread = math.sqrt(60_000 * (1 / 6) * (5 / 6))
    assert all(abs(counts[c].item() - 10_000) < 5 * spread for c in subsets), counts[subsets]


def test_assoc_recall_labels_by_hand():
    task = AssocRecallTask(seq_len=11, n_pairs=3, n_queries=2, vocab=5)
    x, y = task.sample(300, task.generator("train", 0))
    symbols = x.argmax(-1)
    assert task.length == 11 and task.input_size == 11 and task.output_size == 5
    orders = set()
    for seq, target in zip(symbols, y):
        keys, values = seq[0:6:2].tolist(), seq[1:6:2].tolist()
        assert len(set(keys)) == 3 and all(1 <= k <= 5 for k in keys)  # distinct keys, tokens 1..V
        assert all(6 <= v <= 10 for v in values)  # values, tokens V+1..2V
        assert seq[6:9].tolist() == [0, 0, 0]  # T - 2P - Q blanks
        queries = seq[9:].tolist()
        assert len(set(queries)) == 2 and set(queries) <= set(keys)  # distinct keys of the pairs
        value_of = dict(zip(keys, values))
        assert target.tolist() == [value_of[q] - 6 for q in queries]  # classes 0..V-1
        orders.add(tuple(keys.index(q) for q in queries))
    assert len(orders) == 3 * 2  # every ordered choice of 2 of the 3 pairs is asked
    assert set(y.flatten().tolist()) == set(range(5))


@pytest.mark.parametrize("make", [lambda: SelectiveCopyTask(seq_len=6, symbols=3, n_copy=2),
                                  lambda: AssocRecallTask(seq_len=9, n_pairs=3, n_queries=2, vocab=4)],
                         ids=["selective_copy", "assoc_recall"])
def test_only_the_last_outputs_are_scored_and_all_of_them_need_memory(make):
    """Loss and metrics read the recalled outputs only (nothing else is ever a target); memory_loss is the
    whole loss, since every scored output needs a remembered token (what the diagnostics differentiate)."""
    task = make()
    x, y = task.sample(16, task.generator("train", 0))
    scored = y.shape[1]  # the markers or the queries: the last steps
    output = torch.randn(16, task.length, task.output_size, generator=torch.Generator().manual_seed(0))
    by_hand = F.cross_entropy(output[:, -scored:].reshape(-1, task.output_size), y.reshape(-1))
    assert task.loss(output, y).item() == pytest.approx(by_hand.item())
    assert task.memory_loss(output, y).item() == task.loss(output, y).item()
    changed = output.clone()
    changed[:, :-scored] += 5.0 * torch.randn_like(changed[:, :-scored])
    assert task.loss(changed, y).item() == pytest.approx(by_hand.item())
    assert {k: v.item() for k, v in task.metrics(changed, y).items()} == \
           {k: v.item() for k, v in task.metrics(output, y).items()}
    right = torch.zeros_like(output)
    right[:, -scored:].scatter_(-1, y[..., None], 10.0)
    metrics = task.metrics(right, y)
    assert metrics["recall_accuracy"].item() == 1.0 and metrics.get("sequence_accuracy", torch.tensor(1.0)) == 1.0
    right[0, -1] = right[0, -1].roll(1)  # one token of one sequence wrong
    metrics = task.metrics(right, y)
    assert metrics["recall_accuracy"].item() == pytest.approx(1 - 1 / y.numel())
    if "sequence_accuracy" in metrics:
        assert metrics["sequence_accuracy"].item() == pytest.approx(1 - 1 / 16)


def test_copy_recall_accuracy_ignores_blanks():
    task = CopyTask(seq_len=20)
    x, y = task.sample(100, task.generator("eval", 0))
    always_blank = torch.zeros(100, task.length, task.output_size)
    always_blank[..., 0] = 10.0
    assert task.metrics(always_blank, y)["recall_accuracy"].item() == 0.0


# --- baselines: the formula equals the loss of the best memoryless predictor, fitted and measured ---

def scored_inputs(task, x, scored):
    """(time step, current input) of every scored output, flattened to match the flattened target: the last
    `scored` steps of the sequence (loss_at "every": every step for copy; a task whose target holds fewer,
    the recalled outputs at its end, scores those) or the last one."""
    if task.loss_at == "every":
        return torch.arange(task.length - scored, task.length).expand(len(x), -1), x[:, task.length - scored :]
    return torch.full((len(x), 1), task.length - 1), x[:, -1:]


def fit_memoryless(task, n):
    """The best predictor that sees the current input and knows t but remembers nothing earlier (the
    meaning of tasks.base.Task.baseline_loss), fitted on n training sequences. Returns (predict, parameters):
    predict maps inputs to outputs shaped for task.loss; parameters counts what was fitted.

    Classification (one-hot inputs): the empirical class frequencies of each cell (t, x_t), the Bayes-optimal
    table. Regression (adding): least squares on features of the last input (1, each channel, each product
    of two channels), which hold the Bayes predictor E[y | v, m] = 1 + m (v - 1/2)."""
    x, y = task.sample(n, task.generator("train", 0))
    scored = y.reshape(len(y), -1).shape[1]  # targets per sequence: the scored steps, the last ones
    if y.is_floating_point():
        def features(x):
            last = x[:, -1]
            pairs = [last[:, i] * last[:, j] for i in range(last.shape[1]) for j in range(i + 1, last.shape[1])]
            return torch.stack([torch.ones(len(x)), *last.T, *pairs], dim=1).double()

        weights = torch.linalg.lstsq(features(x), y.double()).solution
        return (lambda x: (features(x) @ weights).float()), weights.numel()

    def cells(x):
        t, current = scored_inputs(task, x, scored)
        return t * task.input_size + current.argmax(-1)

    classes = task.output_size
    counts = torch.bincount((cells(x) * classes + y.reshape(len(y), -1)).flatten(),
                            minlength=task.length * task.input_size * classes).view(-1, classes).double()
    seen = counts > 0
    table = torch.log((counts + 1e-6) / (counts + 1e-6).sum(-1, keepdim=True)).float()  # unseen: ~ -inf
    parameters = int((seen.sum(-1) - 1).clamp(min=0).sum())  # free class frequencies of the cells seen

    def predict(x):  # the model's output shape; steps that are not scored get zeros
        out = table[cells(x)]
        if task.loss_at != "every":
            return out[:, -1]
        return torch.cat([out.new_zeros(len(x), task.length - scored, classes), out], dim=1)

    return predict, parameters


def measure_memoryless(task, batches=20):
    """(measured loss, tolerance): the fitted memoryless predictor's loss (task.loss) on fresh sequences, and
    how far from the exact expectation it may fall: 4 standard errors of the evaluation's batch means, plus
    twice the expected excess of a fitted table over the true one (about parameters / (2 * observations))."""
    n = min(100_000, 4_000_000 // (task.length * task.input_size))  # a few tens of MB of one-hot inputs
    predict, parameters = fit_memoryless(task, n)
    x, y = task.sample(n, task.generator("eval", 0))
    losses = torch.stack([task.loss(predict(xb), yb) for xb, yb in zip(x.chunk(batches), y.chunk(batches))])
    observations = y.numel()  # scored outputs
    tolerance = 4 * losses.std().item() / math.sqrt(batches) + parameters / observations
    return losses.mean().item(), tolerance


BASELINE_CASES = {  # short lags, where the memoryless predictor's edge effects are largest
    "adding_T2": lambda: AddingTask(seq_len=2),  # the second marker is always on the last step
    "adding_T3": lambda: AddingTask(seq_len=3),
    "adding_T10": lambda: AddingTask(seq_len=10),
    "adding_T11": lambda: AddingTask(seq_len=11),
    "adding_T50": lambda: AddingTask(seq_len=50),
    "copy_T1_n3": lambda: CopyTask(seq_len=1, n_copy=3),
    "copy_T10_n3": lambda: CopyTask(seq_len=10, n_copy=3),
    "copy_T10": lambda: CopyTask(seq_len=10),
    "copy_T5_k4": lambda: CopyTask(seq_len=5, symbols=4, n_copy=2),
    "memory_T2": lambda: MemoryTask(seq_len=2),
    "memory_T10_k5": lambda: MemoryTask(seq_len=10, symbols=5, distractors=3),
    "temporal_order_T10": lambda: TemporalOrderTask(seq_len=10),
    "temporal_order_T11": lambda: TemporalOrderTask(seq_len=11),
    "temporal_order_T37": lambda: TemporalOrderTask(seq_len=37),
    "selective_copy_T1_m1": lambda: SelectiveCopyTask(seq_len=1, n_copy=1),  # the token is always at index 0
    "selective_copy_T3_m3_k3": lambda: SelectiveCopyTask(seq_len=3, symbols=3, n_copy=3),  # no blanks at all
    "selective_copy_T10": lambda: SelectiveCopyTask(seq_len=10),
    "assoc_recall_T6": lambda: AssocRecallTask(seq_len=6),  # no blanks: the queries follow the pairs
    "assoc_recall_T5_p1_v2": lambda: AssocRecallTask(seq_len=5, n_pairs=1, n_queries=1, vocab=2),
    "assoc_recall_T12_p3_q2_v5": lambda: AssocRecallTask(seq_len=12, n_pairs=3, n_queries=2, vocab=5),
}


@pytest.mark.parametrize("make", BASELINE_CASES.values(), ids=BASELINE_CASES.keys())
def test_baseline_is_the_loss_of_the_best_memoryless_predictor(make):
    """Fails if a formula is wrong, or if the data are not what the formula assumes (labels not uniform, a
    marker where the last input shows it more or less often): the predictor is fitted to the sampled data."""
    task = make()
    measured, tolerance = measure_memoryless(task)
    assert abs(measured - task.baseline_loss) <= tolerance, (measured, task.baseline_loss, tolerance)


def test_the_adding_baseline_is_not_one_sixth_at_short_lags():
    """At T=10 the second marker is on the last step one time in five, where the last input shows its value:
    the memoryless predictor reaches 0.150, and the variance 1/6 (the baseline until this was measured) is
    far outside the tolerance of the measurement."""
    task = AddingTask(seq_len=10)
    measured, tolerance = measure_memoryless(task)
    assert task.baseline_loss == pytest.approx(0.15)
    assert abs(measured - 0.15) <= tolerance
    assert abs(measured - 1 / 6) > 4 * tolerance


def test_temporal_orders_last_input_is_a_distractor_at_every_length():
    """The memoryless baseline ln 4 needs the label-free last step: the second window ends before T-1."""
    for seq_len in range(10, 2_000):
        task = TemporalOrderTask(seq_len=seq_len)
        assert task.first[0] < task.first[1] <= task.second[0] < task.second[1] <= seq_len - 1, seq_len


def test_baselines_by_formula():
    assert CopyTask(seq_len=50).baseline_loss == pytest.approx(10 * math.log(8) / 70)
    assert CopyTask(seq_len=10, n_copy=3).baseline_loss == pytest.approx(3 * math.log(8) / 16)
    assert AddingTask(seq_len=50).baseline_loss == pytest.approx(1 / 6 - 1 / (12 * 25))
    assert AddingTask(seq_len=11).baseline_loss == pytest.approx(1 / 6 - 1 / (12 * 6))
    assert AddingTask(seq_len=2).baseline_loss == pytest.approx(1 / 12)
    assert MemoryTask(seq_len=50).baseline_loss == pytest.approx(math.log(8))
    assert TemporalOrderTask(seq_len=30).baseline_loss == pytest.approx(math.log(4))
    assert TemporalOrderTask(seq_len=30).remember_at == 3
    assert SelectiveCopyTask(seq_len=50).baseline_loss == pytest.approx(math.log(8))
    assert SelectiveCopyTask(seq_len=50, symbols=16, n_copy=16).baseline_loss == pytest.approx(math.log(16))
    assert AssocRecallTask(seq_len=50).baseline_loss == pytest.approx(math.log(4))
    assert AssocRecallTask(seq_len=50, n_pairs=8, n_queries=8, vocab=64).baseline_loss == pytest.approx(math.log(64))


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


@pytest.mark.parametrize("make, message", [
    (lambda: SelectiveCopyTask(seq_len=3, n_copy=4),
     "task.n_copy=4: expected at most 3 (the data tokens need distinct positions among seq_len=3)"),
    (lambda: SelectiveCopyTask(seq_len=10, symbols=1), "task.symbols=1: expected an integer >= 2"),
    (lambda: SelectiveCopyTask(seq_len=10, n_copy=0), "task.n_copy=0: expected an integer >= 1"),
    (lambda: SelectiveCopyTask(seq_len=10, solve_threshold=0), "task.solve_threshold=0: expected a number in (0, 1]"),
    (lambda: AssocRecallTask(seq_len=20, n_pairs=5, n_queries=2, vocab=4),
     "task.n_pairs=5: expected at most 4 (the keys are distinct, drawn from vocab=4)"),
    (lambda: AssocRecallTask(seq_len=20, n_pairs=2, n_queries=3),
     "task.n_queries=3: expected at most 2 (the queries ask distinct keys of the n_pairs=2 pairs)"),
    (lambda: AssocRecallTask(seq_len=7, n_pairs=3, n_queries=2, vocab=8),
     "task.seq_len=7: expected an integer >= 8 (room for 3 pairs and 2 queries: 2 n_pairs + n_queries)"),
    (lambda: AssocRecallTask(seq_len=10, vocab=1), "task.vocab=1: expected an integer >= 2"),
    (lambda: AssocRecallTask(seq_len=10, n_pairs=0), "task.n_pairs=0: expected an integer >= 1"),
    (lambda: AssocRecallTask(seq_len=10, n_queries=0), "task.n_queries=0: expected an integer >= 1"),
], ids=["selective_copy_tokens_over_T", "selective_copy_symbols", "selective_copy_n_copy",
        "selective_copy_threshold", "assoc_recall_pairs_over_vocab", "assoc_recall_queries_over_pairs",
        "assoc_recall_no_room", "assoc_recall_vocab", "assoc_recall_pairs", "assoc_recall_queries"])
def test_impossible_knobs_of_the_new_tasks_are_one_line_naming_the_key(make, message):
    with pytest.raises(TaskConfigError) as raised:
        make()
    assert str(raised.value) == message


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


# --- lags: the formula equals the distances measured in sampled sequences ---

def measured_lags(task, x, y):
    """Per sequence (per recalled symbol for copy): the index of the output that needs the information minus
    the index of the input that holds it, recovered from the sampled inputs and targets."""
    symbols, last = x.argmax(-1), task.length - 1
    if isinstance(task, MemoryTask):
        held = (symbols == y[:, None]).int().argmax(1)  # the target symbol's only place (distractors differ)
        assert (symbols.gather(1, held[:, None]).squeeze(1) == y).all()
        return last - held
    if isinstance(task, AddingTask):
        return last - x[..., 1].argmax(1)  # the first marker (argmax: the first 1)
    if isinstance(task, TemporalOrderTask):
        return last - (symbols >= X).int().argmax(1)  # the first relevant symbol, X or Y
    if isinstance(task, SelectiveCopyTask):  # the i-th data token is asked for at the i-th marker
        held = ((symbols >= 1) & (symbols <= task.symbols)).nonzero()[:, 1].view(len(x), task.n_copy)
        asked = (symbols == task.marker).nonzero()[:, 1].view(len(x), task.n_copy)
        assert torch.equal(symbols.gather(1, held) - 1, y)
        return (asked - held).flatten()
    if isinstance(task, AssocRecallTask):  # from the value of the pair whose key is queried
        pairs, queries = 2 * task.n_pairs, task.n_queries
        asked_key = symbols[:, -queries:]
        pair = (symbols[:, 0:pairs:2, None] == asked_key[:, None, :]).int().argmax(1)  # (batch, Q): which pair
        held = 2 * pair + 1
        assert torch.equal(symbols.gather(1, held) - task.vocab - 1, y)  # the value there is the target
        asked = torch.arange(task.length - queries, task.length).expand(len(x), -1)
        return (asked - held).flatten()
    if isinstance(task, CopyTask):
        held = ((symbols >= 1) & (symbols <= task.symbols)).nonzero()[:, 1].view(len(x), task.n_copy)
        asked = (y != 0).nonzero()[:, 1].view(len(x), task.n_copy)  # data symbols are never blank (0)
        assert torch.equal(symbols.gather(1, held), y.gather(1, asked))  # the i-th held is the i-th asked
        return (asked - held).flatten()
    raise AssertionError(f"{type(task).__name__}: say where its information is held and asked for")


LAG_CASES = {
    "memory_T2": lambda: MemoryTask(seq_len=2),
    "memory_T12": lambda: MemoryTask(seq_len=12),
    "copy_T1_n3": lambda: CopyTask(seq_len=1, n_copy=3),
    "copy_T12": lambda: CopyTask(seq_len=12),
    "adding_T2": lambda: AddingTask(seq_len=2),
    "adding_T3": lambda: AddingTask(seq_len=3),
    "adding_T10": lambda: AddingTask(seq_len=10),
    "adding_T13": lambda: AddingTask(seq_len=13),
    "temporal_order_T10": lambda: TemporalOrderTask(seq_len=10),
    "temporal_order_T37": lambda: TemporalOrderTask(seq_len=37),
    "temporal_order_T100": lambda: TemporalOrderTask(seq_len=100),
    "selective_copy_T1_m1": lambda: SelectiveCopyTask(seq_len=1, n_copy=1),
    "selective_copy_T5_m5": lambda: SelectiveCopyTask(seq_len=5, n_copy=5),
    "selective_copy_T12": lambda: SelectiveCopyTask(seq_len=12),
    "selective_copy_T20_m3": lambda: SelectiveCopyTask(seq_len=20, n_copy=3),
    "assoc_recall_T6": lambda: AssocRecallTask(seq_len=6),
    "assoc_recall_T3_p1": lambda: AssocRecallTask(seq_len=3, n_pairs=1, n_queries=1),
    "assoc_recall_T20_p4_q3_v8": lambda: AssocRecallTask(seq_len=20, n_pairs=4, n_queries=3, vocab=8),
}


@pytest.mark.parametrize("make", LAG_CASES.values(), ids=LAG_CASES.keys())
def test_lag_is_the_distance_measured_in_sampled_sequences(make):
    """Min and max exact (short T: 20,000 sequences draw every position of a window), the mean within 4
    standard errors."""
    task = make()
    lags = measured_lags(task, *task.sample(20_000, task.generator("train", 0))).double()
    assert (task.lag.min, task.lag.max) == (lags.min().item(), lags.max().item())
    assert abs(task.lag.mean - lags.mean().item()) <= 4 * lags.std().item() / math.sqrt(len(lags)) + 1e-9


def test_lags_by_formula():
    memory, copy = MemoryTask(seq_len=50).lag, CopyTask(seq_len=50, n_copy=3).lag
    assert (memory.min, memory.mean, memory.max) == (49, 49, 49)
    assert (copy.min, copy.mean, copy.max) == (53, 53, 53)
    adding = AddingTask(seq_len=50).lag
    assert (adding.min, adding.mean, adding.max) == (25, 37, 49)
    order = TemporalOrderTask(seq_len=100).lag
    assert (order.min, order.mean, order.max) == (80, 84.5, 89)
    selective = SelectiveCopyTask(seq_len=100, n_copy=4).lag
    assert (selective.min, selective.mean, selective.max) == (4, 52, 100)
    recall = AssocRecallTask(seq_len=20).lag  # 2 pairs, 2 queries
    assert (recall.min, recall.mean, recall.max) == (15, 16.5, 18)
    recall = AssocRecallTask(seq_len=100, n_pairs=8, n_queries=4, vocab=16).lag
    assert (recall.min, recall.mean, recall.max) == (81, 89.5, 98)


# --- memory_loss: only the outputs that need the remembered information ---

def test_copy_memory_loss_is_the_loss_on_the_recalled_positions():
    task = CopyTask(seq_len=6, symbols=4, n_copy=3)
    x, y = task.sample(16, task.generator("train", 0))
    output = torch.randn(16, task.length, task.output_size, generator=torch.Generator().manual_seed(0))
    recalled = F.cross_entropy(output[:, -3:].reshape(-1, task.output_size), y[:, -3:].reshape(-1))
    assert task.memory_loss(output, y).item() == pytest.approx(recalled.item())
    assert task.memory_loss(output, y).item() != pytest.approx(task.loss(output, y).item())
    blanks_changed = output.clone()
    blanks_changed[:, :-3] += 5.0 * torch.randn_like(blanks_changed[:, :-3])
    assert task.memory_loss(blanks_changed, y).item() == pytest.approx(recalled.item())


def test_memory_loss_of_a_last_step_task_is_its_loss():
    task = MemoryTask(seq_len=5)
    _, y = task.sample(8, task.generator("train", 0))
    output = torch.randn(8, task.output_size)
    assert task.memory_loss(output, y).item() == task.loss(output, y).item()
