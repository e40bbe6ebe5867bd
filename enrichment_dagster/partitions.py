"""Hourly partitions and the mapping between a partition key and its Hive-style folder.

Upstream Spark writes Silver as ``year=YYYY/month=MM/day=DD/hour=HH/`` in UTC; every asset
of ours writes the same layout so that Athena, DuckDB and Spark can read a whole table with
partition pruning. Dagster keys look like ``2025-12-10-19:00`` (the default ``fmt`` of
``HourlyPartitionsDefinition``); we keep that default because it is what the UI and the CLI
expect, and translate to the folder layout here, in one place.

Why UTC: with a local timezone the DST hour disappears from the keys and the folders would
no longer line up one to one with Spark's UTC ``hour=HH``.

Why ``end_offset=0``: only completed hours are partitions. Spark lands an hour after it has
ended, so the in-progress hour never has data to enrich.

Why Dagster is imported lazily: ``storage.parquet`` (used by the engine and the CLI, which
must not depend on Dagster) needs the key <-> path functions. ``hourly_partitions`` is
therefore built on first access (PEP 562 module ``__getattr__``) and then cached, so every
asset shares one definition object.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import HourlyPartitionsDefinition

    hourly_partitions: HourlyPartitionsDefinition

PARTITIONS_START_ENV = "ENRICHMENT_PARTITIONS_START"
DEFAULT_PARTITIONS_START = "2025-12-01-00:00"
PARTITION_KEY_FORMAT = "%Y-%m-%d-%H:%M"

_KEY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(\d{2}):00$")
# Four consecutive Hive segments, anywhere in a path or URI; zero padding is optional.
_PATH_RE = re.compile(r"(?:^|/)year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})/hour=(\d{1,2})(?=/|$)")


def build_hourly_partitions(start: str | None = None) -> HourlyPartitionsDefinition:
    """Hourly UTC partitions from ``start`` (default: env, then 2025-12-01-00:00).

    A function as well as the module constant so tests and tools can build a definition with
    another start without touching the environment of the process.
    """
    from dagster import HourlyPartitionsDefinition

    from enrichment_dagster import env

    start = start or env.partitions_start(DEFAULT_PARTITIONS_START)
    return HourlyPartitionsDefinition(start_date=start, timezone="UTC")


def __getattr__(name: str) -> Any:
    """Build ``hourly_partitions`` on first access (see the module docstring)."""
    if name == "hourly_partitions":
        value = build_hourly_partitions()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


PARTITIONS_PER_RUN_ENV = "ENRICHMENT_PARTITIONS_PER_RUN"
DEFAULT_PARTITIONS_PER_RUN = 24


def partitions_per_run() -> int:
    """How many hourly partitions one backfill run holds (default a day, 24).

    Why more than one: each run pays a fixed cost (launch, a process per step, imports)
    that dwarfed the enrichment itself at one partition per run, and the
    ``dagster/backfill`` run limit caps how many of those run at once. Within a run every
    record of every partition goes through one engine pool.
    """
    raw = os.environ.get(PARTITIONS_PER_RUN_ENV, "").strip()
    value = int(raw) if raw else DEFAULT_PARTITIONS_PER_RUN
    if value < 1:
        raise ValueError(f"{PARTITIONS_PER_RUN_ENV} must be >= 1, got {value}")
    return value


def backfill_policy() -> Any:
    """``BackfillPolicy.multi_run(partitions_per_run())`` for every enrichment asset."""
    from dagster import BackfillPolicy

    return BackfillPolicy.multi_run(max_partitions_per_run=partitions_per_run())
