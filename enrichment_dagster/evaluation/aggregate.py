"""Turn per-field verdicts into rates, rankings and the v2-versus-legacy comparison.

Kept apart from the rules so both methods share one definition of "a job's pass rate" and
of "the mean across jobs", which is where the old reports silently disagreed with each
other (rounded means, different job sets per model).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from enrichment_dagster.evaluation.exact import mean
from enrichment_dagster.evaluation.field_registry import FIELDS, MODEL_ORDER
from enrichment_dagster.evaluation.records import FieldOutcome, JobEvaluation

RATE_KEYS = ("overall", "pass1", "pass2", "pass3")
SCORED = ("agree", "disagree")
CONFIDENCE_BINS: tuple[tuple[Fraction, Fraction], ...] = tuple(
    (Fraction(lo, 10), Fraction(hi, 10))
    for lo, hi in ((0, 5), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10))
)


def _legacy_rate(fields: list[FieldOutcome]) -> Fraction:
    """Binary count over every evaluated field; an empty pass is reported as 0, like before."""
    return (
        Fraction(sum(1 for f in fields if f.has_consensus), len(fields)) if fields else Fraction(0)
    )


def _v2_rate(fields: list[FieldOutcome]) -> Fraction | None:
    """Only fields where some model said something count; None when nothing was scored."""
    scored = [f for f in fields if f.state in SCORED]
    return Fraction(sum(1 for f in scored if f.has_consensus), len(scored)) if scored else None


def job_rates(job: JobEvaluation, method: str) -> dict[str, Fraction | None]:
    rate = _legacy_rate if method == "legacy" else _v2_rate
    rates: dict[str, Fraction | None] = {"overall": rate(job.fields)}
    for p in (1, 2, 3):
        rates[f"pass{p}"] = rate([f for f in job.fields if f.pass_number == p])
    return rates


def summary_rates(jobs: list[JobEvaluation], method: str) -> dict[str, Fraction | None]:
    """Unweighted mean of per-job rates (as the old summary), computed exactly."""
    per_job = [job_rates(j, method) for j in jobs]
    return {k: mean([r[k] for r in per_job if r[k] is not None]) for k in RATE_KEYS}


@dataclass
class FieldStats:
    pass_number: int
    field: str
    type: str
    jobs: int = 0
    scored: int = 0
    consensus: int = 0
    no_information: int = 0
    agreements: list[Fraction] = field(default_factory=list)

    @property
    def consensus_rate(self) -> Fraction | None:
        return Fraction(self.consensus, self.scored) if self.scored else None

    @property
    def mean_agreement(self) -> Fraction | None:
        return mean(self.agreements)


def field_stats(jobs: list[JobEvaluation], method: str) -> list[FieldStats]:
    """Per-field totals in registry order; legacy scores every field, v2 only informative ones."""
    order = {spec.name: i for i, spec in enumerate(FIELDS)}
    stats: dict[str, FieldStats] = {}
    for outcome in (f for job in jobs for f in job.fields):
        entry = stats.setdefault(
            outcome.field, FieldStats(outcome.pass_number, outcome.field, outcome.type)
        )
        entry.jobs += 1
        entry.no_information += outcome.state == "no_information"
        if method == "legacy" or outcome.state in SCORED:
            entry.scored += 1
            entry.consensus += bool(outcome.has_consensus)
            entry.agreements.append(outcome.agreement)
    return sorted(stats.values(), key=lambda s: order[s.field])


def lowest_fields(stats: list[FieldStats], limit: int = 15) -> list[FieldStats]:
    scored = [s for s in stats if s.scored]
    return sorted(scored, key=lambda s: (s.consensus_rate, s.mean_agreement, s.field))[:limit]


# --- models -----------------------------------------------------------------------------------


@dataclass
class ModelStats:
    """Legacy: old agreement/outlier metrics. v2: leave-one-out agreement."""

    model: str
    jobs: int = 0
    agreement: Fraction | None = None
    outlier_rate: Fraction | None = None
    score: Fraction | None = None
    judged: int = 0
    agreed: int = 0
    per_pass: dict[int, Fraction | None] = field(default_factory=dict)
    per_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    confidence_when_agree: Fraction | None = None
    confidence_when_disagree: Fraction | None = None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.agreed, self.judged)


def wilson(successes: int, total: int, z: float = 1.96) -> tuple[float, float] | None:
    """95 % Wilson interval: honest about small samples, unlike a bare percentage."""
    if total == 0:
        return None
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def legacy_model_stats(jobs: list[JobEvaluation]) -> list[ModelStats]:
    """Per-job rates averaged over the jobs where the model had a Pass 1 file (the notebook)."""
    per_model: dict[str, list[tuple[Fraction, Fraction, dict[int, Fraction]]]] = defaultdict(list)
    for job in jobs:
        for model in job.models_per_pass.get(1, []):
            counted = [f for f in job.fields if model in job.models_per_pass[f.pass_number]]
            if not counted:
                continue
            matching = [f for f in counted if f.has_consensus and model not in f.outliers]
            outliers = [f for f in counted if model in f.outliers]
            by_pass = {
                p: Fraction(
                    sum(1 for f in matching if f.pass_number == p),
                    sum(1 for f in counted if f.pass_number == p),
                )
                for p in (1, 2, 3)
                if any(f.pass_number == p for f in counted)
            }
            per_model[model].append(
                (
                    Fraction(len(matching), len(counted)),
                    Fraction(len(outliers), len(counted)),
                    by_pass,
                )
            )
    return sorted((_legacy_entry(m, rows) for m, rows in per_model.items()), key=_rank_key)


def _legacy_entry(
    model: str, rows: list[tuple[Fraction, Fraction, dict[int, Fraction]]]
) -> ModelStats:
    agreement = mean([r[0] for r in rows])
    outlier_rate = mean([r[1] for r in rows])
    assert agreement is not None and outlier_rate is not None
    score = (Fraction(3, 5) * agreement + Fraction(2, 5) * (1 - outlier_rate)) * 100
    per_pass = {p: mean([r[2][p] for r in rows if p in r[2]]) for p in (1, 2, 3)}
    return ModelStats(model, len(rows), agreement, outlier_rate, score, per_pass=per_pass)


def v2_model_stats(jobs: list[JobEvaluation]) -> list[ModelStats]:
    """Pooled over every judged field, so each model's figure rests on its real sample size."""
    entries: dict[str, ModelStats] = {}
    confidences: dict[tuple[str, bool], list[Fraction]] = defaultdict(list)
    passes: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for job in jobs:
        for model in {m for ms in job.models_per_pass.values() for m in ms}:
            entries.setdefault(model, ModelStats(model)).jobs += 1
        for outcome in job.fields:
            for model, verdict in outcome.loo.items():
                if verdict is None:
                    continue
                _count(entries[model], outcome, verdict, passes[(model, outcome.pass_number)])
                if model in outcome.confidences:
                    confidences[(model, verdict)].append(Fraction(outcome.confidences[model]))
    for model, entry in entries.items():
        entry.agreement = Fraction(entry.agreed, entry.judged) if entry.judged else None
        entry.per_pass = {
            p: Fraction(passes[(model, p)][0], passes[(model, p)][1])
            if passes[(model, p)][1]
            else None
            for p in (1, 2, 3)
        }
        entry.confidence_when_agree = mean(confidences[(model, True)])
        entry.confidence_when_disagree = mean(confidences[(model, False)])
    return sorted(entries.values(), key=_rank_key)


