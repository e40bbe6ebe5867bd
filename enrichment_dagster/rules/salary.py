"""Pay stated in the posting: amounts, ranges, currency, period, "DOE".

Only the description counts as "stated". Silver's own ``salary_*`` columns are not used to
declare pay disclosed: on real postings they are filled when the text names no pay at all
(LinkedIn's structured field), and the contract defines ``salary_disclosed`` as "the
posting states pay". They are used for one thing only: when the text's amounts include
Silver's minimum or maximum, Silver's period ("yr"/"hr") confirms the period of the text.

Rules, in order:

* an amount counts only next to a currency mark (``$ € £ ₹ R$ C$ CHF``, ``USD``, ``45 000 €``);
* "A - B", "A to B", "between A and B", "$80k-180k" are ranges; "up to A" has no minimum,
  "A+" no maximum;
* figures near revenue or funding words ("billion", "raised", "revenue") or perks
  ("stipend", "budget", "reimbursement") are not pay;
* a figure counts as pay when a pay word ("salary", "compensation", "per annum", "rate",
  "bonus") is in its clause, when it is a range, when it is "A + bonus/equity", or when it
  carries its own period ("$45/hr", "120.000 € brutos anuales");
* several statements (e.g. one range per location) give the overall lowest and highest;
* the period is the one written next to the figure ("per hour", "/yr", "annually", "per
  day", "par an"); failing that, Silver's period when the figures match Silver's; failing
  that, yearly for annual-sized figures in currencies whose monthly pay never reaches
  that size (documented magnitude rule); else null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enrichment_dagster.rules.text import Doc, Rule

_PREFIXES: dict[str, str | None] = {
    "us$": "USD",
    "usd": "USD",
    "c$": "CAD",
    "ca$": "CAD",
    "cad": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "aud": "AUD",
    "nz$": "NZD",
    "s$": "SGD",
    "sgd": "SGD",
    "hk$": "HKD",
    "mx$": "MXN",
    "r$": "BRL",
    "brl": "BRL",
    "€": "EUR",
    "eur": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "₹": "INR",
    "inr": "INR",
    "rs.": "INR",
    "chf": "CHF",
    "sek": "SEK",
    "nok": "NOK",
    "dkk": "DKK",
    "pln": "PLN",
    "¥": "JPY",
    "jpy": "JPY",
    "zar": "ZAR",
    "$": None,
}
_SUFFIXES: dict[str, str] = {
    "€": "EUR",
    "eur": "EUR",
    "euros": "EUR",
    "euro": "EUR",
    "k€": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "usd": "USD",
    "dollars": "USD",
    "chf": "CHF",
    "sek": "SEK",
    "kr": "SEK",
    "zł": "PLN",
    "pln": "PLN",
    "inr": "INR",
    "₹": "INR",
    "cad": "CAD",
    "aud": "AUD",
    "brl": "BRL",
    "reais": "BRL",
    "lpa": "INR",
}
#: Currency of a bare "$" by the posting's country.
_DOLLAR_BY_COUNTRY = {"CA": "CAD", "AU": "AUD", "NZ": "NZD", "SG": "SGD", "HK": "HKD", "MX": "MXN"}
_MAGNITUDE_CURRENCIES = {"USD", "EUR", "GBP", "CAD", "AUD", "CHF", "NZD", "SGD", "BRL"}

_AMOUNT = (
    r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?(?!\d)"  # Indian grouping: 12,00,000
    r"|\d{1,3}(?:[,.\u202f '’]\d{3})+(?:[.,]\d{1,2})?(?!\d)"  # 125,500 / 45.000 / 45 000 / 120'000
    r"|\d+(?:[.,]\d{1,2})?"
)
_MULT = r"(?:[kK](?![a-zA-Z])|(?:mn|MM|M)(?![a-zA-Z])|lakhs?\b|million\b)"


def _alternation(keys: list[str]) -> str:
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True))


_PRE = _alternation(list(_PREFIXES))
_SUF = _alternation(list(_SUFFIXES))
_TOKEN = Rule(
    rf"(?:(?<![\w$])(?P<pre>{_PRE})\s?(?P<a>{_AMOUNT})(?:\s?(?P<m>{_MULT}))?"
    rf"|(?<![\w.,])(?P<b>{_AMOUNT})(?:\s?(?P<n>{_MULT}))?\s?(?P<suf>{_SUF})(?![a-zA-Z]))",
    "$",
    "€",
    "£",
    "₹",
    "¥",
    "us$",
    "r$",
    "c$",
    "ca$",
    "a$",
    "au$",
    "s$",
    "hk$",
    "mx$",
    "nz$",
    "usd",
    "=EUR",
    "=Eur",
    "euro",
    "gbp",
    "inr",
    "rs.",
    "chf",
    "sek",
    "nok",
    "dkk",
    "pln",
    "zł",
    "jpy",
    "=ZAR",
    "=CAD",
    "=AUD",
    "brl",
    "sgd",
    "dollar",
    "kr",
    "lpa",
    "reais",
)
_RANGE_AFTER = re.compile(
    rf"^\s*(?:-|–|—|to|and|à|a|bis|y)\s*(?:(?P<pre>{_PRE})\s?)?(?P<a>{_AMOUNT})(?:\s?(?P<m>{_MULT}))?",
    re.IGNORECASE,
)
_RANGE_BEFORE = re.compile(
    rf"(?<![\w.,])(?P<a>{_AMOUNT})(?:\s?(?P<m>{_MULT}))?\s*(?:-|–|—|to|à|bis)\s*$", re.IGNORECASE
)
_UP_TO = re.compile(
    r"(?:up\s+to|jusqu'?à|hasta|max(?:imum)?(?:\s+of)?|not\s+to\s+exceed)\s*$", re.IGNORECASE
)

_PERIODS: list[tuple[str, re.Pattern[str]]] = [
    (
        "hourly",
        re.compile(
            r"\b(?:per|an|a|/)\s*(?:hour|hr|h)\b|/\s*(?:hour|hr|h)\b|\bhourly\b|\bde l'heure\b|\bpor hora\b|\bp/h\b",
            re.IGNORECASE,
        ),
    ),
    (
        "daily",
        re.compile(
            r"\b(?:per|a|/)\s*day\b|/\s*(?:day|jour|d)\b|\bdaily\s+rate\b|\bday\s+rate\b|\bpar\s+jour\b|\bTJM\b|\bp/d\b",
            re.IGNORECASE,
        ),
    ),
    ("weekly", re.compile(r"\b(?:per|a|/)\s*week\b|/\s*(?:week|wk)\b|\bweekly\b", re.IGNORECASE)),
    (
        "monthly",
        re.compile(
            r"\b(?:per|a|/)\s*month\b|/\s*(?:month|mo|mois|mes)\b|\bmonthly\b|\bpar\s+mois\b|\bmensuel\w*\b|\bal\s+mes\b|\bmensal\b|\b(?:por|ao)\s+m[eê]s\b|\bmensuales?\b",
            re.IGNORECASE,
        ),
    ),
    (
        "yearly",
        re.compile(
            r"\b(?:per|a|/)\s*(?:year|annum|yr)\b|/\s*(?:year|yr|an|año|ano)\b|\bannual(?:ly)?\b|\byearly\b|\bp\.?\s?a\.?(?=\s|$|[,;)])|\bpar\s+an\b|\bannuel\w*\b|\banual(?:es)?\b|\bpor\s+a[ñn]o\b|\bao\s+ano\b|\bLPA\b|\bsalary\b",
            re.IGNORECASE,
        ),
    ),
]
_PAY_WORDS = re.compile(
    r"\b(?:salary|salaries|pay|paid|compensation|comp|base|rate|rates|wage|wages|earn|earning"
    r"|per\s+annum|annually|ote|package|remuneration|rémunération|salaire|sueldo|salario|salário"
    r"|remuneração|retribuzione|ral|gehalt"
    r"|bonus|hourly|per\s+hour|range|tc|stipend)\b",
    re.IGNORECASE,
)
_NOT_PAY = re.compile(
    r"\b(?:revenue|revenues|raised|funding|funded|valuation|billion|milliards?|turnover"
    r"|chiffre\s+d'affaires|assets\s+under|aum|market\s+cap|in\s+sales|budget|investment"
    r"|invested|grant|grants|donat\w+|reimburs\w+|allowance|stipend|tuition|referral|credit"
    r"|sign[- ]on|signing|relocation|per\s+employee|match(?:ing)?|401|conferences?|wellness|gym"
    r"|equipment|home\s+office|donation|fee|fees|prize)\b",
    re.IGNORECASE,
)
_OPEN_ENDED = re.compile(
    r"^\s?\+(?!\s*(?:\w+\s+){0,2}(?:bonus|benefits|equity|commission|stock|shares|incentive|super))",
    re.IGNORECASE,
)
_PLUS_PERK = re.compile(
    r"^\s*\+\s*(?:\w+\s+){0,2}(?:bonus|benefits|equity|commission|stock)", re.IGNORECASE
)
_DOE = Rule(
    r"\bDOE\b|\bD\.O\.E\b|(?i:\b(?:depending|dependent|based)\s+(?:up)?on\s+(?:\w+\s+){0,2}experience\b"
    r"|\bcommensurate\s+with\s+(?:[\w'’]+\s+){0,5}experience\b|\bselon\s+(?:profil|expérience)\b)",
    "doe",
    "d.o.e",
    "depend",
    "based on",
    "based upon",
    "commensurate",
    "selon",
    flags=0,
)
_NEGOTIABLE = Rule(r"\bnegotiable\b|\bnégociable\b|\bnegociable\b", "negoti", "négoci")

_PLAUSIBLE = {
    "hourly": (5.0, 2_000.0),
    "daily": (30.0, 10_000.0),
    "weekly": (100.0, 40_000.0),
    "monthly": (300.0, 2_000_000.0),
    "yearly": (3_000.0, 100_000_000.0),
}


@dataclass(frozen=True)
class PayStatement:
    """One stated figure or range."""

    low: float | None
    high: float | None
    currency: str | None
    period: str | None
    start: int
    end: int


@dataclass(frozen=True)
class SalaryFacts:
    disclosed: bool
    minimum: float | None
    maximum: float | None
    currency: str | None
    period: str | None
    text: str | None
    negotiable: str  # rate_negotiable vocabulary
    statements: tuple[PayStatement, ...] = ()


def _number(raw: str, mult: str | None) -> float | None:
    """``"125,500"`` -> 125500; ``"106,300.00"`` -> 106300; ``"45 000"`` -> 45000; ``"80"+k``."""
    text = raw.replace("\u202f", " ")
    if re.fullmatch(r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d{1,2})?", text):
        return float(text.replace(",", "")) * _factor(mult)
    grouped = re.fullmatch(r"(\d{1,3}(?:([,. '’])\d{3})+)(?:([.,])(\d{1,2}))?", text)
    if grouped:
        value = float(re.sub(r"[,. '’]", "", grouped.group(1)))
        if grouped.group(4):
            value += float("0." + grouped.group(4))
    else:
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            return None
    return value * _factor(mult)


def _currency(symbol: str | None, country: str | None) -> str | None:
    if symbol is None:
        return None
    key = symbol.lower()
    if key in _PREFIXES:
        code = _PREFIXES[key]
        if code is None:  # a bare "$"
            return _DOLLAR_BY_COUNTRY.get(country or "", "USD")
        return code
    return _SUFFIXES.get(key)


def _period_near(doc: Doc, start: int, end: int) -> str | None:
    """The period written right after the figure, else just before it."""
    after = doc.text[end : end + 45]
    before = doc.text[max(0, start - 60) : start]
    for window in (after, before):
        best: tuple[int, str] | None = None
        for period, pattern in _PERIODS:
            match = pattern.search(window)
            if match is not None:
                distance = match.start() if window is after else len(window) - match.end()
                if best is None or distance < best[0]:
                    best = (distance, period)
        if best is not None:
            return best[1]
    return None


def _factor(mult: str | None) -> float:
    if not mult:
        return 1.0
    m = mult.lower()
    if m.startswith("lakh"):
        return 1e5
    return {"k": 1e3, "m": 1e6, "mm": 1e6, "mn": 1e6, "million": 1e6}.get(m, 1.0)


def _partner(
    doc: Doc, start: int, end: int, value: float, mult: str | None
) -> tuple[float, float, int, int] | None:
    """The other end of a range written around a figure: (low, high, start, end) or None."""
    after = _RANGE_AFTER.match(doc.text[end : end + 40])
    if after is not None:
        other_mult = after.group("m") or mult
        other = _number(after.group("a"), other_mult)
        if other is not None and after.group("m") and not mult and value < 1000:
            value *= _factor(after.group("m"))  # "$80-180k"
        if other is not None and other > value:
            return value, other, start, end + after.end()
    window = doc.text[max(0, start - 30) : start]
    before = _RANGE_BEFORE.search(window)
    if before is not None:
        other = _number(before.group("a"), before.group("m") or mult)
        if other is not None and other < value:
            return other, value, start - len(window) + before.start(), end
    return None


def _statement(doc: Doc, token: re.Match[str], country: str | None) -> PayStatement | None:
    """Read one currency-marked figure plus its range partner, or None when it is not pay."""
    raw, mult = (
        (token.group("a"), token.group("m"))
        if token.group("a")
        else (token.group("b"), token.group("n"))
    )
    value = _number(raw, mult)
    if value is None or value < 1:
        return None
    currency = _currency(token.group("pre") or token.group("suf"), country)
    ranged = _partner(doc, token.start(), token.end(), value, mult)
    low: float | None
    high: float | None
    if ranged is not None:
        low, high, start, end = ranged
    else:
        low, high, start, end = value, value, token.start(), token.end()
        prefix = doc.text[max(0, start - 25) : start]
        if _UP_TO.search(prefix):
            low = None
        elif _OPEN_ENDED.match(doc.text[end : end + 30]):  # "$100K+": a floor, no ceiling
            high = None
    near = doc.lower[max(0, start - 50) : min(len(doc.text), end + 40)]
    if _NOT_PAY.search(near) and not re.search(r"\bsalary\b|\bpay\b|\bcompensation\b", near):
        return None
    clause = doc.window(start, end, before=120, after=80)
    plus_perk = high is None or _PLUS_PERK.match(doc.text[end : end + 40]) is not None
    period = _period_near(doc, start, end)
    # A figure with its own period ("$45/hr", "£450 per day") is a rate even without a pay word.
    if not (_PAY_WORDS.search(clause) or ranged is not None or plus_perk or period is not None):
        return None
    return PayStatement(low, high, currency, period, start, end)


def _fill_period(
    statements: list[PayStatement], silver_period: str | None, silver_amounts: set[float]
) -> list[PayStatement]:
    """Give period-less statements Silver's period (matching figures) or the yearly size rule."""
    filled = []
    for s in statements:
        period = s.period
        figures = {v for v in (s.low, s.high) if v is not None}
        if period is None and silver_period and figures & silver_amounts:
            period = silver_period
        if period is None and s.currency in _MAGNITUDE_CURRENCIES and max(figures) >= 15_000:
            period = "yearly"
        filled.append(PayStatement(s.low, s.high, s.currency, period, s.start, s.end))
    return filled


