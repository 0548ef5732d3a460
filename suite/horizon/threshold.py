"""Where a pass/fail curve crosses one half: a group's T50, its 95% interval, and the next lag to try.

A group's runs are (lag T, seed) -> solved / failed (crashed runs count as neither). The model:

  P(solved | T) = γ + (1 − γ − λ) / (1 + exp(s (ln T − m)))      a falling sigmoid in ln T
  T50 = exp(m + ln((0.5 − λ) / (0.5 − γ)) / s)                     where P(solved | T50) = 1/2

(the same as exp(m + ln(1/q − 1)/s) with q = (0.5 − γ)/(1 − γ − λ)). With γ ≥ 0.5 the curve never
falls to one half: there is no T50, and every lag is "beyond" it, so it counts as T50 = ∞.

Priors, each a factor of the grid's weights:
  m  flat over [ln T_min − ln 4, ln T_max + ln 4] of the lags tried (or a given span): the crossing may lie
     a little beyond what was tried, but the data cannot place it far beyond, so the prior stops there
  s  log-uniform over 0.3..30 per unit of ln T: from a fall spread over a factor ~800 in T to a step; scale-free
  γ  floor, Beta(1, 2): usually small, but some seeds solve far above the horizon (the tanh RNN's ~0.25)
  λ  lapse, Beta(1, 10): seeds that fail at short lags are rare (λ ≥ 0.5, where T50 = 0, has 0.1% of its mass)
  γ + λ < 1, else the curve would rise
With 3–10 seeds a lag, over-dispersion (beta-binomial) is not identifiable, so there is none.

The posterior is exact on a grid (GridSize: ~200 m × 40 s × 20 γ × 10 λ by default; γ and λ at the medians of
cells of equal prior mass, so the grid's weights are the likelihood's alone); T50's median and
equal-tailed 95% interval come from the grid's weights. Wald intervals are not used: on 24 runs they came out
~25× too narrow (the project's reference notes on threshold estimation).

Open ends: "> T_max" needs P(T50 > T_max) ≥ 95% from the model *and* from monotonicity alone (the runs at
T_max and above are too many solved for P(solved) ≤ 1/2 there: k of k needs k ≥ 5); "< T_min" likewise at the
bottom. Any bound the model puts beyond the lags tried comes from its prior, so it is widened to what holds
without the model (3/3 solved at every lag to 200 gives "> 90", not "> 200"). An interval's end beyond the
prior's reach (T_max·4, T_min/4) is a place the data never saw: it is printed as "800+" (or "<2") and held as
inf (or 0), never as a number.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.special import expit

from suite.horizon.quantiles import SmoothedPosterior, bounds_without_model

LEVEL = 0.95
REACH = math.log(4)  # m's prior reaches this far beyond the lags tried, in ln T
SLOPES = (0.3, 30.0)  # s's prior range, per unit of ln T
FLOOR_PRIOR, LAPSE_PRIOR = (1, 2), (1, 10)  # Beta(a, b)
ABOVE, BELOW, NO_T50, INTERVAL = "above", "below", "no T50", "interval"  # what an estimate claims
HIST_EDGES = np.arange(-3.0, 16.0, 0.01)  # ln T50 bins shared by every estimate (prob_greater); +inf has its own

Counts = dict[int, tuple[int, int]]  # lag -> (solved, tried), crashes left out


@dataclass(frozen=True)
class GridSize:
    """Grid points per parameter: finer costs time (~linearly in their product), coarser shifts the quantiles.

    m is a density: points per unit of ln T (35: ~200 over the prior's reach for lags 10..200). A narrow posterior
    sits on few m points: each point's mass is spread over its m cell (_Smoothed), but an interval narrower than
    ~8 cells (a ratio of exp(8/35) ≈ 1.25 by default) is resolved coarsely.
    """

    m: int = 35
    s: int = 40
    floor: int = 20  # a multiple of 4: γ's cells then meet at 0.5, so P(γ ≥ 0.5) is exact under the prior
    lapse: int = 10


GRID = GridSize()


# -- the model --------------------------------------------------------------------------------
def p_solved(lag, m, s, floor=0.0, lapse=0.0):
    """P(solved | lag): floor + (1 − floor − lapse) / (1 + exp(s (ln lag − m))), numpy-broadcast."""
    return floor + (1 - floor - lapse) * expit(s * (m - np.log(lag)))


def t50(m, s, floor=0.0, lapse=0.0):
    """The lag where P(solved) = 1/2: exp(m + ln((0.5 − λ)/(0.5 − γ)) / s); inf where γ ≥ 0.5 (the curve never
    falls to one half), 0 where λ ≥ 0.5 (it never rises to it). numpy-broadcast."""
    return np.exp(_ln_t50(m, s, floor, lapse))


def _ln_t50(m, s, floor, lapse):
    m, s, floor, lapse = np.broadcast_arrays(*(np.asarray(v, float) for v in (m, s, floor, lapse)))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = m + np.log((0.5 - lapse) / (0.5 - floor)) / s
    return np.where(floor >= 0.5, np.inf, np.where(lapse >= 0.5, -np.inf, x))


# -- the grid ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Grid:
    """Nodes (m, s) × (γ, λ) flattened to two axes, the log prior on them, and ln T50 at each point."""

    m: np.ndarray  # (MS,) per (m, s) point
    s: np.ndarray
    floor: np.ndarray  # (GL,) per (γ, λ) point
    lapse: np.ndarray
    log_prior: np.ndarray  # (MS, GL); -inf where γ + λ ≥ 1
    x: np.ndarray  # (MS·GL,) ln T50, +inf where γ ≥ 0.5
    order: np.ndarray  # argsort of x
    bins: np.ndarray  # x's bin in HIST_EDGES (the last: +inf)
    reach: tuple[float, float]  # m's prior range, in ln T
    step: float  # between m's points


def _nodes(prior, n: int) -> np.ndarray:
    """n cells of equal prior mass, each at its median: fine where the prior has its mass (γ, λ near 0)."""
    return prior.ppf((np.arange(n) + 0.5) / n)


@lru_cache(maxsize=8)
def _grid(span: tuple[float, float], size: GridSize) -> _Grid:
    reach = (math.log(span[0]) - REACH, math.log(span[1]) + REACH)
    m_points = max(2, math.ceil(size.m * (reach[1] - reach[0])) + 1)
    m, s = np.meshgrid(np.linspace(*reach, m_points), np.geomspace(*SLOPES, size.s), indexing="ij")
    g, lam = np.meshgrid(_nodes(stats.beta(*FLOOR_PRIOR), size.floor), _nodes(stats.beta(*LAPSE_PRIOR), size.lapse),
                         indexing="ij")
    g, lam, m, s = g.ravel(), lam.ravel(), m.ravel(), s.ravel()
    log_gl = np.where(g + lam < 1, 0.0, -np.inf)  # equal weights: the cells have equal prior mass
    x = _ln_t50(m[:, None], s[:, None], g[None, :], lam[None, :]).ravel()
    order = np.argsort(x, kind="stable")
    bins = np.where(np.isinf(x), len(HIST_EDGES) + 1, np.digitize(x, HIST_EDGES))
    log_prior = np.broadcast_to(log_gl, (m.size, g.size))
    return _Grid(m, s, g, lam, log_prior, x, order, bins, reach, (reach[1] - reach[0]) / (m_points - 1))


def prior_span(counts: Counts, span: tuple[float, float] | None = None) -> tuple[float, float]:
    """(T_min, T_max) that m's prior reaches REACH beyond: `span` where given, else the lags tried."""
    lags = [t for t, (_, n) in counts.items() if n > 0]
    if span is not None:
        return float(span[0]), float(span[1])
    if not lags:
        raise ValueError("no runs to estimate from (every lag's tried count is 0) and no span given")
    return float(min(lags)), float(max(lags))


def _p_solved(grid: _Grid, lag: float) -> np.ndarray:
    """P(solved | lag) at every grid point: (MS, GL)."""
    return p_solved(lag, grid.m[:, None], grid.s[:, None], grid.floor[None, :], grid.lapse[None, :])


@lru_cache(maxsize=4)
def posterior(evidence: tuple[tuple[int, int, int], ...], span: tuple[float, float], size: GridSize):
    """The grid and its normalised posterior weights (flat, read-only) for (lag, solved, tried) triples."""
    grid = _grid(span, size)
    log_w = grid.log_prior.copy()
    with np.errstate(invalid="ignore"):
        for lag, k, n in evidence:
            p = _p_solved(grid, lag)
            if k:
                log_w += k * np.log(p)
            if n - k:
                log_w += (n - k) * np.log1p(-p)
    w = np.exp(log_w - log_w.max()).ravel()
    w /= w.sum()
    w.flags.writeable = False
    return grid, w


def evidence_of(counts: Counts) -> tuple[tuple[int, int, int], ...]:
    """(lag, solved, tried) triples by lag, the lags without runs left out: what posterior() takes."""
    for lag, (k, n) in counts.items():
        if not (lag > 0 and 0 <= k <= n):
            raise ValueError(f"lag {lag}: (solved, tried) = {(k, n)}: expected a lag > 0 and 0 <= solved <= tried")
    return tuple((int(t), int(k), int(n)) for t, (k, n) in sorted(counts.items()) if n > 0)


# -- the estimate -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """One group's T50: the posterior median, and what the runs support at `level` (lo, hi: the claim).

    claim: "interval" (lo..hi; hi = inf when its end lies beyond the prior's reach, lo = 0 likewise),
           "above" (T50 > T_max: lo = T_max, hi = inf), "below" (T50 < T_min: lo = 0, hi = T_min),
           "no T50" (the floor is more likely ≥ 0.5 than not: lo as for an interval, hi = inf).
    q_lo, q_hi: the equal-tailed quantiles as the grid gives them (beyond the reach too; inf: no crossing).
    """

    t50: float  # the posterior median of T50 where it is defined (γ < 0.5); nan where it is nowhere
    lo: float
    hi: float
    claim: str
    q_lo: float
    q_hi: float
    p_floor_high: float  # P(γ ≥ 0.5): the curve never falls to one half
    p_above: float  # P(T50 > T_max), no crossing counted as above
    p_below: float  # P(T50 < T_min)
    runs: int
    evidence: tuple[tuple[int, int, int], ...]  # (lag, solved, tried), by lag
    reach: tuple[float, float]  # where m's prior stops, as lags
    level: float = LEVEL
    hist: np.ndarray = field(default=None, compare=False, repr=False)  # P(ln T50 in each HIST_EDGES bin; +inf)

    @property
    def p_defined(self) -> float:
        return 1.0 - self.p_floor_high

    @property
    def ratio(self) -> float:
        """hi / lo of the claim: inf when it is open at either end."""
        return self.hi / self.lo if self.lo > 0 else math.inf

    @property
    def t_min(self) -> int:
        return self.evidence[0][0]

    @property
    def t_max(self) -> int:
        return self.evidence[-1][0]

    @property
    def open_side(self) -> str | None:
        """ABOVE or BELOW where the claim reads '> T' or '< T' (text()): past the lags tried, or an interval
        open at one end, whose median there is the prior's, not the runs'; None otherwise."""
        if self.claim in (ABOVE, BELOW):
            return self.claim
        if self.claim == NO_T50:
            return None
        if self.hi == math.inf and self.lo > 0:
            return ABOVE
        if self.lo == 0 and self.hi < math.inf:
            return BELOW
        return None

    @property
    def known_end(self) -> float:
        """The T of '> T' or '< T' for an open claim (what the runs support), else the posterior median."""
        if self.open_side == ABOVE:
            return self.t_max if self.claim == ABOVE else self.lo
        if self.open_side == BELOW:
            return self.t_min if self.claim == BELOW else self.hi
        return self.t50

    def covers(self, t50: float) -> bool:
        """Whether the claim includes a true T50 (inf: no crossing)."""
        if self.claim == ABOVE:
            return t50 > self.lo
        if self.claim == BELOW:
            return t50 < self.hi
        return self.lo <= t50 <= self.hi

    def text(self, to=lambda lag: lag) -> str:
        """'66 [49, 107]', '> 200', '< 10' or 'no T50 (P(floor ≥ 0.5) = 0.62)'; an interval open at one end
        reads '> 90' (or '< 30'): what the runs support at 95%, without the median the prior alone would place.
        Every lag is written through `to` (e.g. as the distance the task's information travels)."""
        if self.claim == NO_T50:
            return f"no T50 (P(floor ≥ 0.5) = {self.p_floor_high:.2f})"
        if self.open_side:  # past the lags tried, or one side only: the median there is the prior's, not the runs'
            return f"{'>' if self.open_side == ABOVE else '<'} {_number(to(self.known_end))}"
        if self.lo == 0:
            return "unbounded (the runs place it nowhere)"
        return f"{_number(to(self.t50))} [{_number(to(self.lo))}, {_number(to(self.hi))}]"


def _number(t: float) -> str:
    return f"{t:.0f}" if t >= 10 else f"{t:.2g}"


def estimate(counts: Counts, span: tuple[float, float] | None = None, level: float = LEVEL,
             size: GridSize = GRID) -> Estimate:
    """T50 of one group from {lag: (solved, tried)}; `span` (T_min, T_max) sets m's prior instead of the lags tried."""
    evidence = evidence_of(counts)
    if not evidence:
        raise ValueError("no runs to estimate T50 from (every lag's tried count is 0)")
    grid, w = posterior(evidence, prior_span(counts, span), size)
    dist = SmoothedPosterior(grid.x[grid.order], w[grid.order], grid.step)
    quantile = lambda p: math.exp(dist.quantile(p))  # noqa: E731
    p_high = dist.p_inf
    t_min, t_max = evidence[0][0], evidence[-1][0]
    p_above, p_below = 1 - dist.cdf(math.log(t_max)), dist.cdf(math.log(t_min))
    tail = (1 - level) / 2
    q_lo, q_hi = quantile(tail), quantile(1 - tail)
    reach = (math.exp(grid.reach[0]), math.exp(grid.reach[1]))
    # an end at the prior's reach (within a grid cell of it) is the prior's, not the runs': open
    edge = math.exp(grid.step)
    lo = q_lo if q_lo >= reach[0] * edge else 0.0
    hi = q_hi if q_hi <= reach[1] / edge else math.inf
    above, below = bounds_without_model(evidence, level)
    claim = INTERVAL
    if p_above >= level and above >= t_max:
        claim, lo, hi = ABOVE, float(t_max), math.inf
    elif p_below >= level and below <= t_min:
        claim, lo, hi = BELOW, 0.0, float(t_min)
    elif p_high >= 0.5:
        claim, hi = NO_T50, math.inf
    # beyond the lags tried the model's bound comes from its prior: it must hold without the model too
    lo, hi = (min(lo, above) if lo > t_max else lo), (max(hi, below) if hi < t_min else hi)
    t50 = quantile((1 - p_high) / 2) if p_high < 1 else math.nan
    hist = np.bincount(grid.bins, weights=w, minlength=len(HIST_EDGES) + 2)
    return Estimate(t50, lo, hi, claim, q_lo, q_hi, p_high, p_above, p_below, sum(n for _, _, n in evidence),
                    evidence, reach, level, hist)


def curve_band(counts: Counts, lags, level: float = LEVEL, draws: int = 4000,
               size: GridSize = GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitted success curve at `lags`: the posterior median of P(solved | T) and its equal-tailed `level`
    band, from `draws` points drawn from the grid's posterior (a fixed seed: the same runs draw the same band)."""
    evidence = evidence_of(counts)
    grid, w = posterior(evidence, prior_span(counts), size)
    picked = np.random.default_rng(0).choice(w.size, size=draws, p=w)
    ms, gl = np.divmod(picked, grid.floor.size)
    p = p_solved(np.asarray(lags, dtype=float)[:, None], grid.m[ms], grid.s[ms], grid.floor[gl], grid.lapse[gl])
    tail = (1 - level) / 2
    return np.median(p, axis=1), np.quantile(p, tail, axis=1), np.quantile(p, 1 - tail, axis=1)


def prob_greater(a: Estimate, b: Estimate) -> float:
    """P(T50 of a > T50 of b) for independent posteriors, on their shared ln T50 bins (a tie counts one half)."""
    below_b = np.concatenate(([0.0], np.cumsum(b.hist)[:-1]))  # P(b in a lower bin)
    return float(np.sum(a.hist * (below_b + b.hist / 2)))
