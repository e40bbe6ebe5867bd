"""The retry schedule under bad silver_ai partitions: one bad file must not stop the retries.

Each test writes real silver_ai partitions (Parquet in the contract schema) into a temp
folder or a moto S3 bucket, breaks some of them in a different way (truncated file, wrong
schema, a success column of the wrong type, an S3 object in Glacier that refuses a GET),
and evaluates ``retry_failed`` on a real Dagster instance with a tick log key, as the
scheduler daemon does. The skipped partitions must be named in the tick's log (read back
the way the UI reads it), in the skip reason or a run tag; the others must be retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, Definitions, instance_for_test
from dagster._core.definitions.instigation_logger import get_instigation_log_records
from dagster._core.definitions.schedule_definition import ScheduleEvaluationContext

from enrichment_dagster.contracts.output import silver_ai_schema
from enrichment_dagster.jobs import UNREADABLE_TAG, retry_failed
from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import write_partition
from enrichment_dagster.storage.partition_keys import partition_key_to_path
from enrichment_dagster_tests.faults.harness import defs_for

TICK = dt.datetime(2025, 12, 12, 6, 17, tzinfo=dt.UTC)
OK, FAILING, NULL_SUCCESS = "2025-12-11-01:00", "2025-12-11-02:00", "2025-12-11-03:00"
CORRUPT, NO_COLUMNS, STRING_SUCCESS = "2025-12-11-04:00", "2025-12-11-05:00", "2025-12-11-06:00"
LATE_FAILING = "2025-12-11-07:00"


def silver_ai_table(successes: list[tuple[bool | None, bool | None, bool | None]]) -> pa.Table:
    rows = [
        {"job_posting_id": str(4000 + i), "pass1_success": p1, "pass2_success": p2,
         "pass3_success": p3}
        for i, (p1, p2, p3) in enumerate(successes)
    ]
    return pa.Table.from_pylist(rows, schema=silver_ai_schema())


def write_good_partitions(root: StorageRoot) -> None:
    write_partition(root, "silver_ai", OK, silver_ai_table([(True, True, True)] * 3))
    write_partition(root, "silver_ai", FAILING, silver_ai_table([(True, False, False), (True,) * 3]))
    write_partition(root, "silver_ai", NULL_SUCCESS, silver_ai_table([(True, True, None)]))
    write_partition(root, "silver_ai", LATE_FAILING, silver_ai_table([(False, False, False)]))


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as instance:
        yield instance


def evaluate(instance: DagsterInstance, storage_uri: str, endpoint: str | None = None):
    """One tick of the schedule as the daemon runs it: with a log key on a real instance."""
    log_key = ["enrichment", "retry_failed", "tick-1"]
    storage = StorageResource(storage_uri=storage_uri, s3_endpoint_url=endpoint)
    base = defs_for(storage_uri)  # type: ignore[arg-type]  # the jobs' assets and resources
    defs = Definitions(assets=base.assets, jobs=base.jobs, schedules=[retry_failed],
                       resources={**(base.resources or {}), "storage": storage})
    with ScheduleEvaluationContext(
        instance_ref=instance.get_ref(),
        scheduled_execution_time=TICK,
        log_key=log_key,
        repository_name="__repository__",
        schedule_name="retry_failed",
        resources={"storage": storage},
        repository_def=defs.get_repository_def(),
    ) as context:
        data = retry_failed.evaluate_tick(context)
    messages = [r.get("msg", "") for r in get_instigation_log_records(instance, log_key)]
    return data, messages


def test_corrupt_and_wrong_schema_partitions_are_reported_and_the_others_retried(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    root = StorageRoot(str(tmp_path))
    write_good_partitions(root)
    corrupt = tmp_path / "silver_ai" / partition_key_to_path(CORRUPT)
    corrupt.mkdir(parents=True)
    good_bytes = (tmp_path / "silver_ai" / partition_key_to_path(OK) / "part-00000.parquet").read_bytes()
    (corrupt / "part-00000.parquet").write_bytes(good_bytes[: len(good_bytes) // 2])
    no_columns = tmp_path / "silver_ai" / partition_key_to_path(NO_COLUMNS)
    no_columns.mkdir(parents=True)
    pq.write_table(pa.table({"job_posting_id": ["1"]}), no_columns / "part-00000.parquet")
    string_success = tmp_path / "silver_ai" / partition_key_to_path(STRING_SUCCESS)
    string_success.mkdir(parents=True)
    pq.write_table(
        pa.table({"pass1_success": ["false"], "pass2_success": ["false"], "pass3_success": ["false"]}),
        string_success / "part-00000.parquet",
    )

    data, log = evaluate(instance, str(tmp_path))

    requested = sorted(r.partition_key for r in data.run_requests)
    assert requested == [FAILING, NULL_SUCCESS, LATE_FAILING]
    for request in data.run_requests:
        assert request.tags[UNREADABLE_TAG].split(",") == [CORRUPT, NO_COLUMNS, STRING_SUCCESS]
    skipped = [line for line in log if "skipped silver_ai partition" in line]
    assert len(skipped) == 3
    assert CORRUPT in skipped[0] and "part-00000.parquet" in skipped[0]
    assert NO_COLUMNS in skipped[1] and "pass1_success" in skipped[1]
    assert STRING_SUCCESS in skipped[2] and "not bool" in skipped[2]


def test_only_bad_partitions_give_a_skip_reason_naming_them(
    tmp_path: Path, instance: DagsterInstance
) -> None:
    root = StorageRoot(str(tmp_path))
    write_partition(root, "silver_ai", OK, silver_ai_table([(True, True, True)]))
    folder = tmp_path / "silver_ai" / partition_key_to_path(CORRUPT)
    folder.mkdir(parents=True)
    (folder / "part-00000.parquet").write_bytes(b"PAR1 this is not parquet")
    # A data file that is not Parquet at all, beside a good partition's folder.
    other = tmp_path / "silver_ai" / partition_key_to_path(NO_COLUMNS)
    other.mkdir(parents=True)
    (other / "part-00000.parquet").write_bytes(b"")

    data, log = evaluate(instance, str(tmp_path))

    assert data.run_requests == []
    assert CORRUPT in data.skip_message and NO_COLUMNS in data.skip_message
    assert "no recent silver_ai partition holds failed records" in data.skip_message
    assert any(CORRUPT in line for line in log) and any(NO_COLUMNS in line for line in log)


def test_a_file_deleted_after_the_listing_is_skipped(
    tmp_path: Path, instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition listed by the tick whose file is gone when it is read (a rewrite or a
    clean-up racing the tick): the real file is deleted right after the real listing."""
    root = StorageRoot(str(tmp_path))
    write_good_partitions(root)
    write_partition(root, "silver_ai", CORRUPT, silver_ai_table([(False, True, True)]))
    doomed = tmp_path / "silver_ai" / partition_key_to_path(CORRUPT) / "part-00000.parquet"
    list_files = StorageRoot.list_files

    def list_then_delete(self: StorageRoot, *args, **kwargs):  # type: ignore[no-untyped-def]
        entries = list_files(self, *args, **kwargs)
        doomed.unlink(missing_ok=True)
        return entries

    monkeypatch.setattr(StorageRoot, "list_files", list_then_delete)

    data, log = evaluate(instance, str(tmp_path))

    assert sorted(r.partition_key for r in data.run_requests) == [FAILING, NULL_SUCCESS, LATE_FAILING]
    assert all(r.tags[UNREADABLE_TAG] == CORRUPT for r in data.run_requests)
    assert any(CORRUPT in line and "not found" in line for line in log)


