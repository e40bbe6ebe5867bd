"""Prompts for the three passes, rendered from the contracts.

The schema section of every prompt is generated from the pass models (field, type or
vocabulary, meaning), never typed by hand, so a prompt cannot drift from the validator.
The posting is cleaned once (HTML entities decoded, whitespace collapsed) and fenced as
data between markers derived from its own hash, which the posting cannot forge.
Earlier passes travel as compact JSON without nulls and ``not_mentioned`` and are never
cut; when a prompt exceeds its token budget only the description is shortened, and the
prompt says so.

The record id is not in the prompt: the model does not need it (and would be billed for it
on every call), and two postings with the same content must render the same input so that
they share one cached answer. Backends send the id beside the prompt
(:class:`~enrichment_dagster.llm.types.LLMRequest` ``record_id``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

from enrichment_dagster.contracts import vocab
from enrichment_dagster.contracts.absent import is_absent
from enrichment_dagster.contracts.passes import (
    CORE_KEYS,
    PASS_MODELS,
    SCHEMA_VERSION,
    Pass1Output,
    Pass2Output,
)
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.contracts.types import field_kinds, type_label
from enrichment_dagster.llm.types import Message

SHORTENED_MARKER = " [...] "


@dataclass(frozen=True)
class PromptBudget:
    """Input-token budget; tokens are estimated as characters / ``chars_per_token``."""

    max_input_tokens: int = 12000
    chars_per_token: float = 4.0

    def tokens(self, chars: int) -> int:
        return int(chars / self.chars_per_token) + 1


@dataclass(frozen=True)
class RenderedPrompt:
    pass_number: int
    messages: tuple[Message, ...]
    prompt_version: str
    description_shortened: bool
    estimated_input_tokens: int

    @property
    def chars(self) -> int:
        return sum(len(m.content) for m in self.messages)


@cache
def _template(name: str) -> str:
    return (
        resources.files("enrichment_dagster.prompts").joinpath("templates", name).read_text("utf-8")
    )


def _schema_lines(model: type[BaseModel], indent: str) -> list[str]:
    lines: list[str] = []
    for name, kind in field_kinds(model).items():
        description = model.model_fields[name].description or ""
        if kind.name == "model" and kind.model is not None and name not in ("team_composition",):
            lines.append(f"{indent}{name}:")
            lines.extend(_schema_lines(kind.model, indent + " "))
            continue
        label = type_label(kind).replace(f"|{vocab.NOT_MENTIONED}", "")
        shown = description if _adds_information(name, description) else ""
        lines.append(f"{indent}{name}: {label}" + (f" - {shown}" if shown else ""))
    return lines


def _adds_information(name: str, description: str) -> bool:
    """A meaning made only of the field name's own words ("start date") wastes tokens."""
    words = set(re.findall(r"[a-z0-9]+", description.lower())) - {"the", "of", "a", "an", "in"}
    return bool(words - set(name.lower().split("_")))


@cache
def schema_section(pass_number: int) -> str:
    """The generated field list of a pass: every field, its type or vocabulary, its meaning."""
    top = field_kinds(PASS_MODELS[pass_number])
    lines: list[str] = []
    for key, kind in top.items():
        assert kind.model is not None
        lines.append(f"{key}:")
        lines.extend(_schema_lines(kind.model, " "))
    return "\n".join(lines)


@cache
def system_prompt(pass_number: int) -> str:
    return (
        _template(f"pass{pass_number}.txt")
        .replace("{rules}", _template("rules.txt").strip())
        .replace("{schema_version}", SCHEMA_VERSION)
        .replace("{schema}", schema_section(pass_number))
        .strip()
    )


@cache
def prompt_version(pass_number: int) -> str:
    """Changes whenever the template, the rules, the contract or the layout of the user
    message change: the cache key uses it, and the tables report it."""
    material = f"{SCHEMA_VERSION}\n{system_prompt(pass_number)}\n{user_layout()}"
    digest = hashlib.sha256(material.encode())
    return f"p{pass_number}-{digest.hexdigest()[:12]}"


@cache
def user_layout() -> str:
    """The fixed text of every user message (labels, their order, the fence, the closing
    line), rendered around placeholders.

    Why: that text is written in code, not in a template file, yet it is as much the prompt
    as the templates are; being part of :func:`prompt_version`, a change to it changes the
    version (and so the cache key and the version the tables report) as a template change
    does.
    """
    record = SilverRecord(
        job_posting_id="0", job_title="{title}", company_name="{company}",
        job_location="{location}", country_code="{country}", salary_min=1.0, salary_max=2.0,
        salary_currency="{currency}", salary_period="{period}",
        job_seniority_level="{seniority}", job_employment_type="{employment}",
        job_num_applicants=3, job_description_text="{description}",
    )
    return _user_message(record, record.description, "{context}", "{note}")


@cache
def output_schema(pass_number: int) -> dict[str, Any]:
    """The JSON schema of a pass's answer, for tool-use / JSON-mode backends."""
    return PASS_MODELS[pass_number].model_json_schema()


# ----------------------------------------------------------------- compact context


