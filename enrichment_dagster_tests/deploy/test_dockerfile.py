"""Lint ``deploy/Dockerfile`` for what matters in production (Docker cannot run here).

Checks: multi-stage with the compiler only in the builder, a slim Python 3.11 base,
non-root final user, DAGSTER_HOME and the two config files in place, installation only
from the builder's wheels, which are exactly the runtime set of ``uv.lock`` (hash-checked),
and a build context that contains what the Dockerfile copies and nothing else. That the
lock itself is current and installed is ``test_lock.py``'s concern.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from enrichment_dagster_tests.deploy.conftest import DEPLOY_DIR, REPO_ROOT

DOCKERFILE = DEPLOY_DIR / "Dockerfile"
COMPILER_PACKAGES = ("build-essential", "gcc", "g++", "clang", "make", "libpq-dev", "python3-dev")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction: comments dropped, continuations joined."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "dangling line continuation"
    result = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def _parse() -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, rest in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, flags=re.IGNORECASE)
            assert match, rest
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], match.group(1))
            stages.append(Stage(base=base, name=match.group(2)))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            name, _, default = rest.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return global_args, stages


def test_multi_stage_slim_python_311() -> None:
    _, stages = _parse()
    assert len(stages) >= 2
    for stage in stages:
        assert stage.base.startswith("python:3.11-slim"), stage.base
    assert stages[0].name == "builder"
    # The runtime stage starts from the slim base, not from the builder.
    assert stages[-1].base != "builder"


def test_compilers_only_in_the_builder() -> None:
    _, stages = _parse()
    builder_runs = " ".join(stages[0].args("RUN"))
    assert "build-essential" in builder_runs  # the reason the builder exists
    final = stages[-1]
    final_text = " ".join(rest for _, rest in final.instructions)
    for package in COMPILER_PACKAGES:
        assert not re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", final_text), package
    assert "apt-get install" not in final_text
    # The final image installs the builder's wheels only: offline, no resolver, checked.
    (install,) = [run for run in final.args("RUN") if "pip install" in run]
    assert "--no-index" in install and "--no-deps" in install
    assert "from=builder" in install
    assert "pip check" in install
    # The builder's wheels are the lock's runtime set: exported frozen, no extras, hashed.
    (wheel,) = [run for run in stages[0].args("RUN") if "pip wheel" in run]
    export = wheel.split("&&")[0]
    assert export.split()[:2] == ["uv", "export"], export
    assert "--frozen" in export
    assert "--extra" not in export and "--all-extras" not in export
    assert "--require-hashes" in wheel
    (uv_install,) = [run for run in stages[0].args("RUN") if "pip install" in run]
    assert '"uv==${UV_VERSION}"' in uv_install
    # Wheels are bind-mounted, never copied into a layer of the final image.
    assert not any("/wheels" in copy for copy in final.args("COPY"))


def test_runs_as_a_non_root_user() -> None:
    _, stages = _parse()
    users = stages[-1].args("USER")
    assert users, "the final stage must set USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # USER comes after the last RUN, so nothing later runs as root by accident.
    keywords = [keyword for keyword, _ in stages[-1].instructions]
    assert max(i for i, k in enumerate(keywords) if k == "RUN") < keywords.index("USER")


def test_dagster_home_and_configuration_files() -> None:
    _, stages = _parse()
    final = stages[-1]
    env = " ".join(final.args("ENV"))
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in env
    copies = {}
    for copy in final.args("COPY"):
        parts = [part for part in shlex.split(copy) if not part.startswith("--")]
        copies[parts[0]] = parts[-1].replace("${DAGSTER_HOME}", "/opt/dagster/dagster_home")
    assert copies["deploy/dagster.yaml"] == "/opt/dagster/dagster_home/dagster.yaml"
    workspace = copies["deploy/workspace.yaml"]
    (cmd,) = final.args("CMD")
    assert workspace in cmd
    assert "dagster-webserver" in cmd
    assert not final.args("ENTRYPOINT"), "an ENTRYPOINT would prefix the run launcher's command"


def test_build_context_contains_what_is_copied() -> None:
    """BuildKit reads deploy/Dockerfile.dockerignore; everything COPY'd must be let in."""
    ignore = (DEPLOY_DIR / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore, "exclude everything by default"
    _, stages = _parse()
    sources = []
    for stage in stages:
        for copy in stage.args("COPY"):
            if "--from=" in copy:
                continue
            parts = [part for part in shlex.split(copy) if not part.startswith("--")]
            sources += parts[:-1]
        for run in stage.args("RUN"):
            sources += re.findall(r"type=bind,source=([^,\s]+)", run) if "from=" not in run else []
    assert sources
    for source in sources:
        assert source.rstrip("/") in included, f"{source} is excluded from the build context"
        assert (REPO_ROOT / source).exists(), source