def test_an_s3_object_that_refuses_a_get_is_skipped(moto_s3, instance: DagsterInstance) -> None:
    """An object moved to Glacier: listed, but GET answers InvalidObjectState (403)."""
    uri = moto_s3.storage_uri("retry")
    root = StorageRoot(uri, moto_s3.endpoint_url)
    write_good_partitions(root)
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    key = f"{prefix}/silver_ai/{partition_key_to_path(CORRUPT)}/part-00000.parquet"
    moto_s3.client.put_object(Bucket=bucket, Key=key, Body=b"PAR1....PAR1", StorageClass="GLACIER")
    wrong = f"{prefix}/silver_ai/{partition_key_to_path(NO_COLUMNS)}/part-00000.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"x": [1]}), sink)
    moto_s3.client.put_object(Bucket=bucket, Key=wrong, Body=sink.getvalue().to_pybytes())

    data, log = evaluate(instance, uri, moto_s3.endpoint_url)

    assert sorted(r.partition_key for r in data.run_requests) == [FAILING, NULL_SUCCESS, LATE_FAILING]
    assert all(r.tags[UNREADABLE_TAG] == f"{CORRUPT},{NO_COLUMNS}" for r in data.run_requests)
    assert any(CORRUPT in line and "part-00000.parquet" in line for line in log)
