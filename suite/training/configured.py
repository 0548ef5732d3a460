"""A config turned into a run's numbers: the process's numeric settings, the seeded model, and the
training loop wired to the config's diagnostics and faults.

A job (suite/job.py), the golden runs (suite/reuse/golden) and the check that today's code reproduces a
stored run (suite/reuse/decide.py) all train through here, so they cannot drift apart. This module decides
results and is fingerprinted (suite/reuse/fingerprint.py); the MLflow calls around it are not.
"""
from __future__ import annotations

import time
from fnmatch import fnmatchcase

import torch
from omegaconf import DictConfig

from suite.model.components import build_task, model_for
from suite.training.diagnostics import GradientDiagnostics
from suite.training.loop import TrainResult, train
from tasks.base import Task


def set_up(threads: int | None) -> None:
    """torch's thread count (None: its own) and the float handling every run of the process shares."""
    if threads is not None:
        torch.set_num_threads(threads)
    # Tiny hidden activations and gradients become denormal floats, which x86 CPUs handle
    # in microcode: measured 2.6x slower for a tanh RNN at T=100 late in training.
    torch.set_flush_denormal(True)


def seeded_model(cfg: DictConfig, task: Task) -> torch.nn.Module:
    """The config's model for `task` (on the CPU), its weights drawn from torch's generator seeded with `cfg.seed`."""
    torch.manual_seed(cfg.seed)
    return model_for(cfg, task)


def build(cfg: DictConfig, device: torch.device) -> tuple[Task, torch.nn.Module]:
    """The config's task and its seeded model on `device`."""
    task = build_task(cfg.task)
    return task, seeded_model(cfg, task).to(device)


STALL_S = 0.05  # fault.kind=stall: seconds each step sleeps


def make_fault(fault_cfg, run_name: str):
    """A deliberate failure for exercising the divergence and crash paths.

    `fault.kind` applies to every run; `fault.runs` ({run-name glob: kind}) to chosen runs of a
    sweep, e.g. one crash and one divergence among many healthy jobs.
    """
    kind, at_step = fault_cfg.kind, fault_cfg.at_step
    for pattern, chosen in (fault_cfg.runs or {}).items():
        if fnmatchcase(run_name, pattern):
            kind = chosen
    if kind is None:
        return None

    def fault(step: int, loss: torch.Tensor) -> torch.Tensor:
        if step < at_step:
            return loss
        if kind == "error":
            raise RuntimeError(f"injected fault at step {step} (fault.kind=error)")
        if kind == "stall":  # slow, not wrong: the numbers are those of a run without the fault
            time.sleep(STALL_S)
            return loss
        return loss * float("nan")

    return fault


def train_configured(cfg: DictConfig, task: Task, model: torch.nn.Module, device: torch.device, log,
                     progress=None) -> tuple[TrainResult, GradientDiagnostics | None]:
    """Train `model` (fresh from `build`) as the config says; `log(step, metrics)` at each evaluation."""
    diagnostics = (GradientDiagnostics(model, task, cfg.seed, device, cfg.diagnostics.every, cfg.diagnostics.batch)
                   if cfg.diagnostics.every else None)
    trained = train(model, task, cfg.train, cfg.seed, device, log=log, fault=make_fault(cfg.fault, cfg.run_name),
                    diagnose=diagnostics, progress=progress)
    return trained, diagnostics
