"""The batch path against the fake control plane, moto S3 and a real boto3 client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from enrichment_dagster.engine import batch
from enrichment_dagster.engine.cache import read_answer
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.engine.runner import run_pass
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.llm.bedrock_batch import BatchClient
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.conftest import make_records
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock
from enrichment_dagster_tests.fakes.s3 import MotoS3

ROLE = "arn:aws:iam::123456789012:role/enrichment-batch"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(fake: FakeBedrock, moto_s3: MotoS3) -> tuple[StorageRoot, CacheStore, BatchClient]:
    fake.batch.configure(s3_endpoint_url=moto_s3.endpoint_url, seed=7)
    root = StorageRoot(moto_s3.storage_uri("batch"), endpoint_url=moto_s3.endpoint_url)
    return root, CacheStore(root), BatchClient(endpoint_url=fake.endpoint_url)


def _submit(records, root, cache, client, config=None, **options):
    config = config or EngineConfig()
    plan = batch.plan_pass(records, 1, config, cache, root, batch.BatchOptions(ROLE, **options))
    return plan, batch.submit_plan(plan, root, client, batch.BatchOptions(ROLE, **options))


def test_batch_answers_fill_the_cache_and_the_rest_goes_on_demand(fake, env) -> None:
    root, cache, client = env
    fake.batch.configure(error_rate=0.05)
    fake.batch.script_end_states("PartiallyCompleted", "Completed")
    records = make_records(240)
    plan, entries = _submit(records, root, cache, client, max_records_per_job=120)
    assert [len(e.records) for e in entries] == [120, 120]
    collected = batch.wait_and_collect(root, cache, client, EngineConfig(), poll_s=0.05)
    totals = batch.summarize(collected)
    assert totals["missing"] == 60  # the PartiallyCompleted job answered half of its records
    assert totals["errors"] > 0
    assert totals["answered"] + totals["errors"] + totals["missing"] == 240
    assert totals["cost_usd"] == pytest.approx(totals["on_demand_cost_usd"] / 2)
    billed_by_batch = fake.batch.billed_records
    assert billed_by_batch == totals["answered"]

    fake.reset_stats()
    results = run_pass(records, 1, BedrockBackend(endpoint_url=fake.endpoint_url), EngineConfig(),
                       cache)
    assert all(r.success for r in results)
    assert sum(r.cache_hit for r in results) == totals["answered"]
    assert fake.stats.calls == 240 - totals["answered"]  # each unanswered record once
    on_demand = set(fake.stats.per_record_calls)
    batch_billed = {e.records[k]["record_id"] for e in collected for k in e.records
                    if fake.batch.billed_per_record.get(k)}
    assert not on_demand & batch_billed  # nobody paid twice
    # The same keys: a second plan finds everything cached, submits nothing.
    again = batch.plan_pass(records, 1, EngineConfig(), cache, root, batch.BatchOptions(ROLE))
    assert again.records == 0 and again.already_cached == 240


def test_batch_lines_are_routed_by_record_id_not_by_prompt_text(fake, env) -> None:
    """The prompt holds no record id and the line no requestMetadata: the fake model sees
    each line's ``recordId`` (the answer's cache key), so a script for one key hits exactly
    that record."""
    root, cache, client = env
    records = make_records(100)
    plan = batch.plan_pass(records, 1, EngineConfig(), cache, root, batch.BatchOptions(ROLE))
    keys = {item.key: item.record.job_posting_id for chunk in plan.chunks for item, _ in chunk}
    for chunk in plan.chunks:
        for _, line in chunk:
            assert "requestMetadata" not in json.loads(line)["modelInput"]
    broken = sorted(keys)[0]
    fake.configure(fail_records={broken: "always_validation"})
    batch.submit_plan(plan, root, client, batch.BatchOptions(ROLE))
    [entry] = batch.wait_and_collect(root, cache, client, EngineConfig(), poll_s=0.05)
    assert entry.outcome["errors"] == 1 and entry.outcome["answered"] == 99
    assert read_answer(cache, broken) is None
    assert set(fake.stats.per_record_calls) == set(keys)
    assert set(fake.batch.billed_per_record) == set(keys) - {broken}


def test_fewer_than_min_records_are_left_on_demand(fake, env) -> None:
    root, cache, client = env
    plan, entries = _submit(make_records(99), root, cache, client)
    assert entries == [] and fake.batch.jobs == []
    with pytest.raises(Exception, match="min_records"):
        batch.BatchOptions(ROLE, min_records=50).validate()


def test_failed_and_stopped_jobs_leave_records_unanswered(fake, env) -> None:
    root, cache, client = env
    fake.batch.configure(in_progress_s=30.0)
    records = make_records(100)
    _, entries = _submit(records, root, cache, client)
    stopped = batch.stop_open_jobs(root, client)
    assert stopped == [entries[0].job_arn]
    collected = batch.wait_and_collect(root, cache, client, EngineConfig(), poll_s=0.05,
                                       timeout_s=30)
    assert collected[0].status == "Stopped"
    assert collected[0].outcome["answered"] + collected[0].outcome["missing"] == 100

    fake.batch.configure(in_progress_s=0.0)
    fake.batch.script_end_states("Failed")
    fresh = make_records(100, prefix="f")
    _, entries = _submit(fresh, root, cache, client)
    [failed] = batch.wait_and_collect(root, cache, client, EngineConfig(), poll_s=0.05)
    assert failed.status == "Failed" and failed.outcome["missing"] == 100
    # Failed records are free to go again: a new plan takes them (the job is collected).
    again = batch.plan_pass(fresh, 1, EngineConfig(), cache, root, batch.BatchOptions(ROLE))
    assert again.records == 100


_CHILD = """
import os
import signal
import sys
from enrichment_dagster.engine import batch
from enrichment_dagster.engine.cache import read_answer
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.llm.bedrock_batch import BatchClient
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.conftest import make_records
root = StorageRoot(sys.argv[1], endpoint_url=sys.argv[2])
client = BatchClient(endpoint_url=sys.argv[3])
options = batch.BatchOptions(sys.argv[4], max_records_per_job=100)
plan = batch.plan_pass(make_records(200), 1, EngineConfig(), CacheStore(root), root, options)
batch.submit_plan(plan, root, client, options)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_after_submission_restart_submits_nothing_and_collects_all(fake, env,
                                                                          moto_s3) -> None:
    root, cache, client = env
    fake.batch.configure(in_progress_s=3.0)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, root.root_uri, moto_s3.endpoint_url, fake.endpoint_url,
         ROLE], env={**os.environ, "PYTHONPATH": pythonpath}, timeout=120,
        capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(fake.batch.jobs) == 2
    assert all(j.status not in ("Completed",) for j in fake.batch.jobs)  # killed mid-flight

    records = make_records(200)
    batch.resume(root, client, batch.BatchOptions(ROLE))
    plan, entries = _submit(records, root, cache, client)
    assert plan.records == 0 and plan.in_open_jobs == 200 and entries == []
    collected = batch.wait_and_collect(root, cache, client, EngineConfig(), poll_s=0.05)
    assert len(fake.batch.jobs) == 2 and fake.batch.create_calls == 2
    assert sum(e.outcome["answered"] for e in collected) == 200
    assert fake.batch.billed_records == 200


