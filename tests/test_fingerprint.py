"""Reuse by code, not only config: a resumed sweep reuses a run only if today's code would train it."""
import importlib
import inspect
import os
import sys
from pathlib import Path

import pytest

from suite.reuse.fingerprint import changed_modules, code_hash, module_hash, parse_modules, source_hash
from tests.conftest import children_and_parents, run_cli, store_runs

CODE = '''"""A module."""
def sample(n):
    """Draw n."""
    return [i * 2 for i in range(n)]  # doubled
'''


def test_the_fingerprint_sees_code_not_comments_docstrings_or_layout():
    same = CODE.replace("# doubled", "# twice").replace('"""Draw n."""', '"""Draw n items."""')
    relaid = CODE.replace("[i * 2 for i in range(n)]", "[i * 2\n            for i in range(n)]")
    changed = CODE.replace("i * 2", "i * 3")
    assert source_hash(same) == source_hash(CODE) == source_hash(relaid)
    assert source_hash(changed) != source_hash(CODE)
    before = {"torch": "2.13.0", "suite.training.loop": "aa", "tasks.memory": "bb"}
    now = {**before, "tasks.memory": "cc"}
    assert changed_modules(before, now) == ["tasks.memory"] and code_hash(before) != code_hash(now)
    assert parse_modules("suite.training.loop=aa tasks.memory=bb torch=2.13.0") == before


def test_module_hash_reads_the_modules_own_source_and_follows_its_code(tmp_path, monkeypatch):
    """module_hash hashes the file the module was imported from: a change of code changes it, a comment does not."""
    import tasks.memory

    assert module_hash("tasks.memory") == source_hash(Path(tasks.memory.__file__).read_text())
    name = "fingerprint_probe_module"
    path = tmp_path / f"{name}.py"
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # each reload compiles the file as it is now
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str, at: int):
        path.write_text(source)
        os.utime(path, ns=(at, at))  # a new mtime even within one clock tick: linecache rereads the file

    write(CODE, 10**18)
    try:
        module = importlib.import_module(name)
        first = module_hash(name)
        assert first == source_hash(inspect.getsource(module)) == source_hash(CODE)
        tripled = CODE.replace("i * 2", "i * 3")
        write(tripled, 10**18 + 10**9)
        module_hash.cache_clear()
        importlib.reload(module)
        assert module.sample(2) == [0, 3]  # the reloaded module is the edited code
        second = module_hash(name)
        assert second == source_hash(tripled) != first
        write(tripled.replace("# doubled", "# now tripled"), 10**18 + 2 * 10**9)
        module_hash.cache_clear()
        importlib.reload(module)
        assert module_hash(name) == second
    finally:
        sys.modules.pop(name, None)
        module_hash.cache_clear()


TASK = '''import math

import torch

from tasks.memory import MemoryTask


class MyMemory(MemoryTask):
    """The memory task, from a module of the user's own."""

    def sample(self, batch, generator):
        return super().sample(batch, generator)
'''

SWEEP = ["-m", "task=my_memory", "cell=rnn,lstm", "seq_len=5", "hidden=8", "train.steps=4", "train.eval_every=2",
         "train.eval_size=32", "train.batch=8", "diagnostics.every=0"]


@pytest.mark.slow
def test_a_resumed_sweep_retrains_only_what_changed_code_would_train_and_says_so(tmp_path):
    (tmp_path / "ext/conf/task").mkdir(parents=True)
    (tmp_path / "ext/my_tasks.py").write_text(TASK)
    (tmp_path / "ext/conf/task/my_memory.yaml").write_text(
        "defaults:\n  - memory\n  - _self_\n\n_target_: my_tasks.MyMemory\nname: my_memory\n")
    env = {"PYTHONPATH": str(tmp_path / "ext")}

    def sweep(name):
        proc = run_cli([*SWEEP, f"hydra.searchpath=[file://{tmp_path}/ext/conf]",
                        f"hydra.sweep.dir={tmp_path}/{name}"], tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    sweep("first")
    (tmp_path / "ext/my_tasks.py").write_text(TASK.replace('"""The memory task', '"""Still the memory task'))
    unchanged = sweep("second")  # a docstring is not code: everything reused
    assert unchanged.count("reusing finished run") == 2 and "trained by other code" not in unchanged
    (tmp_path / "ext/my_tasks.py").write_text(TASK.replace(
        "return super().sample(batch, generator)", "x, y = super().sample(batch, generator)\n        return x * 0.5, y"))
    changed = sweep("third")
    assert changed.count("reusing finished run") == 0
    assert "2 job(s) not reused, trained again: their finished runs were trained by other code (my_tasks)" in changed
    children, _ = children_and_parents(store_runs(tmp_path))
    assert len(children) == 4 and children["tags.code_hash"].nunique() == 2
    assert set(children.groupby("tags.config_hash").size()) == {2}  # each config: one run per code version
    # a summary of the whole experiment mixes the two versions, and says so
    from suite.summary.from_store import summarise_store

    _, text = summarise_store(f"sqlite:///{tmp_path}/mlflow.db", experiment="rnn-vs-lstm")
    assert "Runs of the same task and cell were trained by different versions of the code (my_memory lstm: 2 " \
           "versions, my_memory rnn: 2 versions)" in text
