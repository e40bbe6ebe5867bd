"""Crash safety: a run SIGKILLed in the middle of pass 2, then run again.

The promise under test (README "Retries and costs", DESIGN "Writes are atomic"): a crash
costs at most the answers that were in flight when it happened. Everything already paid
for is in the content-addressed cache, every partition file is written atomically, so

* the rerun completes the partition with every Silver record exactly once;
* the model calls of the killed run and the rerun together are at most those of one clean
  run plus the calls in flight at the kill (at most one per worker: ``CONCURRENCY``);
* no reader ever takes a half-written or temporary file for data: not during the runs
  (a thread reads the partition folders all along), not after the kill (pass1 is whole,
  pass2 is absent or whole, every cache segment holds only whole frames).

The partition runs in a *subprocess* (``enrich_job.execute_in_process`` on a DagsterInstance
in a temp ``DAGSTER_HOME``, resources from the environment exactly as in production) so it
can be killed with SIGKILL, no ``finally`` or atexit running. The fake Bedrock server runs
in this process with some latency, so pass 2 is caught with calls in flight; the kill is
sent once the fake has served ``KILL_AFTER_PASS2_CALLS`` pass-2 requests (recognised by the
``OUTPUT_CONTRACT: pass2`` line of the prompt).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from enrichment_dagster.engine.cache import content_hash
from enrichment_dagster.engine.tables import prepare_silver
from enrichment_dagster.prompts.render import render_prompt
from enrichment_dagster.storage.cache_store import scan_frames
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import (
    PART_FILE_NAME,
    PartitionNotFoundError,
    is_ignored_name,
    read_partition,
)
from enrichment_dagster.storage.partition_keys import partition_key_to_path
from enrichment_dagster_tests.engine.answers import DESCRIPTION, answer_by_pass
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock, FakeBedrockStats

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
KEY = "2025-12-12-05:00"
RECORDS = 100
CONCURRENCY = 8
#: Per-call latency of the fake: long enough that pass 2 is caught with calls in flight.
LATENCY_S = 0.15
KILL_AFTER_PASS2_CALLS = 30
RUN_TIMEOUT_S = 240.0
DATASETS = ("pass1", "pass2", "pass3", "silver_ai")

#: The partition run in a child process, as an operator's run would be: Definitions and
#: resources from the environment, a persistent instance in DAGSTER_HOME.
CHILD = textwrap.dedent(
    """
    import sys
    from dagster import DagsterInstance
    from enrichment_dagster.definitions import defs

    with DagsterInstance.get() as instance:
        result = defs.resolve_job_def("enrich_job").execute_in_process(
            partition_key=sys.argv[1], instance=instance, raise_on_error=False
        )
    sys.exit(0 if result.success else 3)
    """
)


# ----------------------------------------------------------------------------- data
def build_silver(root: Path, key: str = KEY, records: int = RECORDS) -> list[str]:
    """A ``records``-row Silver partition made from the sample postings, cycled; each copy
    gets a new id and a unique last sentence so no two prompts share a cache key."""
    sample = pa.concat_tables(
        pq.read_table(path) for path in sorted(SAMPLE.rglob("*.parquet"))
    )
    table = sample.take(pa.array([i % sample.num_rows for i in range(records)], pa.int64()))
    ids = [f"77{i:08d}" for i in range(records)]
    # The text the fake's canned answers quote (an answer quoting nothing of its posting
    # is refused as being about another one), made unique per copy.
    texts = [f"{DESCRIPTION} Posting reference CR-{i:03d}." for i in range(records)]
    table = table.set_column(
        table.schema.get_field_index("job_posting_id"), table.schema.field("job_posting_id"),
        pa.array(ids, pa.string()),
    )
    table = table.set_column(
        table.schema.get_field_index("job_description_text"),
        table.schema.field("job_description_text"), pa.array(texts, pa.string()),
    )
    folder = root / "silver" / partition_key_to_path(key)
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-00000-crash.c000.snappy.parquet", compression="snappy")
    return ids


def distinct_pass1_inputs(root: Path, key: str = KEY) -> int:
    batch = prepare_silver(read_partition(StorageRoot(str(root)), "silver", key))
    return len({content_hash(render_prompt(1, r).messages) for r in batch.records})


# ----------------------------------------------------------------------------- runs
def child_env(root: Path, dagster_home: Path, endpoint: str) -> dict[str, str]:
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = dict(os.environ)  # the autouse aws_test_env fixture put dummy credentials here
    env.update(
        DAGSTER_HOME=str(dagster_home),
        ENRICHMENT_STORAGE_URI=str(root),
        ENRICHMENT_LLM_BACKEND="bedrock",
        BEDROCK_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        ENRICHMENT_CONCURRENCY=str(CONCURRENCY),
    )
    for name in ("ENRICHMENT_REQUESTS_PER_MINUTE", "ENRICHMENT_TOKENS_PER_MINUTE",
                 "ENRICHMENT_BUDGET_USD", "ENRICHMENT_MODELS_FILE", "S3_ENDPOINT_URL"):
        env.pop(name, None)
    return env


def start_run(env: dict[str, str], logs: Path, key: str = KEY) -> subprocess.Popen[bytes]:
    """The partition run in its own process group (so SIGKILL reaches every child)."""
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, key],
        env=env,
        cwd=logs,
        stdout=(logs / "stdout.txt").open("wb"),
        stderr=(logs / "stderr.txt").open("wb"),
        start_new_session=True,
    )


def finish_run(proc: subprocess.Popen[bytes], logs: Path) -> None:
    try:
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"partition run did not finish in {RUN_TIMEOUT_S}s:\n{tail(logs)}")
    assert code == 0, f"partition run failed ({code}):\n{tail(logs)}"


def tail(logs: Path, chars: int = 4000) -> str:
    return (logs / "stderr.txt").read_text(errors="replace")[-chars:]


def pass_calls(stats: FakeBedrockStats, pass_number: int) -> list[str]:
    """Record ids of the requests of ``pass_number`` (the fake reads ``OUTPUT_CONTRACT``)."""
    return [r.record_id or "" for r in stats.requests if r.pass_number == pass_number]


def settle(fake: FakeBedrock, timeout_s: float = 10.0) -> FakeBedrockStats:
    """Stats once the requests a dead client left behind have been served (or dropped)."""
    deadline = time.monotonic() + timeout_s
    while fake.stats.in_flight and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(LATENCY_S + 0.3)  # a request still in a socket buffer is served late
    return fake.stats


# ----------------------------------------------------------------------------- readers
@dataclass
class FolderWatcher:
    """Reads the partition folders of ``DATASETS`` in a loop while a run writes them.

    Every visible file must be the one data file, and every read of it must give the whole
    partition (all ``expected_ids``, once each): a half-written or temporary file taken for
    data fails the test.
    """

    root: Path
    expected_ids: frozenset[str]
    key: str = KEY
    reads: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> FolderWatcher:
        self._thread = threading.Thread(target=self._loop, name="folder-watcher", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        storage = StorageRoot(str(self.root))
        while not self._stop.is_set():
            for dataset in DATASETS:
                self._check(storage, dataset)
            time.sleep(0.005)

    def _check(self, storage: StorageRoot, dataset: str) -> None:
        folder = self.root / dataset / partition_key_to_path(self.key)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return
        stray = [n for n in names if not is_ignored_name(n) and n != PART_FILE_NAME]
        if stray:
            self.violations.append(f"{dataset}: unexpected visible files {stray}")
        if PART_FILE_NAME not in names:
            return
        try:
            table = read_partition(storage, dataset, self.key)
        except PartitionNotFoundError:
            return
        except Exception as exc:  # a reader that fails on a file in place is the defect
            self.violations.append(f"{dataset}: read failed: {exc!r}")
            return
        ids = table.column("job_posting_id").to_pylist()
        if len(ids) != len(self.expected_ids) or set(ids) != self.expected_ids:
            self.violations.append(f"{dataset}: read {len(ids)} rows, not the whole partition")
        self.reads[dataset] = self.reads.get(dataset, 0) + 1


def cache_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(visible files, hidden temp files) under ``_cache``."""
    files = [p for p in (root / "_cache").rglob("*") if p.is_file()]
    return [p for p in files if not p.name.startswith(".")], [
        p for p in files if p.name.startswith(".")
    ]


