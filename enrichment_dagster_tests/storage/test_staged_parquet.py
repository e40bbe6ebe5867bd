"""Streaming storage: StagedParquet / partition_writer, iter_partition_batches, RowsById,
StorageRoot.staging_path / promote and ParquetIOManager with pre-written partitions, locally
and on moto S3."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, asset, build_output_context, materialize

from enrichment_dagster.partitions import build_hourly_partitions
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.parquet import (
    PART_FILE_NAME,
    PartBatch,
    PartitionNotFoundError,
    PartitionReadError,
    RowsById,
    SchemaMismatchError,
    StagedParquet,
    WrittenPartition,
    iter_partition_batches,
    partition_writer,
    read_partition,
    write_partition,
)
from enrichment_dagster_tests.storage.helpers import (
    names_under,
    parquet_bytes,
    put_file,
    spark_part_name,
)

KEY = "2025-12-10-19:00"
OTHER_KEY = "2025-12-10-18:00"
FOLDER = "pass1/year=2025/month=12/day=10/hour=19"
HOURLY = build_hourly_partitions("2025-12-10-00:00")
SCHEMA = pa.schema(
    [
        pa.field("job_posting_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("n", pa.int64()),
    ],
    metadata={b"contract": b"pass1/v1"},
)


def _chunk(start: int, count: int) -> pa.Table:
    """Rows as a producer makes them: ``n`` as int32, columns out of order, one extra column."""
    ids = list(range(start, start + count))
    return pa.table(
        {
            "n": pa.array(ids, pa.int32()),
            "title": pa.array([f"title {i}" for i in ids], pa.string()),
            "job_posting_id": pa.array([_id(i) for i in ids], pa.string()),
            "scratch": pa.array([True] * count, pa.bool_()),
        }
    )


def _id(index: int) -> str:
    return f"jp-{index:04d}"


def _conformed(table: pa.Table) -> pa.Table:
    """What a chunk is expected to look like in storage."""
    return pa.table(
        {name: table.column(name).cast(SCHEMA.field(name).type) for name in SCHEMA.names},
        schema=SCHEMA,
    )


def _ids(table: pa.Table) -> list[str]:
    return table.column("job_posting_id").to_pylist()


def _open_parquet(root: StorageRoot, relative: str) -> pq.ParquetFile:
    """The stored file, read back through the root's own file system (local or S3)."""
    return pq.ParquetFile(pa.BufferReader(root.read_bytes(root.path(relative))))


@pytest.fixture
def staging_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private temp folder, so S3 staging files of this test alone can be seen."""
    folder = tmp_path / "staging-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _leftover_staging(root: StorageRoot, staging_dir: Path, relative_folder: str) -> list[str]:
    """Staging files still lying around: hidden ``.tmp`` files beside the target locally, any
    file in the temp folder for S3."""
    if root.is_s3:
        return sorted(os.listdir(staging_dir))
    return [name for name in names_under(root, relative_folder) if name.endswith(".tmp")]


def _stage_chunks(root: StorageRoot, chunks: list[pa.Table], key: str = KEY) -> WrittenPartition:
    with partition_writer(root, "pass1", key, SCHEMA) as writer:
        for chunk in chunks:
            writer.write(chunk)
        return writer.commit()


# -- StorageRoot.staging_path / promote ---------------------------------------------------


def test_local_staging_path_is_hidden_beside_the_target(tmp_path: Path) -> None:
    """A local staging file is a fresh hidden ``.name.<hex>.tmp`` in the target's folder."""
    root = StorageRoot(str(tmp_path / "root"))
    target = root.path(FOLDER, PART_FILE_NAME)

    first, second = root.staging_path(target), root.staging_path(target)

    assert first != second
    assert os.path.dirname(first) == os.path.dirname(target)
    assert os.path.isdir(os.path.dirname(first))  # the folder exists, ready for a writer
    name = os.path.basename(first)
    prefix, suffix = f".{PART_FILE_NAME}.", ".tmp"
    assert name.startswith(prefix) and name.endswith(suffix)
    token = name[len(prefix) : -len(suffix)]
    assert len(token) == 32 and int(token, 16) >= 0
    assert not os.path.exists(first)


