"""Runs over a range of partitions: one file, one materialization and eight checks per
partition, recorded in the instance (not only in the run log); blocking checks block."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, Definitions
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from enrichment_dagster import checks
from enrichment_dagster.assets.passes import PARTITION_RANGE_TAG, pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.sample_data import SAMPLE_PARTITIONS
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.parquet import list_partitions, read_partition

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
CHECK_NAMES = [spec.name for spec in checks.CHECK_SPECS]


def _defs(uri: str, quality: QualityThresholds | None = None) -> Definitions:
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai],
        jobs=[enrich_job],
        resources={
            "storage": StorageResource(storage_uri=uri),
            "llm": LLMResource(backend="heuristic"),
            "quality": quality or QualityThresholds(),
            "parquet_io_manager": ParquetIOManager(storage_uri=uri),
        },
    )


@pytest.fixture()
def local_root(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "silver")
    return tmp_path


def _run_range(defs: Definitions, instance: DagsterInstance, keys: list[str], raise_on_error: bool = True):
    """A run tagged as the backfill daemon tags it: a range, no ``dagster/partition``."""
    job = defs.resolve_job_def("enrich_job")
    return job.execute_in_process(
        instance=instance, raise_on_error=raise_on_error,
        tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
    )


def recorded_checks(instance: DagsterInstance, run_id: str) -> dict[tuple[str, str | None], str]:
    """(check, partition) -> status of the run's check executions, as the instance stores them."""
    found = {}
    for name in CHECK_NAMES:
        key = AssetCheckKey(AssetKey(checks.ASSET), name)
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=100):
            if record.run_id == run_id:
                found[(name, record.partition)] = record.status.value
    return found


def _status(passed: bool) -> str:
    return (AssetCheckExecutionRecordStatus.SUCCEEDED if passed else AssetCheckExecutionRecordStatus.FAILED).value


def test_range_run_writes_and_records_every_partition(local_root: Path) -> None:
    defs = _defs(str(local_root))
    keys = list(SAMPLE_PARTITIONS)
    with DagsterInstance.ephemeral() as instance:
        result = _run_range(defs, instance, keys)
        assert result.success
        root = defs.resources["storage"].root
        for asset in ("pass1", "pass2", "pass3", "silver_ai"):
            assert sorted(list_partitions(root, asset)) == keys
            mats = [e for e in result.get_asset_materialization_events()
                    if e.asset_key.to_user_string() == asset]
            assert sorted(e.partition for e in mats) == keys
            for event in mats:  # each partition's event carries that partition's own figures
                rows = read_partition(root, asset, event.partition).num_rows
                assert event.materialization.metadata["dagster/row_count"].value == rows
        recorded = recorded_checks(instance, result.run_id)
        # Every check of every partition executed and stored with its partition; each
        # status is what was evaluated (a WARN check may fail on the data, none is skipped).
        expected = {(e.check_name, e.partition): _status(e.passed) for e in result.get_asset_check_evaluations()}
        assert {(name, key) for name, key in expected} == {(name, key) for name in CHECK_NAMES for key in keys}
        assert {k: v for k, v in recorded.items() if k[1] is not None} == expected
        for key in keys:
            assert recorded[("completeness", key)] == recorded[("schema", key)] == _status(True)
        # No stray record without a partition, and nothing left "planned" (shown as skipped).
        assert not [k for k in recorded if k[1] is None]
        # The Runs list shows the run's own tags: the range is one of them.
        assert instance.get_run_by_id(result.run_id).tags[PARTITION_RANGE_TAG] == f"{keys[0]}...{keys[-1]}"


def test_single_partition_run_records_checks_with_the_partition(local_root: Path) -> None:
    defs = _defs(str(local_root))
    key = SAMPLE_PARTITIONS[0]
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("enrich_job").execute_in_process(partition_key=key, instance=instance)
        assert result.success
        recorded = recorded_checks(instance, result.run_id)
        assert recorded == {(e.check_name, key): _status(e.passed) for e in result.get_asset_check_evaluations()}
        assert {name for name, _ in recorded} == set(CHECK_NAMES)
        # Its row shows dagster/partition; a range tag would only repeat it.
        assert PARTITION_RANGE_TAG not in instance.get_run_by_id(result.run_id).tags


def test_failed_blocking_check_leaves_no_readable_partition(local_root: Path) -> None:
    defs = _defs(str(local_root), QualityThresholds(force_fail=["completeness"]))
    keys = list(SAMPLE_PARTITIONS)
    with DagsterInstance.ephemeral() as instance:
        result = _run_range(defs, instance, keys, raise_on_error=False)
        assert not result.success  # the blocking check fails the step
        root = defs.resources["storage"].root
        assert list_partitions(root, "silver_ai") == {}
        assert not [e for e in result.get_asset_materialization_events()
                    if e.asset_key.to_user_string() == "silver_ai"]
        recorded = recorded_checks(instance, result.run_id)
        for key in keys:
            assert recorded[("completeness", key)] == AssetCheckExecutionRecordStatus.FAILED.value
            assert recorded[("schema", key)] == AssetCheckExecutionRecordStatus.SUCCEEDED.value


