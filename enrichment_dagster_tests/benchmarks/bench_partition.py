"""One Silver partition end to end (pass1 → pass2 → pass3 → silver_ai), side by side with
the old system's sequential strategy, against the fake Bedrock server.

Usage::

    python enrichment_dagster_tests/benchmarks/bench_partition.py --json          # 100 records
    python enrichment_dagster_tests/benchmarks/bench_partition.py --quick --json  # 20 records

The engine benchmark (``bench_engine.py``) times ``run_pass`` alone; this one times what a
user waits for: ``enrich_job.execute_in_process`` on one hourly partition, i.e. reading
Silver, the three pass assets through the Parquet IO manager, ``silver_ai`` and its asset
checks, with ``LLMResource(backend="bedrock", bedrock_endpoint_url=<fake>,
concurrency=C)``: real boto3 against the fake at a fixed latency L per call.

What is measured, in one process so the ratio compares like with like:

1. ``sequential_s``: the old design, one record at a time and, per record, pass 1, 2, 3 one
   call after the other (render, call, parse), reading the same Silver partition through
   the same backend. Nothing is written: the baseline is spared the Parquet writes and the
   checks that ``ours_s`` pays for, so the speed-up is, if anything, understated.
2. ``ours_s``: the median of ``--repeats`` runs of ``enrich_job`` (each run on its own temp
   storage root, so nothing is served from the answer cache of an earlier run).
3. ``ideal_s = passes x ceil(records / C) x L``: the passes run one after the other (pass 2
   needs pass 1), and within a pass C calls are in flight at once, so 100 records take 13
   rounds of L per pass. No client at concurrency C does better; ``ratio_to_ideal =
   ours_s / ideal_s`` is what Dagster, Parquet, rendering and parsing add on top.
   ``speedup`` cannot exceed ``sequential_s / ideal_s`` (about 7.7 at 100 records, C = 8).

Both strategies see a fresh storage root (a temp folder each) and distinct postings: the
partition cycles the 45 sample postings with new ids (``bench-NNNNNN``) and a numbered
sentence prepended to each description, so neither the cache nor the deduplication of
identical inputs serves any record. The fake answers every field of every pass (the
answers of ``engine/answers.py``) quoting that sentence as evidence, so parsing,
validation and grounding do their full work, and grounding holds.

By default the fake runs in a child process (``--fake process``), like Bedrock, whose CPU
is not ours: on a 2-core machine an in-process server competes with the client for the
GIL and makes every strategy pay for its parsing and JSON encoding (``--fake thread``
measures that setup). Both strategies are warmed up on an 8-record partition first (imports,
boto3 client, Dagster job build), which is not timed.

``--quick`` (20 records, L = 0.05 s, one repeat) checks the plumbing for CI; its speed-up is
not the target (3 rounds of 8 for 20 records per pass, and per-run Dagster cost is a larger
share of a short run).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from dagster import DagsterEventType, DagsterInstance, Definitions  # noqa: E402

from enrichment_dagster.assets.passes import pass1, pass2, pass3  # noqa: E402
from enrichment_dagster.assets.silver import silver  # noqa: E402
from enrichment_dagster.assets.silver_ai import silver_ai  # noqa: E402
from enrichment_dagster.checks import QualityThresholds  # noqa: E402
from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output  # noqa: E402
from enrichment_dagster.engine.tables import read_silver  # noqa: E402
from enrichment_dagster.jobs import enrich_job  # noqa: E402
from enrichment_dagster.llm.parsing import parse_answer  # noqa: E402
from enrichment_dagster.llm.prices import get_model  # noqa: E402
from enrichment_dagster.llm.types import LLMBackend, LLMRequest  # noqa: E402
from enrichment_dagster.prompts.render import output_schema, render_prompt  # noqa: E402
from enrichment_dagster.resources import LLMResource, StorageResource  # noqa: E402
from enrichment_dagster.storage.io_manager import ParquetIOManager  # noqa: E402
from enrichment_dagster.storage.parquet import read_partition  # noqa: E402
from enrichment_dagster.storage.partition_keys import partition_key_to_path  # noqa: E402
from enrichment_dagster_tests.benchmarks.report import DUMMY_AWS_ENV, print_report  # noqa: E402
from enrichment_dagster_tests.engine.answers import answer_by_pass  # noqa: E402
from enrichment_dagster_tests.fakes.fake_bedrock import (  # noqa: E402
    FakeBedrock,
    FakeBedrockProcess,
)

SAMPLE_SILVER = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
#: Prepended to every benchmark description: makes each posting distinct (with its number)
#: and is what the fake's answers quote as evidence (its first 8 words), so grounding holds.
BENCH_MARKER = "This posting is a benchmark copy of a sample posting"
PARTITION_KEY = "2025-12-10-19:00"
WARMUP_KEY = "2025-12-10-18:00"
WARMUP_RECORDS = 8
PASSES = (1, 2, 3)
ASSETS = ("pass1", "pass2", "pass3", "silver_ai")
SILVER_FILE = "part-00000-bench.snappy.parquet"
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


# ------------------------------------------------------------------ Silver input
def sample_silver() -> pa.Table:
    """The 45 sample postings (three hourly files), with Spark's schema."""
    files = sorted(SAMPLE_SILVER.rglob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def bench_rows(n: int, first_index: int = 0, sample: pa.Table | None = None) -> pa.Table:
    """``n`` Silver rows cycling the sample postings, each with a new id and a description
    made distinct by a numbered sentence at its head.

    At the head because the renderer keeps the head and the tail of a description it has
    to shorten (the 300 KB sample posting): a suffix could be cut, leaving identical
    prompts that the engine would rightly send once. Indices are global so that several
    partitions written with different ``first_index`` share no posting either.
    """
    sample = sample if sample is not None else sample_silver()
    template = sample.to_pylist()
    rows = []
    for offset in range(n):
        index = first_index + offset
        row = dict(template[index % len(template)])
        row["job_posting_id"] = f"bench-{index:06d}"
        original = row.get("job_description_text") or ""
        row["job_description_text"] = f"{BENCH_MARKER}, number {index}.\n\n{original}"
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=sample.schema)


