"""Hand-made model answers for rule tests that must not depend on the shared data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from enrichment_dagster.evaluation.field_registry import LEGACY_MODELS, MODEL_BY_SHORT
from enrichment_dagster.evaluation.records import JobOutputs, ModelOutput

FIVE = tuple(m.short_id for m in LEGACY_MODELS)


def inference(value: Any, confidence: Any = 0.8) -> dict[str, Any]:
    return {"value": value, "confidence": confidence, "evidence": "", "source": "inferred"}


def pass2(group: str, field: str, obj: Any) -> dict[str, Any]:
    return {"inference": {group: {field: obj}}}


def pass3(group: str, field: str, obj: Any) -> dict[str, Any]:
    return {"analysis": {group: {field: obj}}, "summary": {}}


def job(answers: dict[int, dict[str, dict[str, Any]]], job_id: str = "1") -> JobOutputs:
    """``answers[pass][model] = result``; models missing from a pass did not answer it."""
    outputs = JobOutputs(job_id)
    for pass_number, by_model in answers.items():
        outputs.outputs[pass_number] = {
            model: ModelOutput(job_id, model, pass_number, result, "json", "mem", "0" * 64)
            for model, result in by_model.items()
        }
    return outputs


def same_for(models: tuple[str, ...], result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m: result for m in models}


def write_job(base: Path, job_id: str, answers: dict[int, dict[str, dict[str, Any]]]) -> Path:
    """Write answers in the old layout ``<job_id>/pass{N}-<infix>.json``."""
    folder = base / job_id
    folder.mkdir(parents=True, exist_ok=True)
    for pass_number, by_model in answers.items():
        for model, result in by_model.items():
            info = MODEL_BY_SHORT[model]
            metadata = {
                "job_posting_id": job_id,
                "model_id": info.model_id,
                "pass_name": f"pass{pass_number}",
                "job_title": "Data Engineer",
                "company_name": "Acme",
            }
            document = {"metadata": metadata, "result": result}
            path = folder / f"pass{pass_number}-{info.file_infix}.json"
            path.write_text(json.dumps(document), encoding="utf-8")
    return folder
