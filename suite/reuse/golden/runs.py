"""The golden runs: which they are, training one, and comparing its numbers with the committed ones."""
from __future__ import annotations

import math
from contextlib import contextmanager
import torch

from suite.config import CONF_DIR, compose

REFERENCE_TASK, REFERENCE_CELL = "memory", "lstm"
# Small enough to train all of them in seconds, long enough for two evaluations and a gradient profile.
# The schedule is spelled out (every 3 steps), so a change of the default schedule moves no golden number.
TINY = ["seq_len=12", "hidden=8", "seed=0", "device=cpu", "threads=1", "train.steps=6", "train.eval_every=3",
        "train.eval_growth=null", "train.batch=4", "train.eval_size=16", "diagnostics.every=3", "diagnostics.batch=4"]
REL, ABS = 1e-9, 1e-12  # float64: far above another CPU's rounding, far below any change of behaviour
CRITERION_STEP = 1e-9  # the criterion is also asked just above and below its threshold


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))


def golden_runs() -> dict[str, dict]:
    """{name: {"cell", "task", "overrides"}}: every cell on the reference task, every task with the reference cell."""
    pairs = {(cell, REFERENCE_TASK) for cell in options("cell")} | {(REFERENCE_CELL, task) for task in options("task")}
    runs = {f"{cell}-{task}": {"cell": cell, "task": task, "overrides": [f"cell={cell}", f"task={task}", *TINY]}
            for cell, task in sorted(pairs)}
    # the loop's early stop at the memoryless baseline, which no default run takes
    runs["lstm-memory-stop_at_baseline"] = {"cell": REFERENCE_CELL, "task": REFERENCE_TASK, "overrides": [
        f"cell={REFERENCE_CELL}", f"task={REFERENCE_TASK}", *TINY, "train.stop_at_baseline_after=1"]}
    return runs


@contextmanager
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def weight_digest(model: torch.nn.Module) -> dict[str, list[float]]:
    """Per parameter: its sum, its sum of squares and its projection on fixed random numbers."""
    digest = {}
    for name, p in sorted(model.named_parameters()):
        w = p.detach().double().flatten()
        probe = torch.rand(w.numel(), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        digest[name] = [float(w.sum()), float((w * w).sum()), float((w * probe).sum())]
    return digest


def train_golden(overrides: list[str]) -> dict:
    """Train one golden run in float64 on the CPU; every number it produces."""
    from suite.training.configured import build, set_up, train_configured

    cfg = compose(*overrides)
    evaluations = []
    with float64(), torch.random.fork_rng():
        set_up(cfg.threads)
        task, model = build(cfg, torch.device("cpu"))
        trained, diagnostics = train_configured(cfg, task, model, torch.device("cpu"),
                                                log=lambda step, metrics: evaluations.append({"step": step, **metrics}))
    threshold = task.solve_threshold
    criterion = {f"{task.metric}={label}": task.solved({task.metric: threshold + delta})
                 for label, delta in (("threshold", 0.0), ("above", CRITERION_STEP), ("below", -CRITERION_STEP))}
    return {"outcome": trained.outcome, "steps": trained.steps, "steps_to_solve": trained.steps_to_solve,
            "evaluations": evaluations, "criterion": criterion,
            "profiles": [[step, norms] for step, norms in (diagnostics.profiles if diagnostics else [])],
            "weights": weight_digest(model)}


def moved(expected, actual, path: str = "") -> list[str]:
    """'path: expected -> actual' for every number or value that differs (numbers: beyond REL/ABS)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [line for key in sorted({*expected, *actual}, key=str)
                for line in moved(expected.get(key, "(missing)"), actual.get(key, "(missing)"), f"{path}.{key}")]
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path.lstrip('.')}: {len(expected)} items -> {len(actual)}"]
        return [line for i, (e, a) in enumerate(zip(expected, actual)) for line in moved(e, a, f"{path}[{i}]")]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (expected, actual))
    if numbers and (math.isclose(expected, actual, rel_tol=REL, abs_tol=ABS)
                    or (math.isnan(expected) and math.isnan(actual))):
        return []
    return [] if not numbers and expected == actual else [f"{path.lstrip('.')}: {expected!r} -> {actual!r}"]


def check(names: list[str] | None = None) -> dict[str, list[str]]:
    """{golden run: what moved} for the runs (all by default) whose numbers differ from the committed ones."""
    from suite.reuse.golden import committed

    runs, stored = golden_runs(), committed()
    out = {}
    for name in names or sorted({*runs, *stored}):
        if name not in stored:
            out[name] = ["not in the committed golden numerics: regenerate them (python -m suite.reuse.golden --write)"]
        elif name not in runs:
            out[name] = ["committed, but no such golden run any more: regenerate them"]
        else:
            lines = moved(stored[name]["numbers"], train_golden(runs[name]["overrides"]))
            if lines:
                out[name] = lines
    return out
