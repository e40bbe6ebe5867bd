"""Read model answers from the old Bronze layout, parsed ``.json`` or raw ``-raw.txt``.

The old loader crashed on one bad file and silently trusted every key. Here a file that
cannot be used removes only that model from that pass, and everything odd (metadata that
contradicts the path, unknown or misspelt keys, string confidences, truncated answers) is
listed as an :class:`Anomaly` so the report can say what it scored.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from enrichment_dagster.contracts.passes import PASS_MODELS
from enrichment_dagster.contracts.types import field_kinds
from enrichment_dagster.evaluation.exact import coerce_confidence
from enrichment_dagster.evaluation.field_registry import (
    FIELDS_BY_PASS,
    KNOWN_UNEVALUATED,
    MISSING,
    MODEL_BY_INFIX,
    MODEL_ORDER,
    MODELS,
    FieldSpec,
    lookup,
    summary_schema,
)
from enrichment_dagster.evaluation.records import Anomaly, JobOutputs, ModelOutput, Source
from enrichment_dagster.llm.parsing import parse_model_output

SourcePolicy = Literal["auto", "json", "raw"]
FILE_RE = re.compile(r"^pass(?P<pass>[123])-(?P<infix>.+?)(?P<kind>-raw\.txt|\.json)$")
#: The top-level keys of each pass's answer and the groups under them, from the contracts.
_WRAPPERS: dict[int, tuple[str, ...]] = {p: tuple(m.model_fields) for p, m in PASS_MODELS.items()}
_GROUPS: dict[int, frozenset[str]] = {
    p: frozenset(
        name
        for wrapper in field_kinds(m).values()
        if wrapper.model is not None
        for name, kind in field_kinds(wrapper.model).items()
        if kind.name == "model"
    )
    for p, m in PASS_MODELS.items()
}
_PASS1_GROUPS = _GROUPS[1]
ALIAS_CUTOFF = 0.8
#: Parser repairs every fenced or reasoning answer needs, or that ``partial_answer``
#: already reports; not worth an anomaly each.
ROUTINE_REPAIRS = frozenset(
    {"reasoning block removed", "markdown fence removed", "truncated output salvaged"}
)
#: (kind, description) of one anomaly, before the job/model/pass are attached.
Problem = tuple[str, str]


def discover_jobs(directory: Path, jobs: Sequence[str] | None = None) -> list[str]:
    """All-digit sub-directories, like the old ``--all``; explicit ids must exist."""
    available = sorted(p.name for p in directory.iterdir() if p.is_dir() and p.name.isdigit())
    if jobs is None:
        return available
    missing = [j for j in jobs if j not in set(available)]
    if missing:
        raise ValueError(f"job folders not found in {directory}: {', '.join(missing)}")
    return list(dict.fromkeys(jobs))


def source_order(policy: SourcePolicy, method: str) -> tuple[Source, ...]:
    """Which file to trust first when both exist for a model and pass.

    Legacy prefers ``.json`` because that is what the old evaluator read, so parity holds.
    v2 prefers the raw text through the project parser: the ``.json`` exists only where the
    old parser succeeded, and v2 should judge what the models actually said.
    """
    if policy == "json":
        return ("json",)
    if policy == "raw":
        return ("raw",)
    return ("json", "raw") if method == "legacy" else ("raw", "json")


def default_source(method: str) -> SourcePolicy:
    """Legacy means the old evaluator's inputs: ``.json`` only (falling back to the raw text
    where it found none changed the 96 bronze jobs' legacy figures from 78.217 / 88.638 /
    87.458 / 60.960 to 78.325 / 88.773 / 87.458 / 61.096); v2 reads raw text first."""
    return "json" if method == "legacy" else "auto"


def load_job(directory: Path, job_id: str, order: tuple[Source, ...]) -> JobOutputs:
    """Load every usable answer of one job; never raises on a bad file."""
    job = JobOutputs(job_id)
    files = _job_files(directory / job_id, job)
    for (pass_number, model), paths in sorted(files.items()):
        output = _first_usable(job, pass_number, model, paths, order)
        if output is not None:
            job.outputs.setdefault(pass_number, {})[model] = output
    for pass_number, by_model in job.outputs.items():
        job.outputs[pass_number] = dict(
            sorted(by_model.items(), key=lambda item: MODEL_ORDER[item[0]])
        )
    job.fallback_metadata = _any_metadata(files)
    return job


def _any_metadata(files: dict[tuple[int, str], dict[Source, Path]]) -> dict[str, Any]:
    """Raw answers carry no metadata; borrow the first readable ``.json``'s for the title."""
    ordered = sorted(files.items(), key=lambda item: (item[0][0], MODEL_ORDER[item[0][1]]))
    for _, paths in ordered:
        if "json" not in paths:
            continue
        try:
            metadata = json.loads(paths["json"].read_bytes()).get("metadata")
        except (OSError, ValueError, AttributeError, RecursionError):
            continue
        if isinstance(metadata, dict):
            return metadata
    return {}


