"""Forward and backward of the explicit cells (suite/model/explicit.py) at a long lag, per update.

    python benchmarks/explicit_backward.py --label "unbind"     # appends its rows to results/explicit_backward.csv

The explicit cells run a Python loop over time. Indexing one time step of the projected inputs inside
that loop (`projected[:, t]`) makes every step's backward send a full-size gradient, zero but for its
slice, into the projected inputs: O(T^2) work in the backward. Taking the steps apart once (`unbind`)
sends each slice alone. Run it before and after a change with a label each; the rows say which code ran.
"""
from __future__ import annotations

import argparse
import csv
import subprocess
import time

from common import RESULTS, ROOT, machine_line, median


def time_update(cell: str, seq_len: int, hidden: int, batch: int, repeats: int) -> tuple[float, float]:
    """Median seconds of a forward, and of its backward, over `repeats` tries."""
    import torch

    from suite.model.explicit import ExplicitGRU, ExplicitLSTM, ExplicitRNN

    torch.manual_seed(0)
    module = {"rnn": ExplicitRNN, "lstm": ExplicitLSTM, "gru": ExplicitGRU}[cell](10, hidden)
    x = torch.randn(batch, seq_len, 10)
    forward, backward = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        states, _ = module(x)
        loss = states[:, -1].pow(2).sum()
        middle = time.perf_counter()
        loss.backward()
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return median(forward), median(backward)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="which code ran, e.g. 'projected[:, t]' or 'unbind'")
    parser.add_argument("--seq-len", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    rows = []
    for cell in ("rnn", "lstm", "gru"):
        forward, backward = time_update(cell, args.seq_len, args.hidden, args.batch, args.repeats)
        rows.append({"label": args.label, "commit": commit, "cell": f"{cell}_explicit", "seq_len": args.seq_len,
                     "hidden": args.hidden, "batch": args.batch, "forward_s": round(forward, 4),
                     "backward_s": round(backward, 4)})
        print(f"{cell}_explicit T={args.seq_len}: forward {forward:.3f} s, backward {backward:.3f} s ({args.label})")
    path = RESULTS / "explicit_backward.csv"
    new = not path.exists()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        if new:
            writer.writeheader()
        writer.writerows(rows)
    (RESULTS / "explicit_backward.machine.txt").write_text(machine_line(threads=1) + "\n")
    print(f"appended to {path}")


if __name__ == "__main__":
    main()
