"""The real Definitions load and validate fast (no ``dagster dev``): every asset, job,
sensor and schedule resolves against the resources they need."""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from enrichment_dagster import definitions
from enrichment_dagster.definitions import build_defs
from enrichment_dagster.resources import LLMResource, StorageResource


def test_the_project_definitions_are_loadable() -> None:
    Definitions.validate_loadable(definitions.defs)
    repository = definitions.defs.get_repository_def()
    assert {"enrich_job"} <= {job.name for job in repository.get_all_jobs()}
    for job in repository.get_all_jobs():
        assert job.graph is not None  # every job resolves its selection
    assert repository.sensor_defs and repository.schedule_defs


def test_build_defs_takes_the_resources_the_tests_give(tmp_path: Path) -> None:
    storage = StorageResource(storage_uri=str(tmp_path))
    defs = build_defs(storage=storage, llm=LLMResource(backend="heuristic"))
    Definitions.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {"silver", "pass1", "pass2", "pass3", "silver_ai", "model_consensus"} <= keys
