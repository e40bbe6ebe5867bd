"""Partitions streamed through the job in chunks: memory bounded by ``chunk_records``.

The same run with chunks of 4 records and with one chunk per partition must store the same
tables; with chunks of 4, no engine call, no pass-table row group and no silver_ai row group
holds more than 4 records, so nothing the steps hold at once grows with the partition.
Local and moto S3 (where each file is staged locally and uploaded when whole).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, Definitions

from enrichment_dagster.assets.passes import pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.engine.runner import PassStream
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.sample_data import SAMPLE_PARTITIONS
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.parquet import partition_folder, read_partition
from enrichment_dagster_tests.assets.test_partition_ranges import _run_range
from enrichment_dagster_tests.fakes.s3 import MotoS3

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
KEYS = SAMPLE_PARTITIONS[:3]
CHUNK = 4
DATASETS = ("pass1", "pass2", "pass3", "silver_ai")
#: Values that differ between any two runs: when they ran, how long calls took.
VARYING = ("enriched_at", "latency_s")


def _defs(uri: str, endpoint: str | None, chunk_records: int) -> Definitions:
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai], jobs=[enrich_job],
        resources={
            "storage": StorageResource(storage_uri=uri, s3_endpoint_url=endpoint, chunk_records=chunk_records),
            "llm": LLMResource(backend="heuristic"),
            "quality": QualityThresholds(),
            "parquet_io_manager": ParquetIOManager(storage_uri=uri, s3_endpoint_url=endpoint),
        },
    )


def _put_sample(root: StorageRoot) -> None:
    for path in SAMPLE.rglob("*.parquet"):
        relative = path.relative_to(SAMPLE).as_posix()
        root.write_bytes_atomic(root.path("silver", relative), path.read_bytes())


def _comparable(table: pa.Table) -> pa.Table:
    return table.drop_columns([name for name in table.column_names if name in VARYING])


@pytest.fixture(params=["local", "s3"])
def roots(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[tuple[StorageRoot, str, str | None], ...]:
    """Two fresh roots holding the sample Silver: one per chunk setting."""
    made = []
    for name in ("chunked", "whole"):
        if request.param == "local":
            uri, endpoint = str(tmp_path / name), None
        else:
            moto: MotoS3 = request.getfixturevalue("moto_s3")
            uri, endpoint = moto.storage_uri() + f"/{name}", moto.endpoint_url
        root = StorageRoot(uri, endpoint_url=endpoint)
        _put_sample(root)
        made.append((root, uri, endpoint))
    return tuple(made)


def test_chunked_runs_store_what_whole_runs_store(roots, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 4 over a 3-partition range: every engine call and every row group within 4
    records, and the four tables equal those of a run holding each partition whole."""
    calls: list[int] = []
    real = PassStream.submit

    def counting(self, records, previous=None):  # noqa: ANN001, ANN202
        calls.append(len(records))
        return real(self, records, previous)

    monkeypatch.setattr(PassStream, "submit", counting)
    (chunked, chunked_uri, endpoint), (whole, whole_uri, _) = roots
    for uri, chunk_records in ((chunked_uri, CHUNK), (whole_uri, 1000)):
        result = _run_range(_defs(uri, endpoint, chunk_records), DagsterInstance.ephemeral(), KEYS)
        assert result.success
    records = sum(read_partition(whole, "silver_ai", key).num_rows for key in KEYS)
    assert calls[-3:] == [records] * 3, "the whole run sends each pass's range in one call"
    chunked_calls = calls[:-3]
    assert max(chunked_calls) <= CHUNK and sum(chunked_calls) == 3 * records

    for dataset in DATASETS:
        for key in KEYS:
            stored = _stored_file(chunked, dataset, key)
            assert max(stored.metadata.row_group(i).num_rows for i in range(stored.num_row_groups)) <= CHUNK
            assert stored.num_row_groups >= 15 // CHUNK
            assert _comparable(read_partition(chunked, dataset, key)).equals(
                _comparable(read_partition(whole, dataset, key))), f"{dataset} {key}"


def _stored_file(root: StorageRoot, dataset: str, key: str) -> pq.ParquetFile:
    folder = partition_folder(root, dataset, key)
    (entry,) = root.list_files(folder)
    return pq.ParquetFile(pa.BufferReader(root.read_bytes(entry.path)))


def test_a_streamed_partition_survives_a_rerun_of_one_pass(tmp_path: Path) -> None:
    """pass2 re-run alone (a new run, a new snapshot) reads pass1 by id and keeps every row."""
    from dagster import materialize

    shutil.copytree(SAMPLE, tmp_path / "silver")
    root = StorageRoot(str(tmp_path))
    defs = _defs(str(tmp_path), None, CHUNK)
    key = KEYS[0]
    assert defs.resolve_job_def("enrich_job").execute_in_process(
        partition_key=key, instance=DagsterInstance.ephemeral()).success
    before = _comparable(read_partition(root, "pass2", key))
    again = materialize([silver, pass1, pass2], resources=defs.resources, partition_key=key,
                        instance=DagsterInstance.ephemeral(), selection=["pass2"])
    assert again.success
    after = _comparable(read_partition(root, "pass2", key))
    this_run = ["cache_hit", "cost_usd", "attempts"]  # the rerun's own telemetry: served from the cache
    assert after.column("cache_hit").to_pylist() == [True] * after.num_rows
    assert after.drop_columns(this_run).equals(before.drop_columns(this_run))
