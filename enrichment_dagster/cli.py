"""The ``enrichment`` console script.

Each command lives beside the code it drives, in a ``commands`` module exposing
``register(subparsers)``; this file only assembles them, so adding a command never touches
another command's module.

Errors: :func:`main` is the one error boundary. A user's mistake, i.e. an
:class:`~enrichment_dagster.errors.InputError` (bad argument, file, ``ENRICHMENT_*`` value),
a :class:`~enrichment_dagster.llm.types.ConfigurationError`, or an ``OSError`` from a path the
user named, is printed as one line ``enrichment: <message naming the input>`` on stderr with
exit status 2; so are usage errors (the parser prints one line, not the usage block). Any
other exception is a bug and keeps its traceback (exit 1), so it can be reported and fixed
instead of being disguised as bad input.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from enrichment_dagster.errors import InputError
from enrichment_dagster.llm.types import ConfigurationError

#: Exit status of every user-input error, as argparse uses for usage errors.
EXIT_INPUT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line (``enrichment <command>: <problem> (see ... --help)``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        message = " ".join(message.split())
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")

COMMAND_MODULES: tuple[str, ...] = (
    "enrichment_dagster.contracts.commands",
    "enrichment_dagster.prompts.commands",
    "enrichment_dagster.llm.commands",
    "enrichment_dagster.evaluation.commands",
    "enrichment_dagster.storage.commands",
    "enrichment_dagster.gold.commands",
    "enrichment_dagster.engine.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="enrichment", description="LLM enrichment of job-postings Silver data.")
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
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # usage error or --help: already printed; return the status
            return exc.code if isinstance(exc.code, int) else EXIT_INPUT_ERROR
        return int(args.handler(args) or 0)
    except (InputError, ConfigurationError) as exc:
        return _input_error(str(exc))
    except BrokenPipeError:
        # The reader of our stdout went away (``| head``): not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        return _input_error(_describe_os_error(exc))


def _describe_os_error(exc: OSError) -> str:
    """``'<path>': <reason>`` for an OSError about a path, its text otherwise."""
    if exc.filename is not None:
        target = f" -> {str(exc.filename2)!r}" if exc.filename2 is not None else ""
        return f"{str(exc.filename)!r}{target}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


def _input_error(message: str) -> int:
    print(f"enrichment: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_INPUT_ERROR


if __name__ == "__main__":
    sys.exit(main())
