"""Work authorization: visa sponsorship, citizenship and security clearance as stated.

Why phrase patterns rather than keywords: the words "citizenship" and "authorization"
appear in almost every US posting's equal-opportunity boilerplate ("without regard to ...
citizenship") and in background-check notices ("authorization and disclosure
requirements"). Only requirement phrasings count: "must be a U.S. citizen", "authorized to
work in", "will not sponsor", "TS/SCI ... required".

Decision order for sponsorship: an explicit refusal ("will not provide sponsorship",
"cannot manage visas", "without sponsorship") beats an offer, which beats a bare
authorization requirement. A clearance does not by itself say anything about visas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enrichment_dagster.rules.text import Doc, Rule, earliest

_NEG = r"(?:will\s+not|won['’]t|cannot|can\s*not|can['’]t|do\s+not|does\s+not|don['’]t|doesn['’]t|is\s+not|are\s+not|not\s+able\s+to|unable\s+to|not\s+in\s+a\s+position\s+to|no\s+longer)"
_WILL_NOT = [
    Rule(
        _NEG + r"\s+(?:\w+\s+){0,3}?(?:sponsor\w*|visas?|h-?1b)\b", "sponsor", "visa", "h1b", "h-1b"
    ),
    Rule(r"\bno\s+(?:visa\s+|h-?1b\s+)?sponsorship\b", "sponsorship"),
    Rule(
        r"\bsponsorship\s+(?:is\s+|will\s+)?not\s+(?:be\s+)?(?:available|offered|provided|possible|considered)\b",
        "sponsorship",
    ),
    Rule(
        r"\bwithout\s+(?:the\s+need\s+for\s+|requiring\s+|any\s+)?(?:current\s+or\s+future\s+)?(?:visa\s+|employer\s+|company\s+)?sponsorship\b",
        "sponsorship",
    ),
    Rule(r"\bnot\s+(?:be\s+)?eligible\s+for\s+(?:visa\s+)?sponsorship\b", "sponsorship"),
    Rule(
        r"\b(?:sin|no\s+ofrecemos)\s+patrocinio\b|\bpas\s+de\s+(?:sponsoring|parrainage)\b",
        "patrocinio",
        "sponsoring",
        "parrainage",
    ),
]
_WILL = [
    Rule(
        r"\b(?:visa|h-?1b|immigration)\s+sponsorship\s+(?:is\s+)?(?:available|offered|provided|possible|supported)\b",
        "sponsorship",
    ),
    Rule(
        r"\b(?:will|can|able\s+to|happy\s+to|open\s+to|willing\s+to)\s+(?:\w+\s+){0,2}?sponsor(?:ing)?\b",
        "sponsor",
    ),
    Rule(r"\bwe\s+(?:\w+\s+)?sponsor\s+(?:visas?|h-?1b|work\s+permits?)\b", "sponsor"),
    Rule(r"\bsponsorship\s+(?:is\s+)?available\b", "sponsorship"),
    Rule(
        r"\bh-?1b\s+(?:transfers?|holders?|candidates?|visa\s+holders?)\s+(?:are\s+)?(?:welcome|accepted|considered)\b",
        "h1b",
        "h-1b",
    ),
]
_AUTHORIZED = [
    Rule(r"\b(?:legally\s+)?authori[sz]ed\s+to\s+work\b", "authori"),
    Rule(
        r"\b(?:must|should|need\s+to)\s+(?:\w+\s+){0,2}?(?:be\s+)?(?:legally\s+)?eligible\s+to\s+work\b",
        "eligible",
    ),
    Rule(r"\beligible\s+to\s+work\s+(?:in|and\s+remain|for)\b", "eligible"),
    Rule(
        r"\bwork\s+(?:authori[sz]ation|permit|visa)\s+(?:is\s+)?(?:required|needed|mandatory)\b",
        "authori",
        "permit",
        "visa",
    ),
    Rule(
        r"\b(?:must|need\s+to)\s+(?:have|hold|possess)\s+(?:a\s+|the\s+)?(?:valid\s+|current\s+)?(?:work\s+(?:authori[sz]ation|permit|visa)|right\s+to\s+work)\b",
        "authori",
        "permit",
        "visa",
        "right to work",
    ),
    Rule(
        r"\bright\s+to\s+work\s+in\b|\b(?:have|has|hold|holds|with)\s+(?:\w+\s+){0,2}?right\s+to\s+work\b(?![- ]state)",
        "right to work",
    ),
]
_CITIZEN = [
    Rule(
        r"\bmust\s+(?:\w+\s+){0,2}?be\s+(?:a\s+)?(?:u\.?s\.?|us|united\s+states|american|eu|european|uk|british|canadian)\s+citizens?\b",
        "citizen",
    ),
    Rule(
        r"\b(?:u\.?s\.?|us|united\s+states)\s+citizenship\s+(?:is\s+)?(?:required|mandatory|needed)\b",
        "citizenship",
    ),
    Rule(r"\b(?:u\.?s\.?|us)\s+citizens?\s+only\b|\bcitizens?\s+only\b", "citizen"),
    Rule(r"\brequires?\s+(?:u\.?s\.?\s+|us\s+)?citizenship\b", "citizenship"),
]
_GREEN_CARD = re.compile(
    r"\b(?:green\s+card|permanent\s+residents?|\bgc\s+holders?)\b", re.IGNORECASE
)
_CLEARANCE = [
    Rule(r"\bTS\s*/\s*SCI\b", "sci", flags=0),
    Rule(r"\btop[- ]secret\b", "secret"),
    Rule(
        r"\b(?:secret|security|government|dod|active|public\s+trust|sc|dv|nv1|nv2|baseline|ts)\s+clearance\b",
        "clearance",
    ),
    Rule(r"\bclearance\s+(?:is\s+)?(?:required|preferred|needed|a\s+plus)\b", "clearance"),
    Rule(
        r"\b(?:obtain|maintain|hold|possess)\s+(?:an?\s+)?(?:active\s+)?(?:security\s+)?clearance\b",
        "clearance",
    ),
    Rule(
        r"\b(?:SC|DV)\s+cleared\b|\bhabilitation\s+(?:secret|défense|defense)\b|\bhabilitable\b",
        "cleared",
        "habilita",
    ),
    Rule(r"\bpolygraph\b|\bwith\s+poly\b|\bfull[- ]scope\s+poly\b", "poly"),
]
_OPTIONAL = re.compile(
    r"\b(?:preferred|a\s+plus|desired|desirable|nice\s+to\s+have|ideally|bonus)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Found:
    """A rule's answer with where it was read."""

    value: str
    start: int
    end: int


