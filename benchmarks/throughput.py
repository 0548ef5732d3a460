"""Training throughput of each cell through the suite's own training loop.

    python benchmarks/throughput.py                      # memory task, T=100, H=64, batch 64, 1 thread
    python benchmarks/throughput.py --seq-len 50 --hidden 128 --threads 2 --device cuda

Prints training sequences per second per cell (median of --repeats runs).
"""
from __future__ import annotations

import argparse
import statistics

import torch

from suite.config import TrainConfig, resolve_device
from suite.model import build_model
from suite.train import train
from tasks.memory import MemoryTask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as suite.job does for every run
    device = resolve_device(args.device)
    task = MemoryTask(seq_len=args.seq_len)
    # A tiny held-out set and no early stop, so the figure is the cost of training steps.
    cfg = TrainConfig(steps=args.steps, batch=args.batch, eval_every=args.steps, eval_size=16, early_stop=False)
    print(f"memory task, T={args.seq_len}, H={args.hidden}, batch {args.batch}, {args.steps} steps, "
          f"{args.threads} thread(s), {device}")
    print(f"{'cell':6} {'seqs/s':>10} {'ms/step':>9}")
    for cell in ("rnn", "lstm", "gru"):
        rates = []
        for repeat in range(args.repeats):
            torch.manual_seed(repeat)
            model = build_model({"name": cell}, args.hidden, task).to(device)
            result = train(model, task, cfg, seed=repeat, device=device, progress=False)
            rates.append(result.steps * args.batch / result.seconds)
        rate = statistics.median(rates)
        print(f"{cell:6} {rate:10.0f} {1000 * args.batch / rate:9.2f}")


if __name__ == "__main__":
    main()
