"""Overhead of the suite: one training job through `run.py` (Hydra + MLflow) against the same job
as a minimal plain-PyTorch loop with no tracking, interleaved A/B.

    python benchmarks/overhead.py            # memory, T=100, H=64, batch 64, 500 steps, 1 thread, 9 A/B pairs
    python benchmarks/overhead.py --quick    # a seconds-long smoke check of the script

Goal (common.GOALS["overhead"]): training-loop time through run.py ÷ the plain loop, at the default
evaluation interval (train.eval_every=100). Process start-up (imports, Hydra, the MLflow store) is reported
separately, with the import time of the suite and of a bare `import torch`.

A (suite): `python run.py ...` in a subprocess with a temporary SQLite store; its training-loop time
is the `train_seconds` the job writes to result.json in its Hydra output folder.
B (plain): this script re-run in a subprocess with --plain-worker (so both sides pay a process
start-up): suite.model.recurrent.build_model, the task's own generator/sample, Adam, the same clip, steps
and held-out evaluation every eval_every steps (common.plain_train), no MLflow, no Hydra.
Both run on the CPU with the same seed, so their final held-out losses must agree.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import GOALS, machine_line, median, report, run_timed, verdict

SCRIPT = str(Path(__file__).resolve())


def plain_worker(args) -> None:
    """Side B, in its own process: print the loop's seconds and final loss as one JSON line."""
    import torch

    from common import build, plain_train

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # as suite.job does
    task, model = build(args.cell, args.task, args.seq_len, args.hidden, args.seed, "cpu")
    out = plain_train(model, task, steps=args.steps, batch=args.batch, lr=args.lr, clip=args.clip,
                      eval_every=args.eval_every, eval_size=args.eval_size, seed=args.seed, device="cpu")
    print(json.dumps({"loop_s": out["seconds"], "eval_loss": out["eval_loss"]}))


def suite_cmd(args, run_dir: Path, diagnostics: int) -> list[str]:
    return [sys.executable, "run.py", f"task={args.task}", f"cell={args.cell}", f"seq_len={args.seq_len}",
            f"hidden={args.hidden}", f"seed={args.seed}", "device=cpu", f"threads={args.threads}",
            f"train.steps={args.steps}", f"train.batch={args.batch}", f"train.lr={args.lr}",
            f"train.clip={args.clip}", f"train.eval_every={args.eval_every}", f"train.eval_size={args.eval_size}",
            "train.early_stop=false", f"diagnostics.every={diagnostics}", "tracking.experiment=overhead",
            f"hydra.run.dir={run_dir}"]


def plain_cmd(args) -> list[str]:
    keys = ("cell", "task", "seq_len", "hidden", "batch", "steps", "lr", "clip", "eval_every", "eval_size",
            "seed", "threads")
    return [sys.executable, SCRIPT, "--plain-worker"] + [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in keys]


