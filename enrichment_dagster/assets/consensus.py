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
import tempfile
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
from enrichment_dagster.engine.tables import prepare_silver
from enrichment_dagster.evaluation.consensus import evaluate_directory
from enrichment_dagster.evaluation.markdown import to_markdown
from enrichment_dagster.evaluation.report import to_json
from enrichment_dagster.llm.replay import model_slug
from enrichment_dagster.partitions import hourly_partitions
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.parquet import list_partitions, read_partition

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
            records.extend(prepare_silver(read_partition(storage.root, "silver", key)).records)
    return records


def run_models(records: list[SilverRecord], models: list[str], llm: LLMResource,
               storage: StorageResource, folder: Path) -> dict[str, int]:
    """Run every model on every pass; write answers as ``<job>/pass{N}-<model>-raw.txt``."""
    backend = llm.make_backend()
    calls: dict[str, int] = {}
    for model in models:
        config = dataclasses.replace(llm.engine_config(), models={1: model, 2: model, 3: model})
        previous: dict[str, PassContext] = {r.job_posting_id: PassContext() for r in records}
        for pass_number in (1, 2, 3):
            results = run_pass(records, pass_number, backend, config, storage.cache(),
                               previous if pass_number > 1 else None)
            calls[model] = calls.get(model, 0) + sum(r.attempts for r in results)
            for result in results:
                if result.output is None:
                    continue
                target = folder / result.record_id / f"pass{pass_number}-{model_slug(model)}-raw.txt"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(result.output.model_dump_json(), encoding="utf-8")
                if result.success and pass_number < 3:
                    earlier = previous[result.record_id]
                    previous[result.record_id] = PassContext(
                        pass1=result.output if pass_number == 1 else earlier.pass1,
                        pass2=result.output if pass_number == 2 else None,
                    )
    return calls


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
    records = sample_records(day_records(storage, day), config.sample_size)
    if not records:
        raise ValueError(f"no Silver records for {day} under {storage.root.uri('silver')}")
    with tempfile.TemporaryDirectory() as tmp:
        calls = run_models(records, config.models, llm, storage, Path(tmp))
        run = evaluate_directory(Path(tmp), method="v2")
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
    low = {k: summary.get(k) for k, t in AGREEMENT_TARGETS.items()
           if summary.get(k) is not None and summary[k] < t}
    yield AssetCheckResult(
        check_name="consensus_agreement", passed=not low, severity=AssetCheckSeverity.WARN,
        metadata={**{f"{k}_percent": summary.get(k) or 0.0 for k in AGREEMENT_TARGETS},
                  **{f"{k}_target": t for k, t in AGREEMENT_TARGETS.items()}},
    )
