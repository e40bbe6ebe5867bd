"""The rules package stands alone: what it imports, and what its version digests.

``enrichment_dagster.rules`` may import the contracts, its own modules, the standard library
and PyYAML (the skills catalog), nothing else: not ``llm``, ``engine``, ``prompts``,
``storage`` or Dagster. That is what lets ``rules_version()`` (the ``heuristic`` backend's
cache identity) digest the rules alone.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
from pathlib import Path

from enrichment_dagster.rules.answers import RULES_DIR, rules_version

PACKAGE = "enrichment_dagster.rules"
ALLOWED_OWN = ("enrichment_dagster.contracts", PACKAGE)
ALLOWED_THIRD_PARTY = {"yaml"}
_DOTTED_PROJECT_NAME = re.compile(r"enrichment_dagster(\.\w+)*")


def _inside(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def imported_names(source: str, module: str, is_package: bool = False) -> list[str]:
    """Absolute names of everything ``source`` (the module ``module``) imports, anywhere in
    it (functions included), plus string constants that name a project module (as
    ``importlib.resources.files("enrichment_dagster.rules")`` does)."""
    package = module if is_package else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            names.append(target)
            if target == "enrichment_dagster":  # from enrichment_dagster import llm
                names += [f"{target}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _DOTTED_PROJECT_NAME.fullmatch(node.value)
        ):
            names.append(node.value)
    return names


def forbidden_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    found = []
    for name in imported_names(source, module, is_package):
        top = name.split(".")[0]
        if top == "enrichment_dagster":
            if name != "enrichment_dagster" and not _inside(name, ALLOWED_OWN):
                found.append(name)
        elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
            found.append(name)
    return found


def _modules() -> list[tuple[Path, str, bool]]:
    modules = []
    for path in sorted(RULES_DIR.rglob("*.py")):
        parts = path.relative_to(RULES_DIR).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        dotted = ".".join((PACKAGE, *parts[:-1]) if is_package else (PACKAGE, *parts))
        modules.append((path, dotted, is_package))
    return modules


def test_rules_import_only_the_contracts_and_themselves() -> None:
    modules = _modules()
    assert len(modules) >= 15, modules
    bad = {
        dotted: names
        for path, dotted, is_package in modules
        if (names := forbidden_imports(path.read_text(encoding="utf-8"), dotted, is_package))
    }
    assert bad == {}


def test_the_import_check_sees_every_kind_of_import() -> None:
    source = (
        "import json\n"
        "import dagster\n"
        "from enrichment_dagster.contracts.silver import SilverRecord\n"
        "from enrichment_dagster import contracts, llm\n"
        "from . import text\n"
        "from .. import engine\n"
        "def later():\n"
        "    from enrichment_dagster.llm.types import LLMRequest\n"
        "    importlib.import_module('enrichment_dagster.storage.parquet')\n"
    )
    assert forbidden_imports(source, "enrichment_dagster.rules.example") == [
        "dagster",
        "enrichment_dagster.llm",
        "enrichment_dagster.engine",
        "enrichment_dagster.llm.types",
        "enrichment_dagster.storage.parquet",
    ]


def test_the_version_digests_the_rules_and_the_catalog(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert rules_version(copy) == rules_version()
    (copy / "NOTES.txt").write_text("not a rule")
    assert rules_version(copy) == rules_version()

    catalog = copy / "skills_catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert rules_version(copy) != rules_version()

    shutil.copy(RULES_DIR / "skills_catalog.yaml", catalog)
    assert rules_version(copy) == rules_version()
    salary = copy / "salary.py"
    salary.write_text(salary.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert rules_version(copy) != rules_version()
