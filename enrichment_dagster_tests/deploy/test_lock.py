"""The environment is the lock: ``uv.lock`` is current, installed exactly, and complete.

Every install (``make``, ``.ci/run``, ``deploy/Dockerfile``) is made from ``uv.lock``; a
release on the registry changes nothing until ``make lock`` or ``make upgrade`` is run and
the new lock is committed. These tests prove the three links of that chain against the real
``uv`` of the locked version: the lock agrees with ``pyproject.toml``; this environment
holds exactly the lock's packages at the lock's versions; the runtime set alone (what the
image installs, no test extras) is consistent and loads the Definitions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from enrichment_dagster_tests.deploy.conftest import REPO_ROOT

PROJECT = "enrichment-dagster"
UV = Path(sys.prefix) / "bin" / "uv"


def _uv(*args: str, cwd: Path = REPO_ROOT) -> str:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "NO_COLOR": "1"}
    result = subprocess.run(
        [str(UV), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"uv {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def _exported(*extra_args: str) -> dict[str, str]:
    """Canonical name -> version of the lock's packages for this platform."""
    text = _uv("export", "--frozen", "--no-emit-project", "--no-hashes", *extra_args)
    pins: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", line
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def _installed() -> dict[str, str]:
    found: dict[str, str] = {}
    for distribution in metadata.distributions(path=sys.path):
        name = canonicalize_name(distribution.metadata["Name"])
        if name != PROJECT:
            found[name] = distribution.version
    return found


def test_uv_is_the_locked_version_everywhere() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    required = pyproject["tool"]["uv"]["required-version"].removeprefix("==")
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    (make_version,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, flags=re.MULTILINE)
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    (docker_version,) = re.findall(r"^ARG UV_VERSION=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert required == make_version == docker_version == metadata.version("uv")


def test_lock_agrees_with_pyproject() -> None:
    # --check fails when pyproject.toml asks for something the lock does not hold.
    _uv("lock", "--check", "--offline")


def test_direct_dependencies_are_pinned() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    groups = [pyproject["project"]["dependencies"]]
    groups += list(pyproject["project"]["optional-dependencies"].values())
    for dependency in (dep for group in groups for dep in group):
        (specifier,) = Requirement(dependency).specifier
        assert specifier.operator == "==", f"unpinned in pyproject.toml: {dependency}"


def test_environment_is_exactly_the_lock() -> None:
    locked = _exported("--extra", "test")
    installed = _installed()
    missing = {name: v for name, v in locked.items() if installed.get(name) != v}
    extra = {name: v for name, v in installed.items() if name not in locked}
    assert not missing, f"locked but not installed at the locked version: {missing}"
    assert not extra, f"installed but not in uv.lock: {extra}"


def test_runtime_set_excludes_the_test_extras() -> None:
    runtime = _exported()
    full = _exported("--extra", "test")
    assert runtime.items() <= full.items()
    for name in ("pytest", "moto", "ruff", "playwright", "uv"):
        assert name not in runtime, name
    for name in ("dagster", "dagster-aws", "dagster-postgres", "pyarrow", "boto3", "duckdb"):
        assert name in runtime, name


def test_no_unpinned_install_anywhere() -> None:
    """Every pip/uv install in the build files names a pinned version or the lock."""
    files = [REPO_ROOT / "Makefile", REPO_ROOT / ".ci" / "run", REPO_ROOT / "deploy" / "Dockerfile"]
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"\bpip install\b", line):
                pinned = re.search(r"uv==\S+|--no-index", line)
                assert pinned, f"{path.name}: unpinned install: {line.strip()}"
            if re.search(r"\buv (sync|pip install)\b", line):
                assert "--frozen" in line, f"{path.name}: uv install not frozen: {line.strip()}"


@pytest.mark.slow
def test_runtime_set_alone_installs_and_loads(tmp_path: Path) -> None:
    """What the image installs (the runtime set, nothing else) is consistent and sufficient."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        _uv("export", "--frozen", "--no-emit-project", "--format", "requirements-txt"),
        encoding="utf-8",
    )
    venv = tmp_path / "runtime"
    _uv("venv", "--python", sys.executable, str(venv))
    env_python = venv / "bin" / "python"
    _uv("pip", "sync", "--python", str(env_python), "--require-hashes", str(requirements))
    _uv("pip", "install", "--python", str(env_python), "--no-deps", str(REPO_ROOT))
    _uv("pip", "check", "--python", str(env_python))
    result = subprocess.run(
        [str(env_python), "-c", "import enrichment_dagster.definitions as d; print(type(d.defs))"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
