"""Every config composes and validates; bad values fail with one line, exit 2 and no MLflow run."""
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from suite.config import validate
from suite.errors import ConfigError
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
    job = prepare(cfg)
    assert job.task.name == task and job.device.type == "cpu"
    assert job.model.cell == cfg.cell.name
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
    ("+sweep.hidden_by_cell.rnn=0", "sweep.hidden_by_cell.rnn=0"),
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
    assert cfg.threads == 1  # one torch thread unless asked: more collapses on a busy machine (threads.py)


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
    (["experiment=default", "sweep.rung=7"], "sweep.rung=7"),
    (["+foo=1"], "foo=1"),
    (["task=selective_copy", "seq_len=20", "task.n_copy=30"], "task.n_copy=30: expected at most 20"),
    (["task=assoc_recall", "task.n_pairs=3", "seq_len=7"], "task.seq_len=7: expected an integer >= 8"),
    (["hidden=${matched_hidden:lstmx,64}"], "hidden=${matched_hidden:lstmx,64}: the reference cell is rnn, lstm or gru, not 'lstmx'"),
    (["cell=mingru", "hidden=${matched_hidden:lstm,5000}"],
     "hidden=${matched_hidden:lstm,5000}: cell.name='mingru': no hidden from 1 to 16,384 gives"),
]


