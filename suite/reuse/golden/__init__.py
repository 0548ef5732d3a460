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

import hashlib
import json
from functools import cache
from itertools import combinations, product
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
    if tagged is None:
        then = {name: FIRST_VERSION for name in now}
    elif "=" in tagged or not tagged.strip():
        then = {name: int(v) for name, _, v in (part.partition("=") for part in tagged.split())}
    else:  # a digest, as runs stored before the versions themselves were recorded are tagged
        then = versions_of_digest(tagged.strip(), tuple(now.items()))
        if then is None:
            return [f"unknown versions (golden digest {tagged.strip()})"]
    return sorted(name for name, version in then.items() if name in now and now[name] != version)


DIGEST_CANDIDATES = 500_000  # sets of versions tried against an old digest (~1 s) before giving up and retraining


@cache  # every job of a cell and task asks the same
def versions_of_digest(digest: str, now: tuple[tuple[str, int], ...]) -> dict[str, int] | None:
    """The golden versions an old run's digest stood for (12 hex digits of the sha256 of its sorted
    [name, version] pairs): the golden runs of its cell and task at the time, a subset of today's (runs were
    added since, none removed), each at a version up to today's; None when none matches within
    DIGEST_CANDIDATES tries. The largest sets are tried first: nothing added since is the usual case."""
    now, tried = dict(now), 0
    names = sorted(now)
    for size in range(len(names), -1, -1):
        for subset in combinations(names, size):
            for versions in product(*(range(FIRST_VERSION, now[n] + 1) for n in subset)):
                candidate = dict(zip(subset, versions))
                if hashlib.sha256(json.dumps(sorted(candidate.items())).encode()).hexdigest()[:12] == digest:
                    return candidate
                tried += 1
                if tried >= DIGEST_CANDIDATES:
                    return None
    return None
