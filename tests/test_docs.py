"""The docs cannot rot: the README and the pages of docs/ (getting-started.md ... contributing.md), checked.

- the README stays short, and its test command is .ci/run's last line, word for word;
- every fenced shell command is run by a test or marked as not run in CI, with its reason
  (tests/docs_commands.py says how each kind is run); a `python run.py ...` command's config is composed
  (`--cfg job`), a `pytest ...` command's tests are collected;
- `mkdocs build --strict` passes (slow; skipped where the [docs] extra is not installed);
- the generated blocks stay where the commands that write them look (docs/results.md, docs/performance.md, the
  README's leaderboard),
  and the performance table is what benchmarks/report.py makes of the committed CSVs;
- CITATION.cff agrees with pyproject.toml.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

from tests import docs_commands as dc
from tests.conftest import ROOT

BLOCKS = {  # marker name -> the page that holds it (the commands that rewrite them name that page)
    "summary": "docs/results.md",
    "horizon": "docs/results.md",
    "benchmarks": "docs/performance.md",
    "leaderboard": "README.md",  # the summary's Leaderboard section alone (--section Leaderboard)
}


def test_the_readme_is_short_and_its_test_command_is_what_ci_runs_last():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200
    assert dc.readme_test_command() == (
        'python3 -m venv .venv && . .venv/bin/activate && pip install -q torch==2.13.0 -e ".[dev]" && pytest')
    assert dc.ci_commands()[-1] == dc.readme_test_command()


def marked_problems(block: dc.Block) -> list[str]:
    """What is wrong with a block: nothing when it is marked as not run (with a reason) or run by a test that
    reads its page; otherwise each of its commands that no test runs."""
    if dc.NOT_RUN.match(block.marker):
        return []
    run_by = dc.RUN_BY.match(block.marker)
    if run_by:
        test = ROOT / run_by["test"]
        if test.exists() and block.page.name in test.read_text(encoding="utf-8"):
            return []
        return [f"{block.where()}: marked as run by {run_by['test']}, which does not read {block.page.name}"]
    return dc.unrun(block)


def test_every_shell_command_in_the_docs_is_run_by_a_test_or_marked():
    blocks = dc.shell_blocks()
    assert {b.page.name for b in blocks} >= {"README.md", "getting-started.md", "cluster.md"}
    problems = [p for block in blocks for p in marked_problems(block)]
    assert not problems, ("run each by a test, or mark its block on the line before the fence with "
                          "<!-- not run in CI: REASON -->:\n" + "\n".join(problems))


def test_an_unmarked_command_that_no_test_runs_fails_the_check(tmp_path):
    """The check itself: a page's shell block that neither runs nor is marked (or is marked without a reason) is
    named; a marked one, a run.py command and the README's set-up are not."""
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n```bash\nmlflow ui --port 5000\n```\n\n"
        "<!-- not run in CI: -->\n```sh\nnvidia-smi\n```\n\n"
        "<!-- not run in CI: needs a GPU -->\n```bash\npython run.py device=cuda && nvidia-smi\n```\n\n"
        "```console\n$ python run.py cell=rnn   # a run\nprinted output\n```\n\n"
        '- in a list:\n\n  ```bash\n  python3 -m venv .venv && . .venv/bin/activate && pip install -e ".[dev]"\n  ```\n',
        encoding="utf-8")
    blocks = dc.fenced_blocks(page)
    assert [b.language for b in blocks] == ["bash", "sh", "bash", "console", "bash"]
    problems = [p for block in blocks for p in marked_problems(block)]
    assert problems == [f"{page}:3: `mlflow ui --port 5000`: no test runs it",
                        f"{page}:8: `nvidia-smi`: no test runs it",
                        f"{page}:24: `python3 -m venv .venv && . .venv/bin/activate && pip install -e \".[dev]\"`: "
                        "a set-up step that .ci/run does not run"]


def docs_run_py_commands() -> list[list[str]]:
    """run.py's arguments in every unmarked shell block (marked ones are run by their own test, or not at all)."""
    return [args for block in dc.shell_blocks() if not (dc.NOT_RUN.match(block.marker) or dc.RUN_BY.match(block.marker))
            for command in dc.commands(block) for _, args in dc.run_py_args(command)]


def test_the_docs_run_py_commands_compose(monkeypatch):
    """Each `python run.py ...` of the docs, composed as run.py composes it (`--cfg job`, per swept value), through
    run.py's entry point in this process (tests/cfg_job.py); a command that cannot compose is there too, so a check
    that passes everything would fail."""
    import signal

    from tests import cfg_job

    commands = docs_run_py_commands()
    assert ["-m"] in commands and any("hydra/launcher=slurm" in c for c in commands)
    canary = ["cell=lstm", "hidden=abc"]
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # compose() sets it, and suite.cli.main SIGTERM's handler
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        results = [cfg_job.compose(argv) for args in [canary, *commands] for argv in cfg_job.jobs(args)]
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert results[0]["argv"][:2] == canary and results[0]["status"] != 0
    failed = [f"python run.py {' '.join(r['argv'])}: status {r['status']}: {r['error']}" for r in results[1:]
              if r["status"] != 0]
    assert not failed, "\n".join(failed)
    assert len(results) > len(commands)  # the sweeps' lists were composed value by value


