"""The one Definitions object of the project."""

from __future__ import annotations

import warnings

from dagster import BetaWarning, Definitions, in_process_executor

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
    defs = Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai, model_consensus, *GOLD_ASSET_DEFS],
        # A run's steps are a chain (pass1 -> pass2 -> pass3 -> silver_ai) and the pool is
        # held per run, so a process per step buys no parallelism; it cost 2-3 s of start-up
        # per step, 3x the run time of a small partition (docs/benchmarks.md, 4.1). A crashing
        # step fails the run either way: nothing downstream of it can run.
        executor=in_process_executor,
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
    _resolve_quietly(defs)
    return defs


def _resolve_quietly(defs: Definitions) -> None:
    """Resolve ``defs`` now, without the one warning Dagster raises on its own behalf.

    Resolving re-creates each sensor whose job still needs resources
    (``batch_backfill_sensor`` -> ``batch_backfill_job``) and passes the sensor's ``owners``
    along, ``[]`` when none were set, which Dagster 1.13's beta-parameter check counts as
    used: every process loading the definitions (the code server, each run, each step)
    printed a BetaWarning about owners no sensor of ours sets. Dagster caches the resolved
    repository on the object and its loaders ask the object for it, so resolving here, with
    exactly that warning ignored, is resolving once; any other warning still shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"Parameter `owners` of initializer `SensorDefinition\.__init__`",
            category=BetaWarning,
        )
        defs.get_repository_def()


defs = build_defs()
