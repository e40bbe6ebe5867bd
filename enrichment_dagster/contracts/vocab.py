"""Controlled vocabularies shared by the three passes.

Every enum keeps the old system's values (users' dashboards filter on them) and gains
``not_mentioned`` where it lacked one, so "the posting does not say" is always expressible
without abusing null. Null keeps one meaning only: the model gave no usable answer.
"""

from __future__ import annotations

NOT_MENTIONED = "not_mentioned"

# Words models write when they mean "not stated"; mapped to ``not_mentioned`` when the
# vocabulary has it, to null otherwise.
ABSENT_TOKENS = frozenset(
    {
        "not_mentioned",
        "not_specified",
        "not_stated",
        "unspecified",
        "unknown",
        "none",
        "null",
        "n/a",
        "na",
        "not_applicable",
        "not_available",
        "not_provided",
        "unclear",
        "not_mentioned_in_posting",
        "not mentioned",
        "",
        "-",
    }
)

# Frequent near-miss spellings observed in real answers, per canonical value. Applied only
# when the canonical value belongs to the field's vocabulary.
SYNONYMS: dict[str, str] = {
    "on_site": "onsite",
    "on-site": "onsite",
    "in_office": "onsite",
    "office": "onsite",
    "in_person": "onsite",
    "fully_remote": "remote",
    "remote_first": "remote",
    "fulltime": "full_time",
    "full-time": "full_time",
    "parttime": "part_time",
    "contractor": "contract",
    "intern": "intern",
    "internship": "internship",
    "contract_to_perm": "contract_to_hire",
    "temp_to_perm": "contract_to_hire",
    "temporary": "fixed_term",
    "lakehouse": "data_lakehouse",
    "data_lake": "data_lakehouse",
    "streaming": "streaming",
    "real_time": "streaming_realtime",
    "realtime": "streaming_realtime",
    "phd": "PHD",
    "doctorate": "PHD",
    "masters": "MASTERS",
    "master": "MASTERS",
    "bachelors": "BACHELORS",
    "bachelor": "BACHELORS",
    "associates": "ASSOCIATES",
    "associate_degree": "ASSOCIATES",
    "high_school": "HIGH_SCHOOL",
    "bootcamp": "BOOTCAMP",
    "annual": "yearly",
    "annually": "yearly",
    "year": "yearly",
    "yr": "yearly",
    "per_year": "yearly",
    "hour": "hourly",
    "hr": "hourly",
    "per_hour": "hourly",
    "month": "monthly",
    "per_month": "monthly",
    "day": "daily",
    "per_day": "daily",
    "week": "weekly",
    "per_week": "weekly",
}

SALARY_PERIOD = ("yearly", "monthly", "weekly", "daily", "hourly", NOT_MENTIONED)
VISA_SPONSORSHIP = ("will_sponsor", "will_not_sponsor", "must_be_authorized", NOT_MENTIONED)
SECURITY_CLEARANCE = ("required", "preferred", NOT_MENTIONED)
WORK_MODEL = ("remote", "hybrid", "onsite", NOT_MENTIONED)
EMPLOYMENT_TYPE = ("full_time", "part_time", "contract", "internship", "temporary", NOT_MENTIONED)
CONTRACT_TYPE = (
    "permanent",
    "fixed_term",
    "contract_to_hire",
    "project_based",
    "seasonal",
    NOT_MENTIONED,
)
EXTENSION_POSSIBLE = ("yes", "likely", "no", NOT_MENTIONED)
CONVERSION_TO_FTE = ("yes_guaranteed", "yes_possible", "no", NOT_MENTIONED)
START_DATE = (
    "immediate",
    "within_2_weeks",
    "within_month",
    "flexible",
    "specific_date",
    NOT_MENTIONED,
)
PAY_TYPE = ("salary", "hourly", "daily", "weekly", "monthly", "project_fixed", NOT_MENTIONED)
RATE_NEGOTIABLE = ("yes", "doe", "fixed", NOT_MENTIONED)
OVERTIME_PAID = ("yes", "no", "exempt", NOT_MENTIONED)
EDUCATION_LEVEL = (
    "PHD",
    "MASTERS",
    "BACHELORS",
    "ASSOCIATES",
    "HIGH_SCHOOL",
    "BOOTCAMP",
    NOT_MENTIONED,
)
EDUCATION_REQUIREMENT = ("required", "preferred", "or_equivalent", NOT_MENTIONED)
GEO_RESTRICTION = (
    "us_only",
    "eu_only",
    "uk_only",
    "latam_only",
    "apac_only",
    "specific_countries",
    "global",
    NOT_MENTIONED,
)
RESIDENCY = ("must_be_resident", "willing_to_relocate", "no_requirement", NOT_MENTIONED)
PTO_POLICY = ("unlimited", "generous", "standard", "limited", NOT_MENTIONED)

