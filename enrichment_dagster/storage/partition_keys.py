"""Hourly partition keys and their Hive-style folders: the one mapping, in plain Python.

Upstream Spark writes Silver as ``year=YYYY/month=MM/day=DD/hour=HH/`` in UTC; every asset
of ours writes the same layout so that Athena, DuckDB and Spark can read a whole table with
partition pruning. Dagster keys look like ``2025-12-10-19:00`` (the default ``fmt`` of
``HourlyPartitionsDefinition``); this module translates between the two. It imports no
Dagster, so the storage layer, the engine and the CLI can use it; the Dagster partitions
definition lives in :mod:`enrichment_dagster.partitions`.
"""

from __future__ import annotations

import re
from datetime import datetime

DEFAULT_PARTITIONS_START = "2025-12-01-00:00"
PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"

_KEY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2}):00$")
# Four consecutive Hive segments, anywhere in a path or URI; zero padding is optional.
_PATH_RE = re.compile(r"(?:^|/)year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})/hour=(\d{1,2})(?=/|$)")


def parse_partition_key(key: str) -> datetime:
    """The hour a partition key names; ``ValueError`` for anything but ``YYYY-MM-DD-HH:00``.

    Strict on purpose: a malformed key must never turn into a folder name on S3.
    """
    match = _KEY_RE.match(key) if isinstance(key, str) else None
    if match is None:
        raise ValueError(f"not an hourly partition key (expected YYYY-MM-DD-HH:00): {key!r}")
    try:
        return datetime(*(int(part) for part in match.groups()))
    except ValueError as exc:
        raise ValueError(f"not a valid hour: {key!r} ({exc})") from exc


def partition_key_to_path(key: str) -> str:
    """``2025-12-10-19:00`` → ``year=2025/month=12/day=10/hour=19`` (zero-padded, UTC)."""
    hour = parse_partition_key(key)
    return f"year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"


def path_to_partition_key(path: str) -> str | None:
    """The partition key of a path holding ``year=/month=/day=/hour=`` segments, else None.

    Accepts file paths, folder paths and ``s3://`` URIs, padded or not (``hour=9``), so a
    sensor can feed it whatever a listing returns. Impossible dates (``month=13``) give None
    rather than an exception: a stray folder must not stop a sensor.
    """
    match = _PATH_RE.search(path.replace("\\", "/"))
    if match is None:
        return None
    year, month, day, hour = (int(part) for part in match.groups())
    try:
        datetime(year, month, day, hour)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}-{hour:02d}:00"
