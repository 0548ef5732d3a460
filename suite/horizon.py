"""A cell's memory horizon: the bracket of lags around it, and the adaptive search that narrows it.

The majority rule decides each lag (suite/summary's docstring): solved when a strict majority of
the seeds tried solved it, failed when a strict majority failed, else *unresolved* (a tie, or
crashed seeds: a crash is evidence of neither). A group's *bracket* is [the longest lag solved,
the shortest longer lag failed]; unresolved lags bound nothing and are named beside it; a lag
failed below the longest solved one makes the group non-monotone, which is reported, never
smoothed over. The summary reads brackets off the runs; the horizon sweeper
(hydra_plugins/horizon_sweeper) uses the same rule to choose what to train next:

  round 0   every group's ladder of lags, all seeds
  round k   per group, an unresolved lag with crashed seeds is tried once more (its finished seeds
            are reused, its crashed ones retrain); and one lag per group still bracketed wider than
            `resolution`: the bracket's midpoint in log space, all seeds. Groups solved at the
            ladder's top ("≥ T_max") or failed at its bottom ("< T_min") stop after round 0; a group
            with no lag decided either way is "unresolved", never "< T_min"

A group is one job's overrides without the lag and the seed: task × cell × hidden × whatever
else the sweep varies. Nothing here imports torch, MLflow or Hydra's internals.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from suite.errors import ConfigError
from suite.record import Outcome

SOLVED, FAILED, NONE = "solved", "failed", "none"  # a lag's majority state (none: unresolved)
BETWEEN, ABOVE, BELOW, UNRESOLVED = "between", "above", "below", "unresolved"  # a bracket's kind


def majority(n_solved: int, n_failed: int, n_seeds: int) -> str:
    """"solved" / "failed" / "none" by strict majority of the seeds tried (a crash counts as neither)."""
    if 2 * n_solved > n_seeds:
        return SOLVED
    return FAILED if 2 * n_failed > n_seeds else NONE


def state_of(outcomes: list[str]) -> str:
    """The majority state of one lag from its seeds' outcomes (Outcome values)."""
    solved = sum(o == Outcome.SOLVED for o in outcomes)
    failed = sum(o in (Outcome.FAILED, Outcome.DIVERGED) for o in outcomes)
    return majority(solved, failed, len(outcomes))


def crashed_in(outcomes: list[str]) -> int:
    """Seeds that made no result (crashed, or a job that returned none): evidence of neither outcome."""
    return sum(o not in (Outcome.SOLVED, Outcome.FAILED, Outcome.DIVERGED) for o in outcomes)


@dataclass(frozen=True)
class Bracket:
    """Where a group's horizon lies, from the majority state of every lag tried.

    between:    solved up to `solved`, failed at `failed` (the next lag failed above it);
    above:      solved at `solved`, no longer lag failed ("≥ solved");
    below:      no lag solved, the shortest failed is `failed` ("< failed");
    unresolved: no lag decided either way (ties, crashes).
    not_solved_below: lags below `solved` that failed (the group is then non-monotone);
    unresolved: lags with no majority either way, which bound nothing.
    """

    kind: str
    solved: int | None
    failed: int | None
    lags: tuple[int, ...]
    not_solved_below: tuple[int, ...] = ()
    unresolved: tuple[int, ...] = ()

    @property
    def monotone(self) -> bool:
        return not self.not_solved_below

    @property
    def ratio(self) -> float:
        return self.failed / self.solved if self.kind == BETWEEN else math.nan

    def interval(self) -> tuple[float, float]:
        """Where the horizon lies, as numbers: [solved, failed), [T_max, inf) or [0, T_min)."""
        if self.kind == ABOVE:
            return float(self.solved), math.inf
        if self.kind == BELOW:
            return 0.0, float(self.failed)
        if self.kind == UNRESOLVED:
            return 0.0, math.inf
        return float(self.solved), float(self.failed)

    def text(self, name=str) -> str:
        """'52–59', '≥ 270', '< 10' or 'unresolved', each lag written by `name` (e.g. as a distance)."""
        if self.kind == ABOVE:
            return f"≥ {name(self.solved)}"
        if self.kind == BELOW:
            return f"< {name(self.failed)}"
        if self.kind == UNRESOLVED:
            return UNRESOLVED
        return f"{name(self.solved)}–{name(self.failed)}"


