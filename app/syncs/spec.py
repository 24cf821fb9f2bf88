"""What one kind of source is: where its pages come from and how records become rows."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.lib.http_client import ApiClient
from app.lib.polars_map import FieldMap

# The target table and the columns the sync page sorts and counts by end up in SQL text.
SQL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class SyncSpec:
    """A GraphQL source synced into one table.

    The query takes `$cursor`, `$since` and `$first`, and must list records oldest
    `updated_column` first: the runner stores the newest one committed as the high-water
    mark, and the next run asks for records since that moment minus `overlap` (to catch
    records that were being written while the last run read past them).
    """

    kind: str  # stable name, stored on the tenant's source row
    title: str
    table: str  # the target table, from a migration
    key: str | tuple[str, ...]  # its unique key, for the upsert
    query: str
    items: str  # dotted paths into the response's `data`
    cursor: str
    has_next: str | None
    total: str | None
    fields: FieldMap
    updated_column: str  # a "datetime" column of `fields`
    connect: Callable[[], ApiClient]  # a new pooled client for each run
    page_size: int = 500
    overlap: timedelta = timedelta(minutes=5)
    # How the dashboard shows the synced rows: columns, cell formats, a column to chart.
    display: tuple[tuple[str, str], ...] = ()  # (column, heading)
    formats: Mapping[str, Callable[[Any], str]] = field(default_factory=dict)
    chart_column: str | None = None

    def __post_init__(self) -> None:
        keys = list(self.key) if isinstance(self.key, tuple | list) else [self.key]
        charted = [] if self.chart_column is None else [self.chart_column]
        names = [self.table, self.updated_column, *keys, *charted]
        if bad := [n for n in names if not isinstance(n, str) or not SQL_NAME.fullmatch(n)]:
            raise ValueError(f"sync {self.kind!r}: {bad} are not lower-case snake_case SQL names")
