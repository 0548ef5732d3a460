"""`python -m suite.summary --runs docs/<sweep>/runs.csv`: a committed sweep's summary from its runs alone."""
from __future__ import annotations

import shlex
import shutil

import pandas as pd
import pytest

from suite.summary import __main__ as cli
from tests.conftest import ROOT
from tests.verdicts import assert_printed_verdicts_are_the_runs

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


def test_every_knob_that_varies_between_a_sweeps_runs_is_a_column():
    """A variant's knob is a column of runs.csv (the rate of fair_lr's and fair_lr_sizes' runs, the budget and the
    rate of fair_budget's), not only a part of the cell's label."""
    from suite.summary.frame import split_variant, with_knob_columns

    for folder, column, knob in [("fair_lr", "lr", "train.lr"), ("fair_lr_sizes", "lr", "train.lr"),
                                 ("fair_budget", "budget", "train.steps")]:
        runs = pd.read_csv(ROOT / "docs" / folder / "runs.csv")
        said = runs["cell"].map(lambda label: float(split_variant(label)[1][knob]))
        assert (runs[column] == said).all(), folder
    labelled = pd.DataFrame({"cell": ["lstm (cell.forget_bias=chrono, train.lr=0.01)", "lstm (cell.forget_bias=null)",
                                      "rnn"], "lr": [None, None, None]})
    written = with_knob_columns(labelled)
    assert list(written["cell.forget_bias"].fillna("")) == ["chrono", "null", ""]
    assert list(written["lr"].fillna(-1)) == [0.01, -1, -1]
    filled = labelled.assign(lr=[0.5, 0.5, 0.5])  # what the runs' own params say stays
    assert list(with_knob_columns(filled)["lr"]) == [0.5, 0.5, 0.5]
