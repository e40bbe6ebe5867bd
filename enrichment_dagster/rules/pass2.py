"""Pass 2 by rules: normalised facts with confidence, a verbatim quote and a source.

Inputs are the record and the pass-1 answer. Pass-1 values drive the fields built on them
(seniority from years, benefits level from the benefits named, H-1B signals from the
sponsorship statement, remote restriction from the work model and geography); the
record's own analysis (cached, see :func:`pass1.analyze`) supplies the quotes, so every
evidence string is a slice of ``record.description``. ``source`` is ``explicit`` when the
quote states the value, ``pass1_derived`` when a pass-1 value decided it, ``combined``
when both did, ``inferred`` when the rule reads metadata (the title, Silver's level).
"""

from __future__ import annotations

import re
from typing import Any

from enrichment_dagster.contracts.passes import Pass1Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.rules.benefits import is_premium
from enrichment_dagster.rules.claims import absent, claim, quote_or_none
from enrichment_dagster.rules.pass1 import Facts, analyze, extraction
from enrichment_dagster.rules.roles import job_family, leadership, seniority, sub_specialty
from enrichment_dagster.rules.stack import (
    orchestrator,
    paradigm,
    primary_cloud,
    secondary_clouds,
    storage,
)
from enrichment_dagster.rules.text import Doc, Rule

# ------------------------------------------------------------------ geography, visa

_RELOCATION_REQUIRED = Rule(
    r"\bmust\s+relocate\b|\brelocation\s+(?:is\s+)?(?:required|expected|mandatory)\b", "relocat"
)
_RESTRICTION = {
    "us_only": "same_country",
    "uk_only": "same_country",
    "specific_countries": "same_country",
    "eu_only": "same_region",
    "latam_only": "same_region",
    "apac_only": "same_region",
    "global": "anywhere",
}


def _geo(facts: Facts, p1: Any) -> dict[str, Any]:
    doc, geo = facts.doc, facts.geo
    work_model = p1.work_model.work_model_stated if p1 and p1.work_model else None
    restriction_type = (
        p1.geographic_restrictions.geo_restriction_type
        if p1 and p1.geographic_restrictions
        else None
    )
    out: dict[str, Any] = {
        "remote_restriction": absent(),
        "timezone_focus": absent(),
        "relocation_required": absent(None),
    }
    quote = quote_or_none(doc, geo.restriction_span, 60, 100)
    if work_model == "remote" and restriction_type in _RESTRICTION:
        out["remote_restriction"] = claim(
            _RESTRICTION[restriction_type], 0.8, quote, "combined" if quote else "pass1_derived"
        )
    elif work_model == "remote" and geo.timezone != "not_mentioned":
        out["remote_restriction"] = claim(
            "same_timezone", 0.6, quote_or_none(doc, geo.timezone_span, 60, 80), "explicit"
        )
    if geo.timezone != "not_mentioned":
        out["timezone_focus"] = claim(
            geo.timezone, 0.6, quote_or_none(doc, geo.timezone_span, 60, 80), "explicit"
        )
    elif work_model == "remote" and restriction_type in ("us_only", "uk_only"):
        out["timezone_focus"] = claim(
            "specific_country", 0.55, quote, "combined" if quote else "pass1_derived"
        )
    relocation = _RELOCATION_REQUIRED.search(doc)
    if relocation is not None:
        out["relocation_required"] = claim(
            True, 0.75, doc.quote(relocation.start(), relocation.end(), 60, 80), "explicit"
        )
    return out


_OPT = Rule(
    r"\b(?:STEM\s+)?OPT\b|\bCPT\b|\bF-?1\s+(?:visa|students?)\b", "opt", "cpt", "f-1", "f1", flags=0
)