def test_s3_staging_path_is_a_hidden_file_in_the_temp_folder(staging_dir: Path) -> None:
    """For an S3 root the staging file is local, in the machine's temp folder."""
    root = StorageRoot("s3://some-bucket/root", endpoint_url="http://127.0.0.1:9")
    staging = root.staging_path(root.path(FOLDER, PART_FILE_NAME))
    assert os.path.dirname(staging) == str(staging_dir)
    assert os.path.basename(staging).startswith(f".{PART_FILE_NAME}.")
    assert staging.endswith(".tmp")
    assert root.staging_path(root.path(FOLDER, PART_FILE_NAME)) != staging


def test_promote_replaces_the_target_and_removes_the_staging_file(
    storage_root: StorageRoot, staging_dir: Path
) -> None:
    """``promote`` publishes the staged bytes over an old file and leaves no staging file."""
    target = storage_root.path("folder", "blob.bin")
    storage_root.write_bytes_atomic(target, b"old content")
    staging = storage_root.staging_path(target)
    Path(staging).write_bytes(b"new content, longer")

    storage_root.promote(staging, target)

    assert storage_root.read_bytes(target) == b"new content, longer"
    assert not os.path.exists(staging)
    assert names_under(storage_root, "folder") == ["blob.bin"]
    assert _leftover_staging(storage_root, staging_dir, "folder") == []


def test_failed_promote_still_removes_the_staging_file(tmp_path: Path) -> None:
    """A promotion that fails (target is a folder) raises and does not leak the staging file."""
    root = StorageRoot(str(tmp_path / "root"))
    target = root.path("folder", "blob.bin")
    os.makedirs(os.path.join(target, "inside"))
    staging = root.staging_path(target)
    Path(staging).write_bytes(b"data")

    with pytest.raises(OSError):
        root.promote(staging, target)
    assert not os.path.exists(staging)


# -- StagedParquet / partition_writer -----------------------------------------------------


def test_commit_publishes_one_row_group_per_chunk(
    storage_root: StorageRoot, staging_dir: Path
) -> None:
    """Each non-empty write is one row group; commit returns the file's uri, path, rows, size."""
    chunks = [_chunk(0, 4), _chunk(4, 0), _chunk(4, 3), _chunk(7, 5)]

    written = _stage_chunks(storage_root, chunks)

    target = storage_root.path(FOLDER, PART_FILE_NAME)
    assert written == WrittenPartition(
        storage_root.uri(FOLDER, PART_FILE_NAME), target, 12, written.bytes
    )
    (entry,) = storage_root.list_files(storage_root.path(FOLDER))
    assert entry.path == target and written.bytes == entry.size > 0
    assert _open_parquet(storage_root, f"{FOLDER}/{PART_FILE_NAME}").metadata.num_row_groups == 3
    stored = read_partition(storage_root, "pass1", KEY)
    assert stored.equals(_conformed(pa.concat_tables(chunks)))
    assert _leftover_staging(storage_root, staging_dir, FOLDER) == []


def test_chunks_are_fitted_to_the_schema(storage_root: StorageRoot) -> None:
    """Stored columns have the schema's order, types and metadata; extra columns are dropped."""
    _stage_chunks(storage_root, [_chunk(0, 2), _chunk(2, 2).select(["job_posting_id", "n", "title"])])

    stored = read_partition(storage_root, "pass1", KEY)
    assert stored.schema.equals(SCHEMA, check_metadata=True)
    assert stored.column("n").to_pylist() == [0, 1, 2, 3]


def test_spark_metadata_of_the_schema_is_not_written(tmp_path: Path) -> None:
    """Spark's row metadata in the given schema never reaches the footer; our own does."""
    root = StorageRoot(str(tmp_path / "root"))
    schema = SCHEMA.with_metadata({b"org.apache.spark.sql.parquet.row.metadata": b"{}", b"ours": b"1"})
    with partition_writer(root, "pass1", KEY, schema) as writer:
        writer.write(_chunk(0, 1))
        written = writer.commit()
    metadata = pq.read_schema(written.path).metadata
    assert metadata[b"ours"] == b"1"
    assert not any(key.startswith(b"org.apache.spark") for key in metadata)


