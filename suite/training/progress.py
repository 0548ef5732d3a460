"""The progress bar of one training run: a view of the loop, outside the code that decides its numbers
(suite/reuse/fingerprint.py), so rewording or restyling it keeps every stored run."""
from __future__ import annotations

from tqdm.auto import tqdm


class ProgressBar:
    """What suite/training/loop.py reports to: a step done, an evaluation's metrics, the end."""

    def __init__(self, model, task, total: int):
        self.task = task
        # disable=None: tqdm shows the bar on a terminal only
        self.bar = tqdm(total=total, desc=f"{model.cell} {task.name} T={task.seq_len}", unit="step",
                        disable=None, mininterval=1.0, leave=False)

    def step(self) -> None:
        self.bar.update()

    def evaluated(self, metrics: dict[str, float]) -> None:
        self.bar.set_postfix({self.task.metric: f"{metrics[self.task.metric]:.3g}",
                              "loss/base": f"{metrics['loss_norm']:.3g}"})

    def close(self) -> None:
        self.bar.close()
