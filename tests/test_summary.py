"""suite.summary: tables, horizons and verdicts from hand-built search_runs frames, files, and a real store."""
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from suite.summary import __main__ as cli
from suite.summary import analysis, document, plots, render, from_store
from suite.summary import frame as frames  # `frame` is the fixture below
from suite.summary.lags import lags_line
from tests.conftest import ROOT
from tests.verdicts import assert_printed_verdicts_are_the_runs

METRIC = {"memory": "accuracy", "adding": "mse", "copy": "recall_accuracy"}
BASELINE = {"memory": math.log(8), "adding": 1 / 6}


def run(task, cell, lag, seed, outcome, hidden=64, loss=None, status="FINISHED", error=None, start=0):
    """One row shaped like mlflow.search_runs' output. outcome None: a crash (no outcome tag)."""
    loss = loss if loss is not None else {"solved": 0.01, "failed": 0.99, "diverged": math.nan}.get(outcome, 0.8)
    row = {
        "run_id": f"id-{task}-{cell}-{lag}-{hidden}-{seed}-{start}", "status": status,
        "start_time": pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(seconds=start),
        "tags.task": task, "tags.cell": cell, "tags.seq_len": str(lag), "tags.hidden": str(hidden),
        "tags.seed": str(seed), "tags.mlflow.runName": f"{cell}-{task}-T{lag}-h{hidden}-s{seed}",
        "params.baseline_loss": str(BASELINE.get(task, 10 * math.log(8) / (lag + 20))),
        "metrics.eval_loss_norm": loss, "metrics.solved": float(outcome == "solved"),
        "metrics.steps_trained": 300.0, f"metrics.eval_{METRIC.get(task, 'other')}": 1.0 - loss,
        "tags.task_metric": METRIC.get(task, "other"),
    }
    if outcome is not None:
        row["tags.outcome"] = outcome
    if outcome == "solved":
        row["metrics.steps_to_solve"] = 100.0 * (seed + 1)
    if error is not None:
        row["tags.error"] = error
    return row


def majority_part(lines: list[str]) -> list[str]:
    """Verdict lines without their T50 part (tested on its own): what the majority rule says lag by lag."""
    return [line.split(": ", 1)[0] + ": " + line.split("; by lag: ", 1)[1] if "; by lag: " in line else line
            for line in lines]


def outcomes(task, cell, lag, *results, **kw):
    return [run(task, cell, lag, seed, r, **kw) for seed, r in enumerate(results)]


OK3, NO3 = ("solved",) * 3, ("failed",) * 3


def sweep_rows():
    rows = []
    for lag in (20, 100, 200):
        rows += outcomes("memory", "rnn", lag, *(OK3 if lag == 20 else NO3))
        rows += outcomes("memory", "lstm", lag, *OK3)
    rows += outcomes("memory", "gru", 20, *OK3)
    rows += outcomes("memory", "gru", 100, "solved", "solved", "failed")
    rows += outcomes("memory", "gru", 200, "solved", "failed", "diverged")
    for lag in (5, 50):
        for cell in ("rnn", "lstm"):
            rows += outcomes("copy", cell, lag, *NO3)
    rows += outcomes("adding", "rnn", 20, *OK3) + outcomes("adding", "rnn", 50, *NO3)
    rows += outcomes("adding", "rnn", 100, "solved", "solved", "failed")
    for lag in (20, 50, 100):
        rows += outcomes("adding", "lstm", lag, *OK3[:2])
        rows.append(run("adding", "lstm", lag, 2, None, status="FAILED", error="RuntimeError: boom")
                    if lag == 100 else run("adding", "lstm", lag, 2, "solved"))
    rows.append(run("memory", "gru", 20, 3, None, status="RUNNING"))  # still training: ignored
    rows.append({"run_id": "parent", "status": "FINISHED", "tags.mlflow.runName": "sweep"})  # no suite tags
    return rows


@pytest.fixture
def frame():
    return pd.DataFrame(sweep_rows())


@pytest.fixture
def points(frame):
    return analysis.point_table(frames.runs_frame(frame))


def test_runs_frame_is_tidy(frame):
    runs = frames.runs_frame(frame)
    assert "parent" not in set(runs["run_id"]) and "RUNNING" not in set(runs["status"])
    assert len(runs) == len(frame) - 2
    assert runs["seq_len"].dtype.kind == runs["hidden"].dtype.kind == runs["seed"].dtype.kind == "i"
    crashed = runs[runs["outcome"] == "crashed"]
    assert list(crashed["error"]) == ["RuntimeError: boom"] and list(crashed["status"]) == ["FAILED"]
    assert set(runs["outcome"]) == {"solved", "failed", "diverged", "crashed"}
    mem = runs[runs["task"] == "memory"].iloc[0]
    assert mem["metric"] == pytest.approx(0.99) and mem["baseline_loss"] == pytest.approx(math.log(8))
    assert list(runs["cell"].unique()[:3]) == ["rnn", "lstm", "gru"]
    assert (runs["error"].fillna("") == runs["error"]).all()


