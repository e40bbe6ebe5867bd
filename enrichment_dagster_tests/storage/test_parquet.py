"""read_partition / write_partition / list_partitions, locally and on moto S3."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import (
    PART_FILE_NAME,
    PartitionNotFoundError,
    PartitionReadError,
    SchemaMismatchError,
    list_partitions,
    read_partition,
    write_partition,
)
from enrichment_dagster_tests.fakes.s3 import MotoS3
from enrichment_dagster_tests.storage.helpers import (
    names_under,
    parquet_bytes,
    put_file,
    spark_part_name,
)

KEY = "2025-12-10-19:00"
FOLDER = "silver/year=2025/month=12/day=10/hour=19"
SPARK_PARTITION = "silver/year=2025/month=12/day=10/hour=19"


def _rows(start: int, count: int) -> pa.Table:
    ids = list(range(start, start + count))
    return pa.table({"id": pa.array(ids, pa.int64()), "title": [f"job {i}" for i in ids]})


# -- reading ------------------------------------------------------------------------------


def test_reads_every_spark_part_file_and_skips_markers(storage_root: StorageRoot) -> None:
    put_file(storage_root, f"{FOLDER}/{spark_part_name(0)}", parquet_bytes(_rows(0, 3)))
    put_file(storage_root, f"{FOLDER}/{spark_part_name(1)}", parquet_bytes(_rows(3, 2)))
    put_file(storage_root, f"{FOLDER}/{spark_part_name(2)}", parquet_bytes(_rows(5, 0)))
    put_file(storage_root, f"{FOLDER}/_SUCCESS", b"")
    put_file(storage_root, f"{FOLDER}/_committed_8491", b"{}")
    put_file(storage_root, f"{FOLDER}/.part-00000.snappy.parquet.crc", b"crc!")
    put_file(storage_root, f"{FOLDER}/_temporary/0/part-9.parquet", b"half written")

    table = read_partition(storage_root, "silver", KEY)

    assert table.num_rows == 5
    assert sorted(table.column("id").to_pylist()) == [0, 1, 2, 3, 4]


def test_part_files_with_different_schemas_are_unified(storage_root: StorageRoot) -> None:
    full = pa.table({"id": pa.array([1], pa.int32()), "salary": [100.0], "city": ["Austin"]})
    narrow = pa.table({"id": pa.array([2], pa.int64()), "city": ["Boston"]})
    put_file(storage_root, f"{FOLDER}/part-00000-a.parquet", parquet_bytes(full))
    put_file(storage_root, f"{FOLDER}/part-00001-b.parquet", parquet_bytes(narrow))

    table = read_partition(storage_root, "silver", KEY)

    assert table.schema.field("id").type == pa.int64()
    assert table.column("salary").to_pylist() == [100.0, None]
    assert table.column("city").to_pylist() == ["Austin", "Boston"]


def test_part_schemas_beyond_promotion_are_unified_as_text(tmp_path: Path) -> None:
    """A scalar in one part file and a list in another: no row is lost, both become text
    (contracts.drift.unify_tables); a reader with a contract fits each file instead."""
    root = StorageRoot(str(tmp_path))
    put_file(root, f"{FOLDER}/part-0.parquet", parquet_bytes(pa.table({"id": [1]})))
    put_file(root, f"{FOLDER}/part-1.parquet", parquet_bytes(pa.table({"id": [[1, 2]]})))
    assert read_partition(root, "silver", KEY).column("id").to_pylist() == ["1", "[1, 2]"]


def test_a_zero_row_file_alone_is_a_valid_partition(storage_root: StorageRoot) -> None:
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(_rows(0, 0)))
    table = read_partition(storage_root, "silver", KEY)
    assert table.num_rows == 0 and table.column_names == ["id", "title"]


def test_non_parquet_file_is_an_error_naming_it(storage_root: StorageRoot) -> None:
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(_rows(0, 2)))
    put_file(storage_root, f"{FOLDER}/notes.txt", b"not parquet at all")
    with pytest.raises(PartitionReadError) as info:
        read_partition(storage_root, "silver", KEY)
    assert storage_root.uri(FOLDER, "notes.txt") in str(info.value)


def test_corrupt_parquet_is_an_error_naming_it(storage_root: StorageRoot) -> None:
    good = parquet_bytes(_rows(0, 50))
    corrupt = good[:4] + b"\x00" * (len(good) - 12) + good[-8:]  # magic intact, body zeroed
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", good)
    put_file(storage_root, f"{FOLDER}/part-00001.parquet", corrupt)
    with pytest.raises(PartitionReadError) as info:
        read_partition(storage_root, "silver", KEY)
    assert storage_root.uri(FOLDER, "part-00001.parquet") in str(info.value)


def test_truncated_parquet_is_an_error_naming_it(storage_root: StorageRoot) -> None:
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(_rows(0, 50))[:-20])
    with pytest.raises(PartitionReadError, match="part-00000.parquet"):
        read_partition(storage_root, "silver", KEY)


def test_missing_partition_names_the_path(storage_root: StorageRoot) -> None:
    with pytest.raises(PartitionNotFoundError) as info:
        read_partition(storage_root, "silver", KEY)
    assert storage_root.uri(FOLDER) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_empty_or_marker_only_folder_is_not_found(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    Path(root.path(FOLDER)).mkdir(parents=True)
    with pytest.raises(PartitionNotFoundError, match="hour=19"):
        read_partition(root, "silver", KEY)
    put_file(root, f"{FOLDER}/_SUCCESS", b"")
    with pytest.raises(PartitionNotFoundError, match="_SUCCESS"):
        read_partition(root, "silver", KEY)


def test_real_spark_partition(shared_data: Path) -> None:
    root = StorageRoot(str(shared_data))
    table = read_partition(root, "silver", KEY)
    _assert_is_the_real_partition(table)


def test_real_spark_partition_on_s3(shared_data: Path, moto_s3: MotoS3) -> None:
    root = StorageRoot(moto_s3.storage_uri(), endpoint_url=moto_s3.endpoint_url)
    for source in (shared_data / SPARK_PARTITION).iterdir():
        put_file(root, f"{SPARK_PARTITION}/{source.name}", source.read_bytes())
    put_file(root, f"{SPARK_PARTITION}/_SUCCESS", b"")
    _assert_is_the_real_partition(read_partition(root, "silver", KEY))
    assert list(list_partitions(root, "silver")) == [KEY]


def _assert_is_the_real_partition(table: pa.Table) -> None:
    assert (table.num_rows, table.num_columns) == (84, 33)
    # Spark's INT96 read at microseconds: nanoseconds would wrap Spark's sentinel dates.
    assert table.schema.field("scraped_at").type == pa.timestamp("us")
    assert table.schema.field("job_posted_date_only").type == pa.date32()
    assert table.schema.field("skills_canonical").type == pa.list_(pa.string())
    assert table.column("job_posting_id").null_count == 0


# -- writing ------------------------------------------------------------------------------


def test_write_round_trip_leaves_one_file_and_no_temp(storage_root: StorageRoot) -> None:
    table = _rows(0, 10)
    written = write_partition(storage_root, "pass1", KEY, table)

    folder = "pass1/year=2025/month=12/day=10/hour=19"
    assert written.uri == storage_root.uri(folder, PART_FILE_NAME)
    assert written.rows == 10 and written.bytes > 0
    assert names_under(storage_root, folder) == [PART_FILE_NAME]
    assert read_partition(storage_root, "pass1", KEY).equals(table)


def test_overwrite_replaces_the_partition_and_removes_stale_parts(
    storage_root: StorageRoot,
) -> None:
    folder = "pass1/year=2025/month=12/day=10/hour=19"
    put_file(storage_root, f"{folder}/{spark_part_name(0)}", parquet_bytes(_rows(100, 5)))
    put_file(storage_root, f"{folder}/{spark_part_name(1)}", parquet_bytes(_rows(200, 5)))
    write_partition(storage_root, "pass1", KEY, _rows(0, 3))
    write_partition(storage_root, "pass1", KEY, _rows(0, 4))

    assert names_under(storage_root, folder) == [PART_FILE_NAME]
    assert read_partition(storage_root, "pass1", KEY).column("id").to_pylist() == [0, 1, 2, 3]


def test_a_reader_never_sees_a_partial_partition(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    small, large = _rows(0, 10), _rows(0, 20_000)
    write_partition(root, "pass1", KEY, small)
    seen: set[int] = set()
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                seen.add(read_partition(root, "pass1", KEY).num_rows)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for turn in range(30):
            write_partition(root, "pass1", KEY, large if turn % 2 else small)
    finally:
        done.set()
        thread.join()
    assert errors == []
    assert seen and seen <= {10, 20_000}


def test_schema_is_applied_on_write(storage_root: StorageRoot) -> None:
    schema = pa.schema(
        [pa.field("title", pa.string()), pa.field("id", pa.int32(), nullable=False)],
        metadata={b"contract": b"pass1/v1"},
    )
    table = _rows(0, 3).append_column("extra", pa.array([1, 2, 3]))
    write_partition(storage_root, "pass1", KEY, table, schema=schema)

    back = read_partition(storage_root, "pass1", KEY)
    assert back.schema.equals(schema, check_metadata=True)
    assert back.column("id").to_pylist() == [0, 1, 2]


def test_uncastable_column_is_named(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    schema = pa.schema([("id", pa.int64()), ("title", pa.int64())])
    with pytest.raises(SchemaMismatchError, match="'title'"):
        write_partition(root, "pass1", KEY, _rows(0, 2), schema=schema)
    assert not (tmp_path / "pass1").exists()


def test_missing_column_and_null_in_required_field_fail(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    with pytest.raises(SchemaMismatchError, match="salary"):
        write_partition(root, "pass1", KEY, _rows(0, 2), schema=pa.schema([("salary", "f8")]))
    required = pa.schema([pa.field("title", pa.string(), nullable=False)])
    with_null = pa.table({"title": ["a", None]})
    with pytest.raises(SchemaMismatchError, match="not nullable"):
        write_partition(root, "pass1", KEY, with_null, schema=required)


def test_spark_metadata_is_not_copied_into_our_files(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    table = _rows(0, 1).replace_schema_metadata(
        {b"org.apache.spark.sql.parquet.row.metadata": b"{}", b"ours": b"kept"}
    )
    written = write_partition(root, "silver_ai", KEY, table)
    metadata = pq.read_schema(written.path).metadata
    assert b"ours" in metadata
    assert not any(k.startswith(b"org.apache.spark") for k in metadata)


# -- listing ------------------------------------------------------------------------------


def test_list_partitions_finds_exactly_the_readable_partitions(
    storage_root: StorageRoot,
) -> None:
    data = parquet_bytes(_rows(0, 1))
    for key_path in ("day=10/hour=19", "day=10/hour=20", "day=11/hour=00"):
        put_file(storage_root, f"silver/year=2025/month=12/{key_path}/part-0.parquet", data)
    put_file(storage_root, "silver/year=2025/month=12/day=12/hour=01/_SUCCESS", b"")
    put_file(storage_root, "silver/year=2025/month=12/day=12/hour=02/.part-0.parquet", data)
    put_file(storage_root, "silver/year=2025/month=12/day=12/hour=3/part-0.parquet", data)
    put_file(storage_root, "silver/_temporary/0/year=2025/month=12/day=13/hour=00/p.parquet", data)
    put_file(storage_root, "silver/readme/part-0.parquet", data)
    put_file(storage_root, "pass1/year=2025/month=12/day=14/hour=00/part-0.parquet", data)

    assert sorted(list_partitions(storage_root, "silver")) == [
        "2025-12-10-19:00",
        "2025-12-10-20:00",
        "2025-12-11-00:00",
    ]
    assert list_partitions(storage_root, "silver_ai") == {}


def test_partition_version_changes_only_when_files_change(storage_root: StorageRoot) -> None:
    write_partition(storage_root, "silver", KEY, _rows(0, 2))
    write_partition(storage_root, "silver", "2025-12-10-20:00", _rows(0, 2))
    first = list_partitions(storage_root, "silver")
    assert list_partitions(storage_root, "silver") == first

    write_partition(storage_root, "silver", KEY, _rows(0, 3))
    second = list_partitions(storage_root, "silver")
    assert second[KEY] != first[KEY]
    assert second["2025-12-10-20:00"] == first["2025-12-10-20:00"]

    put_file(storage_root, f"{FOLDER}/{spark_part_name(1)}", parquet_bytes(_rows(9, 1)))
    assert list_partitions(storage_root, "silver")[KEY] != second[KEY]


def test_list_partitions_lists_the_dataset_once(
    storage_root: StorageRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = parquet_bytes(_rows(0, 1))
    for hour in range(24):
        put_file(storage_root, f"silver/year=2025/month=12/day=10/hour={hour:02d}/p.parquet", data)
    calls: list[str] = []
    original = storage_root.list_files

    def counting(fs_path: str, recursive: bool = True, start_after: str | None = None) -> list:
        calls.append(fs_path)
        return original(fs_path, recursive, start_after)

    monkeypatch.setattr(storage_root, "list_files", counting)
    assert len(list_partitions(storage_root, "silver")) == 24
    assert calls == [storage_root.path("silver")]
