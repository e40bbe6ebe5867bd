"""Pass-2 rules about the role: seniority, job family, specialty, leadership.

The title is the strongest signal (a level word, "II", "Lead", "Stage"); then a level the
body gives the hired role ("We are seeking a Distinguished Data Engineer"; only "a/an",
so "collaborate with the Lead Data Engineer" does not count); then the years asked for;
then Silver's ``job_seniority_level`` for internships and entry level. An unqualified
title ("Data Engineer") is the mid level of the IC ladder, claimed at 0.5 confidence.
"""

from __future__ import annotations

import re
from typing import Any

from enrichment_dagster.rules.claims import absent, claim, find_phrase, quote_or_none
from enrichment_dagster.rules.pass1 import Facts
from enrichment_dagster.rules.skills import Hit
from enrichment_dagster.rules.stack import STREAMING_SKILLS
from enrichment_dagster.rules.text import Rule

# ------------------------------------------------------------------ seniority

_LEVEL_RANK = {
    "intern": 0,
    "entry": 1,
    "associate": 2,
    "junior": 2,
    "mid": 3,
    "senior": 4,
    "staff": 5,
    "principal": 6,
    "distinguished": 7,
}
#: (level, confidence, title pattern). Order matters only for equal ranks.
_TITLE_LEVELS: list[tuple[str, float, re.Pattern[str]]] = [
    (
        "intern",
        0.9,
        re.compile(
            r"\b(?:intern|internship|stagiaire|alternan\w*|apprenti\w*|trainee|working\s+student|werkstudent)\b|(?:^|[\s(\-–|/])stage(?:$|[\s)\-–|/:])",
            re.IGNORECASE,
        ),
    ),
    ("entry", 0.8, re.compile(r"\b(?:entry[- ]level|graduate|new\s+grad)\b", re.IGNORECASE)),
    ("junior", 0.85, re.compile(r"\b(?:junior|jr\.?)(?=\s|$|[,)/-])", re.IGNORECASE)),
    ("junior", 0.6, re.compile(r"\b(?:engineer|developer|analyst|scientist)\s+I\b(?!\w|\s*[IV])")),
    ("mid", 0.75, re.compile(r"\b(?:engineer|developer|analyst|scientist)\s+II\b(?!I)")),
    ("senior", 0.7, re.compile(r"\b(?:engineer|developer|analyst|scientist)\s+III\b")),
    (
        "mid",
        0.6,
        re.compile(
            r"\bmid(?:[- ]level)?\s*[/-]\s*senior\b|\bmid[- ]level\b|\bintermediate\b",
            re.IGNORECASE,
        ),
    ),
    ("senior", 0.9, re.compile(r"\b(?:senior|sr\.?|snr)(?=\s|$|[,)/-])", re.IGNORECASE)),
    ("senior", 0.75, re.compile(r"\b(?:lead|leader)\b", re.IGNORECASE)),
    ("senior", 0.6, re.compile(r"\bmanager\b", re.IGNORECASE)),
    ("staff", 0.9, re.compile(r"\bstaff\b", re.IGNORECASE)),
    ("principal", 0.9, re.compile(r"\bprincipal\b", re.IGNORECASE)),
    ("principal", 0.5, re.compile(r"\b(?:director|head\s+of)\b", re.IGNORECASE)),
    ("distinguished", 0.9, re.compile(r"\b(?:distinguished|fellow)\b", re.IGNORECASE)),
]
_ROLE = r"(?:data|software|ml|machine\s+learning|analytics|platform|cloud|bi|etl|big\s+data)?\s*(?:\w+\s+){0,2}?(?:engineer|developer|analyst|scientist|architect)\b(?!s)"
_BODY_LEVEL = Rule(
    r"(?:^|\b(?:a|an|as\s+a|as\s+an)\s+)(?P<level>senior|sr\.?|lead|staff|principal|distinguished|junior|jr\.?|mid[- ]level)\s+"
    + _ROLE,
    "senior",
    "sr",
    "lead",
    "staff",
    "principal",
    "distinguished",
    "junior",
    "jr",
    "mid",
)
_BODY_JUNIOR = Rule(
    r"\bpremi[eè]re\s+exp[ée]rience\b|\bfirst\s+(?:professional\s+)?experience\b|\bnew\s+grads?\b|\brecent\s+graduates?\b|\bentry[- ]level\b",
    "premi",
    "first",
    "grad",
    "entry",
)
_SILVER_LEVEL = {"internship": ("intern", 0.7), "entry level": ("entry", 0.55)}


