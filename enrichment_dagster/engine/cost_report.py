"""What the enrichment costs per posting, per pass and model, on-demand vs batch.

Why: an answer bought by Bedrock batch inference reaches silver_ai through the cache, so the
this-run cost columns (``enrichment_cost_usd``) show $0 for it; a sum of them says what the
runs spent, not what enriching a posting costs. This report reads what each *answer* cost
(``pass{N}_answer_*`` and ``pass{N}_pricing`` in silver_ai) and prices the same tokens both
ways with the price table (``llm/models.yaml``), so the two paths can be compared and a month
of postings projected.

Two sources, one report:

* silver_ai partitions under a storage root (local folder or ``s3://``), optionally a range
  of partition keys. Only the cost columns are read (column projection).
* a folder of recorded answers laid out as ``<record_id>/pass{N}-<model>.json`` (the old
  system's result files, e.g. ``shared/data/llm_outputs``), which state the tokens of each
  call (:func:`~enrichment_dagster.llm.replay.recorded_usage`). What they were paid at is not
  recorded (the old client's price table was wrong), so their ``paid`` figures are null and
  their pricing ``unknown``; raw-only answers carry no usage and are only counted.

Definitions:

* An *answer* is a complete answer of one pass for one posting. Only answered passes are
  counted; records without any answer, and per pass the records without one, are reported.
* Per (pass, model): tokens per answered posting (median, mean, total); cost per answered
  posting at on-demand prices, at batch prices (the same tokens), and as paid (each answer's
  own cost at the price list it was bought at; how many were bought which way is listed).
* Totals, per model and over all models: the cost of a posting through every pass is the sum
  of each pass's mean cost per answered posting (the same for tokens; no median, which does
  not add up). ``--postings-per-month N`` multiplies it by N.

A posting that shared an answer with another (identical content, served from the cache)
counts that answer's full price: the figure is what answering a posting costs, not a bill.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, median
from typing import Any

from enrichment_dagster.errors import InputError
from enrichment_dagster.llm.prices import PRICINGS, get_model, is_known_model, known_models
from enrichment_dagster.llm.replay import model_slug, recorded_usage
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import list_partitions, read_partition_columns

DATASET = "silver_ai"
PASSES = (1, 2, 3)
UNKNOWN_PRICING = "unknown"
ALL_MODELS = "all models, as answered"
_RECORDED_FILE = re.compile(r"^pass(?P<pass>[123])-(?P<infix>.+?)(?P<kind>-raw\.txt|\.json)$")


def answer_columns(n: int) -> tuple[str, str, str, str, str]:
    """silver_ai columns of pass ``n``'s answer: model, pricing, tokens in/out, cost."""
    return (f"enrichment_model_pass{n}", f"pass{n}_pricing", f"pass{n}_answer_input_tokens",
            f"pass{n}_answer_output_tokens", f"pass{n}_answer_cost_usd")


@dataclass(frozen=True)
class AnswerBill:
    """One answer as the report counts it."""

    record_id: str
    pass_number: int
    model_id: str
    input_tokens: int
    output_tokens: int
    #: What it cost when bought; None when not recorded (recorded answers).
    paid_usd: float | None
    #: ``on_demand`` / ``batch``; None when not recorded.
    pricing: str | None


@dataclass
class Answers:
    """Everything read from one source, before any arithmetic."""

    source: dict[str, Any]
    records: int
    bills: list[AnswerBill]
    unanswered_by_pass: dict[int, int]
    records_without_answer: int
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- silver_ai partitions
def select_partitions(root: StorageRoot, first: str | None, last: str | None) -> list[str]:
    """silver_ai partition keys in ``first..last`` (inclusive, either open) that exist.

    Keys are zero-padded ``YYYY-MM-DD-HH:00``, so text order is time order. Raises
    InputError when there is none: a wrong root or range must not read as "$0".
    """
    if first is not None and last is not None and last < first:
        raise InputError(f"--to {last} is before --from {first}")
    keys = [key for key in list_partitions(root, DATASET)
            if (first is None or key >= first) and (last is None or key <= last)]
    if not keys:
        span = f" from {first or 'the first'} to {last or 'the last'}" if first or last else ""
        raise InputError(f"no {DATASET} partitions under {root.uri()}{span}")
    return keys


