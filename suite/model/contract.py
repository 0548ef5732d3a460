"""What the suite asks of a recurrent module, checked in one tiny forward pass before anything trains.

The model's head, the training loop and the gradient diagnostics (suite/training/diagnostics.py) talk to a
cell only through torch's recurrent interface. A custom cell (`cell._target_`) that breaks it would
otherwise fail mid-run, inside the diagnostics, with a traceback far from its cause, or worse, train
and measure the wrong thing. So `check_contract` runs the cell once on a copy in float64 (the
diagnostics' precision), on a batch of 3 sequences of 5 steps, whole and then step by step passing its
state on, and checks, in this order:

  1. `forward(x, state)` takes the state as its second argument (the diagnostics call it so);
  2. it returns a pair (outputs, state);
  3. outputs are a tensor (batch, T, hidden);
  4. the state is a tensor or a tuple of tensors, each laid out as torch's, (layers, batch, ...);
  5. outputs and state are finite;
  6. it continues from the state it is given: step by step, passing the state on, gives the whole
     sequence's outputs;
  7. unless the class says `output_is_state = False`, the state's first part at the last layer is
     the output (the diagnostics differentiate the loss through it), at every step; if it says so,
     forward(x) starts from the zero state (the diagnostics then start it from zeros of their own);
  8. every part of the state is in the autograd graph (the diagnostics take the loss's gradient with
     respect to each).

A broken rule is a ConfigError, one line naming the cell and the rule. An exception raised by the
cell's own code is a ComponentBug chained to it, its traceback shown, as for a bug found while the
cell is built (suite/model/construct.py). Nothing of the caller's changes: the cell is deep-copied and torch's
global random state is restored, so a run trains the same with the check as without it.
"""
from __future__ import annotations

import copy
import inspect

import torch

from suite.model.construct import one_reason
from suite.errors import ComponentBug, ConfigError

BATCH, STEPS = 3, 5  # small, and unlike each other, the layer count and the hidden size: a swapped axis shows
RTOL, ATOL = 1e-6, 1e-9  # float64: a parallel scan and its step form agree to ~1e-15