def _title_level(title: str) -> tuple[str, float] | None:
    found = [(level, conf) for level, conf, pattern in _TITLE_LEVELS if pattern.search(title)]
    if not found:
        return None
    mid_senior = next(((lv, c) for lv, c in found if lv == "mid" and c == 0.6), None)
    if mid_senior is not None:  # "Mid/Senior": the lower bound is the floor of the role
        return mid_senior
    return max(found, key=lambda item: (_LEVEL_RANK[item[0]], item[1]))


def _years_level(years: float) -> str:
    if years < 1:
        return "entry"
    if years < 2:
        return "junior"
    if years < 5:
        return "mid"
    return "senior"


def seniority(facts: Facts, years: float | None) -> dict[str, Any]:
    doc, title = facts.doc, facts.title
    level = _title_level(title)
    if level is not None:
        span = find_phrase(doc, title)
        evidence = quote_or_none(doc, span, 20, 60) if span else None
        return claim(level[0], level[1], evidence, "explicit" if evidence else "inferred")
    body = _BODY_LEVEL.search(doc)
    if body is not None and body.start() < 2500:
        word = body.group("level").lower().rstrip(".")
        mapped = {
            "sr": "senior",
            "lead": "senior",
            "jr": "junior",
            "mid-level": "mid",
            "mid level": "mid",
        }.get(word, word)
        return claim(mapped, 0.75, doc.quote(body.start("level"), body.end(), 40, 80), "explicit")
    if years is not None:
        quote = facts.experience.text
        return claim(_years_level(years), 0.7, quote, "pass1_derived")
    junior = _BODY_JUNIOR.search(doc)
    if junior is not None:
        return claim("junior", 0.6, doc.quote(junior.start(), junior.end(), 60, 60), "explicit")
    silver = _SILVER_LEVEL.get((facts.silver_seniority or "").strip().lower())
    if silver is not None:
        return claim(silver[0], silver[1], None, "inferred")
    if title:
        # An unqualified role title ("Data Engineer") is the mid level of the IC ladder.
        return claim("mid", 0.5, None, "inferred")
    return absent()


# ------------------------------------------------------------------ job family

_FAMILIES: list[tuple[str, Rule]] = [
    ("analytics_engineer", Rule(r"\banalytics\s+engineer", "analytics")),
    ("mlops_engineer", Rule(r"\bmlops\b", "mlops")),
    ("ml_engineer", Rule(r"\b(?:machine\s+learning|ml|ai)\s+engineer", "engineer")),
    ("data_architect", Rule(r"\bdata\s+architect", "architect")),
    ("data_scientist", Rule(r"\bdata\s+scientist", "scientist")),
    ("research_engineer", Rule(r"\bresearch\s+(?:engineer|scientist)", "research")),
    (
        "bi_engineer",
        Rule(
            r"\b(?:bi|business\s+intelligence|power\s*bi|tableau)\s+(?:engineer|developer|analyst)",
            "engineer",
            "developer",
            "analyst",
        ),
    ),
    (
        "data_platform_engineer",
        Rule(
            r"\b(?:data\s+)?platform\s+engineer|\bdata\s+infrastructure\s+engineer",
            "platform",
            "infrastructure",
        ),
    ),
    (
        "data_engineer",
        Rule(
            r"\bdata\s+(?:software\s+)?engineer|\bbig\s+data\s+engineer|\betl\s+developer|\bdata\s+engineering\b|\bing[ée]nieur\s+data\b",
            "engineer",
            "etl",
            "ingénieur",
            "ingenieur",
        ),
    ),
    (
        "data_analyst",
        Rule(r"\bdata\s+analyst|\banalytics\s+analyst|\bbusiness\s+analyst", "analyst"),
    ),
]


