"""Check or regenerate the golden numerics.

    python -m suite.reuse.golden            # retrain every golden run; exit 1 naming each number that moved
    python -m suite.reuse.golden --write    # regenerate suite/reuse/golden/numerics.json after a change meant to move numbers:
                                      # the runs that moved get their version bumped (stored runs of their cell
                                      # or task are then retrained on resume); say so in the commit
"""
from __future__ import annotations

import argparse
import json
import sys

from suite.reuse.golden import GOLDEN_FILE, committed
from suite.reuse.golden.runs import golden_runs, moved, train_golden


def regenerate() -> list[str]:
    """Write the file anew; the names of the runs whose numbers moved (new ones included)."""
    stored = committed() if GOLDEN_FILE.exists() else {}
    runs, changed = {}, []
    for name, spec in golden_runs().items():
        numbers = train_golden(spec["overrides"])
        before = stored.get(name)
        if before is not None and not moved(before["numbers"], numbers):
            runs[name] = before  # unchanged: the committed numbers and version stay, byte for byte
            continue
        changed.append(name)
        runs[name] = {"cell": spec["cell"], "task": spec["task"],
                      "version": before["version"] + 1 if before else 1, "numbers": numbers}
    GOLDEN_FILE.write_text(json.dumps({"runs": runs}, indent=1, sort_keys=True) + "\n")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suite.reuse.golden", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate numerics.json, bumping moved runs' versions")
    args = parser.parse_args(argv)
    if args.write:
        changed = regenerate()
        print(f"{GOLDEN_FILE}: {len(changed)} golden run(s) new or moved" + (f": {', '.join(changed)}" if changed else ""))
        return 0
    from suite.reuse.golden.runs import check

    moved_runs = check()
    for name, lines in moved_runs.items():
        print(f"golden run {name}: " + "; ".join(lines[:5]) + (f"; ... ({len(lines)} in all)" if len(lines) > 5 else ""))
    print("golden numerics: " + (f"{len(moved_runs)} run(s) moved" if moved_runs else "every number as committed"))
    return 1 if moved_runs else 0


if __name__ == "__main__":
    sys.exit(main())
