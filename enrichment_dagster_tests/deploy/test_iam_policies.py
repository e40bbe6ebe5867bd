"""The IAM policy documents in ``deploy/iam/`` grant exactly what the deployment needs.

Each document must be a valid identity policy, and the test holds the complete list of
(action, resource) grants per role: a new permission has to be added here on purpose, with
its reason in ``deploy/iam/README.md``. No action wildcards; a ``*`` resource only for the
actions AWS offers no resource-level permissions for. The trust policy of the Bedrock batch
service role is checked statement by statement, and the batch grants are checked against the
storage keys and Bedrock calls the batch code really makes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster.batch_backfill import (
    advance_campaign,
    load_campaigns,
    save_campaign,
    stop_campaign,
)
from enrichment_dagster.engine import batch
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.llm.bedrock_batch import JobState, job_id
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.deploy.conftest import IAM_DIR, PRODUCTION_YAML, load_yaml
from enrichment_dagster_tests.engine.conftest import make_records

ECS = "arn:aws:ecs:${Region}:${AccountId}"
BUCKET = "arn:aws:s3:::${StorageBucket}"
OBJECTS = BUCKET + "/${StoragePrefix}"
MODELS = [f"arn:aws:bedrock:${{Region}}::foundation-model/${{ModelIdPass{n}}}" for n in (1, 2, 3)]
OWN_DATASETS = ("pass1", "pass2", "pass3", "silver_ai", "_cache", "_leases", "_runs")
CLUSTER_CONDITION = {"ArnEquals": {"ecs:cluster": ECS + ":cluster/${ClusterName}"}}
TASKS = ECS + ":task/${ClusterName}/*"
RUN_LOG_GROUP = "arn:aws:logs:${Region}:${AccountId}:log-group:${RunLogGroup}"
SERVICE_LOG_GROUP = "arn:aws:logs:${Region}:${AccountId}:log-group:${ServiceLogGroup}"
BATCH_JOBS = "arn:aws:bedrock:${Region}:${AccountId}:model-invocation-job/*"
BATCH_INPUTS = OBJECTS + "/_batch/pass*/*/input/*"
BATCH_OUTPUTS = OBJECTS + "/_batch/pass*/*/output/*"
BATCH_LEDGER = OBJECTS + "/_batch/ledger/*"
BATCH_CAMPAIGNS = OBJECTS + "/_batch/campaigns/*"
CACHE = OBJECTS + "/_cache/*"
#: The tag keys ``engine.batch`` sets on every job it creates.
BATCH_JOB_TAG_KEYS = ["project", "pass"]
SAME_ACCOUNT = {"StringEquals": {"aws:ResourceAccount": "${AccountId}"}}
BEDROCK = "bedrock.amazonaws.com"
#: Trust policies (who may assume a role), checked by their own tests, not as grants.
BATCH_TRUST = "batch-service-role-trust.json"
TRUST_POLICIES = {BATCH_TRUST}

Grant = tuple[str, str, str]  # (action, resource, canonical JSON of the condition)


def _condition(condition: dict[str, Any] | None) -> str:
    return json.dumps(condition or {}, sort_keys=True)


def _prefixes(*folders: str) -> str:
    return _condition(
        {"StringLike": {"s3:prefix": [f"${{StoragePrefix}}/{folder}/*" for folder in folders]}}
    )


#: Everything each role may do. Resources "*" only where AWS has no resource-level
#: permissions for the action (see deploy/iam/README.md).
EXPECTED: dict[str, set[Grant]] = {
    "run-task-role.json": {
        *{("bedrock:InvokeModel", model, _condition(None)) for model in MODELS},
        # batch_backfill_job submits the jobs of one pass (engine.batch.submit_plan).
        *{("bedrock:CreateModelInvocationJob", arn, _condition(None)) for arn in (*MODELS, BATCH_JOBS)},
        (
            "bedrock:TagResource",
            BATCH_JOBS,
            _condition({"ForAllValues:StringEquals": {"aws:TagKeys": BATCH_JOB_TAG_KEYS}}),
        ),
        (
            "iam:PassRole",
            "arn:aws:iam::${AccountId}:role/${BatchServiceRoleName}",
            _condition({"StringEquals": {"iam:PassedToService": BEDROCK}}),
        ),
        ("s3:GetObject", OBJECTS + "/silver/*", _condition(None)),
        *{
            (action, f"{OBJECTS}/{dataset}/*", _condition(None))
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for dataset in OWN_DATASETS
        },
        ("s3:ListBucket", BUCKET, _prefixes("silver", *OWN_DATASETS)),
        ("s3:GetObject", BATCH_LEDGER, _condition(None)),
        *{("s3:PutObject", key, _condition(None)) for key in (BATCH_INPUTS, BATCH_LEDGER, BATCH_CAMPAIGNS)},
        ("s3:ListBucket", BUCKET, _prefixes("_batch/ledger")),
    },
    "daemon-role.json": {
        (
            "ecs:RunTask",
            ECS + ":task-definition/enrichment_*:*",
            _condition(CLUSTER_CONDITION),
        ),
        ("ecs:TagResource", TASKS, _condition({"StringEquals": {"ecs:CreateAction": "RunTask"}})),
        ("ecs:DescribeTasks", TASKS, _condition(CLUSTER_CONDITION)),
        ("ecs:StopTask", TASKS, _condition(CLUSTER_CONDITION)),
        ("ecs:RegisterTaskDefinition", "*", _condition(None)),
        ("ecs:DescribeTaskDefinition", "*", _condition(None)),
        ("ec2:DescribeNetworkInterfaces", "*", _condition(None)),
        *{
            (
                "iam:PassRole",
                f"arn:aws:iam::${{AccountId}}:role/${{{role}}}",
                _condition({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
            )
            for role in ("RunTaskRoleName", "ExecutionRoleName")
        },
        ("logs:GetLogEvents", RUN_LOG_GROUP + ":log-stream:*", _condition(None)),
        ("s3:GetObject", OBJECTS + "/silver_ai/*", _condition(None)),
        ("s3:ListBucket", BUCKET, _prefixes("silver", "silver_ai")),
        # batch_backfill_sensor: polls and stops the jobs, collects their answers.
        *{
            (action, BATCH_JOBS, _condition(None))
            for action in ("bedrock:GetModelInvocationJob", "bedrock:StopModelInvocationJob")
        },
        *{
            ("s3:GetObject", key, _condition(None))
            for key in (BATCH_CAMPAIGNS, BATCH_LEDGER, BATCH_OUTPUTS, CACHE)
        },
        *{("s3:PutObject", key, _condition(None)) for key in (BATCH_CAMPAIGNS, BATCH_LEDGER, CACHE)},
        (
            "s3:ListBucket",
            BUCKET,
            _prefixes("_batch/campaigns", "_batch/ledger", "_batch/pass*/*/output", "_cache"),
        ),
    },
    "batch-service-role.json": {
        ("s3:GetObject", BATCH_INPUTS, _condition(SAME_ACCOUNT)),
        ("s3:PutObject", BATCH_OUTPUTS, _condition(SAME_ACCOUNT)),
        (
            "s3:ListBucket",
            BUCKET,
            _condition({**SAME_ACCOUNT, "StringLike": {"s3:prefix": ["${StoragePrefix}/_batch/pass*"]}}),
        ),
    },
    "webserver-role.json": {
        ("ecs:DescribeTasks", TASKS, _condition(CLUSTER_CONDITION)),
        ("ecs:StopTask", TASKS, _condition(CLUSTER_CONDITION)),
    },
    "execution-role.json": {
        (
            "secretsmanager:GetSecretValue",
            "arn:aws:secretsmanager:${Region}:${AccountId}:secret:${SecretsPrefix}/*",
            _condition(None),
        ),
        (
            "ssm:GetParameters",
            "arn:aws:ssm:${Region}:${AccountId}:parameter/${SecretsPrefix}/*",
            _condition(None),
        ),
        *{
            (action, "arn:aws:ecr:${Region}:${AccountId}:repository/${EcrRepository}", "{}")
            for action in (
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            )
        },
        ("ecr:GetAuthorizationToken", "*", _condition(None)),
        *{
            (action, group + ":*", _condition(None))
            for action in ("logs:CreateLogStream", "logs:PutLogEvents")
            for group in (RUN_LOG_GROUP, SERVICE_LOG_GROUP)
        },
    },
}

#: Actions for which AWS accepts only "Resource": "*".
STAR_RESOURCE_ALLOWED = {
    "ecs:RegisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeNetworkInterfaces",
    "ecr:GetAuthorizationToken",
}

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z]+$")


def _load(name: str) -> dict[str, Any]:
    return json.loads((IAM_DIR / name).read_text(encoding="utf-8"))


def _grants(policy: dict[str, Any]) -> set[Grant]:
    grants: set[Grant] = set()
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                grants.add((action, resource, _condition(statement.get("Condition"))))
    return grants


def test_the_folder_holds_exactly_these_policies() -> None:
    assert {path.name for path in IAM_DIR.glob("*.json")} == set(EXPECTED) | TRUST_POLICIES


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_policy_document_shape(name: str) -> None:
    policy = _load(name)
    assert set(policy) == {"Version", "Statement"}
    assert policy["Version"] == "2012-10-17"
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert len(sids) == len(set(sids)), "duplicate Sid"
    for statement in policy["Statement"]:
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        assert re.fullmatch(r"[A-Za-z0-9]+", statement["Sid"])
        assert statement["Effect"] == "Allow"
        # Lists, never a bare string, so a reviewer sees every entry the same way.
        assert isinstance(statement["Action"], list) and statement["Action"]
        assert isinstance(statement["Resource"], list) and statement["Resource"]
        for action in statement["Action"]:
            assert _ACTION.match(action), f"{name}: {action!r} is not a plain action"
        if "*" in statement["Resource"]:
            assert statement["Resource"] == ["*"]
            assert set(statement["Action"]) <= STAR_RESOURCE_ALLOWED, (name, statement["Sid"])
    # IAM rejects identity policies over 6,144 characters (whitespace excluded).
    assert len(re.sub(r"\s", "", json.dumps(policy))) < 6144


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_policy_grants_exactly_the_listed_permissions(name: str) -> None:
    granted = _grants(_load(name))
    assert granted - EXPECTED[name] == set(), "granted but not expected"
    assert EXPECTED[name] - granted == set(), "expected but not granted"


def test_run_task_definition_prefix_matches_the_launcher() -> None:
    """The daemon may run only the task definitions the launcher registers."""
    prefix = load_yaml(PRODUCTION_YAML)["run_launcher"]["config"]["task_definition_prefix"]
    (run_task,) = [g for g in _grants(_load("daemon-role.json")) if g[0] == "ecs:RunTask"]
    assert run_task[1] == f"{ECS}:task-definition/{prefix}_*:*"


def test_every_placeholder_is_documented() -> None:
    readme = (IAM_DIR / "README.md").read_text(encoding="utf-8")
    for path in sorted(IAM_DIR.glob("*.json")):
        for placeholder in sorted(set(re.findall(r"\$\{([A-Za-z0-9]+)\}", path.read_text()))):
            assert f"`${{{placeholder}}}`" in readme, f"{path.name}: ${{{placeholder}}}"


#: Sample values for every placeholder, as a deployment would fill them in.
SAMPLE_VALUES = {
    "Region": "us-west-2",
    "AccountId": "123456789012",
    "StorageBucket": "enrichment-data",
    "StoragePrefix": "prod",
    "ModelIdPass1": "openai.gpt-oss-120b-1:0",
    "ModelIdPass2": "openai.gpt-oss-120b-1:0",
    "ModelIdPass3": "openai.gpt-oss-120b-1:0",
    "ClusterName": "enrichment",
    "RunTaskRoleName": "enrichment-run-task",
    "ExecutionRoleName": "enrichment-execution",
    "BatchServiceRoleName": "enrichment-batch",
    "RunLogGroup": "/ecs/enrichment/runs",
    "ServiceLogGroup": "/ecs/enrichment/services",
    "SecretsPrefix": "enrichment",
    "EcrRepository": "enrichment-dagster",
}


def _filled(name: str) -> dict[str, Any]:
    text = (IAM_DIR / name).read_text(encoding="utf-8")
    filled = re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: SAMPLE_VALUES[m.group(1)], text)
    assert "${" not in filled, name
    return json.loads(filled)


def test_templates_become_valid_arns_once_filled() -> None:
    """Substituting sample values leaves no token behind and yields well-formed ARNs."""
    for name in EXPECTED:
        for _, resource, _ in _grants(_filled(name)):
            assert resource == "*" or resource.startswith("arn:aws:"), resource
    (statement,) = _filled(BATCH_TRUST)["Statement"]
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == (
        "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/*"
    )


# ------------------------------------------------------------------ batch service role trust
def test_batch_service_role_trusts_only_bedrock_batch_jobs_of_this_account() -> None:
    policy = _load(BATCH_TRUST)
    assert set(policy) == {"Version", "Statement"}
    assert policy["Version"] == "2012-10-17"
    (statement,) = policy["Statement"]
    assert set(statement) == {"Sid", "Effect", "Principal", "Action", "Condition"}
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": BEDROCK}
    assert statement["Action"] == ["sts:AssumeRole"]
    # Confused-deputy guard: only jobs of this account (and region) may assume the role.
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "${AccountId}"},
        "ArnLike": {"aws:SourceArn": BATCH_JOBS},
    }


def test_run_tasks_pass_the_batch_role_only_to_the_service_that_trusts_it() -> None:
    """The role the run tasks may pass is passed to the service its trust policy names, and
    the jobs they may create are the jobs the trust policy lets assume it."""
    run_task = _grants(_load("run-task-role.json"))
    (pass_role,) = [g for g in run_task if g[0] == "iam:PassRole"]
    (statement,) = _load(BATCH_TRUST)["Statement"]
    assert json.loads(pass_role[2]) == {
        "StringEquals": {"iam:PassedToService": statement["Principal"]["Service"]}
    }
    created = {g[1] for g in run_task if g[0] == "bedrock:CreateModelInvocationJob"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] in created


# ------------------------------------------------------------------ grants vs. the batch code
def _iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcard matching: ``*`` any run of characters (``/`` included), ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _allowed(policy: dict[str, Any], action: str, resource: str, prefix: str | None = None) -> bool:
    """Whether ``policy`` allows ``action`` on ``resource`` (and, for a listing, ``prefix``).
    Conditions other than ``s3:prefix`` are not evaluated."""
    for granted, pattern, condition in _grants(policy):
        if granted != action or not _iam_match(pattern, resource):
            continue
        if prefix is None:
            return True
        like = json.loads(condition).get("StringLike", {}).get("s3:prefix", [])
        if any(_iam_match(p, prefix) for p in like):
            return True
    return False


class _StorageCalls:
    """Records what a StorageRoot is asked to do, as the S3 requests it would make."""

    def __init__(self, root: StorageRoot, monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
        self.calls: list[tuple[str, str]] = []  # (action, key or listing prefix)
        self.base = base
        for method, action in (("read_bytes", "s3:GetObject"), ("exists", "s3:GetObject"),
                               ("write_bytes_atomic", "s3:PutObject"),
                               ("delete", "s3:DeleteObject"), ("list_files", "s3:ListBucket")):
            monkeypatch.setattr(root, method, self._recording(getattr(root, method), action))

    def key(self, fs_path: str) -> str:
        return os.path.relpath(fs_path, self.base).replace(os.sep, "/")

    def _recording(self, method: Callable[..., Any], action: str) -> Callable[..., Any]:
        def call(fs_path: str, *args: Any, **kwargs: Any) -> Any:
            # A listing is one ListObjectsV2 with Prefix = folder key + "/" (StorageRoot._list_s3).
            key = self.key(fs_path) + ("/" if action == "s3:ListBucket" else "")
            self.calls.append((action, key))
            return method(fs_path, *args, **kwargs)

        return call

    def take(self) -> list[tuple[str, str]]:
        calls, self.calls = self.calls, []
        return calls


class _RecordingBatchClient:
    """Stands in for BatchClient: records each Bedrock call, answers with scripted states."""

    ARN = "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/abcdef123456"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.status = "Submitted"

    def create(self, **kwargs: Any) -> str:
        self.calls.append(("bedrock:CreateModelInvocationJob", kwargs))
        return self.ARN

    def get(self, job_arn: str) -> JobState:
        self.calls.append(("bedrock:GetModelInvocationJob", {"job_arn": job_arn}))
        return JobState(job_arn=job_arn, status=self.status)

    def list(self, name_contains: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(("bedrock:ListModelInvocationJobs", {}))
        return []

    def stop(self, job_arn: str) -> None:
        self.calls.append(("bedrock:StopModelInvocationJob", {"job_arn": job_arn}))
        self.status = "Stopping"

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        calls, self.calls = self.calls, []
        return calls


def _assert_storage_allowed(role: str, calls: list[tuple[str, str]]) -> None:
    policy = _filled(role)
    bucket = SAMPLE_VALUES["StorageBucket"]
    assert calls, f"{role}: no storage call recorded"
    for action, key in calls:
        if action == "s3:ListBucket":
            assert _allowed(policy, action, f"arn:aws:s3:::{bucket}", prefix=key), (role, action, key)
        else:
            assert _allowed(policy, action, f"arn:aws:s3:::{bucket}/{key}"), (role, action, key)


def test_batch_grants_cover_every_call_the_batch_code_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drive the batch code through submission (run task), the job (Bedrock, with the service
    role) and the sensor's stop and collection (daemon), and check every storage request and
    Bedrock call of each against that role's filled-in policy. A change of the storage layout
    or of the calls that the grants do not follow fails here, not in production."""
    values = SAMPLE_VALUES
    root = StorageRoot(str(tmp_path / values["StoragePrefix"]))
    storage = _StorageCalls(root, monkeypatch, tmp_path.resolve())
    client = _RecordingBatchClient()
    role_arn = f"arn:aws:iam::{values['AccountId']}:role/{values['BatchServiceRoleName']}"
    options = batch.BatchOptions(role_arn=role_arn)
    cache = CacheStore(root)

    # Run task: batch_backfill_job's op (submit_batch_pass), minus reading Silver.
    campaign = {"name": "batch-0123abcd", "partitions": ["2025-12-10-19:00"], "passes": [1],
                "models": {}, "min_records": options.min_records, "role_arn": role_arn,
                "pass": 1, "state": "submitting", "jobs": [], "run_id": None}
    save_campaign(root, campaign)
    batch.resume(root, client, options)
    plan = batch.plan_pass(make_records(options.min_records), 1, EngineConfig(), cache, root, options)
    (entry,) = batch.submit_plan(plan, root, client, options)
    campaign.update(state="submitted", jobs=[entry.job_name])
    save_campaign(root, campaign)
    submitted = storage.take()
    _assert_storage_allowed("run-task-role.json", submitted)
    run_task = _filled("run-task-role.json")
    ((call, created),) = client.take()
    model = f"arn:aws:bedrock:{values['Region']}::foundation-model/{created['model_id']}"
    assert _allowed(run_task, call, model) and _allowed(run_task, call, client.ARN)
    assert _allowed(run_task, "iam:PassRole", created["role_arn"])
    assert sorted(created["tags"]) == sorted(BATCH_JOB_TAG_KEYS)
    assert _allowed(run_task, "bedrock:TagResource", client.ARN)

    # Daemon, first tick: the campaign was stopped (stop_campaign, run as a one-off task with
    # the daemon's task definition) while its job runs.
    stop_campaign(root, campaign["name"])
    client.status = "InProgress"
    (campaign,) = load_campaigns(root)
    advance_campaign(None, root, cache, client, campaign)  # type: ignore[arg-type]
    assert [call for call, _ in client.calls] == [
        "bedrock:GetModelInvocationJob", "bedrock:StopModelInvocationJob"]

    # Bedrock, as the service role: reads the input, writes the output of what it answered.
    service = _filled("batch-service-role.json")
    bucket = f"arn:aws:s3:::{values['StorageBucket']}"
    input_key = storage.key(entry.input_uri)  # a local root's URIs are its paths
    output_key = f"{storage.key(entry.output_uri)}/{job_id(client.ARN)}/records.jsonl.out"
    assert _allowed(service, "s3:GetObject", f"{bucket}/{input_key}")
    assert _allowed(service, "s3:ListBucket", bucket, prefix=input_key)
    assert _allowed(service, "s3:PutObject", f"{bucket}/{output_key}")
    assert _allowed(service, "s3:ListBucket", bucket, prefix=output_key.rsplit("/", 2)[0] + "/")
    # ... and nothing else the run task wrote (the ledger, the campaign).
    others = {key for action, key in submitted if action == "s3:PutObject"} - {input_key}
    assert others
    for key in others:
        assert not any(_allowed(service, a, f"{bucket}/{key}") for a in ("s3:GetObject", "s3:PutObject"))
    record_key = next(iter(entry.records))
    output = tmp_path / output_key
    output.parent.mkdir(parents=True)
    output.write_text(json.dumps({"recordId": record_key, "error": {
        "errorCode": 400, "errorMessage": "stopped"}}) + "\n", encoding="utf-8")

    # Daemon, next tick: the job has stopped; its output is collected, the campaign ends.
    client.status = "Stopped"
    (campaign,) = load_campaigns(root)
    advance_campaign(None, root, cache, client, campaign)  # type: ignore[arg-type]
    (ledger,) = batch.JobLedger(root).entries()
    assert ledger.state == batch.COLLECTED and ledger.outcome["errors"] == 1  # output found
    assert load_campaigns(root)[0]["state"] == "stopped"
    _assert_storage_allowed("daemon-role.json", storage.take())
    daemon = _filled("daemon-role.json")
    for call, kwargs in client.take():
        assert _allowed(daemon, call, kwargs["job_arn"]), call


