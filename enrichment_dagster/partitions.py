"""The Dagster side of the hourly partitions: the definition every asset shares, and how
many partitions one backfill run holds. Keys and folders: :mod:`enrichment_dagster.storage.partition_keys`.

Why UTC: with a local timezone the DST hour disappears from the keys and the folders would
no longer line up one to one with Spark's UTC ``hour=HH``.

Why ``end_offset=0``: only completed hours are partitions. Spark lands an hour after it has
ended, so the in-progress hour never has data to enrich.
"""

from __future__ import annotations

from dagster import BackfillPolicy, HourlyPartitionsDefinition

from enrichment_dagster import env
from enrichment_dagster.storage.partition_keys import DEFAULT_PARTITIONS_START


def build_hourly_partitions(start: str | None = None) -> HourlyPartitionsDefinition:
    """Hourly UTC partitions from ``start`` (default: env, then 2025-12-01-00:00).

    A function as well as the module constant so tests and tools can build a definition with
    another start without touching the environment of the process.
    """
    start = start or env.partitions_start(DEFAULT_PARTITIONS_START)
    return HourlyPartitionsDefinition(start_date=start, timezone="UTC")


hourly_partitions = build_hourly_partitions()


PARTITIONS_PER_RUN_ENV = "ENRICHMENT_PARTITIONS_PER_RUN"
DEFAULT_PARTITIONS_PER_RUN = 24


def partitions_per_run() -> int:
    """How many hourly partitions one backfill run holds (default a day, 24).

    Why more than one: each run pays a fixed cost (launch, a process per step, imports)
    that dwarfed the enrichment itself at one partition per run, and the
    ``dagster/backfill`` run limit caps how many of those run at once. Within a run every
    record of every partition goes through one engine pool.
    """
    value = env.env_int(PARTITIONS_PER_RUN_ENV, DEFAULT_PARTITIONS_PER_RUN, minimum=1)
    assert value is not None
    return value


def backfill_policy() -> BackfillPolicy:
    """``BackfillPolicy.multi_run(partitions_per_run())`` for every enrichment asset."""
    return BackfillPolicy.multi_run(max_partitions_per_run=partitions_per_run())
