"""The training loop's optional stops and precisions, in process (a few steps each)."""
import math

import torch

from suite.config import TrainConfig
from suite.model import build_model
from suite.train import AT_BASELINE, FAILED, train
from tasks.memory import MemoryTask


def tiny_run(model_out: list | None = None, **train_kw):
    """A few steps of the default LSTM (its config's defaults: chrono init) on a short memory task."""
    task = MemoryTask(seq_len=8)
    torch.manual_seed(0)
    model = build_model({"name": "lstm"}, 8, task)
    if model_out is not None:
        model_out.append(model)
    cfg = TrainConfig(**{"steps": 40, "batch": 16, "eval_every": 2, "eval_size": 64, **train_kw})
    return train(model, task, cfg, seed=0, device=torch.device("cpu"), progress=False)


def test_a_run_at_the_baseline_is_stopped_only_when_asked():
    # lr so small that nothing is learned in 40 steps: every evaluation sits at the baseline
    kept = tiny_run(lr=1e-7)
    assert kept.steps == 40 and not kept.stopped_at_baseline
    assert kept.final["loss_norm"] >= AT_BASELINE
    stopped = tiny_run(lr=1e-7, stop_at_baseline_after=3)
    assert stopped.steps == 6 and stopped.stopped_at_baseline and stopped.outcome == FAILED


def test_bf16_autocast_trains_and_keeps_float32_weights():
    models = []
    result = tiny_run(models, precision="bf16", steps=10)
    assert result.steps == 10 and math.isfinite(result.final["loss"])
    assert {p.dtype for p in models[0].parameters()} == {torch.float32}  # autocast casts activations only
    fp32 = tiny_run(steps=10)
    # the same run in float32 ends near it: bf16 changes rounding, not the computation
    assert abs(result.final["loss"] - fp32.final["loss"]) < 0.05
