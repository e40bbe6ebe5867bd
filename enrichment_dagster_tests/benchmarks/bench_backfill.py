"""A backfill through the real webserver and daemon (``dagster dev``), against the fake
Bedrock server in its own process: does the pool hold, and what does the load cost?

Usage::

    python enrichment_dagster_tests/benchmarks/bench_backfill.py --json          # quick: 10 partitions
    python enrichment_dagster_tests/benchmarks/bench_backfill.py --full --json   # 50 partitions

Setup, as in production but on loopback: ``dagster dev`` with ``deploy/dagster.local.yaml``
(Postgres, queued run coordinator, pool granularity ``run``) on a fresh database, the
``bedrock`` pool limited to P = 2, ``ENRICHMENT_LLM_BACKEND=bedrock`` pointed at the fake
(``python -m enrichment_dagster_tests.fakes.fake_bedrock``, fixed latency L, complete
answers) and ``ENRICHMENT_CONCURRENCY`` C = 8. N hourly Silver partitions of R = 100
postings each (``bench_partition.write_silver_partition``: distinct postings, so neither
the cache nor deduplication serves any record) are written to the storage root, then one
backfill of pass1, pass2, pass3 and silver_ai over the N partitions is launched with the
UI's own GraphQL mutation (``launchPartitionBackfill``). The Silver sensor stays off
(``ENRICHMENT_SENSORS_RUNNING`` unset) so only the backfill creates runs.

The pool limit is also set explicitly (``setConcurrencyLimit``, what ``dagster instance
concurrency set bedrock P`` does) before the launch: in Dagster 1.13.27 ``default_limit``
is applied lazily, by the first dequeue that sees a run using the pool, and that dequeue
still counts the pool as unlimited, so on a fresh instance the first tick can start as
many runs as the other limits allow (3, the backfill tag limit). ``--no-set-pool`` shows it.

Reported (``--json``):

* ``max_in_flight``: most requests open at once at the fake; must be <= P x C = 16
  (``in_flight_bound``): a run holds its pool slot from dequeue to end (granularity
  ``run``) and its passes never overlap, so P runs send at most P x C calls.
* ``runs``/``runs_succeeded`` (``runs_expected`` = ceil(N / k) runs of k =
  ``partitions_per_run`` partitions, ``BackfillPolicy.multi_run(k)``; by default k =
  ceil(N / P), the backfill spread evenly over the pool),
  ``max_concurrent_runs`` (overlap of run start/end times; <= P), ``records_lost``
  (Silver records without a silver_ai row whose three passes succeeded; must be 0),
  ``calls`` (must be N x R x 3: nothing retried, nothing served twice).
* ``backfill_s``: launch → end of the last run; ``records_per_s = N x R / backfill_s``.
* ``created_s``: launch → the runs' creation (the backfill daemon's tick: every 30 s in
  Dagster 1.13, not configurable); ``run_s``: p50/p95 of run durations (start → end),
  ``queued_s`` the time from a run's creation to its start (the queue, then the run
  worker's launch), ``pass_steps_s`` p50 of the three pass steps of a run (the time its calls
  take) and ``overhead_s`` p50 of the rest of a run, split into ``before_passes_s`` (run
  start → pass1's start) and ``after_passes_s`` (pass3's end → run end: silver_ai, its
  checks, event writes), of which ``silver_ai_step_s`` is silver_ai's step itself.
* Bounds: ``calls_bound_s = calls x L / (P x C)``, what the fake could serve with P x C
  calls always in flight; ``ideal_s = ceil(N / P) x 3 x ceil(R / C) x L``, the
  pool/run-serialisation bound of this design, here ``ceil(runs / P) x 3 x ceil(k x R /
  C) x L``: at most P runs at once, a run's three passes one after the other, each taking
  ceil(k x R / C) rounds of L, with no per-run overhead at all. ``ratio_to_ideal =
  backfill_s / ideal_s`` (>= 1) is the price of Dagster's per-run and per-step processes
  at this latency; ``ratio_to_calls_bound = backfill_s / calls_bound_s`` is the acceptance
  figure (<= 1.3 for ``--full``; 3.7 with one run per partition).

The quick form (N = 10, L = 0.05 s) must finish within about 4 minutes on 2 cores (CI);
the full form (N = 50, L = 0.2 s) by ``--full``. The script creates and drops its own
database (``DAGSTER_PG_*`` as in ``fakes/postgres.py``, default 127.0.0.1:5432, user
postgres); the pytest test passes the ``fresh_database`` fixture's instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import yaml  # noqa: E402
from dagster import DagsterEventType, DagsterInstance, RunsFilter  # noqa: E402

from enrichment_dagster.storage.filesystem import StorageRoot  # noqa: E402
from enrichment_dagster.storage.parquet import read_partition  # noqa: E402
from enrichment_dagster.storage.partition_keys import PARTITION_KEY_FORMAT  # noqa: E402
from enrichment_dagster_tests.benchmarks.bench_partition import (  # noqa: E402
    BENCH_MARKER,
    machine,
    sample_silver,
    write_silver_partition,
)
from enrichment_dagster_tests.benchmarks.report import DUMMY_AWS_ENV, print_report  # noqa: E402
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrockProcess  # noqa: E402
from enrichment_dagster_tests.fakes.postgres import (  # noqa: E402
    connect,
    pg_settings,
    temporary_database,
)

REPO = Path(__file__).resolve().parents[2]
LOCAL_YAML = REPO / "deploy" / "dagster.local.yaml"
ASSETS = ("pass1", "pass2", "pass3", "silver_ai")
PASS_STEPS = ("pass1", "pass2", "pass3")
POOL = "bedrock"
FIRST_HOUR = datetime(2025, 12, 10, 0)
DONE_STATUSES = frozenset({"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED",
                           "CANCELED"})
#: Variables of the caller that would change what the dagster dev processes do.
UNSET_ENV = ("ENRICHMENT_SENSORS_RUNNING", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
             "AWS_BEARER_TOKEN_BEDROCK", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS",
             "ENRICHMENT_REQUESTS_PER_MINUTE", "ENRICHMENT_TOKENS_PER_MINUTE",
             "ENRICHMENT_BUDGET_USD", "ENRICHMENT_MODELS_FILE", "ENRICHMENT_MODEL_PASS1",
             "ENRICHMENT_MODEL_PASS2", "ENRICHMENT_MODEL_PASS3", "S3_ENDPOINT_URL",
             "ENRICHMENT_PARTITIONS_START", "ENRICHMENT_REPLAY_DIR")

T = TypeVar("T")


@dataclass(frozen=True)
class BackfillConfig:
    """One benchmark's parameters (see the module docstring for their meaning)."""

    partitions: int = 10
    records: int = 100
    latency_s: float = 0.05
    pool: int = 2
    concurrency: int = 8
    timeout_s: float = 600.0
    set_pool: bool = True
    #: ENRICHMENT_PARTITIONS_PER_RUN; None spreads the backfill over the pool, ceil(N / P).
    partitions_per_run: int | None = None
    #: What ``dagster dev`` loads; another target (``-f file.py``) compares variants.
    code: tuple[str, ...] = ("-m", "enrichment_dagster.definitions")

    @property
    def per_run(self) -> int:
        return self.partitions_per_run or math.ceil(self.partitions / self.pool)

    @property
    def expected_runs(self) -> int:
        return math.ceil(self.partitions / self.per_run)

    @classmethod
    def quick(cls) -> BackfillConfig:
        return cls()

    @classmethod
    def full(cls) -> BackfillConfig:
        return cls(partitions=50, latency_s=0.2, timeout_s=3600.0)


