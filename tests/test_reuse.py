"""Reuse across a change of code (suite/reuse/decide.py): a change that moves no number keeps the stored runs, one
that moves numbers retrains and says why. Each edit below is made to the real source of a module, compiled
and put where the suite calls it, as if it had been committed."""
import os
import sys
import types

import pytest

import suite.reuse.fingerprint
from suite.reuse.fingerprint import source_hash
from suite.record import Result
from tests.conftest import ROOT, TINY

JOB = ["cell=rnn", "diagnostics.every=2", *TINY]


def edited(module_name: str, old: str, new: str, count: int = -1) -> types.ModuleType:
    """`module_name` as it would be with `old` replaced by `new` in its source, and its fingerprint."""
    path = ROOT / (module_name.replace(".", "/") + ".py")
    source = path.read_text()
    assert old in source, f"{old!r} not in {path}"
    changed = source.replace(old, new, count)
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    exec(compile(changed, str(path), "exec"), module.__dict__)
    module.fingerprint = source_hash(changed)
    return module


def commit(monkeypatch, module: types.ModuleType, where: dict[object, list[str]]) -> None:
    """Put the edited module's functions where the suite calls them, and its fingerprint in the run's code."""
    for target, names in where.items():
        for name in names:
            monkeypatch.setattr(target, name, getattr(module, name))
    real = suite.reuse.fingerprint.module_hash
    monkeypatch.setattr(suite.reuse.fingerprint, "module_hash",
                        lambda name: module.fingerprint if name == module.__name__ else real(name))


def test_a_renamed_local_variable_in_the_training_loop_keeps_the_stored_run(job, monkeypatch, caplog):
    import suite.training.configured

    first = job(*JOB, sweeping=True)
    renamed = edited("suite.training.loop", "since_eval", "updates_since_evaluation")
    assert renamed.fingerprint != suite.reuse.fingerprint.module_hash("suite.training.loop")
    commit(monkeypatch, renamed, {suite.training.configured: ["train"]})
    with caplog.at_level("INFO"):
        second = job(*JOB, sweeping=True, output="second")
    assert second[Result.REUSED] and second[Result.RUN_ID] == first[Result.RUN_ID]
    assert "retrained to its first evaluation, it gave the same numbers" in caplog.text
    # shown once for this pair of code versions: the next launch reuses without retraining anything
    import suite.reuse.decide

    monkeypatch.setattr(suite.reuse.decide, "first_evaluation", lambda *a: pytest.fail("retrained again"))
    third = job(*JOB, sweeping=True, output="third")
    assert third[Result.REUSED] and third[Result.RUN_ID] == first[Result.RUN_ID]


def test_seeding_after_building_the_model_retrains_and_names_why(job, monkeypatch, caplog):
    import suite.job
    import suite.reuse.decide

    first = job(*JOB, sweeping=True)
    reordered = edited("suite.training.configured", "    torch.manual_seed(cfg.seed)\n    return model_for(cfg, task)",
                       "    model = model_for(cfg, task)\n    torch.manual_seed(cfg.seed)\n    return model")
    commit(monkeypatch, reordered, {suite.job: ["build"]})
    with caplog.at_level("INFO"):
        second = job(*JOB, sweeping=True, output="second")
    assert not second.get(Result.REUSED) and second[Result.RUN_ID] != first[Result.RUN_ID]
    assert second[Result.CODE_CHANGED] == ["suite.training.configured"]
    assert "trained by other code (suite.training.configured) and the numbers moved: train_loss at step 2" in caplog.text


def test_a_regenerated_golden_version_retrains_though_the_first_evaluation_agrees(job, monkeypatch, caplog):
    import suite.reuse.decide

    first = job(*JOB, sweeping=True)
    renamed = edited("suite.training.loop", "since_eval", "updates_since_evaluation")
    import suite.training.configured

    commit(monkeypatch, renamed, {suite.training.configured: ["train"]})
    import suite.reuse.golden as golden

    bumped = {name: {**run, "version": run["version"] + (name == "rnn-memory")} for name, run in golden.committed().items()}
    monkeypatch.setattr(golden, "committed", lambda: bumped)  # as `python -m suite.reuse.golden --write` would
    with caplog.at_level("INFO"):
        second = job(*JOB, sweeping=True, output="second")
    assert not second.get(Result.REUSED) and second[Result.RUN_ID] != first[Result.RUN_ID]
    assert "the golden numerics moved since (rnn-memory)" in caplog.text


