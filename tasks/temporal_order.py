"""Temporal order (Hochreiter & Schmidhuber 1997, Exp. 6a).

A sequence of distractors from a 4-symbol alphabet, in which one of two relevant
symbols (X or Y) appears twice: once early (within 10-20% of the length) and once
in the middle (within 50-60%). At the last step the model classifies the order,
XX, XY, YX or YY. The paper used length 100-110; here `seq_len` T sets the length
and the two windows scale with it: the first symbol's index is uniform over
[int(0.1 T), int(0.2 T)), the second's over [int(0.5 T), int(0.6 T)) (each at
least one index wide).

Memoryless baseline (tasks.base.Task.baseline_loss): the second window ends before
T-1 for every T >= 10 (int(0.6 T) <= T-1 and int(0.5 T) + 1 <= T-1), so the last
input is always a distractor, independent of the uniform label: chance 1/4, loss
ln 4.

Lag (tasks.base.Lag): the first relevant symbol travels farthest, from its index t1
to the last step T-1: from T - first[1] to T-1 - first[0], on average
T-1 - (first[0] + first[1] - 1)/2 (T=100: 80 to 89, mean 84.5).
"""
from __future__ import annotations

import torch

from tasks.base import Lag, LastStepClassification, check_fraction, check_int, one_hot

DISTRACTORS = 4  # a, b, c, d
X, Y = DISTRACTORS, DISTRACTORS + 1  # the relevant symbols' indices in the one-hot input


class TemporalOrderTask(LastStepClassification):
    name = "temporal_order"

    def __init__(self, seq_len: int, solve_threshold: float = 0.99, name: str | None = None):
        check_int("seq_len", seq_len, 10)  # each window must hold at least one position
        super().__init__(seq_len, check_fraction("solve_threshold", solve_threshold), name)
        self.first = (int(0.1 * seq_len), max(int(0.2 * seq_len), int(0.1 * seq_len) + 1))
        self.second = (int(0.5 * seq_len), max(int(0.6 * seq_len), int(0.5 * seq_len) + 1))
        self.remember_at = self.first[0]

    @property
    def input_size(self) -> int:
        return DISTRACTORS + 2

    @property
    def lag(self) -> Lag:
        low, high = self.first  # t1 is uniform over [low, high); the order is asked for at T-1
        last = self.seq_len - 1
        return Lag(min=last - (high - 1), mean=last - (low + high - 1) / 2, max=last - low)

    @property
    def output_size(self) -> int:
        return 4  # XX, XY, YX, YY

    @property
    def length(self) -> int:
        return self.seq_len

    def sample(self, batch, generator):
        device = generator.device
        seq = torch.randint(0, DISTRACTORS, (batch, self.seq_len), generator=generator, device=device)
        which = torch.randint(0, 2, (batch, 2), generator=generator, device=device)  # 0: X, 1: Y
        t1 = torch.randint(*self.first, (batch,), generator=generator, device=device)
        t2 = torch.randint(*self.second, (batch,), generator=generator, device=device)
        rows = torch.arange(batch, device=device)
        seq[rows, t1] = X + which[:, 0]
        seq[rows, t2] = X + which[:, 1]
        target = 2 * which[:, 0] + which[:, 1]  # XX=0, XY=1, YX=2, YY=3
        return one_hot(seq, self.input_size), target
