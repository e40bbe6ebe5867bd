"""Build our Silver sample Parquet files from ``postings.yaml``.

Usage: ``python -m enrichment_dagster_tests.sample_data.build [--out DIR]`` writes
``DIR/silver/year=YYYY/month=MM/day=DD/hour=HH/part-00000-sample.snappy.parquet``, one file per
hourly partition. Without ``--out`` it rewrites the committed copy beside this module, which is
what ``make demo`` reads, so the demo needs no generation step.

Why a builder instead of hand-made Parquet: the postings are written by us (the real Silver data
may not be copied into the repository), and keeping them as reviewable YAML while the script
owns everything mechanical (the Spark schema, LinkedIn's HTML wrapper, entity encoding, the
``skills_*`` columns, timestamps) keeps the files both realistic and easy to extend.

The output is deterministic: timestamps are derived from the partition and the posting id, the
300 KB description is built from fixed paragraphs, and the writer options are fixed, so running
the script twice with the same pyarrow gives byte-identical files.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from enrichment_dagster.sample_data import SAMPLE_PARTITIONS, SAMPLE_SILVER
from enrichment_dagster.storage.partition_keys import parse_partition_key, partition_key_to_path

#: The hand-written postings.
POSTINGS_FILE: Path = Path(__file__).resolve().parent / "postings.yaml"
#: Root of the committed copy: ``COMMITTED_ROOT / "silver" / ...`` is what the demo reads.
COMMITTED_ROOT: Path = SAMPLE_SILVER.parent
#: One file per partition, named like Spark's ``part-00000-<uuid>.c000.snappy.parquet`` but
#: stable, so regenerating overwrites instead of adding a second file.
FILE_NAME = "part-00000-sample.snappy.parquet"

SOURCE_SYSTEM = "linkedin"
SKILLS_CATALOG_VERSION = "v1.0"
SPARK_VERSION = "3.3.0"
#: Minimum length in characters of a ``generate_large`` description and of its text column.
LARGE_DESCRIPTION_MIN_CHARS = 300_000

# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


def _string_list() -> pa.DataType:
    """Spark's ``array<string>`` (containsNull=true).

    Spark writes the standard three-level LIST whose child is called ``element``; pyarrow reads
    it back as ``list<element: string>``, so the child is named the same here or the schemas
    would not compare equal.
    """
    return pa.list_(pa.field("element", pa.string()))


# (name, Arrow type, nullable, Spark SQL type name). Order is Spark's column order.
# - Timestamps are ``timestamp[ns]`` without a time zone: Spark 3.3 writes them as INT96, which
#   Arrow reads as naive nanoseconds (the values are UTC wall-clock times).
# - ``job_posted_date_only`` is a Spark DATE, i.e. Arrow ``date32``.
# - ``job_num_applicants`` is a Spark INTEGER (``int32``), salaries are DOUBLE, not DECIMAL.
# - ``job_industries`` is LinkedIn's free text, a string, not an array.
# - ``source_system`` is the only NOT NULL column (Spark filled it with a literal).
_COLUMNS: tuple[tuple[str, pa.DataType, bool, str], ...] = (
    ("job_posting_id", pa.string(), True, "string"),
    ("source_system", pa.string(), False, "string"),
    ("url", pa.string(), True, "string"),
    ("scraped_at", pa.timestamp("ns"), True, "timestamp"),
    ("company_name", pa.string(), True, "string"),
    ("company_id", pa.string(), True, "string"),
    ("company_url", pa.string(), True, "string"),
    ("job_title", pa.string(), True, "string"),
    ("job_seniority_level", pa.string(), True, "string"),
    ("job_function", pa.string(), True, "string"),
    ("job_employment_type", pa.string(), True, "string"),
    ("job_industries", pa.string(), True, "string"),
    ("job_location", pa.string(), True, "string"),
    ("country_code", pa.string(), True, "string"),
    ("job_posted_datetime", pa.timestamp("ns"), True, "timestamp"),
    ("job_posted_date_only", pa.date32(), True, "date"),
    ("application_availability", pa.bool_(), True, "boolean"),
    ("apply_link", pa.string(), True, "string"),
    ("job_num_applicants", pa.int32(), True, "integer"),
    ("salary_min", pa.float64(), True, "double"),
    ("salary_max", pa.float64(), True, "double"),
    ("salary_currency", pa.string(), True, "string"),
    ("salary_period", pa.string(), True, "string"),
    ("job_poster_name", pa.string(), True, "string"),
    ("job_poster_title", pa.string(), True, "string"),
    ("job_poster_url", pa.string(), True, "string"),
    ("job_summary", pa.string(), True, "string"),
    ("job_description_html", pa.string(), True, "string"),
    ("job_description_text", pa.string(), True, "string"),
    ("skills_canonical", _string_list(), True, "array<string>"),
    ("skills_families", _string_list(), True, "array<string>"),
    ("skills_raw_hits", _string_list(), True, "array<string>"),
    ("skills_catalog_version", pa.string(), True, "string"),
)


def _spark_row_metadata() -> str:
    """The ``org.apache.spark.sql.parquet.row.metadata`` JSON Spark stores in each file.

    Generated from ``_COLUMNS`` in Spark's own compact layout, so Spark reading our files sees
    the same StructType (including NOT NULL ``source_system``) as for the upstream files.
    """
    fields: list[dict[str, Any]] = []
    for name, _, nullable, spark_type in _COLUMNS:
        type_json: str | dict[str, Any] = spark_type
        if spark_type == "array<string>":
            type_json = {"type": "array", "elementType": "string", "containsNull": True}
        fields.append({"name": name, "type": type_json, "nullable": nullable, "metadata": {}})
    return json.dumps({"type": "struct", "fields": fields}, separators=(",", ":"))


def sample_schema() -> pa.Schema:
    """The Arrow schema of upstream Silver files exactly as Spark 3.3 wrote them.

    Built explicitly (not read from a real file) because the real data is not in the
    repository; ``test_sample_data`` checks it against a real file when one is available.
    The Spark key-value metadata is attached so the files look like Spark's to Spark too.
    """
    return pa.schema(
        [
            pa.field(name, arrow_type, nullable=nullable)
            for name, arrow_type, nullable, _ in _COLUMNS
        ],
        metadata={
            "org.apache.spark.version": SPARK_VERSION,
            "org.apache.spark.sql.parquet.row.metadata": _spark_row_metadata(),
        },
    )


# --------------------------------------------------------------------------------------------
# Postings
# --------------------------------------------------------------------------------------------

_REQUIRED_KEYS = frozenset(
    {
        "job_posting_id",
        "case",
        "partition",
        "company_name",
        "company_id",
        "company_slug",
        "job_title",
        "job_seniority_level",
        "job_function",
        "job_employment_type",
        "job_industries",
        "job_location",
        "country_code",
        "job_num_applicants",
    }
)
_OPTIONAL_KEYS = frozenset(
    {
        "description",
        "duplicate_of",
        "generate_large",
        "salary",
        "poster",
        "apply_link",
        "application_availability",
    }
)
_SALARY_KEYS = frozenset({"min", "max", "currency", "period"})
_POSTER_KEYS = frozenset({"name", "title", "slug"})
_ID_PATTERN = re.compile(r"43\d{8}")


def load_postings(path: Path = POSTINGS_FILE) -> list[dict[str, Any]]:
    """Read and validate the postings, resolving ``duplicate_of`` and ``generate_large``.

    Each returned dict is the YAML entry with ``description`` filled in: copied from the
    referenced posting for a duplicate (so the YAML does not repeat a 3,000-character text),
    and extended to at least ``LARGE_DESCRIPTION_MIN_CHARS`` for ``generate_large`` (a 300 KB
    literal would make the YAML unreviewable). Validation is strict so that a typo in a key
    fails here rather than silently producing a null column.
    """
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = document["postings"]
    by_id: dict[str, dict[str, Any]] = {}
    for entry in entries:
        _validate(entry)
        if entry["job_posting_id"] in by_id:
            raise ValueError(f"duplicate job_posting_id {entry['job_posting_id']}")
        by_id[entry["job_posting_id"]] = entry

    postings: list[dict[str, Any]] = []
    for entry in entries:
        posting = dict(entry)
        source = posting.get("duplicate_of")
        if source is not None:
            if source not in by_id or "description" not in by_id[source]:
                raise ValueError(f"{posting['job_posting_id']}: duplicate_of {source} unknown")
            posting["description"] = by_id[source]["description"]
        if posting.get("generate_large"):
            posting["description"] = _large_description(posting["description"])
        postings.append(posting)
    return postings


def _validate(entry: dict[str, Any]) -> None:
    """Fail on missing or unknown keys and on values the schema could not hold."""
    posting_id = entry.get("job_posting_id")
    missing = _REQUIRED_KEYS - entry.keys()
    unknown = entry.keys() - _REQUIRED_KEYS - _OPTIONAL_KEYS
    if missing or unknown:
        raise ValueError(f"{posting_id}: missing {sorted(missing)}, unknown {sorted(unknown)}")
    if not isinstance(posting_id, str) or not _ID_PATTERN.fullmatch(posting_id):
        raise ValueError(f"{posting_id!r}: ids are 10-digit strings starting with 43")
    if entry["partition"] not in SAMPLE_PARTITIONS:
        raise ValueError(f"{posting_id}: partition {entry['partition']} not in SAMPLE_PARTITIONS")
    if ("description" in entry) == ("duplicate_of" in entry):
        raise ValueError(f"{posting_id}: give exactly one of description and duplicate_of")
    if not str(entry["case"]).strip():
        raise ValueError(f"{posting_id}: empty case note")
    salary = entry.get("salary")
    if salary is not None and set(salary) != _SALARY_KEYS:
        raise ValueError(f"{posting_id}: salary needs exactly {sorted(_SALARY_KEYS)}")
    poster = entry.get("poster")
    if poster is not None and set(poster) != _POSTER_KEYS:
        raise ValueError(f"{posting_id}: poster needs exactly {sorted(_POSTER_KEYS)}")


# Paragraphs repeated to build the ~300 KB description. Very long real postings are mostly
# this: per-location pay-transparency, benefits and legal notices pasted one after another.
_LARGE_STATES: tuple[str, ...] = (
    "Alabama", "Arizona", "California", "Colorado", "Connecticut", "Florida", "Georgia",
    "Illinois", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Nevada", "New Jersey",
    "New York", "North Carolina", "Ohio", "Oregon", "Pennsylvania", "Rhode Island", "Texas",
    "Utah", "Vermont", "Virginia", "Washington", "Wisconsin",
)  # fmt: skip
_LARGE_PARAGRAPHS: tuple[str, ...] = (
    "## Location notice {n}: {state} (revision {rev})",
    "Pay transparency for {state}: the base salary range for this role when performed in "
    "{state} is listed in the compensation section above and reflects the minimum and maximum "
    "we reasonably and in good faith expect to pay at the time of posting. Individual pay is "
    "determined by skills, experience, internal equity and the local labor market; most new "
    "hires start between the minimum and the midpoint of the range.",
    "Benefits available to employees in {state} include medical, dental and vision coverage "
    "from day one, a health savings account with an employer contribution, a 401(k) plan with "
    "a 6% company match that vests immediately, short- and long-term disability, life "
    "insurance, an employee assistance program, paid parental leave of 16 weeks and 15 days of "
    "paid time off plus 11 company holidays in the first year.",
    "Paid sick leave in {state} accrues at no less than the rate required by state and local "
    "law. Where a city or county ordinance provides a more generous accrual or carry-over, the "
    "more generous rule applies. Unused sick leave is not paid out on termination unless the "
    "law of {state} requires it.",
    "Background checks for positions in {state} are performed only after a conditional offer "
    "and in accordance with the Fair Credit Reporting Act and any applicable fair-chance "
    "hiring law. We consider qualified applicants with arrest and conviction records in a "
    "manner consistent with those laws.",
    "Reasonable accommodation: if you need assistance or an accommodation during the "
    "application process in {state} because of a disability, please contact our Talent "
    "Acquisition team at accommodations@consolidated-meridian.example and include the "
    "requisition number CM-DE-20481 in the subject line.",
)


def _large_description(base: str) -> str:
    """Extend ``base`` by cycling the notice paragraphs to at least 300,000 characters.

    Lengths are counted as the text column will hold them (heading markers dropped, one space
    between blocks), so both the YAML-level description and ``job_description_text`` pass
    the threshold.
    """
    parts = [base.rstrip("\n")]
    length = len(parts[0])
    n = 0
    while length < LARGE_DESCRIPTION_MIN_CHARS:
        state = _LARGE_STATES[n % len(_LARGE_STATES)]
        rev = n // len(_LARGE_STATES) + 1
        for paragraph in _LARGE_PARAGRAPHS:
            text = paragraph.format(n=n + 1, state=state, rev=rev)
            parts.append(text)
            length += len(text.removeprefix("## ")) + 1
        n += 1
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------------------------
# Description columns
# --------------------------------------------------------------------------------------------

_ASCII_ENTITIES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

# LinkedIn's "show more / show less" wrapper around every description (a shortened template;
# Silver's HTML column keeps it and the text column ends with the two button labels).
_HTML_HEAD = (
    '<section class="show-more-less-html" data-max-lines="5">\n'
    '        <div class="show-more-less-html__markup show-more-less-html__markup--clamp-after-5\n'
    '            relative overflow-hidden">\n'
    "          "
)
_HTML_TAIL = (
    "\n        </div>\n"
    '    <button class="show-more-less-html__button show-more-less-button\n'
    '        show-more-less-html__button--more ml-0.5" aria-label="Show more"'
    ' aria-expanded="false">\n            Show more\n    </button>\n'
    '    <button class="show-more-less-html__button show-more-less-button\n'
    '        show-more-less-html__button--less ml-0.5" aria-label="Show less"'
    ' aria-expanded="true">\n            Show less\n    </button>\n'
    "<!---->    </section>"
)
_BUTTON_LABELS = "Show more Show less"


def encode_entities(text: str) -> str:
    """Encode like LinkedIn's markup: ``&amp; &lt; &gt; &quot; &apos;`` and ``&#xHEX;``.

    Every non-ASCII character becomes an upper-case hex reference (``’`` -> ``&#x2019;``,
    ``é`` -> ``&#xE9;``, emoji -> ``&#x1F680;``), which is what upstream Silver text holds.
    """
    escaped = text.translate(_ASCII_ENTITIES)
    return _NON_ASCII.sub(lambda match: f"&#x{ord(match.group()):X};", escaped)


def _blocks(description: str) -> list[tuple[str, list[str]]]:
    """Parse the YAML's light markup into ``("heading"|"para"|"list", items)`` blocks.

    ``## `` starts a heading line, ``- `` a bullet; other lines are joined into a paragraph,
    and a blank line ends it. This is all the structure LinkedIn descriptions use.
    """
    blocks: list[tuple[str, list[str]]] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(("para", [" ".join(paragraph)]))
            paragraph.clear()

    for raw_line in description.splitlines():
        line = raw_line.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(("heading", [line[3:].strip()]))
        elif line.startswith("- "):
            flush()
            if blocks and blocks[-1][0] == "list":
                blocks[-1][1].append(line[2:].strip())
            else:
                blocks.append(("list", [line[2:].strip()]))
        else:
            paragraph.append(line)
    flush()
    return blocks


def render_description(description: str | None) -> tuple[str | None, str | None, str | None]:
    """Return ``(job_description_html, job_description_text, job_summary)``.

    Mirrors upstream Silver: the HTML is LinkedIn's markup (entities, ``<br><br>``,
    ``<strong>``, ``<ul><li>``); the text is that markup with tags replaced by single spaces,
    entities left in, a leading and trailing space (Glue does not strip) and the button labels
    at the end; the summary is the text with entities decoded and ends stripped.

    A null description gives three nulls. A blank one (``""`` or whitespace) is kept verbatim
    in the text column, the edge case we want the pipeline to meet, with an empty summary.
    """
    if description is None:
        return None, None, None
    if not description.strip():
        return _HTML_HEAD + description + _HTML_TAIL, description, ""
    html_parts: list[str] = []
    text_parts: list[str] = []
    blocks = _blocks(description)
    for index, (kind, items) in enumerate(blocks):
        encoded = [encode_entities(item) for item in items]
        text_parts.extend(encoded)
        is_last = index == len(blocks) - 1
        if kind == "heading":
            html_parts.append(f"<strong>{encoded[0]}<br><br></strong>")
        elif kind == "list":
            html_parts.append("<ul>" + "".join(f"<li>{item}</li>" for item in encoded) + "</ul>")
        else:
            html_parts.append(encoded[0] + ("" if is_last else "<br><br>"))
    body = "".join(html_parts)
    text = " " + " ".join(text_parts) + " " + _BUTTON_LABELS + " "
    return _HTML_HEAD + body + _HTML_TAIL, text, html.unescape(text).strip()


# --------------------------------------------------------------------------------------------
# skills_* columns
# --------------------------------------------------------------------------------------------

# A deliberately tiny stand-in for upstream's skills catalog: raw term -> (canonical, family).
# These columns are Silver's input to us, not our product; they only need to look real.
_SKILL_TERMS: dict[str, tuple[str, str]] = {
    "python": ("Python", "programming_languages"),
    "sql": ("SQL", "programming_languages"),
    "scala": ("Scala", "programming_languages"),
    "java": ("Java", "programming_languages"),
    "spark": ("Apache Spark", "data_processing"),
    "pyspark": ("Apache Spark", "data_processing"),
    "databricks": ("Databricks", "data_processing"),
    "dbt": ("dbt", "data_processing"),
    "hadoop": ("Hadoop", "data_processing"),
    "hive": ("Apache Hive", "data_processing"),
    "etl": ("ETL", "practices"),
    "elt": ("ELT", "practices"),
    "ci/cd": ("CI/CD", "practices"),
    "airflow": ("Apache Airflow", "orchestration"),
    "dagster": ("Dagster", "orchestration"),
    "kafka": ("Apache Kafka", "streaming"),
    "flink": ("Apache Flink", "streaming"),
    "snowflake": ("Snowflake", "data_warehouses"),
    "bigquery": ("BigQuery", "data_warehouses"),
    "redshift": ("Amazon Redshift", "data_warehouses"),
    "synapse": ("Azure Synapse Analytics", "data_warehouses"),
    "aws": ("AWS", "cloud_platforms"),
    "azure": ("Azure", "cloud_platforms"),
    "gcp": ("Google Cloud Platform", "cloud_platforms"),
    "google cloud": ("Google Cloud Platform", "cloud_platforms"),
    "kubernetes": ("Kubernetes", "devops_tools"),
    "docker": ("Docker", "devops_tools"),
    "terraform": ("Terraform", "devops_tools"),
    "git": ("Git", "devops_tools"),
    "postgresql": ("PostgreSQL", "databases"),
    "postgres": ("PostgreSQL", "databases"),
    "power bi": ("Power BI", "bi_tools"),
    "tableau": ("Tableau", "bi_tools"),
    "looker": ("Looker", "bi_tools"),
    "mlflow": ("MLflow", "ml_tools"),
    "feast": ("Feast", "ml_tools"),
    "tecton": ("Tecton", "ml_tools"),
    "pytorch": ("PyTorch", "ml_tools"),
    "llm": ("Large Language Models", "ai_ml"),
    "llms": ("Large Language Models", "ai_ml"),
    "rag": ("Retrieval-Augmented Generation", "ai_ml"),
    "iceberg": ("Apache Iceberg", "data_formats"),
    "data quality": ("Data Quality", "governance_quality"),
    "data governance": ("Data Governance", "governance_quality"),
    "collibra": ("Collibra", "governance_quality"),
    "communication": ("Communication", "soft_skills"),
    "communication skills": ("Communication", "soft_skills"),
}
_SKILL_PATTERN = re.compile(
    r"(?<![\w/])("
    + "|".join(re.escape(term) for term in sorted(_SKILL_TERMS, key=len, reverse=True))
    + r")(?![\w/])"
)


def derive_skills(text: str | None) -> tuple[list[str], list[str], list[str]]:
    """Return sorted ``(skills_canonical, skills_families, skills_raw_hits)``.

    Matches whole words in the entity-decoded, lower-cased text. Upstream never writes nulls
    here, so an empty or null description gives three empty lists.
    """
    if not text:
        return [], [], []
    lowered = html.unescape(text).lower()
    hits = set(_SKILL_PATTERN.findall(lowered))
    # "communication skills" also contains "communication": upstream reports both hits.
    if "communication skills" in hits:
        hits.add("communication")
    canonical = sorted({_SKILL_TERMS[hit][0] for hit in hits})
    families = sorted({_SKILL_TERMS[hit][1] for hit in hits})
    return canonical, families, sorted(hits)


# --------------------------------------------------------------------------------------------
# Rows, tables, files
# --------------------------------------------------------------------------------------------


def partition_path(root: Path, partition_key: str) -> Path:
    """``root/silver/year=YYYY/month=MM/day=DD/hour=HH/<FILE_NAME>``, Spark's Hive layout."""
    return root / "silver" / partition_key_to_path(partition_key) / FILE_NAME


