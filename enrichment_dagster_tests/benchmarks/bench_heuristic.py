"""Score the ``heuristic`` backend against gold labels.

    python enrichment_dagster_tests/benchmarks/bench_heuristic.py --labels ../shared/data/labels --json

Any folder with ``postings.jsonl`` (Silver records) and ``labels.jsonl`` (one label object
per ``job_posting_id``, keys as in the shared labels README) works.

Every posting runs through all three passes exactly as the engine would run a model: the
backend's text goes through :func:`parse_answer`, and the parsed pass-1/pass-2 objects
are handed to the next pass. Scoring conventions (those of the labels README):

* A prediction is right when it equals the label or one of the label's ``alternatives``.
  "Absent" values are one value: null, ``not_mentioned`` and, for "mentioned" booleans,
  false. Numbers are compared exactly (to 1e-6).
* ``salary`` is right when disclosure, minimum, maximum, currency and period are all right
  (for an undisclosed label: when the prediction does not claim disclosure).
* A *false claim* is a present prediction (non-null, not ``not_mentioned``, true, or
  "disclosed") where the label is absent. ``false_claim_rate`` = false claims / records
  whose label is absent (0 when there are none): the share of "the posting says nothing"
  records on which the backend claims something.
* ``seniority_level``: the contract's IC ladder has ``associate`` and ``distinguished``,
  the labels do not; they count as ``junior`` and ``principal``.
* Skills: the prediction is the union of pass-1 must-have and nice-to-have hard skills.
  Precision = matched / (predicted - label-optional), recall = matched / labelled, where a
  skill in ``hard_skills_optional`` is neither required nor an error. Names match
  case-insensitively through :data:`SKILL_ALIASES`, after which a leading vendor word
  (:data:`VENDOR_WORDS`) is dropped: "AWS Glue" = "Glue", "Apache Iceberg" = "Iceberg".
* ``grounding`` = share of non-null evidence strings in pass-2 answers that
  :func:`is_grounded` finds in the posting (``grounding_pass3`` likewise for pass 3).
* ``records_per_s`` = records / CPU seconds of the backend for all three passes, cold
  per-record cache, median of ``--repeat`` runs (CPU time, because the benchmark machines
  are shared; ``records_per_s_wall`` and ``records_per_s_with_parse`` are reported too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from enrichment_dagster.contracts.grounding import is_grounded, normalize_for_match
from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output, Pass3Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.llm.heuristic import HeuristicBackend
from enrichment_dagster.llm.parsing import ParsedAnswer, parse_answer
from enrichment_dagster.llm.types import LLMRequest, RecordInputs
from enrichment_dagster.rules.pass1 import clear_cache

#: Alias table for skill names (lower-case). Applied before the vendor word is dropped.
SKILL_ALIASES: dict[str, str] = {
    "postgres": "postgresql",
    "k8s": "kubernetes",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "amazon web services": "aws",
    "ms office": "microsoft office",
    "office 365": "microsoft office",
    "unix shell": "shell scripting",
    "shell": "shell scripting",
    "informatica cloud (iics)": "informatica iics",
    "informatica cloud": "informatica iics",
    "iics": "informatica iics",
    "powerbi": "power bi",
    "nodejs": "node.js",
    "node": "node.js",
    "golang": "go",
    "solid works": "solidworks",
    "azureml": "azure ml",
    "azure machine learning": "azure ml",
    "data factory": "azure data factory",
    "adf": "azure data factory",
    "synapse": "azure synapse",
    "azure synapse analytics": "azure synapse",
    "rest api": "rest apis",
    "restful apis": "rest apis",
    "restful": "rest apis",
    "cicd": "ci/cd",
    "ci / cd": "ci/cd",
    "mssql": "sql server",
    "ms sql server": "sql server",
    "microsoft sql server": "sql server",
    "hana": "sap hana",
    "elastic search": "elasticsearch",
    "mongo": "mongodb",
    "sfdc": "salesforce",
    "power center": "informatica powercenter",
    "powercenter": "informatica powercenter",
    "ms excel": "excel",
    "scikit learn": "scikit-learn",
    "sklearn": "scikit-learn",
}
#: A leading vendor word that may be dropped when the rest still names the product.
VENDOR_WORDS = ("apache ", "amazon ", "aws ", "google ", "microsoft ")

_ABSENT = (None, "not_mentioned", False)
_SENIORITY_MAP = {"associate": "junior", "distinguished": "principal"}

#: The targets of the heuristic backend on the shared labels.
TARGETS = {
    "salary": 0.90,
    "work_model": 0.85,
    "visa_sponsorship": 0.90,
    "years_experience_min": 0.85,
    "education_level": 0.80,
    "skills_precision": 0.90,
    "skills_recall": 0.80,
    "grounding": 1.0,
    "false_claim_rate": 0.05,
    "records_per_s": 200.0,
}


def skill_key(name: str) -> str:
    """Canonical comparison key of a skill name (see the module docstring)."""
    key = " ".join(name.lower().split())
    key = SKILL_ALIASES.get(key, key)
    for word in VENDOR_WORDS:
        if key.startswith(word) and len(key) > len(word):
            rest = key[len(word) :]
            return SKILL_ALIASES.get(rest, rest)
    return key


# ----------------------------------------------------------------------------- running


def load(labels_dir: Path) -> tuple[list[SilverRecord], dict[str, dict[str, Any]]]:
    """Postings (in file order) and labels by posting id."""
    postings = [
        SilverRecord.model_validate(json.loads(line))
        for line in (labels_dir / "postings.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    labels = {}
    for line in (labels_dir / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            label = json.loads(line)
            labels[str(label["job_posting_id"])] = label
    return postings, labels


def _request(record: SilverRecord, pass_number: int, inputs: RecordInputs) -> LLMRequest:
    return LLMRequest(
        record_id=record.job_posting_id,
        pass_number=pass_number,  # type: ignore[arg-type]
        messages=(),
        model_id="heuristic",
        max_output_tokens=0,
        inputs=inputs,
    )


def run_record(
    backend: HeuristicBackend, record: SilverRecord
) -> tuple[list[ParsedAnswer], float, float]:
    """All three passes of one record: (parsed answers, backend CPU s, parse CPU s).

    The inputs are the engine's (record, description, earlier passes); the cleaned
    description is computed once per record by the engine, outside the backend's time.
    """
    inputs = RecordInputs(record=record, description=record.description)
    parsed: list[ParsedAnswer] = []
    backend_s = parse_s = 0.0
    for pass_number in (1, 2, 3):
        started = time.process_time()
        response = backend.complete(_request(record, pass_number, inputs))
        backend_s += time.process_time() - started
        started = time.process_time()
        answer = parse_answer(response.text, pass_number)
        parse_s += time.process_time() - started
        parsed.append(answer)
        inputs = replace(inputs, **{f"pass{pass_number}": answer.output}) if pass_number < 3 else inputs
    return parsed, backend_s, parse_s


def _timings(
    backend: HeuristicBackend, records: list[SilverRecord], repeat: int
) -> dict[str, float]:
    cpu, wall, with_parse = [], [], []
    for _ in range(max(1, repeat)):
        clear_cache()
        started = time.perf_counter()
        backend_s = parse_s = 0.0
        for record in records:
            _, b, p = run_record(backend, record)
            backend_s += b
            parse_s += p
        wall.append(time.perf_counter() - started)
        cpu.append(backend_s)
        with_parse.append(backend_s + parse_s)
    n = len(records)
    return {
        "records_per_s": round(n / max(statistics.median(cpu), 1e-9), 1),
        "records_per_s_wall": round(n / max(statistics.median(wall), 1e-9), 1),
        "records_per_s_with_parse": round(n / max(statistics.median(with_parse), 1e-9), 1),
    }


# ----------------------------------------------------------------------------- scoring


def _present(value: Any) -> bool:
    return value not in _ABSENT


def _same(predicted: Any, expected: Any) -> bool:
    if not _present(predicted) and not _present(expected):
        return True
    if isinstance(expected, bool) or isinstance(predicted, bool):
        return bool(predicted) == bool(expected)
    if isinstance(expected, int | float) and isinstance(predicted, int | float):
        return abs(float(predicted) - float(expected)) < 1e-6
    return predicted == expected


def _accepted(predicted: Any, label: dict[str, Any], key: str) -> bool:
    options = [label.get(key), *label.get("alternatives", {}).get(key, [])]
    return any(_same(predicted, option) for option in options)


def _salary_right(p1: Pass1Output | None, label: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(right, label absent, false claim) for the composite salary field."""
    comp = p1.extraction.compensation if p1 else None
    disclosed = bool(comp and comp.salary_disclosed)
    if not label.get("salary_disclosed"):
        return not disclosed, True, disclosed
    if not disclosed or comp is None:
        return False, False, False
    parts = {
        "salary_min": comp.salary_min,
        "salary_max": comp.salary_max,
        "salary_currency": comp.salary_currency,
        "salary_period": comp.salary_period,
    }
    return all(_accepted(value, label, key) for key, value in parts.items()), False, False


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def _seniority(p2: Pass2Output | None) -> Any:
    value = _get(p2, "inference", "seniority_and_role", "seniority_level", "value")
    return _SENIORITY_MAP.get(value, value)


