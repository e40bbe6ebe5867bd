"""ParquetIOManager through ``dagster.materialize``, on a local folder and on moto S3."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from dagster import (
    AssetIn,
    AssetSpec,
    DagsterInstance,
    TimeWindowPartitionMapping,
    asset,
    materialize,
)

from enrichment_dagster.partitions import build_hourly_partitions
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.parquet import PART_FILE_NAME, read_partition
from enrichment_dagster.storage.partition_keys import partition_key_to_path
from enrichment_dagster_tests.storage.helpers import parquet_bytes, put_file, spark_part_name

KEY = "2025-12-10-19:00"
HOURLY = build_hourly_partitions("2025-12-10-00:00")
SILVER = AssetSpec("silver", partitions_def=HOURLY)


@asset(partitions_def=HOURLY)
def pass1(silver: pa.Table) -> pa.Table:
    return silver.append_column("ext_len", pc.utf8_length(silver.column("title")))


@asset(partitions_def=HOURLY)
def pass2(pass1: pa.Table) -> pa.Table:
    return pass1.select(["id", "ext_len"])


def _io_manager(root: StorageRoot) -> ParquetIOManager:
    return ParquetIOManager(storage_uri=root.root_uri, s3_endpoint_url=root.endpoint_url)


def _seed_silver(root: StorageRoot, key: str = KEY) -> None:
    """Two Spark part files plus a _SUCCESS marker, as upstream lands them."""
    folder = f"silver/{partition_key_to_path(key)}"
    for index, (ids, titles) in enumerate([([1, 2], ["ab", "abc"]), ([3], ["abcd"])]):
        table = pa.table({"id": ids, "title": titles})
        put_file(root, f"{folder}/{spark_part_name(index)}", parquet_bytes(table))
    put_file(root, f"{folder}/_SUCCESS", b"")


def test_round_trip_through_materialize(storage_root: StorageRoot) -> None:
    _seed_silver(storage_root)

    result = materialize(
        [SILVER, pass1, pass2],
        partition_key=KEY,
        resources={"io_manager": _io_manager(storage_root)},
        instance=DagsterInstance.ephemeral(),
    )

    assert result.success
    relative = ("pass1", "year=2025/month=12/day=10/hour=19", PART_FILE_NAME)
    expected = storage_root.uri(*relative)
    metadata = result.asset_materializations_for_node("pass1")[0].metadata
    assert metadata["path"].value == expected
    assert metadata["rows"].value == 3
    assert metadata["bytes"].value > 0
    assert storage_root.exists(storage_root.path(*relative))
    stored = read_partition(storage_root, "pass2", KEY)
    assert stored.column_names == ["id", "ext_len"]
    assert sorted(stored.column("ext_len").to_pylist()) == [2, 3, 4]


def test_unpartitioned_asset_is_refused(tmp_path: Path) -> None:
    @asset
    def unpartitioned() -> pa.Table:
        return pa.table({"a": [1]})

    with pytest.raises(Exception) as info:
        materialize(
            [unpartitioned],
            resources={"io_manager": _io_manager(_local(tmp_path))},
            instance=DagsterInstance.ephemeral(),
        )
    assert "only handles hourly-partitioned assets" in _messages(info.value)


def test_non_table_output_is_refused(tmp_path: Path) -> None:
    @asset(partitions_def=HOURLY)
    def wrong() -> dict:
        return {"a": [1]}

    with pytest.raises(Exception) as info:
        materialize(
            [wrong],
            partition_key=KEY,
            resources={"io_manager": _io_manager(_local(tmp_path))},
            instance=DagsterInstance.ephemeral(),
        )
    assert "stores pyarrow.Table outputs" in _messages(info.value)


def test_input_spanning_two_partitions_is_a_dict(tmp_path: Path) -> None:
    root = _local(tmp_path)
    _seed_silver(root, "2025-12-10-18:00")
    _seed_silver(root, KEY)

    @asset(
        partitions_def=HOURLY,
        ins={"silver": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-1))},
    )
    def two_hours(silver: dict[str, pa.Table]) -> pa.Table:
        assert sorted(silver) == ["2025-12-10-18:00", KEY]
        return pa.concat_tables(silver.values())

    result = materialize(
        [SILVER, two_hours],
        partition_key=KEY,
        resources={"io_manager": _io_manager(root)},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    assert read_partition(root, "two_hours", KEY).num_rows == 6


def _local(tmp_path: Path) -> StorageRoot:
    return StorageRoot(str(tmp_path / "root"))


def _messages(exc: BaseException | None) -> str:
    """The messages of an exception and its causes (Dagster wraps IO manager errors)."""
    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # chains can loop
        seen.add(id(exc))
        parts.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)
