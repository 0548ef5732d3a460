"""Twins: runs of one job that two sweeps start at the same moment, and how only one of them trains.

Two identical sweeps may run at once against one store: a re-launch while the first still runs, two
people on one tracking server, a cluster job requeued while its first attempt lives. Resume alone
(reuse a FINISHED run) cannot keep them from training a job twice: when each looks, neither run has
finished. The jobs may run on different nodes and share only the tracking store, so a file lock will
not do, and MLflow has no atomic "create unless it exists". Runs and their tags, written and searched,
are enough for Lamport's bakery algorithm, which is what this module does, with one line (queue) per
config. Only sweeps with resume on claim (suite/job.py); a job's steps:

1. take a ticket: the job creates its run as always (RUNNING, its match tags, its owner), tagged
   `claim=choosing`; it then searches the twins (RUNNING and FINISHED runs carrying the same match
   tags) and tags its run with a ticket one above the highest it saw (`claim=<ticket>`).
2. look: it searches again. A FINISHED twin: it withdraws its run and reuses that one. A twin ahead
   of it in line, a lower (ticket, run id): it withdraws and waits for that run. A twin still
   choosing: it looks again shortly (choosing is one search and one write). Otherwise it is first in
   line and trains. Both sides of any pair order them alike, since they read the same tags.
3. wait: a withdrawn job polls the run it yielded to until that run ends, logging what it waits for
   now and then, and starts over at the resume check (suite/job.py): a FINISHED run is reused;
   FAILED, KILLED or withdrawn itself, the job goes through 1 and 2 again and trains unless another
   twin is ahead by then.

Withdrawing ends the job's own run KILLED and deletes it (MLflow's delete_run): searches, summaries
and the runs table no longer see it, and it never held a param or a metric.

A run without a claim tag was made by a job that never yields (a single `python run.py`, a sweep with
resume=false, an earlier version of the suite): it is first in line, ticket 0. A twin whose owner is
provably gone (owners.owner_alive is False: this host, the process has ended) is reaped, KILLED with
the reason, and left out; one whose owner cannot be checked (another host) counts as alive.

Why a ticket, not the start time. Ordering by (start_time, run_id) alone is not race-free: MLflow
reads the start time from the client's clock *before* the run is written, and the write may wait
(SQLite lets one writer at a time; a server queues requests; two nodes' clocks differ). B can then
create its run, search, see nothing and train, after which A's run appears with an *earlier* start
time; A sees B behind it and trains too. A ticket is taken after searching, so a job that chooses
once another's ticket is visible takes a higher one, and no job decides while a twin still chooses.

Why no two twins train at once. Say A and B both decide to train, B's deciding look the later, A still
training then (RUNNING). So B saw A, with a ticket (no one decides while a twin chooses), behind B:
(ticket B, B) < (ticket A, A). If B's run was created after A's deciding look, B's choosing search came
after A had its ticket, and B's ticket is higher: a contradiction. Otherwise A's deciding look saw B,
with a ticket, behind A: (ticket A, A) < (ticket B, B), a contradiction again.
And one of them trains: the first in line yields only to a FINISHED run or to a run that never yields.

Interleavings (A and B: the same job in two sweeps; "create", "choose" (search + ticket), "look"):
- A creates, chooses, looks (alone: trains); B creates, chooses (sees ticket 1: takes 2), looks: A is
  ahead; B withdraws, waits for A, reuses A's run.
- A creates, A chooses, B creates, A looks, B chooses, B looks: A's choosing saw nothing (ticket 1);
  A's look sees B choosing and looks again until B has its ticket, which is 2 (B saw A's 1): A trains,
  B yields.
- Both create before either chooses: each may see the other choosing, so both take ticket 1; each
  looks until the other has its ticket, then both order (1, run id) alike: one trains, one yields.
- B creates, chooses, looks and trains before A's run is written, A's start time the earlier (the
  clock read before a write that waited): A's choosing sees B's ticket, A takes a higher one, yields.
- A FINISHED twin appears between the resume check and the create (it ended meanwhile): the look
  sees it; the job withdraws and reuses it.
- The run ahead ends FAILED or KILLED, or its owner on this host dies (reaped while waiting): the
  waiting jobs start over; their new tickets decide which one trains, the others wait for it.
- The run ahead withdraws too (it yielded to a third): the waiting job starts over, yields to the third.
- A job killed while choosing leaves its run RUNNING with `claim=choosing`. On this host it is reaped
  at the next look; on another host its twins keep looking (with a log line now and then) until a
  sweep there reaps it at its start (owners.reap_dead_runs) or someone ends it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from suite.errors import raise_stop_if_asked
from suite.record import CLAIM_CHOOSING, Metric, Tag
from suite.tracking.owners import HOST_TAG, PID_TAG, reap_if_dead
from suite.tracking.queries import twin_runs

log = logging.getLogger(__name__)

WAIT_POLL_SECONDS = 2.0  # between polls of the run waited for: a read every 2 s costs SQLite nothing
LOOK_POLL_SECONDS = 0.25  # between looks while a twin chooses, which takes one search and one write
PROGRESS_SECONDS = 60.0  # between log lines saying what a job still waits for


def claim_tags(match: dict[str, str]) -> dict[str, str]:
    """The tags a claiming job's run is created with: what it matches on, and that it is choosing."""
    return {**match, Tag.CLAIM: CLAIM_CHOOSING}


