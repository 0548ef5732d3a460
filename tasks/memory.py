"""Memory task: recall the first symbol (Hochreiter & Schmidhuber 1997, Exp. 2).

Position 0 holds one of `symbols` symbols; the other T-1 positions hold
distractors from a disjoint alphabet of `distractors` symbols. At the last step
the model classifies the first symbol. The cheapest, clearest separation of RNN
and LSTM.

Memoryless baseline (tasks.base.Task.baseline_loss): at the last step (T >= 2) the
predictor sees a distractor, independent of the uniform label: chance 1/symbols,
loss ln(symbols).

Lag (tasks.base.Lag): the symbol at index 0 is asked for at index T-1: T-1 for
every sequence.
"""
from __future__ import annotations

import torch

from tasks.base import Lag, LastStepClassification, check_fraction, check_int, one_hot


class MemoryTask(LastStepClassification):
    name = "memory"

    def __init__(self, seq_len: int, symbols: int = 8, distractors: int = 8, solve_threshold: float = 0.99,
                 name: str | None = None):
        check_int("seq_len", seq_len, 2)
        super().__init__(seq_len, check_fraction("solve_threshold", solve_threshold), name)
        self.symbols = check_int("symbols", symbols, 2)
        self.distractors = check_int("distractors", distractors, 1)

    @property
    def input_size(self) -> int:
        return self.symbols + self.distractors

    @property
    def lag(self) -> Lag:
        return Lag(min=self.seq_len - 1, mean=self.seq_len - 1, max=self.seq_len - 1)  # index 0 to index T-1

    @property
    def output_size(self) -> int:
        return self.symbols

    @property
    def length(self) -> int:
        return self.seq_len

    def sample(self, batch, generator):
        device = generator.device
        target = torch.randint(0, self.symbols, (batch,), generator=generator, device=device)
        noise = torch.randint(
            self.symbols, self.symbols + self.distractors, (batch, self.seq_len - 1), generator=generator, device=device
        )
        seq = torch.cat([target[:, None], noise], dim=1)
        return one_hot(seq, self.input_size), target
