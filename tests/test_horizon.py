"""The horizon search: brackets from majority states (the summary's), and the horizon sweeper's rounds on a
fake launcher whose groups have known success curves (hydra_plugins/horizon_sweeper, suite/horizon/search.py)."""
from __future__ import annotations

import logging
import math
import zlib

import numpy as np
import pytest
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_plugins.horizon_sweeper.horizon_sweeper import HorizonSweeper
from suite.errors import ConfigError
from suite.horizon import placement, threshold
from suite.horizon.brackets import ABOVE, BETWEEN, UNRESOLVED, Majority, bracket
from suite.horizon.search import Search
from suite.horizon.settings import SearchSettings

SOLVED, FAILED, NONE = Majority.SOLVED, Majority.FAILED, Majority.NONE


@pytest.fixture(autouse=True)
def coarse_grid(monkeypatch):
    """The search's logic does not need the estimate's full precision: a grid ~40x smaller keeps these tests in
    the in-process tier's budget (tests/test_threshold.py calibrates the estimate itself)."""
    from functools import partial

    size = threshold.GridSize(m=20, s=10, floor=8, lapse=4)
    monkeypatch.setattr(threshold, "estimate", partial(threshold.estimate, size=size))
    monkeypatch.setattr(placement, "next_lag", partial(placement.next_lag, size=size))


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


@pytest.mark.parametrize("settings, message", [
    ({"ladder": [30, 10]}, "hydra.sweeper.ladder=[30, 10]: expected increasing whole lags"),
    ({"ladder": "10"}, "hydra.sweeper.ladder='10'"),
    ({"ladders": {"memory": [0, 10]}}, "hydra.sweeper.ladders.memory=[0, 10]"),
    ({"ladder": [10, 30.5]}, "hydra.sweeper.ladder=[10, 30.5]"),
    ({"target": 1}, "hydra.sweeper.target=1: expected a ratio above 1"),
    ({"target": "2"}, "hydra.sweeper.target='2': expected a ratio above 1"),
    ({"max_runs": 0}, "hydra.sweeper.max_runs=0: expected a whole number >= 1"),
    ({"batch": 0}, "hydra.sweeper.batch=0: expected a whole number >= 1"),
    ({"batch": 2.5}, "hydra.sweeper.batch=2.5"),
    ({"cap_lo": 0}, "hydra.sweeper.cap_lo=0: expected a whole number >= 1"),
    ({"cap_hi": 200.5}, "hydra.sweeper.cap_hi=200.5: expected a whole number >= 1"),
    ({"cap_lo": 200, "cap_hi": 100}, "hydra.sweeper.cap_hi=100: expected above hydra.sweeper.cap_lo=200"),
    ({"max_rounds": -1}, "hydra.sweeper.max_rounds=-1"),
])
def test_bad_settings_are_one_line_naming_the_key(settings, message):
    with pytest.raises(ConfigError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        SearchSettings.from_config(OmegaConf.create(settings))
    with pytest.raises(ConfigError) as error:
        SearchSettings.from_config(OmegaConf.create(settings))
    assert "\n" not in str(error.value)


def test_defaults_and_the_deprecated_resolution(caplog):
    s = SearchSettings.from_config(OmegaConf.create({}))
    assert (s.batch, s.target, s.max_runs, s.cap_lo, s.cap_hi, s.max_rounds) == (3, 2.0, 60, 1, None, 30)
    assert s.cap_hi_for((10, 30, 90, 270)) == 810 and SearchSettings(cap_hi=200).cap_hi_for((10, 200)) == 200
    with caplog.at_level("WARNING"):
        assert SearchSettings.from_config({"resolution": 1.15}).resolution == 1.15  # accepted, ignored
    assert "hydra.sweeper.resolution=1.15 is ignored" in caplog.text


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


def test_round_0_trains_the_first_batch_seeds_of_the_pool():
    grid = [["cell=rnn", f"seed={s}"] for s in range(10)]
    search = Search(grid, SearchSettings(ladder=(10, 30), batch=3))
    assert search.groups[("cell=rnn",)] == [str(s) for s in range(10)]  # the pool, in the order given
    assert sorted(j[-1] for j in search.first_round()) == ["seed=0"] * 2 + ["seed=1"] * 2 + ["seed=2"] * 2


# -- the sweeper on a fake launcher --------------------------------------------------------
def curve(t50s: dict[str, float], slope: float = 8.0):
    """Outcome rule: a seed solves with P = 1 / (1 + (T / T50)^slope), its cell's T50 (inf: always solves, 0: never);
    drawn from a numpy RNG keyed by (cell, lag, seed), so a job trained again gives the same outcome."""
    def outcome(job: dict[str, str]) -> str:
        t50 = t50s[job["cell"]]
        p = 1.0 if t50 == math.inf else 0.0 if t50 == 0 else float(threshold.p_solved(int(job["seq_len"]),
                                                                                       math.log(t50), slope))
        rng = np.random.default_rng([zlib.crc32(job["cell"].encode()), int(job["seq_len"]), int(job["seed"])])
        return "solved" if rng.random() < p else "failed"
    return outcome


class FakeLauncher:
    """Trains nothing: a job's outcome comes from `rule`; `store` plays MLflow's finished runs (a job
    already in it is reused, not trained); `stop_after` trained jobs, it raises as a killed sweep would."""

    def __init__(self, rule, store: dict | None = None, stop_after: int | None = None):
        self.rule, self.store, self.stop_after = rule, {} if store is None else store, stop_after
        self.trained: list[tuple[str, ...]] = []
        self.launched: list[tuple[str, ...]] = []
        self.batches: list[int] = []
        self.first_numbers: list[int] = []

    def launch(self, job_overrides, initial_job_idx):
        self.batches.append(len(job_overrides))
        self.first_numbers.append(initial_job_idx)
        returns = []
        for overrides in job_overrides:
            key = tuple(sorted(overrides))
            self.launched.append(key)
            if key not in self.store:
                if self.stop_after is not None and len(self.trained) >= self.stop_after:
                    raise KeyboardInterrupt("killed")
                self.trained.append(key)
                self.store[key] = self.rule(dict(o.split("=", 1) for o in overrides))
            ret = JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED)
            ret.return_value = {"outcome": self.store[key], "run_id": "x"}
            returns.append(ret)
        return returns


