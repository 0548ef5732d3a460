"""The performance table (docs/performance.md), from the CSVs the benchmark scripts saved in benchmarks/results/.

    python benchmarks/report.py                                # print the table
    python benchmarks/report.py --into docs/performance.md     # and put it between that page's benchmark markers

Every figure comes from a CSV; a benchmark not run yet shows as "not measured". Each goal is the one its
script judges against (common.GOALS), and where the script computes its figure the table uses its function.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

from common import GOALS
from threads import worst_slowdown

RESULTS = Path(__file__).resolve().parent / "results"
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def rows(name: str) -> list[dict]:
    path = RESULTS / f"{name}.csv"
    return list(csv.DictReader(path.open())) if path.exists() else []


def machine(name: str) -> str:
    path = RESULTS / f"{name}.machine.txt"
    return path.read_text().strip() if path.exists() else "unknown machine"


def overhead() -> list[str]:
    table = {r["variant"]: r for r in rows("overhead")}
    suite, plain = table.get("suite (run.py, MLflow)"), table.get("plain loop")
    if not suite or not plain:
        return [f"| overhead: run.py vs a plain loop | `overhead.py` | not measured | {GOALS['overhead'].text()} |"]
    imports = {r["import"]: float(r["import_s"]) for r in rows("overhead_imports")}
    return [
        f"| overhead: training loop through run.py ÷ plain PyTorch loop (median of {suite['repeats']} A/B pairs; "
        f"ratio of the fastest runs {float(suite['min_ratio']):.2f}) | `overhead.py` | "
        f"**{float(suite['pair_ratio_median']):.2f}** | {GOALS['overhead'].text()} |",
        f"| start-up and tear-down outside the loop: run.py vs plain (imports: suite {imports.get('import suite.cli (run.py)', float('nan')):.1f} s, "
        f"torch alone {imports.get('import torch', float('nan')):.1f} s) | `overhead.py` | "
        f"{float(suite['outside_loop_s']):.1f} s vs {float(plain['outside_loop_s']):.1f} s | (reported) |",
    ]


def throughput() -> list[str]:
    found = rows("throughput")
    if not found:
        return ["| throughput | `throughput.py` | not measured | (reported) |"]
    lines = []
    for cell in ("rnn", "lstm", "gru"):
        mine = [r for r in found if r["cell"] == cell]
        rates = [float(r["seqs_per_s"]) for r in mine]
        pct = [float(r["pct_of_peak"]) for r in mine]
        lines.append(f"| {cell} training throughput over T∈{{{','.join(sorted({r['seq_len'] for r in mine}, key=int))}}} × "
                     f"H∈{{{','.join(sorted({r['hidden'] for r in mine}, key=int))}}} × batch∈"
                     f"{{{','.join(sorted({r['batch'] for r in mine}, key=int))}}} ({mine[0]['kernel']}) | `throughput.py` | "
                     f"{min(rates):,.0f}–{max(rates):,.0f} seq/s; {min(pct):.0f}–{max(pct):.0f}% of the "
                     f"{float(mine[0]['peak_gflops']):.0f} GFLOP/s matmul peak | (reported) |")
    return lines


def throughput_matched() -> list[str]:
    """A row per cell at the LSTM's weight count: updates per second at each length."""
    found = rows("throughput_matched")
    if not found:
        return ["| every cell at matched weights: updates/s | `throughput.py --matched` | not measured | (reported) |"]
    lines = []
    for cell in dict.fromkeys(r["cell"] for r in found):
        mine = sorted((r for r in found if r["cell"] == cell), key=lambda r: int(r["seq_len"]))
        rates = " / ".join(f"{float(r['updates_per_s']):,.3g}" for r in mine)
        lines.append(f"| {cell} at matched weights ({int(mine[0]['weights']):,}, h={mine[0]['hidden']}), batch "
                     f"{mine[0]['batch']}: updates/s at T={' / '.join(r['seq_len'] for r in mine)} | "
                     f"`throughput.py --matched` | {rates} | (reported) |")
    return lines


def datagen() -> list[str]:
    found = rows("datagen")
    if not found:
        return ["| data generation share of a training step | `datagen.py` | not measured | "
                f"{GOALS['datagen'].text()} |"]
    worst = max(found, key=lambda r: float(r["share_pct"]))
    return [f"| data generation share of a training step (worst: {worst['task']}, {worst['cell']}, "
            f"T={worst['seq_len']}) | `datagen.py` | **{float(worst['share_pct']):.1f}%** | "
            f"{GOALS['datagen'].text()} |"]


def sweeps() -> list[str]:
    found = rows("sweep_walltime")
    if not found:
        return ["| sweep wall time, basic vs parallel launcher | `sweep_walltime.py` | not measured | "
                f"{GOALS['sweep_walltime'].text()} |"]
    lines = []
    for preset in dict.fromkeys(r["preset"] for r in found):
        by = {r["launcher"]: r for r in found if r["preset"] == preset}
        if "basic" in by and "parallel" in by:
            extra = by["parallel"]["overrides"].replace("hydra/launcher=parallel", "").strip()
            lines.append(f"| `{preset}` sweep ({by['parallel']['jobs']} jobs{', ' + extra if extra else ''}): "
                         f"basic {float(by['basic']['wall_s']):.0f} s, parallel {float(by['parallel']['wall_s']):.0f} s "
                         f"| `sweep_walltime.py` | **{float(by['parallel']['speedup']):.2f}×** | "
                         f"{GOALS['sweep_walltime'].text()} |")
    return lines


