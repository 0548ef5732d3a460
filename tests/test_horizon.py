"""The horizon search: brackets from majority states, and the horizon sweeper's rounds on a fake
launcher whose groups have known thresholds (hydra_plugins/horizon_sweeper, suite/horizon.py)."""
from __future__ import annotations

import math

import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_plugins.horizon_sweeper.horizon_sweeper import HorizonSweeper
from suite.errors import ConfigError
from suite.horizon import (ABOVE, BELOW, BETWEEN, FAILED, NONE, SOLVED, UNRESOLVED, Search, SearchSettings, bracket,
                           midpoint)


def test_bracket_kinds():
    b = bracket({10: SOLVED, 30: SOLVED, 90: FAILED, 270: FAILED})
    assert (b.kind, b.solved, b.failed, b.text(), b.ratio, b.monotone) == (BETWEEN, 30, 90, "30–90", 3.0, True)
    assert bracket({10: SOLVED, 30: SOLVED}).text() == "≥ 30" and bracket({10: SOLVED}).kind == ABOVE
    assert bracket({10: FAILED, 30: NONE}).text() == "< 10"
    # a lag with no majority (a tie, crashed seeds) is evidence of neither: it bounds nothing
    assert bracket({10: NONE}).kind == UNRESOLVED and bracket({10: NONE, 30: NONE}).text() == "unresolved"
    assert bracket({10: NONE, 30: FAILED}).text() == "< 30" and bracket({10: NONE, 30: FAILED}).unresolved == (10,)
    assert bracket({10: SOLVED, 30: NONE, 90: FAILED}).text() == "10–90"
    # a lag failed below a solved one: bracketed at the longest solved lag, the odd lag kept
    odd = bracket({10: SOLVED, 30: FAILED, 90: SOLVED, 270: NONE})
    assert (odd.text(), odd.not_solved_below, odd.monotone, odd.unresolved) == ("≥ 90", (30,), False, (270,))


def test_midpoint_in_log_space_until_resolution():
    assert midpoint(bracket({30: SOLVED, 90: FAILED}), 1.15) == 52  # sqrt(30 * 90) = 51.96
    assert midpoint(bracket({100: SOLVED, 114: FAILED}), 1.15) is None  # ratio 1.14: narrow enough
    assert midpoint(bracket({3: SOLVED, 4: FAILED}), 1.1) is None  # no whole lag inside
    assert midpoint(bracket({30: SOLVED}), 1.15) is None and midpoint(bracket({30: FAILED}), 1.15) is None


@pytest.mark.parametrize("settings, message", [
    ({"ladder": [30, 10]}, "hydra.sweeper.ladder=[30, 10]: expected increasing whole lags"),
    ({"ladder": "10"}, "hydra.sweeper.ladder='10'"),
    ({"ladders": {"memory": [0, 10]}}, "hydra.sweeper.ladders.memory=[0, 10]"),
    ({"resolution": 1}, "hydra.sweeper.resolution=1: expected a ratio above 1"),
    ({"max_rounds": -1}, "hydra.sweeper.max_rounds=-1"),
])
def test_bad_settings_are_one_line_naming_the_key(settings, message):
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        SearchSettings.from_config(OmegaConf.create(settings))


def test_groups_exclude_lag_and_seed_and_command_line_lags_become_the_ladder():
    grid = [["task=memory", f"cell={c}", f"seed={s}", f"seq_len={t}"] for c in ("rnn", "lstm") for s in (0, 1)
            for t in (20, 5)]
    search = Search(grid, SearchSettings(ladders={"memory": (7, 8)}))
    assert list(search.groups) == [("task=memory", "cell=rnn"), ("task=memory", "cell=lstm")]
    assert search.ladders[("task=memory", "cell=rnn")] == (5, 20)  # the command line's lags, sorted
    first = search.first_round()
    assert len(first) == 8 and first[0] == ["task=memory", "cell=rnn", "seq_len=20", "seed=0"]
    assert [j[2] for j in first] == ["seq_len=20"] * 4 + ["seq_len=5"] * 4  # longest lags first
    # without lags on the command line: the task's own ladder, else the common one
    plain = Search([["task=memory", "seed=0"], ["task=adding", "seed=0"]], SearchSettings(ladders={"memory": (7, 8)}))
    assert plain.ladders == {("task=memory",): (7, 8), ("task=adding",): (10, 30, 90, 270)}