def _job_files(job_dir: Path, job: JobOutputs) -> dict[tuple[int, str], dict[Source, Path]]:
    files: dict[tuple[int, str], dict[Source, Path]] = {}
    for path in sorted(job_dir.iterdir()):
        match = FILE_RE.match(path.name)
        if match is None or not path.is_file():
            continue
        info = MODEL_BY_INFIX.get(match["infix"])
        if info is None:
            job.anomalies.append(
                Anomaly(
                    job.job_id,
                    match["infix"],
                    int(match["pass"]),
                    f"ignored file of an unknown model: {path.name}",
                    "unknown_model_file",
                )
            )
            continue
        kind: Source = "raw" if match["kind"] == "-raw.txt" else "json"
        files.setdefault((int(match["pass"]), info.short_id), {})[kind] = path
    return files


def _first_usable(
    job: JobOutputs,
    pass_number: int,
    model: str,
    paths: dict[Source, Path],
    order: tuple[Source, ...],
) -> ModelOutput | None:
    tried: list[str] = []
    for kind in order:
        path = paths.get(kind)
        if path is None:
            continue
        output, problems = _load_one(job.job_id, model, pass_number, kind, path)
        job.anomalies.extend(
            Anomaly(job.job_id, model, pass_number, what, problem) for problem, what in problems
        )
        if output is not None:
            if tried:
                note = f"used the {kind} file because the {', '.join(tried)} file was unusable"
                job.anomalies.append(Anomaly(job.job_id, model, pass_number, note, "fallback"))
            return output
        tried.append(kind)
    return None


def _load_one(
    job_id: str, model: str, pass_number: int, kind: Source, path: Path
) -> tuple[ModelOutput | None, list[Problem]]:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if kind == "json":
        loaded = _from_json(data, path.name)
    else:
        loaded = _from_raw(data, pass_number, path.name)
    return _checked_output(job_id, model, pass_number, kind, str(path), digest, loaded)


