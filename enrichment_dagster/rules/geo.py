"""Where the posting is and where candidates may be.

The posting's country comes from Silver's ``country_code`` or, when that is empty (it
often is), from the last part of ``job_location`` ("Paris, Île-de-France, France",
"Detroit, MI"). It is used to read a bare "$" and to name ``allowed_countries``; it is not
itself a restriction. Restrictions are phrases: "anywhere in the US", "must reside in
Texas", "LOCAL ONLY", "within EMEA", "work from anywhere".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enrichment_dagster.rules.text import Doc, Rule

US_STATES: dict[str, str] = {
    "alabama": "AL",
    "alaska": "AK",
    "arizona": "AZ",
    "arkansas": "AR",
    "california": "CA",
    "colorado": "CO",
    "connecticut": "CT",
    "delaware": "DE",
    "florida": "FL",
    "georgia": "GA",
    "hawaii": "HI",
    "idaho": "ID",
    "illinois": "IL",
    "indiana": "IN",
    "iowa": "IA",
    "kansas": "KS",
    "kentucky": "KY",
    "louisiana": "LA",
    "maine": "ME",
    "maryland": "MD",
    "massachusetts": "MA",
    "michigan": "MI",
    "minnesota": "MN",
    "mississippi": "MS",
    "missouri": "MO",
    "montana": "MT",
    "nebraska": "NE",
    "nevada": "NV",
    "new hampshire": "NH",
    "new jersey": "NJ",
    "new mexico": "NM",
    "new york": "NY",
    "north carolina": "NC",
    "north dakota": "ND",
    "ohio": "OH",
    "oklahoma": "OK",
    "oregon": "OR",
    "pennsylvania": "PA",
    "rhode island": "RI",
    "south carolina": "SC",
    "south dakota": "SD",
    "tennessee": "TN",
    "texas": "TX",
    "utah": "UT",
    "vermont": "VT",
    "virginia": "VA",
    "washington": "WA",
    "west virginia": "WV",
    "wisconsin": "WI",
    "wyoming": "WY",
    "district of columbia": "DC",
}
_STATE_CODES = frozenset(US_STATES.values())
COUNTRIES: dict[str, str] = {
    "united states": "US",
    "usa": "US",
    "u.s.": "US",
    "us": "US",
    "united states of america": "US",
    "united kingdom": "UK",
    "uk": "UK",
    "england": "UK",
    "scotland": "UK",
    "wales": "UK",
    "northern ireland": "UK",
    "great britain": "UK",
    "france": "FR",
    "germany": "DE",
    "deutschland": "DE",
    "india": "IN",
    "canada": "CA",
    "ireland": "IE",
    "sweden": "SE",
    "costa rica": "CR",
    "spain": "ES",
    "españa": "ES",
    "brazil": "BR",
    "brasil": "BR",
    "mexico": "MX",
    "méxico": "MX",
    "netherlands": "NL",
    "italy": "IT",
    "portugal": "PT",
    "poland": "PL",
    "australia": "AU",
    "singapore": "SG",
    "switzerland": "CH",
    "belgium": "BE",
    "austria": "AT",
    "denmark": "DK",
    "norway": "NO",
    "finland": "FI",
    "argentina": "AR",
    "colombia": "CO",
    "chile": "CL",
    "peru": "PE",
    "new zealand": "NZ",
    "japan": "JP",
    "china": "CN",
    "hong kong": "HK",
    "israel": "IL",
    "south africa": "ZA",
    "philippines": "PH",
    "romania": "RO",
    "czech republic": "CZ",
    "czechia": "CZ",
    "greece": "GR",
    "hungary": "HU",
    "ukraine": "UA",
    "turkey": "TR",
    "egypt": "EG",
    "nigeria": "NG",
    "kenya": "KE",
    "united arab emirates": "AE",
    "uae": "AE",
    "saudi arabia": "SA",
    "luxembourg": "LU",
}
_ISO_FIX = {"GB": "UK"}


def posting_country(country_code: str | None, location: str | None) -> str | None:
    """ISO-2 country of the posting (UK written "UK"), or None when unknown."""
    if country_code and country_code.strip():
        code = country_code.strip().upper()
        return _ISO_FIX.get(code, code)
    if not location:
        return None
    parts = [p.strip() for p in location.split(",") if p.strip()]
    if not parts:
        return None
    last = parts[-1].lower()
    if last in COUNTRIES:
        return COUNTRIES[last]
    if parts[-1].upper() in _STATE_CODES and len(parts[-1]) == 2:
        return "US"
    if last in US_STATES:
        return "US"
    return None


def _rx(pattern: str, *keys: str) -> Rule:
    return Rule(pattern, *keys)


_US = r"(?:the\s+)?(?:u\.?s\.?a?\.?|us|usa|united\s+states|continental\s+us)"
_UK = r"(?:the\s+)?(?:uk|u\.k\.|united\s+kingdom|great\s+britain)"
_GEO: list[tuple[str, Rule]] = [
    (
        "global",
        _rx(
            r"\b(?:work|remote(?:ly)?)\s+from\s+anywhere(?:\s+in\s+the\s+world)?\b(?!\s+in\s+(?:the\s+)?(?:us|u\.s|usa|united|uk|eu|europe|country))|\banywhere\s+in\s+the\s+world\b|\bworldwide\s+remote\b|\bglobal(?:ly)?\s+remote\b",
            "anywhere",
            "worldwide",
            "global",
        ),
    ),
    (
        "us_only",
        _rx(
            r"\banywhere\s+in\s+"
            + _US
            + r"\b|\b(?:based|located|reside|residing|live|living)\s+(?:with)?in\s+"
            + _US
            + r"\b|\b(?:us|u\.s\.)[- ](?:based|only)\s+(?:candidates|applicants|residents)\b|\bremote\s*,\s*(?:us|usa|united\s+states)\b|\b"
            + _US
            + r"\s+only\b",
            "anywhere",
            "based",
            "located",
            "resid",
            "live in",
            "living in",
            "live within",
            "remote",
            "only",
        ),
    ),
    (
        "uk_only",
        _rx(
            r"\b(?:based|located|reside|residing|live|living)\s+(?:with)?in\s+"
            + _UK
            + r"\b|\buk[- ](?:based|only)\s+(?:candidates|applicants|residents)\b|\banywhere\s+in\s+"
            + _UK
            + r"\b",
            "based",
            "located",
            "resid",
            "live in",
            "living in",
            "=UK",
            "=U.K",
            "anywhere",
        ),
    ),
    (
        "eu_only",
        _rx(
            r"\b(?:based|located|reside|residing)\s+(?:with)?in\s+(?:the\s+)?(?:eu|european\s+union|europe)\b|\beu[- ](?:based|only)\b|\bremote\s*,\s*(?:europe|emea)\b",
            "based",
            "located",
            "resid",
            "=EU",
            "remote",
        ),
    ),
    (
        "latam_only",
        _rx(
            r"\b(?:based|located|reside|residing)\s+in\s+latam\b|\blatam[- ](?:based|only)\b|\bremote\s*,\s*latam\b|\bdesde\s+latam\b",
            "latam",
        ),
    ),
    (
        "apac_only",
        _rx(
            r"\b(?:based|located|reside|residing)\s+in\s+(?:the\s+)?apac\b|\bapac[- ](?:based|only)\b",
            "apac",
        ),
    ),
]
_ALLOWED = {"us_only": ["US"], "uk_only": ["UK"]}
_LOCAL = _rx(
    r"\blocal\s+(?:candidates\s+)?only\b|\blocals\s+only\b|\bmust\s+be\s+local\b|\blocal\s+to\b|\bmust\s+(?:live|reside)\s+(?:with)?in\b|\bresidents\s+of\b|\bmust\s+be\s+(?:based|located)\s+(?:with)?in\b",
    "local",
    "live",
    "resid",
    "must be based",
    "must be located",
)
_RELOCATE = _rx(
    r"\bwilling(?:ness)?\s+to\s+relocate\b|\brelocation\s+(?:is\s+)?(?:required|expected|assistance|package|support)\b|\bmust\s+relocate\b|\bconsider\s+relocation\b|\brelocate\s+to\b",
    "relocat",
)
_CITY_STATE = re.compile(r"\b[A-Z][a-zA-Z.]+(?:\s[A-Z][a-zA-Z.]+)*,\s*([A-Z]{2})\b")
_STATE_NAMES = re.compile(
    r"\b(" + "|".join(sorted(US_STATES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_TIMEZONE = Rule(
    r"\b(?:EST|EDT|CST|CDT|MST|PST|PDT|GMT|BST|CET|CEST|UTC\s*[+-]\s*\d+)\b"
    r"|\b(?:ET|CT|PT)\s+(?:hours|time|business)"
    r"|(?i:\btime\s*zones?\b|\boverlap\s+with\b)",
    "=EST",
    "=EDT",
    "=CST",
    "=CDT",
    "=MST",
    "=PST",
    "=PDT",
    "=GMT",
    "=BST",
    "=CET",
    "=UTC",
    "=ET ",
    "=CT ",
    "=PT ",
    "time zone",
    "timezone",
    "overlap",
    flags=0,
)
_AMERICAS_TZ = re.compile(
    r"\b(?:EST|EDT|CST|CDT|MST|PST|PDT|ET|CT|PT)\b|(?i:\b(?:eastern|pacific|mountain)\s+(?:time|hours|standard))"
)
_EUROPE_TZ = re.compile(r"\b(?:GMT|BST|CET|CEST|WET|EET)\b")


@dataclass(frozen=True)
class GeoFacts:
    restriction: str
    restriction_span: tuple[int, int] | None
    allowed_countries: list[str]
    us_states: list[str]
    residency: str
    residency_span: tuple[int, int] | None
    timezone: str
    timezone_span: tuple[int, int] | None


def _states_near(doc: Doc, start: int, end: int, location: str | None) -> list[str]:
    """US state codes named around a residency phrase (or in the posting location)."""
    window = doc.text[max(0, start - 80) : end + 120]
    codes = [m.group(1) for m in _CITY_STATE.finditer(window) if m.group(1) in _STATE_CODES]
    codes += [US_STATES[m.group(1).lower()] for m in _STATE_NAMES.finditer(window)]
    if not codes and location:
        tail = location.split(",")[-1].strip()
        if tail.upper() in _STATE_CODES and len(tail) == 2:
            codes.append(tail.upper())
    return list(dict.fromkeys(codes))


def _timezone(doc: Doc) -> tuple[str, tuple[int, int] | None]:
    match = _TIMEZONE.search(doc)
    if match is None:
        return "not_mentioned", None
    window = doc.text[max(0, match.start() - 40) : match.end() + 40]
    if _AMERICAS_TZ.search(window):
        return "americas", (match.start(), match.end())
    if _EUROPE_TZ.search(window):
        return "europe", (match.start(), match.end())
    return "not_mentioned", None


def extract_geo(doc: Doc, location: str | None) -> GeoFacts:
    """Geographic restriction, allowed countries, US states, residency and time zone."""
    restriction, span = "not_mentioned", None
    for value, pattern in _GEO:
        match = pattern.search(doc)
        if match is not None and (span is None or match.start() < span[0]):
            restriction, span = value, (match.start(), match.end())
    residency, residency_span, states = "not_mentioned", None, []
    local = _LOCAL.search(doc)
    relocate = _RELOCATE.search(doc)
    if local is not None:
        residency, residency_span = "must_be_resident", (local.start(), local.end())
        states = _states_near(doc, local.start(), local.end(), location)
    elif relocate is not None:
        residency, residency_span = "willing_to_relocate", (relocate.start(), relocate.end())
    timezone, timezone_span = _timezone(doc)
    return GeoFacts(
        restriction,
        span,
        list(_ALLOWED.get(restriction, [])),
        states,
        residency,
        residency_span,
        timezone,
        timezone_span,
    )
