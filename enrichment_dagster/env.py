"""The one place ``ENRICHMENT_*`` environment variables are parsed.

Why one place: each variable used to be read with a bare ``int()``/``float()`` where it was
needed, so ``ENRICHMENT_BUDGET_USD=abc`` failed with ``could not convert string to float:
'abc'``, naming neither the variable nor where to fix it. Every reader here raises
:class:`~enrichment_dagster.errors.InputError` with the variable, the bad value and what is
expected. An unset or empty (whitespace-only) variable means "use the default".

No Dagster import: the core, the CLI and the Dagster definitions all read through here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from datetime import datetime

from enrichment_dagster.errors import InputError

STORAGE_URI_ENV = "ENRICHMENT_STORAGE_URI"
DEFAULT_STORAGE_URI = "./data"
PARTITIONS_START_ENV = "ENRICHMENT_PARTITIONS_START"
PARTITIONS_START_FORMAT = "%Y-%m-%d-%H:%M"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
#: Bucket names as S3 accepts them, legacy names included (upper case, underscores).
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def raw(name: str) -> str | None:
    """The variable's value, or None when it is unset or blank."""
    value = os.environ.get(name)
    return None if value is None or not value.strip() else value


def _bad(name: str, value: str, expected: str) -> InputError:
    return InputError(f"{name}={value!r} is invalid: expected {expected}")


def env_int(name: str, default: int | None, *, minimum: int | None = None) -> int | None:
    """An integer variable, at least ``minimum`` when one is given."""
    value = raw(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise _bad(name, value, "a whole number") from None
    if minimum is not None and number < minimum:
        raise _bad(name, value, f"a whole number >= {minimum}")
    return number


def env_float(name: str, default: float | None, *, positive: bool = False) -> float | None:
    """A finite number variable, greater than zero when ``positive``."""
    value = raw(name)
    if value is None:
        return default
    expected = "a number > 0" if positive else "a number"
    try:
        number = float(value.strip())
    except ValueError:
        raise _bad(name, value, expected) from None
    if not math.isfinite(number) or (positive and number <= 0):
        raise _bad(name, value, expected)
    return number


def env_flag(name: str, default: bool = False) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off, any case."""
    value = raw(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _bad(name, value, "one of 1/true/yes/on or 0/false/no/off")


def env_choice(name: str, default: str, choices: Iterable[str]) -> str:
    """A variable naming one of ``choices`` (compared case-insensitively, trimmed)."""
    value = raw(name)
    if value is None:
        return default
    options = sorted(choices)
    if value.strip().lower() not in options:
        raise _bad(name, value, "one of " + ", ".join(options))
    return value


def env_folder(name: str) -> str | None:
    """A variable naming an existing folder, or None when unset."""
    value = raw(name)
    if value is None:
        return None
    if _CONTROL_RE.search(value) or not os.path.isdir(os.path.expanduser(value)):
        raise _bad(name, value, "an existing folder")
    return value


def check_s3_uri(uri: str, what: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket[/prefix]``; InputError naming ``what`` otherwise.

    Refused: another scheme, an empty or malformed bucket, empty path segments (``a//b``,
    which S3 stores as a different key than ``a/b``) and control characters.
    """
    if not uri.startswith("s3://"):
        raise InputError(f"{what} {uri!r} is invalid: expected s3://bucket/prefix")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not _BUCKET_RE.match(bucket):
        shown = "empty" if not bucket else repr(bucket)
        raise InputError(f"{what} {uri!r} is invalid: the bucket name is {shown}; "
                         "expected s3://bucket/prefix")
    if _CONTROL_RE.search(prefix) or "//" in prefix or prefix.startswith("/"):
        raise InputError(f"{what} {uri!r} is invalid: the prefix has an empty segment or a "
                         "control character")
    return bucket, prefix.rstrip("/")


def check_storage_uri(uri: str, what: str) -> str:
    """A storage root: a local folder (optionally ``file://``) or ``s3://bucket/prefix``."""
    if uri.startswith("s3://"):
        check_s3_uri(uri, what)
        return uri
    local = uri[len("file://"):] if uri.startswith("file://") else uri
    if "://" in local:
        raise InputError(f"{what} {uri!r} is invalid: expected a local folder or s3://bucket/prefix")
    if _CONTROL_RE.search(local):
        raise InputError(f"{what} {uri!r} is invalid: the path has a control character")
    return uri


def storage_uri() -> str:
    """``ENRICHMENT_STORAGE_URI`` checked, or ``./data``."""
    value = raw(STORAGE_URI_ENV)
    if value is None:
        return DEFAULT_STORAGE_URI
    return check_storage_uri(value.strip(), STORAGE_URI_ENV)


def partitions_start(default: str) -> str:
    """``ENRICHMENT_PARTITIONS_START`` as ``YYYY-MM-DD-HH:MM`` (UTC), or ``default``."""
    value = raw(PARTITIONS_START_ENV)
    if value is None:
        return default
    try:
        datetime.strptime(value.strip(), PARTITIONS_START_FORMAT)
    except ValueError:
        raise _bad(PARTITIONS_START_ENV, value, "an hour as YYYY-MM-DD-HH:00, e.g. 2025-01-01-00:00") from None
    return value.strip()
