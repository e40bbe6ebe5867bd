"""pass1, pass2, pass3: one table per partition, one row per Silver record.

Thin on purpose: read the partitions, hand them to the engine, turn results into a table
per partition with numeric metadata. Re-materializing a partition is how failures are
retried: answers already paid for come from the content-addressed cache, only failures are
sent again.

A run holds one partition (sensor, CLI, demo) or a range of them (a backfill, up to
``ENRICHMENT_PARTITIONS_PER_RUN``). For a range the records of every partition go through
one engine call, so the pool's concurrency is filled across partitions rather than drained
at the end of each hour; the output is ``{partition_key: table}``, which the IO manager
writes as one file per partition, and each partition gets its own metadata and its own
materialization event.
"""


import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
from dagster import AssetExecutionContext, AssetIn, AssetKey, BetaWarning, asset

from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY, pass_column_schema
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.engine.run_snapshot import discard_run, run_silver
from enrichment_dagster.engine.runner import run_pass
from enrichment_dagster.engine.tables import (
    SilverBatch,
    outputs_from_table,
    pass_table,
    summarize_pass,
)
from enrichment_dagster.partitions import backfill_policy, hourly_partitions
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.lease import hold_partitions

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


def by_partition(keys: list[str], value: pa.Table | Mapping[str, pa.Table]) -> dict[str, pa.Table]:
    """An upstream input as ``{partition_key: table}`` (the IO manager gives a bare table
    when the run holds one partition)."""
    if isinstance(value, Mapping):
        return dict(value)
    return {keys[0]: value}


def as_output(keys: list[str], tables: dict[str, pa.Table]) -> pa.Table | dict[str, pa.Table]:
    """A bare table for a one-partition run, else ``{partition_key: table}``."""
    return tables[keys[0]] if len(keys) == 1 else {k: tables[k] for k in keys}


#: The assets of a run that read Silver, in step order: the last one in the run's selection
#: deletes the run's Silver snapshot (``engine.run_snapshot``) when it is done.
SILVER_READERS = ("pass1", "pass2", "pass3", "silver_ai")


def load_silver(context: AssetExecutionContext, storage: StorageResource, partition_key: str) -> SilverBatch:
    """The run's prepared Silver partition: read from storage by the run's first step that
    needs it, then from the run's snapshot (so a run reads Silver once, and every step sees
    the same rows)."""
    prepared = run_silver(storage.root, context.run.run_id, partition_key)
    context.log.debug(f"Silver {partition_key}: {len(prepared.batch.records)} records from {prepared.source}")
    return prepared.batch


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


def silver_problem_counts(batch: SilverBatch) -> dict[str, int]:
    """Silver rows not enriched as read (metadata of every asset, so none vanishes quietly)."""
    return {
        "duplicate_ids_skipped": len(batch.duplicate_ids),
        "invalid_rows": len(batch.invalid_rows),
        "repaired_rows": len(batch.repaired_rows),
        "silver_rows_read": batch.rows_read,
    }


def silver_problems(batch: SilverBatch) -> list[str]:
    """One log line per skipped or repaired Silver row."""
    return (batch.invalid_rows + batch.repaired_rows
            + [f"duplicate id {i} skipped (first row kept)" for i in batch.duplicate_ids])


def _waves(batches: dict[str, SilverBatch]) -> list[list[str]]:
    """Partitions grouped so that no record id occurs twice in one engine call.

    The engine keys the earlier passes' outputs by record id; a posting repeated in two
    hours (it happens when Spark re-lands a row) must not read the other hour's context.
    Almost always this is one wave holding every partition.
    """
    waves: list[tuple[list[str], set[str]]] = []
    for key, batch in batches.items():
        ids = {r.job_posting_id for r in batch.records}
        for keys, seen in waves:
            if not ids & seen:
                keys.append(key)
                seen |= ids
                break
        else:
            waves.append(([key], ids))
    return [keys for keys, _ in waves]