def _prune(value: Any) -> Any:
    """Drop what is absent (:func:`~enrichment_dagster.contracts.absent.is_absent`): it
    carries no information.

    Only containers are recursed into, each dict in one loop: this runs over every value
    of the earlier passes in every pass-2 and pass-3 prompt, and a call per scalar and a
    second dict per dict were most of its time.
    """
    if isinstance(value, dict):
        pruned = {}
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                item = _prune(item)
            if not is_absent(item):
                pruned[key] = item
        return pruned
    if isinstance(value, list):
        return [_prune(v) if isinstance(v, (dict, list)) else v
                for v in value if v not in (None, vocab.NOT_MENTIONED)]
    return value


def compact_pass1(output: Pass1Output | None) -> str:
    if output is None:
        return "{}"
    # Verbatim quotes repeat the posting that passes 2 and 3 read in full: not even dumped.
    data = _prune(output.model_dump(mode="json", exclude=_pass1_quotes())[CORE_KEYS[1]])
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@cache
def _pass1_quotes() -> dict[str, dict[str, set[str]]]:
    """``model_dump``'s ``exclude`` for the quote fields (``*_text``, ``*_raw``) of every
    pass-1 group; a group left with nothing after pruning is dropped by ``_prune``."""
    groups = {}
    for group, kind in field_kinds(PASS_MODELS[1].model_fields[CORE_KEYS[1]].annotation).items():
        assert kind.model is not None
        groups[group] = {name for name in field_kinds(kind.model)
                         if name.endswith(("_text", "_raw"))}
    return {CORE_KEYS[1]: groups}


def compact_pass2(output: Pass2Output | None) -> str:
    """Pass-2 values with their confidence as ``[value, confidence]``; evidence is left out
    because it quotes the posting that pass 3 already reads in full."""
    if output is None:
        return "{}"
    groups = output.model_dump(mode="json")[CORE_KEYS[2]]
    flat: dict[str, Any] = {}
    for fields in (groups or {}).values():
        for name, item in (fields or {}).items():
            value = _prune((item or {}).get("value"))
            if is_absent(value):
                continue
            flat[name] = [value, (item or {}).get("confidence")]
    return json.dumps(flat, ensure_ascii=False, separators=(",", ":"))


def _facts(record: SilverRecord) -> str:
    facts = [
        ("title", record.job_title),
        ("company", record.company_name),
        ("location", record.job_location),
        ("country code", record.country_code),
        ("salary listed by the job board", record.silver_salary_text),
        ("seniority (job board)", record.job_seniority_level),
        ("employment type (job board)", record.job_employment_type),
        ("applicants so far", record.job_num_applicants),
    ]
    return "\n".join(f"- {name}: {value}" for name, value in facts if value not in (None, ""))


def _fence(description: str) -> tuple[str, str]:
    tag = hashlib.sha256(description.encode()).hexdigest()[:10]
    return f"<<<POSTING {tag}", f"POSTING {tag}>>>"


def _shorten(text: str, keep: int) -> str:
    """Keep the head (role, requirements) and the tail (pay, benefits, authorization)."""
    keep = max(keep, 0)
    head = int(keep * 0.7)
    tail = keep - head
    return text[:head] + SHORTENED_MARKER + (text[-tail:] if tail else "")


def _user_message(record: SilverRecord, description: str, context: str, note: str) -> str:
    opening, closing = _fence(record.description)
    body = (
        description.replace(opening, "").replace(closing, "") or "(the posting has no description)"
    )
    parts = [
        "Job-board facts (structured, trusted):",
        _facts(record) or "- none",
    ]
    if context:
        parts.append(context)
    parts.extend([opening, body, closing])
    if note:
        parts.append(note)
    parts.append("Answer with the JSON object only.")
    return "\n".join(parts)


def render_prompt(
    pass_number: int,
    record: SilverRecord,
    pass1: Pass1Output | None = None,
    pass2: Pass2Output | None = None,
    budget: PromptBudget = PromptBudget(),
) -> RenderedPrompt:
    context = ""
    if pass_number >= 2:
        context = f"Pass-1 facts (compact JSON): {compact_pass1(pass1)}"
    if pass_number == 3:
        context += f"\nPass-2 inferences as [value, confidence]: {compact_pass2(pass2)}"
    system = system_prompt(pass_number)
    description = record.description
    user = _user_message(record, description, context, "")
    total = len(system) + len(user)
    shortened = False
    limit = int(budget.max_input_tokens * budget.chars_per_token)
    if total > limit and description:
        overflow = total - limit + 200  # room for the note
        kept = max(len(description) - overflow, 0)
        note = (
            f"Note: the description was shortened to fit the budget: {kept:,} of "
            f"{len(description):,} characters shown; [...] marks the cut."
        )
        user = _user_message(record, _shorten(description, kept), context, note)
        shortened = True
    messages = (Message("system", system), Message("user", user))
    return RenderedPrompt(
        pass_number=pass_number,
        messages=messages,
        prompt_version=prompt_version(pass_number),
        description_shortened=shortened,
        estimated_input_tokens=budget.tokens(len(system) + len(user)),
    )
