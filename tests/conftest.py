from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(args, tmp_path, timeout=None, env=None):
    """Run `python run.py ARGS` in a subprocess against a SQLite store in tmp_path. A hang is pytest-timeout's
    to fail (pyproject.toml's default, or the test's own mark): subprocess.run then kills the process."""
    full_env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "PYTHONUNBUFFERED": "1"}
    full_env.pop("HYDRA_FULL_ERROR", None)
    full_env.update(env or {})
    # The test's own overrides come last, so they win over these defaults.
    flags = [a for a in args if a.startswith("-")]  # argparse wants flags before the overrides
    cmd = [sys.executable, str(ROOT / "run.py"), *flags, f"hydra.run.dir={tmp_path}/outputs",
           f"hydra.sweep.dir={tmp_path}/multirun", *[a for a in args if not a.startswith("-")]]
    return subprocess.run(cmd, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=timeout)


def store_runs(tmp_path, experiment="rnn-vs-lstm"):
    """All runs of the experiment in tmp_path's store, as mlflow.search_runs' DataFrame."""
    import mlflow

    db = tmp_path / "mlflow.db"
    if not db.exists():
        return None
    mlflow.set_tracking_uri(f"sqlite:///{db}")
    return mlflow.search_runs(experiment_names=[experiment], search_all_experiments=False)


def children_and_parents(runs):
    """Split a store's runs into training runs and sweep parent runs."""
    import pandas as pd

    is_parent = runs["tags.sweep"].eq("parent") if "tags.sweep" in runs else pd.Series(False, index=runs.index)
    return runs[~is_parent], runs[is_parent]


def assert_one_parent_with_children(runs, n_children: int | None = None):
    """One FINISHED sweep parent, its children all FINISHED under it (n_children of them, when given):
    (the parent's row, the children's frame)."""
    children, parents = children_and_parents(runs)
    assert len(parents) == 1, parents[["run_id", "status"]]
    parent = parents.iloc[0]
    assert parent["status"] == "FINISHED"
    assert n_children is None or len(children) == n_children
    assert (children["status"] == "FINISHED").all(), children[["tags.mlflow.runName", "status"]]
    assert (children["tags.mlflow.parentRunId"] == parent.run_id).all()
    return parent, children


def assert_summary_written(sweep_dir: Path):
    """The sweep's summary files, on disk and not empty."""
    for name in ("summary.csv", "summary.md", "success.png", "horizons.csv", "runs.csv"):
        assert (sweep_dir / "summary" / name).stat().st_size > 0, name


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (pyproject.toml's addopts): a worker per core, at most 4. The tests start subprocesses and
    services of their own. One worker more than the cores (the slow tier waits on SLURM's time limit and a
    restarted server for minutes) was tried on 2 cores, idle, 2026-12-07: 612, 632 and 617 s against 2 workers'
    607, 628 and 601 s; the third worker fills those waits but spends more CPU in all (1,061 s of user time
    against 911), so no."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()  # macOS: no affinity
    return max(1, min(4, cores or 1))


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(items):
    """Files with slow tests first, then files with CLI tests, then the rest, each file's tests in their own
    order. pytest-xdist (--dist loadfile --no-loadscope-reorder: by default it reorders files by their number
    of tests, which put the one-test browser file last) hands each file whole to a worker in this order, so
    the long files start first and the short ones fill the end, instead of one long file running alone at
    the end."""
    weight: dict = {}
    for item in items:
        w = 2 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("cli") else 0
        weight[item.path] = max(weight.get(item.path, 0), w)
    items.sort(key=lambda item: -weight[item.path])  # stable: the order within a file and a weight is kept


@pytest.fixture(autouse=True)
def _no_hydra_state_between_tests():
    """Hydra keeps the last job's config and its search path in process-wide singletons: a test that ran a
    job (in process, or through Hydra's launcher) must not hand them to the next test, which would then
    name config files it never composed. Cleared after every test, so the order tests run in cannot matter."""
    yield
    if "hydra.core.hydra_config" in sys.modules:
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig

        GlobalHydra.instance().clear()
        HydraConfig.instance().cfg = None


@pytest.fixture
def cli(tmp_path):
    """`python run.py ARGS` in a subprocess (the CLI tier): only for what needs a real process."""
    return lambda *args, **kw: run_cli(list(args), tmp_path, **kw)


@dataclass
class Ran:
    """What run.py did, as subprocess.run's CompletedProcess has it: exit status, stdout, stderr."""

    returncode: int
    stdout: str
    stderr: str


def _modules_under(folder: Path) -> list[str]:
    """Modules imported from files under `folder` (a test's extension: my_tasks, my_cells)."""
    return [name for name, module in list(sys.modules.items())
            if str(getattr(module, "__file__", None) or "").startswith(str(folder))]


def run_in_process(args, tmp_path, monkeypatch, env=None, basetemp=None) -> Ran:
    """`python run.py ARGS` as run_cli runs it, but through suite.cli.main in this process: the same
    arguments, environment and working folder; an exit status from SystemExit, and an exception that
    escapes printed as the interpreter prints it (its traceback on stderr, status 1). PYTHONPATH in `env`
    goes on sys.path, as a new interpreter would put it there."""
    import contextlib
    import io
    import logging
    import signal
    import traceback

    from hydra.core.global_hydra import GlobalHydra

    from suite import cli as suite_cli

    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", **(env or {})}
    flags = [a for a in args if a.startswith("-")]
    argv = ["run.py", *flags, f"hydra.run.dir={tmp_path}/outputs", f"hydra.sweep.dir={tmp_path}/multirun",
            *[a for a in args if not a.startswith("-")]]
    own = basetemp or tmp_path
    for name in _modules_under(own):  # an extension module another test imported from its own folder
        monkeypatch.delitem(sys.modules, name)
    environ = dict(os.environ)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers))
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", argv)
    os.environ.pop("HYDRA_FULL_ERROR", None)
    for key, value in env.items():
        if key == "PYTHONPATH":
            for path in reversed(value.split(os.pathsep)):
                monkeypatch.syspath_prepend(path)
        else:
            os.environ[key] = value
    out, err, status = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                suite_cli.main()
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if exc.code is not None and not isinstance(exc.code, int):
                    print(exc.code, file=sys.stderr)
            except Exception:  # noqa: BLE001  what the interpreter does with it
                traceback.print_exc()
                status = 1
    finally:
        GlobalHydra.instance().clear()
        os.environ.clear()
        os.environ.update(environ)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        for handler in root.handlers[:]:
            if handler not in root_state[1]:
                root.removeHandler(handler)
        root.setLevel(root_state[0])
        for handler in root_state[1]:
            if handler not in root.handlers:
                root.addHandler(handler)
        if threads is not None:  # a run sets torch's threads (cfg.threads) for the whole process
            sys.modules["torch"].set_num_threads(threads)
        for name in _modules_under(own):
            sys.modules.pop(name, None)
    return Ran(status, out.getvalue(), err.getvalue())