def test_add_metadata_lands_in_the_footer(storage_root: StorageRoot) -> None:
    """Key-value metadata added before commit is in the published file's footer."""
    with partition_writer(storage_root, "pass1", KEY, SCHEMA) as writer:
        writer.write(_chunk(0, 2))
        writer.add_metadata({b"run_id": b"abc123"})
        writer.write(_chunk(2, 1))
        writer.commit()
    footer = _open_parquet(storage_root, f"{FOLDER}/{PART_FILE_NAME}").metadata.metadata
    assert footer[b"run_id"] == b"abc123"
    assert footer[b"contract"] == b"pass1/v1"


def test_readers_see_the_old_partition_until_commit(storage_root: StorageRoot) -> None:
    """While chunks are staged, the partition still reads as the old file; after, the new."""
    write_partition(storage_root, "pass1", KEY, _chunk(100, 3), schema=SCHEMA)
    with partition_writer(storage_root, "pass1", KEY, SCHEMA) as writer:
        writer.write(_chunk(0, 5))
        writer.write(_chunk(5, 5))
        assert _ids(read_partition(storage_root, "pass1", KEY)) == [_id(i) for i in range(100, 103)]
        writer.commit()
    assert _ids(read_partition(storage_root, "pass1", KEY)) == [_id(i) for i in range(10)]


def test_leaving_without_commit_publishes_nothing(
    storage_root: StorageRoot, staging_dir: Path
) -> None:
    """Without a commit, a new partition stays absent and no staging file is left behind."""
    with partition_writer(storage_root, "pass1", KEY, SCHEMA) as writer:
        writer.write(_chunk(0, 5))
    writer.abort()  # a second abort is harmless

    with pytest.raises(PartitionNotFoundError):
        read_partition(storage_root, "pass1", KEY)
    assert storage_root.list_files(storage_root.path("pass1")) == []
    assert _leftover_staging(storage_root, staging_dir, FOLDER) == []


def test_failing_chunk_keeps_the_old_partition_and_its_stale_parts(
    storage_root: StorageRoot, staging_dir: Path
) -> None:
    """A chunk that does not fit raises; the old files stay exactly as they were."""
    put_file(storage_root, f"{FOLDER}/{spark_part_name(0)}", parquet_bytes(_chunk(100, 2)))
    put_file(storage_root, f"{FOLDER}/{spark_part_name(1)}", parquet_bytes(_chunk(200, 1)))
    before = sorted(e.version for e in storage_root.list_files(storage_root.path(FOLDER)))

    with pytest.raises(SchemaMismatchError, match="title"):
        with partition_writer(storage_root, "pass1", KEY, SCHEMA) as writer:
            writer.write(_chunk(0, 3))
            writer.write(_chunk(3, 3).drop_columns(["title"]))

    assert sorted(e.version for e in storage_root.list_files(storage_root.path(FOLDER))) == before
    assert sorted(_ids(read_partition(storage_root, "pass1", KEY))) == [
        _id(100), _id(101), _id(200)
    ]
    assert _leftover_staging(storage_root, staging_dir, FOLDER) == []


def test_write_or_commit_after_commit_or_abort_raises(tmp_path: Path) -> None:
    """A finished writer refuses further writes and commits, and the file stays as committed."""
    root = StorageRoot(str(tmp_path / "root"))
    writer = partition_writer(root, "pass1", KEY, SCHEMA)
    writer.write(_chunk(0, 2))
    written = writer.commit()
    content = root.read_bytes(written.path)

    with pytest.raises(RuntimeError):
        writer.write(_chunk(2, 1))
    with pytest.raises(RuntimeError):
        writer.commit()
    assert root.read_bytes(written.path) == content

    aborted = partition_writer(root, "pass1", OTHER_KEY, SCHEMA)
    aborted.abort()
    with pytest.raises(RuntimeError):
        aborted.write(_chunk(0, 1))
    with pytest.raises(RuntimeError):
        aborted.commit()


