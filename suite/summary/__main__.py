"""python -m suite.summary: summarise a past sweep from MLflow (no training), and optionally put
the summary into a docs page between its markers (the result blocks live in docs/results.md)."""
from __future__ import annotations

import argparse
import os
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
                             "of this Markdown file (docs/results.md) with the printed summary and a link to the plot")
    parser.add_argument("--block", default="summary",
                        help="the block's name: summary (the default sweep's) or horizon (default: summary)")
    parser.add_argument("--section", metavar="HEADING",
                        help="with --into: embed only the summary's section whose heading starts with this "
                             "(Leaderboard: the README's table), not the whole summary")
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
        # the leaderboard where the sweep matched sizes, the horizon figure where it tried several, else success
        plot = next(p for p in (Path(args.out) / name for name in ("leaderboard.png", "horizons.png", "success.png"))
                     if p.exists())
        try:
            shown = section_of(text, args.section) if args.section else text
            embed_in_page(Path(args.into), shown, plot, args.block)
        except SummaryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"summary embedded in {args.into}")
    return 0


def section_of(text: str, heading: str) -> str:
    """The printed summary's section whose heading ('-- Leaderboard (...)') starts with `heading`, up to the next."""
    lines, kept = text.splitlines(), None
    for i, line in enumerate(lines):
        if line.startswith(("-- ", "== ")):
            if kept is not None:
                return "\n".join(lines[kept:i]).strip() + "\n"
            if line[3:].startswith(heading):
                kept = i
    if kept is None:
        raise SummaryError(f"the summary has no section headed {heading!r}")
    return "\n".join(lines[kept:]).strip() + "\n"


def embed_in_page(page: Path, text: str, plot: Path, block: str = "summary") -> None:
    """Put the summary, exactly as printed, between the block's markers, so the docs never show
    numbers typed by hand. The plot is linked relative to the page, as MkDocs and a forge both resolve it."""
    start, end = markers(block)
    doc = page.read_text(encoding="utf-8")
    if start not in doc or end not in doc:
        raise SummaryError(f"{page}: no {start} ... {end} block to replace")
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    link = Path(os.path.relpath(plot.resolve(), page.resolve().parent)).as_posix()
    what = {"leaderboard.png": "horizons ranked at matched weights",
            "horizons.png": "horizon against hidden size"}.get(plot.name, "success rate against lag")
    block = f"{start}\n```text\n{text.rstrip()}\n```\n\n![{what}]({link})\n{end}"
    page.write_text(head + block + tail, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
