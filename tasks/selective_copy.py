"""Selective copying (Gu & Dao 2023, the Mamba paper, Sec. 3.1): copy tokens that sit at random places.

Input (length T + n_copy): a stretch of T = seq_len positions holding `n_copy` (M) data tokens, each drawn
uniformly from 1..symbols (K), at M distinct positions chosen uniformly at random (all M-subsets equally
likely), and blanks (0) everywhere else; then M markers (K+1). At the i-th marker the target is the i-th
data token in order of position. Unlike copy, where the data always sit at the start, a cell cannot know
in advance when to store: the content (a data token, not a blank) decides what to keep. The noise here is
one blank token, as in the figure of the Mamba paper; T is the lag knob.

Scored: the M marker positions only (cross-entropy averaged over them); the other outputs are not trained
and not scored. Metrics: recall_accuracy, the fraction of the M tokens recalled (copy's name for the same
quantity), and sequence_accuracy, the fraction of sequences with all M right.

Memoryless baseline (tasks.base.Task.baseline_loss): at every scored output the predictor sees the marker
and knows t (so which of the M tokens is asked for), and the token asked for is uniform over K and
independent of both: loss ln K (chance 1/K), whatever T and M.

Lag (tasks.base.Lag): the i-th token (i = 0..M-1) at position p_i is asked for at T + i, so it travels
T + i - p_i. Shortest when the data fill the last M positions of the stretch (p_i = T - M + i): M.
Longest when they fill the first M (p_i = i): T. Mean over the tokens and the placement: the positions are
a uniform M-subset of 0..T-1, whose elements average (T-1)/2, and the outputs average T + (M-1)/2, so the
mean lag is (T + M)/2.

Solved: recall_accuracy >= 0.99 on the held-out set (1,000 sequences, so 1,000 M tokens), as copy's.
Measured (seed 0, the default 2,000 updates; docs/results.md): the LSTM and the GRU reach it at
T=20 (steps 1,400 and 1,100) and at T=100 (1,800 and 1,700); the tanh RNN does not (0.66 at T=20, chance at
T=100).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tasks.base import Lag, Task, check_at_most, check_fraction, check_int, one_hot, recall_metrics


class SelectiveCopyTask(Task):
    name = "selective_copy"
    loss_at = "every"
    metric = "recall_accuracy"
    #: the earliest a data token can be (the diagnostics' gradient at the longest lag a token can travel)
    remember_at = 0

    def __init__(self, seq_len: int, symbols: int = 8, n_copy: int = 4, solve_threshold: float = 0.99,
                 name: str | None = None):
        super().__init__(seq_len, check_fraction("solve_threshold", solve_threshold), name)
        self.symbols = check_int("symbols", symbols, 2)
        self.n_copy = check_at_most("n_copy", check_int("n_copy", n_copy, 1), self.seq_len,
                                    f"the data tokens need distinct positions among seq_len={self.seq_len}")
        self.marker = self.symbols + 1

    @property
    def input_size(self) -> int:
        return self.symbols + 2  # blank, data symbols, marker

    @property
    def output_size(self) -> int:
        return self.symbols  # class c is data symbol c + 1; nothing else is ever a target

    @property
    def length(self) -> int:
        return self.seq_len + self.n_copy

    def sample(self, batch, generator):
        device = generator.device
        target = torch.randint(0, self.symbols, (batch, self.n_copy), generator=generator, device=device)
        # A uniformly random M-subset of the T positions for every sequence at once: the M largest of T
        # uniform draws, in order of position.
        noise = torch.rand(batch, self.seq_len, generator=generator, device=device)
        positions = noise.topk(self.n_copy, dim=1).indices.sort(dim=1).values
        seq = torch.zeros(batch, self.length, dtype=torch.long, device=device)
        seq.scatter_(1, positions, target + 1)
        seq[:, self.seq_len :] = self.marker
        return one_hot(seq, self.input_size), target

    def loss(self, output, target):
        return F.cross_entropy(output[:, -self.n_copy :].reshape(-1, self.symbols), target.reshape(-1))

    # memory_loss is the whole loss: every scored output needs a remembered token.

    def metrics(self, output, target):
        return recall_metrics(self.loss(output, target), output[:, -self.n_copy :], target)

    @property
    def baseline_loss(self) -> float:
        return math.log(self.symbols)  # a uniform guess at every marker (see the docstring)

    @property
    def lag(self) -> Lag:
        return Lag(min=self.n_copy, mean=(self.seq_len + self.n_copy) / 2, max=self.seq_len)