def test_staged_parquet_at_any_path_runs_after_commit_once_published(
    storage_root: StorageRoot,
) -> None:
    """``after_commit`` runs once, after the file is in place; nothing runs on abort."""
    target = storage_root.path("exports", "all.parquet")
    seen: list[bool] = []
    with StagedParquet(storage_root, target, SCHEMA,
                       after_commit=lambda: seen.append(storage_root.exists(target))) as writer:
        writer.write(_chunk(0, 2))
        written = writer.commit()
    assert seen == [True]
    assert written.uri == storage_root.uri("exports", "all.parquet") and written.rows == 2

    never: list[bool] = []
    with StagedParquet(storage_root, storage_root.path("exports", "x.parquet"), SCHEMA,
                       after_commit=lambda: never.append(True)) as writer:
        writer.write(_chunk(0, 1))
    assert never == []
    assert names_under(storage_root, "exports") == ["all.parquet"]


def test_partition_writer_commit_removes_stale_parts(
    storage_root: StorageRoot, staging_dir: Path
) -> None:
    """After commit the folder's only Parquet file is ``part-00000.parquet``; markers stay."""
    put_file(storage_root, f"{FOLDER}/{spark_part_name(0)}", parquet_bytes(_chunk(100, 2)))
    put_file(storage_root, f"{FOLDER}/{spark_part_name(1)}", parquet_bytes(_chunk(200, 2)))
    put_file(storage_root, f"{FOLDER}/_SUCCESS", b"")

    with partition_writer(storage_root, "pass1", KEY, SCHEMA) as writer:
        writer.write(_chunk(0, 3))
        assert len(names_under(storage_root, FOLDER)) >= 3  # stale parts stay until commit
        writer.commit()

    assert names_under(storage_root, FOLDER) == ["_SUCCESS", PART_FILE_NAME]
    assert _ids(read_partition(storage_root, "pass1", KEY)) == [_id(0), _id(1), _id(2)]
    assert _leftover_staging(storage_root, staging_dir, FOLDER) == []


def test_partition_writer_commit_leaves_no_stale_rows_in_sub_folders(tmp_path: Path) -> None:
    """After commit, a partition reads as the committed rows only, even with a stale
    ``late/`` part file that readers would pick up."""
    root = StorageRoot(str(tmp_path / "root"))
    put_file(root, f"{FOLDER}/late/part-00001.parquet", parquet_bytes(_conformed(_chunk(900, 1))))
    _stage_chunks(root, [_chunk(0, 2)])
    assert _ids(read_partition(root, "pass1", KEY)) == [_id(0), _id(1)]


# -- iter_partition_batches ---------------------------------------------------------------


def test_batches_cover_every_data_file_in_path_order(storage_root: StorageRoot) -> None:
    """Batches of at most ``rows`` rows, per file in path order, with the right offsets."""
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(_conformed(_chunk(0, 7))))
    put_file(storage_root, f"{FOLDER}/late/part-00001.parquet", parquet_bytes(_conformed(_chunk(7, 3))))
    put_file(storage_root, f"{FOLDER}/_SUCCESS", b"")
    put_file(storage_root, f"{FOLDER}/_temporary/0/part-9.parquet", b"half written")

    batches = list(iter_partition_batches(storage_root, "pass1", KEY, 3))

    assert [(b.name, b.offset, b.table.num_rows) for b in batches] == [
        ("late/part-00001.parquet", 0, 3),  # "late/…" sorts before "part-…"
        ("part-00000.parquet", 0, 3),
        ("part-00000.parquet", 3, 3),
        ("part-00000.parquet", 6, 1),
    ]
    assert all(isinstance(b, PartBatch) for b in batches)
    expected = [_id(i) for i in (*range(7, 10), *range(7))]
    assert _ids(pa.concat_tables(b.table for b in batches)) == expected


def test_batch_offsets_index_rows_of_a_file_with_several_row_groups(tmp_path: Path) -> None:
    """Across row groups, ``offset`` is always the index in the file of a batch's first row."""
    root = StorageRoot(str(tmp_path / "root"))
    _stage_chunks(root, [_chunk(0, 4), _chunk(4, 4), _chunk(8, 2)])

    batches = list(iter_partition_batches(root, "pass1", KEY, 3))

    assert all(0 < b.table.num_rows <= 3 for b in batches)
    for batch in batches:
        assert _ids(batch.table) == [_id(batch.offset + i) for i in range(batch.table.num_rows)]
    assert sum(b.table.num_rows for b in batches) == 10


