"""Sweep wall time: each preset with Hydra's basic launcher (one job at a time) against the parallel
launcher (joblib, one worker per core, 1 torch thread each), end to end through `run.py -m`.

    python benchmarks/sweep_walltime.py                          # the smoke sweep (18 tiny runs), ~2 min here
    python benchmarks/sweep_walltime.py --presets smoke default  # + the default sweep once each way: ~30 min
    python benchmarks/sweep_walltime.py seed=0 --presets default # overrides (before --presets) go to every sweep
    python benchmarks/sweep_walltime.py --quick                  # the smoke sweep once each way

Goal (common.GOALS["sweep_walltime"]): speedup (basic wall time / parallel wall time) on 2 cores.

Each sweep gets a fresh temporary MLflow store and sweep folder, so nothing is reused (resume) and
both launchers pay the same one-off store creation. A preset without a launcher (smoke) runs as it
is for "basic" and with `hydra/launcher=parallel` for "parallel"; a preset that declares the
parallel launcher (default, paper, ...) runs as it is for "parallel" and with
`hydra/launcher=basic` for "basic".
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from common import GOALS, ROOT, machine_line, median, report, run_timed, verdict


def launcher_overrides(preset: str) -> dict[str, list[str]]:
    """{'basic': [...], 'parallel': [...]} command-line overrides for this preset, checked by
    composing the config with Hydra's compose API (what `run.py` would do, without running it)."""
    import suite.config  # noqa: F401  (the schema the config's defaults list names)
    from hydra import compose, initialize_config_dir

    def launcher(*overrides: str) -> str:
        cfg = compose("config", overrides=[f"experiment={preset}", *overrides], return_hydra_config=True)
        return cfg.hydra.launcher._target_.rsplit(".", 1)[-1]

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        if launcher() != "JoblibLauncher":  # e.g. smoke: the basic launcher unless told otherwise
            return {"basic": [], "parallel": ["hydra/launcher=parallel"]}
        launcher("hydra/launcher=basic")  # composes, or fails loudly: the presets name conf/hydra/launcher/parallel
        return {"basic": ["hydra/launcher=basic"], "parallel": []}


def run_sweep(preset: str, launcher: list[str], extra: list[str]) -> tuple[float, int]:
    """(wall seconds, jobs) of one sweep in a fresh store."""
    with tempfile.TemporaryDirectory(prefix=f"sweep-{preset}-") as tmp:
        sweep_dir = Path(tmp) / "sweep"
        cmd = [sys.executable, "run.py", "-m", f"experiment={preset}", *launcher, *extra,
               f"hydra.sweep.dir={sweep_dir}"]
        wall, _ = run_timed(cmd, {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"})
        return wall, len(list(sweep_dir.glob("*/result.json")))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every sweep, e.g. seed=0")
    p.add_argument("--presets", nargs="+", default=["smoke"])
    p.add_argument("--repeats", type=int, help="interleaved basic/parallel pairs per preset "
                   "(default: 2 for smoke, 1 for the longer presets)")
    p.add_argument("--quick", action="store_true", help="the smoke sweep, once each way")
    args = p.parse_args()
    if args.quick:
        args.presets, args.repeats = ["smoke"], 1
    print(machine_line("cpu"))
    rows = []
    for preset in args.presets:
        variants = launcher_overrides(preset)
        repeats = args.repeats or (2 if preset == "smoke" else 1)
        walls: dict[str, list[float]] = {"basic": [], "parallel": []}
        jobs: dict[str, int] = {}
        for repeat in range(repeats):
            for name in (("basic", "parallel") if repeat % 2 == 0 else ("parallel", "basic")):  # cancel drift
                wall, jobs[name] = run_sweep(preset, variants[name], args.overrides)
                walls[name].append(wall)
                print(f"  {preset} {name:8} run {repeat + 1}/{repeats}: {wall:6.1f} s, {jobs[name]} jobs",
                      flush=True)
        basic, parallel = median(walls["basic"]), median(walls["parallel"])
        for name, wall in (("basic", basic), ("parallel", parallel)):
            rows.append({"preset": preset, "launcher": name, "overrides": " ".join(variants[name] + args.overrides),
                         "wall_s": wall, "jobs": jobs[name], "s_per_job": wall / max(jobs[name], 1),
                         "speedup": basic / wall, "repeats": repeats})
    report("sweep_walltime", rows, args.quick,
           ["preset", "launcher", "wall_s", "jobs", "s_per_job", "speedup", "repeats", "overrides"])
    print()
    for row in rows:
        if row["launcher"] == "parallel":
            verdict(f"{row['preset']} sweep speedup, parallel vs basic on {os.cpu_count()} cores", row["speedup"],
                    GOALS["sweep_walltime"], fmt=".2f", quick=args.quick)


if __name__ == "__main__":
    main()
