"""Learning time against the lag (suite/learning): input checks, recovery of known parameters, the choice of growth
form, comparisons, and a calibration by simulation of fake groups censored as the suite's runs are."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

from suite.learning import (EXPONENTIAL, FORMS, POWER, fit_form, fit_group, from_schedule, growth, p_solved_within,
                            prob_greater, runs, t50)
from suite.training.loop import evaluation_steps

BUDGET = 2000.0
# the training loop's own schedule (train.eval_every=10, train.eval_growth=1.15): the runs are censored as it censors them
SCHEDULE = np.array(evaluation_steps(int(BUDGET), 10, 1.15), dtype=float)
BUDGETS = (500.0, 1000.0, 2000.0)  # T50(B) is checked at these


def truth_params(form: str, t10: float, ratio: float, sigma: float, never10: float, never200: float) -> dict:
    """Parameters per unit of x from readable ones: median time to learn at lag 10, its ratio from lag 10 to 200,
    the spread σ, and the never-learns share at lags 10 and 200."""
    x10, x200 = (float(x) for x in (np.log([10, 200]) if form == POWER else (10, 200)))
    b1 = math.log(ratio) / (x200 - x10)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    c1 = (logit(never200) - logit(never10)) / (x200 - x10)
    return {"b0": math.log(t10) - b1 * x10, "b1": b1, "sigma": sigma, "c0": logit(never10) - c1 * x10, "c1": c1}


def simulate(rng, form: str, params: dict, lags, seeds) -> tuple:
    """(lag, steps_to_solve) per run: the first evaluation at or after its learning time, nan if past the budget."""
    lag = np.repeat(np.asarray(lags, dtype=float), seeds)
    x = np.log(lag) if form == POWER else lag
    never = rng.random(lag.size) < 1 / (1 + np.exp(-(params["c0"] + params["c1"] * x)))
    t = np.exp(params["b0"] + params["b1"] * x + params["sigma"] * rng.standard_normal(lag.size))
    t[never] = np.inf
    at = np.searchsorted(SCHEDULE, t)
    return lag, np.where(at < SCHEDULE.size, SCHEDULE[np.minimum(at, SCHEDULE.size - 1)], np.nan)


def true_t50(form: str, params: dict, budget: float) -> float:
    return float(t50(budget, form, {k: np.array([v]) for k, v in params.items()}, (10, 200), points=20_000)[0])


def fake_group(rng, form: str) -> tuple:
    """A group as the suite runs one: 3–6 lags from 10 to ~200, 3–9 seeds a lag, a never-learns share that may
    grow with the lag, learning times from the first evaluation to far past the budget."""
    params = truth_params(form, t10=math.exp(rng.uniform(math.log(40), math.log(400))),
                          ratio=math.exp(rng.uniform(math.log(2), math.log(60))), sigma=rng.uniform(0.3, 0.9),
                          never10=rng.uniform(0.01, 0.1), never200=rng.uniform(0.05, 0.7))
    top = rng.uniform(150, 300)
    lags = np.unique(np.round(np.geomspace(10, top, rng.integers(3, 7))))
    lag, steps = simulate(rng, form, params, lags, int(rng.integers(3, 10)))
    return params, lag, steps


def censored_as_solved(lag, steps):
    """The broken reading: a run not solved by the budget counts as solved at it."""
    return from_schedule(lag, np.where(np.isnan(steps), BUDGET, steps), SCHEDULE, BUDGET)


def calibrate(groups: int, seed: int, variant: str = "model", with_t50: bool = True) -> dict:
    """Coverage of the 95% intervals over fake groups, half of each growth form: the growth of the true form's fit,
    and (with_t50) T50(B) (averaged over the forms) at each of BUDGETS."""
    rng = np.random.default_rng(seed)
    growth_hits, t50_hits, picked, seconds = [], [], [], []
    for g in range(groups):
        form = FORMS[g % 2]
        params, lag, steps = fake_group(rng, form)
        data = censored_as_solved(lag, steps) if variant == "censored as solved" else \
            from_schedule(lag, steps, SCHEDULE, BUDGET)
        start = time.perf_counter()
        fit = fit_group(data, cure=variant != "no never-learns share")
        seconds.append(time.perf_counter() - start)
        growth_hits.append(fit.growth(form).covers(float(growth(params["b1"], form))))
        if with_t50:
            t50_hits.append([est.covers(true_t50(form, params, b)) for est, b in zip(fit.t50(BUDGETS), BUDGETS)])
        picked.append(fit.form == form)
    t50_hits = np.array(t50_hits) if with_t50 else np.full((1, len(BUDGETS)), np.nan)
    return {"growth": float(np.mean(growth_hits)), "t50": t50_hits.mean(axis=0), "t50_all": float(t50_hits.mean()),
            "picked": float(np.mean(picked)), "seconds": float(np.median(seconds)), "groups": groups}


def _report(name: str, c: dict) -> str:
    return (f"{name:24s} {c['groups']} groups: growth {c['growth']:.3f}, T50(B) at B={BUDGETS}: "
            f"{np.round(c['t50'], 3)} (all {c['t50_all']:.3f}); true form picked {c['picked']:.2f}; "
            f"{c['seconds']:.2f} s a group")


# -- input ------------------------------------------------------------------------------------
def test_bad_input_raises():
    with pytest.raises(ValueError, match="lag must be a positive"):
        runs([-10, 30], [0, 0], [100, 200])
    with pytest.raises(ValueError, match="lag must be a positive"):
        runs([0, 30], [0, 0], [100, 200])
    with pytest.raises(ValueError, match="expected lo < hi"):
        runs([10, 30], [200, 0], [100, 200])
    with pytest.raises(ValueError, match="expected lo < hi"):
        runs([10, 30], [100, 0], [100, 200])
    with pytest.raises(ValueError, match="lo must be"):
        runs([10, 30], [-1, 0], [100, 200])
    with pytest.raises(ValueError, match="two lags"):
        runs([10, 10], [0, 0], [100, 200])
    with pytest.raises(ValueError, match="one length"):
        runs([10, 30], [0], [100, 200])
    with pytest.raises(ValueError, match="budget of 0"):
        runs([10, 30], [0, 0], [np.inf, 200])
    with pytest.raises(ValueError, match="not an evaluation"):
        from_schedule([10, 30], [150, np.nan], [100, 200], 200)
    with pytest.raises(ValueError, match="past the run's budget"):
        from_schedule([10, 30], [300, np.nan], [100, 200, 300], 200)
    with pytest.raises(ValueError, match="form must be"):
        fit_form(runs([10, 30], [0, 0], [100, 200]), "linear")


def test_from_schedule_reads_intervals():
    data = from_schedule([10, 30, 90], [100, 300, np.nan], [100, 200, 300, 400], 400)
    assert data.lo.tolist() == [0, 200, 400] and data.hi.tolist() == [100, 300, np.inf]
    assert data.censored.tolist() == [False, False, True] and data.lags.tolist() == [10, 30, 90]


# -- the model --------------------------------------------------------------------------------
def test_t50_solves_one_half():
    params = truth_params(POWER, t10=100, ratio=20, sigma=0.5, never10=0.02, never200=0.3)
    for budget in BUDGETS:
        lag = true_t50(POWER, params, budget)
        assert 10 / 8 < lag < 200 * 8
        assert p_solved_within(budget, lag, POWER, *params.values()) == pytest.approx(0.5, abs=1e-3)
    assert true_t50(POWER, params, 500) < true_t50(POWER, params, 1000) < true_t50(POWER, params, 2000)
    no_one = {**params, "c0": 5.0, "c1": 0.0}  # ~all never learn: no lag reaches one half
    assert true_t50(POWER, no_one, 2000) == 0
    flat = {**params, "b1": 0.0, "c0": -9.0, "c1": 0.0, "b0": math.log(10)}  # quick at every lag: beyond the range
    assert true_t50(POWER, flat, 2000) == math.inf


def scanned_t50(budget, form, params, lag_range, reach=8.0, points=256):
    """The reference: P(solved within B) at every lag of the scan for every draw, the whole (draws, lags) array at
    once, as suite.learning.model.t50 did before it scanned down from the longest lag and stopped early."""
    grid = np.geomspace(lag_range[0] / reach, lag_range[1] * reach, points)
    p = p_solved_within(budget, grid[None, :], form, *(np.asarray(params[k], dtype=float)[:, None]
                                                      for k in ("b0", "b1", "sigma", "c0", "c1")))
    above = p >= 0.5
    last = points - 1 - np.argmax(above[:, ::-1], axis=1)
    i = np.minimum(last, points - 2)
    rows = np.arange(len(p))
    p0, p1 = p[rows, i], p[rows, i + 1]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        frac = np.nan_to_num(np.clip((p0 - 0.5) / np.where(p0 > p1, p0 - p1, 1.0), 0.0, 1.0), nan=0.0)
    ln_t = np.log(grid[i]) + frac * (np.log(grid[i + 1]) - np.log(grid[i]))
    return np.where(~above.any(axis=1), 0.0, np.where(last == points - 1, np.inf, np.exp(ln_t)))


@pytest.mark.parametrize("form", FORMS)
def test_t50_equals_the_full_scan_bit_for_bit(form):
    """Draws of every kind (growth either way, a never-learns share that falls or rises or is absent, P above one
    half at some lags but not others, at none, at all): the same floats as the full scan, so no T50 moves."""
    rng = np.random.default_rng(5)
    n, unit = 20_000, (1.0 if form == POWER else 0.01)
    params = {"b0": rng.normal(6, 2, n), "b1": rng.normal(0.5, 1.5, n) * unit, "sigma": np.exp(rng.normal(-0.5, 0.8, n)),
              "c0": rng.normal(-1.5, 2, n), "c1": rng.normal(0, 1.5, n) * unit}
    params["c0"][:500], params["c1"][:500] = -np.inf, 0.0  # no never-learns share (cure=False)
    for budget in (200.0, 2000.0, 20000.0):
        fast, reference = t50(budget, form, params, (10.0, 200.0)), scanned_t50(budget, form, params, (10.0, 200.0))
        assert np.array_equal(fast, reference), np.flatnonzero(fast != reference)[:5]
        assert (fast == 0).any() and np.isinf(fast).any() and (np.isfinite(fast) & (fast > 0)).mean() > 0.1


def test_recovers_known_parameters_from_a_large_group():
    rng = np.random.default_rng(7)
    params = truth_params(POWER, t10=80, ratio=15, sigma=0.5, never10=0.03, never200=0.35)
    lag, steps = simulate(rng, POWER, params, (10, 20, 40, 80, 140, 200), 60)
    fit = fit_group(from_schedule(lag, steps, SCHEDULE, BUDGET))
    power = fit.fits[POWER]
    mean = lambda name: float(power.weight @ power.params[name])  # noqa: E731
    assert mean("b1") == pytest.approx(params["b1"], abs=0.12)
    assert mean("sigma") == pytest.approx(params["sigma"], abs=0.08)
    assert mean("c1") == pytest.approx(params["c1"], abs=0.5)
    est = fit.growth(POWER)
    assert est.covers(float(growth(params["b1"], POWER))) and est.hi / est.lo < 1.5
    for est, budget in zip(fit.t50(BUDGETS), BUDGETS):
        assert est.covers(true_t50(POWER, params, budget)) and est.hi / est.lo < 1.5
    assert fit.form == POWER and fit.p_power > 0.95 and fit.decisiveness in ("strong", "very strong")
    assert power.draws.ess > 500


def test_exponential_growth_is_picked_when_it_is_true():
    rng = np.random.default_rng(8)
    params = truth_params(EXPONENTIAL, t10=100, ratio=30, sigma=0.4, never10=0.02, never200=0.2)
    lag, steps = simulate(rng, EXPONENTIAL, params, (10, 25, 50, 100, 150, 200), 40)
    fit = fit_group(from_schedule(lag, steps, SCHEDULE, BUDGET))
    assert fit.form == EXPONENTIAL and fit.p_power < 0.05
    assert fit.growth().covers(float(growth(params["b1"], EXPONENTIAL)))


def test_prob_greater_orders_growth():
    rng = np.random.default_rng(9)
    fast, slow = (truth_params(POWER, t10=60, ratio=r, sigma=0.5, never10=0.02, never200=0.1) for r in (40, 2))
    fits = [fit_group(from_schedule(*simulate(rng, POWER, p, (10, 30, 90, 200), 9), SCHEDULE, BUDGET))
            for p in (fast, slow)]
    assert prob_greater(fits[0], fits[1]) > 0.95
    assert prob_greater(fits[0], fits[1]) + prob_greater(fits[1], fits[0]) == pytest.approx(1)
    assert prob_greater(fits[0], fits[0]) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="different quantities"):
        prob_greater(fits[0].fits[POWER], fits[1].fits[EXPONENTIAL])


def test_fit_is_deterministic():  # its time is the calibration's "s a group" figure (run with -s), not an assert
    rng = np.random.default_rng(3)
    params, lag, steps = fake_group(rng, POWER)
    data = from_schedule(lag, steps, SCHEDULE, BUDGET)
    assert fit_group(data).t50(BUDGETS) == fit_group(data).t50(BUDGETS)


# -- calibration ------------------------------------------------------------------------------
def test_calibration_smoke():
    """20 groups: a quick guard on the full calibration below (a fixed seed; 17 of 20 is within chance of 95%)."""
    c = calibrate(20, seed=11)
    print("\n" + _report("model", c))
    assert c["growth"] >= 0.85 and c["t50_all"] >= 0.85


@pytest.mark.slow
def test_calibration():
    """Over 200 fake groups the 95% intervals of the growth and of T50(B) contain the truth in at least 90%;
    treating censored runs as solved at the budget, or leaving out the never-learns share, falls short of that
    on 60 groups each (the check has teeth). Run with -s for the figures."""
    c = calibrate(200, seed=2026)
    print("\n" + _report("model", c))
    assert c["groups"] >= 200 and c["growth"] >= 0.90 and min(c["t50"]) >= 0.90
    # 60 groups each show the broken variants fall short on the growth alone (its coverage: 0.72 and 0.77, more
    # than 3 standard errors below 0.90), so their T50s, half the cost of a fit, are not computed
    for name in ("censored as solved", "no never-learns share"):
        b = calibrate(60, seed=2026, variant=name, with_t50=False)
        print(_report(name, b))
        assert b["growth"] < 0.90, name
