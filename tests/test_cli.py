"""run.py as a user types it (the CLI tier): a subprocess, its exit status and what it prints. One real process
per exit status run.py's own tests need: 0 (a run) and 1 (a crash, the interpreter's traceback) here, 2 (a config
error) in tests/test_tutorial.py; 3 (a job crashed), 4 (tracking lost) and 130 (Ctrl-C) in the slow tier
(tests/test_sweep.py, tests/test_reliability.py). What run.py prints for other cases is checked in process
(tests/conftest.py's `run_py`)."""
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
@pytest.mark.timeout(300)
def test_parallel_single_runs_on_a_fresh_database(tmp_path):
    """Several processes opening a new SQLite store at once must not race on its schema. (The suite's one test of
    that race: a sweep's launching process creates its store before any job starts.)"""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("HYDRA_FULL_ERROR", None)
    procs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), f"hydra.run.dir={tmp_path}/r{i}", f"seed={i}",
                               *TINY], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    try:
        errors = [p.communicate()[1] for p in procs]  # a hang: pytest-timeout fails the test, and these are killed
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n".join(e[-1500:] for e in errors)
    runs = store_runs(tmp_path)
    assert sorted(runs["tags.seed"]) == ["0", "1", "2", "3"] and (runs["status"] == "FINISHED").all()
