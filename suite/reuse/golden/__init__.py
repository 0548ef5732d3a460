"""Golden numerics: tiny deterministic runs whose every number is committed (numerics.json).

One run for every built-in cell and family (on memory) and one for every task (with the LSTM), each
trained a few updates in float64 on the CPU with gradient diagnostics on. What is recorded: every
metric at every evaluation, each gradient profile, a digest of the final weights, the outcome, and the
task's solved criterion at its threshold. tests/test_golden.py retrains them and fails, naming the run
and the number, when today's code moves any of them; a change that moves none passes.

A change that is *meant* to move numbers regenerates the file (`python -m suite.reuse.golden --write`, the
commit says so). Regenerating bumps the `version` of each run whose numbers moved, and those versions
are part of what a stored run is reused on (suite/reuse/decide.py): a run is reused across a change of code
only if the golden versions of its cell and its task are the ones it was trained under.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

GOLDEN_FILE = Path(__file__).with_name("numerics.json")
FIRST_VERSION = 1  # what a run trained before golden numerics existed was trained under (see reuse.py)


@cache
def committed() -> dict[str, dict]:
    """{golden run name: {"cell", "task", "version", "numbers"}} as committed."""
    return json.loads(GOLDEN_FILE.read_text())["runs"]


def relevant(cell: str, task: str, runs: dict[str, dict] | None = None) -> dict[str, int]:
    """{golden run: version} for the golden runs that share a run's cell or its task (config names)."""
    runs = committed() if runs is None else runs
    return {name: run["version"] for name, run in sorted(runs.items()) if run["cell"] == cell or run["task"] == task}


def versions_text(cell: str, task: str) -> str:
    """'gru-memory=1 lstm-adding=2 ...': the golden versions a run of this cell and task is trained under today
    (its tag: the versions themselves, not a digest, so that a golden run added later moves no stored run)."""
    return " ".join(f"{name}={version}" for name, version in relevant(cell, task).items())


def moved_since(tagged: str | None, cell: str, task: str) -> list[str]:
    """The golden runs, of those a run was trained under (`tagged`: its tag; None: a run from before golden
    numerics, trained under the first version of each), whose version has moved since. A golden run added or
    removed since says nothing about the code the run was trained by."""
    now = relevant(cell, task)
    then = (dict((name, int(v)) for name, _, v in (part.partition("=") for part in tagged.split()))
            if tagged is not None else {name: FIRST_VERSION for name in now})
    return sorted(name for name, version in then.items() if name in now and now[name] != version)
