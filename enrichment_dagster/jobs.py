"""The enrichment job and the schedule that retries partitions still holding failures."""


from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import list_partitions, read_partition

enrich_job = define_asset_job(
    name="enrich_job",
    selection=AssetSelection.assets("pass1", "pass2", "pass3", "silver_ai"),
    description="pass1 -> pass2 -> pass3 -> silver_ai for one hourly partition.",
)

RETRY_LOOKBACK_PARTITIONS = 72


def partitions_with_failures(root: StorageRoot, limit: int = RETRY_LOOKBACK_PARTITIONS) -> list[str]:
    """The most recent silver_ai partitions where some pass did not succeed."""
    failing = []
    for key in sorted(list_partitions(root, "silver_ai"))[-limit:]:
        table = read_partition(root, "silver_ai", key)
        if not all(all(table.column(f"pass{n}_success").to_pylist()) for n in (1, 2, 3)):
            failing.append(key)
    return failing


@schedule(job=enrich_job, cron_schedule="17 */6 * * *", default_status=DefaultScheduleStatus.STOPPED,
          description="Every 6 h, re-run recent partitions that still hold failed records. "
          "Successes come from the cache for free; the per-record attempt cap stops hopeless ones.")
def retry_failed(
    context: ScheduleEvaluationContext, storage: StorageResource
) -> list[RunRequest] | SkipReason:
    failing = partitions_with_failures(storage.root)
    if not failing:
        return SkipReason("no recent silver_ai partition holds failed records")
    tick = context.scheduled_execution_time.strftime("%Y%m%d%H%M")
    return [RunRequest(partition_key=key, run_key=f"retry:{key}:{tick}") for key in failing]
