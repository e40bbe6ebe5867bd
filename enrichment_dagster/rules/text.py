"""Text plumbing shared by every rule: clauses, verbatim quotes, sections, number words.

Silver descriptions are scraped HTML with the tags stripped and the whitespace collapsed,
so bullets, headings and sentences run together. Rules therefore reason about *clauses*:
the stretch between two punctuation or bullet boundaries, capped in length so that a
run-on list does not swallow half the posting. Every quote handed out here is a slice of
the text it was computed from, which is what makes the evidence of the rules (and so of the
``heuristic`` backend) verbatim by construction.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}
#: A small count written in digits or in English words ("5", "five", "2.5").
NUM = r"(?:\d{1,2}(?:\.\d)?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + r")"

# A clause ends at sentence punctuation followed by a space, at a bullet, at a spaced dash
# that opens a new item, at bold markers and at pipes (LinkedIn's title/location lines).
# The scan looks for the candidate characters only; their context is checked in Python.
_BOUNDARY_CHARS = re.compile(r"[.!?;•●▪◦·■➢►✓✔|*–—-]")
_BULLETS = frozenset("•●▪◦·■➢►✓✔")
_DASHES = frozenset("–—-")
_ABBREVIATIONS = frozenset(
    {
        "e.g",
        "i.e",
        "etc",
        "vs",
        "inc",
        "ltd",
        "sr",
        "jr",
        "dr",
        "no",
        "approx",
        "incl",
        "st",
        "mr",
        "mrs",
        "ms",
        "co",
        "corp",
        "dept",
        "min",
        "max",
        "avg",
        "est",
        "fig",
        "eg",
        "ie",
    }
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")

# The patterns below run on the lower-cased text (``Doc.lower``): re.IGNORECASE makes Python's
# regex engine several times slower, and lower-casing keeps every index valid.

#: Section headings; ``nice`` ones make what follows optional, ``must`` ones required.
_SECTION = re.compile(
    r"(?P<nice>\bpreferred(?:\s+(?:qualifications?|skills?|requirements?|expertise|experience"
    r"|knowledge))?\s*:?(?=\s+\w)|\bnice[- ]to[- ]haves?\b|\bgood[- ]to[- ]have(?:\s+skills)?\b"
    r"|\bbonus(?:\s+(?:points|skills))?\s*:|\bdesirable(?:\s+skills)?\s*:?(?=\s+\w)"
    r"|\bdesired\s+skills\b|\bdeseable\b|\boptional\s+skills\b"
    r"|\bideally,?\s+you(?:'|’)ll\s+also\s+have\b|\bpluses\b|\bwould\s+be\s+a\s+plus\s*:"
    r"|\bcomp[ée]tences\s+appr[ée]ci[ée]es\b|\batouts\b)"
    r"|(?P<must>\brequired\s+(?:qualifications?|skills?|experience)\b|\brequirements\b"
    r"|\bminimum\s+qualifications\b|\bbasic\s+(?:qualifications|requirements)\b"
    r"|\bmust[- ]haves?\b|\bessential\s*:|\bwhat\s+you(?:'|’)ll\s+(?:bring|need)\b"
    r"|\bwhat\s+you\s+bring\b|\bwhat\s+we(?:'|’)re\s+looking\s+for\b|\byou\s+must\s+have\b"
    r"|\bqualifications\b|\bresponsibilities\b|\bprofil\s+recherch[ée]\b|\brequisitos\b"
    r"|\bjob\s+specific\s+skills\b|\bskills\s+you\s+bring\b|\bto\s+qualify\s+for\s+the\s+role\b)"
)
_SECTION_KEYS = (
    "prefer",
    "nice",
    "good to",
    "good-to",
    "bonus",
    "desir",
    "desea",
    "optional",
    "ideally",
    "pluses",
    "a plus",
    "compétences",
    "atouts",
    "requir",
    "minimum",
    "basic",
    "must",
    "essential",
    "what you",
    "what we",
    "qualif",
    "responsib",
    "profil",
    "requisito",
    "specific skills",
    "skills you bring",
    "to qualify",
)
#: Qualifiers inside a clause that make a requirement optional ...
_NICE_WORDS = re.compile(
    r"\b(?:preferred|preferably|a\s+plus|nice\s+to\s+have|bonus|desirable|desired|ideally"
    r"|optional|appr[ée]ci[ée]e?s?|serait\s+un\s+(?:r[ée]el\s+)?(?:plus|atout)|un\s+plus"
    r"|deseable|familiarity|familiar\s+with|exposure\s+to|good\s+to\s+have|advantageous"
    r"|an\s+advantage|not\s+required)\b"
)
#: ... and those that make it required whatever the section says.
_MUST_WORDS = re.compile(
    r"\b(?:required|must|mandatory|essential|indispensable|obligatoire|requis|exig[ée]e?)\b"
)
_LABEL = re.compile(
    r"\b(preferred|required|minimum|nice to have|desired|desirable|bonus|optional|must have"
    r"|requirements|deseable)\s*:"
)
_STRONG_WORDS = re.compile(
    r"\b(?:strong|proven|expert|expertise|solid|deep|extensive|proficien\w*|hands[- ]on)\b"
)


def _find_all(text: str, key: str) -> list[int]:
    found, at = [], text.find(key)
    while at >= 0:
        found.append(at)
        at = text.find(key, at + 1)
    return found


def lowered(text: str) -> str:
    """Lower-case ``text`` keeping every index valid (a few characters lengthen when lowered)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def number_value(token: str) -> float | None:
    """``"5"`` -> 5.0, ``"five"`` -> 5.0; None for anything else."""
    token = token.strip().lower()
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    try:
        return float(token)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Marks:
    """Positions of qualifier words inside one clause."""

    labels: list[tuple[int, str]]
    nice: list[int]
    must: list[int]
    strong: list[int]