def test_completeness_reads_silver_from_storage() -> None:
    import pyarrow as pa

    raw = pa.table({"job_posting_id": ["a", "b", "b", None, ""]})
    assert checks.storage_silver_ids([raw]) == ["a", "b"]
    table = pa.table({"job_posting_id": ["a"]})
    assert not checks.completeness(checks.storage_silver_ids([raw]), checks.PartitionStats.of(table)).passed
    assert checks.completeness(checks.storage_silver_ids([raw]), checks.PartitionStats.of(table), invalid_rows=1).passed
    # Files that disagree on the id's type are each read on their own.
    drifted = [pa.table({"job_posting_id": ["a", "5001"]}), pa.table({"job_posting_id": [5001.0, 7.0]})]
    assert checks.storage_silver_ids(drifted) == ["a", "5001", "7"]


@pytest.mark.parametrize("keys", [SAMPLE_PARTITIONS[:1], SAMPLE_PARTITIONS[:3]], ids=["one", "range"])
def test_a_run_reads_each_silver_file_once(local_root: Path, keys: list[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """pass1, pass2, pass3 and silver_ai all need the prepared Silver; the run's first step
    streams the files into the snapshot and the others read that. Completeness reads the id
    column only."""
    from collections import Counter

    import pyarrow.parquet as pq

    from enrichment_dagster.engine import run_snapshot
    from enrichment_dagster.engine.run_snapshot import RUNS_DIR
    from enrichment_dagster.storage import parquet

    reads: list[tuple[str, tuple[str, ...] | None]] = []
    real = parquet._read_file

    def counting(root, fs_path, columns=None):  # noqa: ANN001, ANN202
        if "/silver/" in fs_path and f"/{RUNS_DIR}/" not in fs_path:
            reads.append((fs_path, tuple(columns) if columns is not None else None))
        return real(root, fs_path, columns)

    streamed: Counter[tuple[str, str]] = Counter()  # (partition, file) -> rows streamed
    real_stream = run_snapshot.iter_partition_batches

    def counting_stream(root, dataset, key, rows):  # noqa: ANN001, ANN202
        for part in real_stream(root, dataset, key, rows):
            streamed[(key, part.name)] += part.table.num_rows
            yield part

    monkeypatch.setattr(parquet, "_read_file", counting)
    monkeypatch.setattr(run_snapshot, "iter_partition_batches", counting_stream)
    defs = _defs(str(local_root))
    instance = DagsterInstance.ephemeral()
    if len(keys) == 1:
        result = defs.resolve_job_def("enrich_job").execute_in_process(partition_key=keys[0], instance=instance)
    else:
        result = _run_range(defs, instance, keys)
    assert result.success

    files = {(key, p.name): pq.ParquetFile(p).metadata.num_rows for key in keys for p in (local_root / "silver").glob(
        f"year={key[:4]}/month={key[5:7]}/day={key[8:10]}/hour={key[11:13]}/*.parquet")}
    assert files
    assert dict(streamed) == files, "each Silver file is streamed whole exactly once per run"
    assert sorted(path for path, columns in reads if columns == ("job_posting_id",)) == sorted(
        str(p) for key in keys for p in (local_root / "silver").glob(
            f"year={key[:4]}/month={key[5:7]}/day={key[8:10]}/hour={key[11:13]}/*.parquet"))
    assert len(reads) == len(files), "no other read of a Silver file"
    assert not list((local_root / RUNS_DIR).rglob("*.parquet")), "the run's snapshots are deleted"


@pytest.mark.parametrize("selected", [["pass1"], ["pass1", "pass2"]])
def test_a_run_of_some_passes_deletes_its_snapshot(local_root: Path, selected: list[str]) -> None:
    from dagster import materialize

    from enrichment_dagster.engine.run_snapshot import RUNS_DIR

    defs = _defs(str(local_root))
    assets = {"pass1": pass1, "pass2": pass2}
    result = materialize([silver, *(assets[name] for name in selected)], resources=defs.resources,
                         partition_key=SAMPLE_PARTITIONS[0], instance=DagsterInstance.ephemeral(),
                         selection=selected)
    assert result.success
    assert read_partition(StorageResource(storage_uri=str(local_root)).root, selected[-1], SAMPLE_PARTITIONS[0])
    assert not list((local_root / RUNS_DIR).rglob("*.parquet"))
