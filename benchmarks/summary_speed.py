"""Time to summarise a store of 1,000 finished runs, made synthetically through MLflow's API with
what a real run logs (suite/job.py): the flattened config as params, the suite's tags, metric
histories at every evaluation, final metrics, diagnostics metrics and a grad_profile.csv artifact,
all children of one sweep parent run.

    python benchmarks/summary_speed.py                  # 1,000 runs in a temporary SQLite store
    python benchmarks/summary_speed.py --store /tmp/s   # keep the store there; a re-run reuses it
    python benchmarks/summary_speed.py --quick          # 100 runs: a check of the script

Goal: suite.summary.from_store.summarise_store(...) end to end, with its files and plots (what
`python -m suite.summary --parent-run-id <id>` does, start-up aside) for 1,000 runs, within
common.GOALS["summary_speed"].
Also timed: the text-only summary, by experiment and by parent run; the fetch (search_store)
against the pandas work (runs_frame, point_table, format_text); the whole CLI process.
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from common import GOALS, ROOT, load_task, machine_line, median, report, run_timed, verdict

# MLflow draws a progress bar for every artifact download (the summary fetches gradient profiles).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
EXPERIMENT = "summary-speed"
LADDERS = {"memory": [25, 50, 100, 200], "adding": [10, 25, 50, 100], "copy": [5, 10, 20, 40],
           "temporal_order": [20, 50, 100, 200]}  # the default preset's
HORIZON = {"rnn": 1, "lstm": 4, "gru": 4}  # rungs a cell solves in the synthetic store
GATE_METRIC = {"rnn": "saturated_fraction", "lstm": "forget_gate_mean", "gru": "update_gate_mean"}


def config_params(task: str, cell: str) -> dict:
    """The flattened resolved config a run of (task, cell) logs as params."""
    import suite.config  # noqa: F401  (registers the schema)
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from suite.config import flatten

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[f"task={task}", f"cell={cell}"])
    return flatten(OmegaConf.to_container(cfg, resolve=True))


def make_store(uri: str, n_runs: int) -> str:
    """n_runs synthetic finished runs under one parent; returns the parent's run id."""
    from mlflow.entities import Metric, Param, RunTag

    from suite.tracking.store import open_experiment

    client, exp_id = open_experiment(uri, EXPERIMENT)
    parent = client.create_run(exp_id, run_name="sweep-synthetic", tags={"sweep": "parent"}).info.run_id
    base = {(t, c): config_params(t, c) for t in LADDERS for c in HORIZON}
    rng = random.Random(0)
    points = [(t, c, rung, h) for t in LADDERS for c in HORIZON for rung in range(4) for h in (64, 128)]
    runs = itertools.islice(((t, c, rung, h, s) for s in itertools.count() for t, c, rung, h in points), n_runs)
    start = time.perf_counter()
    for i, (task_name, cell, rung, hidden, seed) in enumerate(runs):
        task, lag = load_task(task_name, LADDERS[task_name][rung]), LADDERS[task_name][rung]
        name = f"{cell}-{task_name}-T{lag}-h{hidden}-s{seed}"
        outcome = "solved" if rung < HORIZON[cell] and rng.random() < 0.9 else "failed"
        crashed = rng.random() < 0.01  # a FAILED run with an error tag, as a crash leaves
        steps = rng.randrange(200, 2001, 100) if outcome == "solved" else 2000
        tags = {"mlflow.runName": name, "mlflow.parentRunId": parent, "cell": cell, "task": task.name,
                "seq_len": lag, "hidden": hidden, "seed": seed, "device": "cpu", "config_hash": f"{i:016x}",
                "task_metric": task.metric, "task_metric_higher_is_better": task.higher_is_better}
        run_id = client.create_run(exp_id, run_name=name, tags={k: str(v) for k, v in tags.items()}).info.run_id
        params = {**base[(task_name, cell)], "seq_len": lag, "task.seq_len": lag, "hidden": hidden, "seed": seed,
                  "run_name": name, "n_params": 4 * hidden * (hidden + task.input_size),
                  "baseline_loss": task.baseline_loss, "input_length": task.length}
        now = int(time.time() * 1000)
        metrics = []
        for step in range(100, steps + 1, 100):  # an evaluation every 100 steps, diagnostics every 500
            norm = max(0.01, 1.0 - step / steps) if outcome == "solved" else 0.95 + 0.1 * rng.random()
            good = task.solve_threshold * (1.01 if task.higher_is_better else 0.5) if norm <= 0.01 else rng.random()
            values = {"train_loss": norm * task.baseline_loss, "eval_loss": norm * task.baseline_loss,
                      "eval_loss_norm": norm, f"eval_{task.metric}": good}
            if step % 500 == 0 or step == steps:
                ratio = -rng.uniform(5, 30) if cell == "rnn" and rung >= HORIZON[cell] else rng.uniform(-1, 1)
                values.update({"grad_log10_ratio": ratio, "grad_log10_first": ratio, "grad_log10_last": 0.0,
                               "grad_log10_memory": ratio, GATE_METRIC[cell]: rng.random()})
            metrics += [Metric(k, float(v), now, step) for k, v in values.items()]
        final = {"solved": float(outcome == "solved"), "steps_trained": steps, "train_seconds": steps / 100,
                 "train_seqs_per_s": 6400.0, **({"steps_to_solve": steps} if outcome == "solved" else {})}
        metrics += [Metric(k, float(v), now, steps) for k, v in final.items()]
        params_list = [Param(k, str(v)) for k, v in params.items()]
        end_tags = [RunTag("outcome", outcome)] + ([RunTag("error", "RuntimeError: synthetic")] if crashed else [])
        client.log_batch(run_id, metrics=metrics[:900], params=params_list[:100], tags=end_tags)
        if len(metrics) > 900:
            client.log_batch(run_id, metrics=metrics[900:])
        profile = "step,t,grad_norm\n" + "".join(f"{steps},{t},{10 ** (-t / lag):.6g}\n" for t in range(1, lag + 1))
        client.log_text(run_id, profile, "diagnostics/grad_profile.csv")
        client.set_terminated(run_id, "FAILED" if crashed else "FINISHED")
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{n_runs} runs made ({time.perf_counter() - start:.0f} s)", flush=True)
    client.set_terminated(parent, "FINISHED")
    return parent


