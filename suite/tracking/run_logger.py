"""How one run is logged: params and tags up front, metrics buffered and sent in batches, an
honest final status, and a local copy of everything for a server that goes away.

`MlflowClient.log_batch` sends many points in one round trip (~15 ms on SQLite, against ~3 ms
for *each* `log_metric`) and splits what exceeds a request's limits itself.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from contextlib import contextmanager
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from suite.errors import JobStopped
from suite.privacy import redact, redact_all
from suite.record import Tag
from suite.tracking.owners import owner_tags
from suite.tracking.store import PROJECT_ROOT, is_remote, open_experiment

log = logging.getLogger(__name__)

RECORD_FILE = "mlflow_record.json"  # a run's params, tags and metrics, beside Hydra's outputs
FLUSH_POINTS = 1000  # metric points buffered at most before they are sent


@functools.cache
def source_tags() -> dict[str, str]:
    """What code made the runs of this process, as MLflow's own run context tags: the user and the source
    type, the entry point (run.py, whatever process imported the suite) and, in a git checkout, its commit.
    MLflow's git context looks for a checkout around sys.argv[0] (pytest's or submitit's, outside the project,
    or in an ignored folder), so the commit is the project's own, by the same MLflow helper."""
    from mlflow.tracking.context.git_context import GitRunContext
    from mlflow.tracking.context.registry import resolve_tags
    from mlflow.utils.git_utils import get_git_commit

    tags = resolve_tags({Tag.SOURCE_NAME: "run.py"}, ignore=[GitRunContext])
    if (commit := get_git_commit(str(PROJECT_ROOT))) is not None:
        tags[Tag.GIT_COMMIT] = commit
    return tags


def server_gone(exc: BaseException) -> bool:
    """A refused, timed-out or 5xx request: the server is away, not the request wrong.

    (A request the server answered with an error, e.g. an invalid param, is a real error.)
    """
    text = str(exc)
    return isinstance(exc, OSError) or (text.startswith("API request to") and any(
        reason in text for reason in ("failed with exception", "failed with timeout", "failed with error code 5")))


