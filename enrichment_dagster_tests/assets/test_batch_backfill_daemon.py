"""A batch backfill as a user runs it: launched from the launchpad of a real ``dagster dev``,
followed by ``batch_backfill_sensor`` inside the real daemon.

``test_batch_backfill.py`` evaluates the sensor tick by tick in process and executes its
run requests itself; it cannot see what only the daemon does with them (resolving each
request to a job of the sensor's targets, queueing, launching run workers, storing ticks,
cursors and the sensor's asset events in the instance). Here nothing is driven by hand:

* storage is a moto S3 bucket holding two Silver partitions of 75 postings (150 records:
  Bedrock's batch minimum is 100 per job, ``ENRICHMENT_BATCH_MIN_RECORDS``);
* the fake Bedrock server of this process is both the batch control plane (jobs read their
  input from and write their output to the moto bucket) and the runtime of the pass runs;
* ``dagster dev`` runs ``deploy/dagster.local.yaml`` (Postgres, queued runs) on a fresh
  database, with the sensor interval shortened by ``ENRICHMENT_BATCH_SENSOR_INTERVAL_S``
  (the daemon still ticks at most every 5 s) and the Silver sensor left stopped, so every
  run comes from the batch backfill;
* the backfill is launched with the launchpad's own mutation (``launchPipelineExecution``,
  YAML run config), then the test only waits for ``silver_ai`` of both partitions.

Everything asserted afterwards is read back from the instance (GraphQL, ``DagsterInstance``
on the same database) and from the fake's counters, never from run logs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    PartitionKeyRange,
    RunsFilter,
)

from enrichment_dagster.batch_backfill import CAMPAIGN_TAG, PASS_TAG, load_campaigns
from enrichment_dagster.llm.prices import get_model
from enrichment_dagster.partitions import hourly_partitions
from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.parquet import read_partition, write_partition
from enrichment_dagster_tests.benchmarks.bench_backfill import (
    UNSET_ENV,
    Webserver,
    dagster_dev,
    wait_for,
    write_instance_yaml,
)
from enrichment_dagster_tests.benchmarks.bench_partition import bench_rows
from enrichment_dagster_tests.engine.answers import answer_by_pass
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock
from enrichment_dagster_tests.fakes.s3 import MotoS3

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/enrichment-bedrock-batch"
KEYS = ["2025-12-10-00:00", "2025-12-10-01:00"]
PER_PARTITION = 75
PASSES = ("pass1", "pass2", "pass3")
SENSOR = "batch_backfill_sensor"
#: Launch to silver_ai of every partition: 4 stages of runs, each a few sensor ticks apart.
FLOW_TIMEOUT_S = 240.0
#: Variables of the caller that would change how the batch flow is planned or where it goes.
BATCH_UNSET_ENV = ("ENRICHMENT_BATCH_MIN_RECORDS", "ENRICHMENT_BATCH_ROLE_ARN",
                   "BEDROCK_CONTROL_ENDPOINT_URL", "ENRICHMENT_CONCURRENCY",
                   "ENRICHMENT_PARTITIONS_PER_RUN", "ENRICHMENT_MAX_ATTEMPTS")

LAUNCH = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}"""
LOCATIONS = """
{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
    ... on RepositoryLocation { repositories { name jobs { name } } } } } } } }"""
SENSOR_TICKS = """
query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status ticks(limit: 500) {
    status runIds cursor skipReason error { message } } } } } }"""
METADATA = """
fragment Entries on MetadataEntry { label
  ... on IntMetadataEntry { intValue } ... on FloatMetadataEntry { floatValue }
  ... on TextMetadataEntry { text } }"""
MATERIALIZATIONS = """
query($path: [String!]!, $partitions: [String!]) { assetOrError(assetKey: {path: $path}) {
  ... on Asset { assetMaterializations(partitions: $partitions) { partition runId } } } }"""
