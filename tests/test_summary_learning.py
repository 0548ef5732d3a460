"""suite.summary.learning: the summary's learning-time section on runs of known growth, its skipped groups, its
figure, and a held-out-budget check on committed runs (fit at one budget, predict T50 at two others)."""
import re

import numpy as np
import pandas as pd
import pytest

from suite.learning import Interval
from suite.record import Metric
from suite.summary import document, learning, from_store
from suite.summary.analysis import point_table
from suite.summary.learning_plot import plot_learning_time
from tests.conftest import ROOT

FAIR_BUDGET = ROOT / "docs" / "fair_budget"
LAGS = (10, 20, 40, 80)
EVERY, BUDGET = 10, 20000


def tidy_runs(cell: str, exponent: float, scale: float, seeds: int = 6, lags=LAGS, seed: int = 0) -> pd.DataFrame:
    """Tidy runs (frame.runs_frame's columns, and the schedule's) whose learning time is scale · lag^exponent
    times a log-normal spread (×2^exponent per doubling), seen at the evaluation every EVERY updates after it;
    failed where that is past BUDGET."""
    rng = np.random.default_rng(seed)
    rows = []
    for lag in lags:
        for s in range(seeds):
            t = scale * lag ** exponent * np.exp(0.3 * rng.standard_normal())
            seen = EVERY * np.ceil(t / EVERY)
            solved = seen <= BUDGET
            rows.append({"task": "memory", "cell": cell, "hidden": 64, "seq_len": lag + 1, "lag_mean": float(lag),
                         "seed": s, "outcome": "solved" if solved else "failed",
                         "steps_to_solve": seen if solved else np.nan, "eval_every": EVERY, "budget": BUDGET,
                         "steps_trained": seen if solved else BUDGET, "start_time": pd.Timestamp(0, tz="UTC"),
                         "run_id": f"{cell}-{lag}-{s}", "run_name": f"{cell}-memory-T{lag + 1}-s{s}",
                         "loss_norm": 0.01 if solved else 0.9, "metric": np.nan, "baseline_loss": 2.079,
                         "lag_min": float(lag), "lag_max": float(lag), "grad_log10_ratio": np.nan, "weights": np.nan,
                         "error": "", "status": "FINISHED", "code_hash": ""})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def apart() -> pd.DataFrame:
    """rnn ×4 per doubling of the lag, lstm ×1.2."""
    return pd.concat([tidy_runs("rnn", 2.0, 1.0), tidy_runs("lstm", 0.26, 60.0, seed=1)], ignore_index=True)


def test_a_much_faster_growth_is_claimed_with_its_probability(apart):
    lines = learning.learning_lines(apart)
    rnn = next(line for line in lines if line.startswith("memory rnn h=64"))
    growth = re.search(r"×(\S+) \[(\S+), (\S+)\] per doubling of d", rnn)
    assert growth and float(growth[2]) <= 4.0 <= float(growth[3]), rnn  # the truth inside the 95% interval
    assert "T50 at B = 500, 2,000, 8,000, 32,000 updates: d " in rnn
    claim = next(line for line in lines if "grows faster" in line)
    assert claim.startswith("memory h=64: rnn's learning time grows faster with the lag than that of lstm (P = ")
    assert float(re.search(r"\(P = (\S+)\)", claim)[1]) >= 0.95
    assert not any("do not separate" in line for line in lines)


def test_alike_cells_are_not_separated():
    alike = pd.concat([tidy_runs("rnn", 1.0, 20.0), tidy_runs("lstm", 1.0, 20.0, seed=1)], ignore_index=True)
    lines = learning.learning_lines(alike)
    assert not any("grows faster" in line for line in lines)
    assert any(line.startswith("memory h=64: rnn vs lstm: the data do not separate them (P(rnn's faster) = ")
               for line in lines), lines


def test_a_group_at_one_lag_is_skipped_with_its_reason(apart):
    one = tidy_runs("gru", 1.0, 20.0, lags=(40,), seed=2)
    lines = learning.learning_lines(pd.concat([apart, one], ignore_index=True))
    assert "memory gru h=64: skipped: solved or failed runs at 1 lag(s) (d=40): the growth with the lag needs " \
           "two or more" in lines
    assert not any("gru (P" in line or "gru vs" in line for line in lines)  # nor compared


