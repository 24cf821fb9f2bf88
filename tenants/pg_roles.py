"""A PostgreSQL role per tenant (TENANT_DB_ROLES=true): each tenant database is reachable only
by its own role, so even a bug that picked the wrong engine could not read another tenant.

The role is named like its database and owns it; CONNECT is revoked from PUBLIC. Its password
is derived from SECRET_KEY with HMAC, so nothing is stored anywhere: the catalog keeps only the
database name, and anyone holding SECRET_KEY can compute every password again (rotating
SECRET_KEY needs `main.py migrate`, which sets the new passwords). The admin credentials in
TENANT_DATABASE_URL (a role with CREATEDB and CREATEROLE) are used only to provision.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    import psycopg


def role_name(url: URL) -> str:
    """The tenant's role: its database name (already validated and at most 63 bytes)."""
    return str(url.database)


def role_password(secret_key: str, role: str) -> str:
    return hmac.new(
        secret_key.encode(), f"tenant-db-role:{role}".encode(), hashlib.sha256
    ).hexdigest()


def as_tenant_role(url: URL, secret_key: str) -> URL:
    """The tenant database's URL with the tenant's own role instead of the admin's."""
    role = role_name(url)
    return url.set(username=role, password=role_password(secret_key, role))


def _admin_engine(url: URL, database: str) -> sa.Engine:
    return sa.create_engine(
        url.set(database=database), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )


def ensure_tenant_role(url: URL, secret_key: str) -> None:
    """Create or refresh the tenant's role and lock its database down to it. Idempotent.

    `url` is the tenant database's URL with the admin credentials; the database must exist.
    """
    role = role_name(url)
    engine = _admin_engine(url, "postgres")
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            # CREATE ROLE has no IF NOT EXISTS; the lock keeps two provisioners from racing.
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": f"role:{role}"})
            try:
                exists = conn.execute(
                    sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                ).first()
                if not exists:
                    conn.exec_driver_sql(f"CREATE ROLE {quote(role)} LOGIN")
            finally:
                conn.execute(
                    sa.text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": f"role:{role}"}
                )
            # Hashed here (SCRAM) so the password never reaches the server, nor its logs.
            driver = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
            verifier = driver.pgconn.encrypt_password(
                role_password(secret_key, role).encode(), role.encode(), b"scram-sha-256"
            )
            # ALTER ROLE takes no bound parameters; a SCRAM verifier is base64 and `$:` only.
            literal = verifier.decode()
            if not re.fullmatch(r"SCRAM-SHA-256\$[A-Za-z0-9+/=:$]+", literal):
                raise ValueError("unexpected password verifier format")
            conn.exec_driver_sql(f"ALTER ROLE {quote(role)} LOGIN PASSWORD '{literal}'")
            # The admin must be a member to hand the database over (and keeps reaching it).
            conn.exec_driver_sql(f"GRANT {quote(role)} TO CURRENT_USER")
            database = quote(str(url.database))
            conn.exec_driver_sql(f"ALTER DATABASE {database} OWNER TO {quote(role)}")
            conn.exec_driver_sql(f"REVOKE CONNECT, TEMPORARY ON DATABASE {database} FROM PUBLIC")
            conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {database} TO {quote(role)}")
    finally:
        engine.dispose()
    _hand_over_tables(url, role)


def _hand_over_tables(url: URL, role: str) -> None:
    """Tables made before roles were turned on belong to the admin: give them to the role,
    which runs the migrations from now on."""
    engine = _admin_engine(url, str(url.database))
    try:
        with engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            tables = conn.execute(
                sa.text("""SELECT tablename FROM pg_tables
                           WHERE schemaname = 'public' AND tableowner <> :r"""),
                {"r": role},
            ).scalars()
            for table in list(tables):
                conn.exec_driver_sql(f"ALTER TABLE public.{quote(table)} OWNER TO {quote(role)}")
    finally:
        engine.dispose()


def drop_tenant_role(url: URL) -> None:
    """Drop the tenant's role; its database must be dropped first (the role owns it)."""
    engine = _admin_engine(url, "postgres")
    try:
        with engine.connect() as conn:
            role = conn.dialect.identifier_preparer.quote(role_name(url))
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
    finally:
        engine.dispose()
