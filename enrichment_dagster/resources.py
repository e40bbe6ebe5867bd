"""Resources: where data lives and which model answers, all set through environment
variables with defaults that run offline (local ``./data`` folder, heuristic backend).

A variable that is set is passed as ``EnvVar`` so the UI shows where a value came from
and secrets never land in run config; an unset one falls back to the offline default.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, PrivateAttr

from enrichment_dagster import env
from enrichment_dagster.engine.config import DEFAULT_MODEL, EngineConfig
from enrichment_dagster.engine.run_snapshot import DEFAULT_CHUNK_RECORDS
from enrichment_dagster.llm.registry import available_backends, make_backend
from enrichment_dagster.llm.types import LLMBackend
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot

#: Attempts botocore's ``standard`` retry mode makes for a 5xx: what a transient error is
#: owed in total, whichever layer makes them.
STANDARD_MODE_ATTEMPTS = 3


def env_or(name: str, default: Any) -> Any:
    """``EnvVar(name)`` when the variable is set, else the offline default."""
    return EnvVar(name) if os.environ.get(name) not in (None, "") else default


def env_int_or(name: str, default: int | None, minimum: int = 1) -> Any:
    """``EnvVar.int(name)`` when set, else the default.

    The value is parsed here first (``enrichment_dagster.env``), so a malformed one fails
    when the definitions load, naming the variable and the value, not at the first run.
    """
    if env.env_int(name, None, minimum=minimum) is None:
        return default
    return EnvVar.int(name)


class StorageResource(ConfigurableResource):
    """The storage root: a local folder or ``s3://bucket/prefix``."""

    storage_uri: str = Field(default="./data", description="ENRICHMENT_STORAGE_URI")
    s3_endpoint_url: str | None = Field(default=None, description="S3_ENDPOINT_URL")
    chunk_records: int = Field(
        default=DEFAULT_CHUNK_RECORDS, ge=1,
        description="ENRICHMENT_CHUNK_RECORDS: records per engine call; a step holds two chunks at "
                    "most (memory is bounded by this, not by the partition)",
    )

    @cached_property
    def root(self) -> StorageRoot:
        return StorageRoot(self.storage_uri, self.s3_endpoint_url)

    def cache(self) -> CacheStore:
        return CacheStore(self.root)


class LLMResource(ConfigurableResource):
    """Which backend and models answer each pass, and how hard they may be pushed."""

    backend: str = Field(default="heuristic", description="heuristic | bedrock | openai | replay")
    model_pass1: str = Field(default=DEFAULT_MODEL)
    model_pass2: str = Field(default=DEFAULT_MODEL)
    model_pass3: str = Field(default=DEFAULT_MODEL)
    aws_region: str | None = None
    bedrock_endpoint_url: str | None = None
    openai_base_url: str | None = None
    replay_dir: str | None = None
    concurrency: int = Field(default=8, description="model calls in flight per step")
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    budget_usd_per_partition: float | None = None
    max_attempts_per_record: int = 3
    #: 1: throttles reach the engine at once, whose shared governor paces every worker;
    #: botocore retrying each request on its own would sleep blindly per thread.
    botocore_max_attempts: int = 1

    _backend: LLMBackend | None = PrivateAttr(default=None)

    def model(self, pass_number: int) -> str:
        return {1: self.model_pass1, 2: self.model_pass2, 3: self.model_pass3}[pass_number]

    def make_backend(self) -> LLMBackend:
        if self._backend is None:
            settings: dict[str, Any] = {}
            if self.backend == "bedrock":
                settings = {
                    "region_name": self.aws_region,
                    "endpoint_url": self.bedrock_endpoint_url,
                    "models": [self.model(n) for n in (1, 2, 3)],
                    "max_attempts": self.botocore_max_attempts,
                    "max_concurrency": self.concurrency,
                }
            elif self.backend == "openai":
                settings = {"base_url": self.openai_base_url}
            elif self.backend == "replay":
                settings = {"folder": self.replay_dir}
            self._backend = make_backend(self.backend, **settings)
        return self._backend

    def engine_config(self) -> EngineConfig:
        """The engine settings; the engine makes the 5xx retries botocore no longer makes.

        ``EngineConfig.max_transient_retries`` (1) assumes a backend that already retried a
        5xx (botocore standard mode: 3 attempts). With ``botocore_max_attempts=1`` that left
        a 5xx two tries in all, and two 5xx in a row failed the record; the engine now gets
        the difference, so a 5xx has at least botocore's three tries.
        """
        return EngineConfig(
            concurrency=self.concurrency,
            max_transient_retries=max(
                EngineConfig.max_transient_retries,
                STANDARD_MODE_ATTEMPTS - self.botocore_max_attempts,
            ),
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            budget_usd=self.budget_usd_per_partition,
            max_attempts_per_record=self.max_attempts_per_record,
            models={n: self.model(n) for n in (1, 2, 3)},
        )


def storage_from_env() -> StorageResource:
    env.storage_uri()  # a malformed root fails here, naming ENRICHMENT_STORAGE_URI
    return StorageResource(
        storage_uri=env_or("ENRICHMENT_STORAGE_URI", "./data"),
        s3_endpoint_url=env_or("S3_ENDPOINT_URL", None),
        chunk_records=env_int_or("ENRICHMENT_CHUNK_RECORDS", DEFAULT_CHUNK_RECORDS),
    )


def llm_from_env() -> LLMResource:
    env.env_choice("ENRICHMENT_LLM_BACKEND", "heuristic", available_backends())
    return LLMResource(
        backend=env_or("ENRICHMENT_LLM_BACKEND", "heuristic"),
        model_pass1=env_or("ENRICHMENT_MODEL_PASS1", DEFAULT_MODEL),
        model_pass2=env_or("ENRICHMENT_MODEL_PASS2", DEFAULT_MODEL),
        model_pass3=env_or("ENRICHMENT_MODEL_PASS3", DEFAULT_MODEL),
        aws_region=env_or("AWS_REGION", None),
        bedrock_endpoint_url=env_or("BEDROCK_ENDPOINT_URL", None),
        openai_base_url=env_or("OPENAI_BASE_URL", None),
        replay_dir=env_or("ENRICHMENT_REPLAY_DIR", None),
        concurrency=env_int_or("ENRICHMENT_CONCURRENCY", 8),
        requests_per_minute=env_int_or("ENRICHMENT_REQUESTS_PER_MINUTE", None),
        tokens_per_minute=env_int_or("ENRICHMENT_TOKENS_PER_MINUTE", None),
        budget_usd_per_partition=env.env_float("ENRICHMENT_BUDGET_USD", None, positive=True),
        max_attempts_per_record=env_int_or("ENRICHMENT_MAX_ATTEMPTS", 3),
    )

