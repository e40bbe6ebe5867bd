"""Run one pass over a batch of records: dedup, cache, concurrency, pacing, retries,
re-asks, budget and per-record telemetry. Plain Python, no Dagster import."""

from enrichment_dagster.engine.config import DEFAULT_MODEL, EngineConfig
from enrichment_dagster.engine.ratelimit import Pacer, ThrottleGovernor, TokenBucket
from enrichment_dagster.engine.results import BatchSummary, PassContext, RecordResult
from enrichment_dagster.engine.runner import resolve_price, run_pass

__all__ = [
    "DEFAULT_MODEL",
    "BatchSummary",
    "EngineConfig",
    "Pacer",
    "PassContext",
    "RecordResult",
    "ThrottleGovernor",
    "TokenBucket",
    "resolve_price",
    "run_pass",
]