SOURCE = ("explicit", "pass1_derived", "pass2_derived", "inferred", "combined", NOT_MENTIONED)
SOURCE_SYNONYMS: dict[str, str] = {
    "stated": "explicit",
    "posting": "explicit",
    "text": "explicit",
    "job_posting": "explicit",
    "direct": "explicit",
    "pass1": "pass1_derived",
    "pass1_extraction": "pass1_derived",
    "extraction": "pass1_derived",
    "pass2": "pass2_derived",
    "pass2_inference": "pass2_derived",
    "inference": "pass2_derived",
    "external": "inferred",
    "inference_only": "inferred",
    "derived": "inferred",
    "heuristic": "inferred",
}

SENIORITY = (
    "intern",
    "entry",
    "associate",
    "junior",
    "mid",
    "senior",
    "staff",
    "principal",
    "distinguished",
    NOT_MENTIONED,
)
JOB_FAMILY = (
    "data_engineer",
    "analytics_engineer",
    "ml_engineer",
    "mlops_engineer",
    "data_platform_engineer",
    "data_architect",
    "data_scientist",
    "data_analyst",
    "bi_engineer",
    "research_engineer",
    NOT_MENTIONED,
)
SUB_SPECIALTY = (
    "streaming_realtime",
    "batch_etl",
    "data_warehouse",
    "data_lakehouse",
    "ml_infra",
    "mlops",
    "data_governance",
    "data_quality",
    "data_modeling",
    "cloud_migration",
    "reverse_etl",
    "api_development",
    "observability",
    "general",
    NOT_MENTIONED,
)
LEADERSHIP = (
    "ic",
    "tech_lead_ic",
    "architect",
    "people_manager",
    "tech_and_people_lead",
    NOT_MENTIONED,
)
CLOUD = ("aws", "azure", "gcp", "multi", "on_prem", NOT_MENTIONED)
CLOUD_NAMES = ("aws", "azure", "gcp", "oracle", "ibm", "alibaba", "on_prem")
PARADIGM = ("streaming", "batch", "hybrid", NOT_MENTIONED)
ORCHESTRATOR = (
    "airflow_like",
    "spark_native",
    "dbt_core",
    "cloud_native",
    "dagster_prefect",
    NOT_MENTIONED,
)
STORAGE_LAYER = ("warehouse", "lake", "lakehouse", "mixed", NOT_MENTIONED)
REMOTE_RESTRICTION = ("same_country", "same_timezone", "same_region", "anywhere", NOT_MENTIONED)
TIMEZONE_FOCUS = ("americas", "europe", "apac", "global", "specific_country", NOT_MENTIONED)
CITIZENSHIP = ("work_auth_only", "us_citizen_only", "us_or_gc", "any", NOT_MENTIONED)
W2_VS_1099 = ("w2", "c2c", "1099", "any", NOT_MENTIONED)
BENEFITS_LEVEL = ("comprehensive", "standard", "basic", "none_mentioned", NOT_MENTIONED)
GROWTH_PATH = ("explicit", "implied", "vague", NOT_MENTIONED)
MENTORSHIP = ("explicit_yes", "implied", NOT_MENTIONED)
CAREER_TRACKS = ("ic_track", "management_track", "specialist_track", "architect_track")
STRICTNESS = ("low", "medium", "high", NOT_MENTIONED)
SCOPE_DEFINITION = ("clear", "vague", "multi_role", NOT_MENTIONED)

