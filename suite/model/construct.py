"""A task or a cell built from its `_target_`, telling a mistake in the config from a bug in the class.

A config's mistakes (a `_target_` that does not import, a knob the class does not take, a value
the class rejects with its own config error) are one line naming the key and the value: the user
fixes the YAML. Anything else the constructor raises is a bug in that class, not in the config:
it is raised as ComponentBug, chained to the original exception, so the traceback shows where it
came from and the one line says whose bug it is.
"""
from __future__ import annotations

import inspect

from hydra.errors import InstantiationException
from hydra.utils import instantiate

from suite.errors import ComponentBug, ConfigError
from suite.sweeping.hydra_internals import locate

HYDRA_KEYS = ("_target_", "_recursive_", "_convert_", "_partial_", "_args_")


def construct(key: str, spec: dict, where: str = "", config_errors: tuple[type[BaseException], ...] = (), **extra):
    """`instantiate(spec, **extra)`, its errors sorted: ConfigError for the config's, ComponentBug for the class's.

    key names the config node in messages ('task', 'cell'); where says which file (' in task/x.yaml').
    """
    target = spec["_target_"]
    prefix = f"{key}._target_={target!r}{where}"
    try:
        cls = locate(target)
    except (ImportError, ValueError) as exc:
        raise ConfigError(f"{prefix}: {one_reason(exc)}") from None
    kwargs = {k: v for k, v in spec.items() if k not in HYDRA_KEYS} | extra
    if callable(cls):
        try:
            inspect.signature(cls).bind(**kwargs)
        except TypeError as exc:  # a knob the class does not take, or one it needs and was not given
            raise ConfigError(f"{prefix}: {exc}; its parameters: {parameters(cls)}") from None
        except ValueError:  # no signature to check (a builtin): instantiate will say
            pass
    try:
        return instantiate(spec, **extra)
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, (ConfigError, *config_errors)):  # the class's own word on a bad value
            raise ConfigError(f"{cause} ({where.strip()})" if where else str(cause)) from None
        name = f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', target)}"
        raise ComponentBug(f"{prefix}: building it raised {type(cause).__name__}: {one_reason(cause)}; a bug in "
                           f"{name}, not in the config (its traceback is above)") from cause


def one_reason(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def parameters(cls) -> str:
    try:
        return ", ".join(p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")) or "none"
    except (TypeError, ValueError):
        return "unknown"
