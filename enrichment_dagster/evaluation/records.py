"""Plain records shared by the loaders, both consensus methods and the reports.

They are frozen dataclasses rather than dicts so a report can never silently read a key
that a method forgot to fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

Source = Literal["json", "raw"]
State = Literal["agree", "disagree", "no_information", "excluded", "not_applicable", "insufficient"]


@dataclass(frozen=True)
class Anomaly:
    """Something in the inputs the old evaluator crashed on or silently mis-scored."""

    job_id: str
    model: str
    pass_number: int | None
    what: str
    kind: str = "other"

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "model": self.model,
            "pass": self.pass_number,
            "kind": self.kind,
            "what": self.what,
        }


@dataclass(frozen=True)
class ModelOutput:
    """One model's answer for one pass, already in the old ``result`` shape."""

    job_id: str
    model: str
    pass_number: int
    result: dict[str, Any]
    source: Source
    path: str
    sha256: str
    metadata: dict[str, Any] = field(default_factory=dict)
    parse_status: str = "complete"
    #: registry name -> the misspelt key the model wrote instead (used by v2 only)
    aliases: dict[str, str] = field(default_factory=dict)
    #: which summary keys a Pass 3 answer carries ("v3.3" or "v3.4")
    schema: str | None = None


@dataclass
class JobOutputs:
    """Every usable answer for one job, keyed by pass then model short id."""

    job_id: str
    outputs: dict[int, dict[str, ModelOutput]] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    #: Metadata of any ``.json`` of the job, for titles when only raw answers were read.
    fallback_metadata: dict[str, Any] = field(default_factory=dict)

    def models(self, pass_number: int) -> list[str]:
        """Models that answered a pass; a missing answer removes the model from the vote."""
        return list(self.outputs.get(pass_number, {}))

    def title_and_company(self) -> tuple[str, str]:
        """Taken from the first Pass 1 file in model order, as the old reports did."""
        first = next(iter(self.outputs.get(1, {}).values()), None)
        meta = first.metadata if first is not None and first.metadata else self.fallback_metadata
        return str(meta.get("job_title") or ""), str(meta.get("company_name") or "")


@dataclass(frozen=True)
class FieldOutcome:
    """The verdict on one field of one job.

    ``has_consensus`` is None in v2 when the field carries no signal (all models abstained,
    free text, or too few models), so it can never be mistaken for agreement.
    """

    job_id: str
    pass_number: int
    field: str
    type: str
    has_consensus: bool | None
    agreement: Fraction
    n_models: int
    state: State
    value: Any = None
    votes: dict[str, Any] = field(default_factory=dict)
    #: legacy: models counted as outliers; v2: leave-one-out verdict per model (None = not judged)
    outliers: tuple[str, ...] = ()
    loo: dict[str, bool | None] = field(default_factory=dict)
    confidences: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "pass": self.pass_number,
            "field": self.field,
            "type": self.type,
            "has_consensus": self.has_consensus,
            "state": self.state,
            "agreement": float(self.agreement),
            "n_models": self.n_models,
        }


@dataclass
class JobEvaluation:
    """All field verdicts of one job plus what is needed to aggregate them."""

    job_id: str
    title: str
    company: str
    models_per_pass: dict[int, list[str]]
    fields: list[FieldOutcome]

    @classmethod
    def of(cls, job: JobOutputs, fields: list[FieldOutcome]) -> JobEvaluation:
        """The verdicts of ``job``, whichever method produced them."""
        title, company = job.title_and_company()
        return cls(job.job_id, title, company, {p: job.models(p) for p in (1, 2, 3)}, fields)
