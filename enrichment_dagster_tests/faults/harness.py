"""Shared pieces of the fault tests: Silver files built in the test, and enrich_job in process.

The fault tests run the real path (read_partition -> prepare_silver -> run_pass -> Parquet
IO manager -> build_silver_ai -> checks) against a temp folder, with Silver files written
here with pyarrow in the upstream Spark schema (``sample_schema``). Building the rows in
the test keeps each hostile case next to its assertion instead of in the shared sample.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from enrichment_dagster.assets.passes import pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.parquet import read_partition
from enrichment_dagster.storage.partition_keys import partition_key_to_path
from enrichment_dagster_tests.sample_data.build import sample_schema

KEY = "2025-12-11-08:00"
MODEL = "openai.gpt-oss-120b-1:0"

DEFAULT_DESCRIPTION = (
    "We are hiring a Senior Data Engineer to build batch and streaming pipelines on AWS "
    "with Python, SQL, Apache Spark and Airflow. 5+ years of experience required. "
    "This is a hybrid role in New York, NY. Salary: $150,000 - $180,000 per year. "
    "We will sponsor H-1B visas. Benefits include health insurance and 401(k)."
)


def silver_row(job_posting_id: str, description: str | None = DEFAULT_DESCRIPTION,
               **overrides: Any) -> dict[str, Any]:
    """One Silver row in the upstream schema; the text columns derive from ``description``."""
    scraped = dt.datetime(2025, 12, 11, 8, 0, 35)
    row: dict[str, Any] = {
        "job_posting_id": job_posting_id,
        "source_system": "linkedin",
        "url": f"https://www.linkedin.com/jobs/view/{job_posting_id}",
        "scraped_at": scraped,
        "company_name": "Acme Data",
        "company_id": "1234",
        "company_url": "https://www.linkedin.com/company/acme-data",
        "job_title": "Senior Data Engineer",
        "job_seniority_level": "Mid-Senior level",
        "job_function": "Engineering",
        "job_employment_type": "Full-time",
        "job_industries": "Software Development",
        "job_location": "New York, NY",
        "country_code": "US",
        "job_posted_datetime": scraped - dt.timedelta(minutes=40),
        "job_posted_date_only": scraped.date(),
        "application_availability": True,
        "apply_link": None,
        "job_num_applicants": 25,
        "salary_min": None,
        "salary_max": None,
        "salary_currency": None,
        "salary_period": None,
        "job_poster_name": None,
        "job_poster_title": None,
        "job_poster_url": None,
        "job_summary": None if description is None else description[:200],
        "job_description_html": None if description is None else f"<p>{html.escape(description)}</p>",
        "job_description_text": description,
        "skills_canonical": ["Python", "SQL"],
        "skills_families": ["language"],
        "skills_raw_hits": ["python", "sql"],
        "skills_catalog_version": "v1.0",
    }
    row.update(overrides)
    return row


def silver_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([dict(r) for r in rows], schema=sample_schema())


def silver_folder(root: Path, key: str = KEY) -> Path:
    return root / "silver" / partition_key_to_path(key)


def write_silver(root: Path, table: pa.Table, key: str = KEY,
                 name: str = "part-00000-test.c000.snappy.parquet") -> Path:
    """Write one Spark-like part file (INT96 timestamps, as Spark 3.3 writes them)."""
    folder = silver_folder(root, key)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(table, path, compression="snappy", use_deprecated_int96_timestamps=True)
    return path


def defs_for(root: Path, llm: LLMResource | None = None,
             quality: QualityThresholds | None = None) -> Definitions:
    uri = str(root)
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai],
        jobs=[enrich_job],
        resources={
            "storage": StorageResource(storage_uri=uri),
            "llm": llm or LLMResource(backend="heuristic"),
            "quality": quality or QualityThresholds(),
            "parquet_io_manager": ParquetIOManager(storage_uri=uri),
        },
    )


def bedrock_llm(endpoint_url: str, **settings: Any) -> LLMResource:
    """The Bedrock backend pointed at the fake server (one model for every pass)."""
    return LLMResource(backend="bedrock", bedrock_endpoint_url=endpoint_url,
                       aws_region="us-east-1", concurrency=4, **settings)


@dataclass
class JobRun:
    """The result of one in-process run plus the instance that holds its logs."""

    result: ExecuteInProcessResult
    instance: DagsterInstance

    @property
    def success(self) -> bool:
        return self.result.success

    def metadata(self, asset: str) -> dict[str, Any]:
        """The materialization metadata of ``asset`` in this run."""
        (event,) = [e for e in self.result.get_asset_materialization_events()
                    if e.asset_key.to_user_string() == asset]
        return {k: v.value for k, v in event.materialization.metadata.items()}

    def checks(self) -> dict[str, bool]:
        return {e.check_name: e.passed for e in self.result.get_asset_check_evaluations()}

    def log_messages(self) -> list[str]:
        """Every user log line of the run (``context.log.*``), e.g. Silver warnings."""
        return [entry.user_message for entry in self.instance.all_logs(self.result.run_id)
                if entry.dagster_event is None]

    def failure_messages(self) -> str:
        return " ".join(str(e.event_specific_data.error) for e in self.result.all_events
                        if e.is_step_failure)


def run_job(defs: Definitions, key: str = KEY, raise_on_error: bool = True) -> JobRun:
    job = defs.resolve_job_def("enrich_job")
    instance = DagsterInstance.ephemeral()
    result = job.execute_in_process(partition_key=key, instance=instance,
                                    raise_on_error=raise_on_error)
    return JobRun(result, instance)


def read_output(root: Path, dataset: str, key: str = KEY) -> dict[str, dict[str, Any]]:
    """A written partition by ``job_posting_id``."""
    table = read_partition(StorageResource(storage_uri=str(root)).root, dataset, key)
    return {row["job_posting_id"]: row for row in table.to_pylist()}
