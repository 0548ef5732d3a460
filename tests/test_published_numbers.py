"""Every number the README and Results publish from runs, recomputed from the committed runs (docs/<folder>/runs.csv).

QUOTES pairs each quoted figure with what recomputes it: a line the summary of the folder's runs.csv prints
(`python -m suite.summary --runs ...`, the same verdicts, intervals and fits as from the store), or a function of
those runs for what the summary does not print (a count pooled over two seed sets, an accuracy range). The coverage
test finds every interval, probability, count, growth factor and bound on the two pages (outside the blocks the
suite writes itself and outside code) and fails on one that no quote covers, naming page and line; the flip test
shows a changed outcome fails the recomputation.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pytest

from suite.summary.from_csv import summarise_csv
from tests.conftest import ROOT
from tests.test_rate_choice import round_0

PAGES = {"README.md": ROOT / "README.md", "results.md": ROOT / "docs" / "results.md"}
COMMITTED = sorted(str(p.parent.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("runs.csv"))


@functools.lru_cache(maxsize=None)
def recomputed_summary(folder: str) -> str:
    return summarise_csv(ROOT / "docs" / folder / "runs.csv")[1]


def runs_of(*folders: str) -> pd.DataFrame:
    return pd.concat([pd.read_csv(ROOT / "docs" / f / "runs.csv") for f in folders], ignore_index=True)


@pytest.mark.slow  # a learning-time fit per group of every committed sweep: ~30 s of CPU
@pytest.mark.parametrize("folder", COMMITTED)
def test_every_committed_sweep_summarises_from_its_runs_csv(folder):
    text = recomputed_summary(folder)  # shared with the quotes below: one summary a sweep
    runs = pd.read_csv(ROOT / "docs" / folder / "runs.csv")
    assert any(line.startswith(f"{len(runs)} runs, ") for line in text.splitlines()), folder
    for task in runs["task"].unique():
        assert f"\n- {task}: " in text or f"\n{task}: " in text, (folder, task)


# -- what the summary does not print, computed from the runs -----------------------------------
def p_beyond(folder: str, task: str, cell: str, other: str, hidden: int) -> str:
    """'P = 0.996': the posterior probability that `cell`'s T50 is beyond `other`'s, as the verdicts compute it."""
    from suite.summary.analysis import point_table
    from suite.summary.estimates import estimates, p_order
    from suite.summary.from_csv import read_runs

    found = estimates(point_table(read_runs(ROOT / "docs" / folder / "runs.csv")))
    return f"P = {p_order(found[(task, cell, hidden)], found[(task, other, hidden)]):.3f}"


def pooled_counts(runs: pd.DataFrame) -> str:
    """'8/15 seeds solve T=57, 14/30 T=66, 5/12 T=78, 6/12 T=90, 0/12 T=200' over both RNN seed sets."""
    counts = runs.groupby("seq_len")["outcome"].agg(lambda o: f"{(o == 'solved').sum()}/{len(o)}")
    return (f"{counts[57]} seeds solve T=57, {counts[66]} T=66,\n  {counts[78]} T=78, {counts[90]} T=90, "
            f"{counts[200]} T=200")


def plateau(runs: pd.DataFrame) -> str:
    """Where associative recall's failed gated runs end: how many of them near the one-pair score, the range of
    those at T ≥ 17, and the two outside it."""
    failed = runs[runs["cell"].isin(["lstm", "gru"]) & (runs["outcome"] == "failed")]
    near = failed[failed["metric"].between(0.60, 0.645)]
    far = failed[failed["seq_len"] >= 17]
    rest = failed[failed["seq_len"] < 17].sort_values("metric")
    assert set(rest["cell"]) == {"lstm"} and set(rest["seq_len"]) == {12}
    return (f"{len(near)} of their {len(failed)}\n  failed runs end between {near['metric'].min():.3f} and "
            f"{near['metric'].max():.3f} accuracy, and all {len(far)} at T ≥ 17 between {far['metric'].min():.3f} and "
            f"{far['metric'].max():.3f};\n  the other two, the LSTM at T=12 next to its horizon, at "
            f"{rest['metric'].iloc[0]:.2f} and {rest['metric'].iloc[1]:.2f}")


def updates_to_solve(runs: pd.DataFrame) -> str:
    """'the GRU solves in 200–300 updates, the LSTM in 200–700, the RNN\\n  in 600–3,200': at d=199, every budget."""
    at = runs[(runs["seq_len"] == 200) & (runs["outcome"] == "solved")]
    span = {cell: at[at["cell"].str.startswith(cell)]["steps_to_solve"] for cell in ("gru", "lstm", "rnn")}
    fmt = lambda s: f"{s.min():,.0f}–{s.max():,.0f}"  # noqa: E731
    return f"the GRU solves in {fmt(span['gru'])} updates, the LSTM in {fmt(span['lstm'])}, the RNN\n  in {fmt(span['rnn'])}"


def rnn_rate(runs: pd.DataFrame) -> str:
    """'(1e-3)': the one rate every RNN run of the sweep trained at, from runs.csv's lr column."""
    rates = set(runs.loc[runs["cell"].str.startswith("rnn"), "lr"])
    return f"({rates.pop():.0e})".replace("e-0", "e-") if len(rates) == 1 else f"(several rates: {sorted(rates)})"


