"""The one Definitions object of the project."""

from __future__ import annotations

from dagster import Definitions

from enrichment_dagster.assets.consensus import model_consensus
from enrichment_dagster.assets.gold import GOLD_ASSET_DEFS, gold_job
from enrichment_dagster.assets.passes import pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.jobs import enrich_job, retry_failed
from enrichment_dagster.resources import env_or, llm_from_env, storage_from_env
from enrichment_dagster.sensors import new_silver_partitions
from enrichment_dagster.storage.io_manager import ParquetIOManager

defs = Definitions(
    assets=[silver, pass1, pass2, pass3, silver_ai, model_consensus, *GOLD_ASSET_DEFS],
    jobs=[enrich_job, gold_job],
    sensors=[new_silver_partitions],
    schedules=[retry_failed],
    resources={
        "storage": storage_from_env(),
        "llm": llm_from_env(),
        "quality": QualityThresholds(),
        "parquet_io_manager": ParquetIOManager(
            storage_uri=env_or("ENRICHMENT_STORAGE_URI", "./data"),
            s3_endpoint_url=env_or("S3_ENDPOINT_URL", None),
        ),
    },
)