def test_run_task_grants_cover_every_folder_a_run_writes(tmp_path: Path) -> None:
    """Run enrich_job for real on a local root and check that each top-level folder it left
    (datasets, cache, leases, run snapshots: a local folder outlives its deleted files) is
    readable, writable, deletable and listable under the run task's policy: a new folder
    in the storage layout that the policy does not follow fails here, not on ECS."""
    import shutil

    from dagster import DagsterInstance, Definitions

    from enrichment_dagster.assets.passes import pass1, pass2, pass3
    from enrichment_dagster.assets.silver import silver
    from enrichment_dagster.assets.silver_ai import silver_ai
    from enrichment_dagster.checks import QualityThresholds
    from enrichment_dagster.jobs import enrich_job
    from enrichment_dagster.resources import LLMResource, StorageResource
    from enrichment_dagster.sample_data import SAMPLE_PARTITIONS
    from enrichment_dagster.storage.io_manager import ParquetIOManager

    root = tmp_path / SAMPLE_VALUES["StoragePrefix"]
    shutil.copytree(Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver",
                    root / "silver")
    uri = str(root)
    defs = Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai], jobs=[enrich_job],
        resources={"storage": StorageResource(storage_uri=uri), "llm": LLMResource(backend="heuristic"),
                   "quality": QualityThresholds(), "parquet_io_manager": ParquetIOManager(storage_uri=uri)},
    )
    result = defs.resolve_job_def("enrich_job").execute_in_process(
        partition_key=SAMPLE_PARTITIONS[0], instance=DagsterInstance.ephemeral())
    assert result.success

    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "silver")
    assert {"pass1", "silver_ai", "_cache", "_leases", "_runs"} <= set(folders)
    policy = _filled("run-task-role.json")
    bucket = f"arn:aws:s3:::{SAMPLE_VALUES['StorageBucket']}"
    prefix = SAMPLE_VALUES["StoragePrefix"]
    for folder in folders:
        key = f"{prefix}/{folder}/year=2025/x.parquet"
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            assert _allowed(policy, action, f"{bucket}/{key}"), (action, folder)
        assert _allowed(policy, "s3:ListBucket", bucket, prefix=f"{prefix}/{folder}/"), folder