def _count(entry: ModelStats, outcome: FieldOutcome, verdict: bool, by_pass: list[int]) -> None:
    entry.judged += 1
    entry.agreed += verdict
    by_pass[0] += verdict
    by_pass[1] += 1
    agreed, judged = entry.per_kind.get(outcome.type, (0, 0))
    entry.per_kind[outcome.type] = (agreed + verdict, judged + 1)


def _rank_key(entry: ModelStats) -> tuple[Fraction, int]:
    key = entry.score if entry.score is not None else entry.agreement
    return (-(key if key is not None else Fraction(-1)), MODEL_ORDER.get(entry.model, 99))


# --- calibration ------------------------------------------------------------------------------


@dataclass
class CalibrationBin:
    low: Fraction
    high: Fraction
    confidences: list[Fraction] = field(default_factory=list)
    agreed: int = 0

    @property
    def label(self) -> str:
        closing = "]" if self.high == 1 else ")"
        return f"[{float(self.low):.1f}, {float(self.high):.1f}{closing}"


def calibration(jobs: Iterable[JobEvaluation]) -> list[CalibrationBin]:
    """Self-reported confidence against leave-one-out agreement, per confidence bin."""
    bins = [CalibrationBin(lo, hi) for lo, hi in CONFIDENCE_BINS]
    for outcome in (f for job in jobs for f in job.fields):
        for model, verdict in outcome.loo.items():
            if verdict is None or model not in outcome.confidences:
                continue
            confidence = Fraction(outcome.confidences[model])
            target = next(
                b for b in bins if b.low <= confidence < b.high or (b.high == 1 and confidence == 1)
            )
            target.confidences.append(confidence)
            target.agreed += verdict
    return bins