def existing_parent(uri: str, n_runs: int) -> str | None:
    """The parent of a store made earlier with the same number of runs, else None."""
    from suite.tracking.store import open_experiment

    client, exp_id = open_experiment(uri, EXPERIMENT)
    parents = client.search_runs([exp_id], "tags.sweep = 'parent'")
    if len(parents) != 1:
        return None
    parent = parents[0].info.run_id
    children = client.search_runs([exp_id], f"tags.mlflow.parentRunId = '{parent}'", max_results=n_runs + 1)
    return parent if len(children) == n_runs else None


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of fn() over `repeats` calls after one untimed call (lazy imports, caches)."""
    fn()
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return median(times), result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--store", help="folder for the SQLite store, kept and reused (default: a temporary one)")
    p.add_argument("--quick", action="store_true", help="100 runs, 1 repeat")
    args = p.parse_args()
    if args.quick:
        args.runs, args.repeats = 100, 1
    print(machine_line("cpu"))
    with tempfile.TemporaryDirectory(prefix="summary-speed-") as tmp:
        folder = Path(args.store or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{folder.resolve()}/mlflow.db"
        had_store = (folder / "mlflow.db").exists()
        parent = existing_parent(uri, args.runs) if had_store else None
        if parent is None:
            if had_store:
                sys.exit(f"error: {folder} holds another store (not {args.runs} runs of this script); "
                         "give an empty folder")
            start = time.perf_counter()
            parent = make_store(uri, args.runs)
            print(f"made {args.runs} runs in {time.perf_counter() - start:.1f} s")
        else:
            print(f"reusing the {args.runs} runs in {folder}")

        import mlflow  # noqa: F401  (imported before timing: start-up is measured by the CLI row)

        from suite.summary import analysis, document, frame, from_store

        out = Path(tmp) / "summary"
        rows = []
        t, (runs, _) = timed(lambda: from_store.summarise_store(uri, parent_run_id=parent, out_dir=out), args.repeats)
        rows.append({"what": "summarise_store(parent_run_id, out_dir): text + files + plots", "seconds": t})
        full = t
        t, _ = timed(lambda: from_store.summarise_store(uri, parent_run_id=parent), args.repeats)
        rows.append({"what": "summarise_store(parent_run_id): text only", "seconds": t})
        text_only = t
        t, _ = timed(lambda: from_store.summarise_store(uri, experiment=EXPERIMENT), args.repeats)
        rows.append({"what": "summarise_store(experiment): text only", "seconds": t})
        t, (found, _) = timed(lambda: from_store.search_store(uri, parent_run_id=parent), args.repeats)
        rows.append({"what": "  fetch: search_store(parent_run_id)", "seconds": t})
        fetch = t

        def tables():
            tidy = frame.runs_frame(found)
            return document.format_text(analysis.point_table(tidy), tidy)

        t, _ = timed(tables, args.repeats)
        rows.append({"what": "  pandas: runs_frame + point_table + format_text", "seconds": t})
        t, _ = timed(lambda: from_store.write_summary(runs, Path(tmp) / "files"), args.repeats)
        rows.append({"what": "  files: write_summary (CSV, Markdown, success.png)", "seconds": t})
        wall, _ = run_timed([sys.executable, "-m", "suite.summary", "--tracking-uri", uri, "--parent-run-id", parent,
                             "--out", str(Path(tmp) / "cli")])
        rows.append({"what": "python -m suite.summary --parent-run-id (whole process)", "seconds": wall})
        for row in rows:
            row["runs"] = args.runs
        print(f"{len(runs)} runs summarised ({int((runs['outcome'] == 'crashed').sum())} crashed)")
        report("summary_speed", rows, args.quick)
    print()
    verdict(f"summary of {args.runs} runs, end to end with files", full, GOALS["summary_speed"], fmt=".2f",
            quick=args.quick)
    verdict(f"summary of {args.runs} runs, tables and verdicts (no files)", text_only, GOALS["summary_speed"],
            fmt=".2f", quick=args.quick)
    print(f"of which MLflow's own search_runs (the fetch row, the floor for any summary): {fetch:.2f} s")


if __name__ == "__main__":
    main()
