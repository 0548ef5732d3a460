"""What `python run.py` pays for at start: a config mistake is answered before torch, MLflow, numpy or
scipy load (suite/cli.py imports them once the config is known good; the horizon sweeper's plugin
modules, which Hydra imports at every start, import its search only when a sweeper is made)."""
import dataclasses
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = {"torch", "mlflow", "scipy", "numpy", "pandas"}


@pytest.mark.cli
def test_a_config_typo_is_answered_in_one_line_before_the_heavy_imports(tmp_path):
    proc = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "run.py"), "cell=typo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    imports = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    said = [line for line in proc.stderr.splitlines() if not line.startswith("import time:")]
    loaded = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in imports}
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(said) == 1 and said[0].startswith("error: cell='typo': unknown cell"), said
    assert imports and not HEAVY & loaded, sorted(HEAVY & loaded)


def test_the_sweeper_configs_defaults_are_the_searchs_own():
    """hydra_plugins/horizon_sweeper/config.py's defaults are SearchSettings' own (read from it, without scipy)."""
    from omegaconf import OmegaConf

    from hydra_plugins.horizon_sweeper.config import HorizonSweeperConf
    from suite.horizon.settings import SearchSettings

    conf = OmegaConf.to_container(OmegaConf.structured(HorizonSweeperConf))
    assert conf.pop("_target_").endswith("HorizonSweeper") and conf.pop("params") is None
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(SearchSettings()).items()}
    assert conf == settings


@pytest.mark.cli
def test_a_summary_does_not_load_torch():
    """`python -m suite.summary` reads the stored gradient profiles by the diagnostics' own definition
    (suite/training/gradient_ratio.py) without the torch that the diagnostics themselves need."""
    code = ("import sys; import suite.summary.__main__, suite.summary.from_store, suite.summary.from_csv; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr[-2000:]