def run_sweeper(tmp_path, launcher, arguments, seeds="range(0,30)", cells="rnn,lstm,gru", valid=None, **settings):
    sweeper = HorizonSweeper(params={"cell": cells, "seed": seeds}, **settings)
    sweeper.valid = valid or (lambda overrides: True)  # every length builds, unless a test says otherwise
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)},
                                                 "runtime": {"choices": {"task": "memory"}}}})
    sweeper.launcher = launcher
    sweeper.validate_batch_is_legal = lambda batch: None  # composing is Hydra's; tested end to end in test_sweep
    sweeper.sweep(arguments)
    return sweeper


def by_cell(search: Search, what) -> dict[str, object]:
    return {dict(o.split("=", 1) for o in group)["cell"]: what(group) for group in search.groups}


def lags_of(search: Search, cell: str) -> list[int]:
    return sorted(search.outcomes[(f"cell={cell}",)])


def assert_no_pair_trained_twice(launcher: FakeLauncher):
    assert len(set(launcher.launched)) == len(launcher.launched)


def test_the_estimate_converges_on_a_known_t50_within_max_runs(tmp_path):
    launcher = FakeLauncher(curve({"rnn": 57}))
    search = run_sweeper(tmp_path, launcher, [], cells="rnn").search
    est = search.estimate(("cell=rnn",))
    assert est.covers(57) and est.ratio <= 2 and est.runs <= 60
    assert search.stopped[("cell=rnn",)].startswith("target reached")
    # round 0: 4 lags x the pool's first 3 seeds; then one lag x 3 fresh seeds a round, one batch each
    assert launcher.batches[0] == 12 and set(launcher.batches[1:]) == {3} and len(launcher.batches) == search.rounds + 1
    assert launcher.first_numbers == [0, *np.cumsum(launcher.batches)[:-1]]  # job numbers run on across rounds
    assert (tmp_path / "jobs_total").read_text() == str(sum(launcher.batches)) and (tmp_path / "multirun.yaml").exists()
    assert_no_pair_trained_twice(launcher)
    assert len(search.report()) == 1 and "runs; target reached" in search.report()[0]


