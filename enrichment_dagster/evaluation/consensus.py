"""Multi-model consensus evaluation: the entry point the CLI and notebooks call.

``legacy`` reproduces the old method so its published figures can be asserted; ``v2`` (the
default) is the honest version described in :mod:`enrichment_dagster.evaluation.v2`. A v2
run also evaluates the same loaded inputs with legacy, so its report can quantify every
difference instead of merely asserting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from enrichment_dagster.evaluation import legacy, v2
from enrichment_dagster.evaluation.loading import (
    SourcePolicy,
    default_source,
    discover_jobs,
    load_job,
    source_order,
)
from enrichment_dagster.evaluation.records import Anomaly, JobEvaluation, JobOutputs
from enrichment_dagster.evaluation.v2 import Settings

Method = Literal["legacy", "v2"]
METHODS: tuple[Method, ...] = ("legacy", "v2")


@dataclass
class ConsensusRun:
    """Everything a report needs: inputs (for provenance), verdicts and settings."""

    method: Method
    directory: Path
    source: SourcePolicy
    outputs: list[JobOutputs]
    evaluations: list[JobEvaluation]
    settings: Settings
    #: v2 only: legacy verdicts on the very same inputs, for the comparison section.
    legacy_baseline: list[JobEvaluation] | None = None

    @property
    def anomalies(self) -> list[Anomaly]:
        return [a for job in self.outputs for a in job.anomalies]


def evaluate_directory(
    directory: Path,
    method: Method = "v2",
    jobs: list[str] | None = None,
    source: SourcePolicy | None = None,
    settings: Settings | None = None,
) -> ConsensusRun:
    """Evaluate ``<directory>/<job_id>/pass{N}-<model>{.json,-raw.txt}``; ``source`` None
    follows the method (:func:`~enrichment_dagster.evaluation.loading.default_source`)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    source = source or default_source(method)
    order = source_order(source, method)
    outputs = [load_job(directory, job_id, order) for job_id in discover_jobs(directory, jobs)]
    settings = settings or Settings()
    return evaluate_outputs(outputs, method, directory, source, settings)


def evaluate_outputs(
    outputs: list[JobOutputs],
    method: Method,
    directory: Path,
    source: SourcePolicy = "auto",
    settings: Settings | None = None,
) -> ConsensusRun:
    """Evaluate answers that are already loaded (tests, or callers with their own loader)."""
    settings = settings or Settings()
    baseline = [legacy.evaluate_job(job) for job in outputs]
    if method == "legacy":
        return ConsensusRun(method, directory, source, outputs, baseline, settings)
    evaluations = [v2.evaluate_job(job, settings) for job in outputs]
    return ConsensusRun(method, directory, source, outputs, evaluations, settings, baseline)


def read_jobs_file(path: Path) -> list[str]:
    """One id per line (commas also accepted); ``#`` starts a comment."""
    ids: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0]
        ids += [part.strip() for part in text.split(",") if part.strip()]
    return ids
