"""suite.summary.leaderboard: a task's cells at matched sizes (each at its own hidden size) ranked by horizon,
in tiers the runs separate, from hand-built runs (no training); and the summary around it."""
import re

import pandas as pd
import pytest

from suite.summary import analysis, document, frame, leaderboard, learning, render, from_store
from tests.test_summary import outcomes

SOLVES, FAILS = ("solved",) * 8, ("failed",) * 8
LAGS = (10, 30, 90)


def cell_rows(cell, hidden, solved_up_to, weights=6400, task="memory", mixed_at=None):
    """8 seeds a lag at the cell's own size: all solve up to `solved_up_to`, all fail beyond (half at `mixed_at`)."""
    rows = []
    for lag in LAGS:
        result = SOLVES if lag <= solved_up_to else FAILS
        if lag == mixed_at:
            result = SOLVES[:4] + FAILS[:4]
        rows += [{**r, "params.recurrent_params": str(weights)}
                 for r in outcomes(task, cell, lag, *result, hidden=hidden)]
    return rows


def points_of(rows) -> pd.DataFrame:
    return analysis.point_table(frame.runs_frame(pd.DataFrame(rows)))


def board_of(rows) -> pd.DataFrame:
    runs = frame.runs_frame(pd.DataFrame(rows))
    return leaderboard.leaderboards(analysis.point_table(runs), runs)


def matched_rows():
    """lstm and gru solve every lag, rnn up to 30, mingru up to 10 (and half at 30), s6 nothing."""
    return (cell_rows("rnn", 72, 30, 6480) + cell_rows("lstm", 32, 90, 6400) + cell_rows("gru", 38, 90, 6384)
            + cell_rows("mingru", 188, 10, 6392, mixed_at=30) + cell_rows("s6", 27, 0, 6500))


def test_cells_at_their_own_sizes_are_one_matched_group_not_a_size_each():
    points = points_of(matched_rows())
    assert analysis.matched_sizes(points) == {"memory": {"rnn": 72, "lstm": 32, "gru": 38, "mingru": 188, "s6": 27}}
    [group] = analysis.judge(points)
    assert group.hidden is None and group.hidden_of("mingru") == 188
    assert analysis.size_verdicts(points) == {}  # not "rnn at every size (h=72)"
    [line] = render.verdicts(points)
    assert line.startswith("memory: horizon T50: rnn T ") and "lstm beyond rnn (P = " in line
    table = render.task_tables(points)["memory"]
    assert list(table.columns) == ["rnn h=72", "lstm h=32", "gru h=38", "mingru h=188", "s6 h=27"]
    assert list(table.index) == list(LAGS)
    # one size for every cell, or several sizes of each: not matched
    assert analysis.matched_sizes(points_of(cell_rows("rnn", 64, 30) + cell_rows("lstm", 64, 90))) == {}
    assert analysis.matched_sizes(points_of(cell_rows("rnn", 64, 30) + cell_rows("rnn", 128, 30)
                                            + cell_rows("lstm", 64, 90))) == {}


def test_the_board_ranks_by_horizon_and_opens_a_tier_only_where_the_runs_separate():
    board = board_of(matched_rows())
    assert set(board["cell"][:2]) == {"lstm", "gru"}  # both beyond the cap
    assert list(board["cell"][2:]) == ["rnn", "mingru", "s6"]
    assert list(board["tier"]) == [1, 1, 2, 3, 4]
    assert board["p_beyond_next"].iloc[0] < 0.95 <= board["p_beyond_next"].iloc[1]  # lstm ~ gru; gru beyond rnn
    assert list(board["weights"]) == [6400 if c == "lstm" else {"gru": 6384, "rnn": 6480, "mingru": 6392, "s6": 6500}[c]
                                      for c in board["cell"]]
    assert board["horizon"].iloc[0] == "> 90" and board["horizon_d"].isna().all()  # no distances in these runs
    [line] = leaderboard.leaderboard_lines(board)
    assert line.startswith("memory: tier 1 ") and "tier 2 (P = " in line and ") rnn T " in line
    assert line.index("tier 3") < line.index("mingru") < line.index("tier 4") < line.index("s6")