def test_batches_of_a_missing_partition_name_the_folder(storage_root: StorageRoot) -> None:
    """A missing partition raises ``PartitionNotFoundError`` naming its folder."""
    with pytest.raises(PartitionNotFoundError) as info:
        list(iter_partition_batches(storage_root, "pass1", KEY, 10))
    assert storage_root.uri(FOLDER) in str(info.value)


def test_batches_stop_at_a_non_parquet_file_naming_it(storage_root: StorageRoot) -> None:
    """The good file's rows come first, then a ``PartitionReadError`` names the bad file."""
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(_conformed(_chunk(0, 4))))
    put_file(storage_root, f"{FOLDER}/part-00001.parquet", b"these bytes are not Parquet")
    seen: list[str] = []

    with pytest.raises(PartitionReadError) as info:
        for batch in iter_partition_batches(storage_root, "pass1", KEY, 10):
            seen.append(batch.name)

    assert seen == ["part-00000.parquet"]
    assert storage_root.uri(FOLDER, "part-00001.parquet") in str(info.value)


def test_batches_of_a_file_with_a_corrupt_page_name_it(tmp_path: Path) -> None:
    """A valid footer over a corrupt data page is a ``PartitionReadError`` naming the file."""
    root = StorageRoot(str(tmp_path / "root"))
    put_file(root, f"{FOLDER}/part-00000.parquet", _corrupt_column(_conformed(_chunk(0, 50)), "title"))
    with pytest.raises(PartitionReadError, match="part-00000.parquet"):
        list(iter_partition_batches(root, "pass1", KEY, 10))


def _corrupt_column(table: pa.Table, column: str) -> bytes:
    """Parquet bytes of ``table`` whose ``column`` chunk is overwritten; footer intact."""
    data = bytearray(parquet_bytes(table))
    chunk = pq.ParquetFile(pa.BufferReader(bytes(data))).metadata.row_group(0).column(
        table.column_names.index(column)
    )
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    return bytes(data)


# -- RowsById -----------------------------------------------------------------------------


def _expected_rows(all_rows: pa.Table, ids: list[str]) -> list[dict[str, object]]:
    """The rows of ``ids`` in ``ids`` order, once each, unknown ids skipped."""
    by_id = {row["job_posting_id"]: row for row in all_rows.to_pylist()}
    return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]


def test_take_across_row_groups_keeps_the_order_of_ids(storage_root: StorageRoot) -> None:
    """Ids from several row groups, in any order, come back in that order, once each."""
    chunks = [_chunk(start, 5) for start in range(0, 20, 5)]
    _stage_chunks(storage_root, chunks)
    assert _open_parquet(storage_root, f"{FOLDER}/{PART_FILE_NAME}").metadata.num_row_groups == 4
    stored = _conformed(pa.concat_tables(chunks))
    ids = [_id(17), _id(2), _id(18), "unknown", _id(9), _id(2), _id(0), _id(19), _id(10)]

    with RowsById(storage_root, "pass1", KEY) as rows:
        taken = rows.take(ids)
        assert _id(19) in rows and "unknown" not in rows

    assert taken.schema.equals(SCHEMA)
    assert taken.to_pylist() == _expected_rows(stored, ids)
    assert _ids(taken) == [_id(i) for i in (17, 2, 18, 9, 0, 19, 10)]


def test_take_from_a_file_written_whole(storage_root: StorageRoot) -> None:
    """A file with one row group (``write_partition``) serves ids in any order."""
    table = _conformed(_chunk(0, 30))
    write_partition(storage_root, "pass1", KEY, table, schema=SCHEMA)
    ids = [_id(29), _id(0), _id(15), _id(0), "missing"]

    with RowsById(storage_root, "pass1", KEY) as rows:
        assert rows.take(ids).to_pylist() == _expected_rows(table, ids)
        assert rows.take([_id(3)]).to_pylist() == _expected_rows(table, [_id(3)])


