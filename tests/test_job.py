"""One job in this process (the fast tier): real training steps, a real MLflow SQLite store, no subprocess."""
import json
import math

import pytest

from tests.conftest import ROOT, TINY, store_runs

TASK_METRIC = {"copy": "eval_recall_accuracy", "adding": "eval_mse", "memory": "eval_accuracy"}


def test_each_cell_trains_on_each_task_and_is_logged(job, tmp_path):
    for task in TASK_METRIC:
        for cell in ("rnn", "lstm", "gru"):
            job(f"task={task}", f"cell={cell}", *TINY, output=f"{task}-{cell}")
    runs = store_runs(tmp_path)
    assert sorted(zip(runs["tags.task"], runs["tags.cell"])) == sorted(
        (task, cell) for task in TASK_METRIC for cell in ("rnn", "lstm", "gru"))
    for _, run in runs.iterrows():
        cell, task = run["tags.cell"], run["tags.task"]
        assert run["status"] == "FINISHED"
        assert run["tags.mlflow.runName"] == f"{cell}-{task}-T6-h8-s0"
        assert run["tags.seq_len"] == "6" and run["tags.hidden"] == "8"
        assert run["tags.seed"] == "0" and run["tags.outcome"] in ("solved", "failed")
        # the flattened resolved config
        assert run["params.train.lr"] == "0.005" and run["params.cell.name"] == cell
        assert run["params.task.seq_len"] == "6" and float(run["params.baseline_loss"]) > 0
        for metric in ("train_loss", "eval_loss", "eval_loss_norm", TASK_METRIC[task], "steps_trained",
                       "train_seqs_per_s"):
            assert math.isfinite(run[f"metrics.{metric}"]), (task, cell, metric)
        assert run["metrics.steps_trained"] in (2, 4)


def test_metrics_history_and_artifacts(job, tmp_path):
    result = job("task=memory", "cell=lstm", *TINY, "train.early_stop=false")
    from mlflow.tracking import MlflowClient

    run = store_runs(tmp_path).iloc[0]
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    # the default schedule from train.eval_every=2: each evaluation at most 1.15x the last, and one at the budget
    assert [m.step for m in client.get_metric_history(run.run_id, "eval_loss")] == [2, 3, 4]
    assert {"config.yaml", "result.json"} <= {a.path for a in client.list_artifacts(run.run_id)}
    profile = {"diagnostics/grad_profile.csv", "diagnostics/grad_profile.png"}  # the gradient reaching each step
    assert profile <= {a.path for a in client.list_artifacts(run.run_id, "diagnostics")}
    assert all((tmp_path / "outputs" / path.split("/")[1]).stat().st_size > 0 for path in profile)
    local = json.loads((tmp_path / "outputs" / "result.json").read_text())
    assert local == result and local["run_id"] == run.run_id and local["steps_trained"] == 4
    assert "hidden: 8" in (tmp_path / "outputs" / "config.yaml").read_text()


def test_non_finite_loss_ends_the_run_as_diverged(job, tmp_path):
    result = job("task=adding", "cell=rnn", *TINY, "fault.kind=nan", "fault.at_step=3")
    run = store_runs(tmp_path).iloc[0]
    assert result["outcome"] == "diverged"
    assert run["status"] == "FINISHED" and run["tags.outcome"] == "diverged"
    assert run["metrics.steps_trained"] == 3  # noticed at the evaluation after the NaN (the schedule: 2, 3, 4)


def test_a_stalled_run_is_slower_and_its_numbers_are_a_healthy_runs(job, tmp_path):
    """fault.kind=stall (a job a test stops while it trains) sleeps each step from at_step and changes nothing else."""
    healthy = job("task=memory", "cell=rnn", *TINY, output="healthy")
    stalled = job("task=memory", "cell=rnn", *TINY, "fault.kind=stall", "fault.at_step=2", output="stalled")
    assert stalled["train_seconds"] >= 3 * 0.05  # steps 2, 3 and 4 slept
    assert {k: v for k, v in stalled.items() if k.startswith(("eval_", "train_loss", "outcome", "steps"))} == \
        {k: v for k, v in healthy.items() if k.startswith(("eval_", "train_loss", "outcome", "steps"))}