def solved_of(runs: pd.DataFrame, cell: str, seq_len: int) -> str:
    at = runs[(runs["cell"] == cell) & (runs["seq_len"] == seq_len)]
    return f"{(at['outcome'] == 'solved').sum()} of {len(at)}"


@dataclass(frozen=True)
class Quote:
    page: str  # README.md or results.md
    quoted: str  # as the page says it (line breaks included)
    folder: str | tuple[str, ...]  # the committed runs behind it
    recomputed: str | Callable[[pd.DataFrame], str]  # in the folder's recomputed summary, or made from its runs

    def check(self) -> None:
        page = PAGES[self.page].read_text(encoding="utf-8")
        assert self.quoted in page, f"{self.page} no longer says {self.quoted!r}"
        if callable(self.recomputed):
            folders = (self.folder,) if isinstance(self.folder, str) else self.folder
            made = self.recomputed(runs_of(*folders))
            assert made in self.quoted, f"{self.page}: {self.quoted!r}: the runs of {self.folder} give {made!r}"
        else:
            assert self.recomputed in recomputed_summary(self.folder), \
                f"{self.page}: {self.quoted!r}: docs/{self.folder}/runs.csv no longer gives {self.recomputed!r}"


def round_0_rnn_rates(runs: pd.DataFrame) -> str:
    """fair_lr's RNN as the rate screen reads its search's round 0 alone: 'd 230 [99, 670] at 2e-3 and\n  d 160 [...]
    at 1e-3 (P = 0.78)', the chosen rate, the runner-up and P (suite/summary/rates.py)."""
    from suite.summary.rates import rate_choices

    c = next(c for c in rate_choices(round_0(runs)) if c.cell == "rnn")
    at = lambda i: f"{c.t50_text(i)} at {c.rates[i]:.0e}".replace("e-0", "e-")  # noqa: E731
    return f"{at(c.best)} and\n  {at(c.runner_up)} (P = {c.p:.2f})"


def both_minimal(runs: pd.DataFrame, lr: str, seq_len: int) -> str:
    """'3/3' where minGRU and minLSTM solve as many of their seeds at the rate and lag, else both counts."""
    counts = {solved_of(runs, f"{cell} (train.lr={lr})", seq_len).replace(" of ", "/") for cell in ("mingru", "minlstm")}
    return counts.pop() if len(counts) == 1 else " and ".join(sorted(counts))


# summary lines that README and Results both quote (the first in the default sweep's and rnn_limit_all's summaries)
RNN_GROWS_FASTER = "memory h=64: rnn's learning time grows faster with the lag than that of lstm (P = 1.00), gru (P = 1.00)"
LSTM_GROWTH_800, GRU_GROWTH_800 = ("memory lstm h=64 (15 runs, 0 not solved within their budget): ×1.1 [1.0, 1.3]",
                                   "memory gru h=64 (15 runs, 0 not solved within their budget): ×1.3 [1.2, 1.5]")  # rnn_limit_all


def LSTM_BEYOND(runs: pd.DataFrame) -> str:
    return p_beyond("horizon", "memory", "lstm", "rnn", 64)


def same_count(runs: pd.DataFrame, cell: str, *seq_lens: int) -> str:
    """'2 of 3' where `cell` solved as many of its seeds at each lag, else each lag's count."""
    counts = {solved_of(runs, cell, t) for t in seq_lens}
    return counts.pop() if len(counts) == 1 else " and ".join(sorted(counts))