def test_runs_frame_with_missing_columns_and_unknown_task():
    frame = pd.DataFrame([
        {"run_id": "a", "status": "FINISHED", "tags.task": "parity", "tags.cell": "rnn", "tags.seq_len": "10",
         "tags.hidden": "8", "tags.seed": "0", "tags.outcome": "failed"},
        {"run_id": "b", "status": "FINISHED", "tags.task": "memory_k16", "tags.cell": "lstm", "tags.seq_len": "10",
         "tags.hidden": "8", "tags.seed": "0", "tags.outcome": "solved", "metrics.eval_accuracy": 1.0,
         "tags.task_metric": "accuracy"},
        {"run_id": "c", "status": "KILLED", "tags.task": "parity", "tags.cell": "rnn", "tags.seq_len": "10",
         "tags.hidden": "8", "tags.seed": "1", "tags.outcome": "failed"},
    ])
    runs = frames.runs_frame(frame).set_index("run_id")
    assert math.isnan(runs.loc["a", "metric"]) and runs.loc["b", "metric"] == 1.0  # the run names its metric
    assert runs.loc["c", "outcome"] == "crashed" and runs.loc["a", "error"] == ""
    assert runs["loss_norm"].isna().all() and runs["baseline_loss"].isna().all()
    assert frames.runs_frame(pd.DataFrame()).empty and list(frames.runs_frame(None).columns) == frames.RUN_COLUMNS


def test_point_table_counts(points):
    p = points.set_index(["task", "seq_len", "hidden", "cell"])
    gru = p.loc[("memory", 200, 64, "gru")]
    assert (gru.n_seeds, gru.n_solved, gru.n_diverged, gru.n_crashed) == (3, 1, 1, 0)
    assert gru.loss_norm == pytest.approx(0.5) and gru.majority == "failed"  # (0.01 + 0.99) / 2; NaN left out
    assert p.loc[("memory", 20, 64, "gru")].n_seeds == 3  # the RUNNING seed is not counted
    lstm = p.loc[("adding", 100, 64, "lstm")]
    assert (lstm.n_seeds, lstm.n_solved, lstm.n_crashed, lstm.majority) == (3, 2, 1, "solved")
    assert p.loc[("memory", 20, 64, "rnn")].steps_to_solve == 200  # median of 100, 200, 300
    assert math.isnan(p.loc[("copy", 50, 64, "rnn")].steps_to_solve)
    assert p.loc[("memory", 20, 64, "rnn")].success == 1.0 and p.loc[("memory", 100, 64, "rnn")].success == 0.0


def test_a_rerun_replaces_the_older_run_of_its_seed():
    rows = outcomes("memory", "rnn", 20, "failed", "failed") + [run("memory", "rnn", 20, 1, "solved", start=60),
                                                               run("memory", "rnn", 20, 0, "solved", start=90)]
    p = analysis.point_table(frames.runs_frame(pd.DataFrame(rows))).iloc[0]
    assert (p.n_seeds, p.n_solved, p.n_runs) == (2, 2, 4)


def test_task_tables(points):
    tables = render.task_tables(points)
    assert list(tables) == ["adding", "copy", "memory"]
    mem = tables["memory"]
    assert list(mem.columns) == ["rnn", "lstm", "gru"] and list(mem.index.names) == ["seq_len", "hidden"]
    assert mem.loc[(20, 64), "rnn"] == "3/3 · 0.01"
    assert mem.loc[(100, 64), "rnn"] == "0/3 · 0.99"
    assert mem.loc[(200, 64), "gru"] == "1/3 · 0.50 (1 diverged)"
    assert tables["adding"].loc[(100, 64), "lstm"] == "2/3 · 0.01 (1 crashed)"
    assert render.baseline_text(mem.attrs["baseline_loss"]) == "baseline loss 2.079"
    assert render.baseline_text(tables["copy"].attrs["baseline_loss"]) == "baseline loss 0.832 at T=5, 0.297 at T=50"
    assert render.fmt_loss(0.0031) == "0.0031" and render.fmt_loss(1.0) == "1.00" and render.fmt_loss(math.nan) == "n/a"


