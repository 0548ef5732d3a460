"""Fitting one group under each growth form, choosing between them, and reading off growth and T50(B)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import suite.learning.model as model
from suite.learning.model import EXPONENTIAL, FORMS, POWER
from suite.learning.runs import Runs
from suite.learning.sampler import Draws, sample

LEVEL = 0.95
# Kass & Raftery (1995) on 2 ln(Bayes factor): how decisively the runs pick one growth form over the other
DECISIVENESS = ((2.0, "not worth more than a bare mention"), (6.0, "positive"), (10.0, "strong"),
                (math.inf, "very strong"))


@dataclass(frozen=True)
class Interval:
    """A posterior median and equal-tailed interval (an end may be 0 or inf: beyond the range searched)."""

    median: float
    lo: float
    hi: float
    level: float = LEVEL

    def covers(self, truth: float) -> bool:
        return self.lo <= truth <= self.hi


def weighted_quantile(values: np.ndarray, weight: np.ndarray, q) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weight[order])
    cw /= cw[-1]
    i = np.minimum(np.searchsorted(cw, np.asarray(q, dtype=float)), v.size - 1)
    return v[i]


def interval(values: np.ndarray, weight: np.ndarray, level: float = LEVEL) -> Interval:
    tail = (1 - level) / 2
    lo, med, hi = weighted_quantile(values, weight, [tail, 0.5, 1 - tail])
    return Interval(float(med), float(lo), float(hi), level)


@dataclass(frozen=True, eq=False)
class FormFit:
    """One growth form's posterior: weighted draws of the parameters per unit of x."""

    form: str
    design: model.Design
    draws: Draws
    params: dict  # b0, b1, sigma, c0, c1: arrays over draws

    @property
    def weight(self) -> np.ndarray:
        return self.draws.weight

    @property
    def log_evidence(self) -> float:
        return self.draws.log_evidence

    def growth_draws(self) -> np.ndarray:
        return model.growth(self.params["b1"], self.form)

    def growth(self, level: float = LEVEL) -> Interval:
        """Times longer per doubling of the lag (power) or per +100 steps (exponential)."""
        return interval(self.growth_draws(), self.weight, level)

    def t50_draws(self, budget: float) -> np.ndarray:
        return model.t50(budget, self.form, self.params, self.design.lag_range)

    def t50(self, budget: float, level: float = LEVEL) -> Interval:
        return interval(self.t50_draws(budget), self.weight, level)


def _starts(d: model.Design, data: Runs) -> np.ndarray:
    """BFGS starts: the prior's centre, and a rough fit to the solved runs (midpoints of their intervals)."""
    solved = ~data.censored
    rough = d.prior_mean.copy()
    if solved.sum() >= 2:
        mid = np.log(np.where(data.lo[solved] > 0, np.sqrt(data.lo[solved] * data.hi[solved]), data.hi[solved]))
        z = d.z[solved]
        slope = np.polyfit(z, mid, 1)[0] if np.ptp(z) > 0 else 0.0
        rough[:3] = (mid.mean() - slope * z.mean(), slope, math.log(max(0.1, float(mid.std()))))
    if d.cure:
        share = float(np.clip(data.censored.mean(), 0.05, 0.95))
        rough[3] = math.log(share / (1 - share))
    return np.array([d.prior_mean, rough])


def fit_form(data: Runs, form: str, cure: bool = True, seed: int = 0) -> FormFit:
    """The posterior of one growth form (cure=False fixes the never-learns share at 0: for tests only)."""
    d = model.design(data, form, cure)
    draws = sample(lambda theta: model.log_posterior(theta, d), _starts(d, data), seed=seed)
    return FormFit(form, d, draws, model.natural(draws.theta, d))


@dataclass(frozen=True, eq=False)
class GroupFit:
    """Both growth forms fitted to one group; the choice between them by marginal likelihood (equal prior odds)."""

    fits: dict  # form -> FormFit
    runs: int
    censored: int

    @property
    def p_power(self) -> float:
        """The posterior probability of the power law against exponential growth."""
        diff = self.fits[EXPONENTIAL].log_evidence - self.fits[POWER].log_evidence
        return float(1.0 / (1.0 + math.exp(min(diff, 700.0))))

    @property
    def form(self) -> str:
        return POWER if self.p_power >= 0.5 else EXPONENTIAL

    @property
    def two_ln_bayes_factor(self) -> float:
        """2 ln(evidence of the chosen form / the other's): ≥ 0."""
        return 2.0 * abs(self.fits[POWER].log_evidence - self.fits[EXPONENTIAL].log_evidence)

    @property
    def decisiveness(self) -> str:
        return next(words for limit, words in DECISIVENESS if self.two_ln_bayes_factor < limit)

    def growth(self, form: str | None = None, level: float = LEVEL) -> Interval:
        """The growth under `form` (the chosen one by default): its unit depends on the form."""
        return self.fits[form or self.form].growth(level)

    def t50(self, budgets, level: float = LEVEL) -> list[Interval]:
        """T50(B) for each budget, averaged over the two forms by their posterior probabilities."""
        p = {POWER: self.p_power, EXPONENTIAL: 1.0 - self.p_power}
        weight = np.concatenate([p[f] * self.fits[f].weight for f in FORMS])
        return [interval(np.concatenate([self.fits[f].t50_draws(b) for f in FORMS]), weight, level)
                for b in np.atleast_1d(budgets)]


def fit_group(data: Runs, cure: bool = True, seed: int = 0) -> GroupFit:
    return GroupFit({f: fit_form(data, f, cure, seed) for f in FORMS}, len(data), int(data.censored.sum()))


def prob_greater(a: GroupFit | FormFit, b: GroupFit | FormFit, form: str = POWER) -> float:
    """P(growth of a > growth of b) under one growth form, for independent posteriors (ties count one half)."""
    fa, fb = (g.fits[form] if isinstance(g, GroupFit) else g for g in (a, b))
    if fa.form != fb.form:
        raise ValueError(f"growth under {fa.form!r} and {fb.form!r} are different quantities: compare one form")
    order = np.argsort(fb.params["b1"])
    xb, cw = fb.params["b1"][order], np.concatenate(([0.0], np.cumsum(fb.weight[order])))
    below = cw[np.searchsorted(xb, fa.params["b1"], side="left")]
    at_or_below = cw[np.searchsorted(xb, fa.params["b1"], side="right")]
    return float(np.sum(fa.weight * (below + at_or_below) / 2))