QUOTES = [
    # README: the default sweep
    Quote("README.md", "the tanh RNN's T50 is d 11 [4.4, 19]", "default_sweep",
          "adding: horizon T50: rnn d 11 [4.4, 19], lstm d > 37, gru d > 37"),
    Quote("README.md", "to d=74.5; T50 > 37): both outlast the RNN (P = 1.00)", "default_sweep",
          "lstm beyond rnn (P = 1.00), gru beyond rnn (P = 1.00); by lag: rnn solves up to d=7 (3/3) but fails from "
          "d=18.5 (0/3 solved), lstm solves every lag tried (up to d=74.5, 3/3)"),
    # README: the horizon search
    Quote("README.md", "(62 [34, 168] on disjoint seeds)", "horizon_rnn_h64/seeds_30-59",
          "memory: horizon T50: rnn d 62 [34, 168]"),
    Quote("README.md", "beyond RNN: P = 0.996", "horizon", LSTM_BEYOND),
    # README: the rate, size and budget screens
    Quote("README.md", "h=128 reaches furthest (> 199, beyond h=32's\n  129 [74, 199], P = 0.99)", "fair_lr_sizes",
          "T50 h=32 d 129 [74, 199] (at train.lr=0.002), h=64 d > 18 (at train.lr=0.001), h=128 d > 199 (at "
          "train.lr=0.0005); the data do not separate h=64 from h=32 (P(h=64 beyond) = 0.69); the data do not "
          "separate h=128 from h=64 (P(h=128 beyond) = 0.82); h=128 beyond h=32 (P = 0.99)"),
    # README: the newer tasks and the leaderboard
    Quote("README.md", "LSTM and the GRU solve every lag up to T=200 (d > 102) and the tanh RNN gives out at d 5.9 [4.8, 8]"
          "\n  (P = 1.00)", "horizon_selective_copy",
          "selective_copy: horizon T50: rnn d 5.9 [4.8, 8], lstm d > 102, gru d > 102; lstm beyond rnn (P = 1.00), "
          "gru beyond rnn (P = 1.00)"),
    Quote("README.md", "(RNN 5.9 [2.5, 12], LSTM 8.3 [5.7, 12],\n  GRU 15 [8, 30]; GRU beyond RNN, P = 0.97)",
          "horizon_assoc_recall",
          "assoc_recall: horizon T50: rnn d 5.9 [2.5, 12], lstm d 8.3 [5.7, 12], gru d 15 [8, 30]; the data do not "
          "separate lstm from rnn (P(lstm beyond) = 0.89), gru beyond rnn (P = 0.97)"),
    Quote("README.md", "memory as far as the LSTM and the GRU (all beyond d=89)", "leaderboard_small",
          "memory: tier 1 s6 d > 89, lru d > 89, lstm d > 89, gru d > 89, exprnn d > 89"),
    Quote("README.md", "minGRU and minLSTM give out first (d 41 and 25)", "leaderboard_small",
          "mingru d 41 [24, 100], rnn d > 7.2, minlstm d 25 [14, 43]"),
    Quote("README.md", "other cell, the LSTM included; on seeds 30–59 that ranking replicates (P = 0.99)",
          "leaderboard_small_seeds30", "selective_copy: tier 1 gru d > 22, s6 d > 16; tier 2 (P = 0.99 that the one "
                                       "above is beyond)"),

    # README: where the tanh RNN gives out at its best (rnn_limit: both RNN seed pools and the gated cells)
    Quote("README.md", "half its\nseeds solve within 8,000 updates up to d 420 [150, 670], and its learning time grows\n"
          "×2.4 [1.7, 3.9] per doubling of the lag", "rnn_limit_all",
          "memory rnn h=64 (48 runs, 26 not solved within their budget): ×2.4 [1.7, 3.9] per doubling of d. The data "
          "pick the power law (p_power = 0.98; evidence: strong). T50 at B = 500, 2,000, 8,000, 32,000 updates: "
          "d < 130, d < 290, d 420 [150, 670], d 550 [170, 2,000]"),
    Quote("README.md", "(×2.2 [1.4, 4.4] and ×2.9 [1.7, 5.4] on the two pools\nalone)", "rnn_limit",
          "memory rnn h=64 (24 runs, 13 not solved within their budget): ×2.2 [1.4, 4.4] per doubling of d"),
    Quote("README.md", "(×2.2 [1.4, 4.4] and ×2.9 [1.7, 5.4] on the two pools\nalone)", "rnn_limit_seeds30",
          "memory rnn h=64 (24 runs, 13 not solved within their budget): ×2.9 [1.7, 5.4] per doubling of d"),
    Quote("README.md", "The LSTM and the GRU solve every lag up to d=799 (T50 > 799, beyond the RNN with P = 0.98),\n"
          "their learning time growing ×1.1 [1.0, 1.3] and ×1.3 [1.2, 1.5]: the RNN's grows faster than\neither "
          "(P = 1.00)", "rnn_limit_all",
          "memory: horizon T50: rnn d 308 [66, 1909], lstm d > 799, gru d > 799; lstm beyond rnn (P = 0.98), gru beyond "
          "rnn (P = 0.98)"),
    Quote("README.md", "their learning time growing ×1.1 [1.0, 1.3] and ×1.3 [1.2, 1.5]: the RNN's grows faster than\n"
          "either (P = 1.00)", "rnn_limit_all",
          RNN_GROWS_FASTER),
    Quote("README.md", "their learning time growing ×1.1 [1.0, 1.3] and ×1.3 [1.2, 1.5]", "rnn_limit_all",
          LSTM_GROWTH_800),
    Quote("README.md", "their learning time growing ×1.1 [1.0, 1.3] and ×1.3 [1.2, 1.5]", "rnn_limit_all",
          GRU_GROWTH_800),
    Quote("README.md", "At 32,000 updates the model places the RNN's T50 at d 550 [170, 2,000]", "rnn_limit_all",
          "d 420 [150, 670], d 550 [170, 2,000]"),
    # README: the default sweep's memory (the geometric schedule)
    Quote("README.md", "lie above d=18, the gated cells' above 99 (P = 0.94\n  that the LSTM's is the longer: not "
          "separated)", "default_sweep",
          "memory: horizon T50: rnn d > 18, lstm d > 99, gru d > 99; the data do not separate lstm from rnn "
          "(P(lstm beyond) = 0.94)"),
    Quote("README.md", "per doubling of d, the RNN's ×4.8 [2.9, 15], the LSTM's ×1.6 [1.4, 1.8],\n  the GRU's "
          "×1.5 [1.3, 1.6]; the RNN's faster than each (P = 1.00)", "default_sweep",
          RNN_GROWS_FASTER),
    Quote("README.md", "the RNN's ×4.8 [2.9, 15]", "default_sweep",
          "memory rnn h=64 (12 runs, 6 not solved within their budget): ×4.8 [2.9, 15] per doubling of d"),
    Quote("README.md", "the LSTM's ×1.6 [1.4, 1.8]", "default_sweep",
          "memory lstm h=64 (12 runs, 0 not solved within their budget): ×1.6 [1.4, 1.8] per doubling of d"),
    Quote("README.md", "the GRU's ×1.5 [1.3, 1.6]", "default_sweep",
          "memory gru h=64 (12 runs, 0 not solved within their budget): ×1.5 [1.3, 1.6] per doubling of d"),
    # README: at the shared rate, and the rate, budget and size screens
    Quote("README.md", "at h=64 the RNN's T50 is d 63 [38, 106]", "horizon", "d 63 [38, 106] at h=64"),
    Quote("README.md", "the LSTM's and the\n  GRU's beyond 199", "horizon", "lstm T50 d > 199 at every size"),
    Quote("README.md", "At each cell's best rate and 2,000 updates the runs\n  do not separate the LSTM from the RNN "
          "(P = 0.81)", "fair_lr",
          "each cell at its best train.lr: the data do not separate lstm from rnn (P(lstm beyond) = 0.81)"),
    Quote("README.md", "with 8,000 updates the RNN solves\n  d=199 on 8 of 9 seeds", "fair_budget",
          lambda runs: solved_of(runs, "rnn (train.steps=8000)", 200)),
    Quote("README.md", '"The RNN\'s horizon shrinks with size" (38 [25, 50] at h=128 against 99 [64, 184] at h=32,\n'
          '  at 5e-3)', "horizon", "rnn T50 d 99 [64, 184] at h=32, d 63 [38, 106] at h=64, d 38 [25, 50] at h=128"),
    # Results: the default sweep
    Quote("results.md", "the tanh RNN gives out at d 11 [4.4, 19]", "default_sweep", "adding: horizon T50: rnn d 11 [4.4, 19]"),
    # Results: the horizon search
    Quote("results.md", "(6/6 at T=200)", "horizon", "lstm T50 d > 199 at every size (h=32,64,128); gru T50 d > 199 at "
                                                     "every size"),
    Quote("results.md", "(6/6 at T=200)", "horizon", lambda runs: solved_of(runs[runs["hidden"] == 64], "lstm", 200)
          .replace(" of ", "/")),
    Quote("results.md", "At h=64 the LSTM is beyond the RNN with P = 0.996", "horizon", LSTM_BEYOND),
    Quote("results.md", "| 0–29 | 60 | 63 [38, 106] |", "horizon_rnn_h64/seeds_0-29", "memory: horizon T50: rnn d 63 [38, 106]"),
    Quote("results.md", "| 30–59 | 60 | 62 [34, 168] |", "horizon_rnn_h64/seeds_30-59", "memory: horizon T50: rnn d 62 [34, 168]"),
    Quote("results.md", "8/15 seeds solve T=57, 14/30 T=66,\n  5/12 T=78, 6/12 T=90, 0/12 T=200",
          ("horizon_rnn_h64/seeds_0-29", "horizon_rnn_h64/seeds_30-59"), pooled_counts),
    Quote("results.md", "the RNN's T50 is d 99 [64, 184] at h=32 and\n  d 38 [25, 50] at h=128", "horizon",
          "rnn T50 d 99 [64, 184] at h=32, d 63 [38, 106] at h=64, d 38 [25, 50] at h=128"),
    # Results: the newer tasks
    Quote("results.md", "6/6 at T=200 (tokens 102 steps back on average), while the tanh RNN gives out at d 5.9 [4.8, 8]\n"
          "  (each gated cell beyond it with P = 1.00)", "horizon_selective_copy",
          "selective_copy: horizon T50: rnn d 5.9 [4.8, 8], lstm d > 102, gru d > 102; lstm beyond rnn (P = 1.00), gru "
          "beyond rnn (P = 1.00); by lag: rnn solves up to d=5 (3/3) but fails from d=7 (0/3 solved), lstm solves every "
          "lag tried (up to d=102, 6/6), gru solves every lag tried (up to d=102, 6/6)"),
    Quote("results.md", "on memory at the same rate and budget it reaches d 63 [38, 106]", "horizon", "d 63 [38, 106] at h=64"),
    Quote("results.md", "RNN d 5.9 [2.5, 12], LSTM\n  d 8.3 [5.7, 12], GRU d 15 [8, 30]; the GRU beyond the RNN (P = 0.97), "
          "the LSTM not\n  (P(lstm beyond) = 0.89)", "horizon_assoc_recall",
          "assoc_recall: horizon T50: rnn d 5.9 [2.5, 12], lstm d 8.3 [5.7, 12], gru d 15 [8, 30]; the data do not "
          "separate lstm from rnn (P(lstm beyond) = 0.89), gru beyond rnn (P = 0.97)"),
    Quote("results.md", "14 of their 19\n  failed runs end between 0.601 and 0.640 accuracy, and all 17 at T ≥ 17 between "
          "0.585 and 0.668;\n  the other two, the LSTM at T=12 next to its horizon, at 0.78 and 0.89",
          "horizon_assoc_recall", plateau),
    # Results: the leaderboard
    Quote("results.md", "place them above the rest (P = 0.99 that the one above is beyond)", "leaderboard_small",
          "memory: tier 1 s6 d > 89, lru d > 89, lstm d > 89, gru d > 89, exprnn d > 89; tier 2 (P = 0.99 that the one "
          "above is beyond)"),
    Quote("results.md", "first, d 41 [24, 100] and d 25 [14, 43]", "leaderboard_small", "mingru d 41 [24, 100], rnn d > 7.2, "
                                                                                        "minlstm d 25 [14, 43]"),
    Quote("results.md", "10^-21.1 and 10^-21.6 of the last", "leaderboard_small",
          "memory, d=89 (T=90), matched sizes: s6 10^-0.6, lru 10^-0.2, lstm 10^-0.1, gru 10^0.6, rnn 10^-11.7, exprnn "
          "10^-0.2, minlstm 10^-21.6, mingru 10^-21.1"),
    Quote("results.md", "S6 and the GRU lie beyond every other cell (P = 0.99 that the one above\n  is beyond)",
          "leaderboard_small", "selective_copy: tier 1 s6 d > 17, gru d > 47; tier 2 (P = 0.99 that the one above is "
                               "beyond)"),
    Quote("results.md", "the GRU beyond the rest, P = 0.99)", "leaderboard_small_seeds30",
          "selective_copy: tier 1 gru d > 22, s6 d > 16; tier 2 (P = 0.99 that the one above is beyond)"),
    Quote("results.md", "memory's tiers do not separate with 9 runs a group", "leaderboard_small_seeds30",
          "memory: tier 1 s6 d > 29, lru d > 29, lstm d > 29, gru d > 29, exprnn d > 29, rnn d > 26, mingru d > 8.8, "
          "minlstm d > 5\n"),
    # Results: the rate, size and budget screens
    Quote("results.md", "(P(lstm beyond) = 0.81 at h=64 and 2,000 updates); at the shared 5e-3 it is (P = 0.996, above)",
          "fair_lr", "each cell at its best train.lr: the data do not separate lstm from rnn (P(lstm beyond) = 0.81)"),
    Quote("results.md", "(P = 0.996, above)", "horizon", LSTM_BEYOND),
    Quote("results.md", "rate the RNN's T50 is d 129 [74, 199] at h=32, d > 18 at h=64 and d > 199 at h=128, and h=128 is\n"
          "  beyond h=32 with P = 0.99", "fair_lr_sizes",
          "T50 h=32 d 129 [74, 199] (at train.lr=0.002), h=64 d > 18 (at train.lr=0.001), h=128 d > 199 (at "
          "train.lr=0.0005); the data do not separate h=64 from h=32 (P(h=64 beyond) = 0.69); the data do not "
          "separate h=128 from h=64 (P(h=128 beyond) = 0.82); h=128 beyond h=32 (P = 0.99)"),
    Quote("results.md", "At h=128, 5e-3 gives d 39 [23, 77]", "fair_lr_sizes", "beyond train.lr=0.005's d 39 [23, 77] (P = 1.00)"),
    Quote("results.md", "it solves d=199 on 8 of 9\n  seeds", "fair_budget", lambda runs: solved_of(runs, "rnn (train.steps=8000)", 200)),
    Quote("results.md", "at its best rate (1e-3) it solves", "fair_budget", rnn_rate),
    Quote("results.md", "beyond its 500-update T50 of d 118 [44, 174] (P = 0.99)", "fair_budget",
          "beyond train.steps=500's d 118 [44, 174] (P = 0.99)"),
    Quote("results.md", "learning time grows ×4.1 [2.5, 8.1] per doubling of d, and it predicts T50(500) = d 92 [61, 130],\n"
          "  inside the 500-update runs' own d 118 [44, 174], and T50(8,000) = d 310 [160, 520]", "fair_budget",
          "memory rnn (train.steps=2000) h=64 (24 runs, 10 not solved within their budget): ×4.1 [2.5, 8.1] per doubling "
          "of d. The data pick the power law (p_power = 0.90; evidence: positive). T50 at B = 500, 2,000, 8,000, 32,000 "
          "updates: d 92 [61, 130], d 170 [120, 220], d 310 [160, 520]"),
    # Results: where the RNN gives out at its best rate
    Quote("results.md", "predicted T50(8,000) = d 310 [160, 520]\n  (above)", "fair_budget", "d 310 [160, 520]"),
    # Results: the default sweep (the geometric schedule)
    Quote("results.md", "d=18 (P = 0.94 that the LSTM's is the longer: not a claim)", "default_sweep",
          "memory: horizon T50: rnn d > 18, lstm d > 99, gru d > 99; the data do not separate lstm from rnn "
          "(P(lstm beyond) = 0.94)"),
    Quote("results.md", "per doubling of d, the RNN's ×4.8 [2.9, 15],\n  the LSTM's ×1.6 [1.4, 1.8], the GRU's "
          "×1.5 [1.3, 1.6]; the RNN's faster than each gated cell's\n  with P = 1.00", "default_sweep",
          RNN_GROWS_FASTER),
    Quote("results.md", "the RNN's ×4.8 [2.9, 15]", "default_sweep",
          "memory rnn h=64 (12 runs, 6 not solved within their budget): ×4.8 [2.9, 15]"),
    Quote("results.md", "the LSTM's ×1.6 [1.4, 1.8]", "default_sweep",
          "memory lstm h=64 (12 runs, 0 not solved within their budget): ×1.6 [1.4, 1.8]"),
    Quote("results.md", "the GRU's ×1.5 [1.3, 1.6]", "default_sweep",
          "memory gru h=64 (12 runs, 0 not solved within their budget): ×1.5 [1.3, 1.6]"),
    Quote("results.md", "runs at h=64 (below) give\n  ×3.8 [1.9, 11]", "horizon",
          "memory rnn h=64 (60 runs, 30 not solved within their budget): ×3.8 [1.9, 11]"),
    Quote("results.md", "the RNN at its best rate to d=799 (further below) ×2.4 [1.7, 3.9]", "rnn_limit_all",
          "memory rnn h=64 (48 runs, 26 not solved within their budget): ×2.4 [1.7, 3.9]"),
    Quote("results.md", "it solves 2/3 seeds at d=49 and 1/3 at d=99", "default_sweep",
          lambda runs: "it solves " + solved_of(runs[runs["task"] == "memory"], "rnn", 50).replace(" of ", "/")
          + " seeds at d=49 and " + solved_of(runs[runs["task"] == "memory"], "rnn", 100).split(" of ")[0] + "/3 at d=99"),
    # Results: where the tanh RNN gives out at its best rate
    Quote("results.md", "seeds 0–29: 99 2/3, 199 2/3,\n  239 2/3, 332 1/3, 399 1/3, 575 1/3, 799 2/6", "rnn_limit",
          lambda runs: "seeds 0–29: " + ", ".join(f"{t - 1} {solved_of(runs, 'rnn', t)}".replace(" of ", "/")
                                                for t in (100, 200)) + ",\n  " +
          ", ".join(f"{t - 1} {solved_of(runs, 'rnn', t)}".replace(" of ", "/") for t in (240, 333, 400, 576, 800))),
    Quote("results.md", "seeds 30–59: 99 2/3, 199 3/3, 399 2/3, 462 1/3,\n  642 1/3, 799 2/9", "rnn_limit_seeds30",
          lambda runs: "seeds 30–59: " + ", ".join(f"{t - 1} {solved_of(runs, 'rnn', t)}".replace(" of ", "/")
                                                 for t in (100, 200, 400, 463)) + ",\n  " +
          ", ".join(f"{t - 1} {solved_of(runs, 'rnn', t)}".replace(" of ", "/") for t in (643, 800))),
    Quote("results.md", "the threshold\n  fit to all 48 runs puts T50 at d 308 [66, 1909], one pool alone leaves it open "
          "(d > 38; d > 58)", "rnn_limit_all", "memory: horizon T50: rnn d 308 [66, 1909]"),
    Quote("results.md", "one pool alone leaves it open (d > 38; d > 58)", "rnn_limit", "memory: horizon T50: rnn d > 38"),
    Quote("results.md", "one pool alone leaves it open (d > 38; d > 58)", "rnn_limit_seeds30",
          "memory: horizon T50: rnn d > 58"),
    Quote("results.md", "the RNN's learning time grows ×2.4 [1.7, 3.9] per doubling of d, and half the\n  seeds solve "
          "within 8,000 updates up to d 420 [150, 670] (T50(8,000))", "rnn_limit_all",
          "×2.4 [1.7, 3.9] per doubling of d. The data pick the power law (p_power = 0.98; evidence: strong). T50 at "
          "B = 500, 2,000, 8,000, 32,000 updates: d < 130, d < 290, d 420 [150, 670], d 550 [170, 2,000]"),
    Quote("results.md", "seeds 0–29 alone\n  give ×2.2 [1.4, 4.4]", "rnn_limit",
          "memory rnn h=64 (24 runs, 13 not solved within their budget): ×2.2 [1.4, 4.4]"),
    Quote("results.md", "seeds 30–59 ×2.9 [1.7, 5.4] and T50(8,000) = d 500 [240, 740]", "rnn_limit_seeds30",
          "×2.9 [1.7, 5.4] per doubling of d. The data pick the power law (p_power = 0.83; evidence: positive). T50 at "
          "B = 500, 2,000, 8,000, 32,000 updates: d < 150, d < 340, d 500 [240, 740]"),
    Quote("results.md", "the model places it at d 550 [170, 2,000]", "rnn_limit_all", "d 420 [150, 670], d 550 [170, 2,000]"),
    Quote("results.md", "(6/6 seeds at T=800 each; T50 > 799),\n  beyond the RNN with P = 0.98 each", "rnn_limit_all",
          "lstm d > 799, gru d > 799; lstm beyond rnn (P = 0.98), gru beyond rnn (P = 0.98); by lag: rnn mixed (solves "
          "d=99,199,239; fails d=332,462,575,642,799; no majority at d=399), lstm solves every lag tried (up to d=799, "
          "6/6), gru solves every lag tried (up to d=799, 6/6)"),
    Quote("results.md", "their learning time grows ×1.1 [1.0, 1.3] (LSTM) and ×1.3 [1.2, 1.5]\n  (GRU) per doubling, and "
          "the RNN's grows faster than either with P = 1.00", "rnn_limit_all",
          RNN_GROWS_FASTER),
    Quote("results.md", "×1.1 [1.0, 1.3] (LSTM) and ×1.3 [1.2, 1.5]", "rnn_limit_all",
          LSTM_GROWTH_800),
    Quote("results.md", "×1.1 [1.0, 1.3] (LSTM) and ×1.3 [1.2, 1.5]", "rnn_limit_all",
          GRU_GROWTH_800),
    # Results: the rate screen checked on fair_lr's runs
    Quote("results.md", "the RNN's T50(2,000) at 1e-3 is d 170 [120, 220], not separated from 2e-3's\n  d 150 [78, 230] "
          "(P = 0.71)", "fair_lr", "memory rnn h=64: the data do not separate train.lr=0.001 (T50(2,000) d 170 [120, 220]) "
          "from train.lr=0.002 (d 150 [78, 230]) (P(the first is longer) = 0.71)"),
    Quote("results.md", "it is d 230 [99, 670] at 2e-3 and\n  d 160 [87, 280] at 1e-3 (P = 0.78)", "fair_lr",
          round_0_rnn_rates),
    Quote("results.md", "Both solve T=30 on 3/3 seeds at 1e-2 and on 0/3 at 3e-3\n  and at 1e-3", "rate_screen_small",
          lambda runs: both_minimal(runs, "0.01", 30) + " seeds at 1e-2 and on " + both_minimal(runs, "0.003", 30)
          + " at 3e-3\n  and at " + both_minimal(runs, "0.001", 30).replace("0/3", "1e-3")),
    Quote("results.md", "d 49 [37, 65] (minGRU) and d 45 [35, 60] (minLSTM), beyond\n  3e-3's d 20 [13, 35] "
          "(P = 0.99 each)", "rate_screen_small",
          "memory mingru h=188: train.lr=0.01 (T50(2,000) d 49 [37, 65]) beyond train.lr=0.003's d 20 [13, 35] (P = 0.99)"),
    Quote("results.md", "d 49 [37, 65] (minGRU) and d 45 [35, 60] (minLSTM), beyond\n  3e-3's d 20 [13, 35] "
          "(P = 0.99 each)", "rate_screen_small",
          "memory minlstm h=125: train.lr=0.01 (T50(2,000) d 45 [35, 60]) beyond train.lr=0.003's d 20 [13, 35] (P = 0.99)"),
    Quote("results.md", "d 54 [39, 67] and d 48 [36, 62] at 1e-2, beyond\n  d 20 [13, 35] (P = 0.99 each)",
          "rate_screen_small_seeds30",
          "memory minlstm h=125: train.lr=0.01 (T50(2,000) d 48 [36, 62]) beyond train.lr=0.003's d 20 [13, 35] (P = 0.99)"),
    Quote("results.md", "d 54 [39, 67] and d 48 [36, 62] at 1e-2, beyond\n  d 20 [13, 35] (P = 0.99 each)",
          "rate_screen_small_seeds30",
          "memory mingru h=188: train.lr=0.01 (T50(2,000) d 54 [39, 67]) beyond train.lr=0.003's d 20 [13, 35] (P = 0.99)"),
    Quote("results.md", "At 1e-2 the LSTM solves every lag tried\n  (up to d=47, 3/3)", "rate_screen_small_selective_copy",
          "lstm (train.lr=0.01) solves every lag tried (up to d=47, 3/3)"),
    Quote("results.md", "at 3e-3 it fails at every lag tried (from d=7, 0/3\n  solved)", "rate_screen_small_selective_copy",
          "lstm (train.lr=0.003) fails at every lag tried (from d=7, 0/3 solved)"),
    Quote("results.md", "At 1e-2 the LSTM solves every lag tried (up to d=47, 3/3), at 3e-3 it fails at\n  every lag tried "
          "(from d=7, 0/3 solved)", "rate_screen_small_selective_copy_seeds30",
          "lstm (train.lr=0.003) fails at every lag tried (from d=7, 0/3 solved), lstm (train.lr=0.01) solves every lag "
          "tried (up to d=47, 3/3)"),
    Quote("results.md", "the GRU's 1e-2 is beyond its 3e-3 (P = 1.00)", "rate_screen_small_selective_copy_seeds30",
          "selective_copy gru h=38: train.lr=0.01 (T50(2,000) d > 52) beyond train.lr=0.003's d < 12 (P = 1.00)"),
    Quote("results.md", "it solves up to d=6 (2/3) but fails from d=7 (1/3\n  solved)", "leaderboard_small",
          "lstm solves up to d=6 (2/3) but fails from d=7 (1/3 solved)"),
    Quote("results.md", "(P = 0.53\n  and 0.54 from all runs)", "fair_lr",
          "memory lstm h=64: the data do not separate train.lr=0.01 (T50(2,000) d > 400) from train.lr=0.002 (d > 390) "
          "(P(the first is longer) = 0.53)"),
    Quote("results.md", "(P = 0.53\n  and 0.54 from all runs)", "fair_lr",
          "memory gru h=64: the data do not separate train.lr=0.002 (T50(2,000) d > 480) from train.lr=0.01 (d > 390) "
          "(P(the first is longer) = 0.54)"),
]


