"""Helpers for the tests of ``deploy/``: the files themselves, and the variables they read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
PRODUCTION_YAML = DEPLOY_DIR / "dagster.yaml"
LOCAL_YAML = DEPLOY_DIR / "dagster.local.yaml"
IAM_DIR = DEPLOY_DIR / "iam"

#: A value no test may ever find outside the place it was put: stands for the database
#: password wherever a test checks that no secret leaks into an API call or a serialized ref.
SECRET_SENTINEL = "pw-sentinel-7f3c9e1d-must-never-leak"

#: Placeholder values for every variable deploy/dagster.yaml reads, as the ECS task
#: definitions of the webserver and the daemon would set them.
PRODUCTION_ENV: dict[str, str] = {
    "DAGSTER_PG_HOST": "enrichment.cluster-abc.us-east-1.rds.amazonaws.com",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": SECRET_SENTINEL,
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_PASSWORD_SECRET_ARN": (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:enrichment/dagster-pg-AbCdEf"
    ),
    "DAGSTER_RUN_CONTAINER_NAME": "run",
    "DAGSTER_RUN_TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/enrichment-run-task",
    "DAGSTER_RUN_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/enrichment-execution",
    "DAGSTER_RUN_LOG_GROUP": "/ecs/enrichment-runs",
    "AWS_REGION": "us-east-1",
    "ENRICHMENT_STORAGE_URI": "s3://enrichment-data/prod",
    "ENRICHMENT_PARTITIONS_START": "2025-12-01-00:00",
    "ENRICHMENT_LLM_BACKEND": "bedrock",
    "ENRICHMENT_MODEL_PASS1": "openai.gpt-oss-120b-1:0",
    "ENRICHMENT_MODEL_PASS2": "openai.gpt-oss-120b-1:0",
    "ENRICHMENT_MODEL_PASS3": "openai.gpt-oss-120b-1:0",
    "ENRICHMENT_CONCURRENCY": "8",
    # Empty: "no client-side limit / no budget", the resources' defaults.
    "ENRICHMENT_REQUESTS_PER_MINUTE": "",
    "ENRICHMENT_TOKENS_PER_MINUTE": "",
    "ENRICHMENT_BUDGET_USD": "",
    "ENRICHMENT_MAX_ATTEMPTS": "3",
    "ENRICHMENT_PARTITIONS_PER_RUN": "24",
    "ENRICHMENT_CHUNK_RECORDS": "1000",
    "ENRICHMENT_LEASE_WAIT_S": "900",
    "ENRICHMENT_BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/enrichment-bedrock-batch",
    "ENRICHMENT_BATCH_MIN_RECORDS": "100",
}


def load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def env_references(value: Any) -> Iterator[str]:
    """Every variable named by an ``{env: VAR}`` marker anywhere inside ``value``."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            yield value["env"]
            return
        for item in value.values():
            yield from env_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from env_references(item)
