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
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.contracts.drift import unify_tables
from enrichment_dagster.storage.filesystem import FileEntry, StorageRoot
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


def conform_to_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, order, types and metadata.

    Extra columns are dropped; a missing column, a failed cast or a null in a non-nullable
    field raises ``SchemaMismatchError`` naming the column, because writing it anyway would
    give one partition a schema different from the others.
    """
    missing = [name for name in schema.names if name not in table.column_names]
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
    for entry in root.list_files(folder, recursive=False):
        if entry.path != keep and entry.name.endswith(".parquet"):
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
