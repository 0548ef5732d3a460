"""The MLflow UI as a person sees it: a smoke sweep's store served by `mlflow ui`, its pages rendered
by headless Chromium (Debian's `chromium`; .ci/run installs it). Asserts what the page shows after
the browser ran the UI's JavaScript, and saves the screenshots docs/mlflow-ui.md shows: set
UI_SCREENSHOTS=docs/ui to write them there (else they stay in the test's folder)."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, MlflowServer, children_and_parents, store_runs

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")]


class MlflowUI(MlflowServer):
    """`mlflow ui` on an existing store, exactly as the printed command starts it (on a free port)."""

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri", self.backend_uri,
                "--host", "127.0.0.1", "--port", str(self.port)]


def render(url: str, screenshot: Path | None = None, height: int = 1200) -> str:
    """The page's DOM after its scripts ran (and a screenshot of it, when asked: the same browser run)."""
    shot = [] if screenshot is None else [f"--screenshot={screenshot}"]
    if screenshot is not None:
        screenshot.unlink(missing_ok=True)  # so the check below sees this run's, not an older file
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          f"--window-size=1600,{height}", "--virtual-time-budget=25000", "--hide-scrollbars", *shot,
                          "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    assert screenshot is None or screenshot.stat().st_size > 0, screenshot
    return dom


def visible_text(dom: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))  # '&gt;' reads '>' on the page


def test_the_printed_links_open_the_runs_the_verdicts_and_a_runs_description(cli, tmp_path):
    proc = cli("-m", "experiment=smoke", "task=memory")
    assert proc.returncode == 0, proc.stderr[-3000:]
    links = dict(re.findall(r"^\s+(the sweep's runs|its verdicts):\s+(\S+)$", proc.stdout, flags=re.MULTILINE))
    assert f"browse: mlflow ui --backend-store-uri sqlite:///{tmp_path}/mlflow.db --host 127.0.0.1" in proc.stdout
    children, parents = children_and_parents(store_runs(tmp_path))
    parent = parents.iloc[0]
    child = children[(children["tags.cell"] == "rnn") & (children["tags.seq_len"] == "10")].iloc[0]
    shots = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path)
    if not shots.is_absolute():
        shots = ROOT / shots
    shots.mkdir(parents=True, exist_ok=True)

    ui = MlflowUI(tmp_path, backend_uri=f"sqlite:///{tmp_path}/mlflow.db").start()
    try:
        port = lambda url: url.replace("127.0.0.1:5000", f"127.0.0.1:{ui.port}")  # noqa: E731
        # (1) the sweep's link: the runs table ("Model training"), not the GenAI overview, narrowed to
        # this sweep: its parent row, the 6 children nested under it
        runs = visible_text(render(port(links["the sweep's runs"]), shots / "runs.png", height=700))
        assert "Run Name" in runs and "7 matching runs" in runs, runs[:3000]
        assert parent["tags.mlflow.runName"][:12] in runs
        # (2) the parent's page: the verdicts in its description, and the name says what was swept
        page = visible_text(render(port(links["its verdicts"]), shots / "parent.png", height=1500))
        assert "smoke: cell×sweep.rung, 6 jobs" in page
        printed = re.search(r"^- (memory: .*)$", proc.stdout, flags=re.MULTILINE).group(1)  # the sweep's verdict
        assert "Verdicts" in page and printed[:60] in page, (printed, page[:3000])
        # (3) a child's page: its one-line description, its data sets, the commit that made it
        child_url = port(links["its verdicts"]).replace(parent.run_id, child.run_id)
        page = visible_text(render(child_url, shots / "run.png", height=1300))
        assert f"rnn · memory · T=10: {child['tags.outcome']} after 6 steps, loss ÷ baseline" in page
        assert "memory-T10-s0-train" in page
    finally:
        ui.stop()
