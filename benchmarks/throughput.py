"""Training throughput of each cell through the suite's own training loop, over a grid of
lag x hidden x batch, with the achieved GFLOP/s of the recurrent part next to a measured
matrix-multiply peak of the same machine.

    python benchmarks/throughput.py                  # memory task, T 50,100,200 x H 64,128 x batch 32,128, 1 thread
    python benchmarks/throughput.py --quick          # a seconds-long check of the script
    python benchmarks/throughput.py --seq-len 100 --hidden 64 --batch 64    # a single point
    python benchmarks/throughput.py --threads 2 --device cuda
    python benchmarks/throughput.py --matched        # every cell at the LSTM's weight count (h=64), T 50,200,1000, batch 64

--matched trains every cell the suite builds (the classic three and the modern families) at the hidden size
that matches the LSTM's weight count at h=64 (suite.families.sizing), and reports updates per second: the
families' recurrences are not gate matmuls, so no FLOP count or % of peak is given for them.

Each point runs suite.training.loop.train (data drawn on the device, Adam, clipping; early stop off, one
tiny evaluation at the end) for about --seconds per repeat after an untimed warm-up; the figure is
the median of --repeats.

FLOPs counted: the recurrent layers only. Per sequence step and layer, g gates (rnn 1, gru 3,
lstm 4) x 2 matmuls (input I -> gH and recurrent H -> gH) x 2 FLOPs per multiply-add, i.e.
2gH(I+H); forward + backward = 3 x forward. Divided by the wall time of the *whole* step (data,
head, loss, optimiser included), so it is a lower bound on what the fused kernels achieve.
Peak: the best torch.mm on square float32 matrices with the same threads and device. The kernel
column says what torch runs for each cell (a profile of one step): on a CPU only the LSTM gets
oneDNN's fused kernel; the tanh RNN and the GRU run ATen's step-by-step loop.
Goal: none fixed; the % of peak says how close to the hardware the fused kernels get.
"""
from __future__ import annotations

import argparse
import math
import time

from common import load_task, machine_line, median, report, rnn_kernel

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def matmul_peak(device, sizes, repeats: int = 5) -> float:
    """Best GFLOP/s of torch.mm on n x n float32 matrices (2n^3 FLOPs)."""
    import torch

    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        torch.mm(a, b)  # warm-up (thread pool, cuBLAS handle)
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            torch.mm(a, b)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def recurrent_flops(cell: str, input_size: int, hidden: int, layers: int = 1) -> float:
    """Training FLOPs of the recurrent layers per sequence per time step (forward + backward)."""
    g = GATES[cell]
    forward = sum(2 * g * hidden * ((input_size if layer == 0 else hidden) + hidden) for layer in range(layers))
    return 3 * forward


MATCHED_CELLS = ["rnn", "lstm", "gru", "mingru", "minlstm", "lru", "s6", "exprnn"]


