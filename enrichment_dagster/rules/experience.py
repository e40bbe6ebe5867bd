"""Years of experience asked for.

Forms read: "5+ years", "3-5 years", "2 to 4 years", "at least 7 years", "minimum of 4
years", "five (5) years", "Seven or more years", "Experience Required: 10+ Years",
"5 ans d'expérience", "5+ años de experiencia". A figure counts only when experience is
what it measures ("years of experience", "years working with", "Experience: 5 years");
"1 year of service with us", "for more than 20 years" (company history) and "a 4-year
degree" do not.

Postings often list several figures ("4+ years overall", "2+ years of Python"). The
answer is the largest minimum among required mentions, which is the overall requirement
in practice; figures in a "Preferred" clause or section are used only when nothing else
is stated. A range's upper bound becomes the maximum; "N+" and "at least N" leave it open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enrichment_dagster.rules.text import NUM, Doc, Rule, number_value

_YEARS = r"(?:years?|yrs?|ans|años|anos|jahre)"
_FIGURE = Rule(
    rf"(?<![\w.$€£-])(?P<low>{NUM})(?:\s*\(\d{{1,2}}\))?\s*(?P<plus>\+|\s*plus\b)?"
    rf"(?:\s*(?:-|–|—|to|à|a)\s*(?P<high>{NUM})(?:\s*\(\d{{1,2}}\))?\s*\+?)?"
    rf"\s*(?P<more>or\s+more\s+|or\s+greater\s+|ou\s+plus\s+)?{_YEARS}\b",
    "year",
    "yr",
    "ans",
    "años",
    "anos",
    "jahre",
    reach=60,
)
_EXPERIENCE_AFTER = re.compile(
    r"^['’]?\s*(?:of\s+|d['’]\s*|de\s+)?(?:\w+[\s,/&-]+){0,6}?(?:experience|exp\b|expérience|experiencia|erfahrung)"
    r"|^['’]?\s*(?:of\s+)?(?:(?:professional|relevant|hands[- ]on|industry|related|proven|progressive|work)\s+)*"
    r"(?:working|developing|building|designing|using|in\s+(?:a|an|the)?\s*\w+|as\s+an?\b)",
    re.IGNORECASE,
)
_EXPERIENCE_BEFORE = re.compile(
    r"(?:experience|expérience|experiencia)\s*(?:required|requirement|level|needed)?\s*[:\-–]?\s*"
    r"(?:(?:minimum|min\.?|at\s+least|of)\s*[:\-–]?\s*)?$"
    r"|(?:minimum|at\s+least)\s*[:\-–]?\s*$",
    re.IGNORECASE,
)
_NOT_EXPERIENCE = re.compile(
    r"^\s*(?:of\s+)?(?:service|tenure|history|old|in\s+business|warranty|guarantee|contract|program|degree|course|age)\b"
    r"|^[- ](?:year|yr)",
    re.IGNORECASE,
)
_COMPANY_BEFORE = re.compile(
    r"(?:\bfor|\bover|\bsince|\bthan|\bwith|\bafter)\s*$|\bwe\s+(?:have\s+)?(?:\w+\s+){0,3}$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class YearsMention:
    low: float
    high: float | None
    start: int
    end: int
    optional: bool


@dataclass(frozen=True)
class ExperienceFacts:
    minimum: float | None
    maximum: float | None
    text: str | None
    mention: YearsMention | None


def _mention(doc: Doc, match: re.Match[str]) -> YearsMention | None:
    low = number_value(match.group("low"))
    if low is None or low <= 0 or low > 30:
        return None
    high = number_value(match.group("high")) if match.group("high") else None
    if high is not None and (high <= low or high > 40):
        return None
    after = doc.text[match.end() : match.end() + 70]
    before = doc.text[max(0, match.start() - 45) : match.start()]
    if _NOT_EXPERIENCE.match(after):
        return None
    stated = _EXPERIENCE_AFTER.match(after) or _EXPERIENCE_BEFORE.search(before)
    if not stated:
        return None
    if (
        not _EXPERIENCE_BEFORE.search(before)
        and _COMPANY_BEFORE.search(before)
        and "experience" not in after.lower()[:40]
    ):
        return None
    open_ended = bool(match.group("plus") or match.group("more"))
    return YearsMention(
        low,
        None if open_ended else high,
        match.start(),
        match.end(),
        doc.is_optional(match.start(), match.end()),
    )


def extract_experience(doc: Doc) -> ExperienceFacts:
    """Minimum and maximum years asked for (see the module docstring for the choice)."""
    mentions = [m for match in _FIGURE.finditer(doc) if (m := _mention(doc, match)) is not None]
    if not mentions:
        return ExperienceFacts(None, None, None, None)
    required = [m for m in mentions if not m.optional] or mentions
    best = required[0]
    for mention in required[1:]:
        if mention.low > best.low:
            best = mention
    return ExperienceFacts(best.low, best.high, doc.quote(best.start, best.end, 80, 140), best)
