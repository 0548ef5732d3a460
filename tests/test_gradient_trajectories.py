"""The Why section over training (suite/summary/gradient_trajectories.py): each run's gradient ratio at every
diagnostics measurement, summarised per group with the seeds that solve and those that fail apart."""
import io
import re

import pandas as pd
import pytest
import torch

from suite.model.recurrent import build_model
from suite.record import Metric
from suite.summary import analysis, from_store
from suite.summary import frame as frames
from suite.summary import gradient_trajectories as gt
from suite.training.diagnostics import GradientDiagnostics
from tasks.memory import MemoryTask
from tests.conftest import TINY
from tests.test_summary import run


def profile(ratios: dict[int, float], length: int = 5) -> pd.DataFrame:
    """A profile (step, t, grad_norm) whose log10 ratio at each step is ratios[step]: ‖∂L/∂h_T‖ = 1, falling
    geometrically going back to t=1."""
    return pd.DataFrame([{"step": step, "t": t, "grad_norm": 10 ** (r * (length - t) / (length - 1))}
                         for step, r in ratios.items() for t in range(1, length + 1)])


def memory_runs(outcomes: dict[str, list[str]], lag: int = 200) -> pd.DataFrame:
    """Tidy runs of memory at one lag, h=64: outcomes[cell] lists each seed's."""
    return frames.runs_frame(pd.DataFrame([run("memory", cell, lag, seed, outcome)
                                           for cell, each in outcomes.items() for seed, outcome in enumerate(each)]))


def test_a_seed_whose_gradient_vanishes_and_fails_is_told_apart_from_one_that_solves():
    shapes = {"rnn": [{100: 0.0, 200: -5.0, 300: -12.0, 400: -20.0}, {100: 0.0, 200: -0.1, 300: -0.2}],
              "lstm": [{100: -0.2, 200: -0.5, 300: -0.3}] * 3}
    runs = memory_runs({"rnn": ["failed", "solved"], "lstm": ["solved"] * 3})
    trajectories = gt.run_trajectories(runs, {r.run_id: profile(shapes[r.cell][r.seed]) for r in runs.itertuples()})
    vanishing = trajectories[(trajectories["cell"] == "rnn") & (trajectories["seed"] == 0)]
    assert list(vanishing["log10_ratio"]) == pytest.approx([0, -5, -12, -20]) and not vanishing["solved"].any()
    summary = gt.trajectory_summary(trajectories).set_index(["cell", "solved"])
    assert summary.loc[("rnn", False), ["seeds", "first", "last", "lowest", "vanishes_at", "vanished"]].tolist() == \
           pytest.approx([1, 0.0, -20.0, -20.0, 200, 1])
    assert summary.loc[("rnn", True), "vanishes_at"] == float("inf") and summary.loc[("lstm", True), "seeds"] == 3
    assert gt.trajectory_lines(analysis.point_table(runs), trajectories) == [
        "memory, T=200, h=64: rnn's ratio, in the 1 seed that solves, stays above 10^-3: 10^0 at update 100, "
        "10^-0.2 at update 300, lowest 10^-0.2; in the 1 seed that fails, falls from 10^0 at update 100 below "
        "10^-3 by update 200, to 10^-20 at update 400; lstm's ratio stays above 10^-3: 10^-0.2 at update 100, "
        "10^-0.3 at update 300, lowest 10^-0.5 (3 seeds, all solve)"]
    assert gt.trajectory_lines(analysis.point_table(runs), None) == []


