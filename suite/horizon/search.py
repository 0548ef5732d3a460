"""The adaptive search that places runs where they narrow each group's T50 interval most
(suite/horizon/threshold.py; the majority brackets the summary reads are suite/horizon/brackets.py).

The horizon sweeper (hydra_plugins/horizon_sweeper) searches by T50, the lag where a seed solves
with probability one half, from every finished run of a group ({lag: (solved, tried)}):

  round 0   every group's ladder of lags × the first `batch` seeds of its pool (the seeds given)
  round k   per group not stopped: its crashed (lag, seed) pairs once more (a crash is no evidence),
            and placement.next_lag's lag (beyond the lags tried while the crossing likely lies there,
            ×3 up to cap_hi or ÷3 down to cap_lo, then the cap itself; else where runs narrow ln T50 most) on the
            next `batch` seeds of the pool not yet trained at that lag: a (lag, seed) pair is trained once
  stop      placement.done: the 95% interval's hi / lo <= target, max_runs finished runs, or an open end
            ("> T", "< T") at a cap; else the seed pool spent at the chosen lag, or max_rounds

The next lag depends only on the outcomes recorded, so a search run again on the same store makes the
same choices and trains only what it lacks. A group is one job's overrides without the lag and the
seed: task × cell × hidden × whatever else the sweep varies. Nothing here imports torch or MLflow;
overrides are read with Hydra's own parser (suite/sweeping/overrides.py).
"""
from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable

from suite.errors import ConfigError
from suite.horizon import placement, threshold
from suite.horizon.settings import SearchSettings, ladder_of
from suite.record import Outcome
from suite.sweeping.overrides import key_of, value_of, varied_keys

log = logging.getLogger(__name__)


