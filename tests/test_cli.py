"""run.py as a user types it (the CLI tier): a subprocess, its exit status and what it prints."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TINY, store_runs

pytestmark = pytest.mark.cli  # run.py in subprocesses


def test_a_single_run_trains_logs_and_says_how_it_ended(cli, tmp_path):
    proc = cli("task=memory", "cell=lstm", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "outputs" / "result.json").read_text())
    run = store_runs(tmp_path).iloc[0]
    assert result["run_id"] == run.run_id and run["status"] == "FINISHED"
    assert f"lstm-memory-T6-h8-s0: {result['outcome']} after {result['steps_trained']} steps" in proc.stdout + proc.stderr


def test_a_crash_in_a_single_run_exits_1_with_its_traceback_and_ends_the_run_failed(cli, tmp_path):
    proc = cli("task=memory", "cell=gru", *TINY, "fault.kind=error", "fault.at_step=2")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "RuntimeError: injected fault at step 2" in proc.stderr
    run = store_runs(tmp_path).iloc[0]
    assert run["status"] == "FAILED" and "injected fault at step 2" in run["tags.error"]


@pytest.mark.slow
def test_parallel_single_runs_on_a_fresh_database(tmp_path):
    """Several processes opening a new SQLite store at once must not race on its schema."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("HYDRA_FULL_ERROR", None)
    procs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), f"hydra.run.dir={tmp_path}/r{i}", f"seed={i}",
                               *TINY], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(e[-1500:] for e in errors)
    runs = store_runs(tmp_path)
    assert sorted(runs["tags.seed"]) == ["0", "1", "2", "3"] and (runs["status"] == "FINISHED").all()
