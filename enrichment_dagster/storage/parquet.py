"""Read and write one hourly partition of a dataset as Parquet, locally or on S3.

Layout: ``{root}/{dataset}/year=YYYY/month=MM/day=DD/hour=HH/`` (see ``partitions.py``).

Reading accepts what Spark writes: any number of part files
(``part-00000-<uuid>.c000.snappy.parquet``), also in sub-folders of the partition folder
(``hour=08/late/part-….parquet``: Spark and Hive read a partition recursively), beside
``_SUCCESS``, ``_committed_*``, ``.crc`` and other hidden or underscore-prefixed files and
folders (``_temporary/``, ``.spark-staging-*/``), which are skipped, as Spark, Hive and
Athena skip them. Anything else must be Parquet: a stray file is an error that names it,
never silently dropped rows. Part files whose schemas differ slightly (a column missing in
one file, ``int32`` vs ``int64``) are unified; missing columns become nulls. Callers that
must fit drifting types to a contract read the files one by one
(:func:`read_partition_parts`) and say which file a value came from.

INT96 timestamps (Spark's default before 3.4) are read at microsecond precision: Arrow's
default, nanoseconds, silently wraps Spark's sentinel dates (``9999-12-31``,
``0001-01-01``) into wrong years, and ``timestamp[us]`` is the contract type anyway.
:func:`count_partition_rows` reads only the footers: the number of rows in storage,
independent of what any reader made of them.

Writing produces exactly one file, ``part-00000.parquet``, atomically (see
``filesystem.StorageRoot.write_bytes_atomic``), then deletes any other ``*.parquet`` in the
folder, e.g. from an older layout with several part files. A folder is therefore complete at
every instant except for that short clean-up window after a rewrite, in which a listing can
still include a stale part file; ``read_partition`` retries when a listed file vanishes
under it. Temp files of a crashed local write are hidden (``.part-00000.parquet.<id>.tmp``)
and ignored by every reader.

Types are stored as given: the Arrow schema is the contract, and the assets cast to it before
returning. Note that pyarrow stores ``timestamp[ns]`` as Parquet ``TIMESTAMP(NANOS)``, which
Athena/Trino and DuckDB read but Spark before 3.4 does not; a contract that must be read by an
old Spark should use ``timestamp[us]``. Spark's own schema metadata
(``org.apache.spark.*``) is dropped on write: a file we write is not a Spark file, and a
stale Spark row schema in its footer would make Spark ignore our real columns.

No Dagster import: the engine and the CLI use this module directly.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.contracts.drift import unify_tables
from enrichment_dagster.storage.filesystem import FileEntry, StorageRoot, discard_staging
from enrichment_dagster.storage.partition_keys import partition_key_to_path, path_to_partition_key

PART_FILE_NAME = "part-00000.parquet"
_PARTITION_DEPTH = 4  # year=/month=/day=/hour=
_READ_ATTEMPTS = 3
_ARROW_READ_ERRORS = (pa.ArrowException, OSError)
_ARROW_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class StorageError(Exception):
    """Base class of the storage errors, so callers can catch them together."""


class PartitionNotFoundError(StorageError, FileNotFoundError):
    """The partition folder is missing or holds no data file (Spark has not landed it yet)."""


class PartitionReadError(StorageError):
    """A file in the partition folder is not readable Parquet, or the parts do not fit."""


class SchemaMismatchError(StorageError, ValueError):
    """A table cannot be made to fit the schema it is written with."""


@dataclass(frozen=True)
class WrittenPartition:
    """What ``write_partition`` wrote: for logs and Dagster metadata."""

    uri: str
    path: str
    rows: int
    bytes: int


def is_ignored_name(name: str) -> bool:
    """Files that Spark/Hadoop/Hive readers skip: hidden, underscore-prefixed, ``.crc``."""
    return name.startswith((".", "_")) or name.endswith(".crc")


def is_ignored_path(relative: str) -> bool:
    """A path under a partition folder that readers skip: an ignored name at any level
    (``_temporary/0/part-1.parquet``, ``.spark-staging-1/x.parquet``, ``late/_SUCCESS``)."""
    return any(is_ignored_name(part) for part in relative.split("/") if part)


def partition_folder(root: StorageRoot, dataset: str, partition_key: str) -> str:
    """The ``fs`` path of one partition's folder."""
    return root.path(dataset, partition_key_to_path(partition_key))


# -- reading ------------------------------------------------------------------------------


