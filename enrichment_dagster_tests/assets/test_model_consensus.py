"""model_consensus: several models through the engine, agreement measured and stored."""

import json
import shutil
from pathlib import Path

from dagster import DagsterInstance, materialize

from enrichment_dagster.assets.consensus import model_consensus, sample_records
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.resources import LLMResource, StorageResource

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
MODELS = ["openai.gpt-oss-120b-1:0", "qwen.qwen3-vl-235b-a22b", "google.gemma-3-27b-it"]


def test_sample_is_stable_under_reordering() -> None:
    records = [SilverRecord(job_posting_id=str(i)) for i in range(30)]
    first = [r.job_posting_id for r in sample_records(records, 5)]
    second = [r.job_posting_id for r in sample_records(list(reversed(records)), 5)]
    assert first == second and len(first) == 5


def test_consensus_runs_three_models_and_stores_the_report(tmp_path: Path, fake_bedrock) -> None:
    shutil.copytree(SAMPLE, tmp_path / "silver")
    llm = LLMResource(backend="bedrock", bedrock_endpoint_url=fake_bedrock.endpoint_url,
                      aws_region="us-east-1", concurrency=4)
    result = materialize(
        [silver, model_consensus],
        selection=[model_consensus],
        partition_key="2025-12-10",
        resources={"storage": StorageResource(storage_uri=str(tmp_path)), "llm": llm},
        run_config={"ops": {"model_consensus": {"config": {"models": MODELS, "sample_size": 4}}}},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["jobs"] == 4 and metadata["models"] == 3
    assert metadata["model_calls"] == 4 * 3 * 3  # every record, model and pass, once
    assert metadata["agreement_overall"] == 100.0  # the fake answers identically for all
    report = tmp_path / "_evaluation/model_consensus/day=2025-12-10/report.json"
    assert json.loads(report.read_text())["method"] == "v2"
    (check,) = result.get_asset_check_evaluations()
    assert check.passed