def measure(cell: str, task, hidden: int, batch: int, device, seconds: float, repeats: int,
            min_steps: int = 10) -> float:
    """Median training sequences per second through suite.training.loop.train."""
    import torch

    from common import load_cell
    from suite.config import TrainConfig
    from suite.model.recurrent import build_model
    from suite.training.loop import train

    def run(steps: int, seed: int):
        torch.manual_seed(seed)
        model = build_model(load_cell(cell), hidden, task).to(device)
        # A tiny held-out set evaluated once, no early stop: the figure is the cost of training steps.
        cfg = TrainConfig(steps=steps, batch=batch, eval_every=steps, eval_size=16, early_stop=False)
        result = train(model, task, cfg, seed=seed, device=device, progress=False)
        return result.steps * batch / result.seconds

    run(3, 0)  # warm-up: thread pool, kernel selection, cuDNN/cuBLAS handles, allocator
    rate = run(8, 0)  # a first estimate of the rate, to size the timed runs
    steps = max(min_steps, math.ceil(seconds * rate / batch))
    return median(run(steps, repeat) for repeat in range(repeats))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="memory")
    p.add_argument("--cells", nargs="+", default=None, choices=MATCHED_CELLS,
                   help="default: rnn lstm gru; with --matched, every cell")
    p.add_argument("--seq-len", nargs="+", type=int, help="default: 50 100 200; with --matched, 50 200 1000")
    p.add_argument("--hidden", nargs="+", type=int, default=[64, 128])
    p.add_argument("--batch", nargs="+", type=int, help="default: 32 128; with --matched, 64")
    p.add_argument("--seconds", type=float, default=1.0, help="timed seconds per repeat (sets the steps)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="T=50, H=64, batch 32, short repeats")
    p.add_argument("--matched", action="store_true", help="every cell at the LSTM's weight count, updates/s")
    args = p.parse_args()
    if args.matched:
        return matched(args)
    args.cells = args.cells or ["rnn", "lstm", "gru"]
    if not set(args.cells) <= set(GATES):
        p.error(f"--cells: the FLOP-counted grid takes {', '.join(GATES)}; the others run with --matched")
    args.seq_len, args.batch = args.seq_len or [50, 100, 200], args.batch or [32, 128]
    import torch

    if args.quick:
        args.seq_len, args.hidden, args.batch, args.seconds, args.repeats = [50], [64], [32], 0.3, 1
    device = set_up(args)
    peak = matmul_peak(device, [512, 1024] if args.quick else [1024, 2048])
    print(f"matmul peak (torch.mm, float32): {peak:.1f} GFLOP/s")
    if device.type == "cuda":
        print(f"cuDNN enabled {torch.backends.cudnn.enabled}, TF32 in cuDNN {torch.backends.cudnn.allow_tf32}, "
              f"TF32 in matmul {torch.backends.cuda.matmul.allow_tf32}")

    kernels = {cell: rnn_kernel(cell, device) for cell in args.cells}
    print("kernels: " + ", ".join(f"{cell} {kernel}" for cell, kernel in kernels.items()))
    rows = []
    for seq_len in args.seq_len:
        task = load_task(args.task, seq_len)
        for hidden in args.hidden:
            for batch in args.batch:
                for cell in args.cells:
                    rate = measure(cell, task, hidden, batch, device, args.seconds, args.repeats)
                    gflops = rate * task.length * recurrent_flops(cell, task.input_size, hidden) / 1e9
                    rows.append({"cell": cell, "kernel": kernels[cell], "task": task.name, "seq_len": seq_len,
                                 "hidden": hidden, "batch": batch, "seqs_per_s": rate, "ms_per_step": 1000 * batch / rate,
                                 "gflops": gflops, "pct_of_peak": 100 * gflops / peak, "peak_gflops": peak})
                    print(f"  {cell:4} T={seq_len:<4} H={hidden:<4} batch {batch:<4} {rate:8.0f} seqs/s "
                          f"{gflops:7.2f} GFLOP/s", flush=True)
    report("throughput" if device.type == "cpu" else f"throughput_{device.type}", rows, args.quick,
           ["cell", "kernel", "seq_len", "hidden", "batch", "seqs_per_s", "ms_per_step", "gflops", "pct_of_peak"])
    best = max(rows, key=lambda r: r["pct_of_peak"])
    print(f"best: {best['cell']} T={best['seq_len']} H={best['hidden']} batch {best['batch']} reaches "
          f"{best['pct_of_peak']:.0f}% of the measured matmul peak ({best['gflops']:.1f} of {peak:.1f} GFLOP/s); "
          f"median over the grid {median(r['pct_of_peak'] for r in rows):.0f}%")


def set_up(args):
    """One thread count, denormals flushed (as suite.job does for every run), the device; the machine printed."""
    import torch

    from suite.config import resolve_device

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = resolve_device(args.device)
    print(machine_line(device.type, args.threads))
    return device


def matched(args) -> None:
    """Updates per second of every cell at the LSTM's weight count (h=64 on the task), T 50, 200, 1,000 by default,
    batch 64: the rows of the performance table for the modern families beside the classic three."""
    from suite.families.sizing import hidden_by_cell, recurrent_parameters

    cells = args.cells or MATCHED_CELLS
    lengths = [50] if args.quick else args.seq_len or [50, 200, 1000]
    batch = args.batch[0] if args.batch else 64
    device = set_up(args)
    input_size = load_task(args.task, lengths[0]).input_size
    sizes = hidden_by_cell(cells, reference="lstm", reference_hidden=64, input_size=input_size)
    rows = []
    for seq_len in lengths:
        task = load_task(args.task, seq_len)
        for cell in cells:
            # few steps at long lags: S6's pure-torch scan takes seconds a step at T=1,000 on one core
            rate = measure(cell, task, sizes[cell], batch, device, 0.3 if args.quick else args.seconds,
                           1 if args.quick else args.repeats, min_steps=3)
            rows.append({"cell": cell, "task": task.name, "seq_len": seq_len, "hidden": sizes[cell],
                         "weights": recurrent_parameters({"name": cell}, sizes[cell], input_size), "batch": batch,
                         "updates_per_s": rate / batch, "seqs_per_s": rate, "ms_per_step": 1000 * batch / rate})
            print(f"  {cell:7} T={seq_len:<5} h={sizes[cell]:<4} {rate / batch:8.2f} updates/s", flush=True)
    name = "throughput_matched" if device.type == "cpu" else f"throughput_matched_{device.type}"
    report(name, rows, args.quick, ["cell", "seq_len", "hidden", "weights", "batch", "updates_per_s", "ms_per_step"])


if __name__ == "__main__":
    main()