def _timestamps(partition_key: str, index: int, posting_id: str) -> tuple[datetime, datetime]:
    """Deterministic ``(scraped_at, job_posted_datetime)`` in upstream's pattern.

    Upstream scrapes a batch in the first minute or two of the partition hour, and the
    postings were published during the previous hour; both have millisecond precision.
    """
    start = parse_partition_key(partition_key)
    scraped = start + timedelta(seconds=35, milliseconds=index * 2917 + int(posting_id) % 997)
    posted_offset_ms = 60_000 + (int(posting_id) * 7919) % 3_480_000
    posted = start - timedelta(hours=1) + timedelta(milliseconds=posted_offset_ms)
    return scraped, posted


def _row(posting: dict[str, Any], index: int) -> dict[str, Any]:
    """One Silver row for a posting, the ``index``-th of its partition."""
    posting_id = posting["job_posting_id"]
    scraped, posted = _timestamps(posting["partition"], index, posting_id)
    description_html, description_text, summary = render_description(posting["description"])
    canonical, families, raw_hits = derive_skills(description_text)
    salary = posting.get("salary") or {}
    poster = posting.get("poster") or {}
    posted_date: date = posted.date()
    return {
        "job_posting_id": posting_id,
        "source_system": SOURCE_SYSTEM,
        "url": f"https://www.linkedin.com/jobs/view/{posting_id}",
        "scraped_at": scraped,
        "company_name": posting["company_name"],
        "company_id": str(posting["company_id"]),
        "company_url": (
            f"https://www.linkedin.com/company/{posting['company_slug']}"
            "?trk=public_jobs_topcard-org-name"
        ),
        "job_title": posting["job_title"],
        "job_seniority_level": posting["job_seniority_level"],
        "job_function": posting["job_function"],
        "job_employment_type": posting["job_employment_type"],
        "job_industries": posting["job_industries"],
        "job_location": posting["job_location"],
        "country_code": posting["country_code"],
        "job_posted_datetime": posted,
        "job_posted_date_only": posted_date,
        "application_availability": posting.get("application_availability", True),
        "apply_link": posting.get("apply_link"),
        "job_num_applicants": posting["job_num_applicants"],
        "salary_min": None if not salary else float(salary["min"]),
        "salary_max": None if not salary else float(salary["max"]),
        "salary_currency": salary.get("currency"),
        "salary_period": salary.get("period"),
        "job_poster_name": poster.get("name"),
        "job_poster_title": poster.get("title"),
        "job_poster_url": (f"https://www.linkedin.com/in/{poster['slug']}" if poster else None),
        "job_summary": summary,
        "job_description_html": description_html,
        "job_description_text": description_text,
        "skills_canonical": canonical,
        "skills_families": families,
        "skills_raw_hits": raw_hits,
        "skills_catalog_version": SKILLS_CATALOG_VERSION,
    }


