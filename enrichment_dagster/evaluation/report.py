"""The JSON rendering of a consensus run, and what the Markdown one shares with it.

Both carry provenance (input folder, a hash over every input file, the source of each
answer, the code version): the old published figures were silently invalidated when
outputs were regenerated in place, and a report must make that detectable.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

from enrichment_dagster import __version__
from enrichment_dagster.evaluation.aggregate import (
    RATE_KEYS,
    CalibrationBin,
    ModelStats,
    calibration,
    compare,
    job_rates,
    legacy_model_stats,
    summary_rates,
    v2_model_stats,
)
from enrichment_dagster.evaluation.consensus import ConsensusRun
from enrichment_dagster.evaluation.exact import mean, percent
from enrichment_dagster.evaluation.records import Anomaly

ANOMALY_LABELS: dict[str, str] = {
    "string_confidence": "confidence given as a string (crashed the old evaluator)",
    "bad_confidence": "confidence that is not a number in [0, 1]",
    "misspelt_key": "misspelt key",
    "unknown_key": "unknown key",
    "missing_key": "missing key",
    "wrong_value_type": "value of the wrong type",
    "partial_answer": "truncated answer, partly recovered",
    "unparseable_answer": "answer without usable JSON (model dropped from the pass)",
    "unreadable_file": "unreadable file (model dropped from the pass)",
    "metadata_mismatch": "metadata contradicts the path",
    "missing_wrapper": "answer without its top-level wrapper key",
    "repaired_answer": "answer the parser had to repair (quotes, commas, truncation)",
    "fallback": "fell back to the other file of the same answer",
    "unknown_model_file": "file of an unknown model (ignored)",
}


def anomaly_label(anomaly: Anomaly) -> str:
    return ANOMALY_LABELS.get(anomaly.kind, anomaly.kind)


# --- JSON -------------------------------------------------------------------------------------


def _rates(rates: dict[str, Fraction | None]) -> dict[str, float | None]:
    return {key: percent(rates[key]) for key in RATE_KEYS}


def provenance(run: ConsensusRun) -> dict[str, Any]:
    files = sorted(
        (
            {
                "job_id": o.job_id,
                "pass": o.pass_number,
                "model": o.model,
                "file": Path(o.path).name,
                "source": o.source,
                "parse_status": o.parse_status,
                "sha256": o.sha256,
            }
            for job in run.outputs
            for by_model in job.outputs.values()
            for o in by_model.values()
        ),
        key=lambda f: (f["job_id"], f["pass"], f["file"]),
    )
    digest = hashlib.sha256()
    for entry in files:
        digest.update(f"{entry['job_id']}/{entry['file']}:{entry['sha256']}\n".encode())
    return {
        "directory": str(run.directory),
        "source_policy": run.source,
        "code_version": __version__,
        "inputs_sha256": digest.hexdigest(),
        "sources": dict(Counter(f["source"] for f in files)),
        "files": files,
    }


def to_json(run: ConsensusRun) -> dict[str, Any]:
    per_job = [
        {
            "job_id": j.job_id,
            "title": j.title,
            "company": j.company,
            **_rates(job_rates(j, run.method)),
        }
        for j in run.evaluations
    ]
    document: dict[str, Any] = {
        "method": run.method,
        "jobs": len(run.evaluations),
        "summary": _rates(summary_rates(run.evaluations, run.method)),
        "per_job": per_job,
        "fields": [f.as_dict() for j in run.evaluations for f in j.fields],
        "models": [_model_json(m) for m in model_stats(run)],
        "anomalies": [a.as_dict() for a in run.anomalies],
        "provenance": provenance(run),
    }
    if run.method == "v2" and run.legacy_baseline is not None:
        document["settings"] = run.settings.describe()
        document["states"] = dict(Counter(f.state for j in run.evaluations for f in j.fields))
        document["calibration"] = [_bin_json(b) for b in calibration(run.evaluations)]
        document["legacy_comparison"] = {
            **vars(compare(run.legacy_baseline, run.evaluations)),
            "legacy_summary": _rates(summary_rates(run.legacy_baseline, "legacy")),
        }
    return document


def model_stats(run: ConsensusRun) -> list[ModelStats]:
    """Legacy keeps its old per-model metrics; v2 ranks by leave-one-out agreement."""
    if run.method == "legacy":
        return legacy_model_stats(run.evaluations)
    return v2_model_stats(run.evaluations)


def _f(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 6)


def _model_json(entry: ModelStats) -> dict[str, Any]:
    return {
        "model": entry.model,
        "jobs": entry.jobs,
        "agreement": _f(entry.agreement),
        "outlier_rate": _f(entry.outlier_rate),
        "intermodel_score": _f(entry.score),
        "judged_fields": entry.judged,
        "interval_95": entry.interval,
        "per_pass": {f"pass{p}": _f(v) for p, v in entry.per_pass.items()},
        "confidence_when_agree": _f(entry.confidence_when_agree),
        "confidence_when_disagree": _f(entry.confidence_when_disagree),
    }


def _bin_json(entry: CalibrationBin) -> dict[str, Any]:
    count = len(entry.confidences)
    return {
        "bin": entry.label,
        "answers": count,
        "mean_confidence": _f(mean(entry.confidences)),
        "agreement": _f(Fraction(entry.agreed, count)) if count else None,
    }
