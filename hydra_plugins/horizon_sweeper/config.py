"""The horizon sweeper's config, registered as `hydra/sweeper=horizon` the way Hydra's own
sweeper plugins register theirs (Hydra imports every module under hydra_plugins/ when it starts).
The knobs' defaults and meaning are suite/horizon/settings.py's SearchSettings (a module that imports no
numpy or scipy: every `run.py` pays for what is imported here, sweep or not); docs/horizon.md ("Knobs")
shows them in use.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore

from suite.horizon.settings import SearchSettings

DEFAULTS = SearchSettings()


@dataclass
class HorizonSweeperConf:
    _target_: str = "hydra_plugins.horizon_sweeper.horizon_sweeper.HorizonSweeper"
    params: Optional[Dict[str, str]] = None  # the groups and seeds, as the basic sweeper's params
    ladder: List[int] = field(default_factory=lambda: list(DEFAULTS.ladder))
    ladders: Dict[str, List[int]] = field(default_factory=dict)
    batch: int = DEFAULTS.batch
    target: float = DEFAULTS.target
    max_runs: int = DEFAULTS.max_runs
    cap_lo: int = DEFAULTS.cap_lo
    cap_hi: Optional[int] = DEFAULTS.cap_hi  # None: 3 x the group's ladder top
    max_rounds: int = DEFAULTS.max_rounds
    resolution: Optional[float] = None  # deprecated: accepted and ignored (a warning says so)
    lag: str = DEFAULTS.lag
    seed: str = DEFAULTS.seed


ConfigStore.instance().store(group="hydra/sweeper", name="horizon", node=HorizonSweeperConf,
                             provider="rnn-memory-suite")
