"""How many torch threads a run should use: training time with 1 thread and with torch's own count,
on a quiet machine and with one and two busy processes beside it, several tries each.

    python benchmarks/threads.py            # every cell, a small and a large model (~10 min on 2 cores)
    python benchmarks/threads.py --quick    # a check of the script

Each try is a fresh process (torch's thread pool is set up once per process) that trains a fixed
number of steps through suite.training.loop's plain twin (benchmarks/common.py) and reports the loop's
seconds. A try that runs past `--cap` seconds is stopped and counted as collapsed: with more
threads than free cores, OpenMP's threads wait for each other at every step and a 2-second run
can take minutes. Prints the spread of the tries, not only their median, and a verdict.

Goal (common.GOALS["threads"]): with 1 thread, no collapse beside busy processes: the slowest try
there ÷ the quiet median of the same model and cell (worst_slowdown).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

from common import GOALS, ROOT, report, verdict

SIZES = {"small": {"hidden": 64, "batch": 64}, "large": {"hidden": 256, "batch": 128}}  # small: the default run
SEQ_LEN = 50  # the default run's lag (memory task)
CHILD = """
import json, sys, torch
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
threads = {threads}
if threads is not None:
    torch.set_num_threads(threads)
torch.set_flush_denormal(True)
from common import build, plain_train
task, model = build({cell!r}, "memory", {seq_len}, {hidden}, 0, "cpu")
out = plain_train(model, task, steps={steps}, batch={batch}, lr=5e-3, clip=1.0, eval_every={steps}, eval_size=256,
                  seed=0, device="cpu")
print(json.dumps({{"seconds": out["seconds"], "threads_used": torch.get_num_threads()}}))
"""


def burn(stop) -> None:
    """A busy process: what a browser, an IDE or another run does to the machine, at its worst."""
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def one_try(cell: str, size: dict, threads: int | None, steps: int, cap: float) -> tuple[float, int | None]:
    """(loop seconds, torch's thread count), or (cap, None) when the try ran past the cap."""
    code = CHILD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), threads=threads, cell=cell,
                        seq_len=SEQ_LEN, steps=steps, **size)
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=cap + 10, env=env)
    except subprocess.TimeoutExpired:
        return cap, None
    if proc.returncode != 0:
        sys.exit(f"error: a try failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return min(out["seconds"], cap), out["threads_used"]


def measure(cells, sizes, loads, tries, steps, cap) -> list[dict]:
    rows = []
    for load in loads:
        stop = multiprocessing.Event()
        burners = [multiprocessing.Process(target=burn, args=(stop,), daemon=True) for _ in range(load)]
        for b in burners:
            b.start()
        time.sleep(0.5 if load else 0)
        try:
            for size_name in sizes:
                for cell in cells:
                    for threads in (1, None):
                        results = [one_try(cell, SIZES[size_name], threads, steps[size_name], cap) for _ in range(tries)]
                        seconds = sorted(s for s, _ in results)
                        used = next((u for _, u in results if u is not None), None)
                        rows.append({"size": size_name, "cell": cell, "busy_processes": load,
                                     "threads": "1" if threads == 1 else f"null ({used or '?'})",
                                     "steps": steps[size_name], "min_s": seconds[0], "median_s": seconds[len(seconds) // 2],
                                     "max_s": seconds[-1], "collapsed": sum(s >= cap for s in seconds), "tries": tries})
                        print(f"{size_name:5} {cell:4} busy={load} threads={rows[-1]['threads']:9} "
                              f"tries: {', '.join(f'{s:.1f}' for s in seconds)} s", flush=True)
        finally:
            stop.set()
            for b in burners:
                b.join()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one cell, one try: a check of the script")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--cap", type=float, default=20.0, help="seconds after which a try counts as collapsed")
    args = parser.parse_args()
    cells = ["lstm"] if args.quick else ["rnn", "lstm", "gru"]
    tries = 1 if args.quick else args.tries
    steps = {"small": 20, "large": 3} if args.quick else {"small": 300, "large": 15}
    rows = measure(cells, list(SIZES), (0, 1, 2), tries, steps, args.cap)
    report("threads", rows, args.quick)
    # The verdict: does torch's own count ever collapse where 1 thread does not, and what does 1 thread
    # cost on a quiet machine?
    worst_one, worst_default = worst_slowdown(rows, one_thread=True), worst_slowdown(rows, one_thread=False)
    quiet = lambda s, c, one: quiet_row(rows, s, c, one)["median_s"]  # noqa: E731
    quiet_cost = max(quiet(s, c, True) / quiet(s, c, False) for s in SIZES for c in cells)
    print(f"\nworst slow-down under load, against the same setting on a quiet machine: 1 thread {worst_one:.1f}x, "
          f"torch's own count {worst_default:.1f}x")
    print(f"what 1 thread costs on a quiet machine, worst case: {quiet_cost:.2f}x torch's own count")
    verdict("1 thread: worst slow-down under load", worst_one, GOALS["threads"], quick=args.quick)


def quiet_row(rows: list[dict], size: str, cell: str, one_thread: bool) -> dict:
    """The row of a model size, cell and setting (1 thread or torch's own count) on a quiet machine."""
    return next(r for r in rows if (r["size"], r["cell"], str(r["busy_processes"])) == (size, cell, "0")
                and (r["threads"] == "1") == one_thread)


def worst_slowdown(rows: list[dict], one_thread: bool = True) -> float:
    """What the verdict judges (against common.GOALS["threads"]) for 1 thread, also for torch's own count: over
    every size, cell and load, the slowest try ÷ the quiet median of the same size, cell and setting.
    `rows` as measure() makes them or as benchmarks/results/threads.csv holds them (text), for report.py."""
    return max(float(r["max_s"]) / float(quiet_row(rows, r["size"], r["cell"], one_thread)["median_s"])
               for r in rows if (r["threads"] == "1") == one_thread)


if __name__ == "__main__":
    main()
