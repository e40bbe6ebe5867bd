"""Amazon Bedrock batch inference: the control-plane client and the JSONL record format.

Why a separate module from :mod:`enrichment_dagster.llm.bedrock`: batch is not a backend (it
answers nothing synchronously); it is four control-plane calls on the ``bedrock`` client
(create / get / list / stop model-invocation jobs) plus two formats: the input line
``{"recordId", "modelInput"}`` and the output line ``{"recordId", "modelInput",
"modelOutput" | "error"}``. With ``modelInvocationType="Converse"`` the model input is the
same Converse body the on-demand backend sends (minus ``modelId``), so a batch answer and an
on-demand answer come from the same prompt and are parsed by the same code.

Batch supports neither tool calling nor structured output: ``toolConfig`` is left out and
the answer is JSON in the text, which the engine's parser already handles.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from enrichment_dagster.llm.bedrock import build_converse_kwargs, parse_converse_response
from enrichment_dagster.llm.prices import ModelSpec
from enrichment_dagster.llm.types import LLMRequest, LLMResponse

#: Endpoint of the ``bedrock`` control plane (tests: the fake server); falls back to
#: ``BEDROCK_ENDPOINT_URL``, which the fake serves too.
CONTROL_ENDPOINT_ENV = "BEDROCK_CONTROL_ENDPOINT_URL"
RUNTIME_ENDPOINT_ENV = "BEDROCK_ENDPOINT_URL"

ACTIVE_STATES = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})
END_STATES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})

#: Bedrock's quotas per model (adjustable in Service Quotas; these are the defaults).
MIN_RECORDS_PER_JOB = 100
MAX_RECORDS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 1_000_000_000


@dataclass(frozen=True)
class JobState:
    """What ``get_model_invocation_job`` says about one job."""

    job_arn: str
    status: str
    message: str | None = None
    total: int = 0
    processed: int = 0
    success: int = 0
    errors: int = 0

    @property
    def done(self) -> bool:
        return self.status in END_STATES


@dataclass(frozen=True)
class OutputLine:
    """One parsed output line: the response, or the error Bedrock gave for the record."""

    record_id: str
    response: LLMResponse | None
    error: str | None


class BatchClient:
    """The four job calls on one boto3 ``bedrock`` client (thread-safe, private session)."""

    def __init__(self, *, region_name: str | None = None, endpoint_url: str | None = None,
                 max_attempts: int = 5) -> None:
        region = (region_name or os.environ.get("AWS_REGION")
                  or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        endpoint = (endpoint_url or os.environ.get(CONTROL_ENDPOINT_ENV)
                    or os.environ.get(RUNTIME_ENDPOINT_ENV) or None)
        self.client = boto3.session.Session().client(
            "bedrock", region_name=region, endpoint_url=endpoint,
            config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
        )

    def create(self, *, job_name: str, role_arn: str, model_id: str, input_uri: str,
               output_uri: str, token: str, timeout_hours: int = 24,
               tags: Mapping[str, str] | None = None) -> str:
        """Submit a job; the same ``token`` always yields the same job (idempotent)."""
        kwargs: dict[str, Any] = {
            "jobName": job_name,
            "roleArn": role_arn,
            "modelId": model_id,
            "clientRequestToken": token,
            "modelInvocationType": "Converse",
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_uri,
                                                      "s3InputFormat": "JSONL"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": output_uri}},
            "timeoutDurationInHours": timeout_hours,
        }
        if tags:
            kwargs["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return str(self.client.create_model_invocation_job(**kwargs)["jobArn"])

    def get(self, job_arn: str) -> JobState:
        reply = self.client.get_model_invocation_job(jobIdentifier=job_arn)
        return JobState(
            job_arn=job_arn,
            status=str(reply.get("status", "Submitted")),
            message=reply.get("message"),
            total=int(reply.get("totalRecordCount", 0) or 0),
            processed=int(reply.get("processedRecordCount", 0) or 0),
            success=int(reply.get("successRecordCount", 0) or 0),
            errors=int(reply.get("errorRecordCount", 0) or 0),
        )

    def list(self, name_contains: str | None = None) -> list[dict[str, Any]]:
        kwargs = {"nameContains": name_contains} if name_contains else {}
        return list(self.client.list_model_invocation_jobs(**kwargs)
                    .get("invocationJobSummaries", []))

    def stop(self, job_arn: str) -> None:
        self.client.stop_model_invocation_job(jobIdentifier=job_arn)


def job_id(job_arn: str) -> str:
    """The 12-character id at the end of a job ARN (the output folder's name)."""
    return job_arn.rsplit("/", 1)[-1]


def input_line(record_id: str, request: LLMRequest, spec: ModelSpec) -> bytes:
    """One JSONL input line: the on-demand Converse body without ``modelId``, tools and
    ``requestMetadata``.

    ``record_id`` becomes the line's ``recordId``, which names the record in the output
    line; the engine passes the answer's cache key. ``requestMetadata`` is left out because
    Bedrock documents request metadata for the bedrock-runtime calls (Converse,
    InvokeModel and their streaming forms), not for batch records, and ``recordId``
    already says whose line it is.
    """
    body = build_converse_kwargs(request, spec)
    body.pop("modelId", None)
    body.pop("toolConfig", None)
    body.pop("requestMetadata", None)
    line = {"recordId": record_id, "modelInput": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def parse_output_line(line: str, request_model_id: str) -> OutputLine:
    """Decode one output line; a line that is not JSON raises ValueError."""
    data = json.loads(line)
    record_id = str(data.get("recordId", ""))
    if "modelOutput" in data and isinstance(data["modelOutput"], Mapping):
        request = LLMRequest(record_id=record_id, pass_number=1, messages=(),
                             model_id=request_model_id, max_output_tokens=0)
        return OutputLine(record_id, parse_converse_response(data["modelOutput"], request, 0.0),
                          None)
    error = data.get("error") or {}
    message = (f"{error.get('errorCode', '?')}: {error.get('errorMessage', 'no modelOutput')}"
               if isinstance(error, Mapping) else str(error))
    return OutputLine(record_id, None, message)