def partition_keys(n: int) -> list[str]:
    """``n`` consecutive hourly keys from 2025-12-10-00:00 (after the default start)."""
    return [(FIRST_HOUR + timedelta(hours=i)).strftime(PARTITION_KEY_FORMAT) for i in range(n)]


# ------------------------------------------------------------------ dagster dev
class Webserver:
    """The webserver's GraphQL endpoint, as the UI uses it."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body,
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = json.loads(response.read())
        if "errors" in payload:
            raise RuntimeError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def wait_ready(self, timeout_s: float) -> None:
        """Until the server answers and the code location is loaded."""

        def loaded() -> bool:
            try:
                data = self.graphql(
                    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                    "locationOrLoadError { __typename ... on PythonError { message } } } } } }")
            except OSError:
                return False
            entries = data["workspaceOrError"].get("locationEntries") or []
            errors = [e for e in entries
                      if (e.get("locationOrLoadError") or {}).get("__typename") == "PythonError"]
            if errors:
                raise RuntimeError(f"the code location failed to load: {errors}")
            return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)

        wait_for(loaded, timeout_s, "dagster dev to load the code location", interval_s=1.0)

    def set_pool_limit(self, pool: str, limit: int) -> None:
        data = self.graphql(
            "mutation($key: String!, $limit: Int!) { setConcurrencyLimit(concurrencyKey: $key, "
            "limit: $limit) }", {"key": pool, "limit": limit})
        if data["setConcurrencyLimit"] is not True:
            raise RuntimeError(f"setConcurrencyLimit failed: {data}")

    def launch_backfill(self, keys: Sequence[str], assets: Sequence[str]) -> str:
        launched = self.graphql(
            """mutation($params: LaunchBackfillParams!) {
                 launchPartitionBackfill(backfillParams: $params) {
                   __typename ... on LaunchBackfillSuccess { backfillId }
                   ... on PythonError { message } } }""",
            {"params": {"partitionNames": list(keys),
                        "assetSelection": [{"path": [a]} for a in assets]}},
        )["launchPartitionBackfill"]
        if launched["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"the backfill was not launched: {launched}")
        return str(launched["backfillId"])

    def backfill_status(self, backfill_id: str) -> str:
        return str(self.graphql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                 ... on PartitionBackfill { status } } }""", {"id": backfill_id},
        )["partitionBackfillOrError"]["status"])


