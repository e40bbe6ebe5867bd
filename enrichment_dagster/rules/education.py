"""Education asked for: the lowest degree level, whether it is required, the field.

Levels: PhD/doctorate -> PHD; Master's, MS/MSc, MBA, MEng, a French engineering-school
diploma or Bac+4/5 -> MASTERS; Bachelor's, BS/BA/BSc/BTech, an undergraduate or
university degree, Bac+3, licenciatura -> BACHELORS; Associate's, Bac+2, BTS/DUT ->
ASSOCIATES; high school, GED -> HIGH_SCHOOL; bootcamp -> BOOTCAMP. The answer is the
lowest level named, because that is the bar a candidate must clear ("Bachelor's required;
Master's preferred" is BACHELORS).

Traps: "Master Data Management", "Scrum Master", "MS Office"/"MS products" (Microsoft),
"BA" as business analyst. The short forms therefore count only in a degree context
("BS in Mechanical Engineering", "BS/MS", "MS degree").

Requirement, judged on the lowest level's own clause: "or equivalent experience" ->
or_equivalent; "preferred"/"a plus" -> preferred; otherwise required (a degree listed
under qualifications is a requirement). A degree asked for without a level ("formation
supérieure", "degree in Computer Science") gives a requirement and no level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enrichment_dagster.rules.text import Doc, Rule

_ORDER = {"HIGH_SCHOOL": 0, "BOOTCAMP": 1, "ASSOCIATES": 2, "BACHELORS": 3, "MASTERS": 4, "PHD": 5}
_APOS = r"(?:'|’)?s?"
_LEVELS: list[tuple[str, Rule]] = [
    (
        "PHD",
        Rule(
            r"\bph\.?\s?d\b\.?|\bdoctorate\b|\bdoctoral\b|\bdoctorat\b|\bdoctorado\b",
            "ph",
            "doctor",
        ),
    ),
    (
        "MASTERS",
        Rule(
            rf"\bmaster{_APOS}(?!\s+data\b)(?=\s+(?:degree|program|programme|level|in\b|of\b|or\b|/|,|\(|preferred|required|diploma)|[’']s\b)"
            r"|\bmaster[’']s\b|\bmasters?\s+degree\b|\bmba\b|\bm\.?eng\b|\bmsc\b|\bgraduate\s+degree\b|\bpost-?graduate\b|\bmaestr[ií]a\b|\bmestrado\b"
            r"|\bbac\s*\+\s*[45]\b|\b(?:[ée]cole|dipl[ôo]me)\s+d['’]\s*ing[ée]nieur|\bing[ée]nieur\s+dipl[ôo]m[ée]",
            "master",
            "mba",
            "m.eng",
            "meng",
            "msc",
            "graduate",
            "postgraduate",
            "post-graduate",
            "maestr",
            "mestrado",
            "bac",
            "école",
            "ecole",
            "diplôme",
            "diplome",
            "ingénieur",
            "ingenieur",
        ),
    ),
    (
        "MASTERS",
        Rule(
            r"(?<![\w/])M\.?S\.?(?=\s+(?:in|degree)\b|/|\s+or\b)|(?<=/)MS\b|\bM\.S\.(?=\s)",
            "=MS",
            "=M.S",
            "=M.S",
            flags=0,
        ),
    ),
    (
        "BACHELORS",
        Rule(
            rf"\bbachelor{_APOS}\b|\bundergraduate\s+degree\b|\b(?:4|four)[- ]year\s+(?:undergraduate\s+|college\s+|university\s+)?degree\b"
            r"|\buniversity\s+degree\b|\bbac\s*\+\s*3\b|\blicenciatura\b|\bbacharelado\b|\bb\.?tech\b|\bbsc\b",
            "bachelor",
            "undergraduate",
            "4-year",
            "4 year",
            "four-year",
            "four year",
            "university",
            "bac",
            "licenciatura",
            "bacharelado",
            "b.tech",
            "btech",
            "bsc",
        ),
    ),
    (
        "BACHELORS",
        Rule(
            r"(?<![\w/])B\.?[SA]\.?(?=\s+(?:in|degree)\b|/|\s+or\b)|\bB\.S\.(?=\s)|(?<=/)B[SA]\b",
            "=BS",
            "=BA",
            "=B.S",
            "=B.A",
            flags=0,
        ),
    ),
    (
        "ASSOCIATES",
        Rule(
            rf"\bassociate{_APOS}\s+(?:degree|of\s+(?:science|arts))\b|\bbac\s*\+\s*2\b|\bBTS\b|\bDUT\b",
            "associate",
            "bac",
            "=BTS",
            "=DUT",
        ),
    ),
    (
        "HIGH_SCHOOL",
        Rule(
            r"\bhigh\s+school\b|\bGED\b|\bsecondary\s+school\b",
            "high school",
            "=GED",
            "secondary school",
        ),
    ),
    ("BOOTCAMP", Rule(r"\bbootcamp\b|\bboot\s+camp\b", "boot")),
]
_GENERIC = Rule(
    r"\bformation\s+sup[ée]rieure\b|\bdipl[ôo]m[ée]\s+d['’]une?\b|\b(?:a\s+)?degree\s+in\b|\bcollege\s+degree\b"
    r"|\btitulaci[óo]n\s+universitaria\b",
    "formation",
    "diplôm",
    "diplom",
    "degree",
    "titulaci",
)
_EQUIVALENT = re.compile(
    r"\bequivalent\s+(?:\w+\s+){0,2}experience\b|\bor\s+equivalent\b(?!\s+(?:degree|foreign))"
    r"|\bequivalent\s+combination\b|\bin\s+lieu\s+of\s+(?:a\s+)?degree\b|\bor\s+relevant\s+experience\b",
    re.IGNORECASE,
)
_PREFERRED = re.compile(
    r"\b(?:preferred|preferably|a\s+plus|desired|desirable|nice\s+to\s+have|ideally|appr[ée]ci[ée])\b",
    re.IGNORECASE,
)
_LABEL_BEFORE = re.compile(r"\b(?P<label>preferred|minimum|required|requis)\s*:\s*$", re.IGNORECASE)
_AREAS: list[tuple[str, re.Pattern[str]]] = [
    (
        "Computer Science",
        re.compile(
            r"\bcomputer\s+science\b|\binformatique\b|\bcomputing\b|\bciencias\s+de\s+la\s+computaci[óo]n\b",
            re.IGNORECASE,
        ),
    ),
    ("Computer Engineering", re.compile(r"\bcomputer\s+engineering\b", re.IGNORECASE)),
    ("Software Engineering", re.compile(r"\bsoftware\s+engineering\b", re.IGNORECASE)),
    (
        "Data Science",
        re.compile(r"\bdata\s+(?:science|engineering|analytics)\b|\bbig\s+data\b", re.IGNORECASE),
    ),
    (
        "Information Technology",
        re.compile(r"\binformation\s+(?:technology|systems)\b|\bMIS\b|\b(?<=, )IT\b"),
    ),
    ("Electrical Engineering", re.compile(r"\belectrical\s+engineering\b", re.IGNORECASE)),
    (
        "Mathematics/Statistics",
        re.compile(
            r"\bmath(?:ematics|s)?\b|\bstatistics\b|\bapplied\s+math\b|\bmath[ée]matiques\b|\bstatistiques\b",
            re.IGNORECASE,
        ),
    ),
    ("Physics", re.compile(r"\bphysics\b", re.IGNORECASE)),
    ("Engineering", re.compile(r"\bengineering\b|\bing[ée]nieur\b", re.IGNORECASE)),
    ("Business", re.compile(r"\bbusiness\b|\bfinance\b|\beconomics\b", re.IGNORECASE)),
]


@dataclass(frozen=True)
class DegreeMention:
    level: str | None
    start: int
    end: int


@dataclass(frozen=True)
class EducationFacts:
    level: str | None
    requirement: str
    area: str | None
    text: str | None
    span: tuple[int, int] | None


def _mentions(doc: Doc) -> list[DegreeMention]:
    found: dict[int, DegreeMention] = {}
    for level, pattern in _LEVELS:
        for match in pattern.finditer(doc):
            if match.start() not in found:
                found[match.start()] = DegreeMention(level, match.start(), match.end())
    return [found[k] for k in sorted(found)]


def _requirement(doc: Doc, mention: DegreeMention, next_start: int | None) -> str:
    label = _LABEL_BEFORE.search(doc.text[max(0, mention.start - 25) : mention.start])
    if label is not None:
        return "preferred" if label.group("label").lower() == "preferred" else "required"
    _, clause_end = doc.clause_bounds(mention.start, mention.end, before=0, after=160)
    stop = clause_end if next_start is None else min(clause_end, next_start)
    tail = doc.text[mention.end : stop]
    tail = _LABEL_BEFORE.sub("", tail)
    if _EQUIVALENT.search(tail):
        return "or_equivalent"
    if _PREFERRED.search(tail):
        return "preferred"
    return "required"


def _area(doc: Doc, mention: DegreeMention) -> str | None:
    left, right = doc.clause_bounds(mention.start, mention.end, before=0, after=140)
    window = doc.text[mention.end : right]
    best: tuple[int, str] | None = None
    for name, pattern in _AREAS:
        match = pattern.search(window)
        if match is not None and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    return best[1] if best else None


def extract_education(doc: Doc) -> EducationFacts:
    """Lowest level, its requirement type, its field and its sentence (see module doc)."""
    mentions = _mentions(doc)
    if not mentions:
        generic = _GENERIC.search(doc)
        if generic is None:
            return EducationFacts(None, "not_mentioned", None, None, None)
        mention = DegreeMention(None, generic.start(), generic.end())
        return EducationFacts(
            None,
            _requirement(doc, mention, None),
            _area(doc, mention),
            doc.quote(generic.start(), generic.end(), 40, 160),
            (generic.start(), generic.end()),
        )
    lowest_index = min(range(len(mentions)), key=lambda i: (_ORDER[mentions[i].level or "PHD"], i))
    lowest = mentions[lowest_index]
    following = [m.start for m in mentions if m.start > lowest.start]
    requirement = _requirement(doc, lowest, following[0] if following else None)
    return EducationFacts(
        lowest.level,
        requirement,
        _area(doc, lowest),
        doc.quote(lowest.start, lowest.end, 60, 160),
        (lowest.start, lowest.end),
    )