def answers_from_silver_ai(root: StorageRoot, first: str | None = None,
                           last: str | None = None) -> Answers:
    """Every answered pass of every silver_ai row in the range, from the answer columns.

    A partition written before those columns existed says nothing about what its answers
    cost: it is left out and named in the notes (re-materializing pass1..3 and silver_ai
    fills the columns from the cache at no cost).
    """
    keys = select_partitions(root, first, last)
    wanted = ["job_posting_id", *(c for n in PASSES for c in answer_columns(n))]
    answers = Answers({"kind": DATASET, "root": root.uri(), "partitions": 0, "first": None,
                       "last": None}, 0, [], dict.fromkeys(PASSES, 0), 0)
    read: list[str] = []
    for key in keys:
        table = read_partition_columns(root, DATASET, key, wanted)
        missing = [c for c in wanted if c not in table.column_names]
        if missing:
            answers.notes.append(f"partition {key} left out: written before the answer-cost "
                                 f"columns ({len(missing)} missing); re-materialize pass1..3 "
                                 "and silver_ai (cache hits, free) to add them")
            continue
        read.append(key)
        _add_rows(answers, table.to_pylist())
    answers.source.update(partitions=len(read), first=read[0] if read else None,
                          last=read[-1] if read else None)
    return answers


def _add_rows(answers: Answers, rows: Iterable[Mapping[str, Any]]) -> None:
    for row in rows:
        _add_record(answers, [b for n in PASSES if (b := _bill_of_row(row, n)) is not None])


def _bill_of_row(row: Mapping[str, Any], n: int) -> AnswerBill | None:
    model, pricing, tokens_in, tokens_out, cost = (row.get(c) for c in answer_columns(n))
    if pricing is None:
        return None
    return AnswerBill(str(row["job_posting_id"]), n, str(model or ""), int(tokens_in or 0),
                      int(tokens_out or 0), float(cost or 0.0), str(pricing))


# ---------------------------------------------------------------- recorded answers
def answers_from_recordings(folder: Path) -> Answers:
    """Every recorded answer with token usage under ``folder/<record_id>/``.

    A record is a sub-folder holding at least one ``pass{N}-<model>`` file. The model is
    named by the file (``openai-gpt-oss-120b-1-0`` → ``openai.gpt-oss-120b-1:0`` for every
    model of the price table), else by the file's ``metadata.model_id``.
    """
    if not folder.is_dir():
        raise InputError(f"{str(folder)!r}: no such folder")
    slugs = {model_slug(model_id): model_id for model_id in known_models()}
    answers = Answers({"kind": "recorded answers", "folder": str(folder)}, 0, [],
                      dict.fromkeys(PASSES, 0), 0)
    without_usage = 0
    for record_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = [(m, p) for p in sorted(record_dir.iterdir())
                 if p.is_file() and (m := _RECORDED_FILE.match(p.name))]
        if not files:
            continue
        bills = {(m["pass"], m["infix"]): b for m, p in files if m["kind"] == ".json"
                 and (b := _recorded_bill(record_dir.name, m, p, slugs)) is not None}
        # An answer is its (pass, model) pair, whatever files it has (raw text, result).
        without_usage += len({(m["pass"], m["infix"]) for m, _ in files} - set(bills))
        _add_record(answers, list(bills.values()))
    if without_usage:
        answers.notes.append("recorded answers without token usage (raw text only, or a "
                             f"result file stating none), not counted: {without_usage}")
    answers.notes.append("recorded answers: what they were paid is not recorded; "
                         "priced from the token counts only")
    return answers


def _recorded_bill(record_id: str, match: re.Match[str], path: Path,
                   slugs: Mapping[str, str]) -> AnswerBill | None:
    usage = recorded_usage(path)
    if usage is None:
        return None
    model = slugs.get(match["infix"]) or _metadata_model(path) or match["infix"]
    return AnswerBill(record_id, int(match["pass"]), model, usage[0], usage[1], None, None)


def _metadata_model(path: Path) -> str | None:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    model = metadata.get("model_id") if isinstance(metadata, dict) else None
    return model if isinstance(model, str) and model else None


def _add_record(answers: Answers, bills: Sequence[AnswerBill]) -> None:
    answers.records += 1
    for n in PASSES:
        if not any(b.pass_number == n for b in bills):
            answers.unanswered_by_pass[n] += 1
    answers.records_without_answer += not bills
    answers.bills.extend(bills)


