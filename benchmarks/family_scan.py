"""Parallel scan against a loop over time, for the families that have both (minGRU, minLSTM, LRU):
the time of one forward and backward pass of the recurrent module alone, on the CPU.

    python benchmarks/family_scan.py            # T = 50, 200, 1,000; batch 64, hidden 64, 1 thread
    python benchmarks/family_scan.py --quick    # a seconds-long check of the script

Each family's two forms compute the same function (tests/test_families.py checks it); `cell.scan`
picks one. The two forms are timed in alternation (scan, loop, scan, loop, ...) so that a busy
machine slows both alike; medians over --repeats, after a warm-up pass of each. The classic cells
(torch's fused kernels) are timed beside them for scale.
"""
from __future__ import annotations

import argparse
import time

from common import machine_line, median, report

FAMILIES = ("mingru", "minlstm", "lru")
CLASSIC = ("lstm",)


def timed_pass(rnn, x) -> float:
    start = time.perf_counter()
    out, _ = rnn(x)
    out.square().mean().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.repeats = [20], 2

    import torch

    from suite.model.recurrent import build_model
    from tasks.memory import MemoryTask

    torch.set_num_threads(1)
    print(machine_line(threads=1))
    rows = []
    for length in args.lengths:
        task = MemoryTask(seq_len=length)
        x = torch.randn(args.batch, length, task.input_size)
        for cell in (*FAMILIES, *CLASSIC):
            forms = {"scan": True, "loop": False} if cell in FAMILIES else {"fused": None}
            rnns = {}
            for form, scan in forms.items():
                torch.manual_seed(0)
                cfg = {"name": cell} if scan is None else {"name": cell, "scan": scan}
                rnns[form] = build_model(cfg, args.hidden, task).rnn
                timed_pass(rnns[form], x)  # warm-up
            times = {form: [] for form in forms}
            for _ in range(args.repeats):
                for form, rnn in rnns.items():
                    times[form].append(timed_pass(rnn, x))
            row = {"cell": cell, "T": length, **{f"{form}_ms": 1000 * median(t) for form, t in times.items()}}
            if "scan" in forms:
                row["loop/scan"] = row["loop_ms"] / row["scan_ms"]
            rows.append(row)
            print(row, flush=True)
    report("family_scan", rows, args.quick, ["cell", "T", "scan_ms", "loop_ms", "loop/scan", "fused_ms"])


if __name__ == "__main__":
    main()