def test_horizons(points):
    hz = analysis.horizons(points).set_index(["task", "cell", "hidden"])
    rnn, lstm, gru = (hz.loc[("memory", c, 64)] for c in ("rnn", "lstm", "gru"))
    assert (rnn.longest_solved, rnn.bracket, rnn.first_failed, rnn.lags_tried) == (20, "20–100", 100, [20, 100, 200])
    assert (rnn.bracket_ratio, rnn.solved_lower, rnn.solved_upper, rnn.monotone) == (5.0, "3/3", "0/3", True)
    assert (lstm.longest_solved, lstm.bracket, lstm.solved_lower) == (200, "≥ 200", "3/3")
    assert pd.isna(lstm.first_failed) and pd.isna(lstm.solved_upper) and math.isnan(lstm.bracket_ratio)
    assert (gru.bracket, gru.first_failed, gru.solved_upper) == ("100–200", 200, "1/3")
    copy = hz.loc[("copy", "rnn", 64)]
    assert copy.bracket == "< 5" and pd.isna(copy.longest_solved) and copy.first_failed == 5
    # a lag failed below a solved one: the bracket is the longest solved lag's, the failure is named
    mixed = hz.loc[("adding", "rnn", 64)]
    assert (mixed.bracket, mixed.monotone, mixed.not_solved_below) == ("≥ 100", False, [50])
    assert str(hz["longest_solved"].dtype) == "Int64"


def test_verdicts(points):
    assert majority_part(render.verdicts(points)) == [
        "adding: rnn mixed (solves T=20,100; fails T=50), lstm solves every lag tried (up to T=100, 2/3, 1 crashed)",
        "copy: every cell fails at every lag tried (T=5..50)",
        "memory: rnn solves up to T=20 (3/3) but fails from T=100 (0/3 solved), "
        "lstm solves every lag tried (up to T=200, 3/3), gru solves up to T=100 (2/3) but fails from T=200 (1/3 solved)",
    ]


def test_verdicts_all_solved_all_failed_and_no_majority():
    rows = []
    for cell in ("rnn", "lstm", "gru"):
        rows += outcomes("adding", cell, 10, *OK3) + outcomes("adding", cell, 30, *OK3)
    rows += outcomes("memory", "rnn", 50, *NO3) + outcomes("memory", "lstm", 50, "solved", "failed")
    rows += outcomes("memory", "gru", 50, "solved", None, "failed", status="FINISHED")
    rows += outcomes("memory", "rnn", 100, *NO3)
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(rows)))
    assert majority_part(render.verdicts(points)) == [
        "adding: every cell solves every lag tried (up to T=30)",
        "memory: rnn fails at every lag tried (from T=50, 0/3 solved), lstm has no majority at any lag tried (T=50), "
        "gru has no majority at any lag tried (T=50)",
    ]


def test_verdict_per_hidden_size_and_a_lone_cell():
    rows = outcomes("memory", "rnn", 50, *NO3, hidden=32) + outcomes("memory", "rnn", 50, *OK3, hidden=128)
    rows += outcomes("memory", "rnn", 20, *OK3, hidden=32) + outcomes("memory", "rnn", 20, *OK3, hidden=128)
    rows += outcomes("copy", "lstm", 10, *NO3)
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(rows)))
    assert majority_part(render.verdicts(points)) == [
        "copy: lstm fails at every lag tried (from T=10, 0/3 solved)",
        # 3/3 solved at T=20 and 0/3 at 50 (h=32) against 3/3 at both (h=128): not enough runs to order them
        "memory: rnn T50 T > 10 at h=32, T > 20 at h=128; the data do not separate the sizes (P(the larger size's "
        "T50 is longer) = 0.91)",
    ]


def test_a_no_majority_lag_between_is_reported_not_smoothed():
    rows = outcomes("memory", "rnn", 20, *OK3) + outcomes("memory", "rnn", 50, "solved", "failed")
    rows += outcomes("memory", "rnn", 100, *NO3)
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(rows)))
    assert majority_part(render.verdicts(points)) == ["memory: rnn mixed (solves T=20; fails T=100; no majority at T=50)"]


def test_markdown_and_text(frame, points):
    runs = frames.runs_frame(frame)
    md = document.render_markdown(points, runs)
    assert "- copy: horizon T50: " in md and "; by lag: every cell fails at every lag tried (T=5..50)" in md
    assert "## memory\n\nBaseline loss 2.079." in md and "\n### memory: horizons\n" in md
    assert "| seq_len | hidden | rnn" in md and "3/3 · 0.01" in md and "≥ 200" in md
    assert "| cell | hidden | T50 (T) | T50 (d) | runs | bracket |" in md  # the raw evidence is horizons.csv's
    assert "![" not in md  # no figure drawn, none shown
    drawn = document.render_markdown(points, runs, drawn={"success.png", "curves.png"})
    assert "## Verdicts\n\n![success rate against lag](success.png)\n\n- " in drawn
    assert drawn.rstrip().endswith("## Learning curves\n\nEach run's evaluation loss ÷ baseline over training.\n\n"
                                   "![learning curves](curves.png)")
    assert "`lstm-adding-T100-h64-s2` (crashed, FAILED): RuntimeError: boom" in md
    assert "`gru-memory-T200-h64-s2` (diverged)" in md
    text = document.format_text(points, runs)
    assert text.startswith("== Sweep summary") and "by lag: rnn solves up to T=20 (3/3)" in text
    assert "\n-- Verdicts\n\n- " in text and "Learning curves" not in text and ".png" not in text
    assert "\n-- Verdicts\n\n(success.png)\n\n- " in document.format_text(points, runs, drawn={"success.png"})
    assert document.format_text(analysis.point_table(frames.runs_frame(None)),
                              frames.runs_frame(None)).strip().endswith("No finished runs.")


