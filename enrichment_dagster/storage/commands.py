"""``enrichment athena-ddl``: the Athena table over silver_ai, generated from the contract.

Why generated: silver_ai has ~340 columns that change with the contracts. A hand-written DDL
drifts from the Parquet files, and Athena then fails at query time on a type mismatch or
silently reads a renamed column as NULL. Here the column list and types come from
:func:`~enrichment_dagster.contracts.output.silver_ai_schema`, the same schema every
partition is written with.

Why partition projection: an hourly table gains 8,760 partitions a year. With projection
Athena computes the partition locations from the ``year=/month=/day=/hour=`` template, so
nobody runs ``MSCK REPAIR TABLE`` or a Glue crawler after each hour, and a new partition is
queryable the moment its Parquet file lands. The partition columns are strings because the
folder names are zero-padded (``month=03``); ``projection.<col>.digits`` makes Athena
generate the same padding. Filter on them as strings: ``WHERE year = '2025' AND month = '12'``.
"""

from __future__ import annotations

import argparse
import re
import sys

import pyarrow as pa

from enrichment_dagster import env
from enrichment_dagster.errors import InputError

#: Hive-style partition columns of every dataset under the storage root, outermost first.
PARTITION_COLUMNS: tuple[str, ...] = ("year", "month", "day", "hour")

#: Years the projection covers by default: from the first partition's year, this many on.
#: A query over a year outside the range returns no rows, so the README says how to widen it
#: (``ALTER TABLE ... SET TBLPROPERTIES ('projection.year.range'='2025,2045')``).
DEFAULT_PROJECTED_YEARS = 10

_INTEGER_PROJECTIONS: dict[str, tuple[int, int]] = {
    "month": (1, 12),
    "day": (1, 31),
    "hour": (0, 23),
}

_PRIMITIVES: tuple[tuple[pa.DataType, str], ...] = (
    (pa.string(), "string"),
    (pa.large_string(), "string"),
    (pa.bool_(), "boolean"),
    (pa.int8(), "tinyint"),
    (pa.int16(), "smallint"),
    (pa.int32(), "int"),
    (pa.int64(), "bigint"),
    (pa.float32(), "float"),
    (pa.float64(), "double"),
    (pa.date32(), "date"),
    (pa.binary(), "binary"),
)


def hive_type(arrow_type: pa.DataType) -> str:
    """The Hive/Athena DDL type that reads a Parquet column written with ``arrow_type``.

    Raises ``ValueError`` for a type without a mapping, so that a new column type forces a
    decision here instead of producing a table Athena cannot read.
    """
    for candidate, name in _PRIMITIVES:
        if arrow_type == candidate:
            return name
    if pa.types.is_timestamp(arrow_type):
        # Hive has one timestamp type; the unit and UTC flag are read from the Parquet file.
        return "timestamp"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"array<{hive_type(arrow_type.value_type)}>"
    if pa.types.is_struct(arrow_type):
        members = ",".join(f"{field.name}:{hive_type(field.type)}" for field in arrow_type)
        return f"struct<{members}>"
    if pa.types.is_map(arrow_type):
        return f"map<{hive_type(arrow_type.key_type)},{hive_type(arrow_type.item_type)}>"
    raise ValueError(f"no Hive/Athena type for Arrow type {arrow_type}")


_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_]{1,255}$")
#: Years a projection may cover: four digits, as the partition folders are named.
_YEARS = (1000, 9999)


def check_identifier(name: str, what: str) -> str:
    """A Glue/Athena database or table name: 1-255 letters, digits or underscores."""
    if not isinstance(name, str) or not _IDENTIFIER_RE.match(name):
        raise InputError(f"{what} {name!r} is invalid: expected 1-255 letters, digits or _")
    return name


def check_location(location: str, what: str = "--location") -> str:
    """``s3://bucket/prefix`` with a bucket, no empty segment and nothing a literal refuses."""
    env.check_s3_uri(location, what)
    if "'" in location or "\\" in location or "`" in location:
        raise InputError(f"{what} {location!r} is invalid: quote or backslash in the location")
    return location


def _argument(check, what: str):  # type: ignore[no-untyped-def]
    def parse(value: str) -> str:
        try:
            return check(value, what)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _quote(name: str) -> str:
    if "`" in name:
        raise ValueError(f"backtick in identifier {name!r}")
    return f"`{name}`"


def _literal(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"quote or backslash in DDL literal {value!r}")
    return f"'{value}'"


def default_first_year() -> int:
    """Year of the first hourly partition (the same setting the partitions definition reads)."""
    # Imported here: partitions imports Dagster, which `enrichment --help` should not pay for.
    from enrichment_dagster.storage.partition_keys import DEFAULT_PARTITIONS_START

    return int(env.partitions_start(DEFAULT_PARTITIONS_START)[:4])


