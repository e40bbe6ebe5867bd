"""The real Definitions load and validate fast (no ``dagster dev``): every asset, job,
sensor and schedule resolves against the resources they need, and every table asset shows
the columns of its contract in the catalog."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from dagster import Definitions, TableSchema

from enrichment_dagster import definitions
from enrichment_dagster.assets.schemas import COLUMN_SCHEMA_KEY
from enrichment_dagster.contracts.output import (
    pass_table_schema,
    silver_ai_columns,
    silver_ai_schema,
)
from enrichment_dagster.contracts.silver import SILVER_SCHEMA
from enrichment_dagster.definitions import build_defs
from enrichment_dagster.gold.schemas import SCHEMAS as GOLD_SCHEMAS
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


#: Every table asset and the contract it is written with; model_consensus writes a report.
CONTRACTS: dict[str, pa.Schema] = {
    "silver": SILVER_SCHEMA,
    **{f"pass{n}": pass_table_schema(n) for n in (1, 2, 3)},
    "silver_ai": silver_ai_schema(),
    **GOLD_SCHEMAS,
}


def _column_schemas() -> dict[str, TableSchema]:
    """``dagster/column_schema`` of every asset of the project's Definitions that has one."""
    return {spec.key.to_user_string(): spec.metadata[COLUMN_SCHEMA_KEY]
            for spec in definitions.defs.resolve_all_asset_specs()
            if COLUMN_SCHEMA_KEY in spec.metadata}


def test_every_table_asset_shows_its_contract_columns() -> None:
    schemas = _column_schemas()
    assert set(schemas) == set(CONTRACTS)
    for name, contract in CONTRACTS.items():
        shown = [(c.name, c.type, c.constraints.nullable) for c in schemas[name].columns]
        assert shown == [(f.name, str(f.type), f.nullable) for f in contract], name


def test_columns_are_described_as_in_the_data_dictionary() -> None:
    schemas = _column_schemas()
    shown = {c.name: c.description for c in schemas["silver_ai"].columns}
    for name, _, meaning, allowed in silver_ai_columns():
        assert shown[name].startswith(meaning), name
        if "|" in allowed:  # a vocabulary: the values are listed, spaced to wrap
            assert allowed.replace("|", " | ") in shown[name], name
    assert shown["ext_salary_min"] == "lowest pay stated, in the unit of salary_period"
    for name in ("silver", "pass1", "pass2", "pass3", *GOLD_SCHEMAS):
        assert all(c.description for c in schemas[name].columns), name
    pass1 = {c.name: c.description for c in schemas["pass1"].columns}
    assert pass1["job_posting_id"] == shown["job_posting_id"]
    assert pass1["cost_usd"].startswith("USD of this run's calls")


def test_descriptions_read_as_plain_text() -> None:
    """The catalog lists a description as written: Markdown symbols would show raw there."""
    for spec in definitions.defs.resolve_all_asset_specs():
        text = spec.description or ""
        assert "`" not in text and text.count("*") <= 1, (spec.key, text)