def test_take_from_several_part_files(tmp_path: Path) -> None:
    """Ids spread over several part files (Spark's layout) are all found, in order."""
    root = StorageRoot(str(tmp_path / "root"))
    first, second = _conformed(_chunk(0, 6)), _conformed(_chunk(6, 6))
    put_file(root, f"{FOLDER}/{spark_part_name(0)}", parquet_bytes(first))
    put_file(root, f"{FOLDER}/late/{spark_part_name(1)}", parquet_bytes(second))
    ids = [_id(11), _id(1), _id(6), _id(5)]

    with RowsById(root, "pass1", KEY) as rows:
        taken = rows.take(ids)
    assert taken.to_pylist() == _expected_rows(pa.concat_tables([first, second]), ids)


def test_take_reads_only_the_row_groups_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids from one row group read that group alone, and once for consecutive calls."""
    root = StorageRoot(str(tmp_path / "root"))
    _stage_chunks(root, [_chunk(start, 5) for start in range(0, 25, 5)])
    reads: list[int] = []
    original: Callable[..., pa.Table] = pq.ParquetFile.read_row_group

    def counting(self: pq.ParquetFile, i: int, *args: object, **kwargs: object) -> pa.Table:
        reads.append(i)
        return original(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    with RowsById(root, "pass1", KEY) as rows:
        assert reads == []  # opening reads only the id column
        assert _ids(rows.take([_id(12), _id(10)])) == [_id(12), _id(10)]
        assert _ids(rows.take([_id(14)])) == [_id(14)]
        assert reads == [2]
        assert _ids(rows.take([_id(21), _id(3)])) == [_id(21), _id(3)]
        assert sorted(reads) == [0, 2, 4]


def test_take_of_no_known_id_is_an_empty_table_with_the_schema(storage_root: StorageRoot) -> None:
    """Nothing found gives zero rows with the stored schema, not an error."""
    _stage_chunks(storage_root, [_chunk(0, 3)])
    with RowsById(storage_root, "pass1", KEY) as rows:
        for ids in ([], ["nope", "nada"]):
            taken = rows.take(ids)
            assert taken.num_rows == 0 and taken.schema.equals(SCHEMA)


def test_rows_by_id_of_a_missing_partition_names_the_folder(storage_root: StorageRoot) -> None:
    """Opening a missing partition raises ``PartitionNotFoundError`` naming its folder."""
    with pytest.raises(PartitionNotFoundError) as info:
        RowsById(storage_root, "pass1", KEY)
    assert storage_root.uri(FOLDER) in str(info.value)


def test_rows_by_id_of_a_non_parquet_file_names_it(storage_root: StorageRoot) -> None:
    """A file that is not Parquet is a ``PartitionReadError`` naming that file."""
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(_conformed(_chunk(0, 2))))
    put_file(storage_root, f"{FOLDER}/part-00001.parquet", b"not parquet")
    with pytest.raises(PartitionReadError) as info:
        RowsById(storage_root, "pass1", KEY)
    assert storage_root.uri(FOLDER, "part-00001.parquet") in str(info.value)


def test_take_from_a_corrupt_row_group_names_the_file(tmp_path: Path) -> None:
    """A row group that cannot be read at ``take`` is a ``PartitionReadError`` naming the file."""
    root = StorageRoot(str(tmp_path / "root"))
    put_file(root, f"{FOLDER}/part-00000.parquet", _corrupt_column(_conformed(_chunk(0, 50)), "title"))
    with RowsById(root, "pass1", KEY) as rows:
        with pytest.raises(PartitionReadError, match="part-00000.parquet"):
            rows.take([_id(3)])


def test_rows_by_id_with_a_corrupt_id_column_names_the_file(tmp_path: Path) -> None:
    """A corrupt id column chunk is a ``PartitionReadError`` naming the file, as elsewhere."""
    root = StorageRoot(str(tmp_path / "root"))
    corrupt = _corrupt_column(_conformed(_chunk(0, 50)), "job_posting_id")
    put_file(root, f"{FOLDER}/part-00000.parquet", corrupt)
    with pytest.raises(PartitionReadError, match="part-00000.parquet"):
        RowsById(root, "pass1", KEY)


# -- ParquetIOManager with partitions written already --------------------------------------


def _io_manager(root: StorageRoot) -> ParquetIOManager:
    return ParquetIOManager(storage_uri=root.root_uri, s3_endpoint_url=root.endpoint_url)


def _output_context(key: str = KEY):  # noqa: ANN202 - Dagster's OutputContext
    return build_output_context(asset_key="pass1", partition_key=key, asset_partitions_def=HOURLY)


def test_io_manager_records_a_partition_written_already(storage_root: StorageRoot) -> None:
    """A ``WrittenPartition`` is recorded as metadata and the file is not written again."""
    written = _stage_chunks(storage_root, [_chunk(0, 4), _chunk(4, 2)])
    before = storage_root.list_files(storage_root.path(FOLDER))
    context = _output_context()

    _io_manager(storage_root).handle_output(context, written)

    metadata = {name: value.value for name, value in context.get_logged_metadata().items()}
    assert metadata == {"path": storage_root.uri(FOLDER, PART_FILE_NAME), "rows": 6,
                        "bytes": written.bytes}
    assert storage_root.list_files(storage_root.path(FOLDER)) == before


def test_io_manager_accepts_a_one_entry_dict_of_written_partitions(tmp_path: Path) -> None:
    """``{partition_key: WrittenPartition}`` for a one-partition run is accepted too."""
    root = StorageRoot(str(tmp_path / "root"))
    written = _stage_chunks(root, [_chunk(0, 3)])
    context = _output_context()
    _io_manager(root).handle_output(context, {KEY: written})
    assert context.get_logged_metadata()["rows"].value == 3


@pytest.mark.parametrize("where", ["other partition", "other dataset", "other root", "other name"])
def test_io_manager_refuses_a_file_that_is_not_the_partitions_own(
    tmp_path: Path, where: str
) -> None:
    """A file written anywhere but this partition's ``part-00000.parquet`` under the IO
    manager's root is a ``ValueError``, and nothing is recorded."""
    root = StorageRoot(str(tmp_path / "root"))
    if where == "other partition":
        written = _stage_chunks(root, [_chunk(0, 1)], key=OTHER_KEY)
    elif where == "other dataset":
        with partition_writer(root, "pass2", KEY, SCHEMA) as writer:
            writer.write(_chunk(0, 1))
            written = writer.commit()
    elif where == "other root":
        written = _stage_chunks(StorageRoot(str(tmp_path / "elsewhere")), [_chunk(0, 1)])
    else:
        with StagedParquet(root, root.path(FOLDER, "part-00001.parquet"), SCHEMA) as writer:
            writer.write(_chunk(0, 1))
            written = writer.commit()
    context = _output_context()

    with pytest.raises(ValueError, match="partition 2025-12-10-19:00") as info:
        _io_manager(root).handle_output(context, written)

    assert written.uri in str(info.value)
    assert root.uri(FOLDER, PART_FILE_NAME) in str(info.value)
    assert context.get_logged_metadata() == {}


