"""What the launching process and the jobs share on disk: the sweep folder.

The launching process writes the parent run's id and the number of jobs there; each job
(in this process, a joblib worker, or a SLURM node that mounts the folder) reads the parent
id and writes its result.json into its own job folder; the launching process reads those
back at the end. The launching process also leaves a SweepReport for suite/cli.py.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from suite.record import Artifact, Result

PARENT_FILE = "parent_run_id"
TOTAL_FILE = "jobs_total"


def write_parent(sweep_dir: str | Path, parent_run_id: str, total_jobs: int | None) -> None:
    (Path(sweep_dir) / PARENT_FILE).write_text(parent_run_id)
    if total_jobs is not None:
        write_total(sweep_dir, total_jobs)


def write_total(sweep_dir: str | Path, total_jobs: int) -> None:
    """The number of jobs the jobs' progress lines count against (an adaptive sweeper raises it)."""
    (Path(sweep_dir) / TOTAL_FILE).write_text(str(total_jobs))


def parent_run_id(sweep_dir: str | Path) -> str | None:
    path = Path(sweep_dir) / PARENT_FILE
    return path.read_text().strip() if path.exists() else None


def write_result(output_dir: str | Path | None, result: dict) -> None:
    """A job's result beside Hydra's outputs: the sweep reads it, and it survives a tracking
    server that went away."""
    if output_dir is not None:
        parent = parent_run_id(Path(output_dir).parent)  # a sweep's job: whose it was (see _result_files)
        mine = {**result, Result.PARENT: parent} if parent else result
        (Path(output_dir) / Artifact.RESULT).write_text(json.dumps(mine, indent=2))


def _result_files(sweep_dir: str | Path) -> list[Path]:
    """One result.json per job of this sweep that ran or was reused, in its job folder. A folder that names
    another parent run is an earlier launch's: an adaptive search launched again into the same folder (to
    finish after a kill) numbers its jobs afresh and may place fewer, so job folders of the first launch
    remain beside the second's, and their runs are not this sweep's."""
    parent = parent_run_id(sweep_dir)
    files = sorted(Path(sweep_dir).glob(f"*/{Artifact.RESULT}"))
    return [p for p in files if json.loads(p.read_text()).get(Result.PARENT, parent) == parent]


def job_results(sweep_dir: str | Path) -> list[dict]:
    """Every job's result.json under the sweep folder (one per job that ran or was reused)."""
    return [json.loads(p.read_text()) for p in _result_files(sweep_dir)]


def progress_text(sweep_dir: str | Path) -> str:
    """'37/108 jobs done', counted from the result files: right whichever worker asks."""
    done = len(_result_files(sweep_dir))
    total_file = Path(sweep_dir) / TOTAL_FILE
    total = total_file.read_text().strip() if total_file.exists() else "?"
    return f"{done}/{total} jobs done"


@dataclass
class SweepReport:
    """What the launching process's sweep callback tells suite/cli.py: the parent run to end if
    the sweep is stopped, and at the end what the exit status must say. Hydra gives the CLI no
    handle on its callbacks, so the callback saves this to a file the CLI named (`report_to`)."""

    parent_run_id: str | None = None
    tracking_uri: str | None = None
    experiment_id: str | None = None
    sweep_dir: str | None = None
    jobs_elsewhere: bool = False  # submitit: jobs run in processes that outlive the launching one
    ended: bool = False  # the sweep ran to its end and the parent run was ended
    jobs: int = 0
    reused: int = 0
    retrained: int = 0  # jobs whose config had a finished run, trained by other code: trained again
    crashed: int = 0  # jobs that crashed or made no run
    tracking_lost: int = 0  # jobs whose tracking server went away mid-run
    summary: str | None = None  # the summary's text, for the CLI to print
    summary_error: str | None = None

    def save(self, path: str | Path | None) -> None:
        if path is not None:
            Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: str | Path | None) -> "SweepReport":
        """The report saved at `path`; an empty one when there is none (a single run)."""
        if path is None or not Path(path).exists() or not Path(path).read_text().strip():
            return cls()
        return cls(**json.loads(Path(path).read_text()))
