"""pass1, pass2, pass3: one table per partition, one row per Silver record.

Thin on purpose: stream the partitions' records through the engine a chunk at a time
(``engine.streaming``), append the results to each partition's staged file, publish every
file when the pass is done, and add numeric metadata per partition. Memory is bounded by
``ENRICHMENT_CHUNK_RECORDS``, not by the partition. Re-materializing a partition is how
failures are retried: answers already paid for come from the content-addressed cache, only
failures are sent again.

A run holds one partition (sensor, CLI, demo) or a range of them (a backfill, up to
``ENRICHMENT_PARTITIONS_PER_RUN``). For a range the records of every partition go through
one engine stream, so the pool's concurrency is filled across partitions rather than drained
at the end of each hour; the output is ``{partition_key: WrittenPartition}``, which the IO
manager records per partition, so each partition gets its own metadata and its own
materialization event. The earlier passes are ``deps``, read from storage by id a chunk at
a time, not inputs loaded whole.
"""


import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from dagster import AssetExecutionContext, AssetKey, BetaWarning, asset

from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY, pass_column_schema
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.contracts.output import pass_table_schema
from enrichment_dagster.engine.results import RecordResult
from enrichment_dagster.engine.run_snapshot import RunSilver, discard_run, run_silver
from enrichment_dagster.engine.runner import PassStream
from enrichment_dagster.engine.streaming import PartitionChunk, previous_context, run_chunks
from enrichment_dagster.engine.tables import PassTally, SilverProblems, pass_table
from enrichment_dagster.partitions import backfill_policy, hourly_partitions
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.lease import hold_partitions
from enrichment_dagster.storage.parquet import RowsById, WrittenPartition, partition_writer

COMMON = {
    "partitions_def": hourly_partitions,
    "group_name": "enrichment",
    "pool": "bedrock",
    "backfill_policy": backfill_policy(),
    "io_manager_key": "parquet_io_manager",
}


def enrichment_asset(**kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``dagster.asset`` with the ``backfill_policy`` BetaWarning silenced at its cause.

    Dagster 1.13 warns each time ``asset(backfill_policy=...)`` is called, i.e. on every
    definitions load in every process (code server, each run, each step); the policy is
    intended (``partitions.backfill_policy``), so exactly that warning is ignored, for
    exactly that call. Any other beta parameter still warns.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Parameter `backfill_policy` of function `asset`",
                                category=BetaWarning)
        return asset(**kwargs)


#: Run tag naming the partitions of a range run, in the range syntax of the UI's partition
#: selector (``2025-12-10-00:00...2025-12-10-23:00``). Dagster records a range only in the
#: system tags ``dagster/asset_partition_range_start``/``_end``, which the Runs list hides
#: behind "View all tags", while a one-partition run shows its ``dagster/partition``; a
#: run's own tags are shown, so this one puts the range on the run's row.
PARTITION_RANGE_TAG = "partitions"


def run_partition_keys(context: AssetExecutionContext) -> list[str]:
    """The partitions of this run: one key, or every key of a backfill's range, in order.

    The first step of a range run also tags the run with its range
    (:data:`PARTITION_RANGE_TAG`); later steps find the tag and write nothing.
    """
    keys = list(context.partition_keys)
    if context.has_partition_key_range and PARTITION_RANGE_TAG not in context.run.tags:
        context.instance.add_run_tags(context.run.run_id, {PARTITION_RANGE_TAG: f"{keys[0]}...{keys[-1]}"})
    return keys


def as_output(keys: list[str], written: dict[str, WrittenPartition]) -> WrittenPartition | dict[str, WrittenPartition]:
    """One file for a one-partition run, else ``{partition_key: file}``."""
    return written[keys[0]] if len(keys) == 1 else {k: written[k] for k in keys}


#: The assets of a run that read Silver, in step order: the last one in the run's selection
#: deletes the run's Silver snapshot (``engine.run_snapshot``) when it is done.
SILVER_READERS = ("pass1", "pass2", "pass3", "silver_ai")


def load_silver(context: AssetExecutionContext, storage: StorageResource, partition_key: str) -> RunSilver:
    """The run's prepared Silver partition: read from storage by the run's first step that
    needs it, then from the run's snapshot (so a run reads Silver once, and every step sees
    the same rows), served a chunk at a time."""
    prepared = run_silver(storage.root, context.run.run_id, partition_key, storage.chunk_records)
    context.log.debug(f"Silver {partition_key}: {prepared.problems.records} records from {prepared.source}")
    return prepared


