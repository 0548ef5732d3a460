"""`python -m suite.summary --runs docs/<sweep>/runs.csv`: a committed sweep's summary from its runs alone."""
from __future__ import annotations

import shlex
import shutil

import pandas as pd
import pytest

from suite.summary import __main__ as cli
from suite.summary.from_csv import summarise_csv
from tests.conftest import ROOT
from tests.verdicts import assert_printed_verdicts_are_the_runs

COMMITTED = sorted(p.parent.name for p in (ROOT / "docs").glob("*/runs.csv"))


def test_the_default_sweeps_summary_from_its_runs_csv_states_its_verdicts(tmp_path, capsys):
    out = tmp_path / "default_sweep"
    assert cli.main(["--runs", str(ROOT / "docs" / "default_sweep" / "runs.csv"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert_printed_verdicts_are_the_runs(printed, ROOT / "docs" / "default_sweep" / "runs.csv")
    assert {"summary.md", "summary.csv", "runs.csv", "horizons.csv", "success.png"} <= {p.name for p in out.iterdir()}
    # the rows written back are the rows read: a summary from runs.csv can be regenerated in place
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), pd.read_csv(ROOT / "docs" / "default_sweep" / "runs.csv"))


def test_docs_command_regenerates_in_place_keeping_the_store_figures_and_every_column(tmp_path):
    """The command of docs/sweeps.md, on a copy of docs/fair_budget."""
    page = (ROOT / "docs" / "sweeps.md").read_text(encoding="utf-8")
    command = next(line for line in page.splitlines() if line.startswith("python -m suite.summary --runs "))
    folder = tmp_path / "docs" / "fair_budget"
    shutil.copytree(ROOT / "docs" / "fair_budget", folder)
    (folder / "curves.png").write_bytes(b"drawn from the store's metric histories")
    before = pd.read_csv(folder / "runs.csv")
    args = [str(tmp_path / a) if a.startswith("docs/") else a for a in shlex.split(command)[3:]]
    assert args == ["--runs", str(folder / "runs.csv"), "--out", str(folder)]
    assert cli.main(args) == 0
    assert (folder / "curves.png").read_bytes() == b"drawn from the store's metric histories"
    pd.testing.assert_frame_equal(pd.read_csv(folder / "runs.csv"), before)  # its lr column too
    assert "## Learning time" in (folder / "summary.md").read_text(encoding="utf-8")


@pytest.mark.slow  # a learning-time fit per group of every committed sweep: ~30 s of CPU
@pytest.mark.parametrize("folder", COMMITTED)
def test_every_committed_sweep_summarises_from_its_runs_csv(folder):
    runs, text = summarise_csv(ROOT / "docs" / folder / "runs.csv")
    assert len(runs) == len(pd.read_csv(ROOT / "docs" / folder / "runs.csv"))
    for task in runs["task"].unique():
        assert f"\n- {task}: " in text or f"\n{task}: " in text, (folder, task)


def test_a_file_that_is_not_a_runs_csv_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["--runs", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nope.csv'}: no such file"
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    assert cli.main(["--runs", str(other), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {other}: not a summary's runs.csv (no task, cell, seq_len, seed, outcome column)"
    assert not (tmp_path / "x").exists()


def test_runs_and_a_store_are_one_or_the_other(tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--runs", "x.csv", "--experiment", "e"])
    with pytest.raises(SystemExit):
        cli.main([])


# -- what the README quotes of a committed sweep, recomputed from its runs ---------------------
# (README fragment, the sweep whose runs.csv gives it, a fragment of that sweep's summary lines that must hold it)
README_QUOTES = [
    ("the RNN's grows ×11 [2.2, 110]", "default_sweep", "memory rnn h=64 (12 runs, 5 not solved within their budget): ×11 [2.2, 110] per doubling of d"),
    ("the LSTM's ×1.7 [1.5, 2.0]", "default_sweep", "memory lstm h=64 (12 runs, 0 not solved within their budget): ×1.7 [1.5, 2.0] per doubling of d"),
    ("the GRU's ×1.8 [1.4, 3.0]", "default_sweep", "memory gru h=64 (12 runs, 0 not solved within their budget): ×1.8 [1.4, 3.0] per doubling of d"),
    ("faster than the LSTM's (P = 0.99) and the GRU's\n  (P = 0.98)", "default_sweep",
     "memory h=64: rnn's learning time grows faster with the lag than that of lstm (P = 0.99), gru (P = 0.98)"),
]


@pytest.mark.parametrize("quoted, folder, recomputed", README_QUOTES, ids=[q[0][:30] for q in README_QUOTES])
def test_the_readmes_learning_time_figures_are_those_of_the_committed_runs(quoted, folder, recomputed):
    """Each figure is in the README as quoted and in the summary recomputed from the sweep's runs.csv: a flipped
    run outcome moves the fit and fails this."""
    from suite.summary.learning import learning_lines

    assert quoted in (ROOT / "README.md").read_text(encoding="utf-8"), quoted
    lines = learning_lines(pd.read_csv(ROOT / "docs" / folder / "runs.csv"))
    assert any(recomputed in line for line in lines), (recomputed, lines)
