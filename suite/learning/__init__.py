"""Learning time against the lag: how much longer a cell takes to learn a dependency as its lag grows.

A statistics package (plain arrays in, numbers out; no training, MLflow or Hydra). One group's runs (task × cell ×
size × knobs) are (lag, updates to solve), each solve interval-censored between two evaluations and each run not
solved by its budget right-censored there (runs.py). The model (model.py) is a mixture cure accelerated-failure-
time model: a share π(x) of seeds never learns (logistic in x), the others learn at a log-normal time whose log
grows linearly in x = ln(lag) (a power law) or x = lag (exponential). Both forms are fitted; the one with the
larger marginal likelihood is chosen (equal prior odds) and its decisiveness is given on Kass & Raftery's scale;
T50(B) is averaged over the two by their posterior probabilities (fit.py).

Why Bayesian importance sampling (sampler.py) and not the alternatives:
- lifelines' ParametricRegressionFitter can carry a cure fraction, but its intervals are Wald (delta method):
  with 10–40 runs a group and a never-learns share that trades off against slow learning at the budget, the
  likelihood is far from quadratic, and Wald intervals on such data came out many times too narrow in this
  project's threshold work (the reference notes on horizon statistics);
- an exact grid as in suite/horizon/threshold.py needs 5 dimensions here (millions of points at a resolution too coarse
  for a tight group), and T50(B) at every point costs a root search;
- importance sampling from a heavy-tailed proposal fitted at the mode is exact as its draws grow, costs a few
  tens of milliseconds a form in numpy, gives the marginal likelihood for the choice of form for free, and its
  95% intervals are posterior quantiles, calibrated by simulation in tests/test_learning_time.py.
"""
from suite.learning.fit import (LEVEL, FormFit, GroupFit, Interval, fit_form, fit_group, interval,
                                prob_greater)
from suite.learning.model import EXPONENTIAL, FORMS, POWER, growth, p_solved_within, t50
from suite.learning.runs import Runs, from_schedule, runs

__all__ = ["EXPONENTIAL", "FORMS", "LEVEL", "POWER", "FormFit", "GroupFit", "Interval", "Runs", "fit_form",
           "fit_group", "from_schedule", "growth", "interval", "p_solved_within",
           "prob_greater", "runs", "t50"]
