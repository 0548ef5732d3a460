"""Two runs of one job at once (suite/tracking/twins.py): the interleavings its docstring lists, played
step by step in this process against a SQLite store, and a job that waits for a twin and reuses it."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading

import pytest
from omegaconf import OmegaConf

from suite.record import Tag, config_hash
from suite.tracking import twins
from suite.tracking.run_logger import RunLogger, start_run
from tests.conftest import TINY, compose_config

MATCH = {Tag.CONFIG_HASH: "c0ffee"}


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory):
    """An empty store with MLflow's schema: creating one takes seconds on a busy machine, copying it none."""
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()  # runs the migrations
    return db


@pytest.fixture
def uri(tmp_path, migrated_db):
    """tmp_path's store, the one the `job` fixture logs to (its experiment is made on first use, beside it)."""
    shutil.copy(migrated_db, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(twins, "WAIT_POLL_SECONDS", 0.02)
    monkeypatch.setattr(twins, "LOOK_POLL_SECONDS", 0.01)


def create(uri, name="job", tags=None) -> RunLogger:
    """A job's run as train_job creates it before claiming (claim=choosing)."""
    return start_run(uri, "rnn-vs-lstm", name, twins.claim_tags(MATCH) if tags is None else tags)


def state(run: RunLogger) -> tuple[str, str]:
    info = run.client.get_run(run.run_id).info
    return info.status, info.lifecycle_stage


def test_a_job_alone_trains_and_a_later_twin_yields_to_it(uri):
    a = create(uri)
    assert twins.take_ticket(a, MATCH) == 1 and twins.look(a, MATCH).first_in_line
    b = create(uri)
    assert twins.take_ticket(b, MATCH) == 2  # it saw A's ticket
    assert twins.look(b, MATCH).yield_to.info.run_id == a.run_id
    assert twins.look(a, MATCH).first_in_line  # B behind it changes nothing for A


def test_no_job_decides_while_a_twin_is_choosing(uri):
    a = create(uri)
    twins.take_ticket(a, MATCH)  # ticket 1: B's run did not exist yet
    b = create(uri)  # B chooses later
    found = twins.look(a, MATCH)
    assert not found.first_in_line and found.yield_to is None and [t.info.run_id for t in found.choosing] == [b.run_id]
    assert twins.take_ticket(b, MATCH) == 2
    assert twins.look(a, MATCH).first_in_line and twins.look(b, MATCH).yield_to.info.run_id == a.run_id


def test_twins_that_chose_together_agree_which_one_trains(uri):
    a, b = create(uri), create(uri)
    for run in (a, b):  # both searched before either wrote its ticket: both took 1
        run.set_tags({Tag.CLAIM: 1})
    looks = {run.run_id: twins.look(run, MATCH) for run in (a, b)}
    first = min(a.run_id, b.run_id)
    assert looks[first].first_in_line
    assert [looks[r].yield_to.info.run_id for r in looks if r != first] == [first]


def test_a_twin_that_decided_before_this_run_was_written_goes_first_whatever_the_start_times(uri):
    """The race that start times alone lose: A read its clock first, but its create waited on the store."""
    b = create(uri)
    assert twins.take_ticket(b, MATCH) == 1 and twins.look(b, MATCH).first_in_line  # B trains
    made = b.client.create_run(b.experiment_id, start_time=b.client.get_run(b.run_id).info.start_time - 1000,
                               tags=twins.claim_tags(MATCH))
    a = RunLogger(b.client, made.info.run_id, experiment_id=b.experiment_id)
    a.tags.update(twins.claim_tags(MATCH))
    assert twins.take_ticket(a, MATCH) == 2
    assert twins.look(a, MATCH).yield_to.info.run_id == b.run_id


def test_a_twin_finished_since_the_resume_check_is_yielded_to_and_the_run_withdrawn(uri):
    a = create(uri)
    b = create(uri)  # created after A's resume check, found nothing finished either; trains, finishes
    b.set_tags({Tag.CLAIM: 1})
    b.end("FINISHED")
    assert twins.claim(a, MATCH) == b.run_id
    a.end("FINISHED")  # what mlflow_run does on leaving: nothing, for a withdrawn run
    assert state(a) == ("KILLED", "deleted")
    assert "withdrawn before training" in a.client.get_run(a.run_id).data.tags[Tag.ERROR]


def test_a_run_that_never_yields_goes_first(uri):
    single = create(uri, "python run.py", tags=dict(MATCH))  # no claim tag: a single run, or resume=false
    a = create(uri)
    assert twins.claim(a, MATCH) == single.run_id and state(a) == ("KILLED", "deleted")


def dead_owner() -> dict[str, str]:
    """Owner tags of a process of this host that has ended."""
    from suite.tracking.owners import owner_tags

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return {**owner_tags(), Tag.OWNER_PID: str(child.pid), Tag.OWNER_STARTED: "1"}


def test_a_twin_whose_owner_is_gone_is_reaped_and_holds_no_one_back(uri):
    dead = create(uri, tags={**twins.claim_tags(MATCH), **dead_owner()})  # start_run's owner tags, then these
    dead.set_tags({Tag.CLAIM: 1})
    chooser = create(uri, tags={**twins.claim_tags(MATCH), **dead_owner()})  # killed while choosing
    a = create(uri)
    assert twins.claim(a, MATCH) is None  # trains
    for run in (dead, chooser):
        assert state(run) == ("KILLED", "active")
        assert "ended without ending the run" in run.client.get_run(run.run_id).data.tags[Tag.ERROR]


def test_waiting_ends_when_the_twin_ends_is_withdrawn_or_its_owner_dies(uri):
    finished, withdrawn, orphan = create(uri), create(uri), create(uri, tags={**MATCH, **dead_owner()})
    finished.end("FINISHED")
    withdrawn.withdraw("yielded to a third")
    assert twins.await_end(finished.client, finished.run_id, "job") == "FINISHED"
    assert twins.await_end(finished.client, withdrawn.run_id, "job") == "withdrawn"
    assert twins.await_end(finished.client, orphan.run_id, "job").startswith("KILLED")
    assert state(orphan) == ("KILLED", "active")


# -- a job of a sweep, with a twin training its config ------------------------------------------

def twin_of(uri, *overrides) -> RunLogger:
    """A run of this config that another (live) process is training: as that job's run, first in line."""
    from suite.model.components import build_model, build_task
    from suite.reuse.fingerprint import code_hash, code_modules

    cfg = compose_config(*overrides)
    chash = config_hash(OmegaConf.to_container(cfg, resolve=True), "cpu")
    task = build_task(cfg.task)
    code = code_hash(code_modules(task, build_model(cfg, task)))  # the same code: the job's own
    twin = create(uri, "twin", tags=twins.claim_tags({Tag.CONFIG_HASH: chash, Tag.CODE_HASH: code}))
    twin.set_tags({Tag.CLAIM: 1})
    return twin


class EndTwinOnceWithdrawn(threading.Thread):
    """Ends the twin with `status` once the job has withdrawn its own run to wait for it, as the store
    shows it (or once the job has returned without waiting: the code under test is broken)."""

    def __init__(self, twin: RunLogger, status: str):
        super().__init__(daemon=True)
        self.twin, self.status = twin, status
        self.withdrawn: list[str] = []  # the runs the job withdrew
        self.job_returned = threading.Event()
        self.start()

    def run(self):
        from mlflow.entities import ViewType

        twin = self.twin
        while not self.job_returned.wait(0.01):
            deleted = twin.client.search_runs([twin.experiment_id], run_view_type=ViewType.DELETED_ONLY)
            if deleted:
                self.withdrawn = [r.info.run_id for r in deleted]
                break
        if self.status == "FINISHED":
            twin.set_tags({Tag.OUTCOME: "solved"})
            twin.log_metrics(4, {"eval_loss": 0.25})
        twin.end(self.status)

    def after(self, result: dict) -> dict:
        self.job_returned.set()
        self.join()
        return result


def test_a_job_waits_for_the_twin_training_its_config_and_reuses_it(job, uri):
    config = (*TINY, "device=cpu")
    twin = twin_of(uri, *config)
    watcher = EndTwinOnceWithdrawn(twin, "FINISHED")
    result = watcher.after(job(*config, sweeping=True))
    assert len(watcher.withdrawn) == 1  # the job's own run, withdrawn while the twin trained
    assert result["reused"] and result["run_id"] == twin.run_id and result["eval_loss"] == 0.25
    runs = twin.client.search_runs([twin.experiment_id])
    assert [r.info.run_id for r in runs] == [twin.run_id]  # the withdrawn run is out of sight


def test_a_job_whose_twin_fails_trains_the_config_itself(job, uri):
    config = (*TINY, "device=cpu")
    twin = twin_of(uri, *config)
    watcher = EndTwinOnceWithdrawn(twin, "FAILED")
    result = watcher.after(job(*config, sweeping=True))
    assert len(watcher.withdrawn) == 1 and "reused" not in result
    assert result["run_id"] not in (twin.run_id, *watcher.withdrawn)
    assert twin.client.get_run(result["run_id"]).info.status == "FINISHED"


def test_a_single_run_trains_beside_a_twin_as_before(job, uri):
    config = (*TINY, "device=cpu")
    twin = twin_of(uri, *config)
    result = job(*config)  # not sweeping: no claim, no wait
    assert "reused" not in result and result["run_id"] != twin.run_id
    assert Tag.CLAIM not in twin.client.get_run(result["run_id"]).data.tags
