"""What the geometric evaluation schedule costs: the default sweep trained twice, side by side, once
every 100 updates (today's default) and once from update 20 on, each evaluation at most 1.15x after the last.

    MLFLOW_TRACKING_URI=sqlite:///linear.db    python run.py -m hydra/launcher=basic &
    MLFLOW_TRACKING_URI=sqlite:///geometric.db python run.py -m hydra/launcher=basic train.eval_growth=1.15 train.eval_every=20 &
    python benchmarks/eval_schedule.py linear.db geometric.db

Run both at once (one core each), so that what else the machine does weighs on both alike. Reported: the
summed training time of the 108 runs (the loop and its evaluations), time per update, runs whose outcome
differs, and how much earlier the geometric schedule sees a solve.
"""
from __future__ import annotations

import argparse

from common import machine_line, report


def runs(db: str):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{db}")
    df = mlflow.search_runs(experiment_names=["rnn-vs-lstm"])
    if "tags.sweep" in df:
        df = df[df["tags.sweep"].isna()]
    return df.set_index("tags.mlflow.runName")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("linear", help="the store of the sweep evaluated every 100 updates")
    parser.add_argument("geometric", help="the store of the sweep on the geometric schedule")
    args = parser.parse_args()
    linear, geometric = runs(args.linear), runs(args.geometric)
    both = linear.join(geometric.add_suffix("_geo"), how="inner")
    rows = []
    for name, df, suffix in (("every 100", both, ""), ("geometric 1.15 from 20", both, "_geo")):
        seconds, steps = df[f"metrics.train_seconds{suffix}"].sum(), df[f"metrics.steps_trained{suffix}"].sum()
        rows.append({"schedule": name, "runs": len(df), "train_seconds": round(seconds, 1), "updates": int(steps),
                     "ms_per_update": round(1000 * seconds / steps, 3), "solved": int(df[f"metrics.solved{suffix}"].sum())})
    rows.append({"schedule": "geometric / every 100", "runs": len(both),
                 "train_seconds": round(rows[1]["train_seconds"] / rows[0]["train_seconds"], 3),
                 "updates": round(rows[1]["updates"] / rows[0]["updates"], 3),
                 "ms_per_update": round(rows[1]["ms_per_update"] / rows[0]["ms_per_update"], 3),
                 "solved": int((both["metrics.solved"] != both["metrics.solved_geo"]).sum())})
    print(machine_line(threads=1))
    report("eval_schedule", rows, quick=False)
    solved = both[(both["metrics.solved"] == 1) & (both["metrics.solved_geo"] == 1)]
    ratio = solved["metrics.steps_to_solve_geo"] / solved["metrics.steps_to_solve"]
    print(f"\nruns whose outcome differs: {rows[2]['solved']} of {len(both)}; solved in both: {len(solved)}, the geometric "
          f"schedule sees the solve at {ratio.median():.2f}x the update (median; quartiles {ratio.quantile(.25):.2f}-"
          f"{ratio.quantile(.75):.2f})")


if __name__ == "__main__":
    main()
