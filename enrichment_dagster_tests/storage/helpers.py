"""Helpers for storage tests: place files as an outside writer (Spark) would."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.storage.filesystem import StorageRoot


def put_file(root: StorageRoot, relative: str, data: bytes) -> str:
    """Write raw bytes at ``relative`` under the root, bypassing our atomic writer."""
    fs_path = root.path(relative)
    if not root.is_s3:
        Path(fs_path).parent.mkdir(parents=True, exist_ok=True)
    with root.fs.open_output_stream(fs_path) as stream:
        stream.write(data)
    return fs_path


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def spark_part_name(index: int) -> str:
    """A file name as Spark 3 writes it."""
    return f"part-{index:05d}-{uuid.uuid4()}.c000.snappy.parquet"


def names_under(root: StorageRoot, relative: str) -> list[str]:
    """Every file name (hidden ones included) directly under a folder of the root."""
    return sorted(entry.name for entry in root.list_files(root.path(relative), recursive=False))
