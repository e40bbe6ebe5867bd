"""End to end through the real webserver and daemon (`dagster dev`), as a user runs it.

The instance is ``deploy/dagster.local.yaml`` (Postgres, queued run coordinator) on a
fresh database, with the ``bedrock`` pool limited to one slot. A Silver partition dropped
into storage is picked up by the sensor, queued and run; its check results are stored for
that partition; a backfill of three partitions launched through the webserver's GraphQL
API (the UI's own mutation) completes; and at no moment did two runs hold pass steps at
once across runs: the pool held.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance

from enrichment_dagster.checks import CHECK_SPECS

LOCAL_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.local.yaml"
SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
HOURS = ["2025-12-10-19:00", "2025-12-10-20:00", "2025-12-10-21:00"]
ASSETS = ["pass1", "pass2", "pass3", "silver_ai"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webserver:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        assert "errors" not in payload, payload
        return payload["data"]

    def wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=5):
                    return
            except OSError:
                time.sleep(1)
        raise TimeoutError("dagster-webserver did not start")


def _wait(predicate, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    raise TimeoutError(f"timed out waiting for {what}")


def _copy_hour(storage: Path, key: str) -> None:
    hour = key[11:13]
    relative = f"year=2025/month=12/day=10/hour={hour}"
    shutil.copytree(SAMPLE / relative, storage / "silver" / relative)


RUNS = """query { runsOrError(limit: 50) { ... on Runs { results { runId status tags { key value } } } } }"""


def _runs(web: Webserver) -> list[dict[str, Any]]:
    return web.graphql(RUNS)["runsOrError"]["results"]


def _partition(run: dict[str, Any]) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == "dagster/partition"), None)


def _instance_yaml(home: Path) -> None:
    config = yaml.safe_load(LOCAL_YAML.read_text())
    config["concurrency"]["pools"]["default_limit"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture()
def dagster_dev(tmp_path: Path, fresh_database: str):
    home, storage = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    storage.mkdir()
    _instance_yaml(home)
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "ENRICHMENT_STORAGE_URI": str(storage),
           "ENRICHMENT_SENSORS_RUNNING": "1", "ENRICHMENT_SENSOR_INTERVAL_S": "5",
           "ENRICHMENT_LLM_BACKEND": "heuristic"}
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster"), "dev", "-m", "enrichment_dagster.definitions",
         "-h", "127.0.0.1", "-p", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    web = Webserver(port)
    try:
        web.wait_ready(time.monotonic() + 180)
        yield web, storage, home
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


CHECK_NAMES = [spec.name for spec in CHECK_SPECS]


def test_sensor_run_checks_and_ui_backfill(dagster_dev) -> None:
    web, storage, home = dagster_dev
    _copy_hour(storage, HOURS[0])
    run = _wait(lambda: next((r for r in _runs(web) if _partition(r) == HOURS[0]
                              and r["status"] in ("SUCCESS", "FAILURE")), None), 300, "the sensor's run")
    assert run["status"] == "SUCCESS"
    assert any(t["key"] == "dagster/sensor_name" for t in run["tags"])
    assert (storage / "silver_ai/year=2025/month=12/day=10/hour=19/part-00000.parquet").is_file()

    checks = web.graphql(
        """query($p: String) { assetCheckExecutions(assetKey: {path: ["silver_ai"]},
             checkName: "completeness", partition: $p, limit: 5) { status partition } }""",
        {"p": HOURS[0]},
    )["assetCheckExecutions"]
    assert checks and checks[0]["status"] == "SUCCEEDED"

    for key in HOURS[1:]:
        _copy_hour(storage, key)
    launched = web.graphql(
        """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"params": {"partitionNames": HOURS, "assetSelection": [{"path": [a]} for a in ASSETS]}},
    )["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def done() -> str | None:
        status = web.graphql(
            """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                 ... on PartitionBackfill { status } } }""", {"id": backfill_id},
        )["partitionBackfillOrError"]["status"]
        return status if status in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED") else None

    assert _wait(done, 600, "the backfill") in ("COMPLETED", "COMPLETED_SUCCESS")
    for key in HOURS:
        assert (storage / f"silver_ai/year=2025/month=12/day=10/hour={key[11:13]}/part-00000.parquet").is_file()

    # The three hours went in one run (ENRICHMENT_PARTITIONS_PER_RUN, default 24), and the
    # instance holds each partition's eight check executions for it, none skipped.
    backfill_runs = [r for r in _runs(web) if any(t["key"] == "dagster/backfill" and t["value"] == backfill_id
                                                   for t in r["tags"])]
    assert len(backfill_runs) == 1, backfill_runs
    tags = {t["key"]: t["value"] for t in backfill_runs[0]["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (HOURS[0], HOURS[-1])
    for name in CHECK_NAMES:
        for key in HOURS:
            executions = web.graphql(
                """query($c: String!, $p: String) { assetCheckExecutions(assetKey: {path: ["silver_ai"]},
                     checkName: $c, partition: $p, limit: 5) { runId status partition } }""",
                {"c": name, "p": key},
            )["assetCheckExecutions"]
            mine = [e for e in executions if e["runId"] == backfill_runs[0]["runId"]]
            assert len(mine) == 1 and mine[0]["partition"] == key, (name, key, executions)
            assert mine[0]["status"] in ("SUCCEEDED", "FAILED"), (name, key, mine)
            if name in ("completeness", "schema"):
                assert mine[0]["status"] == "SUCCEEDED", (name, key, mine)

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        sensor_run = next(r for r in runs if r.tags.get("dagster/sensor_name"))
        enqueued = instance.all_logs(sensor_run.run_id, of_type=DagsterEventType.RUN_ENQUEUED)
        assert enqueued, "the sensor's run did not go through the queued run coordinator"
        assert max_overlap(_pool_intervals(instance, runs)) <= 1


def _pool_intervals(instance: DagsterInstance, runs) -> list[tuple[float, float]]:
    """(start, end) of every run's pass steps: the pool-holding stretch of the run."""
    intervals = []
    for run in runs:
        events = instance.all_logs(run.run_id, of_type={DagsterEventType.STEP_START,
                                                         DagsterEventType.STEP_SUCCESS,
                                                         DagsterEventType.STEP_FAILURE})
        stamps = [e.timestamp for e in events if (e.step_key or "") in ("pass1", "pass2", "pass3")]
        if stamps:
            intervals.append((min(stamps), max(stamps)))
    return intervals


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    current = best = 0
    for _, delta in edges:
        current += delta
        best = max(best, current)
    return best
