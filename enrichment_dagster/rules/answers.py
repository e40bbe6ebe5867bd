"""The rules' answer to each pass, its text, and the version of the rules.

:func:`answer` returns the answer object a model would return for the same pass, in the
contract's shape (plain dicts and lists; ``contracts.lenient.validate_pass`` reads it).
Without earlier answers, passes 2 and 3 compute their own from the same rules.

Deterministic: the same record (and earlier answers) give the same object, and
:func:`render` the same text byte for byte (keys sorted, lists in first-mention or fixed
order). Thread-safe: the only shared state is the compiled catalog and an LRU cache of
per-record analyses (:func:`.pass1.clear_cache`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.rules import pass1 as first_pass
from enrichment_dagster.rules import pass2 as second_pass
from enrichment_dagster.rules import pass3 as third_pass

#: The folder of the rules: every ``*.py`` and ``*.yaml`` file in it is part of the version.
RULES_DIR = Path(__file__).parent


def answer(
    pass_number: int,
    record: SilverRecord,
    pass1: Pass1Output | None = None,
    pass2: Pass2Output | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """The answer object of pass ``pass_number`` for ``record``.

    ``pass1`` / ``pass2`` are the earlier answers (pass 2 reads ``pass1``, pass 3 both);
    ``description``, when given, must be ``record.description``: it spares cleaning the
    raw text again.
    """
    if pass_number == 1:
        return first_pass.answer(record, description)
    if pass_number == 2:
        return second_pass.answer(record, pass1, description)
    if pass_number == 3:
        return third_pass.answer(record, pass1, pass2, description)
    raise ValueError(f"unknown pass {pass_number!r}")


def render(data: dict[str, Any]) -> str:
    """The answer text: compact JSON with sorted keys (byte-stable)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def rules_version(folder: Path = RULES_DIR) -> str:
    """A digest of the rules and the skills catalog: the rules' "model version".

    Every ``*.py`` and ``*.yaml`` file of ``folder`` (this package), by name and content:
    a change of any rule, of the catalog or of :func:`render` gives a new version.
    """
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.*")):
        if path.suffix in (".py", ".yaml"):
            digest.update(path.name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()[:12]