def test_a_wide_cell_table_is_cut_into_tables_a_page_shows_whole():
    """Eight cells at their matched sizes, as the leaderboard's: cut into tables of a few cells each, every line at
    most WIDEST_TABLE characters, each with the lags, every cell in one of them, in order."""
    cells = [f"cell{i} h={100 + i}" for i in range(8)]
    table = pd.DataFrame({c: ["3/3 · 0.055 · ∇10^-0.3"] * 3 for c in cells}, index=pd.Index([10, 30, 90], name="seq_len"))
    tables = document.narrow_tables(table)
    assert len(tables) > 1 and all(len(line) <= document.WIDEST_TABLE for t in tables for line in t.splitlines())
    heads = [t.splitlines()[0] for t in tables]
    assert all(h.startswith("| seq_len |") for h in heads) and all(t.count("\n| 90 ") == 1 for t in tables)
    assert [c for h in heads for c in cells if f" {c} " in h] == cells
    assert document.narrow_tables(table[cells[:2]]) == [render.markdown_table(table[cells[:2]])]


def test_markdown_table_escapes_pipes():
    table = render.markdown_table(pd.DataFrame({"a": ["x|y"], "b": [np.nan]}), index=False)
    assert table.splitlines() == ["| a    | b |", "|------|---|", "| x\\|y | – |"]