def ticket_of(tags: dict[str, str]) -> int | None:
    """A run's ticket; None while it chooses; 0 for a run that never yields (no claim tag)."""
    value = tags.get(Tag.CLAIM)
    if value is None:
        return 0
    return None if value == CLAIM_CHOOSING else int(value)


def _place(run) -> tuple[int, str]:
    return ticket_of(run.data.tags), run.info.run_id


@dataclass
class Look:
    """What one look at the twins found."""

    yield_to: object | None = None  # a FINISHED twin, or the first one ahead in line: withdraw for it
    choosing: list = field(default_factory=list)  # twins without a ticket yet: look again

    @property
    def first_in_line(self) -> bool:
        return self.yield_to is None and not self.choosing


def _others(run, match: dict[str, str]) -> list:
    """The twins of `run` (a RunLogger), less any whose owner is provably gone (those are reaped)."""
    return [twin for twin in twin_runs(run.client, run.experiment_id, match) if twin.info.run_id != run.run_id
            and not (twin.info.status == "RUNNING" and reap_if_dead(run.client, twin))]


def take_ticket(run, match: dict[str, str]) -> int:
    """Step 1, after creating the run with claim_tags(match): one above every ticket in sight."""
    seen = [ticket_of(twin.data.tags) for twin in _others(run, match)]
    ticket = 1 + max((t for t in seen if t is not None), default=0)
    run.set_tags({Tag.CLAIM: ticket})
    return ticket


def look(run, match: dict[str, str]) -> Look:
    """Step 2, once: whom `run` (holding its ticket) yields to, or which twins it waits to see choose."""
    mine = (ticket_of(run.tags), run.run_id)
    ahead, choosing = [], []
    for twin in _others(run, match):
        if twin.info.status == "FINISHED":
            return Look(yield_to=twin)
        if ticket_of(twin.data.tags) is None:
            choosing.append(twin)
        elif _place(twin) < mine:
            ahead.append(twin)
    if ahead:
        return Look(yield_to=min(ahead, key=_place))
    return Look(choosing=choosing)


def claim(run, match: dict[str, str]) -> str | None:
    """Steps 1 and 2 for `run` (a RunLogger just created with claim_tags(match)). None: the run is first
    in line and trains. Otherwise the id of the twin it yielded to; the run is withdrawn."""
    take_ticket(run, match)
    started = reported = time.monotonic()
    while True:
        found = look(run, match)
        if found.yield_to is not None:
            twin = found.yield_to
            doing = "has finished" if twin.info.status == "FINISHED" else "is training"
            run.withdraw(f"withdrawn before training: run {twin.info.run_id} ({_owner(twin)}) {doing} this config")
            return twin.info.run_id
        if found.first_in_line:
            return None
        if time.monotonic() - reported >= PROGRESS_SECONDS:
            reported = time.monotonic()
            log.info("%s: still waiting for %s to take a ticket: %.0f s so far", run.tags.get(Tag.RUN_NAME, run.run_id),
                     ", ".join(f"run {t.info.run_id} ({_owner(t)})" for t in found.choosing), reported - started)
        time.sleep(LOOK_POLL_SECONDS)


def await_end(client, run_id: str, name: str) -> str:
    """Step 3: poll the run `run_id` until it is no longer RUNNING, or until its owner on this host is
    gone (then it is reaped); how it ended: its status, or 'withdrawn' (deleted)."""
    from mlflow.exceptions import MlflowException

    started = reported = time.monotonic()
    announced = False
    while True:
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:  # purged from the trash (mlflow gc) since it was withdrawn
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            ended = "withdrawn"
            break
        if run.info.lifecycle_stage == "deleted":
            ended = "withdrawn"
            break
        if run.info.status != "RUNNING":
            ended = run.info.status
            break
        if reap_if_dead(client, run):
            ended = "KILLED (its process is gone)"
            break
        if not announced:
            announced = True
            log.info("%s: run %s (%s, %s) is training this config; waiting for it (a look every %g s)", name,
                     run_id, run.data.tags.get(Tag.RUN_NAME, "?"), _owner(run), WAIT_POLL_SECONDS)
        elif time.monotonic() - reported >= PROGRESS_SECONDS:
            reported = time.monotonic()
            latest = run.data.metrics.get(Metric.EVAL_LOSS_NORM)
            log.info("%s: still waiting for run %s (%s): %.0f s so far%s", name, run_id, _owner(run),
                     reported - started, "" if latest is None else f", its latest loss/baseline {latest:.3g}")
        time.sleep(WAIT_POLL_SECONDS)
        raise_stop_if_asked()
    if announced:
        log.info("%s: run %s ended %s after %.0f s of waiting", name, run_id, ended, time.monotonic() - started)
    return ended


def _owner(run) -> str:
    tags = run.data.tags
    return f"{tags.get(HOST_TAG, 'unknown host')}, pid {tags.get(PID_TAG, '?')}"