# One process collects for every command (pytest.main again and again: the test modules are imported once).
COLLECT = """
import json, os, sys
import pytest

class Collected:
    items = None

    def pytest_collection_finish(self, session):
        self.items = len(session.items)

found = []
for env, args in json.loads(sys.argv[1]):
    before = dict(os.environ)
    os.environ.update(env)
    collected = Collected()
    status = pytest.main(["--collect-only", "-q", "-n0", *args], plugins=[collected])
    os.environ.clear()
    os.environ.update(before)
    found.append([int(status), collected.items])
print("COLLECTED " + json.dumps(found))
"""


@pytest.mark.slow
def test_the_docs_pytest_commands_collect():
    """Each `pytest ...` of the docs selects tests (`--collect-only`, -n0): its marker expression and paths are
    good."""
    commands = {}
    for block in dc.shell_blocks():
        if dc.NOT_RUN.match(block.marker):
            continue
        for command in dc.commands(block):
            for env, words in map(dc.split_env, command.parts):
                if words[:1] == ["pytest"]:
                    commands.setdefault(json.dumps([env, words[1:]]), f"{block.where()}: {command.line}")
    assert len(commands) >= 4
    proc = subprocess.run([sys.executable, "-c", COLLECT, f"[{', '.join(commands)}]"], cwd=ROOT, env=os.environ,
                          capture_output=True, text=True, timeout=300)
    found = json.loads(proc.stdout.rsplit("COLLECTED ", 1)[-1]) if "COLLECTED " in proc.stdout else []
    assert len(found) == len(commands), (proc.stdout[-2000:], proc.stderr[-2000:])
    bad = [f"{where}: status {status}, {items} tests" for where, (status, items) in zip(commands.values(), found)
           if status != 0 or not items]
    assert not bad, "\n".join(bad)


@pytest.mark.slow
def test_the_site_builds_with_strict_links(tmp_path):
    """`mkdocs build --strict` (docs/contributing.md): a broken link or anchor, or a page left out, fails."""
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e \".[docs]\" (.ci/run does) builds the site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    for page in ("index", "getting-started", "results", "contributing"):
        assert (tmp_path / "site" / ("index.html" if page == "index" else f"{page}/index.html")).exists()


def test_each_generated_block_is_in_its_page_once_and_nowhere_else():
    """The summary's and the benchmarks' blocks live where `--into` puts them; the README holds the leaderboard's only.
    In its own page a marker appears once, anywhere (the commands rewrite from its first mention); elsewhere
    it may be named in the text (docs/contributing.md does), but never stands on a line of its own."""
    for name, page in BLOCKS.items():
        markers = (f"<!-- {name}:start -->", f"<!-- {name}:end -->")
        for other in dc.pages():
            text = other.read_text(encoding="utf-8")
            if other == ROOT / page:
                assert [text.count(m) for m in markers] == [1, 1], (other, name)
            else:
                assert not set(markers) & {line.strip() for line in text.splitlines()}, (other, name)


def test_the_performance_table_is_what_report_makes_of_the_committed_csvs(monkeypatch, capsys):
    """docs/performance.md's table, made again from benchmarks/results/*.csv by benchmarks/report.py (without
    --into, so nothing is written): a benchmark re-run without the table rewritten fails here. The script runs in
    this process as `python benchmarks/report.py` runs it: as __main__, its folder first on sys.path."""
    import runpy

    script = ROOT / "benchmarks" / "report.py"
    before = set(sys.modules)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", [str(script)])
    monkeypatch.syspath_prepend(str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        assert exc.code in (None, 0), capsys.readouterr().err[-2000:]
    finally:
        for name in set(sys.modules) - before:  # the benchmarks' own modules (common, threads): not this suite's
            if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(script.parent)):
                del sys.modules[name]
    page = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    block = page.split("<!-- benchmarks:start -->\n", 1)[1].split("\n<!-- benchmarks:end -->", 1)[0]
    assert capsys.readouterr().out.strip() == block.strip()


def test_the_citation_and_the_licence_agree_with_pyproject():
    import yaml

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "(.+)"$', pyproject, flags=re.M)[1]
    assert re.search(r'^license = "MIT"$', pyproject, flags=re.M)
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    assert citation["version"] == version and citation["title"] and citation["abstract"]
    assert str(citation["date-released"]) == "2026-12-02" and citation["authors"]
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