# --- v2 against legacy ------------------------------------------------------------------------


@dataclass
class Comparison:
    """Paired per-field verdicts of both methods on the same inputs."""

    fields: int = 0
    legacy_agree: int = 0
    legacy_vacuous_agree: int = 0
    legacy_null_disagree: int = 0
    excluded_free_text: int = 0
    excluded_free_text_legacy_agree: int = 0
    not_applicable: int = 0
    not_applicable_legacy_agree: int = 0
    insufficient: int = 0
    v2_no_information: int = 0
    v2_scored: int = 0
    v2_agree: int = 0
    gained: int = 0
    lost: int = 0
    lost_with_null_vote: int = 0
    gained_by_kind: dict[str, int] = field(default_factory=dict)
    lost_by_kind: dict[str, int] = field(default_factory=dict)
    null_disagree_fields: dict[str, int] = field(default_factory=dict)


def compare(legacy: list[JobEvaluation], v2: list[JobEvaluation]) -> Comparison:
    old = {(f.job_id, f.field): f for job in legacy for f in job.fields}
    result = Comparison()
    for new in (f for job in v2 for f in job.fields):
        before = old.get((new.job_id, new.field))
        if before is not None:
            _compare_one(result, before, new)
    return result


def _compare_one(result: Comparison, before: FieldOutcome, new: FieldOutcome) -> None:
    result.fields += 1
    agreed = bool(before.has_consensus)
    result.legacy_agree += agreed
    vacuous = before.state == "no_information"
    result.legacy_vacuous_agree += agreed and vacuous
    if vacuous and not agreed:
        result.legacy_null_disagree += 1
        _bump(result.null_disagree_fields, new.field)
    if new.state == "excluded":
        result.excluded_free_text += 1
        result.excluded_free_text_legacy_agree += agreed
    elif new.state == "not_applicable":
        result.not_applicable += 1
        result.not_applicable_legacy_agree += agreed
    elif new.state == "insufficient":
        result.insufficient += 1
    elif new.state == "no_information":
        result.v2_no_information += 1
    else:
        result.v2_scored += 1
        result.v2_agree += bool(new.has_consensus)
        if new.has_consensus and not agreed:
            result.gained += 1
            _bump(result.gained_by_kind, new.type)
        if agreed and not new.has_consensus:
            result.lost += 1
            result.lost_with_null_vote += any(v is None for v in new.votes.values())
            _bump(result.lost_by_kind, new.type)


def _bump(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1
