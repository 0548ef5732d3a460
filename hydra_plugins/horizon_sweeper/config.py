"""The horizon sweeper's config, registered as `hydra/sweeper=horizon` the way Hydra's own
sweeper plugins register theirs (Hydra imports every module under hydra_plugins/ when it starts).
Its knobs and their meaning: suite/horizon.py (SearchSettings); how to use them:
conf/hydra/sweeper/horizon.yaml."""
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class HorizonSweeperConf:
    _target_: str = "hydra_plugins.horizon_sweeper.horizon_sweeper.HorizonSweeper"
    params: Optional[Dict[str, str]] = None  # the groups and seeds, as the basic sweeper's params
    ladder: List[int] = field(default_factory=lambda: [10, 30, 90, 270])  # round 0's lags, every group
    ladders: Dict[str, List[int]] = field(default_factory=dict)  # a task's own ladder, by its config name
    resolution: float = 1.15  # stop bisecting a bracket once longer/shorter <= this
    max_rounds: int = 6  # bisection rounds after round 0, at most
    lag: str = "seq_len"  # the config key searched
    seed: str = "seed"  # the config key whose values are a group's seeds


ConfigStore.instance().store(group="hydra/sweeper", name="horizon", node=HorizonSweeperConf,
                             provider="rnn-memory-suite")
