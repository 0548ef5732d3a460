"""suite.summary.rates: each cell's learning rate from a rate screen, by learning-time T50(B), on experiment=fair_lr's
committed round 0 and on hand-built runs (no training)."""
import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from suite.config import SweepConfig
from suite.learning.fit import interval
from suite.summary import from_store, rates
from suite.summary.learning import learning_groups
from tests.conftest import ROOT
from tests.test_summary_learning import tidy_runs

ROUND_0_LAGS = (10, 30, 90, 200)  # experiment=fair_lr's ladder: its round 0, 3 seeds a rung


def round_0(runs: pd.DataFrame, seeds: int = 3) -> pd.DataFrame:
    """A search's round 0: per cell label, the first `seeds` runs (by start time) at each rung of the ladder."""
    runs = runs[runs["seq_len"].isin(ROUND_0_LAGS)].sort_values("start_time", kind="stable")
    return runs.groupby(["cell", "seq_len"], sort=False).head(seeds)


@pytest.fixture(scope="module")
def fair_lr() -> pd.DataFrame:
    return round_0(pd.read_csv(ROOT / "docs" / "fair_lr" / "runs.csv"))


@pytest.fixture(scope="module")
def fair_lr_choices(fair_lr) -> list[rates.RateChoice]:
    return rates.rate_choices(fair_lr)


@pytest.fixture(scope="module")
def screen() -> pd.DataFrame:
    """T50(20,000) about d 63 at lr 0.001 and d 32 at 0.003 (×4 per doubling of the lag); no seed solves at 0.01."""
    return pd.concat([tidy_runs("rnn (train.lr=0.001)", 2.0, 5.0), tidy_runs("rnn (train.lr=0.003)", 2.0, 20.0, seed=1),
                      tidy_runs("rnn (train.lr=0.01)", 2.0, 1e6, seed=2)], ignore_index=True)


def test_fair_lr_round_0_picks_the_rnn_rate_of_the_whole_search(fair_lr, fair_lr_choices):
    assert len(fair_lr) == 3 * 5 * 4 * 3  # 3 cells × 5 rates × 4 rungs × 3 seeds
    rnn = next(c for c in fair_lr_choices if c.cell == "rnn")
    assert (rnn.task, rnn.hidden, rnn.rates) == ("memory", 64, [0.001, 0.002, 0.005, 0.01, 0.02])
    assert rnn.budget == 2000 and rnn.symbol == "d"
    assert rnn.rates[rnn.best] in (0.001, 0.002)
    assert {rnn.rates[rnn.best], rnn.rates[rnn.runner_up]} == {0.001, 0.002}
    assert rnn.rates[rnn.order[-1]] == 0.02  # the fastest rate reaches least far
    at_1e3 = rnn.t50[0]
    assert 130 <= at_1e3.median <= 200 and at_1e3.lo < at_1e3.median < at_1e3.hi
    assert {c.cell for c in fair_lr_choices} == {"rnn", "lstm", "gru"}


def test_the_line_and_table_name_the_chosen_rate(fair_lr, fair_lr_choices):
    lines = rates.rate_lines(fair_lr, fair_lr_choices)
    rnn = next(line for line in lines if line.startswith("memory rnn h=64: "))
    assert "(T50(2,000) d " in rnn and "d 160 [87, 280]" in rnn
    assert "the data do not separate train.lr=0.002" in rnn and "the screen takes train.lr=0.002" in rnn
    table = rates.rates_table(fair_lr, fair_lr_choices)
    assert list(table.columns) == ["task", "cell", "hidden", "lr", "t50", "runner_up", "t50_runner_up", "p_best",
                                   "every_rate"]
    row = table[table["cell"] == "rnn"].iloc[0]
    assert row["lr"] == 0.002 and row["runner_up"] == 0.001 and 0.5 < row["p_best"] < 0.95
    assert row["every_rate"].startswith("0.001: d 160 [87, 280]; 0.002: d ")


def test_a_rate_no_seed_solved_at_ranks_last(screen):
    [c] = rates.rate_choices(screen)
    assert (c.cell, c.rates) == ("rnn", [0.001, 0.003, 0.01])
    assert c.order == [0, 1, 2] and (c.best, c.runner_up) == (0, 1)
    assert c.t50[2] is None and "no run solved" in c.skipped[2]
    assert c.t50[0].median > c.t50[1].median and c.p >= 0.95
    [line] = rates.rate_lines(screen, [c])
    assert line.startswith("memory rnn h=64: train.lr=0.001 (T50(20,000) d ")
    assert "beyond train.lr=0.003's d " in line and "; no fit at train.lr=0.01 (no run solved" in line


def test_t50_draws_are_the_mixture_group_fit_t50_summarises(screen):
    group = next(g for g in learning_groups(screen) if g.fit is not None)
    values, weights = rates.t50_draws(group.fit, 2000)
    assert values.shape == weights.shape and weights.sum() == pytest.approx(1.0)
    assert interval(values, weights) == group.fit.t50([2000])[0]


@pytest.mark.parametrize("seed", range(5))
def test_p_greater_is_the_double_sum_over_weighted_draws(seed):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 8, 40).astype(float), rng.integers(0, 8, 55).astype(float)  # many ties
    x[:3], y[:2] = np.inf, np.inf  # T50 beyond the lags searched: a tie with each other
    w, v = rng.random(40), rng.random(55)
    brute = sum(wi * vj * ((xi > yj) + 0.5 * (xi == yj)) for xi, wi in zip(x, w) for yj, vj in zip(y, v))
    assert rates.p_greater(x, w, y, v) == pytest.approx(brute / (w.sum() * v.sum()), abs=1e-12)
    assert rates.p_greater(x, w, y, v) + rates.p_greater(y, v, x, w) == pytest.approx(1.0)


def test_rates_yaml_is_a_sweep_lr_by_task(fair_lr_choices):
    text = rates.rates_yaml(fair_lr_choices)
    assert text.startswith("# ") and "rate screen" in text.splitlines()[0]
    loaded = yaml.safe_load(text)
    assert set(loaded) == {"memory"} and set(loaded["memory"]) == {"rnn", "lstm", "gru"}
    assert all(type(lr) is float for lr in loaded["memory"].values())
    assert loaded["memory"]["rnn"] in (0.001, 0.002)
    sweep = OmegaConf.merge(OmegaConf.structured(SweepConfig), {"lr_by_task": OmegaConf.create(text)})
    assert OmegaConf.to_container(sweep.lr_by_task) == loaded


def test_a_summary_of_a_rate_screen_has_the_section_and_writes_rates_yaml(screen, tmp_path):
    paths = from_store.write_summary(screen, tmp_path)
    assert {"rates.csv", "rates.yaml"} <= set(paths)
    assert yaml.safe_load(paths["rates.yaml"].read_text()) == {"memory": {"rnn": 0.001}}
    assert pd.read_csv(paths["rates.csv"])["lr"].tolist() == [0.001]
    markdown = paths["summary.md"].read_text()
    assert "## Each cell's rate" in markdown and "- memory rnn h=64: train.lr=0.001 (T50(20,000) d " in markdown
    # one rate only: no screen, and the earlier summary's files do not pass for this one's
    paths = from_store.write_summary(screen[screen["cell"] == "rnn (train.lr=0.001)"], tmp_path)
    assert "rates.yaml" not in paths and not (tmp_path / "rates.yaml").exists()
    assert not (tmp_path / "rates.csv").exists() and "Each cell's rate" not in paths["summary.md"].read_text()