def wait_for(predicate: Callable[[], T], timeout_s: float, what: str,
             interval_s: float = 2.0) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_instance_yaml(home: Path, pool: int) -> None:
    """``deploy/dagster.local.yaml`` with the pool's default limit set to ``pool``."""
    config = yaml.safe_load(LOCAL_YAML.read_text())
    config["concurrency"]["pools"]["default_limit"] = pool
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


@contextmanager
def dagster_dev(home: Path, env: dict[str, str], log_path: Path,
                code: Sequence[str] = ("-m", "enrichment_dagster.definitions"),
                start_timeout_s: float = 240.0) -> Iterator[Webserver]:
    """``dagster dev`` (webserver + daemon + code server) in its own process group,
    stopped at exit (:func:`_stop_group`)."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "dev", *code,
             "-h", "127.0.0.1", "-p", str(port)],
            env={**env, "DAGSTER_HOME": str(home)}, cwd=REPO, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            web = Webserver(port)
            web.wait_ready(start_timeout_s)
            yield web
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM the group (dagster dev then stops its webserver and daemon, ~2 s), SIGKILL
    after ``grace_s``: once measured, nothing in it is worth waiting a minute for."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set, restored at exit."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def own_database() -> Iterator[str]:
    """Create ``enrichment_bench_<random>`` on the DAGSTER_PG_* server; drop it at exit."""
    with temporary_database(connect(pg_settings(), "postgres"), "enrichment_bench") as name:
        yield name


# ------------------------------------------------------------------ the benchmark
def run_backfill_benchmark(config: BackfillConfig, database: str, workdir: Path) -> dict[str, Any]:
    """Write Silver, start the fake and ``dagster dev``, backfill, measure (module docstring)."""
    home, storage = workdir / "home", workdir / "data"
    home.mkdir(parents=True)
    storage.mkdir(parents=True)
    write_instance_yaml(home, config.pool)
    keys = partition_keys(config.partitions)
    sample = sample_silver()
    expected = {key: write_silver_partition(storage, key, config.records, i * config.records, sample)
                for i, key in enumerate(keys)}
    pg_env = {**pg_settings(), "DAGSTER_PG_DB": database}
    with FakeBedrockProcess("--latency", str(config.latency_s),
                            "--full-answers", BENCH_MARKER) as fake:
        env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
        env.update(DUMMY_AWS_ENV)
        env.update(pg_env)
        env.update({
            "ENRICHMENT_STORAGE_URI": str(storage),
            "ENRICHMENT_LLM_BACKEND": "bedrock",
            "BEDROCK_ENDPOINT_URL": fake.endpoint_url,
            "ENRICHMENT_CONCURRENCY": str(config.concurrency),
            "ENRICHMENT_PARTITIONS_PER_RUN": str(config.per_run),
        })
        started = time.monotonic()
        with dagster_dev(home, env, workdir / "dagster-dev.log", config.code) as web:
            startup_s = time.monotonic() - started
            if config.set_pool:
                web.set_pool_limit(POOL, config.pool)
            launched_at = time.time()
            backfill_id = web.launch_backfill(keys, ASSETS)
            status = wait_for(
                lambda: (s if (s := web.backfill_status(backfill_id)) in DONE_STATUSES else None),
                config.timeout_s, f"backfill {backfill_id}")
            fake_stats = fake.stats(per_record=True)
            # dagster.yaml reads DAGSTER_PG_* from the environment of whoever opens it.
            with environment(pg_env), DagsterInstance.from_config(str(home)) as instance:
                runs = _run_facts(instance, backfill_id)
                pool_limit = instance.event_log_storage.get_concurrency_info(POOL).slot_count
    lost = _records_lost(storage, expected)
    return _report(config, status, startup_s, launched_at, runs, fake_stats, lost, pool_limit)


@dataclass(frozen=True)
class RunFacts:
    partition: str
    status: str
    created: float
    start: float
    end: float
    pass_steps_s: float
    #: Run start -> first pass step's start; last pass step's end -> run end.
    before_passes_s: float = 0.0
    after_passes_s: float = 0.0
    #: silver_ai's own step (start -> success), part of ``after_passes_s``.
    silver_ai_step_s: float = 0.0


def _run_facts(instance: DagsterInstance, backfill_id: str) -> list[RunFacts]:
    records = instance.get_run_records(RunsFilter(tags={"dagster/backfill": backfill_id}))
    facts = []
    for record in records:
        run = record.dagster_run
        spans = _step_spans(instance, run.run_id)
        passes = [stamp for step in PASS_STEPS for stamp in spans.get(step, ())]
        first, last = (min(passes), max(passes)) if passes else (0.0, 0.0)
        silver_ai_start, silver_ai_end = spans.get("silver_ai", (0.0, 0.0))
        start, end = record.start_time or 0.0, record.end_time or 0.0
        facts.append(RunFacts(
            partition=run.tags.get("dagster/partition") or "...".join(
                filter(None, (run.tags.get("dagster/asset_partition_range_start"),
                              run.tags.get("dagster/asset_partition_range_end")))),
            status=run.status.value,
            created=record.create_timestamp.timestamp(),
            start=start,
            end=end,
            pass_steps_s=last - first,
            before_passes_s=first - start if first and start else 0.0,
            after_passes_s=end - last if last and end else 0.0,
            silver_ai_step_s=silver_ai_end - silver_ai_start,
        ))
    return facts


def _step_spans(instance: DagsterInstance, run_id: str) -> dict[str, tuple[float, float]]:
    """Each step's start and success time, by step key (a step that failed is absent)."""
    events = instance.all_logs(run_id, of_type={DagsterEventType.STEP_START,
                                                 DagsterEventType.STEP_SUCCESS})
    starts = {e.step_key: e.timestamp for e in events
              if e.dagster_event and e.dagster_event.event_type == DagsterEventType.STEP_START}
    return {e.step_key: (starts[e.step_key], e.timestamp) for e in events
            if e.step_key in starts and e.dagster_event
            and e.dagster_event.event_type == DagsterEventType.STEP_SUCCESS}


