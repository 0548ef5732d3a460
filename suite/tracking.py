"""MLflow tracking: where runs go, what each run records, and batched metric logging.

One SQLite database at a fixed place in the project is the default store, so
every run lands in the same place whatever the working directory. Metrics are
buffered and sent with `log_batch` (one round trip for many points, ~15 ms on
SQLite, against ~3 ms for *each* `log_metric`).
"""
from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import mlflow
from filelock import FileLock
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from suite.config import ConfigError
from suite.privacy import redact, redact_all
from suite.recovery import owner_tags

log = logging.getLogger(__name__)

# MLflow retries a failing HTTP request 7 times with exponential back-off, minutes in all,
# before a job learns its server is gone. A few seconds of retries ride out a restart;
# set the variables yourself to wait longer.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
REACH_TIMEOUT = 5.0  # seconds to wait for a tracking server's first answer
RECORD_FILE = "mlflow_record.json"  # a run's params, tags and metrics, beside Hydra's outputs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / "mlflow.db"

# MLflow's limits per log_batch request.
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000


def tracking_uri(configured: str | None = None) -> str:
    """The config's URI, else $MLFLOW_TRACKING_URI, else the project's SQLite file.

    A relative SQLite path is made absolute here, once, so that every job of a
    sweep writes to the same database whatever its working directory.
    """
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"
    path = sqlite_path(uri)
    return f"sqlite:///{path.resolve()}" if path is not None else uri


def uri_source(configured: str | None) -> str:
    """Where the URI came from, for error messages: the config key or the environment variable."""
    if configured:
        return "tracking.uri"
    return "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the default tracking URI"


def is_remote(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def check_reachable(uri: str, source: str = "tracking.uri") -> None:
    """Fail in seconds, naming the URI, when no tracking server answers there.

    Any HTTP answer counts, even an error status: then a server is there and MLflow's own
    error will say what it wants. Only a refused or silent connection is reported here.
    """
    if not is_remote(uri):
        return
    try:
        urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=REACH_TIMEOUT).close()
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(f"{source}={redact(uri)!r}: no MLflow tracking server answers there ({reason}); "
                          "start it (e.g. mlflow server --host 127.0.0.1 --port 5000) or point the URI elsewhere") from None


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for any other store)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


def open_experiment(uri: str, name: str) -> tuple[MlflowClient, str]:
    """A client for the store and the experiment's id, creating the experiment when it is new.

    Several processes opening a brand-new SQLite database at once race on its schema
    migration (alembic "duplicate column" / "table already exists" errors): a file lock
    beside the database makes the first opening, and the experiment's creation, one
    process at a time. A tracking server needs no lock.
    """
    db = sqlite_path(uri)
    if db is None:
        client = MlflowClient(uri)
        return client, _ensure_experiment(client, name)
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock", timeout=120):
        client = MlflowClient(uri)  # opening the store runs its migrations
        return client, _ensure_experiment(client, name)


def _ensure_experiment(client: MlflowClient, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    # Without an explicit location MLflow puts a SQLite store's artifacts under the
    # *current* directory; keep them beside the database instead.
    db = sqlite_path(client.tracking_uri)
    location = (db.parent / "mlartifacts").as_uri() if db is not None else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except mlflow.exceptions.MlflowException:
        # Another process created it first.
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


def flatten(cfg: dict, prefix: str = "") -> dict[str, object]:
    """{'train': {'lr': 0.002}} -> {'train.lr': 0.002}."""
    flat = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def batches(items: list, size: int):
    """Consecutive slices of at most `size` items (MLflow's per-request limits)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


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

    def __init__(self, client: MlflowClient, run_id: str, flush_seconds: float = 5.0,
                 local_dir: str | Path | None = None):
        self.client = client
        self.run_id = run_id
        self.flush_seconds = flush_seconds
        self.local_dir = Path(local_dir) if local_dir is not None else None
        self.lost: str | None = None  # why the tracking server stopped answering, once it has
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
        values = {k: v[:MAX_PARAM_LENGTH] for k, v in redact_all(params).items()}
        self.params.update(values)
        for chunk in batches([Param(k, v) for k, v in values.items()], MAX_PARAMS_PER_BATCH):
            self._send(self.client.log_batch, self.run_id, params=chunk)

    def set_tags(self, tags: dict[str, object]) -> None:
        values = redact_all(tags)
        self.tags.update(values)
        for chunk in batches([RunTag(k, v) for k, v in values.items()], MAX_PARAMS_PER_BATCH):
            self._send(self.client.log_batch, self.run_id, tags=chunk)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Buffer the points; they are sent every `flush_seconds` and at the end."""
        now = int(time.time() * 1000)
        self._buffer.extend(Metric(k, float(v), now, step) for k, v in metrics.items())
        self.history.extend((step, k, float(v)) for k, v in metrics.items())
        if len(self._buffer) >= MAX_METRICS_PER_BATCH or time.monotonic() - self._last_flush > self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        for chunk in batches(self._buffer, MAX_METRICS_PER_BATCH):
            self._send(self.client.log_batch, self.run_id, metrics=chunk)
        self._buffer = []
        self._last_flush = time.monotonic()

    def log_text(self, text: str, path: str) -> None:
        self._send(self.client.log_text, self.run_id, text, path)

    def log_artifact(self, local_path, artifact_path: str | None = None) -> None:
        self._send(self.client.log_artifact, self.run_id, str(local_path), artifact_path)

    def end(self, status: str) -> None:
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


@contextmanager
def mlflow_run(uri: str, experiment: str, run_name: str, tags: dict[str, object] | None = None,
               parent_run_id: str | None = None, local_dir: str | Path | None = None):
    """Open a run and make sure it never stays RUNNING while this process lives.

    Normal exit: FINISHED. An exception: FAILED with the error as a tag, then it
    propagates. Ctrl-C: KILLED. A hard kill leaves it RUNNING with its owner recorded,
    for suite.recovery to end later.
    """
    client, experiment_id = open_experiment(uri, experiment)
    all_tags = {"mlflow.runName": run_name, **owner_tags(), **(tags or {})}
    if parent_run_id:
        all_tags["mlflow.parentRunId"] = parent_run_id
    safe_tags = redact_all(all_tags)
    run = client.create_run(experiment_id, run_name=run_name, tags=safe_tags)
    logger = RunLogger(client, run.info.run_id, local_dir=local_dir)
    logger.tags.update(safe_tags)
    try:
        yield logger
    except KeyboardInterrupt:
        _close(logger, "KILLED", {"error": "interrupted (KeyboardInterrupt)"})
        raise
    except BaseException as exc:
        _close(logger, "FAILED", {"error": f"{type(exc).__name__}: {exc}"[:5000]})
        raise
    else:
        logger.end("FINISHED")


def _close(logger: RunLogger, status: str, tags: dict[str, object]) -> None:
    try:
        logger.set_tags(tags)
    finally:
        logger.end(status)
