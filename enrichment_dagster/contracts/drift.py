"""Upstream type drift: make any Arrow column fit its contract type, one value at a time if need be.

Spark jobs change. A column that was ``double`` arrives as a string (``' 150000 '``), a
timestamp as ISO text with ``Z`` or ``+01:00``, a boolean as ``"no"``, a list column as one
plain string, a count beyond ``int32``; two part files of one partition disagree on
``timestamp[ns]`` vs ``timestamp[us, tz=UTC]``. One such value must cost at most that value,
never the partition, and never silently.

:func:`coerce_table` therefore works per column, in two steps:

1. a vectorised Arrow cast when the column is of the contract's *kind* (integer widths,
   float vs decimal, string vs large_string, timestamp units and zones, dictionary
   encodings): representational changes only, no value changes meaning, nothing reported;
2. otherwise (another kind, or the cast failed: an overflow, a fraction, a bad string),
   value by value: strings trimmed and parsed (numbers, ISO timestamps to UTC, boolean words
   ``yes/no/true/false/1/0``), a scalar becomes a one-element list, a struct or list in a
   text column becomes its JSON. Every value changed this way is reported, and any value
   that still does not fit (``"over 200"``, ``3,000,000,000`` in ``int32``, a date past
   year 9999) becomes null, reported with the reason.

Temporal values are finally checked against what Python (and so the record model, the JSON
of the enrichment and every downstream reader) can hold: year 1 to 9999. Outside it the
value is nulled and reported, the row is kept.

Timestamps are UTC: a zoned value is converted to UTC and stored without zone, as Spark's
``timestamp[ns]`` (session time zone UTC) always was. Sub-microsecond digits are cut.

Plain pyarrow and the standard library: no Dagster, no contract models.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_EPOCH = dt.datetime(1970, 1, 1)
_US = dt.timedelta(microseconds=1)
#: The range of Python's datetime (and date), in the units Arrow stores.
_MIN_US = (dt.datetime.min - _EPOCH) // _US
_MAX_US = (dt.datetime.max - _EPOCH) // _US
_MIN_DAY = (dt.date.min - _EPOCH.date()).days
_MAX_DAY = (dt.date.max - _EPOCH.date()).days
_UNITS = {"s": 0, "ms": 1, "us": 2, "ns": 3}
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
_SHOWN_CHARS = 60

#: Row index -> what was done to that row's values ("salary_min: ' 1 ' read as 1.0").
RowNotes = dict[int, list[str]]


class _Unfit(ValueError):
    """A value that cannot be made to fit its column: it becomes null, with this reason."""


def coerce_table(table: pa.Table, schema: pa.Schema) -> tuple[pa.Table, RowNotes]:
    """``table`` with exactly ``schema``'s columns and types, and a note per changed value.

    Missing columns become nulls, extra columns are dropped. Never raises for a value: a
    value that cannot be made to fit is nulled and noted. Non-nullable fields are not
    enforced here (the caller decides what a row without its key means).
    """
    notes: RowNotes = {}
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column, column_notes = coerce_column(table.column(field.name), field.type)
            for index, note in column_notes.items():
                notes.setdefault(index, []).append(f"{field.name}: {note}")
        else:
            column = pa.nulls(table.num_rows, field.type)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema), dict(sorted(notes.items()))


def coerce_column(
    column: pa.Array | pa.ChunkedArray, target: pa.DataType
) -> tuple[pa.Array, dict[int, str]]:
    """One column cast to ``target``: vectorised when it is a representational change,
    value by value otherwise; returns the array and row index -> note."""
    array = _decoded(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), target), {}
    cast = _vectorised(array, target)
    if cast is not None:
        return _in_python_range(cast)
    converter = _converter(target)
    # Within one kind (an int32 overflow, a fraction in an integer) only nulls are news;
    # across kinds (text read as a number) every converted value is reported.
    report_changes = _kind(array.type) != _kind(target)
    values: list[Any] = []
    notes: dict[int, str] = {}
    for index, (value, unreadable) in enumerate(_python_values(array)):
        if unreadable is not None:
            values.append(None)
            notes[index] = f"value nulled: {unreadable}"
            continue
        if value is None:
            values.append(None)
            continue
        try:
            converted = converter(value)
        except _Unfit as exc:
            values.append(None)
            notes[index] = f"{_shown(value)} nulled: {exc}"
            continue
        values.append(converted)
        if report_changes and (converted != value or type(converted) is not type(value)):
            notes[index] = f"{_shown(value)} read as {_shown(converted)}"
    return _in_python_range(pa.array(values, target), notes)


# -- vectorised ---------------------------------------------------------------------------


def _decoded(array: pa.Array) -> pa.Array:
    """Dictionary and extension encodings are storage details: look through them."""
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array


def _kind(data_type: pa.DataType) -> str:
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "number"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return "string"
    if pa.types.is_timestamp(data_type):
        return "timestamp"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_boolean(data_type):
        return "bool"
    if (pa.types.is_list(data_type) or pa.types.is_large_list(data_type)
            or pa.types.is_fixed_size_list(data_type) or pa.types.is_list_view(data_type)):
        return "list:" + _kind(data_type.value_type)
    return str(data_type)


def _vectorised(array: pa.Array, target: pa.DataType) -> pa.Array | None:
    """The Arrow cast of a same-kind column, or None when values must be looked at."""
    if array.type.equals(target):
        return array
    if _kind(array.type) != _kind(target):
        return None
    try:
        return array.cast(target)
    except _CAST_ERRORS:
        pass
    if pa.types.is_timestamp(array.type) and _UNITS[array.type.unit] > _UNITS[target.unit]:
        # ns -> us: only sub-microsecond digits are cut; a finer unit cannot overflow a coarser.
        return array.cast(target, safe=False)
    return None  # an overflow or a fraction: value by value, each one reported


def _in_python_range(
    array: pa.Array, notes: dict[int, str] | None = None
) -> tuple[pa.Array, dict[int, str]]:
    """Temporal values outside year 1..9999 nulled and noted (no datetime can hold them)."""
    notes = dict(notes or {})
    if pa.types.is_timestamp(array.type) and array.type.unit != "ns":  # ns spans 1677..2262
        per_unit = {"s": 10**6, "ms": 10**3, "us": 1}[array.type.unit]
        low, high = -(-_MIN_US // per_unit), _MAX_US // per_unit
        raw, unit = array.cast(pa.int64()), f"{array.type.unit} since 1970"
    elif pa.types.is_date32(array.type):
        low, high = _MIN_DAY, _MAX_DAY
        raw, unit = array.cast(pa.int32()), "days since 1970"
    else:
        return array, notes
    outside = pc.fill_null(pc.or_(pc.less(raw, low), pc.greater(raw, high)), False)
    bad = pc.indices_nonzero(outside).to_pylist()
    if not bad:
        return array, notes
    for index in bad:
        notes[index] = f"{array.type} value {raw[index].as_py()} ({unit}) nulled: outside year 1..9999"
    fitted = pc.if_else(pc.invert(outside), array, pa.nulls(len(array), array.type))
    return fitted, dict(sorted(notes.items()))


# -- value by value -----------------------------------------------------------------------


def _python_values(array: pa.Array) -> list[tuple[Any, str | None]]:
    """(value, None) per row, or (None, reason) for a value Python cannot hold."""
    if pa.types.is_timestamp(array.type) and array.type.unit == "ns":
        array = array.cast(pa.timestamp("us", array.type.tz), safe=False)  # Python holds micros
    try:
        return [(value, None) for value in array.to_pylist()]
    except (ValueError, OverflowError, pa.ArrowException):
        pass
    values: list[tuple[Any, str | None]] = []
    for index in range(len(array)):
        try:
            values.append((array[index].as_py(), None))
        except (ValueError, OverflowError, pa.ArrowException) as exc:
            values.append((None, f"unreadable {array.type} value ({exc})"[:200]))
    return values


def _converter(target: pa.DataType) -> Callable[[Any], Any]:
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return to_text
    if pa.types.is_integer(target):
        return lambda value: to_integer(value, target)
    if pa.types.is_floating(target) or pa.types.is_decimal(target):
        return to_float
    if pa.types.is_boolean(target):
        return to_bool
    if pa.types.is_timestamp(target):
        return to_utc_datetime
    if pa.types.is_date(target):
        return to_date
    if pa.types.is_list(target) or pa.types.is_large_list(target):
        item = _converter(target.value_type)
        return lambda value: to_list(value, item)
    raise _Unfit(f"no conversion to {target}")


def to_text(value: Any) -> str:
    """Text as it is; other scalars in their plain spelling; a struct or list as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unfit("not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True)
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return to_text(value)


def _number(value: Any) -> int | float | decimal.Decimal:
    if isinstance(value, bool):
        raise _Unfit("a boolean is not a number")
    if isinstance(value, int | float | decimal.Decimal):
        number = value
    elif isinstance(value, str | bytes):
        text = (value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value).strip()
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        try:
            number = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise _Unfit("not a number") from None
    else:
        raise _Unfit(f"a {type(value).__name__} is not a number")
    if isinstance(number, float | decimal.Decimal) and not math.isfinite(number):
        raise _Unfit("not a finite number")
    return number


def to_float(value: Any) -> float:
    return float(_number(value))


def to_integer(value: Any, target: pa.DataType) -> int:
    number = _number(value)
    if isinstance(number, float | decimal.Decimal):
        if number != int(number):
            raise _Unfit("not a whole number")
        number = int(number)
    low, high = _integer_range(target)
    if not low <= number <= high:
        raise _Unfit(f"outside the {target} range {low}..{high}")
    return number


def _integer_range(target: pa.DataType) -> tuple[int, int]:
    bits = target.bit_width
    if pa.types.is_unsigned_integer(target):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | decimal.Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
    raise _Unfit("not a yes/no value")


def to_utc_datetime(value: Any) -> dt.datetime:
    """A naive UTC datetime from a datetime, a date, ISO text or epoch seconds/ms/us/ns."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = _parse_iso(value)
    elif isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
        moment = _from_epoch(float(value))
    else:
        raise _Unfit(f"a {type(value).__name__} is not a timestamp")
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        except OverflowError:
            raise _Unfit("outside year 1..9999 in UTC") from None
    return moment


def _parse_iso(text: str) -> dt.datetime:
    cleaned = text.strip()
    if cleaned.upper().endswith(" UTC"):
        cleaned = cleaned[:-4] + "+00:00"
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", cleaned)  # nanoseconds: Python keeps micros
    try:
        return dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise _Unfit("not an ISO 8601 timestamp") from None


def _from_epoch(number: float) -> dt.datetime:
    """Epoch numbers by magnitude: seconds, milliseconds, microseconds or nanoseconds."""
    if not math.isfinite(number):
        raise _Unfit("not a finite number")
    magnitude = abs(number)
    seconds = (number if magnitude < 1e11 else number / 1e3 if magnitude < 1e14
               else number / 1e6 if magnitude < 1e17 else number / 1e9)
    try:
        return _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        raise _Unfit("outside year 1..9999") from None


def to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return to_utc_datetime(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return to_utc_datetime(text).date()
    raise _Unfit(f"a {type(value).__name__} is not a date")


def to_list(value: Any, item: Callable[[Any], Any]) -> list[Any]:
    """A list from a list, a JSON array in text, or a scalar (a list of that one value)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                value = parsed
        if isinstance(value, str):
            return [item(value)]
    if isinstance(value, list | tuple):
        return [None if v is None else item(v) for v in value]
    return [item(value)]


def _shown(value: Any) -> str:
    text = repr(value.isoformat()) if isinstance(value, dt.date) else repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def unify_tables(tables: list[pa.Table]) -> list[pa.Table]:
    """Tables whose same-named columns share one type, for a plain concatenation.

    For readers without a contract (a partition's part files that disagree): numbers become
    ``int64`` (all integers) or ``float64``; timestamps ``timestamp[us]`` in UTC (a zoned
    one converted); anything else that disagrees becomes text (``to_text``). Values keep
    their meaning; a reader with a contract fits each file to it instead (``coerce_table``).
    """
    types: dict[str, list[pa.DataType]] = {}
    for table in tables:
        for field in table.schema:
            decoded = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
            if not pa.types.is_null(decoded):
                types.setdefault(field.name, []).append(decoded)
    targets = {name: target for name, found in types.items()
               if any(not t.equals(found[0]) for t in found)
               and (target := _common_type(found)) is not None}
    unified = []
    for table in tables:
        for name, target in targets.items():
            if name in table.column_names:
                position = table.schema.get_field_index(name)
                column, _ = coerce_column(table.column(position), target)
                table = table.set_column(position, pa.field(name, target), column)
        unified.append(table)
    return unified


def _common_type(found: list[pa.DataType]) -> pa.DataType | None:
    kinds = {_kind(t) for t in found}
    if kinds == {"number"}:
        return pa.int64() if all(pa.types.is_integer(t) for t in found) else pa.float64()
    if kinds == {"timestamp"}:
        return pa.timestamp("us")
    if kinds == {"date"}:
        return pa.date32()
    if kinds == {"bool"}:
        return pa.bool_()
    if all(k.startswith("list:") for k in kinds):
        return pa.list_(pa.string())
    return pa.string()  # even a scalar in one file and a list in another: their text
