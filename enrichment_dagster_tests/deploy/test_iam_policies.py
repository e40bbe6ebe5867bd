"""The IAM policy documents in ``deploy/iam/`` grant exactly what the deployment needs.

Each document must be a valid identity policy, and the test holds the complete list of
(action, resource) grants per role: a new permission has to be added here on purpose, with
its reason in ``deploy/iam/README.md``. No action wildcards; a ``*`` resource only for the
actions AWS offers no resource-level permissions for.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from enrichment_dagster_tests.deploy.conftest import IAM_DIR, PRODUCTION_YAML, load_yaml

ECS = "arn:aws:ecs:${Region}:${AccountId}"
BUCKET = "arn:aws:s3:::${StorageBucket}"
OBJECTS = BUCKET + "/${StoragePrefix}"
MODELS = [f"arn:aws:bedrock:${{Region}}::foundation-model/${{ModelIdPass{n}}}" for n in (1, 2, 3)]
OWN_DATASETS = ("pass1", "pass2", "pass3", "silver_ai", "_cache")
CLUSTER_CONDITION = {"ArnEquals": {"ecs:cluster": ECS + ":cluster/${ClusterName}"}}
TASKS = ECS + ":task/${ClusterName}/*"
RUN_LOG_GROUP = "arn:aws:logs:${Region}:${AccountId}:log-group:${RunLogGroup}"
SERVICE_LOG_GROUP = "arn:aws:logs:${Region}:${AccountId}:log-group:${ServiceLogGroup}"

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
        ("s3:GetObject", OBJECTS + "/silver/*", _condition(None)),
        *{
            (action, f"{OBJECTS}/{dataset}/*", _condition(None))
            for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for dataset in OWN_DATASETS
        },
        ("s3:ListBucket", BUCKET, _prefixes("silver", *OWN_DATASETS)),
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
    assert {path.name for path in IAM_DIR.glob("*.json")} == set(EXPECTED)


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


def test_templates_become_valid_arns_once_filled() -> None:
    """Substituting sample values leaves no token behind and yields well-formed ARNs."""
    values = {
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
        "RunLogGroup": "/ecs/enrichment/runs",
        "ServiceLogGroup": "/ecs/enrichment/services",
        "SecretsPrefix": "enrichment",
        "EcrRepository": "enrichment-dagster",
    }
    for name in EXPECTED:
        text = (IAM_DIR / name).read_text(encoding="utf-8")
        filled = re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: values[m.group(1)], text)
        assert "${" not in filled
        for _, resource, _ in _grants(json.loads(filled)):
            assert resource == "*" or resource.startswith("arn:aws:"), resource
