"""Every config composes and validates; bad values fail with one line, exit 2 and no MLflow run."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from suite.config import ConfigError, validate
from suite.job import prepare

CONF = Path(__file__).resolve().parent.parent / "conf"
TASKS = sorted(p.stem for p in (CONF / "task").glob("*.yaml"))
CELLS = sorted(p.stem for p in (CONF / "cell").glob("*.yaml"))


def compose_cfg(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("cell", CELLS)
def test_every_task_and_cell_composes_and_builds(task, cell):
    cfg = compose_cfg(f"task={task}", f"cell={cell}", "seq_len=12", "device=cpu")
    validate(cfg)
    device, built_task, model = prepare(cfg)
    assert built_task.name == task
    assert model.cell == cfg.cell.name
    assert cfg.run_name == f"{cell}-{task}-T12-h64-s0"


@pytest.mark.parametrize("override, message", [
    ("seq_len=1", "seq_len=1: expected an integer from 2 to 100,000"),
    ("hidden=0", "hidden=0"),
    ("train.steps=0", "train.steps=0"),
    ("train.lr=-1", "train.lr=-1.0"),
    ("train.clip=-0.5", "train.clip=-0.5"),
    ("threads=0", "threads=0"),
    ("fault.kind=boom", "fault.kind='boom'"),
    ("tracking.uri=mlflow.db", "tracking.uri='mlflow.db'"),
    ("train.precision=fp16", "train.precision='fp16': expected fp32 or bf16"),
    ("train.lr=3", "train.lr=3.0: expected a number in (0, 1]"),
    ("seq_len=1000000", "seq_len=1000000: expected an integer from 2 to 100,000"),
    ("train.stop_at_baseline_after=-1", "train.stop_at_baseline_after=-1"),
    ("+hidden_by_cell.rnn=0", "hidden_by_cell.rnn=0"),
])
def test_validate_names_key_and_value(override, message):
    cfg = compose_cfg(override)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        validate(cfg)


def test_the_default_config_is_valid_and_captured_whole():
    cfg = compose_cfg()
    validate(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["task"]["seq_len"] == resolved["seq_len"]  # the task follows the top-level lag
    assert {"task", "cell", "train", "tracking", "seed", "hidden", "device"} <= resolved.keys()


# --- through the real command line: one line on stderr, exit 2, nothing in the store ---

BAD = [
    (["seq_len=0"], "seq_len=0"),
    (["hidden=-3"], "hidden=-3"),
    (["cell=transformer"], "cell='transformer'"),
    (["train.lr=abc"], "train.lr"),
    (["train.lrr=0.1"], "train.lrr"),
    (["device=cuda"], "device='cuda'"),
    (["task.symbols=1"], "task.symbols=1"),
    (["cell.forget_bias=big"], "cell.forget_bias='big'"),
    (["experiment=default", "rung=7"], "rung=7"),
    (["+foo=1"], "foo=1"),
]


@pytest.mark.parametrize("args, key", BAD, ids=[a[-1] for a, _ in BAD])
def test_bad_config_on_the_command_line(cli, tmp_path, args, key):
    import torch

    if args == ["device=cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and key in lines[0], lines[0]
    from tests.conftest import store_runs

    runs = store_runs(tmp_path)
    assert runs is None or len(runs) == 0


def test_the_readme_error_examples_are_what_the_command_prints(cli):
    """The README's `$ python run.py ...` / `error: ...` pairs, run for real, so the docs cannot rot."""
    import re

    readme = (CONF.parent / "README.md").read_text()
    pairs = re.findall(r"^\$ python run\.py (.+)\n(error: .+)$", readme, flags=re.MULTILINE)
    assert len(pairs) >= 3
    for args, expected in pairs:
        proc = cli(*args.split())
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == expected, (args, proc.stderr)