def import_seconds(statement: str, repeats: int) -> tuple[float, float]:
    """(median import seconds measured inside a fresh interpreter, median process wall seconds)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    runs = [run_timed([sys.executable, "-c", code]) for _ in range(repeats)]
    return median(float(out) for _, out in runs), median(wall for wall, _ in runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cell", default="lstm")
    p.add_argument("--task", default="memory")
    p.add_argument("--seq-len", type=int, default=100)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=5e-3)  # conf/config.yaml's values, passed to both sides
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=9, help="interleaved A/B pairs")
    p.add_argument("--with-diagnostics", type=int, default=0, metavar="EVERY",
                   help="also time run.py with diagnostics.every=EVERY (e.g. 500, the default config)")
    p.add_argument("--quick", action="store_true", help="60 steps, 1 pair: checks the script, not the goal")
    p.add_argument("--plain-worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.plain_worker:
        return plain_worker(args)
    if args.quick:
        args.steps, args.eval_every, args.eval_size, args.repeats = 60, 20, 200, 1
    print(machine_line("cpu", args.threads))
    print(f"job: {args.cell} on {args.task}, T={args.seq_len}, H={args.hidden}, batch {args.batch}, "
          f"{args.steps} steps, eval every {args.eval_every} on {args.eval_size}, early stop off")

    variants = {"suite (run.py, MLflow)": 0, "plain loop": None}
    if args.with_diagnostics:
        variants[f"suite, diagnostics every {args.with_diagnostics}"] = args.with_diagnostics
    times = {name: {"process_s": [], "loop_s": [], "eval_loss": []} for name in variants}
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        # Untimed warm-up of each side: creates the store (a one-off schema migration a real
        # store has behind it) and fills the OS file cache for both.
        run_timed(suite_cmd(args, Path(tmp) / "warmup", 0), env)
        run_timed(plain_cmd(args))
        for repeat in range(args.repeats):
            order = list(variants) if repeat % 2 == 0 else list(reversed(variants))  # cancel drift
            for name in order:
                if variants[name] is None:
                    wall, out = run_timed(plain_cmd(args))
                    res = json.loads(out.strip().splitlines()[-1])
                    loop, loss = res["loop_s"], res["eval_loss"]
                else:
                    run_dir = Path(tmp) / f"run{repeat}-{variants[name]}"
                    wall, _ = run_timed(suite_cmd(args, run_dir, variants[name]), env)
                    res = json.loads((run_dir / "result.json").read_text())
                    loop, loss = res["train_seconds"], res["eval_loss"]
                for key, value in (("process_s", wall), ("loop_s", loop), ("eval_loss", loss)):
                    times[name][key].append(value)
                print(f"  repeat {repeat + 1}/{args.repeats} {name}: process {wall:.2f} s, loop {loop:.2f} s",
                      flush=True)

    plain = {k: median(v) for k, v in times["plain loop"].items()}
    rows = []
    for name, t in times.items():
        process, loop = median(t["process_s"]), median(t["loop_s"])
        # This VM's timings wander by +-20% from one run to the next (measured: the same loop
        # 5.0-7.5 s), so the ratio is also taken pair by pair (A and B run back to back) and
        # from the fastest run of each side, the least disturbed estimate of its own cost.
        pair_ratios = [a / b for a, b in zip(t["loop_s"], times["plain loop"]["loop_s"])]
        rows.append({"variant": name, "process_s": process, "loop_s": loop, "outside_loop_s": process - loop,
                     "process_ratio": process / plain["process_s"], "loop_ratio": loop / plain["loop_s"],
                     "pair_ratio_median": median(pair_ratios),
                     "min_ratio": min(t["loop_s"]) / min(times["plain loop"]["loop_s"]),
                     "final_eval_loss": median(t["eval_loss"]), "repeats": len(t["loop_s"])})
    report("overhead", rows, args.quick)
    same = abs(rows[0]["final_eval_loss"] - plain["eval_loss"]) <= 1e-4 * max(1.0, abs(plain["eval_loss"]))
    print(f"same job on both sides (final held-out loss {rows[0]['final_eval_loss']:.5g} vs "
          f"{plain['eval_loss']:.5g}): {'yes' if same else 'NO: the comparison is not like for like'}")

    print("\nimport time (fresh interpreter; median)")
    reps = 1 if args.quick else 5
    imports = []
    probes = (("python -c pass", "pass"), ("import torch", "import torch"),
              ("plain side: torch + suite.model.recurrent + tasks", "import torch, suite.model.recurrent, tasks.memory"),
              ("import suite.job", "import suite.job"), ("import suite.cli (run.py)", "import suite.cli"))
    for label, statement in probes:
        inside, wall = import_seconds(statement, reps)
        imports.append({"import": label, "import_s": inside, "process_s": wall})
    report("overhead_imports", imports, args.quick)
    print()
    verdict(f"overhead ratio (training loop, eval every {args.eval_every}; median of {args.repeats} A/B pairs)",
            rows[0]["pair_ratio_median"], GOALS["overhead"], fmt=".3f", quick=args.quick)
    print(f"ratio of medians {rows[0]['loop_ratio']:.3f}, of the fastest runs {rows[0]['min_ratio']:.3f}")
    print(f"process wall-time ratio {rows[0]['process_ratio']:.2f} "
          f"(outside the loop {rows[0]['outside_loop_s']:.1f} s for run.py vs {rows[1]['outside_loop_s']:.1f} s plain)")


if __name__ == "__main__":
    main()