def default_location(table: str) -> str | None:
    """``<ENRICHMENT_STORAGE_URI>/<table>/`` when the storage root is on S3, else None."""
    root = env.storage_uri()  # a malformed value fails here, naming the variable
    if not root.startswith("s3://"):
        return None
    return check_location(f"{root.rstrip('/')}/{table}/", env.STORAGE_URI_ENV)


def athena_ddl(
    schema: pa.Schema,
    location: str,
    table: str = "silver_ai",
    database: str | None = None,
    first_year: int | None = None,
    last_year: int | None = None,
) -> str:
    """``CREATE EXTERNAL TABLE`` for a dataset written as ``year=/month=/day=/hour=`` Parquet.

    ``location`` is the dataset's folder (``s3://bucket/prefix/silver_ai/``); the projection
    template appends the partition folders to it.
    """
    check_location(location, "location")
    check_identifier(table, "table")
    if database is not None:
        check_identifier(database, "database")
    clashes = [name for name in schema.names if name.lower() in PARTITION_COLUMNS]
    if clashes:
        raise ValueError(f"data columns clash with the partition columns: {clashes}")
    first = default_first_year() if first_year is None else first_year
    last = first + DEFAULT_PROJECTED_YEARS if last_year is None else last_year
    if last < first:
        raise InputError(f"last year {last} is before first year {first}")
    if not (_YEARS[0] <= first and last <= _YEARS[1]):
        raise InputError(f"projection years {first},{last} are outside {_YEARS[0]}..{_YEARS[1]}")
    base = location.rstrip("/")

    name = _quote(table) if database is None else f"{_quote(database)}.{_quote(table)}"
    columns = ",\n".join(f"  {_quote(field.name)} {hive_type(field.type)}" for field in schema)
    partitions = ", ".join(f"{_quote(column)} string" for column in PARTITION_COLUMNS)
    template = base + "/" + "/".join(f"{c}=${{{c}}}" for c in PARTITION_COLUMNS)
    properties: list[tuple[str, str]] = [
        ("projection.enabled", "true"),
        ("projection.year.type", "integer"),
        ("projection.year.range", f"{first},{last}"),
    ]
    for column, (low, high) in _INTEGER_PROJECTIONS.items():
        properties += [
            (f"projection.{column}.type", "integer"),
            (f"projection.{column}.range", f"{low},{high}"),
            (f"projection.{column}.digits", "2"),
        ]
    properties.append(("storage.location.template", template))
    props = ",\n".join(f"  {_literal(key)}={_literal(value)}" for key, value in properties)
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {name} (\n{columns}\n)\n"
        f"PARTITIONED BY ({partitions})\n"
        "STORED AS PARQUET\n"
        f"LOCATION {_literal(base + '/')}\n"
        f"TBLPROPERTIES (\n{props}\n);\n"
    )


def _parse_years(value: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in value.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected FIRST,LAST (e.g. 2025,2035), got {value!r}"
        ) from exc
    if not (_YEARS[0] <= first <= last <= _YEARS[1]):
        raise argparse.ArgumentTypeError(
            f"expected FIRST <= LAST, both in {_YEARS[0]}..{_YEARS[1]}, got {value!r}"
        )
    return first, last


def _run_athena_ddl(args: argparse.Namespace) -> int:
    from enrichment_dagster.contracts.output import silver_ai_schema

    location = args.location or default_location(args.table)
    if location is None:
        print(
            "enrichment: athena-ddl: give --location s3://bucket/prefix/silver_ai/ "
            "(ENRICHMENT_STORAGE_URI is not an s3:// root)",
            file=sys.stderr,
        )
        return 2
    first, last = args.years if args.years else (None, None)
    try:
        ddl = athena_ddl(
            silver_ai_schema(),
            location=location,
            table=args.table,
            database=args.database,
            first_year=first,
            last_year=last,
        )
    except ValueError as exc:
        print(f"enrichment: athena-ddl: {exc}", file=sys.stderr)
        return 2
    print(ddl, end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "athena-ddl",
        help="print CREATE EXTERNAL TABLE for silver_ai (Athena, partition projection)",
        description=(
            "Print the Athena DDL of silver_ai, generated from the output contract, with "
            "partition projection over year=/month=/day=/hour= (no MSCK REPAIR needed)."
        ),
    )
    parser.add_argument(
        "--location",
        type=_argument(check_location, "--location"),
        help="s3:// folder of the table (default: $ENRICHMENT_STORAGE_URI/<table>/ when on S3)",
    )
    parser.add_argument(
        "--table",
        type=_argument(check_identifier, "--table"),
        default="silver_ai",
        help="table name (default: silver_ai)",
    )
    parser.add_argument(
        "--database",
        type=_argument(check_identifier, "--database"),
        help="Glue/Athena database to create the table in",
    )
    parser.add_argument(
        "--years",
        type=_parse_years,
        help=(
            "FIRST,LAST years the projection covers (default: the first partition's year "
            f"and the {DEFAULT_PROJECTED_YEARS} after it)"
        ),
    )
    parser.set_defaults(handler=_run_athena_ddl)
