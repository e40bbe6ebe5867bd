"""The billing invariant under hostile answers and faults (issue 12).

For every record, over several runs of the same partition against the fake Bedrock
server in one hostile mode:

* the answers the fake billed (a throttled or 5xx request is not billed) and their tokens
  equal what the pass tables record: every billed call is in ``input_tokens``/
  ``output_tokens``, and every request sent is in ``attempts``;
* without transport faults, billed answers = recorded attempts exactly;
* a rerun bills nothing for a record whose three passes are answered, and a record that
  keeps failing is sent in at most ``max_attempts_per_record`` runs (the attempts ledger),
  after which no run bills it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster.engine.cache import LEDGER_SUFFIX
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock, pass_of, record_id_of
from enrichment_dagster_tests.faults.harness import (
    DEFAULT_DESCRIPTION,
    bedrock_llm,
    defs_for,
    read_output,
    run_job,
    silver_row,
    silver_table,
    write_silver,
)
from enrichment_dagster_tests.faults.test_hostile_answers import good_answer

CAP = 2
RUNS = CAP + 1
RECORDS = [f"77{i:02d}" for i in range(8)]


def _posting(index: int) -> str:
    return f"{DEFAULT_DESCRIPTION} Team number {index}."


def _good(pass_number: int) -> str:
    return json.dumps(good_answer(pass_number, "9001"))


def _deep(_: int) -> str:
    return '{"extraction": ' + "[" * 10_000 + "]" * 10_000 + "}"


def _huge_int(_: int) -> str:
    return _good(1).replace("150000", "9" * 5_000)


def _surrogate(pass_number: int) -> str:
    return _good(pass_number).replace("per year.", "per year. \\ud800")


def _wrong_posting(_: int) -> str:
    data = good_answer(1, "9001")
    data["job_posting_id"] = "4711"
    return json.dumps(data)


def _prose(_: int) -> str:
    return "I'm sorry, \ud800 I cannot answer that."


HOSTILE: dict[str, Callable[[int], str]] = {
    "deep_json": _deep,
    "huge_int": _huge_int,
    "lone_surrogate": _surrogate,
    "wrong_posting": _wrong_posting,
    "prose": _prose,
}

#: mode -> (per record: hostile answer kind or None, fake settings)
MODES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "deep_json": ({r: "deep_json" for r in RECORDS[:4]}, {}),
    "huge_ints": ({r: "huge_int" for r in RECORDS[:4]}, {}),
    "lone_surrogates": ({r: "lone_surrogate" for r in RECORDS[:4]}, {}),
    "wrong_posting": ({r: "wrong_posting" for r in RECORDS[:4]}, {}),
    "truncation": ({}, {"fail_records": {r: "always_truncated" for r in RECORDS[:3]}}),
    "malformed_text": ({}, {"malformed_rate": 0.4, "reasoning_only_rate": 0.1, "seed": 3}),
    "throttling_5xx": ({}, {"throttle_rate": 0.3, "server_error_rate": 0.15, "seed": 5}),
    "mixed": (
        {RECORDS[0]: "deep_json", RECORDS[1]: "huge_int", RECORDS[2]: "lone_surrogate",
         RECORDS[3]: "wrong_posting", RECORDS[4]: "prose"},
        {"throttle_rate": 0.2, "server_error_rate": 0.1, "truncated_rate": 0.1, "seed": 11},
    ),
}
TRANSPORT_FAULTS = {"throttling_5xx", "mixed"}
#: Faults drawn at random per call: a record may reach a later pass only in a later run.
RANDOM_FAULTS = TRANSPORT_FAULTS | {"malformed_text"}


def _answer_for(kinds: Mapping[str, str]) -> Callable[[Mapping[str, Any], str], str]:
    def reply(body: Mapping[str, Any], _model: str) -> str:
        pass_number, record_id = pass_of(body) or 1, record_id_of(body) or ""
        kind = kinds.get(record_id)
        if kind is not None and (pass_number == 1 or kind == "lone_surrogate"):
            return HOSTILE[kind](pass_number)
        return _good(pass_number)
    return reply


def _recorded(root: Path) -> tuple[Counter[str], Counter[str], dict[str, bool], set[tuple]]:
    """Per record over the three pass tables of the last run: attempts, tokens, whether
    every pass is complete, and the (record, pass) pairs that were sent."""
    attempts: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    complete = dict.fromkeys(RECORDS, True)
    sent: set[tuple] = set()
    for n in (1, 2, 3):
        for record_id, row in read_output(root, f"pass{n}").items():
            attempts[record_id] += row["attempts"]
            tokens[record_id] += row["input_tokens"] + row["output_tokens"]
            complete[record_id] &= row["status"] == "complete"
            if row["attempts"]:
                sent.add((record_id, n))
    return attempts, tokens, complete, sent


def _ledger(root: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in root.rglob(f"*{LEDGER_SUFFIX}")]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_billed_calls_equal_recorded_attempts_and_reruns_pay_nothing_twice(
    tmp_path: Path, fake_bedrock: FakeBedrock, mode: str
) -> None:
    kinds, settings = MODES[mode]
    write_silver(tmp_path, silver_table([silver_row(r, _posting(i)) for i, r in enumerate(RECORDS)]))
    fake_bedrock.configure(answer=_answer_for(kinds), **settings)
    defs = defs_for(tmp_path, bedrock_llm(fake_bedrock.endpoint_url,
                                          max_attempts_per_record=CAP))
    answered: set[str] = set()
    runs_sent: Counter[tuple] = Counter()
    totals: Counter[str] = Counter()
    for run_number in range(1, RUNS + 1):
        fake_bedrock.reset_stats()
        assert run_job(defs).success, (mode, run_number)
        stats = fake_bedrock.stats
        attempts, tokens, complete, sent_pairs = _recorded(tmp_path)
        runs_sent.update(sent_pairs)
        for record_id in RECORDS:
            billed = stats.per_record_billed.get(record_id, 0)
            sent = stats.per_record_calls.get(record_id, 0)
            where = (mode, run_number, record_id)
            assert tokens[record_id] == stats.per_record_billed_tokens.get(record_id, 0), where
            assert attempts[record_id] == sent, where
            if mode not in TRANSPORT_FAULTS:
                assert billed == attempts[record_id], where
            if record_id in answered:
                assert sent == 0, where  # answered in an earlier run: never paid again
            totals["billed"] += billed
            totals["attempts"] += attempts[record_id]
        answered |= {r for r, done in complete.items() if done}
    assert all(entry["failed_runs"] <= CAP for entry in _ledger(tmp_path))
    if mode not in TRANSPORT_FAULTS:
        # a pass that kept failing was sent in at most CAP runs; run CAP + 1 sends nothing
        # (under transport faults a throttle does not count against the record)
        assert all(n <= CAP for n in runs_sent.values()), runs_sent
    if mode not in RANDOM_FAULTS:
        assert fake_bedrock.stats.calls == 0, mode  # every pass answered or capped
    print(f"{mode}: billed={totals['billed']} attempts={totals['attempts']} "
          f"answered={len(answered)}/{len(RECORDS)}")