def _records_lost(storage: Path, expected: dict[str, list[str]]) -> int:
    """Silver records without a silver_ai row whose three passes all succeeded."""
    root = StorageRoot(str(storage))
    lost = 0
    for key, ids in expected.items():
        try:
            table = read_partition(root, "silver_ai", key)
        except FileNotFoundError:
            lost += len(ids)
            continue
        flags = zip(*(table.column(f"pass{n}_success").to_pylist() for n in (1, 2, 3)),
                    strict=True)
        complete = {str(i) for i, ok in zip(table.column("job_posting_id").to_pylist(), flags,
                                            strict=True) if all(ok)}
        lost += sum(1 for record_id in ids if record_id not in complete)
    return lost


def max_overlap(intervals: Sequence[tuple[float, float]]) -> int:
    """Most intervals open at one instant (an end at t closes before a start at t)."""
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    current = best = 0
    for _, delta in edges:
        current += delta
        best = max(best, current)
    return best


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: one of the measured values)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ideal_seconds(config: BackfillConfig) -> float:
    """The pool/run-serialisation bound (module docstring)."""
    run = 3 * math.ceil(config.per_run * config.records / config.concurrency) * config.latency_s
    return math.ceil(config.expected_runs / config.pool) * run


def _report(config: BackfillConfig, status: str, startup_s: float, launched_at: float,
            runs: list[RunFacts], fake: dict[str, Any], lost: int,
            pool_limit: int | None) -> dict[str, Any]:
    durations = [r.end - r.start for r in runs if r.end and r.start]
    queued = [r.start - r.created for r in runs if r.start]
    created = [r.created - launched_at for r in runs]
    overheads = [(r.end - r.start) - r.pass_steps_s for r in runs if r.end and r.start]
    last_end = max((r.end for r in runs), default=launched_at)
    backfill_s = last_end - launched_at
    records = config.partitions * config.records
    calls = records * 3
    ideal = ideal_seconds(config)
    calls_bound = calls * config.latency_s / (config.pool * config.concurrency)
    bound = config.pool * config.concurrency
    return {
        "partitions": config.partitions,
        "records_per_partition": config.records,
        "records": records,
        "latency_s": config.latency_s,
        "pool": config.pool,
        "pool_limit_in_instance": pool_limit,
        "pool_set_explicitly": config.set_pool,
        "concurrency": config.concurrency,
        "code": " ".join(config.code),
        "backfill_status": status,
        "partitions_per_run": config.per_run,
        "runs_expected": config.expected_runs,
        "runs": len(runs),
        "runs_succeeded": sum(r.status == "SUCCESS" for r in runs),
        "max_concurrent_runs": max_overlap([(r.start, r.end) for r in runs if r.start and r.end]),
        "calls": fake["calls"],
        "expected_calls": calls,
        "max_calls_per_record": fake["max_calls_per_record"],
        "throttled": fake["throttled"],
        "max_in_flight": fake["max_in_flight"],
        "in_flight_bound": bound,
        "in_flight_ok": fake["max_in_flight"] <= bound,
        "records_lost": lost,
        "dagster_dev_startup_s": round(startup_s, 1),
        "backfill_s": round(backfill_s, 2),
        "records_per_s": round(records / backfill_s, 2) if backfill_s > 0 else 0.0,
        "run_s": {"p50": round(percentile(durations, 50), 2),
                  "p95": round(percentile(durations, 95), 2),
                  "max": round(max(durations, default=0.0), 2)},
        "created_s": {"p50": round(percentile(created, 50), 2),
                      "max": round(max(created, default=0.0), 2)},
        "queued_s": {"p50": round(percentile(queued, 50), 2),
                     "max": round(max(queued, default=0.0), 2)},
        "pass_steps_s_p50": round(statistics.median([r.pass_steps_s for r in runs] or [0.0]), 2),
        "overhead_s_p50": round(statistics.median(overheads or [0.0]), 2),
        "before_passes_s_p50": round(statistics.median([r.before_passes_s for r in runs] or [0.0]), 2),
        "after_passes_s_p50": round(statistics.median([r.after_passes_s for r in runs] or [0.0]), 2),
        "silver_ai_step_s_p50": round(statistics.median([r.silver_ai_step_s for r in runs] or [0.0]), 2),
        "calls_bound_s": round(calls_bound, 2),
        "ideal_s": round(ideal, 2),
        "ratio_to_ideal": round(backfill_s / ideal, 2) if ideal else None,
        "ratio_to_calls_bound": round(backfill_s / calls_bound, 2) if calls_bound else None,
        "machine": machine(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Backfill N partitions through dagster dev against the fake Bedrock "
                    "server; print pool, in-flight and throughput figures.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--quick", action="store_true", help="N=10, L=0.05 s (the default; CI)")
    form.add_argument("--full", action="store_true", help="N=50, L=0.2 s")
    parser.add_argument("--partitions", type=int, default=None, help="N")
    parser.add_argument("--records", type=int, default=None, help="R, records per partition")
    parser.add_argument("--latency", type=float, default=None, help="fake model latency L (s)")
    parser.add_argument("--pool", type=int, default=None, help="bedrock pool limit P")
    parser.add_argument("--concurrency", type=int, default=None, help="ENRICHMENT_CONCURRENCY C")
    parser.add_argument("--timeout", type=float, default=None, help="seconds for the backfill")
    parser.add_argument("--partitions-per-run", type=int, default=None,
                        help="ENRICHMENT_PARTITIONS_PER_RUN k (default ceil(N / P))")
    parser.add_argument("--no-set-pool", action="store_true",
                        help="rely on default_limit only (shows the first-dequeue race)")
    parser.add_argument("--definitions-file", default=None,
                        help="load this Python file instead of enrichment_dagster.definitions "
                             "(to compare variants, e.g. another executor)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args(argv)
    base = BackfillConfig.full() if args.full else BackfillConfig.quick()
    overrides = {"partitions": args.partitions, "records": args.records,
                 "latency_s": args.latency, "pool": args.pool,
                 "concurrency": args.concurrency, "timeout_s": args.timeout,
                 "partitions_per_run": args.partitions_per_run}
    config = BackfillConfig(**{**asdict(base), **{k: v for k, v in overrides.items()
                                                   if v is not None},
                               "set_pool": not args.no_set_pool})
    if args.definitions_file:
        config = replace(config, code=("-f", str(Path(args.definitions_file).resolve())))
    workdir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        with own_database() as database:
            report = run_backfill_benchmark(config, database, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work folder kept: {workdir}", file=sys.stderr)
    print_report(report, args.json, width=24)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
