"""Horizon against a swept knob (`train.lr`, `train.steps`, `cell.forget_bias`, ...): for each task, cell
and size, T50 at every value tried, the value at which it is longest, and how sure the runs are of that.

A sweep that varies a knob beyond lag and seed labels each cell with it ('rnn (train.lr=0.005)',
frame.py), so its groups are already separate estimates (estimates.py); here they are put back side by
side. "Best" is the value expected to beat the most others (Σ_j P(its T50 > theirs)), and it is claimed as best only when the posterior probability that its T50 beats the
runner-up's is at least CLAIM_AT; otherwise the sentence says the data do not separate them. Open ends at
the cap ('> 200' at two or more values, the best among them) are a tie the cap makes, and said so.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from suite.summary.estimates import CLAIM_AT, Group, estimates, order_text, p_order, p_text, ranked
from suite.summary.frame import split_variant
from suite.summary.lags import LagNames, lag_names
from suite.horizon.threshold import ABOVE, Estimate


@dataclass
class KnobCurve:
    """One task × cell × size's T50 at each value of one knob, the other swept knobs held (`fixed`)."""

    task: str
    cell: str
    hidden: int
    knob: str
    fixed: tuple[tuple[str, str], ...]
    values: list[str]  # in the knob's order: numeric when every value is a number
    found: list[Estimate | None]
    labels: list[str]  # each value's cell label, as the other tables name the group

    @property
    def numeric(self) -> bool:
        return all(_number(v) is not None for v in self.values)

    @property
    def name(self) -> str:
        fixed = "".join(f", {k}={v}" for k, v in self.fixed)
        return f"{self.cell} h={self.hidden}{fixed}"

    def ranked(self) -> list[int]:
        """Indices of the values, longest T50 first (estimates.ranked)."""
        return ranked(self.found)


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def knob_curves(points: pd.DataFrame, found: dict[Group, Estimate | None] | None = None) -> list[KnobCurve]:
    """Every knob swept at two or more values within a task, cell and size, the others held."""
    found = estimates(points) if found is None else found
    series: dict[tuple, dict[str, tuple[str, Estimate | None]]] = {}
    for (task, label, hidden), est in found.items():
        cell, knobs = split_variant(label)
        for knob, value in knobs.items():
            fixed = tuple((k, v) for k, v in knobs.items() if k != knob)
            series.setdefault((task, cell, hidden, knob, fixed), {})[value] = (label, est)
    curves = []
    for (task, cell, hidden, knob, fixed), by_value in series.items():
        if len(by_value) < 2:
            continue
        values = list(by_value)
        if all(_number(v) is not None for v in values):
            values.sort(key=_number)
        curves.append(KnobCurve(task, cell, hidden, knob, fixed, values, [by_value[v][1] for v in values],
                                [by_value[v][0] for v in values]))
    return curves


def best_sentence(curve: KnobCurve, names: LagNames = LagNames()) -> str:
    """'memory rnn h=64: longest at train.lr=0.005, T50 d 65 [38, 106], beyond train.lr=0.002's d 30 [19, 45]
    (P = 0.98)', or that the data do not separate the two longest, or that the cap ties them."""
    order = [i for i in curve.ranked() if curve.found[i] is not None]
    head = f"{curve.task} {curve.name}"
    if not order:
        return f"{head}: no finished runs at any {curve.knob}"
    at = lambda i: f"{curve.knob}={curve.values[i]}"  # noqa: E731
    best = order[0]
    if len(order) == 1:
        return f"{head}: only {at(best)} has finished runs: T50 {names.t50(curve.found[best])}"
    capped = [i for i in order if curve.found[i].claim == ABOVE]
    if best in capped and len(capped) > 1:
        return (f"{head}: T50 beyond the longest lag tried at {curve.knob}={', '.join(curve.values[i] for i in capped)} "
                f"({', '.join(names.t50(curve.found[i]) for i in capped)}): the cap, not the knob, limits it there, "
                "and the data do not rank those values")
    second = order[1]
    p = p_order(curve.found[best], curve.found[second])
    mine, theirs = names.t50(curve.found[best]), names.t50(curve.found[second])
    # the values further down that the best does beat, each claimed on its own (a runner-up it does not
    # separate from still leaves the best beyond the rest: 8,000 updates against 500, say)
    further = [(i, p_order(curve.found[best], curve.found[i])) for i in order[2:]]
    rest = "".join(f"; beyond {at(i)}'s {names.t50(curve.found[i])} (P = {q:.2f})" for i, q in further if q >= CLAIM_AT)
    if p >= CLAIM_AT:
        return f"{head}: longest at {at(best)}, T50 {mine}, beyond {at(second)}'s {theirs} (P = {p:.2f}){rest}"
    return (f"{head}: the data do not separate {at(best)} (T50 {mine}) from {at(second)} ({theirs}) "
            f"(P(the first is longer) = {p_text(p)}){rest}")


