"""The Silver sample is shaped like upstream's files and covers the edge cases it promises.

The demo and most tests read these files instead of real data, so a drift from Spark's schema
or a lost edge case would go unnoticed everywhere else; these tests catch both. Edge cases are
checked on the committed Parquet (what consumers read), not on the YAML.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from enrichment_dagster.storage.partition_keys import parse_partition_key
from enrichment_dagster_tests.sample_data.build import (
    COMMITTED_ROOT,
    LARGE_DESCRIPTION_MIN_CHARS,
    SAMPLE_PARTITIONS,
    load_postings,
    partition_path,
    sample_schema,
    write_sample,
)

REGENERATE = "python -m enrichment_dagster_tests.sample_data.build"
SPARK_ROW_METADATA = b"org.apache.spark.sql.parquet.row.metadata"
LINKEDIN_SENIORITY = {
    "Internship",
    "Entry level",
    "Associate",
    "Mid-Senior level",
    "Director",
    "Executive",
    "Not Applicable",
}

Row = dict[str, Any]


def committed_files() -> list[Path]:
    return [partition_path(COMMITTED_ROOT, key) for key in SAMPLE_PARTITIONS]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    """All rows of the committed files, with their partition key added."""
    result: list[Row] = []
    for key, path in zip(SAMPLE_PARTITIONS, committed_files(), strict=True):
        for row in pq.read_table(path).to_pylist():
            result.append({**row, "_partition": key})
    return result


@pytest.fixture(scope="module")
def by_id(rows: list[Row]) -> dict[str, Row]:
    return {row["job_posting_id"]: row for row in rows}


def summary(row: Row) -> str:
    """Decoded description text ('' for null), what a reader of the posting sees."""
    return html.unescape(row["job_description_text"] or "")


# ------------------------------------------------------------------------------- schema


def real_silver_files(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "silver").glob("**/*.parquet"))
    assert files, f"no Silver Parquet under {shared_data / 'silver'}"
    return files


def test_sample_schema_equals_real_spark_schema(shared_data: Path) -> None:
    for path in real_silver_files(shared_data):
        real = pq.read_schema(path)
        assert real.equals(sample_schema(), check_metadata=False), path
        # Spark's own description of the columns (names, types, NOT NULL) matches too.
        assert real.metadata[SPARK_ROW_METADATA] == sample_schema().metadata[SPARK_ROW_METADATA]


def test_committed_files_equal_real_spark_schema(shared_data: Path) -> None:
    real = pq.read_schema(real_silver_files(shared_data)[0])
    for path in committed_files():
        assert pq.read_schema(path).equals(real, check_metadata=False), path


def test_committed_files_have_sample_schema() -> None:
    for path in committed_files():
        assert pq.read_schema(path).equals(sample_schema(), check_metadata=True), path


def test_schema_has_spark_column_types() -> None:
    """The types called out in the Silver reference, spelled out so a change is deliberate."""
    schema = sample_schema()
    assert len(schema) == 33
    expected = {
        "scraped_at": "timestamp[ns]",
        "job_posted_datetime": "timestamp[ns]",
        "job_posted_date_only": "date32[day]",
        "job_num_applicants": "int32",
        "salary_min": "double",
        "salary_max": "double",
        "application_availability": "bool",
        "job_industries": "string",
        "skills_canonical": "list<element: string>",
        "skills_families": "list<element: string>",
        "skills_raw_hits": "list<element: string>",
    }
    for name, type_name in expected.items():
        assert str(schema.field(name).type) == type_name, name
    assert [field.name for field in schema if not field.nullable] == ["source_system"]


def test_files_are_written_like_spark() -> None:
    """INT96 timestamps, snappy, one row group: what downstream readers meet upstream."""
    for path in committed_files():
        metadata = pq.ParquetFile(path).metadata
        assert metadata.num_row_groups == 1
        columns = {
            metadata.schema.column(i).name: metadata.schema.column(i).physical_type
            for i in range(metadata.num_columns)
        }
        assert columns["scraped_at"] == "INT96"
        assert columns["job_posted_datetime"] == "INT96"
        assert metadata.row_group(0).column(0).compression == "SNAPPY"
        assert b"ARROW:schema" not in metadata.metadata


# ------------------------------------------------------------------------------- size & ids


def test_at_least_40_postings_over_3_partitions(rows: list[Row]) -> None:
    assert len(rows) >= 40
    per_partition = Counter(row["_partition"] for row in rows)
    assert len(per_partition) >= 3
    assert set(per_partition) == set(SAMPLE_PARTITIONS)
    assert min(per_partition.values()) >= 10


def test_yaml_and_files_agree(rows: list[Row]) -> None:
    postings = load_postings()
    assert [p["job_posting_id"] for p in postings] == [row["job_posting_id"] for row in rows]
    assert all(str(p["case"]).strip() for p in postings)


def test_ids_unique_and_linkedin_like(rows: list[Row]) -> None:
    ids = [row["job_posting_id"] for row in rows]
    assert len(ids) == len(set(ids))
    for row in rows:
        assert re.fullmatch(r"43\d{8}", row["job_posting_id"])
        assert row["url"] == f"https://www.linkedin.com/jobs/view/{row['job_posting_id']}"


def test_upstream_constants_and_vocabularies(rows: list[Row]) -> None:
    assert {row["source_system"] for row in rows} == {"linkedin"}
    assert {row["skills_catalog_version"] for row in rows} == {"v1.0"}
    assert {row["job_seniority_level"] for row in rows} <= LINKEDIN_SENIORITY
    assert {row["country_code"] for row in rows} == {"US", None}
    assert {row["salary_period"] for row in rows} == {"yr", "hr", None}
    assert "$" in {row["salary_currency"] for row in rows}
    assert {"Full-time", "Contract", "Internship", "Part-time"} <= {
        row["job_employment_type"] for row in rows
    }
    for row in rows:
        for column in ("skills_canonical", "skills_families", "skills_raw_hits"):
            assert row[column] is not None, (row["job_posting_id"], column)


def test_timestamps_follow_upstream_pattern(rows: list[Row]) -> None:
    """Scraped in the partition hour, posted in the hour before, date column consistent."""
    for row in rows:
        start = parse_partition_key(row["_partition"])
        assert start <= row["scraped_at"] < start + timedelta(hours=1)
        assert start - timedelta(hours=1) <= row["job_posted_datetime"] < start
        assert row["job_posted_date_only"] == row["job_posted_datetime"].date()


def test_text_keeps_upstream_oddities(rows: list[Row]) -> None:
    """HTML entities left in the text, untrimmed ends, summary decoded and trimmed."""
    texts = [row["job_description_text"] for row in rows if (row["job_description_text"] or "")]
    assert any("&#x2019;" in text for text in texts)
    assert any("&amp;" in text for text in texts)
    normal = [text for text in texts if text.strip()]
    assert all(text.startswith(" ") and text.endswith(" ") for text in normal)
    for row in rows:
        if row["job_description_text"] is not None:
            assert row["job_summary"] == summary(row).strip()


# ------------------------------------------------------------------------------- edge cases

CLOUDS = {"AWS", "Azure", "Google Cloud Platform"}


def clouds(row: Row) -> set[str]:
    return set(row["skills_canonical"]) & CLOUDS


def has(pattern: str) -> Callable[[Row], bool]:
    regex = re.compile(pattern, re.IGNORECASE)
    return lambda row: bool(regex.search(summary(row)))


# Each named case must hold for at least one row of the committed files.
EDGE_CASES: dict[str, Callable[[Row], bool]] = {
    "empty description": lambda row: row["job_description_text"] == "",
    "whitespace-only description": lambda row: (
        bool(row["job_description_text"]) and not row["job_description_text"].strip()
    ),
    "null description": lambda row: row["job_description_text"] is None,
    "~300 KB description": lambda row: (
        len(row["job_description_text"] or "") >= LARGE_DESCRIPTION_MIN_CHARS
    ),
    "French posting": has(r"Vos missions.*Votre profil"),
    "German posting": has(r"Deine Aufgaben.*Dein Profil"),
    "emoji": lambda row: any(ord(char) >= 0x1F300 for char in summary(row)),
    "Arabic and Hebrew (RTL) text": lambda row: (
        bool(re.search(r"[\u0600-\u06FF]", summary(row)))
        and bool(re.search(r"[\u0590-\u05FF]", summary(row)))
    ),
    "prompt injection": has(r"Ignore all previous instructions.*\"salary_min\": 999999"),
    "HTML-heavy text": has(r"<table.*<td.*&nbsp;"),
    "US yearly $ in Silver": lambda row: (
        row["salary_currency"] == "$" and row["salary_period"] == "yr"
    ),
    "US hourly $ in Silver": lambda row: (
        row["salary_currency"] == "$" and row["salary_period"] == "hr"
    ),
    "UK £": has(r"£\d{2},\d{3}"),
    "€ with dot thousands": has(r"\d{2}\.000 €"),
    "€ with space thousands": has(r"\d{2} 000 €"),
    "India ₹ LPA / lakhs": has(r"₹\d+.*LPA.*lakhs"),
    "India ₹ lakh digit grouping": has(r"₹\d{2},\d{2},\d{3}"),
    "Brazil R$ monthly": has(r"R\$ \d+\.\d{3} a R\$ \d+\.\d{3} por mês"),
    "Canada C$": has(r"C\$\d"),
    "Canada CAD": has(r"CAD \d"),
    "Switzerland CHF": has(r"CHF \d{3},\d{3}"),
    "salary k-range": has(r"\$\d+k\s*[-–]\s*\$\d+k"),
    "salary DOE": has(r"Salary: DOE"),
    "pay range by location": has(r"\$120,000–\$150,000 in Seattle; \$110,000–\$140,000 elsewhere"),
    "pay only in Silver columns": lambda row: (
        row["salary_min"] is not None
        and not re.search(r"[$£€₹]\s?\d|salary|pay\b", summary(row), re.IGNORECASE)
    ),
    "no pay at all": lambda row: (
        row["salary_min"] is None
        and bool(summary(row).strip())
        and not re.search(r"[$£€₹]\s?\d|\d\s?[€$£]|DOE|CHF|CAD|AED", summary(row))
    ),
    "remote only in title": lambda row: (
        "Remote" in row["job_title"] and row["job_location"] == "United States"
    ),
    "remote only in location": lambda row: (
        row["job_location"] == "Remote - US" and "remote" not in summary(row).lower()
    ),
    "hybrid": has(r"\bhybrid\b"),
    "onsite": has(r"\bon-?site\b"),
    "will sponsor": has(r"will sponsor|we sponsor|can sponsor"),
    "will not sponsor": has(r"unable to sponsor|cannot sponsor|not able to offer visa"),
    "no C2C / no H-1B": has(r"No C2C.*No H-1B"),
    "must be authorized without sponsorship": has(
        r"authorized to work in the US without sponsorship"
    ),
    "visa not mentioned": lambda row: (
        bool(summary(row).strip())
        and not re.search(r"visa|sponsor|authori[sz]|citizen|right to work", summary(row), re.I)
    ),
    "6-month contract": has(r"6-month|6 months"),
    "contract-to-hire": has(r"contract-to-hire"),
    "W2 only": has(r"W2 ONLY"),
    "C2C accepted": has(r"C2C .*is accepted|W2 or C2C"),
    "internship": lambda row: row["job_employment_type"] == "Internship",
    "part-time": lambda row: row["job_employment_type"] == "Part-time",
    "years as a range": has(r"\b\d–\d years"),
    "years with plus": has(r"\b5\+ years"),
    "years in words": has(r"\bfive years\b"),
    "Bachelor's required": has(r"Bachelor’s degree required|Bachelor’s degree .*\(required\)"),
    "Master's preferred": has(r"Master’s degree (is )?preferred"),
    "PhD": has(r"\bPhD\b"),
    "or equivalent experience": has(r"or equivalent (work |practical )?experience"),
    "TS/SCI clearance": has(r"TS/SCI"),
    "equity / RSUs": has(r"\bRSUs\b|restricted stock units"),
    "learning budget": has(r"learning (and development )?budget"),
    "unlimited PTO": has(r"unlimited PTO"),
    "LLM / GenAI / RAG": has(r"\bRAG\b.*\bLLM"),
    "feature store (Feast/Tecton)": has(r"Feast.*Tecton"),
    "AWS-only": lambda row: clouds(row) == {"AWS"},
    "Azure-only": lambda row: clouds(row) == {"Azure"},
    "GCP-only": lambda row: clouds(row) == {"Google Cloud Platform"},
    "multi-cloud": lambda row: len(clouds(row)) >= 2,
    "on-prem Hadoop": has(r"on-premise Cloudera Hadoop"),
    "country_code null for 'United States'": lambda row: (
        row["job_location"] == "United States" and row["country_code"] is None
    ),
    "application no longer available": lambda row: row["application_availability"] is False,
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_case_present(name: str, rows: list[Row]) -> None:
    matches = [row["job_posting_id"] for row in rows if EDGE_CASES[name](row)]
    assert matches, f"no posting covers the edge case {name!r}"


def test_duplicate_description_under_another_id(by_id: dict[str, Row]) -> None:
    duplicates = [p for p in load_postings() if p.get("duplicate_of")]
    assert duplicates
    for posting in duplicates:
        copy, original = by_id[posting["job_posting_id"]], by_id[posting["duplicate_of"]]
        assert copy["job_posting_id"] != original["job_posting_id"]
        assert copy["job_description_text"] == original["job_description_text"]
        assert copy["job_description_text"].strip()


def test_blank_and_null_descriptions_have_consistent_columns(rows: list[Row]) -> None:
    for row in rows:
        text = row["job_description_text"]
        if text is None:
            assert row["job_summary"] is None and row["job_description_html"] is None
        if text is None or not text.strip():
            assert row["skills_canonical"] == [] and row["skills_raw_hits"] == []


# ------------------------------------------------------------------------------- determinism


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a")
    second = write_sample(tmp_path / "b")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a


def test_committed_files_match_a_fresh_build(tmp_path: Path) -> None:
    """The committed Parquet is exactly what the YAML and builder produce today.

    Bytes also depend on the pyarrow version (pinned in pyproject.toml): after an upgrade or
    any edit of the YAML or builder, regenerate and commit the files.
    """
    written = write_sample(tmp_path)
    assert [p.relative_to(tmp_path) for p in written] == [
        p.relative_to(COMMITTED_ROOT) for p in committed_files()
    ]
    for fresh, committed in zip(written, committed_files(), strict=True):
        assert fresh.read_bytes() == committed.read_bytes(), (
            f"{committed} is stale: run `{REGENERATE}` and commit the result"
        )


def test_no_stray_files_in_committed_silver() -> None:
    found = sorted(p for p in (COMMITTED_ROOT / "silver").rglob("*") if p.is_file())
    assert found == sorted(committed_files())
