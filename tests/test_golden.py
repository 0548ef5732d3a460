"""Golden numerics: today's code gives every committed number of the golden runs (suite/reuse/golden)."""
import json

import pytest

import suite.reuse.golden
from suite.reuse.golden import committed, moved_since, relevant, versions_text
from suite.reuse.golden.runs import check, golden_runs, moved, options


def test_the_golden_runs_give_every_committed_number():
    moved_runs = check()
    assert not moved_runs, "\n".join(f"golden run {name}: {'; '.join(lines[:5])}" for name, lines in moved_runs.items())


def test_every_built_in_cell_and_task_has_a_golden_run():
    runs = golden_runs()
    assert {spec["cell"] for spec in runs.values()} == set(options("cell"))
    assert {spec["task"] for spec in runs.values()} == set(options("task"))
    assert set(runs) == set(committed())


def test_a_changed_solved_criterion_fails_the_golden_check_naming_the_run(monkeypatch):
    from tasks.base import Task

    # '>' for '>=': no trained number moves in these short runs, the criterion at its threshold does
    solved = Task.solved
    monkeypatch.setattr(Task, "solved", lambda self, metrics: metrics[self.metric] > self.solve_threshold
                        if self.higher_is_better else solved(self, metrics))
    found = check(["lstm-memory", "lstm-adding"])
    assert found["lstm-memory"] == ["criterion.accuracy=threshold: True -> False"]
    assert "lstm-adding" not in found  # adding's criterion (lower is better) is left as it was


def test_a_changed_training_constant_fails_naming_the_run_and_the_number(monkeypatch):
    import suite.training.loop

    monkeypatch.setattr(suite.training.loop, "AT_BASELINE", 2.0)  # the early stop at the baseline never fires
    found = check(["lstm-memory-stop_at_baseline"])["lstm-memory-stop_at_baseline"]
    assert "steps: 3 -> 6" in found


def test_moved_compares_numbers_within_float64_noise_and_everything_else_exactly():
    assert moved({"a": [1.0, 2.0]}, {"a": [1.0 + 1e-13, 2.0]}) == []
    assert moved({"a": [1.0, 2.0]}, {"a": [1.0 + 1e-6, 2.0]}) == [f"a[0]: 1.0 -> {1.0 + 1e-6!r}"]
    assert moved({"x": "solved"}, {"x": "failed"}) == ["x: 'solved' -> 'failed'"]
    assert moved({"x": 1}, {}) == ["x: 1 -> '(missing)'"]


def test_a_run_counts_as_moved_only_by_the_golden_runs_of_its_cell_or_task_that_it_was_trained_under(monkeypatch):
    import suite.reuse.golden as golden

    runs = {"lstm-memory": {"cell": "lstm", "task": "memory", "version": 1},
            "gru-memory": {"cell": "gru", "task": "memory", "version": 1},
            "lstm-adding": {"cell": "lstm", "task": "adding", "version": 1}}
    monkeypatch.setattr(golden, "committed", lambda: runs)
    assert relevant("gru", "memory") == {"gru-memory": 1, "lstm-memory": 1}
    tagged = versions_text("gru", "adding")
    assert tagged == "gru-memory=1 lstm-adding=1"
    runs["lstm-memory"]["version"] = 2  # neither gru's nor adding's
    assert moved_since(tagged, "gru", "adding") == []
    runs["gru-memory"]["version"] = 2
    assert moved_since(tagged, "gru", "adding") == ["gru-memory"]
    runs["gru-adding"] = {"cell": "gru", "task": "adding", "version": 1}  # a golden run added later moves nothing
    assert moved_since(versions_text("gru", "adding"), "gru", "adding") == []


def test_runs_from_before_golden_numerics_stand_for_the_first_versions(monkeypatch):
    import suite.reuse.golden as golden

    runs = {"lstm-memory": {"cell": "lstm", "task": "memory", "version": 1}}
    monkeypatch.setattr(golden, "committed", lambda: runs)
    assert moved_since(None, "lstm", "memory") == []
    runs["lstm-memory"]["version"] = 2
    assert moved_since(None, "lstm", "memory") == ["lstm-memory"]


def test_regenerating_bumps_the_version_of_the_runs_that_moved_only(tmp_path, monkeypatch):
    import suite.reuse.golden.__main__ as cli

    path = tmp_path / "numerics.json"
    stored = {"a-memory": {"cell": "a", "task": "memory", "version": 1, "numbers": {"loss": [1.0]}},
              "b-memory": {"cell": "b", "task": "memory", "version": 3, "numbers": {"loss": [2.0]}}}
    path.write_text(json.dumps({"runs": stored}))
    monkeypatch.setattr(cli, "GOLDEN_FILE", path)
    monkeypatch.setattr(cli, "committed", lambda: json.loads(path.read_text())["runs"])
    monkeypatch.setattr(cli, "golden_runs", lambda: {name: {**run, "overrides": [name]} for name, run in stored.items()}
                        | {"c-memory": {"cell": "c", "task": "memory", "overrides": ["c-memory"]}})
    now = {"a-memory": {"loss": [1.0]}, "b-memory": {"loss": [2.5]}, "c-memory": {"loss": [3.0]}}
    monkeypatch.setattr(cli, "train_golden", lambda overrides: now[overrides[0]])
    assert cli.regenerate() == ["b-memory", "c-memory"]
    written = json.loads(path.read_text())["runs"]
    assert {name: run["version"] for name, run in written.items()} == {"a-memory": 1, "b-memory": 4, "c-memory": 1}
    assert written["b-memory"]["numbers"] == {"loss": [2.5]}


@pytest.mark.cli
def test_the_golden_check_command_of_contributing_md_exits_0_when_nothing_moved():
    import shlex
    import subprocess
    import sys

    from tests.conftest import ROOT

    page = (ROOT / "docs/contributing.md").read_text()
    command = next(line.split("#")[0].split() for line in page.splitlines() if line.startswith("python -m suite.reuse.golden"))
    assert command == shlex.split("python -m suite.reuse.golden")
    proc = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("golden numerics: every number as committed")


def test_the_golden_file_is_found_beside_its_module():
    assert suite.reuse.golden.GOLDEN_FILE.exists()


def test_runs_tagged_with_a_digest_are_read_not_crashed_on(monkeypatch):
    """Runs stored before the tag held the versions themselves carry a digest of them (12 hex digits of the
    sha256 of the sorted [name, version] pairs). Reading one crashed every job of a resumed sweep whose code had
    changed (`int('')`); now the versions it stood for are found among today's golden runs, a run added since
    included, and a digest that matches none retrains, named, instead of crashing."""
    import hashlib
    import json

    import suite.reuse.golden as golden

    def digest(versions: dict[str, int]) -> str:
        return hashlib.sha256(json.dumps(sorted(versions.items())).encode()).hexdigest()[:12]

    runs = {"gru-memory": {"cell": "gru", "task": "memory", "version": 1},
            "lstm-adding": {"cell": "lstm", "task": "adding", "version": 1}}
    monkeypatch.setattr(golden, "committed", lambda: runs)
    then = digest({"gru-memory": 1, "lstm-adding": 1})
    assert moved_since(then, "gru", "adding") == []
    runs["gru-adding"] = {"cell": "gru", "task": "adding", "version": 1}  # added since: the digest still reads
    assert moved_since(then, "gru", "adding") == []
    runs["gru-memory"]["version"] = 2  # moved since: named
    assert moved_since(then, "gru", "adding") == ["gru-memory"]
    assert moved_since("0123456789ab", "gru", "adding") == ["unknown versions (golden digest 0123456789ab)"]
