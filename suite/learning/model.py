"""The mixture cure accelerated-failure-time model of learning time, its priors, and T50(B).

For a run at lag T with covariate x (x = ln T: the power law; x = T: exponential growth):

  P(never learns | x)      π(x) = expit(c0 + c1 x)
  ln t | learns             b0 + b1 x + σ ε,  ε ~ N(0, 1)            (log-normal)
  S(t | x) = π(x) + (1 − π(x)) S0(t | x)

Growth: 2^b1 times longer per doubling of the lag (power law), or exp(100 b1) per +100 steps (exponential).
T50(B): the largest lag at which P(solved within B updates) = (1 − π(T)) F0(B | T) is still at least 1/2.

Inside, x is standardised over the distinct lags tried, z = (x − x̄)/s_x, and the parameters are
θ = (μ, β, ln σ, γ0, γ1) with μ, γ0 at z = 0 and β, γ1 per unit of z: the posterior is then nearly uncorrelated,
and the same priors serve both forms, so their marginal likelihoods compare like with like. The priors, weakly
informative and free of the lag's units:
  μ      N(ln √(e1·B), 2.5²)   e1 the first solve seen (or 1 update), B the largest budget: anywhere on the schedule
  β      N(0, 2²)              no growth favoured; a factor of e^4 in time per standard deviation of x is 2 σ out
  ln σ   N(ln 0.6, 0.8²)       the committed runs spread seeds by a factor of ~1.5–2.5 (σ ≈ 0.4–0.9)
  γ0     N(−1.5, 1.5²)         a never-learns share of ~0.18 at the middle lag, 0.01–0.8 within 2 σ
  γ1     N(0, 1.5²)            the share may grow (or fall) with the lag
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_ndtr, ndtr

from suite.learning.runs import Runs

POWER, EXPONENTIAL = "power", "exponential"
FORMS = (POWER, EXPONENTIAL)
PRIOR_SD = (2.5, 2.0, 0.8, 1.5, 1.5)  # μ, β, ln σ, γ0, γ1
PRIOR_MEAN_REST = (0.0, math.log(0.6), -1.5, 0.0)  # β, ln σ, γ0, γ1; μ's centre comes from the schedule
REACH = 8.0  # T50 is searched for over the lags tried, widened by this factor each way; beyond: 0 or inf
SCAN = 256  # lags on that range at which P(solved within B) is evaluated per draw


def covariate(lag, form: str) -> np.ndarray:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    lag = np.asarray(lag, dtype=float)
    return np.log(lag) if form == POWER else lag


@dataclass(frozen=True, eq=False)
class Design:
    """What the likelihood needs of a group's runs under one growth form, precomputed once."""

    form: str
    cure: bool  # False: π = 0, three parameters (a variant for tests: what dropping the never-learns share does)
    centre: float  # x̄ over the distinct lags
    scale: float  # s_x
    z: np.ndarray  # per run
    ln_lo: np.ndarray  # -inf where lo = 0
    ln_hi: np.ndarray  # ln of hi for solved runs; unused where censored
    censored: np.ndarray
    prior_mean: np.ndarray
    lag_range: tuple[float, float]

    @property
    def dim(self) -> int:
        return 5 if self.cure else 3


def design(data: Runs, form: str, cure: bool = True) -> Design:
    x = covariate(data.lag, form)
    distinct = covariate(data.lags, form)
    centre, scale = float(distinct.mean()), float(distinct.std())
    censored = data.censored
    with np.errstate(divide="ignore"):
        ln_lo = np.log(data.lo)
    ln_hi = np.log(np.where(censored, 1.0, data.hi))
    first = float(data.hi[~censored].min()) if (~censored).any() else 1.0
    mu0 = 0.5 * (math.log(first) + math.log(float(data.lo[censored].max()) if censored.any() else data.hi.max()))
    prior_mean = np.array((mu0, *PRIOR_MEAN_REST))[: 5 if cure else 3]
    return Design(form, cure, centre, scale, (x - centre) / scale, ln_lo, ln_hi, censored, prior_mean,
                  (float(data.lags[0]), float(data.lags[-1])))