#: field -> (label key, how to read the prediction from (pass1, pass2)).
FIELDS: dict[str, tuple[str, Callable[[Pass1Output | None, Pass2Output | None], Any]]] = {
    "work_model": (
        "work_model",
        lambda p1, p2: _get(p1, "extraction", "work_model", "work_model_stated"),
    ),
    "visa_sponsorship": (
        "visa_sponsorship",
        lambda p1, p2: _get(p1, "extraction", "work_authorization", "visa_sponsorship_stated"),
    ),
    "employment_type": (
        "employment_type",
        lambda p1, p2: _get(p1, "extraction", "work_model", "employment_type_stated"),
    ),
    "contract_type": (
        "contract_type",
        lambda p1, p2: _get(p1, "extraction", "contract_details", "contract_type"),
    ),
    "years_experience_min": (
        "years_experience_min",
        lambda p1, p2: _get(p1, "extraction", "skills_classified", "years_experience_min"),
    ),
    "years_experience_max": (
        "years_experience_max",
        lambda p1, p2: _get(p1, "extraction", "skills_classified", "years_experience_max"),
    ),
    "education_level": (
        "education_level",
        lambda p1, p2: _get(p1, "extraction", "skills_classified", "education_level"),
    ),
    "education_requirement": (
        "education_requirement",
        lambda p1, p2: _get(p1, "extraction", "skills_classified", "education_requirement"),
    ),
    "security_clearance": (
        "security_clearance",
        lambda p1, p2: _get(p1, "extraction", "work_authorization", "security_clearance_stated"),
    ),
    "llm_genai_mentioned": (
        "llm_genai_mentioned",
        lambda p1, p2: _get(p1, "extraction", "skills_classified", "llm_genai_mentioned"),
    ),
    "equity_mentioned": (
        "equity_mentioned",
        lambda p1, p2: _get(p1, "extraction", "benefits_structured", "equity_mentioned"),
    ),
    "seniority_level": ("seniority_level", lambda p1, p2: _seniority(p2)),
    "primary_cloud": (
        "primary_cloud",
        lambda p1, p2: _get(p2, "inference", "stack_and_cloud", "primary_cloud", "value"),
    ),
}


