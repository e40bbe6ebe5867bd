"""Gold assets: daily tables over the day's 24 hourly silver_ai partitions (group ``gold``).

Thin wrappers: the aggregation, the partition files and the charts live in
``enrichment_dagster.gold`` (no Dagster import). Each asset depends on silver_ai through a
``TimeWindowPartitionMapping``, so Dagster maps the day ``2025-12-10`` onto the hourly keys
``2025-12-10-00:00`` … ``2025-12-10-23:00`` and shows a Gold day as stale when one of its
hours is re-materialized. The data is read from storage by the Gold code (only the columns a
table needs), not through the IO manager, which would load all ~344 columns of 24 files.

``skills_demand``'s 7- and 28-day windows (and the windows before them, for the change)
also read the earlier days' silver_ai partitions that exist; the metadata says how many
hourly partitions of the day itself were found.
"""


import datetime as dt
from typing import Any

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Failure,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
    define_asset_job,
)

from enrichment_dagster.assets.consensus import daily_partitions
from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY, gold_column_schema
from enrichment_dagster.gold.build import GOLD_ASSETS, build_gold
from enrichment_dagster.gold.charts import markdown_image
from enrichment_dagster.resources import StorageResource

DESCRIPTIONS = {
    "skills_demand": "Per day and rolling 7/28 days: postings, and per skill and family the "
                     "postings that require it or list it as nice to have, share, change.",
    "salary_benchmarks": "Disclosed pay annualised (hourly x 2,080), currency as stated, by "
                         "seniority x work model x country (x US state): n, p25, median, p75; "
                         "n < 3 suppressed.",
    "market_signals": "Shares of remote/hybrid/onsite, visa sponsorship, clearance, salary "
                      "disclosure, AI/GenAI, red flags; mean confidence.",
    "career_pathways": "By seniority: years of experience asked, education, top skills.",
}


def _left_out_markdown(left_out: dict[str, int]) -> str:
    if not left_out:
        return "No record left out."
    rows = "\n".join(f"| {reason} | {count} |" for reason, count in left_out.items())
    return f"| reason | records |\n|---|---|\n{rows}"


def _gold_asset(name: str) -> Any:
    @asset(
        name=name,
        group_name="gold",
        partitions_def=daily_partitions,
        deps=[AssetDep(AssetKey("silver_ai"), partition_mapping=TimeWindowPartitionMapping())],
        kinds={"duckdb", "parquet"},
        description=DESCRIPTIONS[name],
        metadata={COLUMN_SCHEMA_KEY: gold_column_schema(name)},
    )
    def _gold(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
        day = dt.date.fromisoformat(context.partition_key)
        built = build_gold(storage.root, name, day)
        coverage = built.result.coverage
        if coverage.partitions == 0:
            raise Failure(f"no silver_ai partition for {day} under {storage.root.uri('silver_ai')}")
        for reason, count in coverage.left_out.items():
            context.log.info(f"{name} {day}: left out {count} record(s): {reason}")
        metadata: dict[str, Any] = {
            "dagster/row_count": built.result.table.num_rows,
            COLUMN_SCHEMA_KEY: gold_column_schema(name),
            "path": MetadataValue.path(built.uri),
            **coverage.metadata(),
            **built.result.figures,
            "left_out": MetadataValue.md(_left_out_markdown(coverage.left_out)),
            "chart": MetadataValue.md(markdown_image(built.chart_svg, alt=name)),
        }
        return MaterializeResult(metadata=metadata)

    return _gold


skills_demand, salary_benchmarks, market_signals, career_pathways = (
    _gold_asset(name) for name in GOLD_ASSETS
)
GOLD_ASSET_DEFS = [skills_demand, salary_benchmarks, market_signals, career_pathways]

gold_job = define_asset_job(
    name="gold_job",
    selection=AssetSelection.groups("gold"),
    description="The four Gold tables of one day, from that day's silver_ai partitions.",
)
