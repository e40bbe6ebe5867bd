"""Batch backfills from the UI: ``batch_backfill_job`` submits, ``batch_backfill_sensor``
follows the Bedrock jobs and requests each pass's materialization when its jobs are done.

How a user starts one: Launchpad of ``batch_backfill_job`` with config ``start`` / ``end``
(partition keys, inclusive), ``passes`` (default 1, 2, 3), ``models`` (pass -> model id,
default the LLM resource's) and ``min_records`` (default ``ENRICHMENT_BATCH_MIN_RECORDS``,
at least 100: fewer unanswered records than that go on-demand). Routing: hourly partitions
are enriched on-demand by the Silver sensor as before; only this job uses batch.

A *campaign* (``_batch/campaigns/<name>.json`` in storage) carries the range and which
pass it is at: ``submitted`` (the op planned and submitted pass p, see engine.batch) ->
``materializing`` (its jobs ended and were collected; the sensor requested pass p for every
partition of the range, which serves the batch answers from the cache and sends the rest
on-demand) -> the next pass is submitted by a new run of this job, and after the last pass
``silver_ai`` is requested -> ``done``. The sensor's cursor records each campaign's stage
and job states, so every change shows in the tick history; job states, record counts,
tokens and cost are logged as ``AssetObservation`` on the pass asset.

Terminating: cancelling the submitting run, or a campaign's ``stop`` flag (set by
``stop_campaign``), stops its Bedrock jobs on the sensor's next tick.
"""

import json
import os
from dataclasses import replace
from typing import Any