OBSERVATIONS = METADATA + """
query($path: [String!]!) { assetOrError(assetKey: {path: $path}) {
  ... on Asset { assetObservations(limit: 200) { runId timestamp
    metadataEntries { ...Entries } } } } }"""


@dataclass
class BatchDev:
    """What the test needs of the running setup."""

    web: Webserver
    home: Path
    storage: StorageResource
    fake: FakeBedrock
    log: Path

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.web.graphql(query, variables)


@pytest.fixture
def batch_dev(tmp_path: Path, fresh_database: str, fake_bedrock: FakeBedrock,
              moto_s3: MotoS3) -> Iterator[BatchDev]:
    """Silver in a moto bucket, the fake as Bedrock, ``dagster dev`` on a fresh database.

    A fake job is not done when created (0.5 s submitted, 1.5 s in progress), so the sensor
    has to poll it; longer delays would only add sensor ticks (5 s apart) to the run time.
    """
    fake_bedrock.configure(default_answers=dict(answer_by_pass()))
    fake_bedrock.batch.configure(s3_endpoint_url=moto_s3.endpoint_url, submitted_s=0.5,
                                 in_progress_s=1.5)
    uri = moto_s3.storage_uri("bfill-daemon")
    storage = StorageResource(storage_uri=uri, s3_endpoint_url=moto_s3.endpoint_url)
    for i, key in enumerate(KEYS):
        write_partition(storage.root, "silver", key, bench_rows(PER_PARTITION, i * PER_PARTITION))
    home = tmp_path / "home"
    home.mkdir()
    write_instance_yaml(home, pool=4)
    env = {k: v for k, v in os.environ.items() if k not in (*UNSET_ENV, *BATCH_UNSET_ENV)}
    env.update({
        "ENRICHMENT_STORAGE_URI": uri,
        "S3_ENDPOINT_URL": moto_s3.endpoint_url,
        "ENRICHMENT_LLM_BACKEND": "bedrock",
        "BEDROCK_ENDPOINT_URL": fake_bedrock.endpoint_url,
        "ENRICHMENT_BATCH_ROLE_ARN": ROLE,
        "ENRICHMENT_BATCH_SENSOR_INTERVAL_S": "1",
    })
    log = tmp_path / "dagster-dev.log"
    with dagster_dev(home, env, log) as web:
        yield BatchDev(web, home, storage, fake_bedrock, log)


def _location(dev: BatchDev) -> tuple[str, str]:
    """(code location, repository) holding ``batch_backfill_job``, as the launchpad finds it."""
    entries = dev.graphql(LOCATIONS)["workspaceOrError"]["locationEntries"]
    for entry in entries:
        for repo in (entry.get("locationOrLoadError") or {}).get("repositories", []):
            if any(j["name"] == "batch_backfill_job" for j in repo["jobs"]):
                return entry["name"], repo["name"]
    raise AssertionError(f"batch_backfill_job is in no loaded location: {entries}")


