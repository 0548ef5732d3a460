"""suite.summary.knob_effects: horizon against a swept knob, the best value and how sure the runs are, from
hand-built runs (no training)."""
import pandas as pd

from suite.summary import analysis, frame, knob_effects, plots, from_store
from tests.test_summary import outcomes

SOLVES, FAILS = ("solved",) * 8, ("failed",) * 8


def curve_rows(cell, knob, value, solved_up_to, lags=(10, 30, 90, 200), hidden=64, mixed_at=None):
    """8 seeds a lag: all solve up to `solved_up_to`, all fail beyond (half and half at `mixed_at`)."""
    rows = []
    for lag in lags:
        result = SOLVES if lag <= solved_up_to else FAILS
        if lag == mixed_at:
            result = SOLVES[:4] + FAILS[:4]
        rows += [{**r, f"params.{knob}": value} for r in outcomes("memory", cell, lag, *result, hidden=hidden)]
    return rows


def points_of(rows) -> pd.DataFrame:
    return analysis.point_table(frame.runs_frame(pd.DataFrame(rows)))


def test_the_best_value_is_claimed_only_where_the_runs_separate_it():
    rows = (curve_rows("rnn", "train.lr", "0.001", 10) + curve_rows("rnn", "train.lr", "0.005", 90)
            + curve_rows("rnn", "train.lr", "0.02", 30))
    points = points_of(rows)
    [curve] = knob_effects.knob_curves(points)
    assert (curve.cell, curve.knob, curve.values) == ("rnn", "train.lr", ["0.001", "0.005", "0.02"])  # numeric order
    [line] = knob_effects.best_lines(points)
    assert line.startswith("memory rnn h=64: longest at train.lr=0.005, T50 T ")
    assert "beyond train.lr=0.02's" in line and "(P = " in line
    [row] = knob_effects.best_table(points).to_dict("records")
    assert (row["best"], row["runner_up"]) == ("0.005", "0.02") and row["p_best"] >= 0.95
    assert row["every_value"].startswith("0.001: T ")


def test_close_values_are_said_not_to_separate():
    rows = curve_rows("rnn", "train.lr", "0.005", 30, mixed_at=90) + curve_rows("rnn", "train.lr", "0.01", 30)
    [line] = knob_effects.best_lines(points_of(rows))
    assert "the data do not separate train.lr=0.005" in line and "from train.lr=0.01" in line
    assert "P(the first is longer) = " in line


def test_open_ends_at_the_cap_are_a_tie_the_cap_makes():
    rows = (curve_rows("lstm", "train.lr", "0.002", 200) + curve_rows("lstm", "train.lr", "0.005", 200)
            + curve_rows("lstm", "train.lr", "0.0005", 10))
    [line] = knob_effects.best_lines(points_of(rows))
    assert "beyond the longest lag tried at train.lr=0.002, 0.005" in line
    assert "the cap, not the knob, limits it there" in line


def test_a_knob_that_is_not_numeric_keeps_its_names_and_the_cells_meet_at_their_best():
    rows = (curve_rows("rnn", "cell.recurrent_init", "orthogonal", 90) + curve_rows("rnn", "cell.recurrent_init", "default", 10)
            + curve_rows("lstm", "train.lr", "0.002", 10) + curve_rows("lstm", "train.lr", "0.005", 200)
            + curve_rows("rnn", "train.lr", "0.002", 10, hidden=32) + curve_rows("rnn", "train.lr", "0.005", 30, hidden=32))
    points = points_of(rows)
    curves = {(c.cell, c.hidden): c for c in knob_effects.knob_curves(points)}
    assert set(curves[("rnn", 64)].values) == {"orthogonal", "default"} and not curves[("rnn", 64)].numeric
    assert curves[("lstm", 64)].numeric
    lines = knob_effects.best_lines(points)
    assert any(line.startswith("memory rnn h=64") and "longest at cell.recurrent_init=orthogonal" in line for line in lines)
    # rnn and lstm were swept over different knobs at h=64: nothing to set them against each other at their best
    assert not any("each cell at its best" in line for line in lines)


def test_each_cell_at_its_best_against_the_reference():
    rows = (curve_rows("rnn", "train.lr", "0.002", 10) + curve_rows("rnn", "train.lr", "0.005", 30)
            + curve_rows("lstm", "train.lr", "0.002", 90) + curve_rows("lstm", "train.lr", "0.005", 200))
    lines = knob_effects.best_lines(points_of(rows))
    assert "memory h=64, each cell at its best train.lr: lstm beyond rnn (P = 1.00)" in lines


def test_the_figure_draws_each_curve(tmp_path):
    rows = (curve_rows("rnn", "train.lr", "0.002", 10) + curve_rows("rnn", "train.lr", "0.005", 30)
            + curve_rows("lstm", "train.lr", "0.002", 90) + curve_rows("lstm", "train.lr", "0.005", 200))
    path = plots.plot_knob_curves(knob_effects.knob_curves(points_of(rows)), tmp_path / "knobs.png")
    assert path.stat().st_size > 10_000


