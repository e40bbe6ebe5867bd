"""The answer cache at scale: a fully cached rerun against a fresh run, and the cache's size.

Usage::

    python enrichment_dagster_tests/benchmarks/bench_cache.py --json          # 10,000 records
    python enrichment_dagster_tests/benchmarks/bench_cache.py --quick --json  # 300 records

What is measured, in one process, passes 1-3 through ``run_pass`` on a local folder:

1. ``fresh_s``: empty cache; every record is asked of an in-process model that answers a
   canned complete answer after ``--latency`` seconds (a stand-in for Bedrock's latency;
   ``--latency 0`` measures the engine alone), concurrency 8.
2. ``cached_s``: the same records again with a new ``CacheStore`` (as a new run would
   have: one listing, every index loaded, every answer read and validated); 0 calls.
3. ``ratio`` = cached_s / fresh_s (target <= 0.15 at 10,000 records), ``cache_bytes`` and
   ``cache_files`` under ``_cache/``, and ``pass_tables_bytes``: the three pass tables as
   the IO manager writes them (Parquet), the data silver_ai is built from.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pyarrow.parquet as pq  # noqa: E402

from enrichment_dagster.contracts.silver import SilverRecord  # noqa: E402
from enrichment_dagster.engine import EngineConfig, PassContext, run_pass  # noqa: E402
from enrichment_dagster.engine.tables import pass_table  # noqa: E402
from enrichment_dagster.llm.backend import BaseBackend  # noqa: E402
from enrichment_dagster.llm.types import LLMRequest, LLMResponse  # noqa: E402
from enrichment_dagster.storage.cache_store import CacheStore  # noqa: E402
from enrichment_dagster.storage.filesystem import StorageRoot  # noqa: E402
from enrichment_dagster_tests.benchmarks.report import print_report  # noqa: E402
from enrichment_dagster_tests.engine.answers import DESCRIPTION, answer_by_pass  # noqa: E402

MODEL = "openai.gpt-oss-120b-1:0"


class SleepyModel(BaseBackend):
    """Answers every pass with a canned complete answer after ``latency_s``."""

    name = "bench-model"
    cache_identity = "bench-model-v1"

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.answers = dict(answer_by_pass())
        self.calls = 0

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        return LLMResponse(text=self.answers[request.pass_number], input_tokens=1200,
                           output_tokens=900, stop_reason="end_turn",
                           latency_s=self.latency_s, model_id=request.model_id)

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        return 0.0


def make_records(n: int) -> list[SilverRecord]:
    return [SilverRecord(job_posting_id=f"c{i:06d}", job_title="Senior Data Engineer",
                         job_description_text=f"{DESCRIPTION} Posting number {i}.")
            for i in range(n)]


def three_passes(records: Sequence[SilverRecord], backend: SleepyModel, cache: CacheStore,
                 out: Path | None = None) -> tuple[float, int]:
    """Seconds for passes 1-3, and the number of cache hits."""
    config = EngineConfig(concurrency=8, models={1: MODEL, 2: MODEL, 3: MODEL})
    previous: dict[str, PassContext] = {}
    hits = 0
    started = time.perf_counter()
    for pass_number in (1, 2, 3):
        results = run_pass(records, pass_number, backend, config, cache, previous)
        hits += sum(r.cache_hit for r in results)
        for r in results:
            ctx = previous.get(r.record_id, PassContext())
            previous[r.record_id] = (PassContext(pass1=r.output, pass2=ctx.pass2)
                                     if pass_number == 1 else
                                     PassContext(pass1=ctx.pass1, pass2=r.output))
        if out is not None:
            pq.write_table(pass_table(pass_number, results), out / f"pass{pass_number}.parquet",
                           compression="zstd")
    return time.perf_counter() - started, hits


def measure(records: int, latency_s: float) -> dict[str, Any]:
    batch = make_records(records)
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as folder:
        root = Path(folder)
        tables = root / "tables"
        tables.mkdir()
        backend = SleepyModel(latency_s)
        fresh_s, _ = three_passes(batch, backend, CacheStore(StorageRoot(str(root / "store"))),
                                  tables)
        fresh_calls = backend.calls
        cached_s, hits = three_passes(batch, backend,
                                      CacheStore(StorageRoot(str(root / "store"))))
        files = [p for p in (root / "store" / "_cache").rglob("*") if p.is_file()]
        cache_bytes = sum(p.stat().st_size for p in files)
        table_bytes = sum(p.stat().st_size for p in tables.iterdir())
    return {
        "records": records,
        "latency_s": latency_s,
        "fresh_s": round(fresh_s, 2),
        "cached_s": round(cached_s, 2),
        "ratio": round(cached_s / fresh_s, 3),
        "fresh_calls": fresh_calls,
        "rerun_calls": backend.calls - fresh_calls,
        "rerun_cache_hits": hits,
        "cache_bytes": cache_bytes,
        "cache_files": len(files),
        "pass_tables_bytes": table_bytes,
        "cache_to_tables": round(cache_bytes / table_bytes, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.02,
                        help="seconds per model call (default 0.02)")
    parser.add_argument("--quick", action="store_true", help="300 records (plumbing check)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    records = args.records or (300 if args.quick else 10_000)
    report = measure(records, args.latency)
    print_report(report, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
