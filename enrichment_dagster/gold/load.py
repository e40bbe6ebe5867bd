"""Read the silver_ai columns a Gold table needs, for a range of days, into one Arrow table.

Why pyarrow and explicit files rather than DuckDB's ``read_parquet('…/**/*.parquet')``:
DuckDB's hive discovery types a partition column from the folder names it sees, and once a
zero-padded folder such as ``hour=05`` exists ``hour`` becomes VARCHAR and ``hour >= 19``
fails. Here every file is named by its partition key (``list_partitions``) and the day and
hour are added as typed columns from the key, so no folder name is ever parsed as a type.
The same code reads a local folder and ``s3://`` through the project's ``StorageRoot``
(pyarrow's S3 file system), with column projection, and needs no DuckDB extension (httpfs
would be downloaded at run time, which an offline or locked-down machine cannot do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.rules.geo import US_STATES, posting_country
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import is_ignored_name, list_partitions, partition_folder

DATASET = "silver_ai"
#: Columns every Gold table reads besides its own: identity, success flags, errors, place.
BASE_COLUMNS: tuple[str, ...] = (
    "job_posting_id", "pass1_success", "pass2_success", "pass3_success", "enrichment_errors",
    "country_code", "job_location",
)
_STATE_CODES = frozenset(US_STATES.values())


@dataclass(frozen=True)
class Loaded:
    """The rows read and the hourly partitions they came from."""

    table: pa.Table
    partitions: list[str]


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def us_state(country: str | None, location: str | None) -> str | None:
    """Two-letter US state of a US posting ("Austin, TX", "New Jersey, United States")."""
    if country != "US" or not location:
        return None
    for part in (p.strip() for p in location.split(",")):
        if len(part) == 2 and part.upper() in _STATE_CODES:
            return part.upper()
        if part.lower() in US_STATES:
            return US_STATES[part.lower()]
    return None


def hour_keys(root: StorageRoot, first: dt.date, last: dt.date) -> list[str]:
    """silver_ai partition keys (``YYYY-MM-DD-HH:00``) of the days first..last that exist."""
    wanted = {d.isoformat() for d in days_between(first, last)}
    return [key for key in list_partitions(root, DATASET) if key[:10] in wanted]


def _read_hour(root: StorageRoot, key: str, columns: Sequence[str]) -> pa.Table:
    folder = partition_folder(root, DATASET, key)
    tables = []
    for entry in sorted(root.list_files(folder, recursive=False), key=lambda e: e.path):
        if is_ignored_name(entry.name) or not entry.name.endswith(".parquet"):
            continue
        with root.fs.open_input_file(entry.path) as handle:
            tables.append(pq.ParquetFile(handle).read(columns=list(columns)))
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def load_silver_ai(root: StorageRoot, first: dt.date, last: dt.date,
                   columns: Sequence[str]) -> Loaded:
    """The wanted columns of every silver_ai hour from ``first`` to ``last`` (inclusive),
    plus typed ``day`` (date) and ``hour`` (int) from the partition key and the posting's
    ``country`` / ``us_state`` (the same location rule the heuristic backend uses)."""
    wanted = list(dict.fromkeys([*BASE_COLUMNS, *columns]))
    keys = hour_keys(root, first, last)
    parts = []
    for key in keys:
        table = _read_hour(root, key, wanted)
        if table is None:
            continue
        day = dt.date.fromisoformat(key[:10])
        n = table.num_rows
        table = table.append_column("day", pa.array([day] * n, pa.date32()))
        table = table.append_column("hour", pa.array([int(key[11:13])] * n, pa.int32()))
        parts.append(table)
    if parts:
        table = pa.concat_tables(parts, promote_options="permissive")
    else:
        table = _empty(wanted)
    codes = table.column("country_code").to_pylist()
    locations = table.column("job_location").to_pylist()
    countries = [posting_country(c, loc) for c, loc in zip(codes, locations, strict=True)]
    states = [us_state(c, loc) for c, loc in zip(countries, locations, strict=True)]
    table = table.append_column("country", pa.array(countries, pa.string()))
    table = table.append_column("us_state", pa.array(states, pa.string()))
    return Loaded(table, keys)


def _empty(columns: Sequence[str]) -> pa.Table:
    from enrichment_dagster.contracts.output import silver_ai_schema

    schema = silver_ai_schema()
    fields = [schema.field(name) for name in columns]
    fields += [pa.field("day", pa.date32()), pa.field("hour", pa.int32())]
    return pa.schema(fields).empty_table()
