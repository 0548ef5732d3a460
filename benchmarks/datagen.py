"""Data generation's share of a training step: `task.sample(batch, generator)` alone against a full
training step (sample + forward + backward + clip + Adam) on the same batch size, per task and cell.

    python benchmarks/datagen.py             # copy, adding, memory, temporal_order at T=100, batch 64, 1 thread
    python benchmarks/datagen.py --quick     # a seconds-long check of the script

Goal (common.GOALS["datagen"]): sampling's share of a training step, for every task and cell (the
verdict uses the worst row, usually the tanh RNN, whose step is the cheapest).

The training step here is suite.training.loop's step written out (the suite has no hook to time its
parts), timed step by step; medians over --steps, after a few untimed warm-up steps.
"""
from __future__ import annotations

import argparse
import time

from common import GOALS, build, machine_line, median, report, verdict

TASKS = ("copy", "adding", "memory", "temporal_order")


def timed(fn, n: int, device, warmup: int = 3) -> float:
    """Median seconds of fn() over n calls (CUDA: synchronised around each call)."""
    import torch

    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100, help="timed calls of each kind")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="the rnn only, 15 timed calls")
    args = p.parse_args()
    import torch

    from suite.config import resolve_device

    if args.quick:
        args.cells, args.steps = ["rnn"], 15
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as suite.job does
    device = resolve_device(args.device)
    print(machine_line(device.type, args.threads))
    print(f"T={args.seq_len}, H={args.hidden}, batch {args.batch}, medians of {args.steps} calls")

    rows = []
    for task_name in args.tasks:
        for cell in args.cells:
            task, model = build(cell, task_name, args.seq_len, args.hidden, 0, device)
            gen = task.generator("train", 0, device)
            optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)

            def step():  # suite.training.loop's hot loop body
                x, y = task.sample(args.batch, gen)
                loss = task.loss(model(x), y)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()

            sample_s = timed(lambda: task.sample(args.batch, gen), args.steps, device)
            step_s = timed(step, args.steps, device)
            rows.append({"task": task_name, "cell": cell, "seq_len": args.seq_len, "input_size": task.input_size,
                         "sample_ms": 1000 * sample_s, "step_ms": 1000 * step_s, "share_pct": 100 * sample_s / step_s})
            print(f"  {task_name:15} {cell:4} sample {1000 * sample_s:7.3f} ms, step {1000 * step_s:7.2f} ms",
                  flush=True)
    report("datagen" if device.type == "cpu" else f"datagen_{device.type}", rows, args.quick)
    worst = max(rows, key=lambda r: r["share_pct"])
    verdict(f"data generation share, worst row ({worst['task']}, {worst['cell']})", worst["share_pct"],
            GOALS["datagen"], fmt=".2f", quick=args.quick)


if __name__ == "__main__":
    main()
