"""Where runs go: the tracking URI, a quick check that a server answers, and opening the
experiment (once per process, under a file lock for a fresh SQLite database).

One SQLite database at a fixed place in the project is the default store, so every run
lands in the same place whatever the working directory.
"""
from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from suite.errors import ConfigError
from suite.privacy import redact

# MLflow retries a failing HTTP request 7 times with exponential back-off, minutes in all,
# before a job learns its server is gone. A few seconds of retries ride out a restart;
# set the variables yourself to wait longer.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# seconds to wait for a tracking server's first answer ($RNN_SUITE_REACH_TIMEOUT: a slow link may want more)
REACH_TIMEOUT = float(os.environ.get("RNN_SUITE_REACH_TIMEOUT", "5"))

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB = PROJECT_ROOT / "mlflow.db"
ARTIFACTS_BESIDE_DB = "mlartifacts"


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


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for any other store)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix):]) if uri.startswith(prefix) else None


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


def client_for(uri: str):
    """An MlflowClient for the store at `uri` (an existing store: see open_experiment for a new one)."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def open_experiment(uri: str, name: str):
    """(MlflowClient, experiment id) for the store at `uri`, creating the experiment when it is new.

    Several processes opening a brand-new SQLite database at once race on its schema
    migration (alembic "duplicate column" / "table already exists" errors): a file lock
    beside the database makes the first opening, and the experiment's creation, one
    process at a time. A tracking server needs no lock.
    """
    from filelock import FileLock
    from mlflow.tracking import MlflowClient

    db = sqlite_path(uri)
    if db is None:
        client = MlflowClient(uri)
        return client, _ensure_experiment(client, name)
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lock", timeout=120):
        client = MlflowClient(uri)  # opening the store runs its migrations
        return client, _ensure_experiment(client, name)


def _ensure_experiment(client, name: str) -> str:
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    # Without an explicit location MLflow puts a SQLite store's artifacts under the
    # *current* directory; keep them beside the database instead.
    db = sqlite_path(client.tracking_uri)
    location = (db.parent / ARTIFACTS_BESIDE_DB).as_uri() if db is not None else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        # Another process created it first.
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id
