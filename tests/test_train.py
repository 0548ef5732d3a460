"""The training loop's optional stops and precisions, in process (a few steps each)."""
import pytest
import torch

from suite.config import TrainConfig
from suite.model.recurrent import build_model
from suite.record import Outcome
from suite.training.loop import AT_BASELINE, train
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
    assert stopped.steps == 6 and stopped.stopped_at_baseline and stopped.outcome == Outcome.FAILED


def test_bf16_autocast_trains_and_keeps_float32_weights():
    """bf16 learns: the short memory task that the float32 run solves within the budget (at step 70 here) is
    solved in bf16 too, its weights stay float32, and its numbers are not float32's (autocast is in effect)."""
    models = []
    easy = {"lr": 0.03, "steps": 300, "eval_every": 10}
    bf16, fp32 = tiny_run(models, precision="bf16", **easy), tiny_run(**easy)
    for result in (bf16, fp32):
        assert result.outcome == Outcome.SOLVED and result.steps < 300  # stopped early: solved, not out of budget
        assert result.final["accuracy"] >= 0.99 and result.final["loss_norm"] < 0.2  # far below the baseline (1)
    assert {p.dtype for p in models[0].parameters()} == {torch.float32}  # autocast casts activations only
    # bf16 changes the rounding, so the losses differ; equal ones would mean the run trained in float32
    assert bf16.final["loss"] != fp32.final["loss"]


def test_the_evaluation_schedule_every_and_geometric():
    from suite.training.loop import evaluation_steps

    assert evaluation_steps(10, 3) == [3, 6, 9, 10] and evaluation_steps(6, 3) == [3, 6] and evaluation_steps(5, 9) == [5]
    geometric = evaluation_steps(2000, 20, 1.15)
    assert geometric[0] == 20 and geometric[-1] == 2000 and len(geometric) == len(set(geometric))
    # the learning-time resolution: each evaluation at most 15% after the last (the budget may come sooner)
    assert all(b / a <= 1.15 for a, b in zip(geometric, geometric[1:]))
    assert 30 < len(geometric) < 45  # against 20 every 100 updates
    assert evaluation_steps(6, 2, 1.15) == [2, 3, 4, 5, 6]  # at least one update apart


def test_each_run_records_the_interval_its_solve_lies_in():
    solved = tiny_run(lr=3e-2, steps=200, eval_every=4, eval_growth=1.5)
    from suite.training.loop import evaluation_steps

    schedule = evaluation_steps(200, 4, 1.5)
    assert solved.outcome == Outcome.SOLVED, solved
    at = schedule.index(solved.steps_to_solve)
    assert solved.last_unsolved == (schedule[at - 1] if at else 0)
    never = tiny_run(lr=1e-7, steps=20, eval_every=4, eval_growth=1.5)
    assert never.steps_to_solve is None and never.last_unsolved == 20  # censored at the budget


def test_a_knob_at_its_neutral_value_leaves_the_config_hash_of_the_runs_stored_before_it():
    from suite.record import config_hash

    before = {"seed": 0, "train": {"steps": 2000, "eval_every": 100}}
    assert config_hash({**before, "train": {**before["train"], "eval_growth": None}}, "cpu") == config_hash(before, "cpu")
    assert config_hash({**before, "train": {**before["train"], "eval_growth": 1.15}}, "cpu") != config_hash(before, "cpu")


def test_a_stop_that_garbage_collection_swallowed_still_stops_the_loop(monkeypatch):
    """SLURM's SIGTERM met while a finalizer runs (SQLAlchemy's registries have weakref callbacks):
    Python drops the JobStopped its handler raises there, so the loop raises it at its next step."""
    import signal
    import sys

    from suite import cli, errors

    monkeypatch.setattr(errors, "_stop_asked", None)  # and back to None after the test
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: swallowed.append(unraisable.exc_value))
    handler = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, cli._stopped_by_slurm)
    try:
        class Finalised:
            def __del__(self):
                signal.raise_signal(signal.SIGTERM)  # its handler runs here, inside the finalizer

        Finalised()
        assert [type(e) for e in swallowed] == [errors.JobStopped]  # lost where it was raised
        with pytest.raises(errors.JobStopped, match=r"^SLURM stopped the job \(SIGTERM") as stopped:
            tiny_run()
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert str(stopped.value) == str(swallowed[0])
