"""model_consensus: validate quality by inter-model agreement before promoting data.

Opt-in and daily: it is in no job and no sensor targets it; materialize it from the UI
(or schedule it) when you want the numbers. For each day it samples N Silver records
deterministically, runs the configured models through all three passes with the same
engine, cache and pool as production (answers already paid for are reused), evaluates
agreement with the v2 method and stores the Markdown report under
``{root}/_evaluation/model_consensus/``, with the figures as metadata so the UI plots
them across days. With the offline heuristic backend every "model" gives the same answer
and agreement is trivially 100%: use it to try the plumbing, not to judge quality.
"""

import dataclasses
import hashlib
import json
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from enrichment_dagster.assets.silver import silver
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.engine.runner import run_pass
from enrichment_dagster.engine.tables import read_silver
from enrichment_dagster.evaluation.consensus import evaluate_outputs
from enrichment_dagster.evaluation.field_registry import MODEL_BY_ID, MODEL_ORDER
from enrichment_dagster.evaluation.loading import answer_output
from enrichment_dagster.evaluation.markdown import to_markdown
from enrichment_dagster.evaluation.records import JobOutputs
from enrichment_dagster.evaluation.report import to_json
from enrichment_dagster.partitions import hourly_partitions
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.parquet import list_partitions

daily_partitions = DailyPartitionsDefinition(
    start_date=hourly_partitions.start.strftime("%Y-%m-%d"), timezone="UTC"
)

#: The old system's published consensus targets, per pass.
AGREEMENT_TARGETS = {"pass1": 85.0, "pass2": 90.0, "pass3": 60.0}


class ConsensusConfig(Config):
    models: list[str] = [
        "openai.gpt-oss-120b-1:0",
        "qwen.qwen3-vl-235b-a22b",
        "google.gemma-3-27b-it",
    ]
    sample_size: int = 10


def sample_records(records: list[SilverRecord], size: int) -> list[SilverRecord]:
    """A stable sample: the same day always gives the same records, whatever their order."""
    ranked = sorted(records, key=lambda r: hashlib.sha256(r.job_posting_id.encode()).hexdigest())
    return ranked[:size]


def day_records(storage: StorageResource, day: str) -> list[SilverRecord]:
    records: list[SilverRecord] = []
    for key in sorted(list_partitions(storage.root, "silver")):
        if key.startswith(day):
            records.extend(read_silver(storage.root, key).records)
    return records


def run_models(records: list[SilverRecord], models: list[str], llm: LLMResource,
               storage: StorageResource) -> tuple[list[JobOutputs], dict[str, int]]:
    """Run every model on every pass; the answers stay in memory, one
    :class:`~enrichment_dagster.evaluation.records.JobOutputs` per record (no answer file:
    a job id never becomes a path)."""
    backend = llm.make_backend()
    calls: dict[str, int] = {}
    jobs = {r.job_posting_id: JobOutputs(r.job_posting_id) for r in records}
    for model in models:
        short = MODEL_BY_ID[model].short_id
        config = dataclasses.replace(llm.engine_config(), models={1: model, 2: model, 3: model})
        previous: dict[str, PassContext] = {r.job_posting_id: PassContext() for r in records}
        for pass_number in (1, 2, 3):
            results = run_pass(records, pass_number, backend, config, storage.cache(),
                               previous if pass_number > 1 else None)
            calls[model] = calls.get(model, 0) + sum(r.attempts for r in results)
            for result in results:
                if result.output is None:
                    continue
                job = jobs[result.record_id]
                output, anomalies = answer_output(
                    result.record_id, short, pass_number, result.output.model_dump(mode="json")
                )
                job.outputs.setdefault(pass_number, {})[short] = output
                job.anomalies.extend(anomalies)
                if result.success and pass_number < 3:
                    earlier = previous[result.record_id]
                    previous[result.record_id] = PassContext(
                        pass1=result.output if pass_number == 1 else earlier.pass1,
                        pass2=result.output if pass_number == 2 else None,
                    )
    for job in jobs.values():  # model order decides ties, as for answers read from folders
        for pass_number, by_model in job.outputs.items():
            job.outputs[pass_number] = dict(sorted(by_model.items(),
                                                   key=lambda item: MODEL_ORDER[item[0]]))
    return list(jobs.values()), calls


