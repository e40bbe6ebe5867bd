"""``enrichment athena-ddl``: valid Hive/Athena DDL whose columns are silver_ai's, in order."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from enrichment_dagster.cli import main
from enrichment_dagster.contracts.output import silver_ai_schema
from enrichment_dagster.storage.commands import PARTITION_COLUMNS, athena_ddl, hive_type

LOCATION = "s3://enrichment-data/prod/silver_ai/"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["athena-ddl", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _properties(create: exp.Create) -> dict[str, str]:
    found = {}
    for prop in create.args["properties"].expressions:
        if type(prop) is exp.Property and isinstance(prop.this, exp.Literal):
            found[prop.this.this] = prop.args["value"].this
    return found


@pytest.mark.parametrize("dialect", ["athena", "hive"])
def test_cli_output_parses_and_has_silver_ai_columns(
    capsys: pytest.CaptureFixture[str], dialect: str
) -> None:
    code, ddl, err = _run(capsys, "--location", LOCATION, "--database", "enrichment")
    assert code == 0, err
    create = sqlglot.parse_one(ddl, read=dialect)
    assert isinstance(create, exp.Create)
    assert create.args["kind"] == "TABLE"
    assert any(isinstance(p, exp.ExternalProperty) for p in create.args["properties"].expressions)

    table = create.this.this
    assert (table.db, table.name) == ("enrichment", "silver_ai")
    schema = silver_ai_schema()
    columns = create.this.expressions
    assert [column.name for column in columns] == schema.names
    # Every column's type as sqlglot read it back equals the mapping of its Arrow type.
    for column, field in zip(columns, schema, strict=True):
        read_back = column.kind.sql("hive").replace(" ", "").lower()
        assert read_back == hive_type(field.type).lower(), field.name

    (partitioned,) = [
        p for p in create.args["properties"].expressions if isinstance(p, exp.PartitionedByProperty)
    ]
    partitions = partitioned.this.expressions
    assert [column.name for column in partitions] == list(PARTITION_COLUMNS)
    assert {column.kind.sql("hive") for column in partitions} == {"STRING"}

    (file_format,) = [
        p for p in create.args["properties"].expressions if isinstance(p, exp.FileFormatProperty)
    ]
    assert file_format.this.name.upper() == "PARQUET"
    (location,) = [
        p for p in create.args["properties"].expressions if isinstance(p, exp.LocationProperty)
    ]
    assert location.this.this == LOCATION


def test_partition_projection_matches_the_storage_layout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, ddl, _ = _run(capsys, "--location", LOCATION.rstrip("/"), "--years", "2025,2030")
    assert code == 0
    props = _properties(sqlglot.parse_one(ddl, read="hive"))
    assert props["projection.enabled"] == "true"
    assert props["projection.year.type"] == "integer"
    assert props["projection.year.range"] == "2025,2030"
    for column, expected_range in (("month", "1,12"), ("day", "1,31"), ("hour", "0,23")):
        assert props[f"projection.{column}.type"] == "integer"
        assert props[f"projection.{column}.range"] == expected_range
        # Zero-padded like the folders: month=03, hour=07.
        assert props[f"projection.{column}.digits"] == "2"
    assert props["storage.location.template"] == (
        "s3://enrichment-data/prod/silver_ai/year=${year}/month=${month}/day=${day}/hour=${hour}"
    )


def test_location_defaults_to_the_s3_storage_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHMENT_STORAGE_URI", "s3://enrichment-data/prod/")
    monkeypatch.setenv("ENRICHMENT_PARTITIONS_START", "2024-06-01-00:00")
    code, ddl, _ = _run(capsys, "--table", "silver_ai")
    assert code == 0
    props = _properties(sqlglot.parse_one(ddl, read="athena"))
    assert props["storage.location.template"].startswith("s3://enrichment-data/prod/silver_ai/")
    assert props["projection.year.range"] == "2024,2034"


def test_without_an_s3_location_it_refuses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICHMENT_STORAGE_URI", "./data")
    code, out, err = _run(capsys)
    assert code == 2 and out == ""
    assert "--location" in err
    code, out, err = _run(capsys, "--location", "/tmp/silver_ai")
    assert code == 2 and "s3://" in err


@pytest.mark.parametrize(
    ("arrow_type", "hive"),
    [
        (pa.string(), "string"),
        (pa.bool_(), "boolean"),
        (pa.int32(), "int"),
        (pa.int64(), "bigint"),
        (pa.float64(), "double"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.timestamp("us", tz="UTC"), "timestamp"),
        (pa.date32(), "date"),
        (pa.list_(pa.string()), "array<string>"),
        (pa.list_(pa.list_(pa.int64())), "array<array<bigint>>"),
        (
            pa.struct([("a", pa.string()), ("b", pa.list_(pa.int32()))]),
            "struct<a:string,b:array<int>>",
        ),
    ],
)
def test_arrow_to_hive_types(arrow_type: pa.DataType, hive: str) -> None:
    assert hive_type(arrow_type) == hive


def test_unmapped_types_and_clashing_columns_are_errors() -> None:
    with pytest.raises(ValueError, match="no Hive/Athena type"):
        hive_type(pa.duration("s"))
    clashing = pa.schema([("id", pa.string()), ("hour", pa.int32())])
    with pytest.raises(ValueError, match="clash"):
        athena_ddl(clashing, LOCATION)