class _Tally:
    def __init__(self) -> None:
        self.n = self.right = self.absent = self.false_claims = 0
        self.misses: list[dict[str, Any]] = []

    def add(self, right: bool, absent: bool, false_claim: bool, miss: dict[str, Any]) -> None:
        self.n += 1
        self.right += right
        self.absent += absent
        self.false_claims += false_claim
        if not right:
            self.misses.append(miss)

    def result(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.right / self.n, 4) if self.n else 0.0,
            "false_claim_rate": round(self.false_claims / self.absent, 4) if self.absent else 0.0,
            "n": self.n,
            "false_claims": self.false_claims,
            "label_absent": self.absent,
        }


def _evidence(model: Any) -> list[str]:
    """Every non-null ``evidence`` string inside a parsed pass object."""
    found: list[str] = []
    if model is None:
        return found
    if isinstance(model, BaseModel):
        for name in type(model).model_fields:
            value = getattr(model, name)
            if name == "evidence" and isinstance(value, str) and value.strip():
                found.append(value)
            else:
                found.extend(_evidence(value))
    return found


def score(
    postings: list[SilverRecord],
    labels: dict[str, dict[str, Any]],
    answers: dict[str, list[ParsedAnswer]],
) -> dict[str, Any]:
    """Field accuracies, skills precision/recall, grounding and parse health."""
    tallies = {name: _Tally() for name in ("salary", *FIELDS)}
    matched = predicted_scored = labelled = 0
    skill_misses: list[dict[str, Any]] = []
    grounded = {2: [0, 0], 3: [0, 0]}
    statuses: dict[str, int] = {}
    nulled = 0
    for record in postings:
        label = labels.get(record.job_posting_id)
        parsed = answers[record.job_posting_id]
        for answer in parsed:
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            nulled += answer.report.count("nulled")
        p1 = parsed[0].output if isinstance(parsed[0].output, Pass1Output) else None
        p2 = parsed[1].output if isinstance(parsed[1].output, Pass2Output) else None
        p3 = parsed[2].output if isinstance(parsed[2].output, Pass3Output) else None
        posting = normalize_for_match(record.description)
        for pass_number, model in ((2, p2), (3, p3)):
            for evidence in _evidence(model):
                grounded[pass_number][0] += bool(is_grounded(evidence, posting))
                grounded[pass_number][1] += 1
        if label is None:
            continue
        right, absent, claim = _salary_right(p1, label)
        tallies["salary"].add(right, absent, claim, {"id": record.job_posting_id})
        for name, (key, read) in FIELDS.items():
            value = read(p1, p2)
            absent = not _present(label.get(key))
            tallies[name].add(
                _accepted(value, label, key),
                absent,
                absent and _present(value),
                {"id": record.job_posting_id, "predicted": value, "label": label.get(key)},
            )
        skills = _get(p1, "extraction", "skills_classified")
        predicted = (
            {skill_key(s) for s in (skills.must_have_hard_skills + skills.nice_to_have_hard_skills)}
            if skills
            else set()
        )
        gold = {skill_key(s) for s in label.get("hard_skills", [])}
        optional = {skill_key(s) for s in label.get("hard_skills_optional", [])} - gold
        scored = predicted - optional
        matched += len(scored & gold)
        predicted_scored += len(scored)
        labelled += len(gold)
        if scored - gold or gold - predicted:
            skill_misses.append(
                {
                    "id": record.job_posting_id,
                    "extra": sorted(scored - gold),
                    "missed": sorted(gold - predicted),
                }
            )
    return {
        "records": len(postings),
        "fields": {name: tally.result() for name, tally in tallies.items()},
        "skills": {
            "precision": round(matched / predicted_scored, 4) if predicted_scored else 0.0,
            "recall": round(matched / labelled, 4) if labelled else 0.0,
            "matched": matched,
            "predicted": predicted_scored,
            "labelled": labelled,
        },
        "grounding": round(grounded[2][0] / grounded[2][1], 4) if grounded[2][1] else 1.0,
        "grounding_pass3": round(grounded[3][0] / grounded[3][1], 4) if grounded[3][1] else 1.0,
        "evidence_strings": {"pass2": grounded[2][1], "pass3": grounded[3][1]},
        "parse": {"statuses": statuses, "nulled_issues": nulled},
        "_misses": {
            **{name: t.misses for name, t in tallies.items() if t.misses},
            "skills": skill_misses,
        },
    }


