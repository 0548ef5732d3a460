"""Where a library does the work the suite once wrote by hand: each gives what the hand-written code gave."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from conftest import compose_config


def nested_walk(cfg: dict, prefix: str = "") -> dict[str, object]:
    """The flattening by hand, as a reference: depth first, an empty mapping giving no key."""
    flat = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            flat.update(nested_walk(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.mark.parametrize("overrides", [("cell=lstm",), ("experiment=param_matched",), ("cell=lru", "task=copy"),
                                       ("++fault.runs={a-*:error,b:null}",)])
def test_flatten_gives_the_keys_values_and_types_of_a_nested_walk(overrides):
    from suite.config import flatten

    cfg = OmegaConf.to_container(compose_config(*overrides), resolve=True)
    flat, expected = flatten(cfg), nested_walk(cfg)
    assert flat == expected and all(type(flat[k]) is type(expected[k]) for k in expected)
    edge = {"a": {}, "b": None, "c": [1, {"x": 2}], "d": {"e": {"f": {"g": True}}}, "i": {"j": None, "k": []}}
    assert flatten(edge) == nested_walk(edge) == {"b": None, "c": [1, {"x": 2}], "d.e.f.g": True, "i.j": None,
                                                  "i.k": []}


def test_an_owner_is_told_by_its_pid_and_start_time():
    from suite.tracking.owners import STARTED_TAG, owner_alive, owner_tags

    mine = owner_tags()
    assert owner_alive(mine) is True
    started = float(mine[STARTED_TAG])
    assert owner_alive({**mine, STARTED_TAG: f"{started + 0.3:.2f}"}) is True  # the clock moved a little
    assert owner_alive({**mine, STARTED_TAG: f"{started - 60:.2f}"}) is False  # a later process under that pid
    assert owner_alive({**mine, STARTED_TAG: "123456"}) is True  # clock ticks since boot: the pid alone decides
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert owner_alive({**mine, "owner_pid": str(child.pid)}) is False
    assert owner_alive({**mine, "owner_host": "another-host"}) is None


def test_source_tags_name_the_entry_point_the_user_and_the_projects_commit():
    from suite.record import Tag
    from suite.tracking.run_logger import source_tags
    from suite.tracking.store import PROJECT_ROOT

    tags = source_tags()
    assert tags[Tag.SOURCE_NAME] == "run.py" and tags[Tag.SOURCE_TYPE] == "LOCAL" and tags[Tag.USER]
    head = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert tags.get(Tag.GIT_COMMIT) == (head.stdout.strip() if head.returncode == 0 else None)


def test_the_quantiles_root_is_where_a_bisection_puts_it():
    from suite.horizon.quantiles import SmoothedPosterior as _Smoothed

    rng = np.random.default_rng(0)
    x, w = np.sort(rng.normal(4, 1, 500)), rng.random(500)
    dist = _Smoothed(np.append(x, math.inf), np.append(w / w.sum() * 0.9, 0.1), 0.05)  # 0.1 of the mass: no T50
    for p in (0.025, 0.3, 0.5, 0.89):
        lo, hi = x[0] - 0.05, x[-1] + 0.05
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if dist.cdf(mid) < p else (lo, mid)
        assert dist.quantile(p) == pytest.approx(hi, rel=1e-9, abs=1e-9)
    assert dist.quantile(0.9) == math.inf