def read_partition(root: StorageRoot, dataset: str, partition_key: str) -> pa.Table:
    """All rows of one partition, from every Parquet part file under its folder.

    Raises ``PartitionNotFoundError`` when the folder is missing or has no data file, and
    ``PartitionReadError`` naming the file when one is not Parquet or is corrupt.
    """
    folder = partition_folder(root, dataset, partition_key)
    parts = read_partition_parts(root, dataset, partition_key)
    return _concat(root, folder, [part.table for part in parts])


@dataclass(frozen=True)
class PartitionPart:
    """One data file of a partition as read: ``name`` is its path inside the partition
    folder (``part-00000.parquet``, ``late/part-00001.parquet``), ``uri`` its full address."""

    name: str
    uri: str
    table: pa.Table


def read_partition_parts(root: StorageRoot, dataset: str, partition_key: str,
                         columns: Sequence[str] | None = None) -> list[PartitionPart]:
    """Every data file of one partition, read but not concatenated, in path order.

    Same files and errors as :func:`read_partition`; for callers that fit each file to a
    contract before combining them and report problems by file. ``columns``: only those
    (see :func:`read_partition_columns`).
    """
    folder = partition_folder(root, dataset, partition_key)
    for attempt in range(1, _READ_ATTEMPTS + 1):
        data_files = _data_files(root, folder, dataset, partition_key)
        try:
            return [PartitionPart(_relative(folder, entry.path), root.display(entry.path),
                                  _read_file(root, entry.path, columns)) for entry in data_files]
        except FileNotFoundError:
            # A writer replaced the partition between our listing and our read: list again.
            if attempt == _READ_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def read_partition_columns(
    root: StorageRoot, dataset: str, partition_key: str, columns: Iterable[str]
) -> pa.Table:
    """The wanted ``columns`` of one partition, from the same files as :func:`read_partition`.

    Only those column chunks are read (a range request each on S3), which matters on a
    350-column table. A wanted column that a file lacks (one written before the column
    existed) is left out rather than failing the read: the caller decides what its absence
    means. Same errors as :func:`read_partition`.
    """
    parts = read_partition_parts(root, dataset, partition_key, list(dict.fromkeys(columns)))
    return _concat(root, partition_folder(root, dataset, partition_key), [p.table for p in parts])


def count_partition_rows(root: StorageRoot, dataset: str, partition_key: str) -> int:
    """The rows stored in one partition, from the Parquet footers only (no data is read).

    The same files as :func:`read_partition`, so a completeness check can compare what was
    written downstream with what is in storage, not with what a reader kept of it.
    """
    folder = partition_folder(root, dataset, partition_key)
    for attempt in range(1, _READ_ATTEMPTS + 1):
        data_files = _data_files(root, folder, dataset, partition_key)
        try:
            return sum(_footer_rows(root, entry.path) for entry in data_files)
        except FileNotFoundError:
            if attempt == _READ_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class PartBatch:
    """Rows of one data file of a partition, read in order: ``name`` as in
    :class:`PartitionPart`, ``offset`` the index of the first row within that file."""

    name: str
    offset: int
    table: pa.Table


def iter_partition_batches(root: StorageRoot, dataset: str, partition_key: str,
                           rows: int) -> Iterator[PartBatch]:
    """Every data file of one partition, ``rows`` rows at a time, in path order.

    The same files and errors as :func:`read_partition_parts`, but at most one batch is in
    memory at once. A file that vanishes mid-stream raises ``FileNotFoundError``: what was
    yielded before came from the old version, so the caller starts over (a reader of a
    whole partition cannot mix two versions of it).
    """
    folder = partition_folder(root, dataset, partition_key)
    for entry in _data_files(root, folder, dataset, partition_key):
        name, offset = _relative(folder, entry.path), 0
        with _parquet_file(root, entry.path) as parquet:  # maps read errors, naming the file
            for batch in parquet.iter_batches(batch_size=rows):
                yield PartBatch(name, offset, pa.Table.from_batches([batch]))
                offset += batch.num_rows


