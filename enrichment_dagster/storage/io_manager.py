"""``ParquetIOManager``: one Parquet file per hourly partition, locally or on S3.

For asset ``pass1`` and partition ``2025-12-10-19:00`` it stores
``{root}/pass1/year=2025/month=12/day=10/hour=19/part-00000.parquet``; for the external
``silver`` asset it reads whatever Spark wrote in ``{root}/silver/year=…/hour=19/``. The
dataset name is the asset key path joined with ``/`` (``pass1``, ``silver_ai``, …).

Why a plain ``ConfigurableIOManager`` and not ``UPathIOManager``: all the work (Spark part
files, atomic single-file writes, schema unification) lives in ``storage.parquet``, which the
engine and CLI use without Dagster; this class only maps a Dagster context to
(dataset, partition key). ``UPathIOManager`` would add an fsspec/s3fs path (s3fs is not a
dependency, and UPath ≥ 0.3 breaks its ``storage_options``, dagster#32637) and a
one-file-per-partition naming we would override anyway.

Partitioned assets only. A run over a range of partitions (a backfill with
``BackfillPolicy.multi_run(N > 1)``) outputs ``dict[partition_key, pyarrow.Table]``: each
partition is written as its own atomic file, and an input spanning several partitions is
returned the same way, as ``UPathIOManager`` does. A one-partition output may be a bare
table or a one-entry dict.

An asset too large to return as a table (the passes stream their records in chunks) writes
its partitions through ``storage.parquet.partition_writer`` and outputs the
``WrittenPartition`` of each, in the same shapes: this class records them as it would a
table it wrote, after checking that each is the partition's file under its own root.

Output metadata, per partition: ``path`` (the file's URI), ``rows``, ``bytes``; it goes on
that partition's own materialization event.
"""

from __future__ import annotations

import posixpath
from functools import cached_property

import pyarrow as pa
from dagster import (
    AssetKey,
    ConfigurableIOManager,
    InputContext,
    MetadataValue,
    OutputContext,
)
from pydantic import Field

from enrichment_dagster.storage.filesystem import DEFAULT_STORAGE_URI, StorageRoot
from enrichment_dagster.storage.parquet import (
    PART_FILE_NAME,
    WrittenPartition,
    partition_folder,
    read_partition,
    write_partition,
)

#: What an output may be, per partition: a table to write, or a file written already.
Stored = pa.Table | WrittenPartition


class ParquetIOManager(ConfigurableIOManager):
    """Stores ``pyarrow.Table`` outputs as hourly Hive-style Parquet partitions."""

    storage_uri: str = Field(
        default=DEFAULT_STORAGE_URI,
        description="Storage root: a local folder or s3://bucket/prefix.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint override (moto, MinIO); falls back to S3_ENDPOINT_URL.",
    )

    @cached_property
    def storage_root(self) -> StorageRoot:
        """Built once per resource instance: the pyarrow/boto3 clients are reusable."""
        return StorageRoot(self.storage_uri, endpoint_url=self.s3_endpoint_url)

    def handle_output(self, context: OutputContext, obj: Stored | dict[str, Stored]) -> None:
        dataset = _dataset_name(context.asset_key if context.has_asset_key else None)
        tables = _tables_by_partition(context, dataset, obj)
        for partition_key, table in tables.items():
            written = self._store(dataset, partition_key, table)
            metadata = {
                "path": MetadataValue.path(written.uri),
                "rows": MetadataValue.int(written.rows),
                "bytes": MetadataValue.int(written.bytes),
            }
            if len(tables) == 1:
                context.add_output_metadata(metadata)
            else:
                # Partition-scoped: Dagster merges it into that partition's event only.
                context.step_context.add_asset_metadata(
                    metadata, asset_key=context.asset_key, partition_key=partition_key
                )

    def _store(self, dataset: str, partition_key: str, obj: Stored) -> WrittenPartition:
        """Write a table; check a partition written already (see the module docstring)."""
        if isinstance(obj, pa.Table):
            return write_partition(self.storage_root, dataset, partition_key, obj)
        expected = posixpath.join(partition_folder(self.storage_root, dataset, partition_key), PART_FILE_NAME)
        if obj.path != expected:
            raise ValueError(f"ParquetIOManager: {dataset!r} partition {partition_key} was written to "
                             f"{obj.uri}, not to {self.storage_root.display(expected)}")
        return obj

    def load_input(self, context: InputContext) -> pa.Table | dict[str, pa.Table]:
        dataset = _dataset_name(context.asset_key if context.has_asset_key else None)
        if not context.has_asset_partitions:
            raise _unpartitioned_error(dataset)
        keys = list(context.asset_partition_keys)
        if len(keys) == 1:
            return read_partition(self.storage_root, dataset, keys[0])
        return {key: read_partition(self.storage_root, dataset, key) for key in keys}


def _dataset_name(asset_key: AssetKey | None) -> str:
    if asset_key is None:
        raise ValueError("ParquetIOManager only handles assets (no asset key on this output)")
    return "/".join(asset_key.path)


def _unpartitioned_error(dataset: str) -> ValueError:
    return ValueError(
        f"ParquetIOManager only handles hourly-partitioned assets; {dataset!r} is not partitioned"
    )


def _tables_by_partition(
    context: OutputContext, dataset: str, obj: Stored | dict[str, Stored]
) -> dict[str, Stored]:
    """``{partition_key: table}`` for exactly the output's partitions, or a clear error."""
    if not context.has_asset_partitions:
        raise _unpartitioned_error(dataset)
    keys = list(context.asset_partition_keys)
    if isinstance(obj, Stored):
        if len(keys) != 1:
            raise ValueError(
                f"ParquetIOManager got one table for {len(keys)} partitions of {dataset!r}; "
                "a run over a range must output {partition_key: table}"
            )
        return {keys[0]: obj}
    if not isinstance(obj, dict) or not all(isinstance(t, Stored) for t in obj.values()):
        raise TypeError(
            f"ParquetIOManager stores pyarrow.Table outputs (or a dict of them by partition); "
            f"asset {dataset!r} returned {type(obj).__name__}"
        )
    if set(obj) != set(keys):
        raise ValueError(
            f"ParquetIOManager: {dataset!r} output partitions {sorted(obj)} differ from the "
            f"run's {keys}"
        )
    return {key: obj[key] for key in keys}
