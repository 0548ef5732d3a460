"""python -m suite.summary: summarise a past sweep from MLflow (no training), and optionally put
the summary into the README between its markers."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from suite.summary.store import SummaryError, summarise_store

README_START, README_END = "<!-- summary:start -->", "<!-- summary:end -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite.summary",
                                     description="Summarise a past sweep from MLflow (no training).")
    parser.add_argument("--parent-run-id", help="summarise the child runs of this run")
    parser.add_argument("--experiment", help="summarise every run of this experiment")
    parser.add_argument("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, else the project's mlflow.db)")
    parser.add_argument("--out", default="summary", help="folder for the files (default: ./summary)")
    parser.add_argument("--readme", help="also replace the block between the summary markers of this Markdown "
                                         "file with the printed summary and a link to the plot")
    args = parser.parse_args(argv)
    if not (args.parent_run_id or args.experiment):
        parser.error("give --parent-run-id or --experiment")
    from suite.tracking.store import tracking_uri

    uri = tracking_uri(args.tracking_uri)
    try:
        _, text = summarise_store(uri, args.experiment, args.parent_run_id, out_dir=args.out)
    except SummaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"files written to {Path(args.out).resolve()}")
    if args.readme:
        embed_in_readme(Path(args.readme), text, Path(args.out) / "success.png")
        print(f"summary embedded in {args.readme}")
    return 0


def embed_in_readme(readme: Path, text: str, plot: Path) -> None:
    """Put the summary, exactly as printed, between the markers, so the README never shows numbers
    typed by hand."""
    doc = readme.read_text(encoding="utf-8")
    if README_START not in doc or README_END not in doc:
        raise SummaryError(f"{readme}: no {README_START} ... {README_END} block to replace")
    head, rest = doc.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    link = Path(os.path.relpath(plot.resolve(), readme.resolve().parent)).as_posix()
    block = f"{README_START}\n```text\n{text.rstrip()}\n```\n\n![success rate against lag]({link})\n{README_END}"
    readme.write_text(head + block + tail, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