class RowsById:
    """The rows of one stored partition, fetched by id a row group at a time.

    How a streaming step reads an upstream table without holding it: the id column is read
    whole (a few MB for 50,000 rows), then :meth:`take` reads only the row groups holding
    the wanted ids. Tables written by ``partition_writer`` have one row group per chunk in
    the order of the run's snapshot, so a chunk's rows are usually one row group, which is
    kept for the next call; any other order (an upstream written by an earlier run, before
    Silver changed) is still found, only with more reads. A file written whole has one row
    group, read once. Use as a context manager (the files stay open).
    """

    def __init__(self, root: StorageRoot, dataset: str, partition_key: str, key_column: str = "job_posting_id") -> None:
        self._stack = ExitStack()
        self._files: list[pq.ParquetFile] = []
        self._names: list[str] = []
        self._where: dict[str, tuple[int, int, int]] = {}  # id -> (file, row group, row in group)
        self._cached: tuple[tuple[int, int], pa.Table] | None = None
        folder = partition_folder(root, dataset, partition_key)
        try:
            for entry in _data_files(root, folder, dataset, partition_key):
                parquet = self._stack.enter_context(_parquet_file(root, entry.path))
                file_index = len(self._files)
                self._files.append(parquet)
                self._names.append(root.display(entry.path))
                try:
                    ids = parquet.read(columns=[key_column]).column(key_column).to_pylist()
                except _ARROW_READ_ERRORS as exc:
                    raise PartitionReadError(f"cannot read {self._names[-1]} as Parquet: {exc}") from exc
                starts = [0]
                for group in range(parquet.metadata.num_row_groups):
                    starts.append(starts[-1] + parquet.metadata.row_group(group).num_rows)
                group = 0
                for row, record_id in enumerate(ids):
                    while row >= starts[group + 1]:
                        group += 1
                    self._where.setdefault(record_id, (file_index, group, row - starts[group]))
        except BaseException:
            self._stack.close()
            raise

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._where

    def take(self, ids: Sequence[str]) -> pa.Table:
        """The rows of ``ids`` that the partition holds, in the order of ``ids``."""
        wanted = [self._where[record_id] for record_id in dict.fromkeys(ids) if record_id in self._where]
        pieces: list[pa.Table] = []
        run: list[int] = []
        current: tuple[int, int] | None = None
        for file_index, group, row in wanted:
            if (file_index, group) != current:
                if current is not None:
                    pieces.append(self._group(current).take(pa.array(run, pa.int64())))
                current, run = (file_index, group), []
            run.append(row)
        if current is not None:
            pieces.append(self._group(current).take(pa.array(run, pa.int64())))
        if not pieces:  # a partition has at least one file (``_data_files``)
            return self._files[0].schema_arrow.empty_table()
        return pa.concat_tables(pieces, promote_options="permissive")

    def _group(self, where: tuple[int, int]) -> pa.Table:
        if self._cached is None or self._cached[0] != where:
            try:
                table = self._files[where[0]].read_row_group(where[1])
            except _ARROW_READ_ERRORS as exc:
                raise PartitionReadError(f"cannot read {self._names[where[0]]} as Parquet: {exc}") from exc
            self._cached = (where, table)
        return self._cached[1]

    def close(self) -> None:
        self._cached = None
        self._stack.close()

    def __enter__(self) -> RowsById:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _relative(folder: str, fs_path: str) -> str:
    """``fs_path`` inside ``folder`` (``late/part-1.parquet``)."""
    prefix = folder.rstrip("/") + "/"
    return fs_path[len(prefix):] if fs_path.startswith(prefix) else fs_path


def _data_files(root: StorageRoot, folder: str, dataset: str, key: str) -> list[FileEntry]:
    entries = root.list_files(folder, recursive=True)
    data = sorted((e for e in entries if not is_ignored_path(_relative(folder, e.path))),
                  key=lambda e: e.path)
    if not data:
        detail = f" (only {sorted(_relative(folder, e.path) for e in entries)})" if entries else ""
        raise PartitionNotFoundError(
            f"partition {key} of {dataset!r} not found: no data files in "
            f"{root.display(folder)}{detail}"
        )
    return data


@contextmanager
def _parquet_file(root: StorageRoot, fs_path: str) -> Iterator[pq.ParquetFile]:
    """The file opened as Parquet; anything unreadable is a ``PartitionReadError`` naming
    it (a vanished file stays ``FileNotFoundError``: the caller lists again)."""
    try:
        with root.fs.open_input_file(fs_path) as handle:
            yield pq.ParquetFile(handle, coerce_int96_timestamp_unit="us")
    except FileNotFoundError:
        raise
    except _ARROW_READ_ERRORS as exc:
        raise PartitionReadError(f"cannot read {root.display(fs_path)} as Parquet: {exc}") from exc


def _read_file(root: StorageRoot, fs_path: str, columns: Sequence[str] | None = None) -> pa.Table:
    """The whole file, or its ``columns`` that exist in it."""
    with _parquet_file(root, fs_path) as parquet:
        if columns is None:
            return parquet.read()
        present = set(parquet.schema_arrow.names)
        return parquet.read(columns=[name for name in columns if name in present])


def _footer_rows(root: StorageRoot, fs_path: str) -> int:
    with _parquet_file(root, fs_path) as parquet:
        return parquet.metadata.num_rows


