"""Reading the contract's annotations as a small set of field kinds.

The validator, the flattener, the Arrow schema, the prompt's schema section and the data
dictionary all need to know "what kind of value is this field"; asking here keeps one
answer to that question.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel

from enrichment_dagster.contracts.passes import Inferred


@dataclass(frozen=True)
class Kind:
    """What a field holds, stripped of Optional and Annotated."""

    name: Literal["bool", "int", "float", "str", "enum", "list", "model", "inferred"]
    choices: tuple[str, ...] = ()
    ge: float | None = None
    le: float | None = None
    unit: str | None = None
    item: Kind | None = None  # for list and inferred
    model: type[BaseModel] | None = None  # for model


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


@cache
def kind_of(annotation: Any) -> Kind:
    annotation = _strip_optional(annotation)
    ge = le = None
    unit = None
    if typing.get_origin(annotation) is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        for m in meta:
            for item in getattr(m, "metadata", [m]):
                if isinstance(item, annotated_types.Ge):
                    ge = float(item.ge)
                elif isinstance(item, annotated_types.Le):
                    le = float(item.le)
            extra = getattr(m, "json_schema_extra", None)
            if isinstance(extra, dict):
                unit = extra.get("unit")
        inner = kind_of(base)
        return Kind(inner.name, inner.choices, ge, le, unit, inner.item, inner.model)
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return Kind("enum", choices=tuple(str(a) for a in typing.get_args(annotation)))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return Kind("list", item=kind_of(item))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if issubclass(annotation, Inferred):
            value_annotation = annotation.model_fields["value"].annotation
            return Kind("inferred", item=kind_of(value_annotation), model=annotation)
        return Kind("model", model=annotation)
    names = {bool: "bool", int: "int", float: "float", str: "str"}
    if annotation in names:
        return Kind(names[annotation])  # type: ignore[arg-type]
    raise TypeError(f"unsupported contract annotation: {annotation!r}")


def field_kinds(model: type[BaseModel]) -> dict[str, Kind]:
    return {name: kind_of(info.annotation) for name, info in model.model_fields.items()}


def type_label(kind: Kind) -> str:
    """Compact, human- and model-readable type used in prompts and the dictionary."""
    if kind.name == "enum":
        return "|".join(kind.choices)
    if kind.name == "list":
        assert kind.item is not None
        inner = type_label(kind.item)
        return f"[{inner}]" if kind.item.name != "enum" else f"[{inner}]"
    if kind.name == "inferred":
        assert kind.item is not None
        return type_label(kind.item)
    if kind.name == "model":
        assert kind.model is not None
        return "{" + ", ".join(kind.model.model_fields) + "}"
    label = {"bool": "bool", "int": "int", "float": "number", "str": "string"}[kind.name]
    if kind.ge is not None and kind.le is not None:
        lo = int(kind.ge) if kind.ge.is_integer() else kind.ge
        hi = int(kind.le) if kind.le.is_integer() else kind.le
        label = f"{label} {lo}-{hi}"
    return label
