"""The "Add a task" tutorial of docs/tasks.md and the "Add a cell" tutorial of docs/cells.md, performed literally
from the pages' own text."""
import math
import re

import pytest

from tests.conftest import ROOT, store_runs

# The tutorials' commands go through run.py's entry point in this process (the `run_py` fixture: the same
# arguments, PYTHONPATH on sys.path, exit status and stderr); the one subprocess is the doc's printed error.


PAGE = ROOT / "docs" / "tasks.md"


def tutorial_section() -> str:
    """The page's 'Add a task' section, up to the next section."""
    return PAGE.read_text(encoding="utf-8").split("## Add a task", 1)[1].split("\n## ", 1)[0]


def tutorial_files() -> dict[str, str]:
    """The code blocks of the page's 'Add a task' section that start with '# file: <path>'."""
    section = tutorial_section()
    files = {}
    for block in re.findall(r"```\w*\n(.*?)```", section, flags=re.S):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            files[first[len("# file: "):].strip()] = body
    return files


def tutorial_command(section_cmd_dir) -> list[str]:
    """The overrides of the page's run command, with its $PWD made the given folder."""
    line = next(l for l in tutorial_section().splitlines() if l.startswith("PYTHONPATH="))
    words = line.replace("$PWD", str(section_cmd_dir)).split()
    return [w for w in words if "=" in w and not w.startswith("PYTHONPATH=") and w != "python"]


