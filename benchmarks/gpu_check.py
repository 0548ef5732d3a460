"""GPU check: on a CUDA machine, the smoke sweep on the GPU, each cell's training throughput on the
GPU next to the CPU (1 thread), and the properties of the GPU path. Written to finish within its goal.

    python benchmarks/gpu_check.py            # needs CUDA; exits with a message (status 1) without it
    python benchmarks/gpu_check.py --quick    # no sweep, shorter measurements

What it checks on the GPU path:
- the smoke sweep (`run.py -m experiment=smoke device=cuda`, a temporary store) runs and how long it takes;
- data are generated on the device (each task's sample() returns CUDA tensors);
- the fused cells run cuDNN kernels (`aten::_cudnn_rnn` in a profile of one forward + backward);
- no host synchronisation per step: the syncs CUDA's sync-debug mode reports during suite.training.loop.train
  do not grow with the number of steps (only the evaluation reads values back);
- bf16 mixed precision: each cell trained through suite.training.loop with train.precision=fp32 and =bf16,
  from the same seed; reports whether bf16 keeps the task's result (solved as in float32, loss
  still falling) and the dtype the recurrent kernel actually ran in.
Goal (common.GOALS["gpu_check"]): the whole check's wall time on an H100.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import GOALS, build, load_task, machine_line, print_table, report, rnn_kernel, run_timed, verdict
from throughput import measure

CELLS = ("rnn", "lstm", "gru")


def smoke_sweep(device: str) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as tmp:
        sweep = Path(tmp) / "sweep"
        wall, _ = run_timed([sys.executable, "run.py", "-m", "experiment=smoke", f"device={device}",
                             f"hydra.sweep.dir={sweep}"], {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"})
        return wall, len(list(sweep.glob("*/result.json")))


def syncs(cell: str, steps: int, device) -> int:
    """Host synchronisations CUDA's sync-debug mode reports in suite.training.loop.train (one evaluation at the end)."""
    import torch

    from suite.config import TrainConfig
    from suite.training.loop import train

    task, model = build(cell, "memory", 100, 128, 0, device)
    cfg = TrainConfig(steps=steps, batch=128, eval_every=steps, eval_size=256, early_stop=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train(model, task, cfg, seed=0, device=device, progress=False)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def precision_run(cell: str, dtype, steps: int, device) -> dict:
    """Train through suite.training.loop with train.precision = bf16 (dtype torch.bfloat16) or fp32 (None)."""
    import torch

    from suite.config import TrainConfig
    from suite.training.loop import autocast, train

    precision = "bf16" if dtype is not None else "fp32"
    task, model = build(cell, "memory", 50, 64, 0, device)
    x, _ = task.sample(4, task.generator("eval", 1, device))
    with autocast(device, precision), torch.no_grad():
        rnn_dtype = str(model.rnn(x)[0].dtype).removeprefix("torch.")  # did autocast reach the recurrent kernel?
    cfg = TrainConfig(steps=steps, batch=64, lr=5e-3, eval_every=max(steps // 4, 1), eval_size=1000,
                      early_stop=False, precision=precision)
    norms = []
    try:
        out = train(model, task, cfg, seed=0, device=device, progress=False,
                    log=lambda step, m: norms.append(m["eval_loss_norm"]))
    except RuntimeError as exc:  # an op without a kernel for this dtype on this device
        return {"error": str(exc).splitlines()[0]}
    return {"seqs_per_s": steps * 64 / out.seconds, "loss_norm": norms[-1], "rnn_dtype": rnn_dtype,
            "solved": out.steps_to_solve is not None, "falls": norms[-1] < 0.5 * norms[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="no sweep, shorter measurements")
    p.add_argument("--allow-cpu", action="store_true", help="without CUDA, run the same steps on the CPU "
                   "(to test this script on a machine without a GPU; the figures then mean nothing)")
    args = p.parse_args()
    import torch

    began = time.perf_counter()
    if not torch.cuda.is_available() and not args.allow_cpu:
        sys.exit("CUDA is not available on this machine: nothing to check (this script needs a GPU; "
                 "--allow-cpu runs its steps on the CPU to test the script itself)")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_flush_denormal(True)  # as suite.job does
    print(machine_line(device.type))
    if device.type == "cuda":
        print(f"cuDNN enabled {torch.backends.cudnn.enabled}, version {torch.backends.cudnn.version()}, "
              f"TF32 in cuDNN {torch.backends.cudnn.allow_tf32}, "
              f"TF32 in matmul {torch.backends.cuda.matmul.allow_tf32}")
    if not args.quick:
        wall, jobs = smoke_sweep(device.type)
        print(f"smoke sweep on {device.type}: {jobs} jobs in {wall:.1f} s", flush=True)
    tasks = [load_task(name, 20) for name in ("copy", "adding", "memory", "temporal_order", "selective_copy",
                                              "assoc_recall")]
    on_device = all(t.sample(4, t.generator("train", 0, device))[0].device.type == device.type for t in tasks)
    print(f"data generated on the device: {'yes' if on_device else 'NO'}")

    seconds, steps = (0.3, 200) if args.quick else (1.0, 600)
    if device.type == "cpu":  # --allow-cpu: only exercising the script; bf16 on a CPU is slow
        steps = 40
    task = load_task("memory", 100)
    rows = []
    for cell in CELLS:
        row = {"cell": cell, "setting": "memory T=100 H=128 batch 128"}
        row[f"{device.type}_seqs_per_s"] = measure(cell, task, 128, 128, device, seconds, 1 if args.quick else 3)
        row["kernel"] = rnn_kernel(cell, device)
        if device.type == "cuda":
            row["syncs_short"], row["syncs_long"] = syncs(cell, 20, device), syncs(cell, 60, device)
        fp32, bf16 = (precision_run(cell, dtype, steps, device) for dtype in (None, torch.bfloat16))
        row.update({"fp32_seqs_per_s_T50": fp32["seqs_per_s"], "fp32_loss_norm": fp32["loss_norm"],
                    "fp32_solved": fp32["solved"]})
        if "error" in bf16:
            row["bf16_error"] = bf16["error"]
        else:
            row.update({"bf16_rnn_dtype": bf16["rnn_dtype"], "bf16_seqs_per_s_T50": bf16["seqs_per_s"],
                        "bf16_loss_norm": bf16["loss_norm"],
                        "bf16_solved": bf16["solved"], "bf16_loss_falls": bf16["falls"],
                        "bf16_keeps_result": bf16["solved"] >= fp32["solved"] and bf16["falls"] >= fp32["falls"]})
        rows.append(row)
        print(f"  {cell}: done", flush=True)
    if device.type == "cuda":
        torch.set_num_threads(1)  # the CPU figures, 1 thread as in the sweeps; after the GPU runs
        for row in rows:
            row["cpu_seqs_per_s"] = measure(row["cell"], task, 128, 128, torch.device("cpu"), seconds / 2, 1)
            row["gpu_speedup"] = row["cuda_seqs_per_s"] / row["cpu_seqs_per_s"]
    speed = ["cell", "setting", "cuda_seqs_per_s", "cpu_seqs_per_s", "gpu_speedup", "kernel", "syncs_short",
             "syncs_long"]
    precision = ["cell", "fp32_seqs_per_s_T50", "fp32_loss_norm", "fp32_solved", "bf16_rnn_dtype",
                 "bf16_seqs_per_s_T50", "bf16_loss_norm", "bf16_solved", "bf16_keeps_result", "bf16_error"]
    report("gpu_check" if device.type == "cuda" else "gpu_check_cpu_test", rows, args.quick,
           [c for c in speed if c in rows[0]])
    print(f"\nfloat32 vs bf16 autocast (train.precision), memory T=50 H=64 batch 64, {steps} steps\n")
    print_table(rows, [c for c in precision if any(c in r for r in rows)])

    print()
    if device.type == "cuda":
        # The evaluation reads values back, so 0 syncs means the detection itself failed.
        same = all(r["syncs_short"] == r["syncs_long"] for r in rows)
        seen = all(r["syncs_short"] > 0 for r in rows)
        answer = ("yes" if same else "NO") if seen else "unknown (sync-debug mode reported nothing)"
        print(f"no host sync per step: {answer} "
              "(syncs in 20 vs 60 steps, one evaluation each: " +
              ", ".join(f"{r['cell']} {r['syncs_short']}/{r['syncs_long']}" for r in rows) + ")")
    print("bf16 autocast keeps the results (memory T=50: solved and loss falling wherever float32's are): " +
          ", ".join(f"{r['cell']} {r.get('bf16_keeps_result', 'error')} (recurrent part in "
                    f"{r.get('bf16_rnn_dtype', '?')})" for r in rows))
    verdict("GPU check wall time", time.perf_counter() - began, GOALS["gpu_check"], fmt=".0f", quick=args.quick)


if __name__ == "__main__":
    main()
