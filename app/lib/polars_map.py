"""Turn a page of API records into a typed polars frame shaped like a table.

`FieldMap.frame(records)` does the whole job: build the frame, flatten nested objects into
dotted names (`customer.name`), keep only the mapped fields under their column names, and
convert each column explicitly. Conversions are strict: a value that cannot be read (a
"maybe" where a boolean belongs, "2023-02-30" for a date) raises `MappingError` naming the
column and the value, instead of quietly becoming NULL in the database.

Money becomes integer cents by decimal arithmetic on the digits, never through a float, so
"19.99" is 1999 and "0.005" rounds half away from zero to 1, as `tenants.money.to_cents` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from tenants.money import MONEY_PATTERN

Conversion = Literal["text", "int", "float", "bool", "date", "datetime", "cents"]
DTYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "int": pl.Int64(),
    "float": pl.Float64(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us", "UTC"),
    "cents": pl.Int64(),
}
TRUE_WORDS = ("true", "t", "yes", "y", "1", "on")
FALSE_WORDS = ("false", "f", "no", "n", "0", "off")
MAX_DOLLAR_DIGITS = 16  # 10**16 dollars is 10**18 cents: still inside Int64


class MappingError(ValueError):
    pass


def flatten(frame: pl.DataFrame, sep: str = ".") -> pl.DataFrame:
    """Replace every struct column by its fields, named `parent.child`, however deep."""
    while structs := [name for name, dtype in frame.schema.items() if dtype == pl.Struct]:
        frame = frame.with_columns(
            pl.col(name).struct.field("*").name.prefix(f"{name}{sep}") for name in structs
        ).drop(structs)
    return frame


def _stripped(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return col.str.strip_chars() if dtype == pl.String else col


def _to_text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return col.cast(pl.String)


def _to_int(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_float():  # 3.0 is an int, 3.5 is not
        return pl.when(col == col.round(0)).then(col.cast(pl.Int64, strict=False))
    return _stripped(col, dtype).cast(pl.Int64, strict=False)


def _to_float(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return _stripped(col, dtype).cast(pl.Float64, strict=False)


def _to_bool(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.Boolean:
        return col
    if dtype == pl.String:
        words = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}
        lowered = col.str.strip_chars().str.to_lowercase()
        return lowered.replace_strict(words, default=None, return_dtype=pl.Boolean)
    return pl.when(col == 1).then(True).when(col == 0).then(False)


def _to_date(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return col.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    return col.dt.date() if dtype == pl.Datetime else col.cast(pl.Date)


def _to_datetime(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """ISO 8601 with an offset or `Z` is converted to UTC; without one it is taken as UTC."""
    if dtype == pl.String:
        text = col.str.strip_chars().str.replace(" ", "T", literal=True)
        return pl.coalesce(
            text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC", strict=False),
            text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC"),
        )
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return col.dt.convert_time_zone("UTC")
    return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _cents_from_text(text: pl.Expr) -> pl.Expr:
    parts = text.str.strip_chars().str.extract_groups(MONEY_PATTERN)
    sign, whole, fraction = (parts.struct.field(f) for f in ("sign", "whole", "fraction"))
    whole = whole.str.replace_all(",", "")
    digits = (fraction.fill_null("") + "000").str.slice(0, 3)  # the third digit decides rounding
    cents = (
        whole.cast(pl.Int64) * 100
        + digits.str.slice(0, 2).cast(pl.Int64)
        + (digits.str.slice(2, 1).cast(pl.Int64) >= 5).cast(pl.Int64)
    )
    cents = pl.when(whole.str.len_chars() <= MAX_DOLLAR_DIGITS).then(cents)
    return pl.when(sign == "-").then(-cents).otherwise(cents)


def _to_cents(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_integer():
        return col.cast(pl.Int64) * 100
    if dtype.is_float():
        # A float prints as its shortest round-trip text ("19.99"): what the JSON said.
        # Below a tenth of a cent it may print as "1e-07"; such amounts are 0 cents.
        return pl.when(col.abs() < 0.001).then(0).otherwise(_cents_from_text(col.cast(pl.String)))
    return _cents_from_text(col.cast(pl.String))


# Each makes an expression that converts a column of the given dtype; what it cannot read
# becomes null (and `convert` turns that into an error).
CONVERTERS: dict[str, Callable[[pl.Expr, pl.DataType], pl.Expr]] = {
    "text": _to_text,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
    "cents": _to_cents,
}


def convert(frame: pl.DataFrame, types: Mapping[str, Conversion]) -> pl.DataFrame:
    """Convert the named columns; raise `MappingError` on the first value that cannot be read."""
    names = list(types)
    if missing := [name for name in names if name not in frame.columns]:
        raise MappingError(f"no column {', '.join(missing)} to convert")
    if unknown := {kind for kind in types.values() if kind not in CONVERTERS}:
        raise MappingError(f"unknown conversion {unknown}; use one of {', '.join(CONVERTERS)}")
    try:
        converted = frame.with_columns(
            CONVERTERS[types[n]](pl.col(n), frame.schema[n]).cast(DTYPES[types[n]]).alias(n)
            for n in names
        )
    except pl.exceptions.PolarsError as e:
        raise MappingError(f"cannot convert {', '.join(names)}: {e}") from e
    # A value that could not be read became null: compare null counts (cheap), then find it.
    before = frame.select(pl.col(names).null_count()).row(0)
    after = converted.select(pl.col(names).null_count()).row(0)
    for name, nulls_before, nulls_after in zip(names, before, after, strict=True):
        if nulls_after > nulls_before:
            source = frame.get_column(name)
            bad = source.filter(converted.get_column(name).is_null() & source.is_not_null())
            raise MappingError(f"{name}: cannot read {bad[0]!r} as {types[name]}")
    return converted


@dataclass(frozen=True)
class FieldMap:
    """Which source fields land in which columns, and as what.

    `columns` maps a source field (dotted for nested objects) to a column name; fields not
    listed are dropped. `types` maps a column name to a `Conversion`.
    """

    columns: Mapping[str, str]
    types: Mapping[str, Conversion] = field(default_factory=dict)

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(
            schema={c: DTYPES[self.types.get(c, "text")] for c in self.columns.values()}
        )

    def frame(self, records: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
        if not records:
            return self.empty()
        try:
            raw = flatten(pl.DataFrame(records, infer_schema_length=None))
        except (pl.exceptions.PolarsError, TypeError, ValueError) as e:
            raise MappingError(f"records do not form a table: {e}") from e
        roots = {name.split(".")[0] for name in raw.columns}
        absent = [f for f in self.columns if f not in raw.columns and f.split(".")[0] not in roots]
        if absent:
            raise MappingError(f"records have no field {', '.join(absent)}")
        # A nested field whose parent was null in every record has no column yet: all nulls.
        selected = raw.select(
            (pl.col(f) if f in raw.columns else pl.lit(None)).alias(column)
            for f, column in self.columns.items()
        )
        return convert(selected, self.types)