from dagster import (
    AssetKey,
    AssetObservation,
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    PartitionKeyRange,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    job,
    op,
    sensor,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from pydantic import Field

from enrichment_dagster import env
from enrichment_dagster.engine import batch
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.engine.tables import outputs_from_table, prepare_silver
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.llm.bedrock_batch import BatchClient
from enrichment_dagster.partitions import hourly_partitions, partitions_per_run
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import read_partition

CAMPAIGN_TAG = "enrichment/batch_campaign"
PASS_TAG = "enrichment/batch_pass"
INTERVAL_S = env.env_int("ENRICHMENT_BATCH_SENSOR_INTERVAL_S", 300, minimum=1)


def min_records_from_env() -> int:
    value = env.env_int(batch.MIN_RECORDS_ENV, batch.MIN_RECORDS_PER_JOB,
                        minimum=batch.MIN_RECORDS_PER_JOB)
    assert value is not None
    return value


# ------------------------------------------------------------------ campaigns
def _campaign_path(root: StorageRoot, name: str) -> str:
    return root.path(batch.BATCH_DIR, "campaigns", name + ".json")


def save_campaign(root: StorageRoot, campaign: dict[str, Any]) -> None:
    root.write_bytes_atomic(_campaign_path(root, campaign["name"]),
                            json.dumps(campaign, sort_keys=True).encode())


def load_campaigns(root: StorageRoot) -> list[dict[str, Any]]:
    try:
        files = root.list_files(root.path(batch.BATCH_DIR, "campaigns"))
    except FileNotFoundError:
        return []
    return [json.loads(root.read_bytes(f.path)) for f in sorted(files, key=lambda f: f.path)
            if f.path.endswith(".json")]


def stop_campaign(root: StorageRoot, name: str) -> None:
    """Ask the sensor to stop a campaign's Bedrock jobs on its next tick."""
    for campaign in load_campaigns(root):
        if campaign["name"] == name:
            campaign["stop"] = True
            save_campaign(root, campaign)


def _options(campaign: dict[str, Any]) -> batch.BatchOptions:
    return batch.BatchOptions(
        role_arn=campaign.get("role_arn") or os.environ.get(batch.ROLE_ARN_ENV, ""),
        min_records=int(campaign["min_records"]),
        max_records_per_job=int(campaign.get("max_records_per_job")
                                or batch.MAX_RECORDS_PER_FILE),
    )


# ------------------------------------------------------------------ the job
class BatchBackfillConfig(Config):
    start: str = Field(description="first hourly partition key of the range, e.g. 2025-12-10-00:00")
    end: str = Field(description="last hourly partition key of the range (inclusive)")
    passes: list[int] = Field(default=[1, 2, 3], description="passes to answer by batch")
    models: dict[str, str] = Field(default={}, description="pass number -> model id")
    min_records: int = Field(default=min_records_from_env(),
                             description="ENRICHMENT_BATCH_MIN_RECORDS (>= 100)")
    campaign: str = Field(default="", description="set by the sensor for passes after the first")
    pass_number: int = Field(default=0, description="set by the sensor: the pass to submit")
    role_arn: str = Field(default="", description=f"default: {batch.ROLE_ARN_ENV}")
    max_records_per_job: int = Field(
        default=batch.MAX_RECORDS_PER_FILE,
        description="records per Bedrock job (Bedrock's quota is 50,000; lower it when the "
                    "account's quota is lower)")


def _records_and_previous(root: StorageRoot, keys: list[str], pass_number: int
                          ) -> tuple[list[Any], dict[str, PassContext]]:
    records: list[Any] = []
    previous: dict[str, PassContext] = {}
    for key in keys:
        records += prepare_silver(read_partition(root, "silver", key)).records
        if pass_number > 1:
            p1 = outputs_from_table(1, read_partition(root, "pass1", key))
            p2 = (outputs_from_table(2, read_partition(root, "pass2", key))
                  if pass_number > 2 else {})
            previous.update({k: PassContext(pass1=v, pass2=p2.get(k)) for k, v in p1.items()})
    return records, previous


@op(description="Plan and submit one pass of a batch backfill (Bedrock batch inference).")
def submit_batch_pass(context: OpExecutionContext, config: BatchBackfillConfig,
                      storage: StorageResource, llm: LLMResource) -> None:
    root, cache = storage.root, storage.cache()
    keys = hourly_partitions.get_partition_keys_in_range(
        PartitionKeyRange(config.start, config.end))
    passes = sorted(set(config.passes))
    pass_number = config.pass_number or passes[0]
    name = config.campaign or f"batch-{context.run_id[:8]}"
    campaign = {
        "name": name, "partitions": keys, "passes": passes, "models": config.models,
        "min_records": config.min_records, "role_arn": config.role_arn,
        "max_records_per_job": config.max_records_per_job,
        "pass": pass_number, "state": "submitting", "jobs": [], "run_id": context.run_id,
    }
    options = _options(campaign)
    options.validate()
    engine = llm.engine_config()
    if config.models:
        engine = replace(engine, models={**engine.models,
                                         **{int(k): v for k, v in config.models.items()}})
    save_campaign(root, campaign)
    records, previous = _records_and_previous(root, keys, pass_number)
    client = BatchClient(endpoint_url=llm.bedrock_endpoint_url, region_name=llm.aws_region)
    batch.resume(root, client, options)
    plan = batch.plan_pass(records, pass_number, engine, cache, root, options, previous)

    def claim(entry: batch.LedgerEntry) -> None:
        # Each job joins the campaign before it is created, so a run that fails or is
        # cancelled half-way leaves every job it made where the sensor stops and collects it.
        campaign["jobs"].append(entry.job_name)
        save_campaign(root, campaign)

    entries = batch.submit_plan(plan, root, client, options, after_write=claim)
    campaign.update(state="submitted", jobs=[e.job_name for e in entries])
    save_campaign(root, campaign)
    context.log_event(AssetObservation(asset_key=AssetKey(f"pass{pass_number}"), metadata={
        "campaign": name, "state": "submitted", "partitions": len(keys),
        "records": len(records), "batch_jobs": len(entries), "batch_records": plan.records,
        "already_cached": plan.already_cached, "in_open_jobs": plan.in_open_jobs,
        "over_attempt_cap": plan.capped, "upstream_missing": plan.not_ready,
        "left_for_on_demand": len(records) - plan.records - plan.already_cached,
    }))


@job(description="Backfill a partition range by Bedrock batch inference (half price; hours).",
     tags={"enrichment/batch": "true"})
def batch_backfill_job() -> None:
    submit_batch_pass()


# ------------------------------------------------------------------ the sensor
def _runs_done(context: SensorEvaluationContext, name: str, stage: str, expected: int
               ) -> bool | None:
    """True when ``expected`` runs tagged (campaign, stage) succeeded, False while some are
    not done, None when one failed (the campaign waits for a re-run by hand)."""
    runs = context.instance.get_runs(RunsFilter(tags={CAMPAIGN_TAG: name, PASS_TAG: stage}))
    if any(r.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED) for r in runs):
        return None
    return sum(r.status == DagsterRunStatus.SUCCESS for r in runs) >= expected