def test_write_summary_and_plots(frame, tmp_path):
    runs = frames.runs_frame(frame)
    histories = {name: [(100, 1.0), (200, 0.1), (300, 0.01)] for name in runs["run_name"][:4]}
    histories["gru-memory-T200-h64-s2"] = [(100, 1.0), (200, math.nan)]
    paths = from_store.write_summary(frame, tmp_path / "out", histories)
    assert set(paths) == {"summary.csv", "runs.csv", "horizons.csv", "summary.md", "success.png", "curves.png",
                          "learning_time.png"}
    for path in paths.values():
        assert path.exists() and path.stat().st_size > 0
    assert paths["success.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(paths["summary.csv"])
    assert len(summary) == len(analysis.point_table(runs)) and summary["n_crashed"].sum() == 1
    hz = pd.read_csv(paths["horizons.csv"])
    assert hz.loc[(hz.task == "memory") & (hz.cell == "rnn"), "lags_tried"].item() == "20,100,200"
    assert len(pd.read_csv(paths["runs.csv"])) == len(runs)
    assert plots.plot_success(analysis.point_table(runs.iloc[:0]), tmp_path / "empty.png").stat().st_size > 0


def test_representative_runs(frame):
    runs = frames.runs_frame(frame)
    reps = analysis.representative_runs(runs)
    picked = set(zip(reps["task"], reps["cell"], reps["seq_len"]))
    assert ("memory", "rnn", 200) in picked and ("memory", "rnn", 20) in picked  # longest tried, longest solved
    assert ("memory", "lstm", 200) in picked and len(reps) <= 12 and (reps["outcome"] != "crashed").all()
    assert len(analysis.representative_runs(runs, max_runs=3)) == 3


@pytest.mark.cli
def test_summarise_store_reads_only_the_children(tmp_path):
    """The store's reading in this process; then `python -m suite.summary` as a real process (the CLI tier's one
    for that entry point: its exit status and what it prints)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("sweep-test", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(exp, run_name="sweep").info.run_id
    children = {}
    for cell, lag, outcome in [("rnn", 20, "solved"), ("rnn", 80, "failed"), ("lstm", 20, "solved"),
                               ("lstm", 80, "solved")]:
        name = f"{cell}-memory-T{lag}-h16-s0"
        tags = {"mlflow.parentRunId": parent, "task": "memory", "cell": cell, "seq_len": str(lag), "hidden": "16",
                "seed": "0", "task_metric": "accuracy"}
        rid = client.create_run(exp, run_name=name, tags=tags).info.run_id
        client.log_param(rid, "baseline_loss", math.log(8))
        for step, value in [(100, 0.9), (200, 0.02 if outcome == "solved" else 0.97)]:
            client.log_metric(rid, "eval_loss_norm", value, step=step)
        client.log_metric(rid, "eval_accuracy", 1.0 if outcome == "solved" else 0.13, step=200)
        client.set_tag(rid, "outcome", outcome)
        client.set_terminated(rid, "FINISHED")
        children[rid] = name
    stray = client.create_run(exp, run_name="gru-memory-T20-h16-s0",
                              tags={"task": "memory", "cell": "gru", "seq_len": "20", "hidden": "16", "seed": "0",
                                    "outcome": "solved"}).info.run_id
    client.set_terminated(stray, "FINISHED")
    client.log_metric(parent, "jobs_reused", 0)  # a finished sweep that reused nothing: no runs.csv needed
    client.set_terminated(parent, "FINISHED")

    runs, text = from_store.summarise_store(uri, parent_run_id=parent)
    assert set(runs["run_id"]) == set(children)
    assert "; by lag: rnn solves up to T=20 (1/1) but fails from T=80 (0/1 solved), " \
           "lstm solves every lag tried (up to T=80, 1/1)" in text
    runs, _ = from_store.summarise_store(uri, experiment="sweep-test")
    assert set(runs["run_id"]) == set(children) | {stray}  # the parent itself has no suite tags
    assert cli.main(["--experiment", "nope", "--tracking-uri", uri, "--out", str(tmp_path / "x")]) == 2

    out = tmp_path / "summary"
    proc = subprocess.run([sys.executable, "-m", "suite.summary", "--parent-run-id", parent, "--tracking-uri", uri,
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lstm solves every lag tried (up to T=80, 1/1)" in proc.stdout and "gru" not in proc.stdout
    assert {p.name for p in out.iterdir()} == {"summary.csv", "runs.csv", "horizons.csv", "summary.md",
                                              "success.png", "curves.png"}
    assert set(pd.read_csv(out / "runs.csv")["run_id"]) == set(children)


def test_a_summary_that_cannot_read_some_runs_says_so_or_stops(tmp_path, capsys):
    """A re-summary never leaves runs out silently: a parent whose runs.csv cannot be read (or lists runs
    the store no longer has) stops with the count and the reason, or with --allow-partial says so first."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    exp = client.create_experiment("sweep-test", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(exp, run_name="sweep").info.run_id
    tags = {"mlflow.parentRunId": parent, "task": "memory", "cell": "rnn", "seq_len": "20", "hidden": "16",
            "seed": "0", "task_metric": "accuracy", "outcome": "solved"}
    child = client.create_run(exp, run_name="rnn-memory-T20-h16-s0", tags=tags).info.run_id
    client.set_terminated(child, "FINISHED")
    client.log_metric(parent, "jobs_reused", 2)  # it reused 2 runs of earlier sweeps, but wrote no runs.csv
    client.set_terminated(parent, "FINISHED")
    with pytest.raises(from_store.SummaryError, match=r"runs.csv cannot be read .* its 2 reused run\(s\) are left out; "
                                                 r"1 child run\(s\) read"):
        from_store.summarise_store(uri, parent_run_id=parent)
    runs, text = from_store.summarise_store(uri, parent_run_id=parent, allow_partial=True)
    assert text.startswith("PARTIAL SUMMARY: the parent run's summary/runs.csv cannot be read") and len(runs) == 1
    # a runs.csv listing a run the store does not have (deleted): counted, named
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"run_id": [child, "0123456789abcdef"]}).to_csv(csv, index=False)
    client.log_artifact(parent, str(csv), "summary")
    with pytest.raises(from_store.SummaryError, match="1 of the 2 runs the parent's runs.csv lists are not in the store"):
        from_store.summarise_store(uri, parent_run_id=parent)
    capsys.readouterr()
    assert cli.main(["--parent-run-id", parent, "--tracking-uri", uri, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: 1 of the 2 runs") and "--allow-partial" in error and error.count("\n") == 1
    # `python -m suite.summary` is this main (its exit status is main's return: tests/test_summary.py's CLI test
    # runs it as a real process once); here in this process, what it prints with capsys
    status = cli.main(["--parent-run-id", parent, "--tracking-uri", uri, "--out", str(tmp_path / "out"),
                       "--allow-partial"])
    printed = capsys.readouterr()
    assert status == 0 and printed.out.startswith("PARTIAL SUMMARY: 1 of the 2 runs"), printed.err[-2000:]
    assert (tmp_path / "out" / "summary.md").read_text().startswith("PARTIAL SUMMARY")


def test_gradient_ratio_column_and_why_lines():
    rows = []
    for lag in (50, 200):
        for seed, ratio in enumerate((-6.0, -7.0, -8.0)):
            r = run("memory", "rnn", lag, seed, "solved" if lag == 50 else "failed")
            rows.append({**r, "metrics.grad_log10_ratio_first_eval": ratio})
            r = run("memory", "lstm", lag, seed, "solved")
            rows.append({**r, "metrics.grad_log10_ratio_first_eval": -0.5 * (seed + 1)})
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(rows)))
    # compared where the rnn starts failing, with the median over seeds
    assert analysis.gradient_points(points) == {"memory": (200, 64)}
    assert render.gradient_lines(points) == ["memory, T=200, h=64: rnn 10^-7.0, lstm 10^-1.0"]
    table = render.task_tables(points)["memory"]
    assert table.loc[(200, 64), "rnn"] == "0/3 · 0.99 · ∇10^-7.0"
    # runs without diagnostics: no column text, no why lines
    plain = analysis.point_table(frames.runs_frame(pd.DataFrame([run("memory", "rnn", 50, 0, "solved")])))
    assert render.gradient_lines(plain) == [] and "∇" not in render.task_tables(plain)["memory"].iloc[0, 0]


