"""``deploy/dagster.local.yaml`` against the real PostgreSQL on this machine.

Each test gets a database of its own (``enrichment_test_<random>``), dropped afterwards, so
runs on a shared CI host never see each other's rows. The connection comes from the same
variables the YAML reads, with the defaults of a development machine (127.0.0.1:5432,
user postgres, trust authentication).

When Postgres is unreachable the tests are skipped on a user's laptop and fail where
``ENRICHMENT_REQUIRE_POSTGRES=1`` (CI): a silently skipped production-storage test is how a
broken dagster.yaml reaches production.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import sqlalchemy.event
import sqlalchemy.pool
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, QueuedRunCoordinator
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._serdes import serialize_value
from dagster_postgres import (
    PostgresEventLogStorage,
    PostgresRunStorage,
    PostgresScheduleStorage,
)

from enrichment_dagster.instance_storage import PooledPostgresStorage
from enrichment_dagster_tests.deploy import trivial_defs
from enrichment_dagster_tests.deploy.conftest import LOCAL_YAML, load_yaml
from enrichment_dagster_tests.fakes.postgres import connect, pg_settings


@pytest.fixture
def local_instance(fresh_database: str, tmp_path: Path) -> Iterator[DagsterInstance]:
    """The instance a process gets with deploy/dagster.local.yaml as $DAGSTER_HOME/dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(LOCAL_YAML, home / "dagster.yaml")
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _query(database: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    connection = connect(pg_settings(), database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        connection.close()


def test_runs_and_events_are_stored_in_postgres(
    local_instance: DagsterInstance, fresh_database: str
) -> None:
    instance = local_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert isinstance(instance.run_launcher, DefaultRunLauncher)

    result = trivial_defs.trivial.execute_in_process(instance=instance)
    assert result.success

    rows = _query(fresh_database, "SELECT status FROM runs WHERE run_id = %s", result.run_id)
    assert rows == [("SUCCESS",)]
    event_types = {
        row[0]
        for row in _query(
            fresh_database,
            "SELECT dagster_event_type FROM event_logs WHERE run_id = %s",
            result.run_id,
        )
    }
    # Stored under the enum's values (run events keep their legacy PIPELINE_* names).
    expected = {
        DagsterEventType.RUN_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.RUN_SUCCESS,
    }
    assert {event.value for event in expected} <= event_types
    # Schedule storage (sensor and schedule ticks) lives in the same database.
    assert _query(fresh_database, "SELECT to_regclass('public.job_ticks') IS NOT NULL") == [(True,)]


def test_a_process_reuses_its_postgres_connections(
    local_instance: DagsterInstance, fresh_database: str
) -> None:
    """dagster-postgres alone opens a connection per query (one Postgres backend each);
    the configured storage keeps each of its three engines' connections open."""
    opened: list[object] = []
    listener = lambda *_: opened.append(1)  # noqa: E731
    sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", listener)
    try:
        result = trivial_defs.trivial.execute_in_process(instance=local_instance)
        for _ in range(3):
            assert local_instance.get_run_by_id(result.run_id) is not None
            assert local_instance.all_logs(result.run_id)
    finally:
        sqlalchemy.event.remove(sqlalchemy.pool.Pool, "connect", listener)
    assert result.success
    events = _query(fresh_database, "SELECT count(*) FROM event_logs WHERE run_id = %s", result.run_id)[0][0]
    assert events >= 10
    # One held per storage, and a few more only while threads query at once.
    assert len(opened) <= 6, f"{len(opened)} connections opened for {events} events"
    storage = local_instance.get_ref().storage_data
    assert storage is not None and storage.class_name == PooledPostgresStorage.__name__


def test_bedrock_pool_gets_the_configured_default_limit(
    local_instance: DagsterInstance, fresh_database: str
) -> None:
    """Pools need a storage with global concurrency support; Postgres has it, and the
    ``pools.default_limit`` of the YAML is what a first claim on "bedrock" writes there."""
    expected = load_yaml(LOCAL_YAML)["concurrency"]["pools"]["default_limit"]
    storage = local_instance.event_log_storage
    assert storage.supports_global_concurrency_limits
    assert local_instance.global_op_concurrency_default_limit == expected

    # What the queue daemon will enforce, as Dagster parsed it from the YAML.
    concurrency = local_instance.get_concurrency_config()
    assert concurrency.pool_config.default_pool_limit == expected
    assert concurrency.pool_config.pool_granularity.value == "run"
    queue = concurrency.run_queue_config
    assert queue is not None and queue.max_concurrent_runs == 8
    assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [
        ("dagster/backfill", 3)
    ]

    storage.initialize_concurrency_limit_to_default("bedrock")
    rows = _query(
        fresh_database,
        'SELECT "limit" FROM concurrency_limits WHERE concurrency_key = %s',
        "bedrock",
    )
    assert rows == [(expected,)]
    assert storage.get_concurrency_info("bedrock").slot_count == expected


def test_submitted_runs_wait_in_the_postgres_queue(
    local_instance: DagsterInstance, fresh_database: str
) -> None:
    """The webserver's "launch" only queues; the daemon (not running here) dequeues."""
    instance = local_instance
    origin = LoadableTargetOrigin(python_file=trivial_defs.__file__, attribute="defs")
    with in_process_test_workspace(instance, origin) as workspace:
        location = workspace.get_code_location(next(iter(workspace.code_location_names)))
        repository = location.get_repository(next(iter(location.get_repositories())))
        remote_job = repository.get_full_job("trivial")
        run = instance.create_run_for_job(
            job_def=trivial_defs.trivial,
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
        )
        instance.submit_run(run.run_id, workspace)

    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None and stored.status == DagsterRunStatus.QUEUED
    rows = _query(fresh_database, "SELECT status FROM runs WHERE run_id = %s", run.run_id)
    assert rows == [("QUEUED",)]


def test_instance_reference_carries_no_password(local_instance: DagsterInstance) -> None:
    """What a launcher hands to a run worker names the variable, never its value.

    Launchers put the serialized instance reference on the run worker's command line
    (ECS: the task's container override, visible to anyone with ecs:DescribeTasks).
    """
    ref = local_instance.get_ref()
    storage = yaml.safe_load(ref.storage_data.config_yaml)
    assert storage["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert "DAGSTER_PG_PASSWORD" in serialize_value(ref)
