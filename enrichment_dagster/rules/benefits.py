"""Benefits, equity, time off, AI mentions and the two context sentences.

Equity is the trap here: "diversity, equity and inclusion" and "health equity" are not
stock, and "our stock is publicly traded" is not an offer. Equity counts only as
compensation: "+ equity", "equity package", "stock options", "RSUs", "ESPP", "employee
stock purchase". LLM/GenAI needs explicit words (LLM, generative AI, RAG, prompt
engineering, GPT, Copilot, LangChain, vector database); "AI-driven" does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from enrichment_dagster.rules.text import Doc, Rule, earliest


def _rx(pattern: str, *keys: str) -> Rule:
    return Rule(pattern, *keys)


#: (short benefit name, pattern, premium?) in display order. Premium benefits are the ones
#: beyond the statutory/core package; pass 2 counts them for ``benefits_level``.
BENEFITS: list[tuple[str, Rule, bool]] = [
    (
        "health insurance",
        _rx(
            r"\b(?:health|medical)(?:\s+and\s+\w+)?\s+(?:insurance|coverage|care|plans?|benefits)\b|\bhealthcare\s+(?:coverage|plans?|benefits)\b|\bfull\s+health\b|\bmedical,\s|\bmutuelle\b|\bhealth,\s+(?:vision|dental)\b",
            "health",
            "medical",
            "mutuelle",
        ),
        False,
    ),
    ("dental", _rx(r"\bdental\b", "dental"), False),
    (
        "vision",
        _rx(
            r"\bvision\s+(?:insurance|plans?|coverage)\b|\b(?:dental|health),?\s+(?:and\s+)?vision\b|\bvision,\s+(?:and\s+)?dental\b",
            "vision",
        ),
        False,
    ),
    (
        "life insurance",
        _rx(
            r"\blife\s+(?:insurance|assurance)\b|\bpr[ée]voyance\b",
            "life",
            "prévoyance",
            "prevoyance",
        ),
        False,
    ),
    (
        "disability insurance",
        _rx(
            r"\bdisability\s+(?:insurance|benefits|coverage)\b|\blife\s+and\s+disability\b|\bAD&D\b",
            "disability",
            "ad&d",
        ),
        False,
    ),
    ("401(k)", _rx(r"\b401\s*\(?k\)?", "401"), False),
    (
        "pension / retirement plan",
        _rx(
            r"\bpension\b|\bretirement\s+(?:plans?|savings|planning|benefits)\b|\bPERCOL\b",
            "pension",
            "retirement",
            "percol",
        ),
        False,
    ),
    (
        "paid time off",
        _rx(
            r"\bpaid\s+time\s+off\b|\bPTO\b|\bpaid\s+(?:holidays|vacation|leave)\b|\bvacation\s+(?:time|days|policy)\b|\bcong[ée]s\s+pay[ée]s\b|\bRTT\b",
            "paid",
            "pto",
            "vacation",
            "congés",
            "conges",
            "rtt",
        ),
        False,
    ),
    ("parental leave", _rx(r"\b(?:parental|maternity|paternity|family)\s+leave\b", "leave"), True),
    (
        "tuition reimbursement",
        _rx(
            r"\btuition\s+(?:reimbursement|assistance)\b|\beducation\s+assistance\b",
            "tuition",
            "education assistance",
        ),
        True,
    ),
    (
        "learning budget",
        _rx(
            r"\b(?:learning|training|education|development)\s+(?:budget|stipend|allowance|fund)\b|\bprofessional\s+development\s+(?:budget|stipend|allowance|fund)\b",
            "budget",
            "stipend",
            "allowance",
            "fund",
        ),
        True,
    ),
    (
        "wellness program",
        _rx(
            r"\bwellness\s+(?:programs?|stipend|benefits)\b|\bwell-?being\s+(?:programs?|initiatives)\b|\bgym\s+(?:membership|stipend)\b",
            "wellness",
            "well-being",
            "wellbeing",
            "gym",
        ),
        True,
    ),
    (
        "equity",
        _rx(
            r"\+\s*equity\b|\bequity\s+(?:package|grants?|compensation|awards?|stake|options?)\b|\bstock\s+(?:options?|purchase|grants?|awards?|units?|plan)\b|\bRSUs?\b|\bESPP\b|\bshare\s+options?\b|\bequity\s+stock\b|\bequity,\s+and\s+(?:full\s+)?benefits\b",
            "equity",
            "stock",
            "rsu",
            "espp",
            "share option",
        ),
        True,
    ),
    (
        "bonus",
        _rx(
            r"\bbonus(?:es)?\b|\bincentive\s+(?:compensation|programs?|plans?)\b|\bprime\s+(?:annuelle|d['’]anciennet[ée])\b|\bpart\s+variable\b",
            "bonus",
            "incentive",
            "prime annuelle",
            "prime d",
            "part variable",
        ),
        True,
    ),
    (
        "profit sharing",
        _rx(
            r"\bprofit[- ]sharing\b|\bint[ée]ressement\b|\bparticipation\s+aux\s+b[ée]n[ée]fices\b",
            "profit",
            "intéressement",
            "interessement",
        ),
        True,
    ),
    (
        "employee savings plan",
        _rx(r"\b[ée]pargne\s+salariale\b|\bPEG\b", "épargne", "epargne", "peg"),
        True,
    ),
    (
        "commuter benefits",
        _rx(r"\bcommuter\s+benefits\b|\btransit\s+benefits\b", "commuter", "transit"),
        True,
    ),
    (
        "employee assistance program",
        _rx(r"\bemployee\s+assistance\b", "employee assistance"),
        False,
    ),
    (
        "flexible hours",
        _rx(
            r"\bflexible\s+(?:hours|working\s+hours|schedule|work\s+arrangements?|working\s+arrangements?)\b",
            "flexible",
        ),
        True,
    ),
    (
        "home office stipend",
        _rx(
            r"\bhome\s+office\s+(?:stipend|allowance|budget)\b|\bremote\s+work\s+stipend\b",
            "home office",
            "stipend",
        ),
        True,
    ),
    (
        "company restaurant / meals",
        _rx(
            r"\brestaurant\s+d['’]entreprise\b|\bfree\s+(?:meals|lunch)\b|\btickets?\s+restaurant\b|\bmeal\s+(?:vouchers|allowance)\b",
            "restaurant",
            "meal",
            "lunch",
        ),
        True,
    ),
    (
        "paid volunteering days",
        _rx(r"\bpaid\s+volunteering\b|\bvolunteer(?:ing)?\s+days\b", "volunteer"),
        True,
    ),
]
_NO_BENEFITS = _rx(
    r"\bno\s+benefits\s+(?:are\s+)?(?:provided|offered|included)\b|\bwithout\s+benefits\b",
    "benefits",
)
_EQUITY = next(rule for name, rule, _ in BENEFITS if name == "equity")
_PTO: list[tuple[str, Rule]] = [
    (
        "unlimited",
        _rx(
            r"\bunlimited\s+(?:pto|vacation|paid\s+time\s+off|time\s+off|holidays?|leave)\b",
            "unlimited",
        ),
    ),
    (
        "generous",
        _rx(
            r"\bgenerous\s+(?:pto|vacation|paid\s+time\s+off|time\s+off|holidays?|leave)\b|\bflexible\s+(?:vacation|pto|time\s+off)\b|\b(?:2[5-9]|3\d)\s+days\s+(?:of\s+)?(?:paid\s+)?(?:holiday|vacation|annual\s+leave|pto)\b",
            "generous",
            "flexible",
            "days",
        ),
    ),
    (
        "standard",
        _rx(
            r"\bpaid\s+time\s+off\b|\bPTO\b|\bvacation\s+(?:days|time)\b|\bpaid\s+(?:holidays|vacation)\b|\bcong[ée]s\s+pay[ée]s\b",
            "paid",
            "pto",
            "vacation",
            "congés",
            "conges",
        ),
    ),
]
_LEARNING = _rx(
    r"\btuition\s+(?:reimbursement|assistance)\b|\beducation\s+assistance\b|\b(?:learning|training|education|development)\s+(?:budget|stipend|allowance|fund)\b|\bcertification\s+(?:reimbursement|costs?\s+covered)\b",
    "tuition",
    "education",
    "budget",
    "stipend",
    "allowance",
    "fund",
    "certification",
)
_CONFERENCE = _rx(
    r"\bconference\s+(?:budget|attendance|tickets|allowance|travel)\b|\battend\s+(?:industry\s+|tech\s+)?conferences\b",
    "conference",
)
_HARDWARE = _rx(
    r"\bchoice\s+of\s+(?:laptop|hardware|equipment|computer|os|machine)\b|\bchoose\s+your\s+(?:own\s+)?(?:laptop|equipment|hardware|computer)\b|\bmac(?:book)?\s+or\s+(?:pc|windows|linux)\b",
    "choice",
    "choose",
    "mac",
)
_LLM = [
    Rule(
        r"\bLLMs?\b|\bRAG\b|\bGPT(?:-?\d\w*)?\b|\bGenAI\b|\bGen\s+AI\b",
        "llm",
        "=RAG",
        "gpt",
        "genai",
        "gen ai",
        flags=0,
    ),
    _rx(
        r"\blarge\s+language\s+models?\b|\bgenerative\s+ai\b|\bretrieval[- ]augmented\b|\bprompt\s+engineering\b"
        r"|\bchatgpt\b|\bcopilot\b|\blangchain\b|\bllamaindex\b|\bvector\s+(?:database|store|db|search)s?\b"
        r"|\bfoundation\s+models?\b|\bopenai\b|\bagentic\b|\bai\s+agents?\b|\bhugging\s?face\b"
        r"|\bIA\s+g[ée]n[ée]rative\b|\bIA\s+generativa\b|\bamazon\s+bedrock\b",
        "language model",
        "generative",
        "retrieval",
        "prompt",
        "chatgpt",
        "copilot",
        "langchain",
        "llamaindex",
        "vector",
        "foundation model",
        "openai",
        "agentic",
        "ai agent",
        "hugging",
        "ia g",
        "amazon bedrock",
    ),
]
_FEATURE_STORE = [
    _rx(
        r"\bfeature\s+stores?\b|\btecton\b|\bhopsworks\b|\bfeatureform\b",
        "feature",
        "tecton",
        "hopsworks",
    ),
    Rule(r"\bFeast\b", "feast", flags=0),
]
_TEAM = _rx(
    r"\b(?:join|within|part\s+of|member\s+of|work\s+(?:in|on|with))\s+(?:our|the|a|an)\s+(?:[\w&/-]+\s+){0,5}?team\b|\bteam\s+of\s+\d+|\b[ée]quipe\b|\bequipo\b",
    "team",
    "équipe",
    "equipe",
    "equipo",
)
_COMPANY = re.compile(
    r"\b(?:is|est|es|are)\s+(?:a|an|un|une|una|the|le|la|one\s+of)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Located:
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class BenefitFacts:
    benefits: list[Located]
    none_offered: bool
    equity: Located | None
    pto: Located | None
    learning_budget: bool
    conference_budget: bool
    hardware_choice: bool
    llm: Located | None
    feature_store: bool
    team_text: str | None
    company_text: str | None


def _company_sentence(doc: Doc, company: str | None) -> str | None:
    """The first sentence that says what the company is ("X is a leading provider of ...")."""
    for match in _COMPANY.finditer(doc.text, 0, min(len(doc.text), 1500)):
        left, right = doc.clause_bounds(match.start(), match.end(), before=160, after=220)
        sentence = doc.text[left:right]
        if len(sentence) < 40:
            continue
        if company and company.split()[0].lower() in sentence.lower():
            return sentence
        if company is None:
            return sentence
    return None


def _located_benefits(doc: Doc) -> list[Located]:
    """Each benefit named, located where the benefits are listed.

    A benefit word can also appear in the company blurb ("commercial health plans" at a
    health insurer). Benefits are listed together, so among a benefit's mentions the one
    nearest the middle of all benefit mentions is taken as its place (and its quote).
    """
    mentions = [(name, list(islice(rule.finditer(doc), 6))) for name, rule, _ in BENEFITS]
    firsts = sorted(ms[0].start() for _, ms in mentions if ms)
    if not firsts:
        return []
    centre = firsts[len(firsts) // 2]
    located = []
    for name, matches in mentions:
        if matches:
            best = min(matches, key=lambda m: abs(m.start() - centre))
            located.append(Located(name, best.start(), best.end()))
    return located


def extract_benefits(doc: Doc, company: str | None) -> BenefitFacts:
    """All benefit-like facts in one scan (see the module docstring for the traps)."""
    found = _located_benefits(doc)
    equity = _EQUITY.search(doc)
    pto = next(((v, m) for v, p in _PTO if (m := p.search(doc)) is not None), None)
    llm = earliest(_LLM, doc)
    team = _TEAM.search(doc)
    return BenefitFacts(
        benefits=found,
        none_offered=_NO_BENEFITS.search(doc) is not None,
        equity=Located("equity", equity.start(), equity.end()) if equity else None,
        pto=Located(pto[0], pto[1].start(), pto[1].end()) if pto else None,
        learning_budget=_LEARNING.search(doc) is not None,
        conference_budget=_CONFERENCE.search(doc) is not None,
        hardware_choice=_HARDWARE.search(doc) is not None,
        llm=Located("llm", llm.start(), llm.end()) if llm else None,
        feature_store=earliest(_FEATURE_STORE, doc) is not None,
        team_text=doc.quote(team.start(), team.end(), 120, 200) if team else None,
        company_text=_company_sentence(doc, company),
    )


def is_premium(name: str) -> bool:
    """Is the named benefit beyond the core package (for ``benefits_level``)?"""
    return any(n == name and premium for n, _, premium in BENEFITS)
