"""Model table: prices and per-model call settings, read from YAML.

Why data and not code: the old client kept a hard-coded price table, priced gpt-oss output
at half its list price and billed every unlisted model at a silent $1/$2 default, so four of
five models were mis-costed for months. Here the table lives in ``models.yaml`` beside this
module, users can add or override models with the YAML file named by the environment
variable ``ENRICHMENT_MODELS_FILE`` (merged over the packaged table, field by field), and an
unknown model is a :class:`ConfigurationError` that lists the known ones: never a default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from enrichment_dagster.contracts.output import PRICING_VALUES, Pricing
from enrichment_dagster.llm.types import ConfigurationError

MODELS_FILE_ENV = "ENRICHMENT_MODELS_FILE"
BATCH_DISCOUNT = 0.5
TOKENS_PER_PRICE_UNIT = 1_000_000

#: The two price lists (the vocabulary is the output contract's, :data:`Pricing`).
ON_DEMAND: Pricing = "on_demand"
BATCH: Pricing = "batch"
PRICINGS: tuple[Pricing, ...] = PRICING_VALUES

OutputFormat = Literal["tool_use", "json_prompt"]
_Price = Annotated[float, Field(ge=0)]


class ModelSpec(BaseModel):
    """Everything the backends and the cost accounting need to know about one model.

    A pydantic model, so the YAML is validated by its declaration: unknown fields, negative
    prices, an unknown ``output_format`` are refused with the field named; batch prices
    default to half the on-demand ones (Bedrock's batch discount)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    model_id: str
    input_per_1m: _Price
    output_per_1m: _Price
    batch_input_per_1m: _Price | None = None
    batch_output_per_1m: _Price | None = None
    output_format: OutputFormat = "json_prompt"
    default_max_output_tokens: PositiveInt = 8192
    reasoning: bool = False
    #: read-only once loaded: specs are cached and shared by every thread
    additional_model_request_fields: Mapping[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _batch_prices_and_read_only_fields(self) -> ModelSpec:
        if self.batch_input_per_1m is None:
            object.__setattr__(self, "batch_input_per_1m", self.input_per_1m * BATCH_DISCOUNT)
        if self.batch_output_per_1m is None:
            object.__setattr__(self, "batch_output_per_1m", self.output_per_1m * BATCH_DISCOUNT)
        object.__setattr__(self, "additional_model_request_fields",
                           MappingProxyType(dict(self.additional_model_request_fields)))
        return self

    def cost_usd(self, input_tokens: int, output_tokens: int, *, batch: bool = False) -> float:
        """USD for one call; batch inference uses the batch prices."""
        in_price = self.batch_input_per_1m if batch else self.input_per_1m
        out_price = self.batch_output_per_1m if batch else self.output_per_1m
        assert in_price is not None and out_price is not None  # set by the validator
        return (input_tokens * in_price + output_tokens * out_price) / TOKENS_PER_PRICE_UNIT


def get_model(model_id: str) -> ModelSpec:
    """The spec of ``model_id``; raises ConfigurationError (listing known ids) when unknown."""
    table = load_models()
    spec = table.get(model_id)
    if spec is None:
        raise ConfigurationError(_unknown_model_message(model_id, table))
    return spec


def cost_usd(model_id: str, input_tokens: int, output_tokens: int, batch: bool = False) -> float:
    """USD cost of one call of ``model_id``; unknown models raise instead of guessing."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(f"token counts must be >= 0, got {input_tokens}/{output_tokens}")
    return get_model(model_id).cost_usd(input_tokens, output_tokens, batch=batch)


def known_models() -> list[str]:
    """Sorted ids of every model in the packaged table plus the user's extra file."""
    return sorted(load_models())


def is_known_model(model_id: str) -> bool:
    """True when ``model_id`` has a price: lets self-hosted backends decide to bill 0."""
    return model_id in load_models()


def load_models() -> dict[str, ModelSpec]:
    """The merged table; re-read whenever ``ENRICHMENT_MODELS_FILE`` names another file."""
    extra = os.environ.get(MODELS_FILE_ENV) or None
    return dict(_load_models_cached(extra))


def clear_cache() -> None:
    """Forget the parsed tables (tests that rewrite a models file in place need this)."""
    _load_models_cached.cache_clear()


@lru_cache(maxsize=8)
def _load_models_cached(extra_path: str | None) -> Mapping[str, ModelSpec]:
    raw = _models_section(_packaged_yaml(), "packaged models.yaml")
    if extra_path is not None:
        extra = _models_section(_read_extra_file(extra_path), extra_path)
        raw = _merge(raw, extra)
    return {model_id: _build_spec(model_id, fields) for model_id, fields in raw.items()}


def _packaged_yaml() -> Any:
    text = resources.files("enrichment_dagster.llm").joinpath("models.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def _read_extra_file(path: str) -> Any:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigurationError(f"{MODELS_FILE_ENV}={path} does not name a readable file")
    try:
        return yaml.safe_load(file.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{MODELS_FILE_ENV}={path} is not valid YAML: {exc}") from exc


def _models_section(document: Any, source: str) -> dict[str, dict[str, Any]]:
    """The ``models:`` mapping of one YAML document, checked for shape."""
    if not isinstance(document, Mapping) or not isinstance(document.get("models"), Mapping):
        raise ConfigurationError(f"{source}: expected a top-level 'models:' mapping")
    section: dict[str, dict[str, Any]] = {}
    for model_id, fields in document["models"].items():
        if not isinstance(fields, Mapping):
            raise ConfigurationError(f"{source}: model {model_id!r} must be a mapping of fields")
        section[str(model_id)] = dict(fields)
    return section


def _merge(
    base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Field-by-field merge: an extra entry overrides only the fields it names."""
    merged = {model_id: dict(fields) for model_id, fields in base.items()}
    for model_id, fields in extra.items():
        merged.setdefault(model_id, {}).update(fields)
    return merged


def _build_spec(model_id: str, fields: Mapping[str, Any]) -> ModelSpec:
    for required in ("input_per_1m", "output_per_1m"):
        if required not in fields:
            raise ConfigurationError(f"model {model_id!r} has no {required} price")
    try:
        return ModelSpec.model_validate({**fields, "model_id": model_id})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'entry'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigurationError(f"model {model_id!r}: {problems}") from exc


def _unknown_model_message(model_id: str, table: Mapping[str, ModelSpec]) -> str:
    known = ", ".join(sorted(table)) or "(none)"
    return (
        f"unknown model {model_id!r}: it has no entry in the model/price table. "
        f"Known models: {known}. To add one, list it in a YAML file "
        f"(models: {{<id>: {{input_per_1m: ..., output_per_1m: ...}}}}) and set "
        f"{MODELS_FILE_ENV} to its path."
    )
