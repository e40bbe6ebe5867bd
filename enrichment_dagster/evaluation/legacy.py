"""The old multi-model consensus method, reproduced rule for rule.

It exists so the published figures (79.840 / 88.519 / 94.400 / 61.739 % on fase_2) can be
asserted and so v2 can say, with numbers, where it departs from them. Its quirks are kept
on purpose (asymmetric nulls, ``str(value)`` identity for inference fields, free text
scored); only the crashes are gone and the arithmetic is exact.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any

from enrichment_dagster.evaluation.exact import (
    coerce_confidence,
    decimal_fraction,
    mean,
    parse_number,
    similarity,
)
from enrichment_dagster.evaluation.field_registry import (
    FIELDS_BY_PASS,
    MISSING,
    FieldSpec,
    lookup,
)
from enrichment_dagster.evaluation.records import FieldOutcome, JobEvaluation, JobOutputs

MAJORITY = Fraction(3, 5)
CV_LIMIT = Fraction(3, 20)
CORE_SHARE = Fraction(1, 2)
COVERAGE = Fraction(3, 5)
STRING_SIMILARITY = Fraction(17, 20)
DEFAULT_CONFIDENCE = Fraction(1, 2)

ENUM_EQUIVALENTS: dict[str, str] = {
    "amazon web services": "aws",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "microsoft azure": "azure",
    "work from home": "remote",
    "wfh": "remote",
    "in-office": "onsite",
    "on-site": "onsite",
    "in office": "onsite",
    "full time": "full_time",
    "full-time": "full_time",
    "part time": "part_time",
    "part-time": "part_time",
}
SKILL_SYNONYMS: dict[str, str] = {
    "apache spark": "spark",
    "apache kafka": "kafka",
    "apache airflow": "airflow",
    "amazon s3": "s3",
    "amazon redshift": "redshift",
    "google bigquery": "bigquery",
    "postgresql": "postgres",
    "javascript": "js",
    "typescript": "ts",
    "etl/elt": "etl",
    "infrastructure-as-code": "iac",
    "infrastructure-as-code tools": "iac",
    "datalake technologies": "data lake",
    "data orchestration tools": "orchestration",
    "data streaming platforms": "streaming",
}


@dataclass(frozen=True)
class Verdict:
    has_consensus: bool
    agreement: Fraction
    value: Any
    outliers: tuple[str, ...]


# --- normalisation (normalizers.py) -------------------------------------------------------


def normalize_boolean(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() in ("true", "yes", "1")
    return bool(value)


def normalize_numeric(value: Any) -> Fraction | None:
    """Booleans become 1/0 because the old code tested ``isinstance(value, (int, float))``."""
    if isinstance(value, int | float):
        return decimal_fraction(value)
    if isinstance(value, str):
        return parse_number(value)
    if isinstance(value, dict) and "value" in value:
        return normalize_numeric(value["value"])
    return None


def normalize_enum(value: Any) -> Any:
    if isinstance(value, str):
        cleaned = value.lower().strip()
        return ENUM_EQUIVALENTS.get(cleaned, cleaned)
    return value


def normalize_array(value: Any) -> list[str] | None:
    """Only real lists get the synonym table; comma strings and wrapped values do not."""
    if isinstance(value, list):
        items = (str(item).lower().strip() for item in value if item)
        return sorted({SKILL_SYNONYMS.get(item, item) for item in items})
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, dict) and "value" in value:
        inner = value["value"]
        if isinstance(inner, list):
            return [str(item) for item in inner if item]
        return normalize_array(inner) if isinstance(inner, str) else None
    return None


NORMALIZERS: dict[str, Callable[[Any], Any]] = {
    "boolean": normalize_boolean,
    "numeric": normalize_numeric,
    "enum": normalize_enum,
    "array": normalize_array,
    "string": lambda value: value,
    "inference": lambda value: value,
}


# --- rules per type (consensus.py) --------------------------------------------------------


def _hashable(value: Any) -> Any:
    """Enum votes are counted in a Counter; an unhashable list must not crash the run."""
    try:
        hash(value)
    except TypeError:
        return ("unhashable", json.dumps(value, sort_keys=True, default=str))
    return value


def enum_rule(votes: dict[str, Any]) -> Verdict:
    cast = {m: (None if v is None else _hashable(v)) for m, v in votes.items()}
    non_null = [v for v in cast.values() if v is not None]
    if not non_null:
        return Verdict(False, Fraction(0), None, tuple(votes))
    modal, count = Counter(non_null).most_common(1)[0]
    share = Fraction(count, len(non_null))
    outliers = tuple(m for m, v in cast.items() if v is None or v != modal)
    return Verdict(share >= MAJORITY, share, modal, outliers)


def boolean_rule(votes: dict[str, Any]) -> Verdict:
    non_null = [v for v in votes.values() if v is not None]
    if not non_null:
        return Verdict(False, Fraction(0), None, tuple(votes))
    trues = sum(1 for v in non_null if v)
    falses = len(non_null) - trues
    majority = trues >= falses
    share = Fraction(max(trues, falses), len(non_null))
    outliers = tuple(m for m, v in votes.items() if v is None or bool(v) != majority)
    return Verdict(share >= MAJORITY, share, majority, outliers)


def numeric_rule(votes: dict[str, Any]) -> Verdict:
    """CV = population sigma / mean <= 0.15 and at most one null; all-null "agrees"."""
    values = [v for v in votes.values() if v is not None]
    nulls = tuple(m for m, v in votes.items() if v is None)
    if not values:
        return Verdict(True, Fraction(1), None, ())
    mu = mean(values)
    assert mu is not None
    variance = sum(((v - mu) ** 2 for v in values), Fraction(0)) / len(values)
    cv_ok = mu <= 0 or variance <= (CV_LIMIT * mu) ** 2
    has = cv_ok and len(nulls) <= 1
    outliers = tuple(
        m for m, v in votes.items() if v is None or (variance > 0 and (v - mu) ** 2 > 4 * variance)
    )
    return Verdict(has, Fraction(int(has)), float(statistics.median(values)), outliers)


def string_rule(votes: dict[str, Any]) -> Verdict:
    texts = [
        v if isinstance(v, str) else str(v)
        for v in votes.values()
        if v is not None and (not isinstance(v, str) or v.strip())
    ]
    if not texts:
        return Verdict(True, Fraction(1), None, ())
    if len(texts) == 1:
        return Verdict(True, Fraction(0), texts[0], ())
    ratios = [similarity(a, b) for a, b in combinations(texts, 2)]
    rate = sum(ratios, Fraction(0)) / len(ratios)
    has = len(set(texts)) == 1 or rate >= STRING_SIMILARITY
    return Verdict(has, rate, sorted(set(texts))[0], ())


def array_rule(votes: dict[str, Any]) -> Verdict:
    """Core items are those listed by at least half of the models, empty answers included."""
    sets = {m: {str(i).lower().strip() for i in (v or [])} for m, v in votes.items()}
    if all(not s for s in sets.values()):
        return Verdict(True, Fraction(1), [], ())
    n = len(sets)
    counts = Counter(item for s in sets.values() for item in s)
    core = {item for item, c in counts.items() if Fraction(c, n) >= CORE_SHARE}
    if not core:
        return Verdict(False, Fraction(0), [], ())
    coverage = {m: Fraction(len(s & core), len(core)) for m, s in sets.items()}
    rate = sum(coverage.values(), Fraction(0)) / n
    outliers = tuple(m for m, c in coverage.items() if c < COVERAGE)
    return Verdict(rate >= MAJORITY, rate, sorted(core), outliers)


def _valid_inference(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and obj.get("value") is not None


def inference_rule(votes: dict[str, Any]) -> Verdict:
    """Identity of ``str(value)``; ties on count go to the higher mean confidence."""
    valid = {m: obj for m, obj in votes.items() if _valid_inference(obj)}
    if not valid:
        return Verdict(False, Fraction(0), None, tuple(votes))
    keys = {m: str(obj["value"]) for m, obj in valid.items()}
    counts = Counter(keys.values())
    top = max(counts.values())
    tied = [k for k, c in counts.items() if c == top]
    best = max(tied, key=lambda k: _mean_confidence(valid, keys, k))
    share = Fraction(top, len(valid))
    value = next(valid[m]["value"] for m in valid if keys[m] == best)
    outliers = tuple(m for m in votes if m not in valid or keys[m] != best)
    return Verdict(share >= MAJORITY, share, value, outliers)


def _mean_confidence(valid: dict[str, Any], keys: dict[str, str], key: str) -> Fraction:
    confidences: list[Fraction] = []
    for model, obj in valid.items():
        if keys[model] == key:
            value = coerce_confidence(obj.get("confidence"))
            confidences.append(DEFAULT_CONFIDENCE if value is None else value)
    return mean(confidences) or Fraction(0)


RULES: dict[str, Callable[[dict[str, Any]], Verdict]] = {
    "enum": enum_rule,
    "boolean": boolean_rule,
    "numeric": numeric_rule,
    "string": string_rule,
    "array": array_rule,
    "inference": inference_rule,
}


# --- one job --------------------------------------------------------------------------------


def legacy_votes(job: JobOutputs, spec: FieldSpec) -> dict[str, Any]:
    """Normalised votes of the models that answered the pass; a missing key is a null vote."""
    votes: dict[str, Any] = {}
    for model, output in job.outputs.get(spec.pass_number, {}).items():
        raw = lookup(output.result, spec)
        votes[model] = NORMALIZERS[spec.legacy_type](None if raw is MISSING else raw)
    return votes


def _all_abstain(spec: FieldSpec, votes: dict[str, Any]) -> bool:
    """Every model null, empty or blank: the "vacuous" agreements v2 refuses to count."""
    if spec.legacy_type == "inference":
        return not any(_valid_inference(v) for v in votes.values())
    if spec.legacy_type == "string":
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in votes.values())
    if spec.legacy_type == "array":
        return all(not v for v in votes.values())
    return all(v is None for v in votes.values())


def evaluate_field(job_id: str, spec: FieldSpec, votes: dict[str, Any]) -> FieldOutcome:
    verdict = RULES[spec.legacy_type](votes)
    if _all_abstain(spec, votes):
        state = "no_information"
    else:
        state = "agree" if verdict.has_consensus else "disagree"
    return FieldOutcome(
        job_id=job_id,
        pass_number=spec.pass_number,
        field=spec.name,
        type=spec.legacy_type,
        has_consensus=verdict.has_consensus,
        agreement=verdict.agreement,
        n_models=len(votes),
        state=state,
        value=verdict.value,
        votes=votes,
        outliers=verdict.outliers,
    )


def evaluate_job(job: JobOutputs) -> JobEvaluation:
    """A pass with no answer at all is skipped, so its fields leave the overall denominator."""
    fields: list[FieldOutcome] = []
    for pass_number in (1, 2, 3):
        if not job.models(pass_number):
            continue
        for spec in FIELDS_BY_PASS[pass_number]:
            fields.append(evaluate_field(job.job_id, spec, legacy_votes(job, spec)))
    return JobEvaluation.of(job, fields)
