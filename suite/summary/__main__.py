"""python -m suite.summary: summarise a past sweep from MLflow (no training), and optionally put
the summary into a docs page between its markers (the result blocks live in docs/results.md)."""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from suite.summary.from_store import SummaryError, summarise_store


def markers(block: str) -> tuple[str, str]:
    return f"<!-- {block}:start -->", f"<!-- {block}:end -->"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m suite.summary",
                                     description="Summarise a past sweep from MLflow (no training).")
    parser.add_argument("--parent-run-id", help="summarise the child runs of this run")
    parser.add_argument("--experiment", help="summarise every run of this experiment")
    parser.add_argument("--runs", metavar="CSV",
                        help="summarise the runs of a summary's runs.csv (docs/<sweep>/runs.csv) instead of a store: "
                             "the same verdicts, tables and fits; the learning curves and gradient profiles, which "
                             "only the store holds, are kept from the store's summary")
    parser.add_argument("--tracking-uri", help="MLflow URI (default: $MLFLOW_TRACKING_URI, else the project's mlflow.db)")
    parser.add_argument("--out", default="summary", help="folder for the files (default: ./summary)")
    # --readme: the flag's name from when the result blocks lived in the README; kept so older commands still work
    parser.add_argument("--into", "--readme", dest="into", metavar="FILE",
                        help="also replace the block between the markers <!-- BLOCK:start --> and <!-- BLOCK:end --> "
                             "of this Markdown file (docs/results.md) with the summary's Markdown (summary.md), its "
                             "figures inline")
    parser.add_argument("--block", default="summary",
                        help="the block's name: summary (the default sweep's) or horizon in docs/results.md, leaderboard in "
                             "the README (default: summary)")
    parser.add_argument("--section", metavar="HEADING",
                        help="with --into: embed only the summary's section whose heading starts with this "
                             "(Verdicts: the verdicts and their figure; Leaderboard: the README's board), not the "
                             "whole summary")
    parser.add_argument("--allow-partial", action="store_true",
                        help="summarise what can be read when some of the sweep's runs cannot be (the summary's "
                             "first line says what is left out); without it that is an error")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if sum(map(bool, (args.parent_run_id or args.experiment, args.runs))) != 1:
        parser.error("give --parent-run-id or --experiment (a store), or --runs (a runs.csv)")
    try:
        if args.runs:
            from suite.summary.from_csv import summarise_csv

            _, text = summarise_csv(args.runs, out_dir=args.out)
        else:
            from suite.tracking.store import tracking_uri

            _, text = summarise_store(tracking_uri(args.tracking_uri), args.experiment, args.parent_run_id,
                                      out_dir=args.out, allow_partial=args.allow_partial)
    except SummaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(text)
    print(f"files written to {Path(args.out).resolve()}")
    if args.into:
        try:
            markdown = (Path(args.out) / "summary.md").read_text(encoding="utf-8")
            # a section without its own heading: the page's heading above the block introduces it
            shown = section_of(markdown, args.section).split("\n", 1)[1] if args.section else markdown
            embed_in_page(Path(args.into), shown, Path(args.out), args.block)
        except SummaryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"summary embedded in {args.into}")
    return 0


HEADING = re.compile(r"^(#{1,6}) (.*)$")
FIGURE = re.compile(r"!\[([^\]]*)\]\(([^)/]+)\)")


def section_of(markdown: str, heading: str) -> str:
    """The summary's section whose heading ('## Leaderboard') starts with `heading`, its subsections included, up
    to the next heading of its level or above."""
    lines, kept, level = markdown.splitlines(), None, 0
    for i, line in enumerate(lines):
        found = HEADING.match(line)
        if not found:
            continue
        if kept is not None and len(found[1]) <= level:
            return "\n".join(lines[kept:i]).strip() + "\n"
        if kept is None and found[2].startswith(heading):
            kept, level = i, len(found[1])
    if kept is None:
        raise SummaryError(f"the summary has no section headed {heading!r}")
    return "\n".join(lines[kept:]).strip() + "\n"


def embed_in_page(page: Path, markdown: str, folder: Path, block: str = "summary") -> None:
    """Put the summary's Markdown, as written, between the block's markers, so the docs never show numbers typed by
    hand: its headings one level below the page's heading above the block, its figures (files of `folder`) linked
    relative to the page, as MkDocs and a forge both resolve them."""
    start, end = markers(block)
    doc = page.read_text(encoding="utf-8")
    if start not in doc or end not in doc:
        raise SummaryError(f"{page}: no {start} ... {end} block to replace")
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    above = [len(m[1]) for m in map(HEADING.match, head.splitlines()) if m]
    top = [len(m[1]) for m in map(HEADING.match, markdown.splitlines()) if m]
    shift = (above[-1] + 1 - top[0]) if above and top else 0
    relink = Path(os.path.relpath(folder.resolve(), page.resolve().parent)).as_posix()
    lines = [("#" * shift + line) if shift > 0 and HEADING.match(line) else line for line in markdown.splitlines()]
    body = FIGURE.sub(lambda m: f"![{m[1]}]({relink}/{m[2]})", "\n".join(lines).strip())
    page.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
