"""How a summary writes lags: as d, the distance a task's information travels (tasks.base.Lag), so that
horizons compare across tasks, with a line saying how d relates to T, the seq_len knob; as T for a task
that does not say."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from suite.summary.analysis import distance_text, lag_distances, shortest_distances
from suite.summary.estimates import distance_in


@dataclass(frozen=True)
class LagNames:
    """How one task's lags are written in verdicts: as the distance d its information travels
    (tasks.base.Lag, the mean over the task's sampler), so that horizons compare across tasks; as
    T, the seq_len knob, for a task that does not say how far (distances empty)."""

    distances: dict[int, float] = field(default_factory=dict)  # seq_len -> d
    shortest: dict[int, float] = field(default_factory=dict)  # seq_len -> the task's shortest distance (Lag.min)

    @property
    def symbol(self) -> str:
        return "d" if self.distances else "T"

    def num(self, t: int) -> str:
        return distance_text(self.distances[t]) if self.distances else str(t)

    def at(self, t: int) -> str:
        return f"{self.symbol}={self.num(t)}"

    def many(self, lags) -> str:
        return f"{self.symbol}={','.join(self.num(t) for t in lags)}"

    def span(self, lags) -> str:
        return f"{self.symbol}={self.num(lags[0])}..{self.num(lags[-1])}" if len(lags) > 1 else self.at(lags[0])

    def t50(self, est) -> str:
        """A T50 estimate in this task's lags: 'd 80 [48, 160]', 'd > 199', 'no T50 (...)'."""
        if est is None:
            return "no finished runs"
        text = est.text(distance_in(self.distances, self.shortest))
        return text if text.startswith("no T50") else f"{self.symbol} {text}"


def lag_relation(points: pd.DataFrame) -> str | None:
    """How d relates to T for one task's points: 'd = T−1' when every sequence's information travels
    the same distance, else 'd = the mean over sequences, e.g. 25–49 (mean 37.2) at T=50'; None when
    the task does not say."""
    if not lag_distances(points):
        return None
    rows = points.drop_duplicates("seq_len").sort_values("seq_len")
    offsets = {round(r.lag_mean - r.seq_len, 9) for r in rows.itertuples()}
    if (rows["lag_min"] == rows["lag_max"]).all() and len(offsets) == 1:
        offset = offsets.pop()
        return "d = T" + ("" if offset == 0 else f"{'+' if offset > 0 else '−'}{distance_text(abs(offset))}")
    r = rows.iloc[-1]
    return (f"d = the mean over sequences, e.g. {distance_text(r.lag_min)}–{distance_text(r.lag_max)} "
            f"(mean {distance_text(r.lag_mean)}) at T={int(r.seq_len)}")


def lag_names(points: pd.DataFrame) -> dict[str, LagNames]:
    shortest = shortest_distances(points)
    return {task: LagNames(d, shortest.get(task, {})) for task, d in lag_distances(points).items()}


def lags_line(points: pd.DataFrame) -> str | None:
    """'Lags are the distance d from the information to its answer, in steps: memory d = T−1; ...'."""
    relations = [(task, lag_relation(g)) for task, g in points.groupby("task", sort=False)]
    said = [f"{task} {rel}" for task, rel in relations if rel]
    if not said:
        return None
    plain = [task for task, rel in relations if not rel]
    return ("Lags are written as d, the distance in steps from the information to the output that needs it "
            f"(T is the seq_len knob): {'; '.join(said)}" +
            (f"; {', '.join(plain)} declare no distance: T" if plain else "") + ".")