def run_benchmark(labels_dir: Path, repeat: int = 3) -> dict[str, Any]:
    """Run and score the heuristic backend on ``labels_dir`` (see the module docstring)."""
    postings, labels = load(labels_dir)
    backend = HeuristicBackend()
    clear_cache()
    answers = {record.job_posting_id: run_record(backend, record)[0] for record in postings}
    result = score(postings, labels, answers)
    result.update(_timings(backend, postings, repeat))
    return result


def missed_targets(result: dict[str, Any]) -> list[str]:
    """Human-readable list of the targets ``result`` does not meet (empty when all are met)."""
    fields = result["fields"]
    failures = [
        f"{name} accuracy {fields[name]['accuracy']:.3f} < {TARGETS[name]}"
        for name in (
            "salary",
            "work_model",
            "visa_sponsorship",
            "years_experience_min",
            "education_level",
        )
        if fields[name]["accuracy"] < TARGETS[name]
    ]
    failures += [
        f"{name} false-claim rate {f['false_claim_rate']:.3f} > {TARGETS['false_claim_rate']}"
        for name, f in fields.items()
        if f["false_claim_rate"] > TARGETS["false_claim_rate"]
    ]
    if result["skills"]["precision"] < TARGETS["skills_precision"]:
        failures.append(f"skills precision {result['skills']['precision']:.3f}")
    if result["skills"]["recall"] < TARGETS["skills_recall"]:
        failures.append(f"skills recall {result['skills']['recall']:.3f}")
    if result["grounding"] < TARGETS["grounding"]:
        failures.append(f"grounding {result['grounding']:.4f}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--labels", type=Path, required=True, help="folder with postings.jsonl and labels.jsonl"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--misses", action="store_true", help="include the per-record misses")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs (median reported)")
    args = parser.parse_args(argv)
    result = run_benchmark(args.labels, args.repeat)
    misses = result.pop("_misses")
    if args.misses:
        result["misses"] = misses
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for name, field in result["fields"].items():
            print(
                f"{name:24s} accuracy {field['accuracy']:.3f}  false claims {field['false_claim_rate']:.3f}  n={field['n']}"
            )
        print(
            f"skills precision {result['skills']['precision']:.3f} recall {result['skills']['recall']:.3f}"
        )
        print(f"grounding {result['grounding']:.4f}  records/s {result['records_per_s']}")
    failures = missed_targets(result)
    for failure in failures:
        print(f"target missed: {failure}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
