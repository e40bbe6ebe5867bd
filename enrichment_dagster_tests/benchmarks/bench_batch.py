"""A backfill by Bedrock batch inference, pass1 -> pass2 -> pass3 -> silver_ai, on loopback:
is anything lost, is anything paid twice, and what does it cost against on-demand?

Usage::

    python enrichment_dagster_tests/benchmarks/bench_batch.py --json            # 2,000 records
    python enrichment_dagster_tests/benchmarks/bench_batch.py --records 300 --json

Setup: moto's S3 server is the storage root (the JSONL input, the batch output, the ledger
and the cache live there, as on S3), the fake Bedrock server answers both the runtime
(Converse) and the batch control plane, with ``--error-rate`` (default 5 %) per-record
batch errors, shuffled output, and the first job of pass 1 ending ``PartiallyCompleted``
(it answers only 90 % of its records). N records over P partitions (distinct postings:
nothing is deduplicated) go through, per pass, :func:`engine.batch.backfill_pass` (rounds
of jobs of at most ``--job-size`` records, while at least 100 are unanswered), then
``run_pass`` per partition, which serves the batch answers from the cache and sends the
rest on-demand, then ``build_silver_ai`` per partition.

Reported: ``records`` (N), ``batch_jobs``, ``batch_records`` (records submitted, all
rounds and passes), ``on_demand_fallbacks`` (on-demand calls), ``records_lost`` (records
without a silver_ai row whose three passes succeeded; must be 0), ``paid_twice`` (billed
calls at the fake minus answers stored; must be 0), ``cost_batch_usd`` (what was paid:
batch answers at batch prices plus the on-demand fallbacks), ``cost_on_demand_usd`` (the
same answers at on-demand prices), ``cost_ratio`` (must be <= 0.52).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from enrichment_dagster.contracts.silver import SilverRecord  # noqa: E402
from enrichment_dagster.engine import batch  # noqa: E402
from enrichment_dagster.engine.config import EngineConfig  # noqa: E402
from enrichment_dagster.engine.results import PassContext, RecordResult  # noqa: E402
from enrichment_dagster.engine.runner import run_pass  # noqa: E402
from enrichment_dagster.engine.tables import (  # noqa: E402
    build_silver_ai,
    pass_table,
    prepare_silver,
)
from enrichment_dagster.llm.bedrock import BedrockBackend  # noqa: E402
from enrichment_dagster.llm.bedrock_batch import BatchClient  # noqa: E402
from enrichment_dagster.llm.prices import get_model  # noqa: E402
from enrichment_dagster.storage.cache_store import CacheStore  # noqa: E402
from enrichment_dagster.storage.filesystem import StorageRoot  # noqa: E402
from enrichment_dagster_tests.benchmarks.report import DUMMY_AWS_ENV, print_report  # noqa: E402
from enrichment_dagster_tests.engine.answers import DESCRIPTION, answer_by_pass  # noqa: E402
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/enrichment-bedrock-batch"


@dataclass(frozen=True)
class BatchBenchConfig:
    records: int = 2000
    partitions: int = 5
    job_size: int = 1000
    error_rate: float = 0.05
    partial_fraction: float = 0.9
    seed: int = 13

    @classmethod
    def quick(cls) -> BatchBenchConfig:
        """For the test suite: 300 records, small jobs (the ratio bound needs N >= ~2,000
        for the second round to reach Bedrock's 100-record minimum, so it is not asserted)."""
        return cls(records=300, partitions=3, job_size=150)


def make_partitions(config: BatchBenchConfig) -> list[list[SilverRecord]]:
    per = -(-config.records // config.partitions)
    records = [SilverRecord(job_posting_id=f"b{i:05d}", job_title="Senior Data Engineer",
                            job_description_text=f"{DESCRIPTION} Reference b{i:05d}.")
               for i in range(config.records)]
    return [records[i:i + per] for i in range(0, len(records), per)]


def run_batch_benchmark(config: BatchBenchConfig, s3_endpoint_url: str,
                        storage_uri: str) -> dict[str, Any]:
    started = time.monotonic()
    engine = EngineConfig(concurrency=8)
    spec = {n: get_model(engine.model_for(n)) for n in (1, 2, 3)}
    with FakeBedrock(default_answers=dict(answer_by_pass())) as fake:
        fake.batch.configure(s3_endpoint_url=s3_endpoint_url, error_rate=config.error_rate,
                             partial_fraction=config.partial_fraction, seed=config.seed)
        fake.batch.script_end_states("PartiallyCompleted")
        root = StorageRoot(storage_uri, endpoint_url=s3_endpoint_url)
        cache = CacheStore(root)
        client = BatchClient(endpoint_url=fake.endpoint_url)
        backend = BedrockBackend(endpoint_url=fake.endpoint_url, max_attempts=1)
        options = batch.BatchOptions(ROLE, max_records_per_job=config.job_size)
        partitions = make_partitions(config)
        everything = [r for p in partitions for r in p]
        previous: dict[str, PassContext] = {}
        entries: list[batch.LedgerEntry] = []
        results: dict[int, list[RecordResult]] = {}
        tables: dict[int, list[Any]] = {}
        for n in (1, 2, 3):
            entries += batch.backfill_pass(everything, n, engine, cache, root, client, options,
                                           previous if n > 1 else None, poll_s=0.05,
                                           timeout_s=600)
            results[n], tables[n] = [], []
            for part in partitions:
                part_results = run_pass(part, n, backend, engine, cache, previous)
                results[n] += part_results
                tables[n].append(pass_table(n, part_results))
            for r in results[n]:
                context = previous.get(r.record_id, PassContext())
                previous[r.record_id] = (
                    PassContext(pass1=r.output if r.success else None) if n == 1
                    else PassContext(pass1=context.pass1,
                                     pass2=r.output if n == 2 and r.success else context.pass2))
        silver_rows = 0
        for i, part in enumerate(partitions):
            silver = prepare_silver(_silver_table(part))
            table = build_silver_ai(silver, {n: tables[n][i] for n in (1, 2, 3)})
            silver_rows += table.num_rows
        succeeded = {n: {r.record_id for r in results[n] if r.success} for n in (1, 2, 3)}
        complete_rows = len(succeeded[1] & succeeded[2] & succeeded[3])
        on_demand = [r for n in (1, 2, 3) for r in results[n] if r.calls > 0]
        batch_answers = sum(e.outcome.get("answered", 0) for e in entries)
        stats = fake.stats
        billed = stats.ok  # batch records answered and on-demand calls, all through the model
        answered = batch_answers + sum(1 for r in on_demand if r.success)
        cost_on_demand_fallback = sum(r.cost_usd for r in on_demand)
        cost_batch_part = sum(e.outcome.get("cost_usd", 0.0) for e in entries)
        on_demand_equivalent = (sum(e.outcome.get("on_demand_cost_usd", 0.0) for e in entries)
                                + cost_on_demand_fallback)
        paid = cost_batch_part + cost_on_demand_fallback
        report = {
            "records": config.records,
            "partitions": len(partitions),
            "batch_jobs": len(entries),
            "batch_job_states": sorted(e.status or "" for e in entries),
            "batch_records": sum(len(e.records) for e in entries),
            "batch_answered": batch_answers,
            "batch_errors": sum(e.outcome.get("errors", 0) for e in entries),
            "batch_missing": sum(e.outcome.get("missing", 0) for e in entries),
            "on_demand_fallbacks": sum(r.calls for r in on_demand),
            "records_lost": config.records - complete_rows,
            "silver_ai_rows": silver_rows,
            "billed_calls": billed,
            "answers": answered,
            "paid_twice": billed - answered,
            "max_billed_per_key": max(fake.batch.billed_per_record.values(), default=0),
            "create_calls": fake.batch.create_calls,
            "cost_batch_usd": round(paid, 6),
            "cost_on_demand_usd": round(on_demand_equivalent, 6),
            "cost_ratio": round(paid / on_demand_equivalent, 4) if on_demand_equivalent else None,
            "cost_per_posting_batch_usd": round(paid / config.records, 7),
            "models": sorted({s.model_id for s in spec.values()}),
            "elapsed_s": round(time.monotonic() - started, 2),
        }
    return report


def _silver_table(records: list[SilverRecord]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist([r.model_dump() for r in records])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--records", type=int, default=BatchBenchConfig.records)
    parser.add_argument("--partitions", type=int, default=BatchBenchConfig.partitions)
    parser.add_argument("--job-size", type=int, default=BatchBenchConfig.job_size)
    parser.add_argument("--error-rate", type=float, default=BatchBenchConfig.error_rate)
    args = parser.parse_args(argv)
    os.environ.update(DUMMY_AWS_ENV)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.session.Session().client("s3", endpoint_url=endpoint).create_bucket(
            Bucket="bench-batch")
        with tempfile.TemporaryDirectory():
            report = run_batch_benchmark(
                BatchBenchConfig(records=args.records, partitions=args.partitions,
                                 job_size=args.job_size, error_rate=args.error_rate),
                endpoint, "s3://bench-batch/root")
    finally:
        server.stop()
    print_report(report, args.json)
    ok = report["records_lost"] == 0 and report["paid_twice"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