def test_cells_the_runs_do_not_separate_share_a_tier():
    rows = cell_rows("rnn", 72, 30) + cell_rows("exprnn", 70, 10, mixed_at=30) + cell_rows("lstm", 32, 30)
    board = board_of(rows)
    assert set(board.loc[board["tier"] == 1, "cell"]) >= {"rnn", "lstm"}
    assert board["tier"].max() <= 2


def test_each_ranked_cell_carries_the_growth_of_its_learning_time_or_a_dash_where_unfitted():
    """The growth per doubling of the lag with its 95% interval, from learning.py's fits (cached: the Learning
    time section's own); '–' for a cell with no solve (s6) or runs at one lag (lstm here)."""
    rows = [r for r in matched_rows() if not (r["tags.cell"] == "lstm" and r["tags.seq_len"] != "30")]
    board = board_of(rows).set_index("cell")
    assert list(board.columns)[-1] == "growth"
    assert board.loc["s6", "growth"] == "–" and board.loc["lstm", "growth"] == "–"
    runs = frame.runs_frame(pd.DataFrame(rows))
    fit = next(g.fit for g in learning.learning_groups(runs) if g.cell == "rnn" and g.hidden == 72)
    assert board.loc["rnn", "growth"] == f"×{learning.interval_text(fit.growth('power'))}"
    for cell in ("rnn", "gru", "mingru"):  # solves at two lags or more: '×1.0 [0.58, 2.2]'
        median, lo, hi = map(float, re.fullmatch(r"×(\S+) \[(\S+), (\S+)\]", board.loc[cell, "growth"]).groups())
        assert 0 < lo <= median <= hi, (cell, board.loc[cell, "growth"])


def test_the_summary_writes_the_board_and_its_figure_and_drops_them_when_not_matched(tmp_path):
    runs = frame.runs_frame(pd.DataFrame(matched_rows()))
    paths = from_store.write_summary(runs, tmp_path)
    assert {"leaderboard.csv", "leaderboard.png"} <= set(paths) and "horizons.png" not in paths
    written = pd.read_csv(tmp_path / "leaderboard.csv")
    assert list(written["cell"][2:]) == ["rnn", "mingru", "s6"]
    assert written["growth"].iloc[-1] == "–" and written["growth"].iloc[2].startswith("×")
    text = document.format_text(analysis.point_table(runs), runs)
    assert "-- Leaderboard" in text and "memory: tier 1 " in text
    assert "| P beyond next | growth" in text and "| s6     |" in text and "| –" in text
    assert "| 53 [34, 81] (T) |" in text  # no distance recorded: T50 in T, said so
    plain = frame.runs_frame(pd.DataFrame(cell_rows("rnn", 64, 30) + cell_rows("lstm", 64, 90)))
    paths = from_store.write_summary(plain, tmp_path)  # the same folder: the old board must not pass for this one's
    assert not (tmp_path / "leaderboard.png").exists() and not (tmp_path / "leaderboard.csv").exists()
    assert "Leaderboard" not in document.format_text(analysis.point_table(plain), plain)


def test_the_readme_gets_the_board_alone_between_its_markers(tmp_path):
    from suite.summary import __main__ as cli
    from suite.summary.from_store import SummaryError

    runs = frame.runs_frame(pd.DataFrame(matched_rows()))
    paths = from_store.write_summary(runs, tmp_path / "out")
    markdown = paths["summary.md"].read_text(encoding="utf-8")
    section = cli.section_of(markdown, "Leaderboard")
    assert section.startswith("## Leaderboard\n") and "memory:\n\n| tier | cell " in section
    assert "## Verdicts" not in section and "## Why" not in section and "## memory" not in section
    page = tmp_path / "README.md"
    page.write_text("# Title\n\n## The board\n\nintro\n<!-- leaderboard:start -->\nold\n<!-- leaderboard:end -->\n"
                    "after\n", encoding="utf-8")
    cli.embed_in_page(page, section, paths["leaderboard.png"].parent, "leaderboard")
    written = page.read_text(encoding="utf-8")
    assert "old" not in written and "\n### Leaderboard\n" in written and written.endswith("after\n")
    assert "![horizons ranked at matched weights](out/leaderboard.png)" in written and "```" not in written
    with pytest.raises(SummaryError, match="no section headed 'Knobs'"):
        cli.section_of(markdown, "Knobs")


