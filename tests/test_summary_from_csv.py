"""`python -m suite.summary --runs docs/<sweep>/runs.csv`: a committed sweep's summary from its runs alone."""
from __future__ import annotations

import functools
import shlex
import shutil

import pandas as pd
import pytest

from suite.summary import __main__ as cli
from suite.summary.from_csv import summarise_csv
from tests.conftest import ROOT
from tests.verdicts import assert_printed_verdicts_are_the_runs

COMMITTED = sorted(p.parent.name for p in (ROOT / "docs").glob("*/runs.csv"))


@functools.lru_cache(maxsize=None)
def recomputed_summary(folder: str) -> str:
    return summarise_csv(ROOT / "docs" / folder / "runs.csv")[1]


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
    text = recomputed_summary(folder)  # shared with the README's figures below: one summary a sweep
    runs = pd.read_csv(ROOT / "docs" / folder / "runs.csv")
    assert any(line.startswith(f"{len(runs)} runs, ") for line in text.splitlines()), folder
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
# (what the README says, the sweep whose docs/<sweep>/runs.csv gives it, what the summary recomputed from that file
# must say). The summary's wording differs from the README's prose, so each pair names both.
README_QUOTES = [
    # the default sweep
    ("the tanh RNN's T50 is d 11 [4.4, 19]", "default_sweep", "adding: horizon T50: rnn d 11 [4.4, 19], lstm d > 37, gru d > 37"),
    ("both outlast the RNN (P = 1.00)", "default_sweep", "lstm beyond rnn (P = 1.00), gru beyond rnn (P = 1.00)"),
    ("lie above d=25, the gated cells' above 99", "default_sweep", "memory: horizon T50: rnn d > 25, lstm d > 99, gru d > 99"),
    ("separate the LSTM from the RNN (P = 0.88)", "default_sweep", "the data do not separate lstm from rnn (P(lstm beyond) = 0.88)"),
    ("the RNN's grows ×11 [2.2, 110]", "default_sweep", "memory rnn h=64 (12 runs, 5 not solved within their budget): ×11 [2.2, 110] per doubling of d"),
    ("the LSTM's ×1.7 [1.5, 2.0]", "default_sweep", "memory lstm h=64 (12 runs, 0 not solved within their budget): ×1.7 [1.5, 2.0] per doubling of d"),
    ("the GRU's ×1.8 [1.4, 3.0]", "default_sweep", "memory gru h=64 (12 runs, 0 not solved within their budget): ×1.8 [1.4, 3.0] per doubling of d"),
    ("faster than the LSTM's (P = 0.99) and the GRU's\n  (P = 0.98)", "default_sweep",
     "memory h=64: rnn's learning time grows faster with the lag than that of lstm (P = 0.99), gru (P = 0.98)"),
    ("×3.8 [1.9, 11], inside that interval", "horizon",
     "memory rnn h=64 (60 runs, 30 not solved within their budget): ×3.8 [1.9, 11] per doubling of d"),
    ("faster than the LSTM's (P = 0.98)", "horizon",
     "memory h=64: rnn's learning time grows faster with the lag than that of lstm (P = 0.98)"),
    # the horizon search, the rate and budget screens
    ("the RNN's T50\n  is d 63 [38, 106]", "horizon", "d 63 [38, 106] at h=64"),
    ('"The RNN\'s horizon shrinks with size" (38 [25, 50] at h=128 against 99 [64, 184] at\n  h=32, at 5e-3)', "horizon",
     "rnn T50 d 99 [64, 184] at h=32, d 63 [38, 106] at h=64, d 38 [25, 50] at h=128"),
    ("beyond its 500-update T50 of 118 [44, 174], P = 0.99", "fair_budget", "beyond train.steps=500's d 118 [44, 174] (P = 0.99)"),
    ("best rate the runs do not separate the LSTM from the RNN (P = 0.81 at 2,000 updates)", "fair_lr",
     "each cell at its best train.lr: the data do not separate lstm from rnn (P(lstm beyond) = 0.81)"),
    ("h=128 reaches furthest (> 199, beyond h=32's\n  129 [74, 199], P = 0.99)", "fair_lr_sizes",
     "T50 h=32 d 129 [74, 199] (at train.lr=0.002), h=64 d > 18 (at train.lr=0.001), h=128 d > 199"),
    ("129 [74, 199], P = 0.99)", "fair_lr_sizes", "h=128 beyond h=32 (P = 0.99)"),
    # the newer tasks
    ("the tanh RNN gives out at d 5.9 [4.8, 8]\n  (P = 1.00)", "horizon_selective_copy",
     "selective_copy: horizon T50: rnn d 5.9 [4.8, 8], lstm d > 102, gru d > 102; lstm beyond rnn (P = 1.00), gru beyond rnn (P = 1.00)"),
    ("(RNN 5.9 [2.5, 12], LSTM 8.3 [5.7, 12],\n  GRU 15 [8, 30]; GRU beyond RNN, P = 0.97)", "horizon_assoc_recall",
     "assoc_recall: horizon T50: rnn d 5.9 [2.5, 12], lstm d 8.3 [5.7, 12], gru d 15 [8, 30]; the data do not separate lstm from rnn (P(lstm beyond) = 0.89), gru beyond rnn (P = 0.97)"),
]


