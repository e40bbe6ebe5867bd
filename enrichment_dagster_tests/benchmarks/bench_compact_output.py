"""Fewer output tokens: the recorded gpt-oss answers written the way the prompts now ask.

Usage::

    python enrichment_dagster_tests/benchmarks/bench_compact_output.py --json
    python enrichment_dagster_tests/benchmarks/bench_compact_output.py --outputs DIR --json

Why: for reasoning models output is most of the bill, and the old prompts made the model
write every field of its pass, nulls and ``not_mentioned`` included, each pass-2/3 field as
an indented ``{"value", "confidence", "evidence", "source"}`` object. The prompts now ask for
one unindented object that leaves out what the posting does not inform and writes a pass-2/3
field as ``[value, confidence, evidence, source]`` (``contracts/absent.py`` owns that rule,
both ways).

What is measured, over every complete ``pass{1,2,3}-openai-gpt-oss-120b-1-0-raw.txt`` in
``$ENRICHMENT_SHARED_DATA/llm_outputs`` (99 jobs; real Bedrock answers):

* ``chars_before``: the answer's JSON as the model wrote it (``chars_before_minified``: the
  same object without whitespace, so no saving is claimed for indentation alone);
* ``chars_after``: ``compact_answer`` of the parsed answer, unindented: what the new prompts
  ask for. Evidence is kept as written, so the shorter-quote rule saves more than this says;
* ``values_identical``: the compact text is read back by the same parser and contracts and
  every flat column equals the original's, except the confidence, evidence and source of a
  value that is absent (counted in ``absent_value_parts_dropped``: the prompts say "below
  0.5 leave the field out", and no figure reads a confidence without a value).

The cost projection per posting uses the recorded token counts of the same answers (the
``.json`` files beside them) and states its assumptions in the output: our input tokens are
the recorded ones × ``--input-ratio`` (our prompts against the old ones, measured by
``enrichment prompt-report``), and each character the compact form saves is
``1 / --chars-per-token`` output tokens; hidden reasoning is billed as output and unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from enrichment_dagster.contracts.absent import compact_answer, is_absent  # noqa: E402
from enrichment_dagster.contracts.columns import flatten_pass, pass_columns  # noqa: E402
from enrichment_dagster.llm.parsing import parse_answer, parse_model_output  # noqa: E402
from enrichment_dagster.llm.prices import get_model  # noqa: E402
from enrichment_dagster.llm.replay import recorded_usage  # noqa: E402
from enrichment_dagster_tests.benchmarks.report import print_report  # noqa: E402

MODEL = "openai.gpt-oss-120b-1:0"
FILE_MODEL = "openai-gpt-oss-120b-1-0"
#: `enrichment prompt-report ../shared/data/silver --json`: median prompt characters of our
#: three passes against the old system's (earlier passes = the recorded gpt-oss answers).
DEFAULT_INPUT_RATIO = 0.354
DEFAULT_CHARS_PER_TOKEN = 4.0


def minified(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def compare(pass_number: int, before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], int]:
    """Columns that differ, and parts of absent values dropped by design."""
    differing: list[str] = []
    dropped = 0
    value_columns = {spec.field: spec.name for spec in pass_columns(pass_number) if spec.part == "value"}
    for spec in pass_columns(pass_number):
        if before.get(spec.name) == after.get(spec.name):
            continue
        if spec.part in ("confidence", "evidence", "source") and is_absent(
            before.get(value_columns[spec.field])
        ):
            dropped += 1
            continue
        differing.append(spec.name)
    return differing, dropped


def measure_answer(path: Path, pass_number: int) -> dict[str, Any] | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    parsed = parse_answer(text, pass_number)
    if parsed.status != "complete" or parsed.output is None:
        return None
    raw = parse_model_output(text, pass_number)
    compact = minified(compact_answer(parsed.output))
    again = parse_answer(compact, pass_number)
    before_row = flatten_pass(pass_number, parsed.output)
    after_row = flatten_pass(pass_number, again.output) if again.output is not None else {}
    differing, dropped = compare(pass_number, before_row, after_row)
    answer_json = raw.data if raw.data is not None else {}
    return {
        "chars_before": len(_json_text(text)),
        "chars_before_minified": len(minified(answer_json)),
        "chars_after": len(compact),
        "reread_status": again.status,
        "differing": differing,
        "absent_value_parts_dropped": dropped,
        "tokens": recorded_usage(path.with_name(path.name.replace("-raw.txt", ".json"))),
    }


def _json_text(text: str) -> str:
    """The answer's JSON object as written: from its first ``{`` to its last ``}``."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def run(outputs: Path, input_ratio: float, chars_per_token: float) -> dict[str, Any]:
    price = get_model(MODEL)
    passes: dict[str, Any] = {}
    totals = {"chars_before": 0, "chars_before_minified": 0, "chars_after": 0}
    cost = {"recorded_on_demand": 0.0, "ours_on_demand": 0.0, "ours_batch": 0.0,
            "ours_compact_on_demand": 0.0, "ours_compact_batch": 0.0}
    identical = answers = 0
    for n in (1, 2, 3):
        rows = [m for path in sorted(outputs.glob(f"*/pass{n}-{FILE_MODEL}-raw.txt"))
                if (m := measure_answer(path, n)) is not None]
        answers += len(rows)
        identical += sum(1 for r in rows if not r["differing"] and r["reread_status"] == "complete")
        sums = {key: sum(r[key] for r in rows) for key in totals}
        for key in totals:
            totals[key] += sums[key]
        priced = [r for r in rows if r["tokens"] is not None]
        tokens_in = statistics.median(r["tokens"][0] for r in priced)
        tokens_out = statistics.median(r["tokens"][1] for r in priced)
        saved = statistics.median((r["chars_before"] - r["chars_after"]) / chars_per_token for r in priced)
        out_after = max(tokens_out - saved, 0.0)
        ours_in = tokens_in * input_ratio
        cost["recorded_on_demand"] += price.cost_usd(round(tokens_in), round(tokens_out))
        cost["ours_on_demand"] += price.cost_usd(round(ours_in), round(tokens_out))
        cost["ours_batch"] += price.cost_usd(round(ours_in), round(tokens_out), batch=True)
        cost["ours_compact_on_demand"] += price.cost_usd(round(ours_in), round(out_after))
        cost["ours_compact_batch"] += price.cost_usd(round(ours_in), round(out_after), batch=True)
        passes[f"pass{n}"] = {
            "answers": len(rows),
            **sums,
            "ratio": round(sums["chars_after"] / sums["chars_before"], 3),
            "ratio_to_minified": round(sums["chars_after"] / sums["chars_before_minified"], 3),
            "values_identical": sum(1 for r in rows if not r["differing"]),
            "differing_columns": sorted({c for r in rows for c in r["differing"]}),
            "absent_value_parts_dropped": sum(r["absent_value_parts_dropped"] for r in rows),
            "recorded_median_input_tokens": tokens_in,
            "recorded_median_output_tokens": tokens_out,
            "median_output_tokens_saved": round(saved, 1),
        }
    return {
        "model": MODEL,
        "answers": answers,
        "values_identical": identical,
        **totals,
        "ratio": round(totals["chars_after"] / totals["chars_before"], 3),
        "ratio_to_minified": round(totals["chars_after"] / totals["chars_before_minified"], 3),
        "passes": passes,
        "cost_per_posting_usd": {k: round(v, 6) for k, v in cost.items()},
        "assumptions": {
            "input_ratio": input_ratio,
            "chars_per_token": chars_per_token,
            "prices_per_1m": {"input": price.input_per_1m, "output": price.output_per_1m,
                              "batch_input": price.batch_input_per_1m,
                              "batch_output": price.batch_output_per_1m},
            "tokens": "per pass: medians of the recorded answers; hidden reasoning unchanged",
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = os.environ.get("ENRICHMENT_SHARED_DATA", "../shared/data")
    parser.add_argument("--outputs", type=Path, default=Path(shared) / "llm_outputs")
    parser.add_argument("--input-ratio", type=float, default=DEFAULT_INPUT_RATIO)
    parser.add_argument("--chars-per-token", type=float, default=DEFAULT_CHARS_PER_TOKEN)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.outputs.is_dir():
        parser.error(f"{args.outputs} is not a folder of recorded answers")
    print_report(run(args.outputs, args.input_ratio, args.chars_per_token), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