def test_range_run_records_each_written_partition_on_its_own_event(tmp_path: Path) -> None:
    """A range run outputting a written file for one hour and a table for another
    materializes each hour with its own path, rows and bytes."""
    root = StorageRoot(str(tmp_path / "root"))
    sizes = {OTHER_KEY: 3, KEY: 5}
    written: dict[str, WrittenPartition] = {}

    @asset(name="pass1", partitions_def=HOURLY)
    def streamed() -> dict[str, object]:  # Dagster refuses unions here
        written[OTHER_KEY] = _stage_chunks(root, [_chunk(0, 2), _chunk(2, 1)], key=OTHER_KEY)
        return {OTHER_KEY: written[OTHER_KEY], KEY: _conformed(_chunk(0, sizes[KEY]))}

    result = materialize(
        [streamed],
        resources={"io_manager": _io_manager(root)},
        instance=DagsterInstance.ephemeral(),
        tags={"dagster/asset_partition_range_start": OTHER_KEY,
              "dagster/asset_partition_range_end": KEY},
    )

    assert result.success
    events = {m.partition: m.metadata for m in result.asset_materializations_for_node("pass1")}
    assert sorted(events) == [OTHER_KEY, KEY]
    for key, rows in sizes.items():
        folder = "pass1/year=2025/month=12/day=10/hour=" + key[-5:-3]
        assert events[key]["path"].value == root.uri(folder, PART_FILE_NAME)
        assert events[key]["rows"].value == rows
        assert read_partition(root, "pass1", key).num_rows == rows
    assert events[OTHER_KEY]["bytes"].value == written[OTHER_KEY].bytes