# what the coverage test looks for: the figures a reader would cite
FIGURES = re.compile(r"\d[\d.,]* \[[\d.,]+, [\d.,]+\]"  # an interval
                     r"|P(?:\([^)]*\))? = \d\.\d+"  # a probability
                     r"|\b\d+/\d+\b|\b\d+ of \d+ seeds"  # a count
                     r"|×\d[\d.,]*"  # a growth factor
                     r"|\b[dT] [<>] \d[\d.,]*|\bT50 [<>] \d+"  # a bound
                     r"|\d[\d,]*–\d[\d,]* updates")  # a range of learning times
# figures on the pages that are not results: an arithmetic example, a knob's value
NOT_FROM_RUNS = ["(P ≥ 0.95)", "claim is printed only where the runs separate it (P ≥ 0.95)"]


def uncovered(page: str) -> list[str]:
    """'results.md:42: 0.75 [0.5, 0.9]' for each figure of the page outside the suite's blocks and code that no
    quote of QUOTES covers."""
    text = PAGES[page].read_text(encoding="utf-8")
    hidden = [m.span() for m in re.finditer(r"<!-- (\w+):start -->.*?<!-- \1:end -->|```.*?```|`[^`\n]+`", text, re.S)]
    covered = [(i, i + len(q.quoted)) for q in QUOTES if q.page == page for i in _all(text, q.quoted)]
    found = []
    for m in FIGURES.finditer(text):
        inside = lambda spans: any(a <= m.start() and m.end() <= b for a, b in spans)  # noqa: E731
        if not inside(hidden) and not inside(covered):
            found.append(f"{page}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}")
    return found


