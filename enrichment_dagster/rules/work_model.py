"""Work model, employment type and contract terms.

Work model. Only statements about *this job* count: "hybrid" also names cloud setups,
advisors ("hybrid RIAs") and skills ("Hybrid Collaboration techniques"), and "remote"
appears in "does not apply to Remote or fully Onsite roles". So each model has phrase
cues, negated cues are dropped, and the models are ranked remote > hybrid > onsite,
because (as the labelling convention says) a role that offers remote among its options
is a remote role, and a hybrid schedule includes office days. Loose remote wording
("work from home", "remote work") also describes hybrid schedules, so it ranks below
hybrid. Title and Silver location
("(Remote)", "Hybrid") count as statements too; the text wins over them.

Employment type. The title decides internships ("Stage", "Alternance", "Intern"); then an
explicit statement in the text ("Job Type: Full Time", "(Full-Time)", "tiempo completo",
"contract role"); then Silver's ``job_employment_type`` (a structured fact of the
posting, used when the text is silent). Benefit boilerplate such as "full-time, permanent
employees" is not a statement about the role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enrichment_dagster.rules.text import Doc, Rule


@dataclass(frozen=True)
class Cue:
    """A rule's answer; ``start``/``end`` index the description, or are -1 when the answer
    comes from the title or a Silver field."""

    value: str
    start: int = -1
    end: int = -1
    origin: str = "text"  # text | title | location | silver


def _rx(pattern: str, *keys: str) -> Rule:
    return Rule(pattern, *keys)


#: "remote/onsite" -- a remote option, unless it spells out a hybrid mix (see ``_cue``).
_REMOTE_OR_ONSITE = _rx(r"\bremote\s*(?:,|or|and|/)\s*(?:on-?site|in-office)", "remote")
_REMOTE = [
    _rx(
        r"\b(?:fully|full|100\s?%|completely|entirely|full[- ]time|permanently|totally)\s*[- ]?remote\b",
        "remote",
    ),
    _rx(
        r"\bremote[- ](?:first|only|role|position|job|opportunity|based|friendly|eligible)\b",
        "remote",
    ),
    _rx(r"\bthis\s+(?:is\s+an?\s+|role\s+is\s+|position\s+is\s+)?(?:fully\s+)?remote\b", "remote"),
    _rx(r"\bremote(?:ly)?\s+(?:from\s+)?anywhere\b", "remote"),
    _rx(r"\bremote\s*,\s*(?:us|usa|united\s+states|uk|europe|emea|latam|canada)\b", "remote"),
    _rx(r"\bremote\s+(?:options?|arrangements?|possible|available)\b", "remote"),
    _rx(r"\bremote\s*(?:,|or|and|/)\s*hybrid", "remote"),
    _REMOTE_OR_ONSITE,
    _rx(r"\b(?:hybrid|on-?site)\s*(?:,|or|and|/)\s*(?:and\s+|or\s+)?remote\b", "remote"),
    _rx(
        r"\bremot[oa]\b|\bteletrabajo\b|\ba\s+distancia\b|\bda\s+remoto\b|\bt[ée]l[ée]travail\s+(?:complet|total|[àa]\s+100)",
        "remot",
        "teletrabajo",
        "distancia",
        "télétravail",
        "teletravail",
    ),
    Rule(
        r"(?:[:|(\-–—/,]\s*|\b[A-Z][a-zA-Z]+\s+)Remote\b(?!\s+(?:Sensing|Monitoring|Access|Desktop|Support|Patient|Control))",
        "remote",
        flags=0,
    ),
]
# Said of hybrid schedules too ("two days working from home"): only used without a hybrid cue.
_REMOTE_WEAK = [
    _rx(
        r"\b(?:work|working)\s+(?:from|at)\s+home\b|\bwfh\b|\bremote\s+work(?:ing)?\b|\bt[ée]l[ée]travail\b",
        "home",
        "wfh",
        "remote",
        "télétravail",
        "teletravail",
    ),
]
_HYBRID = [
    _rx(
        r"\bhybrid\s*(?:[-–—(]\s*)?(?:work(?:ing)?|model|role|position|schedule|arrangement|environment|set-?up|policy|basis|opportunity|\d)",
        "hybrid",
    ),
    _rx(
        r"\b(?:work\s+schedule|work\s+model|working\s+model|location|workplace(?:\s+type)?|arrangement|work\s+type)\s*:?\s*\(?hybrid\b",
        "hybrid",
    ),
    _rx(r"\(\s*hybrid\b", "hybrid"),
    _rx(r"\b(?:roles?|positions?|jobs?)\s+(?:[\w&.]+\s+){0,3}?(?:is|are)\s+hybrid\b", "hybrid"),
    _rx(
        r"\b[1-4]\+?\s*(?:-\s*[1-4]\s*)?days?\s+(?:a|per)\s+week\s+(?:in|at)\s+(?:the|our)\s+office\b",
        "office",
    ),
    _rx(
        r"\b[1-4]\+?\s*(?:-\s*[1-4]\s*)?days?\s+(?:(?:a|per)\s+week\s+)?in[- ](?:the[- ])?office\b",
        "office",
    ),
    _rx(
        r"\b(?:one|two|three|four)\s+days?\s+(?:(?:a|per)\s+week\s+)?(?:in|at)[- ](?:the[- ]|our\s+)?office\b",
        "office",
    ),
    _rx(r"\bin[- ]person\s+\d+\s*(?:-|–|to)\s*\d+\s*%", "person"),
    _rx(r"\b(?:mode|travail|format|modalit[ée])\s+hybride\b|\bhybride\s*\(", "hybride"),
    Rule(r"(?:[:|(\-–—/,]\s*)Hybrid\b", "hybrid", flags=0),
    _rx(
        r"\bh[ií]brido\b|\bt[ée]l[ée]travail\s+partiel\b|\bjours?\s+de\s+t[ée]l[ée]travail\b",
        "híbrido",
        "hibrido",
        "télétravail",
        "teletravail",
        "jours",
    ),
]
_ONSITE = [
    _rx(
        r"\b(?:100\s?%|fully|full[- ]time|completely|entirely)\s*(?:on[- ]?site|in[- ]office|in\s+the\s+office|office[- ]based)\b",
        "site",
        "onsite",
        "office",
    ),
    _rx(
        r"\bon[- ]?site\s+(?:role|position|job|only|work|presence|requirement)\b", "site", "onsite"
    ),
    _rx(
        r"\bin[- ]office\s+(?:role|position|job)\b|\boffice[- ]based\s+(?:role|position)\b",
        "office",
    ),
    _rx(r"\(\s*(?:100\s?%\s*)?on[- ]?site\s*\)", "site", "onsite"),
    _rx(
        r"\b(?:5|five)\s+days\s+(?:a|per)\s+week\s+(?:in|at)\s+(?:the|our)\s+(?:\w+\s+)?office\b|\b(?:5|five)\s+days\s+in[- ]office\b"
        r"|\bin[- ]office\s+(?:5|five)\s+days\b",
        "office",
    ),
    _rx(
        r"\b(?:work|working|based)\s+on[- ]?site\b|\bon[- ]?site\s+(?:in|at)\s+(?:our\s+)?[a-z]",
        "site",
        "onsite",
    ),
    Rule(
        r"(?:[:|\-–—/]\s*|\b[A-Z][a-zA-Z]+\s+)On[- ]?[Ss]ite\b(?!\s+(?:or|and|/)\b)",
        "site",
        "onsite",
        flags=0,
    ),
    _rx(
        r"\b(?:not\s+a\s+remote|no\s+remote|non[- ]remote)\b|\bremote\s+(?:work\s+)?is\s+not\s+(?:available|possible|an\s+option)\b",
        "remote",
    ),
    _rx(
        r"\bpresencial\b|\b100\s?%\s+pr[ée]sentiel\b|\bsur\s+site\b",
        "presencial",
        "présentiel",
        "presentiel",
        "sur site",
    ),
]
# A hybrid cue near "hybrid" must not be a non-work-model use ("hybrid RIAs").
_NEGATION_BEFORE = re.compile(
    r"(?:\bnot\b|\bno\b|\bnon\b|n['’]t)\s*(?:\w+\s+){0,2}$", re.IGNORECASE
)
_NEGATION_AFTER = re.compile(
    r"^\s*(?:work\s+)?(?:is|are)\s+not\s+(?:available|possible|offered|an\s+option)", re.IGNORECASE
)


# "a hybrid work environment (remote/onsite)": the pair describes the hybrid mix.
_HYBRID_JUST_BEFORE = re.compile(r"hybrid[\w\s]{0,30}\(?\s*$", re.IGNORECASE)


def _cue(doc: Doc, rules: list[Rule], value: str, negatable: bool) -> Cue | None:
    best: re.Match[str] | None = None
    for rule in rules:
        for match in rule.finditer(doc):
            before = doc.text[max(0, match.start() - 40) : match.start()]
            after = doc.text[match.end() : match.end() + 40]
            if negatable and (
                _NEGATION_BEFORE.search(before[-25:]) or _NEGATION_AFTER.match(after)
            ):
                continue
            if rule is _REMOTE_OR_ONSITE and _HYBRID_JUST_BEFORE.search(before):
                continue
            if best is None or match.start() < best.start():
                best = match
            break
    return Cue(value, best.start(), best.end()) if best is not None else None


def _short_field_model(value: str | None) -> str | None:
    """Work model named in a title or Silver location ("Data Engineer (Remote)")."""
    if not value:
        return None
    low = value.lower()
    if re.search(r"\bremote\b|\bremoto\b|\bt[ée]l[ée]travail\b", low):
        return "remote"
    if re.search(r"\bhybrid\b|\bhybride\b|\bh[ií]brido\b", low):
        return "hybrid"
    if re.search(r"\bon[- ]?site\b|\bin[- ]office\b", low):
        return "onsite"
    return None


def extract_work_model(doc: Doc, title: str | None, location: str | None) -> Cue | None:
    """remote / hybrid / onsite as stated (text first, then title, then location)."""
    for patterns, value, negatable in (
        (_REMOTE, "remote", True),
        (_HYBRID, "hybrid", False),
        (_REMOTE_WEAK, "remote", True),
        (_ONSITE, "onsite", False),
    ):
        cue = _cue(doc, patterns, value, negatable)
        if cue is not None:
            return cue
    for origin, field_value in (("title", title), ("location", location)):
        model = _short_field_model(field_value)
        if model is not None:
            return Cue(model, origin=origin)
    return None


# ------------------------------------------------------------------ employment type

_INTERN_TITLE = re.compile(
    r"\b(?:intern|interns|internship|stagiaire|alternance|alternant\w*|apprenti\w*|trainee"
    r"|werkstudent\w*|praktikum|praktikant\w*|pasant[ií]a|becari[oa]|co-?op)\b"
    r"|(?:^|[\s(\-–|/])stage(?:$|[\s)\-–|/:])",
    re.IGNORECASE,
)
_INTERN_TEXT = _rx(
    r"\binternship\s+(?:opportunity|position|role|program|programme|duration|period)\b"
    r"|\b(?:paid|unpaid|this|our|summer)\s+internship\b|\bmissions?\s+du\s+stage\b"
    r"|\bstage\s+de\s+fin\s+d['’][ée]tudes\b|\bcontrat\s+d['’]apprentissage\b"
    r"|\btype\s+de\s+contrat\s*:?\s*(?:apprentissage|alternance|stage)\b|\ben\s+alternance\b",
    "internship",
    "stage",
    "apprentissage",
    "alternance",
)
_TYPE_LABEL = r"(?:job\s+type|employment\s+type|type\s+of\s+employment|position\s+type|work\s+schedule|schedule|employment)\s*:?\s*"
_FULL_TIME = _rx(
    _TYPE_LABEL + r"full[- ]?time\b|\(\s*full[- ]?time\s*\)|\bonly\s+full[- ]?time\b"
    r"|\bfull[- ]?time\s+(?:position|role|opportunity|job|employment|permanent|salaried)\b"
    r"|\bis\s+a\s+full[- ]?time\b|\btiempo\s+completo\b|\bjornada\s+completa\b"
    r"|\btemps\s+(?:plein|complet)\b|\btempo\s+integral\b|\bvollzeit\b",
    "full-time",
    "full time",
    "fulltime",
    "tiempo completo",
    "jornada",
    "temps plein",
    "temps complet",
    "tempo integral",
    "vollzeit",
)
_PART_TIME = _rx(
    _TYPE_LABEL
    + r"part[- ]?time\b|\(\s*part[- ]?time\s*\)|\bpart[- ]?time\s+(?:position|role|opportunity|job)\b"
    r"|\bis\s+a\s+part[- ]?time\b|\bmedio\s+tiempo\b|\btemps\s+partiel\b|\bteilzeit\b",
    "part-time",
    "part time",
    "parttime",
    "medio tiempo",
    "temps partiel",
    "teilzeit",
)
_CONTRACT = _rx(
    _TYPE_LABEL
    + r"(?:contract|contractor|freelance)\b|\bcontract\s+(?:role|position|assignment|opportunity|job|basis|engagement)\b"
    r"|(?<!no\s)\bc2c\b|\bcorp[- ]to[- ]corp\b|\bw-?2\s+contract\b|\bcontract[- ]to[- ]hire\b|\b1099\b"
    r"|\bfreelance\s+(?:role|position|contract|mission)\b|\bmission\s+freelance\b"
    r"|\b(?:contract\s+)?duration\s*:?\s*\d+\+?\s*(?:-\s*\d+\s*)?(?:months?|mois|meses)\b"
    r"|\b\d+\+?\s*(?:-\s*\d+\s*)?[- ]?months?\s+contract\b",
    "contract",
    "c2c",
    "corp-to",
    "corp to",
    "w2",
    "w-2",
    "1099",
    "freelance",
    "duration",
)
_TEMPORARY = _rx(
    r"\btemporary\s+(?:position|role|assignment|job)\b|\btemp\s+role\b|\bseasonal\s+(?:position|role|job)\b",
    "temp",
    "seasonal",
)
_SILVER_EMPLOYMENT = {
    "full-time": "full_time",
    "full time": "full_time",
    "part-time": "part_time",
    "part time": "part_time",
    "contract": "contract",
    "internship": "internship",
    "temporary": "temporary",
}


def extract_employment_type(doc: Doc, title: str | None, silver_type: str | None) -> Cue | None:
    """Internship (title/text), else an explicit type in the text, else Silver's type."""
    if (
        title
        and _INTERN_TITLE.search(title)
        and not re.search(r"\b(?:early|late|growth|seed|next)[- ]stage\b", title, re.IGNORECASE)
    ):
        return Cue("internship", origin="title")
    match = _INTERN_TEXT.search(doc)
    if match is not None:
        return Cue("internship", match.start(), match.end())
    found = [
        (m.start(), m.end(), value)
        for value, pattern in (
            ("full_time", _FULL_TIME),
            ("part_time", _PART_TIME),
            ("contract", _CONTRACT),
            ("temporary", _TEMPORARY),
        )
        if (m := pattern.search(doc)) is not None
    ]
    if found:
        kinds = {value for _, _, value in found}
        if "contract" in kinds:  # "full-time contract", "W2 contract": the contract decides
            start, end, _ = next(f for f in found if f[2] == "contract")
            return Cue("contract", start, end)
        start, end, value = min(found)
        return Cue(value, start, end)
    mapped = _SILVER_EMPLOYMENT.get((silver_type or "").strip().lower())
    return Cue(mapped, origin="silver") if mapped else None


