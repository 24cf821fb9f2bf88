-- Sign-in for everyone (issue 13): linked identities, email links, passkeys, the second step
-- a workspace can require, superusers and impersonation.
-- Portable SQL: runs unchanged on SQLite and PostgreSQL.

-- Every way a person signs in is an identity: (issuer, subject) as before, now several per
-- person. core_users keeps the first one (its unique key stays), so nothing that reads it
-- breaks; sign-in looks identities up here. An identity whose provider vouches for the email
-- joins the person with that email; a provider that does not vouch for it is refused.
CREATE TABLE core_identities (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES core_users (id),
    issuer TEXT NOT NULL,                -- an OpenID issuer, GitHub's URL, or 'email'
    subject TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',      -- what the provider said at the last sign-in
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    UNIQUE (issuer, subject)
);
CREATE INDEX ix_identities_user ON core_identities (user_id);
INSERT INTO core_identities (id, user_id, issuer, subject, email, created_at, last_used_at)
    SELECT id, id, issuer, subject, email, created_at, last_login_at
    FROM core_users WHERE deleted_at IS NULL;
CREATE INDEX ix_users_email ON core_users (email);

-- Email sign-in links. The link's token and its short code are stored only as hashes; the
-- link works only in the browser that asked for it (browser_hash: the SHA-256 of a random
-- value kept in that browser's signed session cookie), once, until expires_at.
CREATE TABLE core_email_links (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('sign_in', 'recovery')),
    user_id TEXT REFERENCES core_users (id),   -- recovery: whose second step it replaces
    token_hash TEXT NOT NULL UNIQUE,
    code_hash TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    ip TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,       -- wrong codes typed; the link dies after a few
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX ix_email_links_email ON core_email_links (email, created_at);
CREATE INDEX ix_email_links_browser ON core_email_links (browser_hash, created_at);

-- Passkeys (WebAuthn credentials), several per person. Only public keys are stored.
CREATE TABLE core_passkeys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES core_users (id),
    credential_id TEXT NOT NULL UNIQUE,  -- base64url, as the browser sends it
    public_key TEXT NOT NULL,            -- base64url of the COSE key
    sign_count INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    transports TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX ix_passkeys_user ON core_passkeys (user_id);

-- A session knows how it began, whether it passed a passkey step, and whether a superuser
-- opened it as someone else (impersonation: its own short-lived session).
ALTER TABLE core_sessions ADD COLUMN signed_in_with TEXT NOT NULL DEFAULT '';
ALTER TABLE core_sessions ADD COLUMN second_factor TEXT;
ALTER TABLE core_sessions ADD COLUMN impersonator_id TEXT REFERENCES core_users (id);
-- An owner may require a passkey as a second step for everyone in the workspace.
ALTER TABLE core_tenants ADD COLUMN require_passkey INTEGER NOT NULL DEFAULT 0;
-- Operators of the service (`main.py users promote`; SUPERUSER_EMAILS names more).
ALTER TABLE core_users ADD COLUMN is_superuser INTEGER NOT NULL DEFAULT 0;