def test_a_summary_of_a_knob_sweep_writes_its_table_figure_and_section(tmp_path):
    rows = curve_rows("rnn", "train.lr", "0.002", 10) + curve_rows("rnn", "train.lr", "0.005", 90)
    paths = from_store.write_summary(pd.DataFrame(rows), tmp_path)
    assert {"knobs.csv", "knobs.png"} <= set(paths)
    assert pd.read_csv(paths["knobs.csv"])["best"].tolist() == [0.005]
    assert "## Horizon against each swept knob" in paths["summary.md"].read_text()
    from_store.write_summary(pd.DataFrame(curve_rows("rnn", "train.lr", "0.002", 10)), tmp_path)  # one value: no curve
    assert not (tmp_path / "knobs.png").exists() and not (tmp_path / "knobs.csv").exists()


def test_a_knob_sweep_whose_every_run_crashed_still_gets_its_summary(tmp_path):
    """The SLURM test's sweep: train.steps swept, every job killed. No T50 anywhere: the figure says so."""
    from tests.test_summary import run

    rows = [{**run("memory", "rnn", 5, 0, None, status="KILLED"), "params.train.steps": str(steps)} for steps in (2, 3)]
    paths = from_store.write_summary(pd.DataFrame(rows), tmp_path)
    assert paths["knobs.png"].exists()
    assert "no finished runs at any train.steps" in paths["summary.md"].read_text()


def test_each_size_at_its_best_value_against_the_next_size():
    # h=32 is best at 0.005, h=128 at 0.001: at one shared rate (0.005) h=128 looks shorter, at each size's best it is not
    rows = (curve_rows("rnn", "train.lr", "0.001", 30, hidden=32) + curve_rows("rnn", "train.lr", "0.005", 90, hidden=32)
            + curve_rows("rnn", "train.lr", "0.001", 200, hidden=128) + curve_rows("rnn", "train.lr", "0.005", 10, hidden=128)
            + curve_rows("rnn", "train.lr", "0.001", 30, hidden=64, mixed_at=90)
            + curve_rows("rnn", "train.lr", "0.005", 30, hidden=64))
    [line] = [line for line in knob_effects.best_lines(points_of(rows)) if "each size at its best" in line]
    assert line.startswith("memory rnn, each size at its best train.lr: T50 h=32 T ")
    assert "(at train.lr=0.005), h=64 " in line and "h=128 T > 200 (at train.lr=0.001)" in line
    assert "h=128 beyond h=64 (P = " in line and "h=128 beyond h=32 (P = " in line
    # one size only: no such sentence
    assert not [line for line in knob_effects.best_lines(points_of(rows[:len(rows) // 3])) if "each size at its best" in line]


def test_the_figure_marks_an_interval_open_at_its_top_at_its_known_end(tmp_path):
    """'> 19' (the RNN at lr 1e-3 in experiment=fair_lr: a floor of seeds that solve at every lag): the mark sits
    at 19 with an arrow up, not at the median the prior alone would place, with a whisker to the prior's reach."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from suite.horizon.threshold import estimate

    open_top = estimate({10: (3, 3), 30: (2, 3), 90: (3, 3), 200: (6, 15)})
    closed = estimate({10: (8, 8), 30: (8, 8), 60: (4, 8), 90: (0, 8), 200: (0, 8)})
    assert open_top.text().startswith("> ") and open_top.hi == float("inf")
    fig, ax = plt.subplots()
    plots._estimate_lines(ax, [("open", "rnn", [1.0], [open_top]), ("closed", "lstm", [2.0], [closed])], log_x=False)
    marks = {line.get_label(): line.get_ydata()[0] for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert marks == {"open": open_top.lo, "closed": closed.t50}
    assert len(ax.texts) == 1 and ax.texts[0].xy[1] > open_top.lo  # one arrow, pointing up from the known end
    plt.close(fig)


def test_the_best_value_is_set_against_every_value_it_beats_not_only_the_runner_up():
    rows = (curve_rows("rnn", "train.steps", "500", 10) + curve_rows("rnn", "train.steps", "2000", 90, mixed_at=200)
            + curve_rows("rnn", "train.steps", "8000", 200))
    [line] = knob_effects.best_lines(points_of(rows))
    assert line.startswith("memory rnn h=64: the data do not separate train.steps=8000")
    assert "from train.steps=2000" in line and "; beyond train.steps=500's T " in line


def test_a_figure_whose_every_estimate_is_unbounded_says_so_instead_of_raising():
    """One failed run at one lag places T50 nowhere ('unbounded'): nothing to draw on a log axis (the smoke sweep with
    a crashing job hit this)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from suite.horizon.threshold import estimate

    nowhere = estimate({10: (0, 1)})
    assert nowhere.text().startswith("unbounded")
    fig, ax = plt.subplots()
    plots._estimate_lines(ax, [("lstm", "lstm", [1.0], [nowhere])], log_x=False)
    fig.canvas.draw()
    assert "no T50 to draw" in ax.texts[0].get_text()
    plt.close(fig)
