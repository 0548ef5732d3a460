"""The site as a reader sees it: Results and the summaries' pages of the built site (`mkdocs build --strict`),
rendered by headless Chromium (Debian's `chromium`; .ci/run installs it) in a 1,280 px wide window. Nothing may be
wider than the page (document.scrollWidth) or scroll sideways inside it (a table or code block whose content is
wider than its box). Screenshots of what it rendered: set SITE_SCREENSHOTS=DIR to keep them there (else they stay
in the test's folder)."""
from __future__ import annotations

import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)"),
              pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason='needs the [docs] extra (pip install -e ".[docs]")')]

WIDTH = 1280
# Results, and the summaries with the widest tables: many cells side by side (the leaderboard's eight, fair_lr's
# fifteen variants), the default sweep's as the common case
PAGES = ["results", "default_sweep/summary", "leaderboard_small/summary", "fair_lr/summary"]

# Run by the page once it has laid out: what is wider than the window, and what scrolls sideways inside the article
PROBE = """<script>window.addEventListener('load', () => setTimeout(() => {
  const wide = [];
  for (const el of document.querySelectorAll('article *')) {
    const x = getComputedStyle(el).overflowX;
    if ((x === 'auto' || x === 'scroll') && el.scrollWidth > el.clientWidth + 1)
      wide.push(`${el.tagName.toLowerCase()} ${el.scrollWidth} px in ${el.clientWidth}: ${(el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 60)}`);
  }
  const out = document.createElement('pre'); out.id = 'width-probe';
  out.textContent = JSON.stringify({page: document.documentElement.scrollWidth, wide});
  document.body.appendChild(out);
}, 300));</script>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--window-size={WIDTH},1000", "--virtual-time-budget=10000", "--hide-scrollbars", *args,
                           page.as_uri()], capture_output=True, text=True, timeout=120, check=True)


def measured(page: Path) -> dict:
    """{'page': document.scrollWidth, 'wide': [what scrolls sideways]} of a built page, rendered."""
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = chromium(page, "--dump-dom").stdout
    found = re.search(r'<pre id="width-probe">(.*?)</pre>', dom, flags=re.S)
    assert found, f"{page}: the probe did not run"
    return json.loads(html.unescape(found[1]))


def test_nothing_is_wider_than_the_page_at_1280_px(site, tmp_path):
    shots = Path(os.environ.get("SITE_SCREENSHOTS") or tmp_path)
    shots = shots if shots.is_absolute() else ROOT / shots
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    for name in PAGES:
        page = site / name / "index.html"
        chromium(page, f"--screenshot={shots / (name.replace('/', '_') + '.png')}")
        found = measured(page)
        if found["page"] > WIDTH:
            problems.append(f"{name}: the page is {found['page']} px wide")
        problems += [f"{name}: {what}" for what in found["wide"]]
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_table_and_a_code_line_too_wide(site):
    """The probe itself: a page given a 30-column table is flagged, so a check that never finds anything would fail
    here."""
    page = site / "getting-started" / "index.html"
    row = "".join(f"<td>column {i} of thirty</td>" for i in range(30))
    wide = f'<div class="md-typeset__scrollwrap"><div class="md-typeset__table"><table><tr>{row}</tr></table></div></div>'
    text = page.read_text(encoding="utf-8")
    page.write_text(text.replace("</article>", wide + "</article>", 1), encoding="utf-8")
    found = measured(page)
    assert any("column 29 of thirty" in what or "column 0 of thirty" in what for what in found["wide"]), found
