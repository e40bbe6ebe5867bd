"""The GitHub-Markdown rendering of a consensus run.

Tables only (no HTML beyond ``<details>``), so it renders on GitHub, in a PR comment and in
a Dagster asset description alike. The v2 report opens with the comparison against legacy
because its figures are not comparable to the published ones without it.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

from enrichment_dagster.evaluation.aggregate import (
    RATE_KEYS,
    Comparison,
    FieldStats,
    calibration,
    compare,
    field_stats,
    job_rates,
    lowest_fields,
    summary_rates,
)
from enrichment_dagster.evaluation.consensus import ConsensusRun
from enrichment_dagster.evaluation.exact import mean, percent
from enrichment_dagster.evaluation.field_registry import MODEL_BY_SHORT
from enrichment_dagster.evaluation.records import Anomaly
from enrichment_dagster.evaluation.report import anomaly_label, model_stats, provenance


def _pct(value: Fraction | None) -> str:
    return "—" if value is None else f"{percent(value):.3f} %"


def _cell(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _name(model: str) -> str:
    info = MODEL_BY_SHORT.get(model)
    return info.display_name if info else model


def to_markdown(run: ConsensusRun) -> str:
    lines = [f"# Multi-model consensus — {'v2' if run.method == 'v2' else 'legacy method'}", ""]
    if run.method == "v2" and run.legacy_baseline is not None:
        lines += _v2_header(run)
    lines += _provenance_lines(run)
    lines += _summary_lines(run)
    lines += _per_job_lines(run)
    stats = field_stats(run.evaluations, run.method)
    lines += ["## Lowest-agreement fields", ""]
    lines += _field_table(lowest_fields(stats))
    lines += _model_lines(run)
    if run.method == "v2":
        lines += _calibration_lines(run)
    lines += ["## Per-field agreement", "", "<details><summary>All fields</summary>", ""]
    lines += _field_table(stats) + ["</details>", ""]
    lines += _anomaly_lines(run.anomalies)
    return "\n".join(lines).rstrip() + "\n"


def _v2_header(run: ConsensusRun) -> list[str]:
    assert run.legacy_baseline is not None
    c: Comparison = compare(run.legacy_baseline, run.evaluations)
    old = summary_rates(run.legacy_baseline, "legacy")
    new = summary_rates(run.evaluations, "v2")
    s = run.settings
    return [
        "> **How v2 differs from the legacy method, on these same inputs.**",
        f"> Legacy says **{_pct(old['overall'])}** overall; v2 says **{_pct(new['overall'])}**.",
        ">",
        f"> * **No information is not agreement.** {c.legacy_vacuous_agree} of legacy's "
        f"{c.legacy_agree} agreements ({_share(c.legacy_vacuous_agree, c.legacy_agree)}) were "
        "fields every model left null, empty or blank, and "
        f"{c.legacy_null_disagree} legacy *disagreements* were unanimous nulls "
        f"({_kinds(c.null_disagree_fields, code=True)}). v2 reports {c.v2_no_information} "
        "fields as *no information* and scores them neither way.",
        f"> * **Free text is not scored.** {c.excluded_free_text} free-text fields "
        f"(legacy counted {c.excluded_free_text_legacy_agree} of them as agreement) are "
        "informational only: similarity of prose is not agreement on a fact.",
        f"> * **Absent keys are not votes.** {c.not_applicable} field instances were absent "
        "from every answer (e.g. v3.3 vs v3.4 summary keys); legacy counted "
        f"{c.not_applicable_legacy_agree} of them as agreement, v2 skips them.",
        f"> * **Type-aware comparison.** Money within {float(s.money_relative):.0%}, 0–1 scores "
        f"within ±{float(s.score_absolute)}, lists as sets (Jaccard ≥ {float(s.jaccard)}), "
        f"enums normalised: {c.gained} fields agree in v2 that legacy called disagreement "
        f"({_kinds(c.gained_by_kind)}); {c.lost} legacy agreements become disagreement "
        f"({_kinds(c.lost_by_kind)}), {c.lost_with_null_vote} of them because a null vote "
        "now counts as dissent.",
        f"> * **Quorum.** Fields with fewer than {s.min_models} answering models are not "
        f"scored ({c.insufficient} here). Models are ranked by leave-one-out agreement.",
        f"> * v2 scores {c.v2_scored} of {c.fields} field instances; {c.v2_agree} agree.",
        "",
    ]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "—"


def _kinds(counts: dict[str, int], code: bool = False, limit: int = 4) -> str:
    """The largest few entries; field names in code font, the rest summarised."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{f'`{k}`' if code else k} {v}" for k, v in ranked[:limit]]
    if len(ranked) > limit:
        parts.append(f"{len(ranked) - limit} more")
    return ", ".join(parts) or "none"


def _provenance_lines(run: ConsensusRun) -> list[str]:
    info = provenance(run)
    sources = ", ".join(f"{n} {k}" for k, n in sorted(info["sources"].items())) or "none"
    return [
        f"**Input:** `{info['directory']}` · {len(run.evaluations)} jobs · answers read: "
        f"{sources} (source policy `{run.source}`) · inputs sha256 `{info['inputs_sha256'][:16]}` "
        f"· enrichment_dagster {info['code_version']}",
        "",
    ]


