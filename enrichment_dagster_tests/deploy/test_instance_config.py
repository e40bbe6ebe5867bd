"""``deploy/dagster.yaml`` and ``deploy/dagster.local.yaml`` against Dagster's own schema.

Validation goes through the entry point Dagster itself uses when it loads ``$DAGSTER_HOME``
(:func:`dagster._core.instance.config.dagster_instance_config`), then through each
configured class's own ``config_type()`` with the environment of a production task, which
is where a misspelt key or an ``{env: VAR}`` on a field that does not accept one fails.
Nothing here needs AWS or Postgres.
"""

from __future__ import annotations

import importlib
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import ensure_workspace_config

from enrichment_dagster_tests.deploy.conftest import (
    DEPLOY_DIR,
    LOCAL_YAML,
    PRODUCTION_ENV,
    PRODUCTION_YAML,
    REPO_ROOT,
    env_references,
    load_yaml,
)

CONFIGURABLE_SECTIONS = ("run_coordinator", "run_launcher", "compute_logs")


def _validated(source: Path, tmp_path: Path) -> dict[str, Any]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(source, home / "dagster.yaml")
    config, custom_instance_class = dagster_instance_config(str(home))
    assert custom_instance_class is None
    return dict(config)


def _check_configurable_classes(config: dict[str, Any]) -> None:
    for section in CONFIGURABLE_SECTIONS:
        if section not in config:
            continue
        entry = config[section]
        cls = getattr(importlib.import_module(entry["module"]), entry["class"])
        result = process_config(cls.config_type(), entry.get("config") or {})
        assert result.success, (section, [error.message for error in result.errors or []])
    storage = config["storage"]["custom"]
    cls = getattr(importlib.import_module(storage["module"]), storage["class"])
    result = process_config(cls.config_type(), storage["config"])
    assert result.success, [error.message for error in result.errors or []]