def summary() -> list[str]:
    found = {r["what"].strip(): r for r in rows("summary_speed")}
    full = found.get("summarise_store(parent_run_id, out_dir): text + files + plots")
    if not full:
        return [f"| summary of 1,000 runs | `summary_speed.py` | not measured | {GOALS['summary_speed'].text()} |"]
    text = found["summarise_store(parent_run_id): text only"]
    fetch = found["fetch: search_store(parent_run_id)"]
    return [f"| summary of {full['runs']} runs: tables and verdicts / with files and plots "
            f"(MLflow's search_runs alone: {float(fetch['seconds']):.1f} s) | `summary_speed.py` | "
            f"**{float(text['seconds']):.1f} s** / {float(full['seconds']):.1f} s | {GOALS['summary_speed'].text()} |"]


def threads() -> list[str]:
    found = rows("threads")
    if not found:
        return ["| a run's threads: 1 vs torch's own count, quiet and beside busy processes | `threads.py` | "
                f"not measured | {GOALS['threads'].text()} |"]
    lines = []
    setting = lambda r: "1" if r["threads"] == "1" else "null (torch's own count)"  # noqa: E731
    for size in dict.fromkeys(r["size"] for r in found):
        for chosen in ("1", "null (torch's own count)"):
            mine = [r for r in found if r["size"] == size and setting(r) == chosen]
            quiet = "; ".join(f"{r['cell']} {float(r['median_s']):.1f} s" for r in mine if r["busy_processes"] == "0")
            busy = "; ".join(f"{r['cell']} {float(r['min_s']):.1f}–{float(r['max_s']):.1f} s"
                             + (f" ({r['collapsed']}/{r['tries']} past {float(r['max_s']):.0f} s)"
                                if int(r["collapsed"]) else "") for r in mine if r["busy_processes"] == "2")
            shape = {"small": "H=64, batch 64", "large": "H=256, batch 128"}.get(size, size)
            lines.append(f"| {size} model ({shape}, memory T=50, {mine[0]['steps']} steps), threads={chosen}: "
                         f"quiet {quiet} · "
                         f"beside two busy processes {busy} | `threads.py` | (reported) | (reported) |")
    # what threads.py judges: 1 thread's slowest try beside busy processes against its quiet median
    lines.append("| 1 thread: worst slow-down under load (the slowest try ÷ the quiet median of the same model and "
                 "cell, over sizes, cells and 0, 1 or 2 busy processes) | `threads.py` | "
                 f"**{worst_slowdown(found, one_thread=True):.1f}×** | {GOALS['threads'].text()} |")
    return lines


def gpu() -> list[str]:
    found = rows("gpu_check")
    if not found:
        return ["| GPU: smoke sweep and throughput per cell vs CPU | `gpu_check.py` | not run yet (no GPU here) | "
                f"{GOALS['gpu_check'].text()} |"]
    return [f"| GPU ({machine('gpu_check')}): {r['cell']} {float(r['cuda_seqs_per_s']):,.0f} seq/s, "
            f"{float(r['gpu_speedup']):.0f}× the CPU | `gpu_check.py` | {r['kernel']} | {GOALS['gpu_check'].text()} |"
            for r in found]


SCRIPTS = ("overhead", "throughput", "throughput_matched", "datagen", "sweep_walltime", "summary_speed", "threads")


def machines() -> str:
    """Which machine measured what: scripts rerun on another machine say so."""
    by_machine: dict[str, list[str]] = {}
    for name in SCRIPTS:
        if (RESULTS / f"{name}.machine.txt").exists():
            script = f"{name.removesuffix('_matched')}.py"  # throughput_matched: throughput.py --matched
            if script not in (names := by_machine.setdefault(machine(name), [])):
                names.append(script)
    if len(by_machine) == 1:
        return next(iter(by_machine))
    return "; ".join(f"{where} ({', '.join(names)})" for where, names in by_machine.items())


def table() -> str:
    lines = [f"Measured on: {machines()}. Regenerate: run the scripts, then "
             "`python benchmarks/report.py --into docs/performance.md`.", "",
             "| what | script (`python benchmarks/...`) | measured | goal |", "|---|---|---|---|"]
    for part in (overhead, throughput, throughput_matched, datagen, sweeps, summary, threads, gpu):
        lines += part()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # --readme: the flag's name from when the table lived in the README; kept so older commands still work
    parser.add_argument("--into", "--readme", dest="into", type=Path, metavar="FILE",
                        help="replace the block between the benchmark markers of this Markdown file "
                             "(docs/performance.md)")
    args = parser.parse_args()
    text = table()
    print(text)
    if args.into:
        doc = args.into.read_text(encoding="utf-8")
        if START not in doc or END not in doc:
            raise SystemExit(f"error: {args.into}: no {START} ... {END} block to replace")
        head, rest = doc.split(START, 1)
        args.into.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
        print(f"table written into {args.into}")


if __name__ == "__main__":
    main()