@pytest.fixture
def run_py(tmp_path, monkeypatch, tmp_path_factory):
    """`python run.py ARGS` in this process (run_in_process): run_py(*args, env=None, cwd=tmp_path) -> Ran."""
    basetemp = tmp_path_factory.getbasetemp()

    def run(*args, env=None, cwd=None):
        return run_in_process(list(args), cwd or tmp_path, monkeypatch, env=env, basetemp=basetemp)

    return run


TINY = ["seq_len=6", "hidden=8", "train.steps=4", "train.eval_every=2", "train.eval_size=32", "train.batch=8",
        "threads=1"]


def compose_config(*overrides):
    """The config run.py would train for these overrides (Hydra's compose API, no subprocess)."""
    from suite.config import compose

    return compose(*overrides)


@pytest.fixture
def job(tmp_path):
    """Run one job in this process, as run.py's single run does, against a SQLite store in tmp_path:
    job(*overrides, output="outputs", sweeping=False) -> its result record."""
    from suite.config import validate
    from suite.job import run_job

    def run(*overrides, output="outputs", sweeping=False):
        cfg = compose_config(f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", *overrides)
        validate(cfg)
        out = tmp_path / output
        out.mkdir(parents=True, exist_ok=True)
        return run_job(cfg, output_dir=out, progress=False, sweeping=sweeping)

    return run


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """A real `mlflow server` on a free loopback port, with its own SQLite store and artifact folder.

    stop() and start() again keep the port and the store: a server that went away and came back.
    """

    def __init__(self, root: Path, backend_uri: str | None = None):
        self.root = root
        self.port = free_port()
        self.backend_uri = backend_uri or f"sqlite:///{root}/server.db"
        self.proc = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "mlflow"), "server", "--backend-store-uri", self.backend_uri,
                "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1",
                "--port", str(self.port), "--workers", "1"]

    def start(self, timeout: float = 90) -> "MlflowServer":
        import time
        import urllib.request

        cmd = self.command()
        # The server's background job runner (a dozen extra processes) is not needed here.
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
        env.pop("MLFLOW_TRACKING_URI", None)
        log = open(self.root / "server.log", "a")
        self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(self.root / 'server.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.uri + "/health", timeout=2).close()
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer within {timeout} s")

    def stop(self) -> None:
        import signal

        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(20)


@pytest.fixture
def mlflow_server(tmp_path):
    root = tmp_path / "server"
    root.mkdir()
    server = MlflowServer(root).start()
    yield server
    server.stop()