# ------------------------------------------------------------------ contract details

_CONTRACT_TO_HIRE = _rx(
    r"\bcontract[- ]to[- ](?:hire|perm\w*)\b|\btemp[- ]to[- ]perm\b|\bc2h\b|\bright[- ]to[- ]hire\b",
    "contract",
    "temp",
    "c2h",
    "hire",
)
_PROJECT = _rx(
    r"\bproject[- ]based\b|\bper\s+project\b|\bpor\s+proyecto\b"
    r"|\b(?P<n>\d+)\+?\s*(?:-\s*\d+\s*)?(?:months?|meses|mois)\s+(?:de|of|du)\s+(?:proyecto|projet|project)\b",
    "project",
    "proyecto",
    "projet",
)
_FIXED = _rx(
    r"\bfixed[- ]term\b|\bCDD\b|\bcontrato\s+temporal\b|\btemporary\s+(?:contract|position|role)\b"
    r"|\b(?:internship\s+|contract\s+|assignment\s+)?duration\s*:?\s*(?P<n>\d+)\+?\s*(?:-\s*\d+\s*)?(?:months?|mois|meses)\b"
    r"|\b(?P<m>\d+)\+?\s*(?:-\s*\d+\s*)?[- ]?months?\s+(?:contract|assignment|engagement)\b"
    r"|\b(?P<y>\d+|one|two)[- ]years?\s+(?:fixed[- ]term\s+)?contract\b|\bmaternity\s+cover\b",
    "fixed",
    "=CDD",
    "temporal",
    "temporary",
    "duration",
    "contract",
    "maternity",
)
_SEASONAL = _rx(r"\bseasonal\s+(?:contract|position|role|job|employment)\b", "seasonal")
_PERMANENT = _rx(
    r"\bCDI\b|\bpermanent\s+(?:position|role|contract|employment|job|opportunity|hire)\b"
    r"|\b(?:contract\s+type|type\s+of\s+contract|type\s+de\s+contrat|tipo\s+de\s+contrato)\s*:?\s*(?:permanent|cdi|indefinido)\b"
    r"|\bcontrato\s+indefinido\b|\bunbefristet\w*\b|\bfestanstellung\b",
    "=CDI",
    "permanent",
    "contrat",
    "contract type",
    "type of contract",
    "contrato",
    "unbefristet",
    "festanstellung",
)
_EXTENSION = _rx(
    r"\b(?:possibility|possible|potential|option)\s+(?:of\s+|for\s+|to\s+)?(?:an\s+)?(?:extension|extend)\w*\b|\bextendable\b|\bextension\s+possible\b|\blikely\s+to\s+(?:be\s+)?extend\w*\b",
    "exten",
)
_CONVERSION = _rx(
    r"\b(?:possibility|potential|option)\s+(?:of|for)\s+(?:conversion|converting|becoming\s+(?:a\s+)?(?:permanent|full[- ]time))\b",
    "conver",
    "becoming",
)
_START_IMMEDIATE = _rx(
    r"\basap\b|\bas\s+soon\s+as\s+possible\b|\bimmediate(?:ly)?\s+(?:start|availability)\b|\bstart\s+immediately\b|\bdisponibilit[ée]\s*:?\s*imm[ée]diate\b",
    "asap",
    "soon",
    "immediate",
    "disponibilit",
)
_START_DATE = _rx(
    r"\b(?:start(?:ing)?|onboard\w*|begin\w*|commenc\w*|d[ée]but)\b[^.;]{0,60}?\b(?:january|february|march|april|may|june|july|august|september|october|november|december|janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre)\b\s+\d{4}\b",
    "start",
    "onboard",
    "begin",
    "commenc",
    "début",
    "debut",
)
_START_FLEXIBLE = _rx(r"\bflexible\s+start(?:\s+date)?\b", "flexible")
_PROBATION = _rx(
    r"\bprobation(?:ary)?\s+period\b|\bp[ée]riode\s+d['’]essai\b", "probation", "essai"
)


