"""What an answer cost, whichever path bought it, and ``enrichment cost-report`` over it.

Two silver_ai partitions are built through the real path on moto S3: pass 1 of the first
is answered by Bedrock batch inference (the fake control plane), everything else on-demand
(the fake Bedrock runtime over boto3); the passes then serve the batch answers from the
cache, as the assets do. The report's figures are checked against a recomputation from the
written tables with pyarrow and the price table.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from enrichment_dagster.cli import main
from enrichment_dagster.contracts.output import (
    PRICING_VALUES,
    pass_table_schema,
    silver_ai_schema,
)
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import batch, cost_report
from enrichment_dagster.engine.cache import CachedAnswer
from enrichment_dagster.engine.config import DEFAULT_MODEL, EngineConfig
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.engine.runner import run_pass
from enrichment_dagster.engine.tables import (
    build_silver_ai,
    outputs_from_table,
    pass_table,
    prepare_silver,
)
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.llm.bedrock_batch import BatchClient
from enrichment_dagster.llm.prices import PRICINGS, get_model
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import read_partition, write_partition
from enrichment_dagster_tests.engine.answers import answer_by_pass, full_answer
from enrichment_dagster_tests.engine.conftest import make_records
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock
from enrichment_dagster_tests.fakes.s3 import FAKE_AWS_ENV, MotoS3

ROLE = "arn:aws:iam::123456789012:role/enrichment-batch"
BATCH_KEY, ON_DEMAND_KEY = "2025-12-10-19:00", "2025-12-10-20:00"
BATCH_RECORDS, ON_DEMAND_RECORDS = 100, 4  # 100: Bedrock's minimum per batch job
MODEL = DEFAULT_MODEL


@dataclass(frozen=True)
class Built:
    root: StorageRoot
    endpoint_url: str
    batch_outcome: dict[str, Any]


def _silver(records: list[SilverRecord]) -> pa.Table:
    """Silver rows as upstream lands them (the columns the enrichment reads)."""
    return pa.Table.from_pylist([
        {"job_posting_id": r.job_posting_id, "job_title": r.job_title,
         "job_description_text": r.job_description_text} for r in records])


def _enrich(root: StorageRoot, cache: CacheStore, backend: BedrockBackend, key: str,
            silver: pa.Table) -> None:
    """pass1 -> pass2 -> pass3 -> silver_ai for one partition, as the assets run them."""
    silver_batch = prepare_silver(silver)
    records, config, tables = silver_batch.records, EngineConfig(), {}
    previous: dict[str, PassContext] | None = None
    for n in (1, 2, 3):
        tables[n] = pass_table(n, run_pass(records, n, backend, config, cache, previous))
        write_partition(root, f"pass{n}", key, tables[n], pass_table_schema(n))
        p1 = outputs_from_table(1, tables[1])
        p2 = outputs_from_table(2, tables[2]) if n >= 2 else {}
        previous = {rid: PassContext(pass1=p1[rid], pass2=p2.get(rid)) for rid in p1}
    write_partition(root, "silver_ai", key, build_silver_ai(silver_batch, tables),
                    silver_ai_schema())


@pytest.fixture(scope="module")
def built(moto_s3: MotoS3) -> Iterator[Built]:
    """Partition BATCH_KEY: pass 1 by batch (plus one record without text, never sent),
    passes 2-3 on-demand; partition ON_DEMAND_KEY: every pass on-demand."""
    with pytest.MonkeyPatch.context() as patch, FakeBedrock() as fake:
        # Module scope is set up before the per-test dummy credentials (aws_test_env).
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        fake.configure(default_answers=dict(answer_by_pass()))
        fake.batch.configure(s3_endpoint_url=moto_s3.endpoint_url)
        root = StorageRoot(moto_s3.storage_uri("cost"), endpoint_url=moto_s3.endpoint_url)
        cache = CacheStore(root)
        by_batch = make_records(BATCH_RECORDS, prefix="b")
        empty = SilverRecord(job_posting_id="no-text", job_title="Data Engineer")
        options = batch.BatchOptions(ROLE)
        plan = batch.plan_pass([*by_batch, empty], 1, EngineConfig(), cache, root, options)
        assert plan.records == BATCH_RECORDS and plan.no_posting_text == 1
        client = BatchClient(endpoint_url=fake.endpoint_url)
        batch.submit_plan(plan, root, client, options)
        outcome = batch.summarize(batch.wait_and_collect(root, cache, client, EngineConfig(),
                                                         poll_s=0.05))
        assert outcome["answered"] == BATCH_RECORDS

        backend = BedrockBackend(endpoint_url=fake.endpoint_url)
        _enrich(root, cache, backend, BATCH_KEY, _silver([*by_batch, empty]))
        _enrich(root, cache, backend, ON_DEMAND_KEY,
                _silver(make_records(ON_DEMAND_RECORDS, prefix="d")))
        yield Built(root, moto_s3.endpoint_url, outcome)


def _on_demand(tokens_in: int, tokens_out: int) -> float:
    return get_model(MODEL).cost_usd(tokens_in, tokens_out)


# ---------------------------------------------------------------- the stored columns
def test_pass_tables_say_what_each_answer_cost_and_how_it_was_bought(built: Built) -> None:
    p1 = {r["job_posting_id"]: r for r in read_partition(built.root, "pass1", BATCH_KEY).to_pylist()}
    p2 = {r["job_posting_id"]: r for r in read_partition(built.root, "pass2", BATCH_KEY).to_pylist()}
    answered = [r for r in p1.values() if r["success"]]
    assert len(answered) == BATCH_RECORDS
    for row in answered:
        # Served from the cache: this run paid nothing, the answer's own bill is kept.
        assert row["cache_hit"] and row["cost_usd"] == 0.0 and row["input_tokens"] == 0
        assert row["answer_pricing"] == "batch" and row["answer_input_tokens"] > 0
        on_demand = _on_demand(row["answer_input_tokens"], row["answer_output_tokens"])
        assert row["answer_cost_usd"] == pytest.approx(on_demand / 2, rel=1e-12)
    no_text = p1["no-text"]
    assert no_text["error_class"] == "no_posting_text"
    assert [no_text[c] for c in ("answer_pricing", "answer_input_tokens",
                                 "answer_output_tokens", "answer_cost_usd")] == [None] * 4
    row = p2["b0"]
    assert row["answer_pricing"] == "on_demand" and not row["cache_hit"]
    assert row["answer_cost_usd"] == row["cost_usd"] > 0  # bought in this very run
    assert row["answer_input_tokens"] == row["input_tokens"]
    assert row["answer_cost_usd"] == pytest.approx(
        _on_demand(row["answer_input_tokens"], row["answer_output_tokens"]), rel=1e-12)


def test_silver_ai_has_the_pricing_and_answer_cost_of_every_pass(built: Built) -> None:
    table = read_partition(built.root, "silver_ai", BATCH_KEY)
    assert table.schema == silver_ai_schema()
    rows = {r["job_posting_id"]: r for r in table.to_pylist()}
    row = rows["b1"]
    assert [row[f"pass{n}_pricing"] for n in (1, 2, 3)] == ["batch", "on_demand", "on_demand"]
    tokens = (row["pass1_answer_input_tokens"], row["pass1_answer_output_tokens"])
    assert row["pass1_answer_cost_usd"] == pytest.approx(_on_demand(*tokens) / 2, rel=1e-12)
    # The this-run columns are unchanged: the batch answer is not in them.
    this_run = sum(row[f"pass{n}_answer_cost_usd"] for n in (2, 3))
    assert row["enrichment_cost_usd"] == pytest.approx(this_run, abs=1e-8)
    assert [rows["no-text"][f"pass{n}_pricing"] for n in (1, 2, 3)] == [None] * 3
    assert rows["no-text"]["pass1_answer_cost_usd"] is None
    # What the batch jobs billed is what silver_ai says the batch answers cost.
    paid = pc.sum(table.column("pass1_answer_cost_usd")).as_py()
    assert paid == pytest.approx(built.batch_outcome["cost_usd"], rel=1e-9)
    assert paid == pytest.approx(built.batch_outcome["on_demand_cost_usd"] / 2, rel=1e-9)
    on_demand_only = read_partition(built.root, "silver_ai", ON_DEMAND_KEY)
    assert set(pc.unique(on_demand_only.column("pass1_pricing")).to_pylist()) == {"on_demand"}


def test_cached_answers_written_before_pricing_was_kept_read_as_on_demand() -> None:
    from enrichment_dagster.llm.parsing import parse_answer

    parsed = parse_answer(full_answer(1), 1)
    answer = CachedAnswer(1, MODEL, "p1-x", "4.0", "h", full_answer(1), parsed.output, 10, 20,
                          0.001, 1, 1, 0.1, "end_turn", key="k")
    payload = json.loads(answer.to_bytes())
    assert payload["pricing"] == "on_demand"
    del payload["pricing"]
    assert CachedAnswer.from_bytes(json.dumps(payload).encode()).pricing == "on_demand"
    payload["pricing"] = "batch"
    assert CachedAnswer.from_bytes(json.dumps(payload).encode()).pricing == "batch"
    payload["pricing"] = "flex"
    with pytest.raises(ValueError, match="pricing"):
        CachedAnswer.from_bytes(json.dumps(payload).encode())
    assert tuple(PRICING_VALUES) == tuple(PRICINGS)  # the contract's list is the price table's


# ---------------------------------------------------------------- the report
def _recomputed(tables: list[pa.Table]) -> dict[int, dict[str, Any]]:
    """Per pass, from the tables alone: answers, tokens, and the three costs per posting."""
    table = pa.concat_tables(tables)
    spec, figures = get_model(MODEL), {}
    for n in (1, 2, 3):
        answered = table.filter(pc.is_valid(table.column(f"pass{n}_pricing")))
        assert set(answered.column(f"enrichment_model_pass{n}").to_pylist()) == {MODEL}
        tin = answered.column(f"pass{n}_answer_input_tokens")
        tout = answered.column(f"pass{n}_answer_output_tokens")
        count = answered.num_rows
        sum_in, sum_out = pc.sum(tin).as_py(), pc.sum(tout).as_py()
        pricing = answered.column(f"pass{n}_pricing").value_counts().to_pylist()
        figures[n] = {
            "answers": count,
            "paid_by": {v["values"]: v["counts"] for v in pricing},
            "in_median": pc.quantile(tin, q=0.5).to_pylist()[0],
            "in_mean": sum_in / count,
            "out_median": pc.quantile(tout, q=0.5).to_pylist()[0],
            "out_mean": sum_out / count,
            "on_demand": (sum_in * spec.input_per_1m + sum_out * spec.output_per_1m) / 1e6 / count,
            "batch": (sum_in * spec.batch_input_per_1m
                      + sum_out * spec.batch_output_per_1m) / 1e6 / count,
            "paid": pc.mean(answered.column(f"pass{n}_answer_cost_usd")).as_py(),
        }
    return figures


def test_cost_report_equals_a_recomputation_from_the_tables(built: Built) -> None:
    tables = [read_partition(built.root, "silver_ai", k) for k in (BATCH_KEY, ON_DEMAND_KEY)]
    expected = _recomputed(tables)
    report = cost_report.build_report(cost_report.answers_from_silver_ai(built.root),
                                      postings_per_month=10_000)
    assert report["source"]["partitions"] == 2
    assert report["records"] == BATCH_RECORDS + 1 + ON_DEMAND_RECORDS
    assert report["records_without_answer"] == 1
    assert report["unanswered_by_pass"] == {"1": 1, "2": 1, "3": 1}
    assert [(g["pass"], g["model"]) for g in report["by_pass_model"]] == [
        (1, MODEL), (2, MODEL), (3, MODEL)]
    for group in report["by_pass_model"]:
        want = expected[group["pass"]]
        assert group["answers"] == want["answers"]
        paid_by = {k: v for k, v in group["paid_by_pricing"].items() if v}
        assert paid_by == want["paid_by"]
        assert group["input_tokens"]["median"] == pytest.approx(want["in_median"])
        assert group["input_tokens"]["mean"] == pytest.approx(want["in_mean"])
        assert group["output_tokens"]["median"] == pytest.approx(want["out_median"])
        assert group["output_tokens"]["mean"] == pytest.approx(want["out_mean"])
        for pricing in ("on_demand", "batch", "paid"):
            assert group["cost_per_posting_usd"][pricing] == pytest.approx(want[pricing],
                                                                           rel=1e-9)
        assert group["cost_per_posting_usd"]["batch"] == pytest.approx(
            group["cost_per_posting_usd"]["on_demand"] / 2, rel=1e-9)
    assert expected[1]["paid_by"] == {"batch": BATCH_RECORDS, "on_demand": ON_DEMAND_RECORDS}
    assert expected[2]["paid_by"] == {"on_demand": BATCH_RECORDS + ON_DEMAND_RECORDS}
    # Pass 1 was mostly bought by batch: what was paid lies between the two price lists.
    pass1 = report["by_pass_model"][0]["cost_per_posting_usd"]
    assert pass1["batch"] < pass1["paid"] < pass1["on_demand"]
    [total] = report["totals"]
    for pricing in ("on_demand", "batch", "paid"):
        per_posting = sum(expected[n][pricing] for n in (1, 2, 3))
        assert total["cost_per_posting_usd"][pricing] == pytest.approx(per_posting, rel=1e-9)
        [projection] = report["monthly_projection"]
        assert projection[pricing] == pytest.approx(per_posting * 10_000, rel=1e-9)


def test_cost_report_cli_over_s3_with_a_partition_range(built: Built, capsys,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", built.endpoint_url)
    uri = built.root.root_uri
    assert main(["cost-report", "--root", uri, "--json", "--postings-per-month", "500"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = cost_report.build_report(cost_report.answers_from_silver_ai(built.root), 500)
    assert printed == json.loads(json.dumps(expected))

    assert main(["cost-report", "--root", uri, "--from", ON_DEMAND_KEY, "--json"]) == 0
    only = json.loads(capsys.readouterr().out)
    assert only["records"] == ON_DEMAND_RECORDS and only["source"]["first"] == ON_DEMAND_KEY
    assert "monthly_projection" not in only
    assert all(g["paid_by_pricing"]["batch"] == 0 for g in only["by_pass_model"])

    assert main(["cost-report", "--root", uri, "--to", BATCH_KEY,
                 "--postings-per-month", "1000"]) == 0
    text = capsys.readouterr().out
    assert f"pass1 {MODEL}" in text and "records 101;" in text
    assert "records without any answer 1" in text
    assert "monthly projection, 1,000 postings" in text


def test_partitions_written_before_the_answer_columns_are_named_not_counted(
        built: Built, tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path / "store"))
    table = read_partition(built.root, "silver_ai", ON_DEMAND_KEY)
    write_partition(root, "silver_ai", ON_DEMAND_KEY, table)
    old = table.drop_columns([c for n in (1, 2, 3) for c in cost_report.answer_columns(n)
                              if not c.startswith("enrichment_model")])
    write_partition(root, "silver_ai", BATCH_KEY, old)
    answers = cost_report.answers_from_silver_ai(root)
    assert answers.records == ON_DEMAND_RECORDS and answers.source["partitions"] == 1
    assert len(answers.notes) == 1 and BATCH_KEY in answers.notes[0]


# ---------------------------------------------------------------- recorded answers
def _recorded(folder: Path, record: str, name: str, result: dict[str, Any] | None) -> None:
    (folder / record).mkdir(parents=True, exist_ok=True)
    if result is None:
        (folder / record / name).write_text("{}", encoding="utf-8")
    else:
        body = {"metadata": {"model_id": "ignored, the file name decides"}, "result": result}
        (folder / record / name).write_text(json.dumps(body), encoding="utf-8")


def test_recorded_answers_are_priced_both_ways_from_their_token_counts(tmp_path: Path) -> None:
    gemma = "google.gemma-3-27b-it"
    _recorded(tmp_path, "1", "pass1-google-gemma-3-27b-it.json",
              {"enrichment_input_tokens": 1000, "enrichment_output_tokens": 500})
    _recorded(tmp_path, "1", "pass2-google-gemma-3-27b-it.json",
              {"input_tokens": 3000, "output_tokens": 1000})
    _recorded(tmp_path, "2", "pass1-google-gemma-3-27b-it.json",
              {"enrichment_input_tokens": 2000, "enrichment_output_tokens": 700})
    _recorded(tmp_path, "2", "pass2-google-gemma-3-27b-it-raw.txt", None)  # no usage
    _recorded(tmp_path, "3", "pass1-google-gemma-3-27b-it-raw.txt", None)
    report = cost_report.build_report(cost_report.answers_from_recordings(tmp_path), 100)
    assert (report["records"], report["answers"], report["records_without_answer"]) == (3, 3, 1)
    assert report["unanswered_by_pass"] == {"1": 1, "2": 2, "3": 3}
    pass1 = report["by_pass_model"][0]
    assert (pass1["pass"], pass1["model"], pass1["answers"]) == (1, gemma, 2)
    assert pass1["paid_by_pricing"] == {"on_demand": 0, "batch": 0, "unknown": 2}
    assert pass1["input_tokens"] == {"median": 1500, "mean": 1500, "total": 3000}
    spec = get_model(gemma)
    on_demand = (spec.cost_usd(1000, 500) + spec.cost_usd(2000, 700)) / 2
    assert pass1["cost_per_posting_usd"] == pytest.approx(
        {"on_demand": on_demand, "batch": on_demand / 2, "paid": None})
    total = report["totals"][0]["cost_per_posting_usd"]["on_demand"]
    assert total == pytest.approx(on_demand + spec.cost_usd(3000, 1000))
    assert report["monthly_projection"][0]["batch"] == pytest.approx(total / 2 * 100)
    assert report["notes"][0].endswith("without token usage (raw text only, or a result "
                                       "file stating none), not counted: 2")


def test_cost_report_over_the_real_recorded_answers(shared_data: Path, capsys) -> None:
    assert main(["cost-report", "--answers", str(shared_data / "llm_outputs"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == 99 and report["unpriced_models"] == []
    assert report["answers"] == 1361  # every result file states its tokens
    assert len(report["by_pass_model"]) == 15 and len(report["totals"]) == 6
    for group in report["by_pass_model"]:
        cost = group["cost_per_posting_usd"]
        assert cost["batch"] == pytest.approx(cost["on_demand"] / 2) and cost["paid"] is None


# ---------------------------------------------------------------- bad input
@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    (tmp_path / "answers").mkdir()
    (tmp_path / "afile").write_text("x")
    return tmp_path


@pytest.mark.parametrize("args,named", [
    (["--from", "yesterday"], "yesterday"),
    (["--to", "2025-12-10-19:30"], "2025-12-10-19:30"),
    (["--root", "{work}/missing"], "missing"),
    (["--root", "{work}/afile"], "afile"),
    (["--root", "s3://"], "s3://"),
    (["--root", "ftp://host/x"], "ftp://host/x"),
    (["--postings-per-month", "0"], "0"),
    (["--postings-per-month", "lots"], "lots"),
    (["--answers", "{work}/nothere"], "nothere"),
    (["--answers", "{work}/answers", "--root", "{work}/empty"], "--root"),
    (["--answers", "{work}/answers", "--from", "2025-12-10-19:00"], "--from"),
    (["--root", "{work}/empty"], "no silver_ai partitions"),
    (["--root", "{work}/empty", "--from", "2025-12-11-00:00", "--to", "2025-12-10-00:00"],
     "before"),
])
def test_bad_arguments_are_one_line_exit_2(work: Path, capsys, args: list[str],
                                           named: str) -> None:
    argv = ["cost-report", *(a.format(work=work) for a in args)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("enrichment"), captured.err
    assert named in lines[0] and captured.out == ""
