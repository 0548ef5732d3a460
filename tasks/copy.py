"""Copy (copying memory) task, in the form of Arjovsky, Shah & Bengio 2016.

Input (length T + 2*n_copy): `n_copy` symbols drawn from 1..symbols, then T-1
blanks (0), one delimiter (symbols+1), then `n_copy` blanks. The target is blank
for the first T + n_copy positions, then the `n_copy` symbols. Cross-entropy at
every position; accuracy only on the recalled positions (counting blanks would
score a model that always says "blank" at (T + n_copy)/(T + 2*n_copy)).

Memoryless baseline (tasks.base.Task.baseline_loss): knowing t, the predictor says
"blank" with certainty at the first T + n_copy positions (loss 0; the data symbols
it sees there are not yet asked for); at the last n_copy positions it sees a blank
and the symbol asked for is uniform over `symbols` K (loss ln K). Averaged over all
T + 2*n_copy positions: n_copy * ln K / (T + 2*n_copy).

Lag (tasks.base.Lag): data symbol i is at index i and asked for at index
T + n_copy + i, so every symbol travels T + n_copy steps.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tasks.base import Lag, Task, check_fraction, check_int, one_hot, recall_metrics


class CopyTask(Task):
    name = "copy"
    loss_at = "every"
    metric = "recall_accuracy"

    def __init__(self, seq_len: int, symbols: int = 8, n_copy: int = 10, solve_threshold: float = 0.99,
                 name: str | None = None):
        super().__init__(seq_len, check_fraction("solve_threshold", solve_threshold), name)
        self.symbols = check_int("symbols", symbols, 2)
        self.n_copy = check_int("n_copy", n_copy, 1)
        self.delimiter = self.symbols + 1

    @property
    def input_size(self) -> int:
        return self.symbols + 2  # blank, data symbols, delimiter

    @property
    def output_size(self) -> int:
        return self.symbols + 1  # blank and data symbols; the delimiter is never a target

    @property
    def length(self) -> int:
        return self.seq_len + 2 * self.n_copy

    def sample(self, batch, generator):
        device = generator.device
        data = torch.randint(1, self.symbols + 1, (batch, self.n_copy), generator=generator, device=device)
        seq = torch.zeros(batch, self.length, dtype=torch.long, device=device)
        seq[:, : self.n_copy] = data
        seq[:, self.seq_len + self.n_copy - 1] = self.delimiter
        target = torch.zeros_like(seq)
        target[:, -self.n_copy :] = data
        return one_hot(seq, self.input_size), target

    def loss(self, output, target):
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def memory_loss(self, output, target):
        # Only the recalled positions need the remembered symbols; the blanks before them need only a clock.
        return self.loss(output[:, -self.n_copy :], target[:, -self.n_copy :])

    def metrics(self, output, target):
        return recall_metrics(self.loss(output, target), output[:, -self.n_copy :], target[:, -self.n_copy :])

    @property
    def baseline_loss(self) -> float:
        # Blank with certainty, then a uniform guess over the symbols (see the docstring).
        return self.n_copy * math.log(self.symbols) / self.length

    @property
    def lag(self) -> Lag:
        lag = self.seq_len + self.n_copy  # symbol i: at index i, asked for at index T + n_copy + i
        return Lag(min=lag, mean=lag, max=lag)