def best_table(points: pd.DataFrame, curves: list[KnobCurve] | None = None) -> pd.DataFrame:
    """One row per curve: the best value, its T50, the runner-up and its T50, P(best beyond runner-up), and
    T50 at every value (raw: the estimates' text in the task's lags)."""
    curves = knob_curves(points) if curves is None else curves
    names = lag_names(points)
    rows = []
    for c in curves:
        named = names.get(c.task, LagNames())
        order = [i for i in c.ranked() if c.found[i] is not None]
        best, second = (order + [None, None])[:2]
        rows.append({
            "task": c.task, "cell": c.name, "knob": c.knob,
            "best": c.values[best] if best is not None else "",
            "t50_best": named.t50(c.found[best]) if best is not None else "",
            "runner_up": c.values[second] if second is not None else "",
            "t50_runner_up": named.t50(c.found[second]) if second is not None else "",
            "p_best": round(p_order(c.found[best], c.found[second]), 3) if second is not None else math.nan,
            "every_value": "; ".join(f"{v}: {named.t50(e)}" for v, e in zip(c.values, c.found)),
        })
    return pd.DataFrame(rows)


def best_of(curve: KnobCurve) -> int:
    return curve.ranked()[0]


def sizes_at_best(curves: list[KnobCurve], names: dict[str, LagNames]) -> list[str]:
    """Per task and cell swept at two or more sizes: each size at its own best value of the knob, and each
    size against the next (claimed only at ≥ CLAIM_AT), so that a trend with size is not an artifact of a
    value chosen at one size."""
    by_size: dict[tuple, dict[int, KnobCurve]] = {}
    for c in curves:
        by_size.setdefault((c.task, c.cell, c.knob, c.fixed), {})[c.hidden] = c
    lines = []
    for (task, cell, knob, fixed), sizes in by_size.items():
        if len(sizes) < 2:
            continue
        named = names.get(task, LagNames())
        ordered = [sizes[h] for h in sorted(sizes)]
        best = [c.found[best_of(c)] for c in ordered]
        each = ", ".join(f"h={c.hidden} {named.t50(e)} (at {knob}={c.values[best_of(c)]})" for c, e in zip(ordered, best))
        steps = [order_text(f"h={b.hidden}", f"h={a.hidden}", p_order(eb, ea))
                 for a, b, ea, eb in zip(ordered, ordered[1:], best, best[1:]) if ea is not None and eb is not None]
        if len(ordered) > 2 and best[0] is not None and best[-1] is not None:
            steps.append(order_text(f"h={ordered[-1].hidden}", f"h={ordered[0].hidden}", p_order(best[-1], best[0])))
        fixed_text = "".join(f", {k}={v}" for k, v in fixed)
        lines.append(f"{task} {cell}{fixed_text}, each size at its best {knob}: T50 {each}; " + "; ".join(steps))
    return lines


def best_lines(points: pd.DataFrame, reference: str = "rnn") -> list[str]:
    """The sentences: each curve's best value; per task and cell, each size at its best value against the
    next size; then, per task and size, each cell at its best value against the reference cell at its best
    (every order claimed only at ≥ CLAIM_AT)."""
    curves = knob_curves(points)
    names = lag_names(points)
    lines = [best_sentence(c, names.get(c.task, LagNames())) for c in curves]
    lines += sizes_at_best(curves, names)
    by_cell: dict[tuple, KnobCurve] = {}
    for c in curves:
        by_cell.setdefault((c.task, c.hidden, c.knob, c.fixed), {})[c.cell] = c
    for (task, hidden, knob, fixed), cells in by_cell.items():
        if reference not in cells or len(cells) < 2:
            continue
        ref = cells[reference]
        ref_best = ref.found[best_of(ref)]
        for cell, c in cells.items():
            if cell == reference:
                continue
            p = p_order(c.found[best_of(c)], ref_best)
            if p == p:  # nan: a group without an estimate
                lines.append(f"{task} h={hidden}, each cell at its best {knob}: {order_text(cell, reference, p)}")
    return lines