def _plausible(s: PayStatement) -> bool:
    if s.period is None:
        return True
    low, high = _PLAUSIBLE[s.period]
    return all(low <= v <= high for v in (s.low, s.high) if v is not None)


_SILVER_PERIODS = {
    "yr": "yearly",
    "year": "yearly",
    "yearly": "yearly",
    "hr": "hourly",
    "hour": "hourly",
    "hourly": "hourly",
    "month": "monthly",
    "mo": "monthly",
    "monthly": "monthly",
    "day": "daily",
    "daily": "daily",
    "week": "weekly",
    "wk": "weekly",
    "weekly": "weekly",
}


def extract_salary(
    doc: Doc,
    country: str | None,
    silver_period: str | None = None,
    silver_amounts: tuple[float | None, ...] = (),
) -> SalaryFacts:
    """Everything pass 1 says about pay, from the description alone (see module docstring)."""
    statements = []
    for token in _TOKEN.finditer(doc):
        statement = _statement(doc, token, country)
        if statement is not None and (not statements or statement.start >= statements[-1].end):
            statements.append(statement)
    period_hint = _SILVER_PERIODS.get((silver_period or "").strip().lower())
    amounts = {a for a in silver_amounts if a is not None}
    statements = [s for s in _fill_period(statements, period_hint, amounts) if _plausible(s)]
    negotiable = (
        "doe" if _DOE.search(doc) else ("yes" if _NEGOTIABLE.search(doc) else "not_mentioned")
    )
    if not statements:
        return SalaryFacts(False, None, None, None, None, None, negotiable)
    head = statements[0]
    same = [s for s in statements if s.period == head.period and s.currency == head.currency]
    caps = {s.high for s in same if s.low is None}
    # "Up to £110,000" caps the figure: a bare "£110,000" elsewhere is the same cap.
    lows = [s.low for s in same if s.low is not None and not (s.low == s.high and s.high in caps)]
    highs = [s.high for s in same if s.high is not None]
    minimum = min(lows) if lows else None
    # "$100K+" leaves the maximum open unless another statement gives one.
    maximum = max(highs) if highs and all(s.high is not None for s in same) else None
    last = same[-1] if same[-1].start - head.end < 400 else head
    left, _ = doc.clause_bounds(head.start, head.end, before=100, after=0)
    _, right = doc.clause_bounds(last.start, last.end, before=0, after=120)
    return SalaryFacts(
        True,
        minimum,
        maximum,
        head.currency,
        head.period,
        doc.text[left:right],
        negotiable,
        tuple(same),
    )
