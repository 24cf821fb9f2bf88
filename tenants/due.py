"""The due-work index (host table `sys_due_work`): which tenant has background work due when.

The schedulers read this table instead of every tenant's database, so a tick with 10,000 idle
tenants opens none of them. An entry is one item of one tenant: a job (`tenant_jobs.id`) or a
sync schedule (`sync_sources.id`), with the time it is due.

The promise: every unfinished tenant job and every enabled schedule has an entry, due no
LATER than the work really is. An early entry costs one needless look at the tenant; a late
or missing one delays or loses work. The index and the tenant's database are two databases
with no transaction across them, so these rules keep the promise through crashes between the
two writes and through concurrent processes:

1. Every change of an item row counts up the row's `revision`, so a revision names one state
   of the row.
2. Bring forward first (`announce`, `bring_forward`). A change that creates work or makes it
   due sooner (a new job, a retry after backoff, a hand-back, a restart, a schedule turned on)
   first lowers the entry's time (never raises it) and sets its revision to the one the row
   will have after the change, and only then changes the row, on condition that the row is
   still at the revision it read. A crash in between leaves an entry that is merely early.
3. Push back after, with what you saw (`settle`). A change that makes work due later or ends
   it (a claim, a renewed lease, a finished job, a schedule's next slot) is committed in the
   tenant first; then the entry is set to what the row says at the revision seen, unless the
   entry announces a later revision (`WHERE revision <= :seen`). So an announcement that is
   still on its way to the tenant blocks every settle that did not see its change, however
   the two processes' statements interleave. Deleting an entry is settling to "never", and
   happens only after the work finished.
4. A scheduler that finds an entry due but its item not (claimed elsewhere, retried later,
   finished, turned off) settles it to what the row says (`reconcile`). If the entry announces
   a revision the row does not have, the change announced never landed (its process died or
   is about to write): the scheduler fences the row, counting up its revision if unchanged,
   so that change can no longer apply (its author reads again and announces again), and then
   settles at the new revision.
5. An entry whose item row does not exist is a creation on its way (jobs are inserted right
   after their announcement) or one that never happened (a crash, a rolled-back request). It
   is looked at again after as long as it has waited (at least a second, at most the caller's
   `recheck_seconds`) and dropped once it is ORPHAN_MINUTES old.

Why not a compare on `due_at` (`WHERE due_at = <what I read>`) alone: an announcement whose
time equals the entry's changes nothing such a compare can see, and one made before the
settler read the entry but applied to the tenant after the settler read the row would be
overwritten. Why one row per item and not per tenant (the tenant's earliest time): a job
finishing (raising that time) and a new job (lowering it) would race for the same row.

A crash after a tenant change but before its settle leaves the entry early: the next
scheduler to look settles it. Cancelling a job or turning a schedule off settles nothing
(they may run inside a request's transaction, which commits later); the entry stays until a
scheduler finds the item finished.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenants.catalog import Catalog
from tenants.jobs import writing
from tenants.routing import TenantDatabases
from tenants.stamp import from_now, now, parse

log = logging.getLogger(__name__)

KINDS = ("job", "sync")
ORPHAN_MINUTES = 15  # a job's creator must commit it within this of announcing it
MIN_RECHECK_SECONDS = 1.0
BACKFILL = "due_work_backfill"

_text = functools.lru_cache(maxsize=64)(sa.text)
_KEY = "tenant_id = :tenant_id AND kind = :kind AND item_id = :item_id"

# Per kind: when the item row says it is due (NULL: never), and its revision.
_DUE_STATE = {
    "job": """SELECT id, revision, CASE WHEN status = 'pending' THEN run_at
                                        WHEN status = 'running' THEN lease_until END AS due_at
              FROM tenant_jobs""",
    "sync": """SELECT id, revision, CASE WHEN schedule <> 'off' THEN next_run_at END AS due_at
               FROM sync_sources""",
}
_TABLES = {"job": "tenant_jobs", "sync": "sync_sources"}


@dataclass(frozen=True)
class Entry:
    """One row of the index, as a scheduler read it."""

    tenant_id: str
    kind: str
    item_id: str
    due_at: str
    revision: int
    announced_at: str

    @property
    def key(self) -> dict[str, str]:
        return {"tenant_id": self.tenant_id, "kind": self.kind, "item_id": self.item_id}


@dataclass(frozen=True)
class Due:
    """What an item row says: due `at` (None: never) at this `revision` of the row."""

    at: str | None
    revision: int


@functools.lru_cache(maxsize=4)
def _due_query(of_kind: bool, skipping: bool) -> sa.TextClause:
    """Due entries, oldest first; optionally of one kind, and not of some tenants."""
    where = " AND w.kind = :kind" if of_kind else ""
    where += " AND w.tenant_id NOT IN :skip" if skipping else ""  # fixed fragments only
    query = sa.text(
        f"""SELECT w.tenant_id, w.kind, w.item_id, w.due_at, w.revision, w.announced_at
            FROM sys_due_work w JOIN core_tenants t ON t.id = w.tenant_id
            WHERE w.due_at <= :moment AND t.status = 'active'{where}
            ORDER BY w.due_at LIMIT :limit"""
    )
    return query.bindparams(sa.bindparam("skip", expanding=True)) if skipping else query


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"not a kind of due work: {kind!r}")
    return kind


def due_state(conn: sa.Connection, kind: str, item_id: str) -> Due | None:
    """When the tenant's item is due, read on `conn`; None if there is no such item."""
    row = conn.execute(_text(_DUE_STATE[_kind(kind)] + " WHERE id = :id"), {"id": item_id}).first()
    return Due(row.due_at, row.revision) if row else None