def _launch_from_launchpad(dev: BatchDev, location: tuple[str, str]) -> str:
    """What *Launch run* sends from the launchpad of ``batch_backfill_job``: the YAML the
    user typed (only the range and the batch minimum) and no tags."""
    run_config = {"ops": {"submit_batch_pass": {"config": {
        "start": KEYS[0], "end": KEYS[-1], "min_records": 100}}}}
    params = {
        "runConfigData": yaml.safe_dump(run_config),
        "selector": {"repositoryLocationName": location[0], "repositoryName": location[1],
                     "pipelineName": "batch_backfill_job", "assetSelection": [],
                     "assetCheckSelection": []},
        "mode": "default",
        "executionMetadata": {"tags": []},
    }
    launched = dev.graphql(LAUNCH, {"executionParams": params})["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return str(launched["run"]["runId"])


def _ticks(dev: BatchDev, location: tuple[str, str]) -> tuple[str, list[dict[str, Any]]]:
    """The sensor's status and its ticks, newest first."""
    selector = {"repositoryLocationName": location[0], "repositoryName": location[1],
                "sensorName": SENSOR}
    data = dev.graphql(SENSOR_TICKS, {"selector": selector})["sensorOrError"]
    assert data["__typename"] == "Sensor", data
    return data["sensorState"]["status"], data["sensorState"]["ticks"]


def _materialized(dev: BatchDev, asset: str) -> dict[str, list[str]]:
    """Partition -> run ids of the asset's materializations in ``KEYS``."""
    found = dev.graphql(MATERIALIZATIONS, {"path": [asset], "partitions": KEYS})
    by_key: dict[str, list[str]] = {}
    for event in (found["assetOrError"] or {}).get("assetMaterializations") or []:
        by_key.setdefault(event["partition"], []).append(event["runId"])
    return by_key


def _observations(dev: BatchDev, asset: str) -> list[dict[str, Any]]:
    """The asset's observations, oldest first, each as {label: value} plus its run id."""
    events = dev.graphql(OBSERVATIONS, {"path": [asset]})["assetOrError"]["assetObservations"]
    out = []
    for event in sorted(events, key=lambda e: float(e["timestamp"])):
        values: dict[str, Any] = {"run_id": event["runId"]}
        for entry in event["metadataEntries"]:
            values[entry["label"]] = next(
                (entry[k] for k in ("intValue", "floatValue", "text") if k in entry), None)
        out.append(values)
    return out


def _wait_for_silver_ai(dev: BatchDev, location: tuple[str, str]) -> float:
    """Seconds until silver_ai is materialized for every key; fails at once when a run or a
    tick failed, with what the instance and the storage say, instead of timing out."""
    started = time.monotonic()

    def done() -> bool:
        _, ticks = _ticks(dev, location)
        failed_ticks = [t["error"] for t in ticks if t["status"] == "FAILURE"]
        with _instance(dev) as instance:
            failed_runs = [(r.job_name, r.tags.get(PASS_TAG), r.status.value)
                           for r in instance.get_runs()
                           if r.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)]
        if failed_ticks or failed_runs:
            raise AssertionError(f"the flow broke: ticks {failed_ticks}, runs {failed_runs}, "
                                 f"campaigns {load_campaigns(dev.storage.root)}")
        return set(_materialized(dev, "silver_ai")) == set(KEYS)

    try:
        wait_for(done, FLOW_TIMEOUT_S, "silver_ai of every partition", interval_s=2.0)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; campaigns {load_campaigns(dev.storage.root)}; "
                             f"log tail {dev.log.read_text()[-3000:]}") from None
    return time.monotonic() - started


def _instance(dev: BatchDev) -> DagsterInstance:
    """The instance of ``dagster dev`` (its dagster.yaml reads the DAGSTER_PG_* variables,
    which ``fresh_database`` set in this process too)."""
    return DagsterInstance.from_config(str(dev.home))


def test_batch_backfill_from_the_launchpad_runs_to_silver_ai_in_the_daemon(
        batch_dev: BatchDev) -> None:
    dev = batch_dev
    location = _location(dev)
    status, _ = _ticks(dev, location)
    assert status == "RUNNING"  # running by default: nobody has to switch it on
    first_run = _launch_from_launchpad(dev, location)
    flow_s = _wait_for_silver_ai(dev, location)
    # Stop counting before asserting: nothing may still be submitting or answering.
    dev.fake.batch.wait_idle()
    [campaign] = wait_for(
        lambda: [c for c in load_campaigns(dev.storage.root) if c["state"] == "done"],
        30, "the campaign to be marked done")
    assert campaign["name"] == f"batch-{first_run[:8]}"

    runs = _assert_runs(dev, campaign["name"], first_run)
    _assert_ticks(dev, location, campaign["name"], runs)
    _assert_materializations(dev, runs)
    _assert_batch_paid_and_on_demand_unused(dev)
    _assert_observations(dev, campaign["name"])
    for key in KEYS:  # silver_ai holds every Silver record of the range
        assert read_partition(dev.storage.root, "silver_ai", key).num_rows == PER_PARTITION
    print(f"batch backfill through the daemon: {flow_s:.0f} s from launch to silver_ai")


