"""Every search of the store the suite makes: the filter strings are written here and nowhere else.

The sweep asks for a finished run with the same config, for its children still running; a sweep's
job for the runs of its config still training (suite/tracking/twins.py); the reaper for runs left
RUNNING on this host; the summary for a sweep's runs as a pandas frame
(`mlflow.search_runs`' columns: `tags.<k>`, `params.<k>`, `metrics.<k>`, run_id, status, ...).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from suite.record import Artifact, Tag

MAX_RESULTS = 5000  # runs per search: above any sweep's size
IDS_PER_FILTER = 100  # run ids per `run_id IN (...)` filter, to keep the filter short


def _quoted(value: str) -> str:
    """A string value in MLflow's filter grammar (mlflow/utils/search_utils.py): the search takes the text
    between the enclosing quotes as it stands, with no escapes, so a value holding a ' is enclosed in "
    instead. A value holding both quotes, or ending in a backslash (sqlparse reads \\' as an escaped
    quote), has no exact spelling there: ValueError, rather than a filter that matches other runs."""
    value = str(value)
    quote = '"' if "'" in value else "'"
    if quote in value or value.endswith("\\"):
        raise ValueError(f"{value!r} cannot be written in an MLflow search filter (it holds both quote "
                         "characters or ends in a backslash)")
    return quote + value + quote


def _status_is(status: str) -> str:
    return f"attributes.status = {_quoted(status)}"


def _children_of(parent_run_id: str) -> str:
    return f"tags.{Tag.PARENT} = {_quoted(parent_run_id)}"


def _tags_are(match: dict[str, str]) -> str:
    if not match:  # an empty filter would match every run of the experiment
        raise ValueError("no tags to match runs on")
    return " and ".join(f"tags.{key} = {_quoted(value)}" for key, value in match.items())


def finished_run_matching(client, experiment_id: str, match: dict[str, str]):
    """The latest FINISHED run carrying all these tags ({Tag.CONFIG_HASH: ...}), if any (resume)."""
    runs = client.search_runs([experiment_id], max_results=1, order_by=["attributes.start_time DESC"],
                              filter_string=f"{_tags_are(match)} and {_status_is('FINISHED')}")
    return runs[0] if runs else None


def twin_runs(client, experiment_id: str, match: dict[str, str]) -> list:
    """The RUNNING and FINISHED runs carrying all these tags: the runs of one job, training or trained
    (suite/tracking/twins.py). Deleted runs (withdrawn ones) are not searched."""
    # MLflow's filters take `IN` for run ids only, so the statuses left out are named (SCHEDULED: never made here)
    runs = client.search_runs([experiment_id], max_results=MAX_RESULTS,
                              filter_string=f"{_tags_are(match)} and attributes.status != 'FAILED' and "
                                            "attributes.status != 'KILLED'")
    return [run for run in runs if run.info.status in ("RUNNING", "FINISHED")]


def running_runs_of_host(client, experiment_id: str, host: str) -> list:
    """Runs this host left RUNNING (their owners are checked by suite/tracking/owners.py)."""
    return client.search_runs([experiment_id], max_results=MAX_RESULTS,
                              filter_string=f"{_status_is('RUNNING')} and tags.{Tag.OWNER_HOST} = {_quoted(host)}")


def children_with_status(client, experiment_id: str, parent_run_id: str, status: str) -> list:
    return client.search_runs([experiment_id], max_results=MAX_RESULTS,
                              filter_string=f"{_children_of(parent_run_id)} and {_status_is(status)}")


def end_run(client, run_id: str, status: str, reason: str) -> None:
    """End a run this process does not own with `status`, the reason in its `error` tag."""
    client.set_tag(run_id, Tag.ERROR, reason)
    client.set_terminated(run_id, status)


# -- frames for the summary ------------------------------------------------------------------
def _search_frame(uri: str, experiment_id: str, filter_string: str):
    import mlflow

    previous = mlflow.get_tracking_uri()  # search_runs has no URI argument: set it, then put it back
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(experiment_ids=[experiment_id], filter_string=filter_string,
                                  max_results=100_000)
    finally:
        mlflow.set_tracking_uri(previous)


def experiment_frame(uri: str, experiment_id: str):
    """Every run of the experiment, as search_runs' DataFrame."""
    return _search_frame(uri, experiment_id, "")


def children_frame(uri: str, experiment_id: str, parent_run_id: str):
    """The parent's child runs, as search_runs' DataFrame."""
    return _search_frame(uri, experiment_id, _children_of(parent_run_id))


def runs_frame_by_id(uri: str, experiment_id: str, run_ids: list[str]):
    """These runs, as search_runs' DataFrame (the ids are sent a hundred at a time)."""
    import pandas as pd

    frames = [_search_frame(uri, experiment_id, "attributes.run_id IN ({})".format(
        ", ".join(_quoted(r) for r in run_ids[i : i + IDS_PER_FILTER]))) for i in range(0, len(run_ids), IDS_PER_FILTER)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def experiment_id_of(client, experiment: str | None = None, run_id: str | None = None) -> str | None:
    """The id of the named experiment, or of the experiment holding `run_id`; None when not found."""
    from mlflow.exceptions import MlflowException

    if experiment:
        found = client.get_experiment_by_name(experiment)
        return found.experiment_id if found is not None else None
    try:
        return client.get_run(run_id).info.experiment_id
    except MlflowException:
        return None


def metric_history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def read_artifact(client, run_id: str, artifact_uri: str, path: str, read, missing_ok: bool = True):
    """`read(local path)` of one artifact: in place from a local artifact store (no copy: MLflow's
    download costs ~15 ms a file), else downloaded. None when the run has no such artifact or it
    cannot be read, unless `missing_ok` is false: then the error is raised."""
    from mlflow.exceptions import MlflowException

    try:
        if artifact_uri.startswith("file:"):
            return read(Path(unquote(urlparse(artifact_uri).path)) / path)
        with tempfile.TemporaryDirectory() as tmp:
            return read(client.download_artifacts(run_id, path, tmp))
    except (MlflowException, OSError):
        if missing_ok:
            return None
        raise


def profile_path() -> str:
    return f"{Artifact.DIAGNOSTICS_DIR}/{Artifact.PROFILE_CSV}"


def summarised_run_ids(client, parent_run_id: str) -> list[str]:
    """The run ids in a sweep parent's summary/runs.csv (reused runs of earlier sweeps included).
    Raises MlflowException or OSError when the file cannot be read (missing, or the server failed)."""
    import pandas as pd

    run = client.get_run(parent_run_id)
    ids = read_artifact(client, parent_run_id, run.info.artifact_uri, f"{Artifact.SUMMARY_DIR}/{Artifact.RUNS_CSV}",
                        lambda p: pd.read_csv(p, usecols=["run_id"]), missing_ok=False)
    return [str(r) for r in ids["run_id"].dropna()]
