"""Send results that a lost tracking server never received: `python -m suite.reimport DIR...`.

When the server stops answering mid-run, a job keeps training and writes everything it
would have logged to its Hydra output folder (suite.tracking.RECORD_FILE, beside
result.json and config.yaml). Once the server is back, this completes each such run:
the original run when the server has it (only what it lacks is sent, so nothing is
counted twice), else a new run in the same experiment, under the same sweep parent.
DIR may be one run's output folder or a whole sweep folder.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from suite.diagnostics import PROFILE_CSV
from suite.privacy import redact
from suite.sweep import RESULT_FILE
from suite.tracking import (MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, RECORD_FILE, batches, check_reachable,
                            open_experiment, tracking_uri, uri_source)


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
    experiment = record["params"].get("tracking.experiment", "rnn-vs-lstm")
    client, experiment_id = open_experiment(uri, experiment)
    try:
        run = client.get_run(record["run_id"])
        run_id, have_params = run.info.run_id, run.data.params
    except MlflowException:  # the server lost it too (a fresh database): a new run
        run_id = client.create_run(experiment_id, run_name=record["tags"].get("mlflow.runName"),
                                   tags=record["tags"]).info.run_id
        have_params = {}
    params = [Param(k, v) for k, v in record["params"].items() if k not in have_params]
    for chunk in batches(params, MAX_PARAMS_PER_BATCH):
        client.log_batch(run_id, params=chunk)
    tags = [RunTag(k, v) for k, v in {**record["tags"], "reimported_from": folder.name}.items()]
    for chunk in batches(tags, MAX_PARAMS_PER_BATCH):
        client.log_batch(run_id, tags=chunk)
    have_points = {(m.key, m.step) for key in {p["key"] for p in record["metrics"]}
                   for m in client.get_metric_history(run_id, key)}
    now = int(time.time() * 1000)
    metrics = [Metric(p["key"], p["value"], now, p["step"]) for p in record["metrics"]
               if (p["key"], p["step"]) not in have_points]
    for chunk in batches(metrics, MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=chunk)
    for name, artifact_dir in (("config.yaml", None), (RESULT_FILE, None), (PROFILE_CSV, "diagnostics"),
                               ("grad_profile.png", "diagnostics")):
        if (folder / name).exists():
            client.log_artifact(run_id, str(folder / name), artifact_dir)
    client.set_terminated(run_id, record["status"])
    # Mark both files done, so a second reimport sends nothing and a sweep re-summary finds the run.
    record.update(lost=None, run_id=run_id, reimported_to=redact(uri))
    record_path.write_text(json.dumps(record, indent=1))
    result_path = folder / RESULT_FILE
    if result_path.exists():
        result = json.loads(result_path.read_text())
        result.pop("tracking_lost", None)
        result["run_id"] = run_id
        result_path.write_text(json.dumps(result, indent=2))
    return run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite.reimport", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="run output folders or sweep folders")
    parser.add_argument("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, else the project's mlflow.db)")
    args = parser.parse_args(argv)
    uri = tracking_uri(args.tracking_uri)
    try:
        check_reachable(uri, "--tracking-uri" if args.tracking_uri else uri_source(None))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records = pending_records(args.paths)
    for record_path in records:
        run_id = reimport(record_path, uri)
        print(f"{record_path.parent}: sent to run {run_id}")
    print(f"{len(records)} run(s) re-imported into {redact(uri)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