def test_a_crash_inside_training_ends_the_run_failed(job, tmp_path):
    with pytest.raises(RuntimeError, match="injected fault at step 2"):
        job("task=memory", "cell=gru", *TINY, "fault.kind=error", "fault.at_step=2")
    run = store_runs(tmp_path).iloc[0]
    assert run["status"] == "FAILED" and "injected fault at step 2" in run["tags.error"]
    local = json.loads((tmp_path / "outputs" / "result.json").read_text())
    assert local["outcome"] == "crashed" and local["run_id"] == run.run_id


def test_same_config_and_seed_give_identical_metrics_on_cpu(job):
    results = [job(*TINY, "train.steps=30", "train.eval_every=10", "cell=lstm", "device=cpu", output=f"run{i}")
               for i in range(2)]
    timing = ("run_id", "train_seconds", "train_seqs_per_s")
    assert [{k: v for k, v in r.items() if k not in timing} for r in results][0] == \
           [{k: v for k, v in r.items() if k not in timing} for r in results][1]
    assert results[0]["eval_loss"] > 0 and results[0]["run_id"] != results[1]["run_id"]


def test_in_a_sweep_an_identical_finished_run_is_reused_and_a_single_run_always_trains(job, tmp_path):
    first = job(*TINY, output="a", sweeping=True)
    again = job(*TINY, output="b", sweeping=True)
    assert again["reused"] and again["run_id"] == first["run_id"]
    assert again["eval_loss"] == first["eval_loss"]
    other_lr = job(*TINY, "train.lr=0.001", output="c", sweeping=True)  # another config: trained
    single = job(*TINY, output="d")  # `python run.py` trains even when a finished twin exists
    assert "reused" not in other_lr and "reused" not in single
    assert len(store_runs(tmp_path)) == 3
    # keys that do not change what is trained stay out of the hash: reused (the latest identical run)
    moved = job(*TINY, "threads=1", "sweep.name=other", "run_name=renamed", output="e", sweeping=True)
    assert moved["reused"] and moved["run_id"] == single["run_id"]


def head_commit() -> str | None:
    """The checkout's commit as git says it, or None outside a git checkout (or without git)."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        return None
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    return head.stdout.strip() if head.returncode == 0 else None


def test_what_the_ui_shows_of_a_run(job, tmp_path):
    """No `None` params, the thread count torch used, a one-line description, the data and the code."""
    import torch
    from mlflow.tracking import MlflowClient

    result = job("task=memory", "cell=rnn", *[o for o in TINY if not o.startswith("threads")])  # the default
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    run = client.get_run(result["run_id"])
    params, tags = run.data.params, run.data.tags
    assert "None" not in params.values() and "fault.kind" not in params and "sweep.rung" not in params
    assert params["threads"] == str(torch.get_num_threads()) == "1"
    assert tags["mlflow.note.content"] == (f"rnn · memory · T=6: {result['outcome']} after 4 steps, loss ÷ baseline "
                                           f"{result['eval_loss_norm']:.2g}")
    assert tags["mlflow.source.name"] == "run.py"
    assert tags.get("mlflow.source.git.commit") == head_commit()  # in a git checkout its commit, else no tag
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert sorted(inputs) == ["eval", "train"] and inputs["train"].name == "memory-T6-s0-train"
    assert json.loads(inputs["eval"].source)["task"]["seq_len"] == 6
    metrics = run.data.metrics
    assert metrics["grad_log10_ratio"] == pytest.approx(metrics["grad_log10_first"] - metrics["grad_log10_last"])