def bracket(states: dict[int, str]) -> Bracket:
    """The bracket of one group, from {lag: majority state} (at least one lag)."""
    lags = tuple(sorted(states))
    solved = [t for t in lags if states[t] == SOLVED]
    failed = [t for t in lags if states[t] == FAILED]
    unresolved = tuple(t for t in lags if states[t] == NONE)
    if not solved:
        return Bracket(BELOW, None, min(failed), lags, (), unresolved) if failed else \
            Bracket(UNRESOLVED, None, None, lags, (), unresolved)
    longest = max(solved)
    below = tuple(t for t in failed if t < longest)
    longer = [t for t in failed if t > longest]
    if not longer:
        return Bracket(ABOVE, longest, None, lags, below, unresolved)
    return Bracket(BETWEEN, longest, min(longer), lags, below, unresolved)


def midpoint(b: Bracket, resolution: float) -> int | None:
    """The next lag to try inside a bracket wider than `resolution` (its geometric mean, rounded),
    or None when it is narrow enough, open-ended, or has no whole lag left inside."""
    if b.kind != BETWEEN or b.ratio <= resolution:
        return None
    lag = round(math.sqrt(b.solved * b.failed))
    return lag if b.solved < lag < b.failed else None


# -- the search ------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchSettings:
    """The horizon sweeper's knobs, hydra.sweeper.<knob> (the plugin's config takes these defaults)."""

    ladder: tuple[int, ...] = (10, 30, 90, 270)  # round 0's lags, for every group (lags on the command line win)
    ladders: dict[str, tuple[int, ...]] = field(default_factory=dict)  # a task's own ladder, by its config name
    resolution: float = 1.15  # stop bisecting once a bracket's longer lag / shorter lag <= this
    max_rounds: int = 6  # bisection rounds after round 0, at most
    lag: str = "seq_len"  # the config key searched
    seed: str = "seed"  # the config key whose values are a group's seeds

    @classmethod
    def from_config(cls, sweeper_cfg) -> "SearchSettings":
        """From hydra.sweeper (a DictConfig or a dict), checked: one line naming the bad key."""
        get = sweeper_cfg.get
        settings = cls(ladder=_lags("hydra.sweeper.ladder", get("ladder", cls.ladder)),
                       ladders={str(k): _lags(f"hydra.sweeper.ladders.{k}", v)
                                for k, v in dict(get("ladders") or {}).items()},
                       resolution=get("resolution", cls.resolution), max_rounds=get("max_rounds", cls.max_rounds),
                       lag=get("lag", cls.lag), seed=get("seed", cls.seed))
        if not isinstance(settings.resolution, (int, float)) or not settings.resolution > 1:
            raise ConfigError(f"hydra.sweeper.resolution={settings.resolution!r}: expected a ratio above 1, e.g. 1.15")
        if not isinstance(settings.max_rounds, int) or settings.max_rounds < 0:
            raise ConfigError(f"hydra.sweeper.max_rounds={settings.max_rounds!r}: expected a whole number >= 0")
        return settings

    def ladder_for(self, task: str | None) -> tuple[int, ...]:
        return self.ladders.get(task or "", self.ladder)


