"""``enrichment report --from DAY --to DAY --out report.html``: the offline Gold report."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from exc


def _run_report(args: argparse.Namespace) -> int:
    from enrichment_dagster.gold.report import build_report
    from enrichment_dagster.storage.filesystem import StorageRoot

    if args.last < args.first:
        print(f"report: --to {args.last} is before --from {args.first}", file=sys.stderr)
        return 2
    root = StorageRoot(args.storage) if args.storage else StorageRoot.from_env()
    html = build_report(root, args.first, args.last)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    print(out.resolve())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the Gold report (skills, salary, remote and visa shares) as one HTML page",
        description=(
            "Read the Gold partitions of the days --from..--to and write one self-contained "
            "HTML page (inline SVG charts and tables, nothing loaded from the network)."
        ),
    )
    parser.add_argument("--from", dest="first", type=_day, required=True, help="first day")
    parser.add_argument("--to", dest="last", type=_day, required=True, help="last day")
    parser.add_argument("--out", default="report.html", help="output file (default report.html)")
    parser.add_argument("--storage", help="storage root (default: $ENRICHMENT_STORAGE_URI or ./data)")
    parser.set_defaults(handler=_run_report)