@pytest.fixture
def extension(tmp_path):
    files = tutorial_files()
    assert {"my_ext/my_tasks.py", "my_ext/conf/task/delayed_xor.yaml"} <= files.keys()
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def test_the_tutorial_adds_a_task_from_outside_the_tree(extension, run_py):
    args = tutorial_command(extension) + ["train.steps=20", "train.eval_every=10", "train.eval_size=64"]
    assert "task=delayed_xor" in args and any(a.startswith("hydra.searchpath=") for a in args)
    proc = run_py(*args, cwd=extension, env={"PYTHONPATH": str(extension / "my_ext")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = store_runs(extension).iloc[0]
    assert run["status"] == "FINISHED" and run["tags.task"] == "delayed_xor"
    assert run["tags.mlflow.runName"] == "lstm-delayed_xor-T20-h64-s0"
    assert float(run["params.baseline_loss"]) == pytest.approx(math.log(2))
    assert math.isfinite(run["metrics.eval_accuracy"]) and run["tags.task_metric"] == "accuracy"


def test_the_tutorials_lag_and_baseline_are_right(extension, monkeypatch):
    """The tutorial's DelayedXor states a lag and a baseline: both checked as the built-in tasks' are."""
    from tests.test_tasks import measure_memoryless

    monkeypatch.syspath_prepend(str(extension / "my_ext"))
    task = __import__("my_tasks").DelayedXor(seq_len=7)
    x, _ = task.sample(1000, task.generator("train", 0))
    held = (x.argmax(-1) < 2).nonzero()[:, 1].view(-1, 2)  # the two bits' indices (2 is the blank)
    distances = (task.length - 1 - held).double()
    assert (task.lag.min, task.lag.mean, task.lag.max) == (distances.min(), distances.mean(), distances.max())
    measured, tolerance = measure_memoryless(task)
    assert abs(measured - task.baseline_loss) <= tolerance


BROKEN = {
    "does_not_import": ("_target_: my_tasks.NoSuchTask\nname: broken\nseq_len: ${seq_len}\n",
                        "task._target_='my_tasks.NoSuchTask' in task/broken.yaml"),
    "no_name": ("_target_: my_tasks.DelayedXor\nseq_len: ${seq_len}\n", "task.name is missing in task/broken.yaml"),
    "not_a_task": ("_target_: collections.OrderedDict\nname: broken\nseq_len: ${seq_len}\n",
                   "is not a subclass of tasks.base.Task"),
    "bad_knob": ("_target_: my_tasks.DelayedXor\nname: broken\nseq_len: 0\n", "task.seq_len=0"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_task_config_fails_in_one_line_before_training(extension, run_py, case):
    text, expected = BROKEN[case]
    (extension / "my_ext/conf/task/broken.yaml").write_text(text)
    args = [f"hydra.searchpath=[file://{extension}/my_ext/conf]", "task=broken"]
    proc = run_py(*args, cwd=extension, env={"PYTHONPATH": str(extension / "my_ext")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    runs = store_runs(extension)
    assert runs is None or len(runs) == 0


def test_a_bug_in_a_task_class_shows_its_traceback_and_whose_bug_it_is(extension, run_py):
    """Not a config error: the traceback reaches the task's own line, and the last line names its class.
    (In this process, an exception leaving run.py's entry point is printed as the interpreter prints it: the real
    process's exit status 1 and traceback are tests/test_cli.py's.)"""
    code = (extension / "my_ext/my_tasks.py").read_text()
    (extension / "my_ext/my_tasks.py").write_text(code.replace(
        "        super().__init__(seq_len, solve_threshold, name)",
        "        super().__init__(seq_len, solve_threshold, name)\n        self.scale = 1 / (seq_len - seq_len)", 1))
    args = [f"hydra.searchpath=[file://{extension}/my_ext/conf]", "task=delayed_xor", "seq_len=20"]
    proc = run_py(*args, cwd=extension, env={"PYTHONPATH": str(extension / "my_ext")})
    assert proc.returncode not in (0, 2), proc.stderr[-2000:]  # 2 says "fix your config": it is not
    assert "self.scale = 1 / (seq_len - seq_len)" in proc.stderr and "ZeroDivisionError" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "a bug in my_tasks.DelayedXor, not in the config" in last, proc.stderr[-2000:]
    runs = store_runs(extension)
    assert runs is None or len(runs) == 0  # nothing half-logged


CUSTOM_CELL = '''
import torch
from torch import nn


class LeakyRNN(nn.Module):
    """h_t = (1 - a) h_{t-1} + a tanh(W x_t + U h_{t-1}): a user's own cell, torch's recurrent interface."""

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=True, leak=0.5):
        super().__init__()
        self.hidden_size, self.num_layers, self.leak = hidden_size, num_layers, leak
        self.inp = nn.Linear(input_size, hidden_size)
        self.rec = nn.Linear(hidden_size, hidden_size, bias=False)

    def forward(self, x, state=None):
        h = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state[-1]
        outputs = []
        for t in range(x.shape[1]):
            h = (1 - self.leak) * h + self.leak * torch.tanh(self.inp(x[:, t]) + self.rec(h))
            outputs.append(h)
        return torch.stack(outputs, dim=1), h[None]
'''


def test_a_custom_cell_from_outside_the_tree(tmp_path, run_py):
    (tmp_path / "ext/conf/cell").mkdir(parents=True)
    (tmp_path / "ext/my_cells.py").write_text(CUSTOM_CELL)
    (tmp_path / "ext/conf/cell/leaky.yaml").write_text("_target_: my_cells.LeakyRNN\nname: leaky\nlayers: 1\nleak: 0.3\n")
    args = [f"hydra.searchpath=[file://{tmp_path}/ext/conf]", "cell=leaky", "seq_len=8", "hidden=8",
            "train.steps=4", "train.eval_every=2", "train.eval_size=32", "diagnostics.every=2"]
    proc = run_py(*args, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "ext")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = store_runs(tmp_path).iloc[0]
    assert run["status"] == "FINISHED" and run["tags.cell"] == "leaky" and run["params.cell.leak"] == "0.3"
    assert math.isfinite(run["metrics.grad_log10_ratio"])  # diagnostics work on any recurrent module
    # n_params: input 16*8+8, recurrent 8*8, head 8*8+8
    assert run["params.n_params"] == str(16 * 8 + 8 + 64 + 8 * 8 + 8)


# --- the "Add a cell" tutorial of docs/cells.md, performed literally from its text ---

CELL_DOC = ROOT / "docs" / "cells.md"


def cell_section() -> str:
    """The page's 'Add a cell' section, up to the next section (its ### subsections included)."""
    return CELL_DOC.read_text(encoding="utf-8").split("## Add a cell", 1)[1].split("\n## ", 1)[0]


@pytest.fixture
def cell_extension(tmp_path):
    files = {}
    for block in re.findall(r"```\w*\n(.*?)```", cell_section(), flags=re.S):
        first, _, body = block.partition("\n")
        if first.startswith("# file: "):
            files[first[len("# file: "):].strip()] = body
    assert set(files) == {"my_ext/my_cells.py", "my_ext/conf/cell/indrnn.yaml"}
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def cell_command(folder) -> list[str]:
    line = next(l for l in cell_section().splitlines() if l.startswith("PYTHONPATH="))
    words = line.replace("$PWD", str(folder)).split()
    return [w for w in words if "=" in w and not w.startswith("PYTHONPATH=") and w != "python"]


TINY_RUN = ["hidden=8", "train.steps=4", "train.eval_every=2", "train.eval_size=32", "diagnostics.every=2"]


def test_the_tutorial_adds_a_cell_from_outside_the_tree(cell_extension, run_py):
    args = cell_command(cell_extension) + TINY_RUN
    assert "cell=indrnn" in args and any(a.startswith("hydra.searchpath=") for a in args)
    proc = run_py(*args, cwd=cell_extension, env={"PYTHONPATH": str(cell_extension / "my_ext")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = store_runs(cell_extension).iloc[0]
    assert run["status"] == "FINISHED" and run["tags.cell"] == "indrnn" and run["params.cell.u_max"] == "1.0"
    assert run["tags.mlflow.runName"] == "indrnn-memory-T20-h8-s0"
    assert math.isfinite(run["metrics.grad_log10_ratio"])
    assert run["params.n_params"] == str(16 * 8 + 8 + 8 + 8 * 8 + 8)  # W, b, u; the head


def test_a_cell_that_breaks_the_contract_stops_in_one_line_before_training_as_the_tutorial_shows(cell_extension, run_py):
    code = cell_extension / "my_ext/my_cells.py"
    code.write_text(code.read_text().replace("h, outputs = inp(x), state[layer], []",
                                             "h, outputs = inp(x), torch.zeros_like(state[layer]), []"))
    proc = run_py(*cell_command(cell_extension), cwd=cell_extension,
                  env={"PYTHONPATH": str(cell_extension / "my_ext")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    shown = next(l for l in cell_section().splitlines() if l.startswith("error: cell._target_="))
    assert lines == [shown], proc.stderr[-2000:]
    runs = store_runs(cell_extension)
    assert runs is None or len(runs) == 0


def test_a_sweep_with_a_broken_cell_in_job_1_stops_before_job_0_trains(cell_extension, run_py):
    (cell_extension / "my_ext/my_cells.py").write_text((cell_extension / "my_ext/my_cells.py").read_text() + '''

class Detached(IndRNN):
    def forward(self, x, state=None):
        out, h = super().forward(x, state)
        return out, h.detach()
''')
    (cell_extension / "my_ext/conf/cell/detached.yaml").write_text("_target_: my_cells.Detached\nname: detached\n")
    args = ["-m", f"hydra.searchpath=[file://{cell_extension}/my_ext/conf]", "cell=indrnn,detached", "seq_len=6",
            *TINY_RUN]
    proc = run_py(*args, cwd=cell_extension, env={"PYTHONPATH": str(cell_extension / "my_ext")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and re.match(r"error: job #1 \(cell=detached .*\): cell\._target_='my_cells\.Detached': "
                                         r"state part 0 is not in the autograd graph", errors[0]), proc.stderr[-2000:]
    assert not (cell_extension / "mlflow.db").exists()  # no parent run, no child run, not even a database


@pytest.mark.cli
def test_the_families_doc_shows_the_error_run_py_prints(cli):
    """A real process (the CLI tier's one for exit status 2): all that `python run.py` prints on stderr for a
    config error, interpreter and imports included, is the doc's one line."""
    line = next(l for l in CELL_DOC.read_text(encoding="utf-8").splitlines() if l.startswith("$ python run.py "))
    expected = CELL_DOC.read_text(encoding="utf-8").split(line + "\n", 1)[1].splitlines()[0]
    proc = cli(*line.split()[3:])
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [expected], proc.stderr[-2000:]
