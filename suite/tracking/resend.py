"""Sending a run's results to a tracking server that lost them mid-run.

When the server stops answering, a job keeps training and writes everything it would have
logged to its output folder (RECORD_FILE, beside result.json and config.yaml). Once the
server is back, `reimport` completes each such run: the original run when the server has it
(only what it lacks is sent, so nothing is counted twice), else a new run in the same
experiment, under the same sweep parent.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from suite.privacy import redact
from suite.record import Artifact, Result, Tag
from suite.tracking.run_logger import RECORD_FILE
from suite.tracking.store import open_experiment

DEFAULT_EXPERIMENT = "rnn-vs-lstm"  # records written before the experiment was a param
# (file in the output folder, artifact folder on the run)
LOCAL_ARTIFACTS = ((Artifact.CONFIG, None), (Artifact.RESULT, None), (Artifact.PROFILE_CSV, Artifact.DIAGNOSTICS_DIR),
                   (Artifact.PROFILE_PNG, Artifact.DIAGNOSTICS_DIR))


def pending_records(paths: list[Path]) -> list[Path]:
    """The record files under these folders whose run lost its tracking server."""
    found = []
    for path in paths:
        for record in sorted(path.glob(f"**/{RECORD_FILE}")) if path.is_dir() else [path]:
            if json.loads(record.read_text()).get("lost"):
                found.append(record)
    return found


def reimport(record_path: Path, uri: str) -> str:
    """Complete (or recreate) the record's run in the store at `uri`; the run's id."""
    record = json.loads(record_path.read_text())
    folder = record_path.parent
    client, experiment_id = open_experiment(uri, record["params"].get("tracking.experiment", DEFAULT_EXPERIMENT))
    try:
        run = client.get_run(record["run_id"])
        run_id, have_params = run.info.run_id, run.data.params
    except MlflowException:  # the server lost it too (a fresh database): a new run
        run_id = client.create_run(experiment_id, run_name=record["tags"].get(Tag.RUN_NAME),
                                   tags=record["tags"]).info.run_id
        have_params = {}
    have_points = {(m.key, m.step) for key in {p["key"] for p in record["metrics"]}
                   for m in client.get_metric_history(run_id, key)}
    now = int(time.time() * 1000)
    # log_batch splits these into requests within the server's limits itself
    client.log_batch(
        run_id,
        params=[Param(k, v) for k, v in record["params"].items() if k not in have_params],
        tags=[RunTag(k, v) for k, v in {**record["tags"], Tag.REIMPORTED_FROM: folder.name}.items()],
        metrics=[Metric(p["key"], p["value"], now, p["step"]) for p in record["metrics"]
                 if (p["key"], p["step"]) not in have_points])
    for name, artifact_dir in LOCAL_ARTIFACTS:
        if (folder / name).exists():
            client.log_artifact(run_id, str(folder / name), artifact_dir)
    client.set_terminated(run_id, record["status"])
    # Mark both files done, so a second reimport sends nothing and a sweep re-summary finds the run.
    record.update(lost=None, run_id=run_id, reimported_to=redact(uri))
    record_path.write_text(json.dumps(record, indent=1))
    result_path = folder / Artifact.RESULT
    if result_path.exists():
        result = json.loads(result_path.read_text())
        result.pop(Result.TRACKING_LOST, None)
        result[Result.RUN_ID] = run_id
        result_path.write_text(json.dumps(result, indent=2))
    return run_id
