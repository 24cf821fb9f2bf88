-- The product UI: notes are deleted with a way back (undo), and the onboarding checklist
-- remembers the steps no other table shows. Portable SQL: runs unchanged on SQLite and
-- PostgreSQL.

-- A deleted note keeps its row, marked, until the next deletion a day later removes it for
-- good (app/routes/notes.py); until then "Undo" brings it back where it was.
ALTER TABLE notes ADD COLUMN deleted_at TEXT;

-- Steps of the dashboard's checklist that leave no trace elsewhere ("read the docs").
-- The other steps are read from the data they create (invitations, endpoints, syncs).
CREATE TABLE onboarding_steps (
    step TEXT PRIMARY KEY,
    done_at TEXT NOT NULL,
    done_by TEXT NOT NULL
);