def write_silver_partition(
    root: Path, key: str, n: int, first_index: int = 0, sample: pa.Table | None = None
) -> list[str]:
    """Write ``n`` benchmark rows as one Spark-style part file; return their ids."""
    table = bench_rows(n, first_index, sample)
    folder = root / "silver" / partition_key_to_path(key)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / SILVER_FILE, compression="snappy")
    return [str(i) for i in table.column("job_posting_id").to_pylist()]


# ------------------------------------------------------------------ the fake server
class Fake(Protocol):
    endpoint_url: str

    def stats(self) -> dict[str, Any]: ...

    def reset_stats(self) -> dict[str, Any]: ...


class _ThreadFake:
    """An in-process :class:`FakeBedrock` behind the same interface as the process one."""

    def __init__(self, fake: FakeBedrock) -> None:
        self.fake = fake
        self.endpoint_url = fake.endpoint_url

    def stats(self) -> dict[str, Any]:
        return self.fake.stats_dict()

    def reset_stats(self) -> dict[str, Any]:
        self.fake.reset_stats()
        return self.fake.stats_dict()


@contextmanager
def fake_bedrock(mode: str, latency_s: float) -> Iterator[Fake]:
    """The fake at fixed latency, answering every field (see the module docstring)."""
    if mode == "process":
        with FakeBedrockProcess("--latency", str(latency_s), "--full-answers", BENCH_MARKER) as proc:
            yield proc
    elif mode == "thread":
        answers = dict(answer_by_pass(BENCH_MARKER))
        with FakeBedrock(latency_s=latency_s, default_answers=answers,
                         request_log_size=0) as fake:
            yield _ThreadFake(fake)
    else:
        raise ValueError(f"--fake must be 'process' or 'thread', got {mode!r}")


# ------------------------------------------------------------------ ours: enrich_job
def bench_defs(root: Path, llm: LLMResource) -> Definitions:
    """The project's assets and job on a local root, with the given model resource."""
    uri = str(root)
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai],
        jobs=[enrich_job],
        resources={
            "storage": StorageResource(storage_uri=uri),
            "llm": llm,
            "quality": QualityThresholds(),
            "parquet_io_manager": ParquetIOManager(storage_uri=uri),
        },
    )


@dataclass(frozen=True)
class OursRun:
    seconds: float
    success: bool
    records_out: int
    records_lost: int
    steps_s: dict[str, float]
    checks: dict[str, bool]


