"""Skill detection from our own catalog (``skills_catalog.yaml``).

Why not the old catalog: it matched every canonical name as a bare word and decoded no
HTML entities, so "R" fired on "r&#xe9;", "Go" on "want it to go" and "Microsoft
Dynamics" on "organizational dynamics" (see the reference notes, Part B). Here only listed
terms match; the ambiguous ones carry rules (exact case, enumeration context, words that
must or must not surround them), and the text is already entity-decoded.

Speed: all terms are compiled into one trie-shaped regular expression, so a posting is
scanned once whatever the catalog size (the old matcher ran ~500 regexes per text). The
scan is leftmost-longest: "Spark SQL" is one hit, not "Spark" plus "SQL".
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from enrichment_dagster.rules.text import _KEY_INDEX, Doc, Rule, trie_pattern

SkillKind = Literal["hard", "concept", "soft", "certification"]
_KINDS = ("hard", "concept", "soft")
_TERM_KEYS = {"term", "case", "list", "unless_before", "unless_after", "near", "unless_near"}
_LIST_BEFORE = re.compile(r"(?:[,/(&+]|\band|\bor|\bet|\bou|\by|\be\.g\.)\s*$", re.IGNORECASE)
_LIST_AFTER = re.compile(r"^\s*(?:[,/)&+]|and\b|or\b|et\b|ou\b|y\b)", re.IGNORECASE)


class CatalogError(ValueError):
    """The YAML catalog is malformed (raised at load time, never during matching)."""


@dataclass(frozen=True)
class Term:
    """One way of writing a skill, with the rules that keep it from firing by accident."""

    text: str
    canonical: str
    family: str
    kind: SkillKind
    case: bool = False
    list_only: bool = False
    unless_before: re.Pattern[str] | None = None
    unless_after: re.Pattern[str] | None = None
    near: re.Pattern[str] | None = None
    unless_near: re.Pattern[str] | None = None

    def accepts(self, doc: Doc, start: int, end: int) -> bool:
        """Do this term's rules hold for the occurrence at ``[start, end)``?"""
        text = doc.text
        if self.case and text[start:end] != self.text:
            return False
        before = text[max(0, start - 40) : start]
        after = text[end : end + 40]
        if self.list_only and not (_LIST_BEFORE.search(before) or _LIST_AFTER.match(after)):
            return False
        if self.unless_before is not None and self.unless_before.search(before):
            return False
        if self.unless_after is not None and self.unless_after.match(after):
            return False
        if self.near is not None or self.unless_near is not None:
            clause = doc.text[slice(*doc.clause_bounds(start, end, 120, 120))]
            if self.near is not None and not self.near.search(clause):
                return False
            if self.unless_near is not None and self.unless_near.search(clause):
                return False
        return True


@dataclass(frozen=True)
class Hit:
    """A skill found in the text."""

    canonical: str
    family: str
    kind: SkillKind
    start: int
    end: int


