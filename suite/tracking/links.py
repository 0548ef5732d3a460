"""Where to look at runs in the MLflow UI: the command that serves a local store, and the links.

MLflow 3's UI opens an experiment on its GenAI overview (traces, tokens: empty here); the
runs table is the "Model training" view, which `workflowType=machine_learning` in the URL
opens directly. A search filter in the URL narrows the table to one sweep.
"""
from __future__ import annotations

from urllib.parse import quote

from suite.privacy import redact
from suite.record import Tag
from suite.tracking.store import is_remote

UI_PORT = 5000  # `mlflow ui`'s default


def ui_command(uri: str) -> str | None:
    """The command that serves this store's UI on this machine; None when the store is a server
    (then the server is the UI)."""
    if is_remote(uri):
        return None
    return f"mlflow ui --backend-store-uri {redact(uri)} --host 127.0.0.1 --port {UI_PORT}"


def ui_base(uri: str) -> str:
    return redact(uri).rstrip("/") if is_remote(uri) else f"http://127.0.0.1:{UI_PORT}"


def runs_url(uri: str, experiment_id: str, parent_run_id: str | None = None) -> str:
    """The experiment's runs table ("Model training"), narrowed to one sweep's runs when given its parent."""
    url = f"{ui_base(uri)}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    if parent_run_id:
        url += "&searchFilter=" + quote(f"tags.{Tag.PARENT} = '{parent_run_id}'", safe="")
    return url


def run_url(uri: str, experiment_id: str, run_id: str) -> str:
    """One run's page (its Overview tab: description, params, metrics), in the "Model training" view."""
    return f"{ui_base(uri)}/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"


def browse_lines(uri: str, experiment_id: str, parent_run_id: str | None = None, run_id: str | None = None) -> list[str]:
    """What a sweep or a run prints at its end: how to open what it logged."""
    command = ui_command(uri)
    lines = [f"browse: {command}   (then open the link below)"] if command else []
    if parent_run_id:
        lines += [f"  the sweep's runs:  {runs_url(uri, experiment_id, parent_run_id)}",
                  f"  its verdicts:      {run_url(uri, experiment_id, parent_run_id)}"]
    if run_id:
        lines += [f"  the run:           {run_url(uri, experiment_id, run_id)}"]
    return lines
