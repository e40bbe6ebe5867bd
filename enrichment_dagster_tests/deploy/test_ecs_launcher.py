"""The production ``EcsRunLauncher`` section, launching a real run against moto's ECS server.

What is real: the launcher block of ``deploy/dagster.yaml`` exactly as written (task
definition fields, container name, secrets, env_vars, tags, ``use_current_ecs_task_config``),
Dagster's launcher code, boto3 and botocore, and HTTP to moto's ECS, EC2 and Secrets Manager
on 127.0.0.1 (the session's moto server serves every service on one port).

What is faked, and why:

* The ECS task metadata endpoint (``ECS_CONTAINER_METADATA_URI_V4``). In production the
  launcher asks it for the daemon's own task to copy its subnets and security groups. A
  stdlib HTTP server answers with a "daemon" task that the test runs in moto first, so the
  launcher follows its production code path rather than a test-only ``run_task_kwargs``.
* One moto gap (moto issue 7272): moto's RunTask fails with a 500 (``TypeError`` in
  ``_calculate_task_resource_requirements``) when only the task, not each container, has a
  memory size, which is how Dagster registers definitions. A botocore hook on the
  launcher's client copies the task memory onto the container of the RegisterTaskDefinition
  request before it is sent. The test records each request before that hook runs and
  asserts nothing the hook changes (container memory).
* The run stays STARTING: moto never starts containers.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from dagster import DagsterRunStatus
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import in_process_test_workspace, instance_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import deserialize_value

from enrichment_dagster_tests.deploy import trivial_defs
from enrichment_dagster_tests.deploy.conftest import (
    PRODUCTION_ENV,
    PRODUCTION_YAML,
    SECRET_SENTINEL,
    load_yaml,
)
from enrichment_dagster_tests.fakes.s3 import MotoS3

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/enrichment-dagster:1.2.3"


class _MetadataHandler(BaseHTTPRequestHandler):
    """ECS task metadata endpoint v4: ``/task`` and the container document at the root."""

    document: dict[str, Any] = {}

    def do_GET(self) -> None:  # the name http.server dispatches GET to
        path = self.path.rstrip("/")
        body = self.document["task"] if path.endswith("/task") else self.document["container"]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


@pytest.fixture
def metadata_endpoint() -> Iterator[dict[str, Any]]:
    """A fake task metadata endpoint; the test fills ``document`` before the launcher asks."""
    document: dict[str, Any] = {}
    handler = type("Handler", (_MetadataHandler,), {"document": document})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    document["uri"] = f"http://127.0.0.1:{server.server_address[1]}/v4/daemon-container"
    try:
        yield document
    finally:
        server.shutdown()
        server.server_close()


def _aws_world(endpoint_url: str) -> dict[str, str]:
    """Cluster, network and a running "daemon" task in moto; returns their ids and ARNs."""
    session = boto3.session.Session(region_name="us-east-1")
    ec2 = session.client("ec2", endpoint_url=endpoint_url)
    ecs = session.client("ecs", endpoint_url=endpoint_url)
    secrets = session.client("secretsmanager", endpoint_url=endpoint_url)

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    # Without DNS hostnames moto's RunTask fails building the ENI ('private_dns_name').
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"dagster-{vpc}", Description="dagster tasks", VpcId=vpc
    )["GroupId"]
    cluster = ecs.create_cluster(clusterName=f"enrichment-{vpc}")["cluster"]["clusterArn"]

    ecs.register_task_definition(
        family="enrichment-daemon",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {"name": "daemon", "image": IMAGE, "memory": 1024, "essential": True}
        ],
    )
    daemon_task = ecs.run_task(
        cluster=cluster,
        taskDefinition="enrichment-daemon",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [group],
                "assignPublicIp": "DISABLED",
            }
        },
    )["tasks"][0]["taskArn"]

    secret_arn = secrets.create_secret(
        Name=f"enrichment/dagster-pg-{vpc}", SecretString=SECRET_SENTINEL
    )["ARN"]
    return {
        "cluster": cluster,
        "subnet": subnet,
        "security_group": group,
        "daemon_task": daemon_task,
        "secret_arn": secret_arn,
    }


def _copy_task_memory_to_containers(params: dict[str, Any], **_: Any) -> None:
    """Work around moto issue 7272 (see the module docstring)."""
    memory = params.get("memory")
    for container in params.get("containerDefinitions", []):
        if memory and "memory" not in container:
            container["memory"] = int(memory)


@pytest.mark.slow
def test_ecs_run_launcher_from_production_config(
    moto_s3: MotoS3, metadata_endpoint: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = _aws_world(moto_s3.endpoint_url)
    metadata_endpoint["task"] = {"Cluster": world["cluster"], "TaskARN": world["daemon_task"]}
    metadata_endpoint["container"] = {"Name": "daemon"}

    env = {**PRODUCTION_ENV, "DAGSTER_PG_PASSWORD_SECRET_ARN": world["secret_arn"]}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The launcher builds its boto3 clients in its constructor: set these first.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_s3.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", metadata_endpoint["uri"])

    production = load_yaml(PRODUCTION_YAML)
    launcher_config = production["run_launcher"]
    assert launcher_config["class"] == "EcsRunLauncher"

    requests: dict[str, list[dict[str, Any]]] = {"RegisterTaskDefinition": [], "RunTask": []}

    def record(operation: str):
        def hook(params: dict[str, Any], **_: Any) -> None:
            requests[operation].append(copy.deepcopy(params))

        return hook

    with instance_for_test(overrides={"run_launcher": launcher_config}) as instance:
        launcher = instance.run_launcher
        events = launcher.ecs.meta.events
        events.register("before-parameter-build.ecs.RunTask", record("RunTask"))
        events.register(
            "before-parameter-build.ecs.RegisterTaskDefinition", record("RegisterTaskDefinition")
        )
        events.register(
            "before-parameter-build.ecs.RegisterTaskDefinition", _copy_task_memory_to_containers
        )

        origin = LoadableTargetOrigin(
            python_file=trivial_defs.__file__, attribute="defs", working_directory=None
        )
        with in_process_test_workspace(instance, origin, container_image=IMAGE) as workspace:
            location = workspace.get_code_location(
                InProcessCodeLocationOrigin(origin).location_name
            )
            repository = location.get_repository(next(iter(location.get_repositories())))
            remote_job = repository.get_full_job("trivial")
            run = instance.create_run_for_job(
                job_def=trivial_defs.trivial,
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
            )
            instance.launch_run(run.run_id, workspace)

        ecs = boto3.session.Session(region_name="us-east-1").client(
            "ecs", endpoint_url=moto_s3.endpoint_url
        )
        run = instance.get_run_by_id(run.run_id)
        assert run is not None
        assert run.status == DagsterRunStatus.STARTING
        task_arn = run.tags["ecs/task_arn"]
        task = ecs.describe_tasks(cluster=world["cluster"], tasks=[task_arn], include=["TAGS"])[
            "tasks"
        ][0]
        definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
            "taskDefinition"
        ]

    # --- the task definition the launcher registered -------------------------------------
    assert len(requests["RegisterTaskDefinition"]) == 1
    registered = requests["RegisterTaskDefinition"][0]
    assert registered["family"].startswith(
        launcher_config["config"]["task_definition_prefix"] + "_"
    )
    assert definition["family"] == registered["family"]
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert definition["taskRoleArn"] == env["DAGSTER_RUN_TASK_ROLE_ARN"]
    assert definition["executionRoleArn"] == env["DAGSTER_RUN_EXECUTION_ROLE_ARN"]
    assert (definition["cpu"], definition["memory"]) == ("1024", "2048")
    (container,) = definition["containerDefinitions"]
    assert container["name"] == env["DAGSTER_RUN_CONTAINER_NAME"]
    assert container["image"] == IMAGE
    assert container["logConfiguration"]["logDriver"] == "awslogs"
    assert container["logConfiguration"]["options"]["awslogs-group"] == env["DAGSTER_RUN_LOG_GROUP"]
    assert registered["containerDefinitions"][0]["linuxParameters"] == {"initProcessEnabled": True}

    environment = {item["name"]: item["value"] for item in container["environment"]}
    forwarded = set(launcher_config["config"]["env_vars"])
    assert set(environment) == forwarded | {"DAGSTER_RUN_JOB_NAME"}
    assert {name: environment[name] for name in forwarded} == {
        name: env[name] for name in forwarded
    }
    assert "DAGSTER_PG_PASSWORD" not in environment
    assert container["secrets"] == [
        {"name": "DAGSTER_PG_PASSWORD", "valueFrom": world["secret_arn"]}
    ]

    # --- the task: command, network copied from the daemon's task, tags -------------------
    (run_task,) = requests["RunTask"]
    assert run_task["cluster"] == world["cluster"]
    assert run_task["launchType"] == "FARGATE"
    assert run_task["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": [world["subnet"]],
        "assignPublicIp": "DISABLED",
        "securityGroups": [world["security_group"]],
    }
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == env["DAGSTER_RUN_CONTAINER_NAME"]
    command = override["command"]
    assert command[:3] == ["dagster", "api", "execute_run"]
    args = deserialize_value(command[-1], ExecuteRunArgs)
    assert args.run_id == run.run_id
    assert args.job_origin.job_name == "trivial"
    tags = {tag["key"]: tag["value"] for tag in task["tags"]}
    assert tags["dagster/run_id"] == run.run_id
    assert tags["dagster/job_name"] == "trivial"
    assert tags["application"] == "enrichment-dagster"

    # --- no secret anywhere in what went over the ECS API ---------------------------------
    sent = json.dumps(requests, default=str) + json.dumps(definition, default=str)
    sent += json.dumps(task, default=str)
    assert SECRET_SENTINEL not in sent