def _visa(facts: Facts, p1: Any) -> dict[str, Any]:
    doc, auth = facts.doc, facts.authorization
    stated = p1.work_authorization.visa_sponsorship_stated if p1 and p1.work_authorization else None
    visa_quote = quote_or_none(doc, (auth.visa.start, auth.visa.end) if auth.visa else None)
    source = "combined" if visa_quote else "pass1_derived"
    citizen = auth.citizenship
    citizen_quote = quote_or_none(doc, (citizen.start, citizen.end) if citizen else None)
    clearance = auth.clearance
    clearance_quote = quote_or_none(doc, (clearance.start, clearance.end) if clearance else None)
    h1b: dict[str, Any] = absent(None)
    opt: dict[str, Any] = absent(None)
    if stated == "will_sponsor":
        h1b = claim(True, 0.8, visa_quote, source)
    elif stated == "will_not_sponsor":
        h1b = claim(False, 0.85, visa_quote, source)
    elif citizen is not None:
        h1b = claim(False, 0.9, citizen_quote, "explicit")
    elif clearance is not None and clearance.value == "required" and facts.country in (None, "US"):
        h1b = claim(False, 0.65, clearance_quote, "inferred")
    opt_match = _OPT.search(doc)
    if citizen is not None:
        opt = claim(False, 0.85, citizen_quote, "explicit")
    elif opt_match is not None and stated != "will_not_sponsor":
        opt = claim(True, 0.7, doc.quote(opt_match.start(), opt_match.end(), 60, 80), "explicit")
    if citizen is not None:
        citizenship = claim(citizen.value, 0.9, citizen_quote, "explicit")
    elif clearance is not None and clearance.value == "required" and facts.country in (None, "US"):
        # US security clearances are granted to US citizens only.
        citizenship = claim("us_citizen_only", 0.65, clearance_quote, "inferred")
    elif stated in ("must_be_authorized", "will_not_sponsor"):
        citizenship = claim("work_auth_only", 0.75, visa_quote, source)
    elif stated == "will_sponsor":
        citizenship = claim("any", 0.7, visa_quote, source)
    else:
        citizenship = absent()
    return {"h1b_friendly": h1b, "opt_cpt_friendly": opt, "citizenship_required": citizenship}


# ------------------------------------------------------------------ contract, career, requirements

_W2 = Rule(r"\bW-?2\b", "w2", "w-2", flags=0)
_C2C = Rule(r"\bC2C\b|\bcorp[- ]to[- ]corp\b", "c2c", "corp")
_NO_C2C = Rule(r"\bno\s+(?:c2c|corp[- ]to[- ]corp)\b", "c2c", "corp")
_1099 = Rule(r"\b1099\b", "1099", flags=0)
_NO_BENEFITS = Rule(r"\bno\s+benefits\b", "benefits")
_CORE_BENEFITS = (
    "health",
    "medical",
    "dental",
    "vision",
    "401",
    "pension",
    "retirement",
    "paid time off",
    "pto",
    "insurance",
)


def _contract(facts: Facts, p1: Any) -> dict[str, Any]:
    doc = facts.doc
    forms = []
    for value, pattern in (("w2", _W2), ("c2c", _C2C), ("1099", _1099)):
        match = pattern.search(doc)
        if match is not None and not (value == "c2c" and _NO_C2C.search(doc)):
            forms.append((value, match))
    if len(forms) > 1:
        w2 = claim(
            "any", 0.65, doc.quote(forms[0][1].start(), forms[0][1].end(), 60, 80), "explicit"
        )
    elif forms:
        w2 = claim(
            forms[0][0], 0.85, doc.quote(forms[0][1].start(), forms[0][1].end(), 60, 80), "explicit"
        )
    elif (no_c2c := _NO_C2C.search(doc)) is not None:
        w2 = claim("w2", 0.6, doc.quote(no_c2c.start(), no_c2c.end(), 60, 80), "explicit")
    else:
        w2 = absent()
    return {"w2_vs_1099": w2, "benefits_level": _benefits_level(facts, p1)}


