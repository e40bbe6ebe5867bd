"""``enrichment data-dictionary``: write the generated silver_ai data dictionary."""

from __future__ import annotations

import argparse

from enrichment_dagster.cli_args import output_file, write_output
from enrichment_dagster.contracts.dictionary import render_dictionary


def _run(args: argparse.Namespace) -> int:
    text = render_dictionary()
    if str(args.out) == "-":
        print(text, end="")
    else:
        write_output(args.out, text)
        print(f"wrote {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data-dictionary", help="write the silver_ai data dictionary")
    parser.add_argument(
        "--out", type=output_file, default="docs/data_dictionary.md", help="file to write, or -"
    )
    parser.set_defaults(handler=_run)
