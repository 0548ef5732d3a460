"""A task or cell built from `_target_`: the config's mistakes are one line, a class's bugs keep their traceback."""
import pytest
from omegaconf import OmegaConf

from suite.model.components import build_task
from suite.model.construct import construct
from suite.errors import ComponentBug, ConfigError
from suite.model.recurrent import custom_cell
from tasks.base import TaskConfigError
from tasks.memory import MemoryTask


class BuggyTask(MemoryTask):
    def __init__(self, seq_len, symbols=8, name=None):
        super().__init__(seq_len, symbols=symbols, name=name)
        self.ratio = symbols / (symbols - 8)  # a bug: divides by zero at the default


class BuggyCell:
    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=True, leak=0.5):
        raise KeyError("weights")  # a bug in the cell's own code


def task(**knobs):
    return OmegaConf.create({"_target_": f"{__name__}.BuggyTask", "name": "buggy", "seq_len": 10, **knobs})


def test_a_bug_in_a_task_class_is_not_called_a_config_error():
    with pytest.raises(ComponentBug) as caught:
        build_task(task())
    message = str(caught.value)
    assert "building it raised ZeroDivisionError: division by zero" in message
    assert f"a bug in {__name__}.BuggyTask, not in the config" in message
    assert isinstance(caught.value.__cause__, ZeroDivisionError)  # the traceback shows where it came from
    assert not isinstance(caught.value, ConfigError)
    assert build_task(task(symbols=9)).symbols == 9  # the same class, built with a value that avoids the bug


def test_the_configs_own_mistakes_are_one_line_config_errors():
    with pytest.raises(ConfigError, match=rf"^task._target_='{__name__}.BuggyTask' in the task config: "
                                          r"got an unexpected keyword argument 'width'; its parameters: seq_len, "
                                          r"symbols, name$"):
        build_task(task(width=3))
    with pytest.raises(ConfigError, match=r"^task.symbols=1: expected an integer >= 2 \(in the task config\)$"):
        build_task(task(symbols=1))  # the task's own TaskConfigError about a value
    with pytest.raises(ConfigError, match=rf"^task._target_='{__name__}.NoSuch' in the task config: "):
        build_task(OmegaConf.create({"_target_": f"{__name__}.NoSuch", "name": "x", "seq_len": 10}))
    with pytest.raises(ConfigError, match="missing a required argument: 'seq_len'"):
        construct("task", {"_target_": f"{__name__}.BuggyTask", "name": "x"}, config_errors=(TaskConfigError,))


def test_a_bug_in_a_custom_cell_is_not_called_a_config_error():
    spec = {"_target_": f"{__name__}.BuggyCell", "name": "buggy", "layers": 1}
    with pytest.raises(ComponentBug, match=r"building it raised KeyError: 'weights'; a bug in "
                                           rf"{__name__}.BuggyCell, not in the config") as caught:
        custom_cell(spec, input_size=3, hidden=4)
    assert isinstance(caught.value.__cause__, KeyError)
    with pytest.raises(ConfigError, match="unexpected keyword argument 'leek'"):
        custom_cell({**spec, "leek": 0.3}, input_size=3, hidden=4)
