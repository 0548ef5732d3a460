"""Majority brackets: what the runs of one group say, lag by lag, read by the summary.

The majority rule decides each lag (suite/summary's docstring): solved when a strict majority of
the seeds tried solved it, failed when a strict majority failed, else *unresolved* (a tie, or
crashed seeds: a crash is evidence of neither). A group's *bracket* is [the longest lag solved,
the shortest longer lag failed]; unresolved lags bound nothing and are named beside it; a lag
failed below the longest solved one makes the group non-monotone, which is reported, never
smoothed over.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from suite.record import Outcome


class Majority:
    """A lag's majority state over its seeds, not a run's outcome (suite.record.Outcome). NONE: no strict majority."""

    SOLVED, FAILED, NONE = "solved", "failed", "none"


BETWEEN, ABOVE, BELOW, UNRESOLVED = "between", "above", "below", "unresolved"  # a bracket's kind


def majority(n_solved: int, n_failed: int, n_seeds: int) -> str:
    """Majority.SOLVED / FAILED / NONE by strict majority of the seeds tried (a crash counts as neither)."""
    if 2 * n_solved > n_seeds:
        return Majority.SOLVED
    return Majority.FAILED if 2 * n_failed > n_seeds else Majority.NONE


def state_of(outcomes: list[str]) -> str:
    """The majority state of one lag from its seeds' outcomes (Outcome values)."""
    solved = sum(o == Outcome.SOLVED for o in outcomes)
    failed = sum(o in (Outcome.FAILED, Outcome.DIVERGED) for o in outcomes)
    return majority(solved, failed, len(outcomes))


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
    solved = [t for t in lags if states[t] == Majority.SOLVED]
    failed = [t for t in lags if states[t] == Majority.FAILED]
    unresolved = tuple(t for t in lags if states[t] == Majority.NONE)
    if not solved:
        return Bracket(BELOW, None, min(failed), lags, (), unresolved) if failed else \
            Bracket(UNRESOLVED, None, None, lags, (), unresolved)
    longest = max(solved)
    below = tuple(t for t in failed if t < longest)
    longer = [t for t in failed if t > longest]
    if not longer:
        return Bracket(ABOVE, longest, None, lags, below, unresolved)
    return Bracket(BETWEEN, longest, min(longer), lags, below, unresolved)