def test_a_task_tried_at_one_lag_is_written_in_t_not_a_distance_guessed_from_it():
    """From one lag, how the distance d moves with T is unknown: d = 137 at T=270 on selective copy made
    'T > 114' read as 'd > -19' when T−1 was assumed."""
    rows = [{**r, "params.lag_mean": "137", "params.lag_min": "4", "params.lag_max": "270"}
            for r in outcomes("selective_copy", "gru", 270, *SOLVES[:3], hidden=38)]
    points = points_of(rows)
    assert analysis.lag_distances(points) == {}
    two = rows + [{**r, "params.lag_mean": "47", "params.lag_min": "4", "params.lag_max": "90"}
                  for r in outcomes("selective_copy", "gru", 90, *SOLVES[:3], hidden=38)]
    assert analysis.lag_distances(points_of(two)) == {"selective_copy": {90: 47.0, 270: 137.0}}


def selective_copy_rows(cell, hidden, results_by_lag):
    """Selective copy as it logs its lag (tasks.base.Lag): every sequence carries its information at least 4
    steps (lag_min 4 at every T), d = the mean, about T/2 (4 at T=4, 47 at T=90)."""
    rows = []
    for lag, results in results_by_lag.items():
        rows += [{**r, "params.recurrent_params": "5600", "params.lag_min": "4",
                  "params.lag_mean": str((lag + 4) // 2), "params.lag_max": str(lag)}
                 for r in outcomes("selective_copy", cell, lag, *results, hidden=hidden)]
    return rows


def test_a_distance_is_never_written_below_the_tasks_shortest():
    """docs/leaderboard_small's exprnn: T50 T 5.5 [1.9, 9.8]; d, linear in T through the lags tried (d 4 at T=4),
    read T 1.9 as d 2.9, shorter than the 4 steps every selective-copy sequence carries its information. The
    end below the task's shortest distance is written as that bound: d 4. Memory (d = T−1) keeps its d below
    the lags tried."""
    ok, no = ("solved",) * 3, ("failed",) * 3
    rows = (selective_copy_rows("exprnn", 70, {4: ok, 6: ("solved", "failed", "failed"), 10: no, 30: no, 90: no})
            + selective_copy_rows("gru", 38, {4: ok, 10: ok, 30: ok, 90: ok}))
    points = points_of(rows)
    board = board_of(rows).set_index("cell")
    t50 = board.loc["exprnn", "horizon"]
    low_t = float(re.fullmatch(r"\S+ \[(\S+), \S+\]", t50).group(1))
    assert low_t < 4, t50  # the runs' interval in T reaches below the shortest lag tried: the case in point
    low_d = float(re.fullmatch(r"\S+ \[(\S+), \S+\]", board.loc["exprnn", "horizon_d"]).group(1))
    assert low_d == 4, board.loc["exprnn", "horizon_d"]
    [line] = leaderboard.leaderboard_lines(board.reset_index())
    [verdict] = render.verdicts(points)
    for text in (line, verdict):
        distances = [float(d) for d in re.findall(r"\bd [<>]? ?\[?(\d+(?:\.\d+)?)", text)]
        distances += [float(d) for d in re.findall(r"\[(\d+(?:\.\d+)?), ", text)]
        assert distances and min(distances) >= 4, text
    # memory's shortest distance moves with T (d = T−1): below the lags tried it is still T−1, not clamped
    memory = [{**r, "params.lag_min": str(int(r["tags.seq_len"]) - 1), "params.lag_mean": str(int(r["tags.seq_len"]) - 1),
               "params.lag_max": str(int(r["tags.seq_len"]) - 1)} for r in cell_rows("rnn", 72, 0) + cell_rows("lstm", 32, 90)]
    mem = board_of(memory).set_index("cell")
    assert mem.loc["rnn", "horizon_d"] == mem.loc["rnn", "horizon"].replace("< 10", "< 9")
