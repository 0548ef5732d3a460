"""What overnight sweeps on shared machines meet: bad input, crashes, Ctrl-C, hard kills,
parallel writers, a real tracking server that is down or goes away, reruns, secrets.
(A sweep logging through a healthy server: tests/test_cluster.py.)

Real processes where a process is what is tested (the slow tier): run.py in a subprocess, real signals,
the real joblib launcher, a real `mlflow server` on a loopback port. Bad input and an absent or silent
server are what run.py's entry point prints and the status it exits with: suite.cli.main in this process
(the `run_py` fixture), real sockets.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT, TINY, children_and_parents, free_port, run_cli, store_runs


# 12 jobs of the smoke preset: 2 tasks x 3 cells x 2 lags
TWELVE = ["experiment=smoke", "task=memory,adding", "cell=rnn,lstm,gru"]


def error_lines(proc) -> list[str]:
    """The `error: ` lines on stderr (of a subprocess, or of run_py's in-process run)."""
    return [line for line in proc.stderr.splitlines() if line.startswith("error: ")]


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["experiment=smoke", "train.lr=0.01,2"], "job #1 (task=memory cell=rnn sweep.rung=0 seed=0 experiment=smoke train.lr=2):"
                                              " train.lr=2.0: expected a number in (0, 1]"),
    (["experiment=smoke", "cell=rnn,lstmm"], "cell='lstmm': unknown cell"),
    (["experiment=smoke", "sweep.rung=0,5"], "sweep.rung=5: this task's ladder [5, 10] has rungs 0..1"),
    (["experiment=smoke", "tracking.uri=ftp://host/x"], "tracking.uri='ftp://host/x': expected a URI"),
])
def test_a_bad_value_in_any_job_stops_the_sweep_before_anything_is_logged(run_py, tmp_path, args, expected):
    proc = run_py("-m", *args)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert len(error_lines(proc)) == 1 and expected in error_lines(proc)[0], proc.stderr[-2000:]
    assert not (tmp_path / "mlflow.db").exists()  # no parent run, no child run, not even a database


def test_more_threads_than_cores_is_a_config_error(run_py, tmp_path):
    proc = run_py(*TINY, f"threads={(os.cpu_count() or 1) + 1}")
    assert proc.returncode == 2
    assert error_lines(proc) == [f"error: threads={(os.cpu_count() or 1) + 1}: this machine has "
                                 f"{os.cpu_count()} cores"]


# --- a tracking server ------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [[], ["-m"]], ids=["run", "sweep"])
def test_an_unreachable_server_fails_naming_the_uri(run_py, tmp_path, flags):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = run_py(*flags, *TINY, env={"MLFLOW_TRACKING_URI": uri})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc) == [f"error: MLFLOW_TRACKING_URI='{uri}': no MLflow tracking server answers there "
                                 "([Errno 111] Connection refused); start it (e.g. mlflow server --host 127.0.0.1 "
                                 "--port 5000) or point the URI elsewhere"]
    assert "Training" not in proc.stderr and not list(tmp_path.glob("**/result.json"))


@pytest.mark.parametrize("flags", [[], ["-m"]], ids=["run", "sweep"])
def test_a_silent_server_gets_one_look_not_mlflows_retries(run_py, tmp_path, monkeypatch, flags):
    """Fails in seconds, not minutes: the suite's one look at the server (store.REACH_TIMEOUT) decides, before
    MLflow's client sends anything (each of its requests would wait 30 s, and be retried with back-off).
    Counted, not timed: the connections the server was sent, as its listening socket holds them."""
    with socket.socket() as silent:  # a hung server, or a firewall that drops: it accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        # a 1 s look instead of 5: the count, not the wait, is what is tested ($RNN_SUITE_REACH_TIMEOUT is read
        # when suite.tracking.store is imported, which this process may have done already: set it there too)
        monkeypatch.setattr("suite.tracking.store.REACH_TIMEOUT", 1.0)
        proc = run_py(*flags, *TINY, env={"MLFLOW_TRACKING_URI": uri, "RNN_SUITE_REACH_TIMEOUT": "1"})
        silent.setblocking(False)
        connections = 0
        while True:
            try:
                silent.accept()[0].close()
            except BlockingIOError:  # none left
                break
            connections += 1
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc) == [f"error: MLFLOW_TRACKING_URI='{uri}': no MLflow tracking server answers there "
                                 "(timed out); start it (e.g. mlflow server --host 127.0.0.1 --port 5000) or point "
                                 "the URI elsewhere"]
    assert connections == 1