# -- the sweeper on a fake launcher --------------------------------------------------------
def solved_below(thresholds: dict[str, float]):
    """Outcome rule: a job solves when its lag is below its cell's threshold (every seed alike)."""
    def outcome(job: dict[str, str]) -> str:
        return "solved" if int(job["seq_len"]) < thresholds[job["cell"]] else "failed"
    return outcome


class FakeLauncher:
    """Trains nothing: a job's outcome comes from `rule`; `store` plays MLflow's finished runs (a job
    already in it is reused, not trained); `stop_after` trained jobs, it raises as a killed sweep would."""

    def __init__(self, rule, store: dict | None = None, stop_after: int | None = None):
        self.rule, self.store, self.stop_after = rule, {} if store is None else store, stop_after
        self.trained: list[tuple[str, ...]] = []
        self.batches: list[int] = []
        self.first_numbers: list[int] = []

    def launch(self, job_overrides, initial_job_idx):
        self.batches.append(len(job_overrides))
        self.first_numbers.append(initial_job_idx)
        returns = []
        for overrides in job_overrides:
            key = tuple(sorted(overrides))
            if key not in self.store:
                if self.stop_after is not None and len(self.trained) >= self.stop_after:
                    raise KeyboardInterrupt("killed")
                self.trained.append(key)
                self.store[key] = self.rule(dict(o.split("=", 1) for o in overrides))
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = {"outcome": self.store[key], "run_id": "x"}
            returns.append(ret)
        return returns


def run_sweeper(tmp_path, launcher, arguments, **settings) -> HorizonSweeper:
    sweeper = HorizonSweeper(params={"cell": "rnn,lstm,gru", "seed": "0,1,2"}, **settings)
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}, "runtime": {"choices": {"task": "memory"}}}})
    sweeper.launcher = launcher
    sweeper.validate_batch_is_legal = lambda batch: None  # composing is Hydra's; tested end to end in test_sweep
    sweeper.sweep(arguments)
    return sweeper


def brackets_of(sweeper: HorizonSweeper) -> dict[str, str]:
    """Each cell's bracket as the search itself decided it (state_of, majority and bracket of suite/horizon.py)."""
    search = sweeper.search
    return {dict(o.split("=", 1) for o in group)["cell"]: search.bracket(group).text() for group in search.groups}


def test_brackets_converge_on_each_groups_threshold(tmp_path):
    launcher = FakeLauncher(solved_below({"rnn": 57, "lstm": math.inf, "gru": 5}))
    found = brackets_of(run_sweeper(tmp_path, launcher, []))
    assert found["lstm"] == "≥ 270" and found["gru"] == "< 10"  # settled by the ladder: no more jobs
    lower, upper = map(int, found["rnn"].split("–"))
    assert lower < 57 <= upper and upper / lower <= 1.15
    # round 0: 3 cells x 4 lags x 3 seeds; then one lag x 3 seeds for the rnn alone, round after round
    assert launcher.batches[0] == 36 and set(launcher.batches[1:]) == {3} and len(launcher.batches) == 4
    assert launcher.first_numbers == [0, 36, 39, 42]  # job numbers run on: every job its own folder
    assert (tmp_path / "jobs_total").read_text() == "45" and (tmp_path / "multirun.yaml").exists()


def test_round_limit_is_honoured(tmp_path):
    launcher = FakeLauncher(solved_below({"rnn": 57, "lstm": 200, "gru": 20}))
    sweeper = run_sweeper(tmp_path, launcher, [], max_rounds=1)
    assert len(launcher.batches) == 2 and launcher.batches[1] == 3 * 3  # three brackets, one round
    assert brackets_of(sweeper) == {"rnn": "52–90", "lstm": "156–270", "gru": "17–30"}


def test_a_non_monotone_group_is_reported_with_its_lags(tmp_path, caplog):
    def rule(job):  # the rnn fails T=30 but solves T=90; every other cell fails everything
        return "solved" if job["cell"] == "rnn" and int(job["seq_len"]) in (10, 90, 156) else "failed"
    launcher = FakeLauncher(rule)
    with caplog.at_level("INFO"):
        sweeper = run_sweeper(tmp_path, launcher, [])
    assert brackets_of(sweeper)["rnn"].startswith("156–")  # bisected above the longest lag solved
    assert "cell=rnn: seq_len 156–" in caplog.text and "(non-monotone: failed at T=30)" in caplog.text
    assert "cell=lstm: seq_len < 10" in caplog.text