def _log_interval(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ln(Φ(b) − Φ(a)) for a < b, accurate in both tails (in the upper tail as ln(Φ(−a) − Φ(−b)))."""
    upper = a > 0
    hi, lo = np.where(upper, -a, b), np.where(upper, -b, a)
    with np.errstate(divide="ignore"):
        return log_ndtr(hi) + np.log1p(-np.exp(log_ndtr(lo) - log_ndtr(hi)))


def log_likelihood(theta: np.ndarray, d: Design) -> np.ndarray:
    """Per parameter row of theta (n, dim): the sum over runs of each run's log-likelihood, (n,)."""
    mu, beta, sigma = theta[:, 0:1], theta[:, 1:2], np.exp(theta[:, 2:3])
    loc = mu + beta * d.z  # (n, runs)
    a, b = (d.ln_lo - loc) / sigma, (d.ln_hi - loc) / sigma
    if d.cure:
        eta = theta[:, 3:4] + theta[:, 4:5] * d.z
        log_cure, log_learns = -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    else:
        log_cure, log_learns = -np.inf, 0.0
    solved = log_learns + _log_interval(a, b)
    # not solved by the budget: never learns, or learns after it (S0 = Φ(−a) at a = (ln B − loc)/σ)
    censored = np.logaddexp(log_cure, log_learns + log_ndtr(-a))
    return np.where(d.censored, censored, solved).sum(axis=1)


def log_prior(theta: np.ndarray, d: Design) -> np.ndarray:
    sd = np.asarray(PRIOR_SD[: d.dim])
    return -0.5 * (((theta - d.prior_mean) / sd) ** 2).sum(axis=1) - np.log(sd * math.sqrt(2 * math.pi)).sum()


def log_posterior(theta: np.ndarray, d: Design) -> np.ndarray:
    """Unnormalised: prior times likelihood, both normalised densities (its integral is the evidence)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = log_prior(theta, d) + log_likelihood(theta, d)
    return np.where(np.isnan(out), -np.inf, out)


def natural(theta: np.ndarray, d: Design) -> dict[str, np.ndarray]:
    """The parameters per unit of x (b0, b1, sigma, c0, c1), one array each, from θ rows on the z scale."""
    b1 = theta[:, 1] / d.scale
    c1 = theta[:, 4] / d.scale if d.cure else np.zeros(len(theta))
    c0 = theta[:, 3] - c1 * d.centre if d.cure else np.full(len(theta), -np.inf)
    return {"b0": theta[:, 0] - b1 * d.centre, "b1": b1, "sigma": np.exp(theta[:, 2]), "c0": c0, "c1": c1}


def growth(b1, form: str) -> np.ndarray:
    """Times longer learning takes per doubling of the lag (power law) or per +100 steps (exponential)."""
    b1 = np.asarray(b1, dtype=float)
    return np.exp(b1 * (math.log(2) if form == POWER else 100.0))


def _p_solved(budget: float, x, b0, b1, sigma, c0, c1) -> np.ndarray:
    """(1 − π) F0(B) at covariate x, element for element (numpy-broadcast)."""
    with np.errstate(over="ignore"):
        return expit(-(c0 + c1 * x)) * ndtr((math.log(budget) - b0 - b1 * x) / sigma)


def p_solved_within(budget: float, lag, form: str, b0, b1, sigma, c0, c1) -> np.ndarray:
    """(1 − π(T)) F0(B | T), numpy-broadcast over the lags and the parameters."""
    return _p_solved(budget, covariate(lag, form), b0, b1, sigma, c0, c1)


def t50(budget: float, form: str, params: dict[str, np.ndarray], lag_range: tuple[float, float],
        reach: float = REACH, points: int = SCAN, block: int = 32) -> np.ndarray:
    """T50(B) per parameter set: the largest lag at which P(solved within B) ≥ 1/2, interpolated in ln T between
    the scan's lags over [T_min/reach, T_max·reach]; 0 where no lag there reaches 1/2, inf where all do.

    The scan runs from the longest lag down, `block` lags at a time, and a draw leaves it at the first block
    where P reaches one half: what is left below that lag cannot change its T50, and the draws' T50 lies mostly
    within the lags tried, well inside the scan. The same floats as evaluating every lag
    (tests/test_learning_time.py checks the two bit for bit)."""
    grid = np.geomspace(lag_range[0] / reach, lag_range[1] * reach, points)
    x = covariate(grid, form)
    draws = [np.asarray(params[k], dtype=float) for k in ("b0", "b1", "sigma", "c0", "c1")]
    last = np.full(len(draws[0]), -1)  # the last lag still at or above one half; -1: none
    pending = np.arange(len(last))
    for stop in range(points, 0, -block):
        start = max(0, stop - block)
        above = _p_solved(budget, x[None, start:stop], *(d[pending, None] for d in draws)) >= 0.5
        found = above.any(axis=1)
        last[pending[found]] = stop - 1 - np.argmax(above[found, ::-1], axis=1)
        pending = pending[~found]
        if not pending.size:
            break
    reached = last >= 0
    i = np.minimum(np.where(reached, last, points - 1), points - 2)
    p0, p1 = (_p_solved(budget, x[j], *draws) for j in (i, i + 1))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        frac = np.nan_to_num(np.clip((p0 - 0.5) / np.where(p0 > p1, p0 - p1, 1.0), 0.0, 1.0), nan=0.0)
    ln_t = np.log(grid[i]) + frac * (np.log(grid[i + 1]) - np.log(grid[i]))
    return np.where(~reached, 0.0, np.where(last == points - 1, np.inf, np.exp(ln_t)))