def build_tables(postings: Sequence[dict[str, Any]] | None = None) -> dict[str, pa.Table]:
    """One Arrow table per partition key, rows in YAML order, typed by ``sample_schema``."""
    postings = load_postings() if postings is None else postings
    schema = sample_schema()
    tables: dict[str, pa.Table] = {}
    for partition_key in SAMPLE_PARTITIONS:
        members = [p for p in postings if p["partition"] == partition_key]
        rows = [_row(posting, index) for index, posting in enumerate(members)]
        tables[partition_key] = pa.Table.from_pylist(rows, schema=schema)
    return tables


#: Fixed writer options, each chosen to look like Spark's output and to stay reproducible:
#: INT96 timestamps as Spark 3.3 writes them (read back as ``timestamp[ns]``), snappy as in
#: Spark's ``.snappy.parquet``, format 1.0 like parquet-mr's files, and no ``ARROW:schema``
#: blob, so a reader derives the schema from the Parquet types alone, as with Spark's files.
_WRITE_OPTIONS: dict[str, Any] = {
    "compression": "snappy",
    "use_deprecated_int96_timestamps": True,
    "version": "1.0",
    "data_page_version": "1.0",
    "store_schema": False,
    "use_dictionary": True,
    "write_statistics": True,
}


def write_table(table: pa.Table, path: Path) -> None:
    """Write one Silver file with ``_WRITE_OPTIONS`` and Spark's key-value metadata.

    ``store_schema=False`` makes pyarrow drop the schema metadata too, so the two Spark keys
    are added to the footer explicitly; readers then see exactly ``sample_schema()``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {key.decode(): value.decode() for key, value in table.schema.metadata.items()}
    with pq.ParquetWriter(path, table.schema, **_WRITE_OPTIONS) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata(metadata)


def write_sample(root: Path) -> list[Path]:
    """Write every sample partition under ``root`` and return the files written, in order."""
    written: list[Path] = []
    for partition_key, table in build_tables().items():
        path = partition_path(root, partition_key)
        write_table(table, path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m enrichment_dagster_tests.sample_data.build",
        description="Write the Silver sample Parquet files from postings.yaml.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=COMMITTED_ROOT,
        help="root folder; files go to OUT/silver/year=.../hour=HH/ (default: the committed copy)",
    )
    args = parser.parse_args(argv)
    for path in write_sample(args.out):
        rows = pq.ParquetFile(path).metadata.num_rows
        print(f"{path}  {rows} rows  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
