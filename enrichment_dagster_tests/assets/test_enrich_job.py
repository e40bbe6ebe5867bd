"""enrich_job end to end, in process: local folder, moto S3, the fake Bedrock server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, Definitions, build_sensor_context

from enrichment_dagster.assets.passes import pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.contracts.output import silver_ai_schema
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.sample_data import SAMPLE_PARTITIONS
from enrichment_dagster.sensors import new_silver_partitions, partitions_to_request
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.parquet import PartitionState, read_partition

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
KEY = SAMPLE_PARTITIONS[1]


def _defs(uri: str, llm: LLMResource, endpoint: str | None = None) -> Definitions:
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai],
        jobs=[enrich_job],
        sensors=[new_silver_partitions],
        resources={
            "storage": StorageResource(storage_uri=uri, s3_endpoint_url=endpoint),
            "llm": llm,
            "quality": QualityThresholds(),
            "parquet_io_manager": ParquetIOManager(storage_uri=uri, s3_endpoint_url=endpoint),
        },
    )


def _run(defs: Definitions, key: str = KEY, raise_on_error: bool = True):
    job = defs.resolve_job_def("enrich_job")
    return job.execute_in_process(partition_key=key, instance=DagsterInstance.ephemeral(),
                                  raise_on_error=raise_on_error)


def _silver_rows(key: str) -> int:
    folder = SAMPLE / "year=2025/month=12/day=10" / f"hour={key[11:13]}"
    return sum(pq.read_metadata(f).num_rows for f in folder.glob("*.parquet"))


@pytest.fixture()
def local_root(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "silver")
    return tmp_path


def _mat_metadata(result, asset: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events()
                if e.asset_key.to_user_string() == asset]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_partition_materializes_with_every_record_once(local_root: Path) -> None:
    defs = _defs(str(local_root), LLMResource(backend="heuristic"))
    result = _run(defs)
    assert result.success
    table = read_partition(defs.resources["storage"].root, "silver_ai", KEY)
    assert table.schema == silver_ai_schema()
    ids = table.column("job_posting_id").to_pylist()
    assert len(ids) == len(set(ids)) == _silver_rows(KEY)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["completeness"] and checks["schema"]
    assert _mat_metadata(result, "pass1")["records"] == len(ids)


def test_second_materialization_makes_no_model_calls(local_root: Path) -> None:
    defs = _defs(str(local_root), LLMResource(backend="heuristic"))
    _run(defs)
    again = _run(defs)
    for name in ("pass1", "pass2", "pass3"):
        meta = _mat_metadata(again, name)
        assert meta["model_calls"] == 0, name
        assert meta["cache_hits"] >= meta["success"], name


def test_corrupt_parquet_fails_the_run_naming_the_file(local_root: Path) -> None:
    folder = local_root / "silver/year=2025/month=12/day=10" / f"hour={KEY[11:13]}"
    bad = folder / "part-00001-corrupt.snappy.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    defs = _defs(str(local_root), LLMResource(backend="heuristic"))
    result = _run(defs, raise_on_error=False)
    assert not result.success
    messages = " ".join(str(e.event_specific_data.error) for e in result.all_events
                        if e.is_step_failure)
    assert "part-00001-corrupt.snappy.parquet" in messages
    assert not (local_root / "silver_ai").exists()


def test_sensor_requests_missing_then_nothing_then_changed(local_root: Path) -> None:
    defs = _defs(str(local_root), LLMResource(backend="heuristic"))
    sensor = defs.resolve_sensor_def("new_silver_partitions")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources={"storage": defs.resources["storage"]})
        first = sensor(context)
        assert sorted(r.partition_key for r in first.run_requests) == sorted(SAMPLE_PARTITIONS)
        context = build_sensor_context(instance=instance, cursor=first.cursor,
                                       resources={"storage": defs.resources["storage"]})
        second = sensor(context)
        assert not second.run_requests and second.skip_reason, second
        folder = local_root / "silver/year=2025/month=12/day=10/hour=20"
        shutil.copy(next(folder.glob("*.parquet")), folder / "part-00009-late.snappy.parquet")
        third = sensor(build_sensor_context(instance=instance, cursor=first.cursor,
                                            resources={"storage": defs.resources["storage"]}))
        assert [r.partition_key for r in third.run_requests] == ["2025-12-10-20:00"]


def test_partitions_to_request_picks_late_hours() -> None:
    silver = {k: PartitionState(v, 1.0) for k, v in
              {"2025-12-10-01:00": "a", "2025-12-10-02:00": "b", "2025-12-09-23:00": "c"}.items()}
    requested = {"2025-12-10-01:00": "a", "2025-12-10-02:00": "b"}
    assert partitions_to_request(silver, {}, requested) == [("2025-12-09-23:00", "c")]


def test_materialize_against_moto_s3(moto_s3) -> None:
    bucket = moto_s3.new_bucket()
    client = moto_s3.client
    for file in (SAMPLE / "year=2025/month=12/day=10/hour=20").glob("*.parquet"):
        client.put_object(Bucket=bucket, Key=f"lake/silver/year=2025/month=12/day=10/hour=20/{file.name}",
                          Body=file.read_bytes())
    defs = _defs(f"s3://{bucket}/lake", LLMResource(backend="heuristic"), moto_s3.endpoint_url)
    assert _run(defs, "2025-12-10-20:00").success
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="lake/silver_ai/")["Contents"]]
    assert keys == ["lake/silver_ai/year=2025/month=12/day=10/hour=20/part-00000.parquet"]


def test_failing_record_at_bedrock_leaves_the_others_enriched(local_root: Path, fake_bedrock) -> None:
    victim = pq.read_table(next((local_root / "silver/year=2025/month=12/day=10/hour=20").glob("*.parquet")),
                           columns=["job_posting_id"]).column(0).to_pylist()[0]
    fake_bedrock.configure(fail_records={victim: "always_malformed"})
    llm = LLMResource(backend="bedrock", bedrock_endpoint_url=fake_bedrock.endpoint_url,
                      aws_region="us-east-1", concurrency=4)
    defs = _defs(str(local_root), llm)
    assert _run(defs, "2025-12-10-20:00").success
    table = read_partition(defs.resources["storage"].root, "silver_ai", "2025-12-10-20:00")
    by_id = {r["job_posting_id"]: r for r in table.to_pylist()}
    assert by_id[victim]["pass1_success"] is False
    assert "pass1" in by_id[victim]["enrichment_errors"]
    # The sample's blank posting (no text, no HTML words) is not sent: no_posting_text.
    no_text = {i for i, r in by_id.items() if "no_posting_text" in (r["enrichment_errors"] or "")}
    assert victim not in no_text and len(no_text) <= 1
    assert sum(r["pass1_success"] for r in by_id.values()) == len(by_id) - 1 - len(no_text)
