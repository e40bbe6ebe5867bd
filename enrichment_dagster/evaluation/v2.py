"""Consensus v2: type-aware, and honest about what "agreement" means.

What changes from legacy, and why:

* Every model abstaining (null, ``not_mentioned``, empty list) is *no information*: the
  models did not agree on anything, and they did not disagree either. Legacy counted it as
  agreement for numbers, strings and lists and as disagreement for enums.
* Numbers agree within a tolerance (5 % relative for money, 0.1 absolute for 0-1 scores),
  because 0.3 vs 0.35 is the same judgement and $120,000 vs $120,500 the same salary.
* Lists are sets compared by Jaccard similarity, so order and case no longer matter.
* Enums are normalised (case, spaces and hyphens), so "AWS" and "aws" are one answer.
* Free text is left out of the score: similarity of prose is not agreement on a fact.
* A missing key (schema versions, misspellings, truncated answers) is no vote, not a null
  vote, and a misspelt key is read under its intended name.
* Each model is scored against the majority of the *other* models (leave-one-out), so a
  model is never judged by a majority it helped form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from enrichment_dagster.contracts import vocab
from enrichment_dagster.contracts.lenient import _FALSE as FALSE_TOKENS
from enrichment_dagster.contracts.lenient import _TRUE as TRUE_TOKENS
from enrichment_dagster.contracts.lenient import normalize_token as contract_token
from enrichment_dagster.evaluation.exact import coerce_confidence, decimal_fraction, parse_number
from enrichment_dagster.evaluation.field_registry import (
    FIELDS_BY_PASS,
    MISSING,
    FieldSpec,
    Kind,
    lookup,
    vocabulary,
)
from enrichment_dagster.evaluation.legacy import ENUM_EQUIVALENTS, SKILL_SYNONYMS
from enrichment_dagster.evaluation.records import (
    FieldOutcome,
    JobEvaluation,
    JobOutputs,
    ModelOutput,
    State,
)

#: Words that mean "the posting does not say": the contracts' absent set (``vocab``), in
#: the contracts' token form. A word that is a value of the field's own vocabulary (team
#: growth ``unknown``, AI integration ``none``) is that value, as the validator reads it;
#: ``not_mentioned`` is always "no information" here (see the module docstring).
NULL_TOKENS = frozenset(contract_token(t) for t in vocab.ABSENT_TOKENS) | {""}


@dataclass(frozen=True)
class Settings:
    """Tolerances and thresholds; exact fractions so the boundaries are stable."""

    majority: Fraction = Fraction(3, 5)
    money_relative: Fraction = Fraction(1, 20)
    score_absolute: Fraction = Fraction(1, 10)
    count_absolute: Fraction = Fraction(1, 2)
    jaccard: Fraction = Fraction(1, 2)
    min_models: int = 3

    def describe(self) -> dict[str, str | int]:
        return {
            "majority": str(self.majority),
            "money_relative": str(self.money_relative),
            "score_absolute": str(self.score_absolute),
            "count_absolute": str(self.count_absolute),
            "jaccard": str(self.jaccard),
            "min_models": self.min_models,
        }


# --- normalisation ----------------------------------------------------------------------------


def normalize_token(text: str) -> str:
    """The contracts' token (case, spaces, hyphens and slashes folded: "AWS/GCP" is
    ``aws_gcp`` here as in the validator), after the legacy equivalents ("Amazon Web
    Services" is ``aws``)."""
    cleaned = text.strip().lower()
    return contract_token(ENUM_EQUIVALENTS.get(cleaned, cleaned))


def _absent(token: str, choices: tuple[str, ...]) -> bool:
    return token == vocab.NOT_MENTIONED or (token in NULL_TOKENS and token not in choices)


def normalize_enum(value: Any, choices: tuple[str, ...] = ()) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return normalize_set(value, choices)
    token = normalize_token(str(value))
    return None if _absent(token, choices) else token


def normalize_bool(value: Any, choices: tuple[str, ...] = ()) -> Any:
    """Inference booleans also arrive as "not_mentioned" or "true"; other words stay enums."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    token = normalize_token(str(value))
    if token in TRUE_TOKENS:
        return True
    if token in FALSE_TOKENS:
        return False
    return None if _absent(token, choices) else token


def normalize_number(value: Any, choices: tuple[str, ...] = ()) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return decimal_fraction(value)
    if isinstance(value, str):
        return None if normalize_token(value) in NULL_TOKENS else parse_number(value)
    if isinstance(value, dict) and "value" in value:
        return normalize_number(value["value"], choices)
    return None


def normalize_set(value: Any, choices: tuple[str, ...] = ()) -> frozenset[str] | None:
    """Empty lists carry no information, exactly like null."""
    if isinstance(value, str):
        if _absent(normalize_token(value), choices):
            return None
        value = value.split(",")
    if not isinstance(value, list | tuple | set | frozenset):
        return None
    items = {" ".join(str(item).lower().split()) for item in value if item is not None}
    items = {SKILL_SYNONYMS.get(item, item) for item in items} - {""}
    items = {item for item in items if not _absent(normalize_token(item), choices)}
    return frozenset(items) or None


#: One normaliser per v2 kind; each takes the value and the field's contract vocabulary.
NORMALIZERS: dict[str, Callable[[Any, tuple[str, ...]], Any]] = {
    "bool": normalize_bool,
    "enum": normalize_enum,
    "money": normalize_number,
    "count": normalize_number,
    "score01": normalize_number,
    "int_score": normalize_number,
    "set": normalize_set,
    # Free text is carried for display only; it is never compared.
    "free_text": lambda value, _choices: value,
    "text_list": lambda value, _choices: value,
}


# --- matching -------------------------------------------------------------------------------


def jaccard(a: frozenset[str], b: frozenset[str]) -> Fraction:
    union = a | b
    return Fraction(len(a & b), len(union)) if union else Fraction(1)


def matches(kind: Kind, a: Any, b: Any, settings: Settings) -> bool:
    """Null matches only null; otherwise the kind's tolerance decides."""
    if a is None or b is None:
        return a is None and b is None
    if type(a) is not type(b):
        return False
    if kind == "money":
        return abs(a - b) <= settings.money_relative * max(abs(a), abs(b))
    if kind == "score01":
        return abs(a - b) <= settings.score_absolute
    if kind == "count":
        return abs(a - b) <= settings.count_absolute
    if isinstance(a, frozenset):
        return jaccard(a, b) >= settings.jaccard
    return bool(a == b)


# --- votes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vote:
    value: Any
    confidence: Fraction | None = None


def read_vote(output: ModelOutput, spec: FieldSpec) -> Vote | None:
    """None when the model gave no answer for the field (absent key, other schema version)."""
    if spec.schema is not None and output.schema not in (None, spec.schema):
        return None
    raw = lookup(output.result, spec, output.aliases)
    if raw is MISSING:
        return None
    confidence = None
    if spec.legacy_type == "inference":
        if raw is None:
            return Vote(None)
        if not isinstance(raw, dict) or "value" not in raw:
            return None
        confidence = coerce_confidence(raw.get("confidence"))
        raw = raw["value"]
    return Vote(NORMALIZERS[spec.kind](raw, vocabulary(spec)), confidence)


@dataclass
class _Cluster:
    """The largest group of voters that agree with one of them (the group's centre)."""

    centre: str
    members: list[str] = field(default_factory=list)


def largest_cluster(kind: Kind, values: dict[str, Any], settings: Settings) -> _Cluster:
    """Ties go to the earlier model, so the majority value is deterministic."""
    best = _Cluster(next(iter(values)))
    for centre, value in values.items():
        members = [m for m, other in values.items() if matches(kind, value, other, settings)]
        if len(members) > len(best.members):
            best = _Cluster(centre, members)
    return best


def leave_one_out(kind: Kind, values: dict[str, Any], settings: Settings) -> dict[str, bool | None]:
    """Does each model match the majority of the others? None when the others do not agree."""
    verdicts: dict[str, bool | None] = {}
    for model, value in values.items():
        others = {m: v for m, v in values.items() if m != model}
        if len(others) < 2:
            verdicts[model] = None
            continue
        cluster = largest_cluster(kind, others, settings)
        if Fraction(len(cluster.members), len(others)) < settings.majority:
            verdicts[model] = None
            continue
        verdicts[model] = matches(kind, value, others[cluster.centre], settings)
    return verdicts


# --- one field, one job ---------------------------------------------------------------------


def evaluate_field(
    job_id: str, spec: FieldSpec, votes: dict[str, Vote], settings: Settings
) -> FieldOutcome:
    values = {m: v.value for m, v in votes.items()}
    unscored = FieldOutcome(
        job_id=job_id,
        pass_number=spec.pass_number,
        field=spec.name,
        type=spec.kind,
        has_consensus=None,
        agreement=Fraction(0),
        n_models=len(votes),
        state="not_applicable",
        votes=values,
    )
    state = _pre_state(spec, values, settings)
    if state is not None:
        return replace(unscored, state=state)
    cluster = largest_cluster(spec.kind, values, settings)
    agreement = Fraction(len(cluster.members), len(values))
    has = agreement >= settings.majority
    return replace(
        unscored,
        has_consensus=has,
        agreement=agreement,
        state="agree" if has else "disagree",
        value=_display(values[cluster.centre]),
        loo=leave_one_out(spec.kind, values, settings),
        confidences={m: float(v.confidence) for m, v in votes.items() if v.confidence is not None},
    )


def _pre_state(spec: FieldSpec, values: dict[str, Any], settings: Settings) -> State | None:
    if not values:
        return "not_applicable"
    if not spec.scored_in_v2:
        return "excluded"
    if all(v is None for v in values.values()):
        return "no_information"
    if len(values) < settings.min_models:
        return "insufficient"
    return None


def _display(value: Any) -> Any:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, Fraction):
        return float(value)
    return value


def evaluate_job(job: JobOutputs, settings: Settings | None = None) -> JobEvaluation:
    settings = settings or Settings()
    fields: list[FieldOutcome] = []
    for pass_number in (1, 2, 3):
        outputs = job.outputs.get(pass_number, {})
        if not outputs:
            continue
        for spec in FIELDS_BY_PASS[pass_number]:
            votes = {m: v for m, o in outputs.items() if (v := read_vote(o, spec)) is not None}
            fields.append(evaluate_field(job.job_id, spec, votes, settings))
    return JobEvaluation.of(job, fields)