def _lags(key: str, value) -> tuple[int, ...]:
    """A ladder: whole lags >= 1 in increasing order."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    if values and all(isinstance(t, int) and not isinstance(t, bool) and t >= 1 for t in values) \
            and all(a < b for a, b in zip(values, values[1:])):
        return tuple(values)
    raise ConfigError(f"{key}={values if values is not None else value!r}: expected increasing whole lags >= 1, "
                      "e.g. [10, 30, 90, 270]")


def _whole(key: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{key}={text!r}: expected a whole lag") from None


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _value(override: str) -> str:
    return override.partition("=")[2]


class Search:
    """One horizon search: its groups, the outcomes recorded so far, and the next round's jobs.

    `grid` is every job's overrides as the basic sweeper would make them (without the lag unless the
    command line gave lags: those become every group's ladder). `default_task` names the task config
    of groups that do not choose one (for `ladders`).
    """

    def __init__(self, grid: list[list[str]], settings: SearchSettings, default_task: str | None = None):
        self.settings = settings
        self.rounds = 0  # rounds launched after round 0
        given = {lag for _, lag, _ in map(self._split, grid) if lag is not None}
        ladder_given = _lags(settings.lag, sorted(_whole(settings.lag, t) for t in given)) if given else None
        self.groups: dict[tuple[str, ...], list[str | None]] = {}  # group -> its seeds (None: no seed override)
        self.ladders: dict[tuple[str, ...], tuple[int, ...]] = {}
        for group, _, seed in map(self._split, grid):
            seeds = self.groups.setdefault(group, [])
            if seed not in seeds:
                seeds.append(seed)
            task = next((_value(o) for o in group if _key(o) == "task"), default_task)
            self.ladders[group] = ladder_given or settings.ladder_for(task)
        self.outcomes: dict[tuple[str, ...], dict[int, dict[str | None, str]]] = {g: {} for g in self.groups}
        self.retried: set[tuple[tuple[str, ...], int]] = set()  # unresolved lags tried a second time

    def _split(self, overrides: list[str]) -> tuple[tuple[str, ...], str | None, str | None]:
        """A job's overrides -> (its group, its lag, its seed), the last two as written (None: absent)."""
        find = lambda key: next((_value(o) for o in overrides if _key(o) == key), None)  # noqa: E731
        group = tuple(o for o in overrides if _key(o) not in (self.settings.lag, self.settings.seed))
        return group, find(self.settings.lag), find(self.settings.seed)

    def job(self, group: tuple[str, ...], lag: int, seed: str | None) -> list[str]:
        return [*group, f"{self.settings.lag}={lag}", *([f"{self.settings.seed}={seed}"] if seed is not None else [])]

    def _jobs(self, lags: dict[tuple[str, ...], list[int]]) -> list[list[str]]:
        # Longest lags first: the slowest jobs start first, so a parallel launcher's round ends sooner.
        planned = [(lag, group, seed) for group, ts in lags.items() for lag in ts for seed in self.groups[group]]
        return [self.job(g, t, s) for t, g, s in sorted(planned, key=lambda p: -p[0])]

    def first_round(self) -> list[list[str]]:
        return self._jobs({g: list(self.ladders[g]) for g in self.groups})

    def record(self, overrides: list[str], outcome: str) -> None:
        """One job's outcome (Outcome.*; a job that returned nothing: Outcome.CRASHED)."""
        group, lag, seed = self._split(overrides)
        self.outcomes[group].setdefault(int(lag), {})[seed] = outcome

    def bracket(self, group: tuple[str, ...]) -> Bracket:
        return bracket({lag: state_of(list(by_seed.values())) for lag, by_seed in self.outcomes[group].items()})

    def next_round(self) -> list[list[str]]:
        """The jobs of the next bisection round; [] when every bracket is narrow enough or settled,
        or the round limit is reached."""
        if self.rounds >= self.settings.max_rounds:
            return []
        lags = {}
        for group, by_lag in self.outcomes.items():
            # a crash says nothing: such a lag is tried once more (its finished seeds are reused)
            again = [t for t, by_seed in by_lag.items() if (group, t) not in self.retried
                     and state_of(list(by_seed.values())) == NONE and crashed_in(list(by_seed.values()))]
            self.retried.update((group, t) for t in again)
            lag = midpoint(self.bracket(group), self.settings.resolution) if by_lag else None
            chosen = again + ([lag] if lag is not None and lag not in by_lag else [])
            if chosen:
                lags[group] = chosen
        if lags:
            self.rounds += 1
        return self._jobs(lags)

    def report(self) -> list[str]:
        """One line per group: what sets it apart from the others, and its bracket, non-monotone lags named."""
        varied = {k for k in {_key(o) for g in self.groups for o in g}
                  if len({_value(o) for g in self.groups for o in g if _key(o) == k}) > 1}
        lines = []
        for group in self.groups:
            if not self.outcomes[group]:
                continue
            b = self.bracket(group)
            note = f" (non-monotone: failed at T={','.join(map(str, b.not_solved_below))})" if not b.monotone else ""
            if b.unresolved:
                note += f" (unresolved: T={','.join(map(str, b.unresolved))})"
            name = " ".join(o for o in group if _key(o) in varied) or "(one group)"
            lines.append(f"{name}: {self.settings.lag} {b.text()}{note}")
        return lines