# -- horizons across hidden sizes (a horizon search's summary) ------------------------------
def search_rows(edges: dict[tuple[str, int], float], lags=(10, 30, 52, 90, 200), odd=(), seeds=3) -> list[dict]:
    """Runs of a horizon search: a cell at a size solves (every seed) below its edge, fails from it;
    `odd` lists (cell, hidden, lag) points that fail anyway (non-monotone)."""
    rows = []
    for (cell, hidden), edge in edges.items():
        for lag in lags:
            ok = lag < edge and (cell, hidden, lag) not in odd
            rows += outcomes("memory", cell, lag, *(("solved" if ok else "failed",) * seeds), hidden=hidden)
    return rows


def test_size_verdicts_claim_a_trend_only_where_the_runs_separate_the_sizes():
    """'shrinks with size' only at a posterior probability >= 0.95 for every step, printed with it; else the
    data do not separate the sizes (3 seeds a lag at edges 40, 60, 100 do not)."""
    clear = {("rnn", 32): 150, ("rnn", 64): 40, ("rnn", 128): 20}  # 10 seeds a lag: far apart
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(search_rows(clear, seeds=10))))
    [line] = render.verdicts(points)
    assert line.startswith("memory: rnn's horizon shrinks with size (P = 1.00, ") and "T50 T 1" in line
    (verdict,) = analysis.size_verdicts(points)["memory"]
    assert verdict.trend == "shrinks" and all(p <= 0.05 for p in verdict.p_up)
    close = {("rnn", 32): 40, ("rnn", 64): 60, ("rnn", 128): 100, ("lstm", 32): 1e9, ("lstm", 64): 1e9,
             ("lstm", 128): 1e9}
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(search_rows(close, odd={("rnn", 64, 30)}))))
    [line] = render.verdicts(points)
    rnn, lstm = line.removeprefix("memory: ").split("; lstm")
    assert "the data do not separate the sizes (P(the larger size's T50 is longer) = " in rnn
    assert lstm == " T50 T > 90 at every size (h=32,64,128)"  # 3/3 to 200 supports > 90, not > 200


