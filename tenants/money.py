"""Money is stored as integer cents, computed on the digits, never through a float.

`to_cents("19.99") == 1999` (a float computation gives 1998), halves round away from zero,
and `app/lib/polars_map.py` converts whole columns with the same pattern and the same rule.
"""

from __future__ import annotations

import re
from decimal import Decimal

# Money text: optional sign, optional "$", digits with optional thousands commas, decimals.
MONEY_PATTERN = (
    r"^(?P<sign>[+-])?\$?(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<fraction>[0-9]+))?$"
)
_MONEY = re.compile(MONEY_PATTERN)


def to_cents(amount: str | int | Decimal | float | None) -> int | None:
    """Dollars (or any two-decimal currency) to integer cents, rounding half away from zero.

    Accepts "19.99", "-$1,234.50", 7, Decimal("0.105") and floats (read as their shortest
    text, so 19.99 is 1999). Anything else raises ValueError.
    """
    if amount is None:
        return None
    if isinstance(amount, bool):
        raise TypeError("a boolean is not an amount of money")
    if isinstance(amount, int):
        return amount * 100
    if isinstance(amount, float):
        amount = Decimal(repr(amount))
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise ValueError(f"{amount} is not an amount of money")
        amount = format(amount, "f")
    if not isinstance(amount, str):
        raise TypeError(f"cannot read {type(amount).__name__} as money")
    match = _MONEY.fullmatch(amount.strip())
    if match is None:
        raise ValueError(f"{amount!r} is not an amount of money")
    digits = (match["fraction"] or "").ljust(3, "0")
    cents = int(match["whole"].replace(",", "")) * 100 + int(digits[:2]) + (digits[2] >= "5")
    return -cents if match["sign"] == "-" else cents


def from_cents(cents: int | None) -> Decimal | None:
    """Integer cents to an exact Decimal: 1999 -> Decimal("19.99")."""
    if cents is None:
        return None
    sign, whole = ("-" if cents < 0 else ""), abs(int(cents))
    return Decimal(f"{sign}{whole // 100}.{whole % 100:02d}")


def format_cents(cents: int | None, symbol: str = "$") -> str:
    """For display: 123450 -> "$1,234.50"; None -> ""."""
    if cents is None:
        return ""
    whole = abs(int(cents))
    return f"{'-' if cents < 0 else ''}{symbol}{whole // 100:,}.{whole % 100:02d}"
