"""Turn input records into rendered prompts with cache keys, and group identical ones.

Rendering is cheap and local: a record that cannot be rendered fails alone, and a record
whose answer key is already being asked for joins that group instead of being sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine.cache import answer_key, content_hash, record_input_hash
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.prompts.render import PromptBudget, RenderedPrompt, render_prompt


@dataclass(frozen=True)
class PreparedRecord:
    index: int
    record: SilverRecord
    context: PassContext
    rendered: RenderedPrompt
    #: Hash of the model input, which holds no record id (engine.cache.content_hash), or
    #: for a backend that answers by record, that hash bound to the id (record_input_hash).
    input_hash: str
    key: str
    #: ``record.description``, kept from rendering: grounding reads it again after the
    #: whole batch was rendered, when the description cache no longer holds it and the
    #: posting would be cleaned a second time (HTML entities decoded: most of its cost).
    description: str


@dataclass
class Group:
    """Records with the same answer key: the first (the leader) is sent, the rest copy it."""

    key: str
    members: list[PreparedRecord]

    @property
    def leader(self) -> PreparedRecord:
        return self.members[0]


def missing_upstream(
    pass_number: int, record_id: str, previous: Mapping[str, PassContext] | None
) -> str | None:
    """Why a pass-2/3 record cannot run yet, or None when its context is there."""
    if pass_number == 1:
        return None
    context = (previous or {}).get(record_id)
    if context is None or context.pass1 is None:
        return f"pass {pass_number} needs the pass-1 output of record {record_id}; it has none"
    if pass_number == 3 and context.pass2 is None:
        return f"pass 3 needs the pass-2 output of record {record_id}; it has none"
    return None


def missing_posting_text(record: SilverRecord) -> str | None:
    """Why a record cannot be sent at all, or None when it has posting text.

    The rule: a record is sent only when ``job_description_text`` or, failing that,
    ``job_description_html`` holds a letter or digit (see ``SilverRecord.description``).
    A title, company or job-board salary alone is not a posting: every answer to it would
    be invented or empty, and on Bedrock it would be paid for.
    """
    if record.description_source is not None:
        return None
    return (
        f"record {record.job_posting_id} has no posting text: job_description_text and "
        "job_description_html are missing, blank or hold no words; not sent to any model"
    )


def prepare_record(
    index: int,
    record: SilverRecord,
    pass_number: int,
    backend_name: str,
    model_id: str,
    context: PassContext | None,
    budget: PromptBudget,
    by_record: bool = False,
) -> PreparedRecord:
    """Render the prompt of one record and derive its answer key.

    The prompt holds no record id, so two ids with the same posting get the same key and
    share one answer; ``by_record`` binds the id into the key, for backends whose answer
    depends on the id itself (replay reads ``<record_id>/pass{N}-<model>-raw.txt``).
    """
    context = context or PassContext()
    rendered = render_prompt(
        pass_number, record, pass1=context.pass1, pass2=context.pass2, budget=budget
    )
    input_hash = (
        record_input_hash(record.job_posting_id, rendered.messages)
        if by_record
        else content_hash(rendered.messages)
    )
    key = answer_key(pass_number, backend_name, model_id, rendered.prompt_version, input_hash)
    return PreparedRecord(index, record, context, rendered, input_hash, key, record.description)