def job_family(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    for family, rule in _FAMILIES:
        if rule.pattern.search(facts.title.lower()):
            match = rule.search(doc)
            evidence = doc.quote(match.start(), match.end(), 40, 60) if match else None
            return claim(family, 0.85, evidence, "explicit" if evidence else "inferred")
    for family, rule in _FAMILIES:
        match = rule.search(doc)
        if match is not None and match.start() < 1500:
            return claim(family, 0.6, doc.quote(match.start(), match.end(), 40, 60), "explicit")
    return absent()


# ------------------------------------------------------------------ specialty, leadership

_SPECIALTIES: dict[str, frozenset[str]] = {
    "streaming_realtime": STREAMING_SKILLS,
    "batch_etl": frozenset(
        {
            "Batch Processing",
            "ETL",
            "ELT",
            "Informatica",
            "Informatica PowerCenter",
            "SSIS",
            "Talend",
            "DataStage",
        }
    ),
    "data_warehouse": frozenset(
        {
            "Data Warehousing",
            "Snowflake",
            "Redshift",
            "BigQuery",
            "Azure Synapse",
            "Teradata",
            "Vertica",
        }
    ),
    "data_lakehouse": frozenset(
        {"Lakehouse", "Delta Lake", "Iceberg", "Hudi", "Unity Catalog", "Delta Live Tables"}
    ),
    "mlops": frozenset({"MLOps", "MLflow", "Kubeflow", "SageMaker", "Vertex AI", "Azure ML"}),
    "data_governance": frozenset(
        {
            "Data Governance",
            "MDM",
            "Collibra",
            "Alation",
            "Microsoft Purview",
            "Data Catalog",
            "Data Lineage",
        }
    ),
    "data_quality": frozenset({"Data Quality", "Great Expectations", "Deequ", "Soda"}),
    "data_modeling": frozenset({"Data Modeling", "Data Vault"}),
    "cloud_migration": frozenset({"Cloud Migration"}),
    "api_development": frozenset({"REST APIs", "GraphQL", "FastAPI"}),
    "observability": frozenset({"Observability"}),
}
_TITLE_SPECIALTY = [
    ("streaming_realtime", Rule(r"\bstreaming\b|\breal[- ]time\b", "stream", "real")),
    ("batch_etl", Rule(r"\bbatch\b|\betl\b", "batch", "etl")),
    ("data_governance", Rule(r"\bgovernance\b|\bsteward", "governance", "steward")),
    ("data_quality", Rule(r"\bdata\s+quality\b", "quality")),
    ("mlops", Rule(r"\bmlops\b", "mlops")),
    ("data_warehouse", Rule(r"\bwarehouse\b|\bsnowflake\b", "warehouse", "snowflake")),
]


def sub_specialty(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    for specialty, rule in _TITLE_SPECIALTY:
        if rule.pattern.search(facts.title.lower()):
            match = rule.search(doc)
            return claim(
                specialty,
                0.75,
                doc.quote(match.start(), match.end(), 60, 80) if match else None,
                "explicit" if match else "inferred",
            )
    counts: dict[str, list[Hit]] = {}
    for hit in facts.skills.hits:
        for specialty, names in _SPECIALTIES.items():
            if hit.canonical in names:
                counts.setdefault(specialty, []).append(hit)
    ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[1][0].start))
    if not ranked or len(ranked[0][1]) < 3:
        return absent()
    if len(ranked) > 1 and len(ranked[0][1]) < 1.5 * len(ranked[1][1]):
        return absent()
    first = ranked[0][1][0]
    return claim(ranked[0][0], 0.6, doc.quote(first.start, first.end, 60, 80), "explicit")


_PEOPLE = Rule(
    r"\b(?:manage|managing|lead|leading)\s+(?:and\s+(?:mentor|develop)\s+)?(?:a|the|our)\s+(?:\w+\s+){0,3}?team\b|\bdirect\s+reports\b|\bpeople\s+management\b|\bline\s+management\b|\bguide\s+a\s+small\s+team\b",
    "manag",
    "lead",
    "direct",
    "people",
    "line",
    "guide",
)


def leadership(facts: Facts) -> dict[str, Any]:
    doc, title = facts.doc, facts.title
    people = _PEOPLE.search(doc)
    people_quote = doc.quote(people.start(), people.end(), 60, 80) if people else None
    if re.search(r"\b(?:manager|head\s+of|director|vp)\b", title, re.IGNORECASE):
        return claim(
            "people_manager", 0.75, people_quote, "explicit" if people_quote else "inferred"
        )
    if re.search(r"\barchitect\b", title, re.IGNORECASE):
        return claim("architect", 0.75, None, "inferred")
    if re.search(r"\b(?:lead|principal|staff|chef\s+de\s+projet)\b", title, re.IGNORECASE):
        value = "tech_and_people_lead" if people else "tech_lead_ic"
        return claim(value, 0.65, people_quote, "combined" if people else "inferred")
    if people is not None:
        return claim("tech_and_people_lead", 0.55, people_quote, "explicit")
    if re.search(
        r"\b(?:engineer|developer|analyst|scientist|ing[ée]nieur)\b", title, re.IGNORECASE
    ):
        return claim("ic", 0.6, None, "inferred")
    return absent()