def _benefits_level(facts: Facts, p1: Any) -> dict[str, Any]:
    doc, b = facts.doc, facts.benefits
    names = list(p1.benefits_structured.benefits_mentioned) if p1 and p1.benefits_structured else []
    first = b.benefits[0] if b.benefits else None
    quote = doc.quote(first.start, first.end, 60, 160) if first else None
    source = "combined" if quote else "pass1_derived"
    if b.none_offered:
        match = _NO_BENEFITS.search(doc)
        return claim(
            "none_mentioned",
            0.8,
            doc.quote(match.start(), match.end(), 20, 60) if match else None,
            "explicit",
        )
    if not names:
        return absent()
    premium = sum(
        1
        for n in names
        if is_premium(n)
        or any(
            w in n.lower() for w in ("equity", "stock", "bonus", "tuition", "parental", "learning")
        )
    )
    core = sum(1 for n in names if any(w in n.lower() for w in _CORE_BENEFITS))
    if premium >= 3:
        return claim("comprehensive", 0.75, quote, source)
    if core >= 2:
        return claim("standard", 0.7, quote, source)
    return claim("basic", 0.6, quote, source)


_GROWTH_EXPLICIT = Rule(
    r"\bcareer\s+(?:path|paths|ladder|progression|track)\b|\bpath\s+to\s+(?:senior|lead|staff|principal)\b|\bprogression\s+framework\b",
    "career",
    "path",
    "progression",
)
_GROWTH_IMPLIED = Rule(
    r"\b(?:career|professional)\s+(?:growth|development|advancement)\b|\bgrow\s+(?:your|their)\s+career\b|\bgrowth\s+opportunit\w+\b|\bcareer\s+development\b|\bd[ée]veloppement\s+de\s+carri[èe]re\b",
    "career",
    "professional",
    "grow",
    "développement",
    "developpement",
)
_MENTORSHIP = Rule(
    r"\bmentor(?:ship|ing)\s+program\w*\b|\byou(?:'|’)ll\s+be\s+mentored\b|\breceive\s+mentor\w*\b|\bdedicated\s+mentor\b|\bbuddy\s+program\b",
    "mentor",
    "buddy",
)
_PROMOTION = Rule(r"\bpromotions?\b|\bpromoted\b|\bcareer\s+advancement\b", "promot", "advancement")
_MOBILITY = Rule(
    r"\binternal\s+mobility\b|\bmobilit[ée]s?\s+internes?\b|\binternal\s+(?:transfers?|moves?)\b|\bother\s+roles\s+you\s+may\s+be\s+interested\s+in\b",
    "mobilit",
    "internal",
    "other roles",
)
_TRACKS = [
    ("ic_track", Rule(r"\b(?:ic|individual\s+contributor)\s+(?:track|path)\b", "track", "path")),
    ("management_track", Rule(r"\bmanagement\s+(?:track|path)\b", "track", "path")),
    ("specialist_track", Rule(r"\bspecialist\s+(?:track|path)\b", "track", "path")),
    ("architect_track", Rule(r"\barchitect(?:ure)?\s+(?:track|path)\b", "track", "path")),
]


def _mentioned(doc: Doc, rule: Rule) -> dict[str, Any]:
    """A "*_mentioned" boolean: true with its quote, or false because the scan found nothing."""
    match = rule.search(doc)
    if match is None:
        return claim(False, 0.7, None, "not_mentioned")
    return claim(True, 0.8, doc.quote(match.start(), match.end(), 60, 80), "explicit")


