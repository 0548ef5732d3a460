"""Each modern family's knobs, typed, with their defaults (the only source of them: conf/cell/<name>.yaml
extends the dataclass through Hydra's ConfigStore, group `schema/cell`, as the classic cells do).

A family's dataclass names the torch module that implements it (`module`, "package.module:Class"),
imported only when a model is built. Why each default is what it is: the family's module, beside its
initialisation recipe.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass
class FamilyKnobs:
    """What every family shares: the suite reads `name` and `layers` itself."""

    name: str = ""
    layers: int = 1  # one recurrent layer, as the classic cells' default
    module: ClassVar[str] = ""  # "suite.families.<file>:<Class>"


#: cell name -> its knobs; suite.cells merges this into CELL_CONFIGS
FAMILY_KNOBS: dict[str, type[FamilyKnobs]] = {}