def answer_output(
    job_id: str, model: str, pass_number: int, answer: dict[str, Any]
) -> tuple[ModelOutput, list[Anomaly]]:
    """One validated answer held in memory (a pass output, as ``model_dump`` gives it), read
    as a raw answer would be, but with no file and no second parse: ``model`` is a short id
    of :data:`MODELS`. Nothing about ``job_id`` becomes a path."""
    text = json.dumps(answer, sort_keys=True, default=str)
    result, notes = result_from_parsed(answer, pass_number)
    problems: list[Problem] = [("missing_wrapper", note) for note in notes]
    loaded: _Loaded = (result, {}, "complete", problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    label = f"memory:pass{pass_number}-{model}"
    output, found = _checked_output(job_id, model, pass_number, "raw", label, digest, loaded)
    assert output is not None  # a result was given
    return output, [Anomaly(job_id, model, pass_number, what, kind) for kind, what in found]


def _checked_output(
    job_id: str, model: str, pass_number: int, kind: Source, path: str, digest: str,
    loaded: _Loaded,
) -> tuple[ModelOutput | None, list[Problem]]:
    result, metadata, status, problems = loaded
    if result is None:
        return None, problems
    problems += _check_metadata(metadata, job_id, model, pass_number)
    key_problems, aliases = check_keys(result, pass_number)
    if status != "complete":
        key_problems = _summarise_truncation(Path(path).name, status, key_problems)
    problems += key_problems + list(confidence_problems(result, pass_number))
    problems += list(value_problems(result, pass_number))
    output = ModelOutput(
        job_id=job_id,
        model=model,
        pass_number=pass_number,
        result=result,
        source=kind,
        path=path,
        sha256=digest,
        metadata=metadata,
        parse_status=status,
        aliases=aliases,
        schema=summary_schema(result) if pass_number == 3 else None,
    )
    return output, problems


def _summarise_truncation(name: str, status: str, problems: list[Problem]) -> list[Problem]:
    """A truncated answer lacks every key after the cut: one anomaly, not one per key."""
    missing = [what for kind, what in problems if kind == "missing_key"]
    note = (
        f"{name}: parser status {status}, {len(missing)} expected keys absent; "
        "legacy counts them as null votes, v2 as no answer"
    )
    return [p for p in problems if p[0] != "missing_key"] + [("partial_answer", note)]


_Loaded = tuple[dict[str, Any] | None, dict[str, Any], str, list[Problem]]


def _from_json(data: bytes, name: str) -> _Loaded:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than Python's stack (one hostile file).
        problem = f"{name}: not valid JSON ({exc}); model dropped from the pass"
        return None, {}, "failed", [("unreadable_file", problem)]
    if not isinstance(document, dict) or not isinstance(document.get("result"), dict):
        problem = f"{name}: no 'result' object; model dropped from the pass"
        return None, {}, "failed", [("unreadable_file", problem)]
    metadata = document.get("metadata")
    return document["result"], metadata if isinstance(metadata, dict) else {}, "complete", []


def _from_raw(data: bytes, pass_number: int, name: str) -> _Loaded:
    try:
        parsed = parse_model_output(data.decode("utf-8", errors="replace"), pass_number)
    except Exception as exc:  # noqa: BLE001 - one answer must never abort the whole run
        problem = f"{name}: the parser raised {type(exc).__name__}: {exc}; model dropped"
        return None, {}, "failed", [("unparseable_answer", problem)]
    status = str(parsed.status)
    if parsed.data is None or status in ("no_json", "failed"):
        reason = getattr(parsed, "error", None)
        problem = f"{name}: parser status {status}{f' ({reason})' if reason else ''}"
        return None, {}, status, [("unparseable_answer", problem + "; model dropped from the pass")]
    result, notes = result_from_parsed(parsed.data, pass_number)
    problems: list[Problem] = [("missing_wrapper", f"{name}: {note}") for note in notes]
    repairs = [r for r in getattr(parsed, "repairs", []) or [] if r not in ROUTINE_REPAIRS]
    if repairs:
        problems.append(("repaired_answer", f"{name}: parser repaired: {'; '.join(repairs)}"))
    return result, {}, status, problems


def result_from_parsed(data: dict[str, Any], pass_number: int) -> tuple[dict[str, Any], list[str]]:
    """Turn a parsed answer into the old ``result`` shape (Pass 1 flattened to ``ext_*``)."""
    notes: list[str] = []
    if not any(w in data for w in _WRAPPERS[pass_number]):
        groups = _GROUPS[pass_number]
        if any(k in data for k in groups):
            notes.append(f"answer has no top-level {'/'.join(_WRAPPERS[pass_number])} wrapper")
            data = {_WRAPPERS[pass_number][0]: data}
    if pass_number == 1:
        return flatten_extraction(data.get("extraction")), notes
    return {w: data[w] for w in _WRAPPERS[pass_number] if w in data}, notes


def flatten_extraction(extraction: Any) -> dict[str, Any]:
    """``extraction.<group>.<field>`` becomes ``ext_<field>``, as the old flattener did."""
    flat: dict[str, Any] = {}
    if not isinstance(extraction, dict):
        return flat
    for key, value in extraction.items():
        if isinstance(value, dict) and key in _PASS1_GROUPS:
            flat.update({f"ext_{leaf}": v for leaf, v in value.items()})
        else:
            flat[f"ext_{key}"] = value
    return flat


def _check_metadata(
    meta: dict[str, Any], job_id: str, model: str, pass_number: int
) -> list[Problem]:
    """The old loader never compared metadata with the path; a mismatch means a misfiled answer."""
    problems: list[str] = []
    if "job_posting_id" in meta and str(meta["job_posting_id"]) != job_id:
        problems.append(
            f"metadata.job_posting_id {meta['job_posting_id']!r} differs from the folder"
        )
    expected = next(m.model_id for m in MODELS if m.short_id == model)
    if "model_id" in meta and meta["model_id"] != expected:
        problems.append(f"metadata.model_id {meta['model_id']!r} differs from the file name")
    if "pass_name" in meta and meta["pass_name"] != f"pass{pass_number}":
        problems.append(f"metadata.pass_name {meta['pass_name']!r} differs from the file name")
    return [("metadata_mismatch", p) for p in problems]


@dataclass(frozen=True)
class _Container:
    """One dict of a result whose keys are checked together (top level, a group, summary)."""

    label: str
    keys: frozenset[str]
    expected: dict[str, FieldSpec]
    known: frozenset[str]


def check_keys(result: dict[str, Any], pass_number: int) -> tuple[list[Problem], dict[str, str]]:
    """List missing and unknown keys; map a missing field to a near-identical unknown key."""
    problems: list[Problem] = []
    aliases: dict[str, str] = {}
    for container in _containers(result, pass_number, problems):
        missing = {k: s for k, s in container.expected.items() if k not in container.keys}
        unknown = sorted(container.keys - set(container.expected) - container.known)
        for key in unknown:
            match = difflib.get_close_matches(key, list(missing), n=1, cutoff=ALIAS_CUTOFF)
            if match:
                spec = missing.pop(match[0])
                aliases[spec.name] = key
                what = (
                    f"misspelt key {container.label}{key} (expected {match[0]}): legacy counts "
                    "the field as missing, v2 reads it"
                )
                problems.append(("misspelt_key", what))
            else:
                problems.append(("unknown_key", f"unknown key {container.label}{key}"))
        problems += [
            ("missing_key", f"missing key {container.label}{k}")
            for k, s in missing.items()
            if not s.optional
        ]
    return problems, aliases


def _containers(
    result: dict[str, Any], pass_number: int, problems: list[Problem]
) -> Iterable[_Container]:
    specs = FIELDS_BY_PASS[pass_number]
    known = KNOWN_UNEVALUATED[pass_number]
    if pass_number == 1:
        keys = frozenset(k for k in result if k.startswith("ext_"))
        yield _Container("", keys, {s.name: s for s in specs}, known)
        return
    sections = ("inference",) if pass_number == 2 else ("analysis", "summary")
    schema = summary_schema(result) if pass_number == 3 else None
    for section in sections:
        section_specs = [s for s in specs if s.section == section]
        value = result.get(section)
        if not isinstance(value, dict):
            problems.append(("missing_key", f"missing or non-object '{section}'"))
            continue
        if section == "summary":
            expected = {s.leaf: s for s in section_specs if s.schema in (None, schema)}
            yield _Container("summary.", frozenset(value), expected, _leaves(known, "summary"))
            continue
        yield from _group_containers(section, value, section_specs, known, problems)


def _group_containers(
    section: str,
    value: dict[str, Any],
    specs: list[FieldSpec],
    known: frozenset[str],
    problems: list[Problem],
) -> Iterable[_Container]:
    groups = {s.group for s in specs}
    for group in sorted(set(value) - groups):
        problems.append(("unknown_key", f"unknown group {section}.{group}"))
    for group in sorted(g for g in groups if g is not None):
        body = value.get(group)
        if not isinstance(body, dict):
            problems.append(("missing_key", f"missing group {section}.{group}"))
            continue
        expected = {s.leaf: s for s in specs if s.group == group}
        yield _Container(f"{group}.", frozenset(body), expected, _leaves(known, group))


def _leaves(known: frozenset[str], prefix: str) -> frozenset[str]:
    return frozenset(k.split(".", 1)[1] for k in known if k.startswith(prefix + "."))


def confidence_problems(result: dict[str, Any], pass_number: int) -> Iterable[Problem]:
    """String confidences crashed the old evaluator; list them (they are coerced later)."""
    if pass_number == 1:
        return
    for spec in FIELDS_BY_PASS[pass_number]:
        if spec.legacy_type != "inference":
            continue
        obj = _inference_object(result, spec)
        if not isinstance(obj, dict) or "confidence" not in obj:
            continue
        raw = obj["confidence"]
        if isinstance(raw, str):
            kind = "string_confidence" if coerce_confidence(raw) is not None else "bad_confidence"
            yield kind, f"{spec.name}: confidence given as a string {raw!r}"
        elif coerce_confidence(raw) is None:
            yield "bad_confidence", f"{spec.name}: confidence {raw!r} is not a number in [0, 1]"


_EXPECTED: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "numeric": (int, float),
    "enum": (str,),
    "string": (str,),
    "array": (list,),
}


