"""The 125 fields the old consensus method compared, and how v2 reads each of them.

The legacy registry must stay exactly as the old ``field_registry.py`` had it (order, names,
types): the legacy figures and per-field golden flags depend on it. v2 adds a *kind* per field
because the old "inference" type hid enums, booleans, lists and scores behind ``str(value)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from enrichment_dagster.contracts.passes import PASS_MODELS
from enrichment_dagster.contracts.types import Kind as ContractKind
from enrichment_dagster.contracts.types import field_kinds
from enrichment_dagster.llm.prices import known_models
from enrichment_dagster.llm.replay import model_slug

LegacyType = Literal["boolean", "enum", "numeric", "string", "array", "inference"]
Kind = Literal[
    "bool", "enum", "money", "count", "score01", "int_score", "set", "free_text", "text_list"
]
Section = Literal["top", "inference", "analysis", "summary"]


@dataclass(frozen=True)
class ModelInfo:
    """A model the evaluator can score; the order of ``MODELS`` decides legacy tie-breaks."""

    short_id: str
    file_infix: str
    model_id: str
    display_name: str


#: The five models of the old study, in the old order, with the short ids and names its
#: reports used. Only presentation lives here: which models exist is ``llm/models.yaml``'s.
_LEGACY_NAMES: tuple[tuple[str, str, str], ...] = (
    ("gpt-oss", "openai.gpt-oss-120b-1:0", "OpenAI GPT-OSS 120B"),
    ("mistral", "mistral.mistral-large-3-675b-instruct", "Mistral Large 675B"),
    ("gemma", "google.gemma-3-27b-it", "Google Gemma 3 27B"),
    ("minimax", "minimax.minimax-m2", "MiniMax M2"),
    ("qwen", "qwen.qwen3-vl-235b-a22b", "Qwen3 235B"),
)


def _models() -> tuple[ModelInfo, ...]:
    """The old study's five first (legacy tie-breaks depend on their order), then every
    other model of the model table (``llm/models.yaml`` and ``ENRICHMENT_MODELS_FILE``),
    named by its id: a model the pipeline can run is a model the evaluator can score."""
    legacy = [ModelInfo(short, model_slug(mid), mid, name) for short, mid, name in _LEGACY_NAMES]
    listed = {m.model_id for m in legacy}
    extra = [
        ModelInfo(model_slug(mid), model_slug(mid), mid, mid)
        for mid in known_models()
        if mid not in listed
    ]
    return (*legacy, *extra)


MODELS: tuple[ModelInfo, ...] = _models()
LEGACY_MODELS: tuple[ModelInfo, ...] = MODELS[: len(_LEGACY_NAMES)]
MODEL_BY_INFIX: dict[str, ModelInfo] = {m.file_infix: m for m in MODELS}
MODEL_BY_SHORT: dict[str, ModelInfo] = {m.short_id: m for m in MODELS}
MODEL_BY_ID: dict[str, ModelInfo] = {m.model_id: m for m in MODELS}
MODEL_ORDER: dict[str, int] = {m.short_id: i for i, m in enumerate(MODELS)}


@dataclass(frozen=True)
class FieldSpec:
    """Where a field lives in a ``result`` dict and how each method compares it."""

    pass_number: int
    name: str
    legacy_type: LegacyType
    kind: Kind
    section: Section
    group: str | None = None
    #: Schema version that carries the field, for the Pass 3 summary (v3.3 vs v3.4 keys).
    schema: str | None = None
    #: Never asked for by the prompt, so its absence in an answer is not an anomaly.
    optional: bool = False

    @property
    def leaf(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def scored_in_v2(self) -> bool:
        """Free text is informational in v2: similarity of prose is not agreement on a fact."""
        return self.kind not in ("free_text", "text_list")


def _p1(names: str, legacy_type: LegacyType, kind: Kind) -> list[FieldSpec]:
    return [
        FieldSpec(1, f"ext_{n}", legacy_type, kind, "top", optional=n == "education_stated")
        for n in names.split()
    ]


_MONEY = "salary_min salary_max hourly_rate_min hourly_rate_max daily_rate_min daily_rate_max"
_PASS1: list[FieldSpec] = [
    *_p1(
        "salary_disclosed equity_mentioned learning_budget_mentioned conference_budget_mentioned "
        "hardware_choice_mentioned llm_genai_mentioned feature_store_mentioned",
        "boolean",
        "bool",
    ),
    *_p1(
        "salary_period salary_currency visa_sponsorship_stated security_clearance_stated "
        "work_model_stated employment_type_stated contract_type extension_possible "
        "conversion_to_fte start_date pay_type rate_negotiable overtime_paid geo_restriction_type "
        "residency_requirement pto_policy",
        "enum",
        "enum",
    ),
]
_PASS1 += [
    FieldSpec(1, f"ext_{n}", "numeric", "money" if n in _MONEY.split() else "count", "top")
    for n in (
        _MONEY + " years_experience_min years_experience_max contract_duration_months"
    ).split()
]
_PASS1 += _p1(
    "salary_text_raw hourly_rate_text_raw daily_rate_text_raw work_auth_text citizenship_text "
    "location_restriction_text contract_duration_text start_date_text probation_period_text "
    "years_experience_text education_stated team_info_text company_description_text",
    "string",
    "free_text",
)
_PASS1 += _p1(
    "must_have_hard_skills nice_to_have_hard_skills must_have_soft_skills "
    "nice_to_have_soft_skills certifications_mentioned benefits_mentioned allowed_countries "
    "excluded_countries us_state_restrictions",
    "array",
    "set",
)


def _groups(pass_number: int, section: Section, spec: str) -> list[FieldSpec]:
    """``spec`` holds ``group:`` headers followed by ``field=kind`` items (any line layout)."""
    fields: list[FieldSpec] = []
    group = ""
    for token in spec.split():
        if token.endswith(":"):
            group = token[:-1]
            continue
        name, kind = token.split("=")
        fields.append(
            FieldSpec(pass_number, f"{group}.{name}", "inference", cast(Kind, kind), section, group)
        )
    return fields


_PASS2 = _groups(
    2,
    "inference",
    """
    seniority_and_role:
        seniority_level=enum job_family=enum sub_specialty=enum leadership_expectation=enum
    stack_and_cloud:
        primary_cloud=enum secondary_clouds=set processing_paradigm=enum
        orchestrator_category=enum storage_layer=enum
    geo_and_work_model:
        remote_restriction=enum timezone_focus=enum relocation_required=bool
    visa_and_authorization:
        h1b_friendly=bool opt_cpt_friendly=bool citizenship_required=enum
    contract_and_compensation:
        w2_vs_1099=enum benefits_level=enum
    career_development:
        growth_path_clarity=enum mentorship_signals=enum promotion_path_mentioned=bool
        internal_mobility_mentioned=bool career_tracks_available=set
    requirements_classification:
        requirement_strictness=enum scope_definition=enum skill_inflation_detected=bool
    """,
)
_PASS3_ANALYSIS = _groups(
    3,
    "analysis",
    """
    company_maturity:
        data_maturity_score=int_score data_maturity_level=enum maturity_signals=set
    red_flags_and_role_quality:
        scope_creep_score=score01 overtime_risk_score=score01 role_clarity=enum
        overall_red_flag_score=score01
    stakeholders_and_leadership:
        reporting_structure_clarity=enum manager_level_inferred=enum team_growth_velocity=enum
        reporting_structure=enum cross_functional_embedded=bool
    tech_culture:
        work_life_balance_score=score01 growth_opportunities_score=score01
        tech_culture_score=score01
    tech_culture_assessment:
        tech_culture_signals=set dev_practices_mentioned=set innovation_signals=enum
        tech_debt_awareness=bool
    ai_ml_integration:
        ai_integration_level=enum ml_tools_expected=set
    competition_and_timing:
        hiring_urgency=enum competition_level=enum
    company_context:
        company_stage_inferred=enum hiring_velocity=enum team_size_signals=enum
        funding_stage_signals=enum role_creation_type=enum
    """,
)
_CATEGORIES = ("strength", "concern", "best_fit", "probe", "leverage")
_LEGACY_SUMMARY = (
    "strengths",
    "concerns",
    "best_fit_for",
    "red_flags_to_probe",
    "negotiation_leverage",
)
_PASS3_SUMMARY: list[FieldSpec] = [
    *(
        FieldSpec(3, f"summary.{c}_categories", "array", "set", "summary", schema="v3.4")
        for c in _CATEGORIES
    ),
    *(
        FieldSpec(3, f"summary.{c}_details", "array", "text_list", "summary", schema="v3.4")
        for c in _CATEGORIES
    ),
    *(
        FieldSpec(3, f"summary.{n}", "array", "text_list", "summary", schema="v3.3")
        for n in _LEGACY_SUMMARY
    ),
    FieldSpec(3, "summary.overall_assessment", "string", "free_text", "summary"),
    FieldSpec(3, "summary.recommendation_score", "numeric", "score01", "summary"),
    FieldSpec(3, "summary.recommendation_confidence", "numeric", "score01", "summary"),
]

FIELDS: tuple[FieldSpec, ...] = (*_PASS1, *_PASS2, *_PASS3_ANALYSIS, *_PASS3_SUMMARY)
FIELDS_BY_PASS: dict[int, tuple[FieldSpec, ...]] = {
    p: tuple(f for f in FIELDS if f.pass_number == p) for p in (1, 2, 3)
}

#: Keys present in real outputs that the old method never compared; not anomalies.
KNOWN_UNEVALUATED: dict[int, frozenset[str]] = {
    1: frozenset(
        "ext_hourly_rate_currency ext_daily_rate_currency ext_education_area ext_education_level "
        "ext_education_requirement ext_education_text_raw ext_extraction_complete "
        "ext_fields_found ext_fields_null".split()
    ),
    2: frozenset(),
    3: frozenset(
        "stakeholders_and_leadership.team_composition summary.confidence summary.evidence "
        "summary.recommendation_details".split()
    ),
}

MISSING = object()
"""Sentinel: the key is absent, which legacy treats as a null vote and v2 as no answer."""


def lookup(result: dict[str, Any], spec: FieldSpec, aliases: dict[str, str] | None = None) -> Any:
    """Read a field from a ``result`` dict; ``MISSING`` when any level of the path is absent.

    ``aliases`` maps a registry name to the misspelt key a model actually wrote (v2 only).
    """
    key = (aliases or {}).get(spec.name, spec.leaf)
    if spec.section == "top":
        return result.get(key, MISSING)
    container = result.get(spec.section)
    if not isinstance(container, dict):
        return MISSING
    if spec.group is not None:
        container = container.get(spec.group)
        if not isinstance(container, dict):
            return MISSING
    return container.get(key, MISSING)


@cache
def contract_kind(spec: FieldSpec) -> ContractKind | None:
    """The contract's own kind of the field ``spec`` reads (None: a field of an older schema
    only, such as the v3.3 summary keys): the registry says where the old answers put a
    field, the contracts say what it may hold."""
    root = PASS_MODELS[spec.pass_number]
    if spec.pass_number == 1:
        extraction = field_kinds(root)["extraction"].model
        assert extraction is not None
        leaf = spec.name.removeprefix("ext_")
        for name, kind in field_kinds(extraction).items():
            if name == leaf:
                return kind
            if kind.model is not None and leaf in kind.model.model_fields:
                return field_kinds(kind.model)[leaf]
        return None
    model = field_kinds(root).get(spec.section)
    container = model.model if model is not None else None
    if container is not None and spec.group is not None:
        group = field_kinds(container).get(spec.group)
        container = group.model if group is not None else None
    return field_kinds(container).get(spec.leaf) if container is not None else None


def vocabulary(spec: FieldSpec) -> tuple[str, ...]:
    """The contract's vocabulary of an enum field (of its value or items); () otherwise."""
    kind = contract_kind(spec)
    while kind is not None and kind.name in ("inferred", "list"):
        kind = kind.item
    return kind.choices if kind is not None else ()


def summary_schema(result: dict[str, Any]) -> str | None:
    """Which summary vocabulary a Pass 3 answer used, so v2 never scores the other one's keys."""
    summary = result.get("summary")
    if not isinstance(summary, dict):
        return None
    if any(f"{c}_categories" in summary or f"{c}_details" in summary for c in _CATEGORIES):
        return "v3.4"
    if any(n in summary for n in _LEGACY_SUMMARY):
        return "v3.3"
    return None
