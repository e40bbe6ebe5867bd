"""``SilverRecord.description`` is cleaned once per text, never served stale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from enrichment_dagster.contracts import silver
from enrichment_dagster.contracts.silver import SilverRecord, clean_text


@pytest.fixture
def clean_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """Every call of ``clean_text`` made through the description cache, from a cold cache."""
    calls: list[str | None] = []

    def counting(text: str | None) -> str:
        calls.append(text)
        return clean_text(text)

    silver._cleaned_description.cache_clear()
    monkeypatch.setattr(silver, "clean_text", counting)
    yield calls
    silver._cleaned_description.cache_clear()


def test_repeated_reads_clean_the_text_once(clean_calls: list[str | None]) -> None:
    # The engine reads it four or five times per record and pass (render twice, the
    # request, grounding); a 300 KB posting took ~15 ms per read.
    record = SilverRecord(job_posting_id="1", job_description_text="A &amp;amp; B\u00a0  C " * 3)
    assert [record.description for _ in range(5)] == [clean_text(record.job_description_text)] * 5
    assert len(clean_calls) == 1


def test_a_changed_description_is_never_served_from_the_cache(clean_calls: list[str | None]) -> None:
    record = SilverRecord(job_posting_id="1", job_description_text="first &amp; text")
    assert record.description == "first & text"
    copy = record.model_copy(update={"job_description_text": "second  text"})
    assert copy.description == "second text"
    record.job_description_text = "third"
    assert record.description == "third"
    assert SilverRecord(job_posting_id="2").description == ""


def test_reading_the_description_leaves_records_equal() -> None:
    read = SilverRecord(job_posting_id="1", job_description_text="same")
    unread = SilverRecord(job_posting_id="1", job_description_text="same")
    assert read.description == "same"
    assert read == unread


def test_a_whole_engine_call_cleans_each_description_once(clean_calls: list[str | None]) -> None:
    """The memo holds an engine call of the default chunk (1,000 records): a pass over them
    cleans each description once, though each is read several times, in record order."""
    from enrichment_dagster.engine.run_snapshot import DEFAULT_CHUNK_RECORDS
    from enrichment_dagster.engine.runner import run_pass
    from enrichment_dagster.llm.heuristic import HeuristicBackend

    assert silver.DESCRIPTION_CACHE_SIZE >= DEFAULT_CHUNK_RECORDS
    records = [SilverRecord(job_posting_id=str(i), job_title="Data Engineer",
                            job_description_text=f"Posting {i}: build pipelines in Python and SQL.")
               for i in range(DEFAULT_CHUNK_RECORDS)]
    results = run_pass(records, 1, HeuristicBackend())
    assert all(result.success for result in results)
    cleaned = [text for text in clean_calls if text and text.startswith("Posting ")]
    assert len(cleaned) == len(records) == len(set(cleaned))
