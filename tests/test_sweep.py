"""Sweeps end to end: the smoke preset in a subprocess against a temporary store (one memory sweep, trained once,
for the tests that read it: `memory_sweep`)."""
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import (assert_one_parent_with_children, assert_summary_written, children_and_parents,
                            store_runs)
from tests.verdicts import assert_printed_verdicts_are_the_runs

pytestmark = pytest.mark.slow

SMOKE_JOBS = 18  # 3 tasks x 3 cells x 2 lags x 1 seed


def test_smoke_sweep_logs_children_under_one_parent_and_summarises(cli, tmp_path):
    proc = cli("-m", "experiment=smoke")
    assert proc.returncode == 0, proc.stderr[-3000:]
    parent, _ = assert_one_parent_with_children(store_runs(tmp_path), SMOKE_JOBS)
    # the summary, on disk, printed (the verdicts the summary's functions conclude from its runs) and on the parent run
    assert_summary_written(tmp_path / "multirun")
    out = tmp_path / "multirun" / "summary"
    assert len(pd.read_csv(out / "runs.csv")) == SMOKE_JOBS
    assert_printed_verdicts_are_the_runs(proc.stdout, out / "runs.csv")
    import mlflow
    from mlflow.tracking import MlflowClient

    artifacts = {a.path for a in MlflowClient(mlflow.get_tracking_uri()).list_artifacts(parent.run_id, "summary")}
    assert {"summary/summary.csv", "summary/summary.md", "summary/success.png"} <= artifacts
    horizons = pd.read_csv(out / "horizons.csv")
    assert len(horizons) == 3 * 3 and not horizons.duplicated(["task", "cell", "hidden"]).any()