class RunLogger:
    """One MLflow run: params and tags up front, metrics buffered, an honest final status.

    Everything sent is also kept in memory and, with `local_dir`, written there at the end
    (RECORD_FILE), so a run whose tracking server went away mid-run loses nothing:
    `python -m suite.reimport` sends it later. On a remote store a failed call marks the
    run *lost* and training goes on; on a local store a failure is a real error and raises.
    """

    def __init__(self, client, run_id: str, flush_seconds: float = 5.0,
                 local_dir: str | Path | None = None, experiment_id: str | None = None):
        self.client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.flush_seconds = flush_seconds
        self.local_dir = Path(local_dir) if local_dir is not None else None
        self.lost: str | None = None  # why the tracking server stopped answering, once it has
        self.withdrawn = False  # taken back before training (suite/tracking/twins.py): deleted, never ended
        self.params: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.history: list[tuple[int, str, float]] = []  # (step, key, value), everything logged
        self._buffer: list[Metric] = []
        self._last_flush = time.monotonic()

    def _send(self, call, *args, **kwargs) -> None:
        if self.lost:
            return
        try:
            call(*args, **kwargs)
        except Exception as exc:
            if not (is_remote(self.client.tracking_uri) and server_gone(exc)):
                raise
            self.lost = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
            log.error("the tracking server at %s stopped answering (%s); the run goes on and keeps its "
                      "results in %s (re-import them with `python -m suite.reimport`)",
                      redact(self.client.tracking_uri), self.lost, self.local_dir or "memory only")

    def log_params(self, params: dict[str, object]) -> None:
        values = {k: v[:MAX_PARAM_VAL_LENGTH] for k, v in redact_all(params).items()}
        self.params.update(values)
        self._send(self.client.log_batch, self.run_id, params=[Param(k, v) for k, v in values.items()])

    def set_tags(self, tags: dict[str, object]) -> None:
        values = redact_all(tags)
        self.tags.update(values)
        self._send(self.client.log_batch, self.run_id, tags=[RunTag(k, v) for k, v in values.items()])

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Buffer the points; they are sent every `flush_seconds` and at the end."""
        now = int(time.time() * 1000)
        self._buffer.extend(Metric(k, float(v), now, step) for k, v in metrics.items())
        self.history.extend((step, k, float(v)) for k, v in metrics.items())
        if len(self._buffer) >= FLUSH_POINTS or time.monotonic() - self._last_flush > self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._send(self.client.log_batch, self.run_id, metrics=self._buffer)
        self._buffer = []
        self._last_flush = time.monotonic()

    def log_text(self, text: str, path: str) -> None:
        self._send(self.client.log_text, self.run_id, text, path)

    def log_artifact(self, local_path, artifact_path: str | None = None) -> None:
        self._send(self.client.log_artifact, self.run_id, str(local_path), artifact_path)

    def log_figure(self, figure, artifact_file: str) -> None:
        self._send(self.client.log_figure, self.run_id, figure, artifact_file)

    def log_datasets(self, datasets: dict[str, dict]) -> None:
        """Describe the data the run saw, shown as its Datasets in the UI: {context: description}, the
        description holding `name` and what identifies the data (for synthetic data: how it is made)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = []
        for context, description in datasets.items():
            source = json.dumps(description, sort_keys=True)
            digest = hashlib.sha256(source.encode()).hexdigest()[:8]
            dataset = Dataset(name=description["name"], digest=digest, source_type="synthetic", source=source)
            inputs.append(DatasetInput(dataset, [InputTag("mlflow.data.context", context)]))
        self._send(self._log_inputs, inputs)

    def _log_inputs(self, inputs) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.log_inputs(self.run_id, inputs)
        except MlflowException as exc:
            # MLflow inserts a dataset its experiment lacks, so two runs starting at once with the same
            # dataset (the eval data of jobs differing in the cell or train.steps) race on that row and
            # the loser's insert fails (seen: SQLite, two jobs SLURM started in the same second). Once
            # more, the row exists and is only linked to the run.
            if not any(race in str(exc) for race in ("UNIQUE constraint failed", "duplicate key value")):
                raise
            self.client.log_inputs(self.run_id, inputs)

    def withdraw(self, reason: str) -> None:
        """Take the run back before anything is trained in it: ended KILLED with the reason, then deleted
        (MLflow's delete_run), so no search, summary or runs table sees it. Ending it first keeps a run
        restored from the trash honest. Nothing more is logged to it, and no record of it is written."""
        self.client.set_tag(self.run_id, Tag.ERROR, reason)
        self.client.set_terminated(self.run_id, "KILLED")
        self.client.delete_run(self.run_id)
        self.withdrawn = True

    def end(self, status: str, error: str | None = None) -> None:
        """Send what is buffered and end the run with `status` (and the error that ended it)."""
        if self.withdrawn:  # deleted: MLflow refuses any change to it, and it has nothing to send
            return
        try:
            if error is not None:
                self.set_tags({Tag.ERROR: error})
        finally:
            self._end(status)

    def _end(self, status: str) -> None:
        self.flush()
        self._send(self.client.set_terminated, self.run_id, status)
        self.write_record(status)

    def write_record(self, status: str) -> None:
        """Everything this run logged, as JSON beside Hydra's outputs (what suite.reimport reads)."""
        if self.local_dir is None:
            return
        record = {"run_id": self.run_id, "tracking_uri": redact(self.client.tracking_uri), "status": status,
                  "lost": self.lost, "params": self.params, "tags": self.tags,
                  "metrics": [{"step": s, "key": k, "value": v} for s, k, v in self.history]}
        self.local_dir.mkdir(parents=True, exist_ok=True)
        (self.local_dir / RECORD_FILE).write_text(json.dumps(record, indent=1))


def start_run(uri: str, experiment: str, run_name: str, tags: dict[str, object] | None = None,
              parent_run_id: str | None = None, local_dir: str | Path | None = None) -> RunLogger:
    """Create a run owned by this process (its host, pid and start time are tagged, so a later
    sweep can tell when the process is gone) and its logger. End it with `logger.end(status)`."""
    client, experiment_id = open_experiment(uri, experiment)
    all_tags = {Tag.RUN_NAME: run_name, **source_tags(), **owner_tags(), **(tags or {})}
    if parent_run_id:
        all_tags[Tag.PARENT] = parent_run_id
    safe_tags = redact_all(all_tags)
    run = client.create_run(experiment_id, run_name=run_name, tags=safe_tags)
    logger = RunLogger(client, run.info.run_id, local_dir=local_dir, experiment_id=experiment_id)
    logger.tags.update(safe_tags)
    return logger


@contextmanager
def mlflow_run(uri: str, experiment: str, run_name: str, tags: dict[str, object] | None = None,
               parent_run_id: str | None = None, local_dir: str | Path | None = None):
    """Open a run and make sure it never stays RUNNING while this process lives.

    Normal exit: FINISHED. An exception: FAILED with the error as a tag, then it
    propagates. Ctrl-C, or the scheduler stopping the job: KILLED. A hard kill leaves it
    RUNNING with its owner recorded, for suite/tracking/owners.py to end later.
    """
    logger = start_run(uri, experiment, run_name, tags, parent_run_id, local_dir)
    try:
        yield logger
    except KeyboardInterrupt:
        logger.end("KILLED", "interrupted (KeyboardInterrupt)")
        raise
    except JobStopped as exc:
        logger.end("KILLED", str(exc))
        raise
    except BaseException as exc:
        logger.end("FAILED", f"{type(exc).__name__}: {exc}"[:5000])
        raise
    else:
        logger.end("FINISHED")
