"""silver_ai: the Silver rows plus every pass's columns and the enrichment metadata.

Each partition of the run is built, checked, and only then written: a failed blocking
(ERROR-severity) check leaves no file for readers to find, and the other partitions of the
same run are still written. That is why this asset writes its files itself (through the
same ``storage.parquet.write_partition`` the IO manager uses) and logs one
``AssetMaterialization`` per written partition, instead of returning an output: Dagster
stores a returned output before the checks yielded after it are seen, and a range output
is one materialization for every partition or none.

Check results are logged as ``AssetCheckEvaluation`` events carrying their partition.
Dagster 1.13 attaches a partition to an ``AssetCheckResult`` only when the run has a
``dagster/partition`` tag, which backfill runs (range tags, even for one key) do not have;
their checks were recorded once with no partition and every partition showed "skipped".
"""


from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetMaterialization,
    AssetRecordsFilter,
    MetadataValue,
    Output,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (  # not re-exported
    AssetCheckEvaluationTargetMaterializationData,
)

from enrichment_dagster import checks
from enrichment_dagster.assets.passes import (
    by_partition,
    enrichment_asset,
    load_silver,
    releasing_silver,
    run_partition_keys,
    silver_problem_counts,
)
from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY, silver_ai_column_schema
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.engine.tables import build_silver_ai, count_silver_rows, read_silver_ids
from enrichment_dagster.partitions import backfill_policy, hourly_partitions
from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.parquet import write_partition

ASSET_KEY = AssetKey(checks.ASSET)


def _sum(table: pa.Table, column: str) -> float:
    value = pc.sum(table.column(column)).as_py()
    return value or 0


def partition_metadata(table: pa.Table) -> dict[str, Any]:
    """Numeric metadata of one silver_ai partition (computed in Arrow, no row objects)."""
    return {
        "dagster/row_count": table.num_rows,
        "records": table.num_rows,
        **{f"pass{n}_success": int(_sum(table, f"pass{n}_success")) for n in (1, 2, 3)},
        "cost_usd": round(float(_sum(table, "enrichment_cost_usd")), 6),
        "input_tokens": int(_sum(table, "enrichment_input_tokens")),
        "output_tokens": int(_sum(table, "enrichment_output_tokens")),
    }


def _target(context: AssetExecutionContext, key: str) -> AssetCheckEvaluationTargetMaterializationData | None:
    """The partition's latest materialization, which the check evaluation points at."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=ASSET_KEY, asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    mat = records[0]
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=mat.storage_id, run_id=mat.event_log_entry.run_id, timestamp=mat.timestamp
    )


def _evaluation(result: AssetCheckResult, key: str,
                target: AssetCheckEvaluationTargetMaterializationData | None) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=ASSET_KEY, check_name=result.check_name, passed=result.passed,
        metadata=dict(result.metadata), severity=result.severity, description=result.description,
        blocking=result.check_name in checks.BLOCKING, partition=key, target_materialization_data=target,
    )


@enrichment_asset(
    ins={"pass1": AssetIn(), "pass2": AssetIn(), "pass3": AssetIn()},
    partitions_def=hourly_partitions,
    group_name="enrichment",
    kinds={"parquet", "s3"},
    backfill_policy=backfill_policy(),
    io_manager_key="parquet_io_manager",
    check_specs=checks.CHECK_SPECS,
    output_required=False,
    metadata={COLUMN_SCHEMA_KEY: silver_ai_column_schema()},
    # Plain text: the catalog lists a description as written, so Markdown (backticks,
    # asterisks) would show there as raw symbols.
    description="Silver rows plus the ext_, inf_ and anl_ columns of passes 1-3 and the "
                "enrichment metadata; one row per Silver record.",
)
def silver_ai(
    context: AssetExecutionContext,
    pass1: Any,
    pass2: Any,
    pass3: Any,
    storage: StorageResource,
    quality: QualityThresholds,
) -> Iterator[Any]:
    with releasing_silver(context, storage):
        yield from _build_partitions(context, {1: pass1, 2: pass2, 3: pass3}, storage, quality)


def _build_partitions(context: AssetExecutionContext, inputs: dict[int, Any], storage: StorageResource,
                      quality: QualityThresholds) -> Iterator[Any]:
    """Build, check and write each partition of the run (see the module docstring)."""
    keys = run_partition_keys(context)
    passes = {n: by_partition(keys, value) for n, value in inputs.items()}
    blocked = []
    for key in keys:
        batch = load_silver(context, storage, key)
        table = build_silver_ai(batch, {n: passes[n][key] for n in (1, 2, 3)})
        silver_ids = checks.storage_silver_ids(read_silver_ids(storage.root, key))
        results = checks.evaluate(silver_ids, table, quality, len(batch.invalid_rows),
                                  count_silver_rows(storage.root, key), batch.rows_skipped)
        problems = silver_problem_counts(batch)
        del batch
        if any(checks.blocks(r) for r in results):
            blocked.append(key)
            context.log.error(f"silver_ai {key}: a blocking check failed; the partition is not written")
        else:
            written = write_partition(storage.root, checks.ASSET, key, table)
            yield AssetMaterialization(
                asset_key=ASSET_KEY, partition=key,
                metadata={
                    **partition_metadata(table),
                    **problems,
                    "path": MetadataValue.path(written.uri),
                    "rows": written.rows,
                    "bytes": written.bytes,
                },
            )
        target = None if key in blocked else _target(context, key)
        for result in results:
            yield _evaluation(result, key, target)
    # The check outputs are required by the asset's definition; their evaluations above
    # are what Dagster records (this is what it does itself for an AssetCheckResult).
    for check_key in context.assets_def.check_keys:
        yield Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))