def _enrich(
    context: AssetExecutionContext,
    pass_number: int,
    storage: StorageResource,
    llm: LLMResource,
    previous: Mapping[str, Mapping[str, PassContext]] | None = None,
) -> pa.Table | dict[str, pa.Table]:
    """Run one pass over every partition of the run; ``previous`` is per partition."""
    with releasing_silver(context, storage):
        return _enrich_partitions(context, pass_number, storage, llm, previous)


def _enrich_partitions(
    context: AssetExecutionContext,
    pass_number: int,
    storage: StorageResource,
    llm: LLMResource,
    previous: Mapping[str, Mapping[str, PassContext]] | None,
) -> pa.Table | dict[str, pa.Table]:
    started = time.monotonic()
    keys = run_partition_keys(context)
    batches = {key: load_silver(context, storage, key) for key in keys}
    backend, config, cache = llm.make_backend(), llm.engine_config(), storage.cache()
    results_by_key = {}
    # One run at a time per pass and partition: a concurrent run waits, then reads the cache.
    with hold_partitions(storage.root, f"pass{pass_number}", keys):
        for wave in _waves(batches):
            records = [r for key in wave for r in batches[key].records]
            context_by_id = {rid: ctx for key in wave for rid, ctx in ((previous or {}).get(key) or {}).items()}
            results = run_pass(records, pass_number, backend, config, cache, context_by_id if previous else None)
            offset = 0
            for key in wave:
                n = len(batches[key].records)
                results_by_key[key] = results[offset:offset + n]
                offset += n
    duration = round(time.monotonic() - started, 3)
    tables = {}
    for key in keys:
        batch, results = batches[key], results_by_key[key]
        table = pass_table(pass_number, results)
        metadata = summarize_pass(pass_number, table)
        # Wall time of the whole run's engine work (shared by its partitions).
        metadata["duration_s"] = duration
        metadata.update(silver_problem_counts(batch))
        # The prompt says when a description was cut to fit the budget; this says it to users.
        metadata["descriptions_shortened"] = sum(r.description_shortened for r in results)
        metadata["dagster/row_count"] = table.num_rows
        for problem in silver_problems(batch):
            context.log.warning(f"Silver {key}: {problem}")
        context.add_asset_metadata(metadata, partition_key=key)
        tables[key] = table
    return as_output(keys, tables)


@enrichment_asset(deps=[silver], kinds={"bedrock", "parquet"}, description="Facts stated in each posting (ext_*).",
                  metadata={COLUMN_SCHEMA_KEY: pass_column_schema(1)}, **COMMON)
def pass1(context: AssetExecutionContext, storage: StorageResource, llm: LLMResource) -> Any:
    return _enrich(context, 1, storage, llm)


@enrichment_asset(ins={"pass1": AssetIn()}, deps=[silver], kinds={"bedrock", "parquet"},
                  description="Normalised inferences with confidence and evidence (inf_*).",
                  metadata={COLUMN_SCHEMA_KEY: pass_column_schema(2)}, **COMMON)
def pass2(context: AssetExecutionContext, pass1: Any, storage: StorageResource,
          llm: LLMResource) -> Any:
    keys = run_partition_keys(context)
    p1 = by_partition(keys, pass1)
    previous = {key: {k: PassContext(pass1=v) for k, v in outputs_from_table(1, p1[key]).items()}
                for key in keys}
    return _enrich(context, 2, storage, llm, previous)


@enrichment_asset(ins={"pass1": AssetIn(), "pass2": AssetIn()}, deps=[silver], kinds={"bedrock", "parquet"},
                  description="Analysis and candidate summary (anl_*).",
                  metadata={COLUMN_SCHEMA_KEY: pass_column_schema(3)}, **COMMON)
def pass3(context: AssetExecutionContext, pass1: Any, pass2: Any,
          storage: StorageResource, llm: LLMResource) -> Any:
    keys = run_partition_keys(context)
    p1s, p2s = by_partition(keys, pass1), by_partition(keys, pass2)
    previous = {}
    for key in keys:
        p1 = outputs_from_table(1, p1s[key])
        p2 = outputs_from_table(2, p2s[key])
        previous[key] = {k: PassContext(pass1=p1.get(k), pass2=p2.get(k)) for k in p1}
    return _enrich(context, 3, storage, llm, previous)
