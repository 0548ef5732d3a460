"""Reading a command line's overrides: with Hydra's own parser, never by splitting on '=', in one place.

Each distinct override is parsed once (a sweep's jobs repeat a few values thousands of times).
"""
from __future__ import annotations

from functools import cache


@cache
def _parser():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


@cache
def parsed(text: str):
    """One override (`cell=rnn`, `+x=1`, `seed=range(0,3)`) as Hydra's parser reads it."""
    return _parser().parse_override(text)


def key_of(text: str) -> str:
    """Its key or config group, without a `+`/`~`/`++` prefix: `task`, `train.lr`, `hydra/launcher`."""
    return parsed(text).key_or_group


def value_of(text: str) -> str:
    """Its value as written: `rnn`, `0.001`, `range(0,3)`."""
    return parsed(text).get_value_element_as_str()


def varied_keys(jobs: list[list[str]]) -> list[str]:
    """The keys whose value differs between jobs, in the order the jobs list them."""
    values: dict[str, set[str]] = {}
    for overrides in jobs:
        for text in overrides:
            values.setdefault(key_of(text), set()).add(text)
    return [key for key, seen in values.items() if len(seen) > 1]
