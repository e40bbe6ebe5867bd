"""The upstream Silver table: produced by Spark, observed here, never materialized by us."""

from __future__ import annotations

from dagster import AssetSpec

from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY, silver_column_schema
from enrichment_dagster.partitions import hourly_partitions

silver = AssetSpec(
    key="silver",
    description=(
        "LinkedIn postings written hourly by the upstream Spark job to "
        "{ENRICHMENT_STORAGE_URI}/silver/year=/month=/day=/hour=. External: the "
        "new_silver_partitions sensor records observations of it."
    ),
    partitions_def=hourly_partitions,
    group_name="silver",
    kinds={"s3", "parquet", "spark"},
    metadata={COLUMN_SCHEMA_KEY: silver_column_schema()},
)