@dataclass
class Doc:
    """One posting's text with its clause boundaries and section headings, computed lazily.

    Documents are cached per record and read by all three passes, possibly from several
    threads: every lazy field is computed idempotently and published by a single
    assignment, so concurrent readers at worst repeat some work.
    """

    text: str
    lower: str = field(init=False)
    _found: dict[str, list[int]] = field(init=False, repr=False, default_factory=dict)
    _starts: dict[int, str] = field(init=False, repr=False, default_factory=dict)
    _start_list: list[int] = field(init=False, repr=False, default_factory=list)
    _version: int = field(init=False, repr=False, default=-1)
    _segments: dict[int, list[tuple[int, int]]] = field(
        init=False, repr=False, default_factory=dict
    )
    _clause_marks: dict[tuple[int, int], _Marks] = field(
        init=False, repr=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.lower = lowered(self.text)

    def _index(self) -> None:
        """Locate every indexed literal once (again only if new rules were defined since).

        The results are swapped in whole, version last, so a thread reading this document
        while another indexes it sees either the old or the new index, never a partial one.
        """
        version = _KEY_INDEX.version
        if self._version != version:
            found, starts = _KEY_INDEX.scan(self.lower)
            self._found = found
            self._starts = starts
            self._start_list = list(starts)
            self._version = version

    def word_starts(self) -> tuple[list[int], dict[int, str]]:
        """Sorted word-start positions where an indexed literal begins, and the longest one."""
        self._index()
        return self._start_list, self._starts

    def positions(self, key: str) -> list[int]:
        """Every index of the literal ``key`` (memoised per document).

        Keys are matched in the lower-cased text, except keys written ``"=EST"``, which
        are matched with their exact capitalisation (for acronyms hidden in common words).
        On first use, every key of every :class:`Rule` is located in one scan.
        """
        self._index()
        found = self._found.get(key)
        if found is None:
            if key.startswith("="):
                found = _find_all(self.text, key[1:])
            elif key in _KEY_INDEX.keys:
                found = []
            else:
                found = _find_all(self.lower, key)
            self._found[key] = found
        return found

    @cached_property
    def _cuts(self) -> tuple[list[int], list[int]]:
        """(clause ends, next clause starts), both sorted."""
        ends: list[int] = []
        starts: list[int] = []
        text, size = self.text, len(self.text)
        for match in _BOUNDARY_CHARS.finditer(text):
            at = match.start()
            char = text[at]
            prev = text[at - 1] if at else " "
            nxt = text[at + 1] if at + 1 < size else ""
            if char in ".!?;":
                if not nxt.isspace() or at + 2 >= size or text[at + 2].isspace():
                    continue
                if char == "." and self._is_abbreviation(at):
                    continue
                ends.append(at + 1)
                starts.append(at + 2)
            elif char in _BULLETS:
                if prev.isspace():
                    ends.append(at - 1)
                    starts.append(at + 2 if nxt.isspace() else at + 1)
            elif char in _DASHES:
                after = text[at + 2] if at + 2 < size else ""
                if prev.isspace() and nxt.isspace() and (after.isupper() or after == "("):
                    ends.append(at - 1)
                    starts.append(at + 2)
            elif char == "*":
                if nxt == "*" and (not ends or ends[-1] != at - 1):
                    ends.append(at)
                    starts.append(at + 2)
            elif prev.isspace() and nxt.isspace():  # "|"
                ends.append(at - 1)
                starts.append(at + 2)
        return ends, starts

    def _is_abbreviation(self, dot: int) -> bool:
        word = _WORD_BEFORE.search(self.text, max(0, dot - 20), dot)
        if word is None:
            return False
        token = word.group(1).lower()
        return token in _ABBREVIATIONS or "." in token or (len(token) == 1 and token.isalpha())

    def clause_bounds(
        self, start: int, end: int, before: int = 160, after: int = 220
    ) -> tuple[int, int]:
        """The clause holding ``[start, end)``, at most ``before``/``after`` chars around it."""
        ends, starts = self._cuts
        i = bisect_right(starts, start) - 1
        left = starts[i] if i >= 0 else 0
        j = bisect_left(ends, end)
        right = ends[j] if j < len(ends) else len(self.text)
        left = max(left, start - before)
        right = min(right, end + after)
        return self._snap(left, right, start, end)

    def _snap(self, left: int, right: int, start: int, end: int) -> tuple[int, int]:
        """Move cut points off the middle of words, never past the core span."""
        text = self.text
        while left < start and left > 0 and text[left - 1].isalnum() and text[left].isalnum():
            left += 1
        while (
            right > end
            and right < len(text)
            and text[right - 1].isalnum()
            and text[right].isalnum()
        ):
            right -= 1
        while left < start and not text[left].strip():
            left += 1
        while right > end and (not text[right - 1].strip() or text[right - 1] in ",-–—(:"):
            right -= 1
        return left, right

    def quote(self, start: int, end: int, before: int = 160, after: int = 220) -> str:
        """Verbatim clause around ``[start, end)``: the evidence string of a rule."""
        left, right = self.clause_bounds(start, end, before, after)
        return self.text[left:right]

    def window(self, start: int, end: int, before: int = 100, after: int = 100) -> str:
        """Lower-cased text of the clause around a span (for qualifier look-ups)."""
        left, right = self.clause_bounds(start, end, before, after)
        return self.lower[left:right]

    @cached_property
    def _sections(self) -> tuple[list[int], list[str]]:
        positions: list[int] = []
        kinds: list[str] = []
        windows = sorted({max(0, at - 30) for key in _SECTION_KEYS for at in self.positions(key)})
        last = 0
        for left in windows:
            for match in _SECTION.finditer(
                self.lower, max(left, last), min(len(self.text), left + 90)
            ):
                last = match.end()
                positions.append(match.start())
                kinds.append("nice" if match.group("nice") else "must")
        return positions, kinds

    def section_at(self, position: int) -> str | None:
        """``nice``/``must`` for the heading governing ``position``; None before any."""
        positions, kinds = self._sections
        i = bisect_right(positions, position) - 1
        return kinds[i] if i >= 0 else None

    def _marks(self, left: int, right: int) -> _Marks:
        """Qualifier words of one clause, located once for all the items in it."""
        key = (left, right)
        marks = self._clause_marks.get(key)
        if marks is None:
            chunk = self.lower[left:right]
            marks = _Marks(
                labels=[(left + m.start(), m.group(1)) for m in _LABEL.finditer(chunk)],
                nice=[left + m.start() for m in _NICE_WORDS.finditer(chunk)],
                must=[left + m.start() for m in _MUST_WORDS.finditer(chunk)],
                strong=[left + m.start() for m in _STRONG_WORDS.finditer(chunk)],
            )
            self._clause_marks[key] = marks
        return marks

    def _raw_clause(self, start: int, end: int) -> tuple[int, int]:
        ends, starts = self._cuts
        i = bisect_right(starts, start) - 1
        j = bisect_left(ends, end)
        return (starts[i] if i >= 0 else 0), (ends[j] if j < len(ends) else len(self.text))

    def is_optional(self, start: int, end: int) -> bool:
        """Is the requirement at ``[start, end)`` a nice-to-have?

        A label right before the item decides first ("Preferred: 3+ years"); a label after
        it belongs to the next item. Then a qualifier near the item in its clause
        ("Airflow is a plus", "Snowflake preferred"); "required"/"must" beat a
        nice-to-have word. Otherwise the section heading decides, except that strong
        wording ("strong", "hands-on", "expert") inside an optional section still makes
        the item required, as the original pass-1 prompt asked.
        """
        clause_left, clause_right = self._raw_clause(start, end)
        left, right = max(clause_left, start - 80), min(clause_right, end + 60)
        marks = self._marks(clause_left, clause_right)
        before = [name for at, name in marks.labels if left <= at < start]
        if before:  # "Preferred: 3+ years" -- a label governs what follows it
            return before[-1] not in ("required", "minimum", "must have", "requirements")
        right = next((at for at, _ in marks.labels if end <= at < right), right)
        nice = any(left <= at < right for at in marks.nice)
        must = any(left <= at < right for at in marks.must)
        if nice and not must:
            return True
        if must:
            return False
        if self.section_at(start) == "nice":
            return not any(left <= at < right for at in marks.strong)
        return False


def trie_pattern(words: list[str]) -> str:
    """A regex matching any of ``words`` that tries longer words first at each position."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        optional = "" in node
        if len(branches) == 1 and not optional:
            return branches[0]
        group = "(?:" + "|".join(branches) + ")"
        return group + "?" if optional else group

    return build(trie)


def _lower_pattern(pattern: str) -> str:
    """Lower-case a regex's literals, leaving escapes (``\\S``, ``\\W``, ``\\B``) intact."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("(?P", i):  # named groups keep their syntax
            out.append("(?P")
            i += 3
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
        else:
            out.append(pattern[i].lower())
            i += 1
    return "".join(out)


class _KeyIndex:
    """All word-initial literals the rules and the skills catalog look for, found in one scan.

    ~300 rule keys located by ``str.find`` one by one cost ~300 passes over the text, and
    the catalog's ~900 terms one more regex pass; one scan with a trie-shaped regex tried
    at every word start costs about one pass for all of them. At each word start the scan
    yields the longest literal starting there; the shorter literals that are its prefixes
    start there too. Literals that start with a letter or digit are therefore found at the
    *start of a word* only ("sponsor" finds "sponsorship", not "resp-onsor"); keys that
    start with a symbol ("$", "€") and case-sensitive keys ("=EST") use ``str.find``.
    """

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.version = 0
        self._pattern: re.Pattern[str] | None = None
        self._prefixes: dict[str, list[str]] = {}

    def add(self, keys: tuple[str, ...] | list[str]) -> None:
        new = {k for k in keys if k[:1].isalnum()} - self.keys
        if new:
            self.keys |= new
            self._pattern = None
            self.version += 1

    def prefixes(self, literal: str) -> list[str]:
        """The indexed literals that are prefixes of ``literal`` (itself included)."""
        self._compile()
        return self._prefixes.get(literal, [])

    def _compile(self) -> re.Pattern[str]:
        if self._pattern is None:
            keys = self.keys
            self._prefixes = {
                k: [k[:i] for i in range(1, len(k) + 1) if k[:i] in keys] for k in keys
            }
            self._pattern = re.compile(r"(?<!\w)(?=(" + trie_pattern(sorted(keys)) + "))")
        return self._pattern

    def scan(self, lower: str) -> tuple[dict[str, list[int]], dict[int, str]]:
        """(positions of every literal, longest literal at each word start)."""
        pattern = self._compile()
        found: dict[str, list[int]] = {}
        starts: dict[int, str] = {}
        prefixes = self._prefixes
        for match in pattern.finditer(lower):
            at, longest = match.start(), match.group(1)
            starts[at] = longest
            for key in prefixes[longest]:
                bucket = found.get(key)
                if bucket is None:
                    found[key] = [at]
                else:
                    bucket.append(at)
        return found, starts


_KEY_INDEX = _KeyIndex()


class Rule:
    """A regex that runs only where one of its literal keys occurs.

    Why: a posting is ~5-10k characters and Python's ``re`` tries an alternation-headed
    pattern at every position, so ~150 full scans per record cost tens of milliseconds.
    Every match of a rule contains at least one of its ``keys`` (literals, checked
    case-insensitively and at word starts; ``"=BS"`` is checked case-sensitively, ``"$"``
    anywhere), so the rule looks the keys up in the document's one-scan index and runs the
    regex only in windows of ``reach`` characters around them. A rule without keys scans
    the whole text. Match positions index the whole text; a case-insensitive rule's match
    text is lower-cased (read values from ``doc.text`` at the match positions).
    """

    __slots__ = ("pattern", "keys", "reach", "on_lower", "_indexed", "_other")

    def __init__(
        self, pattern: str, *keys: str, flags: int = re.IGNORECASE, reach: int = 160
    ) -> None:
        # A case-insensitive rule runs on the lower-cased text with a lower-cased pattern:
        # same matches, same positions, several times faster than re.IGNORECASE.
        self.on_lower = bool(flags & re.IGNORECASE)
        if self.on_lower:
            pattern, flags = _lower_pattern(pattern), flags & ~re.IGNORECASE
        self.pattern = re.compile(pattern, flags)
        self.keys = tuple(k if k.startswith("=") else k.lower() for k in keys)
        self.reach = reach
        self._indexed = tuple(k for k in self.keys if k[:1].isalnum())
        self._other = tuple(k for k in self.keys if not k[:1].isalnum())
        _KEY_INDEX.add(self.keys)

    def segments(self, doc: Doc) -> list[tuple[int, int]]:
        """The merged windows (start, end) around this rule's keys in ``doc``."""
        if not self.keys:
            return [(0, len(doc.text))]
        cached = doc._segments.get(id(self))
        if cached is not None:
            return cached
        if doc._version != _KEY_INDEX.version:
            doc._index()
        found = doc._found
        present = [key for key in self._indexed if key in found]
        if not present and not self._other:  # the common case: none of the keys occurs
            doc._segments[id(self)] = []
            return []
        size, reach = len(doc.lower), self.reach
        windows = [
            (max(0, at - reach), min(size, at + len(key) + reach))
            for key in present
            for at in found[key]
        ]
        for key in self._other:
            windows.extend(
                (max(0, at - reach), min(size, at + len(key) + reach)) for at in doc.positions(key)
            )
        merged: list[tuple[int, int]] = []
        for start, end in sorted(windows):
            if merged and start <= merged[-1][1]:
                if end > merged[-1][1]:
                    merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        doc._segments[id(self)] = merged
        return merged

    def search(self, doc: Doc) -> re.Match[str] | None:
        """The earliest match in the document, or None."""
        text = doc.lower if self.on_lower else doc.text
        for start, end in self.segments(doc):
            match = self.pattern.search(text, start, end)
            if match is not None:
                return match
        return None

    def finditer(self, doc: Doc) -> Iterator[re.Match[str]]:
        """All matches in text order (non-overlapping)."""
        last = -1
        text = doc.lower if self.on_lower else doc.text
        for start, end in self.segments(doc):
            for match in self.pattern.finditer(text, max(start, last), end):
                last = match.end()
                yield match


def earliest(rules: list[Rule], doc: Doc) -> re.Match[str] | None:
    """The earliest match of any of ``rules``."""
    best: re.Match[str] | None = None
    for rule in rules:
        match = rule.search(doc)
        if match is not None and (best is None or match.start() < best.start()):
            best = match
    return best
