"""pass1, pass2, pass3: one table per partition, one row per Silver record.

Thin on purpose: read the partition, hand it to the engine, turn results into a table
with numeric metadata. Re-materializing a partition is how failures are retried: answers
already paid for come from the content-addressed cache, only failures are sent again.
"""


import time

import pyarrow as pa
from dagster import AssetExecutionContext, AssetIn, BackfillPolicy, asset

from enrichment_dagster.assets.silver import silver
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.engine.runner import run_pass
from enrichment_dagster.engine.tables import (
    SilverBatch,
    outputs_from_table,
    pass_table,
    prepare_silver,
    summarize_pass,
)
from enrichment_dagster.partitions import hourly_partitions
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.parquet import read_partition

COMMON = {
    "partitions_def": hourly_partitions,
    "group_name": "enrichment",
    "pool": "bedrock",
    "backfill_policy": BackfillPolicy.multi_run(1),
    "io_manager_key": "parquet_io_manager",
}


def load_silver(storage: StorageResource, partition_key: str) -> SilverBatch:
    return prepare_silver(read_partition(storage.root, "silver", partition_key))


def silver_problem_counts(batch: SilverBatch) -> dict[str, int]:
    """Silver rows not enriched as read (metadata of every asset, so none vanishes quietly)."""
    return {
        "duplicate_ids_skipped": len(batch.duplicate_ids),
        "invalid_rows": len(batch.invalid_rows),
        "repaired_rows": len(batch.repaired_rows),
    }


def silver_problems(batch: SilverBatch) -> list[str]:
    """One log line per skipped or repaired Silver row."""
    return (batch.invalid_rows + batch.repaired_rows
            + [f"duplicate id {i} skipped (first row kept)" for i in batch.duplicate_ids])


def _enrich(
    context: AssetExecutionContext,
    pass_number: int,
    storage: StorageResource,
    llm: LLMResource,
    previous: dict[str, PassContext] | None = None,
) -> pa.Table:
    started = time.monotonic()
    batch = load_silver(storage, context.partition_key)
    results = run_pass(batch.records, pass_number, llm.make_backend(), llm.engine_config(),
                       storage.cache(), previous)
    table = pass_table(pass_number, results)
    metadata = summarize_pass(pass_number, table)
    metadata["duration_s"] = round(time.monotonic() - started, 3)
    metadata.update(silver_problem_counts(batch))
    # The prompt says when a description was cut to fit the budget; this says it to users.
    metadata["descriptions_shortened"] = sum(r.description_shortened for r in results)
    metadata["dagster/row_count"] = table.num_rows
    for problem in silver_problems(batch):
        context.log.warning(f"Silver {context.partition_key}: {problem}")
    context.add_output_metadata(metadata)
    return table


@asset(deps=[silver], kinds={"bedrock", "parquet"}, description="Facts stated in each posting (ext_*).", **COMMON)
def pass1(context: AssetExecutionContext, storage: StorageResource, llm: LLMResource) -> pa.Table:
    return _enrich(context, 1, storage, llm)


@asset(ins={"pass1": AssetIn()}, deps=[silver], kinds={"bedrock", "parquet"},
       description="Normalised inferences with confidence and evidence (inf_*).", **COMMON)
def pass2(context: AssetExecutionContext, pass1: pa.Table, storage: StorageResource,
          llm: LLMResource) -> pa.Table:
    p1 = outputs_from_table(1, pass1)
    return _enrich(context, 2, storage, llm, {k: PassContext(pass1=v) for k, v in p1.items()})


@asset(ins={"pass1": AssetIn(), "pass2": AssetIn()}, deps=[silver], kinds={"bedrock", "parquet"},
       description="Analysis and candidate summary (anl_*).", **COMMON)
def pass3(context: AssetExecutionContext, pass1: pa.Table, pass2: pa.Table,
          storage: StorageResource, llm: LLMResource) -> pa.Table:
    p1 = outputs_from_table(1, pass1)
    p2 = outputs_from_table(2, pass2)
    previous = {k: PassContext(pass1=p1.get(k), pass2=p2.get(k)) for k in p1}
    return _enrich(context, 3, storage, llm, previous)
