"""Gold partitions on storage: ``<root>/gold/<asset>/day=YYYY-MM-DD/part-00000.parquet``.

Written through ``StorageRoot.write_bytes_atomic`` (temp file + rename locally, one PUT on
S3), so a reader sees the old partition or the whole new one, with the table's schema.
"""

from __future__ import annotations

import datetime as dt
import posixpath

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.gold.schemas import SCHEMAS
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import PART_FILE_NAME, conform_to_schema

GOLD = "gold"


def gold_path(root: StorageRoot, asset: str, day: dt.date) -> str:
    return root.path(GOLD, asset, f"day={day.isoformat()}", PART_FILE_NAME)


def write_gold(root: StorageRoot, asset: str, day: dt.date, table: pa.Table) -> str:
    """Replace one day of ``asset``; returns the file's URI."""
    table = conform_to_schema(table, SCHEMAS[asset])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy")
    target = gold_path(root, asset, day)
    root.write_bytes_atomic(target, sink.getvalue().to_pybytes())
    return root.display(target)


def read_gold(root: StorageRoot, asset: str, day: dt.date) -> pa.Table | None:
    """One day of ``asset``, or None when that day was not built."""
    target = gold_path(root, asset, day)
    if not root.exists(target):
        return None
    with root.fs.open_input_file(target) as handle:
        return pq.ParquetFile(handle).read()


def gold_days(root: StorageRoot, asset: str) -> list[dt.date]:
    """Days of ``asset`` that have a partition file."""
    days = set()
    for entry in root.list_files(root.path(GOLD, asset)):
        folder = posixpath.basename(posixpath.dirname(entry.path))
        if entry.name == PART_FILE_NAME and folder.startswith("day="):
            days.add(dt.date.fromisoformat(folder[4:]))
    return sorted(days)
