"""The run's Silver snapshot: read once, the same batch for every step, never trusted half-read."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enrichment_dagster.engine import run_snapshot
from enrichment_dagster.engine.run_snapshot import (
    discard_run,
    run_silver,
    snapshot_path,
    sweep_stale,
)
from enrichment_dagster.engine.tables import SilverBatch, read_silver
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import PartitionNotFoundError
from enrichment_dagster_tests.storage.helpers import parquet_bytes, put_file

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
KEY = "2025-12-10-19:00"
FOLDER = "silver/year=2025/month=12/day=10/hour=19"


def _sample() -> pa.Table:
    (path,) = (SAMPLE / "year=2025/month=12/day=10/hour=19").glob("*.parquet")
    return pq.read_table(path)


def _put_silver(root: StorageRoot) -> pa.Table:
    """Two files: the sample, then a file repeating one id, a row without an id and a
    drifted salary (a string where the contract has a double), so the batch has every
    kind of problem to carry."""
    sample = _sample()
    put_file(root, f"{FOLDER}/part-00000.parquet", parquet_bytes(sample))
    first = sample.slice(0, 1).to_pylist()[0]
    extra = [dict(first), {**first, "job_posting_id": None}, {**first, "job_posting_id": "drift-1"}]
    for row in extra:
        row["salary_min"] = "about 90k" if row["job_posting_id"] == "drift-1" else None
    schema = sample.schema.set(sample.schema.get_field_index("salary_min"), pa.field("salary_min", pa.string()))
    put_file(root, f"{FOLDER}/part-00001.parquet", parquet_bytes(pa.Table.from_pylist(extra, schema=schema)))
    return sample


def _same(a: SilverBatch, b: SilverBatch) -> None:
    assert a.records == b.records
    assert a.table.equals(b.table)
    assert (a.duplicate_ids, a.invalid_rows, a.repaired_rows, a.rows_read) == (
        b.duplicate_ids, b.invalid_rows, b.repaired_rows, b.rows_read)


def test_first_step_reads_storage_later_steps_the_snapshot(storage_root: StorageRoot) -> None:
    _put_silver(storage_root)
    direct = read_silver(storage_root, KEY)
    assert direct.duplicate_ids and direct.invalid_rows and direct.repaired_rows

    first = run_silver(storage_root, "run-1", KEY)
    later = run_silver(storage_root, "run-1", KEY)

    assert (first.source, later.source) == ("storage", "snapshot")
    _same(first.batch, direct)
    _same(later.batch, direct)


def test_a_run_keeps_its_view_when_silver_is_replaced_mid_run(storage_root: StorageRoot) -> None:
    sample = _put_silver(storage_root)
    before = run_silver(storage_root, "run-1", KEY).batch
    storage_root.delete_folder(storage_root.path(FOLDER))
    put_file(storage_root, f"{FOLDER}/part-00000.parquet", parquet_bytes(sample.slice(0, 2)))

    _same(run_silver(storage_root, "run-1", KEY).batch, before)
    # Another run sees the new files.
    assert len(run_silver(storage_root, "run-2", KEY).batch.records) == 2


def test_an_unreadable_snapshot_is_rebuilt_from_silver(storage_root: StorageRoot,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    _put_silver(storage_root)
    expected = run_silver(storage_root, "run-1", KEY).batch
    path = snapshot_path(storage_root, "run-1", KEY)
    storage_root.write_bytes_atomic(path, storage_root.read_bytes(path)[:-100])

    with caplog.at_level(logging.WARNING, logger=run_snapshot.__name__):
        again = run_silver(storage_root, "run-1", KEY)

    assert again.source == "storage"
    _same(again.batch, expected)
    assert "unreadable" in caplog.text and "Silver is read again" in caplog.text
    assert run_silver(storage_root, "run-1", KEY).source == "snapshot"


def test_a_snapshot_whose_rows_break_the_contract_is_not_served(storage_root: StorageRoot) -> None:
    _put_silver(storage_root)
    batch = run_silver(storage_root, "run-1", KEY).batch
    path = snapshot_path(storage_root, "run-1", KEY)
    stored = pq.ParquetFile(io.BytesIO(storage_root.read_bytes(path)))
    table = stored.read()
    ids = table.column("job_posting_id").to_pylist()
    tampered = table.set_column(0, table.field(0), pa.array([""] + ids[1:], pa.string()))
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, tampered.schema) as writer:  # the same footer, one row changed
        writer.write_table(tampered)
        writer.add_key_value_metadata({run_snapshot.PROBLEMS_KEY: stored.metadata.metadata[run_snapshot.PROBLEMS_KEY]})
    storage_root.write_bytes_atomic(path, buffer.getvalue())
    again = run_silver(storage_root, "run-1", KEY)
    assert again.source == "storage"
    _same(again.batch, batch)


def test_a_missing_partition_names_its_folder_and_leaves_no_snapshot(storage_root: StorageRoot) -> None:
    with pytest.raises(PartitionNotFoundError, match="hour=19"):
        run_silver(storage_root, "run-1", KEY)
    assert storage_root.list_files(storage_root.path(run_snapshot.RUNS_DIR)) == []


def test_discard_removes_only_that_run(storage_root: StorageRoot) -> None:
    _put_silver(storage_root)
    run_silver(storage_root, "run-1", KEY)
    run_silver(storage_root, "run-2", KEY)
    discard_run(storage_root, "run-1")
    assert run_silver(storage_root, "run-1", KEY).source == "storage"
    assert run_silver(storage_root, "run-2", KEY).source == "snapshot"
    discard_run(storage_root, "never-ran")  # nothing there: not an error


def test_sweep_removes_the_folders_of_dead_runs_only(storage_root: StorageRoot) -> None:
    _put_silver(storage_root)
    run_silver(storage_root, "run-1", KEY)
    assert sweep_stale(storage_root) == []
    later = time.time() + run_snapshot.STALE_AFTER_S + 60
    assert sweep_stale(storage_root, now=later) == [run_snapshot.run_folder(storage_root, "run-1")]
    assert storage_root.list_files(storage_root.path(run_snapshot.RUNS_DIR)) == []


def test_odd_run_ids_stay_one_folder(storage_root: StorageRoot) -> None:
    _put_silver(storage_root)
    run_silver(storage_root, "../../etc", KEY)
    entries = storage_root.list_files(storage_root.path(run_snapshot.RUNS_DIR))
    assert len(entries) == 1 and "/../" not in entries[0].path
    discard_run(storage_root, "../../etc")
    assert storage_root.list_files(storage_root.path(run_snapshot.RUNS_DIR)) == []