def unscorable_models(models: list[str]) -> list[str]:
    """Models the evaluator has no entry for (not in the model table): asked for, they
    would be paid for and then silently left out of every figure."""
    return [m for m in models if m not in MODEL_BY_ID]


@asset(
    deps=[silver],
    partitions_def=daily_partitions,
    group_name="evaluation",
    kinds={"bedrock"},
    pool="bedrock",
    check_specs=[AssetCheckSpec("consensus_agreement", asset="model_consensus",
                                description="agreement per pass at or above the targets")],
    description="Inter-model agreement (v2) on a daily sample of Silver records.",
)
def model_consensus(context: AssetExecutionContext, config: ConsensusConfig,
                    storage: StorageResource, llm: LLMResource):
    day = context.partition_key
    unknown = unscorable_models(config.models)
    if unknown:
        raise ValueError(
            f"model_consensus cannot score {', '.join(map(repr, unknown))}: not in the model "
            f"table (llm/models.yaml or ENRICHMENT_MODELS_FILE); known: "
            f"{', '.join(sorted(MODEL_BY_ID))}"
        )
    if len(set(config.models)) != len(config.models):
        raise ValueError(f"model_consensus: a model is listed twice in {config.models}")
    records = sample_records(day_records(storage, day), config.sample_size)
    if not records:
        raise ValueError(f"no Silver records for {day} under {storage.root.uri('silver')}")
    outputs, calls = run_models(records, config.models, llm, storage)
    run = evaluate_outputs(outputs, "v2", Path("model_consensus") / f"day={day}")
    report = to_json(run)
    markdown = to_markdown(run)
    target = storage.root.path("_evaluation", "model_consensus", f"day={day}")
    storage.root.write_bytes_atomic(f"{target}/report.md", markdown.encode())
    storage.root.write_bytes_atomic(f"{target}/report.json", json.dumps(report, indent=1).encode())
    summary = report["summary"]
    metadata = {f"agreement_{k}": v for k, v in summary.items() if v is not None}
    metadata.update({"jobs": report["jobs"], "models": len(config.models),
                     "model_calls": sum(calls.values()),
                     "report": MetadataValue.md(markdown[:20000]),
                     "report_path": MetadataValue.path(storage.root.display(f"{target}/report.md"))})
    yield MaterializeResult(metadata=metadata)
    yield agreement_check(summary)


def agreement_check(summary: dict[str, float | None]) -> AssetCheckResult:
    """Passes only on figures at or above the targets: a pass with no figure (no answers,
    too few models answering, nothing scorable) is a failure with its reason, never a pass."""
    missing = [k for k in AGREEMENT_TARGETS if summary.get(k) is None]
    low = {k: summary[k] for k, t in AGREEMENT_TARGETS.items()
           if summary.get(k) is not None and summary[k] < t}  # type: ignore[operator]
    problems = []
    if missing:
        problems.append(f"no agreement figure for {', '.join(missing)}: too few models "
                        "answered to score them")
    if low:
        problems.append("below target: " + ", ".join(
            f"{k} {v} < {AGREEMENT_TARGETS[k]}" for k, v in low.items()))
    return AssetCheckResult(
        check_name="consensus_agreement", passed=not problems,
        severity=AssetCheckSeverity.ERROR if missing else AssetCheckSeverity.WARN,
        description="; ".join(problems) or "every pass at or above its target",
        metadata={**{f"{k}_percent": summary.get(k) for k in AGREEMENT_TARGETS
                     if summary.get(k) is not None},
                  **{f"{k}_target": t for k, t in AGREEMENT_TARGETS.items()},
                  "problems": "; ".join(problems) or "none"},
    )