def _concat(root: StorageRoot, folder: str, tables: list[pa.Table]) -> pa.Table:
    if len(tables) == 1:
        return tables[0]
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except _ARROW_CAST_ERRORS:
        pass
    try:  # types that disagree beyond promotion (ns vs us with zone, double vs string)
        return pa.concat_tables(unify_tables(tables), promote_options="permissive")
    except _ARROW_CAST_ERRORS as exc:
        raise PartitionReadError(
            f"part files in {root.display(folder)} have incompatible schemas: {exc}"
        ) from exc


# -- writing ------------------------------------------------------------------------------


def write_partition(
    root: StorageRoot,
    dataset: str,
    partition_key: str,
    table: pa.Table,
    schema: pa.Schema | None = None,
) -> WrittenPartition:
    """Replace one partition with ``table`` as a single ``part-00000.parquet``, atomically.

    With ``schema``, the table is first made to match it exactly (see ``conform_to_schema``)
    so that every partition of a dataset has the same schema, also for all-null columns.
    """
    if schema is not None:
        table = conform_to_schema(table, schema)
    table = _without_spark_metadata(table)
    data = _to_parquet_bytes(table)
    folder = partition_folder(root, dataset, partition_key)
    target = posixpath.join(folder, PART_FILE_NAME)
    root.write_bytes_atomic(target, data)
    _remove_stale_parts(root, folder, keep=target)
    return WrittenPartition(root.display(target), target, table.num_rows, len(data))