def value_problems(result: dict[str, Any], pass_number: int) -> Iterable[Problem]:
    """Values of the wrong shape (a score wrapped in an inference object, a list for a
    string): the methods coerce them, but a reader of the figures should know."""
    for spec in FIELDS_BY_PASS[pass_number]:
        if spec.legacy_type == "inference":
            obj = _inference_object(result, spec)
            if obj is not None and not (isinstance(obj, dict) and "value" in obj):
                yield "wrong_value_type", f"{spec.name}: not an inference object ({_short(obj)})"
            continue
        value = lookup(result, spec)
        expected = _EXPECTED[spec.legacy_type]
        if value is MISSING or value is None:
            continue
        wrong_bool = isinstance(value, bool) and bool not in expected
        if wrong_bool or not isinstance(value, expected):
            yield (
                "wrong_value_type",
                f"{spec.name}: expected {spec.legacy_type}, got {_short(value)}",
            )
        elif isinstance(value, float) and not math.isfinite(value):
            yield "wrong_value_type", f"{spec.name}: non-finite number {value!r}"
        elif isinstance(value, list) and not all(isinstance(i, str) for i in value):
            yield "wrong_value_type", f"{spec.name}: list items are not all strings"


def _short(value: Any, limit: int = 60) -> str:
    text = f"{type(value).__name__} {value!r}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _inference_object(result: dict[str, Any], spec: FieldSpec) -> Any:
    section = result.get(spec.section)
    group = section.get(spec.group) if isinstance(section, dict) else None
    return group.get(spec.leaf) if isinstance(group, dict) else None
