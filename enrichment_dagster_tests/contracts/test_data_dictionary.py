from pathlib import Path

from enrichment_dagster.contracts.dictionary import render_dictionary
from enrichment_dagster.contracts.output import silver_ai_schema

DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "data_dictionary.md"


def test_committed_data_dictionary_is_fresh() -> None:
    assert DICTIONARY.read_text(encoding="utf-8") == render_dictionary(), (
        "docs/data_dictionary.md is stale: run `make data-dictionary`"
    )


def test_dictionary_lists_every_column() -> None:
    text = render_dictionary()
    for name in silver_ai_schema().names:
        assert f"| `{name}` |" in text
