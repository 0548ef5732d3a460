"""The task variants made by YAML alone (memory_k16, copy_long_alphabet), temporal order, selective copy and
associative recall: each config composes, trains and logs what it changes."""
import math

import pytest

from tests.conftest import children_and_parents, store_runs

# What each config sets, as the run logs it (seq_len=12, a GRU with hidden=8): its knobs, the baseline
# loss where it is a plain ln(classes), the input length, and (input, output) sizes, seen in n_params.
VARIANTS = {
    "memory_k16": {"params": {"task.name": "memory_k16", "task.symbols": "16", "task.distractors": "16"},
                   "baseline": math.log(16), "input_length": 12, "sizes": (32, 16), "metric": "accuracy"},
    "copy_long_alphabet": {"params": {"task.name": "copy_long_alphabet", "task.symbols": "16", "task.n_copy": "20"},
                           "input_length": 12 + 2 * 20, "sizes": (16 + 2, 16 + 1), "metric": "recall_accuracy"},
    "temporal_order": {"params": {"task.name": "temporal_order"}, "baseline": math.log(4), "input_length": 12,
                       "sizes": (6, 4), "metric": "accuracy"},
    "selective_copy": {"params": {"task.name": "selective_copy", "task.symbols": "8", "task.n_copy": "4"},
                       "baseline": math.log(8), "input_length": 12 + 4, "sizes": (8 + 2, 8),
                       "metric": "recall_accuracy"},
    "assoc_recall": {"params": {"task.name": "assoc_recall", "task.n_pairs": "2", "task.n_queries": "2",
                                "task.vocab": "4"},
                     "baseline": math.log(4), "input_length": 12, "sizes": (2 * 4 + 1, 4), "metric": "recall_accuracy"},
}


def gru_params(inputs: int, hidden: int, outputs: int) -> int:
    return 3 * (hidden * inputs + hidden * hidden + 2 * hidden) + hidden * outputs + outputs


@pytest.mark.parametrize("task", VARIANTS)
def test_variant_and_new_task_configs_run(job, tmp_path, task):
    job(f"task={task}", "seq_len=12", "hidden=8", "train.steps=4", "train.eval_every=2", "train.eval_size=32",
        "train.batch=8", "cell=gru")  # in-process: the CLI's own path is tested by the tutorial's tests
    runs, _ = children_and_parents(store_runs(tmp_path))
    run, expected = runs.iloc[0], VARIANTS[task]
    assert run["tags.task"] == task and run["status"] == "FINISHED"
    assert {k: run[f"params.{k}"] for k in expected["params"]} == expected["params"]
    if "baseline" in expected:
        assert float(run["params.baseline_loss"]) == pytest.approx(expected["baseline"])
    assert int(run["params.input_length"]) == expected["input_length"]
    assert int(run["params.n_params"]) == gru_params(expected["sizes"][0], 8, expected["sizes"][1])
    assert run["tags.task_metric"] == expected["metric"] and math.isfinite(run[f"metrics.eval_{expected['metric']}"])
    assert math.isfinite(run["metrics.grad_log10_ratio"])  # the gradient diagnostics ran on its memory_loss