def _summary_lines(run: ConsensusRun) -> list[str]:
    rates = summary_rates(run.evaluations, run.method)
    label = (
        "Mean share of fields with consensus"
        if run.method == "legacy"
        else "Mean share of informative fields with consensus"
    )
    lines = ["## Summary", ""]
    lines += _table(
        ["", "Overall", "Pass 1", "Pass 2", "Pass 3"],
        [[label, *(_pct(rates[k]) for k in RATE_KEYS)]],
    )
    if run.method == "v2":
        states = Counter(f.state for j in run.evaluations for f in j.fields)
        lines += _table(
            ["Field state", "Count"], [[k.replace("_", " "), v] for k, v in states.most_common()]
        )
    return lines


def _per_job_lines(run: ConsensusRun) -> list[str]:
    rows = []
    for job in run.evaluations:
        rates = job_rates(job, run.method)
        models = "/".join(str(len(job.models_per_pass.get(p, []))) for p in (1, 2, 3))
        rows.append(
            [job.job_id, job.title, job.company, models, *(_pct(rates[k]) for k in RATE_KEYS)]
        )
    header = ["Job", "Title", "Company", "Models P1/P2/P3", "Overall", "Pass 1", "Pass 2", "Pass 3"]
    return ["## Per job", "", *_table(header, rows)]


def _field_table(stats: list[FieldStats]) -> list[str]:
    rows = [
        [
            f"`{s.field}`",
            s.pass_number,
            s.type,
            f"{s.consensus}/{s.scored}" if s.scored else "—",
            _pct(s.consensus_rate),
            _pct(s.mean_agreement),
            s.no_information,
        ]
        for s in stats
    ]
    header = ["Field", "Pass", "Type", "Consensus", "Rate", "Mean agreement", "No information"]
    return _table(header, rows)


def _model_lines(run: ConsensusRun) -> list[str]:
    stats = model_stats(run)
    lines = ["## Model ranking", ""]
    if run.method == "legacy":
        header = [
            "#",
            "Model",
            "Jobs",
            "Agreement",
            "Outlier rate",
            "Intermodel score",
            "Pass 1",
            "Pass 2",
            "Pass 3",
        ]
        rows = [
            [
                i,
                _name(m.model),
                m.jobs,
                _pct(m.agreement),
                _pct(m.outlier_rate),
                f"{float(m.score or 0):.1f}",
                *(_pct(m.per_pass.get(p)) for p in (1, 2, 3)),
            ]
            for i, m in enumerate(stats, 1)
        ]
        return lines + _table(header, rows)
    header = [
        "#",
        "Model",
        "Jobs",
        "Judged fields",
        "LOO agreement",
        "95 % CI",
        "Pass 1",
        "Pass 2",
        "Pass 3",
        "Confidence when agreeing",
        "… when disagreeing",
    ]
    rows = [
        [
            i,
            _name(m.model),
            m.jobs,
            m.judged,
            _pct(m.agreement),
            _interval(m.interval),
            *(_pct(m.per_pass.get(p)) for p in (1, 2, 3)),
            _num(m.confidence_when_agree),
            _num(m.confidence_when_disagree),
        ]
        for i, m in enumerate(stats, 1)
    ]
    lines += ["Each model against the majority of the *other* models (leave-one-out).", ""]
    lines += _table(header, rows)
    kinds = sorted({k for m in stats for k in m.per_kind})
    kind_rows = [[_name(m.model), *(_kind_cell(m.per_kind.get(k)) for k in kinds)] for m in stats]
    return lines + ["### By field type", "", *_table(["Model", *kinds], kind_rows)]


def _interval(bounds: tuple[float, float] | None) -> str:
    return "—" if bounds is None else f"{100 * bounds[0]:.1f}–{100 * bounds[1]:.1f} %"


def _num(value: Fraction | None) -> str:
    return "—" if value is None else f"{float(value):.3f}"


def _kind_cell(counts: tuple[int, int] | None) -> str:
    if not counts or not counts[1]:
        return "—"
    return f"{100 * counts[0] / counts[1]:.1f} % ({counts[1]})"


def _calibration_lines(run: ConsensusRun) -> list[str]:
    rows = [
        [
            entry.label,
            len(entry.confidences),
            _num(mean(entry.confidences)),
            _pct(Fraction(entry.agreed, len(entry.confidences)) if entry.confidences else None),
        ]
        for entry in calibration(run.evaluations)
    ]
    header = ["Self-reported confidence", "Answers", "Mean confidence", "Agrees with the others"]
    intro = (
        "Pass 2/3 confidences against leave-one-out agreement: a calibrated model agrees "
        "with the others more often when it says it is more confident."
    )
    return ["## Confidence against agreement", "", intro, "", *_table(header, rows)]


def _anomaly_lines(anomalies: list[Anomaly]) -> list[str]:
    lines = ["## Anomalies", ""]
    if not anomalies:
        return lines + ["None.", ""]
    kinds = Counter(anomaly_label(a) for a in anomalies)
    lines += _table(["Kind", "Count"], [[k, v] for k, v in kinds.most_common()])
    rows = [[a.job_id, _name(a.model), a.pass_number or "—", a.what] for a in anomalies]
    lines += [f"<details><summary>All {len(anomalies)} anomalies</summary>", ""]
    return lines + _table(["Job", "Model", "Pass", "What"], rows) + ["</details>", ""]
