"""Flat columns of every pass, and their Arrow types, generated from the contracts.

One walk over the pass models yields a :class:`ColumnSpec` per column; flattening, the
Arrow schema, the data dictionary and the Athena DDL all read that list, so a field added
to a contract appears everywhere at once. An all-null record flattens to the same columns
with the same types, which keeps every partition's schema identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from enrichment_dagster.contracts.passes import (
    CORE_KEYS,
    PASS_MODELS,
    PASS_PREFIX,
    Contract,
    Summary,
)
from enrichment_dagster.contracts.types import Kind, field_kinds, type_label

_SCALAR_ARROW = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "enum": pa.string(),
}


def arrow_type(kind: Kind) -> pa.DataType:
    if kind.name in _SCALAR_ARROW:
        return _SCALAR_ARROW[kind.name]
    if kind.name == "list":
        assert kind.item is not None
        return pa.list_(arrow_type(kind.item))
    if kind.name == "inferred":
        assert kind.item is not None
        return arrow_type(kind.item)
    assert kind.model is not None
    return pa.struct([pa.field(n, arrow_type(k)) for n, k in field_kinds(kind.model).items()])


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    arrow_type: pa.DataType
    description: str
    allowed: str  # compact type / vocabulary label
    pass_number: int
    group: str
    field: str
    part: str  # "value", "confidence", "evidence", "source" or "summary"


def _field_description(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].description or ""


def _group_fields(pass_number: int) -> Iterator[tuple[str, str, type[BaseModel], Kind]]:
    """(group, field, group model, kind) for every leaf field of a pass, in contract order."""
    top = field_kinds(PASS_MODELS[pass_number])
    core_model = top[CORE_KEYS[pass_number]].model
    assert core_model is not None
    for group, group_kind in field_kinds(core_model).items():
        assert group_kind.model is not None
        for name, kind in field_kinds(group_kind.model).items():
            yield group, name, group_kind.model, kind


_INFERRED_PARTS = (
    ("confidence", pa.float64(), "model's confidence 0-1 in the value", "number 0-1"),
    ("evidence", pa.string(), "verbatim quote from the posting supporting the value", "string"),
    (
        "source",
        pa.string(),
        "where the value comes from",
        "explicit|pass1_derived|pass2_derived|inferred|combined|not_mentioned",
    ),
)


@cache
def pass_columns(pass_number: int) -> tuple[ColumnSpec, ...]:
    prefix = PASS_PREFIX[pass_number]
    specs: list[ColumnSpec] = []
    for group, name, model, kind in _group_fields(pass_number):
        description = _field_description(model, name)
        column = f"{prefix}_{name}"
        specs.append(
            ColumnSpec(
                column,
                arrow_type(kind),
                description,
                type_label(kind),
                pass_number,
                group,
                name,
                "value",
            )
        )
        if kind.name == "inferred":
            for part, typ, meaning, allowed in _INFERRED_PARTS:
                specs.append(
                    ColumnSpec(
                        f"{column}_{part}",
                        typ,
                        f"{meaning} ({name})",
                        allowed,
                        pass_number,
                        group,
                        name,
                        part,
                    )
                )
    if pass_number == 3:
        for name, kind in field_kinds(Summary).items():
            specs.append(
                ColumnSpec(
                    f"anl_summary_{name}",
                    arrow_type(kind),
                    _field_description(Summary, name),
                    type_label(kind),
                    3,
                    "summary",
                    name,
                    "summary",
                )
            )
    return tuple(specs)


def pass_schema(pass_number: int) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type) for c in pass_columns(pass_number)])


def _dump(model: Contract | None) -> dict[str, Any]:
    return model.model_dump(mode="python") if model is not None else {}


def flatten_pass(pass_number: int, output: Contract | None) -> dict[str, Any]:
    """The pass's columns for one record; ``None`` (a failed pass) gives all nulls."""
    data = _dump(output)
    core = data.get(CORE_KEYS[pass_number]) or {}
    row: dict[str, Any] = {}
    for spec in pass_columns(pass_number):
        if spec.part == "summary":
            value = (data.get("summary") or {}).get(spec.field)
        else:
            value = (core.get(spec.group) or {}).get(spec.field)
            if pass_number != 1:  # every pass-2/3 field is an {value, confidence, ...} object
                value = (value or {}).get(spec.part)
        row[spec.name] = value
    return row


def empty_row(pass_number: int) -> dict[str, Any]:
    return {c.name: None for c in pass_columns(pass_number)}
