"""suite/sweeping/hydra_internals.py leans on Hydra internals with no public equivalent. If Hydra moves or
changes them, these tests fail (not the sweep's up-front checks silently turning themselves off)."""
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

import suite.config  # noqa: F401  (registers the schemas)
from suite.sweeping.hydra_internals import BASIC_SWEEPER, job_composer, planned_jobs, swept_values
from tests.conftest import ROOT

OVERRIDES = ["task=memory,adding", "cell=rnn,lstm", "seed=0,1", "train.lr=0.01"]


def sweep_config(overrides, preset=()):
    """The launching process's config for `run.py -m PRESET OVERRIDES`: the overrides as Hydra records them."""
    config = compose(config_name="config", overrides=list(preset), return_hydra_config=True)
    with open_dict(config):
        config.hydra.overrides.task = [*preset, *overrides]
    return config


def test_planned_jobs_are_the_basic_sweepers_cartesian_product():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        config = sweep_config(OVERRIDES)
        assert config.hydra.sweeper._target_ == BASIC_SWEEPER  # what run.py sweeps with by default
        jobs = planned_jobs(config).jobs
    assert len(jobs) == 8
    assert jobs[0] == ["task=memory", "cell=rnn", "seed=0", "train.lr=0.01"]
    assert {tuple(j) for j in jobs} == {(f"task={t}", f"cell={c}", f"seed={s}", "train.lr=0.01")
                                        for t in ("memory", "adding") for c in ("rnn", "lstm") for s in (0, 1)}


def test_each_composed_job_equals_what_hydra_composes_for_it():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        config = sweep_config(OVERRIDES[:2], preset=["experiment=smoke"])
        compose_job = job_composer(config)
        for overrides in planned_jobs(config).jobs:
            ours = compose_job(overrides)
            hydras = compose(config_name="config", overrides=overrides)
            with open_dict(ours):
                del ours["hydra"]
            assert OmegaConf.to_container(ours, resolve=True) == OmegaConf.to_container(hydras, resolve=True)


def test_another_sweeper_means_no_jobs_known_up_front():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        config = sweep_config(OVERRIDES)
        with open_dict(config):
            config.hydra.sweeper._target_ = "some.other.Sweeper"
            config.hydra.sweeper.params = {"train.lr": "interval(0.001, 0.01)"}  # e.g. Optuna's syntax
        assert planned_jobs(config) is None


def test_swept_values_are_the_params_as_the_command_line_overrides_them_under_any_sweeper():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        config = sweep_config(["seed=0,1", "train.lr=0.01", "train.steps=50"])
        with open_dict(config):
            config.hydra.sweeper._target_ = "some.other.Sweeper"
            config.hydra.sweeper.params = {"train.lr": "interval(0.001, 0.01)", "cell": "rnn,lstm"}
        # the preset's keys first, in its order, with the command line's value where it gives one; then the
        # command line's own sweeps; a value it fixes for another key is not swept
        assert swept_values(config) == {"train.lr": "0.01", "cell": "rnn,lstm", "seed": "0,1"}
