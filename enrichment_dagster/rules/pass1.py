"""Pass 1 by rules: the facts a posting states, in the contract's ``extraction`` shape.

The analysis of a record (every rule module run once over its description) is cached, so
passes 2 and 3 reuse the located facts for their evidence quotes instead of scanning the
text again. Structured Silver fields used as facts: ``job_title`` (internships, skills in
the title, work model), ``job_location`` and ``country_code`` (country for a bare "$",
work model "(Remote)", US state of a "local only" role), ``job_employment_type`` (when the
text states no employment type) and ``salary_period`` (only to confirm the period of pay
figures that the text itself states).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from enrichment_dagster.contracts.silver import SilverRecord, clean_text
from enrichment_dagster.rules.benefits import BenefitFacts, extract_benefits
from enrichment_dagster.rules.education import EducationFacts, extract_education
from enrichment_dagster.rules.experience import ExperienceFacts, extract_experience
from enrichment_dagster.rules.geo import GeoFacts, extract_geo, posting_country
from enrichment_dagster.rules.injection import mask_injections
from enrichment_dagster.rules.salary import SalaryFacts, extract_salary
from enrichment_dagster.rules.skills import SkillFindings, catalog, detect_skills
from enrichment_dagster.rules.text import Doc
from enrichment_dagster.rules.visa import AuthorizationFacts, extract_authorization
from enrichment_dagster.rules.work_model import (
    ContractFacts,
    Cue,
    extract_contract,
    extract_employment_type,
    extract_work_model,
)


@dataclass(frozen=True)
class Facts:
    """Everything the rules found in one record, with positions for quoting."""

    doc: Doc
    title: str
    country: str | None
    salary: SalaryFacts
    authorization: AuthorizationFacts
    work_model: Cue | None
    employment: Cue | None
    contract: ContractFacts
    experience: ExperienceFacts
    education: EducationFacts
    skills: SkillFindings
    title_skills: list[str]
    geo: GeoFacts
    benefits: BenefitFacts
    applicants: int | None
    silver_seniority: str | None


@dataclass(frozen=True)
class _Key:
    """The record fields the rules read; the cache key of :func:`analyze`."""

    raw_description: str | None
    description: str | None
    title: str
    company: str | None
    location: str | None
    country_code: str | None
    employment_type: str | None
    seniority: str | None
    salary_period: str | None
    salary_min: float | None
    salary_max: float | None
    applicants: int | None


def analyze(record: SilverRecord, description: str | None = None) -> Facts:
    """Run every rule module over ``record`` (cached on the fields the rules read).

    ``description`` is ``record.description`` when the caller already has it (the engine
    passes it in the request inputs); otherwise it is read here (memoised on the text, so
    the three passes of one record pay for the cleaning once), which also gives the HTML
    fallback of a record without description text.
    """
    return _analyze(
        _Key(
            record.job_description_text,
            description if description is not None else record.description,
            (record.job_title or "").strip(),
            record.company_name,
            record.job_location,
            record.country_code,
            record.job_employment_type,
            record.job_seniority_level,
            record.salary_period,
            record.salary_min,
            record.salary_max,
            record.job_num_applicants,
        )
    )


@lru_cache(maxsize=512)
def _analyze(key: _Key) -> Facts:
    text = key.description if key.description is not None else clean_text(key.raw_description)
    doc = Doc(mask_injections(text))
    country = posting_country(key.country_code, key.location)
    skills_matcher, _ = catalog()
    title_hits = [h for h in skills_matcher.find(Doc(key.title)) if h.kind == "hard"]
    title_skills = skills_matcher.canonicals(title_hits)
    return Facts(
        doc=doc,
        title=key.title,
        country=country,
        salary=extract_salary(doc, country, key.salary_period, (key.salary_min, key.salary_max)),
        authorization=extract_authorization(doc),
        work_model=extract_work_model(doc, key.title, key.location),
        employment=extract_employment_type(doc, key.title, key.employment_type),
        contract=extract_contract(doc),
        experience=extract_experience(doc),
        education=extract_education(doc),
        skills=detect_skills(doc),
        title_skills=title_skills,
        geo=extract_geo(doc, key.location),
        benefits=extract_benefits(doc, key.company),
        applicants=key.applicants,
        silver_seniority=key.seniority,
    )


def _quote(facts: Facts, cue: Any, before: int = 120, after: int = 180) -> str | None:
    """The verbatim clause of a located answer (``start``/``end``), None when unlocated."""
    start = getattr(cue, "start", -1)
    if start < 0:
        return None
    return facts.doc.quote(start, cue.end, before, after)


def _compensation(facts: Facts) -> dict[str, Any]:
    s = facts.salary
    hourly = s.disclosed and s.period == "hourly"
    return {
        "salary_disclosed": s.disclosed,
        "salary_min": s.minimum,
        "salary_max": s.maximum,
        "salary_currency": s.currency,
        "salary_period": s.period,
        "salary_text_raw": s.text,
        "hourly_rate_min": s.minimum if hourly else None,
        "hourly_rate_max": s.maximum if hourly else None,
        "hourly_rate_currency": s.currency if hourly else None,
        "hourly_rate_text_raw": s.text if hourly else None,
    }


def _work_authorization(facts: Facts) -> dict[str, Any]:
    a = facts.authorization
    return {
        "visa_sponsorship_stated": a.visa.value if a.visa else "not_mentioned",
        "work_auth_text": _quote(facts, a.visa),
        "citizenship_text": _quote(facts, a.citizenship),
        "security_clearance_stated": a.clearance.value if a.clearance else "not_mentioned",
    }


def _work_model(facts: Facts) -> dict[str, Any]:
    g = facts.geo
    span = g.restriction_span or g.residency_span
    return {
        "work_model_stated": facts.work_model.value if facts.work_model else "not_mentioned",
        "location_restriction_text": facts.doc.quote(*span, 80, 160) if span else None,
        "employment_type_stated": facts.employment.value if facts.employment else "not_mentioned",
    }


def _contract_details(facts: Facts) -> dict[str, Any]:
    c = facts.contract
    return {
        "contract_type": c.contract_type.value if c.contract_type else "not_mentioned",
        "contract_duration_months": c.duration_months,
        "contract_duration_text": facts.doc.text[c.duration.start : c.duration.end]
        if c.duration
        else None,
        "extension_possible": c.extension,
        "conversion_to_fte": c.conversion,
        "start_date": c.start.value if c.start else "not_mentioned",
        "start_date_text": _quote(facts, c.start, 60, 120),
        "probation_period_text": _quote(facts, c.probation, 60, 120),
    }


_PAY_TYPES = {
    "yearly": "salary",
    "hourly": "hourly",
    "daily": "daily",
    "weekly": "weekly",
    "monthly": "monthly",
}


def _contractor_rates(facts: Facts) -> dict[str, Any]:
    s = facts.salary
    daily = s.disclosed and s.period == "daily"
    return {
        "pay_type": _PAY_TYPES.get(s.period or "", "not_mentioned")
        if s.disclosed
        else "not_mentioned",
        "daily_rate_min": s.minimum if daily else None,
        "daily_rate_max": s.maximum if daily else None,
        "daily_rate_currency": s.currency if daily else None,
        "daily_rate_text_raw": s.text if daily else None,
        "rate_negotiable": s.negotiable,
        "overtime_paid": "not_mentioned",
    }


def _skills_classified(facts: Facts) -> dict[str, Any]:
    k = facts.skills
    must = list(k.must_hard)
    nice = [name for name in k.nice_hard if name not in facts.title_skills]
    for name in facts.title_skills:  # a skill in the title is a requirement
        if name not in must:
            must.append(name)
    e, d = facts.experience, facts.education
    return {
        "must_have_hard_skills": must,
        "nice_to_have_hard_skills": nice,
        "must_have_soft_skills": list(k.must_soft),
        "nice_to_have_soft_skills": list(k.nice_soft),
        "certifications_mentioned": list(k.certifications),
        "years_experience_min": e.minimum,
        "years_experience_max": e.maximum,
        "years_experience_text": e.text,
        "education_level": d.level,
        "education_area": d.area,
        "education_requirement": d.requirement,
        "education_text_raw": d.text,
        "llm_genai_mentioned": facts.benefits.llm is not None,
        "feature_store_mentioned": facts.benefits.feature_store,
    }


def _geographic(facts: Facts) -> dict[str, Any]:
    g = facts.geo
    return {
        "geo_restriction_type": g.restriction,
        "allowed_countries": list(g.allowed_countries),
        "excluded_countries": [],
        "us_state_restrictions": list(g.us_states),
        "residency_requirement": g.residency,
    }


def _benefits(facts: Facts) -> dict[str, Any]:
    b = facts.benefits
    return {
        "benefits_mentioned": [] if b.none_offered else [x.value for x in b.benefits],
        "equity_mentioned": b.equity is not None,
        "learning_budget_mentioned": b.learning_budget,
        "conference_budget_mentioned": b.conference_budget,
        "hardware_choice_mentioned": b.hardware_choice,
        "pto_policy": b.pto.value if b.pto else "not_mentioned",
    }


def extraction(facts: Facts) -> dict[str, Any]:
    """The ``extraction`` object of the pass-1 answer."""
    return {
        "compensation": _compensation(facts),
        "work_authorization": _work_authorization(facts),
        "work_model": _work_model(facts),
        "contract_details": _contract_details(facts),
        "contractor_rates": _contractor_rates(facts),
        "skills_classified": _skills_classified(facts),
        "geographic_restrictions": _geographic(facts),
        "benefits_structured": _benefits(facts),
        "context": {
            "team_info_text": facts.benefits.team_text,
            "company_description_text": facts.benefits.company_text,
        },
    }


def answer(record: SilverRecord, description: str | None = None) -> dict[str, Any]:
    """The whole pass-1 answer object."""
    return {"extraction": extraction(analyze(record, description))}


def clear_cache() -> None:
    """Forget the cached analyses (benchmarks measure cold runs)."""
    _analyze.cache_clear()
