"""The enrichment job and the schedule that retries partitions still holding failures."""

from dataclasses import dataclass, field

import pyarrow as pa
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
from enrichment_dagster.storage.parquet import StorageError, list_partitions, read_partition

enrich_job = define_asset_job(
    name="enrich_job",
    selection=AssetSelection.assets("pass1", "pass2", "pass3", "silver_ai"),
    description="pass1 -> pass2 -> pass3 -> silver_ai for one hourly partition.",
)

RETRY_LOOKBACK_PARTITIONS = 72
#: Run tag listing the silver_ai partitions the tick skipped as unreadable (comma-separated).
UNREADABLE_TAG = "enrichment/retry_skipped_unreadable"


SUCCESS_COLUMNS = tuple(f"pass{n}_success" for n in (1, 2, 3))
#: What reading one partition can raise when its files are bad or gone: every storage error
#: (a corrupt or vanished file, a folder emptied since the listing), an unreadable S3 object
#: (pyarrow raises OSError), and Arrow's own errors.
_UNREADABLE = (StorageError, OSError, pa.ArrowException)


@dataclass
class RetryScan:
    """What the retry schedule found: partitions to re-run and partitions it cannot judge."""

    failing: list[str] = field(default_factory=list)
    #: partition key -> why its silver_ai could not be read (named file, missing column...)
    unreadable: dict[str, str] = field(default_factory=dict)


def _has_failures(table: pa.Table) -> bool:
    """True when some record of the partition has a pass that did not succeed.

    Raises ``ValueError`` for a table that is not silver_ai (a success column missing or not
    boolean): a string "false" would be truthy, so the schema is checked, not trusted.
    """
    for name in SUCCESS_COLUMNS:
        if name not in table.column_names:
            raise ValueError(f"no column {name!r} (not a silver_ai table)")
        column = table.column(name)
        if not pa.types.is_boolean(column.type):
            raise ValueError(f"column {name!r} is {column.type}, not bool")
        # A null success is not a success.
        if column.null_count or not all(column.to_pylist()):
            return True
    return False


def partitions_with_failures(root: StorageRoot, limit: int = RETRY_LOOKBACK_PARTITIONS) -> RetryScan:
    """The most recent silver_ai partitions where some pass did not succeed.

    One partition that cannot be read (corrupt or vanished file, wrong schema, an S3 object
    that refuses a GET) is put in ``unreadable`` with the reason and skipped: it must not
    stop the retries of every other partition. Re-running it would not repair it either,
    since the run reads the same storage.
    """
    scan = RetryScan()
    for key in sorted(list_partitions(root, "silver_ai"))[-limit:]:
        try:
            failed = _has_failures(read_partition(root, "silver_ai", key))
        except (*_UNREADABLE, ValueError) as exc:
            scan.unreadable[key] = f"{type(exc).__name__}: {exc}"
            continue
        if failed:
            scan.failing.append(key)
    return scan


@schedule(job=enrich_job, cron_schedule="17 */6 * * *", default_status=DefaultScheduleStatus.STOPPED,
          description="Every 6 h, re-run recent partitions that still hold failed records. "
          "Successes come from the cache for free; the per-record attempt cap stops hopeless ones.")
def retry_failed(
    context: ScheduleEvaluationContext, storage: StorageResource
) -> list[RunRequest] | SkipReason:
    scan = partitions_with_failures(storage.root)
    for key, reason in scan.unreadable.items():
        context.log.warning(f"retry_failed: skipped silver_ai partition {key}: {reason}")
    skipped = ""
    if scan.unreadable:
        skipped = (f"; skipped {len(scan.unreadable)} unreadable silver_ai partition(s): "
                   + "; ".join(f"{key} ({reason})" for key, reason in scan.unreadable.items()))
    if not scan.failing:
        return SkipReason("no recent silver_ai partition holds failed records" + skipped)
    tick = context.scheduled_execution_time.strftime("%Y%m%d%H%M")
    tags = {UNREADABLE_TAG: ",".join(scan.unreadable)} if scan.unreadable else {}
    return [RunRequest(partition_key=key, run_key=f"retry:{key}:{tick}", tags=tags)
            for key in scan.failing]