@pytest.fixture(scope="module")
def memory_sweep(tmp_path_factory):
    """The smoke preset's memory task, swept once for the tests that read it: (its folder, which holds the store,
    and the sweep's parent run id). A test may add to that store (a second sweep) but must not change this one."""
    from tests.conftest import run_cli

    folder = tmp_path_factory.mktemp("memory-sweep")
    proc = run_cli(["-m", "experiment=smoke", "task=memory", "hydra.sweep.dir=" + str(folder / "first")], folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _, parents = children_and_parents(store_runs(folder))
    assert len(parents) == 1
    return folder, parents.iloc[0].run_id


def test_second_identical_sweep_trains_nothing_and_reproduces_the_summary(memory_sweep):
    from tests.conftest import run_cli

    tmp_path, first_parent = memory_sweep
    jobs = SMOKE_JOBS // 3  # one task of the smoke sweep
    second = run_cli(["-m", "experiment=smoke", "task=memory", "hydra.sweep.dir=" + str(tmp_path / "second")],
                     tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    children, parents = children_and_parents(store_runs(tmp_path))
    assert len(children) == jobs and len(parents) == 2 and first_parent in set(parents.run_id)  # nothing retrained
    assert (second.stdout + second.stderr).count("reusing finished run") == jobs
    a = pd.read_csv(tmp_path / "first" / "summary" / "summary.csv")
    b = pd.read_csv(tmp_path / "second" / "summary" / "summary.csv")
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "first" / "summary" / "summary.md").read_text() == \
           (tmp_path / "second" / "summary" / "summary.md").read_text()


def test_a_crashing_job_does_not_stop_the_sweep(cli, tmp_path):
    # fault.at_step=100 never fires within the smoke budget; at_step=2 crashes that job.
    proc = cli("-m", "experiment=smoke", "task=memory", "cell=lstm", "fault.kind=error", "fault.at_step=2,100")
    assert proc.returncode == 3, proc.stderr[-3000:]  # documented: some job crashed
    children, parents = children_and_parents(store_runs(tmp_path))
    assert len(children) == 4
    assert sorted(children["status"]) == ["FAILED", "FAILED", "FINISHED", "FINISHED"]
    assert parents.iloc[0]["status"] == "FINISHED"
    summary_md = (tmp_path / "multirun" / "summary" / "summary.md").read_text()
    assert "crashed" in summary_md and "injected fault at step 2" in summary_md
    assert "2 job(s) of the sweep crashed" in proc.stderr


def test_resummarise_a_past_sweep_without_training(memory_sweep, capsys):
    """`python -m suite.summary --parent-run-id ...` (its main, in this process: the real process is
    tests/test_summary.py's) makes again the summary the sweep made, from the store alone."""
    from suite.summary import __main__ as summary_cli

    tmp_path, parent = memory_sweep
    status = summary_cli.main(["--parent-run-id", parent, "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
                               "--out", str(tmp_path / "again")])
    assert status == 0, capsys.readouterr().err[-3000:]
    again = pd.read_csv(tmp_path / "again" / "summary.csv")
    original = pd.read_csv(tmp_path / "first" / "summary" / "summary.csv")
    pd.testing.assert_frame_equal(again, original)


# -- the horizon search (hydra/sweeper=horizon) through real launchers -------------------------
# A tanh RNN (h=16, 150 updates) solves memory at T=3 and fails at T=48: two rounds place one run each between.
HORIZON = ["hydra/sweeper=horizon", "task=memory", "cell=rnn", "hidden=16", "seed=0", "train.steps=150",
           "train.batch=32", "train.eval_every=50", "train.eval_size=128", "diagnostics.every=0",
           "hydra.sweeper.ladder=[3,48]", "hydra.sweeper.batch=1", "hydra.sweeper.cap_lo=3",
           "hydra.sweeper.cap_hi=48", "hydra.sweeper.max_rounds=2"]


def horizon_lags(runs) -> list[int]:
    return sorted(int(t) for t in runs["tags.seq_len"])


def submitit_jobs(sweep_dir: Path) -> dict[str, Path]:
    """submitit's folder of each job that ran, by job id (its pickles and its stdout/stderr)."""
    return {p.name: p for p in (sweep_dir / ".submitit").iterdir() if list(p.glob("*_result.pkl"))}


def assert_each_job_ran_in_its_own_submitit_process(output: str, sweep_dir: Path, children, parent) -> None:
    """hydra/launcher=local: one submitit job (a controller process and its task process) per Hydra job, all
    inside the sweep folder, each run created by its own process, none by the sweep's."""
    assert "Submitit 'local' sweep output dir" in output
    jobs = submitit_jobs(sweep_dir)
    assert len(jobs) == len(children), sorted(p.name for p in (sweep_dir / ".submitit").iterdir())
    for job_id, folder in jobs.items():
        log = "".join(f.read_text() for f in folder.glob(f"{job_id}_0_log.*"))  # .out and .err
        assert f"Starting with JobEnvironment(job_id={job_id}" in log and "Loading pickle" in log
    pids = set(children["tags.owner_pid"])  # the process that created each run
    assert len(pids) == len(children) and parent["tags.owner_pid"] not in pids
    assert len(list(sweep_dir.glob("*/result.json"))) == len(children)


@pytest.mark.parametrize("launcher", ["parallel", "local"])  # joblib; submitit's local executor
def test_a_horizon_search_places_rounds_through_the_launcher_and_resumes(cli, tmp_path, launcher):
    first = cli("-m", *HORIZON, f"hydra/launcher={launcher}", "hydra.sweep.dir=" + str(tmp_path / "first"))
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    parent, children = assert_one_parent_with_children(store_runs(tmp_path))
    assert_summary_written(tmp_path / "first")
    if launcher == "local":
        assert_each_job_ran_in_its_own_submitit_process(first.stdout + first.stderr, tmp_path / "first", children,
                                                        parent)
    # round 0: the ladder; then a lag a round, chosen from the outcomes returned, until the round limit or a lag
    # whose one seed (the pool) is spent: no (lag, seed) twice
    lags = horizon_lags(children)
    assert len(lags) in (3, 4) and lags[0] == 3 and lags[-1] == 48 and len(set(lags)) == len(lags)
    hz = pd.read_csv(tmp_path / "first" / "summary" / "horizons.csv")
    assert_printed_verdicts_are_the_runs(first.stdout, tmp_path / "first" / "summary" / "runs.csv")
    assert (tmp_path / "first" / "jobs_total").read_text() == str(len(lags))
    # run again: the same outcomes lead to the same lags, every one of them reused
    again = cli("-m", *HORIZON, f"hydra/launcher={launcher}", "hydra.sweep.dir=" + str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr[-3000:]
    children, parents = children_and_parents(store_runs(tmp_path))
    assert len(children) == len(lags) and len(parents) == 2  # no new run: nothing retrained
    assert pd.read_csv(tmp_path / "again" / "summary" / "horizons.csv").equals(hz)