@dataclass
class Matcher:
    """All terms of one catalog section, found through the document's one-scan index.

    Terms that start with a letter or digit are looked up among the word starts found by
    the shared key index (see :class:`Doc`), longest term first; the few that start with
    a symbol (".NET") have their own small regex.
    """

    terms: dict[str, list[Term]]
    suppressed_by: dict[str, tuple[str, ...]] = field(default_factory=dict)
    symbol_pattern: re.Pattern[str] | None = field(init=False, default=None)
    _by_longest: dict[str, list[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        indexed = [t for t in self.terms if t[:1].isalnum()]
        symbolic = sorted(t for t in self.terms if not t[:1].isalnum())
        _KEY_INDEX.add(indexed)
        if symbolic:
            self.symbol_pattern = re.compile(r"(?<!\w)(?:" + trie_pattern(symbolic) + r")(?!\w)")

    def _candidates(self, longest: str) -> list[str]:
        """Terms of this matcher that start where ``longest`` starts, longest first."""
        found = self._by_longest.get(longest)
        if found is None:
            found = sorted(
                (p for p in _KEY_INDEX.prefixes(longest) if p in self.terms), key=len, reverse=True
            )
            self._by_longest[longest] = found
        return found

    def _accept(self, doc: Doc, term: str, start: int, end: int, hits: list[Hit]) -> bool:
        accepted = [t for t in self.terms[term] if t.accepts(doc, start, end)]
        seen: set[str] = set()
        for t in accepted:
            if t.canonical not in seen:
                seen.add(t.canonical)
                hits.append(Hit(t.canonical, t.family, t.kind, start, end))
        return bool(accepted)

    def find(self, doc: Doc, start: int = 0, end: int | None = None) -> list[Hit]:
        """Every accepted hit in ``doc.text[start:end]``, in text order, longest first."""
        stop = len(doc.text) if end is None else end
        lower, size = doc.lower, len(doc.lower)
        positions, longest_at = doc.word_starts()
        hits: list[Hit] = []
        i = bisect_left(positions, start)
        while i < len(positions) and positions[i] < stop:
            at = positions[i]
            matched_end = None
            for term in self._candidates(longest_at[at]):
                term_end = at + len(term)
                if term_end > stop or (
                    term_end < size and (lower[term_end].isalnum() or lower[term_end] == "_")
                ):
                    continue
                if self._accept(doc, term, at, term_end, hits):
                    matched_end = term_end
                    break
            i = bisect_left(positions, matched_end, i + 1) if matched_end is not None else i + 1
        if self.symbol_pattern is not None:
            extra: list[Hit] = []
            for match in self.symbol_pattern.finditer(lower, start, stop):
                self._accept(doc, match.group(), match.start(), match.end(), extra)
            if extra:
                hits = sorted(hits + extra, key=lambda h: h.start)
        return hits

    def canonicals(self, hits: list[Hit]) -> list[str]:
        """Distinct canonical names in first-mention order, generic names suppressed."""
        found: list[str] = []
        for hit in hits:
            if hit.canonical not in found:
                found.append(hit.canonical)
        present = set(found)
        return [
            name for name in found if not present.intersection(self.suppressed_by.get(name, ()))
        ]


def _compile(raw: Any, where: str) -> re.Pattern[str] | None:
    if raw is None:
        return None
    try:
        return re.compile(str(raw))
    except re.error as exc:
        raise CatalogError(f"{where}: bad regex {raw!r}: {exc}") from exc


def _term(raw: Any, canonical: str, family: str, kind: SkillKind) -> Term:
    where = f"{family}/{canonical}"
    if isinstance(raw, str):
        return Term(raw.strip().lower(), canonical, family, kind)
    if not isinstance(raw, dict) or "term" not in raw:
        raise CatalogError(f"{where}: a term is a string or an object with 'term'")
    unknown = set(raw) - _TERM_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown term keys {sorted(unknown)}")
    text = str(raw["term"]).strip()
    case = bool(raw.get("case", False))
    return Term(
        text if case else text.lower(),
        canonical,
        family,
        kind,
        case=case,
        list_only=bool(raw.get("list", False)),
        unless_before=_compile(raw.get("unless_before"), where),
        unless_after=_compile(raw.get("unless_after"), where),
        near=_compile(raw.get("near"), where),
        unless_near=_compile(raw.get("unless_near"), where),
    )


def _skill_entries(family: str, spec: Any) -> list[tuple[str, list[Any], tuple[str, ...]]]:
    if not isinstance(spec, dict) or not isinstance(spec.get("skills"), dict):
        raise CatalogError(f"family {family!r} needs a 'skills' mapping")
    entries = []
    for canonical, value in spec["skills"].items():
        if isinstance(value, list):
            entries.append((str(canonical), value, ()))
        elif isinstance(value, dict) and isinstance(value.get("terms"), list):
            suppressed = tuple(str(s) for s in value.get("suppressed_by", []))
            entries.append((str(canonical), value["terms"], suppressed))
        else:
            raise CatalogError(
                f"{family}/{canonical}: expected a list of terms or {{terms: [...]}}"
            )
    return entries


def build_matchers(data: dict[str, Any]) -> tuple[Matcher, Matcher]:
    """(skills matcher, certifications matcher) from the parsed YAML."""
    terms: dict[str, list[Term]] = {}
    suppressed: dict[str, tuple[str, ...]] = {}
    canonicals: set[str] = set()
    for family, spec in (data.get("families") or {}).items():
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in _KINDS:
            raise CatalogError(f"family {family!r}: kind must be one of {_KINDS}")
        for canonical, raw_terms, suppressed_by in _skill_entries(family, spec):
            if canonical in canonicals:
                raise CatalogError(f"skill {canonical!r} is listed twice")
            canonicals.add(canonical)
            if suppressed_by:
                suppressed[canonical] = suppressed_by
            for raw in raw_terms:
                term = _term(raw, canonical, family, kind)
                terms.setdefault(term.text.lower(), []).append(term)
    for name, by in suppressed.items():
        missing = set(by) - canonicals
        if missing:
            raise CatalogError(f"{name}: suppressed_by names unknown skills {sorted(missing)}")
    cert_terms: dict[str, list[Term]] = {}
    for canonical, raw_terms in (data.get("certifications") or {}).items():
        for raw in raw_terms:
            term = _term(raw, str(canonical), "certifications", "certification")
            cert_terms.setdefault(term.text.lower(), []).append(term)
    if not terms:
        raise CatalogError("the catalog has no skills")
    return Matcher(terms, suppressed), Matcher(cert_terms)


@cache
def catalog() -> tuple[Matcher, Matcher]:
    """The packaged catalog, parsed and compiled once per process."""
    raw = resources.files("enrichment_dagster.rules").joinpath("skills_catalog.yaml")
    return build_matchers(yaml.safe_load(raw.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class SkillFindings:
    """Pass-1 skill lists plus the raw hits later passes reason about."""

    must_hard: list[str]
    nice_hard: list[str]
    must_soft: list[str]
    nice_soft: list[str]
    certifications: list[str]
    hits: list[Hit]

    def present(self, *names: str) -> bool:
        """Is any of ``names`` (canonical, any kind) mentioned?"""
        wanted = set(names)
        return any(h.canonical in wanted for h in self.hits)

    def first(self, *names: str) -> Hit | None:
        """The earliest hit of any of ``names``."""
        wanted = set(names)
        return next((h for h in self.hits if h.canonical in wanted), None)


_CERT_CUE = Rule(r"\bcertifi(?:cation|cations|ed)\b", "certifi")


def detect_skills(doc: Doc) -> SkillFindings:
    """Hard and soft skills split into must-have and nice-to-have, plus certifications.

    A skill is nice-to-have only when every mention of it is optional (see
    :meth:`Doc.is_optional`); one required mention makes it must-have.
    """
    skills, certs = catalog()
    hits = skills.find(doc)
    names = skills.canonicals(hits)
    optional: dict[str, bool] = {}
    for hit in hits:
        if hit.kind in ("hard", "soft") and hit.canonical in names:
            optional[hit.canonical] = optional.get(hit.canonical, True) and doc.is_optional(
                hit.start, hit.end
            )
    kinds = {h.canonical: h.kind for h in hits}
    split: dict[tuple[str, bool], list[str]] = {}
    for name in names:
        if kinds[name] in ("hard", "soft"):
            split.setdefault((kinds[name], optional[name]), []).append(name)
    return SkillFindings(
        must_hard=split.get(("hard", False), []),
        nice_hard=split.get(("hard", True), []),
        must_soft=split.get(("soft", False), []),
        nice_soft=split.get(("soft", True), []),
        certifications=_certifications(doc, hits, certs),
        hits=hits,
    )


#: Certifications are looked for only near these words (their names are rare acronyms or
#: sit next to "certified"/"certification"), which spares a scan of the whole text.
_CERT_WINDOWS = Rule(
    r".",
    "certif",
    "cissp",
    "cism",
    "pmp",
    "cka",
    "snowpro",
    "dp-203",
    "security+",
    "itil",
    "togaf",
    "cdmp",
    "=CSM",
    "scrum master",
    flags=0,
    reach=120,
)


def _certifications(doc: Doc, hits: list[Hit], certs: Matcher) -> list[str]:
    """Named certifications, plus "certification(s) in X, Y" for catalog skills X, Y."""
    cert_hits = [
        h for start, end in _CERT_WINDOWS.segments(doc) for h in certs.find(doc, start, end)
    ]
    found = certs.canonicals(cert_hits)
    for cue in _CERT_CUE.finditer(doc):
        left, right = doc.clause_bounds(cue.start(), cue.end(), before=60, after=120)
        for hit in hits:
            if hit.kind == "hard" and left <= hit.start and hit.end <= right:
                name = f"{hit.canonical} certification"
                covered = any(hit.canonical.split()[0] in c for c in found)
                if name not in found and not covered:
                    found.append(name)
    return found