def _career(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    growth: dict[str, Any] = absent()
    for value, pattern, confidence in (
        ("explicit", _GROWTH_EXPLICIT, 0.7),
        ("implied", _GROWTH_IMPLIED, 0.6),
    ):
        match = pattern.search(doc)
        if match is not None:
            growth = claim(
                value, confidence, doc.quote(match.start(), match.end(), 60, 80), "explicit"
            )
            break
    mentor = _MENTORSHIP.search(doc)
    tracks = [(value, m) for value, pattern in _TRACKS if (m := pattern.search(doc)) is not None]
    return {
        "growth_path_clarity": growth,
        "mentorship_signals": claim(
            "explicit_yes", 0.75, doc.quote(mentor.start(), mentor.end(), 60, 80), "explicit"
        )
        if mentor
        else absent(),
        "promotion_path_mentioned": _mentioned(doc, _PROMOTION),
        "internal_mobility_mentioned": _mentioned(doc, _MOBILITY),
        "career_tracks_available": claim(
            [v for v, _ in tracks],
            0.7,
            doc.quote(tracks[0][1].start(), tracks[0][1].end(), 40, 60),
            "explicit",
        )
        if tracks
        else absent([]),
    }


_MULTI_ROLE_TITLE = re.compile(
    r"\b(?:engineer|analyst|developer|steward|owner|scientist|projet\s+data|manager)\b\s*(?:/|&|\bet\b|\band\b)\s*(?:\w+\s+){0,2}(?:engineer|developer|analyst|steward|scientist)\b",
    re.IGNORECASE,
)
_MULTI_ROLE_TEXT = Rule(
    r"\b(?:à\s+la\s+fois|both)\s+(?:le\s+r[ôo]le\s+de\s+|the\s+role\s+of\s+)?(?:an?\s+)?[\w ]{2,30}?\s+(?:et|and)\s+(?:de\s+|an?\s+)?[\w ]{2,30}?(?:engineer|developer|analyst|steward)\b",
    "fois",
    "both",
)


def _requirements(facts: Facts, seniority: dict[str, Any], years: float | None) -> dict[str, Any]:
    doc = facts.doc
    scope: dict[str, Any] = absent()
    text_match = _MULTI_ROLE_TEXT.search(doc)
    if text_match is not None:
        scope = claim(
            "multi_role", 0.7, doc.quote(text_match.start(), text_match.end(), 40, 60), "explicit"
        )
    elif _MULTI_ROLE_TITLE.search(facts.title):
        scope = claim("multi_role", 0.6, None, "inferred")
    level = seniority.get("value")
    inflation: dict[str, Any] = absent(None)
    if level in ("intern", "entry", "junior") and years is not None:
        inflated = years >= 5 if level == "junior" else years >= 3
        inflation = claim(inflated, 0.7, facts.experience.text, "combined")
    elif level not in (None, "not_mentioned") and years is not None:
        inflation = claim(False, 0.6, facts.experience.text, "combined")
    return {
        "requirement_strictness": absent(),
        "scope_definition": scope,
        "skill_inflation_detected": inflation,
    }


# ------------------------------------------------------------------ answer


def inference(
    record: SilverRecord, pass1: Pass1Output | None, description: str | None = None
) -> dict[str, Any]:
    """The ``inference`` object; without a pass-1 answer the rules' pass 1 is used."""
    facts = analyze(record, description)
    if pass1 is None:
        pass1 = Pass1Output.model_validate({"extraction": extraction(facts)})
    p1 = pass1.extraction
    skills = p1.skills_classified
    years = skills.years_experience_min if skills else None
    level = seniority(facts, years)
    primary, secondary = primary_cloud(facts)
    return {
        "seniority_and_role": {
            "seniority_level": level,
            "job_family": job_family(facts),
            "sub_specialty": sub_specialty(facts),
            "leadership_expectation": leadership(facts),
        },
        "stack_and_cloud": {
            "primary_cloud": primary,
            "secondary_clouds": secondary_clouds(facts, secondary),
            "processing_paradigm": paradigm(facts),
            "orchestrator_category": orchestrator(facts),
            "storage_layer": storage(facts),
        },
        "geo_and_work_model": _geo(facts, p1),
        "visa_and_authorization": _visa(facts, p1),
        "contract_and_compensation": _contract(facts, p1),
        "career_development": _career(facts),
        "requirements_classification": _requirements(facts, level, years),
    }


def answer(
    record: SilverRecord, pass1: Pass1Output | None, description: str | None = None
) -> dict[str, Any]:
    """The whole pass-2 answer object."""
    return {"inference": inference(record, pass1, description)}
