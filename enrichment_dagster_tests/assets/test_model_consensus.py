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


HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def consensus_run(tmp_path: Path, fake_bedrock, models: list[str], **kwargs):
    shutil.copytree(SAMPLE, tmp_path / "silver", dirs_exist_ok=True)
    llm = LLMResource(backend="bedrock", bedrock_endpoint_url=fake_bedrock.endpoint_url,
                      aws_region="us-east-1", concurrency=4)
    return materialize(
        [silver, model_consensus],
        selection=[model_consensus],
        partition_key="2025-12-10",
        resources={"storage": StorageResource(storage_uri=str(tmp_path)), "llm": llm},
        run_config={"ops": {"model_consensus": {"config": {"models": models, "sample_size": 3}}}},
        instance=DagsterInstance.ephemeral(),
        **kwargs,
    )


def test_every_model_of_the_model_table_is_scored(tmp_path: Path, fake_bedrock) -> None:
    """Regression: with claude-3-haiku (in models.yaml, not in the evaluator's own list of
    five) the evaluator ignored it as "unknown", every figure was None and the check
    passed. Every model the pipeline can run is now scored, and no answer file is written."""
    models = ["openai.gpt-oss-120b-1:0", "qwen.qwen3-vl-235b-a22b", HAIKU]
    result = consensus_run(tmp_path, fake_bedrock, models)
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert {f"agreement_pass{n}" for n in (1, 2, 3)} <= metadata.keys()
    report = json.loads(
        (tmp_path / "_evaluation/model_consensus/day=2025-12-10/report.json").read_text())
    assert report["anomalies"] == [] or all(
        a["kind"] != "unknown_model_file" for a in report["anomalies"])
    assert {f["model"] for f in report["provenance"]["files"]} >= {
        "gpt-oss", "qwen", "anthropic-claude-3-haiku-20240307-v1-0"}
    (check,) = result.get_asset_check_evaluations()
    assert check.passed
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert not [name for name in written if name.endswith("-raw.txt")]


def test_a_model_the_evaluator_cannot_score_fails_the_asset_before_any_call(
    tmp_path: Path, fake_bedrock
) -> None:
    result = consensus_run(tmp_path, fake_bedrock, ["openai.gpt-oss-120b-1:0", "acme.nope-1"],
                           raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot score 'acme.nope-1'" in str(failure.step_failure_data.error)
    assert fake_bedrock.stats.calls == 0


def test_no_figures_fail_the_check_with_a_message(tmp_path: Path, fake_bedrock) -> None:
    """Two of three models refused (not enabled on the account): one model answers, no
    field has enough voters, no figure exists. That is a failure, not a pass."""
    fake_bedrock.configure(known_models={"openai.gpt-oss-120b-1:0"})
    result = consensus_run(tmp_path, fake_bedrock, MODELS)
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert "no agreement figure for pass1, pass2, pass3" in check.description
