"""The code that decides a run's result, fingerprinted, so a resumed sweep reuses a run only if
today's code would train it the same way.

The config hash (suite/record.py) says *what* was asked for; this says *which code* answered.
The fingerprint covers the modules a run executes that decide what it trains and what it measures:
the seeding and process-wide numeric settings and the wiring of the loop (suite/training/configured.py), the model's construction, the
training loop, the gradient diagnostics, the task's module and its bases, and the cell's module and
its bases (the explicit cells only for runs that use them; a family's knobs for a family's run), for
tasks and cells from outside this repository too; and the torch version. What only shows a run
(the progress bar, log lines, plots, the MLflow calls) lives in other modules and is not covered.

Why a hash of the code rather than a results version bumped by hand: nobody has to remember to
bump it, and a user's own task is covered as well as ours. Each module is hashed by its syntax
tree without docstrings (`ast.dump`), so a comment, a docstring or a re-wrapped line changes
nothing. A change that does alter the syntax tree but moves no number (a renamed variable, a
refactor) is told from one that moves numbers by the numbers themselves: suite/reuse/decide.py. Module
*names* are hashed, not file paths, so the same code gives the same fingerprint on every machine.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
from functools import cache

# What decides every run's result, besides its task's and its cell's own modules.
CORE_MODULES = ("suite.training.configured", "suite.model.components", "suite.model.recurrent", "suite.model.cells",
                "suite.model.chrono", "suite.training.loop", "suite.training.diagnostics", "suite.training.gradient_ratio",
                "tasks.base")
FAMILY_KNOBS_MODULE = "suite.families.knobs"  # a family's knobs and their defaults, read when its cell is built


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_hash(source: str) -> str:
    """8 hex digits of a module's syntax tree without docstrings: blind to comments and layout."""
    dumped = ast.dump(_without_docstrings(ast.parse(source)), include_attributes=False)
    return hashlib.sha256(dumped.encode()).hexdigest()[:8]


@cache
def module_hash(name: str) -> str:
    """The hash of an importable module's source ('' when it has none to read: a compiled module)."""
    try:
        return source_hash(inspect.getsource(importlib.import_module(name)))
    except (OSError, TypeError):
        return ""


def code_modules(task, model) -> dict[str, str]:
    """{module name: its hash} for every module that decides this run's result, and torch's version."""
    import torch

    # the classes' bases but object: a family's shared code (suite/families/scan.py) decides too
    cell = {cls.__module__ for cls in type(model.rnn).__mro__[:-1]}
    task_modules = {cls.__module__ for cls in type(task).__mro__[:-1]}
    if any(name.startswith("suite.families.") for name in cell):
        cell.add(FAMILY_KNOBS_MODULE)
    names = {*CORE_MODULES, *task_modules, *cell}
    # torch's own modules (nn.LSTM, ...) are covered by its version; the ABC base of every task is no code of ours
    names = {n for n in names if n.split(".")[0] not in ("torch", "abc", "builtins")}
    return {"torch": torch.__version__, **{name: module_hash(name) for name in sorted(names)}}


def code_hash(modules: dict[str, str]) -> str:
    """One fingerprint for code_modules' mapping: what resume matches on beside the config hash."""
    return hashlib.sha256(json.dumps(modules, sort_keys=True).encode()).hexdigest()[:16]


def modules_text(modules: dict[str, str]) -> str:
    """'suite.training.loop=1a2b3c4d tasks.memory=...' (a run's tag: what changed can be named later)."""
    return " ".join(f"{name}={value}" for name, value in sorted(modules.items()))


def parse_modules(text: str | None) -> dict[str, str]:
    return dict(part.split("=", 1) for part in (text or "").split() if "=" in part)


CODE_UNKNOWN = "code from before fingerprints"  # a run without the code tags


def changed_modules(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """The modules (and 'torch') whose code differs, sorted; every one of `now` when `before` is unknown."""
    return sorted(name for name in {*before, *now} if before.get(name) != now.get(name))