def _runs_of(keys: list[str]) -> list[list[str]]:
    """The range split as a backfill splits it: ``ENRICHMENT_PARTITIONS_PER_RUN`` per run."""
    size = partitions_per_run()
    return [keys[i:i + size] for i in range(0, len(keys), size)]


def _materialize(name: str, stage: str, assets: list[str], keys: list[str]) -> list[RunRequest]:
    """One run per ``ENRICHMENT_PARTITIONS_PER_RUN`` partitions (a range run, as a UI
    backfill makes), not one per hour: a year is 365 runs a pass, not 8,760."""
    requests = []
    for run_keys in _runs_of(keys):
        tags = {CAMPAIGN_TAG: name, PASS_TAG: stage}
        if len(run_keys) > 1:
            tags |= {ASSET_PARTITION_RANGE_START_TAG: run_keys[0],
                     ASSET_PARTITION_RANGE_END_TAG: run_keys[-1]}
        requests.append(RunRequest(
            run_key=f"{name}:{stage}:{run_keys[0]}...{run_keys[-1]}",
            partition_key=run_keys[0] if len(run_keys) == 1 else None,
            # The sensor targets two jobs: the daemon refuses a request that names none.
            job_name=enrich_job.name,
            asset_selection=[AssetKey(a) for a in assets], tags=tags))
    return requests


def advance_campaign(context: SensorEvaluationContext, root: StorageRoot, cache: Any,
                     client: BatchClient, campaign: dict[str, Any]
                     ) -> tuple[list[RunRequest], list[AssetObservation]]:
    """One step of one campaign (see the module docstring)."""
    name, p, keys = campaign["name"], int(campaign["pass"]), campaign["partitions"]
    observations: list[AssetObservation] = []
    mine = set(campaign["jobs"])
    if campaign["state"] in ("submitting", "submitted"):
        run = context.instance.get_run_by_id(campaign["run_id"]) if campaign.get("run_id") else None
        cancelled = run is not None and run.status in (
            DagsterRunStatus.CANCELED, DagsterRunStatus.CANCELING)
        # A submission that failed half-way (e.g. a quota refusal) stops like a cancelled
        # one: the jobs it made are stopped and collected, nothing is left planned, and a new
        # launch over the same range sends only what is still unanswered.
        failed = campaign["state"] == "submitting" and run is not None and run.status == (
            DagsterRunStatus.FAILURE)
        if campaign.get("stop") or cancelled or failed:
            for entry, state in batch.poll(root, client):
                if entry.job_name in mine and not state.done and entry.job_arn:
                    client.stop(entry.job_arn)
            batch.abandon_planned(root, mine)
            campaign["state"] = "stopping"
            save_campaign(root, campaign)
            return [], observations
    if campaign["state"] in ("submitted", "stopping"):
        states = [(e, s) for e, s in batch.poll(root, client) if e.job_name in mine]
        for entry, state in states:
            if state.done:
                batch.collect(entry, state, root, cache)
        ledger = {e.job_name: e for e in batch.JobLedger(root).entries() if e.job_name in mine}
        observations.append(AssetObservation(asset_key=AssetKey(f"pass{p}"), metadata={
            "campaign": name,
            "job_states": json.dumps({n: e.status for n, e in ledger.items()}),
            **{k: v for k, v in batch.summarize(
                [e for e in ledger.values() if e.state == batch.COLLECTED]).items()
               if isinstance(v, int | float)},
        }))
        if all(e.state in batch.SETTLED for e in ledger.values()):
            campaign["state"] = "stopped" if campaign["state"] == "stopping" else "materializing"
            save_campaign(root, campaign)
    elif campaign["state"] == "materializing":
        if _runs_done(context, name, f"pass{p}", len(_runs_of(keys))):
            later = [q for q in campaign["passes"] if q > p]
            if later:
                campaign.update({"pass": later[0], "state": "submitting", "jobs": [],
                                 "run_id": None})
            else:
                campaign["state"] = "finishing"
            save_campaign(root, campaign)
    elif campaign["state"] == "finishing" and _runs_done(context, name, "final",
                                                         len(_runs_of(keys))):
        campaign["state"] = "done"
        save_campaign(root, campaign)
    return _stage_requests(campaign), observations


