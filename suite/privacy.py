"""What never leaves this machine in a run's params and tags: secrets and home paths.

A tracking server is often shared, and the MLflow UI shows every param and tag to
everyone who can reach it. The suite logs the resolved config, the sweep's command-line
overrides and its output folder; any of them can hold a password inside a URI
(`http://user:pass@host`), the value of a secret environment variable, or a path that
names the user's home folder. `redact` masks all three before a value is sent.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

MASK = "***"
# Environment variables whose values are secrets (MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_TOKEN,
# AWS_SECRET_ACCESS_KEY, DATABRICKS_TOKEN, ...).
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_KEY|ACCESS_KEY|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)
# scheme://user:password@host -> scheme://***@host
URI_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text ("1", "true")


def secret_values() -> list[str]:
    """The values of secret-looking environment variables, longest first."""
    for _ in range(5):
        try:  # another thread (MLflow's telemetry) may change the environment while we read it
            environment = dict(os.environ)
            break
        except (KeyError, RuntimeError):
            continue
    else:
        environment = {}
    values = {v for k, v in environment.items() if SECRET_NAME.search(k) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def home_folders() -> list[str]:
    """This user's home folder, as $HOME says and as the password database says (they can differ)."""
    homes = {os.environ.get("HOME", ""), str(Path("~").expanduser())}
    try:
        import pwd

        homes.add(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError):  # not on a POSIX system, or an unnamed uid in a container
        pass
    # A bare "/" home (some containers) would turn every absolute path into "~/..."
    return sorted((h.rstrip("/") for h in homes if h and h.rstrip("/")), key=len, reverse=True)


def redact(value: object, secrets: list[str] | None = None, homes: list[str] | None = None) -> str:
    """The value as a string, with secrets masked and the home folder written as `~`."""
    text = URI_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", str(value))
    for secret in secret_values() if secrets is None else secrets:
        text = text.replace(secret, MASK)
    for home in home_folders() if homes is None else homes:
        text = re.sub(re.escape(home) + r"(?=/|$|\s|'|\")", "~", text)
    return text


def redact_all(values: dict[str, object]) -> dict[str, str]:
    secrets, homes = secret_values(), home_folders()
    return {key: redact(value, secrets, homes) for key, value in values.items()}
