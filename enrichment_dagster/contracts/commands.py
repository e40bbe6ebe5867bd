"""``enrichment data-dictionary``: write the generated silver_ai data dictionary."""

from __future__ import annotations

import argparse
from pathlib import Path

from enrichment_dagster.contracts.dictionary import render_dictionary


def _run(args: argparse.Namespace) -> int:
    text = render_dictionary()
    if args.out == "-":
        print(text, end="")
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data-dictionary", help="write the silver_ai data dictionary")
    parser.add_argument("--out", default="docs/data_dictionary.md", help="file to write, or -")
    parser.set_defaults(handler=_run)