def test_open_ends_extend_to_the_caps_and_stop_there(tmp_path):
    launcher = FakeLauncher(curve({"rnn": 57, "lstm": math.inf, "gru": 0}))
    search = run_sweeper(tmp_path, launcher, []).search
    assert_no_pair_trained_twice(launcher)  # fresh seeds only: 5 of 5 at a cap needs 5 seeds there
    assert lags_of(search, "lstm")[-1] == 810 and 810 in lags_of(search, "lstm")  # x3 above the ladder: the cap
    assert lags_of(search, "gru")[:2] == [1, 3]  # /3 below it, down to cap_lo
    assert by_cell(search, lambda g: search.estimate(g).text()) | {"rnn": None} == \
        {"lstm": "> 810", "gru": "< 1", "rnn": None}
    assert search.stopped[("cell=lstm",)].startswith("cap") and search.stopped[("cell=gru",)].startswith("cap")


def test_a_group_extends_down_to_its_tasks_shortest_valid_length_not_below(tmp_path):
    """Selective copy with n_copy=4 has no job at seq_len=3: a group failing at every lag of its ladder goes down
    to 4, its shortest valid length, and its '< 4' holds there; no job below it is ever launched."""
    launcher = FakeLauncher(curve({"gru": 0}))
    valid = lambda overrides: int(dict(o.split("=", 1) for o in overrides)["seq_len"]) >= 4  # noqa: E731
    search = run_sweeper(tmp_path, launcher, [], cells="gru", valid=valid).search
    assert min(lags_of(search, "gru")) == 4 and search.floors[("cell=gru",)] == 4
    assert all(int(dict(o.split("=", 1) for o in job)["seq_len"]) >= 4 for job in launcher.launched)
    assert search.estimate(("cell=gru",)).text() == "< 4" and search.stopped[("cell=gru",)].startswith("cap")
    assert "caps 4.." in search.stopped[("cell=gru",)]


def test_a_cap_on_the_ladder_top_spends_fresh_seeds_there(tmp_path):
    """Every seed solves to 200 = cap_hi: 3 of 3 there is no "> 200" (that needs 5 of 5), so fresh seeds go to 200,
    never beyond it."""
    launcher = FakeLauncher(curve({"lstm": math.inf}))
    search = run_sweeper(tmp_path, launcher, [], cells="lstm", ladder=[10, 30, 90, 200], cap_hi=200).search
    assert_no_pair_trained_twice(launcher)  # fresh seeds only: 5 of 5 at a cap needs 5 seeds there
    assert max(lags_of(search, "lstm")) == 200 and search.estimate(("cell=lstm",)).text() == "> 200"
    assert len(search.outcomes[("cell=lstm",)][200]) >= 5 and search.stopped[("cell=lstm",)].startswith("cap")


def test_round_limit_is_honoured(tmp_path):
    launcher = FakeLauncher(curve({"rnn": 57, "lstm": 200, "gru": 20}))
    search = run_sweeper(tmp_path, launcher, [], max_rounds=1).search
    assert len(launcher.batches) == 2 and launcher.batches[1] == 3 * 3  # three groups, one round of 3 seeds
    assert set(search.stopped.values()) == {"max_rounds (1)"}
    assert all(line.endswith("; max_rounds (1)") for line in search.report())


def test_max_runs_stops_a_group(tmp_path):
    launcher = FakeLauncher(curve({"rnn": 57}, slope=1.0))  # a shallow curve: ratio 2 needs many runs
    search = run_sweeper(tmp_path, launcher, [], cells="rnn", max_runs=18).search
    assert search.estimate(("cell=rnn",)).runs == 18 and search.stopped[("cell=rnn",)] == "max_runs (18)"


def test_a_spent_seed_pool_stops_the_group_and_says_how_to_give_more(tmp_path, caplog):
    launcher = FakeLauncher(curve({"rnn": 57}))
    with caplog.at_level(logging.WARNING):
        search = run_sweeper(tmp_path, launcher, [], seeds="0,1,2", cells="rnn", target=1.1).search
    assert search.stopped[("cell=rnn",)].startswith("seed pool ran out at seq_len=")
    assert "give more seeds, e.g. seed=range(0,6)" in caplog.text
    assert_no_pair_trained_twice(launcher)