def test_resume_after_a_kill_trains_only_the_missing_jobs(tmp_path):
    rule = solved_below({"rnn": 57, "lstm": 120, "gru": 5})
    whole = FakeLauncher(rule)
    whole_search = run_sweeper(tmp_path / "whole", whole, [])
    store: dict = {}
    killed = FakeLauncher(rule, store, stop_after=len(whole.trained) - 4)  # killed in its last rounds
    with pytest.raises(KeyboardInterrupt):
        run_sweeper(tmp_path / "killed", killed, [])
    again = FakeLauncher(rule, store)
    again_search = run_sweeper(tmp_path / "again", again, [])
    assert len(again.trained) == 4  # only what the killed search had not trained
    assert not set(again.trained) & set(killed.trained)
    assert sorted(killed.trained + again.trained) == sorted(whole.trained)
    assert brackets_of(again_search) == brackets_of(whole_search)


def test_a_job_that_raised_counts_as_crashed_not_failed(tmp_path):
    class Crashing(FakeLauncher):
        def launch(self, job_overrides, initial_job_idx):
            returns = super().launch(job_overrides, initial_job_idx)
            for ret, overrides in zip(returns, job_overrides):
                if "seed=0" in overrides and "cell=rnn" in overrides:  # a job whose process died
                    ret.status, ret.return_value = JobStatus.FAILED, RuntimeError("killed by the scheduler")
            return returns
    launcher = Crashing(solved_below({"rnn": 57, "lstm": 1000, "gru": 1000}))
    search = run_sweeper(tmp_path, launcher, ["cell=rnn"]).search
    group = ("cell=rnn",)
    assert search.outcomes[group][30] == {"0": "crashed", "1": "solved", "2": "solved"}
    # 2 of 3 seeds are still a majority either way: the crashed seed is no evidence, and the bracket stands
    assert search.bracket(group).text() == "52–59" and launcher.batches == [12, 3, 3, 3]


def test_crashes_and_ties_bound_nothing_and_end_no_search(tmp_path):
    """A lag whose seeds crashed is tried once more (crashed seeds retrain, finished ones are reused), never
    read as failed; a group with no lag decided is 'unresolved', not '< 10'; a tie is reported as it is."""
    attempts: dict[tuple, int] = {}

    class CrashingTwice(FakeLauncher):  # the gru crashes everywhere; the rnn's seeds 0 and 1 crash once at T=10
        def launch(self, job_overrides, initial_job_idx):
            returns = super().launch(job_overrides, initial_job_idx)
            for ret, overrides in zip(returns, job_overrides):
                key = tuple(sorted(overrides))
                attempts[key] = attempts.get(key, 0) + 1
                first_rnn_10 = {"cell=rnn", "seq_len=10"} <= set(overrides) and "seed=2" not in overrides \
                    and attempts[key] == 1
                if "cell=gru" in overrides or first_rnn_10:
                    ret.status, ret.return_value = JobStatus.FAILED, RuntimeError("out of memory")
                    self.store.pop(key, None)  # a crashed run is not FINISHED: resume trains it again
            return returns
    launcher = CrashingTwice(solved_below({"rnn": 57, "lstm": 1000, "gru": 1000}))
    sweeper = run_sweeper(tmp_path, launcher, [])
    found, search = brackets_of(sweeper), sweeper.search
    assert found["gru"] == "unresolved"  # was '< 10': every seed crashed, nothing is known
    assert all(search.outcomes[("cell=gru",)][t] == {"0": "crashed", "1": "crashed", "2": "crashed"}
               for t in (10, 30, 90, 270))
    assert attempts[("cell=gru", "seed=0", "seq_len=10")] == 2  # tried once more, then left unresolved
    # the rnn's T=10 (1 solved, 2 crashed: no majority) was tried again and solved 3/3; its search went on
    assert search.outcomes[("cell=rnn",)][10] == {"0": "solved", "1": "solved", "2": "solved"}
    lower, upper = map(int, found["rnn"].split("–"))
    assert lower < 57 <= upper and upper / lower <= 1.15
    assert [line for line in search.report() if "gru" in line] == \
        ["cell=gru: seq_len unresolved (unresolved: T=10,30,90,270)"]
    tie = bracket({10: SOLVED, 30: NONE})
    assert (tie.text(), tie.unresolved) == ("≥ 10", (30,))