@dataclass(frozen=True)
class AuthorizationFacts:
    visa: Found | None
    citizenship: Found | None  # value: us_citizen_only | us_or_gc
    clearance: Found | None  # value: required | preferred


def _visa(doc: Doc) -> Found | None:
    for value, patterns in (("will_not_sponsor", _WILL_NOT), ("will_sponsor", _WILL)):
        match = earliest(patterns, doc)
        if match is not None:
            return Found(value, match.start(), match.end())
    for match in sorted((m for p in _AUTHORIZED for m in p.finditer(doc)), key=lambda m: m.start()):
        if not re.search(
            r"right[- ]to[- ]work\s+state", doc.lower[match.start() : match.end() + 10]
        ):
            return Found("must_be_authorized", match.start(), match.end())
    return None


def _citizenship(doc: Doc) -> Found | None:
    match = earliest(_CITIZEN, doc)
    if match is None:
        return None
    clause = doc.window(match.start(), match.end(), before=60, after=80)
    value = "us_or_gc" if _GREEN_CARD.search(clause) else "us_citizen_only"
    return Found(value, match.start(), match.end())


def _clearance(doc: Doc) -> Found | None:
    match = earliest(_CLEARANCE, doc)
    if match is None:
        return None
    local = doc.window(match.start(), match.end(), before=40, after=60)
    value = "preferred" if _OPTIONAL.search(local) and "required" not in local else "required"
    return Found(value, match.start(), match.end())


def extract_authorization(doc: Doc) -> AuthorizationFacts:
    """Sponsorship, citizenship and clearance as the text states them.

    A citizenship requirement is itself a requirement of authorization, so when no
    sponsorship sentence exists it yields ``must_be_authorized``.
    """
    visa = _visa(doc)
    citizenship = _citizenship(doc)
    if visa is None and citizenship is not None:
        visa = Found("must_be_authorized", citizenship.start, citizenship.end)
    return AuthorizationFacts(visa, citizenship, _clearance(doc))