def test_medians_over_seeds_say_when_with_the_count_of_seeds_that_vanish():
    """Where the seeds differ: the median first update below 10^-3 (a seed that never falls counts as never),
    the count of those that do, and "already" where the median seed is below it at the first measurement."""
    shapes = {"rnn": [{100: -4.0, 300: -9.0, 500: -30.0}, {100: -1.0, 300: -6.0, 500: -10.0}, {100: -1.0, 300: -2.0}],
              "gru": [{100: -5.0, 300: -5.0}, {100: -7.0, 300: -8.0}, {100: -1.0, 300: -1.0}],
              "lstm": [{100: -1.0, 300: -1.0}, {100: -1.0, 300: -1.5}, {100: -0.5, 300: -3.5}]}
    runs = memory_runs({"rnn": ["failed"] * 3, "gru": ["failed"] * 3, "lstm": ["solved"] * 3})
    trajectories = gt.run_trajectories(runs, {r.run_id: profile(shapes[r.cell][r.seed]) for r in runs.itertuples()})
    summary = gt.trajectory_summary(trajectories).set_index("cell")
    assert summary.loc["rnn", ["first", "last", "lowest", "last_step", "vanishes_at", "vanished"]].tolist() == \
           pytest.approx([-1.0, -10.0, -10.0, 500, 300, 2])
    line, = gt.trajectory_lines(analysis.point_table(runs), trajectories)
    assert line == (
        "memory, T=200, h=64: rnn's ratio falls from 10^-1 at update 100 below 10^-3 by update 300 (2 of 3 seeds "
        "fall below it), to 10^-10 at update 500 (3 seeds, all fail); lstm's ratio stays above 10^-3 (1 of 3 seeds "
        "falls below it): 10^-1 at update 100, 10^-1.5 at update 300, lowest 10^-1.5 (3 seeds, all solve); gru's ratio "
        "is already below 10^-3 at the first measurement (2 of 3 seeds fall below it): 10^-5 at update 100, 10^-5 "
        "at update 300 (3 seeds, all fail)")


def test_the_trajectory_is_the_ratio_the_diagnostics_log():
    """Read back from the profile CSV a run stores, the ratio at each step is the one the run logged (to the
    CSV's 6 significant digits): one definition, the diagnostics'."""
    task = MemoryTask(seq_len=12)
    torch.manual_seed(0)
    model = build_model({"name": "rnn"}, 8, task)
    diag = GradientDiagnostics(model, task, seed=0, device="cpu", every=1, batch=8)
    logged = {}
    for step in (1, 2, 3):
        with torch.no_grad():
            model.rnn.weight_hh_l0.mul_(0.3)  # the gradient vanishes a little more at each measurement
        logged[step] = diag(step, last=False)[Metric.GRAD_LOG10_RATIO]
    found = gt.trajectory(pd.read_csv(io.StringIO(diag.profile_csv())))
    assert list(found["step"]) == [1, 2, 3]
    assert list(found["log10_ratio"]) == pytest.approx([logged[s] for s in (1, 2, 3)], abs=1e-5)
    assert logged[3] < logged[1] - 3  # the steps differ: a reading that mixed them up would show


def test_a_summary_from_the_store_draws_the_trajectories_and_says_them(job, tmp_path):
    """Tiny runs with diagnostics on, summarised from their store: gradient_trajectories.png is written, the Why
    section has the trajectory sentence with each cell's seed counts, and the ratios are those the runs logged."""
    from mlflow.tracking import MlflowClient

    for cell in ("rnn", "lstm"):
        for seed in (0, 1):
            job("task=memory", f"cell={cell}", f"seed={seed}", *TINY, "train.steps=8", "diagnostics.every=2")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    runs, text = from_store.summarise_store(uri, experiment="rnn-vs-lstm", out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "gradient_trajectories.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (tmp_path / "out" / "summary.md").read_text()
    assert "\n### Why, over training\n" in markdown and "![gradient ratio over training](gradient_trajectories.png)" in markdown
    assert "\nWhy, over training\n" in text and "counts as vanished. (gradient_trajectories.png)\n" in text
    for shown in (text, markdown):
        line = next(x for x in shown.splitlines() if x.startswith("- memory, T=6, h=8: rnn's ratio"))
        for cell in ("rnn", "lstm"):
            solved = int((runs[runs["cell"] == cell]["outcome"] == "solved").sum())
            # one part: "(2 seeds, all fail)" closes the cell's clause (no ";" inside it); both: the solving one first
            said = {0: r"'s ratio [^;]*\(2 seeds, all fail\)", 2: r"'s ratio [^;]*\(2 seeds, all solve\)"}
            assert re.search(cell + said.get(solved, "'s ratio, in the 1 seed that solves, "), line), (cell, line)
    client = MlflowClient(uri)
    trajectories = gt.run_trajectories(runs, from_store.fetch_profiles(client, runs))
    assert trajectories["run_id"].nunique() == len(runs) == 4
    for rid, g in trajectories.groupby("run_id"):
        history = {m.step: m.value for m in client.get_metric_history(rid, Metric.GRAD_LOG10_RATIO)}
        assert list(g["step"]) == sorted(history) and len(history) >= 2
        assert list(g["log10_ratio"]) == pytest.approx([history[s] for s in g["step"]], abs=1e-5)