def _all(text: str, part: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(part), text)]


@pytest.mark.parametrize("page", list(PAGES))
def test_every_figure_on_the_page_is_recomputed_by_a_quote(page):
    missing = uncovered(page)
    assert not missing, ("a figure no quote recomputes from committed runs (add it to QUOTES, or withdraw it):\n"
                         + "\n".join(missing))


def test_the_coverage_check_finds_a_figure_typed_by_hand(monkeypatch, tmp_path):
    page = tmp_path / "results.md"
    page.write_text("The RNN gives out at d 12 [5, 20] (P = 0.97), 3/3 at T=10, ×2.5 per doubling.\n"
                    "<!-- summary:start -->\nd 1 [0.5, 2]\n<!-- summary:end -->\n", encoding="utf-8")
    monkeypatch.setitem(PAGES, "results.md", page)
    assert uncovered("results.md") == ["results.md:1: 12 [5, 20]", "results.md:1: P = 0.97", "results.md:1: 3/3",
                                       "results.md:1: ×2.5"]


@pytest.mark.slow  # a summary, learning-time fits included, of each committed sweep: ~30 s of CPU
@pytest.mark.parametrize("quote", QUOTES, ids=[f"{q.page}:{q.quoted[:40]}" for q in QUOTES])
def test_what_the_pages_quote_is_what_the_committed_runs_give(quote):
    """Each figure is on its page as quoted and in what the sweep's runs.csv recomputes: a flipped run outcome moves
    an interval, a probability or a count and fails this, naming the figure."""
    quote.check()