def test_the_check_leaves_the_model_and_torchs_random_state_as_they_were():
    import torch

    from suite.reuse.decide import first_evaluation
    from tests.conftest import compose_config

    from suite.training.configured import build

    cfg = compose_config(*JOB, "device=cpu")
    task, model = build(cfg, torch.device("cpu"))
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(7)
    before = torch.get_rng_state()
    step, metrics, trained = first_evaluation(cfg, task, model, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), before)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert step == 2 and "train_loss" in metrics and "grad_log10_ratio" in metrics and trained is None


def test_the_explicit_cells_o_t_backward_keeps_runs_trained_by_the_o_t2_one(job, monkeypatch, caplog):
    """suite/model/explicit.py indexed projected[:, t] inside its loop over time until the loop took the steps
    apart once (unbind): the same numbers, an O(T) backward. Runs of the indexing code stay reused."""
    import suite.model.explicit
    import suite.model.recurrent

    cells = {"rnn_explicit": "ExplicitRNN", "lstm_explicit": "ExplicitLSTM", "gru_explicit": "ExplicitGRU"}
    indexing = edited("suite.model.explicit", "return projected.unbind(1)",
                      "return tuple(projected[:, t] for t in range(projected.shape[1]))")
    with monkeypatch.context() as before_the_fix:
        commit(before_the_fix, indexing, {})
        for name, cls in cells.items():
            before_the_fix.setitem(suite.model.recurrent.CELLS, name, getattr(indexing, cls))
            getattr(indexing, cls).__module__ = "suite.model.explicit"
        first = [job(f"cell={name}", *JOB[1:], sweeping=True, output=name) for name in cells]
    assert suite.model.recurrent.CELLS["lstm_explicit"] is suite.model.explicit.ExplicitLSTM  # today's code again
    with caplog.at_level("INFO"):
        again = [job(f"cell={name}", *JOB[1:], sweeping=True, output=f"{name}-again") for name in cells]
    assert [r[Result.RUN_ID] for r in again] == [r[Result.RUN_ID] for r in first]
    assert all(r[Result.REUSED] for r in again)
    # one code version for the three (their module set is the same): shown once, then reused on the record
    assert caplog.text.count("retrained to its first evaluation, it gave the same numbers") == 1
    assert caplog.text.count("that code was shown to give these numbers") == 2


SWEEP = ["-m", "task=memory", "cell=rnn,lstm", "diagnostics.every=2", *TINY]


@pytest.mark.slow
def test_a_stored_sweep_survives_a_refactor_of_a_copy_of_the_suite_and_retrains_on_a_reordered_seed(tmp_path):
    """The whole path, as a user meets it: the suite's own files edited (in a copy), and the sweep launched again."""
    import shutil
    import subprocess

    project = tmp_path / "project"
    project.mkdir()
    for part in ("suite", "tasks", "conf", "hydra_plugins"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "run.py", project / "run.py")

    def sweep(name):
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}
        proc = subprocess.run([sys.executable, "run.py", *SWEEP, f"hydra.sweep.dir={tmp_path}/{name}"], cwd=project,
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    def edit(path, old, new):
        source = (project / path).read_text()
        assert old in source
        (project / path).write_text(source.replace(old, new))

    sweep("first")
    edit("suite/training/loop.py", "since_eval", "updates_since_evaluation")
    renamed = sweep("renamed")
    assert renamed.count("reusing finished run") == 2 and "0 trained again on changed code" in renamed
    edit("suite/training/configured.py", "    torch.manual_seed(cfg.seed)\n    return model_for(cfg, task)",
         "    model = model_for(cfg, task)\n    torch.manual_seed(cfg.seed)\n    return model")
    reordered = sweep("reordered")
    # Only the process's first job builds its model from another random state: the reordered code seeds at its
    # end, so the next job's model is drawn from seed 0's state again, and its numbers do not move (checked).
    # Named against the runs stored, trained before the rename too.
    assert "1 job(s) not reused, trained again: their finished runs were trained by other code (suite.training.configured, " \
           "suite.training.loop)" in reordered
    assert reordered.count("the numbers moved") == 1 and reordered.count("reusing finished run") == 1
