"""new_silver_partitions: storage, not Dagster's history, decides what needs enriching.

Each tick lists the Silver and silver_ai partitions of a look-back window in storage and
requests a run for every Silver partition that has no silver_ai yet, whose Silver files
changed after its silver_ai was written, or whose Silver version differs from the one last
requested. The ``run_key`` (partition + Silver version) makes a re-request of the same data
a no-op.

Bounded on purpose: a tick lists only from ``ENRICHMENT_SENSOR_LOOKBACK_HOURS`` (default 48)
before the newest Silver partition seen (an S3 listing that *starts* there, not a filter
over years of keys), and a full scan every ``ENRICHMENT_SENSOR_FULL_SCAN_HOURS`` (default
24; also the first tick) catches old hours that were rewritten or arrived late. The cursor
keeps the Silver version last requested only for partitions of the window and for older
ones not yet enriched with it (a run in flight or failed); a full scan drops the rest, so
its size follows the window, not the lake's age.
"""


import json
import time
from dataclasses import dataclass, field
from datetime import timedelta

from dagster import (
    AssetMaterialization,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from enrichment_dagster import env
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.partitions import hourly_partitions
from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.parquet import PartitionState, list_partition_states
from enrichment_dagster.storage.partition_keys import parse_partition_key

MAX_RUNS_PER_TICK = 200
MAX_EVENTS_PER_TICK = 2000
#: Seconds between ticks; tests shorten it.
INTERVAL_S = env.env_int("ENRICHMENT_SENSOR_INTERVAL_S", 60, minimum=1)
LOOKBACK_HOURS = env.env_int("ENRICHMENT_SENSOR_LOOKBACK_HOURS", 48, minimum=1)
FULL_SCAN_HOURS = env.env_float("ENRICHMENT_SENSOR_FULL_SCAN_HOURS", 24.0, positive=True)


@dataclass
class SensorCursor:
    """What the sensor remembers between ticks (stored as JSON in Dagster's cursor)."""

    #: partition key -> Silver version last requested
    requested: dict[str, str] = field(default_factory=dict)
    #: partition key -> Silver version last recorded as a materialization of ``silver``
    recorded: dict[str, str] = field(default_factory=dict)
    #: the newest Silver partition seen: the look-back window ends there
    newest: str | None = None
    #: epoch seconds of the last full scan
    full_scan_at: float = 0.0

    @classmethod
    def load(cls, text: str | None) -> "SensorCursor":
        data = json.loads(text) if text else {}
        if "requested" not in data:  # the earlier cursor: a flat map of versions
            return cls(requested=data)
        return cls(data["requested"], data.get("recorded", {}), data.get("newest"),
                   float(data.get("full_scan_at", 0.0)))

    def dump(self) -> str:
        return json.dumps({"requested": self.requested, "recorded": self.recorded,
                           "newest": self.newest, "full_scan_at": self.full_scan_at},
                          sort_keys=True)

    def window_start(self, lookback_hours: int) -> str | None:
        if self.newest is None:
            return None
        start = parse_partition_key(self.newest) - timedelta(hours=lookback_hours)
        return f"{start:%Y-%m-%d-%H}:00"


def partitions_to_request(
    silver: dict[str, PartitionState],
    silver_ai: dict[str, PartitionState],
    requested: dict[str, str],
    valid: set[str] | None = None,
) -> list[tuple[str, str]]:
    """(partition, silver version) pairs that need a run, oldest first."""
    wanted = []
    for key in sorted(silver):
        if valid is not None and key not in valid:
            continue
        state = silver[key]
        if requested.get(key) == state.version:
            continue  # this exact Silver data was already requested
        enriched = silver_ai.get(key)
        if key not in requested and enriched is not None and enriched.modified >= state.modified:
            continue  # enriched after its Silver data last changed
        wanted.append((key, state.version))
    return wanted


def to_record(silver: dict[str, PartitionState], cursor: SensorCursor,
              window_start: str | None, valid: set[str]) -> list[tuple[str, str]]:
    """Silver partitions to record as materializations of the external ``silver`` asset,
    requested or not, so the UI shows what is in storage: in the window, each new version
    (the cursor remembers the window's); before it (a full scan), those written since the
    previous full scan (all of them on the first)."""
    fresh = []
    for key, state in silver.items():
        if key not in valid or cursor.recorded.get(key) == state.version:
            continue
        in_window = window_start is not None and key >= window_start
        if in_window or state.modified > cursor.full_scan_at:
            fresh.append((key, state.version))
    return fresh[:MAX_EVENTS_PER_TICK]


def prune(cursor: SensorCursor, silver: dict[str, PartitionState],
          silver_ai: dict[str, PartitionState], window_start: str | None) -> None:
    """After a full scan: forget partitions before the window that are gone from Silver or
    enriched after the version requested; keep those still waiting for their run."""
    for key in [k for k in cursor.recorded if window_start is None or k < window_start]:
        del cursor.recorded[key]
    for key, version in list(cursor.requested.items()):
        if window_start is not None and key >= window_start:
            continue
        state, enriched = silver.get(key), silver_ai.get(key)
        done = (state is not None and state.version == version and enriched is not None
                and enriched.modified >= state.modified)
        if state is None or done:
            del cursor.requested[key]


# `make dev` turns the sensor on; in production turn it on in the UI once its cursor is seeded.
DEFAULT_STATUS = (
    DefaultSensorStatus.RUNNING
    if env.env_flag("ENRICHMENT_SENSORS_RUNNING")
    else DefaultSensorStatus.STOPPED
)


@sensor(job=enrich_job, minimum_interval_seconds=INTERVAL_S, default_status=DEFAULT_STATUS,
        description="Requests enrich_job for Silver partitions missing or changed in silver_ai.")
def new_silver_partitions(context: SensorEvaluationContext, storage: StorageResource) -> SensorResult | SkipReason:
    cursor = SensorCursor.load(context.cursor)
    now = time.time()
    full = cursor.newest is None or now - cursor.full_scan_at >= FULL_SCAN_HOURS * 3600
    since = None if full else cursor.window_start(LOOKBACK_HOURS)
    silver = list_partition_states(storage.root, "silver", since)
    silver_ai = list_partition_states(storage.root, "silver_ai", since)
    valid = set(hourly_partitions.get_partition_keys())
    wanted = partitions_to_request(silver, silver_ai, cursor.requested, valid)[:MAX_RUNS_PER_TICK]
    cursor.requested.update(dict(wanted))
    new_data = to_record(silver, cursor, since or cursor.window_start(LOOKBACK_HOURS), valid)
    cursor.recorded.update(dict(new_data))
    observations = [AssetMaterialization("silver", partition=key, metadata={"silver_version": version})
                    for key, version in new_data]
    if silver:
        cursor.newest = max(cursor.newest or "", max(silver))
    if full:
        cursor.full_scan_at = now
        prune(cursor, silver, silver_ai, cursor.window_start(LOOKBACK_HOURS))
    scope = "all" if full else f"since {since}"
    if not wanted:
        return SensorResult(
            skip_reason=f"{len(silver)} Silver partitions ({scope}), none new or changed",
            asset_events=observations, cursor=cursor.dump())
    runs = [RunRequest(partition_key=key, run_key=f"silver:{key}:{version}") for key, version in wanted]
    return SensorResult(run_requests=runs, asset_events=observations, cursor=cursor.dump())
