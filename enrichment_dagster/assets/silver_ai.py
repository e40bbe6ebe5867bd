"""silver_ai: the Silver rows plus every pass's columns and the enrichment metadata.

Each partition of the run is built a chunk at a time into a staged file (Silver from the
run's snapshot, the passes' rows fetched by id: ``storage.parquet.RowsById``), checked from
running sums (``checks.PartitionStats``), and only then published: a failed blocking
(ERROR-severity) check leaves no file for readers to find, and the other partitions of the
same run are still written. Memory is bounded by ``ENRICHMENT_CHUNK_RECORDS``, not by the
partition. That is why this asset writes its files itself (through the same
``storage.parquet`` the IO manager uses) and logs one
``AssetMaterialization`` per written partition, instead of returning an output: Dagster
stores a returned output before the checks yielded after it are seen, and a range output
is one materialization for every partition or none.

Check results are logged as ``AssetCheckEvaluation`` events carrying their partition.
Dagster 1.13 attaches a partition to an ``AssetCheckResult`` only when the run has a
``dagster/partition`` tag, which backfill runs (range tags, even for one key) do not have;
their checks were recorded once with no partition and every partition showed "skipped".
"""


import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetExecutionContext,
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
    enrichment_asset,
    load_silver,
    pass1,
    pass2,
    pass3,
    releasing_silver,
    run_partition_keys,
    silver_problem_counts,
)
from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY, silver_ai_column_schema
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.contracts.output import silver_ai_schema
from enrichment_dagster.engine.run_snapshot import RunSilver
from enrichment_dagster.engine.tables import build_silver_ai, count_silver_rows, read_silver_ids
from enrichment_dagster.partitions import backfill_policy, hourly_partitions
from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.parquet import RowsById, StagedParquet, partition_writer

ASSET_KEY = AssetKey(checks.ASSET)


def partition_metadata(stats: checks.PartitionStats) -> dict[str, Any]:
    """Numeric metadata of one silver_ai partition (from the running sums, no rows)."""
    return {
        "dagster/row_count": stats.rows,
        "records": stats.rows,
        **{f"pass{n}_success": stats.success_all[n] for n in (1, 2, 3)},
        "cost_usd": round(stats.run_cost, 6),
        "input_tokens": stats.input_tokens,
        "output_tokens": stats.output_tokens,
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


def _build(prepared: RunSilver, passes: dict[int, RowsById], out: StagedParquet) -> checks.PartitionStats:
    """Every chunk of the partition built and staged; what the checks need, added up."""
    stats = checks.PartitionStats()
    enriched_at = dt.datetime.now(dt.UTC)  # one time for the whole partition
    for batch in prepared.chunks():
        ids = batch.table.column("job_posting_id").to_pylist()
        table = build_silver_ai(batch, {n: rows.take(ids) for n, rows in passes.items()}, enriched_at)
        out.write(table)
        stats.add(table)
    return stats


def _evaluation(result: AssetCheckResult, key: str,
                target: AssetCheckEvaluationTargetMaterializationData | None) -> AssetCheckEvaluation:
    return AssetCheckEvaluation(
        asset_key=ASSET_KEY, check_name=result.check_name, passed=result.passed,
        metadata=dict(result.metadata), severity=result.severity, description=result.description,
        blocking=result.check_name in checks.BLOCKING, partition=key, target_materialization_data=target,
    )


@enrichment_asset(
    deps=[pass1, pass2, pass3],
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
def silver_ai(context: AssetExecutionContext, storage: StorageResource, quality: QualityThresholds) -> Iterator[Any]:
    with releasing_silver(context, storage):
        yield from _build_partitions(context, storage, quality)


def _build_partitions(context: AssetExecutionContext, storage: StorageResource,
                      quality: QualityThresholds) -> Iterator[Any]:
    """Build, check and write each partition of the run (see the module docstring)."""
    for key in run_partition_keys(context):
        prepared = load_silver(context, storage, key)
        with ExitStack() as stack:
            out = stack.enter_context(partition_writer(storage.root, checks.ASSET, key, silver_ai_schema()))
            passes = {n: stack.enter_context(RowsById(storage.root, f"pass{n}", key)) for n in (1, 2, 3)}
            stats = _build(prepared, passes, out)
            silver_ids = checks.storage_silver_ids(read_silver_ids(storage.root, key))
            problems = prepared.problems
            results = checks.evaluate(silver_ids, stats, quality, len(problems.invalid_rows),
                                      count_silver_rows(storage.root, key), problems.rows_skipped)
            blocked = any(checks.blocks(r) for r in results)
            if blocked:  # leaving the block discards the staged file
                context.log.error(f"silver_ai {key}: a blocking check failed; the partition is not written")
            else:
                written = out.commit()
                yield AssetMaterialization(
                    asset_key=ASSET_KEY, partition=key,
                    metadata={
                        **partition_metadata(stats),
                        **silver_problem_counts(problems),
                        "path": MetadataValue.path(written.uri),
                        "rows": written.rows,
                        "bytes": written.bytes,
                    },
                )
        target = None if blocked else _target(context, key)
        for result in results:
            yield _evaluation(result, key, target)
    # The check outputs are required by the asset's definition; their evaluations above
    # are what Dagster records (this is what it does itself for an AssetCheckResult).
    for check_key in context.assets_def.check_keys:
        yield Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(check_key))
