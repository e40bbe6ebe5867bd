"""The ``enrichment`` console script.

Each command lives beside the code it drives, in a ``commands`` module exposing
``register(subparsers)``; this file only assembles them, so adding a command never touches
another command's module.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = (
    "enrichment_dagster.contracts.commands",
    "enrichment_dagster.prompts.commands",
    "enrichment_dagster.llm.commands",
    "enrichment_dagster.evaluation.commands",
    "enrichment_dagster.storage.commands",
    "enrichment_dagster.gold.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="enrichment", description="LLM enrichment of job-postings Silver data."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