def test_a_search_summary_draws_horizon_against_size(tmp_path):
    edges = {("rnn", 32): 40, ("rnn", 64): 60, ("lstm", 32): 1e9, ("lstm", 64): 1e9, ("gru", 32): 5, ("gru", 64): 5}
    paths = from_store.write_summary(pd.DataFrame(search_rows(edges)), tmp_path)
    assert paths["horizons.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hz = pd.read_csv(paths["horizons.csv"]).set_index(["cell", "hidden"])
    assert list(hz["bracket"]) == ["30–52", "≥ 200", "< 10", "52–90", "≥ 200", "< 10"]
    assert (hz.loc[("rnn", 32), "solved_lower"], hz.loc[("rnn", 32), "solved_upper"]) == ("3/3", "0/3")
    # one hidden size: no such figure, and none left over from the earlier summary in the same folder
    assert "horizons.png" not in from_store.write_summary(pd.DataFrame(search_rows({("rnn", 64): 60})), tmp_path)
    assert not (tmp_path / "horizons.png").exists()


def test_embed_in_a_named_block_of_a_page(tmp_path):
    """The block is rewritten in place with the summary's Markdown, never fenced: its headings one level below the
    page's heading above the block, its figures linked relative to the page (docs/results.md links
    horizon/horizons.png), as MkDocs and a forge both resolve them."""
    page = tmp_path / "docs" / "results.md"
    (tmp_path / "docs" / "horizon").mkdir(parents=True)
    page.write_text("# Results\n\n## The search\n\nintro\n<!-- horizon:start -->\nold\n<!-- horizon:end -->\nrest\n",
                    encoding="utf-8")
    summary = "# Sweep summary\n\n2 runs.\n\n## Verdicts\n\n![horizon against hidden size](horizons.png)\n\n- memory: x\n"
    cli.embed_in_page(page, summary, tmp_path / "docs" / "horizon", "horizon")
    assert page.read_text(encoding="utf-8") == (
        "# Results\n\n## The search\n\nintro\n<!-- horizon:start -->\n### Sweep summary\n\n2 runs.\n\n#### Verdicts\n\n"
        "![horizon against hidden size](horizon/horizons.png)\n\n- memory: x\n<!-- horizon:end -->\nrest\n")
    with pytest.raises(from_store.SummaryError, match="no <!-- summary:start -->"):
        cli.embed_in_page(page, "x", tmp_path)


def test_into_and_its_older_name_readme_are_one_flag():
    """--into names the page; --readme, the flag's name from when the blocks lived in the README, still works."""
    for flag in ("--into", "--readme"):
        args = cli.build_parser().parse_args(["--experiment", "x", flag, "docs/results.md", "--block", "horizon"])
        assert (args.into, args.block) == ("docs/results.md", "horizon")


def test_the_result_blocks_state_the_verdicts_of_their_runs():
    """Each result block of docs/results.md prints the verdicts that the summary's functions conclude from the
    committed runs of its sweep (docs/<folder>/runs.csv), and links that sweep's figure (relative to the page)."""
    page = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for block, folder in (("summary", "default_sweep"), ("horizon", "horizon")):
        printed = page.split(f"<!-- {block}:start -->", 1)[1].split(f"<!-- {block}:end -->", 1)[0]
        assert_printed_verdicts_are_the_runs(printed, ROOT / "docs" / folder / "runs.csv")
        assert f"]({folder}/" in printed


def test_a_swept_knob_makes_variants_and_a_null_one_reads_null():
    """The recipe axis: `cell.forget_bias=null,chrono` gives two groups; null is not logged as a param."""
    rows = []
    for lag, chrono, naive in ((10, OK3, OK3), (30, OK3, NO3), (90, OK3, NO3)):
        rows += [{**r, "params.cell.forget_bias": "chrono"} for r in outcomes("memory", "lstm", lag, *chrono)]
        rows += outcomes("memory", "lstm", lag, *naive)  # forget_bias=null: no such param
    runs = frames.runs_frame(pd.DataFrame(rows))
    hz = analysis.horizons(analysis.point_table(runs)).set_index("cell")["bracket"].to_dict()
    assert hz == {"lstm (cell.forget_bias=chrono)": "≥ 90", "lstm (cell.forget_bias=null)": "10–30"}


def with_lag(rows, offset=-1.0, spread=0.0):
    """The rows as a task that declares its lag (tasks.base.Lag) logs it: d = T + offset, ± spread."""
    return [{**r, "params.lag_mean": str(int(r["tags.seq_len"]) + offset),
             "params.lag_min": str(int(r["tags.seq_len"]) + offset - spread),
             "params.lag_max": str(int(r["tags.seq_len"]) + offset + spread)} if "tags.seq_len" in r else r
            for r in rows]


def test_verdicts_state_lags_as_the_distance_the_information_travels():
    rows = with_lag(outcomes("memory", "rnn", 20, *OK3) + outcomes("memory", "rnn", 100, *NO3)
                    + outcomes("memory", "rnn", 200, "solved", "failed", "failed"))  # memory: d = T - 1
    rows += with_lag(outcomes("adding", "rnn", 20, *OK3) + outcomes("adding", "rnn", 50, *NO3),
                     offset=-5.25, spread=4.75)  # a distance that varies within the task's sequences
    rows += outcomes("mine", "rnn", 20, *OK3)  # a task that declares no lag: stated in T
    points = analysis.point_table(frames.runs_frame(pd.DataFrame(rows)))
    assert majority_part(render.verdicts(points)) == [
        "adding: rnn solves up to d=14.8 (3/3) but fails from d=44.8 (0/3 solved)",
        "memory: rnn solves up to d=19 (3/3) but fails from d=99 (0/3 solved; solved above it: 1/3 at d=199)",
        "mine: rnn solves every lag tried (up to T=20, 3/3)"]
    line = lags_line(points)
    assert "memory d = T−1" in line and "adding d = the mean over sequences, e.g. 40–49.5 (mean 44.8) at T=50" in line
    assert "mine declare no distance: T" in line
    hz = analysis.horizons(points).set_index("task")
    assert (hz.loc["memory", "bracket"], hz.loc["memory", "bracket_d"]) == ("20–100", "19–99")
    assert pd.isna(hz.loc["mine", "horizon_d"])
    assert render.gradient_lines(points) == []  # no gradients measured: no why line
    md = document.render_markdown(points, frames.runs_frame(pd.DataFrame(rows)))
    assert line in md and "- memory: horizon T50: rnn d " in md and "; by lag: rnn solves up to d=19" in md


def test_an_unresolved_horizon_is_said_and_left_off_the_figure(tmp_path):
    rows = []
    for hidden in (32, 64):
        rows += outcomes("memory", "rnn", 10, *OK3, hidden=hidden) + outcomes("memory", "rnn", 30, *NO3, hidden=hidden)
        rows += [run("memory", "gru", lag, s, None, hidden=hidden, status="FAILED", error="OOM")
                 for lag in (10, 30) for s in range(3)]
    paths = from_store.write_summary(pd.DataFrame(rows), tmp_path)
    assert paths["horizons.png"].exists()
    hz = pd.read_csv(paths["horizons.csv"]).set_index(["cell", "hidden"])
    assert hz.loc[("gru", 32), "bracket"] == "unresolved" and hz.loc[("gru", 32), "solved_lower"] is np.nan
    assert hz.loc[("gru", 32), "horizon"] == "no finished runs" and hz.loc[("gru", 32), "runs"] == 0
    assert "gru: no seed finished at any lag tried (h=32,64; see crashed runs)" in (tmp_path / "summary.md").read_text()


def test_code_versions_are_counted_within_a_task_and_cell():
    """Each task's module is in its runs' fingerprint: tasks differ by design, a task's own runs should not."""
    rows = [{**r, "tags.code_hash": "a"} for r in outcomes("memory", "rnn", 20, *OK3)]
    rows += [{**r, "tags.code_hash": "b"} for r in outcomes("adding", "rnn", 20, *OK3)]
    runs = frames.runs_frame(pd.DataFrame(rows))
    assert document.code_versions_text(runs) == ""
    rows += [{**r, "tags.code_hash": "c", "start_time": r["start_time"] + pd.Timedelta(hours=1)}
             for r in outcomes("memory", "rnn", 50, *OK3)]
    text = document.code_versions_text(frames.runs_frame(pd.DataFrame(rows)))
    assert "different versions of the code (memory rnn: 2 versions)" in text


def test_the_parent_run_gets_each_groups_t50_as_metrics_the_runs_table_can_show():
    rows = outcomes("memory", "rnn", 10, *OK3 * 3) + outcomes("memory", "rnn", 30, *NO3 * 3)
    rows += outcomes("memory", "rnn", 90, *NO3 * 3)
    rows += [{**r, "params.cell.forget_bias": "chrono"} for r in outcomes("memory", "lstm", 10, *OK3)]
    rows += outcomes("memory", "lstm", 10, *OK3)  # forget_bias=null: a variant
    hz = analysis.horizons(analysis.point_table(frames.runs_frame(pd.DataFrame(rows)))).set_index("cell")
    metrics = from_store.t50_metrics(hz.reset_index())
    rnn = hz.loc["rnn"]
    assert metrics["t50/memory/rnn/h64"] == rnn.t50 and metrics["t50_hi/memory/rnn/h64"] == rnn.t50_hi
    assert metrics["t50_lo/memory/rnn/h64"] == rnn.t50_lo and 10 <= rnn.t50_lo < rnn.t50 < rnn.t50_hi <= 30
    # an open claim ('> 5.6'): its median (the prior's, out there) and its open end are not sent
    assert "t50_lo/memory/lstm _cell.forget_bias_chrono_/h64" in metrics
    assert not any(k.startswith(("t50_hi/memory/lstm", "t50/memory/lstm")) for k in metrics)
    from mlflow.utils.validation import _validate_metric_name

    for name in metrics:
        _validate_metric_name(name)


def test_an_order_not_claimed_never_reads_as_claimed():
    """P(lstm beyond) = 0.9497 is short of the 0.95 a claim needs: printed 0.95 beside 'the data do not separate'
    (as the default sweep's memory verdict once was) it reads as a contradiction, so it prints 0.94; a claimed
    order prints as rounded."""
    from suite.summary.estimates import order_text, p_shown

    assert order_text("lstm", "rnn", 0.9497) == "the data do not separate lstm from rnn (P(lstm beyond) = 0.94)"
    assert order_text("lstm", "rnn", 0.0503) == "the data do not separate lstm from rnn (P(lstm beyond) = 0.06)"
    assert order_text("lstm", "rnn", 0.9501) == "lstm beyond rnn (P = 0.95)"
    assert order_text("lstm", "rnn", 0.04) == "lstm short of rnn (P = 0.96)"
    assert [p_shown(p) for p in (0.5, 0.881, 0.996)] == [0.5, 0.88, 1.0]
