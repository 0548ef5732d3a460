"""Shared helpers of the benchmark scripts: a line describing the machine, an aligned table
printed and saved as CSV under benchmarks/results/, each script's goal (GOALS) and a verdict
against it, timed subprocesses.

Scripts import it as `from common import ...` (they are run as `python benchmarks/<name>.py`,
which puts this folder on sys.path); the project root is added here so `suite` and `tasks`
import even without `pip install -e .`.
"""
from __future__ import annotations

import csv
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device: str | None = None, threads: int | None = None) -> str:
    """'Intel(R) Xeon(R) Processor, 2 cores, torch 2.13.0, device cpu, 1 thread(s)'."""
    import torch

    parts = [cpu_model(), f"{os.cpu_count()} cores", f"torch {torch.__version__}"]
    if device is not None:
        parts.append(f"device {device}")
        if str(device).startswith("cuda") and torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(torch.device(device)))
    if threads is not None:
        parts.append(f"{threads} thread(s)")
    return ", ".join(parts)


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        magnitude = abs(value)
        return f"{value:.0f}" if magnitude >= 1000 else f"{value:.3g}" if magnitude >= 0.01 or value == 0 \
            else f"{value:.2e}"
    return str(value)


def print_table(rows: list[dict], columns: list[str] | None = None) -> None:
    """An aligned plain-text table; numbers right-aligned, 3 significant figures."""
    if not rows:
        print("(no rows)")
        return
    columns = columns or list(rows[0])
    cells = [[_fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(r.get(c), (int, float)) for r in rows) for c in columns]
    align = lambda text, i: text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i])  # noqa: E731
    print("  ".join(align(c, i) for i, c in enumerate(columns)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(align(text, i) for i, text in enumerate(row)))


def save_csv(name: str, rows: list[dict], quick: bool = False) -> Path:
    """benchmarks/results/<name>.csv (<name>_quick.csv for --quick runs, which git ignores)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}{'_quick' if quick else ''}.csv"
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    if not quick:  # which machine made the figures, for benchmarks/report.py
        path.with_suffix(".machine.txt").write_text(machine_line() + "\n")
    return path


def report(name: str, rows: list[dict], quick: bool, columns: list[str] | None = None) -> None:
    print()
    print_table(rows, columns)
    print(f"\nsaved {save_csv(name, rows, quick).relative_to(ROOT)}")


@dataclass(frozen=True)
class Goal:
    """A benchmark's goal: a bound on the figure its script judges, and which side of it is good."""

    bound: float
    higher_is_better: bool
    unit: str = ""  # as written after a number: "%", "×", " s"

    def met(self, value: float) -> bool:
        return value >= self.bound if self.higher_is_better else value <= self.bound

    def text(self) -> str:
        """'≤ 1.05', '≥ 1.7×', '≤ 5%', '≤ 3 s': the words of the script's verdict and of report.py's table."""
        return f"{'≥' if self.higher_is_better else '≤'} {self.bound:g}{self.unit}"


# Each goal once, by script name: the scripts judge against it and benchmarks/report.py writes it in its table.
GOALS = {
    "overhead": Goal(1.05, False),  # training-loop time through run.py ÷ the plain loop, median of A/B pairs
    "datagen": Goal(5, False, "%"),  # data sampling's share of a training step, worst task and cell
    "sweep_walltime": Goal(1.7, True, "×"),  # a sweep's wall time, basic launcher ÷ parallel launcher, on 2 cores
    "summary_speed": Goal(3, False, " s"),  # summarise_store of 1,000 runs: text only, and with files and plots
    # with 1 thread, the slowest try beside busy processes ÷ the quiet median of the same model and cell
    "threads": Goal(3, False, "×"),
    "gpu_check": Goal(180, False, " s"),  # gpu_check.py, the whole check on an H100
}


def verdict(label: str, value: float, goal: Goal, fmt: str = ".3g", quick: bool = False) -> bool:
    """Print 'overhead ratio 1.03 (goal ≤ 1.05): met' from the measured value; return whether met."""
    met = goal.met(value)
    note = " (--quick: a check of the script, not of the goal)" if quick else ""
    print(f"{label} {value:{fmt}}{goal.unit} (goal {goal.text()}): {'met' if met else 'NOT met'}{note}")
    return met


def median(values) -> float:
    return statistics.median(values)


def run_timed(cmd: list[str], env: dict | None = None, timeout: float | None = None) -> tuple[float, str]:
    """Run a command from the project root; (wall seconds, stdout). A failure stops the benchmark
    with the command and the tail of its stderr: a figure from a crashed run would mislead."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        sys.exit(f"error: exit status {proc.returncode} from: {' '.join(cmd)}\n{tail}")
    return seconds, proc.stdout


# -- the suite's task and cell configs, without Hydra (plain loops must stay light to import) --
def load_task(name: str, seq_len: int):
    """The task of conf/task/<name>.yaml at lag `seq_len`, built from its `_target_` and knobs
    (only files without a defaults list; variants such as memory_k16 need Hydra)."""
    import importlib

    import yaml

    cfg = yaml.safe_load((ROOT / "conf" / "task" / f"{name}.yaml").read_text())
    module, _, cls = cfg.pop("_target_").rpartition(".")
    cfg["seq_len"] = seq_len
    return getattr(importlib.import_module(module), cls)(**cfg)


def load_cell(name: str) -> dict:
    """A built-in cell's config as suite.model.recurrent.build_model takes it: its knobs and init recipe take
    their defaults from suite/model/cells.py, as conf/cell/<name>.yaml does."""
    return {"name": name}


def build(cell: str, task_name: str, seq_len: int, hidden: int, seed: int, device):
    """(task, model) exactly as suite.job.prepare makes them: seed, build_model, init recipe."""
    import torch

    from suite.model.recurrent import build_model

    task = load_task(task_name, seq_len)
    torch.manual_seed(seed)
    return task, build_model(load_cell(cell), hidden, task).to(device)


def plain_train(model, task, *, steps: int, batch: int, lr: float, clip: float, eval_every: int, eval_size: int,
                seed: int, device, autocast_dtype=None) -> dict:
    """A minimal plain-PyTorch version of suite.training.loop.train with early stop off and no tracking:
    the same data streams, Adam, clip, held-out evaluation every `eval_every` steps (chunks of
    1,000), and the loss read back only there. `autocast_dtype` (e.g. torch.bfloat16) runs the
    forward passes under autocast. Returns the loop's seconds (timed over the same region as
    suite.training.loop's `seconds`) and the last evaluation."""
    import contextlib

    import torch

    autocast = (lambda: torch.autocast(device_type=torch.device(device).type, dtype=autocast_dtype)) \
        if autocast_dtype is not None else contextlib.nullcontext
    train_data = task.generator("train", seed, device)
    x_eval, y_eval = task.sample(eval_size, task.generator("eval", seed, device))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_sum, since, history = torch.zeros((), device=device), 0, []
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = task.sample(batch, train_data)
        with autocast():
            loss = task.loss(model(x).float(), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimiser.step()
        loss_sum += loss.detach()
        since += 1
        if step % eval_every and step != steps:
            continue
        train_loss = float(loss_sum) / since  # the only read-back: at evaluation points
        loss_sum.zero_()
        since = 0
        model.eval()
        with torch.no_grad(), autocast():
            out = torch.cat([model(x_eval[i : i + 1000]).float() for i in range(0, len(x_eval), 1000)])
        model.train()
        metrics = {k: float(v) for k, v in task.metrics(out, y_eval).items()}
        history.append({"step": step, "train_loss": train_loss, **metrics})
    seconds = time.perf_counter() - start
    final = history[-1]
    return {"seconds": seconds, "eval_loss": final["loss"], "eval_loss_norm": final["loss"] / task.baseline_loss,
            "eval_metric": final[task.metric], "history": history}


def rnn_kernel(cell: str, device, input_size: int = 16, hidden: int = 64) -> str:
    """Which implementation torch runs for a fused cell on this device, read from the autograd graph
    of one forward pass: 'cuDNN', 'oneDNN' (torch's CPU LSTM) or 'ATen loop' (a step-by-step loop
    of matmuls and pointwise ops: torch's CPU RNN and GRU)."""
    import torch

    from suite.model.recurrent import CELLS

    module = CELLS[cell](input_size, hidden, batch_first=True).to(device)
    nodes, names = [module(torch.randn(8, 10, input_size, device=device))[0].grad_fn], set()
    while nodes and len(names) < 500:
        node = nodes.pop()
        if node is not None and node.name() not in names:
            names.add(node.name())
            nodes.extend(next_fn for next_fn, _ in node.next_functions)
    text = " ".join(names)
    return "cuDNN" if "CudnnRnn" in text else "oneDNN" if "MkldnnRnn" in text else "ATen loop"
