"""Scale out: sweeps through Hydra's submitit launcher (conf/hydra/launcher/) and a shared tracking server.

- `hydra/launcher=local`: every job pickled, run in a process of its own and attached to the
  parent run that the launching process opened;
- `hydra/launcher=slurm`: the same through `sbatch`, here a stand-in scheduler on this machine
  that records the #SBATCH directives the preset's knobs became and runs the job array;
- a sweep logging to `mlflow server` on a SQLite and, where the binaries are installed, a
  PostgreSQL backend (README, "Run on a cluster").
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, MlflowServer, children_and_parents, free_port, store_runs

pytestmark = pytest.mark.slow

# No usage telemetry from test runs; the server does not need MLflow's job runner processes.
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
LOCAL_SWEEP = ("-m", "experiment=smoke", "task=memory", "cell=rnn,lstm", "hydra/launcher=local")  # 4 jobs


def submitit_jobs(sweep_dir: Path) -> dict[str, Path]:
    """submitit's folder of each job that ran, by job id (its pickles and its stdout/stderr)."""
    return {p.name: p for p in (sweep_dir / ".submitit").iterdir() if list(p.glob("*_result.pkl"))}


def assert_one_parent_with_children(runs, n_children: int):
    children, parents = children_and_parents(runs)
    assert len(parents) == 1, parents[["run_id", "status"]]
    parent = parents.iloc[0]
    assert parent["status"] == "FINISHED"
    assert len(children) == n_children
    assert (children["status"] == "FINISHED").all(), children[["tags.mlflow.runName", "status"]]
    assert (children["tags.mlflow.parentRunId"] == parent.run_id).all()
    return parent, children


def assert_summary_written(sweep_dir: Path):
    for name in ("summary.csv", "summary.md", "success.png", "horizons.csv", "runs.csv"):
        assert (sweep_dir / "summary" / name).stat().st_size > 0, name


def test_local_launcher_runs_each_job_in_its_own_process_under_one_parent(cli, tmp_path):
    proc = cli(*LOCAL_SWEEP, env=QUIET)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in proc.stdout + proc.stderr
    parent, children = assert_one_parent_with_children(store_runs(tmp_path), 4)
    sweep_dir = tmp_path / "multirun"
    # One submitit job (a controller process and its task process) per Hydra job, all inside the sweep folder.
    jobs = submitit_jobs(sweep_dir)
    assert len(jobs) == 4, sorted(p.name for p in (sweep_dir / ".submitit").iterdir())
    for job_id, folder in jobs.items():
        log = "".join(f.read_text() for f in folder.glob(f"{job_id}_0_log.*"))  # .out and .err
        assert f"Starting with JobEnvironment(job_id={job_id}" in log and "Loading pickle" in log
    pids = set(children["tags.owner_pid"])  # the process that created each run
    assert len(pids) == 4 and parent["tags.owner_pid"] not in pids
    assert len(list(sweep_dir.glob("*/result.json"))) == 4
    assert "Verdicts" in proc.stdout
    assert_summary_written(sweep_dir)