# ----------------------------------------------------------------------------- test
@pytest.fixture
def fake() -> Iterator[FakeBedrock]:
    with FakeBedrock(
        latency_s=LATENCY_S, default_answers=dict(answer_by_pass()), request_log_size=10_000
    ) as server:
        yield server


def test_sigkill_in_pass2_then_rerun_pays_only_what_was_in_flight(
    tmp_path: Path, fake: FakeBedrock
) -> None:
    clean_root, crash_root = tmp_path / "clean", tmp_path / "crash"
    ids = build_silver(clean_root)
    assert build_silver(crash_root) == ids
    assert distinct_pass1_inputs(crash_root) == RECORDS, "copies must not share a cache key"
    expected = frozenset(ids)
    figures: dict[str, object] = {}

    # 1. The reference: one clean run on its own copy of the data and a fresh cache.
    started = time.monotonic()
    logs = tmp_path / "logs-clean"
    finish_run(start_run(child_env(clean_root, tmp_path / "home-clean", fake.endpoint_url),
                         logs), logs)
    clean = settle(fake)
    figures["clean_run_s"] = round(time.monotonic() - started, 1)
    clean_calls = clean.calls
    assert clean_calls == 3 * RECORDS, clean.outcomes  # no fault injected: one call a pass
    fake.reset_stats()

    # 2. The crash: SIGKILL the whole process group once pass 2 is well under way.
    env = child_env(crash_root, tmp_path / "home-crash", fake.endpoint_url)
    started = time.monotonic()
    with FolderWatcher(crash_root, expected) as watcher:
        logs = tmp_path / "logs-crash"
        proc = start_run(env, logs)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            stats = fake.stats
            if len(pass_calls(stats, 2)) >= KILL_AFTER_PASS2_CALLS:
                in_flight_at_kill = stats.in_flight
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended ({proc.returncode}) before pass 2 was caught:\n"
                            f"{tail(logs)}")
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail("pass 2 never started")
            time.sleep(0.005)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        killed = settle(fake)
        figures["killed_run_s"] = round(time.monotonic() - started, 1)

        # What a reader finds after the kill: pass1 whole, pass2 absent or whole, no
        # temp file taken for data, every cache segment made of whole frames.
        storage = StorageRoot(str(crash_root))
        assert sorted(read_partition(storage, "pass1", KEY).column("job_posting_id")
                      .to_pylist()) == sorted(ids)
        for dataset in ("pass2", "pass3", "silver_ai"):
            try:
                table = read_partition(storage, dataset, KEY)
            except PartitionNotFoundError:
                continue
            assert set(table.column("job_posting_id").to_pylist()) == expected, dataset
        visible, hidden = cache_files(crash_root)
        for path in visible:
            if path.suffix == ".seg":  # every frame whole: a kill never tears an append
                frames, stopped = scan_frames(path.read_bytes())
                assert frames and stopped == path.stat().st_size, path
            elif path.suffix == ".json":  # attempts ledger entries
                json.loads(path.read_bytes())
        figures["cache_segments_after_kill"] = sum(p.suffix == ".seg" for p in visible)
        figures["cache_files_after_kill"] = len(visible)
        figures["hidden_temp_files_after_kill"] = len(hidden)
        fake.reset_stats()

        # 3. The rerun, to completion, on the same storage and instance.
        started = time.monotonic()
        logs = tmp_path / "logs-rerun"
        finish_run(start_run(env, logs), logs)
        rerun = settle(fake)
        figures["rerun_s"] = round(time.monotonic() - started, 1)

    final = read_partition(storage, "silver_ai", KEY)
    final_ids = final.column("job_posting_id").to_pylist()
    assert len(final_ids) == len(set(final_ids)) == RECORDS and set(final_ids) == expected
    for n in (1, 2, 3):
        assert pc.all(final.column(f"pass{n}_success")).as_py(), f"pass {n} has failures"

    killed_pass2, rerun_pass2 = set(pass_calls(killed, 2)), set(pass_calls(rerun, 2))
    repaid = killed_pass2 & rerun_pass2
    total = killed.calls + rerun.calls
    figures.update(
        clean_calls=clean_calls,
        killed_run_calls=killed.calls,
        killed_run_pass2_calls=len(pass_calls(killed, 2)),
        in_flight_at_kill=in_flight_at_kill,
        rerun_calls=rerun.calls,
        rerun_pass1_calls=len(pass_calls(rerun, 1)),
        total_calls=total,
        extra_calls=total - clean_calls,
        pass2_records_paid_twice=len(repaid),
        watcher_reads=dict(watcher.reads),
    )
    print("crash-resume figures:", json.dumps(figures, sort_keys=True))

    assert not watcher.violations, watcher.violations[:5]
    assert watcher.reads.get("pass1", 0) > 0 and watcher.reads.get("silver_ai", 0) > 0
    assert not pass_calls(rerun, 1), "pass 1 was complete: the rerun must take it all from the cache"
    # The only calls paid twice are those in flight at the kill: at most one per worker,
    # and each extra call is one of those records asked again.
    assert len(repaid) <= CONCURRENCY
    # A request the fake received in the instant of the kill may bill without its record
    # being asked again in pass 2 of the rerun (it was never sent by the killed engine's
    # accounting): the bound is on the extra calls, at most one per worker.
    assert total <= clean_calls + CONCURRENCY
    assert len(repaid) <= total - clean_calls
    asked = Counter((r.record_id, r.pass_number) for r in rerun.requests)
    assert set(asked.values()) == {1}, "the rerun asked some record twice in one pass"