def run_ours(root: Path, key: str, ids: Sequence[str], endpoint_url: str,
             concurrency: int) -> OursRun:
    """``enrich_job`` on one partition, timed around ``execute_in_process`` only."""
    llm = LLMResource(backend="bedrock", bedrock_endpoint_url=endpoint_url,
                      concurrency=concurrency)
    job = bench_defs(root, llm).resolve_job_def("enrich_job")
    with DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(partition_key=key, instance=instance,
                                        run_config=QUIET_RUN_CONFIG, raise_on_error=False)
        seconds = time.perf_counter() - started
        steps = step_durations(instance, result.run_id)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    out_ids, lost = _lost_records(root, key, ids) if result.success else ([], len(ids))
    return OursRun(seconds, result.success, len(out_ids), lost, steps, checks)


def step_durations(instance: DagsterInstance, run_id: str) -> dict[str, float]:
    """Seconds from STEP_START to STEP_SUCCESS/FAILURE of each step of one run."""
    events = instance.all_logs(run_id, of_type={DagsterEventType.STEP_START,
                                                 DagsterEventType.STEP_SUCCESS,
                                                 DagsterEventType.STEP_FAILURE})
    starts: dict[str, float] = {}
    durations: dict[str, float] = {}
    for event in events:
        step = event.step_key or ""
        if event.dagster_event_type == DagsterEventType.STEP_START:
            starts[step] = event.timestamp
        elif step in starts:
            durations[step] = round(event.timestamp - starts[step], 3)
    return durations


def _lost_records(root: Path, key: str, ids: Sequence[str]) -> tuple[list[str], int]:
    """(silver_ai ids, Silver records without a row whose three passes all succeeded)."""
    table = read_partition(StorageResource(storage_uri=str(root)).root, "silver_ai", key)
    out_ids = [str(i) for i in table.column("job_posting_id").to_pylist()]
    complete = {
        record_id
        for record_id, *flags in zip(out_ids, *(table.column(f"pass{n}_success").to_pylist()
                                                for n in PASSES), strict=True)
        if all(flags)
    }
    return out_ids, sum(1 for record_id in ids if record_id not in complete)


# ------------------------------------------------------------------ old: sequential
def run_sequential(root: Path, key: str, backend: LLMBackend, llm: LLMResource) -> tuple[float, int]:
    """The old system's shape: per record, pass 1 → 2 → 3, one call at a time.

    Returns (seconds, complete answers). Reads Silver exactly as the assets do.
    """
    started = time.perf_counter()
    batch = read_silver(StorageResource(storage_uri=str(root)).root, key)
    complete = 0
    for record in batch.records:
        outputs: dict[int, Any] = {}
        for pass_number in PASSES:
            model_id = llm.model(pass_number)
            p1 = outputs.get(1) if isinstance(outputs.get(1), Pass1Output) else None
            p2 = outputs.get(2) if isinstance(outputs.get(2), Pass2Output) else None
            rendered = render_prompt(pass_number, record, p1, p2)
            request = LLMRequest(
                record_id=record.job_posting_id,
                pass_number=pass_number,  # type: ignore[arg-type]
                messages=rendered.messages,
                model_id=model_id,
                max_output_tokens=get_model(model_id).default_max_output_tokens,
                output_schema=output_schema(pass_number),
            )
            parsed = parse_answer(backend.complete(request).text, pass_number)
            outputs[pass_number] = parsed.output
            complete += parsed.status == "complete"
    return time.perf_counter() - started, complete


# ------------------------------------------------------------------ main
def machine() -> dict[str, Any]:
    """nproc, CPU model and RAM: benchmark figures mean little without them."""
    model, mem_kb = "", 0
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo
                      if line.startswith("model name")), "")
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        mem_kb = next((int(line.split()[1]) for line in meminfo
                       if line.startswith("MemTotal:")), 0)
    except (OSError, ValueError):
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gb": round(mem_kb / 1024 / 1024, 1)}


def ideal_seconds(records: int, concurrency: int, latency_s: float) -> float:
    """Passes one after the other, ``concurrency`` calls per round (module docstring)."""
    return len(PASSES) * math.ceil(records / concurrency) * latency_s