class StagedParquet:
    """A Parquet file written a chunk at a time and published whole by :meth:`commit`.

    Why: a partition of 50,000 postings is too large to hold as one table, and readers must
    still never see part of it. Each :meth:`write` appends a row group to a staging file
    (``StorageRoot.staging_path``); :meth:`commit` publishes it atomically
    (``StorageRoot.promote``). Leaving the ``with`` block without a commit (an error, a
    blocking check) removes the staging file and leaves the old file, if any, in place.
    Every chunk is fitted to ``schema`` (``conform_to_schema``), so the row groups agree.
    """

    def __init__(self, root: StorageRoot, fs_path: str, schema: pa.Schema,
                 after_commit: Callable[[], None] | None = None) -> None:
        self.root, self.fs_path, self.schema = root, fs_path, _without_spark_metadata(schema.empty_table()).schema
        self.rows = 0
        self._after_commit = after_commit
        self._staging = root.staging_path(fs_path)
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self._staging, self.schema, compression="snappy")

    def write(self, table: pa.Table) -> None:
        """Append ``table`` as one row group (an empty table writes nothing)."""
        if self._writer is None:
            raise RuntimeError(f"{self.root.display(self.fs_path)}: write after commit or abort")
        if table.num_rows:
            self._writer.write_table(conform_to_schema(table, self.schema))
            self.rows += table.num_rows

    def add_metadata(self, metadata: dict[bytes, bytes]) -> None:
        """Key-value metadata for the file's footer (written at commit)."""
        if self._writer is None:
            raise RuntimeError(f"{self.root.display(self.fs_path)}: metadata after commit or abort")
        self._writer.add_key_value_metadata(metadata)

    def commit(self) -> WrittenPartition:
        """Publish the file; returns what was written."""
        if self._writer is None:
            raise RuntimeError(f"{self.root.display(self.fs_path)}: committed or aborted already")
        self._writer.close()
        self._writer = None
        size = os.path.getsize(self._staging)
        self.root.promote(self._staging, self.fs_path)
        if self._after_commit is not None:
            self._after_commit()
        return WrittenPartition(self.root.display(self.fs_path), self.fs_path, self.rows, size)

    def abort(self) -> None:
        """Drop what was staged (nothing is published); safe to call twice."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        discard_staging(self._staging)

    def __enter__(self) -> StagedParquet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


def partition_writer(root: StorageRoot, dataset: str, partition_key: str, schema: pa.Schema) -> StagedParquet:
    """A :class:`StagedParquet` for one partition's ``part-00000.parquet``: after the commit
    the partition holds that file alone, as after :func:`write_partition`."""
    folder = partition_folder(root, dataset, partition_key)
    target = posixpath.join(folder, PART_FILE_NAME)
    return StagedParquet(root, target, schema, after_commit=lambda: _remove_stale_parts(root, folder, keep=target))


def conform_to_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, order, types and metadata.

    Extra columns are dropped; a missing column, a failed cast or a null in a non-nullable
    field raises ``SchemaMismatchError`` naming the column, because writing it anyway would
    give one partition a schema different from the others.
    """
    present = set(table.column_names)  # one list: ``column_names`` builds a new one per call
    missing = [name for name in schema.names if name not in present]
    if missing:
        raise SchemaMismatchError(f"table lacks columns of the schema: {missing}")
    arrays = [_conform_column(table.column(field.name), field) for field in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _conform_column(column: pa.ChunkedArray, field: pa.Field) -> pa.ChunkedArray:
    if column.type != field.type:
        try:
            column = column.cast(field.type)
        except _ARROW_CAST_ERRORS as exc:
            raise SchemaMismatchError(
                f"column {field.name!r}: cannot cast {column.type} to {field.type}: {exc}"
            ) from exc
    if not field.nullable and column.null_count:
        raise SchemaMismatchError(
            f"column {field.name!r} is not nullable but has {column.null_count} nulls"
        )
    return column


def _without_spark_metadata(table: pa.Table) -> pa.Table:
    metadata = table.schema.metadata or {}
    kept = {k: v for k, v in metadata.items() if not k.startswith(b"org.apache.spark.")}
    if len(kept) == len(metadata):
        return table
    return table.replace_schema_metadata(kept or None)


def _to_parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue().to_pybytes()


def _remove_stale_parts(root: StorageRoot, folder: str, keep: str) -> None:
    """Delete every file readers would read besides ``keep``, sub-folders included (they
    read ``late/part-1.parquet`` too); hidden and ``_`` files are not data and stay."""
    for entry in root.list_files(folder, recursive=True):
        if entry.path != keep and not is_ignored_path(_relative(folder, entry.path)):
            root.delete(entry.path)


# -- listing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionState:
    """What a listing says of one partition: a version of its content and when its newest
    data file was written (epoch seconds)."""

    version: str
    modified: float


def list_partitions(root: StorageRoot, dataset: str) -> dict[str, str]:
    """Every partition of ``dataset`` → its version (see :func:`list_partition_states`)."""
    return {key: state.version for key, state in list_partition_states(root, dataset).items()}


def list_partition_states(
    root: StorageRoot, dataset: str, since: str | None = None
) -> dict[str, PartitionState]:
    """Every partition of ``dataset`` that has a Parquet file → a version of its content.

    The version changes whenever a data file in the folder is added, removed or rewritten
    (size + mtime locally, ETag on S3), so a sensor can compare it with its cursor. One
    recursive listing of the dataset; folders under ``_temporary``-style (underscore or
    hidden) paths, unpadded or otherwise non-canonical folders are skipped, because
    ``read_partition`` would not read them.

    Local mtimes have the file system's timestamp granularity (a few ms on Linux), so two
    same-size rewrites within one tick would share a version; a pass that rewrites a
    partition takes far longer than that. S3 ETags have no such limit.

    ``since`` (a partition key): only partitions of that day and later, from a listing that
    starts at that day's folder (a bounded look-back instead of the whole tree).
    """
    base = root.path(dataset)
    start_after = None
    if since is not None:
        day_folder = partition_key_to_path(since).rsplit("/", 1)[0]  # year=/month=/day=
        start_after = root.path(dataset, *day_folder.split("/"))
    by_folder: dict[str, list[tuple[str, FileEntry]]] = {}
    for entry in root.list_files(base, recursive=True, start_after=start_after):
        relative = entry.path[len(base) + 1 :]
        if is_ignored_path(relative):
            continue
        # Files in a sub-folder of an hour folder (``hour=08/late/``) belong to that hour.
        parts = relative.split("/")
        folder = "/".join(parts[:_PARTITION_DEPTH]) if len(parts) > _PARTITION_DEPTH else "/".join(parts[:-1])
        by_folder.setdefault(folder, []).append((relative[len(folder) + 1 :], entry))
    partitions: dict[str, PartitionState] = {}
    for folder, entries in by_folder.items():
        key = _canonical_partition_key(folder)
        if key is None or not any(entry.name.endswith(".parquet") for _, entry in entries):
            continue
        if since is not None and key < since:
            continue
        partitions[key] = PartitionState(_version(entries), max(e.modified for _, e in entries))
    return dict(sorted(partitions.items()))


def _canonical_partition_key(folder: str) -> str | None:
    """The key of a ``year=/month=/day=/hour=`` folder exactly as we would name it, else None."""
    if any(part.startswith((".", "_")) for part in folder.split("/")):
        return None
    key = path_to_partition_key(folder)
    if key is None or partition_key_to_path(key) != folder:
        return None
    return key


def _version(entries: Iterable[tuple[str, FileEntry]]) -> str:
    """A digest of (path inside the partition folder, version) of every data file; for a
    flat folder the path is the file name, so versions of such folders never changed."""
    lines = sorted(f"{name}\t{entry.version}" for name, entry in entries)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20]
