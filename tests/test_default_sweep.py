"""`python run.py -m ...`: which command line Hydra gets (suite/cli.py's with_default_sweep), in-process.

`-m` whose overrides sweep nothing runs the default sweep (experiment=default) with them applied; a
sweep value, a preset or a sweeper named on the command line is left as given.
"""
import pytest

from suite.cli import DEFAULT_SWEEP, with_default_sweep
from tests.conftest import ROOT

DEFAULT_PARAMS = {"task": "memory,adding,copy_n3", "cell": "rnn,lstm,gru", "sweep.rung": "0,1,2,3", "seed": "0,1,2"}


@pytest.mark.parametrize("argv", [
    ["-m"],
    ["--multirun"],
    ["-m", "device=cuda"],
    ["device=cuda", "-m"],
    ["-m", "hydra/launcher=slurm"],
    ["-m", "hydra/launcher=local", "hydra.launcher.timeout_min=5"],
    ["-m", "hydra.sweep.dir=/tmp/sweeps/${now:%H-%M-%S}"],
    ["-m", "--cfg", "hydra", "device=cuda"],
])
def test_multirun_that_sweeps_nothing_runs_the_default_sweep_with_its_overrides(argv):
    rewritten = with_default_sweep(list(argv))
    assert rewritten.count(DEFAULT_SWEEP) == 1 and [a for a in rewritten if a != DEFAULT_SWEEP] == argv


def test_the_default_joins_the_overrides_where_argparse_wants_them():
    argv = ["-m", "device=cuda", "--cfg", "hydra", "--package", "hydra.launcher"]
    assert with_default_sweep(argv) == ["-m", "device=cuda", DEFAULT_SWEEP, "--cfg", "hydra", "--package",
                                        "hydra.launcher"]


@pytest.mark.parametrize("argv", [
    ["-m", "cell=rnn,lstm"],
    ["-m", "device=cuda", "seed=range(3)"],
    ["-m", "cell=choice(rnn,gru)"],
    ["-m", "cell=glob(*lstm*)"],
    ["-m", "experiment=smoke", "device=cuda"],
    ["-m", "+experiment=smoke"],
    ["-m", "~experiment", "device=cuda"],
    ["-m", "hydra/sweeper=horizon", "task=memory"],
    ["device=cuda"],
    ["-m", "--info"],
    ["-m", "--version"],
    ["-m", "a=[1,"],  # Hydra reports the parse error
])
def test_a_sweep_a_preset_or_no_multirun_is_left_as_given(argv):
    assert with_default_sweep(list(argv)) == argv


@pytest.mark.parametrize("override, key, expected", [
    ("device=cuda", "device", "cuda"),
    ("hydra/launcher=slurm", "hydra.launcher._target_",
     "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"),
    ("hydra.sweep.dir=/tmp/sweeps/a", "hydra.sweep.dir", "/tmp/sweeps/a"),
])
def test_the_default_sweep_runs_with_the_users_override(override, key, expected):
    """The whole default grid, and the override wins over the preset's own choice (its joblib launcher)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import suite.config  # noqa: F401  (registers the schemas, as run.py does)

    overrides = [a for a in with_default_sweep(["-m", override]) if a != "-m"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    assert OmegaConf.select(cfg, key) == expected
    assert dict(cfg.hydra.sweeper.params) == DEFAULT_PARAMS and cfg.sweep.name == "default"