def _whole(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{key}={text!r}: expected a whole lag") from None


def _finished(outcome: str) -> bool:
    """Solved, failed or diverged: evidence. Anything else (crashed, nothing returned) is none."""
    return outcome in (Outcome.SOLVED, Outcome.FAILED, Outcome.DIVERGED)


GroupOverrides = tuple[str, ...]  # a job's overrides without the lag and the seed: what a group shares
LagSeeds = list[tuple[int, "str | None"]]  # (lag, seed) pairs of one group


class Search:
    """One horizon search: its groups and seed pools, the outcomes recorded so far, and the next round's jobs.

    `grid` is every job's overrides as the basic sweeper would make them (without the lag unless the
    command line gave lags: those become every group's ladder); a group's seeds, in the order given, are
    its pool. `default_task` names the task config of groups that do not choose one (for `ladders`).
    """

    def __init__(self, grid: list[list[str]], settings: SearchSettings, default_task: str | None = None,
                 valid: Callable[[list[str]], bool] | None = None):
        self.settings = settings
        self.rounds = 0  # rounds launched after round 0
        given = {lag for _, lag, _ in map(self._split, grid) if lag is not None}
        ladder_given = ladder_of(settings.lag, sorted(_whole(settings.lag, t) for t in given)) if given else None
        self.groups: dict[GroupOverrides, list[str | None]] = {}  # group -> its seed pool (None: no seed override)
        self.ladders: dict[GroupOverrides, tuple[int, ...]] = {}
        for group, _, seed in map(self._split, grid):
            seeds = self.groups.setdefault(group, [])
            if seed not in seeds:
                seeds.append(seed)
            task = next((value_of(o) for o in group if key_of(o) == "task"), default_task)
            self.ladders[group] = ladder_given or settings.ladder_for(task)
        self.outcomes: dict[GroupOverrides, dict[int, dict[str | None, str]]] = {g: {} for g in self.groups}
        self.retried: set[tuple[GroupOverrides, int, str | None]] = set()  # crashed (lag, seed) pairs tried again
        self.stopped: dict[GroupOverrides, str] = {}  # why a group stopped
        # the shortest lag each group may extend down to: cap_lo, or the task's shortest valid length above it
        # (selective copy needs seq_len >= n_copy), so that no round is spent on jobs that cannot run
        self.floors = {g: self._floor(g, valid) if valid else settings.cap_lo for g in self.groups}

    def _floor(self, group: GroupOverrides, valid: Callable[[list[str]], bool]) -> int:
        """The shortest lag from cap_lo up to the ladder's first at which the group's job is valid (bisected: a
        task valid at one length is valid at every longer one); the ladder's first if none below it is."""
        low, seed = self.settings.cap_lo, self.groups[group][0]
        lags = range(low, min(self.ladders[group]))
        return low + bisect_left(lags, True, key=lambda lag: valid(self.job(group, lag, seed)))

    def _split(self, overrides: list[str]) -> tuple[GroupOverrides, str | None, str | None]:
        """A job's overrides -> (its group, its lag, its seed), the last two as written (None: absent)."""
        find = lambda key: next((value_of(o) for o in overrides if key_of(o) == key), None)  # noqa: E731
        group = tuple(o for o in overrides if key_of(o) not in (self.settings.lag, self.settings.seed))
        return group, find(self.settings.lag), find(self.settings.seed)

    def job(self, group: GroupOverrides, lag: int, seed: str | None) -> list[str]:
        return [*group, f"{self.settings.lag}={lag}", *([f"{self.settings.seed}={seed}"] if seed is not None else [])]

    def _jobs(self, planned: dict[GroupOverrides, LagSeeds]) -> list[list[str]]:
        # Longest lags first: the slowest jobs start first, so a parallel launcher's round ends sooner.
        jobs = [(lag, group, seed) for group, pairs in planned.items() for lag, seed in pairs]
        return [self.job(g, t, s) for t, g, s in sorted(jobs, key=lambda p: -p[0])]

    def first_round(self) -> list[list[str]]:
        pool = lambda g: self.groups[g][:self.settings.batch]  # noqa: E731
        return self._jobs({g: [(t, s) for t in self.ladders[g] for s in pool(g)] for g in self.groups})

    def record(self, overrides: list[str], outcome: str) -> None:
        """One job's outcome (Outcome.*; a job that returned nothing: Outcome.CRASHED)."""
        group, lag, seed = self._split(overrides)
        self.outcomes[group].setdefault(int(lag), {})[seed] = outcome

    def counts(self, group: GroupOverrides) -> threshold.Counts:
        """{lag: (solved, tried)} of the finished runs: a crash is evidence of neither outcome."""
        counts = {}
        for lag, by_seed in self.outcomes[group].items():
            solved = sum(o == Outcome.SOLVED for o in by_seed.values())
            failed = sum(o in (Outcome.FAILED, Outcome.DIVERGED) for o in by_seed.values())
            if solved + failed:
                counts[lag] = (solved, solved + failed)
        return counts

    def estimate(self, group: GroupOverrides) -> threshold.Estimate | None:
        counts = self.counts(group)
        return threshold.estimate(counts) if counts else None

    def next_round(self) -> list[list[str]]:
        """The next round's jobs; [] when every group has stopped or the round limit is reached."""
        planned = {}
        for group in self.groups:
            if group not in self.stopped and (pairs := self._plan(group)):
                planned[group] = pairs
        if planned:
            self.rounds += 1
        return self._jobs(planned)

    def _plan(self, group: GroupOverrides) -> LagSeeds:
        """A group's next jobs: its crashed pairs once more, and `batch` fresh seeds at the lag that narrows
        its T50 most; [] with the reason in self.stopped when it is done."""
        s, counts = self.settings, self.counts(group)
        est = threshold.estimate(counts) if counts else None
        cap_hi = s.cap_hi_for(self.ladders[group])
        cap_lo = self.floors[group]
        if est is not None and placement.done(est, s.target, s.max_runs, cap_lo, cap_hi):
            self.stopped[group] = self._why_done(est, cap_lo, cap_hi)
            return []
        if self.rounds >= s.max_rounds:
            self.stopped[group] = f"max_rounds ({s.max_rounds})"
            return []
        retries = self._retries(group)
        if est is None:  # every run crashed: no evidence to place a lag by
            if not retries:
                self.stopped[group] = "no finished runs (every run crashed)"
            return retries
        lag = placement.next_lag(counts, s.batch, cap_lo, cap_hi)
        seeds = self._fresh(group, lag)[:min(s.batch, s.max_runs - est.runs)]
        if not seeds and not retries:
            self.stopped[group] = f"seed pool ran out at {s.lag}={lag}"
            log.warning("%s: the seed pool ran out at %s=%d (all %d seeds trained there); give more seeds, "
                        "e.g. %s=range(0,%d)", self._name(group), s.lag, lag, len(self.groups[group]), s.seed,
                        2 * len(self.groups[group]))
        return retries + [(lag, seed) for seed in seeds]

    def _retries(self, group: GroupOverrides) -> LagSeeds:
        """Crashed (lag, seed) pairs not yet tried again: a crash says nothing, so each gets one more try."""
        pairs = [(lag, seed) for lag, by_seed in self.outcomes[group].items() for seed, o in by_seed.items()
                 if not _finished(o) and (group, lag, seed) not in self.retried]
        self.retried.update((group, lag, seed) for lag, seed in pairs)
        return pairs

    def _fresh(self, group: GroupOverrides, lag: int) -> list[str | None]:
        """The pool's seeds not yet trained at `lag` (crashed ones included: they were trained)."""
        return [seed for seed in self.groups[group] if seed not in self.outcomes[group].get(lag, {})]

    def _why_done(self, est: threshold.Estimate, cap_lo: int, cap_hi: int) -> str:
        if est.ratio <= self.settings.target:
            return f"target reached (ratio {est.ratio:.2f} <= {self.settings.target:g})"
        if est.runs >= self.settings.max_runs:
            return f"max_runs ({self.settings.max_runs})"
        return f"cap ({self.settings.lag} {est.text()}, caps {cap_lo}..{cap_hi})"

    def _name(self, group: GroupOverrides) -> str:
        """What sets a group apart from the others ('cell=rnn hidden=64'), or '(one group)'."""

        varied = set(varied_keys(list(self.groups)))
        return " ".join(o for o in group if key_of(o) in varied) or "(one group)"

    def report(self) -> list[str]:
        """One line per group: its T50 estimate, the runs it used and why it stopped."""
        lines = []
        for group in self.groups:
            est, crashed = self.estimate(group), self._crashed(group)
            text = f"{self.settings.lag} {est.text()}, {est.runs} runs" if est else "no finished runs"
            note = f" (+{crashed} crashed)" if crashed else ""
            lines.append(f"{self._name(group)}: {text}{note}; {self.stopped.get(group, 'not stopped')}")
        return lines

    def _crashed(self, group: GroupOverrides) -> int:
        return sum(not _finished(o) for by_seed in self.outcomes[group].values() for o in by_seed.values())