def test_crashed_and_diverged_runs_are_no_observation_and_failed_ones_are_censored(apart):
    runs = apart.copy()
    runs.loc[0, "outcome"], runs.loc[1, "outcome"] = "crashed", "diverged"
    runs.loc[2, ["outcome", "steps_to_solve", "steps_trained"]] = ["failed", np.nan, 700.0]
    g = next(g for g in learning.learning_groups(runs) if g.cell == "rnn")
    assert len(g.lag) == len(apart[apart["cell"] == "rnn"]) - 2
    assert g.lo[0] == 700.0 and np.isinf(g.hi[0])  # stopped at update 700 unsolved: censored there
    solved = np.isfinite(g.hi)
    assert np.all(g.hi[solved] - g.lo[solved] == EVERY)


def test_the_section_is_in_the_summary_and_the_figure_is_written(apart, tmp_path):
    text = document.format_text(point_table(apart), apart, drawn={"learning_time.png"})
    assert "\n-- Learning time\n\nUpdates to solve against the lag" in text and "- memory rnn h=64 (24 runs, " in text
    assert "record it, else T, the seq_len knob. (learning_time.png)\n" in text
    paths = from_store.write_summary(apart, tmp_path)
    assert paths["learning_time.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_learning_time([], tmp_path / "empty.png").stat().st_size > 0


def committed_t50(cell: str) -> tuple[float, float]:
    """The committed horizon's 95% claim in d for one cell of docs/fair_budget: (lo, hi), hi inf where open."""
    text = pd.read_csv(FAIR_BUDGET / "horizons.csv").set_index("cell").loc[cell, "horizon_d"]
    bounded = re.fullmatch(r"\S+ \[(\S+), (\S+)\]", text)
    if bounded:
        return float(bounded[1]), float(bounded[2])
    above = re.fullmatch(r"> (\S+)", text)
    assert above, text
    return float(above[1]), np.inf


def test_a_fit_at_one_budget_predicts_the_horizons_at_two_others():
    """The tanh RNN on memory at 2,000 updates alone predicts T50 at 500 and 8,000 updates, which the runs at
    those budgets measured: each prediction's median must lie in the measured claim (above it, where open)."""
    runs = pd.read_csv(FAIR_BUDGET / "runs.csv")
    runs["start_time"] = pd.to_datetime(runs["start_time"], utc=True)
    (g,) = learning.learning_groups(runs[runs["cell"] == "rnn (train.steps=2000)"])
    assert g.symbol == "d" and g.budget == 2000
    at_500, at_8000 = g.fit.t50([500, 8000])
    lo, hi = committed_t50("rnn (train.steps=500)")
    assert (lo, hi) == (44, 174) and lo <= at_500.median <= hi
    lo, hi = committed_t50("rnn (train.steps=8000)")
    assert (lo, hi) == (199, np.inf) and at_8000.median > lo
    # what the check found when it was written (posterior quantiles of a seeded sampler: to ±2%)
    assert at_500.median == pytest.approx(92, rel=0.02) and at_8000.median == pytest.approx(313, rel=0.02)
    assert g.fit.p_power == pytest.approx(0.90, abs=0.02)
    assert g.censored == 10  # the runs not solved within 2,000 updates


def claims(metrics: dict, name: str, group: str) -> tuple:
    """(median, lo, hi) of one claim among the parent's metrics (None where left out)."""
    return tuple(metrics.get(f"{name}{end}/{group}") for end in ("", "_lo", "_hi"))


def test_the_parent_run_gets_each_fitted_groups_growth_and_t50_at_each_budget(apart):
    one = tidy_runs("gru", 1.0, 20.0, lags=(40,), seed=2)  # one lag: skipped, so nothing sent
    runs = pd.concat([apart, one], ignore_index=True)
    metrics = from_store.sweep_metrics(point_table(runs), runs)
    assert "t50/memory/rnn/h64" in metrics or "t50_lo/memory/rnn/h64" in metrics  # the horizons' still there
    fits = {g.cell: g.fit for g in learning.learning_groups(runs)}
    for cell in ("rnn", "lstm"):
        median, lo, hi = claims(metrics, Metric.GROWTH, f"memory/{cell}/h64")
        assert None not in (median, lo, hi), f"no growth_per_doubling for {cell}: {sorted(metrics)}"
        assert 0 < lo <= median <= hi < np.inf, (cell, median, lo, hi)
        assert median == fits[cell].growth("power").median
        for budget in learning.BUDGETS:
            median, lo, hi = claims(metrics, Metric.T50_AT.format(lag="d", budget=budget), f"memory/{cell}/h64")
            assert lo is not None and lo >= 0, (cell, budget)
            if median is not None:  # sent only where both ends are closed
                assert 0 < lo <= median <= hi, (cell, budget, median, lo, hi)
    assert metrics["growth_per_doubling_lo/memory/rnn/h64"] <= 4.0 <= metrics["growth_per_doubling_hi/memory/rnn/h64"]
    # the rnn at 2,000 updates: T50 between the lags tried, both ends closed
    assert metrics["t50_d_at_2000_lo/memory/rnn/h64"] < metrics["t50_d_at_2000/memory/rnn/h64"] \
        < metrics["t50_d_at_2000_hi/memory/rnn/h64"]
    assert not any("/gru/" in k for k in metrics if not k.startswith(("t50/", "t50_lo/", "t50_hi/")))
    from mlflow.utils.validation import _validate_metric_name

    for name in metrics:
        _validate_metric_name(name)


def test_an_open_t50_at_a_budget_sends_its_closed_end_alone():
    """A budget whose T50 is beyond the lags searched: no median (the prior's), no upper end, as t50 has it."""
    metrics = from_store.learning_metrics([FakeGroup()])
    assert metrics == {"growth_per_doubling/copy/lstm _cell.x_1_/h32": 2.0,
                       "growth_per_doubling_lo/copy/lstm _cell.x_1_/h32": 1.5,
                       "growth_per_doubling_hi/copy/lstm _cell.x_1_/h32": 3.0,
                       **{f"t50_T_at_{b}_lo/copy/lstm _cell.x_1_/h32": 0.0 if b == 500 else 90.0
                          for b in learning.BUDGETS},
                       **{f"t50_T_at_{b}_hi/copy/lstm _cell.x_1_/h32": 30.0 for b in learning.BUDGETS[:1]}}


class FakeFit:
    def growth(self, form):
        assert form == "power"
        return Interval(2.0, 1.5, 3.0)

    def t50(self, budgets):
        return [Interval(12.0, 0.0, 30.0) if b == 500 else Interval(400.0, 90.0, np.inf) for b in budgets]


class FakeGroup:
    task, cell, hidden, symbol, fit = "copy", "lstm (cell.x=1)", 32, "T", FakeFit()


def test_the_sweep_hands_its_parent_the_learning_metrics(tmp_path, monkeypatch):
    """What the sweep's callback logs on its parent run (SweepSummary.t50) carries the learning-time metrics."""
    from tests.test_summary import outcomes

    rows = [r for lag in (10, 30, 90)
            for r in outcomes("memory", "rnn", lag, *["solved" if lag < 90 else "failed"] * 3)]
    import mlflow.tracking

    monkeypatch.setattr(mlflow.tracking, "MlflowClient", lambda uri: None)  # no store: nothing is fetched
    monkeypatch.setattr(from_store.queries, "runs_frame_by_id", lambda uri, experiment, ids: pd.DataFrame(rows))
    monkeypatch.setattr(from_store, "summarise_runs",  # the store's learning curves and profiles left out
                        lambda client, runs, out, points: ("", from_store.write_summary(runs, out, points=points)))
    summary = from_store.summarise_sweep("sqlite:///nowhere.db", "0", [r["run_id"] for r in rows],
                                         tmp_path / "summary")
    assert {"t50_lo/memory/rnn/h64", "growth_per_doubling/memory/rnn/h64", "t50_T_at_8000_lo/memory/rnn/h64"} \
        <= set(summary.t50)
