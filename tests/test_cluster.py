"""Scale out: sweeps through Hydra's submitit launcher (conf/hydra/launcher/) and a shared tracking server.

- `hydra/launcher=local` (every job pickled, run in a process of its own and attached to the parent run that
  the launching process opened): a sweep to a tracking server below, and tests/test_sweep.py's horizon search;
- `hydra/launcher=slurm`: the same through a real single-node SLURM cluster started on this
  machine (tests/slurm_cluster.py): the sweep as one job array, array_parallelism, jobs that
  SLURM cancels or stops at their time limit;
- a sweep logging to `mlflow server` on a SQLite and a PostgreSQL backend, the latter also with
  8 parallel writers and a server restarted mid-sweep (docs/cluster.md).

Services the machine lacks (SLURM, PostgreSQL) make their tests skip, saying why; .ci/run
installs them where it runs as root.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import slurm_cluster
from tests.conftest import (ROOT, MlflowServer, assert_one_parent_with_children, assert_summary_written,
                            children_and_parents, free_port, run_cli, store_runs)

pytestmark = pytest.mark.slow

# No usage telemetry from test runs; the server does not need MLflow's job runner processes.
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


# -- SLURM, for real ------------------------------------------------------------------------------
# A single-node cluster on this machine (tests/slurm_cluster.py), shared by this module's SLURM tests.
# Each sweep is one job array; what the scheduler did is read back from its accounting (`sacct`).
@pytest.fixture(scope="module")
def slurm():
    reason = slurm_cluster.missing()
    if reason:
        pytest.skip(f"no SLURM cluster here: {reason}")
    cluster = slurm_cluster.SlurmCluster().start()
    print(f"SLURM cluster started: {', '.join(f'{k} {v:.1f} s' for k, v in cluster.started_s.items())}")
    yield cluster
    cluster.stop()
    cluster.remove()


def slurm_sweep(tmp_path: Path, cluster, *args: str, sweep: str = "multirun"):
    """`run.py -m ... hydra/launcher=slurm` against the cluster and tmp_path's SQLite store; the
    process, the sweep folder and the job array's id (from submitit's folder of the submission)."""
    sweep_dir = tmp_path / sweep
    proc = run_cli(["-m", "experiment=smoke", "task=memory", "hydra/launcher=slurm", f"hydra.sweep.dir={sweep_dir}",
                    f"hydra.launcher.partition={slurm_cluster.PARTITION}", *args], tmp_path,
                   env={"SLURM_CONF": str(cluster.conf), **QUIET})
    submitted = list((sweep_dir / ".submitit").glob("*/*_submission.sh"))
    assert len(submitted) == 1, f"one sbatch call: the whole sweep is one job array; {submitted}\n{proc.stderr[-3000:]}"
    return proc, sweep_dir, submitted[0]


def test_slurm_preset_runs_the_sweep_as_one_job_array_at_most_array_parallelism_at_once(tmp_path, slurm):
    # 3 jobs, 1 CPU and 1 GB each: the node (2 CPUs) could run two at once; array_parallelism=1 allows one.
    proc, sweep_dir, script = slurm_sweep(tmp_path, slurm, "cell=rnn,lstm,gru", "sweep.rung=0",
                                          "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=5",
                                          "hydra.launcher.array_parallelism=1")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    # The preset's knobs, as the directives of the script SLURM was given
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", script.read_text(), re.M))
    assert {k: flags.get(k) for k in ("partition", "cpus-per-task", "mem", "time", "array", "job-name", "signal")} == {
        "partition": slurm_cluster.PARTITION, "cpus-per-task": "1",  # threads: 1 in the smoke preset
        "mem": "1GB", "time": "5", "array": "0-2%1", "job-name": "rnn-smoke", "signal": "USR2@120"}
    assert flags["output"].startswith(str(sweep_dir / ".submitit") + "/")
    array = script.parent.name
    tasks = slurm.jobs(array)
    assert sorted(t["JobID"] for t in tasks) == [f"{array}_{i}" for i in range(3)]
    assert {t["State"] for t in tasks} == {"COMPLETED"} and {t["JobName"] for t in tasks} == {"rnn-smoke"}
    # What the scheduler did: each task started once the one before it had ended (sacct's times
    # are whole seconds, so one may start in the second the other ended).
    spans = sorted((t["Start"], t["End"]) for t in tasks)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans
    parent, children = assert_one_parent_with_children(store_runs(tmp_path), 3)
    assert set(children["tags.device"]) == {"cpu"}  # device=auto: no GPU on this machine
    assert len(set(children["tags.owner_pid"])) == 3 and parent["tags.owner_pid"] not in set(children["tags.owner_pid"])
    for i in range(3):  # each task's log, where submitit and the job wrote it
        log = (sweep_dir / ".submitit" / f"{array}_{i}" / f"{array}_{i}_0_log.out").read_text()
        assert f"Starting with JobEnvironment(job_id={array}_{i}" in log and "Job completed successfully" in log
    assert_summary_written(sweep_dir)


# Three ways SLURM stops a job, one job each: cancelled while it trains (scancel: SIGTERM); trained past
# its --time (1 minute; signal_delay_s=0, so no warning first: SIGTERM at the limit); warned of its time
# limit (SIGUSR2, which SLURM sends signal_delay_s before --time; sent here with scancel --signal).
# The jobs stall (fault.kind=stall: 50 ms a step, asleep), so they are still training when stopped however busy the
# machine is, without keeping a core busy while the test waits out the time limit.
STOPPED = ("cell=rnn", "sweep.rung=0", "train.early_stop=false", "train.eval_every=50", "fault.kind=stall",
           "hydra.launcher.signal_delay_s=0", "hydra.launcher.array_parallelism=3", "hydra.launcher.mem_gb=1")
CANCELLED, TIMED_OUT, WARNED = 200, 10_000_000, 240  # train.steps: ~10 s of training, days, ~12 s


def test_jobs_slurm_stops_end_killed_with_the_reason_and_the_next_sweep_retrains_them(tmp_path, slurm):
    sweep_dir = tmp_path / "first"
    env = {**os.environ, **QUIET, "SLURM_CONF": str(slurm.conf),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
    env.pop("HYDRA_FULL_ERROR", None)
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", "experiment=smoke", "task=memory", "hydra/launcher=slurm",
           f"hydra.launcher.partition={slurm_cluster.PARTITION}", f"hydra.sweep.dir={sweep_dir}", *STOPPED,
           f"train.steps={CANCELLED},{TIMED_OUT},{WARNED}", "hydra.launcher.timeout_min=1"]
    sweep = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def job_wrote(number: int, file: str):  # config.yaml: its run exists, training begins; result.json: it ended
        slurm_cluster.wait_until(f"job #{number}'s {file}", lambda: list(sweep_dir.glob(f"{number}_*/{file}")),
                                 180, sweep)

    try:
        job_wrote(0, "config.yaml")
        array = next((sweep_dir / ".submitit").glob("*/*_submission.sh")).parent.name
        slurm.run("scancel", f"{array}_0")
        job_wrote(2, "config.yaml")  # the node has 2 CPUs: job #2 starts once #0 has gone
        slurm.run("scancel", "--signal=USR2", f"{array}_2")
        for number in (0, 2):
            job_wrote(number, "result.json")
        # The next sweep, on the CPU #2 has freed while #1 waits for its time limit, reuses none of them: it
        # trains the cancelled job again (the timed-out one would take hours).
        again, _, _ = slurm_sweep(tmp_path, slurm, *STOPPED, f"train.steps={CANCELLED}",
                                  "hydra.launcher.timeout_min=5", sweep="second")
        output, _ = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 3, output[-3000:]  # documented: some job did not finish
    assert "3 job(s) of the sweep crashed" in output, output[-4000:]
    states = {t["JobID"]: t for t in slurm.jobs(array)}
    assert states[f"{array}_0"]["State"].startswith("CANCELLED"), states
    assert states[f"{array}_1"]["State"] == "TIMEOUT" and states[f"{array}_1"]["Elapsed"] >= "00:01:00", states
    runs = store_runs(tmp_path)
    assert "RUNNING" not in set(runs.status)
    children, parents = children_and_parents(runs)
    assert list(parents.status) == ["FINISHED"] * 2  # both sweeps went on to their summaries
    results = [json.loads(next(sweep_dir.glob(f"{number}_*/result.json")).read_text()) for number in range(3)]
    first = children.set_index("run_id").loc[[result["run_id"] for result in results]]
    assert list(first.status) == ["KILLED"] * 3 and first["tags.mlflow.parentRunId"].nunique() == 1, first
    killed = {}  # train.steps: the config hash of its killed run, found through the job's result.json
    reasons = {CANCELLED: "SLURM stopped the job (SIGTERM: scancel, its time limit, or preemption)",
               TIMED_OUT: "SLURM stopped the job (SIGTERM: scancel, its time limit, or preemption)",
               WARNED: "SLURM's time-limit warning (SIGUSR2, signal_delay_s before --time): Job not requeued"}
    for steps, result, (_, run) in zip((CANCELLED, TIMED_OUT, WARNED), results, first.iterrows()):
        assert run["tags.error"].startswith(reasons[steps])
        assert result["outcome"] == "crashed" and result["error"] == f"JobStopped: {run['tags.error']}"
        killed[steps] = run["tags.config_hash"]

    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "reusing finished run" not in again.stdout + again.stderr
    retrained = runs[runs["tags.config_hash"] == killed[CANCELLED]]
    assert sorted(retrained.status) == ["FINISHED", "KILLED"]
    from suite.record import Tag
    from suite.tracking.queries import finished_run_matching
    from suite.tracking.store import client_for

    client = client_for(f"sqlite:///{tmp_path}/mlflow.db")
    experiment_id = client.get_experiment_by_name("rnn-vs-lstm").experiment_id
    for steps in (TIMED_OUT, WARNED):  # what resume would reuse: nothing, so they train again too
        assert finished_run_matching(client, experiment_id, {Tag.CONFIG_HASH: killed[steps]}) is None


# -- a tracking server ----------------------------------------------------------------------------
def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3].split(".")[0]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


@pytest.fixture
def postgres_uri():
    """A throw-away PostgreSQL cluster on a free loopback port with an empty `mlflow` database;
    yields its SQLAlchemy URI. Skips, saying why, where PostgreSQL or its Python driver is missing."""
    try:
        import psycopg2
    except ImportError:
        pytest.skip("psycopg2 is not installed (pip install -e '.[dev]' installs psycopg2-binary)")
    pg = postgres_bin()
    if pg is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed "
                    "(Debian: apt-get install postgresql); the SQLite-backed server test covers the server path")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="rnn-suite-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as Debian's `postgres` user
        runuser = shutil.which("runuser")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            runuser = None
        if runuser is None:
            shutil.rmtree(folder)
            pytest.skip("running as root, and there is no `postgres` user and runuser to start PostgreSQL as")
        as_user = [runuser, "-u", "postgres", "--"]
        folder.chmod(0o755)
        shutil.chown(folder, "postgres", "postgres")
    port, data = free_port(), folder / "data"
    log = folder / "postgres.log"

    def run(*cmd):
        return subprocess.run([*as_user, *map(str, cmd)], capture_output=True, text=True, timeout=120)

    init = run(pg / "initdb", "-D", data, "-U", "mlflow", "--auth=trust", "-E", "UTF8")
    started = init.returncode == 0 and run(
        pg / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -F", "start").returncode == 0
    try:
        if not started:
            reason = init.stderr if init.returncode else (log.read_text() if log.exists() else "")
            pytest.skip(f"PostgreSQL did not start here: {reason.strip()[-500:]}")
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="mlflow", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE mlflow")
        conn.close()
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        if started:
            run(pg / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def tracking_server(request, tmp_path):
    """`mlflow server` on a free loopback port, its artifacts proxied to a folder; yields (URL, backend URI,
    artifact folder). The backend: a SQLite file, or a PostgreSQL database (skipped where unavailable)."""
    root = tmp_path / "server"
    root.mkdir()
    backend = request.getfixturevalue("postgres_uri") if request.param == "postgresql" else None
    server = MlflowServer(root, backend_uri=backend).start(timeout=120)
    try:
        yield server.uri, server.backend_uri, root / "artifacts"
    finally:
        server.stop()


def test_sweep_logs_to_a_tracking_server(cli, tmp_path, tracking_server):
    url, backend, artifacts = tracking_server
    proc = cli("-m", "experiment=smoke", "task=memory", "cell=rnn,lstm", "sweep.rung=0", "hydra/launcher=local",
               env={"MLFLOW_TRACKING_URI": url, **QUIET})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    import mlflow
    from mlflow.tracking import MlflowClient

    client = MlflowClient(url)
    experiments = client.search_experiments(filter_string="name = 'rnn-vs-lstm'")
    assert len(experiments) == 1
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(url)
    try:
        runs = mlflow.search_runs(experiment_ids=[experiments[0].experiment_id])
    finally:
        mlflow.set_tracking_uri(previous)
    parent, children = assert_one_parent_with_children(runs, 2)
    # Artifacts go through the server to its destination: the jobs need no shared folder for them.
    summary = {a.path for a in client.list_artifacts(parent.run_id, "summary")}
    assert {"summary/summary.csv", "summary/summary.md"} <= summary
    assert list(artifacts.glob(f"*/{children.iloc[0].run_id}/artifacts/config.yaml"))
    assert not (tmp_path / "mlflow.db").exists()  # nothing fell back to the default SQLite store
    assert_summary_written(tmp_path / "multirun")
    # docs/cluster.md, "Summaries, again": the parent's id from the sweep folder, the store through the server
    import pandas as pd

    assert (tmp_path / "multirun" / "parent_run_id").read_text().strip() == parent.run_id
    again = subprocess.run([sys.executable, "-m", "suite.summary", "--parent-run-id", parent.run_id,
                            "--tracking-uri", url, "--out", str(tmp_path / "again")],
                           cwd=ROOT, env={**os.environ, **QUIET}, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "again" / "summary.csv"),
                                  pd.read_csv(tmp_path / "multirun" / "summary" / "summary.csv"))
    if backend.startswith("postgresql"):
        import psycopg2

        conn = psycopg2.connect(backend.replace("postgresql+psycopg2", "postgresql"))
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT status, count(*) FROM runs GROUP BY status")
            assert dict(cursor.fetchall()) == {"FINISHED": 3}  # the parent and its 2 children, in PostgreSQL
        finally:
            conn.close()


# -- PostgreSQL behind the server: parallel writers, a restart ----------------------------------
@pytest.fixture
def postgres_server(tmp_path, postgres_uri):
    """`mlflow server` on a PostgreSQL database (skipped where PostgreSQL is not installed)."""
    root = tmp_path / "server"
    root.mkdir()
    server = MlflowServer(root, backend_uri=postgres_uri).start(timeout=120)
    yield server
    server.stop()


def postgres_rows(backend: str, query: str) -> list[tuple]:
    """What the database itself holds (not what the server answers)."""
    import psycopg2

    conn = psycopg2.connect(backend.replace("postgresql+psycopg2", "postgresql"))
    try:
        cursor = conn.cursor()
        cursor.execute(query)
        return cursor.fetchall()
    finally:
        conn.close()


def assert_every_run_once(backend: str, children: int) -> None:
    """The parent and `children` runs, each once (one run per config hash), all FINISHED, and
    no metric point stored twice."""
    runs = postgres_rows(backend, "SELECT r.status, t.value FROM runs r LEFT JOIN tags t "
                                  "ON t.run_uuid = r.run_uuid AND t.key = 'config_hash'")
    assert sorted(status for status, _ in runs) == ["FINISHED"] * (children + 1), runs
    hashes = [value for _, value in runs if value is not None]
    assert len(hashes) == children and len(set(hashes)) == children, hashes
    doubled = postgres_rows(backend, "SELECT run_uuid, key, step, count(*) FROM metrics "
                                     "GROUP BY run_uuid, key, step HAVING count(*) > 1")
    assert doubled == []


def test_eight_parallel_writers_through_a_server_on_postgresql(cli, tmp_path, postgres_server):
    # 8 jobs on 8 joblib workers: eight processes creating runs and logging through the server at once
    proc = cli("-m", "experiment=smoke", "task=memory,adding", "cell=rnn,lstm", "sweep.rung=0,1",
               "hydra/launcher=parallel", "hydra.launcher.n_jobs=8",
               env={"MLFLOW_TRACKING_URI": postgres_server.uri, **QUIET})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert_every_run_once(postgres_server.backend_uri, children=8)
    pids = postgres_rows(postgres_server.backend_uri, "SELECT DISTINCT value FROM tags WHERE key = 'owner_pid'")
    assert len(pids) > 2  # the parent's process and several workers


def test_a_server_restarted_mid_sweep_on_postgresql_loses_no_run_and_doubles_none(tmp_path, postgres_server):
    # As tests/test_reliability.py's single run that loses its server, for a sweep: 2 jobs training when
    # the server stops; no HTTP retries, so they notice at their next flush (within 5 s) and go on.
    # fault.kind=stall (each step sleeps 0.05 s, the numbers unchanged): ~60 s of training, long enough to be
    # training still when the server is back (~20 s), without taking a core from the tests beside it.
    steps, every = 1_100, 55
    sweep_dir = tmp_path / "multirun"
    env = {**os.environ, **QUIET, "MLFLOW_TRACKING_URI": postgres_server.uri, "PYTHONUNBUFFERED": "1",
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    env.pop("HYDRA_FULL_ERROR", None)
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", "experiment=smoke", "task=memory", "cell=rnn,lstm",
           "sweep.rung=0", f"train.steps={steps}", f"train.eval_every={every}", "train.eval_growth=null",
           "train.early_stop=false", "fault.kind=stall", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep_dir}"]
    sweep = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        slurm_cluster.wait_until("both jobs training", lambda: len(list(sweep_dir.glob("*/config.yaml"))) == 2,
                                 180, sweep)
        postgres_server.stop()
        slurm_cluster.wait_until("both jobs noticing", lambda: sum(
            "stopped answering" in log.read_text() for log in sweep_dir.glob("*/run.log")) == 2, 120, sweep)
        assert sweep.poll() is None, "the jobs ended before the server was back"
        postgres_server.start(timeout=120)
        output, _ = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 4, output[-3000:]  # documented: some job lost the tracking server
    assert f"python -m suite.reimport {sweep_dir}" in output
    proc = subprocess.run([sys.executable, "-m", "suite.reimport", str(sweep_dir), "--tracking-uri",
                           postgres_server.uri], cwd=ROOT, env={**os.environ, **QUIET}, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0 and "2 run(s) re-imported" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert_every_run_once(postgres_server.backend_uri, children=2)
    evaluations = postgres_rows(postgres_server.backend_uri,
                                "SELECT run_uuid, count(*) FROM metrics WHERE key = 'eval_loss' GROUP BY run_uuid")
    assert sorted(n for _, n in evaluations) == [steps // every] * 2  # every evaluation of both jobs, once
