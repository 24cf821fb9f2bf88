-- A counter that moves in the same transaction as every change to who may reach what:
-- sessions (sign-out, switching workspace), memberships, workspaces and people. Each app
-- process caches session lookups and trusts its cache only while this number is the one it
-- saw, so a change made by any process is seen by every process on its next request.
CREATE TABLE core_auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO core_auth_epoch (id, n) VALUES (1, 0);