@pytest.mark.slow
@pytest.mark.cli
@pytest.mark.timeout(600)
def test_a_server_lost_mid_run_loses_nothing_and_the_result_is_reimported(tmp_path, mlflow_server):
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "PYTHONUNBUFFERED": "1",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    out = tmp_path / "outputs"
    job = subprocess.Popen([sys.executable, str(ROOT / "run.py"), f"hydra.run.dir={out}", "task=memory",
                            "cell=lstm", "seq_len=20", "hidden=32", "threads=1", "train.steps=1200",
                            "train.eval_every=50", "train.eval_growth=null",  # every 50 steps: counted below
                            "train.early_stop=false", "diagnostics.every=0"],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        client = client_for(mlflow_server.uri)
        while job.poll() is None:  # wait until the run is on the server and training (a hang: pytest-timeout)
            experiment = client.get_experiment_by_name("rnn-vs-lstm")
            runs = client.search_runs([experiment.experiment_id]) if experiment else []
            if runs and runs[0].data.params:
                break
            time.sleep(0.3)
        assert job.poll() is None, job.communicate()[1][-3000:]  # it ended before its run was seen training
        run_id = runs[0].info.run_id
        mlflow_server.stop()
        stdout, stderr = job.communicate()
    finally:
        if job.poll() is None:  # the test failed or timed out: the job must not outlive it
            job.kill()
            job.wait()
    assert job.returncode == 4, stderr[-3000:]
    assert f"python -m suite.reimport {out}" in stderr
    result = json.loads((out / "result.json").read_text())
    assert result["tracking_lost"] and result["steps_trained"] == 1200
    assert "hidden: 32" in (out / "config.yaml").read_text()

    mlflow_server.start()  # back, same store
    assert client.get_run(run_id).info.status == "RUNNING"
    proc = subprocess.run([sys.executable, "-m", "suite.reimport", str(out), "--tracking-uri", mlflow_server.uri],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "1 run(s) re-imported" in proc.stdout, proc.stderr[-2000:]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["hidden"] == "32"
    for key in ("eval_loss", "eval_accuracy", "steps_trained"):
        assert run.data.metrics[key] == pytest.approx(result[key])
    steps = [m.step for m in client.get_metric_history(run_id, "eval_loss")]
    assert steps == list(range(50, 1201, 50))  # every evaluation exactly once
    again = subprocess.run([sys.executable, "-m", "suite.reimport", str(out), "--tracking-uri", mlflow_server.uri],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "0 run(s) re-imported" in again.stdout
    assert "tracking_lost" not in json.loads((out / "result.json").read_text())


# --- crashes, interruptions, parallel writers -----------------------------------------------

@pytest.mark.slow
@pytest.mark.cli
def test_one_crash_and_one_divergence_among_twelve_jobs(cli, tmp_path):
    proc = cli("-m", *TWELVE, "++fault.runs={rnn-memory-T5-h8-s0:error,gru-adding-T10-h8-s0:nan}", "fault.at_step=2")
    assert proc.returncode == 3, proc.stderr[-3000:]  # documented: some job crashed
    assert "1 job(s) of the sweep crashed" in proc.stderr
    children, parents = children_and_parents(store_runs(tmp_path))
    assert len(children) == 12 and parents.iloc[0]["status"] == "FINISHED"
    by_name = children.set_index("tags.mlflow.runName")
    assert by_name.loc["rnn-memory-T5-h8-s0", "status"] == "FAILED"
    assert "injected fault at step 2" in by_name.loc["rnn-memory-T5-h8-s0", "tags.error"]
    assert by_name.loc["gru-adding-T10-h8-s0", "tags.outcome"] == "diverged"
    assert (by_name.drop("rnn-memory-T5-h8-s0")["status"] == "FINISHED").all()
    summary = (tmp_path / "multirun" / "summary" / "summary.md").read_text()
    assert "rnn-memory-T5-h8-s0" in summary and "gru-adding-T10-h8-s0" in summary


@pytest.fixture
def start_sweep(tmp_path):
    """start_sweep(name, args): `run.py -m ARGS` in its own process group, writing to <name>.log. A sweep
    still running when the test ends (it failed) is killed with its workers: endless jobs must not outlive it."""
    started = []

    def start(sweep: str, args: list[str]) -> subprocess.Popen:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "PYTHONUNBUFFERED": "1"}
        env.pop("HYDRA_FULL_ERROR", None)
        cmd = [sys.executable, str(ROOT / "run.py"), "-m", *args]
        started.append(subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=open(tmp_path / f"{sweep}.log", "w"),
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=as_foreground_job))
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def as_foreground_job() -> None:
    """SIGINT as a terminal's foreground job has it. A test runner started in the background of a
    non-interactive shell (`pytest &` in a script, some CI runners) ignores SIGINT, its children
    inherit that, and Python then installs no KeyboardInterrupt handler: the sweep would run on
    through the Ctrl-C this test sends and exit 0 (seen: the sweep finished every job after it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def sweep_args(tmp_path: Path, sweep: str, launcher: str) -> list[str]:
    """An 8-job sweep, slow enough per job to be caught in the middle."""
    return ["experiment=smoke", "task=memory", "cell=rnn,lstm", "seed=0,1", "train.steps=1000",
            "train.eval_every=50", "train.early_stop=false", f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={tmp_path}/{sweep}"]


SHORT, ENDLESS = 100, 10_000_000  # train.steps: a job done in a second or two; one that would train for hours


def short_and_endless_args(tmp_path: Path, sweep: str) -> list[str]:
    """Six jobs on two joblib workers, short and endless in turn (the last swept key varies fastest). Once
    two endless jobs train, both workers are theirs until a signal: no run can finish and no other job
    start, so the state a signal meets is known exactly, however slow the machine."""
    return ["experiment=smoke", "task=memory", "cell=rnn", "sweep.rung=0", "seed=0,1,2",
            f"train.steps={SHORT},{ENDLESS}", "train.eval_every=50", "train.early_stop=false", "diagnostics.every=0",
            "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path}/{sweep}"]


def endless(job_folder: Path) -> bool:
    return f"train.steps={ENDLESS}" in (job_folder / ".hydra" / "overrides.yaml").read_text()


def wait_for(tmp_path: Path, sweep: str, finished: int, running: int, only_endless: bool = False,
             sweep_proc: subprocess.Popen | None = None) -> None:
    """Wait until the sweep has this many jobs finished and this many training (their runs
    RUNNING; with `only_endless`, endless ones), read from the job folders: a job writes
    config.yaml once its run exists and result.json when it ends. Files, not the store, so the
    poll takes milliseconds even on a busy machine (a slow poll once let a whole sweep finish
    before the signal was sent). A sweep that never gets there is ended by the test's timeout (pytest-timeout);
    one that exits first fails at once."""
    folder = tmp_path / sweep
    while sweep_proc is None or sweep_proc.poll() is None:
        jobs = [d for d in folder.glob("*_*") if d.is_dir()]
        done = sum((d / "result.json").exists() for d in jobs)
        training = sum((d / "config.yaml").exists() and not (d / "result.json").exists()
                       and (not only_endless or endless(d)) for d in jobs)
        if done >= finished and training >= running:
            return
        time.sleep(0.05)
    raise AssertionError(f"the sweep exited (status {sweep_proc.returncode}) before it got to {finished} finished "
                         f"and {running} training jobs")


# A hung sweep (one that does not exit on its signal, or never gets to the state waited for) is failed by
# pytest-timeout: each such test has its own limit below, and start_sweep's teardown kills its process group.


def signal_sweep(sweep: subprocess.Popen, signum: int) -> None:
    assert sweep.poll() is None, "the sweep ended before it could be signalled"
    os.killpg(sweep.pid, signum)


@pytest.mark.slow
@pytest.mark.cli
@pytest.mark.timeout(600)
def test_ctrl_c_ends_the_runs_in_progress_and_the_parent_as_killed(tmp_path, start_sweep):
    sweep = start_sweep("first", short_and_endless_args(tmp_path, "first"))
    wait_for(tmp_path, "first", finished=1, running=2, only_endless=True, sweep_proc=sweep)  # both on endless jobs
    children, _ = children_and_parents(store_runs(tmp_path))  # as the signal finds them: it cannot change now
    finished = set(children.run_id[children.status == "FINISHED"])
    training = set(children.run_id[children.status == "RUNNING"])
    assert len(finished) >= 1 and len(training) == 2 and len(children) == len(finished) + len(training)
    signal_sweep(sweep, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole process group
    assert sweep.wait() == 130  # it stopped: its endless jobs would never have let it end
    runs = store_runs(tmp_path)
    assert "RUNNING" not in set(runs.status)
    children, parents = children_and_parents(runs)
    assert parents.iloc[0]["status"] == "KILLED"
    # every run not FINISHED when the signal went out is KILLED, saying why; the finished stay FINISHED
    assert set(children.run_id[children.status == "FINISHED"]) == finished
    killed = children[children.status == "KILLED"]
    assert set(killed.run_id) == training and killed["tags.error"].str.startswith("interrupted").all()
    assert len(children) == len(finished) + len(training)  # and no job started after it


@pytest.mark.slow
@pytest.mark.cli
@pytest.mark.timeout(600)
def test_a_hard_killed_sweep_is_finished_by_the_next_one_without_loss_or_duplicates(tmp_path, start_sweep):
    sweep = start_sweep("first", sweep_args(tmp_path, "first", "basic"))
    wait_for(tmp_path, "first", finished=2, running=1, sweep_proc=sweep)
    signal_sweep(sweep, signal.SIGKILL)  # no chance to clean up
    sweep.wait()
    before = store_runs(tmp_path)
    finished_before = set(before.loc[before.status == "FINISHED", "run_id"])
    assert (before.status == "RUNNING").sum() == 2  # the parent and the job it was training

    again = run_cli(["-m", *sweep_args(tmp_path, "second", "basic")], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("reusing finished run") == len(finished_before)
    runs = store_runs(tmp_path)
    assert "RUNNING" not in set(runs.status)
    children, parents = children_and_parents(runs)
    killed = runs[runs.status == "KILLED"]
    assert len(killed) == 2 and killed["tags.error"].str.contains("ended without ending the run").all()
    done = children[children.status == "FINISHED"]
    assert finished_before - set(parents.run_id) <= set(done.run_id)  # nothing finished was lost
    assert len(done) == 8 and done["tags.config_hash"].is_unique  # every job once, none twice
    summarised = pd.read_csv(tmp_path / "second" / "summary" / "runs.csv")
    assert len(summarised) == 8 and summarised["run_id"].is_unique


@pytest.mark.slow
@pytest.mark.cli
@pytest.mark.parametrize("workers", [8])
def test_parallel_writers_on_a_fresh_database_log_every_job_once(cli, tmp_path, workers):
    """8 jobs on 8 workers: all of them open the store the sweep just created, and write to it, at the same moment.
    (The launching process creates a sweep's store first; several processes creating a new SQLite store at once,
    the schema race, is tests/test_cli.py's parallel single runs. A run with 2 workers, once here too, checked
    nothing that 8 do not.)"""
    proc = cli("-m", "experiment=smoke", "task=memory,adding", "cell=rnn,lstm", "seed=0",
               "hydra/launcher=parallel", f"hydra.launcher.n_jobs={workers}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    children, parents = children_and_parents(store_runs(tmp_path))
    assert len(parents) == 1 and len(children) == 8
    assert children["tags.config_hash"].is_unique and children["tags.mlflow.runName"].is_unique
    assert (children.status == "FINISHED").all()
    pids = set(children["tags.owner_pid"])
    assert 1 < len(pids) <= workers  # really written from several processes


# Four jobs, each training long enough (a few seconds) that two sweeps started together meet on every one.
TWINNED = ["task=memory", "cell=rnn,lstm", "seq_len=6,8", "hidden=8", "train.steps=1000", "train.eval_every=500",
           "train.eval_size=32", "train.batch=8", "train.early_stop=false", "diagnostics.every=0", "threads=1"]


@pytest.mark.slow
@pytest.mark.cli
@pytest.mark.timeout(600)
def test_two_identical_sweeps_started_together_train_every_job_once(tmp_path, start_sweep):
    """A re-launch while the first sweep still runs, two people on one store, a requeued cluster job:
    every job is trained by one sweep and reused by the other (suite/tracking/twins.py)."""
    sweeps = {name: start_sweep(name, [*TWINNED, f"hydra.sweep.dir={tmp_path}/{name}"]) for name in ("one", "two")}
    for name, sweep in sweeps.items():
        assert sweep.wait() == 0, (tmp_path / f"{name}.log").read_text()[-3000:]
    children, parents = children_and_parents(store_runs(tmp_path))  # active runs: withdrawn ones are deleted
    assert len(parents) == 2 and (parents.status == "FINISHED").all()
    assert (children.status == "FINISHED").all(), children[["tags.mlflow.runName", "status", "tags.error"]]
    assert len(children) == 4 and children["tags.config_hash"].is_unique  # every job once, none twice
    for name in sweeps:  # each sweep's summary lists all four jobs: the runs it trained and the ones it reused
        summarised = pd.read_csv(tmp_path / name / "summary" / "runs.csv")
        assert set(summarised["run_id"]) == set(children.run_id), name
    client = client_for(f"sqlite:///{tmp_path}/mlflow.db")
    from mlflow.entities import ViewType

    everything = client.search_runs([children.iloc[0].experiment_id], run_view_type=ViewType.ALL)
    withdrawn = [r for r in everything if r.info.lifecycle_stage == "deleted"]
    assert all(r.info.status == "KILLED" for r in withdrawn)  # nothing half-logged left RUNNING, even deleted


# --- privacy ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.cli
def test_no_secret_and_no_home_path_in_params_or_tags(tmp_path):
    secrets = {"MLFLOW_TRACKING_PASSWORD": "hunter2-very-secret", "MLFLOW_TRACKING_TOKEN": "tok-abc-123-xyz"}
    home = str(tmp_path)  # the store, the outputs and the sweep folder all live under this "home"
    env = {**secrets, "HOME": home}
    assert run_cli([*TINY, "tracking.experiment=private"], tmp_path, env=env).returncode == 0
    proc = run_cli(["-m", *TINY, "seed=1,2", "tracking.experiment=private",
                    f"hydra.searchpath=[file://{home}/conf]"], tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    client = client_for(f"sqlite:///{tmp_path}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("private").experiment_id])
    assert len(runs) == 4  # one run, one parent, two children
    logged = [v for r in runs for v in (*r.data.params.values(), *r.data.tags.values())]
    for secret in (*secrets.values(), home, str(Path.home())):
        assert not [v for v in logged if secret in v], secret
    parent = next(r for r in runs if r.data.tags.get("sweep") == "parent")
    assert parent.data.tags["sweep_dir"] == "~/multirun"  # still useful, without the home path
