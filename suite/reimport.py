"""Send results that a lost tracking server never received: `python -m suite.reimport DIR...`.

DIR may be one run's output folder or a whole sweep folder; see suite/tracking/resend.py.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.errors import EXIT_CONFIG_ERROR, ConfigError
from suite.privacy import redact
from suite.tracking.resend import pending_records, reimport
from suite.tracking.store import check_reachable, tracking_uri, uri_source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite.reimport",
                                     description="Send results that a lost tracking server never received.")
    parser.add_argument("paths", nargs="+", type=Path, help="run output folders or sweep folders")
    parser.add_argument("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, else the project's mlflow.db)")
    args = parser.parse_args(argv)
    uri = tracking_uri(args.tracking_uri)
    try:
        check_reachable(uri, "--tracking-uri" if args.tracking_uri else uri_source(None))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    records = pending_records(args.paths)
    for record_path in records:
        run_id = reimport(record_path, uri)
        print(f"{record_path.parent}: sent to run {run_id}")
    print(f"{len(records)} run(s) re-imported into {redact(uri)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
