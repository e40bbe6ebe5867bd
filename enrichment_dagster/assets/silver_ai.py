"""silver_ai: the Silver rows plus every pass's columns and the enrichment metadata."""


from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from dagster import AssetExecutionContext, AssetIn, BackfillPolicy, Output, asset

from enrichment_dagster import checks
from enrichment_dagster.assets.passes import load_silver, silver_problem_counts
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.engine.tables import build_silver_ai
from enrichment_dagster.partitions import hourly_partitions
from enrichment_dagster.resources import StorageResource


@asset(
    ins={"pass1": AssetIn(), "pass2": AssetIn(), "pass3": AssetIn()},
    partitions_def=hourly_partitions,
    group_name="enrichment",
    kinds={"parquet", "s3"},
    backfill_policy=BackfillPolicy.multi_run(1),
    io_manager_key="parquet_io_manager",
    check_specs=checks.CHECK_SPECS,
    description="Silver + ext_*/inf_*/anl_* + metadata; one row per Silver record.",
)
def silver_ai(
    context: AssetExecutionContext,
    pass1: pa.Table,
    pass2: pa.Table,
    pass3: pa.Table,
    storage: StorageResource,
    quality: QualityThresholds,
) -> Iterator[Any]:
    batch = load_silver(storage, context.partition_key)
    table = build_silver_ai(batch, {1: pass1, 2: pass2, 3: pass3})
    cost = sum(table.column("enrichment_cost_usd").to_pylist())
    yield Output(table, metadata={
        "dagster/row_count": table.num_rows,
        "records": table.num_rows,
        **{f"pass{n}_success": sum(table.column(f"pass{n}_success").to_pylist()) for n in (1, 2, 3)},
        "cost_usd": round(cost, 6),
        "input_tokens": sum(table.column("enrichment_input_tokens").to_pylist()),
        "output_tokens": sum(table.column("enrichment_output_tokens").to_pylist()),
        **silver_problem_counts(batch),
    })
    yield from checks.evaluate([r.job_posting_id for r in batch.records], table, quality)
