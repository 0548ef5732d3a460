"""The gradient ratio the diagnostics log, ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖ on a log10 scale, as plain arithmetic.

Its own module, without torch, so that the summary reads a run's stored profile by the very definition the job
logged (suite/summary/gradient_trajectories.py) without importing torch; suite/reuse/fingerprint.py counts it
with the diagnostics, since it decides what they record.
"""
from __future__ import annotations

import math


def log10_norm(value) -> float:
    """log10 of a gradient norm: on a log10 scale (values ~1e-8 and below read as 0 on a linear chart axis);
    a tiny floor stands in for a gradient that underflowed to 0 even in float64."""
    return math.log10(max(float(value), 1e-300))


def log10_ratio(first, last) -> float:
    """log10(‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖) from those two norms: the orders of magnitude the learning signal loses
    across the lag (Metric.GRAD_LOG10_RATIO)."""
    return log10_norm(first) - log10_norm(last)
