"""Compose many `python run.py ...` commands with `--cfg job`, in one process: what the docs' commands would
train, checked without training (tests/test_docs.py).

    python tests/cfg_job.py OUT.json < commands.json    # [[arg, ...], ...] -> OUT.json: [{"argv", "status", "error"}, ...]

Each command goes through run.py's own entry point (suite.cli.main) with `--cfg job` appended, so Hydra
parses its overrides, composes its config groups (presets, launchers, sweepers) and checks the values'
types against the schema. `--cfg` and `-m` cannot go together, so a sweep is composed job by job: without
-m, once for each value of its longest list, every other list at the same position (its last value once
past its end); a range (`seed=range(0,30)`) counts as its first and last values. One process for all
commands: Hydra's start-up once, not once per command.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TAKES_A_VALUE = {"--cfg", "-c", "--package", "-p"}


def jobs(args: list[str]) -> list[list[str]]:
    """run.py's arguments for each job of the command to compose, with `--cfg job` appended."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    flags, overrides, i = [], [], 0
    while i < len(args):
        if args[i] in ("-m", "--multirun"):
            pass
        elif args[i] in TAKES_A_VALUE:
            flags += args[i : i + 2]
            i += 1
        elif args[i].startswith("-"):
            flags.append(args[i])
        else:
            overrides.append(args[i])
        i += 1
    if "-m" in args or "--multirun" in args:  # `-m` sweeping nothing is the default sweep (suite/cli.py)
        from suite.cli import DEFAULT_SWEEP, with_default_sweep

        if DEFAULT_SWEEP in with_default_sweep(["-m", *overrides]):
            overrides = [*overrides, DEFAULT_SWEEP]
    if not {"--cfg", "-c"} & set(flags):
        flags += ["--cfg", "job"]
    choices = []
    for text, override in zip(overrides, OverridesParser.create().parse_overrides(overrides)):
        if override.is_sweep_override():
            values = list(override.sweep_string_iterator())
            values = values if len(values) <= 3 else [values[0], values[-1]]
            choices.append([f"{override.get_key_element()}={v}" for v in values])
        else:
            choices.append([text])
    width = max((len(c) for c in choices), default=1)
    return [[c[min(k, len(c) - 1)] for c in choices] + flags for k in range(width)]


def compose(argv: list[str]) -> dict:
    """One `run.py ARGV` through suite.cli.main: its exit status and what it said on stderr."""
    from hydra.core.global_hydra import GlobalHydra

    from suite import cli

    sys.argv = ["run.py", *argv]
    environ = dict(os.environ)  # suite.cli.main sets HYDRA_FULL_ERROR for itself: each command starts afresh
    out, err, status = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # noqa: BLE001  (reported, with the command, by the test)
        status, err = 1, io.StringIO(f"{type(exc).__name__}: {exc}")
    finally:
        GlobalHydra.instance().clear()
        os.environ.clear()
        os.environ.update(environ)
    if status == 0 and not out.getvalue().strip():
        status, err = 1, io.StringIO("printed no config")
    return {"argv": argv, "status": status, "error": err.getvalue().strip()[-2000:]}


def main() -> None:
    out, commands = sys.argv[1], json.load(sys.stdin)
    results = [compose(argv) for args in commands for argv in jobs(args)]
    Path(out).write_text(json.dumps(results))  # a file: Hydra and the libraries may print too


if __name__ == "__main__":
    main()
