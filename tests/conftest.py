import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(args, tmp_path, timeout=300, env=None):
    """Run `python run.py ARGS` in a subprocess against a SQLite store in tmp_path."""
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


@pytest.fixture
def cli(tmp_path):
    return lambda *args, **kw: run_cli(list(args), tmp_path, **kw)