def _parts(state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


def check_contract(module: torch.nn.Module, who: str, input_size: int, hidden: int, layers: int = 1) -> None:
    """Raise ConfigError naming `who` (e.g. "cell._target_='my_cells.MinGRU'") and the first rule
    `module` breaks; ComponentBug when its own code raises."""
    batch = BATCH if layers != BATCH else BATCH + 1
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(0)
        check = _Check(module, who, hidden, layers, batch)
        try:
            check.cell = copy.deepcopy(module).double().eval()
        except Exception as exc:
            raise check.bug("copy.deepcopy(cell).double() (as the diagnostics copy it)", exc) from exc
        check.run(torch.randn(batch, STEPS, input_size, dtype=torch.float64))


class _Check:
    def __init__(self, cell, who: str, hidden: int, layers: int, batch: int):
        self.cell, self.who, self.hidden, self.layers, self.batch = cell, who, hidden, layers, batch
        cls = type(cell)
        self.name = f"{cls.__module__}.{cls.__qualname__}"

    def fail(self, rule: str):
        raise ConfigError(f"{self.who}: {rule}")

    def bug(self, what: str, exc: Exception) -> ComponentBug:
        return ComponentBug(f"{self.who}: {what} raised {type(exc).__name__}: {one_reason(exc)}; a bug in "
                            f"{self.name}, not in the config (its traceback is above)")

    def call(self, what: str, *args):
        try:
            return self.cell(*args)
        except Exception as exc:
            raise self.bug(what, exc) from exc

    def run(self, x: torch.Tensor) -> None:
        try:
            inspect.signature(self.cell.forward).bind(x, None)
        except TypeError:
            self.fail("forward(x, state) must take the state as its second argument (torch's recurrent "
                      f"interface); forward{inspect.signature(self.cell.forward)} does not")
        except ValueError:  # no signature to read: calling it will tell
            pass
        whole, final = self.returns(self.call("forward(x) in float64 (as the diagnostics run it)", x), "forward(x)")
        self.check_outputs(whole, x.shape[1], "forward(x)")
        self.check_state(final, "forward(x)")
        self.check_finite(whole, final)
        state, outputs, tops = None, [], []
        for t in range(x.shape[1]):
            out, state = self.returns(self.call("forward(x, state) with the state it returned", x[:, t:t + 1], state),
                                      "forward(x, state)")
            self.check_outputs(out, 1, "forward(x, state)")
            self.check_state(state, "forward(x, state)")
            outputs.append(out)
            tops.append(_parts(state)[0][-1])
        steps = torch.cat(outputs, dim=1).detach()
        whole = whole.detach()
        if not torch.allclose(steps, whole, rtol=RTOL, atol=ATOL):
            first = int((~torch.isclose(steps, whole, rtol=RTOL, atol=ATOL)).any(dim=2).any(dim=0).nonzero()[0])
            self.fail(f"forward(x, state) ignored state: step-by-step outputs differ from the whole sequence "
                      f"(first at step {first + 1} of {x.shape[1]}, by {float((steps - whole).abs().max()):.3g}); "
                      "a cell must continue from the state it is given")
        if getattr(self.cell, "output_is_state", True):
            top = torch.stack(tops, dim=1)
            if top.shape != whole.shape or not torch.allclose(top, whole, rtol=RTOL, atol=ATOL):
                self.fail("the state's first part at the last layer is not the output (the diagnostics read h_t "
                          "there); if the outputs are not the state, set the class attribute output_is_state = False")
        else:  # the diagnostics start such a cell from zeros they can differentiate (suite/training/diagnostics.py)
            zeros = tuple(torch.zeros_like(p) for p in _parts(final))
            out, _ = self.returns(self.call("forward(x, zero state)", x, zeros if isinstance(final, tuple) else zeros[0]),
                                  "forward(x, state)")
            if not torch.allclose(out.detach(), whole, rtol=RTOL, atol=ATOL):
                self.fail("forward(x) must start from the zero state (output_is_state = False: the diagnostics "
                          "start the cell from zeros): forward(x, zeros) differs from forward(x)")
        for k, part in enumerate(_parts(state)):
            if not part.requires_grad:
                self.fail(f"state part {k} is not in the autograd graph (detached?): the gradient diagnostics "
                          "differentiate the loss with respect to every part of the state")

    def returns(self, result, call: str):
        if not (isinstance(result, tuple) and len(result) == 2):
            self.fail(f"{call} must return a pair (outputs, state), got {_describe(result)}")
        return result

    def check_outputs(self, out, steps: int, call: str) -> None:
        expected = (self.batch, steps, self.hidden)
        if not isinstance(out, torch.Tensor):
            self.fail(f"{call}'s outputs must be a tensor (batch, T, hidden), got {_describe(out)}")
        if tuple(out.shape) != expected:
            self.fail(f"{call}'s outputs must be (batch, T, hidden) = {expected} (batch first), got {tuple(out.shape)}")

    def check_state(self, state, call: str) -> None:
        if not (isinstance(state, torch.Tensor) or (isinstance(state, tuple) and state
                                                     and all(isinstance(p, torch.Tensor) for p in state))):
            self.fail(f"{call}'s state must be a tensor or a tuple of tensors, got {_describe(state)}")
        for k, part in enumerate(_parts(state)):
            if part.dim() < 2 or part.shape[0] != self.layers or part.shape[1] != self.batch:
                which = "state" if isinstance(state, torch.Tensor) else f"state part {k}"
                self.fail(f"{call}'s {which} must be laid out (layers, batch, ...) = ({self.layers}, {self.batch}, ...) "
                          f"as torch's, got {tuple(part.shape)}")

    def check_finite(self, out, state) -> None:
        for what, tensor in (("outputs", out), *((f"state part {k}", p) for k, p in enumerate(_parts(state)))):
            if not torch.isfinite(tensor).all():
                self.fail(f"forward(x) gave non-finite {what} (NaN or inf) on a random input at initialisation")


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}: ({', '.join(type(v).__name__ for v in value)})"
    return type(value).__name__
