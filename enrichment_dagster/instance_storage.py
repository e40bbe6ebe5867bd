"""Dagster's Postgres storage holding its connections open (``storage: custom:`` in
``deploy/dagster.yaml`` and ``deploy/dagster.local.yaml``).

Why: dagster-postgres opens a new connection for every query outside the webserver (its
engines use ``NullPool``, so that many instances in one process hold nothing open). A run
writes hundreds of events, and each event is several queries: a run of pass1..silver_ai
over 25 hourly partitions (537 events) opened 1,395 connections on this machine, 850 of
them in silver_ai (25 materializations, 200 check results: 2.5 s of connecting alone on
loopback), and each connection also costs Postgres a new backend process. On RDS, with TLS
and authentication per connection, it costs more. Pooled: 127 connections for the run.

Here every process (webserver, daemon, run worker) keeps its engines' connections in a
pool, as dagster-postgres already does in the webserver (``optimize_for_webserver``): one
connection held, up to ``MAX_OVERFLOW`` more while threads query at once, none older
than ``POOL_RECYCLE_S``. No statement timeout is set: the webserver sets its own when it
starts (``dagster-webserver --db-statement-timeout``), and a run or the daemon must not
lose a long query to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

#: Connections a process may open beyond the one it holds, while its threads query at
#: once (the daemon's, a run's engine workers logging); the webserver's default too.
MAX_OVERFLOW = 20
#: A held connection is replaced after this many seconds (a failover or an idle timeout
#: on the server side never leaves a process with only dead connections for long).
POOL_RECYCLE_S = 300
#: ``SET statement_timeout = 0``: no timeout.
NO_STATEMENT_TIMEOUT = 0


class PooledPostgresStorage(DagsterPostgresStorage):
    """``DagsterPostgresStorage`` (run, event-log and schedule storage in one database,
    configured exactly as ``storage: postgres:``, its ``config_type``) with pooled
    connections. ``from_config_value`` is overridden because the parent's builds the
    parent class."""

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None) -> None:
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        for storage in (self.run_storage, self.event_log_storage, self.schedule_storage):
            storage.optimize_for_webserver(
                statement_timeout=NO_STATEMENT_TIMEOUT, pool_recycle=POOL_RECYCLE_S,
                max_overflow=MAX_OVERFLOW,
            )

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> PooledPostgresStorage:
        return cls(
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
            token_provider=get_token_provider_from_config(config_value),
        )