@contextmanager
def releasing_silver(context: AssetExecutionContext, storage: StorageResource) -> Iterator[None]:
    """Delete the run's Silver snapshots after this step when no later step of the run
    reads them (whether this step succeeds or fails: a retry is a new run)."""
    try:
        yield
    finally:
        # The run's own selection (a subset of its job); none, or empty, for a whole job.
        selection = context.run.asset_selection or context.job_def.asset_layer.selected_asset_keys
        readers = [name for name in SILVER_READERS if AssetKey(name) in selection]
        if readers and readers[-1] == context.asset_key.to_user_string():
            discard_run(storage.root, context.run.run_id)


def silver_problem_counts(problems: SilverProblems) -> dict[str, int]:
    """Silver rows not enriched as read (metadata of every asset, so none vanishes quietly)."""
    return {
        "duplicate_ids_skipped": len(problems.duplicate_ids),
        "invalid_rows": len(problems.invalid_rows),
        "repaired_rows": len(problems.repaired_rows),
        "silver_rows_read": problems.rows_read,
    }


def silver_problems(problems: SilverProblems) -> list[str]:
    """One log line per skipped or repaired Silver row."""
    return (problems.invalid_rows + problems.repaired_rows
            + [f"duplicate id {i} skipped (first row kept)" for i in problems.duplicate_ids])


def _enrich(context: AssetExecutionContext, pass_number: int, storage: StorageResource,
            llm: LLMResource) -> WrittenPartition | dict[str, WrittenPartition]:
    """Run one pass over every partition of the run."""
    with releasing_silver(context, storage):
        return _enrich_partitions(context, pass_number, storage, llm)


def _enrich_partitions(context: AssetExecutionContext, pass_number: int, storage: StorageResource,
                       llm: LLMResource) -> WrittenPartition | dict[str, WrittenPartition]:
    started = time.monotonic()
    keys = run_partition_keys(context)
    root, dataset = storage.root, f"pass{pass_number}"
    prepared = {key: load_silver(context, storage, key) for key in keys}
    tallies = {key: PassTally(pass_number) for key in keys}
    shortened = dict.fromkeys(keys, 0)
    with ExitStack() as stack:
        upstream = {key: {n: stack.enter_context(RowsById(root, f"pass{n}", key)) for n in range(1, pass_number)}
                    for key in keys}
        files = {key: stack.enter_context(partition_writer(root, dataset, key, pass_table_schema(pass_number)))
                 for key in keys}

        def sink(key: str, results: list[RecordResult]) -> None:
            table = pass_table(pass_number, results)
            files[key].write(table)
            tallies[key].add(table)
            # The prompt says when a description was cut to fit the budget; this says it to users.
            shortened[key] += sum(r.description_shortened for r in results)

        chunks = (PartitionChunk(key, batch.records, previous_context(pass_number, batch.records, upstream[key]))
                  for key in keys for batch in prepared[key].chunks())
        # One run at a time per pass and partition: a concurrent run waits, then reads the cache.
        with hold_partitions(root, dataset, keys):
            with PassStream(pass_number, llm.make_backend(), llm.engine_config(), storage.cache()) as stream:
                run_chunks(stream, chunks, storage.chunk_records, sink)
            written = {key: files[key].commit() for key in keys}
    duration = round(time.monotonic() - started, 3)
    for key in keys:
        problems = prepared[key].problems
        metadata = tallies[key].metadata()
        # Wall time of the whole run's engine work (shared by its partitions).
        metadata["duration_s"] = duration
        metadata.update(silver_problem_counts(problems))
        metadata["descriptions_shortened"] = shortened[key]
        metadata["dagster/row_count"] = written[key].rows
        for problem in silver_problems(problems):
            context.log.warning(f"Silver {key}: {problem}")
        context.add_asset_metadata(metadata, partition_key=key)
    return as_output(keys, written)


@enrichment_asset(deps=[silver], kinds={"bedrock", "parquet"}, description="Facts stated in each posting (ext_*).",
                  metadata={COLUMN_SCHEMA_KEY: pass_column_schema(1)}, **COMMON)
def pass1(context: AssetExecutionContext, storage: StorageResource, llm: LLMResource) -> Any:
    return _enrich(context, 1, storage, llm)


@enrichment_asset(deps=[silver, pass1], kinds={"bedrock", "parquet"},
                  description="Normalised inferences with confidence and evidence (inf_*).",
                  metadata={COLUMN_SCHEMA_KEY: pass_column_schema(2)}, **COMMON)
def pass2(context: AssetExecutionContext, storage: StorageResource, llm: LLMResource) -> Any:
    return _enrich(context, 2, storage, llm)


@enrichment_asset(deps=[silver, pass1, pass2], kinds={"bedrock", "parquet"},
                  description="Analysis and candidate summary (anl_*).",
                  metadata={COLUMN_SCHEMA_KEY: pass_column_schema(3)}, **COMMON)
def pass3(context: AssetExecutionContext, storage: StorageResource, llm: LLMResource) -> Any:
    return _enrich(context, 3, storage, llm)