@pytest.mark.parametrize("source", [PRODUCTION_YAML, LOCAL_YAML], ids=["production", "local"])
def test_instance_yaml_validates(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    config = _validated(source, tmp_path)
    # Run, event-log and schedule storage: all Postgres, dagster-postgres's storage with
    # pooled connections (configured as `storage: postgres:` would be).
    assert set(config["storage"]) == {"custom"}
    assert (config["storage"]["custom"]["module"], config["storage"]["custom"]["class"]) == (
        "enrichment_dagster.instance_storage", "PooledPostgresStorage")
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    assert config["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    assert config["retention"]["sensor"]["purge_after_days"]
    # SQLAlchemy 2.1 resolves a bare postgresql:// to psycopg 3, which is not installed.
    assert config["storage"]["custom"]["config"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    _check_configurable_classes(config)


def test_every_variable_is_needed_and_set_by_production_env() -> None:
    """The README's environment table and the test environment cover the same variables."""
    referenced = set(env_references(load_yaml(PRODUCTION_YAML)))
    forwarded = set(load_yaml(PRODUCTION_YAML)["run_launcher"]["config"]["env_vars"])
    assert referenced | forwarded == set(PRODUCTION_ENV)
    assert set(env_references(load_yaml(LOCAL_YAML))) == {
        "DAGSTER_PG_HOST",
        "DAGSTER_PG_PORT",
        "DAGSTER_PG_USERNAME",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_DB",
    }


def test_run_tasks_get_every_variable_the_instance_reads() -> None:
    """A run task loads the same dagster.yaml: each {env: VAR} must reach it.

    The launcher copies ``env_vars`` from the daemon and has ECS inject ``secrets``; a
    variable missing from both would make every run fail at start with "not set".
    """
    production = load_yaml(PRODUCTION_YAML)
    launcher = production["run_launcher"]["config"]
    delivered = set(launcher["env_vars"]) | {secret["name"] for secret in launcher["secrets"]}
    assert set(env_references(production)) <= delivered


#: Variables of enrichment_dagster.resources that production leaves unset on purpose: endpoint
#: overrides for tests and local servers (production uses the AWS endpoints), and settings
#: of backends other than Bedrock.
NOT_FORWARDED = {
    "S3_ENDPOINT_URL",
    "BEDROCK_ENDPOINT_URL",
    "OPENAI_BASE_URL",
    "ENRICHMENT_REPLAY_DIR",
}
#: ``ENRICHMENT_*`` variables the package reads that a run task never needs: sensor intervals
#: (read by the code server that evaluates sensors), `make dev`/`make demo` and test settings,
#: and the extra price file, which is part of the image and set in every task definition.
NOT_RUN_SETTINGS = {
    "ENRICHMENT_SENSOR_INTERVAL_S",
    "ENRICHMENT_BATCH_SENSOR_INTERVAL_S",
    "ENRICHMENT_SENSOR_LOOKBACK_HOURS",
    "ENRICHMENT_SENSOR_FULL_SCAN_HOURS",
    "ENRICHMENT_SENSORS_RUNNING",
    "ENRICHMENT_REPORT_PATH",
    "ENRICHMENT_SHARED_DATA",
    "ENRICHMENT_MODELS_FILE",
}


def test_run_tasks_get_every_enrichment_variable_the_package_reads() -> None:
    """Any ``ENRICHMENT_*`` name in the package, not only those of resources.py: settings
    read by partitions.py, the batch job or the lease must reach the run task as well."""
    names: set[str] = set()
    for path in (REPO_ROOT / "enrichment_dagster").rglob("*.py"):
        names |= set(re.findall(r'"(ENRICHMENT_[A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    assert {"ENRICHMENT_BATCH_ROLE_ARN", "ENRICHMENT_PARTITIONS_PER_RUN"} <= names
    forwarded = set(load_yaml(PRODUCTION_YAML)["run_launcher"]["config"]["env_vars"])
    missing = names - NOT_FORWARDED - NOT_RUN_SETTINGS - forwarded
    assert not missing, f"add to run_launcher.config.env_vars in deploy/dagster.yaml: {missing}"


def test_run_tasks_get_every_pipeline_setting() -> None:
    """The run worker loads the definitions again, in the run task's environment.

    A knob set on the daemon but not forwarded would make the run use the default instead
    (e.g. concurrency 8 instead of the 4 the quota arithmetic assumed), silently.
    """
    resources = REPO_ROOT / "enrichment_dagster" / "resources.py"
    if not resources.exists():
        pytest.skip("enrichment_dagster/resources.py is not there yet")
    source = resources.read_text(encoding="utf-8")
    read = set(re.findall(r'(?:env_or|env_int_or|_float_env)\(\s*"([A-Z0-9_]+)"', source))
    assert read, "no environment variables found in resources.py: did the helpers change?"
    forwarded = set(load_yaml(PRODUCTION_YAML)["run_launcher"]["config"]["env_vars"])
    missing = read - NOT_FORWARDED - forwarded
    assert not missing, f"add to run_launcher.config.env_vars in deploy/dagster.yaml: {missing}"
    assert "ENRICHMENT_PARTITIONS_START" in forwarded  # read by partitions.py at import


def test_password_is_a_secret_reference_never_a_plain_value() -> None:
    production = load_yaml(PRODUCTION_YAML)
    launcher = production["run_launcher"]["config"]
    assert "DAGSTER_PG_PASSWORD" not in launcher["env_vars"]
    assert not any(item.startswith("DAGSTER_PG_PASSWORD=") for item in launcher["env_vars"])
    (secret,) = launcher["secrets"]
    assert secret == {
        "name": "DAGSTER_PG_PASSWORD",
        "valueFrom": {"env": "DAGSTER_PG_PASSWORD_SECRET_ARN"},
    }
    # Tag-based lookup would mount every secret tagged "dagster" and needs ListSecrets on *.
    assert launcher["secrets_tag"] is None
    assert production["storage"]["custom"]["config"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"
    }


def test_local_variant_matches_production_limits() -> None:
    """The local variant exists to behave like production; only launcher and host differ."""
    production = load_yaml(PRODUCTION_YAML)
    local = load_yaml(LOCAL_YAML)
    assert local["concurrency"] == production["concurrency"]
    assert local["retention"] == production["retention"]
    assert local["run_launcher"] == {"module": "dagster", "class": "DefaultRunLauncher"}
    assert local["run_coordinator"]["class"] == production["run_coordinator"]["class"]


def test_run_limit_cannot_come_from_env_alongside_pools(tmp_path: Path) -> None:
    """Why ``max_concurrent_runs`` is a fixed number in deploy/dagster.yaml.

    QueuedRunCoordinator accepts ``{env: VAR}`` for it, but Dagster 1.13 rejects run limits
    in the coordinator as soon as a ``concurrency`` block (needed for the pool) exists, and
    ``concurrency.runs.max_concurrent_runs`` is a plain int. If a Dagster upgrade lifts this,
    the test fails and the limit can move to an environment variable.
    """
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n"
        "  module: dagster\n"
        "  class: QueuedRunCoordinator\n"
        "  config:\n"
        "    max_concurrent_runs: {env: DAGSTER_MAX_CONCURRENT_RUNS}\n"
        "concurrency:\n"
        "  pools:\n"
        "    default_limit: 4\n",
        encoding="utf-8",
    )
    with pytest.raises(DagsterInvalidConfigError, match="max_concurrent_runs"):
        dagster_instance_config(str(home))
    (home / "dagster.yaml").write_text(
        "concurrency:\n  runs:\n    max_concurrent_runs: {env: DAGSTER_MAX_CONCURRENT_RUNS}\n",
        encoding="utf-8",
    )
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(home))


def test_workspace_yaml_validates_and_names_the_project_code_location() -> None:
    """The image's workspace loads the same module and location name as `dagster dev`."""
    workspace = load_yaml(DEPLOY_DIR / "workspace.yaml")
    ensure_workspace_config(workspace, str(DEPLOY_DIR / "workspace.yaml"))
    (entry,) = workspace["load_from"]
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert entry["python_module"]["module_name"] == pyproject["tool"]["dagster"]["module_name"]
    assert (
        entry["python_module"]["location_name"]
        == pyproject["tool"]["dagster"]["code_location_name"]
    )
