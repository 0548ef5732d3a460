"""The sweep's pieces in this process: what its parent run is called and says, the report the CLI reads, the links."""
from pathlib import Path

import pytest

from suite.summary.from_store import SweepSummary
from suite.sweeping.callback import description, parent_name, parent_params
from suite.sweeping.overrides import varied_keys
from suite.sweeping.folder import SweepReport
from suite.tracking.links import browse_lines, run_url, runs_url


def test_the_parent_is_named_for_what_varied():
    jobs = [["task=memory", f"cell={c}", f"seed={s}", "experiment=smoke"] for c in ("rnn", "lstm") for s in (0, 1)]
    assert varied_keys(jobs) == ["cell", "seed"]
    assert parent_name("smoke", varied_keys(jobs), len(jobs)).startswith("smoke: cell×seed, 4 jobs (")
    assert parent_name(None, [], 1).startswith("adhoc: one job, 1 jobs (")


def sweep_config(*overrides):
    """The launching process's config for `run.py -m OVERRIDES`, loaded as Hydra loads it for a sweep: the
    preset's `hydra.sweeper.params` as the preset wrote them, the command line in `hydra.overrides.task`."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    import suite.config  # noqa: F401  (registers the schemas, as run.py does)
    from tests.conftest import ROOT

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        return loader.load_configuration("config", list(overrides), run_mode=RunMode.MULTIRUN)


def test_the_parent_records_the_smoke_sweep_the_command_line_ran():
    command = ["experiment=smoke", "cell=rnn", "task=memory", "seed=3"]
    assert parent_params(sweep_config(*command)) == {
        "overrides": " ".join(command), "swept.task": "memory", "swept.cell": "rnn", "swept.sweep.rung": "0,1",
        "swept.seed": "3"}


def test_the_parent_records_the_horizon_search_the_command_line_ran():
    config = sweep_config("experiment=horizon", "cell=rnn", "hidden=64", "seed=range(60,90)")
    assert "horizon" in config.hydra.sweeper._target_.lower()
    params = parent_params(config)
    assert {k: v for k, v in params.items() if k.startswith("swept.")} == {
        "swept.task": "memory", "swept.cell": "rnn", "swept.hidden": "64", "swept.seed": "range(60,90)"}


@pytest.mark.parametrize("command", [
    ["experiment=smoke", "cell=rnn", "task=memory", "seed=3"],
    ["experiment=smoke", "task=copy", "cell=gru,lstm", "seed=range(2,4)", "fault.at_step=2,100", "train.lr=0.01"],
    ["task=memory,adding", "cell=rnn", "seed=0,1"],
])
def test_the_parents_swept_values_are_the_values_its_jobs_run(command):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from suite.sweeping.hydra_internals import planned_jobs

    config = sweep_config(*command)
    parser = OverridesParser.create()
    ran: dict[str, list[str]] = {}
    for job in planned_jobs(config).jobs:
        for override in parser.parse_overrides(job):
            values = ran.setdefault(override.key_or_group, [])
            if override.value() not in values:
                values.append(override.value())
    recorded = {k.removeprefix("swept."): v for k, v in parent_params(config).items() if k.startswith("swept.")}
    for key, text in recorded.items():
        override = parser.parse_override(f"{key}={text}")
        values = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
        assert values == ran[key], key
    # every key whose value differs between the jobs is recorded; a value the command line fixed is not a sweep
    assert set(varied_keys(planned_jobs(config).jobs)) <= set(recorded)
    assert "train.lr" not in recorded


def test_the_description_leads_with_the_verdicts_and_stays_within_mlflows_limit():
    from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

    summary = SweepSummary("text", "# Sweep summary\n\n## Verdicts\n\n- memory: x\n", {"memory": "x", "copy": "y"})
    text = description(summary, ["job #3 made no run: bad"])
    assert text.startswith("**Verdicts**\n\n- **memory**: x\n- **copy**: y\n") and text.endswith("job #3 made no run: bad")
    long = SweepSummary("text", "# Sweep summary\n" + "".join(f"\n## task {i}\n\n" + "| a |\n" * 300
                                                                for i in range(10)), {"memory": "x"})
    cut = description(long, [])
    assert len(cut) <= MAX_TAG_VAL_LENGTH and cut.endswith("the rest: Artifacts → summary/summary.md")
    assert "\n## task 0" in cut and cut.count("## task") < 10


def test_the_report_the_cli_reads_round_trips(tmp_path):
    path = tmp_path / "report.json"
    assert SweepReport.load(path) == SweepReport()  # a single run leaves none
    path.write_text("")
    assert SweepReport.load(path) == SweepReport()  # the CLI's empty file, before a sweep wrote it
    report = SweepReport(parent_run_id="abc", tracking_uri="sqlite:////x.db", experiment_id="1", crashed=2,
                         summary="== Sweep summary")
    report.save(path)
    assert SweepReport.load(path) == report
    report.save(None)  # nowhere to leave it: no error


def test_links_open_the_model_training_view_narrowed_to_the_sweep():
    assert runs_url("sqlite:////x/mlflow.db", "3", "abc") == (
        "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
        "&searchFilter=tags.mlflow.parentRunId%20%3D%20%27abc%27")
    assert run_url("http://user:pw@tracking:5000/", "3", "r1") == \
        "http://***@tracking:5000/#/experiments/3/runs/r1?workflowType=machine_learning"
    assert browse_lines("http://tracking:5000", "3", run_id="r1") == [
        "  the run:           http://tracking:5000/#/experiments/3/runs/r1?workflowType=machine_learning"]
    local = browse_lines(f"sqlite:///{Path('/x/mlflow.db')}", "3", parent_run_id="p")
    assert local[0].startswith("browse: mlflow ui --backend-store-uri sqlite:////x/mlflow.db --host 127.0.0.1")


def test_a_sweep_folder_launched_again_reads_only_its_own_jobs(tmp_path):
    """An adaptive search launched again into its folder numbers its jobs afresh: the first launch's job
    folders stay beside the second's, and neither the progress count nor the summary may take them in."""
    from suite.sweeping.folder import job_results, progress_text, write_parent, write_result

    write_parent(tmp_path, "first", 3)
    for n in range(3):
        (tmp_path / str(n)).mkdir()
        write_result(tmp_path / str(n), {"run_id": f"a{n}"})
    write_parent(tmp_path, "second", 2)
    for n in range(2):
        write_result(tmp_path / str(n), {"run_id": f"b{n}"})
    assert [r["run_id"] for r in job_results(tmp_path)] == ["b0", "b1"]
    assert progress_text(tmp_path) == "2/2 jobs done"
