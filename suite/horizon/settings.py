"""The horizon sweeper's knobs (hydra.sweeper.<knob>), checked: one line naming a bad key. Importable without
numpy or scipy: Hydra imports the sweeper plugin, and with it these, at every start."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from suite.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSettings:
    """The horizon sweeper's knobs, hydra.sweeper.<knob> (the plugin's config takes these defaults)."""

    ladder: tuple[int, ...] = (10, 30, 90, 270)  # round 0's lags, for every group (lags on the command line win)
    ladders: dict[str, tuple[int, ...]] = field(default_factory=dict)  # a task's own ladder, by its config name
    batch: int = 3  # seeds a round trains at a group's lag (round 0: at every lag of its ladder)
    target: float = 2.0  # stop a group once its T50 interval's hi / lo <= this
    max_runs: int = 60  # finished runs per group (crashes not counted), at most
    cap_lo: int = 1  # the shortest lag the search may extend down to
    cap_hi: int | None = None  # the longest lag it may extend up to; None: 3 x the group's ladder top
    max_rounds: int = 30  # rounds after round 0, at most: 30 x 3 seeds reach max_runs 60 with rounds to spare
    resolution: float | None = None  # deprecated (the old bisection's stop rule): accepted, ignored, warned about
    lag: str = "seq_len"  # the config key searched
    seed: str = "seed"  # the config key whose values are a group's seed pool

    @classmethod
    def from_config(cls, sweeper_cfg) -> "SearchSettings":
        """From hydra.sweeper (a DictConfig or a dict), checked: one line naming the bad key."""
        get = lambda key: sweeper_cfg.get(key, getattr(cls, key))  # noqa: E731
        settings = cls(ladder=ladder_of("hydra.sweeper.ladder", get("ladder")),
                       ladders={str(k): ladder_of(f"hydra.sweeper.ladders.{k}", v)
                                for k, v in dict(sweeper_cfg.get("ladders") or {}).items()},
                       batch=_whole_at_least("batch", get("batch"), 1),
                       target=_ratio("target", get("target")),
                       max_runs=_whole_at_least("max_runs", get("max_runs"), 1),
                       cap_lo=_whole_at_least("cap_lo", get("cap_lo"), 1),
                       cap_hi=None if get("cap_hi") is None else _whole_at_least("cap_hi", get("cap_hi"), 1),
                       max_rounds=_whole_at_least("max_rounds", get("max_rounds"), 0),
                       resolution=get("resolution"), lag=get("lag"), seed=get("seed"))
        if settings.cap_hi is not None and not settings.cap_lo < settings.cap_hi:
            raise ConfigError(f"hydra.sweeper.cap_hi={settings.cap_hi!r}: expected above "
                              f"hydra.sweeper.cap_lo={settings.cap_lo!r}")
        if settings.resolution is not None:
            log.warning("hydra.sweeper.resolution=%s is ignored: the search now stops on hydra.sweeper.target "
                        "(the T50 interval's hi / lo), see docs/horizon.md", settings.resolution)
        return settings

    def ladder_for(self, task: str | None) -> tuple[int, ...]:
        return self.ladders.get(task or "", self.ladder)

    def cap_hi_for(self, ladder: tuple[int, ...]) -> int:
        # one extension (x3) beyond the ladder by default: far enough to see a top, near enough to afford
        return self.cap_hi if self.cap_hi is not None else 3 * ladder[-1]


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole_at_least(knob: str, value, least: int) -> int:
    if _is_whole(value) and value >= least:
        return value
    raise ConfigError(f"hydra.sweeper.{knob}={value!r}: expected a whole number >= {least}")


def _ratio(knob: str, value) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1:
        return float(value)
    raise ConfigError(f"hydra.sweeper.{knob}={value!r}: expected a ratio above 1, e.g. 2")


def ladder_of(key: str, value) -> tuple[int, ...]:
    """A ladder: whole lags >= 1 in increasing order."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    if values and all(_is_whole(t) and t >= 1 for t in values) and all(a < b for a, b in zip(values, values[1:])):
        return tuple(values)
    raise ConfigError(f"{key}={values if values is not None else value!r}: expected increasing whole lags >= 1, "
                      "e.g. [10, 30, 90, 270]")
