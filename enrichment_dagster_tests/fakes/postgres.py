"""A fresh PostgreSQL database per test on the machine's server (127.0.0.1:5432).

Skipped when the server is unreachable, except where ``ENRICHMENT_REQUIRE_POSTGRES=1``
(CI), where that is a failure: a silently skipped production-storage test is how a broken
dagster.yaml reaches production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest

#: Development-machine defaults of the variables dagster.local.yaml reads.
LOCAL_PG_DEFAULTS: dict[str, str] = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USERNAME": "postgres",
    "DAGSTER_PG_PASSWORD": "",
}
REQUIRE_ENV = "ENRICHMENT_REQUIRE_POSTGRES"


def pg_settings() -> dict[str, str]:
    return {name: os.environ.get(name, default) for name, default in LOCAL_PG_DEFAULTS.items()}


def connect(settings: dict[str, str], dbname: str) -> Any:
    return psycopg2.connect(
        host=settings["DAGSTER_PG_HOST"],
        port=int(settings["DAGSTER_PG_PORT"]),
        user=settings["DAGSTER_PG_USERNAME"],
        password=settings["DAGSTER_PG_PASSWORD"] or None,
        dbname=dbname,
        connect_timeout=5,
    )


@pytest.fixture
def fresh_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Create ``enrichment_test_<random>``, point the DAGSTER_PG_* variables at it, drop it."""
    settings = pg_settings()
    try:
        admin = connect(settings, "postgres")
    except psycopg2.OperationalError as exc:
        where = f"{settings['DAGSTER_PG_HOST']}:{settings['DAGSTER_PG_PORT']}"
        message = f"PostgreSQL at {where} is unreachable: {exc}".strip()
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV}=1, so this is a failure, not a skip)")
        pytest.skip(f"{message} (set {REQUIRE_ENV}=1 to make this a failure)")
    with temporary_database(admin, "enrichment_test") as name:
        for variable, value in settings.items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("DAGSTER_PG_DB", name)
        yield name


@contextmanager
def temporary_database(admin: Any, prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>`` through ``admin`` (a connection to ``postgres``), drop
    it (forcing other sessions off) at exit, and close ``admin``."""
    admin.autocommit = True
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
