"""Records to a typed frame: flatten, rename, drop unmapped, strict conversions, cents."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.lib.polars_map import FieldMap, MappingError, convert, flatten
from tenants.money import to_cents

RECORDS = [
    {
        "id": 1,
        "customer": {"name": "Ada", "address": {"city": "London"}},
        "total": "19.99",
        "active": "TRUE",
        "joined": "2024-02-29",
        "seen": "2024-03-01T10:00:00+02:00",
        "internal": "dropped",
    },
    {
        "id": 2,
        "customer": {"name": "Alan", "address": None},
        "total": "$1,000.05",
        "active": "no",
        "joined": None,
        "seen": "2024-03-01 08:00:00.5",
        "internal": "dropped",
    },
]
MAP = FieldMap(
    columns={
        "id": "id",
        "customer.name": "name",
        "customer.address.city": "city",
        "total": "total_cents",
        "active": "active",
        "joined": "joined_on",
        "seen": "seen_at",
    },
    types={
        "id": "text",
        "total_cents": "cents",
        "active": "bool",
        "joined_on": "date",
        "seen_at": "datetime",
    },
)


def test_frame_flattens_renames_converts_and_drops_unmapped():
    frame = MAP.frame(RECORDS)
    assert frame.columns == ["id", "name", "city", "total_cents", "active", "joined_on", "seen_at"]
    assert frame.schema["total_cents"] == pl.Int64
    assert frame.schema["seen_at"] == pl.Datetime("us", "UTC")
    assert frame.rows() == [
        ("1", "Ada", "London", 1999, True, date(2024, 2, 29), datetime(2024, 3, 1, 8, tzinfo=UTC)),
        ("2", "Alan", None, 100005, False, None, datetime(2024, 3, 1, 8, 0, 0, 500000, tzinfo=UTC)),
    ]


def test_flatten_names_nested_fields_with_dots():
    frame = flatten(pl.DataFrame([{"a": {"b": {"c": 1}, "d": 2}, "e": 3}]))
    assert sorted(frame.columns) == ["a.b.c", "a.d", "e"]


def test_empty_page_gives_an_empty_typed_frame():
    frame = MAP.frame([])
    assert frame.is_empty()
    assert frame.schema["total_cents"] == pl.Int64 and frame.schema["name"] == pl.String


def test_nested_parent_null_everywhere_gives_null_column():
    frame = MAP.frame([{**RECORDS[1], "customer": None}])
    assert frame.select("name", "city").row(0) == (None, None)


def test_a_field_missing_from_every_record_is_an_error():
    with pytest.raises(MappingError, match="no field totl"):
        FieldMap(columns={"id": "id", "totl": "total"}).frame(RECORDS)


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [
        ("int", ["12", " 7 ", None], [12, 7, None]),
        ("int", [3.0, -2.0], [3, -2]),
        ("float", ["1.5", "-2"], [1.5, -2.0]),
        ("bool", ["yes", "N", "1", "off", "True"], [True, False, True, False, True]),
        ("bool", [1, 0], [True, False]),
        ("date", ["2024-01-31", "2024-02-29"], [date(2024, 1, 31), date(2024, 2, 29)]),
        ("datetime", ["2024-01-01T00:00:00Z"], [datetime(2024, 1, 1, tzinfo=UTC)]),
        ("cents", ["0.29", "-0.005", "7", "12,345.678"], [29, -1, 700, 1234568]),
        ("cents", [19.99, 0.1, 2.675], [1999, 10, 268]),
        ("cents", [5, -3], [500, -300]),
        ("text", [1, 2], ["1", "2"]),
    ],
)
def test_conversions(kind, values, expected):
    frame = convert(pl.DataFrame({"v": values}, strict=False), {"v": kind})
    assert frame.get_column("v").to_list() == expected


@pytest.mark.parametrize(
    ("kind", "bad"),
    [
        ("int", "12.5"),
        ("int", "twelve"),
        ("bool", "maybe"),
        ("date", "2023-02-29"),
        ("date", "31/01/2024"),
        ("datetime", "yesterday"),
        ("cents", "1,50"),
        ("cents", "12 dollars"),
        ("cents", "99999999999999999999"),
        ("float", "NaN-ish"),
    ],
)
def test_unreadable_values_raise_instead_of_becoming_null(kind, bad):
    with pytest.raises(MappingError, match=f"cannot read '{bad}' as {kind}"):
        convert(pl.DataFrame({"v": ["ok-ish", bad][1:]}), {"v": kind})


def test_fractional_float_is_not_an_int():
    with pytest.raises(MappingError, match=r"12\.5"):
        convert(pl.DataFrame({"v": [12.5]}), {"v": "int"})


def test_unknown_conversion_and_column():
    with pytest.raises(MappingError, match="unknown conversion"):
        convert(pl.DataFrame({"v": ["1"]}), {"v": "money"})  # type: ignore[dict-item]
    with pytest.raises(MappingError, match="no column w"):
        convert(pl.DataFrame({"v": ["1"]}), {"w": "int"})


def test_records_that_do_not_form_a_table():
    with pytest.raises(MappingError):
        MAP.frame([{"id": 1, "customer": "not an object"}, {"id": 2, "customer": {"name": 1}}])


@given(
    st.lists(
        st.decimals(min_value=-(10**13), max_value=10**13, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=20,
    )
)
def test_vectorised_cents_agree_with_to_cents(amounts):
    texts = [format(a, "f") for a in amounts]
    frame = convert(pl.DataFrame({"v": texts}), {"v": "cents"})
    assert frame.get_column("v").to_list() == [to_cents(Decimal(t)) for t in texts]


@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1))
def test_float_cents_read_the_shortest_text_like_to_cents(amounts):
    frame = convert(pl.DataFrame({"v": amounts}, schema={"v": pl.Float64}), {"v": "cents"})
    assert frame.get_column("v").to_list() == [to_cents(a) for a in amounts]