@pytest.mark.slow  # a summary, learning-time fits included, of seven committed sweeps: ~30 s of CPU
@pytest.mark.parametrize("quoted, folder, recomputed", README_QUOTES, ids=[q[0][:40] for q in README_QUOTES])
def test_what_the_readme_quotes_is_what_the_committed_runs_give(quoted, folder, recomputed):
    """Each figure is in the README as quoted and in the summary recomputed from the sweep's runs.csv: a flipped
    run outcome moves an interval or a probability and fails this, naming the figure."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert quoted in readme, f"README.md no longer says {quoted!r}"
    assert recomputed in recomputed_summary(folder), f"docs/{folder}/runs.csv no longer gives {recomputed!r}"


# the same for what docs/results.md quotes of a sweep first published there
RESULTS_QUOTES = [
    ("Solved of tried, by d: 99 2/3, 199 2/3,\n239 2/3, 332 1/3, 399 1/3, 575 1/3, 799 2/6", "rnn_limit",
     "rnn solves up to d=239 (2/3) but fails from d=332 (1/3 solved; solved above it: 1/3 at d=399, 1/3 at d=575, 2/6 at d=799)"),
    ("estimate stays open (d > 38)", "rnn_limit", "memory: horizon T50: rnn d > 38"),
    ("Learning time grows ×2.2 [1.4, 4.4] per doubling of d. T50(8,000)\n  comes out as d < 1,100 and "
     "T50(32,000) as d < 6,100", "rnn_limit",
     "×2.2 [1.4, 4.4] per doubling of d. The data pick the power law (p_power = 0.88; evidence: positive). "
     "T50 at B = 500, 2,000, 8,000, 32,000 updates: d < 130, d < 330, d < 1,100, d < 6,100"),
    ("predicted for 8,000 updates: T50(8,000) = d 310 [160, 520]", "fair_budget",
     "memory rnn (train.steps=2000) h=64 (24 runs, 10 not solved within their budget): ×4.1 [2.5, 8.1] per doubling "
     "of d. The data pick the power law (p_power = 0.90; evidence: positive). T50 at B = 500, 2,000, 8,000, 32,000 "
     "updates: d 92 [61, 130], d 170 [120, 220], d 310 [160, 520]"),
]


@pytest.mark.slow  # shares the cached summaries above
@pytest.mark.parametrize("quoted, folder, recomputed", RESULTS_QUOTES, ids=[q[0][:40] for q in RESULTS_QUOTES])
def test_what_results_quotes_is_what_the_committed_runs_give(quoted, folder, recomputed):
    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert quoted in results, f"docs/results.md no longer says {quoted!r}"
    assert recomputed in recomputed_summary(folder), f"docs/{folder}/runs.csv no longer gives {recomputed!r}"


def test_fair_budgets_8_of_9_is_its_runs():
    runs = pd.read_csv(ROOT / "docs" / "fair_budget" / "runs.csv")
    at = runs[(runs.cell == "rnn (train.steps=8000)") & (runs.seq_len == 200)]
    assert ((at.outcome == "solved").sum(), len(at)) == (8, 9)
    assert "1e-3) and 8,000 updates the RNN solves d=199 on\n  8 of 9 seeds" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert set(runs[runs.cell.str.startswith("rnn")]["lr"]) == {0.001}
