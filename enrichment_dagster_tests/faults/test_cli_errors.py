"""The console script on bad input: one line naming the input, exit 2, no traceback.

Runs the real ``enrichment`` entry point (``python -m enrichment_dagster.cli``) in a
subprocess over bad paths, files, identifiers, numbers and ``ENRICHMENT_*`` values.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enrichment_dagster_tests.sample_data.build import sample_schema


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "enrichment_dagster.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={**os.environ, **env},
    )


def assert_input_error(result: subprocess.CompletedProcess[str], *names: str) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("enrichment"), lines
    for name in names:
        assert name in lines[0], (name, lines[0])


def silver_file(path: Path, ids: list[str | None]) -> Path:
    rows = [{"job_posting_id": i, "source_system": "linkedin", "job_title": "Data Engineer",
             "job_description_text": "Python and SQL, $150,000 - $180,000 per year."} for i in ids]
    pq.write_table(pa.Table.from_pylist(rows, schema=sample_schema()), path)
    return path


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "answers" / "123" / "pass1-m-raw.txt").mkdir(parents=True)  # a folder
    (tmp_path / "notparquet.parquet").write_bytes(b"PAR1 not really")
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    (tmp_path / "afile.txt").write_text("x")
    return tmp_path


@pytest.mark.parametrize("args,names", [
    (["parse-report", "nothere"], ["nothere"]),
    (["parse-report", "afile.txt"], ["afile.txt"]),
    (["evaluate", "consensus", "nothere"], ["nothere"]),
    (["evaluate", "consensus", "answers", "--min-models", "x"], ["--min-models"]),
    (["evaluate", "consensus", "answers", "--jobs-file", "nothere.txt"], ["nothere.txt"]),
    (["prompt-report", "missing.parquet"], ["missing.parquet"]),
    (["prompt-report", "notparquet.parquet"], ["notparquet.parquet"]),
    (["prompt-report", "empty.parquet"], ["empty.parquet"]),
    (["prompt-report", "data.csv"], ["data.csv"]),
    (["prompt-report", "answers"], ["answers"]),
    (["prompt-report", "afile.txt", "--max-input-tokens", "0"], ["--max-input-tokens"]),
    (["prompt-report", "afile.txt", "--max-input-tokens", "many"], ["--max-input-tokens"]),
    (["prompt-report", "afile.txt", "--reference", "nothere"], ["nothere"]),
    (["data-dictionary", "--out", "answers"], ["answers"]),
    (["data-dictionary", "--out", "afile.txt/inside.md"], ["afile.txt"]),
    (["athena-ddl", "--location", "s3://"], ["s3://"]),
    (["athena-ddl", "--location", "s3:///prefix"], ["s3:///prefix"]),
    (["athena-ddl", "--location", "gs://bucket/x"], ["gs://bucket/x"]),
    (["athena-ddl", "--location", "s3://bucket//x"], ["s3://bucket//x"]),
    (["athena-ddl", "--location", "s3://bucket/it's"], ["it's"]),
    (["athena-ddl", "--location", ""], ["--location"]),
    (["athena-ddl", "--location", "s3://bucket/x", "--database", ""], ["--database"]),
    (["athena-ddl", "--location", "s3://bucket/x", "--database", "a b"], ["a b"]),
    (["athena-ddl", "--location", "s3://bucket/x", "--table", "t;drop"], ["t;drop"]),
    (["athena-ddl", "--location", "s3://bucket/x", "--table", "`t`"], ["`t`"]),
    (["athena-ddl", "--location", "s3://bucket/x", "--years", "2030,2020"], ["2030,2020"]),
    (["athena-ddl", "--location", "s3://bucket/x", "--years", "0,3"], ["0,3"]),
])
def test_bad_arguments_are_one_line_exit_2(work: Path, args: list[str], names: list[str]) -> None:
    assert_input_error(run(args, work), *names)


@pytest.mark.parametrize("name,value", [
    ("ENRICHMENT_STORAGE_URI", "s3://"),
    ("ENRICHMENT_STORAGE_URI", "ftp://host/x"),
    ("ENRICHMENT_PARTITIONS_START", "yesterday"),
    ("ENRICHMENT_PARTITIONS_START", "2025-13-01-00:00"),
])
def test_malformed_environment_names_the_variable_in_the_cli(work: Path, name: str, value: str) -> None:
    args = ["athena-ddl"] if name == "ENRICHMENT_STORAGE_URI" else ["athena-ddl", "--location", "s3://bucket/x"]
    assert_input_error(run(args, work, **{name: value}), name, value)


@pytest.mark.parametrize("name,value", [
    ("ENRICHMENT_BUDGET_USD", "abc"), ("ENRICHMENT_BUDGET_USD", "-1"),
    ("ENRICHMENT_BUDGET_USD", "nan"), ("ENRICHMENT_CONCURRENCY", "eight"),
    ("ENRICHMENT_CONCURRENCY", "0"), ("ENRICHMENT_MAX_ATTEMPTS", "1.5"),
    ("ENRICHMENT_REQUESTS_PER_MINUTE", "fast"), ("ENRICHMENT_TOKENS_PER_MINUTE", "-3"),
    ("ENRICHMENT_SENSOR_INTERVAL_S", "1m"), ("ENRICHMENT_SENSORS_RUNNING", "maybe"),
    ("ENRICHMENT_LLM_BACKEND", "gpt"), ("ENRICHMENT_STORAGE_URI", "s3://"),
    ("ENRICHMENT_PARTITIONS_START", "soon"),
])
def test_malformed_environment_names_the_variable_when_definitions_load(
    tmp_path: Path, name: str, value: str
) -> None:
    code = "import enrichment_dagster.definitions as d; d.defs.get_repository_def()"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, env={**os.environ, name: value})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "InputError" in last and name in last and repr(value) in last, last


def test_prompt_report_reports_a_null_id_per_row(work: Path) -> None:
    silver_file(work / "silver.parquet", ["1", None, "3"])
    result = run(["prompt-report", "silver.parquet", "--heuristic-context"], work)
    assert result.returncode == 0, result.stderr
    assert "2 records" in result.stdout
    assert "skipped silver.parquet: row 1:" in result.stdout


def test_prompt_report_with_only_bad_rows_is_an_input_error(work: Path) -> None:
    silver_file(work / "silver.parquet", [None, None])
    assert_input_error(run(["prompt-report", "silver.parquet", "--heuristic-context"], work),
                       "silver.parquet")


def test_parse_report_counts_deep_json_and_skips_folders_named_like_answers(work: Path) -> None:
    (work / "answers" / "124").mkdir()
    (work / "answers" / "124" / "pass1-m-raw.txt").write_text("[" * 50_000 + "]" * 50_000)
    result = run(["parse-report", "answers", "--json"], work)
    assert result.returncode == 0, result.stderr
    assert '"files": 1' in result.stdout and "Traceback" not in result.stderr


def test_evaluate_consensus_survives_deep_json_and_writes_into_a_new_folder(work: Path) -> None:
    job = work / "runs" / "4201877691"
    job.mkdir(parents=True)
    (job / "pass1-google-gemma-3-27b-it.json").write_text("[" * 100_000 + "]" * 100_000)
    (job / "pass1-minimax-minimax-m2.json").mkdir()  # a folder named like an answer file
    for method in ("v2", "legacy"):
        out = work / "new" / method / "report.md"
        result = run(["evaluate", "consensus", "runs", "--method", method, "--out", str(out)], work)
        assert result.returncode == 0, result.stderr
        assert out.is_file()


def test_out_into_a_missing_folder_is_created(work: Path) -> None:
    result = run(["data-dictionary", "--out", "a/b/c/dictionary.md"], work)
    assert result.returncode == 0, result.stderr
    assert (work / "a" / "b" / "c" / "dictionary.md").stat().st_size > 0


def test_valid_athena_ddl_still_prints(work: Path) -> None:
    result = run(["athena-ddl", "--location", "s3://my-bucket/data/silver_ai/",
                  "--database", "jobs_db", "--table", "silver_ai"], work)
    assert result.returncode == 0, result.stderr
    assert "`jobs_db`.`silver_ai`" in result.stdout
    assert "LOCATION 's3://my-bucket/data/silver_ai/'" in result.stdout
