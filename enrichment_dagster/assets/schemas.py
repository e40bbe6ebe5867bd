"""``dagster/column_schema`` of every table asset, built from the contracts.

The catalog's column table (name, type, description) is where people browse the ~350
columns of silver_ai, so it must be the contract itself rather than a copy that drifts:
names and types come from the Arrow schema each table is written with, descriptions from
the contract that documents it, the same text as ``docs/data_dictionary.md``. The contracts
import nothing from Dagster; this module is the one place that turns them into Dagster
metadata, for the enrichment assets and for Gold alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

import pyarrow as pa
from dagster import TableColumn, TableColumnConstraints, TableSchema

from enrichment_dagster.contracts.columns import pass_columns
from enrichment_dagster.contracts.output import (
    PASS_TELEMETRY,
    pass_table_schema,
    silver_ai_columns,
    silver_ai_schema,
)
from enrichment_dagster.contracts.silver import SILVER_SCHEMA
from enrichment_dagster.gold.schemas import SCHEMAS as GOLD_SCHEMAS

#: The metadata key under which the UI looks for a table's columns.
COLUMN_SCHEMA_KEY = "dagster/column_schema"

#: Allowed-value labels that only restate the type (``string``, ``[string]``, ``bool`` ...):
#: the UI already shows the type, so only vocabularies and ranges are worth appending.
_TYPE_ONLY_LABEL = re.compile(r"^\[?(?:bool|int|number|string)?\]?$")


def table_schema(schema: pa.Schema, descriptions: Mapping[str, str] | None = None) -> TableSchema:
    """The columns of ``schema`` in order, typed as Arrow prints them.

    A column's description is ``descriptions[name]`` when given, else the field's own
    ``description`` metadata (how the Gold schemas carry theirs), else empty.
    """
    columns = []
    for field in schema:
        own = (field.metadata or {}).get(b"description", b"").decode()
        columns.append(TableColumn(
            field.name,
            str(field.type),
            description=(descriptions or {}).get(field.name) or own or None,
            constraints=TableColumnConstraints(nullable=field.nullable),
        ))
    return TableSchema(columns=columns)


def described(meaning: str, allowed: str) -> str:
    """A column's meaning with its allowed values when they say more than its type
    (spaced around ``|`` so a long vocabulary wraps in the UI's table)."""
    if _TYPE_ONLY_LABEL.match(allowed):
        return meaning
    return f"{meaning}; allowed: {allowed.replace('|', ' | ')}"


@cache
def _silver_ai_descriptions() -> dict[str, str]:
    """What the data dictionary says of every silver_ai column (Silver's included)."""
    return {name: described(meaning, allowed) for name, _, meaning, allowed in silver_ai_columns()}


def silver_column_schema() -> TableSchema:
    """Silver as the enrichment reads it (``SILVER_SCHEMA``: Spark's ``timestamp[ns]`` is
    read as ``timestamp[us]``), described as in the data dictionary."""
    return table_schema(SILVER_SCHEMA, _silver_ai_descriptions())


def pass_column_schema(pass_number: int) -> TableSchema:
    """A pass table: the posting key, the pass's columns, then the per-record telemetry."""
    descriptions = {"job_posting_id": _silver_ai_descriptions()["job_posting_id"]}
    descriptions |= {c.name: described(c.description, c.allowed) for c in pass_columns(pass_number)}
    descriptions |= {m.name: described(m.description, m.allowed) for m in PASS_TELEMETRY}
    return table_schema(pass_table_schema(pass_number), descriptions)


def silver_ai_column_schema() -> TableSchema:
    """Every silver_ai column, with the data dictionary's meaning and allowed values."""
    return table_schema(silver_ai_schema(), _silver_ai_descriptions())


def gold_column_schema(asset_name: str) -> TableSchema:
    """A Gold table, from the Arrow schema it is written with (descriptions in its fields)."""
    return table_schema(GOLD_SCHEMAS[asset_name])