@dataclass(frozen=True)
class ContractFacts:
    contract_type: Cue | None
    duration_months: float | None
    duration: Cue | None
    extension: str
    conversion: str
    start: Cue | None
    probation: Cue | None


def _months(match: re.Match[str]) -> float | None:
    groups = match.groupdict()
    for key, factor in (("n", 1.0), ("m", 1.0), ("y", 12.0)):
        raw = groups.get(key)
        if raw:
            value = {"one": 1.0, "two": 2.0}.get(raw.lower()) or float(raw)
            return value * factor
    return None


def extract_contract(doc: Doc) -> ContractFacts:
    """Contract type (c2h > project > fixed term > seasonal > permanent), duration, start."""
    contract_type: Cue | None = None
    duration: float | None = None
    duration_cue: Cue | None = None
    for value, pattern in (
        ("contract_to_hire", _CONTRACT_TO_HIRE),
        ("project_based", _PROJECT),
        ("fixed_term", _FIXED),
        ("seasonal", _SEASONAL),
        ("permanent", _PERMANENT),
    ):
        match = pattern.search(doc)
        if match is not None:
            contract_type = Cue(value, match.start(), match.end())
            if value in ("project_based", "fixed_term"):
                duration = _months(match)
                if duration is not None:
                    duration_cue = contract_type
            break
    extension = "likely" if _EXTENSION.search(doc) else "not_mentioned"
    conversion = "not_mentioned"
    if (
        contract_type is not None
        and contract_type.value == "contract_to_hire"
        or _CONVERSION.search(doc)
    ):
        conversion = "yes_possible"
    start: Cue | None = None
    for value, pattern in (
        ("immediate", _START_IMMEDIATE),
        ("specific_date", _START_DATE),
        ("flexible", _START_FLEXIBLE),
    ):
        match = pattern.search(doc)
        if match is not None:
            start = Cue(value, match.start(), match.end())
            break
    probation = _PROBATION.search(doc)
    return ContractFacts(
        contract_type,
        duration,
        duration_cue,
        extension,
        conversion,
        start,
        Cue("probation", probation.start(), probation.end()) if probation else None,
    )
