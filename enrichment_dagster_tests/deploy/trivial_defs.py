"""A one-op job: enough for an instance to store a run and its events, or to launch a run.

The deployment tests exercise the *instance* configuration (storage, launcher), not the
pipeline, so they use this instead of ``enrichment_dagster.definitions`` (which would tie
them to Bedrock settings and the Silver sample).
"""

from __future__ import annotations

from dagster import Definitions, job, op


@op
def say_hello() -> str:
    return "hello"


@job
def trivial() -> None:
    say_hello()


defs = Definitions(jobs=[trivial])
