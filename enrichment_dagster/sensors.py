"""new_silver_partitions: storage, not Dagster's history, decides what needs enriching.

Each tick lists Silver and silver_ai partitions in storage (one recursive listing each)
and requests a run for every Silver partition that has no silver_ai yet, or whose Silver
files changed since the version last requested. The cursor stores the Silver version last
requested per partition, so late-arriving old hours are picked up, a changed partition is
re-run once, and an unchanged one never again. The ``run_key`` (partition + Silver
version) makes a re-request of the same data a no-op.
"""


import json

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
from enrichment_dagster.storage.parquet import list_partitions

MAX_RUNS_PER_TICK = 200
#: Seconds between ticks; tests shorten it.
INTERVAL_S = env.env_int("ENRICHMENT_SENSOR_INTERVAL_S", 60, minimum=1)


def partitions_to_request(
    silver: dict[str, str], silver_ai: dict[str, str], requested: dict[str, str], valid: set[str] | None = None
) -> list[tuple[str, str]]:
    """(partition, silver version) pairs that need a run, oldest first."""
    wanted = []
    for key in sorted(silver):
        if valid is not None and key not in valid:
            continue
        version = silver[key]
        if requested.get(key) == version:
            continue  # this exact Silver data was already requested
        if key in silver_ai and key not in requested:
            continue  # enriched before the sensor's cursor existed
        wanted.append((key, version))
    return wanted


# `make dev` turns the sensor on; in production turn it on in the UI once its cursor is seeded.
DEFAULT_STATUS = (
    DefaultSensorStatus.RUNNING
    if env.env_flag("ENRICHMENT_SENSORS_RUNNING")
    else DefaultSensorStatus.STOPPED
)


@sensor(job=enrich_job, minimum_interval_seconds=INTERVAL_S, default_status=DEFAULT_STATUS,
        description="Requests enrich_job for Silver partitions missing or changed in silver_ai.")
def new_silver_partitions(context: SensorEvaluationContext, storage: StorageResource) -> SensorResult | SkipReason:
    requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    silver = list_partitions(storage.root, "silver")
    silver_ai = list_partitions(storage.root, "silver_ai")
    valid = set(hourly_partitions.get_partition_keys())
    wanted = partitions_to_request(silver, silver_ai, requested, valid)[:MAX_RUNS_PER_TICK]
    if not wanted:
        return SkipReason(f"{len(silver)} Silver partitions, none new or changed")
    runs = [RunRequest(partition_key=key, run_key=f"silver:{key}:{version}") for key, version in wanted]
    observations = [AssetMaterialization("silver", partition=key, metadata={"silver_version": version})
                    for key, version in wanted]
    requested.update(dict(wanted))
    return SensorResult(run_requests=runs, asset_events=observations, cursor=json.dumps(requested, sort_keys=True))