def run_benchmark(records: int, latency_s: float, concurrency: int, repeats: int,
                  fake_mode: str) -> dict[str, Any]:
    """Warm both up, then sequential once (it is the slow one) and ours ``repeats`` times."""
    sample = sample_silver()
    calls = records * len(PASSES)
    with fake_bedrock(fake_mode, latency_s) as fake, tempfile.TemporaryDirectory(
        prefix="bench-partition-"
    ) as scratch:
        base = Path(scratch)
        llm = LLMResource(backend="bedrock", bedrock_endpoint_url=fake.endpoint_url,
                          concurrency=concurrency)
        backend = llm.make_backend()

        for strategy in ("sequential", "ours"):  # warm-up, on postings the runs never see
            warm = base / "warmup" / strategy
            warm_ids = write_silver_partition(warm, WARMUP_KEY, WARMUP_RECORDS, 10**6, sample)
            if strategy == "sequential":
                run_sequential(warm, WARMUP_KEY, backend, llm)
            else:
                run_ours(warm, WARMUP_KEY, warm_ids, fake.endpoint_url, concurrency)

        seq_root = base / "sequential"
        ids = write_silver_partition(seq_root, PARTITION_KEY, records, 0, sample)
        fake.reset_stats()
        sequential_s, sequential_ok = run_sequential(seq_root, PARTITION_KEY, backend, llm)
        sequential_stats = fake.stats()
        fake.reset_stats()

        ours: list[OursRun] = []
        ours_stats: list[dict[str, Any]] = []
        for repeat in range(repeats):
            root = base / f"ours-{repeat}"
            write_silver_partition(root, PARTITION_KEY, records, 0, sample)
            ours.append(run_ours(root, PARTITION_KEY, ids, fake.endpoint_url, concurrency))
            ours_stats.append(fake.stats())
            fake.reset_stats()

    median = sorted(ours, key=lambda run: run.seconds)[len(ours) // 2]
    ours_s = statistics.median(run.seconds for run in ours)
    ideal = ideal_seconds(records, concurrency, latency_s)
    return {
        "records": records,
        "passes": len(PASSES),
        "calls": calls,
        "latency_s": latency_s,
        "concurrency": concurrency,
        "fake": fake_mode,
        "repeats": repeats,
        "sequential_s": round(sequential_s, 3),
        "sequential_successes": sequential_ok,
        "sequential_calls": sequential_stats["calls"],
        "sequential_max_in_flight": sequential_stats["max_in_flight"],
        "ours_s": round(ours_s, 3),
        "ours_runs_s": [round(run.seconds, 3) for run in ours],
        "ours_success": all(run.success for run in ours),
        "ours_calls": max(stats["calls"] for stats in ours_stats),
        "ours_max_in_flight": max(stats["max_in_flight"] for stats in ours_stats),
        "ours_records_out": min(run.records_out for run in ours),
        "records_lost": max(run.records_lost for run in ours),
        "ours_steps_s": median.steps_s,
        "ours_checks": median.checks,
        "speedup": round(sequential_s / ours_s, 2),
        "ideal_s": round(ideal, 3),
        "ratio_to_ideal": round(ours_s / ideal, 3),
        "max_speedup_at_ideal": round(sequential_s / ideal, 2),
        "machine": machine(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="One partition through enrich_job against the fake Bedrock server, "
                    "side by side with the old sequential strategy.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="20 records, L=0.05 s, 1 repeat (CI)")
    parser.add_argument("--records", type=int, default=None, help="records in the partition")
    parser.add_argument("--latency", type=float, default=None, help="fake model latency L (s)")
    parser.add_argument("--concurrency", type=int, default=8, help="LLMResource.concurrency")
    parser.add_argument("--repeats", type=int, default=None, help="runs of ours (median)")
    parser.add_argument("--fake", choices=("process", "thread"), default="process",
                        help="where the fake server runs (see the module docstring)")
    args = parser.parse_args(argv)
    records = args.records or (20 if args.quick else 100)
    latency = args.latency if args.latency is not None else (0.05 if args.quick else 0.2)
    repeats = args.repeats or (1 if args.quick else 3)
    os.environ.update(DUMMY_AWS_ENV)  # loopback only: never sign with real credentials
    report = run_benchmark(records, latency, args.concurrency, repeats, args.fake)
    print_report(report, args.json, width=26)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