def _assert_runs(dev: BatchDev, name: str, first_run: str) -> dict[str, list[DagsterRun]]:
    """The launched run submitted pass 1; the sensor requested every other run, all of
    which succeeded: the next passes' submissions, and per stage runs covering the range
    once. Returns the sensor's runs by stage (``PASS_TAG``)."""
    with _instance(dev) as instance:
        runs = instance.get_runs(RunsFilter(tags={CAMPAIGN_TAG: name}))
        launched = instance.get_run_by_id(first_run)
    assert launched is not None and launched.status == DagsterRunStatus.SUCCESS
    assert launched.job_name == "batch_backfill_job"
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs), [
        (r.tags.get(PASS_TAG), r.status.value) for r in runs]
    assert all(r.tags.get("dagster/sensor_name") == SENSOR for r in runs)
    by_stage: dict[str, list[DagsterRun]] = {}
    for run in runs:
        by_stage.setdefault(run.tags[PASS_TAG], []).append(run)
    assert sorted(by_stage) == sorted(["submit2", "submit3", *PASSES, "final"]), by_stage
    for stage in ("submit2", "submit3"):
        assert [r.job_name for r in by_stage[stage]] == ["batch_backfill_job"]
    for stage in (*PASSES, "final"):
        # One run per ENRICHMENT_PARTITIONS_PER_RUN partitions, together covering the range
        # once: each partition is materialized by exactly one run of the stage.
        assert {r.job_name for r in by_stage[stage]} == {"enrich_job"}
        covered = [key for r in by_stage[stage] for key in _partitions_of(r)]
        assert sorted(covered) == KEYS, (stage, covered)
    return by_stage


def _assert_ticks(dev: BatchDev, location: tuple[str, str], name: str,
                  runs: dict[str, list[DagsterRun]]) -> None:
    """The sensor's ticks requested exactly the campaign's runs, and its cursor (shown in
    the tick history) walked every stage to done."""
    _, ticks = _ticks(dev, location)
    requested = {run_id for t in ticks for run_id in t["runIds"]}
    assert requested == {r.run_id for stage in runs.values() for r in stage}
    cursors = [json.loads(t["cursor"]).get(name) for t in reversed(ticks) if t["cursor"]]
    walked = list(dict.fromkeys(c for c in cursors if c))
    assert walked[-1] == "pass3:done", walked
    for stage in ("pass1:materializing", "pass2:materializing", "pass3:materializing",
                  "pass3:finishing"):
        assert stage in walked, walked


def _assert_materializations(dev: BatchDev, runs: dict[str, list[DagsterRun]]) -> None:
    """Every partition has pass1, pass2, pass3 and silver_ai materialized exactly once,
    each by the sensor's run of that stage (silver_ai by the final run): in the event log
    and as the UI's asset page lists them."""
    with _instance(dev) as instance:
        for asset in (*PASSES, "silver_ai"):
            for key in KEYS:
                stored = instance.fetch_materializations(_records_filter(asset, key), limit=10)
                assert len(stored.records) == 1, (asset, key, stored.records)
    for asset, stage in (*((p, p) for p in PASSES), ("silver_ai", "final")):
        stage_runs = {r.run_id for r in runs[stage]}
        listed = _materialized(dev, asset)
        assert sorted(listed) == KEYS, (asset, listed)
        assert all(ids[0] in stage_runs for ids in listed.values()), (asset, listed)


