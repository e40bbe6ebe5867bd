"""The Silver record: what the upstream Spark job writes, accepted as it really is.

The real file has 33 columns with Spark types (``timestamp[ns]``, ``date32``, ``int32``,
``list<string>``), HTML entities in descriptions, ``"$"`` as currency and ``"yr"``/``"hr"``
as period. Only ``job_posting_id`` is required; every other column may be missing from a
partition (it is then null) so that upstream schema drift degrades to nulls, not to a
failed run. Extra upstream columns are ignored by the enrichment and not carried into
silver_ai, whose schema must stay identical across partitions (see ``SILVER_SCHEMA``).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from enrichment_dagster.contracts.drift import RowNotes, coerce_table

#: The canonical Arrow schema of Silver columns in silver_ai, in the upstream order.
#: Spark's ``timestamp[ns]`` is kept at microsecond precision: Athena and Spark read
#: INT64 micros everywhere, nanosecond Parquet timestamps are not portable.
SILVER_SCHEMA = pa.schema(
    [
        pa.field("job_posting_id", pa.string(), nullable=False),
        pa.field("source_system", pa.string()),
        pa.field("url", pa.string()),
        pa.field("scraped_at", pa.timestamp("us")),
        pa.field("company_name", pa.string()),
        pa.field("company_id", pa.string()),
        pa.field("company_url", pa.string()),
        pa.field("job_title", pa.string()),
        pa.field("job_seniority_level", pa.string()),
        pa.field("job_function", pa.string()),
        pa.field("job_employment_type", pa.string()),
        pa.field("job_industries", pa.string()),
        pa.field("job_location", pa.string()),
        pa.field("country_code", pa.string()),
        pa.field("job_posted_datetime", pa.timestamp("us")),
        pa.field("job_posted_date_only", pa.date32()),
        pa.field("application_availability", pa.bool_()),
        pa.field("apply_link", pa.string()),
        pa.field("job_num_applicants", pa.int32()),
        pa.field("salary_min", pa.float64()),
        pa.field("salary_max", pa.float64()),
        pa.field("salary_currency", pa.string()),
        pa.field("salary_period", pa.string()),
        pa.field("job_poster_name", pa.string()),
        pa.field("job_poster_title", pa.string()),
        pa.field("job_poster_url", pa.string()),
        pa.field("job_summary", pa.string()),
        pa.field("job_description_html", pa.string()),
        pa.field("job_description_text", pa.string()),
        pa.field("skills_canonical", pa.list_(pa.string())),
        pa.field("skills_families", pa.list_(pa.string())),
        pa.field("skills_raw_hits", pa.list_(pa.string())),
        pa.field("skills_catalog_version", pa.string()),
    ]
)

SILVER_DESCRIPTIONS: dict[str, str] = {
    "job_posting_id": "LinkedIn posting id (string of digits; float-looking ids normalised)",
    "source_system": "where the posting was scraped (linkedin)",
    "scraped_at": "when the posting was scraped (UTC)",
    "job_posted_datetime": "when the posting was published (UTC)",
    "job_num_applicants": "LinkedIn applicant-count bucket bound (25, 200, ...)",
    "salary_currency": "currency as scraped ($)",
    "salary_period": "period as scraped (yr, hr)",
    "job_description_text": "posting text as scraped (HTML entities not decoded)",
}

def normalize_posting_id(raw: Any) -> str:
    """``4348380694.0`` and ``4348380694`` are the same posting (an old-system float bug)."""
    if raw is None:
        raise ValueError("job_posting_id is missing")
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError(f"job_posting_id {raw!r} is not an integer id")
        return str(int(raw))
    text = str(raw).strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    if not text:
        raise ValueError("job_posting_id is empty")
    return text


def decode_text(text: str | None) -> str:
    """Decode HTML entities (twice: scraped text is often double-escaped), compose to NFC and
    make non-breaking spaces plain ones; spaces are not collapsed (see :func:`clean_text`).

    Text without ``&`` has no entity, and ASCII text is NFC and has no non-breaking
    space: those steps are skipped (this runs on every quote of every answer read).
    """
    if not text:
        return ""
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text).replace("\u00a0", " ")


def clean_text(text: str | None) -> str:
    r"""Decode HTML entities (twice: scraped text is often double-escaped) and collapse spaces.

    ``split`` and ``join``, not ``re.sub(r"\s+", " ", ...)``: the same whitespace (both
    use Unicode's), three times faster on the 300 KB sample posting (4.5 ms, 14 ms).
    """
    return " ".join(decode_text(text).split())


#: Cleaned descriptions kept by :func:`_cleaned_description` (and the other per-posting
#: memos): more than one engine call's worth of postings (``ENRICHMENT_CHUNK_RECORDS``,
#: default 1,000), so every record of a call is cleaned once; at a few KB a posting, a few
#: MB. At 256, a call of 1,000 records cleaned each description on every one of its four or
#: five reads per pass (the reads come in record order, so an LRU smaller than the call
#: misses every time).
DESCRIPTION_CACHE_SIZE = 2048


@lru_cache(maxsize=DESCRIPTION_CACHE_SIZE)
def _cleaned_description(text: str | None) -> str:
    """``clean_text`` memoised on the text itself (pure, so reuse is always correct).

    ``SilverRecord.description`` is read four or five times per record and pass (prompt
    rendering twice, the request, grounding); cleaning a 300 KB posting takes about 15 ms,
    so recomputing it cost a 100-record partition holding three such postings about 0.25 s
    of GIL-bound time per run. A cache keyed on the text, not state on the record, because
    pydantic compares private attributes in ``==`` and copies them in ``model_copy``.
    """
    return clean_text(text)


#: Tags after which a reader sees a new line; ``li`` also gets a bullet.
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "footer", "h1",
    "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
    "table", "tr", "ul",
})
_SKIPPED_TAGS = frozenset({"script", "style", "template", "head", "noscript"})
_LINE_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextOfHtml(HTMLParser):
    """The text a browser would show, with line breaks at ``<br>`` and block tags and a
    ``- `` before list items (only those that hold text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._bullet = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            self._bullet = tag == "li"
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(self._skipping - 1, 0)
        elif tag in _BLOCK_TAGS and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._bullet and data.strip():
            self.parts.append("- ")
            self._bullet = False
        self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Posting HTML as plain text: tags removed, entities decoded (twice, like
    :func:`clean_text`), line breaks kept at ``<br>`` and block tags, spaces collapsed."""
    if not markup:
        return ""
    parser = _TextOfHtml()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    except Exception:  # HTMLParser is lenient; never let markup cost the record
        text = re.sub(r"<[^>]*>", " ", markup)
    text = unicodedata.normalize("NFC", html.unescape(text)).replace("\u00a0", " ")
    lines = [_LINE_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def has_words(text: str) -> bool:
    """Whether ``text`` holds a letter or digit: bullets, dashes and dots are no posting."""
    return any(character.isalnum() for character in text)


@lru_cache(maxsize=DESCRIPTION_CACHE_SIZE)
def _text_of_html(markup: str | None) -> str:
    """``html_to_text`` memoised, for the same reason as :func:`_cleaned_description`."""
    return html_to_text(markup)


class SilverRecord(BaseModel):
    """One posting as Spark wrote it; unknown extra columns are ignored."""

    model_config = ConfigDict(extra="ignore")

    job_posting_id: str
    source_system: str | None = None
    url: str | None = None
    scraped_at: dt.datetime | None = None
    company_name: str | None = None
    company_id: str | None = None
    company_url: str | None = None
    job_title: str | None = None
    job_seniority_level: str | None = None
    job_function: str | None = None
    job_employment_type: str | None = None
    job_industries: str | None = None
    job_location: str | None = None
    country_code: str | None = None
    job_posted_datetime: dt.datetime | None = None
    job_posted_date_only: dt.date | None = None
    application_availability: bool | None = None
    apply_link: str | None = None
    job_num_applicants: int | None = None
    salary_min: float | None = None
    salary_max: float | None = None
    salary_currency: str | None = None
    salary_period: str | None = None
    job_poster_name: str | None = None
    job_poster_title: str | None = None
    job_poster_url: str | None = None
    job_summary: str | None = None
    job_description_html: str | None = None
    job_description_text: str | None = None
    skills_canonical: list[str] = Field(default_factory=list)
    skills_families: list[str] = Field(default_factory=list)
    skills_raw_hits: list[str] = Field(default_factory=list)
    skills_catalog_version: str | None = None

    @field_validator("job_posting_id", mode="before")
    @classmethod
    def _normalize_id(cls, value: Any) -> str:
        return normalize_posting_id(value)

    @field_validator("skills_canonical", "skills_families", "skills_raw_hits", mode="before")
    @classmethod
    def _none_as_empty(cls, value: Any) -> Any:
        """A null list is an empty one; null items (Arrow allows them) are no skills."""
        if value is None:
            return []
        return [item for item in value if item is not None] if isinstance(value, list) else value

    @property
    def description(self) -> str:
        """The posting text as a model should read it: ``job_description_text`` with entities
        decoded and spaces collapsed or, when that is missing or blank, the text of
        ``job_description_html`` (tags removed, line breaks kept). Empty when neither holds
        any text: such a record is not sent (``engine.prepare.missing_posting_text``)."""
        source = self.description_source
        if source == "text":
            return _cleaned_description(self.job_description_text)
        return _text_of_html(self.job_description_html) if source == "html" else ""

    @property
    def description_source(self) -> str | None:
        """Which column :attr:`description` comes from: ``text``, ``html``, or None when
        neither holds a letter or digit (the record has no posting text)."""
        if has_words(_cleaned_description(self.job_description_text)):
            return "text"
        return "html" if has_words(_text_of_html(self.job_description_html)) else None

    @property
    def silver_salary_text(self) -> str | None:
        """Silver's structured salary as a readable fact (``$125,500-$230,200 per yr``)."""
        if self.salary_min is None and self.salary_max is None:
            return None
        low = f"{self.salary_min:,.0f}" if self.salary_min is not None else "?"
        high = f"{self.salary_max:,.0f}" if self.salary_max is not None else "?"
        currency = self.salary_currency or ""
        return f"{currency}{low}-{currency}{high} per {self.salary_period or 'period not given'}"


def coerce_silver(table: pa.Table) -> tuple[pa.Table, RowNotes]:
    """``table`` fitted to :data:`SILVER_SCHEMA` value by value where need be, with a note per
    changed or nulled value by row (see ``contracts.drift``); never raises for a value.

    Ids are only made text here; :class:`SilverRecord` normalises and refuses them.
    """
    return coerce_table(table, SILVER_SCHEMA)


def conform_silver(table: pa.Table) -> pa.Table:
    """Cast a Silver partition to :data:`SILVER_SCHEMA`: missing columns become nulls,
    extra columns are dropped, drifted values are coerced or nulled, ids are normalised."""
    conformed, _ = coerce_silver(table)
    ids = pa.array(
        [normalize_posting_id(v) for v in conformed.column("job_posting_id").to_pylist()],
        pa.string(),
    )
    return conformed.set_column(0, SILVER_SCHEMA.field(0), ids)
