"""The sweep's pieces in this process: what its parent run is called and says, the report the CLI reads, the links."""
from pathlib import Path

from suite.summary.store import SweepSummary
from suite.sweep import description, parent_name, varied_keys
from suite.sweep_folder import SweepReport
from suite.tracking.links import browse_lines, run_url, runs_url


def test_the_parent_is_named_for_what_varied():
    jobs = [["task=memory", f"cell={c}", f"seed={s}", "experiment=smoke"] for c in ("rnn", "lstm") for s in (0, 1)]
    assert varied_keys(jobs) == ["cell", "seed"]
    assert parent_name("smoke", varied_keys(jobs), len(jobs)).startswith("smoke: cell×seed, 4 jobs (")
    assert parent_name(None, [], 1).startswith("adhoc: one job, 1 jobs (")


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
    from suite.sweep_folder import job_results, progress_text, write_parent, write_result

    write_parent(tmp_path, "first", 3)
    for n in range(3):
        (tmp_path / str(n)).mkdir()
        write_result(tmp_path / str(n), {"run_id": f"a{n}"})
    write_parent(tmp_path, "second", 2)
    for n in range(2):
        write_result(tmp_path / str(n), {"run_id": f"b{n}"})
    assert [r["run_id"] for r in job_results(tmp_path)] == ["b0", "b1"]
    assert progress_text(tmp_path) == "2/2 jobs done"
