"""The task contract: what the suite needs to know about a long-memory task.

A task is a generator of (input, target) sequences plus everything needed to
judge a model on it: the loss, task-aware metrics, the loss of the best
*memoryless* predictor (the baseline a model that remembers nothing reaches)
and a "solved" criterion. The suite talks to tasks only through this class.
"""
from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Lag:
    """The distance the task's information must travel, in time steps: the index of the output
    that needs it minus the index of the input that holds it, over the task's sampler (smallest,
    mean, largest). `seq_len` is the input length; this is what a horizon is stated in, so that
    horizons compare across tasks."""

    min: float
    mean: float
    max: float


class TaskConfigError(ValueError):
    """A task knob has a bad value. The message names the key and the value."""


def check_int(name: str, value, minimum: int, why: str = "") -> int:
    """Validate an integer task knob, with a message naming `task.<name>`; `why` says where a minimum that
    other knobs set comes from."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        reason = f" ({why})" if why else ""
        raise TaskConfigError(f"task.{name}={value!r}: expected an integer >= {minimum}{reason}")
    return value


def check_at_most(name: str, value: int, limit: int, why: str) -> int:
    """An integer knob (already checked by check_int) that other knobs bound from above; `why` says which
    and why, e.g. "the 4 data tokens need distinct positions among task.seq_len=3"."""
    if value > limit:
        raise TaskConfigError(f"task.{name}={value!r}: expected at most {limit} ({why})")
    return value


def check_fraction(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise TaskConfigError(f"task.{name}={value!r}: expected a number in (0, 1]")
    return float(value)


class Task(ABC):
    """Base class of every task.

    Subclasses set the class attributes below and implement `sample`, `loss`,
    `metrics` and `baseline_loss`.
    """

    name: str = "task"
    #: "every": the model's output at every step is scored; "last": only the final step.
    loss_at: str = "last"
    #: the metric the solved criterion and the summary use, and which way is better.
    metric: str = "accuracy"
    higher_is_better: bool = True
    #: the time step holding what must be remembered (diagnostics report the gradient there)
    remember_at: int = 0

    def __init__(self, seq_len: int, solve_threshold: float, name: str | None = None):
        if name is not None:
            self.name = name  # a config variant (e.g. memory_k16) keeps its own name and data stream
        #: the time lag the network has to bridge (T in the literature).
        self.seq_len = check_int("seq_len", seq_len, 1)
        self.solve_threshold = float(solve_threshold)

    # -- sizes -----------------------------------------------------------------
    @property
    @abstractmethod
    def input_size(self) -> int: ...

    @property
    @abstractmethod
    def output_size(self) -> int: ...

    @property
    @abstractmethod
    def length(self) -> int:
        """Number of time steps in one input sequence."""

    # -- data ------------------------------------------------------------------
    def generator(self, split: str, seed: int, device: torch.device | str = "cpu") -> torch.Generator:
        """A torch.Generator that depends only on (task name, split, seed).

        Every cell trained with the same seed therefore sees the same sequences,
        and the evaluation set never overlaps the training stream's seed.
        """
        if split not in SPLITS:
            raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
        key = f"{self.name}/{split}/{seed}".encode()
        gen = torch.Generator(device=device)
        gen.manual_seed(zlib.crc32(key))
        return gen

    @abstractmethod
    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw `batch` sequences on the generator's device.

        Returns the input, float (batch, length, input_size), and the target:
        shaped for `loss` (class indices for classification, values for regression).
        """

    # -- scoring ---------------------------------------------------------------
    @abstractmethod
    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar training loss. `output` is (batch, length, output_size) when
        `loss_at == "every"`, else (batch, output_size) for the last step."""

    @abstractmethod
    def metrics(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Task-aware metrics (0-d tensors), including `self.metric`."""

    @property
    @abstractmethod
    def baseline_loss(self) -> float:
        """Expected loss of the best *memoryless* predictor, exactly (not a bound, not a limit for large T).

        Memoryless, in this suite: at each scored output the predictor sees the current input and knows
        the time step, but remembers no earlier input. A clock is not memory of content: knowing t costs
        a network little (it can count), and neither does using what it sees now. A baseline that ignored
        either would be beaten by a model that remembers nothing (copy: "blank" where the layout says so;
        adding: the value under a marker on the last step), and loss below it would not show memory.
        Each task derives its value in its docstring; tests/test_tasks.py fits this predictor (a table of
        (t, current input) -> prediction) on sampled sequences and checks the formula against its loss."""

    @property
    def lag(self) -> Lag | None:
        """The distance the information must travel (see Lag); None: the task does not say, and its
        horizons are stated in seq_len alone."""
        return None

    def memory_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The part of the loss that depends on the information at `remember_at` (what the gradient
        diagnostics differentiate). The whole loss for a task scored at the last step; a task scored at
        every step keeps only the outputs that need the remembered information."""
        return self.loss(output, target)

    def solved(self, metrics: dict[str, float]) -> bool:
        value = metrics[self.metric]
        if self.higher_is_better:
            return value >= self.solve_threshold
        return value < self.solve_threshold


class LastStepClassification(Task):
    """A task that asks for one class at the last step: cross-entropy, accuracy, chance 1/classes."""

    loss_at = "last"
    metric = "accuracy"

    def loss(self, output, target):
        return torch.nn.functional.cross_entropy(output, target)

    def metrics(self, output, target):
        return {"loss": self.loss(output, target), "accuracy": (output.argmax(-1) == target).float().mean()}

    @property
    def baseline_loss(self) -> float:
        # A uniform guess, exactly when the last input (all a memoryless predictor sees) is independent of
        # the label and the labels are uniform: true of memory and temporal order (their docstrings say why);
        # a subclass whose last input tells something about the label must override this.
        return uniform_ce(self.output_size)


def recall_metrics(loss: torch.Tensor, scored: torch.Tensor, target: torch.Tensor,
                   per_sequence: bool = True) -> dict[str, torch.Tensor]:
    """The metrics of a task that asks for symbols at some positions: `scored` the outputs there
    (batch, positions, classes), `target` the symbols asked for (batch, positions). recall_accuracy: the
    fraction recalled; sequence_accuracy (with `per_sequence`): the fraction of sequences with all right."""
    recalled = scored.argmax(-1) == target
    metrics = {"loss": loss, "recall_accuracy": recalled.float().mean()}
    if per_sequence:
        metrics["sequence_accuracy"] = recalled.all(dim=1).float().mean()
    return metrics


def one_hot(symbols: torch.Tensor, size: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(symbols, size).to(torch.get_default_dtype())  # float64 in the golden runs


def uniform_ce(k: int) -> float:
    """Cross-entropy of a uniform guess over k classes."""
    return math.log(k)
