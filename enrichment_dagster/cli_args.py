"""Argument types and output writing shared by the ``enrichment`` commands.

Why: every argument that names a path or a number is checked when the command line is
parsed, so a bad one is a one-line usage error naming the argument (exit 2), never a
traceback from deep inside a report. The types raise ``argparse.ArgumentTypeError``; the
parser in :mod:`enrichment_dagster.cli` prints it on one line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from enrichment_dagster.errors import InputError


def _path(value: str) -> Path:
    if not value or "\x00" in value:
        raise argparse.ArgumentTypeError(f"not a usable path: {value!r}")
    return Path(value).expanduser()


def existing_folder(value: str) -> Path:
    path = _path(value)
    if not path.is_dir():
        what = "a file, not a folder" if path.exists() else "no such folder"
        raise argparse.ArgumentTypeError(f"{value!r}: {what}")
    return path


def existing_file(value: str) -> Path:
    path = _path(value)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise argparse.ArgumentTypeError(f"{value!r}: {what}")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{value!r}: not readable")
    return path


def existing_path(value: str) -> Path:
    """A file or a folder that exists."""
    path = _path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value!r}: no such file or folder")
    return path


def storage_root(value: str) -> str:
    """A storage root as ``ENRICHMENT_STORAGE_URI`` takes it: ``s3://bucket/prefix`` or a
    local folder, which must exist (a typo must not read as an empty store)."""
    from enrichment_dagster import env

    try:
        uri = env.check_storage_uri(value, "storage root")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not uri.startswith("s3://"):
        existing_folder(uri[len("file://"):] if uri.startswith("file://") else uri)
    return uri


def partition_key(value: str) -> str:
    """An hourly partition key, ``YYYY-MM-DD-HH:00`` (UTC), as Dagster names them."""
    from enrichment_dagster.storage.partition_keys import parse_partition_key

    try:
        parse_partition_key(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def output_file(value: str) -> Path:
    """A file to write: ``-`` (stdout) or a path that is not a folder.

    Missing parent folders are fine: :func:`write_output` creates them, as users expect.
    """
    if value == "-":
        return Path("-")
    path = _path(value)
    if path.is_dir() or value.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{value!r} is a folder; give a file name")
    return path


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, creating its parent folders; InputError naming it on failure."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