@pytest.mark.parametrize("args, key", BAD, ids=[a[-1] for a, _ in BAD])
def test_bad_config_on_the_command_line(run_py, tmp_path, args, key):
    """run.py's entry point in this process (its exit status and stderr as a subprocess has them; one real
    process for exit status 2: tests/test_tutorial.py's doc example)."""
    import torch

    if args == ["device=cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    proc = run_py(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and key in lines[0], lines[0]
    from tests.conftest import store_runs

    runs = store_runs(tmp_path)
    assert runs is None or len(runs) == 0


def test_the_readme_error_examples_are_what_the_command_prints(run_py):
    """The docs' `$ python run.py ...` / `error: ...` pairs (docs/configuration.md, "Bad values"; the README too,
    should it show any), run through run.py's entry point (in this process), so the docs cannot rot."""
    import re

    pages = [CONF.parent / "README.md", *sorted((CONF.parent / "docs").glob("*.md"))]
    pairs = [pair for page in pages
             for pair in re.findall(r"^\$ python run\.py (.+)\n(error: .+)$", page.read_text(), flags=re.MULTILINE)]
    assert len(pairs) >= 3
    for args, expected in pairs:
        proc = run_py(*args.split())
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == expected, (args, proc.stderr)


# --- one source for each cell's defaults: the YAML composes to the knobs suite/model/cells.py declares ---

def effective_bias(model, gate):
    h = model.rnn.hidden_size
    return (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0)[gate * h : (gate + 1) * h].detach()


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_config_builds_the_init_its_recipe_declares(cell):
    """What run.py trains is what the cell's dataclass says: compose conf/cell/<cell>.yaml, build, inspect."""
    import math

    import torch

    from suite.model.cells import CELL_CONFIGS, CHRONO
    from suite.families.knobs import FamilyKnobs

    cfg = compose_cfg(f"cell={cell}", "seq_len=40", "hidden=32", "device=cpu")
    model = prepare(cfg).model
    kind = model.kind
    declared = CELL_CONFIGS[kind]()
    assert {k: v for k, v in cfg.cell.items() if k != "name"} == {k: v for k, v in vars(declared).items()
                                                                 if k != "name"}
    if isinstance(declared, FamilyKnobs):  # a modern family: its module, whose init its own tests check
        assert f"{type(model.rnn).__module__}:{type(model.rnn).__name__}" == declared.module
    elif kind == "rnn":
        assert declared.recurrent_init == "orthogonal"
        w = model.rnn.weight_hh_l0.detach()
        assert torch.allclose(w @ w.T, torch.eye(32), atol=1e-5)
    else:  # chrono: the gate's bias spread over log(1)..log(T-1) (T = input length 40)
        assert (declared.forget_bias if kind == "lstm" else declared.update_bias) == CHRONO
        gate = effective_bias(model, 1)
        assert gate.min() >= 0 and gate.max() <= math.log(39) + 1e-5 and gate.std() > 0.3
        if kind == "lstm":
            assert torch.allclose(effective_bias(model, 0), -gate)


def test_a_cell_knob_override_reaches_the_model():
    import torch

    model = prepare(compose_cfg("cell=lstm", "cell.forget_bias=2.5", "device=cpu")).model
    assert torch.allclose(effective_bias(model, 1), torch.full((64,), 2.5))
    naive = prepare(compose_cfg("cell=lstm", "cell.forget_bias=null", "device=cpu")).model
    assert effective_bias(naive, 1).abs().max() < 0.5  # torch's own uniform init, around 0


# --- every sweep preset composes, and each of its jobs resolves its lag ---

PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
PRESET_JOBS = {"default": 108, "lr_tune": 48, "paper": 480, "param_matched": 108, "smoke": 18}
# jobs of round 0: cells x sizes (x rates) x 4 lags x the pool's first 3 seeds (batch)
ADAPTIVE = {"horizon": 3 * 3 * 4 * 3, "fair_lr": 3 * 5 * 4 * 3, "fair_budget": 3 * 3 * 4 * 3,
            "leaderboard": 5 * 8 * 4 * 3, "leaderboard_small": 2 * 8 * 3 * 3,  # tasks x cells x lags x seeds
            "rnn_limit": 1 * 4 * 3, "rate_screen": 5 * 8 * 3 * 4 * 3,  # (x 3 rates)
            "rate_screen_small": 2 * 8 * 3 * 3 * 3}


def test_every_preset_is_listed_here():
    assert PRESETS == sorted({**PRESET_JOBS, **ADAPTIVE})


@pytest.mark.parametrize("preset", sorted(PRESET_JOBS))
def test_every_preset_composes_and_each_job_resolves_its_lag(preset):
    from hydra import compose, initialize_config_dir

    from suite.sweeping.hydra_internals import job_composer, planned_jobs

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose(config_name="config", overrides=[f"experiment={preset}"], return_hydra_config=True)
        jobs = planned_jobs(config).jobs
        assert len(jobs) == PRESET_JOBS[preset]
        compose_job = job_composer(config)
        lags = set()
        for overrides in jobs:
            cfg = compose_job(overrides)
            ladder = cfg.sweep.ladders[cfg.task.name]
            assert cfg.seq_len == ladder[cfg.sweep.rung] == cfg.task.seq_len
            assert cfg.threads == 1  # several jobs side by side: one torch thread each
            lags.add((cfg.task.name, cfg.seq_len))
    assert len(lags) == sum(len(v) for k, v in cfg.sweep.ladders.items() if any(t == k for t, _ in lags))


def test_every_ladder_of_the_default_preset_builds_its_task_at_every_rung():
    """Each task the default preset gives a ladder (those outside its task list too: temporal order, selective
    copy, associative recall, run with `task=...`) is a task config, and each rung's lag builds the task."""
    from suite.model.components import build_task

    ladders = compose_cfg("experiment=default").sweep.ladders
    assert {"selective_copy", "assoc_recall"} <= set(ladders) <= set(TASKS)
    for task, ladder in ladders.items():
        assert list(ladder) == sorted(ladder), task  # from easy to hard
        for rung, lag in enumerate(ladder):
            cfg = compose_cfg("experiment=default", f"task={task}", f"sweep.rung={rung}")
            validate(cfg)
            built = build_task(cfg.task)
            assert (built.name, built.seq_len, cfg.seq_len) == (task, lag, lag)


def horizon_round_0(*overrides: str, sweep: tuple[str, ...] = (), preset: str = "horizon"):
    """A horizon preset's round-0 jobs and the launching process's config; `sweep`: overrides only a
    multirun's command line may hold (seed=range(30,60)), seen by the sweeper but not composed."""
    from suite.sweeping.hydra_internals import planned_jobs

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose(config_name="config", overrides=[f"experiment={preset}", *overrides], return_hydra_config=True)
        with open_dict(config):
            config.hydra.overrides.task = [f"experiment={preset}", *overrides, *sweep]
        return planned_jobs(config), config


def test_the_learning_rate_preset_screens_every_cell_at_five_rates():
    planned, config = horizon_round_0(preset="fair_lr")
    assert len(planned.jobs) == ADAPTIVE["fair_lr"]
    assert {o for job in planned.jobs for o in job if o.startswith("train.lr=")} == {
        f"train.lr={lr}" for lr in ("0.001", "0.002", "0.005", "0.01", "0.02")}
    assert (config.hydra.sweeper.target, config.hydra.sweeper.max_runs) == (3, 24)
    assert config.train.steps == 2000  # the horizon preset's budget: its runs at 5e-3 are reused
    sizes, _ = horizon_round_0(sweep=("cell=rnn", "hidden=32,64,128", "train.lr=0.0005,0.001,0.002,0.005"), preset="fair_lr")
    assert len(sizes.jobs) == 3 * 4 * 4 * 3 and all("cell=rnn" in job for job in sizes.jobs)


def test_the_budget_preset_trains_each_cell_at_its_own_rate_at_three_budgets():
    planned, config = horizon_round_0(preset="fair_budget")
    assert len(planned.jobs) == ADAPTIVE["fair_budget"]
    assert {o for job in planned.jobs for o in job if o.startswith("train.steps=")} == {
        f"train.steps={n}" for n in (500, 2000, 8000)}
    assert (config.hydra.sweeper.target, config.hydra.sweeper.max_runs) == (3, 24)
    for cell in ("rnn", "lstm", "gru"):  # each job resolves its cell's rate from sweep.lr_by_cell
        job = compose_cfg("experiment=fair_budget", f"cell={cell}", "train.steps=8000")
        assert (job.train.lr, job.train.steps) == (job.sweep.lr_by_cell[cell], 8000)
    assert compose_cfg("experiment=fair_budget", "cell=rnn").train.lr == 1e-3  # fair_lr's best for the RNN


def test_the_rnn_limit_preset_searches_the_rnn_at_its_rate_to_t_800_on_the_geometric_schedule():
    planned, config = horizon_round_0(preset="rnn_limit")
    assert len(planned.jobs) == ADAPTIVE["rnn_limit"]
    assert {o for job in planned.jobs for o in job if o.startswith("seq_len=")} == {
        f"seq_len={t}" for t in (100, 200, 400, 800)}
    assert (config.hydra.sweeper.target, config.hydra.sweeper.max_runs, config.hydra.sweeper.cap_hi) == (3, 24, 800)
    job = compose_cfg("experiment=rnn_limit", "cell=rnn", "seq_len=400")
    validate(job)
    assert (job.cell.name, job.train.lr, job.train.steps) == ("rnn", 1e-3, 8000)
    assert (job.train.eval_every, job.train.eval_growth) == (20, 1.15)
    assert compose_cfg("experiment=rnn_limit", "cell=lstm").train.lr == 5e-3  # the gated cells at their own rate


@pytest.mark.parametrize("preset, reference", [("leaderboard", 64), ("leaderboard_small", 32)])
def test_the_leaderboard_matches_every_cells_weights_to_the_lstms_on_each_task(preset, reference):
    """Each job's hidden size is its own cell's match on its own task (minGRU's differs by task), within ±5%."""
    from suite.model.components import build_model, build_task
    from suite.families.sizing import recurrent_parameters

    planned, config = horizon_round_0(preset=preset)
    assert len(planned.jobs) == ADAPTIVE[preset] and config.train.lr == 5e-3 and config.train.steps == 2000
    groups = {tuple(o for o in job if o.split("=")[0] in ("task", "cell")) for job in planned.jobs}
    assert len(groups) == (2 if preset.endswith("small") else 5) * 8  # tasks x cells, each its own size
    sizes = {}
    for task, cell in sorted(groups):
        cfg = compose_cfg(f"experiment={preset}", task, cell, "seq_len=20")
        validate(cfg)
        built = build_task(cfg.task)
        target = recurrent_parameters({"name": "lstm"}, reference, built.input_size)
        count = sum(p.numel() for p in build_model(cfg, built).rnn.parameters())
        assert abs(count - target) <= 0.05 * target, (task, cell, cfg.hidden, count, target)
        sizes[task, cell] = cfg.hidden
    assert sizes["task=memory", "cell=lstm"] == reference
    assert sizes["task=memory", "cell=mingru"] != sizes["task=selective_copy", "cell=mingru"]  # per task
    if preset == "leaderboard":  # a GPU's ladder reaches further; associative recall keeps its own
        cuda, cuda_config = horizon_round_0("device=cuda", preset=preset)
        lags: dict[str, set[int]] = {}
        for job in cuda.jobs:
            chosen = dict(o.split("=", 1) for o in job)
            lags.setdefault(chosen["task"], set()).add(int(chosen["seq_len"]))
        assert lags["memory"] == {10, 30, 90, 270, 810} and lags["assoc_recall"] == {8, 12, 20, 50}
        assert cuda_config.hydra.sweeper.cap_hi == 810


def test_the_rate_screen_composes_every_family_at_each_rate_and_the_board_takes_its_rates():
    """experiment=rate_screen: the board's round 0 at three rates, every family on every task, nothing after;
    experiment=leaderboard: each (task, cell) at its rate from sweep.lr_by_task, else the shared 5e-3."""
    planned, config = horizon_round_0(preset="rate_screen")
    assert len(planned.jobs) == ADAPTIVE["rate_screen"] and config.hydra.sweeper.max_rounds == 0
    board, _ = horizon_round_0(preset="leaderboard")
    job = lambda overrides: tuple(o for o in overrides if not o.startswith(("train.lr=", "experiment=")))  # noqa: E731
    assert {job(o) for o in planned.jobs} == {job(o) for o in board.jobs}  # the board's round 0, at 3 rates
    cells = sorted({o for job in planned.jobs for o in job if o.startswith("cell=")})
    assert len(cells) == 8
    for cell in cells:
        for lr in ("0.001", "0.003", "0.01"):
            cfg = compose_cfg("experiment=rate_screen", cell, "task=adding", f"train.lr={lr}", "seq_len=30")
            validate(cfg)
            assert cfg.train.lr == float(lr)
    rates = "+sweep.lr_by_task={memory: {mingru: 0.01, rnn: 0.001}}"
    at = lambda *o: compose_cfg("experiment=leaderboard", rates, *o).train.lr  # noqa: E731
    assert (at("cell=mingru"), at("cell=rnn"), at("cell=lstm"), at("cell=mingru", "task=adding")) == (
        0.01, 0.001, 5e-3, 5e-3)
    assert compose_cfg("experiment=leaderboard_small", rates, "cell=mingru").train.lr == 5e-3  # one shared rate
    small, _ = horizon_round_0(preset="rate_screen_small")
    board_small, _ = horizon_round_0(preset="leaderboard_small")
    assert len(small.jobs) == ADAPTIVE["rate_screen_small"]
    assert {job(o) for o in small.jobs} == {job(o) for o in board_small.jobs}
    with pytest.raises(ConfigError, match=r"sweep.lr_by_task.memory.rnn=-0.001: expected a positive number"):
        validate(compose_cfg("experiment=leaderboard", "+sweep.lr_by_task={memory: {rnn: -0.001}}"))


def test_the_horizon_preset_searches_every_group_from_one_ladder():
    planned, config = horizon_round_0()
    assert not planned.complete and len(planned.jobs) == ADAPTIVE["horizon"]
    assert {o for job in planned.jobs for o in job if o.startswith("seq_len=")} == {
        f"seq_len={t}" for t in (10, 30, 90, 200)}
    assert config.hydra.sweeper._target_.endswith("HorizonSweeper")
    assert {o for job in planned.jobs for o in job if o.startswith("seed=")} == {"seed=0", "seed=1", "seed=2"}
    sweeper = config.hydra.sweeper  # round 0 takes the first `batch` seeds of the pool range(0,30)
    assert (sweeper.batch, sweeper.target, sweeper.max_runs, sweeper.cap_hi) == (3, 2, 60, 200)
    assert config.train.steps == 2000 and config.threads == 1  # the default sweep's budget, a thread per worker
    # a GPU's ladder reaches further; a narrowed search is one group, all seeds
    cuda, cuda_config = horizon_round_0("device=cuda:1")
    assert max(int(o.split("=")[1]) for job in cuda.jobs for o in job if o.startswith("seq_len=")) == 810
    assert cuda_config.hydra.sweeper.cap_hi == 810
    one, _ = horizon_round_0("cell=rnn", "hidden=64")
    assert len(one.jobs) == 4 * 3 and all("cell=rnn" in job and "hidden=64" in job for job in one.jobs)
    # another seed pool on the command line (basic sweeper syntax): disjoint from the preset's
    other, _ = horizon_round_0("cell=rnn", "hidden=64", sweep=("seed=range(30,60)",))
    assert {o for job in other.jobs for o in job if o.startswith("seed=")} == {"seed=30", "seed=31", "seed=32"}


def test_the_search_finds_each_tasks_shortest_valid_length_from_the_real_configs():
    """What the horizon sweeper gives its search (suite.sweeping.plan.job_checker): selective copy with n_copy=4 is
    valid from seq_len=4, associative recall (2 pairs, 2 queries) from 6; the floors are found by bisection."""
    from suite.horizon.search import Search
    from suite.horizon.settings import SearchSettings
    from suite.sweeping.plan import job_checker

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        config = compose(config_name="config", overrides=["experiment=horizon"], return_hydra_config=True)
        check = job_checker(config)
        assert "task.n_copy=4" in check(["task=selective_copy", "cell=rnn", "seq_len=3"])
        assert check(["task=selective_copy", "cell=rnn", "seq_len=4"]) is None
        grid = [[f"task={task}", "cell=rnn", "seed=0"] for task in ("selective_copy", "assoc_recall", "memory")]
        search = Search(grid, SearchSettings(ladder=(10, 30)), valid=lambda overrides: check(overrides) is None)
    assert {group[0]: floor for group, floor in search.floors.items()} == {
        "task=selective_copy": 4, "task=assoc_recall": 6, "task=memory": 2}
