"""The horizon sweeper's config, registered as `hydra/sweeper=horizon` the way Hydra's own
sweeper plugins register theirs (Hydra imports every module under hydra_plugins/ when it starts).
The knobs' meaning is suite/horizon/search.py's SearchSettings; docs/horizon.md ("Knobs") shows them in use.

The defaults are written out here, not read from SearchSettings: importing suite/horizon/search.py brings in
numpy and scipy (~0.6 s), which every `run.py` would pay at start, sweep or not. tests/test_start.py
checks that they are SearchSettings' own.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class HorizonSweeperConf:
    _target_: str = "hydra_plugins.horizon_sweeper.horizon_sweeper.HorizonSweeper"
    params: Optional[Dict[str, str]] = None  # the groups and seeds, as the basic sweeper's params
    ladder: List[int] = field(default_factory=lambda: [10, 30, 90, 270])
    ladders: Dict[str, List[int]] = field(default_factory=dict)
    batch: int = 3
    target: float = 2.0
    max_runs: int = 60
    cap_lo: int = 1
    cap_hi: Optional[int] = None  # None: 3 x the group's ladder top
    max_rounds: int = 30
    resolution: Optional[float] = None  # deprecated: accepted and ignored (a warning says so)
    lag: str = "seq_len"
    seed: str = "seed"


ConfigStore.instance().store(group="hydra/sweeper", name="horizon", node=HorizonSweeperConf,
                             provider="rnn-memory-suite")
