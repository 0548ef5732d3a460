"""Multi-query associative recall (MQAR; Arora et al. 2023, "Zoology"): look up values by their keys.

Input (length T = seq_len): `n_pairs` (P) key-value pairs k_1 v_1 ... k_P v_P; then blanks; then
`n_queries` (Q) queries filling the last Q positions, each a key of the pairs. At a query the target is
its key's value. The P keys are distinct, drawn from a key vocabulary of `vocab` (V) tokens; each value is
drawn uniformly from a separate value vocabulary of V tokens, independently (values may repeat); the Q
queries ask Q distinct pairs, in random order. One-hot input: blank, V keys, V values (2V + 1).

Two vocabularies, as Zoology's generator (keys from one half of its vocabulary, values from the other):
a token says by itself whether it is a key or a value, and the output classes are the V values only. One
knob V sizes both, so that the one number sets what a value is worth (log2 V bits) and how many keys
there are to tell apart.

Fixed layout, not Zoology's power-law gaps: Zoology places each query at a random position of the query
region, most of them close to the pairs (power_a = 0.01), so its distance from pair to query is a
heavy-tailed draw that a horizon cannot be stated in. Here the pairs start the sequence and the queries
end it, with T - 2P - Q blanks between: every distance moves one for one with T (see Lag), which makes T
a lag knob as it is for the other tasks. The order of the queries is random, so a cell cannot answer by
position (as it could in copy): it has to find the key.

State size: any two sequences with the same keys and different values must leave different states (some
query tells them apart), and there are V^P value assignments, so a cell must hold at least P log2 V bits
after the pairs (4 at the defaults P=2, V=4), and bind each to its key. Zoology's point is that a
fixed-size recurrent state runs out as P grows, where attention does not; here P is the capacity knob
and T the time knob.

Scored: the Q query positions only (cross-entropy averaged over them). Metric: recall_accuracy, the
fraction of queries answered with the right value.

Memoryless baseline (tasks.base.Task.baseline_loss): at a query the predictor sees the key asked and knows
t, and the value is uniform over V and independent of both (values are drawn independently of the keys
and of the query order): loss ln V (chance 1/V).

Lag (tasks.base.Lag), counted from the value (index 2j+1 for pair j = 0..P-1), the token the query
returns (its key, one step earlier, travels one step more): query i (i = 0..Q-1) is at T - Q + i, so it
travels T - Q + i - 2j - 1. Shortest: the first query asks the last pair, T - Q - 2P + 1. Longest: the
last query asks the first pair, T - 2. Mean: each query's pair is uniform over the P, so the mean is
T - Q + (Q-1)/2 - (P-1) - 1 = T - P - (Q+1)/2.

Solved: recall_accuracy >= 0.99 on the held-out set (1,000 sequences, so 1,000 Q queries), as the other
classification tasks'. Measured (seed 0, the default 2,000 updates; docs/results.md): at the
defaults the GRU reaches 1.0 at T=12 (step 1,100); at T=20 and T=100 every cell ends near 0.63, what
remembering the last pair alone scores (1/2 + 1/2 * 1/4). With Zoology-like P=4, V=8 the LSTM and GRU stay
at about 0.40 from step 100 to 2,000 at T=20 (the LSTM at T=12 too, lr 2e-3), between holding one pair
(1/4 + 3/4 * 1/8 = 0.34) and two (0.56): binding several pairs in one layer is what takes long to learn,
so the defaults are P=2, V=4. Accuracy between chance and 1 counts pairs held, not a near miss.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tasks.base import Lag, Task, check_at_most, check_fraction, check_int, one_hot, recall_metrics


class AssocRecallTask(Task):
    name = "assoc_recall"
    loss_at = "every"
    metric = "recall_accuracy"
    #: the first pair's key (the diagnostics' gradient at the longest lag a pair can travel)
    remember_at = 0

    def __init__(self, seq_len: int, n_pairs: int = 2, n_queries: int = 2, vocab: int = 4,
                 solve_threshold: float = 0.99, name: str | None = None):
        super().__init__(seq_len, check_fraction("solve_threshold", solve_threshold), name)
        self.vocab = check_int("vocab", vocab, 2)
        self.n_pairs = check_at_most("n_pairs", check_int("n_pairs", n_pairs, 1), self.vocab,
                                     f"the keys are distinct, drawn from vocab={self.vocab}")
        self.n_queries = check_at_most("n_queries", check_int("n_queries", n_queries, 1), self.n_pairs,
                                       f"the queries ask distinct keys of the n_pairs={self.n_pairs} pairs")
        check_int("seq_len", self.seq_len, 2 * self.n_pairs + self.n_queries,
                  f"room for {self.n_pairs} pairs and {self.n_queries} queries: 2 n_pairs + n_queries")

    @property
    def input_size(self) -> int:
        return 2 * self.vocab + 1  # blank (0), keys (1..V), values (V+1..2V)

    @property
    def output_size(self) -> int:
        return self.vocab  # class c is value token V + 1 + c

    @property
    def length(self) -> int:
        return self.seq_len

    def sample(self, batch, generator):
        device = generator.device
        pairs, queries, vocab = self.n_pairs, self.n_queries, self.vocab
        # P distinct keys per sequence, in random order: the P largest of V uniform draws (vectorised).
        keys = torch.rand(batch, vocab, generator=generator, device=device).topk(pairs, dim=1).indices
        values = torch.randint(0, vocab, (batch, pairs), generator=generator, device=device)
        # Q distinct pairs to ask, in random order, the same way.
        asked = torch.rand(batch, pairs, generator=generator, device=device).topk(queries, dim=1).indices
        seq = torch.zeros(batch, self.length, dtype=torch.long, device=device)
        seq[:, 0 : 2 * pairs : 2] = keys + 1
        seq[:, 1 : 2 * pairs : 2] = values + vocab + 1
        seq[:, self.length - queries :] = keys.gather(1, asked) + 1
        return one_hot(seq, self.input_size), values.gather(1, asked)

    def loss(self, output, target):
        return F.cross_entropy(output[:, -self.n_queries :].reshape(-1, self.vocab), target.reshape(-1))

    # memory_loss is the whole loss: every scored output needs a remembered pair.

    def metrics(self, output, target):
        return recall_metrics(self.loss(output, target), output[:, -self.n_queries :], target, per_sequence=False)

    @property
    def baseline_loss(self) -> float:
        return math.log(self.vocab)  # a uniform guess over the values at every query (see the docstring)

    @property
    def lag(self) -> Lag:
        t, p, q = self.seq_len, self.n_pairs, self.n_queries
        return Lag(min=t - q - 2 * p + 1, mean=t - p - (q + 1) / 2, max=t - 2)
