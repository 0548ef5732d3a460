"""Adding problem (Hochreiter & Schmidhuber 1997, Exp. 4; form of Le et al. 2015).

Two input channels of length T: values drawn from U[0, 1], and markers with
exactly two ones, one in the first half and one in the second half. The target
is the sum of the two marked values; MSE at the last step. Always answering 1.0
(the mean of the sum) gives the memoryless baseline, the variance 1/6.
"""
from __future__ import annotations

import torch

from tasks.base import Task, check_int


class AddingTask(Task):
    name = "adding"
    loss_at = "last"
    metric = "mse"
    higher_is_better = False

    def __init__(self, seq_len: int, solve_threshold: float = 0.01, tolerance: float = 0.04,
                 name: str | None = None):
        check_int("seq_len", seq_len, 2)  # one marker in each half
        super().__init__(seq_len, solve_threshold, name)
        #: per-sequence criterion of the 1997 paper: |error| < tolerance counts as right.
        self.tolerance = float(tolerance)

    @property
    def input_size(self) -> int:
        return 2

    @property
    def output_size(self) -> int:
        return 1

    @property
    def length(self) -> int:
        return self.seq_len

    def sample(self, batch, generator):
        device = generator.device
        half = self.seq_len // 2
        values = torch.rand(batch, self.seq_len, generator=generator, device=device)
        first = torch.randint(0, half, (batch,), generator=generator, device=device)
        second = torch.randint(half, self.seq_len, (batch,), generator=generator, device=device)
        markers = torch.zeros_like(values)
        rows = torch.arange(batch, device=device)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        target = (values * markers).sum(dim=1, keepdim=True)
        return torch.stack([values, markers], dim=-1), target

    def loss(self, output, target):
        return torch.nn.functional.mse_loss(output, target)

    def metrics(self, output, target):
        error = (output - target).abs()
        mse = (error**2).mean()
        return {"loss": mse, "mse": mse, "within_tolerance": (error < self.tolerance).float().mean()}

    @property
    def baseline_loss(self) -> float:
        return 1.0 / 6.0  # Var(U1 + U2) = 2 * 1/12
