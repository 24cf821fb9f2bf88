"""Money as integer cents: exact on the digits, halves away from zero, strict about input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenants import money


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("19.99", 1999),
        ("0.29", 29),
        ("$1,234.50", 123450),
        ("-$5", -500),
        ("+7.1", 710),
        ("0.005", 1),
        ("-0.005", -1),
        ("0.0049999", 0),
        (19.99, 1999),
        (0.29, 29),
        (1.005, 101),  # the JSON said 1.005; its float is a hair below, but we read the text
        (Decimal("2.675"), 268),
        (12, 1200),
        (None, None),
    ],
)
def test_to_cents(amount, cents):
    assert money.to_cents(amount) == cents


@pytest.mark.parametrize("amount", ["", "abc", "1,50", "1.2.3", "$", "1e5", "NaN", "١٢"])
def test_to_cents_refuses_what_is_not_money(amount):
    with pytest.raises(ValueError):
        money.to_cents(amount)


def test_to_cents_refuses_other_types():
    for amount in (True, [1], Decimal("Infinity"), float("nan")):
        with pytest.raises((TypeError, ValueError)):
            money.to_cents(amount)


def test_format_cents():
    assert money.format_cents(123450) == "$1,234.50"
    assert money.format_cents(-5) == "-$0.05"
    assert money.format_cents(199, symbol="€") == "€1.99"
    assert money.format_cents(None) == ""


@given(st.decimals(min_value=-(10**15), max_value=10**15, places=2))
def test_cents_round_trip_two_places(amount):
    cents = money.to_cents(amount)
    assert money.from_cents(cents) == amount
    assert money.to_cents(str(amount)) == cents
    assert money.to_cents(money.format_cents(cents)) == cents


@given(st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, allow_infinity=False))
def test_cents_round_half_away_from_zero(amount):
    expected = int((abs(amount) * 100).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert money.to_cents(amount) == (-expected if amount < 0 else expected)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_from_cents_round_trip(cents):
    assert money.to_cents(money.from_cents(cents)) == cents