def test_resume_after_a_kill_trains_only_the_missing_jobs(tmp_path):
    rule = curve({"rnn": 57, "lstm": 120, "gru": 20})
    whole = FakeLauncher(rule)
    whole_search = run_sweeper(tmp_path / "whole", whole, []).search
    store: dict = {}
    killed = FakeLauncher(rule, store, stop_after=len(whole.trained) - 4)  # killed in its last rounds
    with pytest.raises(KeyboardInterrupt):
        run_sweeper(tmp_path / "killed", killed, [])
    again = FakeLauncher(rule, store)
    again_search = run_sweeper(tmp_path / "again", again, []).search
    assert len(again.trained) == 4  # only what the killed search had not trained
    assert not set(again.trained) & set(killed.trained)
    assert sorted(killed.trained + again.trained) == sorted(whole.trained)
    assert again_search.report() == whole_search.report()


def test_a_job_that_raised_counts_as_crashed_not_failed(tmp_path):
    class Crashing(FakeLauncher):
        def launch(self, job_overrides, initial_job_idx):
            returns = super().launch(job_overrides, initial_job_idx)
            for ret, overrides in zip(returns, job_overrides):
                if "seed=0" in overrides:  # a job whose process died, every time
                    ret.status, ret.return_value = JobStatus.FAILED, RuntimeError("killed by the scheduler")
            return returns
    launcher = Crashing(curve({"rnn": 57}))
    search = run_sweeper(tmp_path, launcher, ["cell=rnn"], cells="rnn", max_rounds=1).search
    group = ("cell=rnn",)
    assert all(search.outcomes[group][t]["0"] == "crashed" for t in (10, 30, 90, 270))
    # the crashed seed is no evidence: it is not counted as tried, and it is tried once more, never a third time
    assert all(search.counts(group)[t][1] == len(search.outcomes[group][t]) - 1 for t in (10, 30, 90, 270))
    assert launcher.launched.count(("cell=rnn", "seed=0", "seq_len=10")) == 2
    # The count is the crashed (lag, seed) pairs, each counted once however often it was tried: seed 0 at the four
    # ladder lags. Round 1 places its 3 fresh seeds at a lag the ladder tried (90), so they are the pool's next,
    # 3..5, none of them seed 0; at a new lag they would be 0..2 and seed 0's crash there a fifth (+5). Where the
    # round goes is the search's deterministic choice (the curve's draws are keyed, the estimate has no RNG): both
    # are asserted, so a change in placement shows as that, not as a count that drifted.
    fresh = [dict(o.split("=", 1) for o in job) for job in launcher.launched[12:]
             if (job[1], job[2]) not in {("seed=0", f"seq_len={t}") for t in (10, 30, 90, 270)}]
    assert sorted((f["seq_len"], f["seed"]) for f in fresh) == [("90", "3"), ("90", "4"), ("90", "5")]
    assert "(+4 crashed)" in search.report()[0]


def test_a_group_whose_every_run_crashes_is_reported_not_guessed(tmp_path):
    class CrashingGru(FakeLauncher):
        def launch(self, job_overrides, initial_job_idx):
            returns = super().launch(job_overrides, initial_job_idx)
            for ret, overrides in zip(returns, job_overrides):
                if "cell=gru" in overrides:
                    ret.status, ret.return_value = JobStatus.FAILED, RuntimeError("out of memory")
                    self.store.pop(tuple(sorted(overrides)), None)  # a crashed run is not FINISHED
            return returns
    launcher = CrashingGru(curve({"rnn": 57, "gru": 57}))
    search = run_sweeper(tmp_path, launcher, [], cells="rnn,gru").search
    assert search.estimate(("cell=gru",)) is None  # was '< 10' once: nothing is known
    assert all(launcher.launched.count(("cell=gru", f"seed={s}", f"seq_len={t}")) == 2
               for s in range(3) for t in (10, 30, 90, 270))  # each crashed pair tried once more, then left
    assert [line for line in search.report() if "gru" in line] == \
        ["cell=gru: no finished runs (+12 crashed); no finished runs (every run crashed)"]
    assert search.estimate(("cell=rnn",)).covers(57)
