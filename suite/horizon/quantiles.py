"""Reading T50's grid posterior (suite/horizon/threshold.py): quantiles of the posterior spread over its
grid cells, and bounds on T50 from monotonicity alone, where the model's are not to be trusted."""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats


class SmoothedPosterior:
    """T50's posterior with each grid point's mass spread evenly over its m cell (x moves with m one for one).

    Read off the points alone, a narrow posterior's quantiles land on m's lattice: a true T50 between two points
    then falls outside intervals that end at one of them. Spread, the cdf is continuous and cheap: with
    H(t) = Σ_{x_i ≤ t} w_i (t − x_i) (two running sums), cdf(y) = (H(y + step/2) − H(y − step/2)) / step.
    """

    def __init__(self, x_sorted: np.ndarray, w_sorted: np.ndarray, step: float):
        finite = np.isfinite(x_sorted)  # +inf (no crossing) sorts last and stays a point mass
        self.x, self.step = x_sorted[finite], step
        self.w = np.concatenate(([0.0], np.cumsum(w_sorted[finite])))
        self.wx = np.concatenate(([0.0], np.cumsum(w_sorted[finite] * self.x)))
        self.p_inf = float(w_sorted[~finite].sum())

    def _h(self, t: float) -> float:
        i = np.searchsorted(self.x, t, side="right")
        return t * self.w[i] - self.wx[i]

    def cdf(self, y: float) -> float:
        return float((self._h(y + self.step / 2) - self._h(y - self.step / 2)) / self.step)

    def quantile(self, p: float) -> float:
        """The y with cdf(y) = p (cdf is continuous, and flat only where there is no mass). The bracket holds no
        mass below its start (cdf 0) and all the finite mass below its end (cdf 1 − p_inf > p)."""
        if p >= 1 - self.p_inf:
            return math.inf
        lo, hi = self.x[0] - self.step, self.x[-1] + self.step
        return optimize.brentq(lambda y: self.cdf(y) - p, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps)


def bounds_without_model(evidence: tuple[tuple[int, int, int], ...], level: float) -> tuple[float, float]:
    """Bounds on T50 from monotonicity alone: (a, b) with T50 > a and T50 < b at `level` (0 and inf: none).

    T50 ≤ t makes P(solved) ≤ 1/2 at every lag ≥ t, so their solved runs are at most Binomial(tried, 1/2): too
    many rejects it. Tested upward from the shortest lag, stopping at the first that holds, the error stays
    within 1 − level (a fixed sequence: a wrong bound needs the first true hypothesis rejected). Likewise downward.
    For the top lag alone this is k of k solved with k ≥ 5 at 95% (0.5^5 < 0.05).
    """
    alpha, lags = 1 - level, [t for t, _, _ in evidence]
    above = 0.0
    for i, lag in enumerate(lags):
        k, n = sum(e[1] for e in evidence[i:]), sum(e[2] for e in evidence[i:])
        if stats.binom.sf(k - 1, n, 0.5) > alpha:
            break
        above = float(lag)
    below = math.inf
    for i in reversed(range(len(lags))):
        k, n = sum(e[1] for e in evidence[:i + 1]), sum(e[2] for e in evidence[:i + 1])
        if stats.binom.cdf(k, n, 0.5) > alpha:
            break
        below = float(lags[i])
    return above, below
