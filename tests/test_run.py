"""End to end through run.py: real training steps, a real MLflow SQLite store."""
import json
import math

import pytest

from tests.conftest import children_and_parents, store_runs

TINY = ["seq_len=6", "hidden=8", "train.steps=4", "train.eval_every=2", "train.eval_size=32", "train.batch=8",
        "threads=1"]
TASK_METRIC = {"copy": "eval_recall_accuracy", "adding": "eval_mse", "memory": "eval_accuracy"}


def test_each_cell_trains_on_each_task_and_is_logged(cli, tmp_path):
    proc = cli("-m", "task=copy,adding,memory", "cell=rnn,lstm,gru", *TINY)  # one process, 9 runs
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs, parents = children_and_parents(store_runs(tmp_path))
    assert len(parents) == 1 and (runs["tags.mlflow.parentRunId"] == parents.iloc[0].run_id).all()
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


def test_metrics_history_and_artifacts(cli, tmp_path):
    proc = cli("task=memory", "cell=lstm", *TINY, "train.early_stop=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    import mlflow
    from mlflow.tracking import MlflowClient

    run = store_runs(tmp_path).iloc[0]
    client = MlflowClient(mlflow.get_tracking_uri())
    history = client.get_metric_history(run.run_id, "eval_loss")
    assert [m.step for m in history] == [2, 4]
    artifacts = {a.path for a in client.list_artifacts(run.run_id)}
    assert {"config.yaml", "result.json"} <= artifacts
    local = json.loads((tmp_path / "outputs" / "result.json").read_text())
    assert local["run_id"] == run.run_id and local["steps_trained"] == 4


def test_non_finite_loss_ends_the_run_as_diverged(cli, tmp_path):
    proc = cli("task=adding", "cell=rnn", *TINY, "fault.kind=nan", "fault.at_step=3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = store_runs(tmp_path).iloc[0]
    assert run["status"] == "FINISHED"
    assert run["tags.outcome"] == "diverged"
    assert run["metrics.steps_trained"] == 4  # noticed at the evaluation after the NaN


def test_a_crash_inside_training_ends_the_run_failed(cli, tmp_path):
    proc = cli("task=memory", "cell=gru", *TINY, "fault.kind=error", "fault.at_step=2")
    assert proc.returncode != 0
    run = store_runs(tmp_path).iloc[0]
    assert run["status"] == "FAILED"
    assert "injected fault at step 2" in run["tags.error"]


@pytest.mark.slow
def test_parallel_single_runs_on_a_fresh_database(tmp_path):
    """Several processes opening a new SQLite store at once must not race on its schema."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("HYDRA_FULL_ERROR", None)
    procs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), f"hydra.run.dir={tmp_path}/r{i}", f"seed={i}",
                               *TINY], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(e[-1500:] for e in errors)
    runs = store_runs(tmp_path)
    assert sorted(runs["tags.seed"]) == ["0", "1", "2", "3"] and (runs["status"] == "FINISHED").all()