def test_a_crash_between_ledger_and_create_resends_with_the_same_token(fake, env) -> None:
    root, cache, client = env

    class Crash(Exception):
        pass

    def crash(entry):
        raise Crash

    plan = batch.plan_pass(make_records(100), 1, EngineConfig(), cache, root,
                           batch.BatchOptions(ROLE))
    with pytest.raises(Crash):
        batch.submit_plan(plan, root, client, batch.BatchOptions(ROLE), after_write=crash)
    assert fake.batch.jobs == []
    [entry] = batch.resume(root, client, batch.BatchOptions(ROLE))
    [again] = batch.resume(root, client, batch.BatchOptions(ROLE))
    assert entry.job_arn == again.job_arn and len(fake.batch.jobs) == 1
    # The token is idempotent at the service too: a raw re-create returns the same job.
    arn = client.create(job_name=entry.job_name, role_arn=ROLE, model_id=entry.model_id,
                        input_uri=entry.input_uri, output_uri=entry.output_uri,
                        token=entry.token)
    assert arn == entry.job_arn and len(fake.batch.jobs) == 1
    listed = client.list(name_contains=entry.job_name)
    assert [j["jobArn"] for j in listed] == [arn]
    assert json.loads(json.dumps(listed[0], default=str))["status"]


def test_collected_answers_are_durable_for_the_next_process(fake, env) -> None:
    """The sensor collects in the daemon; the pass runs read the cache in other processes.
    Every answer collect() counts must be readable from a new CacheStore on S3 (an
    unflushed write buffer would lose some, and they would be paid for again on demand)."""
    root, cache, client = env
    records = make_records(140)
    _submit(records, root, cache, client)
    [entry] = batch.wait_and_collect(root, cache, client, EngineConfig(), poll_s=0.05)
    assert entry.outcome["answered"] == 140
    fresh = CacheStore(root)
    readable = [k for k in entry.records if read_answer(fresh, k) is not None]
    assert len(readable) == 140