# -- SLURM, with a stand-in scheduler ------------------------------------------------------------
# submitit talks to SLURM through four commands: `sbatch FILE` (answers "Submitted batch job N"),
# `srun` inside the batch script, `sacct` (job states) and `scancel`. These stand-ins keep each
# submitted script, run every task of its job array on this machine with SLURM's environment
# variables, at most `%P` at once as `--array=0-N%P` asks, and report the states from exit codes.
FAKE_SBATCH = """\
import os, re, subprocess, sys
from pathlib import Path
state = Path(os.environ["FAKE_SLURM_STATE"])
script = Path(sys.argv[-1]).read_text()
job = str(1000 + len(list(state.glob("*.sh"))))
saved = state / f"{job}.sh"
saved.write_text(script)
array = re.search(r"^#SBATCH --array=(\\d+)-(\\d+)(?:%(\\d+))?$", script, re.M)
first, last, parallel = (int(array[1]), int(array[2]), int(array[3] or 1000)) if array else (0, 0, 1)
subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_slurm_run.py")), job, str(saved),
                  str(first), str(last), str(parallel), "1" if array else "0"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"Submitted batch job {job}")
"""
FAKE_RUN = """\
import os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
job, script, first, last, parallel, is_array = sys.argv[1:]
state = Path(os.environ["FAKE_SLURM_STATE"])
def task(index):
    name = f"{job}_{index}" if is_array == "1" else job
    env = {**os.environ, "SLURM_JOB_ID": str(int(job) + 1 + index), "SLURM_NTASKS": "1", "SLURM_JOB_NUM_NODES": "1",
           "SLURM_NODEID": "0", "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_JOB_NODELIST": "localhost"}
    if is_array == "1":
        env.update(SLURM_ARRAY_JOB_ID=job, SLURM_ARRAY_TASK_ID=str(index), SLURM_JOB_ID=f"{int(job) + 1 + index}")
    (state / f"{name}.running").touch()
    rc = subprocess.call(["bash", script], env=env)
    (state / f"{name}.rc").write_text(str(rc))
with ThreadPoolExecutor(int(parallel)) as pool:
    list(pool.map(task, range(int(first), int(last) + 1)))
"""
FAKE_SRUN = """\
import os, subprocess, sys
args, out, err = sys.argv[1:], None, None
while args and args[0].startswith("--"):
    flag = args.pop(0)
    if flag == "--output":
        out = args.pop(0)
    elif flag == "--error":
        err = args.pop(0)
def path(pattern):
    for key, value in (("%A", os.environ.get("SLURM_ARRAY_JOB_ID", "")), ("%a", os.environ.get("SLURM_ARRAY_TASK_ID", "")),
                       ("%j", os.environ["SLURM_JOB_ID"]), ("%t", "0")):
        pattern = pattern.replace(key, value)
    return open(pattern, "a")
stdout = path(out)
sys.exit(subprocess.call(args, stdout=stdout, stderr=path(err) if err else stdout))
"""
FAKE_SACCT = """\
import os, sys
from pathlib import Path
state = Path(os.environ["FAKE_SLURM_STATE"])
ids = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "-j"]
print("JobID|State|NodeList")
for job in ids:
    for running in sorted(state.glob(f"{job}*.running")):
        name = running.stem
        rc = state / f"{name}.rc"
        status = ("COMPLETED" if rc.read_text() == "0" else "FAILED") if rc.exists() else "RUNNING"
        print(f"{name}|{status}|localhost")
"""


@pytest.fixture
def fake_slurm(tmp_path):
    """PATH and state folder for the stand-in scheduler; yields (env, state folder)."""
    bin_dir, state = tmp_path / "fake-slurm-bin", tmp_path / "fake-slurm-state"
    bin_dir.mkdir()
    state.mkdir()
    for name, source in {"sbatch": FAKE_SBATCH, "srun": FAKE_SRUN, "sacct": FAKE_SACCT,
                         "scancel": "import sys\n", "fake_slurm_run.py": FAKE_RUN}.items():
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n{source}")
        path.chmod(0o755)
    yield {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_STATE": str(state), **QUIET}, state


def test_slurm_preset_knobs_reach_sbatch_and_the_array_runs_under_one_parent(cli, tmp_path, fake_slurm):
    env, state = fake_slurm
    # The documented command (docs/cluster.md), shrunk to the smoke preset's 2 jobs at one lag.
    proc = cli("-m", "experiment=smoke", "task=memory", "cell=rnn,lstm", "sweep.rung=0", "hydra/launcher=slurm",
               "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1", "hydra.launcher.mem_gb=8",
               "hydra.launcher.timeout_min=30", "hydra.launcher.array_parallelism=1", env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    scripts = sorted(state.glob("*.sh"))
    assert len(scripts) == 1, "one sbatch call: the whole sweep is one job array"
    flags = dict(re.findall(r"^#SBATCH --([\w-]+)=(.*)$", scripts[0].read_text(), re.M))
    assert {k: flags.get(k) for k in ("partition", "gpus-per-node", "cpus-per-task", "mem", "time", "array",
                                      "job-name", "signal")} == {
        "partition": "gpu", "gpus-per-node": "1", "cpus-per-task": "1",  # threads: 1 in the smoke preset
        "mem": "8GB", "time": "30", "array": "0-1%1", "job-name": "rnn-smoke", "signal": "USR2@120"}
    sweep_dir = tmp_path / "multirun"
    assert flags["output"].startswith(str(sweep_dir / ".submitit") + "/")
    assert sorted(submitit_jobs(sweep_dir)) == ["1000_0", "1000_1"]
    _, children = assert_one_parent_with_children(store_runs(tmp_path), 2)
    assert set(children["tags.device"]) == {"cpu"}  # device=auto: no CUDA on this machine
    assert_summary_written(sweep_dir)


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
    # README, "Summaries, again": the parent's id from the sweep folder, the store through the server
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