# ---------------------------------------------------------------- arithmetic
def _priced(bill: AnswerBill, batch: bool) -> float | None:
    if not is_known_model(bill.model_id):
        return None
    return get_model(bill.model_id).cost_usd(bill.input_tokens, bill.output_tokens, batch=batch)


def _sum_or_none(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _mean_or_none(total: float | None, count: int) -> float | None:
    return None if total is None or not count else total / count


def _token_stats(values: Sequence[int]) -> dict[str, float | int]:
    return {"median": median(values), "mean": mean(values), "total": sum(values)}


def group_report(pass_number: int, model_id: str, bills: Sequence[AnswerBill]) -> dict[str, Any]:
    """Figures of one (pass, model): tokens and cost per answered posting, and totals."""
    totals = {
        "on_demand": _sum_or_none([_priced(b, batch=False) for b in bills]),
        "batch": _sum_or_none([_priced(b, batch=True) for b in bills]),
        "paid": _sum_or_none([b.paid_usd for b in bills]),
    }
    paid_by = Counter(b.pricing or UNKNOWN_PRICING for b in bills)
    return {
        "pass": pass_number,
        "model": model_id,
        "priced": is_known_model(model_id),
        "answers": len(bills),
        "paid_by_pricing": {p: paid_by.get(p, 0) for p in (*PRICINGS, UNKNOWN_PRICING)},
        "input_tokens": _token_stats([b.input_tokens for b in bills]),
        "output_tokens": _token_stats([b.output_tokens for b in bills]),
        "cost_per_posting_usd": {k: _mean_or_none(v, len(bills)) for k, v in totals.items()},
        "total_usd": totals,
    }


def _pooled_by_pass(groups: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One pseudo-group per pass over all its models: answers and summed totals."""
    pooled = []
    for n in sorted({g["pass"] for g in groups}):
        members = [g for g in groups if g["pass"] == n]
        pooled.append({
            "pass": n,
            "answers": sum(g["answers"] for g in members),
            "input_tokens": {"total": sum(g["input_tokens"]["total"] for g in members)},
            "output_tokens": {"total": sum(g["output_tokens"]["total"] for g in members)},
            "total_usd": {k: _sum_or_none([g["total_usd"][k] for g in members])
                          for k in ("on_demand", "batch", "paid")},
        })
    return pooled


def total_report(label: str, groups: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A posting through every pass in ``groups``: the sum of each pass's mean per answer."""
    per_pass = [{
        "answers": g["answers"],
        "input": g["input_tokens"]["total"] / g["answers"],
        "output": g["output_tokens"]["total"] / g["answers"],
        **{k: _mean_or_none(g["total_usd"][k], g["answers"]) for k in ("on_demand", "batch", "paid")},
    } for g in groups if g["answers"]]
    return {
        "model": label,
        "passes": sorted({g["pass"] for g in groups}),
        "answers": sum(p["answers"] for p in per_pass),
        "input_tokens_per_posting": sum(p["input"] for p in per_pass),
        "output_tokens_per_posting": sum(p["output"] for p in per_pass),
        "cost_per_posting_usd": {k: _sum_or_none([p[k] for p in per_pass])
                                 for k in ("on_demand", "batch", "paid")},
        "total_usd": {k: _sum_or_none([g["total_usd"][k] for g in groups])
                      for k in ("on_demand", "batch", "paid")},
    }


def _projection(total: Mapping[str, Any], postings: int) -> dict[str, Any]:
    per = total["cost_per_posting_usd"]
    return {"model": total["model"], "postings": postings,
            **{k: None if per[k] is None else per[k] * postings
               for k in ("on_demand", "batch", "paid")}}


def build_report(answers: Answers, postings_per_month: int | None = None) -> dict[str, Any]:
    """The report as JSON-ready data (see the module docstring for the definitions)."""
    keys = sorted({(b.pass_number, b.model_id) for b in answers.bills})
    groups = [group_report(n, model, [b for b in answers.bills
                                      if (b.pass_number, b.model_id) == (n, model)])
              for n, model in keys]
    models = sorted({model for _, model in keys})
    label = models[0] if len(models) == 1 else ALL_MODELS
    totals = [total_report(label, _pooled_by_pass(groups))]
    if len(models) > 1:
        totals += [total_report(m, [g for g in groups if g["model"] == m]) for m in models]
    report: dict[str, Any] = {
        "source": answers.source,
        "records": answers.records,
        "records_without_answer": answers.records_without_answer,
        "unanswered_by_pass": {str(n): answers.unanswered_by_pass[n] for n in PASSES},
        "answers": len(answers.bills),
        "unpriced_models": [m for m in models if not is_known_model(m)],
        "by_pass_model": groups,
        "totals": totals if answers.bills else [],
        "notes": answers.notes,
    }
    if postings_per_month is not None:
        report["monthly_projection"] = [_projection(t, postings_per_month)
                                        for t in report["totals"]]
    return report


# ---------------------------------------------------------------- text
def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:.6f}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _source_line(report: Mapping[str, Any]) -> str:
    source = report["source"]
    if source["kind"] == DATASET:
        span = f", {source['first']} .. {source['last']}" if source["partitions"] else ""
        return f"{DATASET} under {source['root']} ({source['partitions']} partitions{span})"
    return f"recorded answers in {source['folder']}"


def render_text(report: Mapping[str, Any]) -> str:
    """The report as aligned text tables (USD per posting with 6 decimals)."""
    groups = report["by_pass_model"]
    labels = [f"pass{g['pass']} {g['model']}" for g in groups]
    totals = [f"every pass ({t['model']})" for t in report["totals"]]
    width = max(len(label) for label in ["pass model", *labels, *totals]) + 2
    unanswered = ", ".join(f"pass{n} {c}" for n, c in report["unanswered_by_pass"].items())
    lines = [
        f"cost report: {_source_line(report)}",
        f"records {report['records']}; answers {report['answers']}; records without any "
        f"answer {report['records_without_answer']}; without an answer per pass: {unanswered}",
        "",
        "answers (by the pricing paid) and tokens per answered posting:",
        f"{'pass model':<{width}}{'answers':>8}{'on_demand':>10}{'batch':>7}{'unknown':>8}"
        f"{'in median':>11}{'in mean':>10}{'out median':>11}{'out mean':>10}",
    ]
    for label, g in zip(labels, groups, strict=True):
        paid, tin, tout = g["paid_by_pricing"], g["input_tokens"], g["output_tokens"]
        lines.append(
            f"{label:<{width}}{g['answers']:>8}{paid['on_demand']:>10}{paid['batch']:>7}"
            f"{paid['unknown']:>8}{tin['median']:>11.0f}{tin['mean']:>10.1f}"
            f"{tout['median']:>11.0f}{tout['mean']:>10.1f}")
    lines += ["", "USD per answered posting (the same tokens priced both ways, and as paid), "
              "and in total:",
              f"{'pass model':<{width}}{'on-demand':>12}{'batch':>12}{'paid':>12}"
              f"{'total on-dem':>14}{'total batch':>13}{'total paid':>13}"]
    for label, g in zip(labels, groups, strict=True):
        lines.append(_cost_line(label, width, g["cost_per_posting_usd"], g["total_usd"]))
    for label, t in zip(totals, report["totals"], strict=True):
        lines.append(_cost_line(label, width, t["cost_per_posting_usd"], t["total_usd"]))
    lines += _projection_lines(report.get("monthly_projection", []))
    if report["unpriced_models"]:
        lines.append("no price in the model table (figures '-'): "
                     + ", ".join(report["unpriced_models"]))
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def _cost_line(label: str, width: int, per: Mapping[str, float | None],
               total: Mapping[str, float | None]) -> str:
    return (f"{label:<{width}}{_usd(per['on_demand']):>12}{_usd(per['batch']):>12}"
            f"{_usd(per['paid']):>12}{_usd(total['on_demand']):>14}{_usd(total['batch']):>13}"
            f"{_usd(total['paid']):>13}")


def _projection_lines(projections: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [""] if projections else []
    for p in projections:
        paid = "" if p["paid"] is None else f", at the pricing paid ${_money(p['paid'])}"
        lines.append(f"monthly projection, {p['postings']:,} postings ({p['model']}): "
                     f"on-demand ${_money(p['on_demand'])}, batch ${_money(p['batch'])}{paid}")
    return lines