def _assert_batch_paid_and_on_demand_unused(dev: BatchDev) -> None:
    """The batch control plane got one job per pass, each created exactly once (no second
    submission, not even an idempotent re-send), every record billed once by batch; the
    runtime answered nothing on demand, and the pass runs served every batch answer from
    the cache."""
    fake = dev.fake
    jobs = sorted(fake.batch.jobs, key=lambda j: j.name)
    assert [j.name[:len("enrich-pN")] for j in jobs] == ["enrich-p1", "enrich-p2",
                                                         "enrich-p3"], jobs
    assert fake.batch.create_calls == 3
    assert [j.status for j in jobs] == ["Completed"] * 3
    assert jobs[0].total == len(KEYS) * PER_PARTITION  # pass 1: every record by batch
    assert sum(fake.batch.billed_per_record.values()) == len(fake.batch.billed_per_record)
    # Every call the fake served is a batch record or a call the pass runs report making.
    on_demand_calls = fake.stats.calls - sum(j.processed for j in jobs)
    pass_meta = _pass_metadata(dev)
    reported_calls = sum(m["model_calls"] for m in pass_meta)
    assert on_demand_calls == reported_calls == 0, (on_demand_calls, reported_calls)
    assert fake.stats.ok == fake.batch.billed_records
    assert sum(m["cache_hits"] for m in pass_meta) == fake.batch.billed_records
    assert sum(m["records"] for m in pass_meta) == 3 * len(KEYS) * PER_PARTITION


def _assert_observations(dev: BatchDev, name: str) -> None:
    """What the UI shows on each pass asset: the submission (jobs, records) and, from the
    sensor, the jobs' final states, counts, the tokens the fake billed and their batch
    cost."""
    jobs = sorted(dev.fake.batch.jobs, key=lambda j: j.name)
    tokens = {"input_tokens": 0, "output_tokens": 0}
    for number, job in zip((1, 2, 3), jobs, strict=True):
        observed = [o for o in _observations(dev, f"pass{number}") if o.get("campaign") == name]
        submitted = [o for o in observed if o.get("state") == "submitted"]
        assert len(submitted) == 1, observed
        assert submitted[0]["batch_jobs"] == 1
        assert submitted[0]["batch_records"] == job.total
        polled = [o for o in observed if "job_states" in o]
        assert polled, observed
        final = polled[-1]
        assert json.loads(final["job_states"]) == {job.name: "Completed"}, final
        assert final["batch_records"] == job.total
        assert final["answered"] == job.success > 0
        assert final["errors"] == final["unusable"] == final["missing"] == 0
        spec = get_model(job.request["modelId"])
        assert final["cost_usd"] == pytest.approx(
            spec.cost_usd(final["input_tokens"], final["output_tokens"], batch=True))
        assert 0 < final["cost_usd"] < final["on_demand_cost_usd"]
        for kind in tokens:
            tokens[kind] += final[kind]
    # Nothing went on demand, so the tokens shown are exactly the tokens the fake served.
    assert tokens == {"input_tokens": dev.fake.stats.input_tokens,
                      "output_tokens": dev.fake.stats.output_tokens}


def _partitions_of(run: DagsterRun) -> list[str]:
    """The partitions a run materializes: its partition, or its range (a run per
    ``ENRICHMENT_PARTITIONS_PER_RUN`` partitions, as a UI backfill makes)."""
    if "dagster/partition" in run.tags:
        return [run.tags["dagster/partition"]]
    start = run.tags["dagster/asset_partition_range_start"]
    end = run.tags["dagster/asset_partition_range_end"]
    return hourly_partitions.get_partition_keys_in_range(PartitionKeyRange(start, end))


def _records_filter(asset: str, key: str) -> AssetRecordsFilter:
    return AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[key])


def _pass_metadata(dev: BatchDev) -> list[dict[str, Any]]:
    """Numeric metadata of every pass materialization of ``KEYS``, from the instance."""
    found = []
    with _instance(dev) as instance:
        for asset in PASSES:
            for key in KEYS:
                for record in instance.fetch_materializations(_records_filter(asset, key),
                                                              limit=10).records:
                    materialization = record.asset_materialization
                    assert materialization is not None
                    found.append({k: v.value for k, v in materialization.metadata.items()})
    return found