def fence(conn: sa.Connection, kind: str, item_id: str, revision: int) -> Due | None:
    """Count up the item's revision if it is still `revision` (rule 4): a change announced
    for that revision can no longer apply. The item's state after, or None if it moved."""
    moved = conn.execute(
        _text(f"""UPDATE {_TABLES[_kind(kind)]} SET revision = revision + 1
                    WHERE id = :id AND revision = :revision"""),
        {"id": item_id, "revision": revision},
    )
    return due_state(conn, kind, item_id) if moved.rowcount == 1 else None


class DueWork:
    """The index, over the host catalog's engine. Every method is its own short transaction."""

    def __init__(self, catalog: Catalog):
        self.engine = catalog.engine

    def _run(self, sql: str, **params: Any) -> int:
        with self.engine.begin() as conn:
            return conn.execute(_text(sql), params).rowcount

    def announce(self, tenant_id: str, kind: str, item_id: str, due_at: str, revision: int) -> None:
        """Rule 2: the item is due by `due_at` once its row reaches `revision`. Lowers the
        entry's time, never raises it; call it before the change."""
        self._run(
            """INSERT INTO sys_due_work (tenant_id, kind, item_id, due_at, revision, announced_at)
               VALUES (:tenant_id, :kind, :item_id, :due_at, :revision, :now)
               ON CONFLICT (tenant_id, kind, item_id) DO UPDATE SET
                   due_at = CASE WHEN excluded.due_at < sys_due_work.due_at
                                 THEN excluded.due_at ELSE sys_due_work.due_at END,
                   revision = CASE WHEN excluded.revision > sys_due_work.revision
                                   THEN excluded.revision ELSE sys_due_work.revision END,
                   announced_at = excluded.announced_at""",
            tenant_id=tenant_id,
            kind=_kind(kind),
            item_id=item_id,
            due_at=due_at,
            revision=revision,
            now=now(),
        )

    def bring_forward(
        self,
        conn: sa.Connection,
        tenant_id: str,
        kind: str,
        item_id: str,
        due_at: str,
        change: Callable[[int], Any],
    ) -> Any:
        """Rule 2 around `change(revision)`, a conditional write on `conn` that applies only at
        `revision` and returns something falsy when it did not apply. Announces, then changes;
        again while the row moves under it. Returns what `change` returned last."""
        for _ in range(10):
            revision = due_state(conn, kind, item_id)
            if revision is None:
                return None
            self.announce(tenant_id, kind, item_id, due_at, revision.revision + 1)
            outcome = change(revision.revision)
            if outcome or due_state(conn, kind, item_id) == revision:
                return outcome  # applied, or refused for its own reasons (not a race)
        raise RuntimeError(f"{kind} {item_id} kept changing; gave up bringing it forward")

    def settle(self, tenant_id: str, kind: str, item_id: str, due: Due) -> bool:
        """Rule 3: make the entry say what the row says at `due.revision` (delete it when the
        item is not due ever), unless it announces a later revision. Call it after the change."""
        key = {"tenant_id": tenant_id, "kind": _kind(kind), "item_id": item_id}
        if due.at is None:
            sql = f"DELETE FROM sys_due_work WHERE {_KEY} AND revision <= :revision"
        else:
            sql = f"""UPDATE sys_due_work SET due_at = :due_at, revision = :revision
                      WHERE {_KEY} AND revision <= :revision"""
        return self._run(sql, **key, due_at=due.at, revision=due.revision) == 1

    def reconcile(self, entry: Entry, engine: sa.Engine, recheck_seconds: float) -> None:
        """Rules 4 and 5: correct an entry that was due, after its item turned out not to be
        (or after it was claimed), from the tenant's database behind `engine`."""
        with engine.connect() as conn:
            found = due_state(conn, entry.kind, entry.item_id)
        if found is None:
            self._orphaned(entry, recheck_seconds)
            return
        if entry.revision > found.revision:
            with writing(engine) as conn:
                found = fence(conn, entry.kind, entry.item_id, found.revision)
            if found is None:
                return  # the row moved meanwhile; whoever moved it keeps the entry right
        self.settle(entry.tenant_id, entry.kind, entry.item_id, found)

    def _orphaned(self, entry: Entry, recheck_seconds: float) -> None:
        """Rule 5, compared on everything read so a new announcement is never overwritten."""
        unchanged = f"{_KEY} AND revision = :revision AND announced_at = :announced_at"
        params = {**entry.key, "revision": entry.revision, "announced_at": entry.announced_at}
        waited = (parse(now()) - parse(entry.announced_at)).total_seconds()
        if waited > ORPHAN_MINUTES * 60:
            self._run(f"DELETE FROM sys_due_work WHERE {unchanged}", **params)
            return
        wait = min(recheck_seconds, max(MIN_RECHECK_SECONDS, waited))
        self._run(
            f"UPDATE sys_due_work SET due_at = :later WHERE {unchanged} AND due_at = :due_at",
            **params,
            due_at=entry.due_at,
            later=from_now(seconds=wait),
        )

    def due(
        self,
        limit: int,
        moment: str | None = None,
        kind: str | None = None,
        skip_tenants: Iterable[str] = (),
    ) -> list[Entry]:
        """Entries of active tenants due by `moment` (default now), oldest first."""
        skip = list(skip_tenants)
        params = {"moment": moment or now(), "kind": kind and _kind(kind), "skip": skip}
        with self.engine.connect() as conn:
            rows = conn.execute(_due_query(bool(kind), bool(skip)), {**params, "limit": limit})
            return [Entry(**row) for row in rows.mappings()]

    def entries(self, tenant_id: str) -> list[Entry]:
        """Every entry of one tenant (for tests and operators)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _text("SELECT * FROM sys_due_work WHERE tenant_id = :t ORDER BY kind, item_id"),
                {"t": tenant_id},
            ).mappings()
            return [Entry(**row) for row in rows]

    def forget_tenant(self, tenant_id: str) -> None:
        """Drop a deleted tenant's entries (after its database is gone)."""
        self._run("DELETE FROM sys_due_work WHERE tenant_id = :t", t=tenant_id)

    # -- the one-time backfill of an upgrade ------------------------------------------------

    def index_tenant(self, tenant_id: str, engine: sa.Engine) -> int:
        """Announce every unfinished job and enabled schedule of one tenant, as its rows say
        now; returns how many. Safe to repeat and to run beside live traffic: it only
        lowers entries, and what it makes early the schedulers correct."""
        with engine.connect() as conn:
            found = [
                (kind, row)
                for kind, sql in _DUE_STATE.items()
                for row in conn.execute(_text(f"SELECT * FROM ({sql}) s WHERE due_at IS NOT NULL"))
            ]
        for kind, row in found:
            self.announce(tenant_id, kind, row.id, row.due_at, row.revision)
        return len(found)

    def backfill_needed(self) -> bool:
        with self.engine.connect() as conn:
            done = conn.execute(
                _text("SELECT task FROM sys_maintenance WHERE task = :t AND done_at IS NULL"),
                {"t": BACKFILL},
            ).first()
        return done is not None

    def backfill_done(self) -> None:
        self._run(
            "UPDATE sys_maintenance SET done_at = :now WHERE task = :t", now=now(), t=BACKFILL
        )


def backfill(
    catalog: Catalog, databases: TenantDatabases, should_stop: Callable[[], bool] = lambda: False
) -> bool:
    """Index every live tenant's unfinished jobs and enabled schedules, once after the upgrade
    that added the index (`main.py migrate` does it too). Marks it done when every tenant
    was read; returns whether it was."""
    index, failures = DueWork(catalog), 0
    live = catalog.rows("SELECT id FROM core_tenants WHERE status IN ('active', 'suspended')")
    for tenant in live:
        if should_stop():
            return False
        try:
            with databases.handle(tenant["id"]) as db:
                index.index_tenant(tenant["id"], db.engine)
        except Exception:  # one broken tenant database must not stop the others
            failures += 1
            log.exception("could not index the due work of tenant %s", tenant["id"])
    if failures:
        return False
    index.backfill_done()
    log.info("indexed the due work of %d tenants", len(live))
    return True
