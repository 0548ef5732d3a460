"""Runs left RUNNING by a process that no longer exists, and ending them honestly.

A hard kill (SIGKILL, an out-of-memory kill, a node that reboots) gives a run no chance to
end itself, so MLflow shows it RUNNING forever. Every run therefore records its owner:
the host, the process id and that process's start time (a pid alone can be reused by a
later process). The next sweep in the same experiment marks runs whose owner on this host
is gone as KILLED, with the reason, before it starts; their jobs are then trained again,
since only FINISHED runs are reused. A sweep's job reaps a dead twin it meets the same way
(suite/tracking/twins.py). Runs owned by other hosts are left alone: their process cannot be
checked from here.
"""
from __future__ import annotations

import logging
import os
import socket

import psutil

from suite.record import SWEEP_PARENT, Tag
from suite.tracking.queries import end_run, running_runs_of_host

log = logging.getLogger(__name__)

HOST_TAG, PID_TAG, STARTED_TAG = Tag.OWNER_HOST, Tag.OWNER_PID, Tag.OWNER_STARTED


# Two readings of one process's start time agree within this: psutil adds the boot time, which moves with the
# clock (NTP); a later process under a reused pid starts later than that.
SAME_START = 1.0  # seconds


def process_start(pid: int) -> str:
    """The process's start time in seconds since the epoch (psutil, on Linux, macOS and Windows), or '' where it
    cannot be read."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return ""


def owner_tags() -> dict[str, str]:
    pid = os.getpid()
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(pid), STARTED_TAG: process_start(pid)}


def owner_alive(tags: dict[str, str]) -> bool | None:
    """Whether the run's owner still runs: None when it cannot be told (another host, no tags)."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    pid = int(tags[PID_TAG])
    return psutil.pid_exists(pid) and _same_start(tags.get(STARTED_TAG, ""), process_start(pid))


def _same_start(tagged: str, now: str) -> bool:
    """Whether the process now under the pid is the one that started at `tagged`. Where either is unknown (no
    tag, an unreadable process, a tag in clock ticks since boot as /proc gives it, without a '.'), the pid
    alone decides."""
    try:
        return abs(float(tagged) - float(now)) < SAME_START if "." in tagged and now else True
    except ValueError:
        return True


def reap_if_dead(client, run) -> bool:
    """End the RUNNING `run` KILLED, with the reason, if its owner is provably gone; whether it did."""
    if owner_alive(run.data.tags) is not False:
        return False
    redo = ("its unfinished jobs are trained again" if run.data.tags.get(Tag.SWEEP) == SWEEP_PARENT
            else "which trains it again")
    reason = (f"its process ({run.data.tags[HOST_TAG]}, pid {run.data.tags[PID_TAG]}) ended without "
              f"ending the run (killed?); marked KILLED by a later sweep, {redo}")
    end_run(client, run.info.run_id, "KILLED", reason)
    return True


def reap_dead_runs(client, experiment_id: str) -> list[str]:
    """Mark RUNNING runs of this host whose owner process is gone as KILLED; their ids."""
    reaped = [run.info.run_id for run in running_runs_of_host(client, experiment_id, socket.gethostname())
              if reap_if_dead(client, run)]
    if reaped:
        log.warning("%d run(s) left RUNNING by a process that is gone are now KILLED: %s", len(reaped),
                    ", ".join(reaped))
    return reaped