@pytest.mark.slow
def test_a_flipped_outcome_fails_the_recomputation(tmp_path, monkeypatch):
    """One committed run of the default sweep turned from failed to solved (the RNN on adding at T=25, seed 0): the
    adding quotes no longer hold. This is how a quote that could never fail would show."""
    runs = pd.read_csv(ROOT / "docs" / "default_sweep" / "runs.csv")
    flip = (runs["task"] == "adding") & (runs["cell"] == "rnn") & (runs["seq_len"] == 25) & (runs["seed"] == 0)
    assert runs.loc[flip, "outcome"].tolist() == ["failed"]
    runs.loc[flip, "outcome"] = "solved"
    runs.loc[flip, "steps_to_solve"] = 1000
    folder = tmp_path / "docs" / "default_sweep"
    folder.mkdir(parents=True)
    runs.to_csv(folder / "runs.csv", index=False)
    monkeypatch.setitem(globals(), "ROOT", tmp_path)  # the runs from the copy; PAGES still the repository's pages
    recomputed_summary.cache_clear()
    try:
        adding = [q for q in QUOTES if q.folder == "default_sweep" and "11 [4.4, 19]" in q.quoted]
        assert adding
        for quote in adding:
            with pytest.raises(AssertionError, match="no longer gives"):
                quote.check()
    finally:
        recomputed_summary.cache_clear()
