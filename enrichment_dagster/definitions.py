"""The one Definitions object of the project."""

from __future__ import annotations

from dagster import Definitions

from enrichment_dagster.assets.consensus import model_consensus
from enrichment_dagster.assets.gold import GOLD_ASSET_DEFS, gold_job
from enrichment_dagster.assets.passes import pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.batch_backfill import batch_backfill_job, batch_backfill_sensor
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.jobs import enrich_job, retry_failed
from enrichment_dagster.resources import (
    LLMResource,
    StorageResource,
    env_or,
    llm_from_env,
    storage_from_env,
)
from enrichment_dagster.sensors import new_silver_partitions
from enrichment_dagster.storage.io_manager import ParquetIOManager


def build_defs(
    storage: StorageResource | None = None,
    llm: LLMResource | None = None,
    quality: QualityThresholds | None = None,
    parquet_io_manager: ParquetIOManager | None = None,
) -> Definitions:
    """The project's Definitions with these resources (None: from the environment, as in
    production). Tests call it with their own storage and backend instead of rebuilding the
    asset list by hand, so what they run is what is deployed."""
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai, model_consensus, *GOLD_ASSET_DEFS],
        jobs=[enrich_job, gold_job, batch_backfill_job],
        sensors=[new_silver_partitions, batch_backfill_sensor],
        schedules=[retry_failed],
        resources={
            "storage": storage or storage_from_env(),
            "llm": llm or llm_from_env(),
            "quality": quality or QualityThresholds(),
            "parquet_io_manager": parquet_io_manager or ParquetIOManager(
                storage_uri=env_or("ENRICHMENT_STORAGE_URI", "./data"),
                s3_endpoint_url=env_or("S3_ENDPOINT_URL", None),
            ),
        },
    )


defs = build_defs()
