"""The three pass outputs: the one definition that drives everything else.

The JSON schema sent to models, the schema section of every prompt, validation with
coercion, the flat ``ext_*``/``inf_*``/``anl_*`` columns, the Arrow schema and the data
dictionary are all generated from these classes. Field names and groups are the old
system's (dashboards depend on them); the faults are fixed here: every enum has
``not_mentioned``, every number and boolean may be null, scores are range-checked.

Every field defaults to null so that a partial (truncated) answer still fits the model;
whether an answer is complete is tracked by the validator, not by required fields.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from enrichment_dagster.contracts import vocab as v

SCHEMA_VERSION = "4.0"

Score = Annotated[float, Field(ge=0.0, le=1.0)]
Money = Annotated[float, Field(ge=0.0, json_schema_extra={"unit": "money"})]
Years = Annotated[float, Field(ge=0.0, le=60.0)]
Months = Annotated[float, Field(ge=0.0, le=240.0)]
MaturityScore = Annotated[int, Field(ge=1, le=5)]

V = TypeVar("V")


class Contract(BaseModel):
    """Base of every contract object: unknown keys are reported by the validator, not here."""

    model_config = ConfigDict(extra="ignore", frozen=False)


class Inferred(Contract, Generic[V]):
    """A pass-2/3 answer: the value plus how sure the model is and why."""

    value: V | None = Field(None, description="the answer; not_mentioned when not inferable")
    confidence: Score | None = Field(None, description="0.0-1.0 certainty")
    evidence: str | None = Field(None, description="verbatim quote from the posting")
    source: Literal[v.SOURCE] | None = Field(None, description="where the answer comes from")


#: The short form of a pass-2/3 field that prompts ask for: ``[value, confidence, evidence,
#: source]`` with trailing nulls left out (the object's keys, written once in the prompt
#: instead of once per field in every answer). The object form is read as well.
INFERRED_POSITIONS: tuple[str, ...] = tuple(Inferred.model_fields)


def f(description: str) -> object:
    """A nullable field with its meaning; the meaning feeds prompts and the dictionary."""
    return Field(None, description=description)


def lst(description: str) -> object:
    return Field(default_factory=list, description=description)


# --------------------------------------------------------------------------- pass 1


class Compensation(Contract):
    salary_disclosed: bool | None = f("true only if the posting states pay for this job")
    salary_min: Money | None = f("lowest pay stated, in the unit of salary_period")
    salary_max: Money | None = f("highest pay stated; equals salary_min for a single figure")
    salary_currency: str | None = f(
        "ISO 4217 code: $ in a US posting->USD, €->EUR, £->GBP, R$->BRL, C$->CAD, ₹->INR"
    )
    salary_period: Literal[v.SALARY_PERIOD] | None = f("period of salary_min/max")
    salary_text_raw: str | None = f("the pay sentence")
    hourly_rate_min: Money | None = f("lowest hourly rate, when pay is hourly")
    hourly_rate_max: Money | None = f("highest hourly rate")
    hourly_rate_currency: str | None = f("ISO 4217 code of the hourly rate")
    hourly_rate_text_raw: str | None = f("the hourly-rate text")


class WorkAuthorization(Contract):
    visa_sponsorship_stated: Literal[v.VISA_SPONSORSHIP] | None = f(
        "will_sponsor: offered; will_not_sponsor: refused; must_be_authorized: authorization required"
    )
    work_auth_text: str | None = f("the work-authorization sentence")
    citizenship_text: str | None = f("citizenship requirement sentence")
    security_clearance_stated: Literal[v.SECURITY_CLEARANCE] | None = f("security clearance")


class WorkModel(Contract):
    work_model_stated: Literal[v.WORK_MODEL] | None = f("as stated in text, title or location")
    location_restriction_text: str | None = f("location/residency restriction")
    employment_type_stated: Literal[v.EMPLOYMENT_TYPE] | None = f("employment type")


class ContractDetails(Contract):
    contract_type: Literal[v.CONTRACT_TYPE] | None = f("fixed_term: temporary or N-month contract")
    contract_duration_months: Months | None = f("contract length in months; ranges->minimum")
    contract_duration_text: str | None = f("contract length text")
    extension_possible: Literal[v.EXTENSION_POSSIBLE] | None = f("can the contract be extended")
    conversion_to_fte: Literal[v.CONVERSION_TO_FTE] | None = f("conversion to permanent")
    start_date: Literal[v.START_DATE] | None = f("start date")
    start_date_text: str | None = f("start date text")
    probation_period_text: str | None = f("probation period text")


class ContractorRates(Contract):
    pay_type: Literal[v.PAY_TYPE] | None = f("how pay is expressed")
    daily_rate_min: Money | None = f("lowest day rate")
    daily_rate_max: Money | None = f("highest day rate")
    daily_rate_currency: str | None = f("ISO 4217 code of the day rate")
    daily_rate_text_raw: str | None = f("day-rate text")
    rate_negotiable: Literal[v.RATE_NEGOTIABLE] | None = f("doe: depends on experience")
    overtime_paid: Literal[v.OVERTIME_PAID] | None = f("overtime pay")


class SkillsClassified(Contract):
    must_have_hard_skills: list[str] = lst(
        "required tools, canonical names (Python, Apache Spark, AWS)"
    )
    nice_to_have_hard_skills: list[str] = lst("skills marked preferred/bonus/plus/nice to have")
    must_have_soft_skills: list[str] = lst("required soft skills, canonical names")
    nice_to_have_soft_skills: list[str] = lst("preferred soft skills")
    certifications_mentioned: list[str] = lst("certifications named")
    years_experience_min: Years | None = f("minimum years: '5+'->5, '3-5'->3, 'five'->5")
    years_experience_max: Years | None = f("maximum years: '3-5'->5, '5+'->null")
    years_experience_text: str | None = f("experience sentence")
    education_level: Literal[v.EDUCATION_LEVEL] | None = f("lowest degree level asked for")
    education_area: str | None = f(
        "field of study, e.g. Computer Science; null for 'related field'"
    )
    education_requirement: Literal[v.EDUCATION_REQUIREMENT] | None = f("is the degree required")
    education_text_raw: str | None = f("education sentence")
    llm_genai_mentioned: bool | None = f("LLM / GenAI / RAG / prompt engineering named")
    feature_store_mentioned: bool | None = f("a feature store (Feast, Tecton, ...) named")


class GeographicRestrictions(Contract):
    geo_restriction_type: Literal[v.GEO_RESTRICTION] | None = f("where candidates may be")
    allowed_countries: list[str] = lst("ISO 3166 alpha-2 codes allowed (UK as 'UK')")
    excluded_countries: list[str] = lst("ISO 3166 alpha-2 codes excluded")
    us_state_restrictions: list[str] = lst("US state codes candidates must live in")
    residency_requirement: Literal[v.RESIDENCY] | None = f("residency requirement")


class BenefitsStructured(Contract):
    benefits_mentioned: list[str] = lst("benefits named, short phrases")
    equity_mentioned: bool | None = f("equity / stock / RSUs offered")
    learning_budget_mentioned: bool | None = f("learning or training budget")
    conference_budget_mentioned: bool | None = f("conference budget")
    hardware_choice_mentioned: bool | None = f("choice of equipment")
    pto_policy: Literal[v.PTO_POLICY] | None = f("paid time off policy")


class PostingContext(Contract):
    team_info_text: str | None = f("sentence about the team")
    company_description_text: str | None = f("one sentence describing the company")


class Extraction(Contract):
    compensation: Compensation | None = None
    work_authorization: WorkAuthorization | None = None
    work_model: WorkModel | None = None
    contract_details: ContractDetails | None = None
    contractor_rates: ContractorRates | None = None
    skills_classified: SkillsClassified | None = None
    geographic_restrictions: GeographicRestrictions | None = None
    benefits_structured: BenefitsStructured | None = None
    context: PostingContext | None = None


class Pass1Output(Contract):
    extraction: Extraction


# --------------------------------------------------------------------------- pass 2


class SeniorityAndRole(Contract):
    seniority_level: Inferred[Literal[v.SENIORITY]] | None = f(
        "IC ladder level from title and years"
    )
    job_family: Inferred[Literal[v.JOB_FAMILY]] | None = f("job family")
    sub_specialty: Inferred[Literal[v.SUB_SPECIALTY]] | None = f("main specialty")
    leadership_expectation: Inferred[Literal[v.LEADERSHIP]] | None = f("leadership expected")


class StackAndCloud(Contract):
    primary_cloud: Inferred[Literal[v.CLOUD]] | None = f(
        "main cloud; multi when several are alternatives"
    )
    secondary_clouds: Inferred[list[Literal[v.CLOUD_NAMES]]] | None = f(
        "other clouds named, [] if none"
    )
    processing_paradigm: Inferred[Literal[v.PARADIGM]] | None = f("streaming, batch or both")
    orchestrator_category: Inferred[Literal[v.ORCHESTRATOR]] | None = f(
        "airflow_like: Airflow/MWAA/Composer; cloud_native: ADF/Step Functions"
    )
    storage_layer: Inferred[Literal[v.STORAGE_LAYER]] | None = f(
        "warehouse, lake, lakehouse, mixed"
    )


class GeoAndWorkModel(Contract):
    remote_restriction: Inferred[Literal[v.REMOTE_RESTRICTION]] | None = f(
        "where a remote hire may live"
    )
    timezone_focus: Inferred[Literal[v.TIMEZONE_FOCUS]] | None = f("time zones worked")
    relocation_required: Inferred[bool] | None = f("relocation required; null if unknown")


class VisaAndAuthorization(Contract):
    h1b_friendly: Inferred[bool] | None = f("H-1B holders can apply; null if unknown")
    opt_cpt_friendly: Inferred[bool] | None = f("OPT/CPT students can apply; null if unknown")
    citizenship_required: Inferred[Literal[v.CITIZENSHIP]] | None = f("citizenship requirement")


class ContractAndCompensation(Contract):
    w2_vs_1099: Inferred[Literal[v.W2_VS_1099]] | None = f("US tax arrangement")
    benefits_level: Inferred[Literal[v.BENEFITS_LEVEL]] | None = f(
        "comprehensive needs 3+ premium benefits"
    )


class CareerDevelopment(Contract):
    growth_path_clarity: Inferred[Literal[v.GROWTH_PATH]] | None = f("clarity of the growth path")
    mentorship_signals: Inferred[Literal[v.MENTORSHIP]] | None = f("mentorship offered")
    promotion_path_mentioned: Inferred[bool] | None = f("promotion path mentioned")
    internal_mobility_mentioned: Inferred[bool] | None = f("internal mobility mentioned")
    career_tracks_available: Inferred[list[Literal[v.CAREER_TRACKS]]] | None = f(
        "career tracks named"
    )


class RequirementsClassification(Contract):
    requirement_strictness: Inferred[Literal[v.STRICTNESS]] | None = f(
        "how strict requirements are"
    )
    scope_definition: Inferred[Literal[v.SCOPE_DEFINITION]] | None = f(
        "clear, vague or several roles in one"
    )
    skill_inflation_detected: Inferred[bool] | None = f("asks far more than the seniority warrants")


class Inference(Contract):
    seniority_and_role: SeniorityAndRole | None = None
    stack_and_cloud: StackAndCloud | None = None
    geo_and_work_model: GeoAndWorkModel | None = None
    visa_and_authorization: VisaAndAuthorization | None = None
    contract_and_compensation: ContractAndCompensation | None = None
    career_development: CareerDevelopment | None = None
    requirements_classification: RequirementsClassification | None = None


class Pass2Output(Contract):
    inference: Inference


# --------------------------------------------------------------------------- pass 3


class TeamComposition(Contract):
    team_size: str | None = f("team size as stated")
    de_count: str | None = f("number of data engineers")
    seniority_mix: str | None = f("seniority mix")


class CompanyMaturity(Contract):
    data_maturity_score: Inferred[MaturityScore] | None = f("1 ad_hoc .. 5 optimizing")
    data_maturity_level: Inferred[Literal[v.MATURITY_LEVEL]] | None = f("must match the score")
    maturity_signals: Inferred[list[Literal[v.MATURITY_SIGNALS]]] | None = f("practices named")


class RedFlagsAndRoleQuality(Contract):
    scope_creep_score: Inferred[Score] | None = f("0 focused .. 1 many roles in one")
    overtime_risk_score: Inferred[Score] | None = f("0 none .. 1 on-call/overtime explicit")
    role_clarity: Inferred[Literal[v.ROLE_CLARITY]] | None = f("role clarity")
    overall_red_flag_score: Inferred[Score] | None = f(
        "composite of scope creep, overtime, role clarity, strictness, skill inflation"
    )


class StakeholdersAndLeadership(Contract):
    reporting_structure_clarity: Inferred[Literal[v.REPORTING_CLARITY]] | None = f(
        "reporting line clarity"
    )
    manager_level_inferred: Inferred[Literal[v.MANAGER_LEVEL]] | None = f("level of the manager")
    team_growth_velocity: Inferred[Literal[v.TEAM_GROWTH]] | None = f("team growth")
    team_composition: Inferred[TeamComposition] | None = f("team size and mix as stated")
    reporting_structure: Inferred[Literal[v.REPORTING_STRUCTURE]] | None = f(
        "who the role reports to"
    )
    cross_functional_embedded: Inferred[bool] | None = f("embedded in a cross-functional team")


class TechCulture(Contract):
    work_life_balance_score: Inferred[Score] | None = f("0 poor .. 1 strong")
    growth_opportunities_score: Inferred[Score] | None = f("0 none .. 1 strong")
    tech_culture_score: Inferred[Score] | None = f("0 weak .. 1 strong engineering culture")


class TechCultureAssessment(Contract):
    tech_culture_signals: Inferred[list[Literal[v.TECH_CULTURE_SIGNALS]]] | None = f(
        "culture signals named"
    )
    dev_practices_mentioned: Inferred[list[Literal[v.DEV_PRACTICES]]] | None = f("practices named")
    innovation_signals: Inferred[Literal[v.INNOVATION]] | None = f("innovation level")
    tech_debt_awareness: Inferred[bool] | None = f("tech debt acknowledged")


class AiMlIntegration(Contract):
    ai_integration_level: Inferred[Literal[v.AI_INTEGRATION]] | None = f("AI/ML in the role")
    ml_tools_expected: Inferred[list[str]] | None = f("ML tools named (SageMaker, MLflow, ...)")


class CompetitionAndTiming(Contract):
    hiring_urgency: Inferred[Literal[v.HIRING_URGENCY]] | None = f("urgency stated")
    competition_level: Inferred[Literal[v.COMPETITION]] | None = f(
        "from the applicant count fact: <50 low, 50-200 medium, 200+ high"
    )


class CompanyContext(Contract):
    company_stage_inferred: Inferred[Literal[v.COMPANY_STAGE]] | None = f("company stage")
    hiring_velocity: Inferred[Literal[v.HIRING_VELOCITY]] | None = f("hiring pace")
    team_size_signals: Inferred[Literal[v.TEAM_SIZE]] | None = f("team size")
    funding_stage_signals: Inferred[Literal[v.FUNDING_STAGE]] | None = f("funding stage")
    role_creation_type: Inferred[Literal[v.ROLE_CREATION]] | None = f("why the role exists")


class Analysis(Contract):
    company_maturity: CompanyMaturity | None = None
    red_flags_and_role_quality: RedFlagsAndRoleQuality | None = None
    stakeholders_and_leadership: StakeholdersAndLeadership | None = None
    tech_culture: TechCulture | None = None
    tech_culture_assessment: TechCultureAssessment | None = None
    ai_ml_integration: AiMlIntegration | None = None
    competition_and_timing: CompetitionAndTiming | None = None
    company_context: CompanyContext | None = None


class Summary(Contract):
    strength_categories: list[Literal[v.STRENGTHS]] = lst("2-5 strengths")
    strength_details: list[str] = lst("short grounded sentences, one per category")
    concern_categories: list[Literal[v.CONCERNS]] = lst("1-4 concerns")
    concern_details: list[str] = lst("short grounded sentences, one per category")
    best_fit_categories: list[Literal[v.BEST_FIT]] = lst("2-4 candidate profiles")
    best_fit_details: list[str] = lst("short grounded sentences, one per category")
    probe_categories: list[Literal[v.PROBES]] = lst("3-5 questions to ask")
    probe_details: list[str] = lst("short grounded sentences, one per category")
    leverage_categories: list[Literal[v.LEVERAGE]] = lst("1-3 negotiation levers")
    leverage_details: list[str] = lst("short grounded sentences, one per category")
    overall_assessment: str | None = f("2-3 sentences for a candidate")
    recommendation_score: Score | None = f("0 not recommended .. 1 highly recommended")
    recommendation_confidence: Score | None = f("certainty of the recommendation")


class Pass3Output(Contract):
    analysis: Analysis
    summary: Summary | None = None


PASS_MODELS: dict[int, type[Contract]] = {1: Pass1Output, 2: Pass2Output, 3: Pass3Output}
#: The top-level key that must hold an object for an answer to count at all.
CORE_KEYS: dict[int, str] = {1: "extraction", 2: "inference", 3: "analysis"}
PASS_PREFIX: dict[int, str] = {1: "ext", 2: "inf", 3: "anl"}