def _stage_requests(campaign: dict[str, Any]) -> list[RunRequest]:
    """The runs the campaign's stage needs, sent on every tick until they exist.

    Why every tick: the stage is saved to storage during the tick, before the daemon has
    accepted its run requests; a tick that fails after that (a code-server timeout, a daemon
    restart) would otherwise leave the campaign waiting for runs nobody requested. The run
    keys make each run once, however often it is requested.
    """
    name, p, keys = campaign["name"], int(campaign["pass"]), campaign["partitions"]
    if campaign["state"] == "materializing":
        return _materialize(name, f"pass{p}", [f"pass{p}"], keys)
    if campaign["state"] == "finishing":
        downstream = [f"pass{q}" for q in (1, 2, 3) if q > p]
        return _materialize(name, "final", [*downstream, "silver_ai"], keys)
    if campaign["state"] == "submitting" and not campaign.get("run_id"):
        return [RunRequest(
            run_key=f"{name}:submit:pass{p}", job_name=batch_backfill_job.name,
            run_config={"ops": {"submit_batch_pass": {"config": {
                "start": keys[0], "end": keys[-1], "passes": campaign["passes"],
                "models": campaign["models"], "min_records": campaign["min_records"],
                "campaign": name, "pass_number": p,
                "role_arn": campaign.get("role_arn", ""),
                "max_records_per_job": int(campaign.get("max_records_per_job")
                                           or batch.MAX_RECORDS_PER_FILE),
            }}}},
            tags={CAMPAIGN_TAG: name, PASS_TAG: f"submit{p}"})]
    return []


def _active(campaign: dict[str, Any]) -> bool:
    return campaign["state"] not in ("done", "stopped")


@sensor(jobs=[batch_backfill_job, enrich_job], minimum_interval_seconds=INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="Follows batch backfills: polls Bedrock jobs, collects their answers, "
                    "requests each pass's materialization when its jobs are done.")
def batch_backfill_sensor(context: SensorEvaluationContext, storage: StorageResource,
                          llm: LLMResource) -> SensorResult | SkipReason:
    root = storage.root
    campaigns = [c for c in load_campaigns(root) if _active(c)]
    if not campaigns:
        return SkipReason("no batch backfill in progress")
    client = BatchClient(endpoint_url=llm.bedrock_endpoint_url, region_name=llm.aws_region)
    requests: list[RunRequest] = []
    observations: list[AssetObservation] = []
    cache = storage.cache()
    try:
        for campaign in campaigns:
            more, seen = advance_campaign(context, root, cache, client, campaign)
            requests += more
            observations += seen
    finally:
        cache.close()  # seal this tick's segment: every collected answer is durable
    cursor = json.dumps({c["name"]: f"pass{c['pass']}:{c['state']}"
                         for c in load_campaigns(root)}, sort_keys=True)
    return SensorResult(run_requests=requests, asset_events=observations, cursor=cursor)