MATURITY_LEVEL = ("ad_hoc", "developing", "defined", "managed", "optimizing", NOT_MENTIONED)
MATURITY_SIGNALS = (
    "modern_data_stack_adoption",
    "cicd_practices",
    "data_quality_testing",
    "monitoring_observability",
    "data_governance",
    "data_mesh_patterns",
    "mlops_practices",
    "cloud_native",
)
ROLE_CLARITY = ("clear", "vague", "multi_role", NOT_MENTIONED)
REPORTING_CLARITY = ("clear", "mentioned", "vague", NOT_MENTIONED)
MANAGER_LEVEL = ("director_plus", "senior_manager", "manager", "tech_lead", NOT_MENTIONED)
TEAM_GROWTH = ("rapid_expansion", "steady_growth", "stable", "unknown", NOT_MENTIONED)
REPORTING_STRUCTURE = (
    "reports_to_cto",
    "reports_to_director_data",
    "reports_to_manager",
    "reports_to_tech_lead",
    "matrix_reporting",
    NOT_MENTIONED,
)
TECH_CULTURE_SIGNALS = (
    "open_source",
    "internal_oss",
    "tech_blogs",
    "conference_speaking",
    "hackathons",
    "innovation_time",
)
DEV_PRACTICES = (
    "code_review",
    "pair_programming",
    "tdd",
    "ci_cd",
    "monitoring",
    "incident_response",
    "postmortems",
    "design_docs",
    "rfc_process",
)
INNOVATION = ("high", "medium", "low", NOT_MENTIONED)
AI_INTEGRATION = ("none", "basic_ml", "advanced_ml", "mlops", "genai_focus", NOT_MENTIONED)
HIRING_URGENCY = ("immediate", "asap", "normal", "pipeline", NOT_MENTIONED)
COMPETITION = ("low", "medium", "high", "very_high", NOT_MENTIONED)
COMPANY_STAGE = (
    "startup_seed",
    "startup_series_a_b",
    "growth_stage",
    "established_tech",
    "enterprise",
    NOT_MENTIONED,
)
HIRING_VELOCITY = ("aggressive", "steady", "replacement", "first_hire", NOT_MENTIONED)
TEAM_SIZE = ("solo", "small_2_5", "medium_6_15", "large_16_50", "very_large_50_plus", NOT_MENTIONED)
FUNDING_STAGE = (
    "bootstrapped",
    "seed",
    "series_a",
    "series_b_plus",
    "public",
    "profitable",
    NOT_MENTIONED,
)
ROLE_CREATION = ("new_headcount", "backfill", "team_expansion", "new_function", NOT_MENTIONED)

STRENGTHS = (
    "competitive_compensation",
    "transparent_salary",
    "equity_offered",
    "modern_tech_stack",
    "cloud_native",
    "remote_friendly",
    "hybrid_work",
    "flexible_schedule",
    "career_growth_clear",
    "learning_opportunities",
    "clear_requirements",
    "well_defined_role",
    "strong_benefits",
    "work_life_balance",
    "collaborative_culture",
    "diverse_team",
    "data_focused_role",
    "established_company",
    "startup_energy",
    "visa_sponsorship",
)
CONCERNS = (
    "vague_requirements",
    "unclear_responsibilities",
    "salary_not_disclosed",
    "below_market_pay",
    "no_visa_sponsorship",
    "citizenship_required",
    "on_call_expected",
    "overtime_likely",
    "scope_creep_risk",
    "jack_of_all_trades",
    "legacy_technology",
    "tech_debt_heavy",
    "high_turnover_signals",
    "backfill_role",
    "unclear_reporting",
    "travel_required",
    "relocation_required",
    "limited_growth",
    "startup_risk",
    "contract_short_term",
)
BEST_FIT = (
    "senior_data_engineers",
    "mid_level_engineers",
    "junior_engineers",
    "cloud_specialists",
    "platform_architects",
    "pipeline_developers",
    "analytics_engineers",
    "ml_engineers",
    "data_generalists",
    "startup_enthusiasts",
    "enterprise_experienced",
    "remote_workers",
    "career_changers",
    "leadership_track",
    "technical_specialists",
)
PROBES = (
    "team_size_composition",
    "reporting_structure",
    "tech_stack_details",
    "on_call_expectations",
    "work_hour_expectations",
    "remote_policy_details",
    "career_growth_path",
    "salary_range_details",
    "visa_sponsorship_details",
    "role_scope_boundaries",
    "tech_debt_situation",
    "team_turnover_history",
    "company_financials",
    "project_timeline",
    "success_metrics",
)
LEVERAGE = (
    "rare_skill_match",
    "exact_experience_match",
    "exceeds_requirements",
    "multiple_competing_offers",
    "high_market_demand",
    "domain_expertise",
    "leadership_experience",
    "quick_availability",
    "local_candidate",
    "referral_connection",
)
