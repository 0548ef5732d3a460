"""Where a group's next runs go, to narrow its T50's interval most (suite/horizon/threshold.py estimates it), and when
a group is done: the horizon search's placement rule (suite/horizon/search.py uses it round after round).

For k more runs at a candidate lag, the expected posterior variance of ln T50 is averaged over the k + 1
outcomes, each weighted by its posterior predictive probability; the candidate with the least wins. Beyond
the lags tried the search first extends (×3 up to a cap, ÷3 down) while the crossing most likely lies there.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import comb, expit

from suite.horizon.threshold import (ABOVE, BELOW, GRID, REACH, Counts, Estimate, GridSize, estimate, evidence_of, posterior,
                             prior_span)


def best_lag(counts: Counts, candidates: list[int], k: int, span: tuple[float, float] | None = None,
             size: GridSize = GRID) -> int:
    """The candidate lag where k more runs leave the least expected posterior variance of ln T50.

    Each of the k + 1 outcomes (j solved) is weighted by its posterior predictive probability; ln T50 is clipped
    to the prior's reach ± ln 4 (no crossing at its top), so whether there is a crossing counts too.
    """
    grid, w = posterior(evidence_of(counts), prior_span(counts, span), size)
    w = w.reshape(grid.log_prior.shape)
    x = np.clip(grid.x, grid.reach[0] - REACH, grid.reach[1] + REACH).reshape(w.shape)
    # P(j of k solved) = Σ_r c[j, r](γ, λ) F^r with F the sigmoid, a function of (m, s) alone: summing over (γ, λ)
    # first leaves (m, s) × r sums, so every candidate costs one small product instead of a pass over the grid
    c = _outcome_polynomials(grid.floor, 1 - grid.floor - grid.lapse, k)  # (GL, k + 1 outcomes, k + 1 powers)
    c = c.reshape(c.shape[0], -1)
    z_sums, x_sums = (v @ c for v in (w, w * x))  # (MS, j·r)
    falling = expit(grid.s[None, :] * (grid.m[None, :] - np.log(np.asarray(candidates, float))[:, None]))
    z, s1 = (sum(f @ sums[:, r::k + 1] for r, f in enumerate(_powers(falling, k))) for sums in (z_sums, x_sums))
    # z: P(j solved at each candidate), (candidates, j); s1: the sum of x over it
    # E[posterior variance] = E[x²] − Σ_j s1_j² / z_j, and E[x²] is the same for every candidate
    score = np.sum(s1 ** 2 / np.maximum(z, 1e-300), axis=1)
    return candidates[int(np.argmax(score))]


def _outcome_polynomials(floor: np.ndarray, span: np.ndarray, k: int) -> np.ndarray:
    """c[g, j, r]: P(j of k solved) = Σ_r c[g, j, r] F^r where P(solved) = floor + span·F (binomial expansions)."""
    solved = _polynomial_powers(floor, span, k)  # (floor + span F)^j
    failed = _polynomial_powers(1 - floor, -span, k)  # (1 − floor − span F)^j
    c = np.zeros((floor.size, k + 1, k + 1))
    for j in range(k + 1):
        for r in range(k + 1):
            c[:, j, r] = comb(k, j) * sum(solved[j][:, u] * failed[k - j][:, r - u] for u in range(r + 1))
    return c


def _polynomial_powers(a: np.ndarray, b: np.ndarray, k: int) -> list[np.ndarray]:
    """(a + b F)^j for j = 0..k, each as coefficients of F^0..F^k: (len(a), k + 1)."""
    out = [np.zeros((a.size, k + 1))]
    out[0][:, 0] = 1
    for _ in range(k):
        nxt = out[-1] * a[:, None]
        nxt[:, 1:] += out[-1][:, :-1] * b[:, None]
        out.append(nxt)
    return out


def _powers(p: np.ndarray, k: int) -> list[np.ndarray]:
    """[1, p, p², …, p^k], by products."""
    out = [np.ones_like(p)]
    for _ in range(k):
        out.append(out[-1] * p)
    return out


def extend(counts: Counts, cap_hi: int, cap_lo: int = 1, factor: float = 3.0, span: tuple[float, float] | None = None,
           size: GridSize = GRID) -> int | None:
    """A lag beyond the tried range (×factor up or ÷factor down, within the caps) while the crossing is more likely
    beyond it than inside: every run solved (or failed) so far, or most of the posterior's T50 out there. Once the
    range reaches the cap, the cap itself: more seeds there are the only runs that can make '> cap' (or '< cap_lo')
    a claim; lags inside the range would only narrow a part of the posterior that is not in question."""
    est = estimate(counts, span, size=size)
    if est.p_above > 0.5:
        return min(round(est.t_max * factor), cap_hi) if est.t_max < cap_hi else est.t_max
    if est.p_below > 0.5:
        return max(round(est.t_min / factor), cap_lo) if est.t_min > cap_lo else est.t_min
    return None


def candidates(counts: Counts, n: int = 20) -> list[int]:
    """The lags tried and whole lags between them, ~n in all, evenly spaced in ln T (none within 5% of a tried one)."""
    tried = sorted(t for t, (_, runs) in counts.items() if runs > 0)
    between = np.geomspace(tried[0], tried[-1], n)
    near = np.min(np.abs(np.log(between[:, None]) - np.log(tried)[None, :]), axis=1) < math.log(1.05)
    return sorted(set(tried) | {round(t) for t in between[~near]})


def done(est: Estimate, target: float = 2.0, max_runs: int = 60, cap_lo: int = 1, cap_hi: int | None = None) -> bool:
    """Stop: the claim's ratio is at most `target`, the runs reach max_runs, or an open end holds at a cap."""
    at_cap = (est.claim == ABOVE and cap_hi is not None and est.t_max >= cap_hi) or \
             (est.claim == BELOW and est.t_min <= cap_lo)
    return est.ratio <= target or est.runs >= max_runs or at_cap


def next_lag(counts: Counts, k: int, cap_lo: int = 1, cap_hi: int | None = None,
             size: GridSize = GRID) -> int:
    """Where the next k runs go: beyond the lags tried while the crossing is likely there (extend), else the
    candidate between them that narrows ln T50 most."""
    if cap_hi is not None and (lag := extend(counts, cap_hi, cap_lo, size=size)) is not None:
        return lag
    return best_lag(counts, candidates(counts), k, size=size)
